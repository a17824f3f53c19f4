#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtp.py - the mail path benchmark: postino against Postfix, side by side.

usage: bench/smtp.py [options] STEP...

Steps:
  setup    write the postino benchmark instance (WORK/conf: main.cf and
           master.cf equivalent to the Postfix baseline's configuration) and
           check that Postfix is configured for the same port.  Postfix itself
           is configured by the shared baseline script:
             SMTP_PORT=PORT /work/shared/bench/postfix-baseline.sh configure fs-journal
  A        SMTP ingestion + local Maildir delivery: smtp-source -d, N messages
           of --size bytes, for each of --sessions; accept-only (smtp-source
           exits) and end to end (N files in ~bench/Maildir/new).  The MTAs
           alternate run by run (Postfix first on odd runs, postino first on
           even runs); only one MTA runs at a time, on the same port.
  D        500 (--d-conns) idle SMTP connections to postino: RSS and PSS sum of
           its whole process tree, processes count (idle-conns.py, proc-stats.py)
  E        fsync/s on the filesystem of postino's queue (fsync-bench.c):
           newfile and append modes, 1, 4 and 16 threads
  profile  one postino A run at --profile-sessions sessions under
           `perf record -a -g` plus per-process CPU (proc-stats.py); writes
           WORK/perf.data and WORK/perf-report.txt
  stop     stop both MTAs

Both MTAs fsync before 250.  Queue and Maildir are on the same filesystem
for both: with the shared script's fs-journal step that is a loop-mounted
journaled ext4 (/srv/mta-bench-fs): Postfix's /var/spool/postfix is a bind
mount into it, the bench user's home is on it, and postino's queue goes to
/srv/mta-bench-fs/postino-spool (setup picks it when that fs is mounted).

Delivered mail is never deleted between runs (see RESULTS-postfix.md: on a
journal-less ext4 recently freed inodes slow down later creations): each
run's Maildir is renamed into ~bench/Maildir.parked/.

Results: WORK/raw-smtp.tsv (one line per run: time, mta, step, case, run,
n, accept_s, e2e_s, checks, CPU JSON), WORK/summary-smtp.md (also printed).
Every load generator talks to 127.0.0.1 only.
"""
import argparse
import datetime
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SMTP_SOURCE = "/usr/sbin/smtp-source"
FS_MNT = "/srv/mta-bench-fs"
PF_SPOOL = "/var/spool/postfix"
PF_LOG = "/var/log/postfix.log"
DOMAIN = "bench.test"
USER = "bench"


def log(text):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr,
          flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class MTA:
    """What the harness needs to know about one MTA."""

    name = ""
    queue = ""
    logfile = ""

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                p = int(f.read().split()[0])
            os.kill(p, 0)
            return p
        except (OSError, ValueError, IndexError):
            return 0

    def queue_count(self):
        n = 0
        for d in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(self.queue, d)):
                n += len(files)
        return n

    def sent_since(self, offset):
        try:
            with open(self.logfile, "rb") as f:
                f.seek(offset)
                data = f.read().decode(errors="replace")
        except FileNotFoundError:
            return -1
        pat = "to=<%s@%s>" % (USER, DOMAIN)
        return sum(1 for line in data.splitlines()
                   if pat in line and "status=sent" in line)

    def log_offset(self):
        try:
            return os.stat(self.logfile).st_size
        except FileNotFoundError:
            return 0


class Postfix(MTA):
    name = "postfix"
    queue = PF_SPOOL
    logfile = PF_LOG

    def start(self):
        r = run(["postfix", "start"])
        if r.returncode != 0:
            sys.exit("postfix start failed: %s" % r.stderr)

    def stop(self):
        if self.pid():
            run(["postfix", "stop"])
        wait_until(lambda: not self.pid(), 20)


class Postino(MTA):
    name = "postino"

    def __init__(self, build, conf):
        self.build = build
        self.conf = conf
        self.queue = conf_value(conf, "queue_directory")
        self.logfile = conf_value(conf, "maillog_file")

    def ctl(self, what):
        return run([os.path.join(self.build, "sbin", "postino"), "-c",
                    self.conf, what])

    def start(self):
        r = self.ctl("start")
        if r.returncode != 0:
            sys.exit("postino start failed: %s" % r.stderr)

    def stop(self):
        if self.pid():
            self.ctl("stop")
        wait_until(lambda: not self.pid(), 30)


def conf_value(conf, name):
    with open(os.path.join(conf, "main.cf")) as f:
        for line in f:
            k, _, v = line.partition("=")
            if k.strip() == name:
                return v.strip()
    sys.exit("%s/main.cf: no %s" % (conf, name))


def port_open(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as so:
            return so.recv(64).startswith(b"220")
    except OSError:
        return False


def wait_until(fn, timeout, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(interval)
    return fn()


def maildir():
    return os.path.join(pwd.getpwnam(USER).pw_dir, "Maildir")


def count_dir(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def reset_maildir():
    """Park the last run's Maildir (a rename on the same fs), make a new one,
    then let write-back settle."""
    md = maildir()
    pw = pwd.getpwnam(USER)
    if os.path.isdir(md):
        park = os.path.join(os.path.dirname(md), "Maildir.parked",
                            str(time.time_ns()))
        os.makedirs(park)
        os.rename(md, os.path.join(park, "Maildir"))
    for sub in ("", "new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
        os.chown(os.path.join(md, sub), pw.pw_uid, pw.pw_gid)
    os.chmod(md, 0o700)
    subprocess.run(["sync"])
    time.sleep(2)


def proc_stats(*args):
    r = run([sys.executable, os.path.join(HERE, "proc-stats.py")] + list(args))
    return r.stdout.strip()


def a_run(mta, args, sessions, n):
    """One A run; returns a dict or exits on failure."""
    if not wait_until(lambda: mta.queue_count() == 0, 300, 0.2):
        sys.exit("%s: queue not empty" % mta.name)
    reset_maildir()
    off = mta.log_offset()
    root = mta.pid()
    snap_a = os.path.join(args.work, "cpu-before.json")
    snap_b = os.path.join(args.work, "cpu-after.json")
    proc_stats("snap", str(root), snap_a)
    newdir = os.path.join(maildir(), "new")
    argv = [SMTP_SOURCE, "-d", "-s", str(sessions), "-m", str(n), "-l",
            str(args.size), "-M", "client." + DOMAIN, "-f",
            "sender@" + DOMAIN, "-t", "%s@%s" % (USER, DOMAIN),
            "127.0.0.1:%d" % args.port]
    t0 = time.time()
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=args.timeout)
    t1 = time.time()
    if r.returncode != 0:
        sys.exit("%s: smtp-source failed: %s" % (mta.name, r.stderr))
    deadline = t0 + args.timeout
    while count_dir(newdir) < n:
        if time.time() > deadline:
            sys.exit("%s: only %d of %d delivered" % (mta.name,
                                                      count_dir(newdir), n))
        time.sleep(0.05)
    t2 = time.time()
    proc_stats("snap", str(root), snap_b)
    cpu = proc_stats("diff", snap_a, snap_b)
    wait_until(lambda: mta.queue_count() == 0, 60, 0.2)
    time.sleep(0.3)
    sent = mta.sent_since(off)
    got = count_dir(newdir)
    return {"accept_s": t1 - t0, "e2e_s": t2 - t0, "maildir": got,
            "log_sent": sent, "cpu": cpu}


def record(args, mta, step, case, label, n, res):
    with open(os.path.join(args.work, "raw-smtp.tsv"), "a") as f:
        f.write("\t".join([
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            mta, step, case, label, str(n), "%.3f" % res["accept_s"],
            "%.3f" % res["e2e_s"],
            "maildir=%d log_sent=%d load=%s" % (res["maildir"], res["log_sent"],
                                               res.get("load", "")),
            res["cpu"]]) + "\n")


def summ(vals):
    med = statistics.median(vals)
    return "%.0f (%.0f–%.0f)" % (med, min(vals), max(vals))


def do_A(args, mtas):
    lines = []
    for s in args.sessions:
        rates = {m.name: {"acc": [], "e2e": [], "cpu": []} for m in mtas}
        for m in mtas:
            log("A s=%d %s: warm-up %d" % (s, m.name, args.warmup))
            m.start()
            if not wait_until(lambda: port_open(args.port), 20, 0.2):
                sys.exit("%s: no banner on port %d" % (m.name, args.port))
            a_run(m, args, s, args.warmup)
            m.stop()
        for r in range(1, args.runs + 1):
            order = mtas if r % 2 else list(reversed(mtas))
            for m in order:
                m.start()
                if not wait_until(lambda: port_open(args.port), 20, 0.2):
                    sys.exit("%s: no banner on port %d" % (m.name, args.port))
                load = loadavg()
                res = a_run(m, args, s, args.n)
                m.stop()
                res["load"] = load.replace(" ", "/")
                ok = res["maildir"] == args.n and res["log_sent"] == args.n
                record(args, m.name, "A", "s=%d" % s, "run%d" % r, args.n, res)
                acc = args.n / res["accept_s"]
                e2e = args.n / res["e2e_s"]
                rates[m.name]["acc"].append(acc)
                rates[m.name]["e2e"].append(e2e)
                rates[m.name]["cpu"].append(json.loads(res["cpu"]))
                log("A s=%d %s run %d: accept %.1f msg/s, end to end %.1f msg/s;"
                    " maildir %d, log sent %d%s; load %s" % (
                        s, m.name, r, acc, e2e, res["maildir"],
                        res["log_sent"], "" if ok else " MISMATCH", load))
        for m in mtas:
            d = rates[m.name]
            cpu = d["cpu"]
            busy = statistics.mean(100 - c["machine_cpu_pct_of_all_cores"]["idle"]
                                   for c in cpu)
            per = {}
            for c in cpu:
                for k, v in c["mta_cpu_s_per_comm"].items():
                    per[k] = per.get(k, 0) + v / len(cpu)
            mcpu = statistics.median(c["mta_cpu_s"] for c in cpu)
            top = ", ".join("%s %.2f" % (k, 1000 * v / args.n) for k, v in
                            sorted(per.items(), key=lambda kv: -kv[1])[:5])
            lines.append("| %d | %s | %s | %s | %.0f %% | %.2f | %s |" % (
                s, m.name, summ(d["acc"]), summ(d["e2e"]), busy,
                1000 * mcpu / args.n, top))
        if len(mtas) == 2:
            a, b = rates["postino"], rates["postfix"]
            lines.append("| %d | **postino / Postfix** | %.2f× | **%.2f×** | | | |" % (
                s, statistics.median(a["acc"]) / statistics.median(b["acc"]),
                statistics.median(a["e2e"]) / statistics.median(b["e2e"])))
        emit_a(args, lines)
        lines = []


def emit_a(args, lines):
    head = ["| sessions | MTA | accept-only msg/s, median (min–max) | end to end msg/s, median (min–max) | machine busy | MTA CPU s / 1000 msgs | biggest (CPU s / 1000 msgs) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    out = "\n".join(["A: %d messages of %d bytes, smtp-source -d, %d counted runs "
                     "per MTA (alternated), warm-up %d" % (
                         args.n, args.size, args.runs, args.warmup)] + head + lines)
    emit(args, out)


def do_D(args, postino):
    postino.stop()
    postino.start()
    time.sleep(1)
    root = postino.pid()
    idle = proc_stats("rss", str(root))
    cmd = "%s %s rss %d" % (sys.executable, os.path.join(HERE, "proc-stats.py"),
                            root)
    r = run([sys.executable, os.path.join(HERE, "idle-conns.py"), "127.0.0.1",
             str(args.port), str(args.d_conns), "--duration",
             str(args.d_duration), "--measure-at", str(args.d_measure_at),
             "--measure-cmd", cmd])
    with open(os.path.join(args.work, "D-postino.txt"), "w") as f:
        f.write("idle " + idle + "\n" + r.stdout)
    summary = json.loads(r.stdout.strip().splitlines()[-1].split(" ", 1)[1])
    meas = json.loads(summary["measure"]["output"])
    idle = json.loads(idle)
    postino.stop()
    out = ["D: %d idle connections to postino (idle-conns.py, measured at %ss)"
           % (args.d_conns, args.d_measure_at),
           "| | processes | RSS sum KiB | PSS sum KiB | per process (RSS KiB) |",
           "| --- | --- | --- | --- | --- |"]
    for label, m in (("no connections", idle),
                     ("%d idle connections" % args.d_conns, meas)):
        per = ", ".join("%s ×%d %d" % (k, v["n"], v["rss_kib"])
                        for k, v in m["per_comm"].items())
        out.append("| %s | %d | %d | %d | %s |" % (
            label, m["processes"], m["rss_kib"], m["pss_kib"], per))
    out.append("banners %d of %d (first %.3f s, last %.3f s); at the end: %s" % (
        summary["ever_banner"], args.d_conns, summary["first_banner_s"] or -1,
        summary["last_banner_s"] or -1, json.dumps(summary["final"])))
    emit(args, "\n".join(out))


def do_E(args, postino):
    fbin = os.path.join(args.work, "fsync-bench")
    if not os.path.exists(fbin):
        subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", fbin,
                        os.path.join(HERE, "fsync-bench.c")], check=True)
    d = os.path.join(postino.queue, "fsync-bench")
    os.makedirs(d, exist_ok=True)
    fs = run(["df", "-PT", d]).stdout.splitlines()[-1].split()[:2]
    out = ["E: fsync/s on %s (%s %s), median of %d runs (min–max)" % (
        d, fs[0], fs[1], args.e_runs),
        "| mode | " + " | ".join("%d threads" % t for t in args.e_threads) + " |",
        "| --- |" + " --- |" * len(args.e_threads)]
    for mode in ("newfile", "append"):
        cells = []
        for th in args.e_threads:
            vals = []
            for _ in range(args.e_runs):
                r = run([fbin, d, str(args.e_count), str(th), mode, "4096"])
                for tok in r.stdout.split():
                    if tok.startswith("fsync_per_sec="):
                        vals.append(float(tok.split("=")[1]))
            cells.append(summ(vals) if vals else "failed")
        out.append("| %s | %s |" % (mode, " | ".join(cells)))
    shutil.rmtree(d, ignore_errors=True)
    emit(args, "\n".join(out))


def do_profile(args, postino):
    s = args.profile_sessions
    postino.start()
    time.sleep(1)
    data = os.path.join(args.work, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o",
                             data], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    res = a_run(postino, args, s, args.n)
    perf.send_signal(2)
    perf.wait(timeout=60)
    postino.stop()
    record(args, "postino", "profile", "s=%d" % s, "perf", args.n, res)
    rep = os.path.join(args.work, "perf-report.txt")
    with open(rep, "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--no-children",
                        "--sort", "comm,dso", "--stdio", "-g", "none"],
                       stdout=f, stderr=subprocess.DEVNULL)
    with open(rep + ".sym", "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--no-children",
                        "--sort", "comm,sym", "--stdio", "-g", "none"],
                       stdout=f, stderr=subprocess.DEVNULL)
    emit(args, "profile: postino, %d sessions, %d messages: accept %.1f msg/s, "
         "end to end %.1f msg/s (under perf); CPU %s; perf report in %s" % (
             s, args.n, args.n / res["accept_s"], args.n / res["e2e_s"],
             res["cpu"], rep))


def emit(args, text):
    print(text + "\n", flush=True)
    with open(os.path.join(args.work, "summary-smtp.md"), "a") as f:
        f.write("<!-- %s load %s -->\n%s\n\n" % (
            time.strftime("%Y-%m-%d %H:%M:%S"), loadavg(), text))


def do_setup(args):
    conf = args.conf
    os.makedirs(conf, exist_ok=True)
    queue = (os.path.join(FS_MNT, "postino-spool") if os.path.ismount(FS_MNT)
             else "/var/spool/postino")
    main = """# postino benchmark instance (written by bench/smtp.py setup): the
# Postfix baseline's main.cf, for the parameters postino has.
compatibility_level = 3.6
queue_directory = {queue}
maillog_file = {work}/maillog
mail_owner = nobody
setgid_group = nogroup
myhostname = mail.{dom}
mydomain = {dom}
myorigin = $myhostname
mydestination = $myhostname, localhost, {dom}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
home_mailbox = Maildir/
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
biff = no
append_dot_mydomain = no
smtpd_banner = $myhostname ESMTP
smtpd_peername_lookup = no
""".format(queue=queue, work=args.work, dom=DOMAIN)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(main)
    with open(os.path.join(REPO, "etc", "master.cf")) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        if line.startswith("smtp ") and " inet " in line:
            out.append("#" + line)
            out.append("127.0.0.1:%d inet n  -       n       -       1       smtpd"
                       % args.port)
        else:
            out.append(line)
    with open(os.path.join(conf, "master.cf"), "w") as f:
        f.write("\n".join(out) + "\n")
    r = run([os.path.join(args.build, "sbin", "postino"), "-c", conf, "check"])
    log("postino check: rc %d %s" % (r.returncode, r.stderr.strip()[-300:]))
    pf = run(["postconf", "-M"]).stdout
    if "127.0.0.1:%d" % args.port not in pf:
        log("Postfix has no 127.0.0.1:%d listener: run SMTP_PORT=%d "
            "/work/shared/bench/postfix-baseline.sh configure fs-journal"
            % (args.port, args.port))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("steps", nargs="+",
                    choices=("setup", "A", "D", "E", "profile", "stop"))
    ap.add_argument("--build", default=os.path.join(REPO, "build-perf"))
    ap.add_argument("--work", default="/var/tmp/postino-smtp")
    ap.add_argument("--conf", default=None, help="default WORK/conf")
    ap.add_argument("--port", type=int, default=2540)
    ap.add_argument("--mtas", default="postfix,postino")
    ap.add_argument("--sessions", default="20,1")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=540)
    ap.add_argument("--d-conns", type=int, default=500)
    ap.add_argument("--d-duration", type=float, default=20)
    ap.add_argument("--d-measure-at", type=float, default=8)
    ap.add_argument("--e-runs", type=int, default=3)
    ap.add_argument("--e-count", type=int, default=2000)
    ap.add_argument("--e-threads", default="1,4,16")
    ap.add_argument("--profile-sessions", type=int, default=20)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: both MTAs deliver to the bench user")
    args.build = os.path.abspath(args.build)
    args.conf = args.conf or os.path.join(args.work, "conf")
    args.sessions = [int(x) for x in args.sessions.split(",")]
    args.e_threads = [int(x) for x in args.e_threads.split(",")]
    os.makedirs(args.work, exist_ok=True)
    if "setup" in args.steps:
        do_setup(args)
    postino = Postino(args.build, args.conf)
    known = {"postfix": Postfix(), "postino": postino}
    mtas = [known[m] for m in args.mtas.split(",")]
    for m in known.values():
        m.stop()
    emit(args, "run: %s; build %s; load %s" % (" ".join(sys.argv[1:]),
                                                args.build, loadavg()))
    for step in args.steps:
        if step == "A":
            do_A(args, mtas)
        elif step == "D":
            do_D(args, postino)
        elif step == "E":
            do_E(args, postino)
        elif step == "profile":
            do_profile(args, postino)
    for m in known.values():
        m.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tls.py - STARTTLS on the smtpd port: postino against Postfix, side by side.

usage: bench/tls.py [options] STEP...      (root; 127.0.0.1 only)

Steps (`all` = setup hs resume mail idle):
  setup   a tmpfs on WORK/fs (queues and the Maildir: this measures CPU,
          not a disk), the user tlsbench (home on it), a certificate made
          now by openssl (--cert rsa: RSA 2048, ecdsa: P-256; one file, key
          first) and two instances on 127.0.0.1:--port, one running at a
          time, with the same main.cf where both know the parameter:
            postfix   Postfix 3.7 (postfix -c WORK/postfix) as an
                      administrator tunes it for this: default_process_limit
                      = 1100 (1,000 idle sessions take 1,000 smtpd
                      processes), local_destination_concurrency_limit = 20,
                      smtpd_tls_session_cache_database = btree:DATA/smtpd_scache
                      (tickets are on by default)
            postino   postino -c WORK/postino, etc/master.cf (one smtpd)
          Both: smtpd_tls_security_level = may, smtpd_tls_loglevel = 1 (the
          "TLS connection established" line), smtpd_tls_chain_files = the
          certificate, smtpd_tls_protocols = >=TLSv1.3 (the client offers
          only TLSv1.3 too).
  hs      full handshakes/s: tls_load hs, --hs-n connections, --conc at a
          time: connect, EHLO, STARTTLS, handshake, QUIT, 221, close.
          Valid when every connection completed and none was resumed.
  resume  resumed handshakes/s: the same with -r (each of the --conc client
          slots makes one untimed full connection, then offers the last
          session ticket it got on each connection).  Valid only when
          every timed connection reports SSL_session_reused().
  mail    msg/s end to end over STARTTLS: --mail-n messages of --size
          bytes, --per-conn per connection, --conc connections at a time,
          to tlsbench@bench.test, local delivery into ~tlsbench/Maildir
          (home_mailbox = Maildir/).  End = every file in Maildir/new.
          Valid when each X-Bench-Id is there exactly once and the log has
          --mail-n status=sent lines.
  idle    memory of --idle-n idle TLS sessions: RSS and PSS summed over
          every process of the MTA before and after the client has that
          many sessions through STARTTLS and EHLO, idle.
  stop    stop both MTAs;  umount: stop them and unmount the tmpfs

The client (bench/tls_load.c, built into WORK by cc) is one process with
one epoll loop (--procs N: N of them, sharing --conc and the count).

Every figure: one uncounted warm-up per MTA, then --runs counted runs, the
MTA order rotating run by run, each run starting and stopping its MTA.
Each run records the 1-minute load average, the MTA's CPU (its process
tree, exited processes through the master's reaped children), the
machine's busy share and the client's own CPU.  Every client run is
bounded by --timeout seconds.

Results: WORK/raw-tls.tsv, WORK/summary-tls-CERT.md (also printed).
"""
import argparse
import importlib.util
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchutil import banner, loadavg, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
USER = "tlsbench"
DOMAIN = "bench.test"


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


smtp = _load("bench_smtp", "smtp.py")        # master_cf(), main_cf()
pstats = _load("bench_proc_stats", "proc-stats.py")


def log(text):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr,
          flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


# ---- set-up -----------------------------------------------------------

def common_params(args, queue, logfile):
    return {
        "compatibility_level": "3.6",
        "queue_directory": queue,
        "maillog_file": logfile,
        "myhostname": "mail." + DOMAIN,
        "mydomain": DOMAIN,
        "myorigin": "$myhostname",
        "mydestination": "$myhostname, localhost, " + DOMAIN,
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.0/8",
        "home_mailbox": "Maildir/",
        "biff": "no",
        "append_dot_mydomain": "no",
        "smtpd_banner": "$myhostname ESMTP",
        "smtpd_peername_lookup": "no",
        "default_transport": "error:benchmark host delivers nowhere else",
        "relay_transport": "error:benchmark host relays nowhere else",
        "local_destination_concurrency_limit": "20",
        "default_process_limit": "1100",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_chain_files": args.pem,
        "smtpd_tls_protocols": ">=TLSv1.3",
        "smtpd_tls_mandatory_protocols": ">=TLSv1.3",
    }


class MTA:
    def __init__(self, args, name):
        self.args = args
        self.name = name
        self.conf = os.path.join(args.work, name)
        self.queue = os.path.join(args.fs, name + "-spool")
        self.logfile = os.path.join(args.work, name + ".log")

    def pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                p = int(f.read().split()[0])
            os.kill(p, 0)
            return p
        except (OSError, ValueError, IndexError):
            return 0

    def log_offset(self):
        try:
            return os.stat(self.logfile).st_size
        except FileNotFoundError:
            return 0

    def log_since(self, off):
        try:
            with open(self.logfile, "rb") as f:
                f.seek(off)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def write_conf(self, params, master_src, extra, alias_cmd, check_cmd):
        os.makedirs(self.conf, exist_ok=True)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("# written by bench/tls.py setup\n" + smtp.main_cf(params))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(smtp.master_cf(master_src, self.args.port, extra))
        with open(os.path.join(self.conf, "aliases"), "w") as f:
            f.write("postmaster: root\n")
        r = run(alias_cmd + ["hash:%s/aliases" % self.conf])
        if r.returncode != 0:
            sys.exit("%s: postalias: %s" % (self.name, r.stderr))
        open(self.logfile, "a").close()
        r = run(check_cmd)
        if r.returncode != 0:
            sys.exit("%s: check: %s" % (self.name, r.stderr))

    def stop(self):
        if self.pid():
            run(self.ctl + ["stop"])
        wait_until(lambda: not self.pid(), 30)

    def start(self):
        r = run(self.ctl + ["start"])
        if r.returncode != 0:
            sys.exit("%s start: %s %s" % (self.name, r.stdout, r.stderr))
        if not wait_until(lambda: banner(self.args.port), 30, 0.2):
            sys.exit("%s: no banner on port %d" % (self.name, self.args.port))


class Postfix(MTA):
    def __init__(self, args):
        super().__init__(args, "postfix")
        self.data = os.path.join(args.fs, "postfix-data")
        self.ctl = ["postfix", "-c", self.conf]

    def setup(self):
        os.makedirs(self.queue, exist_ok=True)
        os.makedirs(self.data, exist_ok=True)
        shutil.chown(self.data, "postfix")
        p = common_params(self.args, self.queue, self.logfile)
        p.update({
            "data_directory": self.data,
            "alias_maps": "hash:%s/aliases" % self.conf,
            "alias_database": "hash:%s/aliases" % self.conf,
            "readme_directory": "no",
            "smtp_dns_support_level": "disabled",
            "smtpd_tls_session_cache_database":
                "btree:${data_directory}/smtpd_scache",
        })
        self.write_conf(p, "/usr/share/postfix/master.cf.dist", "",
                        ["postalias", "-c", self.conf],
                        ["postfix", "-c", self.conf, "check"])


class Postino(MTA):
    def __init__(self, args):
        super().__init__(args, "postino")
        self.ctl = [self.sbin("postino"), "-c", self.conf]

    def sbin(self, prog):
        return os.path.join(self.args.build, "sbin", prog)

    def setup(self):
        p = common_params(self.args, self.queue, self.logfile)
        p.update({
            "mail_owner": "nobody",
            "setgid_group": "nogroup",
            "alias_maps": "hash:%s/aliases" % self.conf,
            "alias_database": "hash:%s/aliases" % self.conf,
        })
        self.write_conf(p, os.path.join(REPO, "etc", "master.cf"), "",
                        [self.sbin("postalias"), "-c", self.conf],
                        self.ctl + ["check"])


def make_mtas(args):
    all_ = {"postfix": Postfix(args), "postino": Postino(args)}
    out = []
    for n in args.mtas.split(","):
        if n not in all_:
            sys.exit("unknown MTA %s" % n)
        out.append(all_[n])
    return out


def client_bin(args):
    out = os.path.join(args.work, "tls_load")
    src = os.path.join(HERE, "tls_load.c")
    if not os.path.exists(out) or os.stat(out).st_mtime < os.stat(src).st_mtime:
        r = run(["cc", "-O2", "-Wall", "-o", out, src, "-lssl", "-lcrypto"])
        if r.returncode != 0:
            sys.exit("cc tls_load.c: %s" % r.stderr)
    return out


def do_setup(args, mtas):
    for m in mtas:
        m.stop()
    os.makedirs(args.fs, exist_ok=True)
    if not os.path.ismount(args.fs):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % args.fs_size,
                        "tmpfs", args.fs], check=True)
    home = os.path.join(args.fs, "home", USER)
    os.makedirs(os.path.dirname(home), exist_ok=True)
    try:
        if pwd.getpwnam(USER).pw_dir != home:
            subprocess.run(["usermod", "-d", home, USER], check=True)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin",
                        USER], check=True)
    os.makedirs(home, exist_ok=True)
    shutil.chown(home, USER, USER)
    # the certificate: made now, one file, key first
    key = os.path.join(args.work, "key.pem")
    crt = os.path.join(args.work, "cert.pem")
    newkey = (["-newkey", "rsa:2048"] if args.cert == "rsa" else
              ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    r = run(["openssl", "req", "-x509", "-nodes", "-days", "30"] + newkey +
            ["-keyout", key, "-out", crt, "-subj", "/CN=mail." + DOMAIN])
    if r.returncode != 0:
        sys.exit("openssl: %s" % r.stderr)
    with open(args.pem, "w") as f:
        f.write(open(key).read() + open(crt).read())
    os.chmod(args.pem, 0o644)
    for m in mtas:
        m.setup()
    client_bin(args)
    log("setup done: %s certificate, tmpfs on %s" % (args.cert, args.fs))


# ---- measuring ----------------------------------------------------------

def snap(mta):
    root = mta.pid()
    return {"time": time.time(), "cpu": pstats.cpu_line(),
            "ncpu": os.cpu_count(), "root": root,
            "procs": {str(k): v for k, v in pstats.tree(root).items()}}


def cpu_diff(a, b):
    """MTA CPU seconds (tree plus reaped children) and the machine's busy
    share between two snaps."""
    d = [y - x for x, y in zip(a["cpu"], b["cpu"])][:8]
    tot = sum(d) or 1
    busy = 100.0 * (tot - d[3] - d[4]) / tot
    cpu = 0.0
    gone = 0.0
    for pid, p in b["procs"].items():
        q = a["procs"].get(pid)
        cpu += p["t"] - q["t"] if q and q["start"] == p["start"] else p["t"]
    for pid, q in a["procs"].items():
        p = b["procs"].get(pid)
        if not p or p["start"] != q["start"]:
            gone += q["t"]
    r = str(a["root"])
    if r in a["procs"] and r in b["procs"]:
        cpu += max(0.0, b["procs"][r]["ct"] - a["procs"][r]["ct"] - gone)
    return cpu, busy


def mem(mta):
    per = {}
    for pid, p in pstats.tree(mta.pid()).items():
        rss, pss = pstats.mem(pid)
        e = per.setdefault(p["comm"], [0, 0, 0])
        e[0] += 1
        e[1] += rss
        e[2] += pss
    return {"procs": sum(v[0] for v in per.values()),
            "rss": sum(v[1] for v in per.values()),
            "pss": sum(v[2] for v in per.values()), "per": per}


def client(args, mode, extra, tag="x"):
    argv = [client_bin(args), mode, "-p", str(args.port), "-c", str(args.conc),
            "-t", str(args.timeout), "-i", tag, "-P", str(args.procs)] + extra
    r = run(argv, timeout=args.timeout + 30)
    last = r.stdout.strip().splitlines()[-1:] or [""]
    res = dict(kv.split("=", 1) for kv in last[0].split() if "=" in kv)
    res["rc"] = r.returncode
    res["stderr"] = r.stderr.strip()[-500:]
    return res


def maildir():
    return os.path.join(pwd.getpwnam(USER).pw_dir, "Maildir")


def reset_maildir():
    md = maildir()
    pw = pwd.getpwnam(USER)
    shutil.rmtree(md, ignore_errors=True)     # tmpfs: no cost for later runs
    for sub in ("", "new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
        os.chown(os.path.join(md, sub), pw.pw_uid, pw.pw_gid)
    os.chmod(md, 0o700)


def count_new():
    try:
        return len(os.listdir(os.path.join(maildir(), "new")))
    except FileNotFoundError:
        return 0


def bench_ids():
    ids = {}
    d = os.path.join(maildir(), "new")
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            for line in f:
                if line in (b"\n", b"\r\n"):
                    break
                if line.startswith(b"X-Bench-Id:"):
                    k = line.split(b":", 1)[1].strip().decode()
                    ids[k] = ids.get(k, 0) + 1
                    break
    return ids


def one_run(args, mta, fig, label):
    """One run of figure fig; a dict of what was measured."""
    res = {"mta": mta.name, "fig": fig, "label": label, "load": loadavg()}
    mta.start()
    time.sleep(1)
    if fig in ("hs", "resume"):
        n = args.hs_n if fig == "hs" else args.resume_n
        if label == "warmup":
            n = min(n, 200)
        extra = ["-n", str(n)] + (["-r"] if fig == "resume" else [])
        a = snap(mta)
        c = client(args, "hs", extra)
        b = snap(mta)
        done, resumed = int(c.get("done", 0)), int(c.get("resumed", 0))
        res.update(n=n, done=done, resumed=resumed,
                   tickets=int(c.get("tickets", 0)),
                   rate=float(c.get("rate", 0)),
                   elapsed=float(c.get("elapsed_s", 0)))
        ok = c["rc"] == 0 and done == n
        ok = ok and (resumed == done if fig == "resume" else resumed == 0)
    elif fig == "mail":
        n = args.mail_n if label != "warmup" else min(args.mail_n, 200)
        reset_maildir()
        off = mta.log_offset()
        tag = "%s-%s-%d" % (mta.name, label, time.time_ns())
        a = snap(mta)
        t0 = time.time()
        c = client(args, "mail", ["-n", str(n), "-m", str(args.per_conn),
                                  "-s", str(args.size)], tag)
        t1 = time.time()
        wait_until(lambda: count_new() >= n, args.timeout, 0.02)
        t2 = time.time()
        b = snap(mta)
        time.sleep(0.5)
        ids = bench_ids()
        want = {"%s-%d" % (tag, k) for k in range(n)}
        dup = sum(1 for v in ids.values() if v > 1)
        missing = len(want - set(ids))
        sent = sum(1 for line in mta.log_since(off).splitlines()
                   if "status=sent" in line and "relay=local" in line)
        res.update(n=n, files=len(ids), dup=dup, missing=missing, sent=sent,
                   accept_rate=n / (t1 - t0), rate=n / (t2 - t0),
                   elapsed=t2 - t0)
        ok = c["rc"] == 0 and dup == 0 and missing == 0 and sent == n \
            and count_new() == n
    else:   # idle
        n = args.idle_n if label != "warmup" else min(args.idle_n, 50)
        time.sleep(1)
        before = mem(mta)
        a = snap(mta)
        p = subprocess.Popen([client_bin(args), "idle", "-p", str(args.port),
                              "-n", str(n), "-t", str(args.timeout),
                              "-H", str(args.timeout)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        line = p.stdout.readline()      # "ready N" (or EOF on failure)
        t1 = time.time()
        time.sleep(2)
        after = mem(mta)
        try:        # closing stdin lets the client go
            out, err = p.communicate(input="", timeout=args.timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        b = snap(mta)
        last = (out.strip().splitlines() or [""])[-1]
        c = dict(kv.split("=", 1) for kv in last.split() if "=" in kv)
        c["rc"] = p.returncode
        c["stderr"] = err.strip()[-500:]
        ready = int(line.split()[1]) if line.startswith("ready") else 0
        res.update(n=n, ready=ready, ready_s=t1 - t0,
                   before=before, after=after,
                   per_session_pss=(after["pss"] - before["pss"]) / max(1, n),
                   per_session_rss=(after["rss"] - before["rss"]) / max(1, n),
                   rate=0.0, elapsed=t1 - t0)
        ok = ready == n and c["rc"] == 0
    mta_cpu, busy = cpu_diff(a, b)
    wall = b["time"] - a["time"]
    res.update(valid=ok, mta_cpu=mta_cpu, mta_cpu_pct=100 * mta_cpu / wall,
               busy=busy, client_cpu=float(c.get("user_s", 0)) +
               float(c.get("sys_s", 0)), wall=wall,
               client_cpu_pct=100 * (float(c.get("user_s", 0)) +
                                     float(c.get("sys_s", 0))) / wall)
    if not ok:
        res["client"] = {k: v for k, v in c.items()}
        log("%s %s %s INVALID: %s" % (mta.name, fig, label,
                                       json.dumps(res["client"])[:600]))
    mta.stop()
    return res


def do_fig(args, mtas, fig, rows):
    for m in mtas:
        r = one_run(args, m, fig, "warmup")
        log("%s %s warm-up: valid=%s" % (m.name, fig, r["valid"]))
    for i in range(args.runs):
        order = mtas[i % len(mtas):] + mtas[:i % len(mtas)]
        for m in order:
            r = one_run(args, m, fig, "run%d" % (i + 1))
            rows.append(r)
            with open(os.path.join(args.work, "raw-tls.tsv"), "a") as f:
                f.write("%s\t%s\n" % (time.strftime("%FT%TZ", time.gmtime()),
                                      json.dumps(r)))
            if fig == "idle":
                log("%s idle run%d: %d ready in %.1fs, PSS %d -> %d KiB "
                    "(%.1f KiB/session), RSS %d -> %d KiB, %d -> %d processes, "
                    "load %s" % (m.name, i + 1, r["ready"], r["ready_s"],
                                 r["before"]["pss"], r["after"]["pss"],
                                 r["per_session_pss"], r["before"]["rss"],
                                 r["after"]["rss"], r["before"]["procs"],
                                 r["after"]["procs"], r["load"]))
            else:
                log("%s %s run%d: %.1f/s valid=%s MTA CPU %.0f%% client CPU "
                    "%.0f%% busy %.0f%% load %s %s" % (
                        m.name, fig, i + 1, r["rate"], r["valid"],
                        r["mta_cpu_pct"], r["client_cpu_pct"], r["busy"],
                        r["load"], "resumed=%d" % r["resumed"]
                        if "resumed" in r else ""))


def med(vals):
    return statistics.median(vals) if vals else 0.0


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pf = run(["postconf", "-d", "-h", "mail_version"]).stdout.strip()
    ossl = run(["openssl", "version"]).stdout.strip()
    rev = run(["git", "-C", REPO, "log", "-1", "--format=%h"]).stdout.strip()
    return "%d vCPU %s; Postfix %s; %s; postino %s" % (
        os.cpu_count(), model, pf, ossl, rev)


def summary(args, rows):
    out = ["# bench/tls.py: %s, %s certificate, TLSv1.3, %d runs, %s UTC" % (
        args.mtas, args.cert, args.runs,
        time.strftime("%F %H:%M", time.gmtime())), "", machine(), ""]
    titles = {"hs": "full handshakes/s (%d connections, %d at a time)"
              % (args.hs_n, args.conc),
              "resume": "resumed handshakes/s (%d connections, %d at a time)"
              % (args.resume_n, args.conc),
              "mail": "msg/s end to end over STARTTLS (%d x %d bytes, %d per "
              "connection, %d connections at a time, Maildir on tmpfs)"
              % (args.mail_n, args.size, args.per_conn, args.conc),
              "idle": "memory of %d idle TLS sessions" % args.idle_n}
    for fig in ("hs", "resume", "mail", "idle"):
        fr = [r for r in rows if r["fig"] == fig]
        if not fr:
            continue
        out.append("## " + titles[fig])
        out.append("")
        if fig == "idle":
            out.append("| MTA | valid | PSS before → after, KiB | per session PSS, KiB (runs) | RSS before → after, KiB | per session RSS, KiB | processes | all ready after, s | load |")
            out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        else:
            out.append("| MTA | valid | median /s (min–max) | runs | MTA CPU % of one core | MTA CPU ms per "
                       + ("message" if fig == "mail" else "handshake")
                       + " | machine busy % | client CPU % of one core | load (1 min) |")
            out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        medians = {}
        for m in args.mtas.split(","):
            mr = [r for r in fr if r["mta"] == m]
            good = [r for r in mr if r["valid"]]
            loads = [float(r["load"].split()[0]) for r in mr]
            lr = "%.1f–%.1f" % (min(loads), max(loads)) if loads else "-"
            if fig == "idle":
                ps = [r["per_session_pss"] for r in good]
                medians[m] = med(ps)
                g = good[len(good) // 2] if good else None
                out.append("| %s | %d of %d | %s | **%.1f** (%s) | %s | %.1f | %s | %s | %s |" % (
                    m, len(good), len(mr),
                    "%d → %d" % (g["before"]["pss"], g["after"]["pss"]) if g else "-",
                    med(ps), ", ".join("%.1f" % v for v in ps),
                    "%d → %d" % (g["before"]["rss"], g["after"]["rss"]) if g else "-",
                    med([r["per_session_rss"] for r in good]),
                    "%d → %d" % (g["before"]["procs"], g["after"]["procs"]) if g else "-",
                    "%.1f" % med([r["ready_s"] for r in good]), lr))
            else:
                rates = [r["rate"] for r in good]
                medians[m] = med(rates)
                extra = ""
                if fig == "mail":
                    extra = " (accept-only %.0f)" % med([r["accept_rate"] for r in good])
                if fig in ("hs", "resume") and good:
                    extra = "; %.2f tickets, %.2f resumed per connection" % (
                        sum(r["tickets"] for r in good) / sum(r["done"] for r in good),
                        sum(r["resumed"] for r in good) / sum(r["done"] for r in good))
                out.append("| %s | %d of %d | **%.0f** (%.0f–%.0f)%s | %s | %.0f | %.2f | %.0f | %.0f | %s |" % (
                    m, len(good), len(mr), med(rates),
                    min(rates) if rates else 0, max(rates) if rates else 0,
                    extra, ", ".join("%.0f" % v for v in rates),
                    med([r["mta_cpu_pct"] for r in good]),
                    med([1000 * r["mta_cpu"] / r["n"] for r in good]),
                    med([r["busy"] for r in good]),
                    med([r["client_cpu_pct"] for r in good]), lr))
        if medians.get("postfix") and medians.get("postino"):
            if fig == "idle":
                out.append("\npostino / Postfix, memory per session: %.3f (%.1f× less)"
                           % (medians["postino"] / medians["postfix"],
                              medians["postfix"] / max(0.001, medians["postino"])))
            else:
                out.append("\npostino / Postfix: **%.2f×**" % (
                    medians["postino"] / medians["postfix"]))
        out.append("")
    text = "\n".join(out)
    with open(os.path.join(args.work, "summary-tls-%s.md" % args.cert),
              "w") as f:
        f.write(text + "\n")
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("steps", nargs="+")
    ap.add_argument("--mtas", default="postfix,postino")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(REPO, "build-perf"))
    ap.add_argument("--work", default="/var/tmp/postino-tls")
    ap.add_argument("--port", type=int, default=2560)
    ap.add_argument("--cert", choices=("rsa", "ecdsa", "both"), default="rsa",
                    help="both: every step for RSA, then again for ECDSA "
                    "(with a setup first for each)")
    ap.add_argument("--fs-size", default="2g")
    ap.add_argument("--conc", type=int, default=20)
    ap.add_argument("--procs", type=int, default=1,
                    help="client processes for hs, resume and mail (-P)")
    ap.add_argument("--hs-n", type=int, default=2000)
    ap.add_argument("--resume-n", type=int, default=3000)
    ap.add_argument("--mail-n", type=int, default=2000)
    ap.add_argument("--per-conn", type=int, default=10)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--idle-n", type=int, default=1000)
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.work = os.path.abspath(args.work)
    args.fs = os.path.join(args.work, "fs")
    args.pem = os.path.join(args.work, "chain.pem")
    os.makedirs(args.work, exist_ok=True)
    steps = []
    for s in args.steps:
        steps += ["setup", "hs", "resume", "mail", "idle"] if s == "all" else [s]
    certs = ["rsa", "ecdsa"] if args.cert == "both" else [args.cert]
    t0 = time.time()
    for cert in certs:
        args.cert = cert
        cs = steps
        if len(certs) > 1 and "setup" not in cs:
            cs = ["setup"] + cs     # the certificate is made at setup
        run_steps(args, cs)
    log("done in %.0f s, load %s" % (time.time() - t0, loadavg()))


def run_steps(args, steps):
    mtas = make_mtas(args)
    rows = []
    log("load %s, %s certificate, steps %s" % (loadavg(), args.cert,
                                              " ".join(steps)))
    try:
        for s in steps:
            if s == "setup":
                do_setup(args, mtas)
            elif s in ("hs", "resume", "mail", "idle"):
                do_fig(args, mtas, s, rows)
            elif s in ("stop", "umount"):
                for m in mtas:
                    m.stop()
                if s == "umount" and os.path.ismount(args.fs):
                    subprocess.run(["umount", args.fs])
            else:
                sys.exit("unknown step %s" % s)
    finally:
        for m in mtas:
            m.stop()
    if rows:
        summary(args, rows)

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtp.py - the mail path benchmark: postino against Postfix, side by side.

usage: bench/smtp.py [options] STEP...

Everything it needs is in this directory or is a Debian package (postfix for
its daemons and smtp-source, e2fsprogs, util-linux, perf, strace): nothing is
read from outside the repository.

Steps:
  fs       a journaled ext4 (default mkfs options, data=ordered) in a loop
           file WORK/journal-ext4.img (--fs-size), mounted on --fs with
           losetup --direct-io=on.  Queues and the Maildir go there for every
           MTA (the machine's root ext4 has no journal; see RESULTS.md).
  setup    the bench user (home on --fs), 100 aliases u000..u099 -> bench,
           and three instances, each with its own configuration and queue
           directory on --fs, all listening on 127.0.0.1:--port (one runs at
           a time):
             postfix        Postfix 3.7 (postfix -c WORK/postfix), defaults
             postfix-tuned  the same plus what an administrator tunes for
                            throughput (--tuned, default
                            local_destination_concurrency_limit = 20,
                            default_process_limit = 200)
             postino        postino -c WORK/postino, same main.cf, defaults
  A        one recipient: smtp-source -d -s S -m --n -l --size to
           bench@bench.test, for each S in --sessions
  B        fan-out: --b-msgs messages x --b-rcpts recipients over --b-users
           distinct local users (uNNN, each its own local destination,
           aliased to the one Maildir), --b-sessions sessions, sent by this
           script's own pipelining SMTP client (each message has a unique
           X-Bench-Id)
           For A and B: accept-only (the client is done) and end to end (all
           files in ~bench/Maildir/new); the MTAs alternate run by run (the
           order rotates), one running at a time.  Every run is checked:
           every expected delivery exactly once (A: one file per queue ID of
           the receiving MTA; B: one file per (X-Bench-Id, X-Original-To)),
           the MTA's status=sent lines equal the deliveries; any missing or
           duplicate delivery marks the run INVALID and it is left out of
           the medians.
  fsyncs   one B run per MTA (--fsync-msgs messages) under strace -f on the
           whole process tree: fsync, fdatasync, sync_file_range per message,
           by what was synced (queue file, Maildir file, directory)
  D        500 (--d-conns) idle SMTP connections to postino: RSS and PSS sum of
           its whole process tree (idle-conns.py, proc-stats.py)
  E        the machine's limits: fsync/s on --fs (fsync-bench.c: newfile and
           append, 1, 4 and 16 threads) and CPUs
  profile  one postino B run under `perf record -a -g` (reported for
           postino's processes only) and one under `strace -c -f -w` (time
           in system calls per process kind): WORK/profile-*.txt
  stop     stop every MTA
  umount   stop every MTA, unmount --fs and detach its loop device

Delivered mail is never deleted between runs (on ext4 recently freed inodes
slow down later creations): each run's Maildir is renamed into
~bench/Maildir.parked/ on the same filesystem.

Results: WORK/raw-smtp.tsv (one line per run), WORK/summary-smtp.md (the
tables, also printed).  Every load generator talks to 127.0.0.1 only.
"""
import argparse
import asyncio
import datetime
import json
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchutil import banner, loadavg, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SMTP_SOURCE = "/usr/sbin/smtp-source"
DOMAIN = "bench.test"
USER = "bench"
TUNED = "local_destination_concurrency_limit=20,default_process_limit=200"


def log(text):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr,
          flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def main_cf(params):
    return "".join("%s = %s\n" % kv for kv in params.items())


def master_cf(src, port, extra=""):
    """src's master.cf with its smtp inet service on 127.0.0.1:port and no
    other inet service."""
    out = []
    with open(src) as f:
        for line in f.read().splitlines():
            w = line.split()
            if line.startswith("smtp ") and " inet " in line:
                out.append("127.0.0.1:%d inet n - n - - smtpd" % port)
            elif w[:1] and not line[0].isspace() and " inet " in line:
                out.append("#" + line)
            else:
                out.append(line)
    return "\n".join(out) + "\n" + extra


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
        # nothing ever leaves loopback
        "default_transport": "error:benchmark host delivers nowhere else",
        "relay_transport": "error:benchmark host relays nowhere else",
    }


# ---- the MTAs ---------------------------------------------------------

class MTA:
    name = ""
    queue = ""
    logfile = ""
    conf = ""

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

    def log_offset(self):
        try:
            return os.stat(self.logfile).st_size
        except FileNotFoundError:
            return 0

    def sent_since(self, offset):
        """status=sent delivery lines (local) since offset."""
        try:
            with open(self.logfile, "rb") as f:
                f.seek(offset)
                data = f.read().decode(errors="replace")
        except FileNotFoundError:
            return -1
        return sum(1 for line in data.splitlines()
                   if "status=sent" in line and " to=<" in line
                   and "relay=local" in line)


class Postfix(MTA):
    def __init__(self, args, name, extra):
        self.args = args
        self.name = name
        self.extra = extra
        self.conf = os.path.join(args.work, name)
        self.queue = os.path.join(args.fs, name + "-spool")
        self.data = os.path.join(args.fs, name + "-data")
        self.logfile = os.path.join(args.work, name + ".log")

    def setup(self):
        a = self.args
        for d in (self.conf, self.queue, self.data):
            os.makedirs(d, exist_ok=True)
        shutil.chown(self.data, "postfix")
        p = common_params(a, self.queue, self.logfile)
        p.update({
            "data_directory": self.data,
            "alias_maps": "hash:%s/aliases" % self.conf,
            "alias_database": "hash:%s/aliases" % self.conf,
            "readme_directory": "no",
            "smtp_dns_support_level": "disabled",
        })
        p.update(self.extra)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("# written by bench/smtp.py setup\n" + main_cf(p))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf("/usr/share/postfix/master.cf.dist", a.port,
                              "postlog unix-dgram n - n - 1 postlogd\n"))
        shutil.copy(os.path.join(a.work, "aliases"),
                    os.path.join(self.conf, "aliases"))
        r = run(["postalias", "-c", self.conf,
                 "hash:%s/aliases" % self.conf])
        if r.returncode != 0:
            sys.exit("%s: postalias: %s" % (self.name, r.stderr))
        open(self.logfile, "a").close()
        r = run(["postfix", "-c", self.conf, "check"])
        if r.returncode != 0:
            sys.exit("%s: postfix check: %s" % (self.name, r.stderr))

    def start(self):
        r = run(["postfix", "-c", self.conf, "start"])
        if r.returncode != 0:
            sys.exit("%s: postfix start: %s %s" % (self.name, r.stdout,
                                                   r.stderr))

    def stop(self):
        if self.pid():
            run(["postfix", "-c", self.conf, "stop"])
        wait_until(lambda: not self.pid(), 30)


class Postino(MTA):
    name = "postino"

    def __init__(self, args):
        self.args = args
        self.build = args.build
        self.conf = os.path.join(args.work, "postino")
        self.queue = os.path.join(args.fs, "postino-spool")
        self.logfile = os.path.join(args.work, "postino.log")

    def sbin(self, prog):
        return os.path.join(self.build, "sbin", prog)

    def setup(self):
        a = self.args
        os.makedirs(self.conf, exist_ok=True)
        p = common_params(a, self.queue, self.logfile)
        p.update({
            "mail_owner": "nobody",
            "setgid_group": "nogroup",
            "alias_maps": "hash:%s/aliases" % self.conf,
            "alias_database": "hash:%s/aliases" % self.conf,
        })
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("# written by bench/smtp.py setup\n" + main_cf(p))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf(os.path.join(REPO, "etc", "master.cf"), a.port))
        shutil.copy(os.path.join(a.work, "aliases"),
                    os.path.join(self.conf, "aliases"))
        r = run([self.sbin("postalias"), "-c", self.conf,
                 "hash:%s/aliases" % self.conf])
        if r.returncode != 0:
            sys.exit("postino: postalias: %s" % r.stderr)
        r = run([self.sbin("postino"), "-c", self.conf, "check"])
        if r.returncode != 0:
            sys.exit("postino check: %s" % r.stderr)

    def start(self):
        r = run([self.sbin("postino"), "-c", self.conf, "start"])
        if r.returncode != 0:
            sys.exit("postino start: %s %s" % (r.stdout, r.stderr))

    def stop(self):
        if self.pid():
            run([self.sbin("postino"), "-c", self.conf, "stop"])
        wait_until(lambda: not self.pid(), 30)


def make_mtas(args):
    tuned = {}
    for kv in args.tuned.split(","):
        k, _, v = kv.partition("=")
        tuned[k.strip()] = v.strip()
    return {"postfix": Postfix(args, "postfix", {}),
            "postfix-tuned": Postfix(args, "postfix-tuned", tuned),
            "postino": Postino(args)}


# ---- filesystem, user, Maildir ---------------------------------------

def do_fs(args):
    if os.path.ismount(args.fs):
        log("%s already mounted: %s" % (args.fs, fs_line(args.fs)))
        return
    img = os.path.join(args.work, "journal-ext4.img")
    if os.path.exists(img):
        os.unlink(img)
    with open(img, "wb") as f:
        f.truncate(args.fs_size * 1024 ** 3)
    # Inode tables and journal initialised now: with lazy init a kernel
    # thread zeroes them in the background for minutes after mounting.
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E",
                    "lazy_itable_init=0,lazy_journal_init=0", img], check=True)
    r = run(["losetup", "--direct-io=on", "--show", "-f", img])
    if r.returncode != 0:
        r = run(["losetup", "--show", "-f", img])
    if r.returncode != 0:
        sys.exit("losetup: %s" % r.stderr)
    dev = r.stdout.strip()
    os.makedirs(args.fs, exist_ok=True)
    subprocess.run(["mount", dev, args.fs], check=True)
    log("journaled ext4 %s on %s: %s" % (dev, args.fs, fs_line(args.fs)))


def fs_line(path):
    """The /proc/mounts line of the filesystem that holds path."""
    best, blen = "", -1
    with open("/proc/mounts") as f:
        for line in f:
            w = line.split()
            mnt = w[1].rstrip("/") + "/"
            if (path.rstrip("/") + "/").startswith(mnt) and len(mnt) > blen:
                best, blen = line.strip(), len(mnt)
    return best


def do_umount(args, mtas):
    for m in mtas.values():
        m.stop()
    if not os.path.ismount(args.fs):
        return
    dev = run(["findmnt", "-n", "-o", "SOURCE", args.fs]).stdout.strip()
    subprocess.run(["umount", args.fs], check=True)
    if dev.startswith("/dev/loop"):
        run(["losetup", "-d", dev])


def user_setup(args):
    home = os.path.join(args.fs, "home", USER)
    os.makedirs(os.path.dirname(home), exist_ok=True)
    try:
        pw = pwd.getpwnam(USER)
        if pw.pw_dir != home:
            subprocess.run(["usermod", "-d", home, USER], check=True)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin",
                        USER], check=True)
    os.makedirs(home, exist_ok=True)
    shutil.chown(home, USER, USER)
    with open(os.path.join(args.work, "aliases"), "w") as f:
        f.write("# written by bench/smtp.py setup\npostmaster: root\n")
        for i in range(args.b_users):
            f.write("%s: %s\n" % (b_user(i), USER))


def b_user(i):
    return "u%03d" % i


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


def headers(path):
    """The header block of a delivered file, as (name lower-case, value)."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line == "":
                break
            if line[0] in " \t" and out:
                out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            elif ":" in line:
                k, _, v = line.partition(":")
                out.append((k.strip().lower(), v.strip()))
    return out


RECEIVED_ID = re.compile(r"\bwith E?SMTPS?A? id ([0-9A-Za-z]+)")


def delivered_keys(newdir, kind):
    """One key per file in newdir: A: the receiving MTA's queue ID (from
    the first Received: header); B: (X-Bench-Id, X-Original-To)."""
    keys = []
    for ent in os.scandir(newdir):
        h = headers(ent.path)
        if kind == "A":
            key = None
            for k, v in h:
                if k == "received":
                    m = RECEIVED_ID.search(v)
                    key = m.group(1) if m else None
                    break
        else:
            bid = [v for k, v in h if k == "x-bench-id"]
            orig = [v.strip("<>").lower() for k, v in h
                    if k == "x-original-to"]
            key = (bid[0] if bid else None, orig[0] if orig else None)
        keys.append(key)
    return keys


def check_keys(keys, expected):
    """(missing, duplicates, unknown) against the expected set."""
    seen = {}
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
    dup = sum(n - 1 for n in seen.values() if n > 1)
    unknown = 0 if expected is None else sum(
        n for k, n in seen.items() if k not in expected)
    if expected is None:
        missing = 0
        unknown = seen.get(None, 0)
    else:
        missing = sum(1 for k in expected if k not in seen)
    return missing, dup, unknown


def proc_stats(*args):
    r = run([sys.executable, os.path.join(HERE, "proc-stats.py")] + list(args))
    return r.stdout.strip()


def descendants(root):
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                procs[int(d)] = (int(s[s.rindex(")") + 2:].split()[1]),
                                 s[s.index("(") + 1:s.rindex(")")])
            except (OSError, ValueError):
                pass
    keep = {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _comm) in procs.items():
            if pid not in keep and ppid in keep:
                keep.add(pid)
                changed = True
    return {p: procs[p][1] for p in keep if p in procs}


# ---- the B client -----------------------------------------------------

async def smtp_reply(reader):
    code = None
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        code = int(line[:3])
        if line[3:4] != b"-":
            return code


async def b_session(port, jobs, counts, body):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if await smtp_reply(reader) != 220:
        raise ConnectionError("no 220 banner")
    writer.write(b"EHLO client.%s\r\n" % DOMAIN.encode())
    if await smtp_reply(reader) != 250:
        raise ConnectionError("EHLO refused")
    while jobs:
        bid, rcpts = jobs.pop()
        cmd = [b"MAIL FROM:<sender@%s>\r\n" % DOMAIN.encode()]
        cmd += [b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts]
        cmd.append(b"DATA\r\n")
        writer.write(b"".join(cmd))
        codes = [await smtp_reply(reader) for _ in cmd]
        if codes[0] != 250 or any(c != 250 for c in codes[1:-1]) \
                or codes[-1] != 354:
            counts["refused"] += 1
            writer.write(b"RSET\r\n")
            await smtp_reply(reader)
            continue
        writer.write(b"From: <sender@%s>\r\nTo: <undisclosed-recipients:;>\r\n"
                     b"Subject: fan-out %s\r\nMessage-ID: <%s@client.%s>\r\n"
                     b"X-Bench-Id: %s\r\n\r\n%s.\r\n" % (
                         DOMAIN.encode(), bid.encode(), bid.encode(),
                         DOMAIN.encode(), bid.encode(), body))
        if await smtp_reply(reader) == 250:
            counts["accepted"] += 1
        else:
            counts["refused"] += 1
    writer.write(b"QUIT\r\n")
    try:
        await smtp_reply(reader)
    except (ConnectionError, ValueError):
        pass
    writer.close()


def b_messages(args, tag):
    """[(X-Bench-Id, [recipient, ...])]: message i goes to users
    (i*R + k) mod U, k < R."""
    out = []
    for i in range(args.b_msgs_now):
        rcpts = ["%s@%s" % (b_user((i * args.b_rcpts + k) % args.b_users),
                            DOMAIN) for k in range(args.b_rcpts)]
        out.append(("%s.%d" % (tag, i), rcpts))
    return out


def b_send(args, msgs):
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, args.size // len(line))
    jobs = list(reversed(msgs))
    counts = {"accepted": 0, "refused": 0}

    async def main():
        await asyncio.wait_for(asyncio.gather(*[
            b_session(args.port, jobs, counts, body)
            for _ in range(args.b_sessions)]), args.timeout)
    asyncio.run(main())
    return counts


# ---- one run ------------------------------------------------------------

def one_run(mta, args, kind, sessions, n):
    """One A or B run on the running MTA; returns a dict."""
    if not wait_until(lambda: mta.queue_count() == 0, 300, 0.2):
        sys.exit("%s: queue not empty" % mta.name)
    reset_maildir()
    off = mta.log_offset()
    root = mta.pid()
    snap_a = os.path.join(args.work, "cpu-before.json")
    snap_b = os.path.join(args.work, "cpu-after.json")
    proc_stats("snap", str(root), snap_a)
    newdir = os.path.join(maildir(), "new")
    load = loadavg()
    if kind == "A":
        expect_files = n
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
        accepted = n
    else:
        args.b_msgs_now = n
        tag = "%s-%d" % (mta.name, time.time_ns())
        msgs = b_messages(args, tag)
        expect_files = n * args.b_rcpts
        t0 = time.time()
        counts = b_send(args, msgs)
        t1 = time.time()
        accepted = counts["accepted"]
    deadline = t0 + args.timeout
    while count_dir(newdir) < expect_files:
        if time.time() > deadline:
            break
        time.sleep(0.05)
    t2 = time.time()
    proc_stats("snap", str(root), snap_b)
    cpu = proc_stats("diff", snap_a, snap_b)
    wait_until(lambda: mta.queue_count() == 0, 60, 0.2)
    time.sleep(1.0)   # late duplicates, log lines
    files = count_dir(newdir)
    keys = delivered_keys(newdir, kind)
    if kind == "A":
        missing, dup, unknown = check_keys(keys, None)
        missing = max(0, n - (len(keys) - dup))
    else:
        expected = set()
        for bid, rcpts in msgs:
            for rc in rcpts:
                expected.add((bid, rc.lower()))
        missing, dup, unknown = check_keys(keys, expected)
    sent = mta.sent_since(off)
    problems = []
    if accepted != n:
        problems.append("accepted %d of %d" % (accepted, n))
    if files != expect_files:
        problems.append("files %d of %d" % (files, expect_files))
    if missing:
        problems.append("missing %d" % missing)
    if dup:
        problems.append("duplicates %d" % dup)
    if unknown:
        problems.append("unidentified %d" % unknown)
    if sent != expect_files:
        problems.append("log sent %d" % sent)
    return {"accept_s": t1 - t0, "e2e_s": t2 - t0, "files": files,
            "deliveries": expect_files, "dup": dup, "missing": missing,
            "log_sent": sent, "cpu": cpu, "load": load,
            "valid": not problems, "problems": "; ".join(problems)}


def record(args, res, mta, step, case, label, n):
    with open(os.path.join(args.work, "raw-smtp.tsv"), "a") as f:
        f.write("\t".join([
            datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            mta, step, case, label, str(n), "%.3f" % res["accept_s"],
            "%.3f" % res["e2e_s"],
            "files=%d deliveries=%d dup=%d missing=%d log_sent=%d load=%s %s"
            % (res["files"], res["deliveries"], res["dup"], res["missing"],
               res["log_sent"], res["load"].replace(" ", "/"),
               "valid" if res["valid"] else "INVALID(%s)" % res["problems"]),
            res["cpu"]]) + "\n")


def summ(vals):
    if not vals:
        return "–"
    med = statistics.median(vals)
    return "%.0f (%.0f–%.0f)" % (med, min(vals), max(vals))


def start_mta(m, args):
    m.start()
    if not wait_until(lambda: banner(args.port), 30, 0.2):
        sys.exit("%s: no banner on port %d" % (m.name, args.port))


def do_runs(args, mtas, kind, sessions, n, case):
    """Warm-up, then --runs alternated runs per MTA; one summary table."""
    unit = "msg/s" if kind == "A" else "deliveries/s"
    per_msg = 1 if kind == "A" else args.b_rcpts
    rates = {m.name: {"acc": [], "e2e": [], "cpu": [], "bad": 0,
                      "loads": []} for m in mtas}
    for m in mtas:
        log("%s %s %s: warm-up" % (kind, case, m.name))
        start_mta(m, args)
        one_run(m, args, kind, sessions,
                args.warmup if kind == "A" else max(1, args.warmup // 10))
        m.stop()
    for r in range(1, args.runs + 1):
        k = (r - 1) % len(mtas)
        order = mtas[k:] + mtas[:k]
        for m in order:
            start_mta(m, args)
            res = one_run(m, args, kind, sessions, n)
            m.stop()
            record(args, res, m.name, kind, case, "run%d" % r, n)
            d = rates[m.name]
            acc = n * per_msg / res["accept_s"]
            e2e = n * per_msg / res["e2e_s"]
            d["loads"].append(float(res["load"].split()[0]))
            if res["valid"]:
                d["acc"].append(acc)
                d["e2e"].append(e2e)
                d["cpu"].append(json.loads(res["cpu"]))
            else:
                d["bad"] += 1
            log("%s %s %s run %d: accept %.0f, end to end %.0f %s; files %d,"
                " duplicates %d, missing %d, log sent %d; %s; load %s" % (
                    kind, case, m.name, r, acc, e2e, unit, res["files"],
                    res["dup"], res["missing"], res["log_sent"],
                    "valid" if res["valid"] else "INVALID: " + res["problems"],
                    res["load"]))
    lines = []
    for m in mtas:
        d = rates[m.name]
        cpu = d["cpu"]
        busy = mcpu = 0.0
        top = ""
        if cpu:
            busy = statistics.mean(
                100 - c["machine_cpu_pct_of_all_cores"]["idle"] for c in cpu)
            per = {}
            for c in cpu:
                for kk, v in c["mta_cpu_s_per_comm"].items():
                    per[kk] = per.get(kk, 0) + v / len(cpu)
            mcpu = statistics.median(c["mta_cpu_s"] for c in cpu)
            top = ", ".join("%s %.2f" % (kk, 1000 * v / (n * per_msg))
                            for kk, v in sorted(per.items(),
                                                key=lambda kv: -kv[1])[:4])
        lines.append("| %s | %s | %s | %s | %d of %d | %.1f–%.1f | %.0f %% | %.2f | %s |" % (
            case, m.name, summ(d["acc"]), summ(d["e2e"]),
            len(d["acc"]), len(d["acc"]) + d["bad"],
            min(d["loads"]), max(d["loads"]), busy,
            1000 * mcpu / (n * per_msg), top))
    if "postino" in rates and rates["postino"]["e2e"]:
        a = rates["postino"]
        for other in ("postfix", "postfix-tuned"):
            b = rates.get(other)
            if b and b["e2e"]:
                lines.append("| %s | **postino / %s** | %.2f× | **%.2f×** | | | | | |" % (
                    case, other,
                    statistics.median(a["acc"]) / statistics.median(b["acc"]),
                    statistics.median(a["e2e"]) / statistics.median(b["e2e"])))
    what = ("A: %d messages of %d bytes to one recipient, smtp-source -d" % (
        n, args.size) if kind == "A" else
        "B: %d messages of %d bytes x %d recipients over %d local users "
        "(aliased to one Maildir), %d sessions; rates are deliveries/s "
        "(messages/s x %d)" % (n, args.size, args.b_rcpts, args.b_users,
                               args.b_sessions, args.b_rcpts))
    head = ["%s; %d counted runs per MTA (alternated), load = 1-min load "
            "average at the start of each run" % (what, args.runs),
            "| case | MTA | accept-only %s, median (min–max) | end to end %s,"
            " median (min–max) | valid runs | load | machine busy | "
            "MTA CPU s / 1000 %s | biggest (CPU s / 1000) |" % (
                unit, unit, "msgs" if kind == "A" else "deliveries"),
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    emit(args, "\n".join(head + lines))


def do_A(args, mtas):
    for s in args.sessions:
        do_runs(args, mtas, "A", s, args.n, "s=%d" % s)


def do_B(args, mtas):
    do_runs(args, mtas, "B", args.b_sessions, args.b_msgs,
            "%dx%d/%du" % (args.b_msgs, args.b_rcpts, args.b_users))


# ---- fsyncs, profile ---------------------------------------------------

SYNC_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs", "msync")
STRACE_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(\w+)\((\d+)(?:<([^>]*)>)?")


def classify(path, queue):
    """What an fsync'd descriptor was: queue file or directory, Maildir
    file or directory."""
    if path is None:
        return "?"
    isdir = os.path.isdir(path)
    if path.startswith(queue.rstrip("/") + "/"):
        rel = path[len(queue.rstrip("/")) + 1:]
        top = rel.split("/")[0]
        return "queue dir %s/" % rel if isdir else "queue file %s/" % top
    if "/Maildir" in path:
        if isdir:
            return "Maildir dir %s/" % path.rstrip("/").rsplit("/", 1)[1]
        return "Maildir file"
    return "other " + path


def do_fsyncs(args, mtas):
    out = ["fsyncs per message, B workload (%d messages x %d recipients, %d "
           "sessions), every process of the MTA under strace -f -y "
           "(strace slows the MTA; only the counts matter here)" % (
               args.fsync_msgs, args.b_rcpts, args.b_sessions),
           "| MTA | fsync-family calls / message | / delivery | by kind, per message |",
           "| --- | --- | --- | --- |"]
    for m in mtas:
        start_mta(m, args)
        one_run(m, args, "B", args.b_sessions, max(1, args.warmup // 10))
        pids = list(descendants(m.pid()))
        trace = os.path.join(args.work, "strace-fsync-%s.txt" % m.name)
        argv = ["strace", "-f", "-qq", "-y", "-o", trace, "-e",
                "trace=" + ",".join(SYNC_CALLS)]
        for p in pids:
            argv += ["-p", str(p)]
        st = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        time.sleep(2)
        res = one_run(m, args, "B", args.b_sessions, args.fsync_msgs)
        st.send_signal(2)
        st.wait(timeout=60)
        m.stop()
        kinds = {}
        total = 0
        with open(trace) as f:
            for line in f:
                mm = STRACE_LINE.match(line)
                if not mm or mm.group(2) not in SYNC_CALLS or "resumed" in line:
                    continue
                total += 1
                kk = "%s %s" % (mm.group(2), classify(mm.group(4), m.queue))
                kinds[kk] = kinds.get(kk, 0) + 1
        n = args.fsync_msgs
        out.append("| %s | %.2f | %.2f | %s |%s" % (
            m.name, total / n, total / (n * args.b_rcpts),
            ", ".join("%s %.2f" % (k, v / n) for k, v in
                      sorted(kinds.items(), key=lambda kv: -kv[1])),
            "" if res["valid"] else " INVALID: " + res["problems"]))
    emit(args, "\n".join(out))


def do_profile(args, postino):
    n = args.b_msgs
    start_mta(postino, args)
    one_run(postino, args, "B", args.b_sessions, max(1, args.warmup // 10))
    data = os.path.join(args.work, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o",
                             data], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    res = one_run(postino, args, "B", args.b_sessions, n)
    perf.send_signal(2)
    perf.wait(timeout=120)
    pids = descendants(postino.pid())
    # strace -c -f -w: wall time in system calls, per process kind
    st_out = {}
    for comm in sorted(set(pids.values())):
        if comm == "master":
            continue
        sel = [p for p, c in pids.items() if c == comm]
        path = os.path.join(args.work, "profile-strace-%s.txt" % comm)
        argv = ["strace", "-c", "-f", "-w", "-o", path]
        for p in sel:
            argv += ["-p", str(p)]
        st_out[comm] = (argv, path)
    procs = [subprocess.Popen(a, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for a, _ in st_out.values()]
    time.sleep(2)
    res2 = one_run(postino, args, "B", args.b_sessions, n)
    for p in procs:
        p.send_signal(2)
        p.wait(timeout=60)
    postino.stop()
    pidlist = ",".join(str(p) for p in pids)
    rep = os.path.join(args.work, "profile-perf.txt")
    with open(rep, "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--no-children",
                        "--pid", pidlist, "--sort", "comm,dso", "--stdio",
                        "-g", "none"], stdout=f, stderr=subprocess.DEVNULL)
    with open(rep.replace(".txt", "-sym.txt"), "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--no-children",
                        "--pid", pidlist, "--sort", "comm,sym", "--stdio",
                        "-g", "none"], stdout=f, stderr=subprocess.DEVNULL)
    emit(args, "profile: postino B, %d messages x %d: under perf %.0f "
         "deliveries/s end to end (%s), under strace %.0f (%s); CPU %s; "
         "reports WORK/profile-perf.txt, profile-perf-sym.txt, "
         "profile-strace-COMM.txt" % (
             n, args.b_rcpts, n * args.b_rcpts / res["e2e_s"],
             "valid" if res["valid"] else "INVALID " + res["problems"],
             n * args.b_rcpts / res2["e2e_s"],
             "valid" if res2["valid"] else "INVALID " + res2["problems"],
             res["cpu"]))


def do_D(args, postino):
    start_mta(postino, args)
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


def do_E(args):
    fbin = os.path.join(args.work, "fsync-bench")
    if not os.path.exists(fbin):
        subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", fbin,
                        os.path.join(HERE, "fsync-bench.c")], check=True)
    d = os.path.join(args.fs, "fsync-bench")
    os.makedirs(d, exist_ok=True)
    out = ["E: machine limits. %d CPUs (%s); fsync/s on %s (%s), median of "
           "%d runs (min–max); load %s" % (
               os.cpu_count(), cpu_model(), d, fs_line(args.fs),
               args.e_runs, loadavg()),
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


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def emit(args, text):
    print(text + "\n", flush=True)
    with open(os.path.join(args.work, "summary-smtp.md"), "a") as f:
        f.write("<!-- %s UTC load %s -->\n%s\n\n" % (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), loadavg(),
            text))


def do_setup(args, mtas):
    if not os.path.ismount(args.fs):
        log("warning: %s is not a mount point (run the fs step first): "
            "queues and Maildir go to %s" % (args.fs, fs_line(args.fs)))
    os.makedirs(args.fs, exist_ok=True)
    user_setup(args)
    for m in mtas.values():
        m.setup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("steps", nargs="+",
                    choices=("fs", "setup", "A", "B", "fsyncs", "D", "E",
                             "profile", "stop", "umount"))
    ap.add_argument("--build", default=os.path.join(REPO, "build-perf"))
    ap.add_argument("--work", default="/var/tmp/postino-smtp")
    ap.add_argument("--fs", default="/srv/postino-bench-fs")
    ap.add_argument("--fs-size", type=int, default=6, help="GiB")
    ap.add_argument("--port", type=int, default=2540)
    ap.add_argument("--mtas", default="postfix,postfix-tuned,postino")
    ap.add_argument("--tuned", default=TUNED)
    ap.add_argument("--sessions", default="20")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--b-msgs", type=int, default=500)
    ap.add_argument("--b-rcpts", type=int, default=10)
    ap.add_argument("--b-users", type=int, default=100)
    ap.add_argument("--b-sessions", type=int, default=20)
    ap.add_argument("--fsync-msgs", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=540)
    ap.add_argument("--d-conns", type=int, default=500)
    ap.add_argument("--d-duration", type=float, default=20)
    ap.add_argument("--d-measure-at", type=float, default=8)
    ap.add_argument("--e-runs", type=int, default=3)
    ap.add_argument("--e-count", type=int, default=2000)
    ap.add_argument("--e-threads", default="1,4,16")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the MTAs deliver to the bench user")
    args.build = os.path.abspath(args.build)
    args.sessions = [int(x) for x in args.sessions.split(",")]
    args.e_threads = [int(x) for x in args.e_threads.split(",")]
    os.makedirs(args.work, exist_ok=True)
    known = make_mtas(args)
    mtas = [known[m] for m in args.mtas.split(",")]
    if "fs" in args.steps:
        do_fs(args)
    if "setup" in args.steps:
        do_setup(args, known)
    if "umount" in args.steps:
        do_umount(args, known)
        return
    for m in known.values():
        m.stop()
    emit(args, "run: %s; build %s; %s; load %s" % (
        " ".join(sys.argv[1:]), args.build, fs_line(args.fs), loadavg()))
    for step in args.steps:
        if step == "A":
            do_A(args, mtas)
        elif step == "B":
            do_B(args, mtas)
        elif step == "fsyncs":
            do_fsyncs(args, mtas)
        elif step == "D":
            do_D(args, known["postino"])
        elif step == "E":
            do_E(args)
        elif step == "profile":
            do_profile(args, known["postino"])
    for m in known.values():
        m.stop()


if __name__ == "__main__":
    main()

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
import collections
import datetime
import json
import os
import pwd
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchutil import banner, loadavg, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SMTP_SOURCE = "/usr/sbin/smtp-source"
DOMAIN = "bench.test"
RELAY_DOMAIN = "relay.test"
SMTP_SINK = "/usr/sbin/smtp-sink"
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
        # nothing ever leaves loopback: only the relay domains of step R
        # (transport_maps) go to smtp-sink on 127.0.0.x
        "default_transport": "error:benchmark host delivers nowhere else",
        "relay_transport": "error:benchmark host relays nowhere else",
        "relay_domains": " ".join(relay_domains(args)),
    }


def relay_domains(args):
    return [RELAY_DOMAIN] + [r_domain(i) for i in range(args.r_max_dests)]


def r_domain(i):
    return "d%02d.test" % i


def r_addr(ndest, i):
    """The sink address of destination i of ndest: 127.0.0.1 for one,
    127.0.0.10+i for several (each its own next hop and sink)."""
    return "127.0.0.1" if ndest == 1 else "127.0.0.%d" % (10 + i)


def transport_setup(args, conf, postmap):
    """CONF/transport (each MTA's own postmap builds it): relay.test and
    dNN.test to smtp:[127.0.0.x]:SINK."""
    path = os.path.join(conf, "transport")
    with open(path, "w") as f:
        f.write("# written by bench/smtp.py setup\n")
        f.write("%s\tsmtp:[%s]:%d\n" % (RELAY_DOMAIN, r_addr(1, 0),
                                         args.sink_port))
        for i in range(args.r_max_dests):
            f.write("%s\tsmtp:[%s]:%d\n" % (
                r_domain(i), r_addr(args.r_max_dests, i), args.sink_port))
    r = run(postmap + ["hash:" + path])
    if r.returncode != 0:
        sys.exit("postmap %s: %s" % (path, r.stderr))


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
            "transport_maps": "hash:%s/transport" % self.conf,
        })
        p.update(self.extra)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("# written by bench/smtp.py setup\n" + main_cf(p))
        transport_setup(a, self.conf, ["postmap", "-c", self.conf])
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
    def __init__(self, args, name="postino", build=None):
        self.args = args
        self.name = name
        self.build = build or args.build
        self.conf = os.path.join(args.work, name)
        self.queue = os.path.join(args.fs, name + "-spool")
        self.logfile = os.path.join(args.work, name + ".log")

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
            "transport_maps": "hash:%s/transport" % self.conf,
        })
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("# written by bench/smtp.py setup\n" + main_cf(p))
        transport_setup(a, self.conf, [self.sbin("postmap"), "-c", self.conf])
        src = os.path.join(REPO, "etc", "master.cf")
        with open(src) as f:
            has_smtp = re.search(r"^smtp\s+unix\s", f.read(), re.M)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            # the smtp delivery agent for step R, as in Postfix's sample
            f.write(master_cf(src, a.port, "" if has_smtp else
                              "smtp unix - - n - - smtp\n"))
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
            "postino": Postino(args),
            # the same set-up run by another build (--alt-build), e.g. a
            # patched tree, alternated with the others in the same run
            "postino-alt": Postino(args, "postino-alt",
                                   args.alt_build or args.build)}


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


# ---- R: relay to smtp-sink ---------------------------------------------

SENT_LINE = re.compile(
    r"\b([0-9A-Za-z]+): to=<([^>]*)>, relay=([^,]+),.*?(?:conn_use=(\d+), )?"
    r"delay=.*\bstatus=sent\b")
SINK_RECEIVED_ID = re.compile(r"by mail\.bench\.test\b[^;]*?\bid ([0-9A-Za-z]+)")
TROUBLE = re.compile(r"\b(warning|error|fatal|panic)\b|status=(deferred|bounced)")


class Sinks:
    """smtp-sink, one per destination address (127.0.0.1, or 127.0.0.10+i
    for each of several), each counting (-c) and appending every message
    to its own dump file (-D) on tmpfs."""

    def __init__(self, args, ndest, extra=()):
        self.args = args
        self.dir = os.path.join(args.sink_dir, "run-%d" % time.time_ns())
        os.makedirs(self.dir)
        shutil.chown(self.dir, "nobody")
        self.procs = []
        self.counts = [0] * ndest
        self.sess = [0] * ndest
        self.t_reached = None
        self.target = None
        self.lock = threading.Lock()
        for i in range(ndest):
            argv = [SMTP_SINK, "-c", "-u", "nobody", "-D",
                    os.path.join(self.dir, "dump-%02d" % i)] + list(extra) + [
                    "%s:%d" % (r_addr(ndest, i), args.sink_port), "1024"]
            p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            self.procs.append(p)
            threading.Thread(target=self.reader, args=(i, p),
                             daemon=True).start()
        for i in range(ndest):
            if not wait_until(lambda: self.listening(r_addr(ndest, i)), 10,
                              0.05):
                self.stop()
                sys.exit("smtp-sink on %s:%d does not answer" % (
                    r_addr(ndest, i), args.sink_port))

    def listening(self, addr):
        try:
            with socket.create_connection((addr, self.args.sink_port), 1):
                return True
        except OSError:
            return False

    def reader(self, i, p):
        pat = re.compile(rb"sess=(\d+) quit=\d+ mesg=(\d+)")
        buf = b""
        while True:
            chunk = p.stdout.read1(65536)
            if not chunk:
                return
            buf = (buf + chunk)[-256:]
            m = pat.findall(buf)
            if m:
                with self.lock:
                    self.sess[i] = int(m[-1][0])
                    self.counts[i] = int(m[-1][1])
                    if (self.target and self.t_reached is None
                            and sum(self.counts) >= self.target):
                        self.t_reached = time.time()

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def messages(self):
        """[(relaying MTA's queue ID, identity)] of every dumped message;
        identity: X-Bench-Id, else Message-Id (smtp-source numbers its
        messages)."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, name), "rb") as f:
                data = f.read().decode(errors="replace")
            for msg in data.split("X-Client-Addr: ")[1:]:
                head = msg.split("\n\n", 1)[0]
                m = SINK_RECEIVED_ID.search(head)
                b = re.search(r"^X-Bench-Id: (\S+)", head, re.M) or \
                    re.search(r"^Message-Id: (\S+)", head, re.M | re.I)
                out.append((m.group(1) if m else None,
                            b.group(1) if b else None))
        return out

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def read_log(mta, off):
    try:
        with open(mta.logfile, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def relay_lines(text):
    """status=sent lines of the smtp agent in text: [(qid, rcpt, conn_use)]
    (conn_use 1 when the line has none: the first use of a connection)."""
    out = []
    for line in text.splitlines():
        if "status=sent" not in line or "relay=local" in line:
            continue
        m = SENT_LINE.search(line)
        if m:
            out.append((m.group(1), m.group(2),
                        int(m.group(4)) if m.group(4) else 1))
    return out


def stall_report(args, mta, sinks, sent, n):
    """WORK/stall-R.txt: state and wait channel of the MTA's processes and
    of the sinks, and the outbound connections, when deliveries stall."""
    rows = []
    pids = descendants(mta.pid())
    pids.update({p.pid: "smtp-sink" for p in sinks.procs})
    for pid, comm in sorted(pids.items()):
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/wchan" % pid) as f:
                wchan = f.read().strip()
        except OSError:
            continue
        rows.append("%d %s %s %s" % (pid, comm, state, wchan))
    with open(os.path.join(args.work, "stall-R.txt"), "a") as f:
        f.write("# %s UTC %s: %d of %d sent, no progress for 5 s; %d "
                "connections to the sink port; sink counts %s\n%s\n" % (
                    time.strftime("%H:%M:%S", time.gmtime()), mta.name, sent,
                    n, outbound_conns(args.sink_port), sum(sinks.counts),
                    "\n".join(rows)))
    log("R %s: no delivery for 5 s (%d of %d): WORK/stall-R.txt" % (
        mta.name, sent, n))


def r_send_python(args, msgs, sessions):
    """msgs [(X-Bench-Id, [rcpt])] over sessions pipelining sessions (B's
    client)."""
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, args.size // len(line))
    jobs = list(reversed(msgs))
    counts = {"accepted": 0, "refused": 0}

    async def main():
        await asyncio.wait_for(asyncio.gather(*[
            b_session(args.port, jobs, counts, body)
            for _ in range(sessions)]), args.timeout)
    asyncio.run(main())
    return counts


def r_run(mta, args, ndest, n):
    """One relay run: n messages over --r-sessions sessions, to relay.test
    (ndest 1, smtp-source) or round robin to d00..dNN.test (this script's
    client); end to end when the MTA's maillog has n status=sent relay
    lines and its queue is empty."""
    if not wait_until(lambda: mta.queue_count() == 0, 300, 0.2):
        sys.exit("%s: queue not empty" % mta.name)
    sinks = Sinks(args, ndest)
    sinks.target = n
    subprocess.run(["sync"])
    time.sleep(1)
    off = mta.log_offset()
    root = mta.pid()
    snap_a = os.path.join(args.work, "cpu-before.json")
    snap_b = os.path.join(args.work, "cpu-after.json")
    proc_stats("snap", str(root), snap_a)
    load = loadavg()
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    msgs = None
    if ndest == 1:
        argv = [SMTP_SOURCE, "-d", "-s", str(args.r_sessions), "-m", str(n),
                "-l", str(args.size), "-M", "client." + DOMAIN, "-f",
                "sender@" + DOMAIN, "-t", "user@" + RELAY_DOMAIN,
                "127.0.0.1:%d" % args.port]
        t0 = time.time()
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=args.timeout)
        t1 = time.time()
        accepted = n if r.returncode == 0 else -1
    else:
        tag = "%s-%d" % (mta.name, time.time_ns())
        msgs = [("%s.%d" % (tag, i), ["user%d@%s" % (i, r_domain(i % ndest))])
                for i in range(n)]
        t0 = time.time()
        counts = r_send_python(args, msgs, args.r_sessions)
        t1 = time.time()
        accepted = counts["accepted"]
    # poll the log: status=sent lines of the smtp agent, then the queue
    deadline = t0 + args.timeout
    pos = off
    sent = 0
    t2 = None
    t_progress, stalls = time.time(), 0
    while time.time() < deadline:
        text = read_log(mta, pos)
        cut = text.rfind("\n") + 1
        pos += len(text[:cut].encode())
        got = len(relay_lines(text[:cut]))
        sent += got
        if sent >= n and mta.queue_count() == 0:
            t2 = time.time()
            break
        if got:
            t_progress = time.time()
        elif time.time() - t_progress > 5 and stalls < 5:
            # no delivery for 5 s: where are the agent and the sinks?
            stalls += 1
            t_progress = time.time()
            stall_report(args, mta, sinks, sent, n)
        time.sleep(0.05)
    if t2 is None:
        t2 = time.time()
    proc_stats("snap", str(root), snap_b)
    cpu = proc_stats("diff", snap_a, snap_b)
    wait_until(lambda: mta.queue_count() == 0, 60, 0.2)
    time.sleep(1.0)   # late duplicates, log lines
    sinks.stop()
    # the load generators' CPU: smtp-source and the sinks (reaped
    # children), this script (its client, log polling, sink readers)
    ru_self2 = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_cpu = {
        "children": ru_kids2.ru_utime + ru_kids2.ru_stime
        - ru_kids.ru_utime - ru_kids.ru_stime,
        "script": ru_self2.ru_utime + ru_self2.ru_stime
        - ru_self.ru_utime - ru_self.ru_stime}
    t_sink = sinks.t_reached
    at_sink = sinks.messages()
    sink_sess = sum(sinks.sess) - ndest   # less the listening probes
    sinks.remove()
    text = read_log(mta, off)
    lines = relay_lines(text)
    trouble = [ln for ln in text.splitlines() if TROUBLE.search(ln)]
    # exactly once: per message identity at the sink (X-Bench-Id, or
    # smtp-source's Message-Id); the relaying MTA's queue IDs at the sink
    # and in its status=sent lines must be the same multiset (Postfix's
    # short queue IDs are sometimes reused within a run: inode number and
    # microseconds, so an ID may rightly appear twice)
    log_ids = collections.Counter(qid for qid, _r, _c in lines)
    sink_ids = collections.Counter(qid for qid, _k in at_sink)
    keys = collections.Counter(k for _q, k in at_sink)
    problems = []
    if accepted != n:
        problems.append("accepted %d of %d" % (accepted, n))
    if len(lines) != n:
        problems.append("log sent %d" % len(lines))
    if len(at_sink) != n:
        problems.append("sink got %d" % len(at_sink))
    dup = sum(c - 1 for c in keys.values() if c > 1)
    if dup:
        problems.append("duplicates %d" % dup)
    if None in keys or None in sink_ids:
        problems.append("sink messages without identity %d or queue ID %d"
                        % (keys.get(None, 0), sink_ids.get(None, 0)))
    if msgs is not None:
        missing = len({b for b, _ in msgs} - set(keys))
    else:
        missing = max(0, n - len(keys))
    if missing:
        problems.append("missing %d" % missing)
    if log_ids != sink_ids:
        problems.append("queue IDs in the log and at the sink differ by %d"
                        % sum(((log_ids - sink_ids) +
                               (sink_ids - log_ids)).values()))
    if mta.queue_count():
        problems.append("queue not empty: %d" % mta.queue_count())
    uses = [cu for _q, _r, cu in lines]
    return {"accept_s": t1 - t0, "e2e_s": t2 - t0,
            "sink_s": (t_sink - t0) if t_sink else float("nan"),
            "files": len(at_sink), "deliveries": n, "dup": dup,
            "missing": missing, "log_sent": len(lines), "cpu": cpu,
            "load": load, "conns": sum(1 for u in uses if u == 1),
            "sink_sess": sink_sess,
            "conn_use_max": max(uses) if uses else 0,
            "conn_use_lines": sum(1 for u in uses if u > 1),
            "gen_cpu": gen_cpu,
            "trouble": trouble, "valid": not problems,
            "problems": "; ".join(problems)}


def do_R(args, mtas):
    for ndest in args.r_dests:
        do_r_case(args, mtas, ndest)
    if args.r_mem_conns:
        do_r_mem(args, mtas)


def do_r_case(args, mtas, ndest):
    n = args.r_n
    case = "%d dest%s" % (ndest, "" if ndest == 1 else "s")
    rates = {m.name: {"acc": [], "e2e": [], "cpu": [], "bad": 0,
                      "loads": [], "res": []} for m in mtas}
    for m in mtas:
        log("R %s %s: warm-up" % (case, m.name))
        start_mta(m, args)
        r_run(m, args, ndest, args.warmup)
        m.stop()
    for r in range(1, args.runs + 1):
        k = (r - 1) % len(mtas)
        for m in mtas[k:] + mtas[:k]:
            start_mta(m, args)
            res = r_run(m, args, ndest, n)
            m.stop()
            record(args, res, m.name, "R", case, "run%d" % r, n)
            d = rates[m.name]
            d["loads"].append(float(res["load"].split()[0]))
            if res["valid"]:
                d["acc"].append(n / res["accept_s"])
                d["e2e"].append(n / res["e2e_s"])
                d["cpu"].append(json.loads(res["cpu"]))
                d["res"].append(res)
            else:
                d["bad"] += 1
            if res["trouble"]:
                with open(os.path.join(args.work, "trouble-R.log"), "a") as f:
                    f.write("# %s %s run %d\n%s\n" % (
                        m.name, case, r, "\n".join(res["trouble"][:200])))
            log("R %s %s run %d: accept %.0f, end to end %.0f msg/s (sink "
                "count %.2f s); sink %d, log sent %d, duplicates %d, "
                "missing %d; %d connections (sink: %d sessions ended), "
                "conn_use max %d; %d warning/deferred lines; load "
                "generators' CPU: sinks+smtp-source %.2f s, this script "
                "%.2f s; %s; load %s" % (
                    case, m.name, r, n / res["accept_s"], n / res["e2e_s"],
                    res["sink_s"], res["files"], res["log_sent"], res["dup"],
                    res["missing"], res["conns"], res["sink_sess"],
                    res["conn_use_max"], len(res["trouble"]),
                    res["gen_cpu"]["children"], res["gen_cpu"]["script"],
                    "valid" if res["valid"] else "INVALID: " + res["problems"],
                    res["load"]))
    lines = []
    for m in mtas:
        d = rates[m.name]
        busy = mcpu = 0.0
        top = conns = cmax = gen = ""
        if d["cpu"]:
            busy = statistics.mean(
                100 - c["machine_cpu_pct_of_all_cores"]["idle"]
                for c in d["cpu"])
            per = {}
            for c in d["cpu"]:
                for kk, v in c["mta_cpu_s_per_comm"].items():
                    per[kk] = per.get(kk, 0) + v / len(d["cpu"])
            mcpu = statistics.median(c["mta_cpu_s"] for c in d["cpu"])
            top = ", ".join("%s %.2f" % (kk, 1000 * v / n) for kk, v in
                            sorted(per.items(), key=lambda kv: -kv[1])[:4])
            conns = "%.0f" % statistics.median(x["conns"] for x in d["res"])
            gen = "%.2f" % statistics.median(
                1000 * (x["gen_cpu"]["children"] + x["gen_cpu"]["script"]) / n
                for x in d["res"])
            cmax = "%d / %.1f" % (
                max(x["conn_use_max"] for x in d["res"]),
                statistics.median(n / max(1, x["conns"]) for x in d["res"]))
        lines.append("| %s | %s | %s | %s | %d of %d | %s | %s | %.1f–%.1f "
                     "| %.0f %% | %.2f | %s | %s |" % (
                         case, m.name, summ(d["acc"]), summ(d["e2e"]),
                         len(d["acc"]), len(d["acc"]) + d["bad"], conns,
                         cmax, min(d["loads"]), max(d["loads"]), busy,
                         1000 * mcpu / n, top, gen))
    for mine in ("postino", "postino-alt"):
        a = rates.get(mine)
        if not a or not a["e2e"]:
            continue
        for other in ("postfix", "postfix-tuned"):
            b = rates.get(other)
            if b and b["e2e"]:
                lines.append("| %s | **%s / %s** | %.2f× | **%.2f×** "
                             "| | | | | | | | |" % (
                                 case, mine, other,
                                 statistics.median(a["acc"]) /
                                 statistics.median(b["acc"]),
                                 statistics.median(a["e2e"]) /
                                 statistics.median(b["e2e"])))
    what = ("R: relay of %d messages of %d bytes over %d sessions (%s) to "
            "%s; %d counted runs per MTA (alternated)" % (
                n, args.size, args.r_sessions,
                "smtp-source -d" if ndest == 1 else "bench/smtp.py's client",
                "user@relay.test -> smtp:[127.0.0.1]:%d" % args.sink_port
                if ndest == 1 else
                "%d destinations dNN.test -> smtp:[127.0.0.(10+NN)]:%d, "
                "round robin" % (ndest, args.sink_port), args.runs))
    head = [what,
            "| case | MTA | accept-only msg/s, median (min–max) | end to end "
            "msg/s, median (min–max) | valid runs | connections | conn_use "
            "max / msgs per connection | load | machine busy | MTA CPU s / "
            "1000 msgs | biggest (CPU s / 1000) | load generators' CPU s / "
            "1000 msgs |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
            "| --- |"]
    emit(args, "\n".join(head + lines))


def outbound_conns(port):
    """ESTABLISHED IPv4 TCP connections whose remote port is port."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            w = line.split()
            if w[3] == "01" and int(w[2].split(":")[1], 16) == port:
                n += 1
    return n


def do_r_mem(args, mtas):
    """Memory per concurrent outbound connection: a sink that waits
    --r-mem-delay s before answering DATA holds every delivery's
    connection open; for each count K in --r-mem-conns, K messages go
    round robin to the --r-mem-dests destinations and, once the
    connections are open, the MTA's processes are measured."""
    ndest = args.r_mem_dests
    out = ["R memory: outbound connections held open by smtp-sink -w %d "
           "(%d destinations, messages round robin); RSS/PSS of the MTA's "
           "processes named smtp (and of the whole MTA) with K connections "
           "open; per connection = difference to the smallest K divided by "
           "the difference in connections" % (args.r_mem_delay, ndest),
           "| MTA | K messages | connections open | smtp processes | smtp RSS "
           "KiB | smtp PSS KiB | MTA PSS KiB | per connection: smtp PSS / "
           "MTA PSS KiB | load |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in mtas:
        base = None
        for k in args.r_mem_conns:
            start_mta(m, args)
            sinks = Sinks(args, ndest, ["-w", str(args.r_mem_delay)])
            load = loadavg()
            msgs = [("%s-mem.%d" % (m.name, i),
                     ["user%d@%s" % (i, r_domain(i % ndest))])
                    for i in range(k)]
            r_send_python(args, msgs, min(k, args.r_sessions))
            # connections open, and stable for a second
            last, t_end, stable = -1, time.time() + args.r_mem_delay * 0.7, 0
            while time.time() < t_end and stable < 10:
                c = outbound_conns(args.sink_port)
                stable = stable + 1 if c == last and c > 0 else 0
                last = c
                time.sleep(0.1)
            conns = outbound_conns(args.sink_port)
            st = json.loads(proc_stats("rss", str(m.pid())))
            smtp = st["per_comm"].get("smtp", {"n": 0, "rss_kib": 0,
                                               "pss_kib": 0})
            row = (conns, smtp["pss_kib"], st["pss_kib"])
            per = ""
            if base is None:
                base = row
                if smtp["n"] and conns:
                    per = "(%.0f / %.0f at K=%d, total/connections)" % (
                        smtp["pss_kib"] / conns, st["pss_kib"] / conns, k)
            elif conns > base[0]:
                per = "%.0f / %.0f" % ((row[1] - base[1]) / (conns - base[0]),
                                       (row[2] - base[2]) / (conns - base[0]))
            out.append("| %s | %d | %d | %d | %d | %d | %d | %s | %s |" % (
                m.name, k, conns, smtp["n"], smtp["rss_kib"],
                smtp["pss_kib"], st["pss_kib"], per, load))
            log("R mem %s K=%d: %d connections, smtp x%d RSS %d PSS %d, MTA "
                "PSS %d" % (m.name, k, conns, smtp["n"], smtp["rss_kib"],
                            smtp["pss_kib"], st["pss_kib"]))
            # let the deliveries finish (the sink answers after the delay)
            wait_until(lambda: m.queue_count() == 0,
                       args.r_mem_delay * 4 + 30, 0.2)
            m.stop()
            sinks.stop()
            got = len(sinks.messages())
            sinks.remove()
            if got != k:
                out.append("| %s | %d | sink got %d of %d messages | | | | | "
                           "| |" % (m.name, k, got, k))
    emit(args, "\n".join(out))


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
                    choices=("fs", "setup", "A", "B", "R", "fsyncs", "D",
                             "E",
                             "profile", "stop", "umount"))
    ap.add_argument("--build", default=os.path.join(REPO, "build-perf"))
    ap.add_argument("--alt-build", default=None,
                    help="build directory of the postino-alt instance")
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
    ap.add_argument("--r-n", type=int, default=5000)
    ap.add_argument("--r-sessions", type=int, default=20)
    ap.add_argument("--r-dests", default="1,50",
                    help="destination counts of step R, each a case")
    ap.add_argument("--r-max-dests", type=int, default=50,
                    help="dNN.test domains set up (setup step)")
    ap.add_argument("--r-mem-conns", default="10,100",
                    help="message counts of the memory probe ('' = none)")
    ap.add_argument("--r-mem-dests", type=int, default=50)
    ap.add_argument("--r-mem-delay", type=int, default=20)
    ap.add_argument("--sink-port", type=int, default=2541)
    ap.add_argument("--sink-dir", default="/dev/shm/postino-bench-sink")
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
    if args.alt_build:
        args.alt_build = os.path.abspath(args.alt_build)
    args.sessions = [int(x) for x in args.sessions.split(",")]
    args.e_threads = [int(x) for x in args.e_threads.split(",")]
    args.r_dests = [int(x) for x in args.r_dests.split(",") if x]
    args.r_mem_conns = [int(x) for x in args.r_mem_conns.split(",") if x]
    if max(args.r_dests + [args.r_mem_dests]) > args.r_max_dests:
        sys.exit("--r-dests/--r-mem-dests above --r-max-dests")
    os.makedirs(args.sink_dir, exist_ok=True)
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
    emit(args, "run: %s; build %s%s; %s; load %s" % (
        " ".join(sys.argv[1:]), args.build,
        " (postino-alt: %s)" % args.alt_build if args.alt_build else "",
        fs_line(args.fs), loadavg()))
    for step in args.steps:
        if step == "A":
            do_A(args, mtas)
        elif step == "B":
            do_B(args, mtas)
        elif step == "R":
            do_R(args, mtas)
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

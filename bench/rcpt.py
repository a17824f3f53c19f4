#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rcpt.py - RCPT checks per second through smtpd, postino against Postfix,
with virtual_mailbox_maps on LDAP and on MySQL (issue 4's benchmark).

usage: bench/rcpt.py [options]

One throwaway slapd (scripts/lib/slapd.sh) and one throwaway mariadbd
(scripts/lib/mariadb.sh), both on 127.0.0.1, hold the same --users
mailboxes user1..userU@example.com.  Two instances are written under
WORK, listening on 127.0.0.1:--port (one MTA runs at a time):

  postino  WORK/postino: virtual_mailbox_domains = example.com,
           virtual_mailbox_maps = ldap:WORK/ldap.cf or mysql:WORK/mysql.cf,
           postino_lookup_cache_ttl = 0 (case "postino") or 300
           ("postino+cache"; the negative TTL keeps its default, 60s)
  Postfix  WORK/postfix (postfix -c WORK/postfix): the same parameters.
           Postfix has no lookup cache (proxymap shares connections, it
           does not cache answers), so it has one case.

The map files are the shipped etc/ldap-virtual-mailbox-maps.cf and
etc/mysql-virtual-mailbox-maps.cf pointed at the local servers (TCP).
Postfix also gets in_flow_delay = 0s: its smtpd opens a queue file in
cleanup at the first accepted RCPT, and cleanup waits up to in_flow_delay
(1s) for a flow-control token that only deliveries produce; with RSET
and no delivery every transaction would wait a second.  Both MTAs get smtpd_{soft,hard}_error_limit, smtpd_junk_command_limit
= 1000000 and smtpd_error_sleep_time = 0, so that 550 replies and RSET
neither slow down nor end a session.

Load: --sessions concurrent SMTP sessions (asyncio, raw sockets), each
EHLO once, then transactions of MAIL FROM + --batch RCPT TO + RSET, sent
pipelined (one write per transaction, then all its replies read).  The
recipients are userK@example.com with K uniform in 1..2U (seeded), so
half exist (250) and half do not (550 5.1.1).  Per run: start the MTA,
one uncounted warm-up pass (every key 1..2U once: opens the directory
connections, starts Postfix's smtpd processes, fills postino's cache),
then --rcpts counted RCPTs; the clock runs from the first write to the
last reply.  Every RCPT reply is counted by code; the run fails if any
reply is neither 250 nor 550, or if the counts of 250 do not match the
keys that exist.  Runs alternate between the cases, the first case
rotating from run to run.  Bounded: --timeout per pass.

Results: WORK/raw-rcpt.tsv (one line per run), WORK/summary-rcpt.md
(also printed).  Needs root, slapd, ldap-utils, mariadb-server,
mariadb-client, postfix, postfix-ldap, postfix-mysql and a postino build.
"""
import argparse
import asyncio
import datetime
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchutil import banner, loadavg, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOMAIN = "example.com"
LIMITS = {
    "smtpd_soft_error_limit": "1000000",
    "smtpd_hard_error_limit": "1000000",
    "smtpd_junk_command_limit": "1000000",
    "smtpd_error_sleep_time": "0",
    "smtpd_recipient_limit": "1000",
}


def log(text):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr,
          flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


# ---- directories -------------------------------------------------------

class Directories:
    def __init__(self, args):
        self.args = args
        self.slapd_dir = os.path.join(args.work, "slapd")
        self.db_dir = os.path.join(args.work, "db")
        self.ldap_port = free_port()
        self.db_port = free_port()

    def start(self):
        a = self.args
        u = a.users
        ldif = os.path.join(a.work, "users.ldif")
        with open(ldif, "w") as f:
            f.write("dn: ou=people,dc=example,dc=com\nobjectClass: "
                    "organizationalUnit\nou: people\n\n")
            for i in range(1, u + 1):
                f.write("dn: uid=user%d,ou=people,dc=example,dc=com\n"
                        "objectClass: inetOrgPerson\nuid: user%d\n"
                        "cn: User %d\nsn: %d\nmail: user%d@%s\n\n"
                        % (i, i, i, i, i, DOMAIN))
        shutil.rmtree(self.slapd_dir, ignore_errors=True)
        r = run(["sh", os.path.join(REPO, "scripts/lib/slapd.sh"), "start",
                 self.slapd_dir, str(self.ldap_port), ldif])
        if r.returncode != 0:
            sys.exit("slapd.sh start: %s" % r.stderr)
        sql = os.path.join(a.work, "load.sql")
        with open(sql, "w") as f:
            f.write("CREATE DATABASE postfixadmin CHARACTER SET utf8mb4;\n"
                    "CREATE USER 'postino'@'127.0.0.1' IDENTIFIED BY 'secret';\n"
                    "CREATE USER 'postino'@'localhost' IDENTIFIED BY 'secret';\n"
                    "GRANT SELECT ON postfixadmin.* TO 'postino'@'127.0.0.1';\n"
                    "GRANT SELECT ON postfixadmin.* TO 'postino'@'localhost';\n"
                    "USE postfixadmin;\n")
            with open(os.path.join(REPO, "etc/postfixadmin-schema.sql")) as s:
                f.write(s.read())
            f.write("\nINSERT INTO domain (domain) VALUES ('%s');\n"
                    "INSERT INTO mailbox (username, maildir, local_part, domain)"
                    " SELECT CONCAT('user', seq, '@%s'),"
                    " CONCAT('%s/user', seq, '/'), CONCAT('user', seq), '%s'"
                    " FROM seq_1_to_%d;\n" % (DOMAIN, DOMAIN, DOMAIN, DOMAIN, u))
        shutil.rmtree(self.db_dir, ignore_errors=True)
        r = run(["bash", os.path.join(REPO, "scripts/lib/mariadb.sh"), "start",
                 self.db_dir, str(self.db_port), sql])
        if r.returncode != 0:
            sys.exit("mariadb.sh start: %s" % r.stderr)
        # The shipped map files, pointed at these servers.
        with open(os.path.join(REPO, "etc/ldap-virtual-mailbox-maps.cf")) as f:
            ldap = f.read().splitlines()
        out = []
        for line in ldap:
            k = line.split("=", 1)[0].strip()
            if k == "server_host":
                out.append("server_host = ldap://127.0.0.1:%d" % self.ldap_port)
            elif k == "bind":
                out.append("bind = no")
            elif k in ("bind_dn", "bind_pw"):
                continue
            else:
                out.append(line)
        self.write(os.path.join(a.work, "ldap.cf"), out)
        with open(os.path.join(REPO, "etc/mysql-virtual-mailbox-maps.cf")) as f:
            my = f.read().splitlines()
        out = ["hosts = inet:127.0.0.1:%d" % self.db_port
               if ln.split("=", 1)[0].strip() == "hosts" else ln for ln in my]
        self.write(os.path.join(a.work, "mysql.cf"), out)

    @staticmethod
    def write(path, lines):
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o644)

    def stop(self):
        run(["sh", os.path.join(REPO, "scripts/lib/slapd.sh"), "stop",
             self.slapd_dir])
        run(["bash", os.path.join(REPO, "scripts/lib/mariadb.sh"), "stop",
             self.db_dir])


# ---- the two MTAs -----------------------------------------------------

def master_cf(src, port, extra=""):
    """src's master.cf with its smtp inet service moved to 127.0.0.1:port."""
    out = []
    with open(src) as f:
        for line in f.read().splitlines():
            if line.startswith("smtp ") and " inet " in line:
                out.append("127.0.0.1:%d inet n - n - - smtpd" % port)
            elif line.split()[:1] and line.split()[0] in (
                    "submission", "smtps", "submissions") and " inet " in line:
                continue
            else:
                out.append(line)
    return "\n".join(out) + "\n" + extra


def main_cf(params):
    return "".join("%s = %s\n" % kv for kv in params.items())


class Postino:
    name = "postino"

    def __init__(self, args):
        self.args = args
        self.conf = os.path.join(args.work, "postino")
        self.queue = os.path.join(args.work, "postino-spool")
        self.postino = os.path.join(args.build, "sbin", "postino")

    def configure(self, maptype, ttl):
        a = self.args
        os.makedirs(self.conf, exist_ok=True)
        p = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "maillog_file": os.path.join(a.work, "postino.log"),
            "mail_owner": "nobody",
            "setgid_group": "nogroup",
            "myhostname": "mail.bench.test",
            "mydomain": "bench.test",
            "mydestination": "$myhostname, localhost",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "smtpd_peername_lookup": "no",
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_maps": "%s:%s/%s.cf" % (maptype, a.work, maptype),
            "postino_lookup_cache_ttl": str(ttl),
        }
        p.update(LIMITS)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main_cf(p))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf(os.path.join(REPO, "etc", "master.cf"), a.port))

    def start(self):
        r = run([self.postino, "-c", self.conf, "start"])
        if r.returncode != 0:
            sys.exit("postino start: %s %s" % (r.stdout, r.stderr))

    def stop(self):
        run([self.postino, "-c", self.conf, "stop"])


class Postfix:
    name = "postfix"

    def __init__(self, args):
        self.args = args
        self.conf = os.path.join(args.work, "postfix")
        self.queue = os.path.join(args.work, "postfix-spool")

    def configure(self, maptype, ttl):
        a = self.args
        os.makedirs(self.conf, exist_ok=True)
        os.makedirs(self.queue, exist_ok=True)
        os.makedirs(os.path.join(a.work, "postfix-data"), exist_ok=True)
        shutil.chown(os.path.join(a.work, "postfix-data"), "postfix")
        p = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": os.path.join(a.work, "postfix-data"),
            "maillog_file": os.path.join(a.work, "postfix.log"),
            "myhostname": "mail.bench.test",
            "mydomain": "bench.test",
            "mydestination": "$myhostname, localhost",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            # cleanup waits up to in_flow_delay for a flow-control token
            # per new queue file; tokens come from qmgr when mail is
            # delivered, and here none is (RSET): 1 s per transaction.
            "in_flow_delay": "0s",
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_maps": "%s:%s/%s.cf" % (maptype, a.work, maptype),
        }
        p.update(LIMITS)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main_cf(p))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf("/usr/share/postfix/master.cf.dist", a.port,
                              "postlog unix-dgram n - n - 1 postlogd\n"))

    def start(self):
        r = run(["postfix", "-c", self.conf, "start"])
        if r.returncode != 0:
            sys.exit("postfix start: %s %s" % (r.stdout, r.stderr))

    def stop(self):
        run(["postfix", "-c", self.conf, "stop"])


# ---- the client -------------------------------------------------------

async def read_reply(reader):
    """One (possibly multi-line) reply; returns its code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def replies(reader, n, buf):
    """The codes of the next n one-line replies; buf holds bytes read past
    the last reply (a list of one bytes object)."""
    data = buf[0]
    while data.count(b"\n") < n:
        more = await reader.read(65536)
        if not more:
            raise ConnectionError("connection closed")
        data += more
    lines = data.split(b"\n", n)
    buf[0] = lines[n]
    for ln in lines[:n]:
        if ln[3:4] == b"-":
            raise ConnectionError("multi-line reply %r" % ln)
    return [int(ln[:3]) for ln in lines[:n]]


async def session(port, keys, batch, counts, lockstep=False):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if await read_reply(reader) != 220:
            raise ConnectionError("no 220 banner")
        writer.write(b"EHLO client.bench.test\r\n")
        await writer.drain()
        if await read_reply(reader) != 250:
            raise ConnectionError("EHLO refused")
        buf = [b""]
        dom = DOMAIN.encode()
        for i in range(0, len(keys), batch):
            chunk = keys[i:i + batch]
            cmd = [b"MAIL FROM:<sender@bench.test>\r\n"]
            cmd += [b"RCPT TO:<user%d@%s>\r\n" % (k, dom) for k in chunk]
            cmd.append(b"RSET\r\n")
            if lockstep:
                codes = []
                for c in cmd:
                    writer.write(c)
                    codes += await replies(reader, 1, buf)
            else:
                writer.write(b"".join(cmd))
                codes = await replies(reader, len(chunk) + 2, buf)
            if codes[0] != 250 or codes[-1] != 250:
                raise ConnectionError("MAIL FROM or RSET: %r" % codes)
            for code in codes[1:-1]:
                counts[code] = counts.get(code, 0) + 1
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()


async def drive(port, keys, sessions, batch, timeout, lockstep):
    counts = {}
    per = [keys[i::sessions] for i in range(sessions)]
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(
        *(session(port, k, batch, counts, lockstep) for k in per)), timeout)
    return time.perf_counter() - t0, counts


def pass_(args, keys):
    return asyncio.run(drive(args.port, keys, args.sessions, args.batch,
                             args.timeout, args.lockstep))


def check(counts, keys, users, what):
    want = sum(1 for k in keys if k <= users)
    bad = {c: n for c, n in counts.items() if c not in (250, 550)}
    if bad or counts.get(250, 0) != want or \
            counts.get(550, 0) != len(keys) - want:
        sys.exit("%s: replies %s, expected 250 x %d and 550 x %d" % (
            what, counts, want, len(keys) - want))


def cpu_of(pids):
    """User + system seconds of the given processes (live ones only)."""
    tck = os.sysconf("SC_CLK_TCK")
    tot = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fl = f.read().rsplit(")", 1)[1].split()
            tot += (int(fl[11]) + int(fl[12])) / tck
        except (OSError, IndexError, ValueError):
            pass
    return tot


def descendants(root):
    """root and every process below it."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def master_pid(queue):
    try:
        with open(os.path.join(queue, "pid", "master.pid")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def pids_named(names):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() in names:
                        out.append(int(d))
            except OSError:
                pass
    return out


def one_run(args, mta, maptype, ttl, keys, warm):
    mta.configure(maptype, ttl)
    if not wait_until(lambda: port_free(args.port), 20):
        sys.exit("port %d busy" % args.port)
    mta.start()
    try:
        if not wait_until(lambda: banner(args.port), 30, 0.2):
            sys.exit("%s: no banner on port %d" % (mta.name, args.port))
        dt, counts = pass_(args, warm)
        check(counts, warm, args.users, "%s warm-up" % mta.name)
        load = loadavg()
        srv = pids_named(("slapd", "mariadbd"))
        mtap = descendants(master_pid(mta.queue))
        c0, m0 = cpu_of(srv), cpu_of(mtap)
        t0 = os.times()
        dt, counts = pass_(args, keys)
        t1 = os.times()
        c1, m1 = cpu_of(srv), cpu_of(mtap)
        client = t1.user + t1.system - t0.user - t0.system
        check(counts, keys, args.users, mta.name)
        smtpd = m1 - m0
    finally:
        mta.stop()
        wait_until(lambda: port_free(args.port), 30)
    return {"s": dt, "rate": len(keys) / dt, "load": load,
            "server_cpu": c1 - c0, "smtpd_cpu": smtpd, "client_cpu": client,
            "n250": counts.get(250, 0), "n550": counts.get(550, 0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build-bench"))
    ap.add_argument("--work", default="/var/tmp/postino-rcpt")
    ap.add_argument("--port", type=int, default=2541)
    ap.add_argument("--maps", default="ldap,mysql")
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--batch", type=int, default=20,
                    help="RCPTs per transaction")
    ap.add_argument("--rcpts", type=int, default=30000,
                    help="counted RCPTs per run")
    ap.add_argument("--lockstep", action="store_true",
                    help="no pipelining: one command, then its reply")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (Postfix)")
    args.build = os.path.abspath(args.build)
    os.makedirs(args.work, exist_ok=True)
    rnd = random.Random(args.seed)
    keys = [rnd.randint(1, 2 * args.users) for _ in range(args.rcpts)]
    warm = list(range(1, 2 * args.users + 1))
    rnd.shuffle(warm)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    cases = [("postfix", Postfix(args), 0), ("postino", Postino(args), 0),
             ("postino+cache", Postino(args), 300)]
    dirs = Directories(args)
    dirs.start()
    raw = os.path.join(args.work, "raw-rcpt.tsv")
    lines = ["run: %s; build %s; postfix %s; %d CPUs; load at start %s" % (
        " ".join(sys.argv[1:]), args.build,
        run(["postconf", "-h", "mail_version"]).stdout.strip(),
        os.cpu_count(), loadavg()),
        "",
        "| map | case | RCPT/s median (min–max) | ratio to Postfix | "
        "MTA CPU s (median) | slapd/mariadbd CPU s (median) | client CPU s | load (1 min) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    try:
        for maptype in args.maps.split(","):
            res = {c[0]: [] for c in cases}
            for r in range(args.runs):
                order = cases[r % 3:] + cases[:r % 3]
                for name, mta, ttl in order:
                    x = one_run(args, mta, maptype, ttl, keys, warm)
                    res[name].append(x)
                    with open(raw, "a") as f:
                        f.write("\t".join([
                            datetime.datetime.now(datetime.timezone.utc)
                            .strftime("%Y-%m-%dT%H:%M:%SZ"), maptype, name,
                            str(r + 1), str(len(keys)), "%.3f" % x["s"],
                            "%.0f" % x["rate"], "%.2f" % x["smtpd_cpu"],
                            "%.2f" % x["server_cpu"], "%.2f" % x["client_cpu"], x["load"]]) + "\n")
                    log("%s %s run %d: %.0f RCPT/s (%d x 250, %d x 550); "
                        "MTA CPU %.2f s, server CPU %.2f s, client CPU %.2f s; load %s" % (
                            maptype, name, r + 1, x["rate"], x["n250"],
                            x["n550"], x["smtpd_cpu"], x["server_cpu"],
                            x["client_cpu"],
                            x["load"]))
            base = statistics.median(x["rate"] for x in res["postfix"])
            for name, _m, _t in cases:
                v = [x["rate"] for x in res[name]]
                lines.append("| %s | %s | %.0f (%.0f–%.0f) | %.2f× | %.2f | %.2f | %.2f | %s |" % (
                    maptype, name, statistics.median(v), min(v), max(v),
                    statistics.median(v) / base,
                    statistics.median(x["smtpd_cpu"] for x in res[name]),
                    statistics.median(x["server_cpu"] for x in res[name]),
                    statistics.median(x["client_cpu"] for x in res[name]),
                    "/".join(x["load"].split()[0] for x in res[name])))
    finally:
        for _n, m, _t in cases:
            m.stop()
        dirs.stop()
    lines.append("")
    lines.append("load at end %s" % loadavg())
    text = "\n".join(lines)
    print(text, flush=True)
    with open(os.path.join(args.work, "summary-rcpt.md"), "a") as f:
        f.write(text + "\n\n")


if __name__ == "__main__":
    main()

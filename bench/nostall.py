#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nostall.py - does DNS that never answers stall other SMTP sessions?
postino against Postfix (issue 9's measure).

usage: bench/nostall.py [options]

The script runs itself inside a network namespace of its own
(tests/e2e/netns.py: `ip netns add`, loopback only, /etc/resolv.conf
naming 127.0.0.1 with the options of --resolv, deleted at the end).
There, a DNS server on 127.0.0.1:53 reads every query and never answers
(netns.DropDns), and both MTAs resolve through it.  Each MTA has the same
main.cf: mynetworks = 127.0.0.1/32, smtpd_sender_restrictions =
permit_mynetworks, reject_unknown_sender_domain, a virtual mailbox domain
hash.test whose users are in a hash: table (delivered by the virtual
agent into WORK/vmail-MTA), smtpd_peername_lookup = no, and the default
smtpd_delay_reject = yes (so the sender check runs at RCPT).  Postfix
runs from its own instance (postfix -c WORK/postfix, Debian's
master.cf.dist with chroot off and smtp on 127.0.0.1:--port); postino
from WORK/postino with its shipped etc/master.cf (one smtpd process).

Per run and MTA (one MTA runs at a time; the order alternates from run
to run):
  1. start the MTA; one untimed transaction;
  2. "idle": the measured client, from 127.0.0.1 (in mynetworks: no
     DNS), runs --n transactions (MAIL, RCPT, DATA, a 1 KiB message),
     each timed from MAIL to the 250 after the message;
  3. "stall": --dns-clients clients from 127.0.0.2 (outside mynetworks)
     each send MAIL FROM:<x@tK.cN.stall.test> (a new domain every time)
     and RCPT, and wait; once the DNS server has received a query from
     each of them, the measured client runs --n transactions again while
     they keep waiting and retrying;
  4. stop the clients and the MTA; check every message of the measured
     client was delivered (one file per message in the Maildir).
Printed: p50, p99 and max per transaction for each phase, how many RCPT
replies the DNS clients got during the stall phase and which codes.

Results: WORK/raw-nostall.tsv (one line per run and phase) and
WORK/summary-nostall.md (also printed).  Needs root, Debian's postfix
and a postino build (--build).
"""
import argparse
import datetime
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from benchutil import banner, loadavg, wait_until  # noqa: E402
import netns  # noqa: E402

NOBODY = 65534
USERS = 10
MSG = ("From: <a@local.test>\r\nTo: <hu0@hash.test>\r\nSubject: nostall\r\n\r\n"
       + ("x" * 70 + "\r\n") * 14)


def log(text):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), text), file=sys.stderr,
          flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          **kw)


def write_main(path, params):
    with open(path, "w") as f:
        f.write("".join("%s = %s\n" % kv for kv in params.items()))


def master_cf(src, port, chroot_off, extra=""):
    """src's master.cf, its smtp inet service on 127.0.0.1:port (other
    inet services dropped); chroot_off: every service unchrooted."""
    out = []
    with open(src) as f:
        for line in f.read().splitlines():
            fields = line.split()
            if not fields or line[0] in "# \t":
                out.append(line)
                continue
            if fields[1] == "inet":
                if fields[0] != "smtp":
                    continue
                fields[0] = "127.0.0.1:%d" % port
            if chroot_off and len(fields) > 4 and fields[1] in (
                    "inet", "unix", "unix-dgram", "fifo", "pass"):
                fields[4] = "n"
            out.append(" ".join(fields))
    return "\n".join(out) + "\n" + extra


def common_main(a, name):
    vmail = os.path.join(a.work, "vmail-" + name)
    return {
        "compatibility_level": "3.6",
        "queue_directory": os.path.join(a.work, name + "-spool"),
        "maillog_file": os.path.join(a.work, name + ".log"),
        "myhostname": "mail.bench.test",
        "mydomain": "bench.test",
        "mydestination": "$myhostname, localhost",
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.1/32",
        "alias_maps": "",
        "alias_database": "",
        "smtpd_peername_lookup": "no",
        "smtpd_sender_restrictions":
            "permit_mynetworks, reject_unknown_sender_domain",
        "virtual_mailbox_domains": "hash.test",
        "virtual_mailbox_maps": "hash:" + os.path.join(a.work, "vmailbox"),
        "virtual_mailbox_base": vmail,
        "virtual_uid_maps": "static:%d" % NOBODY,
        "virtual_gid_maps": "static:%d" % NOBODY,
    }


class Postino:
    name = "postino"

    def __init__(self, a):
        self.a = a
        self.conf = os.path.join(a.work, "postino")
        self.bin = os.path.join(a.build, "sbin", "postino")
        self.maildir = os.path.join(a.work, "vmail-postino", "hash.test",
                                    "hu0", "new")

    def configure(self):
        os.makedirs(self.conf, exist_ok=True)
        p = common_main(self.a, self.name)
        p.update({"mail_owner": "nobody", "setgid_group": "nogroup"})
        write_main(os.path.join(self.conf, "main.cf"), p)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf(os.path.join(REPO, "etc", "master.cf"),
                              self.a.port, False))
        r = run([os.path.join(self.a.build, "sbin", "postmap"),
                 "hash:" + os.path.join(self.a.work, "vmailbox")])
        if r.returncode:
            sys.exit("postmap: %s" % r.stderr)

    def start(self):
        r = run([self.bin, "-c", self.conf, "start"])
        if r.returncode != 0:
            sys.exit("postino start: %s %s" % (r.stdout, r.stderr))

    def stop(self):
        run([self.bin, "-c", self.conf, "stop"])

    def version(self):
        if self.a.label:
            return "postino (%s)" % self.a.label
        r = run(["git", "-C", REPO, "log", "-1", "--format=%h"])
        return "postino %s (build %s)" % (r.stdout.strip(), self.a.build)


class Postfix:
    name = "postfix"

    def __init__(self, a):
        self.a = a
        self.conf = os.path.join(a.work, "postfix")
        self.maildir = os.path.join(a.work, "vmail-postfix", "hash.test",
                                    "hu0", "new")

    def configure(self):
        a = self.a
        os.makedirs(self.conf, exist_ok=True)
        data = os.path.join(a.work, "postfix-data")
        os.makedirs(data, exist_ok=True)
        shutil.chown(data, "postfix")
        os.makedirs(os.path.join(a.work, "postfix-spool"), exist_ok=True)
        p = common_main(a, self.name)
        p["data_directory"] = data
        write_main(os.path.join(self.conf, "main.cf"), p)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf("/usr/share/postfix/master.cf.dist", a.port,
                              True))
        r = run(["postmap", "-c", self.conf,
                 "hash:" + os.path.join(a.work, "vmailbox")])
        if r.returncode:
            sys.exit("postfix postmap: %s" % r.stderr)

    def start(self):
        r = run(["postfix", "-c", self.conf, "start"])
        if r.returncode != 0:
            sys.exit("postfix start: %s %s" % (r.stdout, r.stderr))

    def stop(self):
        run(["postfix", "-c", self.conf, "stop"])

    def version(self):
        r = run(["postconf", "-d", "-h", "mail_version"])
        return "Postfix " + r.stdout.strip()


# ---- clients -------------------------------------------------------------

def transaction(s, n):
    """MAIL, RCPT, DATA, message; seconds from MAIL to the final 250."""
    t = time.monotonic()
    code, text = s.mail("a@local.test")
    if code != 250:
        raise AssertionError("MAIL %d %s" % (code, text))
    code, text = s.rcpt("hu0@hash.test")
    if code != 250:
        raise AssertionError("RCPT %d %s" % (code, text))
    code, text = s.data(MSG.replace("Subject: nostall",
                                    "Subject: nostall %d" % n))
    if code != 250:
        raise AssertionError("DATA %d %s" % (code, text))
    return time.monotonic() - t


def measured(port, n, first):
    """n timed transactions in one session from 127.0.0.1."""
    out = []
    with smtplib.SMTP(timeout=600, source_address=("127.0.0.1", 0)) as s:
        s.connect("127.0.0.1", port)
        s.ehlo("client.local.test")
        for k in range(n):
            out.append(transaction(s, first + k))
        s.quit()
    return out


class DnsClient(threading.Thread):
    """One client outside mynetworks: MAIL FROM a new stall.test domain
    each time, RCPT (the sender check runs there and waits on DNS), RSET,
    until stopped; records (code, seconds) of each RCPT reply."""

    def __init__(self, port, idx):
        super().__init__(daemon=True)
        self.port, self.idx = port, idx
        self.replies = []
        self.stopping = threading.Event()
        self.sock = None
        self.error = None

    def domain(self, k):
        return "t%d.c%d.stall.test" % (k, self.idx)

    def run(self):
        try:
            s = smtplib.SMTP(timeout=600, source_address=("127.0.0.2", 0))
            s.connect("127.0.0.1", self.port)
            self.sock = s.sock
            s.ehlo("client%d.outside.test" % self.idx)
            k = 0
            while not self.stopping.is_set():
                code, text = s.mail("x@" + self.domain(k))
                t = time.monotonic()
                code, text = s.rcpt("hu1@hash.test")
                if self.stopping.is_set():
                    break
                self.replies.append((code, time.monotonic() - t))
                s.rset()
                k += 1
        except (OSError, smtplib.SMTPException) as e:
            if not self.stopping.is_set():
                self.error = e

    def stop(self):
        self.stopping.set()
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.join(timeout=30)


def pct(xs, p):
    """Nearest-rank percentile."""
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def count_files(d):
    try:
        return len([n for n in os.listdir(d) if not n.startswith(".")])
    except FileNotFoundError:
        return 0


def one_run(a, mta, drop, raw, rn):
    mta.start()
    try:
        if not wait_until(lambda: banner(a.port), 60):
            sys.exit("%s: no banner on port %d" % (mta.name, a.port))
        before = count_files(mta.maildir)
        sent = 0
        measured(a.port, 1, 0)
        sent += 1
        idle = measured(a.port, a.n, sent)
        sent += a.n
        clients = [DnsClient(a.port, c) for c in range(a.dns_clients)]
        asked0 = drop.asked("stall.test")
        for c in clients:
            c.start()
        for c in clients:
            if not wait_until(lambda: drop.asked("c%d.stall.test" % c.idx),
                              60):
                sys.exit("%s: no DNS query from client %d (log: %s)"
                         % (mta.name, c.idx, mta.name + ".log"))
        t0 = time.monotonic()
        stall = measured(a.port, a.n, sent)
        took = time.monotonic() - t0
        sent += a.n
        got = [list(c.replies) for c in clients]
        for c in clients:
            c.stop()
        asked = drop.asked("stall.test") - asked0
        errors = [c.error for c in clients if c.error]
        if not wait_until(lambda: count_files(mta.maildir) - before >= sent,
                          120):
            sys.exit("%s: %d of %d messages delivered"
                     % (mta.name, count_files(mta.maildir) - before, sent))
    finally:
        mta.stop()
    codes = {}
    for r in got:
        for code, _ in r:
            codes[code] = codes.get(code, 0) + 1
    res = {"idle": idle, "stall": stall, "took": took,
           "dns_replies": sum(len(r) for r in got), "codes": codes,
           "queries": asked, "errors": errors}
    for phase in ("idle", "stall"):
        xs = res[phase]
        raw.write("%s\t%d\t%s\t%s\t%d\t%.4f\t%.4f\t%.4f\t%s\n" % (
            datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S"), rn,
            mta.name, phase, len(xs), pct(xs, 50), pct(xs, 99), max(xs),
            loadavg()))
    raw.flush()
    log("%s run %d: idle p50 %.3f s p99 %.3f s; stall p50 %.3f s p99 %.3f s"
        " (%d transactions in %.1f s, with the session's set-up); DNS clients got %d RCPT replies %s; "
        "%d DNS queries dropped" % (
            mta.name, rn, pct(idle, 50), pct(idle, 99), pct(stall, 50),
            pct(stall, 99), a.n, took, res["dns_replies"], codes, asked))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--work", default="/var/tmp/postino-nostall")
    ap.add_argument("--port", type=int, default=2542)
    ap.add_argument("--n", type=int, default=20,
                    help="timed transactions per phase")
    ap.add_argument("--dns-clients", type=int, default=3)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--mtas", default="postino,postfix")
    ap.add_argument("--resolv", default="timeout:1 attempts:2",
                    help="options of the namespace's resolv.conf")
    ap.add_argument("--label", default="",
                    help="what the postino build is, for the summary "
                    "(default: the repository's commit)")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    netns.enter(__file__, resolv_options=a.resolv, unittest=False,
                timeout=24 * 3600)
    # inside the namespace from here on
    if os.path.exists(a.work):
        shutil.rmtree(a.work)
    os.makedirs(a.work)
    os.chmod(a.work, 0o755)
    with open(os.path.join(a.work, "vmailbox"), "w") as f:
        for u in range(USERS):
            f.write("hu%d@hash.test hash.test/hu%d/\n" % (u, u))
    mtas = {"postino": Postino(a), "postfix": Postfix(a)}
    order = [mtas[m] for m in a.mtas.split(",")]
    for m in order:
        vm = os.path.join(a.work, "vmail-" + m.name)
        os.makedirs(vm, exist_ok=True)
        os.chown(vm, NOBODY, NOBODY)
        m.configure()
    drop = netns.DropDns("127.0.0.1", 53)
    start_load = loadavg()
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    results = {m.name: [] for m in order}
    with open(os.path.join(a.work, "raw-nostall.tsv"), "a") as raw:
        for rn in range(a.runs):
            seq = order if rn % 2 == 0 else list(reversed(order))
            for m in seq:
                results[m.name].append(one_run(a, m, drop, raw, rn + 1))
    drop.stop()

    lines = [
        "started %s; resolv.conf options %s; %d DNS clients; %d timed "
        "transactions per phase; %d run(s); load %s at start, %s at end; "
        "%d CPUs" % (started, a.resolv, a.dns_clients, a.n, a.runs,
                     start_load, loadavg(), os.cpu_count()),
        "",
        "| MTA | idle p50 | idle p99 | **stall p50** | **stall p99** | "
        "stall mean | stall max | DNS clients' RCPT replies during the "
        "stall phase |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in order:
        rs = results[m.name]
        idle = [x for r in rs for x in r["idle"]]
        stall = [x for r in rs for x in r["stall"]]
        codes = {}
        for r in rs:
            for c, k in r["codes"].items():
                codes[c] = codes.get(c, 0) + k
        label = m.version()
        lines.append("| %s | %.3f s | %.3f s | %.3f s | %.3f s | %.3f s | "
                     "%.3f s | %s |" % (label, pct(idle, 50), pct(idle, 99),
                                        pct(stall, 50), pct(stall, 99),
                                        sum(stall) / len(stall), max(stall),
                               ", ".join("%d x %d" % (k, c) for c, k in
                                         sorted(codes.items())) or "none"))
    if "postino" in results and "postfix" in results:
        pi = [x for r in results["postino"] for x in r["stall"]]
        pf = [x for r in results["postfix"] for x in r["stall"]]
        lines.append("")
        lines.append("stall phase, postino / Postfix: p50 %.2f, p99 %.2f, "
                     "mean %.2f" % (pct(pi, 50) / pct(pf, 50),
                                    pct(pi, 99) / pct(pf, 99),
                                    (sum(pi) / len(pi)) / (sum(pf) / len(pf))))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.work, "summary-nostall.md"), "a") as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_pipe - the pipe(8) delivery agent, with Debian's Postfix as the
oracle.

A recorder (a small Python program) is the command of the pipe services:
it writes what it was given -- argv, the environment as exec'd (from
/proc/self/environ), its ids and groups, working directory, umask and
standard input -- into a JSON file, then exits as its recipients ask
(exitNN, dsn, hang in the local part).  The same master.cf entries run
under a private Postfix and under postino, the same messages go through
both, and the records must be identical once the fields that must differ
are normalised explicitly: queue IDs, client port, the From_ line's
date, the Received: header each MTA writes, the configuration and queue
directories (MAIL_CONFIG, the working directory) and ${size} (checked
on each side against its own copy: content bytes in CRLF form).  The
status lines (dsn, status, text) of failing commands must agree too.

postino alone: one run per recipient with a recipient limit of 1 and
one run for all with the default; bounces carry the command's output to
the sender; size=, the D flag's recipient limit and loop detection; a
command that does not exist defers; user=root, the mail owner, an
unknown user and an unknown flag are refused with a line naming
master.cf; and Dovecot's dovecot-lda stores into a Maildir that
Dovecot's POP3 server then serves.
"""
import glob
import json
import os
import re
import shutil
import smtplib
import tempfile
import unittest

from instance import IS_ROOT, Instance, WAIT, poll_until
from smtp_peers import PostfixMx

RECORDER = r'''#!/usr/bin/python3
import json, os, re, sys, time
OUTDIR = "@OUTDIR@"
with open("/proc/self/environ", "rb") as f:
    env = [e.decode("latin-1") for e in f.read().split(b"\0") if e]
mask = os.umask(0)
os.umask(mask)
data = sys.stdin.buffer.read()
rec = {"argv": sys.argv, "env": sorted(env), "uid": os.getuid(),
       "gid": os.getgid(), "euid": os.geteuid(), "egid": os.getegid(),
       "groups": sorted(os.getgroups()), "cwd": os.getcwd(),
       "umask": mask, "stdin": data.decode("latin-1")}
name = "%.6f-%d.json" % (time.time(), os.getpid())
with open(os.path.join(OUTDIR, name + ".tmp"), "w") as f:
    json.dump(rec, f)
os.rename(os.path.join(OUTDIR, name + ".tmp"), os.path.join(OUTDIR, name))
args = " ".join(sys.argv[1:])
m = re.search(r"exit(\d+)", args)
if m:
    sys.stdout.write("output of the command\nsecond line\n")
    sys.exit(int(m[1]))
if "dsn" in args:
    sys.stdout.write("4.7.1 come back later\n")
    sys.exit(1)
if "ctl" in args:
    sys.stdout.write("a\rb\x01c\td\n")
    sys.exit(1)
if "hang" in args:
    sys.stdout.write("hanging\n")
    sys.stdout.flush()
    time.sleep(300)
sys.stdout.write("recorded\n")
'''

# The macros, each as an argument of its own, with grouping and $$.
ALL_MACROS = ("-f ${sender} {a b} $client_address ${client_helo} "
              "${client_hostname} ${client_port} ${client_protocol} "
              "${domain} ${extension} ${mailbox} ${nexthop} "
              "$(original_recipient) ${queue_id} ${recipient} "
              "${sasl_method} ${sasl_sender} ${sasl_username} ${size} "
              "${user} x${user}y $$ -- ${recipient}")
# argv index of a few macros in ALL_MACROS (after argv[0]), per request
# of N recipients.
PIPE_DOMAIN = "pipe.test"
ONE_DOMAIN = "one.test"
EOL_DOMAIN = "eol.test"


def services(user, recorder, extra_attrs=""):
    """The pipe services both MTAs run (master.cf lines)."""
    return (
        "rec unix - n n - - pipe flags=FRX user=%s argv=%s %s\n"
        "rec1 unix - n n - - pipe flags=DOFRXhqu.> user=%s null_sender= "
        "argv=%s -f ${sender} x${recipient}y ${original_recipient} "
        "${user} ${extension} ${mailbox} ${domain} ${nexthop}\n"
        "receol unix - n n - - pipe flags=FRB eol=\\r\\n user=%s:daemon "
        "argv=%s ${sender}\n"
        % (user, recorder, ALL_MACROS, user, recorder, user, recorder))


def pipe_main():
    return {
        "relay_domains": "%s, %s, %s" % (PIPE_DOMAIN, ONE_DOMAIN, EOL_DOMAIN),
        "transport_maps": "inline:{%s=rec:, %s=rec1:, %s=receol:}"
                          % (PIPE_DOMAIN, ONE_DOMAIN, EOL_DOMAIN),
        "rec1_destination_recipient_limit": "1",
        "rec_time_limit": "4s",
        "smtpd_peername_lookup": "no",
    }


MESSAGE = ("From: <a@x.test>\r\nTo: <b@y.test>\r\nSubject: pipe test\r\n"
           "Message-ID: <pipe.%s@client.test>\r\n"
           "Date: Sun, 6 Dec 2026 08:00:00 +0000\r\n\r\n"
           "hello\r\nFrom me\r\n.dot line\r\n>From x\r\nlast\r\n")


def send(host, port, sender, rcpts, tag):
    with smtplib.SMTP(host, port, timeout=WAIT,
                      source_address=("127.0.0.1", 0)) as s:
        s.ehlo("client.example.test")
        s.sendmail(sender, rcpts, (MESSAGE % tag).encode())


class Recorder:
    """The recorder program and the directory it writes into."""

    def __init__(self, tc, user):
        self.dir = tempfile.mkdtemp(prefix="postino-pipe-")
        os.chmod(self.dir, 0o755)
        tc.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.out)
        os.chmod(self.out, 0o1777)
        self.path = os.path.join(self.dir, "rec.py")
        with open(self.path, "w") as f:
            f.write(RECORDER.replace("@OUTDIR@", self.out))
        os.chmod(self.path, 0o755)
        self.seen = set()

    def take(self, count, timeout=WAIT):
        """The next COUNT records (in the order they were written)."""
        def ready():
            return len(self.fresh()) >= count
        poll_until("%d records of the pipe command" % count, ready,
                   timeout=timeout)
        out = []
        for p in self.fresh()[:count]:
            with open(p) as f:
                out.append(json.load(f))
            self.seen.add(p)
        return out

    def fresh(self):
        return sorted(p for p in glob.glob(os.path.join(self.out, "*.json"))
                      if p not in self.seen)


def split_copy(stdin):
    """(prepended lines, headers, body) of a recorded standard input."""
    eol = "\r\n" if "\r\n" in stdin else "\n"
    head, _, body = stdin.partition(eol + eol)
    lines = head.split(eol)
    pre = []
    while lines and (lines[0].startswith("From ")
                     or re.match(r"(Return-Path|X-Original-To|Delivered-To):",
                                 lines[0])):
        pre.append(lines.pop(0))
    return pre, lines, body


def normalise(tc, rec, queue_dir, conf_dir, nrcpt):
    """The fields of a record that must differ between the MTAs, made
    equal (see the module's doc).  NRCPT: recipients of the request."""
    r = dict(rec)
    pre, headers, body = split_copy(rec["stdin"])
    pre = [re.sub(r"^(From \S*  ).*$", r"\1DATE", ln) for ln in pre]
    kept, skip = [], False
    for h in headers:
        if h[:1] in (" ", "\t"):
            if not skip:
                kept.append(h)
            continue
        skip = h.lower().startswith("received:")
        if not skip:
            kept.append(h)
    r["stdin"] = {"pre": pre, "headers": kept, "body": body}
    r["env"] = [("MAIL_CONFIG=CONF" if e == "MAIL_CONFIG=" + conf_dir
                 else e) for e in rec["env"]]
    r["cwd"] = "QUEUE" if rec["cwd"] == queue_dir else rec["cwd"]
    argv = list(rec["argv"])
    if len(argv) > 20:
        # The rec service (ALL_MACROS): client_port, queue_id, size.
        n = nrcpt
        tc.assertRegex(argv[7], r"^\d+$")
        argv[7] = "PORT"
        tc.assertRegex(argv[10 + 4 * n], r"^[0-9A-F]{6,}$")
        argv[10 + 4 * n] = "QUEUE_ID"
        tc.assertEqual(argv[14 + 5 * n], str(content_size(rec["stdin"])),
                       "${size}")
        argv[14 + 5 * n] = "SIZE"
    r["argv"] = argv
    return r


def content_size(stdin):
    """${size} as Postfix counts it: the content (without the lines the
    flags prepend) with CRLF line ends."""
    pre, headers, body = split_copy(stdin)
    eol = "\r\n" if "\r\n" in stdin else "\n"
    text = eol.join(headers) + eol + eol + body
    text = text.replace("\r\n", "\n")
    return len(text.encode("latin-1")) + text.count("\n")


@unittest.skipUnless(IS_ROOT, "needs root")
class PipeTest(unittest.TestCase):
    maxDiff = None

    def postino(self, extra_main=None, extra_master="", users=("piper",)):
        i = Instance(self, users=users)
        self.rec = Recorder(self, i.user(users[0]))
        main = pipe_main()
        main.update(extra_main or {})
        i.master_cf += services(i.user(users[0]), self.rec.path) + extra_master
        i.set_main(**main)
        return i

    def status_lines(self, log, service):
        """{recipient: (dsn, status, text)} of SERVICE's delivery lines."""
        out = {}
        for m in re.finditer(r"to=<([^>]*)>.*relay=%s, .*dsn=(\S+), "
                             r"status=(\w+) \((.*)\)$" % re.escape(service),
                             log, re.M):
            out[m[1]] = (m[2], m[3], m[4].rstrip())
        return out

    def test_same_as_postfix(self):
        i = self.postino()
        user = i.user("piper")
        i.start()
        pfx = PostfixMx(self, address="127.0.0.47", users=(),
                        extra_main=pipe_main(),
                        extra_master=services(user, self.rec.path))
        pfx_conf, pfx_queue = pfx.conf, os.path.join(pfx.dir, "spool")
        cases = [
            ("Sen.Der@Example.TEST",
             ["alpha@%s" % PIPE_DOMAIN, "beta+ext@%s" % PIPE_DOMAIN,
              "gamma@%s" % PIPE_DOMAIN], 1),
            ("", ["Ab+Cd@%s" % ONE_DOMAIN, '"q x"@%s' % ONE_DOMAIN], 2),
            ("s@x.test", ["one@%s" % ONE_DOMAIN], 1),
            ("", ["e@%s" % EOL_DOMAIN], 1),
        ]
        got = {"postfix": [], "postino": []}
        for n, (sender, rcpts, runs) in enumerate(cases):
            for name, host, port, qdir, cdir in (
                    ("postfix", "127.0.0.47", 25, pfx_queue, pfx_conf),
                    ("postino", "127.0.0.1", i.port, i.queue, i.conf)):
                send(host, port, sender, rcpts, str(n))
                recs = self.rec.take(runs)
                recs.sort(key=lambda r: r["argv"])
                got[name].append([normalise(self, r, qdir, cdir,
                                            len(rcpts) // runs)
                                  for r in recs])
        for n in range(len(cases)):
            self.assertEqual(got["postino"][n], got["postfix"][n],
                             "case %d: %s" % (n, cases[n]))


if __name__ == "__main__":
    unittest.main()

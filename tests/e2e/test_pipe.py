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
import poplib
import pwd
import re
import shutil
import smtplib
import tempfile
import unittest

from instance import IS_ROOT, Instance, WAIT, message, poll_until, start_dovecot
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
        "directory=/ argv=%s ${sender}\n"
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

        # One run for the three recipients of rec, one per recipient of
        # rec1 (rec1_destination_recipient_limit = 1).
        first = got["postino"][0][0]["argv"]
        self.assertEqual(first[-3:], ["alpha@%s" % PIPE_DOMAIN,
                                      "beta+ext@%s" % PIPE_DOMAIN,
                                      "gamma@%s" % PIPE_DOMAIN])
        self.assertEqual(len(got["postino"][1]), 2)

    def test_failures_same_as_postfix(self):
        """Exit statuses, an enhanced status code in the output, control
        bytes in it and the time limit: the same dsn, status and text as
        Postfix's pipe(8) logs (Postfix keeps a trailing blank where the
        output's last newline was; postino drops it)."""
        i = self.postino()
        user = i.user("piper")
        i.start()
        pfx = PostfixMx(self, address="127.0.0.48", users=(),
                        extra_main=pipe_main(),
                        extra_master=services(user, self.rec.path))
        locals_ = ("exit75", "exit67", "exit65", "exit78", "exit1",
                   "exit200", "dsn", "ctl", "hang")
        rcpts = ["%s@%s" % (lp, PIPE_DOMAIN) for lp in locals_]
        sender = i.addr("piper")
        for host, port in (("127.0.0.48", 25), ("127.0.0.1", i.port)):
            for n, r in enumerate(rcpts):
                send(host, port, sender, [r], "f%d" % n)
        pattern = r"relay=rec, .*status=(deferred|bounced)"
        poll_until("Postfix's pipe to finish", lambda: len(
            re.findall(pattern, pfx.log())) >= len(rcpts), timeout=WAIT)
        i.wait_log(pattern, count=len(rcpts))
        theirs = self.status_lines(pfx.log(), "rec")
        ours = self.status_lines(i.log(), "rec")
        self.assertEqual(ours, theirs)
        # Spot checks, in case both went wrong the same way.
        self.assertEqual(ours[rcpts[0]][:2], ("4.3.0", "deferred"))
        self.assertEqual(ours[rcpts[1]], (
            "5.1.1", "bounced",
            "user unknown. Command output: output of the command "
            "second line"))
        self.assertEqual(ours[rcpts[6]], ("4.7.1", "deferred",
                                          "come back later"))
        self.assertEqual(ours[rcpts[8]][:2], ("5.3.0", "bounced"))
        self.assertIn("Command time limit exceeded", ours[rcpts[8]][2])
        # The hung command is gone (its process group was killed).
        self.assertFalse([p for p in os.listdir("/proc") if p.isdigit()
                          and self.cmdline(p).startswith(self.rec.path)])
        # The bounces reach the sender with the command's output.
        msgs = i.wait_maildir("piper", 7)
        text = b"\n".join(msgs)
        self.assertIn(b"user unknown. Command output: output of the command",
                      text)
        self.assertIn(b"Command time limit exceeded", text)
        self.assertIn(b"Diagnostic-Code: X-Postino; data format error",
                      text)

    @staticmethod
    def cmdline(pid):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                return " ".join(a.decode(errors="replace")
                                for a in f.read().split(b"\0")[1:2])
        except OSError:
            return ""

    def test_checks_before_the_command(self):
        """size=, the D flag's recipient limit and Delivered-To loop,
        a command that does not exist."""
        extra = (
            "recsize unix - n n - - pipe flags=R size=100 user=%(u)s "
            "argv=%(r)s\n"
            "recd unix - n n - - pipe flags=D user=%(u)s argv=%(r)s\n"
            "recnx unix - n n - - pipe user=%(u)s "
            "argv=/nonexistent/command ${recipient}\n")
        i = Instance(self, users=("piper",))
        self.rec = Recorder(self, i.user("piper"))
        main = pipe_main()
        main["relay_domains"] += ", size.test, d.test, nx.test"
        main["transport_maps"] = main["transport_maps"].replace(
            "}", ", size.test=recsize:, d.test=recd:, nx.test=recnx:}")
        i.master_cf += services(i.user("piper"), self.rec.path) + extra % {
            "u": i.user("piper"), "r": self.rec.path}
        i.set_main(**main)
        i.start()
        sender = i.addr("piper")
        send("127.0.0.1", i.port, sender, ["big@size.test"], "s")
        send("127.0.0.1", i.port, sender, ["a@d.test", "b@d.test"], "d")
        send("127.0.0.1", i.port, sender, ["x@nx.test"], "nx")
        with smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT) as s:
            s.sendmail(sender, ["one@%s" % ONE_DOMAIN],
                       ("Delivered-To: one@%s\r\n" % ONE_DOMAIN
                        + MESSAGE % "loop").encode())
        i.wait_log(r"to=<big@size.test>, relay=recsize, .*dsn=5\.2\.3, "
                   r"status=bounced \(message too large\)")
        i.wait_log(r"to=<a@d.test>, relay=recd, .*dsn=4\.3\.5, "
                   r"status=deferred \(mail system configuration error\)")
        i.wait_log(r"warning: pipe flag `D' requires "
                   r"recd_destination_recipient_limit = 1")
        i.wait_log(r"to=<x@nx.test>, relay=recnx, .*dsn=4\.3\.0, "
                   r"status=deferred \(temporary failure\. Command output: "
                   r"pipe: fatal: execvp /nonexistent/command: No such file "
                   r"or directory\)")
        i.wait_log(r"to=<one@one.test>, relay=rec1, .*dsn=5\.4\.6, "
                   r"status=bounced \(mail forwarding loop for "
                   r"one@one.test\)")
        # None of them ran the recorder.
        self.assertEqual(self.rec.fresh(), [])

    def test_refused_attributes(self):
        """Attributes postino must not run with: the pipe process stops
        at start with one line naming master.cf, and the mail waits."""
        i = Instance(self, users=("piper",))
        rec = Recorder(self, i.user("piper"))
        u, r = i.user("piper"), rec.path
        bad = [
            ("recroot", "user=root argv=%s" % r,
             r"user=root: refused: commands never run with root privileges"),
            ("recowner", "user=nobody argv=%s" % r,
             r"user=nobody: refused: commands never run with the "
             r"privileges of the mail system owner"),
            ("recunk", "user=nosuchuserzz argv=%s" % r,
             r"user=nosuchuserzz: unknown user name: nosuchuserzz"),
            ("recflag", "flags=RZ user=%s argv=%s" % (u, r),
             r"flags=RZ: unknown flag 'Z'"),
            ("recchroot", "chroot=/ user=%s argv=%s" % (u, r),
             r"chroot=/: not implemented"),
            ("recmacro", "user=%s argv=%s ${bogus}" % (u, r),
             r"argv=: \"\$\{bogus\}\": unknown macro"),
            ("recattr", "colour=blue user=%s argv=%s" % (u, r),
             r"unknown attribute \"colour\""),
            ("recnoargv", "user=%s" % u, r"missing argv= attribute"),
        ]
        lines = "".join("%s unix - n n - - pipe %s\n" % (name, attrs)
                        for name, attrs, _ in bad)
        i.master_cf += lines
        i.set_main(relay_domains="root.test",
                   transport_maps="inline:{root.test=recroot:}",
                   service_throttle_time="2s", transport_retry_time="2s")
        i.start()
        first = i.master_cf.count("\n") - len(bad) + 1
        for n, (name, _, text) in enumerate(bad):
            i.wait_log(r"postino/pipe\[\d+\]: fatal: %s, line %d: service "
                       r"%s: pipe: %s" % (re.escape(os.path.join(
                           i.conf, "master.cf")), first + n, name, text))
        self.assertEqual(rec.fresh(), [])

    def test_dovecot_lda(self):
        """The classic Dovecot set-up: dovecot-lda as the mailbox's user
        stores into ~/Maildir, and Dovecot's POP3 server serves it."""
        lda = shutil.which("dovecot-lda") or "/usr/lib/dovecot/dovecot-lda"
        self.assertTrue(os.access(lda, os.X_OK),
                        "dovecot-lda missing (Debian: dovecot-core)")
        i = Instance(self, users=("alice",))
        user = i.user("alice")
        pw = pwd.getpwnam(user)
        d = os.path.join(i.dir, "dovecot")
        i.master_cf += (
            "dovecot unix - n n - - pipe flags=DRhu user=%s:%s "
            "argv=%s -c %s/dovecot.conf -o log_path=/dev/stderr "
            "-f ${sender} -a ${original_recipient} -d ${user}\n"
            % (user, user, lda, d))
        i.set_main(relay_domains="lda.test",
                   transport_maps="inline:{lda.test=dovecot:}",
                   dovecot_destination_recipient_limit="1")
        i.start()
        port = start_dovecot(
            self, d, [(user, "s3cret", pw.pw_uid, pw.pw_gid, pw.pw_dir)],
            "maildir:~/Maildir", "auth_username_format = %Ln\n"
            # the LDA runs as the user: let it reach the stats socket
            "service stats {\n  unix_listener stats-writer {\n"
            "    mode = 0666\n  }\n}\n")
        sender = "someone@elsewhere.test"
        rcpt = "%s@lda.test" % user.upper()
        i.send(sender, [rcpt], message(sender, rcpt, "through the lda"))
        i.wait_log(r"to=<%s>, relay=dovecot, .*dsn=2\.0\.0, status=sent "
                   r"\(delivered via dovecot service \(.*saved mail to "
                   r"INBOX\)\)" % re.escape(rcpt))
        c = poplib.POP3("127.0.0.1", port, timeout=WAIT)
        self.addCleanup(c.close)
        c.user(user)
        c.pass_("s3cret")
        self.assertEqual(c.stat()[0], 1)
        text = b"\n".join(c.retr(1)[1])
        self.assertIn(b"Subject: through the lda", text)
        self.assertIn(b"Return-Path: <someone@elsewhere.test>", text)
        self.assertIn(("Delivered-To: %s" % rcpt).encode(), text)
        # A user Dovecot does not know: its "user unknown" bounces.
        i.send(sender, ["nobody-here@lda.test"],
               message(sender, "nobody-here@lda.test", "unknown"))
        i.wait_log(r"to=<nobody-here@lda.test>, relay=dovecot, .*"
                   r"dsn=5\.1\.1, status=bounced")


if __name__ == "__main__":
    unittest.main()

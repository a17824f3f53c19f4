#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_submit - local submission end to end: sendmail -> postdrop ->
maildrop/ -> pickup -> cleanup -> qmgr -> local.

Each test starts a whole instance (tests/e2e/instance.py) with a pickup
service.  The instance's command_directory is its own sbin/, holding a
copy of postdrop made set-gid setgid_group (nogroup), as an installation
run by root would have it; sendmail is the build tree's and runs
$command_directory/postdrop.  Submissions run as real unprivileged users
(setpriv), so the maildrop directory's permissions are what lets them
in.

Covered: recipients as arguments, -t (Bcc removed), -f, -F, "." with and
without -i, -bs, -bv, -bp/-q hand-offs, sysexits codes for bad usage and
bad addresses, mail submitted while postino is stopped, malformed and
hostile maildrop files (removed with a log line, pickup keeps serving),
maildrop not writable without postdrop, postdrop killed mid-write (no
file visible as complete), postdrop's refusal of a configuration
directory its caller chose, and of a malformed stream.

Needs root (useradd, set-gid copy); skips otherwise, as instance.py does.
Every wait is a bounded poll; nothing depends on how fast things happen.
"""
import email
import email.policy
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import unittest

from instance import DOMAIN, Instance, poll_until, WAIT

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "cmd"))
from postino_testlib import program  # noqa: E402

PICKUP = "pickup unix n - n 60 1 pickup\n"
EX_USAGE, EX_DATAERR, EX_NOUSER, EX_UNAVAILABLE = 64, 65, 67, 69
EX_TEMPFAIL, EX_NOPERM = 75, 77
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer")


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def record(t, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    return t.encode() + struct.pack(">I", len(payload)) + payload


def stream(sender, rcpts, lines, attrs=(), end=True):
    """A maildrop record stream (core/mail/maildrop.h)."""
    out = record("V", "1")
    for a in attrs:
        out += record("A", a)
    out += record("S", sender)
    for r in rcpts:
        out += record("R", r)
    for line in lines:
        out += record("L", line)
    if end:
        out += record("E")
    return out


class Submit(Instance):
    """An instance with pickup, a set-gid postdrop copy and users."""

    def __init__(self, tc, users=("alice", "bob"), main=None):
        super().__init__(tc, users=users, master_extra=PICKUP, main=main)
        self.sbin = os.path.join(self.dir, "sbin")
        os.mkdir(self.sbin)
        os.chmod(self.sbin, 0o755)
        self.postdrop = os.path.join(self.sbin, "postdrop")
        shutil.copy(program("postdrop"), self.postdrop)
        shutil.chown(self.postdrop, "root", "nogroup")
        os.chmod(self.postdrop, 0o2755)
        # The copy's default configuration directory (PREFIX/etc/postino)
        # lists the instance's: a set-gid postdrop accepts MAIL_CONFIG
        # only then.
        self.default_conf = os.path.join(self.dir, "etc", "postino")
        os.makedirs(self.default_conf)
        with open(os.path.join(self.default_conf, "main.cf"), "w") as f:
            f.write("alternate_config_directories = %s\n" % self.conf)
        self.set_main(command_directory=self.sbin)
        self.maildrop = os.path.join(self.queue, "maildrop")

    def as_user(self, short):
        if short is None:
            return []
        pw = __import__("pwd").getpwnam(self.user(short))
        return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                "--clear-groups", "--"]

    def run_as(self, short, argv, stdin=b"", env=None, timeout=WAIT):
        e = self.env()
        e["MAIL_CONFIG"] = self.conf
        e.update(env or {})
        if isinstance(stdin, str):
            stdin = stdin.encode()
        r = subprocess.run(self.as_user(short) + argv, input=stdin,
                           capture_output=True, env=e, timeout=timeout)
        err = r.stderr.decode(errors="replace")
        if r.returncode < 0:
            raise AssertionError("%s died with signal %d: %s"
                                 % (argv[0], -r.returncode, err))
        for m in SANITIZER_MARKS:
            if m in err:
                raise AssertionError("sanitizer report: %s" % err)
        r.err = err
        r.out = r.stdout.decode(errors="replace")
        return r

    def sendmail(self, args, stdin=b"", user="alice", env=None):
        return self.run_as(user, [program("sendmail")] + list(args), stdin,
                           env)

    def maildrop_files(self):
        return sorted(os.listdir(self.maildrop))

    def poke_pickup(self):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(os.path.join(self.queue, "public", "pickup"))
            s.send(b"W")
        except (BrokenPipeError, ConnectionResetError):
            pass        # pickup closes as soon as it has seen the connection
        finally:
            s.close()

    def pickup_pids(self):
        return set(re.findall(r"postino/pickup\[(\d+)\]", self.log()))

    def delivered(self, short, count=1):
        return [parse(m) for m in self.wait_maildir(short, count)]


class Options(unittest.TestCase):

    def test_recipients_as_arguments_and_full_name(self):
        i = Submit(self)
        i.start()
        r = i.sendmail(["-F", "Alice Example", i.user("bob")],
                       "Subject: args\n\nhello bob\n")
        self.assertEqual(r.returncode, 0, r.err)
        m = i.delivered("bob")[0]
        alice = "%s@%s" % (i.user("alice"), DOMAIN)
        self.assertEqual(m["Return-Path"], "<%s>" % alice)
        self.assertEqual(m["From"], "Alice Example <%s>" % alice)
        self.assertEqual(m["Subject"], "args")
        self.assertIsNotNone(m["Message-Id"])
        self.assertIsNotNone(m["Date"])
        uid = __import__("pwd").getpwnam(i.user("alice")).pw_uid
        self.assertIn("from userid %d" % uid, m["Received"])
        self.assertEqual(m.get_payload(), "hello bob\n")
        i.wait_log(r"postino/pickup\[\d+\]: [0-9A-F]+: uid=%d from=<%s>"
                   % (uid, re.escape(i.user("alice"))))
        self.assertEqual(i.maildrop_files(), [])

    def test_t_extracts_and_removes_bcc(self):
        i = Submit(self, users=("alice", "bob", "carol", "dave"))
        i.start()
        msg = ("To: Bob <%s>\nCc: %s (carol)\nBcc: %s\nSubject: t\n\n"
               "body\n" % (i.addr("bob"), i.addr("carol"), i.addr("dave")))
        r = i.sendmail(["-t"], msg)
        self.assertEqual(r.returncode, 0, r.err)
        for u in ("bob", "carol", "dave"):
            m = i.delivered(u)[0]
            self.assertIsNone(m["Bcc"], u)
            self.assertEqual(m["Subject"], "t")
        # Command-line recipients are added to the header's.
        r = i.sendmail(["-t", i.user("alice")],
                       "To: %s\nSubject: t2\n\nx\n" % i.addr("bob"))
        self.assertEqual(r.returncode, 0, r.err)
        i.delivered("bob", 2)
        i.delivered("alice", 1)
        # Resent-* headers, when present, are the only source.
        r = i.sendmail(["-t"], "To: %s\nResent-To: %s\nSubject: r\n\nx\n"
                       % (i.addr("bob"), i.addr("carol")))
        self.assertEqual(r.returncode, 0, r.err)
        i.delivered("carol", 2)
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("bob")), 2)

    def test_f_sender(self):
        i = Submit(self)
        i.start()
        r = i.sendmail(["-f", "list-owner@ext.test", i.user("bob")],
                       "Subject: f\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        m = i.delivered("bob")[0]
        self.assertEqual(m["Return-Path"], "<list-owner@ext.test>")
        r = i.sendmail(["-f", "<>", i.user("bob")], "Subject: null\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        ms = i.delivered("bob", 2)
        self.assertIn("<>", [m["Return-Path"] for m in ms])

    def test_dot_handling(self):
        i = Submit(self)
        i.start()
        body = "Subject: dot\n\nbefore\n..two dots\n.\nafter\n"
        r = i.sendmail([i.user("bob")], body)
        self.assertEqual(r.returncode, 0, r.err)
        m = i.delivered("bob")[0]
        self.assertEqual(m.get_payload(), "before\n..two dots\n")
        for flag in ("-i", "-oi"):
            r = i.sendmail([flag, i.user("alice")], body)
            self.assertEqual(r.returncode, 0, r.err)
        ms = i.delivered("alice", 2)
        for m in ms:
            self.assertEqual(m.get_payload(), "before\n..two dots\n.\nafter\n")

    def test_crlf_and_from_line(self):
        i = Submit(self)
        i.start()
        r = i.sendmail([i.user("bob")], b"From alice Mon Jan  1 00:00:00 2024"
                       b"\r\nSubject: crlf\r\n\r\nline\r\n")
        self.assertEqual(r.returncode, 0, r.err)
        raw = i.wait_maildir("bob", 1)[0]
        self.assertNotIn(b"\r", raw)
        self.assertNotIn(b"From alice", raw)
        self.assertEqual(parse(raw)["Subject"], "crlf")

    def test_bs_dialogue(self):
        i = Submit(self)
        i.start()
        dialogue = ("EHLO client\r\nRCPT TO:<%s>\r\nMAIL FROM:<%s>\r\n"
                    "RCPT TO:<%s>\r\nRCPT TO:<bad address>\r\nDATA\r\n"
                    "Subject: bs\r\n\r\n..leading dot\r\nend\r\n.\r\n"
                    "NOOP\r\nQUIT\r\n"
                    % (i.addr("bob"), i.addr("alice"), i.addr("bob")))
        r = i.sendmail(["-bs"], dialogue)
        self.assertEqual(r.returncode, 0, r.err)
        codes = [line[:4] for line in r.out.split("\r\n") if line]
        self.assertEqual(codes[0], "220 ")
        self.assertIn("250-PIPELINING", r.out)
        self.assertIn("503 5.5.1 Error: need MAIL command", r.out)
        self.assertIn("501 5.1.3 Bad recipient address syntax", r.out)
        self.assertIn("354 ", r.out)
        self.assertRegex(r.out, r"250 2\.0\.0 Ok: queued as [0-9A-F]+\r\n")
        self.assertTrue(r.out.endswith("221 2.0.0 Bye\r\n"), r.out)
        m = i.delivered("bob")[0]
        self.assertEqual(m["Return-Path"], "<%s>" % i.addr("alice"))
        self.assertEqual(m.get_payload(), ".leading dot\nend\n")
        # A session that ends inside DATA queues nothing.
        r = i.sendmail(["-bs"], "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<%s>\r\n"
                       "DATA\r\nSubject: cut\r\n" % i.addr("bob"))
        self.assertEqual(r.returncode, 0, r.err)
        self.assertNotIn("queued as", r.out)
        self.assertEqual(i.maildrop_files(), [])

    def test_bv_verify(self):
        # As Postfix: -bv reads no message; the sender is mailed a "Mail
        # Delivery Status Report" saying what would happen to each
        # recipient, and nothing is delivered.
        i = Submit(self, main={"relay_domains": "",
                               "default_transport": "error:no relaying"})
        i.start()
        bob = i.addr("bob")
        r = i.sendmail(["-bv", bob, "someone@elsewhere.test"],
                       "Subject: not read\n\nnot read\n")
        self.assertEqual(r.returncode, 0, r.out + r.err)
        self.assertEqual(r.out, "Mail Delivery Status Report will be mailed "
                         "to <%s>.\n" % i.user("alice"))
        report = i.wait_maildir("alice", 1)[0].decode(errors="replace")
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("bob"), [])
        self.assertIn("Subject: Mail Delivery Status Report", report)
        self.assertIn("Enclosed is the mail delivery report that you "
                      "requested.", report)
        self.assertRegex(report, r"<%s>: delivery via local: delivers to "
                         r"(mailbox|maildir)" % re.escape(bob))
        self.assertIn("<someone@elsewhere.test>: delivery via none: "
                      "no relaying", report)
        self.assertRegex(report, r"Final-Recipient: rfc822; %s\n(?:Original-"
                         r"Recipient: [^\n]*\n)?Action: deliverable\n"
                         % re.escape(bob))
        self.assertRegex(report, r"Final-Recipient: rfc822; someone@elsewhere"
                         r"\.test\n(?:Original-Recipient: [^\n]*\n)?Action: "
                         r"undeliverable\n")
        self.assertNotIn("not read", report)
        i.wait_log(r"to=<%s>, relay=local, .*status=deliverable"
                   % re.escape(bob))

    def test_bp_bi_q_run_the_other_programs(self):
        i = Submit(self)
        # Stand-ins that record how they were called.
        for name in ("postqueue", "newaliases"):
            path = os.path.join(i.sbin, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\necho %s \"$@\"\n" % name)
            os.chmod(path, 0o755)
        r = i.sendmail(["-bp"])
        self.assertEqual((r.returncode, r.out), (0, "postqueue -p\n"), r.err)
        r = i.sendmail(["-bi", "-oA/tmp/x"])
        self.assertEqual(r.out, "newaliases -oA/tmp/x\n", r.err)
        r = i.sendmail(["-q"])
        self.assertEqual(r.out, "postqueue -f\n", r.err)
        r = i.sendmail(["-qIABC123"])
        self.assertEqual(r.out, "postqueue -i ABC123\n", r.err)
        r = i.sendmail(["-qR", "example.com"])
        self.assertEqual(r.returncode, 0, r.err)
        # mailq is sendmail under another name.
        link = os.path.join(i.sbin, "mailq")
        os.symlink(program("sendmail"), link)
        r = i.run_as("alice", [link])
        self.assertEqual(r.out, "postqueue -p\n", r.err)
        # Without postqueue, -q writes 'F' to public/qmgr itself.
        os.unlink(os.path.join(i.sbin, "postqueue"))
        r = i.sendmail(["-q"], user=None)
        self.assertEqual(r.returncode, EX_UNAVAILABLE, r.err)
        self.assertIn("Cannot flush mail queue - mail system is down", r.err)
        i.start()
        r = i.sendmail(["-q"], user=None)
        self.assertEqual(r.returncode, 0, r.err)

    def test_authorized_submit_and_flush_users(self):
        """authorized_submit_users: sendmail and postdrop refuse a user
        the list leaves out (exit 77, Postfix's words), root included
        when the list says so; "unknown" stands for a UID without a
        login name.  authorized_flush_users: sendmail -q and postqueue
        -f/-s/-i refuse others; root always may."""
        i = Submit(self, main={"authorized_flush_users": "root"})
        i.set_main(authorized_submit_users="!%s, static:anyone"
                   % i.user("bob"))
        i.start()
        bob_uid = __import__("pwd").getpwnam(i.user("bob")).pw_uid
        msg = "Subject: acl\n\nbody\n"
        r = i.sendmail([i.addr("alice")], msg, user="bob")
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        self.assertIn("User %s(%d) is not allowed to submit mail"
                      % (i.user("bob"), bob_uid), r.err)
        # postdrop run directly says the same.
        r = i.run_as("bob", [i.postdrop], stream(
            "bob", [i.addr("alice")], [b"Subject: x", b"", b"y"]))
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        self.assertIn("not allowed to submit mail", r.err)
        self.assertEqual(i.maildrop_files(), [])
        # Others may.
        r = i.sendmail([i.addr("bob")], msg, user="alice")
        self.assertEqual(r.returncode, 0, r.err)
        i.delivered("bob")
        # A UID without a login name is "unknown".
        r = subprocess.run(["setpriv", "--reuid=54321", "--regid=54321",
                            "--clear-groups", "--", program("sendmail"),
                            "-f", "nobody@example.org", i.addr("alice")], input=msg.encode(),
                           capture_output=True, timeout=WAIT,
                           env=dict(i.env(), MAIL_CONFIG=i.conf))
        self.assertEqual(r.returncode, 0, r.stderr)
        i.set_main(authorized_submit_users="!unknown, static:anyone")
        r = subprocess.run(["setpriv", "--reuid=54321", "--regid=54321",
                            "--clear-groups", "--", program("sendmail"),
                            "-f", "nobody@example.org", i.addr("alice")], input=msg.encode(),
                           capture_output=True, timeout=WAIT,
                           env=dict(i.env(), MAIL_CONFIG=i.conf))
        self.assertEqual(r.returncode, EX_NOPERM, r.stderr)
        self.assertIn(b"User unknown(54321) is not allowed to submit mail",
                      r.stderr)
        # An empty list: nobody, root included.
        i.set_main(authorized_submit_users="")
        r = i.sendmail([i.addr("alice")], msg, user=None)
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        # Flushing: alice is not in authorized_flush_users, root is.
        r = i.run_as("alice", [program("postqueue"), "-f"])
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        self.assertIn("is not allowed to flush the mail queue", r.err)
        for args in (["-s", "example.com"], ["-i", "ABC123"]):
            r = i.run_as("alice", [program("postqueue")] + args)
            self.assertEqual(r.returncode, EX_NOPERM, r.err)
        r = i.run_as(None, [program("postqueue"), "-f"])
        self.assertEqual(r.returncode, 0, r.err)

    def test_local_login_sender_maps(self):
        """local_login_sender_maps: postdrop lets a user submit only with
        the senders the first table that knows the login name allows
        ("*", "<>", "@domain", addresses; the sender's extension does not
        count), with exit 77 and nothing left in maildrop otherwise."""
        i = Submit(self)
        # Built-in table types: the set-gid postdrop copy in the
        # instance's sbin/ loads no modules from the build tree.
        fixed = os.path.join(i.dir, "login_fixed")
        with open(fixed, "w") as f:
            f.write("root *\n%s @example.org, <>\n" % i.user("bob"))
        own = os.path.join(i.dir, "login_own")
        with open(own, "w") as f:
            f.write("%s %s %s@%s\n" % (i.user("alice"), i.user("alice"),
                                       i.user("alice"), DOMAIN))
        for p in (fixed, own):
            os.chmod(p, 0o644)
        i.set_main(local_login_sender_maps="texthash:%s, texthash:%s"
                   % (fixed, own), recipient_delimiter="+")
        i.start()
        alice = i.user("alice")
        msg = "Subject: login sender\n\nbody\n"
        cases = [
            ("alice", [], True),
            ("alice", ["-f", "%s@%s" % (alice, DOMAIN)], True),
            ("alice", ["-f", "%s+tag@%s" % (alice, DOMAIN)], True),
            ("alice", ["-f", "someone@%s" % DOMAIN], False),
            ("alice", ["-f", ""], False),
            ("bob", ["-f", "anyone@example.org"], True),
            ("bob", ["-f", ""], True),
            ("bob", ["-f", "%s@%s" % (i.user("bob"), DOMAIN)], False),
            (None, ["-f", "whoever@elsewhere.example"], True),
        ]
        sent = 0
        for user, args, ok in cases:
            r = i.sendmail(args + [i.addr("alice")], msg, user=user)
            if ok:
                self.assertEqual(r.returncode, 0, (user, args, r.err))
                sent += 1
            else:
                self.assertEqual(r.returncode, EX_NOPERM, (user, args, r.err))
                self.assertIn("is not allowed to use sender address", r.err)
        self.assertEqual(len(i.delivered("alice", sent)), sent)
        self.assertEqual(i.maildrop_files(), [])

    def test_exit_codes(self):
        i = Submit(self)
        i.start()
        cases = [
            ([], "x\n", EX_USAGE, "Recipient addresses must be specified"),
            (["-Z", "bob"], "", EX_USAGE, "unknown option"),
            (["-N", "sometimes", "bob"], "", EX_USAGE, "-N"),
            (["-R", "most", "bob"], "", EX_USAGE, "-R"),
            (["-B", "9BIT", "bob"], "", EX_USAGE, "-B"),
            (["-V", "x" * 200, "bob"], "", EX_USAGE, "-V"),
            (["-bz"], "", EX_USAGE, "-b"),
            (["-t", "-bv"], "", EX_USAGE, "-t and -bv"),
            (["-f"], "", EX_USAGE, "requires an argument"),
            (["-t"], "Subject: none\n\nx\n", EX_DATAERR,
             "No recipient addresses found in message header"),
            (["-f", "a\nb", "bob"], "x\n", EX_DATAERR, "bad sender address"),
            (["-f", "x" * 2000, "bob"], "x\n", EX_DATAERR,
             "bad sender address"),
            (["bo\x01b"], "x\n", EX_DATAERR, "bad recipient address"),
            (["-t"], "To: a\x02b@x\n\nx\n", EX_DATAERR, "control character"),
        ]
        for args, stdin, code, text in cases:
            r = i.sendmail(args, stdin)
            self.assertEqual(r.returncode, code, (args, r.err))
            self.assertIn(text, r.err, args)
            self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        self.assertEqual(i.maildrop_files(), [])
        # "--" lets a recipient start with "-".
        r = i.sendmail(["--", "-odd"], "Subject: dash\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=\d+ from=")
        poll_until("pickup to take it", lambda: not i.maildrop_files())
        # Too big for message_size_limit: refused by postdrop, nothing left.
        i.set_main(message_size_limit="2000")
        r = i.sendmail([i.user("bob")], "Subject: big\n\n" + "y" * 3000 + "\n")
        self.assertEqual(r.returncode, EX_DATAERR, r.err)
        self.assertIn("message_size_limit", r.err)
        self.assertEqual(i.maildrop_files(), [])


class Maildrop(unittest.TestCase):

    def test_submitted_while_stopped_is_delivered_after_start(self):
        i = Submit(self)
        i.postino("check")
        r = i.sendmail([i.user("bob")], "Subject: while down\n\nwaiting\n")
        self.assertEqual(r.returncode, 0, r.err)
        files = i.maildrop_files()
        self.assertEqual(len(files), 1)
        st = os.stat(os.path.join(i.maildrop, files[0]))
        self.assertTrue(st.st_mode & stat.S_IXUSR, oct(st.st_mode))
        uid = __import__("pwd").getpwnam(i.user("alice")).pw_uid
        self.assertEqual(st.st_uid, uid)
        i.start()
        m = i.delivered("bob")[0]
        self.assertEqual(m["Subject"], "while down")
        poll_until("an empty maildrop", lambda: not i.maildrop_files())

    def test_maildrop_is_not_writable_without_postdrop(self):
        i = Submit(self)
        i.postino("check")
        st = os.stat(i.maildrop)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o730)
        self.assertEqual(st.st_gid, __import__("grp").getgrnam("nogroup")
                         .gr_gid)
        # alice writing directly: refused by the directory's mode.
        r = i.run_as("alice", ["sh", "-c", "echo x > %s/FFFF"
                               % i.maildrop])
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(i.maildrop, "FFFF")))
        # postdrop without its set-gid bit: a clear error, status 75.
        plain = os.path.join(i.sbin, "postdrop-plain")
        shutil.copy(program("postdrop"), plain)
        os.chmod(plain, 0o755)
        r = i.run_as("alice", [plain, "-r"],
                     stream("alice", ["bob"], ["x"]))
        self.assertEqual(r.returncode, EX_TEMPFAIL, r.err)
        self.assertIn("create file", r.err)
        self.assertIn("Permission denied", r.err)
        self.assertEqual(i.maildrop_files(), [])

    def test_postdrop_refuses_malformed_streams(self):
        i = Submit(self)
        i.postino("check")
        good = stream("alice", [i.addr("bob")], ["Subject: s", "", "x"])
        cases = [
            (b"", "no end record"),
            (b"garbage that is not a record stream at all", "malformed input"),
            (good[:-5], "no end record"),
            (good[:-3], "truncated"),
            (good + b"extra", "data after the end record"),
            (record("V", "1") + record("S", "a") + b"R\xff\xff\xff\xff",
             "exceeds limit"),
            (record("V", "1") + record("\x00", "x"), "unknown record type"),
            (stream("a", ["b"], ["x"], attrs=["rewrite_context=remote"]),
             "attribute not permitted"),
            (stream("a", [], ["x"]), "no recipient record"),
            (stream("a\nb", ["b"], ["x"]), "malformed address"),
            (record("S", "a") + record("V", "1"), "no version record first"),
            (stream("a", ["b"], ["x\ny"]), "contains a newline"),
        ]
        for data, text in cases:
            r = i.run_as("alice", [i.postdrop, "-r"], data)
            self.assertEqual(r.returncode, EX_DATAERR, (data[:40], r.err))
            self.assertIn(text, r.err, data[:40])
            self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
            self.assertEqual(i.maildrop_files(), [], data[:40])
        r = i.run_as("alice", [i.postdrop, "-r"], good)
        self.assertEqual(r.returncode, 0, r.err)
        self.assertRegex(r.out, r"^[0-9A-F]+\n$")
        self.assertEqual(i.maildrop_files(), [r.out.strip()])

    def test_postdrop_refuses_callers_config_directory(self):
        i = Submit(self)
        i.postino("check")
        evil = os.path.join(i.dir, "evil")
        os.mkdir(evil)
        with open(os.path.join(evil, "main.cf"), "w") as f:
            f.write("queue_directory = %s\n" % evil)
        data = stream("alice", ["bob"], ["x"])
        r = i.run_as("alice", [i.postdrop, "-r"], data,
                     env={"MAIL_CONFIG": evil, "LD_PRELOAD": "/nonexistent.so"})
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        self.assertIn("alternate_config_directories", r.err)
        r = i.run_as("alice", [i.postdrop, "-c", evil, "-r"], data)
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        # Root may; the listed directory is accepted for anyone.
        r = i.run_as("alice", [i.postdrop, "-r"], data)
        self.assertEqual(r.returncode, 0, r.err)

    def test_malformed_maildrop_files_are_removed(self):
        i = Submit(self)
        i.start()
        uid = __import__("pwd").getpwnam(i.user("alice")).pw_uid
        good = stream("alice", [i.addr("bob")], ["Subject: ok", "", "x"])
        bad = {
            "A0001": good[:-5],                        # no end record
            "A0002": b"\x00" * 4096,                   # type-0 records
            "A0003": os.urandom(2 * 1024 * 1024),      # garbage, 2 MiB
            "A0004": record("V", "1") + b"L\xff\xff\xff\xff",  # 4 GiB length
            "A0005": stream("a", ["b"], ["x"],
                            attrs=["rewrite_context=remote"]),
            "A0006": good + b"trailing",
            "A0007": stream("a", ["b"], ["x" * 300000]),  # record too long
            "not-an-id": good,
        }
        # Made outside, then renamed in: pickup may scan at any time.
        staging = os.path.join(i.dir, "staging")
        os.mkdir(staging)
        for name, data in bad.items():
            path = os.path.join(staging, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, uid, -1)
            os.chmod(path, 0o744)
            os.rename(path, os.path.join(i.maildrop, name))
        # A hard link and a symbolic link to a good submission.
        outside = os.path.join(i.dir, "outside")
        with open(outside, "wb") as f:
            f.write(good)
        os.chmod(outside, 0o744)
        os.link(outside, os.path.join(i.maildrop, "A0008"))
        os.symlink(outside, os.path.join(i.maildrop, "A0009"))
        i.poke_pickup()
        for name in list(bad) + ["A0008", "A0009"]:
            i.wait_log(r"postino/pickup\[\d+\]: warning: maildrop/%s: "
                       r"(uid=\d+: )?.+: removed$" % name)
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        self.assertTrue(os.path.exists(outside))
        self.assertEqual(i.maildir_files("bob"), [])
        log = i.log()
        self.assertIn("maildrop/A0001: uid=%d: after 6 records: no end "
                      "record" % uid, log)
        self.assertIn("maildrop/A0002: uid=%d: record 1 (type 0): unknown "
                      "record type: removed" % uid, log)
        self.assertIn("maildrop/A0004: uid=%d: after 1 records: record "
                      "length 4294967295 exceeds limit" % uid, log)
        self.assertIn("A0008: uid=0: file has more than one link", log)
        self.assertIn("A0009: not a regular file", log)
        # pickup is still the same process and still serves.
        pids = i.pickup_pids()
        self.assertEqual(len(pids), 1, pids)
        r = i.sendmail([i.user("bob")], "Subject: after\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertEqual(i.delivered("bob")[0]["Subject"], "after")
        self.assertEqual(i.pickup_pids(), pids)
        self.assertEqual(i.processes("pickup").keys(),
                         {int(p) for p in pids})

    def test_refused_by_cleanup_is_logged_and_removed(self):
        i = Submit(self)
        checks = os.path.join(i.conf, "header_checks")
        with open(checks, "w") as f:
            f.write("/^Subject: spam/ REJECT no spam\n")
        i.set_main(header_checks="regexp:" + checks)
        i.start()
        r = i.sendmail([i.user("bob")], "Subject: spam\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"postino/pickup\[\d+\]: [0-9A-F]+: uid=\d+: message "
                   r"refused: 5\d\d .*no spam")
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        # ... and goes back to its sender, with the reason and the
        # original message: never dropped silently.
        raw = i.wait_maildir("alice", 1)[0]
        m = parse(raw)
        self.assertEqual(m["Subject"], "Undelivered Mail Returned to Sender")
        self.assertIn(b"no spam", raw)
        self.assertIn(b"Final-Recipient: rfc822; %s" % i.user("bob").encode(),
                      raw)
        self.assertIn(b"Subject: spam", raw)
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("bob"), [])
        self.assertEqual(len(i.maildir_files("alice")), 1)

    def test_never_queued_goes_back_to_sender(self):
        """virtual_alias_address_length_limit is for alias results only; a
        message deferred by cleanup stays in maildrop without holding up
        the others, and goes back to its sender after
        maximal_queue_lifetime instead of being retried forever."""
        i = Submit(self)
        virt = os.path.join(i.conf, "virtual")
        with open(virt, "w") as f:
            f.write("toolong@%s %s@%s\n" % (DOMAIN, "y" * 1100, DOMAIN))
        i.set_main(virtual_alias_maps="texthash:" + virt)
        i.start()
        # An over-long recipient of its own (not from the table) does not
        # hold up the message: bob gets it, maildrop/ empties.
        long_rcpt = "x" * 1000 + "@" + DOMAIN
        r = i.sendmail([long_rcpt, i.user("bob")], "Subject: long rcpt\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertEqual(i.delivered("bob")[0]["Subject"], "long rcpt")
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        # An alias result over the limit defers (as Postfix) ...
        r = i.sendmail(["toolong@" + DOMAIN], "Subject: alias\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_log(r"unreasonable virtual_alias_maps result y{300}\.\.\. -- "
                   r"message not accepted, try again later")
        i.wait_log(r"maildrop/[0-9A-F]+: uid=\d+: cannot queue now: 451 "
                   r"4\.6\.0 .*will retry")
        stuck = i.maildrop_files()
        self.assertEqual(len(stuck), 1)
        # ... without holding up the next submission ...
        r = i.sendmail([i.user("bob")], "Subject: next\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        i.delivered("bob", 2)
        poll_until("only the deferred file in maildrop",
                   lambda: i.maildrop_files() == stuck)
        # ... and once older than maximal_queue_lifetime it goes back to
        # its sender.
        path = os.path.join(i.maildrop, stuck[0])
        old = time.time() - 6 * 86400
        os.utime(path, (old, old))
        i.poke_pickup()
        i.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=\d+: message not queued "
                   r"after \d+ seconds: 451 4\.6\.0")
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        ms = i.delivered("alice", 2)
        subjects = sorted(m["Subject"] for m in ms)
        self.assertEqual(subjects, ["Undelivered Mail Returned to Sender"] * 2)
        raws = i.maildir_messages("alice")
        # One for the over-long own recipient (unknown user), one for the
        # message that could not be queued.
        self.assertEqual(len([r for r in raws if b"Subject: alias" in r]), 1,
                         raws)
        i.wait_queue_empty()

    def test_postdrop_killed_mid_write_leaves_nothing_complete(self):
        i = Submit(self)
        i.start()
        pw = __import__("pwd").getpwnam(i.user("alice"))
        e = i.env()
        e["MAIL_CONFIG"] = i.conf
        p = subprocess.Popen(i.as_user("alice") + [i.postdrop, "-r"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        head = stream("alice", [i.addr("bob")], ["Subject: partial", ""],
                      end=False)
        p.stdin.write(head + record("L", "x" * 100000) * 3)
        p.stdin.flush()
        name = poll_until("postdrop's file in maildrop", i.maildrop_files)[0]
        path = os.path.join(i.maildrop, name)
        poll_until("postdrop to write", lambda: os.stat(path).st_size > 0)
        st = os.stat(path)
        self.assertFalse(st.st_mode & stat.S_IXUSR, oct(st.st_mode))
        self.assertEqual(st.st_uid, pw.pw_uid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=WAIT)
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
        # pickup leaves it alone (it may still be in progress) ...
        r = i.sendmail([i.user("bob")], "Subject: complete\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        ms = i.delivered("bob")
        i.poke_pickup()
        r = i.sendmail([i.user("bob")], "Subject: complete 2\n\nx\n")
        ms = i.delivered("bob", 2)
        self.assertEqual(sorted(m["Subject"] for m in ms),
                         ["complete", "complete 2"])
        self.assertEqual(i.maildrop_files(), [name])
        # ... until it is older than an hour: then it goes, with a log line.
        old = time.time() - 7200
        os.utime(path, (old, old))
        i.poke_pickup()
        i.wait_log(r"maildrop/%s: uid=%d: incomplete file \(the submission "
                   r"was interrupted\): removed" % (name, pw.pw_uid))
        poll_until("an empty maildrop", lambda: not i.maildrop_files())
        self.assertEqual(len(i.maildir_files("bob")), 2)

    def test_postdrop_interrupted_removes_its_file(self):
        i = Submit(self)
        i.postino("check")
        e = i.env()
        e["MAIL_CONFIG"] = i.conf
        p = subprocess.Popen(i.as_user("alice") + [i.postdrop, "-r"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        p.stdin.write(stream("alice", ["bob"], ["x"], end=False))
        p.stdin.flush()
        poll_until("postdrop's file in maildrop", i.maildrop_files)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=WAIT)
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()
        self.assertEqual(p.returncode, EX_TEMPFAIL)
        self.assertEqual(i.maildrop_files(), [])


def padded_list(addr_fn, count, pad=3200):
    """An address list of count addresses, each with a display name of
    about pad bytes, so that a header of a few of them is very long."""
    out = []
    for n in range(count):
        name = "Pad %04d %s" % (n, "p" * pad)
        out.append('"%s" <%s>' % (name, addr_fn(n)))
    return ", ".join(out)


class LongHeaders(unittest.TestCase):
    """A logical header is never cut into a header and a stray line (a
    header line longer than a maildrop record used to be, at 256 KiB):
    -t reads every recipient of a long To or Bcc, Bcc never shows in
    any copy, and a header too long to read refuses the submission."""

    N = 100     # recipients in a ~300 KiB header

    def instance(self):
        i = Submit(self, users=("alice", "bob", "carol", "dave"),
                   main={"recipient_delimiter": "+"})
        i.start()
        return i

    def plus(self, i, short):
        user, dom = i.addr(short).split("@")
        return lambda n: "%s+%d@%s" % (user, n, dom)

    def assert_clean(self, raw, body):
        """No trace of a Bcc list, and the body as sent (short messages:
        these copies are hundreds of KiB)."""
        at = raw.find(b"pppppppppp")
        self.assertEqual(at, -1, raw[max(0, at - 300):at + 20])
        m = parse(raw)
        self.assertIsNone(m["Bcc"])
        payload = m.get_payload()
        self.assertTrue(payload == body, "body %r... (%d bytes), expected "
                        "%r... (%d bytes)" % (payload[:60], len(payload),
                                              body[:60], len(body)))

    def test_t_long_bcc_and_long_to(self):
        i = self.instance()
        # 300 KiB of Bcc: dave+0 ... dave+99, then carol at the very end.
        bcc = padded_list(self.plus(i, "dave"), self.N) + ", " + i.addr("carol")
        self.assertGreater(len(bcc), 300 * 1024)
        msg = "To: %s\nBcc: %s\nSubject: long bcc\n\nbody\n" % (
            i.addr("bob"), bcc)
        r = i.sendmail(["-t"], msg)
        self.assertEqual(r.returncode, 0, r.err)
        raw = i.wait_maildir("bob", 1)[0]
        self.assert_clean(raw, "body\n")
        self.assert_clean(i.wait_maildir("carol", 1)[0], "body\n")
        for raw in i.wait_maildir("dave", self.N):
            self.assert_clean(raw, "body\n")
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("dave")), self.N)
        self.assertEqual(len(i.maildir_files("bob")), 1)
        self.assertEqual(i.maildir_files("alice"), [])   # no bounce

        # 300 KiB of To: every recipient, the header whole (as far as
        # header_size_limit keeps it: cleanup cuts it there, as Postfix's
        # does), nothing of it in the body.
        to = padded_list(self.plus(i, "bob"), self.N) + ", " + i.addr("carol")
        r = i.sendmail(["-t"], "To: %s\nSubject: long to\n\nbody 2\n" % to)
        self.assertEqual(r.returncode, 0, r.err)
        i.wait_maildir("carol", 2)
        ms = [parse(raw) for raw in i.wait_maildir("bob", 1 + self.N)]
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("bob")), 1 + self.N)
        for m in ms:
            if m["Subject"] == "long to":
                self.assertEqual(m.get_payload(), "body 2\n")
                self.assertTrue(m["To"].startswith('"Pad 0000 ppp'))
        self.assertEqual(i.maildir_files("alice"), [])

    def test_long_bcc_without_t_and_long_lines(self):
        i = self.instance()
        bcc = padded_list(self.plus(i, "dave"), self.N)
        # Without -t: the Bcc header goes whole; a long other header and a
        # long body line stay one line each.
        long_hdr = "X-Long: " + "h" * (300 * 1024)
        long_body = "b" * (600 * 1024)
        msg = ("Bcc: %s\nSubject: no t\n%s\nX-After: yes\n\n%s\nend\n"
               % (bcc, long_hdr, long_body))
        r = i.sendmail([i.user("bob")], msg)
        self.assertEqual(r.returncode, 0, r.err)
        raw = i.wait_maildir("bob", 1)[0]
        self.assert_clean(raw, long_body + "\nend\n")
        m = parse(raw)
        self.assertEqual(m["Subject"], "no t")
        self.assertEqual(m["X-After"], "yes")
        self.assertTrue(m["X-Long"].startswith("hhhh"))
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("dave"), [])

    def test_bs_long_bcc_and_long_dotted_line(self):
        # -bs reads the same way: a long Bcc goes whole, and only the
        # start of a line is dot-unstuffed (never the start of a piece).
        i = self.instance()
        bcc = padded_list(self.plus(i, "dave"), self.N)
        dotted = "." + "." * (300 * 1024)
        dialogue = ("HELO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                    "Bcc: %s\r\nSubject: bs long\r\n\r\n%s\r\nend\r\n"
                    ".\r\nQUIT\r\n" % (i.addr("alice"), i.addr("bob"), bcc,
                                        dotted))
        r = i.sendmail(["-bs"], dialogue)
        self.assertEqual(r.returncode, 0, r.err)
        self.assertRegex(r.out, r"250 2\.0\.0 Ok: queued as [0-9A-F]+\r\n")
        raw = i.wait_maildir("bob", 1)[0]
        self.assert_clean(raw, dotted[1:] + "\nend\n")
        self.assertEqual(parse(raw)["Subject"], "bs long")
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("dave"), [])

    def test_t_header_beyond_the_limit_is_refused(self):
        i = self.instance()
        bcc = padded_list(self.plus(i, "dave"), 400)    # 1.2 MiB
        msg = "To: %s\nBcc: %s\nSubject: x\n\nbody\n" % (i.addr("bob"), bcc)
        r = i.sendmail(["-t"], msg)
        self.assertEqual(r.returncode, EX_DATAERR, r.err)
        self.assertIn("unable to extract recipients: message header length "
                      "exceeds safety limit", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        self.assertEqual(i.maildrop_files(), [])
        # Without -t the same message goes out, without its Bcc.
        r = i.sendmail([i.user("bob")], msg)
        self.assertEqual(r.returncode, 0, r.err)
        self.assert_clean(i.wait_maildir("bob", 1)[0], "body\n")

    def test_record_stream_with_bcc_written_directly(self):
        # A stream handed to postdrop by hand keeps no Bcc either: cleanup
        # drops it from local submissions.
        i = self.instance()
        data = stream(i.addr("alice"), [i.addr("bob")],
                      ["Bcc: secret@example.test", "\tmore@example.test",
                       "Subject: direct", "", "body"])
        r = i.run_as("alice", [i.postdrop, "-r"], data)
        self.assertEqual(r.returncode, 0, r.err)
        raw = i.wait_maildir("bob", 1)[0]
        self.assertNotIn(b"secret", raw)
        self.assertNotIn(b"more@", raw)
        self.assertEqual(parse(raw)["Subject"], "direct")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_hostile - smtpd against clients that misbehave or attack.

A whole instance (tests/e2e/instance.py) is driven with raw sockets,
smtplib and swaks: relay refused from a loopback address outside
mynetworks and allowed from inside, the open-relay address tricks,
pipelining (swaks and a raw pipelined session), oversize messages,
command syntax errors, and the SMTP smuggling attempts of
shared/research/reliability.md B1 items 1-4: every one gives exactly one
message or none, never a second smuggled one.

Resources (issue 8): a client that pipelines and never reads its
replies cannot grow smtpd (backpressure), and smtpd_timeout is a
deadline for a whole command line and for the client to read our
replies.
"""
import os
import re
import resource
import select
import socket
import subprocess
import sys
import time
import unittest

from instance import (DOMAIN, Instance, message, poll_until, program,
                      WAIT)

# Terminators that must NOT end DATA (B1 items 1 and 2).
SMUGGLE_ENDS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r\r\n",
                b"\r\n\0.\r\n", b"\r\n.\0\r\n", b"\n\n.\r\n", b"\r\n.\r"]


# The NOOP floods test backpressure and deadlines, not
# smtpd_junk_command_limit (test_smtp_hostile_junk.py).
NO_JUNK_LIMIT = {"smtpd_junk_command_limit": "1000000000"}


def code(reply):
    return int(reply[:3]) if reply[:3].isdigit() else 0


class Relay(unittest.TestCase):

    def instance(self):
        i = Instance(self, users=["alice"],
                     main={"mynetworks": "127.0.0.1/32",
                           "smtpd_relay_restrictions":
                           "permit_mynetworks, reject_unauth_destination"})
        i.start()
        return i

    def test_relay_default_restrictions(self):
        # Postfix's default smtpd_relay_restrictions end in
        # defer_unauth_destination: 454 4.7.1.
        i = Instance(self, users=["alice"],
                     main={"mynetworks": "127.0.0.1/32"})
        i.start()
        with i.smtp(source="127.0.0.2") as s:
            s.ehlo("outside.example.test")
            self.assertEqual(s.mail("sender@ext.test")[0], 250)
            c, text = s.rcpt("victim@remote.test")
            self.assertEqual((c, text), (454, b"4.7.1 <victim@remote.test>: "
                                              b"Relay access denied"))

    def test_relay_refused_outside_allowed_inside(self):
        i = self.instance()
        with i.smtp(source="127.0.0.2") as s:
            s.ehlo("outside.example.test")
            self.assertEqual(s.mail("sender@ext.test")[0], 250)
            c, text = s.rcpt("victim@remote.test")
            self.assertEqual(c, 554, text)
            self.assertIn(b"5.7.1", text)
            self.assertIn(b"Relay access denied", text)
            # Local mail from outside is fine.
            self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
        i.wait_log(r"NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.2\]: 554 "
                   r"5\.7\.1 <victim@remote\.test>: Relay access denied")
        with i.smtp(source="127.0.0.1") as s:
            s.ehlo("inside.example.test")
            self.assertEqual(s.mail("sender@ext.test")[0], 250)
            self.assertEqual(s.rcpt("friend@remote.test")[0], 250)
            c, text = s.data(message("sender@ext.test", "friend@remote.test",
                                     "relayed"))
            self.assertEqual(c, 250, text)
            self.assertIn(b"queued as", text)

    def test_open_relay_tricks(self):
        i = self.instance()
        alice = i.user("alice")
        tricks = [
            "%s%%remote.test@%s" % (alice, DOMAIN),
            "victim%%remote.test@%s" % DOMAIN,
            "@%s:victim@remote.test" % DOMAIN,
            "@%s,@mx.%s:victim@remote.test" % (DOMAIN, DOMAIN),
            "remote.test!victim@%s" % DOMAIN,
            "remote.test!%s@%s" % (alice, DOMAIN),
            "\"victim@remote.test\"@%s" % DOMAIN,
            "\"victim%%remote.test\"@%s" % DOMAIN,
            "victim@remote.test@%s" % DOMAIN,
            "victim@remote.test",
            "victim@[127.0.0.1]",
            "victim@remote.test.",
        ]
        accepted = []
        for t in tricks:
            with i.raw(source="127.0.0.2") as c:
                self.assertEqual(code(c.reply()), 220)
                self.assertEqual(code(c.cmd("EHLO outside.example.test")), 250)
                # The sender is local: a bounce stays here too.
                self.assertEqual(code(c.cmd("MAIL FROM:<%s>" % i.addr("alice"))),
                                 250)
                r = c.cmd("RCPT TO:<%s>" % t)
                if code(r) == 250:
                    accepted.append(t)
                    self.assertEqual(code(c.cmd("DATA")), 354)
                    c.send("Subject: trick %s\r\n\r\nx\r\n.\r\n" % t)
                    self.assertEqual(code(c.reply()), 250)
                else:
                    self.assertTrue(500 <= code(r) < 600, "%s: %s" % (t, r))
                c.cmd("QUIT")
        # Whatever was accepted was for local delivery: done here, never
        # queued for (or deferred towards) a remote destination.
        i.wait_queue_empty()
        poll_until("every accepted trick finished", lambda: len(re.findall(
            r"qmgr\[\d+\]: [0-9A-F]+: removed", i.log())) >= len(accepted))
        log = i.log()
        for m in re.finditer(r": to=<([^>]*)>.*relay=([^,]*),.*status=(\w+)",
                             log):
            self.assertTrue(m.group(1).lower().endswith("@" + DOMAIN),
                            "delivered off-site: %s" % m.group(0))
            self.assertEqual(m.group(2), "local", m.group(0))
            self.assertIn(m.group(3), ("sent", "bounced"), m.group(0))
        self.assertNotRegex(log, r"status=deferred")
        self.assertEqual(i.queue_files("deferred"), [])


class Protocol(unittest.TestCase):

    def test_swaks_pipelining(self):
        i = Instance(self, users=["alice"])
        i.start()
        r = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(i.port),
             "--pipeline", "--ehlo", "client.example.test",
             "--from", "sender@ext.test", "--to", i.addr("alice"),
             "--header", "Subject: swaks pipelined", "--body", "via swaks"],
            capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"<-\s+250-PIPELINING")
        # MAIL, RCPT and DATA went out in one group, before any reply.
        self.assertRegex(r.stdout, r" -> MAIL FROM:.*\n -> RCPT TO:.*\n"
                         r" -> DATA\n<-\s+250 2\.1\.0")
        self.assertRegex(r.stdout, r"<-\s+250 2\.0\.0 Ok: queued as")
        msgs = i.wait_maildir("alice", 1)
        self.assertIn(b"Subject: swaks pipelined", msgs[0])
        self.assertIn(b"via swaks", msgs[0])

    def test_raw_pipelined_session(self):
        i = Instance(self, users=["alice", "bob"])
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            ehlo = c.cmd("EHLO client.example.test")
            self.assertIn("250-PIPELINING", ehlo)
            c.send("MAIL FROM:<sender@ext.test>\r\n"
                   "RCPT TO:<%s>\r\n"
                   "RCPT TO:<nosuchuser@%s>\r\n"
                   "RCPT TO:<%s>\r\n"
                   "DATA\r\n" % (i.addr("alice"), DOMAIN, i.addr("bob")))
            replies = [c.reply() for _ in range(5)]
            self.assertEqual([code(r) for r in replies],
                             [250, 250, 550, 250, 354], replies)
            c.send("Subject: pipelined\r\n\r\nbody\r\n.\r\n"
                   "MAIL FROM:<sender@ext.test>\r\n"
                   "RCPT TO:<%s>\r\nDATA\r\n" % i.addr("bob"))
            replies = [c.reply() for _ in range(4)]
            self.assertEqual([code(r) for r in replies], [250, 250, 250, 354],
                             replies)
            c.send("Subject: second\r\n\r\nagain\r\n.\r\nRSET\r\nNOOP\r\n"
                   "QUIT\r\n")
            replies = c.replies_until_eof()
            self.assertEqual([code(r) for r in replies], [250, 250, 250, 221],
                             replies)
        a = i.wait_maildir("alice", 1)
        b = i.wait_maildir("bob", 2)
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("alice")), 1)
        self.assertIn(b"Subject: pipelined", a[0])
        self.assertEqual(sorted(re.search(rb"Subject: (\w+)", m).group(1)
                                for m in b), [b"pipelined", b"second"])

    def test_oversize(self):
        i = Instance(self, users=["alice"],
                     main={"message_size_limit": "20000"})
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertIn("250-SIZE 20000", c.cmd("EHLO client.example.test"))
            r = c.cmd("MAIL FROM:<sender@ext.test> SIZE=30000")
            self.assertEqual(code(r), 552, r)
            self.assertIn("5.3.4", r)
            # Without SIZE=: refused at the end of the data.
            self.assertEqual(code(c.cmd("MAIL FROM:<sender@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            c.send("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 500
                   + ".\r\n")
            r = c.reply()
            self.assertEqual(code(r), 552, r)
            self.assertIn("5.3.4", r)
            # One enormous line, too.
            self.assertEqual(code(c.cmd("MAIL FROM:<sender@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            c.send("Subject: big line\r\n\r\n" + "y" * 100000 + "\r\n.\r\n")
            r = c.reply()
            self.assertEqual(code(r), 552, r)
            # The session still works.
            self.assertEqual(code(c.cmd("MAIL FROM:<sender@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            c.send("Subject: small\r\n\r\nfits\r\n.\r\n")
            self.assertEqual(code(c.reply()), 250)
            self.assertEqual(code(c.cmd("QUIT")), 221)
        msgs = i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("alice")), 1)
        self.assertIn(b"Subject: small", msgs[0])

    def test_syntax_errors(self):
        i = Instance(self, users=["alice"])
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            cases = [
                ("", 500),
                ("HELO", 501),
                ("EHLO", 501),
                ("MAIL FROM:<sender@ext.test>", 250),
                ("MAIL FROM:<sender@ext.test>", 503),     # nested MAIL
                ("RSET", 250),
                ("RCPT TO:<%s>" % i.addr("alice"), 503),   # no MAIL
                ("DATA", 503),                            # no MAIL
                ("MAIL FROM <sender@ext.test>", 501),
                ("MAIL FROM:<sender@ext.test", 501),
                ("MAIL FROM:sender@ext.test> junk", 501),
                ("MAIL FROM:<sender@ext.test> BOGUS=1", 555),
                ("MAIL FROM:<sender@ext.test> SIZE=abc", 555),  # no EHLO
                ("MAIL FROM:<sender@ext.test>", 250),
                ("RCPT TO:", 501),
                ("RCPT TO:<>", 501),
                ("RCPT <%s>" % i.addr("alice"), 501),
                ("DATA", 554),                            # no recipients
                ("DATA now", 501),
                ("RSET", 250),
                ("X" * 5000, 500),                        # too long
                ("NOOP", 250),
            ]
            for line, want in cases:
                r = c.cmd(line)
                self.assertEqual(code(r), want, "%r -> %r" % (line[:40], r))
            # A long line that arrives in pieces is one line: its tail
            # is never taken for a command.
            c.send("X" * 3000)
            time.sleep(0.3)
            c.send("RSET\r\n")
            r = c.reply()
            self.assertEqual(code(r), 500, r)
            self.assertEqual(code(c.cmd("NOOP")), 250)
            r = c.cmd("EHLO client.example.test")
            self.assertEqual(code(r), 250)
            c.send(b"MAIL FROM:<a\0b@ext.test>\r\n")
            self.assertEqual(code(c.reply()), 500)
            self.assertEqual(code(c.cmd("QUIT")), 221)

    def test_hard_error_limit(self):
        i = Instance(self, users=["alice"],
                     main={"smtpd_hard_error_limit": "5"})
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO client.example.test")), 250)
            replies = []
            for _ in range(10):
                try:
                    r = c.cmd("MAIL FROM:<broken")
                except OSError:
                    break
                if not r:
                    break
                replies.append(r)
            self.assertEqual(code(replies[-1].split("\n")[-1]), 421, replies)
            self.assertLessEqual(len(replies), 5, replies)
            self.assertEqual(c.reply(), "")
        i.wait_log(r"too many errors after")


class Smuggling(unittest.TestCase):

    def smuggle(self, i, ending, forbid=None):
        """One session that tries to hide a second message behind ENDING;
        returns every reply after DATA's 354."""
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO client.example.test")), 250)
            self.assertEqual(code(c.cmd("MAIL FROM:<sender@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            c.send(b"Subject: one\r\n\r\nbody" + ending
                   + b"MAIL FROM:<ceo@" + DOMAIN.encode() + b">\r\n"
                   + b"RCPT TO:<" + i.addr("alice").encode() + b">\r\n"
                   + b"DATA\r\nSubject: two\r\n\r\nspoof\r\n.\r\nQUIT\r\n")
            return c.replies_until_eof()

    def check_one_or_none(self, i, before, replies, what):
        queued = [r for r in replies if "queued as" in r]
        self.assertLessEqual(len(queued), 1, "%s: %r" % (what, replies))
        for r in replies:
            self.assertNotEqual(code(r), 354, "%s: smuggled DATA: %r"
                                % (what, replies))
        i.wait_queue_empty()
        if queued:
            i.wait_maildir("alice", before + 1)
        msgs = i.maildir_messages("alice")
        self.assertEqual(len(msgs), before + len(queued), what)
        for m in msgs:
            self.assertNotIn(b"Return-Path: <ceo@", m, what)
        return msgs

    def test_end_of_data_variants(self):
        i = Instance(self, users=["alice"])
        i.start()
        count = 0
        for ending in SMUGGLE_ENDS:
            replies = self.smuggle(i, ending)
            msgs = self.check_one_or_none(i, count, replies, repr(ending))
            count = len(msgs)
        self.assertNotRegex(i.log(), r"from=<ceo@")
        # The default (normalize) keeps each attempt inside one message.
        self.assertEqual(count, len(SMUGGLE_ENDS))
        for m in i.maildir_messages("alice"):
            self.assertIn(b"Subject: one", m)
            self.assertIn(b"spoof", m)

    def test_long_line_then_dot(self):
        # A content line too long to keep, cut after a "." by the reads:
        # the "." is not the end of the data, what follows is content.
        i = Instance(self, users=["alice"],
                     main={"message_size_limit": "20000"})
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO client.example.test")), 250)
            self.assertEqual(code(c.cmd("MAIL FROM:<sender@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            # Just under the limit (message_size_limit + 4096) of a line
            # kept whole, then past it: the server drops what it has,
            # and the next byte it sees is the ".".
            c.send("Subject: long\r\n\r\n" + "y" * 24000)
            time.sleep(0.3)
            c.send("y" * 200)
            time.sleep(0.3)
            c.send(".\r\nMAIL FROM:<ceo@%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                   "Subject: two\r\n\r\nspoof\r\n.\r\nQUIT\r\n"
                   % (DOMAIN, i.addr("alice")))
            replies = c.replies_until_eof()
        self.assertEqual([code(r) for r in replies], [552, 221], replies)
        i.wait_log(r"disconnect from")
        self.assertEqual(i.queue_files(complete=False), [])
        self.assertEqual(i.maildir_files("alice"), [])
        self.assertNotRegex(i.log(), r"from=<ceo@")

    def test_bare_lf_reject(self):
        i = Instance(self, users=["alice"],
                     main={"smtpd_forbid_bare_newline": "reject"})
        i.start()
        replies = self.smuggle(i, b"\n.\n")
        self.assertTrue(any(r.startswith("550 5.5.2") for r in replies),
                        replies)
        self.check_one_or_none(i, 0, replies, "reject")
        self.assertEqual(i.maildir_files("alice"), [])

    def test_unauthorised_pipelining(self):
        i = Instance(self, users=["alice"],
                     main={"smtpd_forbid_unauth_pipelining": "yes"})
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            c.send("HELO x\r\nMAIL FROM:<sender@ext.test>\r\n"
                   "RCPT TO:<%s>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"
                   "QUIT\r\n" % i.addr("alice"))
            replies = c.replies_until_eof()
        self.assertTrue(replies, replies)
        self.assertTrue(replies[-1].startswith("554 5.5.0"), replies)
        self.assertFalse(any("queued" in r for r in replies), replies)
        i.wait_log(r"improper command pipelining after HELO")
        self.assertEqual(i.queue_files(complete=False), [])
        self.assertEqual(i.maildir_files("alice"), [])

    def test_data_before_354(self):
        i = Instance(self, users=["alice"],
                     main={"smtpd_forbid_unauth_pipelining": "yes"})
        i.start()
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertIn("PIPELINING", c.cmd("EHLO client.example.test"))
            c.send("MAIL FROM:<sender@ext.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                   "Subject: early\r\n\r\nhi\r\n.\r\nQUIT\r\n"
                   % i.addr("alice"))
            replies = c.replies_until_eof()
        self.assertEqual([code(r) for r in replies], [250, 250, 554], replies)
        self.assertIn("5.5.0", replies[-1])
        i.wait_log(r"improper command pipelining after DATA")
        self.assertEqual(i.queue_files(complete=False), [])
        self.assertEqual(i.maildir_files("alice"), [])

    def test_talk_ahead_default(self):
        # With Postfix 3.7's default (smtpd_forbid_unauth_pipelining = no)
        # a client that talks ahead gets what it sent, once: items 3 and
        # 4 still never give two messages.
        i = Instance(self, users=["alice"])
        i.start()
        for opening in ("HELO x\r\n", ""):
            with i.raw() as c:
                self.assertEqual(code(c.reply()), 220)
                if not opening:
                    self.assertEqual(code(c.cmd("EHLO x")), 250)
                c.send(opening + "MAIL FROM:<sender@ext.test>\r\n"
                       "RCPT TO:<%s>\r\nDATA\r\nSubject: ahead\r\n\r\n"
                       "hi\r\n.\r\nMAIL FROM:<ceo@%s>\r\nQUIT\r\n"
                       % (i.addr("alice"), DOMAIN))
                replies = c.replies_until_eof()
            self.assertLessEqual(len([r for r in replies if "queued" in r]),
                                 1, replies)
        i.wait_queue_empty()
        self.assertLessEqual(len(i.maildir_files("alice")), 2)
        self.assertNotRegex(i.log(), r"from=<ceo@")


# In a sanitizer build, AddressSanitizer keeps freed blocks in a
# quarantine (256 MiB by default) instead of reusing them, so the RSS of a
# daemon that frees and allocates buffers grows with the traffic whatever
# the daemon holds.  The tests that bound memory turn the quarantine off;
# everything else about the sanitizer stays on.
ASAN_MEASURE = ":quarantine_size_mb=0"


def status_kib(pid, field):
    """A memory field of /proc/PID/status (VmRSS, VmHWM...), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def hwm_kib(pid):
    """Peak RSS."""
    return status_kib(pid, "VmHWM")


def smtpd_pid(i):
    pids = poll_until("one smtpd process",
                      lambda: list(i.processes("smtpd")) or None)
    return pids[0]


def flood(sock, data, limit=WAIT, stall=2.0):
    """Send data without ever reading; stop when it is all sent, when the
    peer stops taking it (nothing could be written for `stall` seconds:
    its buffers and ours are full), or after `limit` seconds.  Returns
    the number of bytes sent."""
    sock.setblocking(False)
    sent = 0
    end = time.monotonic() + limit
    view = memoryview(data)
    while sent < len(data) and time.monotonic() < end:
        _, w, _ = select.select([], [sock], [], stall)
        if not w:
            break
        try:
            sent += sock.send(view[sent:sent + 65536])
        except BlockingIOError:
            continue
        except OSError:
            break
    return sent


def flooder(i):
    """A session past EHLO (PIPELINING offered) with a small receive
    buffer, ready to talk ahead without reading."""
    c = i.raw()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert code(c.reply()) == 220
    assert "PIPELINING" in c.cmd("EHLO flood.example.test")
    return c


class Resources(unittest.TestCase):

    def test_pipelined_flood_backpressure(self):
        # 40 MB of NOOP from a client that never reads: without
        # backpressure smtpd keeps every reply (16 bytes for 6 sent) and
        # grows by a hundred MB; with it, it stops reading the session and
        # stays where it was.  The bound is on memory, not on time.
        i = Instance(self, main=NO_JUNK_LIMIT)
        i.asan_extra = ASAN_MEASURE
        i.start()
        pid = smtpd_pid(i)
        with i.raw() as warm:
            self.assertEqual(code(warm.reply()), 220)
            self.assertEqual(code(warm.cmd("NOOP")), 250)
        before = rss_kib(pid)
        data = b"NOOP\r\n" * (40 * 1024 * 1024 // 6)
        fl = flooder(i)
        try:
            sent = flood(fl.sock, data)
            after = rss_kib(pid)
            sys.stderr.write("\nflood: %d of %d bytes taken; smtpd RSS %d KiB "
                             "before, %d KiB after\n"
                             % (sent, len(data), before, after))
            self.assertLess(after - before, 6 * 1024,
                            "smtpd grew from %d KiB to %d KiB after %d bytes"
                            " of NOOP" % (before, after, sent))
            # The flood did not go through: the server stopped reading.
            self.assertLess(sent, len(data), "all 40 MB were taken")
            # Other sessions are served while the flooder is connected.
            with i.raw() as c:
                self.assertEqual(code(c.reply()), 220)
                self.assertEqual(code(c.cmd("EHLO client.example.test")),
                                 250)
                self.assertEqual(code(c.cmd("QUIT")), 221)
        finally:
            fl.close()
        i.wait_log(r"disconnect from [^ ]*\[127\.0\.0\.1\] .*noop=\d{4,}")

    def test_long_content_line(self):
        # A content line may be as long as message_size_limit; smtpd used
        # to hold it whole (twice: input buffer and copy) before passing
        # it on, so clients sending such lines could make it hold that
        # much each.  Now it passes it on in 64 KiB pieces as it arrives:
        # the peak RSS (VmHWM) stays put while the line arrives intact.
        i = Instance(self, users=["alice"],
                     main={"message_size_limit": "40000000"})
        i.asan_extra = ASAN_MEASURE
        i.start()
        i.send("sender@ext.test", i.addr("alice"),
               message("sender@ext.test", i.addr("alice"), "warm-up"))
        i.wait_maildir("alice", 1)
        pid = smtpd_pid(i)
        peak0 = hwm_kib(pid)
        body_line = (b"0123456789abcdef" * (8 * 1024 * 1024 // 16))
        head_line = b"X-Long: " + b"h" * 200000
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO client.example.test")), 250)
            self.assertEqual(code(c.cmd("MAIL FROM:<sender@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            c.send(b"Subject: long line\r\n" + head_line + b"\r\n\r\n"
                   b"before\r\n" + b"." + body_line + b"\r\nafter\r\n"
                   b"..x\r\n.\r\n")
            r = c.reply()
            self.assertEqual(code(r), 250, r)
            self.assertEqual(code(c.cmd("QUIT")), 221)
        peak1 = hwm_kib(pid)
        sys.stderr.write("\nlong line: smtpd peak RSS %d KiB before, %d KiB "
                         "after an 8 MiB line\n" % (peak0, peak1))
        self.assertLess(peak1 - peak0, 4 * 1024,
                        "peak RSS from %d to %d KiB" % (peak0, peak1))
        msgs = i.wait_maildir("alice", 2)
        m = [x for x in msgs if b"Subject: long line" in x][0]
        # The dot of ".0123..." was stuffing; the line is whole.
        self.assertIn(b"\nbefore\n" + body_line + b"\nafter\n.x\n", m)
        self.assertIn(b"\nX-Long: hhhh", m)

    def test_timeout_is_a_deadline(self):
        # One byte every half second: each byte used to restart the
        # smtpd_timeout clock, so such a client kept its session forever.
        # Now the line must be complete within smtpd_timeout (3 s); the
        # drip (60 bytes, 30 s) is ten times longer.
        i = Instance(self, main={"smtpd_timeout": "3s"})
        i.start()
        line = b"EHLO " + b"x" * 53 + b"\r\n"
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            got = b""
            dripped = 0
            for b in line:
                try:
                    c.sock.sendall(bytes([b]))
                except OSError:
                    break
                dripped += 1
                r, _, _ = select.select([c.sock], [], [], 0.5)
                if r:
                    try:
                        chunk = c.sock.recv(4096)
                    except OSError:
                        break
                    got += chunk
                    if not chunk:
                        break
            self.assertLess(dripped, len(line),
                            "the session outlived the whole drip: %r" % got)
        self.assertRegex(got.decode(errors="replace"),
                         r"^421 4\.4\.2 %s Error: timeout exceeded"
                         % re.escape("mx." + DOMAIN))
        i.wait_log(r"timeout after CONNECT from [^ ]*\[127\.0\.0\.1\]")

    def test_timeout_unread_replies(self):
        # A client that pipelines and never reads: the replies cannot be
        # sent; after smtpd_timeout the session is dropped.
        i = Instance(self, main=dict(NO_JUNK_LIMIT, smtpd_timeout="3s"))
        i.start()
        fl = flooder(i)
        try:
            flood(fl.sock, b"NOOP\r\n" * (40 * 1024 * 1024 // 6))
            i.wait_log(r"timeout after NOOP from [^ ]*\[127\.0\.0\.1\]")
            i.wait_log(r"disconnect from [^ ]*\[127\.0\.0\.1\]")
        finally:
            fl.close()


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def banners(socks, want, timeout=WAIT):
    """Read the greeting on every socket of socks until `want` of them
    have one (bounded by timeout); returns the sockets that got it."""
    got, buf = set(), {s: b"" for s in socks}
    end = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < end:
        waiting = [s for s in socks if s not in got]
        r, _, _ = select.select(waiting, [], [], 0.5)
        for s in r:
            try:
                chunk = s.recv(512)
            except OSError:
                chunk = b""
            buf[s] += chunk
            if buf[s].startswith(b"220 ") and buf[s].endswith(b"\r\n"):
                got.add(s)
            elif not chunk:
                raise AssertionError("connection closed without a banner: "
                                     "%r" % buf[s])
    return got


class Descriptors(unittest.TestCase):

    def test_out_of_descriptors(self):
        # smtpd's open files limit is lowered under it, as when the
        # administrator's limit is too small: accept() fails with EMFILE.
        # It used to leave the listener armed and spin at 100% CPU with
        # no log line; now it stops accepting, says so once, and accepts
        # again when sessions end.
        i = Instance(self)
        i.start()
        with i.raw() as c:      # smtpd is up (i.start() saw the master's
            self.assertEqual(code(c.reply()), 220)     # listener only)
        pid = smtpd_pid(i)
        nfd = len(os.listdir("/proc/%d/fd" % pid))
        # Lowered by a process of smtpd's own user (mail_owner): that
        # needs no CAP_SYS_RESOURCE, which containers often lack.
        st = os.stat("/proc/%d" % pid)
        r = subprocess.run(
            [sys.executable, "-c", "import resource, sys; resource.prlimit("
             "int(sys.argv[1]), resource.RLIMIT_NOFILE, (int(sys.argv[2]),) "
             "* 2)", str(pid), str(nfd + 8)],
            user=st.st_uid, group=st.st_gid, extra_groups=[],
            capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        clients = []
        try:
            for _ in range(30):
                clients.append(socket.create_connection(
                    ("127.0.0.1", i.port), timeout=WAIT))
            i.wait_log(r"warning: accept: Too many open files: stop "
                       r"accepting new connections")
            # A spin detector, not a speed bound: a loop woken again and
            # again by a listener it cannot serve burns a whole CPU; an
            # idle one almost nothing.  Half the wall time separates them
            # whatever the machine's speed.
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(3)
            cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
            self.assertLess(cpu, wall / 2, "smtpd used %.2fs of CPU in %.2fs"
                            % (cpu, wall))
            self.assertEqual(len(re.findall(r"Too many open files",
                                            i.log())), 1, i.log())
        finally:
            for c in clients:
                c.close()
        # Sessions ended: new clients are greeted again.
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("QUIT")), 221)

    def start_limited(self, i, soft, hard):
        """postino start with RLIMIT_NOFILE (soft, hard)."""
        i.postino("check")

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        r = subprocess.run([program("postino"), "-c", i.conf, "start"],
                           capture_output=True, env=i.env(), timeout=120,
                           preexec_fn=limit)
        self.assertEqual(r.returncode, 0, r)
        poll_until("smtpd listening", i.listening)

    def test_nofile_raised(self):
        # The master raises its soft open files limit to the hard one at
        # start; the daemons inherit it.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard <= 256:
            self.skipTest("hard RLIMIT_NOFILE %r" % hard)
        i = Instance(self)
        self.start_limited(i, 256, hard)
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
        for pid in [i.master_pid(), smtpd_pid(i)]:
            with open("/proc/%d/limits" % pid) as f:
                m = re.search(r"Max open files\s+(\d+)\s+(\d+)", f.read())
            self.assertEqual((int(m[1]), int(m[2])), (hard, hard), pid)

    def test_process_limit(self):
        # Under an open files limit of 100, one smtpd takes (100 - 64) / 2
        # = 18 sessions, then says it is busy; the master starts another,
        # up to the service's maxproc (2 here): 36 sessions.  The 37th
        # client waits in the listen queue until a session ends.
        i = Instance(self, users=["alice"])
        i.master_cf = i.master_cf.replace(" n - n - 1 smtpd",
                                          " n - n - 2 smtpd")
        i.write_conf()
        self.start_limited(i, 100, 100)
        socks = []
        try:
            for _ in range(40):
                socks.append(socket.create_connection(
                    ("127.0.0.1", i.port), timeout=WAIT))
            greeted = banners(socks, 36)
            self.assertEqual(len(greeted), 36)
            self.assertEqual(len(i.processes("smtpd")), 2)
            i.wait_log(r"warning: 18 sessions: this smtpd is full", count=2)
            i.wait_log(r"warning: service .* reached its process limit 2")
            # Four sessions end: the four waiting clients are served.
            for s in list(greeted)[:4]:
                socks.remove(s)
                s.close()
            waiting = [s for s in socks if s not in greeted]
            self.assertEqual(len(banners(waiting, 4)), 4)
            # And mail still goes through a full smtpd pair.
            for s in list(greeted)[4:8]:
                socks.remove(s)
                s.close()
            self.assertEqual(i.send("sender@ext.test", i.addr("alice"),
                                    message("sender@ext.test",
                                            i.addr("alice"), "full")), {})
            i.wait_maildir("alice", 1)
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()

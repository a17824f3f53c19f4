#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtpd_limits - the error and rate limits of smtpd's dispatcher
(issue 8 leftovers, issue 9).

- smtpd_soft_error_limit / smtpd_error_sleep_time: once a client has
  made the soft limit's number of errors, each reply comes
  error_sleep_time late; the delay waits on a timer in the session's
  task, so another client is served from banner to QUIT meanwhile, and
  the late reply is the right one.  Below the soft limit replies are not
  held back (with an error_sleep_time of an hour, they still come).
- smtpd_min_data_rate (with smtpd_per_request_deadline, postino's
  default): message content trickled in short lines, each well within
  smtpd_timeout, far below the rate: "421 4.4.2 ... timeout exceeded"
  and "timeout after DATA"; the drip is many times longer than the
  timeout, so the session must end before it does.
- smtpd_per_request_deadline = no (Postfix's default): smtpd_timeout
  limits each read, so a command line dripped slower than the timeout
  in all is still answered; with "yes" (postino's default) the same
  drip ends with the 421 (test_smtp_hostile.test_timeout_is_a_deadline).
"""
import re
import select
import unittest

from instance import MYHOSTNAME, Instance

SLEEP = 8           # smtpd_error_sleep_time, seconds
SOFT = 2


def code(reply):
    return int(reply[:3]) if reply[:3].isdigit() else 0


class ErrorSleep(unittest.TestCase):

    def other_session(self, i):
        """A whole session of another client; its replies' codes."""
        with i.raw(source="127.0.0.2") as b:
            got = [b.reply(), b.cmd("EHLO b.example.test"),
                   b.cmd("MAIL FROM:<b@ext.test>"),
                   b.cmd("RCPT TO:<%s>" % i.addr("alice")),
                   b.cmd("RSET"), b.cmd("QUIT")]
        return [code(r) for r in got]

    def test_replies_late_after_soft_limit(self):
        i = Instance(self, users=["alice"],
                     main={"smtpd_soft_error_limit": str(SOFT),
                           "smtpd_hard_error_limit": "20",
                           "smtpd_error_sleep_time": "%ds" % SLEEP})
        i.start()
        with i.raw() as a:
            self.assertEqual(code(a.reply()), 220)
            self.assertEqual(code(a.cmd("EHLO a.example.test")), 250)
            # Errors below the soft limit are answered at once.
            for _ in range(SOFT):
                self.assertEqual(code(a.cmd("MAIL FROM:<broken")), 501)
            # Now at the soft limit: the next reply is held back.
            a.send("NOOP\r\n")
            self.assertEqual(self.other_session(i),
                             [220, 250, 250, 250, 250, 221])
            r, _, _ = select.select([a.sock], [], [], 0)
            self.assertEqual(r, [], "the reply was not held back")
            self.assertEqual(a.reply(), "250 2.0.0 Ok")
            # Still over the soft limit: an error reply is late too.
            a.send("MAIL FROM:<broken\r\n")
            self.assertEqual(self.other_session(i),
                             [220, 250, 250, 250, 250, 221])
            r, _, _ = select.select([a.sock], [], [], 0)
            self.assertEqual(r, [], "the reply was not held back")
            self.assertEqual(a.reply(), "501 5.1.7 Bad sender address syntax")
            self.assertEqual(code(a.cmd("QUIT")), 221)
        i.wait_log(r"disconnect from [^ ]*\[127\.0\.0\.1\] ehlo=1 "
                   r"mail=0/3 noop=1 quit=1 commands=3/6")

    def test_no_sleep_below_soft_limit(self):
        i = Instance(self, users=["alice"],
                     main={"smtpd_soft_error_limit": "10",
                           "smtpd_error_sleep_time": "1h"})
        i.start()
        with i.raw() as a:
            self.assertEqual(code(a.reply()), 220)
            self.assertEqual(code(a.cmd("EHLO a.example.test")), 250)
            self.assertEqual(code(a.cmd("MAIL FROM:<broken")), 501)
            a.send("NOOP\r\n")
            # Were it held back, it would come an hour late: the read
            # would time out.
            self.assertEqual(a.reply(), "250 2.0.0 Ok")
            self.assertEqual(code(a.cmd("QUIT")), 221)


def drip(sock, chunks, pause):
    """Send chunks pause seconds apart, reading whatever comes; stop at
    EOF or when the peer is gone.  (chunks sent, bytes received)."""
    got = b""
    sent = 0
    for chunk in chunks:
        try:
            sock.sendall(chunk)
        except OSError:
            break
        sent += 1
        r, _, _ = select.select([sock], [], [], pause)
        if r:
            try:
                data = sock.recv(4096)
            except OSError:
                break
            got += data
            if not data:
                break
    return sent, got


class Deadlines(unittest.TestCase):

    def test_min_data_rate(self):
        # 2 s to send the content, extended by one second per MB: ten
        # bytes every 0.3 s never catch up.  Each line is complete long
        # before smtpd_timeout, so a per-line deadline would not end it.
        i = Instance(self, users=["alice"],
                     main={"smtpd_timeout": "2s",
                           "smtpd_min_data_rate": "1000000"})
        i.start()
        lines = [b"Subject: x\r\n", b"\r\n"] + [b"line %04d\r\n" % n
                                               for n in range(60)]
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO c.example.test")), 250)
            self.assertEqual(code(c.cmd("MAIL FROM:<c@ext.test>")), 250)
            self.assertEqual(code(c.cmd("RCPT TO:<%s>" % i.addr("alice"))),
                             250)
            self.assertEqual(code(c.cmd("DATA")), 354)
            sent, got = drip(c.sock, lines, 0.3)
        self.assertLess(sent, len(lines),
                        "the session outlived the whole drip: %r" % got)
        self.assertRegex(got.decode(errors="replace"),
                         r"^421 4\.4\.2 %s Error: timeout exceeded"
                         % re.escape(MYHOSTNAME))
        i.wait_log(r"timeout after DATA from [^ ]*\[127\.0\.0\.1\]")
        self.assertEqual(i.maildir_files("alice"), [])

    def test_per_read_timeout(self):
        # smtpd_timeout 2 s, one byte every 0.3 s: 14 bytes take about
        # 4 s, more than the timeout, but no read waits that long.
        i = Instance(self, main={"smtpd_timeout": "2s",
                                 "smtpd_per_request_deadline": "no"})
        i.start()
        line = b"EHLO a.test\r\n"
        with i.raw() as c:
            self.assertEqual(code(c.reply()), 220)
            sent, got = drip(c.sock, [bytes([b]) for b in line], 0.3)
            self.assertEqual(sent, len(line), got)
            if not got:
                got = c.sock.recv(4096)
            self.assertTrue(got.startswith(b"250-"), got)
        self.assertNotIn("timeout after", i.log())


if __name__ == "__main__":
    unittest.main()

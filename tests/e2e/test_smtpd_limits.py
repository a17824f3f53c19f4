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
"""
import select
import unittest

from instance import Instance

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


if __name__ == "__main__":
    unittest.main()

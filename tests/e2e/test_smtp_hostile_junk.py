#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_hostile_junk - smtpd_junk_command_limit (issue 8).

NOOP, VRFY and RSET are free up to smtpd_junk_command_limit since the
last delivered message; each one beyond it counts as an error, so
smtpd_hard_error_limit ends a session that would otherwise hold a slot
forever with "421 4.7.0 HOST Error: too many errors".  As in Postfix the
limit applies to every client, mynetworks included.
"""
import unittest

from instance import MYHOSTNAME, Instance, message

JUNK = 5
HARD = 3


def code(reply):
    return int(reply[:3]) if reply[:3].isdigit() else 0


class Junk(unittest.TestCase):

    def instance(self):
        i = Instance(self, users=["alice"],
                     main={"mynetworks": "127.0.0.1/32",
                           "smtpd_junk_command_limit": str(JUNK),
                           "smtpd_hard_error_limit": str(HARD)})
        i.start()
        return i

    def flood(self, i, source, cmds):
        """Send cmds one by one; the replies, up to EOF."""
        got = []
        with i.raw(source=source) as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO client.test")), 250)
            for cmd in cmds:
                r = c.cmd(cmd)
                got.append(r)
                if not r or code(r) == 421:
                    break
            tail = c.replies_until_eof(limit=5)
        return got, tail

    def test_noop_flood_disconnected(self):
        # JUNK free ones, then each one is an error: the HARD-th error
        # ends the session.
        i = self.instance()
        for source in ["127.0.0.2", "127.0.0.1"]:   # outside, mynetworks
            got, tail = self.flood(i, source, ["NOOP"] * 50)
            self.assertEqual(len(got), JUNK + HARD, got)
            self.assertTrue(all(code(r) == 250 for r in got[:-1]), got)
            self.assertEqual(got[-1], "421 4.7.0 %s Error: too many errors"
                             % MYHOSTNAME)
            self.assertEqual(tail, [])      # and the connection is closed
            i.wait_log(r"too many errors after NOOP from [^ ]*\[%s\]"
                       % source.replace(".", r"\."))

    def test_vrfy_rset_count(self):
        i = self.instance()
        got, tail = self.flood(i, "127.0.0.2",
                               ["RSET", "VRFY <%s>" % i.addr("alice"), "NOOP"] * 10)
        self.assertEqual(len(got), JUNK + HARD, got)
        self.assertEqual(code(got[-1]), 421, got)
        self.assertEqual(tail, [])
        i.wait_log(r"too many errors after (RSET|VRFY|NOOP) from")

    def test_within_limit_and_reset_by_delivery(self):
        # JUNK junk commands, a delivered message, JUNK more: never an
        # error, the session ends with QUIT.  (Without the reset after
        # delivery the second batch would pass the hard limit.)
        i = self.instance()
        alice = i.addr("alice")
        with i.raw(source="127.0.0.2") as c:
            self.assertEqual(code(c.reply()), 220)
            self.assertEqual(code(c.cmd("EHLO client.test")), 250)
            for _ in range(2):
                for _ in range(JUNK):
                    self.assertEqual(code(c.cmd("NOOP")), 250)
                self.assertEqual(code(c.cmd("MAIL FROM:<s@ext.test>")), 250)
                self.assertEqual(code(c.cmd("RCPT TO:<%s>" % alice)), 250)
                self.assertEqual(code(c.cmd("DATA")), 354)
                body = message("s@ext.test", alice, "junk").replace(
                    "\n", "\r\n")
                c.send(body + ".\r\n")
                self.assertEqual(code(c.reply()), 250)
            for _ in range(JUNK):
                self.assertEqual(code(c.cmd("NOOP")), 250)
            self.assertEqual(code(c.cmd("QUIT")), 221)
        i.wait_maildir("alice", 2)
        self.assertNotIn("too many errors", i.log())


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_milter - smtpd_milters against a real milter (pymilter, over
Sendmail's libmilter: tests/e2e/milter_peer.py).

- A milter's reject at RCPT answers "550 5.7.1 Command rejected" and a
  custom reply passes through, as Postfix words them.
- End-of-message changes reach the delivered message: an added header,
  a changed header, a replaced body.
- A milter that is down: milter_default_action=tempfail answers MAIL
  with "451 4.7.1 Service unavailable - try again later".
"""
import json
import os
import subprocess
import time
import unittest

from instance import Instance
from postino_testlib import free_port, poll_until

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "milter_peer.py")


class Peer:
    def __init__(self, tc, cfg):
        self.dir = os.path.join("/tmp", "postino-milter-%d" % os.getpid())
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "cfg.json")
        self.set(cfg)
        self.port = free_port()
        self.log = os.path.join(self.dir, "log")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", PEER, self.cfg,
             "inet:%d@127.0.0.1" % self.port, self.log])
        tc.addCleanup(self.stop)
        time.sleep(1)

    def set(self, cfg):
        tmp = self.cfg + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.rename(tmp, self.cfg)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Milter(unittest.TestCase):

    def test_rcpt_and_edits(self):
        peer = Peer(self, {
            "rcpt": {"nobody": "reject"},
            "eom_actions": [["addheader", "X-Milter", "seen"],
                            ["chgheader", "Subject", 1, "changed"],
                            ["replacebody", "new body\r\n"]]})
        i = Instance(self, users=("bob",))
        dom = i.addr("bob").split("@")[1]
        peer.set({
            "rcpt": {"<nobody@%s>" % dom: "reject"},
            "eom_actions": [["addheader", "X-Milter", "seen"],
                            ["chgheader", "Subject", 1, "changed"],
                            ["replacebody", "new body\r\n"]]})
        i.set_main(smtpd_milters="inet:127.0.0.1:%d" % peer.port)
        i.start()
        c = i.raw()
        self.assertTrue(c.reply().startswith("220"))
        self.assertTrue(c.cmd("EHLO c.example").startswith("250"))
        self.assertEqual(c.cmd("MAIL FROM:<joe@example.org>"), "250 2.1.0 Ok")
        self.assertEqual(c.cmd("RCPT TO:<nobody@%s>" % dom),
                         "550 5.7.1 Command rejected")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % i.addr("bob")),
                         "250 2.1.5 Ok")
        self.assertTrue(c.cmd("DATA").startswith("354"))
        r = c.cmd("From: joe@example.org\r\nSubject: hi\r\n\r\nold\r\n.")
        self.assertTrue(r.startswith("250 2.0.0 Ok: queued as"), r)
        c.cmd("QUIT")
        c.close()
        got = i.wait_maildir("bob", 1)[0]
        self.assertIn(b"X-Milter: seen", got)
        self.assertIn(b"Subject: changed", got)
        self.assertIn(b"\n\nnew body\n", got)
        self.assertNotIn(b"old", got)
        i.check_sanitizer()

    def test_down_tempfail(self):
        i = Instance(self, users=("bob",))
        i.set_main(smtpd_milters="inet:127.0.0.1:%d" % free_port())
        i.start()
        c = i.raw()
        self.assertTrue(c.reply().startswith("220"))
        c.cmd("EHLO c.example")
        self.assertEqual(c.cmd("MAIL FROM:<joe@example.org>"),
                         "451 4.7.1 Service unavailable - try again later")
        c.close()
        poll_until("warning", lambda: "connect to Milter service"
                   in i.log())
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

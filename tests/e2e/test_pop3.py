#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_pop3 - what postino delivers to a Maildir, read back through a real
POP3 server.

Mail goes in through smtpd (smtplib) and lands in a user's ~/Maildir;
then Debian's Dovecot (dovecot-pop3d) is started by the test on a
loopback port with its own configuration in the instance directory
(mail_location = maildir:~/Maildir, plaintext auth from a passwd-file),
and python's poplib retrieves every message: each must come back byte for
byte as delivered, with the body the client sent.
"""
import os
import poplib
import pwd
import re
import unittest

from instance import (DOVECOT, Instance, message, poll_until, start_dovecot,
                      WAIT)

BODIES = [
    "plain body\n",
    ".starts with a dot\n..two dots\n.\nlone dot above\n",
    "caf\u00e9 8bit \u00fc\n" + "long line " * 60 + "\n\nlast\n",
]


class Pop3(unittest.TestCase):

    def test_maildir_through_pop3(self):
        if not os.access(DOVECOT, os.X_OK):
            self.fail("dovecot is not installed (Debian: dovecot-pop3d)")
        i = Instance(self, users=["alice"])
        i.start()
        sent = {}
        for n, body in enumerate(BODIES):
            subject = "pop3 test %d" % n
            i.send("sender@ext.test", i.addr("alice"),
                   message("sender@ext.test", i.addr("alice"), subject,
                           body, {"Content-Type":
                                  "text/plain; charset=utf-8"}))
            sent[subject] = body
        i.wait_maildir("alice", len(BODIES))
        i.wait_queue_empty()
        on_disk = {}
        for raw in i.maildir_messages("alice"):
            subject = re.search(rb"^Subject: (.*)$", raw, re.M).group(1)
            on_disk[subject.decode()] = raw

        pw = pwd.getpwnam(i.user("alice"))
        port = start_dovecot(self, os.path.join(i.dir, "dovecot"),
                             [(i.user("alice"), "s3cret", pw.pw_uid,
                               pw.pw_gid, pw.pw_dir)],
                             "maildir:~/Maildir",
                             "pop3_uidl_format = %08Xu%08Xv\n")
        c = poplib.POP3("127.0.0.1", port, timeout=WAIT)
        self.addCleanup(lambda: c.close())
        c.user(i.user("alice"))
        c.pass_("s3cret")
        count, size = c.stat()
        self.assertEqual(count, len(BODIES))
        got = {}
        for k in range(1, count + 1):
            _, lines, _ = c.retr(k)
            raw = b"\n".join(lines) + b"\n"
            subject = re.search(rb"^Subject: (.*)$", raw, re.M).group(1)
            got[subject.decode()] = raw
        self.assertEqual(sorted(got), sorted(sent))
        for subject, raw in got.items():
            # Byte for byte what local wrote.
            self.assertEqual(raw, on_disk[subject], subject)
            # And the body is what the client sent.
            body = raw.split(b"\n\n", 1)[1].decode("utf-8")
            self.assertEqual(body, sent[subject], subject)
            self.assertIn(b"Delivered-To: %s" % i.addr("alice").encode(), raw)
        # Delete them all through POP3: the Maildir is empty after.
        for k in range(1, count + 1):
            c.dele(k)
        c.quit()
        poll_until("an empty Maildir", lambda: not i.maildir_files("alice"))


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_mailbox_transport - local(8) hands mailbox delivery to Dovecot's
LMTP server, the classic Postfix + Dovecot set-up:

    mailbox_transport = lmtp:unix:private/dovecot-lmtp

local expands aliases, then passes each local user's recipient to the
lmtp agent (relative socket path: under the queue directory), which
delivers it to a real Dovecot LMTP listener; Dovecot writes the Maildir
and its POP3 server reads the message back.  The lmtp agent logs the
delivery (relay=HOST[private/dovecot-lmtp]); local logs no second line.
A user Dovecot does not know is bounced with Dovecot's LMTP reply.
"""
import os
import poplib
import pwd
import re
import unittest

from instance import Instance, message, start_dovecot, WAIT


class MailboxTransport(unittest.TestCase):

    def test_local_users_through_dovecot_lmtp(self):
        i = Instance(self, users=("alice", "bob"), main={
            "mailbox_transport": "lmtp:unix:private/dovecot-lmtp",
        }, master_extra="lmtp unix - - n - - lmtp\n")
        i.write_aliases("team: %s\n" % i.user("alice"))
        i.start()               # makes the queue directory
        sock = os.path.join(i.queue, "private", "dovecot-lmtp")
        pw = pwd.getpwnam(i.user("alice"))
        # Dovecot knows alice only: bob is "unknown" to it.
        port = start_dovecot(
            self, os.path.join(i.dir, "dovecot"),
            [(i.user("alice"), "s3cret", pw.pw_uid, pw.pw_gid, pw.pw_dir)],
            "maildir:~/Maildir",
            "protocols = pop3 lmtp\nauth_username_format = %%Ln\n"
            "service lmtp {\n  unix_listener %s {\n    mode = 0666\n  }\n}\n"
            % sock)
        sender = "someone@elsewhere.test"
        i.send(sender, [i.addr("alice")],
               message(sender, i.addr("alice"), "direct"))
        i.send(sender, ["team@example.test"],
               message(sender, "team@example.test", "via alias"))
        i.wait_log(r"postino/lmtp\[\d+\]: \S+: to=<%s>.*status=sent"
                   % re.escape(i.addr("alice")), count=2)
        log = i.log()
        lines = [ln for ln in log.splitlines()
                 if "to=<%s>" % i.addr("alice") in ln]
        self.assertEqual(len(lines), 2, lines)
        for ln in lines:
            self.assertIn("postino/lmtp[", ln)
            self.assertIn("relay=mx.example.test[%s]" % sock, ln)
        self.assertIn("orig_to=<team@example.test>", log)

        c = poplib.POP3("127.0.0.1", port, timeout=WAIT)
        self.addCleanup(c.close)
        c.user(i.user("alice"))
        c.pass_("s3cret")
        subjects = []
        for k in range(1, c.stat()[0] + 1):
            text = b"\n".join(c.retr(k)[1])
            subjects += re.findall(rb"^Subject: (.*)$", text, re.M)
        self.assertEqual(sorted(subjects), [b"direct", b"via alias"])

        # bob is a passwd user but not a Dovecot user: LMTP refuses him.
        i.send(sender, [i.addr("bob")], message(sender, i.addr("bob"), "no"))
        i.wait_log(r"to=<%s>.*status=bounced" % re.escape(i.addr("bob")))
        bob = [ln for ln in i.log().splitlines()
               if "to=<%s>" % i.addr("bob") in ln]
        self.assertEqual(len(bob), 1, bob)
        self.assertIn("dsn=5.1.1", bob[0])
        self.assertIn("said: 550 5.1.1", bob[0])


if __name__ == "__main__":
    unittest.main()

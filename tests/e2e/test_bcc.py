#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_bcc - automatic BCC copies (always_bcc, sender_bcc_maps,
recipient_bcc_maps), as Postfix's cleanup makes them.

Mail from outside (smtpd) gets one copy for always_bcc, one for the
sender's sender_bcc_maps entry and one for each recipient's
recipient_bcc_maps entry, looked up with Postfix's key order
(user@domain, user, @domain); the copies are plain envelope recipients
(no header shows them) and go through virtual alias expansion.
Mail that postino makes itself (a bounce) gets none.  A table that fails
defers the message (451 at the end of DATA), never drops a copy.  postconf
and postino check accept the three parameters that they used to refuse.
"""
import email
import os
import subprocess
import unittest

from instance import IS_ROOT, Instance, message
from postino_testlib import program


@unittest.skipUnless(IS_ROOT, "needs root")
class Bcc(unittest.TestCase):

    def setUp(self):
        users = ("alice", "bob", "carol", "dave", "archive", "erin")
        self.i = i = Instance(self, users=users)
        sbcc = os.path.join(i.conf, "sender_bcc")
        rbcc = os.path.join(i.conf, "recipient_bcc")
        valias = os.path.join(i.conf, "virtual")
        # Sender by domain, recipient by full address and by user part.
        i.postmap(sbcc, "@ext.test %s\n" % i.addr("carol"))
        i.postmap(rbcc, "%s %s\n%s %s\n" % (
            i.addr("bob"), i.addr("dave"),
            i.user("alice"), "copies@" + i.main["mydomain"]))
        # A BCC address is expanded like any recipient.
        i.postmap(valias, "copies@%s %s\n" % (i.main["mydomain"],
                                              i.addr("erin")))
        i.set_main(always_bcc=i.addr("archive"),
                   sender_bcc_maps="hash:" + sbcc,
                   recipient_bcc_maps="hash:" + rbcc,
                   virtual_alias_maps="hash:" + valias)

    def test_copies(self):
        i = self.i
        i.start()
        alice, bob = i.addr("alice"), i.addr("bob")
        i.send("sender@ext.test", [bob], message("sender@ext.test", bob,
                                                  "to bob"))
        i.send("sender@ext.test", [alice], message("sender@ext.test", alice,
                                                    "to alice"))
        i.send("local@" + i.main["mydomain"], [bob],
               message("local@" + i.main["mydomain"], bob, "local sender"))
        i.wait_maildir("bob", 2)
        i.wait_maildir("alice", 1)
        i.wait_maildir("archive", 3)
        i.wait_maildir("dave", 2)
        i.wait_maildir("carol", 2)
        i.wait_maildir("erin", 1)
        i.wait_queue_empty()

        def parsed(user):
            return [email.message_from_bytes(m)
                    for m in i.maildir_messages(user)]

        def subjects(user):
            out = []
            for m in parsed(user):
                out.append(m["Subject"])
                self.assertIsNone(m["Bcc"])
            return sorted(out)

        self.assertEqual(subjects("archive"),
                         ["local sender", "to alice", "to bob"])
        self.assertEqual(subjects("dave"), ["local sender", "to bob"])
        self.assertEqual(subjects("carol"), ["to alice", "to bob"])
        self.assertEqual(subjects("erin"), ["to alice"])
        # The copies are envelope recipients with NOTIFY=NEVER, the
        # message itself unchanged: the archive copy still says To: bob.
        for m in parsed("archive"):
            if m["Subject"] == "to bob":
                self.assertIn(bob, m["To"])
        i.check_sanitizer()

    def test_no_copy_of_a_bounce(self):
        # A bounce is made by postino, not received: no BCC copies.
        i = self.i
        i.set_main(always_bcc="", default_transport="error:no route",
                   relay_domains="", mynetworks="127.0.0.0/8",
                   smtpd_recipient_restrictions="permit_mynetworks, reject")
        i.start()
        alice = i.addr("alice")
        i.send(alice, ["someone@elsewhere.test"],
               message(alice, "someone@elsewhere.test", "bounces"))
        got = i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        self.assertIn(b"Undelivered Mail Returned to Sender", got[0])
        # alice's recipient_bcc_maps entry (copies -> erin) would have
        # copied mail to alice if it were applied to the bounce.
        self.assertEqual(i.maildir_files("erin"), [])
        i.check_sanitizer()

    def test_table_failure_defers(self):
        i = self.i
        cf = os.path.join(i.conf, "down.cf")
        with open(cf, "w") as f:
            f.write("hosts = 127.0.0.1:1\nuser = x\npassword = y\n"
                    "dbname = d\nquery = SELECT 1 WHERE '%s' = ''\n")
        i.set_main(recipient_bcc_maps="proxy:mysql:" + cf)
        i.start()
        bob = i.addr("bob")
        with i.smtp() as s:
            s.ehlo("client.test")
            s.mail("sender@ext.test")
            self.assertEqual(s.rcpt(bob)[0], 250)
            code, text = s.data(message("sender@ext.test", bob, "deferred")
                                .replace("\n", "\r\n").encode())
        self.assertEqual(code, 451, text)
        self.assertEqual(i.maildir_files("bob"), [])
        i.wait_log(r"recipient_bcc_maps map lookup problem for ")
        i.check_sanitizer()

    def test_check_accepts(self):
        r = subprocess.run([program("postino"), "-c", self.i.conf, "check"],
                           capture_output=True, text=True, timeout=120,
                           env=self.i.env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("bcc", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()

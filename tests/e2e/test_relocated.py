#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_relocated - relocated_maps (relocated(5)): "user has moved".

smtpd refuses a relocated recipient at RCPT with 550 5.1.6 and the new
location; the keys are Postfix's (user@domain, the user part alone in
our own domains, @domain).  Mail that is accepted anyway (here with
smtpd_reject_unlisted_recipient = no) is returned to the sender with the
same reason and status 5.1.6.  Other recipients are not affected.
Debian's Postfix, given the same table, answers the same RCPT replies.
"""
import os
import shutil
import smtplib
import subprocess
import tempfile
import unittest

from instance import IS_ROOT, Instance, message
from postino_testlib import program
from smtp_peers import PostfixMx

TABLE = ("someone@gone.test someone@new.example\n"
         "@gone.test contact the help desk\n")


@unittest.skipUnless(IS_ROOT, "needs root")
class Relocated(unittest.TestCase):

    def setUp(self):
        self.i = i = Instance(self, users=("alice", "bob"))
        table = i.postmap("relocated", "old@%s alice@new.example\n"
                          "former new office, room 12\n"
                          "@gone.test contact the help desk\n"
                          % i.main["mydomain"])
        i.set_main(relocated_maps=table, relay_domains="gone.test")

    def rcpt(self, addr):
        with self.i.smtp() as s:
            s.ehlo("client.test")
            s.mail("sender@ext.test")
            code, text = s.rcpt(addr)
        return code, text.decode()

    def test_refused_at_rcpt(self):
        i = self.i
        i.start()
        dom = i.main["mydomain"]
        self.assertEqual(self.rcpt("old@" + dom), (
            550, "5.1.6 <old@%s>: Recipient address rejected: User has "
            "moved to alice@new.example" % dom))
        self.assertEqual(self.rcpt("former@" + dom), (
            550, "5.1.6 <former@%s>: Recipient address rejected: User has "
            "moved to new office, room 12" % dom))
        self.assertEqual(self.rcpt("anyone@gone.test"), (
            550, "5.1.6 <anyone@gone.test>: Recipient address rejected: "
            "User has moved to contact the help desk"))
        self.assertEqual(self.rcpt(i.addr("bob"))[0], 250)
        i.check_sanitizer()

    def test_bounced_when_accepted(self):
        i = self.i
        i.set_main(smtpd_reject_unlisted_recipient="no")
        i.start()
        alice = i.addr("alice")
        i.send(alice, ["old@" + i.main["mydomain"]],
               message(alice, "old@" + i.main["mydomain"], "moved"))
        got = i.wait_maildir("alice", 1)[0].decode(errors="replace")
        i.wait_queue_empty()
        self.assertIn("Undelivered Mail Returned to Sender", got)
        self.assertIn("User has moved to alice@new.example", got)
        self.assertIn("Status: 5.1.6", got)
        i.wait_log(r"to=<old@%s>, relay=none, .*dsn=5\.1\.6, status=bounced "
                   r"\(User has moved to alice@new\.example\)"
                   % i.main["mydomain"].replace(".", r"\."))
        i.check_sanitizer()

    def test_same_replies_as_postfix(self):
        # One table, built by postino's postmap (the .db format is
        # Postfix's), read by both.
        d = tempfile.mkdtemp(prefix="postino-reloc-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        table = os.path.join(d, "relocated")
        with open(table, "w") as f:
            f.write(TABLE)
        i = self.i
        subprocess.run([program("postmap"), "-c", i.conf, "hash:" + table],
                       check=True, capture_output=True, timeout=60)
        os.chmod(table + ".db", 0o644)
        PostfixMx(self, address="127.0.0.41", extra_main={
            "relay_domains": "gone.test",
            "relocated_maps": "hash:" + table})
        i.set_main(relocated_maps="hash:" + table)
        i.start()

        def replies(host, port):
            out = []
            s = smtplib.SMTP(host, port, timeout=60)
            s.ehlo("client.test")
            s.mail("sender@ext.test")
            for rcpt in ("someone@gone.test", "other@gone.test"):
                code, text = s.rcpt(rcpt)
                out.append((code, text.decode()))
            s.quit()
            return out

        theirs = replies("127.0.0.41", 25)
        self.assertEqual(theirs[0][0], 550, theirs)
        self.assertEqual(replies("127.0.0.1", i.port), theirs)


if __name__ == "__main__":
    unittest.main()

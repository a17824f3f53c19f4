#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_nostall_queue - a directory that hangs must not stall the mail
whose lookups are local, in cleanup, qmgr and virtual (issue 9).

A real slapd (scripts/lib/slapd.sh) holds lu1..lu7@ldap.test; each test
points exactly one table of one daemon at it, with the domain filter
"domain = ldap.test" (so hash.test addresses never reach LDAP) and an
LDAP timeout longer than the test:

  * virtual: virtual_mailbox_maps = hash:..., ldap:... in the virtual
    delivery agent (with the default process limit);
  * cleanup: virtual_alias_maps = ldap:... (lu2@ldap.test -> hu2@hash.test),
    expanded by cleanup (inside smtpd) when the message is received;
  * qmgr: transport_maps = ldap:... (lu2@ldap.test -> virtual:), applied by
    qmgr's address resolution.

smtpd never looks these up for a client in mynetworks
(smtpd_reject_unlisted_recipient = no, permit_mynetworks first), so mail
is accepted while slapd is stopped.  Each test: one message through the
LDAP table with slapd running (delivered: the path works and its
connection is open); slapd stopped (SIGSTOP); message A needs the LDAP
table, and its search sits unread in slapd's socket; message B to a
hash:-only user is then delivered while A's lookup still waits (A not
delivered, the search still unread); after SIGCONT, A is delivered.  No
timing is compared: the test orders events.
"""
import os
import pwd
import subprocess
import unittest

from directories import Slapd, people_ldif
from instance import Instance, RawClient, poll_until, WAIT
from postino_testlib import program
from test_nostall_dns import answered, ldap_unread

LDAP_TIMEOUT = 120      # seconds: longer than the test waits
VIRTUAL = "virtual unix - n n - - virtual\n"

LDIF = people_ldif(7, lambda n: "description: hu%d@hash.test\n"
                             "title: virtual:\n" % n)


def maildir_count(base, domain, user):
    n = 0
    for sub in ("new", "cur"):
        d = os.path.join(base, domain, user, sub)
        if os.path.isdir(d):
            n += len([f for f in os.listdir(d) if not f.startswith(".")])
    return n


class QueueNoStall(unittest.TestCase):

    def setup(self, attribute, result_format="", virtual=VIRTUAL, **main):
        """slapd, and an instance whose virtual mailbox domains hash.test
        and ldap.test are delivered by the virtual agent into i.vbase;
        in main, "LDAPCF" names the LDAP table's file, "VMBOX" a hash:
        table of every user and "VHASH" one of hash.test's only."""
        self.slapd = Slapd(self, LDIF)
        i = Instance(self, users=["vmail"], master_extra=virtual)
        base = os.path.join(i.dir, "vmail")
        os.mkdir(base, 0o755)
        pw = pwd.getpwnam(i.user("vmail"))
        os.chown(base, pw.pw_uid, pw.pw_gid)
        cf = os.path.join(i.conf, "ldap.cf")
        with open(cf, "w") as f:
            f.write("server_host = ldap://127.0.0.1:%d\n"
                    "search_base = ou=people,dc=example,dc=com\n"
                    "query_filter = (mail=%%s)\nresult_attribute = %s\n"
                    "domain = ldap.test\nversion = 3\nbind = no\n"
                    "timeout = %d\n" % (self.slapd.port, attribute,
                                        LDAP_TIMEOUT))
            if result_format:
                f.write("result_format = %s\n" % result_format)
        vmbox = os.path.join(i.conf, "vmailbox")
        vhash = os.path.join(i.conf, "vmailbox-hash")
        with open(vmbox, "w") as f, open(vhash, "w") as h:
            for n in range(1, 8):
                f.write("hu%d@hash.test hash.test/hu%d/\n" % (n, n))
                f.write("lu%d@ldap.test ldap.test/lu%d/\n" % (n, n))
                h.write("hu%d@hash.test hash.test/hu%d/\n" % (n, n))
        for t in (vmbox, vhash):
            r = subprocess.run([program("postmap"), "hash:" + t],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        conf = {
            "mynetworks": "127.0.0.1/32",
            "smtpd_reject_unlisted_recipient": "no",
            "virtual_mailbox_domains": "hash.test, ldap.test",
            "virtual_mailbox_base": base,
            "virtual_mailbox_maps": "hash:VMBOX",
            "virtual_uid_maps": "static:%d" % pw.pw_uid,
            "virtual_gid_maps": "static:%d" % pw.pw_gid,
        }
        conf.update(main)
        i.set_main(**{k: v.replace("LDAPCF", cf).replace("VMBOX", vmbox)
                      .replace("VHASH", vhash) for k, v in conf.items()})
        i.vbase = base
        i.start()
        return i

    def send(self, i, rcpt, subject):
        """Send one message from 127.0.0.1; the reply to its end of data
        is read (smtpd must accept without LDAP)."""
        i.send("sender@local.test", rcpt,
               "Subject: %s\nTo: <%s>\n\nhello\n" % (subject, rcpt))

    def check(self, i, a_rcpt, a_box, b_box, a_by_smtp=True):
        """The common sequence; a_box and b_box are (domain, user) of
        where A and B are delivered."""
        slapd = self.slapd
        self.send(i, "lu1@ldap.test", "warm-up")
        warm = ("hash.test", "hu1") if a_box[0] == "hash.test" else (
            "ldap.test", "lu1")
        poll_until("the warm-up message delivered through LDAP",
                   lambda: maildir_count(i.vbase, *warm) == 1)

        slapd.pause()
        self.assertEqual(ldap_unread(slapd.port), 0)
        client = None
        rcpt_unread = False
        if a_by_smtp:
            self.send(i, a_rcpt, "A")
        else:
            # cleanup's lookup: at RCPT (smtpd expands the recipient at
            # once) or at the end of data.  Send RCPT and leave its reply
            # unread until either the search waits in slapd or the reply
            # came; in the latter case send the message and leave the
            # reply to its end unread.
            client = RawClient(i.port, timeout=WAIT)
            self.addCleanup(client.close)
            self.assertTrue(client.reply().startswith("220"))
            for line in ("EHLO client.test", "MAIL FROM:<sender@local.test>"):
                r = client.cmd(line)
                self.assertTrue(r.startswith("250"), "%s: %s" % (line, r))
            client.send("RCPT TO:<%s>\r\n" % a_rcpt)
            poll_until("A's RCPT answered or its search waiting in slapd",
                       lambda: ldap_unread(slapd.port) > 0 or answered(
                           [client]))
            rcpt_unread = not answered([client])
            if not rcpt_unread:
                r = client.reply()
                self.assertTrue(r.startswith("250"), r)
                self.assertTrue(client.cmd("DATA").startswith("354"))
                client.send("Subject: A\r\n\r\nhello\r\n.\r\n")
        poll_until("message A's search waiting in stopped slapd's socket",
                   lambda: ldap_unread(slapd.port) > 0)

        self.send(i, "hu3@hash.test", "B")
        poll_until("message B (hash.test only) delivered while A's lookup "
                   "waits", lambda: maildir_count(i.vbase, *b_box) == 1)
        self.assertEqual(maildir_count(i.vbase, *a_box), 0,
                         "A was delivered while slapd was stopped")
        self.assertGreater(ldap_unread(slapd.port), 0,
                           "A's search is no longer waiting")

        slapd.resume()
        if client is not None:
            r = client.reply()
            self.assertTrue(r.startswith("250"), r)
            if rcpt_unread:
                self.assertTrue(client.cmd("DATA").startswith("354"))
                r = client.cmd("Subject: A\r\n\r\nhello\r\n.")
                self.assertTrue(r.startswith("250"), r)
        poll_until("message A delivered once slapd is back",
                   lambda: maildir_count(i.vbase, *a_box) == 1)
        self.assertNotIn("status=bounced", i.log())
        i.check_sanitizer()

    def test_virtual(self):
        # hash.test's users in a hash: table, ldap.test's only in LDAP
        # (the answer is "ldap.test/luN/").
        i = self.setup("uid", result_format="%D/%s/",
                       virtual_mailbox_maps="hash:VHASH, ldap:LDAPCF")
        self.check(i, "lu2@ldap.test", ("ldap.test", "lu2"),
                   ("hash.test", "hu3"))

    def test_cleanup(self):
        i = self.setup("description", virtual_alias_maps="ldap:LDAPCF")
        self.check(i, "lu2@ldap.test", ("hash.test", "hu2"),
                   ("hash.test", "hu3"), a_by_smtp=False)

    def test_qmgr(self):
        i = self.setup("title", transport_maps="ldap:LDAPCF")
        self.check(i, "lu2@ldap.test", ("ldap.test", "lu2"),
                   ("hash.test", "hu3"))


if __name__ == "__main__":
    unittest.main()

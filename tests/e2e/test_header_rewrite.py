#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_header_rewrite - addresses in message headers, rewritten as
Postfix's cleanup rewrites them, with Debian's Postfix as the oracle.

The same message goes through Postfix and through postino, both set up
with myorigin, sender_/recipient_canonical_maps, masquerade_domains and
masquerade_exceptions; the sender and recipient headers (From, Sender,
Reply-To, To, Cc) must come out the same: bare names qualified with
@$myorigin, canonical mapping per header class, masquerading, display
names, comments and groups kept.  Mail from a client outside
local_header_rewrite_clients keeps its headers as sent (no
remote_header_rewrite_domain), and the envelope sender is masqueraded
(masquerade_classes has envelope_sender).
"""
import email
import os
import shutil
import smtplib
import tempfile
import unittest

from instance import IS_ROOT, Instance
from smtp_peers import PostfixMx

SENDER_CANON = "joe@example.org Joe.User@example.org\n"
RCPT_CANON = "carol@example.org carol.c@example.org\n"
SETTINGS = {
    "myorigin": "example.org",
    "masquerade_domains": "!keep.example.org, example.org",
    "masquerade_exceptions": "root",
}
HEADERS = [
    "From: Joe <joe>",
    "Sender: root@host.example.org",
    'Reply-To: "Some One" <someone@mail.example.org> (desk)',
    "To: carol, dave@sub.example.org (Dave), team: ann@x.example.org, "
    "bea@keep.example.org;",
    "Cc: <@route.example:erin@x.example.org>, frank@other.test",
    'Resent-To: "john doe"@sub.example.org, <>, undisclosed-recipients:;',
    "Errors-To: joe@keep.example.org",
    "Resent-From: Mary Smith <mary>",
    "X-Not-An-Address: joe, carol@sub.example.org",
]
COMPARED = ("From", "Sender", "Reply-To", "To", "Cc", "Resent-To",
            "Errors-To", "Resent-From", "X-Not-An-Address")


def message(to):
    return ("\r\n".join(HEADERS + ["Subject: header rewriting",
                                   "Message-ID: <hdr.%s@client.test>" % to,
                                   "", "body", ""])).encode()


def headers(raw):
    m = email.message_from_bytes(raw)
    return {k: m[k] for k in COMPARED}


@unittest.skipUnless(IS_ROOT, "needs root")
class HeaderRewrite(unittest.TestCase):

    def postino(self, **extra):
        i = Instance(self, users=("bob",))
        maps = {name + "_maps": i.postmap(name, text)
                for name, text in (("sender_canonical", SENDER_CANON),
                                   ("recipient_canonical", RCPT_CANON))}
        i.set_main(**SETTINGS, **maps, **extra)
        i.start()
        return i

    def test_same_as_postfix(self):
        i = self.postino()
        # Postfix reads the same .db files (postino's postmap writes
        # Postfix's format); its daemons need a directory they can read.
        d = tempfile.mkdtemp(prefix="postino-hdr-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        maps = {}
        for name in ("sender_canonical", "recipient_canonical"):
            path = os.path.join(d, name)
            shutil.copy(os.path.join(i.conf, name), path)
            shutil.copy(os.path.join(i.conf, name + ".db"), path + ".db")
            os.chmod(path + ".db", 0o644)
            maps[name + "_maps"] = "hash:" + path
        pfx = PostfixMx(self, address="127.0.0.42",
                        extra_main=dict(SETTINGS, **maps))
        with smtplib.SMTP("127.0.0.42", 25, timeout=60) as s:
            s.sendmail("joe", ["bob@pfx.test"], message("pfx"))
        with i.smtp() as s:
            s.sendmail("joe", [i.addr("bob")], message("postino"))
        pfx.wait_maildir("bob", 1)
        theirs = headers(pfx.maildir("bob")[0])
        ours = headers(i.wait_maildir("bob", 1)[0])
        self.assertEqual(ours, theirs)
        # The envelope sender: canonical, then masquerading.
        self.assertIn(b"Return-Path: <Joe.User@example.org>",
                      i.maildir_messages("bob")[0])
        i.check_sanitizer()

    def test_remote_client_headers_kept(self):
        i = self.postino(local_header_rewrite_clients="static:none",
                         mynetworks="127.0.0.0/8")
        with i.smtp() as s:
            s.sendmail("joe@host.example.org", [i.addr("bob")],
                       message("remote"))
        got = i.wait_maildir("bob", 1)[0]
        for h in HEADERS:
            self.assertIn(h.encode(), got.replace(b"\n\t", b" "))
        # The envelope is still rewritten.
        self.assertIn(b"Return-Path: <joe@example.org>", got)
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_ehlo_discard - smtpd_discard_ehlo_keywords, with Debian's
Postfix as the oracle.

The keywords listed are left out of the EHLO reply (the others stay, the
last line ends the reply); as in Postfix, DSN parameters then get "501
5.7.1 DSN support is disabled" while hidden commands and parameters of
the other keywords (VRFY, BODY=8BITMIME, SIZE=) keep working.  Postfix,
given the same list, answers the same to the same commands (it also
announces SMTPUTF8 and CHUNKING, which postino does not have).
"""
import smtplib
import unittest

from instance import IS_ROOT, Instance
from smtp_peers import PostfixMx

HIDDEN = "silent-discard, dsn, etrn, vrfy, pipelining, 8bitmime, size"
COMMANDS = [
    "MAIL FROM:<a@ext.test> RET=HDRS",
    "MAIL FROM:<a@ext.test> ENVID=x1",
    "MAIL FROM:<a@ext.test> BODY=8BITMIME SIZE=100",
    "RCPT TO:<%(rcpt)s> NOTIFY=NEVER",
    "RCPT TO:<%(rcpt)s> ORCPT=rfc822;x@y.test",
    "RCPT TO:<%(rcpt)s>",
    "RSET",
]


def session(host, port, rcpt):
    s = smtplib.SMTP(host, port, timeout=60)
    code, text = s.ehlo("client.test")
    keywords = [ln.split()[0].upper() for ln in text.decode().splitlines()[1:]]
    replies = []
    for cmd in COMMANDS:
        code, text = s.docmd(cmd % {"rcpt": rcpt})
        replies.append((cmd.split(":")[0].split()[0], code, text.decode()))
    s.quit()
    return keywords, replies


@unittest.skipUnless(IS_ROOT, "needs root")
class EhloDiscard(unittest.TestCase):

    def test_same_as_postfix(self):
        PostfixMx(self, address="127.0.0.44", extra_main={
            "smtpd_discard_ehlo_keywords": HIDDEN})
        i = Instance(self, users=("bob",),
                     main={"smtpd_discard_ehlo_keywords": HIDDEN})
        i.start()
        theirs_kw, theirs = session("127.0.0.44", 25, "bob@pfx.test")
        ours_kw, ours = session("127.0.0.1", i.port, i.addr("bob"))
        for hidden in ("DSN", "ETRN", "VRFY", "PIPELINING", "8BITMIME",
                       "SIZE"):
            self.assertNotIn(hidden, theirs_kw)
            self.assertNotIn(hidden, ours_kw)
        self.assertIn("ENHANCEDSTATUSCODES", ours_kw)
        self.assertEqual(set(ours_kw) - set(theirs_kw), set())
        # The RCPT replies name the recipient: compare without it.
        self.assertEqual([(c, code, t.replace(i.addr("bob"), "R"))
                          for c, code, t in ours],
                         [(c, code, t.replace("bob@pfx.test", "R"))
                          for c, code, t in theirs])
        self.assertEqual(ours[0][1:], (501, "5.7.1 DSN support is disabled"))
        # VRFY still answers although it is not announced.
        with i.smtp() as s:
            s.ehlo("client.test")
            self.assertEqual(s.verify(i.addr("bob"))[0], 252)
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

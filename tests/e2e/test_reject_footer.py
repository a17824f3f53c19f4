#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_reject_footer - smtpd_reject_footer, with Debian's Postfix as
the oracle: the same dialog to both, every reply compared once the host
names are masked.  The footer goes after every 4xx and 5xx reply (relay
refused, unknown command, bad sequence, syntax, no recipients, a sender
restriction), on lines of its own that repeat the code and the enhanced
status code, or on the reply's line with "\\c"; "\\n" starts a new line;
$client_address and $server_name are filled in; 2xx and 3xx replies
stay as they are.
"""
import os
import unittest

from instance import MYHOSTNAME, Instance
from smtp_peers import PostfixMx
from test_xclient import mask, run

PFX_DOMAIN = "pfx.test"
PFX_ADDR = "127.0.0.89"

DIALOG = ["EHLO client.example", "MAIL FROM:<a@example.org>",
          "MAIL FROM:<b@example.org>", "RCPT TO:<x@remote.example>",
          "RCPT TO:<y@blocked.example>", "DATA", "BOGUS", "RSET",
          "MAIL FROM:<bad", "NOOP", "QUIT"]


class RejectFooterAsPostfix(unittest.TestCase):
    maxDiff = None

    def compare(self, footer):
        i = Instance(self, users=("bob",))
        table = os.path.join(i.dir, "rcpt")
        with open(table, "w") as f:
            f.write("/@blocked\\.example$/ REJECT blocked domain\n")
        os.chmod(table, 0o644)
        main = {"smtpd_reject_footer": footer,
                "smtpd_banner": "$myhostname ESMTP test",
                "smtpd_relay_restrictions":
                    "check_recipient_access regexp:" + table
                    + ", permit_mynetworks, reject_unauth_destination",
                # 127.0.0.1 may not relay: relaying is refused.
                "mynetworks": "192.0.2.0/24"}
        i.set_main(**main)
        i.start()
        PostfixMx(self, address=PFX_ADDR, domain=PFX_DOMAIN,
                  users=("bob",), extra_main=main)
        theirs = mask(run(PFX_ADDR, 25, DIALOG), ["mx." + PFX_DOMAIN])
        ours = mask(run("127.0.0.1", i.port, DIALOG), [MYHOSTNAME])
        self.assertEqual(theirs, ours)
        i.check_sanitizer()
        return theirs

    def test_own_lines(self):
        got = self.compare("For help see https://help.example/ "
                           "($client_address at $server_name)\\nSecond line")
        self.assertIn("554-5.7.1 <x@remote.example>: Relay access denied\n"
                      "554-5.7.1 For help see https://help.example/ "
                      "(127.0.0.1 at HOST)\n554 5.7.1 Second line",
                      got)

    def test_joined(self):
        got = self.compare("\\c. Call 555-0101 (${client_address})")
        self.assertTrue(any(r.startswith("500 5.5.2 Error: command not "
                                         "recognized. Call 555-0101")
                            for r in got), got)


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_sender_transport - sender_dependent_default_transport_maps.

The table, searched by the envelope sender and then "@domain" (the null
sender by empty_address_default_transport_maps_lookup_key, "<>"),
overrides default_transport for mail to remote domains; DUNNO stops the
search without overriding; transport_maps still wins over both.  Here
default_transport bounces everything ("error:"), and the table sends
some senders' mail to "discard:" instead, which the log shows.
"""
import re
import unittest

from instance import IS_ROOT, Instance, message


@unittest.skipUnless(IS_ROOT, "needs root")
class SenderTransport(unittest.TestCase):

    def test_override(self):
        i = Instance(self, users=("alice",))
        table = i.postmap("sender_transport",
                          "@good.example discard:kept for good\n"
                          "special@dunno.example DUNNO\n"
                          "@dunno.example discard:never\n"
                          "<> discard:null sender\n")
        transport = i.postmap("transport", "pinned.test error:5.7.1 pinned\n")
        i.set_main(default_transport="error:5.7.1 no route from here",
                   relay_domains="", mynetworks="127.0.0.0/8",
                   sender_dependent_default_transport_maps=table,
                   transport_maps=transport)
        i.start()
        alice = i.addr("alice")
        for sender, rcpt in (("a@good.example", "x@remote.test"),
                             ("special@dunno.example", "y@remote.test"),
                             ("other@dunno.example", "w@remote.test"),
                             ("a@good.example", "v@pinned.test"),
                             (alice, "u@remote.test"),
                             ("", "z@remote.test")):
            i.send(sender, [rcpt], message(sender or "MAILER-DAEMON", rcpt,
                                           "to " + rcpt))

        def line(rcpt, rest):
            i.wait_log(r"to=<%s>, relay=none, .*%s" % (re.escape(rcpt), rest))

        line("x@remote.test", r"status=sent \(kept for good\)")
        line("y@remote.test", r"dsn=5\.7\.1, status=bounced "
             r"\(no route from here\)")
        line("w@remote.test", r"status=sent \(never\)")
        line("v@pinned.test", r"dsn=5\.7\.1, status=bounced \(pinned\)")
        line("u@remote.test", r"status=bounced \(no route from here\)")
        line("z@remote.test", r"status=sent \(null sender\)")
        got = i.wait_maildir("alice", 1)[0]
        self.assertIn(b"no route from here", got)
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

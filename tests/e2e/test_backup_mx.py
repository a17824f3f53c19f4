#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_backup_mx - postino as the backup MX of a domain, in a network
namespace of its own with a real DNS server (dnsmasq) and a real SMTP
server (aiosmtpd) as the primary MX on 127.0.0.20:25.

bk.test has MX 10 prim.bk.test (127.0.0.20) and MX 20 backup.bk.test
(127.0.0.1: this host).  bk.test is in relay_domains with a
relay_recipient_maps table:

- an address that is not in the table is refused at RCPT (550 5.1.1);
- a listed one is accepted while the primary is down, and deferred: the
  smtp client tries only the MX records better than its own (it would
  otherwise send the mail to itself), "connect to prim.bk.test...";
- when the primary is back, "postqueue -f" delivers it there, once.

loop.test's only MX is this host: mail for it "loops back to myself"
and bounces to the sender, who gets the DSN quoting that.
"""
import os
import re
import subprocess
import threading
import time
import unittest

import netns
from instance import Instance, message, poll_until

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self):
        self.got = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("nouser@"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.got.append((envelope.mail_from, list(envelope.rcpt_tos),
                             envelope.content))
        return "250 2.0.0 Ok: queued as PRIMARY"


def log_line(inst, pattern):
    """Wait for a log line matching pattern; return it."""
    inst.wait_log(pattern)
    return [ln for ln in inst.log().splitlines() if re.search(pattern, ln)][0]


class BackupMx(unittest.TestCase):

    def setUp(self):
        netns.Dnsmasq(self, [
            "--mx-host=bk.test,prim.bk.test,10",
            "--mx-host=bk.test,backup.bk.test,20",
            "--host-record=prim.bk.test,127.0.0.20",
            "--host-record=backup.bk.test,127.0.0.1",
            "--mx-host=loop.test,self.loop.test,10",
            "--host-record=self.loop.test,127.0.0.1",
        ])
        self.inst = Instance(self, users=("sender",), main={
            "relay_domains": "bk.test, loop.test",
            "relay_recipient_maps": "hash:{conf}/relay_rcpt",
            "smtpd_relay_restrictions": "permit_mynetworks, "
                                        "reject_unauth_destination",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "queue_run_delay": "1s",
        }, master_extra="smtp unix - - n - - smtp\n"
                        "relay unix - - n - - smtp\n")
        i = self.inst
        path = os.path.join(i.conf, "relay_rcpt")
        with open(path, "w") as f:
            f.write("known@bk.test OK\nnouser@bk.test OK\n"
                    "any@loop.test OK\n")
        i.main["relay_recipient_maps"] = "hash:" + path
        i.write_conf()
        subprocess.run([os.path.join(os.environ["POSTINO_BUILD"], "sbin",
                                     "postmap"), "-c", i.conf, "hash:" + path],
                       check=True)
        i.start()

    def test_accepted_held_then_delivered_to_the_primary(self):
        i = self.inst
        with i.smtp() as c:
            c.ehlo("client.test")
            c.mail("someone@elsewhere.test")
            code, text = c.rcpt("unknown@bk.test")
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.1.1", text)
            self.assertIn(b"relay recipient table", text)
            c.rset()
        i.send("someone@elsewhere.test", ["known@bk.test"],
               message("someone@elsewhere.test", "known@bk.test", "held"))
        # The primary is down: deferred, never sent to ourselves.
        line = log_line(i, r"to=<known@bk\.test>.*status=deferred")
        self.assertIn("connect to prim.bk.test[127.0.0.20]:25", line)
        self.assertNotIn("loops back", line)
        self.assertEqual(len(i.queue_files("deferred")), 1)

        rec = Recorder()
        ctl = Controller(rec, hostname="127.0.0.20", port=25)
        ctl.start()
        self.addCleanup(ctl.stop)
        i.postino("flush")
        line = log_line(i, r"to=<known@bk\.test>.*status=sent")
        self.assertIn("relay=prim.bk.test[127.0.0.20]:25", line)
        self.assertIn("Ok: queued as PRIMARY", line)
        i.wait_queue_empty()
        time.sleep(1)          # a second copy would have arrived by now
        self.assertEqual(len(rec.got), 1, rec.got)
        sender, rcpts, content = rec.got[0]
        self.assertEqual((sender, rcpts), ("someone@elsewhere.test",
                                           ["known@bk.test"]))
        self.assertIn(b"Subject: held", content)

    def test_remote_refusal_bounces_quoting_the_server(self):
        i = self.inst
        rec = Recorder()
        ctl = Controller(rec, hostname="127.0.0.20", port=25)
        ctl.start()
        self.addCleanup(ctl.stop)
        sender = i.addr("sender")
        i.send(sender, ["nouser@bk.test", "known@bk.test"],
               message(sender, "nouser@bk.test", "two"))
        line = log_line(i, r"to=<nouser@bk\.test>.*status=bounced")
        self.assertIn("relay=prim.bk.test[127.0.0.20]:25", line)
        self.assertIn("dsn=5.1.1", line)
        self.assertIn("host prim.bk.test[127.0.0.20] said: 550 5.1.1 "
                      "<nouser@bk.test>: Recipient address rejected: no such "
                      "user (in reply to RCPT TO command)", line)
        log_line(i, r"to=<known@bk\.test>.*status=sent")
        dsn = poll_until("the DSN in the sender's Maildir",
                         lambda: i.maildir_messages("sender"))[0]
        self.assertIn(b"Remote-MTA: dns; prim.bk.test", dsn)
        self.assertIn(b"Diagnostic-Code: smtp; 550 5.1.1 <nouser@bk.test>: "
                      b"Recipient address rejected: no such user", dsn)
        self.assertIn(b"Status: 5.1.1", dsn)
        self.assertEqual([r for _, r, _ in rec.got], [["known@bk.test"]])

    def test_only_mx_is_this_host(self):
        i = self.inst
        sender = i.addr("sender")
        i.send(sender, ["any@loop.test"],
               message(sender, "any@loop.test", "loop"))
        line = log_line(i, r"to=<any@loop\.test>.*status=bounced")
        self.assertIn("dsn=5.4.6", line)
        self.assertIn("mail for loop.test loops back to myself", line)
        dsn = poll_until("the DSN in the sender's Maildir",
                         lambda: i.maildir_messages("sender"))
        self.assertIn(b"loops back to myself", dsn[0])


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()

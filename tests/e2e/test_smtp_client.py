#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_client - postino's smtp delivery agent against real peers
(issue 10, "Tests with real peers").

The test runs in a network namespace of its own (netns.py).  There, a real
unbound on 127.0.0.1:53 serves the zone "test" (MX, A, null MX, names that
are NXDOMAIN, a domain whose queries are SERVFAIL); receiving servers
listen on 127.0.0.x:25 (smtp_peers.SmtpPeer, our asyncio server playing
accepting, greylisting, rejecting, 421-greeting, size-limited, slow and
LMTP servers; and Postfix's smtp-sink); postino runs with master.cf
smtp/relay/lmtp services and default_transport = smtp, and mail for the
test domains is submitted to its smtpd.

Peers (self-check, no postino): the unbound zone answers as configured and
every peer role behaves as its description with smtplib as the client.

Delivery (postino's smtp/lmtp agents), one case per test, each checking the
receiving peer's envelopes and postino's log lines (relay=host[ip]:port,
dsn=, status=):
  preferred MX; backup MX when the first refuses the connection;
  greylisting at the first MX -> the next MX; A record when no MX; a 5xx
  -> bounce DSN to the sender quoting the remote reply; NXDOMAIN ->
  bounce; SERVFAIL -> deferred; null MX -> bounce 5.1.0; an MX that is
  ourselves -> "loops back to myself"; a greeting with our own name ->
  the same; the remote SIZE limit -> bounce; transport_maps to
  smtp:[host]:port and lmtp:inet:host:port; relayhost = [host]:port;
  smtp-sink as the receiver; no PIPELINING / no 8BITMIME servers; a
  deferred message delivered after its MX comes back and postqueue -f; a
  burst of 30 messages each delivered exactly once; kill -9 of the smtp
  agent in the middle of a transaction (nothing lost, duplicates
  counted).

Nothing depends on how fast anything happens: every wait is a bounded
poll for an event.
"""
import email
import os
import smtplib
import socket
import unittest

import netns
from instance import WAIT, poll_until
from smtp_peers import SmtpPeer, SmtpSink

# Bounded waits for deliveries that must happen (generous: the smtp
# agent's own timeouts are longer than a healthy delivery by far).
DELIVERY_WAIT = 45

# The test zone.  Peers sit on 127.0.0.10 and above; the postino instance
# (inet_interfaces) is 127.0.0.1.
RECORDS = [
    # preferred and backup MX, both accepting
    "pref.test. MX 10 mx1.pref.test.",
    "pref.test. MX 20 mx2.pref.test.",
    "mx1.pref.test. A 127.0.0.11",
    "mx2.pref.test. A 127.0.0.12",
    # first MX refuses the connection (nothing listens on .13)
    "backup.test. MX 10 mx1.backup.test.",
    "backup.test. MX 20 mx2.backup.test.",
    "mx1.backup.test. A 127.0.0.13",
    "mx2.backup.test. A 127.0.0.14",
    # first MX greylists
    "grey.test. MX 10 mx1.grey.test.",
    "grey.test. MX 20 mx2.grey.test.",
    "mx1.grey.test. A 127.0.0.15",
    "mx2.grey.test. A 127.0.0.16",
    # no MX: the A record
    "aonly.test. A 127.0.0.17",
    # the only MX rejects some recipients
    "reject.test. MX 10 mx.reject.test.",
    "mx.reject.test. A 127.0.0.18",
    # null MX (RFC 7505)
    "nullmx.test. MX 0 .",
    # an MX that is ourselves
    "loop.test. MX 10 mx.example.test.",
    "mx.example.test. A 127.0.0.1",
    # an MX that greets with our own name
    "loopgreet.test. MX 10 mx.loopgreet.test.",
    "mx.loopgreet.test. A 127.0.0.19",
    # size limited
    "small.test. MX 10 mx.small.test.",
    "mx.small.test. A 127.0.0.20",
    # first MX greets 421
    "busy.test. MX 10 mx1.busy.test.",
    "busy.test. MX 20 mx2.busy.test.",
    "mx1.busy.test. A 127.0.0.21",
    "mx2.busy.test. A 127.0.0.22",
    # down for a while, then back
    "later.test. MX 10 mx.later.test.",
    "mx.later.test. A 127.0.0.23",
    # the burst and the kill
    "burst.test. MX 10 mx.burst.test.",
    "mx.burst.test. A 127.0.0.24",
    "kill.test. MX 10 mx.kill.test.",
    "mx.kill.test. A 127.0.0.25",
    # no PIPELINING, no 8BITMIME
    "old.test. MX 10 mx.old.test.",
    "mx.old.test. A 127.0.0.26",
    # smtp-sink
    "sink.test. MX 10 mx.sink.test.",
    "mx.sink.test. A 127.0.0.30",
    # an MX host name that does not exist, and an AAAA-only one
    "v6only.test. AAAA ::1",
    # relay host and transport_maps targets by name
    "relay.test. A 127.0.0.40",
]
SERVFAIL = ["servfail.test"]
REFUSED = ["refused.test"]

MASTER = ("smtp      unix  -       -       n       -       -       smtp\n"
          "relay     unix  -       -       n       -       -       smtp\n"
          "lmtp      unix  -       -       n       -       -       lmtp\n")


def parse(raw):
    return email.message_from_bytes(raw)


class Peers(unittest.TestCase):
    """The fixtures by themselves, with smtplib as the client."""

    def test_unbound_zone(self):
        netns.Unbound(self, RECORDS, servfail=SERVFAIL, refused=REFUSED)
        self.assertEqual(netns.query("pref.test", "MX"), (0, 2))
        self.assertEqual(netns.query("mx1.pref.test", "A"), (0, 1))
        self.assertEqual(netns.query("aonly.test", "MX"), (0, 0))   # NODATA
        self.assertEqual(netns.query("nullmx.test", "MX"), (0, 1))
        self.assertEqual(netns.query("v6only.test", "AAAA"), (0, 1))
        self.assertEqual(netns.query("nx.test", "MX")[0], 3)        # NXDOMAIN
        self.assertEqual(netns.query("a.servfail.test", "MX")[0], 2)
        self.assertEqual(netns.query("a.refused.test", "MX")[0], 5)
        # through the system resolver too
        self.assertEqual(socket.gethostbyname("mx2.pref.test"), "127.0.0.12")

    def test_unbound_changes(self):
        ub = netns.Unbound(self, ["x.test. A 127.0.0.50"])
        self.assertEqual(netns.query("y.test", "A")[0], 3)
        ub.add("y.test. A 127.0.0.51")
        self.assertEqual(netns.query("y.test", "A"), (0, 1))
        ub.remove("x.test.")
        self.assertEqual(netns.query("x.test", "A")[0], 3)

    def client(self, peer, lmtp=False):
        cls = smtplib.LMTP if lmtp else smtplib.SMTP
        c = cls(timeout=WAIT)
        if peer.unix:
            c.connect(peer.unix)
        else:
            c.connect(peer.address, peer.port)
        self.addCleanup(c.close)
        return c

    def test_accepting(self):
        p = SmtpPeer("127.0.0.11", tc=self, name="mx1.pref.test", size=50000)
        c = self.client(p)
        c.ehlo("client.test")
        for ext in ("pipelining", "8bitmime", "dsn", "size"):
            self.assertTrue(c.has_extn(ext), ext)
        self.assertEqual(c.esmtp_features["size"], "50000")
        msg = b"Subject: hi\r\n\r\n.dot line\r\nbody\r\n"
        self.assertEqual(c.sendmail("a@x.test", ["b@pref.test", "c@pref.test"],
                                    msg), {})
        c.quit()
        env = p.wait_messages(1)[0]
        self.assertEqual(env.mail_from, "a@x.test")
        self.assertEqual(env.rcpts, ["b@pref.test", "c@pref.test"])
        self.assertEqual(env.data, msg)
        self.assertEqual(env.header("subject"), "hi")
        self.assertEqual(env.helo, "client.test")
        self.assertEqual(env.peer, "127.0.0.1")
        self.assertEqual(p.violations, [])

    def test_greylisting_rejecting_size(self):
        p = SmtpPeer("127.0.0.15", tc=self, greylist=True, size=100,
                     rcpt_reply={"nouser@grey.test":
                                 "550 5.1.1 <nouser@grey.test>: no such user"})
        c = self.client(p)
        c.ehlo("client.test")
        c.mail("a@x.test")
        self.assertEqual(c.rcpt("b@grey.test")[0], 450)
        self.assertEqual(c.rcpt("nouser@grey.test")[0], 550)
        c.rset()
        c.mail("a@x.test")
        self.assertEqual(c.rcpt("b@grey.test")[0], 250)
        c.rset()
        self.assertEqual(c.mail("a@x.test", ["SIZE=101"])[0], 552)
        c.mail("a@x.test")
        c.rcpt("b@grey.test")
        self.assertEqual(c.data(b"x" * 200)[0], 552)
        c.quit()
        self.assertEqual(p.messages(), [])

    def test_greeting_421(self):
        p = SmtpPeer("127.0.0.21", tc=self, greeting="421 4.3.2 busy")
        with self.assertRaises(smtplib.SMTPConnectError):
            smtplib.SMTP("127.0.0.21", 25, timeout=WAIT)
        p.wait_sessions(1)

    def test_no_pipelining_no_8bitmime(self):
        p = SmtpPeer("127.0.0.26", tc=self, pipelining=False,
                     eightbitmime=False)
        c = self.client(p)
        c.ehlo("client.test")
        self.assertFalse(c.has_extn("pipelining"))
        self.assertFalse(c.has_extn("8bitmime"))
        c.sendmail("a@x.test", ["b@old.test"], b"Subject: 8bit\r\n\r\n\xc3\xa9\r\n")
        c.quit()
        p.wait_messages(1)
        self.assertEqual([v[1] for v in p.violations],
                         ["8-bit data, 8BITMIME not announced"])
        # A client that pipelines is noticed.
        with socket.create_connection(("127.0.0.26", 25), timeout=WAIT) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@old.test>\r\n")
            poll_until("the RCPT of the second session",
                       lambda: p.commands()[-1:] == ["RCPT TO:<b@old.test>"])
        self.assertEqual([v for v in p.violations if v[0] == 2],
                         [(2, "pipelined after 'EHLO c'"),
                          (2, "pipelined after 'MAIL FROM:<a@x.test>'")])

    def test_slow_and_hold(self):
        p = SmtpPeer("127.0.0.16", tc=self, slow=0.01, hold=True)
        c = self.client(p)
        c.ehlo("client.test")
        c.mail("a@x.test")
        c.rcpt("b@x.test")
        c.putcmd("data")
        self.assertEqual(c.getreply()[0], 354)
        c.send(b"Subject: held\r\n\r\nx\r\n.\r\n")
        p.wait_held()
        self.assertEqual(p.messages(), [])
        p.release()
        self.assertEqual(c.getreply()[0], 250)
        self.assertEqual(len(p.messages()), 1)
        # A client that goes away while held leaves nothing.
        c.mail("a@x.test")
        c.rcpt("b@x.test")
        c.putcmd("data")
        c.getreply()
        c.send(b"Subject: lost\r\n\r\nx\r\n.\r\n")
        p.wait_held()
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        poll_until("the held session to end", lambda: p.held() == 0)
        self.assertEqual(len(p.messages()), 1)

    def test_lmtp(self):
        d = self.id().rsplit(".", 1)[1]
        path = "/tmp/postino-peer-%d-%s.sock" % (os.getpid(), d)
        for peer in (SmtpPeer("127.0.0.18", 24, tc=self, lmtp=True,
                              lmtp_reply={"full@x.test":
                                          "552 5.2.2 <full@x.test> over quota"}),
                     SmtpPeer(unix=path, tc=self, lmtp=True,
                              lmtp_reply={"full@x.test":
                                          "552 5.2.2 <full@x.test> over quota"})):
            c = self.client(peer, lmtp=True)
            self.assertEqual(c.docmd("EHLO", "x")[0], 500)  # not LMTP
            self.assertEqual(c.ehlo("client.test")[0], 250)  # LHLO
            c.mail("a@x.test")
            c.rcpt("ok@x.test")
            c.rcpt("full@x.test")
            c.putcmd("data")
            self.assertEqual(c.getreply()[0], 354)
            c.send(b"Subject: lmtp\r\n\r\nbody\r\n.\r\n")
            self.assertEqual(c.getreply()[0], 250)
            code, text = c.getreply()
            self.assertEqual(code, 552)
            self.assertIn(b"over quota", text)
            c.quit()
            env = peer.wait_messages(1)[0]
            self.assertEqual(env.rcpts, ["ok@x.test"])

    def test_smtp_sink(self):
        sink = SmtpSink(self, "127.0.0.30", 25)
        with smtplib.SMTP("127.0.0.30", 25, timeout=WAIT) as c:
            c.sendmail("a@x.test", ["b@sink.test"], b"Subject: sink\r\n\r\nx\r\n")
        msgs = sink.wait_messages(1)
        self.assertIn(b"X-Rcpt-Args: <b@sink.test>", msgs[0])
        self.assertIn(b"Subject: sink", msgs[0])


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_nostall_dns - DNS that never answers, and a directory that hangs,
must not stall the other sessions of smtpd (issue 9).

The test runs in a network namespace of its own (netns.py): the resolver
of everything in it is 127.0.0.1:53, where a DNS peer reads every query
and never answers (netns.DropDns), with resolv.conf "timeout:30
attempts:2" so that a lookup stays pending for a minute or more.
mynetworks is 127.0.0.1/32; smtpd_sender_restrictions =
permit_mynetworks, reject_unknown_sender_domain, so that a client from
127.0.0.2..4 sending MAIL FROM a domain under stall.test waits on DNS at
its RCPT (smtpd_delay_reject = yes), while a client from 127.0.0.1 needs
no DNS.

No timing is compared.  The tests count and order replies:

  * dns_only: three clients wait on DNS (the DNS peer has received a
    query for each of their domains); a client in mynetworks then
    completes K whole transactions (MAIL, RCPT, DATA) and every one is
    delivered, while none of the three has had its RCPT answered.  A
    server that resolves on its event loop answers nobody until the
    lookup gives up, so a waiting client is answered first.
  * ldap_and_dns (the issue's measure): with slapd stopped (SIGSTOP,
    with a search of three waiting sessions unread in its socket) and
    three more sessions waiting on DNS, 20 sessions to hash.test
    users get their RCPT answered (250) while none of the six waiting
    sessions has been answered.  RCPT times are printed (p50/p99, slapd
    running and stopped).  After SIGCONT the LDAP-waiting sessions get
    their answer and ldap.test users are accepted again.
"""
import os
import select
import statistics
import subprocess
import sys
import time
import unittest

import netns
from directories import (Slapd, people_ldif, write_hash_mailboxes,
                         write_ldap_users_cf)
from instance import Instance, RawClient, poll_until, WAIT

WAITERS = 3          # sessions waiting on DNS (and, in ldap_and_dns, on LDAP)
K = 10               # transactions of the mynetworks client
SESSIONS = 20        # hash.test sessions
LDAP_TIMEOUT = 120   # the ldap: table's timeout: longer than the test

LDIF = people_ldif(7)

MAIN = {
    "mynetworks": "127.0.0.1/32",
    "smtpd_sender_restrictions":
        "permit_mynetworks, reject_unknown_sender_domain",
}


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, -(-p * len(xs) // 100) - 1))]


def answered(clients):
    """The indexes of the clients that have a reply (or EOF) to read."""
    socks = [c.sock for c in clients]
    ready, _, _ = select.select(socks, [], [], 0)
    return [socks.index(s) for s in ready]


def waiter(i, source, sender, rcpt):
    """A session that has sent EHLO and MAIL (replies 250); its RCPT is
    sent by waiter_rcpt()."""
    c = RawClient(i.port, source, timeout=WAIT)
    assert c.reply().startswith("220"), "banner"
    r = c.cmd("EHLO waiter.test")
    assert r.startswith("250"), r
    r = c.cmd("MAIL FROM:<%s>" % sender)
    assert r.startswith("250"), r
    c.rcpt = rcpt
    return c


def waiter_rcpt(c):
    """Send the waiter's RCPT and leave its reply unread."""
    c.send("RCPT TO:<%s>\r\n" % c.rcpt)


def ldap_unread(port):
    """Bytes sent to slapd (port) that it has not read: the sum of the
    Recv-Q of its established connections."""
    r = subprocess.run(["ss", "-Htn", "state", "established",
                        "( sport = :%d )" % port],
                       capture_output=True, text=True, timeout=30)
    total = 0
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0].isdigit():
            total += int(f[0])
    return total


def rcpt(i, addr, source="127.0.0.1"):
    """One session: EHLO, MAIL, RCPT addr (timed), QUIT."""
    with i.smtp(source=source, timeout=300) as s:
        s.ehlo("client.test")
        code, text = s.mail("sender@ext.test")
        if code != 250:
            raise AssertionError("MAIL: %d %s" % (code, text))
        t = time.monotonic()
        code, text = s.rcpt(addr)
        took = time.monotonic() - t
        s.quit()
    return code, text.decode(errors="replace"), took


def closing(tc, clients):
    def close():
        for c in clients:
            c.close()
    tc.addCleanup(close)


class NoStallDns(unittest.TestCase):

    def test_dns_only(self):
        drop = netns.DropDns(tc=self)
        i = Instance(self, users=["alice"], main=MAIN)
        i.start()
        alice = i.addr("alice")
        i.send("a@local.test", alice, "Subject: warm-up\n\nhello\n")
        i.wait_maildir("alice", 1)

        clients = []
        closing(self, clients)
        for n in range(WAITERS):
            clients.append(waiter(i, "127.0.0.%d" % (n + 2),
                                  "x@c%d.stall.test" % n, alice))
        for c in clients:
            waiter_rcpt(c)
        for n in range(WAITERS):
            drop.wait_for("c%d.stall.test" % n)

        took = []
        with i.smtp(timeout=300) as s:
            s.ehlo("client.local.test")
            for k in range(K):
                self.assertEqual(answered(clients), [],
                                 "a DNS-waiting client was answered before "
                                 "transaction %d of the mynetworks client"
                                 % (k + 1))
                t = time.monotonic()
                code, text = s.mail("a@local.test")
                self.assertEqual(code, 250, text)
                code, text = s.rcpt(alice)
                self.assertEqual(code, 250, text)
                code, text = s.data("Subject: t%d\r\n\r\nhello\r\n" % k)
                self.assertEqual(code, 250, text)
                took.append(time.monotonic() - t)
        self.assertEqual(answered(clients), [],
                         "a DNS-waiting client was answered before the "
                         "mynetworks client's %d transactions ended" % K)
        print("\ntransaction time, mynetworks client, %d clients waiting "
              "on DNS: p50 %.1f ms, p99 %.1f ms (%d transactions)"
              % (WAITERS, pct(took, 50) * 1000, pct(took, 99) * 1000, K),
              file=sys.stderr)
        i.wait_maildir("alice", 1 + K)
        for c in clients:
            c.close()
        i.check_sanitizer()

    def test_ldap_and_dns(self):
        drop = netns.DropDns(tc=self)
        slapd = Slapd(self, LDIF)
        i = Instance(self, main=MAIN)
        cf = write_ldap_users_cf(os.path.join(i.conf, "ldap-users.cf"),
                                 slapd.port, LDAP_TIMEOUT)
        vmbox = write_hash_mailboxes(self, os.path.join(i.conf, "vmailbox"),
                                     SESSIONS)
        i.set_main(virtual_mailbox_domains="hash.test, ldap.test",
                   virtual_mailbox_maps="hash:%s, ldap:%s" % (vmbox, cf),
                   virtual_mailbox_base=os.path.join(i.dir, "vmail"))
        i.start()
        code, text, _ = rcpt(i, "lu1@ldap.test")
        self.assertEqual(code, 250, text)
        code, text, _ = rcpt(i, "nobody@ldap.test")
        self.assertEqual(code, 550, text)
        running = []
        for n in range(SESSIONS):
            code, text, took = rcpt(i, "hu%d@hash.test" % n)
            self.assertEqual(code, 250, text)
            running.append(took)

        slapd.pause()
        self.assertEqual(ldap_unread(slapd.port), 0)
        clients = []
        closing(self, clients)
        for n in range(WAITERS):
            clients.append(waiter(i, "127.0.0.1", "sender@ext.test",
                                  "lu%d@ldap.test" % (n + 2)))
        for n in range(WAITERS):
            clients.append(waiter(i, "127.0.0.%d" % (n + 2),
                                  "x@c%d.stall.test" % n, "hu0@hash.test"))
        for c in clients[:WAITERS]:
            waiter_rcpt(c)
        poll_until("a search waiting in stopped slapd's socket",
                   lambda: ldap_unread(slapd.port) > 0)
        for c in clients[WAITERS:]:
            waiter_rcpt(c)
        for n in range(WAITERS):
            drop.wait_for("c%d.stall.test" % n)

        stopped = []
        t0 = time.monotonic()
        for n in range(SESSIONS):
            self.assertEqual(answered(clients), [],
                             "a session waiting on LDAP (0..%d) or DNS "
                             "(%d..) was answered before hash.test session "
                             "%d" % (WAITERS - 1, WAITERS, n + 1))
            code, text, took = rcpt(i, "hu%d@hash.test" % n)
            self.assertEqual(code, 250, text)
            stopped.append(took)
        phase = time.monotonic() - t0
        self.assertEqual(answered(clients), [],
                         "a waiting session was answered before the %d "
                         "hash.test sessions ended" % SESSIONS)
        self.assertGreater(ldap_unread(slapd.port), 0)
        print("\nRCPT time, hash.test, slapd running: p50 %.2f ms, p99 %.2f "
              "ms\nRCPT time, hash.test, slapd stopped and DNS dropped, %d "
              "sessions waiting on LDAP and %d on DNS: p50 %.2f ms, p99 %.2f "
              "ms (%d sessions in %.2f s; median %.2f ms)"
              % (pct(running, 50) * 1000, pct(running, 99) * 1000, WAITERS,
                 WAITERS, pct(stopped, 50) * 1000, pct(stopped, 99) * 1000,
                 SESSIONS, phase, statistics.median(stopped) * 1000),
              file=sys.stderr)

        # slapd is back: the waiting searches are answered (250), or
        # had timed out (451 4.3.0); new lookups work without a restart.
        slapd.resume()
        for n in range(WAITERS):
            r = clients[n].reply()
            self.assertTrue(r.startswith("250") or (
                r.startswith("451") and "4.3.0" in r), r)
        poll_until("ldap.test accepted again",
                   lambda: rcpt(i, "lu1@ldap.test")[0] == 250)
        for c in clients:
            c.close()
        i.check_sanitizer()


if __name__ == "__main__":
    netns.enter(__file__, resolv_options="timeout:30 attempts:2")
    unittest.main()

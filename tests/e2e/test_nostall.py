#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_nostall - a directory that hangs must not stall the SMTP service,
and the optional lookup cache answers while it hangs.

A real slapd (scripts/lib/slapd.sh) serves virtual_mailbox_maps for
ldap.test; hash.test's users are in a hash: table.  smtpd's ldap:
table is answered by proxymap, and the check that asks waits in the
session's task (core/smtpd/smtpd_proto.c, smtpd_task).  The test measures the RCPT latency of
hash.test sessions with slapd running, then with slapd stopped (SIGSTOP)
while other clients keep sending RCPTs for ldap.test users: every
hash.test session must still succeed, each well within the LDAP timeout
(a server that waits for LDAP on its event loop would hold every session
for up to the timeout), while ldap.test recipients get 451 4.3.0 after
the timeout.  After SIGCONT, ldap.test recipients are accepted again
without restarting postino.  Latencies are printed, not compared.

The cache (postino_lookup_cache_ttl): with it on, a stopped slapd still
answers the keys it answered before (positive and negative); with it
off the same RCPT gets 451 4.3.0; the counters are logged at exit.
A missing slapd fails the test.
"""
import os
import statistics
import sys
import threading
import time
import unittest

from directories import (Slapd, people_ldif, write_hash_mailboxes,
                         write_ldap_users_cf)
from instance import Instance, poll_until, WAIT

LDAP_TIMEOUT = 3        # seconds, the ldap: table's timeout
SESSIONS = 20           # hash.test sessions per phase
LDAP_CLIENTS = 3        # clients hammering ldap.test while slapd is stopped

LDIF = people_ldif(5)


def setup(tc, cache_ttl=None):
    slapd = Slapd(tc, LDIF)
    i = Instance(tc)
    cf = write_ldap_users_cf(os.path.join(i.conf, "ldap-users.cf"),
                             slapd.port, LDAP_TIMEOUT)
    vmbox = write_hash_mailboxes(tc, os.path.join(i.conf, "vmailbox"),
                                 SESSIONS)
    main = {
        "virtual_mailbox_domains": "hash.test, ldap.test",
        "virtual_mailbox_maps": "hash:%s, proxy:ldap:%s" % (vmbox, cf),
        "virtual_mailbox_base": os.path.join(i.dir, "vmail"),
    }
    if cache_ttl is not None:
        main["postino_lookup_cache_ttl"] = cache_ttl
    i.set_main(**main)
    i.start()
    return i, slapd


def rcpt(i, addr):
    """One session: EHLO, MAIL, RCPT addr (timed), QUIT.
    Returns (code, text, seconds for the RCPT)."""
    with i.smtp(timeout=WAIT) as s:
        s.ehlo("client.test")
        code, _ = s.mail("sender@ext.test")
        if code != 250:
            raise AssertionError("MAIL: %d" % code)
        t = time.monotonic()
        code, text = s.rcpt(addr)
        took = time.monotonic() - t
        s.quit()
    return code, text.decode(errors="replace"), took


def hash_phase(tc, i):
    lat = []
    for n in range(SESSIONS):
        code, text, took = rcpt(i, "hu%d@hash.test" % n)
        tc.assertEqual(code, 250, text)
        lat.append(took)
    return lat


class NoStall(unittest.TestCase):

    def test_hash_sessions_while_ldap_hangs(self):
        i, slapd = setup(self)
        code, text, _ = rcpt(i, "lu1@ldap.test")
        self.assertEqual(code, 250, text)
        code, text, _ = rcpt(i, "nobody@ldap.test")
        self.assertEqual(code, 550, text)
        running = hash_phase(self, i)

        slapd.pause()
        stop = threading.Event()
        ldap_results = []

        def hammer(n):
            while not stop.is_set():
                ldap_results.append(rcpt(i, "lu%d@ldap.test" % (n + 2)))

        threads = [threading.Thread(target=hammer, args=(n,))
                   for n in range(LDAP_CLIENTS)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)     # let the LDAP lookups get stuck first
            t0 = time.monotonic()
            stopped = hash_phase(self, i)
            phase = time.monotonic() - t0
            # Keep the stuck lookups going until at least one has failed.
            poll_until("an ldap.test RCPT answered while slapd is stopped",
                       lambda: ldap_results, timeout=WAIT)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=WAIT * 2)
        slapd.resume()

        print("\nRCPT latency, hash.test, slapd running: median %.2f ms, "
              "max %.2f ms" % (statistics.median(running) * 1000,
                               max(running) * 1000), file=sys.stderr)
        print("RCPT latency, hash.test, slapd stopped:  median %.2f ms, "
              "max %.2f ms (%d sessions in %.2f s)"
              % (statistics.median(stopped) * 1000, max(stopped) * 1000,
                 SESSIONS, phase), file=sys.stderr)
        print("RCPT latency, ldap.test, slapd stopped: %s"
              % ", ".join("%d after %.2f s" % (c, t)
                          for c, _, t in ldap_results), file=sys.stderr)
        # A loop that waits for LDAP would make sessions wait for the
        # timeout; these bounds are far above a normal session.
        self.assertLess(max(stopped), LDAP_TIMEOUT)
        self.assertLess(phase, LDAP_TIMEOUT * SESSIONS / 4)
        for code, text, took in ldap_results:
            self.assertEqual(code, 451, text)
            self.assertIn("4.3.0", text)
            self.assertGreaterEqual(took, LDAP_TIMEOUT * 0.9)
        self.assertIn("Temporary lookup failure", ldap_results[0][1])

        # slapd is back: lookups work again without a restart.
        poll_until("ldap.test accepted again",
                   lambda: rcpt(i, "lu1@ldap.test")[0] == 250)
        self.assertNotIn("status=bounced", i.log())
        i.check_sanitizer()


class Cache(unittest.TestCase):

    def test_cache_answers_while_stopped(self):
        i, slapd = setup(self, cache_ttl="60s")
        self.assertEqual(rcpt(i, "lu1@ldap.test")[0], 250)
        self.assertEqual(rcpt(i, "nobody@ldap.test")[0], 550)
        slapd.pause()
        code, text, took = rcpt(i, "lu1@ldap.test")
        self.assertEqual(code, 250, text)           # cached positive
        code, text, took = rcpt(i, "nobody@ldap.test")
        self.assertEqual(code, 550, text)           # cached negative
        code, text, took = rcpt(i, "lu3@ldap.test")
        self.assertEqual(code, 451, text)           # never asked before
        slapd.resume()
        i.stop()
        i.wait_log(r"proxymap\[\d+\]: statistics: table ldap:\S+ldap-users\.cf: "
                   r"cache hits=[1-9]\d* misses=\d+ entries=\d+")
        i.check_sanitizer()

    def test_no_cache_tempfails(self):
        i, slapd = setup(self)
        self.assertEqual(rcpt(i, "lu1@ldap.test")[0], 250)
        slapd.pause()
        code, text, took = rcpt(i, "lu1@ldap.test")
        self.assertEqual(code, 451, text)
        self.assertIn("4.3.0", text)
        slapd.resume()
        self.assertNotIn("cache hits", i.log())


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_qmgr_sched - the queue manager's scheduling as in Postfix, with
the real local agent (tests/e2e/instance.py):

* the transports are master.cf's unix services: an admin-named service
  running local ("slow unix - n n - - local") gets mail through
  transport_maps; error, retry and discard are done by qmgr itself when
  master.cf has no service for them (or runs "error"/"discard" under any
  name): bounce with the next hop's text and DSN status, defer with it,
  and "relay=none, dsn=2.0.0, status=sent (TEXT)";
* defer_transports: mail for them waits ("deferred transport", no
  delivery attempt) until `postino flush` or `postqueue -f`;
* <transport>_destination_rate_delay: one delivery at a time to a
  destination with that pause in between (the pause is a lower bound,
  the feature itself: the test never asks for speed);
* delay_warning_time: one "delayed mail" DSN (RFC 3464, Action: delayed)
  to the sender per message, however many attempts follow.

With the smtp agent (delivery/smtp) and an aiosmtpd peer on 127.0.0.2
(transport_maps "smtp:[127.0.0.2]:PORT", no DNS):

* a dead destination: with smtp_initial_destination_concurrency = 1 one
  refused connection (dest_status=dead) is a whole failed cohort: the
  next message for it is deferred without an attempt, "delivery
  temporarily suspended: connect to ...", relay=none, while local mail
  flows; `postino flush` revives it and both are delivered once;
* postqueue -s SITE retries that site's deferred mail only;
* slow start: at window 1 the second transaction to a destination only
  begins after the first one ended (its dest_status=ok widens the
  window), with six messages waiting.

TODO(tests/e2e/test_smtp_client.py): one job per smtp connection (a
byte-per-second peer holds no other domain's mail) is covered there.
The window arithmetic is covered by tests/unit/test_qmgr_feedback.c.
"""
import asyncio
import os
import re
import subprocess
import threading
import time
import unittest

from instance import (DOMAIN, WAIT, Instance, free_port, message, poll_until,
                      program)

try:
    from aiosmtpd.controller import Controller
except ImportError:         # Debian python3-aiosmtpd (deps)
    Controller = None

MASTER_SMTP = "smtp unix - - n - - smtp\n"
PEER = "127.0.0.2"


def postmap(inst, name, text):
    path = os.path.join(inst.conf, name)
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([program("postmap"), "-c", inst.conf, "hash:" + path],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("postmap %s: %s" % (path, r.stderr))
    return "hash:" + path


def log_lines(inst, rcpt):
    return [ln for ln in inst.log().splitlines()
            if "to=<%s>" % rcpt in ln]


class TransportsTest(unittest.TestCase):

    def test_master_cf_services_and_internal_transports(self):
        i = Instance(self, users=["alice", "bob", "carol", "dave", "erin",
                                  "fred"],
                     master_extra="slow unix - n n - - local\n"
                                  "myerr unix - - n - - error\n"
                                  "myjunk unix - - n - - discard\n")
        a, b, c, d, e, f = (i.addr(u) for u in
                            ("alice", "bob", "carol", "dave", "erin",
                             "fred"))
        tm = postmap(i, "transport",
                     "%s slow:\n"
                     "%s error:5.1.1 gone away\n"
                     "%s retry:4.2.0 try again later\n"
                     "%s discard:dropped here\n"
                     "%s myerr:5.7.1 not here\n"
                     "%s myjunk:\n" % (a, b, c, d, e, f))
        i.set_main(transport_maps=tm)
        i.start()
        i.send(a, [a, b, d, e, f], message(a, a, "routes"))
        i.send(a, [c], message(a, c, "waits"))
        # An admin-named service that runs local delivers.
        i.wait_maildir("alice", 1)
        i.wait_log(r"to=<%s>.*relay=local, .*status=sent" % re.escape(a))
        # error: bounce, the next hop's DSN status and text.
        i.wait_log(r"to=<%s>, relay=none, .*dsn=5\.1\.1, status=bounced "
                   r"\(gone away\)" % re.escape(b))
        i.wait_log(r"to=<%s>, relay=none, .*dsn=5\.7\.1, status=bounced "
                   r"\(not here\)" % re.escape(e))
        # retry: defer.
        i.wait_log(r"to=<%s>, relay=none, .*dsn=4\.2\.0, status=deferred "
                   r"\(try again later\)" % re.escape(c))
        # discard: "sent", the text or the recipient's domain.
        i.wait_log(r"to=<%s>, relay=none, .*dsn=2\.0\.0, status=sent "
                   r"\(dropped here\)" % re.escape(d))
        i.wait_log(r"to=<%s>, relay=none, .*dsn=2\.0\.0, status=sent "
                   r"\(%s\)" % (re.escape(f), re.escape(DOMAIN)))
        self.assertNotIn("no delivery agent", i.log())
        # Exactly once each; only the retry recipient stays queued.
        qid = re.search(r"(\w+): from=<%s>, size=\d+, nrcpt=5 "
                        % re.escape(a), i.log())[1]
        for r in (a, b, d, e, f):
            self.assertEqual(len([ln for ln in log_lines(i, r)
                                  if ln.split(": ")[1] == qid]), 1, i.log())
        poll_until("the message in deferred/",
                   lambda: i.queue_files("deferred"))
        self.assertEqual(i.maildir_files("dave"), [])
        self.assertEqual(i.maildir_files("fred"), [])
        # One non-delivery report to the sender for both bounces, with
        # the next hops' statuses (when the message is done).
        msgs = i.wait_maildir("alice", 2)
        dsn = [m.decode(errors="replace") for m in msgs
               if b"Undelivered Mail Returned" in m]
        self.assertEqual(len(dsn), 1, msgs)
        self.assertIn("Status: 5.1.1", dsn[0])
        self.assertIn("Status: 5.7.1", dsn[0])
        self.assertNotIn(c, dsn[0])
        i.check_sanitizer()


class DeferTransportsTest(unittest.TestCase):

    def test_deferred_transport_waits_for_flush(self):
        i = Instance(self, users=["alice", "bob"],
                     main={"defer_transports": "local",
                           "queue_run_delay": "1s",
                           "minimal_backoff_time": "1s",
                           "maximal_backoff_time": "1s"})
        i.start()
        a, b = i.addr("alice"), i.addr("bob")
        i.send(a, [a], message(a, a, "first"))
        i.wait_log(r"to=<%s>, relay=none, .*dsn=4\.3\.2, "
                   r"status=deferred \(deferred transport\)" % re.escape(a))
        # Retried (queue_run_delay 1s) and deferred again: never
        # delivered without a flush.
        i.wait_log(r"to=<%s>.*status=deferred \(deferred transport\)"
                   % re.escape(a), count=3)
        self.assertEqual(i.maildir_files("alice"), [])
        i.postino("flush")
        i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        # postqueue -f does the same.
        i.send(b, [b], message(b, b, "second"))
        i.wait_log(r"to=<%s>.*status=deferred \(deferred transport\)"
                   % re.escape(b))
        r = subprocess.run([program("postqueue"), "-c", i.conf, "-f"],
                           capture_output=True, env=i.env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        i.wait_maildir("bob", 1)
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("alice")), 1)
        i.check_sanitizer()


class RateDelayTest(unittest.TestCase):

    DELAY = 2

    def test_rate_delay_spaces_deliveries(self):
        i = Instance(self, users=["alice"],
                     main={"local_destination_rate_delay":
                           "%ds" % self.DELAY})
        i.start()
        a = i.addr("alice")
        n = 3
        with i.smtp() as s:
            s.ehlo("client.example.test")
            for k in range(n):
                s.sendmail(a, [a], message(a, a, "m%d" % k).replace(
                    "\n", "\r\n").encode())
        i.wait_maildir("alice", n, timeout=WAIT + n * self.DELAY)
        times = sorted(os.stat(p).st_mtime for p in i.maildir_files("alice"))
        gaps = [t2 - t1 for t1, t2 in zip(times, times[1:])]
        # Each delivery starts DELAY seconds after the previous one
        # ended (file times are set on write: a little slack).
        for g in gaps:
            self.assertGreaterEqual(g, self.DELAY - 0.1, gaps)
        i.check_sanitizer()


class DelayWarningTest(unittest.TestCase):

    def test_one_delay_warning_per_message(self):
        i = Instance(self, users=["alice", "bob"],
                     main={"delay_warning_time": "1s",
                           "queue_run_delay": "1s",
                           "minimal_backoff_time": "1s",
                           "maximal_backoff_time": "1s"})
        a, b = i.addr("alice"), i.addr("bob")
        tm = postmap(i, "transport", "%s retry:4.2.0 mailbox busy\n" % b)
        i.set_main(transport_maps=tm)
        i.start()
        i.send(a, [b], message(a, b, "wait for it"))
        msgs = i.wait_maildir("alice", 1)
        text = msgs[0].decode(errors="replace")
        self.assertIn("Subject: Delayed Mail (still being retried)", text)
        self.assertIn("report-type=delivery-status", text)
        self.assertRegex(text, r"Final-Recipient: rfc822; ?%s" % re.escape(b))
        self.assertIn("Action: delayed", text)
        self.assertIn("Status: 4.2.0", text)
        self.assertIn("mailbox busy", text)
        self.assertRegex(i.log(), r"sender delay notification: [0-9A-F]+")
        # More attempts: no second warning.
        base = len(log_lines(i, b))
        i.wait_log(r"to=<%s>.*status=deferred" % re.escape(b),
                   count=base + 3)
        self.assertEqual(len(i.maildir_files("alice")), 1)
        self.assertEqual(len(re.findall(r"sender delay notification",
                                        i.log())), 1, i.log())
        i.check_sanitizer()


class Peer:
    """An aiosmtpd receiver that records each transaction's MAIL and
    end-of-DATA times (DATA answered after hold seconds)."""

    def __init__(self, hold=0.0):
        self.hold = hold
        self.lock = threading.Lock()
        self.tx = []            # [mail_time, data_end_time or None, rcpts]

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        with self.lock:
            session.tx = [time.monotonic(), None, []]
            self.tx.append(session.tx)
        return "250 2.1.0 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.hold:
            await asyncio.sleep(self.hold)
        with self.lock:
            session.tx[1] = time.monotonic()
            session.tx[2] = list(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued as PEER"

    def done(self):
        with self.lock:
            return [t for t in self.tx if t[1] is not None]


def start_peer(tc, port, hold=0.0):
    if Controller is None:
        tc.fail("python3-aiosmtpd is missing")
    peer = Peer(hold)
    ctl = Controller(peer, hostname=PEER, port=port,
                     server_hostname="peer.test")
    ctl.start()
    tc.addCleanup(ctl.stop)
    return peer


def smtp_instance(tc, main, users=("alice",)):
    port = free_port()
    i = Instance(tc, users=list(users), master_extra=MASTER_SMTP)
    tm = postmap(i, "transport", "peer.test smtp:[%s]:%d\n" % (PEER, port))
    conf = {"transport_maps": tm, "minimal_backoff_time": "300s",
            "maximal_backoff_time": "300s", "queue_run_delay": "300s"}
    conf.update(main)
    i.set_main(**conf)
    return i, port


class DeadDestinationTest(unittest.TestCase):

    def test_dead_destination_suspended_until_flush(self):
        i, port = smtp_instance(
            self, {"smtp_initial_destination_concurrency": "1"})
        i.start()
        a = i.addr("alice")
        i.send(a, ["one@peer.test"], message(a, "one@peer.test", "first"))
        refused = i.wait_log(r"to=<one@peer\.test>, relay=none, .*"
                             r"status=deferred \(connect to ")
        self.assertTrue(refused)
        i.send(a, ["two@peer.test"], message(a, "two@peer.test", "second"))
        i.wait_log(r"to=<two@peer\.test>, relay=none, .*dsn=4\.\d\.\d+, "
                   r"status=deferred \(delivery temporarily suspended: "
                   r"connect to %s\[%s\]:%d: " % (re.escape(PEER),
                                                 re.escape(PEER), port))
        # No attempt was made for it: one refused connection only.
        self.assertEqual(len(re.findall(r"status=deferred \(connect to ",
                                        i.log())), 1, i.log())
        # Other destinations are not held up.
        i.send(a, [a], message(a, a, "local"))
        i.wait_maildir("alice", 1)
        # The destination comes back; a flush revives it.
        peer = start_peer(self, port)
        i.postino("flush")
        poll_until("two messages at the peer", lambda: len(peer.done()) >= 2)
        i.wait_log(r"to=<one@peer\.test>, relay=%s.*status=sent"
                   % re.escape(PEER))
        i.wait_log(r"to=<two@peer\.test>, relay=%s.*status=sent"
                   % re.escape(PEER))
        i.wait_queue_empty()
        self.assertEqual(sorted(r for t in peer.done() for r in t[2]),
                         ["one@peer.test", "two@peer.test"])
        i.check_sanitizer()


class SiteFlushTest(unittest.TestCase):

    def test_etrn_restrictions(self):
        """smtpd_etrn_restrictions with check_etrn_access: the domain (or
        a parent) decides; a refused ETRN flushes nothing."""
        i = Instance(self, users=["alice"],
                     main={"fast_flush_domains": "a.test, b.test"})
        acl = postmap(i, "etrn_access", "b.test REJECT not for you\n")
        i.set_main(smtpd_etrn_restrictions="check_etrn_access " + acl
                   + ", permit")
        i.start()
        c = i.smtp()
        c.ehlo("client.test")
        code, text = c.docmd("ETRN", "b.test")
        self.assertEqual(code, 554, text)
        self.assertIn(b"<b.test>: Etrn command rejected: not for you", text)
        self.assertEqual(c.docmd("ETRN", "a.test")[0], 250)
        c.quit()
        i.wait_log(r"NOQUEUE: reject: ETRN from \S+: 554 5\.7\.1 "
                   r"<b\.test>: Etrn command rejected: not for you")

    def test_postqueue_s_retries_one_site(self):
        """postqueue -s SITE retries the deferred mail for that site
        only (the other site's message stays in deferred/)."""
        p1, p2 = free_port(), free_port()
        i = Instance(self, users=["alice"], master_extra=MASTER_SMTP,
                     main={"minimal_backoff_time": "300s",
                           "maximal_backoff_time": "300s",
                           "queue_run_delay": "300s",
                           # the sites postqueue -s may flush (subdomains
                           # too: parent_domain_matches_subdomains)
                           "fast_flush_domains": "a.test, b.test"})
        tm = postmap(i, "transport",
                     "a.test smtp:[%s]:%d\nb.test smtp:[%s]:%d\n"
                     % (PEER, p1, PEER, p2))
        i.set_main(transport_maps=tm)
        i.start()
        a = i.addr("alice")
        i.send(a, ["x@a.test"], message(a, "x@a.test", "for a"))
        i.send(a, ["y@b.test"], message(a, "y@b.test", "for b"))
        for r in ("x@a.test", "y@b.test"):
            i.wait_log(r"to=<%s>, relay=none, .*status=deferred"
                       % re.escape(r))
        poll_until("both messages in deferred/",
                   lambda: len(i.queue_files("deferred")) == 2)
        b_file = [p for p in i.queue_files("deferred")
                  if b"y@b.test" in open(p, "rb").read()]
        self.assertEqual(len(b_file), 1)
        peers = [start_peer(self, p1), start_peer(self, p2)]

        def postqueue_s(site):
            r = subprocess.run([program("postqueue"), "-c", i.conf, "-s",
                                site], capture_output=True, env=i.env(),
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)

        r = subprocess.run([program("postqueue"), "-c", i.conf, "-s",
                            "c.test"], capture_output=True, env=i.env(),
                           timeout=60)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn(b'Flush service is not configured for destination '
                      b'"c.test"', r.stderr)
        postqueue_s("a.test")
        i.wait_log(r"to=<x@a\.test>, relay=%s.*status=sent" % re.escape(PEER))
        # qmgr moved the site's messages before any delivery: b.test's
        # is still waiting.
        self.assertTrue(os.path.exists(b_file[0]), i.queue_files())
        self.assertEqual(peers[1].done(), [])
        # ETRN (RFC 1985) does the same through smtpd.
        c = i.smtp()
        c.ehlo("client.test")
        self.assertIn("etrn", c.esmtp_features)
        c.mail("a@client.test")
        self.assertEqual(c.docmd("ETRN", "b.test"),
                         (503, b"5.5.1 Error: MAIL transaction in progress"))
        c.rset()
        self.assertEqual(c.docmd("ETRN", "c.test"),
                         (459, b"4.3.0 <c.test>: service unavailable"))
        self.assertEqual(c.docmd("ETRN", "bad..test;x")[0], 501)
        self.assertEqual(c.docmd("ETRN", "b.test"),
                         (250, b"2.0.0 Queuing started"))
        c.quit()
        i.wait_log(r"warning: reject: ETRN c\.test\.\.\. from "
                   r"\S+\[127\.0\.0\.1\]")
        i.wait_log(r"to=<y@b\.test>, relay=%s.*status=sent" % re.escape(PEER))
        i.wait_queue_empty()
        self.assertEqual([len(p.done()) for p in peers], [1, 1])
        i.check_sanitizer()


class MaxprocTest(unittest.TestCase):

    def test_admin_smtp_service_maxproc_bounds_connections(self):
        """An admin-named service running smtp is a transport, and its
        maxproc (1) bounds its connections: deliveries to two
        destinations never overlap."""
        p1, p2 = free_port(), free_port()
        i = Instance(self, users=["alice"],
                     master_extra="slow unix - - n - 1 smtp\n")
        tm = postmap(i, "transport",
                     "one.test slow:[%s]:%d\ntwo.test slow:[%s]:%d\n"
                     % (PEER, p1, PEER, p2))
        i.set_main(transport_maps=tm)
        peers = [start_peer(self, p1, hold=1.0),
                 start_peer(self, p2, hold=1.0)]
        i.start()
        a = i.addr("alice")
        with i.smtp() as s:
            s.ehlo("client.example.test")
            for k in range(2):
                for dom in ("one.test", "two.test"):
                    r = "r%d@%s" % (k, dom)
                    s.sendmail(a, [r], message(a, r, "m").replace(
                        "\n", "\r\n").encode())
        poll_until("4 messages at the peers",
                   lambda: sum(len(p.done()) for p in peers) >= 4,
                   timeout=WAIT + 8)
        for p in (p1, p2):
            i.wait_log(r"relay=%s\[%s\]:%d, .*status=sent"
                       % (re.escape(PEER), re.escape(PEER), p), count=2)
        tx = sorted(t for p in peers for t in p.done())
        for t1, t2 in zip(tx, tx[1:]):
            self.assertGreaterEqual(t2[0], t1[1], tx)
        i.wait_queue_empty()
        i.check_sanitizer()


class SlowStartTest(unittest.TestCase):

    def test_second_transaction_waits_for_positive_feedback(self):
        i, port = smtp_instance(
            self, {"smtp_initial_destination_concurrency": "1",
                   "smtp_connection_cache_on_demand": "no",
                   "destination_concurrency_feedback_debug": "yes"})
        peer = start_peer(self, port, hold=1.0)
        n = 6
        # The first transaction holds DATA for a second: the others are
        # queued for the destination meanwhile.
        i.start()
        a = i.addr("alice")
        with i.smtp() as s:
            s.ehlo("client.example.test")
            for k in range(n):
                s.sendmail(a, ["r%d@peer.test" % k], message(
                    a, "r%d@peer.test" % k, "m%d" % k).replace(
                        "\n", "\r\n").encode())
        poll_until("%d messages at the peer" % n,
                   lambda: len(peer.done()) >= n, timeout=WAIT + n * 2)
        tx = sorted(peer.done())
        # Window 1: the second transaction begins after the first ended.
        self.assertGreaterEqual(tx[1][0], tx[0][1], tx)
        # destination_concurrency_feedback_debug shows the window grow.
        i.wait_log(r"positive feedback: queue smtp:\[%s\]:%d: limit 20 "
                   r"window 2 " % (re.escape(PEER), port))
        i.wait_queue_empty()
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

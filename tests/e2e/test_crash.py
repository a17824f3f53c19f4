#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_crash - kill -9 while mail flows: no accepted message is lost.

Ten client sessions send 500 messages, each with a unique X-Token header,
while a killer thread SIGKILLs random processes of the instance: smtpd,
qmgr, local and the master itself (then `postino start` again, as an
administrator would).  Clients retry what was not accepted.  After the
killing stops, the instance runs until the queue is empty; every token
that got "250 ... queued as" must be in the Maildir: no loss.  Each
SMTP transaction also carries a unique X-Attempt header: two copies of
one attempt are a delivery made twice (a crash between the Maildir fsync
and qmgr's record, the repeated delivery not recognising the earlier
copy), and the test fails on any.  Copies of different attempts of one
token are the client's own resends after a reply lost to a kill of
smtpd or the master (queued, but the 250 never arrived: RFC 5321 section
6.1 accepts that duplicate); they are counted and shown, not failed on.

Bounded: a fixed plan of 30 kills, a fixed number of attempts per message,
a deadline for the clients and for the final delivery.
"""
import os
import random
import re
import signal
import smtplib
import threading
import time
import unittest

from instance import Instance, message, poll_until

SESSIONS = 10
PER_SESSION = 50
ATTEMPTS = 60           # per message
CLIENT_DEADLINE = 400   # seconds, all clients together
DELIVERY_WAIT = 300     # seconds, after the killing


class Crash(unittest.TestCase):

    def test_kill_9_under_load(self):
        i = Instance(self, users=["alice"],
                     main={"minimal_backoff_time": "1s",
                           "maximal_backoff_time": "2s",
                           "queue_run_delay": "1s",
                           "service_throttle_time": "1s",
                           "transport_retry_time": "5s"})
        i.start()
        rnd = random.Random(int(os.environ.get("POSTINO_CRASH_SEED",
                                               time.time())))
        accepted = set()
        lock = threading.Lock()
        done = threading.Event()
        deadline = time.monotonic() + CLIENT_DEADLINE
        failures = []

        def client(n):
            s = None
            for k in range(PER_SESSION):
                # Message k waits for kill number k * len(plan) / 50 of
                # the plan: the kills are spread over the whole sending.
                with progress:
                    progress.wait_for(
                        lambda: killing_over.is_set()
                        or steps[0] >= k * len(plan) // PER_SESSION,
                        timeout=60)
                token = "tok-%d-%d" % (n, k)
                for a in range(ATTEMPTS):
                    msg = message("sender@ext.test", i.addr("alice"),
                                  "crash %s" % token, "body %s\n" % token,
                                  {"X-Token": token,
                                   "X-Attempt": "%s.%d" % (token, a)})
                    if time.monotonic() > deadline:
                        failures.append("client %d: deadline" % n)
                        return
                    try:
                        if s is None:
                            s = i.smtp(timeout=30)
                            s.ehlo("crash%d.example.test" % n)
                        s.sendmail("sender@ext.test", [i.addr("alice")],
                                   msg.replace("\n", "\r\n"))
                        with lock:
                            accepted.add(token)
                        break
                    except (OSError, smtplib.SMTPException):
                        try:
                            if s is not None:
                                s.close()
                        except OSError:
                            pass
                        s = None
                        time.sleep(0.1)
                else:
                    failures.append("client %d: %s never accepted"
                                    % (n, token))
            if s is not None:
                try:
                    s.quit()
                except (OSError, smtplib.SMTPException):
                    pass

        kills = []

        plan = (["smtpd"] * 9 + ["qmgr"] * 9 + ["local"] * 9
                + ["master"] * 3)
        rnd.shuffle(plan)

        killing_over = threading.Event()
        progress = threading.Condition()
        steps = [0]             # plan steps done

        def killer():
            try:
                kill_all()
            finally:
                with progress:
                    killing_over.set()
                    progress.notify_all()

        def kill_all():
            for target in plan:
                with progress:
                    steps[0] += 1
                    progress.notify_all()
                if done.wait(rnd.uniform(0.05, 0.3)):
                    return
                pids = []
                for _ in range(20):
                    pids = list(i.processes(target))
                    if pids or done.wait(0.1):
                        break
                if not pids:
                    continue
                pid = rnd.choice(pids)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                kills.append(target)
                if target == "master":
                    # What an administrator does: start it again.
                    poll_until("the killed master to go",
                               lambda: not i.master_pid(), timeout=30)
                    i.postino("start")

        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(SESSIONS)]
        kt = threading.Thread(target=killer)
        kt.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=CLIENT_DEADLINE + 60)
        done.set()
        kt.join(timeout=120)
        self.assertFalse(kt.is_alive() or any(t.is_alive() for t in threads),
                         "a thread hung")
        self.assertEqual(failures, [])
        # Each kind was killed (the plan runs while the clients send).
        self.assertEqual(sorted(set(kills)),
                         ["local", "master", "qmgr", "smtpd"], kills)

        # Recovery: the instance runs, the queue drains.
        if not i.master_pid():
            i.postino("start")
        i.postino("flush")
        seen = {}
        counts = {}
        attempts = {}

        def scan():
            for p in i.maildir_files("alice"):
                if p in seen:
                    continue
                with open(p, "rb") as f:
                    text = f.read()
                m = re.search(rb"^X-Token: (\S+)", text, re.M)
                a = re.search(rb"^X-Attempt: (\S+)", text, re.M)
                if a:
                    key = a.group(1).decode()
                    attempts[key] = attempts.get(key, 0) + 1
                seen[p] = m.group(1).decode() if m else None
                if m:
                    counts[seen[p]] = counts.get(seen[p], 0) + 1
            return accepted <= set(counts)

        try:
            poll_until("every accepted message delivered", scan,
                       timeout=DELIVERY_WAIT, interval=0.5)
        except AssertionError:
            lost = sorted(accepted - set(counts))
            self.fail("%d of %d accepted messages lost (kills: %s): %s"
                      "\nqueue: %s" % (len(lost), len(accepted), kills,
                                       lost[:20], i.queue_files()))
        i.wait_queue_empty(timeout=DELIVERY_WAIT)
        scan()
        self.assertEqual(len(accepted), SESSIONS * PER_SESSION)
        self.assertNotIn(None, seen.values())
        self.assertEqual(set(counts), accepted)
        # Nothing was thrown away as corrupt.
        self.assertEqual(i.queue_files("corrupt", complete=False), [])
        dups = sum(c - 1 for c in attempts.values())
        resent = sum(c - 1 for c in counts.values()) - dups
        print("\ncrash test: %d accepted, %d delivered, %d delivered twice, "
              "%d resent by the client after a lost reply, kills: %s"
              % (len(accepted), len(seen), dups, resent,
                 {k: kills.count(k) for k in set(kills)}))
        twice = sorted(t for t, c in attempts.items() if c > 1)
        self.assertEqual(dups, 0, "delivered more than once: %s" % twice[:20])
        self.assertEqual(sum(attempts.values()), len(seen))


if __name__ == "__main__":
    unittest.main()

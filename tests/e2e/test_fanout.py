#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_fanout - a message for many local recipients: what qmgr and local
make durable, and how often.

With local_destination_recipient_limit = 1 every local recipient is its
own destination, so a message for 30 local users is 30 jobs.  The tests
run a whole instance (tests/e2e/instance.py) with its daemons under
`strace -f -y -e trace=fsync,fdatasync` and check:

* every recipient gets exactly one copy, and the log says so;
* qmgr does not fsync the queue file for each finished job (it used to:
  29 journal commits in a row on its event loop for a 30-recipient
  message, the cap on fan-out throughput): when every recipient is sent,
  the file is removed and no mark is fsync'd at all;
* the jobs of different destinations share the agents' commits: fewer
  fsyncs of Maildir/new than deliveries (one per job before: a
  connection carried one destination's jobs at a time);
* when a recipient is deferred, the recipients already delivered are
  marked done, and that mark is fsync'd before the message goes to
  deferred/; after `postino flush` only the deferred one is tried again.

Needs root (Instance) and strace (skips with 77 without it).
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

from instance import DOMAIN, WAIT, Instance, message, poll_until, program

STRACE = shutil.which("strace")
NRCPT = 30
CALL = re.compile(r"^(\d+)\s+(?:fsync|fdatasync)\(\d+<([^>]*)>")
RESUMED = re.compile(r"^(\d+)\s+<\.\.\. (?:fsync|fdatasync) resumed>")
DONE = re.compile(r"\)\s+=\s+0$")


class Tracer:
    """The instance started under strace -f: the master and every process
    it ever starts are traced until the instance stops (strace exits with
    the last of them, so its output is then complete)."""

    def __init__(self, tc, inst):
        self.inst = inst
        self.out = os.path.join(inst.dir, "strace.out")
        inst.postino("check")
        argv = [STRACE, "-f", "-qq", "-y", "-o", self.out, "-e",
                "trace=fsync,fdatasync", program("postino"), "-c",
                inst.conf, "start"]
        self.proc = subprocess.Popen(argv, env=inst.env(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        tc.addCleanup(self.stop)
        poll_until("smtpd listening on port %d" % inst.port, inst.listening)

    def stop(self):
        self.inst.stop()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def syncs(self):
        """[(pid, path)] of the successful fsync/fdatasync calls, once the
        instance has stopped."""
        self.stop()
        out = []
        pending = {}
        with open(self.out) as f:
            for line in f:
                line = line.rstrip("\n")
                m = CALL.match(line)
                if m and line.endswith("<unfinished ...>"):
                    pending[m.group(1)] = m.group(2)
                elif m and DONE.search(line):
                    out.append((int(m.group(1)), m.group(2)))
                else:
                    m = RESUMED.match(line)
                    if m and m.group(1) in pending and DONE.search(line):
                        out.append((int(m.group(1)), pending.pop(m.group(1))))
        return out


def fanout_instance(tc, extra_aliases=""):
    """An instance with aliases f00..f29 for alice, started under strace."""
    i = Instance(tc, users=["alice"])
    i.write_aliases("".join("f%02d: {alice}\n" % n for n in range(NRCPT))
                    + extra_aliases)
    return i, Tracer(tc, i)


def original_recipients(raw_messages):
    out = []
    for raw in raw_messages:
        head = raw.split(b"\n\n", 1)[0].decode(errors="replace")
        m = re.search(r"^X-Original-To: <?([^>\s]+)>?", head, re.M)
        out.append(m.group(1).lower() if m else None)
    return sorted(out)


class FanOut(unittest.TestCase):

    def setUp(self):
        if STRACE is None:
            print("strace is not installed: skipping", file=sys.stderr)
            sys.exit(77)

    def test_thirty_recipients(self):
        i, tr = fanout_instance(self)
        rcpts = ["f%02d@%s" % (n, DOMAIN) for n in range(NRCPT)]
        self.assertEqual(i.send("sender@ext.test", rcpts,
                                message("sender@ext.test", rcpts[0],
                                        "fan-out")), {})
        msgs = i.wait_maildir("alice", NRCPT)
        i.wait_queue_empty()
        i.wait_log(r"status=sent", NRCPT)
        syncs = tr.syncs()
        # Exactly one copy per recipient.
        self.assertEqual(len(i.maildir_files("alice")), NRCPT)
        self.assertEqual(original_recipients(msgs), sorted(rcpts))
        self.assertEqual(len(re.findall(r"status=sent", i.log())), NRCPT)
        active = [p for _pid, p in syncs
                  if p.startswith(os.path.join(i.queue, "active") + "/")]
        self.assertEqual(active, [], "qmgr fsync'd done marks of a message "
                         "whose recipients were all sent")
        newdir = os.path.join(i.user_home("alice"), "Maildir", "new")
        dir_syncs = [p for _pid, p in syncs if p.rstrip("/") == newdir]
        files = [p for _pid, p in syncs
                 if p.startswith(os.path.join(i.user_home("alice"),
                                              "Maildir", "tmp") + "/")]
        self.assertEqual(len(files), NRCPT, syncs)
        self.assertGreaterEqual(len(dir_syncs), 1)
        self.assertLess(len(dir_syncs), NRCPT,
                        "every delivery committed on its own: no group "
                        "commit across destinations")

    def test_deferred_recipient_keeps_the_others_done(self):
        i, tr = fanout_instance(self, "later: \"|exit 75\"\n")
        rcpts = ["f00@" + DOMAIN, "f01@" + DOMAIN, "later@" + DOMAIN]
        self.assertEqual(i.send("sender@ext.test", rcpts,
                                message("sender@ext.test", rcpts[0],
                                        "partly deferred")), {})
        i.wait_maildir("alice", 2)
        i.wait_log(r"to=<later@%s>.*status=deferred" % re.escape(DOMAIN))
        poll_until("the message in deferred/",
                   lambda: len(i.queue_files("deferred")) == 1)
        qid = os.path.basename(i.queue_files("deferred")[0])
        # Tried again: only the deferred recipient (still deferred).
        i.postino("flush")
        i.wait_log(r"to=<later@%s>.*status=deferred" % re.escape(DOMAIN), 2)
        self.assertEqual(original_recipients(i.maildir_messages("alice")),
                         sorted(rcpts[:2]))
        self.assertEqual(len(re.findall(r"status=sent", i.log())), 2)
        syncs = tr.syncs()
        marked = [p for _pid, p in syncs
                  if p == os.path.join(i.queue, "active", qid)]
        self.assertGreaterEqual(len(marked), 1, "the done marks were never "
                                "made durable before the move to deferred/")


if __name__ == "__main__":
    unittest.main()

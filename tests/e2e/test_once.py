#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_once - a delivery repeated after a crash does not deliver twice
into a Maildir.

Deterministic crashes, placed with the LD_PRELOAD shim (fsync_shim.c):
- local is SIGKILLed right after it made a Maildir file durable (fsync of
  new/), before it could report "sent": qmgr defers, retries, and the
  retry finds the copy in new/;
- the same, but the whole instance dies with it, a mail reader moves the
  copy to cur/ (adding flags) before the restart: the redelivery after
  recovery finds it in cur/;
- qmgr is SIGKILLed (with the whole instance) after the delivery was
  reported, before it removed the queue file: after a restart the
  message is delivered again from active/, and the copy (moved to cur/
  by a reader meanwhile) is recognised.
Each time the Maildir holds exactly one copy, and the log says the copy
of the earlier attempt was recognised.
"""
import os
import re
import signal
import unittest

from instance import Instance, message, poll_until
from shim import read_logs, shim_dir, shim_preload

MAIN = {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        "queue_run_delay": "1s", "service_throttle_time": "1s"}


class Once(unittest.TestCase):

    def instance(self, kill, whole=False):
        i = Instance(self, users=["alice"], main=MAIN)
        d = shim_dir(i)
        settings = {"FSHIM_KILL": kill,
                    "FSHIM_KILL_FLAG": os.path.join(d, "kill.flag")}
        if whole:
            settings["FSHIM_KILL_STOP"] = "1"
        shim_preload(i, d, **settings)
        i.start()
        return i, d

    def send(self, i, token):
        with i.smtp() as s:
            s.ehlo("client.example.test")
            s.sendmail("sender@ext.test", [i.addr("alice")],
                       message("sender@ext.test", i.addr("alice"),
                               "once", "body %s\n" % token,
                               {"X-Token": token}).replace("\n", "\r\n"))

    def killed(self, d):
        return [ev for _, _, events in read_logs(d) for ev in events
                if ev.startswith("kill after ")]

    def crash_all(self, i):
        """What is left of the instance dies too (a machine crash)."""
        for _ in range(50):
            procs = i.processes()
            if not procs:
                return
            for pid in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            poll_until("killed processes to go",
                       lambda: not set(procs) & set(i.processes()))
        self.fail("the instance does not die: %s" % i.processes())

    def reader_moves_to_cur(self, i):
        """A mail reader takes the new message (new/X -> cur/X:2,S)."""
        new = i.maildir("alice", "new")
        cur = i.maildir("alice", "cur")
        names = os.listdir(new)
        self.assertEqual(len(names), 1, names)
        os.rename(os.path.join(new, names[0]),
                  os.path.join(cur, names[0] + ":2,S"))

    def assert_one_copy(self, i, token):
        i.wait_queue_empty()
        texts = i.maildir_messages("alice")
        copies = [t for t in texts if ("X-Token: %s" % token).encode() in t]
        self.assertEqual(len(copies), 1, i.maildir_files("alice"))
        self.assertEqual(len(texts), 1)
        i.wait_log(r"status=sent \(delivered to maildir \(by an earlier "
                   r"attempt: (new|cur)/")

    def test_agent_killed_after_commit(self):
        i, d = self.instance("local:fsync:/Maildir/new$")
        self.send(i, "tok-agent")
        poll_until("local to be killed", lambda: self.killed(d))
        i.wait_log(r"lost connection with delivery agent")
        self.assert_one_copy(i, "tok-agent")

    def test_agent_and_all_killed_reader_moved_it(self):
        i, d = self.instance("local:fsync:/Maildir/new$", whole=True)
        self.send(i, "tok-all")
        poll_until("local to be killed", lambda: self.killed(d))
        self.crash_all(i)
        self.reader_moves_to_cur(i)
        i.postino("start")
        self.assert_one_copy(i, "tok-all")
        self.assertEqual(os.listdir(i.maildir("alice", "new")), [])

    def test_qmgr_killed_before_removing_the_file(self):
        i, d = self.instance("qmgr:unlink:/active/", whole=True)
        self.send(i, "tok-qmgr")
        poll_until("qmgr to be killed", lambda: self.killed(d))
        self.crash_all(i)
        self.assertTrue(os.listdir(os.path.join(i.queue, "active")))
        self.reader_moves_to_cur(i)
        i.postino("start")
        self.assert_one_copy(i, "tok-qmgr")
        self.assertTrue(re.search(r"by an earlier attempt: cur/", i.log()))


if __name__ == "__main__":
    unittest.main()

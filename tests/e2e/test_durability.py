#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_durability - the order of writes, fsyncs and replies, recorded
by an LD_PRELOAD shim (fsync_shim.c) in the real daemons of an instance.

- smtpd says "250 ... queued as ID" only after the queue file was
  fsynced, then its directory, then marked complete (mode 0700), then
  fsynced again; never complete before it is durable.
- local reports "sent" to qmgr only after the Maildir file was fsynced
  before its link into new/, and new/ fsynced after the link.
- Negative controls: the same checks, on instances where the shim turns
  chosen fsyncs into no-ops, must find the missing fsyncs (so the checks
  can fail: deleting an fsync from the code fails this test).
- A queue file whose fsync fails (EIO) was never marked complete, the
  client gets 4xx, and qmgr never delivers that message.
"""
import os
import re
import unittest

from instance import Instance, message
from shim import (check_agent, check_agent_mbox, check_smtpd, read_logs,
                  shim_dir, shim_preload)

COUNT = 4


class Durability(unittest.TestCase):

    def run_instance(self, main=None, mbox=False, **faults):
        """An instance under the shim; COUNT messages to alice; returns
        (instance, shim logs)."""
        i = Instance(self, users=["alice"], main=main)
        d = shim_dir(i)
        shim_preload(i, d, **faults)
        i.start()
        with i.smtp() as s:
            s.ehlo("client.example.test")
            for n in range(COUNT):
                s.sendmail("sender@ext.test", [i.addr("alice")],
                           message("sender@ext.test", i.addr("alice"),
                                   "durable %d" % n).replace("\n", "\r\n"))
        if mbox:
            i.wait_log(r"status=sent \(delivered to mailbox\)", COUNT)
        else:
            i.wait_maildir("alice", COUNT)
        i.wait_queue_empty()
        return i, read_logs(d)

    def test_order(self):
        _, logs = self.run_instance()
        problems, checked = check_smtpd(logs)
        self.assertEqual(problems, [])
        self.assertEqual(checked, COUNT, logs)
        problems, checked = check_agent(logs)
        self.assertEqual(problems, [])
        self.assertEqual(checked, COUNT, logs)

    def test_mbox_order(self):
        i, logs = self.run_instance(main={"home_mailbox": "Mailbox"},
                                    mbox=True)
        mbox = os.path.join(i.user_home("alice"), "Mailbox")
        problems, checked = check_agent_mbox(logs, mbox)
        self.assertEqual(problems, [])
        self.assertEqual(checked, COUNT, logs)
        # Negative control: the same check sees a missing fsync.
        i, logs = self.run_instance(main={"home_mailbox": "Mailbox"},
                                    mbox=True, FSHIM_SKIP="/Mailbox$")
        mbox = os.path.join(i.user_home("alice"), "Mailbox")
        problems, checked = check_agent_mbox(logs, mbox)
        self.assertEqual(len(problems), COUNT, problems)

    def test_missing_file_fsyncs_are_seen(self):
        # Queue files and Maildir files not fsynced: both checks fail.
        _, logs = self.run_instance(FSHIM_SKIP="/incoming/|/Maildir/tmp/")
        problems, checked = check_smtpd(logs)
        self.assertEqual(checked, COUNT)
        self.assertEqual(len([p for p in problems if "250 before the queue "
                              "file was fsynced" in p]), COUNT, problems)
        problems, checked = check_agent(logs)
        self.assertEqual(checked, COUNT)
        self.assertEqual(len([p for p in problems if "before its fsync"
                              in p]), COUNT, problems)

    def test_missing_directory_fsyncs_are_seen(self):
        # Directories not fsynced: both checks fail.
        _, logs = self.run_instance(FSHIM_SKIP="/incoming$|/Maildir/new$")
        problems, checked = check_smtpd(logs)
        self.assertEqual(checked, COUNT)
        self.assertEqual(len([p for p in problems if "directory was "
                              "fsynced" in p]), COUNT, problems)
        problems, checked = check_agent(logs)
        self.assertEqual(checked, COUNT)
        self.assertTrue(any("reported before" in p for p in problems),
                        problems)

    def test_failed_fsync_is_never_complete(self):
        i = Instance(self, users=["alice"])
        d = shim_dir(i)
        # The first fsync of a queue file fails (once).
        shim_preload(i, d, FSHIM_EIO="/incoming/",
                     FSHIM_EIO_FLAG=os.path.join(d, "eio.flag"))
        i.start()
        with i.smtp() as s:
            s.ehlo("client.example.test")
            first = message("sender@ext.test", i.addr("alice"), "first",
                            "token-first\n")
            code = None
            try:
                s.sendmail("sender@ext.test", [i.addr("alice")],
                           first.replace("\n", "\r\n"))
                code = 250
            except Exception as e:
                code = getattr(e, "smtp_code", None)
            self.assertIsNotNone(code)
            self.assertTrue(400 <= code < 500, code)
            s.rset()
            s.sendmail("sender@ext.test", [i.addr("alice")],
                       message("sender@ext.test", i.addr("alice"), "second",
                               "token-second\n").replace("\n", "\r\n"))
        msgs = i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        # The refused message was never complete: mode 0600 when its
        # fsync failed, never chmod 0700 afterwards, and never delivered.
        eio = [(ev, events) for _, _, events in read_logs(d)
               for ev in events if ev.startswith("fsync-eio ")]
        self.assertEqual(len(eio), 1, eio)
        ev, events = eio[0]
        m = re.match(r"fsync-eio (\S+) mode=(\d+)$", ev)
        self.assertEqual(m.group(2), "0600", ev)
        path = m.group(1)
        self.assertEqual([e for e in events if e.startswith("fchmod %s 0700"
                                                            % path)], [])
        self.assertFalse(os.path.exists(path))
        self.assertEqual(len(msgs), 1)
        self.assertIn(b"token-second", msgs[0])
        self.assertNotIn(b"token-first", b"".join(i.maildir_messages("alice")))


if __name__ == "__main__":
    unittest.main()

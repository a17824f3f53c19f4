#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_showq - mailq / postqueue -p / -j for users who may not read the
queue, through the showq daemon (public/showq).

The instance's sbin/ holds a copy of postqueue made set-gid setgid_group
(nogroup), as an installation does, and mailq linked to it; its default
configuration directory lists the instance's (as for postdrop, see
test_submit.py).  An ordinary user must see exactly what root sees
(root reads the queue directly: the same code, two paths); with showq
not running the user gets "mail system is down" and exit 69; with
authorized_mailq_users = root the user is refused (77) and root is not.
A client that connects and says nothing, or says something wrong, does
not stop showq from serving the next one.  Needs root, as instance.py.
"""
import os
import shutil
import socket
import unittest

from instance import WAIT
from test_queue_tools import Queue, EX_UNAVAILABLE, EX_NOPERM, program

SHOWQ = "showq unix n - n - - showq\n"


class ShowQ(Queue):
    """A Queue instance with a showq service and a set-gid postqueue."""

    def __init__(self, tc, main=None):
        super().__init__(tc)
        self.master_cf += SHOWQ
        self.set_main(**(main or {}))
        for name in ("postqueue", "mailq"):
            os.unlink(os.path.join(self.sbin, name))
        pq = os.path.join(self.sbin, "postqueue")
        shutil.copy(program("postqueue"), pq)
        shutil.chown(pq, "root", "nogroup")
        os.chmod(pq, 0o2755)
        os.symlink("postqueue", os.path.join(self.sbin, "mailq"))

    def showq_request(self, data, wait_eof=True):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(WAIT)
        s.connect(os.path.join(self.queue, "public", "showq"))
        if data:
            s.sendall(data)
        if not wait_eof:
            return s
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        return got


class Listing(unittest.TestCase):

    def held(self, i, n):
        alice, bob = i.addr("alice"), i.addr("bob")
        for k in range(n):
            i.send(alice, [bob], "Subject: hold %d\n\nbody\n" % k)
        return i.wait_ids("hold", n)

    def test_user_sees_what_root_sees(self):
        i = ShowQ(self)
        i.start()
        ids = self.held(i, 3)
        root_p = i.tool("postqueue", "-p", check=0).out
        for k in ids:
            self.assertIn(k + "!", root_p)
        user_p = i.tool("postqueue", "-p", user="alice", check=0).out
        user_q = i.tool("mailq", user="alice", check=0).out
        root_j = i.tool("postqueue", "-j", check=0).out
        user_j = i.tool("postqueue", "-j", user="alice", check=0).out
        self.assertEqual(user_p, root_p)
        self.assertEqual(user_q, root_p)
        self.assertEqual(user_j, root_j)
        self.assertEqual(len(root_j.splitlines()), 3)
        # Empty queue: the same words as root's.
        i.tool("postsuper", "-d", "ALL", check=0)
        self.assertEqual(i.tool("mailq", user="alice", check=0).out,
                         "Mail queue is empty\n")
        self.assertEqual(i.tool("postqueue", "-j", user="alice",
                                check=0).out, "")
        # The listing came from showq, running as the mail owner.
        pids = i.processes("showq")
        self.assertTrue(pids, "no showq process")
        for pid in pids:
            with open("/proc/%d/status" % pid) as f:
                uid = [ln.split()[1] for ln in f if ln.startswith("Uid:")][0]
            self.assertEqual(int(uid), __import__("pwd").getpwnam(
                "nobody").pw_uid)

    def test_plain_postqueue_cannot_read_the_queue(self):
        # Without the set-gid bit an ordinary user reaches neither the
        # queue nor public/showq: 77, as before showq existed.
        i = ShowQ(self)
        i.start()
        plain = os.path.join(i.sbin, "postqueue-plain")
        shutil.copy(os.path.join(i.sbin, "postqueue"), plain)
        os.chmod(plain, 0o755)
        r = i.run_as("alice", [plain, "-p"])
        self.assertEqual(r.returncode, EX_NOPERM, r.err)
        self.assertIn("Queue report unavailable", r.err)

    def test_showq_down(self):
        i = ShowQ(self)
        i.postino("check")
        for args in (("postqueue", "-p"), ("postqueue", "-j"), ("mailq",)):
            r = i.tool(*args, user="alice", check=EX_UNAVAILABLE)
            self.assertIn("Queue report unavailable - mail system is down",
                          r.err)
            self.assertEqual(r.out, "")
        # root reads the queue itself: works while the system is down.
        self.assertEqual(i.tool("mailq", check=0).out,
                         "Mail queue is empty\n")

    def test_authorized_mailq_users(self):
        i = ShowQ(self, main={"authorized_mailq_users": "root"})
        i.start()
        uid = __import__("pwd").getpwnam(i.user("alice")).pw_uid
        for args in (("postqueue", "-p"), ("postqueue", "-j"), ("mailq",)):
            r = i.tool(*args, user="alice", check=EX_NOPERM)
            self.assertIn("User %s(%d) is not allowed to view the mail queue"
                          % (i.user("alice"), uid), r.err)
            self.assertEqual(r.out, "")
        self.assertEqual(i.tool("mailq", check=0).out,
                         "Mail queue is empty\n")
        # A list naming the user lets her in; "!name" keeps her out.
        i.set_main(authorized_mailq_users="root, " + i.user("alice"))
        self.assertEqual(i.tool("mailq", user="alice", check=0).out,
                         "Mail queue is empty\n")
        i.set_main(authorized_mailq_users="!%s, static:anyone"
                   % i.user("alice"))
        i.tool("mailq", user="alice", check=EX_NOPERM)
        i.tool("mailq", user="bob", check=0)

    def test_silent_and_bad_clients(self):
        i = ShowQ(self)
        i.start()
        self.held(i, 1)
        root_p = i.tool("postqueue", "-p", check=0).out
        # A bad request: closed without an answer.
        self.assertEqual(i.showq_request(b"x\n"), b"")
        self.assertEqual(i.showq_request(b"p\nmore\n"), b"")
        # A good one, straight on the socket: the text root sees.
        self.assertEqual(i.showq_request(b"p\n").decode(), root_p)
        # A client that connects and never asks: showq gives up on it
        # and serves the next one.
        silent = i.showq_request(None, wait_eof=False)
        try:
            self.assertEqual(i.tool("mailq", user="alice", check=0).out,
                             root_p)
        finally:
            silent.close()
        i.wait_log(r"showq\[\d+\]: warning: bad or missing request")


if __name__ == "__main__":
    unittest.main()

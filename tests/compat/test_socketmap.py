#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""compat.socketmap - the socketmap: table type (socketmap_table(5)),
asked through postino's postmap -q and Debian's Postfix postmap -q
against the same socketmap server, on TCP and on a unix socket:

- OK, NOTFOUND, TEMP, TIMEOUT and PERM replies: both tools print the
  same answers and exit alike (found 0, not found 1 in silence, a failed
  lookup a fatal error naming the table);
- many keys on standard input (postmap -q -) over one kept connection,
  and over a server that closes the connection after every reply (the
  client opens a new one);
- a malformed reply, a reply longer than 100,000 bytes and a server that
  is not there fail the lookup, never answer "not found".

The server is the socketmap protocol written here (netstrings "NAME KEY"
-> "OK value" ...), the way socketmap servers such as MTA-STS resolvers
speak it."""
import os
import socket
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cmd"))
from postino_testlib import free_port, program, run, write  # noqa: E402

PF_POSTMAP = "/usr/sbin/postmap"

ANSWERS = {
    "known.test": b"OK secure match=mx.known.test servername=hostname",
    "spaces.test": b"OK  two  spaces ",
    "temp.test": b"TEMP database down",
    "timeout.test": b"TIMEOUT backend slow",
    "perm.test": b"PERM no such map",
    "bad.test": b"MAYBE later",
    "long.test": b"OK " + b"x" * 100001,
}


def netstring(b):
    return b"%d:%s," % (len(b), b)


class SocketmapServer:
    """A socketmap server on 127.0.0.1:PORT or on the unix socket PATH;
    with once, it closes the connection after each reply.  Counts the
    connections it accepted."""

    def __init__(self, tc, path=None, once=False):
        if path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(path)
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", free_port()))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.once = once
        self.connections = 0
        self.names = set()
        self.stop = False
        t = threading.Thread(target=self.run, daemon=True)
        t.start()
        tc.addCleanup(self.close)

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                digits = b""
                while True:
                    ch = f.read(1)
                    if not ch:
                        return
                    if ch == b":":
                        break
                    digits += ch
                req = f.read(int(digits))
                if f.read(1) != b",":
                    return
                name, key = req.split(b" ", 1)
                self.names.add(name)
                reply = ANSWERS.get(key.decode(), b"NOTFOUND ")
                c.sendall(netstring(reply))
                if self.once:
                    return
        finally:
            f.close()
            c.close()


class Socketmap(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(PF_POSTMAP, os.X_OK):
            raise AssertionError("%s is missing: install Debian's postfix "
                                 "(scripts/test.sh does)" % PF_POSTMAP)
        cls.tmp = tempfile.mkdtemp(prefix="postino-sockmap-")
        cls.cfg = {}
        for n in ("pf", "pi"):
            cls.cfg[n] = os.path.join(cls.tmp, "cfg-" + n)
            os.makedirs(cls.cfg[n])
            write(os.path.join(cls.cfg[n], "main.cf"),
                  "compatibility_level = 3.6\n")

    def both(self, table, *keys, stdin=None):
        """postmap -q KEY TABLE (or -q - with stdin) by both tools."""
        out = []
        for tool, cfg in ((PF_POSTMAP, self.cfg["pf"]),
                          (program("postmap"), self.cfg["pi"])):
            if stdin is not None:
                r = run([tool, "-c", cfg, "-q", "-", table],
                        stdin=stdin.encode())
            else:
                r = run([tool, "-c", cfg, "-q", keys[0], table])
            out.append(r)
        return out

    def agree(self, table, key, rc, value=None):
        pf, pi = self.both(table, key)
        self.assertEqual(pf.rc, rc, (key, pf.out, pf.err))
        self.assertEqual(pi.rc, rc, (key, pi.out, pi.err))
        self.assertEqual(pi.out, pf.out, key)
        self.assertEqual(pi.out, "" if value is None else value + "\n")
        return pi

    def failed(self, pf, pi, what):
        """A failed lookup: no answer, a fatal error (exit 1, as Postfix's
        msg_fatal) -- never taken for "not found" silently."""
        for r in (pf, pi):
            self.assertEqual((r.rc, r.out), (1, ""), (what, r))
            self.assertRegex(r.err, r"fatal: .*socketmap:", (what, r))

    def check_table(self, table):
        self.agree(table, "known.test", 0,
                   "secure match=mx.known.test servername=hostname")
        self.agree(table, "spaces.test", 0, " two  spaces ")
        pi = self.agree(table, "unknown.test", 1)
        self.assertEqual(pi.err, "")
        for key in ("temp.test", "timeout.test", "perm.test", "bad.test",
                    "long.test"):
            pf, pi = self.both(table, key)
            self.failed(pf, pi, key)

    def test_inet(self):
        s = SocketmapServer(self)
        self.check_table("socketmap:inet:127.0.0.1:%d:postfix" % s.port)
        self.assertEqual(s.names, {b"postfix"})

    def test_unix(self):
        path = os.path.join(self.tmp, "sockmap.sock")
        SocketmapServer(self, path=path)
        self.check_table("socketmap:unix:%s:mymap" % path)

    def test_many_keys_one_connection(self):
        s = SocketmapServer(self)
        table = "socketmap:inet:127.0.0.1:%d:postfix" % s.port
        keys = "known.test\nunknown.test\nspaces.test\n" * 20
        before = s.connections
        pf, pi = self.both(table, stdin=keys)
        self.assertEqual((pi.rc, pi.out), (pf.rc, pf.out))
        self.assertEqual(pi.out.count("known.test\tsecure"), 20)
        # One connection for Postfix's run, one for postino's.
        self.assertEqual(s.connections - before, 2)

    def test_server_closes_after_each_reply(self):
        s = SocketmapServer(self, once=True)
        table = "socketmap:inet:127.0.0.1:%d:postfix" % s.port
        keys = "known.test\nunknown.test\nspaces.test\n" * 5
        pf, pi = self.both(table, stdin=keys)
        self.assertEqual((pi.rc, pi.out), (pf.rc, pf.out))
        self.assertEqual(pi.out.count("known.test\tsecure"), 5)

    def test_no_server(self):
        table = "socketmap:inet:127.0.0.1:%d:postfix" % free_port()
        pf, pi = self.both(table, "known.test")
        self.failed(pf, pi, "no server")
        self.assertIn("Connection refused", pi.err)

    def test_bad_names(self):
        for name in ("socketmap:inet:127.0.0.1", "socketmap:tcp:x:1:m",
                     "socketmap:unix::m"):
            r = run([program("postmap"), "-c", self.cfg["pi"], "-q", "k",
                     name])
            self.assertEqual(r.rc, 1, (name, r.err))
            self.assertRegex(r.err, r"fatal: socketmap:")


if __name__ == "__main__":
    unittest.main()

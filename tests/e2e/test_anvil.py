#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_anvil - per-client connection and rate limits (Postfix's
smtpd_client_*_limit) enforced through the anvil service.

A whole instance (instance.py, with "anvil unix - - n - 1 anvil" in
master.cf) and real smtplib clients on loopback.  mynetworks is
127.0.0.1/32, so 127.0.0.2 is limited and 127.0.0.1 is an exception
(smtpd_client_event_limit_exceptions defaults to $mynetworks).  The
time unit is an hour so that no window ends during a test.

Covered: the connection count limit (421 4.7.0 and Postfix's log line;
closing a connection gives its place back; an exception address is not
limited), the connection rate limit, the message rate limit (450 4.7.1
at MAIL), the recipient rate limit (450 4.7.1 at RCPT); the counters
live in the one anvil process: two smtpd processes of one service (the
master starts the second when the first is full) count one client's
sessions together, a second process (a client of private/anvil, as
another smtpd would be) sees smtpd's connections and its own
connections count against smtpd's clients, and a killed smtpd's
connections are given back; smtpd keeps serving when anvil is killed
(the master restarts it and the limits apply again), when it is wedged
(one bounded wait, then no limits for a while, with a warning) and when
there is no anvil at all (a warning); the statistics log lines; the anvil
protocol itself (every request, bad input); "postino check" warns about
limits set without an anvil service.
"""
import os
import re
import resource
import select
import time
import signal
import smtplib
import socket
import subprocess
import unittest

from instance import Instance, MYHOSTNAME, WAIT, poll_until, program

OUTSIDE = "127.0.0.2"       # not in mynetworks: limited
INSIDE = "127.0.0.1"        # in mynetworks: an exception


class Anvil(Instance):
    """An instance whose clients from OUTSIDE are limited."""

    def __init__(self, tc, **limits):
        main = {"mynetworks": "127.0.0.1/32",
                "anvil_rate_time_unit": "3600s"}
        main.update(limits)
        super().__init__(tc, users=["alice"], main=main)
        self.service = "127.0.0.1:%d" % self.port

    def ident(self, addr=OUTSIDE):
        return "%s:%s" % (self.service, addr)

    def anvil_path(self):
        return os.path.join(self.queue, "private", "anvil")

    def connect(self, source):
        """(session, None) when greeted with 220, else (None, (code,
        text)) of the refusal."""
        s = smtplib.SMTP(timeout=WAIT, source_address=(source, 0))
        code, text = s.connect("127.0.0.1", self.port)
        if code == 220:
            return s, None
        s.close()
        return None, (code, text.decode())

    def session(self, source=OUTSIDE):
        """An open SMTP session; a refusal fails the test."""
        s, refusal = self.connect(source)
        self.tc.assertIsNone(refusal, "session from %s refused" % source)
        return s

    def try_session(self, source=OUTSIDE):
        """An open session, or None when the greeting was a refusal."""
        return self.connect(source)[0]

    def refused(self, source=OUTSIDE):
        """Connect; the (code, text) of a refused greeting, or None when
        the session was accepted (and is closed again)."""
        s, refusal = self.connect(source)
        if s is not None:
            s.quit()
        return refusal


class AnvilConn:
    """A client of private/anvil speaking the attribute protocol."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        self.sock.connect(path)
        self.buf = b""

    def raw(self, data):
        self.sock.sendall(data)

    def read(self):
        """One reply list as a dict; None at EOF."""
        while b"\n\n" not in self.buf and not self.buf.startswith(b"\n"):
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buf += chunk
        end = 1 if self.buf.startswith(b"\n") else self.buf.index(b"\n\n") + 2
        lst, self.buf = self.buf[:end], self.buf[end:]
        out = {}
        for line in lst.decode().splitlines():
            if line:
                k, v = line.split("=", 1)
                out[k] = v
        return out

    def ask(self, request, ident):
        self.raw(("request=%s\nident=%s\n\n" % (request, ident)).encode())
        return self.read()

    def dropped(self):
        """Did anvil close this connection (EOF or reset)?"""
        try:
            return self.read() is None
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def pid_of(inst, prog):
    pids = [p for p, name in inst.processes(prog).items()]
    return pids[0] if len(pids) == 1 else 0


class Limits(unittest.TestCase):

    def test_connection_count_limit(self):
        i = Anvil(self, smtpd_client_connection_count_limit="3")
        i.start()
        open_ = [i.session() for _ in range(3)]
        self.assertEqual(i.refused(), (421, "4.7.0 %s Error: too many "
                                       "connections from %s"
                                       % (MYHOSTNAME, OUTSIDE)))
        i.wait_log(r"postino/smtpd\[\d+\]: warning: Connection concurrency "
                   r"limit exceeded: 4 from unknown\[127\.0\.0\.2\] for "
                   r"service %s$" % re.escape(i.service))
        # An exception address is never counted.
        inside = [i.session(INSIDE) for _ in range(5)]
        for s in inside:
            s.quit()
        # Closing one gives its place back (once smtpd has seen it go).
        open_.pop().quit()
        poll_until("a fourth session from %s accepted again" % OUTSIDE,
                   lambda: i.refused() is None)
        for s in open_:
            s.quit()
        # Mail from a limited client still goes through.
        self.assertEqual(i.send("a@ext.test", [i.addr("alice")],
                                "Subject: count\n\nhi\n", source=OUTSIDE),
                         {})
        i.wait_maildir("alice", 1)
        self.assertNotIn("Connection rate limit", i.log())

    def test_connection_rate_limit(self):
        i = Anvil(self, smtpd_client_connection_rate_limit="2")
        i.start()
        for _ in range(2):
            self.assertIsNone(i.refused())
        self.assertEqual(i.refused(), (421, "4.7.0 %s Error: too many "
                                       "connections from %s"
                                       % (MYHOSTNAME, OUTSIDE)))
        i.wait_log(r"warning: Connection rate limit exceeded: 3 from "
                   r"unknown\[127\.0\.0\.2\] for service %s$"
                   % re.escape(i.service))
        # Refused connections count too (Postfix's rate is of attempts).
        self.assertIsNotNone(i.refused())
        for _ in range(4):
            self.assertIsNone(i.refused(INSIDE))
        self.assertNotIn("concurrency limit", i.log())

    def test_message_rate_limit(self):
        i = Anvil(self, smtpd_client_message_rate_limit="2")
        i.start()
        with i.session() as s:
            s.ehlo("outside.example.test")
            for _ in range(2):
                self.assertEqual(s.mail("a@ext.test")[0], 250)
                self.assertEqual(s.rset()[0], 250)
            self.assertEqual(s.mail("a@ext.test"),
                             (450, b"4.7.1 Error: too much mail from "
                                   b"127.0.0.2"))
            # The session goes on; MAIL stays refused.
            self.assertEqual(s.noop()[0], 250)
            self.assertEqual(s.mail("a@ext.test")[0], 450)
        i.wait_log(r"warning: Message delivery request rate limit exceeded: "
                   r"3 from unknown\[127\.0\.0\.2\] for service %s$"
                   % re.escape(i.service))
        i.wait_log(r"disconnect from unknown\[127\.0\.0\.2\] ehlo=1 "
                   r"mail=2/4 rset=2 noop=1 quit=1 commands=7/9$")
        with i.session(INSIDE) as s:
            s.ehlo("inside.example.test")
            for _ in range(4):
                self.assertEqual(s.mail("a@ext.test")[0], 250)
                self.assertEqual(s.rset()[0], 250)

    def test_recipient_rate_limit(self):
        i = Anvil(self, smtpd_client_recipient_rate_limit="2")
        i.start()
        with i.session() as s:
            s.ehlo("outside.example.test")
            self.assertEqual(s.mail("a@ext.test")[0], 250)
            for _ in range(2):
                self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
            self.assertEqual(s.rcpt(i.addr("alice")),
                             (450, b"4.7.1 Error: too many recipients from "
                                   b"127.0.0.2"))
            # The accepted recipients still get the message.
            self.assertEqual(s.data(b"Subject: rcpt rate\r\n\r\nhi\r\n")[0],
                             250)
        i.wait_log(r"warning: Recipient address rate limit exceeded: 3 from "
                   r"unknown\[127\.0\.0\.2\] for service %s$"
                   % re.escape(i.service))
        msgs = i.wait_maildir("alice", 1)
        self.assertIn(b"Subject: rcpt rate", msgs[0])


class Shared(unittest.TestCase):

    def test_counts_are_shared_with_other_processes(self):
        # Another process (here a plain anvil client, as a second smtpd
        # would be) holds two connections of the same client: smtpd's
        # first session of that client is the third and is refused.
        i = Anvil(self, smtpd_client_connection_count_limit="2")
        i.start()
        other = AnvilConn(i.anvil_path())
        for n in (1, 2):
            self.assertEqual(other.ask("connect", i.ident()),
                             {"status": "0", "count": str(n),
                              "rate": str(n)})
        self.assertEqual(i.refused()[0], 421)
        i.wait_log(r"warning: Connection concurrency limit exceeded: 3 from "
                   r"unknown\[127\.0\.0\.2\]")
        # The other process goes away: anvil gives its connections back.
        other.close()
        s = poll_until("a session from %s accepted" % OUTSIDE,
                       i.try_session)
        # ... and sees smtpd's.
        look = AnvilConn(i.anvil_path())
        self.assertEqual(look.ask("lookup", i.ident())["count"], "1")
        s.quit()
        poll_until("smtpd's disconnect counted",
                   lambda: look.ask("lookup", i.ident())["count"] == "0")
        look.close()

    def test_two_smtpd_processes(self):
        # Under an open files limit of 100 one smtpd takes 18 sessions
        # ((100 - 64) / 2), then the master starts a second (maxproc 2).
        # One session of the limited client is on the first process, the
        # next two reach the second: the third is refused there, counted
        # with the one the first process holds.
        i = Anvil(self, smtpd_client_connection_count_limit="2")
        i.master_cf = i.master_cf.replace(" n - n - 1 smtpd",
                                          " n - n - 2 smtpd")
        i.write_conf()
        i.postino("check")

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))
        r = subprocess.run([program("postino"), "-c", i.conf, "start"],
                           capture_output=True, env=i.env(), timeout=120,
                           preexec_fn=limit)
        self.assertEqual(r.returncode, 0, r)
        poll_until("smtpd listening", i.listening)
        first = i.session()
        fill = []
        try:
            for _ in range(17):
                fill.append(i.session(INSIDE))
            poll_until("a second smtpd",
                       lambda: len(i.processes("smtpd")) == 2)
            second = i.session()
            self.assertEqual(i.refused(), (421, "4.7.0 %s Error: too many "
                                           "connections from %s"
                                           % (MYHOSTNAME, OUTSIDE)))
            i.wait_log(r"warning: Connection concurrency limit exceeded: 3")
            log = i.log()
            p1 = re.findall(r"postino/smtpd\[(\d+)\]: connect from "
                            r"unknown\[127\.0\.0\.2\]", log)[0]
            p2 = re.findall(r"postino/smtpd\[(\d+)\]: warning: Connection "
                            r"concurrency limit exceeded: 3 from "
                            r"unknown\[127\.0\.0\.2\]", log)[0]
            self.assertNotEqual(p1, p2, "both sessions on one smtpd")
            self.assertEqual(set(int(p) for p in (p1, p2)),
                             set(i.processes("smtpd")))
            # The first process's session ends: the place is free for
            # the second process.
            first.quit()
            poll_until("a session from %s accepted" % OUTSIDE,
                       i.try_session).quit()
            second.quit()
        finally:
            for s in fill:
                s.close()

    def test_killed_smtpd_gives_its_connections_back(self):
        i = Anvil(self, smtpd_client_connection_count_limit="2")
        i.start()
        held = [i.session() for _ in range(2)]
        self.assertEqual(i.refused()[0], 421)
        old = poll_until("smtpd running", lambda: pid_of(i, "smtpd"))
        os.kill(old, signal.SIGKILL)
        for s in held:
            s.close()
        poll_until("a new smtpd", lambda: pid_of(i, "smtpd") not in (0, old))
        look = AnvilConn(i.anvil_path())
        poll_until("the dead smtpd's connections given back",
                   lambda: look.ask("lookup", i.ident())["count"] == "0")
        look.close()
        again = [i.session() for _ in range(2)]
        self.assertEqual(i.refused()[0], 421)
        for s in again:
            s.quit()


class Failures(unittest.TestCase):

    def test_anvil_killed(self):
        i = Anvil(self, smtpd_client_connection_count_limit="1")
        i.start()
        a = i.session()
        self.assertEqual(i.refused()[0], 421)
        first = poll_until("anvil running", lambda: pid_of(i, "anvil"))
        os.kill(first, signal.SIGKILL)
        # smtpd keeps serving: the open session works and mail goes in.
        a.ehlo("outside.example.test")
        self.assertEqual(a.sendmail("a@ext.test", [i.addr("alice")],
                                    b"Subject: after kill\r\n\r\nhi\r\n"), {})
        a.quit()
        i.wait_maildir("alice", 1)
        self.assertEqual(i.send("a@ext.test", [i.addr("alice")],
                                "Subject: next\n\nhi\n", source=OUTSIDE), {})
        i.wait_maildir("alice", 2)
        i.wait_log(r"warning: process \S+/anvil pid %d killed by signal 9$"
                   % first)
        poll_until("anvil restarted",
                   lambda: pid_of(i, "anvil") not in (0, first))

        # The limit applies again (after smtpd's back-off, if it had one).
        def limited():
            b = i.try_session()
            if b is None:
                return False
            r = i.refused()
            b.quit()
            return r is not None and r[0] == 421
        poll_until("the limit enforced by the new anvil", limited,
                   interval=0.5)

    def test_anvil_wedged(self):
        # An anvil that never answers (stopped) holds smtpd up for one
        # bounded wait, after which sessions are served without limits.
        i = Anvil(self, smtpd_client_connection_count_limit="1")
        i.start()
        pid = poll_until("anvil running", lambda: pid_of(i, "anvil"))
        os.kill(pid, signal.SIGSTOP)
        try:
            a = i.session()
            b = i.session()
            b.ehlo("outside.example.test")
            self.assertEqual(b.sendmail("a@ext.test", [i.addr("alice")],
                                        b"Subject: wedged\r\n\r\nhi\r\n"),
                             {})
            b.quit()
            a.quit()
            i.wait_log(r"postino/smtpd\[\d+\]: warning: private/anvil: read: "
                       r"timeout reading attribute list; connection and "
                       r"rate limits are not enforced for 10s$")
            i.wait_maildir("alice", 1)
        finally:
            os.kill(pid, signal.SIGCONT)

    def test_anvil_wedged_does_not_stall_other_sessions(self):
        # A MAIL that waits for a stopped anvil (message rate limit) waits
        # in its own task: a session from mynetworks (no limits) gets its
        # greeting and its replies while that MAIL is still unanswered.
        i = Anvil(self, smtpd_client_message_rate_limit="100")
        i.start()
        pid = poll_until("anvil running", lambda: pid_of(i, "anvil"))
        a = i.session()
        a.ehlo("outside.example.test")
        os.kill(pid, signal.SIGSTOP)
        try:
            a.sock.sendall(b"MAIL FROM:<a@ext.test>\r\n")
            time.sleep(0.2)             # smtpd has read it and asked anvil
            # B's greeting (smtplib reads it in connect) comes while A's
            # MAIL still waits for anvil: with smtpd blocked on anvil it
            # could only come after A's answer (anvil's 1 s timeout).
            b = i.session(INSIDE)
            ready, _, _ = select.select([a.sock], [], [], 0)
            self.assertEqual(ready, [], "MAIL answered before B was greeted")
            self.assertEqual(b.ehlo("inside.example.test")[0], 250)
            b.quit()
            # Then anvil times out and A is served without limits.
            self.assertEqual(a.getreply()[0], 250)
            a.quit()
        finally:
            os.kill(pid, signal.SIGCONT)

    def test_reload(self):
        # On reload the old anvil serves the old smtpd until its last
        # session ends, then exits; the new pair enforces the limits.
        i = Anvil(self, smtpd_client_connection_count_limit="1")
        i.start()
        old = poll_until("anvil running", lambda: pid_of(i, "anvil"))
        a = i.session()
        i.postino("reload")
        poll_until("a new anvil", lambda: any(
            p != old for p in i.processes("anvil")))
        # The old session still works and its anvil waits for it.
        a.ehlo("outside.example.test")
        self.assertIn(old, i.processes("anvil"))
        a.quit()
        poll_until("the old anvil gone",
                   lambda: old not in i.processes("anvil"))

        def limited():
            b = i.try_session()
            if b is None:
                return False
            r = i.refused()
            b.quit()
            return r is not None and r[0] == 421
        poll_until("the limit enforced after the reload", limited,
                   interval=0.5)

    def test_no_anvil_service(self):
        # A limit asked for explicitly, with no anvil to enforce it: check
        # and start refuse, naming the service line and the parameter.
        i = Anvil(self, smtpd_client_connection_count_limit="1")
        i.master_cf = i.master_cf.replace("anvil unix - - n - 1 anvil\n", "")
        i.write_conf()
        for cmd in ("check", "start"):
            rc, out = i.postino(cmd, check=False)
            self.assertNotEqual(rc, 0, out)
            self.assertRegex(out, r"error: \S+/master\.cf, line 1: service "
                             r"\"%s\": smtpd_client_connection_count_limit = "
                             r"1 would not be enforced: master\.cf has no "
                             r"anvil service: refusing to run"
                             % re.escape(i.service))
        self.assertFalse(i.listening())
        # With only the default limit, smtpd runs and says at run time
        # that it cannot reach anvil.
        del i.main["smtpd_client_connection_count_limit"]
        i.write_conf()
        i.start()
        a = i.session()
        b = i.session()
        b.quit()
        a.quit()
        i.wait_log(r"postino/smtpd\[\d+\]: warning: private/anvil: connect: "
                   r"No such file or directory; connection and rate limits "
                   r"are not enforced for 10s$")

    def test_check_quiet_with_anvil(self):
        i = Anvil(self, smtpd_client_connection_count_limit="1")
        rc, out = i.postino("check")
        self.assertNotIn("anvil", out)
        # A -o override in master.cf counts as set.
        i.master_cf = i.master_cf.replace(
            "anvil unix - - n - 1 anvil\n", "").replace(
            " smtpd\n", " smtpd -o smtpd_client_message_rate_limit=5\n", 1)
        i.set_main(smtpd_client_connection_count_limit="0")
        rc, out = i.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("smtpd_client_message_rate_limit = 5 would not be "
                      "enforced", out)
        self.assertNotIn("smtpd_client_connection_count_limit", out)


class Statistics(unittest.TestCase):

    def test_status_lines(self):
        i = Anvil(self, smtpd_client_connection_count_limit="5",
                  smtpd_client_message_rate_limit="5",
                  smtpd_client_recipient_rate_limit="5",
                  anvil_status_update_time="1s")
        i.start()
        a = i.session()
        b = i.session()
        b.ehlo("outside.example.test")
        self.assertEqual(b.mail("a@ext.test")[0], 250)
        self.assertEqual(b.rcpt(i.addr("alice"))[0], 250)
        self.assertEqual(b.rcpt(i.addr("alice"))[0], 250)
        b.quit()
        a.quit()
        ident = re.escape("(%s)" % i.ident())
        when = r"at \w{3} [ \d]\d \d\d:\d\d:\d\d$"
        for line in (r"max connection rate 2/3600s for %s %s",
                     r"max connection count 2 for %s %s",
                     r"max message rate 1/3600s for %s %s",
                     r"max recipient rate 2/3600s for %s %s"):
            i.wait_log(r"postino/anvil\[\d+\]: statistics: "
                       + line % (ident, when))
        i.wait_log(r"postino/anvil\[\d+\]: statistics: max cache size 1 "
                   + when)


class Protocol(unittest.TestCase):

    def test_requests(self):
        i = Anvil(self)
        i.start()
        c = AnvilConn(i.anvil_path())
        ident = "svc:192.0.2.1"
        self.assertEqual(c.ask("lookup", ident),
                         {"status": "0", "count": "0", "rate": "0",
                          "message": "0", "recipient": "0", "newtls": "0",
                          "auth": "0"})
        self.assertEqual(c.ask("connect", ident),
                         {"status": "0", "count": "1", "rate": "1"})
        self.assertEqual(c.ask("connect", ident),
                         {"status": "0", "count": "2", "rate": "2"})
        self.assertEqual(c.ask("disconnect", ident), {"status": "0"})
        for req, rate in (("message", "1"), ("message", "2"),
                          ("recipient", "1"), ("newtls", "1"),
                          ("newtls_report", "1"), ("auth", "1")):
            self.assertEqual(c.ask(req, ident),
                             {"status": "0", "rate": rate}, req)
        self.assertEqual(c.ask("lookup", ident),
                         {"status": "0", "count": "1", "rate": "2",
                          "message": "2", "recipient": "1", "newtls": "1",
                          "auth": "1"})
        # A disconnect this client never registered changes nothing.
        other = AnvilConn(i.anvil_path())
        self.assertEqual(other.ask("disconnect", ident), {"status": "0"})
        self.assertEqual(other.ask("lookup", ident)["count"], "1")
        self.assertEqual(other.ask("frobnicate", ident), {"status": "-1"})
        self.assertEqual(other.ask("connect", ""), {"status": "-1"})
        # Pipelined requests are answered in order.
        other.raw(b"request=message\nident=p:1\n\n"
                  b"request=message\nident=p:1\n\n")
        self.assertEqual([other.read()["rate"], other.read()["rate"]],
                         ["1", "2"])
        # Garbage: that client is dropped, anvil keeps serving the others.
        bad = AnvilConn(i.anvil_path())
        bad.raw(b"no equals sign\n\n")
        self.assertTrue(bad.dropped())
        bad.close()
        big = AnvilConn(i.anvil_path())
        big.raw(b"request=" + b"x" * 8192)
        self.assertTrue(big.dropped())
        big.close()
        self.assertEqual(c.ask("lookup", ident)["count"], "1")
        i.wait_log(r"postino/anvil\[\d+\]: warning: client request: "
                   r"attribute line without '=': disconnecting$")
        i.wait_log(r"warning: client request: request too large: "
                   r"disconnecting$")
        # The client that holds the connection leaves: count back to 0.
        c.close()
        poll_until("the count given back",
                   lambda: other.ask("lookup", ident)["count"] == "0")
        other.close()
        self.assertEqual(len(i.processes("anvil")), 1)


if __name__ == "__main__":
    unittest.main()

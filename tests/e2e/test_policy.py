#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_policy - check_policy_service (SMTP access policy delegation)
against a real policy server (a small Python one, on a unix socket and
on loopback TCP) and a real instance.

- Actions per recipient: REJECT gives "554 5.7.1 <rcpt>: Recipient
  address rejected: text", DEFER_IF_PERMIT a 450, DUNNO delivers, PREPEND
  adds a header to the delivered mail.
- The request carries the right attributes (request, protocol_state,
  client_address, sender, recipient, helo_name, instance, ...).
- One policy connection serves several requests.
- A stalled policy server: other sessions are served meanwhile (banner
  and a whole transaction while the stall lasts); a server that does not
  answer within the timeout, and a dead one (connection refused), give
  the default action 451 4.3.5 and the warning "problem talking to
  server".
- postino check accepts check_policy_service with { options } and
  reports a malformed one with file and line.
"""
import os
import select
import socketserver
import threading
import unittest

from instance import Instance, message
from postino_testlib import free_port, poll_until

BOUND = 60          # seconds: upper bound of any wait


class PolicyServer:
    """Answers per recipient from self.actions (DUNNO otherwise); records
    every request with the id of its connection.  A recipient in
    self.stall gets no answer until self.release is set (or BOUND), and
    then the connection is closed; one in self.hold is answered as usual
    once self.release is set."""

    def __init__(self, path=None):
        self.actions = {}
        self.stall = set()
        self.hold = set()
        self.release = threading.Event()
        self.requests = []
        self.stalled = []
        self.lock = threading.Lock()
        self.conns = 0
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with outer.lock:
                    outer.conns += 1
                    conn = outer.conns
                while True:
                    req = {}
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            return
                        line = line.decode().rstrip("\n")
                        if line == "":
                            break
                        k, _, v = line.partition("=")
                        req[k] = v
                    req["_conn"] = conn
                    with outer.lock:
                        outer.requests.append(req)
                    rcpt = req.get("recipient", "")
                    if rcpt in outer.stall and req.get(
                            "protocol_state") == "RCPT":
                        with outer.lock:
                            outer.stalled.append(rcpt)
                        outer.release.wait(BOUND)
                        return          # close without an answer
                    if rcpt in outer.hold and req.get(
                            "protocol_state") == "RCPT":
                        with outer.lock:
                            outer.stalled.append(rcpt)
                        outer.release.wait(BOUND)
                    action = "DUNNO"
                    if req.get("protocol_state") == "RCPT":
                        action = outer.actions.get(rcpt, "DUNNO")
                    self.wfile.write(("action=%s\n\n" % action).encode())
                    self.wfile.flush()

        if path:
            class Srv(socketserver.ThreadingMixIn,
                      socketserver.UnixStreamServer):
                daemon_threads = True
            self.server = Srv(path, Handler)
            os.chmod(path, 0o666)
            self.name = "unix:" + path
        else:
            class Srv(socketserver.ThreadingMixIn, socketserver.TCPServer):
                daemon_threads = True
                allow_reuse_address = True
            self.server = Srv(("127.0.0.1", 0), Handler)
            self.name = "inet:127.0.0.1:%d" % self.server.server_address[1]
        t = threading.Thread(target=self.server.serve_forever,
                             kwargs={"poll_interval": 0.1}, daemon=True)
        t.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def rcpt_requests(self):
        with self.lock:
            return [r for r in self.requests
                    if r.get("protocol_state") == "RCPT"]


def rcpt_reply(c, rcpt):
    return c.cmd("RCPT TO:<%s>" % rcpt)


class Actions(unittest.TestCase):
    """Actions and attributes, over a unix socket."""

    def setUp(self):
        self.i = Instance(self, users=("alice", "bob"))
        self.p = PolicyServer(os.path.join(self.i.dir, "policy.sock"))
        self.addCleanup(self.p.close)
        self.i.set_main(smtpd_recipient_restrictions="check_policy_service "
                        + self.p.name)
        self.i.start()

    def test_actions(self):
        i, p = self.i, self.p
        alice, bob = i.addr("alice"), i.addr("bob")
        p.actions["nobody@ext.test"] = "REJECT not welcome here"
        p.actions["later@ext.test"] = "DEFER_IF_PERMIT come back later"
        p.actions[bob] = "PREPEND X-Policy-Seen: yes"
        with i.raw() as c:
            self.assertTrue(c.reply().startswith("220"))
            c.cmd("EHLO client.example.test")
            self.assertTrue(c.cmd("MAIL FROM:<sender@ext.test>")
                            .startswith("250"))
            self.assertEqual(
                rcpt_reply(c, "nobody@ext.test"),
                "554 5.7.1 <nobody@ext.test>: Recipient address rejected: "
                "not welcome here")
            self.assertEqual(
                rcpt_reply(c, "later@ext.test"),
                "450 4.7.1 <later@ext.test>: Recipient address rejected: "
                "come back later")
            self.assertTrue(rcpt_reply(c, alice).startswith("250"))
            self.assertTrue(c.cmd("QUIT").startswith("221"))
        i.send("sender@ext.test", [alice],
               message("sender@ext.test", alice, "plain one"))
        i.send("sender@ext.test", [bob],
               message("sender@ext.test", bob, "prepended"))
        b = i.wait_maildir("bob", 1)
        self.assertIn(b"X-Policy-Seen: yes", b[0])
        a = i.wait_maildir("alice", 1)
        self.assertNotIn(b"X-Policy-Seen", a[0])

        reqs = p.rcpt_requests()
        first = [r for r in reqs if r["recipient"] == "nobody@ext.test"][0]
        self.assertEqual(first["request"], "smtpd_access_policy")
        self.assertEqual(first["protocol_state"], "RCPT")
        self.assertEqual(first["protocol_name"], "ESMTP")
        self.assertEqual(first["client_address"], "127.0.0.1")
        self.assertEqual(first["sender"], "sender@ext.test")
        self.assertEqual(first["helo_name"], "client.example.test")
        self.assertEqual(first["server_address"], "127.0.0.1")
        self.assertEqual(first["server_port"], str(i.port))
        self.assertTrue(first["client_port"].isdigit())
        self.assertNotEqual(first["instance"], "")
        for k in ("queue_id", "recipient_count", "client_name",
                  "reverse_client_name", "sasl_username", "size",
                  "policy_context", "compatibility_level", "mail_version"):
            self.assertIn(k, first)
        # One message, one instance; the next message, another.
        same = [r["instance"] for r in reqs
                if r["client_port"] == first["client_port"]]
        self.assertEqual(len(set(same)), 1, same)
        self.assertNotEqual(first["instance"], reqs[-1]["instance"])
        # The requests of the sessions shared one policy connection.
        self.assertGreaterEqual(len(reqs), 5)
        self.assertEqual(len({r["_conn"] for r in reqs}), 1,
                         [(r["recipient"], r["_conn"]) for r in reqs])


class Etrn(unittest.TestCase):

    def test_etrn_domain(self):
        # smtpd_etrn_restrictions: the request says ETRN and names the
        # site asked for (etrn_domain), as Postfix's does.
        i = Instance(self)
        p = PolicyServer(os.path.join(i.dir, "policy.sock"))
        self.addCleanup(p.close)
        i.set_main(smtpd_etrn_restrictions="check_policy_service " + p.name,
                   fast_flush_domains="etrn.example.test")
        i.start()
        with i.raw() as c:
            self.assertTrue(c.reply().startswith("220"))
            c.cmd("EHLO client.example.test")
            c.cmd("ETRN etrn.example.test")
            c.cmd("QUIT")
        with p.lock:
            etrn = [r for r in p.requests
                    if r.get("protocol_state") == "ETRN"]
        self.assertEqual([r["etrn_domain"] for r in etrn],
                         ["etrn.example.test"], etrn)
        self.assertEqual(etrn[0]["recipient"], "")


class Failures(unittest.TestCase):
    """A stalled, a slow and a dead policy server, over TCP."""

    def make(self, restriction, **main):
        i = Instance(self, users=("alice",))
        i.set_main(smtpd_recipient_restrictions=restriction, **main)
        i.start()
        return i

    def test_stall_serves_others(self):
        p = PolicyServer()
        self.addCleanup(p.close)
        i = self.make("check_policy_service { %s, timeout=%ds, try_limit=1 }"
                      % (p.name, BOUND))
        p.stall.add("stall@ext.test")
        alice = i.addr("alice")
        with i.raw() as a:
            self.assertTrue(a.reply().startswith("220"))
            a.cmd("EHLO a.example.test")
            a.cmd("MAIL FROM:<a@ext.test>")
            a.send("RCPT TO:<stall@ext.test>\r\n")
            poll_until("the policy server holds the request",
                       lambda: p.stalled, timeout=BOUND)
            # Meanwhile another client is served from banner to delivery.
            i.send("b@ext.test", [alice],
                   message("b@ext.test", alice, "while stalled"))
            i.wait_maildir("alice", 1)
            # The first one is still waiting for its policy answer.
            r, _, _ = select.select([a.sock], [], [], 0)
            self.assertEqual(r, [], "the stalled RCPT was answered early")
            p.release.set()
            self.assertEqual(
                a.reply(), "451 4.3.5 <stall@ext.test>: Recipient address "
                "rejected: Server configuration problem")
        i.wait_log(r"warning: problem talking to server %s: "
                   % p.name.replace(".", r"\."))

    def test_timeout(self):
        p = PolicyServer()
        self.addCleanup(p.close)
        i = self.make("check_policy_service " + p.name,
                      smtpd_policy_service_timeout="2s",
                      smtpd_policy_service_retry_delay="0s")
        p.stall.add("slow@ext.test")
        with i.raw() as a:
            self.assertTrue(a.reply().startswith("220"))
            a.cmd("EHLO a.example.test")
            a.cmd("MAIL FROM:<a@ext.test>")
            self.assertEqual(
                rcpt_reply(a, "slow@ext.test"),
                "451 4.3.5 <slow@ext.test>: Recipient address rejected: "
                "Server configuration problem")
        i.wait_log(r"warning: problem talking to server %s: "
                   r"Connection timed out" % p.name.replace(".", r"\."))

    def test_dead_server(self):
        port = free_port()
        i = self.make("check_policy_service { inet:127.0.0.1:%d, "
                      "retry_delay=0s }" % port)
        with i.raw() as a:
            self.assertTrue(a.reply().startswith("220"))
            a.cmd("EHLO a.example.test")
            a.cmd("MAIL FROM:<a@ext.test>")
            self.assertEqual(
                rcpt_reply(a, i.addr("alice")),
                "451 4.3.5 <%s>: Recipient address rejected: Server "
                "configuration problem" % i.addr("alice"))
        i.wait_log(r"warning: problem talking to server inet:127\.0\.0\.1:"
                   r"%d: Connection refused" % port)

    def test_default_action_option(self):
        port = free_port()
        i = self.make("check_policy_service { inet:127.0.0.1:%d, "
                      "retry_delay=0s, default_action=DUNNO }" % port)
        alice = i.addr("alice")
        i.send("b@ext.test", [alice], message("b@ext.test", alice, "dunno"))
        i.wait_maildir("alice", 1)


class Tasks(unittest.TestCase):
    """A check that waits for the policy server suspends its session's
    task only (core/smtpd/smtpd_proto.c, smtpd_task): the loop serves
    the others, the waiting session's pipelined commands wait in order,
    and a client that leaves meanwhile is freed once the task is done."""

    ROUNDS = 5      # transactions of the other client while one waits

    def test_others_served_while_one_waits(self):
        p = PolicyServer()
        self.addCleanup(p.close)
        i = Instance(self, users=("alice", "bob"))
        i.set_main(smtpd_recipient_restrictions="check_policy_service { %s, "
                   "timeout=%ds, try_limit=1 }" % (p.name, BOUND))
        i.start()
        alice, bob = i.addr("alice"), i.addr("bob")
        p.hold.add(bob)
        with i.raw() as a, i.raw() as gone:
            self.assertTrue(a.reply().startswith("220"))
            self.assertTrue(a.cmd("EHLO a.example.test").startswith("250"))
            # One pipelined group; bob's check waits for the server.
            a.send("MAIL FROM:<a@ext.test>\r\nRCPT TO:<%s>\r\n"
                   "RCPT TO:<%s>\r\nDATA\r\n" % (bob, alice))
            self.assertTrue(a.reply().startswith("250"))     # MAIL
            poll_until("the policy server holds bob's request",
                       lambda: len(p.stalled) == 1, timeout=BOUND)
            # A client that leaves while its check waits.
            self.assertTrue(gone.reply().startswith("220"))
            gone.cmd("EHLO gone.example.test")
            gone.cmd("MAIL FROM:<g@ext.test>")
            gone.send("RCPT TO:<%s>\r\n" % bob)
            poll_until("the policy server holds the second request",
                       lambda: len(p.stalled) == 2, timeout=BOUND)
            gone.close()
            # Another client: every reply of ROUNDS transactions comes.
            replies = []
            with i.raw() as b:
                replies.append(b.reply())
                replies.append(b.cmd("EHLO b.example.test"))
                for _ in range(self.ROUNDS):
                    replies.append(b.cmd("MAIL FROM:<b@ext.test>"))
                    replies.append(b.cmd("RCPT TO:<%s>" % alice))
                    replies.append(b.cmd("RSET"))
                replies.append(b.cmd("QUIT"))
            self.assertEqual(len(replies), 3 + 3 * self.ROUNDS, replies)
            self.assertEqual([r[:3] for r in replies],
                             ["220", "250"] + ["250"] * 3 * self.ROUNDS
                             + ["221"], replies)
            # The waiting session got nothing more meanwhile.
            r, _, _ = select.select([a.sock], [], [], 0)
            self.assertEqual(r, [], "a reply came before the policy answer")
            p.release.set()
            # Its pipelined commands are answered in order.
            self.assertTrue(a.reply().startswith("250 2.1.5"))   # bob
            self.assertTrue(a.reply().startswith("250 2.1.5"))   # alice
            self.assertTrue(a.reply().startswith("354"))
            a.send(message("a@ext.test", bob, "after the wait")
                   .replace("\n", "\r\n") + ".\r\n")
            self.assertTrue(a.reply().startswith("250"))
            self.assertTrue(a.cmd("QUIT").startswith("221"))
        self.assertIn(b"after the wait", i.wait_maildir("bob", 1)[0])
        self.assertIn(b"after the wait", i.wait_maildir("alice", 1)[0])
        # The client that left: logged once its check was done, and the
        # process goes on serving.
        i.wait_log(r"lost connection after RCPT from [^ ]*\[127\.0\.0\.1\]")
        i.send("c@ext.test", [alice], message("c@ext.test", alice, "later"))
        i.wait_maildir("alice", 2)
        self.assertNotRegex(i.log(), r"panic|fatal|signal")


class Check(unittest.TestCase):
    def test_check(self):
        i = Instance(self)
        i.set_main(smtpd_recipient_restrictions="check_policy_service "
                   "{ inet:127.0.0.1:9998, timeout=10s, "
                   "default_action=DUNNO }, check_policy_service "
                   "unix:private/policy, check_policy_service policy")
        rc, out = i.postino("check", check=False)
        self.assertEqual(rc, 0, out)
        i.set_main(smtpd_recipient_restrictions="check_policy_service "
                   "{ inet:127.0.0.1:9998, frobnicate=1 }")
        with open(os.path.join(i.conf, "main.cf")) as f:
            line = [n for n, t in enumerate(f, 1)
                    if t.startswith("smtpd_recipient_restrictions")][0]
        rc, out = i.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"main\.cf, line %d: smtpd_recipient_"
                         r"restrictions: check_policy_service: unknown "
                         r"option \"frobnicate\"" % line)


if __name__ == "__main__":
    unittest.main()


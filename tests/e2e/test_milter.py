#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_milter - smtpd_milters against real milters, with Debian's
Postfix as the oracle.

Peers: a real milter (pymilter over Sendmail's libmilter:
tests/e2e/milter_peer.py) whose answers come from a JSON config, and
FakeMilter, a raw-socket milter in this file that negotiates properly and
then misbehaves at a chosen command (closes, sends garbage, a short
packet, a huge length prefix, or never answers).

- Same as Postfix: the same milter configs run against Postfix
  (PostfixMx, its smtpd_milters) and against postino, and these must
  agree: the SMTP replies at each stage (reject, tempfail, a custom
  reply at connect, HELO, MAIL, RCPT, DATA and end of message, discard,
  accept), the delivered messages after each end-of-message change
  (addheader, insheader at an index, chgheader changing and deleting
  the Nth header, chgfrom, addrcpt, delrcpt, replacebody), the events
  the milter sees (unknown commands included, two transactions in one
  session), and the macros it receives at each stage, headers and body
  included (the names, and the values that do not depend on the host:
  {mail_addr}, {rcpt_addr}, {client_addr}; i present where Postfix has
  it, no {auth_*} without AUTH).  Normalised: queue ids, host names,
  Received: headers, the users' addresses, the unknown command's
  arguments (Postfix passes the verb only).
- Failures: for milter_default_action accept, reject, tempfail and
  quarantine, a milter that is down, times out (command and content
  timeouts), closes the connection mid-session, or sends garbage, a
  short packet or a huge length prefix: the reply is the default
  action's, a warning names the milter, the next session of the same
  smtpd is served and delivers, accepted mail is delivered (quarantine:
  held, and postqueue -p shows it held), nothing is left in the
  queue, and no sanitizer report.
- Failures as Postfix: for each default_action, each failure above
  against Postfix's smtpd_milters and postino: the same replies command
  by command, and the same number of messages in hold/.
- receive_override_options=no_milters on one smtpd (-o in master.cf):
  its sessions never reach the milter, while another smtpd's do.
- Per-milter options "{ inet:..., default_action=accept,
  command_timeout=1s }": a milter that sleeps past its own timeout is
  skipped while milter_default_action says tempfail, and the next
  milter of the list still sees the whole message.
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from instance import Instance, MYHOSTNAME, WAIT
from postino_testlib import free_port, poll_until, program
from smtp_peers import PostfixMx

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "milter_peer.py")
PFX_ADDR = "127.0.0.53"
PFX_DOMAIN = "pfx.test"


def port_open(host, port):
    try:
        s = socket.create_connection((host, port), timeout=2)
    except OSError:
        return False
    s.close()
    return True


class Peer:
    """milter_peer.py on a port of its own; its config and event log in a
    temporary directory removed at tc's cleanup."""

    def __init__(self, tc, cfg):
        self.dir = tempfile.mkdtemp(prefix="postino-milter-")
        tc.addCleanup(shutil.rmtree, self.dir, True)
        self.cfg = os.path.join(self.dir, "cfg.json")
        self.set(cfg)
        self.port = free_port()
        self.log = os.path.join(self.dir, "log")
        open(self.log, "w").close()
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", PEER, self.cfg,
             "inet:%d@127.0.0.1" % self.port, self.log],
            stderr=subprocess.DEVNULL)
        tc.addCleanup(self.stop)
        poll_until("milter_peer listening on %d" % self.port,
                   lambda: self.proc.poll() is None
                   and port_open("127.0.0.1", self.port), timeout=30)
        # The probe connection above may have left an event: start clean.
        self.clear()

    def set(self, cfg):
        tmp = self.cfg + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.rename(tmp, self.cfg)

    def events(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def clear(self):
        open(self.log, "w").close()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class FakeMilter:
    """A milter over a raw socket: negotiates protocol 6 asking for
    nothing, answers "continue", and misbehaves when it receives the
    command letter self.at ("O" OPTNEG, "C" connect, "M" MAIL, "B"
    body, ...) as self.mode says:
      close    close the connection
      garbage  send bytes that are no packet (length 0)
      short    a packet header announcing 100 bytes, 3 bytes, close
      huge     a length prefix of 0x7fffffff
      badcmd   a well-formed packet with an unknown reply letter
      sleep    never answer (the MTA's timeout ends it)
    mode None: a well-behaved milter.  Each connection has its own
    thread; stop() closes everything."""

    def __init__(self, tc, mode=None, at=None):
        self.mode, self.at = mode, at
        self.answers = {}       # command letter -> reply letter
        self.lsock = None
        self.port = free_port()
        self.conns = []
        self.seen = []
        self.up()
        tc.addCleanup(self.stop)

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self):
        if self.lsock is not None:
            try:
                self.lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.lsock.close()
            self.lsock = None

    def stop(self):
        self.down()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def _accept(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    @staticmethod
    def _read(c, n):
        out = b""
        while len(out) < n:
            d = c.recv(n - len(out))
            if not d:
                raise EOFError
            out += d
        return out

    @staticmethod
    def _packet(cmd, data=b""):
        return struct.pack(">I", len(data) + 1) + cmd + data

    def _serve(self, c):
        c.settimeout(WAIT)
        try:
            while True:
                n = struct.unpack(">I", self._read(c, 4))[0]
                pkt = self._read(c, n)
                cmd = pkt[:1].decode("latin-1")
                self.seen.append(cmd)
                if cmd == self.at and self.mode is not None:
                    self._misbehave(c)
                    return
                if cmd == "O":
                    c.sendall(self._packet(b"O", struct.pack(">III",
                                                             6, 0, 0)))
                elif cmd in "DAQ":
                    if cmd == "Q":
                        return
                else:
                    c.sendall(self._packet(self.answers.get(cmd, b"c")))
        except (OSError, EOFError, struct.error):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _misbehave(self, c):
        if self.mode == "close":
            return
        if self.mode == "garbage":
            c.sendall(b"\x00\x00\x00\x00garbage\r\n")
        elif self.mode == "short":
            c.sendall(struct.pack(">I", 100) + b"cxy")
        elif self.mode == "huge":
            c.sendall(struct.pack(">I", 0x7fffffff) + b"c" + b"x" * 100)
        elif self.mode == "badcmd":
            c.sendall(self._packet(b"Z", b"what"))
        elif self.mode == "sleep":
            try:
                c.recv(1)       # until the MTA gives up and closes
            except OSError:
                pass
            return
        time.sleep(1)


class Smtp:
    """A line-level SMTP client that records every reply."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=WAIT)
        self.f = self.sock.makefile("rb")
        self.replies = []

    def reply(self):
        lines = []
        while True:
            line = self.f.readline().decode(errors="replace")
            if not line:
                break
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] != "-":
                break
        r = "\n".join(lines)
        self.replies.append(r)
        return r

    def cmd(self, line):
        try:
            self.sock.sendall(line.encode() + b"\r\n")
        except OSError:
            self.replies.append("")
            return ""
        return self.reply()

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


def message(case, rcpts, body="old body\r\nline two\r\n"):
    return ("From: joe@example.org\r\n"
            "To: %s\r\n"
            "Subject: milter test\r\n"
            "Message-ID: <%s@example.org>\r\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            "X-Case: %s\r\n"
            "X-A: one\r\n"
            "X-A: two\r\n"
            "X-A: three\r\n"
            "\r\n" % (", ".join(rcpts), case, case) + body)


def transaction(host, port, sender, rcpts, msg, helo="client.example",
                before=()):
    """One session: replies to the greeting, EHLO, the commands BEFORE,
    MAIL, each RCPT, DATA and the final dot (as far as it gets), then
    QUIT."""
    c = Smtp(host, port)
    try:
        if not c.reply().startswith("220"):
            c.cmd("QUIT")
            return c.replies
        c.cmd("EHLO " + helo)
        for line in before:
            c.cmd(line)
        r = c.cmd("MAIL FROM:<%s>" % sender)
        if not r.startswith("250"):
            c.cmd("QUIT")
            return c.replies
        ok = 0
        for rc in rcpts:
            if c.cmd("RCPT TO:<%s>" % rc).startswith("250"):
                ok += 1
        if ok:
            if c.cmd("DATA").startswith("354"):
                c.sock.sendall(msg.encode().replace(b"\r\n.", b"\r\n..")
                               + b".\r\n")
                c.reply()
        else:
            c.cmd("RSET")
        c.cmd("QUIT")
        return c.replies
    finally:
        c.close()


def norm_reply(r, hostname):
    r = r.replace(hostname, "HOST")
    r = re.sub(r"queued as \S+", "queued as ID", r)
    if r.startswith("220 "):
        return "220"
    lines = r.split("\n")
    if lines[0].startswith("250-") or (len(lines) == 1
                                       and lines[0].startswith("250 HOST")):
        # The EHLO reply: its extensions differ between the two (SIZE,
        # VRFY, ETRN...); what a milter changes is whether there are any.
        return "EHLO 250 %s" % ("many" if len(lines) > 1 else "one")
    return r


def norm_message(data, users):
    """A delivered message with what depends on the MTA's own names and
    trace taken out: Received headers dropped, addresses of USERS
    ({"name": "address"}) made "name@DOM"."""
    text = data.decode(errors="replace").replace("\r\n", "\n")
    for short, addr in users.items():
        text = text.replace(addr, "%s@DOM" % short)
    head, _, body = text.partition("\n\n")
    out, skip = [], False
    for line in head.split("\n"):
        if line[:1] in (" ", "\t"):
            if not skip:
                out[-1] += "\n" + line
            continue
        skip = line.lower().startswith(("received:", "x-original-to:"))
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n\n" + body


def find_case(msgs, case):
    for m in msgs:
        if ("X-Case: %s\n" % case).encode() in m.replace(b"\r\n", b"\n"):
            return m
    return None


MILTER_HEADER_CHECKS = r"""
/^X-Milter-Drop:/ IGNORE
/^X-Milter-Replace: (.*)/ REPLACE X-Replaced: $1
/^X-Milter-Warn:/ WARN milter header warn
/^X-Milter-Reject:/ REJECT milter header refused
/^Subject: milter-ignore/ IGNORE
"""


class Milter(unittest.TestCase):
    maxDiff = None

    # -- Postfix as the oracle -------------------------------------------

    def test_same_as_postfix(self):
        pfx_peer = Peer(self, {})
        our_peer = Peer(self, {})
        i = Instance(self, users=("bob", "carol"))
        mhc = os.path.join(i.dir, "milter_header_checks")
        with open(mhc, "w") as f:
            f.write(MILTER_HEADER_CHECKS.lstrip())
        os.chmod(mhc, 0o644)
        mmaps = os.path.join(i.dir, "smtpd_milter_maps")
        with open(mmaps, "w") as f:
            f.write("192.0.2.0/24 DISABLE\n")
        os.chmod(mmaps, 0o644)
        i.set_main(smtpd_milters="inet:127.0.0.1:%d" % our_peer.port,
                   smtpd_authorized_xclient_hosts="127.0.0.1",
                   milter_header_checks="regexp:" + mhc,
                   smtpd_milter_maps="cidr:" + mmaps)
        i.start()
        pfx = PostfixMx(self, address=PFX_ADDR, domain=PFX_DOMAIN,
                        users=("bob", "carol"),
                        extra_main={"smtpd_milters": "inet:127.0.0.1:%d"
                                    % pfx_peer.port,
                                    "smtpd_authorized_xclient_hosts":
                                    "127.0.0.1",
                                    "milter_header_checks": "regexp:" + mhc,
                                    "smtpd_milter_maps": "cidr:" + mmaps})
        # PostfixMx's own probe of port 25 was a session for the milter.
        poll_until("the milter's close event of Postfix's probe",
                   lambda: any(e["ev"] == "close"
                               for e in pfx_peer.events()), timeout=WAIT)
        ours = {"bob": i.addr("bob"), "carol": i.addr("carol")}
        theirs = {"bob": "bob@" + PFX_DOMAIN, "carol": "carol@" + PFX_DOMAIN}
        sides = (("postfix", pfx_peer, PFX_ADDR, 25, theirs,
                  "mx." + PFX_DOMAIN, pfx.maildir),
                 ("postino", our_peer, "127.0.0.1", i.port, ours,
                  "mx.example.test",
                  lambda u: i.maildir_messages(u)))

        def run(case, cfg_of, rcpts=("bob",), deliver=("bob",),
                sender="joe@example.org", before=()):
            got = {}
            for name, peer, host, port, users, hostname, mdir in sides:
                peer.set(cfg_of(users))
                peer.clear()
                replies = transaction(host, port, sender,
                                      [users[u] for u in rcpts],
                                      message(case, [users[u]
                                                     for u in rcpts]),
                                      before=before)
                msgs = {}
                for u in deliver:
                    poll_until("%s: case %s for %s" % (name, case, u),
                               lambda: find_case(mdir(u), case),
                               timeout=WAIT)
                    msgs[u] = norm_message(find_case(mdir(u), case),
                                           users)
                # The close event comes after QUIT: wait for it.
                poll_until("%s: the milter's close event" % name,
                           lambda: any(e["ev"] == "close"
                                       for e in peer.events()),
                           timeout=WAIT)
                got[name] = {
                    "replies": [norm_reply(r, hostname) for r in replies],
                    "messages": msgs,
                    "events": norm_events(peer.events(), users),
                    "raw": peer.events(),
                }
            for k in ("replies", "messages", "events"):
                self.assertEqual(got["postfix"][k], got["postino"][k],
                                 "case %s: %s differ (Postfix's milter "
                                 "saw %s)" % (case, k,
                                              got["postfix"]["raw"]))
            return got["postino"]

        def same(cfg):
            return lambda users: cfg

        # The replies of each stage.
        for stage in ("connect", "helo", "mail", "rcpt", "data", "eoh",
                      "body", "eom"):
            for answer in ("reject", "tempfail",
                           "reply:554 5.7.0 Go away %s" % stage,
                           "reply:452 4.3.2 Later %s" % stage):
                run("%s-%s" % (stage, answer.split()[0]),
                    same({stage: answer}), deliver=())
        # Unknown commands go to the milter, which may answer them.
        run("unknown", same({}), before=("BOGUS one", "XYZZY"))
        run("unknown-reject", same({"unknown": "reply:554 5.7.1 No xyzzy"}),
            before=("XYZZY",))
        # milter_header_checks on what the milter adds and changes.
        run("mhc-actions", same({"eom_actions": [
            ["addheader", "X-Milter-Drop", "yes"],
            ["addheader", "X-Milter-Replace", "old"],
            ["addheader", "X-Milter-Warn", "yes"],
            ["insheader", 0, "X-Milter-Replace", "inserted"],
            ["addheader", "X-Kept", "yes"]]}))
        run("mhc-change", same({"eom_actions": [
            ["chgheader", "Subject", 1, "milter-ignore me"],
            ["chgheader", "X-A", 1, "X-Milter-Replace-Not"]]}))
        run("mhc-reject", same({"eom_actions": [
            ["addheader", "X-Milter-Reject", "yes"]]}), deliver=())
        # XCLIENT: the milter hears of the new client.
        run("xclient", same({}), before=(
            "XCLIENT NAME=mail.client.example ADDR=198.51.100.7 PORT=4000",
            "EHLO helo.client.example"))
        run("xclient-helo", same({}), before=(
            "XCLIENT NAME=[UNAVAILABLE] ADDR=198.51.100.8 PORT=4001 "
            "HELO=given.helo.example",))
        # smtpd_milter_maps: DISABLE for the client XCLIENT names.
        run("milter-maps-disable", same({"eom_actions": [
            ["addheader", "X-Should-Not", "1"]]}), before=(
            "XCLIENT NAME=x.example ADDR=192.0.2.9 PORT=4002",))
        # Two transactions in one session.  (A new HELO is not here:
        # Postfix sends the milter HELO then ABORT, postino the reverse.)
        run("rset", same({}), before=("MAIL FROM:<a@example.org>", "RSET"))
        run("null-sender", same({}), sender="")
        for stage in ("mail", "rcpt", "data", "eom"):
            run("%s-discard" % stage, same({stage: "discard"}), deliver=())
        run("rcpt-one", lambda u: {"rcpt": {"<%s>" % u["carol"]:
                                            "reject"}},
            rcpts=("carol", "bob"), deliver=("bob",))
        for stage in ("connect", "helo", "mail", "rcpt", "eoh"):
            run("%s-accept" % stage, same({stage: "accept"}))
        # End-of-message changes.
        run("addheader", same({"eom_actions": [
            ["addheader", "X-Milter", "seen"],
            ["addheader", "X-Multi", "a\r\n\tb"]]}))
        run("insheader", same({"eom_actions": [
            ["insheader", 0, "X-Zero", "0"],
            ["insheader", 2, "X-Two", "2"],
            ["insheader", 99, "X-End", "99"]]}))
        run("chgheader", same({"eom_actions": [
            ["chgheader", "X-A", 2, "changed"],
            ["chgheader", "Subject", 1, "new subject"],
            ["chgheader", "X-Missing", 1, "added"]]}))
        run("delheader", same({"eom_actions": [
            ["chgheader", "X-A", 3, ""],
            ["chgheader", "X-A", 2, ""]]}))
        run("chgfrom", same({"eom_actions": [
            ["chgfrom", "<other@example.org>"]]}))
        run("addrcpt", lambda u: {"eom_actions": [
            ["addrcpt", "<%s>" % u["carol"]]]}, deliver=("bob", "carol"))
        run("delrcpt", lambda u: {"eom_actions": [
            ["delrcpt", "<%s>" % u["carol"]]]}, rcpts=("bob", "carol"))
        run("replacebody", same({"eom_actions": [
            ["replacebody", "new body\r\nsecond\r\n"]]}))
        # The deleted recipient got nothing, at either.
        for name, _, _, _, _, _, mdir in sides:
            self.assertIsNone(find_case(mdir("carol"), "delrcpt"), name)
        i.check_sanitizer()


REJECT = "550 5.5.0 Service unavailable"
TEMPFAIL = "451 4.7.1 Service unavailable - try again later"

# How a milter fails: (name, FakeMilter mode, at which command).  "down"
# is a port nobody listens on.
FAILURES = [
    ("down", None, None),
    ("command timeout", "sleep", "M"),
    ("content timeout", "sleep", "B"),
    ("closes at RCPT", "close", "R"),
    ("garbage at MAIL", "garbage", "M"),
    ("short packet at DATA", "short", "T"),
    ("huge length at end of headers", "huge", "N"),
    ("unknown reply at end of message", "badcmd", "E"),
    ("closes in negotiation", "close", "O"),
]


class MilterFailures(unittest.TestCase):
    """milter_default_action for each way a milter can fail."""

    def failures(self, action):
        fake = FakeMilter(self)
        endpoint = "inet:127.0.0.1:%d" % fake.port
        i = Instance(self, users=("bob",))
        i.set_main(smtpd_milters=endpoint,
                   milter_default_action=action,
                   milter_command_timeout="1s",
                   milter_content_timeout="1s",
                   milter_connect_timeout="1s")
        i.start()
        bob = i.addr("bob")
        delivered = 0
        for n, (what, mode, at) in enumerate(FAILURES):
            case = "fail-%d" % n
            warnings = len(re.findall(r"warning: .*%s" % re.escape(endpoint),
                                      i.log()))
            held = len(i.queue_files("hold"))
            if what == "down":
                fake.down()
            else:
                fake.mode, fake.at = mode, at
            replies = transaction("127.0.0.1", i.port, "joe@example.org",
                                  [bob], message(case, [bob]))
            if what == "down":
                fake.up()
            fake.mode = None
            msg = "%s, %s: %s" % (action, what, replies)
            refusals = [r for r in replies
                        if r[:1] in ("4", "5") and not r.startswith("221")]
            if action in ("accept", "quarantine"):
                self.assertEqual(refusals, [], msg)
                self.assertTrue(replies[-2].startswith("250 2.0.0 Ok"), msg)
            elif action == "reject":
                # A failure at connect: the greeting is "554 HOST ESMTP
                # not accepting connections", as Postfix's.
                self.assertIn(refusals[-1], (REJECT, "554 %s ESMTP not "
                                             "accepting connections"
                                             % MYHOSTNAME), msg)
                self.assertEqual(len(refusals), 1, msg)
            else:
                self.assertEqual(refusals, [TEMPFAIL], msg)
            i.wait_log(r"warning: .*%s" % re.escape(endpoint),
                       count=warnings + 1)
            if action == "accept":
                delivered += 1
                i.wait_maildir("bob", delivered)
            if action == "quarantine":
                poll_until("%s: a message in hold/" % msg,
                           lambda: len(i.queue_files("hold")) > held,
                           timeout=WAIT)
            # The same smtpd serves the next client, the milter working.
            clean = "clean-%d" % n
            replies = transaction("127.0.0.1", i.port, "joe@example.org",
                                  [bob], message(clean, [bob]))
            self.assertTrue(replies[-2].startswith("250 2.0.0 Ok"),
                            "%s, then: %s" % (msg, replies))
            delivered += 1
            i.wait_maildir("bob", delivered)
        got = i.maildir_messages("bob")
        self.assertEqual(len(got), delivered)
        if action == "quarantine":
            r = subprocess.run([program("postqueue"), "-c", i.conf, "-p"],
                               capture_output=True, text=True,
                               env=i.env(), timeout=WAIT)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(re.findall(r"^[0-9A-F]+!\s", r.stdout,
                                            re.M)),
                             len(FAILURES), r.stdout)
        self.assertEqual(i.queue_files("incoming", "active", "deferred"),
                         [])
        i.check_sanitizer()

    def test_accept(self):
        self.failures("accept")

    def test_reject(self):
        self.failures("reject")

    def test_tempfail(self):
        self.failures("tempfail")

    def test_quarantine(self):
        self.failures("quarantine")


class FailuresSameAsPostfix(unittest.TestCase):
    """The replies to a failing milter, and what goes to hold/, postino
    against Postfix, for each default action."""

    def test_same_replies(self):
        diffs = []
        for n, action in enumerate(("reject", "tempfail", "quarantine",
                                    "accept")):
            fpfx, fours = FakeMilter(self), FakeMilter(self)
            extra = {"milter_default_action": action,
                     "milter_command_timeout": "1s",
                     "milter_content_timeout": "1s",
                     "milter_connect_timeout": "1s"}
            i = Instance(self, users=("bob",))
            i.set_main(smtpd_milters="inet:127.0.0.1:%d" % fours.port,
                       **extra)
            i.start()
            addr = "127.0.0.%d" % (54 + n)
            extra["smtpd_milters"] = "inet:127.0.0.1:%d" % fpfx.port
            pfx = PostfixMx(self, address=addr, domain=PFX_DOMAIN,
                            users=("bob",), extra_main=extra)
            pfx_hold = os.path.join(pfx.dir, "spool", "hold")

            def held(path):
                n = 0
                for _, _, files in os.walk(path):
                    n += len(files)
                return n
            for what, mode, at in FAILURES:
                got = []
                for fake, host, port, rcpt, hostname in (
                        (fpfx, addr, 25, "bob@" + PFX_DOMAIN,
                         "mx." + PFX_DOMAIN),
                        (fours, "127.0.0.1", i.port, i.addr("bob"),
                         MYHOSTNAME)):
                    if what == "down":
                        fake.down()
                    else:
                        fake.mode, fake.at = mode, at
                    replies = transaction(host, port, "joe@example.org",
                                          [rcpt], message(what, [rcpt]),
                                          before=("NOOP",))
                    if what == "down":
                        fake.up()
                    fake.mode = None
                    got.append([norm_reply(r, hostname) for r in replies])
                    # The message is in hold/ when the 250 comes.
                    got[-1].append("held %d" % held(
                        pfx_hold if fake is fpfx
                        else os.path.join(i.queue, "hold")))
                if got[0] != got[1]:
                    diffs.append("%s, %s: Postfix %s, postino %s"
                                 % (action, what, got[0], got[1]))
            i.check_sanitizer()
        self.assertEqual(diffs, [], "\n".join(diffs))


class MilterOptions(unittest.TestCase):

    def test_milter_maps_failure(self):
        """smtpd_milter_maps that cannot be read: mail waits (451 at
        MAIL), it is never taken without the milters it may need."""
        i = Instance(self, users=("bob",))
        i.set_main(smtpd_milters="inet:127.0.0.1:9",
                   smtpd_milter_maps="regexp:" + os.path.join(i.dir, "gone"))
        i.start()
        with i.smtp() as c:
            c.ehlo("client.example")
            code, text = c.mail("a@example.org")
            self.assertEqual((code, text[:5]), (451, b"4.3.0"), text)
        i.wait_log(r"warning: smtpd_milter_maps: lookup of 127\.0\.0\.1 "
                   r"failed")
        i.check_sanitizer()

    def test_no_milters(self):
        """receive_override_options=no_milters on one smtpd: its mail
        never reaches the milter; the other smtpd's does."""
        peer = Peer(self, {"eom_actions": [["addheader", "X-Milter",
                                            "seen"]]})
        port2 = free_port()
        i = Instance(self, users=("bob",),
                     smtpd_args=" -o receive_override_options=no_milters",
                     master_extra="127.0.0.1:%d inet n - n - 1 smtpd\n"
                     % port2)
        i.set_main(smtpd_milters="inet:127.0.0.1:%d" % peer.port)
        i.start()
        poll_until("the second smtpd", lambda: port_open("127.0.0.1", port2),
                   timeout=WAIT)
        # That probe was a session of the smtpd with milters.
        poll_until("the milter's close event of the probe",
                   lambda: any(e["ev"] == "close" for e in peer.events()),
                   timeout=WAIT)
        peer.clear()
        bob = i.addr("bob")
        r = transaction("127.0.0.1", i.port, "joe@example.org", [bob],
                        message("plain", [bob]))
        self.assertTrue(r[-2].startswith("250 2.0.0 Ok"), r)
        got = i.wait_maildir("bob", 1)
        self.assertNotIn(b"X-Milter", got[0])
        self.assertEqual(peer.events(), [])
        r = transaction("127.0.0.1", port2, "joe@example.org", [bob],
                        message("filtered", [bob]))
        self.assertTrue(r[-2].startswith("250 2.0.0 Ok"), r)
        got = find_case(i.wait_maildir("bob", 2), "filtered")
        self.assertIn(b"X-Milter: seen", got)
        self.assertIn("eom", [e["ev"] for e in peer.events()])
        i.check_sanitizer()

    def test_per_milter_options(self):
        """{ inet:..., default_action=accept, command_timeout=1s }: the
        milter's own timeout and default action beat milter_*; the next
        milter of the list still sees the mail."""
        slow = Peer(self, {"sleep": {"mail": 4}})
        good = Peer(self, {"eom_actions": [["addheader", "X-Good", "yes"]]})
        i = Instance(self, users=("bob",))
        slow_ep = "inet:127.0.0.1:%d" % slow.port
        i.set_main(smtpd_milters="{ %s, default_action=accept, "
                   "command_timeout=1s }, inet:127.0.0.1:%d"
                   % (slow_ep, good.port),
                   milter_default_action="tempfail",
                   milter_command_timeout="30s")
        i.start()
        bob = i.addr("bob")
        r = transaction("127.0.0.1", i.port, "joe@example.org", [bob],
                        message("opts", [bob]))
        self.assertEqual(r[2], "250 2.1.0 Ok", r)
        self.assertTrue(r[-2].startswith("250 2.0.0 Ok"), r)
        try:
            got = i.wait_maildir("bob", 1, timeout=15)[0]
        except AssertionError:
            print(i.log())
            raise
        self.assertIn(b"X-Good: yes", got)
        i.wait_log(r"warning: milter %s: .*SMFIC_MAIL.*%s"
                   % (re.escape(slow_ep), "timed out"))
        self.assertIn("eom", [e["ev"] for e in good.events()])
        # A malformed option list stops smtpd at start, naming it.
        i.check_sanitizer()


def norm_events(events, users):
    """The milter's events, with the macros' values that depend on the
    MTA (its names, addresses, queue ids, version) replaced by a mark."""
    keep = ("{mail_addr}", "{rcpt_addr}", "{client_addr}")
    out = []
    for e in events:
        e = dict(e)
        text = json.dumps(e)
        for short, addr in users.items():
            text = text.replace(addr, "%s@DOM" % short)
        e = json.loads(text)
        if "macros" in e:
            e["macros"] = {k: (v if k in keep else "*")
                           for k, v in e["macros"].items()}
        if e["ev"] == "unknown":
            # Postfix passes the verb only (its command buffer is split
            # in place by then); postino the whole line, as Sendmail.
            e["cmd"] = e["cmd"].split()[0]
        if e["ev"] == "connect" and "127.0.0.1" in e.get("addr", []):
            # The real client: named by each MTA's resolver.
            e.pop("host", None)
            e.pop("addr", None)
        out.append(e)
    return out


if __name__ == "__main__":
    unittest.main()

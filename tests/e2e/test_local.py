#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_local - drive the local delivery agent directly.

Each test writes a queue file (the record format of core/mail/qfile.h) into
a temporary instance, starts `local -S socket` with main.cf overrides, sends
one delivery request over the unix socket (attribute lists, deliver_request.h)
and checks the per-recipient replies, the mailboxes/files written and the
log lines in maillog_file.

As root (CI) the tests create two users (useradd) and also check that
deliveries run with the recipient's or default_privs' ids; as an ordinary
user they deliver to the running user only.  Environment: POSTINO_BUILD
(build tree with libexec/postino/local, sbin/postalias, lib/postino)."""

import os
import pwd
import re
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("POSTINO_BUILD", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", "..", "build"))
LOCAL = os.path.join(BUILD, "libexec", "postino", "local")
POSTALIAS = os.path.join(BUILD, "sbin", "postalias")
IS_ROOT = os.geteuid() == 0
DOMAIN = "example.test"
TEST_USERS = ["ptlocalu1", "ptlocalu2"]


def attr_escape(v):
    out = []
    for ch in v.encode():
        if ch == 0x25 or ch < 0x20 or ch == 0x7f:
            out.append("%%%02X" % ch)
        else:
            out.append(chr(ch) if ch < 0x80 else bytes([ch]).decode("latin-1"))
    return "".join(out)


def attr_unescape(v):
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), v)


def record(t, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return t.encode() + struct.pack(">I", len(payload)) + payload


class Instance:
    """A temporary instance: main.cf, queue, spool, aliases."""

    def __init__(self, user):
        self.dir = tempfile.mkdtemp(prefix="postino-local-")
        os.chmod(self.dir, 0o755)
        self.user = user
        self.queue = os.path.join(self.dir, "queue")
        for d in ("active", "incoming", "public", "private"):
            os.makedirs(os.path.join(self.queue, d))
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.spool)
        os.chmod(self.spool, 0o1777)
        self.log = os.path.join(self.dir, "maillog")
        self.aliases = os.path.join(self.dir, "aliases")
        self.sock = os.path.join(self.dir, "local.sock")
        self.proc = None
        self.counter = 0

    def write_main_cf(self, extra=""):
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(f"""queue_directory = {self.queue}
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination = {DOMAIN}, localhost
alias_maps = hash:{self.aliases}
alias_database = hash:{self.aliases}
mail_spool_directory = {self.spool}
forward_path = {self.dir}/fwd/$user/.forward
maillog_file = {self.log}
deliver_lock_attempts = 2
deliver_lock_delay = 1s
{extra}
""")

    def set_aliases(self, text):
        with open(self.aliases, "w") as f:
            f.write(text)
        r = subprocess.run([POSTALIAS, "-c", self.dir, self.aliases],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("postalias failed: " + r.stderr)

    def start(self, *overrides, flags=()):
        self.stop()
        args = [LOCAL, "-c", self.dir, "-S", self.sock] + list(flags)
        for o in overrides:
            args += ["-o", o]
        env = dict(os.environ, MAIL_CONFIG=self.dir)
        self.errfile = open(os.path.join(self.dir, "stderr"), "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.errfile)
        for _ in range(500):
            if os.path.exists(self.sock):
                return
            if self.proc.poll() is not None:
                with open(os.path.join(self.dir, "stderr")) as f:
                    raise AssertionError("local exited: " + f.read())
            time.sleep(0.01)
        raise AssertionError("local did not create its socket")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.errfile.close()
            self.proc = None
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def queue_file(self, sender, rcpts, content):
        """Write active/ID; returns (id, path, content_offset, len, offsets)."""
        self.counter += 1
        qid = "%X%04X" % (int(time.time()), self.counter)
        data = record("V", "1") + record("T", "%.6f" % time.time())
        data += record("S", sender)
        offsets = []
        for r in rcpts:
            offsets.append(len(data))
            data += record("R", "0;%s;%s" % (r, r))
        if isinstance(content, str):
            content = content.encode()
        off = len(data) + 5
        data += record("M", content) + record("E", "")
        path = os.path.join(self.queue, "active", qid)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o700)
        return qid, path, off, len(content), offsets

    def deliver(self, sender, rcpts, content, raw_request=None, orig=None):
        qid, path, off, clen, offsets = self.queue_file(sender, rcpts, content)
        req = [("request", "deliver"), ("request_id", "7"), ("queue_id", qid),
               ("queue_path", path), ("sender", sender),
               ("arrival", "%.6f" % (time.time() - 1)),
               ("content_offset", str(off)), ("content_len", str(clen))]
        for i, r in enumerate(rcpts):
            req += [("rcpt_%d" % i, r),
                    ("orig_rcpt_%d" % i, orig[i] if orig else r),
                    ("rcpt_offset_%d" % i, str(offsets[i])),
                    ("dsn_notify_%d" % i, "0")]
        req.append(("rcpt_count", str(len(rcpts))))
        wire = raw_request if raw_request is not None else "".join(
            "%s=%s\n" % (n, attr_escape(v)) for n, v in req) + "\n"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.sock)
        s.sendall(wire.encode())
        try:
            return qid, self._replies(s)
        finally:
            s.close()

    def request_wire(self, rid, sender, rcpts, content):
        """One request (as qmgr writes it) for a new queue file."""
        qid, path, off, clen, offsets = self.queue_file(sender, rcpts, content)
        req = [("request", "deliver"), ("request_id", str(rid)),
               ("queue_id", qid), ("queue_path", path), ("sender", sender),
               ("arrival", "%.6f" % (time.time() - 1)),
               ("content_offset", str(off)), ("content_len", str(clen))]
        for i, r in enumerate(rcpts):
            req += [("rcpt_%d" % i, r), ("orig_rcpt_%d" % i, r),
                    ("rcpt_offset_%d" % i, str(offsets[i])),
                    ("dsn_notify_%d" % i, "0")]
        req.append(("rcpt_count", str(len(rcpts))))
        return "".join("%s=%s\n" % (n, attr_escape(v)) for n, v in req) + "\n"

    def deliver_pipelined(self, wires):
        """Send every request at once on one connection (as qmgr
        pipelines them); returns (request ids in the order their done
        lists came, {request_id: [status lists]})."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.sock)
        s.sendall("".join(wires).encode())
        order, replies, buf = [], {}, b""
        try:
            while len(order) < len(wires):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    block, buf = buf.split(b"\n\n", 1)
                    d = {}
                    for line in block.decode().split("\n"):
                        n, _, v = line.partition("=")
                        d[n] = attr_unescape(v)
                    if d.get("done") == "1":
                        order.append(d["request_id"])
                    else:
                        replies.setdefault(d["request_id"], []).append(d)
        finally:
            s.close()
        return order, replies

    def _replies(self, s):
        replies = []
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            done = False
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                d = {}
                for line in block.decode().split("\n"):
                    n, _, v = line.partition("=")
                    d[n] = attr_unescape(v)
                if d.get("done") == "1":
                    done = True
                    break
                replies.append(d)
            if done:
                break
        return replies

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


MSG = ("From: sender@remote.test\nTo: someone@example.test\n"
       "Subject: test\n\nFrom the body\nline two\n>From quoted already\n")


class LocalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for p in (LOCAL, POSTALIAS):
            if not os.access(p, os.X_OK):
                raise AssertionError("missing program %s (build it first)" % p)
        cls.created = []
        if IS_ROOT:
            for u in TEST_USERS:
                try:
                    pwd.getpwnam(u)
                except KeyError:
                    subprocess.run(["useradd", "-M", "-d", "/nonexistent",
                                    "-s", "/bin/sh", u], check=True)
                    cls.created.append(u)
            cls.user = TEST_USERS[0]
            cls.user2 = TEST_USERS[1]
        else:
            cls.user = pwd.getpwuid(os.getuid()).pw_name
            cls.user2 = None

    @classmethod
    def tearDownClass(cls):
        for u in cls.created:
            subprocess.run(["userdel", u], check=False)

    def setUp(self):
        self.inst = Instance(self.user)
        self.pw = pwd.getpwnam(self.user)
        if IS_ROOT:
            # Give the test user a home inside the instance.
            self.home = os.path.join(self.inst.dir, "home", self.user)
            os.makedirs(self.home)
            os.chown(self.home, self.pw.pw_uid, self.pw.pw_gid)
            subprocess.run(["usermod", "-d", self.home, self.user], check=True)
        fwd = os.path.join(self.inst.dir, "fwd", self.user)
        os.makedirs(fwd)
        os.chown(fwd, self.pw.pw_uid, self.pw.pw_gid)
        self.fwd_dir = fwd
        self.inst.write_main_cf()
        self.inst.set_aliases("postmaster: %s\n" % self.user)
        self.u = self.user

    def tearDown(self):
        self.inst.stop()
        try:
            with open(os.path.join(self.inst.dir, "stderr")) as f:
                err = f.read()
        except FileNotFoundError:
            err = ""
        self.inst.cleanup()
        # Sanitizer builds: any report from local fails the test.
        self.assertNotIn("AddressSanitizer", err)
        self.assertNotIn("runtime error:", err)

    def mbox(self, user=None):
        with open(os.path.join(self.inst.spool, user or self.user), "rb") as f:
            return f.read()

    def own(self, path):
        os.chown(path, self.pw.pw_uid, self.pw.pw_gid)

    # --- mailbox formats ---------------------------------------------------

    def test_mbox_format_and_log(self):
        self.inst.start()
        qid, rep = self.inst.deliver("sender@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(len(rep), 1)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(rep[0]["dsn"], "2.0.0")
        self.assertEqual(rep[0]["text"], "delivered to mailbox")
        data = self.mbox().decode()
        self.assertRegex(data, r"^From sender@remote\.test  \w{3} \w{3} [ \d]\d "
                               r"\d\d:\d\d:\d\d \d{4}\n")
        lines = data.split("\n")
        self.assertEqual(lines[1], "Return-Path: <sender@remote.test>")
        self.assertEqual(lines[2], "X-Original-To: %s@%s" % (self.u, DOMAIN))
        self.assertEqual(lines[3], "Delivered-To: %s@%s" % (self.u, DOMAIN))
        self.assertIn("\n>From the body\n", data)
        self.assertIn("\n>From quoted already\n", data)
        self.assertTrue(data.endswith("line two\n>From quoted already\n\n"))
        self.assertFalse(os.path.exists(os.path.join(
            self.inst.spool, self.u + ".lock")))
        st = os.stat(os.path.join(self.inst.spool, self.u))
        self.assertEqual(st.st_uid, self.pw.pw_uid)
        self.assertRegex(self.inst.logtext(),
                         r"local\[\d+\]: %s: to=<%s@%s>, relay=local, "
                         r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, "
                         r"dsn=2\.0\.0, status=sent \(delivered to mailbox\)"
                         % (qid, self.u, DOMAIN))
        # A second message is appended after a blank line.
        self.inst.deliver("", ["%s@%s" % (self.u, DOMAIN)], "Subject: 2\n\nx")
        data = self.mbox().decode()
        self.assertEqual(data.count("\nFrom MAILER-DAEMON  "), 1)
        self.assertTrue(data.endswith("\nx\n\n"))

    def test_one_connection(self):
        # -1: serve one connection, then exit 0 (max_use 1 on the daemon
        # skeleton, which waits until the client is gone).
        self.inst.start(flags=["-1"])
        proc = self.inst.proc
        qid, rep = self.inst.deliver("sender@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        for _ in range(3000):
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        self.assertEqual(proc.poll(), 0)

    def test_maildir_spool(self):
        self.inst.start("mail_spool_directory=%s/" % self.inst.spool)
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["text"], "delivered to maildir", rep)
        new = os.path.join(self.inst.spool, self.u, "new")
        files = os.listdir(new)
        self.assertEqual(len(files), 1)
        # ARRIVAL.IQUEUEIDROFFSETHHASH.host: the same for every attempt.
        self.assertRegex(files[0], r"^\d+\.I%sR\d+H[0-9a-f]{8}\.[^:/]+$" % qid)
        self.assertEqual(os.listdir(os.path.join(self.inst.spool, self.u,
                                                 "tmp")), [])
        with open(os.path.join(new, files[0])) as f:
            data = f.read()
        self.assertTrue(data.startswith("Return-Path: <s@remote.test>\n"
                                        "X-Original-To: %s@%s\n"
                                        "Delivered-To: %s@%s\nFrom: "
                                        % (self.u, DOMAIN, self.u, DOMAIN)))
        self.assertIn("\nFrom the body\n", data)      # no quoting in maildir
        self.assertEqual(os.stat(os.path.join(new, files[0])).st_uid,
                         self.pw.pw_uid)

    @unittest.skipUnless(IS_ROOT, "home_mailbox needs a user whose home we own")
    def test_home_maildir_as_user(self):
        self.inst.start("home_mailbox=Maildir/")
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["text"], "delivered to maildir", rep)
        md = os.path.join(self.home, "Maildir")
        for sub in ("tmp", "new", "cur"):
            self.assertEqual(os.stat(os.path.join(md, sub)).st_uid,
                             self.pw.pw_uid)
        self.assertEqual(len(os.listdir(os.path.join(md, "new"))), 1)

    def test_mbox_locked_defers(self):
        path = os.path.join(self.inst.spool, self.u)
        with open(path, "w") as f:
            f.write("")
        self.own(path)
        self.inst.start()
        # fcntl locks are per process: hold one from a child.
        holder = subprocess.Popen(
            ["python3", "-c",
             "import fcntl,sys,time;f=open(sys.argv[1],'a');"
             "fcntl.lockf(f,fcntl.LOCK_EX);print('ok',flush=True);time.sleep(60)",
             path], stdout=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.readline().strip(), b"ok")
            qid, rep = self.inst.deliver("s@remote.test",
                                         ["%s@%s" % (self.u, DOMAIN)], MSG)
        finally:
            holder.kill()
            holder.wait()
            holder.stdout.close()
        self.assertEqual(rep[0]["status"], "deferred", rep)
        self.assertEqual(rep[0]["dsn"], "4.2.0")
        self.assertIn("unable to lock", rep[0]["text"])
        self.assertEqual(self.mbox(), b"")
        self.assertFalse(os.path.exists(path + ".lock"))

    def test_dotlock_busy_defers(self):
        path = os.path.join(self.inst.spool, self.u)
        with open(path + ".lock", "w"):
            pass
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "deferred", rep)
        self.assertIn("lock file", rep[0]["text"])
        self.assertTrue(os.path.exists(path + ".lock"))

    def test_mailbox_symlink_refused(self):
        target = os.path.join(self.inst.dir, "target")
        with open(target, "w") as f:
            f.write("keep\n")
        os.symlink(target, os.path.join(self.inst.spool, self.u))
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "deferred", rep)
        with open(target) as f:
            self.assertEqual(f.read(), "keep\n")

    def test_mailbox_size_limit(self):
        self.inst.start("mailbox_size_limit=100", "message_size_limit=50")
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)],
                                     "Subject: big\n\n" + "x" * 200 + "\n")
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertEqual(rep[0]["dsn"], "5.2.2")

    def test_huge_header(self):
        self.inst.start()
        big = "X-Big: " + "a" * (1024 * 1024) + "\n"
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)],
                                     big + "Subject: h\n\nbody\n")
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertIn(big.encode() + b"Subject: h\n\nbody\n\n", self.mbox())

    # --- recipients --------------------------------------------------------

    def test_unknown_user(self):
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["nosuchuser@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "bounced")
        self.assertEqual(rep[0]["dsn"], "5.1.1")
        self.assertEqual(rep[0]["text"], 'unknown user: "nosuchuser"')
        self.assertIn("status=bounced (unknown user: \"nosuchuser\")",
                      self.inst.logtext())

    def test_luser_relay(self):
        self.inst.start("luser_relay=%s" % self.u)
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["nosuchuser@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertIn(b"X-Original-To: nosuchuser@", self.mbox())

    def test_several_recipients(self):
        self.inst.set_aliases("a1: %s\n" % self.u)
        self.inst.start()
        qid, rep = self.inst.deliver(
            "s@remote.test", ["nosuch@%s" % DOMAIN, "a1@%s" % DOMAIN], MSG)
        self.assertEqual([r["rcpt_index"] for r in rep], ["0", "1"])
        self.assertEqual([r["status"] for r in rep], ["bounced", "sent"])

    def test_alias_recursive_and_log(self):
        self.inst.set_aliases("first: second\nsecond: %s\n" % self.u)
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["First@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertIn("to=<%s@%s>, orig_to=<First@%s>" % (self.u, DOMAIN, DOMAIN),
                      self.inst.logtext())
        data = self.mbox().decode()
        self.assertIn("X-Original-To: First@%s\n" % DOMAIN, data)
        self.assertIn("Delivered-To: %s@%s\n" % (self.u, DOMAIN), data)

    def test_alias_extension(self):
        self.inst.set_aliases("list: %s\n" % self.u)
        self.inst.start("recipient_delimiter=+")
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["list+tag@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)

    def test_alias_loop(self):
        self.inst.set_aliases("loopa: loopb\nloopb: loopa\n")
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["loopa@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertEqual(rep[0]["dsn"], "5.4.6")
        self.assertIn("alias database loop", rep[0]["text"])

    def test_branching_alias_loop_is_bounded(self):
        self.inst.set_aliases("ba: bb, bb, bb\nbb: ba, ba, ba\n")
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["ba@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertEqual(rep[0]["dsn"], "5.4.6")

    def test_alias_self_reference(self):
        self.inst.set_aliases("%s: %s, copyto\ncopyto: /dev/null\n"
                              % (self.u, self.u))
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(self.mbox().count(b"\nFrom: sender@remote.test\n"), 1)

    def test_duplicates_suppressed(self):
        self.inst.set_aliases("dup: %s, %s, dup2\ndup2: %s\n"
                              % (self.u, self.u, self.u))
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["dup@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(self.mbox().count(b"\nFrom: sender@remote.test\n"), 1)

    def test_delivered_to_loop(self):
        self.inst.start()
        qid, rep = self.inst.deliver(
            "s@remote.test", ["%s@%s" % (self.u, DOMAIN)],
            "Delivered-To: %s@%s\nSubject: loop\n\nx\n" % (self.u.upper(), DOMAIN))
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertEqual(rep[0]["dsn"], "5.4.6")
        self.assertEqual(rep[0]["text"],
                         "mail forwarding loop for %s@%s" % (self.u, DOMAIN))
        self.assertFalse(os.path.exists(os.path.join(self.inst.spool, self.u)))

    def test_alias_table_tempfail_defers(self):
        self.inst.start("alias_maps=fail:down")
        qid, rep = self.inst.deliver("s@remote.test", ["x@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "deferred", rep)
        self.assertEqual(rep[0]["dsn"], "4.3.0")

    # --- commands and files -------------------------------------------------

    def envdump_alias(self, name, out):
        return '%s: "|env > %s; id -u >> %s"\n' % (name, out, out)

    def read_env(self, path):
        with open(path) as f:
            lines = f.read().split("\n")
        env = dict(l.split("=", 1) for l in lines if "=" in l)
        ids = [l for l in lines if l.isdigit()]
        return env, ids

    def test_command_environment(self):
        out = os.path.join(self.inst.dir, "out", "env")
        os.makedirs(os.path.dirname(out))
        os.chmod(os.path.dirname(out), 0o777)
        self.inst.set_aliases(self.envdump_alias("cmd", out))
        self.inst.start()
        qid, rep = self.inst.deliver("Snd@remote.test", ["cmd@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(rep[0]["text"], "delivered to command: env > %s; "
                         "id -u >> %s" % (out, out))
        env, ids = self.read_env(out)
        self.assertEqual(env["RECIPIENT"], "cmd@%s" % DOMAIN)
        self.assertEqual(env["SENDER"], "Snd@remote.test")
        self.assertEqual(env["LOCAL"], "cmd")
        self.assertEqual(env["DOMAIN"], DOMAIN)
        self.assertEqual(env["PATH"], "/usr/local/bin:/usr/bin:/bin")
        if IS_ROOT:
            # Root-owned alias database: default_privs, never root.
            self.assertEqual(ids, [str(pwd.getpwnam("nobody").pw_uid)])

    def test_command_stdin_has_from_line(self):
        out = os.path.join(self.inst.dir, "out", "msg")
        os.makedirs(os.path.dirname(out))
        os.chmod(os.path.dirname(out), 0o777)
        self.inst.set_aliases('pipe: "|cat > %s"\n' % out)
        self.inst.start()
        self.inst.deliver("s@remote.test", ["pipe@%s" % DOMAIN], MSG)
        with open(out) as f:
            data = f.read()
        self.assertRegex(data, r"^From s@remote.test  ")
        self.assertIn("\nReturn-Path: <s@remote.test>\nX-Original-To: pipe@%s\n"
                      "Delivered-To: pipe@%s\n" % (DOMAIN, DOMAIN), data)
        self.assertIn("\nFrom the body\n", data)

    def test_command_exit_codes(self):
        self.inst.set_aliases(
            'nouser: "|exit 67"\ntemp: "|exit 75"\nhole: "|exit 0"\n'
            'one: "|exit 1"\ncoded: "|echo 4.7.1 try later; exit 1"\n'
            'coded5: "|echo 5.7.9 go away; exit 75"\n'
            'sig: "|kill -9 $$"\n')
        self.inst.start()
        expect = {"nouser": ("bounced", "5.1.1"), "temp": ("deferred", "4.3.0"),
                  "hole": ("sent", "2.0.0"), "one": ("bounced", "5.3.0"),
                  "coded": ("deferred", "4.7.1"), "coded5": ("bounced", "5.7.9"),
                  "sig": ("deferred", "4.3.0")}
        for name, (status, dsn) in expect.items():
            qid, rep = self.inst.deliver("s@remote.test",
                                         ["%s@%s" % (name, DOMAIN)], MSG)
            self.assertEqual((rep[0]["status"], rep[0]["dsn"]), (status, dsn),
                             (name, rep))
        qid, rep = self.inst.deliver("s@remote.test", ["coded@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["text"], "try later")

    def test_command_time_limit(self):
        self.inst.set_aliases('slow: "|sleep 30"\n')
        self.inst.start("command_time_limit=1s")
        qid, rep = self.inst.deliver("s@remote.test", ["slow@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertIn("Command time limit exceeded", rep[0]["text"])

    def test_alias_to_file(self):
        path = os.path.join(self.inst.dir, "files", "archive")
        os.makedirs(os.path.dirname(path))
        os.chmod(os.path.dirname(path), 0o777)
        self.inst.set_aliases("arch: %s\n" % path)
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["arch@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(rep[0]["text"], "delivered to file: %s" % path)
        with open(path) as f:
            data = f.read()
        self.assertTrue(data.startswith("From s@remote.test  "))
        self.assertIn("\n>From the body\n", data)
        if IS_ROOT:
            self.assertEqual(os.stat(path).st_uid,
                             pwd.getpwnam("nobody").pw_uid)

    def test_files_and_commands_restricted(self):
        self.inst.set_aliases("cmd: |true\nfile: /tmp/x\n")
        self.inst.start("allow_mail_to_commands=forward",
                        "allow_mail_to_files=forward")
        qid, rep = self.inst.deliver("s@remote.test", ["cmd@%s" % DOMAIN], MSG)
        self.assertEqual((rep[0]["status"], rep[0]["dsn"], rep[0]["text"]),
                         ("bounced", "5.7.1", "mail to command is restricted"))
        qid, rep = self.inst.deliver("s@remote.test", ["file@%s" % DOMAIN], MSG)
        self.assertEqual((rep[0]["status"], rep[0]["text"]),
                         ("bounced", "mail to file is restricted"))

    # --- :include: -----------------------------------------------------------

    def test_include(self):
        canary = os.path.join(self.inst.dir, "CANARY")
        inc = os.path.join(self.inst.dir, "list.inc")
        with open(inc, "w") as f:
            f.write("# members\n%s\n\"|touch %s\"\n%s/inc-file\n"
                    % (self.u, canary, self.inst.dir))
        self.own(inc)
        os.chmod(inc, 0o644)
        self.inst.set_aliases("list: :include:%s\n" % inc)
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["list@%s" % DOMAIN], MSG)
        # The mailbox got it; the command and file were refused (defaults).
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertIn("is restricted", rep[0]["text"])
        self.assertIn(b"\nSubject: test\n", self.mbox())
        self.assertFalse(os.path.exists(canary))
        self.assertFalse(os.path.exists(os.path.join(self.inst.dir, "inc-file")))
        log = self.inst.logtext()
        self.assertIn("status=bounced (mail to command is restricted)", log)
        self.assertIn("status=sent (delivered to mailbox)", log)

    def test_include_world_writable_and_relative(self):
        inc = os.path.join(self.inst.dir, "ww.inc")
        with open(inc, "w") as f:
            f.write("%s\n" % self.u)
        os.chmod(inc, 0o666)
        self.inst.set_aliases("ww: :include:%s\nrel: :include:ww.inc\n" % inc)
        self.inst.start()
        for name in ("ww", "rel"):
            qid, rep = self.inst.deliver("s@remote.test",
                                         ["%s@%s" % (name, DOMAIN)], MSG)
            self.assertEqual((rep[0]["status"], rep[0]["dsn"]),
                             ("bounced", "5.3.5"), rep)
        self.assertFalse(os.path.exists(os.path.join(self.inst.spool, self.u)))

    def test_include_self_loop(self):
        inc = os.path.join(self.inst.dir, "self.inc")
        with open(inc, "w") as f:
            f.write(":include:%s\n%s\n" % (inc, self.u))
        os.chmod(inc, 0o644)
        self.inst.set_aliases("selfinc: :include:%s\n" % inc)
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["selfinc@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(self.mbox().count(b"\nSubject: test\n"), 1)

    # --- .forward --------------------------------------------------------------

    def write_forward(self, text, mode=0o644):
        path = os.path.join(self.fwd_dir, ".forward")
        with open(path, "w") as f:
            f.write(text)
        self.own(path)
        os.chmod(path, mode)
        return path

    def test_forward_self_and_command(self):
        out = os.path.join(self.inst.dir, "out", "fwdenv")
        os.makedirs(os.path.dirname(out))
        os.chmod(os.path.dirname(out), 0o777)
        self.write_forward('\\%s, "|env > %s; id -u >> %s"\n' % (self.u, out, out))
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertEqual(self.mbox().count(b"\nSubject: test\n"), 1)
        env, ids = self.read_env(out)
        self.assertEqual(env["USER"], self.u)
        self.assertEqual(ids, [str(self.pw.pw_uid)])

    def test_forward_world_writable_ignored(self):
        self.write_forward("elsewhere@remote.test\n", 0o666)
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["text"], "delivered to mailbox", rep)
        self.assertIn("world-writable: ignored", self.inst.logtext())

    def test_forward_remote_resubmits(self):
        self.write_forward("elsewhere@remote.test\n")
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        m = re.match(r"^forwarded as ([0-9A-F]+)$", rep[0]["text"])
        self.assertTrue(m, rep)
        path = os.path.join(self.inst.queue, "incoming", m.group(1))
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700)
        self.assertIn(b"0;elsewhere@remote.test;elsewhere@remote.test", data)
        self.assertIn(b"Delivered-To: %s@%s\nFrom: sender@remote.test\n"
                      % (self.u.encode(), DOMAIN.encode()), data)
        self.assertEqual(data[-5:], b"E\0\0\0\0")

    def test_owner_alias_sender(self):
        out = os.path.join(self.inst.dir, "out", "ownerenv")
        os.makedirs(os.path.dirname(out))
        os.chmod(os.path.dirname(out), 0o777)
        self.inst.set_aliases(self.envdump_alias("mlist", out) +
                              "owner-mlist: %s\n" % self.u)
        self.inst.start()
        qid, rep = self.inst.deliver("s@remote.test", ["mlist@%s" % DOMAIN], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        env, ids = self.read_env(out)
        self.assertEqual(env["SENDER"], "owner-mlist@%s" % DOMAIN)

    # --- hostile ---------------------------------------------------------------

    def test_shell_metacharacters_in_localpart(self):
        out = os.path.join(self.inst.dir, "out", "mbenv")
        os.makedirs(os.path.dirname(out))
        os.chmod(os.path.dirname(out), 0o777)
        canary = os.path.join(self.inst.dir, "CANARY")
        self.inst.start("recipient_delimiter=+",
                        "mailbox_command=/bin/sh -c 'env > %s'" % out)
        rcpt = "%s+$(touch %s)`touch %s`;x@%s" % (self.u, canary, canary, DOMAIN)
        qid, rep = self.inst.deliver("s@remote.test", [rcpt], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)
        self.assertFalse(os.path.exists(canary))
        env, ids = self.read_env(out)
        self.assertNotIn("$", env["EXTENSION"])
        self.assertNotIn("`", env["EXTENSION"])
        self.assertNotIn(";", env["RECIPIENT"])
        self.assertTrue(env["EXTENSION"].startswith("__touch_"), env)
        # Unknown user with metacharacters: bounced, no shell.
        qid, rep = self.inst.deliver("s@remote.test",
                                     ['"; touch %s; "@%s' % (canary, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "bounced", rep)
        self.assertFalse(os.path.exists(canary))

    def test_command_has_only_stdio_fds(self):
        out = os.path.join(self.inst.dir, "out", "fds")
        os.makedirs(os.path.dirname(out))
        os.chmod(os.path.dirname(out), 0o777)
        self.inst.set_aliases('fds: "|ls /proc/self/fd > %s"\n' % out)
        self.inst.start()
        self.inst.deliver("s@remote.test", ["fds@%s" % DOMAIN], MSG)
        with open(out) as f:
            fds = sorted(int(x) for x in f.read().split())
        # ls itself opens one directory fd.
        self.assertLessEqual(len([fd for fd in fds if fd > 2]), 1, fds)

    def test_pipelined_requests_answered_each(self):
        # Several requests on one connection are served as one batch
        # (group commit): each one is answered with its own statuses, in
        # order, and a failing recipient does not change the others'.
        self.inst.set_aliases("a1: %s\n" % self.u)
        self.inst.start("mail_spool_directory=%s/" % self.inst.spool)
        me = "%s@%s" % (self.u, DOMAIN)
        bad = "nosuch@%s" % DOMAIN
        plan = [(21, [me]), (22, [bad]), (23, [me, bad, "a1@%s" % DOMAIN]),
                (24, [me]), (25, [bad, me]), (26, [me])]
        wires = [self.inst.request_wire(rid, "s@remote.test", rcpts,
                                        "Subject: %d\n\nbody %d\n"
                                        % (rid, rid))
                 for rid, rcpts in plan]
        order, replies = self.inst.deliver_pipelined(wires)
        self.assertEqual(order, [str(rid) for rid, _ in plan])
        for rid, rcpts in plan:
            got = replies.get(str(rid), [])
            self.assertEqual([r["rcpt_index"] for r in got],
                             [str(i) for i in range(len(rcpts))], got)
            self.assertEqual([r["status"] for r in got],
                             ["bounced" if r == bad else "sent"
                              for r in rcpts], got)
            for r, rep in zip(rcpts, got):
                if r == me:
                    self.assertEqual(rep["text"], "delivered to maildir")
        md = os.path.join(self.inst.spool, self.u)
        files = os.listdir(os.path.join(md, "new"))
        # 23 delivers once to the user: a1 is a duplicate of the user.
        self.assertEqual(len(files), 5, files)
        self.assertEqual(os.listdir(os.path.join(md, "tmp")), [])
        bodies = set()
        for f in files:
            with open(os.path.join(md, "new", f)) as fh:
                bodies.add(fh.read().rsplit("body ", 1)[1].strip())
        self.assertEqual(bodies, {"21", "23", "24", "25", "26"})
        self.assertEqual(self.inst.logtext().count(
            "status=sent (delivered to maildir)"), 5)

    def test_malformed_requests(self):
        self.inst.start()
        for wire in ("request=deliver\nrequest_id=1\n\n",
                     "garbage line\n\n",
                     "request=deliver\nrequest_id=1\nqueue_id=ABC\n"
                     "queue_path=/etc/passwd\nsender=\narrival=1\n"
                     "content_offset=0\ncontent_len=10\nrcpt_count=1\n"
                     "rcpt_0=root\nrcpt_offset_0=0\n\n"):
            qid, rep = self.inst.deliver("s@remote.test", ["x@%s" % DOMAIN],
                                         MSG, raw_request=wire)
            self.assertEqual(rep, [])
        self.assertIn("malformed delivery request", self.inst.logtext())
        # Still serving.
        qid, rep = self.inst.deliver("s@remote.test",
                                     ["%s@%s" % (self.u, DOMAIN)], MSG)
        self.assertEqual(rep[0]["status"], "sent", rep)

    def test_content_outside_queue_file_defers(self):
        self.inst.start()
        qid, path, off, clen, offsets = self.inst.queue_file(
            "s@remote.test", ["%s@%s" % (self.u, DOMAIN)], MSG)
        wire = ("request=deliver\nrequest_id=3\nqueue_id=%s\nqueue_path=%s\n"
                "sender=s@remote.test\narrival=1\ncontent_offset=%d\n"
                "content_len=%d\nrcpt_count=1\nrcpt_0=%s@%s\nrcpt_offset_0=%d\n\n"
                % (qid, path, off, clen + 100000, self.u, DOMAIN, offsets[0]))
        qid2, rep = self.inst.deliver("s@remote.test", ["x@%s" % DOMAIN], MSG,
                                      raw_request=wire)
        self.assertEqual(rep[0]["status"], "deferred", rep)


if __name__ == "__main__":
    unittest.main()

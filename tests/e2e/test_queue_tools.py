#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_queue_tools - mailq / postqueue and postsuper on a real instance.

The listing is checked character by character against Postfix's layout
(shared research postfix-compat.md §10.3: column widths, the '*' and '!'
marks, the right-aligned "(reason)" lines, the blank line between
messages, the trailer), and by running the pipeline of Postfix's
postsuper(1) manual page (mailq | tail | grep | awk | tr | postsuper -d -)
on it.  postqueue -j must be valid JSON lines with Postfix's field names.

postsuper: -h / -H / -r / -d (ID, ALL, "-", queue restriction), the
totals and per-message log lines, hostile "-d -" input, the active-queue
rule while the system runs (a test holds the master's pid lock itself:
nothing depends on timing), -s repairs, -p purge.  postqueue -f / -i / -s
and the refusals (mail system down: 69; an ordinary user: 77).

Messages stay in the queue deterministically: HOLD from header_checks,
and deferral for a remote domain (master.cf has no smtp service, so qmgr
defers with "mail transport unavailable").  Needs root, as instance.py.
"""
import codecs
import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import time
import unittest

from instance import DOMAIN, WAIT, poll_until
from test_submit import Submit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "cmd"))
from postino_testlib import program  # noqa: E402

HEADER = ("-Queue ID-  --Size-- ----Arrival Time---- "
          "-Sender/Recipient-------")
EX_USAGE, EX_UNAVAILABLE, EX_NOPERM = 64, 69, 77
TRANSPORT_REASON = ("mail transport unavailable: no delivery agent for "
                    "transport smtp")


class Queue(Submit):
    """An instance whose header_checks hold "Subject: hold" mail."""

    def __init__(self, tc):
        # MIME and nested headers are not inspected by postino: say so
        # (postino check refuses the defaults, $header_checks, otherwise).
        super().__init__(tc, main={"header_checks": "regexp:{dir}/conf/hc",
                                   "mime_header_checks": "",
                                   "nested_header_checks": ""})
        with open(os.path.join(self.conf, "hc"), "w") as f:
            f.write("/^Subject: hold/ HOLD\n")
        for name in ("postqueue", "mailq", "postsuper"):
            os.symlink(program(name), os.path.join(self.sbin, name))

    def tool(self, name, *args, stdin=b"", user=None, check=None):
        r = self.run_as(user, [os.path.join(self.sbin, name)] + list(args),
                        stdin=stdin)
        if check is not None:
            self.tc.assertEqual(r.returncode, check,
                                "%s %s: %s%s" % (name, args, r.out, r.err))
        return r

    def mailq(self):
        return self.tool("mailq", check=0).out

    def jobs(self):
        r = self.tool("postqueue", "-j", check=0)
        return [json.loads(line) for line in r.out.splitlines()]

    def ids(self, queue):
        return sorted(os.listdir(os.path.join(self.queue, queue)))

    def wait_ids(self, queue, n):
        return poll_until("%d message(s) in %s/" % (n, queue),
                          lambda: len(self.ids(queue)) >= n and self.ids(queue))


def split_messages(text):
    """The message blocks of a mailq listing (header and trailer off)."""
    lines = text.split("\n")
    assert lines[0] == HEADER, lines[0]
    body = "\n".join(lines[1:])
    blocks, trailer = body.rsplit("\n\n", 1)
    return [b.split("\n") for b in blocks.split("\n\n")], trailer


class Listing(unittest.TestCase):

    def test_empty_queue(self):
        i = Queue(self)
        i.postino("check")
        self.assertEqual(i.mailq(), "Mail queue is empty\n")
        self.assertEqual(i.tool("postqueue", "-p", check=0).out,
                         "Mail queue is empty\n")
        self.assertEqual(i.tool("postqueue", "-j", check=0).out, "")

    def test_layout_marks_reasons_and_json(self):
        i = Queue(self)
        i.start()
        alice, bob = i.addr("alice"), i.addr("bob")
        i.send(alice, [bob], "From: <%s>\nSubject: hold this\n\nbody\n" % alice)
        held = i.wait_ids("hold", 1)[0]
        far = ["one@remote.test", "two@remote.test"]
        i.send("", far + [bob], "Subject: bounce-ish\n\n" + "x" * 3000 + "\n")
        i.wait_log(r"status=sent")
        deferred = i.wait_ids("deferred", 1)[0]
        i.wait_log(r"%s: removed|to=<two@remote\.test>.*status=deferred"
                   % deferred)

        text = i.mailq()
        blocks, trailer = split_messages(text)
        self.assertEqual(len(blocks), 2, text)
        jobs = {j["queue_id"]: j for j in i.jobs()}
        self.assertEqual(set(jobs), {held, deferred})
        total = 0
        # Scan order: maildrop, active, incoming, deferred, hold.
        for block, (qid, mark) in zip(blocks, [(deferred, ""), (held, "!")]):
            j = jobs[qid]
            total += j["message_size"]
            when = time.strftime("%a %b %e %H:%M:%S ",
                                 time.localtime(j["arrival_time"]))
            sender = j["sender"] or "MAILER-DAEMON"
            self.assertEqual(block[0], "%-11s %7d %20.20s %s"
                             % (qid + mark, j["message_size"], when, sender))
        self.assertEqual(jobs[held]["queue_name"], "hold")
        self.assertEqual(jobs[held]["sender"], alice)
        self.assertEqual(blocks[1][1:], [" " * 41 + bob])
        self.assertEqual([r["address"] for r in jobs[held]["recipients"]],
                         [bob])
        self.assertNotIn("delay_reason", jobs[held]["recipients"][0])
        # Deferred: the delivered recipient is gone; one reason line for
        # two recipients with the same reason, ')' in column 78.
        self.assertEqual(jobs[deferred]["queue_name"], "deferred")
        self.assertEqual(jobs[deferred]["sender"], "")
        self.assertIs(jobs[deferred]["forced_expire"], False)
        reason_line = " " * (76 - len(TRANSPORT_REASON)) + \
            "(" + TRANSPORT_REASON + ")"
        self.assertEqual(len(reason_line), 78)
        self.assertEqual(blocks[0][1:], [reason_line] + [" " * 41 + a
                                                         for a in far])
        self.assertEqual(
            [(r["address"], r.get("delay_reason")) for r in
             jobs[deferred]["recipients"]],
            [(a, TRANSPORT_REASON) for a in far])
        self.assertGreater(jobs[deferred]["message_size"], 3000)
        self.assertEqual(trailer, "-- %d Kbytes in 2 Requests.\n"
                         % (total // 1024))

        # The man page's pipeline deletes what mailq lists.
        sh = ("%s | tail -n +2 | grep -v '^ *(' | awk 'BEGIN { RS = \"\" } "
              "{ print $1 }' | tr -d '*!' | %s -d -"
              % (os.path.join(i.sbin, "mailq"),
                 os.path.join(i.sbin, "postsuper")))
        e = i.env()
        e["MAIL_CONFIG"] = i.conf
        r = subprocess.run(["sh", "-c", sh], capture_output=True, text=True,
                           env=e, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("postsuper: %s: removed" % held, r.stderr)
        self.assertIn("postsuper: Deleted: 2 messages", r.stderr)
        self.assertEqual(i.mailq(), "Mail queue is empty\n")
        self.assertFalse(os.path.exists(os.path.join(i.queue, "defer",
                                                     deferred)))
        i.wait_log(r"postino/postsuper\[\d+\]: %s: removed" % deferred)
        i.wait_log(r"postino/postsuper\[\d+\]: Deleted: 2 messages")

    def test_maildrop_and_damaged_files_while_stopped(self):
        i = Queue(self)
        i.postino("check")
        r = i.sendmail([i.user("bob")], "Subject: waiting\n\nhi\n",
                       user="alice")
        self.assertEqual(r.returncode, 0, r.err)
        md = i.ids("maildrop")[0]
        # A damaged queue file and a half-written one.
        bad = os.path.join(i.queue, "deferred", "ABCDEF0123")
        with open(bad, "wb") as f:
            f.write(b"V\0\0\0\x011T\0\0\xff\xff\0garbage")
        os.chmod(bad, 0o700)
        half = os.path.join(i.queue, "incoming", "ABCDEF0124")
        with open(half, "wb") as f:
            f.write(b"V\0\0\0\x011")
        os.chmod(half, 0o600)
        r = i.tool("mailq", check=0)
        blocks, trailer = split_messages(r.out)
        self.assertEqual(len(blocks), 1, r.out)
        self.assertRegex(blocks[0][0], r"^%s +\d+ .{20} %s$"
                         % (md, re.escape(i.user("alice"))))
        self.assertEqual(blocks[0][1], " " * 41 + i.user("bob"))
        self.assertIn("postqueue: warning: deferred/ABCDEF0123:", r.err)
        self.assertEqual(trailer, "-- 0 Kbytes in 1 Request.\n")
        self.assertEqual(i.jobs()[0]["queue_name"], "maildrop")
        # Delivered after start.
        i.start()
        i.delivered("bob")
        # -p removes the half-written file (the system is... running now:
        # it is fresh, so it stays), then after stop it goes.
        i.tool("postsuper", "-p", check=0)
        self.assertTrue(os.path.exists(half))
        i.stop()
        r = i.tool("postsuper", "-p", check=0)
        self.assertFalse(os.path.exists(half))
        self.assertIn("incoming/ABCDEF0124: unfinished file left by a crash",
                      r.err)


def qrecord(t, payload=b""):
    return t.encode() + struct.pack(">I", len(payload)) + payload


def latin1_fallback(err):
    """Decode error handler: each byte outside well-formed UTF-8 is the
    character of the same number (what postqueue -j writes as \\u00XX)."""
    bad = err.object[err.start:err.end]
    return "".join(chr(b) for b in bad), err.end


codecs.register_error("latin1-fallback", latin1_fallback)


def attr_escape(b):
    """core/mail/attr.h value escaping: '%', controls and DEL as %XX."""
    return b"".join(b"%%%02X" % c if c < 0x20 or c in (0x25, 0x7f)
                    else bytes([c]) for c in b)


class Json(unittest.TestCase):

    # Quotes, backslashes, controls, DEL, stray and truncated UTF-8, an
    # overlong form, a surrogate, a code point above U+10FFFF, and good
    # UTF-8 (e acute, euro, an emoji).
    HOSTILE = (b'q"b\\s\x01\x1f\x7f\x80\xff\xc3\xa9\xe2\x82\xac'
               b'\xf0\x9f\x98\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80'
               b'\xe2\x82Z\xc3')

    def test_json_is_valid_for_any_byte(self):
        i = Queue(self)
        i.postino("check")
        h = self.HOSTILE
        sender = b"s" + h + b"@example.test"
        rcpts = [b"r1" + h + b"@x.test", b"plain@x.test", b"r3@x.test" + h]
        qid = "ABCDEF0125"
        data = (qrecord("V", b"1") + qrecord("T", b"1700000000.000000")
                + qrecord("S", sender))
        for r in rcpts:
            data += qrecord("R", b"0;;" + r)
        data += qrecord("M", b"Subject: x\n\nbody\n") + qrecord("E")
        path = os.path.join(i.queue, "deferred", qid)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o700)
        reason = b"4.0.0 reason " + h
        with open(os.path.join(i.queue, "defer", qid), "wb") as f:
            f.write(b"recipient=" + attr_escape(rcpts[0]) + b"\nreason="
                    + attr_escape(reason) + b"\n\n")
        r = i.tool("postqueue", "-j", check=0)
        text = r.stdout.decode("utf-8")     # strict: valid UTF-8
        lines = text.splitlines()
        self.assertEqual(len(lines), 1, text)
        j = json.loads(lines[0])

        def want(b):
            return b.decode("utf-8", "latin1-fallback")

        self.assertEqual(j["queue_id"], qid)
        self.assertEqual(j["sender"], want(sender))
        self.assertEqual([x["address"] for x in j["recipients"]],
                         [want(x) for x in rcpts])
        self.assertEqual(j["recipients"][0]["delay_reason"], want(reason))
        self.assertNotIn("delay_reason", j["recipients"][1])
        # Spelled out: good UTF-8 as its characters, each stray byte as
        # the character of its number, controls as themselves.
        self.assertEqual(
            j["sender"], 'sq"b\\s\x01\x1f\x7f\x80\xff\u00e9\u20ac\U0001f600'
            '\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82Z\xc3@example.test')
        # No raw control character or invalid byte reaches the output.
        for c in text.rstrip("\n"):
            self.assertFalse(ord(c) < 0x20 or ord(c) == 0x7f, repr(text))
        # mailq shows the same message (controls made harmless).
        out = i.tool("mailq", check=0).out
        self.assertIn(qid, out)


class Super(unittest.TestCase):

    def held(self, i, n):
        alice, bob = i.addr("alice"), i.addr("bob")
        for k in range(n):
            i.send(alice, [bob], "Subject: hold %d\n\nbody\n" % k)
        return i.wait_ids("hold", n)

    def test_hold_release_requeue_delete(self):
        i = Queue(self)
        i.start()
        ids = self.held(i, 3)
        self.assertEqual(mailq_marks(i.mailq()), {q: "!" for q in ids})
        # -H: released to deferred, due now; postqueue -i delivers it.
        r = i.tool("postsuper", "-H", ids[0], check=0)
        self.assertIn("postsuper: %s: released from hold" % ids[0], r.err)
        self.assertIn("postsuper: Released from hold: 1 message", r.err)
        self.assertNotIn(ids[0], i.ids("hold"))
        i.tool("postqueue", "-i", ids[0], check=0)
        i.wait_maildir("bob", 1)
        # -r: requeued straight to incoming and delivered.
        r = i.tool("postsuper", "-r", ids[1], check=0)
        self.assertIn("postsuper: Requeued: 1 message", r.err)
        i.wait_maildir("bob", 2)
        # -d: removed, the others untouched.
        r = i.tool("postsuper", "-d", ids[2], check=0)
        self.assertIn("postsuper: %s: removed" % ids[2], r.err)
        self.assertEqual(i.mailq(), "Mail queue is empty\n")
        i.wait_log(r"postsuper\[\d+\]: %s: requeued" % ids[1])
        i.wait_log(r"postsuper\[\d+\]: %s: removed" % ids[2])
        # Nothing to do: no totals, exit 0.
        r = i.tool("postsuper", "-d", ids[2], check=0)
        self.assertNotIn("Deleted", r.err)

    def test_hold_deferred_and_all_with_queue_names(self):
        i = Queue(self)
        i.start()
        held = self.held(i, 1)
        i.send("", ["far@remote.test"], "Subject: far\n\nx\n")
        i.send("", ["away@remote.test"], "Subject: away\n\nx\n")
        deferred = i.wait_ids("deferred", 2)
        r = i.tool("postsuper", "-h", deferred[0], check=0)
        self.assertIn("Placed on hold: 1 message", r.err)
        self.assertEqual(mailq_marks(i.mailq()),
                         {held[0]: "!", deferred[0]: "!", deferred[1]: ""})
        # ALL restricted to one queue.
        r = i.tool("postsuper", "-d", "ALL", "deferred", check=0)
        self.assertIn("Deleted: 1 message", r.err)
        self.assertEqual(sorted(i.ids("hold")), sorted(held + deferred[:1]))
        r = i.tool("postsuper", "-H", "ALL", check=0)
        self.assertIn("Released from hold: 2 messages", r.err)
        self.assertEqual(i.ids("hold"), [])

    def test_active_queue_is_left_to_qmgr_while_running(self):
        i = Queue(self)
        i.postino("check")
        qid = "0123456789ABC"
        src = os.path.join(i.queue, "active", qid)
        with open(src, "wb") as f:
            f.write(b"x")
        os.chmod(src, 0o700)
        pidfile = os.path.join(i.queue, "pid", "master.pid")
        with open(pidfile, "w") as lock:
            lock.write("%d\n" % os.getpid())
            lock.flush()
            fcntl.flock(lock, fcntl.LOCK_EX)
            r = i.tool("postsuper", "-h", qid, check=0)
            self.assertIn("%s: being delivered (active queue): not placed on "
                          "hold" % qid, r.err)
            self.assertTrue(os.path.exists(src))
            r = i.tool("postsuper", "-r", qid, check=0)
            self.assertTrue(os.path.exists(src))
            fcntl.flock(lock, fcntl.LOCK_UN)
        # Down: it may move.
        r = i.tool("postsuper", "-h", qid, check=0)
        self.assertIn("Placed on hold: 1 message", r.err)
        self.assertEqual(i.ids("hold"), [qid])

    def test_delete_while_being_delivered_leaves_nothing(self):
        """postsuper -d of a message in active/ while an agent works on
        it: when the agent's deferral comes back, qmgr writes no defer
        log, sends nothing and moves nothing: no file of the message is
        left anywhere in the queue."""
        i = Queue(self)
        started = os.path.join(i.spool, "started")
        go = os.path.join(i.spool, "go")
        script = os.path.join(i.dir, "slow.sh")
        with open(script, "w") as f:
            # Bounded wait (60 s) for the test's go-ahead, then a
            # temporary failure: the recipient is deferred.
            f.write("#!/bin/sh\ntouch %s\nn=0\n"
                    "while [ ! -e %s ] && [ $n -lt 600 ]; do sleep 0.1; "
                    "n=$((n+1)); done\nexit 75\n" % (started, go))
        os.chmod(script, 0o755)
        i.write_aliases("slow: |%s\n" % script)
        i.start()
        r = i.sendmail(["slow@" + DOMAIN], "Subject: slow\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        poll_until("the command to start", lambda: os.path.exists(started))
        qid = i.ids("active")[0]
        r = i.tool("postsuper", "-d", qid, check=0)
        self.assertIn("%s: removed" % qid, r.err)
        self.assertIn("Deleted: 1 message", r.err)
        with open(go, "w"):
            pass
        i.wait_log(r"%s: to=<slow@.*status=deferred" % qid)

        def leftovers():
            out = []
            for root, _, files in os.walk(i.queue):
                out += [os.path.join(root, n) for n in files if qid in n]
            return out

        poll_until("no file of %s left in the queue" % qid,
                   lambda: not leftovers())
        i.wait_log(r"qmgr\[\d+\]: %s: queue file deleted during delivery"
                   % qid)
        i.wait_queue_empty()
        # The mail system goes on: the next message is delivered.
        r = i.sendmail([i.user("bob")], "Subject: after\n\nx\n")
        self.assertEqual(r.returncode, 0, r.err)
        self.assertEqual(i.delivered("bob")[0]["Subject"], "after")
        self.assertEqual(leftovers(), [])
        self.assertEqual(i.maildir_files("alice"), [])   # no bounce

    def test_hostile_stdin_and_usage(self):
        i = Queue(self)
        i.postino("check")
        stdin = (b"\n  \nnot-an-id\nABC\0DEF\n" + b"A" * 5000 + b"\n"
                 b"0123456789ABCDEF0123456789ABCDEF0123456789\nABCDEF\n")
        r = i.tool("postsuper", "-d", "-", stdin=stdin, check=0)
        self.assertIn("standard input, line 3: invalid queue ID \"not-an-id\"",
                      r.err)
        self.assertIn("standard input, line 4: NUL byte", r.err)
        self.assertIn("standard input, line 5: line too long", r.err)
        self.assertIn("standard input, line 6: invalid queue ID", r.err)
        r = i.tool("postsuper", "-d", "all", check=EX_USAGE)
        self.assertIn("write ALL in upper case", r.err)
        r = i.tool("postsuper", "-d", "ALL", "nosuchqueue", check=EX_USAGE)
        self.assertIn("unknown queue \"nosuchqueue\"", r.err)
        r = i.tool("postsuper", "-d", "../../etc/passwd", check=EX_USAGE)
        r = i.tool("postqueue", "-i", "../x", check=EX_USAGE)
        r = i.tool("postqueue", "-p", "-f", check=EX_USAGE)
        r = i.tool("postqueue", "-s", "bad site;rm", check=EX_USAGE)

    def test_structure_check(self):
        i = Queue(self)
        i.postino("check")
        q = i.queue
        with open(os.path.join(q, "incoming", "not-an-id"), "w") as f:
            f.write("junk")
        noexec = os.path.join(q, "deferred", "ABC123")
        with open(noexec, "w") as f:
            f.write("junk")
        os.chmod(noexec, 0o600)
        rootowned = os.path.join(q, "hold", "ABC124")
        with open(rootowned, "w") as f:
            f.write("junk")
        os.chmod(rootowned, 0o700)
        stale = os.path.join(q, "defer", "ABC999")
        with open(stale, "w") as f:
            f.write("recipient=x\n\n")
        os.rmdir(os.path.join(q, "bounce"))
        r = i.tool("postsuper", "-s", check=0)
        self.assertIn("incoming/not-an-id: not a queue ID: moved to", r.err)
        self.assertIn("deferred/ABC123: incomplete queue file: moved", r.err)
        self.assertIn("%s: owned by uid 0: given to mail_owner nobody"
                      % rootowned, r.err)
        self.assertIn("%s: log of a message that is gone: removed" % stale,
                      r.err)
        self.assertIn("bounce: missing queue directory: re-created", r.err)
        self.assertEqual(sorted(i.ids("corrupt")), ["ABC123", "not-an-id"])
        self.assertEqual(os.stat(rootowned).st_uid,
                         __import__("pwd").getpwnam("nobody").pw_uid)
        st = os.stat(os.path.join(q, "bounce"))
        self.assertEqual(st.st_mode & 0o7777, 0o700)
        # A second run finds nothing.
        r = i.tool("postsuper", "-s", check=0)
        self.assertNotIn("warning", r.err)


class Flush(unittest.TestCase):

    def test_down_and_permissions(self):
        i = Queue(self)
        i.postino("check")
        r = i.tool("postqueue", "-f", check=EX_UNAVAILABLE)
        self.assertIn("Cannot flush mail queue - mail system is down", r.err)
        r = i.tool("postqueue", "-p", user="alice", check=EX_NOPERM)
        self.assertIn("Queue report unavailable", r.err)
        r = i.tool("mailq", user="alice", check=EX_NOPERM)
        r = i.tool("postsuper", "-d", "ALL", user="alice", check=EX_NOPERM)
        self.assertIn("reserved for the superuser and the mail owner", r.err)
        r = i.tool("postqueue", "-i", "ABCDEF", check=EX_UNAVAILABLE)
        self.assertIn("not in the deferred, incoming or active queue", r.err)

    def test_flush_delivers_deferred(self):
        i = Queue(self)
        # Local mail deferred by a mailbox that cannot be written yet.
        i.set_main(queue_run_delay="3600s", minimal_backoff_time="3600s",
                   maximal_backoff_time="3600s",
                   # -s below: only these sites may be flushed one by one
                   # (the default is $relay_domains).
                   fast_flush_domains=DOMAIN)
        i.start()
        home = i.user_home("bob")
        os.chmod(home, 0o500)
        alice, bob = i.addr("alice"), i.addr("bob")
        i.send(alice, [bob], "Subject: later\n\nbody\n")
        qid = i.wait_ids("deferred", 1)[0]
        i.wait_log(r"%s: to=<%s>.*status=deferred" % (qid, re.escape(bob)))
        j = i.jobs()
        self.assertEqual(j[0]["queue_id"], qid)
        self.assertIn("delay_reason", j[0]["recipients"][0])
        os.chmod(home, 0o755)
        r = i.tool("postqueue", "-s", "other.example", check=EX_UNAVAILABLE)
        self.assertIn('Flush service is not configured for destination '
                      '"other.example"', r.err)
        i.tool("postqueue", "-s", DOMAIN, check=0)
        i.wait_maildir("bob", 1)
        i.wait_queue_empty()
        # -f also works (nothing left to do).
        i.tool("postqueue", "-f", check=0)


def mailq_marks(text):
    """{queue ID: mark} of a listing."""
    blocks, _ = split_messages(text)
    out = {}
    for b in blocks:
        m = re.match(r"^([0-9A-F]+)([*!]?) ", b[0])
        out[m[1]] = m[2]
    return out


if __name__ == "__main__":
    unittest.main()

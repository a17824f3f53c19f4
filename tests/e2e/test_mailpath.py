#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_mailpath - mail in through smtpd, out through qmgr and local, with
real clients (smtplib, swaks) and real mailboxes.

Each test starts a whole instance (tests/e2e/instance.py: master, smtpd,
qmgr, local; users made with useradd, homes in the instance directory)
and checks what lands in Maildirs, mbox files, command outputs, the queue
and the log: delivery to Maildir and mbox, aliases (recursive, :include:,
|command, /file), .forward, bounces (RFC 3464), deferral and
`postino flush`, expiry, 1,000 messages over 20 sessions, and smtpd's
behaviour on `postino reload` and `postino stop`.
"""
import email
import email.policy
import os
import re
import threading
import unittest

from instance import DOMAIN, Instance, message, poll_until


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


class Delivery(unittest.TestCase):

    def test_maildir(self):
        i = Instance(self, users=["alice"])
        i.start()
        body = "line one\n.leading dot\n\nFrom the start\n"
        i.send("sender@ext.test", i.addr("alice"),
               message("sender@ext.test", i.addr("alice"), "maildir test",
                       body))
        msgs = i.wait_maildir("alice", 1)
        self.assertEqual(len(msgs), 1)
        m = parse(msgs[0])
        self.assertEqual(m["Return-Path"], "<sender@ext.test>")
        self.assertEqual(m["Delivered-To"], i.addr("alice"))
        self.assertEqual(m["Subject"], "maildir test")
        self.assertIsNotNone(m["Received"])
        self.assertIsNotNone(m["Message-Id"])
        self.assertIsNotNone(m["Date"])
        self.assertEqual(m.get_payload(), body)
        # Maildir file names and permissions: owned by the user.
        path = i.maildir_files("alice")[0]
        st = os.stat(path)
        import pwd
        self.assertEqual(st.st_uid, pwd.getpwnam(i.user("alice")).pw_uid)
        i.wait_queue_empty()
        i.wait_log(r"postino/qmgr\[\d+\]: [0-9A-F]+: removed")
        self.assertRegex(i.log(), r"to=<%s>, relay=local, .*status=sent"
                         % re.escape(i.addr("alice")))

    def test_mbox(self):
        i = Instance(self, users=["bob"],
                     main={"home_mailbox": "",
                           "mail_spool_directory": "{spool}"})
        i.start()
        for n in range(2):
            i.send("sender@ext.test", i.addr("bob"),
                   message("sender@ext.test", i.addr("bob"), "mbox %d" % n,
                           "From here on\nbody %d\n" % n))
        poll_until("two messages in bob's mbox",
                   lambda: i.mbox("bob").count(b"\nSubject: mbox") == 2)
        mbox = i.mbox("bob").decode()
        self.assertTrue(mbox.startswith("From sender@ext.test "), mbox[:80])
        self.assertEqual(len(re.findall(r"^From sender@ext\.test ", mbox,
                                        re.M)), 2, mbox)
        # A body line starting "From " is quoted, so mbox readers see 2.
        self.assertEqual(mbox.count("\n>From here on\n"), 2, mbox)
        self.assertIn("Subject: mbox 0\n", mbox)
        self.assertIn("body 1\n", mbox)
        import pwd
        st = os.stat(os.path.join(i.spool, i.user("bob")))
        self.assertEqual(st.st_uid, pwd.getpwnam(i.user("bob")).pw_uid)

    def test_aliases(self):
        i = Instance(self, users=["alice", "bob", "carol"])
        out = os.path.join(i.dir, "out")
        os.mkdir(out)
        os.chmod(out, 0o1777)
        incl = os.path.join(i.dir, "list.inc")
        with open(incl, "w") as f:
            f.write("# members\n%s\n" % i.user("carol"))
        i.write_aliases(
            "postmaster: {alice}\n"
            "team: level1\n"
            "level1: level2\n"
            "level2: {alice}, {bob}\n"
            "inc: :include:%s\n"
            "pipe: \"|/usr/bin/tee -a %s/pipe.out\"\n"
            "tofile: %s/file.mbox\n" % (incl, out, out))
        # bob forwards to carol and keeps a copy.
        i.write_as("bob", ".forward", "\\%s, %s\n"
                   % (i.user("bob"), i.user("carol")))
        i.start()
        for rcpt, subj in (("team", "to team"), ("inc", "to include"),
                           ("pipe", "to pipe"), ("tofile", "to file")):
            refused = i.send("sender@ext.test", "%s@%s" % (rcpt, DOMAIN),
                             message("sender@ext.test", rcpt + "@" + DOMAIN,
                                     subj, "body of %s\n" % subj))
            self.assertEqual(refused, {})
        a = i.wait_maildir("alice", 1)
        b = i.wait_maildir("bob", 1)
        c = i.wait_maildir("carol", 2)
        poll_until("the pipe output",
                   lambda: os.path.exists(os.path.join(out, "pipe.out")))
        poll_until("the /file mailbox",
                   lambda: os.path.exists(os.path.join(out, "file.mbox")))
        i.wait_queue_empty()
        self.assertEqual([parse(m)["Subject"] for m in a], ["to team"])
        self.assertEqual([parse(m)["Subject"] for m in b], ["to team"])
        self.assertEqual(sorted(parse(m)["Subject"] for m in c),
                         ["to include", "to team"])
        with open(os.path.join(out, "pipe.out")) as f:
            piped = f.read()
        self.assertIn("Subject: to pipe\n", piped)
        self.assertIn("body of to pipe\n", piped)
        with open(os.path.join(out, "file.mbox")) as f:
            filed = f.read()
        self.assertTrue(filed.startswith("From sender@ext.test "), filed)
        self.assertIn("Subject: to file\n", filed)
        # Exactly one copy each: nothing delivered twice.
        i.wait_log(r"status=sent", 6)
        self.assertEqual(len(i.maildir_files("alice")), 1)
        self.assertEqual(len(i.maildir_files("bob")), 1)
        self.assertEqual(len(i.maildir_files("carol")), 2)

    def test_unknown_user(self):
        i = Instance(self, users=["alice"])
        i.start()
        with i.smtp() as s:
            s.ehlo("client.example.test")
            self.assertEqual(s.mail("sender@ext.test")[0], 250)
            code, text = s.rcpt("nosuchuser@" + DOMAIN)
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith(b"5.1.1"), text)
            self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
        i.wait_log(r"NOQUEUE: reject: RCPT from .*: 550 5\.1\.1 "
                   r"<nosuchuser@example\.test>")


class Bounces(unittest.TestCase):

    def test_bounce_report(self):
        i = Instance(self, users=["alice"],
                     aliases="fail: \"|/bin/sh -c 'exit 67'\"\n")
        i.start()
        msgid = "<bounce-test.1@client.example.test>"
        i.send(i.addr("alice"), "fail@" + DOMAIN,
               message(i.addr("alice"), "fail@" + DOMAIN, "will bounce",
                       "original body 42\n", {"Message-ID": msgid}))
        msgs = i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        self.assertEqual(len(msgs), 1)
        m = parse(msgs[0])
        self.assertEqual(m["Return-Path"], "<>")
        self.assertEqual(m.get_content_type(), "multipart/report")
        self.assertEqual(m.get_param("report-type"), "delivery-status")
        parts = m.get_payload()
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[1].get_content_type(),
                         "message/delivery-status")
        self.assertIn(parts[2].get_content_type(),
                      ("message/rfc822", "text/rfc822-headers"))
        status = parts[1].as_string()
        self.assertRegex(status, r"Final-Recipient: rfc822; ?fail@example\.test")
        self.assertRegex(status, r"Action: failed")
        self.assertRegex(status, r"Status: 5\.\d+\.\d+")
        self.assertRegex(status, r"Diagnostic-Code: ")
        self.assertRegex(status, r"Reporting-MTA: dns; ?mx\.example\.test")
        original = parts[2].as_string()
        self.assertIn(msgid, original)
        self.assertIn("will bounce", original)
        if parts[2].get_content_type() == "message/rfc822":
            self.assertIn("original body 42", original)
        self.assertRegex(i.log(), r"to=<fail@example\.test>, .*status=bounced")

    def test_defer_and_flush(self):
        i = Instance(self, users=["alice"],
                     main={"minimal_backoff_time": "3600s",
                           "maximal_backoff_time": "7200s",
                           "queue_run_delay": "3600s"})
        out = os.path.join(i.dir, "out")
        os.mkdir(out)
        os.chmod(out, 0o1777)
        i.write_aliases(
            "later: \"|/bin/sh -c 'test -f %s/ok || exit 75; "
            "cat > %s/later.out'\"\n" % (out, out))
        i.start()
        i.send(i.addr("alice"), "later@" + DOMAIN,
               message(i.addr("alice"), "later@" + DOMAIN, "retry me"))
        i.wait_log(r"to=<later@example\.test>, .*status=deferred")
        poll_until("the message in deferred/",
                   lambda: i.queue_files("deferred")
                   and not i.queue_files("incoming", "active"))
        self.assertEqual(len(i.queue_files("deferred")), 1)
        self.assertFalse(os.path.exists(os.path.join(out, "later.out")))
        # Now the command works; flush retries at once.
        open(os.path.join(out, "ok"), "w").close()
        i.postino("flush")
        poll_until("the retried delivery",
                   lambda: os.path.exists(os.path.join(out, "later.out")))
        i.wait_queue_empty()
        i.wait_log(r"to=<later@example\.test>, .*status=sent")
        with open(os.path.join(out, "later.out")) as f:
            self.assertIn("Subject: retry me", f.read())
        self.assertEqual(i.maildir_files("alice"), [])

    def test_expiry(self):
        i = Instance(self, users=["alice"],
                     main={"minimal_backoff_time": "1s",
                           "maximal_backoff_time": "2s",
                           "queue_run_delay": "1s",
                           "maximal_queue_lifetime": "3s"},
                     aliases="never: \"|/bin/sh -c 'exit 75'\"\n")
        i.start()
        i.send(i.addr("alice"), "never@" + DOMAIN,
               message(i.addr("alice"), "never@" + DOMAIN, "will expire"))
        i.wait_log(r"status=expired, returned to sender")
        msgs = i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        m = parse(msgs[0])
        self.assertEqual(m.get_content_type(), "multipart/report")
        status = m.get_payload()[1].as_string()
        self.assertRegex(status, r"Final-Recipient: rfc822; ?never@example\.test")
        self.assertRegex(status, r"Status: 4\.\d+\.\d+")
        self.assertIn("will expire", m.get_payload()[2].as_string())


class Volume(unittest.TestCase):

    def test_1000_messages_20_sessions(self):
        i = Instance(self, users=["alice"])
        i.start()
        sessions, per = 20, 50
        errors = []

        def client(n):
            try:
                with i.smtp() as s:
                    s.ehlo("client%d.example.test" % n)
                    for k in range(per):
                        mid = "<vol-%d-%d@client.example.test>" % (n, k)
                        s.sendmail("sender@ext.test", [i.addr("alice")],
                                   message("sender@ext.test",
                                           i.addr("alice"), "vol %d %d"
                                           % (n, k), "body %d %d\n" % (n, k),
                                           {"Message-ID": mid}))
            except Exception as e:  # reported below
                errors.append("session %d: %r" % (n, e))

        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertFalse(any(t.is_alive() for t in threads), "clients hung")
        self.assertEqual(errors, [])
        total = sessions * per
        i.wait_maildir("alice", total, timeout=300)
        i.wait_queue_empty(timeout=120)
        ids = []
        for raw in i.maildir_messages("alice"):
            m = re.search(rb"^Message-ID: (<vol-[^>]*>)", raw, re.M | re.I)
            self.assertIsNotNone(m, raw[:500])
            ids.append(m.group(1).decode())
        self.assertEqual(len(ids), total)
        self.assertEqual(len(set(ids)), total, "a message delivered twice")
        self.assertEqual(set(ids), {"<vol-%d-%d@client.example.test>"
                                    % (n, k) for n in range(sessions)
                                    for k in range(per)})


class Control(unittest.TestCase):

    def test_reload_keeps_session(self):
        i = Instance(self, users=["alice"])
        i.start()
        c = i.raw()
        self.addCleanup(c.close)
        self.assertTrue(c.reply().startswith("220"))
        self.assertTrue(c.cmd("EHLO client.example.test").startswith("250"))
        self.assertTrue(c.cmd("MAIL FROM:<sender@ext.test>").startswith("250"))
        old = set(i.processes("smtpd"))
        i.postino("reload")
        i.wait_log(r"reload")
        # A new smtpd takes new connections; the old one keeps ours.
        poll_until("a new smtpd", lambda: set(i.processes("smtpd")) - old)
        self.assertTrue(c.cmd("RCPT TO:<%s>" % i.addr("alice"))
                        .startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send("Subject: across reload\r\n\r\nstill here\r\n.\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Ok: queued as"))
        self.assertTrue(c.cmd("QUIT").startswith("221"))
        # And a new session works through the new smtpd.
        i.send("sender@ext.test", i.addr("alice"),
               message("sender@ext.test", i.addr("alice"), "after reload"))
        msgs = i.wait_maildir("alice", 2)
        self.assertEqual(sorted(parse(m)["Subject"] for m in msgs),
                         ["across reload", "after reload"])
        poll_until("the old smtpd to exit",
                   lambda: not (old & set(i.processes("smtpd"))))

    def test_stop_gives_421(self):
        i = Instance(self, users=["alice"])
        i.start()
        c = i.raw()
        self.addCleanup(c.close)
        self.assertTrue(c.reply().startswith("220"))
        self.assertTrue(c.cmd("EHLO client.example.test").startswith("250"))
        self.assertTrue(c.cmd("MAIL FROM:<sender@ext.test>").startswith("250"))
        i.postino("stop")
        r = c.reply()
        self.assertTrue(r.startswith("421 4.3.2"), r)
        self.assertEqual(c.reply(), "")     # then the connection closes
        poll_until("every process gone", lambda: not i.processes())


if __name__ == "__main__":
    unittest.main()

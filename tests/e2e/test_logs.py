#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_logs - the mail log read by a real log tool.

An instance receives, delivers, rejects and bounces a known number of
messages; then Debian's pflogsumm (package pflogsumm) summarises its
maillog_file (--syslog-name=postino) and must report exactly those
counts, and name the reasons of the rejections.  The log lines are also
checked for Postfix's shape where tools depend on it.
"""
import os
import re
import shutil
import smtplib
import subprocess
import unittest

from instance import DOMAIN, Instance, message, WAIT

PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"


def totals(report):
    """{"received": n, ...} from pflogsumm's Grand Totals."""
    section = report.split("Grand Totals", 1)[1].split("bytes received")[0]
    out = {}
    for m in re.finditer(r"^\s*(\d+)\s+([a-z][a-z ]*?)(?: \(\d+%\))?$",
                         section, re.M):
        out[m.group(2)] = int(m.group(1))
    return out


class Pflogsumm(unittest.TestCase):

    def test_counts(self):
        if not os.access(PFLOGSUMM, os.X_OK):
            self.fail("pflogsumm is not installed (Debian: pflogsumm)")
        i = Instance(self, users=["alice", "bob"],
                     main={"mynetworks": "127.0.0.1/32",
                           "smtpd_relay_restrictions":
                           "permit_mynetworks, reject_unauth_destination"},
                     aliases="fail: \"|/bin/sh -c 'exit 67'\"\n")
        i.start()
        # 4 messages received, 5 deliveries.
        for n in range(3):
            i.send("s@ext.test", i.addr("alice"),
                   message("s@ext.test", i.addr("alice"), "m%d" % n))
        i.send("s@ext.test", [i.addr("alice"), i.addr("bob")],
               message("s@ext.test", i.addr("alice"), "two rcpts"))
        # 3 rejections: 2 unknown users, 1 relay attempt from outside.
        for n in range(2):
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                i.send("s@ext.test", "nosuch%d@%s" % (n, DOMAIN),
                       message("s@ext.test", "x", "refused"))
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            i.send("s@ext.test", "victim@remote.test",
                   message("s@ext.test", "x", "relay"), source="127.0.0.2")
        # 1 more received, bounced; its notice is delivered to bob.
        i.send(i.addr("bob"), "fail@" + DOMAIN,
               message(i.addr("bob"), "fail@" + DOMAIN, "fails"))
        i.wait_maildir("alice", 4)
        i.wait_maildir("bob", 2)
        i.wait_queue_empty()
        i.wait_log(r"status=bounced")
        r = subprocess.run([PFLOGSUMM, "--syslog-name=postino",
                            "--reject-detail=10", i.maillog],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        t = totals(r.stdout)
        self.assertEqual(t.get("received"), 5, r.stdout[:1500])
        self.assertEqual(t.get("delivered"), 6, r.stdout[:1500])
        self.assertEqual(t.get("bounced"), 1, r.stdout[:1500])
        self.assertEqual(t.get("rejected"), 3, r.stdout[:1500])
        self.assertEqual(t.get("deferred"), 0, r.stdout[:1500])
        self.assertIn("User unknown in local recipient table", r.stdout)
        self.assertIn("Relay access denied", r.stdout)
        self.assertRegex(r.stdout, r"\n\s+4\s+s@ext\.test\n")

    def test_line_shapes(self):
        i = Instance(self, users=["alice"])
        i.start()
        i.send("s@ext.test", i.addr("alice"),
               message("s@ext.test", i.addr("alice"), "shape"))
        i.wait_maildir("alice", 1)
        i.wait_queue_empty()
        i.wait_log(r"removed")
        # smtpd logs the disconnect when the client has gone, which may
        # come after the delivery.
        i.wait_log(r"disconnect from \S+\[127\.0\.0\.1\] ehlo=1")
        log = i.log()
        qid = re.search(r"postino/smtpd\[\d+\]: ([0-9A-F]+): client=", log)
        self.assertIsNotNone(qid, log)
        qid = qid.group(1)
        for pat in (
                r"postino/smtpd\[\d+\]: connect from \S+\[127\.0\.0\.1\]",
                r"postino/cleanup\[\d+\]: %s: message-id=<[^>]+>" % qid,
                r"postino/qmgr\[\d+\]: %s: from=<s@ext\.test>, size=\d+, "
                r"nrcpt=1 \(queue active\)" % qid,
                r"postino/local\[\d+\]: %s: to=<%s>, relay=local, "
                r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, "
                r"dsn=2\.0\.0, status=sent \(delivered to maildir\)"
                % (qid, re.escape(i.addr("alice"))),
                r"postino/qmgr\[\d+\]: %s: removed" % qid,
                r"postino/smtpd\[\d+\]: disconnect from \S+\[127\.0\.0\.1\]"
                r" ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"):
            self.assertRegex(log, pat)
        # Every line has the syslog shape: "Mon DD HH:MM:SS host prog[pid]:"
        for line in log.splitlines():
            self.assertRegex(line, r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "
                             r"\S+ postino/[\w-]+\[\d+\]: ")


if __name__ == "__main__":
    unittest.main()

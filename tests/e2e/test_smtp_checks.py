#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_checks - smtp_header_checks, smtp_mime_header_checks,
smtp_nested_header_checks and smtp_body_checks in the smtp client, with
Debian's Postfix as the oracle.

Postfix (PostfixMx) and postino get the same four regexp tables and each
relays to a peer of its own (relayhost); the same messages go to both.
For each message these must agree: what the peer received (the sender's
own Received: header left out) and the actions logged (warning, info,
replace, strip: the class, the header or line, the text).  The tables
cover the privacy recipe (IGNORE of a Received: header of an
authenticated submission), STRIP, WARN, INFO, REPLACE (with $1),
PREPEND, REPLACE with text that is not a header, the actions a delivery
agent does not have (REJECT, HOLD: ignored with the same warnings), MIME headers of
the primary headers and of parts (the mime table), the headers of an
attached message (the nested table), and body lines (parts' bodies,
not their headers).  A table that cannot be read defers the mail.
GenericAsPostfix does the same for smtp_generic_maps: the envelope
sender and recipients and the address headers as they leave.
"""
import os
import re
import smtplib
import unittest

from instance import Instance, WAIT
from postino_testlib import poll_until
from smtp_peers import PostfixMx, SmtpPeer

PFX_ADDR = "127.0.0.85"
PFX_PEER = "127.0.0.86"
OUR_PEER = "127.0.0.87"
RCPT = "someone@remote.test"

MASTER = "smtp      unix  -       -       n       -       -       smtp\n"

TABLES = {
    "smtp_header_checks": r"""
/^Received: .*with ESMTPSA/ IGNORE
/^X-Strip-Me:/ STRIP stripped for privacy
/^X-Warn:/ WARN outbound warn
/^X-Info:/ INFO
/^X-Replace: (.*)/ REPLACE X-Replaced: $1
/^X-Prepend:/ PREPEND X-Added: before
/^X-Reject:/ REJECT not in the smtp client
/^X-Hold:/ HOLD nor this
/^X-Bad-Replace:/ REPLACE not a header
/^Content-Type:.*x-primary-mime/ REPLACE X-Wrong-Table: header
""",
    "smtp_mime_header_checks": r"""
/^Content-Description: drop/ IGNORE
/^Content-Type:.*x-evil/ REPLACE Content-Type: text/plain
/^Content-Type:.*x-primary-mime/ WARN mime table saw it
/^X-Part-Only:/ WARN part header
""",
    "smtp_nested_header_checks": r"""
/^Subject:.*nested/ REPLACE Subject: nested replaced
/^X-Part-Only:/ REPLACE X-Wrong-Table: nested
""",
    "smtp_body_checks": r"""
/secret-token-[0-9]+/ REPLACE [token removed]
/^drop this line$/ IGNORE
/^warn body/ WARN body warn
/^X-Part-Only:/ REPLACE wrong-table-body
""",
}


def cases():
    mp = ("MIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
          "preamble\r\n--b1\r\n"
          "Content-Type: text/plain\r\n"
          "Content-Description: drop me\r\n"
          "X-Part-Only: yes\r\n\r\n"
          "part text secret-token-42 here\r\n"
          "--b1\r\n"
          "Content-Type: application/x-evil; name=a.bin\r\n\r\n"
          "AAAA\r\n"
          "--b1\r\n"
          "Content-Type: message/rfc822\r\n\r\n"
          "Subject: a nested one\r\n"
          "X-Part-Only: nested\r\n\r\n"
          "inner body\r\n"
          "--b1--\r\n")
    return {
        "privacy": ("Received: from laptop (unknown [192.0.2.7])\r\n"
                    "\tby submit.example.org with ESMTPSA id 123\r\n"
                    "Received: from relay.example.org by mx with ESMTP\r\n"
                    "X-Strip-Me: 10.0.0.1\r\n\r\nhello\r\n"),
        "actions": ("X-Warn: yes\r\nX-Info: yes\r\n"
                    "X-Replace: old value\r\nX-Prepend: here\r\n"
                    "X-Bad-Replace: kept\r\n\r\nbody\r\n"),
        "unsupported": ("X-Reject: yes\r\nX-Hold: yes\r\n\r\nstill sent\r\n"),
        "body": ("X-Case-Body: 1\r\n\r\n"
                 "line one secret-token-7\r\n"
                 "drop this line\r\n"
                 "warn body here\r\n"
                 "last\r\n"),
        "primary-mime": ("MIME-Version: 1.0\r\n"
                         "Content-Type: text/x-primary-mime\r\n\r\nx\r\n"),
        "mime": mp,
    }


def message(name, sender, text):
    head, _, body = text.partition("\r\n\r\n")
    return ("From: %s\r\nTo: %s\r\nSubject: case %s\r\n"
            "Message-ID: <%s@example.org>\r\n"
            "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\nX-Case: %s\r\n%s"
            "\r\n\r\n%s" % (sender, RCPT, name, name, name, head, body)
            ).encode()


ACTION = re.compile(r"\]: (\w+): (warning|info|replace|prepend|strip): "
                    r"(header|body) (.*)$")


def actions(log, qids):
    """(action, class, rest) logged by the smtp client for QIDS."""
    out = []
    for line in log.splitlines():
        if "/smtp[" not in line:
            continue
        m = ACTION.search(line)
        if m and m.group(1) in qids:
            out.append((m.group(2), m.group(3), m.group(4)))
    return out


def table_warnings(log):
    """The smtp client's warnings about table entries (sorted)."""
    return sorted(set(re.findall(r"/smtp\[\d+\]: warning: ((?:bad|unsupported"
                                 r") .*)$", log, re.M)))


def queue_ids(log, sender):
    """The queue ids of mail from SENDER (the qmgr from= lines)."""
    return set(re.findall(r"\]: ([0-9A-Za-z]+): from=<%s>"
                          % re.escape(sender), log))


def sent_text(data):
    """What the peer got, without the sender's own Received: header and
    with line ends as LF."""
    text = data.replace(b"\r\n", b"\n")
    if text.startswith(b"Received:"):
        m = re.match(rb"Received:[^\n]*\n(?:[ \t][^\n]*\n)*", text)
        text = text[m.end():]
    return text


class SmtpChecksAsPostfix(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.i = Instance(self, users=("alice",), master_extra=MASTER)
        paths = {}
        for key, text in TABLES.items():
            path = os.path.join(self.i.dir, key)
            with open(path, "w") as f:
                f.write(text.lstrip())
            os.chmod(path, 0o644)
            paths[key] = "regexp:" + path
        self.paths = paths

    def send(self, host, port, sender, data):
        with smtplib.SMTP(host, port, timeout=WAIT) as c:
            c.ehlo("client.example")
            self.assertEqual(c.sendmail(sender, [RCPT], data), {})

    def test_same_as_postfix(self):
        i = self.i
        pfx_peer = SmtpPeer(PFX_PEER, tc=self)
        our_peer = SmtpPeer(OUR_PEER, tc=self)
        i.set_main(relayhost="[%s]:25" % OUR_PEER, **self.paths)
        i.start()
        main = {"relayhost": "[%s]:25" % PFX_PEER}
        main.update(self.paths)
        pfx = PostfixMx(self, address=PFX_ADDR, extra_main=main)
        names = list(cases())
        for n, name in enumerate(names):
            sender = "case%d@example.org" % n
            data = message(name, sender, cases()[name])
            self.send(PFX_ADDR, 25, sender, data)
            self.send("127.0.0.1", i.port, sender, data)
        got = {}
        for who, peer in (("postfix", pfx_peer), ("postino", our_peer)):
            envs = peer.wait_messages(len(names))
            got[who] = {}
            for e in envs:
                m = re.search(rb"^X-Case: (\S+)", e.data, re.M)
                got[who][m.group(1).decode()] = sent_text(e.data)
        poll_until("the log lines", lambda: all(
            queue_ids(log, "case%d@example.org" % n)
            for log in (pfx.log(), i.log()) for n in range(len(names))),
            timeout=WAIT)
        diffs = []
        for n, name in enumerate(names):
            sender = "case%d@example.org" % n
            a = [got["postfix"].get(name)] + actions(
                pfx.log(), queue_ids(pfx.log(), sender))
            b = [got["postino"].get(name)] + actions(
                i.log(), queue_ids(i.log(), sender))
            if a != b:
                diffs.append("%s:\n  Postfix %r\n  postino %r" % (name, a, b))
        i.check_sanitizer()
        self.assertEqual(diffs, [], "\n".join(diffs))
        # The warnings about table entries, word for word.
        self.assertEqual(table_warnings(pfx.log()), table_warnings(i.log()))
        self.assertEqual(len(table_warnings(pfx.log())), 3)
        # The oracle did what the tables mean.
        self.assertNotIn(b"ESMTPSA", got["postfix"]["privacy"])
        self.assertIn(b"[token removed]", got["postfix"]["body"])
        self.assertIn(b"Subject: nested replaced", got["postfix"]["mime"])

    def test_table_failure_defers(self):
        """A check table that cannot be read: the mail waits in the
        queue, nothing is sent uninspected."""
        i = self.i
        peer = SmtpPeer(OUR_PEER, tc=self)
        i.set_main(relayhost="[%s]:25" % OUR_PEER,
                   smtp_header_checks="regexp:" + os.path.join(
                       i.dir, "missing-table"))
        i.start()
        self.send("127.0.0.1", i.port, "a@example.org",
                  message("failure", "a@example.org", "X-A: 1\r\n\r\nx\r\n"))
        i.wait_log(r"to=<%s>.*status=deferred" % re.escape(RCPT))
        self.assertEqual(peer.messages(), [])
        i.check_sanitizer()


GENERIC = """
joe@localdomain.local joe.public@isp.example
admin hostmaster@isp.example
@localdomain.local @isp.example
"""


class GenericAsPostfix(unittest.TestCase):
    """smtp_generic_maps: the envelope sender and recipients and the
    address headers as they leave, compared with Postfix's."""
    maxDiff = None

    def test_same_as_postfix(self):
        i = Instance(self, users=("alice",), master_extra=MASTER)
        table = os.path.join(i.dir, "generic")
        with open(table, "w") as f:
            f.write(GENERIC.lstrip())
        os.chmod(table, 0o644)
        common = {"smtp_generic_maps": "texthash:" + table,
                  "myorigin": "localdomain.local"}
        pfx_peer = SmtpPeer(PFX_PEER, tc=self)
        our_peer = SmtpPeer(OUR_PEER, tc=self)
        i.set_main(relayhost="[%s]:25" % OUR_PEER, **common)
        i.start()
        main = {"relayhost": "[%s]:25" % PFX_PEER}
        main.update(common)
        PostfixMx(self, address=PFX_ADDR, extra_main=main)
        cases = [
            ("joe@localdomain.local",
             ["someone@remote.test", "rcpt@localdomain.local",
              "admin@localdomain.local"],
             "From: Joe Public <joe@localdomain.local>\r\n"
             "To: admin@localdomain.local, other@elsewhere.test\r\n"
             "Cc: \"Rcpt, R.\" <rcpt@localdomain.local> (a comment),\r\n"
             " group: a@localdomain.local, b@elsewhere.test;\r\n"
             "Reply-To: <joe@localdomain.local>\r\n"
             "X-Addr: joe@localdomain.local\r\n"
             "Subject: generic joe@localdomain.local\r\n"),
            ("", ["rcpt+ext@localdomain.local"],
             "From: MAILER-DAEMON@localdomain.local\r\n"
             "To: rcpt+ext@localdomain.local\r\n"
             "Subject: bounce\r\n"),
            ("other@elsewhere.test", ["someone@remote.test"],
             "From: other@elsewhere.test\r\nTo: someone@remote.test\r\n"
             "Subject: untouched\r\n"),
        ]
        for n, (sender, rcpts, head) in enumerate(cases):
            data = ("%sMessage-ID: <g%d@example.org>\r\n"
                    "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n"
                    "X-Case: g%d\r\n\r\nbody\r\n" % (head, n, n)).encode()
            for host, port in ((PFX_ADDR, 25), ("127.0.0.1", i.port)):
                with smtplib.SMTP(host, port, timeout=WAIT) as c:
                    c.ehlo("client.example")
                    self.assertEqual(c.sendmail(sender, rcpts, data), {})
        got = {}
        for who, peer in (("postfix", pfx_peer), ("postino", our_peer)):
            got[who] = {}
            for e in peer.wait_messages(len(cases)):
                m = re.search(rb"^X-Case: (\S+)", e.data, re.M)
                got[who][m.group(1).decode()] = (
                    e.mail_from, sorted(e.rcpts), sent_text(e.data))
        self.assertEqual(got["postfix"], got["postino"])
        # The oracle rewrote what generic(5) says.
        frm, rcpts, text = got["postfix"]["g0"]
        self.assertEqual(frm, "joe.public@isp.example")
        self.assertIn("hostmaster@isp.example", rcpts)
        self.assertIn(b"X-Addr: joe@localdomain.local", text)
        self.assertIn(b"From: Joe Public <joe.public@isp.example>", text)
        self.assertIn(b"Subject: generic joe@localdomain.local", text)
        self.assertEqual(got["postfix"]["g1"][0], "")
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

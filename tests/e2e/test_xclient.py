#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_xclient - the XCLIENT command (Postfix's XCLIENT_README), with
Debian's Postfix as the oracle.

A private Postfix (PostfixMx) and postino get the same restrictions and
the same smtpd_authorized_xclient_hosts (127.0.0.1 only), and the same
SMTP dialogs go to both; every reply must agree once the host names and
queue ids are masked.  The dialogs cover: the EHLO keyword (shown only
to an authorized client), a client outside the list (550), malformed
commands (no attribute, unknown name, bad address, port, protocol,
host name, empty HELO, xtext; where one attribute of several is bad,
postino changes nothing and Postfix keeps the others: not compared),
XCLIENT inside a mail transaction (503), the impersonated address, name,
HELO and IPv6 address as the restrictions see them, a second XCLIENT
(authorization belongs to the real client), [UNAVAILABLE] and
[TEMPUNAVAIL] names against reject_unknown_client_hostname, LOGIN while
SASL is off, the Received: header of mail sent under XCLIENT, and
smtpd_delay_reject = no (the refusal comes as the reply to XCLIENT).
"""
import re
import socket
import unittest

from instance import MYHOSTNAME, Instance, WAIT
from postino_testlib import poll_until
from smtp_peers import PostfixMx

PFX_DOMAIN = "pfx.test"
PFX_ADDR = "127.0.0.81"

CLIENT_TABLE = r"""
/^192\.0\.2\./ REJECT bad network
/^2001:db8:bad:/ REJECT bad v6 network
/^bad\.example$/ REJECT bad name
"""
HELO_TABLE = r"""
/^evil\.helo$/ REJECT evil helo
"""
SENDER_TABLE = r"""
/^unknown-check@/ reject_unknown_client_hostname
/^reverse-check@/ reject_unknown_reverse_client_hostname
"""


def read_reply(f):
    """One whole SMTP reply from the file f (lines joined with LF);
    "(EOF)" when the server closed first."""
    lines = []
    while True:
        line = f.readline().decode(errors="replace")
        if not line:
            return "\n".join(lines) or "(EOF)"
        lines.append(line.rstrip("\r\n"))
        if len(line) < 4 or line[3] != "-":
            return "\n".join(lines)


class Dialog:
    """A plain socket SMTP client to HOST:PORT from SOURCE."""

    def __init__(self, host, port, source):
        self.sock = socket.socket()
        self.sock.settimeout(WAIT)
        self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.f = self.sock.makefile("rb")

    def reply(self):
        return read_reply(self.f)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.f.close()
        self.sock.close()


def run(host, port, lines, source="127.0.0.1", ehlo_keywords=False):
    """The banner and the reply to each of LINES; an EHLO reply is cut
    to its XCLIENT and XFORWARD lines (the others differ by design) when
    EHLO_KEYWORDS, else to its first line's code."""
    d = Dialog(host, port, source)
    try:
        out = [d.reply()]
        for line in lines:
            r = d.cmd(line)
            if line.upper().startswith("EHLO") and r.startswith("250"):
                kw = [x[4:] for x in r.splitlines()
                      if x[4:].startswith(("XCLIENT", "XFORWARD"))]
                r = "250 EHLO" + ("".join(" [%s]" % k for k in kw)
                                  if ehlo_keywords else "")
            out.append(r)
        return out
    finally:
        d.close()


def mask(replies, names):
    out = []
    for r in replies:
        for n in names:
            r = r.replace(n, "HOST")
        r = re.sub(r"queued as [0-9A-Za-z]+", "queued as ID", r)
        out.append(r)
    return out


def disconnects(log):
    """The sorted "disconnect from" lines of impersonated clients."""
    out = re.findall(r"disconnect from (\S+\[(?!127\.0\.0\.[12]\])[^]]*\].*)",
                     log)
    # The real client 127.0.0.1 is localhost to Postfix, unknown to
    # postino's resolver (ADDR alone keeps that name).
    return sorted(x.strip().replace("localhost[", "unknown[") for x in out)


DIALOGS = {
    "ehlo": ["EHLO client.example"],
    "syntax": ["EHLO client.example", "XCLIENT", "XCLIENT FOO=bar",
               "XCLIENT ADDR", "XCLIENT ADDR=not-an-address",
               "XCLIENT ADDR=300.1.2.3", "XCLIENT PORT=99999",
               "XCLIENT PORT=12x", "XCLIENT PROTO=LMTP",
               "XCLIENT NAME=bad_name!", "XCLIENT HELO=",
               # Nothing above took effect: the real client relays.
               "MAIL FROM:<a@example.org>",
               "RCPT TO:<x@remote.example>", "QUIT"],
    "in-transaction": ["EHLO client.example", "MAIL FROM:<a@example.org>",
                       "XCLIENT ADDR=192.0.2.1", "RSET",
                       "XCLIENT ADDR=192.0.2.1", "QUIT"],
    "bad-network": ["EHLO client.example",
                    "XCLIENT ADDR=192.0.2.1 NAME=[UNAVAILABLE]",
                    "EHLO client.example", "MAIL FROM:<a@example.org>",
                    "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "bad-name": ["EHLO client.example",
                 "XCLIENT NAME=bad.example ADDR=198.51.100.9",
                 "HELO client.example", "MAIL FROM:<a@example.org>",
                 "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "helo": ["EHLO client.example",
             "XCLIENT ADDR=198.51.100.9 NAME=ok.example HELO=evil.helo",
             "MAIL FROM:<a@example.org>", "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "helo-forgotten": ["EHLO evil.helo",
                       "XCLIENT ADDR=198.51.100.9 NAME=ok.example",
                       "MAIL FROM:<a@example.org>", "RCPT TO:<bob@DOMAIN>",
                       "EHLO evil.helo", "MAIL FROM:<a@example.org>",
                       "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "outside-relay": ["EHLO client.example",
                      "XCLIENT ADDR=198.51.100.9 NAME=ok.example",
                      "EHLO client.example", "MAIL FROM:<a@example.org>",
                      "RCPT TO:<x@remote.example>", "RSET",
                      "XCLIENT ADDR=127.0.0.5",
                      "EHLO client.example", "MAIL FROM:<a@example.org>",
                      "RCPT TO:<x@remote.example>", "QUIT"],
    "ipv6": ["EHLO client.example",
             "XCLIENT ADDR=IPv6:2001:db8:bad::1 NAME=[UNAVAILABLE]",
             "EHLO client.example", "MAIL FROM:<a@example.org>",
             "RCPT TO:<bob@DOMAIN>", "RSET",
             "XCLIENT ADDR=IPV6:2001:db8:1::1",
             "EHLO client.example", "MAIL FROM:<a@example.org>",
             "RCPT TO:<bob@DOMAIN>", "QUIT"],
    # An impersonated client outside the list cannot send XCLIENT
    # again: one session for each name.  A first XCLIENT inside the list
    # gives the names the second one keeps (NAME leaves the reverse name
    # alone, ADDR leaves both), whatever the real client's names are.
    "unavailable-name": ["EHLO client.example",
                         "XCLIENT NAME=first.example REVERSE_NAME=first.example "
                         "ADDR=127.0.0.1",
                         "XCLIENT ADDR=198.51.100.9 NAME=[UNAVAILABLE]",
                         "EHLO client.example",
                         "MAIL FROM:<unknown-check@example.org>",
                         "RCPT TO:<bob@DOMAIN>", "RSET",
                         "MAIL FROM:<reverse-check@example.org>",
                         "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "tempunavail-name": ["EHLO client.example",
                         "XCLIENT NAME=first.example REVERSE_NAME=first.example "
                         "ADDR=127.0.0.1",
                         "XCLIENT ADDR=198.51.100.9 NAME=[TEMPUNAVAIL]",
                         "EHLO client.example",
                         "MAIL FROM:<unknown-check@example.org>",
                         "RCPT TO:<bob@DOMAIN>", "RSET",
                         "MAIL FROM:<reverse-check@example.org>",
                         "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "unavailable-reverse": ["EHLO client.example",
                            "XCLIENT ADDR=198.51.100.9 NAME=ok.example "
                            "REVERSE_NAME=[UNAVAILABLE]",
                            "EHLO client.example",
                            "MAIL FROM:<unknown-check@example.org>",
                            "RCPT TO:<bob@DOMAIN>", "RSET",
                            "MAIL FROM:<reverse-check@example.org>",
                            "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "tempunavail-reverse": ["EHLO client.example",
                            "XCLIENT ADDR=198.51.100.9 NAME=[UNAVAILABLE] "
                            "REVERSE_NAME=[TEMPUNAVAIL]",
                            "EHLO client.example",
                            "MAIL FROM:<reverse-check@example.org>",
                            "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "reverse-only": ["EHLO client.example",
                     "XCLIENT NAME=first.example REVERSE_NAME=first.example "
                     "ADDR=127.0.0.1",
                     "XCLIENT ADDR=198.51.100.9 REVERSE_NAME=rev.example",
                     "EHLO client.example",
                     "MAIL FROM:<unknown-check@example.org>",
                     "RCPT TO:<bob@DOMAIN>", "RSET",
                     "MAIL FROM:<reverse-check@example.org>",
                     "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "keeps-name": ["EHLO client.example",
                   "XCLIENT NAME=first.example REVERSE_NAME=first.example "
                   "ADDR=127.0.0.1",
                   "XCLIENT ADDR=198.51.100.9",
                   "EHLO client.example",
                   "MAIL FROM:<unknown-check@example.org>",
                   "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "login-without-sasl": ["EHLO client.example",
                           "XCLIENT ADDR=198.51.100.9 LOGIN=alice",
                           "EHLO client.example",
                           "MAIL FROM:<a@example.org>",
                           "RCPT TO:<x@remote.example>", "QUIT"],
    "xtext": ["EHLO client.example",
              "XCLIENT ADDR=192.0.2.1+20 NAME=ok.example",
              "XCLIENT NAME=bad+2Eexample ADDR=198.51.100.9",
              "EHLO client.example", "MAIL FROM:<a@example.org>",
              "RCPT TO:<bob@DOMAIN>", "QUIT"],
    "delivered": ["EHLO client.example",
                  "XCLIENT NAME=good.example ADDR=198.51.100.9 PORT=4711 "
                  "HELO=good.helo PROTO=SMTP",
                  "MAIL FROM:<received@example.org>",
                  "RCPT TO:<bob@DOMAIN>", "DATA",
                  "Subject: xclient\r\n\r\nhello\r\n.", "QUIT"],
}


class XclientAsPostfix(unittest.TestCase):
    maxDiff = None

    def pair(self, extra=None):
        """postino and Postfix with the same tables and EXTRA."""
        i = Instance(self, users=("bob",))
        tables = {}
        for key, text in (("client", CLIENT_TABLE), ("helo", HELO_TABLE),
                          ("sender", SENDER_TABLE)):
            path = i.dir + "/" + key
            with open(path, "w") as f:
                f.write(text.lstrip())
            tables[key] = "regexp:" + path
        main = {
            "smtpd_authorized_xclient_hosts": "127.0.0.1",
            "smtpd_banner": "$myhostname ESMTP test",
            "smtpd_client_restrictions":
                "check_client_access " + tables["client"],
            "smtpd_helo_restrictions": "check_helo_access " + tables["helo"],
            "smtpd_sender_restrictions":
                "check_sender_access " + tables["sender"],
            "smtpd_relay_restrictions": "permit_mynetworks, "
                "permit_sasl_authenticated, reject_unauth_destination",
            "mynetworks": "127.0.0.0/8",
        }
        main.update(extra or {})
        i.set_main(**main)
        i.start()
        pfx = PostfixMx(self, address=PFX_ADDR, domain=PFX_DOMAIN,
                        users=("bob",), extra_main=main)
        return i, pfx

    def compare(self, i, pfx, names, source="127.0.0.1", keywords=False):
        diffs, got = [], {}
        for name in names:
            lines = DIALOGS[name]
            theirs = mask(run(PFX_ADDR, 25,
                              [x.replace("bob@DOMAIN", "bob@" + PFX_DOMAIN)
                               for x in lines], source, keywords),
                          ["bob@" + PFX_DOMAIN, "mx." + PFX_DOMAIN])
            ours = mask(run("127.0.0.1", i.port,
                            [x.replace("bob@DOMAIN", i.addr("bob"))
                             for x in lines], source, keywords),
                        [i.addr("bob"), MYHOSTNAME])
            got[name] = theirs
            if theirs != ours:
                diffs.append("%s:\n  Postfix %r\n  postino %r"
                             % (name, theirs, ours))
        return diffs, got

    def test_same_as_postfix(self):
        i, pfx = self.pair()
        names = [n for n in DIALOGS if n != "ehlo"]
        diffs, got = self.compare(i, pfx, ["ehlo"], keywords=True)
        d2, got2 = self.compare(i, pfx, names)
        diffs += d2
        got.update(got2)
        # An unauthorized client sees no keyword and gets 550.
        d3, got3 = self.compare(i, pfx, ["ehlo", "bad-network"],
                                source="127.0.0.2", keywords=True)
        diffs += d3
        self.assertEqual(diffs, [], "\n".join(diffs))
        # The disconnect lines name the impersonated client and count the
        # commands as Postfix's do.
        poll_until("postino's disconnect lines", lambda: len(
            disconnects(i.log())) >= len(disconnects(pfx.log())) > 0,
            timeout=WAIT)
        self.assertEqual("\n".join(disconnects(pfx.log())),
                         "\n".join(disconnects(i.log())))
        # The oracle did what the dialogs mean to test.
        self.assertIn("XCLIENT", got["ehlo"][1])
        self.assertNotIn("XCLIENT", got3["ehlo"][1])
        self.assertTrue(got3["bad-network"][2].startswith("550 5.7.0"))
        self.assertTrue(got["bad-network"][5].startswith("554 5.7.1"))
        self.assertTrue(got["in-transaction"][3].startswith("503"))
        self.assertTrue(got["delivered"][6].startswith("250"))
        # The Received: header names the impersonated client.
        i.wait_maildir("bob", 1)
        poll_until("Postfix's delivery", lambda: pfx.maildir("bob"),
                   timeout=WAIT)
        heads = []
        for msg in (pfx.maildir("bob")[0], i.maildir_messages("bob")[0]):
            m = re.search(rb"^Received: (from .*?)\r?\n\s+by \S+ \(\S+\) "
                          rb"(with \S+)", msg, re.M)
            self.assertIsNotNone(m, msg[:400])
            heads.append(m.group(1) + b" " + m.group(2))
        self.assertEqual(heads[0], heads[1])
        self.assertEqual(heads[1],
                         b"from good.helo (good.example [198.51.100.9]) "
                         b"with SMTP")
        # Unlike Postfix, which keeps the good attributes of a command it
        # refuses (it matched 192.0.2.1 against the client table while
        # naming the old client), a refused XCLIENT changes nothing.
        r = run("127.0.0.1", i.port, ["EHLO client.example",
                                      "XCLIENT ADDR=192.0.2.1 PORT=nope",
                                      "MAIL FROM:<a@example.org>",
                                      "RCPT TO:<x@remote.example>"])
        self.assertEqual(r[2:], ["501 5.5.4 Bad PORT syntax: nope",
                                 "250 2.1.0 Ok", "250 2.1.5 Ok"])
        i.check_sanitizer()

    def test_ipv6(self):
        """inet_protocols = all: IPv6 addresses are good (with
        inet_protocols = ipv4, as in test_same_as_postfix, they are
        refused)."""
        i, pfx = self.pair({"inet_protocols": "all"})
        diffs, got = self.compare(i, pfx, ["ipv6"])
        self.assertEqual(diffs, [], "\n".join(diffs))
        self.assertIn("bad v6 network", got["ipv6"][5])
        i.check_sanitizer()

    def test_delay_reject_no(self):
        i, pfx = self.pair({"smtpd_delay_reject": "no"})
        diffs, got = self.compare(i, pfx, ["bad-network", "bad-name",
                                           "outside-relay", "helo"])
        self.assertEqual(diffs, [], "\n".join(diffs))
        self.assertTrue(got["bad-network"][2].startswith("554 5.7.1"))
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

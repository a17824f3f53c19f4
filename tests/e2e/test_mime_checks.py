#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_mime_checks - header_checks, mime_header_checks,
nested_header_checks and body_checks on MIME mail, with Debian's Postfix
as the oracle.

The same four regexp tables are given to a private Postfix (PostfixMx)
and to postino, the same messages go to both over SMTP, and these must
agree message by message:
  - the reply to DATA (accepted, or the refusal's code and text);
  - the actions logged (reject, warning, ...: the action, the class, the
    header or line, and the table's text);
  - for accepted mail, the body as delivered (what IGNORE removed).
The messages cover: MIME headers in the primary headers (to
mime_header_checks, not header_checks), part headers (a folded
Content-Disposition, a non-MIME header in a part, IGNORE), an attached
message/rfc822 (its Subject: to nested_header_checks, its MIME headers
to mime_header_checks), one in base64 (parsed all the same), one in
message/partial (not parsed), multipart/digest
(parts are messages by default), a boundary that is a prefix of the
line, the epilogue after the close delimiter (body), body_checks (they
never see part or attached headers, they see the parts' bodies), a body
that starts without a blank line, and nesting around mime_nesting_limit
(limits 3 and 1; multiparts inside multiparts and attached messages,
attached messages inside each other), with and without header checks.
"""
import os
import re
import smtplib
import unittest

from instance import Instance, WAIT
from postino_testlib import poll_until
from smtp_peers import PostfixMx

PFX_DOMAIN = "pfx.test"
PFX_ADDR = "127.0.0.80"

HEADER_CHECKS = r"""
/^X-Primary-Reject:/ REJECT primary header refused
/^X-Warn-Me:/ WARN primary warn
/^Content-Type:.*x-header-checks/ REJECT header_checks saw a MIME header
"""
MIME_CHECKS = r"""
/^Content-Type:.*application\/x-evil/ REJECT evil attachment
/^Content-Disposition:.*filename="?[^"]*\.exe/ REJECT 5.7.2 exe attachment
/^Content-Description: drop/ IGNORE
/^X-Part-Header:/ WARN part header seen
/^Content-Type:.*x-bad-primary/ REJECT mime table saw the primary type
/^X-Only-In-Part:/ WARN mime table saw a part header
"""
NESTED_CHECKS = r"""
/^Subject:.*nested evil/ REJECT nested subject
/^X-Nested-Warn:/ WARN nested header seen
/^Content-Type:.*x-nested-mime/ REJECT nested table saw a MIME header
/^X-Only-In-Part:/ REJECT nested table saw a part header
/^X-Warn-Me:/ REJECT nested table saw a primary header
"""
BODY_CHECKS = r"""
/^X-Part-Header:/ REJECT body checks saw a part header
/^Subject:.*in body/ REJECT body checks saw a nested header
/evil body line/ REJECT 5.7.3 evil body
"""


def mp(boundary, parts, epilogue="", ctype="multipart/mixed"):
    """A multipart body: (headers, body) parts."""
    out = ["preamble"]
    for headers, body in parts:
        out.append("--" + boundary)
        out += headers
        out.append("")
        out.append(body)
    out.append("--%s--" % boundary)
    if epilogue:
        out.append(epilogue)
    return ("Content-Type: %s; boundary=\"%s\"" % (ctype, boundary),
            "\r\n".join(out))


def nest(depth, leaf="deep text"):
    """DEPTH multiparts one inside the other."""
    ctype, body = "Content-Type: text/plain", leaf
    for n in range(depth, 0, -1):
        inner_ctype, inner_body = ctype, body
        ctype, body = mp("lvl%d" % n, [([inner_ctype], inner_body)])
    return ctype, body


def nest_messages(depth):
    """DEPTH attached messages one inside the other, the outermost
    announced by the primary headers."""
    body = "Subject: leaf\r\n\r\nleaf text"
    for n in range(depth - 1):
        body = "Content-Type: message/rfc822\r\nX-Level: %d\r\n\r\n%s" % (
            n, body)
    return "Content-Type: message/rfc822", body


def messages_around(messages, multiparts):
    """MESSAGES attached messages around MULTIPARTS nested multiparts."""
    ct, body = nest(multiparts)
    inner = "%s\r\n\r\n%s" % (ct, body)
    for n in range(messages - 1):
        inner = "Content-Type: message/rfc822\r\n\r\n" + inner
    return "Content-Type: message/rfc822", inner


def cases():
    out = {}
    out["plain"] = ([], "just text")
    out["primary-warn"] = (["X-Warn-Me: yes"], "text")
    out["primary-reject"] = (["X-Primary-Reject: yes"], "text")
    out["primary-mime"] = (["MIME-Version: 1.0",
                            "Content-Type: text/x-bad-primary"], "text")
    out["primary-mime-not-hc"] = (["Content-Type: text/x-header-checks"],
                                  "text")
    ct, body = mp("b1", [(["Content-Type: text/plain"], "hello"),
                         (["Content-Type: application/x-evil;",
                           " name=\"a.bin\""], "AAAA")])
    out["part-evil"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b2", [(["Content-Type: application/octet-stream",
                           "Content-Disposition: attachment;",
                           "\tfilename=\"run.exe\""], "TVqQ")])
    out["part-exe-folded"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b3", [(["Content-Type: text/plain",
                           "Content-Description: drop me",
                           "X-Part-Header: one",
                           "X-Only-In-Part: yes"], "kept text")])
    out["part-ignore-warn"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b4", [(["Content-Type: message/rfc822"],
                          "Subject: a nested evil thing\r\n"
                          "From: x@example.org\r\n\r\ninner")])
    out["nested-reject"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b5", [(["Content-Type: message/rfc822"],
                          "X-Nested-Warn: yes\r\n"
                          "X-Warn-Me: nested\r\n"
                          "Content-Type: text/x-nested-mime\r\n"
                          "Subject: fine\r\n\r\nSubject: in body\r\n")])
    out["nested-classes"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b6", [(["Content-Type: message/rfc822",
                           "Content-Transfer-Encoding: base64"],
                          "Subject: a nested evil thing")])
    out["nested-base64"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b6p", [(["Content-Type: message/partial; id=\"x\";"
                            " number=1"],
                           "Subject: a nested evil thing\r\n\r\nx")])
    out["nested-partial"] = (["MIME-Version: 1.0", ct], body)
    # The body starts right after the headers, with no blank line.
    out["no-blank-line"] = (["X-Warn-Me: yes", "body at once"], None)
    ct, body = mp("b7", [([], "Subject: a nested evil thing\r\n\r\nx")],
                  ctype="multipart/digest")
    out["digest-default"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("sep", [(["Content-Type: text/plain"], "a\r\n--separate\r\n"
                           "Content-Type: application/x-evil\r\n\r\nz")])
    out["boundary-prefix"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b8", [(["Content-Type: text/plain"], "a")],
                  epilogue="Content-Type: application/x-evil\r\n"
                  "X-Part-Header: epilogue")
    out["epilogue"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b9", [(["Content-Type: text/plain"],
                          "an evil body line here")])
    out["part-body"] = (["MIME-Version: 1.0", ct], body)
    ct, body = mp("b10", [(["Content-Type: multipart/alternative;",
                            " boundary=inner10"],
                           "--inner10\r\nContent-Type: text/plain\r\n\r\n"
                           "alt\r\n--inner10\r\n"
                           "Content-Type: application/x-evil\r\n\r\nq\r\n"
                           "--inner10--")])
    out["inner-folded-boundary"] = (["MIME-Version: 1.0", ct], body)
    # Nesting (tests run with mime_nesting_limit 3 or 1).
    for depth in (2, 3, 4, 5, 6):
        ct, body = nest(depth)
        out["depth%d" % depth] = (["MIME-Version: 1.0", ct], body)
    for depth in (4, 12):
        ct, body = nest_messages(depth)
        out["msgdepth%d" % depth] = (["MIME-Version: 1.0", ct], body)
    for m, p in ((3, 3), (2, 5), (2, 6)):
        ct, body = messages_around(m, p)
        out["%dmsg-%dmp" % (m, p)] = (["MIME-Version: 1.0", ct], body)
    # message_reject_characters and message_strip_characters.
    out["chars-reject-body"] = ([], "a bell \x07 here")
    out["chars-reject-header"] = (["X-Ctl: a\x01b"], "text")
    out["chars-strip"] = (["X-Strip: t\x7fx"], "del\x7f and ff\x0c end")
    ct, body = mp("c1", [(["Content-Type: text/plain"], "he\x7fllo")])
    out["chars-strip-part"] = (["MIME-Version: 1.0", ct], body)
    return out


def text_of(name, headers, body):
    lines = ["From: sender@example.org", "To: rcpt@example.net",
             "Subject: case %s" % name, "X-Case: %s" % name] + headers
    if body is None:
        return ("\r\n".join(lines) + "\r\n").encode()
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


ACTION = re.compile(r": (reject|warning|info|hold|discard|replace|strip|"
                    r"redirect|filter): (header|body|mime-error [^:]*:) "
                    r"(.*?) from [^;]*; from=<([^>]*)>[^:]*(?:: (.*))?$")


def actions(log, sender):
    """(action, class, content, text) logged for mail from SENDER."""
    out = []
    for line in log.splitlines():
        m = ACTION.search(line)
        if m and m.group(4) == sender:
            out.append((m.group(1), m.group(2), m.group(3),
                        m.group(5) or ""))
    return out


def body_of(msg):
    """What follows the headers (all of it if no blank line ends them)."""
    parts = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)
    return parts[1] if len(parts) == 2 else b"(no blank line) " + parts[0]


def send(host, port, sender, rcpt, data):
    with smtplib.SMTP(host, port, timeout=WAIT) as c:
        c.ehlo("client.example")
        c.mail(sender)
        code, _ = c.rcpt(rcpt)
        if code != 250:
            return "RCPT %d" % code
        code, msg = c.data(data)
        return "%d %s" % (code, msg.decode()) if code != 250 else "250"


class MimeChecksAsPostfix(unittest.TestCase):

    def run_all(self, extra, names):
        tables = {}
        i = Instance(self, users=("bob",))
        for key, text in (("header_checks", HEADER_CHECKS),
                          ("mime_header_checks", MIME_CHECKS),
                          ("nested_header_checks", NESTED_CHECKS),
                          ("body_checks", BODY_CHECKS)):
            if key not in extra:
                path = os.path.join(i.dir, key)
                with open(path, "w") as f:
                    f.write(text.lstrip())
                os.chmod(path, 0o644)
                tables[key] = "regexp:" + path
        tables.update(extra)
        i.set_main(**tables)
        i.start()
        pfx = PostfixMx(self, address=PFX_ADDR, domain=PFX_DOMAIN,
                        users=("bob",), extra_main=tables)
        all_cases = cases()
        got = {"postfix": {}, "postino": {}}
        for n, name in enumerate(names):
            headers, body = all_cases[name]
            data = text_of(name, headers, body)
            sender = "case%d@example.org" % n
            got["postfix"][name] = [send(PFX_ADDR, 25, sender,
                                         "bob@" + PFX_DOMAIN, data)]
            got["postino"][name] = [send("127.0.0.1", i.port, sender,
                                         i.addr("bob"), data)]
        accepted = [nm for nm in names if got["postfix"][nm][0] == "250"]
        n_ok = sum(1 for nm in names if got["postino"][nm][0] == "250")
        poll_until("Postfix's deliveries",
                   lambda: len(pfx.maildir("bob")) >= len(accepted),
                   timeout=WAIT)
        i.wait_maildir("bob", n_ok)
        for who, msgs in (("postfix", pfx.maildir("bob")),
                          ("postino", i.maildir_messages("bob"))):
            for m in msgs:
                name = re.search(rb"^X-Case: (\S+)", m, re.M).group(1)
                got[who][name.decode()].append(body_of(m))
        pfx_log, our_log = pfx.log(), i.log()
        diffs = []
        for n, name in enumerate(names):
            sender = "case%d@example.org" % n
            a = got["postfix"][name] + actions(pfx_log, sender)
            b = got["postino"][name] + actions(our_log, sender)
            if a != b:
                diffs.append("%s:\n  Postfix %r\n  postino %r" % (name, a, b))
        i.check_sanitizer()
        self.assertEqual(diffs, [], "\n".join(diffs))
        return got

    def test_same_as_postfix(self):
        got = self.run_all({"mime_nesting_limit": "3"}, list(cases()))
        # The oracle did refuse and accept: the cases test something.
        self.assertTrue(got["postfix"]["part-evil"][0].startswith("550"))
        self.assertEqual(got["postfix"]["part-ignore-warn"][0], "250")
        self.assertNotIn(b"Content-Description",
                         got["postino"]["part-ignore-warn"][1])
        self.assertEqual(got["postfix"]["depth5"][0], "250")
        self.assertTrue(got["postfix"]["depth6"][0].startswith("550 5.6.0"))

    def test_nesting_limit_1(self):
        got = self.run_all({"mime_nesting_limit": "1"},
                           ["depth2", "depth3", "depth4", "msgdepth12",
                            "3msg-3mp"])
        self.assertEqual(got["postfix"]["depth3"][0], "250")
        self.assertTrue(got["postfix"]["depth4"][0].startswith("550 5.6.0"))

    def test_nesting_without_checks(self):
        """No header checks at all: mail nested past the limit is
        accepted as Postfix accepts it."""
        empty = {"header_checks": "", "mime_header_checks": "",
                 "nested_header_checks": "", "mime_nesting_limit": "1"}
        self.run_all(empty, ["depth3", "depth4", "depth6"])

    def test_characters(self):
        """message_reject_characters and message_strip_characters, with
        escapes (octal and \\f)."""
        got = self.run_all({"message_reject_characters": "\\007\\001",
                            "message_strip_characters": "\\177\\f"},
                           ["chars-reject-body", "chars-reject-header",
                            "chars-strip", "chars-strip-part", "plain"])
        self.assertTrue(got["postfix"]["chars-reject-body"][0]
                        .startswith("5"))
        self.assertEqual(got["postfix"]["chars-strip"][0], "250")

    def test_disable_mime(self):
        """disable_mime_input_processing = yes: parts are body."""
        self.run_all({"disable_mime_input_processing": "yes"},
                     ["primary-mime", "part-evil", "part-ignore-warn",
                      "nested-reject", "part-body"])


if __name__ == "__main__":
    unittest.main()

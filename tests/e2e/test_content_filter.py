#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_content_filter - the after-queue content filter of Postfix's
FILTER_README (amavisd-new's set-up): content_filter sends each message
received from outside to an SMTP filter on 127.0.0.1, over an smtp
transport with smtp_send_xforward_command = yes; the filter gives it back
to a second smtpd listener with "-o content_filter=" and
receive_override_options, which accepts XFORWARD from 127.0.0.0/8.

The filter here is a real SMTP server (aiosmtpd) that implements XFORWARD
as amavis does: it records the attributes the MTA sends, adds a header,
and re-injects the message with the same XFORWARD attributes.  Checked:
each message is delivered once, filtered, with no loop; the filter sees
the original client (name, address, port, protocol, HELO, queue ID,
source); the re-injected message's log line names the original client
and queue ID (Postfix's "orig_client=", "orig_queue_id="); address
mappings are not applied twice (no_address_mappings: a recipient_bcc_maps
copy that only a second pass would make is not made); FILTER actions of access
tables and header_checks route one message; while the filter is down the
mail waits in the queue and is delivered after it comes back; XFORWARD is
refused to clients outside smtpd_authorized_xforward_hosts and inside a
transaction; no_unknown_recipient_checks lets the re-injection listener
accept any recipient while the public one refuses unknown ones.
"""
import asyncio
import os
import re
import smtplib
import threading
import unittest

from instance import DOMAIN, IS_ROOT, Instance, message, poll_until
from postino_testlib import free_port

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP
except ImportError:  # reported as a failure by the tests below
    Controller = SMTP = None

FILTER_HOST = "127.0.0.1"
CLIENT = "127.0.0.9"
XF_NAMES = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")


def xtext_decode(v):
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)),
                  v)


if SMTP is not None:
    class XforwardSMTP(SMTP):
        """aiosmtpd with the XFORWARD command (what amavisd-new does)."""

        async def smtp_XFORWARD(self, arg):
            attrs = {}
            for item in (arg or "").split():
                name, _, value = item.partition("=")
                attrs[name.upper()] = xtext_decode(value)
            self.session.xforward_lines = getattr(
                self.session, "xforward_lines", []) + [arg]
            self.session.xforward = dict(
                getattr(self.session, "xforward", {}), **attrs)
            await self.push("250 2.0.0 Ok")


class Filter:
    """The content filter: records what it was given and re-injects the
    message, a header added, to the MTA's second listener."""

    def __init__(self, reinject_port):
        self.reinject_port = reinject_port
        self.lock = threading.Lock()
        self.seen = []          # (xforward attrs, raw XFORWARD lines, rcpts)

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        session.xforward = {}
        session.xforward_lines = []
        return responses[:-1] + [
            "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT",
            responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        xf = dict(getattr(session, "xforward", {}))
        with self.lock:
            self.seen.append((xf, list(getattr(session, "xforward_lines",
                                               [])),
                              list(envelope.rcpt_tos)))
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(
                None, self.reinject, xf, envelope)
        except (OSError, smtplib.SMTPException) as e:
            return "451 4.3.0 re-injection failed: %s" % e
        return "250 2.0.0 Ok: %s" % reply

    def reinject(self, xf, envelope):
        content = envelope.original_content or envelope.content
        content = b"X-Content-Filter: scanned by the test filter\r\n" \
            + content
        with smtplib.SMTP(FILTER_HOST, self.reinject_port, timeout=30,
                          local_hostname="filter.test") as s:
            s.ehlo("filter.test")
            if xf:
                items = []
                for name in XF_NAMES:
                    if name in xf:
                        v = xf[name]
                        items.append("%s=%s" % (name, re.sub(
                            r"[^!-~]|[+=]",
                            lambda m: "+%02X" % ord(m.group(0)), v)))
                code, text = s.docmd("XFORWARD", " ".join(items))
                if code != 250:
                    raise smtplib.SMTPException("XFORWARD: %d %s"
                                                % (code, text))
            s.sendmail(envelope.mail_from, envelope.rcpt_tos, content)
        return "queued again"

    def done(self):
        with self.lock:
            return list(self.seen)


def start_filter(tc, port, reinject_port):
    if Controller is None:
        tc.fail("python3-aiosmtpd is missing")
    flt = Filter(reinject_port)

    class Ctl(Controller):
        def factory(self):
            return XforwardSMTP(self.handler, **self.SMTP_kwargs)

    ctl = Ctl(flt, hostname=FILTER_HOST, port=port,
              server_hostname="localhost")
    ctl.start()
    tc.addCleanup(ctl.stop)
    return flt


def filter_instance(tc, main=None, users=("alice", "bob", "carol")):
    fport, rport = free_port(), free_port()
    master = (
        "scan unix - - n - 2 smtp\n"
        "  -o smtp_send_xforward_command=yes\n"
        "  -o smtp_data_done_timeout=1200s\n"
        "%s:%d inet n - n - - smtpd\n"
        "  -o content_filter=\n"
        "  -o receive_override_options=no_unknown_recipient_checks,"
        "no_header_body_checks,no_address_mappings\n"
        "  -o smtpd_authorized_xforward_hosts=127.0.0.0/8\n"
        "  -o mynetworks=127.0.0.0/8\n"
        "  -o smtpd_client_restrictions=\n"
        "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
        % (FILTER_HOST, rport))
    i = Instance(tc, users=list(users), master_extra=master)
    conf = {"minimal_backoff_time": "300s", "maximal_backoff_time": "300s",
            "queue_run_delay": "300s"}
    conf.update(main or {})
    i.set_main(**conf)
    return i, fport, rport


@unittest.skipUnless(IS_ROOT, "needs root")
class ContentFilter(unittest.TestCase):

    def test_filtered_once_with_original_client(self):
        """content_filter: the message goes through the filter once, the
        filter learns the original client by XFORWARD, and the
        re-injected copy is delivered without a second pass."""
        i, fport, rport = filter_instance(self)
        i.set_main(content_filter="scan:[%s]:%d" % (FILTER_HOST, fport))
        flt = start_filter(self, fport, rport)
        i.start()
        a, b = i.addr("alice"), i.addr("bob")
        with i.smtp(source=CLIENT) as s:
            s.ehlo("client.example.test")
            s.sendmail("sender@ext.test", [a, b], message(
                "sender@ext.test", a, "filter me").replace(
                    "\n", "\r\n").encode())
        for u in ("alice", "bob"):
            msgs = i.wait_maildir(u, 1)
            self.assertIn(b"X-Content-Filter: scanned by the test filter",
                          msgs[0])
            self.assertIn(b"Subject: filter me", msgs[0])
        i.wait_queue_empty()
        seen = flt.done()
        self.assertEqual(len(seen), 1, seen)
        xf, lines, rcpts = seen[0]
        self.assertEqual(sorted(rcpts), sorted([a, b]))
        first = re.search(r"([0-9A-F]+): client=\S+\[%s\]"
                          % re.escape(CLIENT), i.log())
        self.assertTrue(first, i.log())
        qid = first.group(1)
        self.assertEqual(xf.get("ADDR"), CLIENT, xf)
        self.assertEqual(xf.get("NAME"), "unknown", xf)
        self.assertTrue(xf.get("PORT", "").isdigit(), xf)
        self.assertEqual(xf.get("PROTO"), "ESMTP", xf)
        self.assertEqual(xf.get("HELO"), "client.example.test", xf)
        self.assertEqual(xf.get("IDENT"), qid, xf)
        self.assertEqual(xf.get("SOURCE"), "REMOTE", xf)
        self.assertTrue(all(len(ln) + len("XFORWARD ") + 2 <= 512
                            for ln in lines), lines)
        # The delivery to the filter, then the re-injection naming the
        # original client; the second queue ID is delivered locally.
        i.wait_log(r"%s: to=<%s>, relay=%s\[%s\]:%d, .*status=sent"
                   % (qid, re.escape(a), re.escape(FILTER_HOST),
                      re.escape(FILTER_HOST), fport))
        again = re.search(r"([0-9A-F]+): client=\S+\[127\.0\.0\.1\], "
                          r"orig_queue_id=%s, orig_client=unknown\[%s\]"
                          % (qid, re.escape(CLIENT)), i.log())
        self.assertTrue(again, i.log())
        i.wait_log(r"%s: to=<%s>, relay=local, .*status=sent"
                   % (again.group(1), re.escape(b)))
        # Delivered once each: no loop through the filter.
        self.assertEqual(len(i.maildir_files("alice")), 1)
        self.assertEqual(len(i.maildir_files("bob")), 1)
        i.check_sanitizer()

    def test_no_second_address_mapping(self):
        """receive_override_options = no_address_mappings on the
        re-injection listener.  On the way in, virtual_alias_maps send
        alice's mail to bob; recipient_bcc_maps (looked up before virtual
        alias expansion, as in Postfix) has a copy of bob's mail for
        carol, which only a second pass of the mappings would make."""
        i, fport, rport = filter_instance(self)
        va = os.path.join(i.conf, "virtual")
        bcc = os.path.join(i.conf, "rcpt_bcc")
        i.postmap(va, "%s %s\n" % (i.addr("alice"), i.addr("bob")))
        i.postmap(bcc, "%s %s\n" % (i.addr("bob"), i.addr("carol")))
        i.set_main(content_filter="scan:[%s]:%d" % (FILTER_HOST, fport),
                   virtual_alias_maps="hash:" + va,
                   recipient_bcc_maps="hash:" + bcc)
        flt = start_filter(self, fport, rport)
        i.start()
        a = i.addr("alice")
        i.send("sender@ext.test", [a], message("sender@ext.test", a, "map"))
        msgs = i.wait_maildir("bob", 1)
        self.assertIn(b"X-Content-Filter", msgs[0])
        i.wait_queue_empty()
        self.assertEqual(i.maildir_files("carol"), [])
        self.assertEqual(i.maildir_files("alice"), [])
        self.assertEqual(flt.done()[0][2], [i.addr("bob")])
        # The control: mail for bob from outside gets carol's copy.
        b = i.addr("bob")
        i.send("sender@ext.test", [b], message("sender@ext.test", b, "bcc"))
        i.wait_maildir("carol", 1)
        i.wait_maildir("bob", 2)
        i.wait_queue_empty()
        self.assertEqual(len(i.maildir_files("carol")), 1)
        i.check_sanitizer()

    def test_filter_actions(self):
        """No content_filter: a FILTER action of check_recipient_access
        or of header_checks sends that one message through the filter;
        other mail goes straight to the mailbox."""
        i, fport, rport = filter_instance(self)
        acc = os.path.join(i.conf, "access")
        target = "scan:[%s]:%d" % (FILTER_HOST, fport)
        i.postmap(acc, "%s FILTER %s\n" % (i.addr("bob"), target))
        hc = os.path.join(i.conf, "header_checks")
        with open(hc, "w") as f:
            f.write("/^Subject: please scan/ FILTER %s\n" % target)
        i.set_main(smtpd_recipient_restrictions="check_recipient_access "
                   "hash:%s, permit_mynetworks, reject_unauth_destination"
                   % acc, header_checks="regexp:" + hc,
                   mime_header_checks="", nested_header_checks="")
        flt = start_filter(self, fport, rport)
        i.start()
        a, b, c = i.addr("alice"), i.addr("bob"), i.addr("carol")
        i.send("s@ext.test", [a], message("s@ext.test", a, "plain"))
        i.send("s@ext.test", [b], message("s@ext.test", b, "for bob"))
        i.send("s@ext.test", [c], message("s@ext.test", c, "please scan"))
        for u in ("alice", "bob", "carol"):
            i.wait_maildir(u, 1)
        i.wait_queue_empty()
        self.assertNotIn(b"X-Content-Filter", i.maildir_messages("alice")[0])
        self.assertIn(b"X-Content-Filter", i.maildir_messages("bob")[0])
        self.assertIn(b"X-Content-Filter", i.maildir_messages("carol")[0])
        self.assertEqual(sorted(r for s in flt.done() for r in s[2]),
                         sorted([b, c]))
        self.assertRegex(i.log(), r"filter: RCPT from .*<%s>: Recipient "
                         r"address triggers FILTER %s" % (re.escape(b),
                                                          re.escape(target)))
        self.assertRegex(i.log(), r"filter: header Subject: please scan")
        i.check_sanitizer()

    def test_filter_down_mail_waits(self):
        """The filter is not running: the message is deferred, never
        delivered unfiltered; once the filter runs, a flush delivers
        it."""
        i, fport, rport = filter_instance(self)
        i.set_main(content_filter="scan:[%s]:%d" % (FILTER_HOST, fport))
        i.start()
        a = i.addr("alice")
        i.send("s@ext.test", [a], message("s@ext.test", a, "later"))
        i.wait_log(r"to=<%s>, relay=none, .*status=deferred \(connect to "
                   r"%s\[%s\]:%d: Connection refused\)"
                   % (re.escape(a), re.escape(FILTER_HOST),
                      re.escape(FILTER_HOST), fport))
        self.assertEqual(i.maildir_files("alice"), [])
        start_filter(self, fport, rport)
        i.postino("flush")
        msgs = i.wait_maildir("alice", 1)
        self.assertIn(b"X-Content-Filter", msgs[0])
        i.wait_queue_empty()
        i.check_sanitizer()


@unittest.skipUnless(IS_ROOT, "needs root")
class XforwardServer(unittest.TestCase):

    def test_xforward_commands(self):
        """XFORWARD on the re-injection listener: offered and accepted
        from 127.0.0.0/8 only, outside a transaction only, bad
        attributes refused; no_unknown_recipient_checks there, while
        the public listener refuses an unknown recipient."""
        i, _fport, rport = filter_instance(
            self, {"smtpd_authorized_xforward_hosts": "127.0.0.1"})
        i.start()
        poll_until("the re-injection listener", lambda: _connects(rport))
        # Public listener: not offered to 127.0.0.9, refused.
        with i.smtp(source=CLIENT) as s:
            code, text = s.ehlo("c.test")
            self.assertNotIn(b"XFORWARD", text)
            code, text = s.docmd("XFORWARD", "NAME=x.test")
            self.assertEqual((code, text),
                             (550, b"5.7.0 Error: insufficient authorization"))
        with i.smtp() as s:
            s.ehlo("c.test")
            s.mail("s@ext.test")
            code, text = s.rcpt("nosuchuser@" + DOMAIN)
            self.assertEqual(code, 550, text)
        with smtplib.SMTP(FILTER_HOST, rport, timeout=30) as s:
            code, text = s.ehlo("filter.test")
            self.assertIn(b"XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT",
                          text)
            code, text = s.docmd("XFORWARD", "COLOR=blue")
            self.assertEqual(code, 501, text)
            self.assertIn(b"Bad XFORWARD attribute name", text)
            code, text = s.docmd("XFORWARD", "ADDR=not-an-address")
            self.assertEqual(code, 501, text)
            code, text = s.docmd("XFORWARD",
                                 "NAME=host.ext.test ADDR=192.0.2.7 "
                                 "PORT=4711 PROTO=ESMTP HELO=helo.ext.test "
                                 "IDENT=ABC123 SOURCE=REMOTE")
            self.assertEqual(code, 250, text)
            s.mail("s@ext.test")
            code, text = s.docmd("XFORWARD", "NAME=late.test")
            self.assertEqual(code, 503, text)
            # no_unknown_recipient_checks
            code, text = s.rcpt("nosuchuser@" + DOMAIN)
            self.assertEqual(code, 250, text)
            s.rset()
        i.wait_log(r"disconnect from \S+\[127\.0\.0\.1\] ehlo=1 "
                   r"xforward=1/4 mail=1 rcpt=1 rset=1 quit=1")
        i.check_sanitizer()


def _connects(port):
    import socket
    try:
        socket.create_connection((FILTER_HOST, port), timeout=2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()

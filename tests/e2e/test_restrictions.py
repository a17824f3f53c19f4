#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_restrictions - the SMTP server's restriction lists and access(5)
actions, through real instances and real clients.

- "postino check" and "postino start" refuse a restriction list with an
  unknown restriction (naming main.cf and the line), a check_*_access
  without a table, a table that does not open, an access table with a
  FILTER action that names no transport:destination or an unknown
  action, and a bad
  restriction in a master.cf -o override, a check_policy_service with a
  malformed server name.
- The list from issue 8 (smtpd_helo_restrictions = permit_mynetworks,
  reject_unknown_helo_hostname) passes check, starts, answers 450 4.7.1
  "Host not found" to an unknown HELO name from outside mynetworks, and
  the port keeps serving.
- An unknown restriction that reaches a running smtpd (main.cf changed
  behind postino's back, then a SIGHUP to the master) gives
  "451 4.3.5 Server configuration error" and the server keeps serving.
- Access actions: BCC adds a recipient, REDIRECT replaces them, HANGUP
  closes the connection without a reply (and logs "hangup:"), FILTER
  routes the message to its content filter (test_content_filter has the
  delivery), an unknown action answers 451 4.3.5 (never a silent
  DUNNO), DISCARD
  drops, reject_multi_recipient_bounce, reject_plaintext_session.
"""
import os
import re
import signal
import unittest

from directories import Slapd
from instance import DOMAIN, Instance, message, program, run


def main_line(inst, name):
    """The line of main.cf that sets name."""
    with open(os.path.join(inst.conf, "main.cf")) as f:
        for n, line in enumerate(f, 1):
            if line.startswith(name + " ="):
                return n
    raise AssertionError("%s not in main.cf" % name)


class Check(unittest.TestCase):
    """postino check / start refuse what smtpd could not run."""

    def refused(self, inst, *patterns):
        rc, out = inst.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        for p in patterns:
            self.assertRegex(out, p)
        rc, out2 = inst.postino("start", check=False)
        self.assertNotEqual(rc, 0, out2)
        self.assertFalse(inst.master_pid(), "the master runs anyway")
        return out

    def test_unknown_restriction(self):
        i = Instance(self, main={
            "smtpd_helo_restrictions":
            "permit_mynetworks, reject_unknown_helo_hostnam"})
        line = main_line(i, "smtpd_helo_restrictions")
        self.refused(i, r"main\.cf, line %d: smtpd_helo_restrictions: "
                     r"unknown smtpd restriction "
                     r"\"reject_unknown_helo_hostnam\"" % line)

    def test_bad_arguments(self):
        i = Instance(self, main={
            "smtpd_client_restrictions": "check_client_access",
            "smtpd_sender_restrictions":
            "check_sender_access hash:{dir}/no-such-table",
            "smtpd_recipient_restrictions":
            "check_policy_service inet:127.0.0.1, reject_unauth_destination",
            "smtpd_relay_restrictions": "check_ccert_access { inline:{x=OK},"
            " { search_order = pubkey_fingerprint, serial } }, "
            "reject_unauth_destination",
            "smtpd_restriction_classes": "strict",
            "strict": "reject_bogus"})
        self.refused(
            i,
            r"line %d: smtpd_relay_restrictions: restriction "
            r"\"check_ccert_access\": bad search_order \"serial\""
            % main_line(i, "smtpd_relay_restrictions"),
            r"line %d: smtpd_client_restrictions: restriction "
            r"\"check_client_access\" needs a type:table argument"
            % main_line(i, "smtpd_client_restrictions"),
            r"line %d: smtpd_sender_restrictions: check_sender_access "
            r"hash:.*no-such-table" % main_line(i, "smtpd_sender_restrictions"),
            r"line %d: smtpd_recipient_restrictions: check_policy_service: "
            r"bad server name \"inet:127\.0\.0\.1\""
            % main_line(i, "smtpd_recipient_restrictions"),
            r"line %d: strict: unknown smtpd restriction \"reject_bogus\""
            % main_line(i, "strict"))

    def test_filter_action(self):
        i = Instance(self)
        table = os.path.join(i.dir, "access")
        with open(table, "w") as f:
            f.write("spam@ext.test FILTER smtp:[127.0.0.1]:10025\n"
                    "nodest@ext.test FILTER smtp\n"
                    "odd@ext.test FROBNICATE\n")
        i.set_main(smtpd_sender_restrictions="check_sender_access texthash:"
                   + table)
        out = self.refused(i, r"\"nodest@ext\.test\": FILTER needs "
                           r"transport:destination",
                           r"\"odd@ext\.test\": unknown action or "
                           r"restriction \"FROBNICATE\"")
        self.assertNotIn("spam@ext.test", out)

    def test_master_override(self):
        i = Instance(self, smtpd_args=" -o smtpd_client_restrictions="
                     "permit_mynetworks,reject_unknown_clien")
        self.refused(i, r"master\.cf, line 1: service \"127\.0\.0\.1:\d+\": "
                     r"-o smtpd_client_restrictions: unknown smtpd restriction "
                     r"\"reject_unknown_clien\"")

    def test_every_restriction_passes(self):
        """The names of Postfix 3.7 pass check (a mis-spelt one fails)."""
        names = (
            "check_client_access hash:{t}, check_client_a_access hash:{t}, "
            "check_client_mx_access hash:{t}, check_client_ns_access hash:{t},"
            " check_reverse_client_hostname_access hash:{t}, "
            "check_reverse_client_hostname_a_access hash:{t}, "
            "check_reverse_client_hostname_mx_access hash:{t}, "
            "check_reverse_client_hostname_ns_access hash:{t}, "
            "check_ccert_access hash:{t}, check_sasl_access hash:{t}, "
            "permit_inet_interfaces, permit_mynetworks, "
            "permit_sasl_authenticated, permit_tls_all_clientcerts, "
            "permit_tls_clientcerts, reject_rbl_client rbl.invalid, "
            "reject_rhsbl_client rbl.invalid, reject_rhsbl_reverse_client "
            "rbl.invalid, permit_dnswl_client wl.invalid, permit_rhswl_client "
            "wl.invalid, reject_unknown_client_hostname, "
            "reject_unknown_reverse_client_hostname, reject_unknown_client, "
            "check_helo_access hash:{t}, check_helo_a_access hash:{t}, "
            "check_helo_mx_access hash:{t}, check_helo_ns_access hash:{t}, "
            "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, "
            "reject_rhsbl_helo rbl.invalid, reject_unknown_helo_hostname, "
            "reject_invalid_hostname, reject_non_fqdn_hostname, "
            "reject_unknown_hostname, check_sender_access hash:{t}, "
            "check_sender_a_access hash:{t}, check_sender_mx_access hash:{t}, "
            "check_sender_ns_access hash:{t}, "
            "reject_authenticated_sender_login_mismatch, "
            "reject_known_sender_login_mismatch, reject_non_fqdn_sender, "
            "reject_rhsbl_sender rbl.invalid, reject_sender_login_mismatch, "
            "reject_unauthenticated_sender_login_mismatch, "
            "reject_unknown_sender_domain, reject_unlisted_sender, "
            "check_recipient_access hash:{t}, check_recipient_a_access "
            "hash:{t}, check_recipient_mx_access hash:{t}, "
            "check_recipient_ns_access hash:{t}, permit_auth_destination, "
            "permit_mx_backup, reject_non_fqdn_recipient, "
            "reject_rhsbl_recipient rbl.invalid, reject_unauth_destination, "
            "defer_unauth_destination, reject_unknown_recipient_domain, "
            "reject_unlisted_recipient, reject_unverified_sender, "
            "reject_unverified_recipient, check_etrn_access hash:{t}, "
            "reject_unauth_pipelining, reject_multi_recipient_bounce, "
            "reject_plaintext_session, warn_if_reject, defer_if_reject, "
            "defer_if_permit, sleep 1, reject_maps_rbl, reject_rbl "
            "rbl.invalid, check_relay_domains, permit_naked_ip_address, "
            "check_recipient_maps, permit, reject, defer")
        i = Instance(self)
        table = os.path.join(i.dir, "access")
        with open(table, "w") as f:
            f.write("x@ext.test OK\n")
        r = run([program("postmap"), "hash:" + table])
        self.assertEqual(r.rc, 0, r)
        i.set_main(smtpd_etrn_restrictions=names.format(t=table),
                   smtpd_restriction_classes="everything",
                   everything=names.format(t=table))
        rc, out = i.postino("check", check=False)
        self.assertEqual(rc, 0, out)
        self.assertNotRegex(out, r"error:")
        i.set_main(smtpd_etrn_restrictions=names.format(t=table)
                   + ", reject_unknown_helo_hostnamee")
        rc, out = i.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)


class Running(unittest.TestCase):

    def test_issue_list_serves(self):
        """Issue 8's list: check passes, the port keeps serving."""
        i = Instance(self, users=["alice"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_helo_restrictions":
            "permit_mynetworks, reject_unknown_helo_hostname"})
        i.start()
        for _ in range(2):
            c = i.raw(source="127.0.0.2")
            self.assertTrue(c.reply().startswith("220"))
            self.assertTrue(c.cmd("EHLO host.nonexistent.invalid")
                            .startswith("250"))
            self.assertTrue(c.cmd("MAIL FROM:<s@ext.test>").startswith("250"))
            r = c.cmd("RCPT TO:<%s>" % i.addr("alice"))
            self.assertEqual(r, "450 4.7.1 <host.nonexistent.invalid>: Helo "
                             "command rejected: Host not found")
            c.cmd("QUIT")
            c.close()
        # An address literal needs no DNS; mynetworks is permitted.
        i.send("s@ext.test", i.addr("alice"),
               message("s@ext.test", i.addr("alice"), "inside"))
        i.wait_maildir("alice", 1)
        rc, out = i.postino("status", check=False)
        self.assertEqual(rc, 0, out)
        self.assertTrue(i.listening())

    def test_runtime_unknown_restriction(self):
        """smtpd never dies on an unknown restriction: 451 4.3.5."""
        i = Instance(self, users=["alice"])
        i.start()
        i.set_main(smtpd_client_restrictions="permit_mynetworks, "
                   "reject_no_such_thing")
        os.kill(i.master_pid(), signal.SIGHUP)
        i.wait_log(r"smtpd_client_restrictions: unknown smtpd restriction: "
                   r"\"reject_no_such_thing\"")
        for _ in range(3):
            with i.smtp(source="127.0.0.1") as s:
                s.ehlo("client.example.test")
                s.mail("s@ext.test")
                code, text = s.rcpt(i.addr("alice"))
                self.assertEqual((code, text),
                                 (451, b"4.3.5 Server configuration error"))
        rc, out = i.postino("status", check=False)
        self.assertEqual(rc, 0, out)


class NoDelayReject(unittest.TestCase):
    """smtpd_delay_reject = no: the client list runs at connect time."""

    def test_client_refused_at_connect(self):
        i = Instance(self, users=["alice", "bob"], main={
            "mynetworks": "127.0.0.1/32",
            "smtpd_delay_reject": "no",
            "smtpd_client_restrictions": "check_client_access "
            "inline:{{127.0.0.3=REJECT go away}}",
            "smtpd_helo_restrictions": "check_helo_access "
            "inline:{{bcc.example.test=BCC %s}}" % "{bob}"})
        i.main["smtpd_helo_restrictions"] = i.main[
            "smtpd_helo_restrictions"].replace("{bob}", i.addr("bob"))
        i.write_conf()
        i.start()
        c = i.raw(source="127.0.0.3")
        self.assertEqual(c.reply(), "554 5.7.1 <unknown[127.0.0.3]>: Client "
                         "host rejected: go away")
        self.assertEqual(c.cmd("EHLO client.example.test"),
                         "503 5.7.0 Error: access denied for "
                         "unknown[127.0.0.3]")
        self.assertEqual(c.cmd("MAIL FROM:<s@ext.test>"),
                         "503 5.7.0 Error: access denied for "
                         "unknown[127.0.0.3]")
        self.assertTrue(c.cmd("QUIT").startswith("221"))
        c.close()
        i.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.3\]: "
                   r"554 5\.7\.1 <unknown\[127\.0\.0\.3\]>: Client host "
                   r"rejected: go away")
        # Another client is served; a HELO-time BCC reaches its message.
        with i.smtp(source="127.0.0.2") as s:
            s.ehlo("bcc.example.test")
            s.sendmail("s@ext.test", [i.addr("alice")], message(
                "s@ext.test", i.addr("alice"), "helo bcc").replace(
                    "\n", "\r\n"))
        i.wait_maildir("alice", 1)
        self.assertIn(b"helo bcc", i.wait_maildir("bob", 1)[0])


class Tasks(unittest.TestCase):
    """Checks run inside tasks (core/smtpd/smtpd_proto.c, smtpd_task):
    with an ldap: table in a list, the connect-time and end-of-data
    checks, HANGUP and the actions work there too."""

    def test_task_checks(self):
        slapd = Slapd(self, "dn: ou=people,dc=example,dc=com\n"
                      "objectClass: organizationalUnit\nou: people\n")
        i = Instance(self, users=["alice", "bob"], main={
            "mynetworks": "127.0.0.1/32", "smtpd_delay_reject": "no"})
        cf = os.path.join(i.conf, "ldap-access.cf")
        with open(cf, "w") as f:
            f.write("server_host = ldap://127.0.0.1:%d\n"
                    "search_base = ou=people,dc=example,dc=com\n"
                    "query_filter = (mail=%%s)\nresult_attribute = uid\n"
                    "version = 3\nbind = no\ntimeout = 5\n" % slapd.port)
        i.set_main(
            smtpd_client_restrictions="check_client_access "
            "inline:{{127.0.0.3=REJECT go away}}",
            smtpd_sender_restrictions="check_sender_access ldap:%s, "
            "check_sender_access inline:{{bcc@ext.test=BCC %s}, "
            "{hangup@ext.test=HANGUP}}" % (cf, i.addr("bob")),
            smtpd_end_of_data_restrictions="check_client_access "
            "inline:{{127.0.0.6=REJECT no eod}}")
        i.start()
        c = i.raw(source="127.0.0.3")
        self.assertEqual(c.reply(), "554 5.7.1 <unknown[127.0.0.3]>: Client "
                         "host rejected: go away")
        self.assertTrue(c.cmd("HELO x.test").startswith("503 5.7.0"))
        c.close()
        c = i.raw(source="127.0.0.2")
        self.assertTrue(c.reply().startswith("220"))
        c.cmd("EHLO client.example.test")
        c.cmd("MAIL FROM:<hangup@ext.test>")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % i.addr("alice")), "")
        c.close()
        with i.smtp(source="127.0.0.6") as s:
            s.ehlo("client.example.test")
            s.mail("s@ext.test")
            s.rcpt(i.addr("alice"))
            self.assertEqual(s.data(message("s@ext.test", i.addr("alice"),
                                            "x").replace("\n", "\r\n")),
                             (554, b"5.7.1 <unknown[127.0.0.6]>: Client host "
                              b"rejected: no eod"))
        with i.smtp(source="127.0.0.2") as s:
            s.ehlo("client.example.test")
            s.sendmail("bcc@ext.test", [i.addr("alice")], message(
                "bcc@ext.test", i.addr("alice"), "async bcc").replace(
                    "\n", "\r\n"))
        self.assertIn(b"async bcc", i.wait_maildir("alice", 1)[0])
        self.assertIn(b"async bcc", i.wait_maildir("bob", 1)[0])


class Actions(unittest.TestCase):

    def setUp(self):
        self.i = i = Instance(self, users=["alice", "bob", "carol"], main={
            "mynetworks": "127.0.0.1/32"})
        sender_table = os.path.join(i.dir, "sender_access")
        with open(sender_table, "w") as f:
            f.write("bcc@ext.test BCC %s\n" % i.addr("bob")
                    + "redirect@ext.test REDIRECT %s\n" % i.addr("carol")
                    + "hangup@ext.test HANGUP closing now\n"
                    + "discard@ext.test DISCARD\n")
        client_table = os.path.join(i.dir, "client_access.cidr")
        with open(client_table, "w") as f:
            f.write("127.0.0.3/32 FILTER smtp:[127.0.0.1]:10025\n"
                    "127.0.0.4/32 FROBNICATE\n")
        i.set_main(
            smtpd_sender_restrictions="check_sender_access texthash:"
            + sender_table,
            smtpd_client_restrictions="check_client_access cidr:"
            + client_table,
            smtpd_recipient_restrictions="reject_multi_recipient_bounce",
            smtpd_data_restrictions="check_client_access "
            "inline:{127.0.0.5=reject_plaintext_session}",
            smtpd_end_of_data_restrictions="check_client_access "
            "inline:{{127.0.0.6=REJECT no eod for you}, "
            "{127.0.0.7=HANGUP}}")
        i.start()

    def test_bcc(self):
        i = self.i
        i.send("bcc@ext.test", i.addr("alice"),
               message("bcc@ext.test", i.addr("alice"), "with bcc"))
        a = i.wait_maildir("alice", 1)
        b = i.wait_maildir("bob", 1)
        self.assertIn(b"with bcc", a[0])
        self.assertIn(b"with bcc", b[0])
        i.wait_log(r"bcc: RCPT from .*<bcc@ext\.test>: Sender address "
                   r"triggers BCC %s" % re.escape(i.addr("bob")))

    def test_redirect(self):
        i = self.i
        i.send("redirect@ext.test", i.addr("alice"),
               message("redirect@ext.test", i.addr("alice"), "redirected"))
        c = i.wait_maildir("carol", 1)
        self.assertIn(b"redirected", c[0])
        # Control: a plain message to alice arrives after the redirected
        # one was delivered, and alice never got the redirected one.
        i.send("plain@ext.test", i.addr("alice"),
               message("plain@ext.test", i.addr("alice"), "plain"))
        a = i.wait_maildir("alice", 1)
        self.assertEqual(len(a), 1)
        self.assertIn(b"plain", a[0])

    def test_hangup(self):
        i = self.i
        c = i.raw()
        self.assertTrue(c.reply().startswith("220"))
        c.cmd("EHLO client.example.test")
        c.cmd("MAIL FROM:<hangup@ext.test>")
        c.send("RCPT TO:<%s>\r\n" % i.addr("alice"))
        # No reply at all: the connection is closed.
        self.assertEqual(c.reply(), "")
        c.close()
        i.wait_log(r"hangup: RCPT from .*<hangup@ext\.test>: Sender address "
                   r"closing now")
        # The server keeps serving.
        i.send("s@ext.test", i.addr("alice"),
               message("s@ext.test", i.addr("alice"), "after hangup"))
        i.wait_maildir("alice", 1)

    def test_filter_and_unknown_action(self):
        i = self.i
        # FILTER: accepted, logged, and the queue file names the filter
        # (this instance has no smtp agent: the message waits in the
        # queue, deferred, and is not delivered to alice).
        with i.smtp(source="127.0.0.3") as s:
            s.ehlo("client.example.test")
            s.mail("s@ext.test")
            self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
            self.assertEqual(s.data(message("s@ext.test", i.addr("alice"),
                                            "to the filter"))[0], 250)
        i.wait_log(r"filter: RCPT from unknown\[127\.0\.0\.3\]: "
                   r"<unknown\[127\.0\.0\.3\]>: Client host triggers "
                   r"FILTER smtp:\[127\.0\.0\.1\]:10025")
        i.wait_log(r"to=<%s>, relay=none, .*status=deferred \(mail "
                   r"transport unavailable: no delivery agent for transport "
                   r"smtp\)" % re.escape(i.addr("alice")))
        with i.smtp(source="127.0.0.4") as s:
            s.ehlo("client.example.test")
            s.mail("s@ext.test")
            code, text = s.rcpt(i.addr("alice"))
            self.assertEqual((code, text), (
                451, b"4.3.5 Server configuration error"))
        i.wait_log(r"unknown smtpd restriction: \"FROBNICATE\"")
        self.assertEqual(i.maildir_files("alice"), [])

    def test_end_of_data(self):
        """smtpd_end_of_data_restrictions refuse after the final dot."""
        i = self.i
        with i.smtp(source="127.0.0.6") as s:
            s.ehlo("client.example.test")
            s.mail("s@ext.test")
            self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
            code, text = s.data(message("s@ext.test", i.addr("alice"),
                                        "eod").replace("\n", "\r\n"))
            self.assertEqual((code, text), (
                554, b"5.7.1 <unknown[127.0.0.6]>: Client host rejected: "
                b"no eod for you"))
            # The session goes on: the next transaction is checked again.
            self.assertEqual(s.rset()[0], 250)
        i.wait_log(r"reject: END-OF-MESSAGE from unknown\[127\.0\.0\.6\]: "
                   r"554 5\.7\.1 <unknown\[127\.0\.0\.6\]>: Client host "
                   r"rejected: no eod for you")
        c = i.raw(source="127.0.0.7")
        c.reply()
        c.cmd("EHLO client.example.test")
        c.cmd("MAIL FROM:<s@ext.test>")
        c.cmd("RCPT TO:<%s>" % i.addr("alice"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
        self.assertEqual(c.reply(), "")
        c.close()
        i.wait_log(r"hangup: END-OF-MESSAGE from unknown\[127\.0\.0\.7\]")
        self.assertEqual(i.queue_files(), [])
        self.assertEqual(i.maildir_files("alice"), [])

    def test_discard_multi_bounce_plaintext(self):
        i = self.i
        i.send("discard@ext.test", i.addr("alice"),
               message("discard@ext.test", i.addr("alice"), "dropped"))
        i.wait_log(r"discard: RCPT from .*<discard@ext\.test>")
        with i.smtp() as s:
            s.ehlo("client.example.test")
            s.mail("<>")
            self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
            code, text = s.rcpt(i.addr("bob"))
            self.assertEqual((code, text), (
                550, b"5.5.3 <>: Sender address rejected: Multi-recipient "
                b"bounce"))
        with i.smtp(source="127.0.0.5") as s:
            s.ehlo("client.example.test")
            s.mail("s@ext.test")
            self.assertEqual(s.rcpt(i.addr("alice"))[0], 250)
            code, text = s.docmd("DATA")
            self.assertEqual((code, text), (
                450, b"4.7.1 Session encryption is required"))
        self.assertEqual(i.maildir_files("alice"), [])
        self.assertEqual(DOMAIN, i.addr("alice").split("@")[1])


if __name__ == "__main__":
    unittest.main()

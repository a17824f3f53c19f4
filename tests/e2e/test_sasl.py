#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SMTP AUTH in smtpd against a real Dovecot auth server
(smtpd_sasl_type = dovecot): PLAIN and LOGIN with smtplib and swaks,
failed logins (535, the warning fail2ban reads, smtpd_hard_error_limit),
permit_sasl_authenticated for relaying, the sender login mismatch
restrictions, smtpd_tls_auth_only, and the submission / submissions
services of Postfix's sample master.cf with their -o overrides."""
import base64
import os
import shutil
import smtplib
import socket
import subprocess
import threading
import unittest

from instance import (DOMAIN, Instance, WAIT, free_port, message,
                      poll_until, start_dovecot)
from test_tls_server import client_context, make_cert

SWAKS = shutil.which("swaks")
PASSWORD = "s3cret-pw"


class Sasl(unittest.TestCase):

    def instance(self, main=None, master_extra="", tls=False,
                 absolute=False, inet=False):
        """An instance with Dovecot's auth socket at private/auth (or, with
        absolute, at an absolute path outside the queue; with inet, on a
        loopback TCP port)."""
        i = Instance(self, users=("alice", "bob"), master_extra=master_extra)
        conf = {"smtpd_sasl_auth_enable": "yes",
                "smtpd_sasl_type": "dovecot",
                "smtpd_sasl_path": "private/auth",
                # 127.0.0.1 is not a trusted network here: only a login
                # lets a client relay.
                "mynetworks": "192.0.2.0/24",
                "smtpd_relay_restrictions":
                    "permit_mynetworks, permit_sasl_authenticated, "
                    "reject_unauth_destination"}
        if tls:
            conf["smtpd_tls_chain_files"] = make_cert(i.conf, "rsa", "rsa")
        conf.update(main(i) if callable(main) else (main or {}))
        sock = os.path.join(i.queue, "private", "auth")
        if absolute:
            sock = os.path.join(i.dir, "auth-socket")
            conf["smtpd_sasl_path"] = sock
        listener = ("  unix_listener %s {\n    mode = 0666\n  }\n" % sock)
        if inet:
            port = free_port()
            conf["smtpd_sasl_path"] = "inet:127.0.0.1:%d" % port
            listener = ("  inet_listener {\n    address = 127.0.0.1\n"
                        "    port = %d\n  }\n" % port)
        i.set_main(**conf)
        i.start()
        # Dovecot's auth socket where smtpd_sasl_path says: the queue's
        # private/ directory exists once postino runs.
        d = os.path.join(i.dir, "dovecot")
        nobody = 65534
        start_dovecot(self, d, [(i.user(u), PASSWORD, nobody, nobody,
                                 "/nonexistent") for u in ("alice", "bob")],
                      "maildir:~/Maildir",
                      extra="service auth {\n%s}\n" % listener)
        if inet:
            poll_until("the auth port", lambda: socket.socket()
                       .connect_ex(("127.0.0.1", port)) == 0)
        else:
            poll_until("the auth socket", lambda: os.path.exists(sock))
        return i

    def test_plain_and_login(self):
        i = self.instance(main={"smtpd_sasl_authenticated_header": "yes"})
        ext = "someone@ext.test"
        # Without a login: no relaying.
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertTrue(c.has_extn("auth"))
        self.assertEqual(sorted(c.esmtp_features["auth"].split()),
                         ["LOGIN", "PLAIN"])
        c.mail(i.addr("alice"))
        code, text = c.rcpt(ext)
        self.assertEqual(code, 554, text)
        c.rset()
        # AUTH PLAIN with an initial response.
        code, text = c.login(i.user("alice"), PASSWORD)
        self.assertEqual((code, text), (235, b"2.7.0 Authentication "
                                             b"successful"))
        code, text = c.docmd("AUTH", "PLAIN")
        self.assertEqual(code, 503)
        self.assertIn(b"already authenticated", text)
        c.mail(i.addr("alice"))
        code, text = c.rcpt(ext)
        self.assertEqual(code, 250, text)
        c.rset()
        self.assertEqual(c.sendmail(i.addr("alice"), [i.addr("bob")],
                                    message(i.addr("alice"), i.addr("bob"),
                                            "plain")), {})
        c.quit()
        i.wait_maildir("bob", 1)
        text = i.maildir_messages("bob")[0].decode()
        self.assertRegex(text, r"Received: from client\.example\.test "
                         r"\(unknown \[127\.0\.0\.1\]\)\n"
                         r"\t\(Authenticated sender: %s\)\n"
                         r"\tby mx\.example\.test \(\S+\) with ESMTPA id "
                         % i.user("alice"))
        i.wait_log(r": client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, "
                   r"sasl_username=%s$" % i.user("alice"))
        i.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 "
                   r"auth=1/2 mail=3 rcpt=2/3 data=1 rset=2 quit=1 "
                   r"commands=11/13")

        # AUTH LOGIN through its 334 challenges.
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.user, c.password = i.user("bob"), PASSWORD
        code, text = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        self.assertEqual(code, 235)
        self.assertEqual(c.sendmail(i.addr("bob"), [i.addr("alice")],
                                    message(i.addr("bob"), i.addr("alice"),
                                            "login")), {})
        c.quit()
        i.wait_maildir("alice", 1)
        i.wait_log(r": client=unknown\[127\.0\.0\.1\], sasl_method=LOGIN, "
                   r"sasl_username=%s$" % i.user("bob"))

    def test_xclient_login(self):
        """XCLIENT LOGIN= (smtpd_authorized_xclient_hosts): the session
        counts as logged in -- permit_sasl_authenticated relays, AUTH is
        refused, the log and Received: say so -- as after AUTH."""
        i = self.instance(main={"smtpd_authorized_xclient_hosts": "127.0.0.1"})
        ext = "someone@ext.test"
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("proxy.example.test")
        self.assertTrue(c.has_extn("xclient"))
        code, text = c.docmd("XCLIENT", "NAME=user.example.test "
                             "ADDR=198.51.100.9 LOGIN=" + i.user("alice"))
        self.assertEqual(code, 220, text)
        c.ehlo("client.example.test")
        code, text = c.docmd("AUTH", "PLAIN")
        self.assertEqual(code, 503, text)
        self.assertIn(b"already authenticated", text)
        c.mail(i.addr("alice"))
        code, text = c.rcpt(ext)
        self.assertEqual(code, 250, text)
        c.rset()
        self.assertEqual(c.sendmail(i.addr("alice"), [i.addr("bob")],
                                    message(i.addr("alice"), i.addr("bob"),
                                            "xclient")), {})
        c.quit()
        i.wait_log(r": client=user\.example\.test\[198\.51\.100\.9\], "
                   r"sasl_method=XCLIENT, sasl_username=%s$" % i.user("alice"))
        i.wait_maildir("bob", 1)
        self.assertRegex(i.maildir_messages("bob")[0].decode(),
                         r"Received: from client\.example\.test "
                         r"\(user\.example\.test \[198\.51\.100\.9\]\)\n"
                         r"\tby mx\.example\.test \(\S+\) with ESMTPA id ")
        # Without LOGIN the impersonated client is not logged in.
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("proxy.example.test")
        code, text = c.docmd("XCLIENT", "ADDR=198.51.100.9")
        self.assertEqual(code, 220, text)
        c.ehlo("client.example.test")
        c.mail(i.addr("alice"))
        code, text = c.rcpt(ext)
        self.assertEqual(code, 554, text)
        c.quit()
        i.check_sanitizer()

    def test_failures(self):
        i = self.instance(main={"smtpd_hard_error_limit": "3",
                                "smtpd_soft_error_limit": "2",
                                "smtpd_error_sleep_time": "1s"},
                          absolute=True)
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + i.user("alice").encode() + b"\0wrong").decode())
        self.assertEqual(code, 535)
        self.assertTrue(text.startswith(b"5.7.8 Error: authentication "
                                        b"failed:"), text)
        i.wait_log(r"warning: unknown\[127\.0\.0\.1\]: SASL PLAIN "
                   r"authentication failed: ")
        # Cancelled with "*".
        code, text = c.docmd("AUTH", "LOGIN")
        self.assertEqual(code, 334)
        self.assertEqual(base64.b64decode(text), b"Username:")
        code, text = c.docmd("*")
        self.assertEqual((code, text), (501, b"5.7.0 Authentication aborted"))
        # The third error ends the session.
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + i.user("alice").encode() + b"\0guess").decode())
        self.assertEqual(code, 535)
        try:
            code, text = c.getreply()
        except smtplib.SMTPServerDisconnected:
            code, text = 421, b"closed"
        self.assertEqual(code, 421, text)
        i.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 "
                   r"auth=0/3 commands=1/4")
        # A mechanism Dovecot does not offer.
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        code, text = c.docmd("AUTH", "CRAM-MD5")
        self.assertEqual(code, 535)
        c.close()

    @unittest.skipUnless(SWAKS, "swaks is not installed")
    def test_swaks(self):
        i = self.instance(inet=True)
        for mech in ("PLAIN", "LOGIN"):
            r = subprocess.run([SWAKS, "--server", "127.0.0.1", "--port",
                                str(i.port), "--from", i.addr("alice"),
                                "--to", "friend@ext.test", "--auth", mech,
                                "--auth-user", i.user("alice"), "--auth-password",
                                PASSWORD, "--quit-after", "RCPT"],
                               capture_output=True, text=True, timeout=WAIT)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("235 2.7.0 Authentication successful", r.stdout)
        r = subprocess.run([SWAKS, "--server", "127.0.0.1", "--port",
                            str(i.port), "--from", i.addr("alice"),
                            "--to", "friend@ext.test", "--auth", "LOGIN",
                            "--auth-user", i.user("alice"), "--auth-password",
                            "nope", "--quit-after", "RCPT"],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("535 5.7.8 Error: authentication failed", r.stdout)
        i.wait_log(r"warning: unknown\[127\.0\.0\.1\]: SASL LOGIN "
                   r"authentication failed: .*sasl_username=%s" % i.user("alice"))

    def test_sender_login_mismatch(self):
        i = self.instance(main=lambda i: {
            "smtpd_sender_login_maps": self.login_maps(i),
            "smtpd_sender_restrictions": "reject_sender_login_mismatch"})
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        # Not logged in: an owned address is refused, another one not.
        c.mail(i.addr("alice"))
        code, text = c.rcpt(i.addr("bob"))
        self.assertEqual(code, 553, text)
        self.assertIn(b"not logged in", text)
        c.rset()
        c.mail("stranger@ext.test")
        self.assertEqual(c.rcpt(i.addr("bob"))[0], 250)
        c.rset()
        c.login(i.user("alice"), PASSWORD)
        for sender, want in ((i.addr("alice"), 250), ("shared@" + DOMAIN, 250),
                             (i.addr("bob"), 553), ("stranger@ext.test", 553)):
            c.mail(sender)
            code, text = c.rcpt(i.addr("bob"))
            self.assertEqual(code, want, (sender, text))
            if want == 553:
                self.assertIn(("not owned by user %s" % i.user("alice"))
                              .encode(), text)
            c.rset()
        c.quit()

    def test_known_and_authenticated_variants(self):
        i = self.instance(main=lambda i: {
            "smtpd_sender_login_maps": self.login_maps(i),
            "smtpd_sender_restrictions":
                "reject_known_sender_login_mismatch"})
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.login(i.user("alice"), PASSWORD)
        for sender, want in ((i.addr("bob"), 553), ("stranger@ext.test", 250)):
            c.mail(sender)
            self.assertEqual(c.rcpt(i.addr("bob"))[0], want, sender)
            c.rset()
        c.quit()
        i.set_main(smtpd_sender_restrictions=
                   "reject_authenticated_sender_login_mismatch")
        i.postino("reload")
        poll_until("reloaded smtpd", lambda: self.unauth_owned(i))
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.login(i.user("alice"), PASSWORD)
        c.mail("stranger@ext.test")
        self.assertEqual(c.rcpt(i.addr("bob"))[0], 553)
        c.quit()

    def test_check_sasl_access(self):
        i = self.instance(main=lambda i: {
            "smtpd_recipient_restrictions":
                "check_sasl_access inline:{ {%s=REJECT locked account} }"
                % i.user("bob")})
        for who, want in (("alice", 250), ("bob", 554)):
            c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
            c.ehlo("client.example.test")
            c.login(i.user(who), PASSWORD)
            c.mail(i.addr(who))
            code, text = c.rcpt(i.addr("alice"))
            self.assertEqual(code, want, (who, text))
            if want == 554:
                self.assertIn(b"locked account", text)
            c.quit()

    @staticmethod
    def login_maps(i):
        """alice and bob own their addresses; shared@ has both."""
        return ("inline:{ %s=%s, %s=%s, {shared@%s=%s,%s} }"
                % (i.addr("alice"), i.user("alice"), i.addr("bob"),
                   i.user("bob"), DOMAIN, i.user("bob"), i.user("alice")))

    @staticmethod
    def unauth_owned(i):
        """Does an unauthenticated client get to use an owned address
        (reject_authenticated_sender_login_mismatch in force)?"""
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.mail(i.addr("bob"))
        code = c.rcpt(i.addr("bob"))[0]
        c.quit()
        return code == 250

    def test_tls_auth_only(self):
        i = self.instance(main={"smtpd_tls_security_level": "may",
                                "smtpd_tls_auth_only": "yes",
                                "smtpd_sasl_security_options":
                                    "noanonymous, noplaintext",
                                "smtpd_sasl_tls_security_options":
                                    "noanonymous"}, tls=True)
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("auth"))
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + i.user("alice").encode() + b"\0" + PASSWORD.encode()).decode())
        self.assertEqual(code, 503, text)
        c.starttls(context=client_context())
        c.ehlo("client.example.test")
        self.assertEqual(sorted(c.esmtp_features["auth"].split()),
                         ["LOGIN", "PLAIN"])
        self.assertEqual(c.login(i.user("alice"), PASSWORD)[0], 235)
        c.quit()

    def test_starttls_forgets_the_login(self):
        """RFC 3207: after STARTTLS the client starts over, logged out."""
        i = self.instance(main={"smtpd_tls_security_level": "may"}, tls=True)
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertEqual(c.login(i.user("alice"), PASSWORD)[0], 235)
        c.starttls(context=client_context())
        c.ehlo("client.example.test")
        c.mail(i.addr("alice"))
        self.assertEqual(c.rcpt("far@ext.test")[0], 554)
        c.rset()
        self.assertEqual(c.login(i.user("alice"), PASSWORD)[0], 235)
        c.mail(i.addr("alice"))
        self.assertEqual(c.rcpt("far@ext.test")[0], 250)
        c.quit()

    def test_noplaintext_without_tls(self):
        i = self.instance(main={"smtpd_tls_security_level": "may",
                                "smtpd_sasl_security_options":
                                    "noanonymous, noplaintext",
                                "smtpd_sasl_tls_security_options":
                                    "noanonymous",
                                "broken_sasl_auth_clients": "yes"}, tls=True)
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        code, text = c.ehlo("client.example.test")
        self.assertNotIn(b"AUTH PLAIN", text)
        code, text = c.docmd("AUTH", "PLAIN =")
        self.assertEqual(code, 535)
        c.starttls(context=client_context())
        code, text = c.ehlo("client.example.test")
        self.assertIn(b"\nAUTH PLAIN LOGIN\nAUTH=PLAIN LOGIN\n", text)
        c.quit()

    def test_mechanism_filter_and_exceptions(self):
        """smtpd_sasl_mechanism_filter keeps LOGIN only (offered and
        accepted); smtpd_sasl_exceptions_networks hides AUTH from the
        clients it lists."""
        i = self.instance(main={"smtpd_sasl_mechanism_filter": "login",
                                "smtpd_sasl_exceptions_networks":
                                    "127.0.0.2"})
        c = i.smtp()
        c.ehlo("client.example.test")
        self.assertEqual(c.esmtp_features["auth"].split(), ["LOGIN"])
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + i.user("alice").encode() + b"\0" + PASSWORD.encode())
            .decode())
        self.assertEqual(code, 535, text)
        c.user, c.password = i.user("alice"), PASSWORD
        code, text = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        self.assertEqual(code, 235, text)
        c.quit()
        c = i.smtp(source="127.0.0.2")
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("auth"))
        c.quit()

    def test_auth_rate_limit(self):
        """smtpd_client_auth_rate_limit counts every AUTH, good or bad,
        across sessions; the next one gets Postfix's 450."""
        i = self.instance(main={"smtpd_client_auth_rate_limit": "2",
                                "anvil_rate_time_unit": "3600s"})
        bad = "PLAIN " + base64.b64encode(
            b"\0" + i.user("alice").encode() + b"\0wrong").decode()
        c = i.smtp()
        c.ehlo("client.example.test")
        self.assertEqual(c.docmd("AUTH", bad)[0], 535)
        self.assertEqual(c.docmd("AUTH", bad)[0], 535)
        code, text = c.docmd("AUTH", bad)
        self.assertEqual((code, text), (450, b"4.7.1 Error: too many AUTH "
                                             b"commands from 127.0.0.1"))
        c.quit()
        # The right password does not help within the time unit.
        c = i.smtp()
        c.ehlo("client.example.test")
        c.user, c.password = i.user("alice"), PASSWORD
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            c.login(i.user("alice"), PASSWORD)
        self.assertEqual(e.exception.smtp_code, 450)
        c.quit()
        i.wait_log(r"warning: AUTH command rate limit exceeded: 3 from "
                   r"unknown\[127\.0\.0\.1\] for service \S+")
        # Another client address has its own count.
        c = i.smtp(source="127.0.0.2")
        c.ehlo("client.example.test")
        self.assertEqual(c.login(i.user("alice"), PASSWORD)[0], 235)
        c.quit()

    def test_policy_attributes(self):
        from test_policy import PolicyServer
        p = PolicyServer()
        self.addCleanup(p.close)
        i = self.instance(main={"smtpd_recipient_restrictions":
                                "check_policy_service " + p.name})
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.mail("anon@ext.test")
        self.assertEqual(c.rcpt(i.addr("bob"))[0], 250)
        c.rset()
        c.login(i.user("alice"), PASSWORD)
        c.mail(i.addr("alice"), ["AUTH=" + i.addr("alice")])
        self.assertEqual(c.rcpt(i.addr("bob"))[0], 250)
        c.quit()
        reqs = p.rcpt_requests()
        self.assertEqual([(r["sasl_method"], r["sasl_username"],
                           r["sasl_sender"]) for r in reqs],
                         [("", "", ""), ("PLAIN", i.user("alice"),
                                         i.addr("alice"))])

    def test_auth_server_down(self):
        """No Dovecot: EHLO offers no AUTH, AUTH gets a 454, mail from
        others goes on."""
        i = Instance(self, users=("bob",))
        i.set_main(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot",
                   smtpd_sasl_path=os.path.join(i.dir, "no-such-socket"))
        i.start()
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("auth"))
        code, text = c.docmd("AUTH", "PLAIN AGFAYg==")
        self.assertEqual(code, 454, text)
        self.assertEqual(c.sendmail("a@ext.test", [i.addr("bob")],
                                    message("a@ext.test", i.addr("bob"),
                                            "no auth")), {})
        c.quit()
        i.wait_maildir("bob", 1)
        i.wait_log(r"warning: SASL: connect to Dovecot auth socket")

    def test_stalled_auth_server_stalls_nobody_else(self):
        """An AUTH waiting for a silent auth server holds only its own
        session: smtpd's loop serves the others meanwhile."""
        i = Instance(self, users=("bob",))
        path = os.path.join(i.dir, "auth-socket")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chmod(path, 0o666)
        srv.listen(8)
        self.addCleanup(srv.close)
        release = threading.Event()
        self.addCleanup(release.set)

        def serve():
            conns = []
            srv.settimeout(0.2)
            for _ in range(int(WAIT / 0.2)):
                if release.is_set() or len(conns) >= 8:
                    break
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    continue
                except OSError:
                    break
                conns.append(conn)
                conn.sendall(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\n"
                             b"SPID\t1\nCUID\t1\nCOOKIE\tab\nDONE\n")
            release.wait(WAIT)
            for conn in conns:
                conn.close()
        th = threading.Thread(target=serve, daemon=True)
        th.start()
        i.set_main(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot",
                   smtpd_sasl_path=path)
        i.start()
        stuck = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        stuck.ehlo("stuck.example.test")
        self.assertTrue(stuck.has_extn("auth"))
        stuck.send(b"AUTH PLAIN AGFAYg==\r\n")
        # Same smtpd process (maxproc 1): another client gets its mail in.
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        self.assertEqual(c.sendmail("a@ext.test", [i.addr("bob")],
                                    message("a@ext.test", i.addr("bob"),
                                            "while AUTH waits")), {})
        c.quit()
        i.wait_maildir("bob", 1)
        # The auth server hangs up: the waiting AUTH gets a 454.
        release.set()
        code, text = stuck.getreply()
        self.assertEqual(code, 454, text)
        stuck.close()
        th.join(WAIT)

    def test_submission_services(self):
        # Postfix's sample master.cf, with its -o overrides.
        sub, subs = free_port(), free_port()
        opts = ("  -o syslog_name=postfix/%s\n"
                "  -o smtpd_tls_security_level=encrypt\n"
                "%s"
                "  -o smtpd_sasl_auth_enable=yes\n"
                "  -o smtpd_tls_auth_only=yes\n"
                "  -o smtpd_reject_unlisted_recipient=no\n"
                "  -o smtpd_client_restrictions="
                "permit_sasl_authenticated,reject\n"
                "  -o smtpd_relay_restrictions="
                "permit_sasl_authenticated,reject\n")
        master = ("127.0.0.1:%d inet n - n - - smtpd\n" % sub
                  + opts % ("submission", "")
                  + "127.0.0.1:%d inet n - n - - smtpd\n" % subs
                  + opts % ("submissions", "  -o smtpd_tls_wrappermode=yes\n"))
        i = Instance(self, users=("alice", "bob"), master_extra=master)
        i.set_main(smtpd_sasl_type="dovecot", smtpd_sasl_path="private/auth",
                   smtpd_tls_chain_files=make_cert(i.conf, "rsa", "rsa"))
        i.start()
        d = os.path.join(i.dir, "dovecot")
        start_dovecot(self, d, [(i.user("alice"), PASSWORD, 65534, 65534,
                                 "/nonexistent")], "maildir:~/Maildir",
                      extra="service auth {\n  unix_listener %s/private/auth"
                            " {\n    mode = 0666\n  }\n}\n" % i.queue)
        for p in (sub, subs):
            poll_until("port %d" % p, lambda p=p: socket.socket()
                       .connect_ex(("127.0.0.1", p)) == 0)
        # Port 25 of the same instance: no AUTH there.
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("auth"))
        c.quit()
        # 587: STARTTLS first, then AUTH, then mail.
        c = smtplib.SMTP("127.0.0.1", sub, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("auth"))
        code, text = c.mail(i.addr("alice"))
        self.assertEqual(code, 530, text)
        c.starttls(context=client_context())
        c.ehlo("client.example.test")
        self.assertTrue(c.has_extn("auth"))
        c.mail(i.addr("alice"))
        code, text = c.rcpt(i.addr("bob"))
        self.assertEqual(code, 554, text)
        c.rset()
        c.login(i.user("alice"), PASSWORD)
        self.assertEqual(c.sendmail(i.addr("alice"), [i.addr("bob"),
                                                      "far@ext.test"],
                                    message(i.addr("alice"), i.addr("bob"),
                                            "submission")), {})
        c.quit()
        i.wait_maildir("bob", 1)
        # 465: TLS from the start.
        c = smtplib.SMTP_SSL("127.0.0.1", subs, timeout=WAIT,
                             context=client_context())
        c.ehlo("client.example.test")
        c.login(i.user("alice"), PASSWORD)
        self.assertEqual(c.sendmail(i.addr("alice"), [i.addr("bob")],
                                    message(i.addr("alice"), i.addr("bob"),
                                            "submissions")), {})
        c.quit()
        i.wait_maildir("bob", 2)
        i.wait_log(r"smtpd\[\d+\]: [0-9A-F]+: client="
                   r"unknown\[127\.0\.0\.1\], sasl_method=PLAIN, "
                   r"sasl_username=%s" % i.user("alice"), count=2)


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_sasl - SASL authentication in postino's smtp client
(smtp_sasl_auth_enable, smtp_sasl_password_maps, the security options,
smtp_sasl_mechanism_filter, smtp_sasl_auth_soft_bounce) against a real
relay host: Postfix's smtpd with smtpd_sasl_type = dovecot and a real
Dovecot auth server (passwd-file), offering AUTH PLAIN LOGIN with and
without STARTTLS, and accepting mail only from authenticated clients
(smtpd_relay_restrictions = permit_sasl_authenticated, defer).

postino relays everything to relayhost = [127.0.0.31]:25 with a hash:
password table built by postino's postmap (readable by root only: the
agent opens it before it drops privileges).  Each test's postino binds
its smtp client to an address of its own (smtp_bind_address), so that
Postfix's log lines of each test are told apart by client address:
Postfix logs sasl_method= and sasl_username= for a login, and the
commands of each session on its "disconnect from" line (auth=... only
when an AUTH command came).

Cases: STARTTLS + right password -> delivered (PLAIN, the user logged
by Postfix); per-sender logins (smtp_sender_dependent_authentication)
with kept sessions; smtp_sasl_tls_verified_security_options at fingerprint
level (PLAIN) but not at encrypt level (no AUTH, deferred); wrong password -> deferred quoting Postfix's 535 with the
5.7.8 made 4.7.8, nothing delivered, and with smtp_sasl_auth_soft_bounce
= no bounced; plaintext with the default security options (noplaintext)
-> no AUTH command sent, deferred "no mechanism available"; plaintext
with smtp_sasl_security_options = noanonymous -> PLAIN; with
smtp_sasl_mechanism_filter = login -> LOGIN; no password entry for the
relay -> no AUTH command, the mail refused (450, deferred) by the relay;
a password table that fails -> deferred (4.3.0); postino check refuses
another smtp_sasl_type and SASL without a password table.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import netns
from instance import Instance, message, poll_until, program, run, \
    start_dovecot
from smtp_peers import PostfixMx
from test_smtp_client import MAIN, MASTER
from test_tls_server import make_cert

DELIVERY_WAIT = 45
RELAY = "127.0.0.31"
USER = "relay-user"
PASSWORD = "r3lay-s3cret"
SENDER_USER = "sender-user"
SENDER_PASSWORD = "s3nder-s3cret"


class _ClassScope:
    """What PostfixMx and start_dovecot need of a test case, for peers
    shared by the whole class."""

    def __init__(self, cls):
        self.addCleanup = cls.addClassCleanup


class SmtpSasl(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        scope = _ClassScope(cls)
        cls.dns = netns.Unbound(scope, ["pfx.test. MX 10 mx.pfx.test.",
                                        "mx.pfx.test. A %s" % RELAY])
        cls.dir = tempfile.mkdtemp(prefix="postino-smtpsasl-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        os.chmod(cls.dir, 0o755)
        d = os.path.join(cls.dir, "dovecot")
        sock = os.path.join(cls.dir, "auth-client")
        nobody = 65534
        start_dovecot(scope, d, [(USER, PASSWORD, nobody, nobody,
                                  "/nonexistent"),
                                 (SENDER_USER, SENDER_PASSWORD, nobody,
                                  nobody, "/nonexistent")],
                      "maildir:~/Maildir",
                      extra="service auth {\n  unix_listener %s {\n"
                            "    mode = 0666\n  }\n}\n" % sock)
        poll_until("the auth socket", lambda: os.path.exists(sock))
        chain = make_cert(cls.dir, "relay", "ec")
        os.chmod(chain, 0o644)
        out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint",
                              "-sha256", "-in",
                              os.path.join(cls.dir, "relay.crt")],
                             check=True, capture_output=True, text=True,
                             timeout=60).stdout
        cls.fingerprint = out.strip().split("=", 1)[1]
        cls.pfx = PostfixMx(scope, RELAY, "pfx.test", users=["bob"],
                            extra_main={
                                "smtpd_sasl_auth_enable": "yes",
                                "smtpd_sasl_type": "dovecot",
                                "smtpd_sasl_path": sock,
                                "smtpd_tls_security_level": "may",
                                "smtpd_tls_chain_files": chain,
                                "smtpd_tls_loglevel": "1",
                                # "(Authenticated sender: USER)" in the
                                # Received: header of each message.
                                "smtpd_sasl_authenticated_header": "yes",
                                # Only a login lets a client in.
                                "smtpd_relay_restrictions":
                                    "permit_sasl_authenticated, defer",
                            })

    # -- helpers ----------------------------------------------------------

    def mta(self, source, password=PASSWORD, key="[%s]:25" % RELAY,
            main=None, users=("alice",), entries=None, master=MASTER):
        """postino relaying to [RELAY]:25, its smtp client bound to
        source, with "key user:password" in its password table (and
        entries(i): more lines)."""
        conf = dict(MAIN)
        conf.update({"relayhost": "[%s]:25" % RELAY,
                     "smtp_bind_address": source,
                     "smtp_sasl_auth_enable": "yes"})
        conf.update(main or {})
        i = Instance(self, users=list(users), master_extra=master,
                     main=conf)
        path = os.path.join(i.conf, "sasl_passwd")
        with open(path, "w") as f:
            f.write("# destination credentials\n%s %s:%s\n"
                    % (key, USER, password))
            f.write(entries(i) if entries else "")
        r = run([program("postmap"), "hash:" + path])
        self.assertEqual(r.rc, 0, r)
        os.chmod(path + ".db", 0o600)
        i.set_main(smtp_sasl_password_maps="hash:" + path)
        i.start()
        return i

    def send(self, i, subject, sender="alice"):
        sender = i.addr(sender)
        refused = i.send(sender, ["bob@pfx.test"],
                         message(sender, "bob@pfx.test", subject))
        self.assertEqual(refused, {})

    def wait_log(self, i, pattern):
        try:
            return i.wait_log(pattern, timeout=DELIVERY_WAIT)
        except AssertionError:
            lines = [ln for ln in i.log().splitlines()
                     if re.search(r"smtp\[|warning|error|fatal", ln)]
            raise AssertionError("no /%s/ in the log; its smtp lines:\n%s"
                                 % (pattern, "\n".join(lines[-20:])))

    def relay_line(self, rest):
        return (r"to=<bob@pfx\.test>, relay=%s\[%s\]:25, .*%s"
                % (re.escape(RELAY), re.escape(RELAY), rest))

    def pfx_wait(self, pattern):
        """A line of Postfix's log matching pattern (polled)."""
        found = []

        def seen():
            found[:] = re.findall(pattern, self.pfx.log(), re.M)
            return found
        try:
            poll_until("/%s/ in Postfix's log" % pattern, seen,
                       timeout=DELIVERY_WAIT)
        except AssertionError:
            raise AssertionError("no /%s/ in Postfix's log:\n%s"
                                 % (pattern, self.pfx.log()[-3000:]))
        return found

    def disconnect(self, source):
        """Postfix's "disconnect from" lines of the client source."""
        return self.pfx_wait(r"disconnect from \S+\[%s\] (.*)$"
                             % re.escape(source))

    def delivered(self, subject):
        """The message with subject, as Postfix delivered it."""
        found = []

        def seen():
            found[:] = [m for m in self.pfx.maildir("bob")
                        if ("Subject: %s\n" % subject).encode() in m]
            return found
        poll_until("%r in bob's Maildir at Postfix" % subject, seen,
                   timeout=DELIVERY_WAIT)
        return found[0].decode(errors="replace")

    def not_delivered(self, subject):
        self.assertFalse(any(subject.encode() in m
                             for m in self.pfx.maildir("bob")))

    # -- cases ------------------------------------------------------------

    def test_starttls_right_password(self):
        """STARTTLS at encrypt level, PLAIN allowed under TLS by
        smtp_sasl_tls_security_options (as in Postfix's SASL_README):
        delivered, and Postfix logs the login."""
        src = "127.0.0.41"
        i = self.mta(src, main={
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_tls_security_options": "noanonymous"})
        self.send(i, "sasl over tls")
        self.wait_log(i, self.relay_line(r"dsn=2\.0\.0, status=sent"))
        self.delivered("sasl over tls")
        self.pfx_wait(r"client=\S+\[%s\], sasl_method=PLAIN, "
                      r"sasl_username=%s$" % (re.escape(src), USER))
        self.pfx_wait(r"Anonymous TLS connection established from "
                      r"\S+\[%s\]" % re.escape(src))
        stats = self.disconnect(src)[0]
        self.assertRegex(stats, r"ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 "
                         r"data=1")
        # Nothing of the password in postino's log.
        self.assertNotIn(PASSWORD, i.log())

    def test_sender_dependent(self):
        """smtp_sender_dependent_authentication: alice's address has a
        login of its own, carol gets the relay's; a kept session is
        used again for its own login only (one smtp process, sessions
        kept 300s: the messages go one after the other)."""
        src = "127.0.0.52"
        i = self.mta(src, users=("alice", "carol"), main={
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sender_dependent_authentication": "yes",
            "smtp_connection_cache_time_limit": "300s"},
            entries=lambda i: "%s %s:%s\n" % (i.addr("alice"), SENDER_USER,
                                              SENDER_PASSWORD),
            master=MASTER.replace("n       -       -       smtp",
                                  "n       -       1       smtp"))
        logins = (SENDER_USER, USER, SENDER_USER, USER)
        for n, who in enumerate(("alice", "carol", "alice", "carol")):
            self.send(i, "dependent %d" % n, sender=who)
            text = self.delivered("dependent %d" % n)
            self.assertRegex(text, r"\(Authenticated sender: %s\)"
                             % re.escape(logins[n]))
            i.wait_log(self.relay_line(r"dsn=2\.0\.0, status=sent"),
                       count=n + 1, timeout=DELIVERY_WAIT)
        lines = re.findall(r"to=<bob@pfx\.test>, relay=\S+, (conn_use=\d+, "
                           r")?delay=", i.log())
        # Two logins, two sessions, each used twice.
        self.assertEqual(lines, ["", "", "conn_use=2, ", "conn_use=2, "])

    def test_tls_verified_options(self):
        """smtp_sasl_tls_verified_security_options apply when the TLS
        policy checked the certificate (fingerprint level): PLAIN there;
        the same options at encrypt level (TLS, nothing checked) leave
        smtp_sasl_tls_security_options' default noplaintext in force: no
        AUTH, deferred."""
        opts = {"smtp_sasl_tls_verified_security_options": "noanonymous",
                "smtp_tls_fingerprint_digest": "sha256",
                "smtp_tls_fingerprint_cert_match": self.fingerprint}
        src = "127.0.0.49"
        i = self.mta(src, main=dict(opts, smtp_tls_security_level=
                                    "fingerprint"))
        self.send(i, "verified tls")
        self.wait_log(i, self.relay_line(r"dsn=2\.0\.0, status=sent"))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"%s\[%s\]:25" % (re.escape(RELAY), re.escape(RELAY)))
        self.delivered("verified tls")
        self.pfx_wait(r"client=\S+\[%s\], sasl_method=PLAIN, "
                      r"sasl_username=%s$" % (re.escape(src), USER))
        i.stop()

        src = "127.0.0.50"
        i = self.mta(src, main=dict(opts, smtp_tls_security_level="encrypt"))
        self.send(i, "unverified tls")
        self.wait_log(i, self.relay_line(
            r"dsn=4\.7\.0, status=deferred \(SASL authentication failed; "
            r"cannot authenticate to server %s\[%s\]: no mechanism "
            r"available\)" % (re.escape(RELAY), re.escape(RELAY))))
        stats = self.disconnect(src)[0]
        self.assertIn("starttls=1", stats)
        self.assertNotIn("auth=", stats)
        self.not_delivered("unverified tls")

    def test_wrong_password(self):
        """A 535 defers the mail (4.7.8, smtp_sasl_auth_soft_bounce =
        yes) quoting the server; nothing is delivered; with soft bounce
        off it bounces."""
        src = "127.0.0.42"
        i = self.mta(src, password="wrong-" + PASSWORD, main={
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_tls_security_options": "noanonymous"})
        self.send(i, "wrong password")
        self.wait_log(i, self.relay_line(
            r"dsn=4\.7\.8, status=deferred \(SASL authentication failed; "
            r"server %s\[%s\] said: 535 5\.7\.8 Error: authentication "
            r"failed" % (re.escape(RELAY), re.escape(RELAY))))
        stats = self.disconnect(src)[0]
        self.assertRegex(stats, r"auth=0/1")
        self.assertNotIn("mail=", stats)
        self.not_delivered("wrong password")
        self.assertNotIn("wrong-" + PASSWORD, i.log())
        i.stop()

        src = "127.0.0.47"
        i = self.mta(src, password="wrong-" + PASSWORD, main={
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_tls_security_options": "noanonymous",
            "smtp_sasl_auth_soft_bounce": "no"})
        self.send(i, "wrong password, hard")
        self.wait_log(i, self.relay_line(
            r"dsn=5\.7\.8, status=bounced \(SASL authentication failed; "
            r"server %s\[%s\] said: 535 5\.7\.8 Error: authentication "
            r"failed" % (re.escape(RELAY), re.escape(RELAY))))
        self.not_delivered("wrong password, hard")

    def test_plaintext_default_options(self):
        """No TLS and the default noplaintext: PLAIN and LOGIN are not
        allowed, so no AUTH command goes out and the mail is deferred."""
        src = "127.0.0.43"
        i = self.mta(src)
        self.send(i, "plaintext default")
        self.wait_log(i, self.relay_line(
            r"dsn=4\.7\.0, status=deferred \(SASL authentication failed; "
            r"cannot authenticate to server %s\[%s\]: no mechanism "
            r"available\)" % (re.escape(RELAY), re.escape(RELAY))))
        stats = self.disconnect(src)[0]
        self.assertNotIn("auth=", stats)
        self.assertNotIn("starttls=", stats)
        self.not_delivered("plaintext default")

    def test_plaintext_noanonymous(self):
        """smtp_sasl_security_options = noanonymous: PLAIN without TLS."""
        src = "127.0.0.44"
        i = self.mta(src, main={"smtp_sasl_security_options": "noanonymous"})
        self.send(i, "plaintext plain")
        self.wait_log(i, self.relay_line(r"dsn=2\.0\.0, status=sent"))
        self.delivered("plaintext plain")
        self.pfx_wait(r"client=\S+\[%s\], sasl_method=PLAIN, "
                      r"sasl_username=%s$" % (re.escape(src), USER))
        self.assertNotIn("starttls=", self.disconnect(src)[0])

    def test_mechanism_filter(self):
        """smtp_sasl_mechanism_filter = login: LOGIN through its two
        334 challenges."""
        src = "127.0.0.45"
        i = self.mta(src, main={"smtp_sasl_security_options": "noanonymous",
                                "smtp_sasl_mechanism_filter": "login"})
        self.send(i, "filtered to login")
        self.wait_log(i, self.relay_line(r"dsn=2\.0\.0, status=sent"))
        self.delivered("filtered to login")
        self.pfx_wait(r"client=\S+\[%s\], sasl_method=LOGIN, "
                      r"sasl_username=%s$" % (re.escape(src), USER))

    def test_mechanism_filter_keeps_nothing(self):
        """A filter that keeps none of the server's mechanisms: a warning,
        and the mail goes without AUTH (the relay defers it)."""
        src = "127.0.0.48"
        i = self.mta(src, main={"smtp_sasl_security_options": "noanonymous",
                                "smtp_sasl_mechanism_filter": "cram-md5"})
        self.send(i, "no mechanism kept")
        self.wait_log(i, r"warning: %s\[%s\] offered no supported AUTH "
                      r"mechanisms: '(?:PLAIN LOGIN|LOGIN PLAIN)'"
                      % (re.escape(RELAY), re.escape(RELAY)))
        self.wait_log(i, self.relay_line(r"dsn=4\.3\.2, status=deferred "
                                         r"\(host \S+ said: 450 4\.3\.2 "))
        self.assertNotIn("auth=", self.disconnect(src)[0])
        self.not_delivered("no mechanism kept")

    def test_table_failure(self):
        """A password table that cannot be read defers the mail (a
        temporary error, never "no entry": no mail goes out without the
        login it may need)."""
        src = "127.0.0.51"
        i = self.mta(src, main={"smtp_sasl_security_options": "noanonymous"})
        # Before the first delivery starts the smtp agent.
        os.unlink(i.main["smtp_sasl_password_maps"][5:] + ".db")
        self.send(i, "table failure")
        self.wait_log(i, r"to=<bob@pfx\.test>, relay=none, .*dsn=4\.3\.0, "
                      r"status=deferred \(local data error while talking "
                      r"to %s\[%s\]\)" % (re.escape(RELAY), re.escape(RELAY)))
        self.wait_log(i, r"warning: smtp_sasl_password_maps: \S+: lookup of "
                      r"\"%s\": " % re.escape(RELAY))
        self.not_delivered("table failure")

    def test_check_refuses(self):
        """postino check refuses what the agent could not honour: another
        smtp_sasl_type (here for the lmtp service through its lmtp_
        parameter), or no password table."""
        i = Instance(self, users=["alice"], master_extra=MASTER, main=dict(
            MAIN, smtp_sasl_auth_enable="yes",
            lmtp_sasl_auth_enable="yes", lmtp_sasl_type="dovecot",
            lmtp_sasl_password_maps="inline:{x=y:z}"))
        rc, out = i.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"service \"smtp\": smtp_sasl_auth_enable = "
                         r"yes without smtp_sasl_password_maps: refusing "
                         r"to run")
        self.assertRegex(out, r"service \"lmtp\": lmtp_sasl_auth_enable = "
                         r"yes with lmtp_sasl_type = dovecot: postino's SMTP "
                         r"client authenticates as the \"cyrus\" type only")
        # relay runs the smtp program too.
        self.assertRegex(out, r"service \"relay\": smtp_sasl_auth_enable")

    def test_no_password_entry(self):
        """No entry for this relay (only for another host): no AUTH at
        all; the relay refuses the unauthenticated mail (450)."""
        src = "127.0.0.46"
        i = self.mta(src, key="[other.example]:587",
                     main={"smtp_sasl_security_options": "noanonymous"})
        self.send(i, "no entry")
        self.wait_log(i, self.relay_line(
            r"dsn=4\.3\.2, status=deferred \(host %s\[%s\] said: 450 "
            r"4\.3\.2 " % (re.escape(RELAY), re.escape(RELAY))))
        stats = self.disconnect(src)[0]
        self.assertNotIn("auth=", stats)
        self.assertIn("rcpt=0/1", stats)
        self.not_delivered("no entry")


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()

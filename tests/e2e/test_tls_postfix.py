#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_tls_postfix - postino's smtpd with STARTTLS, asked by Postfix's
own tools:

- Postfix's smtp client relays to postino (relayhost) at the TLS levels
  may, encrypt, fingerprint and verify: the mail arrives "with ESMTPS",
  Postfix logs the trust it found ("Untrusted"/"Trusted"/"Verified TLS
  connection established to ..."), postino logs "Anonymous TLS connection
  established from ..."; at verify with a name the certificate does not
  carry, Postfix defers ("Server certificate not verified") and nothing
  arrives;
- Postfix's client presents its certificate (smtp_tls_chain_files) to a
  postino that asks for one: "Trusted TLS connection established from";
- posttls-finger verifies postino's certificate chain and sees the TLS
  session resumed on its second connection.

Runs in a network namespace (Postfix binds 127.0.0.x:25) whose /etc/hosts
names postino mx.example.test.
"""
import os
import re
import shutil
import smtplib
import subprocess
import unittest

import netns
from instance import Instance, WAIT, message, poll_until
from smtp_peers import PostfixMx
from test_smtp_tls import Pki

POSTTLS_FINGER = shutil.which("posttls-finger") or "/usr/sbin/posttls-finger"
DELIVERY_WAIT = 60


class TlsPostfix(unittest.TestCase):

    def setUp(self):
        self.pki = Pki(self)
        crt, key = self.pki.server("postino", "mx.example.test")
        chain = self.pki.path("postino-chain.pem")
        with open(chain, "w") as out:
            for p in (key, crt):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(chain, 0o600)
        self.crt = crt
        self.i = Instance(self, users=("alice",))
        self.i.set_main(smtpd_tls_security_level="may",
                        smtpd_tls_chain_files=chain,
                        smtpd_tls_received_header="yes")
        self.i.start()

    def postfix(self, address, level, relayhost=None, **extra):
        """Postfix on ADDRESS:25 relaying everything to postino at LEVEL."""
        main = {"relayhost": relayhost or "[mx.example.test]:%d"
                % self.i.port,
                "smtp_host_lookup": "native",
                "smtp_tls_security_level": level,
                "smtp_tls_loglevel": "1",
                "smtp_tls_CAfile": self.pki.path("ca-ca.crt")}
        main.update(extra)
        return PostfixMx(self, address, "pfx.test", users=["bob"],
                         extra_main=main)

    def relay(self, pfx, subject):
        c = smtplib.SMTP(pfx.address, 25, timeout=WAIT)
        c.ehlo("client.pfx.test")
        self.assertEqual(c.sendmail("bob@pfx.test", [self.i.addr("alice")],
                                    message("bob@pfx.test",
                                            self.i.addr("alice"), subject)),
                         {})
        c.quit()

    def wait_pfx_log(self, pfx, pattern):
        try:
            poll_until("Postfix log %r" % pattern,
                       lambda: re.search(pattern, pfx.log(), re.M),
                       timeout=DELIVERY_WAIT)
        except AssertionError as e:
            raise AssertionError("%s\nPostfix's log:\n%s"
                                 % (e, pfx.log()[-3000:])) from None

    def test_postfix_client_levels(self):
        i = self.i
        fp = self.pki.fingerprint(self.crt)
        cases = [
            # Without a CA nothing can be trusted; with it the chain
            # is (Trusted), the name only counts from verify on.
            ("127.0.0.31", "may", {"smtp_tls_CAfile": ""}, "Untrusted"),
            ("127.0.0.32", "encrypt", {}, "Trusted"),
            ("127.0.0.33", "fingerprint",
             {"smtp_tls_fingerprint_digest": "sha256",
              "smtp_tls_fingerprint_cert_match": fp}, "Verified"),
            ("127.0.0.34", "verify",
             {"smtp_tls_verify_cert_match": "hostname"}, "Verified"),
        ]
        for n, (address, level, extra, trust) in enumerate(cases, 1):
            with self.subTest(level=level):
                pfx = self.postfix(address, level, **extra)
                self.relay(pfx, "over %s" % level)
                self.wait_pfx_log(
                    pfx, r"%s TLS connection established to "
                    r"mx\.example\.test\[127\.0\.0\.1\]:%d: TLSv1\.3 with "
                    r"cipher" % (trust, i.port))
                self.wait_pfx_log(pfx, r"to=<%s>, relay=mx\.example\.test"
                                  r"\[127\.0\.0\.1\]:%d, .*status=sent"
                                  % (re.escape(i.addr("alice")), i.port))
                msgs = i.wait_maildir("alice", n, timeout=DELIVERY_WAIT)
                text = [m for m in i.maildir_messages("alice")
                        if ("over %s" % level).encode() in m]
                self.assertEqual(len(text), 1, msgs)
                self.assertRegex(text[0].decode(),
                                 r"\(using TLSv1\.3 with cipher \S+ "
                                 r"\(\d+/\d+ bits\)[^\n]*\)\n\t"
                                 r"\(No client certificate requested\)\n"
                                 r"\tby mx\.example\.test \(\S+\) with "
                                 r"ESMTPS id ")
        i.wait_log(r"Anonymous TLS connection established from "
                   r"\S+\[127\.0\.0\.1\]: TLSv1\.3 with cipher", count=4)

    def test_postfix_client_certificate(self):
        """Postfix's smtp client presents smtp_tls_chain_files to a
        postino that asks for client certificates: postino logs
        "Trusted" and names the certificate in the Received: header."""
        crt, key = self.pki.server("relay", "relay.pfx.test")
        chain = self.pki.path("relay-chain.pem")
        with open(chain, "w") as out:
            for p in (key, crt):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(chain, 0o644)
        i = Instance(self, users=("alice",))
        i.set_main(**{k: self.i.main[k] for k in (
            "smtpd_tls_security_level", "smtpd_tls_chain_files",
            "smtpd_tls_received_header")})
        i.set_main(smtpd_tls_ask_ccert="yes",
                   smtpd_tls_CAfile=self.pki.path("ca-ca.crt"))
        i.start()
        pfx = self.postfix("127.0.0.36", "encrypt",
                           relayhost="[mx.example.test]:%d" % i.port,
                           smtp_tls_chain_files=chain)
        c = smtplib.SMTP(pfx.address, 25, timeout=WAIT)
        c.ehlo("client.pfx.test")
        self.assertEqual(c.sendmail("bob@pfx.test", [i.addr("alice")],
                                    message("bob@pfx.test", i.addr("alice"),
                                            "with a certificate")), {})
        c.quit()
        msgs = i.wait_maildir("alice", 1, timeout=DELIVERY_WAIT)
        self.assertIn(b'\t(Client CN "relay.pfx.test", Issuer "Test CA ca" '
                      b'(verified OK))\n', msgs[0])
        i.wait_log(r"Trusted TLS connection established from "
                   r"\S+\[127\.0\.0\.1\]: TLSv1\.3 with cipher")

    def test_postfix_client_wrong_name(self):
        # The certificate names mx.example.test, not 127.0.0.1: a
        # verifying Postfix keeps the mail.
        pfx = self.postfix("127.0.0.35", "verify",
                           relayhost="[127.0.0.1]:%d" % self.i.port,
                           smtp_tls_verify_cert_match="hostname")
        self.relay(pfx, "must not arrive")
        self.wait_pfx_log(pfx, r"status=deferred \(Server certificate not "
                          r"verified\)")
        self.assertEqual(self.i.maildir_messages("alice"), [])

    def test_posttls_finger(self):
        if not os.access(POSTTLS_FINGER, os.X_OK):
            raise AssertionError("posttls-finger is not installed "
                                 "(Debian: postfix)")
        # posttls-finger reads a main.cf: an empty one, of its own.
        conf = self.pki.path("posttls-finger")
        os.mkdir(conf)
        open(os.path.join(conf, "main.cf"), "w").close()
        env = dict(os.environ, MAIL_CONFIG=conf)
        r = subprocess.run([POSTTLS_FINGER, "-c", "-h", "native",
                            "-l", "verify", "-F", self.pki.path("ca-ca.crt"),
                            "-r", "1",
                            "[mx.example.test]:%d" % self.i.port],
                           capture_output=True, text=True, timeout=WAIT,
                           env=env)
        out = r.stdout + r.stderr
        self.assertRegex(out, r"Verified TLS connection established to "
                         r"mx\.example\.test\[127\.0\.0\.1\]:%d: TLSv1\.3"
                         % self.i.port)
        self.assertRegex(out, r"(?i)reconnecting after 1 seconds")
        self.assertRegex(out, r"mx\.example\.test\[127\.0\.0\.1\]:%d: "
                         r"Reusing old "
                         r"session" % self.i.port)


if __name__ == "__main__":
    netns.enter(__file__, hosts="127.0.0.1 mx.example.test\n")
    unittest.main()

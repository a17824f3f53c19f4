#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_tls_ccert - TLS client certificates, both directions, with a CA
made by openssl at test time.

smtpd (Python's ssl client presents the certificate):
- smtpd_tls_ask_ccert: "Trusted" / "Untrusted" / "Anonymous TLS
  connection established from ..." and the Received: header's
  "(Client CN "..", Issuer ".." (verified OK))", "(not verified)" or
  "(Client did not present a certificate)";
- permit_tls_clientcerts with relay_clientcerts (a hash: table built
  with postmap, keyed by the certificate's or its public key's sha256
  fingerprint), permit_tls_all_clientcerts (a verified certificate) and
  check_ccert_access (OK, REJECT) decide who may relay;
- smtpd_tls_req_ccert at level encrypt: no certificate, or one that does
  not verify, gets Postfix's "421 4.7.1 ... Error: No client certificate
  presented" after the handshake;
- the policy service gets ccert_subject, ccert_issuer (xtext),
  ccert_fingerprint and ccert_pubkey_fingerprint.

smtp client: postino's smtp client presents smtp_tls_chain_files (or
smtp_tls_cert_file/smtp_tls_key_file) to a Python ssl server that
requires a client certificate signed by the CA, and to Postfix's smtpd
(smtpd_tls_ask_ccert = yes), which logs "Trusted TLS connection
established from"; the legacy smtp_use_tls = yes means "may".
"""
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

from instance import Instance, WAIT, message, poll_until, program

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_policy  # noqa: E402
import test_tls_server  # noqa: E402
from test_smtp_client import MAIN, MASTER  # noqa: E402

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def openssl(*args, **kw):
    return subprocess.run([OPENSSL] + list(args), check=True,
                          capture_output=True, **kw)


class Pki:
    """A CA, a client certificate it signed (CN client.example.test),
    and a self-signed one of the same name (not trusted)."""

    def __init__(self, tc):
        self.dir = tempfile.mkdtemp(prefix="postino-ccert-")
        os.chmod(self.dir, 0o755)
        tc.addCleanup(shutil.rmtree, self.dir, True)
        self.ca = self.path("ca.crt")
        openssl("req", "-x509", "-nodes", "-days", "2", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-subj", "/CN=Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", self.path("ca.key"), "-out", self.ca)
        self.client = self.signed("client", "client.example.test")
        self.rogue = self.self_signed("rogue", "client.example.test")

    def path(self, name):
        return os.path.join(self.dir, name)

    def signed(self, name, cn, usage="clientAuth"):
        """(certificate, key, key+chain PEM) signed by the CA."""
        key, csr, crt = (self.path(name + e) for e in (".key", ".csr",
                                                         ".crt"))
        openssl("req", "-nodes", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-subj", "/CN=" + cn,
                "-keyout", key, "-out", csr)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("extendedKeyUsage=%s\nsubjectAltName=DNS:%s\n"
                    % (usage, cn))
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                self.path("ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", ext, "-out", crt)
        return crt, key, self.chain(name, key, crt)

    def intermediate(self):
        """(certificate + intermediate CA, key): a client certificate
        issued by an intermediate CA that the CA signed."""
        ik, icsr, icrt = (self.path("inter" + e) for e in (".key", ".csr",
                                                          ".crt"))
        openssl("req", "-nodes", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-subj", "/CN=Test Intermediate",
                "-keyout", ik, "-out", icsr)
        ext = self.path("inter.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\n"
                    "keyUsage=critical,keyCertSign,cRLSign\n")
        openssl("x509", "-req", "-in", icsr, "-CA", self.ca, "-CAkey",
                self.path("ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", ext, "-out", icrt)
        key, csr, crt = (self.path("deep" + e) for e in (".key", ".csr",
                                                        ".crt"))
        openssl("req", "-nodes", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-subj", "/CN=deep.example.test",
                "-keyout", key, "-out", csr)
        ext = self.path("deep.ext")
        with open(ext, "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", icrt, "-CAkey", ik,
                "-CAcreateserial", "-days", "2", "-extfile", ext,
                "-out", crt)
        both = self.path("deep-chain.crt")
        with open(both, "w") as out:
            for p in (crt, icrt):
                with open(p) as f:
                    out.write(f.read())
        return both, key

    def self_signed(self, name, cn):
        key, crt = self.path(name + ".key"), self.path(name + ".crt")
        openssl("req", "-x509", "-nodes", "-days", "2", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-subj", "/CN=" + cn,
                "-keyout", key, "-out", crt)
        return crt, key, self.chain(name, key, crt)

    def chain(self, name, key, crt):
        pem = self.path(name + ".pem")
        with open(pem, "w") as out:
            for p in (key, crt):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(pem, 0o644)
        return pem

    def fingerprint(self, crt):
        out = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in",
                      crt, text=True).stdout
        return out.strip().split("=", 1)[1]

    def pubkey_fingerprint(self, crt):
        pub = openssl("x509", "-noout", "-pubkey", "-in", crt).stdout
        der = openssl("pkey", "-pubin", "-outform", "DER", input=pub).stdout
        out = openssl("dgst", "-sha256", "-c", input=der, text=False).stdout
        return out.decode().strip().split("= ", 1)[1].upper()


def client_ctx(cert=None):
    ctx = test_tls_server.client_context()
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


class SmtpdCcert(unittest.TestCase):
    """smtpd asks for (or requires) a client certificate."""

    def setUp(self):
        self.pki = Pki(self)

    def instance(self, extra_main=None):
        i = Instance(self, users=("alice",))
        pem = test_tls_server.make_cert(i.conf, "server", "rsa")
        main = {"smtpd_tls_security_level": "may",
                "smtpd_tls_chain_files": pem,
                "smtpd_tls_received_header": "yes",
                "smtpd_tls_ask_ccert": "yes",
                "smtpd_tls_CAfile": self.pki.ca,
                "smtpd_tls_fingerprint_digest": "sha256",
                # 127.0.0.1 is not a trusted network here: relaying
                # depends on the certificate.
                "mynetworks": "192.0.2.0/24"}
        main.update(extra_main or {})
        i.set_main(**main)
        i.start()
        return i

    def session(self, i, cert):
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.starttls(context=client_ctx(cert))
        c.ehlo("client.example.test")
        return c

    def deliver(self, i, cert, n):
        c = self.session(i, cert)
        self.assertEqual(c.sendmail("a@ext.test", [i.addr("alice")],
                                    message("a@ext.test", i.addr("alice"),
                                            "ccert %d" % n)), {})
        c.quit()
        return i.wait_maildir("alice", n)[n - 1].decode()

    def test_ask_ccert_logs_and_received(self):
        i = self.instance()
        text = self.deliver(i, self.pki.client, 1)
        i.wait_log(r"Trusted TLS connection established from "
                   r"unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher ")
        self.assertRegex(text, r"\t\(using TLSv1\.3 with cipher [^\n]*\)\n"
                         r"\t\(Client CN \"client\.example\.test\", Issuer "
                         r"\"Test CA\" \(verified OK\)\)\n\tby mx\.")
        text = self.deliver(i, self.pki.rogue, 2)
        i.wait_log(r"Untrusted TLS connection established from "
                   r"unknown\[127\.0\.0\.1\]")
        self.assertIn("\t(Client CN \"client.example.test\", Issuer "
                      "\"client.example.test\" (not verified))\n", text)
        text = self.deliver(i, None, 3)
        i.wait_log(r"Anonymous TLS connection established from "
                   r"unknown\[127\.0\.0\.1\]")
        self.assertIn("\t(Client did not present a certificate)\n\tby mx.",
                      text)

    def test_verifydepth(self):
        """A certificate issued by an intermediate CA (presented with
        it) is two levels below the CA of smtpd_tls_CAfile: depth 1 is
        not enough, 2 is."""
        deep = self.pki.intermediate()
        i = self.instance({"smtpd_tls_ccert_verifydepth": "1"})
        text = self.deliver(i, deep, 1)
        self.assertIn("(Client CN \"deep.example.test\", Issuer \"Test "
                      "Intermediate\" (not verified))", text)
        i.wait_log(r"Untrusted TLS connection established from")
        i = self.instance({"smtpd_tls_ccert_verifydepth": "2"})
        text = self.deliver(i, deep, 1)
        self.assertIn("(Client CN \"deep.example.test\", Issuer \"Test "
                      "Intermediate\" (verified OK))", text)
        # Issued by the CA itself: depth 1 is enough.
        i = self.instance({"smtpd_tls_ccert_verifydepth": "1"})
        text = self.deliver(i, self.pki.client, 1)
        self.assertIn("(verified OK))", text)

    def rcpt(self, i, cert, rcpt="someone@elsewhere.test"):
        c = self.session(i, cert)
        self.assertEqual(c.mail("a@ext.test")[0], 250)
        code, text = c.rcpt(rcpt)
        c.quit()
        return code, text.decode()

    def test_permit_tls_clientcerts(self):
        """Listed: the client certificate by its fingerprint, the
        self-signed one by its public key's; a third one, signed by the
        CA but not listed, may not relay."""
        table = os.path.join(self.pki.dir, "relay_clientcerts")
        with open(table, "w") as f:
            f.write("%s client.example.test\n%s rogue\n" % (
                self.pki.fingerprint(self.pki.client[0]),
                self.pki.pubkey_fingerprint(self.pki.rogue[0])))
        r = subprocess.run([program("postmap"), "hash:" + table],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r)
        other = self.pki.signed("other", "other.example.test")
        i = self.instance({
            "relay_clientcerts": "hash:" + table,
            "smtpd_relay_restrictions": "permit_tls_clientcerts, "
                                        "reject_unauth_destination"})
        self.assertEqual(self.rcpt(i, self.pki.client)[0], 250)
        self.assertEqual(self.rcpt(i, self.pki.rogue)[0], 250)
        code, text = self.rcpt(i, other)
        self.assertEqual(code, 554, text)
        self.assertIn("Relay access denied", text)
        self.assertEqual(self.rcpt(i, None)[0], 554)

    def test_permit_tls_all_clientcerts(self):
        i = self.instance({
            "smtpd_relay_restrictions": "permit_tls_all_clientcerts, "
                                        "reject_unauth_destination"})
        self.assertEqual(self.rcpt(i, self.pki.client)[0], 250)
        self.assertEqual(self.rcpt(i, self.pki.rogue)[0], 554)
        self.assertEqual(self.rcpt(i, None)[0], 554)

    def test_check_ccert_access(self):
        table = os.path.join(self.pki.dir, "ccert_access")
        with open(table, "w") as f:
            f.write("%s OK\n%s REJECT\n" % (
                self.pki.fingerprint(self.pki.client[0]),
                self.pki.pubkey_fingerprint(self.pki.rogue[0])))
        r = subprocess.run([program("postmap"), "hash:" + table],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r)
        i = self.instance({
            "smtpd_relay_restrictions": "check_ccert_access hash:" + table
                                        + ", reject_unauth_destination"})
        self.assertEqual(self.rcpt(i, self.pki.client)[0], 250)
        code, text = self.rcpt(i, self.pki.rogue)
        self.assertEqual(code, 554, text)
        self.assertIn("5.7.1 <client.example.test>: Client certificate "
                      "rejected: Access denied", text)
        self.assertEqual(self.rcpt(i, None)[0], 554)

    def test_check_ccert_access_search_order(self):
        """Postfix 3.5's search_order: only the public key's fingerprint
        is looked up, so the certificate's listed fingerprint is not."""
        table = os.path.join(self.pki.dir, "ccert_access")
        with open(table, "w") as f:
            f.write("%s OK\n%s OK\n" % (
                self.pki.fingerprint(self.pki.client[0]),
                self.pki.pubkey_fingerprint(self.pki.rogue[0])))
        r = subprocess.run([program("postmap"), "hash:" + table],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r)
        i = self.instance({
            "smtpd_relay_restrictions": "check_ccert_access { hash:" + table
                                        + ", { search_order = "
                                        "pubkey_fingerprint } }, "
                                        "reject_unauth_destination"})
        self.assertEqual(self.rcpt(i, self.pki.rogue)[0], 250)
        self.assertEqual(self.rcpt(i, self.pki.client)[0], 554)

    def test_req_ccert(self):
        i = self.instance({"smtpd_tls_security_level": "encrypt",
                           "smtpd_tls_req_ccert": "yes"})
        for cert, why in ((None, "No client certificate presented"),
                          (self.pki.rogue, "Client certificate not trusted")):
            c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
            c.ehlo("client.example.test")
            c.starttls(context=client_ctx(cert))
            code, text = c.ehlo("client.example.test")
            self.assertEqual((code, text.decode()),
                             (421, "4.7.1 mx.example.test Error: " + why))
            i.wait_log(r"NOQUEUE: abort: TLS from unknown\[127\.0\.0\.1\]: "
                       + why)
            c.close()
        # A verified certificate goes on.
        self.deliver(i, self.pki.client, 1)

    def test_policy_attributes(self):
        i = Instance(self, users=("alice",))
        p = test_policy.PolicyServer(os.path.join(i.dir, "policy.sock"))
        self.addCleanup(p.close)
        pem = test_tls_server.make_cert(i.conf, "server", "rsa")
        i.set_main(smtpd_tls_security_level="may", smtpd_tls_chain_files=pem,
                   smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=self.pki.ca,
                   smtpd_recipient_restrictions="check_policy_service "
                   + p.name)
        i.start()
        self.deliver(i, self.pki.client, 1)
        self.deliver(i, self.pki.rogue, 2)
        reqs = p.rcpt_requests()
        self.assertEqual(len(reqs), 2, reqs)
        crt = self.pki.client[0]
        self.assertEqual(reqs[0]["ccert_subject"], "client.example.test")
        self.assertEqual(reqs[0]["ccert_issuer"], "Test+20CA")
        self.assertEqual(reqs[0]["ccert_fingerprint"],
                         self.pki.fingerprint(crt))
        self.assertEqual(reqs[0]["ccert_pubkey_fingerprint"],
                         self.pki.pubkey_fingerprint(crt))
        # Not verified: the fingerprints only.
        self.assertEqual(reqs[1]["ccert_subject"], "")
        self.assertEqual(reqs[1]["ccert_issuer"], "")
        self.assertEqual(reqs[1]["ccert_fingerprint"],
                         self.pki.fingerprint(self.pki.rogue[0]))


class CcertMx:
    """An SMTP server that requires a client certificate signed by ca
    (TLS from STARTTLS on); records each session's peer certificate
    subject and the messages."""

    def __init__(self, tc, server_pem, ca):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(server_pem)
        self.ctx.load_verify_locations(ca)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.peers, self.messages, self.errors = [], [], []
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(1)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        tc.addCleanup(self.close)

    def close(self):
        self.running = False
        self.thread.join(WAIT)
        self.sock.close()

    def _accept(self):
        while self.running:
            try:
                s, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(s,),
                             daemon=True).start()

    def _serve(self, s):
        s.settimeout(WAIT)
        try:
            f = s.makefile("rb")
            s.sendall(b"220 ccert.test ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line.decode().strip().upper()
                if verb.startswith("EHLO"):
                    s.sendall(b"250-ccert.test\r\n250 STARTTLS\r\n")
                elif verb == "STARTTLS":
                    s.sendall(b"220 go ahead\r\n")
                    f.close()
                    try:
                        s = self.ctx.wrap_socket(s, server_side=True)
                    except (ssl.SSLError, OSError) as e:
                        with self.lock:
                            self.errors.append(str(e))
                        return
                    cert = s.getpeercert()
                    with self.lock:
                        self.peers.append(dict(x[0] for x in
                                               cert["subject"]))
                    f = s.makefile("rb")
                elif verb == "DATA":
                    s.sendall(b"354 go\r\n")
                    data = b""
                    while True:
                        line = f.readline()
                        if not line or line == b".\r\n":
                            break
                        data += line
                    with self.lock:
                        self.messages.append(data)
                    s.sendall(b"250 2.0.0 queued\r\n")
                elif verb == "QUIT":
                    s.sendall(b"221 bye\r\n")
                    return
                else:
                    s.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            s.close()


class SmtpClientCcert(unittest.TestCase):
    """postino's smtp client presents its certificate."""

    def setUp(self):
        self.pki = Pki(self)
        self.mx_pem = test_tls_server.make_cert(self.pki.dir, "mx", "rsa")
        self.mx = CcertMx(self, self.mx_pem, self.pki.ca)

    def relay(self, extra):
        i = Instance(self, users=("alice",), master_extra=MASTER)
        main = dict(MAIN)
        main.update({"relayhost": "[127.0.0.1]:%d" % self.mx.port,
                     "smtp_tls_security_level": "encrypt"})
        main.update(extra)
        i.set_main(**main)
        i.start()
        i.send("alice@example.test", "bob@elsewhere.test",
               "Subject: ccert\n\nhello\n")
        return i

    def test_chain_files(self):
        crt, key, pem = self.pki.signed("relay", "relay.example.test")
        i = self.relay({"smtp_tls_chain_files": pem})
        poll_until("a message at the mx", lambda: self.mx.messages)
        self.assertEqual(self.mx.peers, [{"commonName": "relay.example.test"}])
        i.wait_log(r"status=sent")

    def test_cert_and_key_file_legacy_use_tls(self):
        crt, key, pem = self.pki.signed("relay", "relay.example.test")
        i = self.relay({"smtp_tls_cert_file": crt, "smtp_tls_key_file": key,
                        "smtp_tls_security_level": "",
                        "smtp_use_tls": "yes"})
        poll_until("a message at the mx", lambda: self.mx.messages)
        self.assertEqual(self.mx.peers, [{"commonName": "relay.example.test"}])
        i.wait_log(r"TLS connection established to \S*127\.0\.0\.1")

    def test_legacy_enforce_tls(self):
        """smtp_enforce_tls = yes is "verify" (the mx's self-signed
        certificate is not trusted: deferred), "encrypt" with
        smtp_tls_enforce_peername = no (sent)."""
        crt, key, pem = self.pki.signed("relay", "relay.example.test")
        i = self.relay({"smtp_tls_chain_files": pem,
                        "smtp_tls_security_level": "",
                        "smtp_enforce_tls": "yes"})
        i.wait_log(r"status=deferred \(Server certificate not trusted\)")
        self.assertEqual(self.mx.messages, [])
        i = self.relay({"smtp_tls_chain_files": pem,
                        "smtp_tls_security_level": "",
                        "smtp_enforce_tls": "yes",
                        "smtp_tls_enforce_peername": "no"})
        poll_until("a message at the mx", lambda: self.mx.messages)
        i.wait_log(r"status=sent")

    def test_no_cert_refused(self):
        i = self.relay({})
        i.wait_log(r"status=deferred")
        self.assertEqual(self.mx.messages, [])
        self.assertTrue(self.mx.errors)


if __name__ == "__main__":
    unittest.main()

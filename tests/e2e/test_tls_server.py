#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_tls_server - TLS in smtpd (smtpd_tls_security_level may and
encrypt, STARTTLS and wrapper mode), driven by Python's ssl module,
openssl s_client and swaks:

- EHLO offers STARTTLS; after the handshake the session starts over,
  the mail is delivered with "with ESMTPS" and the TLS details in its
  Received: header (smtpd_tls_received_header = yes), and smtpd logs
  Postfix's "Anonymous TLS connection established from ..." line;
- encrypt: MAIL before STARTTLS gets 530 5.7.0;
- a command pipelined behind STARTTLS in plaintext is never executed
  inside the TLS session (CVE-2011-0411);
- sessions are resumed (tickets), also by the smtpd that follows the one
  that issued the ticket (max_use), RSA and ECDSA certificates both work,
  port-465 style wrapper mode works, a failed handshake is logged and
  leaves the other sessions alone.
"""
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import unittest

from instance import Instance, WAIT, message, poll_until

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def make_cert(d, name, kind):
    """A self-signed certificate for mx.example.test and its key, in one
    PEM file (key first: smtpd_tls_chain_files); returns the path."""
    key = os.path.join(d, name + ".key")
    crt = os.path.join(d, name + ".crt")
    if kind == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    else:
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run([OPENSSL, "req", "-x509", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.example.test", "-keyout", key,
                    "-out", crt] + newkey, check=True, capture_output=True)
    pem = os.path.join(d, name + ".pem")
    with open(pem, "w") as out:
        for p in (key, crt):
            with open(p) as f:
                out.write(f.read())
    os.chmod(pem, 0o600)
    return pem


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise AssertionError("connection closed; got %r" % lines)
        lines.append(line.decode().rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return lines


class TlsServer(unittest.TestCase):

    def instance(self, level="may", extra_main=None, master_extra="",
                 kinds=("rsa",)):
        i = Instance(self, users=("alice",), master_extra=master_extra)
        pems = [make_cert(i.conf, k, k) for k in kinds]
        main = {"smtpd_tls_security_level": level,
                "smtpd_tls_chain_files": ", ".join(pems),
                "smtpd_tls_received_header": "yes"}
        main.update(extra_main or {})
        i.set_main(**main)
        i.start()
        return i

    def test_starttls_may(self):
        i = self.instance()
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertTrue(c.has_extn("starttls"))
        c.starttls(context=client_context())
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("starttls"))
        self.assertEqual(c.sendmail("a@ext.test", [i.addr("alice")],
                                    message("a@ext.test", i.addr("alice"),
                                            "over tls")), {})
        c.quit()
        msgs = i.wait_maildir("alice", 1)
        text = i.maildir_messages("alice")[0].decode()
        self.assertRegex(text, r"Received: from client\.example\.test "
                         r"\(unknown \[127\.0\.0\.1\]\)\n"
                         r"\t\(using TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)"
                         r"[^\n]*\)\n\t\(No client certificate requested\)\n"
                         r"\tby mx\.example\.test \(\S+\) with ESMTPS id ")
        self.assertTrue(msgs)
        i.wait_log(r"Anonymous TLS connection established from "
                   r"unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher \S+ "
                   r"\(\d+/\d+ bits\)")
        i.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=2 "
                   r"starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7")

    def test_loglevel_0(self):
        """smtpd_tls_loglevel = 0 (Postfix's default): no summary line for
        a good handshake; a failed one is still logged."""
        i = self.instance(extra_main={"smtpd_tls_loglevel": "0"})
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        c.starttls(context=client_context())
        c.ehlo("client.example.test")
        c.quit()
        i.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=2 "
                   r"starttls=1 quit=1 commands=4")
        self.assertNotIn("TLS connection established", i.log())
        s = socket.create_connection(("127.0.0.1", i.port), timeout=WAIT)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO client.example.test\r\n")
        read_reply(f)
        s.sendall(b"STARTTLS\r\n")
        read_reply(f)
        s.sendall(b"not a client hello\r\n" * 4)
        i.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.1\]: ")
        s.close()

    def test_encrypt_requires_starttls(self):
        i = self.instance("encrypt")
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        code, text = c.mail("a@ext.test")
        self.assertEqual((code, text),
                         (530, b"5.7.0 Must issue a STARTTLS command first"))
        c.starttls(context=client_context())
        c.ehlo("client.example.test")
        self.assertEqual(c.mail("a@ext.test")[0], 250)
        c.quit()

    def test_no_plaintext_injection(self):
        # CVE-2011-0411: RSET sent in the same packet as STARTTLS must not
        # be answered inside the TLS session.
        i = self.instance()
        s = socket.create_connection(("127.0.0.1", i.port), timeout=WAIT)
        f = s.makefile("rb")
        self.assertTrue(read_reply(f)[0].startswith("220 "))
        s.sendall(b"EHLO client.example.test\r\n")
        read_reply(f)
        s.sendall(b"STARTTLS\r\nRSET\r\n")
        self.assertEqual(read_reply(f), ["220 2.0.0 Ready to start TLS"])
        f.close()
        t = client_context().wrap_socket(s, server_hostname="mx.example.test")
        t.sendall(b"EHLO again.example.test\r\n")
        tf = t.makefile("rb")
        first = read_reply(tf)
        self.assertEqual(first[0], "250-mx.example.test", first)
        t.sendall(b"QUIT\r\n")
        self.assertTrue(read_reply(tf)[0].startswith("221"))
        t.close()
        i.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=2 "
                   r"starttls=1 quit=1 commands=4")

    def test_resumption_and_both_key_types(self):
        i = self.instance(kinds=("rsa", "ecdsa"))
        ctx = client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

        def session(sess=None, ciphers=None):
            if ciphers:
                ctx.set_ciphers(ciphers)
            s = socket.create_connection(("127.0.0.1", i.port), timeout=WAIT)
            f = s.makefile("rb")
            read_reply(f)
            s.sendall(b"EHLO client.example.test\r\n")
            read_reply(f)
            s.sendall(b"STARTTLS\r\n")
            read_reply(f)
            f.close()
            t = ctx.wrap_socket(s, server_hostname="mx.example.test",
                                session=sess)
            info = (t.session_reused, t.cipher()[0], t.session)
            t.sendall(b"QUIT\r\n")
            t.recv(100)
            t.close()
            return info
        reused, cipher, sess = session(ciphers="ECDHE-RSA-AES256-GCM-SHA384")
        self.assertFalse(reused)
        self.assertIn("RSA", cipher)
        reused, _, _ = session(sess)
        self.assertTrue(reused, "the session was not resumed")
        reused, cipher, _ = session(ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
        self.assertIn("ECDSA", cipher)

    def test_resumption_across_smtpd_processes(self):
        # max_use = 1: every session is served by a new smtpd, so a
        # ticket is only ever offered to a process that did not issue
        # it.  TLS 1.3: each resumption brings a new ticket, and the
        # key file is private.
        i = self.instance(extra_main={"max_use": "1"})
        ctx = client_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3

        def session(sess=None):
            s = socket.create_connection(("127.0.0.1", i.port), timeout=WAIT)
            f = s.makefile("rb")
            read_reply(f)
            s.sendall(b"EHLO client.example.test\r\n")
            read_reply(f)
            s.sendall(b"STARTTLS\r\n")
            read_reply(f)
            f.close()
            t = ctx.wrap_socket(s, server_hostname="mx.example.test",
                                session=sess)
            t.sendall(b"QUIT\r\n")
            # the 221 comes behind the tickets
            self.assertTrue(t.recv(100).startswith(b"221"))
            info = (t.session_reused, t.session)
            t.close()
            return info
        reused, sess = session()
        self.assertFalse(reused)
        for n in range(3):
            reused, sess = session(sess)
            self.assertTrue(reused, "session %d was not resumed" % (n + 2))
        i.wait_log(r"Anonymous TLS connection established", 4)
        pids = set(re.findall(r"/smtpd\[(\d+)\]: Anonymous TLS", i.log()))
        self.assertEqual(len(pids), 4, "not one smtpd per session: %s" % pids)
        key = os.path.join(i.queue, "pid", "smtpd_tls_ticket.key")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0)

    def test_openssl_s_client_and_swaks(self):
        i = self.instance()
        r = subprocess.run([OPENSSL, "s_client", "-starttls", "smtp",
                            "-connect", "127.0.0.1:%d" % i.port, "-brief"],
                           input=b"QUIT\r\n", capture_output=True,
                           timeout=WAIT)
        out = r.stdout.decode() + r.stderr.decode()
        self.assertIn("Protocol version: TLSv1.3", out)
        swaks = shutil.which("swaks")
        self.assertIsNotNone(swaks, "swaks is not installed")
        r = subprocess.run([swaks, "--server", "127.0.0.1:%d" % i.port,
                            "--tls", "--from", "a@ext.test",
                            "--to", i.addr("alice"), "--helo",
                            "swaks.example.test"], capture_output=True,
                           timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout.decode()
                         + r.stderr.decode())
        i.wait_maildir("alice", 1)

    def test_wrappermode(self):
        # A submissions-style listener (port 465): TLS from the start.
        i = Instance(self, users=("alice",))
        pem = make_cert(i.conf, "rsa", "rsa")
        port = i.port + 1
        with open(os.path.join(i.conf, "master.cf"), "a") as f:
            f.write("127.0.0.1:%d inet n - n - 1 smtpd\n"
                    "  -o smtpd_tls_wrappermode=yes\n" % port)
        i.set_main(smtpd_tls_chain_files=pem)
        i.master_cf += ("127.0.0.1:%d inet n - n - 1 smtpd\n"
                        "  -o smtpd_tls_wrappermode=yes\n" % port)
        i.write_conf()
        i.start()
        poll_until("the wrapper-mode listener", lambda: socket.socket()
                   .connect_ex(("127.0.0.1", port)) == 0)
        c = smtplib.SMTP_SSL("127.0.0.1", port, timeout=WAIT,
                             context=client_context())
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("starttls"))
        self.assertEqual(c.sendmail("a@ext.test", [i.addr("alice")],
                                    message("a@ext.test", i.addr("alice"),
                                            "wrapped")), {})
        c.quit()
        i.wait_maildir("alice", 1)
        # The plaintext port of the same instance offers no TLS.
        p = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        p.ehlo("client.example.test")
        self.assertFalse(p.has_extn("starttls"))
        p.quit()

    def test_check_needs_a_certificate(self):
        # encrypt (or wrapper mode) without a readable certificate is
        # refused by postino check and start, naming the service; "may"
        # without one is a warning and the service runs without TLS.
        i = Instance(self)
        i.set_main(smtpd_tls_security_level="encrypt")
        rc, out = i.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"master\.cf, line 1: service \"127\.0\.0\.1:"
                         r"\d+\": TLS is required \(encrypt\) but there is no "
                         r"certificate \(set smtpd_tls_chain_files or "
                         r"smtpd_tls_cert_file\): refusing to run")
        rc, out = i.postino("start", check=False)
        self.assertNotEqual(rc, 0, out)
        i.set_main(smtpd_tls_security_level="encrypt",
                   smtpd_tls_chain_files="/nonexistent/key.pem")
        rc, out = i.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("an unreadable file: /nonexistent/key.pem: No such file",
                      out)
        i.set_main(smtpd_tls_security_level="may", smtpd_tls_chain_files="")
        rc, out = i.postino("check", check=False)
        self.assertEqual(rc, 0, out)
        self.assertIn("smtpd_tls_security_level = may, but there is no "
                      "certificate", out)
        i.start()
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        c.ehlo("client.example.test")
        self.assertFalse(c.has_extn("starttls"))
        c.quit()

    def test_new_tls_session_rate_limit(self):
        """smtpd_client_new_tls_session_rate_limit: new handshakes are
        counted, resumed ones are not; over the limit STARTTLS gets 454
        and a wrapper-mode connection a plaintext 421 before any
        handshake."""
        port = None

        def master(i):
            return ("127.0.0.1:%d inet n - n - 1 smtpd\n"
                    "  -o smtpd_tls_wrappermode=yes\n" % (i.port + 1))
        i = Instance(self, users=("alice",))
        pem = make_cert(i.conf, "rsa", "rsa")
        port = i.port + 1
        i.master_cf += master(i)
        i.set_main(smtpd_tls_security_level="may",
                   smtpd_tls_chain_files=pem,
                   smtpd_client_new_tls_session_rate_limit="2",
                   anvil_rate_time_unit="3600s",
                   mynetworks="192.0.2.0/24")
        i.write_conf()
        i.start()
        ctx = client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

        def starttls(sess=None):
            s = socket.create_connection(("127.0.0.1", i.port), timeout=WAIT)
            f = s.makefile("rb")
            read_reply(f)
            s.sendall(b"EHLO client.example.test\r\n")
            read_reply(f)
            s.sendall(b"STARTTLS\r\n")
            r = read_reply(f)
            f.close()
            if not r[0].startswith("220"):
                s.close()
                return r[0], None
            t = ctx.wrap_socket(s, server_hostname="mx.example.test",
                                session=sess)
            reused, sess = t.session_reused, t.session
            t.sendall(b"QUIT\r\n")
            t.recv(100)
            t.close()
            return ("reused" if reused else "new"), sess

        first, sess = starttls()
        self.assertEqual(first, "new")
        # Resumed sessions cost no handshake: they do not count.
        for _ in range(3):
            self.assertEqual(starttls(sess)[0], "reused")
        self.assertEqual(starttls()[0], "new")
        self.assertEqual(starttls()[0], "454 4.7.0 Error: too many new TLS "
                         "sessions from 127.0.0.1")
        i.wait_log(r"warning: New TLS session rate limit exceeded: 3 from "
                   r"unknown\[127\.0\.0\.1\] for service \S+")
        # Port-465 style (its own count: anvil counts per service): two
        # new sessions, then refused in plaintext, before any handshake.
        poll_until("the wrapper-mode listener", lambda: socket.socket()
                   .connect_ex(("127.0.0.1", port)) == 0)
        for _ in range(2):
            c = smtplib.SMTP_SSL("127.0.0.1", port, timeout=WAIT,
                                 context=client_context())
            c.quit()
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.assertEqual(read_reply(s.makefile("rb")),
                         ["421 4.7.0 mx.example.test Error: too many new "
                          "TLS sessions from 127.0.0.1"])
        s.close()
        # Another address is not limited by this one's count.
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT,
                                     source_address=("127.0.0.2", 0))
        t = client_context().wrap_socket(s, server_hostname="mx.example.test")
        self.assertTrue(read_reply(t.makefile("rb"))[0].startswith("220 "))
        t.close()

    def test_failed_handshake(self):
        i = self.instance()
        s = socket.create_connection(("127.0.0.1", i.port), timeout=WAIT)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO client.example.test\r\n")
        read_reply(f)
        s.sendall(b"STARTTLS\r\n")
        read_reply(f)
        s.sendall(b"this is not a TLS client hello\r\n" * 4)
        i.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.1\]: ")
        s.close()
        c = smtplib.SMTP("127.0.0.1", i.port, timeout=WAIT)
        self.assertEqual(c.ehlo("client.example.test")[0], 250)
        c.quit()
        self.assertFalse(re.search(r"fatal|panic", i.log()))


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_tls - TLS in postino's smtp client (smtp_tls_security_level,
smtp_tls_policy_maps, smtp_tls_wrappermode), with Postfix's semantics,
against TLS servers written here with Python's ssl module and against
Postfix's smtpd:

- may: STARTTLS when offered ("Untrusted TLS connection established to
  ..."), plaintext when not, and a failed handshake retried in
  plaintext at the same server;
- encrypt: a server without STARTTLS defers the mail with 4.7.4 "TLS is
  required, but was not offered by host ...";
- verify and secure: a chain to smtp_tls_CAfile and the peer name
  ("Verified TLS connection established to ..."); another CA defers with
  "Server certificate not trusted", another name with "Server
  certificate not verified";
- fingerprint: smtp_tls_fingerprint_cert_match / match= in the policy;
- smtp_tls_policy_maps: a level per destination;
- smtp_tls_wrappermode: TLS from the first byte (port 465);
- Postfix's smtpd as the receiver logs the TLS session.

Everything runs in a network namespace with unbound serving the zone.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import netns
from instance import Instance, WAIT, message
from smtp_peers import PostfixMx
from test_smtp_client import MAIN, MASTER  # the agents and the queue timing

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
DELIVERY_WAIT = 45

RECORDS = [
    "tls.test. MX 10 mx.tls.test.",
    "mx.tls.test. A 127.0.0.61",
    "plain.test. MX 10 mx.plain.test.",
    "mx.plain.test. A 127.0.0.62",
    "broken.test. MX 10 mx.broken.test.",
    "mx.broken.test. A 127.0.0.63",
    # right CA, wrong name (the certificate says mx.tls.test)
    "other.test. MX 10 mx.other.test.",
    "mx.other.test. A 127.0.0.64",
    # a certificate from another CA
    "rogue.test. MX 10 mx.rogue.test.",
    "mx.rogue.test. A 127.0.0.65",
    # the same server as tls.test under another destination
    "alias.test. MX 10 mx.tls.test.",
    "sts.test. MX 10 mx.tls.test.",
    "pfx.test. MX 10 mx.pfx.test.",
    "mx.pfx.test. A 127.0.0.31",
    # more destinations at the same Postfix, one per TLS level
    "pfx-may.test. MX 10 mx.pfx.test.",
    "pfx-enc.test. MX 10 mx.pfx.test.",
    "pfx-fp.test. MX 10 mx.pfx.test.",
    "pfx-sec.test. MX 10 mx.pfx.test.",
]



def openssl(*args):
    subprocess.run([OPENSSL] + list(args), check=True, capture_output=True,
                   timeout=120)


class Pki:
    """Two CAs and server certificates signed by them."""

    def __init__(self, tc):
        self.dir = tempfile.mkdtemp(prefix="postino-tlsc-")
        tc.addCleanup(shutil.rmtree, self.dir, True)
        self.ca = self._ca("ca")
        self.rogue_ca = self._ca("rogue")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name):
        openssl("req", "-x509", "-nodes", "-days", "2", "-newkey",
                "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-subj", "/CN=Test CA %s" % name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", self.path(name + "-ca.key"),
                "-out", self.path(name + "-ca.crt"))
        return name

    def server(self, name, host, ca="ca"):
        """(certificate, key) for host, signed by ca."""
        key, csr, crt = (self.path(name + ext)
                         for ext in (".key", ".csr", ".crt"))
        openssl("req", "-nodes", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-subj", "/CN=%s" % host,
                "-keyout", key, "-out", csr)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\n" % host)
        openssl("x509", "-req", "-in", csr, "-CA", self.path(ca + "-ca.crt"),
                "-CAkey", self.path(ca + "-ca.key"), "-CAcreateserial",
                "-days", "2", "-extfile", ext, "-out", crt)
        return crt, key

    def fingerprint(self, crt, digest="sha256"):
        out = subprocess.run([OPENSSL, "x509", "-noout", "-fingerprint",
                              "-" + digest, "-in", crt], check=True,
                             capture_output=True, text=True).stdout
        return out.strip().split("=", 1)[1]


class TlsMx:
    """An SMTP server on ADDRESS:PORT that offers STARTTLS (starttls),
    speaks TLS from the start (wrapper), or offers STARTTLS and then
    breaks the handshake (broken: only the first such session).  Records
    each message with the TLS version it came over (None: plaintext),
    and the commands of every session."""

    def __init__(self, tc, address, cert=None, key=None, port=25,
                 starttls=True, wrapper=False, broken=False, name="mx.test",
                 lmtp=False):
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
            self.ctx.sni_callback = self._sni
        self.starttls, self.wrapper, self.broken = starttls, wrapper, broken
        self.name, self.lmtp = name, lmtp
        self.lock = threading.Lock()
        self.messages = []          # (tls version or None, rcpts, data)
        self.sessions = []          # [commands] per session
        self.resumed = []           # per TLS handshake: session reused
        self.sni = []               # per TLS handshake: server name sent
        self.sock = socket.create_server((address, port))
        self.sock.settimeout(1)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    def _sni(self, sslobj, name, ctx):
        with self.lock:
            self.sni.append(name)

    def stop(self):
        self.running = False
        self.thread.join(timeout=10)
        self.sock.close()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,),
                             daemon=True).start()

    def _session(self, conn):
        commands = []
        with self.lock:
            self.sessions.append(commands)
            first = len(self.sessions) == 1
        conn.settimeout(WAIT)
        try:
            self._converse(conn, commands, first)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _converse(self, conn, commands, first):
        held = [conn]
        try:
            self._dialogue(held, commands, first)
        finally:
            if held[-1] is not conn:
                held[-1].close()

    def _dialogue(self, held, commands, first):
        conn = held[0]
        tls = None
        if self.wrapper:
            conn = self.ctx.wrap_socket(conn, server_side=True)
            held.append(conn)
            tls = conn.version()
        f = conn.makefile("rb")

        def say(text):
            conn.sendall(text.encode() + b"\r\n")

        say("220 %s ESMTP" % self.name)
        mail_rcpts = []
        for _ in range(1000):
            line = f.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").rstrip("\r\n")
            commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == ("LHLO" if self.lmtp else "EHLO"):
                ext = ["PIPELINING", "8BITMIME"]
                if self.starttls and tls is None and self.ctx:
                    ext.append("STARTTLS")
                lines = [self.name] + ext
                for k, ln in enumerate(lines):
                    conn.sendall(("250%s%s\r\n" % (
                        " " if k == len(lines) - 1 else "-", ln)).encode())
            elif verb == "STARTTLS":
                say("220 2.0.0 Ready to start TLS")
                if self.broken and first:
                    conn.sendall(b"this is not TLS\r\n" * 4)
                    return
                conn = self.ctx.wrap_socket(conn, server_side=True)
                held.append(conn)
                tls = conn.version()
                with self.lock:
                    self.resumed.append(conn.session_reused)
                f = conn.makefile("rb")
            elif verb == "MAIL":
                mail_rcpts = []
                say("250 2.1.0 Ok")
            elif verb == "RCPT":
                mail_rcpts.append(re.search(r"<([^>]*)>", cmd)[1])
                say("250 2.1.5 Ok")
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                data = []
                for _ in range(100000):
                    d = f.readline()
                    if not d or d == b".\r\n":
                        break
                    data.append(d)
                with self.lock:
                    self.messages.append((tls, mail_rcpts, b"".join(data)))
                for _ in (mail_rcpts if self.lmtp else [1]):
                    say("250 2.0.0 Ok: queued")
            elif verb == "QUIT":
                say("221 2.0.0 Bye")
                return
            elif verb == "RSET":
                say("250 2.0.0 Ok")
            else:
                say("502 5.5.2 Error: command not recognized")


def mta(tc, main=None, users=("alice",)):
    tc.dns = netns.Unbound(tc, RECORDS)
    conf = dict(MAIN)
    conf.update(main or {})
    i = Instance(tc, users=list(users), master_extra=MASTER, main=conf)
    i.start()
    return i


def send(i, rcpt, subject):
    sender = i.addr("alice")
    refused = i.send(sender, [rcpt], message(sender, rcpt, subject, "hi\n",
                                             {}))
    assert refused == {}, refused


def delivered(rcpt, host, addr, rest):
    return (r"to=<%s>, relay=%s\[%s\]:25, .*%s" % (
        re.escape(rcpt), re.escape(host), re.escape(addr), rest))


SENT = r"status=sent"


class SmtpTls(unittest.TestCase):

    def setUp(self):
        self.pki = Pki(self)

    def wait_log(self, i, pattern, timeout=DELIVERY_WAIT):
        try:
            return i.wait_log(pattern, timeout=timeout)
        except AssertionError:
            lines = [ln for ln in i.log().splitlines()
                     if re.search(r"smtp|qmgr|error|TLS", ln)]
            raise AssertionError("no /%s/ in the log; its smtp lines:\n%s"
                                 % (pattern, "\n".join(lines[-25:])))

    def good_mx(self, address="127.0.0.61", host="mx.tls.test", **kw):
        crt, key = self.pki.server("good-" + address, host)
        return TlsMx(self, address, crt, key, name=host, **kw), crt

    def test_may(self):
        """may: TLS where offered, plaintext where not, and a failed
        handshake retried in plaintext at the same server."""
        tls, _ = self.good_mx()
        plain = TlsMx(self, "127.0.0.62", name="mx.plain.test")
        crt, key = self.pki.server("broken", "mx.broken.test")
        broken = TlsMx(self, "127.0.0.63", crt, key, broken=True,
                       name="mx.broken.test")
        i = mta(self, {"smtp_tls_security_level": "may"})
        send(i, "bob@tls.test", "over tls")
        self.wait_log(i, delivered("bob@tls.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.wait_log(i, r"smtp\[\d+\]: Untrusted TLS connection established "
                      r"to mx\.tls\.test\[127\.0\.0\.61\]:25: TLSv1\.3 with "
                      r"cipher \S+ \(\d+/\d+ bits\)")
        self.assertEqual([(m[0], m[1]) for m in tls.messages],
                         [("TLSv1.3", ["bob@tls.test"])])
        send(i, "carol@plain.test", "no starttls")
        self.wait_log(i, delivered("carol@plain.test", "mx.plain.test",
                                   "127.0.0.62", SENT))
        self.assertEqual([(m[0], m[1]) for m in plain.messages],
                         [(None, ["carol@plain.test"])])
        send(i, "dave@broken.test", "broken handshake")
        self.wait_log(i, delivered("dave@broken.test", "mx.broken.test",
                                   "127.0.0.63", SENT))
        self.wait_log(i, r"mx\.broken\.test\[127\.0\.0\.63\]:25: TLS "
                      r"handshake failed")
        # The first session asked for TLS, the second one did not.
        self.assertEqual(len(broken.sessions), 2, broken.sessions)
        self.assertIn("STARTTLS", broken.sessions[0])
        self.assertNotIn("STARTTLS", broken.sessions[1])
        self.assertEqual([(m[0], m[1]) for m in broken.messages],
                         [(None, ["dave@broken.test"])])

    def test_encrypt(self):
        """encrypt: TLS or nothing, any certificate."""
        tls, _ = self.good_mx()
        TlsMx(self, "127.0.0.62", name="mx.plain.test")
        i = mta(self, {"smtp_tls_security_level": "encrypt",
                       "smtp_tls_mandatory_protocols": "<=TLSv1.2",
                       "smtp_tls_protocols": ">=TLSv1.3"})
        send(i, "carol@plain.test", "no starttls")
        self.wait_log(i, delivered(
            "carol@plain.test", "mx.plain.test", "127.0.0.62",
            r"dsn=4\.7\.4, status=deferred \(TLS is required, but was not "
            r"offered by host mx\.plain\.test\[127\.0\.0\.62\]\)"))
        send(i, "bob@tls.test", "over tls")
        self.wait_log(i, delivered("bob@tls.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        # A failed handshake: deferred, never retried in plaintext.
        crt, key = self.pki.server("broken", "mx.broken.test")
        broken = TlsMx(self, "127.0.0.63", crt, key, broken=True,
                       name="mx.broken.test")
        send(i, "dave@broken.test", "broken handshake")
        self.wait_log(i, delivered(
            "dave@broken.test", "mx.broken.test", "127.0.0.63",
            r"dsn=4\.7\.5, status=deferred \(Cannot start TLS: handshake "
            r"failure\)"))
        self.assertEqual(len(broken.sessions), 1, broken.sessions)
        self.assertEqual(broken.messages, [])
        # encrypt: the mandatory protocols, not smtp_tls_protocols.
        self.assertEqual([m[0] for m in tls.messages], ["TLSv1.2"])
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.tls\.test\[127\.0\.0\.61\]:25: TLSv1\.2 with "
                      r"cipher ")

    def test_verify_and_secure(self):
        """verify: the chain and the MX host name; secure: the chain and
        the next-hop domain."""
        tls, _ = self.good_mx()
        other, _ = self.good_mx("127.0.0.64")     # names mx.tls.test
        crt, key = self.pki.server("rogue", "mx.rogue.test", ca="rogue")
        rogue = TlsMx(self, "127.0.0.65", crt, key, name="mx.rogue.test")
        policy = os.path.join(self.pki.dir, "policy")
        with open(policy, "w") as f:
            f.write("alias.test secure\n")
            # as an MTA-STS policy service answers (its extra
            # attributes are ignored)
            f.write("sts.test secure match=.tls.test servername=hostname "
                    "policy_type=sts policy_domain=sts.test "
                    "mx_host_pattern=mx.tls.test\n")
        i = mta(self, {"smtp_tls_security_level": "verify",
                       "smtp_tls_CAfile": self.pki.path("ca-ca.crt"),
                       "smtp_tls_policy_maps": "texthash:" + policy})
        send(i, "bob@tls.test", "verified")
        self.wait_log(i, delivered("bob@tls.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.tls\.test\[127\.0\.0\.61\]:25: TLSv1\.3 with "
                      r"cipher \S+ \(\d+/\d+ bits\) key-exchange \S+ "
                      r"server-signature ECDSA \(prime256v1\) "
                      r"server-digest SHA256$")
        send(i, "eve@rogue.test", "another CA")
        self.wait_log(i, delivered(
            "eve@rogue.test", "mx.rogue.test", "127.0.0.65",
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"trusted\)"))
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.rogue\.test\[127\.0\.0\.65\]:25")
        send(i, "fred@other.test", "another name")
        self.wait_log(i, delivered(
            "fred@other.test", "mx.other.test", "127.0.0.64",
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"verified\)"))
        self.wait_log(i, r"Trusted TLS connection established to "
                      r"mx\.other\.test\[127\.0\.0\.64\]:25")
        # secure for alias.test: mx.tls.test is neither alias.test nor
        # one of its subdomains.
        send(i, "gil@alias.test", "secure elsewhere")
        self.wait_log(i, delivered(
            "gil@alias.test", "mx.tls.test", "127.0.0.61",
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"verified\)"))
        send(i, "hal@sts.test", "mta-sts")
        self.wait_log(i, delivered("hal@sts.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.assertEqual([m[1] for m in tls.messages],
                         [["bob@tls.test"], ["hal@sts.test"]])
        # SNI only where the policy asks for it (servername=hostname).
        self.assertEqual(tls.sni, [None, None, "mx.tls.test"])
        self.assertEqual((rogue.messages, other.messages), ([], []))

    def test_secure_dot_nexthop(self):
        tls, _ = self.good_mx()
        i = mta(self, {"smtp_tls_security_level": "secure",
                       "smtp_tls_CAfile": self.pki.path("ca-ca.crt")})
        send(i, "bob@tls.test", "secure")
        self.wait_log(i, delivered("bob@tls.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.tls\.test\[127\.0\.0\.61\]:25")
        self.assertEqual([m[0] for m in tls.messages], ["TLSv1.3"])

    def test_policy_maps_and_fingerprint(self):
        """Levels per destination: none by default; fingerprint with
        match= (right and wrong digest); encrypt for a server without
        STARTTLS."""
        tls, crt = self.good_mx()
        TlsMx(self, "127.0.0.62", name="mx.plain.test")
        other, _ = self.good_mx("127.0.0.64")
        fp = self.pki.fingerprint(crt)
        wrong = fp[:-2] + ("00" if fp[-2:] != "00" else "11")
        policy = os.path.join(self.pki.dir, "policy")
        with open(policy, "w") as f:
            f.write("tls.test fingerprint match=%s protocols=<=TLSv1.2\n"
                    % fp)
            f.write("other.test fingerprint match=%s|%s\n" % (wrong, wrong))
            f.write("plain.test encrypt\n")
        i = mta(self, {"smtp_tls_policy_maps": "texthash:" + policy,
                       "smtp_tls_fingerprint_digest": "sha256",
                       "smtp_tls_note_starttls_offer": "yes"})
        send(i, "bob@tls.test", "fingerprint")
        self.wait_log(i, delivered("bob@tls.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.tls\.test\[127\.0\.0\.61\]:25")
        send(i, "fred@other.test", "wrong fingerprint")
        self.wait_log(i, delivered(
            "fred@other.test", "mx.other.test", "127.0.0.64",
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"verified\)"))
        send(i, "carol@plain.test", "encrypt by policy")
        self.wait_log(i, delivered(
            "carol@plain.test", "mx.plain.test", "127.0.0.62",
            r"dsn=4\.7\.4, status=deferred \(TLS is required"))
        # No policy: level none, plaintext to a server offering TLS.
        send(i, "gil@alias.test", "no policy")
        self.wait_log(i, delivered("gil@alias.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.wait_log(i, r"smtp\[\d+\]: Host offered STARTTLS: "
                      r"\[mx\.tls\.test\]")
        self.assertEqual(sorted((m[1][0], m[0]) for m in tls.messages),
                         [("bob@tls.test", "TLSv1.2"),
                          ("gil@alias.test", None)])
        self.assertEqual(other.messages, [])

    def test_fingerprint_parameter(self):
        tls, crt = self.good_mx()
        i = mta(self, {"smtp_tls_security_level": "fingerprint",
                       "smtp_tls_fingerprint_digest": "sha1",
                       "smtp_tls_fingerprint_cert_match":
                           self.pki.fingerprint(crt, "sha1")})
        send(i, "bob@tls.test", "fingerprint")
        self.wait_log(i, delivered("bob@tls.test", "mx.tls.test",
                                   "127.0.0.61", SENT))
        self.assertEqual([m[0] for m in tls.messages], ["TLSv1.3"])

    def test_wrappermode(self):
        crt, key = self.pki.server("wrap", "mx.tls.test")
        wrap = TlsMx(self, "127.0.0.61", crt, key, port=465, wrapper=True,
                     name="mx.tls.test")
        i = mta(self, {"smtp_tls_wrappermode": "yes",
                       "smtp_tls_security_level": "encrypt",
                       "relayhost": "[127.0.0.61]:465"})
        send(i, "bob@tls.test", "wrapper")
        self.wait_log(i, r"to=<bob@tls\.test>, relay=127\.0\.0\.61\["
                      r"127\.0\.0\.61\]:465, .*status=sent")
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"127\.0\.0\.61\[127\.0\.0\.61\]:465")
        self.assertEqual([m[0] for m in wrap.messages], ["TLSv1.3"])

    def test_session_resumed(self):
        """The second connection to a server resumes the first one's
        TLS session."""
        tls, _ = self.good_mx()
        i = mta(self, {"smtp_tls_security_level": "may",
                       "smtp_connection_cache_on_demand": "no"})
        for n in range(2):
            send(i, "bob%d@tls.test" % n, "resume %d" % n)
            self.wait_log(i, delivered("bob%d@tls.test" % n, "mx.tls.test",
                                       "127.0.0.61", SENT))
        self.assertEqual([m[0] for m in tls.messages], ["TLSv1.3"] * 2)
        self.assertEqual(len(tls.sessions), 2)
        self.assertEqual(tls.resumed, [False, True])

    def test_lmtp(self):
        """lmtp_tls_* for the lmtp client, through the same code."""
        crt, key = self.pki.server("lmtp", "lmtp.tls.test")
        srv = TlsMx(self, "127.0.0.66", crt, key, port=24, lmtp=True,
                    name="lmtp.tls.test")
        tmap = os.path.join(self.pki.dir, "transport")
        with open(tmap, "w") as f:
            f.write("lm.test lmtp:inet:127.0.0.66:24\n")
        i = mta(self, {"transport_maps": "texthash:" + tmap,
                       "lmtp_tls_security_level": "verify",
                       "lmtp_tls_verify_cert_match": "lmtp.tls.test",
                       "lmtp_tls_CAfile": self.pki.path("ca-ca.crt")})
        send(i, "bob@lm.test", "over lmtp")
        self.wait_log(i, r"to=<bob@lm\.test>, relay=127\.0\.0\.66\["
                      r"127\.0\.0\.66\]:24, .*status=sent")
        self.wait_log(i, r"lmtp\[\d+\]: Verified TLS connection established "
                      r"to 127\.0\.0\.66\[127\.0\.0\.66\]:24: TLSv1\.3")
        self.assertEqual([(m[0], m[1]) for m in srv.messages],
                         [("TLSv1.3", ["bob@lm.test"])])

    def test_postfix_receiver(self):
        """Postfix's smtpd with STARTTLS receives from postino at each
        TLS level (verify by default; may, encrypt, fingerprint and
        secure through smtp_tls_policy_maps for other destinations at
        the same Postfix) and logs every TLS session."""
        crt, key = self.pki.server("pfx", "mx.pfx.test")
        chain = os.path.join(self.pki.dir, "pfx-chain.pem")
        with open(chain, "w") as out:
            for p in (key, crt):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(chain, 0o644)
        levels = {"pfx-may.test": ("may", "Trusted"),
                  "pfx-enc.test": ("encrypt", "Trusted"),
                  "pfx-fp.test": ("fingerprint match=%s"
                                  % self.pki.fingerprint(crt), "Verified"),
                  "pfx-sec.test": ("secure match=mx.pfx.test", "Verified")}
        pfx = PostfixMx(self, "127.0.0.31", "pfx.test", users=["bob"],
                        extra_main={"smtpd_tls_security_level": "may",
                                    "smtpd_tls_chain_files": chain,
                                    "smtpd_tls_loglevel": "1",
                                    "virtual_alias_domains":
                                        " ".join(sorted(levels)),
                                    "virtual_alias_maps":
                                        "static:bob@pfx.test"})
        policy = os.path.join(self.pki.dir, "pfx-policy")
        with open(policy, "w") as f:
            for dom, (level, _) in sorted(levels.items()):
                f.write("%s %s\n" % (dom, level))
        i = mta(self, {"smtp_tls_security_level": "verify",
                       "smtp_tls_CAfile": self.pki.path("ca-ca.crt"),
                       "smtp_tls_policy_maps": "texthash:" + policy})
        send(i, "bob@pfx.test", "to postfix over tls")
        self.wait_log(i, delivered("bob@pfx.test", "mx.pfx.test",
                                   "127.0.0.31", SENT))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.pfx\.test\[127\.0\.0\.31\]:25: TLSv1\.3")
        msgs = pfx.wait_maildir("bob", 1)
        self.assertIn(b"to postfix over tls", msgs[0])
        for dom, (level, trust) in sorted(levels.items()):
            rcpt = "bob@" + dom
            send(i, rcpt, "at level " + level.split()[0])
            self.wait_log(i, delivered(rcpt, "mx.pfx.test", "127.0.0.31",
                                       SENT))
        self.assertEqual(len(re.findall(
            r"Trusted TLS connection established to mx\.pfx\.test"
            r"\[127\.0\.0\.31\]:25: TLSv1\.3", i.log())), 2)
        self.assertEqual(len(re.findall(
            r"Verified TLS connection established to mx\.pfx\.test"
            r"\[127\.0\.0\.31\]:25: TLSv1\.3", i.log())), 3)
        msgs = pfx.wait_maildir("bob", 5)
        for level in ("may", "encrypt", "fingerprint", "secure"):
            self.assertEqual(len([m for m in msgs
                                  if b"at level " + level.encode() in m]),
                             1, level)
        self.assertEqual(len(re.findall(
            r"Anonymous TLS connection established from \S+"
            r"\[127\.0\.0\.1\]: TLSv1\.3", pfx.log())), 5)


    def test_postfix_receiver_client_cert(self):
        """postino presents smtp_tls_chain_files to Postfix's smtpd,
        which asks for a client certificate and verifies it with the
        same CA."""
        crt, key = self.pki.server("pfx", "mx.pfx.test")
        ccrt, ckey = self.pki.server("relay", "relay.example.test")
        chains = []
        for name, (k, c) in (("pfx", (key, crt)), ("relay", (ckey, ccrt))):
            chain = os.path.join(self.pki.dir, name + "-chain.pem")
            with open(chain, "w") as out:
                for p in (k, c):
                    with open(p) as f:
                        out.write(f.read())
            os.chmod(chain, 0o644)
            chains.append(chain)
        pfx = PostfixMx(self, "127.0.0.31", "pfx.test", users=["bob"],
                        extra_main={"smtpd_tls_security_level": "may",
                                    "smtpd_tls_chain_files": chains[0],
                                    "smtpd_tls_ask_ccert": "yes",
                                    "smtpd_tls_CAfile":
                                        self.pki.path("ca-ca.crt"),
                                    "smtpd_tls_received_header": "yes",
                                    "smtpd_tls_loglevel": "1"})
        i = mta(self, {"smtp_tls_security_level": "verify",
                       "smtp_tls_CAfile": self.pki.path("ca-ca.crt"),
                       "smtp_tls_chain_files": chains[1]})
        send(i, "bob@pfx.test", "client certificate to postfix")
        self.wait_log(i, delivered("bob@pfx.test", "mx.pfx.test",
                                   "127.0.0.31", SENT))
        msgs = pfx.wait_maildir("bob", 1)
        self.assertIn(b'(Client CN "relay.example.test", Issuer '
                      b'"Test CA ca" (verified OK))', msgs[0])
        self.assertRegex(pfx.log(), r"Trusted TLS connection established "
                         r"from \S+\[127\.0\.0\.1\]: TLSv1\.3")

if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()

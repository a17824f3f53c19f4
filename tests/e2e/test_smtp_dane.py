#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_smtp_dane - DANE (RFC 7672) in postino's smtp client, with
Postfix's semantics (smtp_tls_security_level = dane / dane-only,
smtp_dns_support_level = dnssec), against a real DNSSEC-signed zone.

The DNS: the zone dane.test is signed at test time (ldns-keygen,
ldns-signzone: a KSK and a ZSK, in a temporary directory) and served,
with the unsigned zone plain.test, by an authoritative unbound
(auth-zone) on 127.0.0.2; the resolver of the namespace, 127.0.0.1, is a
second unbound that validates dane.test with the KSK as its trust anchor
(stub zones to 127.0.0.2).  One TLSA RRSIG is corrupted after signing:
that TLSA lookup is bogus (SERVFAIL).  The setup checks with real
queries that validated answers carry the AD bit and the others do not.

The servers are TLS SMTP servers (test_smtp_tls.TlsMx) with certificates
made by openssl at test time, one per MX host:

  good     DANE-EE(3) SPKI(1) SHA-256(1) of its self-signed certificate:
           delivered, "Verified TLS connection established"
  alias    an MX host that is a CNAME of good's: the TLSA records of the
           name the CNAME leads to (RFC 7672 section 2.2.3)
  ta       DANE-TA(2) of the CA that signed its certificate: verified
  wrong    a TLSA record for another key: deferred "Server certificate
           not verified", nothing sent, no plaintext retry
  notlsa   no TLSA records (signed NODATA): opportunistic TLS (may)
  plain    unsigned zone (its TLSA record is ignored): may
  bogus    TLSA with a bad signature: "TLSA lookup error", deferred,
           never connected
  unusable only a PKIX-EE(1) record: mandatory TLS without
           authentication (encrypt): a server without STARTTLS defers
  only     a smtp_tls_policy_maps entry "dane-only" for a host without
           TLSA records: deferred

Also: a policy map entry "dane" under level may, and level dane without
smtp_dns_support_level = dnssec (a warning, then may).
"""
import hashlib
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import netns
from instance import Instance
from postino_testlib import poll_until
from test_smtp_client import MAIN, MASTER
from test_smtp_tls import DELIVERY_WAIT, OPENSSL, Pki, TlsMx, delivered, send

LDNS_KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"

AUTH = "127.0.0.2"
T_MX, T_TLSA = 15, 52

# name -> MX host address
HOSTS = {"good": "127.0.0.71", "ta": "127.0.0.72", "wrong": "127.0.0.73",
         "notlsa": "127.0.0.74", "bogus": "127.0.0.75",
         "unusable": "127.0.0.76"}
PLAIN_ADDR = "127.0.0.77"

SENT = r"status=sent"

AUTH_CONF = """server:
    interface: {address}@53
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/auth.pid"
    logfile: "{dir}/auth.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    module-config: "iterator"
    trust-anchor-file: ""
    auto-trust-anchor-file: ""
    access-control: 127.0.0.0/8 allow
    local-zone: "test." nodefault
{zones}"""

VALIDATOR_CONF = """server:
    interface: 127.0.0.1@53
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/validator.pid"
    logfile: "{dir}/validator.log"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    module-config: "validator iterator"
    trust-anchor-file: "{anchor}"
    auto-trust-anchor-file: ""
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    qname-minimisation: no
    harden-referral-path: no
    local-zone: "invalid." static
    # unbound answers test. itself (RFC 6761) unless told not to
    local-zone: "test." nodefault
{stubs}"""


def run(*argv, cwd=None):
    r = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError("%s: rc=%d %s%s" % (" ".join(argv),
                                                 r.returncode, r.stdout,
                                                 r.stderr))
    return r.stdout


def spki_sha256(crt):
    """The TLSA 3 1 1 data of a certificate: SHA-256 of its
    SubjectPublicKeyInfo."""
    pem = run(OPENSSL, "x509", "-in", crt, "-noout", "-pubkey")
    der = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"],
                         input=pem.encode(), capture_output=True, check=True,
                         timeout=60).stdout
    return hashlib.sha256(der).hexdigest()


def cert_sha256(crt):
    """The TLSA 2 0 1 data: SHA-256 of the whole certificate."""
    der = subprocess.run([OPENSSL, "x509", "-in", crt, "-outform", "DER"],
                         capture_output=True, check=True, timeout=60).stdout
    return hashlib.sha256(der).hexdigest()


def self_signed(directory, name, host):
    crt = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    run(OPENSSL, "req", "-x509", "-nodes", "-days", "2", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:P-256", "-subj", "/CN=%s" % host,
        "-addext", "subjectAltName=DNS:%s" % host,
        "-keyout", key, "-out", crt)
    return crt, key


def ad_query(name, qtype, server="127.0.0.1", timeout=5.0):
    """One UDP question with AD and EDNS0 DO set; (rcode, AD bit, answer
    count), or None without an answer."""
    qid = secrets.randbelow(65536)
    msg = (struct.pack("!HHHHHH", qid, 0x0120, 1, 0, 0, 1)
           + netns.encode_name(name) + struct.pack("!HH", qtype, 1)
           + b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (server, 53))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                return None
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                flags, _, ancount = struct.unpack("!HHH", data[2:8])
                return flags & 0xF, bool(flags & 0x20), ancount
    return None


class SignedDns:
    """The signed zone dane.test and the unsigned plain.test, served by an
    authoritative unbound on 127.0.0.2 and validated by the resolver
    unbound on 127.0.0.1.  tlsa maps a host name of HOSTS to its TLSA
    record data ("3 1 1 ab..."); the record of "bogus" gets a broken
    signature."""

    def __init__(self, tc, tlsa, plain_tlsa):
        for prog in (LDNS_KEYGEN, LDNS_SIGNZONE, netns.UNBOUND):
            if not os.access(prog, os.X_OK):
                raise AssertionError("%s is not installed (Debian: "
                                     "ldnsutils, unbound)" % prog)
        self.dir = tempfile.mkdtemp(prefix="postino-dane-dns-")
        os.chmod(self.dir, 0o755)
        tc.addCleanup(shutil.rmtree, self.dir, True)
        zone = ["$ORIGIN dane.test.", "$TTL 300",
                "@ SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 "
                "86400 300",
                "@ NS ns.dane.test.", "ns A %s" % AUTH,
                "only MX 10 mx.notlsa",
                # an MX host that is an alias of mx.good
                "alias MX 10 mx.alias", "mx.alias CNAME mx.good"]
        for name, addr in HOSTS.items():
            zone += ["%s MX 10 mx.%s" % (name, name),
                     "mx.%s A %s" % (name, addr)]
            if name in tlsa:
                zone.append("_25._tcp.mx.%s TLSA %s" % (name, tlsa[name]))
        self.write("dane.test", zone)
        ksk = run(LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", "dane.test",
                  cwd=self.dir).strip()
        zsk = run(LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "dane.test",
                  cwd=self.dir).strip()
        # Valid from yesterday: no clock skew questions.
        yesterday = time.strftime("%Y%m%d", time.gmtime(time.time() - 86400))
        run(LDNS_SIGNZONE, "-i", yesterday, "-f", "dane.test.signed",
            "dane.test", zsk, ksk, cwd=self.dir)
        self.corrupt_signature("dane.test.signed",
                               "_25._tcp.mx.bogus.dane.test.", "TLSA")
        self.write("plain.test", [
            "$ORIGIN plain.test.", "$TTL 300",
            "@ SOA ns.plain.test. hostmaster.plain.test. 1 3600 600 86400 "
            "300", "@ NS ns.plain.test.", "ns A %s" % AUTH,
            "@ MX 10 mx", "mx A %s" % PLAIN_ADDR,
            "_25._tcp.mx TLSA %s" % plain_tlsa])
        zones = []
        for name, f in (("dane.test", "dane.test.signed"),
                        ("plain.test", "plain.test")):
            zones.append('auth-zone:\n    name: "%s."\n    zonefile: "%s"\n'
                         '    for-downstream: yes\n    for-upstream: no\n'
                         '    fallback-enabled: no\n'
                         % (name, os.path.join(self.dir, f)))
        self.auth = self.start("auth", AUTH_CONF.format(
            address=AUTH, dir=self.dir, zones="".join(zones)), AUTH,
            "dane.test", tc)
        stubs = "".join('stub-zone:\n    name: "%s."\n    stub-addr: %s\n'
                        % (z, AUTH) for z in ("dane.test", "plain.test"))
        self.validator = self.start("validator", VALIDATOR_CONF.format(
            dir=self.dir, anchor=os.path.join(self.dir, ksk + ".key"),
            stubs=stubs), "127.0.0.1", "probe.invalid", tc)

    def write(self, name, lines):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    def corrupt_signature(self, fname, owner, covered):
        path = os.path.join(self.dir, fname)
        with open(path) as f:
            lines = f.read().splitlines()
        done = 0
        for k, ln in enumerate(lines):
            fields = ln.split()
            if (len(fields) > 5 and fields[0] == owner
                    and fields[3] == "RRSIG" and fields[4] == covered):
                sig = fields[-1]
                c = "A" if sig[20] != "A" else "B"
                fields[-1] = sig[:20] + c + sig[21:]
                lines[k] = "\t".join(fields)
                done += 1
        if done != 1:
            raise AssertionError("no RRSIG %s of %s in %s" % (covered, owner,
                                                             fname))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, name, conf, address, probe, tc):
        path = os.path.join(self.dir, name + ".conf")
        with open(path, "w") as f:
            f.write(conf)
        run(netns.UNBOUND + "-checkconf", path)
        proc = subprocess.Popen([netns.UNBOUND, "-d", "-c", path],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        tc.addCleanup(netns.stop_process, proc)

        def up():
            if proc.poll() is not None:
                raise AssertionError("unbound (%s) exited with %d: %s %s" % (
                    name, proc.returncode,
                    proc.stderr.read().decode(errors="replace"),
                    self.log(name)))
            return netns.query(probe, "A", address, 53,
                               timeout=0.5) is not None
        poll_until("unbound (%s) answering on %s" % (name, address), up,
                   timeout=30)
        return proc

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class SmtpDane(unittest.TestCase):

    def setUp(self):
        self.pki = Pki(self)
        self.certs = {}
        for name in ("good", "wrong", "notlsa", "bogus", "unusable"):
            self.certs[name] = self_signed(self.pki.dir, name,
                                           "mx.%s.dane.test" % name)
        crt, key = self.pki.server("ta", "mx.ta.dane.test")
        chain = self.pki.path("ta-chain.crt")
        with open(chain, "w") as out:
            for p in (crt, self.pki.path("ca-ca.crt")):
                with open(p) as f:
                    out.write(f.read())
        self.certs["ta"] = (chain, key)
        self.certs["plain"] = self_signed(self.pki.dir, "plain",
                                          "mx.plain.test")
        other = spki_sha256(self_signed(self.pki.dir, "other",
                                        "mx.other.test")[0])
        tlsa = {
            "good": "3 1 1 " + spki_sha256(self.certs["good"][0]),
            "ta": "2 0 1 " + cert_sha256(self.pki.path("ca-ca.crt")),
            "wrong": "3 1 1 " + other,
            "bogus": "3 1 1 " + spki_sha256(self.certs["bogus"][0]),
            # PKIX-EE: not for SMTP (RFC 7672 section 3.1.3)
            "unusable": "1 1 1 " + spki_sha256(self.certs["unusable"][0]),
        }
        self.dns = SignedDns(self, tlsa, "3 1 1 " + other)
        self.check_dns()

    def check_dns(self):
        """The resolver validates dane.test (AD), not plain.test, and
        answers SERVFAIL for the record with the broken signature."""
        checks = [
            # (rcode, AD, any answer records)
            ("good.dane.test", T_MX, (0, True, True)),
            ("mx.good.dane.test", 1, (0, True, True)),
            ("mx.alias.dane.test", 1, (0, True, True)),
            ("_25._tcp.mx.good.dane.test", T_TLSA, (0, True, True)),
            ("_25._tcp.mx.notlsa.dane.test", T_TLSA, (3, True, False)),
            ("plain.test", T_MX, (0, False, True)),
            ("_25._tcp.mx.plain.test", T_TLSA, (0, False, True)),
            ("_25._tcp.mx.bogus.dane.test", T_TLSA, (2, False, False)),
        ]
        for name, qtype, want in checks:
            got = ad_query(name, qtype)
            got = got and (got[0], got[1], got[2] > 0)
            self.assertEqual(got, want, "%s type %d: %s\n%s" % (
                name, qtype, got, self.dns.log("validator")[-3000:]))

    def servers(self, plain=()):
        """A STARTTLS server per MX host (those in plain: no TLS)."""
        srv = {}
        for name, addr in HOSTS.items():
            host = "mx.%s.dane.test" % name
            if name in plain:
                srv[name] = TlsMx(self, addr, name=host)
            else:
                crt, key = self.certs[name]
                srv[name] = TlsMx(self, addr, crt, key, name=host)
        crt, key = self.certs["plain"]
        srv["plain"] = TlsMx(self, PLAIN_ADDR, crt, key,
                             name="mx.plain.test")
        return srv

    def mta(self, main):
        conf = dict(MAIN)
        conf.update(main)
        i = Instance(self, users=["alice"], master_extra=MASTER, main=conf)
        i.start()
        return i

    def wait_log(self, i, pattern, timeout=DELIVERY_WAIT):
        try:
            return i.wait_log(pattern, timeout=timeout)
        except AssertionError:
            lines = [ln for ln in i.log().splitlines()
                     if re.search(r"smtp|qmgr|error|TLS|warning", ln)]
            raise AssertionError("no /%s/ in the log; its smtp lines:\n%s"
                                 % (pattern, "\n".join(lines[-25:])))

    def test_dane(self):
        srv = self.servers(plain=("unusable",))
        policy = os.path.join(self.pki.dir, "policy")
        with open(policy, "w") as f:
            f.write("only.dane.test dane-only\n")
        i = self.mta({"smtp_tls_security_level": "dane",
                      "smtp_dns_support_level": "dnssec",
                      "smtp_tls_policy_maps": "texthash:" + policy})

        # DANE-EE: verified by the TLSA record, SNI is the MX host.
        send(i, "bob@good.dane.test", "dane-ee")
        self.wait_log(i, delivered("bob@good.dane.test", "mx.good.dane.test",
                                   HOSTS["good"], SENT))
        self.wait_log(i, r"smtp\[\d+\]: Verified TLS connection established "
                      r"to mx\.good\.dane\.test\[127\.0\.0\.71\]:25: "
                      r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)")
        self.assertEqual([(m[0], m[1]) for m in srv["good"].messages],
                         [("TLSv1.3", ["bob@good.dane.test"])])
        self.assertEqual(srv["good"].sni, ["mx.good.dane.test"])

        # An alias: the records of the CNAME's target, its name as SNI.
        send(i, "bob@alias.dane.test", "dane-ee through a cname")
        self.wait_log(i, delivered("bob@alias.dane.test",
                                   "mx.alias.dane.test", HOSTS["good"], SENT))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.alias\.dane\.test\[127\.0\.0\.71\]:25")
        self.assertEqual(srv["good"].sni, ["mx.good.dane.test"] * 2)

        # DANE-TA: the CA in the server's chain, the MX host's name.
        send(i, "bob@ta.dane.test", "dane-ta")
        self.wait_log(i, delivered("bob@ta.dane.test", "mx.ta.dane.test",
                                   HOSTS["ta"], SENT))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.ta\.dane\.test\[127\.0\.0\.72\]:25")

        # A TLSA record for another key: deferred, nothing sent, no
        # plaintext retry.
        send(i, "carol@wrong.dane.test", "wrong tlsa")
        self.wait_log(i, delivered(
            "carol@wrong.dane.test", "mx.wrong.dane.test", HOSTS["wrong"],
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"verified\)"))
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.wrong\.dane\.test\[127\.0\.0\.73\]:25")
        self.assertEqual(srv["wrong"].messages, [])
        self.assertEqual(len(srv["wrong"].sessions), 1,
                         srv["wrong"].sessions)
        self.assertNotIn("MAIL", " ".join(srv["wrong"].sessions[0]))

        # Signed zone, no TLSA records: opportunistic TLS.
        send(i, "dave@notlsa.dane.test", "no tlsa")
        self.wait_log(i, delivered("dave@notlsa.dane.test",
                                   "mx.notlsa.dane.test", HOSTS["notlsa"],
                                   SENT))
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.notlsa\.dane\.test\[127\.0\.0\.74\]:25")

        # Unsigned zone: its (wrong) TLSA record is not used.
        send(i, "erin@plain.test", "insecure zone")
        self.wait_log(i, delivered("erin@plain.test", "mx.plain.test",
                                   PLAIN_ADDR, SENT))
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.plain\.test\[127\.0\.0\.77\]:25")
        self.assertEqual([m[0] for m in srv["plain"].messages], ["TLSv1.3"])

        # A bogus TLSA signature: a lookup error, never connected.
        send(i, "fred@bogus.dane.test", "bogus tlsa")
        self.wait_log(i, r"to=<fred@bogus\.dane\.test>, relay=none, .*"
                      r"dsn=4\.7\.5, status=deferred \(TLSA lookup error "
                      r"for mx\.bogus\.dane\.test:25\)")
        self.assertEqual(srv["bogus"].sessions, [])

        # Only unusable records: TLS is mandatory, not authenticated.
        send(i, "gil@unusable.dane.test", "unusable tlsa")
        self.wait_log(i, delivered(
            "gil@unusable.dane.test", "mx.unusable.dane.test",
            HOSTS["unusable"], r"dsn=4\.7\.4, status=deferred \(TLS is "
            r"required, but was not offered by host "
            r"mx\.unusable\.dane\.test\[127\.0\.0\.76\]\)"))
        self.wait_log(i, r"warning: _25\._tcp\.mx\.unusable\.dane\.test: all "
                      r"1 TLSA records unusable")
        self.assertEqual(srv["unusable"].messages, [])

        # dane-only (policy map) without TLSA records: deferred.
        send(i, "hal@only.dane.test", "dane-only")
        self.wait_log(i, r"to=<hal@only\.dane\.test>, relay=none, .*"
                      r"dsn=4\.7\.5, status=deferred \(TLS is required, but "
                      r"no DNSSEC-validated TLSA records were found for host "
                      r"mx\.notlsa\.dane\.test\)")
        self.assertEqual([m[1] for m in srv["notlsa"].messages],
                         [["dave@notlsa.dane.test"]])

    def test_policy_map_dane(self):
        """A smtp_tls_policy_maps entry "dane" under level may."""
        srv = self.servers()
        policy = os.path.join(self.pki.dir, "policy")
        with open(policy, "w") as f:
            f.write("wrong.dane.test dane\n")
        i = self.mta({"smtp_tls_security_level": "may",
                      "smtp_dns_support_level": "dnssec",
                      "smtp_tls_policy_maps": "texthash:" + policy})
        send(i, "carol@wrong.dane.test", "wrong tlsa")
        self.wait_log(i, delivered(
            "carol@wrong.dane.test", "mx.wrong.dane.test", HOSTS["wrong"],
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"verified\)"))
        # Level may elsewhere: the TLSA record of good is not looked at.
        send(i, "bob@good.dane.test", "may")
        self.wait_log(i, delivered("bob@good.dane.test", "mx.good.dane.test",
                                   HOSTS["good"], SENT))
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.good\.dane\.test\[127\.0\.0\.71\]:25")
        self.assertEqual(srv["wrong"].messages, [])

    def test_dane_without_dnssec(self):
        """Level dane without smtp_dns_support_level = dnssec: a warning,
        and may (the wrong TLSA record is never looked up)."""
        srv = self.servers()
        i = self.mta({"smtp_tls_security_level": "dane"})
        send(i, "carol@wrong.dane.test", "no dnssec")
        self.wait_log(i, delivered("carol@wrong.dane.test",
                                   "mx.wrong.dane.test", HOSTS["wrong"],
                                   SENT))
        self.wait_log(i, r"warning: TLS level dane requires "
                      r"smtp_dns_support_level = dnssec: using level may")
        self.wait_log(i, r"Untrusted TLS connection established to "
                      r"mx\.wrong\.dane\.test\[127\.0\.0\.73\]:25")
        self.assertEqual([m[0] for m in srv["wrong"].messages], ["TLSv1.3"])


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()

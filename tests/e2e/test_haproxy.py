#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_haproxy - smtpd_upstream_proxy_protocol = haproxy (a load
balancer in front of smtpd), with Debian's Postfix as the oracle.

Postfix (PostfixMx) and postino get the same client restrictions and the
same PROXY protocol headers, and every reply the client sees must agree
(the greeting, the replies that name the client, or the 421 that ends
the connection): version 1 (TCP4, TCP6), version 2 (PROXY over IPv4 and
IPv6, LOCAL, with a TLV), the header with SMTP right behind it in one
packet, IPv6 with and without inet_protocols, and the bad cases (no
header, garbage, a bad address, an unknown protocol, a header that never
ends, nothing at all) that end the connection.  The log names the
proxied client.  Two differences are deliberate and tested on postino
alone: a header that comes in pieces is put together (Postfix wants it
in one read), and "PROXY UNKNOWN" keeps the connection's own addresses
as the protocol says (Postfix 3.7 answers 421).
"""
import re
import socket
import struct
import time
import unittest

from instance import Instance, WAIT
from postino_testlib import poll_until
from smtp_peers import PostfixMx
from test_xclient import read_reply

PFX_DOMAIN = "pfx.test"
PFX_ADDR = "127.0.0.88"

CLIENT_TABLE = r"""
/^192\.0\.2\./ REJECT bad network
/^2001:db8:bad:/ REJECT bad v6 network
"""

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H",
                                                          len(body)) + body


def v2_tcp4(src, dst, sport, dport, tlv=b""):
    return v2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst)
              + struct.pack("!HH", sport, dport) + tlv)


def v2_tcp6(src, dst, sport, dport):
    return v2(1, 0x21, socket.inet_pton(socket.AF_INET6, src)
              + socket.inet_pton(socket.AF_INET6, dst)
              + struct.pack("!HH", sport, dport))


# name -> (pieces of the header, with pauses between them; commands)
DIALOG = ["EHLO client.example", "MAIL FROM:<a@example.org>",
          "RCPT TO:<bob@DOMAIN>", "RCPT TO:<x@remote.example>", "QUIT"]
CASES = {
    "v1-tcp4-bad": ([b"PROXY TCP4 192.0.2.1 10.0.0.1 40000 25\r\n"], DIALOG),
    "v1-tcp4-outside": ([b"PROXY TCP4 198.51.100.7 10.0.0.1 40000 25\r\n"],
                        DIALOG),
    "v1-tcp4-inside": ([b"PROXY TCP4 127.0.0.9 10.0.0.1 40000 25\r\n"],
                       DIALOG),
    "v1-tcp6": ([b"PROXY TCP6 2001:db8:bad::1 2001:db8::25 40000 25\r\n"],
                DIALOG),

    "v1-with-smtp": ([b"PROXY TCP4 198.51.100.7 10.0.0.1 40000 25\r\n"
                      b"EHLO early.example\r\n"], ["QUIT"]),
    "v2-tcp4-bad": ([v2_tcp4("192.0.2.1", "10.0.0.1", 40000, 25)], DIALOG),
    "v2-tcp4-tlv": ([v2_tcp4("198.51.100.7", "10.0.0.1", 40000, 25,
                             b"\x01\x00\x02h2")], DIALOG),
    "v2-tcp6": ([v2_tcp6("2001:db8:bad::1", "2001:db8::25", 40000, 25)],
                DIALOG),
    "v2-local": ([v2(0, 0, b"")], DIALOG),
    "no-header": ([b"EHLO client.example\r\n"], []),
    "garbage": ([b"GET / HTTP/1.0\r\n\r\n"], []),
    "v1-bad-address": ([b"PROXY TCP4 300.1.2.3 10.0.0.1 40000 25\r\n"], []),
    "v1-bad-protocol": ([b"PROXY UDP4 192.0.2.1 10.0.0.1 40000 25\r\n"], []),
    "v1-endless": ([b"PROXY TCP4 " + b"1" * 200], []),
    "silent": ([], []),
}
# postino only (see above).
OURS = {
    "v1-unknown": ([b"PROXY UNKNOWN\r\n"], DIALOG),
    "v1-pieces": ([b"PROXY TCP4 192.0", b".2.1 10.0.0.1 4", b"0000 25\r\n"],
                  DIALOG),
    "v2-pieces": ([v2_tcp4("192.0.2.1", "10.0.0.1", 40000, 25)[:7],
                   v2_tcp4("192.0.2.1", "10.0.0.1", 40000, 25)[7:14],
                   v2_tcp4("192.0.2.1", "10.0.0.1", 40000, 25)[14:]],
                  DIALOG),
}


def run(host, port, pieces, commands, domain):
    s = socket.create_connection((host, port), timeout=WAIT)
    f = s.makefile("rb")
    out = []
    try:
        for n, piece in enumerate(pieces):
            if n:
                time.sleep(0.2)
            s.sendall(piece)
        out.append(read_reply(f))
        if out[-1].startswith("220") and pieces and b"EHLO early" in \
                pieces[-1]:
            out.append(read_reply(f).split("\n")[0][:3])
        for line in commands:
            if not out[0].startswith("220") or out[-1] == "(EOF)":
                break
            s.sendall(line.replace("DOMAIN", domain).encode() + b"\r\n")
            r = read_reply(f)
            out.append(r.split("\n")[0][:3] if line.startswith("EHLO")
                       else r)
    except OSError as e:
        out.append("(%s)" % type(e).__name__)
    finally:
        f.close()
        s.close()
    return out


class HaproxyAsPostfix(unittest.TestCase):
    maxDiff = None

    def pair(self, extra=None):
        i = Instance(self, users=("bob",))
        path = i.dir + "/client"
        with open(path, "w") as f:
            f.write(CLIENT_TABLE.lstrip())
        main = {
            "smtpd_upstream_proxy_protocol": "haproxy",
            "smtpd_upstream_proxy_timeout": "2s",
            "smtpd_peername_lookup": "no",
            "smtpd_banner": "$myhostname ESMTP test",
            "smtpd_client_restrictions": "check_client_access regexp:" + path,
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "mynetworks": "127.0.0.0/8",
        }
        main.update(extra or {})
        i.set_main(**main)
        i.start()
        pfx = PostfixMx(self, address=PFX_ADDR, domain=PFX_DOMAIN,
                        users=("bob",), extra_main=main)
        return i, pfx

    def compare(self, i, names):
        ours_bob = i.addr("bob")
        diffs, got = [], {}
        for name in names:
            pieces, commands = CASES[name]
            theirs = run(PFX_ADDR, 25, pieces, commands, PFX_DOMAIN)
            ours = run("127.0.0.1", i.port, pieces,
                       [c.replace("bob@DOMAIN", ours_bob) for c in commands],
                       "unused")
            theirs = [x.replace("mx." + PFX_DOMAIN, "HOST")
                      .replace("bob@" + PFX_DOMAIN, "BOB") for x in theirs]
            ours = [x.replace("mx.example.test", "HOST")
                    .replace(ours_bob, "BOB") for x in ours]
            got[name] = theirs
            if theirs != ours:
                diffs.append("%s:\n  Postfix %r\n  postino %r"
                             % (name, theirs, ours))
        self.assertEqual(diffs, [], "\n".join(diffs))
        return got

    def ours(self, i, name):
        pieces, commands = OURS[name]
        return run("127.0.0.1", i.port, pieces,
                   [c.replace("bob@DOMAIN", i.addr("bob")) for c in commands],
                   "unused")

    def test_same_as_postfix(self):
        i, pfx = self.pair()
        got = self.compare(i, list(CASES))
        # The oracle did what the cases mean.
        self.assertIn("Client host rejected: bad network",
                      got["v1-tcp4-bad"][3])
        self.assertEqual(got["no-header"][0][:9], "421 4.3.0")
        self.assertEqual(got["v1-tcp6"][0][:9], "421 4.3.0")
        # postino alone: UNKNOWN is the proxy itself (in mynetworks: it
        # relays); headers in pieces.
        r = self.ours(i, "v1-unknown")
        self.assertEqual(r[4][:3], "250", r)
        for name in ("v1-pieces", "v2-pieces"):
            r = self.ours(i, name)
            self.assertIn("Client host rejected: bad network", r[3], r)
        # The log names the proxied client.
        i.wait_log(r"connect from unknown\[198\.51\.100\.7\]")
        poll_until("the warnings", lambda: len(re.findall(
            r"warning: haproxy read: ", i.log())) >= 6, timeout=WAIT)
        # Still serving.
        self.assertEqual(run("127.0.0.1", i.port,
                             [b"PROXY TCP4 127.0.0.9 10.0.0.1 1 25\r\n"],
                             ["QUIT"], "")[1][:3], "221")
        i.check_sanitizer()

    def test_ipv6(self):
        """inet_protocols = all: IPv6 clients, in both versions."""
        i, pfx = self.pair({"inet_protocols": "all"})
        got = self.compare(i, ["v1-tcp6", "v2-tcp6", "v1-tcp4-bad"])
        self.assertIn("bad v6 network", got["v1-tcp6"][3])
        self.assertIn("bad v6 network", got["v2-tcp6"][3])
        i.wait_log(r"connect from unknown\[2001:db8:bad::1\]")
        i.check_sanitizer()


if __name__ == "__main__":
    unittest.main()

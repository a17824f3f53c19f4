#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_mta_sts - MTA-STS (RFC 8461) the way Postfix sites run it: the
real postfix-mta-sts-resolver (Debian package) as a socketmap policy
server behind smtp_tls_policy_maps = socketmap:inet:...:postfix.

The resolver reads the _mta-sts TXT record from unbound (the namespace's
resolver) and fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt
from an HTTPS server here, with a certificate of the test CA (the
resolver trusts it through SSL_CERT_FILE).  postino's smtp client then:

- enforce policy, MX certificate valid for the policy's mx name:
  delivered, "Verified TLS connection established";
- enforce policy, MX certificate for another name: deferred ("Server
  certificate not verified"), nothing delivered, no plaintext;
- a domain without MTA-STS, and one in "testing" mode: the resolver
  says NOTFOUND and the default level (may) applies: delivered.

Everything runs in a network namespace.
"""
import http.server
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
from instance import Instance, poll_until
from postino_testlib import free_port
from test_smtp_tls import (DELIVERY_WAIT, MAIN, MASTER, Pki, TlsMx,
                           delivered, send)

MTA_STS_DAEMON = shutil.which("mta-sts-daemon") or "/usr/bin/mta-sts-daemon"

POLICIES = {
    "sts.test": "version: STSv1\nmode: enforce\nmx: mx.sts.test\n"
                "max_age: 86400\n",
    "badsts.test": "version: STSv1\nmode: enforce\nmx: mx.badsts.test\n"
                   "max_age: 86400\n",
    "testing.test": "version: STSv1\nmode: testing\nmx: mx.testing.test\n"
                    "max_age: 86400\n",
}

RECORDS = [
    "sts.test. MX 10 mx.sts.test.",
    "mx.sts.test. A 127.0.0.71",
    '_mta-sts.sts.test. TXT "v=STSv1; id=20261206"',
    "mta-sts.sts.test. A 127.0.0.70",
    # the MX presents a certificate for another name
    "badsts.test. MX 10 mx.badsts.test.",
    "mx.badsts.test. A 127.0.0.72",
    '_mta-sts.badsts.test. TXT "v=STSv1; id=20261206"',
    "mta-sts.badsts.test. A 127.0.0.73",
    # testing mode: not enforced
    "testing.test. MX 10 mx.testing.test.",
    "mx.testing.test. A 127.0.0.74",
    '_mta-sts.testing.test. TXT "v=STSv1; id=20261206"',
    "mta-sts.testing.test. A 127.0.0.75",
    # no MTA-STS at all
    "nosts.test. MX 10 mx.nosts.test.",
    "mx.nosts.test. A 127.0.0.76",
]


class PolicyServer:
    """https://mta-sts.DOMAIN/.well-known/mta-sts.txt on ADDRESS:443."""

    def __init__(self, tc, address, domain, crt, key):
        policy = POLICIES[domain].encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(policy)))
                self.end_headers()
                self.wfile.write(policy)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer((address, 443), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        tc.addCleanup(self.httpd.server_close)
        tc.addCleanup(self.httpd.shutdown)


class MtaSts(unittest.TestCase):

    def setUp(self):
        if not os.access(MTA_STS_DAEMON, os.X_OK):
            raise AssertionError("mta-sts-daemon is not installed "
                                 "(Debian: postfix-mta-sts-resolver)")
        self.pki = Pki(self)

    def resolver(self):
        """mta-sts-daemon on 127.0.0.1:PORT; returns the port."""
        d = tempfile.mkdtemp(prefix="postino-mtasts-")
        self.addCleanup(shutil.rmtree, d, True)
        port = free_port()
        conf = os.path.join(d, "mta-sts-daemon.yml")
        with open(conf, "w") as f:
            f.write("host: 127.0.0.1\nport: %d\nreuse_port: true\n"
                    "shutdown_timeout: 1\ncache:\n  type: internal\n"
                    "  options:\n    cache_size: 100\n"
                    "default_zone:\n  strict_testing: false\n  timeout: 4\n"
                    % port)
        log = os.path.join(d, "daemon.log")
        env = dict(os.environ, SSL_CERT_FILE=self.pki.path("ca-ca.crt"))
        p = subprocess.Popen([MTA_STS_DAEMON, "-c", conf, "-v", "debug",
                              "-l", log], env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(netns.stop_process, p)
        self.resolver_log = log

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except OSError:
                return False
            return True
        poll_until("mta-sts-daemon on port %d" % port, up, timeout=60)
        return port

    def wait_log(self, i, pattern):
        try:
            return i.wait_log(pattern, timeout=DELIVERY_WAIT)
        except AssertionError:
            lines = [ln for ln in i.log().splitlines()
                     if re.search(r"smtp|qmgr|error|TLS|proxymap", ln)]
            try:
                with open(self.resolver_log) as f:
                    rlog = f.read()[-3000:]
            except OSError:
                rlog = ""
            raise AssertionError("no /%s/ in the log; its smtp lines:\n%s\n"
                                 "mta-sts-daemon:\n%s"
                                 % (pattern, "\n".join(lines[-25:]), rlog))

    def test_policies(self):
        for address, domain in (("127.0.0.70", "sts.test"),
                                ("127.0.0.73", "badsts.test"),
                                ("127.0.0.75", "testing.test")):
            crt, key = self.pki.server("web-" + domain, "mta-sts." + domain)
            PolicyServer(self, address, domain, crt, key)
        mxes = {}
        for address, host, cert_name in (
                ("127.0.0.71", "mx.sts.test", "mx.sts.test"),
                ("127.0.0.72", "mx.badsts.test", "mx.elsewhere.test"),
                ("127.0.0.74", "mx.testing.test", "mx.elsewhere.test"),
                ("127.0.0.76", "mx.nosts.test", "mx.nosts.test")):
            crt, key = self.pki.server("mx-" + address, cert_name)
            mxes[host] = TlsMx(self, address, crt, key, name=host)
        self.dns = netns.Unbound(self, RECORDS)
        port = self.resolver()
        conf = dict(MAIN)
        conf.update({
            "smtp_tls_security_level": "may",
            "smtp_tls_CAfile": self.pki.path("ca-ca.crt"),
            "smtp_tls_policy_maps":
                "socketmap:inet:127.0.0.1:%d:postfix" % port,
        })
        i = Instance(self, users=["alice"], master_extra=MASTER, main=conf)
        i.start()

        send(i, "bob@sts.test", "mta-sts enforce")
        self.wait_log(i, delivered("bob@sts.test", "mx.sts.test",
                                   "127.0.0.71", r"status=sent"))
        self.wait_log(i, r"Verified TLS connection established to "
                      r"mx\.sts\.test\[127\.0\.0\.71\]:25: TLSv1\.3")
        self.assertEqual([m[1] for m in mxes["mx.sts.test"].messages],
                         [["bob@sts.test"]])
        # SNI: the policy asks for servername=hostname.
        self.assertEqual(mxes["mx.sts.test"].sni, ["mx.sts.test"])

        send(i, "eve@badsts.test", "mta-sts wrong certificate")
        self.wait_log(i, delivered(
            "eve@badsts.test", "mx.badsts.test", "127.0.0.72",
            r"dsn=4\.7\.5, status=deferred \(Server certificate not "
            r"verified\)"))
        self.assertEqual(mxes["mx.badsts.test"].messages, [])

        for rcpt, host, address in (
                ("tim@testing.test", "mx.testing.test", "127.0.0.74"),
                ("nia@nosts.test", "mx.nosts.test", "127.0.0.76")):
            send(i, rcpt, "no enforced policy for " + rcpt)
            self.wait_log(i, delivered(rcpt, host, address, r"status=sent"))
            # may: encrypted, whatever the certificate says
            self.assertEqual(len(mxes[host].messages), 1)
            self.assertIsNotNone(mxes[host].messages[0][0])
        # The daemons asked the resolver through the lookup service.
        self.assertNotRegex(i.log(), r"warning: .*socketmap")


if __name__ == "__main__":
    netns.enter(__file__)
    unittest.main()

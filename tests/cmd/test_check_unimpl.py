# SPDX-License-Identifier: MIT
"""postino check: how the value of a parameter postino knows but does not
implement is judged (core/mail/mail_params.c mail_param_judge,
core/cmd/postino_unimpl.c).  Each case is a main.cf (and master.cf) in
a temporary directory and one run of the built "postino check": silent,
one warning, or one error and a non-zero exit, always with file and line.
The whole-instance behaviour (start refuses, mail flows) is in
tests/e2e/test_failclosed.py."""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postino_testlib import program, run, write  # noqa: E402

FINE, WARN, REFUSE = "fine", "warn", "refuse"

# (parameter, value as written, verdict)
CASES = [
    # TLS levels: the smtp client does them all; an unknown one is refused.
    ("smtp_tls_security_level", "none", FINE),
    ("smtp_tls_security_level", "may", FINE),
    ("smtp_tls_security_level", "encrypt", FINE),
    ("smtp_tls_security_level", "verify", FINE),
    ("smtp_tls_security_level", "secure", FINE),
    ("lmtp_tls_security_level", "fingerprint", FINE),
    ("smtp_tls_security_level", "dane", FINE),
    ("smtp_tls_security_level", "DANE-only", FINE),
    ("lmtp_tls_security_level", "dane-only", FINE),
    ("lmtp_tls_security_level", "dane-onyl", REFUSE),
    # DNS: "disabled" (no DNS at all) is refused.
    ("smtp_dns_support_level", "dnssec", FINE),
    ("smtp_dns_support_level", "enabled", FINE),
    ("lmtp_dns_support_level", "disabled", REFUSE),
    ("smtp_tls_security_level", "encrpyt", REFUSE),
    ("postscreen_tls_security_level", "encrypt", WARN),
    # yes/no switches: "no" is what postino does anyway.
    ("smtp_sasl_auth_enable", "no", FINE),
    ("smtp_sasl_auth_enable", "yes", FINE),
    ("lmtp_sasl_auth_enable", "yes", FINE),
    ("smtp_enforce_tls", "no", FINE),
    ("smtp_enforce_tls", "yes", FINE),
    ("smtpd_tls_req_ccert", "yes", FINE),
    ("smtpd_tls_ask_ccert", "yes", FINE),
    ("smtp_tls_wrappermode", "yes", FINE),
    ("smtp_tls_per_site", "hash:/etc/postfix/tls_per_site", REFUSE),
    ("smtp_use_tls", "yes", FINE),
    ("biff", "no", FINE),
    ("biff", "Yes", WARN),
    # Lists: empty asks for nothing.
    ("smtpd_milters", "", FINE),
    ("smtpd_milters", "inet:127.0.0.1:8891", FINE),
    ("non_smtpd_milters", "unix:/run/milter.sock", FINE),
    ("milter_header_checks", "pcre:/etc/postino/milter_hc", FINE),
    ("smtpd_milter_maps", "cidr:/etc/postino/milters", FINE),
    ("content_filter", "amavis:[127.0.0.1]:10024", FINE),
    ("smtpd_proxy_filter", "127.0.0.1:10025", REFUSE),
    ("smtpd_upstream_proxy_protocol", "haproxy", FINE),
    ("smtpd_upstream_proxy_protocol", "proxy-v3", REFUSE),
    ("always_bcc", "archive@example.com", FINE),
    ("sender_bcc_maps", "hash:/etc/postino/sender_bcc", FINE),
    ("lmtp_body_checks", "regexp:/etc/postino/lmtp_bc", FINE),
    ("smtp_header_checks", "regexp:/etc/postino/smtp_hc", FINE),
    ("message_reject_characters", "\\0", FINE),
    # Limits: 0 is off.
    ("postscreen_client_connection_count_limit", "0", FINE),
    ("postscreen_client_connection_count_limit", "00", FINE),
    ("postscreen_client_connection_count_limit", "5", WARN),
    # Any other value than the default.
    ("authorized_submit_users", "static:anyone", FINE),
    ("authorized_submit_users", "!www-data, static:anyone", FINE),
    ("authorized_flush_users", "root", FINE),
    ("local_login_sender_maps", "static:*", FINE),
    ("local_login_sender_maps", "hash:/etc/postino/login", FINE),
    ("debug_peer_list", "192.0.2.10", WARN),
    ("receive_override_options", "no_address_mappings", FINE),
    ("mailbox_transport_maps", "hash:/etc/postino/mbt", WARN),
    ("mailbox_transport", "lmtp:unix:private/dovecot-lmtp", FINE),
    # The default, written differently: blanks and commas do not count.
    ("notify_classes", "resource,software", FINE),
    ("notify_classes", "resource   software", FINE),
    ("notify_classes", "bounce, resource, software", WARN),
    ("masquerade_domains", "example.com", FINE),
    ("address_verify_map", "btree:$data_directory/verify_cache", FINE),
    # Accepted without effect, and implemented: never a word.
    ("data_directory", "/var/lib/elsewhere", FINE),
    ("readme_directory", "no", FINE),
    ("myhostname", "mx.example.com", FINE),
    ("smtpd_reject_unlisted_recipient", "no", FINE),
]


class CheckUnimplTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="postino-unimpl-")
        self.dir = self.tmp.name
        self.head = ("queue_directory = %s/queue\nmail_owner = nobody\n"
                     "setgid_group = nogroup\n" % self.dir)
        self.master("smtp inet n - n - 1 smtpd\n")

    def tearDown(self):
        self.tmp.cleanup()

    def main(self, text):
        write(os.path.join(self.dir, "main.cf"), self.head + text)

    def master(self, text):
        write(os.path.join(self.dir, "master.cf"), text)

    def check(self):
        r = run([program("postino"), "-c", self.dir, "check"])
        lines = [x for x in r.err.splitlines()
                 if "not implemented by postino" in x]
        return r, lines

    def assert_verdict(self, r, lines, verdict, where, name, shown):
        if verdict == FINE:
            self.assertEqual((r.rc, lines), (0, []), r)
            return
        self.assertEqual(len(lines), 1, r)
        self.assertIn("%s: parameter %s = %s: not implemented by postino: "
                      % (where, name, shown), lines[0])
        if verdict == WARN:
            self.assertEqual(r.rc, 0, r)
            self.assertIn(": warning: ", lines[0])
            self.assertTrue(lines[0].endswith(": ignored"), lines[0])
        else:
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn(": error: ", lines[0])
            self.assertRegex(lines[0], r": refusing to run: \S.*\S$")

    def test_directory_tables_need_proxymap(self):
        # ldap: and mysql: tables are read through the lookup service:
        # without a proxymap service in master.cf every lookup fails.
        cf = os.path.join(self.dir, "ldap-users.cf")
        write(cf, "server_host = ldap://127.0.0.1:1/\nsearch_base = o=x\n")
        self.main("\nvirtual_alias_maps = hash:/nowhere, ldap:%s\n" % cf)
        r = run([program("postino"), "-c", self.dir, "check"])
        warn = [x for x in r.err.splitlines() if "proxymap" in x]
        self.assertEqual(len(warn), 1, r)
        self.assertIn("%s/main.cf, line 5: virtual_alias_maps: table ldap:%s "
                      "is read through the lookup service, and master.cf "
                      "has no proxymap service" % (self.dir, cf), warn[0])
        self.assertIn(": warning: ", warn[0])
        # A -o override is judged too.
        self.main("")
        self.master("smtp inet n - n - 1 smtpd -o "
                    "smtpd_sender_login_maps=proxy:mysql:%s\n" % cf)
        r = run([program("postino"), "-c", self.dir, "check"])
        warn = [x for x in r.err.splitlines() if "proxymap" in x]
        self.assertEqual(len(warn), 1, r)
        self.assertIn("master.cf, line 1: service \"smtp\"", warn[0])
        # With the service, nothing to say.
        self.main("\nvirtual_alias_maps = hash:/nowhere, ldap:%s\n" % cf)
        self.master("smtp inet n - n - 1 smtpd\n"
                    "proxymap unix - - n - - proxymap\n")
        r = run([program("postino"), "-c", self.dir, "check"])
        self.assertEqual([x for x in r.err.splitlines() if "proxymap" in x],
                         [], r)

    def test_main_cf(self):
        for name, value, verdict in CASES:
            with self.subTest(name=name, value=value):
                self.main("\n# a comment\n%s = %s\n" % (name, value))
                r, lines = self.check()
                self.assert_verdict(r, lines, verdict,
                                    "%s/main.cf, line 6" % self.dir,
                                    name, value)

    def test_master_cf(self):
        self.main("")
        for name, value, verdict in CASES:
            if " " in value:
                continue
            with self.subTest(name=name, value=value):
                self.master("# comment\nsmtp inet n - n - 1 smtpd\n"
                            "  -o syslog_name=postino/smtp\n"
                            "  -o %s=%s\n" % (name, value))
                r, lines = self.check()
                self.assert_verdict(r, lines, verdict,
                                    "%s/master.cf, line 2: service smtp"
                                    % self.dir, name, value)

    def test_sasl_needs_dovecot(self):
        """smtpd_sasl_auth_enable = yes works with smtpd_sasl_type =
        dovecot only (the default, cyrus, is refused), per service."""
        self.main("")
        self.master("smtp inet n - n - 1 smtpd\n"
                    "submission inet n - n - - smtpd"
                    " -o smtpd_sasl_auth_enable=yes\n")
        r = run([program("postino"), "-c", self.dir, "check"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn('line 2: service "submission": smtpd_sasl_auth_enable'
                      ' = yes with smtpd_sasl_type = cyrus', r.err)
        self.main("smtpd_sasl_type = dovecot\n")
        r = run([program("postino"), "-c", self.dir, "check"])
        self.assertEqual(r.rc, 0, r)

    def test_disabled_service_is_not_judged(self):
        self.main("master_service_disable = submission.inet\n")
        self.master("smtp inet n - n - 1 smtpd\n"
                    "submission inet n - n - - smtpd"
                    " -o smtpd_milters=inet:127.0.0.1:1\n")
        r, lines = self.check()
        self.assertEqual((r.rc, lines), (0, []), r)

    def test_expansion(self):
        """Values are judged once $name-expanded, shown as written."""
        self.main("level = encrpyt\nsmtp_tls_security_level = ${level}\n"
                  "empty =\nsmtpd_milters = $empty\n"
                  "limit = 0\n"
                  "postscreen_client_connection_count_limit = $limit\n")
        r, lines = self.check()
        self.assertEqual(len(lines), 1, r)
        self.assertIn("main.cf, line 5: parameter smtp_tls_security_level "
                      "= ${level}: not implemented by postino: refusing",
                      lines[0])

    def test_every_finding_in_file_order(self):
        self.main("debug_peer_list = 192.0.2.10\n"
                  "smtpd_proxy_filter = 127.0.0.1:10026\n"
                  "smtpd_upstream_proxy_protocol = proxy-v3\n")
        self.master("smtp inet n - n - 1 smtpd"
                    " -o smtp_tls_per_site=hash:/etc/postino/tls_per_site"
                    " -o smtpd_proxy_filter=127.0.0.1:10025\n")
        r, lines = self.check()
        self.assertNotEqual(r.rc, 0, r)
        found = [re.search(r"(main|master)\.cf, line (\d+).* parameter (\S+)",
                           x).groups() for x in lines]
        self.assertEqual(found, [
            ("main", "4", "debug_peer_list"),
            ("main", "5", "smtpd_proxy_filter"),
            ("main", "6", "smtpd_upstream_proxy_protocol"),
            ("master", "1", "smtp_tls_per_site"),
            ("master", "1", "smtpd_proxy_filter")])

    def test_mime_and_nested_header_checks(self):
        """Their default, $header_checks, is implemented: header_checks
        alone, in main.cf or for one service, is no finding."""
        self.main("header_checks = regexp:/etc/postino/h$$c\n")
        r, lines = self.check()
        self.assertEqual((r.rc, lines), (0, []), r)
        self.main("")
        self.master("smtp inet n - n - 1 smtpd\n"
                    "cleanup unix n - n - 0 cleanup"
                    " -o header_checks=pcre:/etc/postino/hc\n")
        r, lines = self.check()
        self.assertEqual((r.rc, lines), (0, []), r)


if __name__ == "__main__":
    unittest.main()

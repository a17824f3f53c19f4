# SPDX-License-Identifier: MIT
"""test_failclosed - Postfix parameters that postino knows but does not
implement: "postino check" and "postino start" refuse the ones whose
absence would weaken security or skip content inspection, warn about the
others, and say nothing about default values (issue 8, section 1).

Every case runs a real instance (tests/e2e/instance.py): check and start
are the built postino command; "refused" means a non-zero exit, one error
line naming the file, the line and the parameter, and no mail system
listening afterwards; "warned" means exit 0, one warning line and a
running instance that accepts mail.  A main.cf made of Debian Postfix's
own "postconf -d" output (the defaults of every parameter) must start
without a word about unimplemented parameters.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from instance import Instance  # noqa: E402

POSTFIX_POSTCONF = "/usr/sbin/postconf"

# The examples, and a few more of the refused kind.
REFUSED = [
    ("smtp_tls_security_level", "dane-onyl"),
    ("smtpd_proxy_filter", "127.0.0.1:10025"),
    ("smtp_tls_per_site", "hash:/etc/postino/tls_per_site"),
    ("smtpd_upstream_proxy_protocol", "proxy-v3"),
    ("lmtp_tls_per_site", "hash:/etc/postino/tls_per_site"),
    ("smtp_dns_support_level", "disabled"),
]

# Values that ask for nothing postino lacks: no finding at all.
HARMLESS = {
    "smtpd_tls_security_level": "none",
    "smtp_sasl_auth_enable": "no",
    "smtpd_milters": "",
    "content_filter": "",
    "smtpd_client_new_tls_session_rate_limit": "$zero",    # 0, expanded
    "smtpd_client_auth_rate_limit": "0",
    "postscreen_client_connection_count_limit": "50",      # the default
    "smtpd_milter_maps": "${nothing}",
    "non_smtpd_milters": "",
    "zero": "0",
}

FINDING = re.compile(r"not implemented by postino")


class FailClosedTest(unittest.TestCase):

    def findings(self, out):
        return [line for line in out.splitlines() if FINDING.search(line)]

    def assert_refused(self, inst, where, name, value):
        """check and start both fail with one line naming name."""
        rc, out = inst.postino("check", check=False)
        self.assertNotEqual(rc, 0, out)
        lines = self.findings(out)
        self.assertEqual(len(lines), 1, out)
        self.assertIn("error: %s: parameter %s = %s: " % (where, name, value),
                      lines[0])
        self.assertIn("refusing to run: ", lines[0])
        rc, out = inst.postino("start", check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertEqual(len(self.findings(out)), 1, out)
        self.assertIn("startup failed", out)
        rc, out = inst.postino("status", check=False)
        self.assertNotEqual(rc, 0, "a refused instance is running: " + out)
        self.assertFalse(inst.listening(), "smtpd is listening")

    def assert_starts(self, inst):
        inst.start()
        with inst.smtp() as s:
            code, _ = s.ehlo("client.example.test")
            self.assertEqual(code, 250)

    def test_refused_in_main_cf(self):
        for name, value in REFUSED:
            with self.subTest(name=name):
                inst = Instance(self, main={name: value})
                line = list(inst.main).index(name) + 1
                self.assert_refused(
                    inst, "%s/main.cf, line %d" % (inst.conf, line),
                    name, value)

    def test_refused_as_master_cf_option(self):
        for name, value in REFUSED:
            with self.subTest(name=name):
                inst = Instance(self, smtpd_args=" -o %s=%s" % (name, value))
                self.assert_refused(
                    inst, "%s/master.cf, line 1: service 127.0.0.1:%d"
                    % (inst.conf, inst.port), name, value)

    def test_header_checks_cover_mime_and_attached_headers(self):
        """header_checks alone starts, and, as in Postfix, its default
        copies (mime_header_checks, nested_header_checks) inspect the
        headers of body parts and attached messages too."""
        inst = Instance(self, main={"header_checks": "regexp:{dir}/hc"},
                        users=("bob",))
        with open(os.path.join(inst.dir, "hc"), "w") as f:
            f.write("/^Content-Type:.*x-evil/ REJECT no evil parts\n"
                    "/^Subject: nested hold/ REJECT no evil messages\n")
        rc, out = inst.postino("check", check=False)
        self.assertEqual((rc, self.findings(out)), (0, []), out)
        self.assert_starts(inst)
        part = ("Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
                "--zz\r\nContent-Type: application/x-evil\r\n\r\nA\r\n"
                "--zz--\r\n")
        attached = ("Content-Type: multipart/mixed; boundary=yy\r\n\r\n"
                    "--yy\r\nContent-Type: message/rfc822\r\n\r\n"
                    "Subject: nested hold\r\n\r\nB\r\n--yy--\r\n")
        for data, text in ((part, "no evil parts"),
                           (attached, "no evil messages")):
            with inst.smtp() as s:
                s.ehlo("client.example.test")
                s.mail("a@example.org")
                s.rcpt(inst.addr("bob"))
                code, msg = s.data("Subject: x\r\n" + data)
                self.assertEqual((code, msg.decode()),
                                 (550, "5.7.1 " + text))

    def test_warned_only(self):
        """Debian's own main.cf (TLS "may", certificate files) is warned
        about, and the mail system starts and accepts mail."""
        main = {
            "smtpd_tls_cert_file": "/etc/ssl/certs/ssl-cert-snakeoil.pem",
            "smtpd_tls_key_file": "/etc/ssl/private/ssl-cert-snakeoil.key",
            "smtpd_tls_security_level": "may",
            "smtp_tls_CApath": "/etc/ssl/certs",
            "smtp_tls_security_level": "may",
            "biff": "no",                     # what postino does anyway
            "readme_directory": "no",         # no effect
        }
        inst = Instance(self, main=main, users=["alice"],
                        smtpd_args=" -o smtpd_tls_dh1024_param_file="
                        "/etc/ssl/dh2048.pem")
        rc, out = inst.postino("check", check=False)
        self.assertEqual(rc, 0, out)
        lines = self.findings(out)
        names = sorted(re.search(r"parameter (\S+) = ", x)[1] for x in lines)
        self.assertEqual(names, ["smtpd_tls_dh1024_param_file"], out)
        for x in lines:
            self.assertIn(": warning: ", x)
            self.assertTrue(x.endswith("not implemented by postino: ignored"),
                            x)
        self.assert_starts(inst)
        inst.send("someone@example.test", inst.addr("alice"),
                  "Subject: hi\n\nhello\n")
        inst.wait_maildir("alice", 1)

    def test_harmless_values_say_nothing(self):
        inst = Instance(self, main=HARMLESS,
                        smtpd_args=" -o smtpd_tls_security_level=none"
                        " -o smtpd_tls_wrappermode=no")
        rc, out = inst.postino("check", check=False)
        self.assertEqual((rc, self.findings(out)), (0, []), out)
        self.assert_starts(inst)

    def test_expanded_value_is_judged(self):
        inst = Instance(self, main={"level": "encrpyt",
                                    "smtp_tls_security_level": "$level"})
        line = list(inst.main).index("smtp_tls_security_level") + 1
        self.assert_refused(inst, "%s/main.cf, line %d" % (inst.conf, line),
                            "smtp_tls_security_level", "$level")

    def test_message_drop_headers_by_default(self):
        """Postfix's default message_drop_headers asks cleanup to remove
        Bcc:, Resent-Bcc:, Content-Length: and Return-Path: from every
        message: a Bcc: list sent over SMTP must not reach the mailbox."""
        inst = Instance(self, users=["alice"])
        inst.start()
        inst.send("someone@example.test", inst.addr("alice"),
                  "To: alice\nBcc: hidden@example.test\n"
                  "Resent-Bcc: other@example.test\nContent-Length: 2\n"
                  "Return-Path: <forged@example.test>\nSubject: hi\n\n"
                  "hello\n")
        msg = inst.wait_maildir("alice", 1)[0]
        if isinstance(msg, bytes):
            msg = msg.decode(errors="replace")
        head = msg.split("\n\n", 1)[0]
        self.assertNotIn("hidden@example.test", head)
        self.assertNotIn("other@example.test", head)
        self.assertNotIn("Content-Length", head)
        self.assertNotIn("forged@example.test", head)
        self.assertIn("Return-Path: <someone@example.test>", head)
        self.assertIn("Subject: hi", head)

    def test_postfix_defaults_are_accepted(self):
        """Every parameter at Postfix's default, as Debian's postconf -d
        prints them: no refusal, no warning about unimplemented ones."""
        if not os.access(POSTFIX_POSTCONF, os.X_OK):
            raise AssertionError("Postfix's postconf is not installed (%s)"
                                 % POSTFIX_POSTCONF)
        tmp = tempfile.mkdtemp(prefix="postino-pfdef-")
        self.addCleanup(shutil.rmtree, tmp, True)
        open(os.path.join(tmp, "main.cf"), "w").close()
        open(os.path.join(tmp, "master.cf"), "w").close()
        r = subprocess.run([POSTFIX_POSTCONF, "-c", tmp, "-d"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        defaults = [line for line in r.stdout.splitlines()
                    if " =" in line]
        self.assertGreater(len(defaults), 700, r.stdout[:2000])
        inst = Instance(self, users=["alice"])
        # The instance's own settings (paths, port, users) replace
        # Postfix's values; postino's installation paths stay postino's.
        own = dict(inst.main)
        keep = {"command_directory", "daemon_directory", "shlib_directory",
                "meta_directory", "config_directory", "process_id",
                "mail_name", "sample_directory"}
        lines = []
        for line in defaults:
            name = line.split(" =", 1)[0]
            if name in keep or name in own:
                continue
            lines.append(line)
        lines += ["%s = %s" % kv for kv in own.items()]
        with open(os.path.join(inst.conf, "main.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out = inst.postino("check", check=False)
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.findings(out), [], out)
        self.assertNotIn("error:", out)
        self.assert_starts(inst)
        inst.send("someone@example.test", inst.addr("alice"),
                  "Subject: hi\n\nhello\n")
        inst.wait_maildir("alice", 1)


if __name__ == "__main__":
    unittest.main()

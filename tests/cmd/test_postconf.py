# SPDX-License-Identifier: MIT
"""postconf: main.cf reading and $name expansion (mail_conf), the
parameter table (mail_params) and every postconf flag.

Each test writes its own configuration directory; POSTINO_BUILD names the
build tree (the command is POSTINO_BUILD/sbin/postconf)."""
import os
import re
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postino_testlib import program, run, source_dir  # noqa: E402

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
relay     unix  -       -       n       -       -       smtp
        -o syslog_name=postino/$service_name
  -o smtp_helo_name=$my_helo
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
scalemail-backend unix - n n - 2 pipe flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store ${nexthop} ${user} ${extension}
"""


class PostconfTest(unittest.TestCase):

    def setUp(self):
        self.postconf = program("postconf")
        self.tmp = tempfile.TemporaryDirectory(prefix="postconf-test-")
        self.dir = self.tmp.name
        self.main_cf = os.path.join(self.dir, "main.cf")
        self.write_master(MASTER_CF)

    def tearDown(self):
        self.tmp.cleanup()

    def write_main(self, text):
        mode = "wb" if isinstance(text, bytes) else "w"
        with open(self.main_cf, mode) as fp:
            fp.write(text)

    def write_master(self, text):
        with open(os.path.join(self.dir, "master.cf"), "w") as fp:
            fp.write(text)

    def read_main(self):
        with open(self.main_cf) as fp:
            return fp.read()

    def pc(self, *args, env=None, rc=0):
        res = run([self.postconf, "-c", self.dir] + list(args), env=env)
        if rc is not None:
            self.assertEqual(res.rc, rc, res)
        return res

    def values(self, res):
        """Parse "name = value" / "name =" lines into a dict."""
        out = {}
        for line in res.out.splitlines():
            m = re.match(r"^(\S+) =(?: (.*))?$", line)
            self.assertIsNotNone(m, "bad output line %r" % line)
            out[m.group(1)] = m.group(2) or ""
        return out

    def x(self, *names, **kw):
        return self.values(self.pc("-x", *names, **kw))

    # --- printing --------------------------------------------------------

    def test_all_parameters_sorted(self):
        self.write_main("compatibility_level = 3.6\n")
        res = self.pc()
        names = [line.split(" =")[0] for line in res.out.splitlines()]
        self.assertEqual(names, sorted(names))
        self.assertEqual(len(names), len(set(names)))
        self.assertGreater(len(names), 800)
        for name in ("myhostname", "mydestination", "relay_domains",
                     "smtpd_recipient_restrictions", "virtual_alias_maps",
                     "compatibility_level", "default_database_type",
                     "berkeley_db_create_buffer_size"):
            self.assertIn(name, names)
        # Empty values print as "name =", never with a trailing blank.
        self.assertIn("relayhost =\n", res.out)
        self.assertNotRegex(res.out, r"(?m) $")

    def test_named_and_unknown(self):
        self.write_main("relayhost = [smtp.example.com]:587\n")
        res = self.pc("relayhost", "no_such_parameter", "mail_name")
        self.assertEqual(res.out, "relayhost = [smtp.example.com]:587\n"
                         "mail_name = Postino\n")
        self.assertIn("postconf: warning: no_such_parameter: unknown parameter",
                      res.err)

    def test_unexpanded_by_default(self):
        self.write_main("myorigin = $mydomain\n")
        v = self.values(self.pc("myorigin", "mydestination"))
        self.assertEqual(v["myorigin"], "$mydomain")
        self.assertEqual(v["mydestination"],
                         "$myhostname, localhost.$mydomain, localhost")

    def test_n_only_main_cf(self):
        self.write_main("# c\nmyhostname = mx.example.com\n"
                        "relayhost =\ncompatibility_level = 3.6\n")
        res = self.pc("-n")
        lines = res.out.splitlines()
        # A non-default configuration directory is shown, as Postfix does.
        self.assertEqual(lines, ["compatibility_level = 3.6",
                                 "config_directory = %s" % self.dir,
                                 "myhostname = mx.example.com",
                                 "relayhost ="])

    def test_d_defaults_ignore_main_cf(self):
        self.write_main("relay_domains = example.com\nmail_name = Other\n")
        v = self.values(self.pc("-d", "relay_domains", "mynetworks_style",
                                "smtputf8_enable", "append_dot_mydomain",
                                "mail_name", "compatibility_level",
                                "alias_maps", "alias_database",
                                "queue_directory", "syslog_name"))
        self.assertEqual(v["relay_domains"],
                         "${{$compatibility_level} <level {2} ? {$mydestination} : {}}")
        self.assertEqual(v["mynetworks_style"],
                         "${{$compatibility_level} <level {2} ? {subnet} : {host}}")
        self.assertEqual(v["smtputf8_enable"],
                         "${{$compatibility_level} <level {1} ? {no} : {yes}}")
        self.assertEqual(v["append_dot_mydomain"],
                         "${{$compatibility_level} <level {1} ? {yes} : {no}}")
        self.assertEqual(v["mail_name"], "Postino")
        self.assertEqual(v["compatibility_level"], "0")
        self.assertEqual(v["alias_maps"], "hash:/etc/aliases, nis:mail.aliases")
        self.assertEqual(v["alias_database"], "hash:/etc/aliases")
        self.assertEqual(v["queue_directory"], "/var/spool/postino")
        self.assertEqual(v["syslog_name"],
                         "${multi_instance_name?{$multi_instance_name}:{postino}}")

    def test_d_x_computed(self):
        self.write_main("")
        v = self.values(self.pc("-dx", "myhostname", "mydomain", "mydestination",
                                "shlib_directory", "mail_version",
                                "syslog_name", "meta_directory",
                                "config_directory"))
        self.assertIn(".", v["myhostname"])
        self.assertTrue(v["myhostname"].endswith("." + v["mydomain"])
                        or v["mydomain"] == "localdomain")
        self.assertEqual(v["mydestination"], "%s, localhost.%s, localhost"
                         % (v["myhostname"], v["mydomain"]))
        self.assertTrue(os.path.isdir(v["shlib_directory"]), v)
        self.assertRegex(v["mail_version"], r"^\d+\.\d+")
        self.assertEqual(v["syslog_name"], "postino")
        self.assertEqual(v["meta_directory"], v["config_directory"])

    def test_myhostname_uses_mydomain(self):
        self.write_main("mydomain = example.org\n")
        v = self.x("myhostname", "mydomain")
        host = os.uname().nodename
        if "." not in host:
            self.assertEqual(v["myhostname"], host + ".example.org")
        self.assertEqual(v["mydomain"], "example.org")
        self.write_main("myhostname = mx1.sub.example.net\n")
        self.assertEqual(self.x("mydomain")["mydomain"], "sub.example.net")

    def test_h_and_H(self):
        self.write_main("myhostname = a.example\nrelayhost =\n")
        self.assertEqual(self.pc("-h", "myhostname", "relayhost").out,
                         "a.example\n\n")
        self.assertEqual(self.pc("-H", "myhostname", "relayhost").out,
                         "myhostname\nrelayhost\n")
        self.assertEqual(self.pc("-nH").out,
                         "config_directory\nmyhostname\nrelayhost\n")

    def test_whitespace_and_continuation(self):
        self.write_main("myorigin = a   b\n   c\t\td\n"
                        "# a comment in between\n"
                        "  e\n"
                        "relayhost = x # not a comment\n"
                        "mydomain=example.com\n")
        v = self.values(self.pc("myorigin", "relayhost", "mydomain"))
        self.assertEqual(v["myorigin"], "a b c d e")
        self.assertEqual(v["relayhost"], "x # not a comment")
        self.assertEqual(v["mydomain"], "example.com")

    def test_fold(self):
        self.write_main("")
        res = self.pc("-f", "-d", "proxy_read_maps", "smtpd_relay_restrictions")
        lines = res.out.splitlines()
        self.assertGreater(len(lines), 4)
        self.assertTrue(lines[0].startswith("proxy_read_maps = $local_recipient_maps"))
        for line in lines:
            self.assertLessEqual(len(line), 80, line)
        for line in lines[1:]:
            if not line.startswith("smtpd_relay_restrictions"):
                self.assertRegex(line, r"^    \S")
        # Unfolded, it is one long line.
        self.assertEqual(len(self.pc("-d", "proxy_read_maps").out.splitlines()), 1)
        # Folding loses nothing.
        first = lines[:next(i for i, l in enumerate(lines)
                            if l.startswith("smtpd_relay"))]
        joined = " ".join(l.strip() for l in first)
        self.assertEqual(joined, self.pc("-d", "proxy_read_maps").out.strip())

    # --- expansion -------------------------------------------------------

    def test_expansion_forms(self):
        self.write_main(
            "compatibility_level = 3.6\n"
            "mydomain = example.com\n"
            "e1 = $mydomain|${mydomain}|$(mydomain)\n"
            "e2 = ${mydomain?set}|${relayhost?set}|${mydomain:unset}|${relayhost:unset}\n"
            "e3 = ${mydomain?{yes}:{no}}|${relayhost?{yes}:{no}}|${mydomain?{$mydomain}}\n"
            "e4 = ${{$mydomain} == {example.com} ? {eq} : {ne}}|"
            "${{a} != {b} ? {ne} : {eq}}\n"
            "e5 = ${{10} > {9} ? {num} : {lex}}|${{b} > {a} ? {gt} : {le}}|"
            "${{10} <= {10} ? {le}}|${{9} < {10} ? {lt} : {ge}}\n"
            "e6 = ${{3.10} >level {3.9} ? {newer} : {older}}|"
            "${{$compatibility_level} <level {3.6} ? {lt} : {ge}}|"
            "${{3.6} <=level {3.6} ? {le}}|${{2} >=level {10} ? {ge} : {lt}}\n"
            "e7 = cost $$5 and $$mydomain\n"
            "e8 = ${mydomain?{ spaced  value }}\n"
            "e9 = ${{ $mydomain } == { example.com } ? { spaces ok }}\n"
            "all = $e1 $e2 $e3 $e4 $e5 $e6 $e7 $e8 $e9\n")
        v = self.x("e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9")
        self.assertEqual(v["e1"], "example.com|example.com|example.com")
        self.assertEqual(v["e2"], "set|||unset")
        self.assertEqual(v["e3"], "yes|no|example.com")
        self.assertEqual(v["e4"], "eq|ne")
        self.assertEqual(v["e5"], "num|gt|le|lt")
        self.assertEqual(v["e6"], "newer|ge|le|lt")
        self.assertEqual(v["e7"], "cost $5 and $mydomain")
        self.assertEqual(v["e8"], "spaced value")
        self.assertEqual(v["e9"], "spaces ok")

    def test_recursive_and_lazy(self):
        # Order does not matter: b is defined after a uses it.
        self.write_main("a = <$b>\nb = [$c]\nc = deep\nuse = $a\n")
        self.assertEqual(self.x("a")["a"], "<[deep]>")

    def test_undefined_warns_and_expands_empty(self):
        self.write_main("myorigin = x$nosuchthing.y\n")
        res = self.pc("-x", "myorigin")
        self.assertEqual(res.out, "myorigin = x.y\n")
        self.assertIn("%s: undefined parameter: nosuchthing" % self.main_cf,
                      res.err)

    def test_self_reference_is_fatal(self):
        self.write_main("myorigin = x$myorigin\n")
        res = self.pc("-x", "myorigin", rc=1)
        self.assertIn("postconf: fatal: unreasonable macro call nesting: \"myorigin\"",
                      res.err)
        self.write_main("myorigin = $mydomain\nmydomain = ${myorigin?{x}}\n")
        res = self.pc("-x", "myorigin", rc=1)
        self.assertIn("unreasonable macro call nesting", res.err)
        # Without -x nothing is expanded, so nothing loops.
        self.assertEqual(self.pc("myorigin").out, "myorigin = $mydomain\n")

    def test_syntax_error_in_expression_warns(self):
        self.write_main("myorigin = a${mydomain\nrelayhost = ${{a} ?? {b}}\n")
        res = self.pc("-x", "myorigin", "relayhost")
        self.assertIn("myorigin = a\n", res.out)
        self.assertIn("truncated macro reference", res.err)
        self.assertIn("relayhost =\n", res.out)

    def test_raw_parameters_not_expanded(self):
        self.write_main('mailbox_command = /usr/bin/procmail -a "$EXTENSION" $mydomain\n'
                        "mydomain = example.com\n")
        self.assertEqual(self.x("mailbox_command")["mailbox_command"],
                         '/usr/bin/procmail -a "$EXTENSION" $mydomain')
        self.assertEqual(self.x("forward_path")["forward_path"],
                         "$home/.forward${recipient_delimiter}${extension}, $home/.forward")

    # --- compatibility_level ------------------------------------------------

    def test_legacy_defaults_without_compatibility_level(self):
        self.write_main("mydomain = example.com\nmyhostname = mx.example.com\n")
        v = self.x("relay_domains", "mynetworks_style", "smtputf8_enable",
                   "append_dot_mydomain", "smtpd_relay_restrictions",
                   "smtpd_relay_before_recipient_restrictions",
                   "smtp_tls_fingerprint_digest", "respectful_logging")
        self.assertEqual(v["relay_domains"],
                         "mx.example.com, localhost.example.com, localhost")
        self.assertEqual(v["mynetworks_style"], "subnet")
        self.assertEqual(v["smtputf8_enable"], "no")
        self.assertEqual(v["append_dot_mydomain"], "yes")
        self.assertEqual(v["smtpd_relay_restrictions"], "")
        self.assertEqual(v["smtpd_relay_before_recipient_restrictions"], "no")
        self.assertEqual(v["smtp_tls_fingerprint_digest"], "md5")
        self.assertEqual(v["respectful_logging"], "no")

    def test_current_defaults_with_compatibility_level(self):
        for level in ("3.6", "3.10", "3.7.2"):
            self.write_main("compatibility_level = %s\n" % level)
            v = self.x("relay_domains", "mynetworks_style", "smtputf8_enable",
                       "append_dot_mydomain", "smtpd_relay_restrictions",
                       "smtpd_relay_before_recipient_restrictions",
                       "smtp_tls_fingerprint_digest")
            self.assertEqual(v["relay_domains"], "", level)
            self.assertEqual(v["mynetworks_style"], "host")
            self.assertEqual(v["smtputf8_enable"], "yes")
            self.assertEqual(v["append_dot_mydomain"], "no")
            self.assertEqual(v["smtpd_relay_restrictions"],
                             "permit_mynetworks, permit_sasl_authenticated, "
                             "defer_unauth_destination")
            self.assertEqual(v["smtpd_relay_before_recipient_restrictions"], "yes")
            self.assertEqual(v["smtp_tls_fingerprint_digest"], "sha256")

    def test_intermediate_compatibility_level(self):
        self.write_main("compatibility_level = 1\nmydomain = e.com\nmyhostname = h.e.com\n")
        v = self.x("relay_domains", "mynetworks_style", "smtputf8_enable")
        self.assertEqual(v["relay_domains"], "h.e.com, localhost.e.com, localhost")
        self.assertEqual(v["mynetworks_style"], "subnet")
        self.assertEqual(v["smtputf8_enable"], "yes")

    def test_mynetworks_follows_style(self):
        self.write_main("mynetworks_style = host\n")
        host = self.x("mynetworks")["mynetworks"]
        self.assertIn("127.0.0.1/32", host.split())
        self.write_main("mynetworks_style = subnet\n")
        subnet = self.x("mynetworks")["mynetworks"]
        self.assertIn("127.0.0.0/8", subnet.split())
        self.write_main("mynetworks_style = bogus\n")
        res = self.pc("-x", "mynetworks", rc=1)
        self.assertIn("mynetworks_style", res.err)

    # --- main.cf problems ----------------------------------------------

    def test_missing_equals_is_fatal_with_file_and_line(self):
        self.write_main("# fine\nmyhostname = a\n\nthis line is wrong\n")
        res = self.pc(rc=1)
        self.assertIn("postconf: fatal: %s, line 4: missing '=' after attribute name"
                      % self.main_cf, res.err)
        self.assertEqual(res.out, "")

    def test_missing_name_is_fatal(self):
        self.write_main("myhostname = a\n= value\n")
        res = self.pc(rc=1)
        self.assertIn("%s, line 2: missing attribute name" % self.main_cf, res.err)

    def test_repeated_name_last_wins(self):
        self.write_main("relayhost = first\nmyhostname = h\nrelayhost = second\n")
        res = self.pc("relayhost")
        self.assertEqual(res.out, "relayhost = second\n")
        self.assertIn("%s, line 3: overriding earlier entry: relayhost=first"
                      % self.main_cf, res.err)

    def test_nul_byte(self):
        self.write_main(b"relayhost = before\x00after\nmyhostname = h.example\n")
        res = self.pc("relayhost", "myhostname")
        self.assertEqual(res.out, "relayhost = before\nmyhostname = h.example\n")
        self.assertIn("%s, line 1:" % self.main_cf, res.err)
        self.assertIn("null byte", res.err)

    def test_100k_line(self):
        big = "x" * 100000
        self.write_main("myorigin = %s\nrelayhost = after\n" % big)
        res = self.pc("myorigin", "relayhost")
        self.assertEqual(res.out, "myorigin = %s\nrelayhost = after\n" % big)
        res = self.pc("-x", "myorigin")
        self.assertEqual(len(res.out), len("myorigin = \n") + 100000)

    def test_missing_main_cf_is_fatal(self):
        res = self.pc(rc=1)
        self.assertIn("open %s: No such file or directory" % self.main_cf, res.err)

    def test_unused_and_used_user_parameters(self):
        self.write_main("my_helo = helo.example\nmy_restr = reject\n"
                        "smtpd_restriction_classes = my_restr\n"
                        "unused_one = 1\nmyorigin = $my_origin_src\n"
                        "my_origin_src = example.com\nprocess_id = 5\n")
        res = self.pc()
        names = self.values(res)
        self.assertEqual(names["my_origin_src"], "example.com")
        self.assertEqual(names["my_helo"], "helo.example")  # used in master.cf
        self.assertEqual(names["my_restr"], "reject")
        self.assertNotIn("unused_one", names)
        self.assertIn("%s: unused parameter: unused_one=1" % self.main_cf, res.err)
        self.assertIn("%s: read-only parameter assignment: process_id=5"
                      % self.main_cf, res.err)
        self.assertNotIn("my_helo", res.err)
        self.assertNotEqual(names["process_id"], "5")
        res = self.pc("-n")
        self.assertNotIn("unused_one", res.out)
        self.assertNotIn("process_id", res.out)
        self.assertIn("my_origin_src = example.com", res.out)
        self.assertIn("unused_one: unknown parameter",
                      self.pc("unused_one").err)

    def test_q_quiet(self):
        self.write_main("unused_one = 1\n")
        self.assertEqual(self.pc("-q", "mail_name").err, "")

    # --- -o, -c, MAIL_CONFIG -----------------------------------------------

    def test_override(self):
        self.write_main("mydomain = example.com\nmyhostname = mx.$mydomain\n")
        v = self.x("myhostname", "mydomain")
        self.assertEqual(v["myhostname"], "mx.example.com")
        v = self.values(self.pc("-o", "mydomain=example.net", "-x",
                                "myhostname", "mydomain"))
        self.assertEqual(v["myhostname"], "mx.example.net")
        v = self.values(self.pc("-o", "relayhost = [a.b]", "relayhost"))
        self.assertEqual(v["relayhost"], "[a.b]")

    def test_config_dir_precedence(self):
        self.write_main("myhostname = from.c.option\n")
        other = tempfile.TemporaryDirectory(prefix="postconf-env-")
        self.addCleanup(other.cleanup)
        with open(os.path.join(other.name, "main.cf"), "w") as fp:
            fp.write("myhostname = from.environment\n")
        # -c wins over MAIL_CONFIG.
        res = self.pc("-h", "myhostname", env={"MAIL_CONFIG": other.name})
        self.assertEqual(res.out, "from.c.option\n")
        res = run([self.postconf, "-h", "myhostname", "config_directory"],
                  env={"MAIL_CONFIG": other.name})
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(res.out, "from.environment\n%s\n" % other.name)

    # --- editing -------------------------------------------------------

    MAIN_FOR_EDIT = ("# header comment\n"
                     "myhostname = old.example\n"
                     "    continued.part\n"
                     "# comment between entries\n"
                     "relayhost = [old]\n"
                     "\n"
                     "mydomain = example.com\n"
                     "# trailing comment\n")

    def test_e_replaces_appends_keeps_comments(self):
        self.write_main(self.MAIN_FOR_EDIT)
        os.chmod(self.main_cf, 0o640)
        ino = os.stat(self.main_cf).st_ino
        self.pc("-e", "myhostname=new.example", "relayhost =", "newparam = a b")
        self.assertEqual(self.read_main(),
                         "# header comment\n"
                         "myhostname = new.example\n"
                         "# comment between entries\n"
                         "relayhost = \n"
                         "\n"
                         "mydomain = example.com\n"
                         "# trailing comment\n"
                         "newparam = a b\n")
        st = os.stat(self.main_cf)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        # Written to a new file and renamed into place.
        self.assertNotEqual(st.st_ino, ino)
        self.assertEqual(sorted(os.listdir(self.dir)), ["main.cf", "master.cf"])

    def test_e_implied_by_equals(self):
        self.write_main("relayhost = a\n")
        self.pc("relayhost=b")
        self.assertEqual(self.read_main(), "relayhost = b\n")

    def test_e_duplicates_and_no_newline(self):
        self.write_main("relayhost = a\nmydomain = d\nrelayhost = b\n  cont\nlast = x")
        res = self.pc("-e", "relayhost=c", "added=1")
        self.assertEqual(self.read_main(),
                         "relayhost = c\nmydomain = d\nrelayhost = c\nlast = x\nadded = 1\n")
        self.assertIn('multiple entries for "relayhost"', res.err)

    def test_e_repairs_broken_main_cf(self):
        self.write_main("broken line\nrelayhost = a\n")
        self.pc("-e", "relayhost=b")
        self.assertEqual(self.read_main(), "broken line\nrelayhost = b\n")

    def test_e_bad_argument(self):
        self.write_main("relayhost = a\n")
        res = self.pc("-e", "novalue", rc=1)
        self.assertIn("missing '=' after attribute name", res.err)
        self.assertEqual(self.read_main(), "relayhost = a\n")
        self.assertEqual(sorted(os.listdir(self.dir)), ["main.cf", "master.cf"])

    def test_e_creates_missing_main_cf(self):
        self.pc("-e", "relayhost=x")
        self.assertEqual(self.read_main(), "relayhost = x\n")

    def test_e_failure_leaves_no_temporary_file(self):
        # main.cf that cannot be read (a directory): fatal, and the
        # temporary file already created is removed again.
        os.mkdir(self.main_cf)
        with open(os.path.join(self.main_cf, "keep"), "w") as fp:
            fp.write("x")
        res = self.pc("-e", "relayhost=b", rc=1)
        self.assertIn("postconf: fatal:", res.err)
        self.assertIn(self.main_cf, res.err)
        self.assertEqual(sorted(os.listdir(self.dir)), ["main.cf", "master.cf"])
        self.assertEqual(os.listdir(self.main_cf), ["keep"])

    def test_X_removes(self):
        self.write_main(self.MAIN_FOR_EDIT)
        self.pc("-X", "myhostname", "mydomain", "not_there")
        self.assertEqual(self.read_main(),
                         "# header comment\n"
                         "# comment between entries\n"
                         "relayhost = [old]\n"
                         "\n"
                         "# trailing comment\n")

    def test_hash_comments_out(self):
        self.write_main(self.MAIN_FOR_EDIT)
        self.pc("-#", "myhostname")
        self.assertEqual(self.read_main(),
                         "# header comment\n"
                         "#myhostname = old.example\n"
                         "#    continued.part\n"
                         "# comment between entries\n"
                         "relayhost = [old]\n"
                         "\n"
                         "mydomain = example.com\n"
                         "# trailing comment\n")
        self.assertNotIn("old.example", self.pc("-n").out)

    # --- other modes ---------------------------------------------------

    def test_m_lists_types(self):
        self.write_main("")
        res = self.pc("-m")
        types = res.out.splitlines()
        for t in ("static", "inline", "texthash", "fail"):
            self.assertIn(t, types)
        self.assertEqual(types, sorted(types))

    def test_M_prints_master_cf(self):
        self.write_main("")
        res = self.pc("-M")
        lines = res.out.splitlines()
        self.assertEqual(lines[0], "smtp       inet  n       -       n       -       -       smtpd")
        self.assertEqual(lines[2], "relay      unix  -       -       n       -       -       smtp "
                         "-o syslog_name=postino/$service_name -o smtp_helo_name=$my_helo")
        self.assertEqual(lines[4], "scalemail-backend unix - n       n       -       2       pipe "
                         "flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store "
                         "${nexthop} ${user} ${extension}")
        res = self.pc("-Mf", "relay/unix", "maildrop", "nothere")
        self.assertEqual(res.out,
                         "relay      unix  -       -       n       -       -       smtp\n"
                         "    -o syslog_name=postino/$service_name\n"
                         "    -o smtp_helo_name=$my_helo\n"
                         "maildrop   unix  -       n       n       -       -       pipe flags=DRXhu\n"
                         "    user=vmail argv=/usr/bin/maildrop -d ${recipient}\n")
        self.assertIn('unmatched request: "nothere"', res.err)

    def test_service_defined_parameters(self):
        self.write_main("relay_destination_concurrency_limit = 5\n")
        res = self.pc()
        v = self.values(res)
        self.assertEqual(v["relay_destination_concurrency_limit"], "5")
        self.assertEqual(v["relay_recipient_refill_limit"],
                         "$default_recipient_refill_limit")
        self.assertEqual(v["maildrop_time_limit"], "$command_time_limit")
        self.assertNotIn("pickup_recipient_limit", v)
        self.assertNotIn("unused parameter", res.err)
        self.assertEqual(self.x("relay_destination_recipient_limit")
                         ["relay_destination_recipient_limit"], "50")

    def test_usage(self):
        self.write_main("")
        res = self.pc("-Z", rc=1)
        self.assertIn("usage: postconf", res.err)

    def test_U_lists_unimplemented(self):
        """-U: the known parameters postino does not implement, sorted,
        the refused ones with what to do instead."""
        self.write_main("smtpd_proxy_filter = 127.0.0.1:10025\n")
        out = self.pc("-U").out.splitlines()
        names = [line.split(":", 1)[0] for line in out]
        self.assertEqual(names, sorted(names))
        self.assertGreater(len(out), 100)
        for line in out:
            self.assertIn(": not implemented: ", line)
        status = dict(line.split(": ", 1) for line in out)
        self.assertTrue(status["smtpd_proxy_filter"].startswith(
            "not implemented: refused when set to ask for it: postino "
            "has no before-queue proxy filter"),
            status["smtpd_proxy_filter"])
        self.assertNotIn("smtpd_milters", status)
        self.assertNotIn("non_smtpd_milters", status)
        for name in ("mime_header_checks", "nested_header_checks",
                     "mime_nesting_limit", "disable_mime_input_processing"):
            self.assertNotIn(name, status)
        self.assertEqual(status["biff"],
                         "not implemented: ignored, with a warning when set")
        for name in ("smtp_header_checks", "smtp_mime_header_checks",
                     "smtp_nested_header_checks", "smtp_body_checks",
                     "lmtp_header_checks", "lmtp_body_checks",
                     "message_reject_characters", "message_strip_characters",
                     "milter_header_checks", "smtpd_upstream_proxy_timeout",
                     "smtpd_milter_maps"):
            self.assertNotIn(name, status)
        for name in ("smtp_tls_per_site", "smtpd_proxy_filter"):
            self.assertIn("refused", status[name], name)
        for name in ("myhostname", "header_checks", "smtpd_reject_unlisted_"
                     "recipient", "data_directory", "process_id"):
            self.assertNotIn(name, status)
        for name in ("smtpd_sasl_auth_enable", "smtpd_tls_auth_only"):
            self.assertNotIn(name, status)

    def test_U_named(self):
        self.write_main("")
        res = self.pc("-U", "myhostname", "html_directory",
                      "biff", "no_such_parameter")
        self.assertEqual(res.out, "myhostname: implemented\n"
                         "html_directory: accepted, no effect in postino\n"
                         "biff: not implemented: ignored, with a "
                         "warning when set\n")
        self.assertIn("no_such_parameter: unknown parameter", res.err)

    def test_U_table_is_honest(self):
        """No parameter the table calls not implemented is read by name
        anywhere in the sources (when one becomes implemented, its
        status in core/mail/mail_params.c must change with it)."""
        self.write_main("")
        names = [line.split(":", 1)[0]
                 for line in self.pc("-U").out.splitlines()]
        text = []
        for top in ("core", "delivery", "maps"):
            for d, _, files in os.walk(os.path.join(source_dir(), top)):
                for f in files:
                    if f.endswith((".c", ".h")) and f != "mail_params.c":
                        with open(os.path.join(d, f), errors="replace") as fp:
                            text.append(fp.read())
        text = "\n".join(text)
        # Typed parameters (core/mail/mail_vars.def) are read as var_NAME.
        with open(os.path.join(source_dir(), "core", "mail",
                               "mail_vars.def")) as fp:
            typed = set(re.findall(r"^MAIL_VAR_[A-Z]+\((\w+),", fp.read(),
                                   re.M))
        self.assertIn("myhostname", typed)
        read = [n for n in names if '"%s"' % n in text or n in typed]
        self.assertEqual(read, [], "read by the code but marked not "
                         "implemented in mail_params.c")

    def test_verbose_accepted(self):
        self.write_main("")
        self.assertEqual(self.pc("-v", "-h", "mail_name").out, "Postino\n")


if __name__ == "__main__":
    unittest.main()

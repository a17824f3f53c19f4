#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""cmd.postmap - command-level tests of postmap(1): every flag of
postfix-compat.md §3, the source-file rules of §2.3, the built-in table
types through -q, explain mode (-x), and hostile input."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postino_testlib import TmpTestCase, names_line, program, run, write  # noqa: E402


class PostmapCase(TmpTestCase):
    def setUp(self):
        super().setUp()
        self.postmap = program("postmap")

    def pm(self, *args, stdin=b"", env=None):
        return run([self.postmap, "-c", self.cfg] + list(args), stdin=stdin,
                   env=env)

    def table(self, name, text, *flags, type_="hash"):
        """Write NAME in tmp, build TYPE:NAME; return 'type:path'."""
        p = write(self.path(name), text)
        r = self.pm(*flags, "%s:%s" % (type_, p))
        self.assertEqual(r.rc, 0, r)
        return "%s:%s" % (type_, p)

    def assertFound(self, r, value):
        self.assertEqual((r.rc, r.out), (0, value + "\n"), r)

    def assertNotFound(self, r):
        self.assertEqual((r.rc, r.out), (1, ""), r)

    def assertFails(self, r, *patterns):
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.out, "", r)
        self.assertTrue(r.err.strip(), "no message on stderr: %r" % r)
        self.assertTrue(r.err.startswith("postmap: "), r)
        for p in patterns:
            self.assertRegex(r.err, p)


class TestQuery(PostmapCase):
    def test_build_and_query_folds_key(self):
        t = self.table("t", "Foo@Example.COM  Bar Baz\n")
        self.assertTrue(os.path.exists(self.path("t.db")))
        self.assertFound(self.pm("-q", "FOO@example.com", t), "Bar Baz")
        self.assertFound(self.pm("-q", "foo@example.com", t), "Bar Baz")
        self.assertNotFound(self.pm("-q", "nobody@example.com", t))

    def test_default_type_is_hash(self):
        write(self.path("plain"), "k v\n")
        r = self.pm(self.path("plain"))
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(os.path.exists(self.path("plain.db")))
        self.assertFound(self.pm("-q", "k", self.path("plain")), "v")
        self.assertFound(self.pm("-q", "k", "hash:" + self.path("plain")), "v")

    def test_btree(self):
        t = self.table("bt", "a 1\nb 2\n", type_="btree")
        self.assertFound(self.pm("-q", "b", t), "2")
        self.assertNotFound(self.pm("-q", "c", t))

    def test_query_stdin(self):
        t = self.table("t", "a va\nb vb\n")
        r = self.pm("-q", "-", t, stdin="a\nmissing\nB\n")
        self.assertEqual((r.rc, r.out), (0, "a\tva\nB\tvb\n"), r)
        r = self.pm("-q", "-", t, stdin="x\ny\n")
        self.assertNotFound(r)
        r = self.pm("-q", "-", t, stdin="")
        self.assertNotFound(r)

    def test_several_tables_first_wins(self):
        m1 = self.table("m1", "a 1\n")
        m2 = self.table("m2", "a 2\nb 2\n")
        self.assertFound(self.pm("-q", "a", m1, m2), "1")
        self.assertFound(self.pm("-q", "a", m2, m1), "2")
        self.assertFound(self.pm("-q", "b", m1, m2), "2")
        self.assertNotFound(self.pm("-q", "c", m1, m2))
        r = self.pm("-q", "-", m1, m2, stdin="a\nb\nc\n")
        self.assertEqual((r.rc, r.out), (0, "a\t1\nb\t2\n"), r)

    def test_error_stops_the_search(self):
        m1 = self.table("m1", "a 1\n")
        m2 = self.table("m2", "b 2\n")
        # A table that fails every lookup, before the one that has the key.
        self.assertFails(self.pm("-q", "b", m1, "fail:broken", m2),
                         r"fail:broken")
        # A missing table is an error too, but only once it is reached.
        missing = "hash:" + self.path("nothere")
        self.assertFound(self.pm("-q", "a", m1, missing), "1")
        self.assertFails(self.pm("-q", "b", m1, missing, m2),
                         r"nothere\.db", r"No such file or directory")

    def test_missing_table(self):
        r = self.pm("-q", "k", "hash:" + self.path("nosuch"))
        self.assertFails(r, r"nosuch\.db", r"No such file or directory")
        r = self.pm("hash:" + self.path("nosource"))
        self.assertFails(r, r"nosource", r"No such file or directory")
        self.assertFalse(os.path.exists(self.path("nosource.db")))
        r = self.pm("-q", "k", "pcre:" + self.path("nosuch.pcre"))
        self.assertFails(r, r"nosuch\.pcre", r"No such file or directory")

    def test_unsupported_type(self):
        r = self.pm("-q", "k", "nosuchtype:" + self.path("x"))
        self.assertFails(r, r"unsupported table type", r"nosuchtype")
        src = write(self.path("src"), "k v\n")
        r = self.pm("nosuchtype:" + src)
        self.assertFails(r, r"unsupported table type", r"nosuchtype")

    def test_usage(self):
        r = self.pm()
        self.assertEqual(r.rc, 1, r)
        self.assertRegex(r.err, r"usage")
        r = self.pm("-q", "k")
        self.assertEqual(r.rc, 1, r)
        r = self.pm("-Z", "hash:" + self.path("x"))
        self.assertEqual(r.rc, 1, r)

    def test_modes_are_exclusive(self):
        t = self.table("t", "a 1\n")
        for combo in (("-q", "a", "-s"), ("-q", "a", "-d", "a"),
                      ("-d", "a", "-s"), ("-s", "-q", "-")):
            r = self.pm(*combo, t)
            self.assertEqual(r.rc, 1, (combo, r))
            self.assertEqual(r.out, "", (combo, r))
            self.assertRegex(r.err, r"only one of", (combo, r))
        # Nothing was deleted or changed on the way.
        self.assertFound(self.pm("-q", "a", t), "1")


class TestModes(PostmapCase):
    def dump(self, *maps):
        r = self.pm("-s", *maps)
        self.assertEqual(r.rc, 0, r)
        return sorted(r.out.splitlines())

    def test_sequence(self):
        t = self.table("t", "b 2\nA 1\nc three words\n")
        self.assertEqual(self.dump(t), ["a\t1", "b\t2", "c\tthree words"])
        # Only the first table is listed.
        t2 = self.table("t2", "z 26\n")
        self.assertEqual(self.dump(t, t2)[0:1], ["a\t1"])
        self.assertNotIn("z\t26", self.dump(t, t2))
        self.assertEqual(self.dump(t2, t), ["z\t26"])

    def test_sequence_btree_is_sorted(self):
        t = self.table("bt", "b 2\nc 3\na 1\n", type_="btree")
        r = self.pm("-s", t)
        self.assertEqual((r.rc, r.out), (0, "a\t1\nb\t2\nc\t3\n"), r)

    def test_delete(self):
        m1 = self.table("m1", "a 1\nb 1\n")
        m2 = self.table("m2", "a 2\nc 2\n")
        r = self.pm("-d", "A", m1, m2)
        self.assertEqual((r.rc, r.out), (0, ""), r)
        self.assertNotFound(self.pm("-q", "a", m1, m2))
        self.assertFound(self.pm("-q", "b", m1), "1")
        r = self.pm("-d", "a", m1, m2)
        self.assertEqual(r.rc, 1, r)
        r = self.pm("-d", "c", m1, m2)       # only in the second one
        self.assertEqual(r.rc, 0, r)
        self.assertNotFound(self.pm("-q", "c", m2))

    def test_delete_stdin(self):
        t = self.table("t", "a 1\nb 2\nc 3\n")
        r = self.pm("-d", "-", t, stdin="a\nnothere\nC\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.dump(t), ["b\t2"])
        r = self.pm("-d", "-", t, stdin="x\ny\n")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(self.dump(t), ["b\t2"])

    def test_incremental(self):
        t = self.table("t", "a 1\nb 2\n")
        r = self.pm("-i", t, stdin="c 3\nA 10\nd 4\n")
        self.assertEqual(r.rc, 0, r)
        # Nothing truncated; the duplicate keeps the old value, with a warning.
        self.assertEqual(self.dump(t), ["a\t1", "b\t2", "c\t3", "d\t4"])
        self.assertRegex(r.err, r"duplicate entry")
        r = self.pm("-i", "-r", t, stdin="b 20\n")
        self.assertEqual(r.rc, 0, r)
        self.assertFound(self.pm("-q", "b", t), "20")

    def test_incremental_creates(self):
        t = "hash:" + self.path("fresh")
        r = self.pm("-i", t, stdin="k v\n")
        self.assertEqual(r.rc, 0, r)
        self.assertFound(self.pm("-q", "k", t), "v")

    def test_rebuild_truncates(self):
        t = self.table("t", "a 1\nb 2\n")
        t = self.table("t", "c 3\n")
        self.assertEqual(self.dump(t), ["c\t3"])


class TestFlags(PostmapCase):
    def test_duplicates_default_warn_first_wins(self):
        src = self.path("dups")
        write(src, "a first\nb x\nA second\n")
        r = self.pm("hash:" + src)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.err, r'(?i)duplicate entry.*"?a"?')
        self.assertNamesLine(r.err, src, 3)
        self.assertFound(self.pm("-q", "a", "hash:" + src), "first")

    def test_duplicates_r_last_wins(self):
        src = write(self.path("dups"), "a first\nA second\n")
        r = self.pm("-r", "hash:" + src)
        self.assertEqual((r.rc, r.err), (0, ""), r)
        self.assertFound(self.pm("-q", "a", "hash:" + src), "second")

    def test_duplicates_w_silent_first_wins(self):
        src = write(self.path("dups"), "a first\nA second\n")
        r = self.pm("-w", "hash:" + src)
        self.assertEqual((r.rc, r.err), (0, ""), r)
        self.assertFound(self.pm("-q", "a", "hash:" + src), "first")

    def test_f_keeps_case(self):
        t = self.table("t", "MiXed Value\n", "-f")
        self.assertFound(self.pm("-f", "-q", "MiXed", t), "Value")
        self.assertNotFound(self.pm("-f", "-q", "mixed", t))
        # Without -f the query key is folded and misses the mixed-case key.
        self.assertNotFound(self.pm("-q", "MiXed", t))
        r = self.pm("-s", t)
        self.assertEqual(r.out, "MiXed\tValue\n", r)

    def test_trailing_nul_flags(self):
        dflt = self.table("dflt", "k v\n")
        withn = self.table("withn", "k v\n", "-N")
        without = self.table("without", "k v\n", "-n")
        for t in (dflt, withn, without):
            self.assertFound(self.pm("-q", "k", t), "v")
        self.assertFound(self.pm("-N", "-q", "k", dflt), "v")
        self.assertNotFound(self.pm("-n", "-q", "k", dflt))
        self.assertFound(self.pm("-N", "-q", "k", withn), "v")
        self.assertNotFound(self.pm("-n", "-q", "k", withn))
        self.assertFound(self.pm("-n", "-q", "k", without), "v")
        self.assertNotFound(self.pm("-N", "-q", "k", without))

    def test_on_disk_bytes(self):
        """§2.2: key and value are stored lowercased with a trailing NUL."""
        dump = "/usr/bin/db5.3_dump"
        self.assertTrue(os.access(dump, os.X_OK),
                        "db5.3-util is not installed (scripts/test.sh does)")
        self.table("t", "Foo@Example.COM  bar\n")
        out = subprocess.run([dump, "-p", self.path("t.db")],
                             stdout=subprocess.PIPE, check=True).stdout
        self.assertIn(b" foo@example.com\\00\n bar\\00\n", out)
        self.table("n", "Foo@Example.COM  bar\n", "-n")
        out = subprocess.run([dump, "-p", self.path("n.db")],
                             stdout=subprocess.PIPE, check=True).stdout
        self.assertIn(b" foo@example.com\n bar\n", out)

    def test_o_and_v_and_p_are_accepted(self):
        t = self.table("t", "a 1\n", "-o")
        self.assertFound(self.pm("-o", "-q", "a", t), "1")
        t = self.table("t", "a 1\n", "-p")
        self.assertFound(self.pm("-v", "-q", "a", t), "1")
        self.assertFound(self.pm("-v", "-v", "-q", "a", t), "1")

    def test_config_directory(self):
        # default_database_type from -c DIR/main.cf decides the bare name's type.
        cfg2 = os.path.join(self.tmp, "cfg2")
        os.makedirs(cfg2)
        write(os.path.join(cfg2, "main.cf"),
              "compatibility_level = 3.6\ndefault_database_type = btree\n")
        src = write(self.path("bare"), "k v\n")
        r = run([self.postmap, "-c", cfg2, src])
        self.assertEqual(r.rc, 0, r)
        self.assertFound(run([self.postmap, "-c", cfg2, "-q", "k",
                              "btree:" + src]), "v")
        r = run([self.postmap, "-c", cfg2, "-q", "k", "hash:" + src])
        self.assertEqual(r.rc, 1, r)
        # MAIL_CONFIG does the same when -c is absent.
        r = run([self.postmap, "-q", "k", src], env={"MAIL_CONFIG": cfg2})
        self.assertFound(r, "v")

    def test_missing_config_directory(self):
        r = run([self.postmap, "-c", self.path("nocfg"), "-q", "k",
                 "static:v"])
        # Postfix refuses to run without main.cf; either way: no crash,
        # and a failure must say why.
        if r.rc != 0:
            self.assertRegex(r.err, r"nocfg")


class TestBuiltinTypes(PostmapCase):
    def test_inline(self):
        t = "inline:{a=1, { b = two words }, C=3}"
        self.assertFound(self.pm("-q", "a", t), "1")
        self.assertFound(self.pm("-q", "B", t), "two words")
        self.assertFound(self.pm("-q", "c", t), "3")
        self.assertNotFound(self.pm("-q", "d", t))

    def test_static(self):
        self.assertFound(self.pm("-q", "anything", "static:hello"), "hello")
        self.assertFound(self.pm("-q", "x", "static:{ with spaces }"),
                         "with spaces")
        # static answers every key, so a later table is never reached.
        self.assertFound(self.pm("-q", "x", "static:s", "inline:{x=1}"), "s")

    def test_texthash(self):
        src = write(self.path("th"), "# comment\nAlpha 1\nbeta two\n  words\n")
        self.assertFound(self.pm("-q", "alpha", "texthash:" + src), "1")
        self.assertFound(self.pm("-q", "BETA", "texthash:" + src),
                         "two  words")
        self.assertNotFound(self.pm("-q", "gamma", "texthash:" + src))
        self.assertFalse(os.path.exists(src + ".db"))

    def test_cidr(self):
        src = write(self.path("c.cidr"),
                    "192.168.0.0/16 LAN\n10.1.2.3 HOST\n"
                    "2001:db8::/32 V6\n0.0.0.0/0 ANY\n")
        t = "cidr:" + src
        self.assertFound(self.pm("-q", "192.168.7.9", t), "LAN")
        self.assertFound(self.pm("-q", "10.1.2.3", t), "HOST")
        self.assertFound(self.pm("-q", "10.1.2.4", t), "ANY")
        self.assertFound(self.pm("-q", "2001:db8::1", t), "V6")

    def test_pcre_and_regexp(self):
        src = write(self.path("r"),
                    "# rules\n/^(.*)@(.*)$/ $2!$1\n/^plain$/ P\n")
        for type_ in ("pcre", "regexp"):
            t = "%s:%s" % (type_, src)
            self.assertFound(self.pm("-q", "A@B", t), "B!A")
            self.assertFound(self.pm("-q", "PLAIN", t), "P")
            self.assertNotFound(self.pm("-q", "nothing", t))

    def test_postfix_dynamicmaps_cf_in_config_dir(self):
        """A Postfix dynamicmaps.cf names Postfix's plugins: postino must not
        call them, and must not crash."""
        write(os.path.join(self.cfg, "dynamicmaps.cf"),
              "# dict-type\tso-name\tdict-function\tmkmap-function\n"
              "ldap\tpostfix-ldap.so\tdict_ldap_open\n"
              "mysql\tpostfix-mysql.so\tdict_mysql_open\n"
              "pcre\tpostfix-pcre.so\tdict_pcre_open\n"
              "garbage line\n")
        t = self.table("t", "a 1\n")
        self.assertFound(self.pm("-q", "a", t), "1")
        r = self.pm("-q", "a", "ldap:" + self.path("ldap.cf"))
        self.assertEqual((r.rc, r.out), (1, ""), r)
        self.assertTrue(r.err.strip(), r)


class TestExplain(PostmapCase):
    def test_explain_pcre_names_rule(self):
        src = write(self.path("rules.pcre"),
                    "# line 1\n/^nomatch$/ X\n/^(a)b(c)$/ got $1$2\n/./ ANY\n")
        t = "pcre:" + src
        r = self.pm("-x", "-q", "abc", t)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("got ac", r.out)
        text = r.out + r.err
        self.assertIn(t, text)
        self.assertNamesLine(text, src, 3)
        self.assertFalse(names_line(text, src, 4),
                         "rule after the match: " + text)

    def test_explain_several_tables(self):
        m1 = self.table("m1", "other 1\n")
        m2 = self.table("m2", "key 2\n")
        r = self.pm("-x", "-q", "KEY", m1, m2)
        self.assertEqual(r.rc, 0, r)
        text = r.out + r.err
        self.assertIn(m1, text)
        self.assertIn(m2, text)
        self.assertIn("key", text)
        self.assertIn("2", r.out)

    def test_explain_not_found(self):
        m1 = self.table("m1", "other 1\n")
        r = self.pm("-x", "-q", "nothere", m1)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(m1, r.out + r.err)


class TestMalformed(PostmapCase):
    def build(self, name, data, *flags):
        src = write(self.path(name), data)
        r = self.pm(*flags, "hash:" + src)
        self.assertEqual(r.rc, 0, r)
        return src, r

    def test_line_without_value(self):
        src, r = self.build("nv", "good 1\nlonely\nafter 2\n")
        self.assertRegex(r.err, r"warning: ")
        self.assertNamesLine(r.err, src, 2)
        self.assertNotFound(self.pm("-q", "lonely", "hash:" + src))
        self.assertFound(self.pm("-q", "after", "hash:" + src), "2")

    def test_unbalanced_quote(self):
        src, r = self.build("uq", 'good 1\n"john doe@x value\nafter 2\n')
        self.assertNamesLine(r.err, src, 2)
        self.assertFound(self.pm("-q", "good", "hash:" + src), "1")
        self.assertFound(self.pm("-q", "after", "hash:" + src), "2")
        r = self.pm("-s", "hash:" + src)
        self.assertEqual(sorted(r.out.splitlines()), ["after\t2", "good\t1"])

    def test_quoted_key(self):
        src, r = self.build("qk", '"John Doe"@example.com v\n')
        self.assertEqual(r.err, "", r)
        self.assertFound(self.pm("-q", '"john doe"@example.com',
                                 "hash:" + src), "v")

    def test_nul_byte(self):
        src, r = self.build("nul", b"good 1\nk\x00ey v\nafter 2\n")
        self.assertNamesLine(r.err, src, 2)
        self.assertFound(self.pm("-q", "good", "hash:" + src), "1")
        self.assertFound(self.pm("-q", "after", "hash:" + src), "2")

    def test_long_value_round_trips(self):
        big = "v" * 100000
        src, r = self.build("long", "good 1\nbig " + big + "\nafter 2\n")
        self.assertFound(self.pm("-q", "big", "hash:" + src), big)
        self.assertFound(self.pm("-q", "after", "hash:" + src), "2")

    def test_long_key(self):
        src = write(self.path("lk"), "good 1\n" + "K" * 100000 + " v\nafter 2\n")
        r = self.pm("hash:" + src)
        # Stored (as Postfix does) or refused with a message naming the line.
        self.assertIn(r.rc, (0, 1), r)
        if r.err:
            self.assertNamesLine(r.err, src, 2)
        if r.rc == 0:
            self.assertFound(self.pm("-q", "after", "hash:" + src), "2")
        r = self.pm("-q", "K" * 100000, "hash:" + src)
        self.assertIn(r.rc, (0, 1), r)

    def test_stray_continuation_and_alias_format(self):
        src, r = self.build("sc", "  stray line\nfoo: bar\nx 1\n  more\n")
        self.assertRegex(r.err, r"whitespace")
        self.assertRegex(r.err, r"alias file")
        self.assertNamesLine(r.err, src, 2)
        self.assertFound(self.pm("-q", "foo:", "hash:" + src), "bar")
        self.assertFound(self.pm("-q", "x", "hash:" + src), "1  more")

    def test_comments_and_hash_in_value(self):
        src, r = self.build("cm", "# c\na b # not a comment\n# between\n"
                            "\tcontinued\n\n   \nlast 1")
        self.assertEqual(r.err, "", r)
        self.assertFound(self.pm("-q", "a", "hash:" + src),
                         "b # not a comment\tcontinued")
        self.assertFound(self.pm("-q", "last", "hash:" + src), "1")

    def test_binary_garbage(self):
        data = bytes(range(256)) * 64 + b"\nok 1\n"
        src = write(self.path("bin"), data)
        r = self.pm("hash:" + src)
        self.assertIn(r.rc, (0, 1), r)
        if r.rc == 0:
            self.assertFound(self.pm("-q", "ok", "hash:" + src), "1")

    def test_corrupt_db(self):
        write(self.path("bad.db"), b"this is not a berkeley db file\n" * 10)
        r = self.pm("-q", "k", "hash:" + self.path("bad"))
        self.assertFails(r, r"bad\.db")


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: MIT
"""test_regexp - the pcre: and regexp: tables through the built postmap.

Golden files in this directory, one case per NAME:
  TYPE-WHAT.map   the table (TYPE is pcre or regexp)
  TYPE-WHAT.in    keys, one per line
  TYPE-WHAT.ref   what `postmap -q - TYPE:TYPE-WHAT.map < TYPE-WHAT.in`
                  prints; produced by Postfix 3.7's postmap, ours must agree
  TYPE-WHAT.err   the table's load warnings ("TYPE map FILE, line N: ...")
                  that our postmap must print, in order

Besides the golden files: inline tables, open errors, hostile files (NUL
bytes, 100 KB lines, binary garbage, catastrophic backtracking, 5000 nested
ifs), explain mode (postmap -x), and a benchmark-shaped table whose answers
are checked against Python's re module (an independent engine).

Environment: POSTINO_BUILD = the build tree (set by ctest).
"""
import os
import random
import re
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd"))
import postino_testlib as lib  # noqa: E402


def postmap(args, stdin=b"", cwd=None):
    return lib.run([lib.program("postmap")] + args, stdin=stdin, cwd=cwd)


def golden_names():
    return sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".map"))


class Golden(unittest.TestCase):
    def test_golden_files(self):
        names = golden_names()
        self.assertGreaterEqual(len(names), 12)
        for name in names:
            with self.subTest(name=name):
                typ = name.split("-", 1)[0]
                self.assertIn(typ, ("pcre", "regexp"))
                with open(os.path.join(HERE, name + ".in"), "rb") as f:
                    keys = f.read()
                res = postmap(["-q", "-", "%s:%s.map" % (typ, name)],
                              stdin=keys, cwd=HERE)
                with open(os.path.join(HERE, name + ".ref"), "rb") as f:
                    ref = f.read()
                self.assertEqual(res.out_b.decode(), ref.decode(), res)
                self.assertEqual(res.rc, 0 if ref else 1, res)
                with open(os.path.join(HERE, name + ".err")) as f:
                    want = f.read().splitlines()
                got = [ln for ln in res.err.splitlines()
                       if " map %s.map, line " % name in ln]
                self.assertEqual(got, want, res)


class Inline(unittest.TestCase):
    def q(self, key, table):
        return postmap(["-q", key, table])

    def test_inline_rules(self):
        for typ in ("pcre", "regexp"):
            r = self.q("b", "%s:{ {/a/ x}, {/b/ y y} }" % typ)
            self.assertEqual((r.rc, r.out), (0, "y y\n"), r)
            r = self.q("Joe@Ex.com", "%s:{{/^(.*)@/ user $1}}" % typ)
            self.assertEqual(r.out, "user Joe\n", r)
            r = self.q("zz", "%s:{ {/a/ x} }" % typ)
            self.assertEqual((r.rc, r.out), (1, ""), r)

    def test_inline_if_block(self):
        r = self.q("b", "regexp:{ {if /b/}, {/./ in}, {endif} }")
        self.assertEqual(r.out, "in\n", r)

    def test_inline_bad_rule_names_item(self):
        r = self.q("b", "regexp:{ {/a/q x}, {/b/ y $2}, {/b/ z} }")
        self.assertEqual(r.out, "z\n", r)
        self.assertIn('regexp map { {/a/q x}, {/b/ y $2}, {/b/ z} }, line 1: '
                      'unknown regexp option "q"', r.err)
        self.assertIn(", line 2: out of range replacement index", r.err)

    def test_inline_syntax_errors(self):
        r = self.q("b", "regexp:{ {/a/ x}, /c/ z }")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("no '{' at start of text in \"/c/\"", r.err)
        r = self.q("b", "pcre:{ {/a/ x}, {/b/ y y}")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("missing '}'", r.err)

    def test_empty_inline_table(self):
        r = self.q("b", "regexp:{}")
        self.assertEqual((r.rc, r.out), (1, ""), r)


class OpenErrors(unittest.TestCase):
    def test_missing_file(self):
        for typ in ("pcre", "regexp"):
            r = postmap(["-q", "x", "%s:/nonexistent/rules" % typ])
            self.assertNotEqual(r.rc, 0)
            self.assertIn("open /nonexistent/rules: No such file or directory",
                          r.err)

    def test_unreadable_directory(self):
        r = postmap(["-q", "x", "pcre:/"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertTrue(r.err.strip(), r)


class Hostile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def table(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def lookup(self, typ, path, keys):
        return postmap(["-q", "-", "%s:%s" % (typ, path)],
                       stdin=b"".join(k + b"\n" for k in keys))

    def test_nul_bytes(self):
        p = self.table("nul", b"/^a\x00b/ x\n/^ok$/ ok\n/^c$/ res\x00ult\n")
        for typ in ("pcre", "regexp"):
            r = self.lookup(typ, p, [b"ok", b"c", b"a"])
            self.assertEqual(r.out, "ok\tok\nc\tres\n", r)
            self.assertIn("line 1: no closing regexp delimiter", r.err)
            self.assertRegex(r.err, r"nul, line 3: .*null byte")

    def test_long_lines(self):
        p = self.table("long", b"/^" + b"x" * 100000 + b"$/ long\n"
                       b"/^y$/ " + b"r" * 100000 + b"\n/^ok$/ ok\n")
        r = self.lookup("regexp", p, [b"x" * 100000, b"y", b"ok"])
        self.assertEqual(r.out.splitlines(),
                         ["x" * 100000 + "\tlong", "y\t" + "r" * 100000,
                          "ok\tok"])
        # PCRE2 refuses the pattern (as in Postfix): that rule alone goes.
        r = self.lookup("pcre", p, [b"x" * 100000, b"y", b"ok"])
        self.assertEqual(r.out.splitlines(), ["y\t" + "r" * 100000, "ok\tok"])
        self.assertIn("pcre map %s, line 1: error in regex at offset 100002: "
                      "regular expression is too large" % p, r.err)

    def test_long_warning_is_cut(self):
        p = self.table("longif", b"if /a/ " + b"x" * 100000 + b"\nendif\n")
        r = self.lookup("regexp", p, [b"a"])
        self.assertIn("line 1: ignoring extra text after IF statement", r.err)
        for ln in r.err.splitlines():
            self.assertLess(len(ln), 2200, ln[:200])

    def test_garbage(self):
        rnd = random.Random(5)
        p = self.table("garbage", bytes(rnd.randrange(256)
                                        for _ in range(20000))
                       + b"\n/^ok$/ ok\n")
        for typ in ("pcre", "regexp"):
            r = self.lookup(typ, p, [b"ok", b"\xff\xfe"])
            self.assertIn("ok\tok\n", r.out, r)
            lines = r.err.splitlines()
            self.assertTrue(lines)
            for ln in lines:
                self.assertRegex(ln, r"garbage, line \d+: ", ln)
                self.assertTrue(all(32 <= ord(c) < 127 for c in ln), ln)

    def test_backtracking(self):
        p = self.table("bt", b"/^(\\w+\\s?)*$/ catastrophic\n"
                       b"!/^(\\w+\\s?)*$/ neg\n/x/ fine\n")
        key = b"ab " * 5 + b"a" * 40 + b"!x"
        r = self.lookup("pcre", p, [key])
        self.assertEqual(r.out, key.decode() + "\tfine\n", r)
        self.assertIn("pcre map %s, line 1: match limit exceeded" % p, r.err)
        self.assertIn("pcre map %s, line 2: match limit exceeded" % p, r.err)

    def test_deep_nesting(self):
        p = self.table("deep", b"if /./\n" * 5000 + b"/^deep$/ deep\n"
                       + b"endif\n" * 4999 + b"/^ok$/ ok\n")
        for typ in ("pcre", "regexp"):
            r = self.lookup(typ, p, [b"deep", b"ok"])
            self.assertEqual(r.out, "deep\tdeep\nok\tok\n", r)
            self.assertEqual(r.err.count("IF has no matching ENDIF"), 1, r)
            self.assertIn("line 1: IF has no matching ENDIF", r.err)

    def test_many_bad_rules(self):
        p = self.table("bad", b"".join(b"/(%d/ x\n" % i for i in range(2000))
                       + b"/^ok$/ ok\n")
        for typ in ("pcre", "regexp"):
            r = self.lookup(typ, p, [b"ok"])
            self.assertEqual(r.out, "ok\tok\n", r)
            self.assertIn("line 2000: ", r.err)

    def test_pathological_patterns(self):
        # glibc's regcomp would overflow the stack on the first and take
        # gigabytes on the next two: refused with a warning instead.
        p = self.table("patho", b"/" + b"(" * 200000 + b"a" + b")" * 200000
                       + b"/ deep\n/^d(a" + b"+" * 40 + b")/ plus\n"
                       b"/^((((a{100}){100}){100}){100})$/ rep\n"
                       b"/^(a{1,50}b){2,5}$/ ok\n")
        r = self.lookup("regexp", p, [b"a", b"daa", b"ab" * 3])
        self.assertEqual(r.out, "ababab\tok\n", r)
        self.assertIn("line 1: parentheses are too deeply nested", r.err)
        self.assertIn("line 2: regular expression is too large", r.err)
        self.assertIn("line 3: regular expression is too large", r.err)
        r = self.lookup("pcre", p, [b"a", b"daa", b"ab" * 3])
        self.assertEqual(r.out, "ababab\tok\n", r)
        self.assertIn("line 1: error in regex at offset", r.err)
        self.assertIn("line 2: error in regex at offset", r.err)

    def test_bad_utf8_key(self):
        p = self.table("u", "/^caf\u00e9$/ cafe\n/^(.)x$/ one $1\n".encode())
        for typ in ("pcre", "regexp"):
            r = self.lookup(typ, p, [b"caf\xc3\xa9", b"\xffx"])
            self.assertEqual(r.out_b, b"caf\xc3\xa9\tcafe\n\xffx\tone \xff\n",
                             r)


class Explain(unittest.TestCase):
    def test_explain_match_and_miss(self):
        with tempfile.NamedTemporaryFile("w", suffix=".pcre") as f:
            f.write("/^nomatch/ x\nif !/@example\\.com$/\n/./ other\n"
                    "endif\n/^(.*)@example\\.com$/ OK $1\n")
            f.flush()
            r = postmap(["-x", "-q", "joe@example.com", "pcre:" + f.name])
            self.assertEqual(r.rc, 0, r)
            trace = r.out + r.err
            self.assertIn("%s, line 2: if !/@example\\.com$/: condition fails"
                          % f.name, trace)
            self.assertIn('%s, line 5: /^(.*)@example\\.com$/ matched '
                          '"joe@example.com" -> "OK $1" = "OK joe"' % f.name,
                          trace)
            r = postmap(["-x", "-q", "joe@example.net", "pcre:" + f.name])
            trace = r.out + r.err
            self.assertIn('line 3: /./ matched "joe@example.net" -> "other"',
                          trace)
            f.write("/^never/ y\n")
        with tempfile.NamedTemporaryFile("w", suffix=".regexp") as f:
            f.write("/^a/ x\n/^b/ y\n")
            f.flush()
            r = postmap(["-x", "-q", "zzz", "regexp:" + f.name])
            self.assertEqual(r.rc, 1, r)
            self.assertRegex(r.out + r.err,
                             r'no rule matched "zzz": \d+ of 2 rules visited')


def py_pattern(p):
    """The benchmark patterns use only syntax common to ERE, PCRE and re."""
    return re.compile(p, re.IGNORECASE | re.DOTALL)


class BenchShaped(unittest.TestCase):
    """gen-patterns.py-shaped tables: answers checked against Python re."""

    def test_against_python_re(self):
        rnd = random.Random(11)
        rules, keys = [], []
        for i in range(400):
            tag = "%04x" % rnd.randrange(16 ** 4)
            kind = i % 10
            if kind < 4:
                dom = "d%04d-%s.example" % (i, tag)
                rules.append(r"@(.+\.)?%s$" % dom.replace(".", r"\."))
                keys.append("user%d@mx.%s" % (i, dom.upper() if i % 3 else dom))
            elif kind < 7:
                rules.append(r"^spam%04d%s[-.+_]" % (i, tag))
                keys.append("SPAM%04d%s.x@h.example" % (i, tag))
            else:
                rules.append(r"bulk%04d%soffer" % (i, tag))
                keys.append("news-bulk%04d%soffer-%d@l.example" % (i, tag, i))
            keys.append("someone%d.%08x@h.clean.example"
                        % (i, rnd.randrange(16 ** 8)))
            # Near misses: a literal present but the pattern not matching.
            keys.append("spam%04d%sX@h.example" % (i, tag))
        with tempfile.NamedTemporaryFile("w", suffix=".re") as f:
            for i, p in enumerate(rules):
                f.write("/%s/ REJECT rule %d\n" % (p, i))
            f.flush()
            compiled = [py_pattern(p) for p in rules]
            want = []
            for k in keys:
                for i, c in enumerate(compiled):
                    if c.search(k):
                        want.append("%s\tREJECT rule %d" % (k, i))
                        break
            self.assertGreater(len(want), 300)
            stdin = "".join(k + "\n" for k in keys)
            for typ in ("pcre", "regexp"):
                r = postmap(["-q", "-", "%s:%s" % (typ, f.name)], stdin=stdin)
                self.assertEqual(r.out.splitlines(), want, typ)


if __name__ == "__main__":
    unittest.main()

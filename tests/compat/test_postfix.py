#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""compat.postfix - postino's postmap/postalias answer exactly like
Debian's Postfix (packages postfix and postfix-pcre, which scripts/test.sh
installs; without them this test FAILS, it never skips).

For the same source files, both tools must agree on every query (stdout
and exit status), for:
  hash: and btree: built with default flags, -N, -n and -f;
  pcre: and regexp: (tests/compat/data and tests/maps/regexp golden files);
  cidr:, texthash:, inline:, static:, several tables in one query;
  -s dumps (compared sorted), -d deletions, postalias tables;
  messages on stdin with -h, -b and -m (header_checks and body_checks
  simulation: which lines are headers and which are body, MIME parts
  and attached messages, blank lines; TestMessageModes);
  UTF-8 keys: Unicode case folding with smtputf8_enable = yes, ASCII
  folding with no, at compatibility_level 0 and with -u, and keys that
  are not UTF-8 (TestUtf8Keys);
and each tool must read the .db files the other one wrote.  Warnings are
compared loosely: both tools warn, or neither does.

Postfix runs with its own configuration directory (a minimal main.cf in a
temporary directory, passed with -c), so nothing of a system Postfix is
used or started."""
import glob
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cmd"))
from postino_testlib import program, run, source_dir, write  # noqa: E402

DATA = os.path.join(HERE, "data")
PF_POSTMAP = "/usr/sbin/postmap"
PF_POSTALIAS = "/usr/sbin/postalias"
MAIN_CF = "compatibility_level = 3.6\n"


def keys_of(path):
    with open(path, "rb") as f:
        return f.read()


class Tools:
    """One tool set (postino's or Postfix's) with its own config dir."""

    def __init__(self, name, postmap, postalias, cfg):
        self.name = name
        self.postmap = postmap
        self.postalias = postalias
        self.cfg = cfg

    def pm(self, *args, stdin=b""):
        return run([self.postmap, "-c", self.cfg] + list(args), stdin=stdin)

    def pa(self, *args, stdin=b""):
        return run([self.postalias, "-c", self.cfg] + list(args), stdin=stdin)


class CompatCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for p in (PF_POSTMAP, PF_POSTALIAS):
            if not os.access(p, os.X_OK):
                raise AssertionError(
                    "%s is missing: install Debian's postfix and postfix-pcre "
                    "(scripts/test.sh does)" % p)
        cls.tmp = tempfile.mkdtemp(prefix="postino-compat-")
        cfgs = {}
        for n in ("pf", "pi"):
            cfgs[n] = os.path.join(cls.tmp, "cfg-" + n)
            os.makedirs(cfgs[n])
            write(os.path.join(cfgs[n], "main.cf"), MAIN_CF)
        cls.pf = Tools("postfix", PF_POSTMAP, PF_POSTALIAS, cfgs["pf"])
        cls.pi = Tools("postino", program("postmap"), program("postalias"),
                       cfgs["pi"])
        r = run(["/usr/sbin/postconf", "-c", cfgs["pf"], "-m"])
        if "pcre" not in r.out.split():
            raise AssertionError("Postfix has no pcre: table type; install "
                                 "postfix-pcre (scripts/test.sh does)")
        cls.counter = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def fresh(self, tag):
        """A new empty directory for one tool's files."""
        type(self).counter += 1
        d = os.path.join(self.tmp, "%s-%d" % (tag, self.counter))
        os.makedirs(d)
        return d

    def copy(self, src, tag):
        d = self.fresh(tag)
        dst = os.path.join(d, os.path.basename(src))
        shutil.copyfile(src, dst)
        return dst

    def assertSame(self, what, a, b, dump=False, warn=True):
        """a is Postfix's Result, b is postino's."""
        out_a, out_b = a.out, b.out
        if dump:
            out_a = "".join(sorted(out_a.splitlines(True)))
            out_b = "".join(sorted(out_b.splitlines(True)))
        self.assertEqual((a.rc, out_a), (b.rc, out_b),
                         "%s: Postfix %r vs postino %r" % (what, a, b))
        if warn:
            self.assertEqual(bool(a.err.strip()), bool(b.err.strip()),
                             "%s: only one warns: Postfix %r vs postino %r"
                             % (what, a.err, b.err))

    def query_all(self, what, maps, keys, flags=(), warn=True):
        """-q - with every key, then -q KEY for each key, on both tools;
        maps is a function tool -> list of table names."""
        pf, pi = self.pf, self.pi
        self.assertSame(what + " -q -", pf.pm(*flags, "-q", "-", *maps(pf),
                                              stdin=keys),
                        pi.pm(*flags, "-q", "-", *maps(pi), stdin=keys),
                        warn=warn)
        for key in keys.split(b"\n"):
            if not key or key.startswith(b"-"):
                continue
            k = key.decode("utf-8", "surrogateescape")
            with self.subTest(query=k):
                self.assertSame("%s -q %r" % (what, k),
                                pf.pm(*flags, "-q", k, *maps(pf)),
                                pi.pm(*flags, "-q", k, *maps(pi)), warn=warn)


class TestIndexed(CompatCase):
    """hash: and btree: tables built from the same source by both tools."""

    def build_both(self, type_, src, flags):
        tables = {}
        for t in (self.pf, self.pi):
            copy = self.copy(src, t.name)
            r = t.pm(*flags, "%s:%s" % (type_, copy))
            tables[t.name] = (copy, r)
        a, b = tables["postfix"][1], tables["postino"][1]
        self.assertSame("build %s %s" % (type_, flags), a, b)
        return tables["postfix"][0], tables["postino"][0]

    def check_source(self, src, keys):
        for type_ in ("hash", "btree"):
            for flags in ((), ("-N",), ("-n",), ("-f",)):
                with self.subTest(type=type_, flags=flags):
                    pf_file, pi_file = self.build_both(type_, src, flags)
                    own = {"postfix": pf_file, "postino": pi_file}
                    other = {"postfix": pi_file, "postino": pf_file}
                    tn = "%s:" % type_
                    self.query_all("%s %s" % (type_, flags),
                                   lambda t: [tn + own[t.name]], keys, flags)
                    # Each tool reads the other's file, giving the same answers.
                    self.query_all("%s %s cross" % (type_, flags),
                                   lambda t: [tn + other[t.name]], keys, flags)
                    if flags:
                        # Query flags different from the build flags.
                        self.query_all("%s built %s, queried plainly" %
                                       (type_, flags),
                                       lambda t: [tn + own[t.name]], keys)
                    for label, files in (("own", own), ("cross", other)):
                        self.assertSame(
                            "%s %s -s %s" % (type_, flags, label),
                            self.pf.pm(*flags, "-s", tn + files["postfix"]),
                            self.pi.pm(*flags, "-s", tn + files["postino"]),
                            dump=True)

    def test_virtual_table(self):
        self.check_source(os.path.join(DATA, "virtual.src"),
                          keys_of(os.path.join(DATA, "virtual.keys")))

    def test_duplicates_r_w(self):
        src = write(os.path.join(self.fresh("src"), "dups"),
                    "a 1\nb 2\nA 3\nc 4\nB 5\n")
        keys = b"a\nb\nc\n"
        for flags in (("-r",), ("-w",), ()):
            with self.subTest(flags=flags):
                pf_file, pi_file = self.build_both("hash", src, flags)
                files = {"postfix": pf_file, "postino": pi_file}
                self.query_all("dups %s" % (flags,),
                               lambda t: ["hash:" + files[t.name]], keys)

    def test_delete(self):
        src = os.path.join(DATA, "virtual.src")
        keys = keys_of(os.path.join(DATA, "virtual.keys"))
        pf_file, pi_file = self.build_both("hash", src, ())
        files = {"postfix": pf_file, "postino": pi_file}
        for dk in ("JOE@example.com", "nothere", "@example.com"):
            self.assertSame("-d %s" % dk,
                            self.pf.pm("-d", dk, "hash:" + pf_file),
                            self.pi.pm("-d", dk, "hash:" + pi_file))
        self.assertSame("-d -", self.pf.pm("-d", "-", "hash:" + pf_file,
                                           stdin=b"12345\nmissing\nupper\n"),
                        self.pi.pm("-d", "-", "hash:" + pi_file,
                                   stdin=b"12345\nmissing\nupper\n"))
        self.query_all("after -d", lambda t: ["hash:" + files[t.name]], keys)
        self.assertSame("-s after -d", self.pf.pm("-s", "hash:" + pf_file),
                        self.pi.pm("-s", "hash:" + pi_file), dump=True)
        # And the other tool reads the result.
        self.query_all("after -d, cross",
                       lambda t: ["hash:" + files["postino" if t is self.pf
                                                  else "postfix"]], keys)

    def test_incremental(self):
        src = write(os.path.join(self.fresh("src"), "inc"), "a 1\nb 2\n")
        pf_file, pi_file = self.build_both("hash", src, ())
        more = b"c 3\nA 10\nd 4\n"
        self.assertSame("-i", self.pf.pm("-i", "hash:" + pf_file, stdin=more),
                        self.pi.pm("-i", "hash:" + pi_file, stdin=more))
        self.assertSame("-s after -i", self.pf.pm("-s", "hash:" + pf_file),
                        self.pi.pm("-s", "hash:" + pi_file), dump=True)

    def test_several_tables(self):
        m1 = write(os.path.join(self.fresh("src"), "m1"), "a 1\n")
        m2 = write(os.path.join(self.fresh("src"), "m2"), "a 2\nb 2\n")
        f1 = self.build_both("hash", m1, ())
        f2 = self.build_both("btree", m2, ())
        idx = {"postfix": 0, "postino": 1}
        keys = b"a\nb\nc\n"
        self.query_all("m1 m2", lambda t: ["hash:" + f1[idx[t.name]],
                                           "btree:" + f2[idx[t.name]]], keys)
        self.query_all("m2 m1", lambda t: ["btree:" + f2[idx[t.name]],
                                           "hash:" + f1[idx[t.name]]], keys)
        self.query_all("m1 inline static",
                       lambda t: ["hash:" + f1[idx[t.name]], "inline:{b=in}",
                                  "static:st"], keys)


class TestTextTables(CompatCase):
    """Tables read straight from their text: no build step."""

    def test_texthash(self):
        src = os.path.join(DATA, "virtual.src")
        keys = keys_of(os.path.join(DATA, "virtual.keys"))
        for flags in ((), ("-f",)):
            with self.subTest(flags=flags):
                self.query_all("texthash %s" % (flags,),
                               lambda t: ["texthash:" + src], keys, flags)

    def test_cidr(self):
        self.query_all("cidr", lambda t: ["cidr:" +
                                          os.path.join(DATA, "access.cidr")],
                       keys_of(os.path.join(DATA, "access.cidr.keys")))

    def test_inline_static(self):
        keys = b"a\nB\nc\nc d\nmissing\n"
        # The last two are syntax errors for Postfix (no whitespace in a
        # name, no empty list): postino must refuse them too.
        for table in ("inline:{a=1, B=2}", "inline:{ { c = with space }, a=x }",
                      "inline:{{a=}, B=2}", "static:value",
                      "static:{ spaced value }",
                      "inline:{ {c d = with space}, a=x }", "inline:{}"):
            with self.subTest(table=table):
                self.query_all(table, lambda t: [table], keys)

    def patterns(self, type_, path, keys):
        self.query_all("%s:%s" % (type_, os.path.basename(path)),
                       lambda t: ["%s:%s" % (type_, path)], keys)

    def test_pcre(self):
        self.patterns("pcre", os.path.join(DATA, "checks.pcre"),
                      keys_of(os.path.join(DATA, "checks.pcre.keys")))

    def test_regexp(self):
        self.patterns("regexp", os.path.join(DATA, "checks.regexp"),
                      keys_of(os.path.join(DATA, "checks.regexp.keys")))

    def test_regexp_golden_files(self):
        """The golden files of tests/maps/regexp: NAME.map with NAME.in
        (one key per line), each read as both pcre: and regexp: unless its
        name says which."""
        maps = sorted(glob.glob(os.path.join(source_dir(), "tests", "maps",
                                             "regexp", "*.map")))
        for m in maps:
            inp = m[:-len(".map")] + ".in"
            if not os.path.exists(inp):
                continue
            base = os.path.basename(m)
            types = [t for t in ("pcre", "regexp") if t in base] or \
                ["pcre", "regexp"]
            for type_ in types:
                with self.subTest(map=base, type=type_):
                    self.patterns(type_, m, keys_of(inp))


class TestAliases(CompatCase):
    def build_both(self, src, flags=()):
        files = {}
        res = {}
        for t in (self.pf, self.pi):
            copy = self.copy(src, t.name)
            res[t.name] = t.pa(*flags, "hash:" + copy)
            files[t.name] = copy
        self.assertSame("postalias build", res["postfix"], res["postino"])
        return files

    def dump(self, tool_pa, table):
        r = tool_pa("-s", table)
        # NIS builds of Postfix add YP_LAST_MODIFIED / YP_MASTER_NAME.
        r.out = "".join(sorted(line for line in r.out.splitlines(True)
                               if not line.startswith("YP_")))
        return r

    def test_postalias(self):
        src = os.path.join(DATA, "aliases")
        keys = keys_of(os.path.join(DATA, "aliases.keys"))
        files = self.build_both(src)
        for label, pick in (("own", lambda t: t.name),
                            ("cross", lambda t: "postino" if t is self.pf
                             else "postfix")):
            with self.subTest(read=label):
                a = self.pf.pa("-q", "-", "hash:" + files[pick(self.pf)],
                               stdin=keys)
                b = self.pi.pa("-q", "-", "hash:" + files[pick(self.pi)],
                               stdin=keys)
                self.assertSame("postalias -q - " + label, a, b)
                for key in keys.decode().split("\n"):
                    if not key:
                        continue
                    a = self.pf.pa("-q", key, "hash:" + files[pick(self.pf)])
                    b = self.pi.pa("-q", key, "hash:" + files[pick(self.pi)])
                    self.assertSame("postalias -q %r %s" % (key, label), a, b)
                # postmap reads an alias database too.
                a = self.pf.pm("-q", "root", "hash:" + files[pick(self.pf)])
                b = self.pi.pm("-q", "root", "hash:" + files[pick(self.pi)])
                self.assertSame("postmap -q root on aliases " + label, a, b)
                self.assertSame("postalias -s " + label,
                                self.dump(self.pf.pa,
                                          "hash:" + files[pick(self.pf)]),
                                self.dump(self.pi.pa,
                                          "hash:" + files[pick(self.pi)]))


class TestUtf8Keys(CompatCase):
    """Key folding with smtputf8_enable = yes (the default from
    compatibility_level 1 on): Postfix folds non-ASCII keys of hash:/btree:
    tables with Unicode full case folding (ICU), so JÜRGEN@example.com
    finds jürgen@example.com and STRAßE finds strasse; keys that are not
    UTF-8 are not found, with a warning.  With smtputf8_enable = no (or
    compatibility_level = 0, or postmap -u) only ASCII letters fold."""

    CONFIGS = {"utf8": MAIN_CF,
               "no": MAIN_CF + "smtputf8_enable = no\n",
               "level0": "compatibility_level = 0\n"}

    def tools(self, conf):
        out = []
        for t in (self.pf, self.pi):
            cfg = os.path.join(self.tmp, "cfg-%s-%s" % (conf, t.name))
            if not os.path.isdir(cfg):
                os.makedirs(cfg)
                write(os.path.join(cfg, "main.cf"), self.CONFIGS[conf])
            out.append(Tools(t.name, t.postmap, t.postalias, cfg))
        return out

    @staticmethod
    def cased():
        """Every code point that has a case mapping or folding."""
        for cp in range(0x80, 0x20000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            c = chr(cp)
            if c.casefold() != c or c.upper() != c or c.lower() != c:
                yield c

    def source(self):
        lines = ["J\u00dcRGEN@example.com juergen",
                 "Stra\u00dfe@Example.COM strasse",
                 "\u0130stanbul istanbul",
                 "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 odysseus"]
        lines += ["%s u%04x" % (c, ord(c)) for c in self.cased()]
        lines += ["x%sy%s u%04x-2" % (c, c.upper(), ord(c))
                  for c in self.cased()]
        return ("\n".join(lines) + "\n").encode()

    def keys(self):
        ks = ["j\u00fcrgen@example.com", "J\u00dcRGEN@EXAMPLE.COM",
              "STRASSE@example.com", "STRA\u00dfE@example.com",
              "stra\u1e9ee@example.com", "i\u0307stanbul", "Istanbul",
              "istanbul", "\u1f40\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2",
              "\uff2a\uff35\uff32"]
        ks += [c.upper() for c in self.cased()]
        ks += [c.lower() for c in self.cased()]
        ks += [c.casefold() for c in self.cased()]
        data = ("\n".join(ks) + "\n").encode()
        # Not UTF-8: a stray byte, a truncated sequence, an overlong form,
        # a surrogate, beyond U+10FFFF, Latin-1 text.
        for bad in (b"ABC\xff", b"J\xc3", b"\xc0\xaf", b"\xed\xa0\x80",
                    b"\xf4\x90\x80\x80", b"J\xdcRGEN@example.com"):
            data += bad + b"\n"
        return data

    def test_folding_matches_postfix(self):
        src = self.path_of("utf8keys", self.source())
        for conf in ("utf8", "no", "level0"):
            for flags in ((), ("-u",)):
                pf, pi = self.tools(conf)
                with self.subTest(conf=conf, flags=flags):
                    tables = {}
                    for t in (pf, pi):
                        copy = self.copy(src, t.name)
                        r = t.pm(*flags, "hash:" + copy)
                        self.assertEqual(r.rc, 0, r)
                        tables[t.name] = "hash:" + copy
                    a = pf.pm(*flags, "-s", tables["postfix"])
                    b = pi.pm(*flags, "-s", tables["postino"])
                    self.assertSame("dump %s %s" % (conf, flags), a, b,
                                    dump=True)
                    # The stored keys differ between the two settings.
                    folded = "j\u00fcrgen@example.com\tjuergen" in a.out
                    self.assertEqual(folded, conf == "utf8" and not flags, a)
                    keys = self.keys()
                    a = pf.pm(*flags, "-q", "-", tables["postfix"], stdin=keys)
                    b = pi.pm(*flags, "-q", "-", tables["postino"], stdin=keys)
                    self.assertSame("query %s %s" % (conf, flags), a, b)
                    self.assertEqual(
                        "non-UTF-8 key" in a.err, conf == "utf8" and not flags,
                        a.err[:300])
                    self.assertEqual(a.err.count("non-UTF-8 key"),
                                     b.err.count("non-UTF-8 key"), b.err[:600])
                    for k in (b"J\xc3\x9cRGEN@example.com", b"ABC\xff",
                              b"\xed\xa0\x80"):
                        kk = k.decode("utf-8", "surrogateescape")
                        self.assertSame("-q %r %s %s" % (k, conf, flags),
                                        pf.pm(*flags, "-q", kk, tables["postfix"]),
                                        pi.pm(*flags, "-q", kk, tables["postino"]))

    def path_of(self, name, data):
        d = self.fresh("src")
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


MESSAGE_RULES = r"""/^Content-Type:/ CT
/^Subject:/ SUBJ
/^X-/ XHDR
/^--/ DASHES
/^$/ EMPTY
/body/ BODY
"""

MESSAGES = [
    # plain, and headers ended by a line that is not a header
    b"Subject: a\nX-A: 1\n folded\n\nbody one\n\nbody two\n",
    b"Subject: a\nX-A: 1\nnot a header body\nbody\n",
    b"Subject: only headers\nX-A: 1\n",
    # multipart with a part message/rfc822, preamble and epilogue
    b"Subject: top\nContent-Type: multipart/mixed;\n boundary=\"b1\"\n\n"
    b"pre body\n\n--b1\nContent-Type: text/plain\nX-Part: 1\n\npart body\n"
    b"--b1\nContent-Type: message/rfc822\n\nSubject: inner\nX-Inner: 2\n\n"
    b"inner body\n--b1--\nepi body\nX-Epi: body\n",
    # part headers ended without a blank line; nested multipart; digest
    b"Subject: t\nContent-Type: multipart/mixed; boundary=o\n\n--o\n"
    b"X-P: 1\nnonheader body\n--o\nContent-Type: multipart/digest; "
    b"boundary=d\n\n--d\n\nSubject: digest part\n\nbody d\n--d--\n--o--\n",
    # message/rfc822 in base64 is not parsed; a boundary prefix matches
    b"Content-Type: multipart/mixed; boundary=sep\n\n--sep\n"
    b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
    b"Subject: b64 body\n--separate\nX-After: prefix\n\nbody\n--sep--\n",
]


class TestMessageModes(CompatCase):
    """postmap -q - -h / -b / -m on messages: the same keys, in the same
    order, as Postfix's (what header_checks, mime_header_checks,
    nested_header_checks and body_checks would see)."""

    def test_message_modes(self):
        rules = write(os.path.join(self.fresh("msg"), "rules"), MESSAGE_RULES)
        for n, msg in enumerate(MESSAGES):
            for flags in (("-h",), ("-b",), ("-h", "-b"), ("-h", "-m"),
                          ("-b", "-m"), ("-h", "-b", "-m")):
                with self.subTest(message=n, flags=flags):
                    self.assertSame(
                        "message %d %s" % (n, " ".join(flags)),
                        self.pf.pm(*flags, "-q", "-", "regexp:" + rules,
                                   stdin=msg),
                        self.pi.pm(*flags, "-q", "-", "regexp:" + rules,
                                   stdin=msg))
        # -m alone: both warn, and read plain keys.
        self.assertSame("-m alone",
                        self.pf.pm("-m", "-q", "-", "regexp:" + rules,
                                   stdin=MESSAGES[0]),
                        self.pi.pm("-m", "-q", "-", "regexp:" + rules,
                                   stdin=MESSAGES[0]))


if __name__ == "__main__":
    unittest.main(verbosity=2)

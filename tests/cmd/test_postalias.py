#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_postalias - postalias(1) and newaliases(1), and the aliases(5) line
parser behind them (core/mail/alias_parse.c, core/mail/tok822.c).

Run: POSTINO_BUILD=/path/to/build python3 tests/cmd/test_postalias.py

CASES below is the normalisation table.  Every row was checked against
Debian 12's Postfix 3.7 (postalias + db5.3_dump): the key is what Postfix
3.7 stores (internal form, before case folding - the table is built with -f
so the case is visible), the value what it stores after re-serialising the
right-hand side.  The same rows are checked three ways: through the C API
directly (a tiny driver compiled against the build), through our postalias,
and - where /usr/sbin/postalias is installed - through Postfix's postalias
for the same file.  Without Postfix, that comparison is skipped and says so.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("POSTINO_BUILD", "")
SRCDIR = os.environ.get("POSTINO_SOURCE") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
POSTALIAS = os.path.join(BUILD, "sbin", "postalias")
NEWALIASES = os.path.join(BUILD, "sbin", "newaliases")
PF_POSTALIAS = "/usr/sbin/postalias"
DB_DUMP = shutil.which("db5.3_dump") or shutil.which("db_dump")
HOSTNAME = "test.example"
TIMEOUT = 60

NEED = "need name:value pair"
LOCAL = "name must be local"

# (source line, stored key, stored value) or (source line, None, warning).
# Names are unique so that all rows fit in one file.
CASES = [
    # separators and white space
    (b"root:  a,b ,  c", b"root", b"a, b, c"),
    (b"v01:a,b", b"v01", b"a, b"),
    (b"v02: a ,b ,c", b"v02", b"a, b, c"),
    (b"v03:\t b\tc", b"v03", b"b c"),
    (b"v04: a  b   c", b"v04", b"a b c"),
    (b"v05: b,", b"v05", b"b, "),
    (b"v06: ,b", b"v06", b", b"),
    (b"v07: b,,c", b"v07", b"b, , c"),
    (b"v08: b\rc", b"v08", b"b c"),
    # destinations
    (b'v10: "|cmd args"', b"v10", b'"|cmd args"'),
    (b"v11: |cmd", b"v11", b"|cmd"),
    (b"v12: |cmd args", b"v12", b"|cmd args"),
    (b"v13: /file/name", b"v13", b"/file/name"),
    (b"v14: /var/mail/dir/", b"v14", b"/var/mail/dir/"),
    (b"v15: :include:/etc/x", b"v15", b":include:/etc/x"),
    (b"v16: :INCLUDE:/etc/x", b"v16", b":INCLUDE:/etc/x"),
    (b"v17: ~/x", b"v17", b"~/x"),
    (b"v18: user@example.com", b"v18", b"user@example.com"),
    (b"v19: b @ c . d", b"v19", b"b@c.d"),
    (b"v20: <a@b>", b"v20", b"<a@b>"),
    (b"v21: Joe <a@b>", b"v21", b"Joe <a@b>"),
    (b'v22: "Joe Q" <a@b>', b"v22", b'"Joe Q" <a@b>'),
    (b"v23: x<y", b"v23", b"x <y"),
    (b"v24: <@r1,@r2:a@b>", b"v24", b"<@r1, @r2:a@b>"),
    (b"v25: <>", b"v25", b"<>"),
    (b"v26: b@[1.2.3.4]", b"v26", b"b@[1.2.3.4]"),
    (b'v27: "b c"@d', b"v27", b'"b c"@d'),
    (b"v28: group: x, y;", b"v28", b"group:x, y;"),
    (b"v29: x ! y % z | w", b"v29", b"x!y%z|w"),
    (b"v30: x # y $ z", b"v30", b"x # y $ z"),
    (b"v31: \\root", b"v31", b"root"),
    (b'v32: "" , b', b"v32", b'"", b'),
    (b'v33: ""', b"v33", b'""'),
    (b'v34: "" ""', b"v34", b'"" ""'),
    # comments are kept verbatim
    (b"v40: a@b (comment)", b"v40", b"a@b (comment)"),
    (b"v41: (comment) b", b"v41", b"(comment) b"),
    (b"v42: (a (b) c)", b"v42", b"(a (b) c)"),
    (b"v43: (a \\) b)", b"v43", b"(a \\) b)"),
    (b"v44: (a\tb)", b"v44", b"(a\tb)"),
    (b"v45: (b", b"v45", b"(b"),
    (b'v46: (a "b) c', b"v46", b'(a "b) c'),
    (b"v47: x)y", b"v47", b"x)y"),
    # quoted strings: unescaped, then re-quoted
    (b'v50: "b"', b"v50", b'"b"'),
    (b'v51: "x\\y"', b"v51", b'"xy"'),
    (b'v52: "x\\"y"', b"v52", b'"x\\"y"'),
    (b'v53: "x\\\\y"', b"v53", b'"x\\\\y"'),
    (b'v54: "x\ty"', b"v54", b'"x y"'),
    (b'v55: "a  b"', b"v55", b'"a  b"'),
    (b'v56: "b', b"v56", b'"b"'),
    (b'v57: b"', b"v57", b'b ""'),
    (b'v58: x"y"', b"v58", b'x "y"'),
    (b'v59: "x\\', b"v59", b'"x"'),
    (b'v60: "a\x01b"', b"v60", b'"a\x01b"'),
    # atoms: a backslash takes the next character; quoted when needed
    (b"v61: x\\,y", b"v61", b'"x,y"'),
    (b"v62: x\\ y", b"v62", b'"x y"'),
    (b"v63: x\\@y", b"v63", b'"x@y"'),
    (b"v64: x\\.y", b"v64", b'"x.y"'),
    (b"v65: x\\|y", b"v65", b'"x|y"'),
    (b"v66: x\\\\y", b"v66", b'"x\\\\y"'),
    (b'v67: x\\"y', b"v67", b'"x\\"y"'),
    (b"v68: x\\#y", b"v68", b"x#y"),
    (b"v69: x\\y", b"v69", b"xy"),
    (b"v70: x\\", b"v70", b"x"),
    (b"v71: x \\", b"v71", b"x "),
    (b"v72: \\", b"v72", b""),
    (b"v73: x\x01y", b"v73", b'"x\x01y"'),
    (b"v74: x\x0by", b"v74", b'"x\x0by"'),
    (b"v75: x\x7fy", b"v75", b'"x\x7fy"'),
    (b"v76: 'b c'", b"v76", b"'b c'"),
    (b"v77: \xc3\xa9t\xc3\xa9", b"v77", b"\xc3\xa9t\xc3\xa9"),
    # domain literals
    (b"v80: [a b]", b"v80", b"[a b]"),
    (b"v81: [a\\]b]", b"v81", b"[a]b]"),
    (b"v82: [a\\\\b]", b"v82", b"[a\\\\b]"),
    (b"v83: [a\tb]", b"v83", b"[a b]"),
    (b"v84: [x", b"v84", b"[x]"),
    (b"v85: x[y", b"v85", b"x [y]"),
    # colons: the first one outside quotes splits
    (b"v86::b", b"v86", b":b"),
    (b"v87:b:c", b"v87", b"b:c"),
    (b"v88: a::b", b"v88", b"a::b"),
    # names: internal (unquoted) form, as Postfix 3.7 stores them
    (b'"n1 b": c', b"n1 b", b"c"),
    (b'"n2:b": c', b"n2:b", b"c"),
    (b'"n3@b": c', b"n3@b", b"c"),
    (b'"n4,b": c', b"n4,b", b"c"),
    (b'"n5\\"b": c', b"n5\"b", b"c"),
    (b'"n6\\\\b": c', b"n6\\b", b"c"),
    (b'"n7\tb": c', b"n7 b", b"c"),
    (b'"n8"b: c', b"n8 b", b"c"),
    (b'"n9" "b": c', b"n9 b", b"c"),
    (b"n10 b c: d", b"n10 b c", b"d"),
    (b"n11\\b: c", b"n11b", b"c"),
    (b"n12\\@b: c", b"n12@b", b"c"),
    (b"n13.b: c", b"n13.b", b"c"),
    (b"n14 . b: c", b"n14.b", b"c"),
    (b"(x) n15: b", b"(x) n15", b"b"),
    (b"n16 (x:y@z,w): b", b"n16 (x:y@z,w)", b"b"),
    (b"[n17:b]: c", b"[n17:b]", b"c"),
    (b"n18<: b", b"n18 <", b"b"),
    (b"n19!b|c: d", b"n19!b|c", b"d"),
    (b"n20#b: c", b"n20#b", b"c"),
    (b"N21 MiXed: CaSe", b"N21 MiXed", b"CaSe"),
    (b'"|n22 b": c', b"|n22 b", b"c"),
    (b"n23\x01: b", b"n23\x01", b"b"),
    (b'"n24 x":""', b"n24 x", b'""'),
    (b'"": empty', b"", b"empty"),
    # bad lines
    (b"b01@b: c", None, LOCAL),
    (b"b02%b: c", None, LOCAL),
    (b"b03@: c", None, LOCAL),
    (b'"b04"@: c', None, LOCAL),
    (b"b05:", None, NEED),
    (b"b06: ", None, NEED),
    (b":b07", None, NEED),
    (b"b08", None, NEED),
    (b"b09,x: c", None, NEED),
    (b"b10, x: c", None, NEED),
    (b"b11@x,y: c", None, NEED),
    (b'"b12": ', None, NEED),
    (b"(b13: c)", None, NEED),
]


def need_binary(testcase, path):
    if not BUILD:
        testcase.fail("POSTINO_BUILD is not set (the build directory)")
    if not os.access(path, os.X_OK):
        testcase.fail("%s is missing: build postino first" % path)


def run(argv, stdin=b"", env=None):
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT, env=env)


def make_conf(directory, extra=""):
    with open(os.path.join(directory, "main.cf"), "w") as fp:
        fp.write("compatibility_level = 3.6\nmyhostname = %s\n%s" % (HOSTNAME, extra))
    return directory


def listing(out):
    """Parse 'key:<TAB>value' lines into a dict (the key has no TAB)."""
    result = {}
    for line in out.split(b"\n"):
        if line:
            key, sep, value = line.partition(b":\t")
            assert sep, "bad listing line %r" % line
            result[key] = value
    return result


def db_records(path):
    """All (key, value) byte pairs of a Berkeley DB hash file."""
    out = subprocess.run([DB_DUMP, "-p", path], capture_output=True, check=True,
                         timeout=TIMEOUT).stdout
    lines = out.split(b"\n")
    start = lines.index(b"HEADER=END") + 1
    end = lines.index(b"DATA=END")
    items = []
    for line in lines[start:end]:
        raw, i, body = bytearray(), 0, line[1:]
        while i < len(body):
            if body[i:i + 1] == b"\\":
                if body[i + 1:i + 2] == b"\\":
                    raw.append(92)
                    i += 2
                else:
                    raw.append(int(body[i + 1:i + 3], 16))
                    i += 3
            else:
                raw.append(body[i])
                i += 1
        items.append(bytes(raw))
    return sorted(zip(items[0::2], items[1::2]))


class TempDirCase(unittest.TestCase):
    def setUp(self):
        need_binary(self, POSTALIAS)
        self.dir = tempfile.mkdtemp(prefix="test_postalias.")
        make_conf(self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as fp:
            fp.write(data)
        return path

    def postalias(self, *args, stdin=b"", binary=None):
        return run([binary or POSTALIAS, "-c", self.dir] + list(args), stdin)

    def build(self, data, *flags, name="aliases", binary=None):
        path = self.write(name, data)
        res = self.postalias(*flags, path, binary=binary)
        self.assertEqual(res.returncode, 0, res.stderr)
        return path, res

    def listing(self, path, *flags, binary=None):
        res = self.postalias(*flags, "-s", path, binary=binary)
        self.assertEqual(res.returncode, 0, res.stderr)
        return listing(res.stdout)


def cases_file():
    return b"".join(line + b"\n" for line, _, _ in CASES)


class TestNormalisationTable(TempDirCase):
    """The CASES table through our postalias (-f keeps the case visible)."""

    def test_table_through_postalias(self):
        path, res = self.build(cases_file(), "-f")
        got = self.listing(path, "-f")
        for lineno, (line, key, value) in enumerate(CASES, 1):
            with self.subTest(line=line):
                if key is None:
                    self.assertIn(("%s, line %d: %s" % (path, lineno, value)).encode(), res.stderr)
                else:
                    self.assertIn(key, got)
                    self.assertEqual(got[key], value)
        good = sum(1 for _, k, _ in CASES if k is not None)
        # Plus the "@" signature record and YP_LAST_MODIFIED/YP_MASTER_NAME.
        self.assertEqual(len(got), good + 3, sorted(got))
        self.assertEqual(res.stderr.count(b"warning:"), len(CASES) - good, res.stderr)

    def test_query_each_value(self):
        path, _ = self.build(cases_file(), "-f")
        keys = [k for _, k, _ in CASES if k]
        res = self.postalias("-f", "-q", "-", path, stdin=b"".join(k + b"\n" for k in keys))
        self.assertEqual(res.returncode, 0, res.stderr)
        expected = b"".join(k + b":\t" + v + b"\n" for _, k, v in CASES if k)
        self.assertEqual(sorted(res.stdout.splitlines()), sorted(expected.splitlines()))

    def test_table_matches_postfix(self):
        if not os.access(PF_POSTALIAS, os.X_OK):
            print("\nNOTE: %s not installed: Postfix comparison skipped "
                  "(tests/compat covers it)" % PF_POSTALIAS, file=sys.stderr)
            self.skipTest("Postfix postalias not installed")
        ours, _ = self.build(cases_file(), "-f", name="ours")
        theirs, _ = self.build(cases_file(), "-f", name="theirs", binary=PF_POSTALIAS)
        a = self.listing(ours, "-f")
        b = self.listing(theirs, "-f", binary=PF_POSTALIAS)
        a.pop(b"YP_LAST_MODIFIED", None)
        b.pop(b"YP_LAST_MODIFIED", None)
        self.assertEqual(a, b)
        if DB_DUMP:
            strip = lambda recs: [r for r in recs if not r[0].startswith(b"YP_LAST_MODIFIED")]
            self.assertEqual(strip(db_records(ours + ".db")), strip(db_records(theirs + ".db")))


    def test_random_lines_match_postfix(self):
        """Seeded random lines over the characters that matter to the
        tokenizer; the stored records must equal Postfix's.  (Lines never
        end in CR: Postfix 3.7 keeps a final CR, our line reader drops it.)"""
        if not os.access(PF_POSTALIAS, os.X_OK):
            print("\nNOTE: %s not installed: Postfix comparison skipped "
                  "(tests/compat covers it)" % PF_POSTALIAS, file=sys.stderr)
            self.skipTest("Postfix postalias not installed")
        import random
        import re
        rng = random.Random(20240601)
        alpha = [" ", "  ", "\t", "a", "B", "x", '"', '"', "\\", "(", ")", "[", "]", "<",
                 ">", "@", ",", ",", ";", ":", ":", ".", "!", "%", "|", "/", "#", "\x01",
                 "\x0b", "\r", "\u00e9", "'", "-", "\n ", "\n\t", "\\\\", '""', '\\"']
        lines = []
        while len(lines) < 3000:
            line = rng.choice(["a", "x y", '"q r"', "Ab", ""]) + "".join(
                rng.choice(alpha) for _ in range(rng.randint(1, 30)))
            line = re.sub(r"\r+(\n|$)", r"\1", line.lstrip(" \t\r"))
            if line.strip(" \t\r\n") and not line.startswith(("#", "\n")):
                lines.append(line)
        src = ("\n".join(lines) + "\n").encode()
        ours, res_a = self.build(src, "-w", name="ours")
        theirs, res_b = self.build(src, "-w", name="theirs", binary=PF_POSTALIAS)
        a = self.listing(ours, "-f")
        b = self.listing(theirs, "-f", binary=PF_POSTALIAS)
        a.pop(b"YP_LAST_MODIFIED", None)
        b.pop(b"YP_LAST_MODIFIED", None)
        self.assertGreater(len(a), 250)
        self.assertEqual(a, b)
        pat = re.compile(rb"line (\d+): (need name:value pair|name must be local)")
        self.assertEqual(sorted(set(pat.findall(res_a.stderr))),
                         sorted(set(pat.findall(res_b.stderr))))


DRIVER_C = r"""
#include "postino_config.h"
#include <stdio.h>
#include <string.h>
#include "alias_parse.h"
#include "buf.h"

/* Reads hex-encoded lines, prints "OK <hexkey> <hexvalue>" or "ERR <text>". */
static void
hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", (unsigned char)p[i]);
}

int
main(void)
{
	static char in[400000], line[200000];
	struct buf *key = buf_new(16, 0), *value = buf_new(16, 0);
	struct buf *tkey = buf_new(16, 8), *tvalue = buf_new(16, 8);

	while (fgets(in, sizeof(in), stdin)) {
		size_t n = strcspn(in, "\n") / 2, i;
		const char *err = "unset";
		unsigned x;

		for (i = 0; i < n; i++) {
			sscanf(in + 2 * i, "%2x", &x);
			line[i] = (char)x;
		}
		line[n] = 0;
		if (alias_parse_line(line, key, value, &err) == 0) {
			printf("OK ");
			hex(buf_str(key), buf_len(key));
			printf(" ");
			hex(buf_str(value), buf_len(value));
			printf("\n");
		} else {
			printf("ERR %s\n", err);
		}
		/* A buf that is too small must give an error, never overflow. */
		if (alias_parse_line(line, tkey, tvalue, &err) == 0
		    && (buf_len(tkey) > 8 || buf_len(tvalue) > 8))
			printf("OVERFLOW\n");
	}
	buf_free(&key);
	buf_free(&value);
	buf_free(&tkey);
	buf_free(&tvalue);
	return 0;
}
"""


class TestParserAPI(unittest.TestCase):
    """alias_parse_line called directly (compiled against the build)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_alias_parse.")
        cls.driver = None
        cc = shutil.which("cc") or shutil.which("gcc")
        utillib = os.path.join(BUILD, "lib", "postino")
        if not BUILD or not cc or not os.path.exists(os.path.join(utillib, "libpostino-util.so")):
            cls.why = "no C compiler or no built libpostino-util"
            return
        src = os.path.join(cls.tmp, "driver.c")
        with open(src, "w") as fp:
            fp.write(DRIVER_C)
        base = [cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                "-I" + BUILD, "-I" + os.path.join(SRCDIR, "core", "util"),
                "-I" + os.path.join(SRCDIR, "core", "mail"),
                src, os.path.join(SRCDIR, "core", "mail", "alias_parse.c"),
                os.path.join(SRCDIR, "core", "mail", "tok822.c"),
                "-L" + utillib, "-lpostino-util", "-Wl,-rpath," + utillib,
                "-o", os.path.join(cls.tmp, "driver")]
        # Prefer a sanitizer build: hostile lines must not touch bad memory.
        for extra in (["-fsanitize=address,undefined", "-fno-sanitize-recover=all"], []):
            res = subprocess.run(base + extra, capture_output=True, timeout=TIMEOUT)
            if res.returncode == 0:
                cls.driver = os.path.join(cls.tmp, "driver")
                return
        raise AssertionError("cannot compile the parser driver:\n" + res.stderr.decode())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def parse(self, lines):
        if not self.driver:
            self.skipTest(self.why)
        data = b"".join(line.hex().encode() + b"\n" for line in lines)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
        res = subprocess.run([self.driver], input=data, capture_output=True, timeout=TIMEOUT, env=env)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertNotIn(b"OVERFLOW", res.stdout)
        out = []
        for line in res.stdout.decode().splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "OK":
                k, _, v = rest.partition(" ")
                out.append((bytes.fromhex(k), bytes.fromhex(v)))
            else:
                out.append((None, rest))
        return out

    def test_table(self):
        got = self.parse([line for line, _, _ in CASES])
        for (line, key, value), result in zip(CASES, got):
            with self.subTest(line=line):
                self.assertEqual(result, (key, value))

    def test_hostile_lines(self):
        lines = [b"a: " + b'"' * 50000, b"a: " + b"(" * 50000, b"a: " + b"\\" * 50001,
                 b"a: " + b"[" * 50000, b":" * 1000, b"a" * 100000 + b": b",
                 b"a: " + b",\x01" * 30000, b" \t\r", b""]
        got = self.parse(lines)
        self.assertEqual(got, [
            (b"a", b" ".join([b'""'] * 25000)),
            (b"a", b"(" * 50000),
            (b"a", b'"' + b"\\" * 50000 + b'"'),
            (b"a", b"[" * 50000 + b"]"),
            (None, NEED),
            (b"a" * 100000, b"b"),
            (b"a", b', "\x01"' * 30000),
            (None, NEED),
            (None, NEED)])


class TestCommands(TempDirCase):
    SOURCE = (b"# a comment\n"
              b"Root: a,b\n"
              b"root: c\n"
              b"postmaster: root\n"
              b"x: y\n"
              b"list: one,\n"
              b"  two,\n"
              b"# a comment between\n"
              b"\tthree\n")

    def test_build_and_query(self):
        path, res = self.build(self.SOURCE)
        self.assertIn(b'duplicate entry: "root"', res.stderr)
        q = self.postalias("-q", "ROOT", path)
        self.assertEqual((q.returncode, q.stdout), (0, b"a, b\n"))
        q = self.postalias("-q", "list", path)
        self.assertEqual((q.returncode, q.stdout), (0, b"one, two, three\n"))
        q = self.postalias("-q", "nosuch", path)
        self.assertEqual((q.returncode, q.stdout), (1, b""))

    def test_query_stdin(self):
        path, _ = self.build(self.SOURCE)
        q = self.postalias("-q", "-", path, stdin=b"root\nnone\nX\n")
        self.assertEqual((q.returncode, q.stdout), (0, b"root:\ta, b\nX:\ty\n"))
        q = self.postalias("-q", "-", path, stdin=b"none\n")
        self.assertEqual((q.returncode, q.stdout), (1, b""))

    def test_list_has_signature_records(self):
        path, _ = self.build(self.SOURCE)
        got = self.listing(path)
        self.assertEqual(got[b"@"], b"@")
        self.assertEqual(got[b"YP_MASTER_NAME"], HOSTNAME.encode())
        self.assertRegex(got[b"YP_LAST_MODIFIED"], rb"^\d{10}$")
        self.assertEqual(got[b"root"], b"a, b")
        self.assertEqual(len(got), 4 + 3)

    def test_stored_bytes(self):
        if not DB_DUMP:
            self.skipTest("db5.3_dump not installed")
        path, _ = self.build(b"a: b\n")
        recs = dict(db_records(path + ".db"))
        self.assertEqual(recs[b"a\0"], b"b\0")
        self.assertEqual(recs[b"@\0"], b"@\0")
        # NIS records: never a trailing NUL (Postfix writes them so).
        self.assertEqual(recs.get(b"YP_MASTER_NAME"), HOSTNAME.encode(),
                         "YP_MASTER_NAME must be stored without a NUL: %r" % sorted(recs))
        self.assertIn(b"YP_LAST_MODIFIED", recs)
        path, _ = self.build(b"a: b\n", "-n")
        recs = dict(db_records(path + ".db"))
        self.assertEqual(recs[b"a"], b"b")
        path, _ = self.build(b"a: b\n", "-N")
        recs = dict(db_records(path + ".db"))
        self.assertEqual(recs[b"a\0"], b"b\0")

    def test_nul_flags_query(self):
        path, _ = self.build(b"a: b\n", "-N")
        self.assertEqual(self.postalias("-n", "-q", "a", path).returncode, 1)
        self.assertEqual(self.postalias("-N", "-q", "a", path).stdout, b"b\n")
        self.assertEqual(self.postalias("-q", "a", path).stdout, b"b\n")
        path, _ = self.build(b"a: b\n", "-n")
        self.assertEqual(self.postalias("-N", "-q", "a", path).returncode, 1)
        self.assertEqual(self.postalias("-q", "a", path).stdout, b"b\n")

    def test_fold_and_f(self):
        path, _ = self.build(b"MiXed: Val\n")
        self.assertEqual(self.postalias("-q", "mixed", path).stdout, b"Val\n")
        self.assertEqual(self.postalias("-q", "MIXED", path).stdout, b"Val\n")
        path, _ = self.build(b"MiXed: Val\n", "-f")
        self.assertEqual(self.postalias("-f", "-q", "MiXed", path).stdout, b"Val\n")
        self.assertEqual(self.postalias("-f", "-q", "mixed", path).returncode, 1)
        self.assertIn(b"MiXed", self.listing(path))

    def test_duplicates(self):
        src = b"a: first\na: second\n"
        path, res = self.build(src)
        self.assertIn(b'duplicate entry: "a"', res.stderr)
        self.assertEqual(self.postalias("-q", "a", path).stdout, b"first\n")
        path, res = self.build(src, "-r")
        self.assertNotIn(b"duplicate", res.stderr)
        self.assertEqual(self.postalias("-q", "a", path).stdout, b"second\n")
        path, res = self.build(src, "-w")
        self.assertNotIn(b"duplicate", res.stderr)
        self.assertEqual(self.postalias("-q", "a", path).stdout, b"first\n")

    def test_delete(self):
        path, _ = self.build(self.SOURCE)
        self.assertEqual(self.postalias("-d", "root", path).returncode, 0)
        self.assertEqual(self.postalias("-q", "root", path).returncode, 1)
        self.assertEqual(self.postalias("-d", "root", path).returncode, 1)
        self.assertEqual(self.postalias("-q", "x", path).stdout, b"y\n")
        res = self.postalias("-d", "-", path, stdin=b"x\nnone\n")
        self.assertEqual(res.returncode, 0)
        self.assertEqual(self.postalias("-q", "x", path).returncode, 1)
        res = self.postalias("-d", "-", path, stdin=b"none\n")
        self.assertEqual(res.returncode, 1)

    def test_incremental(self):
        path, _ = self.build(b"x: y\n")
        res = self.postalias("-i", path, stdin=b"new: v1,v2\nx: dup\nbad\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b'duplicate entry: "x"', res.stderr)
        self.assertIn(b"stdin, line 3: need name:value pair", res.stderr)
        got = self.listing(path)
        self.assertEqual(got[b"new"], b"v1, v2")
        self.assertEqual(got[b"x"], b"y")

    def test_destinations(self):
        src = (b'cmd: "|/usr/bin/procmail -a foo"\n'
               b"cmd2: |/bin/cat\n"
               b"inc: :include:/etc/postino/list\n"
               b"file: /var/log/mail.copy, root\n"
               b'"quoted name": someone\n')
        path, _ = self.build(src)
        got = self.listing(path)
        self.assertEqual(got[b"cmd"], b'"|/usr/bin/procmail -a foo"')
        self.assertEqual(got[b"cmd2"], b"|/bin/cat")
        self.assertEqual(got[b"inc"], b":include:/etc/postino/list")
        self.assertEqual(got[b"file"], b"/var/log/mail.copy, root")
        self.assertEqual(self.postalias("-q", "quoted name", path).stdout, b"someone\n")

    def test_bad_lines_warn_and_skip(self):
        src = b"ok1: a\nno colon here\nuser@host: b\n: c\nd:\ne,f: g\n  stray\nok2: b\n"
        path = self.write("aliases", b"ok0: z\n" + src)
        res = self.postalias(path)
        self.assertEqual(res.returncode, 0, res.stderr)
        err = res.stderr.decode()
        for lineno, text in ((3, NEED), (4, LOCAL), (5, NEED), (6, NEED), (7, NEED)):
            self.assertIn("%s, line %d: %s" % (path, lineno, text), err)
        got = self.listing(path)
        self.assertEqual({k for k in got if not k.startswith((b"@", b"YP_"))},
                         {b"ok0", b"ok1", b"ok2"})

    def test_long_line(self):
        value = b",".join(b"user%d" % i for i in range(15000))
        self.assertGreater(len(value), 100000)
        path, res = self.build(b"big: " + value + b"\nsmall: s\n")
        q = self.postalias("-q", "big", path)
        self.assertEqual(q.stdout, value.replace(b",", b", ") + b"\n")
        self.assertEqual(self.postalias("-q", "small", path).stdout, b"s\n")

    def test_nul_bytes(self):
        path, res = self.build(b"a: b\0junk\nc\0: d\ne: f\n")
        err = res.stderr.decode()
        self.assertIn("%s, line 2: need name:value pair" % path, err)
        self.assertNotIn("Traceback", err)
        got = self.listing(path)
        self.assertEqual(got[b"a"], b"b")
        self.assertEqual(got[b"e"], b"f")
        self.assertNotIn(b"c", got)

    def test_non_utf8_line_skipped(self):
        # Postfix 3.7 with smtputf8_enable=yes (the default):
        # 'FILE, line 1: non-UTF-8 input "a: x?y" -- ignoring this line'.
        path, res = self.build(b"a: x\x80y\nb: c\n")
        self.assertIn(("%s, line 1: non-UTF-8 input" % path).encode(), res.stderr)
        got = self.listing(path)
        self.assertNotIn(b"a", got)
        self.assertEqual(got[b"b"], b"c")

    def test_missing_source(self):
        res = self.postalias(os.path.join(self.dir, "nonexistent"))
        self.assertEqual(res.returncode, 1)
        self.assertIn(b"nonexistent", res.stderr)

    def test_matches_postfix(self):
        if not os.access(PF_POSTALIAS, os.X_OK):
            print("\nNOTE: %s not installed: Postfix comparison skipped "
                  "(tests/compat covers it)" % PF_POSTALIAS, file=sys.stderr)
            self.skipTest("Postfix postalias not installed")
        src = self.SOURCE + b'"Quoted Name": "|cmd x" , /f,:include:/i\nu: a@b (c), <d@e>\n'
        for flags in ((), ("-f",), ("-r",), ("-N",), ("-n",)):
            with self.subTest(flags=flags):
                ours, _ = self.build(src, *flags, name="ours")
                theirs, _ = self.build(src, *flags, name="theirs", binary=PF_POSTALIAS)
                keys = b"root\nROOT\nlist\nquoted name\nQuoted Name\nu\nnone\n@\n"
                a = self.postalias(*flags, "-q", "-", ours, stdin=keys)
                b = self.postalias(*flags, "-q", "-", theirs, stdin=keys, binary=PF_POSTALIAS)
                self.assertEqual((a.returncode, a.stdout), (b.returncode, b.stdout))
                for key in ("root", "list", "u", "none"):
                    a = self.postalias(*flags, "-q", key, ours)
                    b = self.postalias(*flags, "-q", key, theirs, binary=PF_POSTALIAS)
                    self.assertEqual((a.returncode, a.stdout), (b.returncode, b.stdout))
                la = self.listing(ours, *flags)
                lb = self.listing(theirs, *flags, binary=PF_POSTALIAS)
                la.pop(b"YP_LAST_MODIFIED")
                lb.pop(b"YP_LAST_MODIFIED")
                self.assertEqual(la, lb)


class TestNewaliases(TempDirCase):
    def setUp(self):
        super().setUp()
        need_binary(self, NEWALIASES)

    def test_builds_every_database(self):
        make_conf(self.dir, "alias_database = hash:%s/aliases, hash:%s/aliases2\n"
                  % (self.dir, self.dir))
        self.write("aliases", b"a: b, c\n")
        self.write("aliases2", b"d: e\n")
        res = run([NEWALIASES, "-c", self.dir])
        self.assertEqual(res.returncode, 0, res.stderr)
        for name, key, value in (("aliases", "a", b"b, c\n"), ("aliases2", "d", b"e\n")):
            path = os.path.join(self.dir, name)
            self.assertTrue(os.path.exists(path + ".db"))
            self.assertEqual(self.postalias("-q", key, "hash:" + path).stdout, value)
            self.assertEqual(self.listing("hash:" + path)[b"@"], b"@")

    def test_mail_config_environment(self):
        make_conf(self.dir, "alias_database = hash:%s/aliases\n" % self.dir)
        self.write("aliases", b"a: b\n")
        env = dict(os.environ, MAIL_CONFIG=self.dir)
        res = run([NEWALIASES], env=env)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "aliases.db")))

    def test_empty_alias_database(self):
        make_conf(self.dir, "alias_database =\n")
        self.write("aliases", b"a: b\n")
        res = run([NEWALIASES, "-c", self.dir])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, b"")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "aliases.db")))

    def test_recipient_is_usage_error(self):
        make_conf(self.dir, "alias_database =\n")
        res = run([NEWALIASES, "-c", self.dir, "someone"])
        self.assertNotEqual(res.returncode, 0)

    def test_missing_source_fails(self):
        make_conf(self.dir, "alias_database = hash:%s/nosuch\n" % self.dir)
        res = run([NEWALIASES, "-c", self.dir])
        self.assertEqual(res.returncode, 1)
        self.assertIn(b"nosuch", res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

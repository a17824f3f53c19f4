#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""cmd.readelf - the core never links a database library.

Every program in sbin/ and libexec/postino/ and the shared runtime
libpostino-util.so must not NEED libdb, libldap, liblber, libmariadb,
libmysqlclient or libpcre2, neither directly (readelf -d) nor through
another library (ldd).  To show the check can fail, each map module
lib/postino/map_*.so must NEED its own library."""
import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postino_testlib import build_dir  # noqa: E402

FORBIDDEN = re.compile(r"^(libdb|libldap|liblber|libmariadb|libmysqlclient|libpcre2)")
# What each module must link (a regular expression over NEEDED names).
MODULE_LIBS = {
    "map_hash.so": r"^libdb",
    "map_regexp.so": r"^libpcre2",
    "map_ldap.so": r"^libldap",
    "map_mysql.so": r"^(libmariadb|libmysqlclient)",
}


def needed(path):
    out = subprocess.run(["readelf", "-d", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def resolved(path):
    """Every library the loader pulls in for PATH (transitively)."""
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


class TestReadelf(unittest.TestCase):
    def setUp(self):
        self.build = build_dir()
        self.libdir = os.path.join(self.build, "lib", "postino")
        if not os.path.isdir(self.libdir):
            found = glob.glob(os.path.join(self.build, "lib*", "**", "postino"),
                              recursive=True)
            self.libdir = found[0] if found else self.libdir

    def core_objects(self):
        objs = []
        for d in ("sbin", os.path.join("libexec", "postino")):
            full = os.path.join(self.build, d)
            if os.path.isdir(full):
                for name in sorted(os.listdir(full)):
                    p = os.path.join(full, name)
                    if os.path.isfile(p) and is_elf(p):
                        objs.append(p)
        return objs

    def test_programs_link_no_database_library(self):
        programs = self.core_objects()
        self.assertTrue(programs, "no programs in %s/sbin" % self.build)
        self.assertTrue(any(p.endswith("/postmap") for p in programs),
                        "postmap is not among %s" % programs)
        libs = sorted(glob.glob(os.path.join(self.libdir, "libpostino-util.so*")))
        libs = [p for p in libs if not os.path.islink(p)]
        self.assertTrue(libs, "no libpostino-util.so in %s" % self.libdir)
        for path in programs + libs:
            with self.subTest(path=path):
                bad = [n for n in needed(path) if FORBIDDEN.match(n)]
                self.assertEqual(bad, [], "%s NEEDs %s" % (path, bad))
                bad = [n for n in resolved(path) if FORBIDDEN.match(n)]
                self.assertEqual(bad, [], "%s loads %s" % (path, bad))

    def test_modules_link_their_library(self):
        modules = sorted(glob.glob(os.path.join(self.libdir, "map_*.so")))
        self.assertTrue(modules, "no map modules in %s" % self.libdir)
        checked = 0
        for path in modules:
            want = MODULE_LIBS.get(os.path.basename(path))
            if want is None:
                continue
            with self.subTest(module=path):
                names = needed(path)
                self.assertTrue(any(re.match(want, n) for n in names),
                                "%s does not NEED %s: %s" % (path, want, names))
                checked += 1
        self.assertGreater(checked, 0, "no known module among %s" % modules)
        # The detector itself: it flags the module's library.
        hits = [n for p in modules for n in needed(p) if FORBIDDEN.match(n)]
        self.assertTrue(hits)


if __name__ == "__main__":
    unittest.main(verbosity=2)

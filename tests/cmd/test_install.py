#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""cmd.install - "cmake --install BUILD --prefix P" gives a working tree:
P/sbin/postmap finds its modules in P/lib/postino, builds and queries
hash: and pcre: tables, postconf -m lists the module types, and the tree
still works after it is moved somewhere else (no absolute paths baked in)."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postino_testlib import build_dir, make_config, program, run, write  # noqa: E402


class TestInstall(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postino-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.prefix = os.path.join(self.tmp, "prefix")
        r = subprocess.run(["cmake", "--install", build_dir(), "--prefix",
                            self.prefix], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.cfg = make_config(os.path.join(self.tmp, "cfg"))
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)

    def check_tree(self, prefix):
        postmap = program("postmap", prefix)
        # No reference to the build tree: the modules come from the prefix.
        src = write(os.path.join(self.data, "virtual"),
                    "Joe@Example.COM joe\n@example.com catchall\n")
        r = run([postmap, "-c", self.cfg, "hash:" + src])
        self.assertEqual(r.rc, 0, r)
        r = run([postmap, "-c", self.cfg, "-q", "joe@example.com",
                 "hash:" + src])
        self.assertEqual((r.rc, r.out), (0, "joe\n"), r)
        r = run([postmap, "-c", self.cfg, "-q", "nobody", "hash:" + src])
        self.assertEqual((r.rc, r.out), (1, ""), r)
        pcre = write(os.path.join(self.data, "checks.pcre"),
                     "/^(\\w+)@example\\.com$/ local:$1\n")
        r = run([postmap, "-c", self.cfg, "-q", "Ann@example.com",
                 "pcre:" + pcre])
        self.assertEqual((r.rc, r.out), (0, "local:Ann\n"), r)
        postconf = program("postconf", prefix)
        r = run([postconf, "-c", self.cfg, "-m"])
        self.assertEqual(r.rc, 0, r)
        types = r.out.split()
        for t in ("hash", "btree", "pcre", "regexp", "static", "inline"):
            self.assertIn(t, types, r)

    def test_installed_layout(self):
        for p in ("sbin/postmap", "sbin/postalias", "sbin/newaliases",
                  "sbin/postconf"):
            self.assertTrue(os.access(os.path.join(self.prefix, p), os.X_OK), p)
        dm = glob.glob(os.path.join(self.prefix, "lib*", "**", "postino",
                                    "dynamicmaps.cf"), recursive=True)
        self.assertTrue(dm, "no dynamicmaps.cf installed")
        mods = glob.glob(os.path.join(os.path.dirname(dm[0]), "map_*.so"))
        self.assertTrue(mods, "no modules beside %s" % dm[0])

    def test_installed_tree_works(self):
        self.check_tree(self.prefix)

    def test_relocated_tree_works(self):
        moved = os.path.join(self.tmp, "elsewhere", "deeper")
        os.makedirs(os.path.dirname(moved))
        shutil.move(self.prefix, moved)
        self.assertFalse(os.path.exists(self.prefix))
        self.check_tree(moved)

    def test_missing_module_is_a_clear_error(self):
        mods = glob.glob(os.path.join(self.prefix, "lib*", "**", "map_regexp.so"),
                         recursive=True)
        self.assertTrue(mods)
        os.unlink(mods[0])
        pcre = write(os.path.join(self.data, "x.pcre"), "/a/ b\n")
        r = run([program("postmap", self.prefix), "-c", self.cfg, "-q", "a",
                 "pcre:" + pcre])
        self.assertEqual((r.rc, r.out), (1, ""), r)
        self.assertIn("pcre", r.err)
        self.assertIn("map_regexp", r.err)


if __name__ == "__main__":
    unittest.main(verbosity=2)

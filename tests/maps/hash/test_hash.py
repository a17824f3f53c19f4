#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""maps.hash - hash: and btree: tables (maps/hash, Berkeley DB) driven
through the built postmap: build and query, the trailing-NUL convention,
duplicates, incremental updates, deletes, dumps, atomic rebuilds under a
concurrent reader, readers that follow a replaced or rewritten file, and
clear errors (never a crash) for missing, unreadable and corrupt files.

Run: POSTINO_BUILD=<build dir> python3 test_hash.py
"""
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cmd"))
from postino_testlib import (TmpTestCase, build_dir, program, run,  # noqa: E402
                             write)

TYPES = ("hash", "btree")


def others_can_run(prog):
    """Can a user other than the owner run prog and load its modules?"""
    paths = [prog, os.path.join(build_dir(), "lib", "postino")]
    for p in paths:
        d = p
        while True:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    return True


def module_built():
    path = os.path.join(build_dir(), "lib", "postino", "map_hash.so")
    if not os.path.exists(path):
        raise AssertionError("map_hash.so is not built (no %s)" % path)


class HashCase(TmpTestCase):

    def setUp(self):
        super().setUp()
        module_built()
        self.postmap = program("postmap")

    def pm(self, *args, stdin=b"", timeout=120):
        return run([self.postmap, "-c", self.cfg] + list(args), stdin=stdin,
                   timeout=timeout)

    def table(self, name, text, *flags, type_="hash"):
        src = write(self.path(name), text)
        r = self.pm(*flags, "%s:%s" % (type_, src))
        self.assertEqual(r.rc, 0, r)
        return "%s:%s" % (type_, src)

    def assertFound(self, r, value):
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out, value + "\n", r)

    def assertNotFound(self, r):
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.out, "", r)

    def dump(self, table, *flags):
        r = self.pm(*flags, "-s", table)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("\0", r.out)
        return sorted(r.out.splitlines())

    def assertOneLineError(self, r, *needles):
        """Exit 1, nothing on stdout, one fatal line naming all needles."""
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.out, "", r)
        lines = [ln for ln in r.err.splitlines() if "fatal:" in ln]
        self.assertEqual(len(lines), 1, r)
        for n in needles:
            self.assertIn(n, lines[0], r)


class TestBuildQuery(HashCase):

    def test_build_and_query(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("src-" + t, "Foo@Example.COM  bar\n"
                               "# comment\nspace  two words  \n"
                               "cont first\n  second\n", type_=t)
                self.assertTrue(os.path.exists(self.path("src-%s.db" % t)))
                self.assertFound(self.pm("-q", "foo@example.com", m), "bar")
                # Keys are folded at build and at query time.
                self.assertFound(self.pm("-q", "FOO@EXAMPLE.COM", m), "bar")
                self.assertFound(self.pm("-q", "space", m), "two words")
                self.assertFound(self.pm("-q", "cont", m), "first  second")
                self.assertNotFound(self.pm("-q", "nope", m))
                self.assertNotFound(self.pm("-q", "foo", m))
                r = self.pm("-q", "-", m, stdin="nope\nFoo@example.com\n"
                            "space\n")
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.out, "Foo@example.com\tbar\n"
                                 "space\ttwo words\n", r)
                r = self.pm("-q", "-", m, stdin="x\ny\n")
                self.assertNotFound(r)

    def test_hash_and_btree_files_differ(self):
        m = self.table("kind", "k v\n", type_="btree")
        r = self.pm("-q", "k", "hash:" + self.path("kind"))
        self.assertOneLineError(r, self.path("kind.db"))
        self.assertFound(self.pm("-q", "k", m), "v")

    def test_rebuild_replaces_content(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("re-" + t, "old 1\ngone 2\n", type_=t)
                self.table("re-" + t, "old 3\nnew 4\n", type_=t)
                self.assertFound(self.pm("-q", "old", m), "3")
                self.assertFound(self.pm("-q", "new", m), "4")
                self.assertNotFound(self.pm("-q", "gone", m))
                leftovers = [f for f in os.listdir(self.tmp) if ".tmp" in f]
                self.assertEqual(leftovers, [])

    def test_empty_source(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("empty-" + t, "", type_=t)
                self.assertNotFound(self.pm("-q", "a", m))
                self.assertEqual(self.dump(m), [])

    def test_file_modes(self):
        old = os.umask(0o022)
        try:
            m = self.table("mode", "a 1\n")
            db = self.path("mode.db")
            self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o644)
            # A rebuild keeps the mode an administrator gave the table.
            os.chmod(db, 0o640)
            self.table("mode", "a 2\n")
            self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o640)
            self.assertFound(self.pm("-q", "a", m), "2")
            os.umask(0o077)
            os.unlink(db)
            self.table("mode", "a 3\n")
            self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        finally:
            os.umask(old)

    def test_long_key_and_value(self):
        key = "k" * 4000
        val = "v" * 100000
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("long-" + t, "%s %s\nafter 2\n" % (key, val),
                               type_=t)
                self.assertFound(self.pm("-q", key, m), val)
                self.assertFound(self.pm("-q", "after", m), "2")


class TestTrailingNul(HashCase):
    """Default: key and value stored with one trailing NUL; -n without;
    readers try both and keep whichever hit first for the handle."""

    def test_default_writes_nul(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("nul-" + t, "k v\n", type_=t)
                self.assertFound(self.pm("-N", "-q", "k", m), "v")
                self.assertNotFound(self.pm("-n", "-q", "k", m))
                self.assertFound(self.pm("-q", "k", m), "v")
                self.assertEqual(self.dump(m), ["k\tv"])

    def test_dash_n_writes_without_nul(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("nonul-" + t, "k v\n", "-n", type_=t)
                self.assertFound(self.pm("-n", "-q", "k", m), "v")
                self.assertNotFound(self.pm("-N", "-q", "k", m))
                self.assertFound(self.pm("-q", "k", m), "v")
                self.assertEqual(self.dump(m), ["k\tv"])

    def test_dash_N_writes_nul(self):
        m = self.table("withnul", "k v\n", "-N")
        self.assertFound(self.pm("-N", "-q", "k", m), "v")
        self.assertNotFound(self.pm("-n", "-q", "k", m))

    def test_raw_bytes(self):
        """The stored bytes, where db_dump is installed to show them."""
        dump = shutil.which("db5.3_dump") or shutil.which("db_dump")
        if dump is None:
            self.skipTest("no db_dump")
        self.table("raw", "Foo@Example.COM  bar\n")
        out = subprocess.run([dump, self.path("raw.db")],
                             capture_output=True, check=True).stdout.decode()
        body = out.split("HEADER=END\n", 1)[1].splitlines()
        self.assertEqual(body[:2], [" 666f6f406578616d706c652e636f6d00",
                                    " 62617200"])
        self.table("raw", "Foo@Example.COM  bar\n", "-n")
        out = subprocess.run([dump, self.path("raw.db")],
                             capture_output=True, check=True).stdout.decode()
        body = out.split("HEADER=END\n", 1)[1].splitlines()
        self.assertEqual(body[:2], [" 666f6f406578616d706c652e636f6d",
                                    " 626172"])

    def test_first_form_locks_in(self):
        """A table with "a\\0" (NUL form) and "b" (no NUL): one reader
        finds only the keys of the form it met first."""
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("mixed-" + t, "a 1\n", type_=t)
                r = self.pm("-n", "-i", m, stdin="b 2\n")
                self.assertEqual(r.rc, 0, r)
                r = self.pm("-q", "-", m, stdin="a\nb\n")
                self.assertEqual(r.out, "a\t1\n", r)
                r = self.pm("-q", "-", m, stdin="b\na\n")
                self.assertEqual(r.out, "b\t2\n", r)
                # Separate handles each find their own key.
                self.assertFound(self.pm("-q", "a", m), "1")
                self.assertFound(self.pm("-q", "b", m), "2")
                # Deletes follow the same rule.
                r = self.pm("-d", "-", m, stdin="b\na\n")
                self.assertEqual(r.rc, 0, r)
                self.assertFound(self.pm("-q", "a", m), "1")
                self.assertNotFound(self.pm("-q", "b", m))


class TestDuplicates(HashCase):

    def test_first_wins_with_warning(self):
        for t in TYPES:
            with self.subTest(type=t):
                src = write(self.path("dup-" + t),
                            "a first\nb x\nA second\n")
                r = self.pm("%s:%s" % (t, src))
                self.assertEqual(r.rc, 0, r)
                warn = [ln for ln in r.err.splitlines() if "duplicate" in ln]
                self.assertEqual(len(warn), 1, r)
                self.assertNamesLine(warn[0], src, 3)
                self.assertIn('"a"', warn[0].lower())
                self.assertFound(self.pm("-q", "a", "%s:%s" % (t, src)),
                                 "first")

    def test_dash_r_last_wins(self):
        for t in TYPES:
            with self.subTest(type=t):
                src = write(self.path("dupr-" + t), "a first\nA second\n")
                r = self.pm("-r", "%s:%s" % (t, src))
                self.assertEqual(r.rc, 0, r)
                self.assertNotIn("duplicate", r.err)
                self.assertFound(self.pm("-q", "a", "%s:%s" % (t, src)),
                                 "second")

    def test_dash_w_silent_first_wins(self):
        for t in TYPES:
            with self.subTest(type=t):
                src = write(self.path("dupw-" + t), "a first\nA second\n")
                r = self.pm("-w", "%s:%s" % (t, src))
                self.assertEqual(r.rc, 0, r)
                self.assertNotIn("duplicate", r.err)
                self.assertFound(self.pm("-q", "a", "%s:%s" % (t, src)),
                                 "first")


class TestIncremental(HashCase):

    def test_add_keep_and_replace(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("inc-" + t, "a 1\nb 2\n", type_=t)
                r = self.pm("-i", m, stdin="c 3\nA 9\n")
                self.assertEqual(r.rc, 0, r)
                warn = [ln for ln in r.err.splitlines() if "duplicate" in ln]
                self.assertEqual(len(warn), 1, r)
                self.assertIn("line 2", warn[0])
                self.assertEqual(self.dump(m), ["a\t1", "b\t2", "c\t3"])
                r = self.pm("-i", "-r", m, stdin="a 9\n")
                self.assertEqual(r.rc, 0, r)
                self.assertFound(self.pm("-q", "a", m), "9")

    def test_creates_missing_table(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = "%s:%s" % (t, self.path("fresh-" + t))
                r = self.pm("-i", m, stdin="x 1\n")
                self.assertEqual(r.rc, 0, r)
                self.assertFound(self.pm("-q", "x", m), "1")

    def test_incremental_keeps_inode(self):
        """-i updates in place: a reader holding the file sees the same
        inode (unlike a rebuild, which installs a new file)."""
        m = self.table("ino", "a 1\n")
        db = self.path("ino.db")
        before = os.stat(db).st_ino
        self.assertEqual(self.pm("-i", m, stdin="b 2\n").rc, 0)
        self.assertEqual(os.stat(db).st_ino, before)
        self.table("ino", "a 1\n")
        self.assertNotEqual(os.stat(db).st_ino, before)


class TestDelete(HashCase):

    def test_delete(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("del-" + t, "a 1\nb 2\nc 3\n", type_=t)
                r = self.pm("-d", "A", m)
                self.assertEqual(r.rc, 0, r)
                self.assertNotFound(self.pm("-q", "a", m))
                r = self.pm("-d", "a", m)
                self.assertEqual(r.rc, 1, r)
                r = self.pm("-d", "-", m, stdin="zz\nb\n")
                self.assertEqual(r.rc, 0, r)
                r = self.pm("-d", "-", m, stdin="zz\nyy\n")
                self.assertEqual(r.rc, 1, r)
                self.assertEqual(self.dump(m), ["c\t3"])

    def test_delete_without_nul(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("deln-" + t, "a 1\nb 2\n", "-n", type_=t)
                self.assertEqual(self.pm("-d", "a", m).rc, 0)
                self.assertEqual(self.dump(m), ["b\t2"])


class TestDump(HashCase):

    def test_dump_all(self):
        lines = ["k%03d\tvalue %d" % (i, i) for i in range(300)]
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("dump-" + t, "\n".join(lines) + "\n", type_=t)
                self.assertEqual(self.dump(m), sorted(lines))
                # As in Postfix, -s lists every entry whatever -n/-N say.
                self.assertEqual(self.dump(m, "-n"), sorted(lines))
                m2 = self.table("dumpn-" + t, "\n".join(lines) + "\n", "-n",
                                type_=t)
                self.assertEqual(self.dump(m2), sorted(lines))

    def test_btree_dump_is_sorted(self):
        m = self.table("order", "c 3\na 1\nb 2\n", type_="btree")
        r = self.pm("-s", m)
        self.assertEqual(r.out, "a\t1\nb\t2\nc\t3\n", r)


class TestAtomicRebuild(HashCase):
    """A rebuild writes a new file and renames it into place: readers
    never see a half-written table."""

    NKEYS = 20000

    def sources(self):
        common = ["key%05d@example.com v%05d" % (i, i)
                  for i in range(self.NKEYS)]
        a = write(self.path("src-a"), "\n".join(
            common + ["only-a%05d x" % i for i in range(self.NKEYS)]) + "\n")
        b = write(self.path("src-b"), "\n".join(
            ["key%05d@example.com w%05d" % (i, i) for i in range(self.NKEYS)]
            + ["only-b%05d y" % i for i in range(self.NKEYS // 2)]) + "\n")
        return a, b

    def test_reader_during_rebuilds(self):
        for t in TYPES:
            with self.subTest(type=t):
                self.reader_during_rebuilds(t)

    def reader_during_rebuilds(self, t):
        a, b = self.sources()
        live = self.path("live-" + t)
        shutil.copy(a, live)
        m = "%s:%s" % (t, live)
        self.assertEqual(self.pm(m).rc, 0)
        probe = ["key%05d@example.com" % i for i in range(0, self.NKEYS, 97)]
        # Rebuild alternately from b and a, 6 times, in the background.
        script = ("for i in 1 2 3; do cp %s %s && %s -c %s %s || exit 1; "
                  "cp %s %s && %s -c %s %s || exit 1; done" %
                  (b, live, self.postmap, self.cfg, m,
                   a, live, self.postmap, self.cfg, m))
        builder = subprocess.Popen(["/bin/sh", "-c", script],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        rounds = 0
        try:
            while builder.poll() is None and rounds < 500:
                rounds += 1
                # One long-lived handle per round (several lookups that
                # can straddle a rename) plus a single -q.
                r = self.pm("-q", "-", m, stdin="\n".join(probe) + "\n")
                self.assertEqual(r.rc, 0, r)
                got = dict(ln.split("\t", 1) for ln in r.out.splitlines())
                self.assertEqual(sorted(got), sorted(probe), r)
                for k, v in got.items():
                    n = k[3:8]
                    self.assertIn(v, ("v" + n, "w" + n), (k, v))
                one = self.pm("-q", probe[rounds % len(probe)], m)
                self.assertEqual(one.rc, 0, one)
        finally:
            if builder.poll() is None:
                builder.kill()
            out, err = builder.communicate(timeout=120)
        self.assertEqual(builder.returncode, 0, err)
        self.assertGreater(rounds, 0)
        leftovers = [f for f in os.listdir(self.tmp) if ".tmp" in f]
        self.assertEqual(leftovers, [])

    def test_killed_rebuild_leaves_old_table(self):
        for t in TYPES:
            with self.subTest(type=t):
                self.killed_rebuild(t)

    def killed_rebuild(self, t):
        live = self.path("kill-" + t)
        write(live, "keep me\n")
        m = "%s:%s" % (t, live)
        self.assertEqual(self.pm(m).rc, 0)
        db = live + ".db"
        ino = os.stat(db).st_ino
        # A big source, so that the build is still running when killed.
        with open(live, "w") as f:
            for i in range(400000):
                f.write("k%07d value%07d\n" % (i, i))
        proc = subprocess.Popen([self.postmap, "-c", self.cfg, m],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        tmpname = "%s.%d.tmp" % (db, proc.pid)
        for _ in range(20000):  # up to ~100 s
            if os.path.exists(tmpname) or proc.poll() is not None:
                break
            time.sleep(0.005)
        self.assertIsNone(proc.poll(), "rebuild ended before it was killed")
        self.assertTrue(os.path.exists(tmpname))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        self.assertEqual(os.stat(db).st_ino, ino)
        self.assertFound(self.pm("-q", "keep", m), "me")
        self.assertNotFound(self.pm("-q", "k0000001", m))
        os.unlink(tmpname)


class TestReaderFollowsChanges(HashCase):
    """A long-lived reader (one postmap -q - handle) notices a rebuilt
    (renamed) table and an in-place update, and answers from the new
    content."""

    def slow_reader(self, m, keys, between):
        proc = subprocess.Popen([self.postmap, "-c", self.cfg, "-q", "-", m],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            proc.stdin.write((keys[0] + "\n").encode())
            proc.stdin.flush()
            # Let the first lookup happen before the change.
            time.sleep(0.5)
            between()
            # Replacement is checked at most once a second.
            time.sleep(1.2)
            out, err = proc.communicate(
                ("\n".join(keys[1:]) + "\n").encode(), timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return out.decode(), err.decode()

    def test_follows_rebuild(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("follow-" + t, "a old\n", type_=t)
                out, err = self.slow_reader(m, ["a", "a", "b"], lambda: (
                    self.table("follow-" + t, "a new\nb 2\n", type_=t)))
                self.assertEqual(out, "a\told\na\tnew\nb\t2\n", err)

    def test_follows_in_place_update(self):
        for t in TYPES:
            with self.subTest(type=t):
                m = self.table("inplace-" + t, "a old\n", type_=t)

                def change():
                    r = self.pm("-i", "-r", m, stdin="a new\nb 2\n")
                    self.assertEqual(r.rc, 0, r)
                out, err = self.slow_reader(m, ["a", "a", "b"], change)
                self.assertEqual(out, "a\told\na\tnew\nb\t2\n", err)


class TestErrors(HashCase):

    def test_missing_file(self):
        for t in TYPES:
            with self.subTest(type=t):
                p = self.path("nosuch-" + t)
                r = self.pm("-q", "k", "%s:%s" % (t, p))
                self.assertOneLineError(
                    r, "open database %s.db: No such file or directory" % p)
                r = self.pm("-s", "%s:%s" % (t, p))
                self.assertOneLineError(r, "%s.db" % p)

    def test_unreadable_file(self):
        m = self.table("secret", "k v\n")
        db = self.path("secret.db")
        if os.geteuid() != 0:
            os.chmod(db, 0)
            r = self.pm("-q", "k", m)
            self.assertOneLineError(r, db, "Permission denied")
            return
        # root reads anything: make NAME.db something that is not a file.
        os.unlink(db)
        os.mkdir(db)
        r = self.pm("-q", "k", m)
        self.assertOneLineError(r, db, "Is a directory")
        # And, where an unprivileged user can run the build tree, a file
        # that user may not read.
        setpriv = shutil.which("setpriv")
        if setpriv is None or not others_can_run(self.postmap):
            return
        os.rmdir(db)
        self.table("secret", "k v\n")
        os.chmod(db, 0)
        for d in (self.tmp, self.cfg):
            os.chmod(d, 0o755)
        os.chmod(os.path.join(self.cfg, "main.cf"), 0o644)
        r = run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                 self.postmap, "-c", self.cfg, "-q", "k", m])
        self.assertOneLineError(r, db, "Permission denied")

    def test_garbage_file(self):
        junk = bytes((i * 7919 + 13) % 256 for i in range(16384))
        for t in TYPES:
            with self.subTest(type=t):
                p = self.path("junk-" + t)
                write(p + ".db", junk)
                for args in (["-q", "k"], ["-s"], ["-q", "-"], ["-d", "k"]):
                    r = self.pm(*args, "%s:%s" % (t, p), stdin="k\n")
                    self.assertOneLineError(r, "%s.db" % p)
                    self.assertTrue(re.search(
                        r"checksum|unexpected file type|format|Invalid",
                        r.err), r)

    def test_empty_and_text_files(self):
        for t in TYPES:
            with self.subTest(type=t):
                p = self.path("zero-" + t)
                write(p + ".db", b"")
                r = self.pm("-q", "k", "%s:%s" % (t, p))
                self.assertOneLineError(r, "%s.db" % p)
                write(p + ".db", "this is a text file\n" * 500)
                r = self.pm("-q", "k", "%s:%s" % (t, p))
                self.assertOneLineError(r, "%s.db" % p)

    def test_rebuild_over_garbage(self):
        """A rebuild replaces a corrupt .db instead of failing on it."""
        for t in TYPES:
            with self.subTest(type=t):
                p = self.path("fix-" + t)
                write(p + ".db", b"\x01" * 5000)
                write(p, "k v\n")
                r = self.pm("%s:%s" % (t, p))
                self.assertEqual(r.rc, 0, r)
                self.assertFound(self.pm("-q", "k", "%s:%s" % (t, p)), "v")

    def test_incremental_on_garbage(self):
        for t in TYPES:
            with self.subTest(type=t):
                p = self.path("junki-" + t)
                write(p + ".db", b"\x02" * 5000)
                r = self.pm("-i", "%s:%s" % (t, p), stdin="k v\n")
                self.assertOneLineError(r, "%s.db" % p)
                self.assertEqual(open(p + ".db", "rb").read(), b"\x02" * 5000)

    def test_unwritable_directory(self):
        m = self.table("ro", "k v\n")
        argv = [self.postmap, "-c", self.cfg, m]
        if os.geteuid() == 0:
            # root writes anywhere: rebuild as an unprivileged user.
            setpriv = shutil.which("setpriv")
            if setpriv is None or not others_can_run(self.postmap):
                self.skipTest("as root, needs setpriv and a build tree "
                              "that other users can run")
            os.chmod(self.cfg, 0o755)
            os.chmod(os.path.join(self.cfg, "main.cf"), 0o644)
            os.chmod(self.path("ro"), 0o644)
            argv = [setpriv, "--reuid=65534", "--regid=65534",
                    "--clear-groups"] + argv
        os.chmod(self.tmp, 0o555)
        try:
            r = run(argv)
            self.assertEqual(r.rc, 1, r)
            self.assertIn(self.path("ro.db"), r.err)
        finally:
            os.chmod(self.tmp, 0o755)
        self.assertFound(self.pm("-q", "k", m), "v")


if __name__ == "__main__":
    unittest.main()

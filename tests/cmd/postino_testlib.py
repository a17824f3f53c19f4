# SPDX-License-Identifier: MIT
"""postino_testlib - shared helpers for the Python tests that drive the
built programs (tests/cmd, tests/compat, tests/maps/*).

POSTINO_BUILD (set by ctest) names the build tree; programs are in
POSTINO_BUILD/sbin.  A program that is missing fails the test: it is never
skipped.  Every run is checked for crashes (death by a signal) and for
sanitizer reports, whatever the test itself asserts.
"""
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"runtime error:",
                   b"ERROR: LeakSanitizer", b"ERROR: UndefinedBehaviorSanitizer")


def build_dir():
    d = os.environ.get("POSTINO_BUILD")
    if not d:
        raise RuntimeError("POSTINO_BUILD is not set (run through ctest)")
    return os.path.abspath(d)


def source_dir():
    d = os.environ.get("POSTINO_SOURCE")
    if d:
        return os.path.abspath(d)
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def program(name, tree=None):
    """Path of sbin/NAME in the build tree (or TREE); fails if missing."""
    path = os.path.join(tree or build_dir(), "sbin", name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built (no %s)" % (name, path))
    return path


class Result:
    """What a program did: rc, out/err as text, raw bytes too."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.out_b = proc.stdout
        self.err_b = proc.stderr
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def __repr__(self):
        return "<%s rc=%d out=%r err=%r>" % (" ".join(self.argv), self.rc,
                                             self.out[:300], self.err[:600])


_ports_given = set()


def free_port():
    """A loopback port nobody listens on right now.  It is drawn below the
    kernel's ephemeral range (net.ipv4.ip_local_port_range), so no
    outgoing connection of another test can take it before the caller
    binds it; it is free on every address (the wildcard bind checks
    them all), and one process never gets the same port twice."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    top = max(low - 1, 11000)
    rnd = random.Random()
    for _ in range(1000):
        port = rnd.randrange(10000, top)
        if port in _ports_given:
            continue
        ok = True
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            try:
                s = socket.socket(fam, socket.SOCK_STREAM)
            except OSError:
                continue
            try:
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, port))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            _ports_given.add(port)
            return port
    raise AssertionError("no free port below %d" % low)


def poll_until(what, fn, timeout=60, interval=0.05):
    """fn() until it is true (returned) or timeout seconds have passed
    (AssertionError naming what was awaited)."""
    end = time.monotonic() + timeout
    while True:
        val = fn()
        if val:
            return val
        if time.monotonic() > end:
            raise AssertionError("timed out after %ds waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def alive(pid):
    """Is pid a live (not zombie) process?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def run(argv, stdin=b"", env=None, cwd=None, timeout=120):
    """Run argv; return a Result.  Crashes and sanitizer reports raise."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=full_env, cwd=cwd,
                          timeout=timeout)
    res = Result([str(a) for a in argv], proc)
    if res.rc < 0:
        raise AssertionError("%s died with signal %d: %r" %
                             (argv[0], -res.rc, res))
    for mark in SANITIZER_MARKS:
        if mark in proc.stderr:
            raise AssertionError("sanitizer report from %s: %s" %
                                 (" ".join(res.argv), res.err[-3000:]))
    # ASan's exit code for its own reports, should the text be missing.
    if res.rc in (134, 139) or b"Segmentation fault" in proc.stderr:
        raise AssertionError("%s crashed: %r" % (argv[0], res))
    return res


def write(path, data):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_config(directory, extra=""):
    """A config directory with a minimal main.cf; returns its path."""
    os.makedirs(directory, exist_ok=True)
    write(os.path.join(directory, "main.cf"),
          "compatibility_level = 3.6\n" + extra)
    return directory


def names_line(text, path, line):
    """Does a message name PATH (or its basename) and line LINE?"""
    names = {re.escape(path), re.escape(os.path.basename(path))}
    for n in names:
        if re.search(r"%s(, line |:)%d\b" % (n, line), text):
            return True
    return False


class TmpTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory self.tmp and a config
    directory self.cfg in it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postino-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.cfg = make_config(os.path.join(self.tmp, "cfg"))

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assertNamesLine(self, text, path, line):
        self.assertTrue(names_line(text, path, line),
                        "message does not name %s line %d: %r" %
                        (path, line, text))

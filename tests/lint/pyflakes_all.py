#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""lint.pyflakes: run pyflakes (Debian's python3-pyflakes) over every Python
file of the source tree and fail on any finding.

The files are the ones git knows about (tracked, plus untracked files that
are not ignored) when the source tree is a git checkout, else every *.py
under it outside build directories and caches.  A missing pyflakes is a
failure, not a skip: it is one of the test dependencies
(scripts/lib/deps.sh, POSTINO_DEPS_TEST)."""
import importlib.util
import os
import subprocess
import sys

SOURCE = os.environ.get("POSTINO_SOURCE") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
PYTHON = sys.executable or "/usr/bin/python3"


def git_files(root):
    try:
        p = subprocess.run(
            ["git", "-C", root, "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--", "*.py"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    names = [n for n in p.stdout.decode().split("\0") if n]
    # A deleted but still tracked file is not there to check.
    return [n for n in names if os.path.isfile(os.path.join(root, n))]


def walk_files(root):
    out = []
    for d, subdirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        subdirs[:] = sorted(
            s for s in subdirs
            if s not in (".git", "__pycache__")
            and not (rel == "." and (s.startswith("build") or s in
                                     ("out", "tmp", "demo"))))
        out += [os.path.normpath(os.path.join(rel, f))
                for f in sorted(files) if f.endswith(".py")]
    return out


def main():
    root = os.path.abspath(SOURCE)
    files = git_files(root)
    if files is None:
        files = walk_files(root)
    files.sort()
    if not files:
        print("lint.pyflakes: no Python file found under %s" % root)
        return 1
    if importlib.util.find_spec("pyflakes") is None:
        print("lint.pyflakes: pyflakes is not installed for %s "
              "(Debian package python3-pyflakes)" % PYTHON)
        return 1
    p = subprocess.run([PYTHON, "-m", "pyflakes"] + files, cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=240)
    out = p.stdout.decode(errors="replace")
    sys.stdout.write(out)
    if p.returncode != 0 or out.strip():
        print("lint.pyflakes: findings in the files above (%d files checked)"
              % len(files))
        return 1
    print("lint.pyflakes: %d files clean" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())

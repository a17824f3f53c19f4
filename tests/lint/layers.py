# SPDX-License-Identifier: MIT
"""lint.layers: the folders show who may use what (docs/architecture.md,
"Layers and folders"; issue 9, item 4).

Checked over core/, delivery/ and maps/ of the source tree:

  - includes: a C file includes headers of its own folder and of the
    layers below it only.  core/util < core/mail, core/dns, core/tls < the
    mail-path libraries (core/cleanup, core/bounce, core/milter) < daemons and tools
    (every other core/X, delivery/X; delivery/local and delivery/virtual
    may also use delivery/common); map modules (maps/X) use core/util
    (the driver contract) only.  Never a header from another daemon's
    folder.
  - CMakeLists.txt: a folder's build names only its own folder's files
    (no "../", no ${CMAKE_SOURCE_DIR}/other/folder, no source list
    variable set by another CMakeLists.txt) and links only libraries of
    the library layers, never one defined in another daemon's folder.

tests/ and the top-level CMakeLists.txt are outside the rule: tests may
reach into anything (the fuzz targets build instrumented copies).

The checker first runs on small synthetic trees, one clean and one with
each kind of violation, and fails unless it finds exactly those; then it
checks the real tree.  Exit 0 when clean, 1 with one line per violation.
"""

import os
import re
import sys
import tempfile

SCANNED = ("core", "delivery", "maps")

UTIL = "core/util"
MAIL = ("core/mail", "core/dns", "core/tls")
MAIL_PATH = ("core/cleanup", "core/bounce", "core/milter")
DELIVERY_COMMON = "delivery/common"
LIBRARY_FOLDERS = {UTIL, *MAIL, *MAIL_PATH, DELIVERY_COMMON}


def allowed_folders(folder):
    """The folders whose headers a file in folder may include."""
    below_mail = {UTIL}
    mail = below_mail | set(MAIL)
    if folder == UTIL:
        return {UTIL}
    if folder in MAIL:
        return mail
    if folder == "core/cleanup":
        return mail | {"core/cleanup"}
    if folder == "core/bounce":
        return mail | {"core/cleanup", "core/bounce"}
    if folder == "core/milter":
        return mail | {"core/milter"}
    if folder.startswith("maps/"):
        return {UTIL, folder}
    daemon = mail | set(MAIL_PATH) | {folder}
    if folder.startswith("delivery/"):
        daemon.add(DELIVERY_COMMON)
    return daemon


def folder_of(rel):
    """core/smtpd/smtpd.c -> core/smtpd (the two first components)."""
    parts = rel.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def walk(root):
    """Relative paths of every file under the scanned trees."""
    out = []
    for top in SCANNED:
        base = os.path.join(root, top)
        for d, dirs, files in os.walk(base):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            for f in sorted(files):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return out


INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check_includes(root, files):
    headers = {}
    for rel in files:
        if rel.endswith(".h"):
            headers.setdefault(os.path.basename(rel), []).append(rel)
    problems = []
    for rel in files:
        if not rel.endswith((".c", ".h")):
            continue
        folder = folder_of(rel)
        ok = allowed_folders(folder)
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            here = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
            under_core = os.path.normpath(os.path.join("core", inc))
            if os.path.isfile(os.path.join(root, here)):
                found = [here]
            elif "/" in inc and os.path.isfile(os.path.join(root, under_core)):
                found = [under_core]
            else:
                found = headers.get(os.path.basename(inc), [])
            if not found:
                continue        # a system or generated header
            if any(folder_of(h) in ok for h in found):
                continue
            where = ", ".join(sorted(folder_of(h) for h in found))
            problems.append("%s:%d: includes \"%s\" from %s, which %s may "
                            "not use" % (rel, line, inc, where, folder))
    return problems


CMAKE_ROOT_VARS = ("CMAKE_CURRENT_SOURCE_DIR", "CMAKE_CURRENT_LIST_DIR",
                   "CMAKE_SOURCE_DIR", "PROJECT_SOURCE_DIR",
                   "postino_SOURCE_DIR")
VAR_PATH_RE = re.compile(r"\$\{(%s)\}((?:/[^\s\")]*)?)" %
                         "|".join(CMAKE_ROOT_VARS))
BARE_PATH_RE = re.compile(r"(?<![\w${}/.-])([\w.-]*(?:/[\w.-]+)+|"
                          r"[\w.-]+\.[ch])(?![\w}/])")
SOURCES_VAR_RE = re.compile(r"\$\{(\w*_(?:SOURCES|SRC|SRCS))\}")
ADD_LIBRARY_RE = re.compile(r"\badd_library\s*\(\s*([\w.+-]+)")
SUBDIR_RE = re.compile(r"\badd_subdirectory\s*\(([^)]*)\)")


def strip_comments(text):
    out = []
    for line in text.split("\n"):
        in_str = False
        for i, ch in enumerate(line):
            if ch == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            elif ch == "#" and not in_str:
                line = line[:i]
                break
        out.append(line)
    return "\n".join(out)


def cmake_files(files):
    return [f for f in files if os.path.basename(f) == "CMakeLists.txt"]


def check_cmake(root, files):
    problems = []
    texts = {}
    libraries = {}          # library target -> folder defining it
    for rel in cmake_files(files):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            texts[rel] = strip_comments(f.read())
        for m in ADD_LIBRARY_RE.finditer(texts[rel]):
            libraries[m.group(1)] = os.path.dirname(rel)
    for rel, text in texts.items():
        d = os.path.dirname(rel)
        folder = folder_of(rel) if rel.count("/") >= 2 else d

        def bad_path(target, what):
            p = os.path.normpath(target)
            if p == d or os.path.dirname(p) == d:
                return False
            if os.path.basename(p) == "CMakeLists.txt":
                return False    # "does the subfolder exist" tests
            problems.append("%s: names %s (%s), outside its folder %s" %
                            (rel, what, p, d))
            return True

        subdirs = set()
        for m in SUBDIR_RE.finditer(text):
            subdirs.update(m.group(1).split())
        for m in VAR_PATH_RE.finditer(text):
            tail = m.group(2)
            if "${" in text[m.end():m.end() + 2] or "${" in tail:
                continue        # built from another variable: see below
            base = d if m.group(1).startswith("CMAKE_CURRENT") else ""
            bad_path(os.path.join(base, tail.lstrip("/")) or ".",
                     m.group(0))
        for m in BARE_PATH_RE.finditer(text):
            tok = m.group(1)
            if tok in subdirs or tok.startswith(("/", "-")):
                continue
            if ".." in tok.split("/"):
                problems.append("%s: names %s, outside its folder %s" %
                                (rel, tok, d))
                continue
            if "/" in tok and not os.path.exists(os.path.join(root, d, tok)):
                continue        # not a path of the source tree
            bad_path(os.path.join(d, tok), tok)
        defined = set(re.findall(
            r"\b(?:set|list\s*\(\s*APPEND|file\s*\(\s*GLOB(?:_RECURSE)?)"
            r"\s*\(?\s*(\w+)", text))
        for m in SOURCES_VAR_RE.finditer(text):
            if m.group(1) not in defined:
                problems.append("%s: uses ${%s}, a source list of another "
                                "CMakeLists.txt" % (rel, m.group(1)))
        for lib, lib_dir in libraries.items():
            lib_folder = folder_of(lib_dir + "/x") if "/" in lib_dir \
                else lib_dir
            if lib_folder == folder or lib_folder in LIBRARY_FOLDERS:
                continue
            if re.search(r"(?<![\w.+-])%s(?![\w.+-])" % re.escape(lib), text):
                problems.append("%s: names library %s of %s, another "
                                "program's folder" % (rel, lib, lib_folder))
    return problems


def check(root):
    files = walk(root)
    return check_includes(root, files) + check_cmake(root, files)


SYNTHETIC = {
    "core/util/buf.h": "",
    "core/util/buf.c": '#include "buf.h"\n',
    "core/mail/qfile.h": '#include "buf.h"\n',
    "core/cleanup/cleanup.h": '#include "qfile.h"\n',
    "core/pickup/pickup.c": '#include "cleanup.h"\n#include "pickup.h"\n',
    "core/pickup/pickup.h": "",
    "core/pickup/CMakeLists.txt": "postino_daemon(pickup SOURCES pickup.c "
                                  "LIBS postino-cleanup)\n",
    "delivery/common/mailbox.h": "",
    "delivery/local/local.c": '#include "mailbox.h"\n#include "local.h"\n',
    "delivery/local/local.h": "",
    "delivery/local/CMakeLists.txt": "add_library(postino-local STATIC "
                                     "local.c)\n",
    "maps/hash/map_hash.c": '#include "buf.h"\n#include <db.h>\n',
}

VIOLATIONS = {
    # each: files added to the clean tree -> substrings of the expected
    # findings (one per line)
    "header of another daemon": (
        {"core/cmd/postqueue.c": '#include "pickup.h"\n'},
        ['core/cmd/postqueue.c:1: includes "pickup.h" from core/pickup']),
    "path include of another daemon": (
        {"core/cmd/postqueue.c": '#include "pickup/pickup.h"\n'},
        ['core/cmd/postqueue.c:1: includes "pickup/pickup.h"']),
    "lower layer using a higher one": (
        {"core/mail/qfile.c": '#include "qfile.h"\n#include "cleanup.h"\n'},
        ['core/mail/qfile.c:2: includes "cleanup.h" from core/cleanup']),
    "map module using core/mail": (
        {"maps/hash/map_db.c": '#include "qfile.h"\n'},
        ['maps/hash/map_db.c:1: includes "qfile.h" from core/mail']),
    "agent using the other agent": (
        {"delivery/virtual/virtual.c": '#include "local.h"\n'},
        ['delivery/virtual/virtual.c:1: includes "local.h" from '
         'delivery/local']),
    "CMake ../": (
        {"core/showq/CMakeLists.txt": "add_library(q STATIC "
                                      "../pickup/pickup.c)\n"},
        ["core/showq/CMakeLists.txt: names ../pickup/pickup.c"]),
    "CMake source dir path": (
        {"core/showq/CMakeLists.txt":
         "add_executable(showq ${CMAKE_SOURCE_DIR}/core/pickup/pickup.c)\n"},
        ["core/showq/CMakeLists.txt: names ${CMAKE_SOURCE_DIR}/core/pickup"]),
    "CMake subfolder sources": (
        {"core/CMakeLists.txt": "add_executable(p pickup/pickup.c)\n"},
        ["core/CMakeLists.txt: names pickup/pickup.c"]),
    "CMake foreign source list": (
        {"core/showq/CMakeLists.txt": "add_library(u STATIC "
                                      "${POSTINO_UTIL_SOURCES})\n"},
        ["core/showq/CMakeLists.txt: uses ${POSTINO_UTIL_SOURCES}"]),
    "CMake another daemon's library": (
        {"delivery/virtual/CMakeLists.txt":
         "add_executable(virtual virtual.c)\n"
         "target_link_libraries(virtual PRIVATE postino-local)\n"},
        ["delivery/virtual/CMakeLists.txt: names library postino-local"]),
}


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def self_test():
    """The checker finds each kind of violation, and nothing else."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="postino-layers-") as tmp:
        clean = os.path.join(tmp, "clean")
        write_tree(clean, SYNTHETIC)
        found = check(clean)
        if found:
            failures.append("clean tree: unexpected findings: %r" % found)
        for i, (name, (extra, expected)) in enumerate(VIOLATIONS.items()):
            t = os.path.join(tmp, "v%d" % i)
            write_tree(t, SYNTHETIC)
            write_tree(t, extra)
            found = check(t)
            missing = [e for e in expected
                       if not any(e in f for f in found)]
            if missing or len(found) != len(expected):
                failures.append("%s: expected %r, found %r" %
                                (name, expected, found))
    return failures


def main():
    failures = self_test()
    if failures:
        for f in failures:
            print("self-test: " + f)
        print("lint.layers: the checker itself is broken")
        return 1
    root = os.environ.get("POSTINO_SOURCE") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print("lint.layers: %d violation(s); code two programs need moves "
              "down a layer (docs/architecture.md)" % len(problems))
        return 1
    print("lint.layers: %d files checked, the layers hold" %
          len(walk(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

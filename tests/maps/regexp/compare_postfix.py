# SPDX-License-Identifier: MIT
"""compare_postfix - random pcre:/regexp: tables through Postfix's postmap
and ours; the answers (stdout and exit status) must be the same.

Not run by ctest (it needs Debian's postfix and postfix-pcre packages);
run it by hand after changing the parser:

    POSTINO_BUILD=build python3 tests/maps/regexp/compare_postfix.py [N [SEED]]

The tables mix valid and broken rules: odd delimiters, escapes, flags
(valid, repeated, unknown), negation, the /p1/!/p2/ form, if/endif with
and without partners, $n references good and bad, continuation lines.
Keys are built from the tables' words in mixed case.  Exit status 1 on
the first difference, which is printed with the table.
"""
import os
import random
import subprocess
import sys
import tempfile

WORDS = ["ab", "Ab", "kS", "xy", "abc", "b.c", "s", "@x", "-z", "ba", "q",
         "if", "end", "zz"]


def atom(r, words):
    k = r.randrange(16)
    if k == 0:
        return "."
    if k == 1:
        return "[ab]"
    if k == 2:
        return "(a|bc)"
    if k == 3:
        return "(x)"
    if k == 4:
        return "\\."
    if k == 5:
        return "[^a]"
    w = r.choice(WORDS)
    words.append(w)
    return w.replace(".", "\\.")


def quant(r):
    return r.choice(["", "", "", "", "*", "?", "+", "{1,2}"])


def pattern(r, words):
    s = "^" if r.randrange(4) == 0 else ""
    for _ in range(1 + r.randrange(3)):
        s += atom(r, words) + quant(r)
    if r.randrange(10) == 0:
        s += "|" + atom(r, words)
    if r.randrange(4) == 0:
        s += "$"
    return s


def pat_full(r, words, typ):
    d = r.choice("//////~#|,@%")
    p = pattern(r, words)
    if d in p:
        p = p.replace(d, "\\" + d)
    flags = ""
    for _ in range(r.randrange(3) if r.randrange(3) == 0 else 0):
        flags += r.choice("iiimxsAEUXq" if typ == "pcre" else "iiimxxsq")
    bang = "!" * (r.randrange(3) if r.randrange(4) == 0 else 0)
    if bang and r.randrange(3) == 0:
        bang = " ".join(bang) + " "
    tail = "" if r.randrange(30) else r.choice(["", d[:0]])
    return bang + d + p + (d if r.randrange(40) else "") + flags + tail


def result(r, i):
    k = r.randrange(12)
    if k == 0:
        return "r%d $1" % i
    if k == 1:
        return "r%d ${1}x$(2)" % i
    if k == 2:
        return "r%d $$ $0" % i
    if k == 3:
        return "r%d $foo" % i
    if k == 4:
        return ""
    if k == 5:
        return "r%d\n  continued\n\tagain" % i
    return "r%d" % i


def table(r, typ):
    words, lines, depth = [], [], 0
    for i in range(1 + r.randrange(25)):
        k = r.randrange(14)
        if k == 0:
            lines.append(r.choice(["if ", "IF ", "if", "if\t"])
                         + pat_full(r, words, typ)
                         + ("" if r.randrange(8) else " extra"))
            depth += 1
        elif k == 1:
            lines.append(r.choice(["endif", "ENDIF", "endif x", "endifx"]))
            depth -= 1
        elif k == 2:
            lines.append(r.choice(["garbage line", "# comment", "", "  indented"]))
        else:
            p = pat_full(r, words, typ)
            if r.randrange(6) == 0:
                p += "!" + pat_full(r, words, typ)
            res = result(r, i)
            lines.append(p + (r.choice([" ", "\t", "  "]) + res if res else "")
                         + r.choice(["", "", "", "", " ", "\t "]))
    while depth > 0 and r.randrange(3):
        lines.append("endif")
        depth -= 1
    return "\n".join(lines) + "\n", words


def keys(r, words):
    out = []
    for _ in range(40):
        s = ""
        for _ in range(r.randrange(4)):
            if words and r.randrange(3):
                w = r.choice(words)
                s += "".join(c.upper() if r.randrange(3) == 0 else c for c in w)
            else:
                s += r.choice("abcxyzABKS.@-019s ")
        s = s.strip() or "empty"
        out.append(s)
    return out


def run(argv, stdin):
    p = subprocess.run(argv, input=stdin.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    r = random.Random(seed)
    ours = os.path.join(os.environ["POSTINO_BUILD"], "sbin", "postmap")
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "conf")
        os.mkdir(conf)
        open(os.path.join(conf, "main.cf"), "w").close()
        path = os.path.join(d, "t")
        found = total = 0
        for i in range(n):
            typ = "pcre" if i % 2 == 0 else "regexp"
            text, words = table(r, typ)
            with open(path, "w") as f:
                f.write(text)
            stdin = "".join(k + "\n" for k in keys(r, words))
            a = run(["/usr/sbin/postmap", "-c", conf, "-q", "-",
                     "%s:%s" % (typ, path)], stdin)
            b = run([ours, "-q", "-", "%s:%s" % (typ, path)], stdin)
            total += stdin.count("\n")
            found += a[1].count("\n")
            if a != b:
                print("DIFFERENCE in round %d (%s)\n--- table\n%s--- keys\n%s"
                      "--- postfix rc=%d\n%s--- ours rc=%d\n%s"
                      % (i, typ, text, stdin, a[0], a[1], b[0], b[1]))
                return 1
    print("%d random tables, %d keys, %d found: same answers as Postfix"
          % (n, total, found))
    return 0


if __name__ == "__main__":
    sys.exit(main())

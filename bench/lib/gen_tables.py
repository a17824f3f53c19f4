#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen_tables.py - deterministic load for the lookup-table benchmarks.

usage: gen_tables.py keys NKEYS NQUERIES SOURCE QUERIES [SEED]
       gen_tables.py patterns NRULES NQUERIES TABLE QUERIES [SEED]

keys:      SOURCE gets NKEYS "address<TAB>value" lines shaped like a virtual
           alias table (about 200 addresses per domain); QUERIES gets
           NQUERIES addresses in random order, half of them keys of SOURCE
           and half addresses that cannot be keys (their local part starts
           with a letter no key's local part starts with).
patterns:  TABLE gets NRULES "/regex/ REJECT rule N" lines in the syntax that
           pcre: and regexp: (POSIX ERE) read alike: four in ten anchor a
           domain suffix, three a local-part prefix, three a substring;
           QUERIES gets NQUERIES addresses in random order, half matching
           one rule picked at random (so a first-match scan reads about
           half the table), half matching none (every rule is tried).

The same SEED (default 42) always gives the same files, so every run of a
benchmark, postino's and Postfix's, reads the same data.  bench/ needs
nothing outside this repository.
"""
import random
import sys


def write_lines(path, lines):
    with open(path, "w") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def gen_keys(nkeys, nqueries, source, queries, rng):
    ndomains = max(1, nkeys // 200)
    domains = ["dom%05d-%06x.example" % (d, rng.getrandbits(24))
               for d in range(ndomains)]
    keys = ["k%d-%08x@%s" % (i, rng.getrandbits(32), domains[i % ndomains])
            for i in range(nkeys)]
    write_lines(source, ("%s\tmbox%d@bench.test" % (k, i)
                         for i, k in enumerate(keys)))
    present = nqueries // 2
    asked = [rng.choice(keys) for _ in range(present)]
    asked += ["z%d-%08x@%s" % (i, rng.getrandbits(32), rng.choice(domains))
              for i in range(nqueries - present)]
    rng.shuffle(asked)
    write_lines(queries, asked)
    return "%d keys, %d queries (%d present)" % (nkeys, nqueries, present)


def gen_patterns(nrules, nqueries, table, queries, rng):
    rules, example = [], []
    for i in range(nrules):
        tag = "%04x" % rng.getrandbits(16)
        kind = i % 10
        if kind < 4:
            domain = "r%04d-%s.example" % (i, tag)
            rules.append("/@(.+\\.)?%s$/ REJECT rule %d"
                         % (domain.replace(".", "\\."), i))
            example.append(lambda n, d=domain: "u%d@mx%d.%s" % (n, n % 7, d))
        elif kind < 7:
            stem = "junk%04d%s" % (i, tag)
            rules.append("/^%s[-.+_]/ REJECT rule %d" % (stem, i))
            example.append(lambda n, s=stem: "%s.%d@h%d.example" % (s, n, n % 97))
        else:
            word = "promo%04d%soffer" % (i, tag)
            rules.append("/%s/ REJECT rule %d" % (word, i))
            example.append(lambda n, w=word: "list-%s-%d@l%d.example"
                           % (w, n, n % 89))
    write_lines(table, rules)
    matching = nqueries // 2
    asked = [rng.choice(example)(n) for n in range(matching)]
    asked += ["clean%d.%08x@h%d.ok-%d.example"
              % (n, rng.getrandbits(32), n % 1009, rng.randrange(1000))
              for n in range(nqueries - matching)]
    rng.shuffle(asked)
    write_lines(queries, asked)
    return "%d rules, %d queries (%d matching)" % (nrules, nqueries, matching)


def main(argv):
    if len(argv) not in (6, 7) or argv[1] not in ("keys", "patterns"):
        sys.exit(__doc__)
    count, nqueries = int(argv[2]), int(argv[3])
    rng = random.Random(int(argv[6]) if len(argv) == 7 else 42)
    gen = gen_keys if argv[1] == "keys" else gen_patterns
    print("wrote " + gen(count, nqueries, argv[4], argv[5], rng))


if __name__ == "__main__":
    main(sys.argv)

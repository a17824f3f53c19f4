/* SPDX-License-Identifier: MIT */
/* test_regexp_diff - the pcre:/regexp: prefilter never changes an answer.
 *
 * Part 1: literal extraction on a table of patterns (what literal, or
 * none, each must give).
 * Part 2: a bounded randomized differential test.  Random tables (plain,
 * negated and /p1/!/p2/ rules, if/endif blocks, flags, $n results) are
 * opened twice, with and without the prefilter, and random keys (many
 * built from the tables' own literals, in mixed case) must give the same
 * status and value from both.  The test also checks that the prefilter
 * really was used, so that it cannot pass vacuously.
 *
 * Usage: test_regexp_diff [ROUNDS [SEED]] (defaults 300, 1). */
#include "postino_config.h"

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map_regexp.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

static int failures;

/* Deterministic PRNG (xorshift), so a failing seed can be replayed. */
static unsigned long long rng_state = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static void
quiet(int level, const char *text, void *ctx)
{
	(void)level;
	(void)text;
	(*(int *)ctx)++;
}

/* Part 1. */

struct lit_case {
	const char *pattern;
	enum rx_syntax syn;
	int icase;
	const char *want;	/* NULL: no literal */
};

static const struct lit_case lit_cases[] = {
	{"^spam0001abcd[-.+_]", RX_SYNTAX_ERE, 1, "pam0001abcd"},
	{"@(.+\\.)?d0001-abcd\\.example$", RX_SYNTAX_PCRE, 1, "d0001-abcd.example"},
	{"bulk0001abcdoffer", RX_SYNTAX_PCRE, 1, "0001abcdoffer"},
	{"bulk0001abcdoffer", RX_SYNTAX_PCRE, 0, "bulk0001abcdoffer"},
	{"ABCdef", RX_SYNTAX_PCRE, 0, "abcdef"},
	{"a|bcdef", RX_SYNTAX_PCRE, 1, NULL},
	{"(a|b)cdef", RX_SYNTAX_PCRE, 1, "cdef"},
	{"abcde*f", RX_SYNTAX_PCRE, 0, "abcd"},
	{"abcde?fgh", RX_SYNTAX_ERE, 0, "abcd"},
	{"ab?cdefg", RX_SYNTAX_ERE, 0, "cdefg"},
	{"abcde+fgh", RX_SYNTAX_ERE, 0, "abcd"},
	{"abcde{2}fgh", RX_SYNTAX_ERE, 0, "abcd"},
	{"abc{x", RX_SYNTAX_PCRE, 0, NULL},
	{"\\Qa.b\\E", RX_SYNTAX_PCRE, 0, NULL},
	{"(?i)abcdef", RX_SYNTAX_PCRE, 0, NULL},
	{"(?:ab)cdef", RX_SYNTAX_PCRE, 0, "cdef"},
	{"(*UTF)abc", RX_SYNTAX_PCRE, 0, NULL},
	{"[]abc]defg", RX_SYNTAX_PCRE, 0, "defg"},
	{"[\\]]xyz", RX_SYNTAX_PCRE, 0, "xyz"},
	{"[[:alpha:]]xyz", RX_SYNTAX_ERE, 0, "xyz"},
	{"x\\dyzw", RX_SYNTAX_PCRE, 0, "yzw"},
	{"x\\pLyzw", RX_SYNTAX_PCRE, 0, NULL},
	{"x\\<yzw", RX_SYNTAX_ERE, 0, "yzw"},
	{"ab\\.cd", RX_SYNTAX_ERE, 0, "ab.cd"},
	{"caf\xc3\xa9s", RX_SYNTAX_PCRE, 0, "caf"},
	{"xxsxxxkxx", RX_SYNTAX_PCRE, 1, "xxx"},
	{"x", RX_SYNTAX_NONE, 0, NULL},
	{"a(b", RX_SYNTAX_PCRE, 0, NULL},
	{"ab)c", RX_SYNTAX_ERE, 0, NULL},
	{"", RX_SYNTAX_PCRE, 0, NULL},
	{"abc\\", RX_SYNTAX_PCRE, 0, NULL},
};

static void
test_literals(void)
{
	for (size_t i = 0; i < sizeof(lit_cases) / sizeof(lit_cases[0]); i++) {
		const struct lit_case *c = &lit_cases[i];
		char *got = map_regexp_lit_extract(c->pattern, c->syn, c->icase);

		if ((got == NULL) != (c->want == NULL)
		    || (got && strcmp(got, c->want) != 0)) {
			fprintf(stderr, "FAIL literal of \"%s\": got %s%s%s, want %s%s%s\n",
			    c->pattern, got ? "\"" : "", got ? got : "(none)",
			    got ? "\"" : "", c->want ? "\"" : "",
			    c->want ? c->want : "(none)", c->want ? "\"" : "");
			failures++;
		}
		free(got);
	}
}

/* Part 2. */

static const char *const words[] = {
	"ab", "Ab", "kS", "xy", "abc", "b.c", "s", "@x", "-z", "ba", "q",
};

/* gen_atom - one random pattern piece; literal text goes to lits. */
static void
gen_atom(struct buf *b, struct buf *lits, int pcre)
{
	const char *w;

	switch (rnd(14)) {
	case 0:
		buf_puts(b, ".");
		break;
	case 1:
		buf_puts(b, "[ab]");
		break;
	case 2:
		buf_puts(b, "(a|bc)");
		break;
	case 3:
		buf_puts(b, "(x)");
		break;
	case 4:
		buf_puts(b, pcre ? "\\d" : "[0-9]");
		break;
	case 5:
		buf_puts(b, "\\.");
		break;
	default:
		w = words[rnd(sizeof(words) / sizeof(words[0]))];
		for (const char *p = w; *p; p++) {
			if (*p == '.')
				buf_puts(b, "\\");
			buf_putc(b, *p);
		}
		buf_puts(lits, w);
		buf_putc(lits, ' ');
		break;
	}
	switch (rnd(8)) {
	case 0: buf_puts(b, "*"); break;
	case 1: buf_puts(b, "?"); break;
	case 2: buf_puts(b, "+"); break;
	case 3: buf_puts(b, "{1,2}"); break;
	}
}

static void
gen_pattern(struct buf *b, struct buf *lits, int pcre)
{
	int n = 1 + (int)rnd(4);

	if (rnd(4) == 0)
		buf_puts(b, "^");
	for (int i = 0; i < n; i++)
		gen_atom(b, lits, pcre);
	if (rnd(10) == 0) {
		buf_puts(b, "|");
		gen_atom(b, lits, pcre);
	}
	if (rnd(4) == 0)
		buf_puts(b, "$");
}

static void
gen_pat_full(struct buf *b, struct buf *lits, int pcre)
{
	int delim = rnd(5) == 0 ? '#' : '/';

	if (delim == '#')
		buf_puts(b, "~");
	else
		buf_putc(b, '/');
	gen_pattern(b, lits, pcre);
	buf_putc(b, delim == '#' ? '~' : '/');
	if (rnd(4) == 0)
		buf_putc(b, 'i');
}

/* gen_table - write a random table to path; literals go to lits. */
static void
gen_table(const char *path, struct buf *lits, int pcre)
{
	struct buf *b = buf_new(1024, BUF_NOLIMIT);
	int n = 1 + (int)rnd(30), depth = 0;
	FILE *fp;

	for (int i = 0; i < n; i++) {
		unsigned k = rnd(12);

		if (k == 0) {
			buf_puts(b, rnd(2) ? "if " : "if !");
			gen_pat_full(b, lits, pcre);
			buf_putc(b, '\n');
			depth++;
			continue;
		}
		if (k == 1 && depth > 0) {
			buf_puts(b, "endif\n");
			depth--;
			continue;
		}
		if (k == 2)
			buf_puts(b, "!");
		gen_pat_full(b, lits, pcre);
		if (!pcre && k == 3) {
			buf_puts(b, "!");
			gen_pat_full(b, lits, pcre);
		}
		if (k != 2 && rnd(3) == 0)
			buf_printf(b, " r%d [$1]\n", i);
		else
			buf_printf(b, " r%d\n", i);
	}
	while (depth-- > 0 && rnd(3))
		buf_puts(b, "endif\n");
	if ((fp = fopen(path, "w")) == NULL || fputs(buf_str(b), fp) < 0
	    || fclose(fp) != 0)
		msg_fatal("write %s: %m", path);
	buf_free(&b);
}

static void
gen_key(struct buf *key, const char *lits)
{
	int n = (int)rnd(4);
	size_t nl = strlen(lits);

	buf_reset(key);
	for (int i = 0; i < n; i++) {
		if (nl > 0 && rnd(3)) {
			size_t start = rnd((unsigned)nl);
			size_t len = 1 + rnd(8);

			for (size_t j = start; j < nl && j < start + len; j++) {
				int c = lits[j];

				if (rnd(3) == 0 && c >= 'a' && c <= 'z')
					c -= 32;
				buf_putc(key, c == ' ' ? 'a' : c);
			}
		} else if (rnd(6) == 0) {
			/* KELVIN SIGN and LONG S: caseless UTF-8 matching
			 * equates them with k and s. */
			buf_puts(key, rnd(2) ? "\xe2\x84\xaa" : "\xc5\xbf");
		} else {
			buf_putc(key, "abcxyzABKS.@-019s"[rnd(17)]);
		}
	}
}

static int
open_pair(const struct map_regexp_engine *eng, const char *path, int flags,
    struct map **with, struct map **without)
{
	static const struct map_driver drv_pcre = {
		.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION,
		.type = "pcre", .caps = MAP_CAP_PATTERN,
	};
	static const struct map_driver drv_regexp = {
		.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION,
		.type = "regexp", .caps = MAP_CAP_PATTERN,
	};
	const struct map_driver *drv = eng == &map_regexp_pcre_engine
	    ? &drv_pcre : &drv_regexp;
	char *err = NULL;

	map_regexp_prefilter_disable = 0;
	*with = map_regexp_open_engine(drv, eng, path, O_RDONLY,
	    flags | MAP_FLAG_EXPLAIN, &err);
	map_regexp_prefilter_disable = 1;
	*without = map_regexp_open_engine(drv, eng, path, O_RDONLY, flags, &err);
	map_regexp_prefilter_disable = 0;
	if (*with == NULL || *without == NULL) {
		fprintf(stderr, "FAIL open %s: %s\n", path, err ? err : "?");
		failures++;
		free(err);
		return -1;
	}
	return 0;
}

/* prefilter_saved - did the explain trace show rules or patterns that the
 * prefilter spared? */
static int
prefilter_saved(const char *trace)
{
	const char *p = strstr(trace, "rules visited, ");
	int visited, nrules, run, out;

	while (p > trace && p[-1] != ':')
		p--;
	if (p == NULL || sscanf(p, " %d of %d rules visited, %d patterns run, %d ruled out",
	    &visited, &nrules, &run, &out) != 4) {
		fprintf(stderr, "FAIL no summary in explain trace: %s\n", trace);
		failures++;
		return 0;
	}
	return visited < nrules || out > 0;
}

static void
test_differential(int rounds)
{
	char path[] = "/tmp/test_regexp_diff.XXXXXX";
	struct buf *lits = buf_new(256, BUF_NOLIMIT);
	struct buf *key = buf_new(64, BUF_NOLIMIT);
	long lookups = 0, ruled = 0, found = 0, saved = 0;
	int fd = mkstemp(path);

	if (fd < 0)
		msg_fatal("mkstemp: %m");
	close(fd);
	for (int round = 0; round < rounds; round++) {
		int pcre = round % 2 == 0;
		const struct map_regexp_engine *eng = pcre
		    ? &map_regexp_pcre_engine : &map_regexp_posix_engine;
		struct map *a, *b;

		/* Every other regexp table in a UTF-8 locale, where glibc's
		 * REG_ICASE is Unicode-aware. */
		setlocale(LC_CTYPE, !pcre && round % 4 == 1 ? "C.UTF-8" : "C");
		buf_reset(lits);
		gen_table(path, lits, pcre);
		/* Every third table scans the trie instead of the DFA. */
		map_regexp_ac_dense_max = round % 3 == 2 ? 0 : 4u * 1024 * 1024;
		/* Every other pcre table in UTF mode. */
		if (open_pair(eng, path, pcre && round % 4 == 0 ? MAP_FLAG_UTF8 : 0,
		    &a, &b) < 0)
			continue;
		if (((struct map_regexp *)a)->ac != NULL)
			ruled++;
		for (int k = 0; k < 200; k++) {
			const char *va = NULL, *vb = NULL;
			enum map_status sa, sb;
			char *save;

			gen_key(key, buf_str(lits));
			map_explain_reset(a);
			sa = a->lookup(a, buf_str(key), &va);
			saved += prefilter_saved(map_explain_text(a));
			save = sa == MAP_FOUND ? xstrdup(va) : NULL;
			sb = b->lookup(b, buf_str(key), &vb);
			lookups++;
			if (sa == MAP_FOUND)
				found++;
			if (sa != sb || (sa == MAP_FOUND && strcmp(save, vb) != 0)) {
				fprintf(stderr, "FAIL round %d (%s) key \"%s\": prefilter %d \"%s\", plain %d \"%s\"\n",
				    round, eng->type, buf_str(key), sa, save ? save : "",
				    sb, sb == MAP_FOUND ? vb : "");
				if (failures++ == 0 && write(2, "table:\n", 7) > 0) {
					FILE *fp = fopen(path, "r");
					int ch;

					while (fp && (ch = getc(fp)) != EOF)
						putc(ch, stderr);
					if (fp)
						fclose(fp);
				}
			}
			free(save);
		}
		map_close(&a);
		map_close(&b);
	}
	setlocale(LC_CTYPE, "C");
	unlink(path);
	buf_free(&lits);
	buf_free(&key);
	printf("differential: %d tables, %ld lookups, %ld found, prefilter on %ld tables, spared work in %ld lookups\n",
	    rounds, lookups, found, ruled, saved);
	/* The test must exercise the prefilter and both outcomes. */
	if (ruled < rounds / 2 || saved < lookups / 10 || found == 0
	    || found == lookups) {
		fprintf(stderr, "FAIL differential test did not exercise the prefilter\n");
		failures++;
	}
}

/* Part 3: request flags (NO_REGSUB, UTF8), with the warnings they log. */

static struct buf *captured;

static void
capture(int level, const char *text, void *ctx)
{
	(void)level;
	(void)ctx;
	buf_puts(captured, text);
	buf_putc(captured, '\n');
}

static void
expect(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "FAIL %s\n", what);
		failures++;
	}
}

static struct map *
open_text(const char *text, int flags)
{
	static const struct map_driver drv = {
		.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION,
		.type = "pcre", .caps = MAP_CAP_PATTERN,
	};
	char path[] = "/tmp/test_regexp_flags.XXXXXX";
	int fd = mkstemp(path);
	char *err = NULL;
	struct map *map;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		msg_fatal("write %s: %m", path);
	close(fd);
	map = map_regexp_open_engine(&drv, &map_regexp_pcre_engine, path,
	    O_RDONLY, flags, &err);
	unlink(path);
	if (map == NULL)
		msg_fatal("open: %s", err);
	return map;
}

static void
test_request_flags(void)
{
	struct map *map;
	const char *v = NULL;

	captured = buf_new(256, BUF_NOLIMIT);
	msg_capture(capture, NULL);

	map = open_text("/^(a)/ got $1\n/^b/ plain $$\n/^c/ other\n",
	    MAP_FLAG_NO_REGSUB);
	expect(strstr(buf_str(captured), ", line 1: regular expression substitution is not allowed: skipping this rule") != NULL,
	    "NO_REGSUB warns about the $n rule");
	expect(strstr(buf_str(captured), "line 2") == NULL,
	    "NO_REGSUB accepts $$");
	expect(map->lookup(map, "a", &v) == MAP_NOTFOUND, "NO_REGSUB rule skipped");
	expect(map->lookup(map, "b", &v) == MAP_FOUND && strcmp(v, "plain $") == 0,
	    "NO_REGSUB keeps the other rules");
	map_close(&map);

	buf_reset(captured);
	map = open_text("/^.x$/ one\n/x/ any\n", MAP_FLAG_UTF8);
	expect(map->lookup(map, "\xc3\xa9x", &v) == MAP_FOUND && strcmp(v, "one") == 0,
	    "UTF8: one character");
	expect(map->lookup(map, "\xffx", &v) == MAP_NOTFOUND,
	    "UTF8: bad UTF-8 matches nothing");
	expect(strstr(buf_str(captured), ", line 1: UTF-8 error") != NULL
	    && strstr(buf_str(captured), ", line 2: UTF-8 error") != NULL,
	    "UTF8: bad UTF-8 warns per rule with the line");
	map_close(&map);

	map = open_text("/^.x$/ one\n/x/ any\n", 0);
	expect(map->lookup(map, "\xc3\xa9x", &v) == MAP_FOUND && strcmp(v, "any") == 0,
	    "no UTF8: bytes");
	expect(map->lookup(map, "\xffx", &v) == MAP_FOUND && strcmp(v, "one") == 0,
	    "no UTF8: any byte");
	map_close(&map);

	msg_capture(NULL, NULL);
	buf_free(&captured);
}

int
main(int argc, char **argv)
{
	long rounds = 300, seed = 1;
	int warnings = 0;

	if ((argc > 1 && (str_to_long(argv[1], &rounds) < 0 || rounds < 1
	    || rounds > 1000000))
	    || (argc > 2 && str_to_long(argv[2], &seed) < 0)) {
		fprintf(stderr, "usage: test_regexp_diff [ROUNDS [SEED]]\n");
		return 2;
	}
	rng_state ^= (unsigned long long)seed * 2654435761ULL;
	msg_init("test_regexp_diff", 1);
	test_request_flags();
	msg_capture(quiet, &warnings);
	test_literals();
	test_differential((int)rounds);
	msg_capture(NULL, NULL);
	printf("%s (%d load warnings from random tables)\n",
	    failures ? "FAILED" : "ok", warnings);
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/* map_regexp - private interface of the pcre: and regexp: module.
 *
 * Both table types share one rule parser and one evaluator
 * (map_regexp.c); what differs is the regular-expression engine
 * (map_regexp_pcre.c: PCRE2 with JIT, map_regexp_posix.c: regcomp/
 * regexec), described by a struct map_regexp_engine.
 *
 * The prefilter (map_regexp_lit.c, map_regexp_ac.c) is an optimisation
 * only: for each pattern it finds, when it can prove one, a literal
 * string that every match must contain (ASCII-lowercased).  At lookup
 * time one Aho-Corasick pass over the lowercased key tells which of those
 * literals occur; a positive pattern whose literal is absent cannot
 * match, so it is not run (negated patterns always run: see pat_test()).
 * The evaluation order and the answers are exactly those of the plain
 * sequential scan; tests/maps/regexp/ checks this with a randomized
 * differential test and a libFuzzer target.
 *
 * Nothing here is exported from the module: the only visible symbol is
 * postino_map_regexp. */
#ifndef POSTINO_MAPS_REGEXP_MAP_REGEXP_H
#define POSTINO_MAPS_REGEXP_MAP_REGEXP_H

#include <stddef.h>
#include <stdint.h>

#include "map_driver.h"

#define MAP_REGEXP_HIDDEN	__attribute__((visibility("hidden")))

/* Pattern options, one bit per flag letter (each letter toggles). */
#define RX_OPT_I	(1 << 0)	/* case-insensitive */
#define RX_OPT_M	(1 << 1)	/* multi-line */
#define RX_OPT_X	(1 << 2)	/* regexp: ERE (on) / BRE; pcre: extended */
#define RX_OPT_S	(1 << 3)	/* pcre: dot matches newline */
#define RX_OPT_A	(1 << 4)	/* pcre: anchored */
#define RX_OPT_E	(1 << 5)	/* pcre: dollar matches only at end */
#define RX_OPT_U	(1 << 6)	/* pcre: ungreedy */
#define RX_OPT_UTF	(1 << 7)	/* pcre: UTF mode (MAP_FLAG_UTF8) */

enum rx_syntax {
	RX_SYNTAX_PCRE,			/* Perl syntax */
	RX_SYNTAX_ERE,			/* POSIX extended */
	RX_SYNTAX_NONE,			/* no literal extraction (BRE, x mode) */
};

struct map_regexp;

/* struct map_regexp_engine - one regular-expression library. */
struct map_regexp_engine {
	const char *type;		/* "pcre" or "regexp" */
	int default_opts;		/* RX_OPT_* before flags toggle them */
	int legacy_and_not;		/* accept "/p1/!/p2/" */
	/* flag - fold one flag letter into *opts: 0 ok, 1 ignored (*warn_r
	 * says why), -1 unknown. */
	int (*flag)(int ch, int *opts, const char **warn_r);
	/* syntax - the syntax literal extraction must assume for opts. */
	enum rx_syntax (*syntax)(int opts);
	/* compile - NULL with *err_r (malloc'd) on error; *ngroups_r is the
	 * number of capturing groups. need_groups: captures will be used. */
	void *(*compile)(struct map_regexp *mr, const char *pattern, int opts,
	    int need_groups, int *ngroups_r, char **err_r);
	/* exec - 1 match, 0 no match, -1 match-time error (*err_r static
	 * text).  With want_groups, the capture offsets are left in
	 * mr->ovec (pairs, -1 for unset groups). */
	int (*exec)(struct map_regexp *mr, void *re, const char *key,
	    size_t len, int want_groups, const char **err_r);
	void (*free)(void *re);
	/* init/fini - per-table engine state (match data, JIT stack). */
	void (*init)(struct map_regexp *mr);
	void (*fini)(struct map_regexp *mr);
};

/* struct rx_pat - one compiled pattern with its sense and literal. */
struct rx_pat {
	void *re;
	int match;			/* 1: must match; 0: must not match */
	int lit;			/* literal id, or -1 */
	char *litstr;			/* the literal until the prefilter is built */
	char *text;			/* "/pattern/flags" as written, for explain */
};

enum rx_op {
	RX_OP_MATCH,
	RX_OP_IF,
	RX_OP_ENDIF,
};

struct rx_rule {
	enum rx_op op;
	int lineno;
	struct rx_pat pat;		/* MATCH, IF */
	struct rx_pat *pat2;		/* regexp "/p1/!/p2/": the second test */
	char *result;			/* MATCH */
	int has_subst;			/* result has a '$' to expand */
	int max_sub;			/* largest $n in the result */
	int skip_to;			/* IF: index after the matching ENDIF
					 * (nrules when there is none) */
	int endif_lineno;		/* IF: line of that ENDIF, 0 if none */
};

/* struct rx_ac - Aho-Corasick automaton over lowercased literals. */
struct rx_ac;

struct map_regexp {
	struct map map;
	const struct map_regexp_engine *eng;
	char *source;			/* file name or "{...}" for messages */
	struct rx_rule *rules;
	int nrules;
	int max_groups;			/* largest group count of $n rules */

	/* Captures of the last exec with want_groups: 2*(max_groups+1). */
	long *ovec;
	void *engine_state;

	struct buf *result;		/* expanded result */
	struct buf *lkey;		/* lowercased key */

	/* Prefilter (NULL ac: off). */
	struct rx_ac *ac;
	int nlits;
	unsigned *lit_seen;		/* per literal: generation it was seen */
	unsigned gen;
	int lits_valid;			/* lit_seen describes this key */
	int **lit_rules;		/* per literal: MATCH rules keyed by it */
	int *lit_nrules;
	int *always;			/* rules that must always be visited */
	int nalways;
	int *cand;			/* scratch: candidate rule indices */
	int ncand_max;
	int *hit;			/* scratch: literal ids seen this lookup */
	int nhit;
	int hit_max;
};

/* The engines. */
extern const struct map_regexp_engine map_regexp_pcre_engine MAP_REGEXP_HIDDEN;
extern const struct map_regexp_engine map_regexp_posix_engine MAP_REGEXP_HIDDEN;

/* map_regexp_open_engine - open a table of the given driver and engine
 * (the drivers' open functions call this). */
struct map *map_regexp_open_engine(const struct map_driver *drv,
    const struct map_regexp_engine *eng, const char *name, int open_flags,
    int flags, char **err_r) MAP_REGEXP_HIDDEN;

/* map_regexp_prefilter_disable - tests: when set before open, tables
 * are built without the prefilter (plain sequential evaluation). */
extern int map_regexp_prefilter_disable MAP_REGEXP_HIDDEN;

/* map_regexp_lit_extract - a literal every match of pattern must contain
 * (malloc'd, ASCII-lowercased), or NULL when none can be proven. icase:
 * the pattern matches case-insensitively. */
char *map_regexp_lit_extract(const char *pattern, enum rx_syntax syntax,
    int icase) MAP_REGEXP_HIDDEN;

/* Aho-Corasick (map_regexp_ac.c).  Literal ids are 0..n-1 in the order
 * they were added; adding the same string twice returns the first id. */
struct rx_ac *map_regexp_ac_new(void) MAP_REGEXP_HIDDEN;
int map_regexp_ac_add(struct rx_ac *ac, const char *lit) MAP_REGEXP_HIDDEN;
/* map_regexp_ac_build - finish; -1 when the automaton would be too big
 * (the caller then runs without a prefilter). */
int map_regexp_ac_build(struct rx_ac *ac) MAP_REGEXP_HIDDEN;
/* map_regexp_ac_scan - call hit(ctx, id) for every literal occurrence in
 * text[0..len) (an id may be reported more than once). */
void map_regexp_ac_scan(const struct rx_ac *ac, const unsigned char *text,
    size_t len, void (*hit)(void *ctx, int id), void *ctx) MAP_REGEXP_HIDDEN;
void map_regexp_ac_free(struct rx_ac **acp) MAP_REGEXP_HIDDEN;
/* map_regexp_ac_dense_max - largest complete DFA, in entries (tests set
 * it to 0 to exercise the trie scan). */
extern size_t map_regexp_ac_dense_max MAP_REGEXP_HIDDEN;

#endif

/* SPDX-License-Identifier: MIT */
/* map_regexp_ac - Aho-Corasick automaton for the lookup prefilter.
 *
 * Literals are collected first (deduplicated), then built into a trie
 * whose states are numbered breadth-first, so that the children of a
 * state are consecutive (a compact, array-only representation).  Failure
 * and output links are added in the same order.  When the table is small
 * enough (states x byte classes up to map_regexp_ac_dense_max), a
 * complete DFA over byte classes is also built, and scans use it: one
 * table step per key byte.  Larger tables scan the trie itself, following failure links
 * (binary search among a state's children).  Either way a scan reports
 * every occurrence of every literal in one pass over the key.
 *
 * The automaton is read-only after map_regexp_ac_build(). */
#include "postino_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "map_regexp.h"
#include "mymalloc.h"

/* Largest complete DFA (entries of 4 bytes); beyond it, the trie scan. */
size_t map_regexp_ac_dense_max = 4u * 1024 * 1024;
/* Largest trie (states); beyond it the prefilter is off. */
#define AC_STATES_MAX	(64 * 1024 * 1024)

struct rx_ac {
	struct htable *ids;		/* literal -> id + 1 */
	char **lits;
	int nlits;
	int cap;
	/* The trie, states in breadth-first order; state 0 is the root. */
	int32_t nstates;
	int32_t *cstart;		/* first child */
	uint16_t *ccount;		/* number of children */
	uint8_t *label;			/* byte on the edge into the state */
	int32_t *fail;
	int32_t *out;			/* literal ending here, or -1 */
	int32_t *outlink;		/* next state on the failure chain
					 * with output; 0 none */
	int32_t root[256];		/* root transitions, 0 = stay */
	/* The complete DFA, when small enough. */
	uint8_t cls[256];
	int nclasses;
	int32_t *delta;			/* nstates x nclasses, or NULL */
};

struct rx_ac *
map_regexp_ac_new(void)
{
	struct rx_ac *ac = xcalloc(1, sizeof(*ac));

	ac->ids = htable_create(256);
	return ac;
}

int
map_regexp_ac_add(struct rx_ac *ac, const char *lit)
{
	void *v;

	if ((v = htable_find(ac->ids, lit)) != NULL)
		return (int)(intptr_t)v - 1;
	if (ac->nlits == ac->cap) {
		ac->cap = ac->cap ? ac->cap * 2 : 64;
		ac->lits = xreallocarray(ac->lits, (size_t)ac->cap, sizeof(char *));
	}
	ac->lits[ac->nlits] = xstrdup(lit);
	htable_enter(ac->ids, lit, (void *)(intptr_t)(ac->nlits + 1));
	return ac->nlits++;
}

/* lit_cmp - order literal ids by their strings (qsort_r). */
static int
lit_cmp(const void *a, const void *b, void *ctx)
{
	const struct rx_ac *ac = ctx;

	return strcmp(ac->lits[*(const int *)a], ac->lits[*(const int *)b]);
}

/* child - the child of s on byte c, or 0. */
static inline int32_t
child(const struct rx_ac *ac, int32_t s, unsigned c)
{
	int32_t lo = ac->cstart[s], hi = lo + ac->ccount[s];

	while (lo < hi) {
		int32_t mid = lo + (hi - lo) / 2;

		if (ac->label[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < ac->cstart[s] + ac->ccount[s] && ac->label[lo] == c) ? lo : 0;
}

/* build_trie - the breadth-first trie of the literals; -1 if too big. */
static int
build_trie(struct rx_ac *ac)
{
	size_t total = 1;
	int32_t *first, *next, *last, *out, *queue, n = 1;
	uint8_t *lab;
	int *order;
	int i, head, tail;

	for (i = 0; i < ac->nlits; i++)
		total += strlen(ac->lits[i]);
	if (total > AC_STATES_MAX)
		return -1;
	/* 1. A linked trie, literals inserted in sorted order: a new
	 * string can only share the most recently created child, and
	 * siblings come out sorted. */
	first = xcalloc(total, sizeof(int32_t));
	next = xcalloc(total, sizeof(int32_t));
	last = xcalloc(total, sizeof(int32_t));
	out = xmalloc(total * sizeof(int32_t));
	lab = xcalloc(total, 1);
	order = xmalloc(((size_t)ac->nlits + 1) * sizeof(int));
	for (i = 0; i < ac->nlits; i++)
		order[i] = i;
	qsort_r(order, (size_t)ac->nlits, sizeof(int), lit_cmp, ac);
	out[0] = -1;
	for (i = 0; i < ac->nlits; i++) {
		int32_t s = 0;

		for (const unsigned char *p = (const unsigned char *)ac->lits[order[i]]; *p; p++) {
			int32_t l = last[s];

			if (l != 0 && lab[l] == *p) {
				s = l;
				continue;
			}
			lab[n] = *p;
			out[n] = -1;
			if (l == 0)
				first[s] = n;
			else
				next[l] = n;
			last[s] = n;
			s = n++;
		}
		if (out[s] < 0)
			out[s] = order[i];
	}
	free(order);
	/* 2. Renumber breadth-first: children become consecutive. */
	ac->nstates = n;
	ac->cstart = xcalloc((size_t)n, sizeof(int32_t));
	ac->ccount = xcalloc((size_t)n, sizeof(uint16_t));
	ac->label = xcalloc((size_t)n, 1);
	ac->out = xmalloc((size_t)n * sizeof(int32_t));
	queue = xmalloc((size_t)n * sizeof(int32_t));	/* new id -> old id */
	queue[0] = 0;
	ac->out[0] = -1;
	for (head = 0, tail = 1; head < tail; head++) {
		int32_t old = queue[head];

		ac->cstart[head] = tail;
		for (int32_t c = first[old]; c != 0; c = next[c]) {
			ac->label[tail] = lab[c];
			ac->out[tail] = out[c];
			queue[tail++] = c;
			ac->ccount[head]++;
		}
	}
	free(first);
	free(next);
	free(last);
	free(out);
	free(lab);
	free(queue);
	/* 3. Failure and output links, in breadth-first order. */
	ac->fail = xcalloc((size_t)n, sizeof(int32_t));
	ac->outlink = xcalloc((size_t)n, sizeof(int32_t));
	for (int32_t s = 0; s < n; s++) {
		for (int32_t v = ac->cstart[s]; v < ac->cstart[s] + ac->ccount[s]; v++) {
			int32_t f = ac->fail[s], t = 0;

			if (s != 0) {
				for (;;) {
					if ((t = child(ac, f, ac->label[v])) != 0 || f == 0)
						break;
					f = ac->fail[f];
				}
			}
			ac->fail[v] = t;
			ac->outlink[v] = ac->out[t] >= 0 ? t : ac->outlink[t];
		}
	}
	for (unsigned c = 0; c < 256; c++)
		ac->root[c] = child(ac, 0, c);
	return 0;
}

/* build_dense - the complete DFA over byte classes, when small. */
static void
build_dense(struct rx_ac *ac)
{
	size_t nc;

	memset(ac->cls, 0, sizeof(ac->cls));
	ac->nclasses = 1;
	for (int32_t s = 1; s < ac->nstates; s++) {
		if (ac->cls[ac->label[s]] == 0) {
			if (ac->nclasses == 256)
				return;
			ac->cls[ac->label[s]] = (uint8_t)ac->nclasses++;
		}
	}
	nc = (size_t)ac->nclasses;
	if ((size_t)ac->nstates * nc > map_regexp_ac_dense_max)
		return;
	ac->delta = xcalloc((size_t)ac->nstates * nc, sizeof(int32_t));
	/* Breadth-first: the failure state's row is complete already. */
	for (int32_t s = 0; s < ac->nstates; s++) {
		int32_t *row = ac->delta + (size_t)s * nc;

		if (s != 0)
			memcpy(row, ac->delta + (size_t)ac->fail[s] * nc,
			    nc * sizeof(int32_t));
		for (int32_t v = ac->cstart[s]; v < ac->cstart[s] + ac->ccount[s]; v++)
			row[ac->cls[ac->label[v]]] = v;
	}
}

int
map_regexp_ac_build(struct rx_ac *ac)
{
	if (build_trie(ac) < 0)
		return -1;
	build_dense(ac);
	return 0;
}

/* report - every literal that ends at state s. */
static inline void
report(const struct rx_ac *ac, int32_t s, void (*hit)(void *, int), void *ctx)
{
	for (int32_t t = ac->out[s] >= 0 ? s : ac->outlink[s]; t != 0;
	    t = ac->outlink[t])
		hit(ctx, ac->out[t]);
}

void
map_regexp_ac_scan(const struct rx_ac *ac, const unsigned char *text,
    size_t len, void (*hit)(void *ctx, int id), void *ctx)
{
	int32_t s = 0;

	if (ac->nstates <= 1)
		return;
	if (ac->delta != NULL) {
		const int32_t *delta = ac->delta;
		size_t nc = (size_t)ac->nclasses;

		for (size_t i = 0; i < len; i++) {
			s = delta[(size_t)s * nc + ac->cls[text[i]]];
			if (ac->out[s] >= 0 || ac->outlink[s] != 0)
				report(ac, s, hit, ctx);
		}
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned c = text[i];
		int32_t t;

		for (;;) {
			if (s == 0) {
				s = ac->root[c];
				break;
			}
			if ((t = child(ac, s, c)) != 0) {
				s = t;
				break;
			}
			s = ac->fail[s];
		}
		if (ac->out[s] >= 0 || ac->outlink[s] != 0)
			report(ac, s, hit, ctx);
	}
}

void
map_regexp_ac_free(struct rx_ac **acp)
{
	struct rx_ac *ac = *acp;

	if (ac == NULL)
		return;
	for (int i = 0; i < ac->nlits; i++)
		free(ac->lits[i]);
	free(ac->lits);
	htable_free(&ac->ids, NULL);
	free(ac->cstart);
	free(ac->ccount);
	free(ac->label);
	free(ac->fail);
	free(ac->out);
	free(ac->outlink);
	free(ac->delta);
	free(ac);
	*acp = NULL;
}

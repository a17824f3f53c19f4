/* SPDX-License-Identifier: MIT */
/* map_regexp_ac - Aho-Corasick automaton for the lookup prefilter.
 *
 * Literals are collected first (deduplicated), then compiled into a
 * complete DFA over byte classes: bytes that occur in no literal share
 * class 0, so the table has (states x classes) entries.  Each state
 * knows the literal that ends there (if any) and the next state on its
 * failure chain that ends a literal, so a scan reports every occurrence
 * of every literal in one pass over the key.  The automaton is read-only
 * after map_regexp_ac_build(). */
#include "postino_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "map_regexp.h"
#include "mymalloc.h"

/* Largest table accepted (entries); beyond it the prefilter is off. */
#define AC_MAX_ENTRIES	(16u * 1024 * 1024)

struct rx_ac {
	struct htable *ids;		/* literal -> id + 1 */
	char **lits;
	int nlits;
	int cap;
	/* The built automaton. */
	uint8_t cls[256];
	int nclasses;
	int nstates;
	int32_t *delta;			/* nstates x nclasses */
	int32_t *out;			/* literal ending here, or -1 */
	int32_t *outlink;		/* next state with output, 0 none */
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

int
map_regexp_ac_build(struct rx_ac *ac)
{
	size_t total = 1, nc;
	int32_t *queue, *fail, *trie;
	int i, head = 0, tail = 0;

	/* Byte classes. */
	memset(ac->cls, 0, sizeof(ac->cls));
	ac->nclasses = 1;
	for (i = 0; i < ac->nlits; i++) {
		for (const unsigned char *p = (const unsigned char *)ac->lits[i]; *p; p++) {
			if (ac->cls[*p] == 0) {
				if (ac->nclasses == 256)
					return -1;
				ac->cls[*p] = (uint8_t)ac->nclasses++;
			}
		}
		total += strlen(ac->lits[i]);
	}
	nc = (size_t)ac->nclasses;
	if (total > INT32_MAX || total * nc > AC_MAX_ENTRIES)
		return -1;
	/* The trie (0 = no edge; the root is state 0, never a target). */
	trie = xcalloc(total * nc, sizeof(int32_t));
	ac->out = xmalloc(total * sizeof(int32_t));
	ac->outlink = xcalloc(total, sizeof(int32_t));
	ac->out[0] = -1;
	ac->nstates = 1;
	for (i = 0; i < ac->nlits; i++) {
		int32_t s = 0;

		for (const unsigned char *p = (const unsigned char *)ac->lits[i]; *p; p++) {
			int32_t *e = &trie[(size_t)s * nc + ac->cls[*p]];

			if (*e == 0) {
				*e = ac->nstates;
				ac->out[ac->nstates++] = -1;
			}
			s = *e;
		}
		if (ac->out[s] < 0)
			ac->out[s] = i;
	}
	/* Breadth-first: failure links, output links and the full DFA. */
	ac->delta = trie;
	fail = xcalloc((size_t)ac->nstates, sizeof(int32_t));
	queue = xmalloc((size_t)ac->nstates * sizeof(int32_t));
	for (size_t c = 0; c < nc; c++) {
		int32_t t = trie[c];

		if (t) {
			fail[t] = 0;
			queue[tail++] = t;
		}
	}
	while (head < tail) {
		int32_t s = queue[head++];

		ac->outlink[s] = ac->out[fail[s]] >= 0 ? fail[s]
		    : ac->outlink[fail[s]];
		for (size_t c = 0; c < nc; c++) {
			int32_t *e = &ac->delta[(size_t)s * nc + c];
			int32_t via = ac->delta[(size_t)fail[s] * nc + c];

			if (*e) {
				fail[*e] = via;
				queue[tail++] = *e;
			} else {
				*e = via;
			}
		}
	}
	free(fail);
	free(queue);
	return 0;
}

void
map_regexp_ac_scan(const struct rx_ac *ac, const unsigned char *text,
    size_t len, void (*hit)(void *ctx, int id), void *ctx)
{
	const int32_t *delta = ac->delta;
	size_t nc = (size_t)ac->nclasses;
	int32_t s = 0;

	for (size_t i = 0; i < len; i++) {
		s = delta[(size_t)s * nc + ac->cls[text[i]]];
		for (int32_t t = ac->out[s] >= 0 ? s : ac->outlink[s]; t != 0;
		    t = ac->outlink[t])
			hit(ctx, ac->out[t]);
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
	free(ac->delta);
	free(ac->out);
	free(ac->outlink);
	free(ac);
	*acp = NULL;
}

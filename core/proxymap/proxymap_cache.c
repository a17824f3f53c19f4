/* SPDX-License-Identifier: MIT */
/* proxymap_cache - one table's result cache (proxymap_cache.h): a hash
 * table of entries on a doubly linked list, most recently used first. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "mymalloc.h"
#include "proxymap_cache.h"

struct pm_cache_ent {
	char *key;
	char *value;			/* NULL: not found */
	double expires;
	struct pm_cache_ent *prev, *next;
};

struct pm_cache {
	struct htable *ht;		/* key -> struct pm_cache_ent */
	struct pm_cache_ent *head, *tail;
	long entries;
	long max;
	unsigned long hits, misses;
};

struct pm_cache *
pm_cache_new(long max_entries)
{
	struct pm_cache *c = xcalloc(1, sizeof(*c));

	c->ht = htable_create(256);
	c->max = max_entries > 0 ? max_entries : 10000;
	return c;
}

static void
pm_cache_unlink(struct pm_cache *c, struct pm_cache_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
pm_cache_push(struct pm_cache *c, struct pm_cache_ent *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

static void
pm_cache_drop(struct pm_cache *c, struct pm_cache_ent *e)
{
	pm_cache_unlink(c, e);
	htable_delete(c->ht, e->key, NULL);
	free(e->key);
	free(e->value);
	free(e);
	c->entries--;
}

void
pm_cache_free(struct pm_cache **cp)
{
	struct pm_cache *c = *cp;

	if (c == NULL)
		return;
	while (c->head)
		pm_cache_drop(c, c->head);
	htable_free(&c->ht, NULL);
	free(c);
	*cp = NULL;
}

int
pm_cache_get(struct pm_cache *c, const char *key, double now,
    enum map_status *st_r, const char **value_r)
{
	struct pm_cache_ent *e = htable_find(c->ht, key);

	if (e != NULL && e->expires <= now) {
		pm_cache_drop(c, e);
		e = NULL;
	}
	if (e == NULL) {
		c->misses++;
		return 0;
	}
	pm_cache_unlink(c, e);
	pm_cache_push(c, e);
	*st_r = e->value ? MAP_FOUND : MAP_NOTFOUND;
	*value_r = e->value;
	c->hits++;
	return 1;
}

void
pm_cache_put(struct pm_cache *c, const char *key, enum map_status st,
    const char *value, long ttl, double now)
{
	struct pm_cache_ent *e;

	if (ttl <= 0 || st == MAP_TEMPFAIL || (st == MAP_FOUND && value == NULL))
		return;
	if ((e = htable_find(c->ht, key)) != NULL)
		pm_cache_drop(c, e);
	while (c->entries >= c->max && c->tail)
		pm_cache_drop(c, c->tail);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->value = st == MAP_FOUND ? xstrdup(value) : NULL;
	e->expires = now + (double)ttl;
	htable_enter(c->ht, e->key, e);
	pm_cache_push(c, e);
	c->entries++;
}

void
pm_cache_stats(const struct pm_cache *c, unsigned long *hits_r,
    unsigned long *misses_r, long *entries_r)
{
	*hits_r = c->hits;
	*misses_r = c->misses;
	*entries_r = c->entries;
}

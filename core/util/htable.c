/* SPDX-License-Identifier: MIT */
/* htable - string-keyed hash table (see htable.h). */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "mymalloc.h"

unsigned long
htable_hash(const char *key, size_t size)
{
	unsigned long h = 14695981039346656037UL;	/* FNV-1a */

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211UL;
	}
	return h % size;
}

struct htable *
htable_create(size_t size_hint)
{
	struct htable *ht = xmalloc(sizeof(*ht));

	ht->size = size_hint < 13 ? 13 : size_hint | 1;
	ht->used = 0;
	ht->bucket = xcalloc(ht->size, sizeof(*ht->bucket));
	return ht;
}

static void
htable_grow(struct htable *ht)
{
	size_t nsize = ht->size * 2 + 1;
	struct htable_entry **nb = xcalloc(nsize, sizeof(*nb));

	for (size_t i = 0; i < ht->size; i++) {
		struct htable_entry *e, *next;

		for (e = ht->bucket[i]; e; e = next) {
			unsigned long h = htable_hash(e->key, nsize);

			next = e->next;
			e->next = nb[h];
			nb[h] = e;
		}
	}
	free(ht->bucket);
	ht->bucket = nb;
	ht->size = nsize;
}

struct htable_entry *
htable_enter(struct htable *ht, const char *key, void *value)
{
	struct htable_entry *e;
	unsigned long h;

	if (ht->used >= ht->size)
		htable_grow(ht);
	h = htable_hash(key, ht->size);
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->value = value;
	e->next = ht->bucket[h];
	ht->bucket[h] = e;
	ht->used++;
	return e;
}

struct htable_entry *
htable_locate(const struct htable *ht, const char *key)
{
	struct htable_entry *e;

	for (e = ht->bucket[htable_hash(key, ht->size)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

void *
htable_find(const struct htable *ht, const char *key)
{
	struct htable_entry *e = htable_locate(ht, key);

	return e ? e->value : NULL;
}

void
htable_delete(struct htable *ht, const char *key, void (*free_fn)(void *))
{
	struct htable_entry **pp, *e;

	for (pp = &ht->bucket[htable_hash(key, ht->size)]; (e = *pp) != NULL;
	    pp = &e->next) {
		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			if (free_fn)
				free_fn(e->value);
			free(e->key);
			free(e);
			ht->used--;
			return;
		}
	}
}

void
htable_free(struct htable **htp, void (*free_fn)(void *))
{
	struct htable *ht = *htp;

	if (ht == NULL)
		return;
	for (size_t i = 0; i < ht->size; i++) {
		struct htable_entry *e, *next;

		for (e = ht->bucket[i]; e; e = next) {
			next = e->next;
			if (free_fn)
				free_fn(e->value);
			free(e->key);
			free(e);
		}
	}
	free(ht->bucket);
	free(ht);
	*htp = NULL;
}

struct htable_entry **
htable_list(const struct htable *ht)
{
	struct htable_entry **list = xcalloc(ht->used + 1, sizeof(*list));
	size_t n = 0;

	for (size_t i = 0; i < ht->size; i++)
		for (struct htable_entry *e = ht->bucket[i]; e; e = e->next)
			list[n++] = e;
	list[n] = NULL;
	return list;
}

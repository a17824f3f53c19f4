/* SPDX-License-Identifier: MIT */
/* htable - string-keyed hash table with chaining.
 *
 * Keys are copied; values are caller-owned pointers.  Iteration order is
 * unspecified; htable_list() returns a NULL-terminated array (free it). */
#ifndef POSTINO_UTIL_HTABLE_H
#define POSTINO_UTIL_HTABLE_H

#include <stddef.h>

struct htable_entry {
	char *key;
	void *value;
	struct htable_entry *next;
};

struct htable {
	size_t size;		/* number of buckets */
	size_t used;		/* number of entries */
	struct htable_entry **bucket;
};

struct htable *htable_create(size_t size_hint);
/* htable_enter - add key (must not exist); returns the new entry. */
struct htable_entry *htable_enter(struct htable *ht, const char *key, void *value);
struct htable_entry *htable_locate(const struct htable *ht, const char *key);
void *htable_find(const struct htable *ht, const char *key);
/* htable_delete - remove key; free_fn(value) if given. */
void htable_delete(struct htable *ht, const char *key, void (*free_fn)(void *));
void htable_free(struct htable **htp, void (*free_fn)(void *));
struct htable_entry **htable_list(const struct htable *ht);
unsigned long htable_hash(const char *key, size_t size);

#endif

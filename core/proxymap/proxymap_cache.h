/* SPDX-License-Identifier: MIT */
/* proxymap_cache - the lookup service's result cache of one table.
 *
 * Definite answers (found with a value, not found) are kept with an
 * expiry time each; at most max_entries, the least recently used going
 * first.  Temporary errors are never kept.  The caller passes the time
 * (monotonic seconds), so that tests need no clock. */
#ifndef POSTINO_PROXYMAP_CACHE_H
#define POSTINO_PROXYMAP_CACHE_H

#include "map.h"

struct pm_cache;

/* pm_cache_new - an empty cache of at most max_entries (<= 0: 10000). */
struct pm_cache *pm_cache_new(long max_entries);
void pm_cache_free(struct pm_cache **cp);

/* pm_cache_get - a fresh answer for key: 1 (hit: *st_r, and *value_r
 * for MAP_FOUND, valid until the next pm_cache_put), or 0 (miss; an
 * expired entry is dropped).  Counts hits and misses. */
int pm_cache_get(struct pm_cache *c, const char *key, double now,
    enum map_status *st_r, const char **value_r);

/* pm_cache_put - keep the answer for ttl seconds (ttl <= 0 or
 * MAP_TEMPFAIL: nothing is kept). */
void pm_cache_put(struct pm_cache *c, const char *key, enum map_status st,
    const char *value, long ttl, double now);

/* pm_cache_stats - the counters and the number of entries. */
void pm_cache_stats(const struct pm_cache *c, unsigned long *hits_r,
    unsigned long *misses_r, long *entries_r);

#endif

/* SPDX-License-Identifier: MIT */
/* test_proxymap_cache - the lookup service's result cache
 * (core/proxymap/proxymap_cache.c): found and not-found answers with
 * their TTLs, temporary errors never kept, the size bound (least recently
 * used first), the counters.  Time is passed in: no sleeping. */
#include "postino_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map.h"
#include "unit.h"

#include "proxymap_cache.h"

static void
expect_hit(struct pm_cache *c, const char *key, double now,
    enum map_status want, const char *value)
{
	enum map_status st;
	const char *v = NULL;

	if (!pm_cache_get(c, key, now, &st, &v))
		UNIT_FAILF("%s: miss, expected a hit", key);
	assert_int_equal(st, want);
	if (value)
		assert_string_equal(v, value);
}

static void
expect_miss(struct pm_cache *c, const char *key, double now)
{
	enum map_status st;
	const char *v = NULL;

	if (pm_cache_get(c, key, now, &st, &v))
		UNIT_FAILF("%s: hit, expected a miss", key);
}

static void
test_answers_and_ttl(void **state)
{
	struct pm_cache *c = pm_cache_new(100);
	unsigned long hits, misses;
	long entries;

	(void)state;
	expect_miss(c, "u1", 0);
	pm_cache_put(c, "u1", MAP_FOUND, "V:u1", 60, 0);
	pm_cache_put(c, "x1", MAP_NOTFOUND, NULL, 10, 0);
	pm_cache_put(c, "t1", MAP_TEMPFAIL, NULL, 60, 0);	/* never kept */
	pm_cache_put(c, "n1", MAP_NOTFOUND, NULL, 0, 0);	/* TTL 0: off */
	expect_hit(c, "u1", 1, MAP_FOUND, "V:u1");
	expect_hit(c, "x1", 9.9, MAP_NOTFOUND, NULL);
	expect_miss(c, "t1", 1);
	expect_miss(c, "n1", 1);
	expect_miss(c, "x1", 10.0);		/* expired: dropped */
	expect_hit(c, "u1", 59.9, MAP_FOUND, "V:u1");
	expect_miss(c, "u1", 60.0);
	/* A new answer replaces the old one. */
	pm_cache_put(c, "u1", MAP_FOUND, "V:new", 60, 100);
	expect_hit(c, "u1", 101, MAP_FOUND, "V:new");
	pm_cache_stats(c, &hits, &misses, &entries);
	assert_int_equal(hits, 4);
	assert_int_equal(misses, 5);
	assert_int_equal(entries, 1);
	pm_cache_free(&c);
	assert_null(c);
}

static void
test_size_bound_lru(void **state)
{
	struct pm_cache *c = pm_cache_new(3);
	unsigned long hits, misses;
	long entries;

	(void)state;
	pm_cache_put(c, "u1", MAP_FOUND, "1", 60, 0);
	pm_cache_put(c, "x1", MAP_NOTFOUND, NULL, 60, 0);
	pm_cache_put(c, "u2", MAP_FOUND, "2", 60, 0);
	expect_hit(c, "u1", 1, MAP_FOUND, "1");	/* x1 is now the oldest */
	pm_cache_put(c, "u3", MAP_FOUND, "3", 60, 1);
	expect_miss(c, "x1", 2);
	expect_hit(c, "u1", 2, MAP_FOUND, "1");
	expect_hit(c, "u2", 2, MAP_FOUND, "2");
	expect_hit(c, "u3", 2, MAP_FOUND, "3");
	pm_cache_stats(c, &hits, &misses, &entries);
	assert_int_equal(entries, 3);
	pm_cache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_and_ttl),
		cmocka_unit_test(test_size_bound_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* test_map_cache - the map layer's support for blocking tables: the
 * result cache (TTL, negative entries, size bound, never a temporary
 * error, counters in the log), map_any_blocking(), and threaded use
 * (per-thread values, the release/reacquire hooks around a blocking
 * driver call).  A fake driver stands in for ldap:/mysql:; it counts its
 * calls and can be switched to "server down". */
#include "postino_config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "map.h"
#include "map_driver.h"
#include "msg.h"
#include "mymalloc.h"
#include "unit.h"

/* The fake server: keys starting with "u" exist (value "V:" + key). */
static int fake_calls;
static int fake_down;
static char fake_value[256];

static enum map_status
fake_lookup(struct map *map, const char *key, const char **value_r)
{
	fake_calls++;
	if (fake_down) {
		map_set_reason(map, "server down");
		return MAP_TEMPFAIL;
	}
	if (key[0] != 'u')
		return MAP_NOTFOUND;
	snprintf(fake_value, sizeof(fake_value), "V:%s", key);
	*value_r = fake_value;
	return MAP_FOUND;
}

static void
fake_close(struct map *map)
{
	map_free_base(map);
}

static const struct map_driver fake_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "fake",
	.caps = MAP_CAP_FIXED | MAP_CAP_BLOCKING,
};

static const struct map_driver fake_plain_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "plain",
	.caps = MAP_CAP_FIXED,
};

static struct map *
fake_open(const struct map_driver *drv, const char *name)
{
	struct map *map = map_alloc(sizeof(*map), drv, name, O_RDONLY,
	    MAP_FLAGS_DEFAULT);

	map->lookup = fake_lookup;
	map->close = fake_close;
	return map;
}

/* expect - one lookup and the number of driver calls it may make. */
static void
expect(struct map *map, const char *key, enum map_status want,
    const char *value, int calls)
{
	const char *v = NULL;
	int before = fake_calls;
	enum map_status st = map_lookup(map, key, &v);

	if (st != want)
		UNIT_FAILF("key %s: status %d, expected %d (%s)", key, st, want,
		    map_reason(map));
	if (want == MAP_FOUND && strcmp(v, value) != 0)
		UNIT_FAILF("key %s: \"%s\", expected \"%s\"", key, v, value);
	if (want != MAP_FOUND && v != NULL)
		UNIT_FAILF("key %s: a value without MAP_FOUND", key);
	if (fake_calls - before != calls)
		UNIT_FAILF("key %s: %d driver calls, expected %d", key,
		    fake_calls - before, calls);
}

static void
test_any_blocking(void **state)
{
	struct map *plain, *blocking;

	(void)state;
	plain = fake_open(&fake_plain_driver, "p");
	assert_int_equal(map_any_blocking(), 0);
	blocking = fake_open(&fake_driver, "b");
	assert_int_equal(map_any_blocking(), 1);
	map_close(&blocking);
	assert_int_equal(map_any_blocking(), 0);
	map_close(&plain);
}

static void
test_cache_off_by_default(void **state)
{
	struct map *map = fake_open(&fake_driver, "off");

	(void)state;
	fake_down = 0;
	expect(map, "u1", MAP_FOUND, "V:u1", 1);
	expect(map, "u1", MAP_FOUND, "V:u1", 1);
	fake_down = 1;
	expect(map, "u1", MAP_TEMPFAIL, NULL, 1);
	assert_string_equal(map_reason(map), "server down");
	map_close(&map);
}

static void
test_cache(void **state)
{
	struct map *map, *plain;

	(void)state;
	map_cache_configure(60, 60, 3);
	map = fake_open(&fake_driver, "on");
	plain = fake_open(&fake_plain_driver, "plain");
	fake_down = 0;
	expect(map, "u1", MAP_FOUND, "V:u1", 1);
	expect(map, "U1", MAP_FOUND, "V:u1", 0);	/* folded, then cached */
	expect(map, "x1", MAP_NOTFOUND, NULL, 1);
	expect(map, "x1", MAP_NOTFOUND, NULL, 0);	/* negative entry */
	/* Non-blocking tables are never cached. */
	expect(plain, "u1", MAP_FOUND, "V:u1", 1);
	expect(plain, "u1", MAP_FOUND, "V:u1", 1);

	/* The server goes away: cached keys still answer, others fail, and
	 * failures are not remembered. */
	fake_down = 1;
	expect(map, "u1", MAP_FOUND, "V:u1", 0);
	expect(map, "x1", MAP_NOTFOUND, NULL, 0);
	expect(map, "u2", MAP_TEMPFAIL, NULL, 1);
	expect(map, "u2", MAP_TEMPFAIL, NULL, 1);
	fake_down = 0;
	expect(map, "u2", MAP_FOUND, "V:u2", 1);

	/* Size bound 3: u1, x1, u2 are in; u3 pushes out the least recently
	 * used (x1, since u1 and u2 were used after it). */
	expect(map, "u1", MAP_FOUND, "V:u1", 0);
	expect(map, "u3", MAP_FOUND, "V:u3", 1);
	expect(map, "u1", MAP_FOUND, "V:u1", 0);
	expect(map, "x1", MAP_NOTFOUND, NULL, 1);

	/* Counters. */
	unit_capture_start();
	map_cache_log();
	unit_capture_stop();
	if (unit_captured(-1, "statistics: table fake:on: cache hits=6 misses=7 entries=3") != 1)
		UNIT_FAILF("no or wrong statistics line");
	if (unit_captured(-1, "plain") != 0)
		UNIT_FAILF("statistics for a table without a cache");
	map_close(&map);
	map_close(&plain);
	map_cache_configure(0, 0, 0);
}

static void
test_cache_ttl(void **state)
{
	struct map *map;

	(void)state;
	map_cache_configure(1, 0, 100);		/* no negative caching */
	map = fake_open(&fake_driver, "ttl");
	fake_down = 0;
	expect(map, "u1", MAP_FOUND, "V:u1", 1);
	expect(map, "u1", MAP_FOUND, "V:u1", 0);
	expect(map, "x1", MAP_NOTFOUND, NULL, 1);
	expect(map, "x1", MAP_NOTFOUND, NULL, 1);
	usleep(1100 * 1000);			/* past the 1 s TTL */
	expect(map, "u1", MAP_FOUND, "V:u1", 1);
	map_close(&map);
	map_cache_configure(0, 0, 0);
}

/* Threaded use. */
static int hook_released, hook_reacquired;

static void
hook_release(void)
{
	hook_released++;
}

static void
hook_reacquire(void)
{
	hook_reacquired++;
}

struct thread_arg {
	struct map *map;
	const char *key;
	const char *value;	/* what map_lookup returned */
	char copy[64];		/* its content right after the lookup */
};

static void *
lookup_thread(void *p)
{
	struct thread_arg *a = p;

	if (map_lookup(a->map, a->key, &a->value) == MAP_FOUND)
		snprintf(a->copy, sizeof(a->copy), "%s", a->value);
	return NULL;
}

static void
test_threaded(void **state)
{
	struct map *map, *plain;
	struct thread_arg a = {0}, b = {0};
	pthread_t t;
	const char *mine = NULL;

	(void)state;
	map_set_threaded(hook_release, hook_reacquire);
	map = fake_open(&fake_driver, "thr");
	plain = fake_open(&fake_plain_driver, "thr-plain");
	fake_down = 0;
	assert_int_equal(map_lookup(map, "u-main", &mine), MAP_FOUND);
	assert_int_equal(hook_released, 1);
	assert_int_equal(hook_reacquired, 1);
	/* A non-blocking table does not call the hooks. */
	assert_int_equal(map_lookup(plain, "u-p", &b.value), MAP_FOUND);
	assert_int_equal(hook_released, 1);

	/* Values are per thread: another thread's lookup in the same table
	 * leaves ours alone (the fake driver has one value buffer). */
	a.map = map;
	a.key = "u-other";
	assert_int_equal(pthread_create(&t, NULL, lookup_thread, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(a.copy, "V:u-other");
	assert_string_equal(mine, "V:u-main");

	/* So are reasons. */
	fake_down = 1;
	assert_int_equal(map_lookup(map, "u-x", &mine), MAP_TEMPFAIL);
	fake_down = 0;
	a.key = "u-ok";
	assert_int_equal(pthread_create(&t, NULL, lookup_thread, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(map_reason(map), "server down");
	map_close(&map);
	map_close(&plain);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_blocking),
		cmocka_unit_test(test_cache_off_by_default),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_ttl),
		/* Last: threaded mode cannot be turned off. */
		cmocka_unit_test(test_threaded),
	};

	msg_init("test_map_cache", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

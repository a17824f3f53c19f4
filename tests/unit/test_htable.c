/* SPDX-License-Identifier: MIT */
/* test_htable - string-keyed hash table: enter, find, grow, delete,
 * list, free with a value destructor. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "htable.h"
#include "mymalloc.h"
#include "unit.h"

static int freed;

static void
count_free(void *value)
{
	freed++;
	free(value);
}

static void
test_basic(void **state)
{
	struct htable *ht = htable_create(0);
	char key[16];
	int one = 1, two = 2;

	assert_int_equal(ht->used, 0);
	assert_null(htable_find(ht, "a"));
	assert_null(htable_locate(ht, ""));
	/* Keys are copied: changing the caller's buffer changes nothing. */
	snprintf(key, sizeof(key), "alpha");
	assert_non_null(htable_enter(ht, key, &one));
	key[0] = 'X';
	assert_ptr_equal(htable_find(ht, "alpha"), &one);
	assert_null(htable_find(ht, "Xlpha"));
	/* Case matters; the empty key is a key. */
	assert_null(htable_find(ht, "ALPHA"));
	htable_enter(ht, "", &two);
	assert_ptr_equal(htable_find(ht, ""), &two);
	assert_string_equal(htable_locate(ht, "")->key, "");
	assert_int_equal(ht->used, 2);
	/* Deleting a missing key is a no-op. */
	htable_delete(ht, "nothere", NULL);
	assert_int_equal(ht->used, 2);
	htable_delete(ht, "alpha", NULL);
	assert_null(htable_find(ht, "alpha"));
	assert_int_equal(ht->used, 1);
	htable_free(&ht, NULL);
	assert_null(ht);
	htable_free(&ht, NULL);
}

/* Many keys force several grows; all stay findable, values intact. */
static void
test_grow_and_list(void **state)
{
	enum { N = 5000 };
	struct htable *ht = htable_create(13);
	struct htable_entry **list;
	char key[32];
	size_t n;
	char *seen;

	for (int i = 0; i < N; i++) {
		int *v = xmalloc(sizeof(*v));

		*v = i;
		snprintf(key, sizeof(key), "key-%d", i);
		htable_enter(ht, key, v);
	}
	assert_int_equal(ht->used, N);
	assert_true(ht->size >= 13);
	for (int i = 0; i < N; i++) {
		int *v;

		snprintf(key, sizeof(key), "key-%d", i);
		if ((v = htable_find(ht, key)) == NULL || *v != i)
			UNIT_FAILF("key %s lost after growing", key);
	}
	list = htable_list(ht);
	seen = xcalloc(N, 1);
	for (n = 0; list[n]; n++) {
		int v = *(int *)list[n]->value;

		assert_true(v >= 0 && v < N);
		if (seen[v]++)
			UNIT_FAILF("entry %d listed twice", v);
	}
	assert_int_equal(n, N);
	free(seen);
	free(list);
	/* Delete every other key with the destructor. */
	freed = 0;
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "key-%d", i);
		htable_delete(ht, key, count_free);
	}
	assert_int_equal(freed, N / 2);
	assert_int_equal(ht->used, N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		if ((htable_find(ht, key) != NULL) != (i % 2 == 1))
			UNIT_FAILF("key %s: wrong presence after deletes", key);
	}
	freed = 0;
	htable_free(&ht, count_free);
	assert_int_equal(freed, N / 2);
}

static void
test_hash_range(void **state)
{
	static const char *keys[] = {"", "a", "b", "ab", "ba", "\xff\xfe"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		for (size_t size = 1; size < 50; size += 7)
			assert_true(htable_hash(keys[i], size) < size);
		/* Deterministic. */
		assert_int_equal(htable_hash(keys[i], 101), htable_hash(keys[i], 101));
	}
	assert_int_not_equal(htable_hash("ab", 1000003), htable_hash("ba", 1000003));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_grow_and_list),
		cmocka_unit_test(test_hash_range),
	};

	return cmocka_run_group_tests_name("htable", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* test_map - the rules every table shares (core/util/map.c): "type:name"
 * splitting, open errors, surrogates, case folding, key-length limits,
 * the empty-result warning, the explain trace and proxy: pass-through. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "unit.h"

static void
test_split_type(void **state)
{
	static const struct {
		const char *in;
		const char *def;
		int rc;
		const char *type;
		const char *name;
	} cases[] = {
		{"hash:/etc/x", NULL, 0, "hash", "/etc/x"},
		{"proxy:hash:/etc/x", NULL, 0, "proxy", "hash:/etc/x"},
		{"tcp:host:port", NULL, 0, "tcp", "host:port"},
		{"inline:{a=b}", NULL, 0, "inline", "{a=b}"},
		{"static:{ a:b }", NULL, 0, "static", "{ a:b }"},
		{"/etc/x", "hash", 0, "hash", "/etc/x"},
		{"/etc/a:b", "hash", 0, "hash", "/etc/a:b"},
		{"./rel:x", "hash", 0, "hash", "./rel:x"},
		{"x", "lmdb", 0, "lmdb", "x"},
		{"x", NULL, -1, NULL, NULL},
		{"/etc/a:b", NULL, -1, NULL, NULL},
		{":x", NULL, -1, NULL, NULL},
		{":x", "hash", -1, NULL, NULL},
		{"hash:", NULL, -1, NULL, NULL},
		{"hash:", "hash", -1, NULL, NULL},
		{"", "hash", -1, NULL, NULL},
		{"", NULL, -1, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *type = NULL, *name = NULL;
		int rc = map_split_type(cases[i].in, cases[i].def, &type, &name);

		if (rc != cases[i].rc)
			UNIT_FAILF("case %zu (\"%s\"): rc %d", i, cases[i].in, rc);
		if (rc == 0) {
			if (strcmp(type, cases[i].type) != 0
			    || strcmp(name, cases[i].name) != 0)
				UNIT_FAILF("case %zu: \"%s\" + \"%s\"", i, type, name);
		} else if (type != NULL || name != NULL) {
			UNIT_FAILF("case %zu: results left set on error", i);
		}
		free(type);
		free(name);
	}
}

/* map_open errors: table of (spec, open flags, expected error text). */
static void
test_open_errors(void **state)
{
	static const struct {
		const char *spec;
		int oflags;
		const char *err;
	} cases[] = {
		{"nosuchtype:/x", O_RDONLY, "unsupported table type \"nosuchtype\""},
		{"nocolon", O_RDONLY, "table name \"nocolon\" is not in type:name form"},
		{":x", O_RDONLY, "is not in type:name form"},
		{"static:", O_RDONLY, "is not in type:name form"},
		{"static:{ a", O_RDONLY, "missing '}'"},
		{"static:x", O_RDWR | O_CREAT, "unsupported operation: cannot create or update static:x"},
		{"texthash:/nonexistent/file", O_RDONLY, "open /nonexistent/file: No such file or directory"},
		{"proxy:texthash:/x", O_RDWR | O_CREAT, "can't create maps via the proxy service"},
		{"proxy:nosuchtype:x", O_RDONLY, "unsupported table type \"nosuchtype\""},
		{"proxy:x", O_RDONLY, "is not in type:name form"},
	};

	unit_capture_start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		struct map *map = map_open(cases[i].spec, cases[i].oflags,
		    MAP_FLAGS_DEFAULT, &err);

		if (map != NULL)
			UNIT_FAILF("case %zu (%s): opened", i, cases[i].spec);
		if (err == NULL || strstr(err, cases[i].err) == NULL)
			UNIT_FAILF("case %zu (%s): error \"%s\", expected \"%s\"", i,
			    cases[i].spec, err ? err : "(null)", cases[i].err);
		if (strchr(err, '\n') != NULL)
			UNIT_FAILF("case %zu: error is not one line", i);
		free(err);
	}
	/* Without MAP_FLAG_SURROGATE nothing is logged: the caller reports. */
	assert_int_equal(unit_capture_count(), 0);
	unit_capture_stop();
}

/* A table that cannot be opened, in daemon mode: a surrogate. */
static void
test_surrogate(void **state)
{
	static const char *specs[] = {
		"nosuchtype:/x", "texthash:/nonexistent/file", "nocolon",
		"proxy:nosuchtype:y",
	};

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char *err = NULL;
		struct map *map;
		const char *value = "x", *k, *v;

		unit_capture_start();
		map = map_open(specs[i], O_RDONLY,
		    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE, &err);
		if (map == NULL)
			UNIT_FAILF("%s: no surrogate", specs[i]);
		assert_null(err);
		/* The open error is logged once, as an error. */
		if (unit_capture_count() != 1 || unit_captured(MSG_ERROR, "") != 1)
			UNIT_FAILF("%s: open error not logged once", specs[i]);
		unit_capture_start();
		for (int n = 0; n < 3; n++) {
			assert_int_equal(map_lookup(map, "key", &value), MAP_TEMPFAIL);
			assert_null(value);
			assert_true(strlen(map_reason(map)) > 0);
		}
		/* Each access warns, naming the key and the reason. */
		if (unit_captured(MSG_WARN, "lookup error for \"key\"") != 3)
			UNIT_FAILF("%s: lookups not warned about", specs[i]);
		if (unit_captured(MSG_WARN, map_reason(map)) != 3)
			UNIT_FAILF("%s: reason \"%s\" not in the warning", specs[i],
			    map_reason(map));
		assert_int_equal(map_update(map, "k", "v"), -1);
		assert_int_equal(map_delete(map, "k"), MAP_TEMPFAIL);
		assert_int_equal(map_sequence(map, MAP_SEQ_FIRST, &k, &v),
		    MAP_TEMPFAIL);
		unit_capture_stop();
		map_close(&map);
		assert_null(map);
	}
}

/* The surrogate's reason is the open error. */
static void
test_surrogate_reason(void **state)
{
	const char *value;
	struct map *map;
	char *err = NULL;

	unit_capture_start();
	map = map_open("texthash:/nonexistent/file", O_RDONLY,
	    MAP_FLAG_SURROGATE, &err);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "a", &value), MAP_TEMPFAIL);
	assert_non_null(strstr(map_reason(map), "open /nonexistent/file"));
	assert_int_equal(unit_captured(MSG_ERROR, "open /nonexistent/file"), 1);
	unit_capture_stop();
	map_close(&map);
}

/* Folding: only fixed tables, only with FOLD_FIX (or FOLD_ANY). */
static void
test_folding(void **state)
{
	char *path = unit_write_file("fold.txt", "MixedKey value\nlower LowerValue\n",
	    (size_t)-1);
	char *texthash = concatenate("texthash:", path, (char *)0);
	char *cidr_path = unit_write_file("fold.cidr", "fe80::/16 LINKLOCAL\n",
	    (size_t)-1);
	char *cidr = concatenate("cidr:", cidr_path, (char *)0);
	static const struct {
		int which;	/* 0: texthash, 1: inline, 2: cidr */
		int flags;
		const char *key;
		enum map_status st;
		const char *value;
		int folded;	/* explain mentions folding */
	} cases[] = {
		{0, MAP_FLAG_FOLD_FIX, "MIXEDKEY", MAP_FOUND, "value", 1},
		{0, MAP_FLAG_FOLD_FIX, "mixedkey", MAP_FOUND, "value", 0},
		{0, MAP_FLAG_FOLD_FIX, "LOWER", MAP_FOUND, "LowerValue", 1},
		{0, 0, "MixedKey", MAP_FOUND, "value", 0},
		{0, 0, "mixedkey", MAP_NOTFOUND, NULL, 0},
		{0, 0, "LOWER", MAP_NOTFOUND, NULL, 0},
		{1, MAP_FLAG_FOLD_FIX, "KEY", MAP_FOUND, "Val", 1},
		{1, 0, "KEY", MAP_NOTFOUND, NULL, 0},
		{1, 0, "Key", MAP_FOUND, "Val", 0},
		{1, MAP_FLAG_FOLD_ANY, "KEY", MAP_FOUND, "Val", 1},
		/* A pattern table never sees a folded key with FOLD_FIX... */
		{2, MAP_FLAG_FOLD_FIX, "FE80::1", MAP_FOUND, "LINKLOCAL", 0},
		/* ...but does with FOLD_ANY. */
		{2, MAP_FLAG_FOLD_ANY, "FE80::1", MAP_FOUND, "LINKLOCAL", 1},
	};
	const char *specs[] = {texthash, "inline:{Key=Val}", cidr};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		struct map *map = map_open(specs[cases[i].which], O_RDONLY,
		    cases[i].flags | MAP_FLAG_EXPLAIN, &err);
		const char *value;
		enum map_status st;

		if (map == NULL)
			UNIT_FAILF("case %zu: open: %s", i, err);
		st = map_lookup(map, cases[i].key, &value);
		if (st != cases[i].st)
			UNIT_FAILF("case %zu: status %d, expected %d (trace: %s)", i,
			    st, cases[i].st, map_explain_text(map));
		if (st == MAP_FOUND)
			assert_string_equal(value, cases[i].value);
		if ((strstr(map_explain_text(map), "folded to") != NULL)
		    != cases[i].folded)
			UNIT_FAILF("case %zu: trace \"%s\"", i, map_explain_text(map));
		/* The pattern table got the key as given, in the trace too. */
		if (cases[i].which == 2 && !cases[i].folded)
			assert_non_null(strstr(map_explain_text(map), "\"FE80::1\""));
		map_close(&map);
	}
	free(path);
	free(texthash);
	free(cidr_path);
	free(cidr);
}

/* Key-length limits: 4096 bytes for fixed tables, 1 MiB for patterns. */
static void
test_key_limit(void **state)
{
	char *key = xmalloc(MAP_PATTERN_KEY_MAX + 2);
	struct map *fixed, *pattern;
	const char *value;
	char *err = NULL;

	assert_non_null(fixed = map_open("static:found", O_RDONLY,
	    MAP_FLAGS_DEFAULT, &err));
	assert_non_null(pattern = map_open("cidr:{ {0.0.0.0/0 any} }", O_RDONLY,
	    MAP_FLAGS_DEFAULT, &err));
	unit_capture_start();

	memset(key, 'a', MAP_FIXED_KEY_MAX);
	key[MAP_FIXED_KEY_MAX] = 0;
	assert_int_equal(map_lookup(fixed, key, &value), MAP_FOUND);
	assert_int_equal(unit_capture_count(), 0);

	key[MAP_FIXED_KEY_MAX] = 'a';
	key[MAP_FIXED_KEY_MAX + 1] = 0;
	assert_int_equal(map_lookup(fixed, key, &value), MAP_NOTFOUND);
	assert_null(value);
	assert_int_equal(unit_captured(MSG_WARN, "key of 4097 bytes exceeds the 4096-byte limit"), 1);
	assert_int_equal(unit_captured(MSG_WARN, "static:found"), 1);

	/* The same key is fine for a pattern table (not an address, though). */
	unit_capture_start();
	assert_int_equal(map_lookup(pattern, key, &value), MAP_NOTFOUND);
	assert_int_equal(unit_capture_count(), 0);

	memset(key, '1', MAP_PATTERN_KEY_MAX + 1);
	key[MAP_PATTERN_KEY_MAX + 1] = 0;
	assert_int_equal(map_lookup(pattern, key, &value), MAP_NOTFOUND);
	assert_int_equal(unit_captured(MSG_WARN, "exceeds the 1048576-byte limit"), 1);

	/* Updates of over-long keys fail with a reason. */
	assert_int_equal(map_update(fixed, key, "v"), -1);
	assert_true(strlen(map_reason(fixed)) > 0);
	unit_capture_stop();
	map_close(&fixed);
	map_close(&pattern);
	free(key);
}

/* An empty result is a configuration error with PARANOID (a temporary
 * error for daemons); postmap -q (EMPTY_OK) warns and prints it. */
static void
test_empty_result(void **state)
{
	static const struct {
		const char *spec;
		int flags;
		int warnings;
		enum map_status status;
	} cases[] = {
		{"inline:{a=}", MAP_FLAGS_DEFAULT, 2, MAP_TEMPFAIL},
		{"static:{ }", MAP_FLAGS_DEFAULT, 2, MAP_TEMPFAIL},
		{"inline:{a=}", MAP_FLAGS_DEFAULT | MAP_FLAG_EMPTY_OK, 2, MAP_FOUND},
		{"inline:{a=}", MAP_FLAG_FOLD_FIX, 0, MAP_FOUND},
		{"inline:{a=x}", MAP_FLAGS_DEFAULT, 0, MAP_FOUND},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		struct map *map = map_open(cases[i].spec, O_RDONLY, cases[i].flags,
		    &err);
		const char *value;

		if (map == NULL)
			UNIT_FAILF("case %zu: %s", i, err);
		unit_capture_start();
		assert_int_equal(map_lookup(map, "a", &value), cases[i].status);
		if (unit_capture_count() != cases[i].warnings)
			UNIT_FAILF("case %zu: %d warnings", i, unit_capture_count());
		if (cases[i].warnings) {
			assert_int_equal(unit_captured(MSG_WARN,
			    "key a: empty string result is not allowed"), 1);
			assert_int_equal(unit_captured(MSG_WARN,
			    "should return NO RESULT in case of NOT FOUND"), 1);
		}
		unit_capture_stop();
		map_close(&map);
	}
}

/* The explain trace: only with the flag, reset on request. */
static void
test_explain(void **state)
{
	char *err = NULL;
	struct map *map;
	const char *value;

	map = map_open("inline:{a=1, b=2}", O_RDONLY, MAP_FLAGS_DEFAULT, &err);
	assert_int_equal(map_lookup(map, "a", &value), MAP_FOUND);
	assert_string_equal(map_explain_text(map), "");
	map_close(&map);

	map = map_open("inline:{a=1, b=2}", O_RDONLY,
	    MAP_FLAGS_DEFAULT | MAP_FLAG_EXPLAIN, &err);
	assert_int_equal(map_lookup(map, "A", &value), MAP_FOUND);
	assert_int_equal(map_lookup(map, "c", &value), MAP_NOTFOUND);
	{
		const char *t = map_explain_text(map);
		const char *fold = strstr(t, "inline:{a=1, b=2}: key \"A\" folded to \"a\"");
		const char *found = strstr(t, "inline:{a=1, b=2}: \"a\" found: \"1\"");
		const char *nf = strstr(t, "inline:{a=1, b=2}: \"c\" not found");

		if (!fold || !found || !nf || !(fold < found && found < nf))
			UNIT_FAILF("trace: %s", t);
	}
	map_explain_reset(map);
	assert_string_equal(map_explain_text(map), "");
	map_close(&map);

	map = map_open("fail:x", O_RDONLY, MAP_FLAG_EXPLAIN, &err);
	assert_int_equal(map_lookup(map, "k", &value), MAP_TEMPFAIL);
	assert_non_null(strstr(map_explain_text(map), "fail:x: \"k\" temporary error:"));
	map_close(&map);
}

/* proxy: passes through to the inner table for reading. */
static void
test_proxy(void **state)
{
	char *path = unit_write_file("proxy.txt", "k v\n", (size_t)-1);
	char *spec = concatenate("proxy:texthash:", path, (char *)0);
	char *err = NULL;
	struct map *map;
	const char *value;

	map = map_open("proxy:static:hello", O_RDONLY, MAP_FLAGS_DEFAULT, &err);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "anything", &value), MAP_FOUND);
	assert_string_equal(value, "hello");
	assert_string_equal(map->type, "static");
	map_close(&map);

	map = map_open(spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "K", &value), MAP_FOUND);
	assert_string_equal(value, "v");
	assert_int_equal(map_lookup(map, "x", &value), MAP_NOTFOUND);
	map_close(&map);

	/* Refused for writing, also as O_RDWR|O_CREAT|O_TRUNC. */
	assert_null(map_open(spec, O_RDWR | O_CREAT | O_TRUNC, MAP_FLAGS_DEFAULT,
	    &err));
	assert_non_null(strstr(err, "can't create maps via the proxy service"));
	free(err);
	free(spec);
	free(path);
}

/* Unsupported operations on a read-only table fail with a reason. */
static void
test_unsupported_ops(void **state)
{
	char *err = NULL;
	struct map *map = map_open("static:x", O_RDONLY, 0, &err);
	const char *k, *v;

	assert_int_equal(map_update(map, "a", "b"), -1);
	assert_non_null(strstr(map_reason(map), "does not support updates"));
	assert_int_equal(map_delete(map, "a"), MAP_TEMPFAIL);
	assert_non_null(strstr(map_reason(map), "does not support deletes"));
	assert_int_equal(map_sequence(map, MAP_SEQ_FIRST, &k, &v), MAP_TEMPFAIL);
	assert_non_null(strstr(map_reason(map), "does not support sequencing"));
	/* A lookup clears the previous reason. */
	assert_int_equal(map_lookup(map, "a", &v), MAP_FOUND);
	assert_string_equal(map_reason(map), "");
	assert_int_equal(map_commit(map), 0);
	map_close(&map);
}

static void
test_type_list(void **state)
{
	static const char *want[] = {"cidr", "fail", "inline", "nis", "proxy",
	    "static", "texthash", "unix"};
	const char **list = map_type_list();
	size_t n;

	for (n = 0; list[n]; n++)
		if (n > 0 && strcmp(list[n - 1], list[n]) > 0)
			UNIT_FAILF("not sorted: %s before %s", list[n - 1], list[n]);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t j;

		for (j = 0; j < n && strcmp(list[j], want[i]) != 0; j++)
			;
		if (j == n)
			UNIT_FAILF("type %s not listed", want[i]);
	}
	free(list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_type),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_surrogate),
		cmocka_unit_test(test_surrogate_reason),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_key_limit),
		cmocka_unit_test(test_empty_result),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_unsupported_ops),
		cmocka_unit_test(test_type_list),
	};

	return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}

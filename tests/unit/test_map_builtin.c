/* SPDX-License-Identifier: MIT */
/* test_map_builtin - the built-in table types other than cidr: static,
 * inline, texthash, fail, nis and unix. */
#include "postino_config.h"

#include <fcntl.h>
#include <pwd.h>
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

/* A lookup case: key, expected status and value. */
struct lookup {
	const char *key;
	enum map_status st;
	const char *value;
};

#define NF	MAP_NOTFOUND, NULL

/* check_lookups - run lookups (until key == NULL) against an open map. */
static void
check_lookups(struct map *map, const char *what, const struct lookup *l)
{
	for (; l->key; l++) {
		const char *value = NULL;
		enum map_status st = map_lookup(map, l->key, &value);

		if (st != l->st)
			UNIT_FAILF("%s: key \"%s\": status %d, expected %d (%s)", what,
			    l->key, st, l->st, map_reason(map));
		if (st == MAP_FOUND && strcmp(value, l->value) != 0)
			UNIT_FAILF("%s: key \"%s\": \"%s\", expected \"%s\"", what,
			    l->key, value, l->value);
		if (st != MAP_FOUND && value != NULL)
			UNIT_FAILF("%s: key \"%s\": value set when not found", what,
			    l->key);
	}
}

static struct map *
open_ok(const char *spec, int flags)
{
	char *err = NULL;
	struct map *map = map_open(spec, O_RDONLY, flags, &err);

	if (map == NULL)
		UNIT_FAILF("open %s: %s", spec, err);
	return map;
}

static void
test_static(void **state)
{
	static const struct {
		const char *spec;
		const char *value;
	} cases[] = {
		{"static:foo", "foo"},
		{"static:FOO", "FOO"},		/* values are never folded */
		{"static:{ a b }", "a b"},
		{"static:{a b}", "a b"},
		{"static:{  spaced   out  }", "spaced   out"},
		{"static:5000", "5000"},
		{"static:x:y", "x:y"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct map *map = open_ok(cases[i].spec, MAP_FLAGS_DEFAULT);
		const struct lookup l[] = {
			{"any", MAP_FOUND, cases[i].value},
			{"OTHER", MAP_FOUND, cases[i].value},
			{"", MAP_FOUND, cases[i].value},
			{NULL},
		};

		check_lookups(map, cases[i].spec, l);
		map_close(&map);
	}
}

static void
test_inline(void **state)
{
	struct map *map;
	const struct lookup l1[] = {
		{"a", MAP_FOUND, "1"},
		{"B", MAP_FOUND, "Two"},
		{"k", MAP_FOUND, "v with spaces"},
		{"x y", MAP_NOTFOUND, NULL},
		{"dup", MAP_FOUND, "second"},
		{"c", NF},
		{"", NF},
		{NULL},
	};
	const char *k, *v;
	static const char *order[] = {"a", "b", "k", "dup"};
	size_t n = 0;

	map = open_ok("inline:{ a=1, { b = Two }, { k = v with spaces }, dup=first, dup=second }",
	    MAP_FLAGS_DEFAULT);
	check_lookups(map, "inline", l1);
	/* Sequence order is the order written (duplicates once). */
	for (enum map_status st = map_sequence(map, MAP_SEQ_FIRST, &k, &v);
	    st == MAP_FOUND; st = map_sequence(map, MAP_SEQ_NEXT, &k, &v)) {
		if (n >= sizeof(order) / sizeof(order[0]) || strcmp(k, order[n]) != 0)
			UNIT_FAILF("sequence item %zu is \"%s\"", n, k);
		n++;
	}
	assert_int_equal(n, 4);
	/* FIRST starts over. */
	assert_int_equal(map_sequence(map, MAP_SEQ_FIRST, &k, &v), MAP_FOUND);
	assert_string_equal(k, "a");
	assert_string_equal(v, "1");
	map_close(&map);
}

static void
test_inline_errors(void **state)
{
	static const struct {
		const char *spec;
		const char *err;
	} cases[] = {
		{"inline:a=b", "expected \"inline:{name=value, ...}\""},
		{"inline:{a=b", "expected \"inline:{name=value, ...}\""},
		{"inline:{a}", "missing '=' after attribute name"},
		{"inline:{a=1, b}", "missing '=' after attribute name"},
		{"inline:{=b}", "missing attribute name"},
		{"inline:{ { =b } }", "missing attribute name"},
		{"inline:{ {a=b }", "syntax error: missing '}'"},
		{"inline:{ { a } }", "missing '=' after attribute name"},
		/* As in Postfix 3.7: a name ends at whitespace. */
		{"inline:{ {x y=z} }", "missing '=' after attribute name"},
		{"inline:{}", "bad syntax"},
		/* Without braces, whitespace separates items. */
		{"inline:{ a = b }", "missing '=' after attribute name"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		struct map *map = map_open(cases[i].spec, O_RDONLY,
		    MAP_FLAGS_DEFAULT, &err);

		if (map != NULL)
			UNIT_FAILF("%s: opened", cases[i].spec);
		if (err == NULL || strstr(err, cases[i].err) == NULL)
			UNIT_FAILF("%s: error \"%s\", expected \"%s\"", cases[i].spec,
			    err ? err : "(null)", cases[i].err);
		free(err);
	}
}

/* texthash: a file in postmap source format. */
static void
test_texthash(void **state)
{
	static const char text[] =
	    "# comment\n"
	    "alpha one\n"			/* 2 */
	    "Beta Two\n"			/* 3 */
	    "alpha again\n"			/* 4: duplicate */
	    "BETA again\n"			/* 5: duplicate after folding */
	    "gamma\tvalue with  spaces   \n"	/* 6 */
	    "delta multi\n"			/* 7 */
	    "  line\n"				/* 8: continuation */
	    "\"quoted key\" q\n"		/* 9 */
	    "\"a\\\"b\" escaped\n"		/* 10 */
	    "user@example.com local\n";		/* 11 */
	char *path = unit_write_file("th.txt", text, (size_t)-1);
	char *spec = concatenate("texthash:", path, (char *)0);
	char *dup1 = concatenate(path, ", line 4: duplicate entry: \"alpha\"", (char *)0);
	char *dup2 = concatenate(path, ", line 5: duplicate entry: \"BETA\"", (char *)0);
	const struct lookup l[] = {
		{"alpha", MAP_FOUND, "one"},
		{"ALPHA", MAP_FOUND, "one"},
		{"beta", MAP_FOUND, "Two"},
		{"gamma", MAP_FOUND, "value with  spaces"},
		{"delta", MAP_FOUND, "multi  line"},
		/* Quotes stay part of the key (external form). */
		{"\"quoted key\"", MAP_FOUND, "q"},
		{"quoted key", NF},
		{"\"a\\\"b\"", MAP_FOUND, "escaped"},
		{"User@Example.COM", MAP_FOUND, "local"},
		{"comment", NF},
		{"#", NF},
		{NULL},
	};
	struct map *map;

	unit_capture_start();
	map = open_ok(spec, MAP_FLAGS_DEFAULT);
	if (unit_captured(MSG_WARN, dup1) != 1 || unit_captured(MSG_WARN, dup2) != 1
	    || unit_capture_count() != 2)
		UNIT_FAILF("duplicate warnings missing or extra");
	check_lookups(map, "texthash", l);
	map_close(&map);

	/* Duplicate handling flags. */
	{
		const struct {
			int flags;
			const char *alpha;
			int warnings;
		} dcases[] = {
			{MAP_FLAG_FOLD_FIX | MAP_FLAG_DUP_WARN, "one", 2},
			{MAP_FLAG_FOLD_FIX | MAP_FLAG_DUP_IGNORE, "one", 0},
			{MAP_FLAG_FOLD_FIX | MAP_FLAG_DUP_REPLACE, "again", 0},
		};

		for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
			const struct lookup dl[] = {
				{"alpha", MAP_FOUND, dcases[i].alpha},
				{NULL},
			};

			unit_capture_start();
			map = open_ok(spec, dcases[i].flags);
			if (unit_capture_count() != dcases[i].warnings)
				UNIT_FAILF("dup case %zu: %d warnings", i,
				    unit_capture_count());
			check_lookups(map, "texthash dup", dl);
			map_close(&map);
		}
	}
	unit_capture_stop();
	free(dup1);
	free(dup2);
	free(spec);
	free(path);
}

/* Bad lines: each one warns with file and line, the rest still loads. */
static void
test_texthash_bad_lines(void **state)
{
	static const struct {
		const char *line;
		const char *warn;
		const char *key;	/* must not be found */
	} cases[] = {
		{"keyonly", "expected format: key whitespace value", "keyonly"},
		{"keyonly   ", "expected format: key whitespace value", "keyonly"},
		{"\"unbalanced key value", "unbalanced '\"' in key", "\"unbalanced"},
		{"  indented value", "logical line must not start with whitespace", "indented"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = concatenate(cases[i].line, "\nfirst 1\nlast 3\n",
		    (char *)0);
		char *path = unit_write_file("bad.txt", text, (size_t)-1);
		char *spec = concatenate("texthash:", path, (char *)0);
		char *where = concatenate(path, ", line 1: ", (char *)0);
		const struct lookup l[] = {
			{"first", MAP_FOUND, "1"},
			{"last", MAP_FOUND, "3"},
			{cases[i].key, NF},
			{NULL},
		};
		struct map *map;

		unit_capture_start();
		map = open_ok(spec, MAP_FLAGS_DEFAULT);
		if (unit_capture_count() != 1 || unit_captured(MSG_WARN, where) != 1
		    || unit_captured(MSG_WARN, cases[i].warn) != 1)
			UNIT_FAILF("case %zu: expected one warning \"%s%s\"", i, where,
			    cases[i].warn);
		unit_capture_stop();
		check_lookups(map, cases[i].line, l);
		map_close(&map);
		free(where);
		free(spec);
		free(path);
		free(text);
	}
}

/* "key: value" lines are stored (with the colon) but warned about. */
static void
test_texthash_alias_format(void **state)
{
	char *path = unit_write_file("alias.txt", "root: admin\n", (size_t)-1);
	char *spec = concatenate("texthash:", path, (char *)0);
	const struct lookup l[] = {
		{"root:", MAP_FOUND, "admin"},
		{"root", NF},
		{NULL},
	};
	struct map *map;

	unit_capture_start();
	map = open_ok(spec, MAP_FLAGS_DEFAULT);
	assert_int_equal(unit_captured(MSG_WARN, "line 1: record is in \"key: value\" format"), 1);
	unit_capture_stop();
	check_lookups(map, "alias format", l);
	map_close(&map);
	free(spec);
	free(path);
}

static void
test_fail(void **state)
{
	struct map *map = open_ok("fail:whatever", MAP_FLAGS_DEFAULT);
	const char *value = "x", *k, *v;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(map_lookup(map, "key", &value), MAP_TEMPFAIL);
		assert_null(value);
		assert_non_null(strstr(map_reason(map), "fail:whatever"));
	}
	assert_int_equal(map_update(map, "k", "v"), -1);
	assert_true(strlen(map_reason(map)) > 0);
	assert_int_equal(map_delete(map, "k"), MAP_TEMPFAIL);
	assert_int_equal(map_sequence(map, MAP_SEQ_FIRST, &k, &v), MAP_TEMPFAIL);
	map_close(&map);
}

static void
test_nis(void **state)
{
	struct map *map = open_ok("nis:mail.aliases", MAP_FLAGS_DEFAULT);
	const struct lookup l[] = {
		{"root", NF},
		{"postmaster", NF},
		{NULL},
	};

	check_lookups(map, "nis", l);
	assert_string_equal(map_reason(map), "");
	map_close(&map);
}

/* unix: passwd.byname and group.byname in /etc/passwd and /etc/group form. */
static void
test_unix(void **state)
{
	struct map *map = open_ok("unix:passwd.byname", MAP_FLAGS_DEFAULT);
	const char *value;
	struct passwd *pw = getpwnam("root");
	char expect[1024];
	int colons = 0;

	assert_non_null(pw);
	snprintf(expect, sizeof(expect), "root:%s:0:%ld:%s:%s:%s", pw->pw_passwd,
	    (long)pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
	assert_int_equal(map_lookup(map, "root", &value), MAP_FOUND);
	assert_string_equal(value, expect);
	for (const char *cp = value; *cp; cp++)
		colons += *cp == ':';
	assert_int_equal(colons, 6);
	/* A fixed table: the key is folded by the core. */
	assert_int_equal(map_lookup(map, "ROOT", &value), MAP_FOUND);
	assert_string_equal(value, expect);
	assert_int_equal(map_lookup(map, "nosuchuser", &value), MAP_NOTFOUND);
	assert_int_equal(map_lookup(map, "", &value), MAP_NOTFOUND);
	assert_string_equal(map_reason(map), "");
	map_close(&map);

	map = open_ok("unix:group.byname", MAP_FLAGS_DEFAULT);
	assert_int_equal(map_lookup(map, "root", &value), MAP_FOUND);
	assert_int_equal(strncmp(value, "root:", 5), 0);
	assert_non_null(strstr(value, ":0:"));
	colons = 0;
	for (const char *cp = value; *cp; cp++)
		colons += *cp == ':';
	assert_int_equal(colons, 3);
	assert_int_equal(map_lookup(map, "nosuchgroup", &value), MAP_NOTFOUND);
	map_close(&map);
}

static void
test_unix_errors(void **state)
{
	static const struct {
		const char *spec;
		int oflags;
		const char *err;
	} cases[] = {
		{"unix:foo", O_RDONLY, "unknown table: unix:foo"},
		{"unix:passwd.byuid", O_RDONLY, "unknown table: unix:passwd.byuid"},
		{"unix:passwd.byname", O_RDWR | O_CREAT, "unsupported operation"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;

		assert_null(map_open(cases[i].spec, cases[i].oflags,
		    MAP_FLAGS_DEFAULT, &err));
		if (err == NULL || strstr(err, cases[i].err) == NULL)
			UNIT_FAILF("%s: error \"%s\"", cases[i].spec, err ? err : "");
		free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_inline_errors),
		cmocka_unit_test(test_texthash),
		cmocka_unit_test(test_texthash_bad_lines),
		cmocka_unit_test(test_texthash_alias_format),
		cmocka_unit_test(test_fail),
		cmocka_unit_test(test_nis),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_unix_errors),
	};

	return cmocka_run_group_tests_name("map_builtin", tests, NULL, NULL);
}

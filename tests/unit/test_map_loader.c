/* SPDX-License-Identifier: MIT */
/* test_map_loader - dynamicmaps.cf handling and module checks
 * (core/util/map_loader.c): Postfix-style lines are refused with a
 * warning, missing modules and modules with bad entry objects give clear
 * errors, good modules load (also from dynamicmaps.cf.d/), and the type
 * list shows built-in and configured types.
 *
 * The test modules bad_module.so and good_module.so are built into
 * UNIT_MODULE_DIR (the directory of this program). */
#include "postino_config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "map.h"
#include "map_loader.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "unit.h"

static char *meta_dir;

/* The loader reads its configuration once per map_loader_config(); set
 * it up once for the whole group. */
static int
setup(void **state)
{
	static const char conf[] =
	    "# test dynamicmaps.cf\n"
	    "\n"
	    "ldap\tpostfix-ldap.so\tdict_ldap_open\n"			/* 3 */
	    "mysql postfix-mysql.so dict_mysql_open mkmap_mysql_open\n"	/* 4 */
	    "x x.so postino_x\n"					/* 5 */
	    "bad bad_module.so postino_bad\n"				/* 6 */
	    "badabi bad_module.so postino_bad_abi\n"			/* 7 */
	    "badsize bad_module.so postino_bad_size\n"			/* 8 */
	    "nosym bad_module.so postino_nosuchsymbol\n"		/* 9 */
	    "good good_module.so postino_good\n"			/* 10 */
	    "absent " UNIT_MODULE_DIR "/good_module.so postino_good\n"	/* 11 */
	    "short line\n"						/* 12 */
	    "good other.so postino_other\n"				/* 13: dup */
	    "notbuilt /nonexistent/dir/nb.so postino_nb\n";		/* 14 */
	static const char dropin[] =
	    "dropin good_module.so postino_good\n";
	char *path, *dpath;

	path = unit_write_file("dynamicmaps.cf", conf, (size_t)-1);
	free(path);
	dpath = concatenate(unit_tmpdir(), "/dynamicmaps.cf.d", (char *)0);
	if (mkdir(dpath, 0700) != 0)
		return -1;
	free(dpath);
	path = unit_write_file("dynamicmaps.cf.d/extra.cf", dropin, (size_t)-1);
	free(path);
	meta_dir = xstrdup(unit_tmpdir());

	unit_capture_start();
	map_loader_config(meta_dir, UNIT_MODULE_DIR);
	/* Force the read now so the warnings are captured here. */
	free(map_loader_types());
	unit_capture_stop();
	return 0;
}

static int
teardown(void **state)
{
	free(meta_dir);
	return 0;
}

/* Warnings from reading the configuration (captured in setup). */
static void
test_config_warnings(void **state)
{
	char *where;

	where = concatenate(meta_dir, "/dynamicmaps.cf, line 3: entry symbol \"dict_ldap_open\" for type \"ldap\" is not a postino module entry",
	    (char *)0);
	if (unit_captured(MSG_WARN, where) != 1)
		UNIT_FAILF("no warning \"%s\"", where);
	free(where);
	assert_int_equal(unit_captured(MSG_WARN, "line 4: entry symbol \"dict_mysql_open\""), 1);
	assert_int_equal(unit_captured(MSG_WARN, "line 12: expected \"type module-file entry-symbol\""), 1);
	/* Nothing else. */
	assert_int_equal(unit_capture_count(), 3);
}

/* (a) A Postfix plugin line: the type is refused, never loaded. */
static void
test_postfix_line_refused(void **state)
{
	static const char *specs[] = {"ldap:/etc/postfix/ldap.cf", "mysql:/x.cf"};

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char *err = NULL;
		struct map *map;
		const char *value;

		assert_null(map_open(specs[i], O_RDONLY, MAP_FLAGS_DEFAULT, &err));
		if (err == NULL || strstr(err, "unsupported table type") == NULL)
			UNIT_FAILF("%s: error \"%s\"", specs[i], err ? err : "");
		free(err);
		/* In a daemon: a surrogate that tempfails. */
		unit_capture_start();
		map = map_open(specs[i], O_RDONLY,
		    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE, &err);
		assert_non_null(map);
		assert_int_equal(map_lookup(map, "k", &value), MAP_TEMPFAIL);
		assert_non_null(strstr(map_reason(map), "unsupported table type"));
		unit_capture_stop();
		map_close(&map);
	}
}

/* (b) and (c): the error for each broken entry. */
static void
test_load_errors(void **state)
{
	static const struct {
		const char *spec;
		const char *err;
	} cases[] = {
		{"x:/y", "unsupported table type \"x\": module x.so not found in " UNIT_MODULE_DIR},
		{"notbuilt:/y", "unsupported table type \"notbuilt\": module /nonexistent/dir/nb.so not found in /"},
		{"bad:/y", "unsupported table type \"bad\": " UNIT_MODULE_DIR "/bad_module.so: postino_bad is not a postino map module of ABI version 1"},
		{"badabi:/y", "postino_bad_abi is not a postino map module"},
		{"badsize:/y", "postino_bad_size is not a postino map module"},
		{"nosym:/y", "module " UNIT_MODULE_DIR "/bad_module.so has no entry symbol postino_nosuchsymbol"},
		{"absent:/y", "unsupported table type \"absent\": module " UNIT_MODULE_DIR "/good_module.so does not provide it"},
		{"nosuchtype:/y", "unsupported table type \"nosuchtype\": not built in and not listed in "},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Twice: a failed load is not cached as a success. */
		for (int n = 0; n < 2; n++) {
			char *err = NULL;

			if (map_open(cases[i].spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err))
				UNIT_FAILF("%s: opened", cases[i].spec);
			if (err == NULL || strstr(err, cases[i].err) == NULL)
				UNIT_FAILF("%s: error \"%s\",\n expected \"%s\"",
				    cases[i].spec, err ? err : "(null)", cases[i].err);
			free(err);
		}
	}
}

/* A good module loads, also for a type listed in dynamicmaps.cf.d/, and
 * the first line for a type wins. */
static void
test_good_module(void **state)
{
	static const struct {
		const char *spec;
		const char *key;
		const char *value;
	} cases[] = {
		{"good:name", "Key", "good:name:key"},		/* fixed: folded */
		{"dropin:n2", "Key", "dropin:n2:Key"},		/* pattern */
		{"good:again", "k", "good:again:k"},
		{"proxy:good:p", "k", "good:p:k"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		struct map *map = map_open(cases[i].spec, O_RDONLY,
		    MAP_FLAGS_DEFAULT, &err);
		const char *value;

		if (map == NULL)
			UNIT_FAILF("%s: %s", cases[i].spec, err);
		assert_int_equal(map_lookup(map, cases[i].key, &value), MAP_FOUND);
		assert_string_equal(value, cases[i].value);
		map_close(&map);
	}
}

/* (d) The type list: built-ins and the configured types whose module is
 * installed, sorted, once each. */
static void
test_types(void **state)
{
	static const char *want[] = {"cidr", "fail", "inline", "nis", "proxy",
	    "static", "texthash", "unix", "bad", "badabi", "good", "dropin",
	    "nosym", "absent"};
	/* Refused lines, and types whose module file is not installed. */
	static const char *not_want[] = {"ldap", "mysql", "short", "x",
	    "notbuilt", "other"};
	const char **list = map_loader_types();
	size_t n;

	for (n = 0; list[n]; n++)
		if (n > 0 && strcmp(list[n - 1], list[n]) >= 0)
			UNIT_FAILF("not sorted or repeated: %s, %s", list[n - 1],
			    list[n]);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t j;

		for (j = 0; j < n && strcmp(list[j], want[i]) != 0; j++)
			;
		if (j == n)
			UNIT_FAILF("type %s not listed", want[i]);
	}
	for (size_t i = 0; i < sizeof(not_want) / sizeof(not_want[0]); i++)
		for (size_t j = 0; j < n; j++)
			if (strcmp(list[j], not_want[i]) == 0)
				UNIT_FAILF("type %s listed", not_want[i]);
	free(list);
	/* map_type_list is the same list. */
	list = map_type_list();
	for (size_t j = 0; j < n; j++)
		assert_non_null(list[j]);
	assert_null(list[n]);
	free(list);
}

static void
test_shlib_directory(void **state)
{
	assert_string_equal(map_loader_shlib_directory(), UNIT_MODULE_DIR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_warnings),
		cmocka_unit_test(test_postfix_line_refused),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_good_module),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_shlib_directory),
	};

	return cmocka_run_group_tests_name("map_loader", tests, setup, teardown);
}

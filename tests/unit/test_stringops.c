/* SPDX-License-Identifier: MIT */
/* test_stringops - tokenizers, name=value splitting, number parsing and
 * the small string helpers. */
#include "postino_config.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mymalloc.h"
#include "stringops.h"
#include "unit.h"

#define MAXTOK 8

/* Table: input, separators, expected tokens (NULL-terminated). */
static void
test_mystrtok(void **state)
{
	static const struct {
		const char *in;
		const char *sep;
		const char *tok[MAXTOK];
	} cases[] = {
		{"a b c", " ", {"a", "b", "c", NULL}},
		{"  a   b  ", " ", {"a", "b", NULL}},
		{"", " ", {NULL}},
		{"   ", " ", {NULL}},
		{"a,b, c", ", ", {"a", "b", "c", NULL}},
		{"a,,b", ",", {"a", "b", NULL}},
		{"one", " ", {"one", NULL}},
		{"x\ty\nz", " \t\n", {"x", "y", "z", NULL}},
		{"{a b}", " ", {"{a", "b}", NULL}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *copy = xstrdup(cases[i].in);
		char *cp = copy, *tok;
		int n = 0;

		while ((tok = mystrtok(&cp, cases[i].sep)) != NULL) {
			if (n >= MAXTOK || cases[i].tok[n] == NULL)
				UNIT_FAILF("case %zu: extra token \"%s\"", i, tok);
			if (strcmp(tok, cases[i].tok[n]) != 0)
				UNIT_FAILF("case %zu: token %d is \"%s\", expected \"%s\"",
				    i, n, tok, cases[i].tok[n]);
			n++;
		}
		if (cases[i].tok[n] != NULL)
			UNIT_FAILF("case %zu: missing token \"%s\"", i, cases[i].tok[n]);
		/* At the end it keeps answering NULL. */
		assert_null(mystrtok(&cp, cases[i].sep));
		free(copy);
	}
}

static void
test_mystrtok_grouped(void **state)
{
	static const struct {
		const char *in;
		const char *tok[MAXTOK];
		int error;	/* expect "missing '}'" after the tokens */
	} cases[] = {
		{"a b c", {"a", "b", "c", NULL}, 0},
		{"a {b c} d", {"a", "b c", "d", NULL}, 0},
		{"{ x, y }, z", {"x, y", "z", NULL}, 0},
		{"{a {b} c}", {"a {b} c", NULL}, 0},
		{"{ {k = v} }", {"{k = v}", NULL}, 0},
		{"{}", {"", NULL}, 0},
		{"{   }", {"", NULL}, 0},
		{"  ,, {a}  ", {"a", NULL}, 0},
		{"a{b}", {"a{b}", NULL}, 0},
		{"x {a", {"x", NULL}, 1},
		{"{a {b}", {NULL}, 1},
		{"{", {NULL}, 1},
		{"a } b", {"a", "}", "b", NULL}, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *copy = xstrdup(cases[i].in);
		char *cp = copy, *tok;
		const char *err = NULL;
		int n = 0;

		while ((tok = mystrtok_grouped(&cp, ", \t", &err)) != NULL) {
			if (n >= MAXTOK || cases[i].tok[n] == NULL)
				UNIT_FAILF("case %zu: extra token \"%s\"", i, tok);
			if (strcmp(tok, cases[i].tok[n]) != 0)
				UNIT_FAILF("case %zu: token %d is \"%s\", expected \"%s\"",
				    i, n, tok, cases[i].tok[n]);
			n++;
		}
		if (cases[i].tok[n] != NULL)
			UNIT_FAILF("case %zu: missing token \"%s\"", i, cases[i].tok[n]);
		if (cases[i].error) {
			if (err == NULL || strstr(err, "missing '}'") == NULL)
				UNIT_FAILF("case %zu: no \"missing '}'\" error", i);
			/* After the error the input is used up. */
			assert_null(mystrtok_grouped(&cp, ", \t", &err));
		} else if (err != NULL) {
			UNIT_FAILF("case %zu: unexpected error \"%s\"", i, err);
		}
		free(copy);
	}
}

static void
test_split_nameval(void **state)
{
	static const struct {
		const char *in;
		const char *name;	/* NULL: expect an error */
		const char *value;
		const char *error;
	} cases[] = {
		{"a = b", "a", "b", NULL},
		{"a=b", "a", "b", NULL},
		{"  name   =   value with  spaces  ", "name", "value with  spaces", NULL},
		{"a =", "a", "", NULL},
		{"a = b = c", "a", "b = c", NULL},
		{"x_y.z=1\n", "x_y.z", "1", NULL},
		{"= b", NULL, NULL, "missing attribute name"},
		{"   =b", NULL, NULL, "missing attribute name"},
		{"a b = c", NULL, NULL, "missing '=' after attribute name"},
		{"a", NULL, NULL, "missing '=' after attribute name"},
		{"", NULL, NULL, "missing '=' after attribute name"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *copy = xstrdup(cases[i].in);
		char *name = NULL, *value = NULL;
		const char *err = split_nameval(copy, &name, &value);

		if (cases[i].name == NULL) {
			if (err == NULL || strcmp(err, cases[i].error) != 0)
				UNIT_FAILF("case %zu (\"%s\"): error \"%s\", expected \"%s\"",
				    i, cases[i].in, err ? err : "(none)", cases[i].error);
		} else {
			if (err != NULL)
				UNIT_FAILF("case %zu: unexpected error \"%s\"", i, err);
			assert_string_equal(name, cases[i].name);
			assert_string_equal(value, cases[i].value);
		}
		free(copy);
	}
}

static void
test_str_to_long(void **state)
{
	char max[64], over[64], min[64];
	const struct {
		const char *in;
		int rc;
		long val;
	} cases[] = {
		{"0", 0, 0},
		{"123", 0, 123},
		{"-5", 0, -5},
		{"007", 0, 7},
		{max, 0, LONG_MAX},
		{min, 0, LONG_MIN},
		{over, -1, 0},
		{"99999999999999999999999", -1, 0},
		{"", -1, 0},
		{" 1", -1, 0},
		{"1 ", -1, 0},
		{"12x", -1, 0},
		{"x12", -1, 0},
		{"1.5", -1, 0},
		{"-", -1, 0},
	};

	snprintf(max, sizeof(max), "%ld", LONG_MAX);
	snprintf(min, sizeof(min), "%ld", LONG_MIN);
	snprintf(over, sizeof(over), "%ld0", LONG_MAX);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long val = 4242;
		int rc = str_to_long(cases[i].in, &val);

		if (rc != cases[i].rc)
			UNIT_FAILF("case %zu (\"%s\"): rc %d", i, cases[i].in, rc);
		if (rc == 0 && val != cases[i].val)
			UNIT_FAILF("case %zu (\"%s\"): value %ld", i, cases[i].in, val);
		if (rc != 0 && val != 4242)
			UNIT_FAILF("case %zu: value changed on error", i);
	}
}

static void
test_small_helpers(void **state)
{
	char buf[32], small[4];

	snprintf(buf, sizeof(buf), "MiXeD 123 Ä");
	assert_true(has_upper(buf));
	assert_string_equal(lowercase(buf), "mixed 123 Ä");
	assert_false(has_upper(buf));
	assert_false(has_upper(""));

	snprintf(buf, sizeof(buf), "  x y \t\r\n");
	assert_string_equal(trimblanks(buf), "  x y");
	assert_string_equal(skipblanks(buf), "x y");
	snprintf(buf, sizeof(buf), " \t ");
	assert_string_equal(trimblanks(buf), "");
	assert_string_equal(skipblanks(" \n"), "");

	assert_int_equal(strlcpy(small, "abcdef", sizeof(small)), 6);
	assert_string_equal(small, "abc");
	assert_int_equal(strlcpy(small, "ab", sizeof(small)), 2);
	assert_string_equal(small, "ab");
	assert_int_equal(strlcat(small, "cdef", sizeof(small)), 6);
	assert_string_equal(small, "abc");
	assert_int_equal(strlcpy(small, "zz", 0), 2);
	assert_string_equal(small, "abc");

	assert_true(alldig("0123"));
	assert_false(alldig(""));
	assert_false(alldig("12a"));
	assert_false(alldig("-1"));

	{
		char *s = concatenate("a", "", "bc", "/", (char *)0);

		assert_string_equal(s, "abc/");
		free(s);
		s = concatenate("", (char *)0);
		assert_string_equal(s, "");
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mystrtok),
		cmocka_unit_test(test_mystrtok_grouped),
		cmocka_unit_test(test_split_nameval),
		cmocka_unit_test(test_str_to_long),
		cmocka_unit_test(test_small_helpers),
	};

	return cmocka_run_group_tests_name("stringops", tests, NULL, NULL);
}

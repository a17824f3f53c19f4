/* SPDX-License-Identifier: MIT */
/* test_buf - struct buf: limits, printf growth, truncate. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "unit.h"

/* The invariants every operation must keep. */
static void
check_invariants(const struct buf *b)
{
	assert_true(b->len < b->cap);
	assert_int_equal(b->data[b->len], 0);
	if (b->max)
		assert_true(b->len <= b->max);
}

static void
test_new_and_reset(void **state)
{
	struct buf *b = buf_new(0, 0);

	assert_non_null(b);
	assert_true(b->cap >= 16);
	assert_int_equal(buf_len(b), 0);
	assert_string_equal(buf_str(b), "");
	assert_int_equal(buf_puts(b, "hello"), 0);
	assert_string_equal(buf_str(b), "hello");
	buf_reset(b);
	assert_int_equal(buf_len(b), 0);
	assert_string_equal(buf_str(b), "");
	check_invariants(b);
	buf_free(&b);
	assert_null(b);
	buf_free(&b);		/* freeing NULL is a no-op */
}

/* Appends at and over the limit: table of (max, pieces, expected). */
static void
test_limits(void **state)
{
	static const struct {
		size_t max;
		const char *pieces[4];
		int rc[4];
		const char *result;
	} cases[] = {
		{5, {"abc", "de", "f", NULL}, {0, 0, -1}, "abcde"},
		{5, {"abcdef", "ab", NULL}, {-1, 0}, "ab"},
		{5, {"", "abcde", "", NULL}, {0, 0, 0}, "abcde"},
		{1, {"a", "b", NULL}, {0, -1}, "a"},
		{0, {"abc", "def", "ghi", NULL}, {0, 0, 0}, "abcdefghi"},
		{40, {"0123456789012345678901234567890123456789", "x", NULL},
		    {0, -1}, "0123456789012345678901234567890123456789"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf *b = buf_new(1, cases[i].max);

		for (int j = 0; cases[i].pieces[j]; j++) {
			int rc = buf_puts(b, cases[i].pieces[j]);

			if (rc != cases[i].rc[j])
				UNIT_FAILF("case %zu piece %d: rc %d, expected %d",
				    i, j, rc, cases[i].rc[j]);
			check_invariants(b);
		}
		if (strcmp(buf_str(b), cases[i].result) != 0)
			UNIT_FAILF("case %zu: \"%s\", expected \"%s\"", i,
			    buf_str(b), cases[i].result);
		assert_int_equal(buf_len(b), strlen(cases[i].result));
		buf_free(&b);
	}
}

static void
test_putc_and_binary(void **state)
{
	struct buf *b = buf_new(16, 4);

	assert_int_equal(buf_putc(b, 'a'), 0);
	assert_int_equal(buf_putc(b, 0), 0);
	assert_int_equal(buf_append(b, "\0b", 2), 0);
	assert_int_equal(buf_len(b), 4);
	assert_memory_equal(b->data, "a\0\0b", 4);
	assert_int_equal(buf_putc(b, 'c'), -1);
	assert_int_equal(buf_len(b), 4);
	check_invariants(b);
	/* A huge reservation must fail cleanly, not wrap around. */
	assert_int_equal(buf_reserve(b, SIZE_MAX), -1);
	buf_free(&b);

	b = buf_new(16, BUF_NOLIMIT);
	assert_int_equal(buf_reserve(b, SIZE_MAX - 1), -1);
	assert_int_equal(buf_len(b), 0);
	buf_free(&b);
}

static void
test_set(void **state)
{
	struct buf *b = buf_new(16, 8);

	assert_int_equal(buf_set(b, "12345678"), 0);
	assert_string_equal(buf_str(b), "12345678");
	assert_int_equal(buf_set(b, "ab"), 0);
	assert_string_equal(buf_str(b), "ab");
	/* Over the limit: fails; the content is then empty (reset first). */
	assert_int_equal(buf_set(b, "123456789"), -1);
	check_invariants(b);
	buf_free(&b);
}

/* printf: growth from a tiny buffer, appending, and the limit. */
static void
test_printf(void **state)
{
	struct buf *b = buf_new(1, BUF_NOLIMIT);
	char big[5000];

	assert_int_equal(buf_printf(b, "%s-%d", "x", 42), 0);
	assert_string_equal(buf_str(b), "x-42");
	assert_int_equal(buf_printf(b, "/%05d", 7), 0);
	assert_string_equal(buf_str(b), "x-42/00007");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(buf_printf(b, "[%s]", big), 0);
	assert_int_equal(buf_len(b), 10 + 2 + sizeof(big) - 1);
	assert_int_equal(b->data[10], '[');
	assert_int_equal(b->data[buf_len(b) - 1], ']');
	check_invariants(b);
	/* Empty output is fine. */
	assert_int_equal(buf_printf(b, "%s", ""), 0);
	buf_free(&b);

	/* With a maximum: exactly at the limit, then over it (both when the
	 * output fits the allocation and when it would need to grow). */
	b = buf_new(64, 10);
	assert_int_equal(buf_printf(b, "%s", "0123456789"), 0);
	assert_int_equal(buf_printf(b, "%c", 'x'), -1);
	assert_string_equal(buf_str(b), "0123456789");
	check_invariants(b);
	buf_reset(b);
	assert_int_equal(buf_printf(b, "%s", "01234"), 0);
	assert_int_equal(buf_printf(b, "%s", "567890"), -1);
	assert_string_equal(buf_str(b), "01234");
	check_invariants(b);
	buf_free(&b);

	b = buf_new(16, 20);
	assert_int_equal(buf_printf(b, "%s", "abc"), 0);
	assert_int_equal(buf_printf(b, "%s", big), -1);
	assert_string_equal(buf_str(b), "abc");
	check_invariants(b);
	buf_free(&b);
}

static void
test_truncate(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		const char *result;
	} cases[] = {
		{"hello", 2, "he"},
		{"hello", 0, ""},
		{"hello", 5, "hello"},
		{"hello", 99, "hello"},
		{"", 3, ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf *b = buf_new(4, 0);

		buf_puts(b, cases[i].text);
		buf_truncate(b, cases[i].len);
		if (strcmp(buf_str(b), cases[i].result) != 0
		    || buf_len(b) != strlen(cases[i].result))
			UNIT_FAILF("case %zu: \"%s\" (len %zu)", i, buf_str(b),
			    buf_len(b));
		check_invariants(b);
		/* Appending after a truncate continues at the new end. */
		buf_putc(b, '!');
		assert_int_equal(b->data[buf_len(b) - 1], '!');
		buf_free(&b);
	}
}

/* Growth over many appends keeps the content. */
static void
test_growth(void **state)
{
	struct buf *b = buf_new(16, BUF_NOLIMIT);

	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_putc(b, 'a' + i % 26), 0);
	assert_int_equal(buf_len(b), 100000);
	for (size_t i = 0; i < buf_len(b); i++)
		if (b->data[i] != 'a' + (int)(i % 26))
			UNIT_FAILF("byte %zu is wrong", i);
	check_invariants(b);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_reset),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_putc_and_binary),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}

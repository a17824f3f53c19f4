/* SPDX-License-Identifier: MIT */
/* test_readlline - logical lines: comments, continuation, stray
 * continuation, NUL bytes, over-long lines, missing final newline, CRLF.
 * Each case gives raw input (NULs allowed), the line limit, the expected
 * logical lines with their line numbers, and the expected warnings. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "msg.h"
#include "readlline.h"
#include "unit.h"

#define MAXLINES 6

struct lline_case {
	const char *name;
	const char *in;
	size_t in_len;		/* 0: strlen(in) */
	size_t max;
	struct {
		int lineno;
		const char *text;
	} out[MAXLINES];	/* ends at text == NULL */
	const char *warn[3];	/* substrings, each expected once, in order */
};

#define IN(s)	s, sizeof(s) - 1

static const struct lline_case cases[] = {
	{"empty", IN(""), 0, {{0, NULL}}, {NULL}},
	{"only comments", IN("# a\n   # b\n\n \t \n#\n"), 0, {{0, NULL}}, {NULL}},
	{"plain", IN("a b\nc\n"), 0, {{1, "a b"}, {2, "c"}}, {NULL}},
	{"comments skipped", IN("# c\na b\n  # indented comment\n\nc d\n"), 0,
	    {{2, "a b"}, {5, "c d"}}, {NULL}},
	{"continuation keeps leading whitespace", IN("a\n  b\n\tc\nd\n"), 0,
	    {{1, "a  b\tc"}, {4, "d"}}, {NULL}},
	{"comment between line and continuation", IN("a\n# x\n  b\nc\n"), 0,
	    {{1, "a  b"}, {4, "c"}}, {NULL}},
	{"blank line between line and continuation", IN("a\n\n  b\n"), 0,
	    {{1, "a  b"}}, {NULL}},
	{"hash inside a line is text", IN("a # not a comment\n"), 0,
	    {{1, "a # not a comment"}}, {NULL}},
	{"stray continuation", IN("  x\na\n"), 0, {{2, "a"}},
	    {"line 1: logical line must not start with whitespace", NULL}},
	{"stray continuation after comment", IN("# c\n\tx\n  y\na\n"), 0,
	    {{4, "a"}},
	    {"line 2: logical line must not start with whitespace",
	    "line 3: logical line must not start with whitespace", NULL}},
	{"NUL byte", IN("a\0b\nc\n"), 0, {{1, "a"}, {2, "c"}},
	    {"line 1: text after null byte", NULL}},
	{"NUL byte in continuation", IN("a\n b\0c\nd\n"), 0,
	    {{1, "a b"}, {3, "d"}}, {"line 2: text after null byte", NULL}},
	{"too long", IN("short\n0123456789abc\n  cont\nnext\n"), 10,
	    {{1, "short"}, {4, "next"}},
	    {"line 2: logical line longer than 10 bytes, skipped", NULL}},
	{"too long by continuation", IN("abcdefgh\n  ijkl\nx\n"), 10,
	    {{3, "x"}}, {"line 1: logical line longer than 10 bytes", NULL}},
	{"exactly at the limit", IN("0123456789\nabcde\n fghi\n"), 10,
	    {{1, "0123456789"}, {2, "abcde fghi"}}, {NULL}},
	{"missing final newline", IN("a\nb"), 0, {{1, "a"}, {2, "b"}}, {NULL}},
	{"continuation at EOF without newline", IN("a\n  b"), 0,
	    {{1, "a  b"}}, {NULL}},
	{"CRLF", IN("a b\r\n  c\r\n\r\nd\r\n"), 0, {{1, "a b  c"}, {4, "d"}},
	    {NULL}},
	{"lone CR line", IN("\r\na\n"), 0, {{2, "a"}}, {NULL}},
};

/* run_case - read all logical lines of one case and compare. */
static void
run_case(size_t ci)
{
	const struct lline_case *c = &cases[ci];
	char *data = malloc(c->in_len + 1);
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line = buf_new(16, BUF_NOLIMIT);
	int lineno, n = 0, w = 0;

	memcpy(data, c->in, c->in_len);
	/* fmemopen needs a non-empty buffer; the size bounds what is read. */
	fp = c->in_len ? fmemopen(data, c->in_len, "r") : fopen("/dev/null", "r");
	assert_non_null(fp);
	unit_capture_start();
	rd = lline_open(fp, "FILE", c->max);
	while (lline_read(rd, line, &lineno)) {
		if (n >= MAXLINES || c->out[n].text == NULL)
			UNIT_FAILF("%s: extra line %d: \"%s\"", c->name, lineno,
			    buf_str(line));
		if (strcmp(buf_str(line), c->out[n].text) != 0
		    || lineno != c->out[n].lineno)
			UNIT_FAILF("%s: line %d: \"%s\", expected line %d: \"%s\"",
			    c->name, lineno, buf_str(line), c->out[n].lineno,
			    c->out[n].text);
		if (strlen(buf_str(line)) != buf_len(line))
			UNIT_FAILF("%s: line with a NUL byte returned", c->name);
		n++;
	}
	if (n < MAXLINES && c->out[n].text != NULL)
		UNIT_FAILF("%s: missing line \"%s\"", c->name, c->out[n].text);
	/* Once at the end, it stays there. */
	assert_int_equal(lline_read(rd, line, &lineno), 0);
	unit_capture_stop();
	for (w = 0; c->warn[w]; w++) {
		const char *got = unit_capture_text(w);

		if (got == NULL || strstr(got, c->warn[w]) == NULL
		    || strncmp(got, "FILE, line ", 11) != 0)
			UNIT_FAILF("%s: warning %d is \"%s\", expected \"FILE, ...%s\"",
			    c->name, w, got ? got : "(none)", c->warn[w]);
		if (unit_captured(MSG_WARN, c->warn[w]) != 1)
			UNIT_FAILF("%s: warning \"%s\" not logged once as a warning",
			    c->name, c->warn[w]);
	}
	if (unit_capture_count() != w)
		UNIT_FAILF("%s: %d messages logged, expected %d", c->name,
		    unit_capture_count(), w);
	lline_close(&rd);
	assert_null(rd);
	buf_free(&line);
	fclose(fp);
	free(data);
}

static void
test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(i);
}

/* lline_lineno counts physical lines, including the lookahead. */
static void
test_lineno(void **state)
{
	static char text[] = "a\n  b\n\n# c\nd\n";
	FILE *fp = fmemopen(text, sizeof(text) - 1, "r");
	struct lline_reader *rd = lline_open(fp, "F", 0);
	struct buf *line = buf_new(16, 0);
	int lineno;

	assert_int_equal(lline_lineno(rd), 0);
	assert_int_equal(lline_read(rd, line, &lineno), 1);
	assert_int_equal(lineno, 1);
	/* To know "a" had ended, the reader had to see line 5. */
	assert_int_equal(lline_lineno(rd), 5);
	assert_int_equal(lline_read(rd, line, &lineno), 1);
	assert_string_equal(buf_str(line), "d");
	assert_int_equal(lineno, 5);
	assert_int_equal(lline_read(rd, line, &lineno), 0);
	lline_close(&rd);
	buf_free(&line);
	fclose(fp);
}

/* A long file of long lines: every line comes back whole. */
static void
test_many_long_lines(void **state)
{
	struct buf *in = buf_new(1024, 0), *line = buf_new(16, 0);
	FILE *fp;
	struct lline_reader *rd;
	int lineno, n = 0;

	for (int i = 0; i < 200; i++) {
		buf_printf(in, "key%d ", i);
		for (int j = 0; j < 100 + i * 10; j++)
			buf_putc(in, 'a' + (i + j) % 26);
		buf_puts(in, "\n  continued\n");
	}
	fp = fmemopen(in->data, buf_len(in), "r");
	rd = lline_open(fp, "F", 0);
	while (lline_read(rd, line, &lineno)) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "key%d ", n);
		assert_int_equal(strncmp(buf_str(line), prefix, strlen(prefix)), 0);
		assert_int_equal(buf_len(line),
		    strlen(prefix) + 100 + (size_t)n * 10 + strlen("  continued"));
		assert_int_equal(lineno, 2 * n + 1);
		n++;
	}
	assert_int_equal(n, 200);
	lline_close(&rd);
	fclose(fp);
	buf_free(&in);
	buf_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_lineno),
		cmocka_unit_test(test_many_long_lines),
	};

	return cmocka_run_group_tests_name("readlline", tests, NULL, NULL);
}

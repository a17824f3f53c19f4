/* SPDX-License-Identifier: MIT */
/* test_fuzz - robustness: random bytes (fixed seed, bounded count) as
 * texthash and cidr files, as inline table texts and as readlline input.
 * Nothing may crash (the sanitizer build catches memory errors), every
 * line returned must respect the reader's contract, every lookup must
 * give one of the three answers, and every warning must name file and
 * line.  Not a replacement for the libFuzzer targets in tests/fuzz/. */
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

#include "buf.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"
#include "unit.h"

#define ROUNDS		400
#define MAX_INPUT	3000

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* Coverage counters: the input must reach the interesting paths, or
 * the test proves nothing. */
static int n_warnings, n_found, n_opened, n_open_failed, n_lines;

/* rng - xorshift64*: deterministic across runs and platforms. */
static uint32_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Fragments that make random input reach deeper into the parsers. */
static const char *const fragments[] = {
	"\n", "\n", "\n  ", "\r\n", "\t", " ", "#", "{", "}", "{ ", " }", ",",
	"=", "\"", "\\", "!", "[", "]", "/", ":", "::", ".", "0", "1", "255",
	"256", "10.0.0.0/8", "192.168.1.1", "2001:db8::/32", "::ffff:1.2.3.4",
	"/33", "/129", "if ", "endif", "IF !", "ENDIF\n", "OK", "REJECT",
	"key value\n", "\0", "\xff", "\x80", "\x01",
};

/* random_input - bytes, fragments or a mix, into b (NULs possible). */
static void
random_input(struct buf *b, size_t max)
{
	size_t want = rng() % max;
	int style = rng() % 3;

	buf_reset(b);
	while (buf_len(b) < want) {
		if (style == 0 || (style == 2 && rng() % 2)) {
			buf_putc(b, (int)(rng() & 0xff));
		} else {
			const char *f = fragments[rng() % (sizeof(fragments)
			    / sizeof(fragments[0]))];

			buf_append(b, f, *f ? strlen(f) : 1);
		}
	}
}

/* random_key - a short key, sometimes address-like. */
static void
random_key(struct buf *b)
{
	static const char *const keys[] = {"10.1.2.3", "192.168.1.1", "::1",
	    "2001:db8::5", "key", "KEY", "", "1.2.3.4", "::ffff:1.2.3.4"};

	buf_reset(b);
	if (rng() % 2) {
		buf_puts(b, keys[rng() % (sizeof(keys) / sizeof(keys[0]))]);
		return;
	}
	for (size_t n = rng() % 40; n > 0; n--) {
		int c = (int)(rng() % 255) + 1;	/* no NUL in keys */

		buf_putc(b, c);
	}
}

/* check_messages - every captured warning names the file and a line. */
static void
check_messages(const char *path, int round)
{
	n_warnings += unit_capture_count();
	for (int i = 0; i < unit_capture_count(); i++) {
		const char *t = unit_capture_text(i);

		if (strncmp(t, path, strlen(path)) != 0
		    || strncmp(t + strlen(path), ", line ", 7) != 0)
			UNIT_FAILF("round %d: warning without file and line: %s",
			    round, t);
	}
}

static void
lookups(struct map *map, struct buf *key, int round)
{
	for (int i = 0; i < 20; i++) {
		const char *value = NULL;
		enum map_status st;

		random_key(key);
		st = map_lookup(map, buf_str(key), &value);
		switch (st) {
		case MAP_FOUND:
			if (value == NULL)
				UNIT_FAILF("round %d: found without a value", round);
			(void)strlen(value);
			n_found++;
			break;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			/* The one legitimate case: an empty value is a
			 * configuration error. */
			if (strstr(map_reason(map), "empty string result is not allowed") == NULL)
				UNIT_FAILF("round %d: temporary error from an in-memory table: %s",
				    round, map_reason(map));
			break;
		}
	}
}

/* Random files as texthash: and cidr: tables. */
static void
test_table_files(void **state)
{
	static const char *const types[] = {"texthash", "cidr"};
	struct buf *in = buf_new(MAX_INPUT, 0), *key = buf_new(64, 0);

	for (int round = 0; round < ROUNDS; round++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			char *path, *spec, *err = NULL;
			struct map *map;
			const char *k, *v;

			random_input(in, MAX_INPUT);
			path = unit_write_file("fuzz.tbl", in->data, buf_len(in));
			spec = concatenate(types[t], ":", path, (char *)0);
			unit_capture_start();
			map = map_open(spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err);
			if (map == NULL)
				UNIT_FAILF("round %d: %s: %s", round, spec, err);
			check_messages(path, round);
			unit_capture_start();
			lookups(map, key, round);
			/* Sequencing (texthash) visits only stored entries. */
			if (map->sequence) {
				int n = 0;

				for (enum map_status st = map_sequence(map,
				    MAP_SEQ_FIRST, &k, &v); st == MAP_FOUND;
				    st = map_sequence(map, MAP_SEQ_NEXT, &k, &v)) {
					if (n++ > MAX_INPUT)
						UNIT_FAILF("round %d: endless sequence", round);
					if (*k == 0 || *v == 0)
						UNIT_FAILF("round %d: empty key or value stored",
						    round);
				}
			}
			unit_capture_stop();
			map_close(&map);
			free(spec);
			free(path);
		}
	}
	buf_free(&in);
	buf_free(&key);
	print_message("table files: %d warnings, %d found\n", n_warnings, n_found);
	assert_true(n_warnings > ROUNDS);
	assert_true(n_found > 0);
}

/* Random texts as inline:, static: and cidr:{...} names: the open
 * either succeeds or fails with a one-line error. */
static void
test_inline_names(void **state)
{
	static const char *const prefixes[] = {"inline:{", "cidr:{", "static:{",
	    "inline:", "cidr:{ {"};
	struct buf *in = buf_new(512, 0), *key = buf_new(64, 0);
	struct buf *spec = buf_new(600, 0);

	for (int round = 0; round < ROUNDS * 2; round++) {
		char *err = NULL;
		struct map *map;

		random_input(in, 400);
		/* Names are C strings: cut at the first NUL. */
		buf_set(spec, prefixes[rng() % (sizeof(prefixes)
		    / sizeof(prefixes[0]))]);
		buf_puts(spec, buf_str(in));
		if (rng() % 2)
			buf_puts(spec, "}");
		unit_capture_start();
		map = map_open(buf_str(spec), O_RDONLY, MAP_FLAGS_DEFAULT, &err);
		if (map == NULL) {
			if (err == NULL || *err == 0)
				UNIT_FAILF("round %d: open failed without a reason", round);
			free(err);
			n_open_failed++;
		} else {
			n_opened++;
			lookups(map, key, round);
			map_close(&map);
		}
		unit_capture_stop();
	}
	buf_free(&in);
	buf_free(&key);
	buf_free(&spec);
	print_message("inline names: %d opened, %d refused\n", n_opened,
	    n_open_failed);
	assert_true(n_opened > 0 && n_open_failed > 0);
}

/* Random readlline input with random small limits. */
static void
test_readlline(void **state)
{
	struct buf *in = buf_new(MAX_INPUT, 0), *line = buf_new(16, 0);

	for (int round = 0; round < ROUNDS * 2; round++) {
		size_t max = rng() % 3 ? 1 + rng() % 200 : 0;
		FILE *fp;
		struct lline_reader *rd;
		int lineno, last = 0, n = 0;

		random_input(in, MAX_INPUT);
		if (buf_len(in) == 0)
			buf_putc(in, '\n');
		fp = fmemopen(in->data, buf_len(in), "r");
		assert_non_null(fp);
		unit_capture_start();
		rd = lline_open(fp, "FUZZ", max);
		while (lline_read(rd, line, &lineno)) {
			const char *t = buf_str(line);

			if (max && buf_len(line) > max)
				UNIT_FAILF("round %d: line of %zu bytes over the limit %zu",
				    round, buf_len(line), max);
			if (strlen(t) != buf_len(line))
				UNIT_FAILF("round %d: NUL inside a line", round);
			if (strchr(t, '\n') != NULL)
				UNIT_FAILF("round %d: newline inside a line", round);
			if (buf_len(line) == 0 || ISSPACE((unsigned char)t[0])
			    || t[0] == '#')
				UNIT_FAILF("round %d: empty, indented or comment line \"%s\"",
				    round, t);
			if (lineno <= last || lineno > lline_lineno(rd))
				UNIT_FAILF("round %d: line number %d after %d", round,
				    lineno, last);
			last = lineno;
			n_lines++;
			if (++n > MAX_INPUT)
				UNIT_FAILF("round %d: too many lines", round);
		}
		check_messages("FUZZ", round);
		unit_capture_stop();
		lline_close(&rd);
		fclose(fp);
	}
	buf_free(&in);
	buf_free(&line);
	print_message("readlline: %d lines\n", n_lines);
	assert_true(n_lines > ROUNDS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_files),
		cmocka_unit_test(test_inline_names),
		cmocka_unit_test(test_readlline),
	};

	return cmocka_run_group_tests_name("fuzz", tests, NULL, NULL);
}

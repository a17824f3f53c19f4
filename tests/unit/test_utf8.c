/* SPDX-License-Identifier: MIT */
/* test_utf8 - UTF-8 validity, Unicode full case folding, and the UTF-8
 * mode of tables that smtputf8_enable turns on (core/util/utf8.c,
 * map.c, mail_conf.c).  tests/compat (TestUtf8Keys) compares the folding
 * with Debian's Postfix over every cased code point. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "buf.h"
#include "mail_conf.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "utf8.h"
#include "unit.h"

static void
test_valid(void **state)
{
	static const struct {
		const char *in;
		int valid;
	} cases[] = {
		{"", 1},
		{"plain ascii", 1},
		{"j\xc3\xbcrgen", 1},			/* U+00FC */
		{"\xe2\x82\xac", 1},			/* U+20AC */
		{"\xf0\x9f\x98\x80", 1},		/* U+1F600 */
		{"\xf4\x8f\xbf\xbf", 1},		/* U+10FFFF */
		{"\xff", 0},				/* never a lead byte */
		{"J\xc3", 0},				/* truncated */
		{"\x80", 0},				/* stray continuation */
		{"\xc0\xaf", 0},			/* overlong '/' */
		{"\xe0\x80\xaf", 0},			/* overlong, 3 bytes */
		{"\xed\xa0\x80", 0},			/* surrogate U+D800 */
		{"\xf4\x90\x80\x80", 0},		/* U+110000 */
		{"J\xdcRGEN", 0},			/* Latin-1 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (utf8_valid(cases[i].in) != cases[i].valid)
			UNIT_FAILF("utf8_valid case %zu: want %d", i, cases[i].valid);
	assert_true(utf8_allascii("abc"));
	assert_false(utf8_allascii("j\xc3\xbcrgen"));
}

static void
test_casefold(void **state)
{
	static const struct {
		const char *in;
		const char *out;		/* NULL: refused */
	} cases[] = {
		{"JOE@Example.COM", "joe@example.com"},
		{"J\xc3\x9cRGEN@example.com", "j\xc3\xbcrgen@example.com"},
		{"STRA\xc3\x9f" "E", "strasse"},		/* sharp s: F */
		{"\xce\xa3\xce\x91\xce\xa3", "\xcf\x83\xce\xb1\xcf\x83"},	/* ΣΑΣ */
		{"\xcf\x83\xce\xb1\xcf\x82", "\xcf\x83\xce\xb1\xcf\x83"},	/* final sigma */
		{"\xc4\xb0", "i\xcc\x87"},		/* U+0130 -> i U+0307 */
		{"\xef\xac\x83", "ffi"},		/* ligature ffi */
		{"\xc7\x85", "\xc7\x86"},		/* titlecase DZ caron */
		{"\xe2\x84\xaa", "k"},			/* KELVIN SIGN */
		{"\xef\xbc\xaa", "\xef\xbd\x8a"},	/* FULLWIDTH J */
		{"\xf0\x90\x90\x80", "\xf0\x90\x90\xa8"},	/* DESERET U+10400 */
		{"\xe2\x82\xac 100", "\xe2\x82\xac 100"},	/* no case */
		{"J\xc3", NULL},
		{"\xed\xa0\x80", NULL},
	};
	struct buf *out = buf_new(16, BUF_NOLIMIT);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = utf8_casefold(out, cases[i].in);

		if (cases[i].out == NULL) {
			if (rc != -1 || buf_len(out) != 0)
				UNIT_FAILF("casefold case %zu: not refused", i);
			continue;
		}
		if (rc != 0 || strcmp(buf_str(out), cases[i].out) != 0)
			UNIT_FAILF("casefold case %zu: got \"%s\"", i, buf_str(out));
	}
	buf_free(&out);
}

/* read_main_cf - a config directory whose main.cf holds text. */
static void
read_main_cf(const char *text)
{
	char *dir = concatenate(unit_tmpdir(), "/conf", (char *)0);
	char *path = concatenate(dir, "/main.cf", (char *)0);
	FILE *fp;

	mkdir(dir, 0700);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	mail_conf_set_dir(dir);
	mail_conf_read(0);
	free(dir);
	free(path);
}

static enum map_status
lookup(const char *table, const char *key, char **value_r)
{
	char *err = NULL;
	struct map *map = map_open(table, O_RDONLY, MAP_FLAGS_DEFAULT, &err);
	enum map_status st;
	const char *v;

	if (map == NULL)
		UNIT_FAILF("open %s: %s", table, err);
	st = map_lookup(map, key, &v);
	if (value_r)
		*value_r = st == MAP_FOUND ? xstrdup(v) : NULL;
	map_close(&map);
	return st;
}

static void
test_map_mode(void **state)
{
	const char *table = "inline:{ j\xc3\xbcrgen@example.com=juergen, strasse=street }";
	char *v;

	(void)state;
	/* compatibility_level 3.6: smtputf8_enable defaults to yes. */
	read_main_cf("compatibility_level = 3.6\n");
	assert_true(map_utf8_enabled());
	assert_int_equal(lookup(table, "J\xc3\x9cRGEN@EXAMPLE.COM", &v), MAP_FOUND);
	assert_string_equal(v, "juergen");
	free(v);
	assert_int_equal(lookup(table, "STRA\xc3\x9f" "E", NULL), MAP_FOUND);
	unit_capture_start();
	assert_int_equal(lookup(table, "J\xc3", NULL), MAP_NOTFOUND);
	assert_int_equal(unit_captured(MSG_WARN,
	    "non-UTF-8 key \"J?\": malformed UTF-8 or invalid codepoint"), 1);
	unit_capture_stop();

	/* smtputf8_enable = no, or level 0 (its default is then no): ASCII
	 * folding only, and any bytes are looked up. */
	read_main_cf("compatibility_level = 3.6\nsmtputf8_enable = no\n");
	assert_false(map_utf8_enabled());
	assert_int_equal(lookup(table, "J\xc3\x9cRGEN@EXAMPLE.COM", NULL), MAP_NOTFOUND);
	assert_int_equal(lookup(table, "J\xc3\xbcRGEN@EXAMPLE.COM", NULL), MAP_FOUND);
	unit_capture_start();
	assert_int_equal(lookup(table, "J\xc3", NULL), MAP_NOTFOUND);
	assert_int_equal(unit_capture_count(), 0);
	unit_capture_stop();
	read_main_cf("compatibility_level = 0\n");
	assert_false(map_utf8_enabled());
	read_main_cf("compatibility_level = 2\n");
	assert_true(map_utf8_enabled());
	/* An override (master.cf -o) counts too. */
	mail_conf_override("smtputf8_enable", "no");
	assert_false(map_utf8_enabled());
	mail_conf_override("smtputf8_enable", "yes");
	assert_true(map_utf8_enabled());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_casefold),
		cmocka_unit_test(test_map_mode),
	};

	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}

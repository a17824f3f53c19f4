/* SPDX-License-Identifier: MIT */
/* test_map_cidr - cidr: tables (cidr_table(5)): IPv4 and IPv6 networks,
 * boundaries, first match wins, negation, if/endif, bad rules with
 * "FILE, line N" warnings, the inline form and the explain trace.
 * Expected answers were checked against Postfix 3.7's postmap -q. */
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
#include "stringops.h"
#include "unit.h"

#define MAXQ 24

struct query {
	const char *key;
	const char *value;	/* NULL: not found */
};

struct cidr_case {
	const char *name;
	const char *text;
	struct query q[MAXQ];	/* ends at key == NULL */
};

static const struct cidr_case cases[] = {
	{"IPv4 exact and network",
	    "192.168.1.1 HOST\n"
	    "192.168.1.0/24 NET24\n"
	    "10.0.0.0/8 NET8\n",
	    {{"192.168.1.1", "HOST"}, {"192.168.1.2", "NET24"},
	    {"192.168.1.0", "NET24"}, {"192.168.1.255", "NET24"},
	    {"192.168.0.255", NULL}, {"192.168.2.0", NULL},
	    {"10.0.0.0", "NET8"}, {"10.255.255.255", "NET8"},
	    {"11.0.0.0", NULL}, {"9.255.255.255", NULL}, {NULL}}},
	{"IPv4 odd prefixes",
	    "172.16.0.0/12 P12\n"
	    "192.168.2.0/23 P23\n"
	    "192.168.4.128/25 P25\n"
	    "192.168.5.4/31 P31\n"
	    "128.0.0.0/1 P1\n",
	    {{"172.16.0.1", "P12"}, {"172.31.255.255", "P12"},
	    {"172.32.0.0", "P1"}, {"172.15.255.255", "P1"},
	    {"192.168.2.7", "P23"}, {"192.168.3.255", "P23"},
	    {"192.168.4.128", "P25"}, {"192.168.4.255", "P25"},
	    {"192.168.4.127", "P1"}, {"192.168.5.4", "P31"},
	    {"192.168.5.5", "P31"}, {"192.168.5.6", "P1"},
	    {"127.255.255.255", NULL}, {"0.0.0.0", NULL}, {NULL}}},
	{"catch-all per family",
	    "0.0.0.0/0 ANY4\n"
	    "::/0 ANY6\n",
	    {{"1.2.3.4", "ANY4"}, {"255.255.255.255", "ANY4"},
	    {"::", "ANY6"}, {"::1", "ANY6"}, {"ffff::", "ANY6"}, {NULL}}},
	{"first match wins",
	    "10.0.0.0/8 GENERAL\n"
	    "10.1.2.3 SPECIFIC\n"
	    "10.1.2.4 FIRST\n"
	    "10.1.2.4 SECOND\n",
	    {{"10.1.2.3", "GENERAL"}, {"10.1.2.4", "GENERAL"}, {NULL}}},
	{"first match wins (specific first)",
	    "10.1.2.3 SPECIFIC\n"
	    "10.0.0.0/8 GENERAL\n",
	    {{"10.1.2.3", "SPECIFIC"}, {"10.1.2.4", "GENERAL"}, {NULL}}},
	{"IPv6",
	    "2001:db8::1 HOST6\n"
	    "2001:db8::/32 NET32\n"
	    "fe80::/10 LINKLOCAL\n"
	    "2001:0DB9:0000::/48 LEADZEROS\n"
	    "::ffff:0:0/96 MAPPED\n",
	    {{"2001:db8::1", "HOST6"}, {"2001:DB8:0:0:0:0:0:1", "HOST6"},
	    {"2001:0db8::0001", "HOST6"}, {"2001:db8::2", "NET32"},
	    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "NET32"},
	    {"2001:db9::", "LEADZEROS"}, {"2001:db9:0:ffff::1", "LEADZEROS"},
	    {"2001:db9:1::", NULL}, {"2001:db7:ffff::", NULL},
	    {"fe80::1", "LINKLOCAL"}, {"febf:ffff::", "LINKLOCAL"},
	    {"fec0::", NULL},
	    /* Mapped IPv4 is IPv6 here, and IPv4 keys never match IPv6. */
	    {"::ffff:1.2.3.4", "MAPPED"}, {"0:0:0:0:0:ffff:0102:0304", "MAPPED"},
	    {"1.2.3.4", NULL}, {NULL}}},
	{"families never cross",
	    "1.2.3.0/24 V4\n"
	    "!9.9.9.9 NOTNINE\n",
	    {{"::ffff:1.2.3.4", NULL}, {"::1.2.3.4", NULL}, {"2001::1", NULL},
	    {"1.2.3.4", "V4"}, {"8.8.8.8", "NOTNINE"}, {"9.9.9.9", NULL},
	    {NULL}}},
	{"brackets",
	    "[192.0.2.1] B4\n"
	    "[192.0.2.0]/24 B4NET\n"
	    "[198.51.100.0/24] B4NET2\n"
	    "[2001:db8::1] B6\n",
	    {{"192.0.2.1", "B4"}, {"192.0.2.9", "B4NET"},
	    {"198.51.100.7", "B4NET2"}, {"2001:db8::1", "B6"},
	    /* Keys are never bracketed. */
	    {"[192.0.2.1]", NULL}, {NULL}}},
	{"results",
	    "1.1.1.1 OK\n"
	    "1.1.1.2\n  CONTINUED\n"
	    "1.1.1.3 REJECT text with  spaces  \n"
	    "1.1.1.4\tTAB\n"
	    "1.1.1.5 if\n"
	    "1.1.1.6 first\n\tsecond\n"
	    "1.1.1.7 /8 REST\n"
	    "1.1.1.0/24 prefix 08 ok\n",
	    {{"1.1.1.1", "OK"}, {"1.1.1.2", "CONTINUED"},
	    {"1.1.1.3", "REJECT text with  spaces"}, {"1.1.1.4", "TAB"},
	    {"1.1.1.5", "if"}, {"1.1.1.6", "first\tsecond"},
	    {"1.1.1.7", "/8 REST"}, {"1.1.1.8", "prefix 08 ok"}, {NULL}}},
	{"negation",
	    "!192.168.0.0/16 OUTSIDE\n"
	    "! 10.0.0.0/8 NOT10\n"
	    "0.0.0.0/0 INSIDE\n",
	    {{"8.8.8.8", "OUTSIDE"}, {"192.168.1.1", "NOT10"},
	    {"2001::1", NULL}, {NULL}}},
	{"if/endif",
	    "if 172.16.0.0/12\n"
	    "172.16.1.0/24 INNER\n"
	    "!172.16.1.0/24 NOTINNER\n"
	    "endif\n"
	    "if !192.0.0.0/8\n"
	    "IF 10.0.0.0/8\n"
	    "10.1.0.0/16 NESTED\n"
	    "ENDIF\n"
	    "0.0.0.0/0 FALLBACK\n"
	    "endif\n"
	    "192.0.2.1 AFTER\n",
	    {{"172.16.1.5", "INNER"}, {"172.16.2.5", "NOTINNER"},
	    {"10.1.2.3", "NESTED"}, {"10.2.0.1", "FALLBACK"},
	    {"8.8.8.8", "FALLBACK"}, {"192.0.2.1", "AFTER"},
	    {"192.0.2.2", NULL}, {"2001::1", NULL}, {NULL}}},
	{"if with negation and whitespace",
	    "if ! 7.0.0.0/8\n"
	    "0.0.0.0/0 NOTSEVEN\n"
	    "endif\t \n"
	    "7.7.7.7 SEVEN\n",
	    {{"7.7.7.7", "SEVEN"}, {"8.8.8.8", "NOTSEVEN"}, {NULL}}},
	{"empty", "# nothing\n\n", {{"1.2.3.4", NULL}, {NULL}}},
	{"invalid keys",
	    "0.0.0.0/0 ANY4\n::/0 ANY6\n",
	    {{"", NULL}, {"garbage", NULL}, {"1.2.3", NULL}, {"1.2.3.4.5", NULL},
	    {"1.2.3.4/32", NULL}, {" 1.2.3.4", NULL}, {"1.2.3.4 ", NULL},
	    {"01.2.3.4", NULL}, {"1.2.3.04", NULL}, {"256.1.1.1", NULL},
	    {"16909060", NULL}, {"0x01020304", NULL}, {"fe80::1%eth0", NULL},
	    {"[::1]", NULL}, {"::1::2", NULL}, {"1:2:3:4:5:6:7:8:9", NULL},
	    {"localhost", NULL}, {"1.2.3.4", "ANY4"}, {NULL}}},
};

/* open_text - write text to a file and open it as cidr:PATH. */
static struct map *
open_text(const char *text, int flags, char **path_r)
{
	char *path = unit_write_file("t.cidr", text, (size_t)-1);
	char *spec = concatenate("cidr:", path, (char *)0);
	char *err = NULL;
	struct map *map = map_open(spec, O_RDONLY, flags, &err);

	if (map == NULL)
		UNIT_FAILF("open %s: %s", spec, err);
	free(spec);
	if (path_r)
		*path_r = path;
	else
		free(path);
	return map;
}

static void
run_queries(struct map *map, const char *name, const struct query *q)
{
	for (; q->key; q++) {
		const char *value = NULL;
		enum map_status st = map_lookup(map, q->key, &value);

		if (q->value == NULL && st != MAP_NOTFOUND)
			UNIT_FAILF("%s: \"%s\": found \"%s\", expected not found", name,
			    q->key, st == MAP_FOUND ? value : "(error)");
		if (q->value != NULL && (st != MAP_FOUND || strcmp(value, q->value) != 0))
			UNIT_FAILF("%s: \"%s\": %s, expected \"%s\"", name, q->key,
			    st == MAP_FOUND ? value : "not found", q->value);
	}
}

static void
test_lookups(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct map *map;

		unit_capture_start();
		map = open_text(cases[i].text, MAP_FLAGS_DEFAULT, NULL);
		/* None of these tables has a bad rule. */
		if (unit_capture_count() != 0)
			UNIT_FAILF("%s: unexpected warning", cases[i].name);
		unit_capture_stop();
		run_queries(map, cases[i].name, cases[i].q);
		assert_int_equal(map->caps & MAP_CAP_PATTERN, MAP_CAP_PATTERN);
		map_close(&map);
	}
}

/* The same rules written inline, one braced item per line. */
static void
test_inline_equivalent(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xstrdup(cases[i].text), *cp = text, *line;
		struct buf *spec = buf_new(64, 0);
		struct map *map;
		char *err = NULL;

		/* Join continuation lines first: inline rules are logical lines. */
		if (strstr(text, "\n ") || strstr(text, "\n\t")) {
			free(text);
			buf_free(&spec);
			continue;
		}
		buf_puts(spec, "cidr:{");
		while ((line = mystrtok(&cp, "\n")) != NULL)
			buf_printf(spec, " {%s},", line);
		buf_puts(spec, " }");
		map = map_open(buf_str(spec), O_RDONLY, MAP_FLAGS_DEFAULT, &err);
		if (map == NULL)
			UNIT_FAILF("%s: %s", buf_str(spec), err);
		run_queries(map, buf_str(spec), cases[i].q);
		map_close(&map);
		buf_free(&spec);
		free(text);
	}
}

/* Bad rules: skipped with one warning naming file and line 2; the rules
 * before and after still work and the bad rule matches nothing. */
static void
test_bad_rules(void **state)
{
	static const struct {
		const char *line;
		const char *warn;
		const char *key;	/* would have matched if accepted */
	} bad[] = {
		{"10.0.0.0/33 X", "prefix length 33 is longer than 32 bits in \"10.0.0.0/33\"", "10.0.0.1"},
		{"10.1.2.3/8 X", "non-zero host bits in \"10.1.2.3/8\" (did you mean \"10.0.0.0/8\"?)", "10.1.2.3"},
		{"1.2.3.4/08 X", "did you mean \"1.0.0.0/8\"?", "1.2.3.4"},
		{"2001:db8::1/64 X", "did you mean \"2001:db8::/64\"?", "2001:db8::1"},
		{"2001:db8::/129 X", "longer than 128 bits", "2001:db8::"},
		{"10.0.0.0/-1 X", "bad prefix length in \"10.0.0.0/-1\"", "10.0.0.1"},
		{"10.0.0.0/ X", "bad prefix length in \"10.0.0.0/\"", "10.0.0.1"},
		{"10.0.0.0/8x X", "bad prefix length", "10.0.0.1"},
		{"10.0.0.0/99999999999999999999 X", "bad prefix length", "10.0.0.1"},
		{"abc X", "bad address pattern \"abc\"", "10.0.0.1"},
		{"010.0.0.1 X", "bad address pattern \"010.0.0.1\"", "10.0.0.1"},
		{"10.0.0.1.5 X", "bad address pattern", "10.0.0.1"},
		{"300.0.0.1 X", "bad address pattern", "10.0.0.1"},
		{"10.0.0.1", "no lookup result", "10.0.0.1"},
		{"!10.0.0.1", "no lookup result", "10.0.0.2"},
		{"! X", "bad address pattern \"X\"", "10.0.0.1"},
		{"[10.0.0.1 X", "missing ']' after \"[10.0.0.1\"", "10.0.0.1"},
		{"[10.0.0.1]] X", "unexpected text after \"[10.0.0.1]\"", "10.0.0.1"},
		{"[10.0.0.0/8]/8 X", "unexpected text after", "10.0.0.1"},
		{"[] X", "bad address pattern \"[]\"", "10.0.0.1"},
		{"10.0.0.1] X", "bad address pattern", "10.0.0.1"},
		{"10.0.0.0/8] X", "bad prefix length", "10.0.0.1"},
		{"ifx 10.0.0.1", "bad address pattern \"ifx\"", "10.0.0.1"},
		{"endif", "\"endif\" without \"if\"", NULL},
		{"endif junk", "unexpected text after \"endif\"", NULL},
		{"endif#x", "unexpected text after \"endif\"", NULL},
		{"if", "\"if\" without address pattern", NULL},
		{"if !", "\"if\" without address pattern", NULL},
		{"if 10.0.0.0/8 X", "bad prefix length in \"10.0.0.0/8 X\"", "10.0.0.1"},
		/* Unclosed: the rest of the file is inside the block. */
		{"if 192.0.2.0/24", "\"if\" has no matching \"endif\"", NULL},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = concatenate("192.0.2.1 FIRST\n", bad[i].line,
		    "\n192.0.2.2 LAST\n", (char *)0);
		char *path, *where;
		struct map *map;
		const struct query q[] = {
			{"192.0.2.1", "FIRST"}, {"192.0.2.2", "LAST"},
			{bad[i].key ? bad[i].key : "10.9.9.9", NULL}, {NULL},
		};

		unit_capture_start();
		map = open_text(text, MAP_FLAGS_DEFAULT, &path);
		where = concatenate(path, ", line 2: ", (char *)0);
		if (unit_capture_count() != 1 || unit_captured(MSG_WARN, where) != 1
		    || unit_captured(MSG_WARN, bad[i].warn) != 1)
			UNIT_FAILF("\"%s\": expected one warning \"%s%s\"", bad[i].line,
			    where, bad[i].warn);
		unit_capture_stop();
		run_queries(map, bad[i].line, q);
		map_close(&map);
		free(where);
		free(path);
		free(text);
	}
}

/* A broken "if" must not swallow or expose the block's rules wrongly:
 * a skipped "if" line leaves its rules unconditional and its "endif"
 * unmatched, as in Postfix. */
static void
test_bad_if_block(void **state)
{
	char *path;
	struct map *map;
	const struct query q[] = {
		{"5.5.5.5", "FIVE"}, {"6.6.6.6", "SIX"}, {"6.7.7.7", NULL},
		{"8.8.8.8", NULL}, {NULL},
	};

	unit_capture_start();
	map = open_text("if 5.0.0.0/8 extra\n5.5.5.5 FIVE\nendif\n"
	    "if 6.6.6.0/24\n6.6.6.6 SIX\n", MAP_FLAGS_DEFAULT, &path);
	assert_int_equal(unit_capture_count(), 3);
	assert_int_equal(unit_captured(MSG_WARN, ", line 1: bad prefix length"), 1);
	assert_int_equal(unit_captured(MSG_WARN, ", line 3: \"endif\" without \"if\""), 1);
	assert_int_equal(unit_captured(MSG_WARN, ", line 4: \"if\" has no matching \"endif\""), 1);
	unit_capture_stop();
	run_queries(map, "bad if", q);
	map_close(&map);
	free(path);
}

static void
test_inline_form(void **state)
{
	static const struct {
		const char *spec;
		const char *key;
		const char *value;	/* NULL: not found */
		const char *warn;	/* expected warning, or NULL */
	} ok[] = {
		{"cidr:{ {1.2.3.0/24 REJECT}, {1.2.3.4 OK} }", "1.2.3.4", "REJECT", NULL},
		{"cidr:{{1.2.3.4 OK},{1.2.3.0/24 REJECT}}", "1.2.3.4", "OK", NULL},
		{"cidr:{ { 1.2.3.4   spaced  result } }", "1.2.3.4", "spaced  result", NULL},
		{"cidr:{ {bad REJECT}, {1.2.3.4 OK} }", "1.2.3.4", "OK",
		    "{ {bad REJECT}, {1.2.3.4 OK} }, line 1: bad address pattern \"bad\""},
		{"cidr:{ {1.1.1.1 A}, {1.2.3.4/8 B} }", "1.2.3.4", NULL, ", line 2: non-zero host bits"},
		{"cidr:{ {if 1.2.3.0/24}, {1.2.3.4 IN}, {endif}, {0.0.0.0/0 OUT} }", "1.2.3.4", "IN", NULL},
		{"cidr:{ {if 1.2.3.0/24}, {1.2.3.4 IN}, {endif}, {0.0.0.0/0 OUT} }", "1.2.4.4", "OUT", NULL},
		{"cidr:{ {2001:db8::/32 V6} }", "2001:db8::5", "V6", NULL},
		{"cidr:{}", "1.2.3.4", NULL, NULL},
		{"cidr:{ }", "1.2.3.4", NULL, NULL},
	};
	static const struct {
		const char *spec;
		const char *err;
	} bad[] = {
		{"cidr:{ 1.2.3.4 OK }", "expected \"{rule}\""},
		{"cidr:{ {1.2.3.4 OK }", "missing '}'"},
		{"cidr:{ {1.2.3.4 OK}", "missing '}'"},
		{"cidr:{ {1.2.3.4 OK}, 1.2.3.5 X }", "expected \"{rule}\" at \"1.2.3.5 X\""},
		{"cidr:{", "missing '}'"},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *err = NULL;
		struct map *map;
		const struct query q[] = {{ok[i].key, ok[i].value}, {NULL}};

		unit_capture_start();
		map = map_open(ok[i].spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err);
		if (map == NULL)
			UNIT_FAILF("%s: %s", ok[i].spec, err);
		if (unit_capture_count() != (ok[i].warn ? 1 : 0)
		    || (ok[i].warn && unit_captured(MSG_WARN, ok[i].warn) != 1))
			UNIT_FAILF("%s: expected warning \"%s\"", ok[i].spec,
			    ok[i].warn ? ok[i].warn : "(none)");
		unit_capture_stop();
		run_queries(map, ok[i].spec, q);
		map_close(&map);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;

		if (map_open(bad[i].spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err) != NULL)
			UNIT_FAILF("%s: opened", bad[i].spec);
		if (err == NULL || strstr(err, bad[i].err) == NULL)
			UNIT_FAILF("%s: error \"%s\", expected \"%s\"", bad[i].spec,
			    err ? err : "(null)", bad[i].err);
		free(err);
	}
}

static void
test_open_errors(void **state)
{
	char *err = NULL;

	assert_null(map_open("cidr:/nonexistent/t.cidr", O_RDONLY,
	    MAP_FLAGS_DEFAULT, &err));
	assert_non_null(strstr(err, "open /nonexistent/t.cidr: No such file or directory"));
	free(err);
	/* Read-only type: refused for writing. */
	assert_null(map_open("cidr:/nonexistent/t.cidr", O_RDWR | O_CREAT,
	    MAP_FLAGS_DEFAULT, &err));
	assert_non_null(strstr(err, "unsupported operation"));
	free(err);
	/* A directory is not a table. */
	assert_null(map_open("cidr:/", O_RDONLY, MAP_FLAGS_DEFAULT, &err));
	assert_non_null(err);
	free(err);
}

/* Explain: file, line and network of the rule that matched. */
static void
test_explain(void **state)
{
	char *path, *want1, *want2;
	struct map *map;
	const char *value;

	map = open_text("10.0.0.0/8 A\nif 192.168.0.0/16\n192.168.1.0/24 B\nendif\n",
	    MAP_FLAGS_DEFAULT | MAP_FLAG_EXPLAIN, &path);
	want1 = concatenate(path, ", line 3: \"192.168.1.7\" matches 192.168.1.0/24",
	    (char *)0);
	want2 = concatenate(path, ", line 2: if 192.168.0.0/16: entered", (char *)0);
	assert_int_equal(map_lookup(map, "192.168.1.7", &value), MAP_FOUND);
	assert_string_equal(value, "B");
	if (strstr(map_explain_text(map), want1) == NULL
	    || strstr(map_explain_text(map), want2) == NULL)
		UNIT_FAILF("trace: %s", map_explain_text(map));
	map_explain_reset(map);
	assert_int_equal(map_lookup(map, "8.8.8.8", &value), MAP_NOTFOUND);
	assert_non_null(strstr(map_explain_text(map), "skipped"));
	assert_non_null(strstr(map_explain_text(map), "\"8.8.8.8\" not found"));
	map_explain_reset(map);
	assert_int_equal(map_lookup(map, "nonsense", &value), MAP_NOTFOUND);
	assert_non_null(strstr(map_explain_text(map), "\"nonsense\" is not an IP address"));
	map_close(&map);
	free(want1);
	free(want2);
	free(path);
}

/* A big table: 10,000 networks; first, last, middle and misses. */
static void
test_big_table(void **state)
{
	enum { N = 10000 };
	struct buf *text = buf_new(N * 32, 0);
	struct map *map;
	const char *value;
	char key[64], want[32];

	for (int i = 0; i < N; i++)
		buf_printf(text, "10.%d.%d.0/24 R%d\n", i / 256, i % 256, i);
	buf_puts(text, "2001:db8::/32 V6\n");
	map = open_text(buf_str(text), MAP_FLAGS_DEFAULT, NULL);
	for (int i = 0; i < N; i += 97) {
		snprintf(key, sizeof(key), "10.%d.%d.%d", i / 256, i % 256, i % 250);
		snprintf(want, sizeof(want), "R%d", i);
		assert_int_equal(map_lookup(map, key, &value), MAP_FOUND);
		assert_string_equal(value, want);
	}
	assert_int_equal(map_lookup(map, "10.39.15.1", &value), MAP_FOUND);
	assert_string_equal(value, "R9999");
	/* Misses scan everything; do many to keep the scan honest. */
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "11.0.%d.%d", i / 256, i % 256);
		assert_int_equal(map_lookup(map, key, &value), MAP_NOTFOUND);
	}
	assert_int_equal(map_lookup(map, "2001:db8::1", &value), MAP_FOUND);
	assert_string_equal(value, "V6");
	map_close(&map);
	buf_free(&text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_inline_equivalent),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_bad_if_block),
		cmocka_unit_test(test_inline_form),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_big_table),
	};

	return cmocka_run_group_tests_name("map_cidr", tests, NULL, NULL);
}

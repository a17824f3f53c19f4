/* SPDX-License-Identifier: MIT */
/* test_match_list - domain lists (exact names, parent matching, .parent,
 * negation, first match wins, /file, type:table with parent forms,
 * temporary errors), host/address lists (IPv4/IPv6 CIDR, [addr],
 * tables), mynetworks, and the RFC 5321 path parser (addr_parse). */
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

#include "addr_parse.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "mynetworks.h"
#include "stringops.h"
#include "unit.h"

/* conf - a fresh main.cf with these lines. */
static void
conf(const char *lines)
{
	char *dir = concatenate(unit_tmpdir(), "/conf", (char *)0);
	char *path = concatenate(dir, "/main.cf", (char *)0);
	FILE *fp;

	mkdir(dir, 0700);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "myhostname = mx.our.test\n%s\n", lines);
	fclose(fp);
	mail_conf_set_dir(dir);
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_GLOBAL);
	free(dir);
	free(path);
}

struct q {
	const char *name;
	const char *addr;
	int want;
};

struct list_case {
	const char *what;
	const char *param;
	const char *patterns;
	int kind;
	struct q q[12];
};

static const struct list_case list_cases[] = {
	{"exact names only (mydestination)", "mydestination",
	    "our.test, Localhost", MATCH_LIST_DOMAIN,
	    {{"our.test", NULL, 1}, {"OUR.TEST", NULL, 1}, {"our.test.", NULL, 1},
	    {"sub.our.test", NULL, 0}, {"localhost", NULL, 1},
	    {"xour.test", NULL, 0}, {"test", NULL, 0}, {NULL}}},
	{"parent matching (relay_domains)", "relay_domains",
	    "relay.test", MATCH_LIST_DOMAIN,
	    {{"relay.test", NULL, 1}, {"a.b.relay.test", NULL, 1},
	    {"xrelay.test", NULL, 0}, {"test", NULL, 0}, {NULL}}},
	{".parent matches subdomains only", "mydestination",
	    ".our.test", MATCH_LIST_DOMAIN,
	    {{"our.test", NULL, 0}, {"a.our.test", NULL, 1}, {NULL}}},
	{"negation, first match wins", "relay_domains",
	    "!private.relay.test, relay.test", MATCH_LIST_DOMAIN,
	    {{"relay.test", NULL, 1}, {"private.relay.test", NULL, 0},
	    {"x.private.relay.test", NULL, 0}, {"y.relay.test", NULL, 1},
	    {NULL}}},
	{"table with parent forms", "relay_domains",
	    "inline:{example.test=x, {!no.test = y}}", MATCH_LIST_DOMAIN,
	    {{"example.test", NULL, 1}, {"a.b.example.test", NULL, 1},
	    {"other.test", NULL, 0}, {NULL}}},
	{"table with .parent forms", "mydestination",
	    "inline:{.example.test=x}", MATCH_LIST_DOMAIN,
	    {{"example.test", NULL, 0}, {"a.example.test", NULL, 1}, {NULL}}},
	{"table error stops the search", "relay_domains",
	    "fail:down, relay.test", MATCH_LIST_DOMAIN,
	    {{"relay.test", NULL, -1}, {NULL}}},
	{"CIDR IPv4 and IPv6", "mynetworks",
	    "127.0.0.0/8, 192.168.1.0/24, [::1]/128, [2001:db8::]/32, 10.0.0.7",
	    MATCH_LIST_HOSTADDR,
	    {{NULL, "127.1.2.3", 1}, {NULL, "192.168.1.255", 1},
	    {NULL, "192.168.2.1", 0}, {NULL, "::1", 1}, {NULL, "::2", 0},
	    {NULL, "2001:db8:ffff::1", 1}, {NULL, "2001:db9::1", 0},
	    {NULL, "10.0.0.7", 1}, {NULL, "10.0.0.8", 0}, {NULL}}},
	{"host bits and odd prefixes", "mynetworks",
	    "172.16.5.5/12, [1.2.3.4], 2001:db8::/33", MATCH_LIST_HOSTADDR,
	    {{NULL, "172.31.0.1", 1}, {NULL, "172.32.0.1", 0},
	    {NULL, "1.2.3.4", 1}, {NULL, "2001:db8:7fff::", 1},
	    {NULL, "2001:db8:8000::", 0}, {NULL}}},
	{"bad patterns never match", "mynetworks",
	    "1.2.3.0/33, [zz]/8, 300.1.1.1", MATCH_LIST_HOSTADDR,
	    {{NULL, "1.2.3.4", 0}, {NULL, "300.1.1.1", 0}, {NULL}}},
	{"names and tables in host lists", "mynetworks",
	    "trusted.test, cidr:{{10.9.0.0/16 ok}}", MATCH_LIST_HOSTADDR,
	    {{"mail.trusted.test", "192.0.2.1", 1}, {NULL, "10.9.200.1", 1},
	    {"unknown", "10.8.0.1", 0}, {NULL}}},
};

static void
test_lists(void **state)
{
	(void)state;
	conf("");
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const struct list_case *c = &list_cases[i];
		struct match_list *list;

		unit_capture_start();
		list = match_list_create(c->param, c->patterns, c->kind);
		for (const struct q *q = c->q; q->name || q->addr; q++) {
			int got = match_list_match(list, q->name, q->addr);

			if (got != q->want)
				UNIT_FAILF("%s: %s / %s: got %d, want %d", c->what,
				    q->name ? q->name : "-", q->addr ? q->addr : "-",
				    got, q->want);
		}
		match_list_free(&list);
		assert_null(list);
		unit_capture_stop();
	}
}

static void
test_list_warnings(void **state)
{
	struct match_list *list;

	(void)state;
	conf("");
	unit_capture_start();
	list = match_list_create("mynetworks", "1.2.3.0/33", MATCH_LIST_HOSTADDR);
	assert_int_equal(unit_captured(MSG_WARN, "mynetworks: bad address pattern: 1.2.3.0/33"), 1);
	match_list_free(&list);
	list = match_list_create("relay_domains", "/nonexistent/file", MATCH_LIST_DOMAIN);
	assert_int_equal(unit_captured(MSG_WARN, "open /nonexistent/file"), 1);
	/* An unreadable file is a temporary error, never "not listed". */
	assert_int_equal(match_list_match(list, "x.test", NULL), -1);
	match_list_free(&list);
	list = match_list_create("relay_domains", "inline:{a=b", MATCH_LIST_DOMAIN);
	assert_int_equal(unit_captured(MSG_WARN, "missing '}'"), 1);
	match_list_free(&list);
	unit_capture_stop();
}

static void
test_list_file(void **state)
{
	char *path, *nested, *patterns;
	struct match_list *list;

	(void)state;
	conf("");
	nested = unit_write_file("nested-domains", "deep.test\n", (size_t)-1);
	path = unit_write_file("domains", "# comment\none.test two.test,\n"
	    "  three.test\n!bad.four.test four.test\n", (size_t)-1);
	patterns = concatenate(path, " ", nested, (char *)0);
	list = match_list_create("relay_domains", patterns, MATCH_LIST_DOMAIN);
	assert_int_equal(match_list_match(list, "one.test", NULL), 1);
	assert_int_equal(match_list_match(list, "x.two.test", NULL), 1);
	assert_int_equal(match_list_match(list, "three.test", NULL), 1);
	assert_int_equal(match_list_match(list, "bad.four.test", NULL), 0);
	assert_int_equal(match_list_match(list, "four.test", NULL), 1);
	assert_int_equal(match_list_match(list, "deep.test", NULL), 1);
	assert_int_equal(match_list_match(list, "five.test", NULL), 0);
	match_list_free(&list);
	free(path);
	free(nested);
	free(patterns);
}

static void
test_token(void **state)
{
	char buf[] = " a, inline:{x=1, y=2}  { b c } d";
	char *cp = buf;
	const char *err;

	(void)state;
	assert_string_equal(match_list_token(&cp, &err), "a");
	assert_string_equal(match_list_token(&cp, &err), "inline:{x=1, y=2}");
	assert_string_equal(match_list_token(&cp, &err), "b c");
	assert_string_equal(match_list_token(&cp, &err), "d");
	assert_null(match_list_token(&cp, &err));
	assert_null(err);
}

static void
test_mynetworks(void **state)
{
	(void)state;
	conf("mynetworks = 127.0.0.1/32, [::1]/128, 10.1.0.0/16");
	mynetworks_init();
	assert_int_equal(mynetworks_match(NULL, "127.0.0.1"), 1);
	assert_int_equal(mynetworks_match(NULL, "127.0.0.2"), 0);
	assert_int_equal(mynetworks_match(NULL, "::1"), 1);
	assert_int_equal(mynetworks_match(NULL, "10.1.255.1"), 1);
	assert_int_equal(mynetworks_match(NULL, "10.2.0.1"), 0);
	assert_int_equal(mynetworks_match(NULL, ""), 0);

	/* host style: only the interface addresses (loopback is one). */
	conf("compatibility_level = 3.6\nmynetworks_style = host");
	mynetworks_init();
	assert_int_equal(mynetworks_match(NULL, "127.0.0.1"), 1);
	assert_int_equal(mynetworks_match(NULL, "127.0.0.2"), 0);
	/* legacy subnet style: the loopback subnet. */
	conf("compatibility_level = 0");
	assert_string_equal(mail_conf_str("mynetworks_style"), "subnet");
	mynetworks_init();
	assert_int_equal(mynetworks_match(NULL, "127.0.0.2"), 1);
	assert_int_equal(mynetworks_match(NULL, "198.51.100.1"), 0);
	mynetworks_free();
}

struct path_case {
	const char *in;
	int strict;
	const char *want;	/* NULL: syntax error */
};

static const struct path_case path_cases[] = {
	{"<a@b.test>", 1, "a@b.test"},
	{"<>", 1, ""},
	{"a@b.test", 0, "a@b.test"},
	{"a@b.test", 1, NULL},
	{"<@r1.test,@r2.test:a@b.test>", 1, "a@b.test"},
	{"<@our.test:victim@ext.test>", 1, "victim@ext.test"},
	{"<\"victim@ext.test\"@our.test>", 1, "victim@ext.test@our.test"},
	{"<\"a b\"@x.test>", 1, "a b@x.test"},
	{"<\"a\\\"q\"@x.test>", 1, "a\"q@x.test"},
	{"<\"a>\"@b.test>", 1, "a>@b.test"},
	{"<u@[192.0.2.1]>", 1, "u@[192.0.2.1]"},
	{"<u@[IPv6:2001:db8::1]>", 1, "u@[IPv6:2001:db8::1]"},
	{"< a@b.test >", 0, "a@b.test"},
	{"<a@b.test>>", 1, NULL},
	{"<<a@b.test>", 1, NULL},
	{"<\"a\\\"@b.test>", 1, NULL},
	{"<a@b.test> <c@d.test>", 1, NULL},
	{"<@>", 1, NULL},
	{"<@a.test:>", 1, NULL},
	{"<a(comment)@b.test>", 1, NULL},
	{"<a@b.test\x7f>", 1, NULL},
	{"<a@b.test\r>", 1, NULL},
	{"<a@>", 1, NULL},
	{"<a b@c.test>", 1, NULL},
	{"<a@[1.2.3.4>", 1, NULL},
	{"<user>", 1, "user"},
};

static void
test_addr_parse(void **state)
{
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		char *got = NULL;
		const char *err = NULL;
		int rc = addr_parse_path(c->in, c->strict, &got, &err);

		if (c->want == NULL) {
			if (rc != -1 || got != NULL || err == NULL)
				UNIT_FAILF("\"%s\": accepted as \"%s\"", c->in,
				    got ? got : "(null)");
		} else if (rc != 0 || strcmp(got, c->want) != 0) {
			UNIT_FAILF("\"%s\": got %s, want \"%s\"", c->in,
			    got ? got : err, c->want);
		}
		free(got);
	}
	big = xmalloc(ADDR_PARSE_MAX + 10);
	memset(big, 'a', ADDR_PARSE_MAX + 9);
	big[0] = '<';
	big[ADDR_PARSE_MAX + 8] = '>';
	big[ADDR_PARSE_MAX + 9] = 0;
	{
		char *got;
		const char *err;

		assert_int_equal(addr_parse_path(big, 1, &got, &err), -1);
		assert_string_equal(err, "Address too long");
	}
	free(big);
}

static void
test_addr_forms(void **state)
{
	static const char *const ext[][2] = {
		{"a@b.test", "a@b.test"},
		{"a b@x.test", "\"a b\"@x.test"},
		{"a\"q@x.test", "\"a\\\"q\"@x.test"},
		{"victim@ext.test@our.test", "\"victim@ext.test\"@our.test"},
		{".a@x.test", "\".a\"@x.test"},
		{"a..b@x.test", "\"a..b\"@x.test"},
		{"user", "user"},
		{"", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		char *e = addr_parse_externalize(ext[i][0]);
		char *back = addr_parse_internalize(e);

		assert_string_equal(e, ext[i][1]);
		assert_string_equal(back, ext[i][0]);
		free(e);
		free(back);
	}
	assert_true(addr_parse_has_route("a%b@c.test"));
	assert_true(addr_parse_has_route("b!a@c.test"));
	assert_true(addr_parse_has_route("a@b@c.test"));
	assert_true(addr_parse_has_route("@c.test"));
	assert_false(addr_parse_has_route("a.b@c.test"));
	assert_false(addr_parse_has_route("a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_list_warnings),
		cmocka_unit_test(test_list_file),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_mynetworks),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_addr_forms),
	};

	msg_init("test_match_list", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

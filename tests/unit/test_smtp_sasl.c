/* SPDX-License-Identifier: MIT */
/* test_smtp_sasl - the smtp client's SASL rules: the keys of
 * smtp_sasl_password_maps in Postfix's order (sender when
 * sender-dependent, server host, next hop as written; never the next
 * hop for a fallback relay), the username:password split, the security
 * options and which mechanism they allow, smtp_sasl_mechanism_filter on
 * the EHLO AUTH list, and base64. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>

#include "mail_conf.h"
#include "mail_vars.h"
#include "msg.h"
#include "smtp.h"
#include "stringops.h"
#include "unit.h"

/* smtp.c's, which smtp_io.c reads (the I/O is not used here). */
struct smtp_conf smtp_conf;

static void
configure(const char *maps, const char *filter, int sender_auth)
{
	struct smtp_sasl_settings set = {
		.prefix = "smtp",
		.enable = 1,
		.type = "cyrus",
		.password_maps = maps,
		.mechanism_filter = filter,
		.security_options = "noplaintext, noanonymous",
		.tls_security_options = "noanonymous",
		.tls_verified_security_options = "noanonymous",
		.soft_bounce = 1,
		.sender_auth = sender_auth,
		.timeout = 10,
	};

	smtp_sasl_configure(&set);
}

/* user - the user name found for (sender, host, nexthop), "" none. */
static char *
user(const char *sender, const char *host, const char *nexthop)
{
	struct smtp_sasl_cred *c = NULL;
	int rc = smtp_sasl_passwd_lookup(sender, host, nexthop, &c);
	char *u;

	assert_true(rc == 0 || rc == 1);
	if (rc == 0) {
		assert_null(c);
		return strdup("");
	}
	u = malloc(strlen(c->username) + strlen(c->password) + 2);
	assert_non_null(u);
	snprintf(u, strlen(c->username) + strlen(c->password) + 2, "%s/%s",
	    c->username, c->password);
	smtp_sasl_cred_free(&c);
	assert_null(c);
	return u;
}

#define USER_IS(want, sender, host, nexthop) do { \
	char *got_ = user(sender, host, nexthop); \
	assert_string_equal(got_, want); \
	free(got_); \
} while (0)

static void
test_key_order(void **state)
{
	(void)state;
	configure("inline:{ {mail.isp.example=byhost:p1}, "
	    "{[mail.isp.example]:587=bynexthop:p2}, "
	    "{example.com=bydomain:p:w:3}, {alice@example.org=bysender:p4}, "
	    "{@example.net=bysenderdomain:p5}, {nopass.example=alone} }", "", 1);
	/* The host before the next hop. */
	USER_IS("byhost/p1", NULL, "mail.isp.example", "[mail.isp.example]:587");
	USER_IS("byhost/p1", "", "MAIL.ISP.EXAMPLE", "[mail.isp.example]:587");
	/* The next hop as written: brackets and port are part of the key. */
	USER_IS("bynexthop/p2", NULL, "192.0.2.1", "[mail.isp.example]:587");
	USER_IS("", NULL, "192.0.2.1", "[mail.isp.example]");
	USER_IS("", NULL, "192.0.2.1", "mail.isp.example:587");
	/* An MX next hop: its domain; the password keeps its colons. */
	USER_IS("bydomain/p:w:3", NULL, "mx1.example.com", "example.com");
	/* Not for a fallback relay (nexthop NULL). */
	USER_IS("", NULL, "relay.other.example", NULL);
	/* No password in the entry: an empty one. */
	USER_IS("alone/", NULL, "nopass.example", "x");
	/* Sender-dependent: the sender first, then @domain. */
	USER_IS("bysender/p4", "alice@example.org", "mail.isp.example",
	    "[mail.isp.example]:587");
	USER_IS("bysenderdomain/p5", "bob@example.net", "mail.isp.example",
	    "[mail.isp.example]:587");
	USER_IS("byhost/p1", "carol@example.org", "mail.isp.example",
	    "[mail.isp.example]:587");

	/* Without sender-dependent authentication the sender is not asked. */
	configure("inline:{ {alice@example.org=bysender:p4}, "
	    "{mail.isp.example=byhost:p1} }", "", 0);
	USER_IS("byhost/p1", "alice@example.org", "mail.isp.example", "x");
}

static void
test_session_key(void **state)
{
	struct smtp_addr a;
	struct smtp_sasl_cred *c = NULL;
	char host[] = "mail.isp.example";
	char *key = strdup("[mail.isp.example]:587|mail.isp.example[192.0.2.1]:587");

	(void)state;
	configure("inline:{ {[mail.isp.example]:587=joe:pw} }", "", 0);
	memset(&a, 0, sizeof(a));
	a.host = host;
	assert_int_equal(smtp_sasl_session_key("s@x", &a,
	    "[mail.isp.example]:587", &c, &key), 0);
	assert_non_null(c);
	assert_string_equal(key, "[mail.isp.example]:587|mail.isp.example"
	    "[192.0.2.1]:587|sasl=joe");
	smtp_sasl_cred_free(&c);
	/* A fallback relay: no login, the key unchanged. */
	a.fallback = 1;
	assert_int_equal(smtp_sasl_session_key("s@x", &a,
	    "[mail.isp.example]:587", &c, &key), 0);
	assert_null(c);
	assert_string_equal(key, "[mail.isp.example]:587|mail.isp.example"
	    "[192.0.2.1]:587|sasl=joe");
	free(key);
}

static void
test_secopts(void **state)
{
	int mask = -1;
	char *bad = NULL;

	(void)state;
	assert_int_equal(smtp_sasl_secopts_parse("noplaintext, noanonymous",
	    &mask, &bad), 0);
	assert_int_equal(mask, SMTP_SASL_SEC_NOPLAINTEXT
	    | SMTP_SASL_SEC_NOANONYMOUS);
	assert_int_equal(smtp_sasl_secopts_parse("", &mask, &bad), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(smtp_sasl_secopts_parse("NoActive nodictionary,"
	    "mutual_auth", &mask, &bad), 0);
	assert_int_equal(mask, SMTP_SASL_SEC_NOACTIVE
	    | SMTP_SASL_SEC_NODICTIONARY | SMTP_SASL_SEC_MUTUAL_AUTH);
	assert_int_equal(smtp_sasl_secopts_parse("noanonymous, noplain",
	    &mask, &bad), -1);
	assert_string_equal(bad, "noplain");
	free(bad);
}

static void
test_select(void **state)
{
	(void)state;
	/* PLAIN and LOGIN send the password: only without these options. */
	assert_string_equal(smtp_sasl_select("LOGIN PLAIN CRAM-MD5",
	    SMTP_SASL_SEC_NOANONYMOUS), "PLAIN");
	assert_string_equal(smtp_sasl_select("login", 0), "LOGIN");
	assert_null(smtp_sasl_select("PLAIN LOGIN", SMTP_SASL_SEC_NOPLAINTEXT
	    | SMTP_SASL_SEC_NOANONYMOUS));
	assert_null(smtp_sasl_select("PLAIN LOGIN", SMTP_SASL_SEC_NODICTIONARY));
	assert_null(smtp_sasl_select("PLAIN LOGIN", SMTP_SASL_SEC_NOACTIVE));
	assert_null(smtp_sasl_select("PLAIN LOGIN", SMTP_SASL_SEC_MUTUAL_AUTH));
	assert_null(smtp_sasl_select("CRAM-MD5 XOAUTH2 PLAINX", 0));
	assert_null(smtp_sasl_select("", 0));
}

static void
test_filter(void **state)
{
	struct smtp_session s;
	char peer[] = "mx[192.0.2.1]";

	(void)state;
	configure("inline:{x=y:z}", "login, !cram-md5, static:rest", 0);
	memset(&s, 0, sizeof(s));
	s.peer = peer;
	smtp_sasl_helo_auth(&s, "", "PLAIN LOGIN CRAM-MD5");
	assert_true(s.features & SMTP_FEATURE_AUTH);
	assert_string_equal(s.sasl_mechs, "PLAIN LOGIN");
	/* The same list again (AUTH=...) is fine. */
	smtp_sasl_helo_auth(&s, "PLAIN", "LOGIN CRAM-MD5");
	assert_string_equal(s.sasl_mechs, "PLAIN LOGIN");
	assert_true(s.features & SMTP_FEATURE_AUTH);

	configure("inline:{x=y:z}", "login", 0);
	memset(&s, 0, sizeof(s));
	s.peer = peer;
	smtp_sasl_helo_auth(&s, "", "PLAIN LOGIN");
	assert_string_equal(s.sasl_mechs, "LOGIN");
	/* Nothing left: a warning, and no AUTH. */
	memset(&s, 0, sizeof(s));
	s.peer = peer;
	unit_capture_start();
	smtp_sasl_helo_auth(&s, "", "PLAIN CRAM-MD5");
	unit_capture_stop();
	assert_false(s.features & SMTP_FEATURE_AUTH);
	assert_int_equal(unit_captured(MSG_WARN, "mx[192.0.2.1] offered no "
	    "supported AUTH mechanisms: 'PLAIN CRAM-MD5'"), 1);
}

static void
test_base64(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{"", 0, ""},
		{"f", 1, "Zg=="},
		{"fo", 2, "Zm8="},
		{"foo", 3, "Zm9v"},
		{"foob", 4, "Zm9vYg=="},
		{"\0joe\0pw", 7, "AGpvZQBwdw=="},
		{"\xff\xfe", 2, "//4="},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *b = smtp_sasl_base64((const unsigned char *)cases[i].in,
		    cases[i].len);

		assert_string_equal(b, cases[i].out);
		free(b);
	}
}

/* main.cf for the address forms of sender-dependent lookups. */
static void
read_conf(void)
{
	char *dir = concatenate(unit_tmpdir(), "/conf", (char *)0);
	char *path = concatenate(dir, "/main.cf", (char *)0);
	FILE *fp;

	mkdir(dir, 0700);
	fp = fopen(path, "w");
	if (fp == NULL)
		abort();
	fprintf(fp, "myhostname = mx.example.test\nmydestination = "
	    "localhost\nrecipient_delimiter = +\n");
	fclose(fp);
	mail_conf_set_dir(dir);
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_GLOBAL);
	free(dir);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_session_key),
		cmocka_unit_test(test_secopts),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_base64),
	};

	read_conf();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

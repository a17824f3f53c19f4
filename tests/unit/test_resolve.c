/* SPDX-License-Identifier: MIT */
/* test_resolve - address classes, sender-specified routing (the relay
 * tricks), transports from the class defaults and from transport_maps
 * (key order, transport:nexthop forms), relayhost, table errors. */
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

#include "mail_conf.h"
#include "msg.h"
#include "mymalloc.h"
#include "resolve.h"
#include "stringops.h"
#include "unit.h"

static const char base_conf[] =
    "myhostname = mx.our.test\n"
    "mydomain = our.test\n"
    "myorigin = our.test\n"
    "mydestination = our.test, mx.our.test, localhost\n"
    "inet_interfaces = loopback-only\n"
    "proxy_interfaces = 198.51.100.7\n"
    "relay_domains = relay.test\n"
    "virtual_alias_domains = valias.test\n"
    "virtual_mailbox_domains = vmbox.test\n"
    "compatibility_level = 3.6\n";

static void
conf(const char *extra)
{
	char *dir = concatenate(unit_tmpdir(), "/conf", (char *)0);
	char *path = concatenate(dir, "/main.cf", (char *)0);
	FILE *fp;

	mkdir(dir, 0700);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%s%s\n", base_conf, extra);
	fclose(fp);
	mail_conf_set_dir(dir);
	mail_conf_read(0);
	resolve_init();
	free(dir);
	free(path);
}

#define L RESOLVE_CLASS_LOCAL
#define A RESOLVE_CLASS_ALIAS
#define V RESOLVE_CLASS_VIRTUAL
#define R RESOLVE_CLASS_RELAY
#define D RESOLVE_CLASS_DEFAULT
#define ROUTED RESOLVE_FLAG_ROUTED
#define ERR RESOLVE_FLAG_ERROR

struct rcase {
	const char *addr;		/* internal form */
	enum resolve_class cls;
	int flags;
	const char *transport;
	const char *nexthop;
	const char *recipient;
};

static const struct rcase class_cases[] = {
	{"joe@our.test", L, 0, "local", "mx.our.test", "joe@our.test"},
	{"joe@OUR.TEST.", L, 0, "local", "mx.our.test", "joe@OUR.TEST"},
	{"joe", L, 0, "local", "mx.our.test", "joe@our.test"},
	{"joe@[127.0.0.1]", L, 0, "local", "mx.our.test", "joe@[127.0.0.1]"},
	{"joe@[198.51.100.7]", L, 0, "local", "mx.our.test", "joe@[198.51.100.7]"},
	{"", L, 0, "local", "mx.our.test", "MAILER-DAEMON@our.test"},
	{"u@valias.test", A, 0, "error", "5.1.1 User unknown in virtual alias table",
	    "u@valias.test"},
	{"u@vmbox.test", V, 0, "virtual", "vmbox.test", "u@vmbox.test"},
	{"u@relay.test", R, 0, "relay", "relay.test", "u@relay.test"},
	{"u@sub.relay.test", R, 0, "relay", "sub.relay.test", "u@sub.relay.test"},
	{"u@ext.test", D, 0, "smtp", "ext.test", "u@ext.test"},
	{"u@ext.test.", D, 0, "smtp", "ext.test", "u@ext.test"},
	{"u@our.test.ext.test", D, 0, "smtp", "our.test.ext.test",
	    "u@our.test.ext.test"},
	{"u@[192.0.2.1]", D, 0, "smtp", "[192.0.2.1]", "u@[192.0.2.1]"},
	/* The relay tricks: whatever is left is remote and flagged. */
	{"victim%ext.test@our.test", D, ROUTED, "smtp", "ext.test",
	    "victim@ext.test"},
	{"ext.test!victim@our.test", D, ROUTED, "smtp", "ext.test",
	    "victim@ext.test"},
	{"victim@ext.test@our.test", D, ROUTED, "smtp", "ext.test",
	    "victim@ext.test"},
	{"@our.test:victim@ext.test", D, 0, "smtp", "ext.test", "victim@ext.test"},
	{"victim%ext.test@relay.test", R, ROUTED, "relay", "relay.test",
	    "victim%ext.test@relay.test"},
	{"a!b!victim@our.test", D, ROUTED, "smtp", "a", "b!victim@a"},
	/* Routing that ends at home is local. */
	{"joe%our.test@our.test", L, 0, "local", "mx.our.test", "joe@our.test"},
	{"our.test!joe@localhost", L, 0, "local", "mx.our.test", "joe@our.test"},
	{"joe@our.test@our.test", L, 0, "local", "mx.our.test", "joe@our.test"},
	/* Malformed domains. */
	{"u@bad..test", D, ERR, "error", "5.1.3 bad address syntax", "u@bad..test"},
	{"u@-x_y!.test", D, ERR, "error", "5.1.3 bad address syntax", NULL},
};

static void
check(const struct rcase *c, const char *what)
{
	struct resolve_reply r;
	enum map_status st = resolve_addr(c->addr, &r);

	if (st != MAP_FOUND || r.cls != c->cls || r.flags != c->flags
	    || strcmp(r.transport, c->transport) != 0
	    || strcmp(r.nexthop, c->nexthop) != 0
	    || (c->recipient && strcmp(r.recipient, c->recipient) != 0))
		UNIT_FAILF("%s: \"%s\": got status %d class %d flags %d %s:%s "
		    "<%s>", what, c->addr, st, r.cls, r.flags, r.transport,
		    r.nexthop, r.recipient);
	resolve_reply_free(&r);
}

static void
test_classes(void **state)
{
	(void)state;
	conf("");
	for (size_t i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++)
		check(&class_cases[i], "classes");
	assert_int_equal(resolve_domain_is_local("OUR.test"), 1);
	assert_int_equal(resolve_domain_is_local("our.test."), 1);
	assert_int_equal(resolve_domain_is_local("sub.our.test"), 0);
	assert_int_equal(resolve_domain_is_local("[::1]"), 1);
	assert_int_equal(resolve_domain_is_local("[192.0.2.200]"), 0);
}

static void
test_no_hacks(void **state)
{
	static const struct rcase cases[] = {
		/* Without the percent hack and bang paths, those are local
		 * parts of ours (and unknown users later). */
		{"victim%ext.test@our.test", L, 0, "local", "mx.our.test",
		    "victim%ext.test@our.test"},
		{"ext.test!victim@our.test", L, 0, "local", "mx.our.test",
		    "ext.test!victim@our.test"},
		/* A second @ is always routing. */
		{"victim@ext.test@our.test", D, ROUTED, "smtp", "ext.test", NULL},
	};

	(void)state;
	conf("allow_percent_hack = no\nswap_bangpath = no");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i], "no hacks");
}

static void
test_transports(void **state)
{
	static const struct rcase cases[] = {
		{"special@ext.test", D, 0, "smtp", "[10.0.0.1]:2525", NULL},
		{"x+tag@ext.test", D, 0, "lmtp", "unix:/x", NULL},
		{"other@ext.test", D, 0, "relay", "gw.test", NULL},
		{"u@a.b.ext.test", D, 0, "error", "no subdomains", NULL},
		{"u@ext2.test", D, 0, "smtp", "[relayhost.test]", NULL},
		{"u@ext3.test", D, 0, "discard", "ext3.test", NULL},
		{"u@ext4.test", D, 0, "smtp", "[hub.test]", NULL},
		{"u@relay.test", R, 0, "uucp", "wildcard", NULL},
		{"u@relay2.test", R, 0, "relay", "[relayhost.test]", NULL},
		{"u@unlisted.test", D, 0, "uucp", "wildcard", NULL},
		{"joe@our.test", L, 0, "local", "mx.our.test", NULL},
		{"u@vmbox.test", V, 0, "virtual", "vmbox.test", NULL},
	};
	char *path, *text;

	(void)state;
	path = unit_write_file("transport",
	    "special@ext.test  smtp:[10.0.0.1]:2525\n"
	    "x@ext.test        lmtp:unix:/x\n"
	    "ext.test          relay:gw.test\n"
	    ".ext.test         error:no subdomains\n"
	    "ext2.test         :\n"
	    "ext3.test         discard:\n"
	    "ext4.test         :[hub.test]\n"
	    "*                 uucp:wildcard\n", (size_t)-1);
	text = concatenate("recipient_delimiter = +\n"
	    "relayhost = [relayhost.test]\n"
	    "transport_maps = texthash:", path,
	    " inline:{our.test=error:never, vmbox.test=virtual:, relay2.test=:}\n"
	    "relay_domains = relay.test relay2.test\n", (char *)0);
	conf(text);
	/* Each key form goes to every table before the next form: the
	 * domain keys of the second table win over the first table's "*". */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].addr, "joe@our.test") == 0) {
			struct rcase c = cases[i];

			c.transport = "error";
			c.nexthop = "never";
			check(&c, "transport");
			continue;
		}
		check(&cases[i], "transport");
	}
	free(path);
	free(text);
}

/* sender_dependent_relayhost_maps: the sender, then its @domain, then
 * relayhost; <> for the null sender; transport_maps still wins. */
static void
test_sender_relayhost(void **state)
{
	static const struct {
		const char *sender, *rcpt, *nexthop;
	} cases[] = {
		{"boss@corp.test", "u@ext.test", "[boss-relay.test]:587"},
		{"other@corp.test", "u@ext.test", "[corp-relay.test]"},
		{"x@else.test", "u@ext.test", "[relayhost.test]"},
		{"", "u@ext.test", "[bounce-relay.test]"},
		{"boss@corp.test", "u@pinned.test", "[pinned.test]"},
		{"boss@corp.test", "joe@our.test", "mx.our.test"},
	};
	struct resolve_reply r;

	(void)state;
	conf("relayhost = [relayhost.test]\n"
	    "sender_dependent_relayhost_maps = inline:{"
	    "boss@corp.test=[boss-relay.test]:587, @corp.test=[corp-relay.test],"
	    " <>=[bounce-relay.test]}\n"
	    "transport_maps = inline:{pinned.test=smtp:[pinned.test]}\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resolve_set_sender(cases[i].sender);
		assert_int_equal(resolve_addr(cases[i].rcpt, &r), MAP_FOUND);
		if (strcmp(r.nexthop, cases[i].nexthop) != 0)
			fail_msg("sender <%s> rcpt %s: nexthop %s, want %s",
			    cases[i].sender, cases[i].rcpt, r.nexthop,
			    cases[i].nexthop);
		resolve_reply_free(&r);
	}
	resolve_set_sender(NULL);
	assert_int_equal(resolve_addr("u@ext.test", &r), MAP_FOUND);
	assert_string_equal(r.nexthop, "[relayhost.test]");
	resolve_reply_free(&r);
	resolve_free();
}

static void
test_tempfail(void **state)
{
	struct resolve_reply r;

	(void)state;
	unit_capture_start();
	conf("relay_domains = fail:down");
	assert_int_equal(resolve_addr("u@ext.test", &r), MAP_TEMPFAIL);
	assert_true(r.flags & RESOLVE_FLAG_FAIL);
	resolve_reply_free(&r);
	/* Local and alias domains are decided before relay_domains. */
	assert_int_equal(resolve_addr("joe@our.test", &r), MAP_FOUND);
	resolve_reply_free(&r);
	conf("mydestination = fail:down");
	assert_int_equal(resolve_addr("joe@our.test", &r), MAP_TEMPFAIL);
	resolve_reply_free(&r);
	assert_int_equal(resolve_domain_is_local("our.test"), -1);
	conf("transport_maps = fail:down");
	assert_int_equal(resolve_addr("u@ext.test", &r), MAP_TEMPFAIL);
	resolve_reply_free(&r);
	assert_true(unit_captured(MSG_WARN, "fail:down") > 0);
	unit_capture_stop();
	resolve_free();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_no_hacks),
		cmocka_unit_test(test_transports),
		cmocka_unit_test(test_sender_relayhost),
		cmocka_unit_test(test_tempfail),
	};

	msg_init("test_resolve", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

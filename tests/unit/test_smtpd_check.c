/* SPDX-License-Identifier: MIT */
/* test_smtpd_check - the SMTP access policy: relay allowed from
 * mynetworks and refused from outside, every open-relay trick refused,
 * access(5) actions and key order (addresses, domains, parents, user@,
 * IPv4/IPv6 truncation, DUNNO), unknown users (550 5.1.1 per class),
 * table errors (451 4.3.0), legacy compatibility_level defaults,
 * smtpd_delay_reject ordering, soft_bounce, DNS answers through a
 * substitute resolver, and the Postfix-shaped log line. */
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
#include "smtpd_check.h"
#include "smtpd_check_private.h"
#include "stringops.h"
#include "unit.h"

static const char base_conf[] =
    "myhostname = mx.our.test\n"
    "mydomain = our.test\n"
    "myorigin = our.test\n"
    "mydestination = our.test, mx.our.test, localhost\n"
    "mynetworks = 127.0.0.1/32, [::1]/128, 10.1.0.0/16\n"
    "inet_interfaces = loopback-only\n"
    "alias_maps = inline:{aliasuser=joe}\n"
    "local_recipient_maps = inline:{joe=1} $alias_maps\n"
    "recipient_delimiter = +\n";

static void
conf(const char *extra)
{
	char *dir = concatenate(unit_tmpdir(), "/conf", (char *)0);
	char *path = concatenate(dir, "/main.cf", (char *)0);
	FILE *fp;

	mkdir(dir, 0700);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%squeue_directory = %s\n%s\n", base_conf, unit_tmpdir(),
	    extra);
	fclose(fp);
	mail_conf_set_dir(dir);
	mail_conf_read(0);
	smtpd_check_init();
	free(dir);
	free(path);
}

static const struct smtpd_check_session outside = {
	.client_addr = "192.0.2.9", .client_name = "unknown",
	.helo = "outside.example", .protocol = "ESMTP", .sender = "a@ext.test",
};
static const struct smtpd_check_session inside = {
	.client_addr = "127.0.0.1", .client_name = "localhost",
	.helo = "localhost", .protocol = "ESMTP", .sender = "joe@our.test",
};

/* expect_rcpt - RCPT check with expected code, dsn and text ("" = any). */
static void
expect_rcpt(const struct smtpd_check_session *s, const char *rcpt, int code,
    const char *dsn, const char *text)
{
	struct smtpd_check_reply r;
	int got = smtpd_check_rcpt(s, rcpt, &r);

	if (got != code || r.code != code
	    || (dsn && strcmp(r.dsn, dsn) != 0)
	    || (text && (r.text == NULL || strcmp(r.text, text) != 0)))
		UNIT_FAILF("RCPT %s from %s: got %d %s %s, want %d %s %s", rcpt,
		    s->client_addr, got, r.dsn, r.text ? r.text : "",
		    code, dsn ? dsn : "", text ? text : "");
	smtpd_check_reply_free(&r);
}

struct relay_case {
	const char *rcpt;
	int out_code;		/* from outside */
	int in_code;		/* from mynetworks */
};

static const struct relay_case relay_cases[] = {
	{"joe@our.test", 0, 0},
	{"<joe@our.test>", 0, 0},
	{"joe+tag@our.test", 0, 0},
	{"joe@OUR.TEST.", 0, 0},
	{"JOE@our.test", 0, 0},
	{"aliasuser@our.test", 0, 0},
	{"joe@[127.0.0.1]", 0, 0},
	{"joe%our.test@our.test", 0, 0},
	{"victim@ext.test", 554, 0},
	{"victim%ext.test@our.test", 554, 0},
	{"@our.test:victim@ext.test", 554, 0},
	{"<@our.test:victim@ext.test>", 554, 0},
	{"ext.test!victim@our.test", 554, 0},
	{"\"victim@ext.test\"@our.test", 554, 0},
	{"\"victim%ext.test\"@our.test", 554, 0},
	{"victim@ext.test@our.test", 554, 0},
	{"victim@ext.test.", 554, 0},
	{"victim@[192.0.2.1]", 554, 0},
	{"victim@our.test.ext.test", 554, 0},
	{"victim@sub.our.test", 554, 0},
};

static void
test_relay(void **state)
{
	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6\n"
	    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination");
	for (size_t i = 0; i < sizeof(relay_cases) / sizeof(relay_cases[0]); i++) {
		const struct relay_case *c = &relay_cases[i];

		expect_rcpt(&outside, c->rcpt, c->out_code,
		    c->out_code ? "5.7.1" : NULL, NULL);
		expect_rcpt(&inside, c->rcpt, c->in_code, NULL, NULL);
	}
	expect_rcpt(&outside, "victim@ext.test", 554, "5.7.1",
	    "<victim@ext.test>: Relay access denied");
	expect_rcpt(&outside, "<\"victim@ext.test\"@our.test>", 554, "5.7.1",
	    "<\"victim@ext.test\"@our.test>: Relay access denied");
	/* IPv6 client in mynetworks. */
	{
		struct smtpd_check_session v6 = inside;

		v6.client_addr = "::1";
		expect_rcpt(&v6, "victim@ext.test", 0, NULL, NULL);
		v6.client_addr = "::2";
		expect_rcpt(&v6, "victim@ext.test", 554, NULL, NULL);
	}
	unit_capture_stop();
}

static void
test_default_relay_and_log(void **state)
{
	struct smtpd_check_session s = outside;

	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6");
	/* The default relay list ends with defer_unauth_destination. */
	expect_rcpt(&outside, "victim@ext.test", 454, "4.7.1",
	    "<victim@ext.test>: Relay access denied");
	assert_int_equal(unit_captured(MSG_INFO, "NOQUEUE: reject: RCPT from "
	    "unknown[192.0.2.9]: 454 4.7.1 <victim@ext.test>: Relay access "
	    "denied; from=<a@ext.test> to=<victim@ext.test> proto=ESMTP "
	    "helo=<outside.example>"), 1);
	s.queue_id = "4ABCDEF";
	s.sender = "<>";
	expect_rcpt(&s, "<victim@ext.test>", 454, NULL, NULL);
	assert_int_equal(unit_captured(MSG_INFO, "4ABCDEF: reject: RCPT from "
	    "unknown[192.0.2.9]: 454 4.7.1 <victim@ext.test>: Relay access "
	    "denied; from=<> to=<victim@ext.test>"), 1);
	unit_capture_stop();
}

static void
test_unknown_users(void **state)
{
	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6\n"
	    "virtual_alias_maps = inline:{valias.test=x, u@valias.test=joe, "
	    "alias2@our.test=joe}\n"
	    "virtual_mailbox_domains = vmbox.test\n"
	    "virtual_mailbox_maps = inline:{m@vmbox.test=m/}\n"
	    "relay_domains = relay.test\n"
	    "relay_recipient_maps = inline:{r@relay.test=1}");
	expect_rcpt(&outside, "nobody@our.test", 550, "5.1.1",
	    "<nobody@our.test>: Recipient address rejected: User unknown in "
	    "local recipient table");
	expect_rcpt(&inside, "nobody@our.test", 550, "5.1.1", NULL);
	expect_rcpt(&outside, "mailer-daemon@our.test", 0, NULL, NULL);
	expect_rcpt(&outside, "Postmaster@our.test", 0, NULL, NULL);
	expect_rcpt(&outside, "double-bounce@our.test", 0, NULL, NULL);
	/* Known to virtual alias mapping: accepted. */
	expect_rcpt(&outside, "alias2@our.test", 0, NULL, NULL);
	expect_rcpt(&outside, "u@valias.test", 0, NULL, NULL);
	expect_rcpt(&outside, "v@valias.test", 550, "5.1.1",
	    "<v@valias.test>: Recipient address rejected: User unknown in "
	    "virtual alias table");
	expect_rcpt(&outside, "m@vmbox.test", 0, NULL, NULL);
	expect_rcpt(&outside, "n@vmbox.test", 550, "5.1.1",
	    "<n@vmbox.test>: Recipient address rejected: User unknown in "
	    "virtual mailbox table");
	expect_rcpt(&outside, "r@relay.test", 0, NULL, NULL);
	expect_rcpt(&outside, "s@relay.test", 550, "5.1.1",
	    "<s@relay.test>: Recipient address rejected: User unknown in "
	    "relay recipient table");
	/* A percent-hack local part of ours is an unknown user, not a relay. */
	conf("compatibility_level = 3.6\nallow_percent_hack = no");
	expect_rcpt(&outside, "victim%ext.test@our.test", 550, "5.1.1", NULL);
	/* Empty local_recipient_maps: no validation. */
	conf("compatibility_level = 3.6\nlocal_recipient_maps =");
	expect_rcpt(&outside, "nobody@our.test", 0, NULL, NULL);
	conf("compatibility_level = 3.6\nshow_user_unknown_table_name = no\n"
	    "unknown_local_recipient_reject_code = 450");
	expect_rcpt(&outside, "nobody@our.test", 450, "4.1.1",
	    "<nobody@our.test>: Recipient address rejected: User unknown");
	conf("compatibility_level = 3.6\nsmtpd_reject_unlisted_recipient = no");
	expect_rcpt(&outside, "nobody@our.test", 0, NULL, NULL);
	conf("compatibility_level = 3.6\nsmtpd_reject_unlisted_recipient = no\n"
	    "smtpd_recipient_restrictions = reject_unlisted_recipient");
	expect_rcpt(&outside, "nobody@our.test", 550, "5.1.1", NULL);
	unit_capture_stop();
}

static void
test_tempfail(void **state)
{
	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6\nlocal_recipient_maps = fail:down");
	expect_rcpt(&outside, "joe@our.test", 451, "4.3.0",
	    "<joe@our.test>: Temporary lookup failure");
	/* Even for the special local parts the table is not needed... */
	expect_rcpt(&outside, "postmaster@our.test", 0, NULL, NULL);
	conf("compatibility_level = 3.6\n"
	    "smtpd_recipient_restrictions = check_recipient_access fail:down");
	expect_rcpt(&outside, "joe@our.test", 451, "4.3.0",
	    "<joe@our.test>: Temporary lookup failure");
	conf("compatibility_level = 3.6\n"
	    "smtpd_client_restrictions = check_client_access fail:down");
	expect_rcpt(&outside, "joe@our.test", 451, "4.3.0",
	    "<unknown[192.0.2.9]>: Temporary lookup failure");
	conf("compatibility_level = 3.6\nmynetworks = fail:down");
	expect_rcpt(&outside, "victim@ext.test", 451, "4.3.0", NULL);
	conf("compatibility_level = 3.6\nmydestination = fail:down");
	expect_rcpt(&outside, "joe@our.test", 451, "4.3.0", NULL);
	/* A missing table file: a surrogate, never a 5xx. */
	conf("compatibility_level = 3.6\n"
	    "smtpd_recipient_restrictions = check_recipient_access "
	    "texthash:/nonexistent/access");
	expect_rcpt(&outside, "joe@our.test", 451, "4.3.0", NULL);
	/* soft_bounce never makes a 4xx worse, and turns 5xx into 4xx. */
	conf("compatibility_level = 3.6\nsoft_bounce = yes\n"
	    "smtpd_relay_restrictions = reject_unauth_destination");
	expect_rcpt(&outside, "victim@ext.test", 454, "4.7.1",
	    "<victim@ext.test>: Relay access denied");
	expect_rcpt(&outside, "nobody@our.test", 450, "4.1.1", NULL);
	unit_capture_stop();
}

struct access_case {
	const char *sender;
	int code;
	const char *dsn;
	const char *text;
};

static void
test_sender_access(void **state)
{
	static const struct access_case cases[] = {
		{"spammer@bad.test", 554, "5.7.1",
		    "<spammer@bad.test>: Sender address rejected: go away"},
		{"spammer+x@bad.test", 554, "5.7.1", NULL},
		{"other@bad.test", 450, "4.7.1",
		    "<other@bad.test>: Sender address rejected: Access denied"},
		{"x@a.b.worse.test", 550, "5.7.0",
		    "<x@a.b.worse.test>: Sender address rejected: worse domain"},
		{"dunno@worse.test", 0, NULL, NULL},
		{"friend@unlisted.test", 554, "5.7.1",
		    "<friend@unlisted.test>: Sender address rejected: friend-key"},
		{"friend@bad.test", 450, "4.7.1", NULL},
		{"numeric@ok.test", 0, NULL, NULL},
		{"bare554@ok.test", 0, NULL, NULL},
		{"dsn@ok.test", 421, "4.7.9", NULL},
		{"<>", 554, "5.7.1", "<>: Sender address rejected: null"},
		{"nobody@elsewhere.test", 0, NULL, NULL},
	};
	char *path, *text;

	(void)state;
	path = unit_write_file("sender_access",
	    "spammer@bad.test     REJECT go away\n"
	    "bad.test             DEFER\n"
	    "worse.test           550 5.7.0 worse domain\n"
	    "dunno@worse.test     DUNNO\n"
	    "friend@              REJECT friend-key\n"
	    "numeric@ok.test      1234567\n"
	    "bare554@ok.test      554\n"
	    "dsn@ok.test          421 5.7.9 closing\n"
	    "<>                   reject null\n", (size_t)-1);
	text = concatenate("compatibility_level = 3.6\n"
	    "smtpd_sender_restrictions = check_sender_access texthash:", path,
	    "\n", (char *)0);
	unit_capture_start();
	conf(text);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpd_check_session s = outside;

		s.sender = cases[i].sender;
		expect_rcpt(&s, "joe@our.test", cases[i].code, cases[i].dsn,
		    cases[i].text);
	}
	unit_capture_stop();
	free(text);
	free(path);
}

static void
test_client_access(void **state)
{
	static const struct {
		const char *name, *addr;
		int code;
		const char *text;
	} cases[] = {
		{"unknown", "1.2.3.4", 554,
		    "<unknown[1.2.3.4]>: Client host rejected: net"},
		{"unknown", "1.2.3.9", 0, NULL},
		{"unknown", "1.2.4.4", 0, NULL},
		{"unknown", "5.6.7.8", 554, NULL},
		{"mail.bad.host.test", "192.0.2.1", 554,
		    "<mail.bad.host.test[192.0.2.1]>: Client host rejected: host"},
		{"good.host.test", "1.2.3.4", 0, NULL},
		{"unknown", "2001:db8:1::5", 554,
		    "<unknown[2001:db8:1::5]>: Client host rejected: v6net"},
		{"unknown", "2001:db8:2::5", 0, NULL},
		{"unknown", "10.20.30.40", 554,
		    "<unknown[10.20.30.40]>: Client host rejected: cidr"},
	};
	char *path, *cidr, *text;

	(void)state;
	path = unit_write_file("client_access",
	    "1.2.3        REJECT net\n"
	    "1.2.3.9      DUNNO\n"
	    "5            REJECT\n"
	    "bad.host.test REJECT host\n"
	    "good.host.test OK\n"
	    "2001:db8:1   REJECT v6net\n", (size_t)-1);
	cidr = unit_write_file("client_cidr", "10.20.0.0/16 REJECT cidr\n",
	    (size_t)-1);
	text = concatenate("compatibility_level = 3.6\n"
	    "smtpd_client_restrictions = check_client_access texthash:", path,
	    ", check_client_access cidr:", cidr, "\n", (char *)0);
	unit_capture_start();
	conf(text);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpd_check_session s = outside;

		s.client_name = cases[i].name;
		s.client_addr = cases[i].addr;
		expect_rcpt(&s, "joe@our.test", cases[i].code, NULL, cases[i].text);
	}
	unit_capture_stop();
	free(text);
	free(path);
	free(cidr);
}

static void
test_actions(void **state)
{
	struct smtpd_check_reply r;
	char *path, *text;

	(void)state;
	path = unit_write_file("rcpt_access",
	    "hold@our.test      HOLD\n"
	    "discard@our.test   DISCARD spam\n"
	    "warn@our.test      WARN be careful\n"
	    "prepend@our.test   PREPEND X-Test: yes\n"
	    "badprepend@our.test PREPEND no header\n"
	    "redirect@our.test  REDIRECT joe@our.test\n"
	    "dip@our.test       DEFER_IF_PERMIT try later\n"
	    "dir@our.test       DEFER_IF_REJECT\n"
	    "rl@our.test        permit_mynetworks, reject\n"
	    "strictuser@our.test strict\n"
	    "nested@our.test    check_client_access inline:{1.2.3.4=OK}\n"
	    "unknownr@our.test  no_such_restriction\n"
	    "ok@our.test        OK\n", (size_t)-1);
	text = concatenate("compatibility_level = 3.6\n"
	    "local_recipient_maps =\n"
	    "smtpd_restriction_classes = strict\n"
	    "strict = reject\n"
	    "smtpd_recipient_restrictions = warn_if_reject,"
	    " check_recipient_access inline:{wir@our.test=REJECT},"
	    " check_recipient_access texthash:", path,
	    ", check_recipient_access inline:{dir@our.test=REJECT}\n", (char *)0);
	unit_capture_start();
	conf(text);

	assert_int_equal(smtpd_check_rcpt(&outside, "hold@our.test", &r), 0);
	assert_int_equal(r.hold, 1);
	smtpd_check_reply_free(&r);
	assert_int_equal(unit_captured(MSG_INFO, "NOQUEUE: hold: RCPT from "
	    "unknown[192.0.2.9]: <hold@our.test>: Recipient address triggers "
	    "HOLD action; from=<a@ext.test> to=<hold@our.test>"), 1);

	assert_int_equal(smtpd_check_rcpt(&outside, "discard@our.test", &r), 0);
	assert_int_equal(r.discard, 1);
	smtpd_check_reply_free(&r);
	assert_int_equal(unit_captured(MSG_INFO, "discard: RCPT from "
	    "unknown[192.0.2.9]: <discard@our.test>: Recipient address spam;"), 1);

	assert_int_equal(smtpd_check_rcpt(&outside, "warn@our.test", &r), 0);
	smtpd_check_reply_free(&r);
	assert_int_equal(unit_captured(MSG_INFO, "warn: RCPT from "
	    "unknown[192.0.2.9]: <warn@our.test>: Recipient address be careful"), 1);

	assert_int_equal(smtpd_check_rcpt(&outside, "prepend@our.test", &r), 0);
	assert_int_equal(r.nprepend, 1);
	assert_string_equal(r.prepend[0], "X-Test: yes");
	assert_null(r.prepend[1]);
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_rcpt(&outside, "badprepend@our.test", &r), 0);
	assert_int_equal(r.nprepend, 0);
	smtpd_check_reply_free(&r);

	assert_int_equal(smtpd_check_rcpt(&outside, "redirect@our.test", &r), 0);
	assert_string_equal(r.redirect, "joe@our.test");
	smtpd_check_reply_free(&r);

	/* DEFER_IF_PERMIT: the end of the lists permits, so 450. */
	expect_rcpt(&outside, "dip@our.test", 450, "4.7.1",
	    "<dip@our.test>: Recipient address rejected: try later");
	/* DEFER_IF_REJECT: the later REJECT becomes a 450. */
	expect_rcpt(&outside, "dir@our.test", 450, "4.7.1",
	    "<dir@our.test>: Recipient address rejected: Service unavailable");
	/* A restriction list as the action. */
	expect_rcpt(&outside, "rl@our.test", 554, "5.7.1",
	    "<rl@our.test>: Recipient address rejected: Access denied");
	expect_rcpt(&inside, "rl@our.test", 0, NULL, NULL);
	expect_rcpt(&outside, "strictuser@our.test", 554, "5.7.1", NULL);
	/* Tables inside results and unknown names: a configuration error. */
	expect_rcpt(&outside, "nested@our.test", 451, "4.3.5",
	    "Server configuration error");
	expect_rcpt(&outside, "unknownr@our.test", 451, "4.3.5", NULL);
	/* warn_if_reject: the next restriction only logs. */
	expect_rcpt(&outside, "wir@our.test", 0, NULL, NULL);
	assert_int_equal(unit_captured(MSG_INFO, "NOQUEUE: reject_warning: RCPT "
	    "from unknown[192.0.2.9]: 554 5.7.1 <wir@our.test>: Recipient "
	    "address rejected: Access denied;"), 1);
	/* OK from a table does not relay for routed addresses... */
	expect_rcpt(&outside, "ok@our.test", 0, NULL, NULL);
	unit_capture_stop();
	free(text);
	free(path);
}

static void
test_routed_ok(void **state)
{
	(void)state;
	unit_capture_start();
	/* An access OK for a recipient with sender-specified routing is
	 * ignored: the relay check still refuses it. */
	conf("compatibility_level = 3.6\n"
	    "smtpd_recipient_restrictions = check_recipient_access "
	    "inline:{ext.test=OK}\n"
	    "smtpd_relay_before_recipient_restrictions = no\n"
	    "smtpd_relay_restrictions = reject_unauth_destination");
	expect_rcpt(&outside, "victim@ext.test@our.test", 554, "5.7.1", NULL);
	expect_rcpt(&outside, "victim%ext.test@our.test", 554, "5.7.1", NULL);
	unit_capture_stop();
}

static void
test_legacy(void **state)
{
	(void)state;
	unit_capture_start();
	/* No compatibility_level: relay_domains = $mydestination (with
	 * subdomains), and the safe relay list instead of none. */
	conf("");
	assert_int_equal(unit_captured(MSG_WARN, "are both empty"), 1);
	expect_rcpt(&outside, "x@sub.our.test", 0, NULL, NULL);
	assert_int_equal(unit_captured(MSG_INFO, "using backwards-compatible "
	    "default setting relay_domains=$mydestination to accept mail for "
	    "address \"x@sub.our.test\""), 1);
	expect_rcpt(&outside, "victim@ext.test", 454, "4.7.1", NULL);
	expect_rcpt(&inside, "victim@ext.test", 0, NULL, NULL);
	/* At 3.6: relay_domains is empty. */
	conf("compatibility_level = 3.6");
	expect_rcpt(&outside, "x@sub.our.test", 454, "4.7.1", NULL);
	/* Legacy main.cf with the old recipient list. */
	conf("smtpd_recipient_restrictions = permit_mynetworks, "
	    "reject_unauth_destination");
	expect_rcpt(&outside, "victim@ext.test", 554, "5.7.1", NULL);
	expect_rcpt(&inside, "victim@ext.test", 0, NULL, NULL);
	unit_capture_stop();
}

static void
test_delay_reject(void **state)
{
	struct smtpd_check_reply r;

	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6\nsmtpd_client_restrictions = reject");
	/* Delayed: nothing at connect, the client reject comes at RCPT. */
	assert_int_equal(smtpd_check_client(&outside, &r), 0);
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_mail(&outside, "a@ext.test", &r), 0);
	smtpd_check_reply_free(&r);
	expect_rcpt(&outside, "joe@our.test", 554, "5.7.1",
	    "<unknown[192.0.2.9]>: Client host rejected: Access denied");

	conf("compatibility_level = 3.6\nsmtpd_client_restrictions = reject\n"
	    "smtpd_delay_reject = no");
	assert_int_equal(smtpd_check_client(&outside, &r), 554);
	assert_string_equal(r.text,
	    "<unknown[192.0.2.9]>: Client host rejected: Access denied");
	smtpd_check_reply_free(&r);
	assert_int_equal(unit_captured(MSG_INFO, "NOQUEUE: reject: CONNECT from "
	    "unknown[192.0.2.9]: 554 5.7.1"), 1);

	/* Order: client, helo, sender, then the recipient lists. */
	conf("compatibility_level = 3.6\n"
	    "smtpd_client_restrictions = check_client_access inline:{192.0.2.9=DEFER}\n"
	    "smtpd_helo_restrictions = reject\n"
	    "smtpd_sender_restrictions = reject");
	expect_rcpt(&outside, "joe@our.test", 450, "4.7.1",
	    "<unknown[192.0.2.9]>: Client host rejected: Access denied");
	conf("compatibility_level = 3.6\n"
	    "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n"
	    "smtpd_sender_restrictions = reject");
	{
		struct smtpd_check_session s = outside;

		s.helo = "localhost";
		expect_rcpt(&s, "joe@our.test", 504, "5.5.2",
		    "<localhost>: Helo command rejected: need fully-qualified hostname");
	}
	expect_rcpt(&outside, "joe@our.test", 554, "5.7.1",
	    "<a@ext.test>: Sender address rejected: Access denied");
	/* A permit in the client list does not skip the relay list. */
	conf("compatibility_level = 3.6\nsmtpd_client_restrictions = permit");
	expect_rcpt(&outside, "victim@ext.test", 454, "4.7.1", NULL);
	/* Relay list before the recipient list (3.6), and after (legacy). */
	conf("compatibility_level = 3.6\n"
	    "smtpd_recipient_restrictions = check_recipient_access "
	    "inline:{{victim@ext.test=550 5.1.1 nope}}");
	expect_rcpt(&outside, "victim@ext.test", 454, "4.7.1", NULL);
	conf("compatibility_level = 3.6\n"
	    "smtpd_relay_before_recipient_restrictions = no\n"
	    "smtpd_recipient_restrictions = check_recipient_access "
	    "inline:{{victim@ext.test=550 5.1.1 nope}}");
	expect_rcpt(&outside, "victim@ext.test", 550, "5.1.1",
	    "<victim@ext.test>: Recipient address rejected: nope");
	unit_capture_stop();
}

static void
test_helo_sender_syntax(void **state)
{
	static const struct {
		const char *helo, *sender, *rcpt;
		int code;
		const char *text;
	} cases[] = {
		{"mail.ext.test", "a@ext.test", "joe@our.test", 0, NULL},
		{"[192.0.2.9]", "a@ext.test", "joe@our.test", 0, NULL},
		{"bad_host!", "a@ext.test", "joe@our.test", 501,
		    "<bad_host!>: Helo command rejected: Invalid name"},
		{"nodots", "a@ext.test", "joe@our.test", 504,
		    "<nodots>: Helo command rejected: need fully-qualified hostname"},
		{"mail.ext.test", "user", "joe@our.test", 504,
		    "<user>: Sender address rejected: need fully-qualified address"},
		{"mail.ext.test", "user@host", "joe@our.test", 504, NULL},
		{"mail.ext.test", "<>", "joe@our.test", 0, NULL},
		{"mail.ext.test", "a@ext.test", "joe@localhost", 504,
		    "<joe@localhost>: Recipient address rejected: need "
		    "fully-qualified address"},
	};

	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6\n"
	    "smtpd_helo_restrictions = reject_invalid_helo_hostname, "
	    "reject_non_fqdn_helo_hostname\n"
	    "smtpd_sender_restrictions = reject_non_fqdn_sender\n"
	    "smtpd_recipient_restrictions = reject_non_fqdn_recipient");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpd_check_session s = outside;

		s.helo = cases[i].helo;
		s.sender = cases[i].sender;
		expect_rcpt(&s, cases[i].rcpt, cases[i].code, NULL, cases[i].text);
	}
	unit_capture_stop();
}

static int dns_calls;
static int dns_answer;

static int
fake_dns(const char *domain)
{
	dns_calls++;
	if (strcmp(domain, "exists.test") == 0)
		return 1;
	if (strcmp(domain, "nx.test") == 0)
		return 0;
	return dns_answer;
}

static void
test_unknown_domain(void **state)
{
	int (*saved)(const char *) = smtpd_check_dns_domain;
	struct smtpd_check_session s = outside;

	(void)state;
	unit_capture_start();
	smtpd_check_dns_domain = fake_dns;
	dns_answer = -1;
	conf("compatibility_level = 3.6\n"
	    "relay_domains = relay.test\n"
	    "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
	    "smtpd_recipient_restrictions = reject_unknown_recipient_domain");
	s.sender = "a@exists.test";
	expect_rcpt(&s, "joe@our.test", 0, NULL, NULL);
	s.sender = "a@nx.test";
	expect_rcpt(&s, "joe@our.test", 450, "4.1.8",
	    "<a@nx.test>: Sender address rejected: Domain not found");
	/* DNS trouble: defer_if_permit, 450 4.4.3, never 5xx. */
	s.sender = "a@broken.test";
	expect_rcpt(&s, "joe@our.test", 450, "4.4.3",
	    "<a@broken.test>: Sender address rejected: Domain not found");
	/* ...and a real reject still wins. */
	expect_rcpt(&s, "victim@ext2.test", 454, "4.7.1", NULL);
	/* Our domains and relay domains never need DNS. */
	dns_calls = 0;
	s.sender = "joe@our.test";
	expect_rcpt(&s, "joe@our.test", 0, NULL, NULL);
	s.sender = "x@relay.test";
	expect_rcpt(&s, "r@relay.test", 0, NULL, NULL);
	assert_int_equal(dns_calls, 0);
	s.sender = "<>";
	expect_rcpt(&s, "joe@our.test", 0, NULL, NULL);
	/* From mynetworks to a nonexistent domain. */
	{
		struct smtpd_check_session in = inside;

		expect_rcpt(&in, "u@nx.test", 450, "4.1.2",
		    "<u@nx.test>: Recipient address rejected: Domain not found");
	}
	/* The real resolver: no network here, or NXDOMAIN; both are 450. */
	smtpd_check_dns_domain = saved;
	s.sender = "a@nonexistent.invalid";
	{
		struct smtpd_check_reply r;
		int code = smtpd_check_rcpt(&s, "joe@our.test", &r);

		assert_int_equal(code, 450);
		smtpd_check_reply_free(&r);
	}
	unit_capture_stop();
}

static void
test_data_and_misc(void **state)
{
	struct smtpd_check_session s = outside;
	struct smtpd_check_reply r;

	(void)state;
	unit_capture_start();
	conf("compatibility_level = 3.6\n"
	    "smtpd_data_restrictions = reject_unauth_pipelining\n"
	    "smtpd_end_of_data_restrictions = check_client_access "
	    "inline:{{192.0.2.9=REJECT no eod}}\n"
	    "message_size_limit = 1000");
	assert_int_equal(smtpd_check_data(&s, &r), 0);
	smtpd_check_reply_free(&r);
	s.pipelining_violation = 1;
	assert_int_equal(smtpd_check_data(&s, &r), 503);
	assert_string_equal(r.dsn, "5.5.0");
	assert_string_equal(r.text, "<DATA>: Data command rejected: Improper use "
	    "of SMTP command pipelining");
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_eod(&s, &r), 554);
	assert_string_equal(r.text,
	    "<unknown[192.0.2.9]>: Client host rejected: no eod");
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_size(&s, 2000, &r), 552);
	assert_string_equal(r.dsn, "5.3.4");
	assert_string_equal(r.text, "Message size exceeds fixed limit");
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_size(&s, 500, &r), 0);
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_vrfy(&s, "joe@our.test", &r), 252);
	assert_string_equal(r.text, "<joe@our.test>");
	smtpd_check_reply_free(&r);
	assert_int_equal(smtpd_check_vrfy(&s, "nobody@our.test", &r), 550);
	smtpd_check_reply_free(&r);
	/* Relay guard satisfied inside a class. */
	conf("compatibility_level = 3.6\n"
	    "smtpd_restriction_classes = guard\n"
	    "guard = permit_mynetworks, reject_unauth_destination\n"
	    "smtpd_relay_restrictions = guard");
	expect_rcpt(&outside, "victim@ext.test", 554, "5.7.1", NULL);
	expect_rcpt(&inside, "victim@ext.test", 0, NULL, NULL);
	unit_capture_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_default_relay_and_log),
		cmocka_unit_test(test_unknown_users),
		cmocka_unit_test(test_tempfail),
		cmocka_unit_test(test_sender_access),
		cmocka_unit_test(test_client_access),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_routed_ok),
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_delay_reject),
		cmocka_unit_test(test_helo_sender_syntax),
		cmocka_unit_test(test_unknown_domain),
		cmocka_unit_test(test_data_and_misc),
	};

	msg_init("test_smtpd_check", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* test_cleanup - the cleanup library (core/cleanup) against a private
 * queue directory and main.cf: added headers (local vs remote clients),
 * header_checks/body_checks actions, folded headers, virtual alias
 * expansion (recursion, self reference, loops, limits, table errors,
 * extensions, @domain), duplicates, size and hop limits, hold, discard,
 * and the SMTP replies. */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "mail_conf.h"
#include "mail_queue.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "stringops.h"
#include "unit.h"

static char *conf_dir;
static char *queue_dir;

static const char header_checks[] =
    "x-reject:yes REJECT go away\n"
    "x-reject:dsn REJECT 4.7.0 later\n"
    "x-reject:plain REJECT\n"
    "x-ignore:yes IGNORE\n"
    "x-hold:yes HOLD held for review\n"
    "x-discard:yes DISCARD\n"
    "x-replace:yes REPLACE X-Replaced: done\n"
    "x-prepend:yes PREPEND X-Pre: 1\n"
    "x-redirect:yes REDIRECT other@example.net\n"
    "x-warn:yes WARN careful\n"
    "x-bcc:yes BCC copy@example.net\n"
    "x-dunno:yes DUNNO\n"
    "x-bogus:yes FROBNICATE\n";

static const char body_checks[] =
    "badbody REJECT body bad\n"
    "dropme IGNORE\n"
    "swapme REPLACE swapped\n";

static const char virtual[] =
    "a@example.com b@example.com, c@example.com\n"
    "b@example.com b@example.com, d@example.com\n"
    "loop1@example.com loop2@example.com\n"
    "loop2@example.com loop1@example.com\n"
    "@alias.test @example.net\n"
    "ext@example.com target@example.net\n"
    "short@example.com shortlocal\n"
    "wide@example.com w1@x.test w2@x.test w3@x.test w4@x.test\n";

/* setup - a fresh queue directory and main.cf with extra lines. */
static void
configure(const char *extra)
{
	char *main_cf, *text, *hc, *bc, *va;
	FILE *fp;

	free(conf_dir);
	free(queue_dir);
	conf_dir = concatenate(unit_tmpdir(), "/etc", (char *)0);
	queue_dir = concatenate(unit_tmpdir(), "/queue", (char *)0);
	mkdir(conf_dir, 0700);
	mkdir(queue_dir, 0700);
	for (int i = 0; mail_queue_names[i]; i++) {
		char *p = concatenate(queue_dir, "/", mail_queue_names[i], (char *)0);

		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		free(p);
	}
	hc = unit_write_file("header_checks", header_checks, (size_t)-1);
	bc = unit_write_file("body_checks", body_checks, (size_t)-1);
	va = unit_write_file("virtual", virtual, (size_t)-1);
	main_cf = concatenate(conf_dir, "/main.cf", (char *)0);
	fp = fopen(main_cf, "w");
	assert_non_null(fp);
	text = concatenate("queue_directory = ", queue_dir, "\n",
	    "myhostname = mail.example.org\n", "myorigin = example.org\n",
	    "mydestination = $myhostname, localhost\n",
	    "recipient_delimiter = +\n",
	    "header_checks = texthash:", hc, "\n",
	    "body_checks = texthash:", bc, "\n",
	    "virtual_alias_maps = texthash:", va, "\n",
	    extra, "\n", (char *)0);
	fputs(text, fp);
	fclose(fp);
	mail_conf_set_dir(conf_dir);
	mail_conf_read(0);
	cleanup_init();
	free(text);
	free(main_cf);
	free(hc);
	free(bc);
	free(va);
}

/* count_files - regular files in a queue. */
static int
count_files(const char *queue)
{
	DIR *d = opendir(mail_queue_dir(queue));
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* empty_queues - remove the files left in incoming/ and hold/. */
static void
empty_queues(void)
{
	static const char *const queues[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD };

	for (size_t q = 0; q < 2; q++) {
		DIR *d = opendir(mail_queue_dir(queues[q]));
		struct dirent *de;

		while ((de = readdir(d)) != NULL) {
			char *p;

			if (de->d_name[0] == '.')
				continue;
			p = mail_queue_path(queues[q], de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
}

struct result {
	int status;
	char id[64];
	char *reply;
	struct qfile_msg *msg;		/* NULL if nothing was queued */
	char *content;
};

static void
result_free(struct result *r)
{
	free(r->reply);
	qfile_msg_free(&r->msg);
	free(r->content);
	memset(r, 0, sizeof(*r));
	empty_queues();
}

/* run - one message: sender, NULL-terminated recipients, then lines
 * ("" = empty line) after a NULL separator, all in one array. */
static void
run(struct result *r, const char *const *attrs, const char *sender,
    const char *const *rcpts, const char *const *lines)
{
	struct cleanup_state *st = cleanup_open(CLEANUP_FLAGS_DEFAULT);
	const char *id, *reply;
	char *path;

	memset(r, 0, sizeof(*r));
	for (int i = 0; attrs && attrs[i]; i += 2)
		cleanup_set_attr(st, attrs[i], attrs[i + 1]);
	cleanup_set_sender(st, sender);
	for (int i = 0; rcpts[i]; i++)
		cleanup_add_rcpt(st, rcpts[i], NULL, 0);
	for (int i = 0; lines[i]; i++)
		if (cleanup_line(st, lines[i], strlen(lines[i])) != 0
		    && strstr(lines[i], "keep") == NULL)
			break;
	r->status = cleanup_finish(st, &id, &reply);
	strlcpy(r->id, id, sizeof(r->id));
	r->reply = reply ? xstrdup(reply) : NULL;
	cleanup_free(&st);
	path = mail_queue_path(MAIL_QUEUE_INCOMING, r->id);
	if (access(path, F_OK) != 0) {
		free(path);
		path = mail_queue_path(MAIL_QUEUE_HOLD, r->id);
	}
	if (access(path, F_OK) == 0) {
		const char *err;
		int fd;

		r->msg = qfile_read(path, &err);
		if (r->msg == NULL)
			UNIT_FAILF("%s: %s", path, err);
		r->content = xcalloc(1, (size_t)r->msg->content_len + 1);
		fd = open(path, O_RDONLY);
		assert_int_equal(pread(fd, r->content, (size_t)r->msg->content_len,
		    r->msg->content_offset), r->msg->content_len);
		close(fd);
	}
	free(path);
}

static const char *const one_rcpt[] = { "user@example.com", NULL };
static const char *const simple[] = { "Subject: hi", "", "body line", NULL };
static const char *const remote[] = { "client_address", "192.0.2.1",
    "client_name", "client.example", "helo", "helo.example", "protocol", "ESMTP",
    NULL };

static void
test_local_headers(void **state)
{
	struct result r;
	char want[256];

	configure("");
	unit_capture_start();
	run(&r, NULL, "sender", one_rcpt, simple);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	assert_non_null(r.msg);
	assert_string_equal(r.msg->sender, "sender@example.org");
	assert_int_equal(r.msg->rcpt_count, 1);
	assert_string_equal(r.msg->rcpt[0].address, "user@example.com");
	assert_string_equal(r.msg->rcpt[0].orig_rcpt, "user@example.com");
	assert_true(strncmp(r.content, "Subject: hi\nMessage-Id: <", 25) == 0);
	snprintf(want, sizeof(want), ".%s@mail.example.org>\nDate: ", r.id);
	if (strstr(r.content, want) == NULL)
		UNIT_FAILF("no Message-Id/Date in:\n%s", r.content);
	assert_non_null(strstr(r.content, "\nFrom: sender@example.org\n\nbody line\n"));
	assert_null(strstr(r.content, "\nTo:"));
	snprintf(want, sizeof(want), "%s: message-id=<", r.id);
	assert_int_equal(unit_captured(MSG_INFO, want), 1);
	/* Already present headers are not added again; in the local
	 * context their bare addresses get @$myorigin, as in Postfix. */
	result_free(&r);
	{
		static const char *const full[] = { "Message-ID: <x@y>", "Date: now",
		    "From: me", "To: you", "", "b", NULL };

		run(&r, NULL, "", one_rcpt, full);
		assert_int_equal(r.status, CLEANUP_STAT_OK);
		assert_string_equal(r.content,
		    "Message-ID: <x@y>\nDate: now\nFrom: me@example.org\n"
		    "To: you@example.org\n\nb\n");
		assert_string_equal(r.msg->sender, "");
		snprintf(want, sizeof(want), "%s: message-id=<x@y>", r.id);
		assert_int_equal(unit_captured(MSG_INFO, want), 1);
		result_free(&r);
	}
	/* Null sender: From: MAILER-DAEMON. */
	run(&r, NULL, "", one_rcpt, simple);
	assert_non_null(strstr(r.content, "\nFrom: MAILER-DAEMON\n"));
	result_free(&r);
	unit_capture_stop();
}

static void
test_remote_headers(void **state)
{
	struct result r;
	char want[128];

	configure("");
	unit_capture_start();
	run(&r, remote, "s@example.net", one_rcpt, simple);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	assert_string_equal(r.content, "Subject: hi\n\nbody line\n");
	assert_string_equal(qfile_msg_attr(r.msg, "client_address"), "192.0.2.1");
	snprintf(want, sizeof(want), "%s: message-id=<>", r.id);
	assert_int_equal(unit_captured(MSG_INFO, want), 1);
	result_free(&r);
	unit_capture_stop();

	/* always_add_missing_headers, and the undisclosed To:. */
	configure("always_add_missing_headers = yes\n"
	    "undisclosed_recipients_header = To: undisclosed-recipients:;");
	run(&r, remote, "s@example.net", one_rcpt, simple);
	assert_non_null(strstr(r.content, "\nFrom: s@example.net\n"
	    "To: undisclosed-recipients:;\n\nbody line\n"));
	result_free(&r);
	/* smtpd's verdict wins over the address. */
	{
		static const char *const ctx[] = { "client_address", "192.0.2.1",
		    "rewrite_context", "local", NULL };

		configure("");
		run(&r, ctx, "s@example.net", one_rcpt, simple);
		assert_non_null(strstr(r.content, "\nMessage-Id: <"));
		result_free(&r);
	}
}

/* message_drop_headers: Bcc, Resent-Bcc, Content-Length and Return-Path
 * never reach the queue, whoever sent them, unless the list says
 * otherwise; a header that header_checks writes is dropped too. */
static void
test_message_drop_headers(void **state)
{
	static const char *const msg[] = { "Bcc: secret@example.net",
	    "Resent-Bcc: other@example.net", "Content-Length: 3",
	    "Return-Path: <forged@example.net>", "RETURN-PATH:<x@y>",
	    "X-Drop-Me: 1", "X-Replace:yes", "Subject: hi", "", "body", NULL };
	struct result r;

	(void)state;
	configure("");
	run(&r, remote, "s@example.net", one_rcpt, msg);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	assert_non_null(r.content);
	if (strstr(r.content, "Bcc") || strstr(r.content, "Content-Length")
	    || strcasestr(r.content, "Return-Path")
	    || strstr(r.content, "X-Drop-Me: 1\nX-Replaced: done\nSubject: hi\n")
	    == NULL)
		UNIT_FAILF("headers kept or lost:\n%s", r.content);
	result_free(&r);

	configure("message_drop_headers = x-drop-me, x-replaced");
	run(&r, remote, "s@example.net", one_rcpt, msg);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	if (strstr(r.content, "X-Drop-Me") || strstr(r.content, "X-Replaced")
	    || strncmp(r.content, "Bcc: secret@example.net\n", 24) != 0
	    || strstr(r.content, "Content-Length: 3\n") == NULL
	    || strstr(r.content, "Return-Path: <forged@example.net>\n") == NULL)
		UNIT_FAILF("message_drop_headers not applied:\n%s", r.content);
	result_free(&r);
}

static void
test_header_checks(void **state)
{
	static const struct {
		const char *header;
		int status;
		const char *reply;
		const char *in_content;		/* must appear */
		const char *not_in_content;	/* must not appear */
		const char *log;		/* must be logged */
	} cases[] = {
		{ "X-Reject:yes", CLEANUP_STAT_CONT, "5.7.1 go away", NULL, NULL,
		  ": reject: header X-Reject:yes from client.example[192.0.2.1]; "
		  "from=<s@example.net> to=<user@example.com> proto=ESMTP "
		  "helo=<helo.example>: 5.7.1 go away" },
		{ "X-Reject:dsn", CLEANUP_STAT_CONT, "4.7.0 later", NULL, NULL, NULL },
		{ "X-Reject:plain", CLEANUP_STAT_CONT, "5.7.1 message content rejected",
		  NULL, NULL, NULL },
		{ "X-Ignore:yes", 0, NULL, "Subject: hi\n", "X-Ignore", NULL },
		{ "X-Replace:yes", 0, NULL, "X-Replaced: done\n", "X-Replace:yes",
		  ": replace: header X-Replace:yes" },
		{ "X-Prepend:yes", 0, NULL, "X-Pre: 1\nX-Prepend:yes\n", NULL, NULL },
		{ "X-Warn:yes", 0, NULL, "X-Warn:yes\n", NULL,
		  ": warning: header X-Warn:yes from client.example[192.0.2.1];" },
		{ "X-Dunno:yes", 0, NULL, "X-Dunno:yes\n", NULL, NULL },
		{ "X-Bogus:yes", 0, NULL, "X-Bogus:yes\n", NULL, "unknown command" },
	};

	configure("");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *lines[] = { "Subject: hi", cases[i].header, "", "body", NULL };
		struct result r;

		unit_capture_start();
		run(&r, remote, "s@example.net", one_rcpt, lines);
		if (r.status != cases[i].status)
			UNIT_FAILF("case %zu: status %d", i, r.status);
		if (cases[i].status != 0) {
			assert_null(r.msg);
			assert_string_equal(r.reply, cases[i].reply);
			assert_int_equal(count_files(MAIL_QUEUE_INCOMING), 0);
		} else {
			assert_non_null(r.msg);
		}
		if (cases[i].in_content && strstr(r.content, cases[i].in_content) == NULL)
			UNIT_FAILF("case %zu: \"%s\" not in:\n%s", i,
			    cases[i].in_content, r.content);
		if (cases[i].not_in_content
		    && strstr(r.content, cases[i].not_in_content) != NULL)
			UNIT_FAILF("case %zu: \"%s\" in:\n%s", i,
			    cases[i].not_in_content, r.content);
		if (cases[i].log && unit_captured(-1, cases[i].log) != 1)
			UNIT_FAILF("case %zu: not logged: %s", i, cases[i].log);
		unit_capture_stop();
		result_free(&r);
	}
}

static void
test_hold_discard_redirect(void **state)
{
	struct result r;
	static const char *const hold[] = { "X-Hold:yes", "", "b", NULL };
	static const char *const discard[] = { "X-Discard:yes", "", "b", NULL };
	static const char *const redirect[] = { "X-Redirect:yes", "", "b", NULL };
	static const char *const bcc[] = { "X-Bcc:yes", "", "b", NULL };
	static const char *const two[] = { "u1@example.com", "u2@example.com", NULL };

	configure("");
	unit_capture_start();
	run(&r, NULL, "s@example.net", one_rcpt, hold);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	assert_int_equal(count_files(MAIL_QUEUE_HOLD), 1);
	assert_int_equal(count_files(MAIL_QUEUE_INCOMING), 0);
	assert_int_equal(unit_captured(MSG_INFO, ": hold: header X-Hold:yes from local;"
	    " from=<s@example.net> to=<user@example.com>: held for review"), 1);
	result_free(&r);

	run(&r, NULL, "s@example.net", one_rcpt, discard);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	assert_true(strlen(r.id) >= 20);
	assert_null(r.msg);
	assert_int_equal(count_files(MAIL_QUEUE_INCOMING), 0);
	assert_int_equal(unit_captured(MSG_INFO, ": discard: header X-Discard:yes"), 1);
	result_free(&r);

	run(&r, NULL, "s@example.net", two, redirect);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	assert_int_equal(r.msg->rcpt_count, 3);
	assert_true(r.msg->rcpt[0].done && r.msg->rcpt[1].done);
	assert_false(r.msg->rcpt[2].done);
	assert_string_equal(r.msg->rcpt[2].address, "other@example.net");
	result_free(&r);

	run(&r, NULL, "s@example.net", one_rcpt, bcc);
	assert_int_equal(r.msg->rcpt_count, 2);
	assert_string_equal(r.msg->rcpt[1].address, "copy@example.net");
	result_free(&r);
	unit_capture_stop();
}

static void
test_body_and_folding(void **state)
{
	struct result r;
	static const char *const body[] = { "Subject: x", "", "ok", "dropme",
	    "swapme", "end", NULL };
	static const char *const bad[] = { "Subject: x", "", "ok", "badbody",
	    "more keep", NULL };
	static const char *const folded[] = { "X-Fold: a", "\tb", " c",
	    "Subject: y", "", "b", NULL };

	configure("");
	run(&r, remote, "s@example.net", one_rcpt, body);
	assert_string_equal(r.content, "Subject: x\n\nok\nswapped\nend\n");
	result_free(&r);
	run(&r, remote, "s@example.net", one_rcpt, bad);
	assert_int_equal(r.status, CLEANUP_STAT_CONT);
	assert_string_equal(r.reply, "5.7.1 body bad");
	result_free(&r);

	/* A folded header is one unit for header_checks. */
	configure("header_checks = static:{WARN seen}");
	unit_capture_start();
	run(&r, remote, "s@example.net", one_rcpt, folded);
	assert_string_equal(r.content, "X-Fold: a\n\tb\n c\nSubject: y\n\nb\n");
	assert_int_equal(unit_captured(MSG_INFO, ": warning: header "), 2);
	assert_int_equal(unit_captured(MSG_INFO,
	    ": warning: header X-Fold: a??b? c from"), 1);
	unit_capture_stop();
	result_free(&r);

	/* A header table error defers the message. */
	configure("header_checks = fail:broken");
	run(&r, remote, "s@example.net", one_rcpt, simple);
	assert_int_equal(r.status, CLEANUP_STAT_DEFER);
	assert_null(r.msg);
	result_free(&r);
}

/* MIME: part headers meet mime_header_checks, the non-MIME headers of an
 * attached message nested_header_checks, the primary MIME headers
 * mime_header_checks; boundaries open and close levels; nesting past
 * mime_nesting_limit refuses the message while checks are in use. */
static const char mime_checks[] =
    "content-type:application/x-bad REJECT mime bad\n"
    "x-part:yes WARN part header\n"
    "content-description:drop IGNORE\n";
static const char nested_checks[] =
    "subject:nested-bad REJECT nested bad\n"
    "x-nested:yes WARN nested seen\n";

/* mime_configure - the tables above beside configure()'s, and extra. */
static void
mime_configure(const char *extra)
{
	char *mh = unit_write_file("mime_checks", mime_checks, (size_t)-1);
	char *nh = unit_write_file("nested_checks", nested_checks, (size_t)-1);
	char *text = concatenate("mime_header_checks = texthash:", mh, "\n",
	    "nested_header_checks = texthash:", nh, "\n", extra, (char *)0);

	configure(text);
	free(text);
	free(mh);
	free(nh);
}

/* run_mime - one message; the status, and the reply if refused. */
static int
run_mime(struct result *r, const char *const *lines)
{
	run(r, remote, "s@example.net", one_rcpt, lines);
	return r->status;
}

static void
test_mime(void **state)
{
	struct result r;
	static const char *const part_bad[] = { "Subject: m",
	    "Content-Type: multipart/mixed;", "\tboundary=\"=_b1\"", "",
	    "preamble", "--=_b1", "Content-Type:application/x-bad", "",
	    "data", "--=_b1--", "epilogue", NULL };
	static const char *const primary_bad[] = { "Subject: m",
	    "Content-Type:application/x-bad", "", "body", NULL };
	static const char *const after_close[] = { "Subject: m",
	    "Content-Type: multipart/mixed; boundary=b2", "", "--b2",
	    "X-Warn:yes", "X-Part:yes", "Content-Description:drop", "", "text",
	    "--b2--", "Content-Type:application/x-bad", "", NULL };
	static const char *const nested[] = { "Subject: m",
	    "Content-Type: multipart/mixed; boundary=\"b3\"", "", "--b3",
	    "Content-Type: message/rfc822", "", "X-Nested:yes",
	    "Subject:nested-bad", "", "inner body", "--b3--", NULL };
	static const char *const nested_ok[] = { "Subject:nested-bad",
	    "Content-Type: multipart/mixed; boundary=b4", "", "--b4",
	    "Content-Type: message/partial; id=x; number=1", "",
	    "Subject:nested-bad", "", "--b4--", NULL };
	/* Five multiparts, one inside the other. */
	static const char *const deep[] = { "Subject: m",
	    "Content-Type: multipart/mixed; boundary=l1", "", "--l1",
	    "Content-Type: multipart/mixed; boundary=l2", "", "--l2",
	    "Content-Type: multipart/mixed; boundary=l3", "", "--l3",
	    "Content-Type: multipart/mixed; boundary=l4", "", "--l4",
	    "Content-Type: multipart/mixed; boundary=l5", "", "--l5",
	    "Content-Type: text/plain", "", "deep", "--l5--", "--l4--",
	    "--l3--", "--l2--", "--l1--", NULL };
	static const char *const digest[] = { "Subject: m",
	    "Content-Type: multipart/digest; boundary=d", "", "--d", "",
	    "Subject:nested-bad", "", "x", "--d--", NULL };

	mime_configure("");
	unit_capture_start();
	assert_int_equal(run_mime(&r, part_bad), CLEANUP_STAT_CONT);
	assert_string_equal(r.reply, "5.7.1 mime bad");
	assert_int_equal(unit_captured(MSG_INFO, ": reject: header "
	    "Content-Type:application/x-bad from client.example[192.0.2.1];"), 1);
	result_free(&r);
	assert_int_equal(run_mime(&r, primary_bad), CLEANUP_STAT_CONT);
	result_free(&r);

	/* Part headers: mime_header_checks, not header_checks (X-Warn:yes
	 * says nothing there); not body lines; the epilogue is body. */
	assert_int_equal(run_mime(&r, after_close), 0);
	assert_int_equal(unit_captured(MSG_INFO, ": warning: header X-Part:yes"
	    " from client.example[192.0.2.1];"), 1);
	assert_int_equal(unit_captured(MSG_INFO, ": warning: header X-Warn:yes"),
	    0);
	assert_non_null(strstr(r.content, "\n--b2\nX-Warn:yes\nX-Part:yes\n\n"
	    "text\n--b2--\nContent-Type:application/x-bad\n\n"));
	result_free(&r);

	/* An attached message: its Subject: meets nested_header_checks. */
	assert_int_equal(run_mime(&r, nested), CLEANUP_STAT_CONT);
	assert_string_equal(r.reply, "5.7.1 nested bad");
	assert_int_equal(unit_captured(MSG_INFO, ": warning: header "
	    "X-Nested:yes"), 1);
	result_free(&r);
	/* ... not in the primary headers, nor in message/partial. */
	assert_int_equal(run_mime(&r, nested_ok), 0);
	result_free(&r);
	/* multipart/digest parts are messages unless they say otherwise. */
	assert_int_equal(run_mime(&r, digest), CLEANUP_STAT_CONT);
	assert_string_equal(r.reply, "5.7.1 nested bad");
	result_free(&r);

	/* Postfix refuses a multipart that opens inside limit + 2 others,
	 * while checks are on: five levels pass a limit of 3, not of 2. */
	unit_capture_stop();
	mime_configure("mime_nesting_limit = 3\n");
	unit_capture_start();
	assert_int_equal(run_mime(&r, deep), 0);
	result_free(&r);
	unit_capture_stop();
	mime_configure("mime_nesting_limit = 2\n");
	unit_capture_start();
	assert_int_equal(run_mime(&r, deep), CLEANUP_STAT_CONT);
	assert_string_equal(r.reply, "5.6.0 MIME nesting exceeds safety limit");
	if (unit_captured(MSG_INFO, ": reject: mime-error MIME nesting "
	    "exceeds safety limit: Content-Type: multipart/mixed; boundary=l5 "
	    "from client.example") != 1)
		UNIT_FAILF("mime-error not logged");
	result_free(&r);
	configure("mime_nesting_limit = 2\nheader_checks =\n");
	assert_int_equal(run_mime(&r, deep), 0);
	result_free(&r);

	/* disable_mime_input_processing: everything after the primary
	 * headers is body. */
	mime_configure("disable_mime_input_processing = yes\n");
	assert_int_equal(run_mime(&r, part_bad), 0);
	result_free(&r);
	unit_capture_stop();
}

/* rcpt_list - "a,b,c" of the queued recipients. */
static char *
rcpt_list(const struct qfile_msg *m)
{
	struct buf *b = buf_new(64, BUF_NOLIMIT);
	char *s;

	for (int i = 0; i < m->rcpt_count; i++)
		buf_printf(b, "%s%s", i ? "," : "", m->rcpt[i].address);
	s = xstrdup(buf_str(b));
	buf_free(&b);
	return s;
}

static void
test_virtual(void **state)
{
	static const struct {
		const char *rcpt[4];
		const char *want;	/* NULL: deferred */
	} cases[] = {
		{ { "a@example.com" }, "b@example.com,c@example.com,d@example.com" },
		{ { "b@example.com" }, "b@example.com,d@example.com" },
		{ { "x@alias.test" }, "x@example.net" },
		{ { "ext+foo@example.com" }, "target+foo@example.net" },
		{ { "ext@example.com" }, "target@example.net" },
		{ { "short@example.com" }, "shortlocal@example.org" },
		{ { "nobody@example.com" }, "nobody@example.com" },
		{ { "nobody@example.com", "NOBODY@example.com" }, "nobody@example.com" },
		{ { "loop1@example.com" }, NULL },
		{ { "wide@example.com" }, NULL },
	};

	configure("virtual_alias_recursion_limit = 20\n"
	    "virtual_alias_expansion_limit = 3");
	unit_capture_start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;
		const char *rcpts[5] = { NULL };

		for (int j = 0; j < 4 && cases[i].rcpt[j]; j++)
			rcpts[j] = cases[i].rcpt[j];
		run(&r, NULL, "s@example.net", rcpts, simple);
		if (cases[i].want == NULL) {
			if (r.status != CLEANUP_STAT_DEFER || r.msg != NULL
			    || strcmp(r.reply, "4.6.0 Alias expansion error") != 0)
				UNIT_FAILF("case %zu: status %d, not deferred", i,
				    r.status);
		} else {
			char *got;

			if (r.status != CLEANUP_STAT_OK)
				UNIT_FAILF("case %zu: status %d", i, r.status);
			got = rcpt_list(r.msg);
			if (strcmp(got, cases[i].want) != 0)
				UNIT_FAILF("case %zu: got %s, want %s", i, got,
				    cases[i].want);
			free(got);
			assert_string_equal(r.msg->rcpt[0].orig_rcpt, cases[i].rcpt[0]);
		}
		result_free(&r);
	}
	assert_true(unit_captured(MSG_WARN, "virtual_alias_maps map nesting is "
	    "unreasonable for loop1@example.com") == 1);
	unit_capture_stop();

	/* virtual_alias_address_length_limit is for what the table returns:
	 * an over-long recipient of the message itself goes through (it
	 * used to defer the whole message, forever); a long result defers. */
	configure("virtual_alias_address_length_limit = 15");
	unit_capture_start();
	{
		static const char *const rcpts[] = {
			"a-very-long-original-address@example.com", "a@example.com",
			NULL };
		static const char *const longer[] = { "ext@example.com", NULL };
		struct result r;
		char *got;

		run(&r, NULL, "s@example.net", rcpts, simple);
		assert_int_equal(r.status, CLEANUP_STAT_OK);
		got = rcpt_list(r.msg);
		assert_string_equal(got, "a-very-long-original-address@example.com,"
		    "b@example.com,c@example.com,d@example.com");
		free(got);
		result_free(&r);
		run(&r, NULL, "s@example.net", longer, simple);
		assert_int_equal(r.status, CLEANUP_STAT_DEFER);
		assert_string_equal(r.reply, "4.6.0 Alias expansion error");
		result_free(&r);
	}
	assert_true(unit_captured(MSG_WARN, "unreasonable virtual_alias_maps "
	    "result target@example.net... -- message not accepted") == 1);
	unit_capture_stop();

	/* A broken table defers. */
	configure("virtual_alias_maps = fail:broken");
	{
		struct result r;

		run(&r, NULL, "s@example.net", one_rcpt, simple);
		assert_int_equal(r.status, CLEANUP_STAT_DEFER);
		assert_string_equal(r.reply, "4.6.0 Alias expansion error");
		result_free(&r);
	}
}

static void
test_limits(void **state)
{
	struct result r;
	const char *lines[64];
	char big[600];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	configure("message_size_limit = 1000\nhopcount_limit = 3");
	lines[0] = "Subject: big";
	lines[1] = "";
	lines[2] = big;
	lines[3] = big;
	lines[4] = "keep reading after the limit";
	lines[5] = NULL;
	run(&r, NULL, "s@example.net", one_rcpt, lines);
	assert_int_equal(r.status, CLEANUP_STAT_SIZE);
	assert_null(r.msg);
	assert_int_equal(count_files(MAIL_QUEUE_INCOMING), 0);
	result_free(&r);

	for (int i = 0; i < 4; i++)
		lines[i] = "Received: from x by y";
	lines[4] = "";
	lines[5] = "b";
	lines[6] = NULL;
	run(&r, NULL, "s@example.net", one_rcpt, lines);
	assert_int_equal(r.status, CLEANUP_STAT_HOPS);
	result_free(&r);
	lines[3] = "";
	lines[4] = "b";
	lines[5] = NULL;
	run(&r, NULL, "s@example.net", one_rcpt, lines);
	assert_int_equal(r.status, CLEANUP_STAT_OK);
	result_free(&r);

	/* No recipients. */
	{
		static const char *const none[] = { NULL };

		run(&r, NULL, "s@example.net", none, simple);
		assert_int_equal(r.status, CLEANUP_STAT_RCPT);
		result_free(&r);
	}
}

static void
test_prepend_and_huge_header(void **state)
{
	struct cleanup_state *st;
	const char *id, *reply;
	struct result r;
	char *huge = xmalloc(300000);

	configure("");
	/* smtpd's Received: goes first and counts as a header. */
	st = cleanup_open(CLEANUP_FLAGS_DEFAULT);
	cleanup_set_sender(st, "s@example.net");
	cleanup_add_rcpt(st, "user@example.com", "rfc822;orig@example.com",
	    DSN_NOTIFY_SUCCESS);
	cleanup_prepend_header(st, "Received: from a\n\tby b");
	memset(huge, 'h', 299999);
	huge[299999] = 0;
	memcpy(huge, "X-Huge: ", 8);
	cleanup_line(st, huge, strlen(huge));
	cleanup_line(st, "", 0);
	cleanup_line(st, "a\0b", 3);
	assert_int_equal(cleanup_finish(st, &id, &reply), CLEANUP_STAT_OK);
	strlcpy(r.id, id, sizeof(r.id));
	cleanup_free(&st);
	{
		char *path = mail_queue_path(MAIL_QUEUE_INCOMING, r.id);
		const char *err;
		struct qfile_msg *m = qfile_read(path, &err);
		char *content;
		int fd;

		assert_non_null(m);
		assert_string_equal(m->rcpt[0].orig_rcpt, "rfc822;orig@example.com");
		assert_int_equal(m->rcpt[0].dsn_notify, DSN_NOTIFY_SUCCESS);
		content = xcalloc(1, (size_t)m->content_len + 1);
		fd = open(path, O_RDONLY);
		assert_int_equal(pread(fd, content, (size_t)m->content_len,
		    m->content_offset), m->content_len);
		close(fd);
		assert_true(strncmp(content, "Received: from a\n\tby b\nX-Huge: hhh", 34) == 0);
		/* The header was cut at header_size_limit (102400). */
		assert_true(m->content_len < 102400 + 400);
		assert_memory_equal(content + m->content_len - 4, "a\0b\n", 4);
		free(content);
		qfile_msg_free(&m);
		free(path);
	}
	empty_queues();
	free(huge);
}

static void
test_replies(void **state)
{
	static const struct {
		int status;
		const char *reply;
		const char *want;
	} cases[] = {
		{ CLEANUP_STAT_OK, NULL, "250 2.0.0 Ok: queued as ABC" },
		{ CLEANUP_STAT_CONT, "5.7.1 go away", "550 5.7.1 go away" },
		{ CLEANUP_STAT_CONT, "4.7.0 later", "451 4.7.0 later" },
		{ CLEANUP_STAT_SIZE, NULL, "552 5.3.4 Error: message file too big" },
		{ CLEANUP_STAT_HOPS, NULL, "554 5.4.0 Error: too many hops" },
		{ CLEANUP_STAT_WRITE, NULL, "451 4.3.0 Error: queue file write error" },
		{ CLEANUP_STAT_NOSPACE | CLEANUP_STAT_WRITE, NULL,
		  "452 4.3.1 Insufficient system storage" },
		{ CLEANUP_STAT_DEFER, "4.6.0 Alias expansion error",
		  "451 4.6.0 Alias expansion error" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = cleanup_smtp_reply(cases[i].status, "ABC", cases[i].reply);

		assert_string_equal(s, cases[i].want);
		free(s);
	}
}

static void
test_write_error(void **state)
{
	struct result r;

	/* incoming/ is missing: the open fails, finish reports it. */
	configure("");
	{
		char *inc = xstrdup(mail_queue_dir(MAIL_QUEUE_INCOMING));
		char *moved = concatenate(inc, ".away", (char *)0);

		assert_int_equal(rename(inc, moved), 0);
		run(&r, NULL, "s@example.net", one_rcpt, simple);
		assert_int_equal(r.status, CLEANUP_STAT_WRITE);
		assert_string_equal(r.id, "NOQUEUE");
		assert_int_equal(rename(moved, inc), 0);
		free(inc);
		free(moved);
	}
	result_free(&r);
}

static int
teardown(void **state)
{
	free(conf_dir);
	free(queue_dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_headers),
		cmocka_unit_test(test_remote_headers),
		cmocka_unit_test(test_header_checks),
		cmocka_unit_test(test_hold_discard_redirect),
		cmocka_unit_test(test_body_and_folding),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_virtual),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_prepend_and_huge_header),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_message_drop_headers),
	};

	msg_init("test_cleanup", 1);
	return cmocka_run_group_tests(tests, NULL, teardown);
}

/* SPDX-License-Identifier: MIT */
/* test_attr - attribute lists (core/mail/attr.c): round trip with hostile
 * values, strict parsing of malformed input, incremental parsing, limits,
 * attr_read/attr_write over a socket pair, and the delivery protocol
 * (deliver_request.c) checks. */
#include "postino_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr.h"
#include "deliver_request.h"
#include "mail_conf.h"
#include "mymalloc.h"
#include "qfile.h"
#include "unit.h"

static void
test_round_trip(void **state)
{
	struct attr_list *al = attr_list_new(), *back = attr_list_new();
	struct buf *b = buf_new(64, BUF_NOLIMIT);
	const char *err;
	char all[256];
	long n;

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = 0;
	attr_add(al, "plain", "hello world");
	attr_add(al, "empty", "");
	attr_add(al, "all_bytes", all);
	attr_add(al, "percent", "100%25 %");
	attr_addf(al, "num", "%d", 42);
	attr_format(al, b);
	/* Only the separators are raw newlines. */
	assert_int_equal(buf_str(b)[buf_len(b) - 1], '\n');
	assert_null(strchr(strstr(buf_str(b), "all_bytes="), '\r'));
	n = attr_parse(buf_str(b), buf_len(b), back, &err);
	assert_int_equal(n, (long)buf_len(b));
	assert_int_equal(back->count, 5);
	assert_string_equal(attr_get(back, "plain"), "hello world");
	assert_string_equal(attr_get(back, "empty"), "");
	assert_string_equal(attr_get(back, "all_bytes"), all);
	assert_string_equal(attr_get(back, "percent"), "100%25 %");
	assert_int_equal(attr_get_long(back, "num", -1), 42);
	assert_int_equal(attr_get_long(back, "plain", -7), -7);
	assert_int_equal(attr_get_long(back, "missing", 3), 3);
	assert_null(attr_get(back, "missing"));
	attr_list_free(&al);
	attr_list_free(&back);
	buf_free(&b);
}

static void
test_hostile(void **state)
{
	static const struct {
		const char *in;
		long rc;	/* expected return */
	} cases[] = {
		{"\n", 1},
		{"a=b\n\n", 5},
		{"a=b\n\nnext=1\n\n", 5},
		{"a=b\n", 0},
		{"a=b", 0},
		{"", 0},
		{"A=b\n\n", -1},
		{"=b\n\n", -1},
		{"a\n\n", -1},
		{"a-b=c\n\n", -1},
		{"a b=c\n\n", -1},
		{"a=b\rc\n\n", -1},
		{"a=%0\n\n", -1},
		{"a=%G0\n\n", -1},
		{"a=%00\n\n", -1},
		{"a=%\n\n", -1},
		{"a=\x7f\n\n", -1},
		{"a=\t\n\n", -1},
		{"a=%0A%25\n\n", 10},
		{"bad line\n", -1},	/* refused before the end arrives */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct attr_list *al = attr_list_new();
		const char *err = NULL;
		long rc = attr_parse(cases[i].in, strlen(cases[i].in), al, &err);

		if (rc != cases[i].rc)
			UNIT_FAILF("case %zu (%s): rc %ld, expected %ld (%s)", i,
			    cases[i].in, rc, cases[i].rc, err);
		if (rc < 0 && (err == NULL || *err == 0))
			UNIT_FAILF("case %zu: no reason", i);
		if (rc <= 0 && al->count != 0)
			UNIT_FAILF("case %zu: attributes left after failure", i);
		attr_list_free(&al);
	}
}

static void
test_nul_and_limits(void **state)
{
	struct attr_list *al = attr_list_new();
	const char *err;
	static const char with_nul[] = "a=x\0y\n\n";
	struct buf *b = buf_new(64, BUF_NOLIMIT);

	assert_int_equal(attr_parse(with_nul, sizeof(with_nul) - 1, al, &err), -1);
	/* Too many attributes. */
	for (int i = 0; i <= ATTR_MAX_COUNT; i++)
		buf_puts(b, "a=1\n");
	buf_puts(b, "\n");
	assert_int_equal(attr_parse(buf_str(b), buf_len(b), al, &err), -1);
	assert_non_null(strstr(err, "too many"));
	/* Too large, and never ending. */
	buf_reset(b);
	buf_puts(b, "a=");
	while (buf_len(b) < ATTR_MAX_BYTES + 10)
		buf_puts(b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(attr_parse(buf_str(b), buf_len(b), al, &err), -1);
	buf_puts(b, "\n\n");
	assert_int_equal(attr_parse(buf_str(b), buf_len(b), al, &err), -1);
	attr_list_free(&al);
	buf_free(&b);
}

/* Every prefix of a valid list is "incomplete", never an error. */
static void
test_incremental(void **state)
{
	struct attr_list *al = attr_list_new();
	struct buf *b = buf_new(64, BUF_NOLIMIT);
	const char *err;

	attr_add(al, "request", "deliver");
	attr_add(al, "text", "line1\nline2%");
	attr_format(al, b);
	for (size_t n = 0; n < buf_len(b); n++) {
		long rc = attr_parse(buf_str(b), n, al, &err);

		if (rc != 0)
			UNIT_FAILF("prefix %zu: rc %ld (%s)", n, rc, err);
	}
	assert_int_equal(attr_parse(buf_str(b), buf_len(b), al, &err),
	    (long)buf_len(b));
	assert_string_equal(attr_get(al, "text"), "line1\nline2%");
	attr_list_free(&al);
	buf_free(&b);
}

/* Random bytes never crash the parser and never produce bad names. */
static void
test_fuzz(void **state)
{
	struct attr_list *al = attr_list_new();
	unsigned int seed = 12345;
	char data[512];
	const char *err;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(data));

		for (size_t i = 0; i < len; i++) {
			int r = rand_r(&seed) % 8;

			data[i] = r == 0 ? '\n' : r == 1 ? '=' : r == 2 ? '%'
			    : r == 3 ? 'a' : (char)(rand_r(&seed) & 0xff);
		}
		if (attr_parse(data, len, al, &err) > 0)
			for (int i = 0; i < al->count; i++)
				assert_true(strspn(al->names[i],
				    "abcdefghijklmnopqrstuvwxyz0123456789_")
				    == strlen(al->names[i]));
	}
	attr_list_free(&al);
}

static void
test_socket(void **state)
{
	int sv[2];
	struct attr_list *al = attr_list_new(), *in = attr_list_new();
	struct buf *inbuf = buf_new(64, BUF_NOLIMIT);
	const char *err;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	attr_add(al, "one", "1");
	assert_int_equal(attr_write(sv[0], al), 0);
	attr_list_reset(al);
	attr_add(al, "two", "2\n");
	assert_int_equal(attr_write(sv[0], al), 0);
	/* Both lists arrive in one read: the second waits in inbuf. */
	assert_int_equal(attr_read(sv[1], inbuf, in, 5000, &err), 1);
	assert_string_equal(attr_get(in, "one"), "1");
	assert_int_equal(attr_read(sv[1], inbuf, in, 5000, &err), 1);
	assert_string_equal(attr_get(in, "two"), "2\n");
	/* Nothing more: a short timeout expires. */
	assert_int_equal(attr_read(sv[1], inbuf, in, 10, &err), -1);
	assert_non_null(strstr(err, "timeout"));
	/* A partial list then EOF is an error; plain EOF is 0. */
	assert_int_equal(write(sv[0], "x=1\n", 4), 4);
	close(sv[0]);
	assert_int_equal(attr_read(sv[1], inbuf, in, 5000, &err), -1);
	buf_reset(inbuf);
	assert_int_equal(attr_read(sv[1], inbuf, in, 5000, &err), 0);
	close(sv[1]);
	/* Bad data from the peer. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "BAD=1\n\n", 7), 7);
	assert_int_equal(attr_read(sv[1], inbuf, in, 5000, &err), -1);
	close(sv[0]);
	close(sv[1]);
	attr_list_free(&al);
	attr_list_free(&in);
	buf_free(&inbuf);
}

static void
test_deliver_request(void **state)
{
	static char a[] = "a@example.com", ao[] = "A@example.com";
	static char b[] = "b@example.com", id[] = "65A0B1C2D", sender[] = "s@x";
	static char client[] = "192.0.2.1", badid[] = "../x";
	static char path[] = "/var/spool/postino-test/active/65A0B1C2D";
	static char etc[] = "/etc/passwd";
	static char dots[] = "/var/spool/postino-test/../../etc/65A0B1C2D";
	struct deliver_rcpt rcpts[2] = {
		{ a, ao, 120, DSN_NOTIFY_FAILURE },
		{ b, NULL, 200, 0 },
	};
	struct deliver_request dr = {
		.request_id = 7, .queue_id = id, .sender = sender,
		.arrival = 1700000000.25, .content_offset = 300, .content_len = 99,
		.client_address = client, .rcpt_count = 2, .rcpt = rcpts,
		.queue_path = path,
	};
	struct attr_list *al = attr_list_new();
	struct deliver_request *back;
	const char *err;

	mail_conf_override("queue_directory", "/var/spool/postino-test");
	deliver_request_to_attr(&dr, al);
	back = deliver_request_from_attr(al, &err);
	if (back == NULL)
		UNIT_FAILF("from_attr: %s", err);
	assert_int_equal(back->request_id, 7);
	assert_int_equal(back->rcpt_count, 2);
	assert_string_equal(back->rcpt[0].orig_rcpt, "A@example.com");
	assert_string_equal(back->rcpt[1].orig_rcpt, "");
	assert_int_equal(back->rcpt[1].offset, 200);
	assert_int_equal(back->rcpt[0].dsn_notify, DSN_NOTIFY_FAILURE);
	assert_int_equal(back->content_offset, 300);
	assert_string_equal(back->client_address, "192.0.2.1");
	deliver_request_free(&back);

	/* A path outside the queue, a bad ID, a bad number. */
	attr_list_reset(al);
	dr.queue_path = etc;
	deliver_request_to_attr(&dr, al);
	assert_null(deliver_request_from_attr(al, &err));
	attr_list_reset(al);
	dr.queue_path = dots;
	deliver_request_to_attr(&dr, al);
	assert_null(deliver_request_from_attr(al, &err));
	attr_list_reset(al);
	dr.queue_path = path;
	dr.queue_id = badid;
	deliver_request_to_attr(&dr, al);
	assert_null(deliver_request_from_attr(al, &err));
	dr.queue_id = id;
	attr_list_reset(al);
	deliver_request_to_attr(&dr, al);
	for (int i = 0; i < al->count; i++)
		if (strcmp(al->names[i], "rcpt_offset_1") == 0) {
			free(al->values[i]);
			al->values[i] = xstrdup("-5");
		}
	assert_null(deliver_request_from_attr(al, &err));
	assert_non_null(strstr(err, "offset"));
	attr_list_free(&al);
}

static void
test_deliver_status(void **state)
{
	static char text[] = "no such user", relay[] = "local";
	struct deliver_status ds = { .rcpt_index = 1, .dsn = "5.1.1",
	    .status = "bounced", .action = "failed", .text = text,
	    .relay = relay };
	struct attr_list *al = attr_list_new();
	struct deliver_status *back;
	const char *err;
	long id;

	deliver_status_to_attr(9, &ds, al);
	back = deliver_status_from_attr(al, &id, &err);
	assert_non_null(back);
	assert_int_equal(id, 9);
	assert_string_equal(back->dsn, "5.1.1");
	assert_string_equal(back->status, "bounced");
	assert_string_equal(back->text, "no such user");
	deliver_status_free(&back);
	attr_list_reset(al);
	ds.dsn[0] = '3';
	deliver_status_to_attr(9, &ds, al);
	assert_null(deliver_status_from_attr(al, &id, &err));
	attr_list_free(&al);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_nul_and_limits),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_deliver_request),
		cmocka_unit_test(test_deliver_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* fuzz_qfile - libFuzzer target for the queue-file reader
 * (core/mail/qfile.c) and the delivery-request protocol
 * (core/mail/deliver_request.c): the two ways a message's envelope
 * reaches qmgr and the delivery agents.
 *
 * The fuzz bytes are, at the same time:
 *   - a queue file: written to a temporary file with mode 0700 (a
 *     finished file) and read with qfile_read.  A file it accepts must be
 *     consistent: content inside the file, recipient records inside the
 *     envelope, every attribute findable.  Its envelope, turned into a
 *     delivery request the way qmgr does, must survive
 *     deliver_request_to_attr -> attr_format -> attr_parse ->
 *     deliver_request_from_attr unchanged whenever it is accepted.
 *   - attribute lists: parsed one after the other with attr_parse and
 *     given to deliver_request_from_attr and deliver_status_from_attr; a
 *     request or status they accept must round-trip the same way. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "deliver_request.h"
#include "fuzz_util.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "qfile.h"
#include "stringops.h"

#define FUZZ_MAX_INPUT	(256 * 1024)

static char qpath[4096];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	/* queue_directory is the built-in default: no main.cf is read. */
	mail_conf_set_dir(fuzz_tmpdir());
	/* Built-in defaults until a main.cf is read (rebound then). */
	mail_vars_bind(MAIL_VARS_GLOBAL);
	snprintf(qpath, sizeof(qpath), "%s", fuzz_path("0123456789ABCDEF"));
	return 0;
}

/* same_str - both NULL, or equal. */
static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* same_request - compare what deliver_request_from_attr filled in. */
static int
same_request(const struct deliver_request *a, const struct deliver_request *b)
{
	if (a->request_id != b->request_id || !same_str(a->queue_id, b->queue_id)
	    || !same_str(a->queue_path, b->queue_path)
	    || !same_str(a->sender, b->sender)
	    || a->content_offset != b->content_offset
	    || a->content_len != b->content_len
	    || !same_str(a->nexthop, b->nexthop)
	    || !same_str(a->client_address, b->client_address)
	    || !same_str(a->client_name, b->client_name)
	    || !same_str(a->client_helo, b->client_helo)
	    || !same_str(a->client_protocol, b->client_protocol)
	    || !same_str(a->dsn_envid, b->dsn_envid)
	    || !same_str(a->dsn_ret, b->dsn_ret)
	    || a->rcpt_count != b->rcpt_count)
		return 0;
	for (int i = 0; i < a->rcpt_count; i++)
		if (!same_str(a->rcpt[i].address, b->rcpt[i].address)
		    || !same_str(a->rcpt[i].orig_rcpt, b->rcpt[i].orig_rcpt)
		    || a->rcpt[i].offset != b->rcpt[i].offset
		    || a->rcpt[i].dsn_notify != b->rcpt[i].dsn_notify)
			return 0;
	return 1;
}

/* wire - al through its wire form and back (must always work). */
static struct attr_list *
wire(const struct attr_list *al)
{
	struct buf *b = buf_new(1024, BUF_NOLIMIT);
	struct attr_list *back = attr_list_new();
	const char *err;

	attr_format(al, b);
	if (attr_parse(buf_str(b), buf_len(b), back, &err) != (long)buf_len(b))
		abort();
	buf_free(&b);
	return back;
}

/* request_roundtrip - dr -> attributes -> wire -> request, unchanged. */
static void
request_roundtrip(const struct deliver_request *dr, int must_accept)
{
	struct attr_list *al = attr_list_new(), *back;
	struct deliver_request *again;
	const char *err;

	deliver_request_to_attr(dr, al);
	back = wire(al);
	again = deliver_request_from_attr(back, &err);
	if (again == NULL ? must_accept : !same_request(dr, again))
		abort();
	deliver_request_free(&again);
	attr_list_free(&back);
	attr_list_free(&al);
}

/* opt - a copy of an optional queue-file attribute ("" when unset, as
 * deliver_request_from_attr gives it back). */
static char *
opt(const struct qfile_msg *m, const char *name)
{
	const char *v = qfile_msg_attr(m, name);

	return xstrdup(v ? v : "");
}

/* check_msg - invariants of an accepted queue file, then the request
 * qmgr would build from it. */
static void
check_msg(const struct qfile_msg *m)
{
	struct deliver_request *dr;

	if (m->content_offset < 0 || m->content_len < 0
	    || m->content_offset + m->content_len > m->file_size
	    || m->sender == NULL || m->id == NULL)
		abort();
	for (int i = 0; i < m->attr_count; i++)
		if (qfile_msg_attr(m, m->attr_names[i]) == NULL)
			abort();
	for (int i = 0; i < m->rcpt_count; i++)
		if (m->rcpt[i].offset < 0 || m->rcpt[i].offset >= m->file_size
		    || m->rcpt[i].address == NULL || m->rcpt[i].orig_rcpt == NULL
		    || m->rcpt[i].dsn_notify < 0 || m->rcpt[i].dsn_notify > 0xff)
			abort();
	if (m->rcpt_count == 0)
		return;
	dr = xcalloc(1, sizeof(*dr));
	dr->request_id = 1;
	dr->queue_id = xstrdup("0123456789ABCDEF");
	dr->queue_path = concatenate(mail_conf_str("queue_directory"),
	    "/active/", dr->queue_id, (char *)0);
	dr->sender = xstrdup(m->sender);
	dr->arrival = m->arrival;
	dr->content_offset = m->content_offset;
	dr->content_len = m->content_len;
	dr->nexthop = xstrdup("example.com");
	dr->client_address = opt(m, "client_address");
	dr->client_name = opt(m, "client_name");
	dr->client_helo = opt(m, "helo");
	dr->client_protocol = opt(m, "protocol");
	dr->dsn_envid = opt(m, "dsn_envid");
	dr->dsn_ret = opt(m, "dsn_ret");
	dr->rcpt = xcalloc((size_t)m->rcpt_count, sizeof(*dr->rcpt));
	dr->rcpt_count = m->rcpt_count;
	for (int i = 0; i < m->rcpt_count; i++) {
		dr->rcpt[i].address = xstrdup(m->rcpt[i].address);
		dr->rcpt[i].orig_rcpt = xstrdup(m->rcpt[i].orig_rcpt);
		dr->rcpt[i].offset = m->rcpt[i].offset;
		dr->rcpt[i].dsn_notify = m->rcpt[i].dsn_notify;
	}
	request_roundtrip(dr, 0);
	deliver_request_free(&dr);
}

/* check_status - a status list that is accepted round-trips. */
static void
check_status(const struct attr_list *al)
{
	struct deliver_status *ds, *again;
	struct attr_list *out, *back;
	long id, id2;
	const char *err;

	if ((ds = deliver_status_from_attr(al, &id, &err)) == NULL)
		return;
	out = attr_list_new();
	deliver_status_to_attr(id, ds, out);
	back = wire(out);
	again = deliver_status_from_attr(back, &id2, &err);
	if (again == NULL || id != id2 || ds->rcpt_index != again->rcpt_index
	    || strcmp(ds->dsn, again->dsn) != 0 || ds->status != again->status
	    || ds->action != again->action || strcmp(ds->text, again->text) != 0
	    || !same_str(ds->relay, again->relay))
		abort();
	deliver_status_free(&again);
	deliver_status_free(&ds);
	attr_list_free(&back);
	attr_list_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qfile_msg *m;
	struct attr_list *al;
	const char *err;
	size_t pos = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_write(qpath, data, size, 0700);
	if ((m = qfile_read(qpath, &err)) != NULL) {
		check_msg(m);
		qfile_msg_free(&m);
	} else if (err == NULL || *err == 0) {
		abort();
	}
	/* The same bytes as a stream of attribute lists. */
	al = attr_list_new();
	for (int lists = 0; lists < 1000 && pos < size; lists++) {
		struct deliver_request *dr;
		long n = attr_parse((const char *)data + pos, size - pos, al, &err);

		if (n <= 0)
			break;
		pos += (size_t)n;
		if ((dr = deliver_request_from_attr(al, &err)) != NULL) {
			request_roundtrip(dr, 1);
			deliver_request_free(&dr);
		}
		check_status(al);
	}
	attr_list_free(&al);
	return 0;
}

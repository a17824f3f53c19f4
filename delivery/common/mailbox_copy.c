/* SPDX-License-Identifier: MIT */
/* mailbox_copy - write one copy of the message as local(8) and pipe(8)
 * do: an optional "From sender date" line, Return-Path:, X-Original-To:
 * and Delivered-To: headers, then the content from the queue file (with
 * ">From " quoting for mbox, "." doubling for pipe's BSMTP users), and
 * an optional empty line at the end; lines end in "\n" or pipe's eol.
 *
 * The content is streamed in chunks: a line of any length costs no
 * memory.  Values from the envelope are written on one line (CR and LF
 * become blanks) so they cannot add headers. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "mymalloc.h"
#include "stringops.h"

#define COPY_BUFSIZE	65536

struct out {
	int fd;
	char buf[COPY_BUFSIZE];
	size_t len;
	int err;
};

static void
out_flush(struct out *o)
{
	size_t off = 0;

	while (!o->err && off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			break;
		}
		off += (size_t)n;
	}
	o->len = 0;
}

static void
out_put(struct out *o, const char *data, size_t len)
{
	while (len > 0 && !o->err) {
		size_t room = sizeof(o->buf) - o->len;

		if (room == 0) {
			out_flush(o);
			continue;
		}
		if (room > len)
			room = len;
		memcpy(o->buf + o->len, data, room);
		o->len += room;
		data += room;
		len -= room;
	}
}

/* out_header - "Name: value" and the end of line, the value kept on
 * one line. */
static void
out_header(struct out *o, const char *name, const char *pre,
    const char *value, const char *post, int lower, const char *eol)
{
	out_put(o, name, strlen(name));
	out_put(o, pre, strlen(pre));
	for (const char *cp = value; *cp; cp++) {
		char c = *cp;

		if (c == '\r' || c == '\n')
			c = ' ';
		else if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out_put(o, &c, 1);
	}
	out_put(o, post, strlen(post));
	out_put(o, eol, strlen(eol));
}

int
local_copy(struct local_ctx *ctx, int out_fd, int flags, int *qerr_r)
{
	return local_copy_eol(ctx, out_fd, flags, "\n", qerr_r);
}

/* bol_need - look-ahead bytes a line start needs to decide on quoting. */
static size_t
bol_need(int flags)
{
	return (flags & LOCAL_COPY_QUOTE) ? 5 : (flags & LOCAL_COPY_DOT) ? 1 : 0;
}

int
local_copy_eol(struct local_ctx *ctx, int out_fd, int flags, const char *eol,
    int *qerr_r)
{
	struct local_msg *msg = ctx->msg;
	struct out *o = xcalloc(1, sizeof(*o));
	char *in = xmalloc(COPY_BUFSIZE + 8);
	size_t have = 0, need = bol_need(flags), eol_len = strlen(eol);
	off_t pos = 0, len = msg->dr->content_len;
	int at_bol = 1, last_nl = 1, ret = 0;
	int plain_eol = (eol_len == 1 && eol[0] == '\n');

	*qerr_r = 0;
	o->fd = out_fd;
	if (flags & LOCAL_COPY_FROM) {
		time_t now = time(NULL);
		struct tm tm;
		char date[64];

		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		out_header(o, "From ", "", *ctx->sender ? ctx->sender :
		    "MAILER-DAEMON", "  ", 0, "");
		out_put(o, date, strlen(date));
		out_put(o, eol, eol_len);
	}
	if (flags & LOCAL_COPY_RETURN)
		out_header(o, "Return-Path:", " <", ctx->sender, ">", 0, eol);
	if (flags & LOCAL_COPY_ORIG)
		out_header(o, "X-Original-To:", " ", ctx->orig_rcpt, "", 0, eol);
	if (flags & LOCAL_COPY_DELIVERED)
		out_header(o, "Delivered-To:", " ", ctx->rcpt, "",
		    !(flags & LOCAL_COPY_CASE), eol);

	while (!o->err && (pos < len || have > 0)) {
		size_t i, start;

		/* Refill (keeping a short tail for the line-start look-ahead). */
		if (pos < len && have < 5) {
			size_t want = COPY_BUFSIZE - have;
			ssize_t n;

			if ((off_t)want > len - pos)
				want = (size_t)(len - pos);
			n = pread(msg->fd, in + have, want,
			    msg->dr->content_offset + pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*qerr_r = n < 0 ? errno : EIO;
				ret = -1;
				break;
			}
			have += (size_t)n;
			pos += n;
			if (pos < len && have < 5)
				continue;
		}
		start = 0;
		for (i = 0; i < have; i++) {
			if (at_bol && need > 0) {
				if (have - i < need && pos < len)
					break;	/* need more for the look-ahead */
				if ((flags & LOCAL_COPY_QUOTE) && have - i >= 5
				    && memcmp(in + i, "From ", 5) == 0) {
					out_put(o, in + start, i - start);
					out_put(o, ">", 1);
					start = i;
				} else if ((flags & LOCAL_COPY_DOT) && in[i] == '.') {
					out_put(o, in + start, i - start);
					out_put(o, ".", 1);
					start = i;
				}
			}
			at_bol = (in[i] == '\n');
			if (at_bol && !plain_eol) {
				out_put(o, in + start, i - start);
				out_put(o, eol, eol_len);
				start = i + 1;
			}
		}
		out_put(o, in + start, i - start);
		if (i > 0)
			last_nl = (in[i - 1] == '\n');
		memmove(in, in + i, have - i);
		have -= i;
		if (have > 0 && pos >= len) {
			/* Tail shorter than the look-ahead at the end. */
			for (i = 0; i < have; i++) {
				if (in[i] == '\n')
					out_put(o, eol, eol_len);
				else
					out_put(o, in + i, 1);
			}
			last_nl = (in[have - 1] == '\n');
			have = 0;
		}
		if (have >= 5)
			continue;
	}
	if (ret == 0 && (flags & LOCAL_COPY_BLANK)) {
		if (!last_nl)
			out_put(o, eol, eol_len);
		out_put(o, eol, eol_len);
	}
	out_flush(o);
	if (ret == 0 && o->err) {
		errno = o->err;
		ret = -1;
	}
	free(in);
	free(o);
	return ret;
}

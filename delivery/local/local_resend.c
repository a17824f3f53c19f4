/* SPDX-License-Identifier: MIT */
/* local_resend - forward the message to an address that is not ours (an
 * alias or .forward naming a remote address): a new message with the
 * current envelope sender (owner-ALIAS when that applies), the one
 * recipient, a Delivered-To: header for the address being expanded
 * (prepend_delivered_header "forward"; this is what breaks loops through
 * other hosts), and the original content.  Logged as Postfix does:
 * "status=sent (forwarded as NEWQID)".
 *
 * The new message goes through the cleanup library like any other
 * submission. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "local.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "stringops.h"

/* delivered_line - "Delivered-To: rcpt" on one line, lowercased. */
static char *
delivered_line(const char *rcpt)
{
	char *line = concatenate("Delivered-To: ", rcpt, (char *)0);

	for (char *cp = line + 14; *cp; cp++)
		if (*cp == '\r' || *cp == '\n')
			*cp = ' ';
	lowercase(line + 14);
	return line;
}

/* resend_cleanup - through the cleanup library; 0 ok (*id_r malloc'd) or
 * -1 with *why_r (malloc'd). */
static int
resend_cleanup(struct local_ctx *ctx, const char *address, char **id_r,
    char **why_r)
{
	struct deliver_request *dr = ctx->msg->dr;
	/* Forwarded mail is not from outside: no automatic BCC. */
	struct cleanup_state *st = cleanup_open(CLEANUP_FLAGS_DEFAULT
	    & ~CLEANUP_FLAG_BCC_OK);
	struct buf *line = buf_new(1024, 0);
	char chunk[8192];
	off_t pos = 0;
	const char *qid = NULL, *reply = NULL;
	int status, ret = -1;

	if (*dr->client_address)
		cleanup_set_attr(st, "client_address", dr->client_address);
	cleanup_set_sender(st, ctx->sender);
	cleanup_add_rcpt(st, address, address, 0);
	if (delivery_conf.deliv_mask & LOCAL_DELIV_FORWARD) {
		char *hdr = delivered_line(ctx->rcpt);

		cleanup_prepend_header(st, hdr);
		free(hdr);
	}
	while (pos < dr->content_len) {
		size_t want = sizeof(chunk);
		ssize_t n;

		if ((off_t)want > dr->content_len - pos)
			want = (size_t)(dr->content_len - pos);
		n = pread(ctx->msg->fd, chunk, want, dr->content_offset + pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why_r = xstrdup("queue file read error");
			goto out;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] == '\n') {
				cleanup_line(st, line->data, line->len);
				buf_reset(line);
			} else {
				buf_putc(line, chunk[i]);
			}
		}
		pos += n;
	}
	if (line->len > 0)
		cleanup_line(st, line->data, line->len);
	status = cleanup_finish(st, &qid, &reply);
	if (status == CLEANUP_STAT_OK) {
		*id_r = xstrdup(qid);
		ret = 0;
	} else {
		*why_r = xstrdup(reply ? reply : "cleanup failed");
	}
out:
	cleanup_free(&st);
	buf_free(&line);
	return ret;
}

void
local_resend(struct local_ctx *ctx, const char *address)
{
	char *id = NULL, *why = NULL;
	int r;

	if (ctx->msg->dr->verify) {
		/* An address verification probe: nothing is forwarded. */
		local_report(ctx, LOCAL_SENT, "2.0.0", "forwards to %s", address);
		return;
	}
	r = resend_cleanup(ctx, address, &id, &why);
	if (r == 0)
		local_report(ctx, LOCAL_SENT, "2.0.0", "forwarded as %s", id);
	else
		local_report(ctx, LOCAL_DEFER, "4.3.0", "cannot forward to %s: %s",
		    address, why);
	free(id);
	free(why);
}

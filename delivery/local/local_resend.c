/* SPDX-License-Identifier: MIT */
/* local_resend - forward the message to an address that is not ours (an
 * alias or .forward naming a remote address): a new message with the
 * current envelope sender (owner-ALIAS when that applies), the one
 * recipient, a Delivered-To: header for the address being expanded
 * (prepend_delivered_header "forward"; this is what breaks loops through
 * other hosts), and the original content.  Logged as Postfix does:
 * "status=sent (forwarded as NEWQID)".
 *
 * With the cleanup library (LOCAL_HAVE_CLEANUP) the new message goes
 * through cleanup like any other submission.  Without it, the queue file
 * is written directly into incoming/ with the qfile writer (same
 * durability: file and directory fsync'd before "sent") and qmgr is
 * poked through public/qmgr.  As root, the new queue file is given to
 * mail_owner so that qmgr can read it. */
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

#include "local.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "stringops.h"
#ifdef LOCAL_HAVE_CLEANUP
#include "cleanup/cleanup.h"
#endif

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

#ifdef LOCAL_HAVE_CLEANUP

/* resend_cleanup - through the cleanup library; 0 ok (*id_r malloc'd) or
 * -1 with *why_r (malloc'd). */
static int
resend_cleanup(struct local_ctx *ctx, const char *address, char **id_r,
    char **why_r)
{
	struct deliver_request *dr = ctx->msg->dr;
	struct cleanup_state *st = cleanup_open(CLEANUP_FLAGS_DEFAULT);
	struct buf *line = buf_new(1024, 0);
	char chunk[8192];
	off_t pos = 0;
	const char *qid = NULL, *reply = NULL;
	int status, ret = -1;

	if (*dr->client_address)
		cleanup_set_attr(st, "client_address", dr->client_address);
	cleanup_set_sender(st, ctx->sender);
	cleanup_add_rcpt(st, address, address, 0);
	if (local_conf.deliv_mask & LOCAL_DELIV_FORWARD) {
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

#else

/* poke_qmgr - tell qmgr that incoming/ has new mail (best effort). */
static void
poke_qmgr(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/qmgr",
	    var_queue_directory) >= sizeof(sun.sun_path))
		return;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		(void)!write(fd, "I", 1);
	close(fd);
}

/* resend_qfile - write incoming/ID directly; 0 ok or -1 with *why_r. */
static int
resend_qfile(struct local_ctx *ctx, const char *address, char **id_r,
    char **why_r)
{
	struct deliver_request *dr = ctx->msg->dr;
	struct qfile_writer *w;
	const char *id;
	char tbuf[64], chunk[8192];
	struct timeval tv;
	off_t pos = 0;

	if ((w = qfile_create(mail_queue_dir(MAIL_QUEUE_INCOMING), &id)) == NULL) {
		*why_r = concatenate("cannot create queue file: ", strerror(errno),
		    (char *)0);
		return -1;
	}
	*id_r = xstrdup(id);
	gettimeofday(&tv, NULL);
	snprintf(tbuf, sizeof(tbuf), "%ld.%06ld", (long)tv.tv_sec,
	    (long)tv.tv_usec);
	if (local_conf.is_root) {
		struct passwd *pw = getpwnam(var_mail_owner);

		if (pw && fchown(qfile_writer_fd(w), pw->pw_uid, pw->pw_gid) < 0)
			goto bad;
	}
	if (qfile_put_str(w, QREC_VERSION, "1") < 0
	    || qfile_put_str(w, QREC_TIME, tbuf) < 0
	    || qfile_put_str(w, QREC_SENDER, ctx->sender) < 0
	    || qfile_put_rcpt(w, 0, address, address, NULL) < 0
	    || qfile_content_begin(w) < 0)
		goto bad;
	if (local_conf.deliv_mask & LOCAL_DELIV_FORWARD) {
		char *hdr = delivered_line(ctx->rcpt);
		int r = qfile_content_write(w, hdr, strlen(hdr));

		free(hdr);
		if (r < 0 || qfile_content_write(w, "\n", 1) < 0)
			goto bad;
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
			errno = EIO;
			goto bad;
		}
		if (qfile_content_write(w, chunk, (size_t)n) < 0)
			goto bad;
		pos += n;
	}
	if (qfile_content_end(w) < 0
	    || qfile_finish(w, mail_queue_dir(MAIL_QUEUE_INCOMING)) < 0)
		goto bad;
	qfile_writer_free(&w);
	poke_qmgr();
	msg_info("%s: forwarded as %s", dr->queue_id, *id_r);
	return 0;

bad:
	*why_r = concatenate("cannot write queue file: ", strerror(errno),
	    (char *)0);
	qfile_abort(&w);
	xfree(id_r);
	return -1;
}

#endif

void
local_resend(struct local_ctx *ctx, const char *address)
{
	char *id = NULL, *why = NULL;
	int r;

#ifdef LOCAL_HAVE_CLEANUP
	r = resend_cleanup(ctx, address, &id, &why);
#else
	r = resend_qfile(ctx, address, &id, &why);
#endif
	if (r == 0)
		local_report(ctx, LOCAL_SENT, "2.0.0", "forwarded as %s", id);
	else
		local_report(ctx, LOCAL_DEFER, "4.3.0", "cannot forward to %s: %s",
		    address, why);
	free(id);
	free(why);
}

/* SPDX-License-Identifier: MIT */
/* bounce - delivery status notifications (see bounce.h).
 *
 * RFC 3464 (message/delivery-status), RFC 3462/6522 (multipart/report),
 * RFC 3461 (NOTIFY, RET, ENVID, ORCPT). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "bounce.h"
#include "cleanup.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define BOUNCE_PROG	"bounce"

int
bounce_log_read(const char *queue, const char *id,
    struct bounce_entry **entries_r)
{
	char *path = mail_queue_path(queue, id);
	struct buf *data = buf_new(1024, 16 * 1024 * 1024);
	struct attr_list *al = attr_list_new();
	struct bounce_entry *e = NULL;
	int n = 0, fd;
	char chunk[8192];
	ssize_t got;
	size_t pos = 0;

	*entries_r = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int ret = errno == ENOENT ? 0 : -1;

		if (ret < 0)
			msg_warn("open %s: %m", path);
		free(path);
		buf_free(&data);
		attr_list_free(&al);
		return ret;
	}
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(data, chunk, (size_t)got) < 0)
			break;
	close(fd);
	while (pos < buf_len(data)) {
		const char *err;
		long used = attr_parse(buf_str(data) + pos, buf_len(data) - pos, al,
		    &err);
		const char *rcpt;

		if (used <= 0)
			break;		/* a torn last record: ignore it */
		pos += (size_t)used;
		if ((rcpt = attr_get(al, "recipient")) == NULL)
			continue;
		e = xreallocarray(e, (size_t)n + 1, sizeof(*e));
		e[n].recipient = xstrdup(rcpt);
		e[n].orig_rcpt = xstrdup(attr_get(al, "orig_rcpt") ? attr_get(al, "orig_rcpt") : "");
		e[n].status = xstrdup(attr_get(al, "status") ? attr_get(al, "status") : "5.0.0");
		e[n].action = xstrdup(attr_get(al, "action") ? attr_get(al, "action") : "failed");
		e[n].reason = xstrdup(attr_get(al, "reason") ? attr_get(al, "reason") : "");
		e[n].dsn_notify = (int)attr_get_long(al, "dsn_notify", 0);
		n++;
	}
	free(path);
	buf_free(&data);
	attr_list_free(&al);
	*entries_r = e;
	return n;
}

void
bounce_entries_free(struct bounce_entry **entries, int n)
{
	struct bounce_entry *e = *entries;

	for (int i = 0; i < n; i++) {
		free(e[i].recipient);
		free(e[i].orig_rcpt);
		free(e[i].status);
		free(e[i].action);
		free(e[i].reason);
	}
	free(e);
	*entries = NULL;
}

/* wanted - does this recipient's NOTIFY ask for this kind of report? */

/* remote_reply - a reason of the smtp/lmtp client, "host NAME[ADDR]
 * said: REPLY (in reply to COMMAND)": NAME into mta, REPLY (malloc'd)
 * into *diag_r; 1, or 0 for any other reason. */
static int
remote_reply(const char *reason, char *mta, size_t len, char **diag_r)
{
	const char *name, *br, *said, *end;

	if (reason == NULL || strncmp(reason, "host ", 5) != 0)
		return 0;
	name = reason + 5;
	if ((br = strchr(name, '[')) == NULL || (size_t)(br - name) >= len
	    || (said = strstr(br, "] said: ")) == NULL)
		return 0;
	if (strchr(br, ']') != said)
		return 0;
	memcpy(mta, name, (size_t)(br - name));
	mta[br - name] = 0;
	said += 8;
	end = strstr(said, " (in reply to ");
	*diag_r = end ? xstrndup(said, (size_t)(end - said)) : xstrdup(said);
	return 1;
}

static int
wanted(const struct bounce_entry *e, enum bounce_kind kind)
{
	int nf = e->dsn_notify;

	switch (kind) {
	case BOUNCE_FAILED:
	case BOUNCE_EXPIRED:
		return nf == 0 || (nf & DSN_NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		/* No NOTIFY: failures and delays are reported (Postfix). */
		return nf == 0 || (nf & DSN_NOTIFY_DELAY);
	case BOUNCE_SUCCESS:
		return nf & DSN_NOTIFY_SUCCESS;
	case BOUNCE_VERIFY:
		return 1;
	}
	return 0;
}

static void
put(struct cleanup_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct cleanup_state *st, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	cleanup_line(st, line, (size_t)n);
}

static void
rfc5322_date(time_t when, char *buf, size_t len)
{
	struct tm tm;

	localtime_r(&when, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* The original content in a queue file, for copy_original. */
struct qfile_original {
	const struct qfile_msg *qf;
	const char *qpath;
};

/* copy_original - the original message (or its headers), line by line. */
static void
copy_original(void *ctx, struct cleanup_state *st, int headers_only,
    long limit)
{
	const struct qfile_original *orig = ctx;
	const struct qfile_msg *qf = orig->qf;
	off_t left = qf->content_len;
	int fd = open(orig->qpath, O_RDONLY | O_CLOEXEC);
	struct buf *line = buf_new(256, BUF_NOLIMIT);
	char chunk[8192];
	off_t off = qf->content_offset;
	long copied = 0;
	int done = 0;

	if (fd < 0) {
		put(st, "(the original message could not be read: %s)", strerror(errno));
		buf_free(&line);
		return;
	}
	while (left > 0 && !done) {
		ssize_t got = pread(fd, chunk, left < (off_t)sizeof(chunk)
		    ? (size_t)left : sizeof(chunk), off);

		if (got <= 0)
			break;
		off += got;
		left -= got;
		for (ssize_t i = 0; i < got && !done; i++) {
			if (chunk[i] != '\n') {
				buf_putc(line, chunk[i]);
				continue;
			}
			if (headers_only && buf_len(line) == 0) {
				done = 1;
				break;
			}
			copied += (long)buf_len(line) + 1;
			if (copied > limit) {
				done = 1;
				break;
			}
			cleanup_line(st, buf_str(line), buf_len(line));
			buf_reset(line);
		}
	}
	if (!done && buf_len(line) > 0)
		cleanup_line(st, buf_str(line), buf_len(line));
	close(fd);
	buf_free(&line);
}

int
bounce_send(const struct qfile_msg *qf, const char *qpath,
    enum bounce_kind kind, const struct bounce_entry *entries, int n,
    char **newid_r)
{
	struct qfile_original ctx = { qf, qpath };
	struct bounce_original orig = { copy_original, &ctx };

	return bounce_send_original(qf, &orig, kind, entries, n, newid_r);
}

int
bounce_send_original(const struct qfile_msg *qf,
    const struct bounce_original *orig, enum bounce_kind kind,
    const struct bounce_entry *entries, int n, char **newid_r)
{
	long limit = var_bounce_size_limit;
	const char *myhostname = var_myhostname;
	const char *ret = qfile_msg_attr(qf, "dsn_ret");
	const char *envid = qfile_msg_attr(qf, "dsn_envid");
	const char *double_bounce = qfile_msg_attr(qf, "bounce");
	const char *to = qf->sender;
	const char *subject, *what, *id = NULL, *reply = NULL;
	struct cleanup_state *st;
	char date[64], boundary[128];
	int count = 0, status;

	*newid_r = NULL;
	if (limit <= 0)
		limit = 50000;
	for (int i = 0; i < n; i++)
		if (wanted(&entries[i], kind))
			count++;
	if (count == 0)
		return 0;
	if (*to == 0) {
		/* Never to the null sender: a double bounce to postmaster,
		 * and a failed double bounce is dropped. */
		if (double_bounce && strcmp(double_bounce, "double") == 0) {
			msg_info_as(BOUNCE_PROG, "%s: undeliverable postmaster notification discarded",
			    qf->id);
			return 0;
		}
		to = "postmaster";
	}
	switch (kind) {
	case BOUNCE_SUCCESS:
		subject = "Successful Mail Delivery Report";
		what = "sender delivery status notification";
		break;
	case BOUNCE_VERIFY:
		subject = "Mail Delivery Status Report";
		what = "sender delivery status notification";
		break;
	case BOUNCE_DELAYED:
		subject = "Delayed Mail (still being retried)";
		what = "sender delay notification";
		break;
	default:
		subject = "Undelivered Mail Returned to Sender";
		what = *qf->sender ? "sender non-delivery notification"
		    : "postmaster non-delivery notification";
		break;
	}
	snprintf(boundary, sizeof(boundary), "%s.%ld/%s", qf->id, (long)time(NULL),
	    myhostname);

	st = cleanup_open(CLEANUP_FLAG_MAP_OK);
	cleanup_set_attr(st, "protocol", "internal");
	if (*qf->sender == 0)
		cleanup_set_attr(st, "bounce", "double");
	cleanup_set_sender(st, "");
	cleanup_add_rcpt(st, to, to, DSN_NOTIFY_NEVER);

	rfc5322_date(time(NULL), date, sizeof(date));
	put(st, "From: MAILER-DAEMON@%s (Mail Delivery System)", myhostname);
	put(st, "To: %s", to);
	put(st, "Subject: %s", subject);
	put(st, "Date: %s", date);
	put(st, "Auto-Submitted: auto-replied");
	put(st, "MIME-Version: 1.0");
	put(st, "Content-Type: multipart/report; report-type=delivery-status;");
	put(st, "\tboundary=\"%s\"", boundary);
	put(st, "Content-Transfer-Encoding: 8bit");
	put(st, "%s", "");
	put(st, "This is a MIME-encapsulated message.");
	put(st, "%s", "");
	put(st, "--%s", boundary);
	put(st, "Content-Description: Notification");
	put(st, "Content-Type: text/plain; charset=us-ascii");
	put(st, "%s", "");
	put(st, "This is the mail system at host %s.", myhostname);
	put(st, "%s", "");
	switch (kind) {
	case BOUNCE_SUCCESS:
		put(st, "Your message was delivered to the recipients listed below.");
		break;
	case BOUNCE_VERIFY:
		put(st, "Enclosed is the mail delivery report that you requested.");
		break;
	case BOUNCE_DELAYED:
		put(st, "Your message could not be delivered yet. The mail system");
		put(st, "will keep trying; you do not need to send it again.");
		break;
	case BOUNCE_EXPIRED:
		put(st, "Your message could not be delivered to one or more");
		put(st, "recipients before the mail system gave up retrying.");
		break;
	default:
		put(st, "Your message could not be delivered to one or more");
		put(st, "recipients. The reasons are below.");
		break;
	}
	put(st, "%s", "");
	put(st, "For help, please contact <postmaster@%s>; include this report.",
	    myhostname);
	put(st, "%s", "");
	for (int i = 0; i < n; i++)
		if (wanted(&entries[i], kind))
			put(st, "<%s>: %s", entries[i].recipient, entries[i].reason);
	put(st, "%s", "");
	put(st, "--%s", boundary);
	put(st, "Content-Description: Delivery report");
	put(st, "Content-Type: message/delivery-status");
	put(st, "%s", "");
	put(st, "Reporting-MTA: dns; %s", myhostname);
	put(st, "X-Postino-Queue-ID: %s", qf->id);
	put(st, "X-Postino-Sender: rfc822; %s", qf->sender);
	rfc5322_date((time_t)qf->arrival, date, sizeof(date));
	put(st, "Arrival-Date: %s", date);
	if (envid && *envid)
		put(st, "Original-Envelope-Id: %s", envid);
	for (int i = 0; i < n; i++) {
		const struct bounce_entry *e = &entries[i];
		const char *action = e->action;
		char mta[256], *diag;

		if (!wanted(e, kind))
			continue;
		if (kind == BOUNCE_EXPIRED)
			action = "failed";
		put(st, "%s", "");
		put(st, "Final-Recipient: rfc822; %s", e->recipient);
		if (e->orig_rcpt && *e->orig_rcpt)
			put(st, "Original-Recipient: rfc822;%s", e->orig_rcpt);
		put(st, "Action: %s", action);
		/* An expired recipient keeps the status of its last attempt,
		 * as Postfix reports it. */
		put(st, "Status: %s", e->status);
		if (remote_reply(e->reason, mta, sizeof(mta), &diag)) {
			/* What another server said, as Postfix reports it. */
			put(st, "Remote-MTA: dns; %s", mta);
			put(st, "Diagnostic-Code: smtp; %s", diag);
			free(diag);
		} else {
			put(st, "Diagnostic-Code: X-Postino; %s", e->reason);
		}
	}
	put(st, "%s", "");
	put(st, "--%s", boundary);
	if (kind == BOUNCE_VERIFY || kind == BOUNCE_SUCCESS) {
		/* Nothing to give back: the headers identify the message. */
		put(st, "Content-Description: Message Headers");
		put(st, "Content-Type: text/rfc822-headers");
		put(st, "%s", "");
		orig->copy(orig->ctx, st, 1, limit);
	} else if (ret && strcasecmp(ret, "HDRS") == 0) {
		put(st, "Content-Description: Undelivered Message Headers");
		put(st, "Content-Type: text/rfc822-headers");
		put(st, "%s", "");
		orig->copy(orig->ctx, st, 1, limit);
	} else {
		put(st, "Content-Description: Undelivered Message");
		put(st, "Content-Type: message/rfc822");
		put(st, "Content-Transfer-Encoding: 8bit");
		put(st, "%s", "");
		orig->copy(orig->ctx, st, 0, limit);
	}
	put(st, "%s", "");
	put(st, "--%s--", boundary);

	status = cleanup_finish(st, &id, &reply);
	if (status != CLEANUP_STAT_OK) {
		msg_warn_as(BOUNCE_PROG, "%s: %s to <%s> failed: %s", qf->id, what, to,
		    reply ? reply : "cleanup error");
		cleanup_free(&st);
		return -1;
	}
	*newid_r = xstrdup(id);
	msg_info_as(BOUNCE_PROG, "%s: %s: %s", qf->id, what, id);
	cleanup_free(&st);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* bounce - delivery status notifications (RFC 3464 multipart/report), the
 * work of Postfix's bounce(8), as a library used by qmgr.
 *
 * A notification goes to the envelope sender; never to the null sender:
 * a failed message with a null sender is reported to postmaster instead
 * (a "double bounce"), and a double bounce that fails is dropped with a
 * log line.  The report carries each recipient's Final-Recipient,
 * Original-Recipient (ORCPT), Action, Status and Diagnostic-Code, the
 * envelope ID (ENVID), and the original message (RET=FULL, up to
 * bounce_size_limit bytes) or its headers (RET=HDRS).  It is injected
 * with the cleanup library, so it is a normal queue file.
 *
 * Logs as program "bounce": "ID: sender non-delivery notification: NEWID". */
#ifndef POSTINO_BOUNCE_BOUNCE_H
#define POSTINO_BOUNCE_BOUNCE_H

#include "qfile.h"

enum bounce_kind {
	BOUNCE_FAILED,		/* permanent failure */
	BOUNCE_EXPIRED,		/* gave up after maximal_queue_lifetime */
	BOUNCE_DELAYED,		/* delay_warning_time (still trying) */
	BOUNCE_SUCCESS,		/* NOTIFY=SUCCESS */
	BOUNCE_VERIFY,		/* sendmail -bv: the report asked for */
};

struct bounce_entry {
	char *recipient;
	char *orig_rcpt;
	char *status;		/* "5.1.1" */
	char *action;		/* "failed", "delayed", "delivered", "relayed",
				 * "expanded"; -bv: "deliverable",
				 * "undeliverable" */
	char *reason;
	int dsn_notify;
};

/* bounce_log_read - the entries of $queue_directory/QUEUE/ID (bounce or
 * defer log); returns the count (0 when there is no log), -1 on error. */
int bounce_log_read(const char *queue, const char *id,
    struct bounce_entry **entries_r);
void bounce_entries_free(struct bounce_entry **entries, int n);

/* bounce_send - send one notification about qf (queue file at qpath)
 * listing entries (those whose NOTIFY excludes the kind are skipped).
 * Returns 0 (sent, or nothing to send: *newid_r NULL), -1 on a temporary
 * error (try again later).  *newid_r is malloc'd. */
int bounce_send(const struct qfile_msg *qf, const char *qpath,
    enum bounce_kind kind, const struct bounce_entry *entries, int n,
    char **newid_r);

/* The original message of a notification when it is not (yet) in a
 * queue file (a local submission that cleanup refused): copy writes its
 * lines with cleanup_line() to st, at most limit bytes, only the header
 * section when headers_only. */
struct cleanup_state;
struct bounce_original {
	void (*copy)(void *ctx, struct cleanup_state *st, int headers_only,
	    long limit);
	void *ctx;
};

/* bounce_send_original - bounce_send with the original message from
 * orig; qf gives the ID, sender, arrival time and DSN attributes
 * (dsn_ret, dsn_envid) only.  Same results. */
int bounce_send_original(const struct qfile_msg *qf,
    const struct bounce_original *orig, enum bounce_kind kind,
    const struct bounce_entry *entries, int n, char **newid_r);

#endif

/* SPDX-License-Identifier: MIT */
/* qmgr - private declarations of the queue manager (core/qmgr/).
 *
 * Flow: incoming/ -> active/ (qmgr_message_load) -> one job per
 * destination and transport -> a connection to the transport's delivery
 * agents (qmgr_transport.c) -> per-recipient status -> done (R->D in
 * place), deferred (defer/ID log, message to deferred/ with a retry time
 * in its mtime) or bounced (bounce/ID log, then a non-delivery report
 * through the bounce library) -> removed.
 *
 * Files: qmgr.c (process, triggers, queue scans, retry and expiry),
 * qmgr_message.c (messages and jobs), qmgr_transport.c (agents). */
#ifndef POSTINO_QMGR_QMGR_H
#define POSTINO_QMGR_QMGR_H

#include <sys/types.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "htable.h"
#include "qfile.h"

struct qmgr_transport;
struct qmgr_conn;
struct qmgr_dest;

/* Per-recipient state inside an active message. */
enum qmgr_rcpt_state {
	QMGR_RCPT_TODO,
	QMGR_RCPT_BUSY,
	QMGR_RCPT_SENT,
	QMGR_RCPT_DEFERRED,
	QMGR_RCPT_BOUNCED,
};

struct qmgr_message {
	char *id;
	char *path;			/* active/ID */
	struct qfile_msg *qf;
	enum qmgr_rcpt_state *rstate;
	int pending;			/* recipients not finished */
	int jobs;			/* jobs not finished */
	int ndeferred;
	int nbounced;
	int redelivery;			/* tried before (QFILE_MODE_TRIED) */
	off_t *done_offsets;		/* to mark D at the end of a job */
	int ndone;
	int gone;			/* active/ID was deleted (postsuper -d) */
	int marks_unsynced;		/* D marks written, not fsync'd yet */
	struct qmgr_message *next;
	struct qmgr_message *prev;
};

struct qmgr_job {
	struct qmgr_message *msg;
	struct qmgr_transport *transport;
	char *nexthop;
	char *dest_key;			/* concurrency is counted per key */
	struct qmgr_dest *dest;		/* qmgr_transport.c, while queued/busy */
	int *rcpt;			/* indices into msg->qf->rcpt */
	int nrcpt;
	long request_id;
	struct qmgr_job *next;
};

struct qmgr_transport {
	char *name;			/* "local" */
	char *socket_path;		/* $queue_directory/private/local */
	int max_conns;
	int dest_limit;			/* per-destination concurrency */
	int rcpt_limit;			/* recipients per job */
	struct htable *dests;		/* dest_key -> struct qmgr_dest */
	struct qmgr_dest *ready_head, *ready_tail;	/* have queued jobs */
	struct qmgr_conn *conns;
	int nconns;
	time_t down_since;		/* connect failures; 0 = up */
	struct event *retry;
	struct qmgr_transport *next;
};

/* qmgr.c */
extern struct event_base *qmgr_base;
extern struct qmgr_message *qmgr_active;
extern int qmgr_active_count;
void qmgr_message_finished(struct qmgr_message *msg);
void qmgr_schedule_scan(void);

/* qmgr_message.c */
/* qmgr_message_load - read active/ID and queue its jobs; 0 or -1 (the
 * file was moved to corrupt/). */
int qmgr_message_load(const char *id);
/* qmgr_job_status - one recipient of a job finished. */
void qmgr_job_status(struct qmgr_job *job, int index, const char *dsn,
    const char *status, const char *action, const char *text,
    const char *relay);
/* qmgr_job_done - the agent finished the job (or the connection died:
 * the job's unfinished recipients are deferred with reason). */
void qmgr_job_done(struct qmgr_job *job, const char *failure_reason);
void qmgr_job_free(struct qmgr_job **jobp);
/* qmgr_message_gone - was active/ID deleted under us (postsuper -d)?
 * Then nothing more is written for the message (no defer or bounce log,
 * no notification): 1, else 0. */
int qmgr_message_gone(struct qmgr_message *msg);
/* qmgr_message_sync_marks - make the message's D marks durable (before
 * it leaves active/ with recipients still to do); 0 or -1. */
int qmgr_message_sync_marks(struct qmgr_message *msg);
/* qmgr_defer_log / qmgr_bounce_log - append one recipient's status to
 * defer/ID or bounce/ID (the bounce log is fsync'd). */
int qmgr_status_log(const char *queue, const char *id,
    const struct qfile_rcpt *r, const char *dsn, const char *action,
    const char *text);

/* qmgr_transport.c */
struct qmgr_transport *qmgr_transport_find(const char *name);
void qmgr_transport_enqueue(struct qmgr_transport *t, struct qmgr_job *job);
void qmgr_transport_dispatch(struct qmgr_transport *t);
/* qmgr_transport_known - does a delivery agent exist for this name? */
int qmgr_transport_known(const char *name);

#endif

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

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "htable.h"
#include "qfile.h"
#include "qmgr_feedback.h"

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
	int verify;			/* an address verification probe
					 * (QFILE_ATTR_VERIFY) */
	const char *verify_addr;	/* the address it verifies (in qf) */
	const char *filter;		/* content filter transport:nexthop
					 * (in qf), or NULL */
	int report;			/* sendmail -bv: report, do not deliver
					 * (QFILE_ATTR_VERIFY_REPORT) */
	int ntraced;			/* entries added to trace/ID now */
	off_t *done_offsets;		/* to mark D at the end of a job */
	int ndone;
	int gone;			/* active/ID was deleted (postsuper -d) */
	int flushed;			/* taken in by a flush: defer_transports
					 * do not apply */
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
	char defer_dsn[16];		/* of the last deferred recipient */
	struct qmgr_job *next;
};

/* What delivers a transport's mail (its master.cf command). */
enum qmgr_kind {
	QMGR_KIND_NONE,			/* no master.cf service: mail waits */
	QMGR_KIND_AGENT,		/* local, virtual, ...: pipelined */
	QMGR_KIND_SINGLE,		/* smtp, lmtp: one job per connection,
					 * slow start, destination feedback */
	QMGR_KIND_ERROR,		/* error(8) in qmgr: bounce */
	QMGR_KIND_RETRY,		/* error(8) as "retry": defer */
	QMGR_KIND_DISCARD,		/* discard(8) in qmgr: "sent" */
};

struct qmgr_transport {
	char *name;			/* "local" */
	enum qmgr_kind kind;
	struct qmgr_fb_conf fb;		/* QMGR_KIND_SINGLE's window */
	long rate_delay;		/* <transport>_destination_rate_delay */
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
/* qmgr_flushed_take - was this ID taken in by a flush (forgotten now)? */
int qmgr_flushed_take(const char *id);

/* Queue file mode bit: the delay warning (delay_warning_time) was sent
 * (other execute, 0711; see QFILE_MODE_TRIED in qfile.h). */
#define QMGR_MODE_WARNED	S_IXOTH
void qmgr_schedule_scan(void);

/* qmgr_message.c */
/* qmgr_message_load - read active/ID and queue its jobs; 0 or -1 (the
 * file was moved to corrupt/). */
int qmgr_message_load(const char *id);
/* qmgr_job_status - one recipient of a job finished. */
void qmgr_job_status(struct qmgr_job *job, int index, const char *dsn,
    const char *status, const char *action, const char *text,
    const char *relay, int dsn_passed);
/* qmgr_job_done - the agent finished the job (or the connection died:
 * the job's unfinished recipients are deferred with reason). */
void qmgr_job_done(struct qmgr_job *job, const char *failure_reason);
/* qmgr_job_defer_all - defer the job's unfinished recipients with this
 * dsn and text (logged with relay=none), then qmgr_job_done. */
void qmgr_job_defer_all(struct qmgr_job *job, const char *dsn,
    const char *text);
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
/* qmgr_transport_init - read master.cf's services (once, at start). */
void qmgr_transport_init(void);
/* qmgr_transport_kind - what delivers this transport's mail: its
 * master.cf unix service's command; error, retry and discard without a
 * service are qmgr's own; QMGR_KIND_NONE when nothing does. */
enum qmgr_kind qmgr_transport_kind(const char *name);
/* qmgr_transport_flush - a flush: every dead destination is revived. */
void qmgr_transport_flush(void);

#endif

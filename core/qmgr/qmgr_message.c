/* SPDX-License-Identifier: MIT */
/* qmgr_message - an active message: its recipients resolved to
 * transports, the jobs that deliver them, and what happens to each
 * recipient's outcome.
 *
 * Outcomes: sent -> the recipient record is marked done (R->D, with
 * fsync, once per job); bounced -> bounce/ID (fsync'd) then marked done;
 * deferred -> defer/ID.  When no job is left the message is finished
 * (qmgr.c decides: remove, bounce, or back to deferred/). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "qmgr.h"
#include "resolve.h"
#include "stringops.h"

int
qmgr_status_log(const char *queue, const char *id, const struct qfile_rcpt *r,
    const char *dsn, const char *action, const char *text)
{
	char *path = mail_queue_path(queue, id);
	struct attr_list *al = attr_list_new();
	struct buf *out = buf_new(256, BUF_NOLIMIT);
	int fd, ret = 0;

	attr_add(al, "recipient", r->address);
	attr_add(al, "orig_rcpt", r->orig_rcpt ? r->orig_rcpt : "");
	attr_addf(al, "offset", "%lld", (long long)r->offset);
	attr_addf(al, "dsn_notify", "%d", r->dsn_notify);
	attr_add(al, "status", dsn);
	attr_add(al, "action", action);
	attr_add(al, "reason", text ? text : "");
	attr_addf(al, "time", "%ld", (long)time(NULL));
	attr_format(al, out);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf_str(out), buf_len(out)) != (ssize_t)buf_len(out)
	    || (strcmp(queue, MAIL_QUEUE_BOUNCE) == 0 && fsync(fd) < 0)) {
		msg_warn("%s: append to %s: %m", id, path);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	attr_list_free(&al);
	buf_free(&out);
	return ret;
}

void
qmgr_job_free(struct qmgr_job **jobp)
{
	struct qmgr_job *job = *jobp;

	if (job == NULL)
		return;
	free(job->nexthop);
	free(job->dest_key);
	free(job->rcpt);
	free(job);
	*jobp = NULL;
}

int
qmgr_message_gone(struct qmgr_message *msg)
{
	if (!msg->gone && access(msg->path, F_OK) < 0 && errno == ENOENT) {
		msg->gone = 1;
		msg_info("%s: queue file deleted during delivery: nothing more "
		    "is recorded for it", msg->id);
	}
	return msg->gone;
}

/* finish_rcpt - record one recipient's final state for this attempt. */
static void
finish_rcpt(struct qmgr_message *msg, int ri, enum qmgr_rcpt_state st,
    const char *dsn, const char *action, const char *text)
{
	struct qfile_rcpt *r = &msg->qf->rcpt[ri];

	if (msg->rstate[ri] != QMGR_RCPT_BUSY && msg->rstate[ri] != QMGR_RCPT_TODO)
		return;		/* a status twice: keep the first */
	msg->rstate[ri] = st;
	msg->pending--;
	/* A deleted message leaves no status log behind (an orphan). */
	if ((st == QMGR_RCPT_BOUNCED || st == QMGR_RCPT_DEFERRED)
	    && qmgr_message_gone(msg))
		return;
	switch (st) {
	case QMGR_RCPT_SENT:
		msg->done_offsets[msg->ndone++] = r->offset;
		break;
	case QMGR_RCPT_BOUNCED:
		if (qmgr_status_log(MAIL_QUEUE_BOUNCE, msg->id, r, dsn, action,
		    text) == 0) {
			msg->done_offsets[msg->ndone++] = r->offset;
			msg->nbounced++;
		} else {
			/* Can't record the bounce: try again later. */
			msg->rstate[ri] = QMGR_RCPT_DEFERRED;
			msg->ndeferred++;
		}
		break;
	case QMGR_RCPT_DEFERRED:
		qmgr_status_log(MAIL_QUEUE_DEFER, msg->id, r, dsn, action, text);
		msg->ndeferred++;
		break;
	default:
		break;
	}
}

/* log_status - a delivery line for outcomes qmgr decides itself. */
static void
log_status(struct qmgr_message *msg, int ri, const char *relay,
    const char *dsn, const char *status, const char *text)
{
	struct qfile_rcpt *r = &msg->qf->rcpt[ri];
	double delay = (double)time(NULL) - msg->qf->arrival;

	if (delay < 0)
		delay = 0;
	if (r->orig_rcpt && *r->orig_rcpt && strcasecmp(r->orig_rcpt, r->address) != 0)
		msg_info("%s: to=<%s>, orig_to=<%s>, relay=%s, delay=%.2g, delays=%.2g/0/0/0, dsn=%s, status=%s (%s)",
		    msg->id, r->address, r->orig_rcpt, relay, delay, delay, dsn,
		    status, text);
	else
		msg_info("%s: to=<%s>, relay=%s, delay=%.2g, delays=%.2g/0/0/0, dsn=%s, status=%s (%s)",
		    msg->id, r->address, relay, delay, delay, dsn, status, text);
}

void
qmgr_job_status(struct qmgr_job *job, int index, const char *dsn,
    const char *status, const char *action, const char *text,
    const char *relay)
{
	int ri = job->rcpt[index];
	enum qmgr_rcpt_state st;

	if (strcmp(status, "sent") == 0)
		st = QMGR_RCPT_SENT;
	else if (strcmp(status, "bounced") == 0)
		st = QMGR_RCPT_BOUNCED;
	else
		st = QMGR_RCPT_DEFERRED;
	/* soft_bounce: never bounce, defer instead. */
	if (st == QMGR_RCPT_BOUNCED && var_soft_bounce)
		st = QMGR_RCPT_DEFERRED;
	finish_rcpt(job->msg, ri, st, dsn, action, text);
}

void
qmgr_job_done(struct qmgr_job *job, const char *failure_reason)
{
	struct qmgr_message *msg = job->msg;

	for (int i = 0; i < job->nrcpt; i++) {
		int ri = job->rcpt[i];

		if (msg->rstate[ri] == QMGR_RCPT_BUSY) {
			const char *why = failure_reason ? failure_reason
			    : "4.3.0 delivery agent did not report a status";

			log_status(msg, ri, job->transport->name, "4.3.0",
			    "deferred", why + 6);
			finish_rcpt(msg, ri, QMGR_RCPT_DEFERRED, "4.3.0",
			    "delayed", why + 6);
		}
	}
	/* Mark recipients done in the file, unless this was the last job and
	 * every recipient was sent: the file is removed next, and a crash
	 * before that only repeats a delivery.  The marks are written to the
	 * file at once, so that no process crash loses them, but fsync'd
	 * only when the message leaves active/ with recipients still to do
	 * (qmgr_message_sync_marks()), or at once when one bounced: a message
	 * for ten local recipients is ten jobs, and ten fsyncs in a row on
	 * qmgr's event loop capped the whole fan-out at one message per ten
	 * journal commits.  A system crash in between repeats the
	 * deliveries of the unsynced marks, as Postfix does (its agents
	 * never fsync a mark). */
	if (msg->ndone > 0 && !(msg->jobs == 1 && msg->ndeferred == 0
	    && msg->nbounced == 0)) {
		int sync = msg->nbounced > 0;

		if (qfile_mark_done_sync(msg->path, msg->done_offsets,
		    msg->ndone, sync) < 0) {
			if (!qmgr_message_gone(msg))
				msg_warn("%s: mark recipients done: %m", msg->id);
		} else {
			msg->marks_unsynced = !sync;
		}
	}
	msg->ndone = 0;
	msg->jobs--;
	qmgr_job_free(&job);
	if (msg->jobs == 0)
		qmgr_message_finished(msg);
}

int
qmgr_message_sync_marks(struct qmgr_message *msg)
{
	int fd, ret = 0;

	if (!msg->marks_unsynced)
		return 0;
	fd = open(msg->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		msg_warn("%s: sync recipient marks: %m", msg->id);
		ret = -1;
	} else {
		msg->marks_unsynced = 0;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* add_to_job - put recipient ri in a job for (transport, nexthop). */
static void
add_to_job(struct qmgr_message *msg, struct qmgr_job **jobs, int *njobs,
    const char *transport, const char *nexthop, int ri)
{
	struct qmgr_transport *t = qmgr_transport_find(transport);
	struct qmgr_job *job = NULL;
	const char *key = t->rcpt_limit == 1 ? msg->qf->rcpt[ri].address : nexthop;

	for (int j = 0; j < *njobs; j++) {
		if (jobs[j]->transport == t && strcasecmp(jobs[j]->nexthop, nexthop) == 0
		    && strcasecmp(jobs[j]->dest_key, key) == 0
		    && jobs[j]->nrcpt < t->rcpt_limit) {
			job = jobs[j];
			break;
		}
	}
	if (job == NULL) {
		job = xcalloc(1, sizeof(*job));
		job->msg = msg;
		job->transport = t;
		job->nexthop = xstrdup(nexthop);
		job->dest_key = xstrdup(key);
		job->rcpt = xcalloc((size_t)t->rcpt_limit, sizeof(*job->rcpt));
		jobs[(*njobs)++] = job;
	}
	job->rcpt[job->nrcpt++] = ri;
	msg->rstate[ri] = QMGR_RCPT_BUSY;
}

int
qmgr_message_load(const char *id)
{
	struct qmgr_message *msg;
	struct qmgr_job **jobs;
	const char *err = NULL;
	char *path = mail_queue_path(MAIL_QUEUE_ACTIVE, id);
	struct qfile_msg *qf = qfile_read(path, &err);
	int njobs = 0, todo = 0;

	if (qf == NULL) {
		msg_warn("%s: %s: moving to corrupt queue", id, err ? err : "unreadable");
		if (mail_queue_move(MAIL_QUEUE_ACTIVE, MAIL_QUEUE_CORRUPT, id) < 0)
			msg_warn("%s: move to corrupt: %m", id);
		free(path);
		return -1;
	}
	msg = xcalloc(1, sizeof(*msg));
	msg->id = xstrdup(id);
	msg->path = path;
	msg->qf = qf;
	/* Tried before: a crash may have left copies whose delivery was
	 * never recorded; the agents look for them (deliver_request.h).
	 * Else mark it now, before any agent sees it (no fsync: the mark
	 * only has to outlive a process, and the agents' fsyncs of what
	 * they deliver come later). */
	if (qf->mode & QFILE_MODE_TRIED)
		msg->redelivery = 1;
	else if (chmod(path, (qf->mode | QFILE_MODE_TRIED) & 07777) < 0)
		msg_warn("%s: mark as tried: %m", id);
	msg->rstate = xcalloc((size_t)qf->rcpt_count + 1, sizeof(*msg->rstate));
	msg->done_offsets = xcalloc((size_t)qf->rcpt_count + 1, sizeof(off_t));
	msg->next = qmgr_active;
	msg->prev = NULL;
	if (qmgr_active)
		qmgr_active->prev = msg;
	qmgr_active = msg;
	qmgr_active_count++;
	msg_info("%s: from=<%s>, size=%lld, nrcpt=%d (queue active)", id,
	    qf->sender, (long long)qf->content_len, qf->rcpt_count);

	jobs = xcalloc((size_t)qf->rcpt_count + 1, sizeof(*jobs));
	resolve_set_sender(qf->sender);
	for (int i = 0; i < qf->rcpt_count; i++) {
		struct resolve_reply rr;
		enum map_status st;

		if (qf->rcpt[i].done) {
			msg->rstate[i] = QMGR_RCPT_SENT;
			continue;
		}
		msg->pending++;
		todo++;
		memset(&rr, 0, sizeof(rr));
		st = resolve_addr(qf->rcpt[i].address, &rr);
		if (st == MAP_TEMPFAIL || (rr.flags & RESOLVE_FLAG_FAIL)) {
			log_status(msg, i, "none", "4.3.0", "deferred",
			    "address resolver failure");
			finish_rcpt(msg, i, QMGR_RCPT_DEFERRED, "4.3.0", "delayed",
			    "address resolver failure");
		} else if (strcmp(rr.transport, "error") == 0) {
			const char *text = rr.nexthop && *rr.nexthop ? rr.nexthop
			    : "mail for this domain is not accepted";

			log_status(msg, i, "none", "5.0.0", "bounced", text);
			finish_rcpt(msg, i, QMGR_RCPT_BOUNCED, "5.0.0", "failed", text);
		} else if (!qmgr_transport_known(rr.transport)) {
			char text[256];

			snprintf(text, sizeof(text),
			    "mail transport unavailable: no delivery agent for transport %s",
			    rr.transport);
			log_status(msg, i, "none", "4.3.0", "deferred", text);
			finish_rcpt(msg, i, QMGR_RCPT_DEFERRED, "4.3.0", "delayed", text);
		} else {
			add_to_job(msg, jobs, &njobs, rr.transport,
			    rr.nexthop ? rr.nexthop : "", i);
		}
		resolve_reply_free(&rr);
	}
	if (msg->ndone > 0) {
		qfile_mark_done(msg->path, msg->done_offsets, msg->ndone);
		msg->ndone = 0;
	}
	msg->jobs = njobs;
	if (njobs == 0) {
		free(jobs);
		qmgr_message_finished(msg);
		return 0;
	}
	{
		/* Dispatching may finish (and free) the message: remember the
		 * transports first. */
		struct qmgr_transport **ts = xcalloc((size_t)njobs, sizeof(*ts));
		int nts = 0;

		for (int j = 0; j < njobs; j++) {
			int seen = 0;

			for (int k = 0; k < nts; k++)
				if (ts[k] == jobs[j]->transport)
					seen = 1;
			if (!seen)
				ts[nts++] = jobs[j]->transport;
			qmgr_transport_enqueue(jobs[j]->transport, jobs[j]);
		}
		free(jobs);
		for (int k = 0; k < nts; k++)
			qmgr_transport_dispatch(ts[k]);
		free(ts);
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* qmgr_message - an active message: its recipients resolved to
 * transports, the jobs that deliver them, and what happens to each
 * recipient's outcome.
 *
 * Outcomes: sent -> the recipient record is marked done (R->D, with
 * fsync, once per job); bounced -> bounce/ID (fsync'd) then marked done;
 * deferred -> defer/ID.  A delivered recipient that asked for NOTIFY=
 * SUCCESS (unless the next hop took the DSN over), and every recipient
 * of a sendmail -bv report, go to trace/ID (fsync'd before the done
 * mark), from which the sender's notice is made.  When no job is left
 * the message is finished (qmgr.c decides: remove, notify, bounce, or
 * back to deferred/). */
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
#include "deliver_request.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "qmgr.h"
#include "resolve.h"
#include "stringops.h"
#include "verify_clnt.h"

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
	    || (strcmp(queue, MAIL_QUEUE_DEFER) != 0 && fsync(fd) < 0)) {
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
/* trace_rcpt - one entry of trace/ID ("delivery via RELAY: TEXT");
 * 0, or -1 when it could not be written. */
static int
trace_rcpt(struct qmgr_message *msg, const struct qfile_rcpt *r,
    const char *dsn, const char *action, const char *text, const char *relay)
{
	char *why = concatenate("delivery via ", relay && *relay ? relay : "none",
	    ": ", text ? text : "", (char *)0);
	int ret = qmgr_status_log(MAIL_QUEUE_TRACE, msg->id, r, dsn, action, why);

	free(why);
	if (ret == 0)
		msg->ntraced++;
	return ret;
}

static void
finish_rcpt(struct qmgr_message *msg, int ri, enum qmgr_rcpt_state st,
    const char *dsn, const char *action, const char *text, const char *relay,
    int dsn_passed)
{
	struct qfile_rcpt *r = &msg->qf->rcpt[ri];

	if (msg->rstate[ri] != QMGR_RCPT_BUSY && msg->rstate[ri] != QMGR_RCPT_TODO)
		return;		/* a status twice: keep the first */
	msg->rstate[ri] = st;
	msg->pending--;
	if (msg->verify) {
		/* An address verification probe: the outcome goes to the
		 * verify service, for the address asked about (canonical
		 * or virtual alias rewriting may have changed the
		 * recipient); nothing bounces, nothing is retried.  An
		 * address that expanded to several recipients gets the
		 * outcome of each in turn: the last one stays. */
		verify_clnt_update(*msg->verify_addr ? msg->verify_addr
		    : *r->orig_rcpt ? r->orig_rcpt : r->address,
		    st == QMGR_RCPT_SENT ? VRFY_ADDR_OK : st == QMGR_RCPT_BOUNCED
		    ? VRFY_ADDR_BOUNCE : VRFY_ADDR_DEFER, text ? text : "");
		msg->rstate[ri] = QMGR_RCPT_SENT;
		msg->done_offsets[msg->ndone++] = r->offset;
		return;
	}
	if (msg->report) {
		/* sendmail -bv: every outcome is a line of the report; nothing
		 * bounces, nothing is retried.  Not recorded: tried again at
		 * the next attempt. */
		if (trace_rcpt(msg, r, dsn, st == QMGR_RCPT_SENT ? "deliverable"
		    : st == QMGR_RCPT_BOUNCED ? "undeliverable" : "delayed", text,
		    relay) < 0) {
			msg->rstate[ri] = QMGR_RCPT_DEFERRED;
			msg->ndeferred++;
			return;
		}
		msg->rstate[ri] = QMGR_RCPT_SENT;
		msg->done_offsets[msg->ndone++] = r->offset;
		return;
	}
	/* A deleted message leaves no status log behind (an orphan). */
	if ((st == QMGR_RCPT_BOUNCED || st == QMGR_RCPT_DEFERRED)
	    && qmgr_message_gone(msg))
		return;
	switch (st) {
	case QMGR_RCPT_SENT:
		/* NOTIFY=SUCCESS: the sender hears of it from us unless the
		 * next hop took the DSN over (it supports DSN).  A notice
		 * that cannot be recorded is not lost: the recipient is
		 * left for the next attempt. */
		if ((r->dsn_notify & DSN_NOTIFY_SUCCESS) && !dsn_passed
		    && trace_rcpt(msg, r, dsn, action, text, relay) < 0) {
			msg->rstate[ri] = QMGR_RCPT_DEFERRED;
			msg->ndeferred++;
			break;
		}
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
	status = deliver_log_status(msg->verify || msg->report, status);
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
    const char *relay, int dsn_passed)
{
	int ri = job->rcpt[index];
	enum qmgr_rcpt_state st;

	if (strcmp(status, "sent") == 0)
		st = QMGR_RCPT_SENT;
	else if (strcmp(status, "bounced") == 0)
		st = QMGR_RCPT_BOUNCED;
	else {
		st = QMGR_RCPT_DEFERRED;
		strlcpy(job->defer_dsn, dsn, sizeof(job->defer_dsn));
	}
	/* soft_bounce: never bounce, defer instead. */
	if (st == QMGR_RCPT_BOUNCED && var_soft_bounce)
		st = QMGR_RCPT_DEFERRED;
	finish_rcpt(job->msg, ri, st, dsn, action, text, relay, dsn_passed);
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
			    "delayed", why + 6, job->transport->name, 0);
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

void
qmgr_job_defer_all(struct qmgr_job *job, const char *dsn, const char *text)
{
	struct qmgr_message *msg = job->msg;

	for (int i = 0; i < job->nrcpt; i++) {
		int ri = job->rcpt[i];

		if (msg->rstate[ri] == QMGR_RCPT_BUSY) {
			log_status(msg, ri, "none", dsn, "deferred", text);
			finish_rcpt(msg, ri, QMGR_RCPT_DEFERRED, dsn, "delayed", text,
			    "none", 0);
		}
	}
	qmgr_job_done(job, NULL);
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

/* defer_transport - is transport listed in defer_transports? */
static int
defer_transport(const char *transport)
{
	char *list, *cp, *name;
	int found = 0;

	if (*var_defer_transports == 0)
		return 0;
	cp = list = xstrdup(var_defer_transports);
	while (!found && (name = mystrtok(&cp, " \t\r\n,")) != NULL)
		found = strcmp(name, transport) == 0;
	free(list);
	return found;
}

/* split_dsn - an optional leading DSN status "X.Y.Z " of text: copied
 * into dsn (class forced to cls), text after it returned. */
static const char *
split_dsn(const char *text, char cls, char *dsn, size_t size)
{
	size_t n = strspn(text, "0123456789.");

	if (n >= 5 && n < size && (text[0] == '4' || text[0] == '5')
	    && text[1] == '.' && (text[n] == ' ' || text[n] == 0)
	    && strchr(text + 2, '.') && strchr(text + 2, '.') < text + n - 1) {
		memcpy(dsn, text, n);
		dsn[n] = 0;
		dsn[0] = cls;
		text += n;
		while (*text == ' ')
			text++;
	}
	return text;
}

/* internal_delivery - recipient ri goes to a transport qmgr serves
 * itself, as Postfix's error(8) and discard(8) agents do: the next hop
 * is the reason, with an optional DSN status in front.  error: bounce,
 * retry: defer, discard: sent ("relay=none, dsn=2.0.0, status=sent").
 * 1 when done, 0 when the transport has a real agent. */
static int
internal_delivery(struct qmgr_message *msg, int ri, const char *transport,
    const char *nexthop)
{
	char dsn[16];
	const char *text;

	if (nexthop == NULL)
		nexthop = "";
	switch (qmgr_transport_kind(transport)) {
	case QMGR_KIND_ERROR:
		strlcpy(dsn, "5.0.0", sizeof(dsn));
		text = split_dsn(nexthop, '5', dsn, sizeof(dsn));
		if (*text == 0)
			text = "mail for this domain is not accepted";
		if (var_soft_bounce) {
			dsn[0] = '4';
			log_status(msg, ri, "none", dsn, "deferred", text);
			finish_rcpt(msg, ri, QMGR_RCPT_DEFERRED, dsn, "delayed", text,
			    "none", 0);
		} else {
			log_status(msg, ri, "none", dsn, "bounced", text);
			finish_rcpt(msg, ri, QMGR_RCPT_BOUNCED, dsn, "failed", text,
			    "none", 0);
		}
		return 1;
	case QMGR_KIND_RETRY:
		strlcpy(dsn, "4.0.0", sizeof(dsn));
		text = split_dsn(nexthop, '4', dsn, sizeof(dsn));
		if (*text == 0)
			text = "delivery temporarily suspended";
		log_status(msg, ri, "none", dsn, "deferred", text);
		finish_rcpt(msg, ri, QMGR_RCPT_DEFERRED, dsn, "delayed", text,
		    "none", 0);
		return 1;
	case QMGR_KIND_DISCARD:
		strlcpy(dsn, "2.0.0", sizeof(dsn));
		text = nexthop;
		if (*text == 0) {
			/* The recipient's domain, as the resolver gives it for
			 * "discard:" in Postfix. */
			const char *at = strrchr(msg->qf->rcpt[ri].address, '@');

			text = at ? at + 1 : "discarded";
		}
		log_status(msg, ri, "none", dsn, "sent", text);
		finish_rcpt(msg, ri, QMGR_RCPT_SENT, dsn, "delivered", text, "none",
		    0);
		return 1;
	default:
		return 0;
	}
}

/* filter_route - a message for a content filter goes there whole,
 * whatever its recipients resolve to: rr gets the filter's transport and
 * next hop (its own, else $default_filter_nexthop, else the recipient's
 * domain), as Postfix's qmgr does. */
static void
filter_route(const char *filter, const char *rcpt, struct resolve_reply *rr)
{
	const char *colon = strchr(filter, ':');
	const char *at;

	rr->transport = xstrndup(filter, (size_t)(colon - filter));
	if (colon[1] != 0)
		rr->nexthop = xstrdup(colon + 1);
	else if (*var_default_filter_nexthop)
		rr->nexthop = xstrdup(var_default_filter_nexthop);
	else
		rr->nexthop = xstrdup((at = strrchr(rcpt, '@')) != NULL ? at + 1
		    : var_myhostname);
	rr->recipient = xstrdup(rcpt);
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
	msg->flushed = qmgr_flushed_take(id);
	msg->verify_addr = qfile_msg_attr(qf, QFILE_ATTR_VERIFY);
	msg->verify = msg->verify_addr != NULL;
	msg->report = qfile_msg_attr(qf, QFILE_ATTR_VERIFY_REPORT) != NULL;
	/* A probe or a -bv report decides without delivering: never
	 * through a filter.  A malformed value (no "transport:") is
	 * ignored, as cleanup never writes one. */
	msg->filter = qfile_msg_attr(qf, QFILE_ATTR_FILTER);
	if (msg->filter != NULL && (msg->verify || msg->report
	    || strchr(msg->filter, ':') == NULL || *msg->filter == ':'))
		msg->filter = NULL;
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
		if (msg->filter != NULL) {
			filter_route(msg->filter, qf->rcpt[i].address, &rr);
			st = MAP_FOUND;
		} else
			st = resolve_addr(qf->rcpt[i].address, &rr);
		if (st == MAP_TEMPFAIL || (rr.flags & RESOLVE_FLAG_FAIL)) {
			log_status(msg, i, "none", "4.3.0", "deferred",
			    "address resolver failure");
			finish_rcpt(msg, i, QMGR_RCPT_DEFERRED, "4.3.0", "delayed",
			    "address resolver failure", "none", 0);
		} else if (!msg->flushed && defer_transport(rr.transport)) {
			/* defer_transports: no attempt until a flush. */
			log_status(msg, i, "none", "4.3.2", "deferred",
			    "deferred transport");
			finish_rcpt(msg, i, QMGR_RCPT_DEFERRED, "4.3.2", "delayed",
			    "deferred transport", "none", 0);
		} else if (internal_delivery(msg, i, rr.transport, rr.nexthop)) {
			/* error, retry, discard: done here. */
		} else if (qmgr_transport_kind(rr.transport) == QMGR_KIND_NONE) {
			char text[256];

			snprintf(text, sizeof(text),
			    "mail transport unavailable: no delivery agent for transport %s",
			    rr.transport);
			log_status(msg, i, "none", "4.3.0", "deferred", text);
			finish_rcpt(msg, i, QMGR_RCPT_DEFERRED, "4.3.0", "delayed", text,
			    "none", 0);
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

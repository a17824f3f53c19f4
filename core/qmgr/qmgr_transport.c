/* SPDX-License-Identifier: MIT */
/* qmgr_transport - delivery agents: one queue of jobs per transport,
 * persistent connections to $queue_directory/private/<transport>, and
 * the per-destination concurrency limit.
 *
 * A job is a request, answered by one status list per recipient and a
 * final "done=1" list (deliver_request.h); replies are matched to jobs by
 * request_id.  A connection carries up to QMGR_PIPELINE_MAX jobs at once,
 * of any destinations, and the agent commits the jobs it has in hand
 * together (group commit, delivery/common/agent_server.c): a message
 * for ten local recipients is ten jobs (local_destination_recipient_limit
 * = 1 makes each recipient its own destination), and they share the
 * agents' commits instead of paying one each.  An idle connection (or a
 * new one, up to the transport's limit) is preferred, so that work is
 * spread over the agents; when there is none, a job is pipelined on the
 * least loaded connection it may use.
 *
 * The per-destination concurrency limit
 * (<transport>_destination_concurrency_limit) counts CONNECTIONS, that
 * is agent processes, delivering to the destination, not jobs: as with
 * Postfix's process-based concurrency, at most that many agents write
 * into one destination at once, however many jobs each one has in hand.
 * A destination is busy on a connection while the connection carries at
 * least one of its jobs.
 *
 * A transport that cannot be reached is retried every second; after
 * transport_retry_time its queued jobs are deferred with "4.3.0 mail
 * transport unavailable" (mail is never bounced for that).
 *
 * An agent process serves one connection at a time, so an idle
 * connection is closed as soon as another one carries a job: the job may
 * be waiting in the socket's backlog for the very agent the idle
 * connection holds.
 *
 * Which transports exist is master.cf's business: a unix service of the
 * transport's name (qmgr_transport_kind).  Services whose command is
 * smtp or lmtp (QMGR_KIND_SINGLE) are different: their agents are
 * event-driven (one process, many qmgr connections), and a job may take
 * minutes on a slow server, so a connection carries ONE job at a time
 * (never pipelined: the job behind it could be for another destination)
 * and there are up to the service's maxproc connections.  Their
 * destinations have a concurrency window (qmgr_feedback.h) driven by the
 * agents' dest_status in the final reply: slow start from
 * initial_destination_concurrency, and a dead destination's jobs are
 * deferred without an attempt until it is revived (minimal_backoff_time,
 * a flush, or a late positive feedback).
 *
 * <transport>_destination_rate_delay (any kind): one delivery at a time
 * to a destination, and the pause between the end of one and the start
 * of the next (a timer per destination). */
#include "postino_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "attr.h"
#include "deliver_request.h"
#include "htable.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "master_ent.h"
#include "msg.h"
#include "mymalloc.h"
#include "qmgr.h"
#include "stringops.h"

/* Jobs in flight on one connection at most. */
#define QMGR_PIPELINE_MAX	16

struct qmgr_conn {
	struct qmgr_transport *t;
	struct bufferevent *bev;
	struct qmgr_job *head, *tail;	/* in flight, in request order */
	int njobs;			/* 0: idle */
	int connected;
	struct attr_list *al;
	struct qmgr_conn *next;
};

/* A destination of one transport: its queued jobs and how many
 * connections carry its jobs.  Destinations with queued jobs are on the
 * transport's ready list, so dispatching costs O(destinations), not
 * O(queued jobs). */
struct qmgr_dest {
	char *key;
	struct qmgr_transport *t;
	int busy;
	struct qmgr_job *head, *tail;
	int listed;
	struct qmgr_dest *next_ready;
	struct qmgr_window win;		/* QMGR_KIND_SINGLE */
	int dead;			/* window 0: mail for it is deferred */
	char *dead_dsn;
	char *dead_reason;
	double next_ok;			/* rate delay: not before this time */
	struct event *timer;		/* revival, or end of a rate delay */
};

static struct qmgr_transport *transports;
static long next_request_id = 1;
static int feedback_debug;		/* destination_concurrency_feedback_debug */

static struct master_ent **services;	/* master.cf, read at start */
static int services_unknown;		/* master.cf could not be read */

void
qmgr_transport_init(void)
{
	char *path = concatenate(mail_conf_dir(), "/master.cf", (char *)0);
	int errors = 0;

	feedback_debug = var_destination_concurrency_feedback_debug;
	master_ent_free_all(&services);
	services = master_ent_read(path, &errors);
	if (errors > 0 && (services == NULL || services[0] == NULL)) {
		/* Unreadable: never hold all mail for that.  Guess from the
		 * names (services_unknown) instead. */
		msg_warn("%s: cannot read the services: every transport is "
		    "assumed to have a delivery agent", path);
		services_unknown = 1;
	} else if (errors > 0) {
		msg_warn("%s: %d error%s: those services are not used", path,
		    errors, errors > 1 ? "s" : "");
	}
	free(path);
}

/* service_find - the unix service of this name in master.cf. */
static const struct master_ent *
service_find(const char *name)
{
	const struct master_ent *found = NULL;

	for (int i = 0; services && services[i]; i++) {
		const struct master_ent *e = services[i];

		if (e->type == MASTER_TYPE_UNIX && strcmp(e->name, name) == 0
		    && !master_ent_disabled(e))
			found = e;
	}
	return found;
}

/* command_is - is the service's program this one (the command as
 * written, or its last path component)? */
static int
command_is(const struct master_ent *e, const char *prog)
{
	const char *base = strrchr(e->command, '/');

	return strcmp(base ? base + 1 : e->command, prog) == 0;
}

enum qmgr_kind
qmgr_transport_kind(const char *name)
{
	const struct master_ent *e = service_find(name);

	if (e == NULL) {
		/* Postfix's sample master.cf has these three; without them
		 * qmgr does their work itself. */
		if (strcmp(name, "error") == 0)
			return QMGR_KIND_ERROR;
		if (strcmp(name, "retry") == 0)
			return QMGR_KIND_RETRY;
		if (strcmp(name, "discard") == 0)
			return QMGR_KIND_DISCARD;
		if (!services_unknown)
			return QMGR_KIND_NONE;
		return strcmp(name, "smtp") == 0 || strcmp(name, "relay") == 0
		    || strcmp(name, "lmtp") == 0 ? QMGR_KIND_SINGLE
		    : QMGR_KIND_AGENT;
	}
	if (command_is(e, "error"))
		/* error(8) run as "retry" defers instead of bouncing. */
		return strcmp(name, "retry") == 0 ? QMGR_KIND_RETRY
		    : QMGR_KIND_ERROR;
	if (command_is(e, "discard"))
		return QMGR_KIND_DISCARD;
	if (command_is(e, "smtp") || command_is(e, "lmtp"))
		return QMGR_KIND_SINGLE;
	return QMGR_KIND_AGENT;
}

/* conf_limit - "<transport>_<suffix>" or "default_<suffix>". */
static int
conf_limit(const char *transport, const char *suffix, int def)
{
	char name[128];
	const char *v;
	long n;

	snprintf(name, sizeof(name), "%s_%s", transport, suffix);
	v = mail_conf_str(name);
	if (*v == 0) {
		snprintf(name, sizeof(name), "default_%s", suffix);
		v = mail_conf_str(name);
	}
	if (*v == 0 || str_to_long(v, &n) < 0 || n < 0)
		return def;
	return (int)n;
}

/* conf_value - "<transport>_<name>", else the fallback parameter. */
static const char *
conf_value(const char *transport, const char *name, const char *fallback)
{
	char buf[160];
	const char *v;

	snprintf(buf, sizeof(buf), "%s_%s", transport, name);
	v = mail_conf_str(buf);
	return *v ? v : mail_conf_str(fallback);
}

/* conf_feedback - a feedback parameter; malformed: warn, use 1. */
static void
conf_feedback(const char *transport, const char *suffix, struct qmgr_fb *fb)
{
	char fallback[128];
	const char *v;

	snprintf(fallback, sizeof(fallback), "default_%s", suffix);
	v = conf_value(transport, suffix, fallback);
	fb->base = 1;
	fb->index = QMGR_FB_CONST;
	if (*v && qmgr_fb_parse(v, fb) < 0)
		msg_warn("%s_%s: bad value \"%s\": using 1", transport, suffix, v);
}

/* conf_number - a non-negative number or time ('s') parameter. */
static long
conf_number(const char *transport, const char *name, const char *fallback,
    int time_unit, long def)
{
	const char *v = conf_value(transport, name, fallback);
	long n;

	if (*v == 0)
		return def;
	if ((time_unit ? mail_conf_parse_time(v, time_unit, &n)
	    : mail_conf_parse_int(v, &n)) < 0 || n < 0) {
		msg_warn("%s_%s: bad value \"%s\": using %ld", transport, name, v,
		    def);
		return def;
	}
	return n;
}

struct qmgr_transport *
qmgr_transport_find(const char *name)
{
	struct qmgr_transport *t;
	const struct master_ent *e;

	for (t = transports; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->kind = qmgr_transport_kind(name);
	t->socket_path = concatenate(var_queue_directory,
	    "/private/", name, (char *)0);
	t->dest_limit = conf_limit(name, "destination_concurrency_limit", 20);
	/* The window (used for smtp and lmtp; dead destinations for any
	 * agent that sends dest_status).  0 = no per-destination limit. */
	t->fb.limit = t->dest_limit;
	t->fb.init = (int)conf_number(name, "initial_destination_concurrency",
	    "initial_destination_concurrency", 0, 5);
	if (t->fb.init < 1)
		t->fb.init = 1;
	t->fb.cohort_limit = (double)conf_number(name,
	    "destination_concurrency_failed_cohort_limit",
	    "default_destination_concurrency_failed_cohort_limit", 0, 1);
	conf_feedback(name, "destination_concurrency_positive_feedback",
	    &t->fb.pos);
	conf_feedback(name, "destination_concurrency_negative_feedback",
	    &t->fb.neg);
	if (t->kind == QMGR_KIND_SINGLE) {
		/* smtp, lmtp: one job per connection, as many connections
		 * as the service's maxproc. */
		e = service_find(name);
		t->max_conns = e ? master_ent_maxproc(e) : 100;
		if (t->max_conns <= 0)
			t->max_conns = INT_MAX;
		if (t->dest_limit < 1)
			t->dest_limit = INT_MAX;
	} else {
		t->max_conns = t->dest_limit;
		if (t->max_conns < 1)
			t->max_conns = 1;
		/* At most this many agents overall per transport. */
		if (t->max_conns < 10)
			t->max_conns = 10;
		if (t->dest_limit < 1)
			t->dest_limit = 1;
	}
	t->rate_delay = conf_number(name, "destination_rate_delay",
	    "default_destination_rate_delay", 's', 0);
	t->rcpt_limit = conf_limit(name, "destination_recipient_limit", 50);
	if (t->rcpt_limit < 1)
		t->rcpt_limit = 1;
	t->dests = htable_create(64);
	t->next = transports;
	transports = t;
	return t;
}

static double
now_double(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static struct qmgr_dest *
dest_get(struct qmgr_transport *t, const char *key)
{
	struct qmgr_dest *d = htable_find(t->dests, key);

	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->key = xstrdup(key);
		d->t = t;
		qmgr_window_init(&d->win, &t->fb);
		htable_enter(t->dests, key, d);
	}
	return d;
}

/* dest_release - forget a destination with nothing queued or busy that
 * has nothing to remember (dead, or in a rate delay pause). */
static void
dest_release(struct qmgr_transport *t, struct qmgr_dest *d)
{
	if (d->busy > 0 || d->head != NULL || d->listed || d->dead
	    || (d->timer && evtimer_pending(d->timer, NULL)))
		return;
	htable_delete(t->dests, d->key, NULL);
	if (d->timer)
		event_free(d->timer);
	free(d->dead_dsn);
	free(d->dead_reason);
	free(d->key);
	free(d);
}

static void dest_timer(evutil_socket_t fd, short what, void *arg);

static void
dest_timer_set(struct qmgr_dest *d, double seconds)
{
	struct timeval tv;

	if (seconds < 0)
		seconds = 0;
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	if (d->timer == NULL)
		d->timer = evtimer_new(qmgr_base, dest_timer, d);
	evtimer_add(d->timer, &tv);
}

/* dest_revive - a dead destination gets mail again (at the window
 * qmgr_window_positive or qmgr_window_init chose). */
static void
dest_revive(struct qmgr_dest *d)
{
	if (!d->dead)
		return;
	d->dead = 0;
	free(d->dead_dsn);
	free(d->dead_reason);
	d->dead_dsn = d->dead_reason = NULL;
	if (d->timer)
		evtimer_del(d->timer);
	if (d->win.window == 0)
		qmgr_window_init(&d->win, &d->t->fb);
}

/* dest_kill - the destination is dead: its queued jobs, and those that
 * come until it is revived (after minimal_backoff_time, or a flush),
 * are deferred without a delivery attempt (by dispatch). */
static void
dest_kill(struct qmgr_dest *d, const char *dsn, const char *reason)
{
	long backoff = var_minimal_backoff_time > 0 ? var_minimal_backoff_time : 300;

	d->dead = 1;
	d->win.window = 0;
	free(d->dead_dsn);
	free(d->dead_reason);
	d->dead_dsn = xstrdup(dsn);
	d->dead_reason = concatenate("delivery temporarily suspended: ", reason,
	    (char *)0);
	dest_timer_set(d, (double)backoff);
}

static void
dest_timer(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_dest *d = arg;
	struct qmgr_transport *t = d->t;

	(void)fd;
	(void)what;
	if (d->dead) {
		dest_revive(d);
	}
	if (d->head == NULL)
		dest_release(t, d);
	qmgr_transport_dispatch(t);
}

void
qmgr_transport_flush(void)
{
	for (struct qmgr_transport *t = transports; t; t = t->next) {
		struct htable_entry **list = htable_list(t->dests);

		for (int i = 0; list[i]; i++) {
			struct qmgr_dest *d = list[i]->value;

			if (d->dead) {
				dest_revive(d);
				if (d->head == NULL)
					dest_release(t, d);
			}
		}
		free(list);
		qmgr_transport_dispatch(t);
	}
}

static void
ready_add(struct qmgr_transport *t, struct qmgr_dest *d)
{
	if (d->listed)
		return;
	d->listed = 1;
	d->next_ready = NULL;
	if (t->ready_tail)
		t->ready_tail->next_ready = d;
	else
		t->ready_head = d;
	t->ready_tail = d;
}

void
qmgr_transport_enqueue(struct qmgr_transport *t, struct qmgr_job *job)
{
	struct qmgr_dest *d = job->dest ? job->dest : dest_get(t, job->dest_key);

	job->dest = d;
	job->next = NULL;
	if (d->tail)
		d->tail->next = job;
	else
		d->head = job;
	d->tail = job;
	ready_add(t, d);
}

static void
enqueue_front(struct qmgr_transport *t, struct qmgr_job *job)
{
	struct qmgr_dest *d = job->dest ? job->dest : dest_get(t, job->dest_key);

	job->dest = d;
	job->next = d->head;
	d->head = job;
	if (d->tail == NULL)
		d->tail = job;
	ready_add(t, d);
}

/* pop_job - take the first job of d off its queue. */
static struct qmgr_job *
pop_job(struct qmgr_dest *d)
{
	struct qmgr_job *job = d->head;

	if (job) {
		d->head = job->next;
		if (d->head == NULL)
			d->tail = NULL;
		job->next = NULL;
	}
	return job;
}

static void
conn_free(struct qmgr_conn *c)
{
	struct qmgr_conn **pp;

	for (pp = &c->t->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->t->nconns--;
	if (c->bev)
		bufferevent_free(c->bev);
	attr_list_free(&c->al);
	free(c);
}

/* conn_find - the job in flight on c with this request id. */
static struct qmgr_job *
conn_find(struct qmgr_conn *c, long request_id)
{
	struct qmgr_job *job;

	for (job = c->head; job; job = job->next)
		if (job->request_id == request_id)
			return job;
	return NULL;
}

/* conn_carries - is a job of d in flight on c? */
static int
conn_carries(const struct qmgr_conn *c, const struct qmgr_dest *d)
{
	for (const struct qmgr_job *j = c->head; j; j = j->next)
		if (j->dest == d)
			return 1;
	return 0;
}

/* conn_take - take job off c's jobs in flight; the last one of its
 * destination on c frees c's place in that destination's concurrency. */
static void
conn_take(struct qmgr_conn *c, struct qmgr_job *job)
{
	struct qmgr_job **pp;
	struct qmgr_dest *d = job->dest;

	for (pp = &c->head; *pp; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			break;
		}
	c->tail = NULL;
	for (struct qmgr_job *j = c->head; j; j = j->next)
		c->tail = j;
	job->next = NULL;
	job->dest = NULL;
	c->njobs--;
	if (!conn_carries(c, d)) {
		d->busy--;
		/* <transport>_destination_rate_delay: the pause starts when
		 * a delivery ends. */
		if (c->t->rate_delay > 0 && !d->dead) {
			d->next_ok = now_double() + (double)c->t->rate_delay;
			dest_timer_set(d, (double)c->t->rate_delay);
		}
		dest_release(c->t, d);
	}
}

/* finish_job - job, on c, is over (normally or not). */
static void
finish_job(struct qmgr_conn *c, struct qmgr_job *job, const char *failure)
{
	conn_take(c, job);
	qmgr_job_done(job, failure);
}

/* fail_all - every job in flight on c is over, with failure.  c must be
 * out of dispatch's reach (bev NULL) first. */
static void
fail_all(struct qmgr_conn *c, const char *failure)
{
	while (c->head)
		finish_job(c, c->head, failure);
}

/* conn_drop - close c after a failure of its connection. */
static void
conn_drop(struct qmgr_conn *c, const char *failure)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	fail_all(c, failure);
	conn_free(c);
}

static void transport_retry(evutil_socket_t fd, short what, void *arg);

/* transport_down - a connect failed: retry soon, give up after a while. */
static void
transport_down(struct qmgr_transport *t, const char *why)
{
	time_t now = time(NULL);
	long give_up = var_transport_retry_time;
	struct timeval tv = {1, 0};

	if (give_up <= 0)
		give_up = 60;
	if (t->down_since == 0) {
		t->down_since = now;
		msg_warn("connect to transport private/%s: %s", t->name, why);
	}
	if (now - t->down_since >= give_up) {
		struct qmgr_dest *d;

		while ((d = t->ready_head) != NULL) {
			struct qmgr_job *job;

			t->ready_head = d->next_ready;
			if (t->ready_head == NULL)
				t->ready_tail = NULL;
			d->listed = 0;
			while ((job = pop_job(d)) != NULL) {
				job->dest = NULL;
				qmgr_job_done(job, "4.3.0 mail transport unavailable");
			}
			dest_release(t, d);
		}
		t->down_since = now;
	}
	if (t->retry == NULL)
		t->retry = evtimer_new(qmgr_base, transport_retry, t);
	evtimer_add(t->retry, &tv);
}

static void
transport_retry(evutil_socket_t fd, short what, void *arg)
{
	qmgr_transport_dispatch(arg);
}

/* other_busy - does another connection of c's transport carry a job?
 * Then c, idle, must go: a delivery agent serves one connection at a
 * time, and the agent that holds c may be the one that the other
 * connection's job waits for (connected, not yet accepted). */
static int
other_busy(const struct qmgr_conn *c)
{
	for (const struct qmgr_conn *o = c->t->conns; o; o = o->next)
		if (o != c && o->njobs > 0)
			return 1;
	return 0;
}

/* log_window - destination_concurrency_feedback_debug: the window
 * after each feedback, in the terms of Postfix's log. */
static void
log_window(const char *what, const struct qmgr_transport *t,
    const struct qmgr_dest *d)
{
	if (!feedback_debug)
		return;
	msg_info("%s feedback: queue %s:%s: limit %d window %d success %g "
	    "failure %g fail_cohorts %g", what, t->name, d->key, t->fb.limit,
	    d->win.window, d->win.success, d->win.failure, d->win.fail_cohorts);
}

/* dest_feedback - the agent's word on the job's destination as a whole
 * (deliver_request.h): "ok" (a session was established) widens the
 * window, "dead" (no server reachable, all greeted 4xx, DNS tempfail)
 * narrows it, and may declare the destination dead.  No word: nothing
 * changes (local, virtual). */
static void
dest_feedback(struct qmgr_transport *t, struct qmgr_job *job,
    const char *status, const char *reason)
{
	struct qmgr_dest *d = job->dest;

	if (status == NULL || d == NULL)
		return;
	if (strcmp(status, "ok") == 0) {
		qmgr_window_positive(&d->win, &t->fb, d->busy);
		dest_revive(d);
		log_window("positive", t, d);
	} else if (strcmp(status, "dead") == 0 && !d->dead) {
		char dsn[16];
		const char *text = reason && *reason ? reason
		    : "destination not reachable";
		size_t n = strspn(text, "0123456789.");

		/* The reason may begin with a DSN status; else the job's
		 * recipients' own one. */
		if (n >= 5 && n < sizeof(dsn) && text[0] == '4' && text[1] == '.'
		    && text[n] == ' ') {
			memcpy(dsn, text, n);
			dsn[n] = 0;
			text += n + 1;
		} else {
			strlcpy(dsn, job->defer_dsn[0] == '4' ? job->defer_dsn
			    : "4.4.1", sizeof(dsn));
		}
		if (qmgr_window_negative(&d->win, &t->fb))
			dest_kill(d, dsn, text);
		log_window("negative", t, d);
	} else if (strcmp(status, "dead") != 0) {
		msg_warn("transport %s: unknown dest_status \"%.40s\" from "
		    "delivery agent", t->name, status);
	}
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct qmgr_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	int finished = 0;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		const char *err = NULL;
		long used;

		if (len == 0 || (used = attr_parse((const char *)
		    evbuffer_pullup(in, -1), len, c->al, &err)) == 0) {
			/* Every complete reply is read: the places the
			 * finished jobs held go to queued jobs. */
			if (finished) {
				struct qmgr_transport *t = c->t;

				qmgr_transport_dispatch(t);
				if (c->njobs == 0 && t->kind != QMGR_KIND_SINGLE
				    && other_busy(c))
					conn_free(c);
			}
			return;
		}
		if (used < 0 || c->njobs == 0) {
			msg_warn("transport %s: protocol error from delivery agent: %s",
			    c->t->name, err ? err : "unexpected reply");
			conn_drop(c, "4.3.0 delivery agent protocol error");
			return;
		}
		evbuffer_drain(in, (size_t)used);
		if (attr_get(c->al, "done")) {
			struct qmgr_transport *t = c->t;
			const char *v = attr_get(c->al, "request_id");
			struct qmgr_job *job = NULL;
			long rid;

			if (v == NULL || str_to_long(v, &rid) < 0
			    || (job = conn_find(c, rid)) == NULL) {
				msg_warn("transport %s: bad reply from delivery agent: %s",
				    t->name, "done for an unknown request");
				conn_drop(c, "4.3.0 delivery agent protocol error");
				return;
			}
			dest_feedback(t, job, attr_get(c->al, "dest_status"),
			    attr_get(c->al, "dest_reason"));
			finish_job(c, job, NULL);
			finished = 1;
		} else {
			long rid = 0;
			struct deliver_status *ds;
			struct qmgr_job *job = NULL;

			ds = deliver_status_from_attr(c->al, &rid, &err);
			if (ds != NULL)
				job = conn_find(c, rid);
			if (ds == NULL || job == NULL
			    || ds->rcpt_index < 0 || ds->rcpt_index >= job->nrcpt) {
				msg_warn("transport %s: bad status from delivery agent: %s",
				    c->t->name, err ? err : "wrong request or recipient");
				deliver_status_free(&ds);
				conn_drop(c, "4.3.0 delivery agent protocol error");
				return;
			}
			qmgr_job_status(job, ds->rcpt_index, ds->dsn, ds->status,
			    ds->action, ds->text, ds->relay, ds->dsn_passed);
			deliver_status_free(&ds);
		}
	}
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct qmgr_conn *c = arg;
	struct qmgr_transport *t = c->t;

	if (what & BEV_EVENT_CONNECTED) {
		c->connected = 1;
		t->down_since = 0;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		int saved = errno;

		if (!c->connected) {
			/* Never got through: the jobs go back, unharmed, in
			 * their order. */
			struct qmgr_job *back = NULL;

			bufferevent_free(c->bev);
			c->bev = NULL;
			while (c->head) {
				struct qmgr_job *job = c->head;

				conn_take(c, job);
				job->next = back;
				back = job;
			}
			while (back) {
				struct qmgr_job *job = back;

				back = job->next;
				enqueue_front(t, job);
			}
			conn_free(c);
			transport_down(t, strerror(saved ? saved : ECONNREFUSED));
			return;
		}
		if (c->njobs > 0)
			msg_warn("transport %s: lost connection with delivery agent",
			    t->name);
		conn_drop(c, "4.3.0 lost connection with delivery agent");
		qmgr_transport_dispatch(t);
	}
}

static struct qmgr_conn *
conn_new(struct qmgr_transport *t)
{
	struct qmgr_conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(t->socket_path) >= sizeof(sun.sun_path)) {
		free(c);
		transport_down(t, "socket path too long");
		return NULL;
	}
	strlcpy(sun.sun_path, t->socket_path, sizeof(sun.sun_path));
	c->t = t;
	c->al = attr_list_new();
	c->bev = bufferevent_socket_new(qmgr_base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	c->next = t->conns;
	t->conns = c;
	t->nconns++;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sun,
	    sizeof(sun)) < 0) {
		int saved = errno;

		conn_free(c);
		transport_down(t, strerror(saved));
		return NULL;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

/* send_job - write the request for job on c. */
static void
send_job(struct qmgr_conn *c, struct qmgr_job *job)
{
	struct qmgr_message *msg = job->msg;
	struct qfile_msg *qf = msg->qf;
	struct deliver_request dr;
	struct attr_list *al = attr_list_new();
	struct buf *out = buf_new(1024, BUF_NOLIMIT);

	memset(&dr, 0, sizeof(dr));
	job->request_id = next_request_id++;
	dr.request_id = job->request_id;
	dr.queue_id = msg->id;
	dr.queue_path = msg->path;
	dr.sender = qf->sender;
	dr.arrival = qf->arrival;
	dr.content_offset = qf->content_offset;
	dr.content_len = qf->content_len;
	dr.nexthop = job->nexthop;
	dr.client_address = UNCONST(qfile_msg_attr(qf, "client_address"));
	dr.client_name = UNCONST(qfile_msg_attr(qf, "client_name"));
	dr.client_helo = UNCONST(qfile_msg_attr(qf, "helo"));
	dr.client_protocol = UNCONST(qfile_msg_attr(qf, "protocol"));
	dr.client_port = UNCONST(qfile_msg_attr(qf, "client_port"));
	dr.rewrite_context = UNCONST(qfile_msg_attr(qf, "rewrite_context"));
	dr.dsn_envid = UNCONST(qfile_msg_attr(qf, "dsn_envid"));
	dr.dsn_ret = UNCONST(qfile_msg_attr(qf, "dsn_ret"));
	dr.redelivery = msg->redelivery;
	dr.verify = msg->verify || msg->report;
	dr.rcpt_count = job->nrcpt;
	dr.rcpt = xcalloc((size_t)job->nrcpt, sizeof(*dr.rcpt));
	for (int i = 0; i < job->nrcpt; i++) {
		struct qfile_rcpt *r = &qf->rcpt[job->rcpt[i]];

		dr.rcpt[i].address = r->address;
		dr.rcpt[i].orig_rcpt = r->orig_rcpt;
		dr.rcpt[i].offset = r->offset;
		dr.rcpt[i].dsn_notify = r->dsn_notify;
	}
	deliver_request_to_attr(&dr, al);
	/* More mail for this destination waits or is being delivered on
	 * other connections: the smtp/lmtp agent keeps its session open for
	 * the next one (smtp_connection_cache_on_demand).  (busy does not
	 * count this job yet.) */
	if (job->dest && (job->dest->head || job->dest->busy > 0))
		attr_add(al, "dest_backlog", "1");
	attr_format(al, out);
	bufferevent_write(c->bev, buf_str(out), buf_len(out));
	free(dr.rcpt);
	attr_list_free(&al);
	buf_free(&out);
	/* job->dest is set by enqueue; c counts once per destination. */
	if (!conn_carries(c, job->dest))
		job->dest->busy++;
	job->next = NULL;
	if (c->tail)
		c->tail->next = job;
	else
		c->head = job;
	c->tail = job;
	c->njobs++;
}

/* defer_dead - every queued job of dead destination d is deferred. */
static void
defer_dead(struct qmgr_dest *d)
{
	struct qmgr_job *job;

	while ((job = pop_job(d)) != NULL) {
		job->dest = NULL;
		qmgr_job_defer_all(job, d->dead_dsn, d->dead_reason);
	}
}

/* dest_limit - how many connections may carry d's jobs now. */
static int
dest_limit(const struct qmgr_transport *t, struct qmgr_dest *d)
{
	int limit = t->kind == QMGR_KIND_SINGLE ? d->win.window : t->dest_limit;

	if (t->rate_delay > 0) {
		double now = now_double();

		/* One delivery at a time, with the pause in between; the
		 * timer brings dispatch back at its end (again, should it
		 * fire a little early by this clock). */
		if (d->busy > 0)
			return 0;
		if (now < d->next_ok) {
			if (d->timer == NULL || !evtimer_pending(d->timer, NULL))
				dest_timer_set(d, d->next_ok - now + 0.001);
			return 0;
		}
		limit = 1;
	}
	return limit;
}

void
qmgr_transport_dispatch(struct qmgr_transport *t)
{
	int progress = 1;

	/* Round robin over the destinations, one job each per pass. */
	while (progress) {
		struct qmgr_dest *d, *prev = NULL, *next;

		progress = 0;
		for (d = t->ready_head; d; d = next) {
			struct qmgr_conn *c;
			struct qmgr_job *job;
			int limit;

			next = d->next_ready;
			if (d->dead)
				defer_dead(d);
			if (d->head == NULL) {
				/* Nothing queued: off the ready list. */
				if (prev)
					prev->next_ready = next;
				else
					t->ready_head = next;
				if (t->ready_tail == d)
					t->ready_tail = prev;
				d->listed = 0;
				dest_release(t, d);
				continue;
			}
			prev = d;
			c = NULL;
			limit = dest_limit(t, d);
			if (d->busy < limit) {
				/* Another agent for d: an idle connection or a
				 * new one. */
				for (c = t->conns; c; c = c->next)
					if (c->njobs == 0 && c->bev)
						break;
				if (c == NULL && t->nconns < t->max_conns
				    && (c = conn_new(t)) == NULL)
					return;
			}
			if (c == NULL && t->kind != QMGR_KIND_SINGLE) {
				/* Pipeline on the least loaded connection that
				 * already delivers to d or, while d is under its
				 * limit, on any.  Never for smtp and lmtp: a job
				 * for a slow destination would hold up those
				 * behind it. */
				struct qmgr_conn *o;
				int free_slot = d->busy < limit;

				for (o = t->conns; o; o = o->next)
					if (o->bev && o->njobs < QMGR_PIPELINE_MAX
					    && (c == NULL || o->njobs < c->njobs)
					    && (free_slot || (limit > 0
					    && conn_carries(o, d))))
						c = o;
			}
			if (c == NULL)
				continue;
			job = pop_job(d);
			send_job(c, job);
			progress = 1;
		}
	}
}

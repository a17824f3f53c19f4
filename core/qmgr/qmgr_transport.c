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
 * connection holds. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "attr.h"
#include "deliver_request.h"
#include "htable.h"
#include "mail_conf.h"
#include "mail_vars.h"
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
	int busy;
	struct qmgr_job *head, *tail;
	int listed;
	struct qmgr_dest *next_ready;
};

static struct qmgr_transport *transports;
static long next_request_id = 1;

/* transports we can deliver with: those that have an agent program. */
static const char *const known_transports[] = {"local", "virtual", "smtp",
    "relay", "lmtp", NULL};

int
qmgr_transport_known(const char *name)
{
	for (int i = 0; known_transports[i]; i++)
		if (strcmp(name, known_transports[i]) == 0)
			return 1;
	return 0;
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

struct qmgr_transport *
qmgr_transport_find(const char *name)
{
	struct qmgr_transport *t;

	for (t = transports; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->socket_path = concatenate(var_queue_directory,
	    "/private/", name, (char *)0);
	t->max_conns = conf_limit(name, "destination_concurrency_limit", 20);
	if (t->max_conns < 1)
		t->max_conns = 1;
	/* At most this many agents overall per transport. */
	if (t->max_conns < 10)
		t->max_conns = 10;
	t->dest_limit = conf_limit(name, "destination_concurrency_limit", 20);
	if (t->dest_limit < 1)
		t->dest_limit = 1;
	t->rcpt_limit = conf_limit(name, "destination_recipient_limit", 50);
	if (t->rcpt_limit < 1)
		t->rcpt_limit = 1;
	t->dests = htable_create(64);
	t->next = transports;
	transports = t;
	return t;
}

static struct qmgr_dest *
dest_get(struct qmgr_transport *t, const char *key)
{
	struct qmgr_dest *d = htable_find(t->dests, key);

	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->key = xstrdup(key);
		htable_enter(t->dests, key, d);
	}
	return d;
}

/* dest_release - forget a destination with nothing queued or busy. */
static void
dest_release(struct qmgr_transport *t, struct qmgr_dest *d)
{
	if (d->busy > 0 || d->head != NULL || d->listed)
		return;
	htable_delete(t->dests, d->key, NULL);
	free(d->key);
	free(d);
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
				if (c->njobs == 0 && other_busy(c))
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
			    ds->action, ds->text, ds->relay);
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
	dr.dsn_envid = UNCONST(qfile_msg_attr(qf, "dsn_envid"));
	dr.dsn_ret = UNCONST(qfile_msg_attr(qf, "dsn_ret"));
	dr.redelivery = msg->redelivery;
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

			next = d->next_ready;
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
			if (d->busy < t->dest_limit) {
				/* Another agent for d: an idle connection or a
				 * new one. */
				for (c = t->conns; c; c = c->next)
					if (c->njobs == 0 && c->bev)
						break;
				if (c == NULL && t->nconns < t->max_conns
				    && (c = conn_new(t)) == NULL)
					return;
			}
			if (c == NULL) {
				/* Pipeline on the least loaded connection that
				 * already delivers to d or, while d is under its
				 * limit, on any. */
				struct qmgr_conn *o;
				int free_slot = d->busy < t->dest_limit;

				for (o = t->conns; o; o = o->next)
					if (o->bev && o->njobs < QMGR_PIPELINE_MAX
					    && (c == NULL || o->njobs < c->njobs)
					    && (free_slot || conn_carries(o, d)))
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

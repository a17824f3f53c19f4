/* SPDX-License-Identifier: MIT */
/* anvil_clnt - client of the anvil service (anvil_clnt.h).
 *
 * One connection; requests and answers in order.  Every request whose
 * answer is still to come has an entry in a FIFO: an asynchronous
 * connect (a callback), a disconnect (nothing to do with the answer).
 * With an event base, answers are read when they arrive and the
 * callbacks run from the loop; a synchronous request reads the answers
 * ahead of its own and leaves their callbacks to the loop (a callback
 * never runs inside another request).  The oldest entry must be answered
 * within the timeout; else, or when the connection breaks, every entry
 * fails (callbacks with ANVIL_STAT_FAIL).
 *
 * Logs (warnings only): "private/anvil: connect: REASON", "private/
 * anvil: read: REASON" for a request that failed, each followed by how
 * long the limits go unenforced; "private/anvil: request NAME refused"
 * for a status other than 0. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "anvil_clnt.h"
#include "attr.h"
#include "buf.h"
#include "mail_conf.h"
#include "mail_public.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"

/* A request whose answer is still to come, or an answer whose callback
 * is still to run. */
struct anvil_wait {
	anvil_clnt_cb cb;		/* NULL: disconnect */
	void *ctx;
	long sent_ms;			/* monotonic */
	int status, count, rate;
};

struct anvil_clnt {
	char *service;			/* "anvil" */
	int timeout_ms;
	int fd;				/* -1: not connected */
	struct buf *inbuf;		/* bytes read ahead of a list */
	time_t retry_at;		/* no attempt before this after a failure */
	struct anvil_wait *fifo;	/* answers to come, oldest first */
	int fifo_head, fifo_len, fifo_cap;
	struct anvil_wait *done;	/* callbacks to run from the loop */
	int done_len, done_cap;
	struct event_base *base;	/* NULL: synchronous only */
	struct event *read_ev;		/* answers arrived */
	struct event *timer_ev;		/* the oldest answer is late */
	struct event *done_ev;		/* run the callbacks */
};

/* At most this many answers wait: more requests first read them
 * (synchronously), so that neither side's buffers fill up. */
#define ANVIL_CLNT_MAX_WAIT	256

static long
anvil_clnt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* anvil_clnt_push - one more answer to wait for. */
static void
anvil_clnt_push(struct anvil_clnt *clnt, anvil_clnt_cb cb, void *ctx)
{
	struct anvil_wait *w;

	if (clnt->fifo_len == clnt->fifo_cap) {
		int cap = clnt->fifo_cap ? clnt->fifo_cap * 2 : 16;
		struct anvil_wait *n = xcalloc((size_t)cap, sizeof(*n));

		for (int i = 0; i < clnt->fifo_len; i++)
			n[i] = clnt->fifo[(clnt->fifo_head + i) % clnt->fifo_cap];
		free(clnt->fifo);
		clnt->fifo = n;
		clnt->fifo_cap = cap;
		clnt->fifo_head = 0;
	}
	w = &clnt->fifo[(clnt->fifo_head + clnt->fifo_len) % clnt->fifo_cap];
	memset(w, 0, sizeof(*w));
	w->cb = cb;
	w->ctx = ctx;
	w->sent_ms = anvil_clnt_now_ms();
	clnt->fifo_len++;
	if (clnt->timer_ev && !evtimer_pending(clnt->timer_ev, NULL)) {
		struct timeval tv = {clnt->timeout_ms / 1000,
		    (clnt->timeout_ms % 1000) * 1000};

		evtimer_add(clnt->timer_ev, &tv);
	}
}

/* anvil_clnt_pop - the oldest entry answered (or failed): its callback
 * goes to the loop. */
static void
anvil_clnt_pop(struct anvil_clnt *clnt, int status, int count, int rate)
{
	struct anvil_wait w = clnt->fifo[clnt->fifo_head];

	clnt->fifo_head = (clnt->fifo_head + 1) % clnt->fifo_cap;
	clnt->fifo_len--;
	if (w.cb == NULL)
		return;
	if (clnt->done_len == clnt->done_cap) {
		clnt->done_cap = clnt->done_cap ? clnt->done_cap * 2 : 16;
		clnt->done = xreallocarray(clnt->done, (size_t)clnt->done_cap,
		    sizeof(*clnt->done));
	}
	w.status = status;
	w.count = count;
	w.rate = rate;
	clnt->done[clnt->done_len++] = w;
	event_active(clnt->done_ev, 0, 0);
}

/* anvil_clnt_close - forget the connection (and what was read ahead);
 * every answer still to come fails. */
static void
anvil_clnt_close(struct anvil_clnt *clnt)
{
	if (clnt->read_ev) {
		event_free(clnt->read_ev);
		clnt->read_ev = NULL;
	}
	if (clnt->fd >= 0)
		(void)close(clnt->fd);
	clnt->fd = -1;
	buf_reset(clnt->inbuf);
	while (clnt->fifo_len > 0)
		anvil_clnt_pop(clnt, ANVIL_STAT_FAIL, 0, 0);
	if (clnt->timer_ev)
		evtimer_del(clnt->timer_ev);
}

void
anvil_clnt_free(struct anvil_clnt **clntp)
{
	struct anvil_clnt *clnt = *clntp;

	if (clnt == NULL)
		return;
	anvil_clnt_close(clnt);
	if (clnt->timer_ev)
		event_free(clnt->timer_ev);
	if (clnt->done_ev)
		event_free(clnt->done_ev);
	buf_free(&clnt->inbuf);
	free(clnt->fifo);
	free(clnt->done);
	free(clnt->service);
	free(clnt);
	*clntp = NULL;
}

/* anvil_clnt_fail - give up on anvil for a while, saying so once. */
static void
anvil_clnt_fail(struct anvil_clnt *clnt, const char *what, const char *why)
{
	anvil_clnt_close(clnt);
	clnt->retry_at = time(NULL) + ANVIL_CLNT_BACKOFF;
	msg_warn("private/%s: %s%s%s; connection and rate limits are not "
	    "enforced for %ds", clnt->service, what, *why ? ": " : "", why,
	    ANVIL_CLNT_BACKOFF);
}

/* anvil_clnt_answer - the numbers of an answer to the oldest entry. */
static void
anvil_clnt_answer(struct anvil_clnt *clnt, const struct attr_list *reply)
{
	anvil_clnt_pop(clnt, attr_get_long(reply, "status", -1) == 0
	    ? ANVIL_STAT_OK : ANVIL_STAT_FAIL,
	    (int)attr_get_long(reply, "count", 0),
	    (int)attr_get_long(reply, "rate", 0));
}

/* anvil_clnt_readable - answers arrived (or the connection broke). */
static void
anvil_clnt_readable(evutil_socket_t fd, short what, void *arg)
{
	struct anvil_clnt *clnt = arg;
	struct attr_list *reply;
	const char *err;
	ssize_t n;
	long used;

	if (buf_reserve(clnt->inbuf, 4096) < 0) {
		anvil_clnt_fail(clnt, "read", "answer too large");
		return;
	}
	n = read(clnt->fd, clnt->inbuf->data + clnt->inbuf->len, 4096);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* anvil went away: what it was asked is lost (it forgot our
		 * connections too); the next request connects again. */
		anvil_clnt_close(clnt);
		return;
	}
	clnt->inbuf->len += (size_t)n;
	clnt->inbuf->data[clnt->inbuf->len] = 0;
	reply = attr_list_new();
	while ((used = attr_parse(clnt->inbuf->data, clnt->inbuf->len, reply,
	    &err)) > 0) {
		if (clnt->fifo_len == 0) {
			err = "answer to no request";
			used = -1;
			break;
		}
		memmove(clnt->inbuf->data, clnt->inbuf->data + used,
		    clnt->inbuf->len - (size_t)used);
		buf_truncate(clnt->inbuf, clnt->inbuf->len - (size_t)used);
		anvil_clnt_answer(clnt, reply);
	}
	attr_list_free(&reply);
	if (used < 0)
		anvil_clnt_fail(clnt, "read", err);
}

/* anvil_clnt_late - the timer: has the oldest answer taken too long? */
static void
anvil_clnt_late(evutil_socket_t fd, short what, void *arg)
{
	struct anvil_clnt *clnt = arg;
	long age, left;
	struct timeval tv;

	if (clnt->fifo_len == 0)
		return;
	age = anvil_clnt_now_ms() - clnt->fifo[clnt->fifo_head].sent_ms;
	if (age >= clnt->timeout_ms) {
		anvil_clnt_fail(clnt, "read", "timeout reading attribute list");
		return;
	}
	left = clnt->timeout_ms - age;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(clnt->timer_ev, &tv);
}

/* anvil_clnt_run_done - run the callbacks of the answers in hand. */
static void
anvil_clnt_run_done(evutil_socket_t fd, short what, void *arg)
{
	struct anvil_clnt *clnt = arg;
	struct anvil_wait *list = clnt->done;
	int n = clnt->done_len;

	/* A callback may make requests that add to the list. */
	clnt->done = NULL;
	clnt->done_len = clnt->done_cap = 0;
	for (int i = 0; i < n; i++)
		list[i].cb(list[i].status, list[i].count, list[i].rate,
		    list[i].ctx);
	free(list);
}

struct anvil_clnt *
anvil_clnt_create(const char *service, int timeout_ms)
{
	struct anvil_clnt *clnt = xcalloc(1, sizeof(*clnt));

	clnt->service = xstrdup(service);
	clnt->timeout_ms = timeout_ms;
	clnt->fd = -1;
	clnt->inbuf = buf_new(256, ATTR_MAX_BYTES + 1);
	return clnt;
}

void
anvil_clnt_event_base(struct anvil_clnt *clnt, struct event_base *base)
{
	if (clnt->base != NULL)
		return;
	clnt->base = base;
	clnt->timer_ev = evtimer_new(base, anvil_clnt_late, clnt);
	clnt->done_ev = event_new(base, -1, 0, anvil_clnt_run_done, clnt);
	if (clnt->timer_ev == NULL || clnt->done_ev == NULL)
		msg_fatal("anvil client: cannot create events");
}

/* anvil_clnt_open - connect to private/SERVICE; 0 or -1 (errno). */
static int
anvil_clnt_open(struct anvil_clnt *clnt)
{
	int fd;

	/* Non-blocking: a full accept queue fails now instead of waiting. */
	if ((fd = mail_private_connect(clnt->service, SOCK_NONBLOCK)) < 0)
		return -1;
	clnt->fd = fd;
	buf_reset(clnt->inbuf);
	if (clnt->base) {
		clnt->read_ev = event_new(clnt->base, fd, EV_READ | EV_PERSIST,
		    anvil_clnt_readable, clnt);
		if (clnt->read_ev == NULL || event_add(clnt->read_ev, NULL) < 0)
			msg_fatal("anvil client: cannot watch fd %d", fd);
	}
	return 0;
}

/* anvil_clnt_catch_up - read the answers still to come (their callbacks
 * go to the loop).  0; -1 after anvil_clnt_fail; -2 when the connection
 * turned out broken (closed, without a back-off: the caller may try a
 * new one). */
static int
anvil_clnt_catch_up(struct anvil_clnt *clnt)
{
	struct attr_list *reply;
	const char *err = "";
	int rc = 1;

	if (clnt->fifo_len == 0)
		return 0;
	reply = attr_list_new();
	while (clnt->fifo_len > 0 && (rc = attr_read(clnt->fd, clnt->inbuf,
	    reply, clnt->timeout_ms, &err)) == 1)
		anvil_clnt_answer(clnt, reply);
	attr_list_free(&reply);
	if (rc == 1)
		return 0;
	if (rc == 0 || errno == EPIPE || errno == ECONNRESET) {
		anvil_clnt_close(clnt);
		return -2;
	}
	anvil_clnt_fail(clnt, "read", err);
	return -1;
}

/* anvil_clnt_send - write req on a connection (opened as needed); 0, or
 * -1 after anvil_clnt_fail.  A connection that broke since it was last
 * used (anvil was restarted) is opened again once. */
static int
anvil_clnt_send(struct anvil_clnt *clnt, const struct attr_list *req)
{
	int fresh;

	if (clnt->fd < 0 && time(NULL) < clnt->retry_at)
		return -1;
	/* -2: broken, and closed: the loop below opens a new one. */
	if (clnt->fifo_len >= ANVIL_CLNT_MAX_WAIT
	    && anvil_clnt_catch_up(clnt) == -1)
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		fresh = clnt->fd < 0;
		if (fresh && anvil_clnt_open(clnt) < 0) {
			anvil_clnt_fail(clnt, "connect", strerror(errno));
			return -1;
		}
		if (attr_write(clnt->fd, req) == 0)
			return 0;
		if (fresh) {
			anvil_clnt_fail(clnt, "write", strerror(errno));
			return -1;
		}
		anvil_clnt_close(clnt);		/* anvil went away: once more */
	}
	return -1;
}

/* anvil_clnt_request - send req, read the answer into reply; 0 when the
 * answer has status=0, -1 otherwise. */
static int
anvil_clnt_request(struct anvil_clnt *clnt, const struct attr_list *req,
    struct attr_list *reply)
{
	const char *err;
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		int fresh = clnt->fd < 0;

		if (anvil_clnt_send(clnt, req) < 0)
			return ANVIL_STAT_FAIL;
		if ((rc = anvil_clnt_catch_up(clnt)) == -2 && !fresh)
			continue;	/* broken before this request: once more */
		if (rc == -2)
			anvil_clnt_fail(clnt, "read", "connection closed by anvil");
		if (rc < 0)
			return ANVIL_STAT_FAIL;
		rc = attr_read(clnt->fd, clnt->inbuf, reply, clnt->timeout_ms,
		    &err);
		if (rc == 1)
			break;
		if ((rc == 0 || errno == EPIPE || errno == ECONNRESET) && !fresh) {
			/* The connection had broken before this request: anvil
			 * was restarted.  Once more on a new one. */
			anvil_clnt_close(clnt);
			continue;
		}
		anvil_clnt_fail(clnt, "read", rc == 0
		    ? "connection closed by anvil" : err);
		return ANVIL_STAT_FAIL;
	}
	if (clnt->fd < 0)
		return ANVIL_STAT_FAIL;
	if (attr_get_long(reply, "status", -1) != 0) {
		msg_warn("private/%s: request %s refused", clnt->service,
		    attr_get(req, "request"));
		return ANVIL_STAT_FAIL;
	}
	return ANVIL_STAT_OK;
}

/* In a task: the answer arrives through the loop, the task waits. */
struct anvil_task_wait {
	struct task_wait w;
	int status, count, rate;
};

static void
anvil_clnt_task_cb(int status, int count, int rate, void *ctx)
{
	struct anvil_task_wait *tw = ctx;

	tw->status = status;
	tw->count = count;
	tw->rate = rate;
	task_wake(&tw->w);
}

/* anvil_clnt_ask_task - anvil_clnt_ask inside a task with an event base:
 * the request is sent and the task waits for its answer (the loop serves
 * the other clients meanwhile; the timer fails it after the timeout). */
static int
anvil_clnt_ask_task(struct anvil_clnt *clnt, const struct attr_list *req,
    const char *const *names, int **values)
{
	struct anvil_task_wait tw;

	memset(&tw, 0, sizeof(tw));
	task_wait_init(&tw.w);
	if (anvil_clnt_send(clnt, req) < 0)
		return ANVIL_STAT_FAIL;
	anvil_clnt_push(clnt, anvil_clnt_task_cb, &tw);
	task_wait(&tw.w);
	if (tw.status != ANVIL_STAT_OK) {
		if (clnt->fd >= 0)
			msg_warn("private/%s: request %s refused", clnt->service,
			    attr_get(req, "request"));
		return ANVIL_STAT_FAIL;
	}
	for (int i = 0; names && names[i]; i++)
		*values[i] = strcmp(names[i], "count") == 0 ? tw.count : tw.rate;
	return ANVIL_STAT_OK;
}

/* anvil_clnt_ask - one request about service:addr; the answer's numbers
 * named in names ("count", "rate") go to the matching values. */
static int
anvil_clnt_ask(struct anvil_clnt *clnt, const char *request,
    const char *service, const char *addr, const char *const *names,
    int **values)
{
	struct attr_list *req = attr_list_new();
	struct attr_list *reply;
	int rc;

	attr_add(req, "request", request);
	attr_addf(req, "ident", "%s:%s", service, addr);
	if (clnt->base != NULL && task_current() != NULL) {
		rc = anvil_clnt_ask_task(clnt, req, names, values);
		attr_list_free(&req);
		return rc;
	}
	reply = attr_list_new();
	rc = anvil_clnt_request(clnt, req, reply);
	if (rc == ANVIL_STAT_OK)
		for (int i = 0; names && names[i]; i++)
			*values[i] = (int)attr_get_long(reply, names[i], 0);
	attr_list_free(&req);
	attr_list_free(&reply);
	return rc;
}

int
anvil_clnt_connect(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *count_r, int *rate_r)
{
	static const char *const names[] = {"count", "rate", NULL};
	int *values[] = {count_r, rate_r};

	return anvil_clnt_ask(clnt, "connect", service, addr, names, values);
}

int
anvil_clnt_disconnect(struct anvil_clnt *clnt, const char *service,
    const char *addr)
{
	struct attr_list *req;
	int rc = ANVIL_STAT_OK;

	/* Without a connection there is nothing to take back: the anvil
	 * that counted this connection forgot it when we lost it. */
	if (clnt->fd < 0)
		return ANVIL_STAT_OK;
	req = attr_list_new();
	attr_add(req, "request", "disconnect");
	attr_addf(req, "ident", "%s:%s", service, addr);
	if (clnt->fifo_len >= ANVIL_CLNT_MAX_WAIT
	    && anvil_clnt_catch_up(clnt) < 0)
		rc = ANVIL_STAT_FAIL;	/* and closed: nothing to take back */
	else if (attr_write(clnt->fd, req) < 0)
		anvil_clnt_close(clnt);	/* the next request reconnects */
	else
		anvil_clnt_push(clnt, NULL, NULL);
	attr_list_free(&req);
	return rc;
}

/* anvil_clnt_ask_async - send a request about service:addr; cb gets the
 * answer on the loop (or nothing is sent: ANVIL_STAT_FAIL; with cb
 * NULL the answer is read and dropped). */
static int
anvil_clnt_ask_async(struct anvil_clnt *clnt, const char *request,
    const char *service, const char *addr, anvil_clnt_cb cb, void *ctx)
{
	struct attr_list *req;
	int rc = ANVIL_STAT_OK;

	if (cb != NULL && clnt->base == NULL)
		msg_panic("anvil_clnt_ask_async: no event base");
	req = attr_list_new();
	attr_add(req, "request", request);
	attr_addf(req, "ident", "%s:%s", service, addr);
	if (anvil_clnt_send(clnt, req) < 0)
		rc = ANVIL_STAT_FAIL;
	else
		anvil_clnt_push(clnt, cb, ctx);
	attr_list_free(&req);
	return rc;
}

int
anvil_clnt_connect_async(struct anvil_clnt *clnt, const char *service,
    const char *addr, anvil_clnt_cb cb, void *ctx)
{
	return anvil_clnt_ask_async(clnt, "connect", service, addr, cb, ctx);
}

int
anvil_clnt_newtls_stat_async(struct anvil_clnt *clnt, const char *service,
    const char *addr, anvil_clnt_cb cb, void *ctx)
{
	return anvil_clnt_ask_async(clnt, "newtls_report", service, addr, cb,
	    ctx);
}

int
anvil_clnt_newtls_tell(struct anvil_clnt *clnt, const char *service,
    const char *addr)
{
	return anvil_clnt_ask_async(clnt, "newtls", service, addr, NULL, NULL);
}

/* anvil_clnt_rate - a request answered with a rate. */
static int
anvil_clnt_rate(struct anvil_clnt *clnt, const char *request,
    const char *service, const char *addr, int *rate_r)
{
	static const char *const names[] = {"rate", NULL};
	int *values[] = {rate_r};

	return anvil_clnt_ask(clnt, request, service, addr, names, values);
}

int
anvil_clnt_mail(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r)
{
	return anvil_clnt_rate(clnt, "message", service, addr, rate_r);
}

int
anvil_clnt_rcpt(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r)
{
	return anvil_clnt_rate(clnt, "recipient", service, addr, rate_r);
}

int
anvil_clnt_newtls(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r)
{
	return anvil_clnt_rate(clnt, "newtls", service, addr, rate_r);
}

int
anvil_clnt_newtls_stat(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r)
{
	return anvil_clnt_rate(clnt, "newtls_report", service, addr, rate_r);
}

int
anvil_clnt_auth(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r)
{
	return anvil_clnt_rate(clnt, "auth", service, addr, rate_r);
}

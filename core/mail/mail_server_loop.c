/* SPDX-License-Identifier: MIT */
/* mail_server_loop - the one daemon skeleton (mail_server.h, "THE
 * SKELETON"): a libevent loop that accepts clients on the listening
 * sockets from the master, reads trigger bytes for trigger services,
 * runs the wakeup timer, turns the master's notices (self-pipe, status
 * channel) into drain/stop callbacks, reports busy/available, and
 * decides when the process exits (drained, stopped, max_idle, max_use).
 *
 * Invariants: "clients" counts the connections handed to ops->accept
 * and not yet given back with mail_server_disconnect(), plus the open
 * trigger connections; the listening events are enabled exactly when
 * the process is running (no drain/stop/exit), has room (capacity) and
 * is not waiting for descriptors.  Exit is decided only where the
 * client count drops to zero, on the idle timer, on the stop grace
 * timer, or on a notice; it breaks the loop at once (no further
 * callback of this iteration runs), and mail_server_run() returns.
 *
 * Logs: "accept: REASON" (warnings; running out of descriptors at most
 * once a minute), and with -v the reason for exiting. */
#include "postino_config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map_proxy.h"
#include "msg.h"
#include "mymalloc.h"
#include "task.h"

/* core/dns, when linked into the program: a weak reference pulls
 * nothing in, and is NULL when nothing else did. */
extern int dns_init(struct event_base *base) __attribute__((weak));

#define SERVER_RETRY_SECS	1	/* after running out of descriptors */
#define SERVER_WARN_GAP		60	/* seconds between such warnings */
#define SERVER_ACCEPT_BATCH	64	/* accepts per readable event */

/* One trigger connection (trigger services). */
struct server_trigger {
	int fd;
	size_t got;
	struct event *ev;
	struct server_trigger *next;
};

static const struct mail_server_ops *server_ops;
static struct event_base *server_base;
static struct event *listen_ev[MAIL_SERVER_MAX_LISTEN];
static char listen_fifo[MAIL_SERVER_MAX_LISTEN];	/* fifo service */
static int listen_ev_count;
static int listen_on;		/* listening events added */
static struct event *notify_ev, *status_ev;
static struct event *idle_ev, *wakeup_ev, *retry_ev, *grace_ev;
static struct server_trigger *triggers;
static int server_clients;
static long server_uses;
static long limit_idle = -1, limit_use = -1;	/* mail_server_limits() */
static long max_idle, max_use;
static enum mail_server_event server_state = MAIL_SERVER_NONE;
static int server_exiting;
static int fd_short;		/* waiting for descriptors */
static int said_busy;
static time_t fd_warned;

/* The loop is running in this thread of this process (task.h's probe:
 * a forked child or a worker thread is not the loop). */
static int loop_running;
static pid_t loop_pid;
static pthread_t loop_thread;

static int
server_in_loop(void)
{
	return loop_running && getpid() == loop_pid
	    && pthread_equal(pthread_self(), loop_thread);
}

struct event_base *
mail_server_base(void)
{
	if (server_base == NULL) {
		if ((server_base = event_base_new()) == NULL)
			msg_fatal("event_base_new failed");
		/* Before privileges are dropped: resolv.conf is read now. */
		if (dns_init != NULL && dns_init(server_base) < 0)
			msg_warn("DNS lookups will fail temporarily");
		/* Lookups in the lookup service wait on this loop in tasks. */
		map_proxy_event_base(server_base);
	}
	return server_base;
}

/* server_exit - leave the loop now; mail_server_run() returns. */
static void
server_exit(const char *why)
{
	if (server_exiting)
		return;
	server_exiting = 1;
	if (msg_verbose)
		msg_info("exiting: %s", why);
	for (int i = 0; i < listen_ev_count; i++)
		event_del(listen_ev[i]);
	listen_on = 0;
	event_base_loopbreak(server_base);
}

/* server_listen_update - listen exactly when running with room; tell the
 * master when that changes for want of room. */
static void
server_listen_update(void)
{
	/* Used up (max_use): take no more clients and say busy, so that the
	 * master starts the successor now, while this process finishes the
	 * clients it has; new connections never wait for its exit. */
	int full = (server_ops->capacity > 0
		&& server_clients >= server_ops->capacity)
	    || (max_use > 0 && server_uses >= max_use);
	int want = !server_exiting && server_state == MAIL_SERVER_NONE
	    && !full && !fd_short;

	if (want != listen_on) {
		for (int i = 0; i < listen_ev_count; i++) {
			if (want)
				event_add(listen_ev[i], NULL);
			else
				event_del(listen_ev[i]);
		}
		listen_on = want;
	}
	if (server_state != MAIL_SERVER_NONE || server_exiting)
		return;
	if ((full || fd_short) != said_busy) {
		said_busy = full || fd_short;
		mail_server_busy(said_busy);
	}
}

/* server_idle_update - the idle timer runs while no client is in flight. */
static void
server_idle_update(void)
{
	struct timeval tv;

	if (idle_ev == NULL)
		return;
	if (server_clients > 0 || server_state != MAIL_SERVER_NONE) {
		event_del(idle_ev);
		return;
	}
	tv.tv_sec = max_idle;
	tv.tv_usec = 0;
	event_add(idle_ev, &tv);
}

/* server_none_left - the last client in flight is gone: exit if we are
 * draining, stopping, or used up; else start the idle time. */
static void
server_none_left(void)
{
	if (server_state == MAIL_SERVER_DRAIN)
		server_exit("drained");
	else if (server_state == MAIL_SERVER_STOP)
		server_exit("stopped");
	else if (max_use > 0 && server_uses >= max_use)
		server_exit("max_use reached");
	else
		server_idle_update();
}

void
mail_server_disconnect(void)
{
	if (server_clients <= 0)
		msg_panic("mail_server_disconnect: no client in flight");
	server_clients--;
	if (server_clients == 0)
		server_none_left();
	server_listen_update();
}

void
mail_server_hold(void)
{
	server_clients++;
	if (server_ops != NULL) {
		server_idle_update();
		server_listen_update();
	}
}

void
mail_server_release(void)
{
	mail_server_disconnect();
}

int
mail_server_clients(void)
{
	return server_clients;
}

/* trigger_free - close one trigger connection (no exit decision). */
static void
trigger_free(struct server_trigger *t)
{
	struct server_trigger **pp;

	for (pp = &triggers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	event_free(t->ev);
	close(t->fd);
	free(t);
	server_clients--;
}

/* trigger_read - a trigger client's bytes, until EOF or the limits. */
static void
trigger_read(evutil_socket_t fd, short what, void *arg)
{
	struct server_trigger *t = arg;
	char buf[256];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		n = -1;
		errno = ETIMEDOUT;
	} else if ((n = read(fd, buf, sizeof(buf))) < 0
	    && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n > 0) {
		t->got += (size_t)n;
		if (server_ops->trigger != NULL && server_state == MAIL_SERVER_NONE)
			server_ops->trigger(buf, (size_t)n);
		if (t->got < MAIL_SERVER_TRIGGER_MAX)
			return;
	}
	trigger_free(t);
	if (server_clients == 0)
		server_none_left();
	server_listen_update();
}

/* trigger_new - a trigger client: read it from the loop. */
static void
trigger_new(int fd)
{
	struct server_trigger *t = xcalloc(1, sizeof(*t));
	struct timeval tv = {MAIL_SERVER_TRIGGER_TIMEOUT, 0};

	t->fd = fd;
	t->ev = event_new(server_base, fd, EV_READ | EV_PERSIST, trigger_read, t);
	if (t->ev == NULL)
		msg_fatal("event_new failed");
	event_add(t->ev, &tv);
	t->next = triggers;
	triggers = t;
}

/* retry_cb - descriptors may be available again. */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	fd_short = 0;
	server_listen_update();
}

/* accept_failed - an accept() error other than "nothing left". */
static void
accept_failed(int err)
{
	struct timeval tv = {SERVER_RETRY_SECS, 0};
	time_t now;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		msg_warn("accept: %s", strerror(err));
		return;
	}
	now = time(NULL);
	if (fd_warned == 0 || now - fd_warned >= SERVER_WARN_GAP) {
		msg_warn("accept: %s: stop accepting new connections for %d s "
		    "(%d clients in flight; raise the open files limit, "
		    "LimitNOFILE in the systemd unit, or maxproc)", strerror(err),
		    SERVER_RETRY_SECS, server_clients);
		fd_warned = now;
	}
	fd_short = 1;
	evtimer_add(retry_ev, &tv);
	server_listen_update();
}

/* fifo_read - a fifo service (master.cf type fifo): the trigger bytes
 * arrive on the listening descriptor itself, one use per read. */
static void
fifo_read(int lfd)
{
	char buf[256];
	ssize_t n;

	if ((n = read(lfd, buf, sizeof(buf))) <= 0)
		return;
	server_uses++;
	if (server_ops->trigger != NULL)
		server_ops->trigger(buf, (size_t)n);
	else
		msg_warn("fifo: %ld bytes for a service that takes no triggers",
		    (long)n);
	if (server_clients == 0 && !server_exiting
	    && server_state == MAIL_SERVER_NONE)
		server_none_left();
}

/* listen_cb - a listening socket is readable: take its clients. */
static void
listen_cb(evutil_socket_t lfd, short what, void *arg)
{
	int index = (int)(intptr_t)arg;

	if (listen_fifo[index]) {
		fifo_read(lfd);
		return;
	}

	for (int i = 0; i < SERVER_ACCEPT_BATCH && listen_on; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd;

		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				accept_failed(errno);
			return;
		}
		server_clients++;
		server_uses++;
		server_idle_update();
		if (server_ops->accept != NULL)
			server_ops->accept(fd, (struct sockaddr *)&ss, (int)sslen,
			    index);
		else
			trigger_new(fd);
		server_listen_update();
	}
}

/* server_close_listen - drain or stop: the listeners go at once. */
static void
server_close_listen(void)
{
	for (int i = 0; i < listen_ev_count; i++)
		event_free(listen_ev[i]);
	listen_ev_count = 0;
	listen_on = 0;
	mail_server_close_listeners();
	while (triggers != NULL)
		trigger_free(triggers);
	if (wakeup_ev != NULL)
		event_del(wakeup_ev);
	if (idle_ev != NULL)
		event_del(idle_ev);
	if (retry_ev != NULL)
		event_del(retry_ev);
}

/* grace_cb - the stop grace time is over. */
static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	server_exit("stopped with clients in flight");
}

/* server_notice - take in the master's notices; run drain or stop. */
static void
server_notice(void)
{
	enum mail_server_event ev = mail_server_event();
	struct timeval tv = {MAIL_SERVER_STOP_GRACE, 0};

	if (ev == server_state || server_exiting)
		return;
	if (ev == MAIL_SERVER_DRAIN && server_state == MAIL_SERVER_NONE) {
		server_state = MAIL_SERVER_DRAIN;
		server_close_listen();
		if (server_ops->drain != NULL)
			server_ops->drain();
		if (server_clients == 0)
			server_exit("drained");
	} else if (ev == MAIL_SERVER_STOP) {
		server_state = MAIL_SERVER_STOP;
		server_close_listen();
		if (server_ops->stop != NULL)
			server_ops->stop();
		if (server_clients == 0) {
			server_exit("stopped");
		} else if ((grace_ev = evtimer_new(server_base, grace_cb,
		    NULL)) != NULL) {
			evtimer_add(grace_ev, &tv);
		} else {
			server_exit("stopped");
		}
	}
}

static void
notice_cb(evutil_socket_t fd, short what, void *arg)
{
	server_notice();
}

enum mail_server_event
mail_server_check(void)
{
	if (server_ops == NULL)
		return mail_server_event();
	server_notice();
	return server_state;
}

static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	if (server_clients == 0)
		server_exit("max_idle reached");
}

static void
wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
	if (server_state == MAIL_SERVER_NONE && !server_exiting)
		server_ops->wakeup();
}

void
mail_server_limits(long idle, long use)
{
	limit_idle = idle;
	limit_use = use;
}

/* server_watch - a persistent read event on fd, or NULL for fd < 0. */
static struct event *
server_watch(int fd, event_callback_fn cb)
{
	struct event *ev;

	if (fd < 0)
		return NULL;
	if ((ev = event_new(server_base, fd, EV_READ | EV_PERSIST, cb, NULL))
	    == NULL || event_add(ev, NULL) < 0)
		msg_fatal("cannot watch fd %d", fd);
	return ev;
}

int
mail_server_run(const struct mail_server_ops *ops)
{
	int under_master = mail_server_status_fd() >= 0;

	if (server_ops != NULL)
		msg_panic("mail_server_run: called twice");
	if ((ops->accept == NULL) == (ops->trigger == NULL))
		msg_panic("mail_server_run: give accept or trigger, not both");
	server_ops = ops;
	(void)mail_server_base();
	mail_server_ready();

	/* Postfix semantics, under the master only (it starts a fresh
	 * process); long-lived services keep their state. */
	max_idle = max_use = 0;
	if (under_master && !(ops->flags & MAIL_SERVER_LONG_LIVED)) {
		max_idle = var_max_idle;
		max_use = var_max_use;
	}
	if (limit_idle >= 0)
		max_idle = limit_idle;
	if (limit_use >= 0)
		max_use = limit_use;
	if (max_idle < 0)
		max_idle = 0;
	if (max_use < 0)
		max_use = 0;

	listen_ev_count = mail_server_listen_count();
	for (int i = 0; i < listen_ev_count; i++) {
		struct stat st;

		listen_fifo[i] = fstat(mail_server_listen_fd(i), &st) == 0
		    && S_ISFIFO(st.st_mode);
		listen_ev[i] = event_new(server_base, mail_server_listen_fd(i),
		    EV_READ | EV_PERSIST, listen_cb, (void *)(intptr_t)i);
		if (listen_ev[i] == NULL)
			msg_fatal("event_new failed");
	}
	notify_ev = server_watch(mail_server_notify_fd(), notice_cb);
	status_ev = server_watch(mail_server_status_fd(), notice_cb);
	if ((retry_ev = evtimer_new(server_base, retry_cb, NULL)) == NULL)
		msg_fatal("evtimer_new failed");
	if (max_idle > 0
	    && (idle_ev = evtimer_new(server_base, idle_cb, NULL)) == NULL)
		msg_fatal("evtimer_new failed");
	if (ops->wakeup != NULL && ops->wakeup_interval > 0) {
		struct timeval tv = {ops->wakeup_interval, 0};

		if ((wakeup_ev = event_new(server_base, -1, EV_PERSIST, wakeup_cb,
		    NULL)) == NULL || event_add(wakeup_ev, &tv) < 0)
			msg_fatal("cannot add the wakeup timer");
	}
	/* A notice that came during the set-up. */
	server_notice();
	if (!server_exiting) {
		server_listen_update();
		server_idle_update();
		if (!server_exiting) {
			loop_pid = getpid();
			loop_thread = pthread_self();
			loop_running = 1;
			task_loop_probe(server_in_loop);
			event_base_dispatch(server_base);
			loop_running = 0;
		}
	}
	if (ops->pre_exit != NULL)
		ops->pre_exit();
	return 0;
}

int
mail_server_attr_serve(struct bufferevent *bev, size_t max_request,
    mail_server_attr_fn *answer, void *ctx, const char **err_r)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct attr_list *req = attr_list_new();
	struct attr_list *reply = attr_list_new();
	struct buf *out = buf_new(128, BUF_NOLIMIT);
	int rc = 0;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		long n;

		if (len == 0)
			break;
		if (len > max_request + 1)
			len = max_request + 1;
		n = attr_parse((const char *)evbuffer_pullup(in, (ssize_t)len),
		    len, req, err_r);
		if (n == 0 && len > max_request) {
			n = -1;
			*err_r = "request too large";
		}
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		evbuffer_drain(in, (size_t)n);
		attr_list_reset(reply);
		answer(ctx, req, reply);
		attr_format(reply, out);
	}
	/* What was answered before a bad request still goes out. */
	if (buf_len(out) > 0)
		bufferevent_write(bev, buf_str(out), buf_len(out));
	attr_list_free(&req);
	attr_list_free(&reply);
	buf_free(&out);
	return rc;
}

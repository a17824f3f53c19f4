/* SPDX-License-Identifier: MIT */
/* proxymap - the lookup service: tables that can block (ldap:, mysql:,
 * any network table) answered for every daemon of the instance, as
 * Postfix's proxymap(8).
 *
 * master.cf:	proxymap  unix  -  -  n  -  -  proxymap
 *
 * Clients (core/mail/map_proxy.c: the proxy: table type, and ldap:/mysql:
 * tables opened by a daemon) send attribute lists on
 * $queue_directory/private/proxymap, one request at a time per
 * connection, each answered in order:
 *
 *	request=open table=T flags=N		status=S caps=N [reason=R]
 *	request=lookup table=T flags=N key=K	status=S [value=V] [reason=R]
 *
 * (S: PROXY_STAT_* of map_proxy.h).  A table that proxy_read_maps does not
 * list (with or without a "proxy:" prefix) is refused with PROXY_STAT_DENY
 * and the warning "request for unapproved table: "T"", as Postfix does.
 *
 * Processes.  This process (the dispatcher) runs one libevent loop: it
 * accepts clients, parses requests, answers from the result cache, and
 * hands the other lookups to worker processes it forks (at most
 * postino_proxymap_workers).  A worker owns its table handles and does
 * one blocking lookup at a time (proxymap_worker.c).  So the dispatcher
 * never waits for a directory: while one directory is stopped, the
 * workers stuck on it hold only that table's requests, and one table may
 * occupy at most three quarters of the workers, so that the others keep
 * answering for the other tables.  Postfix's proxymap instead does one
 * lookup at a time per process and relies on more processes; here one
 * dispatcher keeps the one cache every daemon shares, and the master
 * never needs to start a second one (it would have a cache of its own).
 *
 * Cache (postino_lookup_cache_ttl, _negative_ttl, _size; off by
 * default): definite answers of tables with MAP_CAP_BLOCKING, per table
 * and flags; temporary errors are never kept.  Every five minutes (when
 * there were lookups) and at exit it logs, per table:
 *	statistics: table ldap:/etc/postino/users.cf: cache hits=N misses=N entries=N
 *
 * A worker that dies (killed, crashed) fails its request with a
 * temporary error and is replaced at the next need.
 *
 * The dispatcher runs on the daemon skeleton (mail_server.h) as a
 * long-lived service: max_idle and max_use do not apply, since they
 * would throw the shared cache away.  Reload / master gone: stop
 * accepting, close idle client connections (their next request
 * reconnects to the new generation), answer the requests in flight,
 * then exit.  Stop: drop the clients and exit at once. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "htable.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map.h"
#include "map_driver.h"
#include "map_loader.h"
#include "map_proxy.h"
#include "msg.h"
#include "mymalloc.h"
#include "proxymap.h"
#include "proxymap_cache.h"
#include "stringops.h"

#define PM_MAX_REQUEST	(64 * 1024)	/* bytes of one request list */
#define PM_STATS_INTERVAL 300		/* seconds between statistics */

struct pm_table {
	char *name;			/* "ldap:/etc/postino/users.cf" */
	int caps;			/* the driver's MAP_CAP_* */
	int inflight;			/* requests at workers */
	struct pm_cache *cache;		/* NULL: not cached */
	unsigned long logged;		/* hits+misses at the last log */
};

struct pm_client;

struct pm_req {
	struct pm_client *client;	/* NULL: the client went away */
	struct pm_table *table;
	int flags;
	char *key;
	struct pm_req *next;		/* queue */
};

struct pm_client {
	struct bufferevent *bev;
	struct pm_req *req;		/* the request being answered */
	struct pm_client *prev, *next;
};

struct pm_worker {
	pid_t pid;
	struct bufferevent *bev;
	struct pm_req *req;		/* NULL: idle */
	struct pm_worker *next;
};

static struct event_base *pm_base;
static int pm_draining;
static struct pm_client *pm_clients;
static struct pm_worker *pm_workers;
static int pm_worker_count;
static int pm_worker_max;
static int pm_table_max;		/* workers one table may occupy */
static struct pm_req *pm_queue, **pm_queue_tail = &pm_queue;
static struct htable *pm_tables;	/* "flags:table" -> pm_table */
static long pm_ttl, pm_neg_ttl, pm_cache_size;

static double
pm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pm_stats(int force)
{
	struct htable_entry **list = htable_list(pm_tables);

	for (struct htable_entry **ep = list; *ep; ep++) {
		struct pm_table *t = (*ep)->value;
		unsigned long hits, misses;
		long entries;

		if (t->cache == NULL)
			continue;
		pm_cache_stats(t->cache, &hits, &misses, &entries);
		if (!force && hits + misses == t->logged)
			continue;
		t->logged = hits + misses;
		msg_info("statistics: table %s: cache hits=%lu misses=%lu "
		    "entries=%ld", t->name, hits, misses, entries);
	}
	free(list);
}

static void
pm_stats_timer(evutil_socket_t fd, short what, void *arg)
{
	pm_stats(0);
}

/* pm_table_get - the table record of name and flags (created). */
static struct pm_table *
pm_table_get(const char *name, int flags, int caps)
{
	struct buf *key = buf_new(128, BUF_NOLIMIT);
	struct pm_table *t;

	buf_printf(key, "%d:%s", flags, name);
	if ((t = htable_find(pm_tables, buf_str(key))) == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->name = xstrdup(name);
		t->caps = caps;
		if (pm_ttl > 0 && (caps & MAP_CAP_BLOCKING))
			t->cache = pm_cache_new(pm_cache_size);
		htable_enter(pm_tables, buf_str(key), t);
	}
	buf_free(&key);
	return t;
}

static void pm_client_free(struct pm_client *c);
static void pm_client_process(struct pm_client *c);
static void pm_dispatch(void);

/* pm_answer - send a reply list to the client; the client may take its
 * next request. */
static void
pm_answer(struct pm_client *c, const struct attr_list *reply)
{
	struct buf *out = buf_new(256, BUF_NOLIMIT);

	attr_format(reply, out);
	if (bufferevent_write(c->bev, buf_str(out), buf_len(out)) < 0)
		msg_warn("cannot queue an answer");
	buf_free(&out);
}

static void
pm_answer_status(struct pm_client *c, int status, const char *reason)
{
	struct attr_list *reply = attr_list_new();

	attr_addf(reply, "status", "%d", status);
	if (reason)
		attr_add(reply, "reason", reason);
	pm_answer(c, reply);
	attr_list_free(&reply);
}

static void
pm_answer_lookup(struct pm_client *c, enum map_status st, const char *value,
    const char *reason)
{
	struct attr_list *reply = attr_list_new();

	switch (st) {
	case MAP_FOUND:
		attr_addf(reply, "status", "%d", PROXY_STAT_OK);
		attr_add(reply, "value", value);
		break;
	case MAP_NOTFOUND:
		attr_addf(reply, "status", "%d", PROXY_STAT_NOKEY);
		break;
	case MAP_TEMPFAIL:
		attr_addf(reply, "status", "%d", PROXY_STAT_RETRY);
		attr_add(reply, "reason", reason ? reason : "lookup error");
		break;
	}
	pm_answer(c, reply);
	attr_list_free(&reply);
}

/* pm_check_table - approved and known: the driver caps, or -1 after an
 * answer was sent. */
static int
pm_check_table(struct pm_client *c, const char *table)
{
	char *type = NULL, *name = NULL, *err = NULL;
	const struct map_driver *drv;
	int caps;

	if (table == NULL || *table == 0) {
		pm_answer_status(c, PROXY_STAT_BAD, "request without a table");
		return -1;
	}
	if (!map_proxy_approved(table)) {
		msg_warn("%s: \"%s\"", PROXY_UNAPPROVED, table);
		pm_answer_status(c, PROXY_STAT_DENY, PROXY_UNAPPROVED);
		return -1;
	}
	if (map_split_type(table, NULL, &type, &name) < 0
	    || strcmp(type, "proxy") == 0) {
		pm_answer_status(c, PROXY_STAT_BAD, "bad table name");
		free(type);
		free(name);
		return -1;
	}
	if ((drv = map_loader_find(type, &err)) == NULL) {
		pm_answer_status(c, PROXY_STAT_CONFIG, err ? err : "unknown table type");
		free(err);
		free(type);
		free(name);
		return -1;
	}
	caps = drv->caps;
	free(type);
	free(name);
	return caps;
}

/* pm_request - handle one request; 1 when it went to a worker (the
 * client waits), 0 when it was answered. */
static int
pm_request(struct pm_client *c, const struct attr_list *req)
{
	const char *what = attr_get(req, "request");
	const char *table = attr_get(req, "table");
	const char *key = attr_get(req, "key");
	int flags = (int)attr_get_long(req, "flags", 0);
	struct pm_table *t;
	struct pm_req *r;
	enum map_status st;
	const char *value;
	int caps;

	if (what == NULL) {
		pm_answer_status(c, PROXY_STAT_BAD, "request without a name");
		return 0;
	}
	if (strcmp(what, "open") == 0) {
		struct attr_list *reply;

		if ((caps = pm_check_table(c, table)) < 0)
			return 0;
		reply = attr_list_new();
		attr_addf(reply, "status", "%d", PROXY_STAT_OK);
		attr_addf(reply, "caps", "%d", caps);
		pm_answer(c, reply);
		attr_list_free(&reply);
		return 0;
	}
	if (strcmp(what, "lookup") != 0) {
		pm_answer_status(c, PROXY_STAT_BAD, "unknown request");
		return 0;
	}
	if (key == NULL) {
		pm_answer_status(c, PROXY_STAT_BAD, "lookup without a key");
		return 0;
	}
	if ((caps = pm_check_table(c, table)) < 0)
		return 0;
	t = pm_table_get(table, flags, caps);
	if (t->cache && pm_cache_get(t->cache, key, pm_now(), &st, &value)) {
		pm_answer_lookup(c, st, value, NULL);
		return 0;
	}
	r = xcalloc(1, sizeof(*r));
	r->client = c;
	r->table = t;
	r->flags = flags;
	r->key = xstrdup(key);
	c->req = r;
	*pm_queue_tail = r;
	pm_queue_tail = &r->next;
	pm_dispatch();
	return 1;
}

static void
pm_req_free(struct pm_req *r)
{
	free(r->key);
	free(r);
}

/* pm_client_process - handle the requests waiting in the client's input
 * while none is in progress. */
static void
pm_client_process(struct pm_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct attr_list *req = attr_list_new();

	while (c->req == NULL) {
		size_t len = evbuffer_get_length(in);
		const char *err;
		long n;

		if (len == 0)
			break;
		n = attr_parse((const char *)evbuffer_pullup(in, -1), len, req,
		    &err);
		if (n == 0 && len > PM_MAX_REQUEST) {
			n = -1;
			err = "request too large";
		}
		if (n < 0) {
			msg_warn("malformed request from a client: %s", err);
			attr_list_free(&req);
			pm_client_free(c);
			return;
		}
		if (n == 0)
			break;
		evbuffer_drain(in, (size_t)n);
		(void)pm_request(c, req);
	}
	attr_list_free(&req);
	if (c->req == NULL && pm_draining
	    && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		pm_client_free(c);
}

static void
pm_client_free(struct pm_client *c)
{
	if (c->req) {
		struct pm_req **pp;

		/* Queued: forget it; at a worker: the answer is dropped. */
		for (pp = &pm_queue; *pp; pp = &(*pp)->next) {
			if (*pp == c->req) {
				*pp = c->req->next;
				if (pm_queue_tail == &c->req->next)
					pm_queue_tail = pp;
				pm_req_free(c->req);
				c->req = NULL;
				break;
			}
		}
		if (c->req)
			c->req->client = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		pm_clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
	/* Draining: the skeleton exits after the last one. */
	mail_server_disconnect();
}

static void
pm_client_read(struct bufferevent *bev, void *arg)
{
	pm_client_process(arg);
}

static void
pm_client_write(struct bufferevent *bev, void *arg)
{
	struct pm_client *c = arg;

	if (pm_draining && c->req == NULL
	    && evbuffer_get_length(bufferevent_get_input(bev)) == 0)
		pm_client_free(c);
}

static void
pm_client_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		pm_client_free(arg);
}

/* Workers. */

static void pm_worker_read(struct bufferevent *bev, void *arg);
static void pm_worker_event(struct bufferevent *bev, short what, void *arg);

/* pm_worker_spawn - fork a worker; NULL when that fails. */
static struct pm_worker *
pm_worker_spawn(void)
{
	struct pm_worker *w;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		msg_warn("socketpair: %m");
		return NULL;
	}
	if ((pid = fork()) < 0) {
		msg_warn("fork: %m");
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/* Keep only our end and the log: no client, no listener. */
		close(sv[0]);
		for (int i = 0; i < mail_server_listen_count(); i++)
			close(mail_server_listen_fd(i));
		if (mail_server_status_fd() >= 0)
			close(mail_server_status_fd());
		for (struct pm_client *c = pm_clients; c; c = c->next)
			close(bufferevent_getfd(c->bev));
		for (struct pm_worker *o = pm_workers; o; o = o->next)
			close(bufferevent_getfd(o->bev));
		proxymap_worker_main(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	w = xcalloc(1, sizeof(*w));
	w->pid = pid;
	evutil_make_socket_nonblocking(sv[0]);
	w->bev = bufferevent_socket_new(pm_base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (w->bev == NULL)
		msg_fatal("bufferevent_socket_new failed");
	bufferevent_setcb(w->bev, pm_worker_read, NULL, pm_worker_event, w);
	bufferevent_enable(w->bev, EV_READ | EV_WRITE);
	w->next = pm_workers;
	pm_workers = w;
	pm_worker_count++;
	if (msg_verbose)
		msg_info("worker %ld started (%d workers)", (long)pid,
		    pm_worker_count);
	return w;
}

/* pm_dispatch - give queued requests to idle workers (forking more up to
 * the limit), oldest first, skipping tables that have their share. */
static void
pm_dispatch(void)
{
	struct pm_req **pp = &pm_queue;

	while (*pp) {
		struct pm_req *r = *pp;
		struct pm_worker *w;
		struct attr_list *req;
		struct buf *out;

		if (r->table->inflight >= pm_table_max) {
			pp = &r->next;
			continue;
		}
		for (w = pm_workers; w && w->req; w = w->next)
			continue;
		if (w == NULL && (pm_worker_count >= pm_worker_max
		    || (w = pm_worker_spawn()) == NULL))
			return;
		*pp = r->next;
		if (pm_queue_tail == &r->next)
			pm_queue_tail = pp;
		r->next = NULL;
		w->req = r;
		r->table->inflight++;
		req = attr_list_new();
		attr_add(req, "table", r->table->name);
		attr_addf(req, "flags", "%d", r->flags);
		attr_add(req, "key", r->key);
		out = buf_new(256, BUF_NOLIMIT);
		attr_format(req, out);
		bufferevent_write(w->bev, buf_str(out), buf_len(out));
		buf_free(&out);
		attr_list_free(&req);
	}
}

/* pm_req_done - the worker's answer (or failure) for its request. */
static void
pm_req_done(struct pm_worker *w, enum map_status st, const char *value,
    const char *reason)
{
	struct pm_req *r = w->req;
	struct pm_client *c = r->client;

	w->req = NULL;
	r->table->inflight--;
	if (r->table->cache)
		pm_cache_put(r->table->cache, r->key, st, value,
		    st == MAP_FOUND ? pm_ttl : pm_neg_ttl, pm_now());
	pm_req_free(r);
	if (c != NULL) {
		c->req = NULL;
		pm_answer_lookup(c, st, value, reason);
		pm_client_process(c);
	}
}

static void
pm_worker_free(struct pm_worker *w)
{
	struct pm_worker **pp;
	int status;

	for (pp = &pm_workers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	pm_worker_count--;
	if (w->req)
		pm_req_done(w, MAP_TEMPFAIL, NULL,
		    "lookup service: worker process ended during the lookup");
	bufferevent_free(w->bev);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		continue;
	if (WIFSIGNALED(status))
		msg_warn("worker %ld killed by signal %d", (long)w->pid,
		    WTERMSIG(status));
	free(w);
	pm_dispatch();
}

static void
pm_worker_read(struct bufferevent *bev, void *arg)
{
	struct pm_worker *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct attr_list *reply = attr_list_new();

	for (;;) {
		size_t len = evbuffer_get_length(in);
		const char *err;
		long n, status;

		if (len == 0)
			break;
		n = attr_parse((const char *)evbuffer_pullup(in, -1), len, reply,
		    &err);
		if (n == 0)
			break;
		if (n < 0 || w->req == NULL) {
			msg_warn("worker %ld: %s", (long)w->pid,
			    n < 0 ? err : "answer without a request");
			attr_list_free(&reply);
			kill(w->pid, SIGKILL);
			pm_worker_free(w);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		status = attr_get_long(reply, "status", -1);
		if (status == PROXY_STAT_OK && attr_get(reply, "value"))
			pm_req_done(w, MAP_FOUND, attr_get(reply, "value"), NULL);
		else if (status == PROXY_STAT_NOKEY)
			pm_req_done(w, MAP_NOTFOUND, NULL, NULL);
		else
			pm_req_done(w, MAP_TEMPFAIL, NULL, attr_get(reply, "reason"));
	}
	attr_list_free(&reply);
	pm_dispatch();
}

static void
pm_worker_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		pm_worker_free(arg);
}

/* pm_accept - a new client (the skeleton accepted it). */
static void
pm_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	struct pm_client *c = xcalloc(1, sizeof(*c));

	c->bev = bufferevent_socket_new(pm_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		msg_warn("bufferevent_socket_new failed");
		close(fd);
		free(c);
		mail_server_disconnect();
		return;
	}
	c->next = pm_clients;
	if (pm_clients)
		pm_clients->prev = c;
	pm_clients = c;
	bufferevent_setcb(c->bev, pm_client_read, pm_client_write,
	    pm_client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* pm_drain - reload or the master went away: the skeleton closed the
 * listeners; idle clients reconnect to the new generation, the others
 * get their answer first (pm_client_process, pm_client_write). */
static void
pm_drain(void)
{
	struct pm_client *c, *next;

	pm_draining = 1;
	for (c = pm_clients; c; c = next) {
		next = c->next;
		if (c->req == NULL)
			pm_client_free(c);
	}
}

/* pm_stop - exit at once: drop every client. */
static void
pm_stop(void)
{
	pm_draining = 1;
	while (pm_clients != NULL)
		pm_client_free(pm_clients);
}

static void
pm_exit(void)
{
	pm_stats(1);
}

int
main(int argc, char **argv)
{
	static const struct mail_server_ops ops = {
		.accept = pm_accept,
		.drain = pm_drain,
		.stop = pm_stop,
		.pre_exit = pm_exit,
		/* The one cache every daemon shares lives in this process:
		 * max_idle and max_use would throw it away. */
		.flags = MAIL_SERVER_LONG_LIVED,
	};
	struct timeval tv;

	mail_server_init(argc, argv, "proxymap");
	/* The service opens its tables itself. */
	map_proxy_route(0);
	map_proxy_hook(NULL);
	mail_vars_bind(MAIL_VARS_PROXYMAP);
	pm_ttl = var_postino_lookup_cache_ttl;
	pm_neg_ttl = var_postino_lookup_cache_negative_ttl;
	pm_cache_size = var_postino_lookup_cache_size;
	pm_worker_max = var_postino_proxymap_workers;
	if (pm_worker_max < 1) {
		msg_warn("postino_proxymap_workers: must be at least 1: using 20");
		pm_worker_max = 20;
	}
	pm_table_max = pm_worker_max - pm_worker_max / 4;
	if (pm_table_max < 1)
		pm_table_max = 1;
	pm_tables = htable_create(16);
	if (mail_server_listen_count() == 0)
		msg_fatal("no listening socket: proxymap must be started by the master");
	pm_base = mail_server_base();
	mail_server_ready();
	tv.tv_sec = PM_STATS_INTERVAL;
	tv.tv_usec = 0;
	event_add(event_new(pm_base, -1, EV_PERSIST, pm_stats_timer, NULL), &tv);
	return mail_server_run(&ops);
}

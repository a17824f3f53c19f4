/* SPDX-License-Identifier: MIT */
/* agent_server - process start and request loop of a delivery agent (see
 * agent_server.h).
 *
 * The agent runs on the daemon skeleton (mail_server.h) with capacity 1:
 * one connection from qmgr at a time (the master starts another agent
 * for qmgr's next connection); max_idle and max_use apply under the
 * master, -1 is max_use 1.  The connection is watched by the loop and
 * served in a task (task.h), so that a lookup in the lookup service
 * (ldap:, mysql: tables) waits on the loop, never in a blocking call;
 * once a request has begun it is read with blocking I/O (qmgr is local
 * and writes whole requests).  qmgr may pipeline several requests on one
 * connection; they are served in batches (group commit): every request
 * already available (at most AGENT_BATCH_MAX) is handled in turn, then
 * the agent's commit hook makes the batch's deferred writes durable
 * together, and only then are the replies written: per request one
 * status list per recipient and a final "done=1", in request order.
 * Requests with nothing waiting for the commit are answered as soon as
 * they are done (a synchronous delivery's reply is never held back by
 * the rest of the batch: that would widen the window in which a crash
 * makes qmgr deliver it again).
 * Several agent processes may accept on one socket.  On reload or stop
 * the batch in hand is finished and answered (by the task, if it waits
 * for a lookup), then the connection is closed and the process exits.
 *
 * Logs warnings for protocol errors (malformed requests, write errors). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent_server.h"
#include "attr.h"
#include "buf.h"
#include "deliver_request.h"
#include "mail_conf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"

/* Requests per batch: as many as qmgr pipelines on one connection. */
#define AGENT_BATCH_MAX	16

/* The serving task's stack: deliveries copy through 64 KiB buffers. */
#define AGENT_TASK_STACK	(1024 * 1024)

/* One reply of the batch, written after the batch's commit. */
struct agent_reply {
	long request_id;
	int index;		/* -1: the final "done=1" of a request */
	int held;		/* reserved, not filled yet */
	char dsn[16];
	const char *status;
	const char *action;
	char *text;
	char *relay;
};

static struct agent_reply *replies;
static int nreplies, replies_size;

static struct agent_reply *
reply_new(long request_id, int index)
{
	struct agent_reply *r;

	if (nreplies == replies_size) {
		replies_size = replies_size ? 2 * replies_size : 64;
		replies = xreallocarray(replies, (size_t)replies_size,
		    sizeof(*replies));
	}
	r = replies + nreplies++;
	memset(r, 0, sizeof(*r));
	r->request_id = request_id;
	r->index = index;
	return r;
}

static void
reply_set(struct agent_reply *r, const char *dsn, const char *status,
    const char *action, const char *text)
{
	strlcpy(r->dsn, dsn, sizeof(r->dsn));
	r->status = status;
	r->action = action;
	free(r->text);
	r->text = xstrdup(text);
	r->held = 0;
}

double
agent_server_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void
agent_server_status(int fd, long request_id, int index, const char *dsn,
    const char *status, const char *action, const char *text,
    const char *relay)
{
	struct agent_reply *r = reply_new(request_id, index);

	(void)fd;			/* written with the batch */
	r->relay = xstrdup(relay);
	reply_set(r, dsn, status, action, text);
}

int
agent_server_status_hold(long request_id, int index, const char *relay)
{
	struct agent_reply *r = reply_new(request_id, index);

	r->relay = xstrdup(relay);
	r->held = 1;
	return nreplies - 1;
}

void
agent_server_status_fill(int slot, const char *dsn, const char *status,
    const char *action, const char *text)
{
	if (slot < 0 || slot >= nreplies || !replies[slot].held)
		msg_panic("agent_server_status_fill: bad slot %d", slot);
	reply_set(replies + slot, dsn, status, action, text);
}

/* any_held - does a reply of the batch wait for the commit? */
static int
any_held(void)
{
	for (int i = 0; i < nreplies; i++)
		if (replies[i].held)
			return 1;
	return 0;
}

/* batch_flush - commit the batch, then write its replies in one go. */
static void
batch_flush(int fd, const struct agent_server *as)
{
	struct buf *out = buf_new(4096, BUF_NOLIMIT);
	struct attr_list *al = attr_list_new();
	size_t off = 0;

	if (as->commit)
		as->commit();
	for (int i = 0; i < nreplies; i++) {
		struct agent_reply *r = replies + i;

		attr_list_free(&al);
		al = attr_list_new();
		if (r->index < 0) {
			attr_addf(al, "request_id", "%ld", r->request_id);
			attr_add(al, "done", "1");
		} else {
			struct deliver_status ds;

			if (r->held) {
				/* Never claim success for a slot left open. */
				msg_warn("request %ld: no status for recipient %d",
				    r->request_id, r->index);
				reply_set(r, "4.3.0", "deferred", "delayed",
				    "internal error: no delivery status");
			}
			memset(&ds, 0, sizeof(ds));
			ds.rcpt_index = r->index;
			strlcpy(ds.dsn, r->dsn, sizeof(ds.dsn));
			ds.status = r->status;
			ds.action = r->action;
			ds.text = r->text;
			ds.relay = r->relay;
			deliver_status_to_attr(r->request_id, &ds, al);
		}
		attr_format(al, out);
		free(r->text);
		free(r->relay);
	}
	nreplies = 0;
	while (off < buf_len(out)) {
		ssize_t n = write(fd, buf_str(out) + off, buf_len(out) - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (errno != EPIPE)
				msg_warn("write to qmgr: %m");
			break;
		}
		off += (size_t)n;
	}
	attr_list_free(&al);
	buf_free(&out);
}

/* readable_now - is more input waiting on fd (no wait)? */
static int
readable_now(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0 && p.revents != 0;
}

/* The connection from qmgr being served (one at a time: capacity 1). */
static const struct agent_server *agent;
static int conn_fd = -1;
static struct event *conn_ev;
static struct buf *conn_in;
static struct attr_list *conn_al;
static int conn_busy;		/* a task is serving the connection */
static int conn_closing;	/* close once it is done */

/* conn_close - done with qmgr's connection; the skeleton accepts the
 * next one (or exits: drain, max_use, -1). */
static void
conn_close(void)
{
	if (conn_fd < 0)
		return;
	event_free(conn_ev);
	conn_ev = NULL;
	attr_list_free(&conn_al);
	buf_free(&conn_in);
	close(conn_fd);
	conn_fd = -1;
	conn_closing = 0;
	mail_server_disconnect();
}

/* conn_serve - requests are waiting: serve them in batches while more
 * are available at once (the loop calls conn_read again when more
 * arrive).  Runs in a task: a lookup in the lookup service waits on the
 * loop (map_proxy.h), which meanwhile takes the master's notices.  The
 * batch in hand is always finished and answered; after a drain no new
 * request is read. */
static void
conn_serve(void *arg)
{
	int fd = conn_fd, handled = 0;

	(void)arg;
	do {
		int nreq = 0;

		while (nreq < AGENT_BATCH_MAX && !conn_closing) {
			const char *err;
			struct deliver_request *dr;
			double t_start, t_active;
			const char *v;
			int n;

			if (conn_in->len == 0 && handled > 0 && !readable_now(fd))
				break;
			n = attr_read(fd, conn_in, conn_al, -1, &err);
			if (n == 0) {
				conn_closing = 1;
				break;
			}
			if (n < 0) {
				msg_warn("read request from qmgr: %s", err);
				conn_closing = 1;
				break;
			}
			handled++;
			t_start = agent_server_now();
			if ((dr = deliver_request_from_attr(conn_al, &err)) == NULL) {
				msg_warn("malformed delivery request from qmgr: %s", err);
				conn_closing = 1;
				break;
			}
			v = attr_get(conn_al, "active_time");
			t_active = v ? strtod(v, NULL) : 0;
			agent->handle(fd, dr, t_start, t_active);
			reply_new(dr->request_id, -1);
			deliver_request_free(&dr);
			nreq++;
			/* Nothing waits for the commit (an mbox delivery, fsync'd
			 * already, or no delivery at all): answer at once.  A
			 * crash between a delivery and its reply repeats it; the
			 * rest of the batch must not widen that window. */
			if (!any_held()) {
				batch_flush(fd, agent);
				nreq = 0;
			}
		}
		if (nreq > 0)
			batch_flush(fd, agent);
	} while (!conn_closing && conn_in->len > 0);
}

/* conn_served - the task is done: watch the connection again, or close
 * it (EOF, error, drain). */
static void
conn_served(void *arg)
{
	(void)arg;
	conn_busy = 0;
	if (conn_closing)
		conn_close();
	else if (event_add(conn_ev, NULL) < 0)
		msg_fatal("cannot watch the connection from qmgr");
}

/* conn_read - qmgr's connection is readable: serve it in a task, and
 * stop watching it until the task is done. */
static void
conn_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (conn_busy)
		return;
	conn_busy = 1;
	event_del(conn_ev);
	(void)task_start(conn_serve, NULL, conn_served, AGENT_TASK_STACK);
}

/* agent_accept - qmgr connected (the skeleton accepted; with capacity 1
 * it stops accepting and tells the master we are busy until conn_close:
 * the master starts another agent for qmgr's next connection). */
static void
agent_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	int fl;

	(void)sa;
	(void)salen;
	(void)index;
	if (conn_fd >= 0)
		msg_panic("agent_accept: a connection is being served already");
	/* The requests are read with blocking I/O once one has begun. */
	if ((fl = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	conn_fd = fd;
	conn_in = buf_new(4096, 0);
	conn_al = attr_list_new();
	conn_ev = event_new(mail_server_base(), fd, EV_READ | EV_PERSIST,
	    conn_read, NULL);
	if (conn_ev == NULL || event_add(conn_ev, NULL) < 0)
		msg_fatal("cannot watch the connection from qmgr");
}

/* agent_drain - reload or stop: the batch in hand is finished and
 * answered (by the task, when one is waiting), then the connection is
 * closed; nothing more is read. */
static void
agent_drain(void)
{
	if (conn_busy)
		conn_closing = 1;
	else
		conn_close();
}

/* listen_path - -S: a listening socket of our own (tests). */
static int
listen_path(const char *path)
{
	struct sockaddr_un sun;
	char *tmp = concatenate(path, ".tmp", (char *)0);
	int fd;

	/* Bound and listening under a temporary name, then renamed: the
	 * path never names a socket that refuses connections. */
	if (strlen(tmp) >= sizeof(sun.sun_path))
		msg_fatal("socket path too long: %s", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, tmp, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal("socket: %m");
	(void)unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		msg_fatal("bind %s: %m", tmp);
	if (listen(fd, 64) < 0)
		msg_fatal("listen %s: %m", tmp);
	if (rename(tmp, path) < 0)
		msg_fatal("rename %s to %s: %m", tmp, path);
	free(tmp);
	return fd;
}

static void
usage(const char *name)
{
	msg_fatal("usage: %s [-v1] [-c config_dir] [-o name=value] [-S socket_path]",
	    name);
}

int
agent_server_main(int argc, char **argv, const struct agent_server *as)
{
	static const struct mail_server_ops ops = {
		.accept = agent_accept,
		.drain = agent_drain,
		.stop = agent_drain,
		.capacity = 1,
	};
	const char *sock_path = NULL;
	int once = 0, ch;

	agent = as;
	if (getenv(MAIL_SERVER_ENV_LISTEN_FDS) != NULL) {
		/* Started by the master (mail_server.h contract). */
		mail_server_init(argc, argv, as->name);
		as->conf_init();
		if (mail_server_listen_count() < 1)
			msg_fatal("no listening socket from the master");
	} else {
		msg_init(as->name, 1);
		signal(SIGPIPE, SIG_IGN);
		while ((ch = getopt(argc, argv, "c:o:S:v1")) != -1) {
			switch (ch) {
			case 'c':
				mail_conf_set_dir(optarg);
				break;
			case 'o': {
				char *copy = xstrdup(optarg), *eq = strchr(copy, '=');

				if (eq == NULL)
					usage(as->name);
				*eq = 0;
				mail_conf_override(copy, eq + 1);
				free(copy);
				break;
			}
			case 'S':
				sock_path = optarg;
				break;
			case 'v':
				msg_verbose++;
				break;
			case '1':
				once = 1;
				break;
			default:
				usage(as->name);
			}
		}
		if (sock_path == NULL)
			usage(as->name);
		mail_conf_read(0);
		mail_vars_bind(MAIL_VARS_SERVER);
		mail_server_log_init();
		msg_stderr_enable(1);
		as->conf_init();
		mail_server_listen_add(listen_path(sock_path));
		/* -1: one connection, then exit. */
		if (once)
			mail_server_limits(-1, 1);
	}
	umask(077);
	return mail_server_run(&ops);
}

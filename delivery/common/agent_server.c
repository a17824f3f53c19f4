/* SPDX-License-Identifier: MIT */
/* agent_server - process start and request loop of a delivery agent (see
 * agent_server.h).
 *
 * Each accepted connection (from qmgr) carries a stream of requests,
 * read with blocking I/O.  qmgr may pipeline several requests on one
 * connection; they are served in batches (group commit): every request
 * already available (at most AGENT_BATCH_MAX) is handled in turn, then
 * the agent's commit hook makes the batch's deferred writes durable
 * together, and only then are the replies written: per request one
 * status list per recipient and a final "done=1", in request order.
 * Requests with nothing waiting for the commit are answered as soon as
 * they are done (a synchronous delivery's reply is never held back by
 * the rest of the batch: that would widen the window in which a crash
 * makes qmgr deliver it again).
 * Several agent processes may accept on one socket.
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

#include "agent_server.h"
#include "attr.h"
#include "buf.h"
#include "deliver_request.h"
#include "mail_conf.h"
#include "mail_server.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* Started by the master (mail_server.h) rather than with -S. */
static int under_master;

/* Requests per batch: as many as qmgr pipelines on one connection. */
#define AGENT_BATCH_MAX	16

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

/* wait_readable - wait for a request on fd; under the master also watch
 * for reload/stop.  1 readable, 0 the master says stop or drain. */
static int
wait_readable(int fd)
{
	for (;;) {
		struct pollfd p[3];
		int n = 0;

		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		if (under_master) {
			p[n++] = (struct pollfd){.fd = mail_server_notify_fd(),
			.events = POLLIN};
			if (mail_server_status_fd() >= 0)
				p[n++] = (struct pollfd){.fd = mail_server_status_fd(),
				.events = POLLIN};
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("poll: %m");
		}
		if (under_master && mail_server_event() != MAIL_SERVER_NONE)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

/* serve - one connection from qmgr: batches of requests until EOF (or
 * until the master tells us to go: the batch in hand is always
 * finished and answered). */
static void
serve(int fd, const struct agent_server *as)
{
	struct buf *inbuf = buf_new(4096, 0);
	struct attr_list *al = attr_list_new();
	int stop = 0;

	while (!stop) {
		int nreq = 0;

		while (nreq < AGENT_BATCH_MAX) {
			const char *err;
			struct deliver_request *dr;
			double t_start, t_active;
			const char *v;
			int n;

			if (inbuf->len == 0) {
				if (nreq > 0 && !readable_now(fd))
					break;
				if (nreq == 0 && !wait_readable(fd)) {
					stop = 1;
					break;
				}
			}
			n = attr_read(fd, inbuf, al, -1, &err);
			if (n == 0) {
				stop = 1;
				break;
			}
			if (n < 0) {
				msg_warn("read request from qmgr: %s", err);
				stop = 1;
				break;
			}
			t_start = agent_server_now();
			if ((dr = deliver_request_from_attr(al, &err)) == NULL) {
				msg_warn("malformed delivery request from qmgr: %s", err);
				stop = 1;
				break;
			}
			v = attr_get(al, "active_time");
			t_active = v ? strtod(v, NULL) : 0;
			as->handle(fd, dr, t_start, t_active);
			reply_new(dr->request_id, -1);
			deliver_request_free(&dr);
			nreq++;
			/* Nothing waits for the commit (an mbox delivery, fsync'd
			 * already, or no delivery at all): answer at once.  A
			 * crash between a delivery and its reply repeats it; the
			 * rest of the batch must not widen that window. */
			if (!any_held()) {
				batch_flush(fd, as);
				nreq = 0;
			}
		}
		if (nreq > 0)
			batch_flush(fd, as);
	}
	attr_list_free(&al);
	buf_free(&inbuf);
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
	const char *sock_path = NULL;
	int once = 0, lfd = -1, ch;

	if (getenv(MAIL_SERVER_ENV_LISTEN_FDS) != NULL) {
		/* Started by the master (mail_server.h contract). */
		under_master = 1;
		mail_server_init(argc, argv, as->name);
		as->conf_init();
		mail_server_ready();
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
		mail_server_log_init();
		msg_stderr_enable(1);
		map_cache_configure(mail_conf_time("postino_lookup_cache_ttl", 's'),
		    mail_conf_time("postino_lookup_cache_negative_ttl", 's'),
		    mail_conf_int("postino_lookup_cache_size"));
		as->conf_init();
		lfd = listen_path(sock_path);
	}
	umask(077);

	for (;;) {
		int cfd;

		if (under_master) {
			if (mail_server_listen_count() < 1)
				break;
			lfd = mail_server_listen_fd(0);
			if (!wait_readable(lfd))
				break;
		}
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED
			    || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			msg_fatal("accept: %m");
		}
		/* The connection is served with blocking I/O. */
		(void)fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) & ~O_NONBLOCK);
		/* One connection at a time: while it lasts, ask the master for
		 * another process to take qmgr's next connection. */
		if (under_master)
			mail_server_busy(1);
		serve(cfd, as);
		close(cfd);
		if (under_master)
			mail_server_busy(0);
		if (once)
			break;
		if (under_master && mail_server_event() != MAIL_SERVER_NONE)
			break;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* agent_server - process start and request loop of a delivery agent (see
 * agent_server.h).
 *
 * Each accepted connection (from qmgr) carries a stream of requests;
 * they are handled one at a time with blocking I/O, each answered with
 * one status list per recipient (written by the agent's handler) and a
 * final "done=1".  Several agent processes may accept on one socket.
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
	struct deliver_status ds;
	struct attr_list *al = attr_list_new();
	char *text_copy = xstrdup(text), *relay_copy = xstrdup(relay);

	memset(&ds, 0, sizeof(ds));
	ds.rcpt_index = index;
	strlcpy(ds.dsn, dsn, sizeof(ds.dsn));
	ds.status = status;
	ds.action = action;
	ds.text = text_copy;
	ds.relay = relay_copy;
	deliver_status_to_attr(request_id, &ds, al);
	if (attr_write(fd, al) < 0 && errno != EPIPE)
		msg_warn("write status to qmgr: %m");
	attr_list_free(&al);
	free(text_copy);
	free(relay_copy);
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

/* serve - one connection from qmgr: requests until EOF (or until the
 * master tells us to go: the request in hand is always finished). */
static void
serve(int fd, const struct agent_server *as)
{
	struct buf *inbuf = buf_new(4096, 0);
	struct attr_list *al = attr_list_new();

	for (;;) {
		const char *err;
		struct deliver_request *dr;
		struct attr_list *done;
		double t_start, t_active;
		const char *v;
		int n;

		if (inbuf->len == 0 && !wait_readable(fd))
			break;
		n = attr_read(fd, inbuf, al, -1, &err);
		if (n == 0)
			break;
		if (n < 0) {
			msg_warn("read request from qmgr: %s", err);
			break;
		}
		t_start = agent_server_now();
		if ((dr = deliver_request_from_attr(al, &err)) == NULL) {
			msg_warn("malformed delivery request from qmgr: %s", err);
			break;
		}
		v = attr_get(al, "active_time");
		t_active = v ? strtod(v, NULL) : 0;
		as->handle(fd, dr, t_start, t_active);
		done = attr_list_new();
		attr_addf(done, "request_id", "%ld", dr->request_id);
		attr_add(done, "done", "1");
		if (attr_write(fd, done) < 0)
			msg_warn("write to qmgr: %m");
		attr_list_free(&done);
		deliver_request_free(&dr);
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

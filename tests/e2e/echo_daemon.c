/* SPDX-License-Identifier: MIT */
/* echo_daemon - the smallest daemon that follows the master's contract
 * (mail_server.h), for the master's end-to-end tests.
 *
 * Each client gets "hello PID UID GREETING\n", then every line it sends
 * is sent back.  A client that sends a few bytes without a newline and
 * then closes (a trigger such as the master's wakeup 'W' or postino
 * flush's 'F') is logged as "trigger X".  Settings (as -o name=value in
 * master.cf):
 *	echo_greeting	text after "hello PID UID" (default "echo")
 *	echo_busy_limit	clients at which the process says it is busy and
 *			stops accepting (default 0: never)
 *	echo_fail	yes: exit 1 before mail_server_ready() (a failed start)
 * On DRAIN it closes its listening sockets and exits when the last client
 * leaves; on STOP it exits at once.  Logs "ready", "drain", "stop",
 * "trigger X". */
#include "postino_config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"

#define MAX_CLIENTS	64

struct client {
	int fd;
	char buf[512];
	size_t len;
};

static struct client clients[MAX_CLIENTS];
static int nclients;

/* setting - an -o setting, or def. */
static const char *
setting(const char *name, const char *def)
{
	const char *val = mail_conf_raw(name);

	return val ? val : def;
}

/* drop_client - close and forget client i; log a trigger. */
static void
drop_client(int i)
{
	struct client *c = clients + i;

	if (c->len > 0 && c->len < 8 && memchr(c->buf, '\n', c->len) == NULL)
		msg_info("trigger %.*s", (int)c->len, c->buf);
	close(c->fd);
	clients[i] = clients[--nclients];
}

/* serve - read from client i and echo complete lines. */
static void
serve(int i)
{
	struct client *c = clients + i;
	ssize_t n;
	char *nl;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		drop_client(i);
		return;
	}
	c->len += (size_t)n;
	while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
		size_t line = (size_t)(nl - c->buf) + 1;

		if (write(c->fd, c->buf, line) < 0)
			break;
		memmove(c->buf, c->buf + line, c->len - line);
		c->len -= line;
	}
	if (c->len == sizeof(c->buf))
		drop_client(i);
}

int
main(int argc, char **argv)
{
	struct pollfd pfd[MAX_CLIENTS + MAIL_SERVER_MAX_LISTEN + 2];
	char hello[256];
	long limit = 0;
	int busy = 0, draining = 0, n, nl, lbase, fd;
	enum mail_server_event ev;

	mail_server_init(argc, argv, "echo_daemon");
	if (strcmp(setting("echo_fail", "no"), "yes") == 0)
		msg_fatal("echo_fail = yes: failing on purpose");
	limit = strtol(setting("echo_busy_limit", "0"), NULL, 10);
	mail_server_ready();
	snprintf(hello, sizeof(hello), "hello %ld %ld %s\n", (long)getpid(),
	    (long)getuid(), setting("echo_greeting", "echo"));
	msg_info("ready: service %s type %s listeners %d uid %ld",
	    mail_server_service(), mail_server_type(),
	    mail_server_listen_count(), (long)getuid());

	for (;;) {
		n = 0;
		pfd[n].fd = mail_server_notify_fd();
		pfd[n++].events = POLLIN;
		if (mail_server_status_fd() >= 0) {
			pfd[n].fd = mail_server_status_fd();
			pfd[n++].events = POLLIN;
		}
		nl = 0;
		lbase = n;
		if (!busy && !draining)
			for (int i = 0; i < mail_server_listen_count(); i++, nl++) {
				pfd[n].fd = mail_server_listen_fd(i);
				pfd[n++].events = POLLIN;
			}
		for (int i = 0; i < nclients; i++) {
			pfd[n].fd = clients[i].fd;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			msg_fatal("poll: %m");

		if ((ev = mail_server_event()) == MAIL_SERVER_STOP) {
			msg_info("stop");
			exit(0);
		}
		if (ev == MAIL_SERVER_DRAIN && !draining) {
			msg_info("drain: %d clients", nclients);
			draining = 1;
			mail_server_close_listeners();
			continue;
		}
		/* Clients first: their slots move when one leaves. */
		for (int i = n - 1, k = nclients - 1; k >= 0; i--, k--)
			if (pfd[i].revents)
				serve(k);
		for (int j = lbase; j < lbase + nl && !draining; j++) {
			if (!(pfd[j].revents & POLLIN))
				continue;
			if ((fd = accept4(pfd[j].fd, NULL, NULL, SOCK_NONBLOCK
			    | SOCK_CLOEXEC)) < 0)
				continue;
			if (nclients >= MAX_CLIENTS) {
				close(fd);
				continue;
			}
			clients[nclients].fd = fd;
			clients[nclients++].len = 0;
			if (write(fd, hello, strlen(hello)) < 0)
				msg_warn("write hello: %m");
		}
		if (draining && nclients == 0) {
			msg_info("drained: exiting");
			exit(0);
		}
		if (limit > 0 && !busy && nclients >= limit) {
			busy = 1;
			mail_server_busy(1);
		} else if (busy && nclients < limit) {
			busy = 0;
			mail_server_busy(0);
		}
	}
}

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
 *	echo_trigger	yes: a trigger service (the skeleton reads the bytes,
 *			fifo services included; each byte is logged as
 *			"trigger X"; no greeting, no echo)
 * It runs on the daemon skeleton (mail_server.h), so the master's tests
 * also test the skeleton: on DRAIN the listening sockets are closed and
 * the process exits when the last client leaves; on STOP it exits at
 * once (no client is in flight after the stop callback); max_idle and
 * max_use apply.  Logs "ready", "drain: N clients", "drained: exiting",
 * "stop", "trigger X", and "exit: N clients served" before every exit. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "mail_conf.h"
#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"

struct client {
	int fd;
	char buf[512];
	size_t len;
	struct event *ev;
	struct client *next;
};

static struct client *clients;
static int nclients;
static long served;
static char hello[256];

/* setting - an -o setting, or def. */
static const char *
setting(const char *name, const char *def)
{
	const char *val = mail_conf_raw(name);

	return val ? val : def;
}

/* drop_client - close and forget a client; log a trigger. */
static void
drop_client(struct client *c)
{
	struct client **pp;

	if (c->len > 0 && c->len < 8 && memchr(c->buf, '\n', c->len) == NULL)
		msg_info("trigger %.*s", (int)c->len, c->buf);
	for (pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	event_free(c->ev);
	close(c->fd);
	free(c);
	nclients--;
	mail_server_disconnect();
}

/* serve - read from a client and echo complete lines. */
static void
serve(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	ssize_t n;
	char *nl;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		drop_client(c);
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
		drop_client(c);
}

static void
echo_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	struct client *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->ev = event_new(mail_server_base(), fd, EV_READ | EV_PERSIST, serve, c);
	event_add(c->ev, NULL);
	c->next = clients;
	clients = c;
	nclients++;
	served++;
	if (write(fd, hello, strlen(hello)) < 0)
		msg_warn("write hello: %m");
}

static void
echo_trigger(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		msg_info("trigger %c", buf[i]);
}

static void
echo_drain(void)
{
	msg_info("drain: %d clients", nclients);
}

static void
echo_stop(void)
{
	msg_info("stop");
	while (clients != NULL)
		drop_client(clients);
}

static void
echo_exit(void)
{
	if (mail_server_check() == MAIL_SERVER_DRAIN)
		msg_info("drained: exiting");
	msg_info("exit: %ld clients served", served);
}

int
main(int argc, char **argv)
{
	static struct mail_server_ops ops = {
		.accept = echo_accept,
		.drain = echo_drain,
		.stop = echo_stop,
		.pre_exit = echo_exit,
	};

	mail_server_init(argc, argv, "echo_daemon");
	if (strcmp(setting("echo_fail", "no"), "yes") == 0)
		msg_fatal("echo_fail = yes: failing on purpose");
	ops.capacity = (int)strtol(setting("echo_busy_limit", "0"), NULL, 10);
	if (strcmp(setting("echo_trigger", "no"), "yes") == 0) {
		ops.accept = NULL;
		ops.trigger = echo_trigger;
	}
	mail_server_ready();
	snprintf(hello, sizeof(hello), "hello %ld %ld %s\n", (long)getpid(),
	    (long)getuid(), setting("echo_greeting", "echo"));
	msg_info("ready: service %s type %s listeners %d uid %ld",
	    mail_server_service(), mail_server_type(),
	    mail_server_listen_count(), (long)getuid());
	return mail_server_run(&ops);
}

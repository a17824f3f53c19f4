/* SPDX-License-Identifier: MIT */
/* anvil_clnt - synchronous client of the anvil service (anvil_clnt.h).
 *
 * Logs (warnings only): "private/anvil: connect: REASON", "private/
 * anvil: REASON" for a request that failed, each followed by how long
 * the limits go unenforced; "private/anvil: request NAME refused" for a
 * status other than 0. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "anvil_clnt.h"
#include "attr.h"
#include "buf.h"
#include "mail_conf.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

struct anvil_clnt {
	char *service;			/* "anvil" */
	int timeout_ms;
	int fd;				/* -1: not connected */
	struct buf *inbuf;		/* bytes read ahead of a list */
	time_t retry_at;		/* no attempt before this after a failure */
	int unread;			/* replies to disconnects not read yet */
};

/* Disconnects are sent without waiting for their answer (it says
 * nothing); the answers are read before the next request's.  At most
 * this many wait, so that neither side's buffers fill up. */
#define ANVIL_CLNT_MAX_UNREAD	32

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

/* anvil_clnt_close - forget the connection (and what was read ahead). */
static void
anvil_clnt_close(struct anvil_clnt *clnt)
{
	if (clnt->fd >= 0)
		(void)close(clnt->fd);
	clnt->fd = -1;
	clnt->unread = 0;
	buf_reset(clnt->inbuf);
}

void
anvil_clnt_free(struct anvil_clnt **clntp)
{
	struct anvil_clnt *clnt = *clntp;

	if (clnt == NULL)
		return;
	anvil_clnt_close(clnt);
	buf_free(&clnt->inbuf);
	free(clnt->service);
	free(clnt);
	*clntp = NULL;
}

/* anvil_clnt_open - connect to private/SERVICE; 0 or -1 (errno). */
static int
anvil_clnt_open(struct anvil_clnt *clnt)
{
	struct sockaddr_un sun;
	char *path;
	int fd, saved;

	path = concatenate(mail_conf_str("queue_directory"), "/private/",
	    clnt->service, (char *)0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		free(path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	free(path);
	/* Non-blocking: a full accept queue fails now instead of waiting. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	clnt->fd = fd;
	buf_reset(clnt->inbuf);
	return 0;
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

/* anvil_clnt_request - send req, read the answer into reply; 0 when the
 * answer has status=0, -1 otherwise. */
static int
anvil_clnt_request(struct anvil_clnt *clnt, const struct attr_list *req,
    struct attr_list *reply)
{
	const char *err;
	int fresh, rc;

	if (clnt->fd < 0 && time(NULL) < clnt->retry_at)
		return ANVIL_STAT_FAIL;
	for (int attempt = 0; attempt < 2; attempt++) {
		fresh = clnt->fd < 0;
		if (fresh && anvil_clnt_open(clnt) < 0) {
			anvil_clnt_fail(clnt, "connect", strerror(errno));
			return ANVIL_STAT_FAIL;
		}
		if (attr_write(clnt->fd, req) < 0) {
			err = strerror(errno);
			anvil_clnt_close(clnt);
			if (!fresh)
				continue;	/* anvil went away: once more */
			anvil_clnt_fail(clnt, "write", err);
			return ANVIL_STAT_FAIL;
		}
		/* The answers to earlier disconnects come first. */
		do {
			rc = attr_read(clnt->fd, clnt->inbuf, reply,
			    clnt->timeout_ms, &err);
		} while (rc == 1 && clnt->unread-- > 0);
		clnt->unread = 0;
		if (rc == 1)
			break;
		if (rc == 0 || errno == EPIPE || errno == ECONNRESET) {
			anvil_clnt_close(clnt);
			if (!fresh)
				continue;
			anvil_clnt_fail(clnt, "read", rc == 0
			    ? "connection closed by anvil" : err);
			return ANVIL_STAT_FAIL;
		}
		anvil_clnt_fail(clnt, "read", err);
		return ANVIL_STAT_FAIL;
	}
	if (clnt->fd < 0) {
		/* Both attempts broke (the second on a fresh connection
		 * reports itself above); not reached, but be safe. */
		anvil_clnt_fail(clnt, "request", "connection lost");
		return ANVIL_STAT_FAIL;
	}
	if (attr_get_long(reply, "status", -1) != 0) {
		msg_warn("private/%s: request %s refused", clnt->service,
		    attr_get(req, "request"));
		return ANVIL_STAT_FAIL;
	}
	return ANVIL_STAT_OK;
}

/* anvil_clnt_ask - one request about service:addr; the answer's numbers
 * named in names go to the matching values. */
static int
anvil_clnt_ask(struct anvil_clnt *clnt, const char *request,
    const char *service, const char *addr, const char *const *names,
    int **values)
{
	struct attr_list *req = attr_list_new();
	struct attr_list *reply = attr_list_new();
	int rc;

	attr_add(req, "request", request);
	attr_addf(req, "ident", "%s:%s", service, addr);
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
	if (clnt->unread >= ANVIL_CLNT_MAX_UNREAD)
		return anvil_clnt_ask(clnt, "disconnect", service, addr, NULL,
		    NULL);
	req = attr_list_new();
	attr_add(req, "request", "disconnect");
	attr_addf(req, "ident", "%s:%s", service, addr);
	if (attr_write(clnt->fd, req) < 0)
		anvil_clnt_close(clnt);	/* the next request reconnects */
	else
		clnt->unread++;
	attr_list_free(&req);
	return rc;
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

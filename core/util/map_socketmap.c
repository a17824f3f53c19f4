/* SPDX-License-Identifier: MIT */
/* map_socketmap - the socketmap: table type: lookups answered by a
 * server over a socket, as Postfix's socketmap_table(5) (Sendmail's
 * socket map protocol).  The classic user is an MTA-STS policy server
 * (postfix-mta-sts-resolver) behind smtp_tls_policy_maps.
 *
 *	socketmap:inet:HOST:PORT:NAME	(HOST may be [v6addr])
 *	socketmap:unix:PATHNAME:NAME
 *
 * Protocol: one request, one reply, each a netstring ("LEN:DATA,").
 * The request is "NAME KEY"; the reply "OK DATA" (found), "NOTFOUND "
 * (not found), or "TEMP REASON", "TIMEOUT REASON", "PERM REASON" (the
 * lookup failed: a temporary error here, as in Postfix).  A reply longer
 * than SOCKETMAP_MAX_REPLY bytes, a malformed one, a timeout or a lost
 * connection is a temporary error too.
 *
 * The connection is kept for the next lookup (SOCKETMAP_MAX_IDLE seconds
 * idle, SOCKETMAP_MAX_TTL in all), and one that turns out to be closed
 * when a request is sent is opened again once.  Full keys only (no
 * partial keys, as Postfix says of this type); lookups may block
 * (MAP_CAP_BLOCKING), so daemons ask the lookup service for them. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "map.h"
#include "map_driver.h"
#include "mymalloc.h"
#include "stringops.h"

#define SOCKETMAP_MAX_REPLY	100000	/* bytes, as Postfix */
#define SOCKETMAP_TIMEOUT	100	/* seconds per request, as Postfix */
#define SOCKETMAP_MAX_IDLE	10	/* seconds a kept connection may idle */
#define SOCKETMAP_MAX_TTL	100	/* seconds a connection may be kept */

struct map_socketmap {
	struct map map;
	char *endpoint;		/* "inet:host:port" or "unix:path" */
	char *host;		/* inet: host (no brackets) */
	char *port;		/* inet: port */
	char *path;		/* unix: path */
	char *name;		/* the request's NAME */
	int fd;			/* -1: not connected */
	time_t opened, used;
	struct buf *value;	/* the last answer */
};

/* sm_close_fd - forget the connection. */
static void
sm_close_fd(struct map_socketmap *sm)
{
	if (sm->fd >= 0)
		close(sm->fd);
	sm->fd = -1;
}

/* sm_wait - wait until fd is ready for ev or the deadline passes. */
static int
sm_wait(int fd, short ev, time_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = ev};
		time_t now = time(NULL);
		int rc;

		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&p, 1, (int)(deadline - now) * 1000);
		if (rc > 0)
			return 0;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* sm_connect - a non-blocking connection to the endpoint, or -1 with
 * the reason set. */
static int
sm_connect(struct map_socketmap *sm, time_t deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, err = 0, gai;

	if (sm->path) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(sm->path) >= sizeof(sun.sun_path)) {
			map_set_reason(&sm->map, "%s: socket path too long",
			    sm->map.title);
			return -1;
		}
		strlcpy(sun.sun_path, sm->path, sizeof(sun.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) < 0) {
			map_set_reason(&sm->map, "%s: connect %s: %s", sm->map.title,
			    sm->path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(sm->host, sm->port, &hints, &res)) != 0) {
		map_set_reason(&sm->map, "%s: look up %s: %s", sm->map.title,
		    sm->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC
		    | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && sm_wait(fd, POLLOUT, deadline) == 0) {
			socklen_t len = sizeof(err);

			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
			    && err == 0)
				break;
		} else {
			err = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		map_set_reason(&sm->map, "%s: connect %s:%s: %s", sm->map.title,
		    sm->host, sm->port, strerror(err ? err : ECONNREFUSED));
		return -1;
	}
	return fd;
}

/* sm_send - write all of buf; -1 with errno on failure. */
static int
sm_send(int fd, const char *buf, size_t len, time_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (sm_wait(fd, POLLOUT, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* sm_recv - read exactly len bytes; 0, or -1 with the reason in why. */
static int
sm_recv(int fd, char *buf, size_t len, time_t deadline, const char **why)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == 0) {
			*why = "lost connection";
			return -1;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (sm_wait(fd, POLLIN, deadline) < 0) {
				*why = errno == ETIMEDOUT ? "timed out" : strerror(errno);
				return -1;
			}
		} else {
			*why = strerror(errno);
			return -1;
		}
	}
	return 0;
}

/* sm_read_reply - one netstring into sm->value; 0, or -1 with why. */
static int
sm_read_reply(struct map_socketmap *sm, time_t deadline, const char **why)
{
	size_t len = 0;
	int digits = 0;
	char c, *data;

	for (;;) {
		if (sm_recv(sm->fd, &c, 1, deadline, why) < 0)
			return -1;
		if (c == ':' && digits > 0)
			break;
		if (c < '0' || c > '9' || ++digits > 7) {
			*why = "malformed reply (netstring length)";
			return -1;
		}
		len = len * 10 + (size_t)(c - '0');
	}
	if (len > SOCKETMAP_MAX_REPLY) {
		*why = "reply too long";
		return -1;
	}
	data = xmalloc(len + 1);
	if (sm_recv(sm->fd, data, len, deadline, why) < 0
	    || sm_recv(sm->fd, &c, 1, deadline, why) < 0) {
		free(data);
		return -1;
	}
	if (c != ',') {
		free(data);
		*why = "malformed reply (netstring end)";
		return -1;
	}
	data[len] = 0;
	if (memchr(data, 0, len) != NULL) {
		free(data);
		*why = "malformed reply (NUL byte)";
		return -1;
	}
	buf_reset(sm->value);
	buf_append(sm->value, data, len);
	free(data);
	return 0;
}

/* sm_ask - send the request and read the reply into sm->value, on a kept
 * connection or a new one; 0, or -1 with the reason set. */
static int
sm_ask(struct map_socketmap *sm, const char *req, size_t len)
{
	time_t now = time(NULL), deadline = now + SOCKETMAP_TIMEOUT;
	const char *why = NULL;

	if (sm->fd >= 0 && (now - sm->used > SOCKETMAP_MAX_IDLE
	    || now - sm->opened > SOCKETMAP_MAX_TTL))
		sm_close_fd(sm);
	for (int attempt = 0; attempt < 2; attempt++) {
		int kept = sm->fd >= 0;

		if (!kept) {
			if ((sm->fd = sm_connect(sm, deadline)) < 0)
				return -1;
			sm->opened = time(NULL);
		}
		if (sm_send(sm->fd, req, len, deadline) == 0
		    && sm_read_reply(sm, deadline, &why) == 0) {
			sm->used = time(NULL);
			return 0;
		}
		if (why == NULL)
			why = strerror(errno);
		sm_close_fd(sm);
		/* A kept connection the server has closed meanwhile: once
		 * more on a new one.  Anything else fails now. */
		if (!kept || (strcmp(why, "lost connection") != 0
		    && strcmp(why, strerror(EPIPE)) != 0
		    && strcmp(why, strerror(ECONNRESET)) != 0))
			break;
		why = NULL;
	}
	map_set_reason(&sm->map, "%s: %s", sm->map.title,
	    why ? why : "lost connection");
	return -1;
}

static enum map_status
sm_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_socketmap *sm = (struct map_socketmap *)map;
	size_t body = strlen(sm->name) + 1 + strlen(key);
	char head[32];
	char *req;
	size_t hlen;
	const char *r, *sp;
	enum map_status st;

	hlen = (size_t)snprintf(head, sizeof(head), "%zu:", body);
	req = xmalloc(hlen + body + 2);
	memcpy(req, head, hlen);
	memcpy(req + hlen, sm->name, strlen(sm->name));
	req[hlen + strlen(sm->name)] = ' ';
	memcpy(req + hlen + strlen(sm->name) + 1, key, strlen(key));
	req[hlen + body] = ',';
	req[hlen + body + 1] = 0;
	if (sm_ask(sm, req, hlen + body + 1) < 0) {
		free(req);
		return MAP_TEMPFAIL;
	}
	free(req);
	r = buf_str(sm->value);
	sp = strchr(r, ' ');
	if (sp && (size_t)(sp - r) == 2 && strncmp(r, "OK", 2) == 0) {
		/* The value is what follows "OK ". */
		*value_r = sp + 1;
		st = MAP_FOUND;
	} else if (sp && (size_t)(sp - r) == 8 && strncmp(r, "NOTFOUND", 8) == 0) {
		st = MAP_NOTFOUND;
	} else if (sp && (((size_t)(sp - r) == 4 && (strncmp(r, "TEMP", 4) == 0
	    || strncmp(r, "PERM", 4) == 0)) || ((size_t)(sp - r) == 7
	    && strncmp(r, "TIMEOUT", 7) == 0))) {
		map_set_reason(&sm->map, "%s: socketmap server %s reply for "
		    "\"%s\": %.*s", map->title, r[0] == 'P' ? "permanent error"
		    : "temporary error", key, 200, r);
		st = MAP_TEMPFAIL;
	} else {
		map_set_reason(&sm->map, "%s: malformed reply for \"%s\": "
		    "\"%.100s\"", map->title, key, r);
		sm_close_fd(sm);
		st = MAP_TEMPFAIL;
	}
	return st;
}

static void
sm_close(struct map *map)
{
	struct map_socketmap *sm = (struct map_socketmap *)map;

	sm_close_fd(sm);
	free(sm->endpoint);
	free(sm->host);
	free(sm->port);
	free(sm->path);
	free(sm->name);
	buf_free(&sm->value);
	map_free_base(map);
}

static struct map *sm_open(const char *, int, int, char **);

const struct map_driver map_socketmap_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "socketmap",
	.caps = MAP_CAP_PATTERN | MAP_CAP_BLOCKING, .open = sm_open,
};

static struct map *
sm_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_socketmap *sm;
	const char *colon = strrchr(name, ':');
	char *endpoint, *host = NULL, *port = NULL, *path = NULL;

	if ((open_flags & O_ACCMODE) != O_RDONLY) {
		*err_r = map_errorf("socketmap:%s: tables of this type are "
		    "read-only", name);
		return NULL;
	}
	if (colon == NULL || colon[1] == 0 || colon == name) {
		*err_r = map_errorf("socketmap:%s: expected socketmap:inet:host:"
		    "port:name or socketmap:unix:pathname:name", name);
		return NULL;
	}
	endpoint = xstrndup(name, (size_t)(colon - name));
	if (strncmp(endpoint, "unix:", 5) == 0 && endpoint[5]) {
		path = xstrdup(endpoint + 5);
	} else if (strncmp(endpoint, "inet:", 5) == 0) {
		const char *hp = endpoint + 5, *pc = strrchr(hp, ':');

		if (pc && pc > hp && pc[1]) {
			if (*hp == '[' && pc[-1] == ']')
				host = xstrndup(hp + 1, (size_t)(pc - hp - 2));
			else
				host = xstrndup(hp, (size_t)(pc - hp));
			port = xstrdup(pc + 1);
		}
	}
	if (path == NULL && (host == NULL || *host == 0)) {
		*err_r = map_errorf("socketmap:%s: expected socketmap:inet:host:"
		    "port:name or socketmap:unix:pathname:name", name);
		free(endpoint);
		free(host);
		free(port);
		return NULL;
	}
	sm = (struct map_socketmap *)map_alloc(sizeof(*sm),
	    &map_socketmap_driver, name, open_flags, flags);
	sm->endpoint = endpoint;
	sm->host = host;
	sm->port = port;
	sm->path = path;
	sm->name = xstrdup(colon + 1);
	sm->fd = -1;
	sm->value = buf_new(256, SOCKETMAP_MAX_REPLY + 1);
	sm->map.lookup = sm_lookup;
	sm->map.close = sm_close;
	return &sm->map;
}

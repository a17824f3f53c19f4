/* SPDX-License-Identifier: MIT */
/* map_proxy - the proxy: table type, a client of the lookup service
 * (map_proxy.h).
 *
 * Each table instance keeps up to PROXY_IDLE_MAX idle connections.  A
 * request takes an idle connection or opens a new one, writes one
 * attribute list and reads one answer; the connection then goes back to
 * the idle list.  Waiting is a task_wait() on a libevent event of the
 * socket inside a task (when the daemon gave its event base), poll()
 * elsewhere.  Nothing here is shared between table instances, so that
 * map.c's one-call-at-a-time rule per table is all the locking needed. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "htable.h"
#include "mail_vars.h"
#include "map.h"
#include "map_driver.h"
#include "map_loader.h"
#include "map_proxy.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"

#define PROXY_IDLE_MAX	8		/* idle connections kept per table */
#define PROXY_READ_CHUNK 4096

/* Flags that concern only this side. */
#define PROXY_LOCAL_FLAGS	(MAP_FLAG_SURROGATE | MAP_FLAG_EXPLAIN)

static struct event_base *proxy_base;

/* One connection to the service. */
struct proxy_conn {
	int fd;
	struct buf *in;			/* answer bytes read so far */
	struct event *ev;		/* with a base: readiness, timeout */
	struct task_wait wait;
	short what;			/* what the event reported */
	struct proxy_conn *next;
};

struct map_proxy {
	struct map map;
	char *table;			/* "ldap:/etc/postino/users.cf" */
	int rflags;			/* flags sent to the service */
	int opened;			/* the service accepted the table */
	int denied;			/* ... or refused it (proxy_read_maps) */
	char *error;			/* refused: every lookup fails so */
	struct proxy_conn *idle;
	int nidle;
	struct buf *value;
};

/* Cheap driver record: titles say "proxy:TYPE:NAME". */
static const struct map_driver proxy_driver = {
	.magic = MAP_DRIVER_MAGIC,
	.abi = MAP_ABI_VERSION,
	.type = "proxy",
	.caps = MAP_CAP_FIXED,
	.open = NULL,
};

void
map_proxy_event_base(struct event_base *base)
{
	proxy_base = base;
}

void
map_proxy_init(void)
{
	map_proxy_hook(map_proxy_open);
}

static double
proxy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* proxy_service_path - private/$proxymap_service_name, built at each
 * connect so that it follows a chroot. */
static char *
proxy_service_path(void)
{
	const char *svc = var_proxymap_service_name;

	return concatenate(var_queue_directory, "/private/",
	    *svc ? svc : "proxymap", (char *)0);
}

static void
proxy_conn_close(struct proxy_conn *c)
{
	if (c->ev)
		event_free(c->ev);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->in);
	free(c);
}

/* proxy_conn_open - a new non-blocking connection; NULL with reason. */
static struct proxy_conn *
proxy_conn_open(struct buf *reason)
{
	struct sockaddr_un sun;
	struct proxy_conn *c;
	char *path = proxy_service_path();
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		buf_reset(reason);
		buf_printf(reason, "lookup service socket name too long: %s", path);
		free(path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		buf_reset(reason);
		buf_printf(reason, "connect to lookup service %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return NULL;
	}
	free(path);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		buf_reset(reason);
		buf_printf(reason, "lookup service socket: fcntl: %s",
		    strerror(errno));
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->in = buf_new(256, BUF_NOLIMIT);
	return c;
}

static void
proxy_conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;

	c->what = what;
	task_wake(&c->wait);
}

/* proxy_wait - wait until fd is ready for events (POLLIN or POLLOUT) or
 * the deadline passes: 1 ready, 0 timeout, -1 error. */
static int
proxy_wait(struct proxy_conn *c, short events, double deadline)
{
	double left = deadline - proxy_now();

	if (left <= 0)
		return 0;
	if (proxy_base != NULL && task_current() != NULL) {
		struct timeval tv;

		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
		if (c->ev == NULL || event_get_base(c->ev) != proxy_base) {
			if (c->ev)
				event_free(c->ev);
			c->ev = event_new(proxy_base, c->fd, EV_READ | EV_WRITE,
			    proxy_conn_event, c);
			if (c->ev == NULL)
				return -1;
		}
		/* Re-assign for the direction wanted this time. */
		event_del(c->ev);
		if (event_assign(c->ev, proxy_base, c->fd,
		    (events & POLLOUT) ? EV_WRITE : EV_READ, proxy_conn_event,
		    c) < 0)
			return -1;
		task_wait_init(&c->wait);
		c->what = 0;
		if (event_add(c->ev, &tv) < 0)
			return -1;
		task_wait(&c->wait);
		event_del(c->ev);
		return (c->what & EV_TIMEOUT) ? 0 : 1;
	} else {
		struct pollfd pfd = { .fd = c->fd, .events = events };
		int ms = (int)(left * 1000) + 1;
		int n;


		do
			n = poll(&pfd, 1, ms);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -1;
		return n > 0 ? 1 : 0;
	}
}

/* Outcomes of one exchange on one connection. */
enum proxy_io {
	PROXY_IO_OK,			/* an answer was read */
	PROXY_IO_BROKEN,		/* EOF or error before any answer byte */
	PROXY_IO_FAIL,			/* timeout, protocol error, ... */
};

/* proxy_exchange - write out, read one answer into reply. */
static enum proxy_io
proxy_exchange(struct proxy_conn *c, const struct buf *out,
    struct attr_list *reply, double deadline, struct buf *reason)
{
	size_t done = 0;
	const char *err;
	long n;
	ssize_t got;
	int rc;

	/* Outside a task every exchange may wait in poll(): reported even
	 * when the answer happens to be there at once. */
	(void)task_blocking("the lookup service", 0);
	while (done < buf_len(out)) {
		got = send(c->fd, buf_str(out) + done, buf_len(out) - done,
		    MSG_NOSIGNAL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if ((rc = proxy_wait(c, POLLOUT, deadline)) <= 0)
					goto waitfail;
				continue;
			}
			if (done == 0 && (errno == EPIPE || errno == ECONNRESET))
				return PROXY_IO_BROKEN;
			buf_reset(reason);
			buf_printf(reason, "write to lookup service: %s",
			    strerror(errno));
			return PROXY_IO_FAIL;
		}
		done += (size_t)got;
	}
	buf_reset(c->in);
	for (;;) {
		if (buf_reserve(c->in, PROXY_READ_CHUNK) < 0) {
			buf_set(reason, "lookup service answer too large");
			return PROXY_IO_FAIL;
		}
		got = read(c->fd, c->in->data + c->in->len, PROXY_READ_CHUNK);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if ((rc = proxy_wait(c, POLLIN, deadline)) <= 0)
					goto waitfail;
				continue;
			}
			if (buf_len(c->in) == 0 && errno == ECONNRESET)
				return PROXY_IO_BROKEN;
			buf_reset(reason);
			buf_printf(reason, "read from lookup service: %s",
			    strerror(errno));
			return PROXY_IO_FAIL;
		}
		if (got == 0) {
			if (buf_len(c->in) == 0)
				return PROXY_IO_BROKEN;
			buf_set(reason, "lookup service closed the connection "
			    "in the middle of an answer");
			return PROXY_IO_FAIL;
		}
		c->in->len += (size_t)got;
		c->in->data[c->in->len] = 0;
		n = attr_parse(c->in->data, c->in->len, reply, &err);
		if (n < 0) {
			buf_reset(reason);
			buf_printf(reason, "malformed answer from lookup service: %s",
			    err);
			return PROXY_IO_FAIL;
		}
		if (n > 0) {
			if ((size_t)n != buf_len(c->in)) {
				buf_set(reason, "lookup service sent more than one answer");
				return PROXY_IO_FAIL;
			}
			return PROXY_IO_OK;
		}
	}

waitfail:
	buf_reset(reason);
	if (rc == 0)
		buf_printf(reason, "timeout after %lds waiting for the lookup "
		    "service", var_ipc_timeout);
	else
		buf_printf(reason, "waiting for the lookup service: %s",
		    strerror(errno));
	return PROXY_IO_FAIL;
}

/* proxy_call - send req, answer in reply: 0, or -1 with the reason in
 * the table's reason (MAP_TEMPFAIL for the caller).  Everything of one
 * call is its own: tasks may have several calls of one table waiting. */
static int
proxy_call(struct map_proxy *mp, const struct attr_list *req,
    struct attr_list *reply)
{
	struct buf *reason = buf_new(64, 4096);
	struct buf *out = buf_new(256, BUF_NOLIMIT);
	long timeout = var_ipc_timeout;
	double deadline = proxy_now() + (double)(timeout > 0 ? timeout : 3600);
	int result = -1;

	attr_format(req, out);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct proxy_conn *c = mp->idle;
		int reused = c != NULL;
		enum proxy_io io;

		if (c != NULL) {
			mp->idle = c->next;
			mp->nidle--;
		} else if ((c = proxy_conn_open(reason)) == NULL) {
			break;
		}
		c->next = NULL;
		io = proxy_exchange(c, out, reply, deadline, reason);
		if (io == PROXY_IO_OK) {
			if (mp->nidle < PROXY_IDLE_MAX) {
				c->next = mp->idle;
				mp->idle = c;
				mp->nidle++;
			} else {
				proxy_conn_close(c);
			}
			result = 0;
			break;
		}
		proxy_conn_close(c);
		if (io == PROXY_IO_BROKEN && reused)
			continue;		/* the service restarted: once more */
		if (io == PROXY_IO_BROKEN)
			buf_set(reason, "lookup service closed the connection");
		break;
	}
	if (result < 0)
		map_set_reason(&mp->map, "%s: %s", mp->map.title, buf_str(reason));
	buf_free(&reason);
	buf_free(&out);
	return result;
}

static int proxy_open_answer(struct map_proxy *, const struct attr_list *);

/* proxy_do_open - ask the service for the table: 1 accepted, 0 the
 * service could not be asked (try again at the next lookup), -1 refused
 * (mp->error set). */
static int
proxy_do_open(struct map_proxy *mp)
{
	struct attr_list *req = attr_list_new();
	struct attr_list *reply = attr_list_new();
	int rc;

	attr_add(req, "request", "open");
	attr_add(req, "table", mp->table);
	attr_addf(req, "flags", "%d", mp->rflags);
	rc = proxy_call(mp, req, reply) < 0 ? 0 : proxy_open_answer(mp, reply);
	attr_list_free(&req);
	attr_list_free(&reply);
	return rc;
}

/* proxy_open_answer - the service's answer to an open request. */
static int
proxy_open_answer(struct map_proxy *mp, const struct attr_list *reply)
{
	long status, caps;
	const char *why;

	status = attr_get_long(reply, "status", -1);
	why = attr_get(reply, "reason");
	if (mp->opened || mp->error)
		return mp->opened ? 1 : -1;	/* another task was first */
	if (status == PROXY_STAT_OK) {
		caps = attr_get_long(reply, "caps", MAP_CAP_FIXED);
		mp->map.caps = (int)(caps & (MAP_CAP_FIXED | MAP_CAP_PATTERN))
		    | MAP_CAP_BLOCKING | MAP_CAP_REMOTE;
		mp->opened = 1;
		return 1;
	}
	if (status == PROXY_STAT_DENY) {
		mp->denied = 1;
		mp->error = map_errorf("proxy:%s: proxymap: %s", mp->table,
		    PROXY_UNAPPROVED);
	} else {
		mp->error = map_errorf("proxy:%s: proxymap: %s", mp->table,
		    why && *why ? why : "open refused");
	}
	return -1;
}

static enum map_status
proxy_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_proxy *mp = (struct map_proxy *)map;
	struct attr_list *req, *reply;
	enum map_status st = MAP_TEMPFAIL;
	const char *v;
	long status;

	if (mp->error == NULL && !mp->opened && proxy_do_open(mp) == 0)
		return MAP_TEMPFAIL;		/* reason set by proxy_call */
	if (mp->error) {
		map_set_reason(map, "%s", mp->error);
		return MAP_TEMPFAIL;
	}
	req = attr_list_new();
	reply = attr_list_new();
	attr_add(req, "request", "lookup");
	attr_add(req, "table", mp->table);
	attr_addf(req, "flags", "%d", mp->rflags);
	attr_add(req, "key", key);
	if (proxy_call(mp, req, reply) < 0)
		goto done;
	status = attr_get_long(reply, "status", -1);
	switch (status) {
	case PROXY_STAT_OK:
		if ((v = attr_get(reply, "value")) == NULL)
			goto malformed;
		buf_set(mp->value, v);
		*value_r = buf_str(mp->value);
		st = MAP_FOUND;
		goto done;
	case PROXY_STAT_NOKEY:
		st = MAP_NOTFOUND;
		goto done;
	case PROXY_STAT_DENY:
		map_set_reason(map, "proxy:%s: proxymap: %s", mp->table,
		    PROXY_UNAPPROVED);
		goto done;
	case PROXY_STAT_RETRY:
	case PROXY_STAT_CONFIG:
		v = attr_get(reply, "reason");
		map_set_reason(map, "%s", v && *v ? v : "lookup service: "
		    "temporary error");
		goto done;
	default:
		break;
	}
malformed:
	map_set_reason(map, "%s: malformed answer from lookup service",
	    map->title);
done:
	attr_list_free(&req);
	attr_list_free(&reply);
	return st;
}

static void
proxy_close(struct map *map)
{
	struct map_proxy *mp = (struct map_proxy *)map;

	while (mp->idle) {
		struct proxy_conn *c = mp->idle;

		mp->idle = c->next;
		proxy_conn_close(c);
	}
	free(mp->table);
	free(mp->error);
	buf_free(&mp->value);
	map_free_base(map);
}

static int proxy_local_on;
static struct htable *proxy_approved;	/* TYPE:NAME -> (void *)1 */

void
map_proxy_local(int on)
{
	proxy_local_on = on;
}

int
map_proxy_approved(const char *table)
{
	if (proxy_approved == NULL) {
		char *copy, *cp, *word;

		mail_vars_bind(MAIL_VARS_PROXY);
		cp = copy = xstrdup(var_proxy_read_maps);
		proxy_approved = htable_create(64);
		/* Words that are not tables (restriction names) are harmless:
		 * nobody asks for them. */
		while ((word = mystrtok(&cp, " \t\r\n,")) != NULL) {
			while (strncmp(word, "proxy:", 6) == 0)
				word += 6;
			if (strchr(word, ':') != NULL
			    && htable_find(proxy_approved, word) == NULL)
				htable_enter(proxy_approved, word, (void *)1);
		}
		free(copy);
	}
	return htable_find(proxy_approved, table) != NULL;
}

/* proxy_local_open - TABLE in this process, when map_proxy_local() allows
 * it for its type; NULL (and *err_r NULL) to go through the service. */
static struct map *
proxy_local_open(const char *table, int open_flags, int flags, char **err_r)
{
	const struct map_driver *drv;
	char *type = NULL, *name = NULL, *err = NULL;
	struct map *map = NULL;

	*err_r = NULL;
	if (!proxy_local_on || !map_proxy_approved(table)
	    || map_split_type(table, NULL, &type, &name) < 0)
		goto out;
	if ((drv = map_loader_find(type, &err)) == NULL) {
		free(err);
		goto out;
	}
	if (drv->caps & MAP_CAP_BLOCKING)
		goto out;
	map = map_open(table, open_flags, flags, err_r);
out:
	free(type);
	free(name);
	return map;
}

struct map *
map_proxy_open(const char *table, int open_flags, int flags, int routed,
    char **err_r)
{
	struct map_proxy *mp;
	int rc;

	*err_r = NULL;
	/* Tables open at start: ipc_timeout and the service name now. */
	mail_vars_bind(MAIL_VARS_PROXY);
	if ((open_flags & O_ACCMODE) != O_RDONLY) {
		*err_r = map_errorf("proxy:%s: the lookup service answers "
		    "lookups only", table);
		return NULL;
	}
	if (strncmp(table, "proxy:", 6) == 0) {
		*err_r = map_errorf("proxy:%s: proxy: of a proxy: table", table);
		return NULL;
	}
	if (!routed) {
		struct map *map = proxy_local_open(table, open_flags, flags,
		    err_r);

		if (map != NULL || *err_r != NULL)
			return map;
	}
	mp = (struct map_proxy *)map_alloc(sizeof(*mp), &proxy_driver, table,
	    open_flags, flags);
	mp->map.driver = NULL;
	if (routed) {
		/* Logs name the table as the configuration does. */
		free(mp->map.title);
		mp->map.title = xstrdup(table);
	}
	mp->map.caps = MAP_CAP_FIXED | MAP_CAP_BLOCKING | MAP_CAP_REMOTE;
	mp->map.lookup = proxy_lookup;
	mp->map.close = proxy_close;
	mp->table = xstrdup(table);
	mp->rflags = flags & ~PROXY_LOCAL_FLAGS;
	mp->value = buf_new(64, BUF_NOLIMIT);
	rc = proxy_do_open(mp);
	if (rc < 0 && routed && mp->denied) {
		struct map *map;

		msg_warn("%s: not in proxy_read_maps: opened in this process, "
		    "where its lookups may block (add it to proxy_read_maps)",
		    table);
		proxy_close(&mp->map);
		map_proxy_route(0);
		map = map_open(table, open_flags, flags, err_r);
		map_proxy_route(1);
		return map;
	}
	if (rc < 0 && !(flags & MAP_FLAG_SURROGATE)) {
		*err_r = mp->error;
		mp->error = NULL;
		proxy_close(&mp->map);
		return NULL;
	}
	if (mp->error)
		msg_error("%s", mp->error);
	return &mp->map;
}

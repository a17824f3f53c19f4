/* SPDX-License-Identifier: MIT */
/* verify - the address verification service (Postfix's verify(8), the
 * back end of reject_unverified_recipient and reject_unverified_sender;
 * ADDRESS_VERIFICATION_README).
 *
 * master.cf:	verify  unix  -  -  n  -  1  verify
 *
 * Listens on $queue_directory/private/$address_verify_service_name.
 * Requests and answers are the attribute lists of verify_clnt.h: a query
 * returns what the cache knows of an address (deliverable, undeliverable,
 * temporarily undeliverable, or unknown) and, when the address is unknown
 * or its entry is due for a refresh, sends a probe; an update records
 * the outcome of a probe.
 *
 * Probes.  A probe is an ordinary message written to the queue with the
 * cleanup library (canonical and virtual alias rewriting apply, content
 * checks do not), from $address_verify_sender (empty or "<>": the null
 * sender), to the address, carrying the queue file attribute
 * QFILE_ATTR_VERIFY whose value is the address asked about (the one the
 * outcome is recorded for, whatever rewriting makes of the recipient).  qmgr passes the flag to the delivery agents, which
 * go only as far as deciding the recipient's fate (smtp/lmtp: the reply
 * to RCPT TO, then RSET; local/virtual: alias and mailbox resolution,
 * nothing written), and qmgr sends each recipient's outcome here as an
 * update instead of bouncing or deferring: a probe is tried once and
 * leaves the queue.  A probe sent less than VERIFY_PROBE_TTL seconds ago
 * is not sent again.
 *
 * Cache.  address_verify_map names a table that can be updated
 * (btree:FILE, hash:FILE): the entries then survive a restart.  Empty,
 * or a table that cannot be opened for update (a warning says why), and
 * the cache lives in this process's memory only.  An entry is
 * "STATUS:PROBED:UPDATED:REASON" (times in seconds since the epoch;
 * PROBED 0 when no probe is under way).  A deliverable entry is
 * refreshed (a new probe, the old answer is still given meanwhile) after
 * address_verify_positive_refresh_time and forgotten after
 * address_verify_positive_expire_time; an undeliverable one after the
 * negative times.  With address_verify_negative_cache = no, every query
 * of an undeliverable address sends a probe (within the TTL above).  A
 * temporary failure does not replace a deliverable answer that has not
 * expired.
 *
 * Runs on the daemon skeleton (mail_server.h) as a long-lived service
 * (an in-memory cache would be lost with the process).
 *
 * Logs: "probe ID sent for <ADDR>" and, on update, "<ADDR>: STATUS:
 * REASON" at info; problems as warnings. */
#include "postino_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "cleanup.h"
#include "htable.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "task.h"
#include "verify_clnt.h"

#define VERIFY_MAX_REQUEST	(VRFY_ADDR_MAX + 4096)
#define VERIFY_MAX_REASON	1024
#define VERIFY_PROBE_TTL	1000	/* seconds before a probe is resent */

/* One client connection (smtpd, qmgr). */
struct verify_client {
	struct bufferevent *bev;
	struct verify_client *next;
};

/* One cache entry. */
struct verify_ent {
	int status;			/* VRFY_ADDR_* */
	long probed;			/* probe sent at, 0: none pending */
	long updated;			/* status learnt at, 0: never */
	char *reason;
};

static struct event_base *verify_base;
static struct verify_client *verify_clients;
static struct map *verify_map;		/* NULL: the memory cache */
static struct htable *verify_mem;	/* key -> "S:P:U:R" string */

/* verify_key - the cache key of an address: lower-case. */
static char *
verify_key(const char *addr)
{
	char *key = xstrdup(addr);

	for (char *cp = key; *cp; cp++)
		*cp = (char)tolower((unsigned char)*cp);
	return key;
}

/* verify_ent_parse - "S:P:U:R" into *e; -1 when malformed. */
static int
verify_ent_parse(const char *text, struct verify_ent *e)
{
	char *end;
	long v[3];
	const char *cp = text;

	for (int i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtol(cp, &end, 10);
		if (errno != 0 || end == cp || *end != ':')
			return -1;
		cp = end + 1;
	}
	if (v[0] < VRFY_ADDR_OK || v[0] > VRFY_ADDR_TODO)
		return -1;
	e->status = (int)v[0];
	e->probed = v[1];
	e->updated = v[2];
	e->reason = xstrdup(cp);
	return 0;
}

/* verify_get - the entry of key; 1 found, 0 not, -1 table error. */
static int
verify_get(const char *key, struct verify_ent *e)
{
	const char *value = NULL;

	memset(e, 0, sizeof(*e));
	if (verify_map != NULL) {
		switch (map_lookup(verify_map, key, &value)) {
		case MAP_FOUND:
			break;
		case MAP_NOTFOUND:
			return 0;
		case MAP_TEMPFAIL:
			msg_warn("%s: lookup of <%s>: %s", var_address_verify_map,
			    key, map_reason(verify_map));
			return -1;
		}
	} else if ((value = htable_find(verify_mem, key)) == NULL) {
		return 0;
	}
	if (verify_ent_parse(value, e) < 0) {
		msg_warn("%s: bad entry for <%s>: ignored",
		    verify_map ? var_address_verify_map : "cache", key);
		return 0;
	}
	return 1;
}

/* verify_put - store e under key. */
static void
verify_put(const char *key, const struct verify_ent *e)
{
	size_t size = strlen(e->reason ? e->reason : "") + 80;
	char *value = xmalloc(size);

	snprintf(value, size, "%d:%ld:%ld:%s", e->status, e->probed,
	    e->updated, e->reason ? e->reason : "");
	if (verify_map != NULL) {
		/* Written through at once: a killed process loses nothing
		 * (no fsync: a system crash may lose recent entries, which
		 * only costs new probes). */
		if (map_update(verify_map, key, value) < 0
		    || map_commit(verify_map) < 0)
			msg_warn("%s: update of <%s>: %s", var_address_verify_map,
			    key, map_reason(verify_map));
		free(value);
	} else {
		struct htable_entry *he = htable_locate(verify_mem, key);

		if (he != NULL) {
			free(he->value);
			he->value = value;
		} else {
			htable_enter(verify_mem, key, value);
		}
	}
}

/* verify_probe - queue a probe message for addr; 0 sent, -1 not. */
static int
verify_probe(const char *addr)
{
	struct cleanup_state *st;
	const char *id, *reply = NULL;
	const char *sender = var_address_verify_sender;
	char line[VRFY_ADDR_MAX + 64];
	int status;

	if (strcmp(sender, "<>") == 0)
		sender = "";
	/* Address rewriting applies (the probe must take the path real
	 * mail takes); content checks do not. */
	st = cleanup_open(CLEANUP_FLAG_MAP_OK);
	cleanup_set_attr(st, "rewrite_context", "local");
	cleanup_set_attr(st, "protocol", "local");
	cleanup_set_attr(st, QFILE_ATTR_VERIFY, addr);
	cleanup_set_sender(st, sender);
	cleanup_add_rcpt(st, addr, addr, DSN_NOTIFY_NEVER);
	snprintf(line, sizeof(line), "To: <%s>", addr);
	(void)cleanup_line(st, line, strlen(line));
	snprintf(line, sizeof(line), "Subject: probe");
	(void)cleanup_line(st, line, strlen(line));
	(void)cleanup_line(st, "", 0);
	(void)cleanup_line(st, "address verification probe", 26);
	status = cleanup_finish(st, &id, &reply);
	if (status != CLEANUP_STAT_OK) {
		char *text = cleanup_smtp_reply(status, id, reply);

		msg_warn("probe for <%s> not queued: %s", addr, text);
		free(text);
		cleanup_free(&st);
		return -1;
	}
	msg_info("%s: probe sent for <%s>", id, addr);
	cleanup_free(&st);
	return 0;
}

/* verify_probe_task - send the probe for addr (ctx) in a task: cleanup
 * may wait for the lookup service (virtual_alias_maps on ldap:, ...),
 * on the loop.  A probe that could not be queued is forgotten, so that
 * the next query tries again. */
static void
verify_probe_task(void *ctx)
{
	const char *addr = ctx;
	char *key;
	struct verify_ent e;

	if (verify_probe(addr) == 0)
		return;
	key = verify_key(addr);
	if (verify_get(key, &e) > 0) {
		e.probed = 0;
		verify_put(key, &e);
	}
	free(e.reason);
	free(key);
}

static void
verify_probe_done(void *ctx)
{
	free(ctx);
	mail_server_release();
}

/* verify_query - the answer to "request=query". */
static void
verify_query(const char *addr, struct attr_list *reply)
{
	char *key = verify_key(addr);
	struct verify_ent e;
	long now = (long)time(NULL);
	int found, expired = 0, refresh = 0;

	found = verify_get(key, &e);
	if (found < 0) {
		attr_add(reply, "status", "-1");
		free(key);
		return;
	}
	if (found && e.status != VRFY_ADDR_TODO) {
		long age = now - e.updated;

		if (e.status == VRFY_ADDR_OK) {
			expired = age > var_address_verify_positive_expire_time;
			refresh = age > var_address_verify_positive_refresh_time;
		} else {
			expired = age > var_address_verify_negative_expire_time;
			refresh = age > var_address_verify_negative_refresh_time
			    || !var_address_verify_negative_cache;
		}
	}
	if (!found || expired) {
		free(e.reason);
		e.status = VRFY_ADDR_TODO;
		e.updated = 0;
		e.reason = xstrdup("Address verification in progress");
		refresh = 1;
		if (!found)
			e.probed = 0;
	}
	if (e.status == VRFY_ADDR_TODO)
		refresh = 1;
	if (refresh && (e.probed == 0 || now - e.probed > VERIFY_PROBE_TTL
	    || now < e.probed)) {
		/* Marked first, sent by a task (the answer does not wait). */
		e.probed = now;
		verify_put(key, &e);
		mail_server_hold();
		(void)task_start(verify_probe_task, xstrdup(addr),
		    verify_probe_done, 0);
	}
	attr_add(reply, "status", "0");
	attr_addf(reply, "recipient_status", "%d", e.status);
	attr_add(reply, "reason", e.reason ? e.reason : "");
	free(e.reason);
	free(key);
}

/* verify_update - "request=update": the outcome of a probe. */
static void
verify_update(const char *addr, int status, const char *reason,
    struct attr_list *reply)
{
	char *key = verify_key(addr);
	struct verify_ent old, e;
	long now = (long)time(NULL);
	int found = verify_get(key, &old);

	msg_info("<%s>: %s: %s", addr, verify_clnt_status_name(status), reason);
	if (found > 0 && status == VRFY_ADDR_DEFER && old.status == VRFY_ADDR_OK
	    && now - old.updated <= var_address_verify_positive_expire_time) {
		/* A temporary failure does not undo a fresh "deliverable". */
		old.probed = 0;
		verify_put(key, &old);
	} else {
		e.status = status;
		e.probed = 0;
		e.updated = now;
		e.reason = xstrndup(reason, VERIFY_MAX_REASON);
		for (char *cp = e.reason; *cp; cp++)
			if (*cp == '\n' || *cp == '\r')
				*cp = ' ';
		verify_put(key, &e);
		free(e.reason);
	}
	if (found > 0)
		free(old.reason);
	attr_add(reply, "status", "0");
	free(key);
}

/* verify_request - one request list into its answer. */
static void
verify_request(const struct attr_list *req, struct attr_list *reply)
{
	const char *request = attr_get(req, "request");
	const char *addr = attr_get(req, "address");

	if (request == NULL || addr == NULL || strlen(addr) > VRFY_ADDR_MAX) {
		msg_warn("malformed request");
		attr_add(reply, "status", "-1");
	} else if (strcmp(request, "query") == 0) {
		verify_query(addr, reply);
	} else if (strcmp(request, "update") == 0) {
		long st = attr_get_long(req, "recipient_status", -1);
		const char *reason = attr_get(req, "reason");

		if (st < VRFY_ADDR_OK || st > VRFY_ADDR_TODO) {
			msg_warn("update for <%s>: bad recipient status", addr);
			attr_add(reply, "status", "-1");
		} else {
			verify_update(addr, (int)st, reason ? reason : "", reply);
		}
	} else {
		msg_warn("unknown request \"%.100s\"", request);
		attr_add(reply, "status", "-1");
	}
}

static void
verify_client_free(struct verify_client *c)
{
	struct verify_client **pp;

	for (pp = &verify_clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	bufferevent_free(c->bev);
	free(c);
	mail_server_disconnect();
}

/* verify_answer - mail_server_attr_serve's callback. */
static void
verify_answer(void *ctx, const struct attr_list *req, struct attr_list *reply)
{
	(void)ctx;
	verify_request(req, reply);
}

static void
verify_client_read(struct bufferevent *bev, void *arg)
{
	const char *err = "";

	if (mail_server_attr_serve(bev, VERIFY_MAX_REQUEST, verify_answer, NULL,
	    &err) < 0) {
		msg_warn("client request: %s: disconnecting", err);
		verify_client_free(arg);
	}
}

static void
verify_client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		verify_client_free(arg);
}

static void
verify_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	struct verify_client *c;

	(void)sa;
	(void)salen;
	(void)index;
	c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(verify_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		msg_warn("bufferevent_socket_new failed");
		close(fd);
		free(c);
		mail_server_disconnect();
		return;
	}
	c->next = verify_clients;
	verify_clients = c;
	bufferevent_setcb(c->bev, verify_client_read, NULL, verify_client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
verify_stop(void)
{
	while (verify_clients != NULL)
		verify_client_free(verify_clients);
}

static void
verify_pre_exit(void)
{
	if (verify_map != NULL)
		map_close(&verify_map);
}

/* verify_open_cache - address_verify_map, or the memory cache. */
static void
verify_open_cache(void)
{
	char *err = NULL;

	verify_mem = htable_create(1024);
	if (*var_address_verify_map == 0) {
		msg_info("address_verify_map is empty: the cache is kept in memory");
		return;
	}
	verify_map = map_open(var_address_verify_map, O_RDWR | O_CREAT,
	    MAP_FLAG_FOLD_FIX | MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL
	    | MAP_FLAG_DUP_REPLACE | MAP_FLAG_LOCK, &err);
	if (verify_map == NULL) {
		msg_warn("%s: cannot open for update: %s; the cache is kept in "
		    "memory", var_address_verify_map, err ? err : "unknown error");
		free(err);
	} else if (!(verify_map->caps & MAP_CAP_UPDATE)) {
		msg_warn("%s: table type cannot be updated; the cache is kept in "
		    "memory", var_address_verify_map);
		map_close(&verify_map);
	}
}

int
main(int argc, char **argv)
{
	static const struct mail_server_ops ops = {
		.accept = verify_accept,
		.stop = verify_stop,
		.pre_exit = verify_pre_exit,
		.flags = MAIL_SERVER_LONG_LIVED,
	};

	mail_server_init(argc, argv, "verify");
	mail_vars_bind(MAIL_VARS_VERIFY);
	if (mail_server_listen_count() == 0)
		msg_fatal("no listening socket: verify must be started by the master");
	cleanup_init();
	verify_base = mail_server_base();
	/* The cache file belongs to mail_owner: open it unprivileged. */
	mail_server_ready();
	verify_open_cache();
	return mail_server_run(&ops);
}

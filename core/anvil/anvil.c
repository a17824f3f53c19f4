/* SPDX-License-Identifier: MIT */
/* anvil - session counts and request rates per (service, client), for
 * every smtpd process of an instance (Postfix's anvil(8)).
 *
 * master.cf:	anvil  unix  -  -  n  -  1  anvil
 *
 * Listens on $queue_directory/private/anvil.  Clients (smtpd) keep one
 * connection open and send attribute lists (attr.h), one request at a
 * time, each answered in order:
 *
 *	request=connect ident=ID	status=0 count=N rate=N
 *	request=disconnect ident=ID	status=0
 *	request=message ident=ID	status=0 rate=N
 *	request=recipient ident=ID	status=0 rate=N
 *	request=newtls ident=ID		status=0 rate=N
 *	request=newtls_report ident=ID	status=0 rate=N	(no increment)
 *	request=auth ident=ID		status=0 rate=N
 *	request=lookup ident=ID		status=0 count=N rate=N message=N
 *					recipient=N newtls=N auth=N
 *
 * anything else gets status=-1.  ID is "service:address" (anvil_clnt.h);
 * anvil does not look inside it.  count is the number of connections
 * open now; a rate is the number of events since the entry's time unit
 * started (anvil_rate_time_unit, fixed windows: the first event after a
 * window ended starts a new one and every rate of the entry restarts
 * from 0).  Nothing is kept on disk.
 *
 * Ownership of counts.  Each client connection remembers the connects it
 * registered; a disconnect is honoured only for a connect the same
 * client registered, and when a client goes away (smtpd exited or was
 * killed) the connections it still held are subtracted.  So a restarted
 * smtpd or anvil never leaves counts that nobody will take back.
 *
 * Memory.  An entry with no open connection is forgotten once its time
 * unit is over (a sweep each time unit).  A client that sends more than
 * ANVIL_MAX_REQUEST bytes without finishing a request, or a malformed
 * list, is disconnected with a warning.
 *
 * Logs, every anvil_status_update_time and when the process exits, the
 * largest values seen since the previous report (as Postfix):
 *	statistics: max connection rate 3/60s for (smtp:192.0.2.1) at Dec  5 09:12:01
 *	statistics: max connection count 2 for (smtp:192.0.2.1) at ...
 *	statistics: max message rate 1/60s for (smtp:192.0.2.1) at ...
 *	statistics: max recipient rate 7/60s for (smtp:192.0.2.1) at ...
 *	statistics: max newtls rate ..., max auth rate ...
 *	statistics: max cache size 4 at ...
 *
 * It runs on the daemon skeleton (mail_server.h) as a long-lived service
 * (max_idle and max_use do not apply: the counts live in the process).
 * Reload / master gone: stop accepting, keep serving the clients that
 * are connected (draining smtpd processes) until the last one leaves,
 * then exit.  Stop: drop the clients and exit at once. */
#include "postino_config.h"

#include <errno.h>
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
#include "htable.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"

#define ANVIL_MAX_REQUEST	4096	/* bytes of one request list */
#define ANVIL_MAX_IDENT		512	/* bytes of an ident */
#define ANVIL_MAX_OUTPUT	(1024 * 1024)	/* replies not read yet */

/* Rate kinds, in the order of the statistics lines. */
enum anvil_kind {
	ANVIL_CONN, ANVIL_MAIL, ANVIL_RCPT, ANVIL_NTLS, ANVIL_AUTH,
	ANVIL_NKINDS,
};

static const char *const kind_label[ANVIL_NKINDS] = {
	"connection", "message", "recipient", "newtls", "auth",
};

/* lookup reply names of the rates (Postfix's attribute names). */
static const char *const kind_attr[ANVIL_NKINDS] = {
	"rate", "message", "recipient", "newtls", "auth",
};

/* One (service, client). */
struct anvil_ent {
	char *ident;
	int count;			/* connections open now */
	time_t start;			/* current time unit began */
	int rate[ANVIL_NKINDS];
};

/* One client connection (an smtpd process). */
struct anvil_client {
	struct bufferevent *bev;
	struct htable *held;		/* ident -> (int)connects it registered */
	struct anvil_client *next;
};

/* The largest value since the last report. */
struct anvil_max {
	int value;
	char *ident;
	time_t when;
};

static struct event_base *anvil_base;
static struct htable *anvil_ents;
static struct anvil_client *anvil_clients;
static long anvil_unit;			/* anvil_rate_time_unit, seconds */
static long anvil_status_time;		/* anvil_status_update_time */
static struct anvil_max max_rate[ANVIL_NKINDS];
static struct anvil_max max_count;
static int max_cache;
static time_t max_cache_when;

/* anvil_max_note - remember value when it is the largest so far. */
static void
anvil_max_note(struct anvil_max *m, int value, const char *ident)
{
	if (value <= m->value)
		return;
	m->value = value;
	m->when = time(NULL);
	if (m->ident == NULL || strcmp(m->ident, ident) != 0) {
		free(m->ident);
		m->ident = xstrdup(ident);
	}
}

/* anvil_when - "Dec  5 09:12:01" (syslog's time stamp). */
static const char *
anvil_when(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL
	    || strftime(out, len, "%b %e %H:%M:%S", &tm) == 0)
		snprintf(out, len, "%ld", (long)t);
	return out;
}

/* anvil_status - log the largest values since the last report and start
 * over. */
static void
anvil_status(void)
{
	char when[64];

	for (int k = 0; k < ANVIL_NKINDS; k++) {
		struct anvil_max *m = &max_rate[k];

		if (m->value > 0)
			msg_info("statistics: max %s rate %d/%lds for (%s) at %s",
			    kind_label[k], m->value, anvil_unit, m->ident,
			    anvil_when(m->when, when, sizeof(when)));
		if (k == ANVIL_CONN && max_count.value > 0)
			msg_info("statistics: max connection count %d for (%s) at %s",
			    max_count.value, max_count.ident,
			    anvil_when(max_count.when, when, sizeof(when)));
		m->value = 0;
	}
	max_count.value = 0;
	if (max_cache > 0)
		msg_info("statistics: max cache size %d at %s", max_cache,
		    anvil_when(max_cache_when, when, sizeof(when)));
	max_cache = (int)anvil_ents->used;
	max_cache_when = time(NULL);
	if (max_cache == 0)
		max_cache_when = 0;
}

/* anvil_window - restart the rates when the time unit is over. */
static void
anvil_window(struct anvil_ent *e, time_t now)
{
	if (now - e->start >= anvil_unit || now < e->start) {
		memset(e->rate, 0, sizeof(e->rate));
		e->start = now;
	}
}

/* anvil_ent_get - the entry for ident, created when create is set. */
static struct anvil_ent *
anvil_ent_get(const char *ident, int create)
{
	struct anvil_ent *e = htable_find(anvil_ents, ident);

	if (e == NULL && create) {
		e = xcalloc(1, sizeof(*e));
		e->ident = xstrdup(ident);
		e->start = time(NULL);
		htable_enter(anvil_ents, ident, e);
		if ((int)anvil_ents->used > max_cache) {
			max_cache = (int)anvil_ents->used;
			max_cache_when = time(NULL);
		}
	}
	if (e != NULL)
		anvil_window(e, time(NULL));
	return e;
}

static void
anvil_ent_free(void *ptr)
{
	struct anvil_ent *e = ptr;

	free(e->ident);
	free(e);
}

/* anvil_forget - drop an entry nobody needs any more. */
static void
anvil_forget(struct anvil_ent *e, time_t now)
{
	if (e->count > 0 || (now - e->start < anvil_unit && now >= e->start))
		return;
	htable_delete(anvil_ents, e->ident, anvil_ent_free);
}

/* anvil_sweep - forget idle entries whose time unit is over. */
static void
anvil_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct htable_entry **list = htable_list(anvil_ents);
	time_t now = time(NULL);

	for (int i = 0; list[i]; i++)
		anvil_forget(list[i]->value, now);
	free(list);
}

static void
anvil_status_timer(evutil_socket_t fd, short what, void *arg)
{
	anvil_status();
}

/* anvil_held - how many connects of ident the client registered. */
static int *
anvil_held(struct anvil_client *c, const char *ident, int create)
{
	int *n = htable_find(c->held, ident);

	if (n == NULL && create) {
		n = xcalloc(1, sizeof(*n));
		htable_enter(c->held, ident, n);
	}
	return n;
}

/* anvil_event - count one rate event of kind; returns the rate. */
static int
anvil_event(const char *ident, enum anvil_kind kind, int increment)
{
	struct anvil_ent *e = anvil_ent_get(ident, increment);

	if (e == NULL)
		return 0;
	if (increment) {
		e->rate[kind]++;
		anvil_max_note(&max_rate[kind], e->rate[kind], ident);
	}
	return e->rate[kind];
}

/* anvil_request - one request; the reply goes into reply. */
static void
anvil_request(struct anvil_client *c, const struct attr_list *req,
    struct attr_list *reply)
{
	const char *request = attr_get(req, "request");
	const char *ident = attr_get(req, "ident");
	struct anvil_ent *e;
	int *held;

	if (request == NULL || ident == NULL || *ident == 0
	    || strlen(ident) > ANVIL_MAX_IDENT) {
		msg_warn("bad request: missing request or ident attribute");
		attr_add(reply, "status", "-1");
		return;
	}
	if (strcmp(request, "connect") == 0) {
		e = anvil_ent_get(ident, 1);
		e->count++;
		e->rate[ANVIL_CONN]++;
		(*anvil_held(c, ident, 1))++;
		anvil_max_note(&max_count, e->count, ident);
		anvil_max_note(&max_rate[ANVIL_CONN], e->rate[ANVIL_CONN], ident);
		attr_add(reply, "status", "0");
		attr_addf(reply, "count", "%d", e->count);
		attr_addf(reply, "rate", "%d", e->rate[ANVIL_CONN]);
	} else if (strcmp(request, "disconnect") == 0) {
		/* Only what this client registered: a disconnect meant for a
		 * previous anvil process is ignored. */
		if ((held = anvil_held(c, ident, 0)) != NULL && *held > 0) {
			if (--*held == 0)
				htable_delete(c->held, ident, free);
			if ((e = anvil_ent_get(ident, 0)) != NULL && e->count > 0)
				e->count--;
		}
		attr_add(reply, "status", "0");
	} else if (strcmp(request, "message") == 0) {
		attr_add(reply, "status", "0");
		attr_addf(reply, "rate", "%d", anvil_event(ident, ANVIL_MAIL, 1));
	} else if (strcmp(request, "recipient") == 0) {
		attr_add(reply, "status", "0");
		attr_addf(reply, "rate", "%d", anvil_event(ident, ANVIL_RCPT, 1));
	} else if (strcmp(request, "newtls") == 0) {
		attr_add(reply, "status", "0");
		attr_addf(reply, "rate", "%d", anvil_event(ident, ANVIL_NTLS, 1));
	} else if (strcmp(request, "newtls_report") == 0) {
		attr_add(reply, "status", "0");
		attr_addf(reply, "rate", "%d", anvil_event(ident, ANVIL_NTLS, 0));
	} else if (strcmp(request, "auth") == 0) {
		attr_add(reply, "status", "0");
		attr_addf(reply, "rate", "%d", anvil_event(ident, ANVIL_AUTH, 1));
	} else if (strcmp(request, "lookup") == 0) {
		e = anvil_ent_get(ident, 0);
		attr_add(reply, "status", "0");
		attr_addf(reply, "count", "%d", e ? e->count : 0);
		for (int k = 0; k < ANVIL_NKINDS; k++)
			attr_addf(reply, kind_attr[k], "%d", e ? e->rate[k] : 0);
	} else {
		msg_warn("unknown request \"%.100s\"", request);
		attr_add(reply, "status", "-1");
	}
}

/* anvil_client_free - the client went away: give back its connects. */
static void
anvil_client_free(struct anvil_client *c)
{
	struct htable_entry **list = htable_list(c->held);
	struct anvil_client **pp;
	time_t now = time(NULL);

	for (int i = 0; list[i]; i++) {
		struct anvil_ent *e = htable_find(anvil_ents, list[i]->key);
		int n = *(int *)list[i]->value;

		if (e != NULL) {
			e->count = e->count > n ? e->count - n : 0;
			anvil_forget(e, now);
		}
	}
	free(list);
	htable_free(&c->held, free);
	for (pp = &anvil_clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	bufferevent_free(c->bev);
	free(c);
	/* Draining: the skeleton exits after the last one. */
	mail_server_disconnect();
}

/* anvil_answer - mail_server_attr_serve's callback. */
static void
anvil_answer(void *ctx, const struct attr_list *req, struct attr_list *reply)
{
	anvil_request(ctx, req, reply);
}

static void
anvil_client_read(struct bufferevent *bev, void *arg)
{
	struct anvil_client *c = arg;
	const char *err = "";

	/* One request is at most ANVIL_MAX_REQUEST bytes: never look at
	 * more than that at once. */
	if (mail_server_attr_serve(bev, ANVIL_MAX_REQUEST, anvil_answer, c,
	    &err) < 0) {
		msg_warn("client request: %s: disconnecting", err);
		anvil_client_free(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) > ANVIL_MAX_OUTPUT) {
		/* A client that sends requests and reads no replies. */
		msg_warn("client reads no replies: disconnecting");
		anvil_client_free(c);
	}
}

static void
anvil_client_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		anvil_client_free(arg);
}

/* anvil_accept - a new client (the skeleton accepted it). */
static void
anvil_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	struct anvil_client *c;

	c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(anvil_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		msg_warn("bufferevent_socket_new failed");
		close(fd);
		free(c);
		mail_server_disconnect();
		return;
	}
	c->held = htable_create(16);
	c->next = anvil_clients;
	anvil_clients = c;
	bufferevent_setcb(c->bev, anvil_client_read, NULL, anvil_client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* anvil_stop - exit now: the clients are dropped (the skeleton exits
 * after the last one). */
static void
anvil_stop(void)
{
	while (anvil_clients != NULL)
		anvil_client_free(anvil_clients);
}

int
main(int argc, char **argv)
{
	static const struct mail_server_ops ops = {
		.accept = anvil_accept,
		.stop = anvil_stop,
		.pre_exit = anvil_status,
		/* The counts would be lost with the process. */
		.flags = MAIL_SERVER_LONG_LIVED,
	};
	struct timeval tv;

	mail_server_init(argc, argv, "anvil");
	mail_vars_bind(MAIL_VARS_ANVIL);
	anvil_unit = var_anvil_rate_time_unit;
	if (anvil_unit <= 0) {
		msg_warn("anvil_rate_time_unit: must be more than 0: using 60s");
		anvil_unit = 60;
	}
	anvil_status_time = var_anvil_status_update_time;
	if (anvil_status_time <= 0) {
		msg_warn("anvil_status_update_time: must be more than 0: using 600s");
		anvil_status_time = 600;
	}
	if (mail_server_listen_count() == 0)
		msg_fatal("no listening socket: anvil must be started by the master");
	anvil_base = mail_server_base();
	mail_server_ready();
	anvil_ents = htable_create(1024);
	tv.tv_sec = anvil_unit;
	tv.tv_usec = 0;
	event_add(event_new(anvil_base, -1, EV_PERSIST, anvil_sweep, NULL), &tv);
	tv.tv_sec = anvil_status_time;
	event_add(event_new(anvil_base, -1, EV_PERSIST, anvil_status_timer,
	    NULL), &tv);
	return mail_server_run(&ops);
}

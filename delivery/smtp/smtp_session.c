/* SPDX-License-Identifier: MIT */
/* smtp_session - sessions kept open after a transaction, for the next
 * message to the same next hop (Postfix's connection cache, in the
 * process itself: every delivery of the process shares it).
 *
 * A session is kept when caching is on for the destination
 * (smtp_connection_cache_on_demand, or the next hop is listed in
 * smtp_connection_cache_destinations), it has been open less than
 * smtp_connection_reuse_time_limit and used fewer than
 * smtp_connection_reuse_count_limit times (0: no limit).  It waits at
 * most smtp_connection_cache_time_limit; then, or when the server
 * closes it meanwhile, it is closed (QUIT). */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"

static struct smtp_session *cache;

static void
unlink_cached(struct smtp_session *s)
{
	struct smtp_session **pp;

	for (pp = &cache; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = NULL;
	if (s->idle_ev) {
		event_free(s->idle_ev);
		s->idle_ev = NULL;
	}
}

void
smtp_session_close(struct smtp_session *s, int quit)
{
	if (s == NULL)
		return;
	if (quit && s->stream && s->stream->err == 0) {
		/* Best effort, never waiting: the server may have gone. */
		if (send(s->stream->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			s->stream->err = 1;
	}
	smtp_stream_free(&s->stream);
	free(s->addr.host);
	free(s->dest_key);
	free(s->host_label);
	free(s->peer);
	free(s);
}

/* idle_cb - the cache time is over, or the server spoke (a 421, or EOF):
 * either way the session is closed. */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)fd;
	unlink_cached(s);
	smtp_session_close(s, (what & EV_TIMEOUT) != 0);
}

static int
cache_wanted(const char *key, int backlog)
{
	const char *list = smtp_conf.cache_destinations;
	size_t nlen = strcspn(key, "|");	/* the next hop part */

	/* On demand: kept while qmgr reports more mail for the destination
	 * (dest_backlog), and, as qmgr hands a busy destination's mail out
	 * as fast as it comes, for smtp_connection_cache_time_limit after
	 * any delivery: the next message to that server finds it (found
	 * per server, inside the MX walk, so a 4xx there is answered as
	 * from that server). */
	(void)backlog;
	if (smtp_conf.cache_on_demand)
		return 1;
	if (list && *list) {
		char *copy = xstrdup(list), *cp = copy, *tok;
		int found = 0;

		while (!found && (tok = mystrtok(&cp, " \t\r\n,")) != NULL)
			found = strlen(tok) == nlen && strncasecmp(tok, key, nlen) == 0;
		free(copy);
		return found;
	}
	return 0;
}

void
smtp_session_keep(struct smtp_session *s, int backlog)
{
	struct timeval tv = {smtp_conf.cache_time_limit, 0};

	if (s->dest_key == NULL || s->stream->err != 0
	    || !cache_wanted(s->dest_key, backlog)
	    || smtp_conf.cache_time_limit <= 0
	    || (smtp_conf.reuse_count_limit > 0
		&& s->reuse >= smtp_conf.reuse_count_limit)
	    || (smtp_conf.reuse_time_limit > 0
		&& smtp_now() - s->t_open >= (double)smtp_conf.reuse_time_limit)
	    || mail_server_check() != MAIL_SERVER_NONE
	    || s->stream->in_pos < s->stream->in_len) {
		smtp_session_close(s, 1);
		return;
	}
	s->idle_ev = event_new(mail_server_base(), s->stream->fd, EV_READ,
	    idle_cb, s);
	if (s->idle_ev == NULL) {
		smtp_session_close(s, 1);
		return;
	}
	event_add(s->idle_ev, &tv);
	s->next = cache;
	cache = s;
}

struct smtp_session *
smtp_session_take(const char *key)
{
	for (struct smtp_session *s = cache; s; s = s->next) {
		if (s->dest_key && strcasecmp(s->dest_key, key) == 0) {
			unlink_cached(s);
			return s;
		}
	}
	return NULL;
}

void
smtp_session_flush_all(void)
{
	while (cache) {
		struct smtp_session *s = cache;

		unlink_cached(s);
		smtp_session_close(s, 1);
	}
}

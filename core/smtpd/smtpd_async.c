/* SPDX-License-Identifier: MIT */
/* smtpd_async - policy checks off the event loop, so that a directory
 * that hangs (an ldap: or mysql: table waiting for its timeout) never
 * freezes the sessions that do not need it.
 *
 * When the process has opened a table with MAP_CAP_BLOCKING
 * (map_any_blocking()) or a list names check_policy_service (a socket
 * exchange with a policy server, smtpd_policy.c), every command that runs restrictions (HELO,
 * EHLO, MAIL, RCPT, DATA, VRFY) hands them to the thread pool; for RCPT
 * the job also gives the accepted recipient to cleanup (virtual alias
 * and canonical lookups).  The session stops reading while its job runs,
 * exactly as during the queue-file commit, so replies keep their order
 * under pipelining; the reply is sent from the done callback on the loop.
 * Without blocking tables nothing changes: checks run inline.
 *
 * Threads.  The check code and cleanup's address rewriting were written
 * for one thread; they run here under one lock (check_lock), which a job
 * gives up only while it waits: inside map_lookup() of a blocking table
 * (map_set_threaded's hooks) and in DNS queries.  So at most one job runs
 * check code at a time, any number wait for directories and DNS at once,
 * and the map layer (a mutex per table, values copied per thread) keeps
 * two threads off one LDAP/MySQL handle.  The pool grows on demand (up to
 * SMTPD_ASYNC_MAX_THREADS): a job stuck on one table never makes a job
 * that needs only hash: tables wait for a thread.
 *
 * Logs nothing of its own; the checks log as before. */
#include "postino_config.h"

#include <pthread.h>
#include <stdlib.h>

#include "mail_conf.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "smtpd_check_private.h"

#define SMTPD_ASYNC_MAX_THREADS	256	/* grow limit */

int smtpd_async_on;

/* The lock around check code, and whether this thread holds it or gave
 * it up for a wait. */
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int check_held;
static __thread int check_given_up;


struct smtpd_async_job {
	struct smtpd_session *s;
	struct smtpd_async_args a;
	struct smtpd_check_reply r;
	int rc;
	int added;		/* RCPT: the recipient went to cleanup */
};

static void
check_lock_take(void)
{
	pthread_mutex_lock(&check_lock);
	check_held = 1;
}

static void
check_lock_give(void)
{
	check_held = 0;
	pthread_mutex_unlock(&check_lock);
}

/* wait_begin / wait_end - give the lock up around a wait (map hooks). */
static void
wait_begin(void)
{
	if (check_held) {
		check_given_up = 1;
		check_lock_give();
	}
}

static void
wait_end(void)
{
	if (check_given_up) {
		check_given_up = 0;
		check_lock_take();
	}
}

void
smtpd_async_init(void)
{
	static const char *const warm[] = {
		"recipient_delimiter", "myorigin", "mydestination",
		"parent_domain_matches_subdomains", "relay_domains",
		"virtual_alias_domains", "virtual_mailbox_domains",
		"queue_directory", "compatibility_level", "mail_version",
		"smtpd_policy_service_policy_context",
		"smtpd_policy_service_default_action",
		"smtpd_policy_service_timeout", "smtpd_policy_service_max_idle",
		"smtpd_policy_service_max_ttl", "smtpd_policy_service_request_limit",
		"smtpd_policy_service_try_limit", "smtpd_policy_service_retry_delay",
		NULL,
	};
	int policy = smtpd_check_uses_policy();

	if (!map_any_blocking() && !policy)
		return;
	/* Parameters read at run time by the check and rewrite code: expand
	 * them now, so that threads only ever read mail_conf's memo. */
	for (int i = 0; warm[i]; i++)
		(void)mail_conf_str(warm[i]);
	map_set_threaded(wait_begin, wait_end);
	smtpd_check_wait_begin = wait_begin;
	smtpd_check_wait_end = wait_end;
	smtpd_pool_grow_limit(SMTPD_ASYNC_MAX_THREADS);
	smtpd_async_on = 1;
	msg_info("%s in use: policy checks run on worker threads", policy
	    ? "check_policy_service" : "blocking lookup tables");
}

/* async_work - on a worker: the checks, and cleanup for a new recipient. */
static void
async_work(void *ctx)
{
	struct smtpd_async_job *j = ctx;
	struct smtpd_session *s = j->s;
	struct smtpd_check_session cs;

	check_lock_take();
	smtpd_fill_check(s, &cs);
	switch (j->a.verb) {
	case SMTPD_V_CONNECT:
		j->rc = smtpd_check_client(&cs, &j->r);
		break;
	case SMTPD_V_EOD:
		j->rc = smtpd_check_eod(&cs, &j->r);
		break;
	case SMTPD_V_HELO:
	case SMTPD_V_EHLO:
		j->rc = smtpd_check_helo(&cs, j->a.addr, &j->r);
		break;
	case SMTPD_V_MAIL:
		j->rc = smtpd_check_size(&cs, j->a.size, &j->r);
		if (j->rc == 0)
			j->rc = smtpd_check_mail(&cs, j->a.addr, &j->r);
		break;
	case SMTPD_V_RCPT:
		j->rc = smtpd_check_rcpt(&cs, j->a.addr, &j->r);
		if (j->rc == 0) {
			smtpd_rcpt_add(s, j->a.addr, j->a.orcpt, j->a.notify);
			j->added = 1;
		}
		break;
	case SMTPD_V_DATA:
		j->rc = smtpd_check_data(&cs, &j->r);
		break;
	case SMTPD_V_VRFY:
		j->rc = smtpd_check_vrfy(&cs, j->a.addr, &j->r);
		break;
	default:
		msg_panic("smtpd_async: unexpected command %d", j->a.verb);
	}
	check_lock_give();
}

/* async_done - on the loop: the reply, then go on reading. */
static void
async_done(void *ctx)
{
	struct smtpd_async_job *j = ctx;
	struct smtpd_session *s = j->s;

	s->in_pool = 0;
	if (s->dead) {
		smtpd_check_reply_free(&j->r);
		free(j->a.addr);
		free(j->a.orcpt);
		free(j->a.envid);
		free(j);
		s->dead = 0;
		smtpd_close(s);
		return;
	}
	switch (j->a.verb) {
	case SMTPD_V_CONNECT:
		smtpd_connect_checked(s, j->rc, &j->r);
		break;
	case SMTPD_V_EOD:
		smtpd_eod_checked(s, j->rc, &j->r);
		break;
	case SMTPD_V_HELO:
	case SMTPD_V_EHLO:
		smtpd_helo_checked(s, j->a.verb == SMTPD_V_EHLO, j->rc, &j->r);
		free(j->a.addr);
		break;
	case SMTPD_V_MAIL:
		smtpd_mail_checked(s, j->rc, &j->r, j->a.addr, j->a.size,
		    j->a.envid, j->a.ret);
		break;
	case SMTPD_V_RCPT:
		smtpd_rcpt_checked(s, j->rc, &j->r, j->a.addr, j->a.orcpt,
		    j->a.notify, j->added);
		break;
	case SMTPD_V_DATA:
		smtpd_data_checked(s, j->rc, &j->r);
		break;
	case SMTPD_V_VRFY:
		smtpd_vrfy_checked(s, j->rc, &j->r, j->a.addr);
		break;
	}
	free(j);
	/* In the pool again: the message's commit (after EOD). */
	if (s->dead || s->state == SMTPD_ST_CLOSING || s->in_pool)
		return;
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process_input(s);
}

void
smtpd_async_check(struct smtpd_session *s, struct smtpd_async_args *a)
{
	struct smtpd_async_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->a = *a;
	s->in_pool = 1;
	evtimer_del(s->timer);
	bufferevent_disable(s->bev, EV_READ);
	smtpd_pool_run(async_work, async_done, j);
}

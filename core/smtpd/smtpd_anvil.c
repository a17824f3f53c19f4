/* SPDX-License-Identifier: MIT */
/* smtpd_anvil - per-client connection and rate limits through the anvil
 * service, shared by every smtpd process of the instance (Postfix's
 * smtpd_client_*_limit parameters).
 *
 *	smtpd_client_connection_count_limit	connections open at once
 *	smtpd_client_connection_rate_limit	connections per time unit
 *	smtpd_client_message_rate_limit		MAIL FROM per time unit
 *	smtpd_client_recipient_rate_limit	RCPT TO per time unit
 *	smtpd_client_auth_rate_limit		AUTH commands per time unit
 *	smtpd_client_new_tls_session_rate_limit	new (not resumed) TLS
 *						sessions per time unit
 *	smtpd_client_event_limit_exceptions	clients never limited
 *						(default $mynetworks)
 *
 * The time unit is anvil's (anvil_rate_time_unit).  A limit of 0 is off;
 * a client in the exception list is never counted.  The counters are
 * kept per (service, client address): the master.cf service name and
 * the address, as Postfix's.
 *
 * Replies and logs (Postfix's wording):
 *   connect, too many open:  "421 4.7.0 HOST Error: too many connections
 *	from ADDR", "warning: Connection concurrency limit exceeded: N from
 *	NAME[ADDR] for service SERVICE"
 *   connect, too fast:  the same 421, "warning: Connection rate limit
 *	exceeded: N from NAME[ADDR] for service SERVICE"
 *   MAIL:  "450 4.7.1 Error: too much mail from ADDR", "warning: Message
 *	delivery request rate limit exceeded: ..."
 *   RCPT:  "450 4.7.1 Error: too many recipients from ADDR", "warning:
 *	Recipient address rate limit exceeded: ..."
 *   AUTH:  "450 4.7.1 Error: too many AUTH commands from ADDR",
 *	"warning: AUTH command rate limit exceeded: ..."
 *   STARTTLS:  "454 4.7.0 Error: too many new TLS sessions from ADDR";
 *	in wrapper mode (port 465) the connection gets "421 4.7.0 HOST
 *	Error: too many new TLS sessions from ADDR" in plaintext before
 *	any handshake, and is closed; "warning: New TLS session rate limit
 *	exceeded: ..."  A TLS session counts when its handshake completes
 *	and it was not resumed.  The check comes before the handshake and
 *	refuses the one that would go over the limit (Postfix lets that
 *	handshake finish, then says 421): a client over its limit costs no
 *	handshake at all.
 *
 * Blocking.  The connect request is asynchronous: the session waits
 * for anvil's answer (no banner yet, nothing read) while the loop serves
 * the others; disconnects are sent without waiting.  MAIL and RCPT ask
 * synchronously (as Postfix's smtpd does), only when their rate limits
 * are set: anvil is a local process that answers from memory.  Either
 * way an answer that takes more than ANVIL_CLNT_TIMEOUT_MS fails (a
 * synchronous one stalls the loop that long, once per
 * ANVIL_CLNT_BACKOFF seconds, see anvil_clnt.h): the limits are then not
 * enforced for a while and the sessions are served without them, with
 * a warning, as Postfix does when anvil cannot be reached.  An anvil
 * killed and restarted by the master costs nothing: its socket stays
 * with the master, the request waits for the new process. */
#include "postino_config.h"

#include <string.h>
#include <sys/socket.h>

#include "anvil_clnt.h"
#include "mail_params.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "stringops.h"

static struct anvil_clnt *anvil;
static struct match_list *exceptions;
static long count_limit, conn_rate_limit, mail_rate_limit, rcpt_rate_limit;
static long auth_rate_limit, newtls_rate_limit;

/* conf_limit - a limit parameter (name, value v); 0 (off) when not a
 * number >= 0. */
static long
conf_limit(const char *name, const char *v)
{
	long n;

	if (*v == 0)
		return 0;
	if (str_to_long(v, &n) < 0 || n < 0) {
		msg_warn("%s = %s: not a number >= 0: no limit", name, v);
		return 0;
	}
	return n;
}

/* smtpd_anvil_service - the service part of the anvil ident. */
static const char *
smtpd_anvil_service(void)
{
	const char *service = mail_server_service();

	return *service ? service : "smtpd";
}

void
smtpd_anvil_init(void)
{
#define CONF_LIMIT(param)	conf_limit(MAIL_PARAM_NAME(param), var_##param)
	mail_vars_bind(MAIL_VARS_SMTPD);
	count_limit = CONF_LIMIT(smtpd_client_connection_count_limit);
	conn_rate_limit = CONF_LIMIT(smtpd_client_connection_rate_limit);
	mail_rate_limit = CONF_LIMIT(smtpd_client_message_rate_limit);
	rcpt_rate_limit = CONF_LIMIT(smtpd_client_recipient_rate_limit);
	auth_rate_limit = CONF_LIMIT(smtpd_client_auth_rate_limit);
	newtls_rate_limit = CONF_LIMIT(smtpd_client_new_tls_session_rate_limit);
#undef CONF_LIMIT
	if (count_limit == 0 && conn_rate_limit == 0 && mail_rate_limit == 0
	    && rcpt_rate_limit == 0 && auth_rate_limit == 0
	    && newtls_rate_limit == 0)
		return;
	/* Tables in the list open now, while the process may still read
	 * files only root can. */
	exceptions = match_list_create(
	    MAIL_PARAM_NAME(smtpd_client_event_limit_exceptions),
	    var_smtpd_client_event_limit_exceptions,
	    MATCH_LIST_HOSTADDR);
	anvil = anvil_clnt_create(ANVIL_CLNT_SERVICE, ANVIL_CLNT_TIMEOUT_MS);
}

/* smtpd_anvil_limited - is the session's client subject to the limits?
 * A table error in the exception list counts as "not an exception":
 * the limits are the safer side. */
static int
smtpd_anvil_limited(struct smtpd_session *s)
{
	int rc = match_list_match(exceptions, s->name, s->addr);

	if (rc < 0)
		msg_warn("smtpd_client_event_limit_exceptions: %s: applying the "
		    "limits to %s[%s]", match_list_reason(exceptions), s->name,
		    s->addr);
	return rc != 1;
}

/* smtpd_anvil_answer - anvil's count and rate for a new session: greet
 * it, or refuse it. */
static void
smtpd_anvil_answer(int status, int count, int rate, void *ctx)
{
	struct smtpd_session *s = ctx;

	s->in_pool = 0;
	if (status == ANVIL_STAT_OK)
		s->anvil_registered = 1;
	if (s->dead) {
		/* Closed while waiting: free it now. */
		s->dead = 0;
		smtpd_close(s);
		return;
	}
	if (status != ANVIL_STAT_OK) {
		if (!smtpd_anvil_wrapper(s))
			smtpd_greet(s);
		return;
	}
	if (count_limit > 0 && count > count_limit) {
		msg_warn("Connection concurrency limit exceeded: %d from %s[%s] "
		    "for service %s", count, s->name, s->addr,
		    smtpd_anvil_service());
	} else if (conn_rate_limit > 0 && rate > conn_rate_limit) {
		msg_warn("Connection rate limit exceeded: %d from %s[%s] for "
		    "service %s", rate, s->name, s->addr, smtpd_anvil_service());
	} else {
		if (!smtpd_anvil_wrapper(s))
			smtpd_greet(s);
		return;
	}
	smtpd_reply(s, "421 4.7.0 %s Error: too many connections from %s",
	    smtpd_conf.myhostname, s->addr);
	bufferevent_enable(s->bev, EV_WRITE);
	smtpd_close_after_reply(s);
}

int
smtpd_anvil_connect(struct smtpd_session *s)
{
	s->anvil_limited = anvil != NULL && smtpd_anvil_limited(s);
	if (!s->anvil_limited)
		return 0;
	anvil_clnt_event_base(anvil, smtpd_base);
	if (count_limit == 0 && conn_rate_limit == 0)
		return smtpd_anvil_wrapper(s);
	if (anvil_clnt_connect_async(anvil, smtpd_anvil_service(), s->addr,
	    smtpd_anvil_answer, s) != ANVIL_STAT_OK)
		return smtpd_anvil_wrapper(s);
	/* Nothing is read and no timer runs until the answer (or the
	 * client's timeout) comes; a close meanwhile waits for it. */
	s->in_pool = 1;
	return 1;
}

/* smtpd_anvil_refuse_tls - wrapper mode, too many new TLS sessions:
 * the 421 goes out in plaintext, before any handshake. */
static void
smtpd_anvil_refuse_tls(struct smtpd_session *s, int rate)
{
	char line[512];
	int len;

	msg_warn("New TLS session rate limit exceeded: %d from %s[%s] for "
	    "service %s", rate, s->name, s->addr, smtpd_anvil_service());
	len = snprintf(line, sizeof(line), "421 4.7.0 %s Error: too many new "
	    "TLS sessions from %s\r\n", smtpd_conf.myhostname, s->addr);
	/* One try on the non-blocking socket: the line is short. */
	if (len > 0 && (size_t)len < sizeof(line))
		(void)send(s->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	smtpd_close(s);
}

/* smtpd_anvil_wrapper_answer - anvil's new TLS session rate for a
 * wrapper-mode connection: let the handshake start, or refuse it. */
static void
smtpd_anvil_wrapper_answer(int status, int count, int rate, void *ctx)
{
	struct smtpd_session *s = ctx;

	(void)count;
	s->in_pool = 0;
	if (s->dead) {
		s->dead = 0;
		smtpd_close(s);
		return;
	}
	if (status == ANVIL_STAT_OK && rate >= newtls_rate_limit)
		smtpd_anvil_refuse_tls(s, rate + 1);
	else
		smtpd_greet(s);
}

int
smtpd_anvil_wrapper(struct smtpd_session *s)
{
	if (!smtpd_anvil_newtls_limited(s) || !var_smtpd_tls_wrappermode)
		return 0;
	if (anvil_clnt_newtls_stat_async(anvil, smtpd_anvil_service(), s->addr,
	    smtpd_anvil_wrapper_answer, s) != ANVIL_STAT_OK)
		return 0;
	s->in_pool = 1;
	return 1;
}

int
smtpd_anvil_newtls_limited(const struct smtpd_session *s)
{
	return s->anvil_limited && newtls_rate_limit > 0;
}

int
smtpd_anvil_starttls(struct smtpd_session *s)
{
	int rate = 0;

	/* STARTTLS runs in a task: the answer is waited for on the loop. */
	if (!smtpd_anvil_newtls_limited(s)
	    || anvil_clnt_newtls_stat(anvil, smtpd_anvil_service(), s->addr,
	    &rate) != ANVIL_STAT_OK || rate < newtls_rate_limit)
		return 0;
	msg_warn("New TLS session rate limit exceeded: %d from %s[%s] for "
	    "service %s", rate + 1, s->name, s->addr, smtpd_anvil_service());
	smtpd_reply(s, "454 4.7.0 Error: too many new TLS sessions from %s",
	    s->addr);
	return -1;
}

void
smtpd_anvil_newtls(struct smtpd_session *s)
{
	if (smtpd_anvil_newtls_limited(s))
		(void)anvil_clnt_newtls_tell(anvil, smtpd_anvil_service(), s->addr);
}

void
smtpd_anvil_disconnect(struct smtpd_session *s)
{
	if (!s->anvil_registered)
		return;
	s->anvil_registered = 0;
	(void)anvil_clnt_disconnect(anvil, smtpd_anvil_service(), s->addr);
}

int
smtpd_anvil_mail(struct smtpd_session *s)
{
	int rate = 0;

	if (s->anvil_limited && mail_rate_limit > 0)
		/* In the command's task, the answer is waited for on the
		 * loop: the other sessions go on meanwhile. */
		anvil_clnt_event_base(anvil, smtpd_base);
	if (!s->anvil_limited || mail_rate_limit == 0
	    || anvil_clnt_mail(anvil, smtpd_anvil_service(), s->addr, &rate)
	    != ANVIL_STAT_OK || rate <= mail_rate_limit)
		return 0;
	smtpd_reply(s, "450 4.7.1 Error: too much mail from %s", s->addr);
	msg_warn("Message delivery request rate limit exceeded: %d from "
	    "%s[%s] for service %s", rate, s->name, s->addr,
	    smtpd_anvil_service());
	return -1;
}

int
smtpd_anvil_rcpt(struct smtpd_session *s)
{
	int rate = 0;

	if (s->anvil_limited && rcpt_rate_limit > 0)
		/* In the command's task, the answer is waited for on the
		 * loop: the other sessions go on meanwhile. */
		anvil_clnt_event_base(anvil, smtpd_base);
	if (!s->anvil_limited || rcpt_rate_limit == 0
	    || anvil_clnt_rcpt(anvil, smtpd_anvil_service(), s->addr, &rate)
	    != ANVIL_STAT_OK || rate <= rcpt_rate_limit)
		return 0;
	msg_warn("Recipient address rate limit exceeded: %d from %s[%s] for "
	    "service %s", rate, s->name, s->addr, smtpd_anvil_service());
	smtpd_reply(s, "450 4.7.1 Error: too many recipients from %s", s->addr);
	return -1;
}

int
smtpd_anvil_auth(struct smtpd_session *s)
{
	int rate = 0;

	/* AUTH runs in a task: the answer is waited for on the loop. */
	if (!s->anvil_limited || auth_rate_limit == 0
	    || anvil_clnt_auth(anvil, smtpd_anvil_service(), s->addr, &rate)
	    != ANVIL_STAT_OK || rate <= auth_rate_limit)
		return 0;
	msg_warn("AUTH command rate limit exceeded: %d from %s[%s] for "
	    "service %s", rate, s->name, s->addr, smtpd_anvil_service());
	smtpd_reply(s, "450 4.7.1 Error: too many AUTH commands from %s",
	    s->addr);
	return -1;
}

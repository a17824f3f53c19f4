/* SPDX-License-Identifier: MIT */
/* smtpd_proto - the SMTP commands (RFC 5321, with the ESMTP extensions
 * PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152,
 * ENHANCEDSTATUSCODES RFC 2034/3463, DSN RFC 3461).
 *
 * Replies and their enhanced codes follow Postfix so that clients and
 * scripts see what they expect.  Policy decisions come from
 * smtpd_check.c; this file only checks syntax and protocol state. */
#include "postino_config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail_conf.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "smtpd.h"
#include "stringops.h"

#define ADDR_MAX	1024	/* longest address we accept in MAIL/RCPT */

void
smtpd_banner(struct smtpd_session *s)
{
	smtpd_reply(s, "220 %s", smtpd_conf.banner);
}

/* count - statistics for the disconnect line. */
static void
count(struct smtpd_session *s, enum smtpd_verb v, int ok)
{
	s->verb_total[v]++;
	if (ok)
		s->verb_ok[v]++;
}

/* error_reply - a reply that counts as an error; enforce the limits. */
static void
error_reply(struct smtpd_session *s, const char *text)
{
	s->errors++;
	if (s->errors >= smtpd_conf.hard_error_limit) {
		msg_info("too many errors after %s from %s[%s]",
		    s->sender ? (s->rcpt_count ? "RCPT" : "MAIL") : "CONNECT",
		    s->name, s->addr);
		smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
		    smtpd_conf.myhostname);
		smtpd_close_after_reply(s);
		return;
	}
	smtpd_reply(s, "%s", text);
}

/* junk_command - smtpd_junk_command_limit: NOOP, VRFY and RSET (and ETRN,
 * which postino does not have) are free up to the limit since the last
 * delivered message; each one beyond it counts as an error, so that a
 * client cannot hold a session with them forever.  0 when the command
 * may go on, -1 when the session ends here with 421. */
static int
junk_command(struct smtpd_session *s, const char *verb)
{
	if (++s->junk_cmds <= smtpd_conf.junk_limit)
		return 0;
	s->errors++;
	if (s->errors < smtpd_conf.hard_error_limit)
		return 0;
	msg_info("too many errors after %s from %s[%s]", verb, s->name, s->addr);
	smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
	    smtpd_conf.myhostname);
	smtpd_close_after_reply(s);
	return -1;
}

/* hangup - an access table's HANGUP: drop the connection without a
 * reply (as Postfix); the session closes from its timer, once the input
 * loop has let go of it. */
void
smtpd_hangup(struct smtpd_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	struct timeval now = {0, 0};

	evbuffer_drain(out, evbuffer_get_length(out));
	(void)shutdown(s->fd, SHUT_RDWR);
	s->hangup = 1;
	s->state = SMTPD_ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &now);
}

/* check_reply - send a policy reply; 1 if it was a refusal. */
static int
check_reply(struct smtpd_session *s, struct smtpd_check_reply *r)
{
	if (r->code == 0)
		return 0;
	if (r->hangup) {
		smtpd_hangup(s);
		return 1;
	}
	s->errors++;
	smtpd_reply(s, "%d %s %s", r->code, r->dsn, r->text ? r->text : "Error");
	if (s->errors >= smtpd_conf.hard_error_limit) {
		smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
		    smtpd_conf.myhostname);
		smtpd_close_after_reply(s);
	}
	return 1;
}

/* xtext_decode - RFC 3461 xtext; NULL if malformed. */
static char *
xtext_decode(const char *in)
{
	char *out = xmalloc(strlen(in) + 1), *o = out;

	for (const char *cp = in; *cp; cp++) {
		if (*cp == '+') {
			unsigned v;

			if (!isxdigit((unsigned char)cp[1]) || !isxdigit((unsigned char)cp[2])) {
				free(out);
				return NULL;
			}
			v = (unsigned)strtoul((char[]){cp[1], cp[2], 0}, NULL, 16);
			if (v < 0x21 || v > 0x7e) {
				free(out);
				return NULL;
			}
			*o++ = (char)v;
			cp += 2;
		} else if ((unsigned char)*cp < 0x21 || (unsigned char)*cp > 0x7e
		    || *cp == '=') {
			free(out);
			return NULL;
		} else {
			*o++ = *cp;
		}
	}
	*o = 0;
	return out;
}

/* parse_path - "<addr>" (or a bare address unless strict) after "FROM:" /
 * "TO:"; strips a source route; returns the address (malloc'd) and sets
 * *rest to the ESMTP parameters.  NULL on syntax error. */
static char *
parse_path(char *arg, char **rest, int allow_empty)
{
	char *cp = skipblanks(arg);
	char *start, *end;
	int quoted = 0;
	char *addr;

	if (*cp == '<') {
		start = ++cp;
		for (end = start; *end; end++) {
			if (*end == '\\' && end[1]) {
				end++;
				continue;
			}
			if (*end == '"')
				quoted = !quoted;
			else if (*end == '>' && !quoted)
				break;
		}
		if (*end != '>')
			return NULL;
		*end = 0;
		*rest = end + 1;
	} else {
		if (smtpd_conf.strict_rfc821)
			return NULL;
		start = cp;
		for (end = start; *end && !ISSPACE((unsigned char)*end); end++) {
			if (*end == '"') {
				for (end++; *end && *end != '"'; end++)
					if (*end == '\\' && end[1])
						end++;
				if (*end == 0)
					return NULL;
			}
		}
		if (*end)
			*end++ = 0;
		*rest = end;
		/* A lone angle bracket is a broken path, not an address. */
		if (strpbrk(start, "<>") != NULL)
			return NULL;
	}
	/* Source route "@a,@b:user@dom": RFC 5321 says ignore it. */
	if (*start == '@') {
		char *colon = strchr(start, ':');

		if (colon == NULL)
			return NULL;
		start = colon + 1;
	}
	if (*start == 0 && !allow_empty)
		return NULL;
	if (strlen(start) > ADDR_MAX)
		return NULL;
	for (cp = start; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			return NULL;
	addr = xstrdup(start);
	return addr;
}

/* next_param - next "NAME=value" ESMTP parameter; NULL at the end. */
static char *
next_param(char **rest)
{
	return mystrtok(rest, " \t");
}

/* keep_actions - remember the message actions of an accepted command
 * (HOLD, DISCARD, REDIRECT, BCC) for the transaction; they reach
 * cleanup at DATA. */
static void
keep_actions(struct smtpd_session *s, const struct smtpd_check_reply *r)
{
	if (r->hold)
		s->hold = 1;
	if (r->discard)
		s->discard = 1;
	if (r->redirect) {
		free(s->redirect);
		s->redirect = xstrdup(r->redirect);
	}
	for (int i = 0; i < r->nbcc; i++) {
		s->bcc = xreallocarray(s->bcc, (size_t)s->nbcc + 2, sizeof(*s->bcc));
		s->bcc[s->nbcc++] = xstrdup(r->bcc[i]);
		s->bcc[s->nbcc] = NULL;
	}
}

void
smtpd_connect(struct smtpd_session *s)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};

	if (smtpd_conf.delay_reject) {
		smtpd_banner(s);
		return;
	}
	if (smtpd_async_on) {
		struct smtpd_async_args a = {.verb = SMTPD_V_CONNECT};

		smtpd_async_check(s, &a);
		return;
	}
	smtpd_fill_check(s, &cs);
	smtpd_connect_checked(s, smtpd_check_client(&cs, &r), &r);
}

/* smtpd_connect_checked - the greeting once the client checks ran. */
void
smtpd_connect_checked(struct smtpd_session *s, int rc,
    struct smtpd_check_reply *r)
{
	char code[8];

	if (rc == 0) {
		keep_actions(s, r);
		smtpd_check_reply_free(r);
		smtpd_banner(s);
		return;
	}
	if (r->hangup) {
		smtpd_check_reply_free(r);
		smtpd_hangup(s);
		return;
	}
	snprintf(code, sizeof(code), "%d", r->code);
	free(s->access_denied);
	s->access_denied = concatenate(code, " ", r->dsn, " ",
	    r->text ? r->text : "Error", (char *)0);
	smtpd_reply(s, "%s", s->access_denied);
	smtpd_check_reply_free(r);
}

/* smtpd_helo_checked - the rest of HELO/EHLO once its checks ran. */
void
smtpd_helo_checked(struct smtpd_session *s, int ehlo, int rc,
    struct smtpd_check_reply *r)
{
	if (rc != 0) {
		count(s, ehlo ? SMTPD_V_EHLO : SMTPD_V_HELO, 0);
		check_reply(s, r);
		smtpd_check_reply_free(r);
		return;
	}
	keep_actions(s, r);
	smtpd_check_reply_free(r);
	count(s, ehlo ? SMTPD_V_EHLO : SMTPD_V_HELO, 1);
	if (!ehlo) {
		smtpd_reply(s, "250 %s", smtpd_conf.myhostname);
		return;
	}
	smtpd_reply(s, "250-%s", smtpd_conf.myhostname);
	smtpd_reply(s, "250-PIPELINING");
	if (smtpd_conf.size_limit > 0)
		smtpd_reply(s, "250-SIZE %ld", smtpd_conf.size_limit);
	else
		smtpd_reply(s, "250-SIZE");
	if (!smtpd_conf.disable_vrfy)
		smtpd_reply(s, "250-VRFY");
	smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250 DSN");
}

static void
do_helo(struct smtpd_session *s, char *arg, int ehlo)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *name = mystrtok(&arg, " \t");

	if (name == NULL) {
		count(s, ehlo ? SMTPD_V_EHLO : SMTPD_V_HELO, 0);
		error_reply(s, ehlo ? "501 Syntax: EHLO hostname"
		    : "501 Syntax: HELO hostname");
		return;
	}
	smtpd_reset_transaction(s);
	free(s->helo);
	s->helo = xstrdup(name);
	/* The name goes into Received:, logs and replies: no control
	 * characters there (a bare CR in a reply is a protocol error). */
	for (char *cp = s->helo; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = '?';
	s->esmtp = ehlo;
	if (smtpd_async_on) {
		struct smtpd_async_args a = {.verb = ehlo ? SMTPD_V_EHLO
		: SMTPD_V_HELO, .addr = xstrdup(s->helo)};

		smtpd_async_check(s, &a);
		return;
	}
	smtpd_fill_check(s, &cs);
	smtpd_helo_checked(s, ehlo, smtpd_check_helo(&cs, s->helo, &r), &r);
}

static void
do_mail(struct smtpd_session *s, char *arg)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *rest, *addr, *param;
	char *envid = NULL;
	const char *ret = NULL;
	long size = 0;
	int rc;

	if (smtpd_conf.helo_required && s->helo == NULL) {
		count(s, SMTPD_V_MAIL, 0);
		error_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->sender) {
		count(s, SMTPD_V_MAIL, 0);
		error_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtpd_anvil_mail(s) < 0) {
		count(s, SMTPD_V_MAIL, 0);
		return;
	}
	if (strncasecmp(arg, "FROM:", 5) != 0
	    || (addr = parse_path(arg + 5, &rest, 1)) == NULL) {
		count(s, SMTPD_V_MAIL, 0);
		if (strncasecmp(arg, "FROM:", 5) != 0)
			error_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		else
			error_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	while ((param = next_param(&rest)) != NULL) {
		if (!s->esmtp) {
			free(addr);
			free(envid);
			count(s, SMTPD_V_MAIL, 0);
			error_reply(s, "555 5.5.4 Unsupported option: parameters need EHLO");
			return;
		}
		if (strncasecmp(param, "SIZE=", 5) == 0) {
			if (str_to_long(param + 5, &size) < 0 || size < 0) {
				free(addr);
				free(envid);
				count(s, SMTPD_V_MAIL, 0);
				error_reply(s, "501 5.5.4 Bad message size syntax");
				return;
			}
		} else if (strncasecmp(param, "BODY=", 5) == 0) {
			if (strcasecmp(param + 5, "8BITMIME") != 0
			    && strcasecmp(param + 5, "7BIT") != 0) {
				free(addr);
				free(envid);
				count(s, SMTPD_V_MAIL, 0);
				error_reply(s, "501 5.5.4 Unsupported BODY parameter");
				return;
			}
		} else if (strncasecmp(param, "RET=", 4) == 0) {
			if (strcasecmp(param + 4, "FULL") == 0)
				ret = "FULL";
			else if (strcasecmp(param + 4, "HDRS") == 0)
				ret = "HDRS";
			else {
				free(addr);
				free(envid);
				count(s, SMTPD_V_MAIL, 0);
				error_reply(s, "501 5.5.4 Bad RET parameter syntax");
				return;
			}
		} else if (strncasecmp(param, "ENVID=", 6) == 0) {
			free(envid);
			if ((envid = xtext_decode(param + 6)) == NULL || strlen(envid) > 100) {
				free(addr);
				free(envid);
				count(s, SMTPD_V_MAIL, 0);
				error_reply(s, "501 5.5.4 Bad ENVID parameter syntax");
				return;
			}
		} else {
			free(addr);
			free(envid);
			count(s, SMTPD_V_MAIL, 0);
			error_reply(s, "555 5.5.4 Unsupported option: MAIL parameter");
			return;
		}
	}
	if (smtpd_conf.size_limit > 0 && size > smtpd_conf.size_limit) {
		free(addr);
		free(envid);
		count(s, SMTPD_V_MAIL, 0);
		error_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (smtpd_async_on) {
		struct smtpd_async_args a = {.verb = SMTPD_V_MAIL, .addr = addr,
		.size = size, .envid = envid, .ret = ret};

		smtpd_async_check(s, &a);
		return;
	}
	smtpd_fill_check(s, &cs);
	rc = smtpd_check_size(&cs, size, &r);
	if (rc == 0)
		rc = smtpd_check_mail(&cs, addr, &r);
	smtpd_mail_checked(s, rc, &r, addr, size, envid, ret);
}

/* smtpd_mail_checked - the rest of MAIL once its checks ran. */
void
smtpd_mail_checked(struct smtpd_session *s, int rc,
    struct smtpd_check_reply *r, char *addr, long size, char *envid,
    const char *ret)
{
	if (rc != 0) {
		count(s, SMTPD_V_MAIL, 0);
		check_reply(s, r);
		smtpd_check_reply_free(r);
		free(addr);
		free(envid);
		return;
	}
	s->sender = addr;
	keep_actions(s, r);
	smtpd_check_reply_free(r);
	s->mail_size = size;
	s->dsn_envid = envid;
	s->dsn_ret = ret;
	count(s, SMTPD_V_MAIL, 1);
	smtpd_reply(s, "250 2.1.0 Ok");
}

/* parse_notify - NOTIFY=NEVER | SUCCESS,FAILURE,DELAY; -1 if malformed. */
static int
parse_notify(char *value)
{
	int flags = 0;
	char *cp = value, *item;

	while ((item = mystrtok(&cp, ",")) != NULL) {
		if (strcasecmp(item, "NEVER") == 0)
			flags |= DSN_NOTIFY_NEVER;
		else if (strcasecmp(item, "SUCCESS") == 0)
			flags |= DSN_NOTIFY_SUCCESS;
		else if (strcasecmp(item, "FAILURE") == 0)
			flags |= DSN_NOTIFY_FAILURE;
		else if (strcasecmp(item, "DELAY") == 0)
			flags |= DSN_NOTIFY_DELAY;
		else
			return -1;
	}
	if (flags == 0 || ((flags & DSN_NOTIFY_NEVER) && flags != DSN_NOTIFY_NEVER))
		return -1;
	return flags;
}

/* open_message - the queue file, at the first accepted recipient (as
 * Postfix: a session whose recipients are all refused has no queue ID,
 * and log readers count "ID: client=" lines as messages received). */
static void
open_message(struct smtpd_session *s)
{
	s->cleanup = cleanup_open(CLEANUP_FLAGS_DEFAULT);
	msg_info("%s: client=%s[%s]", cleanup_queue_id(s->cleanup), s->name,
	    s->addr);
	cleanup_set_attr(s->cleanup, "client_address", s->addr);
	cleanup_set_attr(s->cleanup, "client_name", s->name);
	cleanup_set_attr(s->cleanup, "client_port", s->port);
	if (s->helo)
		cleanup_set_attr(s->cleanup, "helo", s->helo);
	cleanup_set_attr(s->cleanup, "protocol", s->esmtp ? "ESMTP" : "SMTP");
	if (s->dsn_envid)
		cleanup_set_attr(s->cleanup, "dsn_envid", s->dsn_envid);
	if (s->dsn_ret)
		cleanup_set_attr(s->cleanup, "dsn_ret", s->dsn_ret);
	cleanup_set_sender(s->cleanup, s->sender);
}

static void
do_rcpt(struct smtpd_session *s, char *arg)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *rest, *addr, *param, *orcpt = NULL;
	int notify = 0, rc;

	if (s->sender == NULL) {
		count(s, SMTPD_V_RCPT, 0);
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (smtpd_anvil_rcpt(s) < 0) {
		count(s, SMTPD_V_RCPT, 0);
		return;
	}
	if (strncasecmp(arg, "TO:", 3) != 0
	    || (addr = parse_path(arg + 3, &rest, 0)) == NULL) {
		count(s, SMTPD_V_RCPT, 0);
		if (strncasecmp(arg, "TO:", 3) != 0)
			error_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		else
			error_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	while ((param = next_param(&rest)) != NULL) {
		if (s->esmtp && strncasecmp(param, "NOTIFY=", 7) == 0
		    && (notify = parse_notify(param + 7)) >= 0)
			continue;
		if (s->esmtp && strncasecmp(param, "ORCPT=", 6) == 0) {
			char *semi = strchr(param + 6, ';');

			free(orcpt);
			if (semi && (orcpt = xtext_decode(semi + 1)) != NULL
			    && strlen(orcpt) <= ADDR_MAX)
				continue;
			free(orcpt);
			orcpt = NULL;
		}
		free(addr);
		free(orcpt);
		count(s, SMTPD_V_RCPT, 0);
		error_reply(s, "555 5.5.4 Unsupported option: RCPT parameter");
		return;
	}
	if (s->rcpt_count >= smtpd_conf.rcpt_limit) {
		free(addr);
		free(orcpt);
		count(s, SMTPD_V_RCPT, 0);
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (smtpd_async_on) {
		struct smtpd_async_args a = {.verb = SMTPD_V_RCPT, .addr = addr,
		.orcpt = orcpt, .notify = notify};

		smtpd_async_check(s, &a);
		return;
	}
	smtpd_fill_check(s, &cs);
	rc = smtpd_check_rcpt(&cs, addr, &r);
	smtpd_rcpt_checked(s, rc, &r, addr, orcpt, notify, 0);
}

/* smtpd_rcpt_add - give an accepted recipient to cleanup (opening the
 * message at the first one); runs where the checks ran. */
void
smtpd_rcpt_add(struct smtpd_session *s, const char *addr, const char *orcpt,
    int notify)
{
	if (s->cleanup == NULL)
		open_message(s);
	cleanup_add_rcpt(s->cleanup, addr, orcpt ? orcpt : addr, notify);
}

/* smtpd_rcpt_checked - the rest of RCPT once its checks ran (added: the
 * recipient already went to cleanup). */
void
smtpd_rcpt_checked(struct smtpd_session *s, int rc,
    struct smtpd_check_reply *r, char *addr, char *orcpt, int notify,
    int added)
{
	if (rc != 0) {
		count(s, SMTPD_V_RCPT, 0);
		check_reply(s, r);
		smtpd_check_reply_free(r);
		free(addr);
		free(orcpt);
		return;
	}
	if (!added)
		smtpd_rcpt_add(s, addr, orcpt, notify);
	keep_actions(s, r);
	for (int i = 0; i < r->nprepend; i++)
		cleanup_prepend_header(s->cleanup, r->prepend[i]);
	smtpd_check_reply_free(r);
	if (s->first_rcpt == NULL)
		s->first_rcpt = xstrdup(addr);
	s->rcpt_count++;
	free(addr);
	free(orcpt);
	count(s, SMTPD_V_RCPT, 1);
	smtpd_reply(s, "250 2.1.5 Ok");
}

static void
do_data(struct smtpd_session *s, char *arg, int more_input)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};

	if (*skipblanks(arg)) {
		count(s, SMTPD_V_DATA, 0);
		error_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->sender == NULL) {
		count(s, SMTPD_V_DATA, 0);
		error_reply(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (s->rcpt_count == 0) {
		count(s, SMTPD_V_DATA, 0);
		error_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	/* Content sent before the 354 is a client that does not wait. */
	if (more_input && smtpd_conf.forbid_unauth_pipelining) {
		count(s, SMTPD_V_DATA, 0);
		msg_info("improper command pipelining after DATA from %s[%s]",
		    s->name, s->addr);
		smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
		smtpd_close_after_reply(s);
		return;
	}
	if (smtpd_async_on) {
		struct smtpd_async_args a = {.verb = SMTPD_V_DATA};

		smtpd_async_check(s, &a);
		return;
	}
	smtpd_fill_check(s, &cs);
	smtpd_data_checked(s, smtpd_check_data(&cs, &r), &r);
}

/* smtpd_data_checked - the rest of DATA once its checks ran. */
void
smtpd_data_checked(struct smtpd_session *s, int rc,
    struct smtpd_check_reply *r)
{
	if (rc != 0) {
		count(s, SMTPD_V_DATA, 0);
		check_reply(s, r);
		smtpd_check_reply_free(r);
		return;
	}
	keep_actions(s, r);
	smtpd_check_reply_free(r);
	if (s->hold)
		cleanup_add_flags(s->cleanup, CLEANUP_FLAG_HOLD);
	if (s->discard)
		cleanup_add_flags(s->cleanup, CLEANUP_FLAG_DISCARD);
	if (s->redirect)
		cleanup_set_redirect(s->cleanup, s->redirect);
	for (int i = 0; i < s->nbcc; i++)
		cleanup_add_bcc(s->cleanup, s->bcc[i]);
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	smtpd_data_begin(s);
}

static void
do_vrfy(struct smtpd_session *s, char *arg)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *rest, *addr;

	if (smtpd_conf.disable_vrfy) {
		count(s, SMTPD_V_VRFY, 0);
		error_reply(s, "502 5.5.1 VRFY command is disabled");
		return;
	}
	if ((addr = parse_path(arg, &rest, 0)) == NULL) {
		count(s, SMTPD_V_VRFY, 0);
		error_reply(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	if (smtpd_async_on) {
		struct smtpd_async_args a = {.verb = SMTPD_V_VRFY, .addr = addr};

		smtpd_async_check(s, &a);
		return;
	}
	smtpd_fill_check(s, &cs);
	smtpd_vrfy_checked(s, smtpd_check_vrfy(&cs, addr, &r), &r, addr);
}

/* smtpd_vrfy_checked - the rest of VRFY once its checks ran. */
void
smtpd_vrfy_checked(struct smtpd_session *s, int rc,
    struct smtpd_check_reply *r, char *addr)
{
	if (rc != 0 && r->code >= 200 && r->code < 300) {
		/* smtpd_check_vrfy's own answer (252): not a refusal, so
		 * not an error either. */
		count(s, SMTPD_V_VRFY, 1);
		smtpd_reply(s, "%d %s %s", r->code, r->dsn,
		    r->text ? r->text : addr);
	} else if (rc != 0) {
		count(s, SMTPD_V_VRFY, 0);
		check_reply(s, r);
	} else {
		count(s, SMTPD_V_VRFY, 1);
		smtpd_reply(s, "252 2.0.0 %s", addr);
	}
	smtpd_check_reply_free(r);
	free(addr);
}

static const struct {
	const char *name;
	enum smtpd_verb verb;
} commands[] = {
	{"HELO", SMTPD_V_HELO}, {"EHLO", SMTPD_V_EHLO}, {"MAIL", SMTPD_V_MAIL},
	{"RCPT", SMTPD_V_RCPT}, {"DATA", SMTPD_V_DATA}, {"RSET", SMTPD_V_RSET},
	{"NOOP", SMTPD_V_NOOP}, {"VRFY", SMTPD_V_VRFY}, {"QUIT", SMTPD_V_QUIT},
	{"HELP", SMTPD_V_HELP},
};

void
smtpd_command(struct smtpd_session *s, char *line, size_t len, int more_input)
{
	char *arg;
	size_t vlen;
	int v = -1;

	if (memchr(line, 0, len) != NULL) {
		count(s, SMTPD_V_UNKNOWN, 0);
		error_reply(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	vlen = strcspn(line, " \t");
	arg = line + vlen;
	if (*arg)
		arg++;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (vlen == strlen(commands[i].name)
		    && strncasecmp(line, commands[i].name, vlen) == 0) {
			v = commands[i].verb;
			break;
		}
	}
	s->last_cmd = (v < 0 ? SMTPD_V_UNKNOWN : v) + 1;
	/* A client that talks ahead without PIPELINING (or after EHLO/HELO,
	 * which must end a command group) is out of step: RFC 2920. */
	if (more_input && smtpd_conf.forbid_unauth_pipelining && v != SMTPD_V_DATA
	    && (!s->esmtp || v == SMTPD_V_EHLO || v == SMTPD_V_HELO)
	    && v != SMTPD_V_QUIT) {
		const char *verb = "CONNECT";

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if ((int)commands[i].verb == v)
				verb = commands[i].name;
		msg_info("improper command pipelining after %s from %s[%s]",
		    verb, s->name, s->addr);
		smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
		smtpd_close_after_reply(s);
		return;
	}
	/* Refused at connect time (smtpd_delay_reject = no): only QUIT. */
	if (s->access_denied && v != SMTPD_V_QUIT) {
		count(s, v < 0 ? SMTPD_V_UNKNOWN : (enum smtpd_verb)v, 0);
		if (strncmp(s->access_denied, "421", 3) == 0) {
			smtpd_reply(s, "%s", s->access_denied);
			smtpd_close_after_reply(s);
			return;
		}
		{
			char text[400];

			snprintf(text, sizeof(text), "503 5.7.0 Error: access denied "
			    "for %s[%s]", s->name, s->addr);
			error_reply(s, text);
		}
		return;
	}
	switch (v) {
	case SMTPD_V_HELO:
		do_helo(s, arg, 0);
		break;
	case SMTPD_V_EHLO:
		do_helo(s, arg, 1);
		break;
	case SMTPD_V_MAIL:
		do_mail(s, arg);
		break;
	case SMTPD_V_RCPT:
		do_rcpt(s, arg);
		break;
	case SMTPD_V_DATA:
		do_data(s, arg, more_input);
		break;
	case SMTPD_V_RSET:
		if (junk_command(s, "RSET") < 0)
			break;
		smtpd_reset_transaction(s);
		count(s, SMTPD_V_RSET, 1);
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_V_NOOP:
		if (junk_command(s, "NOOP") < 0)
			break;
		count(s, SMTPD_V_NOOP, 1);
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_V_VRFY:
		if (junk_command(s, "VRFY") < 0)
			break;
		do_vrfy(s, arg);
		break;
	case SMTPD_V_QUIT:
		count(s, SMTPD_V_QUIT, 1);
		smtpd_reply(s, "221 2.0.0 Bye");
		smtpd_close_after_reply(s);
		break;
	case SMTPD_V_HELP:
		count(s, SMTPD_V_HELP, 1);
		smtpd_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY QUIT HELP");
		smtpd_reply(s, "214 2.0.0 See RFC 5321");
		break;
	default:
		count(s, SMTPD_V_UNKNOWN, 0);
		if (len == 0)
			error_reply(s, "500 5.5.2 Error: bad syntax");
		else
			error_reply(s, "502 5.5.2 Error: command not recognized");
		break;
	}
}

/* SPDX-License-Identifier: MIT */
/* smtpd_proto - the SMTP commands (RFC 5321, with the ESMTP extensions
 * PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152,
 * ENHANCEDSTATUSCODES RFC 2034/3463, DSN RFC 3461).
 *
 * One table (commands[] at the end) says, for each command, in which
 * protocol state it may come (HELO first with smtpd_helo_required,
 * inside or outside a mail transaction, with recipients), whether it
 * takes an argument, whether it counts for smtpd_junk_command_limit,
 * whether it may be pipelined (RFC 2920, smtpd_forbid_unauth_pipelining),
 * and whether it runs restrictions.  The dispatcher (smtpd_command)
 * checks all that, runs the handler and does the counting: the
 * statistics of the "disconnect from" line, the junk commands, and the
 * errors (smtpd_hard_error_limit).  Handlers only do their command and
 * say how it went (enum cmd_result).
 *
 * Commands that run restrictions (HELO, EHLO, MAIL, RCPT, DATA, VRFY),
 * the client restrictions at connect time and the end-of-data
 * restrictions run inside a task (task.h, smtpd_task): a check that
 * waits for another server (a policy server, DNS, the lookup service)
 * suspends the task, the session reads nothing meanwhile (pipelined
 * commands wait in its input buffer, in order) and the loop serves the
 * other sessions.  The code of the checks looks blocking.
 *
 * Replies and their enhanced codes follow Postfix so that clients and
 * scripts see what they expect.  Policy decisions come from
 * smtpd_check.c; this file only checks syntax and protocol state. */
#include "postino_config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_params.h"
#include "mail_public.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "smtpd.h"
#include "stringops.h"
#include "task.h"
#include "task_event.h"

#define ADDR_MAX	1024	/* longest address we accept in MAIL/RCPT */

void
smtpd_banner(struct smtpd_session *s)
{
	smtpd_reply(s, "220 %s", smtpd_conf.banner);
}

/* Tasks.  A session runs at most one at a time; while it waits,
 * SMTPD_BUSY(s) holds and nothing of the session's input is read. */
struct session_task {
	struct smtpd_session *s;
	smtpd_task_fn *fn;
	void *ctx;
};

static void
session_task_run(void *arg)
{
	struct session_task *st = arg;

	st->fn(st->s, st->ctx);
}

/* session_task_done - the task finished.  When it had to wait, the loop
 * goes on with the session here: free it if it was closed meanwhile,
 * else read the commands that wait. */
static void
session_task_done(void *arg)
{
	struct session_task *st = arg;
	struct smtpd_session *s = st->s;

	free(st);
	s->in_task = 0;
	if (!s->task_waited)
		return;			/* finished at once: the caller goes on */
	s->task_waited = 0;
	if (s->dead) {
		s->dead = 0;
		smtpd_close(s);		/* frees it (already logged) */
		return;
	}
	if (s->state == SMTPD_ST_CLOSING || s->in_pool)
		return;
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process_input(s);
}

void
smtpd_task(struct smtpd_session *s, smtpd_task_fn *fn, void *ctx)
{
	struct session_task *st = xmalloc(sizeof(*st));

	if (s->in_task)
		msg_panic("smtpd_task: the session runs a task already");
	st->s = s;
	st->fn = fn;
	st->ctx = ctx;
	s->in_task = 1;
	s->task_waited = 0;
	(void)task_start(session_task_run, st, session_task_done, 0);
	if (s->in_task) {
		/* It waits: no input, no smtpd_timeout until it is done (the
		 * checks bound their own waits). */
		s->task_waited = 1;
		evtimer_del(s->timer);
		if (!s->dead)
			bufferevent_disable(s->bev, EV_READ);
	}
}

/* How a command went; the dispatcher does the counting. */
enum cmd_result {
	CMD_OK,			/* reply sent: a success */
	CMD_FAIL,		/* reply sent (or a hang-up): not a success,
				 * not an error either */
	CMD_ERROR,		/* refused for syntax or state: a->reply is the
				 * reply, not sent yet; an error */
	CMD_REJECT,		/* refused by a restriction, reply sent: an
				 * error */
	CMD_LATER,		/* goes on (DATA: counted at end of data) */
};

/* What a handler gets. */
struct cmd_args {
	const char *line;	/* the whole command line */
	char *arg;		/* after the verb and one blank */
	size_t len;		/* of the whole line */
	int more_input;		/* more input waits behind this line */
	const char *reply;	/* CMD_ERROR: the reply */
	char text[512];		/* room for a reply made up by a handler */
};

/* count - statistics for the disconnect line. */
static void
count(struct smtpd_session *s, enum smtpd_verb v, int ok)
{
	s->verb_total[v]++;
	if (ok)
		s->verb_ok[v]++;
}

/* too_many_errors - smtpd_hard_error_limit reached: 421 and close. */
static void
too_many_errors(struct smtpd_session *s)
{
	smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
	    smtpd_conf.myhostname);
	smtpd_close_after_reply(s);
}

/* error_reply - a reply that counts as an error; at the hard limit the
 * 421 goes instead of it. */
static void
error_reply(struct smtpd_session *s, const char *text)
{
	s->errors++;
	if (s->errors >= smtpd_conf.hard_error_limit) {
		msg_info("too many errors after %s from %s[%s]",
		    s->sender ? (s->rcpt_count ? "RCPT" : "MAIL") : "CONNECT",
		    s->name, s->addr);
		too_many_errors(s);
		return;
	}
	smtpd_reply(s, "%s", text);
}

/* reject_done - a restriction's refusal was sent: count the error; at
 * the hard limit a 421 follows it. */
static void
reject_done(struct smtpd_session *s)
{
	s->errors++;
	if (s->errors >= smtpd_conf.hard_error_limit)
		too_many_errors(s);
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

/* refused - send a restriction's refusal (takes r): CMD_REJECT, or
 * CMD_FAIL for a hang-up. */
static int
refused(struct smtpd_session *s, struct smtpd_check_reply *r)
{
	if (r->hangup) {
		smtpd_check_reply_free(r);
		smtpd_hangup(s);
		return CMD_FAIL;
	}
	smtpd_reply(s, "%d %s %s", r->code, r->dsn, r->text ? r->text : "Error");
	smtpd_check_reply_free(r);
	return CMD_REJECT;
}

/* syntax - a CMD_ERROR with the reply text (static or in a->text). */
static int
syntax(struct cmd_args *a, const char *reply)
{
	a->reply = reply;
	return CMD_ERROR;
}

char *
smtpd_xtext_decode(const char *in)
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
	if (r->filter) {
		free(s->filter);
		s->filter = xstrdup(r->filter);
	}
	for (int i = 0; i < r->nbcc; i++) {
		s->bcc = xreallocarray(s->bcc, (size_t)s->nbcc + 2, sizeof(*s->bcc));
		s->bcc[s->nbcc++] = xstrdup(r->bcc[i]);
		s->bcc[s->nbcc] = NULL;
	}
}

/* connect_task - smtpd_delay_reject = no: the client restrictions before
 * the greeting.  A refusal replaces the banner and every later command
 * but QUIT gets "503 5.7.0 Error: access denied". */
static void
connect_task(struct smtpd_session *s, void *ctx)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char code[8];

	(void)ctx;
	smtpd_fill_check(s, &cs);
	if (smtpd_check_client(&cs, &r) == 0) {
		keep_actions(s, &r);
		smtpd_check_reply_free(&r);
		smtpd_banner(s);
		return;
	}
	if (r.hangup) {
		smtpd_check_reply_free(&r);
		smtpd_hangup(s);
		return;
	}
	snprintf(code, sizeof(code), "%d", r.code);
	free(s->access_denied);
	s->access_denied = concatenate(code, " ", r.dsn, " ",
	    r.text ? r.text : "Error", (char *)0);
	smtpd_reply(s, "%s", s->access_denied);
	smtpd_check_reply_free(&r);
}

/* milter_connect_task - smtpd_milters hear of the client first (in a
 * task: they may wait), then the greeting as usual. */
static void
milter_connect_task(struct smtpd_session *s, void *ctx)
{
	if (smtpd_milter_connect(s) != 0)
		return;
	if (smtpd_conf.delay_reject) {
		smtpd_banner(s);
		return;
	}
	connect_task(s, ctx);
}

void
smtpd_connect(struct smtpd_session *s)
{
	if (smtpd_milter_active()) {
		smtpd_task(s, milter_connect_task, NULL);
		return;
	}
	if (smtpd_conf.delay_reject) {
		smtpd_banner(s);
		return;
	}
	smtpd_task(s, connect_task, NULL);
}

int
smtpd_ehlo_mask(const char *list)
{
	static const struct {
		const char *name;
		int bit;
	} words[] = {
		{"pipelining", SMTPD_EHLO_PIPELINING}, {"size", SMTPD_EHLO_SIZE},
		{"vrfy", SMTPD_EHLO_VRFY}, {"etrn", SMTPD_EHLO_ETRN},
		{"starttls", SMTPD_EHLO_STARTTLS}, {"auth", SMTPD_EHLO_AUTH},
		{"enhancedstatuscodes", SMTPD_EHLO_ENHANCED},
		{"8bitmime", SMTPD_EHLO_8BITMIME}, {"dsn", SMTPD_EHLO_DSN},
	};
	char *copy = xstrdup(list ? list : ""), *cp = copy, *w;
	int mask = 0;

	while ((w = mystrtok(&cp, ", \t\r\n")) != NULL)
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcasecmp(w, words[i].name) == 0)
				mask |= words[i].bit;
	free(copy);
	return mask;
}

/* ehlo_reply - the EHLO keywords, less those smtpd_discard_ehlo_keywords
 * hides. */
static void
ehlo_reply(struct smtpd_session *s)
{
	int hide = smtpd_conf.ehlo_discard, n = 0;
	char *kw[16];

	/* A milter refused the client (5xx): nothing to offer, as Postfix. */
	if (s->milter_ehlo_short) {
		smtpd_reply(s, "250-%s", smtpd_conf.myhostname);
		smtpd_reply(s, "250 ENHANCEDSTATUSCODES");
		return;
	}

#define EHLO_KW(bit, text) do { \
		if (!(hide & (bit))) \
			kw[n++] = xstrdup(text); \
	} while (0)
	kw[n++] = xstrdup(smtpd_conf.myhostname);
	EHLO_KW(SMTPD_EHLO_PIPELINING, "PIPELINING");
	if (!(hide & SMTPD_EHLO_SIZE)) {
		char size[64];

		if (smtpd_conf.size_limit > 0)
			snprintf(size, sizeof(size), "SIZE %ld", smtpd_conf.size_limit);
		else
			snprintf(size, sizeof(size), "SIZE");
		kw[n++] = xstrdup(size);
	}
	if (!smtpd_conf.disable_vrfy)
		EHLO_KW(SMTPD_EHLO_VRFY, "VRFY");
	EHLO_KW(SMTPD_EHLO_ETRN, "ETRN");
	if (smtpd_tls_offered(s))
		EHLO_KW(SMTPD_EHLO_STARTTLS, "STARTTLS");
	if (!(hide & SMTPD_EHLO_AUTH))
		n += smtpd_sasl_ehlo(s, kw + n, 2);
	EHLO_KW(SMTPD_EHLO_ENHANCED, "ENHANCEDSTATUSCODES");
	EHLO_KW(SMTPD_EHLO_8BITMIME, "8BITMIME");
	EHLO_KW(SMTPD_EHLO_DSN, "DSN");
	if (smtpd_xclient_allowed(s))
		kw[n++] = xstrdup(smtpd_xclient_ehlo());
	if (smtpd_xforward_allowed(s))
		kw[n++] = xstrdup(smtpd_xforward_ehlo());
#undef EHLO_KW
	for (int i = 0; i < n; i++) {
		smtpd_reply(s, "250%c%s", i + 1 < n ? '-' : ' ', kw[i]);
		free(kw[i]);
	}
}

static int
do_helo(struct smtpd_session *s, struct cmd_args *a, int ehlo)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *arg = a->arg;
	char *name = mystrtok(&arg, " \t");

	if (name == NULL)
		return syntax(a, ehlo ? "501 Syntax: EHLO hostname"
		    : "501 Syntax: HELO hostname");
	smtpd_reset_transaction(s);
	free(s->helo);
	s->helo = xstrdup(name);
	/* The name goes into Received:, logs and replies: no control
	 * characters there (a bare CR in a reply is a protocol error). */
	for (char *cp = s->helo; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = '?';
	s->esmtp = ehlo;
	smtpd_fill_check(s, &cs);
	if (smtpd_check_helo(&cs, s->helo, &r) != 0)
		return refused(s, &r);
	keep_actions(s, &r);
	smtpd_check_reply_free(&r);
	smtpd_milter_helo(s);
	if (!ehlo) {
		smtpd_reply(s, "250 %s", smtpd_conf.myhostname);
		return CMD_OK;
	}
	ehlo_reply(s);
	return CMD_OK;
}

static int
cmd_helo(struct smtpd_session *s, struct cmd_args *a)
{
	return do_helo(s, a, 0);
}

static int
cmd_ehlo(struct smtpd_session *s, struct cmd_args *a)
{
	return do_helo(s, a, 1);
}

static int
cmd_mail(struct smtpd_session *s, struct cmd_args *a)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *rest, *addr, *param;
	char *envid = NULL;
	const char *ret = NULL, *bad = NULL;
	const char *params[32];
	int nparams = 0;
	long size = 0;
	int rc;

	if (smtpd_anvil_mail(s) < 0)
		return CMD_REJECT;
	if (strncasecmp(a->arg, "FROM:", 5) != 0)
		return syntax(a, "501 5.5.4 Syntax: MAIL FROM:<address>");
	if ((addr = parse_path(a->arg + 5, &rest, 1)) == NULL)
		return syntax(a, "501 5.1.7 Bad sender address syntax");
	while (bad == NULL && (param = next_param(&rest)) != NULL) {
		if (nparams < (int)(sizeof(params) / sizeof(params[0])))
			params[nparams++] = param;
		if (!s->esmtp) {
			bad = "555 5.5.4 Unsupported option: parameters need EHLO";
		} else if (strncasecmp(param, "SIZE=", 5) == 0) {
			if (str_to_long(param + 5, &size) < 0 || size < 0)
				bad = "501 5.5.4 Bad message size syntax";
		} else if (strncasecmp(param, "BODY=", 5) == 0) {
			if (strcasecmp(param + 5, "8BITMIME") != 0
			    && strcasecmp(param + 5, "7BIT") != 0)
				bad = "501 5.5.4 Unsupported BODY parameter";
		} else if ((strncasecmp(param, "RET=", 4) == 0
		    || strncasecmp(param, "ENVID=", 6) == 0)
		    && (smtpd_conf.ehlo_discard & SMTPD_EHLO_DSN)) {
			bad = "501 5.7.1 DSN support is disabled";
		} else if (strncasecmp(param, "RET=", 4) == 0) {
			if (strcasecmp(param + 4, "FULL") == 0)
				ret = "FULL";
			else if (strcasecmp(param + 4, "HDRS") == 0)
				ret = "HDRS";
			else
				bad = "501 5.5.4 Bad RET parameter syntax";
		} else if (strncasecmp(param, "AUTH=", 5) == 0
		    && var_smtpd_sasl_auth_enable) {
			char *who = smtpd_xtext_decode(param + 5);

			/* RFC 4954: kept only from a client that logged in. */
			if (who == NULL)
				bad = "501 5.5.4 Bad AUTH parameter syntax";
			free(s->sasl_sender);
			s->sasl_sender = who && s->sasl_username ? who : NULL;
			if (s->sasl_sender == NULL)
				free(who);
		} else if (strncasecmp(param, "ENVID=", 6) == 0) {
			free(envid);
			if ((envid = smtpd_xtext_decode(param + 6)) == NULL
			    || strlen(envid) > 100)
				bad = "501 5.5.4 Bad ENVID parameter syntax";
		} else {
			bad = "555 5.5.4 Unsupported option: MAIL parameter";
		}
	}
	if (bad == NULL && smtpd_conf.size_limit > 0
	    && size > smtpd_conf.size_limit)
		bad = "552 5.3.4 Message size exceeds fixed limit";
	if (bad) {
		free(addr);
		free(envid);
		return syntax(a, bad);
	}
	if (smtpd_milter_mail_saved(s) < 0) {
		free(addr);
		free(envid);
		return CMD_REJECT;
	}
	smtpd_fill_check(s, &cs);
	rc = smtpd_check_size(&cs, size, &r);
	if (rc == 0)
		rc = smtpd_check_mail(&cs, addr, &r);
	if (rc != 0) {
		free(addr);
		free(envid);
		return refused(s, &r);
	}
	if (smtpd_milter_mail(s, addr, params, nparams) < 0) {
		smtpd_check_reply_free(&r);
		free(addr);
		free(envid);
		return CMD_REJECT;
	}
	s->sender = addr;
	keep_actions(s, &r);
	smtpd_check_reply_free(&r);
	s->mail_size = size;
	s->dsn_envid = envid;
	s->dsn_ret = ret;
	smtpd_reply(s, "250 2.1.0 Ok");
	return CMD_OK;
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
	s->cleanup = cleanup_open(smtpd_conf.cleanup_flags);
	if (s->sasl_username)
		msg_info("%s: client=%s[%s], sasl_method=%s, sasl_username=%s%s%s",
		    cleanup_queue_id(s->cleanup), s->name, s->addr,
		    s->sasl_method, s->sasl_username,
		    s->sasl_sender ? ", sasl_sender=" : "",
		    s->sasl_sender ? s->sasl_sender : "");
	else if (s->xforward_any)
		/* Postfix's shape: the filter, then what it forwarded. */
		msg_info("%s: client=%s[%s]%s%s, orig_client=%s[%s]",
		    cleanup_queue_id(s->cleanup), s->name, s->addr,
		    s->xforward[SMTPD_XF_IDENT] ? ", orig_queue_id=" : "",
		    s->xforward[SMTPD_XF_IDENT] ? s->xforward[SMTPD_XF_IDENT] : "",
		    smtpd_xforward_get(s, SMTPD_XF_NAME, s->name),
		    smtpd_xforward_get(s, SMTPD_XF_ADDR, s->addr));
	else
		msg_info("%s: client=%s[%s]", cleanup_queue_id(s->cleanup),
		    s->name, s->addr);
	{
		const char *proto = s->esmtp ? (s->tls ? "ESMTPS" : "ESMTP")
		    : (s->tls ? "SMTPS" : "SMTP");
		const char *v;

		cleanup_set_attr(s->cleanup, "client_address",
		    smtpd_xforward_get(s, SMTPD_XF_ADDR, s->addr));
		cleanup_set_attr(s->cleanup, "client_name",
		    smtpd_xforward_get(s, SMTPD_XF_NAME, s->name));
		cleanup_set_attr(s->cleanup, "client_port",
		    smtpd_xforward_get(s, SMTPD_XF_PORT, s->port));
		if ((v = smtpd_xforward_get(s, SMTPD_XF_HELO, s->helo)) != NULL)
			cleanup_set_attr(s->cleanup, "helo", v);
		if ((v = smtpd_xforward_get(s, SMTPD_XF_PROTO, proto)) != NULL)
			cleanup_set_attr(s->cleanup, "protocol", v);
		if ((v = smtpd_xforward_get(s, SMTPD_XF_SOURCE, NULL)) != NULL)
			cleanup_set_attr(s->cleanup, "rewrite_context",
			    strcasecmp(v, "LOCAL") == 0 ? "local" : "remote");
	}
	if (s->dsn_envid)
		cleanup_set_attr(s->cleanup, "dsn_envid", s->dsn_envid);
	if (s->dsn_ret)
		cleanup_set_attr(s->cleanup, "dsn_ret", s->dsn_ret);
	cleanup_set_sender(s->cleanup, s->sender);
	if (smtpd_conf.content_filter && *smtpd_conf.content_filter)
		cleanup_set_filter(s->cleanup, smtpd_conf.content_filter);
}

static int
cmd_rcpt(struct smtpd_session *s, struct cmd_args *a)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *rest, *addr, *param, *orcpt = NULL;
	const char *params[32];
	int nparams = 0;
	int notify = 0;

	if (smtpd_anvil_rcpt(s) < 0)
		return CMD_REJECT;
	if (strncasecmp(a->arg, "TO:", 3) != 0)
		return syntax(a, "501 5.5.4 Syntax: RCPT TO:<address>");
	if ((addr = parse_path(a->arg + 3, &rest, 0)) == NULL)
		return syntax(a, "501 5.1.3 Bad recipient address syntax");
	while ((param = next_param(&rest)) != NULL) {
		if (nparams < (int)(sizeof(params) / sizeof(params[0])))
			params[nparams++] = param;
		if (s->esmtp && (smtpd_conf.ehlo_discard & SMTPD_EHLO_DSN)
		    && (strncasecmp(param, "NOTIFY=", 7) == 0
		    || strncasecmp(param, "ORCPT=", 6) == 0)) {
			free(addr);
			free(orcpt);
			return syntax(a, "501 5.7.1 DSN support is disabled");
		}
		if (s->esmtp && strncasecmp(param, "NOTIFY=", 7) == 0
		    && (notify = parse_notify(param + 7)) >= 0)
			continue;
		if (s->esmtp && strncasecmp(param, "ORCPT=", 6) == 0) {
			char *semi = strchr(param + 6, ';');

			free(orcpt);
			if (semi && (orcpt = smtpd_xtext_decode(semi + 1)) != NULL
			    && strlen(orcpt) <= ADDR_MAX)
				continue;
			free(orcpt);
			orcpt = NULL;
		}
		free(addr);
		free(orcpt);
		return syntax(a, "555 5.5.4 Unsupported option: RCPT parameter");
	}
	/* smtpd_recipient_limit: a 452 the client is expected to handle by
	 * sending the rest in another transaction; not an error. */
	if (s->rcpt_count >= smtpd_conf.rcpt_limit) {
		free(addr);
		free(orcpt);
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return CMD_FAIL;
	}
	smtpd_fill_check(s, &cs);
	if (smtpd_check_rcpt(&cs, addr, &r) != 0) {
		free(addr);
		free(orcpt);
		return refused(s, &r);
	}
	if (smtpd_milter_rcpt(s, addr, params, nparams) < 0) {
		smtpd_check_reply_free(&r);
		free(addr);
		free(orcpt);
		return CMD_REJECT;
	}
	if (s->cleanup == NULL)
		open_message(s);
	cleanup_add_rcpt(s->cleanup, addr, orcpt ? orcpt : addr, notify);
	keep_actions(s, &r);
	for (int i = 0; i < r.nprepend; i++)
		cleanup_prepend_header(s->cleanup, r.prepend[i]);
	smtpd_check_reply_free(&r);
	if (s->first_rcpt == NULL)
		s->first_rcpt = xstrdup(addr);
	s->rcpt_count++;
	free(addr);
	free(orcpt);
	smtpd_reply(s, "250 2.1.5 Ok");
	return CMD_OK;
}

static int
cmd_data(struct smtpd_session *s, struct cmd_args *a)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};

	(void)a;
	smtpd_fill_check(s, &cs);
	if (smtpd_check_data(&cs, &r) != 0)
		return refused(s, &r);
	keep_actions(s, &r);
	smtpd_check_reply_free(&r);
	if (smtpd_milter_data(s) < 0)
		return CMD_REJECT;
	if (s->hold)
		cleanup_add_flags(s->cleanup, CLEANUP_FLAG_HOLD);
	if (s->discard)
		cleanup_add_flags(s->cleanup, CLEANUP_FLAG_DISCARD);
	if (s->redirect)
		cleanup_set_redirect(s->cleanup, s->redirect);
	if (s->filter)
		cleanup_set_filter(s->cleanup, s->filter);
	for (int i = 0; i < s->nbcc; i++)
		cleanup_add_bcc(s->cleanup, s->bcc[i]);
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	smtpd_data_begin(s);
	return CMD_LATER;		/* counted at the end of the data */
}

static int
cmd_vrfy(struct smtpd_session *s, struct cmd_args *a)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *rest, *addr;
	int rc;

	if (smtpd_conf.disable_vrfy)
		return syntax(a, "502 5.5.1 VRFY command is disabled");
	if ((addr = parse_path(a->arg, &rest, 0)) == NULL)
		return syntax(a, "501 5.5.4 Syntax: VRFY address");
	smtpd_fill_check(s, &cs);
	rc = smtpd_check_vrfy(&cs, addr, &r);
	if (rc != 0 && r.code >= 200 && r.code < 300) {
		/* smtpd_check_vrfy's own answer (252): not a refusal, so
		 * not an error either. */
		smtpd_reply(s, "%d %s %s", r.code, r.dsn, r.text ? r.text : addr);
		rc = 0;
	} else if (rc == 0) {
		smtpd_reply(s, "252 2.0.0 %s", addr);
	}
	free(addr);
	if (rc != 0)
		return refused(s, &r);
	smtpd_check_reply_free(&r);
	return CMD_OK;
}

/* The sites ETRN may flush (fast_flush_domains). */
static struct match_list *flush_domains;

void
smtpd_etrn_init(void)
{
	match_list_free(&flush_domains);
	if (*var_fast_flush_domains)
		flush_domains = match_list_create(
		    MAIL_PARAM_NAME(fast_flush_domains), var_fast_flush_domains,
		    MATCH_LIST_DOMAIN);
}

/* etrn_site_ok - a domain name or [address], as Postfix accepts. */
static int
etrn_site_ok(const char *site)
{
	size_t len = strlen(site);

	if (len == 0 || len > 255)
		return 0;
	if (site[0] == '[')
		return len > 2 && site[len - 1] == ']'
		    && strspn(site + 1, "0123456789abcdefABCDEF.:") == len - 2;
	for (const char *cp = site; *cp; cp++)
		if (!isalnum((unsigned char)*cp) && *cp != '-' && *cp != '.'
		    && *cp != '_')
			return 0;
	return site[0] != '.' && site[0] != '-';
}

/* cmd_etrn - RFC 1985: retry the deferred mail for a site now, as
 * Postfix does it: the site must pass smtpd_etrn_restrictions and be in
 * fast_flush_domains; qmgr gets the same site flush request as from
 * "postqueue -s SITE". */
static int
cmd_etrn(struct smtpd_session *s, struct cmd_args *a)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *site = a->arg, req[300];
	int fd, rc, n;

	while (*site == ' ' || *site == '\t')
		site++;
	if (*site == 0 || strpbrk(site, " \t") != NULL)
		return syntax(a, "500 5.5.4 Syntax: ETRN domain");
	if (*site == '@' || *site == '#')
		site++;
	if (!etrn_site_ok(site))
		return syntax(a, "501 5.1.2 Error: invalid parameter syntax");
	smtpd_fill_check(s, &cs);
	if ((rc = smtpd_check_etrn(&cs, site, &r)) != 0)
		return refused(s, &r);
	smtpd_check_reply_free(&r);
	n = flush_domains ? match_list_match(flush_domains, site, NULL) : 0;
	if (n == 0) {
		msg_warn("reject: ETRN %.100s... from %s[%s]", site, s->name,
		    s->addr);
		smtpd_reply(s, "459 4.3.0 <%s>: service unavailable", site);
		return CMD_REJECT;
	}
	n = n < 0 ? -1 : snprintf(req, sizeof(req), "%c%s\n",
	    MAIL_SERVER_TRIG_SITE, site);
	if (n < 0 || (size_t)n >= sizeof(req)
	    || (fd = mail_public_connect("qmgr", SOCK_NONBLOCK)) < 0) {
		msg_warn("ETRN %.100s from %s[%s]: unable to reach the queue "
		    "manager: %s", site, s->name, s->addr, n < 0
		    ? match_list_reason(flush_domains) : strerror(errno));
		smtpd_reply(s, "458 4.3.0 Unable to queue messages");
		return CMD_REJECT;
	}
	rc = send(fd, req, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n;
	close(fd);
	if (!rc) {
		msg_warn("ETRN %.100s from %s[%s]: unable to reach the queue "
		    "manager: %m", site, s->name, s->addr);
		smtpd_reply(s, "458 4.3.0 Unable to queue messages");
		return CMD_REJECT;
	}
	smtpd_reply(s, "250 2.0.0 Queuing started");
	return CMD_OK;
}

static int
cmd_rset(struct smtpd_session *s, struct cmd_args *a)
{
	(void)a;
	smtpd_reset_transaction(s);
	smtpd_reply(s, "250 2.0.0 Ok");
	return CMD_OK;
}

static int
cmd_noop(struct smtpd_session *s, struct cmd_args *a)
{
	(void)a;
	smtpd_reply(s, "250 2.0.0 Ok");
	return CMD_OK;
}

static int
cmd_quit(struct smtpd_session *s, struct cmd_args *a)
{
	(void)a;
	smtpd_reply(s, "221 2.0.0 Bye");
	smtpd_close_after_reply(s);
	return CMD_OK;
}

static int
cmd_help(struct smtpd_session *s, struct cmd_args *a)
{
	(void)a;
	smtpd_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY QUIT HELP");
	smtpd_reply(s, "214 2.0.0 See RFC 5321");
	return CMD_OK;
}

/* cmd_unknown - Postfix's replies; smtpd_milters hear of the command
 * first (SMFIC_UNKNOWN) and may answer it instead. */
static int
cmd_unknown(struct smtpd_session *s, struct cmd_args *a)
{
	if (a->len == 0)
		return syntax(a, "500 5.5.2 Error: bad syntax");
	if (smtpd_milter_unknown(s, a->line) < 0)
		return CMD_FAIL;
	return syntax(a, "500 5.5.2 Error: command not recognized");
}

/* cmd_starttls - RFC 3207: the reply goes out in plaintext, then the
 * input loop hands the session to TLS (smtpd_tls_start) before it takes
 * another line.  In a task: anvil may be asked first. */
static int
cmd_starttls(struct smtpd_session *s, struct cmd_args *a)
{
	if (smtpd_tls_level == SMTPD_TLS_NONE || s->tls_handshake)
		return syntax(a, "502 5.5.1 Error: command not implemented");
	if (s->tls)
		return syntax(a, "554 5.5.1 Error: TLS already active");
	if (!smtpd_tls_offered(s))
		return syntax(a, "454 4.7.0 TLS not available due to local problem");
	if (smtpd_anvil_starttls(s) < 0)
		return CMD_REJECT;	/* the 454 is sent */
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	s->tls_start = 1;
	return CMD_OK;
}

/* sasl_result - how an AUTH step went, as a command result. */
static int
sasl_result(struct cmd_args *a, int rc)
{
	switch (rc) {
	case SASL_OK:
		return CMD_OK;
	case SASL_CONT:
		return CMD_LATER;	/* counted when the exchange ends */
	case SASL_FAIL:
		return CMD_REJECT;
	default:
		return syntax(a, a->text);
	}
}

/* cmd_xforward - XFORWARD_README: a content filter's client attributes
 * (smtpd_xforward.c). */
static int
cmd_xforward(struct smtpd_session *s, struct cmd_args *a)
{
	if (!smtpd_xforward_allowed(s))
		return syntax(a, "550 5.7.0 Error: insufficient authorization");
	if (smtpd_xforward_parse(s, a->arg, a->text, sizeof(a->text)) < 0)
		return syntax(a, a->text);
	smtpd_reply(s, "%s", a->text);
	return CMD_OK;
}

/* cmd_xclient - XCLIENT_README: another client for the rest of the
 * session (smtpd_xforward.c), greeted as a new connection. */
static int
cmd_xclient(struct smtpd_session *s, struct cmd_args *a)
{
	if (!smtpd_xclient_allowed(s))
		return syntax(a, "550 5.7.0 Error: insufficient authorization");
	if (smtpd_xclient_parse(s, a->arg, a->text, sizeof(a->text)) < 0)
		return syntax(a, a->text);
	/* The milters hear of the new client as of a new connection. */
	smtpd_milter_free(s);
	milter_connect_task(s, NULL);
	/* Postfix's disconnect line never counts XCLIENT as done
	 * ("xclient=0/1"): neither does ours, for the same log readers. */
	return CMD_FAIL;
}

/* cmd_auth - RFC 4954 (smtpd_sasl.c does the work, in the task). */
static int
cmd_auth(struct smtpd_session *s, struct cmd_args *a)
{
	return sasl_result(a, smtpd_sasl_auth(s, a->arg, a->text,
	    sizeof(a->text)));
}

/* Command flags. */
#define CF_TASK		(1 << 0)	/* runs restrictions: in a task */
#define CF_JUNK		(1 << 1)	/* counts for smtpd_junk_command_limit */
#define CF_HELO_FIRST	(1 << 2)	/* smtpd_helo_required: HELO/EHLO first */
#define CF_NEED_MAIL	(1 << 3)	/* inside a mail transaction only */
#define CF_NO_MAIL	(1 << 4)	/* not inside a mail transaction */
#define CF_NEED_RCPT	(1 << 5)	/* an accepted recipient first */
#define CF_NO_ARG	(1 << 6)	/* takes no argument */
#define CF_PIPE_ESMTP	(1 << 7)	/* may be pipelined after EHLO */
#define CF_PIPE_ANY	(1 << 8)	/* may always be followed by input */
#define CF_GROUP_END	(1 << 9)	/* nothing may follow it unanswered
					 * (checked after the state checks) */
#define CF_DENIED_OK	(1 << 10)	/* allowed after a refusal at connect */
#define CF_NEED_TLS	(1 << 11)	/* smtpd_tls_security_level = encrypt:
					 * after STARTTLS only */

struct smtpd_cmd {
	const char *name;
	enum smtpd_verb verb;
	int flags;
	int (*fn)(struct smtpd_session *s, struct cmd_args *a);
	const char *state_reply;	/* CF_NEED_MAIL / CF_NO_MAIL refusal */
};

static const struct smtpd_cmd commands[] = {
	{"HELO", SMTPD_V_HELO, CF_TASK, cmd_helo, NULL},
	{"EHLO", SMTPD_V_EHLO, CF_TASK, cmd_ehlo, NULL},
	{"MAIL", SMTPD_V_MAIL, CF_TASK | CF_HELO_FIRST | CF_NO_MAIL
	    | CF_PIPE_ESMTP | CF_NEED_TLS, cmd_mail,
	"503 5.5.1 Error: nested MAIL command"},
	{"RCPT", SMTPD_V_RCPT, CF_TASK | CF_NEED_MAIL | CF_PIPE_ESMTP
	    | CF_NEED_TLS, cmd_rcpt, "503 5.5.1 Error: need MAIL command"},
	{"DATA", SMTPD_V_DATA, CF_TASK | CF_NO_ARG | CF_NEED_MAIL | CF_NEED_RCPT
	    | CF_PIPE_ANY | CF_GROUP_END | CF_NEED_TLS, cmd_data,
	"503 5.5.1 Error: need RCPT command"},
	{"RSET", SMTPD_V_RSET, CF_JUNK | CF_PIPE_ESMTP, cmd_rset, NULL},
	{"NOOP", SMTPD_V_NOOP, CF_JUNK | CF_PIPE_ESMTP, cmd_noop, NULL},
	{"VRFY", SMTPD_V_VRFY, CF_TASK | CF_JUNK | CF_PIPE_ESMTP | CF_NEED_TLS,
	cmd_vrfy, NULL},
	{"XCLIENT", SMTPD_V_XCLIENT, CF_TASK | CF_NO_MAIL | CF_PIPE_ESMTP
	    | CF_DENIED_OK, cmd_xclient,
	"503 5.5.1 Error: MAIL transaction in progress"},
	{"XFORWARD", SMTPD_V_XFORWARD, CF_TASK | CF_NO_MAIL | CF_PIPE_ESMTP,
	cmd_xforward, "503 5.5.1 Error: MAIL transaction in progress"},
	{"STARTTLS", SMTPD_V_STARTTLS, CF_TASK | CF_NO_ARG | CF_NO_MAIL
	    | CF_PIPE_ANY, cmd_starttls, "503 5.5.1 Error: MAIL transaction in progress"},
	{"AUTH", SMTPD_V_AUTH, CF_TASK | CF_NO_MAIL | CF_NEED_TLS, cmd_auth,
	"503 5.5.1 Error: MAIL transaction in progress"},
	{"ETRN", SMTPD_V_ETRN, CF_TASK | CF_JUNK | CF_HELO_FIRST | CF_NO_MAIL
	    | CF_PIPE_ESMTP | CF_NEED_TLS, cmd_etrn,
	"503 5.5.1 Error: MAIL transaction in progress"},
	{"QUIT", SMTPD_V_QUIT, CF_PIPE_ANY | CF_DENIED_OK, cmd_quit, NULL},
	{"HELP", SMTPD_V_HELP, CF_PIPE_ESMTP, cmd_help, NULL},
};

/* What is not in the table.  "CONNECT" is what the pipelining log line
 * names then. */
static const struct smtpd_cmd unknown_cmd = {
	"CONNECT", SMTPD_V_UNKNOWN, CF_PIPE_ESMTP, cmd_unknown, NULL,
};
/* ... when milters may wait to hear of it. */
static const struct smtpd_cmd unknown_milter_cmd = {
	"CONNECT", SMTPD_V_UNKNOWN, CF_TASK | CF_PIPE_ESMTP, cmd_unknown, NULL,
};

/* A command on its way through a task. */
struct cmd_run {
	const struct smtpd_cmd *cmd;
	char *line;
	struct cmd_args a;
};

/* cmd_finish - count what the handler did. */
static void
cmd_finish(struct smtpd_session *s, const struct smtpd_cmd *cmd, int result,
    struct cmd_args *a)
{
	switch (result) {
	case CMD_OK:
		count(s, cmd->verb, 1);
		break;
	case CMD_FAIL:
		count(s, cmd->verb, 0);
		break;
	case CMD_ERROR:
		count(s, cmd->verb, 0);
		error_reply(s, a->reply);
		break;
	case CMD_REJECT:
		count(s, cmd->verb, 0);
		reject_done(s);
		break;
	case CMD_LATER:
		break;
	}
}

static void
cmd_task(struct smtpd_session *s, void *ctx)
{
	struct cmd_run *run = ctx;

	cmd_finish(s, run->cmd, run->cmd->fn(s, &run->a), &run->a);
	free(run->line);
	free(run);
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
	too_many_errors(s);
	return -1;
}

/* pipelining - the client talks ahead where RFC 2920 says it must wait
 * (smtpd_forbid_unauth_pipelining): 554 and close. */
static void
pipelining(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	msg_info("improper command pipelining after %s from %s[%s]",
	    cmd->name, s->name, s->addr);
	smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	smtpd_close_after_reply(s);
}

/* dispatch - one command line; in_task: already inside the session's
 * task (a delayed command), so a handler that runs restrictions runs
 * here rather than in a task of its own. */
static void
dispatch(struct smtpd_session *s, char *line, size_t len, int more_input,
    int in_task)
{
	const struct smtpd_cmd *cmd = smtpd_milter_active() ? &unknown_milter_cmd
	    : &unknown_cmd;
	struct cmd_args a = {0};
	size_t vlen;
	int f;

	if (memchr(line, 0, len) != NULL) {
		count(s, SMTPD_V_UNKNOWN, 0);
		error_reply(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	vlen = strcspn(line, " \t");
	a.arg = line + vlen;
	if (*a.arg)
		a.arg++;
	a.line = line;
	a.len = len;
	a.more_input = more_input;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (vlen == strlen(commands[i].name)
		    && strncasecmp(line, commands[i].name, vlen) == 0) {
			cmd = &commands[i];
			break;
		}
	}
	f = cmd->flags;
	s->last_cmd = cmd->verb + 1;
	/* smtpd_tls_req_ccert without a trusted certificate: whatever the
	 * client says first after the handshake ends the session. */
	if (s->tls_refused) {
		count(s, cmd->verb, 0);
		smtpd_reply(s, "421 4.7.1 %s Error: %s", smtpd_conf.myhostname,
		    s->tls_refused);
		smtpd_close_after_reply(s);
		return;
	}
	/* A client that talks ahead without PIPELINING (or after EHLO/HELO,
	 * which must end a command group) is out of step: RFC 2920. */
	if (more_input && smtpd_conf.forbid_unauth_pipelining
	    && !(f & CF_PIPE_ANY) && (!s->esmtp || !(f & CF_PIPE_ESMTP))) {
		pipelining(s, cmd);
		return;
	}
	/* Refused at connect time (smtpd_delay_reject = no): only QUIT. */
	if (s->access_denied && !(f & CF_DENIED_OK)) {
		count(s, cmd->verb, 0);
		if (strncmp(s->access_denied, "421", 3) == 0) {
			smtpd_reply(s, "%s", s->access_denied);
			smtpd_close_after_reply(s);
			return;
		}
		snprintf(a.text, sizeof(a.text), "503 5.7.0 Error: access denied "
		    "for %s[%s]", s->name, s->addr);
		error_reply(s, a.text);
		return;
	}
	if ((f & CF_JUNK) && junk_command(s, cmd->name) < 0)
		return;
	if ((f & CF_NO_ARG) && *skipblanks(a.arg)) {
		snprintf(a.text, sizeof(a.text), "501 5.5.4 Syntax: %s", cmd->name);
		cmd_finish(s, cmd, syntax(&a, a.text), &a);
		return;
	}
	if ((f & CF_NEED_TLS) && smtpd_tls_level == SMTPD_TLS_ENCRYPT && !s->tls) {
		cmd_finish(s, cmd, syntax(&a,
		    "530 5.7.0 Must issue a STARTTLS command first"), &a);
		return;
	}
	if ((f & CF_HELO_FIRST) && smtpd_conf.helo_required && s->helo == NULL) {
		cmd_finish(s, cmd, syntax(&a,
		    "503 5.5.1 Error: send HELO/EHLO first"), &a);
		return;
	}
	if (((f & CF_NEED_MAIL) && s->sender == NULL)
	    || ((f & CF_NO_MAIL) && s->sender != NULL)) {
		cmd_finish(s, cmd, syntax(&a, cmd->state_reply), &a);
		return;
	}
	if ((f & CF_NEED_RCPT) && s->rcpt_count == 0) {
		cmd_finish(s, cmd, syntax(&a,
		    "554 5.5.1 Error: no valid recipients"), &a);
		return;
	}
	/* Content sent before the 354 is a client that does not wait. */
	if ((f & CF_GROUP_END) && more_input
	    && smtpd_conf.forbid_unauth_pipelining) {
		count(s, cmd->verb, 0);
		pipelining(s, cmd);
		return;
	}
	if ((f & CF_TASK) && !in_task) {
		struct cmd_run *run = xmalloc(sizeof(*run));

		/* The line and the arguments must outlive this call. */
		run->cmd = cmd;
		run->line = xmalloc(len + 1);
		memcpy(run->line, line, len + 1);
		run->a = a;
		run->a.arg = run->line + (a.arg - line);
		run->a.line = run->line;
		smtpd_task(s, cmd_task, run);
		return;
	}
	cmd_finish(s, cmd, cmd->fn(s, &a), &a);
}

/* A client's response to a 334, with the AUTH command it belongs to. */
struct sasl_line {
	char *line;
	struct cmd_args a;
};

static void
sasl_cont_task(struct smtpd_session *s, void *ctx)
{
	struct sasl_line *sl = ctx;
	const struct smtpd_cmd *auth = NULL;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].verb == SMTPD_V_AUTH)
			auth = &commands[i];
	cmd_finish(s, auth, sasl_result(&sl->a, smtpd_sasl_cont(s, sl->line,
	    sl->a.text, sizeof(sl->a.text))), &sl->a);
	free(sl->line);
	free(sl);
}

/* A command held back by smtpd_error_sleep_time. */
struct delayed {
	char *line;
	size_t len;
	int more_input;
};

static void
delayed_task(struct smtpd_session *s, void *ctx)
{
	struct delayed *d = ctx;

	task_sleep_ms(smtpd_base, smtpd_conf.error_sleep * 1000L);
	if (!s->dead)
		dispatch(s, d->line, d->len, d->more_input, 1);
	free(d->line);
	free(d);
}

/* smtpd_command - one command line.  A client that has made
 * smtpd_soft_error_limit errors (and fewer than smtpd_hard_error_limit)
 * gets every reply smtpd_error_sleep_time late: the command waits in a
 * task on a timer, the loop serves the others meanwhile, and the
 * session reads nothing more until it is answered. */
void
smtpd_command(struct smtpd_session *s, char *line, size_t len, int more_input)
{
	/* AUTH under way: the line answers its 334. */
	if (s->sasl_mech != NULL) {
		struct sasl_line *sl = xcalloc(1, sizeof(*sl));

		(void)more_input;
		sl->line = xmalloc(len + 1);
		memcpy(sl->line, line, len);
		sl->line[len] = 0;
		smtpd_task(s, sasl_cont_task, sl);
		return;
	}
	if (smtpd_conf.error_sleep > 0 && s->errors >= smtpd_conf.soft_error_limit
	    && s->errors < smtpd_conf.hard_error_limit) {
		struct delayed *d = xmalloc(sizeof(*d));

		d->line = xmalloc(len + 1);
		memcpy(d->line, line, len + 1);
		d->len = len;
		d->more_input = more_input;
		smtpd_task(s, delayed_task, d);
		return;
	}
	dispatch(s, line, len, more_input, 0);
}

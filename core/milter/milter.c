/* SPDX-License-Identifier: MIT */
/* milter - the milter list, the sessions and the SMTP events (see
 * milter.h).  The wire format of one milter connection is in
 * milter_io.c; the message (headers, body, their changes) in
 * milter_msg.c.
 *
 * The protocol (Sendmail 8 libmilter, versions 2 to 6): packets are a
 * 4-byte big-endian length, a command byte and its data.  The MTA opens
 * with OPTNEG (version, the actions it allows, the steps the milter may
 * leave out); the milter answers with its version, the actions it wants,
 * the steps it does not want (SMFIP_NO*) or answers without a reply
 * (SMFIP_NR*), and for version 6 the macros it wants per stage.  Before
 * each event the MTA may send the stage's macros (MACRO, no reply).
 * Each event gets one verdict unless its no-reply flag was asked for;
 * "progress" only resets the timer.  At end of message the changes come
 * first, then the verdict. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "milter.h"
#include "milter_private.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* The macro list parameters, by stage. */
static const char **const macro_params[MILTER_STAGES] = {
	&var_milter_connect_macros, &var_milter_helo_macros,
	&var_milter_mail_macros, &var_milter_rcpt_macros,
	&var_milter_data_macros, &var_milter_end_of_data_macros,
	&var_milter_end_of_header_macros, &var_milter_unknown_command_macros,
};

/* The command letter of each stage's MACRO packet. */
static const char macro_cmd[MILTER_STAGES] = {
	SMFIC_CONNECT, SMFIC_HELO, SMFIC_MAIL, SMFIC_RCPT, SMFIC_DATA,
	SMFIC_BODYEOB, SMFIC_EOH, SMFIC_UNKNOWN,
};

/* parse_action - a default_action value; -1 when unknown. */
static int
parse_action(const char *value)
{
	if (strcasecmp(value, "accept") == 0)
		return MILTER_DEF_ACCEPT;
	if (strcasecmp(value, "reject") == 0)
		return MILTER_DEF_REJECT;
	if (strcasecmp(value, "tempfail") == 0)
		return MILTER_DEF_TEMPFAIL;
	if (strcasecmp(value, "quarantine") == 0)
		return MILTER_DEF_QUARANTINE;
	return -1;
}

/* endpoint_ok - inet:host:port, unix:/path, or a bare path. */
static int
endpoint_ok(const char *name)
{
	if (strncasecmp(name, "inet:", 5) == 0) {
		const char *port = strrchr(name + 5, ':');
		long n;

		return port != NULL && port > name + 5
		    && str_to_long(port + 1, &n) == 0 && n > 0 && n < 65536;
	}
	if (strncasecmp(name, "unix:", 5) == 0 || strncasecmp(name, "local:", 6) == 0)
		return strchr(name, ':')[1] != 0;
	return strchr(name, ':') == NULL && *name != 0;
}

/* parse_one - one milter: "endpoint" or the inside of "{ endpoint,
 * name=value, ... }"; NULL or the reason (malloc'd). */
static char *
parse_one(char *item, struct milter_opts *o)
{
	char *cp = item, *word;
	char *why = NULL;

	o->connect_timeout = var_milter_connect_timeout;
	o->command_timeout = var_milter_command_timeout;
	o->content_timeout = var_milter_content_timeout;
	o->protocol = (int)var_milter_protocol;
	o->def_action = parse_action(var_milter_default_action);
	if (o->def_action < 0)
		return concatenate("bad milter_default_action value \"",
		    var_milter_default_action, "\"", (char *)0);
	while (why == NULL && (word = mystrtok(&cp, ", \t\r\n")) != NULL) {
		char *eq = strchr(word, '=');
		long *slot = NULL;

		if (eq == NULL) {
			if (o->endpoint != NULL)
				why = concatenate("more than one endpoint in \"{ ",
				    item, " }\"", (char *)0);
			else if (!endpoint_ok(word))
				why = concatenate("bad milter endpoint \"", word,
				    "\" (use inet:host:port or unix:/path)", (char *)0);
			else
				o->endpoint = xstrdup(word);
			continue;
		}
		*eq++ = 0;
		if (strcmp(word, "connect_timeout") == 0)
			slot = &o->connect_timeout;
		else if (strcmp(word, "command_timeout") == 0)
			slot = &o->command_timeout;
		else if (strcmp(word, "content_timeout") == 0)
			slot = &o->content_timeout;
		if (slot != NULL) {
			if (mail_conf_parse_time(eq, 's', slot) < 0 || *slot <= 0)
				why = concatenate("bad ", word, " value \"", eq, "\"",
				    (char *)0);
		} else if (strcmp(word, "default_action") == 0) {
			if ((o->def_action = parse_action(eq)) < 0)
				why = concatenate("bad default_action value \"", eq,
				    "\" (use accept, reject, tempfail or quarantine)",
				    (char *)0);
		} else if (strcmp(word, "protocol") == 0) {
			long v;

			if (str_to_long(eq, &v) < 0 || v < 2 || v > 6)
				why = concatenate("bad protocol value \"", eq,
				    "\" (use 2 to 6)", (char *)0);
			else
				o->protocol = (int)v;
		} else {
			why = concatenate("unknown milter option \"", word, "\"",
			    (char *)0);
		}
	}
	if (why == NULL && o->endpoint == NULL)
		why = xstrdup("milter options without an endpoint");
	if (why == NULL && (o->protocol < 2 || o->protocol > 6))
		why = xstrdup("milter_protocol must be 2 to 6");
	return why;
}

struct milter_list *
milter_list_parse(const char *value, const char *param, char **err_r)
{
	struct milter_list *list = xcalloc(1, sizeof(*list));
	char *copy = xstrdup(value ? value : ""), *cp = copy, *item;
	const char *gerr = NULL;
	char *why = NULL;

	mail_vars_bind(MAIL_VARS_MILTER);
	*err_r = NULL;
	while (why == NULL
	    && (item = mystrtok_grouped(&cp, ", \t\r\n", &gerr)) != NULL) {
		struct milter_opts o;

		memset(&o, 0, sizeof(o));
		if ((why = parse_one(item, &o)) != NULL) {
			free(o.endpoint);
			break;
		}
		list->opts = xreallocarray(list->opts, (size_t)list->count + 1,
		    sizeof(*list->opts));
		list->opts[list->count++] = o;
	}
	if (why == NULL && gerr != NULL)
		why = xstrdup(gerr);
	free(copy);
	if (why != NULL) {
		*err_r = concatenate(param, ": ", why, (char *)0);
		free(why);
		milter_list_free(&list);
		return NULL;
	}
	for (int i = 0; i < MILTER_STAGES; i++)
		list->macros[i] = xstrdup(*macro_params[i]);
	list->daemon_name = xstrdup(var_milter_macro_daemon_name);
	list->version = xstrdup(var_milter_macro_v);
	list->myhostname = xstrdup(var_myhostname);
	return list;
}

int
milter_list_count(const struct milter_list *list)
{
	return list ? list->count : 0;
}

void
milter_list_free(struct milter_list **listp)
{
	struct milter_list *list = *listp;

	if (list == NULL)
		return;
	for (int i = 0; i < list->count; i++)
		free(list->opts[i].endpoint);
	free(list->opts);
	for (int i = 0; i < MILTER_STAGES; i++)
		free(list->macros[i]);
	free(list->daemon_name);
	free(list->version);
	free(list->myhostname);
	free(list);
	*listp = NULL;
}

struct milters *
milters_new(const struct milter_list *list, struct event_base *base,
    milter_macro_fn *macro, void *ctx)
{
	struct milters *ms = xcalloc(1, sizeof(*ms));

	ms->list = list;
	ms->base = base;
	ms->macro = macro;
	ms->ctx = ctx;
	ms->count = list->count;
	ms->m = xcalloc((size_t)(ms->count ? ms->count : 1), sizeof(*ms->m));
	for (int i = 0; i < ms->count; i++) {
		ms->m[i].o = &list->opts[i];
		ms->m[i].fd = -1;
		ms->m[i].state = MILTER_S_NEW;
	}
	ms->reply = buf_new(128, BUF_NOLIMIT);
	return ms;
}

void
milters_free(struct milters **msp)
{
	struct milters *ms = *msp;

	if (ms == NULL)
		return;
	for (int i = 0; i < ms->count; i++) {
		struct milter *m = ms->m + i;

		if (m->fd >= 0)
			milter_io_send_nowait(m, SMFIC_QUIT, NULL, 0);
		milter_io_close(m);
		for (int s = 0; s < MILTER_STAGES; s++)
			free(m->symlist[s]);
	}
	free(ms->m);
	buf_free(&ms->reply);
	free(ms);
	*msp = NULL;
}

/* macro_value - a macro's value: the ones the library knows, else the
 * caller's. */
static const char *
macro_value(struct milters *ms, const char *name)
{
	if (strcmp(name, "j") == 0)
		return ms->list->myhostname;
	if (strcmp(name, "v") == 0)
		return ms->list->version;
	if (strcmp(name, "{daemon_name}") == 0)
		return ms->list->daemon_name;
	return ms->macro ? ms->macro(ms->ctx, name) : NULL;
}

/* milter_send_macros - the macros of a stage (the milter's own list if
 * it asked for one) in a MACRO packet for command cmd; 0 or -1 (the
 * milter failed).  As Postfix, the packet goes out before every event
 * even when no macro has a value. */
int
milter_send_macros(struct milters *ms, struct milter *m, int stage, int cmd,
    long timeout)
{
	const char *list = m->symlist[stage] ? m->symlist[stage]
	    : ms->list->macros[stage];
	char *copy = xstrdup(list ? list : ""), *cp = copy, *name;
	struct buf *b = buf_new(256, BUF_NOLIMIT);
	int rc;

	buf_putc(b, cmd);
	while ((name = mystrtok(&cp, ", \t\r\n")) != NULL) {
		char *full = (strlen(name) > 1 && *name != '{')
		    ? concatenate("{", name, "}", (char *)0) : xstrdup(name);
		const char *value = macro_value(ms, full);

		if (value != NULL) {
			buf_append(b, full, strlen(full) + 1);
			buf_append(b, value, strlen(value) + 1);
		}
		free(full);
	}
	rc = milter_io_send(ms, m, SMFIC_MACRO, buf_str(b), buf_len(b), timeout);
	buf_free(&b);
	free(copy);
	return rc;
}

/* default_reply - what a failed milter's default_action says now. */
static const char *
default_reply(struct milters *ms, struct milter *m)
{
	switch (m->o->def_action) {
	case MILTER_DEF_ACCEPT:
		m->state = MILTER_S_OFF;
		return NULL;
	case MILTER_DEF_REJECT:
		/* Postfix's words for it (not those of a milter's reject). */
		buf_set(ms->reply, "550 5.5.0 Service unavailable");
		return buf_str(ms->reply);
	case MILTER_DEF_QUARANTINE:
		buf_set(ms->reply, "H");
		return buf_str(ms->reply);
	case MILTER_DEF_TEMPFAIL:
	default:
		buf_set(ms->reply, "451 4.7.1 Service unavailable - try again later");
		return buf_str(ms->reply);
	}
}

/* milter_fail - a milter broke (logged by the caller): close it; its
 * default action answers from now on. */
const char *
milter_fail(struct milters *ms, struct milter *m)
{
	milter_io_close(m);
	m->state = MILTER_S_ERROR;
	return default_reply(ms, m);
}

/* replycode_ok - a SMFIR_REPLYCODE text: "4XX"/"5XX", a blank or "-",
 * printable (multi-line replies are CR LF separated lines that each
 * start with the same code). */
static int
replycode_ok(const char *text)
{
	if (!((text[0] == '4' || text[0] == '5') && text[1] >= '0'
	    && text[1] <= '9' && text[2] >= '0' && text[2] <= '9'
	    && (text[3] == ' ' || text[3] == '-' || text[3] == 0)))
		return 0;
	for (const char *cp = text; *cp; cp++)
		if ((unsigned char)*cp < 0x20 && *cp != '\r' && *cp != '\n')
			return 0;
	return 1;
}

/* set_replycode - a milter's own reply text.  A multi-line reply keeps
 * its first line only: smtpd sends one line per refusal. */
static const char *
set_replycode(struct milters *ms, const char *text)
{
	size_t len = strcspn(text, "\r\n");

	buf_reset(ms->reply);
	buf_append(ms->reply, text, len);
	if (buf_len(ms->reply) > 3 && ms->reply->data[3] == '-')
		ms->reply->data[3] = ' ';
	return buf_str(ms->reply);
}

/* milter_verdict - act on one verdict packet of an event (not
 * progress, not an end-of-message change).  Returns 0 when the event
 * goes on to the next milter (*reply_r NULL), 1 when *reply_r ends the
 * event, -1 for a protocol error. */
int
milter_verdict(struct milters *ms, struct milter *m, int stage, int cmd,
    const char *data, size_t len, const char **reply_r)
{
	*reply_r = NULL;
	switch (cmd) {
	case SMFIR_CONTINUE:
		return 0;
	case SMFIR_ACCEPT:
		/* Nothing more for this milter: for the session at connect
		 * and HELO, for the message later. */
		m->state = stage <= MILTER_ST_HELO ? MILTER_S_OFF : MILTER_S_DONE_MSG;
		return 0;
	case SMFIR_REJECT:
		buf_set(ms->reply, "550 5.7.1 Command rejected");
		break;
	case SMFIR_TEMPFAIL:
		buf_set(ms->reply, "451 4.7.1 Service unavailable - try again later");
		break;
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		buf_set(ms->reply, "421 4.7.0 Server closing connection");
		break;
	case SMFIR_DISCARD:
		if (stage <= MILTER_ST_HELO)
			return -1;
		buf_set(ms->reply, "D");
		break;
	case SMFIR_REPLYCODE:
		if (len == 0 || data[len - 1] != 0 || !replycode_ok(data))
			return -1;
		set_replycode(ms, data);
		break;
	default:
		return -1;
	}
	/* A message-level verdict ends this milter's part of the message;
	 * a refused recipient does not (a discard at RCPT does: the whole
	 * message goes, as Postfix). */
	if (stage >= MILTER_ST_MAIL && stage != MILTER_ST_UNKNOWN
	    && (stage != MILTER_ST_RCPT || cmd == SMFIR_DISCARD)
	    && m->state == MILTER_S_READY)
		m->state = MILTER_S_DONE_MSG;
	*reply_r = buf_str(ms->reply);
	return 1;
}

/* event - one event to every milter still in it: the stage's macros,
 * then cmd with its data, then (unless the milter asked for no reply)
 * its verdict. */
static const char *
event(struct milters *ms, int stage, int cmd, const char *data, size_t len,
    unsigned no_flag, unsigned nr_flag)
{
	for (int i = 0; i < ms->count; i++) {
		struct milter *m = ms->m + i;
		const char *reply;
		int rc;

		/* A failed milter whose default action is accept is skipped:
		 * the next milters still hear of the event. */
		if (m->state == MILTER_S_NEW && milter_io_open(ms, m) < 0) {
			if ((reply = milter_fail(ms, m)) != NULL)
				return reply;
			continue;
		}
		if (m->state == MILTER_S_ERROR) {
			if ((reply = default_reply(ms, m)) != NULL)
				return reply;
			continue;
		}
		if (m->state == MILTER_S_OFF)
			continue;
		if (m->state == MILTER_S_DONE_MSG && stage >= MILTER_ST_MAIL
		    && stage != MILTER_ST_UNKNOWN)
			continue;
		if (stage == MILTER_ST_MAIL)
			m->state = MILTER_S_READY;
		if (m->pflags & no_flag)
			continue;
		if (stage == MILTER_ST_MAIL)
			m->in_msg = 1;
		if (milter_send_macros(ms, m, stage, macro_cmd[stage],
		    m->o->command_timeout) < 0
		    || milter_io_send(ms, m, cmd, data, len,
		    m->o->command_timeout) < 0) {
			if ((reply = milter_fail(ms, m)) != NULL)
				return reply;
			continue;
		}
		if (m->pflags & nr_flag)
			continue;
		rc = milter_io_verdict(ms, m, stage, cmd, m->o->command_timeout,
		    &reply);
		if (rc < 0) {
			if ((reply = milter_fail(ms, m)) != NULL)
				return reply;
			continue;
		}
		if (rc > 0)
			return reply;
	}
	return NULL;
}

/* argv_data - NUL-terminated strings, one after the other. */
static void
argv_data(struct buf *b, const char *const *argv)
{
	for (; *argv; argv++)
		buf_append(b, *argv, strlen(*argv) + 1);
}

const char *
milters_connect(struct milters *ms, const char *client_name, int family,
    const char *addr, unsigned port)
{
	struct buf *b = buf_new(128, BUF_NOLIMIT);
	const char *reply;

	buf_append(b, client_name, strlen(client_name) + 1);
	buf_putc(b, family);
	if (family != 'U') {
		buf_putc(b, (int)((port >> 8) & 0xff));
		buf_putc(b, (int)(port & 0xff));
		buf_append(b, addr, strlen(addr) + 1);
	}
	reply = event(ms, MILTER_ST_CONNECT, SMFIC_CONNECT, buf_str(b),
	    buf_len(b), SMFIP_NOCONNECT, SMFIP_NR_CONN);
	buf_free(&b);
	return reply;
}

const char *
milters_helo(struct milters *ms, const char *helo)
{
	return event(ms, MILTER_ST_HELO, SMFIC_HELO, helo, strlen(helo) + 1,
	    SMFIP_NOHELO, SMFIP_NR_HELO);
}

const char *
milters_mail(struct milters *ms, const char *const *argv)
{
	struct buf *b = buf_new(128, BUF_NOLIMIT);
	const char *reply;

	argv_data(b, argv);
	reply = event(ms, MILTER_ST_MAIL, SMFIC_MAIL, buf_str(b), buf_len(b),
	    SMFIP_NOMAIL, SMFIP_NR_MAIL);
	buf_free(&b);
	return reply;
}

const char *
milters_rcpt(struct milters *ms, const char *const *argv)
{
	struct buf *b = buf_new(128, BUF_NOLIMIT);
	const char *reply;

	argv_data(b, argv);
	reply = event(ms, MILTER_ST_RCPT, SMFIC_RCPT, buf_str(b), buf_len(b),
	    SMFIP_NORCPT, SMFIP_NR_RCPT);
	buf_free(&b);
	return reply;
}

const char *
milters_data(struct milters *ms)
{
	return event(ms, MILTER_ST_DATA, SMFIC_DATA, NULL, 0, SMFIP_NODATA,
	    SMFIP_NR_DATA);
}

const char *
milters_unknown(struct milters *ms, const char *command)
{
	return event(ms, MILTER_ST_UNKNOWN, SMFIC_UNKNOWN, command,
	    strlen(command) + 1, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN);
}

void
milters_abort(struct milters *ms)
{
	if (ms == NULL)
		return;
	for (int i = 0; i < ms->count; i++) {
		struct milter *m = ms->m + i;

		/* As Postfix: once a milter has seen MAIL, every end of a
		 * transaction (RSET, HELO, the end of the message, QUIT) is
		 * an ABORT to it, whatever it answered. */
		if (m->in_msg && m->fd >= 0 && m->state != MILTER_S_ERROR
		    && m->state != MILTER_S_OFF)
			milter_io_send_nowait(m, SMFIC_ABORT, NULL, 0);
		if (m->state == MILTER_S_DONE_MSG)
			m->state = MILTER_S_READY;
	}
}

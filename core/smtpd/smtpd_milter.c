/* SPDX-License-Identifier: MIT */
/* smtpd_milter - smtpd_milters: the milter protocol client
 * (core/milter) at each SMTP stage, with Postfix's replies and logs.
 *
 * What Postfix does, and so this file:
 *   connect   a 5xx: the greeting is "554 HOST ESMTP not accepting
 *             connections", EHLO offers nothing but ENHANCEDSTATUSCODES
 *             and MAIL gets the milter's reply; a 4xx: the usual greeting,
 *             MAIL gets the reply; a 421: the greeting, then close.
 *   HELO      a refusal is kept for MAIL the same way (the reply to HELO
 *             is 250; a 5xx shortens the EHLO reply).
 *   MAIL, RCPT, DATA  the milter's reply answers the command ("550 5.7.1
 *             Command rejected", "451 4.7.1 Service unavailable - try
 *             again later", or the milter's own text); discard and hold
 *             apply to the message, which is then accepted.
 *   end of message  the content as queued goes to the milters (without
 *             smtpd's own Received: header); their changes are applied
 *             to the queue file before anything is acknowledged; a
 *             refusal drops the queue file and answers the final dot.
 *   421 / 521 replies also end the session.
 *
 * Macros: j, v and {daemon_name} come from core/milter; this file
 * answers _, {daemon_addr}, {daemon_port}, {client_addr},
 * {client_name}, {client_port}, {client_ptr}, i, {auth_type},
 * {auth_authen}, {auth_author}, {mail_addr}, {mail_host},
 * {mail_mailer}, {rcpt_addr}, {rcpt_host}, {rcpt_mailer},
 * {tls_version}, {cipher}, {cipher_bits}.  The _host and _mailer
 * macros are the next hop and the transport the address resolves to
 * (as Postfix: "example.org" and "smtp" for a remote sender).
 *
 * Logs: "NOQUEUE: milter-reject: MAIL from NAME[ADDR]: 550 5.7.1
 * Command rejected; from=<...> proto=ESMTP helo=<...>", milter-discard
 * and milter-hold ("milter triggers DISCARD action"), and for the end
 * of message, as cleanup, "ID: milter-reject: END-OF-MESSAGE from
 * ...: 5.7.1 Command rejected; from=<> to=<> proto= helo=<>". */
#include "postino_config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr_parse.h"
#include "buf.h"
#include "maps.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "milter.h"
#include "msg.h"
#include "mymalloc.h"
#include "resolve.h"
#include "smtpd.h"
#include "stringops.h"

static struct milter_list *milter_list;

/* smtpd_milter_maps: the tables, and the lists their answers name
 * (parsed once each; a session's milters use the list until it ends). */
static struct maps milter_maps;
static struct milter_map_list {
	char *value;
	struct milter_list *list;	/* NULL: the value is malformed */
} *map_lists;
static int map_list_count;

static void
milter_maps_free(void)
{
	maps_close(&milter_maps);
	for (int i = 0; i < map_list_count; i++) {
		free(map_lists[i].value);
		milter_list_free(&map_lists[i].list);
	}
	free(map_lists);
	map_lists = NULL;
	map_list_count = 0;
}

void
smtpd_milter_init(void)
{
	char *err = NULL;

	milter_list_free(&milter_list);
	milter_maps_free();
	if (smtpd_conf.no_milters)
		return;
	if (*var_smtpd_milters
	    && (milter_list = milter_list_parse(var_smtpd_milters,
	    "smtpd_milters", &err)) == NULL)
		msg_fatal("%s", err);
	if (milter_list != NULL && milter_list_count(milter_list) == 0)
		milter_list_free(&milter_list);
	maps_open(&milter_maps, MAIL_PARAM_NAME(smtpd_milter_maps),
	    var_smtpd_milter_maps);
}

/* milters_for - the milters of this client: smtpd_milter_maps' answer
 * for its address (DISABLE: none), else smtpd_milters.  -1 when a table
 * or its answer failed (the session is refused for now). */
static int
milters_for(const struct smtpd_session *s, struct milter_list **list_r)
{
	const char *value = NULL;
	struct map *bad;
	char *err = NULL;
	int i;

	*list_r = milter_list;
	switch (maps_find(&milter_maps, s->addr, 0, &value, &bad)) {
	case MAP_NOTFOUND:
		return 0;
	case MAP_TEMPFAIL:
		msg_warn("smtpd_milter_maps: lookup of %s failed: %s", s->addr,
		    bad ? map_reason(bad) : "table not available");
		return -1;
	case MAP_FOUND:
		break;
	}
	if (strcasecmp(value, "DISABLE") == 0) {
		*list_r = NULL;
		return 0;
	}
	for (i = 0; i < map_list_count; i++)
		if (strcmp(map_lists[i].value, value) == 0)
			break;
	if (i == map_list_count) {
		map_lists = xreallocarray(map_lists, (size_t)map_list_count + 1,
		    sizeof(*map_lists));
		map_lists[i].value = xstrdup(value);
		map_lists[i].list = milter_list_parse(value, "smtpd_milter_maps",
		    &err);
		if (map_lists[i].list == NULL) {
			msg_warn("%s", err);
			free(err);
		}
		map_list_count++;
	}
	if (map_lists[i].list == NULL)
		return -1;
	*list_r = milter_list_count(map_lists[i].list) ? map_lists[i].list
	    : NULL;
	return 0;
}

/* route_of - the transport (mailer) or next hop (host) of an address
 * (external form), in buf; NULL when it has none. */
static const char *
route_of(const char *addr, int mailer, char *buf, size_t size)
{
	struct resolve_reply rr;
	char *internal;
	const char *value = NULL;

	if (addr == NULL)
		return NULL;
	internal = addr_parse_internalize(addr);
	memset(&rr, 0, sizeof(rr));
	if (resolve_addr(internal, &rr) == MAP_FOUND) {
		value = mailer ? rr.transport : rr.nexthop;
		if (value != NULL) {
			strlcpy(buf, value, size);
			value = buf;
		}
	}
	resolve_reply_free(&rr);
	free(internal);
	return value;
}

/* macro - a Sendmail macro's value in session ctx (static storage for
 * the computed ones: used at once by the caller). */
static const char *
macro(void *ctx, const char *name)
{
	struct smtpd_session *s = ctx;
	static char buf[1024];
	const char *proto, *cipher;
	int bits;

	if (strcmp(name, "_") == 0) {
		snprintf(buf, sizeof(buf), "%s [%s]", s->name, s->addr);
		return buf;
	}
	if (strcmp(name, "{daemon_addr}") == 0 || strcmp(name, "{daemon_port}") == 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char host[64], port[16];

		if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0
		    || getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
		    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			return NULL;
		strlcpy(buf, name[8] == 'a' ? host : port, sizeof(buf));
		return buf;
	}
	if (strcmp(name, "{client_addr}") == 0)
		return s->addr;
	if (strcmp(name, "{client_name}") == 0)
		return s->name;
	if (strcmp(name, "{client_ptr}") == 0)
		return s->reverse_name;
	if (strcmp(name, "{client_port}") == 0)
		return s->port;
	if (strcmp(name, "i") == 0)
		return s->cleanup ? cleanup_queue_id(s->cleanup) : NULL;
	if (strcmp(name, "{auth_type}") == 0)
		return s->sasl_method;
	if (strcmp(name, "{auth_authen}") == 0)
		return s->sasl_username;
	if (strcmp(name, "{auth_author}") == 0)
		return s->sasl_sender;
	if (strcmp(name, "{mail_addr}") == 0)
		return s->milter_mail ? s->milter_mail : s->sender;
	if (strcmp(name, "{rcpt_addr}") == 0)
		return s->milter_rcpt;
	if (strcmp(name, "{mail_host}") == 0 || strcmp(name, "{mail_mailer}") == 0)
		return route_of(s->milter_mail ? s->milter_mail : s->sender,
		    name[6] == 'm', buf, sizeof(buf));
	if (strcmp(name, "{rcpt_host}") == 0 || strcmp(name, "{rcpt_mailer}") == 0)
		return route_of(s->milter_rcpt, name[6] == 'm', buf, sizeof(buf));
	smtpd_tls_fill(s, &proto, &cipher, &bits);
	if (strcmp(name, "{tls_version}") == 0)
		return proto;
	if (strcmp(name, "{cipher}") == 0)
		return cipher;
	if (strcmp(name, "{cipher_bits}") == 0 && proto != NULL) {
		snprintf(buf, sizeof(buf), "%d", bits);
		return buf;
	}
	return NULL;
}

/* log_act - Postfix's "ID: milter-ACTION: STAGE from NAME[ADDR]: text;
 * from=<> to=<> proto=P helo=<H>" line. */
static void
log_act(struct smtpd_session *s, const char *action, const char *stage,
    const char *text, const char *sender, const char *rcpt, const char *proto)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);

	buf_printf(b, "%s: milter-%s: %s from %s[%s]: %s;",
	    s->cleanup ? cleanup_queue_id(s->cleanup) : "NOQUEUE", action, stage,
	    s->name, s->addr, text);
	if (sender != NULL)
		buf_printf(b, " from=<%s>", sender);
	if (rcpt != NULL)
		buf_printf(b, " to=<%s>", rcpt);
	buf_printf(b, " proto=%s", proto ? proto : s->esmtp ? "ESMTP" : "SMTP");
	if (s->helo != NULL)
		buf_printf(b, " helo=<%s>", s->helo);
	msg_info("%s", buf_str(b));
	buf_free(&b);
}

/* closing - does this reply end the session (421, and 521 as Postfix)? */
static int
closing(const char *reply)
{
	return strncmp(reply, "421", 3) == 0 || strncmp(reply, "521", 3) == 0;
}

/* verdict - act on a stage's result: 0 go on (discard and hold noted),
 * -1 the reply was sent. */
static int
verdict(struct smtpd_session *s, const char *reply, const char *stage,
    const char *sender, const char *rcpt)
{
	if (reply == NULL)
		return 0;
	if (*reply == 'D') {
		s->discard = 1;
		log_act(s, "discard", stage, "milter triggers DISCARD action",
		    sender, rcpt, NULL);
		return 0;
	}
	if (*reply == 'H') {
		s->hold = 1;
		log_act(s, "hold", stage, "milter triggers HOLD action", sender,
		    rcpt, NULL);
		return 0;
	}
	log_act(s, "reject", stage, reply, sender, rcpt, NULL);
	smtpd_reply(s, "%s", reply);
	if (closing(reply))
		smtpd_close_after_reply(s);
	return -1;
}

int
smtpd_milter_connect(struct smtpd_session *s)
{
	struct milter_list *list;
	const char *reply;
	char *name;
	long port = 0;

	if (milters_for(s, &list) < 0) {
		/* Never without the inspection the tables ask for: refused
		 * for now, at MAIL (as a milter that fails at connect). */
		s->milter_reject = xstrdup("451 4.3.0 Server configuration "
		    "error");
		return 0;
	}
	if (list == NULL)
		return 0;
	s->milters = milters_new(list, smtpd_base, macro, s);
	if (strcmp(s->name, "unknown") == 0)
		name = concatenate(strchr(s->addr, ':') ? "[IPv6:" : "[", s->addr,
		    "]", (char *)0);
	else
		name = xstrdup(s->name);
	(void)str_to_long(s->port, &port);
	reply = milters_connect(s->milters, name, strchr(s->addr, ':') ? '6' : '4',
	    s->addr, (unsigned)port);
	free(name);
	if (reply == NULL)
		return 0;
	if (*reply == 'H') {
		s->milter_hold = s->hold = 1;
		return 0;
	}
	if (*reply == 'D')
		return 0;
	log_act(s, "reject", "CONNECT", reply, NULL, NULL, "SMTP");
	if (closing(reply)) {
		smtpd_reply(s, "%s", reply);
		smtpd_close_after_reply(s);
		return 1;
	}
	s->milter_reject = xstrdup(reply);
	if (*reply == '5') {
		s->milter_ehlo_short = 1;
		smtpd_reply(s, "554 %s ESMTP not accepting connections",
		    smtpd_conf.myhostname);
		return 1;
	}
	return 0;
}

void
smtpd_milter_helo(struct smtpd_session *s)
{
	const char *reply;

	if (s->milters == NULL)
		return;
	if (s->milter_reject != NULL) {
		/* Refused at connect: the milters hear no more. */
		if (*s->milter_reject == '5')
			log_act(s, "reject", s->esmtp ? "EHLO" : "HELO",
			    s->milter_reject, NULL, NULL, "SMTP");
		return;
	}
	reply = milters_helo(s->milters, s->helo);
	if (reply == NULL || *reply == 'D')
		return;
	if (*reply == 'H') {
		s->milter_hold = s->hold = 1;
		return;
	}
	log_act(s, "reject", s->esmtp ? "EHLO" : "HELO", reply, NULL, NULL,
	    "SMTP");
	s->milter_reject = xstrdup(reply);
	s->milter_ehlo_short = *reply == '5';
}

int
smtpd_milter_mail_saved(struct smtpd_session *s)
{
	if (s->milter_reject == NULL)
		return 0;
	return verdict(s, s->milter_reject, "MAIL", NULL, NULL);
}

/* argv_of - "<addr>" (in *path_r, malloc'd) and the ESMTP parameters,
 * NULL-terminated (malloc'd; the parameters stay the caller's). */
static const char **
argv_of(const char *addr, const char *const *params, int nparams,
    char **path_r)
{
	const char **argv = xcalloc((size_t)nparams + 2, sizeof(*argv));

	*path_r = concatenate("<", addr, ">", (char *)0);
	argv[0] = *path_r;
	for (int i = 0; i < nparams; i++)
		argv[i + 1] = params[i];
	return argv;
}

int
smtpd_milter_mail(struct smtpd_session *s, const char *addr,
    const char *const *params, int nparams)
{
	const char **argv;
	const char *reply;
	char *path;
	int rc;

	if (s->milters == NULL)
		return 0;
	argv = argv_of(addr, params, nparams, &path);
	s->milter_mail = addr;
	reply = milters_mail(s->milters, argv);
	s->milter_mail = NULL;
	free(path);
	free(argv);
	rc = verdict(s, reply, "MAIL", addr, NULL);
	if (rc < 0)
		milters_abort(s->milters);
	return rc;
}

int
smtpd_milter_rcpt(struct smtpd_session *s, const char *addr,
    const char *const *params, int nparams)
{
	const char **argv;
	const char *reply;
	char *path;

	if (s->milters == NULL)
		return 0;
	argv = argv_of(addr, params, nparams, &path);
	free(s->milter_rcpt);
	s->milter_rcpt = xstrdup(addr);
	reply = milters_rcpt(s->milters, argv);
	free(path);
	free(argv);
	/* {rcpt_addr} stays the last recipient (for DATA). */
	return verdict(s, reply, "RCPT", s->sender, addr);
}

int
smtpd_milter_data(struct smtpd_session *s)
{
	if (s->milters == NULL)
		return 0;
	if (verdict(s, milters_data(s->milters), "DATA", s->sender,
	    s->first_rcpt) == 0)
		return 0;
	/* As Postfix: a refused DATA ends the milters' transaction. */
	milters_abort(s->milters);
	return -1;
}

int
smtpd_milter_unknown(struct smtpd_session *s, const char *line)
{
	const char *reply;

	if (s->milters == NULL || s->milter_reject != NULL)
		return 0;
	reply = milters_unknown(s->milters, line);
	/* Discard and hold are for messages: nothing to do here. */
	if (reply == NULL || *reply == 'D' || *reply == 'H')
		return 0;
	return verdict(s, reply, "UNKNOWN", s->sender, NULL);
}

/* log_eom - the end-of-message line, as cleanup logs it. */
static void
log_eom(struct smtpd_session *s, const char *action, const char *text)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);

	buf_printf(b, "%s: milter-%s: END-OF-MESSAGE from %s[%s]: %s;",
	    cleanup_queue_id(s->cleanup), action, s->name, s->addr, text);
	if (s->sender != NULL)
		buf_printf(b, " from=<%s>", s->sender);
	if (s->first_rcpt != NULL)
		buf_printf(b, " to=<%s>", s->first_rcpt);
	buf_printf(b, " proto=%s", s->esmtp ? "ESMTP" : "SMTP");
	if (s->helo != NULL)
		buf_printf(b, " helo=<%s>", s->helo);
	msg_info_as("cleanup", "%s", buf_str(b));
	buf_free(&b);
}

int
smtpd_milter_eom(struct smtpd_session *s, char **reply_r)
{
	static const struct milter_edit_ops ops = {
		.chg_from = cleanup_milter_chg_from,
		.add_rcpt = cleanup_milter_add_rcpt,
		.del_rcpt = cleanup_milter_del_rcpt,
		.header_check = cleanup_milter_header,
	};
	char *content, *changed = NULL, *hold = NULL;
	size_t len, changed_len = 0;
	const char *reply;

	*reply_r = NULL;
	if (s->milters == NULL)
		return 0;
	cleanup_end_content(s->cleanup);
	if (cleanup_content_copy(s->cleanup, &content, &len) < 0) {
		/* Refused or failed already: cleanup_finish says why. */
		milters_abort(s->milters);
		return 0;
	}
	reply = milters_message(s->milters, content, len, 1, &ops, s->cleanup,
	    &changed, &changed_len, &hold);
	free(content);
	if (reply != NULL && *reply == 'D') {
		log_eom(s, "discard", "milter triggers DISCARD action");
		cleanup_add_flags(s->cleanup, CLEANUP_FLAG_DISCARD);
		reply = NULL;
	} else if (reply != NULL) {
		/* The log line has the reply without its code, as cleanup's. */
		log_eom(s, "reject", strlen(reply) > 4 ? reply + 4 : reply);
		*reply_r = xstrdup(reply);
	}
	if (reply == NULL && hold != NULL) {
		log_eom(s, "hold", "milter triggers HOLD action");
		cleanup_add_flags(s->cleanup, CLEANUP_FLAG_HOLD);
	}
	if (reply == NULL && changed != NULL)
		cleanup_replace_content(s->cleanup, changed, changed_len);
	free(changed);
	free(hold);
	return *reply_r ? -1 : 0;
}

void
smtpd_milter_reset(struct smtpd_session *s)
{
	if (s->milters != NULL)
		milters_abort(s->milters);
	xfree(&s->milter_rcpt);
	if (s->milter_hold)
		s->hold = 1;
}

void
smtpd_milter_free(struct smtpd_session *s)
{
	milters_free(&s->milters);
	xfree(&s->milter_reject);
	xfree(&s->milter_rcpt);
}

int
smtpd_milter_active(void)
{
	return milter_list != NULL || milter_maps.count > 0;
}

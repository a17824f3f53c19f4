/* SPDX-License-Identifier: MIT */
/* smtpd_xforward - the XFORWARD and XCLIENT extensions.
 *
 * XFORWARD (Postfix's XFORWARD_README), for
 * a content filter that gives mail back to this server: the filter says
 * who sent the message to it, and the queue file records that client
 * (name, address, port, protocol, HELO, where it came from) instead of
 * the filter's, so that logs, the next filter and the delivery agents see
 * the original client.  Access control keeps using the real client.
 *
 * Only clients in smtpd_authorized_xforward_hosts are offered the
 * extension (EHLO) or may use it (else 550 5.7.0).  The attributes last
 * until the end of the mail transaction; a value may be [UNAVAILABLE]
 * or [TEMPUNAVAIL] (unknown), and once the command was used, what it did
 * not give is unknown too.
 *
 * XCLIENT (Postfix's XCLIENT_README), for rule testing and for proxies
 * in front of smtpd: a client in smtpd_authorized_xclient_hosts replaces
 * the session's idea of its client (NAME, REVERSE_NAME, ADDR, PORT,
 * PROTO, HELO, LOGIN, DESTADDR, DESTPORT), and everything that follows
 * -- restrictions, logs, the queue file -- sees that client.  The
 * session goes back to the greeting stage: the 220 banner again (or the
 * refusal of smtpd_client_restrictions with smtpd_delay_reject = no),
 * HELO and AUTH forgotten unless the command gave HELO, PROTO or
 * LOGIN.  What the command does not name keeps its value.  A command
 * with one bad attribute changes nothing.  Both lists of authorized
 * hosts are matched against the client as it stands, as Postfix does:
 * an impersonated client outside smtpd_authorized_xclient_hosts cannot
 * send XCLIENT again. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail_params.h"
#include "mail_vars.h"
#include "match_list.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "stringops.h"

static const char *const xf_names[SMTPD_XF_COUNT] = {
	"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE",
};

static struct match_list *xforward_hosts;

int
smtpd_xforward_allowed(struct smtpd_session *s)
{
	if (!s->xforward_checked) {
		if (xforward_hosts == NULL)
			xforward_hosts = match_list_create(
			    MAIL_PARAM_NAME(smtpd_authorized_xforward_hosts),
			    var_smtpd_authorized_xforward_hosts, MATCH_LIST_HOSTADDR);
		s->xforward_ok = !match_list_empty(xforward_hosts)
		    && match_list_match(xforward_hosts, s->name, s->addr) == 1;
		s->xforward_checked = 1;
	}
	return s->xforward_ok;
}

int
smtpd_xclient_allowed(struct smtpd_session *s)
{
	static struct match_list *xclient_hosts;

	if (!s->xclient_checked) {
		if (xclient_hosts == NULL)
			xclient_hosts = match_list_create(
			    MAIL_PARAM_NAME(smtpd_authorized_xclient_hosts),
			    var_smtpd_authorized_xclient_hosts, MATCH_LIST_HOSTADDR);
		s->xclient_ok = !match_list_empty(xclient_hosts)
		    && match_list_match(xclient_hosts, s->name, s->addr) == 1;
		s->xclient_checked = 1;
	}
	return s->xclient_ok;
}

const char *
smtpd_xforward_ehlo(void)
{
	return "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT";
}

/* valid_name - a host name as XFORWARD may give it: letters, digits,
 * '-', '.', '_' in labels, at most 255 bytes. */
static int
valid_name(const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len > 255 || *v == '.' || *v == '-')
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '-' && *v != '.'
		    && *v != '_')
			return 0;
	return 1;
}

/* check_value - is v a good value for attribute i?  An address loses
 * its "IPv6:" prefix here (*v_r moves past it). */
static int
check_value(int i, const char **v_r)
{
	const char *v = *v_r;
	unsigned char sa[16];

	switch (i) {
	case SMTPD_XF_NAME:
		return strcmp(v, "unknown") == 0 || valid_name(v);
	case SMTPD_XF_ADDR:
		if (strncasecmp(v, "IPv6:", 5) == 0) {
			*v_r = v += 5;
			return inet_pton(AF_INET6, v, sa) == 1;
		}
		return strcmp(v, "unknown") == 0 || inet_pton(AF_INET, v, sa) == 1
		    || inet_pton(AF_INET6, v, sa) == 1;
	case SMTPD_XF_PORT:
		return strcmp(v, "unknown") == 0 || (alldig(v) && strlen(v) <= 5
		    && atol(v) <= 65535);
	case SMTPD_XF_PROTO:
		if (strlen(v) > 64)
			return 0;
		for (; *v; v++)
			if (!isalnum((unsigned char)*v) && *v != '-' && *v != '_')
				return 0;
		return 1;
	case SMTPD_XF_HELO:
		return strlen(v) <= 255;
	case SMTPD_XF_IDENT:
		return strlen(v) <= 64;
	case SMTPD_XF_SOURCE:
		return strcasecmp(v, "LOCAL") == 0 || strcasecmp(v, "REMOTE") == 0;
	}
	return 0;
}

int
smtpd_xforward_parse(struct smtpd_session *s, const char *arg,
    char *reply, size_t len)
{
	char *copy = xstrdup(arg), *cp = copy, *item;
	char *vals[SMTPD_XF_COUNT] = {0};
	int set[SMTPD_XF_COUNT] = {0};
	int rc = 0, n = 0;

	while (rc == 0 && (item = mystrtok(&cp, " \t")) != NULL) {
		char *eq = strchr(item, '='), *val;
		const char *v;
		int i;

		n++;
		if (eq == NULL || eq == item) {
			snprintf(reply, len, "501 5.5.4 Syntax: XFORWARD attribute=value...");
			rc = -1;
			break;
		}
		*eq = 0;
		for (i = 0; i < SMTPD_XF_COUNT; i++)
			if (strcasecmp(item, xf_names[i]) == 0)
				break;
		if (i == SMTPD_XF_COUNT) {
			snprintf(reply, len, "501 5.5.4 Bad XFORWARD attribute name: %.100s",
			    item);
			rc = -1;
			break;
		}
		if ((val = smtpd_xtext_decode(eq + 1)) == NULL) {
			snprintf(reply, len, "501 5.5.4 Bad %s syntax: %.100s",
			    xf_names[i], eq + 1);
			rc = -1;
			break;
		}
		v = val;
		if (strcmp(v, "[UNAVAILABLE]") == 0 || strcmp(v, "[TEMPUNAVAIL]") == 0) {
			free(val);
			free(vals[i]);
			vals[i] = NULL;
			set[i] = 1;
			continue;
		}
		if (!check_value(i, &v)) {
			snprintf(reply, len, "501 5.5.4 Bad %s syntax: %.100s",
			    xf_names[i], val);
			free(val);
			rc = -1;
			break;
		}
		free(vals[i]);
		vals[i] = xstrdup(v);
		free(val);
		set[i] = 1;
	}
	if (rc == 0 && n == 0) {
		snprintf(reply, len, "501 5.5.4 Syntax: XFORWARD attribute=value...");
		rc = -1;
	}
	for (int i = 0; i < SMTPD_XF_COUNT; i++) {
		if (rc == 0 && set[i]) {
			free(s->xforward[i]);
			s->xforward[i] = vals[i];
			s->xforward_any = 1;
		} else
			free(vals[i]);
	}
	free(copy);
	if (rc == 0)
		snprintf(reply, len, "250 2.0.0 Ok");
	return rc;
}

void
smtpd_xforward_reset(struct smtpd_session *s)
{
	for (int i = 0; i < SMTPD_XF_COUNT; i++)
		xfree(&s->xforward[i]);
	s->xforward_any = 0;
}

const char *
smtpd_xforward_get(const struct smtpd_session *s, int i, const char *real)
{
	/* Once XFORWARD was used, an attribute it did not give is unknown
	 * (never the filter's own). */
	if (!s->xforward_any)
		return real;
	if (s->xforward[i] != NULL)
		return s->xforward[i];
	return i == SMTPD_XF_NAME || i == SMTPD_XF_ADDR || i == SMTPD_XF_PORT
	    ? "unknown" : NULL;
}

/* XCLIENT attributes, in the order of the EHLO keyword. */
enum {
	XC_NAME, XC_ADDR, XC_PROTO, XC_HELO, XC_REVERSE_NAME, XC_PORT,
	XC_LOGIN, XC_DESTADDR, XC_DESTPORT, XC_COUNT,
};
static const char *const xc_names[XC_COUNT] = {
	"NAME", "ADDR", "PROTO", "HELO", "REVERSE_NAME", "PORT", "LOGIN",
	"DESTADDR", "DESTPORT",
};

const char *
smtpd_xclient_ehlo(void)
{
	return "XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR "
	    "DESTPORT";
}

/* xc_value - check attribute i's decoded value v; the value to keep
 * (malloc'd; NULL: unavailable) in *out, *tempfail for [TEMPUNAVAIL];
 * 0, or -1 if v is not good for i. */
static int
xc_value(int i, const char *v, char **out, int *tempfail)
{
	unsigned char sa[16];

	*out = NULL;
	*tempfail = 0;
	if (strcasecmp(v, "[UNAVAILABLE]") == 0
	    || strcasecmp(v, "[TEMPUNAVAIL]") == 0) {
		*tempfail = strcasecmp(v, "[TEMPUNAVAIL]") == 0;
		return i == XC_PROTO ? -1 : 0;
	}
	switch (i) {
	case XC_NAME:
	case XC_REVERSE_NAME:
		if (!valid_name(v))
			return -1;
		break;
	case XC_ADDR:
	case XC_DESTADDR:
		/* IPv6 only when inet_protocols has it, as Postfix. */
		if (strncasecmp(v, "IPv6:", 5) == 0) {
			if (!mail_vars_inet_family(AF_INET6))
				return -1;
			v += 5;
			if (inet_pton(AF_INET6, v, sa) != 1)
				return -1;
		} else if (inet_pton(AF_INET, v, sa) != 1)
			return -1;
		break;
	case XC_PORT:
	case XC_DESTPORT:
		/* Five digits, as Postfix checks it. */
		if (!alldig(v) || strlen(v) > 5)
			return -1;
		break;
	case XC_PROTO:
		if (strcasecmp(v, "SMTP") != 0 && strcasecmp(v, "ESMTP") != 0)
			return -1;
		break;
	case XC_HELO:
		if (*v == 0 || strlen(v) > 255)
			return -1;
		for (const char *cp = v; *cp; cp++)
			if ((unsigned char)*cp <= 0x20 || *cp == 0x7f)
				return -1;
		break;
	case XC_LOGIN:
		if (*v == 0)
			return -1;
		break;
	}
	*out = xstrdup(v);
	return 0;
}

/* xc_shown - a value as the 501 reply shows it: xtext decoded where it
 * can be, anything but printable ASCII as '?' (in place: never longer). */
static void
xc_shown(char *out, const char *in)
{
	for (; *in; in++) {
		int c = (unsigned char)*in;

		if (c == '+' && isxdigit((unsigned char)in[1])
		    && isxdigit((unsigned char)in[2])) {
			c = (int)strtoul((char[]){in[1], in[2], 0}, NULL, 16);
			in += 2;
		}
		*out++ = isgraph(c) ? (char)c : '?';
	}
	*out = 0;
}

/* xc_set - a session field (a char array) from an XCLIENT value. */
static void
xc_set(char *field, size_t size, const char *value)
{
	strlcpy(field, value ? value : "unknown", size);
}

int
smtpd_xclient_parse(struct smtpd_session *s, const char *arg,
    char *reply, size_t len)
{
	char *copy = xstrdup(arg), *cp = copy, *item;
	char *vals[XC_COUNT] = {0};
	int set[XC_COUNT] = {0}, temp[XC_COUNT] = {0};
	int rc = 0, n = 0;

	while (rc == 0 && (item = mystrtok(&cp, " \t")) != NULL) {
		char *eq = strchr(item, '='), *val;
		int i;

		n++;
		if (eq == NULL || eq == item || eq[1] == 0) {
			snprintf(reply, len, "501 5.5.4 Error: attribute=value expected");
			rc = -1;
			break;
		}
		*eq = 0;
		for (i = 0; i < XC_COUNT; i++)
			if (strcasecmp(item, xc_names[i]) == 0)
				break;
		if (i == XC_COUNT) {
			snprintf(reply, len, "501 5.5.4 Bad XCLIENT attribute name: %.100s",
			    item);
			rc = -1;
			break;
		}
		free(vals[i]);
		vals[i] = NULL;
		if ((val = smtpd_xtext_decode(eq + 1)) == NULL
		    || xc_value(i, val, &vals[i], &temp[i]) < 0) {
			xc_shown(eq + 1, eq + 1);
			snprintf(reply, len, "501 5.5.4 Bad %s syntax: %.100s",
			    xc_names[i], eq + 1);
			free(val);
			rc = -1;
			break;
		}
		free(val);
		set[i] = 1;
	}
	if (rc == 0 && n == 0) {
		snprintf(reply, len, "501 5.5.4 Syntax: XCLIENT attribute=value...");
		rc = -1;
	}
	free(copy);
	if (rc < 0) {
		for (int i = 0; i < XC_COUNT; i++)
			free(vals[i]);
		return -1;
	}
	if (set[XC_NAME]) {
		xc_set(s->name, sizeof(s->name), vals[XC_NAME]);
		s->name_tempfail = temp[XC_NAME];
	}
	if (set[XC_REVERSE_NAME]) {
		xc_set(s->reverse_name, sizeof(s->reverse_name),
		    vals[XC_REVERSE_NAME]);
		s->reverse_tempfail = temp[XC_REVERSE_NAME];
	}
	if (set[XC_ADDR])
		xc_set(s->addr, sizeof(s->addr), vals[XC_ADDR]);
	if (set[XC_PORT])
		xc_set(s->port, sizeof(s->port), vals[XC_PORT]);
	if (set[XC_DESTADDR])
		xc_set(s->dest_addr, sizeof(s->dest_addr), vals[XC_DESTADDR]);
	if (set[XC_DESTPORT])
		xc_set(s->dest_port, sizeof(s->dest_port), vals[XC_DESTPORT]);
	/* Back to the greeting stage, keeping what the command said. */
	smtpd_reset_transaction(s);
	smtpd_xforward_reset(s);
	/* The new client is the one both lists are matched against. */
	s->xclient_checked = s->xforward_checked = 0;
	xfree(&s->helo);
	if (set[XC_HELO])
		s->helo = vals[XC_HELO] ? xstrdup(vals[XC_HELO]) : NULL;
	s->esmtp = set[XC_PROTO] && strcasecmp(vals[XC_PROTO], "ESMTP") == 0;
	xfree(&s->access_denied);
	xfree(&s->milter_reject);
	s->milter_ehlo_short = s->milter_hold = 0;
	smtpd_sasl_free(s);
	if (set[XC_LOGIN] && vals[XC_LOGIN] != NULL && smtpd_sasl_enabled()) {
		s->sasl_method = xstrdup("XCLIENT");
		s->sasl_username = xstrdup(vals[XC_LOGIN]);
	}
	for (int i = 0; i < XC_COUNT; i++)
		free(vals[i]);
	return 0;
}

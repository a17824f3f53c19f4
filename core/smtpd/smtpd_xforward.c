/* SPDX-License-Identifier: MIT */
/* smtpd_xforward - the XFORWARD extension (Postfix's XFORWARD_README), for
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
 * not give is unknown too. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

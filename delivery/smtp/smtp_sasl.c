/* SPDX-License-Identifier: MIT */
/* smtp_sasl - SASL authentication of the SMTP/LMTP client (RFC 4954),
 * with Postfix's parameters (smtp_sasl_* or lmtp_sasl_*).
 *
 * Credentials.  smtp_sasl_password_maps holds "username:password" per
 * key; the keys tried, in Postfix's order: the sender address (only
 * with smtp_sender_dependent_authentication, SMTP only, not for the
 * null sender: user+ext@domain, user@domain, @domain as
 * virtual_alias_maps), then the server's host name as looked up ("mx1.
 * example.com", or "192.0.2.1" from "[192.0.2.1]"), then the next hop as
 * written in relayhost or the transport ("[mail.isp.example]:587",
 * "example.com").  A server reached as a fallback relay is asked by its
 * host name only: the next hop's password never goes to another
 * destination's server.  No entry: no authentication at all.  A table
 * that fails defers the mail.  With SASL on, an empty
 * smtp_sasl_password_maps is a fatal configuration error (as in
 * Postfix).
 *
 * Mechanisms.  The server's AUTH list, narrowed by
 * smtp_sasl_mechanism_filter (a Postfix pattern list: names, /file,
 * type:table, !name); when nothing is left, a warning and the mail goes
 * without AUTH.  Of the rest, PLAIN (with an initial response) and then
 * LOGIN are implemented here (the "cyrus" client type: the only
 * smtp_sasl_type accepted).  Both send the password as it is, so the
 * security options in effect (smtp_sasl_security_options in plaintext,
 * smtp_sasl_tls_security_options under TLS,
 * smtp_sasl_tls_verified_security_options under TLS with a certificate
 * checked by the TLS policy) must allow it: noplaintext, noactive,
 * nodictionary and mutual_auth each exclude them, noanonymous does not.
 * No usable mechanism defers the mail with 4.7.0 "SASL authentication
 * failed; cannot authenticate to server HOST[ADDR]: no mechanism
 * available", and no AUTH command is sent.
 *
 * Failure.  A reply other than 235 ends the attempt: "SASL
 * authentication failed; server HOST[ADDR] said: REPLY", deferred (a 5xx
 * becomes 4.x.x) with smtp_sasl_auth_soft_bounce = yes, else as the
 * reply says.
 *
 * Logs: nothing on success (as Postfix at its default verbosity); a
 * warning for an AUTH list with no usable entry or a failing table;
 * never a password. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail_addr_find.h"
#include "mail_vars.h"
#include "map.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"

/* Challenges answered before a server is taken to loop. */
#define SMTP_SASL_MAX_STEPS	100

static struct {
	int enable;
	const char *prefix;		/* "smtp" or "lmtp" */
	struct map **maps;
	int nmaps;
	struct match_list *filter;	/* NULL: keep every mechanism */
	int soft_bounce;
	int sender_auth;
	int opts, tls_opts, verified_opts;	/* SMTP_SASL_SEC_* */
	long timeout;
} conf;

/* The security options (names as in Postfix's cyrus client). */
static const struct {
	const char *name;
	int bit;
} sec_names[] = {
	{"noplaintext", SMTP_SASL_SEC_NOPLAINTEXT},
	{"noactive", SMTP_SASL_SEC_NOACTIVE},
	{"nodictionary", SMTP_SASL_SEC_NODICTIONARY},
	{"noanonymous", SMTP_SASL_SEC_NOANONYMOUS},
	{"mutual_auth", SMTP_SASL_SEC_MUTUAL_AUTH},
};

/* The mechanisms implemented, best first, and the options that rule
 * each out. */
static const struct {
	const char *name;
	int excluded_by;
} mechs[] = {
	{"PLAIN", SMTP_SASL_SEC_NOPLAINTEXT | SMTP_SASL_SEC_NOACTIVE
	    | SMTP_SASL_SEC_NODICTIONARY | SMTP_SASL_SEC_MUTUAL_AUTH},
	{"LOGIN", SMTP_SASL_SEC_NOPLAINTEXT | SMTP_SASL_SEC_NOACTIVE
	    | SMTP_SASL_SEC_NODICTIONARY | SMTP_SASL_SEC_MUTUAL_AUTH},
};

int
smtp_sasl_secopts_parse(const char *value, int *mask_r, char **bad_r)
{
	char *copy = xstrdup(value), *cp = copy, *tok;
	int mask = 0;

	*bad_r = NULL;
	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
		size_t i;

		for (i = 0; i < sizeof(sec_names) / sizeof(sec_names[0]); i++)
			if (strcasecmp(tok, sec_names[i].name) == 0)
				break;
		if (i == sizeof(sec_names) / sizeof(sec_names[0])) {
			*bad_r = xstrdup(tok);
			free(copy);
			return -1;
		}
		mask |= sec_names[i].bit;
	}
	free(copy);
	*mask_r = mask;
	return 0;
}

/* secopts - a security option parameter, or a fatal error. */
static int
secopts(const char *suffix, const char *value)
{
	char *bad;
	int mask;

	if (smtp_sasl_secopts_parse(value, &mask, &bad) < 0)
		msg_fatal("unknown %s_%s value \"%s\" in \"%s\"", conf.prefix,
		    suffix, bad, value);
	return mask;
}

void
smtp_sasl_configure(const struct smtp_sasl_settings *set)
{
	char *copy, *cp, *item;
	const char *lerr;

	/* A new configuration replaces the last one. */
	for (int i = 0; i < conf.nmaps; i++)
		map_close(&conf.maps[i]);
	free(conf.maps);
	conf.maps = NULL;
	conf.nmaps = 0;
	match_list_free(&conf.filter);
	conf.prefix = set->prefix;
	conf.enable = set->enable;
	if (!conf.enable)
		return;
	if (strcasecmp(set->type, "cyrus") != 0) {
		msg_warn("unsupported SASL client implementation: %s", set->type);
		msg_fatal("%s_sasl_type = %s: the SMTP client authenticates with "
		    "the \"cyrus\" type only (PLAIN and LOGIN)", conf.prefix,
		    set->type);
	}
	if (set->password_maps == NULL || *skipblanks(set->password_maps) == 0)
		msg_fatal("%s_sasl_auth_enable = yes: specify a password table "
		    "with %s_sasl_password_maps", conf.prefix, conf.prefix);
	conf.soft_bounce = set->soft_bounce;
	conf.sender_auth = set->sender_auth;
	conf.timeout = set->timeout;
	conf.opts = secopts("sasl_security_options", set->security_options);
	conf.tls_opts = secopts("sasl_tls_security_options",
	    set->tls_security_options);
	conf.verified_opts = secopts("sasl_tls_verified_security_options",
	    set->tls_verified_security_options);
	if (set->mechanism_filter && *skipblanks(set->mechanism_filter)) {
		char param[64];

		snprintf(param, sizeof(param), "%s_sasl_mechanism_filter",
		    conf.prefix);
		conf.filter = match_list_create(param, set->mechanism_filter,
		    MATCH_LIST_DOMAIN);
	}
	/* Opened now, before the process drops privileges: the file may be
	 * readable by root only. */
	copy = cp = xstrdup(set->password_maps ? set->password_maps : "");
	while ((item = match_list_token(&cp, &lerr)) != NULL) {
		char *merr = NULL;
		struct map *m = map_open(item, O_RDONLY, MAP_FLAGS_DEFAULT
		    | MAP_FLAG_SURROGATE | MAP_FLAG_NO_REGSUB, &merr);

		if (m == NULL) {
			msg_warn("%s_sasl_password_maps: %s", conf.prefix,
			    merr ? merr : item);
			free(merr);
			continue;
		}
		free(merr);
		conf.maps = xreallocarray(conf.maps, (size_t)conf.nmaps + 1,
		    sizeof(*conf.maps));
		conf.maps[conf.nmaps++] = m;
	}
	free(copy);
}

void
smtp_sasl_init(int lmtp)
{
	struct smtp_sasl_settings set;

#define PICK(name) (lmtp ? var_lmtp_##name : var_smtp_##name)
	memset(&set, 0, sizeof(set));
	set.prefix = lmtp ? "lmtp" : "smtp";
	set.enable = PICK(sasl_auth_enable);
	set.type = PICK(sasl_type);
	set.password_maps = PICK(sasl_password_maps);
	set.mechanism_filter = PICK(sasl_mechanism_filter);
	set.security_options = PICK(sasl_security_options);
	set.tls_security_options = PICK(sasl_tls_security_options);
	set.tls_verified_security_options = PICK(sasl_tls_verified_security_options);
	set.soft_bounce = PICK(sasl_auth_soft_bounce);
	/* Postfix looks senders up for SMTP only. */
	set.sender_auth = lmtp ? 0 : var_smtp_sender_dependent_authentication;
	set.timeout = lmtp ? var_lmtp_lhlo_timeout : var_smtp_helo_timeout;
#undef PICK
	smtp_sasl_configure(&set);
}

int
smtp_sasl_enabled(void)
{
	return conf.enable;
}

/* find - the first table's answer for key; fixed tables only unless
 * full.  1 found (*value_r), 0 not, -1 a table failed. */
static int
find(const char *key, int full, const char **value_r)
{
	for (int i = 0; i < conf.nmaps; i++) {
		struct map *m = conf.maps[i];

		if (!full && !(m->caps & MAP_CAP_FIXED))
			continue;
		switch (map_lookup(m, key, value_r)) {
		case MAP_FOUND:
			return 1;
		case MAP_TEMPFAIL:
			msg_warn("%s_sasl_password_maps: %s: lookup of \"%s\": %s",
			    conf.prefix, m->title, key, map_reason(m));
			return -1;
		case MAP_NOTFOUND:
			break;
		}
	}
	return 0;
}

void
smtp_sasl_cred_free(struct smtp_sasl_cred **cp)
{
	struct smtp_sasl_cred *c = *cp;

	if (c == NULL)
		return;
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->username);
	free(c);
	*cp = NULL;
}

int
smtp_sasl_passwd_lookup(const char *sender, const char *host,
    const char *nexthop, struct smtp_sasl_cred **cred_r)
{
	const char *value = NULL;
	int rc = 0;

	*cred_r = NULL;
	if (!conf.enable || conf.nmaps == 0)
		return 0;
	if (conf.sender_auth && sender && *sender) {
		struct mail_addr_forms *forms = mail_addr_forms(sender, "virtual");

		for (int f = 0; forms && f < forms->count && rc == 0; f++)
			rc = find(forms->form[f], forms->full_only[f], &value);
		mail_addr_forms_free(&forms);
	}
	if (rc == 0 && host && *host)
		rc = find(host, 1, &value);
	if (rc == 0 && nexthop && *nexthop)
		rc = find(nexthop, 1, &value);
	if (rc == 1) {
		struct smtp_sasl_cred *c = xcalloc(1, sizeof(*c));
		const char *colon = strchr(value, ':');

		if (colon) {
			c->username = xstrndup(value, (size_t)(colon - value));
			c->password = xstrdup(colon + 1);
		} else {
			c->username = xstrdup(value);
			c->password = xstrdup("");
		}
		*cred_r = c;
	}
	return rc;
}

/* has_word - is name one of the blank-separated words of list? */
static int
has_word(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *cp = list; *cp;) {
		size_t k;

		cp += strspn(cp, " \t");
		k = strcspn(cp, " \t");
		if (k == n && strncasecmp(cp, name, n) == 0)
			return 1;
		cp += k;
	}
	return 0;
}

void
smtp_sasl_helo_auth(struct smtp_session *s, const char *first,
    const char *rest)
{
	char list[sizeof(s->sasl_mechs)], offered[sizeof(s->sasl_mechs)];
	char *copy, *cp, *tok;

	if (!conf.enable)
		return;
	snprintf(offered, sizeof(offered), "%s%s%s", first,
	    *first && *rest ? " " : "", rest);
	if (s->features & SMTP_FEATURE_AUTH) {
		/* "AUTH x y" and "AUTH=x y" both: fine when the same. */
		if (strcasecmp(s->sasl_offered, offered) == 0)
			return;
		msg_warn("%s offered AUTH option multiple times", s->peer);
		s->features &= ~SMTP_FEATURE_AUTH;
		s->sasl_mechs[0] = 0;
		return;
	}
	strlcpy(s->sasl_offered, offered, sizeof(s->sasl_offered));
	list[0] = 0;
	copy = cp = xstrdup(offered);
	while ((tok = mystrtok(&cp, " \t")) != NULL) {
		if (conf.filter && match_list_match(conf.filter, tok, NULL) != 1)
			continue;
		if (list[0])
			strlcat(list, " ", sizeof(list));
		strlcat(list, tok, sizeof(list));
	}
	free(copy);
	if (list[0] == 0) {
		if (*offered)
			msg_warn("%s offered no supported AUTH mechanisms: '%s'",
			    s->peer, offered);
		else
			msg_warn("%s offered null AUTH mechanism list", s->peer);
		return;
	}
	strlcpy(s->sasl_mechs, list, sizeof(s->sasl_mechs));
	s->features |= SMTP_FEATURE_AUTH;
}

const char *
smtp_sasl_select(const char *offered, int opts)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if ((opts & mechs[i].excluded_by) == 0
		    && has_word(offered, mechs[i].name))
			return mechs[i].name;
	return NULL;
}

char *
smtp_sasl_base64(const unsigned char *data, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *op = out;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		*op++ = tab[(v >> 18) & 63];
		*op++ = tab[(v >> 12) & 63];
		*op++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*op++ = i + 2 < len ? tab[v & 63] : '=';
	}
	*op = 0;
	return out;
}

/* send_line - one line of the dialogue; the buffer is wiped after. */
static int
send_line(struct smtp_stream *st, const char *prefix, char *data)
{
	smtp_printf(st, "%s%s\r\n", prefix, data);
	explicit_bzero(data, strlen(data));
	return smtp_flush(st, conf.timeout);
}

int
smtp_sasl_authenticate(struct smtp_session *s,
    const struct smtp_sasl_cred *cred, int tls, int verified, char *dsn,
    size_t dsn_len, char *text, size_t text_len)
{
	struct smtp_stream *st = s->stream;
	int opts = verified ? conf.verified_opts : tls ? conf.tls_opts
	    : conf.opts;
	const char *mech = smtp_sasl_select(s->sasl_mechs, opts);
	struct smtp_reply r = {0};
	char *b64;
	int step = 0, rc;

	if (mech == NULL) {
		strlcpy(dsn, "4.7.0", dsn_len);
		snprintf(text, text_len, "SASL authentication failed; cannot "
		    "authenticate to server %s: no mechanism available", s->peer);
		return -2;
	}
	if (strcmp(mech, "PLAIN") == 0) {
		/* RFC 4616: authzid (empty) NUL authcid NUL passwd. */
		size_t ul = strlen(cred->username), pl = strlen(cred->password);
		unsigned char *msg = xmalloc(ul + pl + 2);

		msg[0] = 0;
		memcpy(msg + 1, cred->username, ul);
		msg[ul + 1] = 0;
		memcpy(msg + ul + 2, cred->password, pl);
		b64 = smtp_sasl_base64(msg, ul + pl + 2);
		explicit_bzero(msg, ul + pl + 2);
		free(msg);
		if (send_line(st, "AUTH PLAIN ", b64) < 0) {
			free(b64);
			return -1;
		}
		free(b64);
	} else {
		smtp_printf(st, "AUTH %s\r\n", mech);
		if (smtp_flush(st, conf.timeout) < 0)
			return -1;
	}
	r.text = buf_new(256, 64 * 1024);
	for (;;) {
		const char *answer;

		if (smtp_read_reply(st, &r, conf.timeout) < 0) {
			buf_free(&r.text);
			return -1;
		}
		if (r.code != 334)
			break;
		if (step >= SMTP_SASL_MAX_STEPS) {
			strlcpy(dsn, "4.3.0", dsn_len);
			snprintf(text, text_len, "SASL authentication failed; "
			    "authentication protocol loop with server %s", s->peer);
			buf_free(&r.text);
			return -2;
		}
		/* LOGIN: the user name, then the password (the server's
		 * prompts say as much; their wording varies).  Anything
		 * else asks for more than the mechanism has: cancelled. */
		step++;
		answer = strcmp(mech, "LOGIN") == 0 && step == 1 ? cred->username
		    : strcmp(mech, "LOGIN") == 0 && step == 2 ? cred->password
		    : NULL;
		if (answer == NULL) {
			smtp_printf(st, "*\r\n");
			if (smtp_flush(st, conf.timeout) < 0) {
				buf_free(&r.text);
				return -1;
			}
			continue;
		}
		b64 = smtp_sasl_base64((const unsigned char *)answer,
		    strlen(answer));
		rc = send_line(st, "", b64);
		free(b64);
		if (rc < 0) {
			buf_free(&r.text);
			return -1;
		}
	}
	rc = 0;
	if (r.code != 235) {
		strlcpy(dsn, r.dsn, dsn_len);
		if (dsn[0] == '5' && conf.soft_bounce)
			dsn[0] = '4';
		if (dsn[0] != '4' && dsn[0] != '5')
			strlcpy(dsn, "4.7.0", dsn_len);
		snprintf(text, text_len, "SASL authentication failed; server %s "
		    "said: %s", s->peer, buf_str(r.text));
		rc = -2;
	}
	buf_free(&r.text);
	return rc;
}

int
smtp_sasl_session_key(const char *sender, const struct smtp_addr *a,
    const char *nexthop, struct smtp_sasl_cred **cred_r, char **key_r)
{
	int rc;

	*cred_r = NULL;
	if (!conf.enable)
		return 0;
	rc = smtp_sasl_passwd_lookup(sender, a->host, a->fallback ? NULL
	    : nexthop, cred_r);
	if (rc == 1) {
		/* A session logged in as one user is never used for
		 * another's mail (sender-dependent logins). */
		char *key = concatenate(*key_r, "|sasl=", (*cred_r)->username,
		    (char *)0);

		free(*key_r);
		*key_r = key;
	}
	return rc < 0 ? -1 : 0;
}

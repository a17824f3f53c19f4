/* SPDX-License-Identifier: MIT */
/* smtpd_check_access - check_client_access, check_helo_access,
 * check_sender_access and check_recipient_access: access(5) tables
 * searched in Postfix's key order, and the actions of their results.
 *
 * Key order (each key is sent to the table; keys other than the full
 * string only to fixed tables, never to cidr/regexp/pcre):
 *   client   NAME, its parent domains, then ADDR, ADDR minus its last
 *            octet (IPv4) or ":group" (IPv6), ... down to one part
 *   helo     NAME, its parent domains ([literal]: then its address)
 *   address  user+ext@domain, user@domain, domain, parents, user+ext@,
 *            user@ (mail_addr_find "access"); the null sender is
 *            $smtpd_null_access_lookup_key
 * Parent forms are "example.com" or ".example.com" as
 * parent_domain_matches_subdomains lists smtpd_access_maps or not.
 * Any match ends the search, DUNNO included.  A table error gives
 * "451 4.3.0 <name>: Temporary lookup failure".
 *
 * Actions: OK/RELAY/all digits, REJECT, DEFER, 4NN/5NN text,
 * DEFER_IF_PERMIT, DEFER_IF_REJECT, DUNNO, HOLD, DISCARD, WARN, INFO,
 * PREPEND, REDIRECT, BCC, FILTER transport:destination, HANGUP, and
 * restriction lists (no tables inside).  Anything else that is not a
 * valid restriction list (a FILTER without transport:destination too)
 * answers "451 4.3.5 Server configuration error" with a warning: no
 * action is ever treated as DUNNO.  The check/server_access variants (_a, _mx, _ns) first ask the
 * DNS for the addresses or the MX/NS hosts of a domain.
 * Logs: hold/discard/redirect/warn/info/prepend lines in Postfix's shape,
 * warnings for bad results. */
#include "postino_config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dns.h"
#include "mail_addr_find.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "resolve.h"
#include "smtpd_check_private.h"
#include "smtpd_restrict.h"
#include "stringops.h"

#define ACCESS_NOTFOUND	(-1)	/* internal: no key matched */

size_t
smtpd_check_dsn_prefix(const char *text)
{
	const char *cp = text;
	int parts = 0;

	if (*cp != '2' && *cp != '4' && *cp != '5')
		return 0;
	for (;;) {
		size_t n = strspn(cp, "0123456789");

		if (n == 0 || n > 3)
			return 0;
		cp += n;
		if (++parts == 3)
			break;
		if (*cp++ != '.')
			return 0;
	}
	if (*cp != 0 && *cp != ' ' && *cp != '\t')
		return 0;
	return (size_t)(cp - text);
}

/* reject_text - reject with "<name>: Class rejected: text", taking a
 * leading DSN from text when there is one. */
static int
reject_text(struct smtpd_check_ctx *ctx, int code, const char *def_dsn,
    const char *text, const char *def_text, const char *name,
    const char *class, int which)
{
	char dsn[16];
	size_t n;

	text = skipblanks(text);
	strlcpy(dsn, def_dsn, sizeof(dsn));
	if ((n = smtpd_check_dsn_prefix(text)) > 0 && n < sizeof(dsn)) {
		memcpy(dsn, text, n);
		dsn[n] = 0;
		dsn[0] = (char)('0' + code / 100);
		text = skipblanks(text + n);
	}
	if (*text == 0)
		text = def_text;
	if (which)
		smtpd_check_defer_if(ctx, which, code, dsn, "<%s>: %s rejected: %s",
		    name, class, text);
	else
		return smtpd_check_reject(ctx, class, code, dsn,
		    "<%s>: %s rejected: %s", name, class, text);
	return SMTPD_CHECK_DUNNO;
}

/* log_action - "hold: STAGE from ...: <name>: Class text" */
static void
log_action(struct smtpd_check_ctx *ctx, const char *action, const char *name,
    const char *class, const char *text, const char *def)
{
	char *line = concatenate("<", name, ">: ", class, " ",
	    *text ? text : def, (char *)0);

	smtpd_check_log(ctx, action, line);
	free(line);
}

/* valid_header - "Name: value" with a printable name. */
static int
valid_header(const char *text)
{
	const char *cp;

	for (cp = text; *cp && *cp != ':'; cp++)
		if ((unsigned char)*cp <= ' ' || (unsigned char)*cp >= 0x7f)
			return 0;
	return cp > text && *cp == ':';
}

/* table_result - act on an access table result (value is a copy). */
static int
table_result(struct smtpd_check_ctx *ctx, const char *table, char *value,
    const char *name, const char *class, int suspicious)
{
	char *word = value, *rest;
	size_t wlen = strcspn(value, " \t");
	int code;

	rest = skipblanks(value + wlen);
	if (*value == 0) {
		msg_warn("access table %s: empty result for \"%s\": treating as OK",
		    table, name);
		return SMTPD_CHECK_OK;
	}
#define IS(w) (wlen == strlen(w) && strncasecmp(word, (w), wlen) == 0)
	if (IS("OK") || IS("RELAY") || (wlen == strlen(value) && alldig(value))) {
		if (suspicious) {
			msg_info("access table %s: OK for <%s> with sender-specified "
			    "routing is ignored", table, name);
			return SMTPD_CHECK_DUNNO;
		}
		return SMTPD_CHECK_OK;
	}
	if (IS("DUNNO"))
		return SMTPD_CHECK_DUNNO;
	if (IS("REJECT"))
		return reject_text(ctx, (int)var_access_map_reject_code,
		    "5.7.1", rest, "Access denied", name, class, 0);
	if (IS("DEFER"))
		return reject_text(ctx, (int)var_access_map_defer_code,
		    "4.7.1", rest, "Access denied", name, class, 0);
	if (IS("DEFER_IF_PERMIT"))
		return reject_text(ctx, (int)var_defer_code, "4.7.1",
		    rest, "Service unavailable", name, class, 'p');
	if (IS("DEFER_IF_REJECT"))
		return reject_text(ctx, (int)var_defer_code, "4.7.1",
		    rest, "Service unavailable", name, class, 'r');
	if (wlen == 3 && (word[0] == '4' || word[0] == '5')
	    && isdigit((unsigned char)word[1]) && isdigit((unsigned char)word[2])
	    && *rest) {
		code = (word[0] - '0') * 100 + (word[1] - '0') * 10 + (word[2] - '0');
		return reject_text(ctx, code, code >= 500 ? "5.7.1" : "4.7.1", rest,
		    "Access denied", name, class, 0);
	}
	if (IS("HOLD")) {
		ctx->r->hold = 1;
		log_action(ctx, "hold", name, class, rest, "triggers HOLD action");
		return SMTPD_CHECK_DUNNO;
	}
	if (IS("DISCARD")) {
		ctx->r->discard = 1;
		log_action(ctx, "discard", name, class, rest, "triggers DISCARD action");
		return SMTPD_CHECK_OK;
	}
	if (IS("WARN") || IS("INFO")) {
		log_action(ctx, IS("WARN") ? "warn" : "info", name, class, rest,
		    "triggers WARN action");
		return SMTPD_CHECK_DUNNO;
	}
	if (IS("PREPEND")) {
		if (!valid_header(rest)) {
			msg_warn("access table %s: PREPEND action for \"%s\" needs a "
			    "header \"name: value\": \"%s\"", table, name, rest);
			return SMTPD_CHECK_DUNNO;
		}
		if (strcmp(ctx->stage, "END-OF-MESSAGE") == 0) {
			msg_warn("access table %s: PREPEND is not allowed in "
			    "smtpd_end_of_data_restrictions", table);
			return SMTPD_CHECK_DUNNO;
		}
		ctx->r->prepend = xreallocarray(ctx->r->prepend,
		    (size_t)ctx->r->nprepend + 2, sizeof(*ctx->r->prepend));
		ctx->r->prepend[ctx->r->nprepend++] = xstrdup(rest);
		ctx->r->prepend[ctx->r->nprepend] = NULL;
		return SMTPD_CHECK_DUNNO;
	}
	if (IS("REDIRECT")) {
		char *line;

		if (*rest == 0 || strchr(rest, ' ')) {
			msg_warn("access table %s: REDIRECT for \"%s\" needs one "
			    "address", table, name);
			return SMTPD_CHECK_DUNNO;
		}
		free(ctx->r->redirect);
		ctx->r->redirect = xstrdup(rest);
		line = concatenate("<", name, ">: ", class, " triggers REDIRECT ",
		    rest, (char *)0);
		smtpd_check_log(ctx, "redirect", line);
		free(line);
		return SMTPD_CHECK_DUNNO;
	}
	if (IS("BCC")) {
		char *line;

		if (*rest == 0 || strchr(rest, '@') == NULL || strpbrk(rest, " \t")) {
			msg_warn("access table %s: BCC for \"%s\" needs one "
			    "user@domain address", table, name);
			return SMTPD_CHECK_DUNNO;
		}
		ctx->r->bcc = xreallocarray(ctx->r->bcc, (size_t)ctx->r->nbcc + 2,
		    sizeof(*ctx->r->bcc));
		ctx->r->bcc[ctx->r->nbcc++] = xstrdup(rest);
		ctx->r->bcc[ctx->r->nbcc] = NULL;
		line = concatenate("<", name, ">: ", class, " triggers BCC ", rest,
		    (char *)0);
		smtpd_check_log(ctx, "bcc", line);
		free(line);
		return SMTPD_CHECK_DUNNO;
	}
	if (IS("HANGUP")) {
		log_action(ctx, "hangup", name, class, rest, "triggers HANGUP action");
		return smtpd_check_hangup(ctx);
	}
	if (IS("FILTER")) {
		char *line;
		const char *colon = strchr(rest, ':');

		/* A filter that cannot be named would let the mail pass
		 * uninspected: a configuration error, never DUNNO. */
		if (colon == NULL || colon == rest || strpbrk(rest, " \t")) {
			char *why = concatenate("access table ", table, ": action "
			    "FILTER for \"", name, "\" needs transport:destination",
			    (char *)0);
			int rc = smtpd_check_config_error(ctx, why);

			free(why);
			return rc;
		}
		free(ctx->r->filter);
		ctx->r->filter = xstrdup(rest);
		line = concatenate("<", name, ">: ", class, " triggers FILTER ",
		    rest, (char *)0);
		smtpd_check_log(ctx, "filter", line);
		free(line);
		return SMTPD_CHECK_DUNNO;
	}
#undef IS
	return smtpd_check_list_text(ctx, value, name, class);
}

int
smtpd_check_access_result(struct smtpd_check_ctx *ctx, const char *table,
    char *value, const char *name, const char *class)
{
	return table_result(ctx, table, value, name, class, 0);
}

/* query - look key up; on a match act on the result. */
static int
query(struct smtpd_check_ctx *ctx, struct map *map, const char *key,
    const char *name, const char *class, int suspicious)
{
	const char *value;
	char *copy;
	int rc;

	switch (map_lookup(map, key, &value)) {
	case MAP_NOTFOUND:
		return ACCESS_NOTFOUND;
	case MAP_TEMPFAIL:
		msg_warn("%s: lookup of \"%s\": %s", map->title, key,
		    map_reason(map));
		return smtpd_check_tempfail(ctx, name);
	case MAP_FOUND:
		break;
	}
	copy = xstrdup(value);
	rc = table_result(ctx, map->title, copy, name, class, suspicious);
	free(copy);
	return rc;
}

/* access_host - a host name and its parents (fixed tables only). */
static int
access_host(struct smtpd_check_ctx *ctx, struct map *map, const char *host,
    const char *name, const char *class)
{
	int parent = match_list_parent_style("smtpd_access_maps");
	int rc;

	if ((rc = query(ctx, map, host, name, class, 0)) != ACCESS_NOTFOUND)
		return rc;
	if (!(map->caps & MAP_CAP_FIXED) || *host == '[')
		return ACCESS_NOTFOUND;
	for (const char *dot = strchr(host, '.'); dot && dot[1];
	    dot = strchr(dot + 1, '.'))
		if ((rc = query(ctx, map, parent ? dot + 1 : dot, name, class, 0))
		    != ACCESS_NOTFOUND)
			return rc;
	return ACCESS_NOTFOUND;
}

/* access_addr - an address and its truncations (fixed tables only). */
static int
access_addr(struct smtpd_check_ctx *ctx, struct map *map, const char *addr,
    const char *name, const char *class)
{
	char *copy = xstrdup(addr), *cut;
	int delim = strchr(copy, ':') ? ':' : '.';
	int rc;

	rc = query(ctx, map, copy, name, class, 0);
	while (rc == ACCESS_NOTFOUND && (map->caps & MAP_CAP_FIXED)
	    && (cut = strrchr(copy, delim)) != NULL) {
		*cut = 0;
		if (*copy == 0)
			break;
		rc = query(ctx, map, copy, name, class, 0);
	}
	free(copy);
	return rc;
}

/* finish - ACCESS_NOTFOUND is DUNNO to the caller. */
static int
finish(int rc)
{
	return rc == ACCESS_NOTFOUND ? SMTPD_CHECK_DUNNO : rc;
}

int
smtpd_check_access_host(struct smtpd_check_ctx *ctx, struct map *map,
    const char *host, const char *name, const char *class)
{
	return finish(access_host(ctx, map, host, name, class));
}

/* server_addrs - look each address of host up (A, then AAAA). */
static int
server_addrs(struct smtpd_check_ctx *ctx, struct map *map, const char *host,
    const char *name, const char *class)
{
	static const int types[] = { DNS_T_A, DNS_T_AAAA };
	int rc = ACCESS_NOTFOUND;

	for (size_t t = 0; t < 2 && rc == ACCESS_NOTFOUND; t++) {
		char **list = NULL;

		if (smtpd_check_dns_lookup(host, types[t], &list) == SMTPD_DNS_OK)
			for (int i = 0; list[i] && rc == ACCESS_NOTFOUND; i++)
				rc = access_addr(ctx, map, list[i], name, class);
		smtpd_check_dns_list_free(&list);
	}
	return rc;
}

int
smtpd_check_access_server(struct smtpd_check_ctx *ctx, struct map *map,
    const char *domain, int dns, const char *name, const char *class)
{
	int type = dns == SR_DNS_MX ? DNS_T_MX : dns == SR_DNS_NS ? DNS_T_NS : DNS_T_A;
	const char *what = dns == SR_DNS_MX ? "MX" : dns == SR_DNS_NS ? "NS"
	    : "A";
	char **list = NULL;
	int st, rc = ACCESS_NOTFOUND;

	if (dns == SR_DNS_A)
		return finish(server_addrs(ctx, map, domain, name, class));
	st = smtpd_check_dns_lookup(domain, type, &list);
	/* No MX: the domain is its own mail host.  No NS: its parents'. */
	if (st == SMTPD_DNS_NODATA && type == DNS_T_MX) {
		smtpd_check_dns_list_free(&list);
		list = xcalloc(2, sizeof(*list));
		list[0] = concatenate("0 ", domain, (char *)0);
		st = SMTPD_DNS_OK;
	}
	for (const char *d = domain; st == SMTPD_DNS_NODATA && type == DNS_T_NS;) {
		if ((d = strchr(d, '.')) == NULL || d[1] == 0)
			break;
		d++;
		smtpd_check_dns_list_free(&list);
		st = smtpd_check_dns_lookup(d, type, &list);
	}
	if (st == SMTPD_DNS_RETRY) {
		smtpd_check_dns_list_free(&list);
		smtpd_check_defer_if(ctx, 'p', 450, "4.4.3", "<%s>: %s rejected: "
		    "unable to look up %s host for %s", name, class, what, domain);
		return SMTPD_CHECK_DUNNO;
	}
	for (int i = 0; st == SMTPD_DNS_OK && list[i] && rc == ACCESS_NOTFOUND;
	    i++) {
		const char *host = list[i];

		/* MX answers are "PREFERENCE HOST". */
		if (type == DNS_T_MX && strchr(host, ' '))
			host = strchr(host, ' ') + 1;
		if (*host == 0)
			continue;
		rc = access_host(ctx, map, host, name, class);
		if (rc == ACCESS_NOTFOUND)
			rc = server_addrs(ctx, map, host, name, class);
	}
	smtpd_check_dns_list_free(&list);
	return finish(rc);
}

int
smtpd_check_access_client(struct smtpd_check_ctx *ctx, struct map *map)
{
	const char *name = ctx->s->client_name;
	int rc = ACCESS_NOTFOUND;

	if (name && *name) {
		unsigned char b[16];

		/* A numeric "name" gets no parent search. */
		if (match_list_addr_parse(name, b) > 0)
			rc = query(ctx, map, name, ctx->client, "Client host", 0);
		else
			rc = access_host(ctx, map, name, ctx->client, "Client host");
	}
	if (rc == ACCESS_NOTFOUND && ctx->s->client_addr && *ctx->s->client_addr)
		rc = access_addr(ctx, map, ctx->s->client_addr, ctx->client,
		    "Client host");
	return finish(rc);
}

int
smtpd_check_access_sasl(struct smtpd_check_ctx *ctx, struct map *map)
{
	const char *login = ctx->s->sasl_username;

	if (login == NULL || *login == 0)
		return SMTPD_CHECK_DUNNO;
	return finish(query(ctx, map, login, login, "SASL login name", 0));
}

int
smtpd_check_access_ccert(struct smtpd_check_ctx *ctx, struct map *map,
    const char *order)
{
	const struct smtpd_check_session *s = ctx->s;
	int rc = ACCESS_NOTFOUND;

	/* The fingerprint itself is checked: the chain need not verify.  A
	 * rejection names the certificate's CommonName, as in Postfix. */
	for (; *order && rc == ACCESS_NOTFOUND; order++) {
		const char *key = *order == 'c' ? s->ccert_fingerprint
		    : s->ccert_pkey_fingerprint;

		if (key && *key)
			rc = query(ctx, map, key, s->ccert_subject
			    ? s->ccert_subject : "", "Client certificate", 0);
	}
	return finish(rc);
}

int
smtpd_check_access_helo(struct smtpd_check_ctx *ctx, struct map *map)
{
	const char *helo = ctx->helo;
	int rc;

	if (helo == NULL || *helo == 0)
		return SMTPD_CHECK_DUNNO;
	rc = access_host(ctx, map, helo, helo, "Helo command");
	if (rc == ACCESS_NOTFOUND && *helo == '[') {
		unsigned char b[16];
		char *bare = xstrndup(helo + 1, strcspn(helo + 1, "]"));

		if (match_list_addr_parse(bare, b) > 0)
			rc = access_addr(ctx, map, strncasecmp(bare, "ipv6:", 5) == 0
			    ? bare + 5 : bare, helo, "Helo command");
		free(bare);
	}
	return finish(rc);
}

int
smtpd_check_access_mail(struct smtpd_check_ctx *ctx, struct map *map,
    const char *addr, const char *addr_int, const char *class)
{
	struct mail_addr_forms *forms;
	struct resolve_reply rr;
	int suspicious, rc = ACCESS_NOTFOUND;

	if (addr == NULL)
		return SMTPD_CHECK_DUNNO;
	if (*addr_int == 0)
		return finish(query(ctx, map,
		    var_smtpd_null_access_lookup_key, addr, class, 0));
	if (resolve_addr(addr_int, &rr) == MAP_TEMPFAIL) {
		resolve_reply_free(&rr);
		return smtpd_check_tempfail(ctx, addr);
	}
	suspicious = !var_allow_untrusted_routing
	    && (rr.flags & RESOLVE_FLAG_ROUTED)
	    && strcmp(class, "Recipient address") == 0;
	forms = mail_addr_forms(rr.recipient, "access");
	for (int i = 0; forms && i < forms->count && rc == ACCESS_NOTFOUND; i++) {
		if (!forms->full_only[i] && !(map->caps & MAP_CAP_FIXED))
			continue;
		rc = query(ctx, map, forms->form[i], addr, class, suspicious);
	}
	mail_addr_forms_free(&forms);
	resolve_reply_free(&rr);
	return finish(rc);
}

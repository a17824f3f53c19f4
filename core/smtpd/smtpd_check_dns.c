/* SPDX-License-Identifier: MIT */
/* smtpd_check_dns - the DNS questions of the policy checks: does a mail
 * domain exist (MX, else A, else AAAA), is a client listed in a DNS
 * block list (A record), the records of a name (addresses, MX and NS
 * hosts, TXT), and the restrictions built on them: reject_rbl_client,
 * permit_dnswl_client, reject_rhsbl_*, permit_rhswl_client and
 * permit_mx_backup.
 *
 * DNS list results: reject_rbl_client ZONE[=PATTERN] (PATTERN matches
 * the A record byte by byte: "127.0.0.2", "127.0.0.[2..11]",
 * "127.0.0.[2;4;8]") rejects with the zone's rbl_reply_maps template or
 * default_rbl_reply ($rbl_code = $maps_rbl_reject_code: "554 5.7.1
 * Service unavailable; CLASS [WHAT] blocked using ZONE[; TXT]"); a DNS
 * error there is logged and ignored, as Postfix.  The white lists
 * (permit_dnswl_client, permit_rhswl_client) never override
 * reject_unauth_destination: with a recipient that is not ours they do
 * nothing; a DNS error there is a defer_if_reject.
 *
 * The lookups go through the resolver of core/dns (dns_lookup()): inside
 * a task they wait without blocking the loop; outside one they run a
 * private loop.  Timeouts come from resolv.conf (bounded by default), a
 * timeout is a temporary failure, never "not found".  They are only made
 * for domains that are not ours (local, virtual and relay domains never
 * need DNS).  Nothing is logged here. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "dns.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "map.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "resolve.h"
#include "smtpd_check_private.h"
#include "stringops.h"

/* list_add - append a copy of text to a NULL-terminated list. */
static void
list_add(char ***list, int *count, const char *text)
{
	*list = xreallocarray(*list, (size_t)*count + 2, sizeof(**list));
	(*list)[(*count)++] = xstrdup(text);
	(*list)[*count] = NULL;
}

int
smtpd_check_dns_lookup(const char *name, int type, char ***list_r)
{
	struct dns_answer *a = dns_lookup(name, type, 0);
	int count = 0, rc;

	*list_r = NULL;
	switch (a->status) {
	case DNS_OK:
		for (int i = 0; i < a->count; i++) {
			const struct dns_rr *rr = &a->rr[i];
			char text[1100];

			switch (type) {
			case DNS_T_A:
			case DNS_T_AAAA:
				list_add(list_r, &count, rr->addr_text);
				break;
			case DNS_T_MX:
				snprintf(text, sizeof(text), "%d %.1000s", rr->pref,
				    rr->host);
				list_add(list_r, &count, text);
				break;
			case DNS_T_NS:
			case DNS_T_PTR:
			case DNS_T_CNAME:
				list_add(list_r, &count, rr->host);
				break;
			case DNS_T_TXT:
				list_add(list_r, &count, rr->text);
				break;
			default:
				break;
			}
		}
		rc = count > 0 ? SMTPD_DNS_OK : SMTPD_DNS_NODATA;
		break;
	case DNS_NOTFOUND:
		rc = SMTPD_DNS_NXDOMAIN;
		break;
	case DNS_NODATA:
		rc = SMTPD_DNS_NODATA;
		break;
	case DNS_INVALID:
		/* A name that cannot exist does not exist. */
		rc = SMTPD_DNS_NXDOMAIN;
		break;
	case DNS_TEMPFAIL:
	default:
		rc = SMTPD_DNS_RETRY;
		break;
	}
	dns_answer_free(a);
	return rc;
}

/* dns_exists - 1 records found, 0 none, -1 retry; *nxdomain_r when the
 * name itself does not exist. */
static int
dns_exists(const char *name, int type, int *nxdomain_r)
{
	struct dns_answer *a = dns_lookup(name, type, 0);
	int rc;

	*nxdomain_r = 0;
	switch (a->status) {
	case DNS_OK:
		rc = 1;
		break;
	case DNS_NOTFOUND:
	case DNS_INVALID:
		*nxdomain_r = 1;
		rc = 0;
		break;
	case DNS_NODATA:
		rc = 0;
		break;
	case DNS_TEMPFAIL:
	default:
		rc = -1;
		break;
	}
	dns_answer_free(a);
	return rc;
}

int
smtpd_check_dns_domain(const char *domain)
{
	static const int types[] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA };
	int rc = 0, nx;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		rc = dns_exists(domain, types[i], &nx);
		if (rc != 0 || nx)
			break;
	}
	return rc;
}

int
smtpd_check_dns_rbl(const char *name)
{
	int nx;

	return dns_exists(name, DNS_T_A, &nx);
}

void
smtpd_check_dns_list_free(char ***list)
{
	if (*list == NULL)
		return;
	for (char **p = *list; *p; p++)
		free(*p);
	free(*list);
	*list = NULL;
}

/* byte_match - one octet against "N", "[N..M]" or "[N;M;...]". */
static int
byte_match(const char *pat, size_t len, unsigned value)
{
	char buf[64];
	char *cp, *item;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, pat, len);
	buf[len] = 0;
	if (buf[0] != '[')
		return alldig(buf) && strtoul(buf, NULL, 10) == value;
	if (buf[len - 1] != ']')
		return 0;
	buf[len - 1] = 0;
	cp = buf + 1;
	while ((item = mystrtok(&cp, ";")) != NULL) {
		char *dots = strstr(item, "..");
		unsigned long lo, hi;

		if (dots) {
			*dots = 0;
			if (!alldig(item) || !alldig(dots + 2))
				return 0;
			lo = strtoul(item, NULL, 10);
			hi = strtoul(dots + 2, NULL, 10);
		} else {
			if (!alldig(item))
				return 0;
			lo = hi = strtoul(item, NULL, 10);
		}
		if (value >= lo && value <= hi)
			return 1;
	}
	return 0;
}

/* addr_match - an IPv4 answer against a four-part pattern. */
static int
addr_match(const char *pattern, const char *addr)
{
	struct in_addr in;
	const unsigned char *b = (const unsigned char *)&in;
	const char *cp = pattern;

	if (inet_pton(AF_INET, addr, &in) != 1)
		return 0;
	for (int i = 0; i < 4; i++) {
		size_t len = strcspn(cp, ".");

		/* A part may hold "..", inside its brackets. */
		if (*cp == '[')
			len = strcspn(cp, "]") + 1;
		if (!byte_match(cp, len, b[i]))
			return 0;
		cp += len;
		if (i < 3 && *cp++ != '.')
			return 0;
	}
	return *cp == 0;
}

/* dnsxl_query - is query listed in the zone (with the optional =PATTERN
 * of arg)?  1, 0 or -1 (temporary failure); *reason_r gets the TXT. */
static int
dnsxl_query(const char *query, const char *arg, char **reason_r)
{
	const char *pattern = strchr(arg, '=');
	char **list = NULL;
	int st, listed = 0;

	*reason_r = NULL;
	st = smtpd_check_dns_lookup(query, DNS_T_A, &list);
	if (st == SMTPD_DNS_RETRY)
		return -1;
	for (int i = 0; st == SMTPD_DNS_OK && list[i] && !listed; i++)
		listed = pattern == NULL || addr_match(pattern + 1, list[i]);
	smtpd_check_dns_list_free(&list);
	if (listed && smtpd_check_dns_lookup(query, DNS_T_TXT, &list)
	    == SMTPD_DNS_OK && list[0] && *list[0])
		*reason_r = xstrdup(list[0]);
	smtpd_check_dns_list_free(&list);
	return listed;
}

/* whitelist_allowed - a white list may not open a relay. */
static int
whitelist_allowed(struct smtpd_check_ctx *ctx)
{
	return ctx->rcpt == NULL || smtpd_check_auth_dest(ctx, ctx->rcpt_int) > 0;
}

/* The variables of a default_rbl_reply / rbl_reply_maps template. */
struct rbl_vars {
	struct smtpd_check_ctx *ctx;
	const char *code, *class, *what, *domain, *reason;
};

/* rbl_var - the value of one template variable, or NULL if unknown. */
static const char *
rbl_var(const struct rbl_vars *v, const char *name)
{
	const struct smtpd_check_ctx *ctx = v->ctx;
	const char *sender = ctx->sender_int ? ctx->sender_int : "";
	const char *rcpt = ctx->rcpt_int ? ctx->rcpt_int : "";
	static __thread char local[1024];

	if (strcmp(name, "rbl_code") == 0)
		return v->code;
	if (strcmp(name, "rbl_class") == 0)
		return v->class;
	if (strcmp(name, "rbl_what") == 0)
		return v->what;
	if (strcmp(name, "rbl_domain") == 0)
		return v->domain;
	if (strcmp(name, "rbl_reason") == 0 || strcmp(name, "rbl_txt") == 0)
		return v->reason ? v->reason : "";
	if (strcmp(name, "client") == 0)
		return ctx->client;
	if (strcmp(name, "client_address") == 0)
		return ctx->s->client_addr ? ctx->s->client_addr : "";
	if (strcmp(name, "client_name") == 0)
		return ctx->s->client_name ? ctx->s->client_name : "";
	if (strcmp(name, "helo_name") == 0)
		return ctx->helo ? ctx->helo : "";
	if (strcmp(name, "sender") == 0)
		return sender;
	if (strcmp(name, "recipient") == 0)
		return rcpt;
	if (strcmp(name, "sender_domain") == 0 || strcmp(name,
	    "recipient_domain") == 0) {
		const char *a = name[0] == 's' ? sender : rcpt;
		const char *at = strrchr(a, '@');

		return at ? at + 1 : "";
	}
	if (strcmp(name, "sender_name") == 0 || strcmp(name,
	    "recipient_name") == 0) {
		const char *a = name[0] == 's' ? sender : rcpt;

		snprintf(local, sizeof(local), "%.*s", (int)strcspn(a, "@"), a);
		return local;
	}
	return NULL;
}

/* rbl_expand - expand $name, ${name}, ${name?text}, ${name:text} and $$
 * of a reply template into out. */
static void
rbl_expand(const struct rbl_vars *v, const char *text, size_t len,
    struct buf *out, int depth)
{
	const char *end = text + len;

	for (const char *cp = text; cp < end; cp++) {
		char name[64];
		const char *val, *arg = NULL;
		size_t n, arglen = 0;
		int op = 0;

		if (*cp != '$' || cp + 1 >= end) {
			buf_printf(out, "%c", *cp);
			continue;
		}
		cp++;
		if (*cp == '$') {
			buf_printf(out, "$");
			continue;
		}
		if (*cp == '{') {
			const char *close;
			int level = 1;

			for (close = cp + 1; close < end && level > 0; close++)
				if (*close == '{')
					level++;
				else if (*close == '}')
					level--;
			n = strcspn(cp + 1, "?:}");
			if (level != 0 || cp + 1 + n >= end)
				return;
			if (cp[1 + n] != '}') {
				op = cp[1 + n];
				arg = cp + 2 + n;
				arglen = (size_t)(close - 1 - arg);
			}
			snprintf(name, sizeof(name), "%.*s", (int)n, cp + 1);
			cp = close - 1;
		} else {
			n = 0;
			while (cp + n < end && (isalnum((unsigned char)cp[n])
			    || cp[n] == '_'))
				n++;
			snprintf(name, sizeof(name), "%.*s", (int)n, cp);
			cp += n - (n > 0);
		}
		if ((val = rbl_var(v, name)) == NULL) {
			msg_warn("rbl reply template: unknown variable \"$%s\"", name);
			val = "";
		}
		if (op == '?') {
			if (*val && depth < 10)
				rbl_expand(v, arg, arglen, out, depth + 1);
		} else if (op == ':') {
			if (*val == 0 && depth < 10)
				rbl_expand(v, arg, arglen, out, depth + 1);
		} else {
			buf_printf(out, "%s", val);
		}
	}
}

/* rbl_template - the zone's rbl_reply_maps entry, or default_rbl_reply
 * (malloc'd). */
static char *
rbl_template(const char *zone)
{
	const char *maps = var_rbl_reply_maps;
	char *copy, *cp, *item, *found = NULL;
	const char *err;

	copy = xstrdup(maps);
	cp = copy;
	while (found == NULL && (item = match_list_token(&cp, &err)) != NULL) {
		char *merr = NULL;
		struct map *map = map_open(item, O_RDONLY, MAP_FLAGS_DEFAULT, &merr);
		const char *value;

		if (map == NULL) {
			msg_warn("rbl_reply_maps: %s: %s", item, merr ? merr : "error");
		} else {
			switch (map_lookup(map, zone, &value)) {
			case MAP_FOUND:
				found = xstrdup(value);
				break;
			case MAP_TEMPFAIL:
				msg_warn("rbl_reply_maps: %s: lookup of \"%s\": %s",
				    map->title, zone, map_reason(map));
				break;
			case MAP_NOTFOUND:
				break;
			}
			map_close(&map);
		}
		free(merr);
	}
	free(copy);
	return found ? found : xstrdup(var_default_rbl_reply);
}

/* rbl_reject - the reply for a listed client or domain. */
static int
rbl_reject(struct smtpd_check_ctx *ctx, const char *zone, const char *class,
    const char *what, const char *reason)
{
	char code_text[8], dsn[16] = "5.7.1";
	struct rbl_vars v = {.ctx = ctx, .class = class, .what = what,
	.domain = zone, .reason = reason};
	char *tmpl = rbl_template(zone);
	struct buf *out = buf_new(256, 4096);
	const char *text;
	int code = (int)var_maps_rbl_reject_code;
	size_t n;
	int rc;

	snprintf(code_text, sizeof(code_text), "%d", code);
	v.code = code_text;
	rbl_expand(&v, tmpl, strlen(tmpl), out, 0);
	text = buf_str(out);
	/* "CODE [DSN] text": the template may choose both. */
	if (strspn(text, "0123456789") == 3 && (text[0] == '4' || text[0] == '5')
	    && (text[3] == ' ' || text[3] == 0)) {
		code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
		text = skipblanks(text + 3);
	}
	if ((n = smtpd_check_dsn_prefix(text)) > 0 && n < sizeof(dsn)) {
		memcpy(dsn, text, n);
		dsn[n] = 0;
		text = skipblanks(text + n);
	}
	rc = smtpd_check_reject(ctx, class, code, dsn, "%s", text);
	buf_free(&out);
	free(tmpl);
	return rc;
}

/* dnsxl_result - act on a block or white list answer. */
static int
dnsxl_result(struct smtpd_check_ctx *ctx, int permit, int listed,
    const char *zone, const char *class, const char *what, char *reason)
{
	int rc = SMTPD_CHECK_DUNNO;

	if (permit) {
		if (listed > 0 && whitelist_allowed(ctx))
			rc = SMTPD_CHECK_OK;
		else if (listed < 0)
			smtpd_check_defer_if(ctx, 'r', 450, "4.7.1", "<%s>: %s "
			    "rejected: Service unavailable; DNS lookup error for %s",
			    what, class, zone);
	} else if (listed > 0) {
		rc = rbl_reject(ctx, zone, class, what, reason);
	} else if (listed < 0) {
		msg_warn("%s: DNS lookup of %s in %s failed temporarily: ignored",
		    ctx->client, what, zone);
	}
	free(reason);
	return rc;
}

int
smtpd_check_rbl(struct smtpd_check_ctx *ctx, int permit, const char *arg)
{
	unsigned char b[16];
	char query[512];
	char *zone = xstrndup(arg, strcspn(arg, "=")), *reason;
	const char *addr = ctx->s->client_addr;
	size_t n = 0;
	int fam, listed, rc;

	if (addr == NULL || (fam = match_list_addr_parse(addr, b)) <= 0) {
		free(zone);
		return SMTPD_CHECK_DUNNO;
	}
	if (fam == AF_INET) {
		n = (size_t)snprintf(query, sizeof(query), "%u.%u.%u.%u.", b[3],
		    b[2], b[1], b[0]);
	} else {
		for (int i = 15; i >= 0; i--)
			n += (size_t)snprintf(query + n, sizeof(query) - n, "%x.%x.",
			    b[i] & 0xf, b[i] >> 4);
	}
	snprintf(query + n, sizeof(query) - n, "%s", zone);
	listed = dnsxl_query(query, arg, &reason);
	rc = dnsxl_result(ctx, permit, listed, zone, "Client host", addr, reason);
	free(zone);
	return rc;
}

int
smtpd_check_rhsbl(struct smtpd_check_ctx *ctx, int permit, const char *arg,
    const char *domain, const char *class)
{
	char *zone = xstrndup(arg, strcspn(arg, "=")), *query, *reason;
	size_t len = strlen(domain);
	int listed, rc;

	/* "example.com." is the name "example.com". */
	query = len > 0 && domain[len - 1] == '.'
	    ? concatenate(domain, zone, (char *)0)
	    : concatenate(domain, ".", zone, (char *)0);
	listed = dnsxl_query(query, arg, &reason);
	rc = dnsxl_result(ctx, permit, listed, zone, class, domain, reason);
	free(query);
	free(zone);
	return rc;
}

/* mx_pref - the preference of an MX answer "PREF HOST". */
static long
mx_pref(const char *answer)
{
	return strtol(answer, NULL, 10);
}

/* host_is_local - does one of host's addresses belong to this machine
 * (inet_interfaces, proxy_interfaces)?  1, 0, -1 (temporary failure). */
static int
host_is_local(const char *host, struct match_list *nets, int *in_nets_r)
{
	static const int types[] = { DNS_T_A, DNS_T_AAAA };
	int local = 0, seen = 0, retry = 0;

	*in_nets_r = 1;
	for (size_t t = 0; t < 2; t++) {
		char **list = NULL;
		int st = smtpd_check_dns_lookup(host, types[t], &list);

		if (st == SMTPD_DNS_RETRY)
			retry = 1;
		for (int i = 0; st == SMTPD_DNS_OK && list[i]; i++) {
			char *lit = concatenate("[", list[i], "]", (char *)0);

			seen = 1;
			if (resolve_domain_is_local(lit) > 0)
				local = 1;
			if (nets && match_list_match(nets, NULL, list[i]) <= 0)
				*in_nets_r = 0;
			free(lit);
		}
		smtpd_check_dns_list_free(&list);
	}
	if (!seen)
		*in_nets_r = 0;
	return local ? 1 : retry ? -1 : 0;
}

int
smtpd_check_mx_backup(struct smtpd_check_ctx *ctx)
{
	const char *domain;
	struct match_list *nets = NULL;
	char **list = NULL;
	long best = -1, best_local = -1;
	int st, rc, all_in_nets = 1, retry = 0;

	if (ctx->rcpt == NULL || *ctx->rcpt_int == 0)
		return SMTPD_CHECK_DUNNO;
	/* Our own destinations are permitted; a routed address never. */
	if ((rc = smtpd_check_auth_dest(ctx, ctx->rcpt_int)) < 0)
		return smtpd_check_tempfail(ctx, ctx->rcpt);
	if (rc > 0)
		return SMTPD_CHECK_OK;
	if (strpbrk(ctx->rcpt_int, "%!") || strchr(ctx->rcpt_int, '@')
	    != strrchr(ctx->rcpt_int, '@'))
		return SMTPD_CHECK_DUNNO;
	domain = strrchr(ctx->rcpt_int, '@') + 1;
	if (*domain == 0 || *domain == '[')
		return SMTPD_CHECK_DUNNO;
	st = smtpd_check_dns_lookup(domain, DNS_T_MX, &list);
	if (st == SMTPD_DNS_RETRY) {
		smtpd_check_defer_if(ctx, 'p', 450, "4.4.4", "<%s>: Recipient "
		    "address rejected: unable to look up mail exchanger information",
		    ctx->rcpt);
		return SMTPD_CHECK_DUNNO;
	}
	if (st != SMTPD_DNS_OK)
		return SMTPD_CHECK_DUNNO;
	if (*var_permit_mx_backup_networks)
		nets = match_list_create(
		    MAIL_PARAM_NAME(permit_mx_backup_networks),
		    var_permit_mx_backup_networks, MATCH_LIST_HOSTADDR);
	for (int i = 0; list[i]; i++)
		if (best < 0 || mx_pref(list[i]) < best)
			best = mx_pref(list[i]);
	for (int i = 0; list[i]; i++) {
		const char *host = strchr(list[i], ' ');
		int in_nets, local;

		if (host == NULL)
			continue;
		local = host_is_local(host + 1, mx_pref(list[i]) == best ? nets
		    : NULL, &in_nets);
		if (local < 0)
			retry = 1;
		if (local > 0 && (best_local < 0 || mx_pref(list[i]) < best_local))
			best_local = mx_pref(list[i]);
		if (nets && mx_pref(list[i]) == best && !in_nets)
			all_in_nets = 0;
	}
	smtpd_check_dns_list_free(&list);
	if (nets)
		match_list_free(&nets);
	/* A backup: listed, but not as (one of) the best MX hosts, whose
	 * addresses must be in permit_mx_backup_networks when it is set. */
	if (best_local >= 0 && best_local > best && all_in_nets)
		return SMTPD_CHECK_OK;
	if (best_local < 0 && retry) {
		smtpd_check_defer_if(ctx, 'p', 450, "4.4.4", "<%s>: Recipient "
		    "address rejected: unable to look up mail exchanger information",
		    ctx->rcpt);
	}
	return SMTPD_CHECK_DUNNO;
}

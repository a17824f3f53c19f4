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
 * "127.0.0.[2;4;8]") rejects with $maps_rbl_reject_code and
 * "Service unavailable; CLASS [WHAT] blocked using ZONE[; TXT]"; a DNS
 * error there is logged and ignored, as Postfix.  The white lists
 * (permit_dnswl_client, permit_rhswl_client) never override
 * reject_unauth_destination: with a recipient that is not ours they do
 * nothing; a DNS error there is a defer_if_reject.
 *
 * Each lookup uses its own resolver state (res_ninit) with a short
 * timeout (1 second) and one try, so that an unreachable name server
 * costs about a second and gives a temporary failure, never a hang and
 * never "not found".  These lookups block: they are only ever made for
 * domains that are not ours (local, virtual and relay domains never
 * need DNS).  Nothing is logged here. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail_conf.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "resolve.h"
#include "smtpd_check_private.h"
#include "stringops.h"

#define DNS_TIMEOUT	1	/* seconds per try */
#define DNS_TRIES	1

/* dns_query - 1 answer found, 0 name or data does not exist, -1 retry;
 * *nxdomain_r is set when the name itself does not exist. */
static int
dns_query(res_state statp, const char *name, int type, int *nxdomain_r)
{
	unsigned char answer[1024];
	int len;

	*nxdomain_r = 0;
	len = res_nquery(statp, name, C_IN, type, answer, sizeof(answer));
	if (len >= 0) {
		ns_msg msg;

		if (ns_initparse(answer, len, &msg) < 0)
			return -1;
		return ns_msg_count(msg, ns_s_an) > 0 ? 1 : 0;
	}
	switch (statp->res_h_errno) {
	case HOST_NOT_FOUND:
		*nxdomain_r = 1;
		return 0;
	case NO_DATA:
		return 0;
	default:
		return -1;
	}
}

/* resolver_open - a private resolver state with short timeouts. */
static int
resolver_open(struct __res_state *st)
{
	memset(st, 0, sizeof(*st));
	if (res_ninit(st) < 0)
		return -1;
	st->retrans = DNS_TIMEOUT;
	st->retry = DNS_TRIES;
	st->options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	return 0;
}

/* dns_domain - MX, then A, then AAAA. */
static int
dns_domain(const char *domain)
{
	static const int types[] = { T_MX, T_A, T_AAAA };
	struct __res_state st;
	int rc = 0, nx;

	if (resolver_open(&st) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		rc = dns_query(&st, domain, types[i], &nx);
		if (rc != 0 || nx)
			break;
	}
	res_nclose(&st);
	return rc;
}

/* dns_rbl - an A record for name. */
static int
dns_rbl(const char *name)
{
	struct __res_state st;
	int rc, nx;

	if (resolver_open(&st) < 0)
		return -1;
	rc = dns_query(&st, name, T_A, &nx);
	res_nclose(&st);
	return rc;
}

int (*smtpd_check_dns_domain)(const char *domain) = dns_domain;
int (*smtpd_check_dns_rbl)(const char *name) = dns_rbl;

/* list_add - append a copy of text to a NULL-terminated list. */
static void
list_add(char ***list, int *count, const char *text)
{
	*list = xreallocarray(*list, (size_t)*count + 2, sizeof(**list));
	(*list)[(*count)++] = xstrdup(text);
	(*list)[*count] = NULL;
}

/* dns_lookup - see smtpd_check_dns_lookup. */
static int
dns_lookup(const char *name, int type, char ***list_r)
{
	unsigned char answer[8192];
	struct __res_state st;
	ns_msg msg;
	int len, count = 0;

	*list_r = NULL;
	if (resolver_open(&st) < 0)
		return SMTPD_DNS_RETRY;
	len = res_nquery(&st, name, C_IN, type, answer, sizeof(answer));
	if (len < 0) {
		int err = st.res_h_errno;

		res_nclose(&st);
		return err == HOST_NOT_FOUND ? SMTPD_DNS_NXDOMAIN
		    : err == NO_DATA ? SMTPD_DNS_NODATA : SMTPD_DNS_RETRY;
	}
	res_nclose(&st);
	if (ns_initparse(answer, len, &msg) < 0)
		return SMTPD_DNS_RETRY;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		char text[NS_MAXDNAME + 16];
		const unsigned char *rd;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || (int)ns_rr_type(rr) != type)
			continue;
		rd = ns_rr_rdata(rr);
		switch (type) {
		case T_A:
		case T_AAAA:
			if (ns_rr_rdlen(rr) != (type == T_A ? 4 : 16)
			    || inet_ntop(type == T_A ? AF_INET : AF_INET6, rd, text,
			    sizeof(text)) == NULL)
				continue;
			break;
		case T_MX: {
			char host[NS_MAXDNAME];

			if (ns_rr_rdlen(rr) < 3 || dn_expand(ns_msg_base(msg),
			    ns_msg_end(msg), rd + 2, host, sizeof(host)) < 0)
				continue;
			snprintf(text, sizeof(text), "%u %s", ns_get16(rd), host);
			break;
		}
		case T_NS:
			if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd, text,
			    sizeof(text)) < 0)
				continue;
			break;
		case T_TXT: {
			/* The first character string is enough for a reason. */
			size_t n = ns_rr_rdlen(rr) > 0 ? rd[0] : 0;

			if (n + 1 > ns_rr_rdlen(rr) || n >= sizeof(text))
				continue;
			memcpy(text, rd + 1, n);
			text[n] = 0;
			break;
		}
		default:
			continue;
		}
		list_add(list_r, &count, text);
	}
	return count > 0 ? SMTPD_DNS_OK : SMTPD_DNS_NODATA;
}

int (*smtpd_check_dns_lookup)(const char *name, int type, char ***list_r)
    = dns_lookup;

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
	st = smtpd_check_dns_lookup(query, T_A, &list);
	if (st == SMTPD_DNS_RETRY)
		return -1;
	for (int i = 0; st == SMTPD_DNS_OK && list[i] && !listed; i++)
		listed = pattern == NULL || addr_match(pattern + 1, list[i]);
	smtpd_check_dns_list_free(&list);
	if (listed && smtpd_check_dns_lookup(query, T_TXT, &list)
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
		rc = smtpd_check_reject(ctx, class,
		    (int)mail_conf_int("maps_rbl_reject_code"), "5.7.1",
		    "Service unavailable; %s [%s] blocked using %s%s%s", class,
		    what, zone, reason ? "; " : "", reason ? reason : "");
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
	static const int types[] = { T_A, T_AAAA };
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
	st = smtpd_check_dns_lookup(domain, T_MX, &list);
	if (st == SMTPD_DNS_RETRY) {
		smtpd_check_defer_if(ctx, 'p', 450, "4.4.4", "<%s>: Recipient "
		    "address rejected: unable to look up mail exchanger information",
		    ctx->rcpt);
		return SMTPD_CHECK_DUNNO;
	}
	if (st != SMTPD_DNS_OK)
		return SMTPD_CHECK_DUNNO;
	if (*mail_conf_str("permit_mx_backup_networks"))
		nets = match_list_create("permit_mx_backup_networks",
		    mail_conf_str("permit_mx_backup_networks"), MATCH_LIST_HOSTADDR);
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

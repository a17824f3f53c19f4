/* SPDX-License-Identifier: MIT */
/* smtpd_check_dns - the DNS questions of the policy checks: does a mail
 * domain exist (MX, else A, else AAAA), is a client listed in a DNS
 * block list (A record).
 *
 * Each lookup uses its own resolver state (res_ninit) with a short
 * timeout (1 second) and one try, so that an unreachable name server
 * costs about a second and gives a temporary failure, never a hang and
 * never "not found".  These lookups block: they are only ever made for
 * domains that are not ours (local, virtual and relay domains never
 * need DNS).  Nothing is logged here. */
#include "postino_config.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "smtpd_check_private.h"

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

/* SPDX-License-Identifier: MIT */
/* smtp_dane - DANE for SMTP (RFC 7672) as Postfix's smtp(8) applies it
 * (TLS_README, "dane" and "dane-only"): the TLS policy of one server
 * address.
 *
 * The TLSA records "_PORT._tcp.HOST" are looked up only when the server
 * name is trustworthy (it came from a DNSSEC-validated MX answer or from
 * the configuration; an insecure MX answer follows
 * smtp_tls_dane_insecure_mx_policy) and its address answer was
 * validated.  A server name that is an alias (validated CNAMEs) has its
 * TLSA records looked up at the name the CNAMEs lead to first, then at
 * the name itself when there are none there (RFC 7672 section 2.2.3).
 * Then:
 *  - validated usable records (DANE-TA(2) or DANE-EE(3); selector cert
 *    or SPKI; matching type full, or a digest of tls_dane_digests):
 *    TLS is mandatory and the certificate must match one of them;
 *  - validated records, none usable (PKIX-TA/PKIX-EE, unknown digests):
 *    "encrypt", mandatory TLS without authentication;
 *  - no records (NXDOMAIN, NODATA) or an insecure answer: "may";
 *  - a failed lookup (SERVFAIL: a bogus signature, a broken zone):
 *    this server is skipped, "TLSA lookup error".
 * "dane-only" defers where "dane" would fall back to may or encrypt.
 * Without smtp_dns_support_level = dnssec nothing is validated: "dane"
 * is "may" (with a warning), "dane-only" defers. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"
#include "tls_client.h"

/* digest_ok - is matching type mtype one of tls_dane_digests (full
 * certificates and keys, type 0, always are)?  A digest of the wrong
 * length makes the record unusable too. */
static int
digest_ok(int mtype, size_t len)
{
	const char *want = mtype == 1 ? "sha256" : mtype == 2 ? "sha512" : NULL;
	char *copy, *cp, *tok;
	int ok = 0;

	if (mtype == 0)
		return len > 0;
	if (want == NULL || len != (mtype == 1 ? 32U : 64U))
		return 0;
	copy = cp = xstrdup(var_tls_dane_digests ? var_tls_dane_digests : "");
	while (!ok && (tok = mystrtok(&cp, " \t\r\n,:")) != NULL) {
		/* "sha512:sha256" style entries: the name before any '='. */
		tok[strcspn(tok, "=")] = 0;
		ok = strcasecmp(tok, want) == 0;
	}
	free(copy);
	return ok;
}

/* usable - RFC 7672 section 3.1.3: SMTP uses DANE-TA(2) and DANE-EE(3);
 * PKIX-TA(0) and PKIX-EE(1) are unusable, as are unknown selectors and
 * matching types. */
static int
usable(const struct dns_rr *rr)
{
	return rr->type == DNS_T_TLSA
	    && (rr->tlsa_usage == 2 || rr->tlsa_usage == 3)
	    && (rr->tlsa_selector == 0 || rr->tlsa_selector == 1)
	    && digest_ok(rr->tlsa_mtype, rr->tlsa_len);
}

int
smtp_dane_policy(const struct smtp_tls_policy *p, const struct smtp_addr *a,
    struct smtp_tls_policy *hp, char *why, size_t len)
{
	static int warned;
	int only = p->level == TLS_LEV_DANE_ONLY, nusable = 0;
	char qname[300];
	struct dns_answer *ans;

	*hp = *p;
	hp->tlsa = NULL;
	if (p->level < TLS_LEV_DANE)
		return 0;
	if (!smtp_conf.dnssec) {
		if (only) {
			snprintf(why, len, "TLS level dane-only requires "
			    "%s_dns_support_level = dnssec", smtp_conf.name);
			return -1;
		}
		if (!warned++)
			msg_warn("TLS level dane requires %s_dns_support_level = "
			    "dnssec: using level may", smtp_conf.name);
		hp->level = TLS_LEV_MAY;
		return 0;
	}
	if (a->sa.ss_family == AF_UNIX || !a->addr_secure) {
		if (only) {
			snprintf(why, len, "TLS is required, but the address of "
			    "host %s[%s] is not DNSSEC-validated", a->host,
			    a->addr_text);
			return -1;
		}
		hp->level = TLS_LEV_MAY;
		return 0;
	}
	if (!a->mx_secure && !only) {
		const char *imx = var_smtp_tls_dane_insecure_mx_policy;

		if (imx == NULL || strcasecmp(imx, "may") == 0) {
			hp->level = TLS_LEV_MAY;
			return 0;
		}
		if (strcasecmp(imx, "encrypt") == 0) {
			hp->level = TLS_LEV_ENCRYPT;
			return 0;
		}
		if (strcasecmp(imx, "dane") != 0) {
			msg_warn("smtp_tls_dane_insecure_mx_policy: unknown value "
			    "\"%s\": using may", imx);
			hp->level = TLS_LEV_MAY;
			return 0;
		}
	}
	ans = NULL;
	if (a->cname[0]) {
		snprintf(qname, sizeof(qname), "_%d._tcp.%s", a->port, a->cname);
		ans = dns_lookup(qname, DNS_T_TLSA, DNS_FLAG_DNSSEC);
		if (ans->status != DNS_TEMPFAIL
		    && !(ans->status == DNS_OK && ans->authentic)) {
			dns_answer_free(ans);
			ans = NULL;
		}
	}
	if (ans == NULL) {
		snprintf(qname, sizeof(qname), "_%d._tcp.%s", a->port, a->host);
		ans = dns_lookup(qname, DNS_T_TLSA, DNS_FLAG_DNSSEC);
	}
	switch (ans->status) {
	case DNS_TEMPFAIL:
		msg_info("%s: TLSA lookup error: %s", qname, ans->reason
		    ? ans->reason : "server failure");
		snprintf(why, len, "TLSA lookup error for %s:%d", a->host, a->port);
		dns_answer_free(ans);
		return -1;
	case DNS_NOTFOUND:
	case DNS_NODATA:
	case DNS_INVALID:
		break;
	case DNS_OK:
		if (!ans->authentic)
			break;
		for (int i = 0; i < ans->count; i++)
			nusable += usable(&ans->rr[i]);
		break;
	}
	if (ans->status == DNS_OK && ans->authentic && nusable > 0) {
		/* The unusable ones are not offered to OpenSSL (smtp_tls.c
		 * adds the TLSA records only). */
		for (int i = 0; i < ans->count; i++)
			if (!usable(&ans->rr[i]))
				ans->rr[i].type = 0;
		hp->level = TLS_LEV_DANE;
		hp->tlsa = ans;
		return 0;
	}
	if (ans->status == DNS_OK && ans->authentic) {
		/* Validated, but nothing this client can check. */
		msg_warn("%s: all %d TLSA records unusable", qname, ans->count);
		dns_answer_free(ans);
		if (only) {
			snprintf(why, len, "TLS is required, but all TLSA records "
			    "of host %s are unusable", a->host);
			return -1;
		}
		hp->level = TLS_LEV_ENCRYPT;
		return 0;
	}
	dns_answer_free(ans);
	if (only) {
		snprintf(why, len, "TLS is required, but no DNSSEC-validated TLSA "
		    "records were found for host %s", a->host);
		return -1;
	}
	hp->level = TLS_LEV_MAY;
	return 0;
}

void
smtp_dane_done(struct smtp_tls_policy *hp)
{
	if (hp->tlsa)
		dns_answer_free(hp->tlsa);
	hp->tlsa = NULL;
}

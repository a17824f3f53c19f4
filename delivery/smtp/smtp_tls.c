/* SPDX-License-Identifier: MIT */
/* smtp_tls - TLS in the SMTP/LMTP client, with Postfix's semantics.
 *
 * Levels (smtp_tls_security_level, or a smtp_tls_policy_maps entry for
 * the next hop): none; may (STARTTLS when the server offers it, any
 * certificate; a failed handshake is retried in plaintext by
 * smtp_proto.c); encrypt (TLS or nothing, any certificate); fingerprint
 * (the certificate's or its public key's digest, smtp_tls_fingerprint_
 * digest, in smtp_tls_fingerprint_cert_match or match=a|b); verify and
 * secure (a chain to smtp_tls_CAfile / smtp_tls_CApath and a peer name
 * from smtp_tls_verify_cert_match / smtp_tls_secure_cert_match or
 * match=a:b: hostname, nexthop, dot-nexthop, or a literal name).
 * dane and dane-only (RFC 7672): smtp_dane.c turns them into the policy
 * of each server; with usable TLSA records the certificate must match
 * one of them (OpenSSL's DANE verification: DANE-EE(3) without name
 * checks, DANE-TA(2) with the TLSA base domain as the peer name).
 * Opportunistic levels use smtp_tls_protocols / smtp_tls_ciphers, the
 * others the mandatory ones; smtp_tls_exclude_ciphers always.
 *
 * With smtp_tls_security_level empty, the legacy switches decide, as in
 * Postfix: smtp_enforce_tls = yes is verify (encrypt with
 * smtp_tls_enforce_peername = no), else smtp_use_tls = yes is may.
 *
 * A client certificate, when configured (smtp_tls_chain_files, else
 * smtp_tls_cert_file / smtp_tls_key_file and smtp_tls_eccert_file /
 * smtp_tls_eckey_file), is presented to servers that ask for one.
 *
 * Sessions are resumed from a per-process cache keyed by the server
 * (smtp_tls_session_cache_timeout). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "mail_conf.h"
#include "map.h"
#include "match_list.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "dns.h"
#include "stringops.h"
#include "tls_client.h"
#include "tls_server.h"

static SSL_CTX *ctx;
static const char *prefix;		/* "smtp" or "lmtp" */
static struct map **policy_maps;
static int npolicy_maps;

/* The session cache: the last session of each server. */
#define TLS_CACHE_MAX	1000
struct cached {
	char *key;
	SSL_SESSION *sess;
	struct cached *next;
};
static struct cached *cache;
static int ncached;

/* The smtp_tls_* or lmtp_tls_* parameter (typed, mail_vars.def). */
#define PICK(name)	(prefix[0] == 'l' ? var_lmtp_tls_##name \
			    : var_smtp_tls_##name)

static struct {
	int level;
	int wrappermode;
	int note_offer;			/* smtp_tls_note_starttls_offer */
	int loglevel;			/* smtp_tls_loglevel */
	char *CAfile, *CApath;
	char *verify_match, *secure_match;
	char *fp_digest, *fp_match;
	char *protocols, *mandatory_protocols;
	char *ciphers, *mandatory_ciphers;
	char *exclude, *mandatory_exclude;
	char *servername;
	long cache_timeout;
} conf;

static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	const char *key = SSL_get_app_data(ssl);
	struct cached **pp, *c;

	if (key == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	for (pp = &cache; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			SSL_SESSION_free((*pp)->sess);
			(*pp)->sess = sess;
			return 1;
		}
	}
	if (ncached >= TLS_CACHE_MAX) {
		/* Drop the oldest (the list's tail). */
		for (pp = &cache; (*pp)->next; pp = &(*pp)->next)
			;
		c = *pp;
		*pp = NULL;
		SSL_SESSION_free(c->sess);
		free(c->key);
		free(c);
		ncached--;
	}
	c = xcalloc(1, sizeof(*c));
	c->key = xstrdup(key);
	c->sess = sess;
	c->next = cache;
	cache = c;
	ncached++;
	return 1;
}

static SSL_SESSION *
cache_find(const char *key)
{
	for (struct cached *c = cache; c; c = c->next)
		if (strcmp(c->key, key) == 0) {
			if ((long)(time(NULL) - SSL_SESSION_get_time(c->sess))
			    > conf.cache_timeout)
				return NULL;
			return c->sess;
		}
	return NULL;
}

/* client_certs - the certificates this client presents: each of
 * <prefix>_tls_chain_files (a key and its chain), else the RSA and ECDSA
 * certificate/key pairs. */
static int
client_certs(SSL_CTX *c, char **err_r)
{
	const char *pairs[2][2] = {
		{PICK(cert_file), PICK(key_file)},
		{PICK(eccert_file), PICK(eckey_file)},
	};

	if (*PICK(chain_files)) {
		char *copy = xstrdup(PICK(chain_files)), *cp = copy, *f;
		int rc = 0;

		while (rc == 0 && (f = mystrtok(&cp, " \t\r\n,")) != NULL)
			rc = tls_load_pair(c, f, f, err_r);
		free(copy);
		return rc;
	}
	for (int k = 0; k < 2; k++) {
		if (*pairs[k][0] == 0)
			continue;
		if (tls_load_pair(c, pairs[k][0], *pairs[k][1] ? pairs[k][1]
		    : pairs[k][0], err_r) < 0)
			return -1;
	}
	return 0;
}

/* legacy_level - the level of the obsolete smtp_use_tls,
 * smtp_enforce_tls and smtp_tls_enforce_peername (for an empty
 * smtp_tls_security_level). */
static int
legacy_level(void)
{
	int use = prefix[0] == 'l' ? var_lmtp_use_tls : var_smtp_use_tls;
	int enforce = prefix[0] == 'l' ? var_lmtp_enforce_tls
	    : var_smtp_enforce_tls;

	if (enforce)
		return PICK(enforce_peername) ? TLS_LEV_VERIFY : TLS_LEV_ENCRYPT;
	return use ? TLS_LEV_MAY : TLS_LEV_NONE;
}

/* context_create - the client context, ready for DANE. */
static SSL_CTX *
context_create(char **err_r)
{
	SSL_CTX *c = tls_client_create(conf.CAfile, conf.CApath, new_session,
	    err_r);
	char why[256];

	if (c == NULL)
		return NULL;
	if (client_certs(c, err_r) < 0) {
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_dane_enable(c) <= 0) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("cannot enable DANE: ", why, (char *)0);
		SSL_CTX_free(c);
		return NULL;
	}
	/* RFC 7671 section 5.1: a DANE-EE(3) match authenticates the key,
	 * whatever names its certificate holds. */
	SSL_CTX_dane_set_flags(c, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	return c;
}

void
smtp_tls_init(int lmtp)
{
	char *err = NULL, *copy, *cp, *item;
	const char *lerr;

	prefix = lmtp ? "lmtp" : "smtp";
	conf.level = *PICK(security_level) ? tls_level_parse(PICK(security_level))
	    : legacy_level();
	if (conf.level == TLS_LEV_INVALID)
		msg_fatal("%s_tls_security_level: unknown level \"%s\"", prefix,
		    PICK(security_level));
	conf.wrappermode = PICK(wrappermode);
	conf.note_offer = PICK(note_starttls_offer);
	conf.loglevel = PICK(loglevel);
	conf.cache_timeout = PICK(session_cache_timeout);
	conf.CAfile = xstrdup(PICK(CAfile));
	conf.servername = xstrdup(PICK(servername));
	conf.CApath = xstrdup(PICK(CApath));
	conf.verify_match = xstrdup(PICK(verify_cert_match));
	conf.secure_match = xstrdup(PICK(secure_cert_match));
	conf.fp_digest = xstrdup(PICK(fingerprint_digest));
	conf.fp_match = xstrdup(PICK(fingerprint_cert_match));
	conf.protocols = xstrdup(PICK(protocols));
	conf.mandatory_protocols = xstrdup(PICK(mandatory_protocols));
	conf.ciphers = xstrdup(PICK(ciphers));
	conf.mandatory_ciphers = xstrdup(PICK(mandatory_ciphers));
	conf.exclude = xstrdup(PICK(exclude_ciphers));
	conf.mandatory_exclude = xstrdup(PICK(mandatory_exclude_ciphers));
	copy = cp = xstrdup(PICK(policy_maps));
	while ((item = match_list_token(&cp, &lerr)) != NULL) {
		char *merr = NULL;
		struct map *m = map_open(item, O_RDONLY, MAP_FLAGS_DEFAULT
		    | MAP_FLAG_SURROGATE | MAP_FLAG_NO_REGSUB, &merr);

		if (m == NULL) {
			msg_warn("%s_tls_policy_maps: %s", prefix, merr ? merr : item);
			free(merr);
			continue;
		}
		free(merr);
		policy_maps = xreallocarray(policy_maps, (size_t)npolicy_maps + 1,
		    sizeof(*policy_maps));
		policy_maps[npolicy_maps++] = m;
	}
	free(copy);
	if (conf.level == TLS_LEV_NONE && npolicy_maps == 0 && !conf.wrappermode)
		return;
	if ((ctx = context_create(&err)) == NULL)
		msg_fatal("%s TLS: %s", prefix, err);
}

int
smtp_tls_wrappermode(void)
{
	return conf.wrappermode;
}

int
smtp_tls_note_offer(void)
{
	return conf.note_offer;
}

/* policy_parse - "level attr=value ..." into p; -1 when malformed. */
static int
policy_parse(const char *value, struct smtp_tls_policy *p, char **why)
{
	char *copy = xstrdup(value), *cp = copy, *tok;
	int first = 1, ret = 0;

	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
		char *eq;

		if (first) {
			first = 0;
			p->level = tls_level_parse(tok);
			if (p->level == TLS_LEV_INVALID) {
				*why = concatenate("unsupported TLS level \"", tok, "\"",
				    (char *)0);
				ret = -1;
				break;
			}
			continue;
		}
		if ((eq = strchr(tok, '=')) == NULL) {
			*why = concatenate("malformed attribute \"", tok, "\"",
			    (char *)0);
			ret = -1;
			break;
		}
		*eq++ = 0;
		if (strcasecmp(tok, "match") == 0) {
			free(p->match);
			p->match = xstrdup(eq);
		} else if (strcasecmp(tok, "protocols") == 0) {
			free(p->protocols);
			p->protocols = xstrdup(eq);
		} else if (strcasecmp(tok, "ciphers") == 0) {
			free(p->ciphers);
			p->ciphers = xstrdup(eq);
		} else if (strcasecmp(tok, "servername") == 0) {
			free(p->servername);
			p->servername = xstrdup(eq);
		} else if (strcasecmp(tok, "exclude") == 0) {
			free(p->exclude);
			p->exclude = xstrdup(eq);
		}
		/* Others (tafile, connection_reuse, MTA-STS
		 * fields) are ignored. */
	}
	if (first && ret == 0) {
		*why = xstrdup("empty policy");
		ret = -1;
	}
	free(copy);
	return ret;
}

/* policy_lookup - the first table entry for key: 1 found, 0 none, -1
 * table failure. */
static int
policy_lookup(const char *key, const char **value_r)
{
	for (int i = 0; i < npolicy_maps; i++) {
		switch (map_lookup(policy_maps[i], key, value_r)) {
		case MAP_FOUND:
			return 1;
		case MAP_TEMPFAIL:
			return -1;
		case MAP_NOTFOUND:
			break;
		}
	}
	return 0;
}

int
smtp_tls_policy_get(const char *nexthop, const char *domain,
    struct smtp_tls_policy *p, char **why)
{
	const char *value = NULL;
	int found = 0;

	memset(p, 0, sizeof(*p));
	p->level = conf.level;
	*why = NULL;
	if (npolicy_maps > 0) {
		found = policy_lookup(nexthop, &value);
		if (found == 0 && domain && *domain && strcmp(domain, nexthop) != 0
		    && *nexthop != '[')
			found = policy_lookup(domain, &value);
		if (found == 0 && domain && *nexthop != '[') {
			/* Parent domains: ".example.com". */
			for (const char *d = strchr(domain, '.'); d && found == 0;
			    d = strchr(d + 1, '.'))
				found = policy_lookup(d, &value);
		}
		if (found < 0) {
			*why = concatenate("TLS policy lookup for ", nexthop,
			    ": table lookup error", (char *)0);
			return -1;
		}
		if (found > 0 && policy_parse(value, p, why) < 0) {
			char *w = concatenate("TLS policy lookup for ", nexthop, ": ",
			    *why, (char *)0);

			free(*why);
			*why = w;
			smtp_tls_policy_free(p);
			return -1;
		}
	}
	if (p->match == NULL) {
		if (p->level == TLS_LEV_VERIFY)
			p->match = xstrdup(conf.verify_match);
		else if (p->level == TLS_LEV_SECURE)
			p->match = xstrdup(conf.secure_match);
		else if (p->level == TLS_LEV_FINGERPRINT)
			p->match = xstrdup(conf.fp_match);
	}
	if (conf.wrappermode && p->level == TLS_LEV_NONE)
		p->level = TLS_LEV_ENCRYPT;
	if (p->level > TLS_LEV_NONE && ctx == NULL) {
		char *err = NULL;

		if ((ctx = context_create(&err)) == NULL) {
			*why = err;
			smtp_tls_policy_free(p);
			return -1;
		}
	}
	return 0;
}

void
smtp_tls_policy_free(struct smtp_tls_policy *p)
{
	free(p->match);
	free(p->protocols);
	free(p->ciphers);
	free(p->exclude);
	free(p->servername);
	memset(p, 0, sizeof(*p));
}

/* names - the match list with hostname, nexthop and dot-nexthop
 * replaced (malloc'd). */
static char *
names(const char *match, const char *host, const char *nexthop)
{
	char *copy = xstrdup(match ? match : ""), *cp = copy, *tok;
	char *out = xstrdup("");

	while ((tok = mystrtok(&cp, " \t\r\n,:")) != NULL) {
		const char *n = tok;
		char *dot = NULL, *o;

		if (strcasecmp(tok, "hostname") == 0)
			n = host;
		else if (strcasecmp(tok, "nexthop") == 0)
			n = nexthop;
		else if (strcasecmp(tok, "dot-nexthop") == 0)
			n = dot = concatenate(".", nexthop, (char *)0);
		o = concatenate(out, *out ? " " : "", n, (char *)0);
		free(out);
		free(dot);
		out = o;
	}
	free(copy);
	return out;
}

/* dane_setup - DANE on ssl with the policy's TLSA records, their TLSA
 * base domain (the server name, or the name its CNAMEs lead to) as the
 * peer name and SNI.  A DANE-TA(2) chain may also name the server or
 * the next-hop domain (RFC 7672 section 3.2.2).  0, or -1 with why. */
static int
dane_setup(SSL *ssl, const struct smtp_tls_policy *p, const char *host,
    const char *nexthop, char *why, size_t len)
{
	int added = 0;
	const char *base;

	if (p->tlsa == NULL) {
		snprintf(why, len, "no TLSA records for host %s", host);
		return -1;
	}
	/* The records were asked for as "_25._tcp.BASE". */
	base = strchr(p->tlsa->qname, '.');
	base = base ? strchr(base + 1, '.') : NULL;
	base = base && base[1] ? base + 1 : host;
	if (SSL_dane_enable(ssl, base) <= 0) {
		tls_error_text(why, len);
		return -1;
	}
	if (strcasecmp(base, host) != 0 && SSL_add1_host(ssl, host) != 1) {
		tls_error_text(why, len);
		return -1;
	}
	if (nexthop && *nexthop && strcasecmp(nexthop, host) != 0
	    && strcasecmp(nexthop, base) != 0
	    && SSL_add1_host(ssl, nexthop) != 1) {
		tls_error_text(why, len);
		return -1;
	}
	for (int i = 0; i < p->tlsa->count; i++) {
		const struct dns_rr *rr = &p->tlsa->rr[i];
		int rc;

		if (rr->type != DNS_T_TLSA)
			continue;	/* unusable (smtp_dane.c) */
		rc = SSL_dane_tlsa_add(ssl, rr->tlsa_usage, rr->tlsa_selector,
		    rr->tlsa_mtype, rr->tlsa_data, rr->tlsa_len);
		if (rc > 0)
			added++;
		else
			ERR_clear_error();
	}
	if (added == 0) {
		snprintf(why, len, "all TLSA records of host %s are unusable",
		    host);
		return -1;
	}
	return 0;
}

int
smtp_tls_start(struct smtp_stream *st, const struct smtp_tls_policy *p,
    const char *host, const char *nexthop, const char *label, long timeout,
    char *why, size_t len)
{
	int mandatory = p->level >= TLS_LEV_ENCRYPT;
	const char *protocols = p->protocols ? p->protocols : mandatory
	    ? conf.mandatory_protocols : conf.protocols;
	const char *grade = p->ciphers ? p->ciphers : mandatory
	    ? conf.mandatory_ciphers : conf.ciphers;
	const char *perr;
	char *ciphers, desc[512];
	int min, max, trusted, matched = 0;
	SSL *ssl;
	SSL_SESSION *sess;
	X509 *cert;
	const char *kind;

	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_error_text(why, len);
		return -1;
	}
	if (tls_protocol_range(protocols, &min, &max, &perr) < 0) {
		snprintf(why, len, "bad TLS protocol list \"%s\": %s", protocols,
		    perr);
		SSL_free(ssl);
		return -1;
	}
	SSL_set_min_proto_version(ssl, min);
	SSL_set_max_proto_version(ssl, max);
	ciphers = tls_client_ciphers(grade, conf.exclude, p->exclude ? p->exclude
	    : mandatory ? conf.mandatory_exclude : NULL);
	if (ciphers == NULL || SSL_set_cipher_list(ssl, ciphers) != 1) {
		snprintf(why, len, "bad cipher grade or list \"%s\"", grade);
		free(ciphers);
		SSL_free(ssl);
		return -1;
	}
	free(ciphers);
	/* SNI only when smtp_tls_servername (or servername=) asks for it:
	 * "hostname" is the server's name, anything else is literal. */
	{
		const char *sni = p->servername ? p->servername : conf.servername;

		if (sni && strcasecmp(sni, "hostname") == 0)
			sni = host;
		if (sni && *sni && strspn(sni, "0123456789.") != strlen(sni)
		    && !strchr(sni, ':'))
			SSL_set_tlsext_host_name(ssl, sni);
	}
	free(st->tls_key);
	st->tls_key = xstrdup(label);
	SSL_set_app_data(ssl, st->tls_key);
	if (p->level >= TLS_LEV_DANE) {
		if (dane_setup(ssl, p, host, nexthop, why, len) < 0) {
			SSL_free(ssl);
			return -2;
		}
		/* No resumption: a cached session was not checked against
		 * these records. */
	} else if ((sess = cache_find(label)) != NULL)
		SSL_set_session(ssl, sess);
	if (smtp_tls_handshake(st, ssl, timeout, why, len) < 0)
		return -1;
	cert = SSL_get1_peer_certificate(ssl);
	trusted = cert != NULL && SSL_get_verify_result(ssl) == X509_V_OK;
	if (p->level >= TLS_LEV_DANE) {
		/* OpenSSL checked the chain against the TLSA records. */
		matched = trusted && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0;
	} else if (p->level == TLS_LEV_FINGERPRINT) {
		matched = tls_fingerprint_match(cert, conf.fp_digest, p->match);
	} else if (p->level >= TLS_LEV_VERIFY && trusted) {
		char *list = names(p->match, host, nexthop);

		matched = tls_cert_name_match(cert, list, NULL);
		free(list);
	}
	kind = cert == NULL ? "Anonymous" : matched ? "Verified"
	    : trusted ? "Trusted" : "Untrusted";
	tls_client_describe(ssl, desc, sizeof(desc));
	/* smtp_tls_loglevel 1 and up: the summary line. */
	if (conf.loglevel >= 1)
		msg_info("%s TLS connection established to %s: %s", kind, label,
		    desc);
	if (p->level >= TLS_LEV_DANE && !matched) {
		if (cert)
			msg_info("server certificate verification failed for %s: "
			    "num=%ld:%s", label, SSL_get_verify_result(ssl),
			    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		snprintf(why, len, "Server certificate not verified");
		X509_free(cert);
		return -2;
	}
	if (p->level == TLS_LEV_FINGERPRINT && !matched) {
		snprintf(why, len, "Server certificate not verified");
		X509_free(cert);
		return -2;
	}
	if (p->level >= TLS_LEV_VERIFY && !trusted) {
		if (cert)
			msg_info("certificate verification failed for %s: %s", label,
			    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		snprintf(why, len, "Server certificate not trusted");
		X509_free(cert);
		return -2;
	}
	if (p->level >= TLS_LEV_VERIFY && !matched) {
		msg_info("server certificate verification failed for %s: "
		    "hostname mismatch", label);
		snprintf(why, len, "Server certificate not verified");
		X509_free(cert);
		return -2;
	}
	X509_free(cert);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* smtp_addr - from a next hop to the list of server addresses to try, as
 * Postfix's smtp(8) builds it.
 *
 * "domain" and "domain:port": MX lookup; the exchangers in preference
 * order, equal preferences shuffled (smtp_randomize_addresses), each
 * exchanger's A/AAAA records (inet_protocols, smtp_address_preference),
 * at most smtp_mx_address_limit addresses.  An MX that is this host
 * (one of its addresses: inet_interfaces, or every interface address
 * when that is "all", and proxy_interfaces) cuts the list before its
 * preference; when nothing is left the mail "loops back to myself" and
 * bounces.  No MX records: the domain's own A/AAAA.  A null MX (RFC
 * 7505, one "0 ." record) bounces at once; NXDOMAIN bounces, a DNS
 * temporary failure defers.  "[host]" and "[host]:port" skip the MX
 * lookup.  lmtp: "unix:/path", "inet:host:port", "host:port".
 * With smtp_dns_support_level = dnssec the queries ask for DNSSEC and
 * every address says whether its MX and address answers were validated
 * (the AD bit of the validating resolver), for DANE (smtp_dane.c).
 * smtp_fallback_relay hosts follow the list.  Every DNS query is
 * asynchronous (dns.h): inside the delivery's task it waits on the
 * loop. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "dns.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"

/* This host's addresses (for the loop check). */
static struct sockaddr_storage *self;
static int nself;

static void
self_add(const struct sockaddr *sa)
{
	size_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
	    : sizeof(struct sockaddr_in6);

	self = xreallocarray(self, (size_t)nself + 1, sizeof(*self));
	memset(self + nself, 0, sizeof(*self));
	memcpy(self + nself, sa, len);
	nself++;
}

/* self_add_list - the addresses of an inet_interfaces-style list.  Names
 * are resolved here, once, at start (before any client is served). */
static void
self_add_list(const char *list)
{
	char *copy = xstrdup(list), *cp = copy, *tok;

	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
		struct addrinfo hints, *res, *ai;

		if (strcasecmp(tok, "all") == 0)
			continue;
		if (strcasecmp(tok, "loopback-only") == 0) {
			self_add_list("127.0.0.1 ::1");
			continue;
		}
		if (*tok == '[') {
			tok++;
			tok[strcspn(tok, "]")] = 0;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(tok, NULL, &hints, &res) != 0)
			continue;
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
				self_add(ai->ai_addr);
		freeaddrinfo(res);
	}
	free(copy);
}

void
smtp_addr_init(void)
{
	const char *inet = var_inet_interfaces ? var_inet_interfaces : "all";

	free(self);
	self = NULL;
	nself = 0;
	if (strcasecmp(trimblanks(UNCONST(inet)), "all") == 0 || *inet == 0) {
		struct ifaddrs *ifa, *i;

		if (getifaddrs(&ifa) == 0) {
			for (i = ifa; i; i = i->ifa_next)
				if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET
				    || i->ifa_addr->sa_family == AF_INET6))
					self_add(i->ifa_addr);
			freeifaddrs(ifa);
		}
	} else {
		self_add_list(inet);
	}
	if (var_proxy_interfaces && *var_proxy_interfaces)
		self_add_list(var_proxy_interfaces);
}

/* same_ip - compare the addresses (not the ports); IPv4-mapped IPv6
 * equals IPv4. */
static int
same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	const unsigned char *pa, *pb;
	int la, lb;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff};

	if (a->sa_family == AF_INET) {
		pa = (const unsigned char *)&((const struct sockaddr_in *)a)->sin_addr;
		la = 4;
	} else {
		pa = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
		la = 16;
	}
	if (b->sa_family == AF_INET) {
		pb = (const unsigned char *)&((const struct sockaddr_in *)b)->sin_addr;
		lb = 4;
	} else {
		pb = ((const struct sockaddr_in6 *)b)->sin6_addr.s6_addr;
		lb = 16;
	}
	if (la == 16 && lb == 4 && memcmp(pa, mapped, 12) == 0)
		return memcmp(pa + 12, pb, 4) == 0;
	if (la == 4 && lb == 16 && memcmp(pb, mapped, 12) == 0)
		return memcmp(pb + 12, pa, 4) == 0;
	return la == lb && memcmp(pa, pb, (size_t)la) == 0;
}

int
smtp_addr_is_self(const struct sockaddr *sa)
{
	for (int i = 0; i < nself; i++)
		if (same_ip((const struct sockaddr *)&self[i], sa))
			return 1;
	return 0;
}

static void
dest_fail(struct smtp_dest *d, int bounce, const char *dsn, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
dest_fail(struct smtp_dest *d, int bounce, const char *dsn, const char *fmt,
    ...)
{
	va_list ap;
	char text[1024];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	d->fail_bounce = bounce;
	strlcpy(d->fail_dsn, dsn, sizeof(d->fail_dsn));
	free(d->fail_text);
	d->fail_text = xstrdup(text);
}

static void
set_port(struct smtp_addr *a, int port)
{
	a->port = port;
	if (a->sa.ss_family == AF_INET)
		((struct sockaddr_in *)&a->sa)->sin_port = htons((unsigned short)port);
	else if (a->sa.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((unsigned short)port);
}

/* add_addr - append one address of host to d (room permitting). */
static struct smtp_addr *
add_addr(struct smtp_dest *d, const char *host, const struct sockaddr *sa,
    int port, int pref, int fallback)
{
	struct smtp_addr *a;

	d->addr = xreallocarray(d->addr, (size_t)d->count + 1, sizeof(*d->addr));
	a = d->addr + d->count++;
	memset(a, 0, sizeof(*a));
	a->host = xstrdup(host);
	if (sa->sa_family == AF_INET) {
		memcpy(&a->sa, sa, sizeof(struct sockaddr_in));
		a->salen = sizeof(struct sockaddr_in);
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    a->addr_text, sizeof(a->addr_text));
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&a->sa, sa, sizeof(struct sockaddr_in6));
		a->salen = sizeof(struct sockaddr_in6);
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    a->addr_text, sizeof(a->addr_text));
	} else {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

		memcpy(&a->sa, sa, sizeof(*sun));
		a->salen = sizeof(*sun);
		strlcpy(a->addr_text, sun->sun_path, sizeof(a->addr_text));
	}
	a->pref = pref;
	a->fallback = fallback;
	set_port(a, port);
	return a;
}

/* Addresses of one host, before they are added. */
struct host_addrs {
	struct sockaddr_storage sa[32];
	int secure[32];			/* from a validated answer */
	char cname[256];		/* a validated answer's canonical name */
	int count;
	int tempfail;			/* a query failed temporarily */
	char reason[512];		/* why there are none */
	int notfound;
};

/* literal - an IPv4/IPv6 address literal ("ipv6:" prefix allowed). */
static int
literal(const char *host, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strncasecmp(host, "ipv6:", 5) == 0)
		host += 5;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return 1;
	}
	return 0;
}

static void
query_type(const char *host, int type, struct host_addrs *h)
{
	struct dns_answer *ans = dns_lookup(host, type,
	    smtp_conf.dnssec ? DNS_FLAG_DNSSEC : 0);

	if (ans->status == DNS_OK) {
		for (int i = 0; i < ans->count && h->count < 32; i++)
			if (ans->rr[i].type == type) {
				h->secure[h->count] = smtp_conf.dnssec && ans->authentic;
				h->sa[h->count++] = ans->rr[i].addr;
			}
		if (smtp_conf.dnssec && ans->authentic && ans->cname
		    && h->cname[0] == 0)
			strlcpy(h->cname, ans->cname, sizeof(h->cname));
	} else {
		if (ans->status == DNS_TEMPFAIL)
			h->tempfail = 1;
		if (ans->status == DNS_NOTFOUND || ans->status == DNS_INVALID)
			h->notfound = 1;
		if (ans->reason && (h->reason[0] == 0 || ans->status == DNS_TEMPFAIL))
			strlcpy(h->reason, ans->reason, sizeof(h->reason));
	}
	dns_answer_free(ans);
}

/* host_lookup - A and AAAA of host, as inet_protocols and
 * smtp_address_preference say (preferred family first). */
static void
host_lookup(const char *host, struct host_addrs *h)
{
	int v6first = strcasecmp(smtp_conf.address_preference, "ipv6") == 0;

	memset(h, 0, sizeof(*h));
	if (literal(host, &h->sa[0])) {
		h->count = 1;
		h->secure[0] = 0;	/* no TLSA base domain */
		return;
	}
	if (v6first && smtp_conf.use_ipv6)
		query_type(host, DNS_T_AAAA, h);
	if (smtp_conf.use_ipv4 && !(h->notfound && h->count == 0))
		query_type(host, DNS_T_A, h);
	if (!v6first && smtp_conf.use_ipv6 && !(h->notfound && h->count == 0))
		query_type(host, DNS_T_AAAA, h);
	if (h->count > 0) {
		h->tempfail = 0;
		h->notfound = 0;
	} else if (h->reason[0] == 0) {
		snprintf(h->reason, sizeof(h->reason),
		    "Host or domain name not found. Name service error for name=%s type=%s: Host found but no data record of required type",
		    host, smtp_conf.use_ipv4 ? "A" : "AAAA");
	}
}

/* parse_hostport - "[host]:port", "[host]", "host:port", "host" ->
 * host (malloc'd), port, bracketed.  -1 on a bad port. */
static int
parse_hostport(const char *spec, char **host_r, int *port_r, int *bracket_r,
    int default_port)
{
	const char *colon = NULL;
	long port = default_port;

	*bracket_r = 0;
	if (*spec == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL)
			return -1;
		*host_r = xstrndup(spec + 1, (size_t)(end - spec - 1));
		*bracket_r = 1;
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != 0)
			return free(*host_r), -1;
	} else {
		colon = strrchr(spec, ':');
		/* A bare IPv6 address is not host:port. */
		if (colon && strchr(spec, ':') != colon)
			colon = NULL;
		*host_r = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
	}
	if (colon) {
		const char *p = colon + 1;

		if (alldig(p) && str_to_long(p, &port) == 0 && port > 0 && port < 65536) {
			/* numeric */
		} else {
			struct servent *se = getservbyname(p, "tcp");

			if (se == NULL) {
				free(*host_r);
				return -1;
			}
			port = ntohs((unsigned short)se->s_port);
		}
	}
	*port_r = (int)port;
	return 0;
}

/* mx_cmp - by preference. */
static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_rr *x = a, *y = b;

	return x->pref - y->pref;
}

/* add_host - the addresses of one host; 1 when one of them is this host
 * (nothing added then), 0 otherwise. */
static int
add_host(struct smtp_dest *d, const char *host, int port, int pref,
    int fallback, struct host_addrs *h, int check_self, int mx_secure)
{
	int room;

	host_lookup(host, h);
	if (check_self)
		for (int i = 0; i < h->count; i++)
			if (smtp_addr_is_self((struct sockaddr *)&h->sa[i]))
				return 1;
	room = (int)smtp_conf.mx_address_limit;
	for (int i = 0; i < h->count; i++) {
		if (room > 0 && d->count >= room)
			break;
		struct smtp_addr *a = add_addr(d, host, (struct sockaddr *)&h->sa[i],
		    port, pref, fallback);

		a->mx_secure = mx_secure;
		a->addr_secure = h->secure[i];
		if (h->secure[i])
			strlcpy(a->cname, h->cname, sizeof(a->cname));
	}
	return 0;
}

/* resolve_mx - the MX branch; fills d or its failure. */
static void
resolve_mx(struct smtp_dest *d, const char *domain, int port)
{
	struct dns_answer *ans = dns_lookup(domain, DNS_T_MX,
	    smtp_conf.dnssec ? DNS_FLAG_DNSSEC : 0);
	int mx_secure = smtp_conf.dnssec && ans->authentic;
	struct host_addrs h;
	int loop = 0, any_temp = 0;
	char reason[512] = "";

	if (ans->status == DNS_NOTFOUND || ans->status == DNS_INVALID) {
		dest_fail(d, 1, "5.4.4", "%s", ans->reason ? ans->reason
		    : "Host or domain name not found");
		dns_answer_free(ans);
		return;
	}
	if (ans->status == DNS_TEMPFAIL) {
		dest_fail(d, 0, "4.4.3", "%s", ans->reason ? ans->reason
		    : "Host or domain name lookup failure");
		dns_answer_free(ans);
		return;
	}
	if (ans->status == DNS_NODATA || ans->count == 0) {
		/* No MX: the domain's own addresses. */
		dns_answer_free(ans);
		/* The name is the next hop's own: DANE needs only its
		 * addresses validated. */
		if (add_host(d, domain, port, -1, 0, &h, 1, 1)) {
			dest_fail(d, 1, "5.4.6", "mail for %s loops back to myself",
			    domain);
			return;
		}
		if (d->count == 0)
			dest_fail(d, !h.tempfail, h.tempfail ? "4.4.3" : "5.4.4",
			    "%s", h.reason);
		return;
	}
	/* RFC 7505: one MX record whose exchange is the root. */
	if (ans->count == 1 && (ans->rr[0].host == NULL || *ans->rr[0].host == 0
	    || strcmp(ans->rr[0].host, ".") == 0)) {
		dest_fail(d, 1, "5.1.0", "Domain %s does not accept mail (nullMX)",
		    domain);
		dns_answer_free(ans);
		return;
	}
	qsort(ans->rr, (size_t)ans->count, sizeof(*ans->rr), mx_cmp);
	if (smtp_conf.randomize) {
		for (int i = 0; i < ans->count;) {
			int j = i;

			while (j < ans->count && ans->rr[j].pref == ans->rr[i].pref)
				j++;
			for (int k = j - 1; k > i; k--) {
				int r = i + (int)(arc4random_uniform((unsigned)(k - i + 1)));
				struct dns_rr t = ans->rr[k];

				ans->rr[k] = ans->rr[r];
				ans->rr[r] = t;
			}
			i = j;
		}
	}
	for (int i = 0; i < ans->count; i++) {
		struct dns_rr *rr = &ans->rr[i];

		if (rr->host == NULL || *rr->host == 0)
			continue;
		if (smtp_conf.mx_address_limit > 0
		    && d->count >= smtp_conf.mx_address_limit)
			break;
		if (add_host(d, rr->host, port, rr->pref, 0, &h, 1, mx_secure)) {
			/* We are this preference: only better ones count. */
			loop = 1;
			while (d->count > 0 && d->addr[d->count - 1].pref >= rr->pref) {
				free(d->addr[d->count - 1].host);
				d->count--;
			}
			break;
		}
		if (h.count == 0) {
			if (h.tempfail)
				any_temp = 1;
			if (reason[0] == 0 || h.tempfail)
				strlcpy(reason, h.reason, sizeof(reason));
		}
	}
	dns_answer_free(ans);
	if (d->count == 0) {
		if (loop)
			dest_fail(d, 1, "5.4.6", "mail for %s loops back to myself",
			    domain);
		else if (any_temp)
			dest_fail(d, 0, "4.4.3", "%s", reason);
		else
			dest_fail(d, 1, "5.4.4", "%s", reason[0] ? reason
			    : "no MX host has an address");
	}
}

/* resolve_one - one next hop (no fallback relays). */
static void
resolve_one(struct smtp_dest *d, const char *nexthop, int fallback)
{
	char *host = NULL;
	int port, bracket;
	const char *spec = nexthop;
	struct host_addrs h;

	if (smtp_conf.lmtp) {
		if (strncmp(spec, "unix:", 5) == 0) {
			struct sockaddr_un sun;
			/* A relative path is under the queue directory, as in
			 * Postfix (unix:private/dovecot-lmtp). */
			char *path = spec[5] == '/' ? xstrdup(spec + 5)
			    : concatenate(var_queue_directory, "/", spec + 5, (char *)0);

			memset(&sun, 0, sizeof(sun));
			sun.sun_family = AF_UNIX;
			if (strlen(path) >= sizeof(sun.sun_path) || spec[5] == 0) {
				dest_fail(d, 0, "4.3.5", "bad LMTP socket path: %s", spec + 5);
				free(path);
				return;
			}
			strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
			add_addr(d, spec + 5, (struct sockaddr *)&sun, 0, -1, fallback);
			free(path);
			return;
		}
		if (strncmp(spec, "inet:", 5) == 0)
			spec += 5;
	}
	if (parse_hostport(spec, &host, &port, &bracket, smtp_conf.default_port) < 0) {
		dest_fail(d, 0, "4.3.5", "bad next-hop destination: %s", nexthop);
		return;
	}
	if (*host == 0) {
		dest_fail(d, 0, "4.3.5", "empty next-hop destination");
		free(host);
		return;
	}
	if (d->domain == NULL)
		d->domain = xstrdup(host);
	if (bracket || smtp_conf.lmtp) {
		/* No address check here (a [host]:port may well be this host
		 * on another port: a content filter); a server that greets
		 * with our name still is a loop (smtp_proto.c). */
		add_host(d, host, port, -1, fallback, &h, 0, 1);
		if (d->count == 0) {
			dest_fail(d, !h.tempfail, h.tempfail ? "4.4.3" : "5.4.4",
			    "%s", h.reason);
		}
	} else {
		resolve_mx(d, host, port);
	}
	free(host);
}

struct smtp_dest *
smtp_dest_resolve(const char *nexthop)
{
	struct smtp_dest *d = xcalloc(1, sizeof(*d));

	d->key = xstrdup(nexthop);
	resolve_one(d, nexthop, 0);
	/* smtp_fallback_relay: after the destination's own servers, unless
	 * the mail goes to one of them already or must bounce. */
	if (!smtp_conf.lmtp && smtp_conf.fallback_relay
	    && *smtp_conf.fallback_relay && !(d->count == 0 && d->fail_bounce)) {
		char *copy = xstrdup(smtp_conf.fallback_relay), *cp = copy, *tok;

		while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
			struct smtp_dest f;

			if (strcasecmp(tok, nexthop) == 0)
				continue;
			memset(&f, 0, sizeof(f));
			resolve_one(&f, tok, 1);
			for (int i = 0; i < f.count; i++) {
				struct smtp_addr *a = add_addr(d, f.addr[i].host,
				    (struct sockaddr *)&f.addr[i].sa, f.addr[i].port,
				    f.addr[i].pref, 1);

				a->mx_secure = f.addr[i].mx_secure;
				a->addr_secure = f.addr[i].addr_secure;
				strlcpy(a->cname, f.addr[i].cname, sizeof(a->cname));
				free(f.addr[i].host);
			}
			free(f.addr);
			free(f.domain);
			free(f.fail_text);
		}
		free(copy);
	}
	if (d->domain == NULL)
		d->domain = xstrdup(nexthop);
	return d;
}

void
smtp_dest_free(struct smtp_dest **dp)
{
	struct smtp_dest *d = *dp;

	if (d == NULL)
		return;
	for (int i = 0; i < d->count; i++)
		free(d->addr[i].host);
	free(d->addr);
	free(d->domain);
	free(d->key);
	free(d->fail_text);
	free(d);
	*dp = NULL;
}

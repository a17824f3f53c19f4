/* SPDX-License-Identifier: MIT */
/* smtpd_peer - the client's reverse and verified names (see
 * smtpd_peer.h), as Postfix finds them before the greeting: the PTR
 * record of the address gives the reverse name; the forward lookup (A or
 * AAAA) of that name confirms it when one of its addresses is the
 * client's.  As the C library's "files dns" order that Postfix goes
 * through, an address listed in /etc/hosts takes its name from there
 * (confirmed by the same line: "localhost" for 127.0.0.1), without DNS.  Both steps go through dns_query_async() from the loop:
 * nothing waits, no thread.  A temporary DNS failure in either step sets
 * the tempfail flag the restrictions look at
 * (reject_unknown_client_hostname and
 * reject_unknown_reverse_client_hostname then answer 450). */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "smtpd_peer.h"
#include "stringops.h"

struct peer_lookup {
	struct smtpd_session *s;
	void (*done)(void *ctx);
	int family;			/* AF_INET (mapped too) or AF_INET6 */
	unsigned char addr[16];
	char name[256];			/* the PTR name */
};

static void
peer_finish(struct peer_lookup *p)
{
	void (*done)(void *) = p->done;
	struct smtpd_session *s = p->s;

	free(p);
	done(s);
}

/* peer_hostname_ok - a PTR name we may use as a host name. */
static int
peer_hostname_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 255)
		return 0;
	for (const char *cp = name; *cp; cp++) {
		if (*cp == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*cp) || *cp == '-' || *cp == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	/* An all-numeric name would pass for an address. */
	return strspn(name, "0123456789.") != len;
}

static void
peer_forward_cb(void *ctx, struct dns_answer *a)
{
	struct peer_lookup *p = ctx;
	struct smtpd_session *s = p->s;

	if (a->status == DNS_TEMPFAIL) {
		s->name_tempfail = 1;
	} else if (a->status == DNS_OK) {
		for (int i = 0; i < a->count; i++) {
			const struct sockaddr_storage *ss = &a->rr[i].addr;
			const void *bytes = p->family == AF_INET
			    ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
			    : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

			if (ss->ss_family == p->family && memcmp(bytes, p->addr,
			    p->family == AF_INET ? 4 : 16) == 0) {
				strlcpy(s->name, p->name, sizeof(s->name));
				break;
			}
		}
	}
	dns_answer_free(a);
	peer_finish(p);
}

static void
peer_ptr_cb(void *ctx, struct dns_answer *a)
{
	struct peer_lookup *p = ctx;
	struct smtpd_session *s = p->s;

	switch (a->status) {
	case DNS_TEMPFAIL:
		/* Both names unknown, for now. */
		s->reverse_tempfail = s->name_tempfail = 1;
		break;
	case DNS_OK:
		if (s->dead || !peer_hostname_ok(a->rr[0].host))
			break;
		strlcpy(p->name, a->rr[0].host, sizeof(p->name));
		strlcpy(s->reverse_name, p->name, sizeof(s->reverse_name));
		dns_answer_free(a);
		dns_query_async(p->name, p->family == AF_INET ? DNS_T_A
		    : DNS_T_AAAA, 0, peer_forward_cb, p);
		return;
	case DNS_NOTFOUND:
	case DNS_NODATA:
	case DNS_INVALID:
		break;
	}
	dns_answer_free(a);
	peer_finish(p);
}

void
smtpd_peer_lookup(struct smtpd_session *s, void (*done)(void *ctx))
{
	struct sockaddr_storage ss;
	struct peer_lookup *p;
	char ptr[80], hname[256];

	/* The client as s->addr says: the socket's peer, or the one a
	 * proxy in front named (smtpd_upstream_proxy_protocol). */
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s->addr,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, s->addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
	}
	if ((ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
	    || dns_ptr_name((struct sockaddr *)&ss, ptr, sizeof(ptr)) < 0) {
		done(s);
		return;
	}
	/* /etc/hosts first, as the "files" source. */
	if (dns_hosts_name((struct sockaddr *)&ss, hname, sizeof(hname))
	    && peer_hostname_ok(hname)) {
		strlcpy(s->reverse_name, hname, sizeof(s->reverse_name));
		strlcpy(s->name, hname, sizeof(s->name));
		done(s);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->s = s;
	p->done = done;
	if (ss.ss_family == AF_INET) {
		p->family = AF_INET;
		memcpy(p->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			p->family = AF_INET;
			memcpy(p->addr, a6->s6_addr + 12, 4);
		} else {
			p->family = AF_INET6;
			memcpy(p->addr, a6->s6_addr, 16);
		}
	}
	dns_query_async(ptr, DNS_T_PTR, 0, peer_ptr_cb, p);
}

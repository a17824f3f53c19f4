/* SPDX-License-Identifier: MIT */
/* dns - the one resolver of postino: asynchronous DNS on the daemon's
 * libevent loop, through c-ares.
 *
 * The name servers, search list and options come from /etc/resolv.conf
 * (so a process run with "ip netns exec NAME" uses
 * /etc/netns/NAME/resolv.conf), read once by dns_init().
 *
 * Two ways to ask:
 *  - dns_query_async(): start a query, get the answer in a callback run
 *    from the event loop;
 *  - dns_lookup(): looks blocking.  Inside a task (task.h) it starts the
 *    query and task_wait()s for it, so the loop goes on serving others;
 *    outside a task (tools, tests) it runs a private loop until the
 *    answer or the timeout.
 * No DNS call ever blocks an event loop that serves other clients.
 *
 * Answers are classified as Postfix's DNS layer does: DNS_OK (records of
 * the type asked, after following CNAMEs), DNS_NOTFOUND (NXDOMAIN: the
 * name does not exist), DNS_NODATA (the name exists, no such records),
 * DNS_TEMPFAIL (SERVFAIL, REFUSED, timeout, no server reachable: try
 * again later), DNS_INVALID (the name is not a valid domain name: never
 * sent).  The AD bit of the answer is reported (for DANE); with
 * DNS_FLAG_DNSSEC the query asks for it (AD set in the query, EDNS0). */
#ifndef POSTINO_DNS_DNS_H
#define POSTINO_DNS_DNS_H

#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct event_base;

/* Record types (the values of the protocol). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_TLSA	52

enum dns_status {
	DNS_OK,
	DNS_NOTFOUND,
	DNS_NODATA,
	DNS_TEMPFAIL,
	DNS_INVALID,
};

#define DNS_FLAG_DNSSEC	(1 << 0)	/* ask for (and report) the AD bit */

/* One resource record of the answer section, of the type asked. */
struct dns_rr {
	int type;		/* DNS_T_* */
	unsigned ttl;
	int pref;		/* MX preference */
	char *host;		/* MX exchange, PTR/NS/CNAME target (no
				 * trailing dot, as received) */
	char *text;		/* TXT: the strings joined */
	struct sockaddr_storage addr;	/* A / AAAA (port 0) */
	char *addr_text;	/* A / AAAA: "192.0.2.1", "2001:db8::1" */
	unsigned char tlsa_usage, tlsa_selector, tlsa_mtype;
	unsigned char *tlsa_data;
	size_t tlsa_len;
};

struct dns_answer {
	enum dns_status status;
	int authentic;		/* the answer had the AD bit */
	char *qname;		/* the name asked */
	int qtype;
	struct dns_rr *rr;	/* status DNS_OK: count records */
	int count;
	char *cname;		/* DNS_OK, qname an alias: the name that owns
				 * the records (CNAMEs followed), else NULL */
	char *reason;		/* one line for logs and replies:
				 * "Host not found", "Host or domain name not
				 * found. Name service error for name=X
				 * type=MX: Host not found, try again" */
};

/* dns_init - read /etc/resolv.conf and attach the resolver to base (the
 * daemon's loop).  base NULL: no loop yet (tools); dns_lookup() then
 * always uses a private loop.  Calling it again (reload) re-reads
 * resolv.conf; queries in flight finish first.  0 ok, -1 with a warning. */
int dns_init(struct event_base *base);

typedef void dns_callback(void *ctx, struct dns_answer *answer);

/* dns_query_async - ask for name/type; cb(ctx, answer) runs later from
 * the loop (never from inside this call), exactly once; cb owns the
 * answer (dns_answer_free()). */
void dns_query_async(const char *name, int type, int flags,
    dns_callback *cb, void *ctx);

/* dns_lookup - the same, looking blocking (see above).  Returns the
 * answer; the caller frees it. */
struct dns_answer *dns_lookup(const char *name, int type, int flags);

/* dns_lookup_ptr - the PTR names of an address (in-addr.arpa /
 * ip6.arpa built here). */
struct dns_answer *dns_lookup_ptr(const struct sockaddr *sa);

/* dns_ptr_name - the name whose PTR records name sa (in-addr.arpa for
 * IPv4 and IPv4-mapped IPv6, else ip6.arpa), for dns_query_async().
 * 0, or -1 for another address family. */
int dns_ptr_name(const struct sockaddr *sa, char *buf, size_t len);

/* dns_hosts_name - the name /etc/hosts gives the address of sa (the
 * first name of the first line with that address), as the C library's
 * "files" source would: 1 with the name in buf, 0 when not listed. */
int dns_hosts_name(const struct sockaddr *sa, char *buf, size_t len);

/* dns_hosts_addr - the first address /etc/hosts gives name (any of a
 * line's names, case-insensitive), as the C library's "files" source
 * would: 1 with the address in ss (port 0) and its length in len, 0 when
 * not listed. */
int dns_hosts_addr(const char *name, struct sockaddr_storage *ss,
    socklen_t *len);

/* dns_host_addr - an address of host: a numeric address, else the
 * first of /etc/hosts, else of DNS (A, then AAAA: dns_lookup(), which
 * waits on the loop inside a task).  Port 0.  0 found, -1 not (why
 * says why). */
int dns_host_addr(const char *host, struct sockaddr_storage *ss,
    socklen_t *len, const char **why);

void dns_answer_free(struct dns_answer *answer);

const char *dns_type_name(int type);	/* "MX", "A", ... */

#endif

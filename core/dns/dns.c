/* SPDX-License-Identifier: MIT */
/* dns - asynchronous DNS through c-ares on a libevent loop (see dns.h).
 *
 * A resolver is one c-ares channel attached to one event base: c-ares
 * tells us which sockets to watch (ARES_OPT_SOCK_STATE_CB), each gets a
 * persistent event, and one timer follows ares_timeout().  There is the
 * daemon's resolver (dns_init(base)) and, lazily, a private one on a
 * private base for dns_lookup() outside a task.
 *
 * Queries are built with ares_create_query() and sent with ares_send(),
 * so that the raw answer is ours: the header's RCODE tells NXDOMAIN from
 * NODATA, its AD bit is reported, and with DNS_FLAG_DNSSEC the query
 * carries AD and an EDNS0 OPT record with DO.  The answer section is
 * parsed here (A, AAAA, MX, PTR, TXT, NS, CNAME, TLSA).
 *
 * Answers are never handed to the caller from inside c-ares: its
 * callback puts them on a ready list, and an event of the resolver's
 * loop delivers them.  So a callback may start queries, resume tasks
 * that start queries, or reload the resolver.
 *
 * Timeouts: resolv.conf's (or RES_OPTIONS') "timeout:" and "attempts:"
 * are read here (c-ares 1.18 ignores them); without them a bounded
 * default applies (DNS_DEF_TIMEOUT_MS per try, DNS_DEF_TRIES tries;
 * c-ares doubles the timeout each round): a few seconds in all. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <event2/event.h>

#include "dns.h"
#include "msg.h"
#include "mymalloc.h"
#include "task.h"

#define DNS_DEF_TIMEOUT_MS	1500	/* then 3000: 4.5 s with one server */
#define DNS_DEF_TRIES		2
#define DNS_EDNS_SIZE		1232	/* the DNS flag day's buffer size */
#define DNS_RESOLV_CONF		"/etc/resolv.conf"

/* Header bytes. */
#define HDR_QR_BYTE	2
#define HDR_FLAGS_BYTE	3
#define HDR_AD		0x20
#define HDR_RCODE(h)	((h)[3] & 0x0f)
#define RCODE_NOERROR	0
#define RCODE_NXDOMAIN	3
#define DNS_C_IN	1

struct dns_sock {
	ares_socket_t fd;
	short what;			/* EV_READ / EV_WRITE watched */
	struct event *ev;
	struct dns_sock *next;
};

struct dns_query;

struct dns_resolver {
	ares_channel channel;
	struct event_base *base;
	struct event *timer;
	struct event *drain;		/* delivers the ready list */
	struct dns_sock *socks;
	struct dns_query *ready_head, *ready_tail;
	int pending;			/* sent, no answer from c-ares yet */
	int retiring;			/* replaced by a reload */
	int freeing;			/* release scheduled */
	int private_base;		/* base is ours */
};

struct dns_query {
	struct dns_resolver *res;
	dns_callback *cb;
	void *ctx;
	struct dns_answer *answer;
	struct dns_query *next;
};

static struct dns_resolver *dns_main;	/* on the daemon's loop */
/* The private resolver is per thread: a tool's (or a worker thread's)
 * blocking lookups never share a channel. */
static __thread struct dns_resolver *dns_priv;
static pthread_once_t dns_lib_once = PTHREAD_ONCE_INIT;
static int dns_lib_err = ARES_SUCCESS;

static void
dns_lib_init(void)
{
	dns_lib_err = ares_library_init(ARES_LIB_INIT_ALL);
}

/* Socket and timer events. */

static void dns_drain_soon(struct dns_resolver *);

static void
dns_timer_update(struct dns_resolver *r)
{
	struct timeval tv, *tvp;

	tvp = ares_timeout(r->channel, NULL, &tv);
	if (tvp) {
		/* c-ares counts in milliseconds, rounded down: wake a little
		 * late rather than spin just before the query times out. */
		tv = *tvp;
		tv.tv_usec += 1000;
		if (tv.tv_usec >= 1000000) {
			tv.tv_sec++;
			tv.tv_usec -= 1000000;
		}
		evtimer_add(r->timer, &tv);
	} else {
		evtimer_del(r->timer);
	}
}

static void
dns_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->channel,
	    (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	dns_timer_update(r);
}

static void
dns_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_timer_update(r);
}

/* dns_sock_state - c-ares wants fd watched for reading/writing, or no
 * longer (both 0: about to be closed). */
static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	struct dns_sock **pp, *s;
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));

	for (pp = &r->socks; (s = *pp) != NULL; pp = &s->next)
		if (s->fd == fd)
			break;
	if (s && s->ev && s->what == what)
		return;
	if (s && s->ev) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable) {
		if (s) {
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
	}
	s->what = what;
	s->ev = event_new(r->base, fd, EV_PERSIST | what, dns_sock_event, r);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0)
		msg_fatal("dns: cannot watch a resolver socket");
}

/* Resolver set-up. */

/* dns_conf_options - the timing options of one "options" line or of
 * RES_OPTIONS: glibc's timeout:SECONDS and attempts:N (c-ares 1.18 reads
 * only its own retrans:MS and retry:N, taken here too). */
static void
dns_conf_options(const char *text, int *timeout_ms, int *tries)
{
	const char *cp = text;

	while (*cp) {
		size_t len;
		long v;

		cp += strspn(cp, " \t\r\n");
		len = strcspn(cp, " \t\r\n");
		if (len == 0)
			break;
		if (strncmp(cp, "timeout:", 8) == 0 && (v = atol(cp + 8)) > 0)
			*timeout_ms = (int)(v > 30 ? 30 : v) * 1000;
		else if (strncmp(cp, "retrans:", 8) == 0 && (v = atol(cp + 8)) > 0)
			*timeout_ms = (int)(v > 30000 ? 30000 : v);
		else if (strncmp(cp, "attempts:", 9) == 0 && (v = atol(cp + 9)) > 0)
			*tries = (int)(v > 5 ? 5 : v);
		else if (strncmp(cp, "retry:", 6) == 0 && (v = atol(cp + 6)) > 0)
			*tries = (int)(v > 5 ? 5 : v);
		cp += len;
	}
}

/* dns_conf_timing - the time per try and the number of tries: from
 * resolv.conf's options, then RES_OPTIONS, else the bounded default. */
static void
dns_conf_timing(int *timeout_ms, int *tries)
{
	const char *env = getenv("RES_OPTIONS");
	char line[1024];
	FILE *fp;

	*timeout_ms = DNS_DEF_TIMEOUT_MS;
	*tries = DNS_DEF_TRIES;
	if ((fp = fopen(DNS_RESOLV_CONF, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp)) {
			char *cp = line + strspn(line, " \t");

			if (strncmp(cp, "options", 7) == 0
			    && isspace((unsigned char)cp[7]))
				dns_conf_options(cp + 7, timeout_ms, tries);
		}
		fclose(fp);
	}
	if (env)
		dns_conf_options(env, timeout_ms, tries);
}

static struct dns_resolver *
dns_resolver_new(struct event_base *base, int private_base)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	struct ares_options opts;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS, err;

	(void)pthread_once(&dns_lib_once, dns_lib_init);
	if (dns_lib_err != ARES_SUCCESS) {
		msg_warn("dns: c-ares initialisation: %s", ares_strerror(dns_lib_err));
		free(r);
		return NULL;
	}
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = dns_sock_state;
	opts.sock_state_cb_data = r;
	/* Names are sent as they are: no search list. */
	opts.flags = ARES_FLAG_NOSEARCH;
	dns_conf_timing(&opts.timeout, &opts.tries);
	mask |= ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	r->base = base;
	r->private_base = private_base;
	if ((err = ares_init_options(&r->channel, &opts, mask)) != ARES_SUCCESS) {
		msg_warn("dns: resolver initialisation (%s): %s", DNS_RESOLV_CONF,
		    ares_strerror(err));
		free(r);
		return NULL;
	}
	r->timer = evtimer_new(base, dns_timer_event, r);
	r->drain = NULL;
	return r;
}

static void
dns_resolver_free(struct dns_resolver *r)
{
	struct dns_sock *s;

	ares_destroy(r->channel);	/* may call dns_sock_state */
	while ((s = r->socks) != NULL) {
		r->socks = s->next;
		if (s->ev)
			event_free(s->ev);
		free(s);
	}
	event_free(r->timer);
	if (r->drain)
		event_free(r->drain);
	if (r->private_base)
		event_base_free(r->base);
	free(r);
}

static void
dns_resolver_free_event(evutil_socket_t fd, short what, void *arg)
{
	dns_resolver_free(arg);
}

/* dns_resolver_retire - free r once its queries are answered. */
static void
dns_resolver_retire(struct dns_resolver *r)
{
	r->retiring = 1;
	if (r->freeing || r->pending > 0 || r->ready_head != NULL)
		return;
	r->freeing = 1;
	if (event_base_once(r->base, -1, EV_TIMEOUT, dns_resolver_free_event,
	    r, NULL) < 0)
		msg_warn("dns: cannot schedule the release of a resolver");
}

int
dns_init(struct event_base *base)
{
	struct dns_resolver *r = NULL;

	if (base && (r = dns_resolver_new(base, 0)) == NULL)
		return -1;
	if (dns_main)
		dns_resolver_retire(dns_main);
	dns_main = r;
	/* The private resolver re-reads resolv.conf on its next use. */
	if (dns_priv && dns_priv->pending == 0) {
		dns_resolver_free(dns_priv);
		dns_priv = NULL;
	}
	return 0;
}

/* Answers. */

const char *
dns_type_name(int type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_NS:
		return "NS";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TLSA:
		return "TLSA";
	default:
		return "unknown";
	}
}

static struct dns_answer *
dns_answer_new(const char *name, int type)
{
	struct dns_answer *a = xcalloc(1, sizeof(*a));

	a->qname = xstrdup(name);
	a->qtype = type;
	a->status = DNS_TEMPFAIL;
	return a;
}

/* dns_answer_status - set the status and its reason. */
static void
dns_answer_status(struct dns_answer *a, enum dns_status status,
    const char *detail)
{
	const char *text = NULL;
	char buf[1200];

	a->status = status;
	free(a->reason);
	a->reason = NULL;
	switch (status) {
	case DNS_OK:
		return;
	case DNS_NOTFOUND:
		text = "Host not found";
		break;
	case DNS_NODATA:
		text = "Host found but no data record of requested type";
		break;
	case DNS_TEMPFAIL:
		text = "Host not found, try again";
		break;
	case DNS_INVALID:
		snprintf(buf, sizeof(buf), "malformed domain name: \"%.1000s\"",
		    a->qname);
		a->reason = xstrdup(buf);
		return;
	}
	snprintf(buf, sizeof(buf), "Host or domain name not found. Name service "
	    "error for name=%.900s type=%s: %s%s%s%s", a->qname,
	    dns_type_name(a->qtype), text, detail ? " (" : "",
	    detail ? detail : "", detail ? ")" : "");
	a->reason = xstrdup(buf);
}

void
dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < a->count; i++) {
		free(a->rr[i].host);
		free(a->rr[i].text);
		free(a->rr[i].addr_text);
		free(a->rr[i].tlsa_data);
	}
	free(a->rr);
	free(a->qname);
	free(a->cname);
	free(a->reason);
	free(a);
}

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static unsigned
get32(const unsigned char *p)
{
	return (unsigned)p[0] << 24 | (unsigned)p[1] << 16
	    | (unsigned)p[2] << 8 | p[3];
}

/* dns_name - expand the name at p (in buf of len); 0 ok. */
static int
dns_name(const unsigned char *p, const unsigned char *buf, int len,
    char **name_r, long *enc_len_r)
{
	char *name = NULL;
	long enc;

	if (p < buf || p >= buf + len
	    || ares_expand_name(p, buf, len, &name, &enc) != ARES_SUCCESS)
		return -1;
	if (name_r)
		*name_r = name;
	else
		ares_free_string(name);
	if (enc_len_r)
		*enc_len_r = enc;
	return 0;
}

/* dns_parse_rr - one record of the type asked into rr; 0 ok, -1 bad. */
static int
dns_parse_rr(const unsigned char *buf, int len, const unsigned char *rd,
    unsigned rdlen, int type, struct dns_rr *rr)
{
	char *name = NULL;
	char text[INET6_ADDRSTRLEN];

	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA: {
		int fam = type == DNS_T_A ? AF_INET : AF_INET6;

		if (rdlen != (type == DNS_T_A ? 4u : 16u))
			return -1;
		if (fam == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&rr->addr;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, rd, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&rr->addr;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, rd, 16);
		}
		if (inet_ntop(fam, rd, text, sizeof(text)) == NULL)
			return -1;
		rr->addr_text = xstrdup(text);
		return 0;
	}
	case DNS_T_MX:
		if (rdlen < 3)
			return -1;
		rr->pref = (int)get16(rd);
		if (dns_name(rd + 2, buf, len, &name, NULL) < 0)
			return -1;
		rr->host = xstrdup(name);
		ares_free_string(name);
		return 0;
	case DNS_T_PTR:
	case DNS_T_NS:
	case DNS_T_CNAME:
		if (dns_name(rd, buf, len, &name, NULL) < 0)
			return -1;
		rr->host = xstrdup(name);
		ares_free_string(name);
		return 0;
	case DNS_T_TXT: {
		/* The character strings, joined. */
		char *out = xmalloc(rdlen + 1);
		size_t n = 0;

		for (unsigned i = 0; i < rdlen;) {
			unsigned l = rd[i++];

			if (i + l > rdlen) {
				free(out);
				return -1;
			}
			memcpy(out + n, rd + i, l);
			n += l;
			i += l;
		}
		out[n] = 0;
		rr->text = out;
		return 0;
	}
	case DNS_T_TLSA:
		if (rdlen < 3)
			return -1;
		rr->tlsa_usage = rd[0];
		rr->tlsa_selector = rd[1];
		rr->tlsa_mtype = rd[2];
		rr->tlsa_len = rdlen - 3;
		rr->tlsa_data = xmalloc(rdlen - 3 + 1);
		memcpy(rr->tlsa_data, rd + 3, rdlen - 3);
		return 0;
	default:
		return -1;
	}
}

/* dns_same_name - the same domain name, case and a trailing dot aside. */
static int
dns_same_name(const char *x, const char *y)
{
	size_t lx = strlen(x), ly = strlen(y);

	if (lx > 0 && x[lx - 1] == '.')
		lx--;
	if (ly > 0 && y[ly - 1] == '.')
		ly--;
	return lx == ly && strncasecmp(x, y, lx) == 0;
}

/* dns_parse - classify and parse a raw answer. */
static void
dns_parse(struct dns_answer *a, const unsigned char *buf, int len)
{
	const unsigned char *p = buf, *end = buf + len;
	unsigned qd, an;
	long enc;
	int rcode;

	if (len < 12 || !(buf[HDR_QR_BYTE] & 0x80)) {
		dns_answer_status(a, DNS_TEMPFAIL, "malformed reply");
		return;
	}
	a->authentic = (buf[HDR_FLAGS_BYTE] & HDR_AD) != 0;
	rcode = HDR_RCODE(buf);
	if (rcode == RCODE_NXDOMAIN) {
		dns_answer_status(a, DNS_NOTFOUND, NULL);
		return;
	}
	if (rcode != RCODE_NOERROR) {
		/* SERVFAIL, REFUSED, ... (c-ares normally takes these). */
		dns_answer_status(a, DNS_TEMPFAIL, "server failure");
		return;
	}
	qd = get16(buf + 4);
	an = get16(buf + 6);
	p = buf + 12;
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name(p, buf, len, NULL, &enc) < 0 || p + enc + 4 > end) {
			dns_answer_status(a, DNS_TEMPFAIL, "malformed reply");
			return;
		}
		p += enc + 4;
	}
	for (unsigned i = 0; i < an; i++) {
		unsigned type, rdlen, ttl;
		char *owner = NULL;

		if (dns_name(p, buf, len, &owner, &enc) < 0 || p + enc + 10 > end) {
			if (owner)
				ares_free_string(owner);
			dns_answer_status(a, DNS_TEMPFAIL, "malformed reply");
			goto out;
		}
		p += enc;
		type = get16(p);
		if ((int)type == a->qtype && a->cname == NULL
		    && !dns_same_name(owner, a->qname))
			a->cname = xstrdup(owner);
		ares_free_string(owner);
		ttl = get32(p + 4);
		rdlen = get16(p + 8);
		p += 10;
		if (p + rdlen > end) {
			dns_answer_status(a, DNS_TEMPFAIL, "malformed reply");
			goto out;
		}
		/* CNAMEs on the way are followed by the server; keep the
		 * records of the type asked. */
		if ((int)type == a->qtype) {
			struct dns_rr rr;

			memset(&rr, 0, sizeof(rr));
			rr.type = (int)type;
			rr.ttl = ttl;
			if (dns_parse_rr(buf, len, p, rdlen, (int)type, &rr) == 0) {
				a->rr = xreallocarray(a->rr, (size_t)a->count + 1,
				    sizeof(*a->rr));
				a->rr[a->count++] = rr;
			}
		}
		p += rdlen;
	}
	dns_answer_status(a, a->count > 0 ? DNS_OK : DNS_NODATA, NULL);
	return;
out:
	/* A reply that breaks off keeps nothing. */
	for (int i = 0; i < a->count; i++) {
		free(a->rr[i].host);
		free(a->rr[i].text);
		free(a->rr[i].addr_text);
		free(a->rr[i].tlsa_data);
	}
	free(a->rr);
	a->rr = NULL;
	a->count = 0;
	free(a->cname);
	a->cname = NULL;
}

/* Delivery. */

static void
dns_drain_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;
	struct dns_query *q;

	while ((q = r->ready_head) != NULL) {
		r->ready_head = q->next;
		if (r->ready_head == NULL)
			r->ready_tail = NULL;
		q->cb(q->ctx, q->answer);
		free(q);
	}
	if (r->retiring)
		dns_resolver_retire(r);
}

static void
dns_drain_soon(struct dns_resolver *r)
{
	if (r->drain == NULL) {
		r->drain = event_new(r->base, -1, 0, dns_drain_event, r);
		if (r->drain == NULL)
			msg_fatal("dns: event_new: out of memory");
	}
	event_active(r->drain, EV_TIMEOUT, 0);
}

static void
dns_ready(struct dns_query *q)
{
	struct dns_resolver *r = q->res;

	q->next = NULL;
	if (r->ready_tail)
		r->ready_tail->next = q;
	else
		r->ready_head = q;
	r->ready_tail = q;
	dns_drain_soon(r);
}

/* dns_ares_cb - c-ares is done with a query. */
static void
dns_ares_cb(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct dns_query *q = arg;

	q->res->pending--;
	switch (status) {
	case ARES_SUCCESS:
		dns_parse(q->answer, abuf, alen);
		break;
	case ARES_ENOTFOUND:
		dns_answer_status(q->answer, DNS_NOTFOUND, NULL);
		break;
	case ARES_ENODATA:
		dns_answer_status(q->answer, DNS_NODATA, NULL);
		break;
	default:
		/* SERVFAIL, REFUSED, timeout, connection refused, ... */
		dns_answer_status(q->answer, DNS_TEMPFAIL, ares_strerror(status));
		break;
	}
	dns_ready(q);
}

/* dns_name_ok - a name we may send. */
static int
dns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c <= ' ' || c >= 0x7f || c == '\\' || c == '"' || c == '(' || c == ')'
		    || c == ';' || c == '@' || c == '$')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static void
dns_send(struct dns_resolver *r, const char *name, int type, int flags,
    dns_callback *cb, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	unsigned char *qbuf = NULL;
	int qlen = 0, err;
	char *copy;
	size_t len;

	q->res = r;
	q->cb = cb;
	q->ctx = ctx;
	q->answer = dns_answer_new(name, type);
	if (!dns_name_ok(name)) {
		dns_answer_status(q->answer, DNS_INVALID, NULL);
		dns_ready(q);
		return;
	}
	copy = xstrdup(name);
	if ((len = strlen(copy)) > 0 && copy[len - 1] == '.')
		copy[len - 1] = 0;
	err = ares_create_query(copy, DNS_C_IN, type, 0, 1, &qbuf, &qlen,
	    (flags & DNS_FLAG_DNSSEC) ? DNS_EDNS_SIZE : 0);
	free(copy);
	if (err != ARES_SUCCESS) {
		dns_answer_status(q->answer, err == ARES_EBADNAME ? DNS_INVALID
		    : DNS_TEMPFAIL, ares_strerror(err));
		dns_ready(q);
		return;
	}
	if (flags & DNS_FLAG_DNSSEC) {
		qbuf[HDR_FLAGS_BYTE] |= HDR_AD;
		/* The OPT record ends the query: TTL = ext-rcode, version,
		 * DO|Z, Z; then RDLENGTH. */
		if (qlen >= 12 + 11 && get16(qbuf + qlen - 10) == 41)
			qbuf[qlen - 4] |= 0x80;
	}
	r->pending++;
	ares_send(r->channel, qbuf, qlen, dns_ares_cb, q);
	ares_free_string(qbuf);
	dns_timer_update(r);
}

void
dns_query_async(const char *name, int type, int flags, dns_callback *cb,
    void *ctx)
{
	if (dns_main == NULL)
		msg_panic("dns_query_async: dns_init() was not called with a loop");
	dns_send(dns_main, name, type, flags, cb, ctx);
}

/* dns_lookup - in a task, wait for the answer; else a private loop. */
struct dns_wait {
	struct task_wait w;
	struct dns_answer *answer;
	int done;
};

static void
dns_wait_cb(void *ctx, struct dns_answer *answer)
{
	struct dns_wait *dw = ctx;

	dw->answer = answer;
	dw->done = 1;
	task_wake(&dw->w);
}

struct dns_answer *
dns_lookup(const char *name, int type, int flags)
{
	struct dns_wait dw;

	memset(&dw, 0, sizeof(dw));
	task_wait_init(&dw.w);
	if (dns_main && task_current()) {
		dns_send(dns_main, name, type, flags, dns_wait_cb, &dw);
		task_wait(&dw.w);
		return dw.answer;
	}
	(void)task_blocking("DNS", 0);
	if (dns_priv == NULL) {
		struct event_base *base = event_base_new();

		if (base == NULL)
			msg_fatal("dns: event_base_new failed");
		if ((dns_priv = dns_resolver_new(base, 1)) == NULL) {
			struct dns_answer *a = dns_answer_new(name, type);

			event_base_free(base);
			dns_answer_status(a, DNS_TEMPFAIL, "no resolver");
			return a;
		}
	}
	dns_send(dns_priv, name, type, flags, dns_wait_cb, &dw);
	while (!dw.done)
		if (event_base_loop(dns_priv->base, EVLOOP_ONCE) < 0)
			msg_fatal("dns: event_base_loop failed");
	return dw.answer;
}

int
dns_ptr_name(const struct sockaddr *sa, char *name, size_t len)
{
	const unsigned char *b;
	size_t n = 0;

	if (sa->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		snprintf(name, len, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1],
		    b[0]);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		b = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			snprintf(name, len, "%u.%u.%u.%u.in-addr.arpa", b[15], b[14],
			    b[13], b[12]);
			return 0;
		}
		for (int i = 15; i >= 0 && n < len; i--)
			n += (size_t)snprintf(name + n, len - n, "%x.%x.", b[i] & 0xf,
			    b[i] >> 4);
		if (n < len)
			snprintf(name + n, len - n, "ip6.arpa");
		return 0;
	}
	return -1;
}

#define DNS_HOSTS	"/etc/hosts"

int
dns_hosts_name(const struct sockaddr *sa, char *buf, size_t len)
{
	unsigned char want[16], got[16];
	size_t wlen;
	int fam;
	char line[1024];
	FILE *fp;
	int found = 0;

	if (sa->sa_family == AF_INET) {
		fam = AF_INET;
		wlen = 4;
		memcpy(want, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			fam = AF_INET;
			wlen = 4;
			memcpy(want, a6->s6_addr + 12, 4);
		} else {
			fam = AF_INET6;
			wlen = 16;
			memcpy(want, a6->s6_addr, 16);
		}
	} else {
		return 0;
	}
	if ((fp = fopen(DNS_HOSTS, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp)) {
		char *cp = line, *addr, *name;

		cp[strcspn(cp, "#\r\n")] = 0;
		addr = strtok_r(cp, " \t", &cp);
		name = addr ? strtok_r(NULL, " \t", &cp) : NULL;
		if (name == NULL || inet_pton(fam, addr, got) != 1
		    || memcmp(got, want, wlen) != 0)
			continue;
		snprintf(buf, len, "%s", name);
		found = 1;
	}
	fclose(fp);
	return found;
}

int
dns_hosts_addr(const char *name, struct sockaddr_storage *ss, socklen_t *len)
{
	char line[1024];
	FILE *fp;
	int found = 0;

	if ((fp = fopen(DNS_HOSTS, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp)) {
		char *cp = line, *addr, *alias;

		cp[strcspn(cp, "#\r\n")] = 0;
		if ((addr = strtok_r(cp, " \t", &cp)) == NULL)
			continue;
		while (!found && (alias = strtok_r(NULL, " \t", &cp)) != NULL) {
			if (strcasecmp(alias, name) != 0)
				continue;
			memset(ss, 0, sizeof(*ss));
			if (inet_pton(AF_INET, addr,
			    &((struct sockaddr_in *)ss)->sin_addr) == 1) {
				ss->ss_family = AF_INET;
				*len = sizeof(struct sockaddr_in);
				found = 1;
			} else if (inet_pton(AF_INET6, addr,
			    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
				ss->ss_family = AF_INET6;
				*len = sizeof(struct sockaddr_in6);
				found = 1;
			} else {
				break;		/* not an address: next line */
			}
		}
	}
	fclose(fp);
	return found;
}

int
dns_host_addr(const char *host, struct sockaddr_storage *ss,
    socklen_t *len, const char **why)
{
	static const int types[] = {DNS_T_A, DNS_T_AAAA};
	static __thread char reason[256];
	struct addrinfo hints = {0}, *res = NULL;

	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL) {
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
		return 0;
	}
	if (dns_hosts_addr(host, ss, len))
		return 0;
	*why = "no address";
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct dns_answer *a = dns_lookup(host, types[i], 0);
		enum dns_status st = a->status;
		int found = st == DNS_OK && a->count > 0;

		if (found) {
			memset(ss, 0, sizeof(*ss));
			memcpy(ss, &a->rr[0].addr, sizeof(a->rr[0].addr));
			*len = ss->ss_family == AF_INET6
			    ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		} else if (i == 0 || st != DNS_NOTFOUND) {
			snprintf(reason, sizeof(reason), "%s",
			    a->reason ? a->reason : "no address");
			*why = reason;
		}
		dns_answer_free(a);
		/* Found, or no answer at all: one wait is enough. */
		if (found)
			return 0;
		if (st == DNS_TEMPFAIL || st == DNS_NOTFOUND || st == DNS_INVALID)
			break;
	}
	return -1;
}

struct dns_answer *
dns_lookup_ptr(const struct sockaddr *sa)
{
	char name[80];

	if (dns_ptr_name(sa, name, sizeof(name)) < 0) {
		struct dns_answer *a = dns_answer_new("", DNS_T_PTR);

		dns_answer_status(a, DNS_INVALID, NULL);
		return a;
	}
	return dns_lookup(name, DNS_T_PTR, 0);
}

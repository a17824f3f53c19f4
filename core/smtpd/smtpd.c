/* SPDX-License-Identifier: MIT */
/* smtpd - the SMTP server process: sessions.
 *
 * One libevent loop, the daemon skeleton's (mail_server.h), serves every
 * session; the skeleton accepts them and handles the master's notices,
 * max_idle and max_use (sessions are its clients).  Input is split into lines by
 * smtpd_line.c (command lines bounded by line_length_limit, content
 * lines passed in pieces); smtpd_proto.c and smtpd_data.c act on them.  A
 * session whose work is under way (a command's task, the queue file
 * commit on the thread pool) reads nothing until the work is done, so
 * replies stay in order under pipelining.
 *
 * Logs (Postfix's shape): "connect from NAME[ADDR]", "disconnect from
 * NAME[ADDR] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
 * "lost connection after CMD from ...", "timeout after CMD from ...".
 *
 * Signals (through the skeleton): SIGTERM: reply 421 to every session
 * and exit.  SIGHUP (the master's reload): stop accepting, finish the
 * sessions, exit. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map_proxy.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "smtpd_haproxy.h"
#include "smtpd_peer.h"
#include "stringops.h"
#include "verify_clnt.h"

struct smtpd_conf smtpd_conf;
struct event_base *smtpd_base;
int smtpd_stopping;

static struct smtpd_session *sessions;
static int session_count;

/* Capacity.  A session holds one descriptor, two while a message is
 * received (the queue file); SMTPD_FD_RESERVE more are kept for logs,
 * tables and the status channel.  So one process takes at most
 * (RLIMIT_NOFILE - SMTPD_FD_RESERVE) / 2 sessions (32,736 under the
 * systemd unit's LimitNOFILE=65536); when it has that many it stops
 * accepting and tells the master, which starts another smtpd, up to the
 * service's maxproc (the skeleton's capacity).  Should accept() still run
 * out of descriptors (the limit was lowered, or the system table is
 * full), the skeleton stops accepting too, instead of being woken again
 * and again by a listener it cannot serve, and tries again after a
 * second. */
#define SMTPD_FD_RESERVE	64
#define SMTPD_WARN_GAP		60	/* seconds between capacity warnings */

static long session_limit;
static time_t full_warned;

static const char *const verb_names[] = {
	"helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt", "data", "rset", "noop", "vrfy", "etrn",
	"quit", "help", "unknown",
};

/* footer_expand - smtpd_reject_footer with $client_address,
 * $client_port, $localtime and $server_name (also as ${name} and
 * $(name)) replaced; other text as it is. */
static char *
footer_expand(const struct smtpd_session *s, const char *tmpl)
{
	struct buf *b = buf_new(128, BUF_NOLIMIT);
	char *out;

	for (const char *cp = tmpl; *cp; cp++) {
		const char *name = cp + 1, *end;
		char close = 0, when[32];
		const char *val = NULL;
		size_t len;

		if (*cp != '$') {
			buf_putc(b, *cp);
			continue;
		}
		if (*name == '{' || *name == '(') {
			close = *name == '{' ? '}' : ')';
			name++;
		}
		for (end = name; *end == '_' || (*end >= 'a' && *end <= 'z'); end++)
			;
		len = (size_t)(end - name);
		if (close && *end != close) {
			buf_putc(b, *cp);
			continue;
		}
		if (len == 14 && strncmp(name, "client_address", len) == 0) {
			val = s->addr;
		} else if (len == 11 && strncmp(name, "client_port", len) == 0) {
			val = s->port;
		} else if (len == 11 && strncmp(name, "server_name", len) == 0) {
			val = smtpd_conf.myhostname;
		} else if (len == 9 && strncmp(name, "localtime", len) == 0) {
			time_t now = time(NULL);
			struct tm tm;

			strftime(when, sizeof(when), "%b %e %H:%M:%S",
			    localtime_r(&now, &tm));
			val = when;
		}
		if (val == NULL) {
			buf_putc(b, *cp);
			continue;
		}
		buf_puts(b, val);
		cp = end + (close ? 1 : 0) - 1;
	}
	out = xstrdup(buf_str(b));
	buf_free(&b);
	return out;
}

/* reply_with_footer - the last line of a 4xx/5xx reply, then
 * smtpd_reject_footer on lines of their own that repeat the code and
 * the enhanced status code ("\\c" first: the first piece joins the
 * reply's own line; "\\n" in the text starts a new line), as Postfix
 * writes it. */
static void
reply_with_footer(struct smtpd_session *s, struct evbuffer *out,
    const char *line)
{
	char dsn[32] = "", *footer, *cp, **lines = NULL;
	const char *text = line[3] ? line + 4 : line + 3, *sp;
	int n = 0;

	/* An enhanced status code of the reply's class. */
	if (text[0] == line[0] && text[1] == '.' && (sp = strchr(text, ' '))
	    != NULL && (size_t)(sp - text) < sizeof(dsn)) {
		memcpy(dsn, text, (size_t)(sp - text));
		dsn[sp - text] = 0;
	}
	footer = footer_expand(s, smtpd_conf.reject_footer);
	cp = footer;
	lines = xreallocarray(lines, 1, sizeof(*lines));
	if (strncmp(cp, "\\c", 2) == 0) {
		char *nl = strstr(cp + 2, "\\n");

		if (nl)
			*nl = 0;
		lines[n++] = concatenate(text, cp + 2, (char *)0);
		cp = nl ? nl + 2 : NULL;
	} else {
		lines[n++] = xstrdup(text);
	}
	while (cp != NULL) {
		char *nl = strstr(cp, "\\n");

		if (nl)
			*nl = 0;
		lines = xreallocarray(lines, (size_t)n + 1, sizeof(*lines));
		lines[n++] = concatenate(dsn, *dsn ? " " : "", cp, (char *)0);
		cp = nl ? nl + 2 : NULL;
	}
	for (int i = 0; i < n; i++) {
		evbuffer_add(out, line, 3);
		evbuffer_add_printf(out, "%c%s\r\n", i < n - 1 ? '-' : ' ',
		    lines[i]);
		free(lines[i]);
	}
	free(lines);
	free(footer);
}

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	if (*smtpd_conf.reject_footer) {
		char *line = NULL;

		if (vasprintf(&line, fmt, ap) < 0)
			msg_fatal("out of memory");
		va_end(ap);
		if ((line[0] == '4' || line[0] == '5') && line[1] >= '0'
		    && line[1] <= '9' && line[2] >= '0' && line[2] <= '9'
		    && (line[3] == ' ' || line[3] == 0)) {
			reply_with_footer(s, out, line);
		} else {
			evbuffer_add(out, line, strlen(line));
			evbuffer_add(out, "\r\n", 2);
		}
		free(line);
		return;
	}
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static const char *const verb_upper[] = {
	"HELO", "EHLO", "XCLIENT", "XFORWARD", "STARTTLS", "AUTH", "MAIL", "RCPT",
	"DATA", "RSET", "NOOP", "VRFY", "ETRN",
	"QUIT", "HELP", "UNKNOWN",
};
/* One name per enum smtpd_verb: a verb added there must be named here. */
_Static_assert(sizeof(verb_names) / sizeof(verb_names[0]) == SMTPD_V_COUNT,
    "verb_names and enum smtpd_verb differ");
_Static_assert(sizeof(verb_upper) / sizeof(verb_upper[0]) == SMTPD_V_COUNT,
    "verb_upper and enum smtpd_verb differ");

/* last_verb - what a session was doing, for "lost connection after" and
 * "timeout after": the message content, or the last command (Postfix). */
static const char *
last_verb(const struct smtpd_session *s)
{
	switch (s->state) {
	case SMTPD_ST_DATA:
		return "DATA";
	case SMTPD_ST_COMMIT:
		return "END-OF-MESSAGE";
	default:
		break;
	}
	if (s->last_cmd > 0 && s->last_cmd <= SMTPD_V_COUNT)
		return verb_upper[s->last_cmd - 1];
	return "CONNECT";
}

static void
log_disconnect(struct smtpd_session *s)
{
	char stats[512];
	size_t o = 0;
	int ok = 0, total = 0;

	stats[0] = 0;
	for (int v = 0; v < SMTPD_V_COUNT; v++) {
		if (s->verb_total[v] == 0)
			continue;
		ok += s->verb_ok[v];
		total += s->verb_total[v];
		if (s->verb_ok[v] == s->verb_total[v])
			o += (size_t)snprintf(stats + o, sizeof(stats) - o, " %s=%d",
			    verb_names[v], s->verb_ok[v]);
		else
			o += (size_t)snprintf(stats + o, sizeof(stats) - o,
			    " %s=%d/%d", verb_names[v], s->verb_ok[v],
			    s->verb_total[v]);
		if (o >= sizeof(stats))
			o = sizeof(stats) - 1;
	}
	if (ok == total)
		msg_info("disconnect from %s[%s]%s commands=%d", s->name, s->addr,
		    stats, ok);
	else
		msg_info("disconnect from %s[%s]%s commands=%d/%d", s->name,
		    s->addr, stats, ok, total);
}

void
smtpd_reset_transaction(struct smtpd_session *s)
{
	if (s->cleanup)
		cleanup_free(&s->cleanup);
	xfree(&s->sender);
	xfree(&s->dsn_envid);
	s->dsn_ret = NULL;
	xfree(&s->first_rcpt);
	xfree(&s->redirect);
	xfree(&s->filter);
	smtpd_xforward_reset(s);
	for (int i = 0; i < s->nbcc; i++)
		free(s->bcc[i]);
	xfree(&s->bcc);
	s->nbcc = 0;
	xfree(&s->commit_reply);
	s->rcpt_count = 0;
	s->mail_size = 0;
	s->hold = s->discard = 0;
	s->data_bytes = 0;
	s->data_overflow = 0;
	s->data_status = 0;
	s->data_bare_lf = 0;
	smtpd_milter_reset(s);
}

static void
session_free(struct smtpd_session *s)
{
	struct smtpd_session **pp;

	for (pp = &sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	session_count--;
	smtpd_anvil_disconnect(s);
	smtpd_reset_transaction(s);
	smtpd_milter_free(s);
	free(s->helo);
	free(s->access_denied);
	if (s->timer)
		event_free(s->timer);
	if (s->bev) {
		smtpd_tls_flush(s);
		bufferevent_free(s->bev);
	}
	free(s->tls_info);
	free(s->ccert);
	smtpd_sasl_free(s);
	free(s);
	/* The skeleton resumes accepting, or exits when draining. */
	mail_server_disconnect();
}

void
smtpd_close(struct smtpd_session *s)
{
	if (s->dead)
		return;
	if (s->state != SMTPD_ST_RESOLVE && !s->logged_out)
		log_disconnect(s);
	s->logged_out = 1;
	s->dead = 1;
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	if (SMTPD_BUSY(s))
		return;		/* freed when the pool job or task is done */
	session_free(s);
}

/* write_drained - the output buffer is empty: close after the last
 * reply, or read again after backpressure. */
static void
write_drained(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (s->tls_handshake)
		smtpd_tls_check(s);
	if (s->state == SMTPD_ST_CLOSING) {
		smtpd_close(s);
		return;
	}
	if (s->throttled) {
		s->throttled = 0;
		if (!SMTPD_BUSY(s) && !s->dead)
			bufferevent_enable(s->bev, EV_READ);
		smtpd_process_input(s);
	}
}

void
smtpd_close_after_reply(struct smtpd_session *s)
{
	s->state = SMTPD_ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	if (bufferevent_get_underlying(s->bev) != NULL) {
		/* TLS: the filter hands replies to the socket at once, so its
		 * output is empty already; close from the loop, after the
		 * command that asked for it has finished. */
		struct timeval now = {0, 0};

		evtimer_add(s->timer, &now);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		smtpd_close(s);
		return;
	}
	/* A client that does not read its last reply is dropped after
	 * smtpd_timeout: nothing keeps a closing session forever. */
	smtpd_arm_timeout(s);
}

static void
session_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (SMTPD_BUSY(s) || s->dead)
		return;
	if (s->state == SMTPD_ST_CLOSING) {
		/* The last reply never went out: the client stopped reading;
		 * or an access table's HANGUP closes here, off the input loop. */
		smtpd_close(s);
		return;
	}
	msg_info("timeout after %s from %s[%s]", last_verb(s), s->name, s->addr);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0) {
		/* Our replies are not read: one more would not be either. */
		smtpd_close(s);
		return;
	}
	smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    smtpd_conf.myhostname);
	smtpd_close_after_reply(s);
}

void
smtpd_arm_timeout(struct smtpd_session *s)
{
	struct timeval tv = {smtpd_conf.timeout, 0};

	evtimer_add(s->timer, &tv);
}

void
smtpd_fill_check(struct smtpd_session *s, struct smtpd_check_session *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->client_addr = s->addr;
	cs->client_name = s->name;
	cs->reverse_name = s->reverse_name;
	cs->name_tempfail = s->name_tempfail;
	cs->reverse_tempfail = s->reverse_tempfail;
	cs->client_port = s->port;
	cs->helo = s->helo;
	cs->protocol = s->esmtp ? (s->tls ? "ESMTPS" : "ESMTP")
	    : (s->tls ? "SMTPS" : "SMTP");
	smtpd_tls_fill(s, &cs->tls_protocol, &cs->tls_cipher, &cs->tls_bits);
	smtpd_tls_fill_ccert(s, cs);
	cs->sender = s->sender;
	cs->sasl_method = s->sasl_method;
	cs->sasl_username = s->sasl_username;
	cs->sasl_sender = s->sasl_sender;
	cs->queue_id = s->cleanup ? cleanup_queue_id(s->cleanup) : NULL;
	cs->pipelining_violation = s->pipelining_violation;
	cs->rcpt_count = s->rcpt_count;
	cs->size = s->sender ? s->mail_size : 0;
	/* One instance per message: MAIL's checks count the MAIL to come. */
	snprintf(cs->instance, sizeof(cs->instance), "%lx.%lx.%lx.%x",
	    (unsigned long)getpid(), (unsigned long)s->start.tv_sec,
	    (unsigned long)s->start.tv_usec,
	    (unsigned)(s->verb_ok[SMTPD_V_MAIL] + (s->sender ? 0 : 1)));
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(s->fd, (struct sockaddr *)&ss, &len) == 0
		    && getnameinfo((struct sockaddr *)&ss, len, cs->server_addr,
		    sizeof(cs->server_addr), cs->server_port,
		    sizeof(cs->server_port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			cs->server_addr[0] = cs->server_port[0] = 0;
	}
	/* XCLIENT DESTADDR, DESTPORT. */
	if (s->dest_addr[0])
		strlcpy(cs->server_addr, s->dest_addr, sizeof(cs->server_addr));
	if (s->dest_port[0])
		strlcpy(cs->server_port, s->dest_port, sizeof(cs->server_port));
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (s->tls_handshake)
		smtpd_tls_check(s);
	smtpd_process_input(arg);
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (s->tls_handshake)
			smtpd_tls_check(s);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->tls_handshake)
			smtpd_tls_failed(s);
		if (s->state != SMTPD_ST_CLOSING)
			msg_info("lost connection after %s from %s[%s]",
			    last_verb(s), s->name, s->addr);
		smtpd_close(s);
	}
}

static void
resolve_done(void *ctx)
{
	struct smtpd_session *s = ctx;

	s->in_pool = 0;
	if (s->dead) {
		session_free(s);
		return;
	}
	msg_info("connect from %s[%s]", s->name, s->addr);
	s->state = SMTPD_ST_CMD;
	if (smtpd_anvil_connect(s) != 0)
		return;		/* refused, or smtpd_greet() once anvil answers */
	smtpd_greet(s);
}

void
smtpd_greet(struct smtpd_session *s)
{
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	smtpd_connect(s);
	if (!SMTPD_BUSY(s))
		smtpd_process_input(s);
}

void
smtpd_session_callbacks(struct smtpd_session *s)
{
	bufferevent_setcb(s->bev, session_read, write_drained, session_event, s);
}

/* The PROXY protocol header of smtpd_upstream_proxy_protocol = haproxy
 * (smtpd_haproxy.c), awaited before the session starts.  Only header
 * bytes are read: while the header is incomplete every byte that came
 * belongs to it, and once it is complete its length is known. */
#define PROXY_HDR_MAX	(16 + 4096)

struct proxy_state {
	struct smtpd_session *s;
	struct event *ev;
	struct timeval deadline;
	unsigned char buf[PROXY_HDR_MAX];
	size_t len;
};

static void accept_session(struct smtpd_session *s);

/* proxy_end - the header is done with: the session starts (ok), or the
 * connection ends with a warning saying why. */
static void
proxy_end(struct proxy_state *p, const char *why)
{
	struct smtpd_session *s = p->s;

	event_free(p->ev);
	free(p);
	if (why != NULL) {
		char reply[512], junk[4096];
		int len;

		msg_warn("haproxy read: %s from [%s]", why, s->addr);
		/* As Postfix: 421, then the end.  What the client sent is
		 * read first, so that the close is not a reset that could
		 * lose the reply. */
		while (recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
		len = snprintf(reply, sizeof(reply), "421 4.3.0 %s Server local "
		    "error\r\n", smtpd_conf.myhostname);
		(void)send(s->fd, reply, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(s->fd);
		free(s);
		mail_server_disconnect();
		return;
	}
	accept_session(s);
}

static void
proxy_readable(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_state *p = arg;
	struct smtpd_session *s = p->s;
	struct smtpd_haproxy h;
	struct timeval now, left;
	unsigned char peek[512];
	const char *err;
	size_t used, take;
	ssize_t n;
	int rc;

	if (what & EV_TIMEOUT) {
		proxy_end(p, "time limit exceeded");
		return;
	}
	n = recv(fd, peek, sizeof(peek), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		goto again;
	if (n <= 0) {
		proxy_end(p, n == 0 ? "lost connection" : strerror(errno));
		return;
	}
	if ((size_t)n > sizeof(p->buf) - p->len)
		n = (ssize_t)(sizeof(p->buf) - p->len);
	memcpy(p->buf + p->len, peek, (size_t)n);
	rc = smtpd_haproxy_parse(p->buf, p->len + (size_t)n, &used, &h, &err);
	if (rc < 0) {
		proxy_end(p, err);
		return;
	}
	/* Incomplete: all of it is header.  Complete: up to its end. */
	take = rc == 0 ? (size_t)n : used - p->len;
	if (recv(fd, p->buf + p->len, take, 0) != (ssize_t)take) {
		proxy_end(p, "read error");
		return;
	}
	p->len += take;
	if (rc == 0) {
		if (p->len >= sizeof(p->buf)) {
			proxy_end(p, "header too long");
			return;
		}
		goto again;
	}
	if (!h.local) {
		strlcpy(s->addr, h.addr, sizeof(s->addr));
		smtpd_haproxy_unmap(s->addr);
		strlcpy(s->port, h.port, sizeof(s->port));
		strlcpy(s->dest_addr, h.dest_addr, sizeof(s->dest_addr));
		smtpd_haproxy_unmap(s->dest_addr);
		strlcpy(s->dest_port, h.dest_port, sizeof(s->dest_port));
	}
	proxy_end(p, NULL);
	return;
again:
	gettimeofday(&now, NULL);
	if (!timercmp(&now, &p->deadline, <)) {
		proxy_end(p, "time limit exceeded");
		return;
	}
	timersub(&p->deadline, &now, &left);
	event_add(p->ev, &left);
}

/* proxy_wait - read the PROXY header of a new connection first. */
static void
proxy_wait(struct smtpd_session *s)
{
	struct proxy_state *p = xcalloc(1, sizeof(*p));
	struct timeval limit = {smtpd_conf.upstream_proxy_timeout, 0};

	p->s = s;
	gettimeofday(&p->deadline, NULL);
	timeradd(&p->deadline, &limit, &p->deadline);
	p->ev = event_new(smtpd_base, s->fd, EV_READ, proxy_readable, p);
	event_add(p->ev, &limit);
}

/* accept_cb - a new client (the skeleton accepted it). */
static void
accept_cb(int fd, const struct sockaddr *sa, int salen, int index)
{
	struct smtpd_session *s;

	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->sasl_fd = -1;
	/* Replies are written when ready; without this, Nagle holds a
	 * pipelining client's small replies until its delayed ACK. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int on = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	gettimeofday(&s->start, NULL);
	strlcpy(s->name, "unknown", sizeof(s->name));
	strlcpy(s->reverse_name, "unknown", sizeof(s->reverse_name));
	if (getnameinfo(sa, (socklen_t)salen, s->addr, sizeof(s->addr), s->port,
	    sizeof(s->port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		strlcpy(s->addr, "unknown", sizeof(s->addr));
	/* IPv4-mapped IPv6 clients are logged as IPv4. */
	smtpd_haproxy_unmap(s->addr);
	if (smtpd_conf.upstream_proxy) {
		proxy_wait(s);
		return;
	}
	accept_session(s);
}

/* accept_session - the client is known: start its session. */
static void
accept_session(struct smtpd_session *s)
{
	int fd = s->fd;

	s->bev = bufferevent_socket_new(smtpd_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		close(fd);
		free(s);
		mail_server_disconnect();
		return;
	}
	s->timer = evtimer_new(smtpd_base, session_timeout, s);
	smtpd_session_callbacks(s);
	if (smtpd_tls_wrapper(s) < 0) {
		bufferevent_free(s->bev);
		event_free(s->timer);
		free(s);
		mail_server_disconnect();
		return;
	}
	s->next = sessions;
	sessions = s;
	session_count++;
	if (session_count >= session_limit) {
		time_t now = time(NULL);

		if (full_warned == 0 || now - full_warned >= SMTPD_WARN_GAP) {
			msg_warn("%d sessions: this smtpd is full (open files limit "
			    "%ld); new connections go to another smtpd, up to the "
			    "service's maxproc", session_count,
			    session_limit * 2 + SMTPD_FD_RESERVE);
			full_warned = now;
		}
		/* The skeleton stops accepting (capacity) and says busy. */
	}
	s->state = SMTPD_ST_RESOLVE;
	if (smtpd_conf.peername_lookup) {
		/* The DNS answers come through the loop (smtpd_peer.c). */
		s->in_pool = 1;
		smtpd_peer_lookup(s, resolve_done);
	} else {
		resolve_done(s);
	}
}

/* set_session_limit - raise the soft open files limit to the hard one
 * (the master did it already, unless smtpd runs on its own) and derive
 * the number of sessions this process takes. */
static void
set_session_limit(void)
{
	struct rlimit rl;
	long n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		msg_fatal("getrlimit RLIMIT_NOFILE: %m");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			msg_warn("raise the open files limit: %m");
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX / 2
	    ? LONG_MAX / 2 : (long)rl.rlim_cur;
	session_limit = (n - SMTPD_FD_RESERVE) / 2;
	if (session_limit < 1)
		session_limit = 1;
}

/* smtpd_drain - reload: the skeleton closed the listeners; the sessions
 * in flight finish, then the process exits. */
static void
smtpd_drain(void)
{
	smtpd_stopping = 1;
}

/* smtpd_stop - postino stop: 421 to every session; the skeleton exits
 * when they are gone or after its grace time. */
static void
smtpd_stop(void)
{
	smtpd_stopping = 1;
	for (struct smtpd_session *s = sessions, *next; s; s = next) {
		next = s->next;
		if (s->dead || s->state == SMTPD_ST_RESOLVE || SMTPD_BUSY(s))
			continue;
		smtpd_reply(s, "421 4.3.2 %s Service shutting down, closing transmission channel",
		    smtpd_conf.myhostname);
		smtpd_close_after_reply(s);
	}
}

/* conf_long - a number parameter's value v; def when empty or not a
 * number (lenient, as before binding). */
static long
conf_long(const char *v, long def)
{
	long n;

	if (*v == 0 || str_to_long(v, &n) < 0)
		return def;
	return n;
}

static void
smtpd_read_conf(void)
{
	const char *v;

	mail_vars_bind(MAIL_VARS_SMTPD);
	smtpd_conf.myhostname = xstrdup(var_myhostname);
	smtpd_conf.banner = xstrdup(var_smtpd_banner);
	smtpd_conf.mail_name = xstrdup(var_mail_name);
	smtpd_conf.timeout = var_smtpd_timeout;
	if (smtpd_conf.timeout <= 0)
		smtpd_conf.timeout = 300;
	smtpd_conf.rcpt_limit = conf_long(var_smtpd_recipient_limit, 1000);
	smtpd_conf.line_limit = conf_long(var_line_length_limit, 2048);
	if (smtpd_conf.line_limit < 512)
		smtpd_conf.line_limit = 512;
	smtpd_conf.size_limit = var_message_size_limit;
	smtpd_conf.hard_error_limit = conf_long(var_smtpd_hard_error_limit, 20);
	smtpd_conf.soft_error_limit = conf_long(var_smtpd_soft_error_limit, 10);
	smtpd_conf.error_sleep = var_smtpd_error_sleep_time;
	smtpd_conf.per_request_deadline = var_smtpd_per_request_deadline;
	smtpd_conf.min_data_rate = conf_long(var_smtpd_min_data_rate, 500);
	smtpd_conf.junk_limit = conf_long(var_smtpd_junk_command_limit, 100);
	smtpd_conf.disable_vrfy = var_disable_vrfy_command;
	smtpd_conf.ehlo_discard = smtpd_ehlo_mask(var_smtpd_discard_ehlo_keywords);
	smtpd_conf.helo_required = var_smtpd_helo_required;
	smtpd_conf.delay_reject = var_smtpd_delay_reject;
	smtpd_conf.strict_rfc821 = var_strict_rfc821_envelopes;
	smtpd_conf.peername_lookup = var_smtpd_peername_lookup;
	smtpd_conf.reject_footer = var_smtpd_reject_footer;
	smtpd_conf.upstream_proxy = *var_smtpd_upstream_proxy_protocol != 0;
	smtpd_conf.upstream_proxy_timeout = var_smtpd_upstream_proxy_timeout > 0
	    ? var_smtpd_upstream_proxy_timeout : 5;
	/* Postfix 3.9+ parameters (not in older parameter tables). */
	v = var_smtpd_forbid_bare_newline;
	if (strcasecmp(v, "no") == 0)
		smtpd_conf.forbid_bare_lf = 0;
	else if (strcasecmp(v, "reject") == 0)
		smtpd_conf.forbid_bare_lf = 2;
	else
		smtpd_conf.forbid_bare_lf = 1;	/* normalize (default) */
	smtpd_conf.bare_lf_code = (int)conf_long(
	    var_smtpd_forbid_bare_newline_reject_code, 550);
	if (smtpd_conf.bare_lf_code < 500 || smtpd_conf.bare_lf_code > 599)
		smtpd_conf.bare_lf_code = 550;
	v = var_smtpd_forbid_unauth_pipelining;
	smtpd_conf.forbid_unauth_pipelining = strcasecmp(v, "no") != 0;
}

int
main(int argc, char **argv)
{
	static struct mail_server_ops ops = {
		.accept = accept_cb,
		.drain = smtpd_drain,
		.stop = smtpd_stop,
	};

	mail_server_init(argc, argv, "smtpd");
	set_session_limit();
	smtpd_read_conf();
	smtpd_check_init();
	smtpd_anvil_init();
	smtpd_etrn_init();
	/* Keys are read now, while still privileged (often mode 0600). */
	smtpd_tls_init();
	smtpd_sasl_init();
	cleanup_init();
	{
		int no_unknown_rcpt;

		smtpd_conf.cleanup_flags = cleanup_input_flags(&no_unknown_rcpt);
		smtpd_check_no_unknown_rcpt(no_unknown_rcpt);
		smtpd_conf.content_filter = var_content_filter;
	}
	smtpd_conf.no_milters = !(smtpd_conf.cleanup_flags & CLEANUP_FLAG_MILTER);
	smtpd_milter_init();
	if (mail_server_listen_count() == 0)
		msg_fatal("no listening socket: smtpd must be started by the master");
	/* The skeleton attaches the resolver (dns_init) to its loop. */
	smtpd_base = mail_server_base();
	mail_server_ready();
	/* Commits (fsync) in flight at once let the file system put several
	 * queue files in one journal commit: start with a few threads and
	 * grow with the number of sessions that commit at the same time. */
	smtpd_pool_init(4);
	smtpd_pool_grow_limit(64);
	/* Checks inside tasks wait on this loop for the policy servers and
	 * the lookup service (ldap:, mysql: through proxymap). */
	smtpd_check_event_base(smtpd_base);
	map_proxy_event_base(smtpd_base);
	verify_clnt_event_base(smtpd_base);
	ops.capacity = session_limit > INT_MAX ? INT_MAX : (int)session_limit;
	return mail_server_run(&ops);
}

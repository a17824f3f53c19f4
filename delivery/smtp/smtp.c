/* SPDX-License-Identifier: MIT */
/* smtp - the SMTP/LMTP delivery agent's process: configuration, the
 * connections from qmgr, the replies and the delivery lines (smtp.h).
 *
 * Each qmgr connection is served by one task at a time: requests are
 * read by the loop as they arrive (deliver_request.h), the task delivers
 * them in order and writes each recipient's status as soon as it is
 * known, then the final list with the destination feedback for qmgr's
 * scheduler (dest_status=ok: a server of the destination talked to us;
 * dest_status=dead, dest_reason: none could be reached).  A process
 * takes up to SMTP_CAPACITY connections; the master starts another when
 * it is full.  On reload or stop the deliveries in flight finish (no
 * new request is read), cached sessions are closed, then the process
 * exits. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "delivery.h"
#include "deliver_request.h"
#include "mail_conf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"
#include "task.h"

/* qmgr connections one process serves at most. */
#define SMTP_CAPACITY	100

struct smtp_conf smtp_conf;

struct queued {
	struct deliver_request *dr;
	double t_start;
	double t_active;
	int backlog;			/* dest_backlog */
	struct queued *next;
};

struct agent_conn {
	struct bufferevent *bev;
	struct attr_list *al;
	struct queued *head, *tail;
	int busy;			/* a task serves it */
	int eof;			/* qmgr closed, or error */
	struct agent_conn *next, *prev;
};

static struct agent_conn *conns;

static int draining;

double
smtp_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* send_list - write an attribute list to qmgr (buffered: never waits). */
static void
send_list(struct agent_conn *c, struct attr_list *al)
{
	struct buf *out = buf_new(512, BUF_NOLIMIT);

	attr_format(al, out);
	if (!c->eof)
		bufferevent_write(c->bev, buf_str(out), buf_len(out));
	buf_free(&out);
}

void
smtp_status(struct smtp_request *req, int index, const char *dsn,
    const char *status, const char *relay, const char *fmt, ...)
{
	struct deliver_request *dr = req->dr;
	struct deliver_rcpt *rc = &dr->rcpt[index];
	struct deliver_status ds;
	struct attr_list *al;
	char text[4096], d[32], a[32], b[32], cc[32], e[32], use[32] = "";
	double now = smtp_now(), t_conn;
	va_list ap;

	if (req->done[index])
		return;
	req->done[index] = 1;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* delays=a/b/c/d: before qmgr, in qmgr, connection set-up,
	 * transmission. */
	t_conn = req->t_conn > 0 ? req->t_conn : now;
	local_format_delay(d, sizeof(d), now - dr->arrival);
	local_format_delay(a, sizeof(a), (req->t_active > 0 ? req->t_active
	    : req->t_start) - dr->arrival);
	local_format_delay(b, sizeof(b), req->t_active > 0 ? req->t_start
	    - req->t_active : 0);
	local_format_delay(cc, sizeof(cc), t_conn - req->t_start);
	local_format_delay(e, sizeof(e), now - t_conn);
	if (req->conn_use > 1)
		snprintf(use, sizeof(use), ", conn_use=%d", req->conn_use);
	if (rc->orig_rcpt && *rc->orig_rcpt
	    && strcasecmp(rc->orig_rcpt, rc->address) != 0)
		msg_info("%s: to=<%s>, orig_to=<%s>, relay=%s%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		    dr->queue_id, rc->address, rc->orig_rcpt, relay, use, d, a, b,
		    cc, e, dsn, deliver_log_status(dr->verify, status), text);
	else
		msg_info("%s: to=<%s>, relay=%s%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		    dr->queue_id, rc->address, relay, use, d, a, b, cc, e, dsn,
		    deliver_log_status(dr->verify, status), text);
	memset(&ds, 0, sizeof(ds));
	ds.rcpt_index = index;
	strlcpy(ds.dsn, dsn, sizeof(ds.dsn));
	ds.status = status;
	ds.action = strcmp(status, "sent") == 0 ? "relayed"
	    : strcmp(status, "bounced") == 0 ? "failed" : "delayed";
	if (smtp_conf.lmtp && strcmp(status, "sent") == 0)
		ds.action = "delivered";
	/* Relayed to a server with DSN: NOTIFY went with the recipient, so
	 * a success notice is that server's job (LMTP is final delivery). */
	ds.dsn_passed = !smtp_conf.lmtp && req->dsn_peer
	    && strcmp(status, "sent") == 0;
	ds.text = text;
	ds.relay = UNCONST(relay);
	al = attr_list_new();
	deliver_status_to_attr(dr->request_id, &ds, al);
	send_list(req->conn, al);
	attr_list_free(&al);
}

/* open_queue_file - the request's queue file, which must be inside
 * $queue_directory; -1 with a reason. */
static int
open_queue_file(const struct deliver_request *dr, const char **why)
{
	const char *qd = var_queue_directory;
	size_t n = strlen(qd);
	int fd;

	if (strncmp(dr->queue_path, qd, n) != 0 || dr->queue_path[n] != '/'
	    || strstr(dr->queue_path, "/../") != NULL) {
		*why = "queue file outside the queue directory";
		return -1;
	}
	if ((fd = open(dr->queue_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		*why = strerror(errno);
	return fd;
}

/* deliver_one - one request, in the connection's task. */
static void
deliver_one(struct agent_conn *c, struct queued *q)
{
	struct deliver_request *dr = q->dr;
	struct smtp_request req;
	struct attr_list *al;
	char *reason = NULL;
	const char *why = NULL;
	int feedback = SMTP_DEST_NONE;

	memset(&req, 0, sizeof(req));
	req.dr = dr;
	req.conn = c;
	req.t_start = q->t_start;
	req.t_active = q->t_active;
	req.backlog = q->backlog;
	req.done = xcalloc((size_t)dr->rcpt_count + 1, sizeof(int));
	if ((req.fd = open_queue_file(dr, &why)) < 0) {
		for (int i = 0; i < dr->rcpt_count; i++)
			smtp_status(&req, i, "4.3.0", "deferred", "none",
			    "cannot open queue file: %s", why);
	} else {
		feedback = smtp_deliver(&req, &reason);
		close(req.fd);
	}
	/* Every recipient has exactly one status. */
	for (int i = 0; i < dr->rcpt_count; i++)
		if (!req.done[i])
			smtp_status(&req, i, "4.3.0", "deferred", "none",
			    "internal error: no delivery status");
	al = attr_list_new();
	attr_addf(al, "request_id", "%ld", dr->request_id);
	attr_add(al, "done", "1");
	if (feedback == SMTP_DEST_OK)
		attr_add(al, "dest_status", "ok");
	else if (feedback == SMTP_DEST_DEAD) {
		attr_add(al, "dest_status", "dead");
		attr_add(al, "dest_reason", reason ? reason : "destination unreachable");
	}
	send_list(c, al);
	attr_list_free(&al);
	free(reason);
	free(req.done);
}

static void conn_free(struct agent_conn *c);

/* conn_task - deliver the connection's requests while there are some. */
static void
conn_task(void *ctx)
{
	struct agent_conn *c = ctx;
	struct queued *q;

	while ((q = c->head) != NULL && !c->eof) {
		c->head = q->next;
		if (c->head == NULL)
			c->tail = NULL;
		deliver_one(c, q);
		deliver_request_free(&q->dr);
		free(q);
	}
}

static void
conn_task_done(void *ctx)
{
	struct agent_conn *c = ctx;

	c->busy = 0;
	if (c->eof || (draining && c->head == NULL))
		conn_free(c);
}

static void
conn_free(struct agent_conn *c)
{
	while (c->head) {
		struct queued *q = c->head;

		c->head = q->next;
		deliver_request_free(&q->dr);
		free(q);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	attr_list_free(&c->al);
	free(c);
	mail_server_disconnect();
}

static void
conn_kick(struct agent_conn *c)
{
	if (!c->busy && c->head != NULL) {
		c->busy = 1;
		task_start(conn_task, c, conn_task_done, 0);
	}
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct agent_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t len = evbuffer_get_length(in);
		const char *err = NULL;
		struct deliver_request *dr;
		struct queued *q;
		long used;
		const char *v;

		if (len == 0 || draining)
			break;
		used = attr_parse((const char *)evbuffer_pullup(in, -1), len, c->al,
		    &err);
		if (used == 0)
			break;
		if (used < 0 || (dr = deliver_request_from_attr(c->al, &err)) == NULL) {
			msg_warn("malformed delivery request from qmgr: %s",
			    err ? err : "unparsable");
			c->eof = 1;
			break;
		}
		evbuffer_drain(in, (size_t)used);
		q = xcalloc(1, sizeof(*q));
		q->dr = dr;
		q->t_start = smtp_now();
		v = attr_get(c->al, "active_time");
		q->t_active = v ? strtod(v, NULL) : 0;
		q->backlog = attr_get(c->al, "dest_backlog") != NULL;
		if (c->tail)
			c->tail->next = q;
		else
			c->head = q;
		c->tail = q;
	}
	if (c->eof && !c->busy) {
		conn_free(c);
		return;
	}
	conn_kick(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct agent_conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		c->eof = 1;
		if (!c->busy)
			conn_free(c);
	}
}

static void
smtp_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	struct agent_conn *c = xcalloc(1, sizeof(*c));

	(void)sa;
	(void)salen;
	(void)index;
	c->al = attr_list_new();
	c->bev = bufferevent_socket_new(mail_server_base(), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		msg_fatal("bufferevent_socket_new: %m");
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
}

/* smtp_drain - finish the deliveries in hand, read nothing new. */
static void
smtp_drain(void)
{
	struct agent_conn *c, *next;

	draining = 1;
	smtp_session_flush_all();
	for (c = conns; c; c = next) {
		next = c->next;
		if (!c->busy)
			conn_free(c);
	}
}

static void
smtp_pre_exit(void)
{
	smtp_session_flush_all();
}

/* conf_init - bind smtp_* or lmtp_* into smtp_conf. */
static void
conf_init(void)
{
	int l = smtp_conf.lmtp;
	const char *proto = var_inet_protocols ? var_inet_protocols : "all";

	mail_vars_bind(MAIL_VARS_SMTP);
#define PICK(name) (l ? var_lmtp_##name : var_smtp_##name)
	smtp_conf.proto = l ? "LMTP" : "SMTP";
	smtp_conf.name = l ? "lmtp" : "smtp";
	smtp_conf.default_port = l ? 24 : 25;
	smtp_conf.connect_timeout = PICK(connect_timeout);
	if (smtp_conf.connect_timeout <= 0)
		smtp_conf.connect_timeout = 120;	/* the system's limit */
	smtp_conf.helo_timeout = l ? var_lmtp_lhlo_timeout : var_smtp_helo_timeout;
	smtp_conf.mail_timeout = PICK(mail_timeout);
	smtp_conf.rcpt_timeout = PICK(rcpt_timeout);
	smtp_conf.data_init_timeout = PICK(data_init_timeout);
	smtp_conf.data_xfer_timeout = PICK(data_xfer_timeout);
	smtp_conf.data_done_timeout = PICK(data_done_timeout);
	smtp_conf.quit_timeout = PICK(quit_timeout);
	smtp_conf.rset_timeout = PICK(rset_timeout);
	smtp_conf.mx_address_limit = PICK(mx_address_limit);
	smtp_conf.mx_session_limit = PICK(mx_session_limit);
	smtp_conf.randomize = PICK(randomize_addresses);
	smtp_conf.helo_name = l ? var_lmtp_lhlo_name : var_smtp_helo_name;
	smtp_conf.bind_address = PICK(bind_address);
	smtp_conf.bind_address6 = PICK(bind_address6);
	smtp_conf.address_preference = PICK(address_preference);
	smtp_conf.line_length_limit = PICK(line_length_limit);
	smtp_conf.skip_5xx_greeting = PICK(skip_5xx_greeting);
	smtp_conf.fallback_relay = PICK(fallback_relay);
	smtp_conf.cache_on_demand = PICK(connection_cache_on_demand);
	smtp_conf.cache_destinations = PICK(connection_cache_destinations);
	smtp_conf.cache_time_limit = PICK(connection_cache_time_limit);
	smtp_conf.reuse_time_limit = PICK(connection_reuse_time_limit);
	smtp_conf.reuse_count_limit = PICK(connection_reuse_count_limit);
	smtp_conf.dnssec = strcasecmp(PICK(dns_support_level), "dnssec") == 0;
	smtp_conf.send_xforward = PICK(send_xforward_command);
	smtp_conf.xforward_timeout = PICK(xforward_timeout);
#undef PICK
	if (strcasecmp(proto, "all") == 0) {
		smtp_conf.use_ipv4 = smtp_conf.use_ipv6 = 1;
	} else {
		smtp_conf.use_ipv4 = strstr(proto, "ipv4") != NULL;
		smtp_conf.use_ipv6 = strstr(proto, "ipv6") != NULL;
		if (!smtp_conf.use_ipv4 && !smtp_conf.use_ipv6)
			smtp_conf.use_ipv4 = 1;
	}
	smtp_addr_init();
	smtp_hbc_init();
	smtp_generic_init();
	smtp_tls_init(l);
	smtp_sasl_init(l);
}

int
main(int argc, char **argv)
{
	static struct mail_server_ops ops = {
		.accept = smtp_accept,
		.drain = smtp_drain,
		.stop = smtp_drain,
		.pre_exit = smtp_pre_exit,
		.capacity = SMTP_CAPACITY,
	};
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
	    : argv[0];

	smtp_conf.lmtp = strcmp(prog, "lmtp") == 0;
	mail_server_init(argc, argv, smtp_conf.lmtp ? "lmtp" : "smtp");
	if (mail_server_listen_count() < 1)
		msg_fatal("no listening socket from the master");
	conf_init();
	umask(077);
	return mail_server_run(&ops);
}

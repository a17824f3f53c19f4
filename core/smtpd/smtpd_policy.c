/* SPDX-License-Identifier: MIT */
/* smtpd_policy - check_policy_service: SMTP access policy delegation
 * (Postfix's SMTPD_POLICY_README protocol).
 *
 * A request is "name=value" lines ended by an empty line; the server
 * answers "action=..." lines ended by an empty line, and the action is
 * an access(5) action (smtpd_check_access_result).  Connections are
 * kept and reused (max_idle, max_ttl, request_limit); one exchange has
 * timeout seconds in all; a failed exchange is retried try_limit times
 * in all, retry_delay apart; when every try fails the default_action
 * applies and "warning: problem talking to server SERVER: why" is logged.
 *
 * Waiting.  Inside a task (smtpd runs every check in one, smtpd_task)
 * the connect, the writes, the reads and the retry delay wait for
 * libevent events on the loop given to smtpd_check_event_base(), with
 * task_wait(): the loop serves the other sessions meanwhile.  Outside a
 * task (tests, tools) the same code waits with poll().  A connection is
 * taken out of the cache while a query uses it, so two tasks that ask at
 * the same time never share one. */
#include "postino_config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "endpoint.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd_check_private.h"
#include "smtpd_restrict.h"
#include "stringops.h"
#include "task.h"
#include "task_event.h"

#define POLICY_REPLY_MAX	(64 * 1024)	/* a longer reply is an error */

/* An open connection to a policy server, idle in the cache. */
struct pconn {
	char *server;
	int fd;
	time_t created, used;
	long requests;
	struct pconn *next;
};

static struct pconn *idle;
static struct event_base *policy_base;	/* the loop tasks wait on */

void
smtpd_check_event_base(struct event_base *base)
{
	policy_base = base;
}

/* in_task - may the I/O wait in a task here? */
static int
in_task(void)
{
	return policy_base != NULL && task_current() != NULL;
}

/* pause_for - smtpd_policy_service_retry_delay between tries. */
static void
pause_for(long seconds)
{
	if (in_task())
		(void)task_event_wait(policy_base, -1, 0, seconds * 1000);
	else
		sleep((unsigned)seconds);
}

int
smtpd_check_connect(const char *server, const char *bare_prefix,
    long deadline, const char **why)
{
	return endpoint_connect(policy_base, server,
	    bare_prefix, deadline, "a policy server", why);
}

/* exchange - send req, read the reply up to its empty line. */
static int
exchange(int fd, const char *req, size_t len, long deadline,
    struct buf *reply, const char **why)
{
	char chunk[4096];

	if (endpoint_send(policy_base, fd, req, len, deadline,
	    "a policy server", why) < 0)
		return -1;
	for (;;) {
		const char *s = buf_str(reply);
		ssize_t n;

		if (*s == '\n' || strstr(s, "\n\n"))
			return 0;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n > 0) {
			if (buf_len(reply) + (size_t)n > POLICY_REPLY_MAX) {
				*why = "reply too long";
				return -1;
			}
			buf_append(reply, chunk, (size_t)n);
			continue;
		}
		if (n == 0) {
			*why = "connection closed";
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (endpoint_wait(policy_base, fd, POLLIN,
		    deadline, "a policy server", why) < 0)
			return -1;
	}
}

/* checkout - a usable cached connection to server, or NULL. */
static struct pconn *
checkout(const char *server, long max_idle, long max_ttl)
{
	time_t now = time(NULL);

	for (struct pconn **pp = &idle; *pp;) {
		struct pconn *c = *pp;
		int stale = now - c->used >= max_idle || now - c->created >= max_ttl;

		if (!stale) {
			/* Readable while idle: closed by the server (or garbage). */
			struct pollfd p = {.fd = c->fd, .events = POLLIN};

			stale = poll(&p, 1, 0) != 0;
		}
		if (stale) {
			*pp = c->next;
			close(c->fd);
			free(c->server);
			free(c);
			continue;
		}
		if (strcmp(c->server, server) == 0) {
			*pp = c->next;
			c->next = NULL;
			return c;
		}
		pp = &c->next;
	}
	return NULL;
}

static void
pconn_free(struct pconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->server);
	free(c);
}

static void
add_attr(struct buf *b, const char *name, const char *value)
{
	char *v = xstrdup(value ? value : "");

	/* A newline would end the attribute (or the request). */
	for (char *cp = v; *cp; cp++)
		if (*cp == '\n' || *cp == '\r')
			*cp = ' ';
	buf_printf(b, "%s=%s\n", name, v);
	free(v);
}

/* add_xtext - an attribute whose value is xtext (RFC 3461): "+" and
 * "=", blanks and what is not printable ASCII as "+XX". */
static void
add_xtext(struct buf *b, const char *name, const char *value)
{
	struct buf *v = buf_new(64, BUF_NOLIMIT);

	for (const unsigned char *cp = (const unsigned char *)(value ? value
	    : ""); *cp; cp++) {
		if (*cp < 33 || *cp > 126 || *cp == '+' || *cp == '=')
			buf_printf(v, "+%02X", *cp);
		else
			buf_putc(v, (char)*cp);
	}
	add_attr(b, name, buf_str(v));
	buf_free(&v);
}

static void
build_request(struct smtpd_check_ctx *ctx, const char *context,
    struct buf *b)
{
	const struct smtpd_check_session *s = ctx->s;
	char num[32];

	add_attr(b, "request", "smtpd_access_policy");
	add_attr(b, "protocol_state", ctx->stage);
	add_attr(b, "protocol_name", s->protocol ? s->protocol : "SMTP");
	add_attr(b, "helo_name", ctx->helo);
	add_attr(b, "queue_id", s->queue_id);
	add_attr(b, "sender", ctx->sender);
	add_attr(b, "recipient", ctx->rcpt);
	snprintf(num, sizeof(num), "%d", s->rcpt_count);
	add_attr(b, "recipient_count", num);
	add_attr(b, "client_address", s->client_addr);
	add_attr(b, "client_name", s->client_name ? s->client_name : "unknown");
	add_attr(b, "reverse_client_name", s->reverse_name ? s->reverse_name
	    : s->client_name ? s->client_name : "unknown");
	add_attr(b, "instance", s->instance);
	add_attr(b, "sasl_method", s->sasl_method ? s->sasl_method : "");
	add_attr(b, "sasl_username", s->sasl_username ? s->sasl_username : "");
	add_attr(b, "sasl_sender", s->sasl_sender ? s->sasl_sender : "");
	snprintf(num, sizeof(num), "%ld", s->size);
	add_attr(b, "size", num);
	/* As Postfix: the names (xtext) of a verified certificate only, the
	 * fingerprints of any. */
	add_xtext(b, "ccert_subject", s->ccert_trusted ? s->ccert_subject : "");
	add_xtext(b, "ccert_issuer", s->ccert_trusted ? s->ccert_issuer : "");
	add_attr(b, "ccert_fingerprint", s->ccert_fingerprint);
	add_attr(b, "ccert_pubkey_fingerprint", s->ccert_pkey_fingerprint);
	add_attr(b, "encryption_protocol", s->tls_protocol ? s->tls_protocol : "");
	add_attr(b, "encryption_cipher", s->tls_cipher ? s->tls_cipher : "");
	snprintf(num, sizeof(num), "%d", s->tls_bits);
	add_attr(b, "encryption_keysize", num);
	add_attr(b, "etrn_domain", ctx->etrn ? ctx->etrn : "");
	add_attr(b, "stress", "");
	add_attr(b, "client_port", s->client_port);
	add_attr(b, "policy_context", context);
	add_attr(b, "server_address", s->server_addr);
	add_attr(b, "server_port", s->server_port);
	add_attr(b, "compatibility_level", var_compatibility_level);
	add_attr(b, "mail_version", var_mail_version);
	buf_printf(b, "\n");
}

/* reply_action - the value of the "action" attribute, or NULL. */
static char *
reply_action(const char *reply)
{
	const char *cp = reply;

	while (*cp && *cp != '\n') {
		size_t len = strcspn(cp, "\n");

		if (len > 7 && strncmp(cp, "action=", 7) == 0) {
			char *v = xstrdup(cp + 7);

			v[len - 7] = 0;
			if (len > 7 && v[len - 8] == '\r')
				v[len - 8] = 0;
			return v;
		}
		cp += len;
		if (*cp == '\n')
			cp++;
	}
	return NULL;
}

static long
opt_or(long opt, long param_value)
{
	return opt >= 0 ? opt : param_value;
}

int
smtpd_check_policy(struct smtpd_check_ctx *ctx, const char *arg,
    const char *name, const char *class)
{
	struct smtpd_policy_opts o;
	char *why = smtpd_restrict_policy_parse(arg, &o);
	long timeout, max_idle, max_ttl, request_limit, try_limit, retry_delay;
	struct buf *req, *reply;
	char *action = NULL, *problem = NULL;
	int rc;

	if (why) {
		char *text = concatenate("check_policy_service ", arg, ": ", why,
		    (char *)0);

		rc = smtpd_check_config_error(ctx, text);
		free(text);
		free(why);
		smtpd_restrict_policy_free(&o);
		return rc;
	}
	timeout = opt_or(o.timeout, var_smtpd_policy_service_timeout);
	max_idle = opt_or(o.max_idle, var_smtpd_policy_service_max_idle);
	max_ttl = opt_or(o.max_ttl, var_smtpd_policy_service_max_ttl);
	request_limit = o.request_limit >= 0 ? o.request_limit
	    : var_smtpd_policy_service_request_limit;
	try_limit = o.try_limit >= 0 ? o.try_limit
	    : var_smtpd_policy_service_try_limit;
	retry_delay = opt_or(o.retry_delay, var_smtpd_policy_service_retry_delay);
	if (try_limit < 1)
		try_limit = 1;

	req = buf_new(1024, 0);
	build_request(ctx, o.policy_context ? o.policy_context
	    : var_smtpd_policy_service_policy_context, req);
	reply = buf_new(256, 0);
	for (long t = 0; t < try_limit && action == NULL; t++) {
		struct pconn *c;
		const char *err = "no reply";
		long deadline;

		if (t > 0 && retry_delay > 0)
			pause_for(retry_delay);
		c = checkout(o.server, max_idle, max_ttl);
		buf_reset(reply);
		deadline = endpoint_now_ms() + timeout * 1000;
		if (c == NULL) {
			int fd = smtpd_check_connect(o.server, "private/", deadline,
			    &err);

			if (fd >= 0) {
				c = xcalloc(1, sizeof(*c));
				c->server = xstrdup(o.server);
				c->fd = fd;
				c->created = time(NULL);
			}
		}
		if (c && exchange(c->fd, buf_str(req), buf_len(req), deadline,
		    reply, &err) == 0) {
			action = reply_action(buf_str(reply));
			if (action == NULL)
				err = "reply without an action attribute";
		}
		free(problem);
		problem = concatenate("problem talking to server ", o.server, ": ",
		    err, (char *)0);
		if (c == NULL)
			continue;
		if (action == NULL) {
			pconn_free(c);
			continue;
		}
		c->used = time(NULL);
		c->requests++;
		if (request_limit > 0 && c->requests >= request_limit) {
			pconn_free(c);
		} else {
			c->next = idle;
			idle = c;
		}
	}
	buf_free(&req);
	buf_free(&reply);
	if (action == NULL) {
		msg_warn("%s", problem);
		action = xstrdup(o.default_action ? o.default_action
		    : var_smtpd_policy_service_default_action);
	}
	free(problem);
	{
		char *table = concatenate("check_policy_service ", o.server,
		    (char *)0);

		rc = smtpd_check_access_result(ctx, table, action, name, class);
		free(table);
	}
	free(action);
	smtpd_restrict_policy_free(&o);
	return rc;
}

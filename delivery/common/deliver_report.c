/* SPDX-License-Identifier: MIT */
/* deliver_report - the outcome of each leaf delivery: one log line in
 * Postfix's shape, and the recipient's combined result (a deferral wins
 * over a bounce, a bounce over a success; the first text of the winning
 * class is kept).  Also the per-request duplicate filter.
 *
 * Log line: "ID: to=<rcpt>, orig_to=<orig>, relay=local, delay=D,
 * delays=a/b/c/d, dsn=X.Y.Z, status=sent (text)" where a = before qmgr,
 * b = in qmgr, c = opening the queue file, d = the delivery itself. */
#include "postino_config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent_server.h"
#include "delivery.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* What the shared code needs of the agent's configuration (filled by
 * the agent at start: local.c, virtual.c). */
struct delivery_conf delivery_conf = {.relay_name = "local"};

/* local_now - wall-clock time in seconds with microseconds. */
double
local_now(void)
{
	return agent_server_now();
}

/* local_format_delay - 2 significant digits, at most 2 decimals, whole
 * numbers from 10 s up, trailing zeros dropped. */
void
local_format_delay(char *out, size_t len, double t)
{
	char *dot, *end;

	if (!(t > 0))
		t = 0;
	if (t >= 10)
		snprintf(out, len, "%.0f", floor(t));
	else if (t >= 1)
		snprintf(out, len, "%.1f", floor(t * 10) / 10);
	else
		snprintf(out, len, "%.2f", floor(t * 100) / 100);
	if ((dot = strchr(out, '.')) != NULL) {
		end = out + strlen(out);
		while (end > dot && (end[-1] == '0' || end[-1] == '.')) {
			int was_dot = (end[-1] == '.');

			*--end = 0;
			if (was_dot)
				break;
		}
	}
}

void
local_log_line(struct local_msg *msg, const char *to, const char *orig,
    const char *dsn, const char *status, const char *text)
{
	double now = local_now();
	double arrival = msg->dr->arrival;
	char d[32], a[32], b[32], c[32], e[32];
	double t_conn = msg->t_conn > 0 ? msg->t_conn : msg->t_start;

	local_format_delay(d, sizeof(d), now - arrival);
	local_format_delay(a, sizeof(a), msg->t_active - arrival);
	local_format_delay(b, sizeof(b), msg->t_start - msg->t_active);
	local_format_delay(c, sizeof(c), t_conn - msg->t_start);
	local_format_delay(e, sizeof(e), now - t_conn);
	if (orig && *orig && strcasecmp(orig, to) != 0)
		msg_info("%s: to=<%s>, orig_to=<%s>, relay=%s, delay=%s, "
		    "delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		    msg->dr->queue_id, to, orig, delivery_conf.relay_name, d, a, b, c,
		    e, dsn, deliver_log_status(msg->dr->verify, status), text);
	else
		msg_info("%s: to=<%s>, relay=%s, delay=%s, "
		    "delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		    msg->dr->queue_id, to, delivery_conf.relay_name, d, a, b, c, e, dsn,
		    deliver_log_status(msg->dr->verify, status), text);
}

void
local_report(struct local_ctx *ctx, enum local_stat stat, const char *dsn,
    const char *fmt, ...)
{
	struct buf *text = buf_new(128, 4096);
	static const char *const words[] = {"sent", "bounced", "deferred"};
	va_list ap;

	va_start(ap, fmt);
	if (buf_vprintf(text, fmt, ap) < 0) {
		/* Over the limit: keep what fits. */
		buf_truncate(text, 0);
		buf_puts(text, "(status text too long)");
	}
	va_end(ap);
	/* A status text is one line. */
	for (char *cp = text->data; *cp; cp++)
		if (*cp == '\n' || *cp == '\r' || *cp == '\t')
			*cp = ' ';
	local_log_line(ctx->msg, ctx->rcpt, ctx->orig_rcpt, dsn, words[stat],
	    buf_str(text));
	local_result_record(ctx, stat, dsn, buf_str(text));
	buf_free(&text);
}

void
local_result_record(struct local_ctx *ctx, enum local_stat stat,
    const char *dsn, const char *text)
{
	struct local_result *res = ctx->res;

	if (res->leaves == 0 || stat > res->stat) {
		res->stat = stat;
		strlcpy(res->dsn, dsn, sizeof(res->dsn));
		buf_set(res->text, text);
	}
	res->leaves++;
}

/* local_dup_seen - the duplicate filter (duplicate_filter_limit). */
int
local_dup_seen(struct local_msg *msg, const char *kind, const char *key)
{
	char *k = concatenate(kind, ":", key, (char *)0);
	int seen = 0;

	if (htable_locate(msg->dups, k) != NULL) {
		seen = 1;
		msg->dup_hits++;
	}
	else if (delivery_conf.dup_limit <= 0
	    || (long)msg->dups->used < delivery_conf.dup_limit)
		htable_enter(msg->dups, k, (void *)1);
	free(k);
	return seen;
}

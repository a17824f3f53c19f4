/* SPDX-License-Identifier: MIT */
/* deliver_request - (de)serialise the qmgr -> delivery agent request and
 * the agent's per-recipient status (attribute lists, attr.h).
 *
 * Nothing received is trusted: numbers are parsed strictly, strings are
 * bounded, the queue ID is [0-9A-F]+, and the queue file path must be
 * "$queue_directory/<queue>/<queue_id>" with <queue> made of [a-z]. */
#include "postino_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_request.h"
#include "mail_conf.h"
#include "mail_queue.h"
#include "mymalloc.h"
#include "stringops.h"

#define DR_MAX_TEXT	4096		/* addresses, names, one field */
#define DR_MAX_REPLY	(64 * 1024)	/* status text */

static void
add_opt(struct attr_list *al, const char *name, const char *value)
{
	if (value != NULL)
		attr_add(al, name, value);
}

void
deliver_request_to_attr(const struct deliver_request *dr,
    struct attr_list *al)
{
	attr_add(al, "request", "deliver");
	attr_addf(al, "request_id", "%ld", dr->request_id);
	attr_add(al, "queue_id", dr->queue_id);
	attr_add(al, "queue_path", dr->queue_path);
	attr_add(al, "sender", dr->sender ? dr->sender : "");
	attr_addf(al, "arrival", "%.6f", dr->arrival);
	attr_addf(al, "content_offset", "%lld", (long long)dr->content_offset);
	attr_addf(al, "content_len", "%lld", (long long)dr->content_len);
	add_opt(al, "nexthop", dr->nexthop);
	add_opt(al, "client_address", dr->client_address);
	add_opt(al, "client_name", dr->client_name);
	add_opt(al, "client_helo", dr->client_helo);
	add_opt(al, "client_protocol", dr->client_protocol);
	add_opt(al, "client_port", dr->client_port);
	add_opt(al, "rewrite_context", dr->rewrite_context);
	add_opt(al, "dsn_envid", dr->dsn_envid);
	add_opt(al, "dsn_ret", dr->dsn_ret);
	if (dr->redelivery)
		attr_add(al, "redelivery", "1");
	if (dr->verify)
		attr_add(al, "verify", "1");
	for (int i = 0; i < dr->rcpt_count; i++) {
		char name[48];

		snprintf(name, sizeof(name), "rcpt_%d", i);
		attr_add(al, name, dr->rcpt[i].address);
		snprintf(name, sizeof(name), "orig_rcpt_%d", i);
		attr_add(al, name, dr->rcpt[i].orig_rcpt ? dr->rcpt[i].orig_rcpt : "");
		snprintf(name, sizeof(name), "rcpt_offset_%d", i);
		attr_addf(al, name, "%lld", (long long)dr->rcpt[i].offset);
		snprintf(name, sizeof(name), "dsn_notify_%d", i);
		attr_addf(al, name, "%d", dr->rcpt[i].dsn_notify);
	}
	attr_addf(al, "rcpt_count", "%d", dr->rcpt_count);
}

/* get_num - strict non-negative decimal, at most max. */
static int
get_num(const struct attr_list *al, const char *name, long max, long *val_r)
{
	const char *v = attr_get(al, name);

	if (v == NULL || !alldig(v) || strlen(v) > 18
	    || str_to_long(v, val_r) < 0 || *val_r > max)
		return -1;
	return 0;
}

/* get_str - bounded copy; absent gives def (NULL allowed). */
static int
get_str(const struct attr_list *al, const char *name, const char *def,
    size_t max, char **val_r)
{
	const char *v = attr_get(al, name);

	if (v == NULL) {
		*val_r = def ? xstrdup(def) : NULL;
		return def ? 0 : -1;
	}
	if (strlen(v) > max)
		return -1;
	*val_r = xstrdup(v);
	return 0;
}

static int
valid_queue_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (const char *cp = id; *cp; cp++)
		if (!((*cp >= '0' && *cp <= '9') || (*cp >= 'A' && *cp <= 'F')))
			return 0;
	return 1;
}

/* local_queue_path - the sender's "<dir>/<queue>/<id>" as a path under
 * OUR queue_directory (malloc'd), or NULL when it is not of that form.
 * Only the queue name and the ID are taken from the request: a chrooted
 * qmgr sees the queue as "/", an agent outside the chroot as
 * $queue_directory, and neither opens a directory the other named. */
static char *
local_queue_path(const char *path, const char *id)
{
	size_t plen = strlen(path), ilen = strlen(id);
	const char *q, *end;
	char *queue, *out;

	if (path[0] != '/' || plen < ilen + 3 || strcmp(path + plen - ilen, id) != 0
	    || path[plen - ilen - 1] != '/')
		return NULL;
	end = path + plen - ilen - 1;
	for (q = end; q > path && q[-1] != '/'; q--)
		if (q[-1] < 'a' || q[-1] > 'z')
			return NULL;
	if (q == end)
		return NULL;
	queue = xstrndup(q, (size_t)(end - q));
	/* Only a real queue: "../../etc/ID" names no queue of ours. */
	out = NULL;
	for (const char *const *qn = mail_queue_names; *qn; qn++)
		if (strcmp(*qn, queue) == 0) {
			out = mail_queue_path(queue, id);
			break;
		}
	free(queue);
	return out;
}

static int
parse_arrival(const char *v, double *t_r)
{
	char *end;
	double t;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	t = strtod(v, &end);
	if (*end != 0 || !isfinite(t) || t < 0)
		return -1;
	*t_r = t;
	return 0;
}

struct deliver_request *
deliver_request_from_attr(const struct attr_list *al, const char **err_r)
{
	struct deliver_request *dr = xcalloc(1, sizeof(*dr));
	char *v_path = NULL;
	const char *v;
	long n;

#define BAD(text) do { *err_r = (text); goto bad; } while (0)

	*err_r = "";
	if ((v = attr_get(al, "request")) == NULL || strcmp(v, "deliver") != 0)
		BAD("not a delivery request");
	if (get_num(al, "request_id", 0x7fffffffL, &n) < 0)
		BAD("bad request_id");
	dr->request_id = n;
	if (get_str(al, "queue_id", NULL, 64, &dr->queue_id) < 0
	    || !valid_queue_id(dr->queue_id))
		BAD("bad queue_id");
	if (get_str(al, "queue_path", NULL, DR_MAX_TEXT, &v_path) < 0
	    || (dr->queue_path = local_queue_path(v_path, dr->queue_id)) == NULL) {
		free(v_path);
		BAD("bad queue_path (not a queue file in the queue directory)");
	}
	free(v_path);
	if (get_str(al, "sender", NULL, DR_MAX_TEXT, &dr->sender) < 0)
		BAD("bad sender");
	if (parse_arrival(attr_get(al, "arrival"), &dr->arrival) < 0)
		BAD("bad arrival time");
	if (get_num(al, "content_offset", 0x7fffffffffffL, &n) < 0)
		BAD("bad content_offset");
	dr->content_offset = (off_t)n;
	if (get_num(al, "content_len", 0x7fffffffffffL, &n) < 0)
		BAD("bad content_len");
	dr->content_len = (off_t)n;
	if (get_str(al, "nexthop", "", DR_MAX_TEXT, &dr->nexthop) < 0
	    || get_str(al, "client_address", "", DR_MAX_TEXT, &dr->client_address) < 0
	    || get_str(al, "client_name", "", DR_MAX_TEXT, &dr->client_name) < 0
	    || get_str(al, "client_helo", "", DR_MAX_TEXT, &dr->client_helo) < 0
	    || get_str(al, "client_protocol", "", DR_MAX_TEXT, &dr->client_protocol) < 0
	    || get_str(al, "client_port", "", DR_MAX_TEXT, &dr->client_port) < 0
	    || get_str(al, "rewrite_context", "", DR_MAX_TEXT, &dr->rewrite_context) < 0
	    || get_str(al, "dsn_envid", "", DR_MAX_TEXT, &dr->dsn_envid) < 0
	    || get_str(al, "dsn_ret", "", DR_MAX_TEXT, &dr->dsn_ret) < 0)
		BAD("oversized text attribute");
	if ((v = attr_get(al, "redelivery")) != NULL) {
		if (strcmp(v, "1") != 0)
			BAD("bad redelivery");
		dr->redelivery = 1;
	}
	if ((v = attr_get(al, "verify")) != NULL) {
		if (strcmp(v, "1") != 0)
			BAD("bad verify");
		dr->verify = 1;
	}
	if (get_num(al, "rcpt_count", ATTR_MAX_COUNT / 4, &n) < 0 || n == 0)
		BAD("bad rcpt_count");
	dr->rcpt = xcalloc((size_t)n, sizeof(*dr->rcpt));
	for (int i = 0; i < n; i++) {
		struct deliver_rcpt *r = dr->rcpt + i;
		char name[48];
		long num;

		dr->rcpt_count = i + 1;
		snprintf(name, sizeof(name), "rcpt_%d", i);
		if (get_str(al, name, NULL, DR_MAX_TEXT, &r->address) < 0
		    || *r->address == 0)
			BAD("missing or bad recipient");
		snprintf(name, sizeof(name), "orig_rcpt_%d", i);
		if (get_str(al, name, "", DR_MAX_TEXT, &r->orig_rcpt) < 0)
			BAD("bad original recipient");
		snprintf(name, sizeof(name), "rcpt_offset_%d", i);
		if (get_num(al, name, 0x7fffffffffffL, &num) < 0)
			BAD("bad recipient offset");
		r->offset = (off_t)num;
		snprintf(name, sizeof(name), "dsn_notify_%d", i);
		if (attr_get(al, name) == NULL)
			num = 0;
		else if (get_num(al, name, 0xff, &num) < 0)
			BAD("bad dsn_notify");
		r->dsn_notify = (int)num;
	}
	return dr;

bad:
	deliver_request_free(&dr);
	return NULL;
#undef BAD
}

void
deliver_request_free(struct deliver_request **drp)
{
	struct deliver_request *dr = *drp;

	if (dr == NULL)
		return;
	free(dr->queue_id);
	free(dr->queue_path);
	free(dr->sender);
	free(dr->nexthop);
	free(dr->client_address);
	free(dr->client_name);
	free(dr->client_helo);
	free(dr->client_protocol);
	free(dr->client_port);
	free(dr->rewrite_context);
	free(dr->dsn_envid);
	free(dr->dsn_ret);
	for (int i = 0; i < dr->rcpt_count; i++) {
		free(dr->rcpt[i].address);
		free(dr->rcpt[i].orig_rcpt);
	}
	free(dr->rcpt);
	free(dr);
	*drp = NULL;
}

void
deliver_status_to_attr(long request_id, const struct deliver_status *ds,
    struct attr_list *al)
{
	attr_addf(al, "request_id", "%ld", request_id);
	attr_addf(al, "rcpt_index", "%d", ds->rcpt_index);
	attr_add(al, "dsn", ds->dsn);
	attr_add(al, "status", ds->status);
	attr_add(al, "action", ds->action);
	attr_add(al, "text", ds->text ? ds->text : "");
	add_opt(al, "relay", ds->relay);
	if (ds->dsn_passed)
		attr_add(al, "dsn_passed", "1");
}

/* one_of - the static string in list equal to v, or NULL. */
static const char *
one_of(const char *v, const char *const *list)
{
	for (; v && *list; list++)
		if (strcmp(v, *list) == 0)
			return *list;
	return NULL;
}

/* valid_dsn - "[245].N{1,3}.N{1,3}". */
static int
valid_dsn(const char *v)
{
	int parts = 0, digits = 0;

	if (v == NULL || (*v != '2' && *v != '4' && *v != '5') || v[1] != '.')
		return 0;
	for (const char *cp = v; ; cp++) {
		if (*cp >= '0' && *cp <= '9') {
			if (++digits > 3)
				return 0;
		} else if (*cp == '.' || *cp == 0) {
			if (digits == 0)
				return 0;
			parts++;
			digits = 0;
			if (*cp == 0)
				break;
		} else {
			return 0;
		}
	}
	return parts == 3;
}

struct deliver_status *
deliver_status_from_attr(const struct attr_list *al, long *request_id_r,
    const char **err_r)
{
	static const char *const statuses[] = { "sent", "deferred", "bounced", NULL };
	static const char *const actions[] = { "delivered", "relayed", "failed",
	    "delayed", "expanded", NULL };
	struct deliver_status *ds = xcalloc(1, sizeof(*ds));
	const char *dsn = attr_get(al, "dsn");
	long n;

#define BAD(text) do { *err_r = (text); goto bad; } while (0)

	*err_r = "";
	if (get_num(al, "request_id", 0x7fffffffL, &n) < 0)
		BAD("bad request_id");
	*request_id_r = n;
	if (get_num(al, "rcpt_index", ATTR_MAX_COUNT, &n) < 0)
		BAD("bad rcpt_index");
	ds->rcpt_index = (int)n;
	if (!valid_dsn(dsn) || strlen(dsn) >= sizeof(ds->dsn))
		BAD("bad dsn");
	strlcpy(ds->dsn, dsn, sizeof(ds->dsn));
	if ((ds->status = one_of(attr_get(al, "status"), statuses)) == NULL)
		BAD("bad status");
	if ((ds->action = one_of(attr_get(al, "action"), actions)) == NULL)
		BAD("bad action");
	if (get_str(al, "text", "", DR_MAX_REPLY, &ds->text) < 0)
		BAD("oversized text");
	if (get_str(al, "relay", "", DR_MAX_TEXT, &ds->relay) < 0)
		BAD("oversized relay");
	ds->dsn_passed = attr_get(al, "dsn_passed") != NULL;
	return ds;

bad:
	deliver_status_free(&ds);
	return NULL;
#undef BAD
}

void
deliver_status_free(struct deliver_status **dsp)
{
	struct deliver_status *ds = *dsp;

	if (ds == NULL)
		return;
	free(ds->text);
	free(ds->relay);
	free(ds);
	*dsp = NULL;
}

const char *
deliver_log_status(int verify, const char *status)
{
	if (!verify)
		return status;
	if (strcmp(status, "sent") == 0)
		return "deliverable";
	if (strcmp(status, "bounced") == 0)
		return "undeliverable";
	return status;
}

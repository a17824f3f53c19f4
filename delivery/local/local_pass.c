/* SPDX-License-Identifier: MIT */
/* local_pass - mailbox_transport and fallback_transport: local(8) hands
 * the recipient it is delivering to another delivery agent, as Postfix's
 * deliver_pass does.  "lmtp:unix:private/dovecot-lmtp" sends it to
 * $queue_directory/private/lmtp with next hop unix:private/dovecot-lmtp;
 * that agent delivers (and logs the delivery line), and its status
 * becomes this recipient's result.  One request, one recipient: the same
 * queue file, sender and offsets, the address being delivered and the
 * top-level original recipient.
 *
 * The wait for the other agent is a blocking read (local serves one
 * request at a time) bounded by ipc_timeout; a failure to reach it or a
 * broken answer defers the recipient. */
#include "postino_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "deliver_request.h"
#include "local.h"
#include "mail_public.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* Longest wait for the other agent's answer when ipc_timeout is unset. */
#define LOCAL_PASS_TIMEOUT	3600

void
local_pass(struct local_ctx *ctx, const char *spec, const char *param)
{
	struct deliver_request *dr = ctx->msg->dr, req;
	struct deliver_rcpt rcpt;
	struct attr_list *al = attr_list_new();
	struct buf *in = buf_new(1024, 0);
	char *transport, *nexthop, *colon;
	const char *err = "";
	long timeout = var_ipc_timeout > 0 ? var_ipc_timeout : LOCAL_PASS_TIMEOUT;
	int fd = -1, got = 0, done = 0;
	enum local_stat stat = LOCAL_DEFER;
	char dsn[16] = "4.3.0";
	char *text = NULL;

	transport = xstrdup(spec);
	if ((colon = strchr(transport, ':')) != NULL) {
		*colon = 0;
		nexthop = xstrdup(colon + 1);
	} else {
		nexthop = xstrdup("");
	}
	if (*nexthop == 0) {
		free(nexthop);
		nexthop = xstrdup(local_conf.myhostname);
	}
	if (*transport == 0 || strchr(transport, '/') != NULL) {
		local_report(ctx, LOCAL_DEFER, "4.3.5",
		    "mail system configuration error (%s = %s)", param, spec);
		goto out;
	}
	if ((fd = mail_private_connect(transport, 0)) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "mail transport unavailable: %s: connect to private/%s: %s",
		    param, transport, strerror(errno));
		goto out;
	}
	req = *dr;
	req.nexthop = nexthop;
	req.rcpt_count = 1;
	req.rcpt = &rcpt;
	rcpt = dr->rcpt[ctx->rcpt_index];
	rcpt.address = UNCONST(ctx->rcpt);
	rcpt.orig_rcpt = UNCONST(ctx->orig_rcpt ? ctx->orig_rcpt : "");
	deliver_request_to_attr(&req, al);
	if (attr_write(fd, al) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "mail transport unavailable: write to private/%s: %s",
		    transport, strerror(errno));
		goto out;
	}
	/* One status, then done=1. */
	while (!done) {
		int rc = attr_read(fd, in, al, (int)(timeout * 1000), &err);

		if (rc != 1)
			break;
		if (attr_get(al, "done")) {
			done = 1;
		} else if (!got) {
			long rid;
			struct deliver_status *ds = deliver_status_from_attr(al, &rid, &err);

			if (ds == NULL || rid != dr->request_id || ds->rcpt_index != 0)
				break;
			stat = strcmp(ds->status, "sent") == 0 ? LOCAL_SENT
			    : strcmp(ds->status, "bounced") == 0 ? LOCAL_BOUNCE : LOCAL_DEFER;
			strlcpy(dsn, ds->dsn, sizeof(dsn));
			text = xstrdup(ds->text ? ds->text : "");
			got = 1;
			deliver_status_free(&ds);
		}
	}
	if (got) {
		/* The other agent logged the delivery: record it only. */
		local_result_record(ctx, stat, dsn, text);
	} else {
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "mail transport unavailable: no answer from private/%s%s%s",
		    transport, *err ? ": " : "", err);
	}
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(transport);
	free(nexthop);
	attr_list_free(&al);
	buf_free(&in);
}

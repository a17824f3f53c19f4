/* SPDX-License-Identifier: MIT */
/* deliver_request - qmgr <-> delivery agent protocol over attribute lists
 * (attr.h), one persistent connection per agent process.
 *
 * Request (qmgr -> agent):
 *   request=deliver, request_id=N, queue_id=ID, queue_path=PATH,
 *   sender=ADDR, arrival=SEC.USEC, content_offset=N, content_len=N,
 *   nexthop=..., client_address=..., client_name=..., client_helo=...,
 *   client_protocol=..., client_port=..., rewrite_context=local|remote,
 *   dsn_envid=..., dsn_ret=...,
 *   dest_backlog=1 (only when set: more mail for this destination waits
 *   in qmgr, so an smtp/lmtp agent keeps its session open for it),
 *   redelivery=1 (only when set: the message was handed to an agent
 *   before, and that attempt's outcome may not have been recorded, so
 *   an agent that can recognise a copy it already made must look),
 *   verify=1 (only when set: an address verification probe, see
 *   core/verify/verify.c: decide each recipient's fate -- smtp/lmtp up
 *   to the RCPT TO reply, local/virtual up to the mailbox, command or
 *   file an address resolves to -- and report it as the status, "sent"
 *   meaning deliverable, without delivering anything),
 *   then per recipient i (0-based): rcpt_i=ADDR, orig_rcpt_i=ADDR,
 *   rcpt_offset_i=N, dsn_notify_i=N; rcpt_count=N.
 * Reply (agent -> qmgr), one per recipient:
 *   request_id=N, rcpt_index=i, dsn=X.Y.Z, status=sent|deferred|bounced,
 *   action=delivered|relayed|failed|delayed|expanded, text=..., relay=...
 * then a final list: request_id=N, done=1, optionally with the agent's
 * word on the destination as a whole (smtp, lmtp; qmgr's concurrency
 * feedback, core/qmgr/qmgr_feedback.h): dest_status=ok (a session was
 * established) or dest_status=dead, dest_reason=TEXT (no server reached,
 * all greeted 4xx, DNS failure; TEXT may begin with a 4.X.Y status).
 *
 * Agents treat every field as untrusted (bounded lengths, numbers parsed
 * strictly, the queue path must be inside $queue_directory). */
#ifndef POSTINO_MAIL_DELIVER_REQUEST_H
#define POSTINO_MAIL_DELIVER_REQUEST_H

#include <sys/types.h>

#include "attr.h"

struct deliver_rcpt {
	char *address;
	char *orig_rcpt;
	off_t offset;
	int dsn_notify;
};

struct deliver_request {
	long request_id;
	char *queue_id;
	char *queue_path;
	char *sender;
	double arrival;
	off_t content_offset;
	off_t content_len;
	char *nexthop;
	char *client_address;
	char *client_name;
	char *client_helo;
	char *client_protocol;
	char *client_port;
	char *rewrite_context;	/* "local", "remote" or "" */
	char *dsn_envid;
	char *dsn_ret;
	int redelivery;		/* an earlier attempt may have delivered */
	int verify;		/* an address verification probe */
	int rcpt_count;
	struct deliver_rcpt *rcpt;
};

/* deliver_request_to_attr / _from_attr - (de)serialise; from_attr returns
 * NULL with *err_r for a malformed request. */
void deliver_request_to_attr(const struct deliver_request *dr,
    struct attr_list *al);
struct deliver_request *deliver_request_from_attr(const struct attr_list *al,
    const char **err_r);
void deliver_request_free(struct deliver_request **drp);

/* deliver_log_status - the status word of a delivery log line: status
 * itself, or for an address verification probe (dr->verify, or verify
 * set) "deliverable" for sent and "undeliverable" for bounced, as
 * Postfix logs probes (so that log tools never count a probe as mail). */
const char *deliver_log_status(int verify, const char *status);

/* deliver_status - one recipient's outcome. */
struct deliver_status {
	int rcpt_index;
	char dsn[16];		/* "2.0.0" */
	const char *status;	/* "sent", "deferred", "bounced" */
	const char *action;	/* "delivered", "relayed", "failed", "delayed" */
	char *text;		/* "delivered to maildir", remote reply, reason */
	char *relay;		/* "local", "virtual", host[addr]:port */
	int dsn_passed;		/* sent to a next hop that took NOTIFY
				 * over (it supports DSN): no success
				 * notice from us ("dsn_passed=1") */
};

/* deliver_status_to_attr / _from_attr - one reply list.  from_attr
 * checks dsn ([245].x.y), status and action (static strings) and bounds
 * text/relay; NULL with *err_r when malformed.  The final "done=1" list
 * is not a status: test attr_get(al, "done") first. */
void deliver_status_to_attr(long request_id, const struct deliver_status *ds,
    struct attr_list *al);
struct deliver_status *deliver_status_from_attr(const struct attr_list *al,
    long *request_id_r, const char **err_r);
void deliver_status_free(struct deliver_status **dsp);

#endif

/* SPDX-License-Identifier: MIT */
/* verify_clnt - client of the address verification service
 * ($queue_directory/private/$address_verify_service_name,
 * core/verify/verify.c; Postfix's verify(8)).
 *
 * Protocol: one attribute list (attr.h) per request, one per answer, on
 * a connection opened for the request:
 *
 *	request=query address=ADDR
 *		-> status=0 recipient_status=N reason=TEXT
 *	request=update address=ADDR recipient_status=N reason=TEXT
 *		-> status=0
 *
 * status is VRFY_STAT_*; recipient_status is VRFY_ADDR_*.  The service
 * answers a query from its cache and sends a probe message when the
 * address is unknown or its entry is due for a refresh; the delivery
 * outcome of the probe comes back as an update (qmgr sends it).
 *
 * Waiting.  verify_clnt_query() inside a task (task.h) waits for the
 * answer with task_event_wait() on the loop given to
 * verify_clnt_event_base(): the loop serves the other sessions
 * meanwhile.  Outside a task it waits with poll().  Either way at most
 * VRFY_CLNT_TIMEOUT_MS.  verify_clnt_update() never waits: it writes the
 * request on a non-blocking connection and closes it.
 *
 * Logs: warnings "private/verify: connect: REASON", "... query: REASON". */
#ifndef POSTINO_MAIL_VERIFY_CLNT_H
#define POSTINO_MAIL_VERIFY_CLNT_H

/* Request status. */
#define VRFY_STAT_OK		0
#define VRFY_STAT_FAIL		(-1)	/* no service, timeout, bad answer */

/* Address status (the values of Postfix's DEL_RCPT_STAT_*). */
#define VRFY_ADDR_OK		0	/* deliverable */
#define VRFY_ADDR_DEFER		1	/* temporary failure */
#define VRFY_ADDR_BOUNCE	2	/* undeliverable */
#define VRFY_ADDR_TODO		3	/* unknown: a probe is under way */

#define VRFY_CLNT_TIMEOUT_MS	10000
#define VRFY_ADDR_MAX		1024	/* longest address the service takes */

struct event_base;

/* verify_clnt_event_base - wait for answers on base's loop when inside
 * a task (daemons call it once at start). */
void verify_clnt_event_base(struct event_base *base);

/* verify_clnt_query - the status of addr: VRFY_STAT_OK with
 * *addr_status_r (VRFY_ADDR_*) and *reason_r (malloc'd; free it), or
 * VRFY_STAT_FAIL with a warning logged (nothing filled in). */
int verify_clnt_query(const char *addr, int *addr_status_r, char **reason_r);

/* verify_clnt_poll - verify_clnt_query up to count times (at least
 * once), delay_ms apart, while the answer is VRFY_ADDR_TODO: the first
 * query sends the probe, the next ones give it time to come back.  The
 * wait lets the loop run inside a task. */
int verify_clnt_poll(const char *addr, long count, long delay_ms,
    int *addr_status_r, char **reason_r);

/* verify_clnt_update - tell the service the outcome of a probe for addr.
 * VRFY_STAT_OK when the request was written, VRFY_STAT_FAIL (a warning
 * was logged) when the service could not be reached.  Never blocks. */
int verify_clnt_update(const char *addr, int addr_status, const char *reason);

/* verify_clnt_status_name - "deliverable", "undeliverable", ... */
const char *verify_clnt_status_name(int addr_status);

#endif

/* SPDX-License-Identifier: MIT */
/* anvil_clnt - client of the anvil service ($queue_directory/private/
 * anvil, core/anvil/anvil.c): connection counts and request rates per
 * (service, client address), shared by every smtpd process.
 *
 * One connection per process, opened at the first request and kept.
 * Connects can be asynchronous (anvil_clnt_connect_async: the answer
 * comes back through a callback on the event loop) and disconnects are
 * sent without waiting for their answer; the other requests are
 * synchronous: write one attribute list, read the answer, waiting at
 * most the client's timeout.  anvil is local and answers from memory,
 * so a request costs a round trip between two processes; the timeout
 * only bounds the damage of an anvil that is stopped or wedged (for an
 * asynchronous request too: its callback then gets ANVIL_STAT_FAIL).
 * After a failure (no service, timeout, bad answer) the client gives up
 * for ANVIL_CLNT_BACKOFF seconds: every request then fails at once
 * without touching the socket, and one warning says so.  A connection
 * that broke (anvil was restarted) is opened again once before the
 * request is counted as failed.
 *
 * The ident sent to anvil is "service:address", as Postfix's. */
#ifndef POSTINO_MAIL_ANVIL_CLNT_H
#define POSTINO_MAIL_ANVIL_CLNT_H

#define ANVIL_STAT_OK		0
#define ANVIL_STAT_FAIL		(-1)

#define ANVIL_CLNT_SERVICE	"anvil"	/* private/anvil */
#define ANVIL_CLNT_TIMEOUT_MS	1000	/* default per request */
#define ANVIL_CLNT_BACKOFF	10	/* seconds without anvil after a failure */

struct anvil_clnt;

struct event_base;

/* anvil_clnt_cb - the answer to an asynchronous request: status
 * ANVIL_STAT_OK with the numbers, or ANVIL_STAT_FAIL (no answer within
 * the timeout, connection lost; count and rate are 0). */
typedef void (*anvil_clnt_cb)(int status, int count, int rate, void *ctx);

/* anvil_clnt_create - a client of private/SERVICE (the path is built at
 * each connection attempt from queue_directory, so that it follows a
 * chroot).  timeout_ms bounds each request.  Never NULL; connects
 * lazily. */
struct anvil_clnt *anvil_clnt_create(const char *service, int timeout_ms);
void anvil_clnt_free(struct anvil_clnt **clntp);
/* anvil_clnt_event_base - answer asynchronous requests on base's loop
 * (once; needed before anvil_clnt_connect_async). */
void anvil_clnt_event_base(struct anvil_clnt *clnt, struct event_base *base);

/* Each request returns ANVIL_STAT_OK with the numbers filled in, or
 * ANVIL_STAT_FAIL (nothing filled in; a warning was logged, at most once
 * per back-off period).  They block for at most the timeout (twice when
 * the connection has to be opened again). */

/* anvil_clnt_connect - register a connection: connections open now and
 * connections in this time unit, this one included. */
int anvil_clnt_connect(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *count_r, int *rate_r);
/* anvil_clnt_connect_async - anvil_clnt_connect without waiting:
 * ANVIL_STAT_OK when the request went out (cb runs later from the event
 * loop, exactly once, never from inside this or another request), or
 * ANVIL_STAT_FAIL at once (anvil unreachable; cb never runs).  Never
 * blocks on anvil. */
int anvil_clnt_connect_async(struct anvil_clnt *clnt, const char *service,
    const char *addr, anvil_clnt_cb cb, void *ctx);
/* anvil_clnt_disconnect - the connection registered above is over.
 * Sent without waiting for the answer (read before the next request's);
 * never blocks on anvil, and does nothing without a connection (the
 * anvil that counted the connection forgot it with ours). */
int anvil_clnt_disconnect(struct anvil_clnt *clnt, const char *service,
    const char *addr);
/* anvil_clnt_mail, _rcpt, _newtls, _auth - count one MAIL FROM, RCPT
 * TO, new TLS session, AUTH; the rate in this time unit, this one
 * included.  _newtls_stat: the new TLS session rate without counting. */
int anvil_clnt_mail(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r);
int anvil_clnt_rcpt(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r);
int anvil_clnt_newtls(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r);
int anvil_clnt_newtls_stat(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r);
int anvil_clnt_auth(struct anvil_clnt *clnt, const char *service,
    const char *addr, int *rate_r);
/* anvil_clnt_newtls_stat_async - anvil_clnt_newtls_stat without waiting
 * (cb gets the rate on the loop; needs anvil_clnt_event_base).
 * anvil_clnt_newtls_tell - count one new TLS session without waiting
 * for (or reading) the answer. */
int anvil_clnt_newtls_stat_async(struct anvil_clnt *clnt, const char *service,
    const char *addr, anvil_clnt_cb cb, void *ctx);
int anvil_clnt_newtls_tell(struct anvil_clnt *clnt, const char *service,
    const char *addr);

#endif

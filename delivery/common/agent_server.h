/* SPDX-License-Identifier: MIT */
/* agent_server - what the delivery agents (local, virtual) share: the
 * process start (under the master or, for tests, with -S socket), the
 * connection loop that reads delivery requests from qmgr
 * (deliver_request.h) in batches of those already available, and the
 * status replies, written once the batch is committed.
 *
 * Under the master (POSTINO_LISTEN_FDS set) the listening socket is the
 * first one the master passes, and reload/stop follow mail_server.h (the
 * request in hand is always finished first).  Without the master:
 * -c DIR (configuration directory), -o name=value, -S path (listen there),
 * -v (verbose), -1 (serve one connection, then exit).  The agent stays
 * root when started as root (master.cf unpriv=n): it switches to each
 * recipient itself. */
#ifndef POSTINO_DELIVERY_AGENT_SERVER_H
#define POSTINO_DELIVERY_AGENT_SERVER_H

#include "deliver_request.h"

struct agent_server {
	const char *name;	/* "local": program name for logs and usage */
	/* conf_init - read the configuration (after main.cf was read). */
	void (*conf_init)(void);
	/* handle - deliver one request: exactly one agent_server_status()
	 * per recipient on fd.  t_start: the request arrived; t_active: qmgr
	 * picked the message up (0 if unknown). */
	void (*handle)(int fd, struct deliver_request *dr, double t_start,
	    double t_active);
	/* commit - optional: make the batch's deferred writes durable and
	 * fill every status held with agent_server_status_hold().  Called
	 * once per batch, after the last handle() and before any reply of
	 * the batch is written. */
	void (*commit)(void);
};

/* agent_server_main - run the agent; returns the exit status. */
int agent_server_main(int argc, char **argv, const struct agent_server *as);

/* agent_server_status - one recipient's status list to qmgr (written
 * with the batch, after its commit). */
void agent_server_status(int fd, long request_id, int index, const char *dsn,
    const char *status, const char *action, const char *text,
    const char *relay);

/* agent_server_status_hold - reserve the place of one recipient's status
 * in the batch's replies; returns a slot for agent_server_status_fill(),
 * which the commit hook must call (a slot left open is answered
 * "deferred"). */
int agent_server_status_hold(long request_id, int index, const char *relay);
void agent_server_status_fill(int slot, const char *dsn, const char *status,
    const char *action, const char *text);

/* agent_server_now - wall-clock seconds with microseconds. */
double agent_server_now(void);

#endif

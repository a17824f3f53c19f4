/* SPDX-License-Identifier: MIT */
/* endpoint - stream connections to the helper servers main.cf names
 * (milters, policy servers, the Dovecot auth server), as Postfix writes
 * them: "inet:host:port" (host a name, an address or [address]),
 * "unix:path", else a path.  A relative path is under $queue_directory.
 *
 * Every wait ends by a deadline (endpoint_now_ms() milliseconds).
 * Inside a task (task.h) with an event base it is task_event_wait() on
 * that loop, which serves everybody else meanwhile; otherwise poll(),
 * reported by task_blocking(what).  Names in inet: endpoints go through
 * dns_host_addr() (/etc/hosts, then the resolver, in the task). */
#ifndef POSTINO_DNS_ENDPOINT_H
#define POSTINO_DNS_ENDPOINT_H

#include <stddef.h>

struct event_base;

/* endpoint_now_ms - CLOCK_MONOTONIC in milliseconds. */
long endpoint_now_ms(void);

/* endpoint_connect - a connected non-blocking stream socket to spec, or
 * -1 with *why.  With bare_prefix, a name without a type is
 * bare_prefix + name and "type:path" means path; without, a spec that is
 * neither inet: nor unix: is a path as written. */
int endpoint_connect(struct event_base *base, const char *spec,
    const char *bare_prefix, long deadline, const char *what,
    const char **why);

/* endpoint_wait - until fd is ready for events (POLLIN, POLLOUT) or the
 * deadline: 0 ready, -1 with *why ("Connection timed out", as Postfix
 * logs it, or the poll error). */
int endpoint_wait(struct event_base *base, int fd, short events,
    long deadline, const char *what, const char **why);

/* endpoint_send - all len bytes of p by the deadline; 0, or -1 with
 * *why. */
int endpoint_send(struct event_base *base, int fd, const char *p,
    size_t len, long deadline, const char *what, const char **why);

#endif

/* SPDX-License-Identifier: MIT */
/* map_proxy - the client of the lookup service (core/proxymap): the
 * proxy: table type, and the routing of blocking tables (ldap:, mysql:)
 * to the service in daemons.
 *
 * "proxy:TYPE:NAME" is a table whose lookups are requests to the service
 * $queue_directory/private/$proxymap_service_name, which opens TYPE:NAME
 * itself (if proxy_read_maps lists it) and answers from its processes,
 * sharing its result cache with every daemon.  Requests are attribute
 * lists (attr.h):
 *
 *	request=open table=TYPE:NAME flags=N	status=S caps=N [reason=R]
 *	request=lookup table=TYPE:NAME flags=N key=K
 *						status=S [value=V] [reason=R]
 *
 * with S one of the PROXY_STAT_* below.  flags are the MAP_FLAG_* the
 * table was opened with (the service opens one instance per table and
 * flags); keys arrive already folded by map.c.
 *
 * Waiting.  A lookup looks blocking.  Inside a task (task.h), with an
 * event base given to map_proxy_event_base(), the request is written and
 * the task waits (task_wait) for the answer on a libevent event of its
 * socket: the daemon's loop keeps serving everybody else.  Outside a task
 * (tools, start-up, tests) the call blocks in poll().  Each table keeps a
 * few idle connections; a request takes one (or opens one), so that
 * concurrent lookups never wait behind each other in the client and the
 * service sees one request at a time per connection.
 *
 * Failures.  The service unreachable, a broken connection, a timeout
 * (ipc_timeout) or a malformed answer is MAP_TEMPFAIL with a reason --
 * never "not found".  A reused connection that turns out broken (the
 * service restarted or was reloaded) is replaced and the request sent
 * again, once.  A table the service refuses (not in proxy_read_maps) fails
 * to open ("proxymap: request for unapproved table"), or with
 * MAP_FLAG_SURROGATE gives a table whose lookups all fail with that
 * reason.  Tables a daemon opens without "proxy:" (routed) fall back to
 * a direct open instead, with a warning. */
#ifndef POSTINO_MAIL_MAP_PROXY_H
#define POSTINO_MAIL_MAP_PROXY_H

/* Answer status of the service (Postfix's PROXY_STAT_* values). */
#define PROXY_STAT_OK		0	/* found (lookup), opened (open) */
#define PROXY_STAT_NOKEY	1	/* not found */
#define PROXY_STAT_RETRY	2	/* temporary error (reason) */
#define PROXY_STAT_BAD		3	/* malformed request */
#define PROXY_STAT_DENY		4	/* table not in proxy_read_maps */
#define PROXY_STAT_CONFIG	5	/* table cannot be opened (reason) */

/* The refusal text, as Postfix's proxymap logs it. */
#define PROXY_UNAPPROVED	"request for unapproved table"

struct event_base;

/* map_proxy_init - install the proxy: client into map.c (map_proxy_hook).
 * mail_conf_read() calls it: every program that reads main.cf opens
 * proxy: tables through the service.  Idempotent. */
void map_proxy_init(void);

/* map_proxy_event_base - the daemon's loop, on which tasks wait for
 * answers.  NULL (the default): every lookup blocks. */
void map_proxy_event_base(struct event_base *base);

/* map_proxy_open - open "TABLE" (the part after "proxy:") as a client of
 * the service: the open_fn of map_proxy_hook().  routed: the daemon named
 * TABLE without "proxy:" (map_proxy_route); its title stays TABLE, and
 * when the service refuses it (not in proxy_read_maps, e.g. a table named
 * only in a master.cf -o override) it is opened in this process with a
 * warning, as before the service existed. */
struct map *map_proxy_open(const char *table, int open_flags, int flags,
    int routed, char **err_r);

/* map_proxy_approved - does proxy_read_maps name table (TYPE:NAME, with
 * or without "proxy:" prefixes there)?  The service refuses the others;
 * the client checks the same list before it answers in-process. */
int map_proxy_approved(const char *table);

/* map_proxy_local - with on, "proxy:TYPE:NAME" of a type whose lookups
 * never block (unix:, hash:, cidr:, pcre: ...) and that proxy_read_maps
 * approves is opened in this process instead of through the service: the
 * service would add a round trip to every lookup and nothing else.  The
 * daemon skeleton turns it on unless the process chroots, where such a
 * table (unix:passwd.byname) can only be read by the service. */
void map_proxy_local(int on);

#endif

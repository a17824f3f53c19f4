/* SPDX-License-Identifier: MIT */
/* mail_server - what every daemon started by the master has in common:
 * its command line, its configuration, its logging, the listening
 * sockets it inherits, its privileges, and the rules for stopping.
 *
 * THE CONTRACT BETWEEN THE MASTER AND A DAEMON
 *
 * Start.  The master runs $daemon_directory/COMMAND (or the absolute path
 * written in master.cf) as
 *
 *	COMMAND -n SERVICE -t TYPE [-u] [-c] [master.cf arguments...]
 *
 * where TYPE is inet, unix, unix-dgram, fifo or pass, -u means "run as
 * $mail_owner" (unpriv column y) and -c means "chroot to
 * $queue_directory" (chroot column y); both are ignored when the daemon
 * does not start as root.  The master.cf arguments follow: "-o name=value"
 * (already unbraced: "-o { a = b c }" arrives as "-o", "a=b c"), "-v",
 * and anything else the daemon defines.  The configuration directory
 * comes from MAIL_CONFIG (daemons take no -c DIR).  Environment:
 *
 *	POSTINO_LISTEN_FDS=N	listening sockets on fds 3 .. 3+N-1, in the
 *				order the master created them (one per
 *				address for inet services)
 *	POSTINO_SERVICE=NAME	the master.cf service name
 *	MAIL_CONFIG=DIR		the configuration directory
 *
 * and fd 3+N is the status channel (a stream socket to the master).
 * Everything else in the environment was filtered through
 * import_environment.  No other descriptor is open.
 *
 * Life.  A daemon calls, in this order:
 *	mail_server_init(argc, argv, "smtpd");	config, logging, fds
 *	... work that needs root (open files, bind helpers) ...
 *	return mail_server_run(&ops);	the skeleton (below) runs the loop
 * mail_server_run() tells the master the process started (it calls
 * mail_server_ready(): chroot, drop privileges, status 'R') unless the
 * daemon called mail_server_ready() itself for work that must run
 * unprivileged before the loop.  A process that exits before
 * mail_server_ready() counts as a failed start: the master does not
 * restart the service for service_throttle_time.  A process that exits
 * after it (max_idle, max_use, crash, kill -9) is restarted at once.
 *
 * THE SKELETON (mail_server_loop.c, library postino-server)
 *
 * Every long-running daemon is a set of callbacks (struct
 * mail_server_ops) run by one libevent loop that the skeleton owns:
 * mail_server_base() returns it, for the daemon's own events and for
 * libraries that attach to it (when core/dns is linked into the program,
 * the skeleton calls dns_init() on the base as it creates it).  The
 * skeleton watches the listening sockets, the status channel and the
 * signals, and decides when the process exits.
 *
 * Clients.  A connection service (smtpd, showq, anvil, the delivery
 * agents, the lookup service) gets each new client through ops.accept
 * and tells the skeleton when it is gone (mail_server_disconnect()); the
 * client is "in flight" in between.  A trigger service (pickup, qmgr) has
 * no accept callback: the skeleton reads each client's bytes ('W', 'I',
 * 'F': MAIL_SERVER_TRIG_*), hands them to ops.trigger and closes the
 * connection at EOF (or after MAIL_SERVER_TRIGGER_TIMEOUT); the
 * connection is in flight while open.  A fifo service (master.cf type
 * fifo) has its bytes read from the fifo itself, each read one use.  ops.wakeup runs every
 * ops.wakeup_interval seconds.
 *
 * Capacity.  The master keeps one process per service running and starts
 * another (up to maxproc) when every running process of the service has
 * said it is busy.  With ops.capacity N the skeleton stops accepting and
 * tells the master "busy" while N clients are in flight, and "available"
 * when one leaves (smtpd derives N from its open files limit; a delivery
 * agent serves one qmgr connection at a time).  When accept() runs out of
 * descriptors the skeleton stops accepting for a second (warning at most
 * once a minute).  A daemon may also report itself (mail_server_busy()).
 *
 * max_idle, max_use (main.cf, or -o in master.cf).  As in Postfix, and
 * counted the way Postfix counts for its servers that take many clients
 * at once: a process that has had no client in flight for max_idle
 * seconds exits; a process that has accepted max_use clients (trigger
 * connections included) exits as soon as no client is in flight -- it
 * keeps accepting until then, so a busy process is never cut short.
 * 0 means no limit.  Both apply only under the master, which starts a
 * fresh process, and not to services flagged MAIL_SERVER_LONG_LIVED
 * (qmgr, anvil, proxymap: their state would be lost).
 *
 * Stop.  The skeleton turns the master's notices into callbacks:
 *   drain  (SIGHUP from the master on reload, or the master went away:
 *		kill -9, crash): the listening sockets are closed AT ONCE (a
 *		new master must be able to bind the same address) and trigger
 *		connections are dropped; then ops.drain runs: finish the work
 *		in flight (sessions, deliveries) with the configuration you
 *		have, start no new work (qmgr: no new deliveries).  The process
 *		exits when the last client in flight is gone.
 *   stop  (SIGTERM or SIGINT: postino stop): listeners closed, ops.stop
 *		runs (smtpd answers "421" to open sessions); the process exits
 *		when no client is left, or MAIL_SERVER_STOP_GRACE seconds
 *		later.  The master SIGKILLs what is left after a bounded time.
 * Long work (pickup's scan, a task held with mail_server_hold()) calls
 * mail_server_check() between items and stops when it is not
 * MAIL_SERVER_NONE.  Before the
 * process exits, for any of these reasons, ops.pre_exit runs.  SIGPIPE is
 * ignored.  "postino abort" SIGKILLs every process: no notice.
 *
 * Without the skeleton (a daemon with a loop of its own), the same
 * contract by hand: watch mail_server_notify_fd() and
 * mail_server_status_fd() for reading; when either is readable,
 * mail_server_event() says MAIL_SERVER_DRAIN or MAIL_SERVER_STOP (as
 * above: mail_server_close_listeners() at once) or MAIL_SERVER_NONE; say
 * busy/available with mail_server_busy().
 *
 * Overlap.  During a reload (and after a master was killed and started
 * again) processes of the old and new generation of a service run at the
 * same time, old ones draining.  A service that must never run twice
 * (qmgr) calls mail_server_exclusive() before mail_server_ready(): it
 * waits until no other process of that service holds the service lock.
 *
 * Descriptors.  mail_server_init() sets close-on-exec on the listening
 * sockets and the status channel: a process a daemon runs (local's
 * |command) never inherits them.
 *
 * Without the master (POSTINO_LISTEN_FDS unset) a daemon has no listening
 * sockets and mail_server_status_fd() returns -1; tests may run a daemon
 * that way with sockets of its own (mail_server_listen_add()). */
#ifndef POSTINO_MAIL_MAIL_SERVER_H
#define POSTINO_MAIL_MAIL_SERVER_H

/* Environment variables set by the master. */
#define MAIL_SERVER_ENV_LISTEN_FDS	"POSTINO_LISTEN_FDS"
#define MAIL_SERVER_ENV_SERVICE		"POSTINO_SERVICE"
#define MAIL_SERVER_FIRST_FD		3
#define MAIL_SERVER_MAX_LISTEN		64

/* Status bytes a daemon writes on the status channel. */
#define MAIL_SERVER_STAT_READY	'R'	/* initialisation done */
#define MAIL_SERVER_STAT_BUSY	'B'	/* full: start another process */
#define MAIL_SERVER_STAT_AVAIL	'A'	/* accepting again */

/* Trigger bytes (written by the master's wakeup timer, postino flush,
 * sendmail...) to trigger services such as public/qmgr. */
#define MAIL_SERVER_TRIG_WAKEUP	'W'
#define MAIL_SERVER_TRIG_FLUSH	'F'
#define MAIL_SERVER_TRIG_NEW	'I'
/* 'S' SITE '\n' in one write (qmgr): retry the deferred mail for one
 * site (postqueue -s), as 'F' does for all. */
#define MAIL_SERVER_TRIG_SITE	'S'

enum mail_server_event {
	MAIL_SERVER_NONE,		/* nothing happened */
	MAIL_SERVER_DRAIN,		/* finish work in flight, then exit */
	MAIL_SERVER_STOP,		/* exit now */
};

/* mail_server_init - parse the command line (see above; an unknown
 * option is fatal), read main.cf and apply the -o overrides (also
 * service_name=SERVICE and process_name=program), set up logging
 * (syslog_name, syslog_facility, or maillog_file when set), pick up the
 * listening sockets and the status channel, install the SIGHUP/SIGTERM/
 * SIGINT handlers that feed mail_server_event(), ignore SIGPIPE.
 * Still privileged on return.  Fatal on any error (bad config, a listen
 * fd that is not open). Arguments that are not options (after "--" or
 * the first non-option) are kept for mail_server_args(). */
void mail_server_init(int argc, char **argv, const char *program);

/* mail_server_log_init - (re)do the logging set-up from the current
 * configuration: maillog_file if set, else syslog with syslog_name and
 * syslog_facility.  Used by mail_server_init, the master and postino. */
void mail_server_log_init(void);

/* mail_server_ready - chroot to queue_directory (-c) and switch to
 * mail_owner (-u: setgroups, setgid, setuid, verified) when running as
 * root; then tell the master the process started.  Fatal when mail_owner
 * is not a user, or is root, or a step fails.  Later calls do nothing. */
void mail_server_ready(void);

/* mail_server_exclusive - take the per-service lock
 * $queue_directory/pid/unix.SERVICE.lock (created as needed), waiting
 * while a draining process of the same service holds it.  Call before
 * mail_server_ready() (the lock file may not be writable afterwards). */
void mail_server_exclusive(void);

/* Listening sockets: count and fds (non-blocking, close-on-exec).  After
 * mail_server_close_listeners() the count is 0. */
int mail_server_listen_count(void);
int mail_server_listen_fd(int index);
/* mail_server_close_listeners - close every listening socket (drain). */
void mail_server_close_listeners(void);

/* mail_server_status_fd - the status channel, to watch for reading: it
 * becomes readable (EOF) when the master is gone; -1 without a master. */
int mail_server_status_fd(void);
/* mail_server_notify_fd - readable after SIGHUP/SIGTERM/SIGINT. */
int mail_server_notify_fd(void);
/* mail_server_event - what the daemon must do now (consumes the pending
 * notifications; never blocks).  STOP wins over DRAIN; both are sticky:
 * once returned they are returned again by later calls. */
enum mail_server_event mail_server_event(void);

/* mail_server_busy - tell the master we are full (1) or accepting (0). */
void mail_server_busy(int busy);

/* The -n and -t values ("" when not given), the program name, and the
 * arguments that were not options (NULL-terminated). */
const char *mail_server_service(void);
const char *mail_server_type(void);
const char *mail_server_program(void);
char **mail_server_args(void);

/* THE SKELETON (library postino-server; see the top of this file). */

struct event_base;
struct sockaddr;

#define MAIL_SERVER_STOP_GRACE		1	/* seconds after STOP */
#define MAIL_SERVER_TRIGGER_TIMEOUT	10	/* seconds per trigger client */
#define MAIL_SERVER_TRIGGER_MAX		1024	/* bytes per trigger client */

/* Flags. */
#define MAIL_SERVER_LONG_LIVED	(1 << 0)	/* ignore max_idle, max_use */

struct mail_server_ops {
	/* accept - connection services: a client connected on listening
	 * socket number index.  fd is non-blocking and close-on-exec; the
	 * daemon owns it, and calls mail_server_disconnect() once it is
	 * closed.  sa is the peer's address (salen 0 when unknown). */
	void (*accept)(int fd, const struct sockaddr *sa, int salen, int index);
	/* trigger - trigger services (accept NULL): bytes a client wrote. */
	void (*trigger)(const char *buf, size_t len);
	/* wakeup - every wakeup_interval seconds (0: never). */
	void (*wakeup)(void);
	int wakeup_interval;
	/* drain, stop - optional: see "Stop" above. */
	void (*drain)(void);
	void (*stop)(void);
	/* pre_exit - optional: just before the process exits. */
	void (*pre_exit)(void);
	/* capacity - clients in flight at which the process stops accepting
	 * and says it is busy; 0: no limit. */
	int capacity;
	int flags;		/* MAIL_SERVER_LONG_LIVED */
};

/* mail_server_base - the event loop of the process (created on first
 * use; never NULL). */
/* mail_server_attr_serve - answer the complete attribute-list requests
 * waiting in bev's input, in order, with answer(ctx, request, reply); the
 * replies go out in one write.  0, or -1 with *err_r for a malformed
 * request or one longer than max_request bytes (the caller drops the
 * client).  Never looks at more than max_request + 1 bytes at once. */
struct attr_list;
struct bufferevent;
typedef void mail_server_attr_fn(void *ctx, const struct attr_list *req,
    struct attr_list *reply);
int mail_server_attr_serve(struct bufferevent *bev, size_t max_request,
    mail_server_attr_fn *answer, void *ctx, const char **err_r);

struct event_base *mail_server_base(void);

/* mail_server_run - the daemon's life after its set-up: tell the master
 * we are ready (unless done), serve until drained, stopped, idle or used
 * up (see above), run ops->pre_exit; returns the exit status (0).  ops
 * must stay valid.  Fatal when the loop cannot be set up. */
int mail_server_run(const struct mail_server_ops *ops);

/* mail_server_disconnect - a client handed to ops->accept is gone. */
void mail_server_disconnect(void);

/* mail_server_hold - work in flight that is not a client (pickup's scan
 * while it waits in a task for the lookup service): until the matching
 * mail_server_release() the process counts it as a client in flight, so
 * a drain, a stop (within its grace time) or max_idle lets it finish. */
void mail_server_hold(void);
void mail_server_release(void);

/* mail_server_clients - clients in flight. */
int mail_server_clients(void);

/* mail_server_check - for long work inside one callback: take in the
 * master's pending notices (the drain or stop callback runs from here
 * if one came) and say whether to go on (MAIL_SERVER_NONE).  Never
 * blocks. */
enum mail_server_event mail_server_check(void);

/* mail_server_limits - set max_idle (seconds) and max_use instead of
 * main.cf's (before mail_server_run; -1 keeps main.cf's).  Also applies
 * without the master (agents' -1: max_use 1). */
void mail_server_limits(long max_idle, long max_use);

/* mail_server_listen_add - without the master: listen on fd too (made
 * non-blocking and close-on-exec; tests, -S). */
void mail_server_listen_add(int fd);

#endif

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
 *	mail_server_ready();	chroot + drop privileges + tell the master
 *	... event loop: accept on mail_server_listen_fd(i), non-blocking ...
 * A process that exits before mail_server_ready() counts as a failed
 * start: the master does not restart the service for
 * service_throttle_time.  A process that dies after it (crash, kill -9)
 * is restarted at once.
 *
 * Capacity.  Every daemon is event-driven and serves many clients.  The
 * master keeps one process per service running and starts another (up to
 * maxproc) when every running process of the service has said it is busy:
 * call mail_server_busy(1) when you stop accepting because you are full,
 * mail_server_busy(0) when you accept again.  Optional.
 *
 * Stop.  Add both mail_server_notify_fd() and mail_server_status_fd() to
 * the event loop for reading; when either is readable call
 * mail_server_event(), which says what to do:
 *   MAIL_SERVER_DRAIN  (SIGHUP from the master on reload, or the master
 *		went away: kill -9, crash): close the listening sockets AT ONCE
 *		(mail_server_close_listeners(): a new master must be able to
 *		bind the same address), finish the work in flight (sessions,
 *		deliveries) with the configuration you have, then exit 0.
 *		Do not start new work (qmgr: no new deliveries).
 *   MAIL_SERVER_STOP  (SIGTERM or SIGINT: postino stop): exit soon, without
 *		waiting for clients (smtpd answers "421" to open sessions
 *		first).  The master sends SIGKILL to what is left after a
 *		bounded time.
 *   MAIL_SERVER_NONE  nothing to do.
 * "postino abort" SIGKILLs every process: no notice.
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
 * that way with its own sockets. */
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
 * is not a user, or is root, or a step fails. */
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

#endif

/* SPDX-License-Identifier: MIT */
/* mail_server - the daemon side of the master's contract (mail_server.h):
 * command line, configuration, logging, inherited sockets, privileges,
 * and the notifications that tell a daemon to drain or stop.
 *
 * Signals are turned into bytes on a self-pipe (the handlers only write
 * one byte and set a flag), so that an event loop can watch them like
 * any descriptor.  Logs: fatal errors in the set-up, and
 * "not running as root: -u/-c ignored" at verbose level only. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map.h"
#include "map_proxy.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

static char *server_service;
static char *server_type;
static char *server_program;
static char **server_args;
static int server_unpriv;
static int server_chroot;
static int listen_fds[MAIL_SERVER_MAX_LISTEN];
static int listen_count;
static int status_fd = -1;
static int notify_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_drain;
static volatile sig_atomic_t got_stop;
static int sticky_event = MAIL_SERVER_NONE;
static int lock_fd = -1;
static int server_ready;

/* mail_server_signal - note the signal and wake the event loop. */
static void
mail_server_signal(int sig)
{
	int saved_errno = errno;
	char ch = (char)sig;

	if (sig == SIGHUP)
		got_drain = 1;
	else
		got_stop = 1;
	if (notify_pipe[1] >= 0 && write(notify_pipe[1], &ch, 1) < 0) {
		/* A full pipe already wakes the loop. */
	}
	errno = saved_errno;
}

/* set_fd_flags - close-on-exec, and non-blocking if asked. */
static void
set_fd_flags(int fd, int nonblock)
{
	int fl;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		msg_fatal("fcntl fd %d FD_CLOEXEC: %m", fd);
	if (nonblock) {
		if ((fl = fcntl(fd, F_GETFL)) < 0
		    || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			msg_fatal("fcntl fd %d O_NONBLOCK: %m", fd);
	}
}

/* mail_server_fds - pick up the listening sockets and status channel. */
static void
mail_server_fds(void)
{
	const char *env = getenv(MAIL_SERVER_ENV_LISTEN_FDS);
	struct stat st;
	long n;

	if (env == NULL)
		return;
	if (str_to_long(env, &n) < 0 || n < 0 || n > MAIL_SERVER_MAX_LISTEN)
		msg_fatal("bad %s value \"%s\"", MAIL_SERVER_ENV_LISTEN_FDS, env);
	for (int i = 0; i < n; i++) {
		int fd = MAIL_SERVER_FIRST_FD + i;

		if (fstat(fd, &st) < 0)
			msg_fatal("listening socket fd %d (of %ld): %m", fd, n);
		set_fd_flags(fd, 1);
		listen_fds[listen_count++] = fd;
	}
	status_fd = MAIL_SERVER_FIRST_FD + (int)n;
	if (fstat(status_fd, &st) < 0)
		msg_fatal("status channel fd %d: %m", status_fd);
	set_fd_flags(status_fd, 1);
	/* Don't let this reach programs the daemon runs. */
	unsetenv(MAIL_SERVER_ENV_LISTEN_FDS);
}

/* mail_server_signals - the self-pipe and the handlers. */
static void
mail_server_signals(void)
{
	struct sigaction sa;

	if (pipe2(notify_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		msg_fatal("pipe: %m");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = mail_server_signal;
	if (sigaction(SIGHUP, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0
	    || sigaction(SIGINT, &sa, NULL) < 0)
		msg_fatal("sigaction: %m");
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		msg_fatal("sigaction: %m");
}

void
mail_server_log_init(void)
{
	const char *logfile = var_maillog_file;

	if (*logfile)
		msg_logfile_init(logfile);
	else
		msg_syslog_init(var_syslog_name, var_syslog_facility);
}

/* mail_server_option - apply one "-o name=value". */
static void
mail_server_option(const char *arg)
{
	char *copy = xstrdup(arg), *name, *value;
	const char *err;

	if ((err = split_nameval(copy, &name, &value)) != NULL)
		msg_fatal("bad -o option \"%s\": %s", arg, err);
	mail_conf_override(name, value);
	free(copy);
}

void
mail_server_init(int argc, char **argv, const char *program)
{
	char **opts = NULL;
	int nopts = 0, ch, verbose = 0;

	server_program = xstrdup(program);
	server_service = xstrdup("");
	server_type = xstrdup("");
	msg_init(program, 0);
	optind = 1;
	opterr = 0;
	while ((ch = getopt(argc, argv, "+cn:o:t:uv")) != -1) {
		switch (ch) {
		case 'c':
			server_chroot = 1;
			break;
		case 'n':
			free(server_service);
			server_service = xstrdup(optarg);
			break;
		case 'o':
			opts = xreallocarray(opts, (size_t)nopts + 1, sizeof(*opts));
			opts[nopts++] = optarg;
			break;
		case 't':
			free(server_type);
			server_type = xstrdup(optarg);
			break;
		case 'u':
			server_unpriv = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			msg_stderr_enable(1);
			msg_fatal("usage: %s [-cuv] [-n service] [-t type] "
			    "[-o name=value]... (bad option -%c)", program,
			    optopt ? optopt : '?');
		}
	}
	server_args = xcalloc((size_t)(argc - optind) + 1, sizeof(char *));
	for (int i = optind; i < argc; i++)
		server_args[i - optind] = xstrdup(argv[i]);

	/* Until logging is set up, complaints go to stderr. */
	msg_stderr_enable(1);
	mail_conf_read(0);
	for (int i = 0; i < nopts; i++)
		mail_server_option(opts[i]);
	free(opts);
	if (*server_service)
		mail_conf_override("service_name", server_service);
	/* The typed parameters, -o included (mail_vars.h). */
	mail_vars_bind(MAIL_VARS_SERVER);
	mail_server_log_init();
	msg_stderr_enable(0);
	msg_verbose += verbose;
	/* Daemons never call a blocking table (ldap:, mysql:) themselves:
	 * such tables are opened through the lookup service (map_proxy.h),
	 * which also keeps the result cache.  proxymap turns this off. */
	map_proxy_route(1);
	/* proxy: tables that never block are read here unless the process
	 * chroots (then only the service can read, e.g., /etc/passwd). */
	map_proxy_local(!(server_chroot && geteuid() == 0));

	mail_server_fds();
	mail_server_signals();
}

void
mail_server_exclusive(void)
{
	char *path;

	path = concatenate(var_queue_directory, "/pid/unix.",
	    *server_service ? server_service : server_program, ".lock",
	    (char *)0);
	if ((lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		msg_fatal("open lock file %s: %m", path);
	while (flock(lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			msg_fatal("lock %s: %m", path);
		if (got_stop)
			exit(0);
	}
	free(path);
}

/* mail_server_drop - chroot and switch to mail_owner as asked. */
static void
mail_server_drop(void)
{
	const char *owner = var_mail_owner;
	const char *root_dir = var_queue_directory;
	struct passwd *pw = NULL;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		if (msg_verbose && (server_unpriv || server_chroot))
			msg_info("not running as root: -u/-c ignored");
		return;
	}
	if (server_unpriv) {
		if ((pw = getpwnam(owner)) == NULL)
			msg_fatal("mail_owner %s: no such user (set mail_owner in "
			    "%s/main.cf)", owner, mail_conf_dir());
		if (pw->pw_uid == 0)
			msg_fatal("mail_owner %s: must not be a privileged user "
			    "(uid 0)", owner);
	}
	uid = pw ? pw->pw_uid : 0;
	gid = pw ? pw->pw_gid : 0;
	if (server_chroot) {
		if (chroot(root_dir) < 0)
			msg_fatal("chroot %s: %m", root_dir);
		if (chdir("/") < 0)
			msg_fatal("chdir / in %s: %m", root_dir);
		/* Queue paths are built from queue_directory: inside the
		 * chroot the queue is "/". */
		mail_conf_override("queue_directory", "/");
	}
	if (server_unpriv) {
		if (setgroups(1, &gid) < 0)
			msg_fatal("setgroups %ld: %m", (long)gid);
		if (setgid(gid) < 0)
			msg_fatal("setgid %ld: %m", (long)gid);
		if (setuid(uid) < 0)
			msg_fatal("setuid %ld: %m", (long)uid);
		/* Verify that the change cannot be undone. */
		if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0)
			msg_fatal("privileges were not dropped (uid %ld gid %ld)",
			    (long)geteuid(), (long)getegid());
	}
}

/* status_write - one status byte to the master (never blocks). */
static void
status_write(char ch)
{
	if (status_fd < 0)
		return;
	if (write(status_fd, &ch, 1) < 0 && errno != EAGAIN && errno != EPIPE
	    && errno != ECONNRESET)
		msg_warn("write status channel: %m");
}

void
mail_server_ready(void)
{
	if (server_ready)
		return;
	server_ready = 1;
	mail_server_drop();
	status_write(MAIL_SERVER_STAT_READY);
}

int
mail_server_listen_count(void)
{
	return listen_count;
}

int
mail_server_listen_fd(int index)
{
	if (index < 0 || index >= listen_count)
		msg_panic("mail_server_listen_fd: index %d of %d", index,
		    listen_count);
	return listen_fds[index];
}

void
mail_server_listen_add(int fd)
{
	if (listen_count >= MAIL_SERVER_MAX_LISTEN)
		msg_fatal("too many listening sockets (%d)", listen_count);
	set_fd_flags(fd, 1);
	listen_fds[listen_count++] = fd;
}

void
mail_server_close_listeners(void)
{
	for (int i = 0; i < listen_count; i++)
		if (close(listen_fds[i]) < 0)
			msg_warn("close listening socket fd %d: %m", listen_fds[i]);
	listen_count = 0;
}

int
mail_server_status_fd(void)
{
	return status_fd;
}

int
mail_server_notify_fd(void)
{
	return notify_pipe[0];
}

enum mail_server_event
mail_server_event(void)
{
	char junk[64];
	ssize_t n;

	if (notify_pipe[0] >= 0)
		while (read(notify_pipe[0], junk, sizeof(junk)) > 0)
			continue;
	if (status_fd >= 0) {
		/* The master never writes; EOF or an error means it is gone. */
		while ((n = read(status_fd, junk, sizeof(junk))) > 0)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			got_drain = 1;
	}
	if (got_stop)
		sticky_event = MAIL_SERVER_STOP;
	else if (got_drain && sticky_event == MAIL_SERVER_NONE)
		sticky_event = MAIL_SERVER_DRAIN;
	return (enum mail_server_event)sticky_event;
}

void
mail_server_busy(int busy)
{
	status_write(busy ? MAIL_SERVER_STAT_BUSY : MAIL_SERVER_STAT_AVAIL);
}

const char *
mail_server_service(void)
{
	return server_service ? server_service : "";
}

const char *
mail_server_type(void)
{
	return server_type ? server_type : "";
}

const char *
mail_server_program(void)
{
	return server_program ? server_program : msg_progname();
}

char **
mail_server_args(void)
{
	static char *none[1];

	return server_args ? server_args : none;
}

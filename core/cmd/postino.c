/* SPDX-License-Identifier: MIT */
/* postino - control the mail system (Postfix's postfix(1) command).
 *
 *   postino [-v] [-c config_dir] command
 *
 * Commands:
 *   check	validate main.cf and master.cf, create missing queue
 *		directories (one warning each); exit 1 on errors
 *   start	check, then start the master in the background and wait
 *		until it runs; exit 1 if it is already running or fails
 *   start-fg	check, then run the master in the foreground (exec)
 *   stop	SIGTERM to the master; wait (bounded) until it is gone,
 *		then kill what is left
 *   abort	SIGQUIT to the master: children are killed at once
 *   reload	check the configuration, then SIGHUP to the master
 *   status	"running: PID: N" (exit 0) or "not running" (exit 1)
 *   flush	ask the queue manager to retry deferred mail ('F' to
 *		public/qmgr)
 *
 * The configuration directory is -c DIR, else $MAIL_CONFIG, else the
 * installation's default.  Unlike Postfix the command does not need
 * root: an instance run by an ordinary user is controlled by that user.
 * Every line the command prints reads "postino/postino-script: ..." on
 * stderr and goes to the mail log (syslog or maillog_file) too. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_public.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "postino.h"
#include "stringops.h"

#define STOP_WAIT	20		/* seconds for a graceful stop */
#define KILL_WAIT	10		/* seconds after SIGKILL / abort */
#define START_WAIT	15		/* seconds for the pid file lock */

static int log_ready;			/* the mail log is set up */
static int verbose;

static const char *const levels[] = {
	"", "warning: ", "error: ", "fatal: ", "panic: ",
};

/* say - every diagnostic: stderr in the script's shape, and the log. */
static void
say(int level, const char *text, void *ctx)
{
	const char *name = log_ready ? var_syslog_name : "postino";

	dprintf(STDERR_FILENO, "%s/postino-script: %s%s\n", name,
	    levels[level], text);
	if (log_ready) {
		msg_capture(NULL, NULL);
		msg_stderr_enable(0);
		if (level == MSG_INFO)
			msg_info_as("postino-script", "%s", text);
		else
			msg_warn_as("postino-script", "%s%s", level == MSG_WARN ? ""
			    : levels[level], text);
		msg_capture(say, ctx);
	}
}

/* usage - and exit 1. */
static void NORETURN
usage(void)
{
	msg_fatal("usage: postino [-v] [-c config_dir] start|start-fg|stop|abort|"
	    "reload|status|check|flush");
}

/* pid_file - $queue_directory/pid/master.pid, malloc'd. */
static char *
pid_file(void)
{
	return concatenate(var_queue_directory, "/pid/master.pid",
	    (char *)0);
}

/* running - the master's pid, or 0 if no master holds the lock. */
static long
running(void)
{
	char *path = pid_file(), buf[32];
	long pid = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		if (str_to_long(trimblanks(skipblanks(buf)), &pid) < 0 || pid <= 0)
			pid = 0;
	}
	close(fd);
	if (pid == 0)
		msg_fatal("a master holds the lock but its pid file has no pid");
	return pid;
}

/* wait_gone - poll until no master holds the lock; 1 if gone. */
static int
wait_gone(int seconds)
{
	struct timespec ts = {0, 100 * 1000 * 1000};

	for (int i = 0; i < seconds * 10; i++) {
		if (running() == 0)
			return 1;
		nanosleep(&ts, NULL);
	}
	return running() == 0;
}

/* master_argv - DAEMON_DIR/master with our options. */
static char **
master_argv(const char *mode, char **path_r)
{
	char **argv = xcalloc(6, sizeof(char *));
	int n = 0;

	*path_r = concatenate(var_daemon_directory, "/master",
	    (char *)0);
	argv[n++] = xstrdup("master");
	argv[n++] = xstrdup(mode);
	argv[n++] = xstrdup("-c");
	argv[n++] = xstrdup(mail_conf_dir());
	if (verbose)
		argv[n++] = xstrdup("-v");
	argv[n] = NULL;
	return argv;
}

/* argv_free - release what master_argv returned. */
static void
argv_free(char **argv, char *path)
{
	for (char **ap = argv; *ap; ap++)
		free(*ap);
	free(argv);
	free(path);
}

/* do_check - check with directory creation; fatal on errors. */
static void
do_check(const char *what)
{
	if (postino_check(1) > 0)
		msg_fatal("%s", what);
	mail_server_log_init();
	log_ready = 1;
}

/* cmd_start - start the master in the background. */
static int
cmd_start(void)
{
	char **argv, *path;
	pid_t pid;
	int status;
	struct timespec ts = {0, 100 * 1000 * 1000};

	if (running())
		msg_fatal("the Postino mail system is already running");
	do_check("mail system startup failed: fix the errors above");
	msg_info("starting the Postino mail system");
	argv = master_argv("-w", &path);
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid == 0) {
		execv(path, argv);
		msg_fatal("run %s: %m", path);
	}
	argv_free(argv, path);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			msg_fatal("waitpid: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		msg_fatal("mail system startup failed");
	for (int i = 0; i < START_WAIT * 10 && running() == 0; i++)
		nanosleep(&ts, NULL);
	if (running() == 0)
		msg_fatal("mail system startup failed: the master is not running");
	return 0;
}

/* cmd_start_fg - exec the master in the foreground. */
static int
cmd_start_fg(void)
{
	char **argv, *path;

	if (running())
		msg_fatal("the Postino mail system is already running");
	do_check("mail system startup failed: fix the errors above");
	msg_info("starting the Postino mail system in the foreground");
	argv = master_argv("-d", &path);
	execv(path, argv);
	msg_fatal("run %s: %m", path);
}

/* cmd_signal - stop, abort, reload. */
static int
cmd_signal(const char *what)
{
	long pid;

	if ((pid = running()) == 0)
		msg_fatal("the Postino mail system is not running");
	if (strcmp(what, "reload") == 0) {
		if (postino_check(0) > 0)
			msg_fatal("configuration errors: the mail system was not "
			    "reloaded");
		msg_info("refreshing the Postino mail system");
		if (kill((pid_t)pid, SIGHUP) < 0)
			msg_fatal("signal the master (pid %ld): %m", pid);
		return 0;
	}
	if (strcmp(what, "abort") == 0) {
		msg_info("aborting the Postino mail system");
		if (kill((pid_t)pid, SIGQUIT) < 0 && errno != ESRCH)
			msg_fatal("signal the master (pid %ld): %m", pid);
		if (!wait_gone(KILL_WAIT))
			msg_fatal("the master (pid %ld) is still running", pid);
		return 0;
	}
	msg_info("stopping the Postino mail system");
	if (kill((pid_t)pid, SIGTERM) < 0 && errno != ESRCH)
		msg_fatal("signal the master (pid %ld): %m", pid);
	if (wait_gone(STOP_WAIT))
		return 0;
	msg_warn("stopping the Postino mail system with force");
	/* The master leads its own process group unless it runs with -d. */
	if (kill(-(pid_t)pid, SIGKILL) < 0)
		kill((pid_t)pid, SIGKILL);
	if (!wait_gone(KILL_WAIT))
		msg_fatal("the master (pid %ld) is still running", pid);
	return 0;
}

/* cmd_status - report. */
static int
cmd_status(void)
{
	long pid = running();

	if (pid == 0) {
		msg_info("the Postino mail system is not running");
		return 1;
	}
	msg_info("the Postino mail system is running: PID: %ld", pid);
	return 0;
}

/* cmd_flush - 'F' to public/qmgr. */
static int
cmd_flush(void)
{
	char *path = mail_public_path("qmgr");
	char ch = MAIL_SERVER_TRIG_FLUSH;
	int fd;

	if ((fd = mail_public_connect("qmgr", 0)) < 0 && errno == ENAMETOOLONG)
		msg_fatal("%s: path too long", path);
	if (fd < 0)
		msg_fatal("flush: connect to %s: %m (is the mail system running?)",
		    path);
	if (write(fd, &ch, 1) != 1)
		msg_fatal("flush: write to %s: %m", path);
	close(fd);
	free(path);
	return 0;
}

int
main(int argc, char **argv)
{
	char resolved[PATH_MAX];
	const char *cmd;
	int ch;

	msg_init("postino", 1);
	msg_capture(say, NULL);
	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c':
			if (realpath(optarg, resolved) == NULL)
				msg_fatal("configuration directory %s: %m", optarg);
			mail_conf_set_dir(resolved);
			break;
		case 'v':
			verbose++;
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	cmd = argv[optind];
	/* The master and its children find the configuration by name. */
	if (realpath(mail_conf_dir(), resolved) != NULL)
		mail_conf_set_dir(resolved);

	if (strcmp(cmd, "check") == 0) {
		if (postino_check(1) > 0)
			msg_fatal("configuration errors");
		return 0;
	}
	if (strcmp(cmd, "start") == 0)
		return cmd_start();
	if (strcmp(cmd, "start-fg") == 0)
		return cmd_start_fg();

	/* The rest only needs main.cf (syntax errors are fatal). */
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_CMD);
	mail_server_log_init();
	log_ready = 1;
	if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "abort") == 0
	    || strcmp(cmd, "reload") == 0)
		return cmd_signal(cmd);
	if (strcmp(cmd, "status") == 0)
		return cmd_status();
	if (strcmp(cmd, "flush") == 0)
		return cmd_flush();
	msg_fatal("unknown command \"%s\" (expected start, start-fg, stop, "
	    "abort, reload, status, check or flush)", cmd);
}

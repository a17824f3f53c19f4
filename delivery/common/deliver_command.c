/* SPDX-License-Identifier: MIT */
/* deliver_command - run one external command for a delivery, as local(8)
 * (|command, mailbox_command) and pipe(8) both do it, and turn its end
 * into a delivery outcome the way Postfix's agents do.
 *
 * The child: its own session (a time limit kills the whole group), the
 * message on standard input (an unlinked temporary file, rewound),
 * standard output and error into a second temporary file (neither side
 * can block the other), no other descriptor, default SIGPIPE/SIGCHLD,
 * umask 077, the real and effective ids of the user when the agent runs
 * as root (verified: never root), the working directory, the given
 * environment only.  A failure before the command runs (ids, directory,
 * exec) is written to the output as "PROGRAM: fatal: ..." and ends the
 * child with EX_TEMPFAIL, so that it defers: a missing program is a
 * configuration error, not the recipient's.
 *
 * The agent waits for the child without holding its event loop: inside
 * a task (the agents' request loop) on a pidfd through the loop, outside
 * one in poll(); after the time limit the process group is killed.
 *
 * Outcome (deliver_command_outcome): exit 0 = sent; output starting with
 * a 4.X.Y / 5.X.Y enhanced status code decides class and code of a
 * failure; else a sysexits.h code (EX_TEMPFAIL, EX_OSERR defer, the
 * others bounce); else "Command died with status N" (bounce); a signal
 * defers; the time limit bounces (5.3.0), as Postfix's agents do.  The
 * command's output (printable: tab and newline become blanks, other
 * control bytes '_', trailing blanks dropped) follows "Command output: ". */
#include "postino_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "delivery.h"
#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"
#include "task_event.h"

int
deliver_tmp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char *tmpl;
	int fd;

	if (dir == NULL || *dir != '/')
		dir = "/tmp";
#ifdef O_TMPFILE
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
#endif
	tmpl = concatenate(dir, "/postino-cmd.XXXXXX", (char *)0);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) >= 0)
		(void)unlink(tmpl);
	free(tmpl);
	return fd;
}

/* child_fail - in the child: say why on the output, exit EX_TEMPFAIL. */
static void
child_fail(const char *program, const char *what, const char *arg, int err)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text), "%s: fatal: %s %s: %s\n", program,
	    what, arg, strerror(err));
	if (n > 0)
		(void)!write(1, text, (size_t)n < sizeof(text) ? (size_t)n
		    : sizeof(text) - 1);
	_exit(EX_TEMPFAIL);
}

/* child_exec - in the child: descriptors, ids, directory, exec. */
static void
child_exec(const struct deliver_cmd *cmd, int out_fd)
{
	const char *path = NULL;

	(void)setsid();
	if (dup2(cmd->in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(EX_OSERR);
	for (int fd = 3; fd < 1024; fd++)
		(void)close(fd);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (cmd->set_ids) {
		if (setgroups(1, &cmd->gid) < 0 || setgid(cmd->gid) < 0)
			child_fail(cmd->program, "setgid", "", errno);
		if (setuid(cmd->uid) < 0)
			child_fail(cmd->program, "setuid", "", errno);
		if (getuid() == 0 || geteuid() == 0)
			child_fail(cmd->program, "setuid", "", EPERM);
	}
	if (cmd->cwd && chdir(cmd->cwd) < 0) {
		if (!cmd->cwd_soft)
			child_fail(cmd->program, "chdir", cmd->cwd, errno);
		(void)chdir("/");
	}
	umask(077);
	if (strchr(cmd->argv[0], '/') == NULL) {
		for (char *const *ep = cmd->env; *ep; ep++)
			if (strncmp(*ep, "PATH=", 5) == 0)
				path = *ep + 5;
		/* execvpe searches the PATH of this process: set it. */
		(void)setenv("PATH", path ? path : "/usr/bin:/bin", 1);
		execvpe(cmd->argv[0], cmd->argv, cmd->env);
	} else {
		execve(cmd->argv[0], cmd->argv, cmd->env);
	}
	child_fail(cmd->program, "execvp", cmd->argv[0], errno);
}

/* wait_poll - outside a task: wait for the pidfd (or poll waitpid)
 * until the deadline; 1 when the child is done. */
static int
wait_poll(pid_t pid, int pfd, long ms, int *status_r, int *reaped_r)
{
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int n;

		do {
			n = poll(&p, 1, ms > 0x7fffffffL ? 0x7fffffff : (int)ms);
		} while (n < 0 && errno == EINTR);
		return n > 0;
	}
	for (long waited = 0;; waited += 100) {
		if (waitpid(pid, status_r, WNOHANG) == pid) {
			*reaped_r = 1;
			return 1;
		}
		if (waited >= ms)
			return 0;
		usleep(100000);
	}
}

/* wait_task - inside a task: the loop serves everything else meanwhile;
 * 1 when the child is done. */
static int
wait_task(pid_t pid, int pfd, long ms, int *status_r, int *reaped_r)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left, spent;
		short what;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		spent = (long)(t1.tv_sec - t0.tv_sec) * 1000
		    + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if ((left = ms - spent) <= 0)
			return 0;
		if (pfd >= 0) {
			what = task_event_wait(mail_server_base(), pfd, EV_READ,
			    left);
			if (what & EV_READ)
				return 1;
			continue;
		}
		/* No pidfd: look every 100 ms. */
		if (waitpid(pid, status_r, WNOHANG) == pid) {
			*reaped_r = 1;
			return 1;
		}
		task_sleep_ms(mail_server_base(), left < 100 ? left : 100);
	}
}

/* read_output - the start of the command's output, printable. */
static void
read_output(int fd, char *out, size_t len)
{
	ssize_t n;

	out[0] = 0;
	n = pread(fd, out, len - 1, 0);
	if (n <= 0)
		return;
	out[n] = 0;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];

		if (c == '\n' || c == '\t')
			out[i] = ' ';
		else if (c < 0x20 || c == 0x7f)
			out[i] = '_';
	}
	/* The final newline (and blanks before it) ends no word: drop it
	 * (Postfix keeps it as a trailing blank). */
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = 0;
}

int
deliver_command_run(const struct deliver_cmd *cmd,
    struct deliver_cmd_result *res)
{
	int out_fd, pfd, done, reaped = 0;
	long ms = cmd->time_limit > 0 ? cmd->time_limit * 1000L : 0x7fffffffL;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if ((out_fd = deliver_tmp_file()) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		int saved = errno;

		close(out_fd);
		errno = saved;
		return -1;
	}
	if (pid == 0)
		child_exec(cmd, out_fd);
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (task_current() != NULL)
		done = wait_task(pid, pfd, ms, &res->status, &reaped);
	else
		done = wait_poll(pid, pfd, ms, &res->status, &reaped);
	if (pfd >= 0)
		close(pfd);
	if (!done) {
		res->timed_out = 1;
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
	}
	if (!reaped)
		while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
			;
	read_output(out_fd, res->output, sizeof(res->output));
	close(out_fd);
	return 0;
}

/* sysexits.h codes: enhanced status and text (EX_TEMPFAIL and EX_OSERR
 * are the temporary ones), as local(8) and pipe(8) report them. */
static const struct {
	int status;
	const char *dsn;
	const char *text;
} sysexits_table[] = {
	{EX_USAGE, "5.3.0", "command line usage error"},
	{EX_DATAERR, "5.6.0", "data format error"},
	{EX_NOINPUT, "5.3.0", "cannot open input"},
	{EX_NOUSER, "5.1.1", "user unknown"},
	{EX_NOHOST, "5.1.2", "host name unknown"},
	{EX_UNAVAILABLE, "5.3.0", "service unavailable"},
	{EX_SOFTWARE, "5.3.0", "internal software error"},
	{EX_OSERR, "4.3.0", "system resource problem"},
	{EX_OSFILE, "5.3.0", "critical OS file missing"},
	{EX_CANTCREAT, "5.2.0", "can't create user output file"},
	{EX_IOERR, "5.3.0", "input/output error"},
	{EX_TEMPFAIL, "4.3.0", "temporary failure"},
	{EX_PROTOCOL, "5.5.0", "remote error in protocol"},
	{EX_NOPERM, "5.7.0", "permission denied"},
	{EX_CONFIG, "5.3.5", "local configuration error"},
};

/* output_dsn - length of an enhanced status code at the start of out
 * (class 4 or 5, followed by a blank or the end), or 0. */
static size_t
output_dsn(const char *out, char *dsn, size_t dsn_len)
{
	const char *cp = out;
	int digits;

	if (*cp != '4' && *cp != '5')
		return 0;
	cp++;
	for (int part = 0; part < 2; part++) {
		if (*cp++ != '.')
			return 0;
		for (digits = 0; isdigit((unsigned char)*cp) && digits < 4; cp++)
			digits++;
		if (digits == 0 || digits > 3)
			return 0;
	}
	if (*cp != 0 && *cp != ' ')
		return 0;
	if ((size_t)(cp - out) >= dsn_len)
		return 0;
	memcpy(dsn, out, (size_t)(cp - out));
	dsn[cp - out] = 0;
	return (size_t)(cp - out);
}

enum local_stat
deliver_command_outcome(const struct deliver_cmd_result *res,
    const char *name, char *dsn, size_t dsn_len, struct buf *text)
{
	const char *out = res->output;
	const char *sep = *out ? ". Command output: " : "";
	int status = res->status;
	size_t dlen;

	buf_reset(text);
	if (res->timed_out) {
		strlcpy(dsn, "5.3.0", dsn_len);
		buf_printf(text, "Command time limit exceeded: \"%s\"%s%s", name,
		    sep, out);
		return LOCAL_BOUNCE;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		strlcpy(dsn, "2.0.0", dsn_len);
		buf_puts(text, out);
		return LOCAL_SENT;
	}
	if (WIFSIGNALED(status)) {
		strlcpy(dsn, "4.3.0", dsn_len);
		buf_printf(text, "Command died with signal %d: \"%s\"%s%s",
		    WTERMSIG(status), name, sep, out);
		return LOCAL_DEFER;
	}
	if ((dlen = output_dsn(out, dsn, dsn_len)) > 0) {
		buf_puts(text, skipblanks(out + dlen));
		return dsn[0] == '4' ? LOCAL_DEFER : LOCAL_BOUNCE;
	}
	for (size_t i = 0; i < sizeof(sysexits_table) / sizeof(sysexits_table[0]); i++) {
		if (sysexits_table[i].status == WEXITSTATUS(status)) {
			strlcpy(dsn, sysexits_table[i].dsn, dsn_len);
			buf_printf(text, "%s%s%s", sysexits_table[i].text, sep, out);
			return dsn[0] == '4' ? LOCAL_DEFER : LOCAL_BOUNCE;
		}
	}
	strlcpy(dsn, "5.3.0", dsn_len);
	buf_printf(text, "Command died with status %d: \"%s\"%s%s",
	    WEXITSTATUS(status), name, sep, out);
	return LOCAL_BOUNCE;
}

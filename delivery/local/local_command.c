/* SPDX-License-Identifier: MIT */
/* local_command - deliver by running a command (|command in aliases,
 * :include: and .forward files, and mailbox_command).
 *
 * Security: the command text comes from the alias file, an include file,
 * the user's own .forward or main.cf, never from the envelope.  Envelope
 * data (recipient, extension, sender, client) reaches the command only
 * through environment variables, each filtered through
 * command_expansion_filter (other bytes become '_').  |command always
 * runs as argv {shell, "-c", text}; mailbox_command is split on blanks
 * and run directly unless it contains shell metacharacters.  The child
 * runs in its own session with only fds 0-2 open, PATH reset, as the
 * given user (never as root: default_privs instead) when the agent runs
 * as root, in the user's home directory.
 *
 * The message copy (From_ line, Return-Path:, X-Original-To:, optional
 * Delivered-To:) is written to an unlinked temporary file that becomes
 * the command's standard input, and the output goes to another one, so
 * neither side can block the other.  The command is killed (its whole
 * process group) after command_time_limit.
 *
 * Outcome: exit 0 = sent ("delivered to command: CMD"); sysexits codes
 * per local_sysexits.c; other statuses bounce ("Command died with status
 * N"); a signal defers.  Output that starts with an RFC 3463 code
 * overrides the class and code of a failure. */
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
#include <unistd.h>

#include "local.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define CMD_OUTPUT_MAX	1024
#define CMD_ENV_MAX	32

/* tmp_file - an unlinked read-write temporary file. */
static int
tmp_file(void)
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
	tmpl = concatenate(dir, "/postino-local.XXXXXX", (char *)0);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) >= 0)
		(void)unlink(tmpl);
	free(tmpl);
	return fd;
}

/* env_add - NAME=value, value filtered (filter NULL: as is). */
static void
env_add(char **env, int *n, const char *name, const char *value,
    const char *filter)
{
	char *s;

	if (*n >= CMD_ENV_MAX - 1 || value == NULL)
		return;
	s = concatenate(name, "=", value, (char *)0);
	if (filter)
		for (char *cp = s + strlen(name) + 1; *cp; cp++)
			if (strchr(filter, *cp) == NULL)
				*cp = '_';
	env[(*n)++] = s;
	env[*n] = NULL;
}

/* has_shell_meta - does a mailbox_command need a shell? */
static int
has_shell_meta(const char *cmd)
{
	return strpbrk(cmd, "\"'`\\$;&|<>()*?[]{}~#=\n") != NULL;
}

/* child_exec - in the child: privileges, fds, exec.  Never returns. */
static void
child_exec(char **argv, char **env, int in_fd, int out_fd, uid_t uid,
    gid_t gid, const char *home)
{
	(void)setsid();
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(EX_OSERR);
	for (int fd = 3; fd < 1024; fd++)
		(void)close(fd);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (delivery_conf.is_root) {
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0
		    || getuid() == 0 || geteuid() == 0)
			_exit(EX_OSERR);
	}
	if (home == NULL || chdir(home) < 0)
		(void)chdir("/");
	umask(077);
	if (strchr(argv[0], '/') == NULL) {
		(void)setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
		execvpe(argv[0], argv, env);
	} else {
		execve(argv[0], argv, env);
	}
	{
		static const char msg[] = "cannot execute command\n";

		(void)!write(2, msg, sizeof(msg) - 1);
	}
	_exit(127);
}

/* wait_child - wait with a time limit; 0 and *status_r, or 1 timed out. */
static int
wait_child(pid_t pid, long limit, int *status_r)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	long deadline_ms = limit * 1000L;
	int timed_out = 0;

	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int n;

		do {
			n = poll(&p, 1, deadline_ms > 0x7fffffffL ? 0x7fffffff
			    : (int)deadline_ms);
		} while (n < 0 && errno == EINTR);
		if (n == 0)
			timed_out = 1;
		close(pfd);
	} else {
		/* No pidfd: poll waitpid once per 100 ms, bounded. */
		for (long waited = 0;; waited += 100) {
			pid_t r = waitpid(pid, status_r, WNOHANG);

			if (r == pid)
				return 0;
			if (waited >= deadline_ms) {
				timed_out = 1;
				break;
			}
			usleep(100000);
		}
	}
	if (timed_out) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
	}
	while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
		;
	return timed_out;
}

/* read_output - the first bytes of the command's output, printable. */
static void
read_output(int fd, char *out, size_t len)
{
	ssize_t n;
	size_t o = 0;

	out[0] = 0;
	n = pread(fd, out, len - 1, 0);
	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		if (c == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		out[o++] = (char)c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = 0;
}

/* output_dsn - an RFC 3463 code at the start of the output, or 0. */
static size_t
output_dsn(const char *out, char *dsn, size_t dsn_len)
{
	const char *cp = out;
	int digits;

	if (*cp != '2' && *cp != '4' && *cp != '5')
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

void
local_command(struct local_ctx *ctx, const char *command, uid_t uid,
    gid_t gid, const char *user, const char *home, const char *shell,
    int via_shell_always)
{
	char *env[CMD_ENV_MAX];
	char **argv = NULL, *split = NULL;
	char output[CMD_OUTPUT_MAX];
	int n_env = 0, in_fd = -1, out_fd = -1, status = 0, qerr, flags;
	const char *filter = local_conf.cmd_filter;
	struct deliver_request *dr = ctx->msg->dr;
	pid_t pid;
	int timed_out;

	command = skipblanks(command);
	if (dr->verify && *command != 0) {
		/* An address verification probe: nothing is run. */
		local_report(ctx, LOCAL_SENT, "2.0.0", "delivers to command: %s",
		    command);
		return;
	}
	if (*command == 0) {
		local_report(ctx, LOCAL_BOUNCE, "5.3.5",
		    "mail system configuration error: empty command");
		return;
	}
	if (delivery_conf.is_root && uid == 0) {
		uid = local_conf.nobody_uid;
		gid = local_conf.nobody_gid;
	}

	/* The message copy, then a file for the output. */
	flags = LOCAL_COPY_FROM | LOCAL_COPY_RETURN | LOCAL_COPY_ORIG;
	if (delivery_conf.deliv_mask & LOCAL_DELIV_COMMAND)
		flags |= LOCAL_COPY_DELIVERED;
	if ((in_fd = tmp_file()) < 0 || (out_fd = tmp_file()) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "cannot create temporary file: %s", strerror(errno));
		goto out;
	}
	if (local_copy(ctx, in_fd, flags, &qerr) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "%s: %s", qerr ? "queue file read error" :
		    "temporary file write error", strerror(qerr ? qerr : errno));
		goto out;
	}
	if (lseek(in_fd, 0, SEEK_SET) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0", "lseek: %s",
		    strerror(errno));
		goto out;
	}

	/* argv: never built from envelope data. */
	if (via_shell_always || has_shell_meta(command)) {
		argv = xcalloc(4, sizeof(*argv));
		argv[0] = xstrdup(local_conf.shell);
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(command);
	} else {
		char *bp, *tok;
		size_t count = 0;

		split = xstrdup(command);
		bp = split;
		argv = xcalloc(1, sizeof(*argv));
		while ((tok = mystrtok(&bp, " \t\r\n")) != NULL) {
			argv = xreallocarray(argv, count + 2, sizeof(*argv));
			argv[count++] = xstrdup(tok);
			argv[count] = NULL;
		}
	}

	/* Environment. */
	env[0] = NULL;
	env_add(env, &n_env, "PATH", "/usr/local/bin:/usr/bin:/bin", NULL);
	env_add(env, &n_env, "SHELL", shell ? shell : "/bin/sh", NULL);
	env_add(env, &n_env, "HOME", home ? home : "/", NULL);
	env_add(env, &n_env, "USER", user, filter);
	env_add(env, &n_env, "LOGNAME", user, filter);
	env_add(env, &n_env, "LOCAL", ctx->local, filter);
	if (ctx->extension)
		env_add(env, &n_env, "EXTENSION", ctx->extension, filter);
	env_add(env, &n_env, "DOMAIN", ctx->domain, filter);
	env_add(env, &n_env, "RECIPIENT", ctx->rcpt, filter);
	env_add(env, &n_env, "ORIGINAL_RECIPIENT", ctx->orig_rcpt, filter);
	env_add(env, &n_env, "SENDER", ctx->sender, filter);
	if (*dr->dsn_envid)
		env_add(env, &n_env, "ENVID", dr->dsn_envid, filter);
	if (*dr->client_address)
		env_add(env, &n_env, "CLIENT_ADDRESS", dr->client_address, filter);
	if (*dr->client_name)
		env_add(env, &n_env, "CLIENT_HOSTNAME", dr->client_name, filter);
	if (*dr->client_helo)
		env_add(env, &n_env, "CLIENT_HELO", dr->client_helo, filter);
	if (*dr->client_protocol)
		env_add(env, &n_env, "CLIENT_PROTOCOL", dr->client_protocol, filter);
	{
		char *names = xstrdup(var_export_environment);
		char *bp = names, *name;

		while ((name = mystrtok(&bp, ", \t")) != NULL) {
			const char *val = getenv(name);

			if (val && strcmp(name, "PATH") != 0)
				env_add(env, &n_env, name, val, NULL);
		}
		free(names);
	}

	if ((pid = fork()) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0", "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, env, in_fd, out_fd, uid, gid, home);
	timed_out = wait_child(pid, local_conf.cmd_time_limit, &status);
	read_output(out_fd, output, sizeof(output));

	if (timed_out) {
		local_report(ctx, LOCAL_BOUNCE, "5.3.0",
		    "Command time limit exceeded: \"%s\"%s%s", command,
		    *output ? ". Command output: " : "", output);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		local_report(ctx, LOCAL_SENT, "2.0.0", "delivered to command: %s",
		    command);
	} else {
		char dsn[16];
		size_t dlen = output_dsn(output, dsn, sizeof(dsn));
		const char *text, *code;
		int soft;

		if (dlen > 0 && dsn[0] != '2') {
			local_report(ctx, dsn[0] == '4' ? LOCAL_DEFER : LOCAL_BOUNCE,
			    dsn, "%s", skipblanks(output + dlen));
		} else if (WIFEXITED(status) && (code = local_sysexits(
			WEXITSTATUS(status), &text, &soft)) != NULL) {
			local_report(ctx, soft ? LOCAL_DEFER : LOCAL_BOUNCE, code,
			    "%s%s%s", text, *output ? ". Command output: " : "",
			    output);
		} else if (WIFEXITED(status)) {
			local_report(ctx, LOCAL_BOUNCE, "5.3.0",
			    "Command died with status %d: \"%s\"%s%s",
			    WEXITSTATUS(status), command,
			    *output ? ". Command output: " : "", output);
		} else {
			local_report(ctx, LOCAL_DEFER, "4.3.0",
			    "Command died with signal %d: \"%s\"%s%s",
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0, command,
			    *output ? ". Command output: " : "", output);
		}
	}

out:
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	for (int i = 0; i < n_env; i++)
		free(env[i]);
	if (argv) {
		for (size_t i = 0; argv[i]; i++)
			free(argv[i]);
		free(argv);
	}
	free(split);
}

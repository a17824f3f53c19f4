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
 * the command's standard input; delivery/common/deliver_command.c runs
 * the command (output in another file, so neither side can block the
 * other; its whole process group killed after command_time_limit) and
 * says what its end means: exit 0 = sent ("delivered to command: CMD");
 * sysexits codes, "Command died with status N" (bounce), a signal
 * (defer), an RFC 3463 code at the start of the output, as Postfix. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "local.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define CMD_ENV_MAX	32

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

void
local_command(struct local_ctx *ctx, const char *command, uid_t uid,
    gid_t gid, const char *user, const char *home, const char *shell,
    int via_shell_always)
{
	char *env[CMD_ENV_MAX];
	char **argv = NULL, *split = NULL;
	int n_env = 0, in_fd = -1, qerr, flags;
	const char *filter = local_conf.cmd_filter;
	struct deliver_request *dr = ctx->msg->dr;
	struct deliver_cmd cmd;
	struct deliver_cmd_result *res = NULL;

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
	if ((in_fd = deliver_tmp_file()) < 0) {
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

	memset(&cmd, 0, sizeof(cmd));
	cmd.argv = argv;
	cmd.env = env;
	cmd.in_fd = in_fd;
	cmd.set_ids = delivery_conf.is_root;
	cmd.uid = uid;
	cmd.gid = gid;
	cmd.cwd = home ? home : "/";
	cmd.cwd_soft = 1;
	cmd.time_limit = local_conf.cmd_time_limit;
	cmd.program = "local";
	res = xmalloc(sizeof(*res));
	if (deliver_command_run(&cmd, res) < 0) {
		local_report(ctx, LOCAL_DEFER, "4.3.0", "fork: %s", strerror(errno));
		goto out;
	}
	{
		struct buf *text = buf_new(256, 8192);
		char dsn[16];
		enum local_stat stat;

		stat = deliver_command_outcome(res, command, dsn, sizeof(dsn), text);
		if (stat == LOCAL_SENT)
			local_report(ctx, LOCAL_SENT, "2.0.0",
			    "delivered to command: %s", command);
		else
			local_report(ctx, stat, dsn, "%s", buf_str(text));
		buf_free(&text);
	}

out:
	if (in_fd >= 0)
		close(in_fd);
	free(res);
	for (int i = 0; i < n_env; i++)
		free(env[i]);
	if (argv) {
		for (size_t i = 0; argv[i]; i++)
			free(argv[i]);
		free(argv);
	}
	free(split);
}

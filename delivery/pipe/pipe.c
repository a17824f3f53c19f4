/* SPDX-License-Identifier: MIT */
/* pipe - the pipe(8) delivery agent: a message to an external command
 * (dovecot-lda, a content filter, Mailman, UUCP...), with the command
 * attributes of its master.cf entry (pipe_attr.c):
 *
 *	dovecot unix - n n - - pipe
 *	  flags=DRhu user=vmail:vmail argv=/usr/lib/dovecot/dovecot-lda
 *	  -f ${sender} -a ${original_recipient} -d ${user}@${nexthop}
 *
 * One request (one message, its recipients for one destination, at most
 * SERVICE_destination_recipient_limit of them: qmgr's) is one run of the
 * command, whose outcome is every recipient's:
 *   - size= exceeded: bounce 5.2.3 "message too large";
 *   - D or O with more than one recipient: defer 4.3.5 (a configuration
 *     error: SERVICE_destination_recipient_limit must be 1), warned;
 *   - D: a Delivered-To: header with the recipient already in the
 *     message is a loop: bounce 5.4.6;
 *   - an address verification probe runs nothing: "delivers to command";
 *   - else the command runs (delivery/common/deliver_command.c) with the
 *     user's ids, in directory= ($queue_directory), with an environment
 *     of export_environment's variables and PATH=/usr/bin:/bin, its
 *     argv= expanded (pipe_argv.c), the message on standard input with
 *     the From_ line and headers of the flags, eol= line ends, ">From"
 *     and "." quoting; it is killed after SERVICE_time_limit.  Exit 0 is
 *     "delivered via SERVICE service (OUTPUT)", action "delivered" with
 *     X else "relayed"; failures as deliver_command_outcome() says.
 * The agent must run as root (master.cf unpriv "n"); one that runs as
 * another user runs commands as itself only when it was never root (an
 * instance that is not root), and otherwise defers (4.3.5).
 *
 * Logs the Postfix-shaped delivery line per recipient with relay=SERVICE,
 * and warnings for configuration errors. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_parse.h"
#include "agent_server.h"
#include "deliver_request.h"
#include "delivery.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "pipe.h"
#include "qfile.h"
#include "stringops.h"

#define PIPE_ENV_MAX	64

static int started_as_root;

/* pipe_conf_init - the parameters and the master.cf attributes. */
static void
pipe_conf_init(void)
{
	char **args = mail_server_args();

	mail_vars_bind(MAIL_VARS_PIPE);
	started_as_root = (geteuid() == 0);
	pipe_attr_parse(args ? args : (char *[]){NULL});
	delivery_conf.relay_name = pipe_attr.service;
	delivery_conf.is_root = started_as_root;
}

/* report_all - the same outcome for every recipient of the request. */
static void
report_all(int fd, struct local_msg *msg, const char *dsn, const char *status,
    const char *action, const char *text)
{
	struct deliver_request *dr = msg->dr;

	for (int i = 0; i < dr->rcpt_count; i++) {
		local_log_line(msg, dr->rcpt[i].address, dr->rcpt[i].orig_rcpt,
		    dsn, status, text);
		agent_server_status(fd, dr->request_id, i, dsn, status, action,
		    text, pipe_attr.service);
	}
}

/* external - an envelope address in the form SMTP writes it (the local
 * part quoted when it must be, once); malloc'd, "" stays "". */
static char *
external(const char *addr)
{
	char *in, *out;

	if (*addr == 0)
		return xstrdup("");
	in = addr_parse_internalize(addr);
	out = addr_parse_externalize(in);
	free(in);
	return out;
}

/* delivered_seen - D: does a Delivered-To: header of the message name
 * the recipient already (as written in the envelope, or as we write
 * it; case-insensitive)? */
static int
delivered_seen(struct local_msg *msg)
{
	char *ext = external(msg->dr->rcpt[0].address);
	int seen = delivered_find(msg->delivered, msg->dr->rcpt[0].address)
	    || delivered_find(msg->delivered, ext);

	free(ext);
	return seen;
}

/* env_build - export_environment's variables of this process, and PATH. */
static int
env_build(char **env)
{
	char *names = xstrdup(var_export_environment);
	char *bp = names, *name;
	int n = 0;

	while ((name = mystrtok(&bp, ", \t\r\n")) != NULL) {
		const char *val = getenv(name);

		if (val && strcmp(name, "PATH") != 0 && n < PIPE_ENV_MAX - 2)
			env[n++] = concatenate(name, "=", val, (char *)0);
	}
	env[n++] = xstrdup("PATH=/usr/bin:/bin");
	env[n] = NULL;
	free(names);
	return n;
}

/* message_size - ${size}: the content as SMTP would carry it (CRLF). */
static long
message_size(struct local_msg *msg)
{
	char buf[65536];
	off_t pos = 0, len = msg->dr->content_len;
	long lines = 0;

	while (pos < len) {
		size_t want = sizeof(buf);
		ssize_t n;

		if ((off_t)want > len - pos)
			want = (size_t)(len - pos);
		if ((n = pread(msg->fd, buf, want, msg->dr->content_offset + pos)) <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				lines++;
		pos += n;
	}
	return (long)len + lines;
}

/* run - the command for the whole request; reports every recipient. */
static void
run(int fd, struct local_msg *msg)
{
	struct deliver_request *dr = msg->dr;
	struct pipe_macros pm;
	struct qfile_msg *qm = NULL;
	struct local_result res;
	struct local_ctx ctx;
	struct deliver_cmd cmd;
	struct deliver_cmd_result *cres = NULL;
	struct buf *text = buf_new(256, 8192);
	char *env[PIPE_ENV_MAX], **argv = NULL;
	char *sender = NULL, *rcpt = NULL, *orig = NULL, dsn[16];
	int in_fd = -1, qerr, n_env = 0;
	enum local_stat stat;

	memset(&pm, 0, sizeof(pm));
	pm.dr = dr;
	pm.null_sender = (*dr->sender == 0);
	pm.sender = pm.null_sender ? pipe_attr.null_sender : dr->sender;
	if (pipe_attr.needs & PIPE_NEED_QFILE) {
		const char *err;

		if ((qm = qfile_read(dr->queue_path, &err)) == NULL) {
			buf_printf(text, "cannot read queue file %s: %s",
			    dr->queue_path, err);
			report_all(fd, msg, "4.3.0", "deferred", "delayed",
			    buf_str(text));
			goto out;
		}
		pm.client_port = qfile_msg_attr(qm, "client_port");
		pm.sasl_method = qfile_msg_attr(qm, "sasl_method");
		pm.sasl_username = qfile_msg_attr(qm, "sasl_username");
		pm.sasl_sender = qfile_msg_attr(qm, "sasl_sender");
	}
	if (pipe_attr.needs & PIPE_NEED_SIZE)
		snprintf(pm.size, sizeof(pm.size), "%ld", message_size(msg));
	argv = pipe_argv_expand(&pm);

	/* The copy: the headers name the first (with D or O, the only)
	 * recipient, in the form SMTP writes addresses. */
	sender = external(pm.sender);
	rcpt = external(dr->rcpt[0].address);
	orig = external(*dr->rcpt[0].orig_rcpt ? dr->rcpt[0].orig_rcpt
	    : dr->rcpt[0].address);
	memset(&res, 0, sizeof(res));
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = msg;
	ctx.res = &res;
	ctx.sender = sender;
	ctx.rcpt = rcpt;
	ctx.orig_rcpt = orig;
	if ((in_fd = deliver_tmp_file()) < 0
	    || local_copy_eol(&ctx, in_fd, pipe_attr.copy_flags, pipe_attr.eol,
	    &qerr) < 0 || lseek(in_fd, 0, SEEK_SET) < 0) {
		buf_printf(text, "%s: %s", in_fd >= 0 && qerr ?
		    "queue file read error" : "temporary file write error",
		    strerror(in_fd >= 0 && qerr ? qerr : errno));
		report_all(fd, msg, "4.3.0", "deferred", "delayed", buf_str(text));
		goto out;
	}

	n_env = env_build(env);
	memset(&cmd, 0, sizeof(cmd));
	cmd.argv = argv;
	cmd.env = env;
	cmd.in_fd = in_fd;
	cmd.set_ids = started_as_root;
	cmd.uid = pipe_attr.uid;
	cmd.gid = pipe_attr.gid;
	cmd.cwd = pipe_attr.directory;
	cmd.time_limit = pipe_attr.time_limit;
	cmd.program = "pipe";
	cres = xmalloc(sizeof(*cres));
	if (deliver_command_run(&cmd, cres) < 0) {
		buf_printf(text, "cannot run the command: %s", strerror(errno));
		report_all(fd, msg, "4.3.0", "deferred", "delayed", buf_str(text));
		goto out;
	}
	stat = deliver_command_outcome(cres, argv[0], dsn, sizeof(dsn), text);
	switch (stat) {
	case LOCAL_SENT: {
		char *out = xstrdup(buf_str(text));

		buf_reset(text);
		buf_printf(text, "delivered via %s service%s%s%s",
		    pipe_attr.service, *out ? " (" : "", out, *out ? ")" : "");
		free(out);
		report_all(fd, msg, "2.0.0", "sent",
		    (pipe_attr.flags & PIPE_FLAG_FINAL) ? "delivered" : "relayed",
		    buf_str(text));
		break;
	}
	case LOCAL_BOUNCE:
		report_all(fd, msg, dsn, "bounced", "failed", buf_str(text));
		break;
	case LOCAL_DEFER:
		report_all(fd, msg, dsn, "deferred", "delayed", buf_str(text));
		break;
	}

out:
	if (in_fd >= 0)
		close(in_fd);
	for (int i = 0; i < n_env; i++)
		free(env[i]);
	free(cres);
	pipe_argv_free(&argv);
	qfile_msg_free(&qm);
	free(sender);
	free(rcpt);
	free(orig);
	buf_free(&text);
}

/* handle_request - one request: the checks that need no command, then
 * the command. */
static void
handle_request(int fd, struct deliver_request *dr, double t_start,
    double t_active)
{
	struct local_msg msg;
	char text[512];

	if (local_msg_open(&msg, fd, dr, t_start, t_active,
	    pipe_attr.service) < 0)
		return;
	if (dr->rcpt_count < 1) {
		local_msg_close(&msg);
		return;
	}
	if (started_as_root && geteuid() != 0) {
		msg_warn("master.cf service %s: pipe runs without root privileges (unpriv column \"y\"): it must be \"n\" to run commands as user=%s",
		    pipe_attr.service, pipe_attr.user);
		report_all(fd, &msg, "4.3.5", "deferred", "delayed",
		    "mail system configuration error");
	} else if (pipe_attr.size_limit > 0
	    && dr->content_len > pipe_attr.size_limit) {
		report_all(fd, &msg, "5.2.3", "bounced", "failed",
		    "message too large");
	} else if ((pipe_attr.copy_flags & (LOCAL_COPY_DELIVERED | LOCAL_COPY_ORIG))
	    && dr->rcpt_count > 1) {
		msg_warn("pipe flag `%s' requires %s_destination_recipient_limit = 1",
		    (pipe_attr.copy_flags & LOCAL_COPY_DELIVERED) ? "D" : "O",
		    pipe_attr.service);
		report_all(fd, &msg, "4.3.5", "deferred", "delayed",
		    "mail system configuration error");
	} else if ((pipe_attr.copy_flags & LOCAL_COPY_DELIVERED)
	    && delivered_seen(&msg)) {
		char *to = external(dr->rcpt[0].address);

		snprintf(text, sizeof(text), "mail forwarding loop for %s", to);
		free(to);
		report_all(fd, &msg, "5.4.6", "bounced", "failed", text);
	} else if (dr->verify) {
		snprintf(text, sizeof(text), "delivers to command: %s",
		    pipe_attr.argv[0]);
		report_all(fd, &msg, "2.0.0", "sent", "delivered", text);
	} else {
		run(fd, &msg);
	}
	local_msg_close(&msg);
}

static const struct agent_server pipe_agent = {
	.name = "pipe",
	.conf_init = pipe_conf_init,
	.handle = handle_request,
};

int
main(int argc, char **argv)
{
	return agent_server_main(argc, argv, &pipe_agent);
}

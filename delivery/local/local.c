/* SPDX-License-Identifier: MIT */
/* local - the local delivery agent: process set-up, the connection loop
 * and one delivery request at a time.
 *
 * The process start and the request loop are delivery/common's
 * agent_server (under the master, or with -S path for tests); this file
 * reads local's parameters and handles one request: open the queue file,
 * deliver each recipient, answer.  local stays root when started as root
 * (master.cf unpriv=n): it needs to become each recipient.
 *
 * Logs (as "local"): one line per leaf delivery in Postfix's shape
 * (delivery/common/deliver_report.c) and warnings for protocol errors. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_server.h"
#include "attr.h"
#include "cleanup.h"
#include "deliver_request.h"
#include "local.h"
#include "mail_params.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* conf_mask - a "command, file, forward"-style list (the value of
 * parameter param) to bits. */
static int
conf_mask(const char *param, const char *value, const char *const *names,
    const int *bits)
{
	char *save = xstrdup(value);
	char *bp = save, *tok;
	int mask = 0;

	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		int i;

		lowercase(tok);
		for (i = 0; names[i]; i++)
			if (strcmp(tok, names[i]) == 0)
				break;
		if (names[i])
			mask |= bits[i];
		else
			msg_warn("%s: unknown keyword \"%s\" ignored", param, tok);
	}
	free(save);
	return mask;
}

/* alias_owner - the owner of an alias table's file (commands and files
 * in the alias database run with it); 0 when not a file. */
static uid_t
alias_owner(const char *title)
{
	char *type, *name, *path;
	struct stat st;
	uid_t uid = 0;

	if (map_split_type(title, "hash", &type, &name) < 0)
		return 0;
	if (strcmp(type, "hash") == 0 || strcmp(type, "btree") == 0)
		path = concatenate(name, ".db", (char *)0);
	else
		path = xstrdup(name);
	if (path[0] == '/' && stat(path, &st) == 0)
		uid = st.st_uid;
	free(path);
	free(type);
	free(name);
	return uid;
}

/* The configuration local(8) alone uses (delivery_conf: what it shares
 * with virtual). */
struct local_conf local_conf;

/* local_conf_init - read the parameters local uses. */
static void
local_conf_init(void)
{
	static const char *const exp_names[] = {"alias", "forward", "include", NULL};
	static const int exp_bits[] = {LOCAL_EXP_ALIAS, LOCAL_EXP_FORWARD,
	LOCAL_EXP_INCLUDE};
	static const char *const dlv_names[] = {"command", "file", "forward", NULL};
	static const int dlv_bits[] = {LOCAL_DELIV_COMMAND, LOCAL_DELIV_FILE,
	LOCAL_DELIV_FORWARD};
	static const char *const lock_names[] = {"fcntl", "dotlock", "flock", NULL};
	static const int lock_bits[] = {1, 2, 0};
	struct local_conf *c = &local_conf;
	struct delivery_conf *d = &delivery_conf;
	char *save, *bp, *tok;
	const char *privs;
	struct passwd *pw;
	int lk;

	mail_vars_bind(MAIL_VARS_LOCAL);
	d->relay_name = "local";
	d->is_root = (geteuid() == 0);
	c->cmd_mask = conf_mask(MAIL_PARAM_NAME(allow_mail_to_commands),
	    var_allow_mail_to_commands, exp_names, exp_bits);
	c->file_mask = conf_mask(MAIL_PARAM_NAME(allow_mail_to_files),
	    var_allow_mail_to_files, exp_names, exp_bits);
	d->deliv_mask = conf_mask(MAIL_PARAM_NAME(prepend_delivered_header),
	    var_prepend_delivered_header, dlv_names, dlv_bits);
	lk = conf_mask(MAIL_PARAM_NAME(mailbox_delivery_lock),
	    var_mailbox_delivery_lock, lock_names, lock_bits);
	d->lock_fcntl = (lk & 1) != 0;
	d->lock_dotlock = (lk & 2) != 0;
	c->owner_special = var_owner_request_special;
	c->expand_owner = var_expand_owner_alias;
	d->dup_limit = var_duplicate_filter_limit;
	d->size_limit = var_mailbox_size_limit;
	c->cmd_time_limit = var_command_time_limit;
	if (c->cmd_time_limit <= 0)
		c->cmd_time_limit = 1000;
	/* Never $name-expanded (mail_params.def): forward_path,
	 * mailbox_command, luser_relay come raw. */
	c->delimiter = var_recipient_delimiter;
	c->myorigin = var_myorigin;
	c->myhostname = var_myhostname;
	c->fwd_filter = var_forward_expansion_filter;
	c->cmd_filter = var_command_expansion_filter;
	c->forward_path = var_forward_path;
	c->mailbox_command = var_mailbox_command;
	c->luser_relay = var_luser_relay;
	c->mailbox_transport = var_mailbox_transport;
	c->fallback_transport = var_fallback_transport;
	c->home_mailbox = var_home_mailbox;
	c->spool_dir = var_mail_spool_directory;
	c->shell = *var_local_command_shell ? var_local_command_shell : "/bin/sh";

	save = xstrdup(var_mydestination);
	bp = save;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		if (strchr(tok, ':') || tok[0] == '/')
			continue;	/* tables and files: not supported here */
		c->mydest = xreallocarray(c->mydest, (size_t)c->mydest_count + 1,
		    sizeof(*c->mydest));
		c->mydest[c->mydest_count++] = lowercase(xstrdup(tok));
	}
	free(save);

	save = xstrdup(var_alias_maps);
	bp = save;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		char *err = NULL;
		struct map *m;
		const char *title = tok;

		if (strncmp(title, "proxy:", 6) == 0)
			title += 6;	/* opened directly, as Postfix does */
		m = map_open(title, O_RDONLY, MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE
		    | MAP_FLAG_NO_REGSUB, &err);
		free(err);
		if (m == NULL)
			continue;
		c->alias_maps = xreallocarray(c->alias_maps,
		    (size_t)c->alias_count + 1, sizeof(*c->alias_maps));
		c->alias_titles = xreallocarray(c->alias_titles,
		    (size_t)c->alias_count + 1, sizeof(*c->alias_titles));
		c->alias_owner = xreallocarray(c->alias_owner,
		    (size_t)c->alias_count + 1, sizeof(*c->alias_owner));
		c->alias_maps[c->alias_count] = m;
		c->alias_titles[c->alias_count] = xstrdup(title);
		c->alias_owner[c->alias_count] = alias_owner(title);
		c->alias_count++;
	}
	free(save);

	privs = var_default_privs;
	if ((pw = getpwnam(privs)) != NULL) {
		c->nobody_uid = pw->pw_uid;
		c->nobody_gid = pw->pw_gid;
	} else if (d->is_root) {
		msg_fatal("default_privs: unknown user \"%s\"", privs);
	} else {
		c->nobody_uid = getuid();
		c->nobody_gid = getgid();
	}
	if (d->is_root && c->nobody_uid == 0)
		msg_fatal("default_privs: \"%s\" must not be a privileged user", privs);
	cleanup_init();		/* forwarded mail goes through cleanup */
}

/* lower_domain - the address with its domain folded to lower case. */
static char *
lower_domain(const char *addr)
{
	char *copy = xstrdup(addr);
	char *at = strrchr(copy, '@');

	if (at)
		lowercase(at + 1);
	return copy;
}

/* deliver_one - one recipient of a request. */
static void
deliver_one(struct local_msg *msg, int index, int fd)
{
	struct deliver_rcpt *r = msg->dr->rcpt + index;
	struct local_result res;
	struct local_ctx ctx;
	char *rcpt = lower_domain(r->address);
	long dups_before;

	memset(&res, 0, sizeof(res));
	res.text = buf_new(128, 4096);
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = msg;
	ctx.res = &res;
	ctx.rcpt_index = index;
	ctx.orig_rcpt = *r->orig_rcpt ? r->orig_rcpt : r->address;
	ctx.top_rcpt = rcpt;
	ctx.rcpt = rcpt;
	ctx.sender = msg->dr->sender;
	dups_before = msg->dup_hits;
	local_recipient(&ctx);

	if (res.leaves == 0 && res.npending == 0
	    && msg->dup_hits > dups_before) {
		/* Everything this recipient expands to was already delivered
		 * in this request (duplicate filter): done, as Postfix. */
		strlcpy(res.dsn, "2.0.0", sizeof(res.dsn));
		buf_set(res.text, "duplicate delivery suppressed");
	} else if (res.leaves == 0 && res.npending == 0) {
		/* Nothing reported: should not happen; never claim success. */
		res.stat = LOCAL_DEFER;
		strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
		buf_set(res.text, "internal error: no delivery status");
		local_log_line(msg, rcpt, ctx.orig_rcpt, res.dsn, "deferred",
		    buf_str(res.text));
	}
	(void)fd;		/* answered with the batch */
	local_answer(msg, index, rcpt, ctx.orig_rcpt, &res, "local");
	free(rcpt);
}

/* handle_request - one message: local_request_run does the shared part. */
static void
handle_request(int fd, struct deliver_request *dr, double t_start,
    double t_active)
{
	local_request_run(fd, dr, t_start, t_active, "local", deliver_one);
}

static const struct agent_server local_agent = {
	.name = "local",
	.conf_init = local_conf_init,
	.handle = handle_request,
	.commit = local_commit,
};

int
main(int argc, char **argv)
{
	local_group_commit = 1;
	return agent_server_main(argc, argv, &local_agent);
}

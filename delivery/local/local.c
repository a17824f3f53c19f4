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
 * (local_report.c) and warnings for protocol errors. */
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
#include "deliver_request.h"
#include "local.h"
#include "mail_conf.h"
#include "mail_server.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#ifdef LOCAL_HAVE_CLEANUP
#include "cleanup/cleanup.h"
#endif

/* conf_mask - a "command, file, forward"-style list to bits. */
static int
conf_mask(const char *param, const char *const *names, const int *bits)
{
	char *save = xstrdup(mail_conf_str(param));
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
	char *save, *bp, *tok;
	const char *privs;
	struct passwd *pw;
	int lk;

	c->is_root = (geteuid() == 0);
	c->cmd_mask = conf_mask("allow_mail_to_commands", exp_names, exp_bits);
	c->file_mask = conf_mask("allow_mail_to_files", exp_names, exp_bits);
	c->deliv_mask = conf_mask("prepend_delivered_header", dlv_names, dlv_bits);
	lk = conf_mask("mailbox_delivery_lock", lock_names, lock_bits);
	c->lock_fcntl = (lk & 1) != 0;
	c->lock_dotlock = (lk & 2) != 0;
	c->owner_special = mail_conf_bool("owner_request_special");
	c->expand_owner = mail_conf_bool("expand_owner_alias");
	c->dup_limit = mail_conf_int("duplicate_filter_limit");
	c->size_limit = mail_conf_int("mailbox_size_limit");
	c->cmd_time_limit = mail_conf_time("command_time_limit", 's');
	if (c->cmd_time_limit <= 0)
		c->cmd_time_limit = 1000;
	c->delimiter = xstrdup(mail_conf_str("recipient_delimiter"));
	c->myorigin = xstrdup(mail_conf_str("myorigin"));
	c->myhostname = xstrdup(mail_conf_str("myhostname"));
	c->fwd_filter = xstrdup(mail_conf_str("forward_expansion_filter"));
	c->cmd_filter = xstrdup(mail_conf_str("command_expansion_filter"));
	c->forward_path = xstrdup(mail_conf_raw("forward_path") ?
	    mail_conf_raw("forward_path") : "");
	c->mailbox_command = xstrdup(mail_conf_raw("mailbox_command") ?
	    mail_conf_raw("mailbox_command") : "");
	c->luser_relay = xstrdup(mail_conf_raw("luser_relay") ?
	    mail_conf_raw("luser_relay") : "");
	c->home_mailbox = xstrdup(mail_conf_str("home_mailbox"));
	c->spool_dir = xstrdup(mail_conf_str("mail_spool_directory"));
	c->shell = *mail_conf_str("local_command_shell") ?
	    xstrdup(mail_conf_str("local_command_shell")) : "/bin/sh";

	save = xstrdup(mail_conf_str("mydestination"));
	bp = save;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		if (strchr(tok, ':') || tok[0] == '/')
			continue;	/* tables and files: not supported here */
		c->mydest = xreallocarray(c->mydest, (size_t)c->mydest_count + 1,
		    sizeof(*c->mydest));
		c->mydest[c->mydest_count++] = lowercase(xstrdup(tok));
	}
	free(save);

	save = xstrdup(mail_conf_str("alias_maps"));
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

	privs = mail_conf_str("default_privs");
	if ((pw = getpwnam(privs)) != NULL) {
		c->nobody_uid = pw->pw_uid;
		c->nobody_gid = pw->pw_gid;
	} else if (c->is_root) {
		msg_fatal("default_privs: unknown user \"%s\"", privs);
	} else {
		c->nobody_uid = getuid();
		c->nobody_gid = getgid();
	}
	if (c->is_root && c->nobody_uid == 0)
		msg_fatal("default_privs: \"%s\" must not be a privileged user", privs);
#ifdef LOCAL_HAVE_CLEANUP
	cleanup_init();		/* forwarded mail goes through cleanup */
#endif
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

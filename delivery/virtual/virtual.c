/* SPDX-License-Identifier: MIT */
/* virtual - the virtual delivery agent (Postfix's virtual(8)): mailboxes
 * of virtual mailbox domains under virtual_mailbox_base.
 *
 * Per recipient (the full address folded to lower case):
 *   - a Delivered-To: header with the address already in the message is
 *     a loop: bounce 5.4.6;
 *   - virtual_mailbox_maps gives the mailbox (not found: bounce 5.1.1
 *     "unknown user"), virtual_uid_maps and virtual_gid_maps the ids
 *     (static: works; not found, malformed, or a uid below
 *     virtual_minimum_uid: defer 4.3.5, a configuration error);
 *   - any table's temporary error defers with 4.3.0 "TABLE: table lookup
 *     failure": a directory outage never bounces mail;
 *   - RESULT ending in '/' is a Maildir (tmp/, new/, cur/, created as
 *     needed), else an mbox file locked per virtual_mailbox_lock and
 *     bounded by virtual_mailbox_limit (also the largest message a Maildir
 *     takes); directories above the mailbox are created with the
 *     recipient's ids;
 *   - the file and its directory are fsync'd before "sent".
 * When running as root every file access happens with the looked-up
 * uid/gid; a non-root instance delivers as itself.
 *
 * Logs (as "virtual"): "ID: to=<rcpt>, relay=virtual, delay=...,
 * delays=..., dsn=2.0.0, status=sent (delivered to maildir)", and warnings
 * for table errors. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_server.h"
#include "deliver_request.h"
#include "delivery.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "virtual.h"

struct virtual_conf virtual_conf;

/* conf_lock - virtual_mailbox_lock: fcntl, dotlock, flock (flock is
 * treated as fcntl: both are advisory locks on the open file). */
static void
conf_lock(void)
{
	char *save = xstrdup(var_virtual_mailbox_lock);
	char *bp = save, *tok;

	delivery_conf.lock_fcntl = delivery_conf.lock_dotlock = 0;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		lowercase(tok);
		if (strcmp(tok, "fcntl") == 0 || strcmp(tok, "flock") == 0)
			delivery_conf.lock_fcntl = 1;
		else if (strcmp(tok, "dotlock") == 0)
			delivery_conf.lock_dotlock = 1;
		else
			msg_warn("virtual_mailbox_lock: unknown keyword \"%s\" ignored",
			    tok);
	}
	free(save);
}

/* virtual_conf_init - the parameters virtual uses. */
static void
virtual_conf_init(void)
{
	struct virtual_conf *c = &virtual_conf;

	mail_vars_bind(MAIL_VARS_VIRTUAL);
	c->base = xstrdup(var_virtual_mailbox_base);
	/* The stock master.cf runs virtual everywhere: without a base it
	 * starts anyway and defers what it is given (a configuration error,
	 * never a bounce), instead of crashing at every start. */
	if (c->base[0] != 0 && c->base[0] != '/')
		msg_warn("virtual_mailbox_base must be an absolute pathname: \"%s\": deliveries will be deferred",
		    c->base);
	c->minimum_uid = var_virtual_minimum_uid;
	virtual_maps_open(&c->mailbox, MAIL_PARAM_NAME(virtual_mailbox_maps),
	    var_virtual_mailbox_maps);
	virtual_maps_open(&c->uid, MAIL_PARAM_NAME(virtual_uid_maps),
	    var_virtual_uid_maps);
	virtual_maps_open(&c->gid, MAIL_PARAM_NAME(virtual_gid_maps),
	    var_virtual_gid_maps);

	/* The writers are local(8)'s: tell them how virtual wants it. */
	delivery_conf.relay_name = "virtual";
	delivery_conf.is_root = (geteuid() == 0);
	delivery_conf.size_limit = var_virtual_mailbox_limit;
	delivery_conf.deliv_mask = LOCAL_DELIV_FILE;	/* always Delivered-To: */
	conf_lock();
}

/* lookup_id - a uid or gid from its tables; 0 with *id_r set, or -1
 * after reporting the outcome. */
static int
lookup_id(struct local_ctx *ctx, struct virtual_maps *vm, const char *what,
    long minimum, long *id_r)
{
	const char *title;
	char *value = NULL;
	long id;

	switch (virtual_maps_find(vm, ctx->rcpt, &value, &title)) {
	case MAP_FOUND:
		break;
	case MAP_NOTFOUND:
		local_report(ctx, LOCAL_DEFER, "4.3.5",
		    "mail system configuration error: recipient %s: %s not found in %s",
		    ctx->rcpt, what, vm->param);
		return -1;
	case MAP_TEMPFAIL:
		local_report(ctx, LOCAL_DEFER, "4.3.0", "%s: table lookup failure",
		    title);
		return -1;
	}
	if (!alldig(value) || str_to_long(value, &id) < 0 || id < minimum) {
		local_report(ctx, LOCAL_DEFER, "4.3.5",
		    "mail system configuration error: recipient %s: bad %s \"%s\" in %s%s",
		    ctx->rcpt, what, value, vm->param,
		    alldig(value) && *value ? " (below virtual_minimum_uid)" : "");
		free(value);
		return -1;
	}
	free(value);
	*id_r = id;
	return 0;
}

/* bad_path - 1 when a table's mailbox result is unusable: empty, absolute
 * or with a ".." component (it must stay under the base). */
static int
bad_path(const char *path)
{
	const char *cp = path;

	if (*path == 0 || *path == '/')
		return 1;
	while (*cp) {
		size_t n = strcspn(cp, "/");

		if (n == 2 && cp[0] == '.' && cp[1] == '.')
			return 1;
		cp += n;
		if (*cp == '/')
			cp++;
	}
	return 0;
}

/* make_parents - create the directories between the base and the mailbox
 * (with the caller's current privileges); errors are left to the writer,
 * which reports them. */
static void
make_parents(const char *path)
{
	char *copy = xstrdup(path);
	size_t base_len = strlen(virtual_conf.base);
	char *end = copy + strlen(copy);

	/* A Maildir's own directory is made by the writer. */
	if (end > copy && end[-1] == '/')
		*--end = 0;
	for (char *cp = copy + base_len + 1; (cp = strchr(cp, '/')) != NULL; cp++) {
		*cp = 0;
		if (mkdir(copy, 0700) < 0 && errno != EEXIST)
			break;
		*cp = '/';
	}
	free(copy);
}

/* virtual_recipient - deliver one recipient (ctx->rcpt, lowercased). */
static void
virtual_recipient(struct local_ctx *ctx)
{
	const char *title;
	char *result = NULL, *path;
	long uid, gid;
	size_t len;

	if (delivered_find(ctx->msg->delivered, ctx->rcpt)) {
		local_report(ctx, LOCAL_BOUNCE, "5.4.6", "mail forwarding loop for %s",
		    ctx->rcpt);
		return;
	}
	switch (virtual_maps_find(&virtual_conf.mailbox, ctx->rcpt, &result,
	    &title)) {
	case MAP_FOUND:
		break;
	case MAP_NOTFOUND:
		local_report(ctx, LOCAL_BOUNCE, "5.1.1", "unknown user: \"%s\"",
		    ctx->rcpt);
		return;
	case MAP_TEMPFAIL:
		local_report(ctx, LOCAL_DEFER, "4.3.0", "%s: table lookup failure",
		    title);
		return;
	}
	if (virtual_conf.base[0] != '/') {
		local_report(ctx, LOCAL_DEFER, "4.3.5",
		    "mail system configuration error: virtual_mailbox_base is not an absolute pathname");
		free(result);
		return;
	}
	if (bad_path(result)) {
		local_report(ctx, LOCAL_DEFER, "4.3.5",
		    "mail system configuration error: recipient %s: bad mailbox \"%s\" in virtual_mailbox_maps",
		    ctx->rcpt, result);
		free(result);
		return;
	}
	if (lookup_id(ctx, &virtual_conf.uid, "uid", virtual_conf.minimum_uid,
	    &uid) < 0 || lookup_id(ctx, &virtual_conf.gid, "gid", 0, &gid) < 0) {
		free(result);
		return;
	}
	if (!delivery_conf.is_root) {
		uid = (long)getuid();
		gid = (long)getgid();
	}
	path = concatenate(virtual_conf.base, "/", result, (char *)0);
	free(result);
	/* A probe (verify=1) stops at local_*_deliver and creates nothing. */
	if (!ctx->msg->dr->verify) {
		local_privs_set((uid_t)uid, (gid_t)gid);
		make_parents(path);
		local_privs_restore();
	}
	len = strlen(path);
	if (path[len - 1] == '/') {
		if (delivery_conf.size_limit > 0
		    && ctx->msg->dr->content_len > delivery_conf.size_limit)
			local_report(ctx, LOCAL_BOUNCE, "5.2.2",
			    "maildir delivery failed: error writing message: File too large");
		else
			local_maildir_deliver(ctx, path, ctx->rcpt, (uid_t)uid,
			    (gid_t)gid, LOCAL_KIND_MAILBOX);
	} else {
		local_mbox_deliver(ctx, path, ctx->rcpt, (uid_t)uid, (gid_t)gid, 1,
		    LOCAL_KIND_MAILBOX);
	}
	free(path);
}

/* deliver_one - one recipient of a request, answered to qmgr. */
static void
deliver_one(struct local_msg *msg, int index, int fd)
{
	struct deliver_rcpt *r = msg->dr->rcpt + index;
	struct local_result res;
	struct local_ctx ctx;
	char *rcpt = lowercase(xstrdup(r->address));

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
	virtual_recipient(&ctx);
	if (res.leaves == 0 && res.npending == 0) {
		/* Nothing reported: should not happen; never claim success. */
		res.stat = LOCAL_DEFER;
		strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
		buf_set(res.text, "internal error: no delivery status");
		local_log_line(msg, rcpt, ctx.orig_rcpt, res.dsn, "deferred",
		    buf_str(res.text));
	}
	(void)fd;		/* answered with the batch */
	local_answer(msg, index, rcpt, ctx.orig_rcpt, &res, "virtual");
	free(rcpt);
}

/* handle_request - one message: local_request_run does the shared part. */
static void
handle_request(int fd, struct deliver_request *dr, double t_start,
    double t_active)
{
	local_request_run(fd, dr, t_start, t_active, "virtual", deliver_one);
}

static const struct agent_server virtual_agent = {
	.name = "virtual",
	.conf_init = virtual_conf_init,
	.handle = handle_request,
	.commit = local_commit,
};

int
main(int argc, char **argv)
{
	local_group_commit = 1;
	return agent_server_main(argc, argv, &virtual_agent);
}

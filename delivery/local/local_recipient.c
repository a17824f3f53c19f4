/* SPDX-License-Identifier: MIT */
/* local_recipient - deliver one address, at the top of a request or
 * inside an expansion, in local(8)'s order: forwarding-loop check,
 * aliases, the user's .forward, the user's mailbox, luser_relay, and
 * finally "unknown user".  Also resolves each destination of an
 * expansion (address, |command, /file, ~/file, :include:).
 *
 * The user's mailbox (local_mailbox): mailbox_command (not $-expanded;
 * run as the user, default_privs for root), else home_mailbox (relative
 * to the home directory; a trailing "/" means Maildir), else
 * mail_spool_directory/USER (a trailing "/" on the directory means
 * Maildir).  The mbox and Maildir writers are delivery/common/mailbox.c.
 *
 * Self-reference: an alias whose expansion names itself, or a user
 * listed in their own .forward, gets delivery to the mailbox for that
 * element (the alias lookup, resp. the .forward, is skipped).
 *
 * Bounded: nesting (LOCAL_NESTING_LIMIT) and a total number of steps per
 * recipient, so that a branching alias loop cannot multiply work. */
#include "postino_config.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "local.h"
#include "mail_addr_find.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define LOCAL_STEP_LIMIT	10000

/* local_domain_is_local - is this one of our domains? */
int
local_domain_is_local(const char *domain)
{
	if (*domain == 0 || strcasecmp(domain, local_conf.myorigin) == 0
	    || strcasecmp(domain, local_conf.myhostname) == 0
	    || strcasecmp(domain, "localhost") == 0)
		return 1;
	for (int i = 0; i < local_conf.mydest_count; i++)
		if (strcasecmp(domain, local_conf.mydest[i]) == 0)
			return 1;
	return 0;
}

/* luser_lookup - variables for luser_relay. */
static const char *
luser_lookup(const char *name, void *vctx)
{
	struct local_ctx *ctx = vctx;

	if (strcmp(name, "user") == 0 || strcmp(name, "local") == 0)
		return ctx->local;
	if (strcmp(name, "domain") == 0)
		return *ctx->domain ? ctx->domain : NULL;
	if (strcmp(name, "recipient") == 0)
		return ctx->rcpt;
	if (strcmp(name, "extension") == 0)
		return ctx->extension;
	if (strcmp(name, "recipient_delimiter") == 0)
		return *local_conf.delimiter ? local_conf.delimiter : NULL;
	return NULL;
}

void
local_recipient(struct local_ctx *ctx)
{
	char *local, *base, *ext = NULL;
	const char *at = strrchr(ctx->rcpt, '@');
	struct passwd *pw = NULL;
	int split;

	if (++ctx->res->steps > LOCAL_STEP_LIMIT) {
		if (ctx->res->steps == LOCAL_STEP_LIMIT + 1)
			local_report(ctx, LOCAL_BOUNCE, "5.4.6",
			    "alias expansion limit exceeded for %s", ctx->rcpt);
		return;
	}
	if (ctx->level > LOCAL_NESTING_LIMIT) {
		local_report(ctx, LOCAL_BOUNCE, "5.4.6",
		    "recipient nesting limit exceeded for %s", ctx->rcpt);
		return;
	}
	if (delivered_find(ctx->msg->delivered, ctx->rcpt)) {
		local_report(ctx, LOCAL_BOUNCE, "5.4.6",
		    "mail forwarding loop for %s", ctx->rcpt);
		return;
	}
	local = at ? xstrndup(ctx->rcpt, (size_t)(at - ctx->rcpt))
	    : xstrdup(ctx->rcpt);
	lowercase(local);
	ctx->local = local;
	ctx->domain = at ? at + 1 : "";
	split = mail_addr_split_ext(local, local_conf.delimiter);
	if (split >= 0) {
		base = xstrndup(local, (size_t)split);
		ext = xstrdup(local + split + 1);
	} else {
		base = xstrdup(local);
	}
	ctx->extension = ext;

	/* Aliases: user+ext, then user. */
	if (local_alias(ctx, local) || (ext && local_alias(ctx, base)))
		goto done;

	/* mailbox_transport: every local recipient, in passwd or not, after
	 * aliases and (for a passwd user) .forward. */
	if (*base != 0 && strchr(base, '/') == NULL
	    && (pw = getpwnam(base)) == NULL && *local_conf.mailbox_transport) {
		if (!local_dup_seen(ctx->msg, "mailbox", ctx->rcpt))
			local_pass(ctx, local_conf.mailbox_transport,
			    "mailbox_transport");
		goto done;
	}
	if (*base != 0 && strchr(base, '/') == NULL && pw != NULL) {
		char *user = xstrdup(pw->pw_name);
		char *home = xstrdup(pw->pw_dir);
		char *shell = xstrdup(pw->pw_shell);
		uid_t uid = pw->pw_uid;
		gid_t gid = pw->pw_gid;

		if (!(ctx->exp_type == LOCAL_EXP_FORWARD && ctx->exp_from
			&& strcmp(ctx->exp_from, user) == 0)
		    && local_forward(ctx, user, uid, gid, home, shell)) {
			/* .forward handled it */
		} else {
			local_mailbox(ctx, user, uid, gid, home, shell);
		}
		free(user);
		free(home);
		free(shell);
		goto done;
	}
	if (*local_conf.fallback_transport) {
		local_pass(ctx, local_conf.fallback_transport, "fallback_transport");
		goto done;
	}
	if (*local_conf.luser_relay) {
		char *dest = NULL;
		int undef = 0;

		if (local_expand(local_conf.luser_relay, luser_lookup, ctx,
			local_conf.fwd_filter, &dest, &undef) < 0 || *dest == 0) {
			local_report(ctx, LOCAL_DEFER, "4.3.5",
			    "mail system configuration error (luser_relay)");
		} else {
			struct local_ctx child = *ctx;

			child.level++;
			local_resolve_dest(&child, dest);
		}
		free(dest);
		goto done;
	}
	local_report(ctx, LOCAL_BOUNCE, "5.1.1", "unknown user: \"%s\"", local);

done:
	free(local);
	free(base);
	free(ext);
	ctx->local = NULL;
	ctx->extension = NULL;
}

/* deliver_address - an address named in an expansion. */
static void
deliver_address(struct local_ctx *ctx, const char *dest)
{
	char *addr, *at;

	if (*dest == '\\')
		dest++;
	if (*dest == 0 || *dest == '@')
		return;
	if (strchr(dest, '@') == NULL)
		addr = concatenate(dest, "@", local_conf.myorigin, (char *)0);
	else
		addr = xstrdup(dest);
	at = strrchr(addr, '@');
	lowercase(at + 1);
	if (local_domain_is_local(at + 1)) {
		struct local_ctx child = *ctx;

		child.rcpt = addr;
		local_recipient(&child);
	} else if (!local_dup_seen(ctx->msg, "forward", addr)) {
		local_resend(ctx, addr);
	}
	free(addr);
}

void
local_resolve_dest(struct local_ctx *ctx, const char *dest)
{
	if (*dest == '|') {
		if ((local_conf.cmd_mask & ctx->exp_type) == 0) {
			local_report(ctx, LOCAL_BOUNCE, "5.7.1",
			    "mail to command is restricted");
			return;
		}
		if (local_dup_seen(ctx->msg, "command", dest + 1))
			return;
		local_command(ctx, dest + 1, ctx->uid, ctx->gid, ctx->user,
		    ctx->home, ctx->shell, 1);
	} else if (strncasecmp(dest, ":include:", 9) == 0) {
		local_include(ctx, dest + 9);
	} else if (*dest == '/' || (dest[0] == '~' && dest[1] == '/')) {
		char *path;

		if ((local_conf.file_mask & ctx->exp_type) == 0) {
			local_report(ctx, LOCAL_BOUNCE, "5.7.1",
			    "mail to file is restricted");
			return;
		}
		if (*dest == '~') {
			if (ctx->home == NULL) {
				local_report(ctx, LOCAL_BOUNCE, "5.3.5",
				    "mail system configuration error: no home directory for %s",
				    dest);
				return;
			}
			path = concatenate(ctx->home, dest + 1, (char *)0);
		} else {
			path = xstrdup(dest);
		}
		if (!local_dup_seen(ctx->msg, "file", path))
			local_file(ctx, path);
		free(path);
	} else {
		deliver_address(ctx, dest);
	}
}

/* local_mailbox - final delivery to a user's mailbox. */
void
local_mailbox(struct local_ctx *ctx, const char *user, uid_t uid, gid_t gid,
    const char *home, const char *shell)
{
	const char *cmd = local_conf.mailbox_command;
	char *path;
	size_t len;

	if (local_dup_seen(ctx->msg, "mailbox", user))
		return;
	if (*local_conf.mailbox_transport) {
		local_pass(ctx, local_conf.mailbox_transport, "mailbox_transport");
		return;
	}
	if (!delivery_conf.is_root) {
		uid = getuid();
		gid = getgid();
	}
	if (*cmd) {
		local_command(ctx, cmd, uid, gid, user, home, shell, 0);
		return;
	}
	if (*local_conf.home_mailbox) {
		path = concatenate(home, "/", local_conf.home_mailbox, (char *)0);
		len = strlen(path);
		if (path[len - 1] == '/')
			local_maildir_deliver(ctx, path, user, uid, gid,
			    LOCAL_KIND_MAILBOX);
		else
			local_mbox_deliver(ctx, path, user, uid, gid, 1,
			    LOCAL_KIND_MAILBOX);
		free(path);
		return;
	}
	len = strlen(local_conf.spool_dir);
	if (len > 0 && local_conf.spool_dir[len - 1] == '/') {
		path = concatenate(local_conf.spool_dir, user, "/", (char *)0);
		local_maildir_deliver(ctx, path, user, uid, gid, LOCAL_KIND_MAILBOX);
	} else {
		path = concatenate(local_conf.spool_dir, "/", user, (char *)0);
		local_mbox_deliver(ctx, path, user, uid, gid, 0, LOCAL_KIND_MAILBOX);
	}
	free(path);
}

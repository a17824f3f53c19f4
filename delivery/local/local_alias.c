/* SPDX-License-Identifier: MIT */
/* local_alias - alias_maps expansion (aliases(5), local(8)).
 *
 * The name (the lowercased localpart; the caller tries user+ext, then
 * user) is looked up in each alias table in turn.  A table's temporary
 * error defers the recipient (4.3.0, never "unknown user").  A found
 * value is split into destinations (local_token.c) and each is delivered
 * one level deeper, in the alias context: commands and files run with the
 * privileges of the alias database file's owner, or default_privs when
 * that is root.  An alias that names itself delivers to the mailbox for
 * that element; nesting beyond LOCAL_NESTING_LIMIT bounces 5.4.6.
 *
 * owner-NAME: when owner_request_special is on and an alias owner-NAME
 * exists, the expansion of NAME is sent with owner-NAME@$myorigin as the
 * envelope sender. */
#include "postino_config.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* alias_lookup - first table that has name; MAP_* and *value_r
 * (malloc'd), *table_r the table index. */
static enum map_status
alias_lookup(const char *name, char **value_r, int *table_r, char **why_r)
{
	for (int i = 0; i < local_conf.alias_count; i++) {
		const char *value;

		switch (map_lookup(local_conf.alias_maps[i], name, &value)) {
		case MAP_FOUND:
			*value_r = xstrdup(value);
			*table_r = i;
			return MAP_FOUND;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			*why_r = concatenate(local_conf.alias_titles[i], ": ",
			    map_reason(local_conf.alias_maps[i]), (char *)0);
			return MAP_TEMPFAIL;
		}
	}
	return MAP_NOTFOUND;
}

/* local_ctx_set_privs - the privileges of file owner uid for commands and
 * files (root -> default_privs; a non-root process -> itself).  The
 * malloc'd home and shell are returned for the caller to free. */
void
local_ctx_set_privs(struct local_ctx *ctx, uid_t uid, char **home_r,
    char **shell_r)
{
	struct passwd *pw;
	gid_t gid;

	if (!delivery_conf.is_root) {
		uid = getuid();
		gid = getgid();
	} else if (uid == 0) {
		uid = local_conf.nobody_uid;
		gid = local_conf.nobody_gid;
	} else {
		gid = local_conf.nobody_gid;
	}
	pw = getpwuid(uid);
	if (pw && delivery_conf.is_root && uid != local_conf.nobody_uid)
		gid = pw->pw_gid;
	*home_r = xstrdup(pw ? pw->pw_dir : "/");
	*shell_r = xstrdup(pw && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
	ctx->have_privs = 1;
	ctx->uid = uid;
	ctx->gid = gid;
	ctx->home = *home_r;
	ctx->shell = *shell_r;
}

int
local_alias(struct local_ctx *ctx, const char *name)
{
	char *value = NULL, *why = NULL, *owner_value = NULL, *owner = NULL;
	char *home = NULL, *shell = NULL;
	char **dests;
	int table, dummy;
	struct local_ctx child;

	if (local_conf.alias_count == 0)
		return 0;
	/* Self-reference: deliver to the mailbox for this element. */
	if (ctx->exp_from && strcmp(ctx->exp_from, name) == 0)
		return 0;
	switch (alias_lookup(name, &value, &table, &why)) {
	case MAP_NOTFOUND:
		return 0;
	case MAP_TEMPFAIL:
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "alias database unavailable: %s", why);
		free(why);
		return 1;
	case MAP_FOUND:
		break;
	}
	if (ctx->level >= LOCAL_NESTING_LIMIT) {
		/* Report once: a branching loop reaches here many times. */
		if (!ctx->res->loop_reported) {
			ctx->res->loop_reported = 1;
			msg_warn("alias database loop for %s", name);
			local_report(ctx, LOCAL_BOUNCE, "5.4.6",
			    "alias database loop for %s", name);
		}
		free(value);
		return 1;
	}
	dests = local_token_split(value);
	if (dests[0] == NULL) {
		local_report(ctx, LOCAL_DEFER, "4.3.0",
		    "alias database unavailable: empty expansion of %s", name);
		goto out;
	}

	child = *ctx;
	child.level++;
	child.exp_type = LOCAL_EXP_ALIAS;
	child.exp_from = name;
	child.user = name;
	local_ctx_set_privs(&child, local_conf.alias_owner[table], &home, &shell);

	if (local_conf.owner_special && strncmp(name, "owner-", 6) != 0) {
		char *oname = concatenate("owner-", name, (char *)0);

		switch (alias_lookup(oname, &owner_value, &dummy, &why)) {
		case MAP_FOUND:
			owner = concatenate(oname, "@", local_conf.myorigin,
			    (char *)0);
			child.sender = owner;
			break;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			local_report(ctx, LOCAL_DEFER, "4.3.0",
			    "alias database unavailable: %s", why);
			free(why);
			free(oname);
			goto out;
		}
		free(oname);
	}
	for (size_t i = 0; dests[i]; i++)
		local_resolve_dest(&child, dests[i]);

out:
	local_token_free(&dests);
	free(value);
	free(owner_value);
	free(owner);
	free(home);
	free(shell);
	return 1;
}

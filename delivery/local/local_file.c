/* SPDX-License-Identifier: MIT */
/* local_file - /file and ~/file destinations (aliases, :include: and
 * .forward, when allow_mail_to_files permits the context).
 *
 * A path ending in "/" is a Maildir; anything else is appended to in mbox
 * format with the same locking and checks as a mailbox
 * (delivery/common/mailbox.c), but always with the privileges of the
 * context: the .forward owner, the alias database owner, the include
 * file owner, or default_privs instead of root.  /dev/null takes the message without
 * writing anything. */
#include "postino_config.h"

#include <string.h>
#include <unistd.h>

#include "local.h"

void
local_file(struct local_ctx *ctx, const char *path)
{
	uid_t uid = ctx->have_privs ? ctx->uid : getuid();
	gid_t gid = ctx->have_privs ? ctx->gid : getgid();
	const char *user = ctx->user ? ctx->user : "";
	size_t len = strlen(path);

	if (delivery_conf.is_root && uid == 0) {
		uid = local_conf.nobody_uid;
		gid = local_conf.nobody_gid;
	}
	if (strcmp(path, "/dev/null") == 0) {
		local_report(ctx, LOCAL_SENT, "2.0.0", "delivered to file: %s",
		    path);
		return;
	}
	if (len > 0 && path[len - 1] == '/')
		local_maildir_deliver(ctx, path, user, uid, gid, LOCAL_KIND_FILE);
	else
		local_mbox_deliver(ctx, path, user, uid, gid, 1, LOCAL_KIND_FILE);
}

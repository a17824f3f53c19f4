/* SPDX-License-Identifier: MIT */
/* local_include - :include:/path files (aliases(5)).
 *
 * The path must be absolute and name a regular file that is not
 * world-writable; otherwise the element bounces with 5.3.5 "mail system
 * configuration error".  Its logical lines (comments, continuation lines)
 * hold destinations in alias syntax, delivered one level deeper in the
 * include context (allow_mail_to_commands / allow_mail_to_files decide
 * about |command and /file; the defaults refuse both).  Commands and
 * files run as the include file's owner (default_privs when root owns
 * it).  The file is opened with the privileges of the enclosing context
 * when running as root.  The duplicate filter stops a file that includes
 * itself; the nesting limit stops longer chains. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

void
local_include(struct local_ctx *ctx, const char *path)
{
	struct local_ctx child;
	struct lline_reader *rd;
	struct buf *line;
	struct stat st;
	char *home = NULL, *shell = NULL;
	FILE *fp;
	int fd, lineno, saved;

	if (*path != '/') {
		msg_warn(":include:%s uses a relative path", path);
		local_report(ctx, LOCAL_BOUNCE, "5.3.5",
		    "mail system configuration error: :include:%s is not an absolute path",
		    path);
		return;
	}
	if (ctx->level >= LOCAL_NESTING_LIMIT) {
		local_report(ctx, LOCAL_BOUNCE, "5.4.6",
		    "include file nesting limit exceeded: :include:%s", path);
		return;
	}
	if (local_dup_seen(ctx->msg, "include", path))
		return;
	if (delivery_conf.is_root && ctx->have_privs)
		local_privs_set(ctx->uid, ctx->gid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	saved = errno;
	if (delivery_conf.is_root && ctx->have_privs)
		local_privs_restore();
	if (fd < 0) {
		errno = saved;
		msg_warn("cannot open include file %s: %m", path);
		if (saved == ENOENT || saved == EACCES)
			local_report(ctx, LOCAL_BOUNCE, "5.3.5",
			    "mail system configuration error: cannot open include file %s: %s",
			    path, strerror(saved));
		else
			local_report(ctx, LOCAL_DEFER, "4.3.0",
			    "cannot open include file %s: %s", path, strerror(saved));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || (st.st_mode & S_IWOTH) != 0) {
		msg_warn("include file %s: not a regular file or world-writable: refused",
		    path);
		local_report(ctx, LOCAL_BOUNCE, "5.3.5",
		    "mail system configuration error: unsafe include file %s", path);
		close(fd);
		return;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((fp = fdopen(fd, "r")) == NULL) {
		local_report(ctx, LOCAL_DEFER, "4.3.0", "cannot read %s: %s",
		    path, strerror(errno));
		close(fd);
		return;
	}
	child = *ctx;
	child.level++;
	child.exp_type = LOCAL_EXP_INCLUDE;
	local_ctx_set_privs(&child, st.st_uid, &home, &shell);
	rd = lline_open(fp, path, 0);
	line = buf_new(256, 0);
	while (lline_read(rd, line, &lineno)) {
		char **dests = local_token_split(buf_str(line));

		for (size_t i = 0; dests[i]; i++)
			local_resolve_dest(&child, dests[i]);
		local_token_free(&dests);
	}
	if (ferror(fp))
		local_report(ctx, LOCAL_DEFER, "4.3.0", "read error on %s",
		    path);
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	free(home);
	free(shell);
}

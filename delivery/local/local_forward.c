/* SPDX-License-Identifier: MIT */
/* local_forward - the user's .forward file (local(8) forward_path).
 *
 * forward_path is not expanded by main.cf: each comma/blank separated
 * element is expanded here with $user $home $shell $recipient $extension
 * $domain $local $recipient_delimiter (and the ${x?y} ${x:y} forms);
 * values are filtered through forward_expansion_filter.  An element with
 * an undefined variable (no extension, no delimiter) is skipped.  The
 * first file that exists is used.
 *
 * The file is opened with the user's privileges when running as root; it
 * must be a regular file owned by the user (or root) and not
 * world-writable, else it is ignored with a warning and the mail goes to
 * the mailbox.  An empty .forward means "do not forward".  Destinations
 * are delivered in the forward context as the user. */
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

struct fwd_vars {
	struct local_ctx *ctx;
	const char *user;
	const char *home;
	const char *shell;
};

static const char *
fwd_lookup(const char *name, void *vctx)
{
	struct fwd_vars *v = vctx;
	const char *val = NULL;

	if (strcmp(name, "user") == 0)
		val = v->user;
	else if (strcmp(name, "home") == 0)
		val = v->home;
	else if (strcmp(name, "shell") == 0)
		val = v->shell;
	else if (strcmp(name, "recipient") == 0)
		val = v->ctx->rcpt;
	else if (strcmp(name, "extension") == 0)
		val = v->ctx->extension;
	else if (strcmp(name, "domain") == 0)
		val = v->ctx->domain;
	else if (strcmp(name, "local") == 0)
		val = v->ctx->local;
	else if (strcmp(name, "recipient_delimiter") == 0)
		val = local_conf.delimiter;
	return val && *val ? val : NULL;
}

/* open_forward - open one candidate as the user; fd, or -1 (errno). */
static int
open_forward(const char *path, uid_t uid, gid_t gid)
{
	int fd, saved;

	if (delivery_conf.is_root)
		local_privs_set(uid, gid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	saved = errno;
	if (delivery_conf.is_root)
		local_privs_restore();
	errno = saved;
	return fd;
}

int
local_forward(struct local_ctx *ctx, const char *user, uid_t uid, gid_t gid,
    const char *home, const char *shell)
{
	struct fwd_vars vars = {ctx, user, home, shell};
	char *list = xstrdup(local_conf.forward_path), *bp = list, *elem;
	char *path = NULL;
	int fd = -1, handled = 0;
	struct stat st;

	while ((elem = mystrtok(&bp, ", \t\r\n")) != NULL) {
		int undef = 0;

		free(path);
		path = NULL;
		if (local_expand(elem, fwd_lookup, &vars, local_conf.fwd_filter,
			&path, &undef) < 0) {
			msg_warn("forward_path: syntax error in \"%s\"", elem);
			continue;
		}
		if (undef || *path != '/')
			continue;
		if ((fd = open_forward(path, uid, gid)) >= 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR)
			msg_warn("cannot open %s: %m", path);
	}
	free(list);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || (st.st_uid != uid && st.st_uid != 0)
	    || (st.st_mode & S_IWOTH) != 0) {
		msg_warn("%s: not a regular file, bad owner or world-writable: ignored",
		    path);
		close(fd);
		goto out;
	}
	if (local_dup_seen(ctx->msg, "forward-file", path)) {
		close(fd);
		handled = 1;
		goto out;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	{
		FILE *fp = fdopen(fd, "r");
		struct lline_reader *rd;
		struct buf *line = buf_new(256, 0);
		struct local_ctx child = *ctx;
		char **all = xcalloc(1, sizeof(*all));
		size_t count = 0;
		int lineno;

		if (fp == NULL) {
			close(fd);
			local_report(ctx, LOCAL_DEFER, "4.3.0", "cannot read %s: %s",
			    path, strerror(errno));
			handled = 1;
			buf_free(&line);
			free(all);
			goto out;
		}
		rd = lline_open(fp, path, 0);
		while (lline_read(rd, line, &lineno)) {
			char **dests = local_token_split(buf_str(line));

			for (size_t i = 0; dests[i]; i++) {
				all = xreallocarray(all, count + 2, sizeof(*all));
				all[count++] = dests[i];
				all[count] = NULL;
				dests[i] = NULL;
			}
			free(dests);
		}
		if (ferror(fp)) {
			local_report(ctx, LOCAL_DEFER, "4.3.0",
			    "read error on %s", path);
			handled = 1;
		} else if (count > 0) {
			child.level++;
			child.exp_type = LOCAL_EXP_FORWARD;
			child.exp_from = user;
			child.have_privs = 1;
			child.uid = delivery_conf.is_root ? uid : getuid();
			child.gid = delivery_conf.is_root ? gid : getgid();
			child.user = user;
			child.home = home;
			child.shell = shell;
			for (size_t i = 0; all[i]; i++)
				local_resolve_dest(&child, all[i]);
			handled = 1;
		}
		local_token_free(&all);
		buf_free(&line);
		lline_close(&rd);
		fclose(fp);
	}
out:
	free(path);
	return handled;
}

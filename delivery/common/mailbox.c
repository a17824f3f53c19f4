/* SPDX-License-Identifier: MIT */
/* mailbox - the mbox and Maildir writers of final delivery, shared by
 * local(8) (mailboxes, /file destinations) and virtual(8), and the
 * group commit of Maildir deliveries.
 *
 * mbox: the file is opened without following symlinks; an existing file
 * must be a regular file with one link owned by the recipient (else the
 * delivery is deferred); a new one is created with O_EXCL.  Locks per
 * mailbox_delivery_lock: a dotlock (PATH.lock, created with O_EXCL,
 * stale after 500 s, skipped when the directory is not writable) and an
 * fcntl lock, each tried deliver_lock_attempts times.  The copy has a
 * From_ line, ">From " quoting and a final empty line; a failed or
 * oversized (mailbox_size_limit) append is truncated back.  The file, and
 * the directory when the file is new, are fsync'd before "sent".
 *
 * Maildir: tmp/, new/, cur/ are created as needed and must not be
 * symlinks; the message is written to tmp/ with O_EXCL|O_NOFOLLOW under
 * a unique name (time.MusecPpidQn.host), fsync'd, linked into new/, and
 * new/ is fsync'd.
 *
 * Exactly once across crashes: the name in new/ is not unique per
 * attempt but per delivery, ARRIVAL.IQUEUEIDROFFSETHHASH.host (queue
 * file arrival time, queue ID, the recipient record's offset, and a hash
 * of the recipient, its original address, the address delivered and the
 * kind of destination).  An attempt repeated because the earlier one's
 * outcome never reached the queue file (the agent or qmgr killed between
 * the fsync of new/ and qmgr's record) finds the earlier copy:
 *   - in new/, at no cost: link() fails with EEXIST, the earlier copy is
 *     kept, new/ is fsync'd, and the delivery is reported as done ("by
 *     an earlier attempt");
 *   - in cur/ (a reader took it and added ":2,FLAGS"): only when qmgr
 *     flags the request as a redelivery (the queue file was handed to
 *     agents before: QFILE_MODE_TRIED) are new/ and cur/ scanned for the
 *     name's prefix; first attempts never scan.
 * Remaining window: a reader that moves the earlier copy from new/ to
 * cur/ between that scan and the link.  Writing to tmp/ under a unique
 * name keeps two attempts that run at once (an old agent still working
 * after a qmgr restart) apart until the atomic link.
 *
 * mbox has no such name: a crash between the fsync and qmgr's record
 * delivers again (as with Postfix).  The window is kept as short: the
 * status goes to qmgr as soon as the request is done (agent_server.c
 * flushes a batch's replies early when nothing waits for a commit).  Under group commit (local_group_commit) the last
 * three steps are done by local_commit() for the whole batch of
 * requests: writeback of every file is started, each file is fsync'd,
 * linked into new/ (with the recipient's ids) and new/ is fsync'd once
 * per distinct directory; only then are the delivery lines logged and
 * the statuses filled.  A failure affects only the deliveries it
 * concerns (a failed directory fsync: the files linked in it).
 *
 * As root, home-directory mailboxes and files are handled with the
 * recipient's effective ids; spool files are opened as root (checks
 * above) and new ones given to the recipient. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent_server.h"
#include "dir_sync.h"
#include "delivery.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define STALE_LOCK_TIME	500

/* Pending Maildir files per batch: over this, deliveries are synchronous
 * (bounds the open descriptors). */
#define LOCAL_PENDING_MAX	256

int local_group_commit;

/* A recipient whose status waits for the commit. */
struct local_held {
	int slot;			/* agent_server_status_hold() */
	enum local_stat stat;		/* combined result so far */
	char dsn[16];
	struct buf *text;
	int leaves;
	struct local_held *next;
};

/* A Maildir file written to tmp/, not yet durable. */
struct local_pending {
	int fd;
	char *tmp, *newp, *newdir, *path;
	uid_t uid;
	gid_t gid;
	int kind;
	int err;			/* errno of the failed step, 0 = ok */
	int dup;			/* new/ had an earlier attempt's copy */
	const char *step;		/* "write", "link", "sync" */
	/* For the delivery line. */
	char *queue_id, *rcpt, *orig;
	double arrival, t_start, t_active, t_conn;
	struct local_held *owner;	/* NULL until local_answer() */
	struct local_pending *next;	/* in the recipient's list */
	struct local_pending *all_next;	/* in the batch */
};

static struct local_pending *pending_all;
static int pending_count;
static struct local_held *held_all, **held_tail = &held_all;

/* errno_stat - DSN and class for a write/open error. */
static enum local_stat
errno_stat(int err, const char **dsn_r)
{
	switch (err) {
	case ENOSPC:
		*dsn_r = "4.3.1";
		return LOCAL_DEFER;
	case EDQUOT:
	case EFBIG:
		*dsn_r = "5.2.2";
		return LOCAL_BOUNCE;
	default:
		*dsn_r = "4.2.0";
		return LOCAL_DEFER;
	}
}

/* dotlock_acquire - PATH.lock; 1 locked, 0 skipped, -1 failed (errno). */
static int
dotlock_acquire(const char *path, char **lock_r)
{
	long attempts = var_deliver_lock_attempts;
	long delay = var_deliver_lock_delay;
	char *lock = concatenate(path, ".lock", (char *)0);

	if (attempts <= 0)
		attempts = 1;
	for (long i = 0; i < attempts; i++) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_CLOEXEC, 0600);
		struct stat st;

		if (fd >= 0) {
			close(fd);
			*lock_r = lock;
			return 1;
		}
		if (errno == EACCES || errno == EPERM || errno == EROFS) {
			free(lock);
			return 0;
		}
		if (errno != EEXIST)
			break;
		if (lstat(lock, &st) == 0 && time(NULL) - st.st_mtime
		    > STALE_LOCK_TIME) {
			msg_warn("removing stale lock file %s", lock);
			(void)unlink(lock);
			continue;
		}
		if (i + 1 < attempts)
			sleep((unsigned)(delay > 0 ? delay : 1));
	}
	free(lock);
	return -1;
}

/* fcntl_lock - exclusive lock with retries; 0 or -1. */
static int
fcntl_lock(int fd)
{
	long attempts = var_deliver_lock_attempts;
	long delay = var_deliver_lock_delay;

	if (attempts <= 0)
		attempts = 1;
	for (long i = 0; i < attempts; i++) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN)
			return -1;
		if (i + 1 < attempts)
			sleep((unsigned)(delay > 0 ? delay : 1));
	}
	errno = EAGAIN;
	return -1;
}

/* report_fail - "cannot update mailbox" / "cannot append to file". */
static void
report_fail(struct local_ctx *ctx, int kind, const char *path,
    const char *user, enum local_stat stat, const char *dsn,
    const char *detail)
{
	if (kind == LOCAL_KIND_MAILBOX)
		local_report(ctx, stat, dsn,
		    "cannot update mailbox %s for user %s. %s", path, user, detail);
	else
		local_report(ctx, stat, dsn,
		    "cannot append message to file %s: %s", path, detail);
}

void
local_mbox_deliver(struct local_ctx *ctx, const char *path, const char *user,
    uid_t uid, gid_t gid, int as_user, int kind)
{
	char *lock = NULL;
	char detail[512];
	const char *dsn;
	enum local_stat stat;
	int fd, created = 0, flags, qerr, locked_dot = 0;
	struct stat st;
	off_t orig_size;

	if (ctx->msg->dr->verify) {
		/* An address verification probe: this is where it would go. */
		if (kind == LOCAL_KIND_FILE)
			local_report(ctx, LOCAL_SENT, "2.0.0",
			    "delivers to file: %s", path);
		else
			local_report(ctx, LOCAL_SENT, "2.0.0", "delivers to mailbox");
		return;
	}

	if (as_user)
		local_privs_set(uid, gid);
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_NONBLOCK | O_CLOEXEC, 0600);
		created = (fd >= 0);
	}
	if (fd < 0) {
		int err = errno;

		stat = errno_stat(err, &dsn);
		snprintf(detail, sizeof(detail), "cannot open file: %s",
		    err == ELOOP ? "file is a symbolic link" : strerror(err));
		report_fail(ctx, kind, path, user, stat, dsn, detail);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1
	    || (delivery_conf.is_root && !created && st.st_uid != uid
		&& !(kind == LOCAL_KIND_FILE && as_user))) {
		report_fail(ctx, kind, path, user, LOCAL_DEFER, "4.2.0",
		    "file is not a regular file with one link owned by the recipient");
		goto out;
	}
	if (created && delivery_conf.is_root && !as_user
	    && fchown(fd, uid, gid) < 0) {
		snprintf(detail, sizeof(detail), "cannot set owner: %s",
		    strerror(errno));
		report_fail(ctx, kind, path, user, LOCAL_DEFER, "4.2.0", detail);
		goto out;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (delivery_conf.lock_dotlock) {
		int r = dotlock_acquire(path, &lock);

		if (r < 0) {
			snprintf(detail, sizeof(detail),
			    "unable to create lock file %s.lock: %s", path,
			    strerror(errno));
			report_fail(ctx, kind, path, user, LOCAL_DEFER, "4.2.0",
			    detail);
			goto out;
		}
		locked_dot = (r > 0);
	}
	if (delivery_conf.lock_fcntl && fcntl_lock(fd) < 0) {
		snprintf(detail, sizeof(detail), "unable to lock for exclusive access: %s",
		    strerror(errno));
		report_fail(ctx, kind, path, user, LOCAL_DEFER, "4.2.0", detail);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		report_fail(ctx, kind, path, user, LOCAL_DEFER, "4.2.0",
		    strerror(errno));
		goto out;
	}
	orig_size = st.st_size;
	if (delivery_conf.size_limit > 0
	    && orig_size + ctx->msg->dr->content_len > delivery_conf.size_limit) {
		report_fail(ctx, kind, path, user, LOCAL_BOUNCE, "5.2.2",
		    "error writing message: File too large");
		goto out;
	}
	flags = LOCAL_COPY_MBOX | LOCAL_COPY_RETURN | LOCAL_COPY_ORIG;
	if (delivery_conf.deliv_mask & LOCAL_DELIV_FILE)
		flags |= LOCAL_COPY_DELIVERED;
	if (local_copy(ctx, fd, flags, &qerr) < 0 || fsync(fd) < 0
	    || (delivery_conf.size_limit > 0 && fstat(fd, &st) == 0
		&& st.st_size > delivery_conf.size_limit && (errno = EFBIG))) {
		int err = qerr ? qerr : errno;

		if (ftruncate(fd, orig_size) < 0 || fsync(fd) < 0)
			msg_warn("%s: cannot truncate back to %ld bytes: %m", path,
			    (long)orig_size);
		if (qerr) {
			stat = LOCAL_DEFER;
			dsn = "4.3.0";
		} else {
			stat = errno_stat(err, &dsn);
		}
		snprintf(detail, sizeof(detail), "error writing message: %s",
		    qerr ? "queue file read error" : strerror(err));
		report_fail(ctx, kind, path, user, stat, dsn, detail);
		goto out;
	}
	if (created && dir_sync_parent(path) < 0) {
		snprintf(detail, sizeof(detail), "cannot sync directory: %s",
		    strerror(errno));
		report_fail(ctx, kind, path, user, LOCAL_DEFER, "4.2.0", detail);
		goto out;
	}
	if (kind == LOCAL_KIND_MAILBOX)
		local_report(ctx, LOCAL_SENT, "2.0.0", "delivered to mailbox");
	else
		local_report(ctx, LOCAL_SENT, "2.0.0", "delivered to file: %s", path);

out:
	if (fd >= 0)
		close(fd);		/* also releases the fcntl lock */
	if (locked_dot && lock)
		(void)unlink(lock);
	free(lock);
	if (as_user)
		local_privs_restore();
}

/* maildir_subdir - make sure dir/sub exists and is a real directory. */
static int
maildir_subdir(const char *dir, const char *sub)
{
	char *path = concatenate(dir, sub, (char *)0);
	struct stat st;
	int ret = 0;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		ret = -1;
	else if (lstat(path, &st) < 0)
		ret = -1;
	else if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;	/* includes symlinks */
		ret = -1;
	}
	free(path);
	return ret;
}

/* maildir_host - this host's name as a Maildir name part ('/' and ':'
 * written as \057 and \072). */
static const char *
maildir_host(void)
{
	static char host[256];

	if (host[0] == 0) {
		char raw[256];
		size_t o = 0;

		if (gethostname(raw, sizeof(raw)) < 0)
			strlcpy(raw, "localhost", sizeof(raw));
		raw[sizeof(raw) - 1] = 0;
		for (char *cp = raw; *cp && o + 5 < sizeof(host); cp++) {
			if (*cp == '/') {
				memcpy(host + o, "\\057", 4);
				o += 4;
			} else if (*cp == ':') {
				memcpy(host + o, "\\072", 4);
				o += 4;
			} else {
				host[o++] = *cp;
			}
		}
		host[o] = 0;
	}
	return host;
}

/* maildir_name - time.MusecPpidQn.host, unique per process and call (the
 * name in tmp/). */
static void
maildir_name(char *out, size_t len)
{
	static unsigned long counter;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(out, len, "%ld.M%ldP%ldQ%lu.%s", (long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), ++counter, maildir_host());
}

/* fnv1a - 32-bit FNV-1a of s (and its NUL), continuing from h. */
static uint32_t
fnv1a(uint32_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	} while (*s++);
	return h;
}

/* maildir_final_prefix - "ARRIVAL.IQUEUEIDROFFSETHHASH." (the name in new/
 * without the host): the same for every attempt at one delivery, so a
 * repeated delivery finds the copy an earlier attempt left.  HASH covers
 * the queue recipient, its original address, the address delivered (an
 * alias or .forward may expand one recipient into several) and the kind
 * of destination. */
static void
maildir_final_prefix(const struct local_ctx *ctx, int kind, char *out,
    size_t len)
{
	const struct deliver_request *dr = ctx->msg->dr;
	const struct deliver_rcpt *r = NULL;
	uint32_t h = 2166136261u;
	char kind_s[16];

	if (ctx->rcpt_index >= 0 && ctx->rcpt_index < dr->rcpt_count)
		r = dr->rcpt + ctx->rcpt_index;
	snprintf(kind_s, sizeof(kind_s), "%d", kind);
	h = fnv1a(h, r ? r->address : "");
	h = fnv1a(h, r && r->orig_rcpt ? r->orig_rcpt : "");
	h = fnv1a(h, ctx->rcpt ? ctx->rcpt : "");
	h = fnv1a(h, kind_s);
	snprintf(out, len, "%ld.I%sR%lldH%08x.", (long)dr->arrival,
	    dr->queue_id, r ? (long long)r->offset : -1LL, (unsigned)h);
}

/* maildir_find - a file of dir/sub whose name starts with prefix: its
 * name in *found_r (size len); 1 found, 0 not, -1 error (errno). */
static int
maildir_find(const char *dir, const char *sub, const char *prefix,
    char *found_r, size_t len)
{
	char *path = concatenate(dir, sub, (char *)0);
	size_t plen = strlen(prefix);
	DIR *d = opendir(path);
	struct dirent *de;
	int ret = 0;

	free(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, plen) == 0) {
			strlcpy(found_r, de->d_name, len);
			ret = 1;
			break;
		}
	closedir(d);
	return ret;
}

/* pending_add - a written tmp file waits for local_commit(). */
static void
pending_add(struct local_ctx *ctx, int fd, char *tmp, const char *name,
    const char *path, uid_t uid, gid_t gid, int kind)
{
	struct local_pending *p = xcalloc(1, sizeof(*p));
	struct local_msg *msg = ctx->msg;

	p->fd = fd;
	p->tmp = tmp;
	p->newp = concatenate(path, "new/", name, (char *)0);
	p->newdir = concatenate(path, "new", (char *)0);
	p->path = xstrdup(path);
	p->uid = uid;
	p->gid = gid;
	p->kind = kind;
	p->queue_id = xstrdup(msg->dr->queue_id);
	p->rcpt = xstrdup(ctx->rcpt);
	p->orig = xstrdup(ctx->orig_rcpt ? ctx->orig_rcpt : "");
	p->arrival = msg->dr->arrival;
	p->t_start = msg->t_start;
	p->t_active = msg->t_active;
	p->t_conn = msg->t_conn;
	p->next = ctx->res->pending;
	ctx->res->pending = p;
	ctx->res->npending++;
	p->all_next = pending_all;
	pending_all = p;
	pending_count++;
}

/* maildir_earlier - a redelivery (qmgr says an earlier attempt may have
 * written this copy): look for it in new/ and cur/ (a reader may have
 * moved it and added flags after ':').  1 found (its directory fsync'd:
 * the attempt that linked it may have died before doing so), 0 not
 * found, -1 error (errno; *where_r names the step). */
static int
maildir_earlier(const char *path, const char *prefix, char *found, size_t len,
    const char **where_r)
{
	static const char *const subs[] = {"new", "cur"};

	for (int i = 0; i < 2; i++) {
		int r = maildir_find(path, subs[i], prefix, found, len);

		if (r < 0) {
			*where_r = subs[i];
			return -1;
		}
		if (r > 0) {
			char *dir = concatenate(path, subs[i], (char *)0);
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			int err = 0;

			if (dfd < 0 || fsync(dfd) < 0)
				err = errno;
			if (dfd >= 0)
				close(dfd);
			free(dir);
			*where_r = subs[i];
			if (err) {
				errno = err;
				return -1;
			}
			return 1;
		}
	}
	return 0;
}

void
local_maildir_deliver(struct local_ctx *ctx, const char *path,
    const char *user, uid_t uid, gid_t gid, int kind)
{
	char name[512], final[512], prefix[256], found[512], detail[768];
	char *tmp = NULL, *newp = NULL, *newdir = NULL;
	const char *dsn, *where = "";
	enum local_stat stat;
	int fd = -1, flags, qerr = 0, ok = 0, err = 0, dup = 0;
	struct stat st;

	if (ctx->msg->dr->verify) {
		/* An address verification probe: this is where it would go. */
		if (kind == LOCAL_KIND_FILE)
			local_report(ctx, LOCAL_SENT, "2.0.0",
			    "delivers to file: %s", path);
		else
			local_report(ctx, LOCAL_SENT, "2.0.0", "delivers to maildir");
		return;
	}
	local_privs_set(uid, gid);
	if ((mkdir(path, 0700) < 0 && errno != EEXIST)
	    || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)
	    || maildir_subdir(path, "tmp") < 0 || maildir_subdir(path, "new") < 0
	    || maildir_subdir(path, "cur") < 0) {
		err = errno ? errno : ENOTDIR;
		snprintf(detail, sizeof(detail), "create maildir file %s: %s",
		    path, strerror(err));
		goto fail;
	}
	/* The name in new/ is the same for every attempt at this delivery
	 * (maildir_final_prefix): a repeated attempt finds the earlier
	 * copy, in new/ for free (link() says EEXIST), and, when qmgr flags
	 * the request as a redelivery, in cur/ too (a directory scan, only
	 * then). */
	maildir_final_prefix(ctx, kind, prefix, sizeof(prefix));
	snprintf(final, sizeof(final), "%s%s", prefix, maildir_host());
	if (ctx->msg->dr->redelivery) {
		int r = maildir_earlier(path, prefix, found, sizeof(found), &where);

		if (r < 0) {
			err = errno;
			snprintf(detail, sizeof(detail), "look for an earlier copy in %s%s: %s",
			    path, where, strerror(err));
			goto fail;
		}
		if (r > 0) {
			ok = 1;
			local_report(ctx, LOCAL_SENT, "2.0.0",
			    "delivered to maildir (by an earlier attempt: %s/%s)",
			    where, found);
			goto fail;
		}
	}
	for (int attempt = 0; attempt < 10 && fd < 0; attempt++) {
		maildir_name(name, sizeof(name));
		free(tmp);
		tmp = concatenate(path, "tmp/", name, (char *)0);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = errno;
		snprintf(detail, sizeof(detail), "create maildir file %s: %s",
		    tmp, strerror(err));
		goto fail;
	}
	flags = LOCAL_COPY_RETURN | LOCAL_COPY_ORIG;
	if (delivery_conf.deliv_mask & LOCAL_DELIV_FILE)
		flags |= LOCAL_COPY_DELIVERED;
	if (local_group_commit && pending_count < LOCAL_PENDING_MAX) {
		if (local_copy(ctx, fd, flags, &qerr) < 0) {
			err = qerr ? qerr : errno;
			snprintf(detail, sizeof(detail), "write maildir file %s: %s",
			    tmp, qerr ? "queue file read error" : strerror(err));
			goto fail;
		}
		pending_add(ctx, fd, tmp, final, path, uid, gid, kind);
		fd = -1;
		tmp = NULL;		/* now the pending file's */
		ok = 1;
		goto fail;
	}
	if (local_copy(ctx, fd, flags, &qerr) < 0 || fsync(fd) < 0) {
		err = qerr ? qerr : errno;
		snprintf(detail, sizeof(detail), "write maildir file %s: %s",
		    tmp, qerr ? "queue file read error" : strerror(err));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = errno;
		snprintf(detail, sizeof(detail), "write maildir file %s: %s",
		    tmp, strerror(err));
		goto fail;
	}
	fd = -1;
	newp = concatenate(path, "new/", final, (char *)0);
	if (link(tmp, newp) < 0) {
		if (errno != EEXIST) {
			err = errno;
			snprintf(detail, sizeof(detail), "link maildir file %s: %s",
			    newp, strerror(err));
			goto fail;
		}
		dup = 1;		/* an earlier attempt's copy: keep it */
	}
	(void)unlink(tmp);
	newdir = concatenate(path, "new", (char *)0);
	{
		int dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0 || fsync(dfd) < 0) {
			err = errno;
			if (dfd >= 0)
				close(dfd);
			snprintf(detail, sizeof(detail), "sync maildir %s: %s",
			    newdir, strerror(err));
			if (!dup)
				(void)unlink(newp);
			goto fail;
		}
		close(dfd);
	}
	ok = 1;
	if (dup)
		local_report(ctx, LOCAL_SENT, "2.0.0",
		    "delivered to maildir (by an earlier attempt: new/%s)", final);
	else
		local_report(ctx, LOCAL_SENT, "2.0.0", "delivered to maildir");
fail:
	if (!ok) {
		if (fd >= 0)
			close(fd);
		if (tmp)
			(void)unlink(tmp);
		if (qerr) {
			stat = LOCAL_DEFER;
			dsn = "4.3.0";
		} else {
			stat = errno_stat(err, &dsn);
		}
		if (kind == LOCAL_KIND_MAILBOX)
			local_report(ctx, stat, dsn, "maildir delivery failed: %s",
			    detail);
		else
			local_report(ctx, stat, dsn, "cannot deliver to maildir %s: %s",
			    path, detail);
	}
	local_privs_restore();
	free(tmp);
	free(newp);
	free(newdir);
}

/* status_words - qmgr's status and action for a combined result. */
static void
status_words(enum local_stat stat, const char **status, const char **action)
{
	switch (stat) {
	case LOCAL_SENT:
		*status = "sent";
		*action = "delivered";
		break;
	case LOCAL_BOUNCE:
		*status = "bounced";
		*action = "failed";
		break;
	default:
		*status = "deferred";
		*action = "delayed";
		break;
	}
}

void
local_answer(struct local_msg *msg, int index, const char *rcpt,
    const char *orig, struct local_result *res, const char *relay)
{
	const char *status, *action;
	struct local_held *h;

	(void)rcpt;
	(void)orig;
	if (res->npending == 0) {
		status_words(res->stat, &status, &action);
		agent_server_status(-1, msg->dr->request_id, index, res->dsn,
		    status, action, buf_str(res->text), relay);
		buf_free(&res->text);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->slot = agent_server_status_hold(msg->dr->request_id, index, relay);
	h->stat = res->stat;
	strlcpy(h->dsn, res->dsn, sizeof(h->dsn));
	h->text = res->text;		/* taken over */
	res->text = NULL;
	h->leaves = res->leaves;
	for (struct local_pending *p = res->pending; p; p = p->next)
		p->owner = h;
	res->pending = NULL;
	res->npending = 0;
	*held_tail = h;
	held_tail = &h->next;
}

/* pending_fold - log one pending delivery's outcome and fold it into its
 * recipient's result (local_report()'s rule). */
static void
pending_fold(struct local_pending *p)
{
	struct deliver_request dr;
	struct local_msg msg;
	struct local_held *h = p->owner;
	char text[1024], detail[768];
	const char *dsn = "2.0.0";
	enum local_stat stat = LOCAL_SENT;
	static const char *const words[] = {"sent", "bounced", "deferred"};

	if (p->err == 0 && p->dup) {
		snprintf(text, sizeof(text),
		    "delivered to maildir (by an earlier attempt: new/%s)",
		    strrchr(p->newp, '/') + 1);
	} else if (p->err == 0) {
		strlcpy(text, "delivered to maildir", sizeof(text));
	} else {
		if (strcmp(p->step, "link") == 0)
			snprintf(detail, sizeof(detail), "link maildir file %s: %s",
			    p->newp, strerror(p->err));
		else if (strcmp(p->step, "sync") == 0)
			snprintf(detail, sizeof(detail), "sync maildir %s: %s",
			    p->newdir, strerror(p->err));
		else
			snprintf(detail, sizeof(detail), "write maildir file %s: %s",
			    p->tmp, strerror(p->err));
		stat = errno_stat(p->err, &dsn);
		if (p->kind == LOCAL_KIND_MAILBOX)
			snprintf(text, sizeof(text), "maildir delivery failed: %s",
			    detail);
		else
			snprintf(text, sizeof(text), "cannot deliver to maildir %s: %s",
			    p->path, detail);
	}
	memset(&dr, 0, sizeof(dr));
	dr.queue_id = p->queue_id;
	dr.arrival = p->arrival;
	memset(&msg, 0, sizeof(msg));
	msg.dr = &dr;
	msg.t_start = p->t_start;
	msg.t_active = p->t_active;
	msg.t_conn = p->t_conn;
	local_log_line(&msg, p->rcpt, p->orig, dsn, words[stat], text);
	if (h == NULL)
		return;
	if (h->leaves == 0 || stat > h->stat) {
		h->stat = stat;
		strlcpy(h->dsn, dsn, sizeof(h->dsn));
		buf_set(h->text, text);
	}
	h->leaves++;
}

void
local_commit(void)
{
	struct local_pending *p, *q;
	struct local_held *h;

	/* Start the writeback of every file, so that the fsyncs below
	 * share journal commits instead of paying one each. */
	for (p = pending_all; p; p = p->all_next)
		(void)sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	for (p = pending_all; p; p = p->all_next) {
		if (fsync(p->fd) < 0) {
			p->err = errno;
			p->step = "write";
		}
		if (close(p->fd) < 0 && p->err == 0) {
			p->err = errno;
			p->step = "write";
		}
		p->fd = -1;
		local_privs_set(p->uid, p->gid);
		if (p->err == 0 && link(p->tmp, p->newp) < 0) {
			if (errno == EEXIST) {
				p->dup = 1;	/* an earlier attempt's copy */
			} else {
				p->err = errno;
				p->step = "link";
			}
		}
		(void)unlink(p->tmp);
		local_privs_restore();
	}
	/* One fsync per distinct new/ directory. */
	for (p = pending_all; p; p = p->all_next) {
		int dfd, err = 0, seen = 0;

		if (p->err != 0)
			continue;
		for (q = pending_all; q != p; q = q->all_next)
			if (strcmp(q->newdir, p->newdir) == 0) {
				seen = 1;
				break;
			}
		if (seen)
			continue;
		local_privs_set(p->uid, p->gid);
		dfd = open(p->newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0)
			err = errno;
		if (dfd >= 0)
			close(dfd);
		if (err != 0) {
			for (q = p; q; q = q->all_next)
				if (q->err == 0 && strcmp(q->newdir, p->newdir) == 0) {
					q->err = err;
					q->step = "sync";
					if (!q->dup)
						(void)unlink(q->newp);
				}
		}
		local_privs_restore();
	}
	for (p = pending_all; p; p = q) {
		q = p->all_next;
		pending_fold(p);
		free(p->tmp);
		free(p->newp);
		free(p->newdir);
		free(p->path);
		free(p->queue_id);
		free(p->rcpt);
		free(p->orig);
		free(p);
	}
	pending_all = NULL;
	pending_count = 0;
	while ((h = held_all) != NULL) {
		const char *status, *action;

		held_all = h->next;
		status_words(h->stat, &status, &action);
		agent_server_status_fill(h->slot, h->dsn, status, action,
		    buf_str(h->text));
		buf_free(&h->text);
		free(h);
	}
	held_tail = &held_all;
}

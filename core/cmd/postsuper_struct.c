/* SPDX-License-Identifier: MIT */
/* postsuper_struct - "postsuper -s" (structure check and repair) and
 * "postsuper -p" (purge files left half-written by a crash).
 *
 * Our queue is flat (no hash levels) and file names are queue IDs that do
 * not depend on inode numbers, so there is nothing to rename.  -s checks
 * and repairs what can still go wrong:
 *  - a missing queue directory is re-created (owner and mode as
 *    "postino check" makes them: core/cmd/postino_check.c);
 *  - in incoming active deferred hold, a regular file whose name is not
 *    a queue ID, or a complete-looking file in active/deferred/hold
 *    without the owner x bit, is moved to corrupt/ (qmgr never reads
 *    those); other kinds of entries (directories, symlinks) are reported
 *    and left alone;
 *  - run as root, a queue file not owned by mail_owner is given back to
 *    it (a copy restored by root would otherwise be unreadable by qmgr);
 *  - a defer/ or bounce/ log whose message is in no queue is removed.
 * Every repair is one warning naming the path. */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "postsuper.h"
#include "stringops.h"

#define STALE_AGE	3600		/* seconds: an unfinished file is stale */

static const char *const msg_queues[] = {MAIL_QUEUE_INCOMING,
	MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD, NULL};

/* dir_mode - mode and ownership class of a queue directory (as
 * postino_check.c): 'r' root, 'o' mail_owner, 'g' mail_owner with
 * group setgid_group. */
static mode_t
dir_mode(const char *name, int *class_r)
{
	if (strcmp(name, "pid") == 0) {
		*class_r = 'r';
		return 0755;
	}
	if (strcmp(name, "public") == 0) {
		*class_r = 'g';
		return 0710;
	}
	if (strcmp(name, MAIL_QUEUE_MAILDROP) == 0) {
		*class_r = 'g';
		return 0730;
	}
	*class_r = 'o';
	return 0700;
}

/* owner_ids - mail_owner's uid/gid and setgid_group's gid when root;
 * 0 when they are known, -1 otherwise (no chown then). */
static int
owner_ids(uid_t *uid_r, gid_t *gid_r, gid_t *sgid_r)
{
	struct passwd *pw;
	struct group *gr;

	if (geteuid() != 0)
		return -1;
	if ((pw = getpwnam(var_mail_owner)) == NULL) {
		msg_warn("mail_owner \"%s\" is not a user: ownership not checked",
		    var_mail_owner);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	gr = getgrnam(var_setgid_group);
	*sgid_r = gr ? gr->gr_gid : pw->pw_gid;
	return 0;
}

/* make_missing_dirs - re-create missing queue directories. */
static int
make_missing_dirs(int have_ids, uid_t uid, gid_t gid, gid_t sgid)
{
	int fixed = 0, class;

	for (int i = 0; mail_queue_names[i]; i++) {
		const char *path = mail_queue_dir(mail_queue_names[i]);
		mode_t mode = dir_mode(mail_queue_names[i], &class);
		struct stat st;

		if (lstat(path, &st) == 0 || errno != ENOENT)
			continue;
		msg_warn("%s: missing queue directory: re-created", path);
		if (mkdir(path, mode) < 0 || chmod(path, mode) < 0) {
			msg_warn("mkdir %s: %m", path);
			continue;
		}
		if (have_ids && chown(path, class == 'r' ? 0 : uid,
		    class == 'r' ? 0 : class == 'g' ? sgid : gid) < 0)
			msg_warn("chown %s: %m", path);
		fixed++;
	}
	return fixed;
}

/* to_corrupt - move a file out of the way (corrupt/NAME). */
static int
to_corrupt(const char *queue, const char *name, const char *why)
{
	if (mail_queue_move(queue, MAIL_QUEUE_CORRUPT, name) < 0) {
		if (errno != ENOENT)
			msg_warn("%s/%s: move to corrupt: %m", queue, name);
		return 0;
	}
	msg_warn("%s/%s: %s: moved to %s", queue, name, why,
	    mail_queue_dir(MAIL_QUEUE_CORRUPT));
	return 1;
}

/* check_queue_files - names, modes and owners of the message files. */
static int
check_queue_files(const char *queue, int have_ids, uid_t uid, gid_t gid)
{
	const char *dir_path = mail_queue_dir(queue);
	struct dirent **names = NULL;
	int n, fixed = 0;

	if ((n = scandir(dir_path, &names, NULL, alphasort)) < 0) {
		if (errno != ENOENT)
			msg_warn("open %s: %m", dir_path);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char *path;
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			free(names[i]);
			continue;
		}
		path = mail_queue_path(queue, name);
		if (lstat(path, &st) < 0) {
			/* moved by qmgr meanwhile */
		} else if (!S_ISREG(st.st_mode)) {
			msg_warn("%s: not a regular file: left alone; remove it", path);
		} else if (!mail_queue_valid_id(name)) {
			fixed += to_corrupt(queue, name, "not a queue ID");
		} else if ((st.st_mode & S_IXUSR) == 0
		    && strcmp(queue, MAIL_QUEUE_INCOMING) != 0) {
			/* Only incoming/ holds files being written. */
			fixed += to_corrupt(queue, name, "incomplete queue file");
		} else if (have_ids && (st.st_uid != uid)) {
			if (chown(path, uid, gid) < 0) {
				msg_warn("chown %s: %m", path);
			} else {
				msg_warn("%s: owned by uid %ld: given to mail_owner %s",
				    path, (long)st.st_uid, var_mail_owner);
				fixed++;
			}
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return fixed;
}

/* message_exists - is id in a message queue? */
static int
message_exists(const char *id)
{
	static const char *const all[] = {MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
	MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD, MAIL_QUEUE_CORRUPT, NULL};
	struct stat st;

	for (int i = 0; all[i]; i++) {
		char *path = mail_queue_path(all[i], id);
		int found = lstat(path, &st) == 0 || errno != ENOENT;

		free(path);
		if (found)
			return 1;
	}
	return 0;
}

/* check_logs - remove status logs whose message is gone. */
static int
check_logs(const char *queue)
{
	const char *dir_path = mail_queue_dir(queue);
	struct dirent **names = NULL;
	int n, fixed = 0;

	if ((n = scandir(dir_path, &names, NULL, alphasort)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (mail_queue_valid_id(name) && !message_exists(name)) {
			char *path = mail_queue_path(queue, name);

			/* Recheck: qmgr removes the file, then the logs. */
			if (unlink(path) == 0) {
				msg_warn("%s: log of a message that is gone: removed", path);
				fixed++;
			}
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return fixed;
}

int
postsuper_structure(void)
{
	uid_t uid = 0;
	gid_t gid = 0, sgid = 0;
	int have_ids = owner_ids(&uid, &gid, &sgid) == 0;
	int fixed;

	fixed = make_missing_dirs(have_ids, uid, gid, sgid);
	for (int i = 0; msg_queues[i]; i++)
		fixed += check_queue_files(msg_queues[i], have_ids, uid, gid);
	fixed += check_logs(MAIL_QUEUE_DEFER);
	fixed += check_logs(MAIL_QUEUE_BOUNCE);
	fixed += check_logs(MAIL_QUEUE_TRACE);
	if (fixed > 0)
		msg_info("Repaired: %d problem%s", fixed, fixed == 1 ? "" : "s");
	return fixed;
}

/* purge_dir - unfinished files (no owner x bit) that are stale. */
static int
purge_dir(const char *queue, int any_age)
{
	const char *dir_path = mail_queue_dir(queue);
	struct dirent **names = NULL;
	time_t now = time(NULL);
	int n, removed = 0;

	if ((n = scandir(dir_path, &names, NULL, alphasort)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		char *path = mail_queue_path(queue, names[i]->d_name);
		struct stat st;

		if (mail_queue_valid_id(names[i]->d_name) && lstat(path, &st) == 0
		    && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR) == 0
		    && (any_age || now - st.st_mtime > STALE_AGE)) {
			if (unlink(path) == 0) {
				msg_warn("%s: unfinished file left by a crash: removed",
				    path);
				removed++;
			} else if (errno != ENOENT) {
				msg_warn("remove %s: %m", path);
			}
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return removed;
}

int
postsuper_purge(void)
{
	int any_age = !postsuper_running();
	int removed;

	removed = purge_dir(MAIL_QUEUE_INCOMING, any_age);
	/* postdrop writes maildrop/ while the daemons are down: always wait. */
	removed += purge_dir(MAIL_QUEUE_MAILDROP, 0);
	if (removed > 0)
		msg_info("Purged: %d file%s", removed, removed == 1 ? "" : "s");
	return removed;
}

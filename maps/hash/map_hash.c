/* SPDX-License-Identifier: MIT */
/* map_hash - hash: and btree: tables over Berkeley DB.
 *
 * "hash:NAME" and "btree:NAME" live in the single-database Berkeley DB
 * file NAME.db (DB_HASH or DB_BTREE), the same files Postfix's postmap
 * writes and reads: default hash function and key order, no custom
 * comparators, so files go both ways.
 *
 * Trailing NUL: keys and values are written with one trailing NUL byte
 * when MAP_FLAG_TRY1NULL is set (the default) and without it when only
 * MAP_FLAG_TRY0NULL is.  Readers and deletes try "key\0" first, then
 * "key"; the first form that hits is kept for the life of the handle.
 *
 * Open modes and locking (flock on NAME.db):
 * - O_RDONLY: reader.  With MAP_FLAG_LOCK a shared lock is held around
 *   each lookup and each sequence step.  At most once a second the
 *   reader checks whether NAME.db was replaced (another inode) and then
 *   reopens it; until then it keeps reading the old inode, which is
 *   complete.  Under the lock it also checks (fstat) that the open file
 *   was not rewritten in place (Postfix's postmap, postmap -i) and
 *   reopens it if it was: btree on every access, hash once a second
 *   (see map_hash_enter).
 * - O_RDWR|O_CREAT: incremental update in place, under an exclusive lock
 *   held from open to close (postmap -i).
 * - O_RDWR|O_CREAT|O_TRUNC with MAP_FLAG_BULK: rebuild.  The table is
 *   written to NAME.db.PID.tmp in the same directory; commit() flushes
 *   and fsyncs it, renames it over NAME.db under an exclusive lock on the
 *   old file, and fsyncs the directory.  close() without commit() removes
 *   the temporary file, so a reader never sees a half-written table.
 * - O_TRUNC without MAP_FLAG_BULK: truncate and rewrite in place under an
 *   exclusive lock (Postfix's way).
 *
 * Every Berkeley DB error becomes MAP_TEMPFAIL with a reason naming the
 * table; nothing here exits.  Values returned are NUL-terminated copies
 * owned by the map until its next call.  Logs nothing itself. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <db.h>

#include "buf.h"
#include "map_driver.h"
#include "mymalloc.h"
#include "stringops.h"

/* Cache sizes: readers touch few pages per lookup; a rebuild wants the
 * whole table in memory so that it is written once, at the end. */
#define MAP_HASH_READ_CACHE	(1024 * 1024)
#define MAP_HASH_UPDATE_CACHE	(16 * 1024 * 1024)
#define MAP_HASH_BUILD_CACHE	(256 * 1024 * 1024)

/* Read-only files up to this size are mapped instead of read page by
 * page (Berkeley DB does it for btree files only).  Only for readers that
 * lock: they check under the lock that nobody rewrote the file in place,
 * so they never touch a mapping of a file that shrank. */
#define MAP_HASH_MMAP_MAX	((size_t)1 << 30)

/* Expected element count given to new hash files (as Postfix does). */
#define MAP_HASH_NELEM		4096

/* Retries when NAME.db is replaced between open and lock. */
#define MAP_HASH_OPEN_TRIES	10

struct map_hash {
	struct map map;
	DB *db;
	DBTYPE dbtype;
	char *path;		/* NAME.db */
	char *tmp_path;		/* rebuild: NAME.db.PID.tmp until committed */
	int fd;			/* our own descriptor of the file, for flock */
	int writer;		/* opened for update */
	int bulk;		/* rebuild into tmp_path */
	int lock_each;		/* reader with MAP_FLAG_LOCK */
	int nul_flags;		/* TRY0NULL/TRY1NULL still in play */
	struct stat file;	/* reader: the file as opened (identity,
				 * size and mtime, to notice changes) */
	time_t checked;		/* reader: last time NAME.db was stat()ed */
	DBC *cursor;		/* sequence position */
	struct map_hash *next_bulk;	/* list of uncommitted rebuilds */
	struct buf *value;	/* last value returned */
	struct buf *key;	/* last key returned by sequence */
};

/* Berkeley DB's own explanation of the last error (it reports details
 * such as "unexpected file type or format" only through this callback). */
static _Thread_local char map_hash_dberr[256];

/* Uncommitted rebuilds, whose temporary files an exit (msg_fatal in the
 * middle of a build) must not leave behind. */
static struct map_hash *map_hash_bulk_list;

/* map_hash_cleanup - atexit: remove the temporary files of rebuilds that
 * were never committed or closed. */
static void
map_hash_cleanup(void)
{
	for (struct map_hash *mh = map_hash_bulk_list; mh; mh = mh->next_bulk)
		if (mh->tmp_path != NULL)
			(void)unlink(mh->tmp_path);
}

/* map_hash_bulk_forget - take mh off the list of uncommitted rebuilds. */
static void
map_hash_bulk_forget(struct map_hash *mh)
{
	for (struct map_hash **mp = &map_hash_bulk_list; *mp; mp = &(*mp)->next_bulk) {
		if (*mp == mh) {
			*mp = mh->next_bulk;
			break;
		}
	}
}

/* map_hash_errcall - remember Berkeley DB's last message. */
static void
map_hash_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	size_t n;

	/* Drop the "BDB0641 " message number of 5.x and a leading
	 * "__db_meta_setup: " function name: keep what a reader can use. */
	if (strncmp(msg, "BDB", 3) == 0 && strspn(msg + 3, "0123456789") == 4
	    && msg[7] == ' ')
		msg += 8;
	n = strspn(msg, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (n > 0 && strncmp(msg + n, ": ", 2) == 0 && strchr(msg + n + 2, ':'))
		msg += n + 2;
	strlcpy(map_hash_dberr, msg, sizeof(map_hash_dberr));
}

/* map_hash_strerror - the text for Berkeley DB error code err on the file
 * path.  A system error is told by its errno text ("No space left on
 * device"); for Berkeley DB's own errors and EINVAL (bad file format), its
 * last message says more ("unexpected file type or format"), without the
 * file name, which the caller prints. */
static const char *
map_hash_strerror(int err, const char *path, char *out, size_t len)
{
	const char *detail = map_hash_dberr;
	size_t plen = strlen(path);

	if (err > 0 && err != EINVAL)
		detail = "";
	if (strncmp(detail, "./", 2) == 0 && strncmp(path, "./", 2) != 0)
		detail += 2;
	if (strncmp(detail, path, plen) == 0 && strncmp(detail + plen, ": ", 2) == 0)
		detail += plen + 2;
	snprintf(out, len, "%s", *detail ? detail : db_strerror(err));
	map_hash_dberr[0] = 0;
	return out;
}

/* map_hash_dbt - point a DBT at len bytes of data. */
static void
map_hash_dbt(DBT *dbt, const void *data, size_t len)
{
	memset(dbt, 0, sizeof(*dbt));
	/* Berkeley DB only reads the bytes it is given (get, put, del). */
	dbt->data = (void *)(uintptr_t)data;
	dbt->size = (u_int32_t)len;
}

/* map_hash_copy - copy a stored item into b, without one trailing NUL,
 * NUL-terminated. */
static const char *
map_hash_copy(struct buf *b, const DBT *dbt)
{
	size_t len = dbt->size;

	if (len > 0 && ((const char *)dbt->data)[len - 1] == 0)
		len--;
	buf_reset(b);
	/* The buffer has no limit; buf_append fails only over a limit. */
	(void)buf_append(b, dbt->data, len);
	return buf_str(b);
}

/* map_hash_lock - flock with a TEMPFAIL reason on failure. */
static int
map_hash_lock(struct map_hash *mh, int how)
{
	if (map_file_lock(mh->fd, how) < 0) {
		map_set_reason(&mh->map, "%s: %s %s: %s", mh->map.title,
		    how == LOCK_UN ? "unlock" : "lock", mh->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* map_hash_dbopen - create a DB handle and open path; 0, or a Berkeley
 * DB/errno code. */
static int
map_hash_dbopen(DB **dbp, const char *path, DBTYPE type, u_int32_t flags,
    u_int32_t cache, size_t mmap_max)
{
	DB_ENV *env;
	DB *db;
	int err;

	*dbp = NULL;
	map_hash_dberr[0] = 0;
	if ((err = db_create(&db, NULL, 0)) != 0)
		return err;
	db->set_errcall(db, map_hash_errcall);
	env = db->get_env(db);
	if ((err = db->set_cachesize(db, 0, cache, 1)) != 0
	    || ((flags & DB_CREATE) && type == DB_HASH
		&& (err = db->set_h_nelem(db, MAP_HASH_NELEM)) != 0)
	    || (mmap_max > 0
		&& (err = env->set_mp_mmapsize(env, mmap_max)) != 0)
	    || (err = db->open(db, NULL, path, NULL, type, flags, 0644)) != 0) {
		(void)db->close(db, DB_NOSYNC);
		return err;
	}
	*dbp = db;
	return 0;
}

/* map_hash_same_file - does the DB handle read the file fd refers to? */
static int
map_hash_same_file(DB *db, int fd)
{
	struct stat a, b;
	int dbfd;

	if (db->fd(db, &dbfd) != 0 || fstat(dbfd, &a) < 0 || fstat(fd, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* map_hash_open_reader - open path for reading into mh (db, fd, and the
 * file's identity); 0, or -1 with a malloc'd *err_r. */
static int
map_hash_open_reader(struct map_hash *mh, char **err_r)
{
	char ebuf[512];
	struct stat st;
	DB *db;
	int fd, err;
	int locking = (mh->map.flags & MAP_FLAG_LOCK) != 0;

	for (int tries = 0; tries < MAP_HASH_OPEN_TRIES; tries++) {
		if ((fd = open(mh->path, O_RDONLY | O_CLOEXEC)) < 0) {
			*err_r = map_errorf("open database %s: %s", mh->path,
			    strerror(errno));
			return -1;
		}
		/* Nobody rewrites the file in place while we read its header. */
		if ((locking && map_file_lock(fd, LOCK_SH) < 0)
		    || fstat(fd, &st) < 0) {
			*err_r = map_errorf("open database %s: %s", mh->path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		err = map_hash_dbopen(&db, mh->path, mh->dbtype, DB_RDONLY,
		    MAP_HASH_READ_CACHE, locking ? MAP_HASH_MMAP_MAX : 0);
		if (locking)
			(void)map_file_lock(fd, LOCK_UN);
		if (err != 0) {
			*err_r = map_errorf("open database %s: %s", mh->path,
			    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
			close(fd);
			return -1;
		}
		/* Replaced between our open() and Berkeley DB's: again. */
		if (!map_hash_same_file(db, fd)) {
			(void)db->close(db, DB_NOSYNC);
			close(fd);
			continue;
		}
		mh->db = db;
		mh->fd = fd;
		mh->file = st;
		mh->map.mtime = st.st_mtime;
		mh->checked = time(NULL);
		mh->nul_flags = mh->map.flags
		    & (MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL);
		return 0;
	}
	*err_r = map_errorf("open database %s: file keeps being replaced",
	    mh->path);
	return -1;
}

/* map_hash_reopen - reader: switch to the file now at path; on failure
 * keep the old handle and return -1 with a malloc'd *err_r. */
static int
map_hash_reopen(struct map_hash *mh, char **err_r)
{
	struct map_hash fresh = *mh;

	if (map_hash_open_reader(&fresh, err_r) < 0)
		return -1;
	if (mh->cursor != NULL)
		(void)mh->cursor->close(mh->cursor);
	(void)mh->db->close(mh->db, 0);
	close(mh->fd);
	*mh = fresh;
	mh->cursor = NULL;
	return 0;
}

/* map_hash_changed - was the open file rewritten in place (Postfix's
 * postmap truncates and rewrites; postmap -i appends) since we opened
 * it?  -1 when fstat fails. */
static int
map_hash_changed(struct map_hash *mh)
{
	struct stat st;

	if (fstat(mh->fd, &st) < 0)
		return -1;
	return st.st_size != mh->file.st_size
	    || st.st_mtim.tv_sec != mh->file.st_mtim.tv_sec
	    || st.st_mtim.tv_nsec != mh->file.st_mtim.tv_nsec;
}

/* map_hash_enter - get ready to read: follow a replaced NAME.db, take
 * the shared lock, and reopen if the file was rewritten in place.  0, or
 * -1 with the reason set.  No-op for writers, which hold their exclusive
 * lock (or own their new file) from open to close.
 *
 * Replacement (rename) is checked at most once a second; until then the
 * old file, which is whole, is read.  In-place rewrites are checked on
 * every access for btree files, which Berkeley DB maps into memory (a
 * file that shrank under the mapping would kill us with SIGBUS), and
 * once a second for hash files, which are read with pread(): an fstat()
 * per lookup costs about 15% of a hash lookup, and Postfix itself never
 * notices such rewrites at all. */
static int
map_hash_enter(struct map_hash *mh)
{
	time_t now;
	struct stat st;
	char *err = NULL;
	int changed, tick = 0;

	if (mh->writer)
		return 0;
	if (mh->cursor == NULL && (now = time(NULL)) != mh->checked) {
		mh->checked = now;
		tick = 1;
		if (stat(mh->path, &st) == 0
		    && (st.st_dev != mh->file.st_dev
			|| st.st_ino != mh->file.st_ino)
		    && map_hash_reopen(mh, &err) < 0)
			free(err);	/* keep reading the old, whole file */
	}
	for (int tries = 0; tries < MAP_HASH_OPEN_TRIES; tries++) {
		if (mh->lock_each && map_hash_lock(mh, LOCK_SH) < 0)
			return -1;
		if (!(tick || mh->dbtype == DB_BTREE)
		    || (changed = map_hash_changed(mh)) == 0)
			return 0;
		if (mh->lock_each)
			(void)map_file_lock(mh->fd, LOCK_UN);
		if (changed < 0) {
			map_set_reason(&mh->map, "%s: fstat %s: %s",
			    mh->map.title, mh->path, strerror(errno));
			return -1;
		}
		if (mh->cursor != NULL) {
			map_set_reason(&mh->map, "%s: %s was rewritten while "
			    "being listed", mh->map.title, mh->path);
			(void)mh->cursor->close(mh->cursor);
			mh->cursor = NULL;
			return -1;
		}
		if (map_hash_reopen(mh, &err) < 0) {
			map_set_reason(&mh->map, "%s: reopen after change: %s",
			    mh->map.title, err);
			free(err);
			return -1;
		}
	}
	map_set_reason(&mh->map, "%s: %s keeps changing", mh->map.title,
	    mh->path);
	return -1;
}

/* map_hash_leave - release the shared lock taken by map_hash_enter. */
static int
map_hash_leave(struct map_hash *mh)
{
	if (mh->lock_each && map_hash_lock(mh, LOCK_UN) < 0)
		return -1;
	return 0;
}

/* map_hash_lock_path - open path (creating it if asked) and take an
 * exclusive lock on the file that is at path once the lock is held;
 * the descriptor, or -1 with errno set. */
static int
map_hash_lock_path(const char *path, int oflags)
{
	struct stat fst, pst;
	int fd;

	for (int tries = 0; tries < MAP_HASH_OPEN_TRIES; tries++) {
		if ((fd = open(path, oflags | O_CLOEXEC, 0644)) < 0)
			return -1;
		if (map_file_lock(fd, LOCK_EX) < 0 || fstat(fd, &fst) < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		if (stat(path, &pst) == 0 && pst.st_dev == fst.st_dev
		    && pst.st_ino == fst.st_ino)
			return fd;
		/* Renamed over (a rebuild committed) or removed: again. */
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

/* map_hash_get - one db->get; 1 found, 0 not found, -1 error (reason). */
static int
map_hash_get(struct map_hash *mh, const char *key, size_t len, DBT *val)
{
	char ebuf[512];
	DBT k;
	int err;

	map_hash_dbt(&k, key, len);
	memset(val, 0, sizeof(*val));
	map_hash_dberr[0] = 0;
	switch (err = mh->db->get(mh->db, NULL, &k, val, 0)) {
	case 0:
		return 1;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return 0;
	default:
		map_set_reason(&mh->map, "%s: read error: %s", mh->map.title,
		    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
		return -1;
	}
}

/* map_hash_usable - refuse access after commit() or a failed commit. */
static int
map_hash_usable(struct map_hash *mh)
{
	if (mh->db == NULL) {
		map_set_reason(&mh->map, "%s: table is closed for access "
		    "(already committed)", mh->map.title);
		return 0;
	}
	return 1;
}

/* map_hash_lookup - find key, with or without its trailing NUL. */
static enum map_status
map_hash_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_hash *mh = (struct map_hash *)map;
	size_t len = strlen(key);
	int found = 0;
	DBT val;

	if (!map_hash_usable(mh) || map_hash_enter(mh) < 0)
		return MAP_TEMPFAIL;
	if (mh->nul_flags & MAP_FLAG_TRY1NULL) {
		if ((found = map_hash_get(mh, key, len + 1, &val)) > 0)
			mh->nul_flags &= ~MAP_FLAG_TRY0NULL;
	}
	if (found == 0 && (mh->nul_flags & MAP_FLAG_TRY0NULL)) {
		if ((found = map_hash_get(mh, key, len, &val)) > 0)
			mh->nul_flags &= ~MAP_FLAG_TRY1NULL;
	}
	/* Copy while the lock is held: val points into the cache. */
	if (found > 0)
		*value_r = map_hash_copy(mh->value, &val);
	if (map_hash_leave(mh) < 0)
		return MAP_TEMPFAIL;
	if (found < 0)
		return MAP_TEMPFAIL;
	return found ? MAP_FOUND : MAP_NOTFOUND;
}

/* map_hash_update - store key=value; 1 when the key existed and was kept. */
static int
map_hash_update(struct map *map, const char *key, const char *value)
{
	struct map_hash *mh = (struct map_hash *)map;
	char ebuf[512];
	size_t extra;
	DBT k, v;
	int err;

	if (!map_hash_usable(mh))
		return -1;
	if (!mh->writer) {
		map_set_reason(map, "%s: table is open read-only", map->title);
		return -1;
	}
	/* With both forms allowed, writing settles on the NUL form. */
	if ((mh->nul_flags & MAP_FLAG_TRY1NULL)
	    && (mh->nul_flags & MAP_FLAG_TRY0NULL))
		mh->nul_flags &= ~MAP_FLAG_TRY0NULL;
	extra = (mh->nul_flags & MAP_FLAG_TRY1NULL) ? 1 : 0;
	/* The caller may narrow the form for one record (postalias writes
	 * the NIS YP_* records without a NUL): map->flags is read per call. */
	if ((map->flags & (MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL)) == MAP_FLAG_TRY0NULL)
		extra = 0;
	map_hash_dbt(&k, key, strlen(key) + extra);
	map_hash_dbt(&v, value, strlen(value) + extra);
	map_hash_dberr[0] = 0;
	err = mh->db->put(mh->db, NULL, &k, &v,
	    (map->flags & MAP_FLAG_DUP_REPLACE) ? 0 : DB_NOOVERWRITE);
	if (err == DB_KEYEXIST)
		return 1;
	if (err != 0) {
		map_set_reason(map, "%s: write error: %s", map->title,
		    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* map_hash_delete - remove key, with or without its trailing NUL. */
static enum map_status
map_hash_delete(struct map *map, const char *key)
{
	struct map_hash *mh = (struct map_hash *)map;
	size_t len = strlen(key);
	char ebuf[512];
	int err = DB_NOTFOUND;
	DBT k;

	if (!map_hash_usable(mh))
		return MAP_TEMPFAIL;
	if (!mh->writer) {
		map_set_reason(map, "%s: table is open read-only", map->title);
		return MAP_TEMPFAIL;
	}
	map_hash_dberr[0] = 0;
	if (mh->nul_flags & MAP_FLAG_TRY1NULL) {
		map_hash_dbt(&k, key, len + 1);
		if ((err = mh->db->del(mh->db, NULL, &k, 0)) == 0)
			mh->nul_flags &= ~MAP_FLAG_TRY0NULL;
	}
	if (err == DB_NOTFOUND && (mh->nul_flags & MAP_FLAG_TRY0NULL)) {
		map_hash_dbt(&k, key, len);
		if ((err = mh->db->del(mh->db, NULL, &k, 0)) == 0)
			mh->nul_flags &= ~MAP_FLAG_TRY1NULL;
	}
	switch (err) {
	case 0:
		return MAP_FOUND;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return MAP_NOTFOUND;
	default:
		map_set_reason(map, "%s: delete error: %s", map->title,
		    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
		return MAP_TEMPFAIL;
	}
}

/* map_hash_sequence - walk all entries in database order. */
static enum map_status
map_hash_sequence(struct map *map, enum map_seq how, const char **key_r,
    const char **value_r)
{
	struct map_hash *mh = (struct map_hash *)map;
	enum map_status st = MAP_FOUND;
	char ebuf[512];
	DBT k, v;
	int err;

	if (!map_hash_usable(mh))
		return MAP_TEMPFAIL;
	if (how == MAP_SEQ_FIRST && mh->cursor != NULL) {
		(void)mh->cursor->close(mh->cursor);
		mh->cursor = NULL;
	}
	if (map_hash_enter(mh) < 0)
		return MAP_TEMPFAIL;
	map_hash_dberr[0] = 0;
	if (mh->cursor == NULL) {
		if ((err = mh->db->cursor(mh->db, NULL, &mh->cursor, 0)) != 0) {
			mh->cursor = NULL;
			map_set_reason(map, "%s: read error: %s", map->title,
			    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
			st = MAP_TEMPFAIL;
			goto out;
		}
		how = MAP_SEQ_FIRST;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	err = mh->cursor->get(mh->cursor, &k, &v,
	    how == MAP_SEQ_FIRST ? DB_FIRST : DB_NEXT);
	if (err == 0) {
		*key_r = map_hash_copy(mh->key, &k);
		*value_r = map_hash_copy(mh->value, &v);
	} else {
		if (err == DB_NOTFOUND) {
			st = MAP_NOTFOUND;
		} else {
			map_set_reason(map, "%s: read error: %s", map->title,
			    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
			st = MAP_TEMPFAIL;
		}
		(void)mh->cursor->close(mh->cursor);
		mh->cursor = NULL;
	}
out:
	if (map_hash_leave(mh) < 0)
		return MAP_TEMPFAIL;
	return st;
}

/* map_hash_fsync_dir - make a rename in the directory of path durable. */
static int
map_hash_fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* map_hash_commit - rebuild: flush, fsync, and rename the new file over
 * NAME.db; the handle is closed for further access. */
static int
map_hash_commit(struct map *map)
{
	struct map_hash *mh = (struct map_hash *)map;
	char ebuf[512];
	int err, old_fd;

	if (mh->bulk && mh->tmp_path == NULL && mh->db == NULL)
		return 0;	/* committed already */
	if (!map_hash_usable(mh))
		return -1;
	if (!mh->bulk) {
		/* In-place update: push it to disk now, where errors can be
		 * reported. */
		map_hash_dberr[0] = 0;
		if ((err = mh->db->sync(mh->db, 0)) != 0) {
			map_set_reason(map, "%s: write %s: %s", map->title,
			    mh->path, map_hash_strerror(err, mh->path, ebuf,
			    sizeof(ebuf)));
			return -1;
		}
		return 0;
	}
	if (mh->cursor != NULL) {
		(void)mh->cursor->close(mh->cursor);
		mh->cursor = NULL;
	}
	/* DB->close writes every dirty page; the handle is gone either way. */
	map_hash_dberr[0] = 0;
	err = mh->db->close(mh->db, 0);
	mh->db = NULL;
	if (err != 0) {
		map_set_reason(map, "%s: write %s: %s", map->title, mh->tmp_path,
		    map_hash_strerror(err, mh->tmp_path, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fsync(mh->fd) < 0) {
		map_set_reason(map, "%s: fsync %s: %s", map->title, mh->tmp_path,
		    strerror(errno));
		return -1;
	}
	/* Wait for in-place writers and in-flight lookups on the old file. */
	old_fd = map_hash_lock_path(mh->path, O_RDONLY);
	if (rename(mh->tmp_path, mh->path) < 0) {
		map_set_reason(map, "%s: rename %s to %s: %s", map->title,
		    mh->tmp_path, mh->path, strerror(errno));
		if (old_fd >= 0)
			close(old_fd);
		return -1;
	}
	xfree(&mh->tmp_path);
	map_hash_bulk_forget(mh);
	if (old_fd >= 0)
		close(old_fd);
	if (map_hash_fsync_dir(mh->path) < 0) {
		map_set_reason(map, "%s: fsync directory of %s: %s", map->title,
		    mh->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* map_hash_close - release everything; an uncommitted rebuild leaves no
 * trace. */
static void
map_hash_close(struct map *map)
{
	struct map_hash *mh = (struct map_hash *)map;

	if (mh->cursor != NULL)
		(void)mh->cursor->close(mh->cursor);
	if (mh->db != NULL)
		(void)mh->db->close(mh->db, mh->tmp_path ? DB_NOSYNC : 0);
	if (mh->tmp_path != NULL) {
		(void)unlink(mh->tmp_path);
		free(mh->tmp_path);
		map_hash_bulk_forget(mh);
	}
	if (mh->fd >= 0)
		close(mh->fd);
	free(mh->path);
	buf_free(&mh->value);
	buf_free(&mh->key);
	map_free_base(map);
}

/* map_hash_open_bulk - rebuild: a new file beside NAME.db, with the mode
 * (and, where allowed, the owner) of the file it will replace. */
static int
map_hash_open_bulk(struct map_hash *mh, char **err_r)
{
	static int registered;
	char ebuf[512];
	struct stat old;
	int have_old, err;
	char pid[32];

	snprintf(pid, sizeof(pid), ".%ld.tmp", (long)getpid());
	mh->tmp_path = concatenate(mh->path, pid, (char *)0);
	have_old = stat(mh->path, &old) == 0;
	for (int tries = 0; tries < 2; tries++) {
		mh->fd = open(mh->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
		/* Left over by a dead process that had our pid. */
		if (mh->fd < 0 && errno == EEXIST && tries == 0)
			(void)unlink(mh->tmp_path);
		else
			break;
	}
	if (mh->fd < 0) {
		*err_r = map_errorf("open database %s: %s", mh->tmp_path,
		    strerror(errno));
		xfree(&mh->tmp_path);
		return -1;
	}
	if (!registered) {
		registered = 1;
		(void)atexit(map_hash_cleanup);
	}
	mh->next_bulk = map_hash_bulk_list;
	map_hash_bulk_list = mh;
	if (have_old) {
		if (geteuid() == 0)
			(void)fchown(mh->fd, old.st_uid, old.st_gid);
		else if (old.st_gid != getegid())
			(void)fchown(mh->fd, (uid_t)-1, old.st_gid);
		(void)fchmod(mh->fd, old.st_mode & 07777);
	}
	/* The file is empty, which Berkeley DB treats as "create". */
	err = map_hash_dbopen(&mh->db, mh->tmp_path, mh->dbtype, DB_CREATE,
	    MAP_HASH_BUILD_CACHE, 0);
	if (err != 0) {
		*err_r = map_errorf("open database %s: %s", mh->tmp_path,
		    map_hash_strerror(err, mh->tmp_path, ebuf, sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* map_hash_open_update - in-place update (or truncation without BULK)
 * under an exclusive lock held until close. */
static int
map_hash_open_update(struct map_hash *mh, int open_flags, char **err_r)
{
	char ebuf[512];
	int err;

	mh->fd = map_hash_lock_path(mh->path,
	    O_RDWR | (open_flags & O_CREAT));
	if (mh->fd < 0) {
		*err_r = map_errorf("open database %s: %s", mh->path,
		    strerror(errno));
		return -1;
	}
	if ((open_flags & O_TRUNC) && ftruncate(mh->fd, 0) < 0) {
		*err_r = map_errorf("truncate database %s: %s", mh->path,
		    strerror(errno));
		return -1;
	}
	err = map_hash_dbopen(&mh->db, mh->path, mh->dbtype,
	    (open_flags & O_CREAT) ? DB_CREATE : 0,
	    (open_flags & O_TRUNC) ? MAP_HASH_BUILD_CACHE
	    : MAP_HASH_UPDATE_CACHE, 0);
	if (err != 0) {
		*err_r = map_errorf("open database %s: %s", mh->path,
		    map_hash_strerror(err, mh->path, ebuf, sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* map_hash_open_type - open NAME.db as a table of the given type. */
static struct map *
map_hash_open_type(const struct map_driver *drv, DBTYPE dbtype,
    const char *name, int open_flags, int flags, char **err_r)
{
	struct map_hash *mh;
	struct stat st;
	int ret;

	mh = (struct map_hash *)map_alloc(sizeof(*mh), drv, name, open_flags,
	    flags);
	mh->dbtype = dbtype;
	mh->fd = -1;
	mh->path = concatenate(name, ".db", (char *)0);
	mh->nul_flags = flags & (MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL);
	mh->value = buf_new(64, BUF_NOLIMIT);
	mh->key = buf_new(64, BUF_NOLIMIT);
	mh->map.lookup = map_hash_lookup;
	mh->map.sequence = map_hash_sequence;
	mh->map.close = map_hash_close;

	if ((open_flags & O_ACCMODE) == O_RDONLY) {
		mh->lock_each = (flags & MAP_FLAG_LOCK) != 0;
		ret = map_hash_open_reader(mh, err_r);
	} else {
		mh->writer = 1;
		mh->map.update = map_hash_update;
		mh->map.delete = map_hash_delete;
		mh->map.commit = map_hash_commit;
		if ((open_flags & O_TRUNC) && (flags & MAP_FLAG_BULK)) {
			mh->bulk = 1;
			ret = map_hash_open_bulk(mh, err_r);
		} else {
			ret = map_hash_open_update(mh, open_flags, err_r);
		}
		if (ret == 0 && fstat(mh->fd, &st) == 0)
			mh->map.mtime = st.st_mtime;
	}
	if (ret < 0) {
		map_hash_close(&mh->map);
		return NULL;
	}
	return &mh->map;
}

static struct map *map_hash_open(const char *, int, int, char **);
static struct map *map_hash_open_btree(const char *, int, int, char **);

static const struct map_driver map_hash_driver = {
	.magic = MAP_DRIVER_MAGIC,
	.abi = MAP_ABI_VERSION,
	.type = "hash",
	.caps = MAP_CAP_FIXED | MAP_CAP_UPDATE | MAP_CAP_SEQUENCE
	    | MAP_CAP_CREATE | MAP_CAP_FILE,
	.open = map_hash_open,
};

static const struct map_driver map_hash_btree_driver = {
	.magic = MAP_DRIVER_MAGIC,
	.abi = MAP_ABI_VERSION,
	.type = "btree",
	.caps = MAP_CAP_FIXED | MAP_CAP_UPDATE | MAP_CAP_SEQUENCE
	    | MAP_CAP_CREATE | MAP_CAP_FILE,
	.open = map_hash_open_btree,
};

/* map_hash_open - open hash:NAME. */
static struct map *
map_hash_open(const char *name, int open_flags, int flags, char **err_r)
{
	return map_hash_open_type(&map_hash_driver, DB_HASH, name, open_flags,
	    flags, err_r);
}

/* map_hash_open_btree - open btree:NAME. */
static struct map *
map_hash_open_btree(const char *name, int open_flags, int flags,
    char **err_r)
{
	return map_hash_open_type(&map_hash_btree_driver, DB_BTREE, name,
	    open_flags, flags, err_r);
}

/* map_hash_init - refuse a libdb whose major.minor differs from the
 * headers we were built with (its file formats may differ). */
static int
map_hash_init(void)
{
	int major, minor, patch;

	(void)db_version(&major, &minor, &patch);
	if (major != DB_VERSION_MAJOR || minor != DB_VERSION_MINOR)
		return -1;
	return 0;
}

static const struct map_driver *const map_hash_drivers[] = {
	&map_hash_driver,
	&map_hash_btree_driver,
	NULL,
};

/* The module entry named in dynamicmaps.cf: the only exported symbol. */
__attribute__((visibility("default")))
const struct map_module postino_map_hash = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module),
	.name = "map_hash",
	.init = map_hash_init,
	.drivers = map_hash_drivers,
};

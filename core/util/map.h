/* SPDX-License-Identifier: MIT */
/* map - the lookup-table layer: open "type:name", look up, update,
 * delete, sequence, close.
 *
 * Every lookup answers exactly one of MAP_FOUND (with a value owned by
 * the map until its next call), MAP_NOTFOUND, or MAP_TEMPFAIL (with a
 * one-line reason from map_reason()).  A temporary error is never "not
 * found": callers defer or answer 4xx.
 *
 * Case folding (MAP_FLAG_FOLD_FIX, applied to tables with MAP_CAP_FIXED:
 * ASCII letters, or Unicode full case folding of non-ASCII keys in UTF-8
 * mode), the UTF-8 check of keys in UTF-8 mode (MAP_FLAG_UTF8) and
 * key-length limits are applied here, once, never in a driver.
 *
 * Table types come from the built-in drivers (static, inline, texthash,
 * cidr, fail, unix, nis, proxy) or from modules listed in dynamicmaps.cf
 * and loaded with libltdl (see map_loader.c).
 *
 * Blocking: lookups in tables with MAP_CAP_BLOCKING (ldap, mysql) may
 * block for up to the table's timeout.  Daemons never call them: the
 * mail layer routes them to the lookup service (map_proxy_hook below),
 * whose client waits in tasks; the service keeps the result cache.  This
 * layer is single-threaded: no locks, one answer per table at a time. */
#ifndef POSTINO_UTIL_MAP_H
#define POSTINO_UTIL_MAP_H

#include <fcntl.h>
#include <time.h>

#include "buf.h"

enum map_status {
	MAP_FOUND,
	MAP_NOTFOUND,
	MAP_TEMPFAIL,
};

/* Request flags (what the caller wants), given to map_open(). */
#define MAP_FLAG_FOLD_FIX	(1 << 0)	/* lowercase keys of fixed tables */
#define MAP_FLAG_TRY0NULL	(1 << 1)	/* .db: try key without trailing NUL */
#define MAP_FLAG_TRY1NULL	(1 << 2)	/* .db: try key with trailing NUL */
#define MAP_FLAG_DUP_WARN	(1 << 3)	/* update: keep first, caller warns */
#define MAP_FLAG_DUP_IGNORE	(1 << 4)	/* update: keep first, silently */
#define MAP_FLAG_DUP_REPLACE	(1 << 5)	/* update: last one wins */
#define MAP_FLAG_NO_REGSUB	(1 << 6)	/* regexp/pcre: refuse $n rules */
#define MAP_FLAG_LOCK		(1 << 7)	/* lock around each access */
#define MAP_FLAG_EXPLAIN	(1 << 8)	/* record how answers are reached */
#define MAP_FLAG_SURROGATE	(1 << 9)	/* daemon: on open error return a
						 * surrogate instead of NULL */
#define MAP_FLAG_BULK		(1 << 10)	/* postmap/postalias rebuild: the
						 * driver may create a new file and
						 * install it at map_commit() */
#define MAP_FLAG_UTF8		(1 << 11)	/* smtputf8_enable: UTF-8 mode */
#define MAP_FLAG_PARANOID	(1 << 12)	/* an empty result is a configuration
						 * error: warn, MAP_TEMPFAIL */
#define MAP_FLAG_EMPTY_OK	(1 << 14)	/* with PARANOID: warn only, found
						 * (postmap -q) */
#define MAP_FLAG_FOLD_ANY	(1 << 13)	/* fold keys of any table */

/* Default request flags for readers and for postmap-style builders. */
#define MAP_FLAGS_DEFAULT	(MAP_FLAG_FOLD_FIX | MAP_FLAG_TRY0NULL | \
				 MAP_FLAG_TRY1NULL | MAP_FLAG_DUP_WARN | \
				 MAP_FLAG_LOCK | MAP_FLAG_PARANOID)

/* Driver capabilities (what the table type can do). */
#define MAP_CAP_FIXED		(1 << 0)	/* exact keys; gets partial keys */
#define MAP_CAP_PATTERN		(1 << 1)	/* regexp-like; full keys only */
#define MAP_CAP_UPDATE		(1 << 2)	/* update/delete supported */
#define MAP_CAP_SEQUENCE	(1 << 3)	/* first/next supported */
#define MAP_CAP_BLOCKING	(1 << 4)	/* lookups may block (network) */
#define MAP_CAP_CREATE		(1 << 5)	/* postmap/postalias can build it */
#define MAP_CAP_FILE		(1 << 6)	/* name is a file name */
#define MAP_CAP_REMOTE		(1 << 7)	/* answered by the lookup service:
						 * the client waits on its loop */

/* Key-length limits, enforced in map.c for every table. */
#define MAP_FIXED_KEY_MAX	4096		/* bytes, fixed tables */
#define MAP_PATTERN_KEY_MAX	(1024 * 1024)	/* bytes, pattern tables */

enum map_seq {
	MAP_SEQ_FIRST,
	MAP_SEQ_NEXT,
};

struct map_driver;

/* struct map - the base of every table instance; drivers embed it first
 * and fill the method pointers at open time. */
struct map {
	const struct map_driver *driver;
	char *type;		/* "hash" */
	char *name;		/* "/etc/postino/virtual" */
	char *title;		/* "hash:/etc/postino/virtual" */
	int open_flags;		/* O_RDONLY, or O_RDWR|O_CREAT[|O_TRUNC] */
	int flags;		/* MAP_FLAG_* */
	int caps;		/* MAP_CAP_* (copied from the driver, may be
				 * narrowed by the instance) */
	struct buf *reason;	/* last MAP_TEMPFAIL reason */
	struct buf *explain;	/* with MAP_FLAG_EXPLAIN: trace lines */
	struct buf *keybuf;	/* folded key (map.c) */
	time_t mtime;		/* source file mtime at open, 0 if none */

	/* Methods.  lookup is mandatory; the others may be NULL. */
	enum map_status (*lookup)(struct map *map, const char *key,
	    const char **value_r);
	/* update: 0 stored, 1 key existed and was kept (DUP_WARN/IGNORE),
	 * -1 error (reason set). */
	int (*update)(struct map *map, const char *key, const char *value);
	enum map_status (*delete)(struct map *map, const char *key);
	enum map_status (*sequence)(struct map *map, enum map_seq how,
	    const char **key_r, const char **value_r);
	/* commit: with MAP_FLAG_BULK, make the new content visible
	 * (fsync + rename); 0 ok, -1 error (reason set). */
	int (*commit)(struct map *map);
	void (*close)(struct map *map);
};

/* map_open - open "type:name".  open_flags: O_RDONLY for readers;
 * O_RDWR|O_CREAT for incremental updates; O_RDWR|O_CREAT|O_TRUNC for
 * rebuilds.  Returns the map; on failure NULL and *err_r is a malloc'd
 * one-line reason (free it) -- unless MAP_FLAG_SURROGATE is set, in
 * which case the error is logged and a surrogate map is returned whose
 * lookups all fail with MAP_TEMPFAIL and that reason. */
struct map *map_open(const char *type_name, int open_flags, int flags,
    char **err_r);

/* map_set_utf8 - with on, every table opened afterwards is in UTF-8 mode
 * (MAP_FLAG_UTF8): keys that are not well-formed UTF-8 are not found
 * (with a warning), keys of folded tables get Unicode full case folding,
 * regexp/pcre match in UTF mode.  mail_conf_read() sets it from
 * smtputf8_enable, as Postfix does; postmap/postalias -u clear it. */
void map_set_utf8(int on);
int map_utf8_enabled(void);

/* map_lookup - look key up, folding and limiting as the flags say. */
enum map_status map_lookup(struct map *map, const char *key,
    const char **value_r);
/* map_update - store key=value (folded as for lookups); see update above.
 * -1 also when the table cannot be updated. */
int map_update(struct map *map, const char *key, const char *value);
/* map_delete - remove key. */
enum map_status map_delete(struct map *map, const char *key);
/* map_sequence - iterate; MAP_NOTFOUND at the end. */
enum map_status map_sequence(struct map *map, enum map_seq how,
    const char **key_r, const char **value_r);
/* map_commit - finish a bulk rebuild; 0 ok or -1 (reason set). */
int map_commit(struct map *map);
/* map_close - close and free; NULLs the pointer. */
void map_close(struct map **mapp);

/* map_reason - the last temporary-error reason ("" if none). */
const char *map_reason(const struct map *map);
/* map_explain_text - the trace of the last call (MAP_FLAG_EXPLAIN), or
 * ""; map_explain_reset clears it. */
const char *map_explain_text(const struct map *map);
void map_explain_reset(struct map *map);

/* The lookup service (proxymap) hook.  The mail layer (core/mail/
 * map_proxy.c) installs open_fn, which opens "proxy:TABLE" as a client
 * of the lookup service; map_open() calls it for "proxy:TABLE" (without
 * a hook, proxy: passes through to TABLE, opened here) and, when
 * map_proxy_route(1) is in effect (daemons, but not the lookup service
 * itself), also for read-only opens of tables whose driver has
 * MAP_CAP_BLOCKING (ldap:, mysql:): a daemon then never calls a blocking
 * driver itself.  table is what follows "proxy:"; routed is 1 when the
 * table was named without "proxy:" (its title stays TABLE). */
typedef struct map *map_proxy_open_fn(const char *table, int open_flags,
    int flags, int routed, char **err_r);
void map_proxy_hook(map_proxy_open_fn *open_fn);
/* map_proxy_route - with on (and a hook installed), blocking tables are
 * opened through the lookup service; off (the default) opens them here. */
void map_proxy_route(int on);
int map_proxy_routing(void);

/* map_type_list - the known table types, built in and from
 * dynamicmaps.cf, sorted; a NULL-terminated array of static strings
 * (free the array only). */
const char **map_type_list(void);

/* map_split_type - split "type:name" into malloc'd parts; without a ':'
 * the type is default_type.  Returns 0, or -1 for an empty type/name. */
int map_split_type(const char *type_name, const char *default_type,
    char **type_r, char **name_r);

#endif

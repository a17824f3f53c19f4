/* SPDX-License-Identifier: MIT */
/* map_driver - what a table type implements (built in or in a module).
 *
 * A module exports one data symbol whose name starts with "postino_"
 * (named in dynamicmaps.cf), of type struct map_module.  The loader checks
 * magic and ABI version before touching anything else, so a Postfix
 * plugin named by mistake is refused instead of called.
 *
 * A driver's open() allocates its instance with map_alloc() (the struct
 * map base first in the driver's own struct), fills the methods and
 * returns it; on failure it returns NULL and sets *err_r to a malloc'd
 * one-line reason ("open database /x.db: No such file or directory").
 * Drivers never exit the process and never fold keys themselves. */
#ifndef POSTINO_UTIL_MAP_DRIVER_H
#define POSTINO_UTIL_MAP_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "map.h"

#define MAP_DRIVER_MAGIC	0x504f5354u	/* "POST" */
#define MAP_MODULE_MAGIC	0x4d4f4455u	/* "MODU" */
#define MAP_ABI_VERSION		1u

struct map_driver {
	uint32_t magic;		/* MAP_DRIVER_MAGIC */
	uint32_t abi;		/* MAP_ABI_VERSION */
	const char *type;	/* "hash" */
	int caps;		/* MAP_CAP_* */
	struct map *(*open)(const char *name, int open_flags, int flags,
	    char **err_r);
};

struct map_module {
	uint32_t magic;		/* MAP_MODULE_MAGIC */
	uint32_t abi;		/* MAP_ABI_VERSION */
	uint32_t size;		/* sizeof(struct map_module) */
	const char *name;	/* "map_hash" */
	int (*init)(void);	/* optional; 0 = ok */
	const struct map_driver *const *drivers;	/* NULL-terminated */
};

/* map_alloc - allocate a driver instance of size bytes (>= sizeof(struct
 * map)), zeroed, with the base filled in (type, name, title, flags, caps,
 * buffers). */
struct map *map_alloc(size_t size, const struct map_driver *driver,
    const char *name, int open_flags, int flags);
/* map_free_base - free what map_alloc allocated (drivers' close() ends
 * with this). */
void map_free_base(struct map *map);

/* map_set_reason - set the temporary-error reason (printf style). */
void map_set_reason(struct map *map, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* map_explain - append one trace line when MAP_FLAG_EXPLAIN is set
 * (cheap no-op otherwise). */
void map_explain(struct map *map, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define MAP_EXPLAINING(m)	((m)->flags & MAP_FLAG_EXPLAIN)

/* map_errorf - malloc'd printf result, for *err_r. */
char *map_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* map_file_lock - flock(fd, LOCK_SH/LOCK_EX/LOCK_UN) with EINTR retry;
 * 0 or -1 (errno set). */
int map_file_lock(int fd, int how);

#endif

/* SPDX-License-Identifier: MIT */
/* map - the lookup-table layer (see map.h).
 *
 * This file owns the rules every table shares: "type:name" splitting,
 * the proxy: prefix, case folding of fixed-table keys, key-length limits,
 * the empty-result check, surrogates for tables that cannot be opened,
 * and the explain trace.  Drivers are found by map_loader.c. */
#include "postino_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "map.h"
#include "map_driver.h"
#include "map_loader.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

int
map_split_type(const char *type_name, const char *default_type,
    char **type_r, char **name_r)
{
	const char *colon = strchr(type_name, ':');

	if (colon == NULL || colon == type_name) {
		if (colon == type_name || default_type == NULL || *type_name == 0)
			return -1;
		*type_r = xstrdup(default_type);
		*name_r = xstrdup(type_name);
		return 0;
	}
	/* A '/' before the ':' means "a path containing a colon". */
	for (const char *cp = type_name; cp < colon; cp++) {
		if (*cp == '/') {
			if (default_type == NULL)
				return -1;
			*type_r = xstrdup(default_type);
			*name_r = xstrdup(type_name);
			return 0;
		}
	}
	*type_r = xstrndup(type_name, (size_t)(colon - type_name));
	*name_r = xstrdup(colon + 1);
	if (**name_r == 0) {
		xfree(type_r);
		xfree(name_r);
		return -1;
	}
	return 0;
}

struct map *
map_alloc(size_t size, const struct map_driver *driver, const char *name,
    int open_flags, int flags)
{
	struct map *map;

	if (size < sizeof(struct map))
		msg_panic("map_alloc: size %zu too small", size);
	map = xcalloc(1, size);
	map->driver = driver;
	map->type = xstrdup(driver->type);
	map->name = xstrdup(name);
	map->title = concatenate(driver->type, ":", name, (char *)0);
	map->open_flags = open_flags;
	map->flags = flags;
	map->caps = driver->caps;
	map->reason = buf_new(64, 4096);
	map->explain = buf_new(64, 64 * 1024);
	map->keybuf = buf_new(64, BUF_NOLIMIT);
	return map;
}

void
map_free_base(struct map *map)
{
	free(map->type);
	free(map->name);
	free(map->title);
	buf_free(&map->reason);
	buf_free(&map->explain);
	buf_free(&map->keybuf);
	free(map);
}

void
map_set_reason(struct map *map, const char *fmt, ...)
{
	va_list ap;

	buf_reset(map->reason);
	va_start(ap, fmt);
	buf_vprintf(map->reason, fmt, ap);
	va_end(ap);
}

void
map_explain(struct map *map, const char *fmt, ...)
{
	va_list ap;

	if (!MAP_EXPLAINING(map))
		return;
	va_start(ap, fmt);
	buf_vprintf(map->explain, fmt, ap);
	va_end(ap);
	buf_putc(map->explain, '\n');
}

char *
map_errorf(const char *fmt, ...)
{
	va_list ap;
	char *res;

	va_start(ap, fmt);
	if (vasprintf(&res, fmt, ap) < 0)
		msg_fatal("out of memory");
	va_end(ap);
	return res;
}

int
map_file_lock(int fd, int how)
{
	while (flock(fd, how) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

const char *
map_reason(const struct map *map)
{
	return buf_str(map->reason);
}

const char *
map_explain_text(const struct map *map)
{
	return buf_str(map->explain);
}

void
map_explain_reset(struct map *map)
{
	buf_reset(map->explain);
}

/* Surrogate: a table that could not be opened; every access fails with
 * the open error as the reason.  map_lookup() and friends clear the
 * reason before each call, so it is kept here and set again each time. */

struct map_surrogate {
	struct map map;
	char *error;		/* the open error */
};

static enum map_status
surrogate_lookup(struct map *map, const char *key, const char **value_r)
{
	map_set_reason(map, "%s", ((struct map_surrogate *)map)->error);
	msg_warn("%s lookup error for \"%s\": %s", map->title, key,
	    map_reason(map));
	return MAP_TEMPFAIL;
}

static int
surrogate_update(struct map *map, const char *key, const char *value)
{
	map_set_reason(map, "%s", ((struct map_surrogate *)map)->error);
	return -1;
}

static enum map_status
surrogate_delete(struct map *map, const char *key)
{
	map_set_reason(map, "%s", ((struct map_surrogate *)map)->error);
	return MAP_TEMPFAIL;
}

static enum map_status
surrogate_sequence(struct map *map, enum map_seq how, const char **key_r,
    const char **value_r)
{
	map_set_reason(map, "%s", ((struct map_surrogate *)map)->error);
	return MAP_TEMPFAIL;
}

static void
surrogate_close(struct map *map)
{
	free(((struct map_surrogate *)map)->error);
	map_free_base(map);
}

static struct map *
map_surrogate(const char *type, const char *name, int open_flags, int flags,
    const char *reason)
{
	/* The driver record only carries the type name for titles. */
	struct map_driver *drv = xcalloc(1, sizeof(*drv));
	struct map_surrogate *ms;

	drv->magic = MAP_DRIVER_MAGIC;
	drv->abi = MAP_ABI_VERSION;
	drv->type = type;
	ms = (struct map_surrogate *)map_alloc(sizeof(*ms), drv, name,
	    open_flags, flags);
	free(drv);
	ms->map.driver = NULL;
	ms->map.lookup = surrogate_lookup;
	ms->map.update = surrogate_update;
	ms->map.delete = surrogate_delete;
	ms->map.sequence = surrogate_sequence;
	ms->map.close = surrogate_close;
	ms->error = xstrdup(reason);
	map_set_reason(&ms->map, "%s", reason);
	return &ms->map;
}

struct map *
map_open(const char *type_name, int open_flags, int flags, char **err_r)
{
	char *type = NULL, *name = NULL;
	const struct map_driver *drv;
	struct map *map = NULL;
	char *err = NULL;

	*err_r = NULL;
	if (map_split_type(type_name, NULL, &type, &name) < 0) {
		err = map_errorf("table name \"%s\" is not in type:name form",
		    type_name);
		type = xstrdup("error");
		name = xstrdup(type_name);
		goto fail;
	}
	/* proxy: is accepted and passed through (no proxymap service yet). */
	if (strcmp(type, "proxy") == 0) {
		if (open_flags & O_CREAT) {
			err = map_errorf("%s: can't create maps via the proxy service",
			    type_name);
			goto fail;
		}
		free(type);
		type = NULL;
		map = map_open(name, open_flags, flags, err_r);
		free(name);
		return map;
	}
	if ((drv = map_loader_find(type, &err)) == NULL)
		goto fail;
	if ((open_flags & O_CREAT) && !(drv->caps & (MAP_CAP_CREATE | MAP_CAP_UPDATE))) {
		err = map_errorf("unsupported operation: cannot create or update %s:%s",
		    type, name);
		goto fail;
	}
	if ((map = drv->open(name, open_flags, flags, &err)) == NULL) {
		if (err == NULL)
			err = map_errorf("%s:%s: open failed", type, name);
		goto fail;
	}
	free(type);
	free(name);
	return map;

fail:
	if (flags & MAP_FLAG_SURROGATE) {
		msg_error("%s", err);
		map = map_surrogate(type, name, open_flags, flags, err);
		free(err);
	} else {
		*err_r = err;
	}
	free(type);
	free(name);
	return map;
}

/* map_prepare_key - apply case folding and the length limit; NULL when
 * the key is over the limit (the lookup then finds nothing). */
static const char *
map_prepare_key(struct map *map, const char *key)
{
	size_t len = strlen(key);
	size_t max = (map->caps & MAP_CAP_FIXED) ? MAP_FIXED_KEY_MAX
	    : MAP_PATTERN_KEY_MAX;

	if (len > max) {
		msg_warn("%s: key of %zu bytes exceeds the %zu-byte limit: not found",
		    map->title, len, max);
		map_explain(map, "%s: key of %zu bytes is longer than %zu: not searched",
		    map->title, len, max);
		return NULL;
	}
	if (((map->flags & MAP_FLAG_FOLD_FIX) && (map->caps & MAP_CAP_FIXED))
	    || (map->flags & MAP_FLAG_FOLD_ANY)) {
		if (has_upper(key)) {
			buf_set(map->keybuf, key);
			lowercase(map->keybuf->data);
			map_explain(map, "%s: key \"%s\" folded to \"%s\"",
			    map->title, key, buf_str(map->keybuf));
			return buf_str(map->keybuf);
		}
	}
	return key;
}

enum map_status
map_lookup(struct map *map, const char *key, const char **value_r)
{
	const char *k;
	enum map_status st;

	buf_reset(map->reason);
	*value_r = NULL;
	if ((k = map_prepare_key(map, key)) == NULL)
		return MAP_NOTFOUND;
	st = map->lookup(map, k, value_r);
	switch (st) {
	case MAP_FOUND:
		if (**value_r == 0 && (map->flags & MAP_FLAG_PARANOID)) {
			msg_warn("table %s: key %s: empty string result is not allowed",
			    map->title, key);
			msg_warn("table %s should return NO RESULT in case of NOT FOUND",
			    map->title);
			if (!(map->flags & MAP_FLAG_EMPTY_OK)) {
				map_set_reason(map, "table %s: key %s: empty string result is not allowed",
				    map->title, key);
				map_explain(map, "%s: \"%s\" empty result: configuration error",
				    map->title, k);
				*value_r = NULL;
				return MAP_TEMPFAIL;
			}
		}
		map_explain(map, "%s: \"%s\" found: \"%s\"", map->title, k,
		    *value_r);
		break;
	case MAP_NOTFOUND:
		map_explain(map, "%s: \"%s\" not found", map->title, k);
		break;
	case MAP_TEMPFAIL:
		if (buf_len(map->reason) == 0)
			map_set_reason(map, "%s: lookup error", map->title);
		map_explain(map, "%s: \"%s\" temporary error: %s", map->title,
		    k, map_reason(map));
		break;
	}
	return st;
}

int
map_update(struct map *map, const char *key, const char *value)
{
	const char *k;

	buf_reset(map->reason);
	if (map->update == NULL) {
		map_set_reason(map, "%s: table does not support updates",
		    map->title);
		return -1;
	}
	if ((k = map_prepare_key(map, key)) == NULL) {
		map_set_reason(map, "key of %zu bytes exceeds the %d-byte limit",
		    strlen(key), MAP_FIXED_KEY_MAX);
		return -1;
	}
	return map->update(map, k, value);
}

enum map_status
map_delete(struct map *map, const char *key)
{
	const char *k;

	buf_reset(map->reason);
	if (map->delete == NULL) {
		map_set_reason(map, "%s: table does not support deletes",
		    map->title);
		return MAP_TEMPFAIL;
	}
	if ((k = map_prepare_key(map, key)) == NULL)
		return MAP_NOTFOUND;
	return map->delete(map, k);
}

enum map_status
map_sequence(struct map *map, enum map_seq how, const char **key_r,
    const char **value_r)
{
	buf_reset(map->reason);
	if (map->sequence == NULL) {
		map_set_reason(map, "%s: table does not support sequencing",
		    map->title);
		return MAP_TEMPFAIL;
	}
	return map->sequence(map, how, key_r, value_r);
}

int
map_commit(struct map *map)
{
	if (map->commit == NULL)
		return 0;
	return map->commit(map);
}

void
map_close(struct map **mapp)
{
	if (*mapp) {
		(*mapp)->close(*mapp);
		*mapp = NULL;
	}
}

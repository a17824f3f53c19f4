/* SPDX-License-Identifier: MIT */
/* map - the lookup-table layer (see map.h).
 *
 * This file owns the rules every table shares: "type:name" splitting,
 * the proxy: prefix, case folding of fixed-table keys, key-length limits,
 * the empty-result check, surrogates for tables that cannot be opened,
 * and the explain trace.  Drivers are found by map_loader.c.
 *
 * Single-threaded: daemons never call a blocking table themselves (they
 * reach ldap:, mysql: through the lookup service, map_proxy_hook), and
 * the result cache lives in that service (core/proxymap). */
#include "postino_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "map.h"
#include "task.h"
#include "map_driver.h"
#include "htable.h"
#include "map_loader.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "utf8.h"

/* UTF-8 mode for every table opened from now on (smtputf8_enable). */
static int utf8_default;

/* The lookup-service client (map_proxy_hook) and automatic routing. */
static map_proxy_open_fn *proxy_open_fn;
static int proxy_route;

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
	if (utf8_default)
		flags |= MAP_FLAG_UTF8;
	if (map_split_type(type_name, NULL, &type, &name) < 0) {
		err = map_errorf("table name \"%s\" is not in type:name form",
		    type_name);
		type = xstrdup("error");
		name = xstrdup(type_name);
		goto fail;
	}
	/* proxy: goes to the lookup service when its client is installed,
	 * else it is passed through (unit tests, programs without it). */
	if (strcmp(type, "proxy") == 0) {
		if (open_flags & O_CREAT) {
			err = map_errorf("%s: can't create maps via the proxy service",
			    type_name);
			goto fail;
		}
		if (proxy_open_fn != NULL && strchr(name, ':') != NULL) {
			map = proxy_open_fn(name, open_flags, flags, 0, err_r);
			free(type);
			free(name);
			return map;
		}
		free(type);
		type = NULL;
		map = map_open(name, open_flags, flags, err_r);
		free(name);
		return map;
	}
	if ((drv = map_loader_find(type, &err)) == NULL)
		goto fail;
	if (proxy_route && proxy_open_fn != NULL && (drv->caps & MAP_CAP_BLOCKING)
	    && (open_flags & O_ACCMODE) == O_RDONLY) {
		map = proxy_open_fn(type_name, open_flags, flags, 1, err_r);
		free(type);
		free(name);
		return map;
	}
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

void
map_proxy_hook(map_proxy_open_fn *open_fn)
{
	proxy_open_fn = open_fn;
}

void
map_proxy_route(int on)
{
	proxy_route = on;
}

int
map_proxy_routing(void)
{
	return proxy_route && proxy_open_fn != NULL;
}

void
map_set_utf8(int on)
{
	utf8_default = on;
}

int
map_utf8_enabled(void)
{
	return utf8_default;
}

/* map_key_printable - key for a warning: '?' for every byte that is not
 * a printable ASCII character or part of a well-formed UTF-8 sequence. */
static void
map_key_printable(struct buf *out, const char *key)
{
	buf_reset(out);
	for (const char *cp = key; *cp; cp++) {
		unsigned char c = (unsigned char)*cp;

		if (c >= 0x80) {
			const char *end = cp + 1;
			char seq[5];
			size_t n;

			while ((*end & 0xc0) == 0x80 && end - cp < 4)
				end++;
			n = (size_t)(end - cp);
			memcpy(seq, cp, n);
			seq[n] = 0;
			if (n > 1 && utf8_valid(seq)) {
				buf_append(out, cp, n);
				cp = end - 1;
				continue;
			}
		}
		buf_putc(out, c >= 0x20 && c < 0x7f ? c : '?');
	}
}

/* map_prepare_key - apply the UTF-8 check, case folding and the length
 * limit (folding into keybuf); NULL when the key is over the limit or, in
 * UTF-8 mode, not well-formed UTF-8 (the lookup then finds nothing).
 *
 * Folding, as Postfix: ASCII letters only, unless the table is in UTF-8
 * mode (MAP_FLAG_UTF8: smtputf8_enable = yes) and the key is not all
 * ASCII; then Unicode full case folding (utf8.h). */
static const char *
map_prepare_key(struct map *map, const char *key, struct buf *keybuf)
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
	int fold = ((map->flags & MAP_FLAG_FOLD_FIX) && (map->caps & MAP_CAP_FIXED))
	    || (map->flags & MAP_FLAG_FOLD_ANY);

	if ((map->flags & MAP_FLAG_UTF8) && !utf8_allascii(key)) {
		if (!utf8_valid(key)) {
			struct buf *p = buf_new(64, BUF_NOLIMIT);

			map_key_printable(p, key);
			msg_warn("%s: non-UTF-8 key \"%s\": malformed UTF-8 or invalid codepoint",
			    map->title, buf_str(p));
			map_explain(map, "%s: key \"%s\" is not UTF-8: not searched",
			    map->title, buf_str(p));
			buf_free(&p);
			return NULL;
		}
		if (!fold)
			return key;
		if (utf8_casefold(keybuf, key) < 0)
			return NULL;
		if (strcmp(key, buf_str(keybuf)) != 0)
			map_explain(map, "%s: key \"%s\" folded to \"%s\"",
			    map->title, key, buf_str(keybuf));
		return buf_str(keybuf);
	}
	if (fold) {
		if (has_upper(key)) {
			buf_set(keybuf, key);
			lowercase(keybuf->data);
			map_explain(map, "%s: key \"%s\" folded to \"%s\"",
			    map->title, key, buf_str(keybuf));
			return buf_str(keybuf);
		}
	}
	return key;
}

/* map_lookup_driver - the driver call and the checks on its answer. */
static enum map_status
map_lookup_driver(struct map *map, const char *key, const char *k,
    const char **value_r)
{
	enum map_status st;

	buf_reset(map->reason);
	/* A directory handle of this process (not through the lookup
	 * service): its wait holds the whole process, task or not. */
	if ((map->caps & (MAP_CAP_BLOCKING | MAP_CAP_REMOTE)) == MAP_CAP_BLOCKING)
		(void)task_blocking(map->title, 1);
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
		*value_r = NULL;
		map_explain(map, "%s: \"%s\" not found", map->title, k);
		break;
	case MAP_TEMPFAIL:
		*value_r = NULL;
		if (buf_len(map->reason) == 0)
			map_set_reason(map, "%s: lookup error", map->title);
		map_explain(map, "%s: \"%s\" temporary error: %s", map->title,
		    k, map_reason(map));
		break;
	}
	return st;
}

enum map_status
map_lookup(struct map *map, const char *key, const char **value_r)
{
	const char *k;

	*value_r = NULL;
	buf_reset(map->reason);
	if ((k = map_prepare_key(map, key, map->keybuf)) == NULL)
		return MAP_NOTFOUND;
	return map_lookup_driver(map, key, k, value_r);
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
	if ((k = map_prepare_key(map, key, map->keybuf)) == NULL) {
		if ((map->flags & MAP_FLAG_UTF8) && !utf8_valid(key))
			map_set_reason(map, "%s: non-UTF-8 key", map->title);
		else
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
	if ((k = map_prepare_key(map, key, map->keybuf)) == NULL)
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

/* SPDX-License-Identifier: MIT */
/* map - the lookup-table layer (see map.h).
 *
 * This file owns the rules every table shares: "type:name" splitting,
 * the proxy: prefix, case folding of fixed-table keys, key-length limits,
 * the empty-result check, surrogates for tables that cannot be opened,
 * and the explain trace.  Drivers are found by map_loader.c.
 *
 * It also owns what lets daemons call tables from several threads
 * (map_set_threaded: a mutex per table, per-thread copies of values and
 * reasons) and the optional result cache of blocking tables
 * (map_cache_configure).  Lock order: a table's lock, then its cache's
 * lock, then the registry lock; the caller's own lock (released through
 * the hooks) is never held while waiting for a blocking table. */
#include "postino_config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "map.h"
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

/* A blocking table whose handle is busy (another thread waits for the
 * server) gets up to this many more handles, each opened like the first:
 * concurrent lookups then wait for the server in parallel, not in turn. */
#define MAP_MAX_CLONES	8

/* One cached answer; value NULL means "not found". */
struct map_cache_ent {
	char *key;
	char *value;
	double expires;			/* monotonic seconds */
	struct map_cache_ent *prev, *next;	/* LRU list, head = newest */
};

struct map_cache {
	pthread_mutex_t lock;
	struct htable *ht;		/* key -> struct map_cache_ent */
	struct map_cache_ent *head, *tail;
	long entries;
	unsigned long hits, misses;
};

/* What map.c keeps for each open table. */
struct map_core {
	pthread_mutex_t lock;		/* threaded: one driver call at a time */
	pthread_mutex_t clone_lock;	/* guards clone[] and clones */
	struct map *clone[MAP_MAX_CLONES];	/* extra handles (blocking) */
	int clones;
	int is_clone;			/* this table is another's clone */
	struct map_cache *cache;	/* blocking tables, cache on */
	struct buf *value;		/* a cached value (unthreaded callers) */
	struct map *map;
	struct map_core *next;		/* registry of open tables */
};

/* A thread's copies of one table's last answer. */
struct map_tls_ent {
	const struct map *map;
	struct buf *value;
	struct buf *reason;
	struct buf *key;
};

struct map_tls {
	int count;
	struct map_tls_ent *ent;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_core *registry;
static int threaded;
static void (*hook_release)(void);
static void (*hook_reacquire)(void);
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static long cache_ttl;			/* 0: cache off */
static long cache_neg_ttl;
static long cache_max = 10000;
static double cache_last_log;
static pid_t cache_pid;

#define MAP_CACHE_LOG_INTERVAL	300	/* seconds */

/* map_now - monotonic seconds. */
static double
map_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct map_cache *
map_cache_new(void)
{
	struct map_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->ht = htable_create(256);
	return c;
}

static void
map_cache_unlink(struct map_cache *c, struct map_cache_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
map_cache_push(struct map_cache *c, struct map_cache_ent *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* map_cache_drop - remove one entry (the caller holds c->lock). */
static void
map_cache_drop(struct map_cache *c, struct map_cache_ent *e)
{
	map_cache_unlink(c, e);
	htable_delete(c->ht, e->key, NULL);
	free(e->key);
	free(e->value);
	free(e);
	c->entries--;
}

static void
map_cache_free(struct map_cache **cp)
{
	struct map_cache *c = *cp;

	if (c == NULL)
		return;
	while (c->head)
		map_cache_drop(c, c->head);
	htable_free(&c->ht, NULL);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

/* map_cache_get - a fresh cached answer for key into out; 1 hit, 0 miss. */
static int
map_cache_get(struct map_cache *c, const char *key, struct buf *out,
    enum map_status *st_r)
{
	struct map_cache_ent *e;
	int hit = 0;

	pthread_mutex_lock(&c->lock);
	if ((e = htable_find(c->ht, key)) != NULL) {
		if (e->expires <= map_now()) {
			map_cache_drop(c, e);
		} else {
			map_cache_unlink(c, e);
			map_cache_push(c, e);
			if (e->value) {
				buf_reset(out);
				buf_puts(out, e->value);
				*st_r = MAP_FOUND;
			} else {
				*st_r = MAP_NOTFOUND;
			}
			hit = 1;
		}
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* map_cache_put - remember a definite answer. */
static void
map_cache_put(struct map_cache *c, const char *key, enum map_status st,
    const char *value)
{
	long ttl = (st == MAP_FOUND) ? cache_ttl : cache_neg_ttl;
	struct map_cache_ent *e;

	if (ttl <= 0 || st == MAP_TEMPFAIL)
		return;
	pthread_mutex_lock(&c->lock);
	if ((e = htable_find(c->ht, key)) != NULL)
		map_cache_drop(c, e);
	while (c->entries >= cache_max && c->tail)
		map_cache_drop(c, c->tail);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->value = (st == MAP_FOUND) ? xstrdup(value) : NULL;
	e->expires = map_now() + (double)ttl;
	htable_enter(c->ht, e->key, e);
	map_cache_push(c, e);
	c->entries++;
	pthread_mutex_unlock(&c->lock);
}

void
map_cache_log(void)
{
	if (cache_pid != 0 && getpid() != cache_pid)
		return;		/* a child of the daemon: not ours to say */
	pthread_mutex_lock(&registry_lock);
	for (struct map_core *mc = registry; mc; mc = mc->next) {
		struct map_cache *c = mc->cache;
		unsigned long hits, misses;
		long entries;

		if (c == NULL)
			continue;
		pthread_mutex_lock(&c->lock);
		hits = c->hits;
		misses = c->misses;
		entries = c->entries;
		pthread_mutex_unlock(&c->lock);
		msg_info("statistics: table %s: cache hits=%lu misses=%lu entries=%ld",
		    mc->map->title, hits, misses, entries);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* map_cache_maybe_log - the periodic statistics line. */
static void
map_cache_maybe_log(void)
{
	double now = map_now();
	int due = 0;

	pthread_mutex_lock(&registry_lock);
	if (now - cache_last_log >= MAP_CACHE_LOG_INTERVAL) {
		cache_last_log = now;
		due = 1;
	}
	pthread_mutex_unlock(&registry_lock);
	if (due)
		map_cache_log();
}

static void
map_cache_log_at_exit(void)
{
	map_cache_log();
}

void
map_cache_configure(long ttl, long negative_ttl, long max_entries)
{
	static int registered;

	pthread_mutex_lock(&registry_lock);
	cache_ttl = ttl > 0 ? ttl : 0;
	cache_neg_ttl = negative_ttl > 0 ? negative_ttl : 0;
	cache_max = max_entries > 0 ? max_entries : 10000;
	cache_last_log = map_now();
	cache_pid = getpid();
	if (cache_ttl > 0) {
		for (struct map_core *mc = registry; mc; mc = mc->next)
			if ((mc->map->caps & MAP_CAP_BLOCKING) && mc->cache == NULL)
				mc->cache = map_cache_new();
	}
	pthread_mutex_unlock(&registry_lock);
	if (cache_ttl > 0 && !registered) {
		registered = 1;
		atexit(map_cache_log_at_exit);
	}
}

int
map_any_blocking(void)
{
	int found = 0;

	pthread_mutex_lock(&registry_lock);
	for (struct map_core *mc = registry; mc && !found; mc = mc->next)
		if ((mc->map->caps & MAP_CAP_BLOCKING) && !mc->is_clone)
			found = 1;
	pthread_mutex_unlock(&registry_lock);
	return found;
}

static void
map_tls_destroy(void *arg)
{
	struct map_tls *t = arg;

	for (int i = 0; i < t->count; i++) {
		buf_free(&t->ent[i].value);
		buf_free(&t->ent[i].reason);
		buf_free(&t->ent[i].key);
	}
	free(t->ent);
	free(t);
}

static void
map_tls_key_init(void)
{
	int err = pthread_key_create(&tls_key, map_tls_destroy);

	if (err != 0)
		msg_fatal("pthread_key_create: %s", strerror(err));
}

void
map_set_threaded(void (*release)(void), void (*reacquire)(void))
{
	pthread_once(&tls_once, map_tls_key_init);
	hook_release = release;
	hook_reacquire = reacquire;
	threaded = 1;
}

/* map_tls_find - this thread's copies for map; NULL if none yet. */
static struct map_tls_ent *
map_tls_find(const struct map *map, int create)
{
	struct map_tls *t = pthread_getspecific(tls_key);
	struct map_tls_ent *e;

	if (t == NULL) {
		if (!create)
			return NULL;
		t = xcalloc(1, sizeof(*t));
		if (pthread_setspecific(tls_key, t) != 0)
			msg_fatal("pthread_setspecific failed");
	}
	for (int i = 0; i < t->count; i++)
		if (t->ent[i].map == map)
			return t->ent + i;
	if (!create)
		return NULL;
	t->ent = xreallocarray(t->ent, (size_t)t->count + 1, sizeof(*t->ent));
	e = t->ent + t->count++;
	e->map = map;
	e->value = buf_new(64, BUF_NOLIMIT);
	e->reason = buf_new(64, 4096);
	e->key = buf_new(64, BUF_NOLIMIT);
	return e;
}

/* copy_reason - copy a reason, cut to what the buffer holds. */
static void
copy_reason(struct buf *to, const struct buf *from)
{
	size_t len = buf_len(from);

	buf_reset(to);
	if (len > 4000)
		len = 4000;
	buf_append(to, buf_str(from), len);
}

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
	map->core = xcalloc(1, sizeof(*map->core));
	pthread_mutex_init(&map->core->lock, NULL);
	pthread_mutex_init(&map->core->clone_lock, NULL);
	map->core->value = buf_new(64, BUF_NOLIMIT);
	map->core->map = map;
	pthread_mutex_lock(&registry_lock);
	if (cache_ttl > 0 && (driver->caps & MAP_CAP_BLOCKING))
		map->core->cache = map_cache_new();
	map->core->next = registry;
	registry = map->core;
	pthread_mutex_unlock(&registry_lock);
	return map;
}

void
map_free_base(struct map *map)
{
	struct map_core *mc = map->core;

	pthread_mutex_lock(&registry_lock);
	for (struct map_core **pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == mc) {
			*pp = mc->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	for (int i = 0; i < mc->clones; i++)
		map_close(&mc->clone[i]);
	map_cache_free(&mc->cache);
	buf_free(&mc->value);
	pthread_mutex_destroy(&mc->clone_lock);
	pthread_mutex_destroy(&mc->lock);
	free(mc);
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
	if (threaded) {
		struct map_tls_ent *te = map_tls_find(map, 0);

		if (te)
			return buf_str(te->reason);
	}
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

/* map_lookup_driver - the driver call and the checks on its answer;
 * uses the table's own buffers (the caller holds the table's lock when
 * threaded). */
static enum map_status
map_lookup_driver(struct map *map, const char *key, const char *k,
    const char **value_r)
{
	enum map_status st;

	buf_reset(map->reason);
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

/* map_handle_lock - threaded: a locked handle for a driver call on map
 * (blocking tables: the table itself if free, else a free or new clone,
 * else wait for the table itself). */
static struct map *
map_handle_lock(struct map *map)
{
	struct map_core *mc = map->core;
	struct map *h = NULL;
	char *err = NULL;

	if (!(map->caps & MAP_CAP_BLOCKING) || mc->is_clone) {
		pthread_mutex_lock(&mc->lock);
		return map;
	}
	if (pthread_mutex_trylock(&mc->lock) == 0)
		return map;
	pthread_mutex_lock(&mc->clone_lock);
	for (int i = 0; i < mc->clones && h == NULL; i++)
		if (pthread_mutex_trylock(&mc->clone[i]->core->lock) == 0)
			h = mc->clone[i];
	if (h == NULL && mc->clones < MAP_MAX_CLONES) {
		h = map_open(map->title, map->open_flags,
		    map->flags & ~MAP_FLAG_SURROGATE, &err);
		if (h != NULL) {
			struct map_cache *unused;

			/* Answers are cached once, on the table itself. */
			pthread_mutex_lock(&registry_lock);
			h->core->is_clone = 1;
			unused = h->core->cache;
			h->core->cache = NULL;
			pthread_mutex_unlock(&registry_lock);
			map_cache_free(&unused);
			mc->clone[mc->clones++] = h;
			pthread_mutex_lock(&h->core->lock);
		} else {
			msg_warn("%s: cannot open another handle: %s", map->title,
			    err);
			free(err);
		}
	}
	pthread_mutex_unlock(&mc->clone_lock);
	if (h == NULL) {
		pthread_mutex_lock(&mc->lock);
		h = map;
	}
	return h;
}

enum map_status
map_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_core *mc = map->core;
	struct map_tls_ent *te = threaded ? map_tls_find(map, 1) : NULL;
	int blocking = (map->caps & MAP_CAP_BLOCKING) != 0;
	struct map *h = map;
	const char *k;
	enum map_status st;

	*value_r = NULL;
	buf_reset(te ? te->reason : map->reason);
	if ((k = map_prepare_key(map, key, te ? te->key : map->keybuf)) == NULL)
		return MAP_NOTFOUND;
	/* A cache hit never waits for the table's lock: a table stuck on a
	 * dead server still answers what it answered before. */
	if (mc->cache) {
		struct buf *out = te ? te->value : mc->value;

		if (map_cache_get(mc->cache, k, out, &st)) {
			if (st == MAP_FOUND)
				*value_r = buf_str(out);
			map_explain(map, "%s: \"%s\" %s (cached)", map->title, k,
			    st == MAP_FOUND ? buf_str(out) : "not found");
			map_cache_maybe_log();
			return st;
		}
	}
	if (threaded) {
		if (blocking && hook_release)
			hook_release();
		h = map_handle_lock(map);
	}
	st = map_lookup_driver(h, key, k, value_r);
	if (mc->cache)
		map_cache_put(mc->cache, k, st, *value_r);
	if (threaded) {
		if (st == MAP_FOUND) {
			buf_reset(te->value);
			buf_puts(te->value, *value_r);
			*value_r = buf_str(te->value);
		}
		copy_reason(te->reason, h->reason);
		pthread_mutex_unlock(&h->core->lock);
		if (blocking && hook_reacquire)
			hook_reacquire();
	}
	if (mc->cache)
		map_cache_maybe_log();
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

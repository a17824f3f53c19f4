/* SPDX-License-Identifier: MIT */
/* map_builtin - the table types without dependencies that live in the
 * core: static, inline, texthash, fail, nis (always "not found": there is
 * no NIS), and the list of all built-in drivers.  cidr and unix have
 * their own files.
 *
 * inline and texthash share an in-memory table (struct map_mem) that
 * keeps insertion order for sequencing. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "htable.h"
#include "map_driver.h"
#include "map_loader.h"
#include "map_src.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

extern const struct map_driver map_cidr_driver;
extern const struct map_driver map_unix_driver;
extern const struct map_driver map_socketmap_driver;

/* strip_braces - "{ text }" -> "text" (malloc'd); NULL if unbalanced. */
static char *
strip_braces(const char *name, int *had_braces)
{
	const char *cp = skipblanks(name);
	size_t len;
	char *res;

	*had_braces = 0;
	if (*cp != '{')
		return xstrdup(name);
	res = xstrdup(cp + 1);
	trimblanks(res);
	len = strlen(res);
	if (len == 0 || res[len - 1] != '}') {
		free(res);
		return NULL;
	}
	res[len - 1] = 0;
	trimblanks(res);
	*had_braces = 1;
	{
		char *s = skipblanks(res);

		memmove(res, s, strlen(s) + 1);
	}
	return res;
}

/* static: every lookup returns the name. */

struct map_static {
	struct map map;
	char *value;
};

static enum map_status
static_lookup(struct map *map, const char *key, const char **value_r)
{
	*value_r = ((struct map_static *)map)->value;
	return MAP_FOUND;
}

static void
static_close(struct map *map)
{
	free(((struct map_static *)map)->value);
	map_free_base(map);
}

static struct map *static_open(const char *, int, int, char **);

static const struct map_driver map_static_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "static",
	.caps = MAP_CAP_FIXED, .open = static_open,
};

static struct map *
static_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_static *ms;
	int braces;
	char *value = strip_braces(name, &braces);

	if (value == NULL) {
		*err_r = map_errorf("static:%s: missing '}' at end of value", name);
		return NULL;
	}
	ms = (struct map_static *)map_alloc(sizeof(*ms), &map_static_driver,
	    name, open_flags, flags);
	ms->value = value;
	ms->map.lookup = static_lookup;
	ms->map.close = static_close;
	return &ms->map;
}

/* The in-memory table behind inline: and texthash:. */

struct map_mem {
	struct map map;
	struct htable *table;
	char **keys;		/* insertion order, for sequence */
	size_t nkeys;
	size_t seq_pos;
};

static enum map_status
mem_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_mem *mm = (struct map_mem *)map;
	const char *value = htable_find(mm->table, key);

	if (value == NULL)
		return MAP_NOTFOUND;
	*value_r = value;
	return MAP_FOUND;
}

static enum map_status
mem_sequence(struct map *map, enum map_seq how, const char **key_r,
    const char **value_r)
{
	struct map_mem *mm = (struct map_mem *)map;

	if (how == MAP_SEQ_FIRST)
		mm->seq_pos = 0;
	if (mm->seq_pos >= mm->nkeys)
		return MAP_NOTFOUND;
	*key_r = mm->keys[mm->seq_pos++];
	*value_r = htable_find(mm->table, *key_r);
	return MAP_FOUND;
}

static void
mem_close(struct map *map)
{
	struct map_mem *mm = (struct map_mem *)map;

	for (size_t i = 0; i < mm->nkeys; i++)
		free(mm->keys[i]);
	free(mm->keys);
	htable_free(&mm->table, free);
	map_free_base(map);
}

static struct map_mem *
mem_alloc(const struct map_driver *drv, const char *name, int open_flags,
    int flags)
{
	struct map_mem *mm = (struct map_mem *)map_alloc(sizeof(*mm), drv, name,
	    open_flags, flags);

	mm->table = htable_create(64);
	mm->map.lookup = mem_lookup;
	mm->map.sequence = mem_sequence;
	mm->map.close = mem_close;
	return mm;
}

/* mem_add - store key (folded per flags); 1 if it was a duplicate.
 * replace: the last one wins (inline:, as in Postfix). */
static int
mem_add(struct map_mem *mm, const char *key, const char *value, int replace)
{
	char *k = xstrdup(key);

	if ((mm->map.flags & MAP_FLAG_FOLD_FIX) || (mm->map.flags & MAP_FLAG_FOLD_ANY))
		lowercase(k);
	if (htable_locate(mm->table, k)) {
		if (replace || (mm->map.flags & MAP_FLAG_DUP_REPLACE)) {
			struct htable_entry *e = htable_locate(mm->table, k);

			free(e->value);
			e->value = xstrdup(value);
		}
		free(k);
		return 1;
	}
	htable_enter(mm->table, k, xstrdup(value));
	mm->keys = xreallocarray(mm->keys, mm->nkeys + 1, sizeof(*mm->keys));
	mm->keys[mm->nkeys++] = k;
	return 0;
}

/* inline:{ key=value, { key = value with spaces } } */

static struct map *inline_open(const char *, int, int, char **);

static const struct map_driver map_inline_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "inline",
	.caps = MAP_CAP_FIXED | MAP_CAP_SEQUENCE, .open = inline_open,
};

static struct map *
inline_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_mem *mm;
	int braces;
	char *body = strip_braces(name, &braces);
	char *cp, *item;
	const char *gerr;

	if (body == NULL || !braces) {
		*err_r = map_errorf("inline:%s: syntax error: expected \"inline:{name=value, ...}\"",
		    name);
		free(body);
		return NULL;
	}
	mm = mem_alloc(&map_inline_driver, name, open_flags, flags);
	cp = body;
	while ((item = mystrtok_grouped(&cp, ", \t\r\n", &gerr)) != NULL) {
		char *k, *v;
		const char *err;

		/* As main.cf: the name ends at whitespace or '='. */
		if ((err = split_nameval(item, &k, &v)) != NULL) {
			*err_r = map_errorf("%s: \"inline:%s\"; need \"inline:{name=value...}\"",
			    err, name);
			goto bad;
		}
		mem_add(mm, k, v, 1);
	}
	if (gerr) {
		*err_r = map_errorf("inline:%s: syntax error: %s", name, gerr);
		goto bad;
	}
	if (mm->nkeys == 0) {
		*err_r = map_errorf("bad syntax: \"inline:%s\"; need \"inline:{name=value...}\"",
		    name);
		goto bad;
	}
	free(body);
	return &mm->map;
bad:
	free(body);
	mem_close(&mm->map);
	return NULL;
}

/* texthash: a postmap source file read into memory at open. */

static struct map *texthash_open(const char *, int, int, char **);

static const struct map_driver map_texthash_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "texthash",
	.caps = MAP_CAP_FIXED | MAP_CAP_SEQUENCE | MAP_CAP_FILE,
	.open = texthash_open,
};

static struct map *
texthash_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_mem *mm;
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line;
	struct stat st;
	int lineno;

	if ((fp = fopen(name, "r")) == NULL) {
		*err_r = map_errorf("open %s: %s", name, strerror(errno));
		return NULL;
	}
	mm = mem_alloc(&map_texthash_driver, name, open_flags, flags);
	if (fstat(fileno(fp), &st) == 0)
		mm->map.mtime = st.st_mtime;
	line = buf_new(256, BUF_NOLIMIT);
	rd = lline_open(fp, name, 0);
	while (lline_read(rd, line, &lineno)) {
		char *key, *value;
		const char *err, *note;

		if (map_src_split(line->data, &key, &value, &err, &note) < 0) {
			msg_warn("%s, line %d: %s", name, lineno, err);
			continue;
		}
		if (note)
			msg_warn("%s, line %d: %s", name, lineno, note);
		if (strlen(key) > MAP_FIXED_KEY_MAX) {
			msg_warn("%s, line %d: key of %zu bytes exceeds the %d-byte limit: skipped",
			    name, lineno, strlen(key), MAP_FIXED_KEY_MAX);
			continue;
		}
		if (mem_add(mm, key, value, 0) && !(flags & (MAP_FLAG_DUP_IGNORE | MAP_FLAG_DUP_REPLACE)))
			msg_warn("%s, line %d: duplicate entry: \"%s\"", name,
			    lineno, key);
	}
	lline_close(&rd);
	buf_free(&line);
	fclose(fp);
	return &mm->map;
}

/* fail: every access is a temporary error (for testing error paths). */

static enum map_status
fail_lookup(struct map *map, const char *key, const char **value_r)
{
	map_set_reason(map, "%s: table lookup failed (fail: table)", map->title);
	return MAP_TEMPFAIL;
}

static int
fail_update(struct map *map, const char *key, const char *value)
{
	map_set_reason(map, "%s: table update failed (fail: table)", map->title);
	return -1;
}

static enum map_status
fail_delete(struct map *map, const char *key)
{
	map_set_reason(map, "%s: table delete failed (fail: table)", map->title);
	return MAP_TEMPFAIL;
}

static enum map_status
fail_sequence(struct map *map, enum map_seq how, const char **k, const char **v)
{
	map_set_reason(map, "%s: table sequence failed (fail: table)", map->title);
	return MAP_TEMPFAIL;
}

static void
plain_close(struct map *map)
{
	map_free_base(map);
}

static struct map *fail_open(const char *, int, int, char **);

static const struct map_driver map_fail_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "fail",
	.caps = MAP_CAP_PATTERN | MAP_CAP_UPDATE | MAP_CAP_SEQUENCE,
	.open = fail_open,
};

static struct map *
fail_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map *map = map_alloc(sizeof(*map), &map_fail_driver, name,
	    open_flags, flags);

	map->lookup = fail_lookup;
	map->update = fail_update;
	map->delete = fail_delete;
	map->sequence = fail_sequence;
	map->close = plain_close;
	return map;
}

/* nis: there is no NIS here; Postfix's default alias_maps names
 * nis:mail.aliases, which must simply find nothing. */

static enum map_status
nis_lookup(struct map *map, const char *key, const char **value_r)
{
	return MAP_NOTFOUND;
}

static struct map *nis_open(const char *, int, int, char **);

static const struct map_driver map_nis_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "nis",
	.caps = MAP_CAP_FIXED, .open = nis_open,
};

static struct map *
nis_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map *map = map_alloc(sizeof(*map), &map_nis_driver, name,
	    open_flags, flags);

	map->lookup = nis_lookup;
	map->close = plain_close;
	return map;
}

/* proxy: handled in map_open(); listed here so that postconf -m shows it. */

static struct map *
proxy_open(const char *name, int open_flags, int flags, char **err_r)
{
	*err_r = map_errorf("proxy:%s: expected proxy:type:name", name);
	return NULL;
}

static const struct map_driver map_proxy_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "proxy",
	.caps = 0, .open = proxy_open,
};

const struct map_driver *const map_builtin_drivers[] = {
	&map_static_driver,
	&map_inline_driver,
	&map_texthash_driver,
	&map_cidr_driver,
	&map_unix_driver,
	&map_socketmap_driver,
	&map_fail_driver,
	&map_nis_driver,
	&map_proxy_driver,
	NULL,
};

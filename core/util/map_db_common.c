/* SPDX-License-Identifier: MIT */
/* map_db_common - parameter files, %-expansion, domain filter and
 * result assembly shared by the directory drivers (see the header for
 * the rules).
 *
 * Ownership: a conf owns its names and values; a map_db_common owns its
 * domain list (and the tables it opened) and borrows conf's strings.
 * Logs only the warnings of the parameter-file reader (duplicates,
 * unused parameters) through msg_warn. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "htable.h"
#include "map.h"
#include "map_db_common.h"
#include "map_driver.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

/* Longest logical line of a parameter file. */
#define MAP_DB_LINE_MAX		(64 * 1024)

struct map_db_param {
	char *name;
	char *value;
	int line;
	int used;
	struct map_db_param *next;	/* file order */
};

struct map_db_conf {
	char *path;
	struct htable *params;		/* name -> struct map_db_param */
	struct map_db_param *first;
	struct map_db_param **lastp;
};

/* One pattern of the domain list. */
struct map_db_pattern {
	int negate;
	char *text;			/* lower-cased name, or "type:name" */
	struct map *table;		/* for type:name */
};

struct map_db_common {
	char *title;
	int flags;			/* MAP_DB_* */
	const char *result_format;
	long expansion_limit;
	struct map_db_pattern *pat;	/* domain list; NULL when unset */
	int npat;
	struct buf *why;		/* domain table error */
};

/* ---- parameter files ---- */

struct map_db_conf *
map_db_common_conf_open(const char *path, char **err_r)
{
	struct map_db_conf *conf;
	struct lline_reader *rd;
	struct buf *line;
	FILE *fp;
	int lineno;

	if ((fp = fopen(path, "r")) == NULL) {
		*err_r = map_errorf("open %s: %s", path, strerror(errno));
		return NULL;
	}
	conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(path);
	conf->params = htable_create(32);
	conf->lastp = &conf->first;
	rd = lline_open(fp, path, MAP_DB_LINE_MAX);
	line = buf_new(256, 0);
	while (lline_read(rd, line, &lineno)) {
		struct map_db_param *p;
		char *name, *value;
		const char *err;

		if ((err = split_nameval(line->data, &name, &value)) != NULL) {
			*err_r = map_errorf("%s, line %d: %s", path, lineno, err);
			lline_close(&rd);
			fclose(fp);
			buf_free(&line);
			map_db_common_conf_free(&conf);
			return NULL;
		}
		if ((p = htable_find(conf->params, name)) != NULL) {
			msg_warn("%s, line %d: overriding earlier entry: %s=%s",
			    path, lineno, name, p->value);
			free(p->value);
			p->value = xstrdup(value);
			p->line = lineno;
			continue;
		}
		p = xcalloc(1, sizeof(*p));
		p->name = xstrdup(name);
		p->value = xstrdup(value);
		p->line = lineno;
		htable_enter(conf->params, name, p);
		*conf->lastp = p;
		conf->lastp = &p->next;
	}
	lline_close(&rd);
	buf_free(&line);
	if (ferror(fp)) {
		*err_r = map_errorf("read %s: %s", path, strerror(errno));
		fclose(fp);
		map_db_common_conf_free(&conf);
		return NULL;
	}
	fclose(fp);
	return conf;
}

const char *
map_db_common_conf_path(const struct map_db_conf *conf)
{
	return conf->path;
}

const char *
map_db_common_conf_str(struct map_db_conf *conf, const char *name,
    const char *def)
{
	struct map_db_param *p = htable_find(conf->params, name);

	if (p == NULL)
		return def;
	p->used = 1;
	return p->value;
}

int
map_db_common_conf_has(const struct map_db_conf *conf, const char *name)
{
	return htable_find(conf->params, name) != NULL;
}

int
map_db_common_conf_line(const struct map_db_conf *conf, const char *name)
{
	struct map_db_param *p = htable_find(conf->params, name);

	return p ? p->line : 0;
}

int
map_db_common_conf_int(struct map_db_conf *conf, const char *name, long def,
    long min, long max, long *val_r, char **err_r)
{
	const char *s = map_db_common_conf_str(conf, name, NULL);
	long v;

	if (s == NULL) {
		*val_r = def;
		return 0;
	}
	if (str_to_long(s, &v) < 0 || v < min || v > max) {
		*err_r = map_errorf("%s, line %d: %s: bad numerical value \"%s\" (expected %ld..%ld)",
		    conf->path, map_db_common_conf_line(conf, name), name, s,
		    min, max);
		return -1;
	}
	*val_r = v;
	return 0;
}

int
map_db_common_conf_bool(struct map_db_conf *conf, const char *name, int def,
    int *val_r, char **err_r)
{
	const char *s = map_db_common_conf_str(conf, name, NULL);

	if (s == NULL) {
		*val_r = def;
		return 0;
	}
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0
	    || strcmp(s, "1") == 0) {
		*val_r = 1;
		return 0;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0
	    || strcmp(s, "0") == 0) {
		*val_r = 0;
		return 0;
	}
	*err_r = map_errorf("%s, line %d: %s: bad boolean value \"%s\" (expected yes or no)",
	    conf->path, map_db_common_conf_line(conf, name), name, s);
	return -1;
}

void
map_db_common_conf_warn_unused(const struct map_db_conf *conf)
{
	for (const struct map_db_param *p = conf->first; p; p = p->next)
		if (!p->used)
			msg_warn("%s, line %d: unused parameter: %s=%s",
			    conf->path, p->line, p->name, p->value);
}

static void
param_free(void *ptr)
{
	struct map_db_param *p = ptr;

	free(p->name);
	free(p->value);
	free(p);
}

void
map_db_common_conf_free(struct map_db_conf **confp)
{
	struct map_db_conf *conf = *confp;

	if (conf == NULL)
		return;
	htable_free(&conf->params, param_free);
	free(conf->path);
	free(conf);
	*confp = NULL;
}

/* ---- domain list ---- */

/* pattern_add - append one list element (already split). */
static void
pattern_add(struct map_db_common *db, const char *item, int *cap)
{
	struct map_db_pattern *p;
	int negate = 0;

	while (*item == '!') {
		negate = !negate;
		item++;
	}
	if (*item == 0)
		return;
	if (db->npat == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		db->pat = xreallocarray(db->pat, (size_t)*cap, sizeof(*db->pat));
	}
	p = &db->pat[db->npat++];
	p->negate = negate;
	p->text = xstrdup(item);
	p->table = NULL;
}

/* domain_file - add the names listed in a /file (blanks, commas and
 * # comments as in main.cf lists). */
static int
domain_file(struct map_db_common *db, const char *path, int *cap,
    char **err_r)
{
	struct lline_reader *rd;
	struct buf *line;
	FILE *fp;
	int lineno;

	if ((fp = fopen(path, "r")) == NULL) {
		*err_r = map_errorf("%s: domain: open %s: %s", db->title, path,
		    strerror(errno));
		return -1;
	}
	rd = lline_open(fp, path, MAP_DB_LINE_MAX);
	line = buf_new(256, 0);
	while (lline_read(rd, line, &lineno)) {
		char *cp = line->data, *item;

		while ((item = mystrtok(&cp, " \t\r\n,")) != NULL) {
			if (*item == '/' || strchr(item, ':') != NULL) {
				msg_warn("%s, line %d: %s: nested file or table in a domain list file is ignored",
				    path, lineno, item);
				continue;
			}
			pattern_add(db, lowercase(item), cap);
		}
	}
	lline_close(&rd);
	buf_free(&line);
	fclose(fp);
	return 0;
}

/* domain_init - parse the domain parameter and open its tables. */
static int
domain_init(struct map_db_common *db, const char *list, char **err_r)
{
	char *copy = xstrdup(list), *cp = copy, *item;
	int cap = 0;

	while ((item = mystrtok(&cp, " \t\r\n,")) != NULL) {
		const char *bare = item;

		while (*bare == '!')
			bare++;
		if (*bare == '/') {
			if (bare != item)
				msg_warn("%s: domain: \"!\" before a file name is ignored: %s",
				    db->title, item);
			if (domain_file(db, bare, &cap, err_r) < 0) {
				free(copy);
				return -1;
			}
		} else if (strchr(bare, ':') != NULL) {
			pattern_add(db, item, &cap);
		} else {
			pattern_add(db, lowercase(item), &cap);
		}
	}
	free(copy);
	for (int i = 0; i < db->npat; i++) {
		struct map_db_pattern *p = &db->pat[i];
		char *err = NULL;

		if (strchr(p->text, ':') == NULL)
			continue;
		p->table = map_open(p->text, O_RDONLY, MAP_FLAG_FOLD_FIX
		    | MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL | MAP_FLAG_LOCK,
		    &err);
		if (p->table == NULL) {
			*err_r = map_errorf("%s: domain: %s", db->title,
			    err ? err : p->text);
			free(err);
			return -1;
		}
	}
	/* "domain =" with only blanks is no filter. */
	return 0;
}

int
map_db_common_check_domain(struct map_db_common *db, const char *key,
    const char **why_r)
{
	const char *at, *domain;

	*why_r = NULL;
	if (db->pat == NULL)
		return 1;
	if ((at = strrchr(key, '@')) == NULL || at == key || at[1] == 0)
		return 0;
	domain = at + 1;
	for (int i = 0; i < db->npat; i++) {
		struct map_db_pattern *p = &db->pat[i];
		int hit;

		if (p->table) {
			const char *value;

			switch (map_lookup(p->table, domain, &value)) {
			case MAP_FOUND:
				hit = 1;
				break;
			case MAP_NOTFOUND:
				hit = 0;
				break;
			case MAP_TEMPFAIL:
				buf_set(db->why, "domain ");
				buf_puts(db->why, p->table->title);
				buf_puts(db->why, ": ");
				buf_puts(db->why, map_reason(p->table));
				*why_r = buf_str(db->why);
				return -1;
			}
		} else {
			hit = strcasecmp(p->text, domain) == 0;
		}
		if (hit)
			return p->negate ? 0 : 1;
	}
	return 0;
}

int
map_db_common_has_domain(const struct map_db_common *db)
{
	return db->pat != NULL;
}

/* ---- templates ---- */

int
map_db_common_parse(struct map_db_common *db, const char *format, int query,
    const char *what, char **err_r)
{
	int dynamic = 0;

	for (const char *cp = format; *cp; cp++) {
		if (*cp != '%')
			continue;
		switch (*++cp) {
		case '%':
			continue;
		case 's':
		case 'S':
			break;
		case 'u':
			db->flags |= query ? MAP_DB_KEY_USER : MAP_DB_VALUE_USER;
			break;
		case 'd':
			db->flags |= query ? MAP_DB_KEY_DOMAIN : MAP_DB_VALUE_DOMAIN;
			break;
		case 'U':
			db->flags |= MAP_DB_KEY_USER;
			break;
		case 'D':
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9':
			db->flags |= MAP_DB_KEY_DOMAIN;
			break;
		case 0:
			*err_r = map_errorf("%s: %s: '%%' at the end of \"%s\"",
			    db->title, what, format);
			return -1;
		default:
			*err_r = map_errorf("%s: %s: invalid expansion %%%c in \"%s\"",
			    db->title, what, *cp, format);
			return -1;
		}
		dynamic = 1;
	}
	return dynamic;
}

int
map_db_common_flags(const struct map_db_common *db)
{
	return db->flags;
}

const char *
map_db_common_result_format(const struct map_db_common *db)
{
	return db->result_format;
}

long
map_db_common_expansion_limit(const struct map_db_common *db)
{
	return db->expansion_limit;
}

/* The parts of one address, as pointers and lengths into it. */
struct addr_parts {
	const char *user;
	size_t user_len;
	const char *domain;		/* NULL: no '@' */
	size_t domain_len;
};

/* split_addr - local part and domain at the last '@'; then check that
 * the parts the flags ask for exist.  0 ok, -1 suppress. */
static int
split_addr(const char *addr, int need_user, int need_domain,
    struct addr_parts *ap)
{
	const char *at = strrchr(addr, '@');

	ap->user = addr;
	if (at) {
		ap->user_len = (size_t)(at - addr);
		ap->domain = at + 1;
		ap->domain_len = strlen(at + 1);
	} else {
		ap->user_len = strlen(addr);
		ap->domain = NULL;
		ap->domain_len = 0;
	}
	if (need_domain && (ap->domain == NULL || ap->domain_len == 0))
		return -1;
	if (need_user && ap->user_len == 0)
		return -1;
	return 0;
}

/* domain_label - the n-th label from the right (1 = top level), empty
 * labels ignored; -1 when there are fewer labels. */
static int
domain_label(const struct addr_parts *ap, int n, const char **p_r,
    size_t *len_r)
{
	const char *start = ap->domain, *end = ap->domain + ap->domain_len;

	for (;;) {
		const char *cp;

		while (end > start && end[-1] == '.')
			end--;
		if (end == start)
			return -1;
		for (cp = end; cp > start && cp[-1] != '.'; cp--)
			;
		if (--n == 0) {
			*p_r = cp;
			*len_r = (size_t)(end - cp);
			return 0;
		}
		end = cp;
	}
}

/* put - append one substituted part, quoted in query mode. */
static int
put(struct buf *out, const char *text, size_t len,
    map_db_common_quote_fn quote, void *qctx)
{
	if (quote)
		return quote(out, text, len, qctx);
	return buf_append(out, text, len);
}

int
map_db_common_expand(struct map_db_common *db, const char *format,
    const char *value, const char *key, struct buf *out,
    map_db_common_quote_fn quote, void *qctx)
{
	struct addr_parts vp, kp;
	size_t mark = buf_len(out);
	int query = key == NULL;
	const char *lit;

	if (query) {
		/* As Postfix: an empty key is never sent, with a warning. */
		if (*value == 0) {
			msg_warn("table \"%s\": empty query string -- ignored",
			    db->title);
			return 0;
		}
		key = value;
	} else {
		quote = NULL;
		if (*value == 0)
			return 0;
		if (split_addr(value, db->flags & MAP_DB_VALUE_USER,
		    db->flags & MAP_DB_VALUE_DOMAIN, &vp) < 0)
			return 0;
	}
	if (split_addr(key, db->flags & MAP_DB_KEY_USER,
	    db->flags & MAP_DB_KEY_DOMAIN, &kp) < 0)
		return 0;
	if (query)
		vp = kp;

	lit = format;
	for (const char *cp = format; *cp; cp++) {
		const struct addr_parts *ap;
		const char *part;
		size_t len;
		int rc;

		if (*cp != '%')
			continue;
		if (buf_append(out, lit, (size_t)(cp - lit)) < 0)
			goto full;
		cp++;
		lit = cp + 1;
		switch (*cp) {
		case '%':
			rc = buf_putc(out, '%');
			break;
		case 's':
			rc = put(out, value, strlen(value), quote, qctx);
			break;
		case 'S':
			rc = put(out, key, strlen(key), quote, qctx);
			break;
		case 'u':
		case 'U':
			ap = *cp == 'u' ? &vp : &kp;
			if (ap->user_len == 0)
				goto suppress;
			rc = put(out, ap->user, ap->user_len, quote, qctx);
			break;
		case 'd':
		case 'D':
			ap = *cp == 'd' ? &vp : &kp;
			if (ap->domain == NULL || ap->domain_len == 0)
				goto suppress;
			rc = put(out, ap->domain, ap->domain_len, quote, qctx);
			break;
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9':
			if (kp.domain == NULL || kp.domain_len == 0
			    || domain_label(&kp, *cp - '0', &part, &len) < 0)
				goto suppress;
			rc = put(out, part, len, quote, qctx);
			break;
		default:
			/* Not checked by map_db_common_parse(): refuse too. */
			goto suppress;
		}
		if (rc < 0)
			goto full;
	}
	if (buf_puts(out, lit) < 0)
		goto full;
	return 1;

suppress:
	buf_truncate(out, mark);
	return 0;
full:
	buf_truncate(out, mark);
	return -1;
}

int
map_db_common_result(struct map_db_common *db, const char *value,
    const char *key, struct buf *out, long *count_io)
{
	size_t mark = buf_len(out);
	int rc;

	if (*value == 0) {
		/* As Postfix: an empty value is no element, with a warning. */
		msg_warn("table \"%s\": empty lookup result for: \"%s\" -- ignored",
		    db->title, key);
		return 0;
	}
	if (mark > 0 && buf_putc(out, ',') < 0)
		return -1;
	rc = map_db_common_expand(db, db->result_format, value, key, out,
	    NULL, NULL);
	if (rc <= 0) {
		buf_truncate(out, mark);
		return rc;
	}
	if (buf_len(out) == mark + (mark > 0)) {
		/* The template expanded to nothing: not an element. */
		buf_truncate(out, mark);
		return 0;
	}
	if (db->expansion_limit > 0 && *count_io >= db->expansion_limit) {
		buf_truncate(out, mark);
		return -1;
	}
	++*count_io;
	return 1;
}

/* ---- open/free ---- */

struct map_db_common *
map_db_common_open(struct map_db_conf *conf, const char *title, char **err_r)
{
	struct map_db_common *db = xcalloc(1, sizeof(*db));
	const char *domain;

	db->title = xstrdup(title);
	db->why = buf_new(64, 4096);
	db->result_format = map_db_common_conf_str(conf, "result_format", NULL);
	if (db->result_format == NULL)
		db->result_format = map_db_common_conf_str(conf,
		    "result_filter", "%s");
	if (map_db_common_parse(db, db->result_format, 0, "result_format",
	    err_r) < 0)
		goto fail;
	if (map_db_common_conf_int(conf, "expansion_limit", 0, 0, 0x7fffffffL,
	    &db->expansion_limit, err_r) < 0)
		goto fail;
	domain = map_db_common_conf_str(conf, "domain", "");
	if (*skipblanks(domain) && domain_init(db, domain, err_r) < 0)
		goto fail;
	return db;

fail:
	map_db_common_free(&db);
	return NULL;
}

void
map_db_common_free(struct map_db_common **dbp)
{
	struct map_db_common *db = *dbp;

	if (db == NULL)
		return;
	for (int i = 0; i < db->npat; i++) {
		if (db->pat[i].table)
			map_close(&db->pat[i].table);
		free(db->pat[i].text);
	}
	free(db->pat);
	buf_free(&db->why);
	free(db->title);
	free(db);
	*dbp = NULL;
}

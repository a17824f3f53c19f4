/* SPDX-License-Identifier: MIT */
/* mail_conf - main.cf: locate, read, look up and $name-expand parameters
 * (see mail_conf.h).
 *
 * Three layers answer a raw lookup, first match wins: -o overrides,
 * main.cf entries, built-in defaults (mail_params.c; computed defaults
 * are evaluated once per configuration generation).  Expansion is lazy
 * and its results are cached; a read or an override starts a new
 * generation.  Strings handed out earlier are retired, not freed, so a
 * caller that kept one across an override does not read freed memory.
 *
 * Expansion follows Postfix: $name ${name} $(name) ${name?text}
 * ${name:text} ${name?{a}:{b}} ${{a} OP {b} ? {x} : {y}} and $$.  A
 * parameter that refers to itself, directly or through others, is fatal
 * ("unreasonable macro call nesting"), as is nesting deeper than
 * MAX_DEPTH.  Syntax errors in an expression are warned about and the
 * expression expands to nothing.
 *
 * A read or an override also rebinds the typed parameters bound so far
 * (mail_vars.h), so that var_* never disagree with main.cf and -o.
 *
 * Logs: main.cf syntax errors (fatal, "FILE, line N: ..."), repeated
 * names (warning), bad bool/int/time values (fatal, with where the value
 * was set: "FILE, line N: " or "-o NAME=VALUE: "). */
#include "postino_config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "htable.h"
#include "mail_conf.h"
#include "map_proxy.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "map.h"
#include "map_loader.h"
#include "msg.h"
#include "mymalloc.h"
#include "paths.h"
#include "readlline.h"
#include "stringops.h"

#define MAX_DEPTH	100
#define CONF_ENV	"MAIL_CONFIG"

static char *conf_dir;			/* set by -c */
static char *conf_path;			/* main.cf last read */
static struct htable *file_tab;		/* main.cf: name -> char * */
static struct htable *line_tab;		/* main.cf: name -> line number */
static struct htable *over_tab;		/* -o: name -> char * */
static struct htable *computed_tab;	/* computed defaults */
static struct htable *cache_tab;	/* expanded values */
static struct htable *busy_tab;		/* names being expanded now */
static int defaults_only;		/* postconf -d */

/* Retired strings: kept alive until exit (see the module comment). */
static struct htable **retired;
static size_t retired_count;

struct expand_state {
	void (*undef_cb)(const char *, void *);
	void *ctx;
	struct htable *memo;		/* name -> expanded value */
	int depth;
};

static void expand_text(struct buf *out, const char *text, size_t len,
    struct expand_state *st);
static int noexpand(const char *name);

/* tab - create a table on first use. */
static struct htable *
tab(struct htable **tp)
{
	if (*tp == NULL)
		*tp = htable_create(64);
	return *tp;
}

/* new_generation - forget computed and expanded values. */
static void
new_generation(void)
{
	if (cache_tab) {
		retired = xreallocarray(retired, retired_count + 2, sizeof(*retired));
		retired[retired_count++] = cache_tab;
		cache_tab = NULL;
	}
	if (computed_tab) {
		retired = xreallocarray(retired, retired_count + 2, sizeof(*retired));
		retired[retired_count++] = computed_tab;
		computed_tab = NULL;
	}
}

void
mail_conf_set_dir(const char *dir)
{
	free(conf_dir);
	conf_dir = xstrdup(dir);
	if (setenv(CONF_ENV, dir, 1) < 0)
		msg_fatal("setenv %s: %m", CONF_ENV);
	new_generation();
}

const char *
mail_conf_dir(void)
{
	const char *env;

	if (conf_dir)
		return conf_dir;
	if ((env = getenv(CONF_ENV)) != NULL && *env)
		return env;
	return paths_config_directory();
}

/* set_entry - store name=value in a table, replacing (returns old). */
static char *
set_entry(struct htable *t, const char *name, const char *value)
{
	struct htable_entry *e;
	char *old;

	if ((e = htable_locate(t, name)) != NULL) {
		old = e->value;
		e->value = xstrdup(value);
		return old;
	}
	htable_enter(t, name, xstrdup(value));
	return NULL;
}

/* set_line - remember where name was (last) defined in main.cf. */
static void
set_line(const char *name, int lineno)
{
	struct htable_entry *e;

	if ((e = htable_locate(line_tab, name)) != NULL)
		e->value = (void *)(intptr_t)lineno;
	else
		htable_enter(line_tab, name, (void *)(intptr_t)lineno);
}

/* sync_map_utf8 - tables opened from now on are in UTF-8 mode when
 * smtputf8_enable = yes (its default depends on compatibility_level:
 * yes from level 1 on), as Postfix's util_utf8_enable. */
static void
sync_map_utf8(void)
{
	map_set_utf8(strcasecmp(mail_conf_str("smtputf8_enable"), "yes") == 0);
}

void
mail_conf_read(int allow_missing)
{
	char *path;
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line;
	int lineno;
	char *name, *value, *old;
	const char *err;

	path = concatenate(mail_conf_dir(), "/main.cf", (char *)0);
	if (file_tab)
		htable_free(&file_tab, free);
	if (line_tab)
		htable_free(&line_tab, NULL);
	file_tab = htable_create(256);
	line_tab = htable_create(256);
	new_generation();
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && allow_missing) {
			free(path);
			free(conf_path);
			conf_path = NULL;
			goto done;
		}
		msg_fatal("open %s: %m", path);
	}
	rd = lline_open(fp, path, 0);
	line = buf_new(256, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		if ((err = split_nameval(line->data, &name, &value)) != NULL) {
			/* Quote at most a screenful of the offending text. */
			msg_fatal("%s, line %d: %s: \"%.100s%s\"", path, lineno,
			    err, line->data, strlen(line->data) > 100 ? "..." : "");
		}
		if ((old = set_entry(file_tab, name, value)) != NULL) {
			msg_warn("%s, line %d: overriding earlier entry: %s=%s",
			    path, lineno, name, old);
			free(old);
		}
		set_line(name, lineno);
	}
	if (ferror(fp))
		msg_fatal("read %s: %m", path);
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	free(conf_path);
	conf_path = path;
done:
	map_loader_config(mail_conf_str("meta_directory"),
	    mail_conf_str("shlib_directory"));
	sync_map_utf8();
	mail_vars_rebind();
	/* proxy: tables are clients of the lookup service. */
	map_proxy_init();
}

void
mail_conf_override(const char *name, const char *value)
{
	free(set_entry(tab(&over_tab), name, value));
	new_generation();
	sync_map_utf8();
	mail_vars_rebind();
}

const char *
mail_conf_default(const char *name)
{
	const struct mail_param *p;
	char *val;

	if ((p = mail_param_find(name)) == NULL)
		return NULL;
	if (p->def)
		return p->def;
	if ((val = htable_find(tab(&computed_tab), name)) != NULL)
		return val;
	val = p->compute();
	/* A compute function may itself have started a new generation
	 * only through override/read, which it never calls. */
	htable_enter(tab(&computed_tab), name, val);
	return val;
}

int
mail_conf_dir_allowed(const char *dir)
{
	const char *def = paths_config_directory();
	char *copy, *cp, *name;
	int found = 0;

	if (strcmp(dir, def) == 0)
		return 1;
	mail_conf_set_dir(def);
	mail_conf_read(1);
	cp = copy = xstrdup(mail_conf_str("alternate_config_directories"));
	while (!found && (name = mystrtok(&cp, ", \t\r\n")) != NULL)
		found = strcmp(name, dir) == 0;
	free(copy);
	return found;
}

int
mail_conf_readonly(const char *name)
{
	const struct mail_param *p = mail_param_find(name);

	return p != NULL && (p->flags & MAIL_PARAM_READONLY);
}

const char *
mail_conf_file_value(const char *name)
{
	return file_tab ? htable_find(file_tab, name) : NULL;
}

int
mail_conf_file_line(const char *name)
{
	return line_tab ? (int)(intptr_t)htable_find(line_tab, name) : 0;
}

/* same_words - equal when split at blanks and commas? */
static int
same_words(const char *a, const char *b)
{
	const char *sep = ", \t\r\n";
	size_t la, lb;

	for (;;) {
		a += strspn(a, sep);
		b += strspn(b, sep);
		la = strcspn(a, sep);
		lb = strcspn(b, sep);
		if (la != lb || strncmp(a, b, la) != 0)
			return 0;
		if (la == 0)
			return 1;
		a += la;
		b += lb;
	}
}

int
mail_conf_is_default_value(const char *name, const char *raw)
{
	const char *def = mail_conf_default(name);
	char *x_raw, *x_def;
	int same;

	if (def == NULL)
		return 0;
	if (same_words(raw, def))
		return 1;
	if (noexpand(name))
		return 0;
	x_raw = mail_conf_expand(raw, NULL, NULL);
	x_def = mail_conf_expand(def, NULL, NULL);
	same = same_words(x_raw, x_def);
	free(x_raw);
	free(x_def);
	return same;
}

void
mail_conf_defaults_only(int on)
{
	defaults_only = on;
	new_generation();
}

const char *
mail_conf_raw(const char *name)
{
	const char *val;

	if (defaults_only)
		return mail_conf_default(name);
	if (over_tab && (val = htable_find(over_tab, name)) != NULL)
		return val;
	/* Read-only parameters: main.cf cannot set them. */
	if (file_tab && (val = htable_find(file_tab, name)) != NULL
	    && !mail_conf_readonly(name))
		return val;
	return mail_conf_default(name);
}

int
mail_conf_known(const char *name)
{
	return mail_param_find(name) != NULL;
}

int
mail_conf_is_set(const char *name)
{
	if (defaults_only)
		return 0;
	return (over_tab && htable_find(over_tab, name) != NULL)
	    || (file_tab && htable_find(file_tab, name) != NULL);
}

/* noexpand - is this a parameter whose value is used raw? */
static int
noexpand(const char *name)
{
	const struct mail_param *p = mail_param_find(name);

	return p != NULL && (p->flags & MAIL_PARAM_NOEXPAND);
}

/* expand_name - the expanded value of a parameter, or NULL if undefined.
 * The result is owned by st->memo. */
static const char *
expand_name(const char *name, struct expand_state *st)
{
	const char *raw;
	char *val;
	struct buf *out;

	if ((val = htable_find(st->memo, name)) != NULL)
		return val;
	if ((raw = mail_conf_raw(name)) == NULL)
		return NULL;
	if (noexpand(name)) {
		htable_enter(st->memo, name, xstrdup(raw));
		return htable_find(st->memo, name);
	}
	if (htable_find(tab(&busy_tab), name) != NULL
	    || st->depth >= MAX_DEPTH)
		msg_fatal("unreasonable macro call nesting: \"%s\"", name);
	htable_enter(busy_tab, name, (void *)1);
	st->depth++;
	out = buf_new(strlen(raw) + 16, BUF_NOLIMIT);
	expand_text(out, raw, strlen(raw), st);
	st->depth--;
	htable_delete(busy_tab, name, NULL);
	val = xstrdup(buf_str(out));
	buf_free(&out);
	htable_enter(st->memo, name, val);
	return val;
}

/* is_name_char - characters of a parameter name. */
static int
is_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9') || ch == '_';
}

/* match_close - index of the bracket closing text[0] (an opening one),
 * counting nesting; -1 if unbalanced. */
static long
match_close(const char *text, size_t len)
{
	char open = text[0];
	char close = open == '{' ? '}' : ')';
	int level = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == open)
			level++;
		else if (text[i] == close && --level == 0)
			return (long)i;
	}
	return -1;
}

/* skip_ws - advance *pp (bounded by end) over whitespace. */
static void
skip_ws(const char **pp, const char *end)
{
	while (*pp < end && ISSPACE((unsigned char)**pp))
		(*pp)++;
}

/* take_braced - parse "{text}" at *pp; sets the inner span. */
static int
take_braced(const char **pp, const char *end, const char **in_r,
    size_t *len_r)
{
	long close;

	skip_ws(pp, end);
	if (*pp >= end || **pp != '{')
		return -1;
	if ((close = match_close(*pp, (size_t)(end - *pp))) < 0)
		return -1;
	*in_r = *pp + 1;
	*len_r = (size_t)close - 1;
	*pp += close + 1;
	skip_ws(pp, end);
	return 0;
}

/* expand_sub - expand a span into a fresh string. */
static char *
expand_sub(const char *text, size_t len, struct expand_state *st)
{
	struct buf *out = buf_new(len + 16, BUF_NOLIMIT);
	char *res;

	if (++st->depth > MAX_DEPTH)
		msg_fatal("unreasonable macro call nesting: \"%.*s\"",
		    (int)(len > 60 ? 60 : len), text);
	expand_text(out, text, len, st);
	st->depth--;
	res = xstrdup(buf_str(out));
	buf_free(&out);
	return res;
}

/* parse_level - compatibility level "N[.N[.N]]" into three numbers. */
static int
parse_level(const char *str, long lv[3])
{
	const char *cp = str;
	char *end;

	lv[0] = lv[1] = lv[2] = 0;
	if (*cp == 0)
		return 0;			/* empty: level 0 */
	for (int i = 0; i < 3; i++) {
		if (*cp < '0' || *cp > '9')
			return -1;
		errno = 0;
		lv[i] = strtol(cp, &end, 10);
		if (errno == ERANGE)
			return -1;
		cp = end;
		if (*cp == 0)
			return 0;
		if (*cp != '.' || i == 2)
			return -1;
		cp++;
	}
	return -1;
}

/* compare - evaluate "a OP b"; 1/0, or -1 for an unknown operator. */
static int
compare(const char *a, const char *op, const char *b, const char **err_r)
{
	int cmp;
	long la, lb, va[3], vb[3];
	const char *rel = op;

	if (strlen(op) > 5 && strcmp(op + strlen(op) - 5, "level") == 0) {
		if (parse_level(a, va) < 0 || parse_level(b, vb) < 0) {
			*err_r = "bad compatibility level";
			return -1;
		}
		cmp = 0;
		for (int i = 0; i < 3 && cmp == 0; i++)
			cmp = va[i] < vb[i] ? -1 : va[i] > vb[i];
	} else if (alldig(a) && alldig(b) && str_to_long(a, &la) == 0
	    && str_to_long(b, &lb) == 0) {
		cmp = la < lb ? -1 : la > lb;
	} else {
		cmp = strcmp(a, b);
		cmp = cmp < 0 ? -1 : cmp > 0;
	}
	if (strncmp(rel, "==", 2) == 0 && (rel[2] == 0 || strcmp(rel + 2, "level") == 0))
		return cmp == 0;
	if (strncmp(rel, "!=", 2) == 0 && (rel[2] == 0 || strcmp(rel + 2, "level") == 0))
		return cmp != 0;
	if (strncmp(rel, "<=", 2) == 0 && (rel[2] == 0 || strcmp(rel + 2, "level") == 0))
		return cmp <= 0;
	if (strncmp(rel, ">=", 2) == 0 && (rel[2] == 0 || strcmp(rel + 2, "level") == 0))
		return cmp >= 0;
	if (rel[0] == '<' && (rel[1] == 0 || strcmp(rel + 1, "level") == 0))
		return cmp < 0;
	if (rel[0] == '>' && (rel[1] == 0 || strcmp(rel + 1, "level") == 0))
		return cmp > 0;
	*err_r = "unknown operator";
	return -1;
}

/* expand_compare - "{a} OP {b} ? {x} [: {y}]" (inside ${...}). */
static const char *
expand_compare(struct buf *out, const char *text, size_t len,
    struct expand_state *st)
{
	const char *p = text, *end = text + len;
	const char *a, *b, *x, *y = NULL, *op_start;
	size_t la, lb, lx, ly = 0;
	char op[16];
	char *va, *vb;
	const char *err = NULL;
	int res;

	if (take_braced(&p, end, &a, &la) < 0)
		return "missing '{' or '}'";
	op_start = p;
	while (p < end && strchr("=!<>", *p))
		p++;
	while (p < end && *p >= 'a' && *p <= 'z')
		p++;
	if (p == op_start || (size_t)(p - op_start) >= sizeof(op))
		return "missing operator";
	memcpy(op, op_start, (size_t)(p - op_start));
	op[p - op_start] = 0;
	if (take_braced(&p, end, &b, &lb) < 0)
		return "missing '{' or '}' after operator";
	if (p >= end || *p != '?')
		return "missing '?' after comparison";
	p++;
	if (take_braced(&p, end, &x, &lx) < 0)
		return "missing '{' or '}' after '?'";
	if (p < end && *p == ':') {
		p++;
		if (take_braced(&p, end, &y, &ly) < 0)
			return "missing '{' or '}' after ':'";
	}
	if (p != end)
		return "text after '}'";
	va = expand_sub(a, la, st);
	vb = expand_sub(b, lb, st);
	res = compare(va, op, vb, &err);
	free(va);
	free(vb);
	if (res < 0)
		return err;
	if (res) {
		st->depth++;
		expand_text(out, x, lx, st);
		st->depth--;
	} else if (y) {
		st->depth++;
		expand_text(out, y, ly, st);
		st->depth--;
	}
	return NULL;
}

/* expand_braced - the inside of ${...} or $(...). */
static const char *
expand_braced(struct buf *out, const char *text, size_t len,
    struct expand_state *st)
{
	const char *p = text, *end = text + len;
	const char *v1 = NULL, *v2 = NULL;
	size_t l1 = 0, l2 = 0;
	char *name;
	const char *val;
	int op, nonempty;

	skip_ws(&p, end);
	if (p < end && *p == '{')
		return expand_compare(out, p, (size_t)(end - p), st);
	while (p < end && is_name_char((unsigned char)*p))
		p++;
	if (p == text)
		return "macro name syntax error";
	name = xstrndup(text, (size_t)(p - text));
	if (p == end) {
		if ((val = expand_name(name, st)) != NULL)
			buf_puts(out, val);
		else if (st->undef_cb)
			st->undef_cb(name, st->ctx);
		free(name);
		return NULL;
	}
	op = *p++;
	if (op != '?' && op != ':') {
		free(name);
		return "unknown operator after macro name";
	}
	/* "{a}", "{a}:{b}" (only after '?'), or plain text. */
	{
		const char *q = p;

		skip_ws(&q, end);
		if (q < end && *q == '{') {
			if (take_braced(&q, end, &v1, &l1) < 0) {
				free(name);
				return "missing '}'";
			}
			if (q < end && *q == ':' && op == '?') {
				q++;
				if (take_braced(&q, end, &v2, &l2) < 0) {
					free(name);
					return "missing '{' or '}' after ':'";
				}
			}
			if (q != end) {
				free(name);
				return "text after '}'";
			}
		} else {
			v1 = p;
			l1 = (size_t)(end - p);
		}
	}
	val = expand_name(name, st);
	nonempty = val != NULL && *val != 0;
	free(name);
	st->depth++;
	if (op == '?') {
		if (nonempty)
			expand_text(out, v1, l1, st);
		else if (v2)
			expand_text(out, v2, l2, st);
	} else if (!nonempty) {
		expand_text(out, v1, l1, st);
	}
	st->depth--;
	return NULL;
}

/* expand_text - append the expansion of text[0..len) to out. */
static void
expand_text(struct buf *out, const char *text, size_t len,
    struct expand_state *st)
{
	const char *p = text, *end = text + len, *start;
	const char *err;
	long close;
	char *name;
	const char *val;

	if (st->depth > MAX_DEPTH)
		msg_fatal("unreasonable macro call nesting: \"%.*s\"",
		    (int)(len > 60 ? 60 : len), text);
	while (p < end) {
		if (*p != '$') {
			start = p;
			while (p < end && *p != '$')
				p++;
			buf_append(out, start, (size_t)(p - start));
			continue;
		}
		p++;
		if (p >= end) {
			buf_putc(out, '$');
			break;
		}
		if (*p == '$') {
			buf_putc(out, '$');
			p++;
		} else if (*p == '{' || *p == '(') {
			if ((close = match_close(p, (size_t)(end - p))) < 0) {
				msg_warn("truncated macro reference: \"$%.*s\"",
				    (int)(end - p > 60 ? 60 : end - p), p);
				break;
			}
			if ((err = expand_braced(out, p + 1, (size_t)close - 1, st)) != NULL)
				msg_warn("%s: \"$%.*s\"", err,
				    (int)(close + 1 > 100 ? 100 : close + 1), p);
			p += close + 1;
		} else if (is_name_char((unsigned char)*p)) {
			start = p;
			while (p < end && is_name_char((unsigned char)*p))
				p++;
			name = xstrndup(start, (size_t)(p - start));
			if ((val = expand_name(name, st)) != NULL)
				buf_puts(out, val);
			else if (st->undef_cb)
				st->undef_cb(name, st->ctx);
			free(name);
		} else {
			/* A lone '$' before something that is no name: keep it. */
			buf_putc(out, '$');
		}
	}
}

char *
mail_conf_expand(const char *text,
    void (*undefined_cb)(const char *name, void *ctx), void *ctx)
{
	struct expand_state st = {
		.undef_cb = undefined_cb,
		.ctx = ctx,
		.depth = 0,
	};
	struct buf *out = buf_new(strlen(text) + 16, BUF_NOLIMIT);
	char *res;

	/* Callbacks must see every undefined name: no shared cache then. */
	st.memo = undefined_cb ? htable_create(64) : tab(&cache_tab);
	expand_text(out, text, strlen(text), &st);
	if (undefined_cb)
		htable_free(&st.memo, free);
	res = xstrdup(buf_str(out));
	buf_free(&out);
	return res;
}

const char *
mail_conf_str(const char *name)
{
	struct expand_state st = {
		.memo = tab(&cache_tab),
	};
	const char *val;

	if ((val = expand_name(name, &st)) == NULL)
		return "";
	return val;
}

int
mail_conf_parse_bool(const char *val, int *res_r)
{
	if (strcasecmp(val, "yes") == 0)
		*res_r = 1;
	else if (strcasecmp(val, "no") == 0)
		*res_r = 0;
	else
		return -1;
	return 0;
}

int
mail_conf_parse_int(const char *val, long *res_r)
{
	int neg = val[0] == '-';
	long n;

	if (!alldig(val + neg) || str_to_long(val + neg, &n) < 0)
		return -1;
	*res_r = neg ? -n : n;
	return 0;
}

int
mail_conf_parse_time(const char *val, int def_unit, long *res_r)
{
	const char *cp = val;
	long n = 0, mult;
	int unit;

	if (*cp < '0' || *cp > '9')
		return -1;
	for (; *cp >= '0' && *cp <= '9'; cp++) {
		if (n > (LONG_MAX - (*cp - '0')) / 10)
			return -1;
		n = n * 10 + (*cp - '0');
	}
	if (cp[0] && cp[1])
		return -1;
	unit = *cp ? *cp : def_unit;
	switch (unit) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	case 'w':
		mult = 7 * 86400;
		break;
	default:
		return -1;
	}
	if (n > LONG_MAX / mult)
		return -1;
	*res_r = n * mult;
	return 0;
}

void
mail_conf_bad(const char *kind, const char *name, const char *value)
{
	const char *raw;
	int line;

	if (!defaults_only && over_tab
	    && (raw = htable_find(over_tab, name)) != NULL)
		msg_fatal("-o %s=%s: bad %s configuration: %s = %s",
		    name, raw, kind, name, value);
	if (!defaults_only && conf_path && (line = mail_conf_file_line(name)) > 0
	    && !mail_conf_readonly(name))
		msg_fatal("%s, line %d: bad %s configuration: %s = %s",
		    conf_path, line, kind, name, value);
	msg_fatal("bad %s configuration: %s = %s", kind, name, value);
}

int
mail_conf_bool(const char *name)
{
	const char *val = mail_conf_str(name);
	int res;

	if (mail_conf_parse_bool(val, &res) < 0)
		mail_conf_bad("boolean", name, val);
	return res;
}

long
mail_conf_int(const char *name)
{
	const char *val = mail_conf_str(name);
	long n;

	if (mail_conf_parse_int(val, &n) < 0)
		mail_conf_bad("numerical", name, val);
	return n;
}

long
mail_conf_time(const char *name, int def_unit)
{
	const char *val = mail_conf_str(name);
	long n;

	if (mail_conf_parse_time(val, def_unit, &n) < 0)
		mail_conf_bad("time", name, val);
	return n;
}

/* cmp_str - qsort comparator for string pointers. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* add_names - append a table's keys not yet in seen. */
static void
add_names(const struct htable *t, struct htable *seen, const char ***vec,
    size_t *n)
{
	struct htable_entry **list, **ep;

	if (t == NULL)
		return;
	list = htable_list(t);
	for (ep = list; *ep; ep++) {
		if (htable_find(seen, (*ep)->key) == NULL) {
			htable_enter(seen, (*ep)->key, (void *)1);
			*vec = xreallocarray(*vec, *n + 2, sizeof(**vec));
			(*vec)[(*n)++] = (*ep)->key;
		}
	}
	free(list);
}

const char **
mail_conf_names(void)
{
	const char **vec = xcalloc(mail_param_count + 1, sizeof(*vec));
	size_t n = 0;
	struct htable *seen = htable_create(mail_param_count + 64);

	for (size_t i = 0; i < mail_param_count; i++) {
		vec[n++] = mail_param_table[i].name;
		htable_enter(seen, mail_param_table[i].name, (void *)1);
	}
	/* Keys of file_tab/over_tab stay valid: entries are never deleted
	 * except by mail_conf_read, which callers must not mix with this. */
	add_names(file_tab, seen, &vec, &n);
	add_names(over_tab, seen, &vec, &n);
	htable_free(&seen, NULL);
	vec = xreallocarray(vec, n + 1, sizeof(*vec));
	vec[n] = NULL;
	qsort(vec, n, sizeof(*vec), cmp_str);
	return vec;
}

const char **
mail_conf_set_names(void)
{
	const char **vec = xcalloc(1, sizeof(*vec));
	size_t n = 0;
	struct htable *seen = htable_create(64);

	add_names(file_tab, seen, &vec, &n);
	htable_free(&seen, NULL);
	vec[n] = NULL;
	qsort(vec, n, sizeof(*vec), cmp_str);
	return vec;
}

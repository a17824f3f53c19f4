/* SPDX-License-Identifier: MIT */
/* map_cmd - shared engine of postmap, postalias and newaliases (see
 * map_cmd.h).
 *
 * Output formats and exit statuses follow Postfix: "-q key" prints the
 * value only; "-q -" prints key<TAB>value (postalias: key:<TAB>value);
 * not found and error both exit 1, the error with a fatal message.
 * Rebuilds go through MAP_FLAG_BULK so that the driver can write a new
 * file and rename it into place: readers never see half a table. */
#include "postino_config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_addr_find.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "map.h"
#include "hbc.h"
#include "utf8.h"
#include "map_cmd.h"
#include "map_src.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

char *
map_cmd_type_name(const struct map_cmd *cmd, const char *arg)
{
	char *type, *name, *res;

	if (map_split_type(arg, cmd->default_type, &type, &name) < 0)
		msg_fatal("bad table name \"%s\": expected [type:]name", arg);
	res = concatenate(type, ":", name, (char *)0);
	free(type);
	free(name);
	return res;
}

void
map_cmd_opts_init(struct map_cmd_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->fold = 1;
	opts->dup = MAP_FLAG_DUP_WARN;
}

int
map_cmd_option(struct map_cmd *cmd, struct map_cmd_opts *opts, int ch,
    const char *arg)
{
	switch (ch) {
	case 'c':
		mail_conf_set_dir(arg);
		break;
	case 'd':
		opts->delkey = arg;
		opts->modes++;
		break;
	case 'f':
		opts->fold = 0;
		break;
	case 'i':
		opts->incr = 1;
		opts->modes++;
		break;
	case 'j':
		cmd->json = 1;
		break;
	case 'n':
		opts->nul_n = 1;
		break;
	case 'N':
		opts->nul_N = 1;
		break;
	case 'o':
		cmd->no_owner = 1;
		break;
	case 'p':
		cmd->keep_mode = 1;
		break;
	case 'q':
		opts->query = arg;
		opts->modes++;
		break;
	case 'r':
		opts->dup = MAP_FLAG_DUP_REPLACE;
		break;
	case 's':
		opts->seq = 1;
		opts->modes++;
		break;
	case 'u':
		opts->no_utf8 = 1;
		break;
	case 'v':
		msg_verbose++;
		break;
	case 'w':
		opts->dup = MAP_FLAG_DUP_IGNORE;
		break;
	case 'x':
		cmd->explain = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

void
map_cmd_opts_check(const struct map_cmd *cmd, const struct map_cmd_opts *opts)
{
	const char *query = opts->query;

	if (opts->modes > 1)
		msg_fatal("specify only one of -d -i -q or -s");
	if ((opts->body || opts->header || opts->mime)
	    && (query == NULL || strcmp(query, "-") != 0))
		msg_fatal("specify -b -h or -m only with \"-q -\"");
	if (opts->mime && !opts->body && !opts->header)
		msg_warn("ignoring -m option without -b or -h");
	if (cmd->json && query == NULL && !opts->seq)
		msg_fatal("option -j requires -q or -s");
	if (cmd->strategy && query == NULL)
		msg_fatal("option -a requires -q");
}

void
map_cmd_set_flags(struct map_cmd *cmd, int fold, int nul_n, int nul_N,
    int dup, int utf8_check)
{
	cmd->default_type = var_default_database_type;
	if (*cmd->default_type == 0)
		cmd->default_type = "hash";
	cmd->map_flags = MAP_FLAG_LOCK | MAP_FLAG_PARANOID | MAP_FLAG_EMPTY_OK | dup;
	if (fold)
		cmd->map_flags |= MAP_FLAG_FOLD_FIX;
	if (nul_N && !nul_n)
		cmd->map_flags |= MAP_FLAG_TRY1NULL;
	else if (nul_n && !nul_N)
		cmd->map_flags |= MAP_FLAG_TRY0NULL;
	else
		cmd->map_flags |= MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL;
	/* UTF-8 mode (key checks, Unicode folding, UTF regexps) with
	 * smtputf8_enable = yes, unless -u (utf8_check 0) turns it off, as
	 * Postfix's postmap -u "disables UTF-8 support". */
	cmd->utf8_check = 0;
	if (strcasecmp(var_smtputf8_enable, "yes") == 0
	    && utf8_check) {
		cmd->map_flags |= MAP_FLAG_UTF8;
		cmd->utf8_check = 1;
	}
	map_set_utf8((cmd->map_flags & MAP_FLAG_UTF8) != 0);
}

int
map_cmd_run(const struct map_cmd *cmd, const struct map_cmd_opts *opts,
    char **tables, int ntables)
{
	if (opts->query) {
		if (strcmp(opts->query, "-") == 0)
			return map_cmd_query_stdin(cmd, tables, ntables,
			    opts->header, opts->body, opts->mime);
		return map_cmd_query(cmd, opts->query, tables, ntables);
	}
	if (opts->seq)
		return map_cmd_sequence(cmd, tables[0]);
	if (opts->delkey)
		return map_cmd_delete(cmd, opts->delkey, tables, ntables);
	for (int i = 0; i < ntables; i++) {
		char *tn = map_cmd_type_name(cmd, tables[i]);

		if (opts->incr)
			map_cmd_incremental(cmd, tn);
		else
			map_cmd_build(cmd, tn);
		free(tn);
	}
	return 0;
}

int
map_cmd_parse_postmap(char *line, struct buf *key, struct buf *value,
    const char **err_r, const char **note_r)
{
	char *k, *v;

	if (map_src_split(line, &k, &v, err_r, note_r) < 0)
		return -1;
	buf_set(key, k);
	buf_set(value, v);
	return 0;
}

/* reason_text - a table's error reason without a leading "TITLE: "
 * (drivers often name themselves; the message already does). */
static const char *
reason_text(const struct map *map)
{
	const char *r = map_reason(map);
	size_t n = strlen(map->title);

	if (strncmp(r, map->title, n) == 0 && r[n] == ':' && r[n + 1] == ' ')
		return r + n + 2;
	return r;
}

/* open_or_die - commands do not use surrogates: an open error is fatal. */
static struct map *
open_or_die(const struct map_cmd *cmd, const char *type_name, int open_flags,
    int extra_flags)
{
	char *err;
	struct map *map = map_open(type_name, open_flags,
	    cmd->map_flags | extra_flags, &err);

	if (map == NULL)
		msg_fatal("%s", err);
	return map;
}

static const char *
source_name(const char *type_name)
{
	const char *colon = strchr(type_name, ':');

	return colon ? colon + 1 : type_name;
}

/* base64 of the concatenated files named in value (postmap -F). */
static void
file_values(const char *path, int lineno, struct buf *value)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct buf *raw = buf_new(1024, BUF_NOLIMIT);
	char *list = xstrdup(buf_str(value));
	char *cp = list, *fname;
	int first = 1;

	while ((fname = mystrtok(&cp, ", \t")) != NULL) {
		FILE *fp = fopen(fname, "r");
		char chunk[8192];
		size_t n;

		if (fp == NULL)
			msg_fatal("%s, line %d: open %s: %m", path, lineno, fname);
		if (!first)
			buf_putc(raw, '\n');
		first = 0;
		while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			buf_append(raw, chunk, n);
		fclose(fp);
	}
	buf_reset(value);
	for (size_t i = 0; i < raw->len; i += 3) {
		unsigned a = (unsigned char)raw->data[i];
		unsigned b = i + 1 < raw->len ? (unsigned char)raw->data[i + 1] : 0;
		unsigned c = i + 2 < raw->len ? (unsigned char)raw->data[i + 2] : 0;

		buf_putc(value, tab[a >> 2]);
		buf_putc(value, tab[((a & 3) << 4) | (b >> 4)]);
		buf_putc(value, i + 1 < raw->len ? tab[((b & 15) << 2) | (c >> 6)] : '=');
		buf_putc(value, i + 2 < raw->len ? tab[c & 63] : '=');
	}
	free(list);
	buf_free(&raw);
}

/* decode_base64 - for -F queries; returns malloc'd text or NULL. */
static char *
decode_base64(const char *in)
{
	size_t len = strlen(in), o = 0;
	char *out = xmalloc(len / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0;

	for (const char *cp = in; *cp && *cp != '='; cp++) {
		const char *p;
		static const char tab[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

		if ((p = strchr(tab, *cp)) == NULL) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = 0;
	return out;
}

int
map_cmd_utf8_valid(const char *str)
{
	const unsigned char *cp = (const unsigned char *)str;

	while (*cp) {
		int n;
		unsigned cpv;

		if (*cp < 0x80) {
			cp++;
			continue;
		}
		if ((*cp & 0xe0) == 0xc0) {
			n = 1;
			cpv = *cp & 0x1f;
		} else if ((*cp & 0xf0) == 0xe0) {
			n = 2;
			cpv = *cp & 0x0f;
		} else if ((*cp & 0xf8) == 0xf0) {
			n = 3;
			cpv = *cp & 0x07;
		} else {
			return 0;
		}
		for (int i = 1; i <= n; i++) {
			if ((cp[i] & 0xc0) != 0x80)
				return 0;
			cpv = (cpv << 6) | (cp[i] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 1 && cpv < 0x80) || (n == 2 && cpv < 0x800)
		    || (n == 3 && cpv < 0x10000) || cpv > 0x10ffff
		    || (cpv >= 0xd800 && cpv <= 0xdfff))
			return 0;
		cp += n + 1;
	}
	return 1;
}

/* load_entries - read source entries from fp into map. */
static void
load_entries(const struct map_cmd *cmd, struct map *map, FILE *fp,
    const char *path)
{
	struct lline_reader *rd = lline_open(fp, path, 0);
	struct buf *line = buf_new(256, BUF_NOLIMIT);
	struct buf *key = buf_new(64, BUF_NOLIMIT);
	struct buf *value = buf_new(64, BUF_NOLIMIT);
	int lineno;

	while (lline_read(rd, line, &lineno)) {
		const char *err = NULL, *note = NULL;
		int st;

		if (cmd->utf8_check && !map_cmd_utf8_valid(line->data)) {
			msg_warn("%s, line %d: non-UTF-8 input \"%s\" -- ignoring this line",
			    path, lineno, line->data);
			continue;
		}
		if (cmd->parse(line->data, key, value, &err, &note) < 0) {
			msg_warn("%s, line %d: %s", path, lineno, err);
			continue;
		}
		if (note)
			msg_warn("%s, line %d: %s", path, lineno, note);
		if (buf_len(key) > MAP_FIXED_KEY_MAX) {
			msg_warn("%s, line %d: key of %zu bytes exceeds the %d-byte limit: skipped",
			    path, lineno, buf_len(key), MAP_FIXED_KEY_MAX);
			continue;
		}
		if (cmd->file_values)
			file_values(path, lineno, value);
		st = map_update(map, buf_str(key), buf_str(value));
		if (st < 0)
			msg_fatal("%s: update %s: %s", map->title, buf_str(key),
			    map_reason(map));
		if (st > 0 && (cmd->map_flags & MAP_FLAG_DUP_WARN)) {
			/* Name the key as stored (folded), like Postfix. */
			if ((cmd->map_flags & MAP_FLAG_FOLD_FIX)
			    && (map->caps & MAP_CAP_FIXED)) {
				if ((cmd->map_flags & MAP_FLAG_UTF8)
				    && !utf8_allascii(buf_str(key))) {
					struct buf *f = buf_new(64, BUF_NOLIMIT);

					if (utf8_casefold(f, buf_str(key)) == 0)
						buf_set(key, buf_str(f));
					buf_free(&f);
				} else {
					lowercase(key->data);
				}
			}
			msg_warn("%s, line %d: duplicate entry: \"%s\"", path,
			    lineno, buf_str(key));
		}
	}
	lline_close(&rd);
	buf_free(&line);
	buf_free(&key);
	buf_free(&value);
}

void
map_cmd_build(const struct map_cmd *cmd, const char *type_name)
{
	const char *path = source_name(type_name);
	struct map *map;
	FILE *fp;
	sigset_t block, saved;

	if ((fp = fopen(path, "r")) == NULL)
		msg_fatal("open %s: %m", path);
	/* As Postfix does, hold off signals during a rebuild (they are
	 * delivered after the commit); the new file is not left behind. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &saved);
	map = open_or_die(cmd, type_name, O_RDWR | O_CREAT | O_TRUNC,
	    MAP_FLAG_BULK);
	if (!(map->caps & (MAP_CAP_CREATE | MAP_CAP_UPDATE)) || map->update == NULL)
		msg_fatal("unsupported map type for this operation: %s", map->type);
	load_entries(cmd, map, fp, path);
	if (ferror(fp))
		msg_fatal("read %s: %m", path);
	fclose(fp);
	if (cmd->extra)
		cmd->extra(map, cmd);
	if (map_commit(map) < 0)
		msg_fatal("%s", map_reason(map));
	map_close(&map);
	sigprocmask(SIG_SETMASK, &saved, NULL);
}

void
map_cmd_incremental(const struct map_cmd *cmd, const char *type_name)
{
	struct map *map = open_or_die(cmd, type_name, O_RDWR | O_CREAT, 0);

	if (map->update == NULL)
		msg_fatal("unsupported map type for this operation: %s", map->type);
	load_entries(cmd, map, stdin, "stdin");
	if (map_commit(map) < 0)
		msg_fatal("%s", map_reason(map));
	map_close(&map);
}

/* json_string - print str as a JSON string. */
static void
json_string(const char *str)
{
	putchar('"');
	for (const unsigned char *cp = (const unsigned char *)str; *cp; cp++) {
		if (*cp == '"' || *cp == '\\')
			printf("\\%c", *cp);
		else if (*cp < 0x20)
			printf("\\u%04x", *cp);
		else
			putchar(*cp);
	}
	putchar('"');
}

/* print_pair - one "key<TAB>value" line in the command's style. */
static void
print_pair(const struct map_cmd *cmd, const char *key, const char *value)
{
	char *decoded = NULL;

	if (cmd->file_values && (decoded = decode_base64(value)) != NULL)
		value = decoded;
	if (cmd->json) {
		putchar('{');
		json_string(key);
		fputs(": ", stdout);
		json_string(value);
		fputs("}\n", stdout);
	} else {
		printf("%s%s\t%s\n", key, cmd->alias_style ? ":" : "", value);
	}
	free(decoded);
}

struct table_set {
	char **names;
	struct map **maps;
	int n;
};

/* lazily opened read-only tables (Postfix opens them on first use). */
static struct map *
table_get(const struct map_cmd *cmd, struct table_set *ts, int i)
{
	if (ts->maps[i] == NULL)
		ts->maps[i] = open_or_die(cmd, ts->names[i], O_RDONLY,
		    cmd->explain ? MAP_FLAG_EXPLAIN : 0);
	return ts->maps[i];
}

static void
explain_flush(struct map *map)
{
	const char *text = map_explain_text(map);

	if (*text) {
		fputs(text, stdout);
		map_explain_reset(map);
	}
}

/* find - look key up in every table in order (one literal key, or the
 * address forms of cmd->strategy); fatal on table errors. */
static const char *
find(const struct map_cmd *cmd, struct table_set *ts, const char *key)
{
	const char *value;

	if (cmd->strategy) {
		struct mail_addr_forms *forms;
		const char *found = NULL;

		forms = mail_addr_forms(key, cmd->strategy);
		if (forms == NULL)
			msg_fatal("unknown lookup strategy \"%s\" (expected one of: %s)",
			    cmd->strategy, mail_addr_strategies());
		if (cmd->explain)
			printf("address \"%s\": %s search order: %d forms\n", key,
			    cmd->strategy, forms->count);
		for (int f = 0; f < forms->count && !found; f++) {
			for (int i = 0; i < ts->n && !found; i++) {
				struct map *map = table_get(cmd, ts, i);
				enum map_status st;

				if (!forms->full_only[f]
				    && !(map->caps & MAP_CAP_FIXED)) {
					if (cmd->explain)
						printf("%s: form \"%s\" skipped (pattern tables see only the full address)\n",
						    map->title, forms->form[f]);
					continue;
				}
				if (cmd->explain)
					printf("form %d \"%s\" -> %s\n", f + 1,
					    forms->form[f], map->title);
				st = map_lookup(map, forms->form[f], &value);
				if (cmd->explain)
					explain_flush(map);
				switch (st) {
				case MAP_FOUND:
					found = value;
					break;
				case MAP_NOTFOUND:
					break;
				case MAP_TEMPFAIL:
					msg_fatal("table %s: query error: %s",
					    map->title, reason_text(map));
				}
			}
		}
		mail_addr_forms_free(&forms);
		return found;
	}
	for (int i = 0; i < ts->n; i++) {
		struct map *map = table_get(cmd, ts, i);
		enum map_status st = map_lookup(map, key, &value);

		if (cmd->explain)
			explain_flush(map);
		switch (st) {
		case MAP_FOUND:
			return value;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			msg_fatal("table %s: query error: %s", map->title,
			    reason_text(map));
		}
	}
	return NULL;
}

static void
table_set_init(const struct map_cmd *cmd, struct table_set *ts, char **tables,
    int ntables)
{
	ts->n = ntables;
	ts->names = xcalloc((size_t)ntables, sizeof(*ts->names));
	ts->maps = xcalloc((size_t)ntables, sizeof(*ts->maps));
	for (int i = 0; i < ntables; i++)
		ts->names[i] = map_cmd_type_name(cmd, tables[i]);
}

static void
table_set_free(struct table_set *ts)
{
	for (int i = 0; i < ts->n; i++) {
		map_close(&ts->maps[i]);
		free(ts->names[i]);
	}
	free(ts->names);
	free(ts->maps);
}

int
map_cmd_query(const struct map_cmd *cmd, const char *key, char **tables,
    int ntables)
{
	struct table_set ts;
	const char *value;
	int status = 1;

	table_set_init(cmd, &ts, tables, ntables);
	if ((value = find(cmd, &ts, key)) != NULL) {
		if (cmd->json || cmd->explain) {
			if (cmd->explain)
				printf("answer: ");
			if (cmd->json)
				print_pair(cmd, key, value);
			else
				printf("%s\n", value);
		} else {
			char *decoded = cmd->file_values ? decode_base64(value) : NULL;

			printf("%s\n", decoded ? decoded : value);
			free(decoded);
		}
		status = 0;
	} else if (cmd->explain) {
		printf("answer: not found\n");
	}
	fflush(stdout);
	table_set_free(&ts);
	return status;
}

/* query_key - look key up, print what matched; 1 if something did. */
static int
query_key(const struct map_cmd *cmd, struct table_set *ts, const char *key)
{
	const char *value = find(cmd, ts, key);

	if (value == NULL)
		return 0;
	print_pair(cmd, key, value);
	return 1;
}

/* query_message - -q - with -h or -b: the message on stdin, read as
 * cleanup reads it (hbc.h).  With -h each logical header is a key, with
 * -b each body line (the blank line that ends a header block included,
 * as in Postfix).  Without -m only the primary headers are headers; with
 * -m the headers of body parts and attached messages are too, and
 * boundaries are body lines. */
struct query_message {
	const struct map_cmd *cmd;
	struct table_set *ts;
	int header_mode, body_mode, found;
};

static void
query_header(void *ctx, enum hbc_class cls, const char *text, size_t len)
{
	struct query_message *q = ctx;

	(void)cls;
	(void)len;
	if (q->header_mode)
		q->found |= query_key(q->cmd, q->ts, text);
}

static void
query_body(void *ctx, const char *line, size_t len)
{
	struct query_message *q = ctx;

	(void)len;
	if (q->body_mode)
		q->found |= query_key(q->cmd, q->ts, line);
}

static int
query_message(const struct map_cmd *cmd, struct table_set *ts,
    int header_mode, int body_mode, int mime)
{
	struct query_message q = {cmd, ts, header_mode, body_mode, 0};
	struct hbc_walk w;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	hbc_walk_init(&w, !mime, query_header, query_body, &q);
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = 0;
		hbc_walk_line(&w, line, (size_t)n);
	}
	hbc_walk_end(&w);
	free(line);
	return q.found;
}

int
map_cmd_query_stdin(const struct map_cmd *cmd, char **tables, int ntables,
    int header_mode, int body_mode, int mime)
{
	struct table_set ts;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int found = 0;
	static char outbuf[1 << 16];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	table_set_init(cmd, &ts, tables, ntables);
	if (header_mode || body_mode) {
		found = query_message(cmd, &ts, header_mode, body_mode, mime);
	} else {
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			const char *value;

			if (n > 0 && line[n - 1] == '\n')
				line[--n] = 0;
			if ((value = find(cmd, &ts, line)) != NULL) {
				print_pair(cmd, line, value);
				found = 1;
			}
		}
	}
	free(line);
	fflush(stdout);
	table_set_free(&ts);
	return found ? 0 : 1;
}

int
map_cmd_sequence(const struct map_cmd *cmd, const char *type_name)
{
	char *tn = map_cmd_type_name(cmd, type_name);
	struct map *map = open_or_die(cmd, tn, O_RDONLY, 0);
	const char *key, *value;
	enum map_seq how = MAP_SEQ_FIRST;
	static char outbuf[1 << 16];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (map->sequence == NULL)
		msg_fatal("table %s: sequence operation is not supported",
		    map->title);
	for (;;) {
		enum map_status st = map_sequence(map, how, &key, &value);

		how = MAP_SEQ_NEXT;
		switch (st) {
		case MAP_FOUND:
			print_pair(cmd, key, value);
			continue;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			msg_fatal("table %s: sequence error: %s", map->title,
			    reason_text(map));
		}
		break;
	}
	fflush(stdout);
	map_close(&map);
	free(tn);
	return 0;
}

int
map_cmd_delete(const struct map_cmd *cmd, const char *key, char **tables,
    int ntables)
{
	int deleted = 0;
	struct map **maps = xcalloc((size_t)ntables, sizeof(*maps));
	char *line = NULL;
	size_t cap = 0;

	for (int i = 0; i < ntables; i++) {
		char *tn = map_cmd_type_name(cmd, tables[i]);

		maps[i] = open_or_die(cmd, tn, O_RDWR | O_CREAT, 0);
		if (maps[i]->delete == NULL)
			msg_fatal("unsupported map type for this operation: %s",
			    maps[i]->type);
		free(tn);
	}
	for (;;) {
		const char *k = key;

		if (strcmp(key, "-") == 0) {
			ssize_t n = getline(&line, &cap, stdin);

			if (n < 0)
				break;
			if (n > 0 && line[n - 1] == '\n')
				line[--n] = 0;
			k = line;
		}
		for (int i = 0; i < ntables; i++) {
			switch (map_delete(maps[i], k)) {
			case MAP_FOUND:
				deleted = 1;
				break;
			case MAP_NOTFOUND:
				break;
			case MAP_TEMPFAIL:
				msg_fatal("table %s: delete error: %s",
				    maps[i]->title, reason_text(maps[i]));
			}
		}
		if (strcmp(key, "-") != 0)
			break;
	}
	for (int i = 0; i < ntables; i++) {
		if (map_commit(maps[i]) < 0)
			msg_fatal("%s", map_reason(maps[i]));
		map_close(&maps[i]);
	}
	free(maps);
	free(line);
	return deleted ? 0 : 1;
}

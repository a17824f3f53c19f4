/* SPDX-License-Identifier: MIT */
/* master_ent - read and check master.cf (and a non-fatal main.cf syntax
 * check), for the master and for "postino check".
 *
 * Nothing here is fatal: every problem is reported through msg_error as
 * "FILE, line N: text" and counted, so that the master can keep its old
 * configuration when a reload finds a broken file, and postino check can
 * report every problem at once. */
#include "postino_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htable.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "master_ent.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

#define MASTER_LINE_MAX	(64 * 1024)	/* longest logical line */

static const char *const type_names[] = {
	[MASTER_TYPE_INET] = "inet",
	[MASTER_TYPE_UNIX] = "unix",
	[MASTER_TYPE_UNIX_DGRAM] = "unix-dgram",
	[MASTER_TYPE_FIFO] = "fifo",
	[MASTER_TYPE_PASS] = "pass",
};

static const char *const field_names[] = {
	"service", "type", "private", "unpriv", "chroot", "wakeup",
	"maxproc", "command",
};

const char *
master_type_name(enum master_type type)
{
	return type_names[type];
}

/* free_ent - release one entry. */
static void
free_ent(struct master_ent *ent)
{
	if (ent == NULL)
		return;
	free(ent->name);
	free(ent->command);
	for (int i = 0; i < ent->argc; i++)
		free(ent->args[i]);
	free(ent->args);
	free(ent->file);
	free(ent);
}

void
master_ent_free_all(struct master_ent ***listp)
{
	struct master_ent **list = *listp;

	if (list == NULL)
		return;
	for (int i = 0; list[i]; i++)
		free_ent(list[i]);
	free(list);
	*listp = NULL;
}

/* parse_bool - "y", "n" or "-" (default); -1 on error. */
static int
parse_bool(const char *val, int def)
{
	if (strcmp(val, "-") == 0)
		return def;
	if (strcmp(val, "y") == 0)
		return 1;
	if (strcmp(val, "n") == 0)
		return 0;
	return -1;
}

/* parse_count - "-" (def), or a decimal number; -1 on error. */
static int
parse_count(const char *val, int def, int *on_use_r)
{
	char tmp[32];
	size_t len = strlen(val);
	long num;

	if (on_use_r)
		*on_use_r = 0;
	if (strcmp(val, "-") == 0)
		return def;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, val, len + 1);
	if (on_use_r && tmp[len - 1] == '?') {
		*on_use_r = 1;
		tmp[len - 1] = 0;
	}
	if (!alldig(tmp) || str_to_long(tmp, &num) < 0 || num > 1000000000L)
		return -1;
	return (int)num;
}

/* add_arg - append a copy of arg. */
static void
add_arg(struct master_ent *ent, const char *arg)
{
	ent->args = xreallocarray(ent->args, (size_t)ent->argc + 2,
	    sizeof(char *));
	ent->args[ent->argc++] = xstrdup(arg);
	ent->args[ent->argc] = NULL;
}

/* bad - report an error in a master.cf line. */
static void PRINTFLIKE(3, 4)
bad(const char *path, int line, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_error("%s, line %d: %s", path, line, text);
}

/* parse_line - one logical line into an entry; NULL after an error. */
static struct master_ent *
parse_line(char *cp, const char *path, int line)
{
	struct master_ent *ent = xcalloc(1, sizeof(*ent));
	char *field[8];
	const char *err;
	char *arg, *name, *value;
	int n, val;

	for (n = 0; n < 8; n++) {
		if ((field[n] = mystrtok(&cp, " \t\r\n")) == NULL) {
			bad(path, line, "field \"%s\" is missing", field_names[n]);
			goto fail;
		}
	}
	ent->file = xstrdup(path);
	ent->line = line;
	ent->name = xstrdup(field[0]);

	for (n = 0; n < (int)(sizeof(type_names) / sizeof(type_names[0])); n++)
		if (strcmp(field[1], type_names[n]) == 0)
			break;
	if (n == (int)(sizeof(type_names) / sizeof(type_names[0]))) {
		bad(path, line, "unknown service type \"%s\" (expected inet, unix, "
		    "unix-dgram, fifo or pass)", field[1]);
		goto fail;
	}
	ent->type = (enum master_type)n;

	if ((ent->private_ = parse_bool(field[2], 1)) < 0
	    || (ent->unpriv = parse_bool(field[3], 1)) < 0
	    || (ent->chroot_ = parse_bool(field[4], 0)) < 0) {
		val = ent->private_ < 0 ? 2 : ent->unpriv < 0 ? 3 : 4;
		bad(path, line, "bad %s field \"%s\" (expected y, n or -)",
		    field_names[val], field[val]);
		goto fail;
	}
	if (ent->type == MASTER_TYPE_INET) {
		if (strcmp(field[2], "y") == 0) {
			bad(path, line, "inet service \"%s\" cannot be private",
			    field[0]);
			goto fail;
		}
		ent->private_ = 0;
	}
	if ((ent->wakeup = parse_count(field[5], 0, &ent->wakeup_on_use)) < 0) {
		bad(path, line, "bad wakeup field \"%s\" (expected seconds, "
		    "seconds?, or -)", field[5]);
		goto fail;
	}
	if ((ent->maxproc = parse_count(field[6], MASTER_MAXPROC_DEFAULT,
	    NULL)) < MASTER_MAXPROC_DEFAULT || (ent->maxproc < 0
	    && strcmp(field[6], "-") != 0)) {
		bad(path, line, "bad maxproc field \"%s\" (expected a number or -)",
		    field[6]);
		goto fail;
	}
	if (ent->type == MASTER_TYPE_INET) {
		if (*ent->name == 0 || strcmp(ent->name, ":") == 0) {
			bad(path, line, "empty inet service address");
			goto fail;
		}
	} else if (strchr(ent->name, '/') || strcmp(ent->name, ".") == 0
	    || strcmp(ent->name, "..") == 0) {
		bad(path, line, "bad %s service name \"%s\": a name under "
		    "public/ or private/, without \"/\"", field[1], ent->name);
		goto fail;
	}
	ent->command = xstrdup(field[7]);
	ent->args = xcalloc(1, sizeof(char *));

	/* Arguments: "{ ... }" groups one argument; -o takes the next. */
	for (;;) {
		arg = mystrtok_grouped(&cp, " \t\r\n", &err);
		if (err) {
			bad(path, line, "%s in the arguments of service \"%s\"", err,
			    ent->name);
			goto fail;
		}
		if (arg == NULL)
			break;
		if (strcmp(arg, "-o") != 0) {
			add_arg(ent, arg);
			continue;
		}
		arg = mystrtok_grouped(&cp, " \t\r\n", &err);
		if (err || arg == NULL) {
			bad(path, line, "%s after -o in service \"%s\"",
			    err ? err : "missing name=value", ent->name);
			goto fail;
		}
		{
			char *copy = xstrdup(arg), *joined;

			if ((err = split_nameval(copy, &name, &value)) != NULL) {
				bad(path, line, "bad -o option \"%s\" in service "
				    "\"%s\": %s", arg, ent->name, err);
				free(copy);
				goto fail;
			}
			joined = concatenate(name, "=", value, (char *)0);
			add_arg(ent, "-o");
			add_arg(ent, joined);
			free(joined);
			free(copy);
		}
	}
	return ent;

fail:
	free_ent(ent);
	return NULL;
}

char *
master_ent_key(const struct master_ent *ent)
{
	return concatenate(ent->name, ".", type_names[ent->type], (char *)0);
}

struct master_ent **
master_ent_read(const char *path, int *errors_r)
{
	struct master_ent **list = xcalloc(1, sizeof(*list));
	struct master_ent *ent;
	struct lline_reader *rd;
	struct buf *line;
	FILE *fp;
	int count = 0, lineno, errors = 0;
	char *key, *okey;

	if ((fp = fopen(path, "r")) == NULL) {
		msg_error("open %s: %m", path);
		*errors_r = 1;
		return list;
	}
	rd = lline_open(fp, path, MASTER_LINE_MAX);
	line = buf_new(256, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		if ((ent = parse_line(line->data, path, lineno)) == NULL) {
			errors++;
			continue;
		}
		/* The same name and type again: the last one wins. */
		key = master_ent_key(ent);
		for (int i = 0; i < count; i++) {
			okey = master_ent_key(list[i]);
			if (strcmp(key, okey) == 0) {
				msg_warn("%s, line %d: service \"%s\" redefined "
				    "(line %d ignored)", path, lineno, key,
				    list[i]->line);
				free_ent(list[i]);
				memmove(list + i, list + i + 1,
				    (size_t)(count - i) * sizeof(*list));
				count--;
				free(okey);
				break;
			}
			free(okey);
		}
		free(key);
		list = xreallocarray(list, (size_t)count + 2, sizeof(*list));
		list[count++] = ent;
		list[count] = NULL;
	}
	if (ferror(fp)) {
		msg_error("read %s: %m", path);
		errors++;
	}
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	*errors_r = errors;
	return list;
}

int
master_ent_disabled(const struct master_ent *ent)
{
	char *list = xstrdup(var_master_service_disable);
	char *cp = list, *tok, *key = master_ent_key(ent);
	const char *dot_type = strchr(key, '.');
	int hit = 0;

	/* ".type" disables every service of a type. */
	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL)
		if (strcmp(tok, key) == 0 || (tok[0] == '.'
		    && strcmp(tok, dot_type) == 0))
			hit = 1;
	free(key);
	free(list);
	return hit;
}

int
master_ent_embedded(const struct master_ent *ent)
{
	static const char *const embedded[] = {"cleanup", "bounce", "error",
	"discard"};

	for (size_t i = 0; i < sizeof(embedded) / sizeof(embedded[0]); i++)
		if (strcmp(ent->command, embedded[i]) == 0)
			return 1;
	return 0;
}

int
master_ent_maxproc(const struct master_ent *ent)
{
	long val;

	if (ent->maxproc != MASTER_MAXPROC_DEFAULT)
		return ent->maxproc;
	if (str_to_long(var_default_process_limit, &val) < 0
	    || val < 0 || val > 1000000)
		return 100;
	return (int)val;
}

/* collect_refs - note every $name / ${name...} / $(name...) in text. */
static void
collect_refs(struct htable *refs, const char *text)
{
	const char *cp, *start;
	char name[256];
	size_t len;

	for (cp = text; (cp = strchr(cp, '$')) != NULL;) {
		cp++;
		if (*cp == '{' || *cp == '(')
			cp++;
		start = cp;
		while (isalnum((unsigned char)*cp) || *cp == '_')
			cp++;
		len = (size_t)(cp - start);
		if (len == 0 || len >= sizeof(name))
			continue;
		memcpy(name, start, len);
		name[len] = 0;
		if (htable_find(refs, name) == NULL)
			htable_enter(refs, name, refs);
	}
}

/* collect_words - note each name of a list (smtpd_restriction_classes:
 * a restriction class is a parameter of its own). */
static void
collect_words(struct htable *refs, const char *text)
{
	char *copy = xstrdup(text), *cp = copy, *word;

	while ((word = mystrtok(&cp, ", \t\r\n")) != NULL)
		if (*word != '$' && htable_find(refs, word) == NULL)
			htable_enter(refs, word, refs);
	free(copy);
}

/* service_param - is name "SERVICE_something" for a master.cf service? */
static int
service_param(const char *name, struct master_ent **ents)
{
	size_t len;

	for (int i = 0; ents && ents[i]; i++) {
		len = strlen(ents[i]->name);
		if (strncmp(name, ents[i]->name, len) == 0 && name[len] == '_')
			return 1;
	}
	return 0;
}

int
master_ent_check_main(const char *path, int warn_unknown,
    struct master_ent **ents)
{
	struct lline_reader *rd;
	struct buf *line;
	struct htable *refs;
	const char *err;
	char *name, *value;
	FILE *fp;
	int lineno, errors = 0, count = 0;
	struct {
		char *name;
		int line;
	} *seen = NULL;

	if ((fp = fopen(path, "r")) == NULL) {
		msg_error("open %s: %m", path);
		return 1;
	}
	refs = htable_create(64);
	rd = lline_open(fp, path, 0);
	line = buf_new(256, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		if ((err = split_nameval(line->data, &name, &value)) != NULL) {
			msg_error("%s, line %d: %s: \"%.100s%s\"", path, lineno, err,
			    line->data, line->len > 100 ? "..." : "");
			errors++;
			continue;
		}
		collect_refs(refs, value);
		if (strcmp(name, "smtpd_restriction_classes") == 0)
			collect_words(refs, value);
		seen = xreallocarray(seen, (size_t)count + 1, sizeof(*seen));
		seen[count].name = xstrdup(name);
		seen[count].line = lineno;
		count++;
	}
	if (ferror(fp)) {
		msg_error("read %s: %m", path);
		errors++;
	}
	for (int i = 0; ents && ents[i]; i++)
		for (int j = 0; j < ents[i]->argc; j++)
			collect_refs(refs, ents[i]->args[j]);
	for (int i = 0; i < count; i++) {
		if (warn_unknown && !mail_conf_known(seen[i].name)
		    && htable_find(refs, seen[i].name) == NULL
		    && !service_param(seen[i].name, ents))
			msg_warn("%s, line %d: unknown parameter %s", path,
			    seen[i].line, seen[i].name);
		free(seen[i].name);
	}
	free(seen);
	htable_free(&refs, NULL);
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	return errors;
}

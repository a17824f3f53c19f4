/* SPDX-License-Identifier: MIT */
/* postconf_edit - rewrite main.cf for postconf -e, -X and -#.
 *
 * main.cf is copied line by line to a temporary file in the same
 * directory.  An entry whose name is being edited is replaced (-e),
 * dropped (-X) or commented out line by line (-#), together with its
 * continuation lines; every other line, comments included, is copied
 * unchanged.  -e appends names main.cf did not have, in argument order.
 * The temporary file gets main.cf's mode and owner, is synced, and is
 * renamed over main.cf: readers see the old file or the new one, never
 * a mixture.  Any error removes the temporary file and is fatal.
 *
 * The file is not parsed as configuration, so a main.cf with syntax
 * errors can still be repaired with postconf -e. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htable.h"
#include "mail_conf.h"
#include "msg.h"
#include "mymalloc.h"
#include "postconf.h"
#include "stringops.h"

struct edit_item {
	char *name;
	char *value;			/* -e only */
	int seen;			/* times found in main.cf */
};

static char *tmp_path;			/* removed on fatal errors */

/* cleanup_tmp - remove the temporary file (atexit: fatal paths). */
static void
cleanup_tmp(void)
{
	if (tmp_path)
		(void)unlink(tmp_path);
}

/* entry_name - the name an entry line defines, malloc'd, or NULL for a
 * line that is no "name = value". */
static char *
entry_name(const char *line)
{
	const char *cp = line, *start = line;

	while (*cp && !ISSPACE((unsigned char)*cp) && *cp != '=')
		cp++;
	if (cp == start)
		return NULL;
	if (*skipblanks(cp) != '=')
		return NULL;
	return xstrndup(start, (size_t)(cp - start));
}

/* write_all - fwrite with error check. */
static void
write_all(FILE *fp, const char *text, size_t len)
{
	if (len && fwrite(text, 1, len, fp) != len)
		msg_fatal("write %s: %m", tmp_path);
}

void
postconf_edit_main(enum pcf_edit mode, char **args, int count)
{
	struct htable *items = htable_create((size_t)count * 2 + 1);
	struct edit_item *item, **order;
	char *path, *line = NULL, *name, *value, *copy;
	const char *err;
	size_t cap = 0;
	ssize_t len;
	FILE *in, *out;
	struct stat st;
	struct edit_item *cur = NULL;	/* entry being edited */
	int fd, have_stat;
	int norder = 0;

	order = xcalloc((size_t)count + 1, sizeof(*order));
	for (int i = 0; i < count; i++) {
		copy = xstrdup(args[i]);
		if (mode == PCF_EDIT_SET) {
			if ((err = split_nameval(copy, &name, &value)) != NULL) {
				free(copy);
				msg_fatal("%s: \"%s\"", err, args[i]);
			}
		} else {
			name = trimblanks(skipblanks(copy));
			value = NULL;
			if (*name == 0 || strchr(name, '=') != NULL) {
				free(copy);
				msg_fatal("bad parameter name: \"%s\"", args[i]);
			}
		}
		if ((item = htable_find(items, name)) == NULL) {
			item = xcalloc(1, sizeof(*item));
			item->name = xstrdup(name);
			htable_enter(items, name, item);
			order[norder++] = item;
		}
		free(item->value);
		item->value = value ? xstrdup(value) : NULL;
		/* One entry, one line: a newline in a value must not start
		 * another entry. */
		for (char *cp = item->value; cp && *cp; cp++)
			if (*cp == '\n' || *cp == '\r')
				*cp = ' ';
		free(copy);
	}

	path = concatenate(mail_conf_dir(), "/main.cf", (char *)0);
	if ((in = fopen(path, "r")) == NULL) {
		if (errno != ENOENT || mode != PCF_EDIT_SET)
			msg_fatal("open %s: %m", path);
	}
	have_stat = in != NULL && fstat(fileno(in), &st) == 0;
	tmp_path = concatenate(path, ".tmpXXXXXX", (char *)0);
	if ((fd = mkstemp(tmp_path)) < 0) {
		msg_warn("create temporary file for %s: %m", path);
		xfree(&tmp_path);
		msg_fatal("%s: not changed", path);
	}
	atexit(cleanup_tmp);
	if ((out = fdopen(fd, "w")) == NULL)
		msg_fatal("fdopen %s: %m", tmp_path);

	while (in && (len = getline(&line, &cap, in)) >= 0) {
		const char *first = skipblanks(line);

		if (*first == 0 || *first == '#') {
			/* Blank and comment lines never end an entry. */
			write_all(out, line, (size_t)len);
			continue;
		}
		if (ISSPACE((unsigned char)line[0])) {
			/* A continuation line belongs to the current entry. */
			if (cur == NULL)
				write_all(out, line, (size_t)len);
			else if (mode == PCF_EDIT_COMMENT) {
				write_all(out, "#", 1);
				write_all(out, line, (size_t)len);
			}
			continue;
		}
		cur = NULL;
		if ((name = entry_name(line)) != NULL) {
			cur = htable_find(items, name);
			free(name);
		}
		if (cur == NULL) {
			write_all(out, line, (size_t)len);
			continue;
		}
		if (cur->seen++ == 1)
			msg_warn("%s: multiple entries for \"%s\"", path, cur->name);
		switch (mode) {
		case PCF_EDIT_SET:
			if (fprintf(out, "%s = %s\n", cur->name, cur->value) < 0)
				msg_fatal("write %s: %m", tmp_path);
			break;
		case PCF_EDIT_REMOVE:
			break;
		case PCF_EDIT_COMMENT:
			write_all(out, "#", 1);
			write_all(out, line, (size_t)len);
			break;
		}
	}
	if (in && ferror(in))
		msg_fatal("read %s: %m", path);
	if (mode == PCF_EDIT_SET) {
		/* A last line without a newline must not swallow the first
		 * appended entry. */
		int append = 0;

		for (int i = 0; i < norder; i++)
			append |= order[i]->seen == 0;
		if (append && in && have_stat && st.st_size > 0) {
			char last;

			if (pread(fileno(in), &last, 1, st.st_size - 1) == 1 && last != '\n')
				write_all(out, "\n", 1);
		}
		for (int i = 0; i < norder; i++)
			if (order[i]->seen == 0
			    && fprintf(out, "%s = %s\n", order[i]->name, order[i]->value) < 0)
				msg_fatal("write %s: %m", tmp_path);
	}
	if (fflush(out) != 0 || fsync(fd) < 0)
		msg_fatal("write %s: %m", tmp_path);
	if (have_stat) {
		if (fchmod(fd, st.st_mode & 07777) < 0)
			msg_fatal("fchmod %s: %m", tmp_path);
		/* Keeping the owner needs privilege; without it, ours will do. */
		if (fchown(fd, st.st_uid, st.st_gid) < 0 && geteuid() == 0)
			msg_fatal("fchown %s: %m", tmp_path);
	} else if (fchmod(fd, 0644) < 0) {
		msg_fatal("fchmod %s: %m", tmp_path);
	}
	if (fclose(out) != 0)
		msg_fatal("close %s: %m", tmp_path);
	if (rename(tmp_path, path) < 0)
		msg_fatal("rename %s to %s: %m", tmp_path, path);
	xfree(&tmp_path);
	if (in)
		fclose(in);
	free(line);
	free(path);
	for (int i = 0; i < norder; i++) {
		free(order[i]->name);
		free(order[i]->value);
		free(order[i]);
	}
	free(order);
	htable_free(&items, NULL);
}

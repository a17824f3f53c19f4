/* SPDX-License-Identifier: MIT */
/* readlline - logical-line reader (see readlline.h).
 *
 * One physical line of lookahead decides whether the next line continues
 * the current logical line. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

struct lline_reader {
	FILE *fp;
	char *path;
	size_t max;
	int lineno;		/* physical lines consumed */
	char *phys;		/* lookahead physical line (getline buffer) */
	size_t phys_cap;
	ssize_t phys_len;	/* -1: none pending */
	int phys_lineno;
	int eof;
};

struct lline_reader *
lline_open(FILE *fp, const char *path, size_t max)
{
	struct lline_reader *rd = xcalloc(1, sizeof(*rd));

	rd->fp = fp;
	rd->path = xstrdup(path);
	rd->max = max ? max : 1024 * 1024;
	rd->phys_len = -1;
	return rd;
}

void
lline_close(struct lline_reader **rdp)
{
	if (*rdp) {
		free((*rdp)->phys);
		free((*rdp)->path);
		free(*rdp);
		*rdp = NULL;
	}
}

int
lline_lineno(const struct lline_reader *rd)
{
	return rd->lineno;
}

/* fetch - make sure a physical line is pending; 0 at EOF. */
static int
fetch(struct lline_reader *rd)
{
	if (rd->phys_len >= 0)
		return 1;
	if (rd->eof)
		return 0;
	rd->phys_len = getline(&rd->phys, &rd->phys_cap, rd->fp);
	if (rd->phys_len < 0) {
		rd->eof = 1;
		return 0;
	}
	rd->lineno++;
	rd->phys_lineno = rd->lineno;
	if (rd->phys_len > 0 && rd->phys[rd->phys_len - 1] == '\n')
		rd->phys[--rd->phys_len] = 0;
	if (rd->phys_len > 0 && rd->phys[rd->phys_len - 1] == '\r')
		rd->phys[--rd->phys_len] = 0;
	if ((ssize_t)strlen(rd->phys) != rd->phys_len) {
		msg_warn("%s, line %d: text after null byte may be ignored",
		    rd->path, rd->phys_lineno);
		rd->phys_len = (ssize_t)strlen(rd->phys);
	}
	return 1;
}

/* blank_or_comment - skip lines that carry nothing. */
static int
blank_or_comment(const char *line)
{
	const char *cp = skipblanks(line);

	return *cp == 0 || *cp == '#';
}

int
lline_read(struct lline_reader *rd, struct buf *out, int *lineno_r)
{
	int too_long;

	for (;;) {
		buf_reset(out);
		too_long = 0;
		/* Find the start of a logical line. */
		for (;;) {
			if (!fetch(rd))
				return 0;
			if (blank_or_comment(rd->phys)) {
				rd->phys_len = -1;
				continue;
			}
			if (ISSPACE((unsigned char)rd->phys[0])) {
				msg_warn("%s, line %d: logical line must not start with whitespace",
				    rd->path, rd->phys_lineno);
				rd->phys_len = -1;
				continue;
			}
			break;
		}
		*lineno_r = rd->phys_lineno;
		if ((size_t)rd->phys_len > rd->max)
			too_long = 1;
		else
			buf_append(out, rd->phys, (size_t)rd->phys_len);
		rd->phys_len = -1;
		/* Absorb continuation lines; comment lines in between vanish. */
		while (fetch(rd)) {
			if (blank_or_comment(rd->phys)) {
				if (*skipblanks(rd->phys) == '#'
				    && !ISSPACE((unsigned char)rd->phys[0])) {
					rd->phys_len = -1;
					continue;
				}
				/* An all-blank line: skip, keep the line open. */
				if (*skipblanks(rd->phys) == 0) {
					rd->phys_len = -1;
					continue;
				}
				/* An indented comment: also dropped. */
				rd->phys_len = -1;
				continue;
			}
			if (!ISSPACE((unsigned char)rd->phys[0]))
				break;
			if (!too_long && out->len + (size_t)rd->phys_len <= rd->max)
				buf_append(out, rd->phys, (size_t)rd->phys_len);
			else
				too_long = 1;
			rd->phys_len = -1;
		}
		if (!too_long)
			return 1;
		msg_warn("%s, line %d: logical line longer than %zu bytes, skipped",
		    rd->path, *lineno_r, rd->max);
	}
}

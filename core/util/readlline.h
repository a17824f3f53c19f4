/* SPDX-License-Identifier: MIT */
/* readlline - read logical lines the way Postfix's configuration files,
 * tables and aliases files are read.
 *
 * Empty, all-blank and comment lines (first non-blank is '#') are skipped;
 * a line that starts with whitespace continues the previous one (joined
 * without the newline, its leading whitespace kept).  A continuation with
 * nothing to continue is skipped with a warning; a NUL byte is warned
 * about; a logical line longer than the reader's maximum is skipped with
 * a warning naming file and line.  Warnings go through msg_warn as
 * "PATH, line N: text". */
#ifndef POSTINO_UTIL_READLLINE_H
#define POSTINO_UTIL_READLLINE_H

#include <stdio.h>

#include "buf.h"

struct lline_reader;

/* lline_open - read fp (not closed here); path is for messages. max is the
 * longest logical line accepted (0: 1 MiB). */
struct lline_reader *lline_open(FILE *fp, const char *path, size_t max);
/* lline_read - next logical line into out; 1 = line, 0 = end of file.
 * *lineno_r is the number of the line's first physical line. */
int lline_read(struct lline_reader *rd, struct buf *out, int *lineno_r);
/* lline_lineno - number of the last physical line read. */
int lline_lineno(const struct lline_reader *rd);
void lline_close(struct lline_reader **rdp);

#endif

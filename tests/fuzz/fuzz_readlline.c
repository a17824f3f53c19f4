/* SPDX-License-Identifier: MIT */
/* fuzz_readlline - libFuzzer target for the logical-line reader
 * (core/util/readlline.c) that every configuration file, table source
 * and aliases file goes through.
 *
 * Input: byte 0 picks the longest logical line accepted (16 bytes to
 * 4 KiB, or the 1 MiB default), the rest is the file.  Checks on every
 * logical line returned: it is no longer than the maximum, has no
 * newline and no NUL byte, does not start with white space, is not a
 * comment, and its line number is at least 1, not beyond the physical
 * lines read, and never goes down.  The number of logical lines is at
 * most the number of physical lines. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

#define FUZZ_MAX_INPUT	(256 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *fp;
	char *copy;
	struct lline_reader *rd;
	struct buf *line;
	size_t max, physical = 0;
	int lineno, last = 0, logical = 0;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_quiet();
	max = data[0] == 0 ? 0 : (size_t)16 << (data[0] % 9);
	data++;
	size--;
	for (size_t i = 0; i < size; i++)
		physical += data[i] == '\n';
	physical += size > 0 && data[size - 1] != '\n';
	/* fmemopen wants a writable buffer of at least one byte. */
	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = 0;
	if ((fp = fmemopen(copy, size ? size : 1, "r")) == NULL)
		abort();
	rd = lline_open(fp, "fuzz.cf", max);
	line = buf_new(64, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		const char *s = buf_str(line);

		logical++;
		if (buf_len(line) > (max ? max : 1024 * 1024)
		    || memchr(s, '\n', buf_len(line)) != NULL
		    || strlen(s) != buf_len(line)
		    || buf_len(line) == 0 || ISSPACE((unsigned char)s[0])
		    || *skipblanks(s) == '#'
		    || lineno < 1 || lineno < last
		    || lineno > lline_lineno(rd) || (size_t)lineno > physical)
			abort();
		last = lineno;
	}
	if ((size_t)logical > physical)
		abort();
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	free(copy);
	return 0;
}

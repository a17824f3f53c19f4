/* SPDX-License-Identifier: MIT */
/* fuzz_attr - libFuzzer target for attribute lists (core/mail/attr.c),
 * the format every postino process trusts least.
 *
 * Input: byte 0 seeds the chunk sizes, the rest is the wire data.  The
 * checks, each an abort when broken:
 *   - attr_parse on the whole data, and on growing prefixes cut at
 *     pseudo-random chunk sizes (as data arrives from a socket): a prefix
 *     shorter than the list the whole data holds is "incomplete" (0); a
 *     prefix that holds it gives the same length and the same list; an
 *     error, once seen, stays an error;
 *   - what attr_format writes for a parsed list parses back to the same
 *     list, consuming exactly what was written;
 *   - attr_read over a pipe reads the same lists as attr_parse, one after
 *     the other, and stops at the same error. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "fuzz_util.h"

#define FUZZ_MAX_INPUT	60000	/* fits a pipe: no writer thread needed */

/* same_list - are two lists equal, name for name and value for value? */
static int
same_list(const struct attr_list *a, const struct attr_list *b)
{
	if (a->count != b->count)
		return 0;
	for (int i = 0; i < a->count; i++)
		if (strcmp(a->names[i], b->names[i]) != 0
		    || strcmp(a->values[i], b->values[i]) != 0)
			return 0;
	return 1;
}

/* check_roundtrip - format al, parse it back, compare. */
static void
check_roundtrip(const struct attr_list *al)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);
	struct attr_list *back = attr_list_new();
	const char *err;
	long n;

	attr_format(al, b);
	n = attr_parse(buf_str(b), buf_len(b), back, &err);
	if (n != (long)buf_len(b) || !same_list(al, back))
		abort();
	attr_list_free(&back);
	buf_free(&b);
}

/* check_chunks - parse growing prefixes; compare with the whole parse. */
static void
check_chunks(const char *data, size_t len, long whole,
    const struct attr_list *whole_al, unsigned seed)
{
	struct attr_list *al = attr_list_new();
	size_t have = 0;
	int failed = 0;
	const char *err;

	while (have < len) {
		long n;

		/* Chunk sizes 1..64, and now and then a big one. */
		seed = seed * 1103515245u + 12345u;
		have += (seed >> 16) % 8 == 0 ? 1 + (seed >> 8) % 4096
		    : 1 + (seed >> 16) % 64;
		if (have > len)
			have = len;
		n = attr_parse(data, have, al, &err);
		if (n < 0) {
			if (whole >= 0)
				abort();
			failed = 1;
		} else if (failed) {
			abort();		/* an error went away */
		} else if (n == 0) {
			if (whole > 0 && have >= (size_t)whole)
				abort();	/* complete list not seen */
		} else {
			if (n != whole || !same_list(al, whole_al))
				abort();
			break;
		}
	}
	attr_list_free(&al);
}

/* check_read - attr_read over a pipe agrees with attr_parse. */
static void
check_read(const char *data, size_t len)
{
	struct attr_list *al = attr_list_new(), *ref = attr_list_new();
	struct buf *inbuf = buf_new(1024, BUF_NOLIMIT);
	size_t pos = 0;
	int fds[2];
	const char *err;

	if (pipe(fds) < 0)
		abort();
	if (len > 0 && write(fds[1], data, len) != (ssize_t)len)
		abort();
	close(fds[1]);
	for (int lists = 0; lists < 20000; lists++) {
		int rc = attr_read(fds[0], inbuf, al, 5000, &err);
		long n = attr_parse(data + pos, len - pos, ref, &err);

		if (rc == 1) {
			if (n <= 0 || !same_list(al, ref))
				abort();
			pos += (size_t)n;
			continue;
		}
		/* EOF with nothing pending, or an error/incomplete list. */
		if (rc == 0 && pos != len)
			abort();
		if (rc < 0 && n > 0)
			abort();
		break;
	}
	close(fds[0]);
	buf_free(&inbuf);
	attr_list_free(&al);
	attr_list_free(&ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attr_list *al;
	const char *text, *err;
	size_t len;
	long n;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_quiet();
	text = (const char *)data + 1;
	len = size - 1;
	al = attr_list_new();
	n = attr_parse(text, len, al, &err);
	if (n > (long)len || (n < 0 && (err == NULL || *err == 0)))
		abort();
	if (n > 0) {
		check_roundtrip(al);
		/* Lookups never fail on a parsed list. */
		if (al->count > 0 && attr_get(al, al->names[0]) == NULL)
			abort();
		(void)attr_get_long(al, "request_id", -1);
	}
	check_chunks(text, len, n, al, data[0]);
	check_read(text, len);
	attr_list_free(&al);
	return 0;
}

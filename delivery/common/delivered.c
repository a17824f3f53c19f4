/* SPDX-License-Identifier: MIT */
/* delivered - Delivered-To: loop detection.
 *
 * delivered_scan() reads the message's header (up to the first empty
 * line, at most DELIVERED_MAX_HEADER bytes) and remembers the value of
 * every Delivered-To: header, trimmed and lowercased (at most
 * DELIVERED_MAX_COUNT of them).  local(8) bounces a recipient that is
 * already listed (5.4.6 "mail forwarding loop for ADDR").  Folded header
 * lines are joined; a header line of any length is handled without
 * holding it whole (only the first bytes of a value matter). */
#include "postino_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "delivery.h"
#include "mymalloc.h"
#include "stringops.h"

#define DELIVERED_MAX_HEADER	(1024 * 1024)
#define DELIVERED_MAX_COUNT	1000
#define DELIVERED_MAX_VALUE	1024

/* finish_header - one complete (unfolded) header line. */
static void
finish_header(struct htable *ht, struct buf *hdr)
{
	const char *s = buf_str(hdr);
	char *val;

	if (buf_len(hdr) < 13 || strncasecmp(s, "Delivered-To:", 13) != 0)
		return;
	if (ht->used >= DELIVERED_MAX_COUNT)
		return;
	val = xstrdup(skipblanks(s + 13));
	trimblanks(val);
	lowercase(val);
	if (*val && htable_locate(ht, val) == NULL)
		htable_enter(ht, val, (void *)1);
	free(val);
}

struct htable *
delivered_scan(int fd, off_t offset, off_t len)
{
	struct htable *ht = htable_create(8);
	struct buf *hdr = buf_new(256, DELIVERED_MAX_VALUE + 32);
	char chunk[8192];
	off_t pos = 0;
	int at_bol = 1, have_hdr = 0, done = 0;

	while (!done && pos < len && pos < DELIVERED_MAX_HEADER) {
		size_t want = sizeof(chunk);
		ssize_t n;

		if ((off_t)want > len - pos)
			want = (size_t)(len - pos);
		n = pread(fd, chunk, want, offset + pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && !done; i++) {
			char c = chunk[i];

			if (at_bol) {
				if (c == ' ' || c == '\t') {
					/* continuation: keep appending */
				} else {
					if (have_hdr)
						finish_header(ht, hdr);
					buf_reset(hdr);
					have_hdr = 0;
					if (c == '\n' || c == '\r') {
						done = 1;	/* end of header */
						break;
					}
				}
				at_bol = 0;
			}
			if (c == '\n') {
				at_bol = 1;
				continue;
			}
			if (c == '\r')
				continue;
			have_hdr = 1;
			(void)buf_putc(hdr, c);	/* silently bounded */
		}
		pos += n;
	}
	if (have_hdr && !done)
		finish_header(ht, hdr);
	buf_free(&hdr);
	return ht;
}

int
delivered_find(struct htable *ht, const char *addr)
{
	char *key;
	int found;

	if (ht == NULL || ht->used == 0)
		return 0;
	key = lowercase(xstrdup(addr));
	found = htable_locate(ht, key) != NULL;
	free(key);
	return found;
}

void
delivered_free(struct htable **htp)
{
	htable_free(htp, NULL);
}

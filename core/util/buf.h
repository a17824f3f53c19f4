/* SPDX-License-Identifier: MIT */
/* buf - growable byte buffer with a hard maximum.
 *
 * The data is always NUL-terminated (the NUL is not counted in len), so
 * buf_str() can be used as a C string when the content has no NULs.
 * Appends that would exceed max fail with -1 and leave the buffer as it
 * was: every byte that comes from outside has a limit. */
#ifndef POSTINO_UTIL_BUF_H
#define POSTINO_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "msg.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;		/* 0: no limit */
};

#define BUF_NOLIMIT 0

/* buf_new - allocate with initial capacity and maximum length (0: none). */
struct buf *buf_new(size_t initial, size_t max);
void buf_free(struct buf **bp);
static inline void buf_reset(struct buf *b) { b->len = 0; b->data[0] = 0; }
static inline const char *buf_str(const struct buf *b) { return b->data; }
static inline size_t buf_len(const struct buf *b) { return b->len; }

/* These return 0, or -1 when the maximum would be exceeded. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *str);
int buf_putc(struct buf *b, int ch);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTFLIKE(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTFLIKE(2, 0);
/* buf_set - replace the content with str. */
int buf_set(struct buf *b, const char *str);
/* buf_truncate - shorten to len (no-op if already shorter). */
void buf_truncate(struct buf *b, size_t len);
/* buf_reserve - make room for len more bytes; -1 over the maximum. */
int buf_reserve(struct buf *b, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
/* buf - growable byte buffer with a hard maximum (see buf.h). */
#include "postino_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mymalloc.h"

struct buf *
buf_new(size_t initial, size_t max)
{
	struct buf *b = xmalloc(sizeof(*b));

	if (initial < 16)
		initial = 16;
	b->data = xmalloc(initial);
	b->data[0] = 0;
	b->len = 0;
	b->cap = initial;
	b->max = max;
	return b;
}

void
buf_free(struct buf **bp)
{
	if (*bp) {
		free((*bp)->data);
		free(*bp);
		*bp = NULL;
	}
}

int
buf_reserve(struct buf *b, size_t len)
{
	size_t need;

	if (len > SIZE_MAX / 2 - b->len)
		return -1;
	need = b->len + len + 1;
	if (b->max && b->len + len > b->max)
		return -1;
	if (need > b->cap) {
		size_t cap = b->cap * 2;

		while (cap < need)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

int
buf_puts(struct buf *b, const char *str)
{
	return buf_append(b, str, strlen(str));
}

int
buf_putc(struct buf *b, int ch)
{
	char c = (char)ch;

	return buf_append(b, &c, 1);
}

int
buf_set(struct buf *b, const char *str)
{
	buf_reset(b);
	return buf_puts(b, str);
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n >= b->cap - b->len) {
		if (buf_reserve(b, (size_t)n) < 0) {
			b->data[b->len] = 0;
			return -1;
		}
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	} else if (b->max && b->len + (size_t)n > b->max) {
		b->data[b->len] = 0;
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/* attr - attribute lists, the IPC format between postino processes.
 *
 * Wire form: "name=value\n" lines ended by an empty line.  Names are
 * [a-z0-9_]+; values escape '%', bytes < 0x20 and 0x7f as %XX.  The parser
 * trusts nothing: a bad name, a raw control byte, a bad or NUL escape, too
 * many attributes or too many bytes is a protocol error with a one-line
 * reason.  attr_parse is incremental (0 = need more data); attr_read and
 * attr_write are the blocking socket helpers around it. */
#include "postino_config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "mymalloc.h"
#include "stringops.h"

struct attr_list *
attr_list_new(void)
{
	return xcalloc(1, sizeof(struct attr_list));
}

void
attr_list_reset(struct attr_list *al)
{
	for (int i = 0; i < al->count; i++) {
		free(al->names[i]);
		free(al->values[i]);
	}
	xfree(&al->names);
	xfree(&al->values);
	al->count = 0;
}

void
attr_list_free(struct attr_list **alp)
{
	if (*alp == NULL)
		return;
	attr_list_reset(*alp);
	free(*alp);
	*alp = NULL;
}

/* attr_grow - room for one more entry; arrays double at powers of two. */
static void
attr_grow(struct attr_list *al)
{
	size_t n = (size_t)al->count;

	if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) {
		size_t cap = n == 0 ? 8 : n * 2;

		al->names = xreallocarray(al->names, cap, sizeof(char *));
		al->values = xreallocarray(al->values, cap, sizeof(char *));
	}
}

/* attr_take - append, taking ownership of name and value. */
static void
attr_take(struct attr_list *al, char *name, char *value)
{
	attr_grow(al);
	al->names[al->count] = name;
	al->values[al->count] = value;
	al->count++;
}

void
attr_add(struct attr_list *al, const char *name, const char *value)
{
	attr_take(al, xstrdup(name), xstrdup(value ? value : ""));
}

void
attr_addf(struct attr_list *al, const char *name, const char *fmt, ...)
{
	struct buf *b = buf_new(64, BUF_NOLIMIT);
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	attr_add(al, name, buf_str(b));
	buf_free(&b);
}

const char *
attr_get(const struct attr_list *al, const char *name)
{
	for (int i = 0; i < al->count; i++)
		if (strcmp(al->names[i], name) == 0)
			return al->values[i];
	return NULL;
}

long
attr_get_long(const struct attr_list *al, const char *name, long def)
{
	const char *v = attr_get(al, name);
	const char *p;
	long val;

	if (v == NULL)
		return def;
	/* str_to_long wants digits; allow one leading minus sign. */
	p = *v == '-' ? v + 1 : v;
	if (!alldig(p) || str_to_long(p, &val) != 0)
		return def;
	return *v == '-' ? -val : val;
}

static const char hexdig[] = "0123456789ABCDEF";

/* attr_needs_escape - bytes that never appear raw in a value. */
static int
attr_needs_escape(unsigned char c)
{
	return c == '%' || c < 0x20 || c == 0x7f;
}

void
attr_format(const struct attr_list *al, struct buf *out)
{
	for (int i = 0; i < al->count; i++) {
		const unsigned char *v = (const unsigned char *)al->values[i];
		const unsigned char *run = v;

		buf_puts(out, al->names[i]);
		buf_putc(out, '=');
		for (; *v; v++) {
			if (!attr_needs_escape(*v))
				continue;
			buf_append(out, run, (size_t)(v - run));
			buf_putc(out, '%');
			buf_putc(out, hexdig[*v >> 4]);
			buf_putc(out, hexdig[*v & 0xf]);
			run = v + 1;
		}
		buf_append(out, run, (size_t)(v - run));
		buf_putc(out, '\n');
	}
	buf_putc(out, '\n');
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* attr_parse_line - check and decode one "name=value" line (without LF). */
static int
attr_parse_line(const char *line, size_t len, struct attr_list *al,
    const char **err_r)
{
	const char *eq = memchr(line, '=', len);
	size_t nlen, i;
	char *value, *vp;

	if (eq == NULL) {
		*err_r = "attribute line without '='";
		return -1;
	}
	nlen = (size_t)(eq - line);
	if (nlen == 0) {
		*err_r = "empty attribute name";
		return -1;
	}
	for (i = 0; i < nlen; i++) {
		char c = line[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
			*err_r = "bad character in attribute name";
			return -1;
		}
	}
	value = vp = xmalloc(len - nlen);
	for (i = nlen + 1; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = hexval(line[i + 1])) < 0
			    || (lo = hexval(line[i + 2])) < 0) {
				*err_r = "bad %XX escape in attribute value";
				free(value);
				return -1;
			}
			c = (unsigned char)(hi * 16 + lo);
			if (c == 0) {
				*err_r = "NUL byte in attribute value";
				free(value);
				return -1;
			}
			i += 2;
		} else if (c < 0x20 || c == 0x7f) {
			*err_r = "unescaped control character in attribute value";
			free(value);
			return -1;
		}
		*vp++ = (char)c;
	}
	*vp = 0;
	attr_take(al, xstrndup(line, nlen), value);
	return 0;
}

long
attr_parse(const char *data, size_t len, struct attr_list *al,
    const char **err_r)
{
	size_t pos = 0;

	attr_list_reset(al);
	*err_r = "";
	for (;;) {
		const char *nl;
		size_t llen;

		if (pos >= len)
			break;
		nl = memchr(data + pos, '\n', len - pos);
		if (nl == NULL)
			break;
		llen = (size_t)(nl - (data + pos));
		if (pos + llen + 1 > ATTR_MAX_BYTES) {
			*err_r = "attribute list too large";
			attr_list_reset(al);
			return -1;
		}
		if (llen == 0)
			return (long)(pos + 1);
		if (al->count >= ATTR_MAX_COUNT) {
			*err_r = "too many attributes";
			attr_list_reset(al);
			return -1;
		}
		if (attr_parse_line(data + pos, llen, al, err_r) < 0) {
			attr_list_reset(al);
			return -1;
		}
		pos += llen + 1;
	}
	/* Incomplete: refuse now if it can never fit. */
	if (len >= ATTR_MAX_BYTES) {
		*err_r = "attribute list too large";
		attr_list_reset(al);
		return -1;
	}
	attr_list_reset(al);
	return 0;
}

/* attr_write_all - write len bytes, waiting on a non-blocking fd. */
static int
attr_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };

				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return -1;
				continue;
			}
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
attr_write(int fd, const struct attr_list *al)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);
	int rc, saved;

	attr_format(al, b);
	rc = attr_write_all(fd, buf_str(b), buf_len(b));
	saved = errno;
	buf_free(&b);
	errno = saved;
	return rc;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* attr_has_end - does data hold a list terminator (an empty line)? */
static int
attr_has_end(const char *data, size_t len, size_t *scan)
{
	size_t i = *scan;

	if (len > 0 && data[0] == '\n')
		return 1;
	for (i = i > 0 ? i - 1 : 0; i + 1 < len; i++) {
		if (data[i] == '\n' && data[i + 1] == '\n')
			return 1;
	}
	*scan = len;
	return 0;
}

int
attr_read(int fd, struct buf *inbuf, struct attr_list *al, int timeout_ms,
    const char **err_r)
{
	long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
	size_t scan = 0;

	*err_r = "";
	for (;;) {
		if (attr_has_end(inbuf->data, inbuf->len, &scan)
		    || inbuf->len >= ATTR_MAX_BYTES) {
			long n = attr_parse(inbuf->data, inbuf->len, al, err_r);

			if (n < 0)
				return -1;
			if (n > 0) {
				memmove(inbuf->data, inbuf->data + n,
				    inbuf->len - (size_t)n);
				buf_truncate(inbuf, inbuf->len - (size_t)n);
				return 1;
			}
		} else if (inbuf->len > 0 && inbuf->len < 4096) {
			/* Catch a bad line early, before waiting for more. */
			if (attr_parse(inbuf->data, inbuf->len, al, err_r) < 0)
				return -1;
		}
		/* Need more data. */
		{
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int wait = -1;
			ssize_t n;
			size_t room = 65536;

			if (timeout_ms >= 0) {
				long left = deadline - now_ms();

				if (left <= 0) {
					*err_r = "timeout reading attribute list";
					errno = ETIMEDOUT;
					return -1;
				}
				wait = (int)left;
			}
			if (poll(&pfd, 1, wait) < 0) {
				if (errno == EINTR)
					continue;
				*err_r = "poll error";
				return -1;
			}
			if (pfd.revents == 0)
				continue;
			if (room > ATTR_MAX_BYTES + 1 - inbuf->len)
				room = ATTR_MAX_BYTES + 1 - inbuf->len;
			if (buf_reserve(inbuf, room) < 0) {
				*err_r = "attribute list too large";
				return -1;
			}
			n = read(fd, inbuf->data + inbuf->len, room);
			if (n < 0) {
				if (errno == EINTR || errno == EAGAIN
				    || errno == EWOULDBLOCK)
					continue;
				*err_r = "read error";
				return -1;
			}
			if (n == 0) {
				if (inbuf->len == 0)
					return 0;
				*err_r = "unexpected end of input in attribute list";
				errno = EPIPE;
				return -1;
			}
			inbuf->len += (size_t)n;
			inbuf->data[inbuf->len] = 0;
		}
	}
}

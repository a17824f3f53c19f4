/* SPDX-License-Identifier: MIT */
/* smtp_mime - the 8BITMIME downgrade (RFC 6152 section 3): for a server
 * that does not offer 8BITMIME, a MIME message with 8-bit content is
 * rewritten as 7-bit: every leaf part whose body has 8-bit bytes and is
 * sent as 7bit, 8bit or with no Content-Transfer-Encoding is encoded
 * quoted-printable (its Content-Transfer-Encoding header replaced);
 * multipart and message/rfc822 containers are walked (up to
 * SMTP_MIME_DEPTH levels) and their own "8bit" label becomes "7bit".
 * Headers are not changed otherwise.  A message without MIME-Version is
 * sent as it is, as Postfix does (disable_mime_output_conversion = no).
 *
 * Lines are LF-terminated here (queue file form); the caller turns them
 * into CRLF. */
#include "postino_config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mymalloc.h"
#include "smtp.h"

#define SMTP_MIME_DEPTH	20

int
smtp_mime_has_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] & 0x80)
			return 1;
	return 0;
}

/* next_line - the line at *pos (without its LF) and move past it. */
static int
next_line(const char *p, size_t len, size_t *pos, const char **line,
    size_t *llen)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	*line = p + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*llen = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += *llen + (nl ? 1 : 0);
	return 1;
}

/* header_is - does the header line start with "name:"? */
static int
header_is(const char *line, size_t llen, const char *name)
{
	size_t n = strlen(name);

	return llen > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* header_value - the unfolded value of header name in hdr (malloc'd,
 * lowercased when lower), or NULL. */
static char *
header_value(const char *hdr, size_t len, const char *name)
{
	size_t pos = 0, llen;
	const char *line;
	struct buf *b = NULL;
	char *ret;

	while (next_line(hdr, len, &pos, &line, &llen)) {
		if (b && (llen > 0 && (line[0] == ' ' || line[0] == '\t'))) {
			buf_append(b, line, llen);
			continue;
		}
		if (b)
			break;
		if (header_is(line, llen, name)) {
			b = buf_new(128, 8192);
			buf_append(b, line + strlen(name) + 1,
			    llen - strlen(name) - 1);
		}
	}
	if (b == NULL)
		return NULL;
	ret = xstrdup(buf_str(b));
	buf_free(&b);
	return ret;
}

/* mime_type - "type/subtype" lowercased, and the boundary parameter. */
static void
mime_type(const char *ct, char *type, size_t tlen, char **boundary)
{
	const char *p = ct ? ct : "";
	size_t n = 0;
	const char *b;

	*boundary = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != ';' && *p != ' ' && *p != '\t' && n + 1 < tlen)
		type[n++] = (char)tolower((unsigned char)*p++);
	type[n] = 0;
	for (b = p; (b = strchr(b, ';')) != NULL;) {
		b++;
		while (*b == ' ' || *b == '\t')
			b++;
		if (strncasecmp(b, "boundary", 8) == 0) {
			const char *v = b + 8;

			while (*v == ' ' || *v == '\t')
				v++;
			if (*v != '=')
				continue;
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v == '"') {
				const char *e = strchr(v + 1, '"');

				if (e)
					*boundary = xstrndup(v + 1, (size_t)(e - v - 1));
			} else {
				size_t k = strcspn(v, " \t;");

				if (k > 0)
					*boundary = xstrndup(v, k);
			}
			break;
		}
	}
}

/* put_headers - copy the header block; the Content-Transfer-Encoding
 * header (with its continuation lines) becomes cte (NULL: kept). */
static void
put_headers(struct buf *out, const char *hdr, size_t len, const char *cte)
{
	size_t pos = 0, llen;
	const char *line;
	int skipping = 0, done = 0;

	while (next_line(hdr, len, &pos, &line, &llen)) {
		if (llen == 0) {
			/* The end of the headers: the new one goes before. */
			if (cte && !done)
				buf_printf(out, "Content-Transfer-Encoding: %s\n", cte);
			buf_putc(out, '\n');
			return;
		}
		if (skipping && (line[0] == ' ' || line[0] == '\t'))
			continue;
		skipping = 0;
		if (cte && header_is(line, llen, "Content-Transfer-Encoding")) {
			skipping = 1;
			if (!done) {
				buf_printf(out, "Content-Transfer-Encoding: %s\n", cte);
				done = 1;
			}
			continue;
		}
		buf_append(out, line, llen);
		buf_putc(out, '\n');
	}
	if (cte && !done)
		buf_printf(out, "Content-Transfer-Encoding: %s\n", cte);
}

/* put_qp - the body, quoted-printable (RFC 2045 6.7), lines of at most
 * 76 characters, LF line breaks kept as hard breaks. */
static void
put_qp(struct buf *out, const char *body, size_t len)
{
	size_t pos = 0, llen;
	const char *line;

	while (next_line(body, len, &pos, &line, &llen)) {
		size_t col = 0;

		for (size_t i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)line[i];
			int last = (i + 1 == llen);
			int enc = c > 126 || c == '=' || (c < 32 && c != '\t')
			    || ((c == ' ' || c == '\t') && last);
			size_t w = enc ? 3 : 1;

			if (col + w > 75) {
				buf_puts(out, "=\n");
				col = 0;
			}
			if (enc)
				buf_printf(out, "=%02X", c);
			else
				buf_putc(out, (char)c);
			col += w;
		}
		buf_putc(out, '\n');
	}
}

static void convert_entity(struct buf *out, const char *p, size_t len,
    int depth);

/* convert_multipart - the body of a multipart entity. */
static void
convert_multipart(struct buf *out, const char *body, size_t len,
    const char *boundary, int depth)
{
	size_t blen = strlen(boundary), pos = 0, llen, part_start = 0;
	const char *line;
	int in_part = 0, closed = 0;

	while (!closed && next_line(body, len, &pos, &line, &llen)) {
		size_t here = (size_t)(line - body);
		int delim = llen >= blen + 2 && line[0] == '-' && line[1] == '-'
		    && memcmp(line + 2, boundary, blen) == 0;

		if (!delim) {
			if (!in_part) {
				buf_append(out, line, llen);
				buf_putc(out, '\n');
			}
			continue;
		}
		if (in_part) {
			/* The LF before the delimiter belongs to it. */
			size_t end = here > part_start ? here - 1 : here;

			convert_entity(out, body + part_start, end - part_start,
			    depth + 1);
			buf_putc(out, '\n');
		}
		buf_append(out, line, llen);
		buf_putc(out, '\n');
		closed = llen >= blen + 4 && line[blen + 2] == '-'
		    && line[blen + 3] == '-';
		in_part = !closed;
		part_start = pos;
	}
	if (in_part) {
		/* No closing delimiter: the rest is the last part. */
		convert_entity(out, body + part_start, len - part_start, depth + 1);
	} else if (pos < len) {
		buf_append(out, body + pos, len - pos);	/* epilogue */
	}
}

static void
convert_entity(struct buf *out, const char *p, size_t len, int depth)
{
	size_t pos = 0, llen, hlen;
	const char *line;
	char *ct, *cte, *boundary = NULL, type[128];
	int plain_cte;

	/* The header block ends at the first empty line. */
	while (next_line(p, len, &pos, &line, &llen) && llen > 0)
		;
	hlen = pos;
	ct = header_value(p, hlen, "Content-Type");
	cte = header_value(p, hlen, "Content-Transfer-Encoding");
	mime_type(ct, type, sizeof(type), &boundary);
	{
		const char *v = cte ? cte : "";

		while (*v == ' ' || *v == '\t')
			v++;
		plain_cte = *v == 0 || strncasecmp(v, "7bit", 4) == 0
		    || strncasecmp(v, "8bit", 4) == 0;
	}
	if (!smtp_mime_has_8bit(p + hlen, len - hlen) || !plain_cte
	    || depth > SMTP_MIME_DEPTH) {
		buf_append(out, p, len);
	} else if (strncmp(type, "multipart/", 10) == 0 && boundary) {
		put_headers(out, p, hlen, cte ? "7bit" : NULL);
		convert_multipart(out, p + hlen, len - hlen, boundary, depth);
	} else if (strcmp(type, "message/rfc822") == 0) {
		put_headers(out, p, hlen, cte ? "7bit" : NULL);
		convert_entity(out, p + hlen, len - hlen, depth + 1);
	} else {
		put_headers(out, p, hlen, "quoted-printable");
		put_qp(out, p + hlen, len - hlen);
		/* put_qp ends every line; keep an unterminated end so. */
		if (len > hlen && p[len - 1] != '\n')
			buf_truncate(out, buf_len(out) - 1);
	}
	free(ct);
	free(cte);
	free(boundary);
}

struct buf *
smtp_mime_downgrade(const char *msg, size_t len)
{
	struct buf *out = buf_new(len + len / 4 + 1024, BUF_NOLIMIT);
	size_t pos = 0, llen, hlen;
	const char *line;
	char *mv;

	while (next_line(msg, len, &pos, &line, &llen) && llen > 0)
		;
	hlen = pos;
	mv = header_value(msg, hlen, "MIME-Version");
	if (mv == NULL)
		buf_append(out, msg, len);
	else
		convert_entity(out, msg, len, 0);
	free(mv);
	return out;
}

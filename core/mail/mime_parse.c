/* SPDX-License-Identifier: MIT */
/* mime_parse - the MIME structure of a message read line by line
 * (mime_parse.h). */
#include "postino_config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime_parse.h"
#include "mymalloc.h"

static const char *const mime_headers[] = {
	"content-type", "content-transfer-encoding", "content-disposition",
	"content-description", "content-id", "mime-version",
};

size_t
mime_parse_header_name_len(const char *line, size_t len)
{
	size_t i = 0, n;

	while (i < len && (unsigned char)line[i] > 32
	    && (unsigned char)line[i] < 127 && line[i] != ':')
		i++;
	n = i;
	if (n == 0)
		return 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':' ? n : 0;
}

int
mime_parse_is_mime_header(const char *text, size_t nlen)
{
	for (size_t i = 0; i < sizeof(mime_headers) / sizeof(mime_headers[0]);
	    i++)
		if (strlen(mime_headers[i]) == nlen
		    && strncasecmp(text, mime_headers[i], nlen) == 0)
			return 1;
	return 0;
}

/* skip_cfws - past white space, folding and (nested) comments. */
static const char *
skip_cfws(const char *cp)
{
	for (;;) {
		while (*cp == ' ' || *cp == '\t' || *cp == '\r' || *cp == '\n')
			cp++;
		if (*cp != '(')
			return cp;
		for (int depth = 0; *cp; cp++) {
			if (*cp == '\\' && cp[1]) {
				cp++;
				continue;
			}
			if (*cp == '(')
				depth++;
			else if (*cp == ')' && --depth == 0) {
				cp++;
				break;
			}
		}
	}
}

/* token - an RFC 2045 token (or, with quoted, a quoted-string too) at
 * *cpp, malloc'd; NULL when there is none. */
static char *
token(const char **cpp, int quoted)
{
	const char *cp = skip_cfws(*cpp);
	struct buf *b;
	char *out;

	if (quoted && *cp == '"') {
		b = buf_new(64, BUF_NOLIMIT);
		for (cp++; *cp && *cp != '"'; cp++) {
			if (*cp == '\\' && cp[1])
				cp++;
			if (*cp != '\r' && *cp != '\n')
				buf_putc(b, *cp);
		}
		if (*cp == '"')
			cp++;
	} else {
		const char *start = cp;

		while (*cp && !isspace((unsigned char)*cp)
		    && strchr("()<>@,;:\\\"/[]?=", *cp) == NULL
		    && (unsigned char)*cp > 0x20 && (unsigned char)*cp < 0x7f)
			cp++;
		if (cp == start) {
			*cpp = cp;
			return NULL;
		}
		b = buf_new(64, BUF_NOLIMIT);
		buf_append(b, start, (size_t)(cp - start));
	}
	*cpp = cp;
	out = xstrdup(buf_str(b));
	buf_free(&b);
	return out;
}

/* note_content_type - what a Content-Type value says. */
static void
note_content_type(struct mime_parse *m, const char *value)
{
	const char *cp = value;
	char *type = token(&cp, 0), *subtype = NULL;

	m->ctype_seen = 1;
	m->ctype = MIME_CTYPE_OTHER;
	m->digest = 0;
	free(m->boundary);
	m->boundary = NULL;
	if (type == NULL)
		return;
	cp = skip_cfws(cp);
	if (*cp == '/') {
		cp++;
		subtype = token(&cp, 0);
	}
	if (strcasecmp(type, "multipart") == 0) {
		m->ctype = MIME_CTYPE_MULTIPART;
		m->digest = subtype && strcasecmp(subtype, "digest") == 0;
	} else if (strcasecmp(type, "message") == 0 && subtype
	    && strcasecmp(subtype, "partial") != 0
	    && strcasecmp(subtype, "external-body") != 0) {
		m->ctype = MIME_CTYPE_MESSAGE;
	}
	free(type);
	free(subtype);
	/* Parameters: only boundary= matters. */
	for (;;) {
		char *name, *val;

		cp = skip_cfws(cp);
		if (*cp != ';')
			break;
		cp++;
		if ((name = token(&cp, 0)) == NULL)
			continue;
		cp = skip_cfws(cp);
		if (*cp != '=') {
			free(name);
			continue;
		}
		cp++;
		val = token(&cp, 1);
		if (val && strcasecmp(name, "boundary") == 0 && *val) {
			if ((long)strlen(val) > m->boundary_limit)
				val[m->boundary_limit] = 0;
			free(m->boundary);
			m->boundary = val;
			val = NULL;
		}
		free(name);
		free(val);
	}
}

int
mime_parse_header(struct mime_parse *m, const char *text, size_t nlen)
{
	const char *value = text + nlen;

	if (m->off)
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value == ':')
		value++;
	if (nlen != 12 || strncasecmp(text, "content-type", 12) != 0)
		return 0;
	note_content_type(m, value);
	/* Postfix's limit, as measured against it: a multipart is refused
	 * inside limit + 2 open multiparts; attached messages do not
	 * count. */
	if (m->ctype == MIME_CTYPE_MULTIPART
	    && m->nlevels >= m->nesting_limit + 2) {
		m->off = 1;
		return -1;
	}
	return 0;
}

/* block_reset - forget what the last header block said. */
static void
block_reset(struct mime_parse *m)
{
	m->ctype = MIME_CTYPE_OTHER;
	m->ctype_seen = 0;
	m->digest = 0;
	free(m->boundary);
	m->boundary = NULL;
}

/* push - open a multipart level. */
static void
push(struct mime_parse *m, char *boundary, int digest)
{
	if (m->nlevels == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 4;
		m->levels = xrealloc(m->levels, (size_t)m->cap
		    * sizeof(*m->levels));
	}
	m->levels[m->nlevels].boundary = boundary;
	m->levels[m->nlevels].digest = digest;
	m->nlevels++;
}

void
mime_parse_init(struct mime_parse *m, int disabled, long nesting_limit,
    long boundary_limit)
{
	memset(m, 0, sizeof(*m));
	m->off = disabled;
	m->nesting_limit = nesting_limit;
	m->boundary_limit = boundary_limit > 0 ? boundary_limit : 1;
	m->block = MIME_BLOCK_BODY;
	block_reset(m);
}

void
mime_parse_block_end(struct mime_parse *m, int blank_line)
{
	int ctype = m->ctype;

	m->block = MIME_BLOCK_BODY;
	if (m->off) {
		block_reset(m);
		return;
	}
	if (!m->ctype_seen && m->parent_digest)
		ctype = MIME_CTYPE_MESSAGE;
	m->parent_digest = 0;
	if (ctype == MIME_CTYPE_MULTIPART && m->boundary != NULL) {
		push(m, m->boundary, m->digest);
		m->boundary = NULL;
	} else if (ctype == MIME_CTYPE_MESSAGE && blank_line) {
		/* An attached message opens no level: the next boundary of
		 * an enclosing multipart ends it. */
		m->block = MIME_BLOCK_NESTED;
	}
	block_reset(m);
}

int
mime_parse_boundary(struct mime_parse *m, const char *line, size_t len)
{

	if (m->off || m->nlevels == 0 || len < 3 || line[0] != '-'
	    || line[1] != '-')
		return 0;
	for (int i = m->nlevels - 1; i >= 0; i--) {
		const char *b = m->levels[i].boundary;
		size_t blen;

		if (b == NULL)
			continue;
		blen = strlen(b);
		if (len < 2 + blen || memcmp(line + 2, b, blen) != 0)
			continue;
		/* The levels opened inside this multipart end here. */
		while (m->nlevels > i + 1)
			free(m->levels[--m->nlevels].boundary);
		block_reset(m);
		if (len >= 4 + blen && line[2 + blen] == '-'
		    && line[3 + blen] == '-') {
			free(m->levels[--m->nlevels].boundary);
			m->block = MIME_BLOCK_BODY;
		} else {
			m->block = MIME_BLOCK_PART;
			m->parent_digest = m->levels[i].digest;
		}
		return 1;
	}
	return 0;
}

void
mime_parse_free(struct mime_parse *m)
{

	while (m->nlevels > 0)
		free(m->levels[--m->nlevels].boundary);
	free(m->levels);
	free(m->boundary);
	memset(m, 0, sizeof(*m));
}

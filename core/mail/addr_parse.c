/* SPDX-License-Identifier: MIT */
/* addr_parse - RFC 5321 path parsing, internal and external address
 * forms (see addr_parse.h).  RFC 5321 section 4.1.2 (Path, Mailbox,
 * Quoted-string), Appendix C (source routes are accepted and ignored). */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "addr_parse.h"
#include "buf.h"
#include "mymalloc.h"
#include "stringops.h"

#define ERR_SYNTAX	"Bad address syntax"

/* is_ctl - a control character (never valid in an envelope address). */
static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* closing_bracket - offset of the '>' that closes a path starting with
 * '<' (quotes and backslashes respected), or -1. */
static long
closing_bracket(const char *s)
{
	int quoted = 0;

	for (const char *cp = s + 1; *cp; cp++) {
		if (*cp == '\\' && cp[1]) {
			cp++;
			continue;
		}
		if (*cp == '"')
			quoted = !quoted;
		else if (*cp == '>' && !quoted)
			return cp - s;
	}
	return -1;
}

/* strip_route - skip "@a,@b:" at the start of a path; NULL when the
 * route is malformed. */
static const char *
strip_route(const char *s)
{
	int bracket = 0;

	if (*s != '@')
		return s;
	for (const char *cp = s; *cp; cp++) {
		if (*cp == '[')
			bracket = 1;
		else if (*cp == ']')
			bracket = 0;
		else if (*cp == ':' && !bracket)
			return cp + 1;
		else if (*cp == '"' || *cp == '\\')
			return NULL;
	}
	return NULL;
}

/* unquote - the internal form of a mailbox; -1 on bad syntax (strict
 * rejects what RFC 5321 does not allow outside quotes). */
static int
unquote(const char *s, struct buf *out)
{
	int quoted = 0, bracket = 0;

	for (const char *cp = s; *cp; cp++) {
		unsigned char c = (unsigned char)*cp;

		if (is_ctl(c))
			return -1;
		if (c == '\\') {
			if (cp[1] == 0 || is_ctl((unsigned char)cp[1]))
				return -1;
			cp++;
			if (buf_putc(out, *cp) < 0)
				return -1;
			continue;
		}
		if (quoted) {
			if (c == '"')
				quoted = 0;
			else if (buf_putc(out, c) < 0)
				return -1;
			continue;
		}
		if (bracket) {
			if (c == ']')
				bracket = 0;
			else if (c == '[' || c == ' ' || c == '"')
				return -1;
		} else if (c == '"') {
			quoted = 1;
			continue;
		} else if (c == '[') {
			/* An address literal starts a domain, nowhere else:
			 * "r[@x]" is no address (and would not survive being
			 * quoted for a reply and parsed again). */
			if (cp == s || cp[-1] != '@')
				return -1;
			bracket = 1;
		} else if (strchr(" \t<>(),;:]", c)) {
			return -1;
		}
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return quoted || bracket ? -1 : 0;
}

int
addr_parse_path(const char *path, int strict, char **internal_r,
    const char **err_r)
{
	char *copy, *inner;
	const char *mbox, *end;
	struct buf *out;
	int rc;

	*internal_r = NULL;
	*err_r = ERR_SYNTAX;
	if (strlen(path) > ADDR_PARSE_MAX) {
		*err_r = "Address too long";
		return -1;
	}
	copy = xstrdup(path);
	inner = skipblanks(copy);
	trimblanks(inner);
	if (*inner == '<') {
		long close = closing_bracket(inner);

		if (close < 0 || inner[close + 1] != 0) {
			free(copy);
			return -1;
		}
		inner[close] = 0;
		inner++;
		if (!strict) {
			inner = skipblanks(inner);
			trimblanks(inner);
		}
	} else if (strict) {
		free(copy);
		return -1;
	}
	if (*inner == 0) {
		free(copy);
		*internal_r = xstrdup("");
		*err_r = NULL;
		return 0;
	}
	if ((mbox = strip_route(inner)) == NULL || *mbox == 0) {
		free(copy);
		return -1;
	}
	out = buf_new(strlen(mbox) + 1, ADDR_PARSE_MAX);
	rc = unquote(mbox, out);
	/* An address that ends in '@' or is only '@' is no mailbox. */
	end = buf_str(out);
	if (rc == 0 && (*end == 0 || end[buf_len(out) - 1] == '@'))
		rc = -1;
	if (rc == 0) {
		*internal_r = xstrdup(buf_str(out));
		*err_r = NULL;
	}
	buf_free(&out);
	free(copy);
	return rc;
}

char *
addr_parse_internalize(const char *external)
{
	struct buf *out = buf_new(strlen(external) + 1, BUF_NOLIMIT);
	char *res;
	int quoted = 0;

	for (const char *cp = external; *cp; cp++) {
		if (*cp == '\\' && cp[1]) {
			buf_putc(out, *++cp);
		} else if (*cp == '"') {
			quoted = !quoted;
		} else {
			buf_putc(out, *cp);
		}
	}
	res = xstrdup(buf_str(out));
	buf_free(&out);
	return res;
}

/* needs_quote - is local not an RFC 5321 dot-string? */
static int
needs_quote(const char *local, size_t len)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";

	if (len == 0 || local[0] == '.' || local[len - 1] == '.')
		return 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];

		if (c == '.' && local[i + 1] == '.')
			return 1;
		if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '.' || strchr(atext, c))
			continue;
		return 1;
	}
	return 0;
}

char *
addr_parse_externalize(const char *internal)
{
	const char *at = strrchr(internal, '@');
	size_t llen = at ? (size_t)(at - internal) : strlen(internal);
	struct buf *out;
	char *res;

	if (*internal == 0 || !needs_quote(internal, llen))
		return xstrdup(internal);
	out = buf_new(strlen(internal) + 8, BUF_NOLIMIT);
	buf_putc(out, '"');
	for (size_t i = 0; i < llen; i++) {
		if (internal[i] == '"' || internal[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, internal[i]);
	}
	buf_putc(out, '"');
	if (at)
		buf_puts(out, at);
	res = xstrdup(buf_str(out));
	buf_free(&out);
	return res;
}

int
addr_parse_has_route(const char *internal)
{
	const char *at = strrchr(internal, '@');
	size_t llen = at ? (size_t)(at - internal) : strlen(internal);

	if (*internal == '@')
		return 1;
	for (size_t i = 0; i < llen; i++)
		if (internal[i] == '@' || internal[i] == '%' || internal[i] == '!')
			return 1;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* local_expand - expand the attribute variables of forward_path and
 * luser_relay ($name, ${name}, $(name), ${name?text}, ${name:text},
 * ${name?{a}:{b}}, $$).  A variable is defined when lookup() returns a
 * non-empty value; values are passed through the filter (every byte not
 * in it becomes '_'), the pattern's own text is not.  An undefined plain
 * $name sets *undef_r and expands to nothing. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "local.h"
#include "mymalloc.h"
#include "stringops.h"

struct expand_state {
	const char *(*lookup)(const char *, void *);
	void *ctx;
	const char *filter;
	struct buf *out;
	int undef;
	int depth;
};

static int expand_range(struct expand_state *st, const char *p, const char *end);

/* put_value - a variable's value, filtered. */
static void
put_value(struct expand_state *st, const char *val)
{
	for (; *val; val++)
		buf_putc(st->out, (st->filter && strchr(st->filter, *val) == NULL)
		    ? '_' : *val);
}

/* find_close - the bracket that closes the one at p (nesting counted). */
static const char *
find_close(const char *p, const char *end, char open, char close)
{
	int depth = 0;

	for (; p < end; p++) {
		if (*p == open)
			depth++;
		else if (*p == close && --depth == 0)
			return p;
	}
	return NULL;
}

static int
is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_';
}

/* expand_braced - the inside of ${...}. */
static int
expand_braced(struct expand_state *st, const char *p, const char *end)
{
	const char *n = p, *val;
	char *name;

	while (n < end && is_name_char((unsigned char)*n))
		n++;
	if (n == p)
		return -1;
	name = xstrndup(p, (size_t)(n - p));
	val = st->lookup(name, st->ctx);
	free(name);
	if (val && *val == 0)
		val = NULL;
	if (n == end) {
		if (val)
			put_value(st, val);
		else
			st->undef = 1;
		return 0;
	}
	if (*n != '?' && *n != ':')
		return -1;
	{
		int want_defined = (*n == '?');
		const char *rest = n + 1, *a_end, *b;

		/* ${name?{a}:{b}} */
		if (want_defined && rest < end && *rest == '{'
		    && (a_end = find_close(rest, end, '{', '}')) != NULL
		    && a_end + 1 < end && a_end[1] == ':' && a_end + 2 < end
		    && a_end[2] == '{') {
			b = a_end + 2;
			if (find_close(b, end, '{', '}') != end - 1)
				return -1;
			return val ? expand_range(st, rest + 1, a_end)
			    : expand_range(st, b + 1, end - 1);
		}
		if ((val != NULL) == want_defined)
			return expand_range(st, rest, end);
	}
	return 0;
}

static int
expand_range(struct expand_state *st, const char *p, const char *end)
{
	if (++st->depth > 100)
		return -1;
	while (p < end) {
		if (*p != '$') {
			buf_putc(st->out, *p++);
			continue;
		}
		p++;
		if (p >= end)
			return -1;
		if (*p == '$') {
			buf_putc(st->out, '$');
			p++;
		} else if (*p == '{' || *p == '(') {
			const char *close = find_close(p, end, *p,
			    *p == '{' ? '}' : ')');

			if (close == NULL || expand_braced(st, p + 1, close) < 0)
				return -1;
			p = close + 1;
		} else if (is_name_char((unsigned char)*p)) {
			const char *n = p, *val;
			char *name;

			while (n < end && is_name_char((unsigned char)*n))
				n++;
			name = xstrndup(p, (size_t)(n - p));
			val = st->lookup(name, st->ctx);
			free(name);
			if (val && *val)
				put_value(st, val);
			else
				st->undef = 1;
			p = n;
		} else {
			return -1;
		}
	}
	st->depth--;
	return 0;
}

int
local_expand(const char *pattern, const char *(*lookup)(const char *, void *),
    void *ctx, const char *filter, char **result_r, int *undef_r)
{
	struct expand_state st;
	int ret;

	st.lookup = lookup;
	st.ctx = ctx;
	st.filter = filter;
	st.out = buf_new(strlen(pattern) + 64, 64 * 1024);
	st.undef = 0;
	st.depth = 0;
	ret = expand_range(&st, pattern, pattern + strlen(pattern));
	*result_r = xstrdup(buf_str(st.out));
	*undef_r = st.undef;
	buf_free(&st.out);
	return ret;
}

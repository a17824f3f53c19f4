/* SPDX-License-Identifier: MIT */
/* map_regexp_lit - find a literal that every match of a pattern must
 * contain, for the lookup prefilter.
 *
 * The pattern is read as a sequence of top-level atoms.  Runs of plain
 * characters between other atoms are literals that any match contains;
 * the longest run is chosen.  The reading is deliberately conservative:
 * whatever could change how later characters are read (top-level
 * alternation, \Q, inline options, comments, verbs, unknown escapes,
 * malformed intervals) gives up, and whatever merely is not a plain
 * character (classes, groups, '.', anchors, non-ASCII bytes, escapes such
 * as \d) ends the current run.  A quantifier removes the character it
 * applies to from the run.
 *
 * Case: the literal is ASCII-lowercased and compared with the lowercased
 * key, which is sound for case-sensitive and case-insensitive patterns
 * alike.  Under case-insensitive matching, Unicode maps non-ASCII
 * characters to i, k and s (U+0130, U+212A, U+017F); those letters end a
 * run then, so a UTF-8 locale or PCRE UTF mode cannot break the proof. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "map_regexp.h"
#include "mymalloc.h"

#define IS_ALNUM(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') \
			 || ((c) >= '0' && (c) <= '9'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')

/* skip_class - p at '['; the character after the matching ']', or NULL. */
static const char *
skip_class(const char *p, enum rx_syntax syn)
{
	const char *q = p + 1;

	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	for (;;) {
		if (*q == 0)
			return NULL;
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			char end = q[1];

			for (q += 2; *q && !(*q == end && q[1] == ']'); q++)
				;
			if (*q == 0)
				return NULL;
			q += 2;
			continue;
		}
		if (syn == RX_SYNTAX_PCRE && *q == '\\') {
			if (q[1] == 0)
				return NULL;
			q += 2;
			continue;
		}
		if (*q == ']')
			return q + 1;
		q++;
	}
}

/* skip_group - p at '('; the character after the matching ')', or NULL. */
static const char *
skip_group(const char *p, enum rx_syntax syn)
{
	int depth = 0;

	while (*p) {
		switch (*p) {
		case '\\':
			if (p[1] == 0)
				return NULL;
			p += 2;
			continue;
		case '[':
			if ((p = skip_class(p, syn)) == NULL)
				return NULL;
			continue;
		case '(':
			depth++;
			break;
		case ')':
			if (--depth == 0)
				return p + 1;
			break;
		}
		p++;
	}
	return NULL;
}

/* pcre_unsafe - constructs anywhere in the pattern that change how the
 * rest is read. */
static int
pcre_unsafe(const char *p)
{
	for (; *p; p++) {
		if (p[0] == '\\' && (p[1] == 'Q' || p[1] == 'E'))
			return 1;
		if (p[0] == '(' && p[1] == '*')
			return 1;
		if (p[0] == '(' && p[1] == '?') {
			char c = p[2];

			if (c == 'P' && (p[3] == '<' || p[3] == '=' || p[3] == '>'))
				continue;
			if (c != ':' && c != '=' && c != '!' && c != '<' && c != '>'
			    && c != '|')
				return 1;
		}
	}
	return 0;
}

/* flush - keep the run if it is the longest so far. */
static void
flush(struct buf *run, struct buf *best)
{
	if (buf_len(run) > buf_len(best))
		buf_set(best, buf_str(run));
	buf_reset(run);
}

char *
map_regexp_lit_extract(const char *pattern, enum rx_syntax syn, int icase)
{
	struct buf *run, *best;
	const char *p = pattern;
	char *res = NULL;

	if (syn == RX_SYNTAX_NONE)
		return NULL;
	if (syn == RX_SYNTAX_PCRE && pcre_unsafe(pattern))
		return NULL;
	run = buf_new(32, BUF_NOLIMIT);
	best = buf_new(32, BUF_NOLIMIT);
	while (*p) {
		unsigned char c = (unsigned char)*p;

		switch (c) {
		case '\\':
			c = (unsigned char)p[1];
			if (c == 0)
				goto give_up;
			if (IS_ALNUM(c)) {
				const char *atoms = (syn == RX_SYNTAX_PCRE)
				    ? "dDwWsSbBhHvVAzZGRntrfea" : "wWsSbB123456789";

				if (strchr(atoms, c) == NULL)
					goto give_up;
				flush(run, best);
			} else if (syn == RX_SYNTAX_ERE && strchr("<>`'", c)) {
				flush(run, best);
			} else if (c >= 0x80
			    || (icase && strchr("iksIKS", c))) {
				flush(run, best);
			} else {
				buf_putc(run, (c >= 'A' && c <= 'Z') ? c + 32 : c);
			}
			p += 2;
			continue;
		case '[':
			if ((p = skip_class(p, syn)) == NULL)
				goto give_up;
			flush(run, best);
			continue;
		case '(':
			if ((p = skip_group(p, syn)) == NULL)
				goto give_up;
			flush(run, best);
			continue;
		case ')':
		case '|':
			goto give_up;
		case '.':
		case '^':
		case '$':
			flush(run, best);
			break;
		case '*':
		case '?':
		case '+':
			if (buf_len(run) > 0)
				buf_truncate(run, buf_len(run) - 1);
			flush(run, best);
			break;
		case '{': {
			const char *q = p + 1;

			while (IS_DIGIT(*q))
				q++;
			if (*q == ',')
				for (q++; IS_DIGIT(*q); q++)
					;
			if (*q != '}')
				goto give_up;
			if (buf_len(run) > 0)
				buf_truncate(run, buf_len(run) - 1);
			flush(run, best);
			p = q + 1;
			continue;
		}
		default:
			if (c >= 0x80 || (icase && strchr("iksIKS", c)))
				flush(run, best);
			else
				buf_putc(run, (c >= 'A' && c <= 'Z') ? c + 32 : c);
			break;
		}
		p++;
	}
	flush(run, best);
	if (buf_len(best) > 0)
		res = xstrdup(buf_str(best));
give_up:
	buf_free(&run);
	buf_free(&best);
	return res;
}

/* SPDX-License-Identifier: MIT */
/* tok822 - lexical RFC 822 tokenizer and serialisers (see tok822.h).
 *
 * All token text lives in one buffer per list; tokens refer to it by
 * offset so that the buffer may move while it grows.  Nothing here logs. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "mymalloc.h"
#include "tok822.h"

#define TOK822_OPERATORS	"<>@,;:.!%|])"

/* The characters that make an atom need quotes in external form. */
#define TOK822_QUOTE_SPECIALS	"()<>@,;:\\\".[]!%|"

#define TOK822_IS_WSP(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')
#define TOK822_IS_CTRL(c)	((unsigned char)(c) < 0x20 || (unsigned char)(c) == 0x7f)
#define TOK822_IS_WORD(t)	((t) >= TOK822_ATOM)

struct tok822_list *
tok822_list_new(void)
{
	struct tok822_list *list = xcalloc(1, sizeof(*list));

	list->text = buf_new(64, BUF_NOLIMIT);
	return list;
}

void
tok822_list_free(struct tok822_list **listp)
{
	if (*listp) {
		free((*listp)->tok);
		buf_free(&(*listp)->text);
		free(*listp);
		*listp = NULL;
	}
}

void
tok822_list_reset(struct tok822_list *list)
{
	list->count = 0;
	buf_reset(list->text);
}

/* tok822_add - start a token of the given type at the end of the text. */
static struct tok822 *
tok822_add(struct tok822_list *list, int type)
{
	struct tok822 *tp;

	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 16;
		list->tok = xreallocarray(list->tok, list->cap, sizeof(*list->tok));
	}
	tp = list->tok + list->count++;
	tp->type = type;
	tp->off = buf_len(list->text);
	tp->len = 0;
	return tp;
}

/* tok822_putc - append one content byte to the token being built.  The
 * text buffer has no limit, so the append cannot fail. */
static void
tok822_putc(struct tok822_list *list, struct tok822 *tp, int ch)
{
	(void)buf_putc(list->text, ch);
	tp->len++;
}

/* tok822_unquoted - the content byte for a character taken literally:
 * white space inside a quoted context becomes a single space. */
static int
tok822_unquoted(int ch)
{
	return TOK822_IS_WSP(ch) ? ' ' : ch;
}

/* tok822_scan_delimited - content of a quoted string or domain literal
 * that starts after its opener; returns the position after the closer
 * (or the end of the string). */
static const char *
tok822_scan_delimited(struct tok822_list *list, struct tok822 *tp,
    const char *cp, int closer)
{
	while (*cp && *cp != closer) {
		if (*cp == '\\') {
			if (*++cp == 0)
				break;	/* trailing backslash: dropped */
		}
		tok822_putc(list, tp, tok822_unquoted(*cp));
		cp++;
	}
	return *cp ? cp + 1 : cp;
}

/* tok822_scan_comment - a comment kept verbatim; cp is at the "(". */
static const char *
tok822_scan_comment(struct tok822_list *list, struct tok822 *tp,
    const char *cp)
{
	size_t depth = 0;

	while (*cp) {
		if (*cp == '\\') {
			tok822_putc(list, tp, *cp++);
			if (*cp == 0)
				break;
			tok822_putc(list, tp, *cp++);
			continue;
		}
		if (*cp == '(')
			depth++;
		else if (*cp == ')')
			depth--;
		tok822_putc(list, tp, *cp++);
		if (depth == 0)
			break;
	}
	return cp;
}

/* tok822_scan_atom - an atom; cp is at its first character. */
static const char *
tok822_scan_atom(struct tok822_list *list, struct tok822 *tp, const char *cp)
{
	while (*cp && !TOK822_IS_WSP(*cp) && strchr(TOK822_OPERATORS "(\"[", *cp) == NULL) {
		if (*cp == '\\') {
			if (*++cp == 0)
				break;	/* trailing backslash: dropped */
			tok822_putc(list, tp, tok822_unquoted(*cp));
		} else {
			tok822_putc(list, tp, *cp);
		}
		cp++;
	}
	return cp;
}

size_t
tok822_scan(struct tok822_list *list, const char *str)
{
	const char *cp = str;
	size_t before = list->count;
	struct tok822 *tp;

	while (*cp) {
		if (TOK822_IS_WSP(*cp)) {
			cp++;
		} else if (*cp == '(') {
			tp = tok822_add(list, TOK822_COMMENT);
			cp = tok822_scan_comment(list, tp, cp);
		} else if (*cp == '"') {
			tp = tok822_add(list, TOK822_QSTRING);
			cp = tok822_scan_delimited(list, tp, cp + 1, '"');
		} else if (*cp == '[') {
			tp = tok822_add(list, TOK822_DOMLIT);
			cp = tok822_scan_delimited(list, tp, cp + 1, ']');
		} else if (strchr(TOK822_OPERATORS, *cp) != NULL) {
			tok822_add(list, (unsigned char)*cp++);
		} else {
			tp = tok822_add(list, TOK822_ATOM);
			cp = tok822_scan_atom(list, tp, cp);
		}
	}
	return list->count - before;
}

long
tok822_find(const struct tok822_list *list, size_t from, size_t to, int type)
{
	size_t i;

	for (i = from; i < to && i < list->count; i++)
		if (list->tok[i].type == type)
			return (long)i;
	return -1;
}

/* tok822_needs_quotes - must this atom be quoted in external form? */
static int
tok822_needs_quotes(const char *cp, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (cp[i] == ' ' || TOK822_IS_CTRL(cp[i])
		    || strchr(TOK822_QUOTE_SPECIALS, cp[i]) != NULL)
			return 1;
	return 0;
}

/* tok822_put_escaped - append len bytes, with a backslash before each
 * character listed in escape. */
static int
tok822_put_escaped(struct buf *out, const char *cp, size_t len,
    const char *escape)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (cp[i] != 0 && strchr(escape, cp[i]) != NULL
		    && buf_putc(out, '\\') < 0)
			return -1;
		if (buf_putc(out, cp[i]) < 0)
			return -1;
	}
	return 0;
}

/* tok822_space_after - is a space written after token i of [.., to)? */
static int
tok822_space_after(const struct tok822_list *list, size_t i, size_t to)
{
	int type = list->tok[i].type;
	int next;

	if (type == ',')
		return 1;		/* even after a final comma */
	if (i + 1 >= to)
		return 0;
	next = list->tok[i + 1].type;
	return next == '<' || (TOK822_IS_WORD(type) && TOK822_IS_WORD(next));
}

/* tok822_serialize - the common loop of both serialisers. */
static int
tok822_serialize(struct buf *out, const struct tok822_list *list,
    size_t from, size_t to, int external)
{
	size_t i;

	if (to > list->count)
		to = list->count;
	for (i = from; i < to; i++) {
		const struct tok822 *tp = list->tok + i;
		const char *cp = buf_str(list->text) + tp->off;
		int st;

		switch (tp->type) {
		case TOK822_ATOM:
			if (external && tok822_needs_quotes(cp, tp->len))
				st = buf_putc(out, '"') < 0
				    || tok822_put_escaped(out, cp, tp->len, "\"\\") < 0
				    || buf_putc(out, '"') < 0 ? -1 : 0;
			else
				st = buf_append(out, cp, tp->len);
			break;
		case TOK822_QSTRING:
			if (external)
				st = buf_putc(out, '"') < 0
				    || tok822_put_escaped(out, cp, tp->len, "\"\\") < 0
				    || buf_putc(out, '"') < 0 ? -1 : 0;
			else
				st = buf_append(out, cp, tp->len);
			break;
		case TOK822_DOMLIT:
			st = buf_putc(out, '[') < 0
			    || tok822_put_escaped(out, cp, tp->len,
				external ? "\\" : "") < 0
			    || buf_putc(out, ']') < 0 ? -1 : 0;
			break;
		case TOK822_COMMENT:
			st = buf_append(out, cp, tp->len);
			break;
		default:
			st = buf_putc(out, tp->type);
			break;
		}
		if (st < 0)
			return -1;
		if (tok822_space_after(list, i, to) && buf_putc(out, ' ') < 0)
			return -1;
	}
	return 0;
}

int
tok822_externalize(struct buf *out, const struct tok822_list *list,
    size_t from, size_t to)
{
	return tok822_serialize(out, list, from, to, 1);
}

int
tok822_internalize(struct buf *out, const struct tok822_list *list,
    size_t from, size_t to)
{
	return tok822_serialize(out, list, from, to, 0);
}

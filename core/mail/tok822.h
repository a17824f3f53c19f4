/* SPDX-License-Identifier: MIT */
/* tok822 - a lexical RFC 822 address-list tokenizer and its two
 * serialisers, with the exact token and spacing rules that Postfix's
 * postalias(1) applies to aliases(5) lines (checked against Postfix 3.7,
 * see alias_parse.h for the verified examples).
 *
 * The scanner is purely lexical: it builds a flat list, it never fails,
 * and it accepts anything (unterminated quotes, comments and domain
 * literals end at the end of the input).  Token kinds:
 *
 *   TOK822_ATOM     a run of characters other than white space, the
 *                   operators below and the openers ( " [; a backslash
 *                   takes the next character literally (the backslash
 *                   itself is dropped; a trailing one is dropped too).
 *   TOK822_QSTRING  "...", content unescaped (\c -> c); an unterminated
 *                   one ends at the end of input.
 *   TOK822_DOMLIT   [...], content unescaped; no nesting.
 *   TOK822_COMMENT  (...), kept verbatim including the parentheses and any
 *                   backslashes; nesting counted; an unterminated one is
 *                   kept as written, without a closing parenthesis.
 *   operator        one of  < > @ , ; : . ! % | ] )  - the token type is
 *                   the character itself.
 *
 * White space is space, TAB, CR and LF (not VT or FF, which are atom
 * characters).  Inside atoms (escaped), quoted strings and domain
 * literals each white-space character becomes a single space.
 *
 * Ownership: a tok822_list owns its tokens and their text. */
#ifndef POSTINO_MAIL_TOK822_H
#define POSTINO_MAIL_TOK822_H

#include <stddef.h>

#include "buf.h"

#define TOK822_ATOM	256
#define TOK822_QSTRING	257
#define TOK822_COMMENT	258
#define TOK822_DOMLIT	259

struct tok822 {
	int type;		/* TOK822_* or the operator character */
	size_t off;		/* content: list->text->data + off */
	size_t len;
};

struct tok822_list {
	struct tok822 *tok;
	size_t count;
	size_t cap;
	struct buf *text;	/* contents of all tokens, back to back */
};

/* tok822_list_new - an empty list. */
struct tok822_list *tok822_list_new(void);
/* tok822_list_free - free the list and NULL the pointer. */
void tok822_list_free(struct tok822_list **listp);
/* tok822_list_reset - forget all tokens (keeps the memory). */
void tok822_list_reset(struct tok822_list *list);

/* tok822_scan - append the tokens of the C string str to list; returns
 * the number of tokens appended (0 for empty or all-white-space input). */
size_t tok822_scan(struct tok822_list *list, const char *str);

/* tok822_find - index of the first token of type type in [from, to), or
 * -1 when there is none. */
long tok822_find(const struct tok822_list *list, size_t from, size_t to,
    int type);

/* tok822_externalize - append tokens [from, to) to out in external
 * (quoted) form: quoted strings re-quoted with \" and \\ escaped, atoms
 * that contain a special character, white space or a control character
 * quoted the same way, domain literals bracketed with \\ escaped,
 * comments and operators verbatim.  A space follows every ",", and
 * separates two adjacent words (atom, quoted string, comment, domain
 * literal) and any token from a following "<".
 * tok822_internalize - the same, but atoms and quoted strings are written
 * as their bare content, domain literals without escaping.
 * Both return 0, or -1 when out's maximum would be exceeded (out is then
 * partly filled). */
int tok822_externalize(struct buf *out, const struct tok822_list *list,
    size_t from, size_t to);
int tok822_internalize(struct buf *out, const struct tok822_list *list,
    size_t from, size_t to);

#endif

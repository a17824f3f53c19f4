/* SPDX-License-Identifier: MIT */
/* sendmail_addr - address lists as sendmail reads them: command-line
 * recipients ("a@b, Joe <c@d>") and the To/Cc/Bcc headers for -t.
 *
 * The tokens come from tok822 (RFC 822 lexical rules); this file only
 * walks them: a comma or a group's ";" ends an address, a "name:" at the
 * top level opens a group (the name is dropped), "<...>" replaces the
 * display name before it, a source route "@a,@b:" inside brackets is
 * dropped, comments are ignored.  The result is the internal form: quoted
 * strings and atoms as their content, domain literals in brackets, no
 * white space. */
#include "postino_config.h"

#include <string.h>

#include "buf.h"
#include "maildrop.h"
#include "sendmail.h"
#include "tok822.h"

/* emit - the tokens [from, to) as one internal-form address. */
static int
emit(const struct tok822_list *list, size_t from, size_t to,
    void (*fn)(const char *, void *), void *ctx, const char **bad_r)
{
	struct buf *b = buf_new(64, MAILDROP_MAX_ADDR + 1);
	int bad = 0;

	for (size_t i = from; i < to && !bad; i++) {
		const struct tok822 *t = list->tok + i;
		const char *text = buf_str(list->text) + t->off;

		switch (t->type) {
		case TOK822_COMMENT:
			break;
		case TOK822_ATOM:
		case TOK822_QSTRING:
			bad = buf_append(b, text, t->len) < 0;
			break;
		case TOK822_DOMLIT:
			bad = buf_putc(b, '[') < 0 || buf_append(b, text, t->len) < 0
			    || buf_putc(b, ']') < 0;
			break;
		default:
			bad = buf_putc(b, t->type) < 0;
			break;
		}
	}
	if (bad) {
		*bad_r = "address too long";
		buf_free(&b);
		return -1;
	}
	for (size_t i = 0; i < buf_len(b); i++) {
		unsigned char c = (unsigned char)buf_str(b)[i];

		if (c < 0x20 || c == 0x7f) {
			*bad_r = "control character in address";
			buf_free(&b);
			return -1;
		}
	}
	if (buf_len(b) == 0) {
		buf_free(&b);
		return 0;
	}
	fn(buf_str(b), ctx);
	buf_free(&b);
	return 1;
}

int
sendmail_addr_list(const char *text, void (*fn)(const char *, void *),
    void *ctx, const char **bad_r)
{
	struct tok822_list *list = tok822_list_new();
	size_t start = 0, i, n;
	int count = 0, r;
	long angle = -1;	/* index of an open "<", -1 if none */

	n = tok822_scan(list, text);
	for (i = 0; i <= n; i++) {
		int type = i < n ? list->tok[i].type : ',';

		if (angle >= 0) {
			if (type == '>' || i == n) {
				r = emit(list, (size_t)angle + 1, i, fn, ctx, bad_r);
				if (r < 0)
					goto bad;
				count += r;
				angle = -1;
				/* Skip to the end of this address. */
				while (i + 1 < n && list->tok[i + 1].type != ','
				    && list->tok[i + 1].type != ';')
					i++;
				start = i + 1;
			} else if (type == ':') {
				angle = (long)i;	/* drop a source route */
			}
			continue;
		}
		switch (type) {
		case '<':
			angle = (long)i;
			break;
		case ':':
			start = i + 1;		/* a group's name */
			break;
		case ',':
		case ';':
			r = emit(list, start, i, fn, ctx, bad_r);
			if (r < 0)
				goto bad;
			count += r;
			start = i + 1;
			break;
		default:
			break;
		}
	}
	tok822_list_free(&list);
	return count;
bad:
	tok822_list_free(&list);
	return -1;
}

/* SPDX-License-Identifier: MIT */
/* hdr_addr - address rewriting in message headers, as Postfix does it
 * (hdr_addr.h): cleanup's canonical mapping and masquerading of the
 * header addresses, the smtp client's smtp_generic_maps.
 *
 * Which headers: the sender headers (From, Sender, Reply-To, Errors-To,
 * Return-Receipt-To and their Resent- forms) and the recipient headers
 * (To, Cc, Bcc, Apparently-To, Resent-To, Resent-Cc, Resent-Bcc).
 *
 * How: the header value is split into RFC 822 tokens (tok822.h); each
 * mailbox -- the part in "<...>" (without a source route), or a bare
 * address between commas -- is rewritten in internal form by the
 * caller's function and put back quoted as needed; display names,
 * comments and groups stay.  A header in which nothing changed is left
 * alone; one that changed is written out again from its tokens, with
 * Postfix's spacing and folding (header_value). */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr_parse.h"
#include "buf.h"
#include "hdr_addr.h"
#include "mymalloc.h"
#include "stringops.h"
#include "tok822.h"

#define HDR_LINE_MAX	70	/* a folded line stays shorter (Postfix) */

static const char *const sender_headers[] = {
	"from", "sender", "reply-to", "errors-to", "return-receipt-to",
	"resent-from", "resent-sender", "resent-reply-to", NULL,
};
static const char *const rcpt_headers[] = {
	"to", "cc", "bcc", "apparently-to", "resent-to", "resent-cc",
	"resent-bcc", NULL,
};

int
hdr_addr_kind(const char *name, size_t len)
{
	for (int i = 0; sender_headers[i]; i++)
		if (strlen(sender_headers[i]) == len
		    && strncasecmp(name, sender_headers[i], len) == 0)
			return 1;
	for (int i = 0; rcpt_headers[i]; i++)
		if (strlen(rcpt_headers[i]) == len
		    && strncasecmp(name, rcpt_headers[i], len) == 0)
			return 0;
	return -1;
}

/* One mailbox found in the token list. */
struct hdr_mailbox {
	size_t from, to;	/* its tokens [from, to), replaced together */
	size_t addr_from;	/* the address itself (after a source
				 * route, which the rewritten form drops) */
	int bare;		/* not in <>: keep the comments of the range */
	char *external;		/* the rewritten address, external form */
};

/* rewrite_one - the rewritten external form of the mailbox tokens
 * [from, to) (comments skipped), or NULL when unchanged; *fail set when
 * a table failed. */
static char *
rewrite_one(const struct tok822_list *list, size_t from, size_t to,
    int sender, const char *domain, hdr_addr_fn fn, void *ctx, int *fail)
{
	struct buf *b = buf_new(64, BUF_NOLIMIT);
	char *addr, *done, *ext = NULL;

	for (size_t i = from; i < to; i++)
		if (list->tok[i].type != TOK822_COMMENT)
			(void)tok822_internalize(b, list, i, i + 1);
	if (buf_len(b) == 0) {
		buf_free(&b);
		return NULL;
	}
	if (strchr(buf_str(b), '@') == NULL && domain != NULL)
		addr = concatenate(buf_str(b), "@", domain, (char *)0);
	else
		addr = xstrdup(buf_str(b));
	if ((done = fn(ctx, addr, sender)) == NULL) {
		*fail = 1;
	} else if (strcmp(done, buf_str(b)) != 0) {
		ext = addr_parse_externalize(done);
	}
	free(done);
	free(addr);
	buf_free(&b);
	return ext;
}

/* append_token - token i of src, appended to dst. */
static void
append_token(struct tok822_list *dst, const struct tok822_list *src,
    size_t i)
{
	struct buf *one = buf_new(32, BUF_NOLIMIT);

	(void)tok822_externalize(one, src, i, i + 1);
	(void)tok822_scan(dst, buf_str(one));
	buf_free(&one);
}

/* header_value - the tokens written out as Postfix writes a rewritten
 * address header: a space after a group's ":", a new line after every
 * comma, then lines joined again with a space while the joined line
 * stays under HDR_LINE_MAX characters (counted from the start of the
 * header, name_len for "Name: "); the others start with a TAB. */
static char *
header_value(const struct tok822_list *list, size_t name_len)
{
	struct buf *raw = buf_new(128, BUF_NOLIMIT);
	struct buf *out = buf_new(128, BUF_NOLIMIT);
	size_t seg = 0, line_len = name_len;
	int angle = 0, first = 1;
	char *piece, *next, *end;

	for (size_t k = 0; k <= list->count; k++) {
		int type = k < list->count ? list->tok[k].type : 0;

		if (type == '<')
			angle = 1;
		else if (type == '>')
			angle = 0;
		if (k < list->count && (angle || (type != ',' && type != ':')))
			continue;
		(void)tok822_externalize(raw, list, seg, k);
		if (type == ',')
			buf_puts(raw, ",\n");
		else if (type == ':')
			buf_puts(raw, ": ");
		seg = k + 1;
	}
	for (piece = raw->data; piece && *piece; piece = next) {
		size_t len;

		end = strchr(piece, '\n');
		next = end ? end + 1 : NULL;
		len = end ? (size_t)(end - piece) : strlen(piece);
		if (first) {
			line_len += len;
			first = 0;
		} else if (line_len + 1 + len < HDR_LINE_MAX) {
			buf_putc(out, ' ');
			line_len += 1 + len;
		} else {
			buf_puts(out, "\n\t");
			line_len = 1 + len;
		}
		buf_append(out, piece, len);
	}
	piece = xstrdup(buf_str(out));
	buf_free(&raw);
	buf_free(&out);
	return piece;
}

char *
hdr_addr_rewrite(const char *text, const char *domain, hdr_addr_fn fn,
    void *ctx, int *fail_r)
{
	const char *colon = strchr(text, ':');
	struct tok822_list *list, *out;
	struct hdr_mailbox *boxes = NULL;
	size_t n, i, nboxes = 0;
	int kind, fail = 0, changed = 0;
	char *result = NULL;

	*fail_r = 0;
	if (colon == NULL
	    || (kind = hdr_addr_kind(text, (size_t)(colon - text))) < 0)
		return NULL;

	list = tok822_list_new();
	n = tok822_scan(list, colon + 1);
	/* The mailboxes: "<...>" (after any source route), or the tokens
	 * of an address between separators; "name:" opens a group. */
	for (i = 0; i < n; ) {
		size_t seg = i;
		long open = -1, close = -1;
		int sep;

		while (i < n) {
			int t = list->tok[i].type;

			if (t == '<' && open < 0) {
				open = (long)i;
				while (i < n && list->tok[i].type != '>')
					i++;
				close = (long)i;
				if (i < n)
					i++;
				continue;
			}
			if (t == ',' || t == ';' || t == ':')
				break;
			i++;
		}
		sep = i < n ? list->tok[i].type : 0;
		if (sep == ':' && open < 0) {
			i++;			/* a group's name */
			continue;
		}
		boxes = xreallocarray(boxes, nboxes + 1, sizeof(*boxes));
		if (open >= 0) {
			size_t from = (size_t)open + 1;

			boxes[nboxes].from = from;
			for (size_t k = from; k < (size_t)close; k++)
				if (list->tok[k].type == ':')
					from = k + 1;	/* a source route */
			boxes[nboxes].addr_from = from;
			boxes[nboxes].to = (size_t)close;
			boxes[nboxes].bare = 0;
		} else {
			boxes[nboxes].from = boxes[nboxes].addr_from = seg;
			boxes[nboxes].to = i;
			boxes[nboxes].bare = 1;
		}
		boxes[nboxes].external = rewrite_one(list, boxes[nboxes].addr_from,
		    boxes[nboxes].to, kind, domain, fn, ctx, &fail);
		if (boxes[nboxes].external)
			changed = 1;
		nboxes++;
		if (i < n)
			i++;
	}

	if (changed && !fail) {
		size_t name_len = (size_t)(colon - text) + 2;
		struct hdr_mailbox **at = xcalloc(n + 1, sizeof(*at));
		char *folded;

		/* Token index -> the changed mailbox that starts there. */
		for (size_t k = 0; k < nboxes; k++)
			if (boxes[k].external && boxes[k].from < boxes[k].to)
				at[boxes[k].from] = &boxes[k];
		out = tok822_list_new();
		for (i = 0; i < n; ) {
			struct hdr_mailbox *box = at[i];

			if (box == NULL) {
				append_token(out, list, i++);
				continue;
			}
			(void)tok822_scan(out, box->external);
			if (box->bare)
				for (size_t k = box->from; k < box->to; k++)
					if (list->tok[k].type == TOK822_COMMENT)
						append_token(out, list, k);
			i = box->to;
		}
		free(at);
		folded = header_value(out, name_len);
		result = xmalloc((size_t)(colon - text) + strlen(folded) + 3);
		memcpy(result, text, (size_t)(colon - text));
		strcpy(result + (colon - text), ": ");
		strcat(result, folded);
		free(folded);
		tok822_list_free(&out);
	}
	for (i = 0; i < nboxes; i++)
		free(boxes[i].external);
	free(boxes);
	tok822_list_free(&list);
	*fail_r = fail;
	return result;
}

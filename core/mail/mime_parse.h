/* SPDX-License-Identifier: MIT */
/* mime_parse - the MIME structure of a message read line by line, as
 * Postfix's MIME processor sees it, so that cleanup (and postmap -m) can
 * tell each header line's class:
 *  - the primary headers;
 *  - the headers of a multipart body part (MIME_BLOCK_PART);
 *  - the headers of an attached message (MIME_BLOCK_NESTED): message/
 *    types that hold a message (not partial or external-body), whatever
 *    their Content-Transfer-Encoding says (as Postfix), and the parts of
 *    a multipart/digest that name no type.
 * Everything else is body; boundary lines are body lines.
 *
 * A body line is a boundary when it starts with "--" and the boundary
 * of an open multipart (the innermost that matches; compared over
 * boundary_limit bytes): it closes the levels opened inside that
 * multipart, and "--" right after the boundary closes the multipart
 * itself.  A Content-Type that opens a multipart inside more levels than
 * Postfix allows for nesting_limit stops the parsing: the rest is body,
 * and the caller decides whether that refuses the message.  Attached
 * messages are no levels (as in Postfix), so the stack never holds more
 * than nesting_limit + 2 boundaries.
 *
 * The caller collects logical headers (a line and its continuation
 * lines) and feeds each to mime_parse_header(); at the blank line (or
 * the first line that is not a header) it calls mime_parse_block_end();
 * each body line goes to mime_parse_boundary() first. */
#ifndef POSTINO_MAIL_MIME_PARSE_H
#define POSTINO_MAIL_MIME_PARSE_H

#include <stddef.h>

#define MIME_BLOCK_BODY		0	/* body text (or the primary headers) */
#define MIME_BLOCK_PART		1	/* headers of a multipart body part */
#define MIME_BLOCK_NESTED	2	/* headers of an attached message */

#define MIME_CTYPE_OTHER	0
#define MIME_CTYPE_MULTIPART	1
#define MIME_CTYPE_MESSAGE	2	/* a message/ type that holds a
					 * message */

struct mime_parse_level {
	char *boundary;			/* of a multipart */
	int digest;			/* multipart/digest */
};

struct mime_parse {
	int block;			/* MIME_BLOCK_*: what the next header
					 * lines are */
	int off;			/* no (more) parsing: all body */
	long nesting_limit;
	long boundary_limit;
	/* What the headers of the current block say. */
	int ctype;			/* MIME_CTYPE_* */
	int ctype_seen;
	int digest;
	char *boundary;
	int parent_digest;		/* the part is in a multipart/digest */
	struct mime_parse_level *levels;
	int nlevels;
	int cap;
};

/* mime_parse_init - a new message; disabled: everything after the
 * primary headers is body (disable_mime_input_processing). */
void mime_parse_init(struct mime_parse *m, int disabled, long nesting_limit,
    long boundary_limit);

/* mime_parse_header_name_len - the length of the field name if line is
 * a header line ("Name:" or "Name :"), else 0. */
size_t mime_parse_header_name_len(const char *line, size_t len);

/* mime_parse_is_mime_header - is the header named text[0..nlen) one of
 * Content-Type, Content-Transfer-Encoding, Content-Disposition,
 * Content-Description, Content-ID and MIME-Version? */
int mime_parse_is_mime_header(const char *text, size_t nlen);

/* mime_parse_header - a logical header of the current block, its name
 * nlen bytes: notes what Content-Type says.  Returns -1 when it opens a
 * multipart nested too deep (parsing stops there), else 0. */
int mime_parse_header(struct mime_parse *m, const char *text, size_t nlen);

/* mime_parse_block_end - the current header block ended, at a blank
 * line or not; opens what its Content-Type announces (m->block becomes
 * MIME_BLOCK_NESTED when an attached message's headers follow). */
void mime_parse_block_end(struct mime_parse *m, int blank_line);

/* mime_parse_boundary - is this body line a boundary of an open
 * multipart?  Then m->block says what follows it. */
int mime_parse_boundary(struct mime_parse *m, const char *line, size_t len);

void mime_parse_free(struct mime_parse *m);

#endif

/* SPDX-License-Identifier: MIT */
/* hbc - header and body checks outside cleanup: a message read line by
 * line into logical headers of each class and body lines (as cleanup and
 * Postfix's MIME processor read it: mime_parse.h), and the four check
 * tables of one program with the actions a delivery agent can take.
 *
 * Used by the smtp/lmtp client (smtp_header_checks, smtp_mime_header_
 * checks, smtp_nested_header_checks, smtp_body_checks) and by postmap -q -
 * with -h/-b/-m. */
#ifndef POSTINO_MAIL_HBC_H
#define POSTINO_MAIL_HBC_H

#include <stddef.h>

#include "maps.h"
#include "mime_parse.h"

struct buf;

/* The class of a logical header, which says which table checks it. */
enum hbc_class {
	HBC_HEADER,			/* a primary header (header_checks) */
	HBC_MIME,			/* a MIME header, or any header of a
					 * body part (mime_header_checks) */
	HBC_NESTED,			/* a non-MIME header of an attached
					 * message (nested_header_checks) */
};

/* The walker.  header() gets each logical header (continuation lines
 * joined with "\n", no final newline), body() each body line (without
 * its newline; both NUL-terminated; the blank line that ends a header block is a body line;
 * when the primary headers end without a blank line, body() gets an
 * empty line first, as Postfix inserts one). */
struct hbc_walk {
	struct mime_parse mime;
	struct buf *hdr;		/* the logical header being collected */
	struct buf *line;		/* the body line, NUL-terminated */
	int pending;			/* ... hdr holds one */
	int primary;			/* in the primary headers */
	void (*header)(void *ctx, enum hbc_class cls, const char *text,
	    size_t len);
	void (*body)(void *ctx, const char *line, size_t len);
	void *ctx;
};

/* hbc_walk_init - a new message; mime_disabled: everything after the
 * primary headers is body (disable_mime_input_processing). */
void hbc_walk_init(struct hbc_walk *w, int mime_disabled,
    void (*header)(void *, enum hbc_class, const char *, size_t),
    void (*body)(void *, const char *, size_t), void *ctx);
/* hbc_walk_line - one line of the message, without its newline. */
void hbc_walk_line(struct hbc_walk *w, const char *line, size_t len);
/* hbc_walk_end - the end of the message (a header being collected is
 * passed on); frees what the walker holds. */
void hbc_walk_end(struct hbc_walk *w);

/* The check tables of one program: by enum hbc_class, then body. */
struct hbc_maps {
	struct maps list[4];
};

#define HBC_BODY	3		/* the index of the body tables */

/* hbc_maps_open - open the tables named by the four parameters (header,
 * mime, nested, body; their values in values[]).  A table that does not
 * open is logged and answers every lookup with a temporary failure, so
 * the mail waits rather than going out uninspected. */
void hbc_maps_open(struct hbc_maps *maps, const char *const params[4],
    const char *const values[4]);
/* hbc_maps_any - is any table configured? */
int hbc_maps_any(const struct hbc_maps *maps);
void hbc_maps_close(struct hbc_maps *maps);

/* The actions a delivery agent supports (header_checks(5): the ones that
 * change neither destination nor delivery time). */
enum hbc_act {
	HBC_KEEP,			/* no match, DUNNO, OK, WARN, INFO */
	HBC_DROP,			/* IGNORE, STRIP */
	HBC_REPLACE,			/* REPLACE text */
	HBC_PREPEND,			/* PREPEND text */
	HBC_TEMPFAIL,			/* the table lookup failed */
};

/* What a check did, for the caller's log line (NULL fields: nothing to
 * log). */
struct hbc_result {
	enum hbc_act act;
	char *text;			/* REPLACE/PREPEND text (malloc'd) */
	const char *log_action;		/* "warning", "info", "replace",
					 * "prepend", "strip" (NULL: none) */
	char *log_text;			/* the action's optional text */
	char *problem;			/* a warning about the table entry
					 * (unsupported action, bad text) or
					 * the failed lookup */
};

/* hbc_check - look content up in the tables of class idx (an enum
 * hbc_class, or HBC_BODY); header: content is a header (REPLACE and
 * PREPEND text must then be a header).  Free the result with
 * hbc_result_free. */
void hbc_check(const struct hbc_maps *maps, int idx, const char *content,
    int header, struct hbc_result *r);
void hbc_result_free(struct hbc_result *r);

#endif

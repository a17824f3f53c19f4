/* SPDX-License-Identifier: MIT */
/* maildrop - the record stream of a local submission: what sendmail
 * writes to postdrop's standard input, what postdrop stores as
 * $queue_directory/maildrop/ID, and what pickup reads back.
 *
 * Framing is the queue file's (qfile.h): a type byte, a 4-byte
 * big-endian payload length, the payload.  The records, in this order:
 *
 *	V	"1" (format version), exactly once, first
 *	A*	attribute "name=value"; only the names maildrop_attr_ok()
 *		accepts (full_name, dsn_envid, dsn_ret, dsn_notify,
 *		body_type)
 *	S	envelope sender, internal form ("" = null sender), once
 *	R*	envelope recipient, internal form, at least one
 *	L*	one content line without its line end (headers, blank line,
 *		body; no dot-stuffing)
 *	C	a piece of a content line that goes on in the next record:
 *		a line longer than MAILDROP_MAX_RECORD is written as C
 *		records followed by one L record with its last piece; a
 *		reader joins them, so that a long line (a header above
 *		all) is never cut into two lines
 *	E	end marker (empty payload), last: nothing may follow it
 *
 * Limits: a record payload is at most MAILDROP_MAX_RECORD bytes (a
 * longer content line goes in C records, then L), an address at most
 * MAILDROP_MAX_ADDR, an attribute at most MAILDROP_MAX_ATTR; A, S and R
 * payloads contain no control characters; at most MAILDROP_MAX_RCPT
 * recipients.  The stream comes from an untrusted user: every reader
 * checks all of this (maildrop_check) and refuses the whole submission
 * on the first violation, with a one-line reason naming the record. */
#ifndef POSTINO_MAIL_MAILDROP_H
#define POSTINO_MAIL_MAILDROP_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

#define MAILDROP_REC_VERSION	'V'
#define MAILDROP_REC_ATTR	'A'
#define MAILDROP_REC_SENDER	'S'
#define MAILDROP_REC_RCPT	'R'
#define MAILDROP_REC_LINE	'L'
#define MAILDROP_REC_CONT	'C'
#define MAILDROP_REC_END	'E'

#define MAILDROP_VERSION	"1"
#define MAILDROP_HDR_LEN	5
#define MAILDROP_MAX_RECORD	(256 * 1024)
#define MAILDROP_MAX_ADDR	1024
#define MAILDROP_MAX_ATTR	1024
#define MAILDROP_MAX_RCPT	100000

/* maildrop_put - write one record to fp; 0 or -1 (errno; ferror(fp)). */
int maildrop_put(FILE *fp, int type, const void *data, size_t len);
int maildrop_put_str(FILE *fp, int type, const char *str);
/* maildrop_put_line - a content line of any length: C records of
 * MAILDROP_MAX_RECORD bytes while more than that is left, then one L
 * record.  0 or -1. */
int maildrop_put_line(FILE *fp, const char *line, size_t len);

/* maildrop_get - read one record from fp into payload (reset first; NUL
 * terminated, but the payload may hold NUL bytes: use buf_len).
 * Returns the record type (> 0), 0 at a clean end of input (no byte of
 * a new record), or -1 with *err_r (static text: "truncated record
 * header", "record length N exceeds limit", "read error: ...") for a
 * damaged stream.  *count_r (may be NULL) is increased by the bytes
 * read. */
int maildrop_get(FILE *fp, struct buf *payload, const char **err_r,
    size_t *count_r);

/* Validation state: one per stream; zero-initialise, then feed every
 * record to maildrop_check in order and call maildrop_check_end at the
 * end of input. */
struct maildrop_check {
	int state;		/* last section seen */
	long records;
	long rcpts;
	int saw_sender;
	int in_cont;		/* the last record was a C record */
	char err[160];		/* the reason, after a -1 */
};

/* maildrop_check - is this record allowed here?  0, or -1 with the
 * reason in mc->err ("record 7: unexpected type 'X'", ...). */
int maildrop_check(struct maildrop_check *mc, int type,
    const char *payload, size_t len);
/* maildrop_check_end - is the stream complete (E seen)?  0 or -1. */
int maildrop_check_end(struct maildrop_check *mc);

/* maildrop_attr_ok - is "name=value" a permitted attribute with a
 * well-formed value?  1 or 0. */
int maildrop_attr_ok(const char *nameval);

/* maildrop_valid_id - is this a maildrop file name ([0-9A-F]+, at most
 * 40 characters)?  1 or 0. */
int maildrop_valid_id(const char *name);

#endif

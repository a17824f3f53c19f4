/* SPDX-License-Identifier: MIT */
/* smtpd_line - SMTP input framing: the client's bytes split into command
 * lines and content lines (core/smtpd/smtpd_line.c).
 *
 * A line ends at LF; a CR before it is removed and reported (crlf), so
 * that the DATA code can tell CR LF from a bare LF (smtpd_data.c).
 * Command lines are bounded by line_length_limit: a longer one is
 * dropped whole up to its end and answered with one 500 (whatever
 * follows a cut is never taken for a command), and one with more than
 * SMTPD_LINE_MAX_SKIP bytes ends the session.  Content lines longer than
 * SMTPD_DATA_PIECE are passed on in pieces as they arrive.
 *
 * Kept apart from smtpd.c (the process and its listeners) so that the
 * fuzz target (tests/fuzz/fuzz_smtpd_cmd.c) links this very file. */
#ifndef POSTINO_SMTPD_SMTPD_LINE_H
#define POSTINO_SMTPD_SMTPD_LINE_H

#include <stddef.h>

#include <event2/buffer.h>

/* A command line longer than this (not kept, only counted) ends the
 * session: nobody sends a megabyte of command by mistake. */
#define SMTPD_LINE_MAX_SKIP	(1024 * 1024)

/* The framing state of one session's input. */
struct smtpd_line {
	/* How much of the input is known to hold no LF (a long line that
	 * arrives in small reads is searched once, not once per read). */
	size_t scanned;
	int skipping;		/* dropping a command line too long to keep */
	char skip_last;		/* last byte dropped */
	size_t skipped;		/* bytes dropped so far */
};

/* Results. */
#define SMTPD_LINE_MORE		0	/* nothing complete: read more */
#define SMTPD_LINE_OK		1	/* a line: *line_r (malloc'd) */
#define SMTPD_LINE_PIECE	2	/* the next piece of a long content line */
#define SMTPD_LINE_LONG		3	/* a command line too long was dropped */
#define SMTPD_LINE_ABUSE	4	/* more than SMTPD_LINE_MAX_SKIP bytes
					 * of one command line */

/* smtpd_line_command - the next command line of at most max bytes
 * (without its line end; *crlf_r tells whether it ended in CR LF). */
int smtpd_line_command(struct smtpd_line *st, struct evbuffer *in,
    size_t max, char **line_r, size_t *len_r, int *crlf_r);

/* smtpd_line_data - the next content line, or SMTPD_LINE_PIECE: the
 * first SMTPD_DATA_PIECE bytes (one less when they end in CR, which may
 * start the line end) of a line too long to hold whole; its end comes
 * later as SMTPD_LINE_OK. */
int smtpd_line_data(struct smtpd_line *st, struct evbuffer *in,
    char **line_r, size_t *len_r, int *crlf_r);

#endif

/* SPDX-License-Identifier: MIT */
/* sendmail - the pieces of the sendmail command shared by its files:
 * sendmail.c (options and modes), sendmail_msg.c (one submission:
 * header scan, -t, Bcc removal, the hand-over to postdrop),
 * sendmail_addr.c (address lists from arguments and headers),
 * sendmail_smtp.c (-bs). */
#ifndef POSTINO_CMD_SENDMAIL_H
#define POSTINO_CMD_SENDMAIL_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/* The envelope options of a submission (from the command line, or from
 * MAIL/RCPT in -bs mode). */
struct sendmail_opts {
	char *sender;		/* internal form; "" = null sender */
	char **rcpt;		/* internal form */
	int rcpt_count;
	int extract;		/* -t: recipients from the headers */
	int dot_ends;		/* a lone "." line ends the input (no -i) */
	const char *full_name;	/* -F or $NAME, sanitised; NULL if none */
	const char *envid;	/* -V */
	const char *ret;	/* -R: FULL or HDRS */
	int notify;		/* -N: DSN_NOTIFY_* bits, 0 = default */
	const char *body_type;	/* -B: 7BIT or 8BITMIME */
	int verify_report;	/* -bv: a report request, no message */
};

/* sendmail_opts_add_rcpt - append one recipient (copied). */
void sendmail_opts_add_rcpt(struct sendmail_opts *o, const char *addr);

/* sendmail_addr_list - parse an RFC 5322 address list ("Joe <a@b>, c@d,
 * group: e@f;") and call fn with each address in internal form (quotes
 * removed, no comments, no display names; empty addresses skipped).
 * Returns the number of addresses, or -1 when one of them has control
 * characters or is longer than the maildrop limit (fn is not called for
 * it; *bad_r then points to static text naming the problem). */
int sendmail_addr_list(const char *text,
    void (*fn)(const char *addr, void *ctx), void *ctx, const char **bad_r);

/* One submission, fed line by line. */
struct sendmail_msg;

/* sendmail_msg_new - start a submission with these options (the struct
 * is used, not copied, until sendmail_msg_free). */
struct sendmail_msg *sendmail_msg_new(struct sendmail_opts *o);
/* sendmail_msg_line - one input line without its LF, or a piece of a
 * long line: more says that the line goes on in the next call (a
 * trailing CR is removed here, at the end of a line).  Returns 0, or a
 * sysexits status with *err_r (static text) when the submission
 * failed: the caller stops feeding and calls sendmail_msg_free. */
int sendmail_msg_line(struct sendmail_msg *m, const char *line, size_t len,
    int more, const char **err_r);
/* sendmail_msg_finish - end of input: hand everything to postdrop and
 * wait for it.  Returns 0 with *id_r (the maildrop queue ID, static
 * until the next call), or a sysexits status with *err_r. */
int sendmail_msg_finish(struct sendmail_msg *m, const char **id_r,
    const char **err_r);
void sendmail_msg_free(struct sendmail_msg **mp);

/* sendmail_read_line - read one line from fp into line (without LF; at
 * most max bytes: a longer line comes back in pieces, *more_r set on
 * each piece but the last).  Returns 1, or 0 at end of input with
 * nothing read. */
int sendmail_read_line(FILE *fp, struct buf *line, size_t max, int *more_r);

/* sendmail_smtp - the -bs dialogue on stdin/stdout; returns the exit
 * status. */
int sendmail_smtp(struct sendmail_opts *defaults);

#endif

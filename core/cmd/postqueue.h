/* SPDX-License-Identifier: MIT */
/* postqueue - internals of the postqueue(1) command (and mailq). */
#ifndef POSTINO_CMD_POSTQUEUE_H
#define POSTINO_CMD_POSTQUEUE_H

#define POSTQUEUE_TEXT	0	/* -p: Postfix's mailq layout */
#define POSTQUEUE_JSON	1	/* -j: one JSON object per message */

/* postqueue_show - list every message of maildrop, active, incoming,
 * deferred and hold on standard output in the given format.  Reads the
 * queue directly: a queue directory the caller may not read is fatal
 * (exit 77, the message says who may).  Returns 0. */
int postqueue_show(int format);

/* postqueue_valid_id - is name a queue ID ([0-9A-F]+, at most 40)? */
int postqueue_valid_id(const char *name);

#endif

/* SPDX-License-Identifier: MIT */
/* queue_list - the queue listing shared by postqueue (-p, -j, mailq)
 * and the showq daemon (one implementation of the layout). */
#ifndef POSTINO_MAIL_QUEUE_LIST_H
#define POSTINO_MAIL_QUEUE_LIST_H

#include <stdio.h>
#include <time.h>

#define QUEUE_LIST_TEXT	0	/* -p: Postfix's mailq layout */
#define QUEUE_LIST_JSON	1	/* -j: one JSON object per message */

/* queue_list_write - list every message of maildrop, active, incoming,
 * deferred and hold on fp in the given format.  deadline: stop with an
 * error after that time (0: none).  Returns 0, or -1 with *err_r (an
 * allocated text: a queue directory that cannot be read, a write error,
 * the deadline); the output may then be incomplete.  Never exits. */
int queue_list_write(FILE *fp, int format, time_t deadline, char **err_r);

/* queue_list_readable - may this process (real ids) read every queue
 * directory of the listing (a missing one counts as readable)? */
int queue_list_readable(void);

/* queue_list_valid_id - is name a queue ID ([0-9A-F]+, at most 40)? */
int queue_list_valid_id(const char *name);

#endif

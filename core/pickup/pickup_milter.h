/* SPDX-License-Identifier: MIT */
/* pickup_milter - non_smtpd_milters for local submissions (Postfix's
 * cleanup simulating an SMTP session for the milters, MILTER_README
 * "Non-SMTP Milter applications").  Private to pickup. */
#ifndef POSTINO_PICKUP_PICKUP_MILTER_H
#define POSTINO_PICKUP_PICKUP_MILTER_H

struct cleanup_state;
struct event_base;
struct pickup_milter;

/* pickup_milter_init - parse non_smtpd_milters once at start (fatal for
 * a malformed value); nothing when cleanup_flags lacks
 * CLEANUP_FLAG_MILTER (receive_override_options = no_milters). */
void pickup_milter_init(int cleanup_flags, struct event_base *base);

/* pickup_milter_envelope - the milters' view of st's envelope: a
 * connect from localhost[127.0.0.1], EHLO localhost, MAIL FROM sender,
 * RCPT for each recipient as submitted, DATA.  *pmp is the session
 * (NULL when there are no milters) for pickup_milter_content.  Returns
 * 0 to go on (a discard or hold is noted in st), or -1 with *reply_r
 * (malloc'd "5XX X.Y.Z text" or "4XX X.Y.Z text"): the message must
 * not be queued.  Runs in pickup's task: waits on the loop, each step
 * bounded by the milter timeouts.  Logs Postfix's milter-reject,
 * milter-discard and milter-hold lines (as cleanup). */
int pickup_milter_envelope(struct pickup_milter **pmp,
    struct cleanup_state *st, const char *sender, char *const *rcpt,
    int rcpt_count, char **reply_r);

/* pickup_milter_content - after the content went to st: headers, body
 * and end of message; the milters' changes (headers, body, sender,
 * recipients) are applied to st before cleanup_finish.  Returns as
 * pickup_milter_envelope.  pm may be NULL (nothing to do). */
int pickup_milter_content(struct pickup_milter *pm, char **reply_r);

/* pickup_milter_free - end the session (QUIT to the milters; never
 * waits). */
void pickup_milter_free(struct pickup_milter **pmp);

#endif

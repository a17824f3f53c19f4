/* SPDX-License-Identifier: MIT */
/* cleanup - turn an envelope and content into a durable queue file (the
 * work of Postfix's cleanup(8), as a library used by smtpd and pickup).
 *
 * Sequence: cleanup_open; cleanup_set_attr* (client_address, client_name,
 * helo, protocol, dsn_envid, dsn_ret); cleanup_set_sender; cleanup_add_rcpt*;
 * cleanup_line* (one call per content line, without its line terminator,
 * headers first, dot-unstuffed); cleanup_finish.
 *
 * cleanup applies sender/recipient canonical maps, virtual alias
 * expansion (recursion and limits as Postfix), header_checks and
 * body_checks (REJECT, IGNORE, WARN, HOLD, DISCARD, REPLACE, PREPEND,
 * REDIRECT), adds missing Message-ID, Date, From (and To: when there is
 * no recipient header: "undisclosed-recipients:;"), enforces
 * message_size_limit and hopcount_limit, writes incoming/ID durably
 * (qfile.h write protocol, fsync of file and directory), and pokes qmgr.
 *
 * Thread use: a cleanup_state is used by one thread at a time;
 * cleanup_finish may be called from a worker thread (it blocks on fsync)
 * once cleanup_end_content ran on the daemon's own thread: the table
 * lookups (header checks, header rewriting) are done by then.
 * Logs as program "cleanup": "ID: message-id=<...>". */
#ifndef POSTINO_CLEANUP_CLEANUP_H
#define POSTINO_CLEANUP_CLEANUP_H

#include <stddef.h>

#define CLEANUP_STAT_OK		0
#define CLEANUP_STAT_BAD	(1 << 0)	/* internal error: 451 4.3.0 */
#define CLEANUP_STAT_WRITE	(1 << 1)	/* write error: 451 4.3.0; ENOSPC 452 4.3.1 */
#define CLEANUP_STAT_SIZE	(1 << 2)	/* too big: 552 5.3.4 */
#define CLEANUP_STAT_CONT	(1 << 3)	/* content rejected: reply text */
#define CLEANUP_STAT_HOPS	(1 << 4)	/* too many hops: 554 5.4.0 */
#define CLEANUP_STAT_RCPT	(1 << 5)	/* no recipients left */
#define CLEANUP_STAT_DEFER	(1 << 6)	/* temporary: 451 4.x.x reply text */
#define CLEANUP_STAT_NOSPACE	(1 << 7)	/* ENOSPC: 452 4.3.1 */

#define CLEANUP_FLAG_HOLD	(1 << 0)	/* put in hold/ (access HOLD) */
#define CLEANUP_FLAG_DISCARD	(1 << 1)	/* accept and drop (access DISCARD) */
#define CLEANUP_FLAG_FILTER	(1 << 2)	/* apply header/body checks (default) */
#define CLEANUP_FLAG_MAP_OK	(1 << 3)	/* apply canonical/virtual (default) */
#define CLEANUP_FLAG_BCC_OK	(1 << 4)	/* always_bcc, sender_ and recipient_
						 * bcc_maps: mail from outside
						 * (smtpd, pickup; default) */

#define CLEANUP_FLAG_MILTER	(1 << 5)	/* milters may inspect the mail
						 * (default) */

#define CLEANUP_FLAGS_DEFAULT	(CLEANUP_FLAG_FILTER | CLEANUP_FLAG_MAP_OK | \
				 CLEANUP_FLAG_BCC_OK | CLEANUP_FLAG_MILTER)

/* cleanup_input_flags - the flags for mail received from outside (smtpd,
 * pickup): CLEANUP_FLAGS_DEFAULT less what receive_override_options
 * turns off for this service: no_address_mappings (canonical, virtual
 * alias, masquerading, automatic BCC), no_header_body_checks,
 * no_milters.  *no_unknown_rcpt_r (may be NULL) is set for
 * no_unknown_recipient_checks (smtpd's).  A word it does not know is
 * fatal, naming the parameter. */
int cleanup_input_flags(int *no_unknown_rcpt_r);

struct cleanup_state;

/* cleanup_init - open the tables named in main.cf (canonical, virtual
 * alias, header/body checks) once per process; daemons use surrogates for
 * tables that cannot be opened (lookups then defer the mail). */
void cleanup_init(void);

/* cleanup_open - start a message: the queue file incoming/ID is created
 * now (so that smtpd can log "ID: client=...").  Never NULL: a creation
 * error is remembered and reported by cleanup_finish. */
struct cleanup_state *cleanup_open(int flags);
/* cleanup_queue_id - the queue ID ("NOQUEUE" if the file could not be
 * created); valid until cleanup_free. */
const char *cleanup_queue_id(const struct cleanup_state *st);
/* cleanup_status - CLEANUP_STAT_* so far (e.g. a DEFER from virtual alias
 * expansion at RCPT time). */
int cleanup_status(const struct cleanup_state *st);
/* cleanup_flags - add CLEANUP_FLAG_* later (e.g. HOLD from an access
 * map at RCPT). */
void cleanup_add_flags(struct cleanup_state *st, int flags);
/* cleanup_set_attr - a queue file attribute (client_address, client_name,
 * helo, protocol, dsn_envid, dsn_ret, sasl_username, full_name, and
 * rewrite_context = local|remote: whether missing headers are added,
 * per local_header_rewrite_clients; without it cleanup decides from
 * client_address: none = local submission, else permit_inet_interfaces,
 * permit_sasl_authenticated and static:all are honoured). */
void cleanup_set_attr(struct cleanup_state *st, const char *name,
    const char *value);
/* cleanup_set_sender - envelope sender ("" = null sender), external form. */
void cleanup_set_sender(struct cleanup_state *st, const char *sender);
/* cleanup_add_rcpt - one envelope recipient; orig_rcpt may be NULL;
 * dsn_notify is DSN_NOTIFY_* (qfile.h) or 0. */
void cleanup_add_rcpt(struct cleanup_state *st, const char *rcpt,
    const char *orig_rcpt, int dsn_notify);
/* cleanup_add_bcc - one more recipient (an smtpd access table's BCC
 * action), rewritten and expanded like the others, with no DSN
 * notification; duplicates are dropped. */
void cleanup_add_bcc(struct cleanup_state *st, const char *addr);
/* cleanup_set_redirect - deliver the message to addr only (an smtpd
 * access table's REDIRECT action); the last one wins. */
void cleanup_set_redirect(struct cleanup_state *st, const char *addr);
/* cleanup_set_filter - after the message is queued, qmgr sends it to
 * the content filter "transport:destination" (content_filter, or a FILTER
 * action of an access table or header/body check: the last one wins).
 * An empty destination: $default_filter_nexthop, else the recipient's
 * domain.  A value without "transport:" is logged and ignored; "" drops
 * an earlier one. */
void cleanup_set_filter(struct cleanup_state *st, const char *filter);
/* cleanup_prepend_header - a header line (e.g. from PREPEND actions or
 * smtpd's Received:) placed before the message's own headers. */
void cleanup_prepend_header(struct cleanup_state *st, const char *line);
/* cleanup_line - one content line without CR/LF.  Returns the current
 * status (non-zero: stop sending, the message will be refused). */
int cleanup_line(struct cleanup_state *st, const char *line, size_t len);
/* cleanup_line_piece - a content line too long to hold whole, in pieces
 * (first: the piece that starts it, last: the one that ends it; never a
 * whole line, which is cleanup_line's).  The result is the same as one
 * cleanup_line call with the whole line, except that header_size_limit
 * cuts a header line as usual and body_checks see each piece of a body
 * line (as Postfix's see each record of one).  Returns as cleanup_line. */
int cleanup_line_piece(struct cleanup_state *st, const char *data,
    size_t len, int first, int last);
/* cleanup_end_content - the content is complete: run what waits for its
 * end (the last header block's checks and rewriting, which may look up
 * tables).  cleanup_finish does it too when it was not done. */
void cleanup_end_content(struct cleanup_state *st);
/* Changes at the end of the message (milters; smtpd calls them after
 * cleanup_end_content, before cleanup_finish).  cleanup_content_copy -
 * the content as queued so far, malloc'd (*len_r bytes, NUL-terminated);
 * -1 when nothing will be queued (refused, failed).  cleanup_replace_content
 * - the message's content becomes data (headers, empty line, body; LF
 * line ends), as it is (no header checks).  cleanup_change_sender - the
 * envelope sender becomes sender (canonical mapping applies).
 * cleanup_del_rcpt - the recipients given as addr (as received, or as
 * rewritten) go.  New recipients: cleanup_add_rcpt.  cleanup_finish
 * writes the file again when any of these changed it. */
int cleanup_content_copy(struct cleanup_state *st, char **data_r,
    size_t *len_r);
void cleanup_replace_content(struct cleanup_state *st, const char *data,
    size_t len);
void cleanup_change_sender(struct cleanup_state *st, const char *sender);
void cleanup_del_rcpt(struct cleanup_state *st, const char *addr);

/* cleanup_finish - write and commit.  Returns CLEANUP_STAT_*; *queue_id_r
 * (valid until cleanup_free) is the ID on success; *reply_r is the
 * SMTP-style reply for non-OK status ("5.7.1 message content rejected"),
 * without the 3-digit code when cleanup has no opinion (NULL). */
/* The end-of-message changes of milters, on the message: the functions
 * of core/milter's struct milter_edit_ops, with the cleanup_state as
 * their context (smtpd and pickup pass them as they are).
 * cleanup_milter_header is milter_header_checks for a header a milter
 * adds or changes ("Name: value"): 0 keep it, 1 drop it, 2 store *repl_r
 * (malloc'd) instead; REJECT, DISCARD, HOLD, FILTER, REDIRECT and BCC act
 * on the message as header_checks do (PREPEND is not supported there,
 * as in Postfix). */
void cleanup_milter_chg_from(void *st, const char *sender, const char *args);
void cleanup_milter_add_rcpt(void *st, const char *rcpt, const char *args);
void cleanup_milter_del_rcpt(void *st, const char *rcpt);
int cleanup_milter_header(void *st, const char *header, char **repl_r);

int cleanup_finish(struct cleanup_state *st, const char **queue_id_r,
    const char **reply_r);
void cleanup_free(struct cleanup_state **stp);

/* cleanup_smtp_reply - map a status to "250 2.0.0 Ok: queued as ID" or
 * the matching error reply (451 4.3.0 ..., 552 5.3.4 ...); malloc'd. */
char *cleanup_smtp_reply(int status, const char *queue_id, const char *reply);

#endif

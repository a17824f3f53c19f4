/* SPDX-License-Identifier: MIT */
/* milter - the Sendmail 8 mail filter ("milter") protocol client, as
 * Postfix speaks it for smtpd_milters (MILTER_README, protocol 2 to 6).
 *
 * A list of milters (struct milter_list) is parsed once per process
 * from a parameter value ("inet:host:port, unix:/path, { inet:h:p,
 * connect_timeout=10s, default_action=accept, command_timeout=..,
 * content_timeout=.., protocol=6 }") and the milter_* parameters.  A
 * session (struct milters) holds one connection per milter; each SMTP
 * stage is an event sent to every milter in order, until one answers
 * with something other than "continue".
 *
 * Event results: NULL (go on), or a reply the caller acts on, valid
 * until the next call on the same session:
 *   "4XX X.Y.Z text" / "5XX X.Y.Z text"  refuse the command (a 421
 *                                        reply also ends the session);
 *   "D"                                  discard the message (accepted);
 *   "H"                                  hold the message (accepted).
 * A milter that cannot be reached, times out or breaks the protocol is
 * logged ("warning: milter NAME: ...") and its default_action applies
 * from then on for the session: accept (it is skipped), reject (550
 * 5.5.0 Service unavailable), tempfail (451 4.7.1), quarantine ("H").
 *
 * Waiting.  Inside a task (task.h) every connect, write and read waits
 * on the event base given to milters_new with task_event_wait(): the
 * loop serves everybody else.  Outside a task (tools, tests) the same
 * code waits with poll(), reported by task_blocking().  Abort and quit
 * expect no answer and never wait.
 *
 * Logs: warnings about milters; nothing about mail (the caller logs
 * milter-reject, milter-discard, milter-hold). */
#ifndef POSTINO_MILTER_MILTER_H
#define POSTINO_MILTER_MILTER_H

#include <stddef.h>

struct event_base;

/* Stages, numbered as the protocol's macro stages (SMFIM_*), and the
 * one postino adds for unknown commands. */
#define MILTER_ST_CONNECT	0
#define MILTER_ST_HELO		1
#define MILTER_ST_MAIL		2
#define MILTER_ST_RCPT		3
#define MILTER_ST_DATA		4
#define MILTER_ST_EOM		5
#define MILTER_ST_EOH		6
#define MILTER_ST_UNKNOWN	7
#define MILTER_STAGES		8

struct milter_list;
struct milters;

/* milter_list_parse - the milters of a parameter value (param names it
 * in messages); the timeouts, protocol, default action and macro lists
 * come from the milter_* parameters (bound with MAIL_VARS_MILTER) unless
 * a milter's { } options say otherwise.  NULL with *err_r (malloc'd)
 * for a malformed value; an empty value gives a list of no milters. */
struct milter_list *milter_list_parse(const char *value, const char *param,
    char **err_r);
/* milter_list_count - how many milters (0: nothing to do). */
int milter_list_count(const struct milter_list *list);
void milter_list_free(struct milter_list **listp);

/* milter_macro_fn - the value of a Sendmail macro ("i", "{client_addr}")
 * in the caller's context, or NULL when it has none.  The library
 * answers j, v, {daemon_name} itself. */
typedef const char *milter_macro_fn(void *ctx, const char *name);

/* milters_new - a session with the milters of list (which must outlive
 * it); nothing is connected until the first event. */
struct milters *milters_new(const struct milter_list *list,
    struct event_base *base, milter_macro_fn *macro, void *ctx);
/* milters_free - send QUIT to every connected milter and close (never
 * waits). */
void milters_free(struct milters **msp);

/* The SMTP events (may wait: see above).  family: '4', '6', 'L'
 * (local, port 0) or 'U' (unknown).  argv: the address with its angle
 * brackets, then the ESMTP parameters; NULL-terminated. */
const char *milters_connect(struct milters *ms, const char *client_name,
    int family, const char *addr, unsigned port);
const char *milters_helo(struct milters *ms, const char *helo);
const char *milters_mail(struct milters *ms, const char *const *argv);
const char *milters_rcpt(struct milters *ms, const char *const *argv);
const char *milters_data(struct milters *ms);
const char *milters_unknown(struct milters *ms, const char *command);
/* milters_abort - the transaction ended without end-of-message (RSET,
 * a new HELO, a refused DATA, ...): milters that saw MAIL forget it
 * (never waits). */
void milters_abort(struct milters *ms);

/* The changes milters may ask for at end of message besides headers and
 * body (which milters_message applies to the content itself).  Each may
 * be NULL (the request is then logged and ignored).  Addresses come
 * without angle brackets. */
struct milter_edit_ops {
	void (*chg_from)(void *ctx, const char *sender, const char *args);
	void (*add_rcpt)(void *ctx, const char *rcpt, const char *args);
	void (*del_rcpt)(void *ctx, const char *rcpt);
	/* header_check (milter_header_checks): a header a milter adds,
	 * inserts or changes, as "Name: value" (folded with LF), before it
	 * is stored: MILTER_HDR_KEEP, MILTER_HDR_DROP, or
	 * MILTER_HDR_REPLACE with *repl_r (malloc'd) the whole header to
	 * store instead. */
	int (*header_check)(void *ctx, const char *header, char **repl_r);
};

#define MILTER_HDR_KEEP		0
#define MILTER_HDR_DROP		1
#define MILTER_HDR_REPLACE	2

/* milters_message - headers, end of headers, body and end of message:
 * content is the message as queued (header lines, an empty line, the
 * body; lines end in LF).  own_received: the first Received: header is
 * the MTA's own, which milters do not see (as Postfix).  Milters see
 * each other's changes in order.
 * When headers or body changed, *content_r (malloc'd) and *len_r hold
 * the new content, else *content_r is NULL.  *hold_r is set to a
 * malloc'd reason when a milter quarantined the message (else NULL).
 * Returns as the other events; afterwards the transaction is over for
 * the milters. */
const char *milters_message(struct milters *ms, const char *content,
    size_t len, int own_received, const struct milter_edit_ops *ops,
    void *ctx, char **content_r, size_t *len_r, char **hold_r);

#endif

/* SPDX-License-Identifier: MIT */
/* smtpd - private declarations of the SMTP server (core/smtpd/).
 *
 * One process serves many sessions on one libevent loop.  Commands whose
 * checks may wait for another server run inside tasks (smtpd_task).  The
 * fsync that commits a queue file runs on a small thread pool
 * (smtpd_pool.c); its completion comes back to the loop.
 *
 * Files: smtpd.c (process, session life), smtpd_line.c (input framing,
 * a session's input loop), smtpd_proto.c (command table, dispatcher and
 * the commands), smtpd_data.c (DATA: dot-unstuffing, end-of-data
 * detection, bare LF policy), smtpd_peer.c (client name), smtpd_pool.c
 * (thread pool), smtpd_check.c (policy; see smtpd_check.h). */
#ifndef POSTINO_SMTPD_SMTPD_H
#define POSTINO_SMTPD_SMTPD_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/time.h>

#include "cleanup.h"
#include "smtpd_check.h"
#include "smtpd_line.h"

/* Session states. */
enum smtpd_state {
	SMTPD_ST_RESOLVE,	/* looking up the client name (no banner yet) */
	SMTPD_ST_CMD,		/* reading commands */
	SMTPD_ST_DATA,		/* reading message content */
	SMTPD_ST_COMMIT,	/* cleanup_finish running on the pool */
	SMTPD_ST_CLOSING,	/* flushing the last reply, then close */
};

/* Command statistics for the "disconnect from" line. */
enum smtpd_verb {
	SMTPD_V_HELO, SMTPD_V_EHLO, SMTPD_V_XCLIENT, SMTPD_V_XFORWARD, SMTPD_V_STARTTLS, SMTPD_V_AUTH, SMTPD_V_MAIL,
	SMTPD_V_RCPT, SMTPD_V_DATA,
	SMTPD_V_RSET, SMTPD_V_NOOP, SMTPD_V_VRFY, SMTPD_V_ETRN, SMTPD_V_QUIT,
	SMTPD_V_HELP,
	SMTPD_V_UNKNOWN, SMTPD_V_COUNT,
};

struct tls_peer;

struct smtpd_session {
	struct bufferevent *bev;
	struct event *timer;		/* smtpd_timeout, error sleep */
	enum smtpd_state state;
	int fd;
	char addr[64];			/* client address (IPv6 without []) */
	char port[16];
	char name[256];			/* verified name or "unknown" */
	char reverse_name[256];		/* PTR name (unverified) or "unknown" */
	int name_tempfail;		/* name lookups failed temporarily */
	int reverse_tempfail;
	int hangup;			/* HANGUP: closing without a reply */
	char *helo;
	char *access_denied;		/* the refusal at connect time */
	int esmtp;			/* EHLO seen (PIPELINING offered) */
	int in_pool;			/* a pool job holds this session */
	int in_task;			/* a task runs for it (smtpd_task) */
	int task_waited;		/* ... and had to wait */
	int dead;			/* closed: free when the pool job or
					 * the task is done */
	int logged_out;			/* "disconnect from" was logged */
	int anvil_limited;		/* not in smtpd_client_event_limit_exceptions */
	int anvil_registered;		/* anvil counts this connection */
	int last_cmd;			/* last command's verb + 1; 0: none */
	int throttled;			/* not reading: too much unsent output */
	int tls;			/* TLS is on (smtpd_tls.c) */
	int tls_handshake;		/* the handshake is under way */
	int tls_start;			/* STARTTLS answered: switch after it */
	char *tls_info;			/* "TLSv1.3 with cipher ..." */
	struct tls_peer *ccert;		/* the client's certificate, if any
					 * (TLS on, smtpd_tls.c) */
	const char *tls_refused;	/* smtpd_tls_req_ccert: why the next
					 * command gets 421 */
	char *sasl_method;		/* logged in (AUTH): "PLAIN" */
	char *sasl_username;		/* ... as "alice" */
	char *sasl_sender;		/* MAIL FROM AUTH= (decoded) */
	int sasl_fd;			/* AUTH under way: Dovecot auth
					 * connection (-1: none) */
	char *sasl_mech;		/* ... with this mechanism */
	unsigned sasl_id;		/* ... and request id */
	char *sasl_login;		/* ... user name from a FAIL */

	struct milters *milters;	/* smtpd_milters (smtpd_milter.c) */
	char *milter_reject;		/* a milter's refusal at connect or
					 * HELO: the answer to MAIL */
	int milter_ehlo_short;		/* ... a 5xx: EHLO offers nothing */
	int milter_hold;		/* hold every message (quarantine at
					 * connect or HELO) */
	const char *milter_mail;	/* {mail_addr} during MAIL */
	char *milter_rcpt;		/* {rcpt_addr}: the last recipient */

	struct smtpd_line input;	/* framing state (smtpd_line.c) */
	size_t input_left;		/* input bytes left by the last pass */
	long data_deadline;		/* DATA: deadline (monotonic ms) */

	/* Transaction. */
	char *sender;			/* NULL: no MAIL yet; "" null sender */
	char *first_rcpt;		/* for Received "for <>" and logs */
	int rcpt_count;
	long mail_size;			/* MAIL SIZE= */
	char *dsn_envid;		/* MAIL ENVID= (decoded) */
	const char *dsn_ret;		/* MAIL RET=: "FULL", "HDRS" or NULL */
	struct cleanup_state *cleanup;	/* opened at the first good RCPT */
	int hold, discard;
	char *redirect;
	char *filter;			/* FILTER action (last wins) */
	char *xforward[7];		/* XFORWARD attributes (SMTPD_XF_*) */
	int xforward_any;		/* ... XFORWARD was used */
	int xforward_checked;		/* smtpd_authorized_xforward_hosts */
	int xforward_ok;		/* ... looked up, and the answer */
	int xclient_checked;		/* smtpd_authorized_xclient_hosts */
	int xclient_ok;			/* ... looked up, and the answer */
	char dest_addr[64];		/* XCLIENT DESTADDR ("": the socket's) */
	char dest_port[16];		/* XCLIENT DESTPORT */
	char **bcc;			/* BCC actions (NULL-terminated) */
	int nbcc;

	/* DATA state. */
	int data_prev_crlf;		/* previous line ended in CRLF */
	int data_bare_lf;		/* a bare LF was seen */
	int data_in_piece;		/* a long line is being passed in pieces */
	long data_bytes;
	int data_overflow;		/* message_size_limit exceeded */
	int data_status;		/* cleanup status while streaming */
	char *commit_reply;		/* reply text built by the pool job */
	int commit_status;
	const char *commit_id;

	/* Counters. */
	int errors;			/* for smtpd_hard_error_limit */
	long junk_cmds;			/* NOOP/VRFY/RSET since the last delivery */
	int pipelining_violation;
	int verb_ok[SMTPD_V_COUNT];
	int verb_total[SMTPD_V_COUNT];
	struct timeval start;
	struct smtpd_session *next;	/* all sessions */
};

/* SMTPD_BUSY - work for the session is under way (a pool job, a task):
 * it reads nothing and is not freed until the work is done. */
#define SMTPD_BUSY(s)	((s)->in_pool || (s)->in_task)

/* Backpressure: a session whose unsent replies exceed this many bytes
 * reads nothing more until they are sent (a client that pipelines and
 * never reads its replies must not grow the process). */
#define SMTPD_OUT_HIGH	(64 * 1024)

/* A content line longer than this is passed on in pieces of this size
 * as it arrives, so that a session never holds more of it (a whole line
 * could be as long as message_size_limit). */
#define SMTPD_DATA_PIECE	(64 * 1024)

/* Process-wide settings read at start (smtpd.c). */
struct smtpd_conf {
	char *myhostname;
	char *banner;
	char *mail_name;
	long timeout;			/* smtpd_timeout, seconds */
	long rcpt_limit;		/* smtpd_recipient_limit */
	long line_limit;		/* line_length_limit */
	long size_limit;		/* message_size_limit (0: none) */
	long hard_error_limit;
	long soft_error_limit;
	long junk_limit;		/* smtpd_junk_command_limit */
	long error_sleep;		/* smtpd_error_sleep_time, seconds */
	int per_request_deadline;	/* smtpd_per_request_deadline */
	long min_data_rate;		/* smtpd_min_data_rate, bytes/s */
	int disable_vrfy;
	int forbid_bare_lf;		/* 0 no, 1 normalize, 2 reject */
	int bare_lf_code;		/* smtpd_forbid_bare_newline_reject_code */
	int forbid_unauth_pipelining;
	int peername_lookup;
	const char *reject_footer;	/* smtpd_reject_footer ("": none) */
	int upstream_proxy;		/* smtpd_upstream_proxy_protocol =
					 * haproxy */
	long upstream_proxy_timeout;	/* seconds */
	int helo_required;
	int delay_reject;		/* smtpd_delay_reject */
	int strict_rfc821;
	int ehlo_discard;		/* SMTPD_EHLO_* not announced
					 * (smtpd_discard_ehlo_keywords) */
	int cleanup_flags;		/* cleanup_input_flags() */
	const char *content_filter;	/* "" or transport:destination */
	int no_milters;			/* smtpd_milters off for this service
					 * (receive_override_options =
					 * no_milters): set before
					 * smtpd_milter_init */
};

/* EHLO keywords smtpd_discard_ehlo_keywords can hide.  As in Postfix,
 * a hidden keyword's command and parameters keep working, except DSN:
 * its parameters get "501 5.7.1 DSN support is disabled". */
#define SMTPD_EHLO_PIPELINING	(1 << 0)
#define SMTPD_EHLO_SIZE		(1 << 1)
#define SMTPD_EHLO_VRFY		(1 << 2)
#define SMTPD_EHLO_ETRN		(1 << 3)
#define SMTPD_EHLO_STARTTLS	(1 << 4)
#define SMTPD_EHLO_AUTH		(1 << 5)
#define SMTPD_EHLO_ENHANCED	(1 << 6)
#define SMTPD_EHLO_8BITMIME	(1 << 7)
#define SMTPD_EHLO_DSN		(1 << 8)

/* smtpd_ehlo_mask - the SMTPD_EHLO_* bits of a keyword list (unknown
 * words, and the pseudo keyword silent-discard, count for nothing). */
int smtpd_ehlo_mask(const char *list);

extern struct smtpd_conf smtpd_conf;

/* smtpd_etrn_init - (re)read fast_flush_domains for ETRN (at start, while
 * tables only root can read can still be opened). */
void smtpd_etrn_init(void);
extern struct event_base *smtpd_base;
extern int smtpd_stopping;

/* smtpd_xforward.c: XFORWARD (the attributes, in this order). */
#define SMTPD_XF_NAME	0
#define SMTPD_XF_ADDR	1
#define SMTPD_XF_PORT	2
#define SMTPD_XF_PROTO	3
#define SMTPD_XF_HELO	4
#define SMTPD_XF_IDENT	5
#define SMTPD_XF_SOURCE	6
#define SMTPD_XF_COUNT	7
/* smtpd_xforward_allowed - is the client in
 * smtpd_authorized_xforward_hosts (looked up once per session)? */
int smtpd_xforward_allowed(struct smtpd_session *s);
/* smtpd_xforward_ehlo - the EHLO keyword line. */
const char *smtpd_xforward_ehlo(void);
/* smtpd_xforward_parse - an XFORWARD command's arguments; 0 with "250
 * 2.0.0 Ok" or -1 with a 501 reply in reply. */
int smtpd_xforward_parse(struct smtpd_session *s, const char *arg,
    char *reply, size_t len);
/* smtpd_xforward_reset - the end of a mail transaction. */
void smtpd_xforward_reset(struct smtpd_session *s);
/* smtpd_xforward_get - attribute i as the queue file should record it:
 * real without XFORWARD, else the forwarded value ("unknown" or NULL
 * when the filter did not know it). */
const char *smtpd_xforward_get(const struct smtpd_session *s, int i,
    const char *real);
/* smtpd_xclient_allowed - is the client in
 * smtpd_authorized_xclient_hosts (looked up once per session)? */
int smtpd_xclient_allowed(struct smtpd_session *s);
/* smtpd_xclient_ehlo - the EHLO keyword line. */
const char *smtpd_xclient_ehlo(void);
/* smtpd_xclient_parse - an XCLIENT command: -1 with a 501 reply in
 * reply, or 0 with the session's client replaced and the session back
 * at the greeting stage (the caller greets). */
int smtpd_xclient_parse(struct smtpd_session *s, const char *arg,
    char *reply, size_t len);
/* smtpd_xtext_decode - RFC 3461 xtext (malloc'd); NULL if malformed. */
char *smtpd_xtext_decode(const char *in);

/* smtpd.c */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_close(struct smtpd_session *s);
void smtpd_close_after_reply(struct smtpd_session *s);
void smtpd_reset_transaction(struct smtpd_session *s);
void smtpd_arm_timeout(struct smtpd_session *s);
/* smtpd_greet - client checks and banner, then read commands (a
 * session that passed its connection limits). */
void smtpd_greet(struct smtpd_session *s);
void smtpd_fill_check(struct smtpd_session *s, struct smtpd_check_session *cs);

/* smtpd_line.c (the framing itself: smtpd_line.h) */
void smtpd_process_input(struct smtpd_session *s);
/* smtpd_now_ms - a monotonic clock, milliseconds. */
long smtpd_now_ms(void);

/* smtpd_proto.c */
/* smtpd_command - handle one command line (without CRLF). */
void smtpd_command(struct smtpd_session *s, char *line, size_t len,
    int more_input);
void smtpd_banner(struct smtpd_session *s);
/* smtpd_connect - the greeting: the banner, or with smtpd_delay_reject =
 * no the client restrictions first (a refusal replaces the banner and
 * every later command but QUIT gets "503 5.7.0 Error: access denied"). */
void smtpd_connect(struct smtpd_session *s);
/* smtpd_hangup - close without a reply (access table HANGUP). */
void smtpd_hangup(struct smtpd_session *s);

/* smtpd_data.c */
void smtpd_data_begin(struct smtpd_session *s);
/* smtpd_data_line - one content line (or the end of one passed in
 * pieces); crlf tells how it ended. */
void smtpd_data_line(struct smtpd_session *s, char *line, size_t len, int crlf);
/* smtpd_data_piece - the next SMTPD_DATA_PIECE bytes of a content line
 * too long to hold whole (its end comes through smtpd_data_line). */
void smtpd_data_piece(struct smtpd_session *s, char *piece, size_t len);

/* smtpd_task - run fn(s, ctx) inside a task (task.h): the checks in it
 * may wait (policy server, DNS, lookup service) while the loop serves
 * the other sessions.  Until it finishes the session is busy
 * (SMTPD_BUSY): nothing is read, and a close only marks it dead; it is
 * freed when the task finishes.  fn owns ctx. */
typedef void smtpd_task_fn(struct smtpd_session *s, void *ctx);
void smtpd_task(struct smtpd_session *s, smtpd_task_fn *fn, void *ctx);

/* smtpd_sasl.c - SMTP AUTH (RFC 4954) with Dovecot's authentication
 * server.  smtpd_sasl_init at start; smtpd_sasl_ehlo puts the AUTH
 * keywords of the EHLO reply in lines (malloc'd, at most max; returns
 * how many) (inside a task: it may ask Dovecot for its
 * mechanisms); smtpd_sasl_auth runs AUTH and smtpd_sasl_cont a client's
 * response to a 334 (both inside a task); smtpd_sasl_reset forgets an
 * exchange under way (a close).  The SASL_* results: the reply was sent
 * (SASL_OK 235, SASL_CONT 334, SASL_FAIL 535) or is in text
 * (SASL_ERROR: a refusal for syntax or state). */
#define SASL_OK		0
#define SASL_CONT	1
#define SASL_FAIL	2
#define SASL_ERROR	3
void smtpd_sasl_init(void);
int smtpd_sasl_ehlo(struct smtpd_session *s, char **lines, int max);
int smtpd_sasl_auth(struct smtpd_session *s, char *arg, char *text,
    size_t len);
int smtpd_sasl_cont(struct smtpd_session *s, const char *line, char *text,
    size_t len);
void smtpd_sasl_reset(struct smtpd_session *s);
void smtpd_sasl_free(struct smtpd_session *s);
/* smtpd_sasl_enabled - smtpd_sasl_auth_enable is on. */
int smtpd_sasl_enabled(void);

/* smtpd_anvil.c - connection and rate limits through the anvil service
 * (synchronous, bounded: see the file).  smtpd_anvil_init before
 * mail_server_ready; smtpd_anvil_connect when the session starts (0:
 * greet it now; 1: the session waits for anvil (in_pool set) and
 * smtpd_anvil greets it, or refuses it with a 421 and closes it);
 * smtpd_anvil_disconnect when it is freed; smtpd_anvil_mail and
 * smtpd_anvil_rcpt at MAIL and RCPT (-1: refused with a 450, counted as
 * an error). */
void smtpd_anvil_init(void);

/* smtpd_tls.c */
#define SMTPD_TLS_NONE		0
#define SMTPD_TLS_MAY		1
#define SMTPD_TLS_ENCRYPT	2
extern int smtpd_tls_level;
void smtpd_tls_init(void);
int smtpd_tls_offered(const struct smtpd_session *s);
int smtpd_tls_wrapper(struct smtpd_session *s);
void smtpd_tls_start(struct smtpd_session *s);
void smtpd_tls_check(struct smtpd_session *s);
void smtpd_tls_failed(struct smtpd_session *s);
void smtpd_tls_flush(struct smtpd_session *s);
/* smtpd_tls_fill_ccert - the client certificate's names and
 * fingerprints into cs (NULL without one); smtpd_tls_ccert_comment - the
 * Received: header's comment about it, "(Client CN ...)" (static). */
void smtpd_tls_fill_ccert(const struct smtpd_session *s,
    struct smtpd_check_session *cs);
const char *smtpd_tls_ccert_comment(const struct smtpd_session *s);
/* smtpd_tls_fill - the TLS protocol, cipher and bits of s (NULL, NULL, 0
 * when plaintext). */
void smtpd_tls_fill(struct smtpd_session *s, const char **proto_r,
    const char **cipher_r, int *bits_r);
/* smtpd.c: (re)install the session's callbacks on s->bev. */
void smtpd_session_callbacks(struct smtpd_session *s);
int smtpd_anvil_connect(struct smtpd_session *s);
void smtpd_anvil_disconnect(struct smtpd_session *s);
int smtpd_anvil_mail(struct smtpd_session *s);
int smtpd_anvil_rcpt(struct smtpd_session *s);
/* smtpd_anvil_auth - at AUTH (-1: refused with a 450).
 * smtpd_anvil_starttls - at STARTTLS, before the handshake (-1: refused
 * with a 454); smtpd_anvil_newtls - a handshake completed that was not
 * resumed; smtpd_anvil_wrapper - wrapper mode, from the connect path
 * (0: go on; 1: the session waits for anvil, then smtpd_greet or a
 * plaintext 421 and close); smtpd_anvil_newtls_limited - does
 * smtpd_client_new_tls_session_rate_limit apply to s? */
int smtpd_anvil_auth(struct smtpd_session *s);
int smtpd_anvil_starttls(struct smtpd_session *s);
void smtpd_anvil_newtls(struct smtpd_session *s);
int smtpd_anvil_wrapper(struct smtpd_session *s);
int smtpd_anvil_newtls_limited(const struct smtpd_session *s);

/* smtpd_milter.c - smtpd_milters (core/milter/milter.h), Postfix's
 * behaviour at each stage.  smtpd_milter_init at start (fatal for a
 * malformed list; nothing when smtpd_conf.no_milters is set, which is
 * receive_override_options = no_milters).  The stage functions run in
 * the session's task and may wait for the milters; each returns 0 to go
 * on, or -1 when the reply (logged as "milter-reject", Postfix's line)
 * was sent for the command (a 421 also closes the session).
 * smtpd_milter_connect - before the greeting: 0 the caller greets as
 * usual, 1 the greeting was sent (a refusal: "554 ... not accepting
 * connections"; MAIL then gets the milter's reply).  smtpd_milter_helo
 * keeps a refusal for MAIL as Postfix does.  smtpd_milter_eom - the end
 * of message (content, changes, verdict); -1 with *reply_r (malloc'd)
 * for the caller to send after dropping the message.
 * smtpd_milter_reset - the transaction is over; smtpd_milter_free - the
 * session is. */
void smtpd_milter_init(void);
/* smtpd_milter_active - are there milters to talk to? */
int smtpd_milter_active(void);
int smtpd_milter_connect(struct smtpd_session *s);
void smtpd_milter_helo(struct smtpd_session *s);
int smtpd_milter_mail_saved(struct smtpd_session *s);
int smtpd_milter_mail(struct smtpd_session *s, const char *addr,
    const char *const *params, int nparams);
int smtpd_milter_rcpt(struct smtpd_session *s, const char *addr,
    const char *const *params, int nparams);
int smtpd_milter_data(struct smtpd_session *s);
/* smtpd_milter_unknown - an unrecognised command line: -1 when a milter
 * answered it (the reply was sent), 0 for the usual reply. */
int smtpd_milter_unknown(struct smtpd_session *s, const char *line);
int smtpd_milter_eom(struct smtpd_session *s, char **reply_r);
void smtpd_milter_reset(struct smtpd_session *s);
void smtpd_milter_free(struct smtpd_session *s);

/* smtpd_pool.c */
typedef void (*smtpd_job_fn)(void *ctx);
void smtpd_pool_init(int threads);
/* smtpd_pool_grow_limit - let the pool add threads, up to max, when a job
 * arrives and none is idle (jobs that wait on a slow table must not hold
 * up the others). */
void smtpd_pool_grow_limit(int max);
/* smtpd_pool_run - run work(ctx) on a worker, then done(ctx) on the loop. */
void smtpd_pool_run(smtpd_job_fn work, smtpd_job_fn done, void *ctx);

#endif

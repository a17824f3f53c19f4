/* SPDX-License-Identifier: MIT */
/* delivery - final delivery on this host, as local(8) and virtual(8)
 * share it: the state of one request and of one recipient, the Postfix-
 * shaped delivery line and the combined result of a recipient
 * (deliver_report.c), the request loop body (deliver_run.c), the mbox
 * and Maildir writers with their group commit (mailbox.c), the copy of
 * the message with the prepended headers (mailbox_copy.c), Delivered-To
 * loop detection (delivered.c) and the switch to a recipient's ids
 * (deliver_privs.c).  The request/reply protocol with qmgr is
 * agent_server.h.
 *
 * The functions keep the local_ prefix of the agent they come from: a
 * "local" delivery here is one into a file of this host, whichever
 * agent makes it.  Each agent fills delivery_conf at start. */
#ifndef POSTINO_DELIVERY_DELIVERY_H
#define POSTINO_DELIVERY_DELIVERY_H

#include <sys/types.h>
#include <stdio.h>

#include "buf.h"
#include "htable.h"
#include "deliver_request.h"

/* prepend_delivered_header contexts. */
#define LOCAL_DELIV_COMMAND	(1 << 0)
#define LOCAL_DELIV_FILE	(1 << 1)
#define LOCAL_DELIV_FORWARD	(1 << 2)

/* Outcome classes, in increasing order of precedence. */
enum local_stat {
	LOCAL_SENT = 0,
	LOCAL_BOUNCE = 1,
	LOCAL_DEFER = 2,
};

/* What the shared code needs of the agent's configuration (filled by
 * the agent's conf_init). */
struct delivery_conf {
	int is_root;		/* the process runs as root */
	int deliv_mask;		/* prepend_delivered_header (LOCAL_DELIV_*) */
	int lock_fcntl;		/* mailbox lock: fcntl */
	int lock_dotlock;	/* mailbox lock: PATH.lock */
	long size_limit;	/* largest mailbox / message, 0 = none */
	long dup_limit;		/* duplicate_filter_limit */
	const char *relay_name;	/* relay= of the delivery lines */
};

extern struct delivery_conf delivery_conf;

struct local_pending;

/* One message (request). */
struct local_msg {
	struct deliver_request *dr;
	int fd;			/* queue file, read-only */
	struct htable *delivered;	/* Delivered-To values, lowercased */
	struct htable *dups;	/* duplicate filter */
	long dup_hits;		/* duplicates suppressed so far */
	double t_start;		/* request received */
	double t_active;	/* qmgr picked the message up (or t_start) */
	double t_conn;		/* queue file opened */
};

/* The combined outcome of one recipient. */
struct local_result {
	enum local_stat stat;
	char dsn[16];
	struct buf *text;
	int leaves;		/* leaf outcomes reported */
	int steps;		/* addresses visited (bounded) */
	int loop_reported;	/* one alias-loop report per recipient */
	int npending;		/* Maildir files waiting for the commit */
	struct local_pending *pending;
};

/* The context of one address being delivered (copied down recursion;
 * the expansion and user fields are local(8)'s). */
struct local_ctx {
	struct local_msg *msg;
	struct local_result *res;
	int rcpt_index;
	const char *orig_rcpt;	/* top-level original recipient */
	const char *top_rcpt;	/* top-level recipient */
	const char *rcpt;	/* the address being delivered (full) */
	const char *sender;	/* envelope sender (owner- may change it) */
	int level;		/* nesting */
	int exp_type;		/* LOCAL_EXP_* of the enclosing expansion, 0 at top */
	const char *exp_from;	/* alias name or .forward user being expanded */
	/* Privileges for commands and files in this context. */
	int have_privs;
	uid_t uid;
	gid_t gid;
	const char *user;	/* for ~/ and the command environment */
	const char *home;
	const char *shell;
	const char *extension;	/* of the top-level local name, or NULL */
	const char *local;	/* localpart of rcpt */
	const char *domain;	/* domain of rcpt */
};

/* deliver_report.c */
double local_now(void);

/* local_report - record and log a leaf outcome. */
void local_report(struct local_ctx *ctx, enum local_stat stat,
    const char *dsn, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* local_result_record - record a leaf outcome that another agent has
 * logged already (mailbox_transport): no delivery line. */
void local_result_record(struct local_ctx *ctx, enum local_stat stat,
    const char *dsn, const char *text);

/* local_log_line - the Postfix-shaped delivery line. */
void local_log_line(struct local_msg *msg, const char *to, const char *orig,
    const char *dsn, const char *status, const char *text);
/* local_format_delay - Postfix's format of a delay (2 significant digits). */
void local_format_delay(char *out, size_t len, double t);

/* local_dup_seen - 1 if key was seen before in this request (and
 * remember it). */
int local_dup_seen(struct local_msg *msg, const char *kind, const char *key);

/* deliver_run.c - local_request_run: one request as local and virtual
 * handle it: open the queue file (or defer every recipient with the
 * reason, naming relay), then call deliver_one for each recipient. */
void local_request_run(int fd, struct deliver_request *dr, double t_start,
    double t_active, const char *relay,
    void (*deliver_one)(struct local_msg *msg, int index, int fd));
/* local_msg_open - the first half of it, for an agent that delivers a
 * request as a whole (pipe): 0 with msg ready, or -1 after every
 * recipient was deferred; local_msg_close releases msg. */
int local_msg_open(struct local_msg *msg, int fd, struct deliver_request *dr,
    double t_start, double t_active, const char *relay);
void local_msg_close(struct local_msg *msg);

/* mailbox.c - local_mbox_deliver: append the message to an mbox file,
 * locked (delivery_conf.lock_*), truncated back on failure, fsync'd;
 * reports the outcome.  as_user: open and write with uid/gid's
 * privileges (when root); otherwise a new file is given to uid/gid.
 * kind: LOCAL_KIND_*. */
#define LOCAL_KIND_MAILBOX	1
#define LOCAL_KIND_FILE		2
void local_mbox_deliver(struct local_ctx *ctx, const char *path,
    const char *user, uid_t uid, gid_t gid, int as_user, int kind);
/* local_maildir_deliver - write into a Maildir (path ends in '/'):
 * tmp/, fsync, link into new/, fsync new/; reports the outcome. */
void local_maildir_deliver(struct local_ctx *ctx, const char *path,
    const char *user, uid_t uid, gid_t gid, int kind);

/* Group commit (mailbox.c).  With local_group_commit set (the agents'
 * main), a Maildir delivery writes its file in tmp/ and leaves it
 * pending in ctx->res: the fsync, the link into new/, the fsync of new/
 * (once per distinct directory) and the delivery line wait for
 * local_commit(), the agent_server commit hook.  local_answer() gives a
 * recipient's combined result to qmgr, or holds its status until the
 * commit when some of its deliveries are pending.  Nothing is reported
 * "sent" before its file and directory entry are on disk. */
extern int local_group_commit;
void local_answer(struct local_msg *msg, int index, const char *rcpt,
    const char *orig, struct local_result *res, const char *relay);
void local_commit(void);

/* delivered.c - collect the message's Delivered-To: values. */
struct htable *delivered_scan(int fd, off_t offset, off_t len);
int delivered_find(struct htable *ht, const char *addr);
void delivered_free(struct htable **htp);

/* mailbox_copy.c - local_copy: copy the message to fd with the headers
 * local(8) prepends.  0 ok; -1 on a read error of the queue file (*qerr_r
 * set) or a write error (errno kept). */
#define LOCAL_COPY_FROM		(1 << 0)	/* "From sender date" line */
#define LOCAL_COPY_QUOTE	(1 << 1)	/* ">From " quoting */
#define LOCAL_COPY_BLANK	(1 << 2)	/* blank line at the end */
#define LOCAL_COPY_RETURN	(1 << 3)	/* Return-Path: */
#define LOCAL_COPY_DELIVERED	(1 << 4)	/* Delivered-To: */
#define LOCAL_COPY_ORIG		(1 << 5)	/* X-Original-To: */
#define LOCAL_COPY_DOT		(1 << 6)	/* "." before a line's leading "." */
#define LOCAL_COPY_CASE		(1 << 7)	/* Delivered-To: as is, not folded */
#define LOCAL_COPY_MBOX	(LOCAL_COPY_FROM | LOCAL_COPY_QUOTE | LOCAL_COPY_BLANK)
int local_copy(struct local_ctx *ctx, int out_fd, int flags, int *qerr_r);
/* local_copy_eol - the same with every line, the prepended ones
 * included, ending in eol instead of "\n" (pipe(8)'s eol=). */
int local_copy_eol(struct local_ctx *ctx, int out_fd, int flags,
    const char *eol, int *qerr_r);

/* deliver_command.c - run an external command for a delivery (local's
 * |command and mailbox_command, pipe(8)): see the file's header. */
#define DELIVER_CMD_OUTPUT_MAX	2048

struct deliver_cmd {
	char *const *argv;	/* argv[0]: a path, or a name searched in the
				 * PATH of env */
	char *const *env;	/* the whole environment */
	int in_fd;		/* the message, rewound: standard input */
	int set_ids;		/* switch to uid/gid (the agent is root) */
	uid_t uid;
	gid_t gid;
	const char *cwd;	/* working directory, NULL: unchanged */
	int cwd_soft;		/* cwd failing: "/" instead of deferring */
	long time_limit;	/* seconds; 0: none */
	const char *program;	/* "local", "pipe": names the child's errors */
};

struct deliver_cmd_result {
	int status;		/* waitpid() status */
	int timed_out;		/* killed after time_limit */
	char output[DELIVER_CMD_OUTPUT_MAX];	/* printable, NUL-terminated */
};

/* deliver_tmp_file - an unlinked read-write temporary file ($TMPDIR or
 * /tmp); -1 with errno. */
int deliver_tmp_file(void);

/* deliver_command_run - run cmd and wait for it (inside a task the
 * event loop keeps serving); 0 with *res filled, or -1 with errno when
 * no child could be started. */
int deliver_command_run(const struct deliver_cmd *cmd,
    struct deliver_cmd_result *res);

/* deliver_command_outcome - the delivery outcome of a finished command:
 * LOCAL_SENT (text: the output, maybe empty), LOCAL_DEFER or
 * LOCAL_BOUNCE with dsn and text as Postfix words them; name is the
 * command as it appears in "Command died with status N: \"name\"". */
enum local_stat deliver_command_outcome(const struct deliver_cmd_result *res,
    const char *name, char *dsn, size_t dsn_len, struct buf *text);

/* deliver_privs.c - effective ids for file access when root. */
void local_privs_set(uid_t uid, gid_t gid);
void local_privs_restore(void);

#endif

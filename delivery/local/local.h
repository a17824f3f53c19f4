/* SPDX-License-Identifier: MIT */
/* local - the local delivery agent's shared state and internal interfaces.
 *
 * One request (deliver_request.h) is one message with one or more
 * recipients.  Each recipient is delivered by local_recipient(), which
 * recurses through aliases (local_alias.c), :include: files
 * (local_include.c) and .forward files (local_forward.c) down to leaf
 * deliveries: a mailbox (local_mailbox.c), a command (local_command.c), a
 * file (local_file.c) or a forwarded address (local_resend.c).  Each leaf
 * logs one Postfix-shaped line and reports into a struct local_result;
 * the recipient's reply to qmgr is the combined result (any defer wins,
 * then any bounce, else sent).
 *
 * Privileges: when the process runs as root, every access to a user's
 * files happens with that user's effective uid/gid (local_privs_*), and
 * commands run in a child with real and effective ids set; a non-root
 * process delivers as itself. */
#ifndef POSTINO_LOCAL_LOCAL_H
#define POSTINO_LOCAL_LOCAL_H

#include <sys/types.h>
#include <stdio.h>

#include "buf.h"
#include "htable.h"
#include "deliver_request.h"

/* Expansion contexts (allow_mail_to_commands / allow_mail_to_files). */
#define LOCAL_EXP_ALIAS		(1 << 0)
#define LOCAL_EXP_FORWARD	(1 << 1)
#define LOCAL_EXP_INCLUDE	(1 << 2)

/* prepend_delivered_header contexts. */
#define LOCAL_DELIV_COMMAND	(1 << 0)
#define LOCAL_DELIV_FILE	(1 << 1)
#define LOCAL_DELIV_FORWARD	(1 << 2)

#define LOCAL_NESTING_LIMIT	100

/* Outcome classes, in increasing order of precedence. */
enum local_stat {
	LOCAL_SENT = 0,
	LOCAL_BOUNCE = 1,
	LOCAL_DEFER = 2,
};

/* Configuration read once at start (local.c). */
struct local_conf {
	int cmd_mask;		/* allow_mail_to_commands */
	int file_mask;		/* allow_mail_to_files */
	int deliv_mask;		/* prepend_delivered_header */
	int owner_special;	/* owner_request_special */
	int expand_owner;	/* expand_owner_alias */
	int lock_fcntl;		/* mailbox_delivery_lock */
	int lock_dotlock;
	long dup_limit;		/* duplicate_filter_limit */
	long size_limit;	/* mailbox_size_limit, 0 = none */
	long cmd_time_limit;	/* command_time_limit, seconds */
	const char *delimiter;	/* recipient_delimiter */
	const char *myorigin;
	const char *myhostname;
	const char *fwd_filter;	/* forward_expansion_filter */
	const char *cmd_filter;	/* command_expansion_filter */
	const char *forward_path;	/* raw */
	const char *mailbox_command;	/* raw */
	const char *home_mailbox;
	const char *spool_dir;
	const char *luser_relay;	/* raw */
	const char *shell;	/* local_command_shell or /bin/sh */
	char **mydest;		/* mydestination names, lowercased */
	int mydest_count;
	struct map **alias_maps;
	char **alias_titles;
	uid_t *alias_owner;	/* owner of each alias database file */
	int alias_count;
	uid_t nobody_uid;	/* default_privs */
	gid_t nobody_gid;
	int is_root;
};

extern struct local_conf local_conf;

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

/* The context of one address being delivered (copied down recursion). */
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

/* local_report.c */
double local_now(void);
/* local_relay_name - relay= in the delivery lines ("local"). */
extern const char *local_relay_name;

/* local_recipient.c - deliver one address (any level). */
void local_recipient(struct local_ctx *ctx);
/* local_resolve_dest - deliver one destination from an expansion (alias
 * value, include or .forward line) in ctx. */
void local_resolve_dest(struct local_ctx *ctx, const char *dest);
/* local_domain_is_local - is domain ours (empty, $myorigin, $myhostname,
 * $mydestination names, localhost)? */
int local_domain_is_local(const char *domain);

/* local_report.c - record and log a leaf outcome. */
void local_report(struct local_ctx *ctx, enum local_stat stat,
    const char *dsn, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* local_request_run - one request as local and virtual handle it: open
 * the queue file (or defer every recipient with the reason, naming
 * relay), then call deliver_one for each recipient (local_request.c). */
void local_request_run(int fd, struct deliver_request *dr, double t_start,
    double t_active, const char *relay,
    void (*deliver_one)(struct local_msg *msg, int index, int fd));

/* local_log_line - the Postfix-shaped delivery line. */
void local_log_line(struct local_msg *msg, const char *to, const char *orig,
    const char *dsn, const char *status, const char *text);
/* local_format_delay - Postfix's format of a delay (2 significant digits). */
void local_format_delay(char *out, size_t len, double t);

/* local_dup.c - 1 if key was seen before in this request (and remember it). */
int local_dup_seen(struct local_msg *msg, const char *kind, const char *key);

/* local_token.c - split an alias value / include / .forward line into
 * destinations (malloc'd strings in a NULL-terminated array). */
char **local_token_split(const char *value);
void local_token_free(char ***listp);

/* local_alias.c - 1 when the alias table handled the address (status
 * reported), 0 when it is not an alias. */
int local_alias(struct local_ctx *ctx, const char *name);

/* local_ctx_set_privs - privileges of the owner uid of an alias database
 * or include file (root -> default_privs; non-root process -> itself);
 * *home_r and *shell_r are malloc'd for the caller to free. */
void local_ctx_set_privs(struct local_ctx *ctx, uid_t uid, char **home_r,
    char **shell_r);

/* local_forward.c - 1 when a .forward handled the address. */
int local_forward(struct local_ctx *ctx, const char *user, uid_t uid,
    gid_t gid, const char *home, const char *shell);

/* local_include.c - deliver to the destinations in an :include: file. */
void local_include(struct local_ctx *ctx, const char *path);

/* local_mailbox.c - final delivery to a user's mailbox. */
void local_mailbox(struct local_ctx *ctx, const char *user, uid_t uid,
    gid_t gid, const char *home, const char *shell);
/* local_mbox_deliver - append the message to an mbox file, locked
 * (mailbox_delivery_lock), truncated back on failure, fsync'd; reports
 * the outcome.  as_user: open and write with uid/gid's privileges (when
 * root); otherwise a new file is given to uid/gid.  kind: LOCAL_KIND_*. */
#define LOCAL_KIND_MAILBOX	1
#define LOCAL_KIND_FILE		2
void local_mbox_deliver(struct local_ctx *ctx, const char *path,
    const char *user, uid_t uid, gid_t gid, int as_user, int kind);
/* local_maildir_deliver - write into a Maildir (path ends in '/'):
 * tmp/, fsync, link into new/, fsync new/; reports the outcome. */
void local_maildir_deliver(struct local_ctx *ctx, const char *path,
    const char *user, uid_t uid, gid_t gid, int kind);

/* Group commit (local_mailbox.c).  With local_group_commit set (the
 * agents' main), a Maildir delivery writes its file in tmp/ and leaves
 * it pending in ctx->res: the fsync, the link into new/, the fsync of
 * new/ (once per distinct directory) and the delivery line wait for
 * local_commit(), the agent_server commit hook.  local_answer() gives a
 * recipient's combined result to qmgr, or holds its status until the
 * commit when some of its deliveries are pending.  Nothing is reported
 * "sent" before its file and directory entry are on disk. */
extern int local_group_commit;
void local_answer(struct local_msg *msg, int index, const char *rcpt,
    const char *orig, struct local_result *res, const char *relay);
void local_commit(void);

/* local_command.c - pipe the message into a command. */
void local_command(struct local_ctx *ctx, const char *command, uid_t uid,
    gid_t gid, const char *user, const char *home, const char *shell,
    int via_shell_always);

/* local_file.c - append to /file or deliver to /dir/. */
void local_file(struct local_ctx *ctx, const char *path);

/* local_resend.c - forward to a (remote) address as a new message. */
void local_resend(struct local_ctx *ctx, const char *address);

/* local_expand.c - expand $name ${name} ${name?x} ${name:x} ${name?{a}:{b}}
 * from lookup(); values filtered (chars outside filter become '_').
 * Returns a malloc'd string; *undef_r set when a variable was undefined,
 * -1 from the function on a syntax error. */
int local_expand(const char *pattern, const char *(*lookup)(const char *,
    void *), void *ctx, const char *filter, char **result_r, int *undef_r);

/* delivered.c - collect the message's Delivered-To: values. */
struct htable *delivered_scan(int fd, off_t offset, off_t len);
int delivered_find(struct htable *ht, const char *addr);
void delivered_free(struct htable **htp);

/* local_copy.c - copy the message to fd with the headers local(8)
 * prepends.  0 ok; -1 on a read error of the queue file (*qerr_r set) or a
 * write error (errno kept). */
#define LOCAL_COPY_FROM		(1 << 0)	/* "From sender date" line */
#define LOCAL_COPY_QUOTE	(1 << 1)	/* ">From " quoting */
#define LOCAL_COPY_BLANK	(1 << 2)	/* blank line at the end */
#define LOCAL_COPY_RETURN	(1 << 3)	/* Return-Path: */
#define LOCAL_COPY_DELIVERED	(1 << 4)	/* Delivered-To: */
#define LOCAL_COPY_ORIG		(1 << 5)	/* X-Original-To: */
#define LOCAL_COPY_MBOX	(LOCAL_COPY_FROM | LOCAL_COPY_QUOTE | LOCAL_COPY_BLANK)
int local_copy(struct local_ctx *ctx, int out_fd, int flags, int *qerr_r);

/* local_privs.c - effective ids for file access when root. */
void local_privs_set(uid_t uid, gid_t gid);
void local_privs_restore(void);

/* local_sysexits.c - exit status to DSN and text. */
const char *local_sysexits(int status, const char **text_r, int *soft_r);

#endif

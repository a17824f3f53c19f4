/* SPDX-License-Identifier: MIT */
/* local - the local delivery agent's shared state and internal interfaces.
 *
 * One request (deliver_request.h) is one message with one or more
 * recipients.  Each recipient is delivered by local_recipient(), which
 * recurses through aliases (local_alias.c), :include: files
 * (local_include.c) and .forward files (local_forward.c) down to leaf
 * deliveries: a mailbox (local_mailbox(), writing through
 * delivery/common/mailbox.c), a command (local_command.c), a file
 * (local_file.c) or a forwarded address (local_resend.c).  Each leaf
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
#include "delivery.h"
#include "htable.h"

/* Expansion contexts (allow_mail_to_commands / allow_mail_to_files). */
#define LOCAL_EXP_ALIAS		(1 << 0)
#define LOCAL_EXP_FORWARD	(1 << 1)
#define LOCAL_EXP_INCLUDE	(1 << 2)

#define LOCAL_NESTING_LIMIT	100

/* Configuration read once at start (local.c). */
struct local_conf {
	int cmd_mask;		/* allow_mail_to_commands */
	int file_mask;		/* allow_mail_to_files */
	int owner_special;	/* owner_request_special */
	int expand_owner;	/* expand_owner_alias */
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
	const char *mailbox_transport;	/* transport:nexthop, or "" */
	const char *fallback_transport;
	const char *shell;	/* local_command_shell or /bin/sh */
	char **mydest;		/* mydestination names, lowercased */
	int mydest_count;
	struct map **alias_maps;
	char **alias_titles;
	uid_t *alias_owner;	/* owner of each alias database file */
	int alias_count;
	uid_t nobody_uid;	/* default_privs */
	gid_t nobody_gid;
};

extern struct local_conf local_conf;

/* local_pass.c - hand the recipient to the agent of spec
 * (transport:nexthop, from parameter param) and take its status. */
void local_pass(struct local_ctx *ctx, const char *spec, const char *param);

/* local_recipient.c - deliver one address (any level). */
void local_recipient(struct local_ctx *ctx);
/* local_resolve_dest - deliver one destination from an expansion (alias
 * value, include or .forward line) in ctx. */
void local_resolve_dest(struct local_ctx *ctx, const char *dest);
/* local_domain_is_local - is domain ours (empty, $myorigin, $myhostname,
 * $mydestination names, localhost)? */
int local_domain_is_local(const char *domain);

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

/* local_recipient.c - local_mailbox: final delivery to a user's mailbox. */
void local_mailbox(struct local_ctx *ctx, const char *user, uid_t uid,
    gid_t gid, const char *home, const char *shell);

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

#endif

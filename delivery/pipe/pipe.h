/* SPDX-License-Identifier: MIT */
/* pipe - the pipe(8) delivery agent's shared state: the command
 * attributes of its master.cf entry (pipe_attr.c) and the expansion of
 * argv= for one request (pipe_argv.c).  pipe.c is the agent itself. */
#ifndef POSTINO_PIPE_PIPE_H
#define POSTINO_PIPE_PIPE_H

#include <sys/types.h>

#include "deliver_request.h"

/* flags= letters that act on the command line (the copy's letters are
 * LOCAL_COPY_* of delivery.h, kept in copy_flags). */
#define PIPE_FLAG_FOLD_HOST	(1 << 0)	/* h */
#define PIPE_FLAG_QUOTE		(1 << 1)	/* q */
#define PIPE_FLAG_FOLD_USER	(1 << 2)	/* u */
#define PIPE_FLAG_FINAL		(1 << 3)	/* X: "delivered", not "relayed" */

/* Macros that need more than the delivery request. */
#define PIPE_NEED_QFILE		(1 << 0)	/* client_port, sasl_* */
#define PIPE_NEED_SIZE		(1 << 1)	/* size */

struct pipe_attr {
	const char *service;	/* master.cf service name */
	int flags;		/* PIPE_FLAG_* */
	int copy_flags;		/* LOCAL_COPY_* */
	char *user;		/* user= as written */
	uid_t uid;
	gid_t gid;
	char **argv;		/* argv= templates, NULL-terminated */
	int argc;
	int needs;		/* PIPE_NEED_* of the macros used */
	long size_limit;	/* size=, 0: none */
	char *eol;		/* eol=, unescaped */
	char *directory;	/* directory=, default $queue_directory */
	char *null_sender;	/* null_sender=, default MAILER-DAEMON */
	long time_limit;	/* SERVICE_time_limit, seconds */
};

extern struct pipe_attr pipe_attr;

/* pipe_attr_parse - the attributes after the daemon options (args, as
 * mail_server_args() gives them) into pipe_attr; fatal, naming the
 * master.cf entry, on anything not understood or refused (root or
 * mail_owner privileges, an unknown user, flag or macro). */
void pipe_attr_parse(char **args);

/* What one request's argv is expanded from. */
struct pipe_macros {
	const struct deliver_request *dr;
	const char *sender;	/* the sender, or the null_sender text */
	int null_sender;	/* sender is the empty address's stand-in */
	const char *client_port;
	const char *sasl_method;
	const char *sasl_username;
	const char *sasl_sender;
	char size[32];
};

/* pipe_argv_check - 0 when every macro of arg is known (and the PIPE_NEED_*
 * of those used are added to *needs_r); -1 with *err_r (static) when not. */
int pipe_argv_check(const char *arg, int *needs_r, const char **err_r);

/* pipe_argv_expand - the command line for the request: an argument that
 * uses a recipient macro becomes one argument per recipient.  Returns a
 * malloc'd NULL-terminated vector (free with pipe_argv_free). */
char **pipe_argv_expand(const struct pipe_macros *pm);
void pipe_argv_free(char ***argvp);

#endif

/* SPDX-License-Identifier: MIT */
/* master_ent - master.cf parsing and checking (shared by the master and
 * "postino check").
 *
 * One logical line (readlline rules: comments, continuation lines) is
 * one service: service type private unpriv chroot wakeup maxproc
 * command [args].  "-" means the default.  Arguments written "{ ... }"
 * are one argument without the braces and the blanks next to them;
 * "-o name=value" and "-o { name = value }" are both passed on as "-o",
 * "name=value".  The same service name and type twice: the last wins
 * (with a warning).  Errors name the file and line and skip the entry. */
#ifndef POSTINO_MAIL_MASTER_ENT_H
#define POSTINO_MAIL_MASTER_ENT_H

enum master_type {
	MASTER_TYPE_INET,
	MASTER_TYPE_UNIX,
	MASTER_TYPE_UNIX_DGRAM,
	MASTER_TYPE_FIFO,
	MASTER_TYPE_PASS,
};

#define MASTER_MAXPROC_DEFAULT	(-1)	/* "-": $default_process_limit */

struct master_ent {
	char *name;			/* service field as written */
	enum master_type type;
	int private_;			/* y: private/, n: public/ */
	int unpriv;			/* y: run as mail_owner */
	int chroot_;			/* y: chroot to queue_directory */
	int wakeup;			/* seconds; 0: none */
	int wakeup_on_use;		/* "N?" form */
	int maxproc;			/* 0: unlimited; -1: default */
	char *command;			/* as written */
	char **args;			/* arguments, NULL-terminated */
	int argc;
	char *file;			/* where it was defined */
	int line;
};

/* master_type_name - "inet", "unix", ... */
const char *master_type_name(enum master_type type);

/* master_ent_read - parse PATH.  Returns the entries (NULL-terminated,
 * free with master_ent_free_all) and the number of errors in *errors_r;
 * each error was reported as "PATH, line N: text" through msg_error.
 * A file that cannot be opened is one error (entries: empty list). */
struct master_ent **master_ent_read(const char *path, int *errors_r);

/* master_ent_free_all - free the list and its entries; NULLs *listp. */
void master_ent_free_all(struct master_ent ***listp);

/* master_ent_key - "name.type" (master_service_disable form); malloc'd. */
char *master_ent_key(const struct master_ent *ent);

/* master_ent_disabled - is the entry listed in master_service_disable
 * ("name.type" or ".type")? */
int master_ent_disabled(const struct master_ent *ent);

/* master_ent_embedded - does the entry name a program that postino runs
 * inside other processes (cleanup, bounce: libraries; error, discard:
 * done by qmgr itself; see docs/architecture.md)?  The master starts
 * nothing for it; its -o options are read by the processes that embed
 * it. */
int master_ent_embedded(const struct master_ent *ent);

/* master_ent_maxproc - maxproc with "-" resolved; 0 = unlimited. */
int master_ent_maxproc(const struct master_ent *ent);

/* master_ent_check_main - syntax-check PATH (main.cf) without dying:
 * reports "PATH, line N: text" through msg_error and returns the number
 * of errors.  With warn_unknown, also warns "PATH, line N: unknown
 * parameter NAME" for names postino does not know and nothing refers
 * to (no $NAME in main.cf or master.cf, not a SERVICE_ parameter of a
 * master.cf service); ents may be NULL. */
int master_ent_check_main(const char *path, int warn_unknown,
    struct master_ent **ents);

#endif

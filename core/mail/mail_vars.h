/* SPDX-License-Identifier: MIT */
/* mail_vars - typed parameters, bound once at start into var_<name>.
 *
 * Code reads main.cf through these variables, not through
 * mail_conf_str("name") at the point of use: var_smtpd_timeout is a
 * long in seconds, var_soft_bounce an int, var_myhostname the expanded
 * string.  The list below is the only place that names them, by the
 * parameter's own name; a name that is not in mail_params.def (where
 * the defaults are) does not compile, and neither does a misspelt
 * var_<name>.
 *
 * The list is mail_vars.def; each row gives the type, the name, and the groups that bind it:
 *   MAIL_VAR_STR(name, groups)		expanded text (raw for parameters
 *					that are never expanded)
 *   MAIL_VAR_INT(name, groups)		long; "bad numerical configuration"
 *   MAIL_VAR_BOOL(name, groups)		int 0/1; "bad boolean configuration"
 *   MAIL_VAR_TIME(name, unit, groups)	long seconds, unit ('s', 'm', 'h',
 *					'd', 'w') for a bare number; "bad
 *					time configuration"
 * A program binds the groups it uses with mail_vars_bind() after
 * mail_conf_read() and the -o overrides; a later read or override
 * (mail_server's chroot sets queue_directory = /) rebinds every group
 * bound so far, so a var never disagrees with mail_conf_str().  A
 * malformed value is fatal at binding, with where it was set
 * ("FILE, line N: bad numerical configuration: NAME = VALUE").
 *
 * Groups: GLOBAL is what the shared library (core/mail) and the daemon
 * skeletons read: every program that uses them binds it (mail_vars_bind
 * always adds it).  GLOBAL holds strings only, so binding it cannot fail
 * on a malformed number: the commands bind it too.  The others belong to one daemon or library; a
 * library with an init function binds its own group there.
 *
 * Strings point into mail_conf's cache and stay valid for the life of
 * the process; an unbound string is NULL. */
#ifndef POSTINO_MAIL_MAIL_VARS_H
#define POSTINO_MAIL_MAIL_VARS_H

#define MAIL_VARS_GLOBAL	(1u << 0)	/* core/mail, skeletons */
#define MAIL_VARS_LOCAL		(1u << 1)	/* delivery/local (+ virtual) */
#define MAIL_VARS_VIRTUAL	(1u << 2)	/* delivery/virtual */
#define MAIL_VARS_CLEANUP	(1u << 3)	/* core/cleanup (a library) */
#define MAIL_VARS_BOUNCE	(1u << 4)	/* core/bounce (a library) */
#define MAIL_VARS_PICKUP	(1u << 5)
#define MAIL_VARS_SHOWQ		(1u << 6)	/* showq and queue listing */
#define MAIL_VARS_ANVIL		(1u << 7)
#define MAIL_VARS_MASTER	(1u << 8)
#define MAIL_VARS_QMGR		(1u << 9)
#define MAIL_VARS_RESOLVE	(1u << 10)	/* core/mail/resolve.c */
#define MAIL_VARS_SMTPD		(1u << 11)	/* smtpd and its checks */
#define MAIL_VARS_CMD		(1u << 12)	/* the commands */
#define MAIL_VARS_MYNETWORKS	(1u << 13)	/* core/mail/mynetworks.c */
#define MAIL_VARS_SERVER	(1u << 14)	/* the daemon skeletons */
#define MAIL_VARS_SUBMIT	(1u << 15)	/* sendmail, postdrop */
#define MAIL_VARS_PROXY		(1u << 16)	/* core/mail/map_proxy.c */
#define MAIL_VARS_PROXYMAP	(1u << 17)	/* core/proxymap */
#define MAIL_VARS_SMTP		(1u << 18)	/* delivery/smtp (smtp and lmtp) */
#define MAIL_VARS_VERIFY	(1u << 19)	/* core/verify */
#define MAIL_VARS_PIPE		(1u << 20)	/* delivery/pipe */
#define MAIL_VARS_MILTER	(1u << 21)	/* core/milter */

/* The variables: extern const char *var_myhostname; and so on. */
#define MAIL_VAR_STR(name, groups)	extern const char *var_##name;
#define MAIL_VAR_INT(name, groups)	extern long var_##name;
#define MAIL_VAR_BOOL(name, groups)	extern int var_##name;
#define MAIL_VAR_TIME(name, unit, groups)	extern long var_##name;
#include "mail_vars.def"
#undef MAIL_VAR_STR
#undef MAIL_VAR_INT
#undef MAIL_VAR_BOOL
#undef MAIL_VAR_TIME

/* mail_vars_bind - bind the variables of these groups (MAIL_VARS_GLOBAL
 * is always added) from the configuration as it is now; fatal on a
 * malformed value.  Binding a group again rebinds it. */
void mail_vars_bind(unsigned groups);

/* mail_vars_rebind - rebind every group bound so far (mail_conf_read and
 * mail_conf_override call it); nothing when none is bound. */
void mail_vars_rebind(void);

/* mail_vars_bound - the groups bound so far. */
unsigned mail_vars_bound(void);

/* mail_vars_inet_family - does inet_protocols ("all", "ipv4", "ipv6",
 * or both) allow this address family (AF_INET, AF_INET6)? */
int mail_vars_inet_family(int family);

/* mail_vars_reset - forget the bound groups (tests): the variables keep
 * their values but are no longer rebound. */
void mail_vars_reset(void);

#endif

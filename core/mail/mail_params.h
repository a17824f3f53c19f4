/* SPDX-License-Identifier: MIT */
/* mail_params - the table of parameters postino knows and their built-in
 * defaults (private to mail_conf.c and postconf).
 *
 * A default is either fixed text (as Postfix 3.7 prints it with
 * "postconf -d", compatibility_level expressions included) or computed at
 * run time (host names, installation paths, interface addresses).  The
 * table is sorted by name so that it can be binary-searched.
 *
 * Each entry also says whether postino implements the parameter (fail
 * closed, DESIGN.md "Configuration"): implemented; accepted without
 * effect (installation paths of documentation, version strings);
 * not implemented, a value that asks for it is warned about; or not
 * implemented and a value that asks for it would weaken security or
 * skip content inspection if ignored: then postino refuses to run, and
 * the entry carries a one-line hint of what to do instead.  "Asks for
 * it" is decided by mail_param_judge() from the entry's rule. */
#ifndef POSTINO_MAIL_MAIL_PARAMS_H
#define POSTINO_MAIL_MAIL_PARAMS_H

#include <stddef.h>

/* Flags. */
#define MAIL_PARAM_NOEXPAND	(1 << 0)	/* never $name-expanded */
#define MAIL_PARAM_READONLY	(1 << 1)	/* set by the program only */
#define MAIL_PARAM_EFFECTIVE	(1 << 2)	/* judge the default value too */

/* Implementation status. */
enum mail_param_status {
	MAIL_PARAM_NOT_IMPL_WARN,	/* ignored: warn when asked for */
	MAIL_PARAM_IMPL,		/* implemented */
	MAIL_PARAM_NO_EFFECT,		/* accepted; changes nothing here */
	MAIL_PARAM_NOT_IMPL_REFUSE,	/* ignored: refuse to run when asked */
};

/* Which values ask for the unimplemented feature. */
enum mail_param_rule {
	MAIL_PARAM_ASK_ANY,		/* any value but the default */
	MAIL_PARAM_ASK_YES,		/* anything but "no" */
	MAIL_PARAM_ASK_NONEMPTY,	/* a non-empty value */
	MAIL_PARAM_ASK_NONZERO,		/* a number other than 0 */
	MAIL_PARAM_ASK_TLS,		/* a TLS level above "may" ("may": warn) */
	MAIL_PARAM_ASK_TLSLEVEL,	/* not a TLS client level */
	MAIL_PARAM_ASK_DNSLEVEL,	/* smtp_dns_support_level = disabled */
	MAIL_PARAM_ASK_PROXYPROTO,	/* not "" or "haproxy" */
};

/* What a value means for an unimplemented parameter. */
enum mail_param_verdict {
	MAIL_PARAM_FINE,		/* nothing to say */
	MAIL_PARAM_WARNS,		/* ignored: warn */
	MAIL_PARAM_REFUSES,		/* ignored: refuse to run */
};

struct mail_param {
	const char *name;
	const char *def;		/* fixed default text, or NULL */
	char *(*compute)(void);		/* computed default (malloc'd) */
	int flags;
	enum mail_param_status status;
	enum mail_param_rule rule;	/* for the not implemented ones */
	const char *hint;		/* NOT_IMPL_REFUSE: what to do */
};

/* mail_param_id - the index of each known parameter in mail_param_table:
 * MAIL_PARAM_ID_<name>.  Naming one that is not in mail_params.def is a
 * build error. */
enum mail_param_id {
#define MAIL_PARAM(name, ...)	MAIL_PARAM_ID_##name,
#include "mail_params.def"
#undef MAIL_PARAM
	MAIL_PARAM_ID_COUNT
};

/* mail_param_table - every known parameter, sorted by name. */
extern const struct mail_param mail_param_table[];
extern const size_t mail_param_count;

/* MAIL_PARAM_NAME - the name of a known parameter, checked at build time
 * ("relay_domains" for MAIL_PARAM_NAME(relay_domains)). */
#define MAIL_PARAM_NAME(param)	(mail_param_table[MAIL_PARAM_ID_##param].name)

/* mail_param_find - the table entry for name, or NULL. */
const struct mail_param *mail_param_find(const char *name);

/* mail_param_judge - the verdict on value (expanded) for parameter p,
 * given whether it equals the default.  Implemented and no-effect
 * parameters are always FINE; so is a default value unless the entry
 * says MAIL_PARAM_EFFECTIVE.  A value that does not ask for the feature
 * (rule) is FINE; one that does WARNS or REFUSES by status, except a
 * TLS level of "may", which only warns. */
enum mail_param_verdict mail_param_judge(const struct mail_param *p,
    const char *value, int is_default);

/* mail_param_status_name - "implemented", "not implemented: ignored",
 * "not implemented: refused", "no effect". */
const char *mail_param_status_name(enum mail_param_status status);

#endif

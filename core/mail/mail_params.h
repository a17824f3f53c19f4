/* SPDX-License-Identifier: MIT */
/* mail_params - the table of parameters postino knows and their built-in
 * defaults (private to mail_conf.c and postconf).
 *
 * A default is either fixed text (as Postfix 3.7 prints it with
 * "postconf -d", compatibility_level expressions included) or computed at
 * run time (host names, installation paths, interface addresses).  The
 * table is sorted by name so that it can be binary-searched. */
#ifndef POSTINO_MAIL_MAIL_PARAMS_H
#define POSTINO_MAIL_MAIL_PARAMS_H

#include <stddef.h>

/* Flags. */
#define MAIL_PARAM_NOEXPAND	(1 << 0)	/* never $name-expanded */
#define MAIL_PARAM_READONLY	(1 << 1)	/* set by the program only */

struct mail_param {
	const char *name;
	const char *def;		/* fixed default text, or NULL */
	char *(*compute)(void);		/* computed default (malloc'd) */
	int flags;
};

/* mail_param_table - every known parameter, sorted by name. */
extern const struct mail_param mail_param_table[];
extern const size_t mail_param_count;

/* mail_param_find - the table entry for name, or NULL. */
const struct mail_param *mail_param_find(const char *name);

#endif

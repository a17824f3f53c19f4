/* SPDX-License-Identifier: MIT */
/* postino - internals of the postino(1) control command. */
#ifndef POSTINO_CMD_POSTINO_H
#define POSTINO_CMD_POSTINO_H

/* postino_check - validate main.cf and master.cf, warn about unknown
 * parameters and missing programs, and (with create) make the missing
 * queue directories, one warning per directory.  Returns the number of
 * errors (each already reported). */
int postino_check(int create);

struct master_ent;

/* postino_check_restrictions - validate every smtpd restriction list and
 * class of main.cf (main_cf is its path) and of the smtpd services'
 * -o overrides in ents; errors name file and line.  Returns the number
 * of errors (postino_check_restrict.c). */
int postino_check_restrictions(const char *main_cf, struct master_ent **ents);

/* postino_check_unimpl - report parameters set in main.cf (main_cf is
 * its path, for messages; the configuration must have been read) or as
 * master.cf -o options that postino knows but does not implement: a
 * warning for each one ignored, an error for each one whose absence
 * would weaken security or skip content inspection.  Returns the
 * number of errors (refusals). */
int postino_check_unimpl(const char *main_cf, struct master_ent **ents);

#endif

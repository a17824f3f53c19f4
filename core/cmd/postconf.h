/* SPDX-License-Identifier: MIT */
/* postconf - shared declarations of the postconf command's files:
 * postconf.c (options, printing main.cf parameters), postconf_edit.c
 * (-e, -X, -#: rewriting main.cf), postconf_master.c (master.cf: -M and
 * the service-defined parameters). */
#ifndef POSTINO_CMD_POSTCONF_H
#define POSTINO_CMD_POSTCONF_H

#include <stdio.h>

/* Output flags. */
#define PCF_FOLD	(1 << 0)	/* -f */
#define PCF_NO_NAME	(1 << 1)	/* -h */
#define PCF_NO_VALUE	(1 << 2)	/* -H */
#define PCF_EXPAND	(1 << 3)	/* -x */

/* Edit modes for postconf_edit_main. */
enum pcf_edit {
	PCF_EDIT_SET,			/* -e name=value */
	PCF_EDIT_REMOVE,		/* -X name */
	PCF_EDIT_COMMENT,		/* -# name */
};

/* postconf_edit_main - apply an edit to main.cf in the configuration
 * directory: written to a temporary file in the same directory, synced,
 * then renamed over main.cf (comments and other lines kept).  Fatal on
 * any error; main.cf is then unchanged. */
void postconf_edit_main(enum pcf_edit mode, char **args, int count);

/* postconf_print_line - print "name = value" (or part, per flags),
 * whitespace collapsed, folded with -f. */
void postconf_print_line(FILE *fp, const char *name, const char *value,
    int flags);

/* postconf_master_read - read master.cf (warning if missing). */
void postconf_master_read(void);
/* postconf_master_print - print entries (all if count == 0) as -M. */
void postconf_master_print(char **args, int count, int flags);
/* postconf_service_param - the default of a service-defined parameter
 * (e.g. "relay_destination_concurrency_limit"), or NULL. */
const char *postconf_service_param(const char *name);
/* postconf_service_params - service-defined names, NULL-terminated
 * (free the array only). */
const char **postconf_service_params(void);
/* postconf_master_values - every -o value in master.cf, NULL-terminated
 * (for the $name reference scan; free the array only). */
const char **postconf_master_values(void);

#endif

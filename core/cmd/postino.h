/* SPDX-License-Identifier: MIT */
/* postino - internals of the postino(1) control command. */
#ifndef POSTINO_CMD_POSTINO_H
#define POSTINO_CMD_POSTINO_H

/* postino_check - validate main.cf and master.cf, warn about unknown
 * parameters and missing programs, and (with create) make the missing
 * queue directories, one warning per directory.  Returns the number of
 * errors (each already reported). */
int postino_check(int create);

#endif

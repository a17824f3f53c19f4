/* SPDX-License-Identifier: MIT */
/* postalias - what postalias and newaliases share (postalias_lib.c). */
#ifndef POSTINO_CMD_POSTALIAS_H
#define POSTINO_CMD_POSTALIAS_H

#include "mail_conf.h"
#include "map.h"
#include "map_cmd.h"
#include "msg.h"

/* postalias_setup - fill cmd for alias databases (parser, listing style,
 * extra records, flags from the command-line options). */
void postalias_setup(struct map_cmd *cmd, int fold, int nul_n, int nul_N,
    int dup);

#endif

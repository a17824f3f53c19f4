/* SPDX-License-Identifier: MIT */
/* virtual - the virtual delivery agent's shared declarations.
 *
 * virtual(8) delivers mail for virtual mailbox domains: each recipient
 * (the full address, folded to lower case) is looked up in
 * virtual_mailbox_maps, virtual_uid_maps and virtual_gid_maps with the
 * "mailbox" key forms (user+ext@domain, user@domain, @domain), and the
 * message is written to $virtual_mailbox_base/RESULT: a Maildir when the
 * result ends in '/', else an mbox file, with the ids from the tables.
 * The writers, the headers it prepends (Return-Path:, X-Original-To:,
 * Delivered-To:) and the log lines are local(8)'s (delivery/local),
 * with relay=virtual. */
#ifndef POSTINO_VIRTUAL_VIRTUAL_H
#define POSTINO_VIRTUAL_VIRTUAL_H

#include <sys/types.h>

#include "map.h"

/* A list of tables named by one parameter. */
struct virtual_maps {
	const char *param;	/* "virtual_mailbox_maps" */
	struct map **map;
	int count;
};

struct virtual_conf {
	struct virtual_maps mailbox;
	struct virtual_maps uid;
	struct virtual_maps gid;
	char *base;		/* virtual_mailbox_base */
	long minimum_uid;	/* virtual_minimum_uid */
};

extern struct virtual_conf virtual_conf;

/* virtual_maps_open - open the tables listed in value, the value of
 * parameter param (daemon style: a table that cannot be opened answers
 * every lookup with a temporary error). */
void virtual_maps_open(struct virtual_maps *vm, const char *param,
    const char *value);

/* virtual_maps_find - look addr up with the "mailbox" key forms; the
 * first table that answers decides.  MAP_FOUND: *value_r is malloc'd;
 * MAP_TEMPFAIL: *title_r names the table that failed (a warning with
 * the reason was logged). */
enum map_status virtual_maps_find(struct virtual_maps *vm, const char *addr,
    char **value_r, const char **title_r);

#endif

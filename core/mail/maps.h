/* SPDX-License-Identifier: MIT */
/* maps - the tables of one main.cf parameter ("hash:/etc/x, pcre:/etc/y,
 * inline:{ a=b }"), opened daemon style (a table that cannot be opened
 * is a surrogate that always fails temporarily, so nothing is decided
 * without it) and looked up in order: the first answer counts. */
#ifndef POSTINO_MAIL_MAPS_H
#define POSTINO_MAIL_MAPS_H

#include "map.h"

struct maps {
	char *param;		/* "virtual_alias_maps", for messages */
	int count;
	struct map **map;
};

/* maps_open - open the tables listed in value, the value of parameter
 * param. */
void maps_open(struct maps *maps, const char *param, const char *value);
void maps_close(struct maps *maps);
/* maps_find - first FOUND across the tables for one key (full key:
 * every table; partial: fixed tables only; fixed tables skip keys
 * longer than MAP_FIXED_KEY_MAX); MAP_TEMPFAIL sets *bad_r to the
 * failing table. */
enum map_status maps_find(const struct maps *maps, const char *key,
    int partial, const char **value_r, struct map **bad_r);

#endif

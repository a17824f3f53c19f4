/* SPDX-License-Identifier: MIT */
/* postalias_lib - alias-database settings shared by postalias and
 * newaliases: the aliases(5) parser, "key:<TAB>value" listings, and the
 * records Postfix adds after a rebuild ("@", and on Linux the NIS
 * YP_LAST_MODIFIED / YP_MASTER_NAME records). */
#include "postino_config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alias_parse.h"
#include "mail_vars.h"
#include "postalias.h"

static int
parse_alias(char *line, struct buf *key, struct buf *value,
    const char **err_r, const char **note_r)
{
	*note_r = NULL;
	return alias_parse_line(line, key, value, err_r);
}

/* add_records - the sendmail signature and the NIS records. */
static void
add_records(struct map *map, const struct map_cmd *cmd)
{
	int saved = map->flags;
	char stamp[32];

	if (map_update(map, "@", "@") < 0)
		msg_fatal("%s: update @: %s", map->title, map_reason(map));
	/* NIS records: no trailing NUL, no case folding, always replaced. */
	map->flags &= ~(MAP_FLAG_TRY1NULL | MAP_FLAG_FOLD_FIX | MAP_FLAG_DUP_WARN
	    | MAP_FLAG_DUP_IGNORE);
	map->flags |= MAP_FLAG_TRY0NULL | MAP_FLAG_DUP_REPLACE;
	snprintf(stamp, sizeof(stamp), "%010ld", (long)time(NULL));
	if (map_update(map, "YP_LAST_MODIFIED", stamp) < 0
	    || map_update(map, "YP_MASTER_NAME", var_myhostname) < 0)
		msg_fatal("%s: update YP records: %s", map->title,
		    map_reason(map));
	map->flags = saved;
}

void
postalias_setup(struct map_cmd *cmd, int fold, int nul_n, int nul_N, int dup)
{
	cmd->parse = parse_alias;
	cmd->alias_style = 1;
	cmd->extra = add_records;
	map_cmd_set_flags(cmd, fold, nul_n, nul_N, dup, 1);
}

/* SPDX-License-Identifier: MIT */
/* newaliases - rebuild every alias database named in alias_database
 * (as "sendmail -bi" does).
 *
 *   newaliases [-c config_dir] [-v] [-oAfile]
 *
 * An empty alias_database does nothing and exits 0.  Recipients are a
 * usage error.  -oA replaces the list, like sendmail's option. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail_vars.h"
#include "mymalloc.h"
#include "postalias.h"
#include "stringops.h"

int
main(int argc, char **argv)
{
	struct map_cmd cmd = {0};
	const char *override = NULL;
	char *list, *cp, *db;
	int ch;

	msg_init(argv[0], 1);
	while ((ch = getopt(argc, argv, "c:vo:")) != -1) {
		switch (ch) {
		case 'c':
			mail_conf_set_dir(optarg);
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'o':
			if (optarg[0] == 'A' && optarg[1])
				override = optarg + 1;
			break;
		default:
			msg_fatal_status(1, "usage: newaliases [-c config_dir] [-v] [-oAfile]");
		}
	}
	if (optind < argc)
		msg_fatal_status(1, "usage: newaliases [-c config_dir] [-v] [-oAfile]: recipients are not allowed");
	mail_conf_read(1);
	mail_vars_bind(MAIL_VARS_CMD);
	postalias_setup(&cmd, 1, 0, 0, MAP_FLAG_DUP_WARN);
	list = xstrdup(override ? override : var_alias_database);
	cp = list;
	while ((db = mystrtok(&cp, ", \t\r\n")) != NULL) {
		char *tn = map_cmd_type_name(&cmd, db);

		map_cmd_build(&cmd, tn);
		free(tn);
	}
	free(list);
	exit(0);
}

/* SPDX-License-Identifier: MIT */
/* postmap - build, query, dump and edit lookup tables (Postfix's
 * postmap(1) command line).
 *
 *   postmap [-bfFhijmnNoprsuUvwx] [-a strategy] [-c config_dir]
 *           [-d key] [-q key] [type:]file ...
 *
 * Beyond Postfix: -x explains each answer (tables consulted, keys as
 * folded, the file and line of the regexp/pcre/cidr rule that matched);
 * -a STRATEGY looks an address up the way the daemons do (every key form
 * of that search order, against every table), see mail_addr_find.h.
 *
 * Exit status: 0 found / done; 1 not found, usage error or fatal error. */
#include "postino_config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_vars.h"
#include "map.h"
#include "map_cmd.h"
#include "msg.h"
#include "stringops.h"

static void
usage(void)
{
	msg_fatal_status(1, "usage: postmap [-bfFhijmnNoprsuUvwx] [-a strategy] [-c config_dir] [-d key] [-q key] [type:]file...");
}

int
main(int argc, char **argv)
{
	struct map_cmd cmd = {0};
	struct map_cmd_opts opts;
	int ch;

	msg_init(argv[0], 1);
	/* A write to a directory server that went away is an error to report,
	 * not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	cmd.parse = map_cmd_parse_postmap;
	map_cmd_opts_init(&opts);
	while ((ch = getopt(argc, argv, "a:bc:d:fFhijmnNopq:rsuUvwx")) != -1) {
		switch (ch) {
		case 'a':
			cmd.strategy = optarg;
			break;
		case 'b':
			opts.body = 1;
			break;
		case 'F':
			cmd.file_values = 1;
			break;
		case 'h':
			opts.header = 1;
			break;
		case 'm':
			opts.mime = 1;
			break;
		case 'U':
			break;
		default:
			if (!map_cmd_option(&cmd, &opts, ch, optarg))
				usage();
		}
	}
	map_cmd_opts_check(&cmd, &opts);
	if (optind >= argc)
		usage();

	mail_conf_read(1);
	mail_vars_bind(MAIL_VARS_CMD);
	map_cmd_set_flags(&cmd, opts.fold, opts.nul_n, opts.nul_N, opts.dup,
	    !opts.no_utf8);
	exit(map_cmd_run(&cmd, &opts, argv + optind, argc - optind));
}

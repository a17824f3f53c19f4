/* SPDX-License-Identifier: MIT */
/* postalias - build, query, dump and edit alias databases (Postfix's
 * postalias(1) command line).
 *
 *   postalias [-Nfijnoprsuvwx] [-c config_dir] [-d key] [-q key]
 *             [type:]file ...
 *
 * Source files use aliases(5) syntax (alias_parse.h).  After a rebuild
 * the "@" signature record is added, and, as Postfix does on Linux, the
 * NIS records YP_LAST_MODIFIED and YP_MASTER_NAME (stored without a
 * trailing NUL and without case folding).  Listings print "key:<TAB>value".
 * The shared engine is map_cmd.c. */
#include "postino_config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail_vars.h"
#include "postalias.h"

static void
usage(void)
{
	msg_fatal_status(1, "usage: postalias [-Nfijnoprsuvwx] [-c config_dir] [-d key] [-q key] [type:]file...");
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
	map_cmd_opts_init(&opts);
	while ((ch = getopt(argc, argv, "c:d:fijnNopq:rsuvwx")) != -1) {
		if (!map_cmd_option(&cmd, &opts, ch, optarg))
			usage();
	}
	map_cmd_opts_check(&cmd, &opts);
	if (optind >= argc)
		usage();
	mail_conf_read(1);
	mail_vars_bind(MAIL_VARS_CMD);
	postalias_setup(&cmd, opts.fold, opts.nul_n, opts.nul_N, opts.dup);
	if (opts.no_utf8) {
		/* -u: no UTF-8 mode at all (checks, Unicode folding). */
		cmd.map_flags &= ~MAP_FLAG_UTF8;
		cmd.utf8_check = 0;
		map_set_utf8(0);
	}
	exit(map_cmd_run(&cmd, &opts, argv + optind, argc - optind));
}

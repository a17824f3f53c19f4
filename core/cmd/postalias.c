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
	const char *query = NULL, *delkey = NULL;
	int seq = 0, incr = 0, modes = 0;
	int nul_n = 0, nul_N = 0, fold = 1;
	int dup = MAP_FLAG_DUP_WARN;
	int no_utf8 = 0;
	int ch;

	msg_init(argv[0], 1);
	/* A write to a directory server that went away is an error to report,
	 * not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "c:d:fijnNopq:rsuvwx")) != -1) {
		switch (ch) {
		case 'c':
			mail_conf_set_dir(optarg);
			break;
		case 'd':
			delkey = optarg;
			modes++;
			break;
		case 'f':
			fold = 0;
			break;
		case 'i':
			incr = 1;
			modes++;
			break;
		case 'j':
			cmd.json = 1;
			break;
		case 'n':
			nul_n = 1;
			break;
		case 'N':
			nul_N = 1;
			break;
		case 'o':
			cmd.no_owner = 1;
			break;
		case 'p':
			cmd.keep_mode = 1;
			break;
		case 'q':
			query = optarg;
			modes++;
			break;
		case 'r':
			dup = MAP_FLAG_DUP_REPLACE;
			break;
		case 's':
			seq = 1;
			modes++;
			break;
		case 'u':
			no_utf8 = 1;
			break;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'w':
			dup = MAP_FLAG_DUP_IGNORE;
			break;
		case 'x':
			cmd.explain = 1;
			break;
		default:
			usage();
		}
	}
	if (modes > 1)
		msg_fatal("specify only one of -d -i -q or -s");
	if (cmd.json && query == NULL && !seq)
		msg_fatal("option -j requires -q or -s");
	if (optind >= argc)
		usage();
	mail_conf_read(1);
	postalias_setup(&cmd, fold, nul_n, nul_N, dup);
	if (cmd.map_flags & MAP_FLAG_UTF8)
		cmd.utf8_check = !no_utf8;

	if (query) {
		if (strcmp(query, "-") == 0)
			exit(map_cmd_query_stdin(&cmd, argv + optind, argc - optind,
			    0, 0));
		exit(map_cmd_query(&cmd, query, argv + optind, argc - optind));
	}
	if (seq)
		exit(map_cmd_sequence(&cmd, argv[optind]));
	if (delkey)
		exit(map_cmd_delete(&cmd, delkey, argv + optind, argc - optind));
	for (int i = optind; i < argc; i++) {
		char *tn = map_cmd_type_name(&cmd, argv[i]);

		if (incr)
			map_cmd_incremental(&cmd, tn);
		else
			map_cmd_build(&cmd, tn);
		free(tn);
	}
	exit(0);
}

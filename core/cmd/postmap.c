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
#include <strings.h>
#include <unistd.h>

#include "mail_conf.h"
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
	const char *query = NULL, *delkey = NULL;
	int seq = 0, incr = 0, modes = 0;
	int body = 0, header = 0, mime = 0;
	int nul_n = 0, nul_N = 0, fold = 1;
	int dup = MAP_FLAG_DUP_WARN;
	int no_utf8 = 0;
	int ch;

	msg_init(argv[0], 1);
	/* A write to a directory server that went away is an error to report,
	 * not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	cmd.parse = map_cmd_parse_postmap;
	while ((ch = getopt(argc, argv, "a:bc:d:fFhijmnNopq:rsuUvwx")) != -1) {
		switch (ch) {
		case 'a':
			cmd.strategy = optarg;
			break;
		case 'b':
			body = 1;
			break;
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
		case 'F':
			cmd.file_values = 1;
			break;
		case 'h':
			header = 1;
			break;
		case 'i':
			incr = 1;
			modes++;
			break;
		case 'j':
			cmd.json = 1;
			break;
		case 'm':
			mime = 1;
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
		case 'U':
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
	if ((body || header || mime) && (query == NULL || strcmp(query, "-") != 0))
		msg_fatal("specify -b -h or -m only with \"-q -\"");
	if (mime && !body && !header)
		msg_warn("ignoring -m option without -b or -h");
	if (cmd.json && query == NULL && !seq)
		msg_fatal("option -j requires -q or -s");
	if (cmd.strategy && query == NULL)
		msg_fatal("option -a requires -q");
	if (optind >= argc)
		usage();

	mail_conf_read(1);
	cmd.default_type = mail_conf_str("default_database_type");
	if (*cmd.default_type == 0)
		cmd.default_type = "hash";
	cmd.map_flags = MAP_FLAG_LOCK | MAP_FLAG_PARANOID | MAP_FLAG_EMPTY_OK | dup;
	if (fold)
		cmd.map_flags |= MAP_FLAG_FOLD_FIX;
	if (nul_N && !nul_n)
		cmd.map_flags |= MAP_FLAG_TRY1NULL;
	else if (nul_n && !nul_N)
		cmd.map_flags |= MAP_FLAG_TRY0NULL;
	else
		cmd.map_flags |= MAP_FLAG_TRY0NULL | MAP_FLAG_TRY1NULL;
	if (strcasecmp(mail_conf_str("smtputf8_enable"), "yes") == 0) {
		cmd.map_flags |= MAP_FLAG_UTF8;
		cmd.utf8_check = !no_utf8;
	}

	if (query) {
		if (strcmp(query, "-") == 0)
			exit(map_cmd_query_stdin(&cmd, argv + optind, argc - optind,
			    header, body));
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

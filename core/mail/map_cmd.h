/* SPDX-License-Identifier: MIT */
/* map_cmd - what postmap, postalias and newaliases share: building a
 * table from its source file, incremental updates from stdin, queries
 * (one key, or keys from stdin), dumps and deletes, with Postfix's output
 * formats and exit statuses.
 *
 * All functions report problems with msg_warn/msg_fatal under the
 * program's name; they return the process exit status (0 or 1) where
 * that is what the caller needs. */
#ifndef POSTINO_MAIL_MAP_CMD_H
#define POSTINO_MAIL_MAP_CMD_H

#include <stdio.h>

#include "buf.h"
#include "map.h"

/* map_cmd_parse_fn - turn one logical source line into key and value;
 * 0 ok (note_r may name a warning to print while still storing), -1 bad
 * line (err_r says why; the caller warns with file and line). */
typedef int (*map_cmd_parse_fn)(char *line, struct buf *key,
    struct buf *value, const char **err_r, const char **note_r);

struct map_cmd {
	int map_flags;		/* MAP_FLAG_* for every table opened */
	int alias_style;	/* postalias: "key:\tvalue" listings, extra records */
	int json;		/* -j: {"key": "value"} lines */
	int explain;		/* -x: print how each answer was reached */
	int file_values;	/* -F: values are base64 of named files */
	int keep_mode;		/* -p: create files with mode 0644 */
	int no_owner;		/* -o: do not take the source file's owner */
	int utf8_check;		/* smtputf8_enable and no -u: skip non-UTF-8 lines */
	const char *default_type;	/* $default_database_type */
	map_cmd_parse_fn parse;
	/* extra: called after a rebuild (postalias: "@" and YP_* records). */
	void (*extra)(struct map *map, const struct map_cmd *cmd);
	/* forms: -a STRATEGY, or NULL for one literal lookup. */
	const char *strategy;
};

/* map_cmd_opts - the command-line options postmap and postalias share,
 * as map_cmd_option() collects them. */
struct map_cmd_opts {
	const char *query;	/* -q key */
	const char *delkey;	/* -d key */
	int seq;		/* -s */
	int incr;		/* -i */
	int modes;		/* how many of -d -i -q -s were given */
	int fold;		/* 1 unless -f */
	int nul_n;		/* -n */
	int nul_N;		/* -N */
	int dup;		/* MAP_FLAG_DUP_*: warn, -r replace, -w ignore */
	int no_utf8;		/* -u */
	int body, header, mime;	/* postmap -b -h -m (set by the caller) */
};

/* map_cmd_opts_init - the defaults before any option. */
void map_cmd_opts_init(struct map_cmd_opts *opts);
/* map_cmd_option - apply one shared option letter (-c -d -f -i -j -n -N
 * -o -p -q -r -s -u -v -w -x); returns 0 when ch is not one of them. */
int map_cmd_option(struct map_cmd *cmd, struct map_cmd_opts *opts, int ch,
    const char *arg);
/* map_cmd_opts_check - reject option combinations (fatal). */
void map_cmd_opts_check(const struct map_cmd *cmd,
    const struct map_cmd_opts *opts);
/* map_cmd_set_flags - after mail_conf_read(): default_type and map_flags
 * from $default_database_type, $smtputf8_enable and the -f -n -N -r -w
 * choices.  With smtputf8_enable = yes and utf8_check (no -u), the tables
 * are in UTF-8 mode (MAP_FLAG_UTF8, map_set_utf8) and non-UTF-8 input
 * lines are skipped; utf8_check 0 (-u) turns UTF-8 mode off. */
void map_cmd_set_flags(struct map_cmd *cmd, int fold, int nul_n, int nul_N,
    int dup, int utf8_check);
/* map_cmd_run - do what the options ask with the tables named on the
 * command line (at least one); returns the exit status. */
int map_cmd_run(const struct map_cmd *cmd, const struct map_cmd_opts *opts,
    char **tables, int ntables);

/* map_cmd_parse_postmap - the postmap(1) "key whitespace value" parser. */
int map_cmd_parse_postmap(char *line, struct buf *key, struct buf *value,
    const char **err_r, const char **note_r);

/* map_cmd_build - rebuild [type:]file from file (atomically). */
void map_cmd_build(const struct map_cmd *cmd, const char *type_name);
/* map_cmd_incremental - add entries read from stdin to [type:]file. */
void map_cmd_incremental(const struct map_cmd *cmd, const char *type_name);
/* map_cmd_query - look key up in the tables in order; prints the value;
 * returns 0 found, 1 not found.  A table error is fatal. */
int map_cmd_query(const struct map_cmd *cmd, const char *key,
    char **tables, int ntables);
/* map_cmd_query_stdin - one key per stdin line; prints key<TAB>value
 * (postalias: key:<TAB>value); returns 0 if any key was found, else 1.
 * header_mode/body_mode (-h, -b): stdin is a message, its logical
 * headers or its body lines are the keys; with mime (-m), parsed as
 * cleanup does, so that -h sees part and attached headers too and -b
 * does not. */
int map_cmd_query_stdin(const struct map_cmd *cmd, char **tables,
    int ntables, int header_mode, int body_mode, int mime);
/* map_cmd_sequence - dump the first table; returns 0. */
int map_cmd_sequence(const struct map_cmd *cmd, const char *type_name);
/* map_cmd_delete - delete key (or stdin keys when key is "-") from each
 * table; returns 0 if anything was deleted, else 1. */
int map_cmd_delete(const struct map_cmd *cmd, const char *key,
    char **tables, int ntables);

/* map_cmd_utf8_valid - is str well-formed UTF-8? */
int map_cmd_utf8_valid(const char *str);

/* map_cmd_type_name - "[type:]name" with the default type applied;
 * malloc'd. */
char *map_cmd_type_name(const struct map_cmd *cmd, const char *arg);

#endif

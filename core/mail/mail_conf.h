/* SPDX-License-Identifier: MIT */
/* mail_conf - main.cf: where it is, reading it, Postfix's parameters and
 * their defaults, and $name expansion.
 *
 * The configuration directory is, in order: mail_conf_set_dir() (the -c
 * option), $MAIL_CONFIG, paths_config_directory().  Values are expanded
 * lazily when asked for (Postfix semantics: $name, ${name}, $(name),
 * ${name?value}, ${name:value}, ${name?{a}:{b}}, ${{a} == {b} ? {x} : {y}}
 * with == != < <= > >= and <level <=level >level >=level, $$).
 * Parameters flagged "no expansion" (mailbox_command) are returned raw.
 *
 * After mail_conf_read(), the lookup-table loader is configured from
 * meta_directory and shlib_directory. */
#ifndef POSTINO_MAIL_MAIL_CONF_H
#define POSTINO_MAIL_MAIL_CONF_H

#include <time.h>

/* mail_conf_set_dir - use this configuration directory (-c DIR); also
 * exports MAIL_CONFIG for child processes. */
void mail_conf_set_dir(const char *dir);
/* mail_conf_dir - the configuration directory in effect. */
const char *mail_conf_dir(void);

/* mail_conf_read - read DIR/main.cf.  A missing main.cf is fatal unless
 * allow_missing is set (then built-in defaults apply).  Syntax errors are
 * fatal with "FILE, line N: text"; repeated names warn and the last wins. */
void mail_conf_read(int allow_missing);

/* mail_conf_dir_allowed - may a set-gid program use configuration
 * directory dir with its privilege?  Yes when dir is the default one or
 * is listed in alternate_config_directories of the default main.cf;
 * deciding that reads the default main.cf (mail_conf_set_dir to it, then
 * mail_conf_read), which stays the current configuration. */
int mail_conf_dir_allowed(const char *dir);

/* mail_conf_override - set name=value for this process (-o name=value);
 * wins over main.cf. */
void mail_conf_override(const char *name, const char *value);

/* mail_conf_raw - unexpanded value: override, main.cf, or default;
 * NULL for a name that is neither set nor known. */
const char *mail_conf_raw(const char *name);
/* mail_conf_default - the built-in default (unexpanded), NULL if unknown. */
const char *mail_conf_default(const char *name);
/* mail_conf_known - is this a parameter postino knows? */
int mail_conf_known(const char *name);
/* mail_conf_is_set - was it set in main.cf (or overridden)? */
int mail_conf_is_set(const char *name);

/* mail_conf_str - expanded value; "" for unknown names (cached; valid
 * until the next mail_conf_read/override). */
const char *mail_conf_str(const char *name);
/* mail_conf_bool - yes/no (case-insensitive); anything else is fatal. */
int mail_conf_bool(const char *name);
/* mail_conf_int - decimal integer; fatal on syntax error. */
long mail_conf_int(const char *name);
/* mail_conf_time - seconds; value is N[smhdw], def_unit applies to a
 * bare number ('s', 'm', 'h', 'd' or 'w'). */
long mail_conf_time(const char *name, int def_unit);

/* mail_conf_parse_bool, mail_conf_parse_int, mail_conf_parse_time - the
 * parsers behind mail_conf_bool/int/time: 0 and *res_r set, or -1 for a
 * malformed value (*res_r unchanged). */
int mail_conf_parse_bool(const char *val, int *res_r);
int mail_conf_parse_int(const char *val, long *res_r);
int mail_conf_parse_time(const char *val, int def_unit, long *res_r);

/* mail_conf_bad - fatal "bad KIND configuration: NAME = VALUE" (kind:
 * "numerical", "boolean", "time"), prefixed with where the value was set:
 * "-o NAME=RAW: " for an override, "FILE, line N: " for main.cf, nothing
 * for a built-in default. */
void mail_conf_bad(const char *kind, const char *name, const char *value)
    __attribute__((noreturn));

/* mail_conf_expand - expand text against the configuration; malloc'd.
 * undefined_cb (may be NULL) is called for each undefined $name. */
char *mail_conf_expand(const char *text,
    void (*undefined_cb)(const char *name, void *ctx), void *ctx);

/* mail_conf_defaults_only - while on, lookups and expansion ignore main.cf
 * and overrides: built-in defaults only (postconf -d).  Computed
 * defaults are recomputed on each switch. */
void mail_conf_defaults_only(int on);
/* mail_conf_readonly - is this a parameter the program sets itself
 * (process_id, process_name, service_name)?  main.cf cannot change it. */
int mail_conf_readonly(const char *name);
/* mail_conf_file_value - the value as written in main.cf, or NULL. */
const char *mail_conf_file_value(const char *name);
/* mail_conf_file_line - the main.cf line that (last) set name, or 0. */
int mail_conf_file_line(const char *name);
/* mail_conf_is_default_value - is raw (unexpanded text) the built-in
 * default of name: the same words (split at blanks and commas) as the
 * default, as written or once both are $name-expanded against the
 * configuration?  0 for an unknown name. */
int mail_conf_is_default_value(const char *name, const char *raw);

/* mail_conf_names - every known or set parameter name, sorted,
 * NULL-terminated; free the array only. */
const char **mail_conf_names(void);
/* mail_conf_set_names - names set in main.cf, sorted (postconf -n). */
const char **mail_conf_set_names(void);

#endif

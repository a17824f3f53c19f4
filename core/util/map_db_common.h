/* SPDX-License-Identifier: MIT */
/* map_db_common - what the directory drivers (ldap:, mysql:, ...) share:
 * the parameter file, %-expansion of queries and results, the `domain`
 * filter, result_format and expansion_limit (ldap_table(5),
 * mysql_table(5)).
 *
 * Typical driver open:
 *
 *	conf = map_db_common_conf_open(path, &err);	   // NULL: *err set
 *	db = map_db_common_open(conf, title, &err);	   // domain,
 *					// result_format, expansion_limit
 *	dyn = map_db_common_parse(db, query, 1, "query", &err); // -1: error
 *	host = map_db_common_conf_str(conf, "hosts", "localhost");
 *	...
 *	map_db_common_conf_warn_unused(conf);
 *
 * and lookup:
 *
 *	switch (map_db_common_check_domain(db, key)) ...  // 1 ask, 0 not
 *							   // found, -1 tempfail
 *	if (map_db_common_expand(db, query, key, NULL, q, quote, qctx) <= 0)
 *		not found (0: the key lacks a part the templates need);
 *	... for each value returned by the server:
 *	switch (map_db_common_result(db, value, key, out, &count)) ...
 *	empty out: not found.
 *
 * Parameter files: main.cf syntax (readlline: comments, continuation
 * lines), "name = value" with blanks around name and value removed.
 * Values are raw: no $name expansion, no quote removal.  A name given
 * twice: the last wins, with a warning.  A line without '=' is an open
 * error naming file and line.  Every parameter a driver reads is marked
 * used; map_db_common_conf_warn_unused() warns "FILE, line N: unused
 * parameter: name=value" for the others (typos, or a mysql parameter in
 * an ldap file).
 *
 * Expansion (one template, "%" sequences):
 *   %%  a literal '%'
 *   %s  the whole key (query) / the whole value (result_format)
 *   %u  the local part (text before the last '@'; the whole string when
 *       there is no '@'); an empty local part ("@domain") suppresses
 *   %d  the domain (after the last '@'); no '@' or empty domain suppresses
 *   %S %U %D  the same parts of the lookup KEY (in a query: = %s %u %d)
 *   %1..%9    the n-th label of the KEY's domain counted from the right
 *       (user@mail.example.com: %1=com %2=example %3=mail); no domain or
 *       too few labels suppresses
 * Any other character after '%' (or a '%' at the end) is refused by
 * map_db_common_parse().  In a query, each substituted part goes through
 * the driver's quote callback (RFC 4515 for an LDAP filter, RFC 4514 for
 * a DN, the client library's escaping for SQL); the template's own text
 * is copied as is.  Results are not quoted.
 *
 * "Suppressed" is Postfix's rule: when the key (or a result value)
 * lacks a part some template of the table needs, nothing is sent to the
 * server and the lookup is "not found" (the value is skipped).  The
 * parts needed are collected from every template given to
 * map_db_common_parse() (and result_format), so a key without a domain
 * is never queried when any template uses %d.
 *
 * domain (a list of names, /file names and type:table, "!" negates,
 * separated by blanks and commas; first match decides, compared without
 * case, no parent-domain matching): when set, only keys "user@domain"
 * with a non-empty user and a matching domain are queried; other keys are
 * "not found" without a query.  A type:table pattern is opened with
 * map_open() at map_db_common_open() time and looked up with the domain;
 * its temporary error makes the lookup a temporary error.
 *
 * expansion_limit (default 0 = none): the number of result elements; the
 * one past the limit makes map_db_common_result() return -1 and the
 * lookup must be MAP_TEMPFAIL (Postfix: "Expansion limit exceeded").
 *
 * Nothing here exits or logs except the warnings named above; all errors
 * come back as malloc'd one-line texts in *err_r (free them). */
#ifndef POSTINO_UTIL_MAP_DB_COMMON_H
#define POSTINO_UTIL_MAP_DB_COMMON_H

#include <stddef.h>

#include "buf.h"

/* ---- parameter files ---- */

struct map_db_conf;

/* map_db_common_conf_open - read a parameter file.  NULL with *err_r set
 * ("open /x.cf: No such file or directory", "/x.cf, line 3: missing '='
 * after attribute name"). */
struct map_db_conf *map_db_common_conf_open(const char *path, char **err_r);
/* map_db_common_conf_path - the file name given to conf_open. */
const char *map_db_common_conf_path(const struct map_db_conf *conf);
/* map_db_common_conf_str - the raw value of name, or def (may be NULL)
 * when the file does not set it.  The pointer lives as long as conf.
 * Marks name used. */
const char *map_db_common_conf_str(struct map_db_conf *conf, const char *name,
    const char *def);
/* map_db_common_conf_has - does the file set name?  (Does not mark.) */
int map_db_common_conf_has(const struct map_db_conf *conf, const char *name);
/* map_db_common_conf_int - a decimal number in [min, max], or def when
 * unset.  0 ok, -1 with *err_r ("/x.cf: timeout: bad numerical value
 * \"ten\" (expected 0..2147483647)").  Marks name used. */
int map_db_common_conf_int(struct map_db_conf *conf, const char *name,
    long def, long min, long max, long *val_r, char **err_r);
/* map_db_common_conf_bool - yes/no (also true/false, 1/0, any case), or
 * def when unset.  0 ok, -1 with *err_r.  Marks name used. */
int map_db_common_conf_bool(struct map_db_conf *conf, const char *name,
    int def, int *val_r, char **err_r);
/* map_db_common_conf_line - the line where name was set, 0 if unset. */
int map_db_common_conf_line(const struct map_db_conf *conf, const char *name);
/* map_db_common_conf_warn_unused - msg_warn once per parameter that no
 * conf_str/int/bool call asked for. */
void map_db_common_conf_warn_unused(const struct map_db_conf *conf);
void map_db_common_conf_free(struct map_db_conf **confp);

/* ---- expansion, domain, results ---- */

/* Parts the templates need (map_db_common_flags()). */
#define MAP_DB_KEY_USER		(1 << 0)	/* %u in a query, %U */
#define MAP_DB_KEY_DOMAIN	(1 << 1)	/* %d in a query, %D, %1-9 */
#define MAP_DB_VALUE_USER	(1 << 2)	/* %u in result_format */
#define MAP_DB_VALUE_DOMAIN	(1 << 3)	/* %d in result_format */

struct map_db_common;

/* map_db_common_quote_fn - append text[0..len) to out, quoted for the
 * query language; 0, or -1 when out is full. */
typedef int (*map_db_common_quote_fn)(struct buf *out, const char *text,
    size_t len, void *ctx);

/* map_db_common_open - read the shared parameters from conf: domain,
 * result_format (old name result_filter; default "%s") and
 * expansion_limit.  title ("ldap:/etc/postino/users.cf") prefixes
 * messages.  NULL with *err_r on a bad value or an unopenable domain
 * table.  conf must outlive the result. */
struct map_db_common *map_db_common_open(struct map_db_conf *conf,
    const char *title, char **err_r);
void map_db_common_free(struct map_db_common **dbp);

/* map_db_common_parse - check a template and note the parts it needs.
 * query: 1 for a query/filter/search base (lower case = key), 0 for a
 * result template (lower case = value).  what names the parameter for
 * the error text.  Returns 1 when the template contains expansions, 0
 * when it is fixed text, -1 with *err_r ("/x.cf: query_filter: invalid
 * expansion %x in \"(mail=%x)\""). */
int map_db_common_parse(struct map_db_common *db, const char *format,
    int query, const char *what, char **err_r);
/* map_db_common_flags - MAP_DB_* bits gathered by the parse calls. */
int map_db_common_flags(const struct map_db_common *db);
/* map_db_common_result_format - the result template in use. */
const char *map_db_common_result_format(const struct map_db_common *db);
/* map_db_common_expansion_limit - the expansion_limit value (0: none). */
long map_db_common_expansion_limit(const struct map_db_common *db);
/* map_db_common_has_domain - is a domain filter configured? */
int map_db_common_has_domain(const struct map_db_common *db);

/* map_db_common_check_domain - should key be sent to the server?  1 yes;
 * 0 no (not found, no error); -1 temporary error of a domain table, with
 * *why_r pointing at a reason owned by db (valid until the next call). */
int map_db_common_check_domain(struct map_db_common *db, const char *key,
    const char **why_r);

/* map_db_common_expand - append the expansion of format to out.
 * Query mode (key == NULL): value is the lookup key; quote (may be NULL)
 * is applied to every substituted part; an empty key is suppressed with
 * Postfix's warning 'table "TITLE": empty query string -- ignored'.
 * Result mode (key != NULL): value is one result value, key the lookup
 * key; quote is ignored and an empty value is skipped.  Returns 1 when
 * appended, 0 when suppressed (key or value lacks a needed part; out is
 * left as it was), -1 when out reached its maximum (out left as it was). */
int map_db_common_expand(struct map_db_common *db, const char *format,
    const char *value, const char *key, struct buf *out,
    map_db_common_quote_fn quote, void *qctx);

/* map_db_common_result - add one server value to the lookup's answer:
 * expand result_format with it, joining elements with ",".  An empty
 * value is skipped with Postfix's warning 'table "TITLE": empty lookup
 * result for: "KEY" -- ignored'.  *count_io
 * counts the elements added (start at 0).  Returns 1 added, 0 skipped,
 * -1 when expansion_limit is exceeded (or out is full): the lookup must
 * then be MAP_TEMPFAIL. */
int map_db_common_result(struct map_db_common *db, const char *value,
    const char *key, struct buf *out, long *count_io);

#endif

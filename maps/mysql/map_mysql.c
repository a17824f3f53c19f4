/* SPDX-License-Identifier: MIT */
/* map_mysql - mysql: tables over MariaDB Connector/C (mysql_table(5)).
 *
 * "mysql:/etc/postino/file.cf" names a parameter file (main.cf syntax,
 * values raw; read by map_db_common).  Each lookup expands `query` with
 * the key (%s %u %d %S %U %D %1-9 %%, every substituted part escaped with
 * mysql_real_escape_string() on the connection that will run it), sends
 * it to the first usable server of `hosts`, and joins every non-NULL
 * column of every row, passed through result_format, with ",".  Zero rows
 * (or only NULL/empty columns) is "not found".  The shared rules
 * (domain, result_format, expansion_limit, suppressed queries) live in
 * map_db_common.
 *
 * Servers.  `hosts` lists unix:/path, inet:host[:port] or host[:port]
 * (default "localhost", which the client library takes as its default
 * UNIX socket).  They are tried in the order written (Postfix shuffles
 * them; an administrator who lists a primary first means it).  One
 * connection per server is kept open and reused; one idle longer than
 * idle_interval is closed before use.  A reused connection that fails
 * with a client error (server restarted, connection dropped) is
 * re-opened once at once; a server that cannot be reached, or fails on a
 * fresh connection, is skipped for retry_interval seconds and the next
 * one is tried.  When no server answers, the lookup is MAP_TEMPFAIL with
 * a reason naming each server and its error.  An SQL error reported by
 * the server (bad query, missing table) is MAP_TEMPFAIL at once: another
 * replica would say the same.  connect_timeout, read_timeout and
 * write_timeout (postino additions, seconds) bound every wait, so a
 * server that hangs (SIGSTOP) costs at most those timeouts per lookup.
 *
 * Stored procedures: `query = CALL p('%s')` works (multi-results are
 * enabled); a statement that returns no result set is an error unless
 * require_result_set = no, when it is "not found".  Two result sets are
 * an error.
 *
 * Explain mode (MAP_FLAG_EXPLAIN, postmap -x): the domain decision, each
 * server tried and its error, the exact query sent (as escaped) and the
 * server that answered, the row count and the answer.
 *
 * Lookups block (MAP_CAP_BLOCKING); nothing here exits or logs except
 * the parameter-file warnings of map_db_common. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>

#include "buf.h"
#include "map.h"
#include "map_db_common.h"
#include "map_driver.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define MYSQL_QUERY_MAX		(256 * 1024)	/* expanded query, bytes */
#define MYSQL_RESULT_MAX	(1024 * 1024)	/* joined answer, bytes */
#define MYSQL_REASON_MAX	1024		/* one host's last error */

struct mysql_host {
	char *spec;		/* as written: "inet:db1:3306" */
	char *host;		/* TCP host name or address, or NULL */
	char *socket;		/* UNIX socket path, or NULL */
	unsigned port;		/* 0: the client library's default */
	MYSQL *db;		/* open connection, or NULL */
	time_t last_used;	/* end of the last successful query */
	time_t down_until;	/* skip until then (retry_interval) */
	char reason[MYSQL_REASON_MAX];	/* why it was marked down */
};

struct map_mysql {
	struct map map;
	struct map_db_conf *conf;
	struct map_db_common *db;
	char *query;		/* the template (query, or legacy fields) */
	const char *user;
	const char *password;
	const char *dbname;
	const char *charset;
	const char *option_file;
	const char *option_group;
	const char *tls_cert_file;
	const char *tls_key_file;
	const char *tls_cafile;
	const char *tls_capath;
	const char *tls_ciphers;
	int tls_verify_cert;
	int require_result_set;
	long connect_timeout;
	long read_timeout;
	long write_timeout;
	long idle_interval;
	long retry_interval;
	struct mysql_host *hosts;
	int nhosts;
	struct buf *qbuf;	/* expanded query */
	struct buf *result;	/* the answer */
	struct buf *why;	/* every host's failure, for the reason */
};

/* Outcome of one query on one connection. */
enum mysql_run {
	MYSQL_RUN_OK,		/* answered (found or not: see result) */
	MYSQL_RUN_CLIENT,	/* connection-level failure: try again/next */
	MYSQL_RUN_SERVER,	/* the server refused the statement */
	MYSQL_RUN_LIMIT,	/* expansion_limit exceeded */
	MYSQL_RUN_NORESULT,	/* no result set, require_result_set = yes */
	MYSQL_RUN_MULTI,	/* more than one result set */
};

/* map_mysql_quote - the SQL quoting callback: the client library escapes
 * for the connection's character set and SQL mode. */
static int
map_mysql_quote(struct buf *out, const char *text, size_t len, void *ctx)
{
	MYSQL *db = ctx;
	unsigned long n;

	if (len > MYSQL_QUERY_MAX || buf_reserve(out, 2 * len + 1) < 0)
		return -1;
	n = mysql_real_escape_string(db, out->data + out->len, text,
	    (unsigned long)len);
	if (n == (unsigned long)-1)
		return -1;
	out->len += n;
	out->data[out->len] = 0;
	return 0;
}

/* map_mysql_parse_hosts - split `hosts` into the host table; NULL, or a
 * malloc'd error. */
static char *
map_mysql_parse_hosts(struct map_mysql *mm, const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *tok;
	char *err = NULL;

	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
		struct mysql_host *h;
		char *hp, *colon;

		mm->hosts = xreallocarray(mm->hosts, (size_t)mm->nhosts + 1,
		    sizeof(*mm->hosts));
		h = &mm->hosts[mm->nhosts++];
		memset(h, 0, sizeof(*h));
		h->spec = xstrdup(tok);
		if (strncasecmp(tok, "unix:", 5) == 0) {
			if (tok[5] == 0) {
				err = map_errorf("%s: hosts: empty UNIX socket path in \"%s\"",
				    map_db_common_conf_path(mm->conf), tok);
				break;
			}
			h->socket = xstrdup(tok + 5);
			continue;
		}
		hp = strncasecmp(tok, "inet:", 5) == 0 ? tok + 5 : tok;
		if (*hp == '[') {	/* [v6addr] or [v6addr]:port */
			char *close = strchr(hp, ']');

			if (close == NULL || (close[1] != 0 && close[1] != ':')) {
				err = map_errorf("%s: hosts: malformed address \"%s\"",
				    map_db_common_conf_path(mm->conf), tok);
				break;
			}
			h->host = xstrndup(hp + 1, (size_t)(close - hp - 1));
			colon = close[1] == ':' ? close + 1 : NULL;
		} else {
			colon = strrchr(hp, ':');
			if (colon != NULL && strchr(hp, ':') != colon)
				colon = NULL;	/* bare IPv6 address, no port */
			h->host = colon ? xstrndup(hp, (size_t)(colon - hp))
			    : xstrdup(hp);
		}
		if (colon != NULL) {
			long port;

			if (str_to_long(colon + 1, &port) < 0 || port < 1
			    || port > 65535) {
				err = map_errorf("%s: hosts: bad port in \"%s\"",
				    map_db_common_conf_path(mm->conf), tok);
				break;
			}
			h->port = (unsigned)port;
		}
		if (*h->host == 0) {
			err = map_errorf("%s: hosts: empty host name in \"%s\"",
			    map_db_common_conf_path(mm->conf), tok);
			break;
		}
	}
	free(copy);
	if (err == NULL && mm->nhosts == 0)
		err = map_errorf("%s: hosts: no host given",
		    map_db_common_conf_path(mm->conf));
	return err;
}

/* map_mysql_close_host - drop a host's connection. */
static void
map_mysql_close_host(struct mysql_host *h)
{
	if (h->db != NULL) {
		mysql_close(h->db);
		h->db = NULL;
	}
}

/* map_mysql_down - mark a host unusable for retry_interval, keeping why
 * for the lookup's reason. */
static void
map_mysql_down(struct map_mysql *mm, struct mysql_host *h, const char *why)
{
	map_mysql_close_host(h);
	strlcpy(h->reason, why, sizeof(h->reason));
	h->down_until = time(NULL) + mm->retry_interval;
	map_explain(&mm->map, "%s: host %s: %s", mm->map.title, h->spec, why);
	buf_printf(mm->why, "%s%s: %s", buf_len(mm->why) ? "; " : "",
	    h->spec, why);
}

/* map_mysql_connect - open a connection to h with the table's options;
 * 0, or -1 with the client library's error in why (size MYSQL_REASON_MAX). */
static int
map_mysql_connect(struct map_mysql *mm, struct mysql_host *h, char *why)
{
	MYSQL *db;
	unsigned int t;

	if ((db = mysql_init(NULL)) == NULL) {
		strlcpy(why, "mysql_init: out of memory", MYSQL_REASON_MAX);
		return -1;
	}
	t = (unsigned int)mm->connect_timeout;
	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	t = (unsigned int)mm->read_timeout;
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &t);
	t = (unsigned int)mm->write_timeout;
	mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &t);
	if (*mm->option_file)
		mysql_options(db, MYSQL_READ_DEFAULT_FILE, mm->option_file);
	if (*mm->option_group)
		mysql_options(db, MYSQL_READ_DEFAULT_GROUP, mm->option_group);
	if (*mm->charset)
		mysql_options(db, MYSQL_SET_CHARSET_NAME, mm->charset);
	if (*mm->tls_key_file)
		mysql_options(db, MYSQL_OPT_SSL_KEY, mm->tls_key_file);
	if (*mm->tls_cert_file)
		mysql_options(db, MYSQL_OPT_SSL_CERT, mm->tls_cert_file);
	if (*mm->tls_cafile)
		mysql_options(db, MYSQL_OPT_SSL_CA, mm->tls_cafile);
	if (*mm->tls_capath)
		mysql_options(db, MYSQL_OPT_SSL_CAPATH, mm->tls_capath);
	if (*mm->tls_ciphers)
		mysql_options(db, MYSQL_OPT_SSL_CIPHER, mm->tls_ciphers);
	if (mm->tls_verify_cert) {
		my_bool on = 1;

		mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
	}
	if (h->socket != NULL) {
		unsigned int proto = MYSQL_PROTOCOL_SOCKET;

		mysql_options(db, MYSQL_OPT_PROTOCOL, &proto);
	}
	if (mysql_real_connect(db, h->socket ? "localhost" : h->host,
	    mm->user, mm->password, mm->dbname, h->port, h->socket,
	    CLIENT_MULTI_RESULTS) == NULL) {
		snprintf(why, MYSQL_REASON_MAX, "connect: %s", mysql_error(db));
		mysql_close(db);
		return -1;
	}
	h->db = db;
	h->last_used = time(NULL);
	return 0;
}

/* map_mysql_client_error - is this error the connection's (retry
 * elsewhere) rather than the statement's? */
static int
map_mysql_client_error(unsigned int err)
{
	return err >= CR_MIN_ERROR && err <= CR_MAX_ERROR;
}

/* map_mysql_rows - feed one result set to the answer. */
static enum mysql_run
map_mysql_rows(struct map_mysql *mm, MYSQL_RES *res, const char *key,
    long *count_io, unsigned long *rows_io)
{
	unsigned int nf = mysql_num_fields(res);
	enum mysql_run ret = MYSQL_RUN_OK;
	MYSQL_ROW row;

	while ((row = mysql_fetch_row(res)) != NULL) {
		*rows_io += 1;
		if (ret != MYSQL_RUN_OK)
			continue;	/* read the rest: keep the protocol in step */
		for (unsigned int i = 0; i < nf; i++) {
			if (row[i] == NULL)	/* NULL: no output */
				continue;
			if (map_db_common_result(mm->db, row[i], key, mm->result,
			    count_io) < 0) {
				ret = MYSQL_RUN_LIMIT;
				break;
			}
		}
	}
	return ret;
}

/* map_mysql_run - send mm->qbuf on h's connection and collect the
 * answer in mm->result; *why_r gets the error text on failure. */
static enum mysql_run
map_mysql_run(struct map_mysql *mm, struct mysql_host *h, const char *key,
    unsigned long *rows_r, const char **why_r)
{
	MYSQL *db = h->db;
	enum mysql_run ret = MYSQL_RUN_OK;
	long count = 0;
	int sets = 0, status;

	*rows_r = 0;
	*why_r = NULL;
	buf_reset(mm->result);
	if (mysql_real_query(db, buf_str(mm->qbuf), buf_len(mm->qbuf)) != 0) {
		*why_r = mysql_error(db);
		return map_mysql_client_error(mysql_errno(db)) ? MYSQL_RUN_CLIENT
		    : MYSQL_RUN_SERVER;
	}
	do {
		MYSQL_RES *res = mysql_store_result(db);

		if (res != NULL) {
			enum mysql_run r;

			if (++sets > 1) {
				if (ret == MYSQL_RUN_OK)
					ret = MYSQL_RUN_MULTI;
			}
			r = map_mysql_rows(mm, res, key, &count, rows_r);
			if (ret == MYSQL_RUN_OK)
				ret = r;
			mysql_free_result(res);
		} else if (mysql_field_count(db) != 0 || mysql_errno(db) != 0) {
			*why_r = mysql_error(db);
			return map_mysql_client_error(mysql_errno(db))
			    ? MYSQL_RUN_CLIENT : MYSQL_RUN_SERVER;
		}
		status = mysql_next_result(db);
	} while (status == 0);
	if (status > 0) {
		*why_r = mysql_error(db);
		return map_mysql_client_error(mysql_errno(db)) ? MYSQL_RUN_CLIENT
		    : MYSQL_RUN_SERVER;
	}
	if (ret == MYSQL_RUN_OK && sets == 0 && mm->require_result_set)
		ret = MYSQL_RUN_NORESULT;
	return ret;
}

/* map_mysql_lookup - one key: domain filter, suppression, then the
 * servers in order. */
static enum map_status
map_mysql_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_mysql *mm = (struct map_mysql *)map;
	const char *why;
	int tried = 0, skipped = 0;
	time_t now;

	switch (map_db_common_check_domain(mm->db, key, &why)) {
	case -1:
		map_set_reason(map, "%s: domain lookup for \"%s\": %s",
		    map->title, key, why);
		return MAP_TEMPFAIL;
	case 0:
		map_explain(map, "%s: \"%s\" is outside the domain list: no query",
		    map->title, key);
		return MAP_NOTFOUND;
	default:
		break;
	}

	/* A key that lacks a part the templates need is never sent. */
	buf_reset(mm->qbuf);
	switch (map_db_common_expand(mm->db, mm->query, key, NULL, mm->qbuf,
	    NULL, NULL)) {
	case 0:
		map_explain(map, "%s: \"%s\" lacks a part the query or result_format needs: no query",
		    map->title, key);
		return MAP_NOTFOUND;
	case -1:
		map_set_reason(map, "%s: query for \"%s\" is longer than %d bytes",
		    map->title, key, MYSQL_QUERY_MAX);
		return MAP_TEMPFAIL;
	default:
		break;
	}

	buf_reset(mm->why);
	now = time(NULL);
	for (int i = 0; i < mm->nhosts; i++) {
		struct mysql_host *h = &mm->hosts[i];
		char cwhy[MYSQL_REASON_MAX];
		unsigned long rows;

		if (h->db != NULL && mm->idle_interval > 0
		    && now - h->last_used > mm->idle_interval)
			map_mysql_close_host(h);
		if (h->db == NULL && h->down_until > now) {
			map_explain(map, "%s: host %s: skipped for %lld s more (%s)",
			    map->title, h->spec,
			    (long long)(h->down_until - now), h->reason);
			buf_printf(mm->why, "%s%s: %s (skipped until retry_interval passes)",
			    buf_len(mm->why) ? "; " : "", h->spec, h->reason);
			skipped++;
			continue;
		}
		tried++;
		/* A reused connection gets one fresh retry on a client error:
		 * the server may have been restarted since. */
		for (int attempt = 0; attempt < 2; attempt++) {
			int fresh = 0;
			enum mysql_run run;

			if (h->db == NULL) {
				if (map_mysql_connect(mm, h, cwhy) < 0) {
					map_mysql_down(mm, h, cwhy);
					break;
				}
				fresh = 1;
			}
			buf_reset(mm->qbuf);
			if (map_db_common_expand(mm->db, mm->query, key, NULL,
			    mm->qbuf, map_mysql_quote, h->db) <= 0) {
				map_set_reason(map, "%s: query for \"%s\" is longer than %d bytes",
				    map->title, key, MYSQL_QUERY_MAX);
				return MAP_TEMPFAIL;
			}
			map_explain(map, "%s: query sent to %s: %s", map->title,
			    h->spec, buf_str(mm->qbuf));
			run = map_mysql_run(mm, h, key, &rows, &why);
			switch (run) {
			case MYSQL_RUN_OK:
				h->last_used = time(NULL);
				h->down_until = 0;
				map_explain(map, "%s: %s answered %lu row%s: %s%s%s",
				    map->title, h->spec, rows, rows == 1 ? "" : "s",
				    buf_len(mm->result) ? "\"" : "not found",
				    buf_str(mm->result),
				    buf_len(mm->result) ? "\"" : "");
				if (buf_len(mm->result) == 0)
					return MAP_NOTFOUND;
				*value_r = buf_str(mm->result);
				return MAP_FOUND;
			case MYSQL_RUN_LIMIT:
				h->last_used = time(NULL);
				map_explain(map, "%s: %s answered %lu rows: expansion limit exceeded",
				    map->title, h->spec, rows);
				map_set_reason(map, "%s: lookup of \"%s\": expansion limit %ld exceeded",
				    map->title, key,
				    map_db_common_expansion_limit(mm->db));
				return MAP_TEMPFAIL;
			case MYSQL_RUN_NORESULT:
				h->last_used = time(NULL);
				map_explain(map, "%s: %s returned no result set",
				    map->title, h->spec);
				map_set_reason(map, "%s: query for \"%s\" returned no result set (set require_result_set = no to make that \"not found\")",
				    map->title, key);
				return MAP_TEMPFAIL;
			case MYSQL_RUN_MULTI:
				h->last_used = time(NULL);
				map_set_reason(map, "%s: query for \"%s\" returned more than one result set",
				    map->title, key);
				return MAP_TEMPFAIL;
			case MYSQL_RUN_SERVER:
				map_explain(map, "%s: %s: query error: %s",
				    map->title, h->spec, why);
				map_set_reason(map, "%s: query for \"%s\" on %s: %s",
				    map->title, key, h->spec, why);
				/* The connection may be mid-protocol: start over. */
				map_mysql_close_host(h);
				return MAP_TEMPFAIL;
			case MYSQL_RUN_CLIENT:
				snprintf(cwhy, sizeof(cwhy), "query: %s", why);
				if (!fresh) {
					map_explain(map, "%s: host %s: %s; reconnecting",
					    map->title, h->spec, cwhy);
					map_mysql_close_host(h);
					continue;
				}
				map_mysql_down(mm, h, cwhy);
				break;
			}
			break;
		}
	}
	if (tried == 0 && skipped > 0)
		map_set_reason(map, "%s: lookup of \"%s\": every host failed recently: %s",
		    map->title, key, buf_str(mm->why));
	else
		map_set_reason(map, "%s: lookup of \"%s\": no host answered: %s",
		    map->title, key, buf_str(mm->why));
	return MAP_TEMPFAIL;
}

static void
map_mysql_close(struct map *map)
{
	struct map_mysql *mm = (struct map_mysql *)map;

	for (int i = 0; i < mm->nhosts; i++) {
		map_mysql_close_host(&mm->hosts[i]);
		free(mm->hosts[i].spec);
		free(mm->hosts[i].host);
		free(mm->hosts[i].socket);
	}
	free(mm->hosts);
	free(mm->query);
	buf_free(&mm->qbuf);
	buf_free(&mm->result);
	buf_free(&mm->why);
	map_db_common_free(&mm->db);
	map_db_common_conf_free(&mm->conf);
	map_free_base(map);
}

/* map_mysql_params - read everything but hosts and the query; NULL or
 * a malloc'd error. */
static char *
map_mysql_params(struct map_mysql *mm)
{
	struct map_db_conf *c = mm->conf;
	char *err = NULL;

	mm->user = map_db_common_conf_str(c, "user", "");
	mm->password = map_db_common_conf_str(c, "password", "");
	mm->dbname = map_db_common_conf_str(c, "dbname", "");
	mm->charset = map_db_common_conf_str(c, "charset", "utf8mb4");
	mm->option_file = map_db_common_conf_str(c, "option_file", "");
	mm->option_group = map_db_common_conf_str(c, "option_group", "client");
	mm->tls_cert_file = map_db_common_conf_str(c, "tls_cert_file", "");
	mm->tls_key_file = map_db_common_conf_str(c, "tls_key_file", "");
	mm->tls_cafile = map_db_common_conf_str(c, "tls_CAfile", "");
	mm->tls_capath = map_db_common_conf_str(c, "tls_CApath", "");
	mm->tls_ciphers = map_db_common_conf_str(c, "tls_ciphers", "");
	if (map_db_common_conf_bool(c, "tls_verify_cert", 0,
	    &mm->tls_verify_cert, &err) < 0
	    || map_db_common_conf_bool(c, "require_result_set", 1,
	    &mm->require_result_set, &err) < 0
	    || map_db_common_conf_int(c, "connect_timeout", 5, 1, 3600,
	    &mm->connect_timeout, &err) < 0
	    || map_db_common_conf_int(c, "read_timeout", 10, 1, 3600,
	    &mm->read_timeout, &err) < 0
	    || map_db_common_conf_int(c, "write_timeout", 10, 1, 3600,
	    &mm->write_timeout, &err) < 0
	    || map_db_common_conf_int(c, "idle_interval", 60, 0, 86400,
	    &mm->idle_interval, &err) < 0
	    || map_db_common_conf_int(c, "retry_interval", 60, 0, 86400,
	    &mm->retry_interval, &err) < 0)
		return err;
	if (*mm->dbname == 0)
		return map_errorf("%s: dbname: required parameter not set",
		    map_db_common_conf_path(c));
	return NULL;
}

/* map_mysql_build_query - `query`, or the legacy select_field, table,
 * where_field and additional_conditions; NULL or a malloc'd error. */
static char *
map_mysql_build_query(struct map_mysql *mm)
{
	struct map_db_conf *c = mm->conf;
	const char *q = map_db_common_conf_str(c, "query", NULL);
	const char *sel, *tab, *where, *cond;
	struct buf *b;

	/* The legacy parameters are read (marked used) either way: a file
	 * that sets both is valid and the query wins. */
	sel = map_db_common_conf_str(c, "select_field", NULL);
	tab = map_db_common_conf_str(c, "table", NULL);
	where = map_db_common_conf_str(c, "where_field", NULL);
	cond = map_db_common_conf_str(c, "additional_conditions", "");
	if (q != NULL && *q != 0) {
		mm->query = xstrdup(q);
		return NULL;
	}
	if (sel == NULL || tab == NULL || where == NULL
	    || !*sel || !*tab || !*where)
		return map_errorf("%s: query: required parameter not set (nor the legacy select_field, table and where_field)",
		    map_db_common_conf_path(c));
	b = buf_new(128, BUF_NOLIMIT);
	buf_printf(b, "SELECT %s FROM %s WHERE %s='%%s' %s", sel, tab, where,
	    cond);
	mm->query = xstrdup(trimblanks(b->data));
	buf_free(&b);
	return NULL;
}

/* map_mysql_open - open mysql:/path/to/file.cf (no connection yet: the
 * first lookup connects). */
static struct map *
map_mysql_open(const char *name, int open_flags, int flags, char **err_r);

static const struct map_driver map_mysql_driver = {
	.magic = MAP_DRIVER_MAGIC,
	.abi = MAP_ABI_VERSION,
	.type = "mysql",
	.caps = MAP_CAP_FIXED | MAP_CAP_BLOCKING,
	.open = map_mysql_open,
};

static struct map *
map_mysql_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_mysql *mm;
	char *err = NULL;

	if ((open_flags & O_ACCMODE) != O_RDONLY) {
		*err_r = map_errorf("mysql:%s: the table is read-only", name);
		return NULL;
	}
	if (*name != '/' && *name != '.') {
		*err_r = map_errorf("mysql:%s: parameters in main.cf (%s_hosts, ...) are not supported: name a parameter file by its path",
		    name, name);
		return NULL;
	}
	mm = (struct map_mysql *)map_alloc(sizeof(*mm), &map_mysql_driver, name,
	    open_flags, flags);
	mm->qbuf = buf_new(256, MYSQL_QUERY_MAX);
	mm->result = buf_new(256, MYSQL_RESULT_MAX);
	mm->why = buf_new(128, 8192);
	mm->map.lookup = map_mysql_lookup;
	mm->map.close = map_mysql_close;
	if ((mm->conf = map_db_common_conf_open(name, &err)) == NULL
	    || (mm->db = map_db_common_open(mm->conf, mm->map.title, &err)) == NULL
	    || (err = map_mysql_params(mm)) != NULL
	    || (err = map_mysql_parse_hosts(mm,
		map_db_common_conf_str(mm->conf, "hosts", "localhost"))) != NULL
	    || (err = map_mysql_build_query(mm)) != NULL
	    || map_db_common_parse(mm->db, mm->query, 1, "query", &err) < 0) {
		*err_r = err;
		map_mysql_close(&mm->map);
		return NULL;
	}
	map_db_common_conf_warn_unused(mm->conf);
	return &mm->map;
}

/* map_mysql_init - the client library's one-time set-up (not thread-safe
 * itself, so done when the module is loaded). */
static int
map_mysql_init(void)
{
	return mysql_library_init(0, NULL, NULL) != 0 ? -1 : 0;
}

static const struct map_driver *const map_mysql_drivers[] = {
	&map_mysql_driver,
	NULL,
};

/* The module entry named in dynamicmaps.cf: the only exported symbol. */
__attribute__((visibility("default")))
const struct map_module postino_map_mysql = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module),
	.name = "map_mysql",
	.init = map_mysql_init,
	.drivers = map_mysql_drivers,
};

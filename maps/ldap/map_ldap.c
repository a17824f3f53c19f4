/* SPDX-License-Identifier: MIT */
/* map_ldap - ldap: tables over the OpenLDAP client library (ldap_table(5)).
 *
 * "ldap:/etc/postino/users.cf" names a parameter file (main.cf syntax,
 * values raw; map_db_common).  A lookup checks the `domain` filter,
 * expands search_base (RFC 4514 quoting of the key's parts) and
 * query_filter (RFC 4515 quoting: * ( ) \ NUL become \2A \28 \29 \5C
 * \00), searches, and joins every value of every result attribute of
 * every entry, passed through result_format, with ",".  Values of
 * special_result_attribute are DNs or LDAP URLs searched in turn (up to
 * recursion_limit deep); terminal_result_attribute and
 * leaf_result_attribute work as in ldap_table(5).  No values: not found.
 *
 * Servers: server_host lists host, host:port (server_port by default) or
 * ldap://, ldaps://, ldapi:// URLs, tried in order.  The connection is
 * opened at the first lookup (not at open) and kept.  When a search on a
 * kept connection fails with a connection error, the driver reconnects at
 * once and asks again (the server was restarted); a server that refuses,
 * times out or fails on a fresh connection is left for the next one in the
 * list, each server at most once per lookup.  When none answers the lookup
 * is MAP_TEMPFAIL with a one-line reason naming the servers and the
 * library's error text.  `timeout` bounds the connect (network timeout),
 * the bind and each search (local wait and server time limit), so a hung
 * server costs at most about `timeout` seconds per server.
 *
 * Postfix's defaults, as Postfix 3.7 behaves: version 3 (ldap_table(5) of
 * 3.7 says so, and Debian's postfix-ldap binds with v3 by default), bind
 * yes (anonymous when bind_dn is empty), scope sub, query_filter
 * mailacceptinggeneralid=%s, result_attribute maildrop, size_limit =
 * expansion_limit, recursion_limit 1000, dereference 0, no referrals.
 *
 * Beyond Postfix: a lookup makes at most MAP_LDAP_MAX_SEARCHES searches
 * (a group that contains itself many times cannot fan out without end);
 * with MAP_FLAG_EXPLAIN the filter and base sent, the server that
 * answered and the entry and value counts are recorded.
 *
 * Never exits; the map owns its answer until the next call.  Logs a
 * warning for each server that fails, each DN of a special attribute
 * that does not exist, and each value skipped because it holds a NUL. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ldap.h>

#include "buf.h"
#include "map_db_common.h"
#include "map_driver.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* Searches per lookup, recursion included. */
#define MAP_LDAP_MAX_SEARCHES	10000

/* Longest expanded filter or base, and longest answer. */
#define MAP_LDAP_QUERY_MAX	(64 * 1024)
#define MAP_LDAP_RESULT_MAX	(16 * 1024 * 1024)

enum map_ldap_bind {
	MAP_LDAP_BIND_NONE,
	MAP_LDAP_BIND_SIMPLE,
};

/* Outcome of one step of a lookup. */
enum map_ldap_rc {
	ML_OK,			/* done, answer (possibly empty) in result */
	ML_CONN,		/* connection-level error: try another server */
	ML_FAIL,		/* lookup error on a working connection */
};

struct map_ldap {
	struct map map;
	struct map_db_conf *conf;
	struct map_db_common *db;

	/* Servers and the connection. */
	char **urls;
	int nurls;
	int cur;		/* index of the connected server */
	LDAP *ld;		/* NULL when not connected */

	/* Parameters. */
	const char *search_base;
	int base_dynamic;	/* search_base depends on the key */
	const char *query_filter;
	int scope;
	char **result_attr;	/* NULL-terminated lists */
	char **special_attr;
	char **leaf_attr;
	char **terminal_attr;
	char **attrs;		/* all of the above, requested from the server */
	enum map_ldap_bind bind;
	const char *bind_dn;
	const char *bind_pw;
	int version;
	long timeout;
	long size_limit;
	long recursion_limit;
	int deref;
	int chase_referrals;
	int start_tls;
	int tls_require_cert;
	const char *tls_ca_cert_file;
	const char *tls_ca_cert_dir;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_cipher_suite;
	const char *tls_random_file;

	/* Per lookup. */
	struct buf *base;
	struct buf *filter;
	struct buf *result;
	struct buf *value;
	struct buf *why;
	const char *key;
	long count;		/* result elements (expansion_limit) */
	long searches;
	long entries;
	long values;
	int last_rc;		/* LDAP code of the last server failure */
};

/* ---- quoting ---- */

static const char map_ldap_hex[] = "0123456789ABCDEF";

/* map_ldap_hexbyte - append "\XX". */
static int
map_ldap_hexbyte(struct buf *out, unsigned char ch)
{
	char esc[3] = { '\\', map_ldap_hex[ch >> 4], map_ldap_hex[ch & 15] };

	return buf_append(out, esc, sizeof(esc));
}

/* map_ldap_quote_filter - RFC 4515 value escaping for query_filter. */
static int
map_ldap_quote_filter(struct buf *out, const char *text, size_t len,
    void *ctx)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		int rc;

		if (ch == '*' || ch == '(' || ch == ')' || ch == '\\' || ch == 0)
			rc = map_ldap_hexbyte(out, ch);
		else
			rc = buf_putc(out, ch);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* map_ldap_quote_dn - RFC 4514 attribute-value escaping for search_base
 * (every special character as \XX, blanks too, wherever they are). */
static int
map_ldap_quote_dn(struct buf *out, const char *text, size_t len, void *ctx)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		int rc;

		if (strchr(" \t\"#+,;<>\\=", ch) != NULL || ch < 0x20
		    || ch == 0x7f)
			rc = map_ldap_hexbyte(out, ch);
		else
			rc = buf_putc(out, ch);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- parameters ---- */

/* map_ldap_list - split an attribute list (blanks and commas). */
static char **
map_ldap_list(const char *text)
{
	char *copy = xstrdup(text), *cp = copy, *item;
	char **list = NULL;
	size_t n = 0;

	while ((item = mystrtok(&cp, " \t\r\n,")) != NULL) {
		list = xreallocarray(list, n + 2, sizeof(*list));
		list[n++] = xstrdup(item);
	}
	if (list == NULL)
		list = xcalloc(1, sizeof(*list));
	list[n] = NULL;
	free(copy);
	return list;
}

static void
map_ldap_list_free(char ***listp)
{
	char **list = *listp;

	if (list == NULL)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
	*listp = NULL;
}

/* map_ldap_in_list - is attribute name in list (case-insensitive)? */
static int
map_ldap_in_list(char **list, const char *name)
{
	for (; *list; list++)
		if (strcasecmp(*list, name) == 0)
			return 1;
	return 0;
}

/* map_ldap_servers - build the URL list from server_host/server_port. */
static int
map_ldap_servers(struct map_ldap *ml, const char *hosts, long port,
    char **err_r)
{
	char *copy = xstrdup(hosts), *cp = copy, *item;

	while ((item = mystrtok(&cp, " \t\r\n,")) != NULL) {
		char *url;

		if (strstr(item, "://") != NULL) {
			if (!ldap_is_ldap_url(item) && strncasecmp(item, "ldaps://", 8)
			    && strncasecmp(item, "ldapi://", 8)) {
				*err_r = map_errorf("%s: server_host: not an LDAP URL: %s",
				    ml->map.title, item);
				free(copy);
				return -1;
			}
			url = xstrdup(item);
		} else if (strchr(item, ':') != NULL && item[0] != '[') {
			url = concatenate("ldap://", item, (char *)NULL);
		} else {
			char portbuf[16];

			snprintf(portbuf, sizeof(portbuf), "%ld", port);
			url = concatenate("ldap://", item, ":", portbuf,
			    (char *)NULL);
		}
		{
			LDAPURLDesc *lud = NULL;

			if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS) {
				*err_r = map_errorf("%s: server_host: bad server \"%s\"",
				    ml->map.title, item);
				free(url);
				free(copy);
				return -1;
			}
			ldap_free_urldesc(lud);
		}
		ml->urls = xreallocarray(ml->urls, (size_t)ml->nurls + 1,
		    sizeof(*ml->urls));
		ml->urls[ml->nurls++] = url;
	}
	free(copy);
	if (ml->nurls == 0) {
		*err_r = map_errorf("%s: server_host: no server", ml->map.title);
		return -1;
	}
	return 0;
}

/* map_ldap_config - read every parameter; -1 with *err_r. */
static int
map_ldap_config(struct map_ldap *ml, char **err_r)
{
	struct map_db_conf *conf = ml->conf;
	const char *s;
	long port, v;
	int dyn, b;

	if (map_db_common_conf_int(conf, "server_port", 389, 1, 65535, &port,
	    err_r) < 0)
		return -1;
	if (map_ldap_servers(ml, map_db_common_conf_str(conf, "server_host",
	    "localhost"), port, err_r) < 0)
		return -1;

	ml->search_base = map_db_common_conf_str(conf, "search_base", "");
	if ((dyn = map_db_common_parse(ml->db, ml->search_base, 1,
	    "search_base", err_r)) < 0)
		return -1;
	ml->base_dynamic = dyn;
	ml->query_filter = map_db_common_conf_str(conf, "query_filter",
	    "mailacceptinggeneralid=%s");
	if ((dyn = map_db_common_parse(ml->db, ml->query_filter, 1,
	    "query_filter", err_r)) < 0)
		return -1;
	if (dyn == 0)
		msg_warn("%s: fixed query_filter %s is probably useless",
		    ml->map.title, ml->query_filter);

	s = map_db_common_conf_str(conf, "scope", "sub");
	if (strcasecmp(s, "sub") == 0)
		ml->scope = LDAP_SCOPE_SUBTREE;
	else if (strcasecmp(s, "one") == 0)
		ml->scope = LDAP_SCOPE_ONELEVEL;
	else if (strcasecmp(s, "base") == 0)
		ml->scope = LDAP_SCOPE_BASE;
	else {
		*err_r = map_errorf("%s: scope: unknown value \"%s\" (expected sub, one or base)",
		    ml->map.title, s);
		return -1;
	}

	ml->result_attr = map_ldap_list(map_db_common_conf_str(conf,
	    "result_attribute", "maildrop"));
	ml->special_attr = map_ldap_list(map_db_common_conf_str(conf,
	    "special_result_attribute", ""));
	ml->leaf_attr = map_ldap_list(map_db_common_conf_str(conf,
	    "leaf_result_attribute", ""));
	ml->terminal_attr = map_ldap_list(map_db_common_conf_str(conf,
	    "terminal_result_attribute", ""));
	{
		char **lists[] = { ml->result_attr, ml->special_attr,
		    ml->leaf_attr, ml->terminal_attr };
		size_t n = 0;

		ml->attrs = xcalloc(1, sizeof(*ml->attrs));
		for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
			for (char **p = lists[i]; *p; p++) {
				if (map_ldap_in_list(ml->attrs, *p))
					continue;
				ml->attrs = xreallocarray(ml->attrs, n + 2,
				    sizeof(*ml->attrs));
				ml->attrs[n++] = xstrdup(*p);
				ml->attrs[n] = NULL;
			}
		if (n == 0) {
			/* RFC 4511: "1.1" asks for no attributes. */
			ml->attrs = xreallocarray(ml->attrs, 2, sizeof(*ml->attrs));
			ml->attrs[0] = xstrdup(LDAP_NO_ATTRS);
			ml->attrs[1] = NULL;
		}
	}

	s = map_db_common_conf_str(conf, "bind", "yes");
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "simple") == 0
	    || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		ml->bind = MAP_LDAP_BIND_SIMPLE;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "none") == 0
	    || strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		ml->bind = MAP_LDAP_BIND_NONE;
	else if (strcasecmp(s, "sasl") == 0) {
		*err_r = map_errorf("%s: bind = sasl is not supported by this build of map_ldap (use simple binds, or ldapi:// with bind = no)",
		    ml->map.title);
		return -1;
	} else {
		*err_r = map_errorf("%s: bind: unknown value \"%s\" (expected yes, simple, no, none or sasl)",
		    ml->map.title, s);
		return -1;
	}
	ml->bind_dn = map_db_common_conf_str(conf, "bind_dn", "");
	ml->bind_pw = map_db_common_conf_str(conf, "bind_pw", "");

	if (map_db_common_conf_int(conf, "version", 3, 2, 3, &v, err_r) < 0)
		return -1;
	ml->version = (int)v;
	if (map_db_common_conf_int(conf, "timeout", 10, 0, 86400, &ml->timeout,
	    err_r) < 0)
		return -1;
	if (map_db_common_conf_int(conf, "size_limit",
	    map_db_common_expansion_limit(ml->db), 0, 0x7fffffffL,
	    &ml->size_limit, err_r) < 0)
		return -1;
	if (map_db_common_conf_int(conf, "recursion_limit", 1000, 1,
	    0x7fffffffL, &ml->recursion_limit, err_r) < 0)
		return -1;
	if (map_db_common_conf_int(conf, "dereference", 0, 0, 3, &v, err_r) < 0)
		return -1;
	ml->deref = (int)v;
	if (map_db_common_conf_bool(conf, "chase_referrals", 0,
	    &ml->chase_referrals, err_r) < 0)
		return -1;
	if (map_db_common_conf_bool(conf, "start_tls", 0, &ml->start_tls,
	    err_r) < 0)
		return -1;
	if (map_db_common_conf_bool(conf, "tls_require_cert", 0, &b, err_r) < 0)
		return -1;
	ml->tls_require_cert = b;
	ml->tls_ca_cert_file = map_db_common_conf_str(conf, "tls_ca_cert_file",
	    "");
	ml->tls_ca_cert_dir = map_db_common_conf_str(conf, "tls_ca_cert_dir", "");
	ml->tls_cert = map_db_common_conf_str(conf, "tls_cert", "");
	ml->tls_key = map_db_common_conf_str(conf, "tls_key", "");
	ml->tls_cipher_suite = map_db_common_conf_str(conf, "tls_cipher_suite",
	    "");
	ml->tls_random_file = map_db_common_conf_str(conf, "tls_random_file",
	    "");
	if (ml->version < 3) {
		int tls_url = 0;

		for (int i = 0; i < ml->nurls; i++)
			if (strncasecmp(ml->urls[i], "ldaps:", 6) == 0)
				tls_url = 1;
		if (ml->start_tls || tls_url) {
			*err_r = map_errorf("%s: start_tls and ldaps:// need version = 3",
			    ml->map.title);
			return -1;
		}
	}
	if (map_db_common_conf_int(conf, "debuglevel", 0, 0, 0x7fffffffL, &v,
	    err_r) < 0)
		return -1;
	if (v > 0) {
		int level = (int)v;

		ldap_set_option(NULL, LDAP_OPT_DEBUG_LEVEL, &level);
	}
	for (const char *const *p = (const char *const[]){ "cache",
	    "cache_expiry", "cache_size", NULL }; *p; p++)
		if (map_db_common_conf_str(conf, *p, NULL) != NULL)
			msg_warn("%s: %s is no longer supported: ignored",
			    ml->map.title, *p);
	return 0;
}

/* ---- connections ---- */

static void
map_ldap_disconnect(struct map_ldap *ml)
{
	if (ml->ld) {
		ldap_unbind_ext(ml->ld, NULL, NULL);
		ml->ld = NULL;
	}
}

/* map_ldap_timeval - the per-operation timeout (NULL: none). */
static struct timeval *
map_ldap_timeval(const struct map_ldap *ml, struct timeval *tv)
{
	if (ml->timeout <= 0)
		return NULL;
	tv->tv_sec = ml->timeout;
	tv->tv_usec = 0;
	return tv;
}

/* map_ldap_wait - wait for the answer to msgid; an LDAP result code,
 * LDAP_TIMEOUT after the timeout (the operation is abandoned). */
static int
map_ldap_wait(struct map_ldap *ml, LDAP *ld, int msgid, char **errmsg_r)
{
	struct timeval tv, *tvp = map_ldap_timeval(ml, &tv);
	LDAPMessage *res = NULL;
	int rc, err = LDAP_OTHER;

	*errmsg_r = NULL;
	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, tvp, &res);
	if (rc == 0) {
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return LDAP_TIMEOUT;
	}
	if (rc < 0) {
		ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
		return err;
	}
	if (ldap_parse_result(ld, res, &err, NULL, errmsg_r, NULL, NULL, 1)
	    != LDAP_SUCCESS)
		ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
	return err;
}

/* map_ldap_why - a server failed: append "server URL: what: text" to
 * the lookup's reason list and log it. */
static void
map_ldap_why(struct map_ldap *ml, int idx, const char *what, int rc,
    const char *detail)
{
	size_t mark = buf_len(ml->why);

	if (mark > 0)
		buf_puts(ml->why, "; ");
	buf_printf(ml->why, "server %s: %s: %s", ml->urls[idx], what,
	    ldap_err2string(rc));
	if (detail && *detail)
		buf_printf(ml->why, " (%s)", detail);
	ml->last_rc = rc;
	msg_warn("%s: %s", ml->map.title, buf_str(ml->why) + mark
	    + (mark > 0 ? 2 : 0));
	map_explain(&ml->map, "%s: %s", ml->map.title, buf_str(ml->why) + mark
	    + (mark > 0 ? 2 : 0));
}

/* map_ldap_set_options - per-handle options before the first operation. */
static int
map_ldap_set_options(struct map_ldap *ml, LDAP *ld, const char **what_r)
{
	struct timeval tv;
	int zero = 0;

#define SETOPT(opt, val) do { \
	if (ldap_set_option(ld, (opt), (val)) != LDAP_OPT_SUCCESS) { \
		*what_r = "set option " #opt; \
		return -1; \
	} \
} while (0)
	SETOPT(LDAP_OPT_PROTOCOL_VERSION, &ml->version);
	if (ml->timeout > 0) {
		tv.tv_sec = ml->timeout;
		tv.tv_usec = 0;
		SETOPT(LDAP_OPT_NETWORK_TIMEOUT, &tv);
		SETOPT(LDAP_OPT_TIMEOUT, &tv);
	}
	SETOPT(LDAP_OPT_DEREF, &ml->deref);
	SETOPT(LDAP_OPT_REFERRALS, ml->chase_referrals ? LDAP_OPT_ON
	    : LDAP_OPT_OFF);
	SETOPT(LDAP_OPT_RESTART, LDAP_OPT_ON);
	if (ml->start_tls || ml->tls_require_cert || *ml->tls_ca_cert_file
	    || *ml->tls_ca_cert_dir || *ml->tls_cert || *ml->tls_key
	    || *ml->tls_cipher_suite || *ml->tls_random_file) {
		int req = ml->tls_require_cert ? LDAP_OPT_X_TLS_DEMAND
		    : LDAP_OPT_X_TLS_NEVER;

		SETOPT(LDAP_OPT_X_TLS_REQUIRE_CERT, &req);
		if (*ml->tls_ca_cert_file)
			SETOPT(LDAP_OPT_X_TLS_CACERTFILE, ml->tls_ca_cert_file);
		if (*ml->tls_ca_cert_dir)
			SETOPT(LDAP_OPT_X_TLS_CACERTDIR, ml->tls_ca_cert_dir);
		if (*ml->tls_cert)
			SETOPT(LDAP_OPT_X_TLS_CERTFILE, ml->tls_cert);
		if (*ml->tls_key)
			SETOPT(LDAP_OPT_X_TLS_KEYFILE, ml->tls_key);
		if (*ml->tls_cipher_suite)
			SETOPT(LDAP_OPT_X_TLS_CIPHER_SUITE, ml->tls_cipher_suite);
		if (*ml->tls_random_file)
			SETOPT(LDAP_OPT_X_TLS_RANDOM_FILE, ml->tls_random_file);
		/* Apply the settings above to this handle only. */
		SETOPT(LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
#undef SETOPT
	return 0;
}

/* map_ldap_connect_one - connect (and StartTLS, bind) to server idx. */
static int
map_ldap_connect_one(struct map_ldap *ml, int idx)
{
	LDAP *ld = NULL;
	const char *what = NULL;
	char *errmsg = NULL;
	int rc;

	if ((rc = ldap_initialize(&ld, ml->urls[idx])) != LDAP_SUCCESS) {
		map_ldap_why(ml, idx, "initialize", rc, NULL);
		return -1;
	}
	if (map_ldap_set_options(ml, ld, &what) < 0) {
		map_ldap_why(ml, idx, what, LDAP_OTHER, NULL);
		ldap_unbind_ext(ld, NULL, NULL);
		return -1;
	}
	if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
		map_ldap_why(ml, idx, "connect", rc, NULL);
		ldap_unbind_ext(ld, NULL, NULL);
		return -1;
	}
	if (ml->start_tls
	    && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &errmsg);
		map_ldap_why(ml, idx, "StartTLS", rc, errmsg);
		ldap_memfree(errmsg);
		ldap_unbind_ext(ld, NULL, NULL);
		return -1;
	}
	if (ml->bind == MAP_LDAP_BIND_SIMPLE) {
		struct berval cred;
		int msgid;

		cred.bv_val = UNCONST(ml->bind_pw);
		cred.bv_len = strlen(ml->bind_pw);
		rc = ldap_sasl_bind(ld, *ml->bind_dn ? ml->bind_dn : NULL,
		    LDAP_SASL_SIMPLE, &cred, NULL, NULL, &msgid);
		if (rc == LDAP_SUCCESS)
			rc = map_ldap_wait(ml, ld, msgid, &errmsg);
		if (rc != LDAP_SUCCESS) {
			char *what_dn = concatenate("bind as \"",
			    *ml->bind_dn ? ml->bind_dn : "(anonymous)", "\"",
			    (char *)NULL);

			map_ldap_why(ml, idx, what_dn, rc, errmsg);
			free(what_dn);
			ldap_memfree(errmsg);
			ldap_unbind_ext(ld, NULL, NULL);
			return -1;
		}
		ldap_memfree(errmsg);
	}
	ml->ld = ld;
	ml->cur = idx;
	return 0;
}

/* ---- searching ---- */

static enum map_ldap_rc map_ldap_search(struct map_ldap *ml, const char *base,
    int scope, const char *filter, char **attrs, int depth,
    const char *via);

/* map_ldap_conn_error - does rc mean "this connection/server is no good"
 * (rather than "this query has a problem")? */
static int
map_ldap_conn_error(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_TIMEOUT:
	case LDAP_CONNECT_ERROR:
	case LDAP_LOCAL_ERROR:
	case LDAP_ENCODING_ERROR:
	case LDAP_DECODING_ERROR:
	case LDAP_BUSY:
	case LDAP_UNAVAILABLE:
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_OTHER:
		return 1;
	default:
		return 0;
	}
}

/* map_ldap_add_values - pass each value of attribute attr to the
 * answer. */
static enum map_ldap_rc
map_ldap_add_values(struct map_ldap *ml, LDAPMessage *entry, const char *attr)
{
	struct berval **vals = ldap_get_values_len(ml->ld, entry, attr);
	enum map_ldap_rc ret = ML_OK;

	if (vals == NULL)
		return ML_OK;
	for (int i = 0; vals[i]; i++) {
		if (memchr(vals[i]->bv_val, 0, vals[i]->bv_len) != NULL) {
			msg_warn("%s: key \"%s\": value of %s holds a NUL byte: skipped",
			    ml->map.title, ml->key, attr);
			continue;
		}
		buf_reset(ml->value);
		if (buf_append(ml->value, vals[i]->bv_val, vals[i]->bv_len) < 0) {
			msg_warn("%s: key \"%s\": value of %s is too long: skipped",
			    ml->map.title, ml->key, attr);
			continue;
		}
		ml->values++;
		if (map_db_common_result(ml->db, buf_str(ml->value), ml->key,
		    ml->result, &ml->count) < 0) {
			buf_reset(ml->why);
			if (buf_len(ml->result) >= MAP_LDAP_RESULT_MAX - 1024)
				buf_printf(ml->why, "answer for key \"%s\" too long",
				    ml->key);
			else
				buf_printf(ml->why, "expansion limit %ld exceeded for key \"%s\"",
				    map_db_common_expansion_limit(ml->db), ml->key);
			ret = ML_FAIL;
			break;
		}
	}
	ldap_value_free_len(vals);
	return ret;
}

/* map_ldap_count_attr - number of values of attr in entry. */
static int
map_ldap_count_attr(struct map_ldap *ml, LDAPMessage *entry, const char *attr)
{
	struct berval **vals = ldap_get_values_len(ml->ld, entry, attr);
	int n;

	if (vals == NULL)
		return 0;
	n = ldap_count_values_len(vals);
	ldap_value_free_len(vals);
	return n;
}

/* map_ldap_present - does entry hold a value of an attribute in list? */
static int
map_ldap_present(struct map_ldap *ml, LDAPMessage *entry, char **list)
{
	for (; *list; list++)
		if (map_ldap_count_attr(ml, entry, *list) > 0)
			return 1;
	return 0;
}

/* map_ldap_url_attrs - the table's attributes that a URL selects (all of
 * them when the URL selects none); NULL when none is left. */
static char **
map_ldap_url_attrs(struct map_ldap *ml, char **url_attrs)
{
	char **out;
	size_t n = 0;

	if (url_attrs == NULL || url_attrs[0] == NULL)
		return ml->attrs;
	out = xcalloc(1, sizeof(*out));
	for (char **p = url_attrs; *p; p++) {
		if (!map_ldap_in_list(ml->attrs, *p) || map_ldap_in_list(out, *p))
			continue;
		out = xreallocarray(out, n + 2, sizeof(*out));
		out[n++] = *p;
		out[n] = NULL;
	}
	if (n == 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* map_ldap_special - follow one value of a special attribute: an LDAP
 * URL (search as the URL says) or a DN (read that entry). */
static enum map_ldap_rc
map_ldap_special(struct map_ldap *ml, const char *value, const char *attr,
    int depth)
{
	enum map_ldap_rc rc;

	if (depth + 1 > ml->recursion_limit) {
		buf_reset(ml->why);
		buf_printf(ml->why, "recursion limit %ld exceeded for key \"%s\" at %s \"%s\"",
		    ml->recursion_limit, ml->key, attr, value);
		return ML_FAIL;
	}
	if (ldap_is_ldap_url(value)) {
		LDAPURLDesc *lud = NULL;
		char **attrs;

		if (ldap_url_parse(value, &lud) != LDAP_URL_SUCCESS) {
			msg_warn("%s: key \"%s\": bad LDAP URL in %s: %s: skipped",
			    ml->map.title, ml->key, attr, value);
			return ML_OK;
		}
		if ((attrs = map_ldap_url_attrs(ml, lud->lud_attrs)) == NULL) {
			map_explain(&ml->map, "%s: URL %s selects none of the table's attributes: skipped",
			    ml->map.title, value);
			ldap_free_urldesc(lud);
			return ML_OK;
		}
		rc = map_ldap_search(ml, lud->lud_dn ? lud->lud_dn : "",
		    lud->lud_scope == LDAP_SCOPE_DEFAULT ? LDAP_SCOPE_BASE
		    : lud->lud_scope,
		    lud->lud_filter ? lud->lud_filter : "(objectClass=*)",
		    attrs, depth + 1, attr);
		if (attrs != ml->attrs)
			free(attrs);
		ldap_free_urldesc(lud);
		return rc;
	}
	return map_ldap_search(ml, value, LDAP_SCOPE_BASE, "(objectClass=*)",
	    ml->attrs, depth + 1, attr);
}

/* map_ldap_entry - add what one entry contributes, recursing through its
 * special attributes. */
static enum map_ldap_rc
map_ldap_entry(struct map_ldap *ml, LDAPMessage *entry, int depth)
{
	BerElement *ber = NULL;
	enum map_ldap_rc rc = ML_OK;
	int terminal, special;
	char *attr;

	terminal = ml->terminal_attr[0]
	    && map_ldap_present(ml, entry, ml->terminal_attr);
	special = !terminal && ml->special_attr[0]
	    && map_ldap_present(ml, entry, ml->special_attr);

	for (attr = ldap_first_attribute(ml->ld, entry, &ber);
	    attr != NULL && rc == ML_OK;
	    attr = ldap_next_attribute(ml->ld, entry, ber)) {
		if (terminal) {
			if (map_ldap_in_list(ml->terminal_attr, attr))
				rc = map_ldap_add_values(ml, entry, attr);
		} else {
			if (map_ldap_in_list(ml->result_attr, attr)
			    || (!special && map_ldap_in_list(ml->leaf_attr, attr)))
				rc = map_ldap_add_values(ml, entry, attr);
			if (rc == ML_OK && map_ldap_in_list(ml->special_attr, attr)) {
				struct berval **vals;

				vals = ldap_get_values_len(ml->ld, entry, attr);
				for (int i = 0; vals && vals[i] && rc == ML_OK; i++) {
					char *v = xstrndup(vals[i]->bv_val,
					    vals[i]->bv_len);

					rc = map_ldap_special(ml, v, attr, depth);
					free(v);
				}
				if (vals)
					ldap_value_free_len(vals);
			}
		}
		ldap_memfree(attr);
	}
	if (attr != NULL)
		ldap_memfree(attr);
	if (ber)
		ber_free(ber, 0);
	return rc;
}

/* map_ldap_search - one search and everything it leads to.  depth 0 is
 * the lookup's own search; via names the special attribute that led to
 * a deeper one. */
static enum map_ldap_rc
map_ldap_search(struct map_ldap *ml, const char *base, int scope,
    const char *filter, char **attrs, int depth, const char *via)
{
	struct timeval tv, *tvp = map_ldap_timeval(ml, &tv);
	LDAPMessage *res = NULL;
	enum map_ldap_rc ret = ML_OK;
	long entries = 0;
	char *errmsg = NULL;
	int rc;

	if (++ml->searches > MAP_LDAP_MAX_SEARCHES) {
		buf_reset(ml->why);
		buf_printf(ml->why, "more than %d searches for key \"%s\"",
		    MAP_LDAP_MAX_SEARCHES, ml->key);
		return ML_FAIL;
	}
	if (MAP_EXPLAINING(&ml->map)) {
		static const char *const scopes[] = { "base", "one", "sub" };
		struct buf *a = buf_new(64, 4096);

		for (char **p = attrs; *p; p++) {
			if (p != attrs)
				buf_putc(a, ',');
			buf_puts(a, *p);
		}
		if (depth == 0)
			map_explain(&ml->map, "%s: search server %s base \"%s\" scope %s filter \"%s\" attributes %s",
			    ml->map.title, ml->urls[ml->cur], base,
			    scope >= 0 && scope <= 2 ? scopes[scope] : "?",
			    filter, buf_str(a));
		else
			map_explain(&ml->map, "%s: %s (depth %d): search base \"%s\" scope %s filter \"%s\" attributes %s",
			    ml->map.title, via, depth, base,
			    scope >= 0 && scope <= 2 ? scopes[scope] : "?",
			    filter, buf_str(a));
		buf_free(&a);
	}
	rc = ldap_search_ext_s(ml->ld, base, scope, filter, attrs, 0, NULL,
	    NULL, tvp, (int)ml->size_limit, &res);
	if (rc != LDAP_SUCCESS) {
		ldap_get_option(ml->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &errmsg);
		if (map_ldap_conn_error(rc)) {
			map_ldap_why(ml, ml->cur, "search", rc, NULL);
			ret = ML_CONN;
		} else if (rc == LDAP_NO_SUCH_OBJECT && depth > 0) {
			msg_warn("%s: key \"%s\": %s \"%s\" not found, skipping",
			    ml->map.title, ml->key, via, base);
			map_explain(&ml->map, "%s: %s \"%s\" not found: skipped",
			    ml->map.title, via, base);
		} else if (rc == LDAP_NO_SUCH_OBJECT && ml->base_dynamic) {
			map_explain(&ml->map, "%s: search base \"%s\" does not exist: not found",
			    ml->map.title, base);
		} else {
			buf_reset(ml->why);
			if (rc == LDAP_NO_SUCH_OBJECT)
				buf_printf(ml->why, "server %s: search base \"%s\" not found",
				    ml->urls[ml->cur], base);
			else
				buf_printf(ml->why, "server %s: search base \"%s\" filter \"%s\": %s",
				    ml->urls[ml->cur], base, filter,
				    ldap_err2string(rc));
			if (errmsg && *errmsg)
				buf_printf(ml->why, " (%s)", errmsg);
			ret = ML_FAIL;
		}
		ldap_memfree(errmsg);
		ldap_msgfree(res);
		return ret;
	}
	for (LDAPMessage *e = ldap_first_entry(ml->ld, res);
	    e != NULL && ret == ML_OK; e = ldap_next_entry(ml->ld, e)) {
		entries++;
		ml->entries++;
		ret = map_ldap_entry(ml, e, depth);
	}
	ldap_msgfree(res);
	if (depth == 0 && ret == ML_OK)
		map_explain(&ml->map, "%s: server %s answered: %ld entr%s, %ld value%s",
		    ml->map.title, ml->urls[ml->cur], ml->entries,
		    ml->entries == 1 ? "y" : "ies", ml->values,
		    ml->values == 1 ? "" : "s");
	else if (depth > 0 && ret == ML_OK)
		map_explain(&ml->map, "%s: %s (depth %d): %ld entr%s",
		    ml->map.title, via, depth, entries,
		    entries == 1 ? "y" : "ies");
	return ret;
}

/* map_ldap_lookup - see the module comment. */
static enum map_status
map_ldap_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_ldap *ml = (struct map_ldap *)map;
	const char *why;
	int tried_mask_len = ml->nurls;
	char *tried;
	int reconnected = 0, next;
	enum map_status st = MAP_TEMPFAIL;

	*value_r = NULL;
	switch (map_db_common_check_domain(ml->db, key, &why)) {
	case 0:
		map_explain(map, "%s: key \"%s\" is not in the domain list: not searched",
		    map->title, key);
		return MAP_NOTFOUND;
	case -1:
		map_set_reason(map, "%s", why);
		return MAP_TEMPFAIL;
	default:
		break;
	}
	/* As Postfix's ldap: driver, which connects before it looks at the
	 * key: an empty key is "not found" (map_db_common_expand warns)
	 * only when a server can be reached, a temporary error when none
	 * can (an empty sender never passes an LDAP outage unnoticed). */
	if (*key == 0 && ml->ld == NULL) {
		buf_reset(ml->why);
		for (int i = 0; i < ml->nurls && ml->ld == NULL; i++)
			(void)map_ldap_connect_one(ml, i);
		if (ml->ld == NULL) {
			map_set_reason(map, "%s", buf_str(ml->why));
			return MAP_TEMPFAIL;
		}
	}
	buf_reset(ml->base);
	buf_reset(ml->filter);
	switch (map_db_common_expand(ml->db, ml->search_base, key, NULL,
	    ml->base, map_ldap_quote_dn, NULL)) {
	case 0:
		map_explain(map, "%s: key \"%s\" lacks a part search_base or query_filter needs: not searched",
		    map->title, key);
		return MAP_NOTFOUND;
	case -1:
		map_set_reason(map, "search base for key \"%s\" is too long", key);
		return MAP_TEMPFAIL;
	default:
		break;
	}
	switch (map_db_common_expand(ml->db, ml->query_filter, key, NULL,
	    ml->filter, map_ldap_quote_filter, NULL)) {
	case 0:
		map_explain(map, "%s: key \"%s\" lacks a part search_base or query_filter needs: not searched",
		    map->title, key);
		return MAP_NOTFOUND;
	case -1:
		map_set_reason(map, "filter for key \"%s\" is too long", key);
		return MAP_TEMPFAIL;
	default:
		break;
	}

	ml->key = key;
	buf_reset(ml->why);
	tried = xcalloc((size_t)tried_mask_len, 1);
	next = 0;
	for (;;) {
		enum map_ldap_rc rc;
		int fresh = 0;

		if (ml->ld == NULL) {
			/* Servers not yet tried in this lookup, from next on
			 * (wrapping around), in the configured order. */
			for (int n = 0; n < ml->nurls && ml->ld == NULL; n++) {
				int i = (next + n) % ml->nurls;

				if (tried[i])
					continue;
				tried[i] = 1;
				if (map_ldap_connect_one(ml, i) < 0)
					continue;
				map_explain(map, "%s: connected to %s",
				    map->title, ml->urls[i]);
			}
			if (ml->ld == NULL) {
				map_set_reason(map, "%s", buf_str(ml->why));
				break;
			}
			fresh = 1;
		} else {
			tried[ml->cur] = 1;
			map_explain(map, "%s: connection to %s reused",
			    map->title, ml->urls[ml->cur]);
		}
		buf_reset(ml->result);
		ml->count = ml->searches = ml->entries = ml->values = 0;
		rc = map_ldap_search(ml, buf_str(ml->base), ml->scope,
		    buf_str(ml->filter), ml->attrs, 0, NULL);
		if (rc == ML_OK) {
			if (buf_len(ml->result) == 0) {
				st = MAP_NOTFOUND;
			} else {
				*value_r = buf_str(ml->result);
				st = MAP_FOUND;
			}
			break;
		}
		if (rc == ML_FAIL) {
			map_set_reason(map, "%s", buf_str(ml->why));
			msg_warn("%s: %s", map->title, buf_str(ml->why));
			break;
		}
		/* ML_CONN: drop the connection; a kept one gets one immediate
		 * reconnect to the same server (it may have been restarted),
		 * unless it hung; then the servers not tried yet. */
		map_ldap_disconnect(ml);
		next = (ml->cur + 1) % ml->nurls;
		if (!fresh && !reconnected && ml->last_rc != LDAP_TIMEOUT
		    && ml->last_rc != LDAP_TIMELIMIT_EXCEEDED) {
			tried[ml->cur] = 0;
			next = ml->cur;
			reconnected = 1;
		}
		{
			int left = 0;

			for (int i = 0; i < ml->nurls; i++)
				left += !tried[i];
			if (left == 0) {
				map_set_reason(map, "%s", buf_str(ml->why));
				break;
			}
		}
	}
	free(tried);
	ml->key = NULL;
	return st;
}

static void
map_ldap_close(struct map *map)
{
	struct map_ldap *ml = (struct map_ldap *)map;

	map_ldap_disconnect(ml);
	for (int i = 0; i < ml->nurls; i++)
		free(ml->urls[i]);
	free(ml->urls);
	map_ldap_list_free(&ml->result_attr);
	map_ldap_list_free(&ml->special_attr);
	map_ldap_list_free(&ml->leaf_attr);
	map_ldap_list_free(&ml->terminal_attr);
	map_ldap_list_free(&ml->attrs);
	buf_free(&ml->base);
	buf_free(&ml->filter);
	buf_free(&ml->result);
	buf_free(&ml->value);
	buf_free(&ml->why);
	map_db_common_free(&ml->db);
	map_db_common_conf_free(&ml->conf);
	map_free_base(map);
}

static const struct map_driver map_ldap_driver;

static struct map *
map_ldap_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_ldap *ml;
	struct map_db_conf *conf;

	if ((open_flags & O_ACCMODE) != O_RDONLY) {
		*err_r = map_errorf("ldap:%s: the table is read-only", name);
		return NULL;
	}
	if ((conf = map_db_common_conf_open(name, err_r)) == NULL)
		return NULL;
	ml = (struct map_ldap *)map_alloc(sizeof(*ml), &map_ldap_driver, name,
	    open_flags, flags);
	ml->conf = conf;
	ml->base = buf_new(256, MAP_LDAP_QUERY_MAX);
	ml->filter = buf_new(256, MAP_LDAP_QUERY_MAX);
	ml->result = buf_new(256, MAP_LDAP_RESULT_MAX);
	ml->value = buf_new(256, MAP_LDAP_RESULT_MAX);
	ml->why = buf_new(256, 16 * 1024);
	ml->map.lookup = map_ldap_lookup;
	ml->map.close = map_ldap_close;
	if ((ml->db = map_db_common_open(conf, ml->map.title, err_r)) == NULL
	    || map_ldap_config(ml, err_r) < 0) {
		map_ldap_close(&ml->map);
		return NULL;
	}
	map_db_common_conf_warn_unused(conf);
	return &ml->map;
}

/* map_ldap_init - once per process: a server that closes the connection
 * while a request is written must give an error, not SIGPIPE. */
static int
map_ldap_init(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;
		sigaction(SIGPIPE, &sa, NULL);
	}
	return 0;
}

static const struct map_driver map_ldap_driver = {
	.magic = MAP_DRIVER_MAGIC,
	.abi = MAP_ABI_VERSION,
	.type = "ldap",
	.caps = MAP_CAP_FIXED | MAP_CAP_BLOCKING,
	.open = map_ldap_open,
};

static const struct map_driver *const map_ldap_drivers[] = {
	&map_ldap_driver,
	NULL,
};

/* The module entry named in dynamicmaps.cf: the only exported symbol. */
__attribute__((visibility("default")))
const struct map_module postino_map_ldap = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module),
	.name = "map_ldap",
	.init = map_ldap_init,
	.drivers = map_ldap_drivers,
};

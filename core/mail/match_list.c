/* SPDX-License-Identifier: MIT */
/* match_list - domain and host/address pattern lists (see match_list.h).
 *
 * Patterns are parsed once into an array; matching walks it in order.
 * Ownership: the list owns its tables.  Logs: warnings for bad patterns
 * and unreadable /files (once, at create time), and for table errors
 * ("mynetworks: hash:/x: lookup of "k": reason"). */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "mail_vars.h"
#include "map.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

#define MATCH_FILE_DEPTH	10	/* /file nesting limit */

enum pat_kind {
	PAT_NAME,		/* host or domain name */
	PAT_NET,		/* address or network */
	PAT_TABLE,		/* type:table */
	PAT_FAIL,		/* unusable (/file could not be read): tempfail */
	PAT_NEVER,		/* bad pattern: never matches */
};

struct pattern {
	enum pat_kind kind;
	int negate;
	char *text;		/* name (lowercased) or table title */
	struct map *map;
	int family;
	int len;		/* network prefix length */
	unsigned char net[16];
};

struct match_list {
	char *param;
	int kind;
	int parent;		/* name matches subdomains */
	struct pattern *pat;
	int count;
	struct buf *reason;
};

int
match_list_parent_style(const char *param)
{
	char *copy = xstrdup(var_parent_domain_matches_subdomains);
	char *cp = copy, *item;
	int found = 0;

	while ((item = mystrtok(&cp, ", \t\r\n")) != NULL)
		if (strcasecmp(item, param) == 0) {
			found = 1;
			break;
		}
	free(copy);
	return found;
}

char *
match_list_token(char **bufp, const char **err_r)
{
	static const char sep[] = ", \t\r\n";
	char *start = *bufp + strspn(*bufp, sep), *cp;
	int depth = 0;

	*err_r = NULL;
	if (*start == 0) {
		*bufp = start;
		return NULL;
	}
	for (cp = start; *cp; cp++) {
		if (*cp == '{')
			depth++;
		else if (*cp == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(sep, *cp))
			break;
	}
	if (depth > 0) {
		*err_r = "missing '}'";
		*bufp = cp;
		return NULL;
	}
	if (*cp)
		*cp++ = 0;
	*bufp = cp;
	if (*start == '{') {
		/* A whole "{ ... }" group: strip the braces. */
		size_t len = strlen(start);

		if (len >= 2 && start[len - 1] == '}') {
			start[len - 1] = 0;
			start = skipblanks(start + 1);
			trimblanks(start);
		}
	}
	return start;
}

int
match_list_addr_parse(const char *text, unsigned char *bytes)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t len = strlen(text);

	if (*text == '[') {
		if (len < 3 || text[len - 1] != ']')
			return -1;
		text++;
		len -= 2;
	}
	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, text, len);
	tmp[len] = 0;
	if (strncasecmp(tmp, "ipv6:", 5) == 0)
		memmove(tmp, tmp + 5, len - 4);
	memset(bytes, 0, 16);
	if (inet_pton(AF_INET, tmp, bytes) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, tmp, bytes) == 1)
		return AF_INET6;
	return -1;
}

/* add_pattern - append a pattern and return it. */
static struct pattern *
add_pattern(struct match_list *list, enum pat_kind kind, int negate,
    const char *text)
{
	struct pattern *p;

	list->pat = xreallocarray(list->pat, (size_t)list->count + 1,
	    sizeof(*list->pat));
	p = &list->pat[list->count++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->negate = negate;
	p->text = xstrdup(text);
	return p;
}

/* parse_net - "a.b.c.d[/len]", "[v6][/len]", "v6[/len]"; 0 or -1. */
static int
parse_net(const char *text, struct pattern *p)
{
	char *copy = xstrdup(text), *slash;
	long len;
	int bits;

	/* The /len may sit after the closing bracket: [::1]/128. */
	slash = strrchr(copy, '/');
	if (slash && strchr(slash, ']'))
		slash = NULL;
	if (slash)
		*slash++ = 0;
	p->family = match_list_addr_parse(copy, p->net);
	bits = p->family == AF_INET ? 32 : 128;
	if (p->family < 0 || (slash && (str_to_long(slash, &len) < 0
	    || len < 0 || len > bits))) {
		free(copy);
		return -1;
	}
	p->len = slash ? (int)len : bits;
	/* Clear host bits, as a network pattern means the network. */
	for (int i = 0; i < bits / 8; i++) {
		int keep = p->len - i * 8;

		if (keep <= 0)
			p->net[i] = 0;
		else if (keep < 8)
			p->net[i] &= (unsigned char)(0xff << (8 - keep));
	}
	free(copy);
	return 0;
}

/* looks_like_addr - should a pattern be parsed as an address? */
static int
looks_like_addr(const char *text)
{
	unsigned char b[16];
	char *copy, *slash;
	int fam;

	if (*text == '[')
		return 1;
	copy = xstrdup(text);
	if ((slash = strchr(copy, '/')) != NULL)
		*slash = 0;
	fam = match_list_addr_parse(copy, b);
	free(copy);
	return fam > 0;
}

static void parse_patterns(struct match_list *, char *, int, int);

/* read_file - add the patterns of a /file. */
static void
read_file(struct match_list *list, const char *path, int negate, int depth)
{
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line;
	int lineno;

	if (depth >= MATCH_FILE_DEPTH) {
		msg_warn("%s: %s: files nested too deeply", list->param, path);
		add_pattern(list, PAT_FAIL, negate, path);
		return;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		msg_warn("%s: open %s: %m", list->param, path);
		add_pattern(list, PAT_FAIL, negate, path);
		return;
	}
	rd = lline_open(fp, path, 0);
	line = buf_new(256, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		char *text = xstrdup(buf_str(line));

		parse_patterns(list, text, negate, depth + 1);
		free(text);
	}
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
}

/* parse_patterns - add the patterns in text (modified). */
static void
parse_patterns(struct match_list *list, char *text, int negate_outer,
    int depth)
{
	const char *err;
	char *cp = text, *item;

	while ((item = match_list_token(&cp, &err)) != NULL) {
		int negate = negate_outer;
		struct pattern *p;
		char *merr = NULL;

		while (*item == '!') {
			negate = !negate;
			item++;
		}
		if (*item == 0) {
			msg_warn("%s: empty pattern after '!'", list->param);
			continue;
		}
		if (*item == '/') {
			read_file(list, item, negate, depth);
		} else if (list->kind == MATCH_LIST_HOSTADDR && looks_like_addr(item)) {
			p = add_pattern(list, PAT_NET, negate, item);
			if (parse_net(item, p) < 0) {
				msg_warn("%s: bad address pattern: %s", list->param, item);
				p->kind = PAT_NEVER;
			}
		} else if (strchr(item, ':') != NULL) {
			p = add_pattern(list, PAT_TABLE, negate, item);
			p->map = map_open(item, O_RDONLY,
			    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE, &merr);
			free(merr);
			if (p->map == NULL)
				p->kind = PAT_FAIL;
		} else {
			p = add_pattern(list, PAT_NAME, negate, item);
			lowercase(p->text);
		}
	}
	if (err)
		msg_warn("%s: %s", list->param, err);
}

struct match_list *
match_list_create(const char *param, const char *patterns, int kind)
{
	struct match_list *list = xcalloc(1, sizeof(*list));
	char *copy = xstrdup(patterns);

	list->param = xstrdup(param);
	list->kind = kind;
	list->parent = match_list_parent_style(param);
	list->reason = buf_new(64, 1024);
	parse_patterns(list, copy, 0, 0);
	free(copy);
	return list;
}

int
match_list_empty(const struct match_list *list)
{
	return list->count == 0;
}

const char *
match_list_reason(const struct match_list *list)
{
	return buf_str(list->reason);
}

/* match_name - name pattern vs a lowercased name. */
static int
match_name(const struct match_list *list, const char *pat, const char *name)
{
	size_t plen = strlen(pat), nlen = strlen(name);

	if (*pat == '.')
		return nlen > plen && strcmp(name + nlen - plen, pat) == 0;
	if (strcmp(pat, name) == 0)
		return 1;
	return list->parent && nlen > plen + 1
	    && name[nlen - plen - 1] == '.'
	    && strcmp(name + nlen - plen, pat) == 0;
}

/* match_net - address vs network. */
static int
match_net(const struct pattern *p, const char *addr)
{
	unsigned char b[16];
	int fam = match_list_addr_parse(addr, b);

	if (fam != p->family)
		return 0;
	for (int i = 0; i < p->len / 8; i++)
		if (b[i] != p->net[i])
			return 0;
	if (p->len % 8) {
		unsigned char mask = (unsigned char)(0xff << (8 - p->len % 8));

		if ((b[p->len / 8] & mask) != p->net[p->len / 8])
			return 0;
	}
	return 1;
}

/* table_query - one key; 1 found, 0 not, -1 error (reason recorded). */
static int
table_query(struct match_list *list, struct pattern *p, const char *key)
{
	const char *value;

	switch (map_lookup(p->map, key, &value)) {
	case MAP_FOUND:
		return 1;
	case MAP_NOTFOUND:
		return 0;
	case MAP_TEMPFAIL:
		buf_reset(list->reason);
		buf_printf(list->reason, "%s: lookup of \"%s\": %s", p->text,
		    key, map_reason(p->map));
		msg_warn("%s: %s", list->param, buf_str(list->reason));
		return -1;
	}
	return -1;
}

/* match_table - the name and its parent forms, then the address. */
static int
match_table(struct match_list *list, struct pattern *p, const char *name,
    const char *addr)
{
	int rc;

	if (name && *name) {
		if ((rc = table_query(list, p, name)) != 0)
			return rc;
		if (p->map->caps & MAP_CAP_FIXED) {
			for (const char *dot = strchr(name, '.'); dot && dot[1];
			    dot = strchr(dot + 1, '.')) {
				rc = table_query(list, p, list->parent ? dot + 1 : dot);
				if (rc != 0)
					return rc;
			}
		}
	}
	if (addr && *addr)
		return table_query(list, p, addr);
	return 0;
}

int
match_list_match(struct match_list *list, const char *name, const char *addr)
{
	char *lname = name ? lowercase(xstrdup(name)) : NULL;
	int result = 0;

	/* A trailing dot names the same domain. */
	if (lname && *lname && lname[strlen(lname) - 1] == '.')
		lname[strlen(lname) - 1] = 0;
	for (int i = 0; i < list->count; i++) {
		struct pattern *p = &list->pat[i];
		int rc = 0;

		switch (p->kind) {
		case PAT_NAME:
			rc = lname && match_name(list, p->text, lname);
			break;
		case PAT_NET:
			rc = addr && match_net(p, addr);
			break;
		case PAT_TABLE:
			rc = match_table(list, p, lname, addr);
			break;
		case PAT_FAIL:
			buf_set(list->reason, p->text);
			buf_puts(list->reason, ": table or file unavailable");
			rc = -1;
			break;
		case PAT_NEVER:
			rc = 0;
			break;
		}
		if (rc < 0) {
			result = -1;
			break;
		}
		if (rc > 0) {
			result = p->negate ? 0 : 1;
			break;
		}
	}
	free(lname);
	return result;
}

void
match_list_free(struct match_list **listp)
{
	struct match_list *list = *listp;

	if (list == NULL)
		return;
	for (int i = 0; i < list->count; i++) {
		free(list->pat[i].text);
		if (list->pat[i].map)
			map_close(&list->pat[i].map);
	}
	free(list->pat);
	free(list->param);
	buf_free(&list->reason);
	free(list);
	*listp = NULL;
}

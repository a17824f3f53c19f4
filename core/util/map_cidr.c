/* SPDX-License-Identifier: MIT */
/* map_cidr - the cidr: table type (Postfix cidr_table(5) format).
 *
 * Source: a file read once at open, or the inline form
 * "cidr:{ {rule}, {rule} ... }" where each braced item is one line.
 * Rules, tried in file order, first match wins:
 *
 *	pattern result		pattern matches the key
 *	!pattern result		pattern does not match the key
 *	if [!]pattern		the rules up to the matching endif apply only
 *	endif			when the pattern (does not) match; may nest
 *
 * A pattern is an IPv4 or IPv6 address, optionally with "/prefix"; the
 * bits after the prefix must be zero.  "[address]" and "[address]/prefix"
 * are accepted too.  Addresses are compared in binary, so IPv6 spelling
 * does not matter; an IPv4 key never matches an IPv6 pattern and vice
 * versa (not even with "!").
 *
 * A bad rule is skipped with a warning "FILE, line N: ..." at open; it
 * never makes the open fail.  An inline text that is not a list of
 * braced rules does.  A key that is not an IP address is not found.
 *
 * Lookups are a linear scan over pre-parsed binary networks (no string
 * work per rule); "if" blocks that do not apply are skipped in one step. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "map_driver.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

#define CIDR_ADDR_MAX	16		/* bytes in an IPv6 address */
#define CIDR_TEXT_MAX	64		/* longest address text we parse */

enum cidr_op {
	CIDR_RULE,			/* pattern result */
	CIDR_IF,			/* if pattern ... endif */
};

struct cidr_entry {
	unsigned char net[CIDR_ADDR_MAX];	/* network, host bits zero */
	unsigned char mask[CIDR_ADDR_MAX];
	unsigned char addr_len;		/* 4 or 16 */
	unsigned char op;		/* enum cidr_op */
	unsigned char negate;		/* "!pattern" */
	int lineno;
	size_t skip_to;			/* CIDR_IF: first entry after endif */
	char *pattern;			/* as written, for explain */
	char *result;			/* CIDR_RULE */
};

struct map_cidr {
	struct map map;
	struct cidr_entry *entries;
	size_t nentries;
	size_t cap;
	const char *origin;		/* file name or inline text (map.name) */
	size_t *if_stack;		/* open "if" entries while parsing */
	size_t if_depth;
	size_t if_cap;
};

/* cidr_parse_address - text to binary; the address length or 0. */
static int
cidr_parse_address(const char *text, size_t len, unsigned char *addr)
{
	char tmp[CIDR_TEXT_MAX];

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, text, len);
	tmp[len] = 0;
	if (strchr(tmp, ':') != NULL)
		return inet_pton(AF_INET6, tmp, addr) == 1 ? 16 : 0;
	/* glibc's inet_pton refuses octets with leading zeros, like Postfix. */
	return inet_pton(AF_INET, tmp, addr) == 1 ? 4 : 0;
}

/* cidr_parse_pattern - parse "addr[/len]" or "[addr][/len]" into e;
 * 0, or -1 with a reason in why. */
static int
cidr_parse_pattern(const char *pattern, struct cidr_entry *e, struct buf *why)
{
	const char *addr = pattern, *addr_end, *slash = NULL, *mask_end;
	long plen;
	int bits;

	if (*pattern == '[') {
		const char *close = strchr(pattern, ']');

		if (close == NULL) {
			buf_printf(why, "missing ']' after \"%s\"", pattern);
			return -1;
		}
		addr = pattern + 1;
		addr_end = mask_end = close;
		if ((slash = memchr(addr, '/', (size_t)(addr_end - addr))) != NULL)
			addr_end = slash;
		if (close[1] == '/' && slash == NULL) {
			slash = close + 1;
			mask_end = slash + strlen(slash);
		} else if (close[1] != 0) {
			buf_printf(why, "unexpected text after \"%.*s\" in \"%s\"",
			    (int)(close + 1 - pattern), pattern, pattern);
			return -1;
		}
	} else {
		slash = strchr(pattern, '/');
		mask_end = pattern + strlen(pattern);
		addr_end = slash ? slash : mask_end;
	}
	if ((e->addr_len = (unsigned char)cidr_parse_address(addr,
	    (size_t)(addr_end - addr), e->net)) == 0) {
		buf_printf(why, "bad address pattern \"%s\"", pattern);
		return -1;
	}
	bits = e->addr_len * 8;
	if (slash != NULL) {
		char tmp[CIDR_TEXT_MAX];
		size_t n = (size_t)(mask_end - (slash + 1));

		if (n == 0 || n >= sizeof(tmp)) {
			buf_printf(why, "bad prefix length in \"%s\"", pattern);
			return -1;
		}
		memcpy(tmp, slash + 1, n);
		tmp[n] = 0;
		if (!alldig(tmp) || str_to_long(tmp, &plen) < 0) {
			buf_printf(why, "bad prefix length in \"%s\"", pattern);
			return -1;
		}
		if (plen > bits) {
			buf_printf(why, "prefix length %ld is longer than %d bits in \"%s\"",
			    plen, bits, pattern);
			return -1;
		}
		bits = (int)plen;
	}
	memset(e->mask, 0, sizeof(e->mask));
	for (int i = 0; i < e->addr_len; i++) {
		int b = bits - 8 * i;

		if (b >= 8)
			e->mask[i] = 0xff;
		else if (b > 0)
			e->mask[i] = (unsigned char)(0xff << (8 - b));
	}
	for (int i = 0; i < e->addr_len; i++) {
		if (e->net[i] & ~e->mask[i]) {
			unsigned char fixed[CIDR_ADDR_MAX];
			char text[INET6_ADDRSTRLEN];

			for (int j = 0; j < e->addr_len; j++)
				fixed[j] = e->net[j] & e->mask[j];
			if (inet_ntop(e->addr_len == 4 ? AF_INET : AF_INET6, fixed,
			    text, sizeof(text)) == NULL)
				text[0] = 0;
			buf_printf(why, "non-zero host bits in \"%s\" (did you mean \"%s/%d\"?)",
			    pattern, text, bits);
			return -1;
		}
	}
	e->pattern = xstrdup(pattern);
	return 0;
}

/* cidr_keyword - is line the keyword kw (any case), not followed by a
 * letter or digit?  Returns the text after it, or NULL. */
static char *
cidr_keyword(char *line, const char *kw)
{
	size_t n = strlen(kw);
	unsigned char next;

	if (strncasecmp(line, kw, n) != 0)
		return NULL;
	next = (unsigned char)line[n];
	if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z')
	    || (next >= '0' && next <= '9'))
		return NULL;
	return line + n;
}

/* cidr_add - append a copy of e. */
static void
cidr_add(struct map_cidr *mc, const struct cidr_entry *e)
{
	if (mc->nentries == mc->cap) {
		mc->cap = mc->cap ? mc->cap * 2 : 16;
		mc->entries = xreallocarray(mc->entries, mc->cap,
		    sizeof(*mc->entries));
	}
	mc->entries[mc->nentries++] = *e;
}

/* cidr_parse_line - add one logical line; bad lines are warned about. */
static void
cidr_parse_line(struct map_cidr *mc, char *line, int lineno, struct buf *why)
{
	struct cidr_entry e;
	char *cp, *rest;

	memset(&e, 0, sizeof(e));
	e.lineno = lineno;
	buf_reset(why);
	line = skipblanks(line);
	trimblanks(line);

	if ((rest = cidr_keyword(line, "endif")) != NULL) {
		if (*skipblanks(rest) != 0) {
			msg_warn("%s, line %d: unexpected text after \"endif\": skipping this rule",
			    mc->origin, lineno);
			return;
		}
		if (mc->if_depth == 0) {
			msg_warn("%s, line %d: \"endif\" without \"if\": skipping this rule",
			    mc->origin, lineno);
			return;
		}
		mc->entries[mc->if_stack[--mc->if_depth]].skip_to = mc->nentries;
		return;
	}
	if ((rest = cidr_keyword(line, "if")) != NULL) {
		cp = skipblanks(rest);
		if (*cp == '!') {
			e.negate = 1;
			cp = skipblanks(cp + 1);
		}
		if (*cp == 0) {
			msg_warn("%s, line %d: \"if\" without address pattern: skipping this rule",
			    mc->origin, lineno);
			return;
		}
		/* The whole rest is the pattern: "if 1.2.3.0/24 x" is an error. */
		if (cidr_parse_pattern(cp, &e, why) < 0) {
			msg_warn("%s, line %d: %s: skipping this rule", mc->origin,
			    lineno, buf_str(why));
			return;
		}
		e.op = CIDR_IF;
		if (mc->if_depth == mc->if_cap) {
			mc->if_cap = mc->if_cap ? mc->if_cap * 2 : 8;
			mc->if_stack = xreallocarray(mc->if_stack, mc->if_cap,
			    sizeof(*mc->if_stack));
		}
		mc->if_stack[mc->if_depth++] = mc->nentries;
		cidr_add(mc, &e);
		return;
	}

	cp = line;
	if (*cp == '!') {
		e.negate = 1;
		cp = skipblanks(cp + 1);
	}
	rest = cp + strcspn(cp, " \t\r\n\f\v");
	if (*rest)
		*rest++ = 0;
	rest = skipblanks(rest);
	if (cidr_parse_pattern(cp, &e, why) < 0) {
		msg_warn("%s, line %d: %s: skipping this rule", mc->origin, lineno,
		    buf_str(why));
		return;
	}
	if (*rest == 0) {
		msg_warn("%s, line %d: no lookup result: skipping this rule",
		    mc->origin, lineno);
		free(e.pattern);
		return;
	}
	e.op = CIDR_RULE;
	e.result = xstrdup(rest);
	cidr_add(mc, &e);
}

/* cidr_parse_end - close "if" blocks left open at the end. */
static void
cidr_parse_end(struct map_cidr *mc)
{
	while (mc->if_depth > 0) {
		struct cidr_entry *e = &mc->entries[mc->if_stack[--mc->if_depth]];

		msg_warn("%s, line %d: \"if\" has no matching \"endif\"",
		    mc->origin, e->lineno);
		e->skip_to = mc->nentries;
	}
	free(mc->if_stack);
	mc->if_stack = NULL;
	mc->if_cap = 0;
}

/* cidr_match - does the key (binary, len bytes) match e's pattern, with
 * "!" applied?  Different address families never match. */
static int
cidr_match(const struct cidr_entry *e, const unsigned char *key, int len)
{
	int in = 1;

	if (e->addr_len != len)
		return 0;
	for (int i = 0; i < len; i++) {
		if ((key[i] & e->mask[i]) != e->net[i]) {
			in = 0;
			break;
		}
	}
	return in != e->negate;
}

static enum map_status
cidr_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_cidr *mc = (struct map_cidr *)map;
	unsigned char addr[CIDR_ADDR_MAX];
	int len;
	size_t i = 0;

	if ((len = cidr_parse_address(key, strlen(key), addr)) == 0) {
		map_explain(map, "%s: \"%s\" is not an IP address", map->title, key);
		return MAP_NOTFOUND;
	}
	while (i < mc->nentries) {
		const struct cidr_entry *e = &mc->entries[i];
		int match = cidr_match(e, addr, len);

		if (e->op == CIDR_IF) {
			if (MAP_EXPLAINING(map))
				map_explain(map, "%s, line %d: if %s%s: %s", mc->origin,
				    e->lineno, e->negate ? "!" : "", e->pattern,
				    match ? "entered" : "skipped");
			i = match ? i + 1 : e->skip_to;
			continue;
		}
		if (match) {
			map_explain(map, "%s, line %d: \"%s\" matches %s%s", mc->origin,
			    e->lineno, key, e->negate ? "!" : "", e->pattern);
			*value_r = e->result;
			return MAP_FOUND;
		}
		i++;
	}
	return MAP_NOTFOUND;
}

static void
cidr_close(struct map *map)
{
	struct map_cidr *mc = (struct map_cidr *)map;

	for (size_t i = 0; i < mc->nentries; i++) {
		free(mc->entries[i].pattern);
		free(mc->entries[i].result);
	}
	free(mc->entries);
	free(mc->if_stack);
	map_free_base(map);
}

/* cidr_read_inline - "{ {rule}, {rule} }"; 0, or -1 with *err_r. */
static int
cidr_read_inline(struct map_cidr *mc, const char *name, char **err_r)
{
	char *body = xstrdup(skipblanks(name));
	char *cp, *item;
	const char *gerr;
	size_t len;
	int lineno = 0;
	struct buf *why = buf_new(128, 4096);
	int ret = 0;

	trimblanks(body);
	len = strlen(body);
	if (len < 2 || body[len - 1] != '}') {
		*err_r = map_errorf("cidr:%s: syntax error: missing '}' at the end",
		    name);
		ret = -1;
		goto out;
	}
	body[len - 1] = 0;
	trimblanks(body);
	cp = body + 1;
	for (;;) {
		cp += strspn(cp, ", \t\r\n");
		if (*cp == 0)
			break;
		if (*cp != '{') {
			*err_r = map_errorf("cidr:%s: syntax error: expected \"{rule}\" at \"%s\"",
			    name, cp);
			ret = -1;
			goto out;
		}
		if ((item = mystrtok_grouped(&cp, ", \t\r\n", &gerr)) == NULL) {
			*err_r = map_errorf("cidr:%s: syntax error: %s", name,
			    gerr ? gerr : "empty rule");
			ret = -1;
			goto out;
		}
		lineno++;
		/* Like a file: empty items and comments carry nothing. */
		if (*item == 0 || *item == '#')
			continue;
		cidr_parse_line(mc, item, lineno, why);
	}
	cidr_parse_end(mc);
out:
	buf_free(&why);
	free(body);
	return ret;
}

/* cidr_read_file - read rules from the file name; 0, or -1 + *err_r. */
static int
cidr_read_file(struct map_cidr *mc, const char *name, char **err_r)
{
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line, *why;
	struct stat st;
	int lineno;

	if ((fp = fopen(name, "r")) == NULL) {
		*err_r = map_errorf("open %s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == 0)
		mc->map.mtime = st.st_mtime;
	line = buf_new(256, BUF_NOLIMIT);
	why = buf_new(128, 4096);
	rd = lline_open(fp, name, 0);
	while (lline_read(rd, line, &lineno))
		cidr_parse_line(mc, line->data, lineno, why);
	cidr_parse_end(mc);
	if (ferror(fp)) {
		*err_r = map_errorf("read %s: %s", name, strerror(errno));
		lline_close(&rd);
		buf_free(&line);
		buf_free(&why);
		fclose(fp);
		return -1;
	}
	lline_close(&rd);
	buf_free(&line);
	buf_free(&why);
	fclose(fp);
	return 0;
}

static struct map *cidr_open(const char *, int, int, char **);

const struct map_driver map_cidr_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "cidr",
	.caps = MAP_CAP_PATTERN, .open = cidr_open,
};

static struct map *
cidr_open(const char *name, int open_flags, int flags, char **err_r)
{
	struct map_cidr *mc;
	int ret;

	mc = (struct map_cidr *)map_alloc(sizeof(*mc), &map_cidr_driver, name,
	    open_flags, flags);
	mc->origin = mc->map.name;
	mc->map.lookup = cidr_lookup;
	mc->map.close = cidr_close;
	if (*skipblanks(name) == '{') {
		ret = cidr_read_inline(mc, name, err_r);
	} else {
		mc->map.caps |= MAP_CAP_FILE;
		ret = cidr_read_file(mc, name, err_r);
	}
	if (ret < 0) {
		cidr_close(&mc->map);
		return NULL;
	}
	return &mc->map;
}

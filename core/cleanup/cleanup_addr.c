/* SPDX-License-Identifier: MIT */
/* cleanup_addr - envelope address work for the cleanup library: opening
 * the table lists named in main.cf, qualifying unqualified addresses with
 * @$myorigin, sender/recipient canonical maps (one-to-one), and virtual
 * alias expansion (one-to-many) with Postfix's key search order
 * (mail_addr_find.h "virtual"), unmatched-extension propagation, "@domain"
 * results, and the recursion/expansion/length limits.
 *
 * A table error or an exceeded limit defers the message with "4.6.0 Alias
 * expansion error" and logs a warning as program cleanup. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup_private.h"
#include "mail_addr_find.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "hdr_addr.h"
#include "stringops.h"

#define CLEANUP_CANON_RECURSION	10
#define CLEANUP_ALIAS_REPLY	"4.6.0 Alias expansion error"

char *
cleanup_addr_qualify(const char *addr)
{
	if (*addr == 0 || strchr(addr, '@') != NULL
	    || !cleanup_conf.append_at_myorigin)
		return xstrdup(addr);
	return concatenate(addr, "@", cleanup_conf.myorigin, (char *)0);
}

/* Result lists. */
struct addr_list {
	int count;
	char **addr;
};

static void
addr_list_add(struct addr_list *l, char *addr)
{
	l->addr = xreallocarray(l->addr, (size_t)l->count + 1, sizeof(char *));
	l->addr[l->count++] = addr;
}

static void
addr_list_free(struct addr_list *l)
{
	for (int i = 0; i < l->count; i++)
		free(l->addr[i]);
	free(l->addr);
	l->addr = NULL;
	l->count = 0;
}

/* split_result - a table result into addresses (commas/blanks outside
 * quotes; "<addr>" loses its brackets). */
static void
split_result(const char *value, struct addr_list *out)
{
	const char *cp = value;

	for (;;) {
		const char *start;
		int quoted = 0;

		cp += strspn(cp, ", \t\r\n");
		if (*cp == 0)
			break;
		start = cp;
		for (; *cp; cp++) {
			if (*cp == '\\' && quoted && cp[1]) {
				cp++;
				continue;
			}
			if (*cp == '"')
				quoted = !quoted;
			else if (!quoted && strchr(", \t\r\n", *cp))
				break;
		}
		{
			size_t len = (size_t)(cp - start);

			if (len >= 2 && start[0] == '<' && start[len - 1] == '>') {
				start++;
				len -= 2;
			}
			addr_list_add(out, xstrndup(start, len));
		}
	}
}

/* addr_map - look addr up in maps with the "virtual" key order; on
 * MAP_FOUND, *out holds the rewritten result addresses. */
static enum map_status
addr_map(struct maps *maps, const char *addr, int propagate,
    struct addr_list *out, struct map **bad_r)
{
	struct mail_addr_forms *forms = mail_addr_forms(addr, "virtual");
	const char *at = strrchr(addr, '@');
	char *local = at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
	const char *value = NULL;
	enum map_status st = MAP_NOTFOUND;
	const char *matched = NULL;
	int ext;

	*bad_r = NULL;
	for (int i = 0; forms && i < forms->count; i++) {
		st = maps_find(maps, forms->form[i], !forms->full_only[i],
		    &value, bad_r);
		if (st == MAP_FOUND && *value == 0)
			st = MAP_NOTFOUND;	/* an empty result maps nothing */
		if (st != MAP_NOTFOUND) {
			matched = forms->form[i];
			break;
		}
	}
	if (st == MAP_FOUND) {
		const char *delims = var_recipient_delimiter;
		const char *extp = NULL;
		struct addr_list raw = { 0, NULL };

		ext = mail_addr_split_ext(local, delims);
		if (ext >= 0 && propagate && strcasecmp(matched, addr) != 0
		    && strcasecmp(matched, local) != 0)
			extp = local + ext;
		split_result(value, &raw);
		for (int i = 0; i < raw.count; i++) {
			char *r = raw.addr[i], *q;

			if (i == 0 && r[0] == '@') {
				/* "@domain": the same user in another domain. */
				q = concatenate(local, r, (char *)0);
			} else if (extp != NULL) {
				q = mail_addr_insert_ext(r, extp);
			} else {
				q = xstrdup(r);
			}
			addr_list_add(out, cleanup_addr_qualify(q));
			free(q);
		}
		addr_list_free(&raw);
		if (out->count == 0)
			st = MAP_NOTFOUND;
	}
	mail_addr_forms_free(&forms);
	free(local);
	return st;
}

/* defer_alias - log and defer an expansion problem. */
static void
defer_alias(struct cleanup_state *st, const char *what, const char *param,
    const char *addr)
{
	msg_warn_as(CLEANUP_PROG, "%s: %s %s for %s -- message not accepted, "
	    "try again later", st->queue_id, param, what, addr);
	cleanup_set_error(st, CLEANUP_STAT_DEFER, CLEANUP_ALIAS_REPLY);
}

/* map11 - one-to-one canonical mapping, repeated until stable. */
static char *
map11(struct cleanup_state *st, struct maps *maps, char *addr,
    int propagate)
{
	for (int count = 0; ; count++) {
		struct addr_list out = { 0, NULL };
		struct map *bad;
		enum map_status s;

		if (count >= CLEANUP_CANON_RECURSION) {
			defer_alias(st, "map nesting is unreasonable", maps->param, addr);
			free(addr);
			return NULL;
		}
		s = addr_map(maps, addr, propagate, &out, &bad);
		if (s == MAP_NOTFOUND)
			return addr;
		if (s == MAP_TEMPFAIL) {
			msg_warn_as(CLEANUP_PROG, "%s: %s: %s", st->queue_id,
			    maps->param, bad ? map_reason(bad) : "table not available");
			defer_alias(st, "map lookup problem", maps->param, addr);
			free(addr);
			return NULL;
		}
		if (out.count > 1)
			msg_warn_as(CLEANUP_PROG, "%s: %s: multiple addresses for %s: "
			    "using the first", st->queue_id, maps->param, addr);
		if (strcasecmp(out.addr[0], addr) == 0) {
			addr_list_free(&out);
			return addr;
		}
		free(addr);
		addr = out.addr[0];
		out.addr[0] = NULL;
		addr_list_free(&out);
	}
}

char *
cleanup_addr_bcc(struct cleanup_state *st, struct maps *maps,
    const char *addr)
{
	struct addr_list out = { 0, NULL };
	struct map *bad;
	enum map_status s;
	char *bcc;

	if (maps->count == 0 || *addr == 0)
		return NULL;
	s = addr_map(maps, addr, 0, &out, &bad);
	if (s == MAP_TEMPFAIL) {
		msg_warn_as(CLEANUP_PROG, "%s: %s: %s", st->queue_id, maps->param,
		    bad ? map_reason(bad) : "table not available");
		defer_alias(st, "map lookup problem", maps->param, addr);
		return NULL;
	}
	if (s != MAP_FOUND)
		return NULL;
	if (out.count > 1)
		msg_warn_as(CLEANUP_PROG, "%s: %s: multiple addresses for %s: "
		    "using the first", st->queue_id, maps->param, addr);
	bcc = out.addr[0];
	out.addr[0] = NULL;
	addr_list_free(&out);
	return bcc;
}

char *
cleanup_masquerade(char *addr)
{
	const struct cleanup_conf *c = &cleanup_conf;
	char *at = strrchr(addr, '@'), *res;
	const char *domain;
	size_t dlen;

	if (c->masq_domain_count == 0 || at == NULL || at == addr)
		return addr;
	for (int i = 0; i < c->masq_exception_count; i++)
		if ((size_t)(at - addr) == strlen(c->masq_exceptions[i])
		    && strncasecmp(addr, c->masq_exceptions[i],
		    (size_t)(at - addr)) == 0)
			return addr;
	domain = at + 1;
	dlen = strlen(domain);
	/* The first listed domain that the address is below wins; "!d"
	 * keeps addresses in d and below as they are. */
	for (int i = 0; i < c->masq_domain_count; i++) {
		const char *m = c->masq_domains[i];
		int negate = *m == '!';
		size_t mlen;

		m += negate;
		mlen = strlen(m);
		if (mlen == 0)
			continue;
		if (negate && strcasecmp(domain, m) == 0)
			return addr;
		if (dlen > mlen && domain[dlen - mlen - 1] == '.'
		    && strcasecmp(domain + dlen - mlen, m) == 0) {
			if (negate)
				return addr;
			*at = 0;
			res = concatenate(addr, "@", m, (char *)0);
			free(addr);
			return res;
		}
	}
	return addr;
}

/* canon - the canonical maps of one class, in Postfix's order (the
 * class-specific table first, then canonical_maps), and masquerading;
 * q is taken over; NULL when a table failed. */
static char *
canon(struct cleanup_state *st, char *q, struct maps *specific,
    int use_specific, int use_common, int masquerade)
{
	if (use_specific && specific->count)
		if ((q = map11(st, specific, q,
		    cleanup_conf.propagate_canonical)) == NULL)
			return NULL;
	if (use_common && cleanup_conf.canonical.count)
		if ((q = map11(st, &cleanup_conf.canonical, q,
		    cleanup_conf.propagate_canonical)) == NULL)
			return NULL;
	return masquerade ? cleanup_masquerade(q) : q;
}

char *
cleanup_addr_sender(struct cleanup_state *st, const char *addr)
{
	char *q = cleanup_addr_qualify(addr);

	if (*q == 0 || (st->flags & CLEANUP_FLAG_MAP_OK) == 0)
		return q;
	return canon(st, q, &cleanup_conf.sender_canonical,
	    cleanup_conf.sender_canon_env, cleanup_conf.canon_env_sender,
	    cleanup_conf.masq_env_sender);
}

char *
cleanup_addr_rcpt(struct cleanup_state *st, const char *addr)
{
	char *q = cleanup_addr_qualify(addr);

	if ((st->flags & CLEANUP_FLAG_MAP_OK) == 0)
		return q;
	return canon(st, q, &cleanup_conf.rcpt_canonical,
	    cleanup_conf.rcpt_canon_env, cleanup_conf.canon_env_rcpt,
	    cleanup_conf.masq_env_rcpt);
}

char *
cleanup_addr_header(struct cleanup_state *st, const char *addr, int sender)
{
	const struct cleanup_conf *c = &cleanup_conf;
	char *q = xstrdup(addr);

	if (sender)
		return canon(st, q, &cleanup_conf.sender_canonical,
		    c->sender_canon_hdr, c->canon_hdr_sender, c->masq_hdr_sender);
	return canon(st, q, &cleanup_conf.rcpt_canonical, c->rcpt_canon_hdr,
	    c->canon_hdr_rcpt, c->masq_hdr_rcpt);
}

static char *
fold(const char *s)
{
	return lowercase(xstrdup(s));
}

void
cleanup_addr_virtual(struct cleanup_state *st, const char *orig,
    const char *addr, int notify)
{
	struct maps *maps = &cleanup_conf.virtual_alias;
	struct addr_list list = { 0, NULL };
	struct htable *been;
	int failed = 0;

	if (maps->count == 0 || (st->flags & CLEANUP_FLAG_MAP_OK) == 0) {
		cleanup_final_rcpt(st, orig, addr, notify);
		return;
	}
	been = htable_create(16);
	addr_list_add(&list, xstrdup(addr));
	for (int i = 0; i < list.count && !failed; i++) {
		if (list.count > cleanup_conf.virt_expansion_limit) {
			defer_alias(st, "map expansion size is unreasonable",
			    maps->param, addr);
			failed = 1;
			break;
		}
		/* Expand the i-th address in place (its first result), adding
		 * the other results at the end: depth is bounded per branch. */
		for (long count = 0; ; count++) {
			struct addr_list out = { 0, NULL };
			struct map *bad;
			enum map_status s;
			char *key = fold(list.addr[i]);
			int self = htable_find(been, key) != NULL;

			free(key);
			if (self)
				break;
			if (count >= cleanup_conf.virt_recursion_limit) {
				defer_alias(st, "map nesting is unreasonable",
				    maps->param, addr);
				failed = 1;
				break;
			}
			s = addr_map(maps, list.addr[i], cleanup_conf.propagate_virtual,
			    &out, &bad);
			if (s == MAP_NOTFOUND)
				break;
			if (s == MAP_TEMPFAIL) {
				msg_warn_as(CLEANUP_PROG, "%s: %s: %s", st->queue_id,
				    maps->param, bad ? map_reason(bad)
				    : "table not available");
				defer_alias(st, "map lookup problem", maps->param,
				    list.addr[i]);
				failed = 1;
				break;
			}
			/* The length limit is for what the table returns: an
			 * over-long original address is not the table's fault
			 * (a deferral would never end), a result that long is. */
			for (int j = 0; j < out.count && !failed; j++)
				if ((long)strlen(out.addr[j])
				    > cleanup_conf.virt_addr_length_limit) {
					msg_warn_as(CLEANUP_PROG, "%s: unreasonable %s "
					    "result %.300s... -- message not accepted, "
					    "try again later", st->queue_id, maps->param,
					    out.addr[j]);
					cleanup_set_error(st, CLEANUP_STAT_DEFER,
					    CLEANUP_ALIAS_REPLY);
					failed = 1;
				}
			if (failed) {
				addr_list_free(&out);
				break;
			}
			{
				char *lhs = list.addr[i];

				for (int j = 0; j < out.count; j++) {
					/* An address that expands to itself stops there. */
					if (strcasecmp(out.addr[j], lhs) == 0) {
						char *k = fold(lhs);

						if (htable_find(been, k) == NULL)
							htable_enter(been, k, been);
						free(k);
					}
					if (j == 0)
						list.addr[i] = out.addr[j];
					else
						addr_list_add(&list, out.addr[j]);
					out.addr[j] = NULL;
				}
				free(lhs);
				addr_list_free(&out);
			}
		}
	}
	if ((st->status & CLEANUP_STAT_DEFER) == 0)
		for (int i = 0; i < list.count; i++)
			cleanup_final_rcpt(st, orig, list.addr[i], notify);
	addr_list_free(&list);
	htable_free(&been, NULL);
}

/* header_addr - hdr_addr_fn for cleanup_header_rewrite. */
static char *
header_addr(void *ctx, const char *addr, int sender)
{
	return cleanup_addr_header(ctx, addr, sender);
}

char *
cleanup_header_rewrite(struct cleanup_state *st, const char *text)
{
	const char *domain;
	int fail;

	if ((st->flags & CLEANUP_FLAG_MAP_OK) == 0)
		return NULL;
	/* The "local" context: pickup, local_header_rewrite_clients. */
	if (st->local_context)
		domain = cleanup_conf.append_at_myorigin ? cleanup_conf.myorigin
		    : NULL;
	else if (*cleanup_conf.remote_rewrite_domain)
		domain = cleanup_conf.remote_rewrite_domain;
	else
		return NULL;			/* remote mail: headers as sent */
	return hdr_addr_rewrite(text, domain, header_addr, st, &fail);
}

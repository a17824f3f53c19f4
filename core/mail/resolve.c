/* SPDX-License-Identifier: MIT */
/* resolve - address class and transport, as Postfix's trivial-rewrite
 * resolver (see resolve.h).
 *
 * The loop below works on the internal (unquoted) form, so a quoted
 * local part is searched for routing operators like any other: this is
 * Postfix's resolve_dequoted_address = yes, which stops
 * "user@remote"@ourdomain relaying.  It repeats at most RESOLVE_LOOPS
 * times:
 *   - strip a trailing dot from the domain; a trailing '@' goes away;
 *   - if the domain is local, strip "@domain" and remember it;
 *   - if what remains still holds an '@', or "host!user"
 *     (swap_bangpath), or "user%host" (allow_percent_hack), rewrite it
 *     to user@host and go round again;
 *   - otherwise stop.
 * An address that still has a domain is remote; it is flagged ROUTED
 * when its local part holds '@', '%' or '!', or when one of our domains
 * was stripped from it on the way (the sender routed through us).
 * Such an address is never in a final class that smtpd would relay for
 * an untrusted client: the class is decided by the domain that is left.
 *
 * Logs: warnings for table errors (the tables' own reasons). */
#include "postino_config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr_parse.h"
#include "mail_addr_find.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "resolve.h"
#include "stringops.h"

#define RESOLVE_LOOPS	100

struct resolve_state {
	int ready;
	struct match_list *mydest;
	struct match_list *relay;
	struct match_list *valias;
	struct match_list *vmbox;
	struct map **transport;
	int ntransport;
	struct map **relocated;
	int nrelocated;
	struct map **sdrelay;		/* sender_dependent_relayhost_maps */
	int nsdrelay;
	struct map **sdtransport;	/* sender_dependent_default_transport_maps */
	int nsdtransport;
	char *sender;			/* resolve_set_sender() */
	unsigned char (*local_addr)[17];	/* family byte + 16 address bytes */
	int nlocal_addr;
	int swap_bangpath;
	int percent_hack;
};

static struct resolve_state rs;

/* add_local_addr - remember an address whose literal is local. */
static void
add_local_addr(int family, const void *bytes)
{
	rs.local_addr = xreallocarray(rs.local_addr, (size_t)rs.nlocal_addr + 1,
	    sizeof(*rs.local_addr));
	memset(rs.local_addr[rs.nlocal_addr], 0, 17);
	rs.local_addr[rs.nlocal_addr][0] = (unsigned char)family;
	memcpy(rs.local_addr[rs.nlocal_addr] + 1, bytes,
	    family == AF_INET ? 4 : 16);
	rs.nlocal_addr++;
}

/* add_interfaces - the addresses of $inet_interfaces and
 * $proxy_interfaces ("all" means every interface address). */
static void
add_interfaces(const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *item;
	const char *err;
	unsigned char b[16];
	int fam;

	while ((item = match_list_token(&cp, &err)) != NULL) {
		if (strcasecmp(item, "all") == 0) {
			struct ifaddrs *ifs, *ifa;

			if (getifaddrs(&ifs) < 0) {
				msg_warn("getifaddrs: %m");
				continue;
			}
			for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
				if (ifa->ifa_addr == NULL)
					continue;
				if (ifa->ifa_addr->sa_family == AF_INET)
					add_local_addr(AF_INET, &((struct sockaddr_in *)
					    ifa->ifa_addr)->sin_addr);
				else if (ifa->ifa_addr->sa_family == AF_INET6)
					add_local_addr(AF_INET6, &((struct sockaddr_in6 *)
					    ifa->ifa_addr)->sin6_addr);
			}
			freeifaddrs(ifs);
		} else if (strcasecmp(item, "loopback-only") == 0
		    || strcasecmp(item, "localhost") == 0) {
			match_list_addr_parse("127.0.0.1", b);
			add_local_addr(AF_INET, b);
			match_list_addr_parse("::1", b);
			add_local_addr(AF_INET6, b);
		} else if ((fam = match_list_addr_parse(item, b)) > 0) {
			add_local_addr(fam, b);
		}
		/* Host names in inet_interfaces are not looked up here. */
	}
	free(copy);
}

/* resolve_free - forget the parsed configuration. */
void
resolve_free(void)
{
	match_list_free(&rs.mydest);
	match_list_free(&rs.relay);
	match_list_free(&rs.valias);
	match_list_free(&rs.vmbox);
	for (int i = 0; i < rs.ntransport; i++)
		map_close(&rs.transport[i]);
	free(rs.transport);
	for (int i = 0; i < rs.nrelocated; i++)
		map_close(&rs.relocated[i]);
	free(rs.relocated);
	for (int i = 0; i < rs.nsdrelay; i++)
		map_close(&rs.sdrelay[i]);
	free(rs.sdrelay);
	for (int i = 0; i < rs.nsdtransport; i++)
		map_close(&rs.sdtransport[i]);
	free(rs.sdtransport);
	free(rs.sender);
	free(rs.local_addr);
	memset(&rs, 0, sizeof(rs));
}

/* open_maps - the tables of a *_maps parameter. */
static void
open_maps(const char *list, struct map ***maps, int *count)
{
	char *copy = xstrdup(list ? list : ""), *cp = copy, *item;
	const char *err;

	while ((item = match_list_token(&cp, &err)) != NULL) {
		char *merr = NULL;
		struct map *map = map_open(item, O_RDONLY,
		    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE | MAP_FLAG_NO_REGSUB,
		    &merr);

		free(merr);
		if (map == NULL)
			continue;
		*maps = xreallocarray(*maps, (size_t)*count + 1, sizeof(**maps));
		(*maps)[(*count)++] = map;
	}
	free(copy);
}

void
resolve_set_sender(const char *sender)
{
	if (!rs.ready)
		resolve_init();
	free(rs.sender);
	rs.sender = sender ? xstrdup(sender) : NULL;
}

/* sender_lookup - a sender_dependent_* table for the sender set with
 * resolve_set_sender(): the sender address, then "@domain" (the null
 * sender: empty_key).  NULL when nothing matches or the answer is DUNNO
 * (no override, as Postfix); *fail set on a table error. */
static char *
sender_lookup(struct map **maps, int count, const char *param,
    const char *empty_key, int *fail)
{
	char *keys[2] = {NULL, NULL};
	char *result = NULL;
	int done = 0;

	if (count == 0 || rs.sender == NULL)
		return NULL;
	if (*rs.sender == 0) {
		keys[0] = xstrdup(empty_key);
	} else {
		const char *at = strrchr(rs.sender, '@');

		keys[0] = xstrdup(rs.sender);
		if (at)
			keys[1] = xstrdup(at);
	}
	for (int k = 0; k < 2 && keys[k] && !done && !*fail; k++) {
		for (int i = 0; i < count; i++) {
			const char *value;
			enum map_status st = map_lookup(maps[i], keys[k], &value);

			if (st == MAP_TEMPFAIL) {
				msg_warn("%s: %s: lookup of \"%s\": %s", param,
				    maps[i]->title, keys[k], map_reason(maps[i]));
				*fail = 1;
				break;
			}
			if (st == MAP_FOUND && *value) {
				if (strcasecmp(value, "DUNNO") != 0)
					result = xstrdup(value);
				done = 1;
				break;
			}
		}
	}
	free(keys[0]);
	free(keys[1]);
	return result;
}

/* sender_relayhost - sender_dependent_relayhost_maps (sender_lookup). */
static char *
sender_relayhost(int *fail)
{
	return sender_lookup(rs.sdrelay, rs.nsdrelay,
	    "sender_dependent_relayhost_maps",
	    var_empty_address_relayhost_maps_lookup_key, fail);
}

void
resolve_init(void)
{
	resolve_free();
	mail_vars_bind(MAIL_VARS_RESOLVE);
	rs.mydest = match_list_create(MAIL_PARAM_NAME(mydestination),
	    var_mydestination, MATCH_LIST_DOMAIN);
	rs.relay = match_list_create(MAIL_PARAM_NAME(relay_domains),
	    var_relay_domains, MATCH_LIST_DOMAIN);
	rs.valias = match_list_create(MAIL_PARAM_NAME(virtual_alias_domains),
	    var_virtual_alias_domains, MATCH_LIST_DOMAIN);
	rs.vmbox = match_list_create(MAIL_PARAM_NAME(virtual_mailbox_domains),
	    var_virtual_mailbox_domains, MATCH_LIST_DOMAIN);
	open_maps(var_transport_maps, &rs.transport, &rs.ntransport);
	open_maps(var_relocated_maps, &rs.relocated, &rs.nrelocated);
	open_maps(var_sender_dependent_relayhost_maps, &rs.sdrelay, &rs.nsdrelay);
	open_maps(var_sender_dependent_default_transport_maps, &rs.sdtransport,
	    &rs.nsdtransport);
	add_interfaces(var_inet_interfaces);
	add_interfaces(var_proxy_interfaces);
	rs.swap_bangpath = var_swap_bangpath;
	rs.percent_hack = var_allow_percent_hack;
	rs.ready = 1;
}

int
resolve_domain_is_local(const char *domain)
{
	unsigned char b[16];
	char *copy;
	size_t len;
	int fam, rc;

	if (!rs.ready)
		resolve_init();
	copy = xstrdup(domain);
	len = strlen(copy);
	if (len > 0 && copy[len - 1] == '.')
		copy[--len] = 0;
	if (*copy == '[') {
		rc = 0;
		if ((fam = match_list_addr_parse(copy, b)) > 0) {
			for (int i = 0; i < rs.nlocal_addr; i++)
				if (rs.local_addr[i][0] == fam && memcmp(rs.local_addr[i]
				    + 1, b, fam == AF_INET ? 4 : 16) == 0) {
					rc = 1;
					break;
				}
		}
	} else {
		rc = match_list_match(rs.mydest, copy, NULL);
	}
	free(copy);
	return rc;
}

/* valid_domain - a host name or an address literal. */
static int
valid_domain(const char *d)
{
	unsigned char b[16];
	size_t label = 0, len = strlen(d);

	if (*d == '[')
		return match_list_addr_parse(d, b) > 0;
	if (len == 0 || len > 255 || *d == '.' || d[len - 1] == '.')
		return 0;
	for (const char *cp = d; *cp; cp++) {
		unsigned char c = (unsigned char)*cp;

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

/* qualify - append @$myorigin to an address without a domain, and
 * .$mydomain to a dotless domain when append_dot_mydomain is on. */
static char *
qualify(char *addr)
{
	char *at = strrchr(addr, '@'), *res;

	if (at == NULL && var_append_at_myorigin) {
		res = concatenate(addr, "@", var_myorigin, (char *)0);
		free(addr);
		return res;
	}
	if (at && at[1] && at[1] != '[' && strchr(at + 1, '.') == NULL
	    && var_append_dot_mydomain
	    && resolve_domain_is_local(at + 1) == 0) {
		res = concatenate(addr, ".", var_mydomain, (char *)0);
		free(addr);
		return res;
	}
	return addr;
}

/* strip_route - "@a,@b:user@d" becomes "user@d". */
static char *
strip_route(char *addr)
{
	char *colon;

	if (*addr != '@' || (colon = strchr(addr, ':')) == NULL)
		return addr;
	memmove(addr, colon + 1, strlen(colon + 1) + 1);
	return addr;
}

/* split_spec - "transport:nexthop" into malloc'd parts ("" if absent). */
static void
split_spec(const char *spec, char **transport_r, char **nexthop_r)
{
	const char *colon = strchr(spec, ':');

	if (colon) {
		*transport_r = xstrndup(spec, (size_t)(colon - spec));
		*nexthop_r = xstrdup(colon + 1);
	} else {
		*transport_r = xstrdup(spec);
		*nexthop_r = xstrdup("");
	}
}

/* set_transport - the class default (spec, the value of *_transport):
 * transport and nexthop. */
static void
set_transport(struct resolve_reply *r, const char *spec, const char *domain,
    int use_relayhost)
{
	const char *relayhost = var_relayhost;

	split_spec(spec, &r->transport, &r->nexthop);
	if (*r->nexthop == 0) {
		int fail = 0;
		char *sdr = use_relayhost ? sender_relayhost(&fail) : NULL;

		if (fail)
			r->flags |= RESOLVE_FLAG_FAIL;
		free(r->nexthop);
		r->nexthop = sdr ? sdr : xstrdup(use_relayhost && *relayhost
		    ? relayhost : domain);
	}
}

/* forms_lookup - addr in the tables of one parameter, key form by key
 * form (mail_addr_find.h strategy); forms other than the full address
 * go to fixed tables only.  MAP_TEMPFAIL (logged) on a table error. */
static enum map_status
forms_lookup(struct map **maps, int count, const char *addr,
    const char *strategy, const char *param, const char **value_r)
{
	struct mail_addr_forms *forms;
	enum map_status st = MAP_NOTFOUND;

	if (count == 0)
		return MAP_NOTFOUND;
	forms = mail_addr_forms(addr, strategy);
	for (int f = 0; forms && f < forms->count && st == MAP_NOTFOUND; f++) {
		for (int i = 0; i < count; i++) {
			if (!forms->full_only[f] && !(maps[i]->caps & MAP_CAP_FIXED))
				continue;
			st = map_lookup(maps[i], forms->form[f], value_r);
			if (st == MAP_TEMPFAIL)
				msg_warn("%s: %s: lookup of \"%s\": %s", param,
				    maps[i]->title, forms->form[f],
				    map_reason(maps[i]));
			if (st != MAP_NOTFOUND)
				break;
		}
	}
	mail_addr_forms_free(&forms);
	return st;
}

/* relocated_lookup - relocated_maps (relocated(5): user@domain, user in
 * our own domains, @domain): a match turns the address into a bounce
 * "5.1.6 User has moved to NEW".  MAP_TEMPFAIL on a table error. */
static enum map_status
relocated_lookup(struct resolve_reply *r)
{
	const char *value;
	enum map_status st;

	if (*r->recipient == 0)
		return MAP_NOTFOUND;
	st = forms_lookup(rs.relocated, rs.nrelocated, r->recipient, "virtual",
	    "relocated_maps", &value);
	if (st == MAP_FOUND) {
		free(r->transport);
		free(r->nexthop);
		r->transport = xstrdup("error");
		r->nexthop = concatenate("5.1.6 User has moved to ", value,
		    (char *)0);
		r->flags |= RESOLVE_FLAG_RELOCATED;
	}
	return st;
}

/* transport_lookup - apply transport_maps; MAP_TEMPFAIL on table error. */
static enum map_status
transport_lookup(struct resolve_reply *r, const char *domain)
{
	const char *value;
	char *key, *t, *n;
	enum map_status st;

	if (rs.ntransport == 0)
		return MAP_NOTFOUND;
	key = *r->recipient ? xstrdup(r->recipient) : concatenate(
	    var_empty_address_recipient, "@", var_myhostname, (char *)0);
	st = forms_lookup(rs.transport, rs.ntransport, key, "transport",
	    "transport_maps", &value);
	free(key);
	if (st != MAP_FOUND)
		return st;
	split_spec(value, &t, &n);
	if (*t) {
		free(r->transport);
		r->transport = t;
		t = NULL;
		if (*n == 0) {
			free(n);
			n = xstrdup(domain);
		}
	}
	if (*n) {
		free(r->nexthop);
		r->nexthop = n;
		n = NULL;
	}
	free(t);
	free(n);
	return st;
}

/* classify - the class of a remote domain; -1 on table error. */
static int
classify(const char *domain, enum resolve_class *cls)
{
	int rc;

	if ((rc = match_list_match(rs.valias, domain, NULL)) != 0) {
		*cls = RESOLVE_CLASS_ALIAS;
		return rc < 0 ? -1 : 0;
	}
	if ((rc = match_list_match(rs.vmbox, domain, NULL)) != 0) {
		*cls = RESOLVE_CLASS_VIRTUAL;
		return rc < 0 ? -1 : 0;
	}
	if ((rc = match_list_match(rs.relay, domain, NULL)) != 0) {
		*cls = RESOLVE_CLASS_RELAY;
		return rc < 0 ? -1 : 0;
	}
	*cls = RESOLVE_CLASS_DEFAULT;
	return 0;
}

enum map_status
resolve_addr(const char *addr, struct resolve_reply *r)
{
	char *work, *saved = NULL, *at;
	int loops;

	if (!rs.ready)
		resolve_init();
	memset(r, 0, sizeof(*r));
	work = xstrdup(*addr ? addr : var_empty_address_recipient);
	work = qualify(strip_route(work));

	for (loops = 0; loops < RESOLVE_LOOPS; loops++) {
		size_t len = strlen(work);
		int loc;

		if (len > 1 && work[len - 1] == '.' && work[len - 2] != '.'
		    && work[len - 2] != '@')
			work[--len] = 0;
		if (len > 0 && work[len - 1] == '@') {
			work[--len] = 0;
			continue;
		}
		if ((at = strrchr(work, '@')) != NULL) {
			if ((loc = resolve_domain_is_local(at + 1)) < 0) {
				r->flags |= RESOLVE_FLAG_FAIL;
				break;
			}
			if (loc == 0)
				break;
			free(saved);
			saved = xstrdup(at + 1);
			*at = 0;
		}
		if (strchr(work, '@') != NULL)
			continue;
		if (rs.swap_bangpath && strchr(work, '!') != NULL) {
			char *bang = strchr(work, '!'), *res;

			*bang = 0;
			res = concatenate(bang + 1, "@", work, (char *)0);
			free(work);
			work = qualify(res);
			continue;
		}
		if (rs.percent_hack && strrchr(work, '%') != NULL) {
			*strrchr(work, '%') = '@';
			work = qualify(work);
			continue;
		}
		break;
	}
	if (loops >= RESOLVE_LOOPS)
		r->flags |= RESOLVE_FLAG_ERROR;

	if ((at = strrchr(work, '@')) == NULL) {
		/* Everything left is ours: local delivery. */
		const char *domain = saved ? saved : var_myhostname;

		r->cls = RESOLVE_CLASS_LOCAL;
		r->recipient = concatenate(*work ? work : "MAILER-DAEMON", "@",
		    domain, (char *)0);
		set_transport(r, var_local_transport, var_myhostname, 0);
	} else {
		const char *domain = at + 1;

		r->recipient = xstrdup(work);
		if (saved || addr_parse_has_route(work))
			r->flags |= RESOLVE_FLAG_ROUTED;
		if (!valid_domain(domain) || at == work)
			r->flags |= RESOLVE_FLAG_ERROR;
		if (!(r->flags & RESOLVE_FLAG_FAIL)
		    && classify(domain, &r->cls) < 0)
			r->flags |= RESOLVE_FLAG_FAIL;
		switch (r->cls) {
		case RESOLVE_CLASS_LOCAL:
		case RESOLVE_CLASS_DEFAULT: {
			/* sender_dependent_default_transport_maps overrides
			 * default_transport (transport_maps, below, both). */
			int fail = 0;
			char *sdt = sender_lookup(rs.sdtransport, rs.nsdtransport,
			    "sender_dependent_default_transport_maps",
			    var_empty_address_default_transport_maps_lookup_key,
			    &fail);

			if (fail)
				r->flags |= RESOLVE_FLAG_FAIL;
			set_transport(r, sdt ? sdt : var_default_transport, domain, 1);
			free(sdt);
			break;
		}
		case RESOLVE_CLASS_ALIAS:
			r->transport = xstrdup("error");
			r->nexthop = xstrdup("5.1.1 User unknown in virtual alias table");
			break;
		case RESOLVE_CLASS_VIRTUAL:
			set_transport(r, var_virtual_transport, domain, 0);
			break;
		case RESOLVE_CLASS_RELAY:
			set_transport(r, var_relay_transport, domain, 1);
			break;
		}
	}
	if (r->flags & RESOLVE_FLAG_ERROR) {
		free(r->transport);
		free(r->nexthop);
		r->transport = xstrdup("error");
		r->nexthop = xstrdup("5.1.3 bad address syntax");
	} else if (!(r->flags & RESOLVE_FLAG_FAIL)) {
		const char *domain = strrchr(r->recipient, '@') + 1;
		enum map_status rel = relocated_lookup(r);

		if (rel == MAP_TEMPFAIL)
			r->flags |= RESOLVE_FLAG_FAIL;
		else if (rel == MAP_NOTFOUND && r->cls != RESOLVE_CLASS_ALIAS
		    && transport_lookup(r, domain) == MAP_TEMPFAIL)
			r->flags |= RESOLVE_FLAG_FAIL;
	}
	free(work);
	free(saved);
	return r->flags & RESOLVE_FLAG_FAIL ? MAP_TEMPFAIL : MAP_FOUND;
}

void
resolve_reply_free(struct resolve_reply *r)
{
	free(r->transport);
	free(r->nexthop);
	free(r->recipient);
	memset(r, 0, sizeof(*r));
}

/* SPDX-License-Identifier: MIT */
/* smtpd_restrict - restriction names and list validation (see
 * smtpd_restrict.h). */
#include "postino_config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "map.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd_restrict.h"
#include "stringops.h"

/* Entries of one table whose actions are checked, at most. */
#define SMTPD_RESTRICT_SCAN_MAX	100000

#define R(n, op, w, arg, var, guard, refuse, note) \
	{ n, op, w, arg, var, guard, refuse, note }

static const struct smtpd_restrict_info table[] = {
	/* Generic. */
	R("permit", SR_PERMIT, SR_W_NONE, SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject", SR_REJECT, SR_W_NONE, SR_ARG_NONE, 0, 1, NULL, NULL),
	R("defer", SR_DEFER, SR_W_NONE, SR_ARG_NONE, 0, 1, NULL, NULL),
	R("defer_if_permit", SR_DEFER_IF_PERMIT, SR_W_NONE, SR_ARG_NONE, 0, 1,
	    NULL, NULL),
	R("defer_if_reject", SR_DEFER_IF_REJECT, SR_W_NONE, SR_ARG_NONE, 0, 0,
	    NULL, NULL),
	R("warn_if_reject", SR_WARN_IF_REJECT, SR_W_NONE, SR_ARG_NONE, 0, 0,
	    NULL, NULL),
	R("sleep", SR_SLEEP, SR_W_NONE, SR_ARG_WORD, 0, 0, NULL,
	    "sleep does not pause in postino (it would stall the other "
	    "sessions of the process)"),
	R("reject_unauth_pipelining", SR_REJECT_UNAUTH_PIPELINING, SR_W_NONE,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_plaintext_session", SR_REJECT_PLAINTEXT, SR_W_NONE,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_multi_recipient_bounce", SR_REJECT_MULTI_RCPT_BOUNCE,
	    SR_W_NONE, SR_ARG_NONE, 0, 0, NULL, NULL),
	R("check_policy_service", SR_POLICY, SR_W_NONE, SR_ARG_WORD, 0, 0,
	    NULL, NULL),

	/* Client. */
	R("check_client_access", SR_ACCESS, SR_W_CLIENT, SR_ARG_TABLE,
	    SR_DNS_NONE, 0, NULL, NULL),
	R("check_client_a_access", SR_ACCESS, SR_W_CLIENT, SR_ARG_TABLE,
	    SR_DNS_A, 0, NULL, NULL),
	R("check_client_mx_access", SR_ACCESS, SR_W_CLIENT, SR_ARG_TABLE,
	    SR_DNS_MX, 0, NULL, NULL),
	R("check_client_ns_access", SR_ACCESS, SR_W_CLIENT, SR_ARG_TABLE,
	    SR_DNS_NS, 0, NULL, NULL),
	R("check_reverse_client_hostname_access", SR_ACCESS, SR_W_REVERSE,
	    SR_ARG_TABLE, SR_DNS_NONE, 0, NULL, NULL),
	R("check_reverse_client_hostname_a_access", SR_ACCESS, SR_W_REVERSE,
	    SR_ARG_TABLE, SR_DNS_A, 0, NULL, NULL),
	R("check_reverse_client_hostname_mx_access", SR_ACCESS, SR_W_REVERSE,
	    SR_ARG_TABLE, SR_DNS_MX, 0, NULL, NULL),
	R("check_reverse_client_hostname_ns_access", SR_ACCESS, SR_W_REVERSE,
	    SR_ARG_TABLE, SR_DNS_NS, 0, NULL, NULL),
	R("check_ccert_access", SR_ACCESS, SR_W_CCERT, SR_ARG_TABLE, 0, 0, NULL,
	    NULL),
	R("check_sasl_access", SR_ACCESS, SR_W_SASL, SR_ARG_TABLE, 0, 0, NULL,
	    NULL),
	R("permit_inet_interfaces", SR_PERMIT_INET_INTERFACES, SR_W_CLIENT,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("permit_mynetworks", SR_PERMIT_MYNETWORKS, SR_W_CLIENT, SR_ARG_NONE,
	    0, 0, NULL, NULL),
	R("permit_sasl_authenticated", SR_NEVER, SR_W_SASL, SR_ARG_NONE, 0, 0,
	    NULL, NULL),
	R("permit_tls_all_clientcerts", SR_PERMIT_CCERT, SR_W_CCERT,
	    SR_ARG_NONE, 1, 0, NULL, NULL),
	R("permit_tls_clientcerts", SR_PERMIT_CCERT, SR_W_CCERT, SR_ARG_NONE, 0,
	    0, NULL, NULL),
	R("reject_rbl_client", SR_RBL, SR_W_CLIENT, SR_ARG_WORD, 0, 0, NULL,
	    NULL),
	R("reject_rbl", SR_RBL, SR_W_CLIENT, SR_ARG_WORD, 0, 0, NULL,
	    "reject_rbl is an old name: use reject_rbl_client"),
	R("permit_dnswl_client", SR_RBL, SR_W_CLIENT, SR_ARG_WORD, 1, 0, NULL,
	    NULL),
	R("reject_rhsbl_client", SR_RHSBL, SR_W_CLIENT, SR_ARG_WORD, 0, 0, NULL,
	    NULL),
	R("reject_rhsbl_reverse_client", SR_RHSBL, SR_W_REVERSE, SR_ARG_WORD, 0,
	    0, NULL, NULL),
	R("permit_rhswl_client", SR_RHSBL, SR_W_CLIENT, SR_ARG_WORD, 1, 0, NULL,
	    NULL),
	R("reject_maps_rbl", SR_MAPS_RBL, SR_W_CLIENT, SR_ARG_NONE, 0, 0, NULL,
	    "reject_maps_rbl is an old name: use reject_rbl_client DOMAIN"),
	R("reject_unknown_client_hostname", SR_UNKNOWN_CLIENT, SR_W_CLIENT,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_unknown_client", SR_UNKNOWN_CLIENT, SR_W_CLIENT, SR_ARG_NONE,
	    0, 0, NULL, NULL),
	R("reject_unknown_reverse_client_hostname", SR_UNKNOWN_REVERSE_CLIENT,
	    SR_W_CLIENT, SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_unknown_forward_client_hostname", SR_UNKNOWN_FORWARD_CLIENT,
	    SR_W_CLIENT, SR_ARG_NONE, 0, 0, NULL, NULL),
	R("permit_naked_ip_address", SR_NAKED_IP, SR_W_HELO, SR_ARG_NONE, 0, 0,
	    NULL, "permit_naked_ip_address is deprecated: use permit_mynetworks"),

	/* HELO. */
	R("check_helo_access", SR_ACCESS, SR_W_HELO, SR_ARG_TABLE, SR_DNS_NONE,
	    0, NULL, NULL),
	R("check_helo_a_access", SR_ACCESS, SR_W_HELO, SR_ARG_TABLE, SR_DNS_A, 0,
	    NULL, NULL),
	R("check_helo_mx_access", SR_ACCESS, SR_W_HELO, SR_ARG_TABLE, SR_DNS_MX,
	    0, NULL, NULL),
	R("check_helo_ns_access", SR_ACCESS, SR_W_HELO, SR_ARG_TABLE, SR_DNS_NS,
	    0, NULL, NULL),
	R("reject_invalid_helo_hostname", SR_INVALID_HELO, SR_W_HELO,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_invalid_hostname", SR_INVALID_HELO, SR_W_HELO, SR_ARG_NONE, 0,
	    0, NULL, NULL),
	R("reject_non_fqdn_helo_hostname", SR_NON_FQDN_HELO, SR_W_HELO,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_non_fqdn_hostname", SR_NON_FQDN_HELO, SR_W_HELO, SR_ARG_NONE,
	    0, 0, NULL, NULL),
	R("reject_unknown_helo_hostname", SR_UNKNOWN_HELO, SR_W_HELO,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_unknown_hostname", SR_UNKNOWN_HELO, SR_W_HELO, SR_ARG_NONE, 0,
	    0, NULL, NULL),
	R("reject_rhsbl_helo", SR_RHSBL, SR_W_HELO, SR_ARG_WORD, 0, 0, NULL,
	    NULL),

	/* Sender. */
	R("check_sender_access", SR_ACCESS, SR_W_SENDER, SR_ARG_TABLE,
	    SR_DNS_NONE, 0, NULL, NULL),
	R("check_sender_a_access", SR_ACCESS, SR_W_SENDER, SR_ARG_TABLE,
	    SR_DNS_A, 0, NULL, NULL),
	R("check_sender_mx_access", SR_ACCESS, SR_W_SENDER, SR_ARG_TABLE,
	    SR_DNS_MX, 0, NULL, NULL),
	R("check_sender_ns_access", SR_ACCESS, SR_W_SENDER, SR_ARG_TABLE,
	    SR_DNS_NS, 0, NULL, NULL),
	R("reject_sender_login_mismatch", SR_LOGIN_MISMATCH, SR_W_SENDER,
	    SR_ARG_NONE, SR_LOGIN_ALL, 0, NULL, NULL),
	R("reject_authenticated_sender_login_mismatch", SR_LOGIN_MISMATCH,
	    SR_W_SENDER, SR_ARG_NONE, SR_LOGIN_AUTH, 0, NULL, NULL),
	R("reject_unauthenticated_sender_login_mismatch", SR_LOGIN_MISMATCH,
	    SR_W_SENDER, SR_ARG_NONE, SR_LOGIN_UNAUTH, 0, NULL, NULL),
	R("reject_known_sender_login_mismatch", SR_LOGIN_MISMATCH, SR_W_SENDER,
	    SR_ARG_NONE, SR_LOGIN_KNOWN, 0, NULL, NULL),
	R("reject_non_fqdn_sender", SR_NON_FQDN_ADDR, SR_W_SENDER, SR_ARG_NONE,
	    0, 0, NULL, NULL),
	R("reject_rhsbl_sender", SR_RHSBL, SR_W_SENDER, SR_ARG_WORD, 0, 0, NULL,
	    NULL),
	R("reject_unknown_sender_domain", SR_UNKNOWN_DOMAIN, SR_W_SENDER,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_unlisted_sender", SR_UNLISTED, SR_W_SENDER, SR_ARG_NONE, 0, 0,
	    NULL, NULL),
	R("reject_unverified_sender", SR_UNVERIFIED, SR_W_SENDER, SR_ARG_NONE,
	    0, 0, NULL, NULL),

	/* Recipient. */
	R("check_recipient_access", SR_ACCESS, SR_W_RCPT, SR_ARG_TABLE,
	    SR_DNS_NONE, 0, NULL, NULL),
	R("check_recipient_a_access", SR_ACCESS, SR_W_RCPT, SR_ARG_TABLE,
	    SR_DNS_A, 0, NULL, NULL),
	R("check_recipient_mx_access", SR_ACCESS, SR_W_RCPT, SR_ARG_TABLE,
	    SR_DNS_MX, 0, NULL, NULL),
	R("check_recipient_ns_access", SR_ACCESS, SR_W_RCPT, SR_ARG_TABLE,
	    SR_DNS_NS, 0, NULL, NULL),
	R("permit_auth_destination", SR_PERMIT_AUTH_DEST, SR_W_RCPT,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_unauth_destination", SR_REJECT_UNAUTH_DEST, SR_W_RCPT,
	    SR_ARG_NONE, 0, 1, NULL, NULL),
	R("defer_unauth_destination", SR_DEFER_UNAUTH_DEST, SR_W_RCPT,
	    SR_ARG_NONE, 0, 1, NULL, NULL),
	R("permit_mx_backup", SR_PERMIT_MX_BACKUP, SR_W_RCPT, SR_ARG_NONE, 0, 0,
	    NULL, NULL),
	R("check_relay_domains", SR_CHECK_RELAY_DOMAINS, SR_W_RCPT, SR_ARG_NONE,
	    0, 1, NULL, "check_relay_domains is deprecated: use "
	    "reject_unauth_destination"),
	R("reject_non_fqdn_recipient", SR_NON_FQDN_ADDR, SR_W_RCPT, SR_ARG_NONE,
	    0, 0, NULL, NULL),
	R("reject_rhsbl_recipient", SR_RHSBL, SR_W_RCPT, SR_ARG_WORD, 0, 0, NULL,
	    NULL),
	R("reject_unknown_recipient_domain", SR_UNKNOWN_DOMAIN, SR_W_RCPT,
	    SR_ARG_NONE, 0, 0, NULL, NULL),
	R("reject_unlisted_recipient", SR_UNLISTED, SR_W_RCPT, SR_ARG_NONE, 0, 0,
	    NULL, NULL),
	R("check_recipient_maps", SR_UNLISTED, SR_W_RCPT, SR_ARG_NONE, 0, 0,
	    NULL, "check_recipient_maps is an old name: use "
	    "reject_unlisted_recipient"),
	R("reject_unverified_recipient", SR_UNVERIFIED, SR_W_RCPT, SR_ARG_NONE,
	    0, 0, NULL, NULL),

	/* ETRN (postino has no ETRN command: never evaluated). */
	R("check_etrn_access", SR_ACCESS, SR_W_ETRN, SR_ARG_TABLE, 0, 0, NULL,
	    NULL),
	{NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

const char *const smtpd_restrict_params[] = {
	"smtpd_client_restrictions", "smtpd_helo_restrictions",
	"smtpd_sender_restrictions", "smtpd_relay_restrictions",
	"smtpd_recipient_restrictions", "smtpd_data_restrictions",
	"smtpd_end_of_data_restrictions", "smtpd_etrn_restrictions", NULL,
};

const struct smtpd_restrict_info *
smtpd_restrict_find(const char *name)
{
	for (const struct smtpd_restrict_info *r = table; r->name; r++)
		if (strcasecmp(r->name, name) == 0)
			return r;
	return NULL;
}

/* action_error - what is wrong with an access table result, or NULL
 * (malloc'd). */
static char *
action_error(const char *value, smtpd_restrict_class_fn class_fn, void *ctx)
{
	static const char *const simple[] = {"OK", "RELAY", "DUNNO", "REJECT",
		"DEFER", "DEFER_IF_PERMIT", "DEFER_IF_REJECT", "HOLD", "DISCARD",
		"WARN", "INFO", "HANGUP", NULL};
	size_t wlen = strcspn(value, " \t");
	const char *rest = value + wlen + strspn(value + wlen, " \t");
	char *copy, *cp, *item, *why = NULL;
	const char *err = NULL;

	if (*value == 0 || strspn(value, "0123456789") == strlen(value))
		return NULL;
	for (int i = 0; simple[i]; i++)
		if (wlen == strlen(simple[i])
		    && strncasecmp(value, simple[i], wlen) == 0)
			return NULL;
#define IS(w) (wlen == strlen(w) && strncasecmp(value, (w), wlen) == 0)
	if (IS("FILTER")) {
		const char *colon = strchr(rest, ':');

		return colon && colon != rest && !strpbrk(rest, " \t") ? NULL
		    : xstrdup("FILTER needs transport:destination");
	}
	if (IS("PREPEND"))
		return strchr(rest, ':') ? NULL
		    : xstrdup("PREPEND needs a header \"name: value\"");
	if (IS("REDIRECT") || IS("BCC"))
		return strchr(rest, '@') ? NULL : concatenate(IS("BCC") ? "BCC"
		    : "REDIRECT", " needs a user@domain address", (char *)0);
#undef IS
	if (wlen == 3 && (value[0] == '4' || value[0] == '5')
	    && strspn(value, "0123456789") == 3 && *rest)
		return NULL;
	/* Anything else is a restriction list, without tables. */
	copy = xstrdup(value);
	cp = copy;
	while (why == NULL && (item = match_list_token(&cp, &err)) != NULL) {
		const struct smtpd_restrict_info *r = smtpd_restrict_find(item);

		if (r == NULL) {
			if (class_fn == NULL || class_fn(item, ctx) == NULL)
				why = concatenate("unknown action or restriction \"", item,
				    "\"", (char *)0);
		} else if (r->refuse) {
			why = concatenate("restriction \"", r->name, "\" is not "
			    "supported: ", r->refuse, (char *)0);
		} else if (r->op == SR_POLICY) {
			why = concatenate("restriction \"", r->name, "\" inside an "
			    "access table result: define a restriction class instead",
			    (char *)0);
		} else if (r->arg == SR_ARG_TABLE) {
			why = concatenate("restriction \"", r->name, "\" with a lookup "
			    "table inside an access table result: define a restriction "
			    "class instead", (char *)0);
		} else if (r->arg == SR_ARG_WORD
		    && match_list_token(&cp, &err) == NULL) {
			why = concatenate("restriction \"", r->name, "\" needs an "
			    "argument", (char *)0);
		}
	}
	if (why == NULL && err)
		why = xstrdup(err);
	free(copy);
	return why;
}

char *
smtpd_restrict_ccert_parse(const char *arg, char **table_r, char order[3])
{
	char *copy = xstrdup(arg), *cp = copy, *item, *why = NULL;
	const char *err = NULL;

	*table_r = NULL;
	strlcpy(order, "cp", 3);
	while (why == NULL && (item = match_list_token(&cp, &err)) != NULL) {
		char *eq = strchr(item, '='), *vp, *kind;
		size_t n = 0;

		if (*table_r == NULL) {
			*table_r = xstrdup(item);
			continue;
		}
		if (eq == NULL) {
			why = concatenate("unexpected \"", item, "\"", (char *)0);
			break;
		}
		*eq = 0;
		trimblanks(item);
		if (strcasecmp(skipblanks(item), "search_order") != 0) {
			why = concatenate("unknown option \"", skipblanks(item), "\"",
			    (char *)0);
			break;
		}
		vp = eq + 1;
		order[0] = 0;
		while (why == NULL && (kind = mystrtok(&vp, " \t\r\n,")) != NULL) {
			char c = strcasecmp(kind, "cert_fingerprint") == 0 ? 'c'
			    : strcasecmp(kind, "pubkey_fingerprint") == 0 ? 'p' : 0;

			if (c == 0 || n >= 2 || (n == 1 && order[0] == c))
				why = concatenate("bad search_order \"", kind, "\" (use "
				    "cert_fingerprint and/or pubkey_fingerprint, once "
				    "each)", (char *)0);
			else {
				order[n++] = c;
				order[n] = 0;
			}
		}
		if (why == NULL && n == 0)
			why = xstrdup("empty search_order");
	}
	if (why == NULL && err)
		why = xstrdup(err);
	if (why == NULL && (*table_r == NULL || strchr(*table_r, ':') == NULL))
		why = concatenate("needs a type:table argument, not \"", arg, "\"",
		    (char *)0);
	free(copy);
	if (why) {
		free(*table_r);
		*table_r = NULL;
	}
	return why;
}

/* check_actions - every result of a table that can be listed. */
static int
check_actions(const char *where, struct map *map,
    smtpd_restrict_class_fn class_fn, void *ctx)
{
	const char *key, *value;
	enum map_status st;
	int errors = 0, n = 0;

	if (!(map->caps & MAP_CAP_SEQUENCE))
		return 0;
	for (st = map_sequence(map, MAP_SEQ_FIRST, &key, &value);
	    st == MAP_FOUND && n < SMTPD_RESTRICT_SCAN_MAX;
	    st = map_sequence(map, MAP_SEQ_NEXT, &key, &value), n++) {
		char *why = action_error(value, class_fn, ctx);

		if (why) {
			msg_error("%s: %s: \"%s\": %s", where, map->title, key, why);
			free(why);
			errors++;
		}
	}
	return errors;
}

int
smtpd_restrict_validate(const char *where, const char *text,
    int open_tables, smtpd_restrict_class_fn class_fn, void *ctx)
{
	char *copy = xstrdup(text), *cp = copy, *item, *ccert_table = NULL;
	const char *err = NULL;
	int errors = 0;

	while ((item = match_list_token(&cp, &err)) != NULL) {
		const struct smtpd_restrict_info *r = smtpd_restrict_find(item);
		char *arg;

		free(ccert_table);	/* check_ccert_access's, last round */
		ccert_table = NULL;

		if (r == NULL) {
			if (class_fn && class_fn(item, ctx) != NULL)
				continue;
			if (strchr(item, ':'))
				msg_error("%s: lookup table \"%s\" without a restriction "
				    "name (check_client_access, check_sender_access, ...)",
				    where, item);
			else
				msg_error("%s: unknown smtpd restriction \"%s\"", where,
				    item);
			errors++;
			continue;
		}
		if (r->refuse) {
			msg_error("%s: restriction \"%s\" is not supported: %s", where,
			    r->name, r->refuse);
			errors++;
		} else if (r->note) {
			msg_warn("%s: %s", where, r->note);
		}
		if (r->arg == SR_ARG_NONE)
			continue;
		if ((arg = match_list_token(&cp, &err)) == NULL) {
			msg_error("%s: restriction \"%s\" needs %s", where, r->name,
			    r->arg == SR_ARG_TABLE ? "a type:table argument"
			    : "an argument");
			errors++;
			break;
		}
		if (r->arg == SR_ARG_WORD) {
			if (r->op == SR_SLEEP && strspn(arg, "0123456789") != strlen(arg)) {
				msg_error("%s: sleep needs a number of seconds, not \"%s\"",
				    where, arg);
				errors++;
			} else if (r->op == SR_POLICY) {
				struct smtpd_policy_opts po;
				char *why = smtpd_restrict_policy_parse(arg, &po);

				if (why) {
					msg_error("%s: check_policy_service: %s", where, why);
					errors++;
					free(why);
				}
				smtpd_restrict_policy_free(&po);
			} else if ((r->op == SR_RBL || r->op == SR_RHSBL)
			    && (smtpd_restrict_find(arg) || strchr(arg, ':'))) {
				msg_error("%s: restriction \"%s\" needs a DNS domain, "
				    "not \"%s\"", where, r->name, arg);
				errors++;
			}
			continue;
		}
		if (r->what == SR_W_CCERT) {
			char order[3], *why = smtpd_restrict_ccert_parse(arg,
			    &ccert_table, order);

			if (why) {
				msg_error("%s: restriction \"%s\": %s", where, r->name,
				    why);
				free(why);
				errors++;
				continue;
			}
			arg = ccert_table;
		}
		if (strchr(arg, ':') == NULL) {
			msg_error("%s: restriction \"%s\" needs a type:table argument, "
			    "not \"%s\"", where, r->name, arg);
			errors++;
			continue;
		}
		if (open_tables) {
			char *merr = NULL;
			struct map *map = map_open(arg, O_RDONLY, MAP_FLAGS_DEFAULT,
			    &merr);

			if (map == NULL) {
				msg_error("%s: %s %s: %s", where, r->name, arg,
				    merr ? merr : "cannot open the table");
				errors++;
			} else {
				errors += check_actions(where, map, class_fn, ctx);
				map_close(&map);
			}
			free(merr);
		}
	}
	if (err) {
		msg_error("%s: %s", where, err);
		errors++;
	}
	free(ccert_table);
	free(copy);
	return errors;
}

/* has_guard - smtpd_restrict_has_guard with a depth limit (classes may
 * name each other). */
static int
has_guard(const char *text, smtpd_restrict_class_fn class_fn, void *ctx,
    int depth)
{
	char *copy = xstrdup(text), *cp = copy, *item;
	const char *err = NULL, *def;
	int found = 0;

	while (!found && depth < 100
	    && (item = match_list_token(&cp, &err)) != NULL) {
		const struct smtpd_restrict_info *r = smtpd_restrict_find(item);

		if (r != NULL) {
			found = r->guard;
			if (r->arg != SR_ARG_NONE)
				(void)match_list_token(&cp, &err);
		} else if (class_fn && (def = class_fn(item, ctx)) != NULL) {
			found = has_guard(def, class_fn, ctx, depth + 1);
		}
	}
	free(copy);
	return found;
}

int
smtpd_restrict_has_guard(const char *text, smtpd_restrict_class_fn class_fn,
    void *ctx)
{
	return has_guard(text, class_fn, ctx, 0);
}

int
smtpd_restrict_time(const char *text, long *secs)
{
	long n = 0, mult = 1;
	const char *cp = text;

	if (*cp < '0' || *cp > '9')
		return -1;
	for (; *cp >= '0' && *cp <= '9'; cp++) {
		if (n > 100000000L)
			return -1;
		n = n * 10 + (*cp - '0');
	}
	if (*cp && cp[1])
		return -1;
	switch (*cp) {
	case 0:
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	case 'w':
		mult = 7 * 86400;
		break;
	default:
		return -1;
	}
	*secs = n * mult;
	return 0;
}

void
smtpd_restrict_policy_free(struct smtpd_policy_opts *o)
{
	free(o->server);
	free(o->default_action);
	free(o->policy_context);
	memset(o, 0, sizeof(*o));
}

/* policy_server_ok - inet:host:port, unix:path, local:path or a name
 * without a type (a socket under private/). */
static int
policy_server_ok(const char *s)
{
	const char *colon;

	if (*s == 0)
		return 0;
	if (strncasecmp(s, "inet:", 5) == 0) {
		colon = strrchr(s + 5, ':');
		return colon && colon > s + 5 && colon[1]
		    && strspn(colon + 1, "0123456789") == strlen(colon + 1);
	}
	if (strncasecmp(s, "unix:", 5) == 0 || strncasecmp(s, "local:", 6) == 0)
		return strchr(s, ':')[1] != 0;
	return strchr(s, ':') == NULL && strchr(s, '=') == NULL;
}

char *
smtpd_restrict_policy_parse(const char *arg, struct smtpd_policy_opts *o)
{
	/* An option is named as its parameter without the prefix. */
#define PFX	"smtpd_policy_service_"
	static const char *const nums[] = {
		"smtpd_policy_service_timeout", "smtpd_policy_service_max_idle",
		"smtpd_policy_service_max_ttl",
		"smtpd_policy_service_request_limit",
		"smtpd_policy_service_try_limit",
		"smtpd_policy_service_retry_delay", NULL,
	};
	char *copy = xstrdup(arg), *cp = copy, *item, *why = NULL;
	const char *err = NULL;

	memset(o, 0, sizeof(*o));
	o->timeout = o->max_idle = o->max_ttl = o->request_limit = -1;
	o->try_limit = o->retry_delay = -1;
	while (why == NULL && (item = match_list_token(&cp, &err)) != NULL) {
		char *eq = strchr(item, '='), *name, *value;
		long *slot[6];
		int i;

		if (eq == NULL) {
			if (o->server)
				why = concatenate("more than one server: \"", o->server,
				    "\" and \"", item, "\"", (char *)0);
			else if (!policy_server_ok(item))
				why = concatenate("bad server name \"", item, "\" (use "
				    "inet:host:port, unix:/path or a name under private/)",
				    (char *)0);
			else
				o->server = xstrdup(item);
			continue;
		}
		*eq = 0;
		name = item;
		trimblanks(name);
		value = skipblanks(eq + 1);
		trimblanks(value);
		slot[0] = &o->timeout;
		slot[1] = &o->max_idle;
		slot[2] = &o->max_ttl;
		slot[3] = &o->request_limit;
		slot[4] = &o->try_limit;
		slot[5] = &o->retry_delay;
		for (i = 0; nums[i]; i++)
			if (strcasecmp(name, nums[i] + sizeof(PFX) - 1) == 0)
				break;
		if (nums[i]) {
			long v;
			int is_count = i == 3 || i == 4;

			if (is_count ? (!alldig(value) || *value == 0
			    || strlen(value) > 9) : smtpd_restrict_time(value, &v) < 0)
				why = concatenate("bad value for ", name, ": \"", value,
				    "\"", (char *)0);
			else
				*slot[i] = is_count ? atol(value) : v;
#undef PFX
		} else if (strcasecmp(name, "default_action") == 0) {
			free(o->default_action);
			o->default_action = xstrdup(value);
		} else if (strcasecmp(name, "policy_context") == 0) {
			free(o->policy_context);
			o->policy_context = xstrdup(value);
		} else {
			why = concatenate("unknown option \"", name, "\"", (char *)0);
		}
	}
	if (why == NULL && err)
		why = xstrdup(err);
	if (why == NULL && o->server == NULL)
		why = xstrdup("no server name");
	if (why == NULL && (o->timeout == 0 || o->try_limit == 0))
		why = xstrdup("timeout and try_limit must be greater than zero");
	free(copy);
	return why;
}

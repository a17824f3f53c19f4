/* SPDX-License-Identifier: MIT */
/* smtpd_restrict - the names of the SMTP server's restrictions (every one
 * of Postfix 3.7's postconf(5), compatibility aliases included), what
 * argument each takes, and the validation of a restriction list that
 * "postino check" runs on every smtpd_*_restrictions parameter (main.cf
 * and master.cf -o overrides) and every restriction class.
 *
 * smtpd evaluates the restrictions (core/smtpd/smtpd_check.c); this
 * module only knows their names, so that the check command and the
 * server agree on what is valid.  A restriction that needs a feature
 * postino lacks is handled one of two ways, chosen per restriction:
 *   - it behaves as Postfix does when the feature is off, where that is
 *     safe;
 *   - it is refused (refuse != NULL) where pretending would weaken the
 *     protection the administrator asked for (none at present): "postino
 *     check" reports it as an error, and smtpd, if it ever runs with it,
 *     answers "451 4.3.5 Server configuration error" at that step.
 *
 * Logs: validation problems through msg_error ("WHERE: text"), notes on
 * deprecated names through msg_warn. */
#ifndef POSTINO_MAIL_SMTPD_RESTRICT_H
#define POSTINO_MAIL_SMTPD_RESTRICT_H

/* What a restriction does (smtpd_check.c switches on it). */
enum smtpd_restrict_op {
	SR_PERMIT, SR_REJECT, SR_DEFER, SR_DEFER_IF_PERMIT, SR_DEFER_IF_REJECT,
	SR_WARN_IF_REJECT, SR_SLEEP, SR_REJECT_UNAUTH_PIPELINING,
	SR_REJECT_PLAINTEXT, SR_REJECT_MULTI_RCPT_BOUNCE,
	SR_ACCESS,			/* check_WHAT[_a|_mx|_ns]_access */
	SR_PERMIT_INET_INTERFACES, SR_PERMIT_MYNETWORKS, SR_NEVER,
	SR_PERMIT_CCERT,		/* permit_tls_[all_]clientcerts (variant
					 * 1: any verified certificate) */
	SR_RBL,				/* reject_rbl_client, permit_dnswl_client */
	SR_RHSBL,			/* reject_rhsbl_*, permit_rhswl_client */
	SR_MAPS_RBL,			/* reject_maps_rbl ($maps_rbl_domains) */
	SR_UNKNOWN_CLIENT, SR_UNKNOWN_REVERSE_CLIENT, SR_UNKNOWN_FORWARD_CLIENT,
	SR_NAKED_IP,
	SR_INVALID_HELO, SR_NON_FQDN_HELO, SR_UNKNOWN_HELO,
	SR_LOGIN_MISMATCH,		/* the *_sender_login_mismatch family */
	SR_NON_FQDN_ADDR, SR_UNKNOWN_DOMAIN, SR_UNLISTED,
	SR_PERMIT_AUTH_DEST, SR_REJECT_UNAUTH_DEST, SR_DEFER_UNAUTH_DEST,
	SR_PERMIT_MX_BACKUP, SR_CHECK_RELAY_DOMAINS,
	SR_POLICY,			/* check_policy_service */
	SR_UNVERIFIED,			/* reject_unverified_sender/_recipient */
	SR_REFUSED,			/* see smtpd_restrict_info.refuse */
};

/* Whose data a restriction looks at. */
enum smtpd_restrict_what {
	SR_W_NONE, SR_W_CLIENT, SR_W_REVERSE, SR_W_HELO, SR_W_SENDER,
	SR_W_RCPT, SR_W_ETRN, SR_W_CCERT, SR_W_SASL,
};

/* The argument after the name. */
#define SR_ARG_NONE	0
#define SR_ARG_TABLE	1	/* type:name */
#define SR_ARG_WORD	2	/* a DNS zone, a number, a service */

/* Which DNS records an access check looks up first (SR_ACCESS). */
#define SR_DNS_NONE	0
#define SR_DNS_A	1
#define SR_DNS_MX	2
#define SR_DNS_NS	3

/* The login-mismatch variants (SR_LOGIN_MISMATCH). */
#define SR_LOGIN_ALL	0	/* reject_sender_login_mismatch */
#define SR_LOGIN_AUTH	1	/* ..._authenticated_... */
#define SR_LOGIN_UNAUTH	2	/* ..._unauthenticated_... */
#define SR_LOGIN_KNOWN	3	/* ..._known_... */

struct smtpd_restrict_info {
	const char *name;
	enum smtpd_restrict_op op;
	enum smtpd_restrict_what what;
	int arg;		/* SR_ARG_* */
	int variant;		/* SR_DNS_*, SR_LOGIN_*, or 1 = permit (wl) */
	int guard;		/* counts as a relay guard */
	const char *refuse;	/* non-NULL: why postino will not run it */
	const char *note;	/* non-NULL: a warning for "postino check" */
};

/* smtpd_restrict_find - the restriction called name (case-insensitive),
 * or NULL. */
const struct smtpd_restrict_info *smtpd_restrict_find(const char *name);

/* The parameters that hold restriction lists, NULL-terminated. */
extern const char *const smtpd_restrict_params[];

/* smtpd_restrict_class_fn - the definition (restriction list text) of
 * restriction class name, or NULL when name is not a class. */
typedef const char *(*smtpd_restrict_class_fn)(const char *name, void *ctx);

/* smtpd_restrict_validate - check one restriction list: names known or
 * classes, arguments present, table arguments "type:name" and (with
 * open_tables) tables that open, no refused restriction; the results of
 * a table that can be listed (texthash:, inline:, hash:, ...) must be
 * access(5) actions postino performs (FILTER is an error: there are no
 * content filters) or restriction lists without tables.  Each problem
 * is reported through msg_error as "WHERE: text"; a deprecated name is a
 * warning.  Returns the number of errors.  Classes are checked where they
 * are defined, not where they are named. */
int smtpd_restrict_validate(const char *where, const char *text,
    int open_tables, smtpd_restrict_class_fn class_fn, void *ctx);

/* smtpd_restrict_has_guard - does the list (or a class it names, to any
 * depth) contain a relay guard: reject, defer, defer_if_permit,
 * reject_unauth_destination, defer_unauth_destination (or the old
 * check_relay_domains, which rejects what it does not permit)? */
int smtpd_restrict_has_guard(const char *text, smtpd_restrict_class_fn class_fn,
    void *ctx);

/* smtpd_restrict_ccert_parse - the argument of check_ccert_access:
 * "type:table", or (braces removed by match_list_token) "type:table, {
 * search_order = cert_fingerprint, pubkey_fingerprint }" (Postfix 3.5).
 * The table (malloc'd) into *table_r and the search order into order,
 * 'c' (certificate) and 'p' (public key) in turn, NUL-terminated (the
 * default: "cp"); NULL, or why not (malloc'd). */
char *smtpd_restrict_ccert_parse(const char *arg, char **table_r,
    char order[3]);

/* struct smtpd_policy_opts - the argument of check_policy_service:
 * "SERVER" or (the braces removed by match_list_token) "SERVER,
 * name=value, ...".  Numbers are -1 and strings NULL where the
 * smtpd_policy_service_* parameter applies. */
struct smtpd_policy_opts {
	char *server;		/* inet:host:port, unix:path, or private name */
	long timeout, max_idle, max_ttl, request_limit, try_limit, retry_delay;
	char *default_action;
	char *policy_context;
};

/* smtpd_restrict_policy_parse - parse a check_policy_service argument
 * into *o (free it with smtpd_restrict_policy_free).  Returns NULL, or
 * why the argument is bad (malloc'd). */
char *smtpd_restrict_policy_parse(const char *arg, struct smtpd_policy_opts *o);
void smtpd_restrict_policy_free(struct smtpd_policy_opts *o);

/* smtpd_restrict_time - "N[smhdw]" (seconds by default) into *secs;
 * -1 when text is not a time. */
int smtpd_restrict_time(const char *text, long *secs);

#endif

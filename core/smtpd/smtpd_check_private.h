/* SPDX-License-Identifier: MIT */
/* smtpd_check_private - what the smtpd_check_*.c files share: the
 * evaluation context of one command's checks, the result codes of one
 * restriction, and the helpers that build replies. */
#ifndef POSTINO_SMTPD_SMTPD_CHECK_PRIVATE_H
#define POSTINO_SMTPD_SMTPD_CHECK_PRIVATE_H

#include "map.h"
#include "smtpd_check.h"

/* Result of one restriction or list. */
#define SMTPD_CHECK_DUNNO	0	/* no decision: go on */
#define SMTPD_CHECK_OK		1	/* permit: ends this list */
#define SMTPD_CHECK_REJECT	2	/* reject or defer: ends the command */

#define SMTPD_CHECK_DEPTH	100	/* restriction class nesting limit */

/* A pending defer_if_permit or defer_if_reject. */
struct smtpd_check_pending {
	int active;
	int code;
	char dsn[16];
	char *text;
};

/* struct smtpd_check_ctx - the checks of one command. */
struct smtpd_check_ctx {
	const struct smtpd_check_session *s;
	const char *stage;		/* "RCPT", "MAIL", ... for log lines */
	const char *helo;		/* HELO name, or NULL */
	const char *sender;		/* as given (no <>), or NULL */
	const char *rcpt;		/* as given (no <>), or NULL */
	const char *etrn;		/* ETRN domain, or NULL */
	char *sender_int;		/* internal forms */
	char *rcpt_int;
	char *client;			/* "name[addr]" */
	struct smtpd_check_reply *r;
	int warn_if_reject;		/* the next restriction only warns */
	struct smtpd_check_pending dip;	/* defer_if_permit */
	struct smtpd_check_pending dir;	/* defer_if_reject */
	int depth;
};

/* smtpd_check_reject - record a reject (or defer) reply in ctx->r and
 * log it; honours warn_if_reject (returns DUNNO then),
 * defer_if_reject, soft_bounce and the DSN class fix-up.  class is the
 * reply class ("Recipient address", ...) or NULL.  Returns
 * SMTPD_CHECK_REJECT or SMTPD_CHECK_DUNNO. */
int smtpd_check_reject(struct smtpd_check_ctx *ctx, const char *class,
    int code, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* smtpd_check_tempfail - "451 4.3.0 <name>: Temporary lookup failure". */
int smtpd_check_tempfail(struct smtpd_check_ctx *ctx, const char *name);
/* smtpd_check_defer_if - arm defer_if_permit (which = 'p') or
 * defer_if_reject ('r') with this reply. */
void smtpd_check_defer_if(struct smtpd_check_ctx *ctx, int which, int code,
    const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* smtpd_check_log - log "QID: action: STAGE from NAME[ADDR]: text;
 * from=<> to=<> proto= helo=<>". */
void smtpd_check_log(struct smtpd_check_ctx *ctx, const char *action,
    const char *text);
/* smtpd_check_config_error - log why (a warning) and answer "451 4.3.5
 * Server configuration error" (never downgraded by warn_if_reject). */
int smtpd_check_config_error(struct smtpd_check_ctx *ctx, const char *why);
/* smtpd_check_hangup - end the command with a hang-up (no reply; the
 * session closes): ctx->r->hangup is set. */
int smtpd_check_hangup(struct smtpd_check_ctx *ctx);
/* smtpd_check_list_text - evaluate a restriction list given as text (an
 * access table result): no tables allowed inside. */
int smtpd_check_list_text(struct smtpd_check_ctx *ctx, const char *text,
    const char *name, const char *class);

/* smtpd_check_auth_dest - 1 when the recipient (internal form) is one
 * we accept mail for from anyone, 0 when not, -1 on a table error. */
int smtpd_check_auth_dest(struct smtpd_check_ctx *ctx, const char *addr_int);

/* smtpd_check_dsn_prefix - does text start with a DSN code "d.ddd.ddd"
 * (then a blank or the end)?  Its length, or 0. */
size_t smtpd_check_dsn_prefix(const char *text);

/* smtpd_check_access.c: check_{client,helo,sender,recipient}_access. */
int smtpd_check_access_client(struct smtpd_check_ctx *ctx, struct map *map);
int smtpd_check_access_helo(struct smtpd_check_ctx *ctx, struct map *map);
int smtpd_check_access_mail(struct smtpd_check_ctx *ctx, struct map *map,
    const char *addr, const char *addr_int, const char *class);
/* smtpd_check_access_host - a host name and its parent domains
 * (check_reverse_client_hostname_access). */
int smtpd_check_access_host(struct smtpd_check_ctx *ctx, struct map *map,
    const char *host, const char *name, const char *class);
/* smtpd_check_access_server - check_*_{a,mx,ns}_access: the domain's
 * A/AAAA addresses (SR_DNS_A), or its MX or NS host names and their
 * addresses, looked up in map.  A DNS temporary failure defers
 * (defer_if_permit). */
int smtpd_check_access_server(struct smtpd_check_ctx *ctx, struct map *map,
    const char *domain, int dns, const char *name, const char *class);

/* smtpd_check_access_sasl - check_sasl_access: the SASL login name
 * (nothing for a client that did not log in). */
int smtpd_check_access_sasl(struct smtpd_check_ctx *ctx, struct map *map);

/* smtpd_check_access_ccert - check_ccert_access: the client
 * certificate's fingerprint ('c') and its public key's ('p'), in order
 * (nothing without a certificate). */
int smtpd_check_access_ccert(struct smtpd_check_ctx *ctx, struct map *map,
    const char *order);

/* smtpd_check_access_result - act on an access(5) action (value is a
 * writable copy); table names its source in warnings. */
int smtpd_check_access_result(struct smtpd_check_ctx *ctx, const char *table,
    char *value, const char *name, const char *class);

/* smtpd_policy.c: check_policy_service ARG (smtpd_restrict_policy_parse
 * syntax): ask the policy server, act on its action. */
int smtpd_check_policy(struct smtpd_check_ctx *ctx, const char *arg,
    const char *name, const char *class);

/* smtpd_check_dns.c: the DNS-based restrictions.
 * smtpd_check_rbl - reject_rbl_client ZONE[=PATTERN] (permit: 0), or
 * permit_dnswl_client (permit: 1). */
int smtpd_check_rbl(struct smtpd_check_ctx *ctx, int permit, const char *arg);
/* smtpd_check_rhsbl - reject_rhsbl_* ZONE[=PATTERN] for domain (permit:
 * 0), or permit_rhswl_client (permit: 1); class for the reply. */
int smtpd_check_rhsbl(struct smtpd_check_ctx *ctx, int permit,
    const char *arg, const char *domain, const char *class);
/* smtpd_check_mx_backup - permit_mx_backup. */
int smtpd_check_mx_backup(struct smtpd_check_ctx *ctx);

/* Results of smtpd_check_dns_lookup. */
#define SMTPD_DNS_OK		1	/* *list_r has the answers */
#define SMTPD_DNS_NODATA	0	/* the name exists, no such records */
#define SMTPD_DNS_RETRY		(-1)	/* temporary failure */
#define SMTPD_DNS_NXDOMAIN	(-2)	/* the name does not exist */

/* smtpd_check_dns_lookup - the records of type (DNS_T_A, DNS_T_AAAA:
 * addresses as text; DNS_T_MX: "PREFERENCE HOST"; DNS_T_NS, DNS_T_PTR:
 * host names; DNS_T_TXT: the text) for name, through dns_lookup() (waits
 * in a task, blocks outside one; bounded timeouts).  *list_r is
 * NULL-terminated, free it with smtpd_check_dns_list_free. */
int smtpd_check_dns_lookup(const char *name, int type, char ***list_r);
void smtpd_check_dns_list_free(char ***list);

/* smtpd_check_dns_domain - does the domain exist for mail (MX, A or
 * AAAA)?  1 yes, 0 no, -1 temporary failure. */
int smtpd_check_dns_domain(const char *domain);
/* smtpd_check_dns_rbl - is name listed (has an A record)?  1, 0, -1. */
int smtpd_check_dns_rbl(const char *name);

#endif

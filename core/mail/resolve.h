/* SPDX-License-Identifier: MIT */
/* resolve - classify a recipient address and choose its transport, as
 * Postfix's trivial-rewrite does.
 *
 * Classes: local ($mydestination, $inet_interfaces/$proxy_interfaces
 * address literals), virtual alias ($virtual_alias_domains), virtual
 * mailbox ($virtual_mailbox_domains), relay ($relay_domains), default
 * (anything else).  The transport comes from transport_maps first, then
 * $local_transport / $virtual_transport / $relay_transport /
 * $default_transport.  Addresses with sender-specified routing (%, !, a
 * second @, @route:) are flagged so that smtpd never relays them. */
#ifndef POSTINO_MAIL_RESOLVE_H
#define POSTINO_MAIL_RESOLVE_H

#include "map.h"

enum resolve_class {
	RESOLVE_CLASS_LOCAL,
	RESOLVE_CLASS_ALIAS,
	RESOLVE_CLASS_VIRTUAL,
	RESOLVE_CLASS_RELAY,
	RESOLVE_CLASS_DEFAULT,
};

#define RESOLVE_FLAG_ROUTED	(1 << 0)	/* sender-specified routing */
#define RESOLVE_FLAG_ERROR	(1 << 1)	/* malformed address */
#define RESOLVE_FLAG_FAIL	(1 << 2)	/* table error (temporary) */
#define RESOLVE_FLAG_RELOCATED	(1 << 3)	/* in relocated_maps: transport
						 * error, nexthop "5.1.6 User
						 * has moved to NEW" */

struct resolve_reply {
	enum resolve_class cls;
	int flags;
	char *transport;	/* "local", "virtual", "smtp", "error" */
	char *nexthop;		/* domain, [host]:port, or error text */
	char *recipient;	/* canonical form (user@domain) */
};

/* resolve_init - open transport_maps and the domain lists once. */
void resolve_init(void);
/* resolve_addr - fill r (free with resolve_reply_free).  Returns
 * MAP_FOUND normally, MAP_TEMPFAIL when a table failed. */
enum map_status resolve_addr(const char *addr, struct resolve_reply *r);
void resolve_reply_free(struct resolve_reply *r);
/* resolve_set_sender - the envelope sender of the addresses resolved
 * next (sender_dependent_relayhost_maps); NULL: none. */
void resolve_set_sender(const char *sender);
/* resolve_free - close the tables and forget the configuration (the
 * next call re-reads it). */
void resolve_free(void);
/* resolve_domain_is_local - is domain one of ours (local class)?
 * 1 yes, 0 no, -1 table error. */
int resolve_domain_is_local(const char *domain);

#endif

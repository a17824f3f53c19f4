/* SPDX-License-Identifier: MIT */
/* mail_addr_find - the key forms tried, in order, when an address is
 * looked up in a list of tables, per Postfix's search strategies:
 *
 *   virtual   virtual_alias_maps, canonical maps: user+ext@domain,
 *             user@domain, user+ext and user (local domains only), @domain
 *   access    check_*_access: user+ext@domain, user@domain, domain and its
 *             parents, user+ext@, user@
 *   local     alias_maps: user+ext, user (localpart only)
 *   mailbox   virtual_mailbox_maps, virtual_uid/gid_maps: user+ext@domain,
 *             user@domain, @domain
 *   recipient local_recipient_maps: user+ext@domain, user@domain, user+ext,
 *             user, @domain
 *   transport transport_maps: user+ext@domain, user@domain, domain,
 *             .parent forms, *
 *
 * Each form is sent to every table before the next form is tried; forms
 * other than the full address go to fixed tables only ("partial").
 * recipient_delimiter, myorigin, mydestination and
 * parent_domain_matches_subdomains come from mail_conf. */
#ifndef POSTINO_MAIL_MAIL_ADDR_FIND_H
#define POSTINO_MAIL_MAIL_ADDR_FIND_H

struct mail_addr_forms {
	int count;
	char **form;		/* malloc'd strings */
	int *full_only;		/* 1: the full address (all tables see it) */
};

/* mail_addr_forms - the forms for addr under strategy; NULL if the
 * strategy is unknown. */
struct mail_addr_forms *mail_addr_forms(const char *addr, const char *strategy);
void mail_addr_forms_free(struct mail_addr_forms **formsp);
/* mail_addr_strategies - "virtual, access, ..." for messages. */
const char *mail_addr_strategies(void);

/* mail_addr_split_ext - split localpart at the first recipient_delimiter
 * character (not for postmaster, mailer-daemon, owner-*, *-request);
 * returns the length of the base part, or -1 when there is no extension. */
int mail_addr_split_ext(const char *localpart, const char *delimiters);
/* mail_addr_insert_ext - addr with ext (delimiter included) added to its
 * localpart (malloc'd). */
char *mail_addr_insert_ext(const char *addr, const char *ext);

#endif

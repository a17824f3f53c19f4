/* SPDX-License-Identifier: MIT */
/* match_list - Postfix-style pattern lists: mydestination, relay_domains,
 * virtual_*_domains (domain lists), mynetworks and other host/address
 * lists.
 *
 * A list is patterns separated by commas and/or white space:
 *   name        a domain or host name (case-insensitive); when the
 *               parameter is listed in parent_domain_matches_subdomains
 *               it also matches every subdomain
 *   .name       subdomains of name
 *   /file       replaced by the patterns in the file (# comments)
 *   type:table  matches when the name is found (value ignored); fixed
 *               tables are also asked for the parent forms (parent or
 *               .parent style as above)
 *   !pattern    a match means "not in the list"
 * host/address lists also take 1.2.3.4, 1.2.3.0/24, [1.2.3.4],
 * [2001:db8::]/32 (IPv6 may be given without brackets).
 * The first pattern that matches decides.  A table's temporary error
 * stops the search with -1 (callers answer 4xx or defer).
 *
 * Tables are opened once, at create time, daemon style (a table that
 * cannot be opened is a surrogate that always fails temporarily).
 * Bad patterns are warned about once and never match. */
#ifndef POSTINO_MAIL_MATCH_LIST_H
#define POSTINO_MAIL_MATCH_LIST_H

#define MATCH_LIST_DOMAIN	1	/* names only */
#define MATCH_LIST_HOSTADDR	2	/* names, addresses, networks */

struct match_list;

/* match_list_create - parse patterns (already $name-expanded) for the
 * parameter param (its name decides parent-domain matching and appears
 * in warnings).  Never NULL. */
struct match_list *match_list_create(const char *param, const char *patterns,
    int kind);
/* match_list_match - does name (may be NULL) or addr (host/address
 * lists; may be NULL) match?  1 yes, 0 no, -1 temporary table error
 * (see match_list_reason). */
int match_list_match(struct match_list *list, const char *name,
    const char *addr);
/* match_list_reason - the table and reason of the last -1. */
const char *match_list_reason(const struct match_list *list);
/* match_list_empty - does the list have no patterns at all? */
int match_list_empty(const struct match_list *list);
void match_list_free(struct match_list **listp);

/* match_list_parent_style - is param in parent_domain_matches_subdomains? */
int match_list_parent_style(const char *param);

/* match_list_token - the next token of *bufp (separated by commas and
 * white space); a "{...}" group inside a token (inline:{a=b, c=d}) stays
 * in it, a token that is one whole group loses its braces.  Modifies the
 * buffer; NULL at the end.  *err_r is set for an unbalanced '{'. */
char *match_list_token(char **bufp, const char **err_r);

/* match_list_addr_parse - parse an IPv4/IPv6 address ("[...]" allowed)
 * into 16 bytes (IPv4 in the first 4); returns AF_INET, AF_INET6 or -1. */
int match_list_addr_parse(const char *text, unsigned char *bytes);

#endif

/* SPDX-License-Identifier: MIT */
/* hdr_addr - address rewriting in message headers (hdr_addr.c). */
#ifndef POSTINO_MAIL_HDR_ADDR_H
#define POSTINO_MAIL_HDR_ADDR_H

#include <stddef.h>

/* hdr_addr_kind - for the header name[0..len): 1 a sender header, 0 a
 * recipient header, -1 neither. */
int hdr_addr_kind(const char *name, size_t len);

/* hdr_addr_fn - the rewritten internal form of addr (malloc'd; a copy of
 * addr when unchanged) for a sender (sender != 0) or recipient header,
 * or NULL when a table failed. */
typedef char *(*hdr_addr_fn)(void *ctx, const char *addr, int sender);

/* hdr_addr_rewrite - text ("Name: value", continuation lines joined with
 * LF) with every mailbox of a sender or recipient header rewritten by fn
 * (an address without "@" first gets "@domain" when domain is not NULL):
 * a new header (malloc'd), or NULL when it is not an address header,
 * nothing changed, or fn failed (then *fail_r is set and nothing is
 * changed). */
char *hdr_addr_rewrite(const char *text, const char *domain, hdr_addr_fn fn,
    void *ctx, int *fail_r);

#endif

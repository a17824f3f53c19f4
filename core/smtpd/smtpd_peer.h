/* SPDX-License-Identifier: MIT */
/* smtpd_peer - the client's names, looked up before the greeting. */
#ifndef POSTINO_SMTPD_SMTPD_PEER_H
#define POSTINO_SMTPD_SMTPD_PEER_H

struct smtpd_session;

/* smtpd_peer_lookup - find the client's reverse name (PTR) and its
 * verified name (a PTR name whose A/AAAA records include the client's
 * address), asynchronously on the loop (dns_query_async(), dns_init()
 * with smtpd's base first); then done(s) runs from the loop.  Fills
 * s->reverse_name, s->name, s->reverse_tempfail, s->name_tempfail (left
 * "unknown" when not found, with the tempfail flags set when the DNS
 * failed temporarily). */
void smtpd_peer_lookup(struct smtpd_session *s, void (*done)(void *ctx));

#endif

/* SPDX-License-Identifier: MIT */
/* tls_client - the client side of TLS, with OpenSSL 3, for the smtp and
 * lmtp delivery agents: Postfix's security levels, one context per
 * process (trust anchors from smtp_tls_CAfile / smtp_tls_CApath, a
 * client session cache), and the checks made after a handshake: the
 * chain (trusted), the peer name (verify, secure) or the certificate's
 * fingerprint (fingerprint).
 *
 * The handshake itself runs on the delivery's non-blocking socket
 * (delivery/smtp/smtp_io.c). */
#ifndef POSTINO_TLS_TLS_CLIENT_H
#define POSTINO_TLS_TLS_CLIENT_H

#include <openssl/ssl.h>

/* Security levels, in Postfix's order. */
enum tls_level {
	TLS_LEV_INVALID = -1,
	TLS_LEV_NONE = 0,
	TLS_LEV_MAY,
	TLS_LEV_ENCRYPT,
	TLS_LEV_FINGERPRINT,
	TLS_LEV_VERIFY,
	TLS_LEV_SECURE,
	TLS_LEV_DANE,
	TLS_LEV_DANE_ONLY,
};

/* tls_level_parse - Postfix's level name (case-insensitive; "" is
 * none); TLS_LEV_INVALID when unknown. */
int tls_level_parse(const char *name);
const char *tls_level_name(int level);

/* tls_client_create - a client context trusting CAfile and CApath (each
 * may be empty), or NULL with *err_r (malloc'd).  Sessions this
 * context negotiates are offered to new_session (the SSL's app data
 * names the server: see SSL_set_app_data). */
SSL_CTX *tls_client_create(const char *CAfile, const char *CApath,
    int (*new_session)(SSL *, SSL_SESSION *), char **err_r);

/* tls_client_ciphers - "cipherlist:!excl1:!excl2" (malloc'd) for a
 * grade (high, medium, low, export, null: tls_<grade>_cipherlist) and
 * Postfix's exclusion lists; NULL for an unknown grade. */
char *tls_client_ciphers(const char *grade, const char *exclude1,
    const char *exclude2);

/* tls_cert_name_match - does cert hold one of the names in list
 * (separated by blanks, commas or colons; ".example.com" matches any
 * subdomain)?  *matched_r (static) names it. */
int tls_cert_name_match(X509 *cert, const char *list,
    const char **matched_r);

/* tls_fingerprint - "AB:CD:..." of the certificate (fp_kind "cert") or
 * its public key ("pubkey"), with digest (md5, sha1, sha256, ...); 0,
 * or -1 for an unknown digest. */
int tls_fingerprint(X509 *cert, const char *digest, int pubkey,
    char *buf, size_t len);

/* tls_cert_cn - the subject's CommonName (issuer 0) or the issuer's
 * (issuer 1; its organization when it has no CommonName) into buf, ""
 * when there is none.  Control characters become '?'. */
void tls_cert_cn(X509 *cert, int issuer, char *buf, size_t len);

/* tls_fingerprint_match - does the certificate's fingerprint (or its
 * public key's) appear in list (blanks, commas, "|" between entries;
 * case and colons ignored)? */
int tls_fingerprint_match(X509 *cert, const char *digest,
    const char *list);

/* tls_client_describe - as Postfix's client logs a session: "TLSv1.3
 * with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519
 * server-signature ECDSA (prime256v1) server-digest SHA256". */
void tls_client_describe(SSL *ssl, char *buf, size_t len);

#endif

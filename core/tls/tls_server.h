/* SPDX-License-Identifier: MIT */
/* tls_server - the server side of TLS, with OpenSSL 3: one context per
 * smtpd process, built from Postfix's smtpd_tls_* parameters.
 *
 * Certificates: smtpd_tls_chain_files (each file a private key followed
 * by its certificate chain, several files for several key types), else
 * smtpd_tls_cert_file / smtpd_tls_key_file (RSA) and
 * smtpd_tls_eccert_file / smtpd_tls_eckey_file (ECDSA).  Protocols in
 * Postfix's syntax (">=TLSv1.2", or "!SSLv2, !SSLv3, !TLSv1") become
 * OpenSSL's minimum and maximum version; cipher grades (high, medium,
 * low, export, null) name tls_<grade>_cipherlist, minus
 * smtpd_tls_exclude_ciphers.  Sessions are resumed with tickets and
 * with the context's cache (smtpd_tls_session_cache_timeout); with
 * tls_server_ticket_keys a ticket outlives the process that issued it.
 *
 * Client certificates (smtpd_tls_ask_ccert): the context asks for one,
 * names the CAs of smtpd_tls_CAfile in the request, and verifies the
 * chain against smtpd_tls_CAfile / smtpd_tls_CApath up to
 * smtpd_tls_ccert_verifydepth.  The handshake never fails for a missing
 * or unverified certificate: the caller reads the outcome afterwards
 * (tls_server_peer) and decides, as Postfix does. */
#ifndef POSTINO_TLS_TLS_SERVER_H
#define POSTINO_TLS_TLS_SERVER_H

#include <stddef.h>

#include <openssl/ssl.h>

struct tls_server_conf {
	const char *chain_files;
	const char *cert_file, *key_file;
	const char *eccert_file, *eckey_file;
	const char *protocols;		/* Postfix syntax */
	const char *cipher_grade;	/* high, medium, low, export, null */
	const char *exclude_ciphers;
	const char *cipherlist;		/* tls_<grade>_cipherlist, expanded */
	long session_timeout;		/* seconds */
	int ask_ccert;			/* request a client certificate */
	const char *CAfile, *CApath;	/* trust anchors for client certs */
	int verify_depth;		/* smtpd_tls_ccert_verifydepth */
};

/* What the client presented (tls_server_peer). */
struct tls_peer {
	int present;			/* a certificate was presented */
	int trusted;			/* ... and its chain verified */
	char subject_cn[256];		/* subject CommonName, or "" */
	char issuer_cn[256];		/* issuer CommonName (else O), or "" */
	char fingerprint[200];		/* "AB:CD:..." (digest), or "" */
	char pkey_fingerprint[200];	/* of the public key, or "" */
};

/* tls_server_create - a context, or NULL with *err_r (malloc'd) naming
 * the file or parameter at fault. */
SSL_CTX *tls_server_create(const struct tls_server_conf *conf, char **err_r);

/* tls_server_ticket_keys - session tickets that every process of the
 * instance can decrypt, with keys derived from a secret in the file
 * path (made or renewed now: call while privileged), rotated every
 * lifetime seconds (at least 60); -1 with *err_r (malloc'd) when the
 * file cannot be used (then OpenSSL's per-process keys stay). */
int tls_server_ticket_keys(SSL_CTX *ctx, const char *path, long lifetime,
    char **err_r);

/* tls_load_pair - a private key and its certificate chain (key and
 * cert may name the same file: a chain file) into ctx; -1 with *err_r
 * (malloc'd) naming the file at fault. */
int tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key,
    char **err_r);

/* tls_server_peer - the client certificate of a completed handshake
 * (resumed sessions included), fingerprints with digest (md5, sha1,
 * sha256, ...; an unknown one leaves them empty). */
void tls_server_peer(SSL *ssl, const char *digest, struct tls_peer *p);

/* tls_protocol_range - Postfix's protocol list as OpenSSL versions (0:
 * no bound); -1 with *err_r (static) for a malformed list. */
int tls_protocol_range(const char *spec, int *min_r, int *max_r,
    const char **err_r);

/* tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256
 * bits)" plus, when known, " key-exchange X25519 server-signature RSA-PSS
 * (2048 bits) server-digest SHA256", as Postfix logs it. */
void tls_describe(SSL *ssl, char *buf, size_t len, int long_form);

/* tls_error_text - the first queued OpenSSL error, one line (clears the
 * queue). */
void tls_error_text(char *buf, size_t len);

#endif

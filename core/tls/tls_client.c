/* SPDX-License-Identifier: MIT */
/* tls_client - see tls_client.h. */
#include "postino_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mail_conf.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "stringops.h"
#include "tls_client.h"
#include "tls_server.h"

static const char *const level_names[] = {
	"none", "may", "encrypt", "fingerprint", "verify", "secure", "dane",
	"dane-only",
};

int
tls_level_parse(const char *name)
{
	if (name == NULL || *name == 0)
		return TLS_LEV_NONE;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return TLS_LEV_INVALID;
}

const char *
tls_level_name(int level)
{
	if (level < 0 || level >= (int)(sizeof(level_names) / sizeof(level_names[0])))
		return "invalid";
	return level_names[level];
}

SSL_CTX *
tls_client_create(const char *CAfile, const char *CApath,
    int (*new_session)(SSL *, SSL_SESSION *), char **err_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char why[256];

	*err_r = NULL;
	if (ctx == NULL) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("cannot create a TLS context: ", why, (char *)0);
		return NULL;
	}
	if ((CAfile && *CAfile) || (CApath && *CApath)) {
		if (SSL_CTX_load_verify_locations(ctx, CAfile && *CAfile ? CAfile
		    : NULL, CApath && *CApath ? CApath : NULL) != 1) {
			tls_error_text(why, sizeof(why));
			*err_r = concatenate("cannot load trust anchors from \"",
			    CAfile ? CAfile : "", "\" / \"", CApath ? CApath : "",
			    "\": ", why, (char *)0);
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	/* The chain is checked after the handshake (the result decides
	 * between Untrusted, Trusted and Verified), never by aborting it:
	 * opportunistic TLS goes on with any certificate. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
	    | SSL_MODE_RELEASE_BUFFERS);
	if (new_session) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
		    | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session);
	}
	return ctx;
}

char *
tls_client_ciphers(const char *grade, const char *exclude1,
    const char *exclude2)
{
	static const char *const grades[] = {
		"high", "medium", "low", "export", "null",
	};
	const char *const *lists[] = {&var_tls_high_cipherlist,
		&var_tls_medium_cipherlist, &var_tls_low_cipherlist,
	&var_tls_export_cipherlist, &var_tls_null_cipherlist};
	char *ciphers = NULL;
	const char *excl[2] = {exclude1, exclude2};

	for (size_t i = 0; i < sizeof(grades) / sizeof(grades[0]); i++) {
		if (strcasecmp(grade, grades[i]) == 0) {
			ciphers = xstrdup(*lists[i] ? *lists[i] : "DEFAULT");
			break;
		}
	}
	if (ciphers == NULL)
		return NULL;
	for (int k = 0; k < 2; k++) {
		char *copy, *cp, *tok;

		if (excl[k] == NULL || *excl[k] == 0)
			continue;
		copy = cp = xstrdup(excl[k]);
		while ((tok = mystrtok(&cp, " \t\r\n,:")) != NULL) {
			char *n = concatenate(ciphers, ":!", tok, (char *)0);

			free(ciphers);
			ciphers = n;
		}
		free(copy);
	}
	return ciphers;
}

int
tls_cert_name_match(X509 *cert, const char *list, const char **matched_r)
{
	static char matched[256];
	char *copy, *cp, *name;
	int ok = 0;

	if (cert == NULL || list == NULL)
		return 0;
	copy = cp = xstrdup(list);
	while (!ok && (name = mystrtok(&cp, " \t\r\n,:")) != NULL) {
		if (X509_check_host(cert, name, 0, 0, NULL) == 1) {
			ok = 1;
			strlcpy(matched, name, sizeof(matched));
			if (matched_r)
				*matched_r = matched;
		}
	}
	free(copy);
	return ok;
}

int
tls_fingerprint(X509 *cert, const char *digest, int pubkey, char *buf,
    size_t len)
{
	const EVP_MD *md = EVP_get_digestbyname(digest);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	size_t n = 0;

	if (md == NULL || len < 1)
		return -1;
	if (pubkey) {
		/* As Postfix: the digest of the whole SubjectPublicKeyInfo
		 * (what "openssl pkey -pubin -outform DER" writes), not of the
		 * key bits alone (X509_pubkey_digest). */
		unsigned char *der = NULL;
		int dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
		int ok = dl > 0 && EVP_Digest(der, (size_t)dl, d, &dlen, md,
		    NULL) == 1;

		OPENSSL_free(der);
		if (!ok)
			return -1;
	} else if (X509_digest(cert, md, d, &dlen) != 1)
		return -1;
	buf[0] = 0;
	for (unsigned int i = 0; i < dlen && n + 4 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%02X", i ? ":" : "",
		    d[i]);
	return 0;
}

/* name_entry - the text of the first nid entry of name, or -1. */
static int
name_entry(X509_NAME *name, int nid, char *buf, size_t len)
{
	int i = name ? X509_NAME_get_index_by_NID(name, nid, -1) : -1;
	ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int n;

	if (i < 0)
		return -1;
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	if ((n = ASN1_STRING_to_UTF8(&utf8, data)) < 0)
		return -1;
	snprintf(buf, len, "%.*s", n, (char *)utf8);
	OPENSSL_free(utf8);
	for (char *cp = buf; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = '?';
	return 0;
}

void
tls_cert_cn(X509 *cert, int issuer, char *buf, size_t len)
{
	X509_NAME *name = issuer ? X509_get_issuer_name(cert)
	    : X509_get_subject_name(cert);

	buf[0] = 0;
	if (name_entry(name, NID_commonName, buf, len) < 0 && issuer
	    && name_entry(name, NID_organizationName, buf, len) < 0)
		buf[0] = 0;
}

/* hexonly - uppercase hex digits of s, colons and the rest dropped. */
static void
hexonly(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		if (isxdigit((unsigned char)*s))
			out[n++] = (char)toupper((unsigned char)*s);
	out[n] = 0;
}

int
tls_fingerprint_match(X509 *cert, const char *digest, const char *list)
{
	char fp[2][EVP_MAX_MD_SIZE * 3 + 1], want[EVP_MAX_MD_SIZE * 3 + 1];
	char *copy, *cp, *tok;
	int ok = 0;

	if (cert == NULL || list == NULL)
		return 0;
	for (int k = 0; k < 2; k++) {
		char raw[EVP_MAX_MD_SIZE * 3 + 1];

		if (tls_fingerprint(cert, digest, k, raw, sizeof(raw)) < 0)
			return 0;
		hexonly(raw, fp[k], sizeof(fp[k]));
	}
	copy = cp = xstrdup(list);
	while (!ok && (tok = mystrtok(&cp, " \t\r\n,|")) != NULL) {
		hexonly(tok, want, sizeof(want));
		ok = *want && (strcmp(want, fp[0]) == 0 || strcmp(want, fp[1]) == 0);
	}
	free(copy);
	return ok;
}

void
tls_client_describe(SSL *ssl, char *buf, size_t len)
{
	int group = SSL_get_negotiated_group(ssl), sig = 0, md = 0;
	const char *gname = group ? SSL_group_to_name(ssl, group) : NULL;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
	size_t n;

	tls_describe(ssl, buf, len, 0);
	n = strlen(buf);
	if (gname && n < len)
		n += (size_t)snprintf(buf + n, len - n, " key-exchange %s", gname);
	if (key && n < len && SSL_get_peer_signature_type_nid(ssl, &sig) == 1) {
		const char *sname = sig == EVP_PKEY_RSA_PSS ? "RSA-PSS"
		    : sig == EVP_PKEY_RSA ? "RSA" : sig == EVP_PKEY_EC ? "ECDSA"
		    : OBJ_nid2sn(sig);
		char curve[80];
		size_t clen = 0;

		if (EVP_PKEY_get_group_name(key, curve, sizeof(curve), &clen) == 1)
			n += (size_t)snprintf(buf + n, len - n,
			    " server-signature %s (%s)", sname, curve);
		else
			n += (size_t)snprintf(buf + n, len - n,
			    " server-signature %s (%d bits)", sname,
			    EVP_PKEY_get_bits(key));
	}
	if (n < len && SSL_get_peer_signature_nid(ssl, &md) == 1 && md)
		snprintf(buf + n, len - n, " server-digest %s", OBJ_nid2sn(md));
}

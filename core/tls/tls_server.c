/* SPDX-License-Identifier: MIT */
/* tls_server - OpenSSL server contexts from Postfix's parameters
 * (tls_server.h). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "mymalloc.h"
#include "stringops.h"
#include "tls_client.h"
#include "tls_server.h"

void
tls_error_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

static const struct {
	const char *name;
	int version;
} versions[] = {
	{"SSLv2", 0x0200},	/* not in OpenSSL 3: only ever excluded */
	{"SSLv3", SSL3_VERSION},
	{"TLSv1", TLS1_VERSION},
	{"TLSv1.1", TLS1_1_VERSION},
	{"TLSv1.2", TLS1_2_VERSION},
	{"TLSv1.3", TLS1_3_VERSION},
};
#define NVERSIONS	(int)(sizeof(versions) / sizeof(versions[0]))

static int
version_index(const char *name)
{
	for (int i = 0; i < NVERSIONS; i++)
		if (strcasecmp(name, versions[i].name) == 0)
			return i;
	return -1;
}

int
tls_protocol_range(const char *spec, int *min_r, int *max_r,
    const char **err_r)
{
	int allowed[NVERSIONS], positive = 0, lo = 0, hi = NVERSIONS - 1;
	char *copy = xstrdup(spec ? spec : ""), *cp = copy, *tok;

	for (int i = 0; i < NVERSIONS; i++)
		allowed[i] = 0;
	/* First pass: are versions named positively? */
	while ((tok = mystrtok(&cp, " \t\r\n,:")) != NULL)
		if (*tok != '!' && *tok != '>' && *tok != '<')
			positive = 1;
	free(copy);
	for (int i = 0; i < NVERSIONS; i++)
		allowed[i] = !positive;
	copy = xstrdup(spec ? spec : "");
	cp = copy;
	while ((tok = mystrtok(&cp, " \t\r\n,:")) != NULL) {
		int idx;

		if (strncmp(tok, ">=", 2) == 0 || strncmp(tok, "<=", 2) == 0) {
			if ((idx = version_index(tok + 2)) < 0)
				goto bad;
			if (*tok == '>')
				lo = idx;
			else
				hi = idx;
		} else if (*tok == '!') {
			if ((idx = version_index(tok + 1)) < 0)
				goto bad;
			allowed[idx] = 0;
		} else {
			if ((idx = version_index(tok)) < 0)
				goto bad;
			allowed[idx] = 1;
		}
	}
	free(copy);
	*min_r = *max_r = 0;
	/* SSLv2 and SSLv3 are never offered. */
	for (int i = lo > 2 ? lo : 2; i <= hi; i++) {
		if (!allowed[i])
			continue;
		if (*min_r == 0)
			*min_r = versions[i].version;
		*max_r = versions[i].version;
	}
	if (*min_r == 0) {
		*err_r = "no TLS protocol version left";
		return -1;
	}
	return 0;
bad:
	free(copy);
	*err_r = "unknown protocol name";
	return -1;
}

int
tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key, char **err_r)
{
	char why[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("cannot load certificate chain from ", cert,
		    ": ", why, (char *)0);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("cannot load private key from ", key, ": ",
		    why, (char *)0);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("private key in ", key,
		    " does not match the certificate in ", cert, ": ", why,
		    (char *)0);
		return -1;
	}
	return 0;
}

/* accept_any - the chain's verdict is kept (SSL_get_verify_result) but
 * never ends the handshake: smtpd decides after it, as Postfix does. */
static int
accept_any(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1;
}

/* ask_ccert - request client certificates, verified against CAfile and
 * CApath (whose CA names go into the request). */
static int
ask_ccert(SSL_CTX *ctx, const struct tls_server_conf *conf, char **err_r)
{
	const char *file = conf->CAfile && *conf->CAfile ? conf->CAfile : NULL;
	const char *path = conf->CApath && *conf->CApath ? conf->CApath : NULL;
	char why[256];

	if ((file || path)
	    && SSL_CTX_load_verify_locations(ctx, file, path) != 1) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("cannot load client certificate trust anchors "
		    "from \"", file ? file : "", "\" / \"", path ? path : "",
		    "\": ", why, (char *)0);
		return -1;
	}
	if (file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);

		if (names == NULL) {
			tls_error_text(why, sizeof(why));
			*err_r = concatenate("cannot read CA names from ", file, ": ",
			    why, (char *)0);
			return -1;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
	    accept_any);
	/* Postfix's depth counts the certificates above the client's, the
	 * trust anchor included (1: issued by a CA of CAfile); OpenSSL's
	 * does not count the trust anchor. */
	SSL_CTX_set_verify_depth(ctx, conf->verify_depth > 0
	    ? conf->verify_depth - 1 : 0);
	return 0;
}

SSL_CTX *
tls_server_create(const struct tls_server_conf *conf, char **err_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *perr;
	char *ciphers, why[256];
	int min, max, loaded = 0;
	static const unsigned char sid_ctx[] = "postino-smtpd";

	*err_r = NULL;
	if (ctx == NULL) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("cannot create a TLS context: ", why, (char *)0);
		return NULL;
	}
	if (tls_protocol_range(conf->protocols, &min, &max, &perr) < 0) {
		*err_r = concatenate("bad TLS protocol list \"", conf->protocols,
		    "\": ", perr, (char *)0);
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_max_proto_version(ctx, max);
	/* No anonymous ciphers when a certificate is asked for: the request
	 * cannot be sent in them. */
	ciphers = concatenate(conf->cipherlist ? conf->cipherlist : "DEFAULT",
	    conf->ask_ccert ? ":!aNULL" : "", (char *)0);
	if (conf->exclude_ciphers && *conf->exclude_ciphers) {
		char *copy = xstrdup(conf->exclude_ciphers), *cp = copy, *tok;

		while ((tok = mystrtok(&cp, " \t\r\n,:")) != NULL) {
			char *n = concatenate(ciphers, ":!", tok, (char *)0);

			free(ciphers);
			ciphers = n;
		}
		free(copy);
	}
	if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		tls_error_text(why, sizeof(why));
		*err_r = concatenate("bad cipher list \"", ciphers, "\": ", why,
		    (char *)0);
		free(ciphers);
		goto fail;
	}
	free(ciphers);
	if (conf->chain_files && *conf->chain_files) {
		char *copy = xstrdup(conf->chain_files), *cp = copy, *f;

		while ((f = mystrtok(&cp, " \t\r\n,")) != NULL) {
			if (tls_load_pair(ctx, f, f, err_r) < 0) {
				free(copy);
				goto fail;
			}
			loaded++;
		}
		free(copy);
	} else {
		if (conf->cert_file && *conf->cert_file) {
			if (tls_load_pair(ctx, conf->cert_file, *conf->key_file
			    ? conf->key_file : conf->cert_file, err_r) < 0)
				goto fail;
			loaded++;
		}
		if (conf->eccert_file && *conf->eccert_file) {
			if (tls_load_pair(ctx, conf->eccert_file, *conf->eckey_file
			    ? conf->eckey_file : conf->eccert_file, err_r) < 0)
				goto fail;
			loaded++;
		}
	}
	if (loaded == 0) {
		*err_r = xstrdup("no server certificate: set smtpd_tls_chain_files "
		    "or smtpd_tls_cert_file");
		goto fail;
	}
	if (conf->ask_ccert && ask_ccert(ctx, conf, err_r) < 0)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION
	    | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	/* TLS 1.3: one ticket per handshake (OpenSSL's default is two, each
	 * a session encrypted): an SMTP client keeps one session per
	 * destination, as Postfix's does, and Postfix's smtpd sends one. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_timeout(ctx, conf->session_timeout > 0
	    ? conf->session_timeout : 3600);
	/* Partial writes: libevent hands SSL_write what it has. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
	    | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * Session tickets every smtpd process of the instance can decrypt.
 *
 * OpenSSL's own ticket keys are random per context, so per process: an
 * smtpd that has served max_use sessions and been replaced could no
 * longer resume a single session of its predecessors' (Postfix shares
 * its keys through tlsmgr).  Here the keys derive from one secret
 * (TICKET_SECRET_LEN random bytes) kept in a file that only the
 * instance's root (or the running user) can read, made or replaced
 * under flock while smtpd is still privileged, when it is older than
 * TICKET_SECRET_MAX_AGE.  The key of period E (period: the session
 * timeout, at least 60 s) is HKDF-SHA256(secret, "postino ticket key"
 * E): 16 bytes of key name, 32 of AES-256-CBC key, 32 of HMAC-SHA256
 * key (Postfix's default ticket cipher).  New tickets use the current
 * period's key; a ticket of the period before is still accepted and
 * renewed; anything else is a full handshake.
 */
#define TICKET_SECRET_LEN	32
#define TICKET_SECRET_MAX_AGE	86400
#define TICKET_KEY_LEN		80	/* name 16, AES 32, HMAC 32 */

static char sha256[] = "SHA256";

static struct {
	unsigned char secret[TICKET_SECRET_LEN];
	long period;
	long long epoch[2];		/* of key[i]; -1: none */
	unsigned char key[2][TICKET_KEY_LEN];
} ticket;

/* ticket_key - the key of period e (cached: this one and the last). */
static unsigned char *
ticket_key(long long e)
{
	int i = (int)(e & 1);
	unsigned char info[32];
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM p[4];
	int ok = 0;

	if (ticket.epoch[i] == e)
		return ticket.key[i];
	memcpy(info, "postino ticket key ", 19);
	for (int b = 0; b < 8; b++)
		info[19 + b] = (unsigned char)((unsigned long long)e >> (56 - 8 * b));
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL) {
		kctx = EVP_KDF_CTX_new(kdf);
		EVP_KDF_free(kdf);
	}
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    sha256, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    ticket.secret, sizeof(ticket.secret));
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 27);
	p[3] = OSSL_PARAM_construct_end();
	if (kctx && EVP_KDF_derive(kctx, ticket.key[i], TICKET_KEY_LEN, p) == 1)
		ok = 1;
	EVP_KDF_CTX_free(kctx);
	if (!ok) {
		ticket.epoch[i] = -1;
		return NULL;
	}
	ticket.epoch[i] = e;
	return ticket.key[i];
}

/* ticket_cb - OpenSSL's ticket key callback: 1 (done), 2 (decrypted, and
 * a new ticket is to be issued: TLS 1.3, or the last period's key), 0
 * (unknown key: full handshake), -1 (error). */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	long long e = (long long)time(NULL) / ticket.period;
	unsigned char *k = ticket_key(e);
	OSSL_PARAM p[3];
	int ret = 1;

	if (k == NULL)
		return -1;
	if (enc) {
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			return -1;
		memcpy(name, k, 16);
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 16, iv) != 1)
			return -1;
	} else {
		/* TLS 1.3 clients should use a ticket once (RFC 8446, C.4):
		 * each resumption gets a new one, as with OpenSSL's own keys. */
		if (SSL_version(ssl) >= TLS1_3_VERSION)
			ret = 2;
		if (memcmp(name, k, 16) != 0) {
			if ((k = ticket_key(e - 1)) == NULL)
				return -1;
			if (memcmp(name, k, 16) != 0)
				return 0;
			ret = 2;
		}
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 16, iv) != 1)
			return -1;
	}
	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k + 48, 32);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    sha256, 0);
	p[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, p) != 1)
		return -1;
	return ret;
}

int
tls_server_ticket_keys(SSL_CTX *ctx, const char *path, long lifetime,
    char **err_r)
{
	unsigned char buf[8 + TICKET_SECRET_LEN];
	unsigned long long created = 0;
	time_t now = time(NULL);
	struct stat st;
	ssize_t n;
	int fd;

	*err_r = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err_r = concatenate("open ", path, ": ", strerror(errno),
		    (char *)0);
		return -1;
	}
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		*err_r = concatenate(path, ": ", strerror(errno), (char *)0);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()
	    || (st.st_mode & 077) != 0) {
		*err_r = concatenate(path, ": not a regular file of this user's "
		    "that only it can read", (char *)0);
		goto fail;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	if (n == (ssize_t)sizeof(buf))
		for (int b = 0; b < 8; b++)
			created = created << 8 | buf[b];
	if (n != (ssize_t)sizeof(buf) || created > (unsigned long long)now + 60
	    || (unsigned long long)now - created >= TICKET_SECRET_MAX_AGE) {
		if (RAND_priv_bytes(buf + 8, TICKET_SECRET_LEN) != 1) {
			*err_r = xstrdup("no random bytes for the ticket secret");
			goto fail;
		}
		for (int b = 0; b < 8; b++)
			buf[b] = (unsigned char)((unsigned long long)now >> (56 - 8 * b));
		if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)
		    || ftruncate(fd, sizeof(buf)) < 0) {
			*err_r = concatenate("write ", path, ": ", strerror(errno),
			    (char *)0);
			goto fail;
		}
	}
	close(fd);
	memcpy(ticket.secret, buf + 8, TICKET_SECRET_LEN);
	OPENSSL_cleanse(buf, sizeof(buf));
	ticket.period = lifetime > 60 ? lifetime : 60;
	ticket.epoch[0] = ticket.epoch[1] = -1;
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		*err_r = xstrdup("cannot set the session ticket key callback");
		return -1;
	}
	return 0;
fail:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return -1;
}

void
tls_server_peer(SSL *ssl, const char *digest, struct tls_peer *p)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	memset(p, 0, sizeof(*p));
	if (cert == NULL)
		return;
	p->present = 1;
	p->trusted = SSL_get_verify_result(ssl) == X509_V_OK;
	tls_cert_cn(cert, 0, p->subject_cn, sizeof(p->subject_cn));
	tls_cert_cn(cert, 1, p->issuer_cn, sizeof(p->issuer_cn));
	if (tls_fingerprint(cert, digest, 0, p->fingerprint,
	    sizeof(p->fingerprint)) < 0
	    || tls_fingerprint(cert, digest, 1, p->pkey_fingerprint,
	    sizeof(p->pkey_fingerprint)) < 0)
		p->fingerprint[0] = p->pkey_fingerprint[0] = 0;
}

void
tls_describe(SSL *ssl, char *buf, size_t len, int long_form)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int alg_bits = 0, bits = c ? SSL_CIPHER_get_bits(c, &alg_bits) : 0;
	size_t n;

	n = (size_t)snprintf(buf, len, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), c ? SSL_CIPHER_get_name(c) : "unknown", bits,
	    alg_bits);
	if (!long_form || n >= len)
		return;
	{
		int group = SSL_get_negotiated_group(ssl), sig = 0, md = 0;
		const char *gname = group ? SSL_group_to_name(ssl, group) : NULL;
		EVP_PKEY *key = SSL_get_privatekey(ssl);

		if (gname)
			n += (size_t)snprintf(buf + n, len - n, " key-exchange %s",
			    gname);
		if (n < len && SSL_get_signature_type_nid(ssl, &sig) == 1 && key)
			n += (size_t)snprintf(buf + n, len - n,
			    " server-signature %s (%d bits)",
			    sig == EVP_PKEY_RSA_PSS ? "RSA-PSS" : OBJ_nid2sn(sig),
			    EVP_PKEY_get_bits(key));
		if (n < len && SSL_get_signature_nid(ssl, &md) == 1 && md)
			snprintf(buf + n, len - n, " server-digest %s",
			    OBJ_nid2sn(md));
	}
}

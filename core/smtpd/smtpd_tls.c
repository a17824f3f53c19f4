/* SPDX-License-Identifier: MIT */
/* smtpd_tls - TLS in smtpd: STARTTLS (RFC 3207) and wrapper mode (port
 * 465), with smtpd_tls_security_level none, may or encrypt.
 *
 * The session's bufferevent is replaced by an OpenSSL filter over the
 * socket's: the rest of smtpd reads and writes s->bev as before.  The
 * handshake runs on the loop like any other I/O.  After STARTTLS every
 * byte the client sent behind the command is thrown away before the
 * handshake (CVE-2011-0411: nothing pipelined in plaintext is ever read
 * as a command of the TLS session), and the session starts over: no
 * HELO, no transaction.  With smtpd_tls_security_level = encrypt, mail
 * commands before TLS get "530 5.7.0 Must issue a STARTTLS command
 * first".
 *
 * Client certificates: smtpd_tls_ask_ccert asks for one (verified with
 * smtpd_tls_CAfile / smtpd_tls_CApath); smtpd_tls_req_ccert, with
 * security level encrypt only, requires a verified one: as in Postfix,
 * the handshake completes and the client's next command gets "421 4.7.1
 * HOST Error: No client certificate presented" (or "Client certificate
 * not trusted"), then the session ends.  The certificate's CommonNames
 * and fingerprints (smtpd_tls_fingerprint_digest) go to the access
 * checks, the policy service and the Received: header.
 *
 * Logs as Postfix: "Anonymous TLS connection established from
 * NAME[ADDR]: TLSv1.3 with cipher ..." ("Untrusted" with a certificate
 * that did not verify, "Trusted" with one that did), "NOQUEUE: abort:
 * TLS from NAME[ADDR]: No client certificate presented" and
 * "SSL_accept error from NAME[ADDR]: REASON". */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "stringops.h"
#include "tls_server.h"

int smtpd_tls_level;		/* SMTPD_TLS_* */
static SSL_CTX *tls_ctx;
static int ask_ccert;			/* ask for client certificates */
static int require_ccert;		/* ... and refuse without a trusted one */

/* smtpd_tls_level_of - the effective smtpd_tls_security_level (with the
 * legacy smtpd_use_tls and smtpd_enforce_tls when it is empty). */
static int
level_of(void)
{
	const char *lv = var_smtpd_tls_security_level;

	if (lv == NULL || *lv == 0)
		return var_smtpd_enforce_tls ? SMTPD_TLS_ENCRYPT
		    : var_smtpd_use_tls ? SMTPD_TLS_MAY : SMTPD_TLS_NONE;
	if (strcasecmp(lv, "encrypt") == 0)
		return SMTPD_TLS_ENCRYPT;
	if (strcasecmp(lv, "may") == 0)
		return SMTPD_TLS_MAY;
	if (strcasecmp(lv, "none") == 0)
		return SMTPD_TLS_NONE;
	msg_fatal("smtpd_tls_security_level = %s: not none, may or encrypt", lv);
}

/* cipherlist - tls_<grade>_cipherlist. */
static const char *
cipherlist(const char *grade)
{
	if (strcasecmp(grade, "high") == 0)
		return var_tls_high_cipherlist;
	if (strcasecmp(grade, "medium") == 0)
		return var_tls_medium_cipherlist;
	if (strcasecmp(grade, "low") == 0)
		return var_tls_low_cipherlist;
	if (strcasecmp(grade, "export") == 0)
		return var_tls_export_cipherlist;
	if (strcasecmp(grade, "null") == 0)
		return var_tls_null_cipherlist;
	msg_fatal("unknown TLS cipher grade: %s", grade);
}

void
smtpd_tls_init(void)
{
	struct tls_server_conf c;
	char *err = NULL;
	int mandatory;

	if (tls_ctx) {
		SSL_CTX_free(tls_ctx);
		tls_ctx = NULL;
	}
	smtpd_tls_level = level_of();
	if (var_smtpd_tls_wrappermode && smtpd_tls_level == SMTPD_TLS_NONE)
		smtpd_tls_level = SMTPD_TLS_ENCRYPT;
	ask_ccert = require_ccert = 0;
	if (smtpd_tls_level == SMTPD_TLS_NONE)
		return;
	/* As Postfix: a certificate is required only when TLS is. */
	require_ccert = var_smtpd_tls_req_ccert
	    && smtpd_tls_level == SMTPD_TLS_ENCRYPT;
	if (var_smtpd_tls_req_ccert && !require_ccert)
		msg_warn("Can't require client certs unless TLS is required");
	ask_ccert = var_smtpd_tls_ask_ccert || require_ccert;
	/* encrypt (and wrapper mode) use the mandatory settings. */
	mandatory = smtpd_tls_level == SMTPD_TLS_ENCRYPT
	    || var_smtpd_tls_wrappermode;
	memset(&c, 0, sizeof(c));
	c.chain_files = var_smtpd_tls_chain_files;
	c.cert_file = var_smtpd_tls_cert_file;
	c.key_file = var_smtpd_tls_key_file;
	c.eccert_file = var_smtpd_tls_eccert_file;
	c.eckey_file = var_smtpd_tls_eckey_file;
	c.protocols = mandatory ? var_smtpd_tls_mandatory_protocols
	    : var_smtpd_tls_protocols;
	c.cipher_grade = mandatory ? var_smtpd_tls_mandatory_ciphers
	    : var_smtpd_tls_ciphers;
	c.cipherlist = cipherlist(c.cipher_grade);
	c.exclude_ciphers = mandatory ? var_smtpd_tls_mandatory_exclude_ciphers
	    : var_smtpd_tls_exclude_ciphers;
	c.session_timeout = var_smtpd_tls_session_cache_timeout;
	c.ask_ccert = ask_ccert;
	c.CAfile = var_smtpd_tls_CAfile;
	c.CApath = var_smtpd_tls_CApath;
	c.verify_depth = (int)var_smtpd_tls_ccert_verifydepth;
	if ((tls_ctx = tls_server_create(&c, &err)) == NULL) {
		/* As Postfix: "may" goes on without TLS; "encrypt" cannot. */
		if (smtpd_tls_level == SMTPD_TLS_MAY && !var_smtpd_tls_wrappermode) {
			msg_warn("TLS disabled: %s", err);
			smtpd_tls_level = SMTPD_TLS_NONE;
			free(err);
			return;
		}
		msg_fatal("smtpd_tls_security_level = encrypt: %s", err);
	}
	/* Tickets that the next smtpd (after max_use sessions) and the
	 * other smtpd processes can still decrypt. */
	{
		char *path = concatenate(var_queue_directory,
		    "/pid/smtpd_tls_ticket.key", (char *)0);

		if (tls_server_ticket_keys(tls_ctx, path,
		    var_smtpd_tls_session_cache_timeout, &err) < 0) {
			msg_warn("TLS session tickets only for this process: %s",
			    err);
			free(err);
		}
		free(path);
	}
}

int
smtpd_tls_offered(const struct smtpd_session *s)
{
	return tls_ctx != NULL && !s->tls && !s->tls_handshake;
}

/* wrap - put the OpenSSL filter over s->bev. */
static int
wrap(struct smtpd_session *s)
{
	SSL *ssl = SSL_new(tls_ctx);
	struct bufferevent *b;

	if (ssl == NULL)
		return -1;
	b = bufferevent_openssl_filter_new(smtpd_base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (b == NULL) {
		SSL_free(ssl);
		return -1;
	}
	s->bev = b;
	s->tls_handshake = 1;
	smtpd_session_callbacks(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return 0;
}

int
smtpd_tls_wrapper(struct smtpd_session *s)
{
	if (!var_smtpd_tls_wrappermode)
		return 0;
	if (wrap(s) < 0) {
		msg_warn("cannot start TLS for %s[%s]", s->name, s->addr);
		return -1;
	}
	/* The handshake waits for the greeting (smtpd_greet): the client's
	 * name, and anvil's smtpd_client_new_tls_session_rate_limit, come
	 * first. */
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	return 0;
}

void
smtpd_tls_start(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	s->tls_start = 0;
	/* Nothing sent behind STARTTLS is a command (CVE-2011-0411). */
	evbuffer_drain(in, evbuffer_get_length(in));
	memset(&s->input, 0, sizeof(s->input));
	s->input_left = 0;
	if (wrap(s) < 0) {
		msg_warn("cannot start TLS for %s[%s]", s->name, s->addr);
		smtpd_close(s);
	}
}

/* smtpd_tls_check - has the handshake completed?  (Called from the
 * session's callbacks: the first bytes read or written through TLS come
 * after it.)  Then log it and start the session over. */
void
smtpd_tls_check(struct smtpd_session *s)
{
	char desc[512];
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return;
	s->tls_handshake = 0;
	s->tls = 1;
	if (!SSL_session_reused(ssl))
		smtpd_anvil_newtls(s);
	free(s->ccert);
	s->ccert = NULL;
	if (ask_ccert) {
		s->ccert = xmalloc(sizeof(*s->ccert));
		tls_server_peer(ssl, var_smtpd_tls_fingerprint_digest, s->ccert);
	}
	tls_describe(ssl, desc, sizeof(desc), 1);
	/* smtpd_tls_loglevel 1 and up: the summary line (Postfix's 0 logs
	 * only failures). */
	if (var_smtpd_tls_loglevel >= 1)
		msg_info("%s TLS connection established from %s[%s]: %s",
		    s->ccert == NULL || !s->ccert->present ? "Anonymous"
		    : s->ccert->trusted ? "Trusted" : "Untrusted", s->name,
		    s->addr, desc);
	if (require_ccert && !s->ccert->trusted) {
		/* The next command gets the 421 (smtpd_proto.c). */
		s->tls_refused = s->ccert->present
		    ? "Client certificate not trusted"
		    : "No client certificate presented";
		msg_info("NOQUEUE: abort: TLS from %s[%s]: %s", s->name, s->addr,
		    s->tls_refused);
	}
	free(s->tls_info);
	s->tls_info = xstrdup(desc);
	/* RFC 3207: the client starts over (a wrapper-mode session has
	 * said nothing yet). */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	smtpd_reset_transaction(s);
	smtpd_sasl_free(s);		/* a login before STARTTLS too */
}

void
smtpd_tls_failed(struct smtpd_session *s)
{
	char why[256];
	unsigned long e = bufferevent_get_openssl_error(s->bev);

	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	else
		strlcpy(why, "lost connection", sizeof(why));
	msg_info("SSL_accept error from %s[%s]: %s", s->name, s->addr, why);
	s->tls_handshake = 0;
}

void
smtpd_tls_fill_ccert(const struct smtpd_session *s,
    struct smtpd_check_session *cs)
{
	const struct tls_peer *p = s->tls ? s->ccert : NULL;

	cs->ccert_subject = cs->ccert_issuer = NULL;
	cs->ccert_fingerprint = cs->ccert_pkey_fingerprint = NULL;
	cs->ccert_trusted = 0;
	if (p == NULL || !p->present)
		return;
	cs->ccert_subject = p->subject_cn;
	cs->ccert_issuer = p->issuer_cn;
	cs->ccert_fingerprint = p->fingerprint;
	cs->ccert_pkey_fingerprint = p->pkey_fingerprint;
	cs->ccert_trusted = p->trusted;
}

/* comment_text - s with what would end a header comment or its quoted
 * strings replaced by '?' (into buf). */
static const char *
comment_text(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		buf[n++] = strchr("()\\\"", *s) ? '?' : *s;
	buf[n] = 0;
	return buf;
}

const char *
smtpd_tls_ccert_comment(const struct smtpd_session *s)
{
	static char text[700];
	char cn[256], issuer[256];
	const struct tls_peer *p = s->ccert;

	if (p != NULL && p->present) {
		snprintf(text, sizeof(text), "(Client CN \"%s\", Issuer \"%s\" (%s))",
		    comment_text(p->subject_cn, cn, sizeof(cn)),
		    comment_text(p->issuer_cn, issuer, sizeof(issuer)),
		    p->trusted ? "verified OK" : "not verified");
		return text;
	}
	return ask_ccert ? "(Client did not present a certificate)"
	    : "(No client certificate requested)";
}

void
smtpd_tls_fill(struct smtpd_session *s, const char **proto_r,
    const char **cipher_r, int *bits_r)
{
	SSL *ssl;
	const SSL_CIPHER *c;

	*proto_r = *cipher_r = NULL;
	*bits_r = 0;
	if (!s->tls || (ssl = bufferevent_openssl_get_ssl(s->bev)) == NULL)
		return;
	*proto_r = SSL_get_version(ssl);
	if ((c = SSL_get_current_cipher(ssl)) != NULL) {
		*cipher_r = SSL_CIPHER_get_name(c);
		*bits_r = SSL_CIPHER_get_bits(c, NULL);
	}
}

/* smtpd_tls_flush - before the session is freed: what the filter passed
 * down (the last reply, close_notify) goes out if the socket takes it. */
void
smtpd_tls_flush(struct smtpd_session *s)
{
	struct bufferevent *u = bufferevent_get_underlying(s->bev);
	struct evbuffer *out;

	if (u == NULL)
		return;
	if (s->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

		if (ssl)
			(void)SSL_shutdown(ssl);
	}
	/* One non-blocking try: the last reply and close_notify are short.
	 * (A socket bufferevent keeps its output frozen at the front but
	 * while it writes itself.) */
	out = bufferevent_get_output(u);
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, s->fd);
}

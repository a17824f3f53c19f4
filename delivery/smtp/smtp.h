/* SPDX-License-Identifier: MIT */
/* smtp - the SMTP and LMTP delivery agent (smtp(8), lmtp(8)).
 *
 * One process carries many deliveries at once: every qmgr connection it
 * accepts is served by a task (core/util/task.h) that delivers that
 * connection's requests one after the other, and everything a delivery
 * waits for -- DNS (core/dns), connect, the server's replies, writing
 * the message -- is a task_wait() on the process's event loop, so one
 * slow destination holds only its own task.
 *
 * Files: smtp.c (process, qmgr connections, replies, delivery lines),
 * smtp_addr.c (next hop -> server addresses: MX, A/AAAA, loops),
 * smtp_proto.c (the SMTP/LMTP dialogue of one delivery), smtp_io.c
 * (timed socket I/O inside a task), smtp_session.c (session cache),
 * smtp_tls.c (TLS policy and handshake), smtp_dane.c (DANE: the TLSA
 * records of a server), smtp_sasl.c (SMTP AUTH as the client). */
#ifndef POSTINO_DELIVERY_SMTP_H
#define POSTINO_DELIVERY_SMTP_H

#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "buf.h"
#include "deliver_request.h"

struct dns_answer;

/* Configuration, bound at start (smtp_ or lmtp_ parameters). */
struct smtp_conf {
	int lmtp;			/* the program runs as lmtp */
	const char *proto;		/* "SMTP" or "LMTP" */
	const char *name;		/* "smtp" or "lmtp": log and relay= names */
	long connect_timeout;
	long helo_timeout;
	long mail_timeout;
	long rcpt_timeout;
	long data_init_timeout;
	long data_xfer_timeout;
	long data_done_timeout;
	long quit_timeout;
	long rset_timeout;
	long mx_address_limit;
	long mx_session_limit;
	int randomize;
	const char *helo_name;
	const char *bind_address;
	const char *bind_address6;
	const char *address_preference;	/* any, ipv4, ipv6 */
	long line_length_limit;
	int skip_5xx_greeting;
	const char *fallback_relay;
	int cache_on_demand;
	const char *cache_destinations;
	long cache_time_limit;
	long reuse_time_limit;
	long reuse_count_limit;
	int use_ipv4, use_ipv6;		/* inet_protocols */
	int default_port;		/* 25 or 24 */
	int dnssec;			/* smtp_dns_support_level = dnssec */
	int send_xforward;		/* smtp_send_xforward_command */
	long xforward_timeout;
};

extern struct smtp_conf smtp_conf;

/* One server address to try. */
struct smtp_addr {
	char *host;			/* name as looked up (MX host) */
	char addr_text[64];		/* "192.0.2.1", or the socket path */
	struct sockaddr_storage sa;
	socklen_t salen;
	int port;
	int pref;			/* MX preference (-1: none) */
	int fallback;			/* from smtp_fallback_relay */
	/* DNSSEC (smtp_dns_support_level = dnssec): the name came from a
	 * validated MX answer or from the configuration (mx_secure), and
	 * the address from a validated A/AAAA answer (addr_secure). */
	int mx_secure;
	int addr_secure;
	char cname[256];		/* addr_secure, host an alias: the name
					 * its CNAMEs lead to, else "" */
};

/* The server list of one delivery, or why there is none. */
struct smtp_dest {
	char *domain;			/* for messages: "example.com" */
	char *key;			/* session cache key (nexthop) */
	struct smtp_addr *addr;
	int count;
	/* count == 0: why. */
	int fail_bounce;		/* 1: bounce, 0: defer */
	char fail_dsn[16];
	char *fail_text;
};

/* smtp_addr.c */
/* smtp_dest_resolve - the servers for nexthop (resolve's syntax: domain,
 * domain:port, [host], [host]:port; lmtp: unix:/path, inet:host:port);
 * in a task the DNS queries wait on the loop.  Never NULL. */
struct smtp_dest *smtp_dest_resolve(const char *nexthop);
void smtp_dest_free(struct smtp_dest **dp);
/* smtp_addr_is_self - is this address one of this host's (interfaces,
 * inet_interfaces, proxy_interfaces)? */
int smtp_addr_is_self(const struct sockaddr *sa);
void smtp_addr_init(void);

/* smtp_io.c - a connection, inside a task. */
struct smtp_stream {
	int fd;
	char *in;			/* read buffer */
	size_t in_len, in_pos;
	struct buf *out;		/* unsent output */
	int err;			/* sticky: errno, or ETIMEDOUT, or EPIPE at EOF */
	SSL *ssl;			/* after STARTTLS (or wrapper mode) */
	char *tls_key;			/* the session cache's name of the server */
};

/* smtp_connect - connect to a (non-blocking, with smtp_connect_timeout);
 * NULL with errno set. */
struct smtp_stream *smtp_connect(const struct smtp_addr *a);
void smtp_stream_free(struct smtp_stream **sp);
/* smtp_read_line - one line without CRLF into line (truncated to len-1;
 * the rest of a long line is skipped), waiting at most timeout seconds.
 * 0, or -1 (s->err: ETIMEDOUT, EPIPE for EOF, errno). */
int smtp_read_line(struct smtp_stream *s, char *line, size_t len,
    long timeout);
/* smtp_tls_handshake - TLS on s with ssl (s owns it from now on), as
 * the client; 0, or -1 with why and s->err set. */
int smtp_tls_handshake(struct smtp_stream *s, SSL *ssl, long timeout,
    char *why, size_t len);
/* smtp_put - queue bytes; smtp_flush - send them all (timeout per wait). */
void smtp_put(struct smtp_stream *s, const char *data, size_t len);
void smtp_printf(struct smtp_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int smtp_flush(struct smtp_stream *s, long timeout);

/* struct smtp_reply - a server's (multi-line) reply. */
struct smtp_reply {
	int code;			/* 0: not a reply (protocol error) */
	char dsn[16];			/* its enhanced status, or N.0.0 */
	struct buf *text;		/* the lines joined with blanks */
	struct buf *lines;		/* NULL, or the lines, each ending in LF */
};

/* smtp_read_reply - read one reply into r (text allocated by the
 * caller; lines too, when wanted); -1 on a read error (s->err). */
int smtp_read_reply(struct smtp_stream *s, struct smtp_reply *r,
    long timeout);

/* smtp_tls.c - the TLS policy of a next hop, and the handshake. */
struct smtp_tls_policy {
	int level;			/* enum tls_level */
	char *match;			/* names, or fingerprints */
	char *protocols, *ciphers, *exclude;	/* NULL: the parameters' */
	char *servername;		/* SNI (NULL: smtp_tls_servername) */
	struct dns_answer *tlsa;	/* a host's policy: usable TLSA records
					 * (level dane: see smtp_dane.c) */
};
void smtp_tls_init(int lmtp);
int smtp_tls_wrappermode(void);
/* smtp_tls_note_offer - smtp_tls_note_starttls_offer. */
int smtp_tls_note_offer(void);
/* smtp_tls_policy_get - the policy for nexthop (and its domain); 0, or
 * -1 with *why (malloc'd): the delivery is deferred. */
int smtp_tls_policy_get(const char *nexthop, const char *domain,
    struct smtp_tls_policy *p, char **why);
void smtp_tls_policy_free(struct smtp_tls_policy *p);
/* smtp_tls_start - handshake on st and the policy's checks, logging
 * Postfix's "... TLS connection established to ..." line; 0, -1 when
 * the handshake failed, -2 when the certificate does not satisfy the
 * policy (why says so). */
int smtp_tls_start(struct smtp_stream *st, const struct smtp_tls_policy *p,
    const char *host, const char *nexthop, const char *label, long timeout,
    char *why, size_t len);

/* smtp_dane.c - the policy for one server address: for the levels dane
 * and dane-only the TLSA records of the server decide (RFC 7672): usable
 * ones make the level dane (TLS authenticated by them, in hp->tlsa),
 * none or an insecure answer may (dane-only: defer), records all
 * unusable encrypt (dane-only: defer).  Other levels are copied.  hp
 * shares p's strings; smtp_dane_done() frees what is hp's own.  0, or
 * -1 with why (the address is skipped, the delivery deferred if it was
 * the last one: "TLSA lookup error"). */
int smtp_dane_policy(const struct smtp_tls_policy *p,
    const struct smtp_addr *a, struct smtp_tls_policy *hp, char *why,
    size_t len);
void smtp_dane_done(struct smtp_tls_policy *hp);

/* smtp_session.c - an open session after a transaction, kept for the
 * next message to the same destination. */
struct smtp_session {
	struct smtp_stream *stream;
	struct smtp_addr addr;
	char *dest_key;
	char *host_label;		/* "mx.example.com[192.0.2.1]:25" (relay=) */
	char *peer;			/* "mx.example.com[192.0.2.1]" (texts) */
	int features;			/* SMTP_FEATURE_* */
	long size_limit;		/* SIZE n, 0 none */
	int reuse;			/* transactions done on it */
	double t_open;
	struct smtp_session *next;
	struct event *idle_ev;		/* while cached */
	char sasl_offered[256];		/* the EHLO reply's AUTH list */
	char sasl_mechs[256];		/* what smtp_sasl_mechanism_filter kept */
};

#define SMTP_FEATURE_ESMTP	(1 << 0)
#define SMTP_FEATURE_PIPELINING	(1 << 1)
#define SMTP_FEATURE_SIZE	(1 << 2)
#define SMTP_FEATURE_8BITMIME	(1 << 3)
#define SMTP_FEATURE_DSN	(1 << 4)
#define SMTP_FEATURE_SMTPUTF8	(1 << 5)
#define SMTP_FEATURE_STARTTLS	(1 << 6)
#define SMTP_FEATURE_AUTH	(1 << 7)	/* and a mechanism kept */
/* XFORWARD and the attributes the server announced with it. */
#define SMTP_FEATURE_XFWD_NAME	(1 << 8)
#define SMTP_FEATURE_XFWD_ADDR	(1 << 9)
#define SMTP_FEATURE_XFWD_PORT	(1 << 10)
#define SMTP_FEATURE_XFWD_PROTO	(1 << 11)
#define SMTP_FEATURE_XFWD_HELO	(1 << 12)
#define SMTP_FEATURE_XFWD_IDENT	(1 << 13)
#define SMTP_FEATURE_XFWD_SOURCE (1 << 14)
#define SMTP_FEATURE_XFWD_ANY	(SMTP_FEATURE_XFWD_NAME | SMTP_FEATURE_XFWD_ADDR \
	| SMTP_FEATURE_XFWD_PORT | SMTP_FEATURE_XFWD_PROTO | SMTP_FEATURE_XFWD_HELO \
	| SMTP_FEATURE_XFWD_IDENT | SMTP_FEATURE_XFWD_SOURCE)

/* smtp_session_take - a cached session for key (NULL when none). */
struct smtp_session *smtp_session_take(const char *key);
/* smtp_session_keep - cache s (or close it when caching is off for its
 * destination -- on demand: when qmgr has a backlog for it -- or s is
 * used up). */
void smtp_session_keep(struct smtp_session *s, int backlog);
/* smtp_session_close - QUIT (best effort, short wait) and free. */
void smtp_session_close(struct smtp_session *s, int quit);
void smtp_session_flush_all(void);

/* smtp_sasl.c - SASL authentication as the client (smtp_sasl_* or
 * lmtp_sasl_* parameters). */
#define SMTP_SASL_SEC_NOPLAINTEXT	(1 << 0)
#define SMTP_SASL_SEC_NOACTIVE		(1 << 1)
#define SMTP_SASL_SEC_NODICTIONARY	(1 << 2)
#define SMTP_SASL_SEC_NOANONYMOUS	(1 << 3)
#define SMTP_SASL_SEC_MUTUAL_AUTH	(1 << 4)
struct smtp_sasl_settings {
	const char *prefix;		/* "smtp" or "lmtp" */
	int enable;
	const char *type;
	const char *password_maps;
	const char *mechanism_filter;
	const char *security_options;
	const char *tls_security_options;
	const char *tls_verified_security_options;
	int soft_bounce;
	int sender_auth;		/* smtp_sender_dependent_authentication */
	long timeout;			/* of each AUTH reply */
};
struct smtp_sasl_cred {
	char *username;
	char *password;
};
/* smtp_sasl_init - bind the parameters of the program (fatal for an
 * smtp_sasl_type other than cyrus, or an unknown security option) and
 * open the password tables (before privileges are dropped). */
void smtp_sasl_init(int lmtp);
/* smtp_sasl_configure - the same from explicit settings. */
void smtp_sasl_configure(const struct smtp_sasl_settings *set);
int smtp_sasl_enabled(void);
/* smtp_sasl_secopts_parse - "noplaintext, noanonymous" into
 * SMTP_SASL_SEC_* bits; -1 with *bad_r (malloc'd) an unknown word. */
int smtp_sasl_secopts_parse(const char *value, int *mask_r, char **bad_r);
/* smtp_sasl_passwd_lookup - the "username:password" of the sender
 * (sender-dependent authentication), else of host, else of nexthop
 * (NULL: not tried); 1 found (*cred_r, free with smtp_sasl_cred_free),
 * 0 none, -1 a table failed (warning logged).  Never blocks on the
 * network (network tables go through the lookup service). */
int smtp_sasl_passwd_lookup(const char *sender, const char *host,
    const char *nexthop, struct smtp_sasl_cred **cred_r);
void smtp_sasl_cred_free(struct smtp_sasl_cred **cp);
/* smtp_sasl_session_key - credentials for server a of nexthop (the
 * next hop's entry is not used for a fallback relay), and the session
 * cache key *key_r (malloc'd, replaced) extended with the user name;
 * 0 (*cred_r NULL when none, or SASL is off), -1 a table failed. */
int smtp_sasl_session_key(const char *sender, const struct smtp_addr *a,
    const char *nexthop, struct smtp_sasl_cred **cred_r, char **key_r);
/* smtp_sasl_helo_auth - the EHLO reply's "AUTH first rest" (or
 * "AUTH=first rest"): the mechanisms smtp_sasl_mechanism_filter keeps go
 * to s->sasl_mechs and set SMTP_FEATURE_AUTH; a warning when none. */
void smtp_sasl_helo_auth(struct smtp_session *s, const char *first,
    const char *rest);
/* smtp_sasl_select - the mechanism to use from the offered list under
 * the security options opts (SMTP_SASL_SEC_*), NULL when none. */
const char *smtp_sasl_select(const char *offered, int opts);
/* smtp_sasl_base64 - RFC 4648 encoding, malloc'd. */
char *smtp_sasl_base64(const unsigned char *data, size_t len);
/* smtp_sasl_authenticate - AUTH on s with cred (tls: the session is
 * encrypted, verified: and the certificate was checked by the policy);
 * 0 authenticated, -1 I/O error (s->stream->err), -2 refused or not
 * possible: dsn and text say why (4.x.x to defer, 5.x.x to bounce). */
int smtp_sasl_authenticate(struct smtp_session *s,
    const struct smtp_sasl_cred *cred, int tls, int verified, char *dsn,
    size_t dsn_len, char *text, size_t text_len);

/* smtp_mime.c - smtp_mime_downgrade: the message (LF lines) with its
 * 8-bit MIME parts encoded quoted-printable, for a server without
 * 8BITMIME; a message without MIME-Version is copied unchanged. */
struct buf *smtp_mime_downgrade(const char *msg, size_t len);
/* smtp_mime_has_8bit - has p[0..len) a byte with the high bit set? */
int smtp_mime_has_8bit(const char *p, size_t len);

/* smtp_hbc.c - smtp_*_checks (lmtp_*_checks): smtp_hbc_init after the
 * configuration is bound (and again at reload); smtp_hbc_apply: the
 * message (queue form) as it is to be sent in *out_r, 0; or -1 when a
 * table failed (*why_r, malloc'd: defer). */
void smtp_hbc_init(void);

/* smtp_generic.c - smtp_generic_maps (lmtp_generic_maps): init after
 * the configuration is bound; smtp_generic_addr: an address (internal
 * form) as it leaves (malloc'd; NULL when a table failed);
 * smtp_generic_header: a header with its addresses rewritten (malloc'd),
 * NULL when unchanged or when a table failed (*fail_r). */
void smtp_generic_init(void);
int smtp_generic_active(void);
char *smtp_generic_addr(const char *addr);
char *smtp_generic_header(const char *text, int *fail_r);
int smtp_hbc_active(void);
int smtp_hbc_apply(const char *msg, size_t len, const char *queue_id,
    struct buf **out_r, char **why_r);

/* smtp_proto.c - deliver one request; exactly one status per recipient
 * through smtp_status().  Returns the destination feedback for qmgr:
 * SMTP_DEST_OK, SMTP_DEST_DEAD (with *reason_r), SMTP_DEST_NONE. */
#define SMTP_DEST_NONE	0
#define SMTP_DEST_OK	1
#define SMTP_DEST_DEAD	2
struct smtp_request;
int smtp_deliver(struct smtp_request *req, char **reason_r);

/* smtp.c - what smtp_proto.c reports through. */
struct smtp_request {
	struct deliver_request *dr;
	int fd;				/* queue file */
	double t_start;			/* request received */
	double t_active;		/* qmgr picked the message up */
	double t_conn;			/* session ready (0: none yet) */
	int conn_use;			/* the session's transaction number */
	int backlog;			/* qmgr has more for this destination */
	int *done;			/* per recipient: status given */
	int dsn_peer;			/* the last session's server has DSN */
	struct agent_conn *conn;
};
void smtp_status(struct smtp_request *req, int index, const char *dsn,
    const char *status, const char *relay, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
double smtp_now(void);

#endif

/* SPDX-License-Identifier: MIT */
/* smtpd_check - SMTP access policy: the restriction lists
 * (smtpd_client_restrictions, smtpd_helo_restrictions,
 * smtpd_sender_restrictions, smtpd_relay_restrictions,
 * smtpd_recipient_restrictions, smtpd_data_restrictions,
 * smtpd_end_of_data_restrictions), access(5) tables with Postfix's key
 * search order, mynetworks, the address classes (resolve.h), and
 * recipient validation (local_recipient_maps and friends).
 *
 * With smtpd_delay_reject = yes (the default) client, helo and sender
 * restrictions are evaluated at RCPT time, as Postfix does.
 *
 * A table's temporary error gives "451 4.3.0 <addr>: Temporary lookup
 * failure" (never a 5xx).  Decisions are logged in Postfix's shape:
 * "NOQUEUE: reject: RCPT from NAME[ADDR]: 554 5.7.1 <x@y>: Relay access
 * denied; from=<s> to=<x@y> proto=ESMTP helo=<h>". */
#ifndef POSTINO_SMTPD_SMTPD_CHECK_H
#define POSTINO_SMTPD_SMTPD_CHECK_H

/* What the checks may read about the session (owned by smtpd). */
struct smtpd_check_session {
	const char *client_addr;	/* "127.0.0.1", IPv6 without brackets */
	const char *client_name;	/* verified name or "unknown" */
	const char *reverse_name;	/* PTR name, not verified, or "unknown";
					 * NULL: same as client_name */
	int name_tempfail;		/* the name lookup failed temporarily */
	int reverse_tempfail;		/* the PTR lookup failed temporarily */
	const char *client_port;
	const char *helo;		/* NULL before HELO/EHLO */
	const char *protocol;		/* "SMTP" or "ESMTP" */
	const char *sender;		/* NULL before MAIL; "" = null sender */
	const char *queue_id;		/* NULL: log "NOQUEUE" */
	int pipelining_violation;	/* client sent ahead without PIPELINING */
	int rcpt_count;			/* accepted so far in this transaction */
	long size;			/* MAIL SIZE=, 0 when not given */
	char instance[64];		/* per message (policy "instance") */
	char server_addr[64];		/* the address the client connected to */
	char server_port[16];
	/* TLS: protocol NULL for a plaintext session. */
	const char *tls_protocol;	/* "TLSv1.3" */
	const char *tls_cipher;		/* "TLS_AES_256_GCM_SHA384" */
	int tls_bits;
	/* The client certificate: fingerprint NULL when none was presented;
	 * subject and issuer CommonNames ("" when absent). */
	const char *ccert_subject, *ccert_issuer;
	const char *ccert_fingerprint, *ccert_pkey_fingerprint;
	int ccert_trusted;		/* its chain verified */
	/* SASL: NULL for a client that did not log in. */
	const char *sasl_method;	/* "PLAIN" */
	const char *sasl_username;	/* "alice" */
	const char *sasl_sender;	/* MAIL FROM AUTH=, or NULL */
};

/* The outcome of one check. */
struct smtpd_check_reply {
	int code;		/* 0 = accepted; else 4xx/5xx SMTP code */
	char dsn[16];		/* "5.7.1" */
	char *text;		/* reply text after code and dsn, malloc'd */
	/* Side effects the session applies when the command is accepted: */
	int hold;		/* HOLD: put the message on hold */
	int discard;		/* DISCARD: accept and drop */
	char *redirect;		/* REDIRECT addr (malloc'd) */
	char *filter;		/* FILTER transport:destination (malloc'd) */
	char **prepend;		/* PREPEND header lines (NULL-terminated) */
	int nprepend;
	char **bcc;		/* BCC recipients (NULL-terminated) */
	int nbcc;
	int hangup;		/* HANGUP: close the session, no reply */
	int warn_only;		/* the reject was downgraded (warn_if_reject) */
};

/* smtpd_check_init - parse the restriction lists and open their tables
 * (daemon style: surrogates for tables that cannot be opened).
 * A list with an unknown or unsupported restriction is logged as a
 * warning and answers "451 4.3.5 Server configuration error" to every
 * command it applies to (the server keeps serving); "postino check"
 * reports it with file and line (smtpd_restrict_validate). */
void smtpd_check_init(void);

/* Each returns the reply's code (0 = OK) and fills *r (reset it with
 * smtpd_check_reply_free after use). */
int smtpd_check_client(const struct smtpd_check_session *s, struct smtpd_check_reply *r);
int smtpd_check_helo(const struct smtpd_check_session *s, const char *helo, struct smtpd_check_reply *r);
int smtpd_check_mail(const struct smtpd_check_session *s, const char *sender, struct smtpd_check_reply *r);
int smtpd_check_rcpt(const struct smtpd_check_session *s, const char *rcpt, struct smtpd_check_reply *r);
int smtpd_check_data(const struct smtpd_check_session *s, struct smtpd_check_reply *r);
/* smtpd_check_etrn - smtpd_etrn_restrictions for ETRN domain (the
 * domain is what check_etrn_access looks up). */
int smtpd_check_etrn(const struct smtpd_check_session *s, const char *domain,
    struct smtpd_check_reply *r);
int smtpd_check_eod(const struct smtpd_check_session *s, struct smtpd_check_reply *r);
/* smtpd_check_vrfy - for VRFY (when enabled): is the address deliverable
 * here?  250/252/550 semantics as Postfix. */
int smtpd_check_vrfy(const struct smtpd_check_session *s, const char *addr, struct smtpd_check_reply *r);
/* smtpd_check_size - MAIL SIZE= and free-space check (queue_minfree,
 * 1.5 x message_size_limit): 552 5.3.4 / 452 4.3.1. */
int smtpd_check_size(const struct smtpd_check_session *s, long size, struct smtpd_check_reply *r);

void smtpd_check_reply_free(struct smtpd_check_reply *r);

/* smtpd_check_no_unknown_rcpt - receive_override_options =
 * no_unknown_recipient_checks: neither the implicit check at the end of
 * the recipient restrictions nor reject_unlisted_recipient/_sender nor
 * relocated_maps refuse an address (mail coming back from a content
 * filter was checked on its way in). */
void smtpd_check_no_unknown_rcpt(int on);

/* smtpd_check_uses_policy - does a restriction list name
 * check_policy_service? */
int smtpd_check_uses_policy(void);

/* smtpd_check_event_base - the event loop on which checks that run
 * inside a task (task.h) wait for their servers (check_policy_service);
 * without it, or outside a task, they wait with poll(). */
struct event_base;
void smtpd_check_event_base(struct event_base *base);

/* smtpd_check_connect - a stream connection to a server named as in
 * Postfix (check_policy_service, smtpd_sasl_path): "inet:host:port",
 * "unix:path", else a path -- with bare_prefix, a bare name is
 * bare_prefix + name and "type:path" means path.  A relative path is
 * under $queue_directory.  Waits (in a task, on the loop) until deadline
 * (monotonic ms).  The descriptor (non-blocking), or -1 with *why. */
int smtpd_check_connect(const char *server, const char *bare_prefix,
    long deadline, const char **why);

#endif

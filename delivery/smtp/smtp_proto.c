/* SPDX-License-Identifier: MIT */
/* smtp_proto - one delivery: the servers of the next hop tried in turn,
 * and the SMTP or LMTP dialogue with each, as Postfix's smtp(8) does.
 *
 * Servers.  The addresses come from smtp_addr.c.  The next one is tried
 * when a server cannot be reached (refused, timed out), greets with 4xx
 * (or 5xx: smtp_skip_5xx_greeting), loses the connection, or answers
 * 4xx to MAIL or RCPT (greylisting): the recipients it did not take are
 * tried at the next server.  The last server that may be tried (no more
 * addresses, or smtp_mx_session_limit sessions made) is final: its 4xx
 * defers.  5xx always bounces, quoting the server.  A server that
 * greets with our own name in its EHLO reply is this host: the mail
 * loops back to myself and bounces.
 *
 * Dialogue.  EHLO (HELO when EHLO is refused; LHLO for LMTP), then MAIL
 * FROM with SIZE, BODY=8BITMIME, RET and ENVID as the server supports
 * them, RCPT TO with NOTIFY and ORCPT, DATA, the message (LF -> CRLF,
 * dot-stuffing, lines longer than smtp_line_length_limit broken with
 * CRLF SPACE), ".".  With PIPELINING, MAIL, every RCPT and DATA go in
 * one write and the replies are read in order.  LMTP answers once per
 * accepted recipient after the ".".  Every read and write has its
 * phase's timeout (smtp_*_timeout).
 *
 * After the EHLO (the second one, after STARTTLS), AUTH when SASL is on,
 * the server offers it and the password table has an entry for it
 * (smtp_sasl.c); a failure is a session failure like a 4xx greeting.
 *
 * An address verification probe (deliver_request verify=1) stops after
 * the RCPT TO replies: no DATA is sent, an accepted recipient is
 * reported "sent" (deliverable) with the server's reply, and the
 * transaction is reset (RSET).
 *
 * After a transaction that left nothing to retry, the session is cached
 * (smtp_session.c) for the next message to the same next hop (and the
 * same SASL login). */
#include "postino_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "smtp.h"
#include "stringops.h"
#include "tls_client.h"

#define REPLY_TEXT_MAX	2048
/* Largest message copied for the 8BITMIME downgrade (larger ones are
 * sent as they are). */
#define SMTP_MIME_COPY_MAX	(256L * 1024 * 1024)
/* Message bytes queued before a write. */
#define SMTP_SEND_CHUNK		(64 * 1024)

/* The soft error to give the recipients left when no server is left. */
struct last_error {
	char dsn[16];
	char *text;
	const char *relay;
	char relay_buf[300];
};

static void
last_error_set(struct last_error *le, const char *dsn, const char *relay,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
last_error_set(struct last_error *le, const char *dsn, const char *relay,
    const char *fmt, ...)
{
	va_list ap;
	char text[2560];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	strlcpy(le->dsn, dsn, sizeof(le->dsn));
	free(le->text);
	le->text = xstrdup(text);
	strlcpy(le->relay_buf, relay, sizeof(le->relay_buf));
	le->relay = le->relay_buf;
}

/* xtext - RFC 3461 encoding (ORCPT, ENVID). */
static void
put_xtext(struct smtp_stream *st, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			smtp_printf(st, "+%02X", c);
		else
			smtp_put(st, (const char *)&c, 1);
	}
}

/* xforward_features - the SMTP_FEATURE_XFWD_* bits of the attribute
 * names after an EHLO "XFORWARD" keyword. */
static int
xforward_features(char *names)
{
	static const struct {
		const char *name;
		int bit;
	} attrs[] = {
		{"NAME", SMTP_FEATURE_XFWD_NAME}, {"ADDR", SMTP_FEATURE_XFWD_ADDR},
		{"PORT", SMTP_FEATURE_XFWD_PORT}, {"PROTO", SMTP_FEATURE_XFWD_PROTO},
		{"HELO", SMTP_FEATURE_XFWD_HELO}, {"IDENT", SMTP_FEATURE_XFWD_IDENT},
		{"SOURCE", SMTP_FEATURE_XFWD_SOURCE},
	};
	int bits = 0;
	char *w;

	while ((w = mystrtok(&names, " ")) != NULL)
		for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if (strcasecmp(w, attrs[i].name) == 0)
				bits |= attrs[i].bit;
	return bits;
}

/* One delivery's state. */
struct deliv {
	struct smtp_request *req;
	struct deliver_request *dr;
	int eight_bit;			/* content has 8-bit bytes (-1 unknown) */
	int final;			/* this server is the last one */
	struct last_error le;
	struct buf *mem;		/* the message as sent, when it is not
					 * the queue file's (checks, downgrade) */
	int checked;			/* smtp_*_checks applied */
	char *env_sender;		/* smtp_generic_maps: MAIL FROM */
	char **env_rcpt;		/* ... RCPT TO, each (NULL: as queued) */
	int downgraded;			/* made 7-bit */
	struct smtp_tls_policy tls;	/* of the next hop */
	const char *domain;		/* the next hop's domain (peer names) */
	struct smtp_sasl_cred *cred;	/* SASL login for this server */
};

static int
pending(struct deliv *dv, int i)
{
	return !dv->req->done[i];
}

static int
npending(struct deliv *dv)
{
	int n = 0;

	for (int i = 0; i < dv->dr->rcpt_count; i++)
		n += pending(dv, i);
	return n;
}

static int
non_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s & 0x80)
			return 1;
	return 0;
}

/* needs_smtputf8 - the envelope has a non-ASCII address. */
static int
needs_smtputf8(struct deliv *dv)
{
	if (non_ascii(dv->dr->sender))
		return 1;
	for (int i = 0; i < dv->dr->rcpt_count; i++)
		if (pending(dv, i) && non_ascii(dv->dr->rcpt[i].address))
			return 1;
	return 0;
}

/* content_8bit - does the message have bytes with the high bit set? */
static int
content_8bit(struct deliv *dv)
{
	char buf[65536];
	off_t pos = 0, len = dv->dr->content_len;

	if (dv->eight_bit >= 0)
		return dv->eight_bit;
	dv->eight_bit = 0;
	if (dv->mem)
		return dv->eight_bit = smtp_mime_has_8bit(buf_str(dv->mem),
		    buf_len(dv->mem));
	while (pos < len) {
		size_t want = sizeof(buf);
		ssize_t n;

		if ((off_t)want > len - pos)
			want = (size_t)(len - pos);
		n = pread(dv->req->fd, buf, want, dv->dr->content_offset + pos);
		if (n <= 0)
			break;
		if (smtp_mime_has_8bit(buf, (size_t)n))
			return dv->eight_bit = 1;
		pos += n;
	}
	return 0;
}

/* send_content - the message, CRLF, dot-stuffed, long lines broken; 0,
 * -1 on a write error (st->err), -2 on a queue file read error. */
/* content_read - bytes of the message as sent (the queue file, or the
 * downgraded copy). */
static ssize_t
content_read(struct deliv *dv, char *buf, size_t want, off_t pos)
{
	if (dv->mem) {
		if ((size_t)pos >= buf_len(dv->mem))
			return 0;
		if (want > buf_len(dv->mem) - (size_t)pos)
			want = buf_len(dv->mem) - (size_t)pos;
		memcpy(buf, buf_str(dv->mem) + pos, want);
		return (ssize_t)want;
	}
	return pread(dv->req->fd, buf, want, dv->dr->content_offset + pos);
}

static off_t
content_len(struct deliv *dv)
{
	return dv->mem ? (off_t)buf_len(dv->mem) : dv->dr->content_len;
}

/* downgrade - for a server without 8BITMIME: the message with its 8-bit
 * parts made quoted-printable (smtp_mime.c), unless
 * disable_mime_output_conversion or the message is too large to copy. */
/* content_copy - the message as it is to be sent, in memory (malloc'd,
 * its length in *len_r); NULL on a read error. */
static char *
content_copy(struct deliv *dv, size_t *len_r)
{
	off_t len = content_len(dv), pos = 0;
	char *copy = xmalloc((size_t)len + 1);

	while (pos < len) {
		ssize_t n = content_read(dv, copy + pos, (size_t)(len - pos), pos);

		if (n <= 0) {
			free(copy);
			return NULL;
		}
		pos += n;
	}
	*len_r = (size_t)len;
	return copy;
}

/* set_mem - what is sent from now on. */
static void
set_mem(struct deliv *dv, struct buf *mem)
{
	buf_free(&dv->mem);
	dv->mem = mem;
	dv->eight_bit = -1;
}

static void
downgrade(struct deliv *dv)
{
	size_t len;
	char *copy;

	if (dv->downgraded || var_disable_mime_output_conversion
	    || !content_8bit(dv) || content_len(dv) > SMTP_MIME_COPY_MAX)
		return;
	if ((copy = content_copy(dv, &len)) == NULL)
		return;
	dv->downgraded = 1;
	set_mem(dv, smtp_mime_downgrade(copy, len));
	free(copy);
}

/* free_envelope - the smtp_generic_maps envelope. */
static void
free_envelope(struct deliv *dv)
{
	if (dv->env_rcpt != NULL)
		for (int i = 0; i < dv->dr->rcpt_count; i++)
			free(dv->env_rcpt[i]);
	free(dv->env_rcpt);
	free(dv->env_sender);
	dv->env_rcpt = NULL;
	dv->env_sender = NULL;
}

/* content_checks - smtp_*_checks, once per delivery (smtp_hbc.c); 0, or
 * -1 when they could not be applied (*why_r: the reason, malloc'd). */
static int
content_checks(struct deliv *dv, char **why_r)
{
	struct buf *out = NULL;
	size_t len;
	char *copy;
	int rc;

	*why_r = NULL;
	if (dv->checked || !smtp_hbc_active())
		return 0;
	if (smtp_generic_active() && dv->env_rcpt == NULL) {
		int n = dv->dr->rcpt_count, bad = 0;

		dv->env_rcpt = xcalloc((size_t)n + 1, sizeof(char *));
		if ((dv->env_sender = smtp_generic_addr(dv->dr->sender)) == NULL)
			bad = 1;
		for (int i = 0; i < n && !bad; i++)
			if ((dv->env_rcpt[i] = smtp_generic_addr(
			    dv->dr->rcpt[i].address)) == NULL)
				bad = 1;
		if (bad) {
			free_envelope(dv);
			*why_r = xstrdup("smtp_generic_maps lookup failure");
			return -1;
		}
	}
	if ((copy = content_copy(dv, &len)) == NULL) {
		*why_r = xstrdup("error reading the queue file");
		return -1;
	}
	rc = smtp_hbc_apply(copy, len, dv->dr->queue_id, &out, why_r);
	free(copy);
	if (rc < 0)
		return -1;
	dv->checked = 1;
	set_mem(dv, out);
	return 0;
}

static int
send_content(struct deliv *dv, struct smtp_stream *st)
{
	char in[65536];
	off_t pos = 0, len = content_len(dv);
	int bol = 1, pending_cr = 0;
	long col = 0, limit = smtp_conf.line_length_limit;
	char out[2 * sizeof(in) + 64];

	while (pos < len) {
		size_t want = sizeof(in), o = 0;
		ssize_t n;

		if ((off_t)want > len - pos)
			want = (size_t)(len - pos);
		n = content_read(dv, in, want, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -2;
		pos += n;
		for (ssize_t i = 0; i < n; i++) {
			char c = in[i];

			if (o + 8 > sizeof(out)) {
				smtp_put(st, out, o);
				o = 0;
			}
			if (pending_cr) {
				pending_cr = 0;
				if (c != '\n') {
					out[o++] = '\r';
					col++;
					bol = 0;
				}
			}
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				bol = 1;
				col = 0;
				continue;
			}
			if (c == '\r') {
				pending_cr = 1;
				continue;
			}
			if (limit > 0 && col >= limit) {
				out[o++] = '\r';
				out[o++] = '\n';
				out[o++] = ' ';
				col = 1;
				bol = 0;
			}
			if (bol && c == '.') {
				out[o++] = '.';
				col++;
			}
			bol = 0;
			out[o++] = c;
			col++;
		}
		smtp_put(st, out, o);
		/* Sent in large writes: the end of the message goes with
		 * the "." (two small segments would wait for a delayed ACK). */
		if (buf_len(st->out) >= SMTP_SEND_CHUNK
		    && smtp_flush(st, smtp_conf.data_xfer_timeout) < 0)
			return -1;
	}
	if (pending_cr)
		smtp_put(st, "\r", 1);
	if (!bol || pending_cr)
		smtp_put(st, "\r\n", 2);
	smtp_put(st, ".\r\n", 3);
	return smtp_flush(st, smtp_conf.data_done_timeout);
}

/* io_error - the session broke while doing what: a soft error for every
 * recipient left, and the session is gone. */
static void
io_error(struct deliv *dv, struct smtp_session *s, const char *what)
{
	int err = s->stream->err;

	if (err == ETIMEDOUT)
		last_error_set(&dv->le, "4.4.2", s->host_label,
		    "conversation with %s timed out while %s", s->peer, what);
	else
		last_error_set(&dv->le, "4.4.2", s->host_label,
		    "lost connection with %s while %s", s->peer, what);
}

/* rcpt_reply - RCPT (or LMTP end-of-data) reply for recipient i. */
static void
rcpt_result(struct deliv *dv, struct smtp_session *s, int i,
    struct smtp_reply *r, const char *phase)
{
	if (r->code >= 200 && r->code < 300)
		return;
	if (r->code >= 500 && r->code < 600) {
		smtp_status(dv->req, i, r->dsn, "bounced", s->host_label,
		    "host %s said: %s (in reply to %s)", s->peer,
		    buf_str(r->text), phase);
	} else if (dv->final) {
		smtp_status(dv->req, i, r->dsn, "deferred", s->host_label,
		    "host %s said: %s (in reply to %s)", s->peer,
		    buf_str(r->text), phase);
	} else {
		last_error_set(&dv->le, r->dsn, s->host_label,
		    "host %s said: %s (in reply to %s)", s->peer,
		    buf_str(r->text), phase);
	}
}

/* probe_result - an address verification probe: recipient i was
 * accepted by RCPT TO; that is as far as a probe goes. */
static void
probe_result(struct deliv *dv, struct smtp_session *s, int i,
    struct smtp_reply *r)
{
	if (dv->dr->verify)
		smtp_status(dv->req, i, r->dsn, "sent", s->host_label,
		    "host %s said: %s (in reply to RCPT TO command)", s->peer,
		    buf_str(r->text));
}

/* all_result - the same reply for every recipient in set (accepted[]
 * or every pending one). */
static void
all_result(struct deliv *dv, struct smtp_session *s, const int *set,
    struct smtp_reply *r, const char *phase)
{
	for (int i = 0; i < dv->dr->rcpt_count; i++)
		if (pending(dv, i) && (set == NULL || set[i]))
			rcpt_result(dv, s, i, r, phase);
}

/* xforward_value - an XFORWARD attribute value: the xtext of text, or
 * [UNAVAILABLE] when there is none. */
static void
xforward_value(struct buf *cmd, const char *text)
{
	if (text == NULL || *text == 0) {
		buf_puts(cmd, "[UNAVAILABLE]");
		return;
	}
	for (; *text; text++) {
		unsigned char c = (unsigned char)*text;
		char hex[4];

		if (c < 33 || c > 126 || c == '+' || c == '=') {
			snprintf(hex, sizeof(hex), "+%02X", c);
			buf_puts(cmd, hex);
		} else
			buf_putc(cmd, c);
	}
}

/* send_xforward - smtp_send_xforward_command: tell the server (a content
 * filter) who sent the message to us, in the attributes it announced,
 * in commands of at most 512 bytes (XFORWARD_README), each answered
 * before the next.  0: accepted; 1: refused (the recipients have their
 * result); -1: the session broke (dv->le set). */
static int
send_xforward(struct deliv *dv, struct smtp_session *s, struct smtp_reply *r)
{
	struct deliver_request *dr = dv->dr;
	const char *source = dr->rewrite_context == NULL
	    || *dr->rewrite_context == 0 ? NULL
	    : strcmp(dr->rewrite_context, "local") == 0 ? "LOCAL" : "REMOTE";
	const struct {
		int bit;
		const char *name;
		const char *value;
	} attrs[] = {
		{SMTP_FEATURE_XFWD_NAME, "NAME", dr->client_name},
		{SMTP_FEATURE_XFWD_ADDR, "ADDR", dr->client_address},
		{SMTP_FEATURE_XFWD_PORT, "PORT", dr->client_port},
		{SMTP_FEATURE_XFWD_PROTO, "PROTO", dr->client_protocol},
		{SMTP_FEATURE_XFWD_HELO, "HELO", dr->client_helo},
		{SMTP_FEATURE_XFWD_IDENT, "IDENT", dr->queue_id},
		{SMTP_FEATURE_XFWD_SOURCE, "SOURCE", source},
	};
	size_t n = sizeof(attrs) / sizeof(attrs[0]);
	struct buf *cmd = buf_new(512, BUF_NOLIMIT);
	struct buf *one = buf_new(256, BUF_NOLIMIT);
	int rc = 0;

	for (size_t i = 0; i <= n && rc == 0; i++) {
		if (i < n) {
			if ((s->features & attrs[i].bit) == 0)
				continue;
			buf_reset(one);
			buf_puts(one, " ");
			buf_puts(one, attrs[i].name);
			buf_puts(one, "=");
			xforward_value(one, attrs[i].value);
			/* Room left in this command line (CRLF included)? */
			if (buf_len(cmd) == 0 || buf_len(cmd) + buf_len(one) + 2 <= 512) {
				if (buf_len(cmd) == 0)
					buf_puts(cmd, "XFORWARD");
				buf_append(cmd, buf_str(one), buf_len(one));
				continue;
			}
		} else if (buf_len(cmd) == 0)
			break;
		/* Send the command in hand. */
		smtp_put(s->stream, buf_str(cmd), buf_len(cmd));
		smtp_put(s->stream, "\r\n", 2);
		if (smtp_flush(s->stream, smtp_conf.xforward_timeout) < 0
		    || smtp_read_reply(s->stream, r, smtp_conf.xforward_timeout) < 0) {
			io_error(dv, s, "sending XFORWARD");
			rc = -1;
		} else if (r->code / 100 != 2) {
			all_result(dv, s, NULL, r, "XFORWARD command");
			rc = 1;
		}
		buf_reset(cmd);
		if (i < n) {
			buf_puts(cmd, "XFORWARD");
			buf_append(cmd, buf_str(one), buf_len(one));
		}
	}
	buf_free(&cmd);
	buf_free(&one);
	return rc;
}

/* transaction - one message on an open session.  Returns 0 when the
 * session may be used again, -1 when it must be closed (I/O error,
 * protocol trouble). */
static int
transaction(struct deliv *dv, struct smtp_session *s)
{
	struct deliver_request *dr = dv->dr;
	struct smtp_stream *st = s->stream;
	struct smtp_reply r;
	int pipelining = (s->features & SMTP_FEATURE_PIPELINING) != 0;
	int dsn = (s->features & SMTP_FEATURE_DSN) != 0;
	int *sent_rcpt = xcalloc((size_t)dr->rcpt_count + 1, sizeof(int));
	int *accepted = xcalloc((size_t)dr->rcpt_count + 1, sizeof(int));
	int naccepted = 0, mail_ok = 0, ret = -1, data_ok = 0;

	r.text = buf_new(256, REPLY_TEXT_MAX);
	r.lines = NULL;
	s->reuse++;
	dv->req->conn_use = s->reuse;
	dv->req->dsn_peer = dsn;
	if ((s->features & SMTP_FEATURE_SIZE) && s->size_limit > 0
	    && dr->content_len > s->size_limit) {
		for (int i = 0; i < dr->rcpt_count; i++)
			if (pending(dv, i))
				smtp_status(dv->req, i, "5.3.4", "bounced", s->host_label,
				    "message size %lld exceeds size limit %ld of server %s",
				    (long long)dr->content_len, s->size_limit,
				    s->peer);
		ret = 0;
		goto out;
	}
	/* RFC 6531: non-ASCII addresses need a server that offers SMTPUTF8
	 * (the message cannot be downgraded: it bounces, as in Postfix). */
	if (needs_smtputf8(dv) && !(s->features & SMTP_FEATURE_SMTPUTF8)) {
		for (int i = 0; i < dr->rcpt_count; i++)
			if (pending(dv, i))
				smtp_status(dv->req, i, "5.6.7", "bounced", s->host_label,
				    "SMTPUTF8 is required, but was not offered by host %s",
				    s->peer);
		ret = 0;
		goto out;
	}
	{
		char *why;

		if (content_checks(dv, &why) < 0) {
			for (int i = 0; i < dr->rcpt_count; i++)
				if (pending(dv, i))
					smtp_status(dv->req, i, "4.3.0", "deferred", "none",
					    "%s", why);
			free(why);
			ret = 0;
			goto out;
		}
	}
	if (!(s->features & SMTP_FEATURE_8BITMIME))
		downgrade(dv);
	if (smtp_conf.send_xforward && (s->features & SMTP_FEATURE_XFWD_ANY)) {
		switch (send_xforward(dv, s, &r)) {
		case -1:
			goto out;
		case 1:
			ret = 0;
			goto rset;
		}
	}
	/* MAIL FROM. */
	smtp_printf(st, "MAIL FROM:<%s>", dv->env_sender ? dv->env_sender
	    : dr->sender);
	if (needs_smtputf8(dv))
		smtp_printf(st, " SMTPUTF8");
	if (s->features & SMTP_FEATURE_SIZE)
		smtp_printf(st, " SIZE=%lld", (long long)content_len(dv));
	if ((s->features & SMTP_FEATURE_8BITMIME) && content_8bit(dv))
		smtp_printf(st, " BODY=8BITMIME");
	if (dsn && dr->dsn_ret && *dr->dsn_ret)
		smtp_printf(st, " RET=%s", dr->dsn_ret);
	if (dsn && dr->dsn_envid && *dr->dsn_envid) {
		smtp_printf(st, " ENVID=");
		put_xtext(st, dr->dsn_envid);
	}
	smtp_put(st, "\r\n", 2);
	if (!pipelining) {
		if (smtp_flush(st, smtp_conf.mail_timeout) < 0
		    || smtp_read_reply(st, &r, smtp_conf.mail_timeout) < 0) {
			io_error(dv, s, "sending MAIL FROM");
			goto out;
		}
		if (r.code / 100 != 2) {
			all_result(dv, s, NULL, &r, "MAIL FROM command");
			ret = r.code >= 400 && r.code < 600 ? 0 : -1;
			goto rset;
		}
		mail_ok = 1;
	}
	/* RCPT TO, each. */
	for (int i = 0; i < dr->rcpt_count; i++) {
		struct deliver_rcpt *rc = &dr->rcpt[i];

		if (!pending(dv, i))
			continue;
		sent_rcpt[i] = 1;
		smtp_printf(st, "RCPT TO:<%s>", dv->env_rcpt && dv->env_rcpt[i]
		    ? dv->env_rcpt[i] : rc->address);
		if (dsn && rc->dsn_notify) {
			const char *sep = "";

			smtp_printf(st, " NOTIFY=");
			if (rc->dsn_notify & DSN_NOTIFY_NEVER) {
				smtp_printf(st, "NEVER");
			} else {
				if (rc->dsn_notify & DSN_NOTIFY_SUCCESS) {
					smtp_printf(st, "%sSUCCESS", sep);
					sep = ",";
				}
				if (rc->dsn_notify & DSN_NOTIFY_FAILURE) {
					smtp_printf(st, "%sFAILURE", sep);
					sep = ",";
				}
				if (rc->dsn_notify & DSN_NOTIFY_DELAY)
					smtp_printf(st, "%sDELAY", sep);
			}
		}
		if (dsn && rc->orig_rcpt && *rc->orig_rcpt) {
			smtp_printf(st, " ORCPT=rfc822;");
			put_xtext(st, rc->orig_rcpt);
		}
		smtp_put(st, "\r\n", 2);
		if (!pipelining) {
			if (smtp_flush(st, smtp_conf.rcpt_timeout) < 0
			    || smtp_read_reply(st, &r, smtp_conf.rcpt_timeout) < 0) {
				io_error(dv, s, "sending RCPT TO");
				goto out;
			}
			if (r.code / 100 == 2) {
				accepted[i] = 1;
				naccepted++;
				probe_result(dv, s, i, &r);
			} else {
				rcpt_result(dv, s, i, &r, "RCPT TO command");
			}
		}
	}
	if (pipelining) {
		if (!dr->verify)
			smtp_put(st, "DATA\r\n", 6);
		if (smtp_flush(st, smtp_conf.mail_timeout) < 0
		    || smtp_read_reply(st, &r, smtp_conf.mail_timeout) < 0) {
			io_error(dv, s, "receiving the MAIL FROM reply");
			goto out;
		}
		if (r.code / 100 == 2)
			mail_ok = 1;
		else
			all_result(dv, s, sent_rcpt, &r, "MAIL FROM command");
		for (int i = 0; i < dr->rcpt_count; i++) {
			if (!sent_rcpt[i])
				continue;
			if (smtp_read_reply(st, &r, smtp_conf.rcpt_timeout) < 0) {
				io_error(dv, s, "receiving the RCPT TO reply");
				goto out;
			}
			if (!mail_ok)
				continue;
			if (r.code / 100 == 2) {
				accepted[i] = 1;
				naccepted++;
				probe_result(dv, s, i, &r);
			} else {
				rcpt_result(dv, s, i, &r, "RCPT TO command");
			}
		}
		if (dr->verify) {
			ret = 0;
			goto rset;
		}
		if (smtp_read_reply(st, &r, smtp_conf.data_init_timeout) < 0) {
			io_error(dv, s, "receiving the DATA reply");
			goto out;
		}
		if (r.code == 354) {
			if (naccepted == 0) {
				/* The server took DATA without recipients: end it
				 * with an empty message it must refuse. */
				smtp_put(st, ".\r\n", 3);
				if (smtp_flush(st, smtp_conf.data_done_timeout) < 0
				    || smtp_read_reply(st, &r, smtp_conf.data_done_timeout) < 0)
					goto out;
				ret = 0;
				goto rset;
			}
			data_ok = 1;
		} else if (naccepted > 0) {
			all_result(dv, s, accepted, &r, "DATA command");
			ret = 0;
			goto rset;
		}
	} else if (dr->verify) {
		ret = 0;
		goto rset;
	} else if (naccepted > 0) {
		smtp_put(st, "DATA\r\n", 6);
		if (smtp_flush(st, smtp_conf.data_init_timeout) < 0
		    || smtp_read_reply(st, &r, smtp_conf.data_init_timeout) < 0) {
			io_error(dv, s, "sending DATA command");
			goto out;
		}
		if (r.code != 354) {
			all_result(dv, s, accepted, &r, "DATA command");
			ret = 0;
			goto rset;
		}
		data_ok = 1;
	}
	if (!mail_ok || naccepted == 0 || !data_ok) {
		ret = 0;
		goto rset;
	}
	/* The message. */
	{
		int rc = send_content(dv, s->stream);

		if (rc == -2) {
			for (int i = 0; i < dr->rcpt_count; i++)
				if (accepted[i] && pending(dv, i))
					smtp_status(dv->req, i, "4.3.0", "deferred",
					    s->host_label, "error reading queue file: %s",
					    strerror(errno));
			goto out;
		}
		if (rc < 0) {
			io_error(dv, s, "sending message body");
			goto out;
		}
	}
	/* After the ".": a failure here leaves the outcome unknown -- the
	 * recipients are deferred (never tried at another server). */
	if (smtp_conf.lmtp) {
		for (int i = 0; i < dr->rcpt_count; i++) {
			if (!accepted[i])
				continue;
			if (smtp_read_reply(st, &r, smtp_conf.data_done_timeout) < 0) {
				io_error(dv, s, "sending end of data -- message may be sent more than once");
				dv->final = 1;
				goto out;
			}
			if (r.code / 100 == 2)
				smtp_status(dv->req, i, r.dsn, "sent", s->host_label,
				    "%s", buf_str(r.text));
			else
				rcpt_result(dv, s, i, &r, "end of DATA command");
		}
	} else {
		if (smtp_read_reply(st, &r, smtp_conf.data_done_timeout) < 0) {
			io_error(dv, s, "sending end of data -- message may be sent more than once");
			dv->final = 1;
			goto out;
		}
		for (int i = 0; i < dr->rcpt_count; i++) {
			if (!accepted[i])
				continue;
			if (r.code / 100 == 2)
				smtp_status(dv->req, i, r.dsn, "sent", s->host_label,
				    "%s", buf_str(r.text));
			else
				rcpt_result(dv, s, i, &r, "end of DATA command");
		}
	}
	ret = 0;
	goto out;
rset:
	/* The transaction did not end with a message: reset it, so that the
	 * session can be used again. */
	smtp_put(st, "RSET\r\n", 6);
	if (smtp_flush(st, smtp_conf.rset_timeout) < 0
	    || smtp_read_reply(st, &r, smtp_conf.rset_timeout) < 0 || r.code / 100 != 2)
		ret = -1;
out:
	if (ret < 0 && s->stream->err == 0)
		s->stream->err = EPROTO;
	free(sent_rcpt);
	free(accepted);
	buf_free(&r.text);
	return ret;
}

/* ehlo - EHLO (HELO, LHLO) and the features of the reply; -1 with
 * dv->le set. */
static int
ehlo(struct deliv *dv, struct smtp_session *s, struct smtp_reply *rp,
    int *loop_r, int *greeted_r)
{
	struct smtp_stream *st = s->stream;
	const char *label = s->host_label, *peer = s->peer;
	int ehlo_ok = 0;
#define r (*rp)
	for (int tries = 0; tries < 2 && !ehlo_ok; tries++) {
		const char *verb = smtp_conf.lmtp ? "LHLO" : tries == 0 ? "EHLO" : "HELO";

		smtp_printf(st, "%s %s\r\n", verb, smtp_conf.helo_name);
		if (smtp_flush(st, smtp_conf.helo_timeout) < 0
		    || smtp_read_reply(st, &r, smtp_conf.helo_timeout) < 0) {
			io_error(dv, s, tries == 0 ? "performing the EHLO handshake"
			    : "performing the HELO handshake");
			return -1;
		}
		if (r.code / 100 == 2) {
			ehlo_ok = 1;
			if (tries == 0)
				s->features |= SMTP_FEATURE_ESMTP;
		} else if (smtp_conf.lmtp || r.code < 500) {
			last_error_set(&dv->le, r.dsn, label,
			    "host %s refused to talk to me: %s", peer, buf_str(r.text));
			if (r.code >= 500)
				*greeted_r = -1;
			return -1;
		}
	}
	if (!ehlo_ok) {
		last_error_set(&dv->le, r.dsn, label,
		    "host %s refused to talk to me: %s (in reply to HELO command)",
		    peer, buf_str(r.text));
		*greeted_r = -1;
		return -1;
	}
	/* The reply's lines: "250-name greets", "250-PIPELINING", ... */
	{
		char *copy = xstrdup(buf_str(r.lines)), *cp = copy, *ln;
		int first = 1;

		while ((ln = mystrtok(&cp, "\n")) != NULL) {
			char *rest, *kw;

			if (strlen(ln) < 4)
				continue;
			rest = ln + 4;
			if ((kw = mystrtok(&rest, " ")) == NULL)
				continue;
			if (first) {
				/* The server's name: ours means a loop. */
				if (strcasecmp(kw, var_myhostname) == 0 && !smtp_conf.lmtp)
					*loop_r = 1;
				first = 0;
			} else if (strcasecmp(kw, "PIPELINING") == 0) {
				s->features |= SMTP_FEATURE_PIPELINING;
			} else if (strcasecmp(kw, "8BITMIME") == 0) {
				s->features |= SMTP_FEATURE_8BITMIME;
			} else if (strcasecmp(kw, "DSN") == 0) {
				s->features |= SMTP_FEATURE_DSN;
			} else if (strcasecmp(kw, "STARTTLS") == 0) {
				s->features |= SMTP_FEATURE_STARTTLS;
			} else if (strcasecmp(kw, "AUTH") == 0) {
				smtp_sasl_helo_auth(s, "", rest);
			} else if (strncasecmp(kw, "AUTH=", 5) == 0) {
				smtp_sasl_helo_auth(s, kw + 5, rest);
			} else if (strcasecmp(kw, "SMTPUTF8") == 0) {
				s->features |= SMTP_FEATURE_SMTPUTF8;
			} else if (strcasecmp(kw, "XFORWARD") == 0) {
				s->features |= xforward_features(rest);
			} else if (strcasecmp(kw, "SIZE") == 0) {
				char *num = mystrtok(&rest, " ");
				long n = 0;

				s->features |= SMTP_FEATURE_SIZE;
				if (num && alldig(num) && str_to_long(num, &n) == 0)
					s->size_limit = n;
			}
		}
		free(copy);
	}
#undef r
	if (!(s->features & SMTP_FEATURE_ESMTP))
		s->features = 0;
	return 0;
}

/* session_open - connect, greeting, EHLO/LHLO.  NULL with dv->le set
 * (and *bounce set when the reply must bounce the recipients). */
static struct smtp_session *
session_open(struct deliv *dv, const struct smtp_addr *a, int *loop_r,
    int *greeted_r, int plaintext, int *tls_retry_r)
{
	struct smtp_session *s;
	struct smtp_stream *st;
	struct smtp_reply r;
	char label[300], peer[300];
	struct smtp_tls_policy tls;	/* this server's (DANE: smtp_dane.c) */

	*tls_retry_r = 0;
	*loop_r = 0;
	*greeted_r = 0;
	{
		char why[512];

		if (smtp_dane_policy(&dv->tls, a, &tls, why, sizeof(why)) < 0) {
			last_error_set(&dv->le, "4.7.5", "none", "%s", why);
			return NULL;
		}
	}
	if (a->sa.ss_family == AF_UNIX) {
		/* As Postfix logs it: this host, and the socket. */
		snprintf(label, sizeof(label), "%s[%s]", var_myhostname,
		    a->addr_text);
		strlcpy(peer, label, sizeof(peer));
	} else {
		snprintf(label, sizeof(label), "%s[%s]:%d", a->host, a->addr_text,
		    a->port);
		snprintf(peer, sizeof(peer), "%s[%s]", a->host, a->addr_text);
	}
	if ((st = smtp_connect(a)) == NULL) {
		smtp_dane_done(&tls);
		if (a->sa.ss_family == AF_UNIX)
			last_error_set(&dv->le, "4.4.1", "none", "connect to %s: %s",
			    label, strerror(errno));
		else
			last_error_set(&dv->le, "4.4.1", "none",
			    "connect to %s[%s]:%d: %s", a->host, a->addr_text, a->port,
			    errno == ETIMEDOUT ? "Connection timed out" : strerror(errno));
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->stream = st;
	s->addr = *a;
	s->addr.host = xstrdup(a->host);
	s->host_label = xstrdup(label);
	s->peer = xstrdup(peer);
	s->t_open = smtp_now();
	r.text = buf_new(256, REPLY_TEXT_MAX);
	r.lines = buf_new(256, REPLY_TEXT_MAX);
	if (smtp_tls_wrappermode()) {
		/* Port 465: TLS from the start. */
		char why[512];
		int rc = smtp_tls_start(st, &tls, a->host, dv->domain, label,
		    smtp_conf.helo_timeout, why, sizeof(why));

		if (rc < 0) {
			if (rc == -1)
				msg_info("%s: TLS handshake failed: %s", label, why);
			last_error_set(&dv->le, "4.7.5", label, "%s", rc == -1
			    ? "Cannot start TLS: handshake failure" : why);
			goto fail;
		}
	}
	if (smtp_read_reply(st, &r, smtp_conf.helo_timeout) < 0) {
		io_error(dv, s, "receiving the initial server greeting");
		goto fail;
	}
	if (r.code / 100 != 2) {
		last_error_set(&dv->le, r.dsn, label,
		    "host %s refused to talk to me: %s", peer, buf_str(r.text));
		if (r.code >= 500 && r.code < 600 && (!smtp_conf.skip_5xx_greeting
		    || dv->final))
			*greeted_r = -1;	/* bounce with this reply */
		smtp_put(st, "QUIT\r\n", 6);
		(void)smtp_flush(st, 1);
		goto fail;
	}
	*greeted_r = 1;
	if (ehlo(dv, s, &r, loop_r, greeted_r) < 0)
		goto fail;
	if (tls.level == TLS_LEV_NONE && (s->features & SMTP_FEATURE_STARTTLS)
	    && smtp_tls_note_offer())
		msg_info("Host offered STARTTLS: [%s]", a->host);
	if (!plaintext && st->ssl == NULL && tls.level > TLS_LEV_NONE) {
		int mandatory = tls.level >= TLS_LEV_ENCRYPT, rc;
		char why[512];

		if (!(s->features & SMTP_FEATURE_STARTTLS)) {
			if (mandatory) {
				last_error_set(&dv->le, "4.7.4", label,
				    "TLS is required, but was not offered by host %s",
				    peer);
				smtp_put(st, "QUIT\r\n", 6);
				(void)smtp_flush(st, 1);
				goto fail;
			}
			goto done;
		}
		smtp_put(st, "STARTTLS\r\n", 10);
		if (smtp_flush(st, smtp_conf.helo_timeout) < 0
		    || smtp_read_reply(st, &r, smtp_conf.helo_timeout) < 0) {
			io_error(dv, s, "sending the STARTTLS command");
			goto fail;
		}
		if (r.code / 100 != 2) {
			if (mandatory) {
				last_error_set(&dv->le, r.dsn[0] == '4' ? r.dsn : "4.7.5",
				    label, "TLS is required, but host %s refused to "
				    "start TLS: %s", peer, buf_str(r.text));
				smtp_put(st, "QUIT\r\n", 6);
				(void)smtp_flush(st, 1);
				goto fail;
			}
			goto done;
		}
		rc = smtp_tls_start(st, &tls, a->host, dv->domain, label,
		    smtp_conf.helo_timeout, why, sizeof(why));
		if (rc == -1) {
			msg_info("%s: TLS handshake failed: %s", label, why);
			last_error_set(&dv->le, "4.7.5", label,
			    "Cannot start TLS: handshake failure");
			/* Opportunistic TLS: the same server again, in
			 * plaintext. */
			if (!mandatory)
				*tls_retry_r = 1;
			goto fail;
		}
		if (rc == -2) {
			last_error_set(&dv->le, "4.7.5", label, "%s", why);
			smtp_put(st, "QUIT\r\n", 6);
			(void)smtp_flush(st, 1);
			goto fail;
		}
		/* A new session: what the server offers is asked again. */
		s->features = 0;
		s->size_limit = 0;
		if (ehlo(dv, s, &r, loop_r, greeted_r) < 0)
			goto fail;
	}
done:
	if (!(s->features & SMTP_FEATURE_ESMTP))
		s->features = 0;
	if (dv->cred && (s->features & SMTP_FEATURE_AUTH)) {
		char dsn[16], why[2560];
		int rc = smtp_sasl_authenticate(s, dv->cred, st->ssl != NULL,
		    st->ssl != NULL && dv->tls.level >= TLS_LEV_FINGERPRINT, dsn,
		    sizeof(dsn), why, sizeof(why));

		if (rc == -1) {
			io_error(dv, s, "performing the SASL authentication");
			goto fail;
		}
		if (rc == -2) {
			last_error_set(&dv->le, dsn, label, "%s", why);
			if (dsn[0] == '5')
				*greeted_r = -1;	/* bounce with this reply */
			smtp_put(st, "QUIT\r\n", 6);
			(void)smtp_flush(st, 1);
			goto fail;
		}
	}
	buf_free(&r.text);
	buf_free(&r.lines);
	smtp_dane_done(&tls);
	return s;
fail:
	buf_free(&r.text);
	buf_free(&r.lines);
	smtp_dane_done(&tls);
	smtp_session_close(s, 0);
	return NULL;
}

/* session_key - what a kept session is found by: the next hop and the
 * server ("example.com|mx1.example.com[192.0.2.1]:25"). */
static char *
session_key(const char *nexthop, const struct smtp_addr *a)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", a->port);
	return concatenate(nexthop, "|", a->host, "[", a->addr_text, "]:", port,
	    (char *)0);
}

int
smtp_deliver(struct smtp_request *req, char **reason_r)
{
	struct deliv dv;
	struct deliver_request *dr = req->dr;
	struct smtp_dest *dest = NULL;
	struct smtp_session *s;
	int sessions = 0, feedback = SMTP_DEST_NONE, greeted_any = 0;

	memset(&dv, 0, sizeof(dv));
	dv.req = req;
	dv.dr = dr;
	dv.eight_bit = -1;
	*reason_r = NULL;

	req->t_conn = 0;
	dest = smtp_dest_resolve(dr->nexthop);
	if (dest->count == 0) {
		for (int i = 0; i < dr->rcpt_count; i++)
			if (pending(&dv, i))
				smtp_status(req, i, dest->fail_dsn,
				    dest->fail_bounce ? "bounced" : "deferred", "none",
				    "%s", dest->fail_text);
		if (!dest->fail_bounce) {
			feedback = SMTP_DEST_DEAD;
			*reason_r = xstrdup(dest->fail_text);
		}
		goto done;
	}
	dv.domain = dest->domain;
	{
		char *why = NULL;

		if (smtp_tls_policy_get(dr->nexthop, dest->domain, &dv.tls, &why) < 0) {
			for (int i = 0; i < dr->rcpt_count; i++)
				if (pending(&dv, i))
					smtp_status(req, i, "4.7.5", "deferred", "none", "%s",
					    why);
			free(why);
			goto done;
		}
	}
	last_error_set(&dv.le, "4.4.1", "none", "no server reachable");
	for (int ai = 0, fresh = 0; ai < dest->count && npending(&dv) > 0; ai++) {
		int loop = 0, greeted = 1, before, rc;
		char *key = session_key(dr->nexthop, &dest->addr[ai]);

		smtp_sasl_cred_free(&dv.cred);
		if (smtp_sasl_session_key(dr->sender, &dest->addr[ai], dr->nexthop,
		    &dv.cred, &key) < 0) {
			/* The password table failed (a warning says which):
			 * our trouble, not the destination's. */
			for (int i = 0; i < dr->rcpt_count; i++)
				if (pending(&dv, i))
					smtp_status(req, i, "4.3.0", "deferred", "none",
					    "local data error while talking to %s[%s]",
					    dest->addr[ai].host, dest->addr[ai].addr_text);
			free(key);
			break;
		}
		if (smtp_conf.mx_session_limit > 0
		    && sessions >= smtp_conf.mx_session_limit) {
			free(key);
			break;
		}
		dv.final = (ai == dest->count - 1)
		    || (smtp_conf.mx_session_limit > 0
			&& sessions + 1 >= smtp_conf.mx_session_limit);
		/* A session this process keeps open to this very server
		 * (smtp_connection_cache_*), else a new one. */
		s = fresh ? NULL : smtp_session_take(key);
		if (s == NULL) {
			int retry = 0;

			s = session_open(&dv, &dest->addr[ai], &loop, &greeted, 0,
			    &retry);
			if (s == NULL && retry)
				s = session_open(&dv, &dest->addr[ai], &loop, &greeted, 1,
				    &retry);
			fresh = 0;
		}
		if (greeted != 0)
			sessions++;
		if (s == NULL) {
			if (greeted < 0) {
				/* 5xx greeting at the final server: bounce. */
				for (int i = 0; i < dr->rcpt_count; i++)
					if (pending(&dv, i))
						smtp_status(req, i, dv.le.dsn, "bounced",
						    dv.le.relay, "%s", dv.le.text);
			}
			if (greeted > 0)
				greeted_any = 1;
			free(key);
			continue;
		}
		greeted_any = 1;
		if (loop) {
			for (int i = 0; i < dr->rcpt_count; i++)
				if (pending(&dv, i))
					smtp_status(req, i, "5.4.6", "bounced", s->host_label,
					    "mail for %s loops back to myself", dest->domain);
			smtp_session_close(s, 1);
			free(key);
			break;
		}
		req->t_conn = smtp_now();
		free(s->dest_key);
		s->dest_key = key;
		before = npending(&dv);
		rc = transaction(&dv, s);
		if (rc < 0 && s->reuse > 1 && npending(&dv) == before
		    && s->stream->err != EPROTO) {
			/* The server closed the kept session meanwhile: the same
			 * server again, on a new connection. */
			smtp_session_close(s, 0);
			sessions--;
			fresh = 1;
			ai--;
			continue;
		}
		if (rc == 0 && npending(&dv) == 0)
			smtp_session_keep(s, req->backlog);
		else
			smtp_session_close(s, s->stream->err == 0 || s->stream->err == EPROTO);
		if (dv.final)
			break;
	}
	if (greeted_any)
		feedback = SMTP_DEST_OK;
	/* What is left gets the last soft error. */
	if (npending(&dv) > 0) {
		for (int i = 0; i < dr->rcpt_count; i++)
			if (pending(&dv, i))
				smtp_status(req, i, dv.le.dsn[0] == '4' ? dv.le.dsn : "4.4.1",
				    "deferred", dv.le.relay, "%s", dv.le.text);
		if (!greeted_any) {
			feedback = SMTP_DEST_DEAD;
			*reason_r = xstrdup(dv.le.text);
		}
	}
done:
	smtp_sasl_cred_free(&dv.cred);
	smtp_tls_policy_free(&dv.tls);
	smtp_dest_free(&dest);
	free(dv.le.text);
	buf_free(&dv.mem);
	free_envelope(&dv);
	return feedback;
}

/* SPDX-License-Identifier: MIT */
/* smtpd_data - message content: the Received: header, dot-unstuffing,
 * end-of-data detection, message_size_limit, and the commit.
 *
 * End of data is "." on a line that ends in CR LF, after a line that
 * also ended in CR LF (RFC 5321 4.1.1.4).  A bare LF elsewhere is, per
 * smtpd_forbid_bare_newline: "normalize" accepted as a line end but
 * never part of the terminator; "reject" answered with
 * smtpd_forbid_bare_newline_reject_code (550) and the session closed;
 * "no" (the Postfix 3.7 default) accepted.  In every mode the terminator
 * needs CR LF on both sides.  So "<LF>.<LF>" or "<LF>.<CR><LF>"
 * can never end the message: no SMTP smuggling (CVE-2023-51764). */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg.h"
#include "mymalloc.h"
#include "cleanup.h"
#include "mail_vars.h"
#include "smtpd.h"
#include "smtpd_check.h"

/* rfc5322_date - "Wed, 25 Nov 2026 18:00:00 +0000 (UTC)". */
static void
rfc5322_date(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	char zone[48];
	long off;

	localtime_r(&now, &tm);
	off = tm.tm_gmtoff / 60;
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S ", &tm);
	snprintf(zone, sizeof(zone), "%c%02ld%02ld (%s)", off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60, tm.tm_zone ? tm.tm_zone : "UTC");
	strncat(buf, zone, len - strlen(buf) - 1);
}

void
smtpd_data_begin(struct smtpd_session *s)
{
	char date[80];
	char hdr[3072], tls[1024];
	const char *id = cleanup_queue_id(s->cleanup);
	const char *proto;

	s->state = SMTPD_ST_DATA;
	s->data_deadline = smtpd_now_ms() + smtpd_conf.timeout * 1000;
	s->data_prev_crlf = 1;
	s->data_in_piece = 0;
	s->data_bytes = 0;
	s->data_overflow = 0;
	s->data_status = 0;
	rfc5322_date(date, sizeof(date));
	/* RFC 3848: ESMTPA / ESMTPSA for a client that logged in. */
	if (s->sasl_username)
		proto = s->esmtp ? (s->tls ? "ESMTPSA" : "ESMTPA")
		    : (s->tls ? "SMTPS" : "SMTP");
	else
		proto = s->esmtp ? (s->tls ? "ESMTPS" : "ESMTP")
		    : (s->tls ? "SMTPS" : "SMTP");
	if (s->tls && s->tls_info && var_smtpd_tls_received_header)
		snprintf(tls, sizeof(tls), "\n\t(using %s)\n\t%s", s->tls_info,
		    smtpd_tls_ccert_comment(s));
	else
		tls[0] = 0;
	/* smtpd_sasl_authenticated_header: the login name, for all to see. */
	if (s->sasl_username && var_smtpd_sasl_authenticated_header)
		snprintf(tls + strlen(tls), sizeof(tls) - strlen(tls),
		    "\n\t(Authenticated sender: %.256s)", s->sasl_username);
	if (s->rcpt_count == 1 && s->first_rcpt)
		snprintf(hdr, sizeof(hdr),
		    "Received: from %s (%s [%s])%s\n\tby %s (%s) with %s id %s\n\tfor <%s>; %s",
		    s->helo ? s->helo : s->name, s->name, s->addr, tls,
		    smtpd_conf.myhostname, smtpd_conf.mail_name, proto,
		    id ? id : "unknown", s->first_rcpt, date);
	else
		snprintf(hdr, sizeof(hdr),
		    "Received: from %s (%s [%s])%s\n\tby %s (%s) with %s id %s;\n\t%s",
		    s->helo ? s->helo : s->name, s->name, s->addr, tls,
		    smtpd_conf.myhostname, smtpd_conf.mail_name, proto,
		    id ? id : "unknown", date);
	cleanup_prepend_header(s->cleanup, hdr);
}

/* Commit on the pool: cleanup_finish blocks on fsync. */
static void
commit_work(void *ctx)
{
	struct smtpd_session *s = ctx;
	const char *id = NULL, *reply = NULL;

	s->commit_status = cleanup_finish(s->cleanup, &id, &reply);
	s->commit_id = id;
	s->commit_reply = cleanup_smtp_reply(s->commit_status, id, reply);
}

static void
commit_done(void *ctx)
{
	struct smtpd_session *s = ctx;

	s->in_pool = 0;
	if (s->dead) {
		/* The client left during the commit: the message is queued
		 * (or not) all the same; nothing to tell anyone. */
		s->dead = 0;
		smtpd_close(s);
		return;
	}
	s->verb_total[SMTPD_V_DATA]++;
	if (s->commit_status == CLEANUP_STAT_OK) {
		s->verb_ok[SMTPD_V_DATA]++;
		s->junk_cmds = 0;	/* smtpd_junk_command_limit: reset */
	} else
		s->errors++;
	smtpd_reply(s, "%s", s->commit_reply);
	smtpd_reset_transaction(s);
	s->state = SMTPD_ST_CMD;
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process_input(s);
}

/* commit - queue the message on the pool (cleanup_finish syncs).  What
 * may look up tables (the last headers' checks and rewriting) runs here,
 * on the loop's thread (in the end-of-data task), never on the pool:
 * the map layer and the lookup-service client are single-threaded. */
static void
commit(struct smtpd_session *s)
{
	cleanup_end_content(s->cleanup);
	s->state = SMTPD_ST_COMMIT;
	s->in_pool = 1;
	evtimer_del(s->timer);
	bufferevent_disable(s->bev, EV_READ);
	smtpd_pool_run(commit_work, commit_done, s);
}

/* eod_task - smtpd_end_of_data_restrictions (in a task: they may wait):
 * queue the message, or refuse it (the queue file goes away) and read
 * the next command. */
static void
eod_task(struct smtpd_session *s, void *ctx)
{
	struct smtpd_check_session cs;
	struct smtpd_check_reply r = {0};
	char *milter_reply = NULL;

	(void)ctx;
	smtpd_fill_check(s, &cs);
	if (smtpd_check_eod(&cs, &r) == 0) {
		if (r.hold)
			cleanup_add_flags(s->cleanup, CLEANUP_FLAG_HOLD);
		if (r.discard)
			cleanup_add_flags(s->cleanup, CLEANUP_FLAG_DISCARD);
		if (r.redirect)
			cleanup_set_redirect(s->cleanup, r.redirect);
		for (int i = 0; i < r.nbcc; i++)
			cleanup_add_bcc(s->cleanup, r.bcc[i]);
		smtpd_check_reply_free(&r);
		/* smtpd_milters: their verdict and changes, before the commit. */
		if (smtpd_milter_eom(s, &milter_reply) == 0) {
			commit(s);
			return;
		}
		s->verb_total[SMTPD_V_DATA]++;
		s->errors++;
		smtpd_reset_transaction(s);
		s->state = SMTPD_ST_CMD;
		smtpd_reply(s, "%s", milter_reply);
		if (strncmp(milter_reply, "421", 3) == 0
		    || strncmp(milter_reply, "521", 3) == 0)
			smtpd_close_after_reply(s);
		free(milter_reply);
		return;
	}
	s->verb_total[SMTPD_V_DATA]++;
	s->errors++;
	smtpd_reset_transaction(s);
	s->state = SMTPD_ST_CMD;
	if (r.hangup) {
		smtpd_check_reply_free(&r);
		smtpd_hangup(s);
		return;
	}
	smtpd_reply(s, "%d %s %s", r.code, r.dsn, r.text ? r.text : "Error");
	smtpd_check_reply_free(&r);
}

static void
data_end(struct smtpd_session *s)
{
	if (s->data_overflow) {
		s->verb_total[SMTPD_V_DATA]++;
		msg_info("NOQUEUE: reject: DATA from %s[%s]: 552 5.3.4 Message size exceeds fixed limit; from=<%s> proto=%s helo=<%s>",
		    s->name, s->addr, s->sender ? s->sender : "",
		    s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "");
		smtpd_reply(s, "552 5.3.4 Error: message file too big");
		smtpd_reset_transaction(s);
		s->state = SMTPD_ST_CMD;
		return;
	}
	if (s->data_status == 0) {
		smtpd_task(s, eod_task, NULL);
		return;
	}
	commit(s);
}

/* data_count - message_size_limit over what was received. */
static int
data_count(struct smtpd_session *s, size_t n)
{
	s->data_bytes += (long)n;
	if (smtpd_conf.size_limit > 0 && s->data_bytes > smtpd_conf.size_limit)
		s->data_overflow = 1;
	return !s->data_overflow && !s->data_status;
}

void
smtpd_data_piece(struct smtpd_session *s, char *piece, size_t len)
{
	int first = !s->data_in_piece;

	s->data_in_piece = 1;
	if (first && len > 0 && piece[0] == '.') {
		piece++;
		len--;
	}
	if (data_count(s, len))
		s->data_status = cleanup_line_piece(s->cleanup, piece, len, first,
		    0);
}

void
smtpd_data_line(struct smtpd_session *s, char *line, size_t len, int crlf)
{
	int prev_crlf = s->data_prev_crlf;
	int piece_end = s->data_in_piece;

	s->data_prev_crlf = crlf;
	s->data_in_piece = 0;
	if (!crlf) {
		s->data_bare_lf = 1;
		if (smtpd_conf.forbid_bare_lf == 2) {
			msg_info("disconnect: bare <LF> received from %s[%s] after DATA",
			    s->name, s->addr);
			smtpd_reply(s, "%d 5.5.2 %s Error: bare <LF> received",
			    smtpd_conf.bare_lf_code, smtpd_conf.myhostname);
			smtpd_close_after_reply(s);
			return;
		}
	}
	if (piece_end) {
		/* The end of a long line: no terminator, no dot to remove. */
		if (data_count(s, len + 1))
			s->data_status = cleanup_line_piece(s->cleanup, line, len,
			    0, 1);
		return;
	}
	if (len == 1 && line[0] == '.' && crlf && prev_crlf) {
		data_end(s);
		return;
	}
	if (line[0] == '.') {
		line++;
		len--;
	}
	if (data_count(s, len + 1))
		s->data_status = cleanup_line(s->cleanup, line, len);
}

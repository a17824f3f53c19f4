/* SPDX-License-Identifier: MIT */
/* pickup_milter - non_smtpd_milters: the milter protocol client
 * (core/milter) for mail submitted with sendmail, as Postfix's cleanup
 * applies them to non-SMTP mail.
 *
 * There is no SMTP session, so one is simulated per message (as
 * Postfix, checked against Debian's Postfix 3.7): a connect from
 * "localhost", 127.0.0.1 port 0, EHLO "localhost", MAIL FROM with the
 * envelope sender (no angle brackets, no ESMTP parameters), one RCPT
 * per recipient as submitted, DATA; then the content as queued (without
 * the Received: header pickup adds, which milters do not see) and the
 * end of message, whose changes go to the queue file like smtpd's.
 *
 * Results, as Postfix's cleanup for pickup:
 *   reject (5XX)   the message is not queued and goes back to its
 *                  sender (pickup bounces it, as any refused local
 *                  submission);
 *   tempfail (4XX) the message stays in maildrop/ for the next scan;
 *   a refused recipient  a configuration error (milters must not refuse
 *                  simulated recipients): logged, the message stays in
 *                  maildrop/;
 *   discard        the message is accepted and dropped;
 *   quarantine     the message is queued on hold.
 * A milter that is down or breaks the protocol: its default_action, as
 * above (tempfail by default, so the mail waits in maildrop/).
 *
 * Macros: j, v, {daemon_name} come from core/milter; this file answers
 * _ ("localhost [127.0.0.1]"), {daemon_addr}, {client_addr} (127.0.0.1),
 * {client_name}, {client_ptr} (localhost), i, {mail_addr},
 * {rcpt_addr}.  No {mail_host}/{rcpt_host}/... (smtpd_milters only, as
 * Postfix), no SASL or TLS macros.
 *
 * Logs (as cleanup, Postfix's lines): "ID: milter-reject: STAGE from
 * localhost[127.0.0.1]: 5.7.1 Command rejected; from=<S> to=<R>",
 * milter-discard and milter-hold with "milter triggers DISCARD action"
 * and "milter triggers HOLD action", and for a refused recipient
 * "warning: ID: milter configuration error: can't reject recipient in
 * non-smtpd(8) submission" then "warning: ID: message not accepted, try
 * again later". */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "mail_vars.h"
#include "milter.h"
#include "msg.h"
#include "mymalloc.h"
#include "pickup_milter.h"

#define FAKE_NAME	"localhost"
#define FAKE_ADDR	"127.0.0.1"

static struct milter_list *milter_list;
static struct event_base *milter_base;

/* pickup_milter - one message's simulated session. */
struct pickup_milter {
	struct milters *ms;
	struct cleanup_state *st;
	const char *sender;		/* the caller's, as submitted */
	const char *rcpt;		/* the last RCPT so far (the caller's) */
	int discard;			/* a milter said discard */
};

void
pickup_milter_init(int cleanup_flags, struct event_base *base)
{
	char *err = NULL;

	milter_list_free(&milter_list);
	milter_base = base;
	if ((cleanup_flags & CLEANUP_FLAG_MILTER) == 0 || *var_non_smtpd_milters == 0)
		return;
	if ((milter_list = milter_list_parse(var_non_smtpd_milters,
	    "non_smtpd_milters", &err)) == NULL)
		msg_fatal("%s", err);
	if (milter_list_count(milter_list) == 0)
		milter_list_free(&milter_list);
}

/* macro - a Sendmail macro's value for the simulated session. */
static const char *
macro(void *ctx, const char *name)
{
	struct pickup_milter *pm = ctx;

	if (strcmp(name, "_") == 0)
		return FAKE_NAME " [" FAKE_ADDR "]";
	if (strcmp(name, "{daemon_addr}") == 0
	    || strcmp(name, "{client_addr}") == 0)
		return FAKE_ADDR;
	if (strcmp(name, "{client_name}") == 0
	    || strcmp(name, "{client_ptr}") == 0)
		return FAKE_NAME;
	if (strcmp(name, "i") == 0)
		return cleanup_queue_id(pm->st);
	if (strcmp(name, "{mail_addr}") == 0)
		return pm->sender;
	if (strcmp(name, "{rcpt_addr}") == 0)
		return pm->rcpt;
	return NULL;
}

/* log_act - Postfix cleanup's "ID: milter-ACTION: STAGE from
 * localhost[127.0.0.1]: text; from=<S> to=<R>" line; to= is the last
 * recipient the milters heard of (none before RCPT). */
static void
log_act(struct pickup_milter *pm, const char *action, const char *stage,
    const char *text)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);

	buf_printf(b, "%s: milter-%s: %s from " FAKE_NAME "[" FAKE_ADDR "]: %s;",
	    cleanup_queue_id(pm->st), action, stage, text);
	buf_printf(b, " from=<%s>", pm->sender);
	if (pm->rcpt != NULL)
		buf_printf(b, " to=<%s>", pm->rcpt);
	msg_info_as("cleanup", "%s", buf_str(b));
	buf_free(&b);
}

/* verdict - act on a stage's result: 0 go on (discard and hold are
 * noted in the message), -1 refused with *reply_r. */
static int
verdict(struct pickup_milter *pm, const char *reply, const char *stage,
    char **reply_r)
{
	if (reply == NULL)
		return 0;
	if (*reply == 'D') {
		pm->discard = 1;
		cleanup_add_flags(pm->st, CLEANUP_FLAG_DISCARD);
		log_act(pm, "discard", stage, "milter triggers DISCARD action");
		return 0;
	}
	if (*reply == 'H') {
		cleanup_add_flags(pm->st, CLEANUP_FLAG_HOLD);
		log_act(pm, "hold", stage, "milter triggers HOLD action");
		return 0;
	}
	/* The log line has the reply without its code, as Postfix's. */
	log_act(pm, "reject", stage, strlen(reply) > 4 ? reply + 4 : reply);
	*reply_r = xstrdup(reply);
	return -1;
}

int
pickup_milter_envelope(struct pickup_milter **pmp, struct cleanup_state *st,
    const char *sender, char *const *rcpt, int rcpt_count, char **reply_r)
{
	struct pickup_milter *pm;
	const char *argv[2] = {NULL, NULL};
	const char *reply;

	*pmp = NULL;
	*reply_r = NULL;
	if (milter_list == NULL)
		return 0;
	pm = *pmp = xcalloc(1, sizeof(*pm));
	pm->st = st;
	pm->sender = sender;
	pm->ms = milters_new(milter_list, milter_base, macro, pm);

	reply = milters_connect(pm->ms, FAKE_NAME, '4', FAKE_ADDR, 0);
	if (verdict(pm, reply, "CONNECT", reply_r) < 0)
		return -1;
	reply = milters_helo(pm->ms, FAKE_NAME);
	if (verdict(pm, reply, "EHLO", reply_r) < 0)
		return -1;
	argv[0] = sender;
	reply = milters_mail(pm->ms, argv);
	if (verdict(pm, reply, "MAIL", reply_r) < 0)
		goto refused;
	for (int i = 0; i < rcpt_count; i++) {
		pm->rcpt = rcpt[i];
		argv[0] = rcpt[i];
		reply = milters_rcpt(pm->ms, argv);
		if (reply != NULL && (*reply == '4' || *reply == '5')) {
			/* Postfix: a simulated recipient must not be refused;
			 * the mail waits until the milter is fixed. */
			log_act(pm, "reject", "RCPT", strlen(reply) > 4 ?
			    reply + 4 : reply);
			msg_warn_as("cleanup", "%s: milter configuration error: "
			    "can't reject recipient in non-smtpd(8) submission",
			    cleanup_queue_id(st));
			msg_warn_as("cleanup", "%s: message not accepted, try "
			    "again later", cleanup_queue_id(st));
			*reply_r = xstrdup("451 4.3.0 milter configuration error: "
			    "recipient refused");
			goto refused;
		}
		if (verdict(pm, reply, "RCPT", reply_r) < 0)
			goto refused;
	}
	reply = milters_data(pm->ms);
	if (verdict(pm, reply, "DATA", reply_r) < 0)
		goto refused;
	return 0;

refused:
	milters_abort(pm->ms);
	return -1;
}

int
pickup_milter_content(struct pickup_milter *pm, char **reply_r)
{
	static const struct milter_edit_ops ops = {
		.chg_from = cleanup_milter_chg_from,
		.add_rcpt = cleanup_milter_add_rcpt,
		.del_rcpt = cleanup_milter_del_rcpt,
		.header_check = cleanup_milter_header,
	};
	char *content, *changed = NULL, *hold = NULL;
	size_t len, changed_len = 0;
	const char *reply;
	int rc;

	*reply_r = NULL;
	if (pm == NULL)
		return 0;
	if (pm->discard) {
		/* Dropped anyway: nothing for the milters to look at. */
		milters_abort(pm->ms);
		return 0;
	}
	cleanup_end_content(pm->st);
	if (cleanup_content_copy(pm->st, &content, &len) < 0) {
		/* Refused or failed already: cleanup_finish says why. */
		milters_abort(pm->ms);
		return 0;
	}
	reply = milters_message(pm->ms, content, len, 1, &ops, pm->st, &changed,
	    &changed_len, &hold);
	free(content);
	rc = verdict(pm, reply, "END-OF-MESSAGE", reply_r);
	if (rc == 0 && hold != NULL)
		(void)verdict(pm, "H", "END-OF-MESSAGE", reply_r);
	if (rc == 0 && !pm->discard && changed != NULL)
		cleanup_replace_content(pm->st, changed, changed_len);
	free(changed);
	free(hold);
	return rc;
}

void
pickup_milter_free(struct pickup_milter **pmp)
{
	struct pickup_milter *pm = *pmp;

	if (pm == NULL)
		return;
	milters_free(&pm->ms);
	free(pm);
	*pmp = NULL;
}

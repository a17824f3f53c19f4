/* SPDX-License-Identifier: MIT */
/* smtp_hbc - smtp_header_checks, smtp_mime_header_checks,
 * smtp_nested_header_checks and smtp_body_checks (lmtp_* for lmtp):
 * header_checks(5) applied to the message as it is sent, with the
 * actions that change neither its destination nor its delivery time
 * (IGNORE, STRIP, REPLACE, PREPEND, WARN, INFO, DUNNO).  The others are
 * logged as unsupported and ignored, as Postfix does.  A table that
 * cannot be read defers the delivery: nothing goes out uninspected.
 *
 * The message (queue form: LF-terminated lines) is read through the
 * shared walker (core/mail/hbc.c), which classes headers as cleanup
 * does, into a new copy that smtp_proto.c sends. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hbc.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "stringops.h"

static struct hbc_maps smtp_hbc;

void
smtp_hbc_init(void)
{
	int l = smtp_conf.lmtp;
	const char *const params[4] = {
		l ? MAIL_PARAM_NAME(lmtp_header_checks)
		    : MAIL_PARAM_NAME(smtp_header_checks),
		l ? MAIL_PARAM_NAME(lmtp_mime_header_checks)
		    : MAIL_PARAM_NAME(smtp_mime_header_checks),
		l ? MAIL_PARAM_NAME(lmtp_nested_header_checks)
		    : MAIL_PARAM_NAME(smtp_nested_header_checks),
		l ? MAIL_PARAM_NAME(lmtp_body_checks)
		    : MAIL_PARAM_NAME(smtp_body_checks),
	};
	const char *const values[4] = {
		l ? var_lmtp_header_checks : var_smtp_header_checks,
		l ? var_lmtp_mime_header_checks : var_smtp_mime_header_checks,
		l ? var_lmtp_nested_header_checks : var_smtp_nested_header_checks,
		l ? var_lmtp_body_checks : var_smtp_body_checks,
	};

	hbc_maps_close(&smtp_hbc);
	hbc_maps_open(&smtp_hbc, params, values);
}

int
smtp_hbc_active(void)
{
	return hbc_maps_any(&smtp_hbc) || smtp_generic_active();
}

/* One message on its way through the checks. */
struct hbc_run {
	const char *queue_id;
	struct buf *out;
	char *why;			/* a table failed: the reason */
};

/* emit - a line as it is to be sent; a primary header with its
 * addresses through smtp_generic_maps. */
static void
emit(struct hbc_run *run, int idx, const char *text, size_t len)
{
	char *mapped = NULL;
	int fail = 0;

	if (idx == HBC_HEADER && run->why == NULL && smtp_generic_active()) {
		char *copy = xstrndup(text, len);

		mapped = smtp_generic_header(copy, &fail);
		free(copy);
		if (fail)
			run->why = xstrdup("smtp_generic_maps lookup failure");
	}
	if (mapped != NULL) {
		buf_puts(run->out, mapped);
		free(mapped);
	} else {
		buf_append(run->out, text, len);
	}
	buf_putc(run->out, '\n');
}

/* check - one header or body line: look it up, log, and write what is
 * to be sent. */
static void
check(struct hbc_run *run, int idx, const char *what, const char *text,
    size_t len)
{
	struct hbc_result r;

	if (run->why != NULL) {
		emit(run, idx, text, len);
		return;
	}
	hbc_check(&smtp_hbc, idx, text, idx != HBC_BODY, &r);
	if (r.act == HBC_TEMPFAIL) {
		msg_warn("%s: %s", run->queue_id, r.problem);
		run->why = xstrdup(r.problem);
	} else if (r.problem != NULL) {
		msg_warn("%s", r.problem);
	}
	if (r.log_action != NULL)
		msg_info("%s: %s: %s %.200s%s%s", run->queue_id, r.log_action,
		    what, text, *r.log_text ? ": " : "", r.log_text);
	switch (r.act) {
	case HBC_DROP:
		break;
	case HBC_PREPEND:
		emit(run, idx, r.text, strlen(r.text));
		/* FALLTHROUGH */
	case HBC_KEEP:
	case HBC_TEMPFAIL:
		emit(run, idx, text, len);
		break;
	case HBC_REPLACE:
		emit(run, idx, r.text, strlen(r.text));
		break;
	}
	hbc_result_free(&r);
}

static void
on_header(void *ctx, enum hbc_class cls, const char *text, size_t len)
{
	check(ctx, (int)cls, "header", text, len);
}

static void
on_body(void *ctx, const char *line, size_t len)
{
	check(ctx, HBC_BODY, "body", line, len);
}

int
smtp_hbc_apply(const char *msg, size_t len, const char *queue_id,
    struct buf **out_r, char **why_r)
{
	struct hbc_run run = {queue_id, buf_new(len + 256, BUF_NOLIMIT), NULL};
	struct hbc_walk w;
	size_t pos = 0;

	hbc_walk_init(&w, var_disable_mime_input_processing, on_header, on_body,
	    &run);
	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (msg + pos)) : len - pos;

		hbc_walk_line(&w, msg + pos, n);
		pos += n + (nl != NULL);
	}
	hbc_walk_end(&w);
	*why_r = run.why;
	if (run.why != NULL) {
		buf_free(&run.out);
		return -1;
	}
	*out_r = run.out;
	return 0;
}

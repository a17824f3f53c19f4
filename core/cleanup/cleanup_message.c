/* SPDX-License-Identifier: MIT */
/* cleanup_message - message content for the cleanup library: primary
 * header parsing (a logical header is its first line plus the following
 * lines that start with SP or TAB, joined with "\n"), header_checks on
 * each logical header (one longer than header_size_limit is cut there,
 * never split into a header and a body line), the removal of Bcc: and
 * Resent-Bcc: from local submissions, message_drop_headers (after
 * header_checks, for every message), body_checks on each body line (up to
 * body_checks_size_limit bytes of body), the hop count, and the missing
 * Message-Id/Date/From/To headers.
 *
 * The MIME structure (mime_parse.h) decides each header's table, as in
 * Postfix: primary headers to header_checks, primary MIME headers and
 * every body part header to mime_header_checks, the other headers of an
 * attached message to nested_header_checks.  Part and attached headers
 * are written as they came (after their checks), never rewritten, and
 * are not body lines for body_checks.
 *
 * Actions (header_checks(5)): REJECT, WARN, INFO, HOLD, DISCARD, IGNORE,
 * STRIP, REPLACE, PREPEND, REDIRECT, BCC, FILTER (cleanup_set_filter),
 * DUNNO, OK.  The first table in a list that matches decides; a table error
 * defers the message.  Checks stop once the message is refused. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup_private.h"
#include "mymalloc.h"
#include "stringops.h"

enum cleanup_act {
	ACT_KEEP,
	ACT_DROP,
	ACT_REPLACE,
	ACT_PREPEND,
};

#define header_name_len mime_parse_header_name_len

/* hdr_is - is the header text's name equal to name (any case)? */
static int
hdr_is(const char *text, size_t nlen, const char *name)
{
	return strlen(name) == nlen && strncasecmp(text, name, nlen) == 0;
}

static const struct {
	const char *name;
	int bit;
} cleanup_hdr_bits[] = {
	{"message-id", CLEANUP_HDR_MESSAGE_ID},
	{"date", CLEANUP_HDR_DATE},
	{"from", CLEANUP_HDR_FROM},
	{"to", CLEANUP_HDR_TO},
	{"cc", CLEANUP_HDR_CC},
	{"bcc", CLEANUP_HDR_BCC},
	{"resent-message-id", CLEANUP_HDR_RESENT_MESSAGE_ID},
	{"resent-date", CLEANUP_HDR_RESENT_DATE},
	{"resent-from", CLEANUP_HDR_RESENT_FROM},
	{"resent-to", CLEANUP_HDR_RESENT_TO},
	{"resent-cc", CLEANUP_HDR_RESENT_CC},
	{"resent-bcc", CLEANUP_HDR_RESENT_BCC},
};

/* log_message_id - "ID: message-id=VALUE" (printable form). */
static void
log_message_id(struct cleanup_state *st, const char *label, const char *value)
{
	struct buf *b = buf_new(128, BUF_NOLIMIT);

	value = skipblanks(value);
	for (const char *cp = value; *cp; cp++) {
		unsigned char c = (unsigned char)*cp;

		if (c == '\n')
			continue;
		buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : c);
	}
	cleanup_log(st, "%s: %s=%s", st->queue_id, label, trimblanks(b->data));
	buf_free(&b);
}

/* output_header - write one logical header and note what it is. */
static void
output_header(struct cleanup_state *st, const char *text)
{
	size_t nlen = header_name_len(text, strlen(text));

	if (nlen > 0) {
		for (size_t i = 0; i < sizeof(cleanup_hdr_bits) / sizeof(cleanup_hdr_bits[0]); i++)
			if (hdr_is(text, nlen, cleanup_hdr_bits[i].name))
				st->headers_seen |= cleanup_hdr_bits[i].bit;
		if (nlen > 7 && strncasecmp(text, "resent-", 7) == 0)
			st->headers_seen |= CLEANUP_HDR_RESENT_ANY;
		if (hdr_is(text, nlen, "message-id"))
			log_message_id(st, "message-id", strchr(text, ':') + 1);
		else if (hdr_is(text, nlen, "resent-message-id"))
			log_message_id(st, "resent-message-id", strchr(text, ':') + 1);
	}
	cleanup_content(st, text, strlen(text));
}

/* reject_text - the reply for REJECT [text]. */
static char *
reject_text(const char *text)
{
	if (*text == 0)
		return xstrdup("5.7.1 message content rejected");
	if ((text[0] == '4' || text[0] == '5') && text[1] == '.'
	    && text[2] >= '0' && text[2] <= '9')
		return xstrdup(text);
	return concatenate("5.7.1 ", text, (char *)0);
}

/* apply_action - carry out one table result for content (a header or
 * body line); *text_r receives the REPLACE/PREPEND text. */
static enum cleanup_act
apply_action(struct cleanup_state *st, struct maps *maps,
    const char *class, const char *content, const char *value, char **text_r)
{
	char *copy = xstrdup(value);
	char *cmd = copy + strspn(copy, " \t");
	char *arg = cmd + strcspn(cmd, " \t");
	enum cleanup_act act = ACT_KEEP;

	if (*arg)
		*arg++ = 0;
	arg = skipblanks(arg);
	trimblanks(arg);
	*text_r = NULL;
	if (strcasecmp(cmd, "REJECT") == 0) {
		char *reply = reject_text(arg);

		cleanup_act_log(st, "reject", class, content, reply);
		cleanup_set_error(st, CLEANUP_STAT_CONT, reply);
		free(reply);
	} else if (strcasecmp(cmd, "WARN") == 0) {
		cleanup_act_log(st, "warning", class, content, arg);
	} else if (strcasecmp(cmd, "INFO") == 0) {
		cleanup_act_log(st, "info", class, content, arg);
	} else if (strcasecmp(cmd, "HOLD") == 0) {
		cleanup_act_log(st, "hold", class, content, arg);
		st->flags |= CLEANUP_FLAG_HOLD;
	} else if (strcasecmp(cmd, "DISCARD") == 0) {
		cleanup_act_log(st, "discard", class, content, arg);
		st->flags |= CLEANUP_FLAG_DISCARD;
	} else if (strcasecmp(cmd, "IGNORE") == 0) {
		act = ACT_DROP;
	} else if (strcasecmp(cmd, "STRIP") == 0) {
		cleanup_act_log(st, "strip", class, content, arg);
		act = ACT_DROP;
	} else if (strcasecmp(cmd, "REPLACE") == 0 || strcasecmp(cmd, "PREPEND") == 0) {
		int replace = strcasecmp(cmd, "REPLACE") == 0;

		if (*arg == 0) {
			msg_warn_as(CLEANUP_PROG, "%s: %s: %s action without text: "
			    "ignored", st->queue_id, maps->param, cmd);
		} else if (strcmp(class, "header") == 0
		    && header_name_len(arg, strlen(arg)) == 0) {
			msg_warn_as(CLEANUP_PROG, "%s: %s: %s: \"%s\" is not a "
			    "header: ignored", st->queue_id, maps->param, cmd, arg);
		} else {
			if (replace)
				cleanup_act_log(st, "replace", class, content, arg);
			*text_r = xstrdup(arg);
			act = replace ? ACT_REPLACE : ACT_PREPEND;
		}
	} else if (strcasecmp(cmd, "REDIRECT") == 0) {
		if (*arg == 0 || strchr(arg, '@') == NULL) {
			msg_warn_as(CLEANUP_PROG, "%s: %s: REDIRECT needs an "
			    "address: ignored", st->queue_id, maps->param);
		} else {
			cleanup_act_log(st, "redirect", class, content, arg);
			free(st->redirect);
			st->redirect = xstrdup(arg);
		}
	} else if (strcasecmp(cmd, "BCC") == 0) {
		if (*arg == 0 || strchr(arg, '@') == NULL)
			msg_warn_as(CLEANUP_PROG, "%s: %s: BCC needs an address: "
			    "ignored", st->queue_id, maps->param);
		else
			cleanup_final_rcpt(st, "", arg, 0);
	} else if (strcasecmp(cmd, "FILTER") == 0) {
		if (*arg == 0 || strchr(arg, ':') == NULL || *arg == ':')
			msg_warn_as(CLEANUP_PROG, "%s: %s: FILTER needs "
			    "transport:destination: ignored", st->queue_id,
			    maps->param);
		else {
			cleanup_act_log(st, "filter", class, content, arg);
			cleanup_set_filter(st, arg);
		}
	} else if (strcasecmp(cmd, "DUNNO") == 0 || strcasecmp(cmd, "OK") == 0) {
		/* no-op */
	} else {
		msg_warn_as(CLEANUP_PROG, "%s: unknown command in %s: %s: ignored",
		    st->queue_id, maps->param, value);
	}
	free(copy);
	return act;
}

/* run_checks - look content up in a list of check tables. */
static enum cleanup_act
run_checks(struct cleanup_state *st, struct maps *maps,
    const char *class, const char *content, char **text_r)
{
	const char *value;
	struct map *bad;

	*text_r = NULL;
	if (maps->count == 0 || (st->flags & CLEANUP_FLAG_FILTER) == 0
	    || st->status != CLEANUP_STAT_OK
	    || (st->flags & CLEANUP_FLAG_DISCARD))
		return ACT_KEEP;
	switch (maps_find(maps, content, 0, &value, &bad)) {
	case MAP_FOUND:
		return apply_action(st, maps, class, content, value, text_r);
	case MAP_NOTFOUND:
		return ACT_KEEP;
	case MAP_TEMPFAIL:
		msg_warn_as(CLEANUP_PROG, "%s: %s map lookup problem: %s -- "
		    "message not accepted, try again later", st->queue_id,
		    maps->param, bad ? map_reason(bad) : "table not available");
		cleanup_set_error(st, CLEANUP_STAT_DEFER,
		    "4.3.0 Error: content check table lookup problem");
		return ACT_KEEP;
	}
	return ACT_KEEP;
}

/* is_pickup - a local submission (sendmail, postdrop, pickup)? */
static int
is_pickup(struct cleanup_state *st)
{
	const char *proto = attr_get(st->attrs, "protocol");

	return proto != NULL && strcmp(proto, "local") == 0;
}

/* output_message_header - output_header for a header of the message
 * (after header_checks), unless message_drop_headers lists its name:
 * what a check writes in its place is dropped too, as in Postfix.  The
 * headers cleanup adds itself are never dropped. */
static void
output_message_header(struct cleanup_state *st, const char *text)
{
	size_t nlen = header_name_len(text, strlen(text));

	for (int i = 0; nlen > 0 && i < cleanup_conf.drop_header_count; i++)
		if (hdr_is(text, nlen, cleanup_conf.drop_headers[i]))
			return;
	output_header(st, text);
}

/* note_mime_header - what a header says of the MIME structure.  A
 * multipart nested too deep refuses the message where a header table
 * could have been evaded, as in Postfix ("5.6.0 MIME nesting exceeds
 * safety limit"); otherwise the rest is body. */
static void
note_mime_header(struct cleanup_state *st, const char *text, size_t nlen)
{
	if (mime_parse_header(&st->mime, text, nlen) < 0
	    && cleanup_conf.mime_report_nesting
	    && (st->flags & CLEANUP_FLAG_FILTER)
	    && st->status == CLEANUP_STAT_OK) {
		cleanup_act_log(st, "reject", "mime-error MIME nesting exceeds "
		    "safety limit:", text, NULL);
		cleanup_set_error(st, CLEANUP_STAT_CONT,
		    "5.6.0 MIME nesting exceeds safety limit");
	}
}

/* process_header - one complete logical header (NUL-terminated). */
static void
process_header(struct cleanup_state *st, const char *text)
{
	size_t nlen = header_name_len(text, strlen(text));
	char *other;

	/* A local submission never shows its Bcc: list (sendmail removes
	 * it; this covers a record stream written to postdrop directly). */
	if ((hdr_is(text, nlen, "bcc") || hdr_is(text, nlen, "resent-bcc"))
	    && is_pickup(st))
		return;
	if (hdr_is(text, nlen, "received")) {
		st->hops++;
		if (st->hops > cleanup_conf.hopcount_limit
		    && (st->status & CLEANUP_STAT_HOPS) == 0) {
			cleanup_act_log(st, "reject", "header", text,
			    "5.4.0 Error: too many hops");
			cleanup_set_error(st, CLEANUP_STAT_HOPS, NULL);
		}
	}
	note_mime_header(st, text, nlen);
	switch (run_checks(st, mime_parse_is_mime_header(text, nlen) ?
	    &cleanup_conf.mime_header_checks : &cleanup_conf.header_checks,
	    "header", text, &other)) {
	case ACT_KEEP: {
		/* Address headers rewritten after the checks saw them as
		 * sent (core/mail/hdr_addr.c). */
		char *rewritten = cleanup_header_rewrite(st, text);

		output_message_header(st, rewritten ? rewritten : text);
		free(rewritten);
		break;
	}
	case ACT_DROP:
		break;
	case ACT_REPLACE:
		output_message_header(st, other);
		break;
	case ACT_PREPEND:
		output_message_header(st, other);
		output_message_header(st, text);
		break;
	}
	free(other);
}

/* process_body_header - one logical header of a body part or of an
 * attached message: mime_header_checks or nested_header_checks, then out
 * as content (no address rewriting, no header bookkeeping). */
static void
process_body_header(struct cleanup_state *st, const char *text)
{
	size_t nlen = header_name_len(text, strlen(text));
	struct maps *maps = &cleanup_conf.mime_header_checks;
	char *other;

	note_mime_header(st, text, nlen);
	if (st->mime.block == MIME_BLOCK_NESTED
	    && !mime_parse_is_mime_header(text, nlen))
		maps = &cleanup_conf.nested_header_checks;
	switch (run_checks(st, maps, "header", text, &other)) {
	case ACT_KEEP:
		cleanup_content(st, text, strlen(text));
		break;
	case ACT_DROP:
		break;
	case ACT_REPLACE:
		cleanup_content(st, other, strlen(other));
		break;
	case ACT_PREPEND:
		cleanup_content(st, other, strlen(other));
		cleanup_content(st, text, strlen(text));
		break;
	}
	free(other);
}

/* flush_header - process the header being collected, if any. */
static void
flush_header(struct cleanup_state *st)
{
	if (!st->hdr_pending)
		return;
	st->hdr_pending = 0;
	if (st->cstate == CLEANUP_ST_HEADERS)
		process_header(st, buf_str(st->hdr));
	else
		process_body_header(st, buf_str(st->hdr));
	buf_reset(st->hdr);
	st->hdr_truncated = 0;
}

/* hdr_append - add to the current header up to header_size_limit. */
static void
hdr_append(struct cleanup_state *st, const char *data, size_t len)
{
	size_t room;

	if (st->hdr_truncated)
		return;
	room = (size_t)cleanup_conf.header_size_limit > buf_len(st->hdr) ?
	    (size_t)cleanup_conf.header_size_limit - buf_len(st->hdr) : 0;
	if (len > room) {
		len = room;
		st->hdr_truncated = 1;
	}
	buf_append(st->hdr, data, len);
	/* A NUL would end the header early for checks: show it as a space. */
	for (char *cp = st->hdr->data + st->hdr->len - len;
	    cp < st->hdr->data + st->hdr->len; cp++)
		if (*cp == 0)
			*cp = ' ';
}

void
cleanup_header_text(struct cleanup_state *st, const char *text, size_t len)
{
	flush_header(st);
	hdr_append(st, text, len);
	st->hdr_pending = 1;
	flush_header(st);
}

/* mail_date - RFC 5322 local time, Postfix style
 * ("Tue,  3 Jan 2023 10:20:30 +0100 (CET)"). */
static void
mail_date(char *out, size_t size, time_t when)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	localtime_r(&when, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(out, size, "%s, %2d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60,
	    tm.tm_zone ? tm.tm_zone : "UTC");
}

/* needs_quotes - a display name with RFC 5322 specials (or !%). */
static int
needs_quotes(const char *name)
{
	return strpbrk(name, "()<>[]:;@\\,.\"!%") != NULL;
}

/* end_headers - add what is missing, once, at the end of the headers. */
static void
end_headers(struct cleanup_state *st)
{
	int resent = (st->headers_seen & CLEANUP_HDR_RESENT_ANY) != 0;
	const char *pfx = resent ? "Resent-" : "";
	char line[1024];

	if (st->local_context || cleanup_conf.always_add_headers) {
		if ((st->headers_seen & (resent ? CLEANUP_HDR_RESENT_MESSAGE_ID
		    : CLEANUP_HDR_MESSAGE_ID)) == 0) {
			struct tm tm;
			time_t now = st->arrival.tv_sec;

			gmtime_r(&now, &tm);
			snprintf(line, sizeof(line),
			    "%sMessage-Id: <%04d%02d%02d%02d%02d%02d.%s@%s>", pfx,
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			    tm.tm_hour, tm.tm_min, tm.tm_sec, st->queue_id,
			    cleanup_conf.myhostname);
			output_header(st, line);
		}
		if ((st->headers_seen & (resent ? CLEANUP_HDR_RESENT_DATE
		    : CLEANUP_HDR_DATE)) == 0) {
			char date[128];

			mail_date(date, sizeof(date), st->arrival.tv_sec);
			snprintf(line, sizeof(line), "%sDate: %s", pfx, date);
			output_header(st, line);
		}
		if ((st->headers_seen & (resent ? CLEANUP_HDR_RESENT_FROM
		    : CLEANUP_HDR_FROM)) == 0) {
			const char *sender = st->sender && *st->sender ?
			    st->sender : "MAILER-DAEMON";
			const char *name = attr_get(st->attrs, "full_name");
			char *hdr;

			if (name && *name && st->sender && *st->sender)
				hdr = needs_quotes(name) ?
				    concatenate(pfx, "From: \"", name, "\" <", sender,
				    ">", (char *)0) :
				    concatenate(pfx, "From: ", name, " <", sender, ">",
				    (char *)0);
			else
				hdr = concatenate(pfx, "From: ", sender, (char *)0);
			output_header(st, hdr);
			free(hdr);
		}
		if (!resent && (st->headers_seen & (CLEANUP_HDR_TO | CLEANUP_HDR_CC)) == 0
		    && *cleanup_conf.undisclosed_header)
			output_header(st, cleanup_conf.undisclosed_header);
	} else if (!resent && (st->headers_seen & CLEANUP_HDR_MESSAGE_ID) == 0) {
		cleanup_log(st, "%s: message-id=<>", st->queue_id);
	}
}

/* body_line - one body line through body_checks, then out. */
static void
body_line(struct cleanup_state *st, const char *line, size_t len)
{
	char *text = NULL;
	enum cleanup_act act = ACT_KEEP;

	if (st->body_seen <= cleanup_conf.body_checks_size_limit
	    && cleanup_conf.body_checks.count > 0) {
		char *copy = xstrndup(line, len);

		/* Embedded NULs end the C string: the rest is not checked. */
		act = run_checks(st, &cleanup_conf.body_checks, "body", copy, &text);
		free(copy);
	}
	st->body_seen += (off_t)len + 1;
	switch (act) {
	case ACT_KEEP:
		cleanup_content(st, line, len);
		break;
	case ACT_DROP:
		break;
	case ACT_REPLACE:
		cleanup_content(st, text, strlen(text));
		break;
	case ACT_PREPEND:
		cleanup_content(st, text, strlen(text));
		cleanup_content(st, line, len);
		break;
	}
	free(text);
}

/* header_line - a line of a header block that continues or starts a
 * header: collected (1), or not a header line (0). */
static int
header_line(struct cleanup_state *st, const char *line, size_t len)
{
	if (st->hdr_pending && len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		hdr_append(st, "\n", 1);
		hdr_append(st, line, len);
		return 1;
	}
	if (header_name_len(line, len) > 0) {
		flush_header(st);
		hdr_append(st, line, len);
		st->hdr_pending = 1;
		return 1;
	}
	return 0;
}

/* in_header_block - in the primary headers, or in those of a body part
 * or an attached message. */
static int
in_header_block(struct cleanup_state *st)
{
	return st->cstate == CLEANUP_ST_HEADERS
	    || st->mime.block != MIME_BLOCK_BODY;
}

/* end_header_block - the header block ends: at a blank line
 * (blank_line 1), at the first line that is not a header (0), or at the
 * end of the message (-1). */
static void
end_header_block(struct cleanup_state *st, int blank_line)
{
	flush_header(st);
	if (st->cstate == CLEANUP_ST_HEADERS) {
		end_headers(st);
		st->cstate = CLEANUP_ST_BODY;
		/* As Postfix: a blank line between headers and a body. */
		if (blank_line == 0)
			body_line(st, "", 0);
	}
	mime_parse_block_end(&st->mime, blank_line == 1);
}

static void message_line(struct cleanup_state *st, const char *line,
    size_t len);
static void message_piece(struct cleanup_state *st, const char *data,
    size_t len, int first, int last);

/* content_chars - message_reject_characters (the message is refused,
 * the content still read) and message_strip_characters (the bytes are
 * removed), both content checks as in Postfix (not with
 * receive_override_options = no_header_body_checks).  Returns what to
 * process: data, or a stripped copy in *copy_r (free it). */
static const char *
content_chars(struct cleanup_state *st, const char *data, size_t *len,
    char **copy_r)
{
	*copy_r = NULL;
	if ((st->flags & CLEANUP_FLAG_FILTER) == 0)
		return data;
#define IN_SET(set, c) ((set)[(unsigned char)(c) / 8] \
		& (1u << ((unsigned char)(c) % 8)))
	if (cleanup_conf.any_reject_chars && st->status == CLEANUP_STAT_OK) {
		for (size_t i = 0; i < *len; i++) {
			if (IN_SET(cleanup_conf.reject_chars, data[i])) {
				cleanup_set_error(st, CLEANUP_STAT_CONT,
				    "5.7.1 disallowed character");
				break;
			}
		}
	}
	if (cleanup_conf.any_strip_chars) {
		size_t o = 0;
		char *copy = NULL;

		for (size_t i = 0; i < *len; i++) {
			if (IN_SET(cleanup_conf.strip_chars, data[i])) {
				if (copy == NULL) {
					copy = xmalloc(*len + 1);
					memcpy(copy, data, i);
					o = i;
				}
			} else if (copy != NULL) {
				copy[o++] = data[i];
			}
		}
		if (copy != NULL) {
			copy[o] = 0;
			*len = o;
			*copy_r = copy;
			return copy;
		}
	}
#undef IN_SET
	return data;
}

void
cleanup_message_line(struct cleanup_state *st, const char *line, size_t len)
{
	char *copy;

	line = content_chars(st, line, &len, &copy);
	message_line(st, line, len);
	free(copy);
}

static void
message_line(struct cleanup_state *st, const char *line, size_t len)
{
	if (in_header_block(st)) {
		if (len == 0) {
			/* The blank line is a body line (body_checks see it). */
			end_header_block(st, 1);
			body_line(st, "", 0);
			return;
		}
		if (header_line(st, line, len))
			return;
		/* Not a header: the body starts without an empty line. */
		end_header_block(st, 0);
	}
	(void)mime_parse_boundary(&st->mime, line, len);
	body_line(st, line, len);
}

/* body_piece - part of a long body line through body_checks, then out;
 * the line end comes with the last piece. */
static void
body_piece(struct cleanup_state *st, const char *data, size_t len, int last)
{
	char *text = NULL;
	enum cleanup_act act = ACT_KEEP;

	if (len > 0 && st->body_seen <= cleanup_conf.body_checks_size_limit
	    && cleanup_conf.body_checks.count > 0) {
		char *copy = xstrndup(data, len);

		act = run_checks(st, &cleanup_conf.body_checks, "body", copy, &text);
		free(copy);
	}
	st->body_seen += (off_t)len + (last ? 1 : 0);
	switch (act) {
	case ACT_KEEP:
		cleanup_content_raw(st, data, len);
		break;
	case ACT_DROP:
		break;
	case ACT_REPLACE:
		cleanup_content_raw(st, text, strlen(text));
		break;
	case ACT_PREPEND:
		cleanup_content(st, text, strlen(text));
		cleanup_content_raw(st, data, len);
		break;
	}
	if (last)
		cleanup_content_raw(st, "\n", 1);
	free(text);
}

void
cleanup_message_piece(struct cleanup_state *st, const char *data,
    size_t len, int first, int last)
{
	char *copy;

	data = content_chars(st, data, &len, &copy);
	message_piece(st, data, len, first, last);
	free(copy);
}

static void
message_piece(struct cleanup_state *st, const char *data,
    size_t len, int first, int last)
{
	if (first) {
		st->piece_in_header = 0;
		if (in_header_block(st)) {
			/* As cleanup_message_line: hdr_append keeps what fits
			 * in header_size_limit. */
			if (len > 0 && header_line(st, data, len)) {
				st->piece_in_header = 1;
				return;
			}
			end_header_block(st, 0);
		}
		(void)mime_parse_boundary(&st->mime, data, len);
	} else if (st->piece_in_header) {
		hdr_append(st, data, len);
		return;
	}
	body_piece(st, data, len, last);
}

void
cleanup_message_end(struct cleanup_state *st)
{
	if (in_header_block(st))
		end_header_block(st, -1);
}

void
cleanup_milter_chg_from(void *st, const char *sender, const char *args)
{
	(void)args;
	cleanup_change_sender(st, sender);
}

void
cleanup_milter_add_rcpt(void *st, const char *rcpt, const char *args)
{
	(void)args;
	cleanup_add_rcpt(st, rcpt, rcpt, 0);
}

void
cleanup_milter_del_rcpt(void *st, const char *rcpt)
{
	cleanup_del_rcpt(st, rcpt);
}

int
cleanup_milter_header(void *ctx, const char *header, char **repl_r)
{
	struct cleanup_state *st = ctx;
	char *text = NULL;
	int rc = 0;

	*repl_r = NULL;
	switch (run_checks(st, &cleanup_conf.milter_header_checks, "header",
	    header, &text)) {
	case ACT_KEEP:
		break;
	case ACT_DROP:
		rc = 1;
		break;
	case ACT_REPLACE:
		*repl_r = text;
		text = NULL;
		rc = 2;
		break;
	case ACT_PREPEND:
		msg_warn_as(CLEANUP_PROG, "%s: milter_header_checks: PREPEND is "
		    "not supported here: ignored", st->queue_id);
		break;
	}
	free(text);
	return rc;
}

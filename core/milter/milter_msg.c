/* SPDX-License-Identifier: MIT */
/* milter_msg - the message for the milters: headers, end of headers,
 * body, end of message, and the changes milters ask for at its end.
 *
 * The message is held as a list of headers (name, and the text after
 * the colon exactly as queued: folded lines keep their LF) and the body
 * (lines ending in LF).  Headers go to a milter one packet each, their
 * value without its leading blanks unless the milter asked for them
 * (SMFIP_HDR_LEADSPC); the body in chunks of at most 65535 bytes with
 * CR LF line ends.  Changes apply at once, so the next milter sees the
 * message as the ones before it left it:
 *   add header          at the end of the headers;
 *   insert header N     before the Nth header (0: first), counting the
 *                       MTA's own Received: header, which milters do not
 *                       see (as Postfix);
 *   change header N     the Nth header of that name (1: first) that the
 *                       milters saw; an empty
 *                       value deletes it; a header that is not there is
 *                       added;
 *   replace body        the chunks of one end of message, in order;
 *   quarantine          the message is held (reason for the log);
 *   change sender, add/delete recipient: passed to the caller's ops. */
#include "postino_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter_private.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

struct mhdr {
	char *name;
	char *value;		/* after the colon, LF-folded, no final LF */
	int hidden;		/* the MTA's own Received: (never sent) */
};

struct mmsg {
	struct mhdr *h;
	int nh;
	struct buf *body;
	int body_sep;		/* an empty line separated the body */
	int changed;
};

/* lf_text - a milter's text with CR LF (and lone CR) as LF; malloc'd. */
static char *
lf_text(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			if (i + 1 < len && s[i + 1] == '\n')
				continue;
			*o++ = '\n';
			continue;
		}
		*o++ = s[i];
	}
	*o = 0;
	return out;
}

static void
hdr_insert(struct mmsg *mm, int at, const char *name, char *value)
{
	if (at < 0 || at > mm->nh)
		at = mm->nh;
	mm->h = xreallocarray(mm->h, (size_t)mm->nh + 1, sizeof(*mm->h));
	memmove(mm->h + at + 1, mm->h + at, (size_t)(mm->nh - at) * sizeof(*mm->h));
	mm->h[at].name = xstrdup(name);
	mm->h[at].value = value;
	mm->h[at].hidden = 0;
	mm->nh++;
}

/* header_name_len - the length of "Name" in "Name: ...", 0 when the
 * line is not a header. */
static size_t
header_name_len(const char *line, size_t len)
{
	size_t n = 0;

	while (n < len && line[n] > ' ' && line[n] < 0x7f && line[n] != ':')
		n++;
	if (n == 0)
		return 0;
	{
		size_t c = n;

		while (c < len && (line[c] == ' ' || line[c] == '\t'))
			c++;
		return c < len && line[c] == ':' ? n : 0;
	}
}

static void
mmsg_parse(struct mmsg *mm, const char *content, size_t len)
{
	const char *p = content, *end = content + len;

	memset(mm, 0, sizeof(*mm));
	mm->body = buf_new(len + 1, BUF_NOLIMIT);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl ? nl + 1 : end;
		size_t nlen;

		if (llen == 0) {
			mm->body_sep = 1;
			p = next;
			break;
		}
		if ((*p == ' ' || *p == '\t') && mm->nh > 0) {
			struct mhdr *h = mm->h + mm->nh - 1;
			char *v = xmalloc(strlen(h->value) + llen + 2);

			memcpy(v, h->value, strlen(h->value));
			v[strlen(h->value)] = '\n';
			memcpy(v + strlen(h->value) + 1, p, llen);
			v[strlen(h->value) + 1 + llen] = 0;
			free(h->value);
			h->value = v;
			p = next;
			continue;
		}
		if ((nlen = header_name_len(p, llen)) == 0)
			break;			/* the body, without a separator */
		{
			char *name = xmalloc(nlen + 1);
			const char *colon = memchr(p, ':', llen);
			char *value = xmalloc(llen - (size_t)(colon + 1 - p) + 1);

			memcpy(name, p, nlen);
			name[nlen] = 0;
			memcpy(value, colon + 1, llen - (size_t)(colon + 1 - p));
			value[llen - (size_t)(colon + 1 - p)] = 0;
			hdr_insert(mm, mm->nh, name, value);
			free(name);
		}
		p = next;
	}
	buf_append(mm->body, p, (size_t)(end - p));
}

static void
mmsg_free(struct mmsg *mm)
{
	for (int i = 0; i < mm->nh; i++) {
		free(mm->h[i].name);
		free(mm->h[i].value);
	}
	free(mm->h);
	buf_free(&mm->body);
}

/* mmsg_content - the message as queue content; malloc'd. */
static char *
mmsg_content(const struct mmsg *mm, size_t *len_r)
{
	struct buf *b = buf_new(buf_len(mm->body) + 1024, BUF_NOLIMIT);
	char *out;

	for (int i = 0; i < mm->nh; i++)
		buf_printf(b, "%s:%s\n", mm->h[i].name, mm->h[i].value);
	if (mm->body_sep || buf_len(mm->body) > 0)
		buf_putc(b, '\n');
	buf_append(b, buf_str(mm->body), buf_len(mm->body));
	*len_r = buf_len(b);
	out = xmalloc(*len_r + 1);
	memcpy(out, buf_str(b), *len_r + 1);
	buf_free(&b);
	return out;
}

/* strip_angle - an address without its angle brackets; malloc'd. */
static char *
strip_angle(const char *addr)
{
	size_t len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		char *out = xmalloc(len - 1);

		memcpy(out, addr + 1, len - 2);
		out[len - 2] = 0;
		return out;
	}
	return xstrdup(addr);
}

/* strings - split data (len bytes) into up to max NUL-terminated
 * strings; how many, or -1 when the data does not end in a NUL. */
static int
strings(const char *data, size_t len, const char **out, int max)
{
	int n = 0;
	size_t off = 0;

	if (len == 0 || data[len - 1] != 0)
		return -1;
	while (off < len && n < max) {
		out[n++] = data + off;
		off += strlen(data + off) + 1;
	}
	return n;
}

/* name_ok - a header name a milter may add: printable, no colon. */
static int
name_ok(const char *name)
{
	if (*name == 0)
		return 0;
	for (; *name; name++)
		if (*name <= ' ' || *name >= 0x7f || *name == ':')
			return 0;
	return 1;
}

/* hdr_value - a value from a milter as stored: LF-folded, with the
 * blank after the colon unless the milter gives its own. */
static char *
hdr_value(const struct milter *m, const char *value)
{
	char *lf = lf_text(value, strlen(value)), *v;

	if (m->pflags & SMFIP_HDR_LEADSPC)
		return lf;
	v = concatenate(" ", lf, (char *)0);
	free(lf);
	return v;
}

/* checked - milter_header_checks on a header about to be stored (value
 * as hdr_value made it): 0 to store *name_r and *value_r (replaced when
 * the check says so), 1 to drop it. */
static int
checked(const struct milter_edit_ops *ops, void *ctx, char **name_r,
    char **value_r)
{
	char *text, *repl = NULL, *colon;
	int act;

	if (ops == NULL || ops->header_check == NULL)
		return 0;
	text = concatenate(*name_r, ":", *value_r, (char *)0);
	act = ops->header_check(ctx, text, &repl);
	free(text);
	if (act == MILTER_HDR_DROP) {
		free(repl);
		return 1;
	}
	if (act == MILTER_HDR_REPLACE && repl != NULL
	    && (colon = strchr(repl, ':')) != NULL) {
		*colon = 0;
		free(*name_r);
		free(*value_r);
		*name_r = xstrdup(trimblanks(repl));
		*value_r = xstrdup(colon + 1);
	}
	free(repl);
	return 0;
}

/* edit - one end-of-message change; 0, or -1 for a malformed one. */
static int
edit(struct mmsg *mm, struct milter *m, int cmd, const char *data,
    size_t len, const struct milter_edit_ops *ops, void *ctx,
    struct buf *newbody, int *newbody_set, char **hold_r)
{
	const char *s[3];
	uint32_t idx = 0;
	int n;

	if (cmd == SMFIR_INSHEADER || cmd == SMFIR_CHGHEADER) {
		if (len < 4)
			return -1;
		idx = (uint32_t)(unsigned char)data[0] << 24
		    | (uint32_t)(unsigned char)data[1] << 16
		    | (uint32_t)(unsigned char)data[2] << 8
		    | (uint32_t)(unsigned char)data[3];
		data += 4;
		len -= 4;
	}
	switch (cmd) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		if (strings(data, len, s, 2) != 2 || !name_ok(s[0]))
			return -1;
		{
			char *name = xstrdup(s[0]), *value = hdr_value(m, s[1]);

			if (checked(ops, ctx, &name, &value)) {
				free(name);
				free(value);
				return 0;
			}
			hdr_insert(mm, cmd == SMFIR_ADDHEADER ? mm->nh
			    : (idx > (uint32_t)mm->nh ? mm->nh : (int)idx), name,
			    value);
			free(name);
		}
		mm->changed = 1;
		return 0;
	case SMFIR_CHGHEADER:
		if (strings(data, len, s, 2) != 2 || !name_ok(s[0]))
			return -1;
		{
			uint32_t seen = 0;

			for (int i = 0; i < mm->nh; i++) {
				if (mm->h[i].hidden
				    || strcasecmp(mm->h[i].name, s[0]) != 0
				    || ++seen != (idx ? idx : 1))
					continue;
				if (*s[1] != 0) {
					char *name = xstrdup(mm->h[i].name);
					char *value = hdr_value(m, s[1]);

					if (checked(ops, ctx, &name, &value)) {
						/* The new text is refused: the
						 * header stays as it was (as in
						 * Postfix). */
						free(name);
						free(value);
						return 0;
					}
					free(mm->h[i].name);
					free(mm->h[i].value);
					mm->h[i].name = name;
					mm->h[i].value = value;
					mm->changed = 1;
					return 0;
				}
				free(mm->h[i].value);
				free(mm->h[i].name);
				memmove(mm->h + i, mm->h + i + 1,
				    (size_t)(mm->nh - i - 1) * sizeof(*mm->h));
				mm->nh--;
				mm->changed = 1;
				return 0;
			}
			if (*s[1] != 0) {
				char *name = xstrdup(s[0]), *value = hdr_value(m, s[1]);

				if (checked(ops, ctx, &name, &value)) {
					free(name);
					free(value);
					return 0;
				}
				hdr_insert(mm, mm->nh, name, value);
				free(name);
				mm->changed = 1;
			}
		}
		return 0;
	case SMFIR_REPLBODY:
		if (!*newbody_set) {
			buf_reset(newbody);
			*newbody_set = 1;
		}
		buf_append(newbody, data, len);
		return 0;
	case SMFIR_QUARANTINE:
		if ((n = strings(data, len, s, 1)) < 1)
			return -1;
		free(*hold_r);
		*hold_r = xstrdup(*s[0] ? s[0] : "milter triggers HOLD action");
		return 0;
	case SMFIR_CHGFROM:
		if ((n = strings(data, len, s, 2)) < 1)
			return -1;
		if (ops && ops->chg_from) {
			char *addr = strip_angle(s[0]);

			ops->chg_from(ctx, addr, n > 1 ? s[1] : "");
			free(addr);
		}
		return 0;
	case SMFIR_ADDRCPT:
	case SMFIR_ADDRCPT_PAR:
		if ((n = strings(data, len, s, 2)) < 1)
			return -1;
		if (ops && ops->add_rcpt) {
			char *addr = strip_angle(s[0]);

			ops->add_rcpt(ctx, addr, n > 1 ? s[1] : "");
			free(addr);
		}
		return 0;
	case SMFIR_DELRCPT:
		if (strings(data, len, s, 1) < 1)
			return -1;
		if (ops && ops->del_rcpt) {
			char *addr = strip_angle(s[0]);

			ops->del_rcpt(ctx, addr);
			free(addr);
		}
		return 0;
	default:
		return -1;
	}
}

/* content_verdict - the answer to a header, end-of-headers or body
 * packet: 0 go on, 1 *reply_r ends the message, 2 skip the rest of the
 * body, 3 this milter is done with the message (accepted), -1 failed. */
static int
content_verdict(struct milters *ms, struct milter *m, int cmd,
    const char **reply_r)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);
	int rc;

	for (;;) {
		int rcmd;

		if (milter_io_read(ms, m, &rcmd, b, m->o->content_timeout,
		    milter_cmd_name(cmd)) < 0) {
			rc = -1;
			break;
		}
		if (rcmd == SMFIR_PROGRESS)
			continue;
		if (rcmd == SMFIR_SKIP && cmd == SMFIC_BODY) {
			rc = 2;
			break;
		}
		rc = milter_verdict(ms, m, MILTER_ST_EOH, rcmd, buf_str(b),
		    buf_len(b), reply_r);
		if (rc < 0)
			msg_warn("milter %s: unexpected filter response %c after event %s",
			    m->o->endpoint, rcmd >= 0x20 && rcmd < 0x7f ? rcmd : '?',
			    milter_cmd_name(cmd));
		else if (rc == 0 && m->state == MILTER_S_DONE_MSG)
			rc = 3;
		break;
	}
	buf_free(&b);
	return rc;
}

/* one_milter - the message through milter m: 0 go on, 1 *reply_r ends
 * it, -1 failed (logged). */
static int
one_milter(struct milters *ms, struct milter *m, struct mmsg *mm,
    const struct milter_edit_ops *ops, void *ctx, char **hold_r,
    const char **reply_r)
{
	struct buf *b;
	struct buf *newbody;
	int newbody_set = 0, rc;

	*reply_r = NULL;
	if (!(m->pflags & SMFIP_NOHDRS)) {
		for (int i = 0; i < mm->nh; i++) {
			const char *v = mm->h[i].value;
			struct buf *hb;

			if (mm->h[i].hidden)
				continue;
			/* The blank after the colon is the separator, unless the
			 * milter wants the value as it is. */
			if (!(m->pflags & SMFIP_HDR_LEADSPC) && *v == ' ')
				v++;
			/* Postfix sends the end-of-header macros before each
			 * header and each body chunk. */
			if (milter_send_macros(ms, m, MILTER_ST_EOH, SMFIC_HEADER,
			    m->o->content_timeout) < 0)
				return -1;
			hb = buf_new(256, BUF_NOLIMIT);
			buf_append(hb, mm->h[i].name, strlen(mm->h[i].name) + 1);
			buf_append(hb, v, strlen(v) + 1);
			rc = milter_io_send(ms, m, SMFIC_HEADER, buf_str(hb),
			    buf_len(hb), m->o->content_timeout);
			buf_free(&hb);
			if (rc < 0)
				return -1;
			if (m->pflags & SMFIP_NR_HDR)
				continue;
			if ((rc = content_verdict(ms, m, SMFIC_HEADER, reply_r)) != 0)
				return rc == 3 ? 0 : rc == 2 ? -1 : rc;
		}
	}
	if (!(m->pflags & SMFIP_NOEOH)) {
		if (milter_send_macros(ms, m, MILTER_ST_EOH, SMFIC_EOH,
		    m->o->content_timeout) < 0
		    || milter_io_send(ms, m, SMFIC_EOH, NULL, 0,
		    m->o->content_timeout) < 0)
			return -1;
		if (!(m->pflags & SMFIP_NR_EOH)
		    && (rc = content_verdict(ms, m, SMFIC_EOH, reply_r)) != 0)
			return rc == 3 ? 0 : rc == 2 ? -1 : rc;
	}
	if (!(m->pflags & SMFIP_NOBODY) && buf_len(mm->body) > 0) {
		struct buf *crlf = buf_new(buf_len(mm->body) + 1024, BUF_NOLIMIT);
		const char *p = buf_str(mm->body);
		size_t blen = buf_len(mm->body);
		int skip = 0;

		for (size_t i = 0; i < blen; i++) {
			if (p[i] == '\n')
				buf_putc(crlf, '\r');
			buf_putc(crlf, p[i]);
		}
		for (size_t off = 0; off < buf_len(crlf) && !skip;
		    off += MILTER_CHUNK) {
			size_t n = buf_len(crlf) - off;

			if (n > MILTER_CHUNK)
				n = MILTER_CHUNK;
			if (milter_send_macros(ms, m, MILTER_ST_EOH, SMFIC_BODY,
			    m->o->content_timeout) < 0
			    || milter_io_send(ms, m, SMFIC_BODY, buf_str(crlf) + off, n,
			    m->o->content_timeout) < 0) {
				buf_free(&crlf);
				return -1;
			}
			if (m->pflags & SMFIP_NR_BODY)
				continue;
			rc = content_verdict(ms, m, SMFIC_BODY, reply_r);
			if (rc == 2)
				skip = 1;
			else if (rc != 0) {
				buf_free(&crlf);
				return rc == 3 ? 0 : rc;
			}
		}
		buf_free(&crlf);
	}
	if (milter_send_macros(ms, m, MILTER_ST_EOM, SMFIC_BODYEOB,
	    m->o->content_timeout) < 0
	    || milter_io_send(ms, m, SMFIC_BODYEOB, NULL, 0,
	    m->o->content_timeout) < 0)
		return -1;
	b = buf_new(256, BUF_NOLIMIT);
	newbody = buf_new(256, BUF_NOLIMIT);
	for (;;) {
		int rcmd;

		if (milter_io_read(ms, m, &rcmd, b, m->o->content_timeout,
		    "SMFIC_BODYEOB") < 0) {
			rc = -1;
			break;
		}
		if (rcmd == SMFIR_PROGRESS)
			continue;
		if (strchr("hime+2-bq", rcmd) != NULL && rcmd != 0) {
			if (edit(mm, m, rcmd, buf_str(b), buf_len(b), ops, ctx,
			    newbody, &newbody_set, hold_r) < 0) {
				msg_warn("milter %s: malformed %c request after event SMFIC_BODYEOB",
				    m->o->endpoint, rcmd);
				rc = -1;
				break;
			}
			continue;
		}
		rc = milter_verdict(ms, m, MILTER_ST_EOM, rcmd, buf_str(b),
		    buf_len(b), reply_r);
		if (rc < 0)
			msg_warn("milter %s: unexpected filter response %c after event SMFIC_BODYEOB",
			    m->o->endpoint, rcmd >= 0x20 && rcmd < 0x7f ? rcmd : '?');
		break;
	}
	if (rc == 0 && newbody_set) {
		char *lf = lf_text(buf_str(newbody), buf_len(newbody));

		buf_set(mm->body, lf);
		free(lf);
		mm->body_sep = 1;
		mm->changed = 1;
	}
	buf_free(&b);
	buf_free(&newbody);
	return rc;
}

const char *
milters_message(struct milters *ms, const char *content, size_t len,
    int own_received, const struct milter_edit_ops *ops, void *ctx,
    char **content_r, size_t *len_r, char **hold_r)
{
	struct mmsg mm;
	const char *reply = NULL;

	*content_r = NULL;
	*len_r = 0;
	*hold_r = NULL;
	mmsg_parse(&mm, content, len);
	for (int i = 0; own_received && i < mm.nh; i++)
		if (strcasecmp(mm.h[i].name, "Received") == 0) {
			mm.h[i].hidden = 1;
			break;
		}
	for (int i = 0; i < ms->count && reply == NULL; i++) {
		struct milter *m = ms->m + i;
		int rc;

		if (m->state == MILTER_S_NEW && milter_io_open(ms, m) < 0) {
			reply = milter_fail(ms, m);
			continue;
		}
		if (m->state == MILTER_S_ERROR) {
			if (m->o->def_action != MILTER_DEF_ACCEPT)
				reply = milter_fail(ms, m);
			continue;
		}
		if (m->state != MILTER_S_READY)
			continue;
		rc = one_milter(ms, m, &mm, ops, ctx, hold_r, &reply);
		if (rc < 0)
			reply = milter_fail(ms, m);
	}
	/* The default action quarantine says "H": hold, not refuse. */
	if (reply != NULL && *reply == 'H') {
		if (*hold_r == NULL)
			*hold_r = xstrdup("milter triggers HOLD action");
		reply = NULL;
	}
	if (reply == NULL && mm.changed)
		*content_r = mmsg_content(&mm, len_r);
	mmsg_free(&mm);
	for (int i = 0; i < ms->count; i++) {
		if (ms->m[i].state == MILTER_S_DONE_MSG)
			ms->m[i].state = MILTER_S_READY;
	}
	return reply;
}

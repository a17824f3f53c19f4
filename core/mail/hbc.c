/* SPDX-License-Identifier: MIT */
/* hbc - header and body checks outside cleanup (hbc.h). */
#include "postino_config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "hbc.h"
#include "mail_vars.h"
#include "map.h"
#include "mime_parse.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

void
hbc_walk_init(struct hbc_walk *w, int mime_disabled,
    void (*header)(void *, enum hbc_class, const char *, size_t),
    void (*body)(void *, const char *, size_t), void *ctx)
{
	memset(w, 0, sizeof(*w));
	mime_parse_init(&w->mime, mime_disabled, var_mime_nesting_limit,
	    var_mime_boundary_length_limit);
	w->hdr = buf_new(256, BUF_NOLIMIT);
	w->line = buf_new(256, BUF_NOLIMIT);
	w->primary = 1;
	w->header = header;
	w->body = body;
	w->ctx = ctx;
}

/* flush - pass the collected logical header on, with its class. */
static void
flush(struct hbc_walk *w)
{
	const char *text = buf_str(w->hdr);
	size_t nlen = mime_parse_header_name_len(text, buf_len(w->hdr));
	int mime = mime_parse_is_mime_header(text, nlen);
	enum hbc_class cls;

	if (!w->pending)
		return;
	w->pending = 0;
	/* A multipart nested too deep stops the parsing; cleanup already
	 * judged the message, so here the rest is simply body. */
	(void)mime_parse_header(&w->mime, text, nlen);
	if (w->primary)
		cls = mime ? HBC_MIME : HBC_HEADER;
	else if (w->mime.block == MIME_BLOCK_NESTED && !mime)
		cls = HBC_NESTED;
	else
		cls = HBC_MIME;
	w->header(w->ctx, cls, text, buf_len(w->hdr));
	buf_reset(w->hdr);
}

void
hbc_walk_line(struct hbc_walk *w, const char *line, size_t len)
{
	if (w->primary || w->mime.block != MIME_BLOCK_BODY) {
		if (w->pending && len > 0 && (line[0] == ' ' || line[0] == '\t')) {
			buf_putc(w->hdr, '\n');
			buf_append(w->hdr, line, len);
			return;
		}
		if (mime_parse_header_name_len(line, len) > 0) {
			flush(w);
			buf_append(w->hdr, line, len);
			w->pending = 1;
			return;
		}
		flush(w);
		if (w->primary && len > 0)
			w->body(w->ctx, "", 0);
		w->primary = 0;
		mime_parse_block_end(&w->mime, len == 0);
	}
	(void)mime_parse_boundary(&w->mime, line, len);
	buf_reset(w->line);
	buf_append(w->line, line, len);
	w->body(w->ctx, buf_str(w->line), len);
}

void
hbc_walk_end(struct hbc_walk *w)
{
	flush(w);
	buf_free(&w->hdr);
	buf_free(&w->line);
	mime_parse_free(&w->mime);
}

void
hbc_maps_open(struct hbc_maps *maps, const char *const params[4],
    const char *const values[4])
{
	memset(maps, 0, sizeof(*maps));
	for (int i = 0; i < 4; i++)
		maps_open(&maps->list[i], params[i], values[i] ? values[i] : "");
}

int
hbc_maps_any(const struct hbc_maps *maps)
{
	for (int i = 0; i < 4; i++)
		if (maps->list[i].count > 0)
			return 1;
	return 0;
}

void
hbc_maps_close(struct hbc_maps *maps)
{
	for (int i = 0; i < 4; i++)
		maps_close(&maps->list[i]);
}

void
hbc_check(const struct hbc_maps *maps, int idx, const char *content,
    int header, struct hbc_result *r)
{
	const char *value;
	struct map *bad;
	char *copy, *cmd, *arg;

	memset(r, 0, sizeof(*r));
	r->act = HBC_KEEP;
	switch (maps_find(&maps->list[idx], content, 0, &value, &bad)) {
	case MAP_NOTFOUND:
		return;
	case MAP_TEMPFAIL:
		r->act = HBC_TEMPFAIL;
		r->problem = concatenate(maps->list[idx].param, " map lookup problem: ",
		    bad ? map_reason(bad) : "table not available", (char *)0);
		return;
	case MAP_FOUND:
		break;
	}
	copy = xstrdup(value);
	cmd = copy + strspn(copy, " \t");
	arg = cmd + strcspn(cmd, " \t");
	if (*arg)
		*arg++ = 0;
	arg = skipblanks(arg);
	trimblanks(arg);
	if (strcasecmp(cmd, "WARN") == 0 || strcasecmp(cmd, "INFO") == 0) {
		r->log_action = strcasecmp(cmd, "WARN") == 0 ? "warning" : "info";
		r->log_text = xstrdup(arg);
	} else if (strcasecmp(cmd, "IGNORE") == 0) {
		r->act = HBC_DROP;
	} else if (strcasecmp(cmd, "STRIP") == 0) {
		r->act = HBC_DROP;
		r->log_action = "strip";
		r->log_text = xstrdup(arg);
	} else if (strcasecmp(cmd, "REPLACE") == 0
	    || strcasecmp(cmd, "PREPEND") == 0) {
		int replace = strcasecmp(cmd, "REPLACE") == 0;

		/* The warnings word for word as Postfix's. */
		if (*arg == 0 || (header
		    && mime_parse_header_name_len(arg, strlen(arg)) == 0)) {
			r->problem = concatenate("bad ", replace ? "REPLACE" : "PREPEND",
			    header ? " header text \"" : " body text \"", arg,
			    "\" in ", maps->list[idx].param, " map", header
			    ? " -- need \"headername: headervalue\"" : "",
			    (char *)0);
		} else {
			r->act = replace ? HBC_REPLACE : HBC_PREPEND;
			r->text = xstrdup(arg);
			r->log_action = replace ? "replace" : "prepend";
			r->log_text = xstrdup(arg);
		}
	} else if (strcasecmp(cmd, "DUNNO") == 0 || strcasecmp(cmd, "OK") == 0) {
		/* nothing */
	} else {
		/* REJECT, DISCARD, HOLD, FILTER, REDIRECT, BCC, PASS change
		 * what was accepted; a delivery agent cannot. */
		r->problem = concatenate("unsupported command in ",
		    maps->list[idx].param, " map: ", value, (char *)0);
	}
	free(copy);
}

void
hbc_result_free(struct hbc_result *r)
{
	free(r->text);
	free(r->log_text);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}

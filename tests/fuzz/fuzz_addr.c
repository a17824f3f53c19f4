/* SPDX-License-Identifier: MIT */
/* fuzz_addr - libFuzzer target for the address code in core/mail:
 * RFC 5321 paths (addr_parse.c), the RFC 822 tokenizer (tok822.c) and
 * aliases(5) lines (alias_parse.c).
 *
 * Input: byte 0 picks strict/lenient path parsing and the output limit
 * for tok822; the rest, up to the first NUL, is the text (C strings are
 * what these functions take).  Checks, each an abort when broken:
 *   - a path that parses has no control characters in its internal form;
 *     unless its domain holds characters that only quoting allowed
 *     (quotes are not put back there), its external form internalizes
 *     back to it and parses back to it when written in angle brackets;
 *   - tok822 tokens lie inside the token text, have a known type, and
 *     the serialisers either fit the limit or say they did not;
 *   - an aliases line either parses or gives a reason. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "addr_parse.h"
#include "alias_parse.h"
#include "buf.h"
#include "fuzz_util.h"
#include "mymalloc.h"
#include "stringops.h"
#include "tok822.h"

#define FUZZ_MAX_INPUT	8192

static void
check_path(const char *text, int strict)
{
	char *internal = NULL, *external, *back, *bracketed, *again = NULL;
	const char *err, *domain, *lit, *raw_at;
	int plain;

	if (addr_parse_path(text, strict, &internal, &err) < 0) {
		if (internal != NULL || err == NULL || *err == 0)
			abort();
		return;
	}
	if (internal == NULL)
		abort();
	for (const char *cp = internal; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			abort();
	(void)addr_parse_has_route(internal);
	/* Quotes are removed from the domain too ("a@"b c"" is a@b c), and
	 * only the local part is quoted again: round-trip only addresses
	 * whose domain needs no quoting. */
	domain = strrchr(internal, '@');
	plain = domain == NULL || strpbrk(domain + 1, " \t<>(),;:\"\\@") == NULL;
	raw_at = strrchr(text, '@');
	if (raw_at != NULL && strpbrk(raw_at, "\"\\") != NULL)
		plain = 0;
	/* An '@' inside an address literal moves the last '@'. */
	lit = strchr(internal, '[');
	if (lit != NULL && (domain == NULL || lit != domain + 1))
		plain = 0;
	external = addr_parse_externalize(internal);
	back = addr_parse_internalize(external);
	if (plain && strcmp(back, internal) != 0)
		abort();
	bracketed = concatenate("<", external, ">", (char *)0);
	if (plain && strlen(bracketed) <= ADDR_PARSE_MAX
	    && (addr_parse_path(bracketed, 1, &again, &err) < 0
		|| strcmp(again, internal) != 0))
		abort();
	free(again);
	free(bracketed);
	free(back);
	free(external);
	free(internal);
}

static void
check_tok822(const char *text, size_t limit)
{
	struct tok822_list *list = tok822_list_new();
	struct buf *out = buf_new(64, limit);
	size_t n = tok822_scan(list, text);

	if (n != list->count)
		abort();
	for (size_t i = 0; i < list->count; i++) {
		const struct tok822 *t = list->tok + i;

		if (t->off > buf_len(list->text)
		    || t->len > buf_len(list->text) - t->off)
			abort();
		if (t->type < 256 ? strchr("<>@,;:.!%|])", t->type) == NULL
		    || t->type == 0 : t->type > TOK822_DOMLIT)
			abort();
	}
	if (tok822_externalize(out, list, 0, list->count) < 0
	    && limit == BUF_NOLIMIT)
		abort();
	buf_reset(out);
	if (tok822_internalize(out, list, 0, list->count) < 0
	    && limit == BUF_NOLIMIT)
		abort();
	if (list->count > 0) {
		long at = tok822_find(list, 0, list->count, '@');

		if (at >= 0 && (list->tok[at].type != '@' || (size_t)at >= list->count))
			abort();
		buf_reset(out);
		(void)tok822_externalize(out, list, list->count / 2, list->count);
	}
	tok822_list_reset(list);
	if (list->count != 0)
		abort();
	buf_free(&out);
	tok822_list_free(&list);
}

static void
check_alias(const char *text)
{
	struct buf *key = buf_new(64, 4096), *value = buf_new(64, 65536);
	char *line = xstrdup(text);
	const char *err = NULL;

	if (alias_parse_line(line, key, value, &err) < 0 && (err == NULL || *err == 0))
		abort();
	if (strcmp(line, text) != 0)
		abort();			/* documented: not modified */
	free(line);
	buf_free(&key);
	buf_free(&value);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_quiet();
	text = xstrndup((const char *)data + 1, size - 1);
	check_path(text, data[0] & 1);
	check_tok822(text, (data[0] & 2) ? 64 + data[0] : BUF_NOLIMIT);
	check_alias(text);
	free(text);
	return 0;
}

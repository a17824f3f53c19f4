/* SPDX-License-Identifier: MIT */
/* utf8 - UTF-8 checks and case folding; see utf8.h. */
#include "postino_config.h"

#include <stddef.h>

#include "utf8.h"
#include "utf8_fold.h"

/* utf8_decode - one code point at *sp; advances *sp.  Returns the code
 * point, or -1 for anything that is not well-formed UTF-8. */
static long
utf8_decode(const unsigned char **sp)
{
	const unsigned char *s = *sp;
	unsigned long cp;
	int n;

	if (s[0] < 0x80) {
		*sp = s + 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 1;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 2;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 3;
		cp = s[0] & 0x07;
	} else {
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
	    || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*sp = s + n + 1;
	return (long)cp;
}

int
utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s)
		if (utf8_decode(&s) < 0)
			return 0;
	return 1;
}

int
utf8_allascii(const char *str)
{
	for (const unsigned char *s = (const unsigned char *)str; *s; s++)
		if (*s >= 0x80)
			return 0;
	return 1;
}

/* utf8_put - append code point cp in UTF-8. */
static int
utf8_put(struct buf *out, unsigned int cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

/* utf8_fold_find - the table entry of cp, or NULL when cp folds to
 * itself. */
static const struct utf8_fold *
utf8_fold_find(unsigned int cp)
{
	size_t lo = 0, hi = sizeof(utf8_fold_table) / sizeof(utf8_fold_table[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (utf8_fold_table[mid].cp == cp)
			return &utf8_fold_table[mid];
		if (utf8_fold_table[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
utf8_casefold(struct buf *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	buf_reset(out);
	while (*s) {
		const struct utf8_fold *f;
		long cp;

		if (*s < 0x80) {
			/* ASCII: the folding is plain lowercasing. */
			int c = *s++;

			if (buf_putc(out, c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c) < 0)
				goto fail;
			continue;
		}
		if ((cp = utf8_decode(&s)) < 0)
			goto fail;
		if ((f = utf8_fold_find((unsigned int)cp)) == NULL) {
			if (utf8_put(out, (unsigned int)cp) < 0)
				goto fail;
			continue;
		}
		for (int i = 0; i < 3 && f->to[i] != 0; i++)
			if (utf8_put(out, f->to[i]) < 0)
				goto fail;
	}
	return 0;

fail:
	buf_reset(out);
	return -1;
}

/* SPDX-License-Identifier: MIT */
/* map_regexp_posix - the POSIX regcomp/regexec engine of the regexp:
 * table type.
 *
 * Extended syntax and case-insensitive matching by default (flags x and
 * i toggle them; x selects basic syntax), m selects REG_NEWLINE.  Rules
 * whose result does not use captures are compiled with REG_NOSUB. */
#include "postino_config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_regexp.h"
#include "mymalloc.h"

/* Limits for what glibc's regcomp is given: it recurses once per nested
 * group (a deep enough nest overflows the stack) and copies the atom of
 * every '+' and interval (stacked ones grow exponentially: "a++++..."
 * takes gigabytes).  Postfix hands such patterns over as they are; here
 * they are refused with a warning, as PCRE2 refuses its own excesses. */
#define POSIX_MAX_DEPTH	250
#define POSIX_MAX_COST	250000.0

struct posix_state {
	regmatch_t *pm;
	size_t npm;
};

static int
posix_flag(int ch, int *opts, const char **warn_r)
{
	switch (ch) {
	case 'i': *opts ^= RX_OPT_I; return 0;
	case 'm': *opts ^= RX_OPT_M; return 0;
	case 'x': *opts ^= RX_OPT_X; return 0;
	default:
		return -1;
	}
}

static enum rx_syntax
posix_syntax(int opts)
{
	return (opts & RX_OPT_X) ? RX_SYNTAX_ERE : RX_SYNTAX_NONE;
}

/* interval - parse "{n}", "{n,}", "{n,m}" (ERE) or "\\{...\\}" (BRE)
 * at p; the largest copy count, and *end_r past it.  0 if malformed. */
static double
interval(const char *p, int ere, const char **end_r)
{
	double n = 0, m = -1;

	p += ere ? 1 : 2;
	for (; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (*p - '0');
	if (*p == ',') {
		p++;
		m = (*p >= '0' && *p <= '9') ? 0 : n + 1;
		for (; *p >= '0' && *p <= '9'; p++)
			m = m * 10 + (*p - '0');
	}
	if (ere ? *p != '}' : (p[0] != '\\' || p[1] != '}'))
		return 0;
	*end_r = p + (ere ? 1 : 2);
	return m > n ? m : (n > 0 ? n : 1);
}

/* posix_check - NULL, or why regcomp must not see this pattern. */
static const char *
posix_check(const char *p, int ere)
{
	double total[POSIX_MAX_DEPTH + 1], cur[POSIX_MAX_DEPTH + 1];
	double last[POSIX_MAX_DEPTH + 1];
	int d = 0;

	total[0] = cur[0] = last[0] = 0;
	while (*p) {
		int esc = (*p == '\\' && p[1] != 0);
		int c = esc ? (unsigned char)p[1] : (unsigned char)*p;
		int special = ere ? !esc : esc;	/* ( ) | { + ? */
		double k;
		const char *end;

		if (!esc && c == '[') {
			const char *q = p + 1;

			if (*q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
					const char *e = strchr(q + 2, ']');

					q = e ? e : q + 1;
				}
				q++;
			}
			p = *q ? q + 1 : q;
			cur[d] += 1;
			last[d] = 1;
		} else if (special && c == '(') {
			if (++d > POSIX_MAX_DEPTH)
				return "parentheses are too deeply nested";
			total[d] = cur[d] = last[d] = 0;
			p += esc ? 2 : 1;
		} else if (special && c == ')' && d > 0) {
			double size = total[d] + cur[d] + 1;

			d--;
			cur[d] += size;
			last[d] = size;
			p += esc ? 2 : 1;
		} else if (special && c == '|') {
			total[d] += cur[d];
			cur[d] = last[d] = 0;
			p += esc ? 2 : 1;
		} else if ((!esc && c == '*') || (special && c == '?')) {
			cur[d] += 1;
			last[d] += 1;
			p += esc ? 2 : 1;
		} else if (special && c == '+') {
			cur[d] += last[d] + 1;
			last[d] = 2 * last[d] + 1;
			p += esc ? 2 : 1;
		} else if (special && c == '{' && (k = interval(p, ere, &end)) > 0) {
			cur[d] += last[d] * (k - 1) + 1;
			last[d] = last[d] * k + 1;
			p = end;
		} else {
			cur[d] += 1;
			last[d] = 1;
			p += esc ? 2 : 1;
		}
		if (total[d] + cur[d] > POSIX_MAX_COST)
			return "regular expression is too large";
	}
	return NULL;
}

static void *
posix_compile_pat(struct map_regexp *mr, const char *pattern, int opts,
    int need_groups, int *ngroups_r, char **err_r)
{
	regex_t *re = xcalloc(1, sizeof(*re));
	int cflags = 0, rc;
	const char *why;

	if (opts & RX_OPT_I)
		cflags |= REG_ICASE;
	if (opts & RX_OPT_M)
		cflags |= REG_NEWLINE;
	if (opts & RX_OPT_X)
		cflags |= REG_EXTENDED;
	if (!need_groups)
		cflags |= REG_NOSUB;
	if ((why = posix_check(pattern, (opts & RX_OPT_X) != 0)) != NULL) {
		*err_r = xstrdup(why);
		free(re);
		return NULL;
	}
	if ((rc = regcomp(re, pattern, cflags)) != 0) {
		char msg[256];

		regerror(rc, re, msg, sizeof(msg));
		*err_r = xstrdup(msg);
		free(re);
		return NULL;
	}
	*ngroups_r = (int)re->re_nsub;
	return re;
}

static int
posix_exec_pat(struct map_regexp *mr, void *re, const char *key, size_t len,
    int want_groups, const char **err_r)
{
	struct posix_state *ps = mr->engine_state;
	size_t need = (size_t)mr->max_groups + 1;
	int rc;

	if (!want_groups) {
		rc = regexec(re, key, 0, NULL, 0);
	} else {
		if (ps->npm < need) {
			ps->pm = xreallocarray(ps->pm, need, sizeof(*ps->pm));
			ps->npm = need;
		}
		rc = regexec(re, key, need, ps->pm, 0);
	}
	if (rc == REG_NOMATCH)
		return 0;
	if (rc != 0) {
		*err_r = (rc == REG_ESPACE) ? "regexec: out of memory"
		    : "regexec: matching error";
		return -1;
	}
	if (want_groups) {
		for (size_t g = 0; g < need; g++) {
			if (g <= ((regex_t *)re)->re_nsub && ps->pm[g].rm_so >= 0) {
				mr->ovec[2 * g] = (long)ps->pm[g].rm_so;
				mr->ovec[2 * g + 1] = (long)ps->pm[g].rm_eo;
			} else {
				mr->ovec[2 * g] = mr->ovec[2 * g + 1] = -1;
			}
		}
	}
	return 1;
}

static void
posix_free_pat(void *re)
{
	regfree(re);
	free(re);
}

static void
posix_init(struct map_regexp *mr)
{
	mr->engine_state = xcalloc(1, sizeof(struct posix_state));
}

static void
posix_fini(struct map_regexp *mr)
{
	struct posix_state *ps = mr->engine_state;

	if (ps == NULL)
		return;
	free(ps->pm);
	free(ps);
	mr->engine_state = NULL;
}

const struct map_regexp_engine map_regexp_posix_engine = {
	.type = "regexp",
	.default_opts = RX_OPT_I | RX_OPT_X,
	.legacy_and_not = 1,
	.flag = posix_flag,
	.syntax = posix_syntax,
	.compile = posix_compile_pat,
	.exec = posix_exec_pat,
	.free = posix_free_pat,
	.init = posix_init,
	.fini = posix_fini,
};

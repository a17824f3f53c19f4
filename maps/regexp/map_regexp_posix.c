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

static void *
posix_compile_pat(struct map_regexp *mr, const char *pattern, int opts,
    int need_groups, int *ngroups_r, char **err_r)
{
	regex_t *re = xcalloc(1, sizeof(*re));
	int cflags = 0, rc;

	if (opts & RX_OPT_I)
		cflags |= REG_ICASE;
	if (opts & RX_OPT_M)
		cflags |= REG_NEWLINE;
	if (opts & RX_OPT_X)
		cflags |= REG_EXTENDED;
	if (!need_groups)
		cflags |= REG_NOSUB;
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

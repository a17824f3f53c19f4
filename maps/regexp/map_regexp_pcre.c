/* SPDX-License-Identifier: MIT */
/* map_regexp_pcre - the PCRE2 engine of the pcre: table type.
 *
 * Patterns are compiled with the options their flags select (caseless
 * and dotall by default; UTF mode with MAP_FLAG_UTF8) and then JIT
 * compiled when the library can.  One match data block and one JIT stack
 * per table are reused by every lookup.  A JIT stack overflow is retried
 * with the interpreter, so that JIT never changes what matches; other
 * match-time errors (match limit, bad UTF-8) are reported to the caller,
 * which warns and counts the rule as not matching. */
#include "postino_config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_regexp.h"
#include "mymalloc.h"
#include "stringops.h"

struct pcre_state {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	char errbuf[256];
};

static int
pcre_flag(int ch, int *opts, const char **warn_r)
{
	switch (ch) {
	case 'i': *opts ^= RX_OPT_I; return 0;
	case 'm': *opts ^= RX_OPT_M; return 0;
	case 's': *opts ^= RX_OPT_S; return 0;
	case 'x': *opts ^= RX_OPT_X; return 0;
	case 'A': *opts ^= RX_OPT_A; return 0;
	case 'E': *opts ^= RX_OPT_E; return 0;
	case 'U': *opts ^= RX_OPT_U; return 0;
	case 'X':
		*warn_r = "ignoring obsolete regexp option";
		return 1;
	default:
		return -1;
	}
}

static enum rx_syntax
pcre_syntax(int opts)
{
	return (opts & RX_OPT_X) ? RX_SYNTAX_NONE : RX_SYNTAX_PCRE;
}

static void *
pcre_compile_pat(struct map_regexp *mr, const char *pattern, int opts,
    int need_groups, int *ngroups_r, char **err_r)
{
	uint32_t o = 0, count = 0;
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *re;

	if (opts & RX_OPT_I)
		o |= PCRE2_CASELESS;
	if (opts & RX_OPT_M)
		o |= PCRE2_MULTILINE;
	if (opts & RX_OPT_X)
		o |= PCRE2_EXTENDED;
	if (opts & RX_OPT_S)
		o |= PCRE2_DOTALL;
	if (opts & RX_OPT_A)
		o |= PCRE2_ANCHORED;
	if (opts & RX_OPT_E)
		o |= PCRE2_DOLLAR_ENDONLY;
	if (opts & RX_OPT_U)
		o |= PCRE2_UNGREEDY;
	if (opts & RX_OPT_UTF)
		o |= PCRE2_UTF;
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, o,
	    &errcode, &erroff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			strlcpy((char *)msg, "unknown error", sizeof(msg));
		*err_r = map_errorf("error in regex at offset %zu: %s",
		    (size_t)erroff, (const char *)msg);
		return NULL;
	}
	/* JIT is an optimisation: without it the interpreter runs. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	(void)pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &count);
	*ngroups_r = (int)count;
	return re;
}

static int
pcre_exec_pat(struct map_regexp *mr, void *re, const char *key, size_t len,
    int want_groups, const char **err_r)
{
	struct pcre_state *ps = mr->engine_state;
	int rc;

	if (ps->md == NULL)
		ps->md = pcre2_match_data_create((uint32_t)mr->max_groups + 1,
		    NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)key, len, 0, 0, ps->md, ps->mctx);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(re, (PCRE2_SPTR)key, len, 0, PCRE2_NO_JIT,
		    ps->md, ps->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		switch (rc) {
		case PCRE2_ERROR_MATCHLIMIT:
			*err_r = "match limit exceeded";
			break;
		case PCRE2_ERROR_DEPTHLIMIT:
			*err_r = "depth limit exceeded";
			break;
		case PCRE2_ERROR_HEAPLIMIT:
			*err_r = "heap limit exceeded";
			break;
		default:
			if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)ps->errbuf,
			    sizeof(ps->errbuf)) < 0)
				snprintf(ps->errbuf, sizeof(ps->errbuf),
				    "unknown matching error %d", rc);
			*err_r = ps->errbuf;
			break;
		}
		return -1;
	}
	if (want_groups) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ps->md);
		uint32_t n = pcre2_get_ovector_count(ps->md);

		for (int g = 0; g <= mr->max_groups; g++) {
			if ((uint32_t)g < n && (rc == 0 || g < rc)
			    && ov[2 * g] != PCRE2_UNSET) {
				mr->ovec[2 * g] = (long)ov[2 * g];
				mr->ovec[2 * g + 1] = (long)ov[2 * g + 1];
			} else {
				mr->ovec[2 * g] = mr->ovec[2 * g + 1] = -1;
			}
		}
	}
	return 1;
}

static void
pcre_free_pat(void *re)
{
	pcre2_code_free(re);
}

static void
pcre_init(struct map_regexp *mr)
{
	struct pcre_state *ps = xcalloc(1, sizeof(*ps));

	ps->mctx = pcre2_match_context_create(NULL);
	ps->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (ps->mctx && ps->jstack)
		pcre2_jit_stack_assign(ps->mctx, NULL, ps->jstack);
	mr->engine_state = ps;
}

static void
pcre_fini(struct map_regexp *mr)
{
	struct pcre_state *ps = mr->engine_state;

	if (ps == NULL)
		return;
	pcre2_match_data_free(ps->md);
	pcre2_match_context_free(ps->mctx);
	pcre2_jit_stack_free(ps->jstack);
	free(ps);
	mr->engine_state = NULL;
}

const struct map_regexp_engine map_regexp_pcre_engine = {
	.type = "pcre",
	.default_opts = RX_OPT_I | RX_OPT_S,
	.legacy_and_not = 0,
	.flag = pcre_flag,
	.syntax = pcre_syntax,
	.compile = pcre_compile_pat,
	.exec = pcre_exec_pat,
	.free = pcre_free_pat,
	.init = pcre_init,
	.fini = pcre_fini,
};

/* SPDX-License-Identifier: MIT */
/* map_regexp - the pcre: and regexp: table types (one module).
 *
 * A table is a file of rules, or the rules inline in the name
 * ("pcre:{ {/a/ x}, {/b/ y} }").  Rules, in file order:
 *
 *	/pattern/flags result		the first rule that matches wins
 *	!/pattern/flags result		fires when the pattern does not match
 *	/p1/!/p2/ result		regexp only: p1 matches and p2 does not
 *	if /pattern/flags ... endif	a block tried only when the test holds
 *
 * with $n, ${n}, $(n) replaced by capture n and $$ by '$'.  A bad rule
 * is skipped with a warning "TYPE map FILE, line N: ..." and the rest of
 * the table still loads, as Postfix does.  Keys are never case-folded
 * here; patterns are case-insensitive by default (flag i toggles).
 *
 * Lookups visit the rules in file order.  The prefilter (see
 * map_regexp.h) only decides, without running it, that a pattern cannot
 * match; which rule answers is always the one the plain scan would pick.
 *
 * With MAP_FLAG_EXPLAIN every lookup records which rule answered, the
 * if-blocks entered or skipped, and how many rules were tried.
 *
 * Logs: load-time warnings per bad rule; match-time errors (PCRE2 match
 * limit, bad UTF-8) as warnings naming file and line, the rule then
 * counting as not matching. */
#include "postino_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "map_regexp.h"
#include "msg.h"
#include "mymalloc.h"
#include "readlline.h"
#include "stringops.h"

int map_regexp_prefilter_disable;

#define ISALNUM_C(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') \
			 || ((c) >= '0' && (c) <= '9'))

/* rx_warn - "TYPE map SOURCE, line N: text". */
static void PRINTFLIKE(3, 4)
rx_warn(const struct map_regexp *mr, int lineno, const char *fmt, ...)
{
	struct buf *b = buf_new(128, BUF_NOLIMIT);
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	/* A quoted table line can be a megabyte: keep log lines sane. */
	if (buf_len(b) > 2000) {
		buf_truncate(b, 2000);
		buf_puts(b, "...");
	}
	/* Table text can be anything: log it printable, as Postfix does. */
	for (char *cp = b->data; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || (unsigned char)*cp >= 0x7f)
			*cp = '?';
	msg_warn("%s map %s, line %d: %s", mr->eng->type, mr->source, lineno,
	    buf_str(b));
	buf_free(&b);
}

/* Parsing. */

/* struct rx_parsed - a pattern as read from a rule, before compiling. */
struct rx_parsed {
	char *pattern;			/* between the delimiters, escapes kept */
	char *text;			/* as written, for explain */
	int match;
	int opts;
};

/* parse_pat - read "[!...]<d>pattern<d>flags" at *pp.  The pattern is
 * everything up to the next unescaped delimiter (a backslash escapes any
 * character and stays in the pattern).  Flags end at whitespace, and for
 * the regexp type also at '!'.  0 ok, -1 after a warning. */
static int
parse_pat(struct map_regexp *mr, int lineno, char **pp, struct rx_parsed *out)
{
	char *p = *pp;
	char *start, *end;
	int delim;

	out->match = 1;
	out->opts = mr->eng->default_opts;
	if (mr->map.flags & MAP_FLAG_UTF8)
		out->opts |= RX_OPT_UTF;
	for (;; p++) {
		if (*p == '!')
			out->match = !out->match;
		else if (!ISSPACE((unsigned char)*p))
			break;
	}
	if (*p == 0) {
		rx_warn(mr, lineno, "no regexp: skipping this rule");
		return -1;
	}
	start = p;
	delim = (unsigned char)*p++;
	while (*p && (unsigned char)*p != delim) {
		if (*p == '\\' && p[1] != 0)
			p++;
		p++;
	}
	if (*p == 0) {
		/* Postfix words this differently per type; so do we. */
		rx_warn(mr, lineno, "no closing regexp delimiter \"%c\": %s this rule",
		    delim, mr->eng->legacy_and_not ? "skipping" : "ignoring");
		return -1;
	}
	end = p++;
	for (; *p && !ISSPACE((unsigned char)*p); p++) {
		const char *why = NULL;
		int rc;

		if (*p == '!' && mr->eng->legacy_and_not)
			break;
		rc = mr->eng->flag((unsigned char)*p, &out->opts, &why);
		if (rc < 0) {
			rx_warn(mr, lineno, "unknown regexp option \"%c\": skipping this rule",
			    *p);
			return -1;
		}
		if (rc > 0)
			rx_warn(mr, lineno, "%s \"%c\"", why, *p);
	}
	out->pattern = xstrndup(start + 1, (size_t)(end - start - 1));
	out->text = xstrndup(start, (size_t)(p - start));
	*pp = p;
	return 0;
}

static void
parsed_free(struct rx_parsed *pp)
{
	free(pp->pattern);
	free(pp->text);
	pp->pattern = pp->text = NULL;
}

/* subst_ref - parse the reference after a '$' at p (p points past the
 * '$').  Returns the character after the reference and sets the name
 * span; NULL when a bracketed name has no closing bracket. */
static const char *
subst_ref(const char *p, const char **name_r, size_t *len_r)
{
	if (*p == '{' || *p == '(') {
		int open = *p, close = (*p == '{') ? '}' : ')';
		int depth = 1;
		const char *q = p + 1;

		for (; *q; q++) {
			if (*q == open)
				depth++;
			else if (*q == close && --depth == 0)
				break;
		}
		if (*q == 0)
			return NULL;
		*name_r = p + 1;
		*len_r = (size_t)(q - p - 1);
		return q + 1;
	}
	*name_r = p;
	while (ISALNUM_C(*p) || *p == '_')
		p++;
	*len_r = (size_t)(p - *name_r);
	return p;
}

/* prescan - check the result's $ references; *max_r = largest index,
 * *dollar_r = any '$' at all.  0 ok, -1 after warnings. */
static int
prescan(struct map_regexp *mr, int lineno, const char *text, int *max_r,
    int *dollar_r, char *max_name, size_t max_name_size)
{
	const char *p = text;

	*max_r = 0;
	max_name[0] = 0;
	*dollar_r = 0;
	while ((p = strchr(p, '$')) != NULL) {
		const char *name;
		size_t len;
		unsigned long n = 0;

		*dollar_r = 1;
		if (p[1] == '$') {
			p += 2;
			continue;
		}
		if ((p = subst_ref(p + 1, &name, &len)) == NULL) {
			rx_warn(mr, lineno, "truncated macro reference: \"%s\"", text);
			goto bad;
		}
		if (len == 0) {
			rx_warn(mr, lineno, "empty macro name: \"%s\"", text);
			goto bad;
		}
		for (size_t i = 0; i < len; i++) {
			if (name[i] < '0' || name[i] > '9') {
				rx_warn(mr, lineno, "non-numeric replacement index \"%.*s\"",
				    (int)len, name);
				goto bad;
			}
			n = n * 10 + (unsigned long)(name[i] - '0');
			if (n > INT_MAX)
				n = INT_MAX;
		}
		if (n == 0) {
			rx_warn(mr, lineno, "%s replacement index \"%.*s\"",
			    mr->eng->legacy_and_not ? "out-of-range" : "out of range",
			    (int)len, name);
			goto bad;
		}
		if ((int)n > *max_r) {
			*max_r = (int)n;
			snprintf(max_name, max_name_size, "%.*s", (int)len, name);
		}
	}
	return 0;
bad:
	rx_warn(mr, lineno, "bad replacement syntax: skipping this rule");
	return -1;
}

/* compile_pat - compile a parsed pattern into out; 0 or -1 (warned). */
static int
compile_pat(struct map_regexp *mr, int lineno, struct rx_parsed *pp,
    int need_groups, struct rx_pat *out, int *ngroups_r)
{
	char *err = NULL;
	int ngroups = 0;

	out->re = mr->eng->compile(mr, pp->pattern, pp->opts, need_groups,
	    &ngroups, &err);
	if (out->re == NULL) {
		rx_warn(mr, lineno, "%s", err ? err : "cannot compile");
		free(err);
		return -1;
	}
	out->match = pp->match;
	out->lit = -1;
	out->text = concatenate(pp->match ? "" : "!", pp->text, (char *)0);
	if (ngroups_r)
		*ngroups_r = ngroups;
	return 0;
}

/* add_rule - append a rule; returns it (zeroed but for op/lineno). */
static struct rx_rule *
add_rule(struct map_regexp *mr, int *cap, enum rx_op op, int lineno)
{
	struct rx_rule *r;

	if (mr->nrules == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		mr->rules = xreallocarray(mr->rules, (size_t)*cap, sizeof(*mr->rules));
	}
	r = &mr->rules[mr->nrules++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->lineno = lineno;
	r->pat.lit = -1;
	return r;
}

/* Parser state across lines: the stack of open IF rules. */
struct rx_loadstate {
	int cap;
	int *ifs;
	int nifs;
	int ifs_cap;
};

/* parse_match - a "/pattern/flags result" line. */
static void
parse_match(struct map_regexp *mr, struct rx_loadstate *ls, char *p, int lineno)
{
	struct rx_parsed p1 = {0}, p2 = {0};
	int have2 = 0, max_sub, dollar, ngroups;
	char max_name[32];
	struct rx_pat c1 = {0}, c2 = {0};
	struct rx_rule *r;

	if (parse_pat(mr, lineno, &p, &p1) < 0)
		return;
	if (mr->eng->legacy_and_not && *p == '!') {
		if (parse_pat(mr, lineno, &p, &p2) < 0)
			goto out;
		have2 = 1;
	}
	while (ISSPACE((unsigned char)*p))
		p++;
	if (*p == 0)
		rx_warn(mr, lineno, "no replacement text: using empty string");
	if (prescan(mr, lineno, p, &max_sub, &dollar, max_name,
	    sizeof(max_name)) < 0)
		goto out;
	if (max_sub > 0 && !p1.match) {
		rx_warn(mr, lineno, "$number found in negative match replacement text: skipping this rule");
		goto out;
	}
	if (max_sub > 0 && (mr->map.flags & MAP_FLAG_NO_REGSUB)) {
		rx_warn(mr, lineno, "regular expression substitution is not allowed: skipping this rule");
		goto out;
	}
	if (compile_pat(mr, lineno, &p1, max_sub > 0, &c1, &ngroups) < 0)
		goto out;
	if (max_sub > ngroups) {
		rx_warn(mr, lineno, "out of range replacement index \"%s\": skipping this rule",
		    max_name);
		mr->eng->free(c1.re);
		free(c1.text);
		goto out;
	}
	if (have2 && compile_pat(mr, lineno, &p2, 0, &c2, NULL) < 0) {
		mr->eng->free(c1.re);
		free(c1.text);
		goto out;
	}
	c1.litstr = map_regexp_lit_extract(p1.pattern, mr->eng->syntax(p1.opts),
	    (p1.opts & RX_OPT_I) != 0);
	if (have2)
		c2.litstr = map_regexp_lit_extract(p2.pattern,
		    mr->eng->syntax(p2.opts), (p2.opts & RX_OPT_I) != 0);
	r = add_rule(mr, &ls->cap, RX_OP_MATCH, lineno);
	r->pat = c1;
	if (have2)
		r->pat2 = xmemdup(&c2, sizeof(c2));
	r->result = xstrdup(p);
	r->has_subst = dollar;
	r->max_sub = max_sub;
	if (max_sub > mr->max_groups)
		mr->max_groups = max_sub;
out:
	parsed_free(&p1);
	parsed_free(&p2);
}

/* parse_if - an "if /pattern/flags" line. */
static void
parse_if(struct map_regexp *mr, struct rx_loadstate *ls, char *p, int lineno)
{
	struct rx_parsed p1 = {0};
	struct rx_pat c1 = {0};
	struct rx_rule *r;

	if (parse_pat(mr, lineno, &p, &p1) < 0)
		return;
	while (ISSPACE((unsigned char)*p))
		p++;
	if (*p) {
		rx_warn(mr, lineno, "ignoring extra text after IF statement: \"%s\"", p);
		rx_warn(mr, lineno, "do not prepend whitespace to statements between IF and ENDIF");
	}
	if (compile_pat(mr, lineno, &p1, 0, &c1, NULL) < 0)
		goto out;
	c1.litstr = map_regexp_lit_extract(p1.pattern, mr->eng->syntax(p1.opts),
	    (p1.opts & RX_OPT_I) != 0);
	r = add_rule(mr, &ls->cap, RX_OP_IF, lineno);
	r->pat = c1;
	if (ls->nifs == ls->ifs_cap) {
		ls->ifs_cap = ls->ifs_cap ? ls->ifs_cap * 2 : 16;
		ls->ifs = xreallocarray(ls->ifs, (size_t)ls->ifs_cap, sizeof(*ls->ifs));
	}
	ls->ifs[ls->nifs++] = mr->nrules - 1;
out:
	parsed_free(&p1);
}

/* parse_endif - close the innermost IF; the ENDIF itself is not stored:
 * a failed IF jumps to the rule after it. */
static void
parse_endif(struct map_regexp *mr, struct rx_loadstate *ls, char *p, int lineno)
{
	while (ISSPACE((unsigned char)*p))
		p++;
	if (ls->nifs == 0) {
		rx_warn(mr, lineno, "ignoring ENDIF without matching IF");
		return;
	}
	if (*p)
		rx_warn(mr, lineno, "ignoring extra text after ENDIF");
	mr->rules[ls->ifs[--ls->nifs]].skip_to = mr->nrules;
	mr->rules[ls->ifs[ls->nifs]].endif_lineno = lineno;
}

/* keyword - does line start with word (any case) followed by a
 * non-alphanumeric character? */
static int
keyword(const char *line, const char *word)
{
	size_t n = strlen(word);

	return strncasecmp(line, word, n) == 0 && !ISALNUM_C(line[n]);
}

/* parse_line - one logical line (never starts with whitespace). */
static void
parse_line(struct map_regexp *mr, struct rx_loadstate *ls, char *line,
    int lineno)
{
	/* Trailing whitespace is not part of a rule (as in Postfix). */
	trimblanks(line);
	if (!ISALNUM_C(*line))
		parse_match(mr, ls, line, lineno);
	else if (keyword(line, "if"))
		parse_if(mr, ls, line + 2, lineno);
	else if (keyword(line, "endif"))
		parse_endif(mr, ls, line + 5, lineno);
	else
		rx_warn(mr, lineno, "ignoring unrecognized request");
}

/* load_finish - close IFs without ENDIF (innermost first, as Postfix
 * reports them): their block runs to the end of the table. */
static void
load_finish(struct map_regexp *mr, struct rx_loadstate *ls)
{
	while (ls->nifs > 0) {
		struct rx_rule *r = &mr->rules[ls->ifs[--ls->nifs]];

		rx_warn(mr, r->lineno, "IF has no matching ENDIF");
		r->skip_to = mr->nrules;
	}
	free(ls->ifs);
	ls->ifs = NULL;
}

/* load_file - read the rules from a file; NULL or an error. */
static char *
load_file(struct map_regexp *mr, struct rx_loadstate *ls, const char *path)
{
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line;
	struct stat st;
	int lineno;

	if ((fp = fopen(path, "r")) == NULL)
		return map_errorf("open %s: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) == 0)
		mr->map.mtime = st.st_mtime;
	line = buf_new(256, BUF_NOLIMIT);
	rd = lline_open(fp, path, 0);
	while (lline_read(rd, line, &lineno))
		parse_line(mr, ls, line->data, lineno);
	lline_close(&rd);
	buf_free(&line);
	if (ferror(fp)) {
		int saved = errno;

		fclose(fp);
		return map_errorf("read %s: %s", path, strerror(saved));
	}
	fclose(fp);
	return NULL;
}

/* load_inline - "{ {rule}, {rule} ... }": each braced item is one line,
 * numbered from 1. */
static char *
load_inline(struct map_regexp *mr, struct rx_loadstate *ls, const char *name)
{
	char *body = xstrdup(skipblanks(name));
	char *p, *end;
	int lineno = 0;
	char *err = NULL;

	trimblanks(body);
	end = body + strlen(body);
	if (*body != '{' || end == body + 1 || end[-1] != '}') {
		err = map_errorf("%s map: missing '}' in \"%s\"", mr->eng->type, name);
		goto out;
	}
	end[-1] = 0;
	p = body + 1;
	for (;;) {
		char *item, *q;
		int depth;

		while (*p == ',' || ISSPACE((unsigned char)*p))
			p++;
		if (*p == 0)
			break;
		if (*p != '{') {
			size_t n = strcspn(p, ", \t\r\n");

			err = map_errorf("%s map: no '{' at start of text in \"%.*s\"",
			    mr->eng->type, (int)n, p);
			goto out;
		}
		for (q = p + 1, depth = 1; *q; q++) {
			if (*q == '{')
				depth++;
			else if (*q == '}' && --depth == 0)
				break;
		}
		if (*q == 0) {
			err = map_errorf("%s map: missing '}' in \"%s\"", mr->eng->type,
			    name);
			goto out;
		}
		*q = 0;
		item = skipblanks(p + 1);
		trimblanks(item);
		lineno++;
		if (*item)
			parse_line(mr, ls, item, lineno);
		p = q + 1;
	}
out:
	free(body);
	return err;
}

/* Prefilter. */

/* pat_index - give pat its literal id (or -1). */
static void
pat_index(struct map_regexp *mr, struct rx_pat *pat)
{
	pat->lit = -1;
	if (pat->litstr != NULL && mr->ac != NULL && pat->match)
		pat->lit = map_regexp_ac_add(mr->ac, pat->litstr);
	free(pat->litstr);
	pat->litstr = NULL;
}

/* no_literals - no pattern has a literal. */
static int
no_literals(const struct map_regexp *mr)
{
	for (int i = 0; i < mr->nrules; i++)
		if (mr->rules[i].pat.lit >= 0
		    || (mr->rules[i].pat2 && mr->rules[i].pat2->lit >= 0))
			return 0;
	return 1;
}

/* prefilter_build - index every pattern's literal; the rules that a
 * missing literal rules out (MATCH with a positive first pattern) are
 * listed under their literal, all others are always visited. */
static void
prefilter_build(struct map_regexp *mr)
{
	int i;

	if (!map_regexp_prefilter_disable)
		mr->ac = map_regexp_ac_new();
	for (i = 0; i < mr->nrules; i++) {
		struct rx_rule *r = &mr->rules[i];

		pat_index(mr, &r->pat);
		if (r->pat2)
			pat_index(mr, r->pat2);
	}
	if (mr->ac == NULL)
		return;
	if (no_literals(mr)) {
		/* No literals at all: the plain scan, without lowercasing. */
		map_regexp_ac_free(&mr->ac);
		return;
	}
	if (map_regexp_ac_build(mr->ac) < 0) {
		msg_warn("%s map %s: too many literals for the prefilter; using a plain scan",
		    mr->eng->type, mr->source);
		map_regexp_ac_free(&mr->ac);
		for (i = 0; i < mr->nrules; i++) {
			mr->rules[i].pat.lit = -1;
			if (mr->rules[i].pat2)
				mr->rules[i].pat2->lit = -1;
		}
		return;
	}
	mr->nlits = 0;
	for (i = 0; i < mr->nrules; i++) {
		struct rx_rule *r = &mr->rules[i];

		if (r->pat.lit + 1 > mr->nlits)
			mr->nlits = r->pat.lit + 1;
		if (r->pat2 && r->pat2->lit + 1 > mr->nlits)
			mr->nlits = r->pat2->lit + 1;
	}
	mr->lit_seen = xcalloc((size_t)mr->nlits + 1, sizeof(*mr->lit_seen));
	mr->lit_rules = xcalloc((size_t)mr->nlits + 1, sizeof(*mr->lit_rules));
	mr->lit_nrules = xcalloc((size_t)mr->nlits + 1, sizeof(*mr->lit_nrules));
	mr->always = xcalloc((size_t)mr->nrules + 1, sizeof(*mr->always));
	mr->cand = xcalloc((size_t)mr->nrules + 1, sizeof(*mr->cand));
	mr->hit = xcalloc((size_t)mr->nlits + 1, sizeof(*mr->hit));
	mr->gen = 1;
	for (i = 0; i < mr->nrules; i++) {
		struct rx_rule *r = &mr->rules[i];

		if (r->op == RX_OP_MATCH && r->pat.match && r->pat.lit >= 0) {
			int id = r->pat.lit;

			mr->lit_rules[id] = xreallocarray(mr->lit_rules[id],
			    (size_t)mr->lit_nrules[id] + 1, sizeof(int));
			mr->lit_rules[id][mr->lit_nrules[id]++] = i;
		} else {
			mr->always[mr->nalways++] = i;
		}
	}
}

/* Lookup. */

/* struct rx_count - what a lookup did, for explain. */
struct rx_count {
	int visited;			/* rules looked at */
	int tried;			/* patterns run */
	int ruled_out;			/* patterns the prefilter decided */
};

/* pat_test - 1 pattern matches, 0 not, -1 match error (warned). */
static int
pat_test(struct map_regexp *mr, const struct rx_rule *r,
    const struct rx_pat *pat, const char *key, size_t len, int want_groups,
    struct rx_count *cnt)
{
	const char *err = NULL;
	int rc;

	/* A missing literal proves "no match".  Only a positive pattern is
	 * skipped on that proof: there "no match" and a match-time error
	 * (match limit, bad UTF-8) have the same effect, so skipping it
	 * cannot change the answer.  For a negated pattern they differ (an
	 * error means the rule does not fire, as in Postfix), so it runs. */
	if (pat->match && pat->lit >= 0 && mr->lits_valid
	    && mr->lit_seen[pat->lit] != mr->gen) {
		cnt->ruled_out++;
		return 0;
	}
	cnt->tried++;
	rc = mr->eng->exec(mr, pat->re, key, len, want_groups, &err);
	if (rc < 0)
		rx_warn(mr, r->lineno, "%s", err ? err : "match error");
	return rc;
}

/* expand - the rule's result with $n replaced; the value to return. */
static const char *
expand(struct map_regexp *mr, const struct rx_rule *r, const char *key)
{
	const char *p = r->result, *d;

	if (!r->has_subst)
		return r->result;
	buf_reset(mr->result);
	while ((d = strchr(p, '$')) != NULL) {
		const char *name;
		size_t len;
		long n = 0;

		buf_append(mr->result, p, (size_t)(d - p));
		if (d[1] == '$') {
			buf_putc(mr->result, '$');
			p = d + 2;
			continue;
		}
		/* prescan() proved the syntax; be defensive anyway. */
		if ((p = subst_ref(d + 1, &name, &len)) == NULL)
			break;
		for (size_t i = 0; i < len; i++)
			n = n * 10 + (name[i] - '0');
		if (n > 0 && n <= mr->max_groups && mr->ovec[2 * n] >= 0
		    && mr->ovec[2 * n + 1] > mr->ovec[2 * n])
			buf_append(mr->result, key + mr->ovec[2 * n],
			    (size_t)(mr->ovec[2 * n + 1] - mr->ovec[2 * n]));
	}
	if (p)
		buf_puts(mr->result, p);
	return buf_str(mr->result);
}

/* rule_eval - evaluate rule i.  MATCH: 1 fires, 0 not.  IF: 1 enter the
 * block, 0 skip it. */
static int
rule_eval(struct map_regexp *mr, int i, const char *key, size_t len,
    struct rx_count *cnt)
{
	const struct rx_rule *r = &mr->rules[i];
	int want = (r->op == RX_OP_MATCH && r->pat.match && r->max_sub > 0);
	int rc;

	rc = pat_test(mr, r, &r->pat, key, len, want, cnt);
	if (rc < 0 || rc != r->pat.match)
		return 0;
	if (r->pat2 != NULL) {
		rc = pat_test(mr, r, r->pat2, key, len, 0, cnt);
		if (rc < 0 || rc != r->pat2->match)
			return 0;
	}
	return 1;
}

/* explain_rule - record why rule i answered or what an IF did. */
static void
explain_rule(struct map_regexp *mr, int i, const char *key, int outcome,
    const char *value)
{
	const struct rx_rule *r = &mr->rules[i];
	const char *sense = r->pat.match ? "matched" : "did not match";

	if (r->op == RX_OP_IF) {
		if (outcome)
			map_explain(&mr->map,
			    "%s: %s, line %d: if %s: condition holds for \"%s\": entering the block",
			    mr->map.title, mr->source, r->lineno, r->pat.text, key);
		else if (r->endif_lineno > 0)
			map_explain(&mr->map,
			    "%s: %s, line %d: if %s: condition fails for \"%s\": skipping to the ENDIF on line %d",
			    mr->map.title, mr->source, r->lineno, r->pat.text, key,
			    r->endif_lineno);
		else
			map_explain(&mr->map,
			    "%s: %s, line %d: if %s: condition fails for \"%s\": skipping to the end (no ENDIF)",
			    mr->map.title, mr->source, r->lineno, r->pat.text, key);
		return;
	}
	{
		int same = strcmp(r->result, value) == 0;

		map_explain(&mr->map, "%s: %s, line %d: %s%s %s \"%s\" -> \"%s\"%s%s%s",
		    mr->map.title, mr->source, r->lineno, r->pat.text,
		    r->pat2 ? r->pat2->text : "", r->pat2 ? "matched" : sense, key,
		    r->result, same ? "" : " = \"", same ? "" : value,
		    same ? "" : "\"");
	}
}

/* lit_hit - note a literal found in the key (once per lookup). */
static void
lit_hit(void *ctx, int id)
{
	struct map_regexp *mr = ctx;

	if (mr->lit_seen[id] != mr->gen) {
		mr->lit_seen[id] = mr->gen;
		mr->hit[mr->nhit++] = id;
	}
}

/* int_cmp - ascending ints, for qsort. */
static int
int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* prefilter_scan - mark the literals in key; returns the number of
 * candidate rules in mr->cand (file order), or -1 when so many rules
 * are candidates that the full scan is cheaper. */
static int
prefilter_scan(struct map_regexp *mr, const char *key, size_t len)
{
	char *lk;
	int n = 0;

	if (++mr->gen == 0) {
		memset(mr->lit_seen, 0, (size_t)mr->nlits * sizeof(*mr->lit_seen));
		mr->gen = 1;
	}
	mr->lits_valid = 0;
	buf_reset(mr->lkey);
	if (buf_append(mr->lkey, key, len) < 0)
		return -1;
	lk = mr->lkey->data;
	for (size_t i = 0; i < len; i++)
		if (ISASCII_UPPER(lk[i]))
			lk[i] = (char)(lk[i] + ('a' - 'A'));
	mr->nhit = 0;
	map_regexp_ac_scan(mr->ac, (const unsigned char *)lk, len, lit_hit, mr);
	mr->lits_valid = 1;
	for (int h = 0; h < mr->nhit; h++)
		n += mr->lit_nrules[mr->hit[h]];
	if (n > mr->nrules / 4 + 8)
		return -1;
	n = 0;
	for (int h = 0; h < mr->nhit; h++) {
		int id = mr->hit[h];

		if (mr->lit_nrules[id] == 0)
			continue;
		memcpy(mr->cand + n, mr->lit_rules[id],
		    (size_t)mr->lit_nrules[id] * sizeof(int));
		n += mr->lit_nrules[id];
	}
	if (n > 1)
		qsort(mr->cand, (size_t)n, sizeof(int), int_cmp);
	return n;
}

static enum map_status
map_regexp_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_regexp *mr = (struct map_regexp *)map;
	struct rx_count cnt = {0, 0, 0};
	size_t len = strlen(key);
	int ncand = -1, a = 0, c = 0, i = 0, skipped_blocks = 0;

	if (mr->ac != NULL)
		ncand = prefilter_scan(mr, key, len);
	for (;;) {
		const struct rx_rule *r;
		int ok;

		/* Next rule: sequential, or the next of the two sorted
		 * candidate lists (literal hits, always-visit) past i. */
		if (ncand < 0) {
			if (i >= mr->nrules)
				break;
		} else {
			while (c < ncand && mr->cand[c] < i)
				c++;
			while (a < mr->nalways && mr->always[a] < i)
				a++;
			if (c < ncand && (a >= mr->nalways || mr->cand[c] < mr->always[a]))
				i = mr->cand[c];
			else if (a < mr->nalways)
				i = mr->always[a];
			else
				break;
		}
		r = &mr->rules[i];
		cnt.visited++;
		ok = rule_eval(mr, i, key, len, &cnt);
		if (r->op == RX_OP_IF) {
			if (MAP_EXPLAINING(map))
				explain_rule(mr, i, key, ok, NULL);
			if (!ok) {
				skipped_blocks++;
				i = r->skip_to;
				continue;
			}
		} else if (ok) {
			*value_r = expand(mr, r, key);
			if (MAP_EXPLAINING(map)) {
				explain_rule(mr, i, key, 1, *value_r);
				map_explain(map, "%s: %d of %d rules visited, %d patterns run, %d ruled out by the literal prefilter, %d if-blocks skipped",
				    map->title, cnt.visited, mr->nrules, cnt.tried,
				    cnt.ruled_out, skipped_blocks);
			}
			return MAP_FOUND;
		}
		i++;
	}
	if (MAP_EXPLAINING(map))
		map_explain(map, "%s: no rule matched \"%s\": %d of %d rules visited, %d patterns run, %d ruled out by the literal prefilter, %d if-blocks skipped",
		    map->title, key, cnt.visited, mr->nrules, cnt.tried,
		    cnt.ruled_out, skipped_blocks);
	return MAP_NOTFOUND;
}

/* Open and close. */

static void
pat_free(const struct map_regexp *mr, struct rx_pat *pat)
{
	if (pat->re)
		mr->eng->free(pat->re);
	free(pat->text);
	free(pat->litstr);
}

static void
map_regexp_close(struct map *map)
{
	struct map_regexp *mr = (struct map_regexp *)map;

	for (int i = 0; i < mr->nrules; i++) {
		struct rx_rule *r = &mr->rules[i];

		pat_free(mr, &r->pat);
		if (r->pat2) {
			pat_free(mr, r->pat2);
			free(r->pat2);
		}
		free(r->result);
	}
	free(mr->rules);
	if (mr->eng->fini)
		mr->eng->fini(mr);
	free(mr->ovec);
	buf_free(&mr->result);
	buf_free(&mr->lkey);
	map_regexp_ac_free(&mr->ac);
	if (mr->lit_rules)
		for (int i = 0; i < mr->nlits; i++)
			free(mr->lit_rules[i]);
	free(mr->lit_rules);
	free(mr->lit_nrules);
	free(mr->lit_seen);
	free(mr->always);
	free(mr->cand);
	free(mr->hit);
	free(mr->source);
	map_free_base(map);
}

struct map *
map_regexp_open_engine(const struct map_driver *drv,
    const struct map_regexp_engine *eng, const char *name, int open_flags,
    int flags, char **err_r)
{
	struct map_regexp *mr;
	struct rx_loadstate ls = {0};
	char *err;

	if (open_flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) {
		*err_r = map_errorf("%s:%s: %s tables are read-only", eng->type,
		    name, eng->type);
		return NULL;
	}
	mr = (struct map_regexp *)map_alloc(sizeof(*mr), drv, name, open_flags,
	    flags);
	mr->eng = eng;
	mr->source = xstrdup(name);
	mr->result = buf_new(64, BUF_NOLIMIT);
	mr->lkey = buf_new(64, BUF_NOLIMIT);
	mr->map.lookup = map_regexp_lookup;
	mr->map.close = map_regexp_close;
	if (eng->init)
		eng->init(mr);
	if (*skipblanks(name) == '{')
		err = load_inline(mr, &ls, name);
	else
		err = load_file(mr, &ls, name);
	load_finish(mr, &ls);
	if (err != NULL) {
		*err_r = err;
		map_regexp_close(&mr->map);
		return NULL;
	}
	mr->ovec = xcalloc(2 * ((size_t)mr->max_groups + 1), sizeof(*mr->ovec));
	prefilter_build(mr);
	return &mr->map;
}

/* The drivers and the module. */

static struct map *map_regexp_pcre_open(const char *, int, int, char **);
static struct map *map_regexp_posix_open(const char *, int, int, char **);

static const struct map_driver map_regexp_pcre_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "pcre",
	.caps = MAP_CAP_PATTERN | MAP_CAP_FILE, .open = map_regexp_pcre_open,
};

static const struct map_driver map_regexp_posix_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "regexp",
	.caps = MAP_CAP_PATTERN | MAP_CAP_FILE, .open = map_regexp_posix_open,
};

static struct map *
map_regexp_pcre_open(const char *name, int open_flags, int flags, char **err_r)
{
	return map_regexp_open_engine(&map_regexp_pcre_driver,
	    &map_regexp_pcre_engine, name, open_flags, flags, err_r);
}

static struct map *
map_regexp_posix_open(const char *name, int open_flags, int flags,
    char **err_r)
{
	return map_regexp_open_engine(&map_regexp_posix_driver,
	    &map_regexp_posix_engine, name, open_flags, flags, err_r);
}

static const struct map_driver *const map_regexp_drivers[] = {
	&map_regexp_pcre_driver,
	&map_regexp_posix_driver,
	NULL,
};

__attribute__((visibility("default")))
const struct map_module postino_map_regexp = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module),
	.name = "map_regexp",
	.init = NULL,
	.drivers = map_regexp_drivers,
};

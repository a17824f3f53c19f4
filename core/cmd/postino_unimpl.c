/* SPDX-License-Identifier: MIT */
/* postino_unimpl - "postino check": Postfix parameters that postino
 * knows by name but does not implement (fail closed; DESIGN.md
 * "Configuration").
 *
 * Every parameter set in main.cf, and every "-o name=value" of an
 * enabled master.cf service, is judged against its entry in the
 * parameter table (mail_params.h): a value equal to the default (as
 * written, or once $name-expanded) says nothing; a value that asks for
 * a feature postino does not have is one line with file and line:
 *
 *	FILE, line N: parameter NAME = VALUE: not implemented by postino:
 *	    ignored				(warning)
 *	FILE, line N: parameter NAME = VALUE: not implemented by postino:
 *	    refusing to run: HINT		(error)
 *
 * An error is returned as one error of postino_check, so that "postino
 * check" exits non-zero and "postino start" (and reload) refuse.
 *
 * Parameters whose default already asks for something postino does not
 * do (mime_header_checks = $header_checks) are judged by their effective
 * value even when not set; the line reported is then the one that set
 * the parameter the default refers to. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_conf.h"
#include "mail_params.h"
#include "master_ent.h"
#include "msg.h"
#include "mymalloc.h"
#include "postino.h"
#include "stringops.h"

#define SHOW_MAX	100		/* characters of a value quoted */

/* unimpl_report - one finding; returns 1 for a refusal. */
static int
unimpl_report(const char *where, const struct mail_param *p,
    const char *shown, enum mail_param_verdict verdict)
{
	const char *more = strlen(shown) > SHOW_MAX ? "..." : "";

	switch (verdict) {
	case MAIL_PARAM_FINE:
		return 0;
	case MAIL_PARAM_WARNS:
		msg_warn("%s: parameter %s = %.*s%s: not implemented by postino: "
		    "ignored", where, p->name, SHOW_MAX, shown, more);
		return 0;
	case MAIL_PARAM_REFUSES:
		msg_error("%s: parameter %s = %.*s%s: not implemented by postino: "
		    "refusing to run: %s", where, p->name, SHOW_MAX, shown, more,
		    p->hint ? p->hint : "remove this setting");
		return 1;
	}
	return 0;
}

/* unimpl_judge - judge raw (as written) for p; where is "FILE, line N". */
static int
unimpl_judge(const char *where, const struct mail_param *p, const char *raw)
{
	char *value;
	enum mail_param_verdict verdict;

	/* Implemented ones are fine, but for the values they refuse
	 * (rule TLSLEVEL: an unknown smtp_tls_security_level). */
	if ((p->status == MAIL_PARAM_IMPL && p->rule == MAIL_PARAM_ASK_ANY)
	    || p->status == MAIL_PARAM_NO_EFFECT)
		return 0;
	value = (p->flags & MAIL_PARAM_NOEXPAND) ? xstrdup(raw)
	    : mail_conf_expand(raw, NULL, NULL);
	verdict = mail_param_judge(p, value,
	    mail_conf_is_default_value(p->name, raw));
	free(value);
	return unimpl_report(where, p, raw, verdict);
}

/* default_ref - the name a default of the form "$name" refers to. */
static const char *
default_ref(const struct mail_param *p, char *buf, size_t len)
{
	const char *d = p->def;
	size_t n;

	if (d == NULL || d[0] != '$')
		return NULL;
	n = strspn(d + 1, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n == 0 || d[1 + n] != 0 || n >= len)
		return NULL;
	memcpy(buf, d + 1, n);
	buf[n] = 0;
	return buf;
}

/* unimpl_effective - parameters judged by their default (EFFECTIVE), for
 * main.cf (values: NULL) or one service's -o list (name=value pairs). */
static int
unimpl_effective(const char *file, int line, const char *service,
    char **over, int nover)
{
	const struct mail_param *p;
	const char *ref, *raw;
	char refbuf[128], where[4096], *value, *shown;
	enum mail_param_verdict verdict;
	int refusals = 0, at, own, ref_at;

	for (size_t i = 0; i < mail_param_count; i++) {
		p = &mail_param_table[i];
		if (!(p->flags & MAIL_PARAM_EFFECTIVE) || p->status == MAIL_PARAM_IMPL)
			continue;
		ref = default_ref(p, refbuf, sizeof(refbuf));
		if (over == NULL) {
			/* main.cf: a value set there was judged already. */
			if (mail_conf_is_set(p->name))
				continue;
			raw = mail_conf_raw(p->name);
			at = ref ? mail_conf_file_line(ref) : 0;
		} else {
			/* A service: only when it changes what p refers to. */
			own = ref_at = -1;
			for (int j = 0; j < nover; j++) {
				size_t n = strcspn(over[j], "=");

				if (strlen(p->name) == n && strncmp(over[j], p->name, n) == 0)
					own = j;
				else if (ref && strlen(ref) == n && strncmp(over[j], ref, n) == 0)
					ref_at = j;
			}
			if (own >= 0 || ref_at < 0)
				continue;
			raw = over[ref_at] + strcspn(over[ref_at], "=") + 1;
			at = line;
		}
		value = mail_conf_expand(raw, NULL, NULL);
		verdict = mail_param_judge(p, value, 1);
		if (verdict != MAIL_PARAM_FINE) {
			if (at > 0)
				snprintf(where, sizeof(where), "%s, line %d", file, at);
			else
				snprintf(where, sizeof(where), "%s", file);
			if (service)
				snprintf(where + strlen(where), sizeof(where) - strlen(where),
				    ": service %s", service);
			shown = concatenate(p->def, " (the default: ", value, ")",
			    (char *)0);
			refusals += unimpl_report(where, p, shown, verdict);
			free(shown);
		}
		free(value);
	}
	return refusals;
}

/* by_line - qsort: main.cf names in the order of their lines. */
static int
by_line(const void *a, const void *b)
{
	int la = mail_conf_file_line(*(const char *const *)a);
	int lb = mail_conf_file_line(*(const char *const *)b);

	return (la > lb) - (la < lb);
}

/* unimpl_main - the parameters set in main.cf, in file order. */
static int
unimpl_main(const char *main_cf)
{
	const char **names = mail_conf_set_names();
	const struct mail_param *p;
	char where[4096];
	size_t count = 0;
	int refusals = 0;

	while (names[count])
		count++;
	qsort(names, count, sizeof(*names), by_line);
	for (size_t i = 0; i < count; i++) {
		if ((p = mail_param_find(names[i])) == NULL)
			continue;
		snprintf(where, sizeof(where), "%s, line %d", main_cf,
		    mail_conf_file_line(names[i]));
		refusals += unimpl_judge(where, p, mail_conf_file_value(names[i]));
	}
	free(names);
	return refusals + unimpl_effective(main_cf, 0, NULL, NULL, 0);
}

/* unimpl_master - the -o name=value of each enabled master.cf service. */
static int
unimpl_master(struct master_ent **ents)
{
	const struct mail_param *p;
	char where[4096], *name, **over;
	const char *eq;
	int refusals = 0, nover;

	for (int i = 0; ents[i]; i++) {
		if (master_ent_disabled(ents[i]))
			continue;
		over = xcalloc((size_t)ents[i]->argc + 1, sizeof(*over));
		nover = 0;
		snprintf(where, sizeof(where), "%s, line %d: service %s",
		    ents[i]->file, ents[i]->line, ents[i]->name);
		for (int j = 0; j + 1 < ents[i]->argc; j++) {
			if (strcmp(ents[i]->args[j], "-o") != 0)
				continue;
			j++;
			if ((eq = strchr(ents[i]->args[j], '=')) == NULL)
				continue;
			over[nover++] = ents[i]->args[j];
			name = xstrndup(ents[i]->args[j],
			    (size_t)(eq - ents[i]->args[j]));
			if ((p = mail_param_find(name)) != NULL)
				refusals += unimpl_judge(where, p, eq + 1);
			free(name);
		}
		refusals += unimpl_effective(ents[i]->file, ents[i]->line,
		    ents[i]->name, over, nover);
		free(over);
	}
	return refusals;
}

int
postino_check_unimpl(const char *main_cf, struct master_ent **ents)
{
	return unimpl_main(main_cf) + unimpl_master(ents);
}

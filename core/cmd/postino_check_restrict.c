/* SPDX-License-Identifier: MIT */
/* postino_check_restrict - "postino check": the SMTP server's restriction
 * lists.  Every smtpd_*_restrictions parameter of main.cf, every
 * restriction class, and the same parameters given with -o to an smtpd
 * service in master.cf are validated (smtpd_restrict_validate): unknown
 * names, missing or malformed table arguments, tables that do not open,
 * restrictions postino refuses to pretend to run, access table actions
 * it cannot perform.  Each error names the file and line:
 *
 *	main.cf, line 12: smtpd_helo_restrictions: unknown smtpd
 *	restriction "reject_unknwon_helo_hostname"
 *
 * The relay guard rule of smtpd (a reject_unauth_destination or
 * equivalent in the relay or recipient restrictions) is checked too, so
 * that the server never starts only to refuse to run.
 *
 * Logs: errors and warnings through msg_error/msg_warn. */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mail_conf.h"
#include "mail_params.h"
#include "master_ent.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "postino.h"
#include "readlline.h"
#include "smtpd_restrict.h"
#include "stringops.h"

/* The configuration one smtpd sees: main.cf plus its -o overrides. */
struct rconf {
	const char *file;		/* main.cf path */
	struct master_ent *ent;		/* NULL: main.cf only */
	char **expanded;		/* values expanded here, freed at the end */
	int nexpanded;
};

/* override - the raw -o value of name for this service, or NULL. */
static const char *
override(const struct rconf *rc, const char *name)
{
	const char *found = NULL;
	size_t len = strlen(name);

	if (rc->ent == NULL)
		return NULL;
	for (int i = 0; i < rc->ent->argc; i++) {
		const char *a = rc->ent->args[i];

		if (strcmp(a, "-o") == 0 && i + 1 < rc->ent->argc)
			a = rc->ent->args[++i];
		else if (strncmp(a, "-o", 2) == 0)
			a += 2;
		else
			continue;
		if (strncmp(a, name, len) == 0 && a[len] == '=')
			found = a + len + 1;
	}
	return found;
}

/* value - the expanded value of name as this service sees it. */
static const char *
value(struct rconf *rc, const char *name)
{
	const char *raw = override(rc, name);
	char *exp;

	if (raw == NULL)
		return mail_conf_str(name);
	exp = mail_conf_expand(raw, NULL, NULL);
	rc->expanded = xreallocarray(rc->expanded, (size_t)rc->nexpanded + 1,
	    sizeof(*rc->expanded));
	rc->expanded[rc->nexpanded++] = exp;
	return exp;
}

/* class_text - a restriction class's definition, or NULL. */
static const char *
class_text(const char *name, void *ctx)
{
	struct rconf *rc = ctx;
	char *copy = xstrdup(value(rc, "smtpd_restriction_classes"));
	char *cp = copy, *item;
	const char *err, *def = NULL;

	while (def == NULL && (item = match_list_token(&cp, &err)) != NULL)
		if (strcasecmp(item, name) == 0)
			def = value(rc, item);
	free(copy);
	return def;
}

/* param_line - the line of main.cf that sets name (the last one), or 0. */
static int
param_line(const char *path, const char *name)
{
	FILE *fp = fopen(path, "r");
	struct lline_reader *rd;
	struct buf *line;
	size_t len = strlen(name);
	int lineno, found = 0;

	if (fp == NULL)
		return 0;
	rd = lline_open(fp, path, 0);
	line = buf_new(256, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		const char *cp = skipblanks(buf_str(line));

		if (strncmp(cp, name, len) == 0
		    && (cp[len] == '=' || cp[len] == ' ' || cp[len] == '\t')
		    && *skipblanks(cp + len) == '=')
			found = lineno;
	}
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	return found;
}

/* where - "FILE, line N: NAME" for a parameter of this configuration. */
static char *
where(const struct rconf *rc, const char *name)
{
	char num[16];
	int line;

	if (rc->ent && override(rc, name)) {
		snprintf(num, sizeof(num), "%d", rc->ent->line);
		return concatenate(rc->ent->file, ", line ", num, ": service \"",
		    rc->ent->name, "\": -o ", name, (char *)0);
	}
	if ((line = param_line(rc->file, name)) > 0) {
		snprintf(num, sizeof(num), "%d", line);
		return concatenate(rc->file, ", line ", num, ": ", name, (char *)0);
	}
	return concatenate(name, " (default value)", (char *)0);
}

/* check_one - every list and class of one configuration. */
static int
check_one(struct rconf *rc)
{
	char *copy, *cp, *item, *w;
	const char *err;
	int errors = 0;

	for (int i = 0; smtpd_restrict_params[i]; i++) {
		const char *name = smtpd_restrict_params[i];

		/* Under an smtpd service, only what its -o options change. */
		if (rc->ent && override(rc, name) == NULL)
			continue;
		w = where(rc, name);
		errors += smtpd_restrict_validate(w, value(rc, name), 1, class_text,
		    rc);
		free(w);
	}
	copy = xstrdup(value(rc, "smtpd_restriction_classes"));
	cp = copy;
	while ((item = match_list_token(&cp, &err)) != NULL) {
		if (rc->ent && override(rc, item) == NULL
		    && override(rc, "smtpd_restriction_classes") == NULL)
			continue;
		w = where(rc, mail_conf_is_set(item) || override(rc, item) ? item
		    : "smtpd_restriction_classes");
		if (smtpd_restrict_find(item)) {
			msg_error("%s: the restriction class name \"%s\" is the name "
			    "of a restriction", w, item);
			errors++;
		} else if (*value(rc, item) == 0 && !mail_conf_is_set(item)
		    && override(rc, item) == NULL) {
			msg_error("%s: restriction class \"%s\" is not defined",
			    w, item);
			errors++;
		} else {
			errors += smtpd_restrict_validate(w, value(rc, item), 1,
			    class_text, rc);
		}
		free(w);
	}
	free(copy);

	/* smtpd's relay guard.  With no relay list set and no recipient list
	 * (compatibility_level < 1), smtpd uses the safe default. */
	if (rc->ent && !override(rc, "smtpd_relay_restrictions")
	    && !override(rc, "smtpd_recipient_restrictions")
	    && !override(rc, "smtpd_restriction_classes"))
		return errors;
	if (!smtpd_restrict_has_guard(value(rc, "smtpd_relay_restrictions"),
	    class_text, rc)
	    && !smtpd_restrict_has_guard(value(rc, "smtpd_recipient_restrictions"),
	    class_text, rc)
	    && (mail_conf_is_set(MAIL_PARAM_NAME(smtpd_relay_restrictions))
	    || override(rc, "smtpd_relay_restrictions")
	    || *value(rc, "smtpd_recipient_restrictions"))) {
		w = where(rc, "smtpd_relay_restrictions");
		msg_error("%s: in parameter smtpd_relay_restrictions or "
		    "smtpd_recipient_restrictions, specify at least one working "
		    "instance of: reject_unauth_destination, defer_unauth_destination, "
		    "reject, defer, defer_if_permit", w);
		free(w);
		errors++;
	}
	return errors;
}

/* is_smtpd - does this master.cf service run smtpd? */
static int
is_smtpd(const struct master_ent *ent)
{
	const char *base = strrchr(ent->command, '/');

	return strcmp(base ? base + 1 : ent->command, "smtpd") == 0;
}

int
postino_check_restrictions(const char *main_cf, struct master_ent **ents)
{
	struct rconf rc = {.file = main_cf};
	int errors;

	errors = check_one(&rc);
	for (int i = 0; ents && ents[i]; i++) {
		if (master_ent_disabled(ents[i]) || !is_smtpd(ents[i]))
			continue;
		rc.ent = ents[i];
		errors += check_one(&rc);
	}
	for (int i = 0; i < rc.nexpanded; i++)
		free(rc.expanded[i]);
	free(rc.expanded);
	return errors;
}

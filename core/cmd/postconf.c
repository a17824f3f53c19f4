/* SPDX-License-Identifier: MIT */
/* postconf - show and edit main.cf parameters (Postfix postconf(1)
 * compatible).
 *
 *   postconf [-dfhHnqvx] [-c dir] [-o name=value] [name...]
 *   postconf [-c dir] -e name=value...      (also implied by any '=')
 *   postconf [-c dir] -X name...  |  -# name...
 *   postconf -m                             (lookup table types)
 *   postconf [-f] -M [service[/type]...]    (master.cf entries)
 *   postconf -U [name...]                   (postino: not implemented)
 *
 * Printing: "name = value", sorted, whitespace runs collapsed, "name ="
 * for an empty value; values are shown unexpanded unless -x.  Names are
 * the built-in parameters, the service-defined ones derived from
 * master.cf, and the user-defined ones main.cf sets and something uses.
 * An unknown name is a warning (exit status 0).  Like Postfix, every run
 * that reads main.cf warns about main.cf names nothing uses, $names that
 * nothing defines and read-only parameters set in main.cf (-q: quiet).
 *
 * -U (postino only; Postfix's postconf has no -U): the parameters postino
 * knows but does not implement, one "name: status" line each, sorted;
 * with names, the status of each named parameter, implemented or not.
 *
 * Logs: to stderr as "postconf: warning: ..." / "postconf: fatal: ...". */
#include "postino_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "htable.h"
#include "mail_conf.h"
#include "mail_params.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "paths.h"
#include "postconf.h"
#include "stringops.h"

#define FOLD_WIDTH	80
#define FOLD_INDENT	4

static struct htable *used_names;	/* user-defined names something uses */
static struct htable *service_names;	/* service-defined names */
static int nondefault_mode;		/* -n */
static char **overrides;		/* -o name=value */

NORETURN static void
usage(void)
{
	msg_fatal("usage: postconf [-c config_dir] [-d (parameter defaults)] "
	    "[-e (edit configuration)] [-f (fold lines)] [-h (no names)] "
	    "[-H (no values)] [-m (map types)] [-M (master.cf)] "
	    "[-n (non-default parameters)] [-o name=value (override parameter "
	    "value)] [-p (main.cf, default)] [-q (quiet)] [-v (verbose)] "
	    "[-U (not implemented by postino)] "
	    "[-x (expand parameter values)] [-X (exclude)] "
	    "[-# (comment-out)] [name...]");
}

/* normalize - collapse whitespace runs into one space, trim the ends. */
static char *
normalize(const char *value)
{
	char *out = xmalloc(strlen(value) + 1), *op = out;
	const char *cp = skipblanks(value);

	while (*cp) {
		if (ISSPACE((unsigned char)*cp)) {
			cp = skipblanks(cp);
			if (*cp)
				*op++ = ' ';
			continue;
		}
		*op++ = *cp++;
	}
	*op = 0;
	return out;
}

/* fold_print - print text, breaking lines longer than FOLD_WIDTH at
 * spaces; continuation lines are indented.  A word longer than a line
 * stays whole. */
static void
fold_print(FILE *fp, const char *text)
{
	const char *line = text, *word = text, *last_space = NULL;
	const char *space;
	int indent = 0;

	while (*word) {
		space = word + strcspn(word, " ");
		if (word > line && space - line > FOLD_WIDTH - indent) {
			fprintf(fp, "%*s%.*s\n", indent, "", (int)(last_space - line), line);
			line = word;
			indent = FOLD_INDENT;
		}
		last_space = space;
		if (*space == 0)
			break;
		word = space + 1;
	}
	fprintf(fp, "%*s%s\n", indent, "", line);
}

void
postconf_print_line(FILE *fp, const char *name, const char *value, int flags)
{
	char *norm, *text;

	if (flags & PCF_NO_VALUE) {
		fprintf(fp, "%s\n", name);
		return;
	}
	norm = normalize(value);
	if (flags & PCF_NO_NAME)
		text = xstrdup(norm);
	else if (*norm)
		text = concatenate(name, " = ", norm, (char *)0);
	else
		text = concatenate(name, " =", (char *)0);
	if (flags & PCF_FOLD)
		fold_print(fp, text);
	else
		fprintf(fp, "%s\n", text);
	free(text);
	free(norm);
}

/* is_name_char - characters of a parameter name. */
static int
is_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9') || ch == '_';
}

/* scan_refs - call fn for every $name, ${name...} and $(name...) in text,
 * including those nested inside ${...} expressions. */
static void
scan_refs(const char *text, void (*fn)(const char *name, void *ctx), void *ctx)
{
	const char *cp = text, *start;
	char *name;

	while ((cp = strchr(cp, '$')) != NULL) {
		cp++;
		if (*cp == '$') {
			cp++;
			continue;
		}
		if (*cp == '{' || *cp == '(')
			cp++;
		start = cp;
		while (is_name_char((unsigned char)*cp))
			cp++;
		if (cp > start) {
			name = xstrndup(start, (size_t)(cp - start));
			fn(name, ctx);
			free(name);
		}
	}
}

/* defined - does anything give this name a value? */
static int
defined(const char *name)
{
	return mail_conf_known(name) || mail_conf_is_set(name)
	    || htable_find(service_names, name) != NULL;
}

/* mark_used - a $name reference: remember it, warn if undefined. */
static void
mark_used(const char *name, void *ctx)
{
	struct htable *warned = ctx;
	char *path;

	if (htable_find(used_names, name) == NULL)
		htable_enter(used_names, name, (void *)1);
	if (!defined(name) && warned && htable_find(warned, name) == NULL) {
		htable_enter(warned, name, (void *)1);
		path = concatenate(mail_conf_dir(), "/main.cf", (char *)0);
		msg_warn("%s: undefined parameter: %s", path, name);
		free(path);
	}
}

/* scan_config - find which user-defined names are used, and warn about
 * undefined references, unused and read-only assignments. */
static void
scan_config(int quiet, int unused_warnings)
{
	const char **all = mail_conf_names(), **set, **np;
	const char **mvals = postconf_master_values(), **vp;
	struct htable *warned = quiet ? NULL : htable_create(16);
	const char *classes;
	char *copy, *bp, *tok, *path;
	size_t n;

	/* Names given a value in main.cf or with -o. */
	set = xcalloc(1, sizeof(*set));
	for (np = all, n = 0; *np; np++) {
		if (mail_conf_is_set(*np)) {
			set = xreallocarray(set, n + 2, sizeof(*set));
			set[n++] = *np;
		}
	}
	set[n] = NULL;
	used_names = htable_create(64);
	for (np = set; *np; np++)
		if (!mail_conf_readonly(*np))
			scan_refs(mail_conf_raw(*np), mark_used, warned);
	for (vp = mvals; *vp; vp++)
		scan_refs(*vp, mark_used, warned);
	/* Restriction classes name user-defined parameters. */
	classes = mail_conf_raw(MAIL_PARAM_NAME(smtpd_restriction_classes));
	if (classes) {
		bp = copy = mail_conf_expand(classes, NULL, NULL);
		while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL)
			if (htable_find(used_names, tok) == NULL)
				htable_enter(used_names, tok, (void *)1);
		free(copy);
	}
	if (!quiet) {
		path = concatenate(mail_conf_dir(), "/main.cf", (char *)0);
		for (np = set; *np; np++) {
			if (mail_conf_readonly(*np)) {
				if (mail_conf_file_value(*np))
					msg_warn("%s: read-only parameter assignment: %s=%s",
					    path, *np, mail_conf_file_value(*np));
			} else if (unused_warnings && !mail_conf_known(*np)
			    && htable_find(service_names, *np) == NULL
			    && htable_find(used_names, *np) == NULL)
				msg_warn("%s: unused parameter: %s=%s",
				    path, *np, mail_conf_raw(*np));
		}
		free(path);
		htable_free(&warned, NULL);
	}
	free(set);
	free(all);
	free(mvals);
}

/* printable - may this name be printed (in non-default mode)? */
static int
printable(const char *name, int defaults)
{
	if (mail_conf_known(name) || htable_find(service_names, name) != NULL)
		return 1;
	return !defaults && mail_conf_is_set(name)
	    && htable_find(used_names, name) != NULL;
}

/* print_param - print one parameter per the mode; 0 if unknown. */
static int
print_param(const char *name, int defaults, int flags)
{
	const char *raw;
	char *val;

	if (!printable(name, defaults))
		return 0;
	/* Read-only parameters are never "set in main.cf". */
	if (nondefault_mode && mail_conf_readonly(name))
		return 0;
	if (mail_conf_readonly(name) && !defaults)
		raw = mail_conf_default(name);
	else if ((raw = mail_conf_raw(name)) == NULL)
		raw = postconf_service_param(name);
	if (raw == NULL)
		return 0;
	if (flags & PCF_EXPAND) {
		if (mail_conf_known(name) || mail_conf_is_set(name))
			val = xstrdup(mail_conf_str(name));
		else
			val = mail_conf_expand(raw, NULL, NULL);
	} else {
		val = xstrdup(raw);
	}
	postconf_print_line(stdout, name, val, flags);
	free(val);
	return 1;
}

/* cmp_str - qsort comparator for string pointers. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* print_all - every printable parameter (or only main.cf's with -n). */
static void
print_all(int nondefault, int defaults, int flags)
{
	const char **names = nondefault ? mail_conf_set_names() : mail_conf_names();
	const char **svc = postconf_service_params();
	const char **all;
	size_t n = 0, ns = 0, i, j;
	int quirk = 0;

	while (names[n])
		n++;
	while (svc[ns])
		ns++;
	/* Like Postfix: a non-default configuration directory counts as a
	 * main.cf setting of config_directory. */
	if (nondefault && !mail_conf_is_set(MAIL_PARAM_NAME(config_directory))
	    && strcmp(mail_conf_dir(), paths_config_directory()) != 0)
		quirk = 1;
	all = xcalloc(n + ns + 2, sizeof(*all));
	for (i = 0; i < n; i++)
		all[i] = names[i];
	if (!nondefault)
		for (j = 0; j < ns; j++)
			all[i++] = svc[j];
	if (quirk)
		all[i++] = "config_directory";
	qsort(all, i, sizeof(*all), cmp_str);
	for (j = 0; j < i; j++) {
		if (j > 0 && strcmp(all[j], all[j - 1]) == 0)
			continue;
		print_param(all[j], defaults, flags);
	}
	free(all);
	free(names);
	free(svc);
}

/* print_status - "name: status" of one parameter (-U). */
static void
print_status(const struct mail_param *p)
{
	switch (p->status) {
	case MAIL_PARAM_IMPL:
		printf("%s: implemented\n", p->name);
		break;
	case MAIL_PARAM_NO_EFFECT:
		printf("%s: accepted, no effect in postino\n", p->name);
		break;
	case MAIL_PARAM_NOT_IMPL_WARN:
		printf("%s: not implemented: ignored, with a warning when set\n",
		    p->name);
		break;
	case MAIL_PARAM_NOT_IMPL_REFUSE:
		printf("%s: not implemented: refused when set to ask for it: "
		    "%s\n", p->name, p->hint);
		break;
	}
}

/* list_unimplemented - postconf -U [name...]. */
static int
list_unimplemented(char **names, int count)
{
	const struct mail_param *p;

	if (count == 0) {
		for (size_t i = 0; i < mail_param_count; i++)
			if (mail_param_table[i].status == MAIL_PARAM_NOT_IMPL_WARN
			    || mail_param_table[i].status == MAIL_PARAM_NOT_IMPL_REFUSE)
				print_status(&mail_param_table[i]);
	}
	for (int i = 0; i < count; i++) {
		if ((p = mail_param_find(names[i])) != NULL)
			print_status(p);
		else
			msg_warn("%s: unknown parameter", names[i]);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal("write error: %m");
	return 0;
}

int
main(int argc, char **argv)
{
	int ch, flags = 0, defaults = 0, nondefault = 0, quiet = 0;
	int edit = 0, remove = 0, comment = 0, maps = 0, master = 0;
	int noverrides = 0, unimpl = 0;
	const char **types, **tp;
	char *name, *value;
	const char *err;
	const char **svc;

	msg_init("postconf", 1);
	overrides = xcalloc((size_t)argc + 1, sizeof(char *));
	opterr = 1;
	while ((ch = getopt(argc, argv, "aAbc:C:deEfFhHlmMno:pPqtTUvxX#")) != -1) {
		switch (ch) {
		case 'c':
			mail_conf_set_dir(optarg);
			break;
		case 'C':
			break;			/* parameter class: all classes shown */
		case 'd':
			defaults = 1;
			break;
		case 'e':
			edit = 1;
			break;
		case 'U':
			unimpl = 1;
			break;
		case 'f':
			flags |= PCF_FOLD;
			break;
		case 'h':
			flags |= PCF_NO_NAME;
			break;
		case 'H':
			flags |= PCF_NO_VALUE;
			break;
		case 'm':
			maps = 1;
			break;
		case 'M':
			master = 1;
			break;
		case 'n':
			nondefault = 1;
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		case 'p':
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'x':
			flags |= PCF_EXPAND;
			break;
		case 'X':
			remove = 1;
			break;
		case '#':
			comment = 1;
			break;
		default:
			/* -a -A -b -E -F -l -P -t -T: not supported. */
			usage();
		}
	}
	if (edit + remove + comment + maps + unimpl > 1
	    || (master && (edit || remove || comment || maps || unimpl)))
		usage();
	if (unimpl)
		return list_unimplemented(argv + optind, argc - optind);
	/* An argument with '=' implies -e (as in Postfix 2.8 and later). */
	if (!edit && !remove && !comment && !maps && !master)
		for (int i = optind; i < argc; i++)
			if (strchr(argv[i], '=') != NULL)
				edit = 1;
	if (edit || remove || comment) {
		if (optind >= argc)
			msg_fatal("-%c requires at least one parameter name",
			    edit ? 'e' : remove ? 'X' : '#');
		postconf_edit_main(edit ? PCF_EDIT_SET : remove ? PCF_EDIT_REMOVE
		    : PCF_EDIT_COMMENT, argv + optind, argc - optind);
		return 0;
	}
	if (maps) {
		mail_conf_read(1);
		types = map_type_list();
		for (tp = types; *tp; tp++)
			printf("%s\n", *tp);
		free(types);
		return 0;
	}
	/* Defaults do not depend on main.cf (as in Postfix, -d does not
	 * read it). */
	if (!defaults)
		mail_conf_read(0);
	for (int i = 0; i < noverrides; i++) {
		char *copy = xstrdup(overrides[i]);

		if ((err = split_nameval(copy, &name, &value)) != NULL)
			msg_fatal("-o %s: %s", overrides[i], err);
		mail_conf_override(name, value);
		free(copy);
	}
	postconf_master_read();
	service_names = htable_create(64);
	svc = postconf_service_params();
	for (const char **sp = svc; *sp; sp++)
		htable_enter(service_names, *sp, (void *)1);
	free(svc);
	scan_config(quiet || defaults, !master);
	if (master) {
		postconf_master_print(argv + optind, argc - optind, flags);
		return 0;
	}
	if (defaults)
		mail_conf_defaults_only(1);
	nondefault_mode = nondefault && !defaults;
	if (optind >= argc) {
		print_all(nondefault && !defaults, defaults, flags);
	} else {
		for (int i = optind; i < argc; i++)
			if (!print_param(argv[i], defaults, flags))
				msg_warn("%s: unknown parameter", argv[i]);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal("write error: %m");
	return 0;
}

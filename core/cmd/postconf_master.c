/* SPDX-License-Identifier: MIT */
/* postconf_master - master.cf for postconf: printing entries (-M, -Mf)
 * and the service-defined parameters a master.cf implies.
 *
 * Each logical line of master.cf is one service: eight fields, the last
 * being the command, then the command's arguments ("{ a b }" groups
 * one argument).  -M prints the fields at columns 0/11/17/25/33/41/49/57
 * (a field that runs past the next column is followed by one space) and
 * the arguments after one space; -Mf folds at 80 columns and starts each
 * "-o" option on its own indented line.
 *
 * Service-defined parameters: a service run by a delivery agent the
 * queue manager schedules (smtp, lmtp, local, virtual, pipe, error)
 * gets the per-transport parameters "SERVICE_recipient_limit" and so on;
 * pipe and spawn services also get "SERVICE_time_limit".
 *
 * A missing master.cf is a warning; malformed lines are warned about
 * with file and line and skipped. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htable.h"
#include "mail_conf.h"
#include "msg.h"
#include "mymalloc.h"
#include "postconf.h"
#include "readlline.h"
#include "stringops.h"

#define MASTER_FIELDS	8
#define FOLD_WIDTH	80
#define FOLD_INDENT	4

struct master_entry {
	char *field[MASTER_FIELDS];
	char **argv;			/* arguments after the command */
	int argc;
	int matched;
};

static struct master_entry *entries;
static int entry_count;
static struct htable *service_defs;	/* name -> default text */

static const int columns[MASTER_FIELDS] = {0, 11, 17, 25, 33, 41, 49, 57};

/* Per-transport parameters of queue-manager delivery agents. */
static const char *const transport_params[][2] = {
	{"delivery_slot_cost", "$default_delivery_slot_cost"},
	{"delivery_slot_discount", "$default_delivery_slot_discount"},
	{"delivery_slot_loan", "$default_delivery_slot_loan"},
	{"destination_concurrency_failed_cohort_limit",
	"$default_destination_concurrency_failed_cohort_limit"},
	{"destination_concurrency_limit", "$default_destination_concurrency_limit"},
	{"destination_concurrency_negative_feedback",
	"$default_destination_concurrency_negative_feedback"},
	{"destination_concurrency_positive_feedback",
	"$default_destination_concurrency_positive_feedback"},
	{"destination_rate_delay", "$default_destination_rate_delay"},
	{"destination_recipient_limit", "$default_destination_recipient_limit"},
	{"extra_recipient_limit", "$default_extra_recipient_limit"},
	{"initial_destination_concurrency", "$initial_destination_concurrency"},
	{"minimum_delivery_slots", "$default_minimum_delivery_slots"},
	{"recipient_limit", "$default_recipient_limit"},
	{"recipient_refill_delay", "$default_recipient_refill_delay"},
	{"recipient_refill_limit", "$default_recipient_refill_limit"},
	{"transport_rate_delay", "$default_transport_rate_delay"},
};

static const char *const delivery_agents[] = {
	"smtp", "lmtp", "local", "virtual", "pipe", "error",
};

/* unconst - store a constant string in a table of void pointers. */
static void *
unconst(const char *str)
{
	union {
		const char *c;
		void *v;
	} u = {.c = str};

	return u.v;
}

/* next_token - the next whitespace-separated token of *cpp; "{...}"
 * (balanced) is one token, returned with its braces.  malloc'd; NULL
 * at end, or when a "{" is not closed (*bad_r set). */
static char *
next_token(const char **cpp, int *bad_r)
{
	const char *cp = skipblanks(*cpp), *start = cp;
	int level = 0;

	*bad_r = 0;
	if (*cp == 0)
		return NULL;
	if (*cp == '{') {
		for (; *cp; cp++) {
			if (*cp == '{')
				level++;
			else if (*cp == '}' && --level == 0)
				break;
		}
		if (*cp != '}') {
			*bad_r = 1;
			return NULL;
		}
		cp++;
	} else {
		while (*cp && !ISSPACE((unsigned char)*cp))
			cp++;
	}
	*cpp = cp;
	return xstrndup(start, (size_t)(cp - start));
}

/* add_service_defs - register the parameters a service implies. */
static void
add_service_defs(const struct master_entry *e)
{
	const char *cmd = strrchr(e->field[7], '/');
	int agent = 0;
	char *name;

	cmd = cmd ? cmd + 1 : e->field[7];
	for (size_t i = 0; i < sizeof(delivery_agents) / sizeof(delivery_agents[0]); i++)
		if (strcmp(cmd, delivery_agents[i]) == 0)
			agent = 1;
	if (agent) {
		for (size_t i = 0; i < sizeof(transport_params) / sizeof(transport_params[0]); i++) {
			name = concatenate(e->field[0], "_", transport_params[i][0], (char *)0);
			if (!mail_conf_known(name) && htable_find(service_defs, name) == NULL)
				htable_enter(service_defs, name, unconst(transport_params[i][1]));
			free(name);
		}
	}
	if (strcmp(cmd, "pipe") == 0 || strcmp(cmd, "spawn") == 0) {
		name = concatenate(e->field[0], "_time_limit", (char *)0);
		if (!mail_conf_known(name) && htable_find(service_defs, name) == NULL)
			htable_enter(service_defs, name, unconst("$command_time_limit"));
		free(name);
	}
}

void
postconf_master_read(void)
{
	char *path = concatenate(mail_conf_dir(), "/master.cf", (char *)0);
	FILE *fp;
	struct lline_reader *rd;
	struct buf *line;
	int lineno, bad, n;
	const char *cp, *start;
	char *tok;
	struct master_entry e;

	service_defs = htable_create(64);
	if ((fp = fopen(path, "r")) == NULL) {
		msg_warn("open %s: %m", path);
		free(path);
		return;
	}
	rd = lline_open(fp, path, 0);
	line = buf_new(256, BUF_NOLIMIT);
	while (lline_read(rd, line, &lineno)) {
		memset(&e, 0, sizeof(e));
		cp = buf_str(line);
		for (n = 0; n < MASTER_FIELDS; n++) {
			while (*cp && ISSPACE((unsigned char)*cp))
				cp++;
			if (*cp == 0)
				break;
			start = cp;
			while (*cp && !ISSPACE((unsigned char)*cp))
				cp++;
			e.field[n] = xstrndup(start, (size_t)(cp - start));
		}
		if (n < MASTER_FIELDS) {
			msg_warn("%s, line %d: field \"%s\" is missing",
			    path, lineno, n == 1 ? "type" : n == 2 ? "private"
			    : n == 3 ? "unpriv" : n == 4 ? "chroot" : n == 5 ?
			    "wakeup" : n == 6 ? "maxproc" : "command");
			for (int i = 0; i < n; i++)
				free(e.field[i]);
			continue;
		}
		bad = 0;
		while ((tok = next_token(&cp, &bad)) != NULL) {
			e.argv = xreallocarray(e.argv, (size_t)e.argc + 2, sizeof(char *));
			e.argv[e.argc++] = tok;
		}
		if (bad)
			msg_warn("%s, line %d: missing '}'", path, lineno);
		entries = xreallocarray(entries, (size_t)entry_count + 1, sizeof(*entries));
		entries[entry_count++] = e;
		add_service_defs(&e);
	}
	buf_free(&line);
	lline_close(&rd);
	fclose(fp);
	free(path);
}

/* normalize_arg - collapse whitespace inside a "{ ... }" argument. */
static char *
normalize_arg(const char *arg)
{
	struct buf *b = buf_new(strlen(arg) + 1, BUF_NOLIMIT);
	const char *cp = arg;
	char *res;

	while (*cp) {
		if (ISSPACE((unsigned char)*cp)) {
			cp = skipblanks(cp);
			buf_putc(b, ' ');
			continue;
		}
		buf_putc(b, *cp++);
	}
	res = xstrdup(buf_str(b));
	buf_free(&b);
	return res;
}

/* print_entry - one master.cf entry, per -M / -Mf. */
static void
print_entry(const struct master_entry *e, int flags)
{
	struct buf *out = buf_new(256, BUF_NOLIMIT);
	size_t line_start = 0;
	char *word, *arg;

	for (int i = 0; i < MASTER_FIELDS; i++) {
		size_t col = buf_len(out) - line_start;

		if (i > 0) {
			if (col < (size_t)columns[i])
				while (col++ < (size_t)columns[i])
					buf_putc(out, ' ');
			else
				buf_putc(out, ' ');
		}
		buf_puts(out, e->field[i]);
	}
	for (int i = 0; i < e->argc; i++) {
		arg = normalize_arg(e->argv[i]);
		if (strcmp(arg, "-o") == 0 && i + 1 < e->argc) {
			char *val = normalize_arg(e->argv[++i]);

			word = concatenate(arg, " ", val, (char *)0);
			free(val);
			free(arg);
		} else {
			word = arg;
		}
		if ((flags & PCF_FOLD)
		    && ((strncmp(word, "-o ", 3) == 0)
		    || buf_len(out) - line_start + 1 + strlen(word) >= FOLD_WIDTH)) {
			buf_putc(out, '\n');
			line_start = buf_len(out);
			buf_printf(out, "%*s", FOLD_INDENT, "");
		} else {
			buf_putc(out, ' ');
		}
		buf_puts(out, word);
		free(word);
	}
	printf("%s\n", buf_str(out));
	buf_free(&out);
}

void
postconf_master_print(char **args, int count, int flags)
{
	for (int i = 0; i < entry_count; i++) {
		int want = count == 0;

		for (int j = 0; j < count && !want; j++) {
			const char *slash = strchr(args[j], '/');
			size_t sl = slash ? (size_t)(slash - args[j]) : strlen(args[j]);

			if (strlen(entries[i].field[0]) == sl
			    && strncmp(entries[i].field[0], args[j], sl) == 0
			    && (slash == NULL || strcmp(slash + 1, entries[i].field[1]) == 0))
				want = 1;
		}
		if (want)
			print_entry(&entries[i], flags);
	}
	/* Report requests that matched nothing. */
	for (int j = 0; j < count; j++) {
		const char *slash = strchr(args[j], '/');
		size_t sl = slash ? (size_t)(slash - args[j]) : strlen(args[j]);
		int found = 0;

		for (int i = 0; i < entry_count && !found; i++)
			if (strlen(entries[i].field[0]) == sl
			    && strncmp(entries[i].field[0], args[j], sl) == 0
			    && (slash == NULL || strcmp(slash + 1, entries[i].field[1]) == 0))
				found = 1;
		if (!found)
			msg_warn("unmatched request: \"%s\"", args[j]);
	}
}

const char *
postconf_service_param(const char *name)
{
	return service_defs ? htable_find(service_defs, name) : NULL;
}

const char **
postconf_service_params(void)
{
	struct htable_entry **list, **ep;
	const char **vec;
	size_t n = 0;

	if (service_defs == NULL)
		return xcalloc(1, sizeof(*vec));
	list = htable_list(service_defs);
	for (ep = list; *ep; ep++)
		n++;
	vec = xcalloc(n + 1, sizeof(*vec));
	n = 0;
	for (ep = list; *ep; ep++)
		vec[n++] = (*ep)->key;
	free(list);
	return vec;
}

const char **
postconf_master_values(void)
{
	const char **vec = xcalloc(1, sizeof(*vec));
	size_t n = 0;

	const char *arg, *eq;

	/* Only daemon options ("-o name=value", "-o { name = value }") are
	 * configuration; a command's own arguments ($recipient...) are not. */
	for (int i = 0; i < entry_count; i++)
		for (int j = 0; j + 1 < entries[i].argc; j++) {
			if (strcmp(entries[i].argv[j], "-o") != 0)
				continue;
			arg = entries[i].argv[++j];
			if ((eq = strchr(arg, '=')) == NULL)
				continue;
			vec = xreallocarray(vec, n + 2, sizeof(*vec));
			vec[n++] = eq + 1;
		}
	vec[n] = NULL;
	return vec;
}

/* SPDX-License-Identifier: MIT */
/* mail_vars - the typed parameters and their binding (see mail_vars.h).
 *
 * The binding table is generated from mail_vars.def: for each row the
 * index of the parameter in mail_param_table (MAIL_PARAM_ID_<name>: a
 * build error for a name the table does not know), its type, unit,
 * groups, and the address of var_<name>.  Binding takes the value the
 * way mail_conf_str() gives it -- -o override, main.cf, or default,
 * $name-expanded -- and parses it by type.
 *
 * Logs: bad values (fatal, via mail_conf_bad: "FILE, line N: bad
 * numerical configuration: NAME = VALUE"). */
#include "postino_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail_conf.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

/* The variables themselves. */
#define MAIL_VAR_STR(name, groups)	const char *var_##name;
#define MAIL_VAR_INT(name, groups)	long var_##name;
#define MAIL_VAR_BOOL(name, groups)	int var_##name;
#define MAIL_VAR_TIME(name, unit, groups)	long var_##name;
#include "mail_vars.def"
#undef MAIL_VAR_STR
#undef MAIL_VAR_INT
#undef MAIL_VAR_BOOL
#undef MAIL_VAR_TIME

enum mail_var_type {
	MAIL_VAR_T_STR,
	MAIL_VAR_T_INT,
	MAIL_VAR_T_BOOL,
	MAIL_VAR_T_TIME,
};

struct mail_var {
	enum mail_param_id id;		/* index in mail_param_table */
	enum mail_var_type type;
	int unit;			/* MAIL_VAR_T_TIME: bare number unit */
	unsigned groups;
	void *addr;			/* &var_<name> */
};

static const struct mail_var mail_var_table[] = {
#define MAIL_VAR_STR(name, groups) \
	{ MAIL_PARAM_ID_##name, MAIL_VAR_T_STR, 0, (groups), &var_##name },
#define MAIL_VAR_INT(name, groups) \
	{ MAIL_PARAM_ID_##name, MAIL_VAR_T_INT, 0, (groups), &var_##name },
#define MAIL_VAR_BOOL(name, groups) \
	{ MAIL_PARAM_ID_##name, MAIL_VAR_T_BOOL, 0, (groups), &var_##name },
#define MAIL_VAR_TIME(name, unit, groups) \
	{ MAIL_PARAM_ID_##name, MAIL_VAR_T_TIME, (unit), (groups), &var_##name },
#include "mail_vars.def"
#undef MAIL_VAR_STR
#undef MAIL_VAR_INT
#undef MAIL_VAR_BOOL
#undef MAIL_VAR_TIME
};

static unsigned bound_groups;		/* groups bound so far */

/* bind_one - parse and store one variable's current value. */
static void
bind_one(const struct mail_var *v)
{
	const struct mail_param *p = &mail_param_table[v->id];
	const char *val;
	int flag;

	/* A typed parameter is one the code reads: the table must say so. */
	if (p->status != MAIL_PARAM_IMPL && p->status != MAIL_PARAM_NO_EFFECT)
		msg_panic("mail_vars: %s is bound but marked \"%s\" in the "
		    "parameter table", p->name, mail_param_status_name(p->status));
	/* The commands bind GLOBAL: it must not fail on a malformed number. */
	if ((v->groups & MAIL_VARS_GLOBAL) && v->type != MAIL_VAR_T_STR)
		msg_panic("mail_vars: %s: the global group holds strings only",
		    p->name);
	val = mail_conf_str(p->name);
	switch (v->type) {
	case MAIL_VAR_T_STR:
		*(const char **)v->addr = val;
		break;
	case MAIL_VAR_T_INT:
		if (mail_conf_parse_int(val, (long *)v->addr) < 0)
			mail_conf_bad("numerical", p->name, val);
		break;
	case MAIL_VAR_T_BOOL:
		if (mail_conf_parse_bool(val, &flag) < 0)
			mail_conf_bad("boolean", p->name, val);
		*(int *)v->addr = flag;
		break;
	case MAIL_VAR_T_TIME:
		if (mail_conf_parse_time(val, v->unit, (long *)v->addr) < 0)
			mail_conf_bad("time", p->name, val);
		break;
	}
}

/* bind_groups - bind every variable in one of these groups. */
static void
bind_groups(unsigned groups)
{
	for (size_t i = 0; i < sizeof(mail_var_table) / sizeof(mail_var_table[0]); i++)
		if (mail_var_table[i].groups & groups)
			bind_one(&mail_var_table[i]);
}

void
mail_vars_bind(unsigned groups)
{
	groups |= MAIL_VARS_GLOBAL;
	bound_groups |= groups;
	bind_groups(groups);
}

void
mail_vars_rebind(void)
{
	if (bound_groups)
		bind_groups(bound_groups);
}

unsigned
mail_vars_bound(void)
{
	return bound_groups;
}

void
mail_vars_reset(void)
{
	bound_groups = 0;
}

int
mail_vars_inet_family(int family)
{
	char *list = xstrdup(var_inet_protocols ? var_inet_protocols : "all");
	char *cp = list, *tok;
	int ok = 0;

	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
		if (strcasecmp(tok, "all") == 0
		    || (strcasecmp(tok, "ipv4") == 0 && family == AF_INET)
		    || (strcasecmp(tok, "ipv6") == 0 && family == AF_INET6))
			ok = 1;
	}
	free(list);
	return ok;
}

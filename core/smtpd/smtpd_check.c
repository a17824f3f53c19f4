/* SPDX-License-Identifier: MIT */
/* smtpd_check - the SMTP server's access policy (see smtpd_check.h).
 *
 * smtpd_check_init() parses the seven restriction lists and the
 * restriction classes once, opens their tables (daemon style) and the
 * recipient validation tables.  It never exits on a configuration
 * error ("postino check" reports those with file and line): a list with
 * an unknown or unsupported restriction answers "451 4.3.5 Server
 * configuration error" to the commands it applies to, and so does every
 * RCPT when no relay guard (reject, defer, defer_if_permit,
 * reject_unauth_destination or defer_unauth_destination in
 * smtpd_relay_restrictions or smtpd_recipient_restrictions, classes
 * included) is there, so that the port keeps answering and never
 * relays.
 *
 * Evaluation (SMTPD_ACCESS_README): a list runs left to right until a
 * restriction permits, rejects or defers; its end is a permit.  A permit
 * ends only its own list.  With smtpd_delay_reject = yes the client, helo
 * and sender lists run at RCPT time, before the relay and recipient lists
 * (whose order follows smtpd_relay_before_recipient_restrictions).  After
 * the lists pass, smtpd_reject_unlisted_recipient validates the
 * recipient of the local, virtual alias, virtual mailbox and relay
 * classes.  defer_if_permit turns a final permit into 450,
 * defer_if_reject turns a later 5xx into 450, warn_if_reject logs the
 * next restriction's reject as reject_warning, soft_bounce turns 5xx into
 * 4xx.  Table errors answer "451 4.3.0 <name>: Temporary lookup
 * failure"; DNS failures are 4xx, never 5xx.
 *
 * The restrictions are those of Postfix 3.7 (their names, arguments and
 * the choices made where postino lacks a feature are in
 * core/mail/smtpd_restrict.h); the DNS-based
 * ones live in smtpd_check_dns.c, the access tables in
 * smtpd_check_access.c.
 *
 * Checks are synchronous: the tables they use are in-process (DNS
 * lookups are bounded by short resolver timeouts, see
 * smtpd_check_dns.c).
 *
 * Logs: each reject/defer/hold/discard/redirect/bcc/hangup as Postfix's
 * smtpd does ("NOQUEUE: reject: RCPT from NAME[ADDR]: 554 5.7.1 <x@y>: Relay
 * access denied; from=<s> to=<x@y> proto=ESMTP helo=<h>"). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include "addr_parse.h"
#include "buf.h"
#include "htable.h"
#include "mail_addr_find.h"
#include "mail_conf.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "mynetworks.h"
#include "resolve.h"
#include "smtpd_check_private.h"
#include "smtpd_restrict.h"
#include "stringops.h"
#include "verify_clnt.h"

/* What one step of a list is. */
enum step_kind {
	STEP_RESTRICTION,		/* info says which */
	STEP_CLASS,			/* a smtpd_restriction_classes name */
	STEP_ERROR,			/* a configuration error: 451 4.3.5 */
};

/* One restriction, and a list of them. */
struct rstep {
	enum step_kind kind;
	const struct smtpd_restrict_info *info;
	char *arg;		/* table name, zone, class name, error text */
	struct map *map;
	char order[3];		/* check_ccert_access: search order */
};

struct rlist {
	int count;
	struct rstep *step;
};

/* A list of tables searched together (local_recipient_maps, ...). */
struct maplist {
	const char *param;
	int count;
	struct map **map;
};

static struct {
	int ready;
	struct rlist *client, *helo, *sender, *relay, *rcpt, *data, *eod;
	struct rlist *etrn;
	struct htable *classes;		/* name -> struct rlist */
	struct maplist local_rcpt, valias, vmbox, relay_rcpt, canonical,
	    rcpt_canonical, sender_canonical, login_maps, relay_ccerts;
	int delay_reject;
	int soft_bounce;
	int relay_before_rcpt;
	int legacy_relay_domains;	/* relay_domains=$mydestination by default */
	int policy;			/* a list names check_policy_service */
	int no_unknown_rcpt;		/* receive_override_options */
} sc;

/* compat_below - is compatibility_level below major.minor? */
static int
compat_below(long major, long minor)
{
	const char *lvl = var_compatibility_level;
	long m = 0, n = 0;
	char *end;

	m = strtol(lvl, &end, 10);
	if (*end == '.')
		n = strtol(end + 1, NULL, 10);
	return m < major || (m == major && n < minor);
}

static void
rlist_free(void *ptr)
{
	struct rlist *list = ptr;

	if (list == NULL)
		return;
	for (int i = 0; i < list->count; i++) {
		free(list->step[i].arg);
		if (list->step[i].map)
			map_close(&list->step[i].map);
	}
	free(list->step);
	free(list);
}

/* rlist_error - a list that is one configuration error: every command
 * it applies to gets "451 4.3.5 Server configuration error" (the server
 * keeps serving; "postino check" names the problem). */
static struct rlist *
rlist_error(struct rlist *list, const char *text)
{
	for (int i = 0; i < list->count; i++) {
		free(list->step[i].arg);
		if (list->step[i].map)
			map_close(&list->step[i].map);
	}
	list->step = xreallocarray(list->step, 1, sizeof(*list->step));
	memset(list->step, 0, sizeof(*list->step));
	list->step[0].kind = STEP_ERROR;
	list->step[0].arg = xstrdup(text);
	list->count = 1;
	return list;
}

/* rlist_parse - parse a restriction list.  tables: open tables (main.cf
 * lists) or refuse them (access table results).  A problem is logged as
 * a warning; a main.cf list then becomes a configuration error (see
 * rlist_error), an access table result gives NULL. */
static struct rlist *
rlist_parse(const char *where, const char *text, int tables)
{
	struct rlist *list = xcalloc(1, sizeof(*list));
	char *copy = xstrdup(text), *cp = copy, *item;
	const char *err = NULL;
	char *why = NULL;

#define BAD(...) do { \
		struct buf *b_ = buf_new(128, 4096); \
		buf_printf(b_, __VA_ARGS__); \
		why = xstrdup(buf_str(b_)); \
		buf_free(&b_); \
		goto bad; \
	} while (0)

	while ((item = match_list_token(&cp, &err)) != NULL) {
		const struct smtpd_restrict_info *o = smtpd_restrict_find(item);
		struct rstep step = {0};

		if (o == NULL) {
			if (sc.classes && htable_locate(sc.classes, item)) {
				step.kind = STEP_CLASS;
				step.arg = xstrdup(item);
			} else if (strchr(item, ':')) {
				BAD("%s: do not specify lookup tables inside SMTPD "
				    "access maps (\"%s\")", where, item);
			} else {
				BAD("%s: unknown smtpd restriction: \"%s\"", where, item);
			}
		} else {
			step.kind = STEP_RESTRICTION;
			step.info = o;
			if (o->refuse)
				BAD("%s: restriction \"%s\" is not supported: %s", where,
				    o->name, o->refuse);
			if (o->op == SR_POLICY) {
				if (!tables)
					BAD("%s: restriction \"%s\" inside an access table "
					    "result: define a restriction class instead",
					    where, o->name);
				sc.policy = 1;
			}
			if (o->arg != SR_ARG_NONE) {
				char *arg = match_list_token(&cp, &err);

				if (arg == NULL)
					BAD("%s: restriction \"%s\" needs an argument",
					    where, o->name);
				if (o->arg == SR_ARG_TABLE) {
					char *merr = NULL;

					if (!tables)
						BAD("%s: do not specify lookup tables inside "
						    "SMTPD access maps (\"%s %s\")", where,
						    o->name, arg);
					if (o->what == SR_W_CCERT) {
						char *table, *bad;

						if ((bad = smtpd_restrict_ccert_parse(arg, &table,
						    step.order)) != NULL) {
							why = concatenate(where, ": ", o->name, ": ",
							    bad, (char *)0);
							free(bad);
							goto bad;
						}
						step.map = map_open(table, O_RDONLY,
						    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE, &merr);
						free(table);
						free(merr);
						step.arg = xstrdup(arg);
						goto add;
					}
					if (strchr(arg, ':') == NULL)
						BAD("%s: \"%s\" needs a type:table argument, "
						    "not \"%s\"", where, o->name, arg);
					step.map = map_open(arg, O_RDONLY, MAP_FLAGS_DEFAULT
					    | MAP_FLAG_SURROGATE, &merr);
					free(merr);
				}
				step.arg = xstrdup(arg);
			}
		}
add:
		list->step = xreallocarray(list->step, (size_t)list->count + 1,
		    sizeof(*list->step));
		list->step[list->count++] = step;
	}
	if (err)
		BAD("%s: %s", where, err);
#undef BAD
	free(copy);
	return list;

bad:
	msg_warn("%s", why);
	free(copy);
	if (!tables) {
		free(why);
		rlist_free(list);
		return NULL;
	}
	rlist_error(list, why);
	free(why);
	return list;
}

/* has_guard - does the list (or a class it names) hold a relay guard? */
static int
has_guard(const struct rlist *list, int depth)
{
	if (list == NULL || depth > SMTPD_CHECK_DEPTH)
		return 0;
	for (int i = 0; i < list->count; i++) {
		switch (list->step[i].kind) {
		case STEP_RESTRICTION:
			if (list->step[i].info->guard)
				return 1;
			break;
		case STEP_ERROR:
			/* Every command it applies to is refused. */
			return 1;
		case STEP_CLASS:
			if (has_guard(htable_find(sc.classes, list->step[i].arg),
			    depth + 1))
				return 1;
			break;
		}
	}
	return 0;
}

/* maplist_open - open the tables listed in value, the value of param. */
static void
maplist_open(struct maplist *ml, const char *param, const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *item;
	const char *err;

	ml->param = param;
	while ((item = match_list_token(&cp, &err)) != NULL) {
		char *merr = NULL;
		struct map *map = map_open(item, O_RDONLY,
		    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE, &merr);

		free(merr);
		if (map == NULL)
			continue;
		ml->map = xreallocarray(ml->map, (size_t)ml->count + 1,
		    sizeof(*ml->map));
		ml->map[ml->count++] = map;
	}
	if (err)
		msg_warn("%s: %s", param, err);
	free(copy);
}

static void
maplist_close(struct maplist *ml)
{
	for (int i = 0; i < ml->count; i++)
		map_close(&ml->map[i]);
	free(ml->map);
	memset(ml, 0, sizeof(*ml));
}

/* maplist_find_value - search addr with the key forms of strategy; a
 * copy of the value found goes to *value_r (when not NULL). */
static enum map_status
maplist_find_value(struct maplist *ml, const char *addr, const char *strategy,
    char **value_r)
{
	struct mail_addr_forms *forms;
	enum map_status st = MAP_NOTFOUND;

	if (ml->count == 0)
		return MAP_NOTFOUND;
	forms = mail_addr_forms(addr, strategy);
	for (int f = 0; forms && f < forms->count && st == MAP_NOTFOUND; f++) {
		for (int i = 0; i < ml->count; i++) {
			const char *value;

			if (!forms->full_only[f] && !(ml->map[i]->caps & MAP_CAP_FIXED))
				continue;
			st = map_lookup(ml->map[i], forms->form[f], &value);
			if (st == MAP_TEMPFAIL)
				msg_warn("%s: %s: lookup of \"%s\": %s", ml->param,
				    ml->map[i]->title, forms->form[f],
				    map_reason(ml->map[i]));
			if (st == MAP_FOUND && value_r)
				*value_r = xstrdup(value);
			if (st != MAP_NOTFOUND)
				break;
		}
	}
	mail_addr_forms_free(&forms);
	return st;
}

/* maplist_find - search addr with the key forms of strategy. */
static enum map_status
maplist_find(struct maplist *ml, const char *addr, const char *strategy)
{
	return maplist_find_value(ml, addr, strategy, NULL);
}

/* smtpd_check_free - forget the configuration (tests, reload). */
static void
smtpd_check_free(void)
{
	rlist_free(sc.client);
	rlist_free(sc.helo);
	rlist_free(sc.sender);
	rlist_free(sc.relay);
	rlist_free(sc.rcpt);
	rlist_free(sc.data);
	rlist_free(sc.eod);
	rlist_free(sc.etrn);
	if (sc.classes)
		htable_free(&sc.classes, rlist_free);
	maplist_close(&sc.local_rcpt);
	maplist_close(&sc.valias);
	maplist_close(&sc.vmbox);
	maplist_close(&sc.relay_rcpt);
	maplist_close(&sc.canonical);
	maplist_close(&sc.rcpt_canonical);
	maplist_close(&sc.sender_canonical);
	maplist_close(&sc.login_maps);
	maplist_close(&sc.relay_ccerts);
	memset(&sc, 0, sizeof(sc));
}

void
smtpd_check_init(void)
{
	static const char relay_default[] =
	    "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination";
	char *copy, *cp, *name;
	const char *err;

	smtpd_check_free();
	mail_vars_bind(MAIL_VARS_SMTPD);
	resolve_init();
	mynetworks_init();

	/* Class names first, so that lists (and classes) may name them. */
	sc.classes = htable_create(8);
	copy = xstrdup(var_smtpd_restriction_classes);
	cp = copy;
	while ((name = match_list_token(&cp, &err)) != NULL) {
		if (smtpd_restrict_find(name)) {
			/* postino check refuses this; here the name stays the
			 * restriction's. */
			msg_warn("smtpd_restriction_classes: \"%s\" is the name of "
			    "a restriction: not used as a class", name);
			continue;
		}
		if (!htable_locate(sc.classes, name))
			htable_enter(sc.classes, name, NULL);
	}
	cp = copy;
	free(copy);
	copy = xstrdup(var_smtpd_restriction_classes);
	cp = copy;
	while ((name = match_list_token(&cp, &err)) != NULL) {
		struct htable_entry *e = htable_locate(sc.classes, name);

		if (e != NULL && e->value == NULL)
			e->value = rlist_parse(name, mail_conf_str(name), 1);
	}
	free(copy);

	sc.client = rlist_parse(MAIL_PARAM_NAME(smtpd_client_restrictions),
	    var_smtpd_client_restrictions, 1);
	sc.helo = rlist_parse(MAIL_PARAM_NAME(smtpd_helo_restrictions),
	    var_smtpd_helo_restrictions, 1);
	sc.sender = rlist_parse(MAIL_PARAM_NAME(smtpd_sender_restrictions),
	    var_smtpd_sender_restrictions, 1);
	sc.relay = rlist_parse(MAIL_PARAM_NAME(smtpd_relay_restrictions),
	    var_smtpd_relay_restrictions, 1);
	sc.rcpt = rlist_parse(MAIL_PARAM_NAME(smtpd_recipient_restrictions),
	    var_smtpd_recipient_restrictions, 1);
	sc.data = rlist_parse(MAIL_PARAM_NAME(smtpd_data_restrictions),
	    var_smtpd_data_restrictions, 1);
	sc.eod = rlist_parse(MAIL_PARAM_NAME(smtpd_end_of_data_restrictions),
	    var_smtpd_end_of_data_restrictions, 1);
	sc.etrn = rlist_parse(MAIL_PARAM_NAME(smtpd_etrn_restrictions),
	    var_smtpd_etrn_restrictions, 1);

	if (!has_guard(sc.relay, 0) && !has_guard(sc.rcpt, 0)) {
		/* Postfix would refuse to start here.  With the legacy empty
		 * smtpd_relay_restrictions (compatibility_level < 1) and no
		 * recipient restrictions, we fall back to the current default
		 * rather than run an open relay or not run at all. */
		if (!mail_conf_is_set(MAIL_PARAM_NAME(smtpd_relay_restrictions))
		    && sc.rcpt->count == 0) {
			msg_warn("smtpd_relay_restrictions and "
			    "smtpd_recipient_restrictions are both empty "
			    "(compatibility_level %s): using smtpd_relay_restrictions "
			    "= %s", var_compatibility_level, relay_default);
			rlist_free(sc.relay);
			sc.relay = rlist_parse("smtpd_relay_restrictions",
			    relay_default, 1);
		} else {
			/* Postfix's smtpd exits here and the port goes dead while
			 * the master restarts it; postino check refuses this
			 * configuration, and an smtpd that meets it anyway refuses
			 * every recipient (451 4.3.5) rather than relay. */
			rlist_error(sc.relay, "in parameter smtpd_relay_restrictions "
			    "or smtpd_recipient_restrictions, specify at least one "
			    "working instance of: reject_unauth_destination, "
			    "defer_unauth_destination, reject, defer, defer_if_permit");
			msg_warn("%s", sc.relay->step[0].arg);
		}
	}

	maplist_open(&sc.local_rcpt, MAIL_PARAM_NAME(local_recipient_maps), var_local_recipient_maps);
	maplist_open(&sc.valias, MAIL_PARAM_NAME(virtual_alias_maps), var_virtual_alias_maps);
	maplist_open(&sc.vmbox, MAIL_PARAM_NAME(virtual_mailbox_maps), var_virtual_mailbox_maps);
	maplist_open(&sc.relay_rcpt, MAIL_PARAM_NAME(relay_recipient_maps), var_relay_recipient_maps);
	maplist_open(&sc.canonical, MAIL_PARAM_NAME(canonical_maps), var_canonical_maps);
	maplist_open(&sc.rcpt_canonical, MAIL_PARAM_NAME(recipient_canonical_maps), var_recipient_canonical_maps);
	maplist_open(&sc.sender_canonical, MAIL_PARAM_NAME(sender_canonical_maps), var_sender_canonical_maps);
	maplist_open(&sc.login_maps, MAIL_PARAM_NAME(smtpd_sender_login_maps), var_smtpd_sender_login_maps);
	maplist_open(&sc.relay_ccerts, MAIL_PARAM_NAME(relay_clientcerts), var_relay_clientcerts);
	sc.delay_reject = var_smtpd_delay_reject;
	sc.soft_bounce = var_soft_bounce;
	sc.relay_before_rcpt = var_smtpd_relay_before_recipient_restrictions;
	sc.legacy_relay_domains = !mail_conf_is_set(MAIL_PARAM_NAME(relay_domains))
	    && compat_below(2, 0);
	sc.ready = 1;
}

void
smtpd_check_no_unknown_rcpt(int on)
{
	sc.no_unknown_rcpt = on;
}

int
smtpd_check_uses_policy(void)
{
	if (!sc.ready)
		smtpd_check_init();
	return sc.policy;
}

/* ---------------------------------------------------------------- */
/* Replies and logging. */

/* dsn_fix - DSN codes that fit the reply class (smtpd_dsn_fix): sender
 * replies use sender codes, host and command replies no address codes. */
static void
dsn_fix(char *dsn, const char *class)
{
	static const char *const rcpt_to_sender[][2] = {
		{"1.1", "1.7"}, {"1.2", "1.8"}, {"1.3", "1.7"}, {"1.4", "1.7"},
		{"1.5", "1.0"}, {"1.6", "1.7"},
	};
	static const char *const sender_to_rcpt[][2] = {
		{"1.7", "1.3"}, {"1.8", "1.2"},
	};

	if (class == NULL || strlen(dsn) < 5)
		return;
	if (strcmp(class, "Sender address") == 0) {
		for (size_t i = 0; i < 6; i++)
			if (strcmp(dsn + 2, rcpt_to_sender[i][0]) == 0) {
				strlcpy(dsn + 2, rcpt_to_sender[i][1], 14);
				return;
			}
	} else if (strcmp(class, "Recipient address") == 0) {
		for (size_t i = 0; i < 2; i++)
			if (strcmp(dsn + 2, sender_to_rcpt[i][0]) == 0) {
				strlcpy(dsn + 2, sender_to_rcpt[i][1], 14);
				return;
			}
	} else if (strncmp(dsn + 1, ".1.", 3) == 0) {
		strlcpy(dsn + 2, "0.0", 14);
	}
}

void
smtpd_check_log(struct smtpd_check_ctx *ctx, const char *action,
    const char *text)
{
	const struct smtpd_check_session *s = ctx->s;
	struct buf *b = buf_new(256, 8192);

	buf_printf(b, "%s: %s: %s from %s: %s;", s->queue_id ? s->queue_id
	    : "NOQUEUE", action, ctx->stage, ctx->client, text);
	if (ctx->sender)
		buf_printf(b, " from=<%s>", ctx->sender);
	if (ctx->rcpt)
		buf_printf(b, " to=<%s>", ctx->rcpt);
	if (s->protocol)
		buf_printf(b, " proto=%s", s->protocol);
	if (ctx->helo)
		buf_printf(b, " helo=<%s>", ctx->helo);
	msg_info("%s", buf_str(b));
	buf_free(&b);
}

/* set_reply - store code, dsn and text in ctx->r (soft_bounce applied). */
static void
set_reply(struct smtpd_check_ctx *ctx, int code, const char *dsn,
    const char *text)
{
	struct smtpd_check_reply *r = ctx->r;

	if (sc.soft_bounce && code >= 500 && code < 600)
		code -= 100;
	r->code = code;
	strlcpy(r->dsn, dsn, sizeof(r->dsn));
	if (sc.soft_bounce && r->dsn[0] == '5')
		r->dsn[0] = '4';
	free(r->text);
	r->text = xstrdup(text);
}

/* log_reply - "reject: ...: CODE DSN TEXT". */
static void
log_reply(struct smtpd_check_ctx *ctx, const char *action)
{
	char codebuf[8];
	char *line;

	snprintf(codebuf, sizeof(codebuf), "%d", ctx->r->code);
	line = concatenate(codebuf, " ", ctx->r->dsn, " ", ctx->r->text, (char *)0);
	smtpd_check_log(ctx, action, line);
	free(line);
}

int
smtpd_check_reject(struct smtpd_check_ctx *ctx, const char *class, int code,
    const char *dsn_in, const char *fmt, ...)
{
	struct buf *text = buf_new(128, 4096);
	char dsn[16];
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(text, fmt, ap);
	va_end(ap);
	strlcpy(dsn, dsn_in, sizeof(dsn));
	dsn[0] = (char)('0' + code / 100);
	dsn_fix(dsn, class);

	if (ctx->warn_if_reject) {
		char codebuf[8];
		char *line;

		snprintf(codebuf, sizeof(codebuf), "%d", code);
		line = concatenate(codebuf, " ", dsn, " ", buf_str(text), (char *)0);
		smtpd_check_log(ctx, "reject_warning", line);
		free(line);
		ctx->r->warn_only = 1;
		buf_free(&text);
		return SMTPD_CHECK_DUNNO;
	}
	if (code >= 500 && ctx->dir.active)
		set_reply(ctx, ctx->dir.code, ctx->dir.dsn, ctx->dir.text);
	else
		set_reply(ctx, code, dsn, buf_str(text));
	log_reply(ctx, "reject");
	buf_free(&text);
	return SMTPD_CHECK_REJECT;
}

int
smtpd_check_hangup(struct smtpd_check_ctx *ctx)
{
	ctx->r->hangup = 1;
	ctx->r->code = 421;
	strlcpy(ctx->r->dsn, "4.7.0", sizeof(ctx->r->dsn));
	free(ctx->r->text);
	ctx->r->text = xstrdup("Service unavailable");
	return SMTPD_CHECK_REJECT;
}

int
smtpd_check_tempfail(struct smtpd_check_ctx *ctx, const char *name)
{
	int saved = ctx->warn_if_reject, rc;

	/* A temporary error is never downgraded to a warning. */
	ctx->warn_if_reject = 0;
	rc = smtpd_check_reject(ctx, NULL, 451, "4.3.0",
	    "<%s>: Temporary lookup failure", name);
	ctx->warn_if_reject = saved;
	return rc;
}

void
smtpd_check_defer_if(struct smtpd_check_ctx *ctx, int which, int code,
    const char *dsn, const char *fmt, ...)
{
	struct smtpd_check_pending *p = which == 'p' ? &ctx->dip : &ctx->dir;
	struct buf *text = buf_new(128, 4096);
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(text, fmt, ap);
	va_end(ap);
	/* The first one armed is the one reported. */
	if (!p->active) {
		p->active = 1;
		p->code = code;
		strlcpy(p->dsn, dsn, sizeof(p->dsn));
		p->dsn[0] = (char)('0' + code / 100);
		p->text = xstrdup(buf_str(text));
	}
	buf_free(&text);
}

/* ---------------------------------------------------------------- */
/* Individual restrictions. */

/* valid_hostname - RFC 1035 syntax (letters, digits, '-', '_'), not all
 * numeric. */
static int
valid_hostname(const char *name)
{
	size_t len = strlen(name), label = 0;
	int alpha = 0;

	if (len == 0 || len > 255 || *name == '.' || *name == '-')
		return 0;
	for (const char *cp = name; *cp; cp++) {
		unsigned char c = (unsigned char)*cp;

		if (c == '.') {
			if (label == 0 && cp[1] != 0)
				return 0;
			label = 0;
			continue;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'
		    || c == '_')
			alpha = 1;
		else if (!(c >= '0' && c <= '9'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return alpha;
}

/* addr_domain - the domain of an internal address ("" if none). */
static const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* non_fqdn_addr - reject_non_fqdn_sender / _recipient. */
static int
non_fqdn_addr(struct smtpd_check_ctx *ctx, const char *addr,
    const char *addr_int, const char *class)
{
	const char *domain;
	size_t len;

	if (addr == NULL || *addr_int == 0)
		return SMTPD_CHECK_DUNNO;
	domain = addr_domain(addr_int);
	len = strlen(domain);
	if (*domain == '[')
		return SMTPD_CHECK_DUNNO;
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len > 0 && memchr(domain, '.', len) != NULL
	    && valid_hostname(domain))
		return SMTPD_CHECK_DUNNO;
	return smtpd_check_reject(ctx, class,
	    (int)var_non_fqdn_reject_code, "5.5.2",
	    "<%s>: %s rejected: need fully-qualified address", addr, class);
}

/* unknown_domain - reject_unknown_sender_domain / _recipient_domain. */
static int
unknown_domain(struct smtpd_check_ctx *ctx, const char *addr,
    const char *addr_int, const char *class)
{
	struct resolve_reply rr;
	int sender = strcmp(class, "Sender address") == 0;
	int code = (int)var_unknown_address_reject_code;
	const char *dsn = sender ? "4.1.8" : "4.1.2";
	const char *domain;
	int rc;

	if (addr == NULL || *addr_int == 0 || sc.no_unknown_rcpt)
		return SMTPD_CHECK_DUNNO;
	if (resolve_addr(addr_int, &rr) == MAP_TEMPFAIL) {
		resolve_reply_free(&rr);
		return smtpd_check_tempfail(ctx, addr);
	}
	domain = addr_domain(rr.recipient);
	/* Our own domains (and relay domains) need no DNS. */
	if (rr.cls != RESOLVE_CLASS_DEFAULT || *domain == '[') {
		resolve_reply_free(&rr);
		return SMTPD_CHECK_DUNNO;
	}
	if (rr.flags & RESOLVE_FLAG_ERROR)
		rc = 0;
	else
		rc = smtpd_check_dns_domain(domain);
	resolve_reply_free(&rr);
	if (rc > 0)
		return SMTPD_CHECK_DUNNO;
	if (rc == 0)
		return smtpd_check_reject(ctx, class, code, dsn,
		    "<%s>: %s rejected: Domain not found", addr, class);
	/* DNS trouble: never a permanent error; 450 with the class's DSN
	 * (4.1.8 sender, 4.1.2 recipient), as Postfix. */
	if (strcasecmp(var_unknown_address_tempfail_action,
	    "defer") == 0)
		return smtpd_check_reject(ctx, class, 450, dsn,
		    "<%s>: %s rejected: Domain not found", addr, class);
	smtpd_check_defer_if(ctx, 'p', 450, dsn,
	    "<%s>: %s rejected: Domain not found", addr, class);
	return SMTPD_CHECK_DUNNO;
}

int
smtpd_check_auth_dest(struct smtpd_check_ctx *ctx, const char *addr_int)
{
	struct resolve_reply rr;
	int rc = 0;

	if (resolve_addr(addr_int, &rr) == MAP_TEMPFAIL) {
		resolve_reply_free(&rr);
		return -1;
	}
	if ((rr.flags & RESOLVE_FLAG_ROUTED)
	    && !var_allow_untrusted_routing)
		rc = 0;
	else if (rr.flags & RESOLVE_FLAG_ERROR)
		rc = 0;
	else if (rr.cls == RESOLVE_CLASS_LOCAL || rr.cls == RESOLVE_CLASS_ALIAS
	    || rr.cls == RESOLVE_CLASS_VIRTUAL)
		rc = 1;
	else if (rr.cls == RESOLVE_CLASS_RELAY) {
		if (sc.legacy_relay_domains)
			msg_info("using backwards-compatible default setting "
			    "relay_domains=$mydestination to accept mail for address "
			    "\"%s\"", ctx->rcpt);
		rc = 1;
	}
	resolve_reply_free(&rr);
	return rc;
}

/* unauth_dest - reject_/defer_unauth_destination, permit_auth_destination. */
static int
unauth_dest(struct smtpd_check_ctx *ctx, enum smtpd_restrict_op op)
{
	int code = (int)var_relay_domains_reject_code;
	int rc;

	if (ctx->rcpt == NULL)
		return SMTPD_CHECK_DUNNO;
	if ((rc = smtpd_check_auth_dest(ctx, ctx->rcpt_int)) < 0)
		return smtpd_check_tempfail(ctx, ctx->rcpt);
	if (op == SR_PERMIT_AUTH_DEST)
		return rc ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
	if (rc)
		return SMTPD_CHECK_DUNNO;
	if (op == SR_DEFER_UNAUTH_DEST)
		code -= 100;
	return smtpd_check_reject(ctx, NULL, code, "5.7.1",
	    "<%s>: Relay access denied", ctx->rcpt);
}

/* is_special_local - postmaster, mailer-daemon, $double_bounce_sender. */
static int
is_special_local(const char *local)
{
	return strcasecmp(local, "postmaster") == 0
	    || strcasecmp(local, "mailer-daemon") == 0
	    || strcasecmp(local, var_double_bounce_sender) == 0;
}

/* unlisted - recipient (or sender) validation against the tables of its
 * address class. */
static int
unlisted(struct smtpd_check_ctx *ctx, const char *addr, const char *addr_int,
    const char *class)
{
	struct resolve_reply rr;
	const char *table = NULL;
	long code = 0;
	int show = var_show_user_unknown_table_name;
	int sender = strcmp(class, "Sender address") == 0;
	enum map_status st = MAP_NOTFOUND;
	int rc;

	if (addr == NULL || *addr_int == 0 || sc.no_unknown_rcpt)
		return SMTPD_CHECK_DUNNO;
	if (resolve_addr(addr_int, &rr) == MAP_TEMPFAIL) {
		resolve_reply_free(&rr);
		return smtpd_check_tempfail(ctx, addr);
	}
	/* relocated_maps: refused at once, saying where the user went. */
	if ((rr.flags & RESOLVE_FLAG_RELOCATED) && !sender) {
		rc = smtpd_check_reject(ctx, class, 550, "5.1.6",
		    "<%s>: %s rejected: %s", addr, class, rr.nexthop + 6);
		resolve_reply_free(&rr);
		return rc;
	}
	/* An address that canonical or virtual alias mapping knows is known. */
	if (rr.cls != RESOLVE_CLASS_DEFAULT) {
		st = maplist_find(&sc.rcpt_canonical, rr.recipient, "virtual");
		if (st == MAP_NOTFOUND && sender)
			st = maplist_find(&sc.sender_canonical, rr.recipient, "virtual");
		if (st == MAP_NOTFOUND)
			st = maplist_find(&sc.canonical, rr.recipient, "virtual");
		if (st == MAP_NOTFOUND)
			st = maplist_find(&sc.valias, rr.recipient, "virtual");
	}
	if (st == MAP_NOTFOUND) {
		switch (rr.cls) {
		case RESOLVE_CLASS_LOCAL: {
			char *local = xstrndup(rr.recipient,
			    strcspn(rr.recipient, "@"));
			int ext = mail_addr_split_ext(local,
			    var_recipient_delimiter);

			if (ext >= 0)
				local[ext] = 0;
			if (sc.local_rcpt.count == 0 || is_special_local(local))
				st = MAP_FOUND;
			else
				st = maplist_find(&sc.local_rcpt, rr.recipient,
				    "recipient");
			free(local);
			table = "local recipient table";
			code = var_unknown_local_recipient_reject_code;
			break;
		}
		case RESOLVE_CLASS_ALIAS:
			table = "virtual alias table";
			code = var_unknown_virtual_alias_reject_code;
			break;
		case RESOLVE_CLASS_VIRTUAL:
			st = maplist_find(&sc.vmbox, rr.recipient, "mailbox");
			table = "virtual mailbox table";
			code = var_unknown_virtual_mailbox_reject_code;
			break;
		case RESOLVE_CLASS_RELAY:
			if (sc.relay_rcpt.count == 0)
				st = MAP_FOUND;
			else
				st = maplist_find(&sc.relay_rcpt, rr.recipient,
				    "mailbox");
			table = "relay recipient table";
			code = var_unknown_relay_recipient_reject_code;
			break;
		case RESOLVE_CLASS_DEFAULT:
			st = MAP_FOUND;
			break;
		}
	}
	resolve_reply_free(&rr);
	switch (st) {
	case MAP_FOUND:
		return SMTPD_CHECK_DUNNO;
	case MAP_TEMPFAIL:
		return smtpd_check_tempfail(ctx, addr);
	case MAP_NOTFOUND:
		break;
	}
	rc = smtpd_check_reject(ctx, class, (int)code,
	    "5.1.1", "<%s>: %s rejected: User unknown%s%s", addr, class,
	    show ? " in " : "", show ? table : "");
	return rc;
}

/* is_addr_literal - a bare IPv4/IPv6 address, or one in brackets. */
static int
is_addr_literal(const char *name)
{
	unsigned char b[16];
	char *bare;
	int rc;

	if (*name != '[')
		return match_list_addr_parse(name, b) > 0;
	bare = xstrndup(name + 1, strcspn(name + 1, "]"));
	rc = match_list_addr_parse(strncasecmp(bare, "ipv6:", 5) == 0 ? bare + 5
	    : bare, b) > 0;
	free(bare);
	return rc;
}

/* known_name - a host name that is not "unknown" (or NULL). */
static const char *
known_name(const char *name)
{
	return name && *name && strcmp(name, "unknown") != 0 ? name : NULL;
}

/* reverse_name - the client's unverified (PTR) name, or NULL. */
static const char *
reverse_name(const struct smtpd_check_session *s)
{
	return known_name(s->reverse_name ? s->reverse_name : s->client_name);
}

/* tempfail_action - a DNS temporary failure, as action (the value of a
 * *_tempfail_action parameter) says (defer_if_permit, the default, or
 * defer): never a 5xx. */
static int
tempfail_action(struct smtpd_check_ctx *ctx, const char *action,
    const char *class, int code, const char *dsn, const char *text)
{
	if (strcasecmp(action, "defer") == 0) {
		int saved = ctx->warn_if_reject, rc;

		ctx->warn_if_reject = 0;
		rc = smtpd_check_reject(ctx, class, code, dsn, "%s", text);
		ctx->warn_if_reject = saved;
		return rc;
	}
	smtpd_check_defer_if(ctx, 'p', code, dsn, "%s", text);
	return SMTPD_CHECK_DUNNO;
}

/* probe_sender - is addr (internal form) the sender of our address
 * probes ($address_verify_sender, qualified with $myorigin as cleanup
 * qualifies it)?  Another server's probes come from its own probe
 * address; probing that address back would only probe in circles. */
static int
probe_sender(const char *addr)
{
	const char *ps = var_address_verify_sender;
	size_t len;

	if (ps == NULL || *ps == 0 || strcmp(ps, "<>") == 0)
		return *addr == 0;
	if (strchr(ps, '@') != NULL)
		return strcasecmp(addr, ps) == 0;
	len = strlen(ps);
	return strncasecmp(addr, ps, len) == 0 && addr[len] == '@'
	    && strcasecmp(addr + len + 1, var_myorigin) == 0;
}

/* unverified - reject_unverified_sender / _recipient: ask the address
 * verification service (core/verify), waiting for a first answer at
 * most address_verify_poll_count times address_verify_poll_delay apart.
 * The null sender and the sender of address probes are not verified
 * (as Postfix).  Deliverable: DUNNO.  Undeliverable:
 * unverified_*_reject_code with the probe's reason (or
 * unverified_*_reject_reason).  Not known yet, or a temporary failure:
 * unverified_*_defer_code.  The service unreachable:
 * unverified_*_tempfail_action. */
static int
unverified(struct smtpd_check_ctx *ctx, const char *addr,
    const char *addr_int, int sender)
{
	const char *class = sender ? "Sender address" : "Recipient address";
	const char *why = sender ? var_unverified_sender_reject_reason
	    : var_unverified_recipient_reject_reason;
	int status, rc;
	char *reason = NULL;

	if (addr == NULL || *addr_int == 0
	    || (sender && probe_sender(addr_int)))
		return SMTPD_CHECK_DUNNO;
	if (verify_clnt_poll(addr_int, var_address_verify_poll_count,
	    var_address_verify_poll_delay * 1000L, &status, &reason)
	    != VRFY_STAT_OK) {
		char *text = concatenate("<", addr, ">: ", class,
		    " rejected: address verification problem", (char *)0);

		rc = tempfail_action(ctx, sender ? var_unverified_sender_tempfail_action
		    : var_unverified_recipient_tempfail_action, class, 450,
		    sender ? "4.1.7" : "4.1.1", text);
		free(text);
		return rc;
	}
	switch (status) {
	case VRFY_ADDR_OK:
		rc = SMTPD_CHECK_DUNNO;
		break;
	case VRFY_ADDR_BOUNCE:
		if (why && *why)
			rc = smtpd_check_reject(ctx, class, (int)(sender
			    ? var_unverified_sender_reject_code
			    : var_unverified_recipient_reject_code),
			    sender ? "5.1.7" : "5.1.1", "<%s>: %s rejected: %s",
			    addr, class, why);
		else
			rc = smtpd_check_reject(ctx, class, (int)(sender
			    ? var_unverified_sender_reject_code
			    : var_unverified_recipient_reject_code),
			    sender ? "5.1.7" : "5.1.1",
			    "<%s>: %s rejected: undeliverable address: %s",
			    addr, class, reason);
		break;
	default:			/* DEFER, TODO */
		rc = smtpd_check_reject(ctx, class, (int)(sender
		    ? var_unverified_sender_defer_code
		    : var_unverified_recipient_defer_code),
		    sender ? "4.1.7" : "4.1.1",
		    "<%s>: %s rejected: unverified address: %s", addr, class,
		    reason);
		break;
	}
	free(reason);
	return rc;
}

/* unknown_client - reject_unknown_client_hostname, _reverse_ and
 * _forward_: no (verified) name.  A lookup that failed temporarily
 * defers (defer_if_permit), as Postfix. */
static int
unknown_client(struct smtpd_check_ctx *ctx, enum smtpd_restrict_op op)
{
	const struct smtpd_check_session *s = ctx->s;
	const char *addr = s->client_addr ? s->client_addr : "";
	const char *what = "hostname";
	/* X.7.25: reverse DNS validation failed (RFC 7372); Postfix says
	 * X.7.1 when there is no reverse name at all. */
	const char *dsn = "4.7.25";
	int tempfail;
	char *text;
	int rc;

	switch (op) {
	case SR_UNKNOWN_REVERSE_CLIENT:
		if (reverse_name(s))
			return SMTPD_CHECK_DUNNO;
		tempfail = s->reverse_tempfail;
		what = "reverse hostname";
		dsn = "4.7.1";
		break;
	case SR_UNKNOWN_FORWARD_CLIENT:
		/* Only a name whose forward lookup does not come back. */
		if (known_name(s->client_name) || reverse_name(s) == NULL)
			return SMTPD_CHECK_DUNNO;
		tempfail = s->name_tempfail;
		break;
	default:
		if (known_name(s->client_name))
			return SMTPD_CHECK_DUNNO;
		tempfail = s->name_tempfail || s->reverse_tempfail;
		break;
	}
	text = concatenate("Client host rejected: cannot find your ", what,
	    ", [", addr, "]", (char *)0);
	if (tempfail)
		rc = tempfail_action(ctx, var_reject_tempfail_action, "Client host",
		    450, dsn, text);
	else
		rc = smtpd_check_reject(ctx, "Client host",
		    (int)var_unknown_client_reject_code, dsn, "%s", text);
	free(text);
	return rc;
}

/* unknown_helo - reject_unknown_helo_hostname: no A, AAAA or MX record
 * for the HELO name (address literals pass). */
static int
unknown_helo(struct smtpd_check_ctx *ctx)
{
	char *text;
	int rc;

	if (ctx->helo == NULL || is_addr_literal(ctx->helo))
		return SMTPD_CHECK_DUNNO;
	if ((rc = smtpd_check_dns_domain(ctx->helo)) > 0)
		return SMTPD_CHECK_DUNNO;
	text = concatenate("<", ctx->helo, ">: Helo command rejected: Host not "
	    "found", (char *)0);
	if (rc < 0)
		rc = tempfail_action(ctx, var_unknown_helo_hostname_tempfail_action,
		    "Helo command", 450, "4.7.1", text);
	else
		rc = smtpd_check_reject(ctx, "Helo command",
		    (int)var_unknown_hostname_reject_code, "4.7.1",
		    "%s", text);
	free(text);
	return rc;
}

/* multi_rcpt_bounce - reject_multi_recipient_bounce: a null sender with
 * more than one recipient. */
static int
multi_rcpt_bounce(struct smtpd_check_ctx *ctx, const char *class)
{
	int count = ctx->s->rcpt_count + (ctx->rcpt != NULL);

	if (ctx->sender == NULL || *ctx->sender_int != 0 || count <= 1)
		return SMTPD_CHECK_DUNNO;
	if (strcmp(ctx->stage, "RCPT") == 0 || strcmp(ctx->stage, "VRFY") == 0)
		return smtpd_check_reject(ctx, "Sender address",
		    (int)var_multi_recipient_bounce_reject_code,
		    "5.5.3", "<>: Sender address rejected: Multi-recipient bounce");
	return smtpd_check_reject(ctx, class,
	    (int)var_multi_recipient_bounce_reject_code, "5.5.3",
	    "<>: %s rejected: Multi-recipient bounce", class ? class : "Data command");
}

/* owned_by - is login one of the owners in value (separated by commas
 * or blanks)? */
static int
owned_by(const char *value, const char *login)
{
	char *copy = xstrdup(value), *cp = copy, *item;
	int found = 0;

	while (!found && (item = mystrtok(&cp, ", \t")) != NULL)
		found = strcasecmp(item, login) == 0;
	free(copy);
	return found;
}

/* login_mismatch - the *_sender_login_mismatch family (Postfix's
 * semantics): smtpd_sender_login_maps gives the SASL login names that
 * own a sender address.  An authenticated client may use only the
 * addresses it owns (reject_sender_login_mismatch and the
 * "authenticated" variant also refuse addresses that nobody owns; the
 * "known" variant only those with an owner); an unauthenticated client
 * may not use an address that has an owner (all but the
 * "authenticated" variant). */
static int
login_mismatch(struct smtpd_check_ctx *ctx, int variant)
{
	const char *login = ctx->s->sasl_username;
	enum map_status st;
	char *owners = NULL;
	int bad;

	if (ctx->sender == NULL || *ctx->sender_int == 0)
		return SMTPD_CHECK_DUNNO;
	if (login == NULL && variant == SR_LOGIN_AUTH)
		return SMTPD_CHECK_DUNNO;
	if (login != NULL && variant == SR_LOGIN_UNAUTH)
		return SMTPD_CHECK_DUNNO;
	st = maplist_find_value(&sc.login_maps, ctx->sender_int, "access", &owners);
	switch (st) {
	case MAP_NOTFOUND:
		if (login == NULL || variant == SR_LOGIN_KNOWN)
			return SMTPD_CHECK_DUNNO;
		break;
	case MAP_TEMPFAIL:
		return smtpd_check_tempfail(ctx, ctx->sender);
	case MAP_FOUND:
		break;
	}
	if (login == NULL) {
		free(owners);
		return smtpd_check_reject(ctx, "Sender address", 553, "5.7.1",
		    "<%s>: Sender address rejected: not logged in", ctx->sender);
	}
	bad = owners == NULL || !owned_by(owners, login);
	free(owners);
	if (!bad)
		return SMTPD_CHECK_DUNNO;
	return smtpd_check_reject(ctx, "Sender address", 553, "5.7.1",
	    "<%s>: Sender address rejected: not owned by user %s", ctx->sender,
	    login);
}

/* naked_ip - permit_naked_ip_address: a HELO that is a bare address. */
static int
naked_ip(struct smtpd_check_ctx *ctx)
{
	unsigned char b[16];

	if (ctx->helo == NULL || ctx->helo[strspn(ctx->helo, "0123456789.:")]
	    || match_list_addr_parse(ctx->helo, b) <= 0)
		return SMTPD_CHECK_DUNNO;
	return SMTPD_CHECK_OK;
}

/* check_relay_domains - the old relay guard: permit a client whose name
 * or address matches $relay_domains, or an authorized destination;
 * reject anything else. */
static int
check_relay_domains(struct smtpd_check_ctx *ctx)
{
	const struct smtpd_check_session *s = ctx->s;
	struct match_list *ml;
	int rc;

	if (ctx->rcpt == NULL)
		return SMTPD_CHECK_DUNNO;
	ml = match_list_create(MAIL_PARAM_NAME(relay_domains), var_relay_domains,
	    MATCH_LIST_HOSTADDR);
	rc = match_list_match(ml, known_name(s->client_name), s->client_addr);
	match_list_free(&ml);
	if (rc < 0)
		return smtpd_check_tempfail(ctx, ctx->client);
	if (rc > 0)
		return SMTPD_CHECK_OK;
	if ((rc = smtpd_check_auth_dest(ctx, ctx->rcpt_int)) < 0)
		return smtpd_check_tempfail(ctx, ctx->rcpt);
	if (rc > 0)
		return SMTPD_CHECK_OK;
	return smtpd_check_reject(ctx, NULL,
	    (int)var_relay_domains_reject_code, "5.7.1",
	    "<%s>: Relay access denied", ctx->rcpt);
}

int
smtpd_check_config_error(struct smtpd_check_ctx *ctx, const char *why)
{
	int saved = ctx->warn_if_reject, rc;

	msg_warn("%s", why);
	ctx->warn_if_reject = 0;
	rc = smtpd_check_reject(ctx, NULL, 451, "4.3.5",
	    "Server configuration error");
	ctx->warn_if_reject = saved;
	return rc;
}

/* access_check - check_WHAT[_a|_mx|_ns]_access. */
static int
access_check(struct smtpd_check_ctx *ctx, const struct rstep *step)
{
	const struct smtpd_restrict_info *o = step->info;
	const char *domain = NULL, *name = NULL, *class = NULL;

	switch (o->what) {
	case SR_W_CLIENT:
		if (o->variant == SR_DNS_NONE)
			return smtpd_check_access_client(ctx, step->map);
		domain = known_name(ctx->s->client_name);
		name = ctx->client;
		class = "Client host";
		break;
	case SR_W_REVERSE:
		domain = reverse_name(ctx->s);
		name = ctx->client;
		class = "Client host";
		if (o->variant == SR_DNS_NONE)
			return domain ? smtpd_check_access_host(ctx, step->map, domain,
			    name, class) : SMTPD_CHECK_DUNNO;
		break;
	case SR_W_HELO:
		if (o->variant == SR_DNS_NONE)
			return smtpd_check_access_helo(ctx, step->map);
		if (ctx->helo && !is_addr_literal(ctx->helo))
			domain = ctx->helo;
		name = ctx->helo;
		class = "Helo command";
		break;
	case SR_W_SENDER:
	case SR_W_RCPT: {
		const char *addr = o->what == SR_W_SENDER ? ctx->sender : ctx->rcpt;
		const char *addr_int = o->what == SR_W_SENDER ? ctx->sender_int
		    : ctx->rcpt_int;

		class = o->what == SR_W_SENDER ? "Sender address"
		    : "Recipient address";
		if (o->variant == SR_DNS_NONE)
			return smtpd_check_access_mail(ctx, step->map, addr, addr_int,
			    class);
		if (addr == NULL || *addr_int == 0)
			return SMTPD_CHECK_DUNNO;
		domain = addr_domain(addr_int);
		if (*domain == 0 || *domain == '[')
			domain = NULL;
		name = addr;
		break;
	}
	case SR_W_CCERT:
		return smtpd_check_access_ccert(ctx, step->map, step->order);
	case SR_W_ETRN:
		/* The ETRN domain and its parents (outside ETRN: nothing). */
		if (ctx->etrn == NULL)
			return SMTPD_CHECK_DUNNO;
		return smtpd_check_access_host(ctx, step->map, ctx->etrn,
		    ctx->etrn, "Etrn command");
	case SR_W_SASL:
		return smtpd_check_access_sasl(ctx, step->map);
	case SR_W_NONE:
		return SMTPD_CHECK_DUNNO;
	}
	if (domain == NULL)
		return SMTPD_CHECK_DUNNO;
	return smtpd_check_access_server(ctx, step->map, domain, o->variant,
	    name, class);
}

/* permit_ccert - permit_tls_all_clientcerts (all: any verified
 * certificate) and permit_tls_clientcerts (a certificate, verified or
 * not, whose fingerprint or public key fingerprint is a key of
 * relay_clientcerts). */
static int
permit_ccert(struct smtpd_check_ctx *ctx, int all)
{
	const struct smtpd_check_session *s = ctx->s;
	const char *keys[2] = {s->ccert_fingerprint, s->ccert_pkey_fingerprint};

	if (s->ccert_fingerprint == NULL)
		return SMTPD_CHECK_DUNNO;
	if (all)
		return s->ccert_trusted ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
	for (int i = 0; i < 2; i++) {
		if (keys[i] == NULL || *keys[i] == 0)
			continue;
		for (int m = 0; m < sc.relay_ccerts.count; m++) {
			struct map *map = sc.relay_ccerts.map[m];
			const char *value;

			switch (map_lookup(map, keys[i], &value)) {
			case MAP_FOUND:
				return SMTPD_CHECK_OK;
			case MAP_TEMPFAIL:
				msg_warn("relay_clientcerts: %s: lookup of \"%s\": %s",
				    map->title, keys[i], map_reason(map));
				return smtpd_check_tempfail(ctx, ctx->client);
			case MAP_NOTFOUND:
				break;
			}
		}
	}
	return SMTPD_CHECK_DUNNO;
}

static int generic_checks(struct smtpd_check_ctx *, const struct rlist *,
    const char *, const char *);

/* one_check - evaluate one restriction. */
static int
one_check(struct smtpd_check_ctx *ctx, const struct rstep *step,
    const char *name, const char *class)
{
	const struct smtpd_check_session *s = ctx->s;
	const struct smtpd_restrict_info *o = step->info;
	int rc;

	if (step->kind == STEP_ERROR)
		return smtpd_check_config_error(ctx, step->arg);
	if (step->kind == STEP_CLASS) {
		const struct rlist *cls = htable_find(sc.classes, step->arg);

		if (cls == NULL || ctx->depth >= SMTPD_CHECK_DEPTH) {
			char *why = concatenate("restriction class \"", step->arg,
			    "\": ", cls ? "nested too deeply" : "not defined",
			    (char *)0);

			rc = smtpd_check_config_error(ctx, why);
			free(why);
			return rc;
		}
		ctx->depth++;
		rc = generic_checks(ctx, cls, name, class);
		ctx->depth--;
		return rc;
	}

	switch (o->op) {
	case SR_PERMIT:
		return SMTPD_CHECK_OK;
	case SR_REJECT:
		return smtpd_check_reject(ctx, class,
		    (int)var_reject_code, "5.7.1",
		    "<%s>: %s rejected: Access denied", name, class);
	case SR_DEFER:
		return smtpd_check_reject(ctx, class,
		    (int)var_defer_code, "4.3.2",
		    "<%s>: %s rejected: Try again later", name, class);
	case SR_DEFER_IF_PERMIT:
		smtpd_check_defer_if(ctx, 'p', (int)var_defer_code,
		    "4.7.1", "<%s>: %s rejected: defer_if_permit requested",
		    name, class);
		return SMTPD_CHECK_DUNNO;
	case SR_DEFER_IF_REJECT:
		smtpd_check_defer_if(ctx, 'r', (int)var_defer_code,
		    "4.7.1", "<%s>: %s rejected: defer_if_reject requested",
		    name, class);
		return SMTPD_CHECK_DUNNO;
	case SR_WARN_IF_REJECT:
		ctx->warn_if_reject = 2;	/* survives the end of this step */
		return SMTPD_CHECK_DUNNO;
	case SR_SLEEP:
		/* Sleeping would stall every session of this process. */
		return SMTPD_CHECK_DUNNO;
	case SR_REJECT_UNAUTH_PIPELINING:
		if (!s->pipelining_violation)
			return SMTPD_CHECK_DUNNO;
		return smtpd_check_reject(ctx, class, 503, "5.5.0",
		    "<%s>: %s rejected: Improper use of SMTP command pipelining",
		    name, class);
	case SR_REJECT_PLAINTEXT:
		if (ctx->s->tls_protocol != NULL)
			return SMTPD_CHECK_DUNNO;
		return smtpd_check_reject(ctx, NULL,
		    (int)var_plaintext_reject_code, "4.7.1",
		    "Session encryption is required");
	case SR_REJECT_MULTI_RCPT_BOUNCE:
		return multi_rcpt_bounce(ctx, class);
	case SR_ACCESS:
		return access_check(ctx, step);
	case SR_PERMIT_MYNETWORKS:
		rc = mynetworks_match(known_name(s->client_name), s->client_addr);
		if (rc < 0)
			return smtpd_check_tempfail(ctx, ctx->client);
		return rc ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
	case SR_NEVER:
		/* permit_sasl_authenticated: a client that logged in with
		 * AUTH. */
		if (o->what == SR_W_SASL && s->sasl_username != NULL)
			return SMTPD_CHECK_OK;
		return SMTPD_CHECK_DUNNO;
	case SR_PERMIT_CCERT:
		return permit_ccert(ctx, o->variant);
	case SR_PERMIT_INET_INTERFACES: {
		char *lit;

		if (s->client_addr == NULL)
			return SMTPD_CHECK_DUNNO;
		lit = concatenate("[", s->client_addr, "]", (char *)0);
		rc = resolve_domain_is_local(lit);
		free(lit);
		return rc > 0 ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
	}
	case SR_RBL:
		return smtpd_check_rbl(ctx, o->variant, step->arg);
	case SR_MAPS_RBL: {
		char *copy = xstrdup(var_maps_rbl_domains);
		char *cp = copy, *zone;
		const char *err;

		rc = SMTPD_CHECK_DUNNO;
		while (rc == SMTPD_CHECK_DUNNO
		    && (zone = match_list_token(&cp, &err)) != NULL)
			rc = smtpd_check_rbl(ctx, 0, zone);
		free(copy);
		return rc;
	}
	case SR_RHSBL: {
		const char *domain = NULL, *rclass = "Client host";

		switch (o->what) {
		case SR_W_CLIENT:
			domain = known_name(s->client_name);
			break;
		case SR_W_REVERSE:
			domain = reverse_name(s);
			rclass = "Unverified Client host";
			break;
		case SR_W_HELO:
			if (ctx->helo && !is_addr_literal(ctx->helo))
				domain = ctx->helo;
			rclass = "Helo command";
			break;
		case SR_W_SENDER:
		case SR_W_RCPT: {
			const char *ai = o->what == SR_W_SENDER ? ctx->sender_int
			    : ctx->rcpt_int;

			if (ai && *ai && *addr_domain(ai) && *addr_domain(ai) != '[')
				domain = addr_domain(ai);
			rclass = o->what == SR_W_SENDER ? "Sender address"
			    : "Recipient address";
			break;
		}
		default:
			break;
		}
		if (domain == NULL)
			return SMTPD_CHECK_DUNNO;
		return smtpd_check_rhsbl(ctx, o->variant, step->arg, domain, rclass);
	}
	case SR_UNKNOWN_CLIENT:
	case SR_UNKNOWN_REVERSE_CLIENT:
	case SR_UNKNOWN_FORWARD_CLIENT:
		return unknown_client(ctx, o->op);
	case SR_NAKED_IP:
		return naked_ip(ctx);
	case SR_INVALID_HELO: {
		unsigned char b[16];

		if (ctx->helo == NULL)
			return SMTPD_CHECK_DUNNO;
		if (valid_hostname(ctx->helo)
		    || match_list_addr_parse(ctx->helo, b) > 0
		    || is_addr_literal(ctx->helo))
			return SMTPD_CHECK_DUNNO;
		return smtpd_check_reject(ctx, "Helo command",
		    (int)var_invalid_hostname_reject_code, "5.5.2",
		    "<%s>: Helo command rejected: Invalid name", ctx->helo);
	}
	case SR_NON_FQDN_HELO:
		if (ctx->helo == NULL || *ctx->helo == '[')
			return SMTPD_CHECK_DUNNO;
		{
			size_t len = strlen(ctx->helo);
			const char *dot = strchr(ctx->helo, '.');

			if (dot && dot != ctx->helo + len - 1 && valid_hostname(ctx->helo))
				return SMTPD_CHECK_DUNNO;
			if (dot && match_list_addr_parse(ctx->helo, (unsigned char[16]){0}) > 0)
				return SMTPD_CHECK_DUNNO;
		}
		return smtpd_check_reject(ctx, "Helo command",
		    (int)var_non_fqdn_reject_code, "5.5.2",
		    "<%s>: Helo command rejected: need fully-qualified hostname",
		    ctx->helo);
	case SR_UNKNOWN_HELO:
		return unknown_helo(ctx);
	case SR_LOGIN_MISMATCH:
		return login_mismatch(ctx, o->variant);
	case SR_NON_FQDN_ADDR:
		if (o->what == SR_W_SENDER)
			return non_fqdn_addr(ctx, ctx->sender, ctx->sender_int,
			    "Sender address");
		return non_fqdn_addr(ctx, ctx->rcpt, ctx->rcpt_int,
		    "Recipient address");
	case SR_UNKNOWN_DOMAIN:
		if (o->what == SR_W_SENDER)
			return unknown_domain(ctx, ctx->sender, ctx->sender_int,
			    "Sender address");
		return unknown_domain(ctx, ctx->rcpt, ctx->rcpt_int,
		    "Recipient address");
	case SR_UNLISTED:
		if (o->what == SR_W_SENDER)
			return unlisted(ctx, ctx->sender, ctx->sender_int,
			    "Sender address");
		return unlisted(ctx, ctx->rcpt, ctx->rcpt_int, "Recipient address");
	case SR_PERMIT_AUTH_DEST:
	case SR_REJECT_UNAUTH_DEST:
	case SR_DEFER_UNAUTH_DEST:
		return unauth_dest(ctx, o->op);
	case SR_PERMIT_MX_BACKUP:
		return smtpd_check_mx_backup(ctx);
	case SR_CHECK_RELAY_DOMAINS:
		return check_relay_domains(ctx);
	case SR_POLICY:
		return smtpd_check_policy(ctx, step->arg, name, class);
	case SR_UNVERIFIED:
		if (o->what == SR_W_SENDER)
			return unverified(ctx, ctx->sender, ctx->sender_int, 1);
		return unverified(ctx, ctx->rcpt, ctx->rcpt_int, 0);
	case SR_REFUSED: {
		char *why = concatenate("restriction \"", o->name, "\" is not "
		    "supported: ", o->refuse, (char *)0);

		rc = smtpd_check_config_error(ctx, why);
		free(why);
		return rc;
	}
	}
	return SMTPD_CHECK_DUNNO;
}

/* generic_checks - run a list; DUNNO at its end. */
static int
generic_checks(struct smtpd_check_ctx *ctx, const struct rlist *list,
    const char *name, const char *class)
{
	for (int i = 0; list && i < list->count; i++) {
		int rc = one_check(ctx, &list->step[i], name, class);

		/* warn_if_reject applies to the one restriction after it. */
		if (ctx->warn_if_reject == 2)
			ctx->warn_if_reject = 1;
		else
			ctx->warn_if_reject = 0;
		if (rc != SMTPD_CHECK_DUNNO)
			return rc;
	}
	return SMTPD_CHECK_DUNNO;
}

int
smtpd_check_list_text(struct smtpd_check_ctx *ctx, const char *text,
    const char *name, const char *class)
{
	struct rlist *list;
	int rc;

	if (ctx->depth >= SMTPD_CHECK_DEPTH) {
		msg_warn("access table result \"%s\": nested too deeply", text);
		return smtpd_check_reject(ctx, NULL, 451, "4.3.5",
		    "Server configuration error");
	}
	if ((list = rlist_parse("access table result", text, 0)) == NULL)
		return smtpd_check_reject(ctx, NULL, 451, "4.3.5",
		    "Server configuration error");
	ctx->depth++;
	rc = generic_checks(ctx, list, name, class);
	ctx->depth--;
	rlist_free(list);
	return rc;
}

/* ---------------------------------------------------------------- */
/* The stages. */

/* strip_path - the address as given without <> (for replies and logs),
 * and its internal form. */
static void
strip_path(const char *given, const char **disp_r, char **disp_copy,
    char **int_r)
{
	const char *err;
	char *copy = xstrdup(given), *inner = skipblanks(copy);
	size_t len;

	trimblanks(inner);
	len = strlen(inner);
	if (*inner == '<' && len >= 2 && inner[len - 1] == '>') {
		inner[len - 1] = 0;
		inner++;
	}
	*disp_copy = xstrdup(inner);
	*disp_r = *disp_copy;
	free(copy);
	if (addr_parse_path(*disp_r, 0, int_r, &err) < 0)
		*int_r = addr_parse_internalize(*disp_r);
}

/* ctx_init - the context of one command's checks. */
static void
ctx_init(struct smtpd_check_ctx *ctx, const struct smtpd_check_session *s,
    const char *stage, struct smtpd_check_reply *r, char **copies)
{
	memset(ctx, 0, sizeof(*ctx));
	memset(r, 0, sizeof(*r));
	copies[0] = copies[1] = NULL;
	if (!sc.ready)
		smtpd_check_init();
	ctx->s = s;
	ctx->stage = stage;
	ctx->r = r;
	ctx->helo = s->helo;
	ctx->client = concatenate(s->client_name ? s->client_name : "unknown",
	    "[", s->client_addr ? s->client_addr : "", "]", (char *)0);
	if (s->sender)
		strip_path(s->sender, &ctx->sender, &copies[0], &ctx->sender_int);
}

static void
ctx_free(struct smtpd_check_ctx *ctx, char **copies)
{
	free(ctx->sender_int);
	free(ctx->rcpt_int);
	free(ctx->client);
	free(ctx->dip.text);
	free(ctx->dir.text);
	free(copies[0]);
	free(copies[1]);
}

/* finish - the outcome of a command whose lists did not reject: a
 * pending defer_if_permit turns it into a deferral. */
static int
finish(struct smtpd_check_ctx *ctx, int rc)
{
	if (rc != SMTPD_CHECK_REJECT && ctx->dip.active) {
		set_reply(ctx, ctx->dip.code, ctx->dip.dsn, ctx->dip.text);
		log_reply(ctx, "reject");
		rc = SMTPD_CHECK_REJECT;
	}
	if (rc != SMTPD_CHECK_REJECT) {
		ctx->r->code = 0;
		ctx->r->dsn[0] = 0;
		free(ctx->r->text);
		ctx->r->text = NULL;
	}
	return ctx->r->code;
}

/* run_client/helo/sender - the early lists (own stage or delayed). */
static int
run_client(struct smtpd_check_ctx *ctx)
{
	return generic_checks(ctx, sc.client, ctx->client, "Client host");
}

static int
run_helo(struct smtpd_check_ctx *ctx)
{
	if (ctx->helo == NULL)
		return SMTPD_CHECK_DUNNO;
	return generic_checks(ctx, sc.helo, ctx->helo, "Helo command");
}

static int
run_sender(struct smtpd_check_ctx *ctx)
{
	int rc;

	if (ctx->sender == NULL)
		return SMTPD_CHECK_DUNNO;
	rc = generic_checks(ctx, sc.sender, ctx->sender, "Sender address");
	if (rc != SMTPD_CHECK_REJECT && var_smtpd_reject_unlisted_sender)
		if (unlisted(ctx, ctx->sender, ctx->sender_int, "Sender address")
		    == SMTPD_CHECK_REJECT)
			rc = SMTPD_CHECK_REJECT;
	return rc;
}

int
smtpd_check_client(const struct smtpd_check_session *s,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc = SMTPD_CHECK_DUNNO;

	ctx_init(&ctx, s, "CONNECT", r, copies);
	if (!sc.delay_reject)
		rc = run_client(&ctx);
	rc = finish(&ctx, rc);
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_helo(const struct smtpd_check_session *s, const char *helo,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc = SMTPD_CHECK_DUNNO;

	ctx_init(&ctx, s, s->protocol && strcmp(s->protocol, "ESMTP") == 0
	    ? "EHLO" : "HELO", r, copies);
	ctx.helo = helo;
	if (!sc.delay_reject)
		rc = run_helo(&ctx);
	rc = finish(&ctx, rc);
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_mail(const struct smtpd_check_session *s, const char *sender,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc = SMTPD_CHECK_DUNNO;

	ctx_init(&ctx, s, "MAIL", r, copies);
	free(ctx.sender_int);
	free(copies[0]);
	strip_path(sender, &ctx.sender, &copies[0], &ctx.sender_int);
	if (!sc.delay_reject)
		rc = run_sender(&ctx);
	rc = finish(&ctx, rc);
	ctx_free(&ctx, copies);
	return rc;
}

/* rcpt_checks - everything that RCPT (and VRFY) runs. */
static int
rcpt_checks(struct smtpd_check_ctx *ctx)
{
	int rc = SMTPD_CHECK_DUNNO;

	if (sc.delay_reject) {
		if (run_client(ctx) == SMTPD_CHECK_REJECT
		    || run_helo(ctx) == SMTPD_CHECK_REJECT
		    || run_sender(ctx) == SMTPD_CHECK_REJECT)
			return SMTPD_CHECK_REJECT;
	}
	if (sc.relay_before_rcpt) {
		if (generic_checks(ctx, sc.relay, ctx->rcpt, "Recipient address")
		    == SMTPD_CHECK_REJECT
		    || generic_checks(ctx, sc.rcpt, ctx->rcpt, "Recipient address")
		    == SMTPD_CHECK_REJECT)
			return SMTPD_CHECK_REJECT;
	} else {
		if (generic_checks(ctx, sc.rcpt, ctx->rcpt, "Recipient address")
		    == SMTPD_CHECK_REJECT
		    || generic_checks(ctx, sc.relay, ctx->rcpt, "Recipient address")
		    == SMTPD_CHECK_REJECT)
			return SMTPD_CHECK_REJECT;
	}
	if (var_smtpd_reject_unlisted_recipient)
		rc = unlisted(ctx, ctx->rcpt, ctx->rcpt_int, "Recipient address");
	return rc;
}

int
smtpd_check_rcpt(const struct smtpd_check_session *s, const char *rcpt,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc;

	ctx_init(&ctx, s, "RCPT", r, copies);
	strip_path(rcpt, &ctx.rcpt, &copies[1], &ctx.rcpt_int);
	rc = finish(&ctx, rcpt_checks(&ctx));
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_vrfy(const struct smtpd_check_session *s, const char *addr,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc;

	ctx_init(&ctx, s, "VRFY", r, copies);
	strip_path(addr, &ctx.rcpt, &copies[1], &ctx.rcpt_int);
	rc = finish(&ctx, rcpt_checks(&ctx));
	if (rc == 0) {
		r->code = 252;
		strlcpy(r->dsn, "2.0.0", sizeof(r->dsn));
		r->text = concatenate("<", ctx.rcpt, ">", (char *)0);
		rc = 252;
	}
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_etrn(const struct smtpd_check_session *s, const char *domain,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc;

	ctx_init(&ctx, s, "ETRN", r, copies);
	ctx.etrn = domain;
	rc = finish(&ctx, generic_checks(&ctx, sc.etrn, "ETRN", "Etrn command"));
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_data(const struct smtpd_check_session *s,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc;

	ctx_init(&ctx, s, "DATA", r, copies);
	rc = finish(&ctx, generic_checks(&ctx, sc.data, "DATA", "Data command"));
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_eod(const struct smtpd_check_session *s,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	int rc;

	ctx_init(&ctx, s, "END-OF-MESSAGE", r, copies);
	rc = finish(&ctx, generic_checks(&ctx, sc.eod, "END-OF-MESSAGE",
	    "End-of-data"));
	ctx_free(&ctx, copies);
	return rc;
}

int
smtpd_check_size(const struct smtpd_check_session *s, long size,
    struct smtpd_check_reply *r)
{
	struct smtpd_check_ctx ctx;
	char *copies[2];
	long limit = var_message_size_limit;
	struct statvfs fs;
	int rc = SMTPD_CHECK_DUNNO;

	ctx_init(&ctx, s, "MAIL", r, copies);
	if (limit > 0 && size > limit) {
		rc = smtpd_check_reject(&ctx, NULL, 552, "5.3.4",
		    "Message size exceeds fixed limit");
	} else if (statvfs(var_queue_directory, &fs) == 0) {
		/* Room for this message and queue_minfree, and 1.5 times the
		 * size limit (Postfix's rule of thumb) left over. */
		double avail = (double)fs.f_bavail * (double)fs.f_frsize;
		double need = (double)var_queue_minfree
		    + (size > 0 ? (double)size : 0);

		if (avail - need < 1.5 * (double)limit || avail < need)
			rc = smtpd_check_reject(&ctx, NULL, 452, "4.3.1",
			    "Insufficient system storage");
	}
	rc = finish(&ctx, rc);
	ctx_free(&ctx, copies);
	return rc;
}

void
smtpd_check_reply_free(struct smtpd_check_reply *r)
{
	free(r->text);
	free(r->redirect);
	free(r->filter);
	for (int i = 0; i < r->nprepend; i++)
		free(r->prepend[i]);
	free(r->prepend);
	for (int i = 0; i < r->nbcc; i++)
		free(r->bcc[i]);
	free(r->bcc);
	memset(r, 0, sizeof(*r));
}

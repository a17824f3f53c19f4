/* SPDX-License-Identifier: MIT */
/* cleanup - the cleanup library's API: per-process configuration, the
 * envelope, the queue file and its commit.
 *
 * The queue file is created in incoming/ when the state is opened (so the
 * queue ID exists for log lines); V and T go out at once, A/S/R records
 * when the first content line arrives, then the content record is
 * streamed.  Recipients that appear later (REDIRECT, BCC actions) are
 * written after the content record, and a REDIRECT turns the earlier
 * recipient records into done records.  Commit (held mail is first moved
 * to hold/ while still incomplete): END, fsync of the file and of its
 * directory, only then mode 0700 (what qmgr looks for) and a second fsync
 * for the mode (qfile_finish).  Any failure unlinks the file: a file
 * that is not durable is never marked complete, so qmgr can never deliver
 * a message whose sender was told 4xx.
 *
 * Logs (as program "cleanup"): "ID: message-id=<...>", header/body check
 * actions "ID: reject: header ... from CLIENT; from=<> to=<> proto=
 * helo=<>: text", and warnings for write and table errors. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup_private.h"
#include "mail_params.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "stringops.h"

struct cleanup_conf cleanup_conf;

/* word_list - the words of a comma/blank list, each malloc'd. */
static void
word_list(const char *list, char ***words_r, int *count_r)
{
	char *copy = xstrdup(list), *cp = copy, *item;

	*words_r = NULL;
	*count_r = 0;
	while ((item = mystrtok(&cp, ", \t\r\n")) != NULL) {
		*words_r = xreallocarray(*words_r, (size_t)*count_r + 1,
		    sizeof(char *));
		(*words_r)[(*count_r)++] = xstrdup(item);
	}
	free(copy);
}

/* char_set - a set of bytes written with C escapes (\a \b \f \n \r \t
 * \v \\ and \ddd, up to three octal digits), as postconf(5) says for
 * message_reject_characters and message_strip_characters; 1 if the set
 * is not empty.  A backslash before anything else stands for that
 * character (with a warning). */
static int
char_set(const char *param, const char *value, unsigned char set[32])
{
	int any = 0;

	memset(set, 0, 32);
	for (const char *cp = value; *cp; cp++) {
		unsigned c = (unsigned char)*cp;

		if (c == '\\' && cp[1]) {
			static const char esc[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
			const char *e;

			cp++;
			if (*cp >= '0' && *cp <= '7') {
				c = 0;
				for (int n = 0; n < 3 && *cp >= '0' && *cp <= '7'; n++)
					c = c * 8 + (unsigned)(*cp++ - '0');
				cp--;
				c &= 0xff;
			} else if ((e = strchr(esc, *cp)) != NULL
			    && (e - esc) % 2 == 0) {
				c = (unsigned char)e[1];
			} else {
				msg_warn("%s: unknown escape \\%c: taken as %c", param,
				    *cp, *cp);
				c = (unsigned char)*cp;
			}
		}
		set[c / 8] |= (unsigned char)(1u << (c % 8));
		any = 1;
	}
	return any;
}

/* word_list_free - what word_list() made. */
static void
word_list_free(char ***words, int *count)
{
	for (int i = 0; i < *count; i++)
		free((*words)[i]);
	free(*words);
	*words = NULL;
	*count = 0;
}

/* in_list - is word one of the names in a comma/blank list? */
static int
in_list(const char *list, const char *word)
{
	char *copy = xstrdup(list), *cp = copy, *item;
	int found = 0;

	while ((item = mystrtok(&cp, ", \t\r\n")) != NULL)
		if (strcasecmp(item, word) == 0)
			found = 1;
	free(copy);
	return found;
}

/* add_local_addr - remember one address in canonical printable form. */
static void
add_local_addr(const char *text)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char out[INET6_ADDRSTRLEN];
	int af = strchr(text, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(af, text, bin) != 1 || !inet_ntop(af, bin, out, sizeof(out)))
		return;
	cleanup_conf.local_addrs = xreallocarray(cleanup_conf.local_addrs,
	    (size_t)cleanup_conf.local_addr_count + 1, sizeof(char *));
	cleanup_conf.local_addrs[cleanup_conf.local_addr_count++] = xstrdup(out);
}

/* init_local_addrs - the addresses permit_inet_interfaces matches. */
static void
init_local_addrs(void)
{
	const char *ifs = var_inet_interfaces;
	char *copy, *cp, *item;

	add_local_addr("127.0.0.1");
	add_local_addr("::1");
	if (in_list(ifs, "all")) {
		struct ifaddrs *list, *ifa;

		if (getifaddrs(&list) < 0) {
			msg_warn("getifaddrs: %m");
			return;
		}
		for (ifa = list; ifa; ifa = ifa->ifa_next) {
			char out[INET6_ADDRSTRLEN];

			if (ifa->ifa_addr == NULL)
				continue;
			if (ifa->ifa_addr->sa_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)
				    ifa->ifa_addr)->sin_addr, out, sizeof(out));
			else if (ifa->ifa_addr->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)
				    ifa->ifa_addr)->sin6_addr, out, sizeof(out));
			else
				continue;
			add_local_addr(out);
		}
		freeifaddrs(list);
		return;
	}
	copy = xstrdup(ifs);
	cp = copy;
	while ((item = mystrtok(&cp, ", \t\r\n[]")) != NULL)
		add_local_addr(item);
	free(copy);
}

static void
cleanup_conf_free(void)
{
	struct cleanup_conf *c = &cleanup_conf;

	maps_close(&c->header_checks);
	maps_close(&c->mime_header_checks);
	maps_close(&c->nested_header_checks);
	maps_close(&c->body_checks);
	maps_close(&c->milter_header_checks);
	maps_close(&c->canonical);
	maps_close(&c->sender_canonical);
	maps_close(&c->rcpt_canonical);
	maps_close(&c->virtual_alias);
	maps_close(&c->sender_bcc);
	maps_close(&c->rcpt_bcc);
	free(c->always_bcc);
	word_list_free(&c->masq_domains, &c->masq_domain_count);
	word_list_free(&c->masq_exceptions, &c->masq_exception_count);
	free(c->remote_rewrite_domain);
	free(c->myorigin);
	free(c->myhostname);
	free(c->undisclosed_header);
	free(c->rewrite_clients);
	word_list_free(&c->local_addrs, &c->local_addr_count);
	word_list_free(&c->drop_headers, &c->drop_header_count);
	memset(c, 0, sizeof(*c));
}

void
cleanup_init(void)
{
	struct cleanup_conf *c = &cleanup_conf;
	const char *classes;

	/* Again after a configuration change (tests, reload). */
	if (c->initialised)
		cleanup_conf_free();
	mail_vars_bind(MAIL_VARS_CLEANUP);
#define OPEN_MAPS(maps, param) \
	maps_open((maps), MAIL_PARAM_NAME(param), var_##param)
	OPEN_MAPS(&c->header_checks, header_checks);
	OPEN_MAPS(&c->mime_header_checks, mime_header_checks);
	OPEN_MAPS(&c->nested_header_checks, nested_header_checks);
	OPEN_MAPS(&c->body_checks, body_checks);
	OPEN_MAPS(&c->milter_header_checks, milter_header_checks);
	OPEN_MAPS(&c->canonical, canonical_maps);
	OPEN_MAPS(&c->sender_canonical, sender_canonical_maps);
	OPEN_MAPS(&c->rcpt_canonical, recipient_canonical_maps);
	OPEN_MAPS(&c->virtual_alias, virtual_alias_maps);
	OPEN_MAPS(&c->sender_bcc, sender_bcc_maps);
	OPEN_MAPS(&c->rcpt_bcc, recipient_bcc_maps);
#undef OPEN_MAPS
	c->always_bcc = xstrdup(var_always_bcc);
	classes = var_canonical_classes;
	c->canon_env_sender = in_list(classes, "envelope_sender");
	c->canon_env_rcpt = in_list(classes, "envelope_recipient");
	c->canon_hdr_sender = in_list(classes, "header_sender");
	c->canon_hdr_rcpt = in_list(classes, "header_recipient");
	c->sender_canon_env = in_list(var_sender_canonical_classes,
	    "envelope_sender");
	c->sender_canon_hdr = in_list(var_sender_canonical_classes,
	    "header_sender");
	c->rcpt_canon_env = in_list(var_recipient_canonical_classes,
	    "envelope_recipient");
	c->rcpt_canon_hdr = in_list(var_recipient_canonical_classes,
	    "header_recipient");
	classes = var_masquerade_classes;
	c->masq_env_sender = in_list(classes, "envelope_sender");
	c->masq_env_rcpt = in_list(classes, "envelope_recipient");
	c->masq_hdr_sender = in_list(classes, "header_sender");
	c->masq_hdr_rcpt = in_list(classes, "header_recipient");
	word_list(var_masquerade_domains, &c->masq_domains,
	    &c->masq_domain_count);
	word_list(var_masquerade_exceptions, &c->masq_exceptions,
	    &c->masq_exception_count);
	c->remote_rewrite_domain = xstrdup(var_remote_header_rewrite_domain);
	classes = var_propagate_unmatched_extensions;
	c->propagate_canonical = in_list(classes, "canonical");
	c->propagate_virtual = in_list(classes, "virtual");
	c->append_at_myorigin = var_append_at_myorigin;
	c->enable_orig_rcpt = var_enable_original_recipient;
	c->always_add_headers = var_always_add_missing_headers;
	c->hopcount_limit = var_hopcount_limit;
	c->size_limit = var_message_size_limit;
	c->header_size_limit = var_header_size_limit;
	c->body_checks_size_limit = var_body_checks_size_limit;
	c->virt_recursion_limit = var_virtual_alias_recursion_limit;
	c->virt_expansion_limit = var_virtual_alias_expansion_limit;
	c->virt_addr_length_limit = var_virtual_alias_address_length_limit;
	if (c->header_size_limit < 1024)
		c->header_size_limit = 1024;
	c->mime_disabled = var_disable_mime_input_processing;
	c->mime_nesting_limit = var_mime_nesting_limit;
	c->mime_boundary_limit = var_mime_boundary_length_limit;
	/* Postfix refuses mail nested too deep only where a check could be
	 * evaded by nesting. */
	c->mime_report_nesting = *var_header_checks || *var_mime_header_checks
	    || *var_nested_header_checks;
	word_list(var_message_drop_headers, &c->drop_headers,
	    &c->drop_header_count);
	c->any_reject_chars = char_set(MAIL_PARAM_NAME(message_reject_characters),
	    var_message_reject_characters, c->reject_chars);
	c->any_strip_chars = char_set(MAIL_PARAM_NAME(message_strip_characters),
	    var_message_strip_characters, c->strip_chars);
	c->myorigin = xstrdup(var_myorigin);
	c->myhostname = xstrdup(var_myhostname);
	c->undisclosed_header = xstrdup(var_undisclosed_recipients_header);
	c->rewrite_clients = xstrdup(var_local_header_rewrite_clients);
	init_local_addrs();
	c->initialised = 1;
}

void
cleanup_log(struct cleanup_state *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf_as(MSG_INFO, CLEANUP_PROG, fmt, ap);
	va_end(ap);
}

void
cleanup_set_error(struct cleanup_state *st, int status, const char *reply)
{
	/* The first reason is kept, except that a rejection beats a defer. */
	if (reply != NULL && (st->reply == NULL
	    || (status == CLEANUP_STAT_CONT && (st->status & CLEANUP_STAT_CONT) == 0))) {
		free(st->reply);
		st->reply = xstrdup(reply);
	}
	st->status |= status;
}

/* cleanup_drop_file - unlink the queue file (refused or failed). */
static void
cleanup_drop_file(struct cleanup_state *st)
{
	if (st->qf)
		qfile_abort(&st->qf);
}

void
cleanup_write_error(struct cleanup_state *st, const char *what)
{
	int err = errno;

	if (st->qf == NULL)
		return;
	msg_warn_as(CLEANUP_PROG, "%s: %s %s: %s", st->queue_id, what,
	    qfile_writer_path(st->qf), strerror(err));
	if (err == ENOSPC)
		cleanup_set_error(st, CLEANUP_STAT_NOSPACE, NULL);
	else if (err == EFBIG)
		cleanup_set_error(st, CLEANUP_STAT_SIZE, NULL);
	else
		cleanup_set_error(st, CLEANUP_STAT_WRITE, NULL);
	cleanup_drop_file(st);
}

/* is_local_client - do missing headers get added for this client?  The
 * "rewrite_context" attribute (local/remote) from smtpd wins; without a
 * client address the mail is a local submission. */
static int
is_local_client(struct cleanup_state *st)
{
	const char *ctx = attr_get(st->attrs, "rewrite_context");
	const char *addr = attr_get(st->attrs, "client_address");
	const char *list = cleanup_conf.rewrite_clients;

	if (ctx != NULL)
		return strcmp(ctx, "local") == 0;
	if (addr == NULL || *addr == 0)
		return 1;
	if (in_list(list, "static:all"))
		return 1;
	if (in_list(list, "permit_sasl_authenticated")) {
		const char *user = attr_get(st->attrs, "sasl_username");

		if (user && *user)
			return 1;
	}
	if (in_list(list, "permit_inet_interfaces")) {
		unsigned char bin[sizeof(struct in6_addr)];
		char out[INET6_ADDRSTRLEN];
		const char *a = strncasecmp(addr, "ipv6:", 5) == 0 ? addr + 5 : addr;
		int af = strchr(a, ':') ? AF_INET6 : AF_INET;

		if (inet_pton(af, a, bin) == 1 && inet_ntop(af, bin, out, sizeof(out)))
			for (int i = 0; i < cleanup_conf.local_addr_count; i++)
				if (strcmp(cleanup_conf.local_addrs[i], out) == 0)
					return 1;
	}
	return 0;
}

/* cleanup_give_to_owner - chown a new queue file to $mail_owner. */
static void
cleanup_give_to_owner(int fd)
{
	static int looked_up;
	static uid_t uid;
	static gid_t gid;

	if (!looked_up) {
		struct passwd *pw = getpwnam(var_mail_owner);

		looked_up = pw ? 1 : -1;
		if (pw) {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		} else {
			msg_warn_as(CLEANUP_PROG, "mail_owner %s: no such user: queue files stay owned by root",
			    var_mail_owner);
		}
	}
	if (looked_up > 0 && fchown(fd, uid, gid) < 0)
		msg_warn_as(CLEANUP_PROG, "fchown queue file to %s: %m",
		    var_mail_owner);
}

struct cleanup_state *
cleanup_open(int flags)
{
	struct cleanup_state *st = xcalloc(1, sizeof(*st));
	const char *id;
	char tbuf[64];

	if (!cleanup_conf.initialised)
		cleanup_init();
	st->flags = flags;
	st->attrs = attr_list_new();
	st->dups = htable_create(16);
	st->hdr = buf_new(256, BUF_NOLIMIT);
	mime_parse_init(&st->mime, cleanup_conf.mime_disabled,
	    cleanup_conf.mime_nesting_limit, cleanup_conf.mime_boundary_limit);
	gettimeofday(&st->arrival, NULL);
	st->qf = qfile_create(mail_queue_dir(MAIL_QUEUE_INCOMING), &id);
	if (st->qf == NULL) {
		int err = errno;

		strlcpy(st->queue_id, "NOQUEUE", sizeof(st->queue_id));
		msg_warn_as(CLEANUP_PROG, "create queue file in %s: %s",
		    mail_queue_dir(MAIL_QUEUE_INCOMING), strerror(err));
		cleanup_set_error(st, err == ENOSPC ? CLEANUP_STAT_NOSPACE
		    : CLEANUP_STAT_WRITE, NULL);
		return st;
	}
	strlcpy(st->queue_id, qfile_writer_id(st->qf), sizeof(st->queue_id));
	/* A queue file made by a process running as root (local forwarding
	 * mail) must belong to mail_owner, or qmgr cannot read it. */
	if (geteuid() == 0)
		cleanup_give_to_owner(qfile_writer_fd(st->qf));
	snprintf(tbuf, sizeof(tbuf), "%ld.%06ld", (long)st->arrival.tv_sec,
	    (long)st->arrival.tv_usec);
	if (qfile_put_str(st->qf, QREC_VERSION, "1") < 0
	    || qfile_put_str(st->qf, QREC_TIME, tbuf) < 0)
		cleanup_write_error(st, "write queue file");
	else
		st->env_offset = qfile_offset(st->qf);
	return st;
}

const char *
cleanup_queue_id(const struct cleanup_state *st)
{
	return st->queue_id;
}

int
cleanup_status(const struct cleanup_state *st)
{
	return st->status;
}

void
cleanup_add_flags(struct cleanup_state *st, int flags)
{
	st->flags |= flags;
}

void
cleanup_set_attr(struct cleanup_state *st, const char *name,
    const char *value)
{
	for (const char *cp = name; *cp; cp++)
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= '0' && *cp <= '9')
		    || *cp == '_'))
			msg_panic("cleanup_set_attr: bad attribute name \"%s\"", name);
	if (*name == 0)
		msg_panic("cleanup_set_attr: empty attribute name");
	attr_add(st->attrs, name, value);
	st->size += (off_t)(strlen(name) + strlen(value ? value : "") + 2);
}

/* auto_bcc_add - remember a BCC address for cleanup_finish. */
static void
auto_bcc_add(struct cleanup_state *st, char *bcc)
{
	st->auto_bcc = xreallocarray(st->auto_bcc,
	    (size_t)st->auto_bcc_count + 1, sizeof(char *));
	st->auto_bcc[st->auto_bcc_count++] = bcc;
}

void
cleanup_set_sender(struct cleanup_state *st, const char *sender)
{
	char *s = cleanup_addr_sender(st, sender), *bcc;

	free(st->sender);
	st->sender = s ? s : xstrdup(sender);
	st->size += (off_t)strlen(st->sender) + 1;
	/* sender_bcc_maps: by the sender after canonical mapping. */
	if ((st->flags & CLEANUP_FLAG_BCC_OK) && s != NULL
	    && (bcc = cleanup_addr_bcc(st, &cleanup_conf.sender_bcc, s)) != NULL)
		auto_bcc_add(st, bcc);
}

void
cleanup_final_rcpt(struct cleanup_state *st, const char *orig,
    const char *addr, int notify)
{
	char *key;
	struct cleanup_rcpt *r;

	if (!cleanup_conf.enable_orig_rcpt)
		orig = "";
	/* Duplicates are (original, final) pairs, case-insensitively. */
	key = concatenate(orig, "\n", addr, (char *)0);
	lowercase(key);
	if (htable_find(st->dups, key) != NULL) {
		free(key);
		return;
	}
	htable_enter(st->dups, key, st);
	free(key);
	if (st->rcpt_count == st->rcpt_cap) {
		st->rcpt_cap = st->rcpt_cap ? st->rcpt_cap * 2 : 8;
		st->rcpt = xreallocarray(st->rcpt, (size_t)st->rcpt_cap,
		    sizeof(*st->rcpt));
		st->rcpt_offset = xreallocarray(st->rcpt_offset,
		    (size_t)st->rcpt_cap, sizeof(off_t));
	}
	r = st->rcpt + st->rcpt_count++;
	r->orig = xstrdup(orig);
	r->addr = xstrdup(addr);
	r->notify = notify;
	st->size += (off_t)(strlen(orig) + strlen(addr) + 8);
}

void
cleanup_add_rcpt(struct cleanup_state *st, const char *rcpt,
    const char *orig_rcpt, int dsn_notify)
{
	char *addr;

	if (st->log_rcpt == NULL)
		st->log_rcpt = xstrdup(rcpt);
	if (orig_rcpt == NULL)
		orig_rcpt = rcpt;
	if ((addr = cleanup_addr_rcpt(st, rcpt)) == NULL)
		return;
	/* recipient_bcc_maps: by the recipient after canonical mapping,
	 * before virtual alias expansion (as Postfix). */
	if (st->flags & CLEANUP_FLAG_BCC_OK) {
		char *bcc = cleanup_addr_bcc(st, &cleanup_conf.rcpt_bcc, addr);

		if (bcc != NULL)
			auto_bcc_add(st, bcc);
	}
	cleanup_addr_virtual(st, orig_rcpt, addr, dsn_notify);
	free(addr);
}

void
cleanup_add_bcc(struct cleanup_state *st, const char *addr)
{
	char *rcpt;

	if ((rcpt = cleanup_addr_rcpt(st, addr)) == NULL)
		return;
	cleanup_addr_virtual(st, rcpt, rcpt, DSN_NOTIFY_NEVER);
	free(rcpt);
}

void
cleanup_set_redirect(struct cleanup_state *st, const char *addr)
{
	free(st->redirect);
	st->redirect = xstrdup(addr);
}

void
cleanup_prepend_header(struct cleanup_state *st, const char *line)
{
	if (st->cstate != CLEANUP_ST_ENVELOPE) {
		/* Content has started: it goes where we are now. */
		cleanup_header_text(st, line, strlen(line));
		return;
	}
	st->prepend = xreallocarray(st->prepend, (size_t)st->prepend_count + 1,
	    sizeof(char *));
	st->prepend[st->prepend_count++] = xstrdup(line);
}

int
cleanup_input_flags(int *no_unknown_rcpt_r)
{
	char *copy = xstrdup(var_receive_override_options), *cp = copy, *w;
	int flags = CLEANUP_FLAGS_DEFAULT;

	if (no_unknown_rcpt_r)
		*no_unknown_rcpt_r = 0;
	while ((w = mystrtok(&cp, ", \t\r\n")) != NULL) {
		if (strcasecmp(w, "no_address_mappings") == 0)
			flags &= ~(CLEANUP_FLAG_MAP_OK | CLEANUP_FLAG_BCC_OK);
		else if (strcasecmp(w, "no_header_body_checks") == 0)
			flags &= ~CLEANUP_FLAG_FILTER;
		else if (strcasecmp(w, "no_milters") == 0)
			flags &= ~CLEANUP_FLAG_MILTER;
		else if (strcasecmp(w, "no_unknown_recipient_checks") == 0) {
			if (no_unknown_rcpt_r)
				*no_unknown_rcpt_r = 1;
		} else
			msg_fatal("%s: unknown value \"%s\" (known: no_address_mappings, "
			    "no_header_body_checks, no_milters, "
			    "no_unknown_recipient_checks)",
			    MAIL_PARAM_NAME(receive_override_options), w);
	}
	free(copy);
	return flags;
}

void
cleanup_set_filter(struct cleanup_state *st, const char *filter)
{
	const char *colon = strchr(filter, ':');

	if (*filter && (colon == NULL || colon == filter
	    || strpbrk(filter, " \t\r\n") != NULL)) {
		msg_warn_as(CLEANUP_PROG, "%s: bad content filter \"%s\": "
		    "need transport:destination: ignored", st->queue_id, filter);
		return;
	}
	free(st->filter);
	st->filter = *filter ? xstrdup(filter) : NULL;
}

/* write_rcpts - recipients not yet in the file, as R records. */
static void
write_rcpts(struct cleanup_state *st)
{
	for (; st->rcpt_written < st->rcpt_count; st->rcpt_written++) {
		struct cleanup_rcpt *r = st->rcpt + st->rcpt_written;

		if (st->qf && qfile_put_rcpt(st->qf, r->notify, r->orig, r->addr,
		    st->rcpt_offset + st->rcpt_written) < 0) {
			cleanup_write_error(st, "write queue file");
			return;
		}
	}
}

/* write_envelope - the A, S and R records, then the start of the
 * content record. */
static void
write_envelope(struct cleanup_state *st)
{
	for (int i = 0; st->qf && i < st->attrs->count; i++) {
		char *rec = concatenate(st->attrs->names[i], "=",
		    st->attrs->values[i], (char *)0);

		if (qfile_put_str(st->qf, QREC_ATTR, rec) < 0)
			cleanup_write_error(st, "write queue file");
		free(rec);
	}
	if (st->qf && qfile_put_str(st->qf, QREC_SENDER,
	    st->sender ? st->sender : "") < 0)
		cleanup_write_error(st, "write queue file");
	write_rcpts(st);
	if (st->qf && qfile_content_begin(st->qf) < 0)
		cleanup_write_error(st, "write queue file");
}

void
cleanup_start_content(struct cleanup_state *st)
{
	if (st->cstate != CLEANUP_ST_ENVELOPE)
		return;
	st->cstate = CLEANUP_ST_HEADERS;
	st->local_context = is_local_client(st);
	/* Recorded for the agents (XFORWARD SOURCE, pipe). */
	if (attr_get(st->attrs, "rewrite_context") == NULL)
		attr_add(st->attrs, "rewrite_context", st->local_context
		    ? "local" : "remote");
	write_envelope(st);
	for (int i = 0; i < st->prepend_count; i++)
		cleanup_header_text(st, st->prepend[i], strlen(st->prepend[i]));
}

void
cleanup_content(struct cleanup_state *st, const char *data, size_t len)
{
	/* Refused mail is not written: nothing will be queued. */
	if (st->qf == NULL || st->status != CLEANUP_STAT_OK
	    || (st->flags & CLEANUP_FLAG_DISCARD))
		return;
	if (qfile_content_write(st->qf, data, len) < 0
	    || qfile_content_write(st->qf, "\n", 1) < 0)
		cleanup_write_error(st, "write queue file");
}

void
cleanup_content_raw(struct cleanup_state *st, const char *data, size_t len)
{
	if (st->qf == NULL || st->status != CLEANUP_STAT_OK
	    || (st->flags & CLEANUP_FLAG_DISCARD) || len == 0)
		return;
	if (qfile_content_write(st->qf, data, len) < 0)
		cleanup_write_error(st, "write queue file");
}

/* cleanup_count - message_size_limit: every byte received counts (the
 * envelope was counted as it came); over the limit the file goes. */
static void
cleanup_count_bytes(struct cleanup_state *st, size_t n)
{
	st->size += (off_t)n;
	if (cleanup_conf.size_limit > 0 && st->size > cleanup_conf.size_limit
	    && (st->status & CLEANUP_STAT_SIZE) == 0) {
		msg_info_as(CLEANUP_PROG, "%s: reject: message size exceeds "
		    "message_size_limit %ld", st->queue_id, cleanup_conf.size_limit);
		cleanup_set_error(st, CLEANUP_STAT_SIZE, NULL);
		cleanup_drop_file(st);
	}
}

static void
cleanup_count(struct cleanup_state *st, size_t len)
{
	cleanup_count_bytes(st, len + 1);
}

int
cleanup_line_piece(struct cleanup_state *st, const char *data, size_t len,
    int first, int last)
{
	if (st->cstate == CLEANUP_ST_ENVELOPE)
		cleanup_start_content(st);
	cleanup_count_bytes(st, len + (last ? 1 : 0));
	cleanup_message_piece(st, data, len, first, last);
	return st->status;
}

int
cleanup_line(struct cleanup_state *st, const char *line, size_t len)
{
	if (st->cstate == CLEANUP_ST_ENVELOPE)
		cleanup_start_content(st);
	cleanup_count(st, len);
	cleanup_message_line(st, line, len);
	return st->status;
}

void
cleanup_act_log(struct cleanup_state *st, const char *action,
    const char *class, const char *content, const char *text)
{
	const char *name = attr_get(st->attrs, "client_name");
	const char *addr = attr_get(st->attrs, "client_address");
	const char *proto = attr_get(st->attrs, "protocol");
	const char *helo = attr_get(st->attrs, "helo");
	struct buf *b = buf_new(256, BUF_NOLIMIT);
	size_t n = strlen(content);

	buf_printf(b, "%s: %s: %s ", st->queue_id, action, class);
	/* At most 200 bytes of the content, control characters shown as '?'. */
	for (size_t i = 0; i < n && i < 200; i++) {
		unsigned char c = (unsigned char)content[i];

		buf_putc(b, c < 0x20 || c == 0x7f ? '?' : c);
	}
	if (addr != NULL)
		buf_printf(b, " from %s[%s];", name ? name : "unknown", addr);
	else
		buf_puts(b, " from local;");
	if (st->sender != NULL)
		buf_printf(b, " from=<%s>", st->sender);
	if (st->log_rcpt != NULL)
		buf_printf(b, " to=<%s>", st->log_rcpt);
	if (proto != NULL)
		buf_printf(b, " proto=%s", proto);
	if (helo != NULL)
		buf_printf(b, " helo=<%s>", helo);
	if (text != NULL && *text)
		buf_printf(b, ": %s", text);
	msg_info_as(CLEANUP_PROG, "%s", buf_str(b));
	buf_free(&b);
}

/* cleanup_poke_qmgr - tell qmgr there is new mail; it also scans on its
 * own, so every error is ignored. */
static void
cleanup_poke_qmgr(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/qmgr",
	    var_queue_directory) >= sizeof(sun.sun_path))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		(void)!send(fd, "I", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

void
cleanup_end_content(struct cleanup_state *st)
{
	if (st->cstate == CLEANUP_ST_ENVELOPE)
		cleanup_start_content(st);
	cleanup_message_end(st);
}

int
cleanup_content_copy(struct cleanup_state *st, char **data_r, size_t *len_r)
{
	if (st->qf == NULL || st->status != CLEANUP_STAT_OK
	    || (st->flags & CLEANUP_FLAG_DISCARD))
		return -1;
	if (st->new_content != NULL) {
		*data_r = xmalloc(st->new_len + 1);
		memcpy(*data_r, st->new_content, st->new_len);
		(*data_r)[st->new_len] = 0;
		*len_r = st->new_len;
		return 0;
	}
	if (qfile_content_read(st->qf, data_r, len_r) < 0) {
		cleanup_write_error(st, "read queue file");
		return -1;
	}
	return 0;
}

void
cleanup_replace_content(struct cleanup_state *st, const char *data,
    size_t len)
{
	free(st->new_content);
	st->new_content = xmalloc(len + 1);
	memcpy(st->new_content, data, len);
	st->new_content[len] = 0;
	st->new_len = len;
	st->rewrite = 1;
}

void
cleanup_change_sender(struct cleanup_state *st, const char *sender)
{
	char *s = cleanup_addr_sender(st, sender);

	free(st->sender);
	st->sender = s ? s : xstrdup(sender);
	st->rewrite = 1;
}

void
cleanup_del_rcpt(struct cleanup_state *st, const char *addr)
{
	int kept = 0;

	for (int i = 0; i < st->rcpt_count; i++) {
		struct cleanup_rcpt *r = st->rcpt + i;

		if (strcasecmp(r->orig, addr) == 0 || strcasecmp(r->addr, addr) == 0) {
			free(r->orig);
			free(r->addr);
			st->rewrite = 1;
			continue;
		}
		st->rcpt[kept++] = *r;
	}
	st->rcpt_count = kept;
	if (st->rcpt_written > kept)
		st->rcpt_written = kept;
}

/* rewrite_file - milters changed the message: the envelope and content
 * records go out again (the file is not complete yet: nobody reads it). */
static int
rewrite_file(struct cleanup_state *st)
{
	char *data = st->new_content;
	size_t len = st->new_len;
	int rc;

	if (data == NULL && qfile_content_read(st->qf, &data, &len) < 0)
		return -1;
	if (qfile_truncate(st->qf, st->env_offset) < 0) {
		if (data != st->new_content)
			free(data);
		return -1;
	}
	st->rcpt_written = 0;
	write_envelope(st);
	rc = st->qf ? qfile_content_write(st->qf, data, len) : -1;
	if (data != st->new_content)
		free(data);
	st->rewrite = 0;
	return rc;
}

int
cleanup_finish(struct cleanup_state *st, const char **queue_id_r,
    const char **reply_r)
{
	const char *queue;
	int held = 0;

	*queue_id_r = st->queue_id;
	*reply_r = NULL;
	/* Automatic BCC (mail from outside): the copies never get a DSN
	 * (NOTIFY=NEVER) and go through canonical and virtual mapping like
	 * any recipient; a message with no recipient gets none. */
	if ((st->flags & CLEANUP_FLAG_BCC_OK) && st->rcpt_count > 0) {
		for (int i = 0; i < st->auto_bcc_count; i++)
			cleanup_add_bcc(st, st->auto_bcc[i]);
		if (*cleanup_conf.always_bcc)
			cleanup_add_bcc(st, cleanup_conf.always_bcc);
	}
	if (st->cstate == CLEANUP_ST_ENVELOPE)
		cleanup_start_content(st);
	cleanup_message_end(st);

	if (st->sender == NULL)
		cleanup_set_error(st, CLEANUP_STAT_BAD, NULL);
	if (st->rcpt_count == 0 && st->redirect == NULL
	    && (st->status & CLEANUP_STAT_DEFER) == 0)
		cleanup_set_error(st, CLEANUP_STAT_RCPT, NULL);

	/* Refused, deferred, or discarded: nothing is queued. */
	if (st->status != CLEANUP_STAT_OK || (st->flags & CLEANUP_FLAG_DISCARD)) {
		cleanup_drop_file(st);
		*reply_r = st->reply;
		if (st->status == CLEANUP_STAT_OK)
			return CLEANUP_STAT_OK;		/* discard */
		return st->status;
	}
	if (st->qf == NULL) {
		cleanup_set_error(st, CLEANUP_STAT_WRITE, NULL);
		return st->status;
	}
	if (st->rewrite && rewrite_file(st) < 0) {
		cleanup_write_error(st, "write queue file");
		return st->status;
	}
	if (st->qf == NULL)
		return st->status;
	if (qfile_content_end(st->qf) < 0) {
		cleanup_write_error(st, "write queue file");
		return st->status;
	}
	/* Known only now: a header or body check may have asked for it. */
	if (st->filter != NULL) {
		char *rec = concatenate(QFILE_ATTR_FILTER, "=", st->filter,
		    (char *)0);
		int rc = qfile_put_str(st->qf, QREC_ATTR, rec);

		free(rec);
		if (rc < 0) {
			cleanup_write_error(st, "write queue file");
			return st->status;
		}
	}
	if (st->redirect != NULL) {
		/* REDIRECT: the envelope recipients are replaced. */
		for (int i = 0; i < st->rcpt_written; i++) {
			char done = QREC_DONE;

			if (qfile_patch(st->qf, st->rcpt_offset[i], &done, 1) < 0) {
				cleanup_write_error(st, "write queue file");
				return st->status;
			}
		}
		if (qfile_put_rcpt(st->qf, 0, "", st->redirect, NULL) < 0) {
			cleanup_write_error(st, "write queue file");
			return st->status;
		}
	} else {
		write_rcpts(st);
		if (st->qf == NULL)
			return st->status;
	}
	/* HOLD: move the file while it is still mode 0600 (unfinished, so
	 * qmgr leaves it alone), then finish it in hold/.  Moving it after
	 * the finish raced qmgr, which could deliver it first. */
	if (st->flags & CLEANUP_FLAG_HOLD) {
		if (mail_queue_rename(MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD,
		    st->queue_id) == 0)
			held = 1;
		else
			msg_warn_as(CLEANUP_PROG, "%s: move to %s: %m (the message is not held)",
			    st->queue_id, mail_queue_dir(MAIL_QUEUE_HOLD));
	}
	queue = held ? MAIL_QUEUE_HOLD : MAIL_QUEUE_INCOMING;
	/* File and directory entry durable, then marked complete. */
	if (qfile_finish(st->qf, mail_queue_dir(queue)) < 0) {
		if (held) {
			char *path = mail_queue_path(MAIL_QUEUE_HOLD, st->queue_id);

			unlink(path);
			free(path);
		}
		cleanup_write_error(st, "write queue file");
		return st->status;
	}
	qfile_writer_free(&st->qf);
	if (!held)
		cleanup_poke_qmgr();
	return CLEANUP_STAT_OK;
}

void
cleanup_free(struct cleanup_state **stp)
{
	struct cleanup_state *st = *stp;

	if (st == NULL)
		return;
	cleanup_drop_file(st);
	free(st->reply);
	free(st->filter);
	attr_list_free(&st->attrs);
	free(st->sender);
	for (int i = 0; i < st->rcpt_count; i++) {
		free(st->rcpt[i].orig);
		free(st->rcpt[i].addr);
	}
	free(st->rcpt);
	free(st->rcpt_offset);
	htable_free(&st->dups, NULL);
	free(st->log_rcpt);
	free(st->redirect);
	for (int i = 0; i < st->auto_bcc_count; i++)
		free(st->auto_bcc[i]);
	free(st->auto_bcc);
	buf_free(&st->hdr);
	mime_parse_free(&st->mime);
	for (int i = 0; i < st->prepend_count; i++)
		free(st->prepend[i]);
	free(st->prepend);
	free(st->new_content);
	free(st);
	*stp = NULL;
}

char *
cleanup_smtp_reply(int status, const char *queue_id, const char *reply)
{
	if (status == CLEANUP_STAT_OK)
		return concatenate("250 2.0.0 Ok: queued as ", queue_id, (char *)0);
	if (status & CLEANUP_STAT_NOSPACE)
		return xstrdup("452 4.3.1 Insufficient system storage");
	if (status & CLEANUP_STAT_WRITE)
		return xstrdup("451 4.3.0 Error: queue file write error");
	if (status & CLEANUP_STAT_BAD)
		return xstrdup("451 4.3.0 Error: internal error");
	if (status & CLEANUP_STAT_SIZE)
		return xstrdup("552 5.3.4 Error: message file too big");
	if (status & CLEANUP_STAT_HOPS)
		return xstrdup("554 5.4.0 Error: too many hops");
	if (status & CLEANUP_STAT_CONT)
		return concatenate(reply && *reply == '4' ? "451 " : "550 ",
		    reply ? reply : "5.7.1 message content rejected", (char *)0);
	if (status & CLEANUP_STAT_RCPT)
		return xstrdup("550 5.1.0 Error: no recipients specified");
	if (status & CLEANUP_STAT_DEFER)
		return concatenate("451 ", reply ? reply : "4.3.0 Error: try again later",
		    (char *)0);
	return xstrdup("451 4.3.0 Error: internal error");
}

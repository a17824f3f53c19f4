/* SPDX-License-Identifier: MIT */
/* pipe_attr - the command attributes of a pipe(8) master.cf entry, as
 * Postfix's pipe(8) documents them:
 *
 *	flags=BDFORXhqu.>	user=USER[:GROUP]	argv=COMMAND ARGS...
 *	size=BYTES	eol=STRING	directory=PATH	null_sender=TEXT
 *
 * user= and argv= are required, argv= comes last and takes the rest of
 * the line (the master passes "{ a b }" groups as one argument already).
 * Refused, each a fatal error naming the master.cf file, line and
 * service: an unknown attribute or flag (chroot= included: not
 * implemented), a user that does not exist, root's or mail_owner's
 * privileges (user id or group id 0 too), a malformed size= or eol=,
 * an unknown $macro or a ${name?text} / ${name:text} form in argv=.
 * The time limit is SERVICE_time_limit, by default $command_time_limit. */
#include "postino_config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery.h"
#include "mail_conf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "master_ent.h"
#include "msg.h"
#include "mymalloc.h"
#include "pipe.h"
#include "stringops.h"

struct pipe_attr pipe_attr;

/* attr_fatal - a configuration error, with where the entry is. */
static void __attribute__((format(printf, 1, 2), noreturn))
attr_fatal(const char *fmt, ...)
{
	char *path = concatenate(mail_conf_dir(), "/master.cf", (char *)0);
	struct master_ent **ents;
	char where[1200], text[2048];
	int errors = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s", path);
	/* The line of the entry, when the file says which it is. */
	ents = master_ent_read(path, &errors);
	for (int i = 0; ents && ents[i]; i++)
		if (strcmp(ents[i]->name, pipe_attr.service) == 0
		    && ents[i]->type == MASTER_TYPE_UNIX)
			snprintf(where, sizeof(where), "%s, line %d", ents[i]->file,
			    ents[i]->line);
	master_ent_free_all(&ents);
	free(path);
	msg_fatal("%s: service %s: pipe: %s", where, pipe_attr.service, text);
}

/* parse_flags - flags=: copy flags and command-line flags. */
static void
parse_flags(const char *value)
{
	for (const char *cp = value; *cp; cp++) {
		switch (*cp) {
		case 'B':
			pipe_attr.copy_flags |= LOCAL_COPY_BLANK;
			break;
		case 'D':
			pipe_attr.copy_flags |= LOCAL_COPY_DELIVERED;
			break;
		case 'F':
			pipe_attr.copy_flags |= LOCAL_COPY_FROM;
			break;
		case 'O':
			pipe_attr.copy_flags |= LOCAL_COPY_ORIG;
			break;
		case 'R':
			pipe_attr.copy_flags |= LOCAL_COPY_RETURN;
			break;
		case 'X':
			pipe_attr.flags |= PIPE_FLAG_FINAL;
			break;
		case 'h':
			pipe_attr.flags |= PIPE_FLAG_FOLD_HOST;
			break;
		case 'q':
			pipe_attr.flags |= PIPE_FLAG_QUOTE;
			break;
		case 'u':
			pipe_attr.flags |= PIPE_FLAG_FOLD_USER;
			break;
		case '.':
			pipe_attr.copy_flags |= LOCAL_COPY_DOT;
			break;
		case '>':
			pipe_attr.copy_flags |= LOCAL_COPY_QUOTE;
			break;
		default:
			attr_fatal("flags=%s: unknown flag '%c' (known: BDFORXhqu.>)",
			    value, *cp);
		}
	}
}

/* parse_eol - eol=: C escapes \a \b \f \n \r \t \v \ddd \\. */
static void
parse_eol(const char *value)
{
	struct buf *b = buf_new(16, 1024);

	for (const char *cp = value; *cp; cp++) {
		if (*cp != '\\') {
			buf_putc(b, *cp);
			continue;
		}
		switch (*++cp) {
		case 'a': buf_putc(b, '\a'); break;
		case 'b': buf_putc(b, '\b'); break;
		case 'f': buf_putc(b, '\f'); break;
		case 'n': buf_putc(b, '\n'); break;
		case 'r': buf_putc(b, '\r'); break;
		case 't': buf_putc(b, '\t'); break;
		case 'v': buf_putc(b, '\v'); break;
		case '\\': buf_putc(b, '\\'); break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7': {
			int n = 0, digits = 0;

			for (; digits < 3 && *cp >= '0' && *cp <= '7'; digits++, cp++)
				n = n * 8 + (*cp - '0');
			cp--;
			if (n == 0 || n > 255)
				attr_fatal("eol=%s: bad octal escape", value);
			buf_putc(b, n);
			break;
		}
		default:
			attr_fatal("eol=%s: unknown escape '\\%c'", value,
			    *cp ? *cp : ' ');
		}
	}
	if (buf_len(b) == 0)
		attr_fatal("eol=: empty line delimiter");
	pipe_attr.eol = xstrdup(buf_str(b));
	buf_free(&b);
}

/* parse_user - user=USER[:GROUP]: never root, never the mail system. */
static void
parse_user(const char *value)
{
	char *copy = xstrdup(value), *group = strchr(copy, ':');
	struct passwd *pw;
	struct group *gr;

	if (group)
		*group++ = 0;
	if (*copy == 0)
		attr_fatal("user=%s: empty user name", value);
	errno = 0;
	if ((pw = getpwnam(copy)) == NULL)
		attr_fatal("user=%s: unknown user name: %s", value, copy);
	pipe_attr.uid = pw->pw_uid;
	pipe_attr.gid = pw->pw_gid;
	if (group) {
		if ((gr = getgrnam(group)) == NULL)
			attr_fatal("user=%s: unknown group name: %s", value, group);
		pipe_attr.gid = gr->gr_gid;
	}
	if (pipe_attr.uid == 0)
		attr_fatal("user=%s: refused: commands never run with root privileges",
		    value);
	if (pipe_attr.gid == 0)
		attr_fatal("user=%s: refused: commands never run with group id 0",
		    value);
	if ((pw = getpwnam(var_mail_owner)) != NULL && pw->pw_uid == pipe_attr.uid)
		attr_fatal("user=%s: refused: commands never run with the privileges of the mail system owner (mail_owner = %s)",
		    value, var_mail_owner);
	pipe_attr.user = xstrdup(copy);
	free(copy);
}

/* parse_size - size=: bytes. */
static void
parse_size(const char *value)
{
	if (!alldig(value) || str_to_long(value, &pipe_attr.size_limit) < 0)
		attr_fatal("size=%s: not a number of bytes", value);
}

/* time_limit - SERVICE_time_limit, else command_time_limit. */
static void
time_limit(void)
{
	char *name = concatenate(pipe_attr.service, "_time_limit", (char *)0);
	const char *v = mail_conf_str(name);

	pipe_attr.time_limit = var_command_time_limit;
	if (*v && (mail_conf_parse_time(v, 's', &pipe_attr.time_limit) < 0
	    || pipe_attr.time_limit <= 0))
		msg_fatal("%s/main.cf: bad time value for %s: \"%s\"",
		    mail_conf_dir(), name, v);
	free(name);
}

void
pipe_attr_parse(char **args)
{
	int i;

	pipe_attr.service = *mail_server_service() ? mail_server_service()
	    : "pipe";
	pipe_attr.eol = xstrdup("\n");
	pipe_attr.directory = xstrdup(var_queue_directory);
	pipe_attr.null_sender = xstrdup("MAILER-DAEMON");
	/* The copy's Delivered-To: keeps the address's case, as Postfix. */
	pipe_attr.copy_flags = LOCAL_COPY_CASE;
	for (i = 0; args[i]; i++) {
		char *arg = args[i], *eq = strchr(arg, '=');
		size_t nlen;

		if (eq == NULL)
			attr_fatal("\"%s\": not a name=value attribute", arg);
		nlen = (size_t)(eq - arg);
#define IS(name) (nlen == strlen(name) && strncmp(arg, name, nlen) == 0)
		if (IS("argv")) {
			break;
		} else if (IS("flags")) {
			parse_flags(eq + 1);
		} else if (IS("user")) {
			parse_user(eq + 1);
		} else if (IS("size")) {
			parse_size(eq + 1);
		} else if (IS("eol")) {
			free(pipe_attr.eol);
			parse_eol(eq + 1);
		} else if (IS("directory")) {
			if (eq[1] != '/')
				attr_fatal("directory=%s: not an absolute path", eq + 1);
			free(pipe_attr.directory);
			pipe_attr.directory = xstrdup(eq + 1);
		} else if (IS("null_sender")) {
			free(pipe_attr.null_sender);
			pipe_attr.null_sender = xstrdup(eq + 1);
		} else if (IS("chroot")) {
			attr_fatal("chroot=%s: not implemented by postino (remove it, or run the command through chroot(8) in argv=)",
			    eq + 1);
		} else {
			attr_fatal("unknown attribute \"%.*s\" (known: flags, user, argv, size, eol, directory, null_sender)",
			    (int)nlen, arg);
		}
#undef IS
	}
	if (pipe_attr.user == NULL)
		attr_fatal("missing user= attribute");
	if (args[i] == NULL || args[i][5] == 0)
		attr_fatal("missing argv= attribute (it must come last)");
	pipe_attr.argc = 0;
	pipe_attr.argv = xcalloc((size_t)1, sizeof(char *));
	for (int j = i; args[j]; j++) {
		const char *a = j == i ? args[j] + 5 : args[j];
		const char *err;

		if (pipe_argv_check(a, &pipe_attr.needs, &err) < 0)
			attr_fatal("argv=: \"%s\": %s", a, err);
		pipe_attr.argv = xreallocarray(pipe_attr.argv,
		    (size_t)pipe_attr.argc + 2, sizeof(char *));
		pipe_attr.argv[pipe_attr.argc++] = xstrdup(a);
		pipe_attr.argv[pipe_attr.argc] = NULL;
	}
	time_limit();
}

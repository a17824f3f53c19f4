/* SPDX-License-Identifier: MIT */
/* sendmail - the Sendmail-compatible interface that programs call to
 * send mail (Postfix's sendmail(1)).
 *
 *   sendmail [options] [--] [recipient ...]
 *
 * The mode comes from the program name (mailq: -bp, newaliases: -bi,
 * anything else: -bm) and from -b:
 *   -bm	read a message from standard input and queue it (default)
 *   -bs	SMTP on standard input/output (sendmail_smtp.c)
 *   -bp	list the queue: runs $command_directory/postqueue -p
 *   -bi, -I	rebuild the alias databases: runs newaliases
 *   -bv	no message: queue a report request for the recipients; the
 *	sender is mailed a "Mail Delivery Status Report" saying how
 *	each would be delivered (the agents do not deliver)
 *   -bd, -bl	start the mail system: runs "postino start"
 *   -bh, -bH	ignored
 * Options: -t (recipients from To/Cc/Bcc as well), -i / -oi (a lone "."
 * does not end the input), -f / -r sender, -F full name (else $NAME),
 * -N never|success,delay,failure, -R full|hdrs, -V envid, -B 7BIT|
 * 8BITMIME, -C config (file or directory), -q (flush; -qI<id>, -qR<site>
 * through postqueue; -q<interval> is ignored), -v, -oA<file> (with -bi),
 * -o<anything else>, -O, -X, -G, -U, -L, -h, -m, -n, -x, -c, -d, -e are
 * accepted and ignored.  "--" ends the options; use it before
 * recipients from untrusted sources.
 *
 * The message is handed to postdrop (sendmail_msg.c); pickup later adds
 * the missing headers.  The sender is the login name of the real user
 * unless -f says otherwise (cleanup appends @$myorigin).
 *
 * Exit status (sysexits.h): 0 queued; 64 EX_USAGE (bad options, no
 * recipients); 65 EX_DATAERR (bad address, no recipients in the header
 * with -t, malformed input); 69
 * EX_UNAVAILABLE (mail system down for -q; a program could not run);
 * 71 EX_OSERR; 75 EX_TEMPFAIL (queue file not written); 77 EX_NOPERM. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr_parse.h"
#include "mail_conf.h"
#include "mail_params.h"
#include "mail_public.h"
#include "mail_vars.h"
#include "maildrop.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "sendmail.h"
#include "stringops.h"
#include "user_acl.h"

#define SENDMAIL_MAX_ARGS	64	/* for the programs we run */

static struct sendmail_opts opts;	/* static: reachable until exit */
static const char *conf_arg;	/* -C, to pass on */
static const char *alias_arg;	/* -oA */

static void NORETURN
usage(const char *why)
{
	msg_fatal_status(EX_USAGE, "%s; usage: sendmail [-t] [-i] [-f sender] "
	    "[-F name] [-N dsn] [-R ret] [-V envid] [-B type] [-C config] "
	    "[-bm|-bs|-bp|-bi|-bv] [-q] [--] [recipient ...]", why);
}

/* run_program - replace this process with $command_directory/NAME. */
static void NORETURN
run_program(const char *name, const char *const *args)
{
	char *argv[SENDMAIL_MAX_ARGS + 4];
	char *path = concatenate(var_command_directory, "/", name,
	    (char *)0);
	int n = 0;

	/* Copies: execv wants char *const[]; we never return to free them. */
	argv[n++] = xstrdup(name);
	if (conf_arg) {
		argv[n++] = xstrdup("-c");
		argv[n++] = xstrdup(mail_conf_dir());
	}
	for (int i = 0; args[i] && n < SENDMAIL_MAX_ARGS; i++)
		argv[n++] = xstrdup(args[i]);
	argv[n] = NULL;
	fflush(stdout);
	execv(path, argv);
	msg_fatal_status(EX_UNAVAILABLE, "execute %s: %m", path);
}

/* flush_queue - postqueue -f when it is installed, else 'F' straight to
 * public/qmgr (possible for root and the instance owner). */
static int
flush_queue(void)
{
	static const char *const args[] = {"-f", NULL};
	char *pq = concatenate(var_command_directory, "/postqueue",
	    (char *)0);

	if (access(pq, X_OK) == 0)
		run_program("postqueue", args);
	free(pq);
	user_acl_check(MAIL_PARAM_NAME(authorized_flush_users),
	    var_authorized_flush_users, "flush the mail queue", 1);
	if (mail_public_trigger("qmgr", 'F', 0) < 0)
		msg_fatal_status(EX_UNAVAILABLE, "Cannot flush mail queue - mail "
		    "system is down");
	return 0;
}

/* parse_notify - -N: never, or a list of success, delay, failure. */
static int
parse_notify(const char *arg)
{
	char *copy = xstrdup(arg), *cp = copy, *word;
	int bits = 0;

	while ((word = mystrtok(&cp, ", \t")) != NULL) {
		if (strcasecmp(word, "never") == 0)
			bits |= DSN_NOTIFY_NEVER;
		else if (strcasecmp(word, "success") == 0)
			bits |= DSN_NOTIFY_SUCCESS;
		else if (strcasecmp(word, "delay") == 0)
			bits |= DSN_NOTIFY_DELAY;
		else if (strcasecmp(word, "failure") == 0)
			bits |= DSN_NOTIFY_FAILURE;
		else
			usage("-N: bad DSN notification keyword");
	}
	free(copy);
	if (bits == 0 || ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER))
		usage("-N: bad DSN notification list");
	return bits;
}

/* clean_name - a full name fit for a header: control characters become
 * spaces, at most 255 bytes (malloc'd). */
static char *
clean_name(const char *name)
{
	char *s = xstrndup(name, 255);

	for (char *cp = s; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = ' ';
	return s;
}

static void
add_rcpt_cb(const char *addr, void *ctx)
{
	sendmail_opts_add_rcpt(ctx, addr);
}

/* add_recipients - command-line arguments, each an address list. */
static void
add_recipients(struct sendmail_opts *o, char **args)
{
	const char *bad;

	for (int i = 0; args[i]; i++) {
		if (strlen(args[i]) > 100000
		    || sendmail_addr_list(args[i], add_rcpt_cb, o, &bad) < 0)
			msg_fatal_status(EX_DATAERR, "bad recipient address: %s",
			    strlen(args[i]) > 100000 ? "too long" : bad);
		if (o->rcpt_count > MAILDROP_MAX_RCPT)
			msg_fatal_status(EX_USAGE, "too many recipients");
	}
}

/* verify - -bv, as Postfix does it: no message is read; a report
 * request is queued for the recipients, the delivery agents decide each
 * one's fate without delivering, and the sender gets a "Mail Delivery
 * Status Report" by mail. */
static int
verify(struct sendmail_opts *o)
{
	struct sendmail_msg *m;
	const char *err = NULL, *id;
	char *ext;
	int status;

	o->verify_report = 1;
	m = sendmail_msg_new(o);
	status = sendmail_msg_finish(m, &id, &err);
	sendmail_msg_free(&m);
	if (status != 0)
		msg_fatal_status(status, "%s", err);
	ext = addr_parse_externalize(o->sender);
	printf("Mail Delivery Status Report will be mailed to <%s>.\n", ext);
	free(ext);
	fflush(stdout);
	return 0;
}

/* submit - -bm: the message on standard input. */
static int
submit(struct sendmail_opts *o)
{
	struct sendmail_msg *m = sendmail_msg_new(o);
	struct buf *line = buf_new(1024, MAILDROP_MAX_RECORD + 1);
	const char *err = NULL, *id;
	int status = 0, more = 0, at_start = 1;

	while (sendmail_read_line(stdin, line, MAILDROP_MAX_RECORD, &more)) {
		if (o->dot_ends && at_start && !more && buf_len(line) >= 1
		    && buf_str(line)[0] == '.' && (buf_len(line) == 1
		    || (buf_len(line) == 2 && buf_str(line)[1] == '\r')))
			break;
		at_start = !more;
		if ((status = sendmail_msg_line(m, buf_str(line), buf_len(line),
		    more, &err)) != 0)
			break;
	}
	if (status == 0 && ferror(stdin)) {
		err = "error reading standard input";
		status = EX_IOERR;
	}
	if (status == 0)
		status = sendmail_msg_finish(m, &id, &err);
	sendmail_msg_free(&m);
	buf_free(&line);
	if (status != 0)
		msg_fatal_status(status, "%s", err);
	if (msg_verbose)
		msg_info("queued as %s", id);
	return 0;
}

/* set_config - -C file or directory. */
static void
set_config(const char *arg)
{
	struct stat st;
	char *dir;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir = xstrdup(arg);
	} else {
		const char *slash = strrchr(arg, '/');

		dir = slash == NULL ? xstrdup(".") : slash == arg ? xstrdup("/")
		    : xstrndup(arg, (size_t)(slash - arg));
	}
	mail_conf_set_dir(dir);
	conf_arg = arg;
	free(dir);
}

int
main(int argc, char **argv)
{
	struct sendmail_opts *o = &opts;
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
	    : argv[0];
	const char *sender = NULL, *full_name = NULL, *queue_arg = NULL;
	int mode = 'm', ch, flush = 0;
	struct passwd *pw;

	msg_init(prog, 1);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(prog, "mailq") == 0)
		mode = 'p';
	else if (strcmp(prog, "newaliases") == 0)
		mode = 'i';
	o->dot_ends = 1;
	opterr = 0;
	while ((ch = getopt(argc, argv,
	    "+B:C:F:GIL:N:O:R:UV:X:b:cd:e:f:h:imno:p:q::r:tvx")) != -1) {
		switch (ch) {
		case 'B':
			if (strcasecmp(optarg, "7BIT") != 0
			    && strcasecmp(optarg, "8BITMIME") != 0)
				usage("-B: body type must be 7BIT or 8BITMIME");
			o->body_type = optarg;
			break;
		case 'C':
			set_config(optarg);
			break;
		case 'F':
			full_name = optarg;
			break;
		case 'I':
			mode = 'i';
			break;
		case 'N':
			o->notify = parse_notify(optarg);
			break;
		case 'R':
			if (strcasecmp(optarg, "full") != 0
			    && strcasecmp(optarg, "hdrs") != 0)
				usage("-R: must be full or hdrs");
			o->ret = strcasecmp(optarg, "full") == 0 ? "FULL" : "HDRS";
			break;
		case 'V':
			o->envid = optarg;
			if (*optarg == 0 || strlen(optarg) > 100)
				usage("-V: bad envelope ID");
			for (const char *cp = optarg; *cp; cp++)
				if ((unsigned char)*cp < 0x21 || (unsigned char)*cp > 0x7e)
					usage("-V: bad envelope ID");
			break;
		case 'b':
			if (strchr("mspivdlhH", optarg[0]) == NULL || optarg[1] != 0)
				usage("-b: unsupported mode");
			if (optarg[0] != 'h' && optarg[0] != 'H')
				mode = optarg[0];
			break;
		case 'f':
		case 'r':
			sender = optarg;
			break;
		case 'i':
			o->dot_ends = 0;
			break;
		case 'o':
			if (optarg[0] == 'i' && optarg[1] == 0)
				o->dot_ends = 0;
			else if (optarg[0] == 'A' && optarg[1] != 0)
				alias_arg = optarg + 1;
			break;
		case 'q':
			queue_arg = optarg ? optarg : "";
			flush = 1;
			break;
		case 't':
			o->extract = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		case '?':
			if (optopt && strchr("BCFLNORVXbdefhopr", optopt))
				usage("option requires an argument");
			usage("unknown option");
		default:
			/* -G -L -O -U -X -c -d -e -h -m -n -p -x: ignored. */
			break;
		}
	}
	/* The first non-option ends the options (no permutation, as
	 * Postfix on Linux): "sendmail user -oi" has two recipients. */
	mail_conf_read(1);
	mail_vars_bind(MAIL_VARS_CMD | MAIL_VARS_SUBMIT);

	if (flush) {
		if (*queue_arg == 0)
			return flush_queue();
		if (queue_arg[0] == 'I' && queue_arg[1]) {
			const char *args[] = {"-i", queue_arg + 1, NULL};

			run_program("postqueue", args);
		}
		if (queue_arg[0] == 'R' && queue_arg[1]) {
			const char *args[] = {"-s", queue_arg + 1, NULL};

			run_program("postqueue", args);
		}
		if (queue_arg[0] == 'S')
			usage("-qS is not implemented");
		return 0;			/* -q<interval>: ignored */
	}
	switch (mode) {
	case 'p': {
		const char *args[] = {"-p", NULL};

		run_program("postqueue", args);
	}
	case 'i': {
		char *oa = alias_arg ? concatenate("-oA", alias_arg, (char *)0) : NULL;
		const char *args[] = {msg_verbose ? "-v" : oa, msg_verbose ? oa : NULL,
		    NULL};

		if (optind < argc)
			usage("-bi: recipients are not allowed");
		run_program("newaliases", args);
	}
	case 'd':
	case 'l': {
		const char *args[] = {"start", NULL};

		run_program("postino", args);
	}
	default:
		break;
	}

	/* Modes that take recipients: m, s, v: mail is submitted. */
	user_acl_check(MAIL_PARAM_NAME(authorized_submit_users),
	    var_authorized_submit_users, "submit mail", 0);
	if (sender != NULL) {
		char *internal;
		const char *why;

		if (strlen(sender) > MAILDROP_MAX_ADDR
		    || addr_parse_path(sender, 0, &internal, &why) < 0)
			msg_fatal_status(EX_DATAERR, "bad sender address: %s",
			    strlen(sender) > MAILDROP_MAX_ADDR ? "too long" : why);
		o->sender = internal;
	} else {
		if ((pw = getpwuid(getuid())) == NULL)
			msg_fatal_status(EX_OSERR, "no login name found for user ID "
			    "%ld", (long)getuid());
		o->sender = xstrdup(pw->pw_name);
	}
	if (full_name == NULL)
		full_name = getenv("NAME");
	if (full_name != NULL && *full_name)
		o->full_name = clean_name(full_name);
	add_recipients(o, argv + optind);

	switch (mode) {
	case 's':
		if (o->rcpt_count)
			usage("-bs: recipients are not allowed");
		return sendmail_smtp(o);
	case 'v':
		if (o->extract)
			usage("-t and -bv cannot be used together");
		if (o->rcpt_count == 0)
			usage("-bv: no recipients specified");
		return verify(o);
	default:
		if (!o->extract && o->rcpt_count == 0)
			usage("Recipient addresses must be specified on the command "
			    "line or via the -t option");
		return submit(o);
	}
}

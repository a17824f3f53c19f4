/* SPDX-License-Identifier: MIT */
/* postqueue - the user's view of the mail queue (Postfix's postqueue(1)).
 *
 *   postqueue [-v] [-c config_dir] -p | -j | -f | -s site | -i queue_id
 *   mailq [-v] [-c config_dir]           (= postqueue -p)
 *
 *   -p	the queue in Postfix's mailq layout (core/mail/queue_list.c)
 *   -j	the queue as JSON lines (Postfix 3.1+ field names)
 *   -f	ask qmgr to retry all deferred mail now ('F' to public/qmgr)
 *   -s	retry mail for one site now: 'S' SITE to public/qmgr, which
 *	moves the deferred messages with a recipient in that domain (or
 *	"@[address]") to incoming/ and, as a flush does, revives dead
 *	destinations (Postfix's flush service, without its per-site
 *	index: qmgr reads the deferred queue's envelopes).  Only a site
 *	in fast_flush_domains (default $relay_domains; subdomains too, as
 *	parent_domain_matches_subdomains says) is eligible, as in Postfix:
 *	any other gets 'Flush service is not configured for destination
 *	"SITE"', exit 69.
 *   -i	retry one deferred message now: it moves deferred/ID to
 *	incoming/ and wakes qmgr; a message already in incoming/ or
 *	active/ only wakes qmgr
 *
 * Who may do what.  postqueue is installed set-group-ID $setgid_group
 * (like postdrop) and keeps that privilege only to connect to
 * public/showq (public/ is mode 0710, group $setgid_group):
 *   -p/-j (and mailq): anyone matched by authorized_mailq_users (a list
 *	of user names: names, /file, type:table, !name; default
 *	static:anyone); root and $mail_owner always.  Others get "User
 *	NAME(UID) is not allowed to view the mail queue", exit 77.  A
 *	caller who can read the queue directories (root, $mail_owner, the
 *	owner of an unprivileged instance) gets the listing read directly,
 *	which works while the mail system is down; anyone else gets it
 *	from the showq daemon (the same code, core/mail/queue_list.c):
 *	"Queue report unavailable - mail system is down", exit 69, when
 *	showq does not answer, exit 77 when public/showq cannot be reached
 *	(postqueue not set-gid).
 *   A set-gid postqueue run by another user than root drops the
 *	privilege before reading a configuration directory (-c, MAIL_CONFIG)
 *	that is not the default one or listed in alternate_config_directories
 *	of the default main.cf.
 *   -f/-s need to connect to public/qmgr: root, $mail_owner, members of
 *	$setgid_group (the set-gid privilege is dropped first).  Others
 *	get exit 77; a mail system that is down gives exit 69.
 *   -i needs write access to the queue (root, $mail_owner).
 *
 * Exit status: 0, 64 usage, 69 mail system down / no such message,
 * 74 output error, 77 permission denied. */
#include "postino_config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_params.h"
#include "mail_public.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "paths.h"
#include "queue_list.h"
#include "stringops.h"
#include "user_acl.h"

#define SHOWQ_READ_TIMEOUT	60	/* seconds without data from showq */

static void NORETURN
usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postqueue [-v] [-c config_dir] "
	    "-p | -j | -f | -s site | -i queue_id");
}

/* trigger - send one request byte to public/qmgr. */
static void trigger_buf(const char *buf, size_t len, const char *what);

static void
trigger(char request, const char *what)
{
	trigger_buf(&request, 1, what);
}

static void
trigger_buf(const char *buf, size_t len, const char *what)
{
	char *path = mail_public_path("qmgr");
	int fd;

	if ((fd = mail_public_connect("qmgr", 0)) < 0) {
		if (errno == ENAMETOOLONG)
			msg_fatal_status(EX_UNAVAILABLE, "%s: path too long", path);
		if (errno == EACCES || errno == EPERM)
			msg_fatal_status(EX_NOPERM, "Cannot %s - %s: %m (root, the "
			    "mail owner and group \"%s\" may)", what, path,
			    var_setgid_group);
		msg_fatal_status(EX_UNAVAILABLE, "Cannot %s - mail system is down "
		    "(%s: %m)", what, path);
	}
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		msg_fatal_status(EX_UNAVAILABLE, "Cannot %s - write %s: %m", what,
		    path);
	close(fd);
	free(path);
}

/* valid_site - a domain name or [address] (as -s expects). */
static int
valid_site(const char *site)
{
	size_t len = strlen(site);

	if (len == 0 || len > 255)
		return 0;
	if (site[0] == '[')
		return site[len - 1] == ']' && len > 2
		    && strspn(site + 1, "0123456789abcdefABCDEF.:") == len - 2;
	for (const char *cp = site; *cp; cp++)
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= 'A' && *cp <= 'Z')
		    || (*cp >= '0' && *cp <= '9') || *cp == '-' || *cp == '.'
		    || *cp == '_'))
			return 0;
	return 1;
}

/* flush_eligible - is site in fast_flush_domains?  (Empty: the fast
 * flush service is off; a table error: not eligible now.) */
static int
flush_eligible(const char *site)
{
	struct match_list *list;
	int rc;

	if (*var_fast_flush_domains == 0)
		return 0;
	list = match_list_create(MAIL_PARAM_NAME(fast_flush_domains),
	    var_fast_flush_domains, MATCH_LIST_DOMAIN);
	if ((rc = match_list_match(list, site, NULL)) < 0)
		msg_warn("fast_flush_domains: %s", match_list_reason(list));
	match_list_free(&list);
	return rc == 1;
}

/* flush_one - -i: deferred/ID now due, back to incoming/. */
static int
flush_one(const char *id)
{
	static const char *const busy[] = {MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
	NULL};
	char *path;
	struct stat st;

	if (!mail_queue_valid_id(id))
		msg_fatal_status(EX_USAGE, "invalid queue ID \"%s\"", id);
	if (mail_queue_move(MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING, id) == 0) {
		trigger(MAIL_SERVER_TRIG_NEW, "flush mail queue");
		return 0;
	}
	if (errno == EACCES || errno == EPERM)
		msg_fatal_status(EX_NOPERM, "Cannot flush message %s: %m (root "
		    "and the mail owner \"%s\" may)", id, var_mail_owner);
	if (errno != ENOENT)
		msg_fatal_status(EX_UNAVAILABLE, "Cannot flush message %s: %m", id);
	for (int i = 0; busy[i]; i++) {
		path = mail_queue_path(busy[i], id);
		if (stat(path, &st) == 0) {
			free(path);
			trigger(MAIL_SERVER_TRIG_NEW, "flush mail queue");
			return 0;
		}
		free(path);
	}
	msg_fatal_status(EX_UNAVAILABLE, "Cannot flush message %s: not in the "
	    "deferred, incoming or active queue", id);
}

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds only: LeakSanitizer cannot inspect a set-gid process
 * (it is not dumpable) and would turn every exit into a fatal error. */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* drop_privileges - give up the set-gid privilege for good. */
static void
drop_privileges(void)
{
	if (getegid() != getgid() && setgid(getgid()) < 0)
		msg_fatal_status(EX_OSERR, "setgid: %m");
}

/* check_config_dir - a set-gid postqueue keeps its privilege with
 * another configuration only for root, or when the default main.cf
 * lists it. */
static void
check_config_dir(const char *dir)
{
	if (dir == NULL || getegid() == getgid() || getuid() == 0
	    || mail_conf_dir_allowed(dir))
		return;
	drop_privileges();
	mail_conf_set_dir(dir);
}

/* check_mailq_acl - authorized_mailq_users (root and mail_owner always). */
static void
check_mailq_acl(void)
{
	user_acl_check(MAIL_PARAM_NAME(authorized_mailq_users),
	    var_authorized_mailq_users, "view the mail queue", 1);
}

/* check_flush_acl - authorized_flush_users (root and mail_owner
 * always), for -f, -s and -i. */
static void
check_flush_acl(void)
{
	user_acl_check(MAIL_PARAM_NAME(authorized_flush_users),
	    var_authorized_flush_users, "flush the mail queue", 1);
}

/* show_direct - the listing read from the queue by this process. */
static int
show_direct(int format)
{
	char *err;

	if (queue_list_write(stdout, format, 0, &err) == 0)
		return 0;
	if (strncmp(err, "write: ", 7) == 0)
		msg_fatal_status(EX_IOERR, "write standard output: %s", err + 7);
	msg_fatal_status(EX_NOPERM, "Queue report unavailable: %s (the queue "
	    "is readable only by root and the mail owner \"%s\")", err,
	    var_mail_owner);
}

/* show_remote - the listing from the showq daemon (public/showq). */
static int
show_remote(int format)
{
	char *path = mail_public_path("showq");
	const char *request = format == QUEUE_LIST_JSON ? "j\n" : "p\n";
	struct timeval tv;
	char chunk[8192];
	long total = 0;
	ssize_t got;
	int fd;

	if ((fd = mail_public_connect("showq", 0)) < 0) {
		if (errno == ENAMETOOLONG)
			msg_fatal_status(EX_UNAVAILABLE, "%s: path too long", path);
		if (errno == EACCES || errno == EPERM)
			msg_fatal_status(EX_NOPERM, "Queue report unavailable - "
			    "cannot connect to %s: %m (postqueue must be set-gid "
			    "\"%s\")", path, var_setgid_group);
		msg_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - "
		    "mail system is down (%s: %m)", path);
	}
	drop_privileges();
	tv.tv_sec = SHOWQ_READ_TIMEOUT;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send(fd, request, 2, MSG_NOSIGNAL) != 2)
		msg_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - "
		    "write %s: %m", path);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0) {
		if (fwrite(chunk, 1, (size_t)got, stdout) != (size_t)got)
			msg_fatal_status(EX_IOERR, "write standard output: %m");
		total += (long)got;
	}
	if (got < 0)
		msg_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - "
		    "read %s: %m", path);
	if (total == 0 && format == QUEUE_LIST_TEXT)
		msg_fatal_status(EX_UNAVAILABLE, "Queue report unavailable - "
		    "no answer from %s (see the mail log)", path);
	close(fd);
	free(path);
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	return 0;
}

/* show_queue - -p / -j. */
static int
show_queue(int format)
{
	check_mailq_acl();
	if (queue_list_readable()) {
		drop_privileges();
		return show_direct(format);
	}
	return show_remote(format);
}

int
main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
	    : argv[0];
	char resolved[PATH_MAX];
	const char *arg = NULL, *conf_dir = NULL;
	int mode = 0, ch;

	msg_init("postqueue", 1);
	if (strcmp(prog, "mailq") == 0)
		mode = 'p';
	while ((ch = getopt(argc, argv, "c:fi:jps:v")) != -1) {
		switch (ch) {
		case 'c':
			if (realpath(optarg, resolved) == NULL)
				msg_fatal_status(EX_USAGE, "configuration directory %s: %m",
				    optarg);
			conf_dir = resolved;
			break;
		case 'f':
		case 'j':
		case 'p':
			if (mode && mode != ch && strcmp(prog, "mailq") != 0)
				usage();
			mode = ch;
			break;
		case 'i':
		case 's':
			if (mode && strcmp(prog, "mailq") != 0)
				usage();
			mode = ch;
			arg = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || mode == 0)
		usage();
	if (mode != 'p' && mode != 'j')
		drop_privileges();
	if (conf_dir == NULL)
		conf_dir = getenv("MAIL_CONFIG");
	check_config_dir(conf_dir);
	if (conf_dir != NULL)
		mail_conf_set_dir(conf_dir);
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_CMD);

	switch (mode) {
	case 'p':
		return show_queue(QUEUE_LIST_TEXT);
	case 'j':
		return show_queue(QUEUE_LIST_JSON);
	case 'f':
		check_flush_acl();
		trigger(MAIL_SERVER_TRIG_FLUSH, "flush mail queue");
		return 0;
	case 's':
		check_flush_acl();
		if (!valid_site(arg))
			msg_fatal_status(EX_USAGE, "invalid site \"%s\": a domain name "
			    "or [address]", arg);
		if (!flush_eligible(arg))
			msg_fatal_status(EX_UNAVAILABLE, "Flush service is not "
			    "configured for destination \"%s\"", arg);
		{
			char buf[300];
			int n = snprintf(buf, sizeof(buf), "%c%s\n",
			    MAIL_SERVER_TRIG_SITE, arg);

			trigger_buf(buf, (size_t)n, "flush mail queue");
		}
		return 0;
	case 'i':
		check_flush_acl();
		return flush_one(arg);
	}
	usage();
}

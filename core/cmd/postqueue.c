/* SPDX-License-Identifier: MIT */
/* postqueue - the user's view of the mail queue (Postfix's postqueue(1)).
 *
 *   postqueue [-v] [-c config_dir] -p | -j | -f | -s site | -i queue_id
 *   mailq [-v] [-c config_dir]           (= postqueue -p)
 *
 *   -p	the queue in Postfix's mailq layout (postqueue_show.c)
 *   -j	the queue as JSON lines (Postfix 3.1+ field names)
 *   -f	ask qmgr to retry all deferred mail now ('F' to public/qmgr)
 *   -s	retry mail for one site: we keep no per-site index (Postfix's
 *	flush service), so this checks the site's syntax and flushes the
 *	whole deferred queue, which delivers the site's mail too
 *   -i	retry one deferred message now: it moves deferred/ID to
 *	incoming/ and wakes qmgr; a message already in incoming/ or
 *	active/ only wakes qmgr
 *
 * Who may do what.  Unlike Postfix's postqueue (set-gid, talking to the
 * showq and flush daemons) this program has no privileges and reads the
 * queue directly, so it can do what its caller can:
 *   -p/-j need read access to the queue directories: root, $mail_owner,
 *	or the owner of an unprivileged instance.  Anyone else gets
 *	"Queue report unavailable" and exit 77 (EX_NOPERM).
 *   -f/-s need to connect to public/qmgr: root, $mail_owner, members of
 *	$setgid_group (public/ is mode 0710, group $setgid_group).  Others
 *	get exit 77; a mail system that is down gives exit 69.
 *   -i needs write access to the queue (root, $mail_owner).
 * The listing works while the mail system is down: it never talks to a
 * daemon.
 *
 * Exit status: 0, 64 usage, 69 mail system down / no such message,
 * 74 output error, 77 permission denied. */
#include "postino_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"
#include "postqueue.h"
#include "stringops.h"

static void NORETURN
usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postqueue [-v] [-c config_dir] "
	    "-p | -j | -f | -s site | -i queue_id");
}

/* trigger - send one request byte to public/qmgr. */
static void
trigger(char request, const char *what)
{
	char *path = concatenate(mail_conf_str("queue_directory"), "/public/qmgr",
	    (char *)0);
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		msg_fatal_status(EX_UNAVAILABLE, "%s: path too long", path);
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal_status(EX_OSERR, "socket: %m");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EACCES || errno == EPERM)
			msg_fatal_status(EX_NOPERM, "Cannot %s - %s: %m (root, the "
			    "mail owner and group \"%s\" may)", what, path,
			    mail_conf_str("setgid_group"));
		msg_fatal_status(EX_UNAVAILABLE, "Cannot %s - mail system is down "
		    "(%s: %m)", what, path);
	}
	if (send(fd, &request, 1, MSG_NOSIGNAL) != 1)
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

/* flush_one - -i: deferred/ID now due, back to incoming/. */
static int
flush_one(const char *id)
{
	static const char *const busy[] = {MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
	NULL};
	char *path;
	struct stat st;

	if (!postqueue_valid_id(id))
		msg_fatal_status(EX_USAGE, "invalid queue ID \"%s\"", id);
	if (mail_queue_move(MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING, id) == 0) {
		trigger(MAIL_SERVER_TRIG_NEW, "flush mail queue");
		return 0;
	}
	if (errno == EACCES || errno == EPERM)
		msg_fatal_status(EX_NOPERM, "Cannot flush message %s: %m (root "
		    "and the mail owner \"%s\" may)", id, mail_conf_str("mail_owner"));
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

int
main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
	    : argv[0];
	char resolved[PATH_MAX];
	const char *arg = NULL;
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
			mail_conf_set_dir(resolved);
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
	mail_conf_read(0);

	switch (mode) {
	case 'p':
		return postqueue_show(POSTQUEUE_TEXT);
	case 'j':
		return postqueue_show(POSTQUEUE_JSON);
	case 'f':
		trigger(MAIL_SERVER_TRIG_FLUSH, "flush mail queue");
		return 0;
	case 's':
		if (!valid_site(arg))
			msg_fatal_status(EX_USAGE, "invalid site \"%s\": a domain name "
			    "or [address]", arg);
		trigger(MAIL_SERVER_TRIG_FLUSH, "flush mail queue");
		return 0;
	case 'i':
		return flush_one(arg);
	}
	usage();
}

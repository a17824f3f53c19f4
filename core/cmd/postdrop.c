/* SPDX-License-Identifier: MIT */
/* postdrop - copy one local submission from standard input into
 * $queue_directory/maildrop (Postfix's postdrop(1)).
 *
 *   postdrop [-c config_dir] [-r] [-v]
 *
 * Standard input is the maildrop record stream (core/mail/maildrop.h)
 * that sendmail writes.  postdrop checks every record (types, order,
 * lengths, attributes, message_size_limit), writes maildrop/ID, and on
 * success pokes public/pickup with a 'W' byte (ignored when pickup is not
 * running: the file waits for it).  With -r the queue ID is written to
 * standard output, one line, after the file is safe.
 *
 * Installed set-group-ID $setgid_group (the group that may write the
 * maildrop directory, mode 0730), so it trusts nothing from its caller:
 *  - the environment is cleared (only MAIL_CONFIG is kept, and only when
 *    the caller is root or the directory is listed in
 *    alternate_config_directories of the default main.cf: a privileged
 *    postdrop never reads a configuration its caller wrote);
 *  - descriptors above 2 are closed, and 0, 1, 2 are opened on /dev/null
 *    when the caller closed them;
 *  - umask 077; the file is created O_EXCL|O_NOFOLLOW.
 *
 * Atomicity: the file is created with mode 0600, filled, fsync'd, and
 * only then given the owner execute bit (0744): pickup takes only files
 * with that bit, and removes files without it that are older than an
 * hour (left by a postdrop that was killed with SIGKILL).  On any error,
 * and on SIGHUP/SIGINT/SIGTERM/SIGPIPE, the file is removed.
 *
 * Exit status (sysexits): 0 queued; 64 usage; 65 malformed input or a
 * message over message_size_limit; 75 cannot write the queue file; 77
 * configuration directory not allowed. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_params.h"
#include "mail_public.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "maildrop.h"
#include "msg.h"
#include "mymalloc.h"
#include "paths.h"
#include "qfile.h"
#include "stringops.h"
#include "user_acl.h"

#define READY_MODE	0744	/* owner x = complete; others read for pickup */

static char drop_path[4096];		/* the file being written, "" if none */
static volatile sig_atomic_t drop_armed;

/* on_signal - remove the unfinished file and leave. */
static void
on_signal(int sig)
{
	if (drop_armed)
		(void)unlink(drop_path);
	_exit(EX_TEMPFAIL);
	(void)sig;
}

/* die - remove the unfinished file, then exit with status. */
static void PRINTFLIKE(2, 3) NORETURN
die(int status, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int err = errno;

	if (drop_armed) {
		drop_armed = 0;
		(void)unlink(drop_path);
	}
	errno = err;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_fatal_status(status, "%s", text);
}

/* sanitize - descriptors and signals as a set-gid program needs them. */
static void
sanitize_fds(void)
{
	struct stat st;
	long max = sysconf(_SC_OPEN_MAX);

	for (int fd = 0; fd < 3; fd++)
		if (fstat(fd, &st) < 0 && errno == EBADF) {
			int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

			if (nfd != fd)
				_exit(EX_OSERR);
		}
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		(void)close(fd);
}

/* check_config_dir - a privileged postdrop uses another configuration
 * only for root, or when the default main.cf lists it. */
static void
check_config_dir(const char *dir, int privileged)
{
	if (dir == NULL || !privileged || getuid() == 0)
		return;
	if (!mail_conf_dir_allowed(dir))
		msg_fatal_status(EX_NOPERM, "%s: configuration directory not "
		    "allowed: it is not listed in alternate_config_directories "
		    "in %s/main.cf", dir, paths_config_directory());
}

/* poke_pickup - one 'W' to public/pickup; pickup also scans on a timer. */
static void
poke_pickup(void)
{
	(void)mail_public_trigger("pickup", 'W', SOCK_NONBLOCK);
}

/* sync_dir - make the new directory entry durable where we may (the
 * maildrop directory is not readable by the postdrop group, so a
 * set-gid postdrop relies on the file's fsync committing its creation). */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fsync(fd) < 0 && errno != EINVAL)
		die(EX_TEMPFAIL, "fsync %s: %m", dir);
	close(fd);
}

/* create_drop - a new maildrop/ID, mode 0600; returns the fd. */
static int
create_drop(const char *dir, const char **id_r)
{
	for (int tries = 0; tries < 20; tries++) {
		const char *id = qfile_new_id();
		int fd;

		if ((size_t)snprintf(drop_path, sizeof(drop_path), "%s/%s", dir, id)
		    >= sizeof(drop_path))
			die(EX_TEMPFAIL, "%s: queue directory name too long", dir);
		fd = open(drop_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
		    | O_CLOEXEC, 0600);
		if (fd >= 0) {
			drop_armed = 1;
			*id_r = id;
			return fd;
		}
		if (errno != EEXIST)
			die(EX_TEMPFAIL, "create file %s: %m", drop_path);
	}
	die(EX_TEMPFAIL, "create file in %s: no unique name", dir);
}

static void NORETURN
usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postdrop [-c config_dir] [-r] [-v]");
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

/* check_sender - local_login_sender_maps (user_acl.c); the default,
 * static:*, allows every sender without a lookup. */
static void
check_sender(const char *sender)
{
	const char *why;

	if (strcmp(var_local_login_sender_maps, "static:*") == 0)
		return;
	switch (user_login_sender(sender, &why)) {
	case 1:
		return;
	case 0:
		die(EX_NOPERM, "User %s(%ld) is not allowed to use sender address "
		    "<%s> (local_login_sender_maps)", user_login_name(),
		    (long)getuid(), sender);
	default:
		die(EX_TEMPFAIL, "%s", why);
	}
}

int
main(int argc, char **argv)
{
	struct maildrop_check mc = {0};
	struct sigaction sa;
	struct buf *payload;
	const char *conf_dir = NULL, *id, *err, *dir;
	char *env_conf;
	long size_limit;
	size_t content = 0, total = 0;
	int ch, fd, type, report = 0, privileged;
	FILE *out;

	sanitize_fds();
	umask(077);
	privileged = getuid() != geteuid() || getgid() != getegid();
	/* Keep only MAIL_CONFIG from the caller's environment. */
	env_conf = getenv("MAIL_CONFIG") ? xstrdup(getenv("MAIL_CONFIG")) : NULL;
	if (clearenv() != 0)
		_exit(EX_OSERR);
	msg_init(argc > 0 && argv[0] ? argv[0] : "postdrop", 1);
	if (env_conf != NULL)
		conf_dir = env_conf;
	while ((ch = getopt(argc, argv, "c:rv")) != -1) {
		switch (ch) {
		case 'c':
			conf_dir = optarg;
			break;
		case 'r':
			report = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_dir != NULL && (*conf_dir != '/' || strlen(conf_dir) > 1024))
		msg_fatal_status(EX_USAGE, "%s: configuration directory must be "
		    "an absolute path", conf_dir);
	check_config_dir(conf_dir, privileged);
	if (conf_dir != NULL)
		mail_conf_set_dir(conf_dir);
	mail_conf_read(1);
	mail_vars_bind(MAIL_VARS_CMD | MAIL_VARS_SUBMIT);
	user_acl_check(MAIL_PARAM_NAME(authorized_submit_users),
	    var_authorized_submit_users, "submit mail", 0);
	size_limit = var_message_size_limit;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);

	dir = mail_queue_dir(MAIL_QUEUE_MAILDROP);
	fd = create_drop(dir, &id);
	if ((out = fdopen(fd, "w")) == NULL)
		die(EX_TEMPFAIL, "fdopen %s: %m", drop_path);
	payload = buf_new(1024, MAILDROP_MAX_RECORD + 1);
	while ((type = maildrop_get(stdin, payload, &err, &total)) != 0) {
		if (type < 0)
			die(EX_DATAERR, "malformed input: after %ld records: %s",
			    mc.records, err);
		if (maildrop_check(&mc, type, buf_str(payload), buf_len(payload)) < 0)
			die(EX_DATAERR, "malformed input: %s", mc.err);
		if (type == MAILDROP_REC_SENDER)
			check_sender(buf_str(payload));
		if (type == MAILDROP_REC_LINE || type == MAILDROP_REC_CONT) {
			content += buf_len(payload) + (type == MAILDROP_REC_LINE);
			if (size_limit > 0 && content > (size_t)size_limit)
				die(EX_DATAERR, "message exceeds message_size_limit "
				    "(%ld bytes)", size_limit);
		}
		if (maildrop_put(out, type, buf_str(payload), buf_len(payload)) < 0)
			die(EX_TEMPFAIL, "write %s: %m", drop_path);
		if (type == MAILDROP_REC_END)
			break;
	}
	if (type == MAILDROP_REC_END && getc(stdin) != EOF)
		die(EX_DATAERR, "malformed input: data after the end record");
	if (maildrop_check_end(&mc) < 0)
		die(EX_DATAERR, "malformed input: %s", mc.err);
	buf_free(&payload);
	if (fflush(out) != 0 || fsync(fd) < 0)
		die(EX_TEMPFAIL, "write %s: %m", drop_path);
	if (fchmod(fd, READY_MODE) < 0 || fsync(fd) < 0)
		die(EX_TEMPFAIL, "fchmod %s: %m", drop_path);
	if (fclose(out) != 0)
		die(EX_TEMPFAIL, "close %s: %m", drop_path);
	sync_dir(dir);
	drop_armed = 0;
	if (msg_verbose)
		msg_info("%s: queued %zu bytes", drop_path, total);
	poke_pickup();
	if (report) {
		printf("%s\n", id);
		fflush(stdout);
	}
	free(env_conf);
	exit(0);
}

/* SPDX-License-Identifier: MIT */
/* postsuper - queue maintenance (Postfix's postsuper(1)).
 *
 *   postsuper [-psv] [-c config_dir] [-d queue_id] [-h queue_id]
 *	[-H queue_id] [-r queue_id] [queue ...]
 *
 *   -d ID	delete (default queues: hold incoming active deferred)
 *   -h ID	put on hold (from incoming active deferred)
 *   -H ID	release from hold to deferred/, due at once (the next deferred
 *		scan, or "postqueue -f", delivers it)
 *   -r ID	requeue: back to incoming/ with its content, recipients
 *		already done stay done (from hold incoming active deferred)
 *   -s		structure check and repair (postsuper_struct.c)
 *   -p		purge files left half-written by a crash
 * ID is a queue ID, "ALL" (upper case: every message of the queues), or
 * "-" (IDs on standard input, one per line).  Each option may be given
 * more than once; queue names after the options restrict the operation
 * ("postsuper -d ALL deferred"); maildrop and corrupt may be named for
 * -d.  -p and -s run first.
 *
 * Logs, to stderr and the mail log, one line per message ("ID: removed",
 * "ID: placed on hold", "ID: released from hold", "ID: requeued") and
 * the totals ("Deleted: N messages", "Placed on hold: ...", "Released
 * from hold: ...", "Requeued: ..."; "1 message").
 *
 * Living with qmgr.  qmgr works on active/ID by name (it marks recipients
 * done in that file, then moves it), so while the mail system runs a
 * message in active/ is never moved: -h and -r skip it with a warning
 * ("try again when the delivery attempt is over").  -d removes it and
 * its defer and bounce logs, as Postfix does; the agents finish the
 * deliveries already under way, and qmgr, seeing the file gone, records
 * nothing more for it (no status log, no notification, no move): no
 * file of the message is left behind.  Moves are single renames, so
 * a race with qmgr's own moves (incoming -> active, deferred -> incoming)
 * leaves the message in exactly one queue: whoever renames first wins.
 * Files still being written (without the owner x bit) are left alone.
 *
 * Only root, the mail owner, or the owner of an unprivileged instance
 * (whoever can write the queue) may run it. */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_public.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "postsuper.h"
#include "stringops.h"

#define ID_LINE_MAX	256		/* a line of "-d -" input */

enum op { OP_DELETE, OP_HOLD, OP_RELEASE, OP_REQUEUE, OP_COUNT };

static const char *const *op_default_queues[OP_COUNT];
static const char *const delete_queues[] = {MAIL_QUEUE_HOLD,
	MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, NULL};
static const char *const hold_queues[] = {MAIL_QUEUE_INCOMING,
	MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, NULL};
static const char *const release_queues[] = {MAIL_QUEUE_HOLD, NULL};
static const char *const requeue_queues[] = {MAIL_QUEUE_HOLD,
	MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, NULL};

static const char *const op_verb[OP_COUNT] = {
	"removed", "placed on hold", "released from hold", "requeued",
};
static const char *const op_total[OP_COUNT] = {
	"Deleted", "Placed on hold", "Released from hold", "Requeued",
};

struct request {
	enum op op;
	const char *arg;		/* ID, ALL or - */
};

static int system_running;
static long done_count[OP_COUNT];
static int queue_wanted[16];		/* by index in known_queues */
static int queues_named;

static const char *const known_queues[] = {MAIL_QUEUE_INCOMING,
	MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,
	MAIL_QUEUE_MAILDROP, MAIL_QUEUE_CORRUPT, NULL};

static void NORETURN
usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postsuper [-psv] [-c config_dir] "
	    "[-d queue_id] [-h queue_id] [-H queue_id] [-r queue_id] [queue ...]");
}

int
postsuper_running(void)
{
	char *path = concatenate(var_queue_directory,
	    "/pid/master.pid", (char *)0);
	int fd = open(path, O_RDONLY | O_CLOEXEC), held = 0;

	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		held = 1;
	close(fd);
	return held;
}

/* queue_index - index in known_queues, -1 if unknown. */
static int
queue_index(const char *name)
{
	for (int i = 0; known_queues[i]; i++)
		if (strcmp(known_queues[i], name) == 0)
			return i;
	return -1;
}

/* applies - does operation op look in queue? */
static int
applies(enum op op, const char *queue)
{
	int in_default = 0;

	for (int i = 0; op_default_queues[op][i]; i++)
		if (strcmp(op_default_queues[op][i], queue) == 0)
			in_default = 1;
	if (!queues_named)
		return in_default;
	if (!queue_wanted[queue_index(queue)])
		return 0;
	/* Named queues: -d may reach maildrop and corrupt too. */
	return in_default || (op == OP_DELETE
	    && (strcmp(queue, MAIL_QUEUE_MAILDROP) == 0
	    || strcmp(queue, MAIL_QUEUE_CORRUPT) == 0));
}

/* remove_logs - the per-message status logs. */
static void
remove_logs(const char *id)
{
	static const char *const logs[] = {MAIL_QUEUE_DEFER, MAIL_QUEUE_BOUNCE,
	MAIL_QUEUE_TRACE, NULL};

	for (int i = 0; logs[i]; i++) {
		char *p = mail_queue_path(logs[i], id);

		if (unlink(p) < 0 && errno != ENOENT)
			msg_warn("%s: remove %s: %m", id, p);
		free(p);
	}
}

/* wake_qmgr - best effort: 'I' to public/qmgr. */
static void
wake_qmgr(void)
{
	(void)mail_public_trigger("qmgr", 'I', 0);
}

/* act - apply op to queue/id if it is there; 1 done, 0 not there. */
static int
act(enum op op, const char *queue, const char *id)
{
	char *path = mail_queue_path(queue, id);
	const char *to = NULL;
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: %m", path);
		free(path);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		msg_warn("%s: not a regular file: left alone (see postsuper -s)", path);
		free(path);
		return 0;
	}
	if ((st.st_mode & S_IXUSR) == 0 && strcmp(queue, MAIL_QUEUE_CORRUPT) != 0) {
		msg_warn("%s: file is still being written: left alone", path);
		free(path);
		return 0;
	}
	if (op != OP_DELETE && system_running
	    && strcmp(queue, MAIL_QUEUE_ACTIVE) == 0) {
		msg_warn("%s: being delivered (active queue): not %s; try again "
		    "when the delivery attempt is over", id, op_verb[op]);
		free(path);
		return 1;			/* found: look no further */
	}
	switch (op) {
	case OP_DELETE:
		if (unlink(path) == 0) {
			remove_logs(id);
			rc = 1;
		} else if (errno != ENOENT) {
			msg_warn("%s: remove %s: %m", id, path);
		}
		break;
	case OP_HOLD:
		to = MAIL_QUEUE_HOLD;
		break;
	case OP_RELEASE:
		to = MAIL_QUEUE_DEFERRED;
		break;
	case OP_REQUEUE:
		to = MAIL_QUEUE_INCOMING;
		break;
	case OP_COUNT:
		break;
	}
	if (to != NULL && strcmp(queue, to) == 0) {
		rc = 1;				/* already there (requeue of incoming) */
	} else if (to != NULL) {
		if (mail_queue_move(queue, to, id) == 0) {
			rc = 1;
			if (op == OP_RELEASE) {
				/* deferred/'s mtime is the retry time: due now. */
				char *np = mail_queue_path(to, id);

				if (utimes(np, NULL) < 0)
					msg_warn("%s: set retry time: %m", np);
				free(np);
			}
		} else if (errno != ENOENT) {
			msg_warn("%s: move %s to %s: %m", id, queue, to);
		}
	}
	if (rc) {
		msg_info("%s: %s", id, op_verb[op]);
		done_count[op]++;
	}
	free(path);
	return rc;
}

/* do_id - op on one message, in the first queue that has it. */
static void
do_id(enum op op, const char *id)
{
	for (int i = 0; known_queues[i]; i++)
		if (applies(op, known_queues[i]) && act(op, known_queues[i], id))
			return;
	if (msg_verbose)
		msg_info("%s: not found", id);
}

/* do_all - op on every message of the queues it applies to. */
static void
do_all(enum op op)
{
	for (int i = 0; known_queues[i]; i++) {
		const char *dir_path = mail_queue_dir(known_queues[i]);
		struct dirent **names = NULL;
		int n;

		if (!applies(op, known_queues[i]))
			continue;
		if ((n = scandir(dir_path, &names, NULL, alphasort)) < 0) {
			if (errno != ENOENT)
				msg_warn("open %s: %m", dir_path);
			continue;
		}
		for (int j = 0; j < n; j++) {
			if (mail_queue_valid_id(names[j]->d_name))
				act(op, known_queues[i], names[j]->d_name);
			free(names[j]);
		}
		free(names);
	}
}

/* do_stdin - op on each ID read from standard input (lines of at most
 * ID_LINE_MAX bytes; longer lines and lines with NUL bytes are skipped
 * with a warning naming the line). */
static void
do_stdin(enum op op)
{
	char line[ID_LINE_MAX];
	long lineno = 0;
	size_t len = 0;
	int ch, too_long = 0, has_nul = 0;

	do {
		char *id;

		ch = getchar();
		if (ch != '\n' && ch != EOF) {
			if (ch == 0)
				has_nul = 1;
			if (len + 1 < sizeof(line))
				line[len++] = (char)ch;
			else
				too_long = 1;
			continue;
		}
		if (ch == EOF && len == 0 && !too_long && !has_nul)
			break;
		lineno++;
		line[len] = 0;
		id = trimblanks(skipblanks(line));
		if (too_long)
			msg_warn("standard input, line %ld: line too long: skipped",
			    lineno);
		else if (has_nul)
			msg_warn("standard input, line %ld: NUL byte: skipped", lineno);
		else if (*id != 0 && !mail_queue_valid_id(id))
			msg_warn("standard input, line %ld: invalid queue ID \"%.100s\"",
			    lineno, id);
		else if (*id != 0)
			do_id(op, id);
		len = 0;
		too_long = has_nul = 0;
	} while (ch != EOF);
	if (ferror(stdin))
		msg_warn("standard input: read error: %m");
}

/* check_access - only who can write the queue. */
static void
check_access(void)
{
	const char *dir_path = mail_queue_dir(MAIL_QUEUE_DEFERRED);

	if (access(dir_path, W_OK | X_OK) < 0 && errno != ENOENT)
		msg_fatal_status(EX_NOPERM, "%s: %m: use of this command is "
		    "reserved for the superuser and the mail owner \"%s\"",
		    dir_path, var_mail_owner);
}

int
main(int argc, char **argv)
{
	struct request *reqs = NULL;
	char resolved[PATH_MAX];
	int nreqs = 0, ch, do_purge = 0, do_struct = 0, from_stdin = 0;

	op_default_queues[OP_DELETE] = delete_queues;
	op_default_queues[OP_HOLD] = hold_queues;
	op_default_queues[OP_RELEASE] = release_queues;
	op_default_queues[OP_REQUEUE] = requeue_queues;
	msg_init("postsuper", 1);
	while ((ch = getopt(argc, argv, "c:d:h:H:pr:sv")) != -1) {
		enum op op;

		switch (ch) {
		case 'c':
			if (realpath(optarg, resolved) == NULL)
				msg_fatal_status(EX_USAGE, "configuration directory %s: %m",
				    optarg);
			mail_conf_set_dir(resolved);
			continue;
		case 'p':
			do_purge = 1;
			continue;
		case 's':
			do_struct = 1;
			continue;
		case 'v':
			msg_verbose++;
			continue;
		case 'd':
			op = OP_DELETE;
			break;
		case 'h':
			op = OP_HOLD;
			break;
		case 'H':
			op = OP_RELEASE;
			break;
		case 'r':
			op = OP_REQUEUE;
			break;
		default:
			usage();
		}
		if (strcmp(optarg, "-") == 0) {
			if (from_stdin++)
				msg_fatal_status(EX_USAGE, "\"-\" (IDs from standard "
				    "input) may be given only once");
		} else if (strcmp(optarg, "ALL") != 0 && !mail_queue_valid_id(optarg)) {
			msg_fatal_status(EX_USAGE, "invalid queue ID \"%.100s\"%s",
			    optarg, strcasecmp(optarg, "all") == 0
			    ? " (write ALL in upper case)" : "");
		}
		reqs = xreallocarray(reqs, (size_t)nreqs + 1, sizeof(*reqs));
		reqs[nreqs].op = op;
		reqs[nreqs].arg = optarg;
		nreqs++;
	}
	for (int i = optind; i < argc; i++) {
		int qi = queue_index(argv[i]);

		if (qi < 0)
			msg_fatal_status(EX_USAGE, "unknown queue \"%s\" (expected "
			    "incoming, active, deferred, hold, maildrop or corrupt)",
			    argv[i]);
		queue_wanted[qi] = 1;
		queues_named = 1;
	}
	if (nreqs == 0 && !do_purge && !do_struct)
		do_struct = 1;			/* as Postfix: no option means -s */
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_CMD);
	mail_server_log_init();
	check_access();
	system_running = postsuper_running();

	if (do_purge)
		postsuper_purge();
	if (do_struct)
		postsuper_structure();
	for (int i = 0; i < nreqs; i++) {
		if (strcmp(reqs[i].arg, "ALL") == 0)
			do_all(reqs[i].op);
		else if (strcmp(reqs[i].arg, "-") == 0)
			do_stdin(reqs[i].op);
		else
			do_id(reqs[i].op, reqs[i].arg);
	}
	if (done_count[OP_REQUEUE] > 0 || done_count[OP_RELEASE] > 0)
		wake_qmgr();
	for (int op = 0; op < OP_COUNT; op++)
		if (done_count[op] > 0)
			msg_info("%s: %ld message%s", op_total[op], done_count[op],
			    done_count[op] == 1 ? "" : "s");
	free(reqs);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* pickup - move local submissions from maildrop/ into the queue
 * (Postfix's pickup(8)).
 *
 * master.cf:	pickup  unix  n  -  n  60  1  pickup
 *
 * The service's endpoint is public/pickup: postdrop connects and writes
 * 'W' after each submission, and the master writes 'W' every wakeup
 * period.  pickup is a trigger service of the daemon skeleton
 * (mail_server.h): any trigger (whatever it says) starts a scan, one for
 * all the triggers that came meanwhile; the scan also runs at start and
 * every PICKUP_RESCAN seconds (the skeleton's wakeup), so a lost trigger
 * only costs time and mail dropped while postino was down goes out after
 * start.  A scan runs in a task (cleanup's tables may be the lookup
 * service's: their waits are on the loop) and stops between files when
 * the master says drain or stop.
 *
 * A maildrop file is written by an ordinary user (through postdrop), so
 * nothing in it is trusted.  pickup takes only regular files named like
 * a queue ID, with one link, opened without following symbolic links,
 * and complete (owner execute bit set by postdrop after fsync).  Each
 * record is checked (maildrop_check: types, order, lengths, permitted
 * attributes) before a queue file is made for it; anything else is
 * logged with the file name, the owner's uid and the reason, and
 * removed.  An incomplete file older than
 * PICKUP_STALE seconds (postdrop was killed) is removed too.
 *
 * A valid file goes through the cleanup library (cleanup.h) as a local
 * submission: rewrite_context=local (missing headers are added), the
 * owner's uid, a Received: header "by $myhostname ($mail_name, from
 * userid UID)", the sender and recipients from the file.  The maildrop
 * file is removed only after cleanup_finish committed the queue file.
 * A failure of the queue itself (write error, full disk) leaves the file
 * and ends the scan; a temporary failure of this message only (a table
 * that failed, an alias result too long: a 4xx reply) leaves the file
 * for the next scan and goes on with the others, until the file is
 * older than maximal_queue_lifetime.  A message that can never be queued
 * (content rejected, too big, no recipients: a 5xx reply, or a 4xx one
 * past that age) goes back to its sender as a non-delivery notification
 * with the maildrop content (as Postfix's cleanup does for pickup), then
 * the file is removed: nothing stays in maildrop/ to be retried forever.
 *
 * Logs: "ID: uid=UID from=<sender>" (as Postfix), "warning: maildrop/NAME:
 * uid=UID: REASON: removed", "ID: uid=UID: message refused: REPLY",
 * "ID: uid=UID: message not queued after N seconds: REPLY", then the
 * bounce's "ID: sender non-delivery notification: NEWID". */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounce.h"
#include "cleanup.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "maildrop.h"
#include "msg.h"
#include "mymalloc.h"
#include "pickup_milter.h"
#include "qfile.h"
#include "stringops.h"
#include "task.h"

#define PICKUP_RESCAN	60	/* seconds between scans without triggers */
#define PICKUP_STALE	3600	/* incomplete files older than this go */
#define PICKUP_SCAN_MAX	100000	/* directory entries per scan */
#define PICKUP_TASK_STACK (1024 * 1024)	/* the scan's task */

enum pickup_result {
	PICKUP_DONE,		/* queued, refused or removed: file gone */
	PICKUP_SKIP,		/* not ready (being written): leave it */
	PICKUP_RETRY,		/* temporary failure: stop this scan */
};

static int pickup_stopping;
static int pickup_cleanup_flags;	/* cleanup_input_flags() */
static struct event *scan_event;	/* a scan is due */

/* pickup_envelope - what a maildrop file says before its content. */
struct pickup_envelope {
	char *sender;
	int rcpt_count;
	char **rcpt;
	int attr_count;
	char **attr;		/* "name=value" */
	int dsn_notify;
};

static void
envelope_free(struct pickup_envelope *env)
{
	free(env->sender);
	for (int i = 0; i < env->rcpt_count; i++)
		free(env->rcpt[i]);
	free(env->rcpt);
	for (int i = 0; i < env->attr_count; i++)
		free(env->attr[i]);
	free(env->attr);
	memset(env, 0, sizeof(*env));
}

/* envelope_has_attr - does the submission carry attribute name? */
static int
envelope_has_attr(const struct pickup_envelope *env, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < env->attr_count; i++)
		if (strncmp(env->attr[i], name, len) == 0 && env->attr[i][len] == '=')
			return 1;
	return 0;
}

/* check_master - has the master asked us to stop?  Never blocks. */
static int
check_master(void)
{
	if (mail_server_check() != MAIL_SERVER_NONE)
		pickup_stopping = 1;
	return pickup_stopping;
}

/* pickup_date - RFC 5322 date in local time, as the Received: header
 * wants it ("Tue,  3 Jan 2023 10:20:30 +0100 (CET)"). */
static void
pickup_date(char *out, size_t size, time_t when)
{
	struct tm tm;
	long off;
	char head[64];

	localtime_r(&when, &tm);
	off = tm.tm_gmtoff / 60;
	strftime(head, sizeof(head), "%a, %e %b %Y %H:%M:%S", &tm);
	snprintf(out, size, "%s %c%02ld%02ld (%s)", head, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60, tm.tm_zone ? tm.tm_zone : "UTC");
}

/* remove_bad - log why a maildrop file is refused, and remove it. */
static void
remove_bad(const char *name, const char *path, long uid, const char *why)
{
	if (uid >= 0)
		msg_warn("maildrop/%s: uid=%ld: %s: removed", name, uid, why);
	else
		msg_warn("maildrop/%s: %s: removed", name, why);
	if (unlink(path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %m", path);
}

/* join_piece - add a piece of a long line, up to one byte more than
 * message_size_limit: a line cut there is still too big for cleanup,
 * which then refuses the message for its size. */
static void
join_piece(struct buf *line, const char *data, size_t len)
{
	long limit = var_message_size_limit;
	size_t room;

	if (limit > 0) {
		room = (size_t)limit + 1 > buf_len(line) ?
		    (size_t)limit + 1 - buf_len(line) : 0;
		if (len > room)
			len = room;
	}
	if (len > 0 && buf_append(line, data, len) < 0)
		msg_fatal("out of memory joining a long line");
}

/* validate - check the whole file before anything is queued, so that a
 * malformed file never gets a queue ID; 0, or -1 with *why_r. */
static int
validate(FILE *fp, struct buf *payload, const char **why_r)
{
	struct maildrop_check mc = {0};
	static char why[sizeof(mc.err)];
	const char *err;
	int type;

	while ((type = maildrop_get(fp, payload, &err, NULL)) != 0) {
		if (type < 0) {
			snprintf(why, sizeof(why), "after %ld records: %s", mc.records,
			    err);
			*why_r = why;
			return -1;
		}
		if (maildrop_check(&mc, type, buf_str(payload), buf_len(payload)) < 0) {
			memcpy(why, mc.err, sizeof(why));
			*why_r = why;
			return -1;
		}
		if (type == MAILDROP_REC_END) {
			if (maildrop_get(fp, payload, &err, NULL) != 0) {
				*why_r = "data after the end record";
				return -1;
			}
			break;
		}
	}
	if (maildrop_check_end(&mc) < 0) {
		memcpy(why, mc.err, sizeof(why));
		*why_r = why;
		return -1;
	}
	rewind(fp);
	return 0;
}

/* read_envelope - the records up to the first line (or end) record;
 * returns that record's type, or -1 with *why_r. */
static int
read_envelope(FILE *fp, struct maildrop_check *mc, struct buf *payload,
    struct pickup_envelope *env, const char **why_r)
{
	const char *err;
	int type;

	for (;;) {
		type = maildrop_get(fp, payload, &err, NULL);
		if (type == 0) {
			(void)maildrop_check_end(mc);
			*why_r = mc->err;
			return -1;
		}
		if (type < 0) {
			*why_r = err;
			return -1;
		}
		if (maildrop_check(mc, type, buf_str(payload), buf_len(payload)) < 0) {
			*why_r = mc->err;
			return -1;
		}
		switch (type) {
		case MAILDROP_REC_VERSION:
			break;
		case MAILDROP_REC_ATTR:
			if (strncmp(buf_str(payload), "dsn_notify=", 11) == 0) {
				long v;

				if (str_to_long(buf_str(payload) + 11, &v) == 0)
					env->dsn_notify = (int)v;
				break;
			}
			env->attr = xreallocarray(env->attr,
			    (size_t)env->attr_count + 1, sizeof(char *));
			env->attr[env->attr_count++] = xstrdup(buf_str(payload));
			break;
		case MAILDROP_REC_SENDER:
			env->sender = xstrdup(buf_str(payload));
			break;
		case MAILDROP_REC_RCPT:
			env->rcpt = xreallocarray(env->rcpt,
			    (size_t)env->rcpt_count + 1, sizeof(char *));
			env->rcpt[env->rcpt_count++] = xstrdup(buf_str(payload));
			break;
		default:
			return type;
		}
	}
}

/* copy_maildrop - the content of a maildrop file (its line records,
 * long lines joined) into a notification: struct bounce_original. */
static void
copy_maildrop(void *ctx, struct cleanup_state *st, int headers_only,
    long limit)
{
	FILE *fp = ctx;
	struct buf *payload = buf_new(1024, MAILDROP_MAX_RECORD + 1);
	struct buf *line = buf_new(1024, BUF_NOLIMIT);
	const char *err;
	long copied = 0;
	int type;

	rewind(fp);
	while ((type = maildrop_get(fp, payload, &err, NULL)) > 0
	    && type != MAILDROP_REC_END) {
		if (type != MAILDROP_REC_LINE && type != MAILDROP_REC_CONT)
			continue;
		if (copied + (long)buf_len(line) + (long)buf_len(payload) > limit)
			break;
		(void)buf_append(line, buf_str(payload), buf_len(payload));
		if (type == MAILDROP_REC_CONT)
			continue;
		if (headers_only && buf_len(line) == 0)
			break;
		copied += (long)buf_len(line) + 1;
		cleanup_line(st, buf_str(line), buf_len(line));
		buf_reset(line);
	}
	buf_free(&payload);
	buf_free(&line);
}

/* refuse_to_sender - a local submission that can never be queued goes
 * back to its sender (Postfix's cleanup bounces such mail for pickup):
 * a notification for every recipient, with the reply's text (without
 * its codes, as Postfix's cleanup words the reason) and
 * the maildrop content as the original.  0, or -1 (try again later). */
static int
refuse_to_sender(char *qid, const struct pickup_envelope *env,
    const struct stat *sb, FILE *fp, char *text, enum bounce_kind kind)
{
	char failed[] = "failed";
	struct qfile_msg qm = {0};
	struct bounce_original orig = { copy_maildrop, fp };
	struct bounce_entry *entries;
	char status[16] = "5.0.0", *newid = NULL;
	const char *sp = strchr(text, ' ');
	char *reason = text;
	int rc;

	/* "550 5.7.1 text": the enhanced status code, if there is one. */
	if (sp != NULL && (sp[1] == '4' || sp[1] == '5') && sp[2] == '.') {
		size_t n = strcspn(sp + 1, " ");

		if (n < sizeof(status)) {
			memcpy(status, sp + 1, n);
			status[n] = 0;
			if (sp[1 + n] == ' ' && sp[2 + n] != 0)
				reason = text + (sp - text) + 2 + n;
		}
	}
	qm.id = qid;
	qm.arrival = (double)sb->st_mtime;
	qm.sender = env->sender;
	qm.attr_count = env->attr_count;
	qm.attr_names = xcalloc((size_t)env->attr_count + 1, sizeof(char *));
	qm.attr_values = xcalloc((size_t)env->attr_count + 1, sizeof(char *));
	for (int i = 0; i < env->attr_count; i++) {
		const char *eq = strchr(env->attr[i], '=');

		qm.attr_names[i] = xstrndup(env->attr[i], (size_t)(eq - env->attr[i]));
		qm.attr_values[i] = xstrdup(eq + 1);
	}
	entries = xcalloc((size_t)env->rcpt_count + 1, sizeof(*entries));
	for (int i = 0; i < env->rcpt_count; i++) {
		entries[i].recipient = env->rcpt[i];
		entries[i].orig_rcpt = env->rcpt[i];
		entries[i].status = status;
		entries[i].action = failed;
		entries[i].reason = reason;
		entries[i].dsn_notify = env->dsn_notify;
	}
	rc = bounce_send_original(&qm, &orig, kind, entries, env->rcpt_count,
	    &newid);
	free(newid);
	free(entries);
	for (int i = 0; i < env->attr_count; i++) {
		free(qm.attr_names[i]);
		free(qm.attr_values[i]);
	}
	free(qm.attr_names);
	free(qm.attr_values);
	return rc;
}

/* pickup_file - one maildrop entry. */
static enum pickup_result
pickup_file(const char *dir, const char *name)
{
	struct maildrop_check mc = {0};
	struct pickup_envelope env = {0};
	struct cleanup_state *st = NULL;
	struct pickup_milter *pm = NULL;
	struct buf *payload = NULL, *line = NULL;
	struct stat sb;
	const char *why = NULL, *err, *id, *reply;
	char *path = concatenate(dir, "/", name, (char *)0);
	enum pickup_result res = PICKUP_DONE;
	char hdr[1024], date[128], *refused = NULL;
	int fd, type, status, report;
	long uid = -1;
	FILE *fp = NULL;

	if (!maildrop_valid_id(name)) {
		if (lstat(path, &sb) == 0 && !S_ISDIR(sb.st_mode))
			remove_bad(name, path, (long)sb.st_uid, "bad file name");
		goto out;
	}
	/* Incomplete files are mode 0600: look before opening. */
	if (lstat(path, &sb) < 0) {
		if (errno != ENOENT)
			msg_warn("lstat %s: %m", path);
		goto out;
	}
	if (S_ISREG(sb.st_mode) && (sb.st_mode & S_IXUSR) == 0) {
		/* Still being written, or its writer was killed. */
		if (time(NULL) - sb.st_mtime > PICKUP_STALE)
			remove_bad(name, path, (long)sb.st_uid, "incomplete file (the "
			    "submission was interrupted)");
		else
			res = PICKUP_SKIP;
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			goto out;
		if (errno == ELOOP || errno == ENXIO) {
			remove_bad(name, path, -1, "not a regular file");
			goto out;
		}
		msg_warn("open %s: %m", path);
		res = PICKUP_SKIP;
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		msg_warn("fstat %s: %m", path);
		close(fd);
		res = PICKUP_SKIP;
		goto out;
	}
	uid = (long)sb.st_uid;
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		remove_bad(name, path, uid, "not a regular file");
		goto out;
	}
	if (sb.st_nlink != 1) {
		close(fd);
		remove_bad(name, path, uid, "file has more than one link");
		goto out;
	}
	if ((sb.st_mode & S_IXUSR) == 0) {
		close(fd);		/* changed since lstat: next scan */
		res = PICKUP_SKIP;
		goto out;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		msg_warn("fdopen %s: %m", path);
		close(fd);
		res = PICKUP_RETRY;
		goto out;
	}
	payload = buf_new(1024, MAILDROP_MAX_RECORD + 1);
	line = buf_new(1024, BUF_NOLIMIT);
	if (validate(fp, payload, &why) < 0) {
		remove_bad(name, path, uid, why);
		goto out;
	}
	type = read_envelope(fp, &mc, payload, &env, &why);
	if (type < 0) {
		remove_bad(name, path, uid, why);
		goto out;
	}

	/* A sendmail -bv report request is not mail: no automatic BCC, no
	 * content filter (nothing is delivered). */
	report = envelope_has_attr(&env, QFILE_ATTR_VERIFY_REPORT);
	st = cleanup_open(report ? pickup_cleanup_flags & ~CLEANUP_FLAG_BCC_OK
	    : pickup_cleanup_flags);
	if (!report && *var_content_filter)
		cleanup_set_filter(st, var_content_filter);
	id = cleanup_queue_id(st);
	msg_info("%s: uid=%ld from=<%s>", id, uid, env.sender);
	cleanup_set_attr(st, "rewrite_context", "local");
	cleanup_set_attr(st, "protocol", "local");
	snprintf(hdr, sizeof(hdr), "%ld", uid);
	cleanup_set_attr(st, "uid", hdr);
	for (int i = 0; i < env.attr_count; i++) {
		char *eq = strchr(env.attr[i], '=');

		*eq = 0;
		cleanup_set_attr(st, env.attr[i], eq + 1);
		*eq = '=';
	}
	cleanup_set_sender(st, env.sender);
	for (int i = 0; i < env.rcpt_count; i++)
		cleanup_add_rcpt(st, env.rcpt[i], env.rcpt[i], env.dsn_notify);
	pickup_date(date, sizeof(date), time(NULL));
	snprintf(hdr, sizeof(hdr), "Received: by %s (%s, from userid %ld)\n"
	    "\tid %s; %s", var_myhostname, var_mail_name,
	    uid, id, date);
	cleanup_prepend_header(st, hdr);
	/* non_smtpd_milters: a refusal skips the content (the maildrop
	 * file still has it for a bounce). */
	if (pickup_milter_envelope(&pm, st, env.sender, env.rcpt, env.rcpt_count,
	    &refused) < 0)
		type = MAILDROP_REC_END;

	/* Content: line records up to the end record; the pieces of a long
	 * line (C records, then L) are joined into that one line. */
	while (type == MAILDROP_REC_LINE || type == MAILDROP_REC_CONT) {
		if (type == MAILDROP_REC_CONT || buf_len(line) > 0)
			join_piece(line, buf_str(payload), buf_len(payload));
		if (type == MAILDROP_REC_LINE) {
			if (buf_len(line) > 0) {
				(void)cleanup_line(st, buf_str(line), buf_len(line));
				buf_reset(line);
			} else {
				(void)cleanup_line(st, buf_str(payload), buf_len(payload));
			}
		}
		type = maildrop_get(fp, payload, &err, NULL);
		if (type < 0) {
			why = err;
			break;
		}
		if (type == 0) {
			(void)maildrop_check_end(&mc);
			why = mc.err;
			break;
		}
		if (maildrop_check(&mc, type, buf_str(payload), buf_len(payload)) < 0) {
			why = mc.err;
			break;
		}
	}
	if (why == NULL && refused == NULL
	    && maildrop_get(fp, payload, &err, NULL) != 0)
		why = "data after the end record";
	if (why != NULL) {
		cleanup_free(&st);	/* removes the unfinished queue file */
		remove_bad(name, path, uid, why);
		goto out;
	}
	if (refused == NULL && pickup_milter_content(pm, &refused) == 0)
		status = cleanup_finish(st, &id, &reply);
	else
		status = CLEANUP_STAT_CONT;
	if (status & (CLEANUP_STAT_BAD | CLEANUP_STAT_WRITE
	    | CLEANUP_STAT_NOSPACE)) {
		char *text = cleanup_smtp_reply(status, id, reply);

		/* The queue itself is in trouble: stop this scan. */
		msg_warn("maildrop/%s: uid=%ld: cannot queue now: %s; will retry",
		    name, uid, text);
		free(text);
		res = PICKUP_RETRY;
		goto out;
	}
	if (status != CLEANUP_STAT_OK) {
		char *text = refused ? xstrdup(refused) :
		    cleanup_smtp_reply(status, id, reply);
		char *qid = xstrdup(cleanup_queue_id(st));
		long lifetime = var_maximal_queue_lifetime;
		long age = (long)(time(NULL) - sb.st_mtime);

		cleanup_free(&st);
		if (text[0] == '4' && age <= lifetime) {
			/* This message only (a table that failed, an alias
			 * result too long): the others go on. */
			msg_warn("maildrop/%s: uid=%ld: cannot queue now: %s; will "
			    "retry", name, uid, text);
			res = PICKUP_SKIP;
		} else {
			if (text[0] == '4')
				msg_info("%s: uid=%ld: message not queued after %ld "
				    "seconds: %s", qid, uid, age, text);
			else
				msg_info("%s: uid=%ld: message refused: %s", qid, uid,
				    text);
			if (refuse_to_sender(qid, &env, &sb, fp, text,
			    text[0] == '4' ? BOUNCE_EXPIRED : BOUNCE_FAILED) < 0) {
				msg_warn("maildrop/%s: uid=%ld: cannot return the "
				    "message to its sender now; will retry", name, uid);
				res = PICKUP_SKIP;
			}
		}
		free(text);
		free(qid);
		if (res != PICKUP_DONE)
			goto out;
	}
	/* Committed (or returned to its sender): the maildrop copy may go. */
	if (unlink(path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %m", path);
out:
	pickup_milter_free(&pm);
	free(refused);
	cleanup_free(&st);
	envelope_free(&env);
	buf_free(&payload);
	buf_free(&line);
	if (fp)
		fclose(fp);
	free(path);
	return res;
}

/* pickup_scan - every entry in maildrop/, until a temporary failure. */
static void
pickup_scan(void)
{
	const char *dir = mail_queue_dir(MAIL_QUEUE_MAILDROP);
	struct dirent *de;
	DIR *dp;
	long seen = 0;

	if ((dp = opendir(dir)) == NULL) {
		msg_warn("open directory %s: %m", dir);
		return;
	}
	while (seen++ < PICKUP_SCAN_MAX && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (pickup_file(dir, de->d_name) == PICKUP_RETRY)
			break;
		if (check_master())
			break;
	}
	closedir(dp);
}

/* The scan runs in a task: cleanup's lookups in the lookup service
 * (canonical_maps, virtual_alias_maps on ldap:, ...) wait on the loop,
 * which meanwhile takes the master's notices.  One scan at a time; a
 * trigger during a scan asks for another one after it. */
static int scan_busy, scan_again;

static void
scan_task(void *arg)
{
	(void)arg;
	pickup_scan();
}

static void
scan_done(void *arg)
{
	(void)arg;
	scan_busy = 0;
	if (scan_again && !pickup_stopping) {
		struct timeval tv = {0, 0};

		scan_again = 0;
		evtimer_add(scan_event, &tv);
	}
	mail_server_release();
}

/* scan_cb - the scan asked for by a trigger or the rescan timer. */
static void
scan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (pickup_stopping)
		return;
	if (scan_busy) {
		scan_again = 1;
		return;
	}
	scan_busy = 1;
	mail_server_hold();
	(void)task_start(scan_task, NULL, scan_done, PICKUP_TASK_STACK);
}

/* pickup_wakeup - a trigger or the rescan timer: scan soon, once for
 * however many triggers came meanwhile. */
static void
pickup_wakeup(void)
{
	struct timeval tv = {0, 0};

	if (!evtimer_pending(scan_event, NULL))
		evtimer_add(scan_event, &tv);
}

static void
pickup_trigger(const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	pickup_wakeup();
}

static void
pickup_stop(void)
{
	pickup_stopping = 1;
}

int
main(int argc, char **argv)
{
	static const struct mail_server_ops ops = {
		.trigger = pickup_trigger,
		.wakeup = pickup_wakeup,
		.wakeup_interval = PICKUP_RESCAN,
		.drain = pickup_stop,
		.stop = pickup_stop,
	};

	mail_server_init(argc, argv, "pickup");
	mail_vars_bind(MAIL_VARS_PICKUP | MAIL_VARS_BOUNCE);
	cleanup_init();
	pickup_cleanup_flags = cleanup_input_flags(NULL);
	pickup_milter_init(pickup_cleanup_flags, mail_server_base());
	mail_server_ready();
	if ((scan_event = evtimer_new(mail_server_base(), scan_cb, NULL)) == NULL)
		msg_fatal("evtimer_new failed");
	/* Mail dropped while postino was down goes out now. */
	pickup_wakeup();
	return mail_server_run(&ops);
}

/* SPDX-License-Identifier: MIT */
/* qmgr - the queue manager process.
 *
 * It takes complete queue files from incoming/ (mode 0700), moves them
 * to active/, hands their recipients to the delivery agents, and when a
 * message's last job is over it removes the message, bounces it, or
 * moves it to deferred/ with the next attempt time as the file's mtime
 * (backoff: the message's age, clamped to [minimal_backoff_time,
 * maximal_backoff_time]).  After maximal_queue_lifetime (bounce_queue_
 * lifetime for null-sender mail) deferred recipients are returned.
 *
 * At start everything in active/ goes back to incoming/: a crash never
 * loses a message, it may deliver one twice.
 *
 * Triggers on public/qmgr (one byte per request, read by the daemon
 * skeleton, mail_server.h): 'I' new mail, 'F' flush (every deferred
 * message is due now), 'W' wake up.  The queues are also scanned on the
 * skeleton's wakeup timer, so a lost trigger only costs time.  qmgr is
 * long-lived (max_idle and max_use do not apply).
 *
 * Logs: "ID: from=<s>, size=N, nrcpt=N (queue active)", "ID: removed",
 * "ID: from=<s>, status=expired, returned to sender". */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounce.h"
#include "cleanup.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "qmgr.h"
#include "resolve.h"
#include "task.h"
#include "stringops.h"

struct event_base *qmgr_base;
struct qmgr_message *qmgr_active;
int qmgr_active_count;

static struct event *scan_event;	/* incoming scan, soon */
static int scan_pending;
static int flush_requested;
static time_t last_deferred_scan;
static long active_limit;
static long queue_run_delay;
static long min_backoff, max_backoff;
static long queue_lifetime, bounce_lifetime;
static long delay_warning;
static int stopping;
static struct htable *flushed;		/* IDs taken in by a flush */

#define SCAN_BATCH	100

/* valid_id - queue file names we accept ([0-9A-F]+). */
static int
valid_id(const char *name)
{
	if (*name == 0 || strlen(name) > 40)
		return 0;
	for (const char *cp = name; *cp; cp++)
		if (!((*cp >= '0' && *cp <= '9') || (*cp >= 'A' && *cp <= 'F')))
			return 0;
	return 1;
}

static void
remove_logs(const char *id)
{
	char *p;

	p = mail_queue_path(MAIL_QUEUE_DEFER, id);
	unlink(p);
	free(p);
	p = mail_queue_path(MAIL_QUEUE_BOUNCE, id);
	unlink(p);
	free(p);
	p = mail_queue_path(MAIL_QUEUE_TRACE, id);
	unlink(p);
	free(p);
}

static void
message_free(struct qmgr_message *msg)
{
	if (msg->prev)
		msg->prev->next = msg->next;
	else
		qmgr_active = msg->next;
	if (msg->next)
		msg->next->prev = msg->prev;
	qmgr_active_count--;
	qfile_msg_free(&msg->qf);
	free(msg->rstate);
	free(msg->done_offsets);
	free(msg->path);
	free(msg->id);
	free(msg);
}

/* still_deferred - is e a recipient deferred in this attempt (the defer
 * log also holds those that earlier attempts deferred and later ones
 * delivered)? */
static int
still_deferred(const struct qmgr_message *msg, const struct bounce_entry *e)
{
	for (int k = 0; k < msg->qf->rcpt_count; k++) {
		const struct qfile_rcpt *r = &msg->qf->rcpt[k];

		if (msg->rstate[k] == QMGR_RCPT_DEFERRED
		    && strcmp(r->address, e->recipient) == 0
		    && strcmp(r->orig_rcpt ? r->orig_rcpt : "",
		    e->orig_rcpt ? e->orig_rcpt : "") == 0)
			return 1;
	}
	return 0;
}

/* latest_entries - the defer log grows with every attempt: keep, at the
 * front of entries, the last entry of each recipient (still deferred in
 * this attempt, with this_attempt); returns how many. */
static int
latest_entries(struct qmgr_message *msg, struct bounce_entry *entries, int n,
    int this_attempt)
{
	int keep = 0;

	for (int i = 0; i < n; i++) {
		int later = this_attempt && !still_deferred(msg, &entries[i]);

		for (int j = i + 1; j < n && !later; j++)
			later = strcmp(entries[i].recipient, entries[j].recipient) == 0
			    && strcmp(entries[i].orig_rcpt ? entries[i].orig_rcpt : "",
			    entries[j].orig_rcpt ? entries[j].orig_rcpt : "") == 0;
		if (!later) {
			struct bounce_entry tmp = entries[keep];

			entries[keep] = entries[i];
			entries[i] = tmp;
			keep++;
		}
	}
	return keep;
}

/* notify - send a notification of kind from the given log; 0 ok, -1
 * try again later.  An expiry report lists each recipient once, with
 * its latest reason. */
static int
notify(struct qmgr_message *msg, enum bounce_kind kind, const char *log_queue)
{
	struct bounce_entry *entries = NULL;
	int n = bounce_log_read(log_queue, msg->id, &entries);
	char *newid = NULL;
	int ret, keep;

	if (n <= 0)
		return n < 0 ? -1 : 0;
	keep = n;
	if (kind == BOUNCE_EXPIRED) {
		keep = latest_entries(msg, entries, n, 1);
		if (keep == 0)
			keep = latest_entries(msg, entries, n, 0);
	}
	ret = keep == 0 ? 0 : bounce_send(msg->qf, msg->path, kind, entries,
	    keep, &newid);
	free(newid);
	bounce_entries_free(&entries, n);
	return ret;
}

/* notify_delayed - the sender's "delayed mail" notification (RFC 3464,
 * action=delayed) listing the recipients still deferred, each once with
 * its latest reason; 0 sent, 1 nothing to send, -1 try again later. */
static int
notify_delayed(struct qmgr_message *msg)
{
	struct bounce_entry *entries = NULL;
	int n = bounce_log_read(MAIL_QUEUE_DEFER, msg->id, &entries);
	int keep, ret;
	char *newid = NULL;

	if (n <= 0)
		return n < 0 ? -1 : 1;
	keep = latest_entries(msg, entries, n, 1);
	ret = keep == 0 ? 1 : bounce_send(msg->qf, msg->path, BOUNCE_DELAYED,
	    entries, keep, &newid);
	free(newid);
	bounce_entries_free(&entries, n);
	return ret;
}

/* delay_warn - delay_warning_time: once per message, when it has waited
 * that long and is going back to the deferred queue, the sender hears
 * that it is still being retried.  "Once" is the queue file's
 * QMGR_MODE_WARNED bit. */
static void
delay_warn(struct qmgr_message *msg, double age)
{
	mode_t mode = (msg->qf->mode | QFILE_MODE_TRIED) & 07777;

	if (delay_warning <= 0 || age < (double)delay_warning || *msg->qf->sender == 0
	    || (msg->qf->mode & QMGR_MODE_WARNED))
		return;
	if (notify_delayed(msg) != 0)
		return;				/* next time */
	if (chmod(msg->path, mode | QMGR_MODE_WARNED) < 0)
		msg_warn("%s: mark delay warning sent: %m", msg->id);
	else
		msg->qf->mode |= QMGR_MODE_WARNED;
}

/* remove_message - delete the queue file and its logs. */
static void
remove_message(struct qmgr_message *msg)
{
	if (unlink(msg->path) < 0 && errno != ENOENT)
		msg_warn("%s: remove %s: %m", msg->id, msg->path);
	remove_logs(msg->id);
	msg_info("%s: removed", msg->id);
}

/* finish_task - what qmgr_message_finished() starts: notices go through
 * cleanup, whose canonical and virtual alias tables may be the lookup
 * service's (ldap:, mysql:), so they are written in a task that waits on
 * the loop.  The message is off every transport's list already; the
 * process does not exit before the task is done (mail_server_hold). */
static void
finish_task(void *ctx)
{
	struct qmgr_message *msg = ctx;
	time_t now = time(NULL);
	double age = (double)now - msg->qf->arrival;
	long lifetime = *msg->qf->sender ? queue_lifetime : bounce_lifetime;

	if (qmgr_message_gone(msg)) {
		/* postsuper -d: no notification, no move; a status log
		 * written before the deletion was seen goes too. */
		remove_logs(msg->id);
		message_free(msg);
		qmgr_schedule_scan();
		return;
	}
	if (msg->ntraced > 0 || msg->report || msg->redelivery) {
		/* Success notices (NOTIFY=SUCCESS) and the sendmail -bv report,
		 * from trace/ID (this attempt's entries, or an earlier one's
		 * whose notice did not go out).  Sent: the log goes, so no
		 * entry is reported twice; not sent: the message stays. */
		int ret = notify(msg, msg->report ? BOUNCE_VERIFY : BOUNCE_SUCCESS,
		    MAIL_QUEUE_TRACE);
		char *path = mail_queue_path(MAIL_QUEUE_TRACE, msg->id);

		if (ret == 0) {
			if (unlink(path) < 0 && errno != ENOENT)
				msg_warn("%s: remove %s: %m", msg->id, path);
		} else if (msg->ndeferred == 0) {
			msg->ndeferred = 1;	/* keep it and try again */
		}
		free(path);
	}
	if (msg->ndeferred == 0) {
		/* Bounces recorded now or in earlier attempts. */
		if (notify(msg, BOUNCE_FAILED, MAIL_QUEUE_BOUNCE) < 0) {
			msg->ndeferred = 1;	/* keep it and try again */
		} else {
			remove_message(msg);
			message_free(msg);
			return;
		}
	}
	if (age >= lifetime) {
		/* Give up: the deferred recipients fail as expired. */
		msg_info("%s: from=<%s>, status=expired, returned to sender",
		    msg->id, msg->qf->sender);
		if (notify(msg, BOUNCE_EXPIRED, MAIL_QUEUE_DEFER) == 0
		    && notify(msg, BOUNCE_FAILED, MAIL_QUEUE_BOUNCE) == 0) {
			remove_message(msg);
			message_free(msg);
			return;
		}
	}
	{
		long delay = (long)age;
		struct timeval tv[2];
		char *path;

		if (delay < min_backoff)
			delay = min_backoff;
		if (delay > max_backoff)
			delay = max_backoff;
		delay_warn(msg, age);
		/* Recipients done so far stay done after a system crash. */
		(void)qmgr_message_sync_marks(msg);
		if (mail_queue_move(MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, msg->id) < 0) {
			if (errno == ENOENT)	/* deleted just now */
				remove_logs(msg->id);
			else
				msg_warn("%s: move to deferred: %m", msg->id);
		} else {
			path = mail_queue_path(MAIL_QUEUE_DEFERRED, msg->id);
			tv[0].tv_sec = now;
			tv[0].tv_usec = 0;
			tv[1].tv_sec = now + delay;
			tv[1].tv_usec = 0;
			if (utimes(path, tv) < 0)
				msg_warn("%s: set retry time: %m", msg->id);
			free(path);
		}
	}
	message_free(msg);
	qmgr_schedule_scan();
}

static void
finish_done(void *ctx)
{
	(void)ctx;
	mail_server_release();
}

void
qmgr_message_finished(struct qmgr_message *msg)
{
	mail_server_hold();
	(void)task_start(finish_task, msg, finish_done, 0);
}

/* flushed_add - a flush takes this message in: defer_transports do
 * not apply to its next attempt (Postfix: sendmail -q delivers mail of
 * deferred transports). */
static void
flushed_add(const char *id)
{
	if (flushed == NULL)
		flushed = htable_create(64);
	if (flushed->used > 100000)		/* IDs that never came in */
		htable_free(&flushed, NULL), flushed = htable_create(64);
	if (htable_find(flushed, id) == NULL)
		htable_enter(flushed, id, flushed);
}

int
qmgr_flushed_take(const char *id)
{
	if (flushed == NULL || htable_find(flushed, id) == NULL)
		return 0;
	htable_delete(flushed, id, NULL);
	return 1;
}

/* flush_incoming - a flush covers mail in incoming/ too. */
static void
flush_incoming(void)
{
	DIR *dir = opendir(mail_queue_dir(MAIL_QUEUE_INCOMING));
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
		if (valid_id(de->d_name))
			flushed_add(de->d_name);
	closedir(dir);
}

/* load_task - take one message in, as a task: resolving its recipients
 * may wait for the lookup service (transport_maps, virtual tables in a
 * directory), and while it waits qmgr's loop goes on delivering the
 * messages whose lookups are answered (task.h, map_proxy.h). */
static void
load_task(void *ctx)
{
	qmgr_message_load(ctx);
}

/* scan_incoming - move complete files to active/ and load them. */
static void
scan_incoming(void)
{
	DIR *dir = opendir(mail_queue_dir(MAIL_QUEUE_INCOMING));
	struct dirent *de;
	char **ids = NULL;
	int n = 0;

	if (dir == NULL) {
		msg_warn("open %s: %m", mail_queue_dir(MAIL_QUEUE_INCOMING));
		return;
	}
	/* At most SCAN_BATCH files per turn, so that deliveries keep going
	 * while a burst of new mail is taken in. */
	while ((de = readdir(dir)) != NULL && qmgr_active_count + n < active_limit
	    && n < SCAN_BATCH) {
		struct stat st;
		char *path;

		if (!valid_id(de->d_name))
			continue;
		path = mail_queue_path(MAIL_QUEUE_INCOMING, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		free(path);
		/* Owner execute (0700, 0710 when tried before) = finished and
		 * durable; 0600 = being written. */
		if ((st.st_mode & S_IXUSR) == 0) {
			if (time(NULL) - st.st_mtime > 3600) {
				msg_warn("%s: incomplete queue file older than one hour: moving to corrupt queue",
				    de->d_name);
				mail_queue_move(MAIL_QUEUE_INCOMING, MAIL_QUEUE_CORRUPT,
				    de->d_name);
			}
			continue;
		}
		ids = xreallocarray(ids, (size_t)n + 1, sizeof(*ids));
		ids[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	for (int i = 0; i < n; i++) {
		if (stopping)
			break;
		/* The file is durable already: a crash that undoes this rename
		 * only means the message is picked up from incoming again. */
		if (mail_queue_rename(MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, ids[i]) == 0)
			task_start(load_task, xstrdup(ids[i]), free, 0);
		else if (errno != ENOENT)
			msg_warn("%s: move to active: %m", ids[i]);
	}
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	/* More may be waiting: come back after the loop ran once. */
	if (n >= SCAN_BATCH)
		qmgr_schedule_scan();
}

/* scan_deferred - due messages (mtime <= now, or all on flush) go back
 * to incoming/; their defer logs start afresh. */
static void
scan_deferred(int all)
{
	DIR *dir = opendir(mail_queue_dir(MAIL_QUEUE_DEFERRED));
	struct dirent *de;
	time_t now = time(NULL);

	last_deferred_scan = now;
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		char *path;

		if (!valid_id(de->d_name))
			continue;
		path = mail_queue_path(MAIL_QUEUE_DEFERRED, de->d_name);
		if (stat(path, &st) == 0 && (all || st.st_mtime <= now)) {
			char *log = mail_queue_path(MAIL_QUEUE_DEFER, de->d_name);

			/* Keep the defer log until the message is retried:
			 * an expiry report needs the last reasons. */
			free(log);
			if (all)
				flushed_add(de->d_name);
			if (mail_queue_rename(MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING,
			    de->d_name) < 0)
				msg_warn("%s: move to incoming: %m", de->d_name);
		}
		free(path);
	}
	closedir(dir);
}

static void
do_scan(evutil_socket_t fd, short what, void *arg)
{
	scan_pending = 0;
	if (stopping)
		return;
	if (flush_requested || time(NULL) - last_deferred_scan >= queue_run_delay) {
		if (flush_requested)
			flush_incoming();
		scan_deferred(flush_requested);
		flush_requested = 0;
	}
	scan_incoming();
}

void
qmgr_schedule_scan(void)
{
	struct timeval tv = {0, 0};

	if (scan_pending)
		return;
	scan_pending = 1;
	evtimer_add(scan_event, &tv);
}

/* tick - the skeleton's wakeup (every second): periodic scans. */
static void
tick(void)
{
	qmgr_schedule_scan();
}

/* recover_active - after a crash, active/ goes back to incoming/. */
static void
recover_active(void)
{
	DIR *dir = opendir(mail_queue_dir(MAIL_QUEUE_ACTIVE));
	struct dirent *de;
	int n = 0;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (!valid_id(de->d_name))
			continue;
		if (mail_queue_rename(MAIL_QUEUE_ACTIVE, MAIL_QUEUE_INCOMING,
		    de->d_name) == 0)
			n++;
	}
	closedir(dir);
	if (n)
		msg_info("recovered %d message%s from the active queue", n,
		    n == 1 ? "" : "s");
}

/* site_match - is address in site (a domain, or "[address]")? */
static int
site_match(const char *address, const char *site)
{
	const char *at = strrchr(address, '@');

	return at != NULL && strcasecmp(at + 1, site) == 0;
}

/* flush_site - postqueue -s: the deferred messages with a recipient
 * still to do in site go to incoming/ now (taken in as flushed), and
 * dead destinations are revived, as Postfix's flush service asks its
 * qmgr to.  The envelopes are read here: no per-site index is kept. */
static void
flush_site(const char *site)
{
	DIR *dir = opendir(mail_queue_dir(MAIL_QUEUE_DEFERRED));
	struct dirent *de;
	int n = 0;

	qmgr_transport_flush();
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		const char *err = NULL;
		struct qfile_msg *qf;
		char *path;
		int match = 0;

		if (!valid_id(de->d_name))
			continue;
		path = mail_queue_path(MAIL_QUEUE_DEFERRED, de->d_name);
		if ((qf = qfile_read(path, &err)) != NULL) {
			for (int i = 0; i < qf->rcpt_count && !match; i++)
				match = !qf->rcpt[i].done
				    && site_match(qf->rcpt[i].address, site);
			qfile_msg_free(&qf);
		}
		free(path);
		if (!match)
			continue;
		flushed_add(de->d_name);
		if (mail_queue_rename(MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING,
		    de->d_name) < 0)
			msg_warn("%s: move to incoming: %m", de->d_name);
		else
			n++;
	}
	closedir(dir);
	if (n > 0)
		qmgr_schedule_scan();
}

/* trigger - the bytes of a trigger connection (the skeleton reads
 * and closes it). */
static void
trigger(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == MAIL_SERVER_TRIG_SITE) {
			const char *end = memchr(buf + i + 1, '\n', len - i - 1);
			char site[256];
			size_t n;

			if (end == NULL)	/* not in one piece: ignored */
				break;
			n = (size_t)(end - (buf + i + 1));
			if (n > 0 && n < sizeof(site)
			    && memchr(buf + i + 1, 0, n) == NULL) {
				memcpy(site, buf + i + 1, n);
				site[n] = 0;
				flush_site(site);
			}
			i = (size_t)(end - buf);
			continue;
		}
		switch (buf[i]) {
		case MAIL_SERVER_TRIG_FLUSH:
			/* As Postfix's flush of dead destinations: they all
			 * get mail again, and deferred transports deliver. */
			flush_requested = 1;
			qmgr_transport_flush();
			qmgr_schedule_scan();
			break;
		case MAIL_SERVER_TRIG_NEW:
		case MAIL_SERVER_TRIG_WAKEUP:
		default:
			qmgr_schedule_scan();
			break;
		}
	}
}

/* qmgr_stop - reload, stop, or the master went away: no new work; the
 * skeleton exits at once (qmgr has no clients to wait for) and messages
 * in active/ are recovered by the next qmgr. */
static void
qmgr_stop(void)
{
	stopping = 1;
}

int
main(int argc, char **argv)
{
	static const struct mail_server_ops ops = {
		.trigger = trigger,
		.wakeup = tick,
		.wakeup_interval = 1,
		.drain = qmgr_stop,
		.stop = qmgr_stop,
		/* One qmgr, always: its state is the active queue. */
		.flags = MAIL_SERVER_LONG_LIVED,
	};

	mail_server_init(argc, argv, "qmgr");
	mail_vars_bind(MAIL_VARS_QMGR | MAIL_VARS_BOUNCE);
	active_limit = var_qmgr_message_active_limit;
	if (active_limit <= 0)
		active_limit = 20000;
	queue_run_delay = var_queue_run_delay;
	min_backoff = var_minimal_backoff_time;
	max_backoff = var_maximal_backoff_time;
	queue_lifetime = var_maximal_queue_lifetime;
	delay_warning = var_delay_warning_time;
	bounce_lifetime = var_bounce_queue_lifetime;
	if (bounce_lifetime > queue_lifetime)
		bounce_lifetime = queue_lifetime;
	if (queue_run_delay <= 0)
		queue_run_delay = 300;
	if (max_backoff < min_backoff)
		max_backoff = min_backoff;
	resolve_init();
	cleanup_init();
	qmgr_transport_init();
	mail_server_exclusive();
	mail_server_ready();
	qmgr_base = mail_server_base();
	recover_active();
	scan_event = evtimer_new(qmgr_base, do_scan, NULL);
	last_deferred_scan = 0;
	qmgr_schedule_scan();
	return mail_server_run(&ops);
}

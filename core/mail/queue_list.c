/* SPDX-License-Identifier: MIT */
/* queue_list - the queue listing of "postqueue -p" / mailq (text) and
 * "postqueue -j" (JSON lines), read straight from the queue.  The one
 * implementation: postqueue runs it when it may read the queue, the
 * showq daemon runs it for everyone else.
 *
 * Order of the scan (as Postfix's showq): maildrop, active, incoming,
 * deferred, hold.  Per message: queue ID with a mark ('*' active, '!'
 * hold), the message size (the content; for maildrop files the lines),
 * the arrival time, the sender (MAILER-DAEMON for the null sender in the
 * text format), and each recipient that is not done, preceded by the
 * last delay reason qmgr recorded for it in defer/ID when it differs
 * from the previous recipient's.  The text layout is the one scripts and
 * exporters parse; it is fixed by docs/man and
 * tests/e2e/test_queue_tools.py: do not "improve" it.
 *
 * Files that are being written (incoming/ without mode 0700, maildrop/
 * without the owner x bit) are skipped silently; a damaged file gives a
 * warning naming it and is skipped.  Nothing here writes to the queue;
 * nothing here exits the process. */
#include "postino_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "maildrop.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "queue_list.h"
#include "stringops.h"

#define DEFER_LOG_MAX	(16 * 1024 * 1024)	/* bytes read of defer/ID */

/* One message as shown. */
struct show_rcpt {
	char *address;
	char *reason;			/* NULL: none recorded */
};

struct show_msg {
	const char *queue;
	char id[48];
	time_t arrival;
	long size;
	char *sender;
	int nrcpt;
	struct show_rcpt *rcpt;
};

static const char *const show_queues[] = {
	MAIL_QUEUE_MAILDROP, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_INCOMING,
	MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD, NULL,
};

int
queue_list_valid_id(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 40)
		return 0;
	for (const char *cp = name; *cp; cp++)
		if (!((*cp >= '0' && *cp <= '9') || (*cp >= 'A' && *cp <= 'F')))
			return 0;
	return 1;
}

/* show_msg_free - release one message. */
static void
show_msg_free(struct show_msg *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].address);
		free(m->rcpt[i].reason);
	}
	free(m->rcpt);
	free(m->sender);
	memset(m, 0, sizeof(*m));
}

/* add_rcpt - append a recipient. */
static void
add_rcpt(struct show_msg *m, const char *address)
{
	m->rcpt = xreallocarray(m->rcpt, (size_t)m->nrcpt + 1, sizeof(*m->rcpt));
	m->rcpt[m->nrcpt].address = xstrdup(address);
	m->rcpt[m->nrcpt].reason = NULL;
	m->nrcpt++;
}

/* read_maildrop - a local submission waiting for pickup; 0, 1 (not
 * complete yet: skip), -1 (damaged: *err_r). */
static int
read_maildrop(const char *path, struct show_msg *m, const char **err_r)
{
	struct buf *payload = buf_new(1024, MAILDROP_MAX_RECORD + 1);
	struct maildrop_check mc;
	struct stat st;
	FILE *fp;
	int fd, type, ret = 0;

	*err_r = "";
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		buf_free(&payload);
		if (errno == ENOENT)
			return 1;		/* picked up meanwhile */
		*err_r = "cannot open";
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		buf_free(&payload);
		*err_r = "not a regular file";
		return -1;
	}
	if ((st.st_mode & S_IXUSR) == 0) {
		close(fd);
		buf_free(&payload);
		return 1;			/* postdrop is still writing it */
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		buf_free(&payload);
		*err_r = "cannot read";
		return -1;
	}
	memset(&mc, 0, sizeof(mc));
	m->arrival = st.st_mtime;
	while ((type = maildrop_get(fp, payload, err_r, NULL)) > 0) {
		if (maildrop_check(&mc, type, buf_str(payload), buf_len(payload)) < 0) {
			*err_r = "malformed record";
			ret = -1;
			break;
		}
		if (type == MAILDROP_REC_SENDER) {
			free(m->sender);
			m->sender = xstrdup(buf_str(payload));
		} else if (type == MAILDROP_REC_RCPT) {
			add_rcpt(m, buf_str(payload));
		} else if (type == MAILDROP_REC_LINE) {
			m->size += (long)buf_len(payload) + 1;
		} else if (type == MAILDROP_REC_CONT) {
			m->size += (long)buf_len(payload);
		}
	}
	if (type < 0)
		ret = -1;
	else if (ret == 0 && maildrop_check_end(&mc) < 0) {
		*err_r = "incomplete submission";
		ret = -1;
	}
	fclose(fp);
	buf_free(&payload);
	if (m->sender == NULL)
		m->sender = xstrdup("");
	return ret;
}

/* read_defer_log - attach the last reason qmgr recorded for each
 * recipient (matched by record offset, else by address). */
static void
read_defer_log(struct show_msg *m, const off_t *offsets)
{
	char *path = mail_queue_path(MAIL_QUEUE_DEFER, m->id);
	struct buf *data = buf_new(1024, DEFER_LOG_MAX);
	struct attr_list *al = attr_list_new();
	char chunk[8192];
	size_t pos = 0;
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0) {
		while ((got = read(fd, chunk, sizeof(chunk))) > 0)
			if (buf_append(data, chunk, (size_t)got) < 0)
				break;		/* the first DEFER_LOG_MAX bytes */
		close(fd);
	}
	while (pos < buf_len(data)) {
		const char *err, *rcpt, *reason;
		long used = attr_parse(buf_str(data) + pos, buf_len(data) - pos,
		    al, &err);
		long off;

		if (used <= 0)
			break;			/* a torn last record */
		pos += (size_t)used;
		if ((rcpt = attr_get(al, "recipient")) == NULL
		    || (reason = attr_get(al, "reason")) == NULL)
			continue;
		off = attr_get_long(al, "offset", -1);
		for (int i = 0; i < m->nrcpt; i++) {
			if (off >= 0 ? offsets[i] != off
			    : strcmp(m->rcpt[i].address, rcpt) != 0)
				continue;
			free(m->rcpt[i].reason);
			m->rcpt[i].reason = xstrdup(reason);
		}
	}
	attr_list_free(&al);
	buf_free(&data);
	free(path);
}

/* read_qfile - a queue file; 0, 1 (skip), -1 (damaged: *err_r). */
static int
read_qfile(const char *path, struct show_msg *m, const char **err_r)
{
	struct qfile_msg *qf;
	struct stat st;
	off_t *offsets;

	if (lstat(path, &st) < 0)
		return 1;			/* moved or removed meanwhile */
	if (S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR) == 0)
		return 1;			/* still being written */
	if ((qf = qfile_read(path, err_r)) == NULL)
		return errno == ENOENT ? 1 : -1;
	m->arrival = (time_t)qf->arrival;
	m->size = (long)qf->content_len;
	m->sender = xstrdup(qf->sender);
	offsets = xcalloc((size_t)qf->rcpt_count + 1, sizeof(*offsets));
	for (int i = 0; i < qf->rcpt_count; i++) {
		if (qf->rcpt[i].done)
			continue;
		offsets[m->nrcpt] = qf->rcpt[i].offset;
		add_rcpt(m, qf->rcpt[i].address);
	}
	qfile_msg_free(&qf);
	if (strcmp(m->queue, MAIL_QUEUE_MAILDROP) != 0)
		read_defer_log(m, offsets);
	free(offsets);
	return 0;
}

/* utf8_len - the length of the well-formed UTF-8 sequence at s (RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or 0
 * when s does not start one.  s is NUL-terminated: a NUL is never a
 * continuation byte, so nothing is read past it. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned c = s[0], lo, hi;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80
		    && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* put_json_str - a JSON string (RFC 8259) that is valid whatever the
 * bytes: '"' and '\\' escaped, control characters (and DEL) as \uXXXX,
 * well-formed UTF-8 passed through, and each byte that is not part of
 * well-formed UTF-8 as \u00XX (the byte read as Latin-1: nothing is
 * lost, and the output stays valid UTF-8). */
static void
put_json_str(FILE *fp, const char *str)
{
	const unsigned char *cp = (const unsigned char *)str;

	fputc('"', fp);
	while (*cp) {
		size_t n;

		switch (*cp) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			if (*cp < 0x20 || *cp == 0x7f || (n = utf8_len(cp)) == 0) {
				fprintf(fp, "\\u%04x", *cp);
			} else {
				fwrite(cp, 1, n, fp);
				cp += n;
				continue;
			}
		}
		cp++;
	}
	fputc('"', fp);
}

/* show_json - one message as one line. */
static void
show_json(FILE *fp, const struct show_msg *m)
{
	fputs("{\"queue_name\": ", fp);
	put_json_str(fp, m->queue);
	fputs(", \"queue_id\": ", fp);
	put_json_str(fp, m->id);
	fprintf(fp, ", \"arrival_time\": %lld, \"message_size\": %ld, "
	    "\"forced_expire\": false, \"sender\": ", (long long)m->arrival,
	    m->size);
	put_json_str(fp, m->sender);
	fputs(", \"recipients\": [", fp);
	for (int i = 0; i < m->nrcpt; i++) {
		fputs(i ? ", {\"address\": " : "{\"address\": ", fp);
		put_json_str(fp, m->rcpt[i].address);
		if (m->rcpt[i].reason) {
			fputs(", \"delay_reason\": ", fp);
			put_json_str(fp, m->rcpt[i].reason);
		}
		fputc('}', fp);
	}
	fputs("]}\n", fp);
}

/* printable - a copy with control characters replaced by '?'. */
static char *
printable(const char *str)
{
	char *copy = xstrdup(str);

	for (char *cp = copy; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = '?';
	return copy;
}

/* show_text - one message in the mailq layout. */
static void
show_text(FILE *fp, const struct show_msg *m, int first)
{
	const char *null_sender = var_empty_address_recipient;
	char idmark[64], when[32];
	const char *last = NULL;
	struct tm *tm;
	char *text;

	if (!first)
		fputc('\n', fp);
	snprintf(idmark, sizeof(idmark), "%s%s", m->id,
	    strcmp(m->queue, MAIL_QUEUE_ACTIVE) == 0 ? "*"
	    : strcmp(m->queue, MAIL_QUEUE_HOLD) == 0 ? "!" : "");
	/* asctime's first 20 characters: "Wed Nov 25 18:00:00 " */
	if ((tm = localtime(&m->arrival)) == NULL
	    || strftime(when, sizeof(when), "%a %b %e %H:%M:%S ", tm) == 0)
		strlcpy(when, "(unknown)", sizeof(when));
	/* asctime pads the day with a blank; %e does too. */
	text = printable(*m->sender ? m->sender
	    : *null_sender ? null_sender : "MAILER-DAEMON");
	fprintf(fp, "%-11s %7ld %20.20s %s\n", idmark, m->size, when, text);
	free(text);
	for (int i = 0; i < m->nrcpt; i++) {
		const char *reason = m->rcpt[i].reason;

		if (reason == NULL && last != NULL)
			reason = "reason unavailable";
		if (reason != NULL && (last == NULL || strcmp(reason, last) != 0)) {
			int pad = 76 - (int)strlen(reason);

			text = printable(reason);
			fprintf(fp, "%*s(%s)\n", pad > 0 ? pad : 0, "", text);
			free(text);
			last = reason;
		}
		text = printable(m->rcpt[i].address);
		fprintf(fp, "%-11s %7s %-20s %s\n", "", "", "", text);
		free(text);
	}
}

/* scan_queue - every message of one queue, in name order; 0, or -1
 * with *err_r (a queue directory that cannot be read, a write error or
 * the deadline). */
static int
scan_queue(FILE *fp, const char *queue, int format, time_t deadline,
    long *count, long *bytes, char **err_r)
{
	const char *dir_path = mail_queue_dir(queue);
	struct dirent **names = NULL;
	int n, ret = 0;

	if ((n = scandir(dir_path, &names, NULL, alphasort)) < 0) {
		if (errno == ENOENT)
			return 0;		/* postino check creates it */
		*err_r = concatenate(dir_path, ": ", strerror(errno), (char *)0);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct show_msg m;
		const char *err = "";
		char *path;
		int rc;

		if (ret < 0 || !queue_list_valid_id(names[i]->d_name)) {
			free(names[i]);
			continue;
		}
		if (ferror(fp)) {
			*err_r = concatenate("write: ", strerror(errno), (char *)0);
			ret = -1;
		} else if (deadline && time(NULL) > deadline) {
			*err_r = xstrdup("time limit exceeded");
			ret = -1;
		}
		if (ret < 0) {
			free(names[i]);
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.queue = queue;
		strlcpy(m.id, names[i]->d_name, sizeof(m.id));
		path = mail_queue_path(queue, m.id);
		rc = strcmp(queue, MAIL_QUEUE_MAILDROP) == 0
		    ? read_maildrop(path, &m, &err) : read_qfile(path, &m, &err);
		if (rc < 0)
			msg_warn("%s/%s: %s: skipped", queue, m.id, err);
		if (rc == 0) {
			if (format == QUEUE_LIST_JSON) {
				show_json(fp, &m);
			} else {
				if (*count == 0)
					fprintf(fp, "%-11s %7s %-20s %s\n", "-Queue ID-",
					    "--Size--", "----Arrival Time----",
					    "-Sender/Recipient-------");
				show_text(fp, &m, *count == 0);
			}
			(*count)++;
			*bytes += m.size;
		}
		show_msg_free(&m);
		free(path);
		free(names[i]);
	}
	free(names);
	return ret;
}

int
queue_list_readable(void)
{
	for (int i = 0; show_queues[i]; i++)
		if (access(mail_queue_dir(show_queues[i]), R_OK | X_OK) < 0
		    && errno != ENOENT)
			return 0;
	return 1;
}

int
queue_list_write(FILE *fp, int format, time_t deadline, char **err_r)
{
	long count = 0, bytes = 0;

	*err_r = NULL;
	for (int i = 0; show_queues[i]; i++)
		if (scan_queue(fp, show_queues[i], format, deadline, &count, &bytes,
		    err_r) < 0)
			return -1;
	if (format == QUEUE_LIST_TEXT) {
		if (count == 0)
			fprintf(fp, "Mail queue is empty\n");
		else
			fprintf(fp, "\n-- %ld Kbytes in %ld Request%s.\n", bytes / 1024,
			    count, count == 1 ? "" : "s");
	}
	if (fflush(fp) != 0 || ferror(fp)) {
		*err_r = concatenate("write: ", strerror(errno), (char *)0);
		return -1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* qfile - queue files: queue IDs, the record writer (cleanup), the
 * envelope reader (qmgr, delivery agents, postqueue) and the in-place
 * "done" mark.
 *
 * Record: type byte, 4-byte big-endian payload length, payload.  The
 * writer keeps one large buffer and writes it when full; the content
 * record is streamed and its length patched at qfile_content_end (in the
 * buffer when still there, else with pwrite).  qfile_finish writes END,
 * flushes, fsyncs the file and its directory, then sets mode 0700 and
 * fsyncs again: a file is complete only when it is mode 0700 and well
 * formed up to an END record that is the last byte of the file, and it
 * is mode 0700 only once its content and name are durable.
 *
 * Recipient payload: "flags;orig;address", flags decimal DSN_NOTIFY_*,
 * orig with '%' and ';' written as %25 and %3B (so the address, the last
 * field, may hold any byte but NUL).
 *
 * The reader trusts nothing: unknown types, oversized records, records
 * past the end of the file, NUL bytes in text, missing or repeated
 * V/T/S/M, data after END, and files not mode 0700 are refused with a
 * static one-line reason. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "dir_sync.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "stringops.h"

#define QFILE_WBUF_SIZE	(256 * 1024)
#define QFILE_RBUF_SIZE	(64 * 1024)
#define QFILE_MAX_ID	64

/* Queue IDs. */

static atomic_ulong qfile_counter;

/* qfile_format_id - seconds (8 hex), microseconds (5), pid (6), then the
 * per-process counter without leading zeros: the fixed-width prefix makes
 * the counter suffix unambiguous, so IDs differ whenever any part does. */
static void
qfile_format_id(char *out, size_t size)
{
	struct timeval tv;
	unsigned long n = atomic_fetch_add(&qfile_counter, 1);

	gettimeofday(&tv, NULL);
	snprintf(out, size, "%08lX%05lX%06lX%lX",
	    (unsigned long)tv.tv_sec & 0xffffffffUL,
	    (unsigned long)tv.tv_usec & 0xfffffUL,
	    (unsigned long)getpid() & 0xffffffUL, n);
}

const char *
qfile_new_id(void)
{
	static _Thread_local char id[QFILE_MAX_ID];

	qfile_format_id(id, sizeof(id));
	return id;
}

/* Writer. */

struct qfile_writer {
	int fd;
	char *path;
	char id[QFILE_MAX_ID];
	unsigned char *buf;
	size_t blen;		/* bytes buffered */
	off_t flushed;		/* file offset of buf[0] */
	off_t content_hdr;	/* offset of the open M record, -1 if none */
	int err;		/* sticky errno, 0 if fine */
	int finished;
};

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16
	    | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

struct qfile_writer *
qfile_create(const char *dir, const char **id_r)
{
	static _Thread_local char idbuf[QFILE_MAX_ID];
	struct qfile_writer *w;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		char id[QFILE_MAX_ID];
		char *path;
		int fd;

		qfile_format_id(id, sizeof(id));
		path = concatenate(dir, "/", id, (char *)0);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd < 0) {
			int saved = errno;

			free(path);
			if (saved == EEXIST)
				continue;
			errno = saved;
			return NULL;
		}
		w = xcalloc(1, sizeof(*w));
		w->fd = fd;
		w->path = path;
		strlcpy(w->id, id, sizeof(w->id));
		w->buf = xmalloc(QFILE_WBUF_SIZE);
		w->content_hdr = -1;
		strlcpy(idbuf, id, sizeof(idbuf));
		if (id_r)
			*id_r = idbuf;
		return w;
	}
	errno = EEXIST;
	return NULL;
}

/* qfile_flush - write the buffer out; sets the sticky error. */
static int
qfile_flush(struct qfile_writer *w)
{
	size_t done = 0;

	if (w->err) {
		errno = w->err;
		return -1;
	}
	while (done < w->blen) {
		ssize_t n = write(w->fd, w->buf + done, w->blen - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->err = errno;
			return -1;
		}
		if (n == 0) {
			w->err = EIO;
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	w->flushed += (off_t)w->blen;
	w->blen = 0;
	return 0;
}

/* qfile_append - buffered append of raw bytes. */
static int
qfile_append(struct qfile_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (w->err) {
		errno = w->err;
		return -1;
	}
	while (len > 0) {
		size_t room = QFILE_WBUF_SIZE - w->blen;

		if (room == 0) {
			if (qfile_flush(w) < 0)
				return -1;
			continue;
		}
		if (room > len)
			room = len;
		memcpy(w->buf + w->blen, p, room);
		w->blen += room;
		p += room;
		len -= room;
	}
	return 0;
}

/* qfile_patch - overwrite bytes already appended at file offset off. */
int
qfile_patch(struct qfile_writer *w, off_t off, const void *data, size_t len)
{
	if (w->err) {
		errno = w->err;
		return -1;
	}
	if (off < 0 || off + (off_t)len > w->flushed + (off_t)w->blen) {
		errno = EINVAL;
		return -1;
	}
	if (off >= w->flushed) {
		memcpy(w->buf + (off - w->flushed), data, len);
		return 0;
	}
	/* Partly or wholly written already: write that part in place. */
	{
		size_t ondisk = (size_t)(w->flushed - off);

		if (ondisk > len)
			ondisk = len;
		if (pwrite(w->fd, data, ondisk, off) != (ssize_t)ondisk) {
			w->err = errno ? errno : EIO;
			return -1;
		}
		if (ondisk < len)
			memcpy(w->buf, (const char *)data + ondisk, len - ondisk);
	}
	return 0;
}

int
qfile_content_read(struct qfile_writer *w, char **data_r, size_t *len_r)
{
	off_t start, len;
	char *data;
	size_t done = 0;

	if (w->content_hdr < 0) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_flush(w) < 0)
		return -1;
	start = w->content_hdr + QFILE_HDR_LEN;
	len = w->flushed - start;
	data = xmalloc((size_t)len + 1);
	while (done < (size_t)len) {
		ssize_t n = pread(w->fd, data + done, (size_t)len - done,
		    start + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			free(data);
			return -1;
		}
		done += (size_t)n;
	}
	data[len] = 0;
	*data_r = data;
	*len_r = (size_t)len;
	return 0;
}

int
qfile_truncate(struct qfile_writer *w, off_t off)
{
	if (qfile_flush(w) < 0)
		return -1;
	if (off < 0 || off > w->flushed) {
		errno = EINVAL;
		return -1;
	}
	if (ftruncate(w->fd, off) < 0 || lseek(w->fd, off, SEEK_SET) < 0) {
		w->err = errno;
		return -1;
	}
	w->flushed = off;
	w->content_hdr = -1;
	return 0;
}

off_t
qfile_offset(const struct qfile_writer *w)
{
	return w->flushed + (off_t)w->blen;
}

int
qfile_put(struct qfile_writer *w, int type, const void *data, size_t len)
{
	unsigned char hdr[QFILE_HDR_LEN];

	if (w->content_hdr >= 0) {
		errno = EINVAL;
		return -1;
	}
	if (len > QFILE_MAX_RECORD) {
		errno = EFBIG;
		return -1;
	}
	hdr[0] = (unsigned char)type;
	put_be32(hdr + 1, (uint32_t)len);
	if (qfile_append(w, hdr, sizeof(hdr)) < 0)
		return -1;
	return qfile_append(w, data, len);
}

int
qfile_put_str(struct qfile_writer *w, int type, const char *str)
{
	return qfile_put(w, type, str, strlen(str));
}

int
qfile_put_rcpt(struct qfile_writer *w, int dsn_notify, const char *orig,
    const char *address, off_t *offset_r)
{
	struct buf *b = buf_new(128, QFILE_MAX_RECORD);
	off_t off = qfile_offset(w);
	int rc;

	buf_printf(b, "%d;", dsn_notify);
	for (const char *cp = orig ? orig : ""; *cp; cp++) {
		if (*cp == '%')
			buf_puts(b, "%25");
		else if (*cp == ';')
			buf_puts(b, "%3B");
		else
			buf_putc(b, *cp);
	}
	buf_putc(b, ';');
	if (buf_puts(b, address) < 0) {
		buf_free(&b);
		errno = EFBIG;
		return -1;
	}
	rc = qfile_put(w, QREC_RCPT, buf_str(b), buf_len(b));
	buf_free(&b);
	if (rc == 0 && offset_r)
		*offset_r = off;
	return rc;
}

int
qfile_content_begin(struct qfile_writer *w)
{
	unsigned char hdr[QFILE_HDR_LEN] = { QREC_CONTENT, 0, 0, 0, 0 };
	off_t off = qfile_offset(w);

	if (w->content_hdr >= 0) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_append(w, hdr, sizeof(hdr)) < 0)
		return -1;
	w->content_hdr = off;
	return 0;
}

int
qfile_content_write(struct qfile_writer *w, const void *data, size_t len)
{
	if (w->content_hdr < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((uint64_t)(qfile_offset(w) - w->content_hdr - QFILE_HDR_LEN) + len
	    > UINT32_MAX) {
		errno = EFBIG;
		return -1;
	}
	return qfile_append(w, data, len);
}

int
qfile_content_end(struct qfile_writer *w)
{
	unsigned char len[4];
	off_t clen;

	if (w->content_hdr < 0) {
		errno = EINVAL;
		return -1;
	}
	clen = qfile_offset(w) - w->content_hdr - QFILE_HDR_LEN;
	put_be32(len, (uint32_t)clen);
	if (qfile_patch(w, w->content_hdr + 1, len, sizeof(len)) < 0)
		return -1;
	w->content_hdr = -1;
	return 0;
}

int
qfile_finish(struct qfile_writer *w, const char *dir)
{
	if (w->content_hdr >= 0 && qfile_content_end(w) < 0)
		return -1;
	if (qfile_put(w, QREC_END, "", 0) < 0 || qfile_flush(w) < 0)
		return -1;
	/* Content and directory entry first, the "complete" mode after:
	 * qmgr takes a file as soon as it is mode 0700, so a file whose
	 * fsync fails (and whose sender is told 4xx) must never have been
	 * 0700, or it could be delivered and then sent again.  The mode
	 * change itself is made durable by a second fsync (an inode-only
	 * commit) before anyone is told "queued": a crash must not turn an
	 * acknowledged message back into an incomplete file. */
	if (fsync(w->fd) < 0 || (dir != NULL && dir_sync(dir) < 0)) {
		w->err = errno;
		return -1;
	}
	if (fchmod(w->fd, 0700) < 0) {
		w->err = errno;
		return -1;
	}
	if (fsync(w->fd) < 0) {
		/* Not durable after all: not complete either (best effort;
		 * the caller removes the file). */
		w->err = errno;
		(void)fchmod(w->fd, 0600);
		errno = w->err;
		return -1;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		w->err = errno;
		(void)chmod(w->path, 0600);
		errno = w->err;
		return -1;
	}
	w->fd = -1;
	w->finished = 1;
	return 0;
}

void
qfile_abort(struct qfile_writer **wp)
{
	struct qfile_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (!w->finished && unlink(w->path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %m", w->path);
	w->fd = -1;
	qfile_writer_free(wp);
}

void
qfile_writer_free(struct qfile_writer **wp)
{
	struct qfile_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0) {
		/* Freed without finish or abort: never leave a partial file. */
		close(w->fd);
		if (unlink(w->path) < 0 && errno != ENOENT)
			msg_warn("remove %s: %m", w->path);
	}
	free(w->path);
	free(w->buf);
	free(w);
	*wp = NULL;
}

const char *
qfile_writer_path(const struct qfile_writer *w)
{
	return w->path;
}

const char *
qfile_writer_id(const struct qfile_writer *w)
{
	return w->id;
}

int
qfile_writer_fd(const struct qfile_writer *w)
{
	return w->fd;
}

/* Reader. */

struct qfile_rd {
	int fd;
	off_t size;
	unsigned char *buf;
	off_t boff;		/* file offset of buf[0] */
	size_t blen;
};

/* rd_get - copy len bytes at off into dst; -1 on a short file/read error. */
static int
rd_get(struct qfile_rd *rd, off_t off, void *dst, size_t len)
{
	unsigned char *d = dst;

	if (off < 0 || off + (off_t)len > rd->size)
		return -1;
	while (len > 0) {
		size_t n;

		if (off < rd->boff || off >= rd->boff + (off_t)rd->blen) {
			ssize_t got;

			do
				got = pread(rd->fd, rd->buf, QFILE_RBUF_SIZE, off);
			while (got < 0 && errno == EINTR);
			if (got <= 0)
				return -1;
			rd->boff = off;
			rd->blen = (size_t)got;
		}
		n = (size_t)(rd->boff + (off_t)rd->blen - off);
		if (n > len)
			n = len;
		memcpy(d, rd->buf + (off - rd->boff), n);
		d += n;
		off += (off_t)n;
		len -= n;
	}
	return 0;
}

/* parse_time - "sec.usec" strictly. */
static int
parse_time(const char *s, double *t_r)
{
	const char *dot = strchr(s, '.');
	char secs[32];
	long sec, usec;

	if (dot == NULL || (size_t)(dot - s) >= sizeof(secs) || dot == s)
		return -1;
	memcpy(secs, s, (size_t)(dot - s));
	secs[dot - s] = 0;
	if (!alldig(secs) || !alldig(dot + 1) || strlen(dot + 1) > 6
	    || str_to_long(secs, &sec) < 0 || str_to_long(dot + 1, &usec) < 0)
		return -1;
	*t_r = (double)sec + (double)usec / 1e6;
	return 0;
}

/* parse_rcpt - "flags;orig;address" into r; -1 if malformed. */
static int
parse_rcpt(char *payload, struct qfile_rcpt *r)
{
	char *semi = strchr(payload, ';'), *semi2, *out;
	long flags;

	if (semi == NULL)
		return -1;
	*semi = 0;
	if (!alldig(payload) || str_to_long(payload, &flags) < 0 || flags > 0xff)
		return -1;
	semi2 = strchr(semi + 1, ';');
	if (semi2 == NULL || semi2[1] == 0)
		return -1;
	*semi2 = 0;
	r->dsn_notify = (int)flags;
	r->orig_rcpt = out = xmalloc(strlen(semi + 1) + 1);
	for (const char *cp = semi + 1; *cp; cp++) {
		if (*cp == '%') {
			if (strncmp(cp, "%25", 3) == 0)
				*out++ = '%';
			else if (strncmp(cp, "%3B", 3) == 0)
				*out++ = ';';
			else {
				*out = 0;
				return -1;
			}
			cp += 2;
		} else {
			*out++ = *cp;
		}
	}
	*out = 0;
	r->address = xstrdup(semi2 + 1);
	return 0;
}

static int
valid_attr(const char *s)
{
	const char *eq = strchr(s, '=');

	if (eq == NULL || eq == s)
		return 0;
	for (const char *cp = s; cp < eq; cp++)
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= '0' && *cp <= '9')
		    || *cp == '_'))
			return 0;
	return 1;
}

struct qfile_msg *
qfile_read(const char *path, const char **err_r)
{
	struct qfile_rd rd = { .fd = -1, .boff = 0, .blen = 0 };
	struct qfile_msg *m = NULL;
	struct stat st;
	const char *base = strrchr(path, '/');
	off_t off = 0;
	int seen_v = 0, seen_t = 0, seen_s = 0, seen_m = 0, seen_e = 0;
	char *payload = NULL;

#define BAD(text) do { *err_r = (text); goto bad; } while (0)

	*err_r = "";
	rd.fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (rd.fd < 0)
		BAD("cannot open queue file");
	if (fstat(rd.fd, &st) < 0)
		BAD("cannot stat queue file");
	if (!S_ISREG(st.st_mode))
		BAD("not a regular file");
	if ((st.st_mode & S_IXUSR) == 0)
		BAD("queue file is incomplete (not mode 0700)");
	rd.size = st.st_size;
	rd.buf = xmalloc(QFILE_RBUF_SIZE);
	m = xcalloc(1, sizeof(*m));
	m->id = xstrdup(base ? base + 1 : path);
	m->file_size = st.st_size;
	m->mode = st.st_mode & 07777;

	while (off < rd.size) {
		unsigned char hdr[QFILE_HDR_LEN];
		uint32_t len;
		int type;

		if (seen_e)
			BAD("data after the end record");
		if (rd_get(&rd, off, hdr, sizeof(hdr)) < 0)
			BAD("truncated record header");
		type = hdr[0];
		len = get_be32(hdr + 1);
		if ((off_t)len > rd.size - off - QFILE_HDR_LEN)
			BAD("record extends past the end of the file");
		if (off == 0 && type != QREC_VERSION)
			BAD("first record is not a version record");
		if (type == QREC_CONTENT) {
			if (seen_m)
				BAD("more than one content record");
			seen_m = 1;
			m->content_offset = off + QFILE_HDR_LEN;
			m->content_len = (off_t)len;
			off += QFILE_HDR_LEN + (off_t)len;
			continue;
		}
		if (len > QFILE_MAX_RECORD)
			BAD("record too long");
		payload = xmalloc((size_t)len + 1);
		if (rd_get(&rd, off + QFILE_HDR_LEN, payload, len) < 0)
			BAD("truncated record");
		payload[len] = 0;
		if (memchr(payload, 0, len) != NULL)
			BAD("NUL byte in a text record");
		switch (type) {
		case QREC_VERSION:
			if (seen_v || strcmp(payload, "1") != 0)
				BAD("bad or repeated version record");
			seen_v = 1;
			break;
		case QREC_TIME:
			if (seen_t || parse_time(payload, &m->arrival) < 0)
				BAD("bad or repeated time record");
			seen_t = 1;
			break;
		case QREC_ATTR:
			if (!valid_attr(payload))
				BAD("malformed attribute record");
			{
				char *eq = strchr(payload, '=');
				size_t n = (size_t)m->attr_count + 1;

				m->attr_names = xreallocarray(m->attr_names, n,
				    sizeof(char *));
				m->attr_values = xreallocarray(m->attr_values, n,
				    sizeof(char *));
				m->attr_names[m->attr_count] =
				    xstrndup(payload, (size_t)(eq - payload));
				m->attr_values[m->attr_count] = xstrdup(eq + 1);
				m->attr_count++;
			}
			break;
		case QREC_SENDER:
			if (seen_s)
				BAD("repeated sender record");
			m->sender = xstrdup(payload);
			seen_s = 1;
			break;
		case QREC_RCPT:
		case QREC_DONE:
			{
				struct qfile_rcpt r = { .offset = off,
				    .done = type == QREC_DONE };

				if (parse_rcpt(payload, &r) < 0) {
					free(r.orig_rcpt);
					BAD("malformed recipient record");
				}
				if ((m->rcpt_count & (m->rcpt_count - 1)) == 0) {
					size_t cap = m->rcpt_count ?
					    (size_t)m->rcpt_count * 2 : 4;

					m->rcpt = xreallocarray(m->rcpt, cap,
					    sizeof(*m->rcpt));
				}
				m->rcpt[m->rcpt_count++] = r;
			}
			break;
		case QREC_END:
			if (len != 0)
				BAD("end record with a payload");
			seen_e = 1;
			break;
		default:
			BAD("unknown record type");
		}
		xfree(&payload);
		off += QFILE_HDR_LEN + (off_t)len;
	}
	if (!seen_e)
		BAD("missing end record");
	if (!seen_t || !seen_s || !seen_m)
		BAD("missing time, sender or content record");
	close(rd.fd);
	free(rd.buf);
	return m;

bad:
	free(payload);
	if (rd.fd >= 0)
		close(rd.fd);
	free(rd.buf);
	qfile_msg_free(&m);
	return NULL;
#undef BAD
}

void
qfile_msg_free(struct qfile_msg **mp)
{
	struct qfile_msg *m = *mp;

	if (m == NULL)
		return;
	free(m->id);
	free(m->sender);
	for (int i = 0; i < m->attr_count; i++) {
		free(m->attr_names[i]);
		free(m->attr_values[i]);
	}
	free(m->attr_names);
	free(m->attr_values);
	for (int i = 0; i < m->rcpt_count; i++) {
		free(m->rcpt[i].orig_rcpt);
		free(m->rcpt[i].address);
	}
	free(m->rcpt);
	free(m);
	*mp = NULL;
}

const char *
qfile_msg_attr(const struct qfile_msg *m, const char *name)
{
	for (int i = 0; i < m->attr_count; i++)
		if (strcmp(m->attr_names[i], name) == 0)
			return m->attr_values[i];
	return NULL;
}

int
qfile_mark_done(const char *path, const off_t *offsets, int count)
{
	return qfile_mark_done_sync(path, offsets, count, 1);
}

int
qfile_mark_done_sync(const char *path, const off_t *offsets, int count,
    int sync)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return -1;
	for (int i = 0; i < count; i++) {
		char c;

		/* Only ever turn a recipient record into a done record. */
		errno = 0;
		if (pread(fd, &c, 1, offsets[i]) != 1) {
			errno = errno ? errno : EINVAL;
			goto fail;
		}
		if (c == QREC_DONE)
			continue;
		if (c != QREC_RCPT) {
			errno = EINVAL;
			goto fail;
		}
		c = QREC_DONE;
		if (pwrite(fd, &c, 1, offsets[i]) != 1)
			goto fail;
	}
	if (sync && fsync(fd) < 0)
		goto fail;
	return close(fd);

fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

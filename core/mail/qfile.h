/* SPDX-License-Identifier: MIT */
/* qfile - queue file records (docs/architecture.md, "Queue files").
 *
 * Record: type byte, 4-byte big-endian payload length, payload.  Types
 * are the QREC_* below; a reader refuses unknown types, lengths over
 * QFILE_MAX_RECORD (except QREC_CONTENT, bounded by the file size), and a
 * file without QREC_END.  Nothing in a queue file is trusted. */
#ifndef POSTINO_MAIL_QFILE_H
#define POSTINO_MAIL_QFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "buf.h"

#define QREC_VERSION	'V'
#define QREC_TIME	'T'
#define QREC_ATTR	'A'
#define QREC_SENDER	'S'
#define QREC_RCPT	'R'
#define QREC_DONE	'D'
#define QREC_CONTENT	'M'
#define QREC_END	'E'

#define QFILE_HDR_LEN		5
#define QFILE_MAX_RECORD	(1024 * 1024)

/* Queue file attribute (QREC_ATTR) of an address verification probe
 * (core/verify), its value the address being verified: agents decide
 * each recipient's fate without delivering, and qmgr reports it to the
 * verify service for that address instead of bouncing. */
#define QFILE_ATTR_VERIFY	"verify_probe"

/* Queue file attribute of a sendmail -bv submission (value "1"): the
 * agents decide each recipient's fate without delivering, as for a
 * probe, and the sender gets a "Mail Delivery Status Report". */
#define QFILE_ATTR_VERIFY_REPORT	"verify_report"

/* Queue file attribute of a message that goes to a content filter
 * first (content_filter, FILTER actions): "transport:destination". */
#define QFILE_ATTR_FILTER	"content_filter"

/* DSN NOTIFY flags in recipient records. */
#define DSN_NOTIFY_NEVER	(1 << 0)
#define DSN_NOTIFY_SUCCESS	(1 << 1)
#define DSN_NOTIFY_FAILURE	(1 << 2)
#define DSN_NOTIFY_DELAY	(1 << 3)

/* Writing (cleanup). */
struct qfile_writer;

/* qfile_create - create dir/ID (O_CREAT|O_EXCL, mode 0600) for a new
 * queue ID; *id_r receives the ID (static storage until the next call).
 * NULL with errno set on failure. */
struct qfile_writer *qfile_create(const char *dir, const char **id_r);
/* qfile_put - append a record; 0 or -1 (errno, e.g. ENOSPC/EFBIG). */
int qfile_put(struct qfile_writer *w, int type, const void *data, size_t len);
int qfile_put_str(struct qfile_writer *w, int type, const char *str);
/* qfile_put_rcpt - append a QREC_RCPT record "flags;orig;address" (orig
 * with '%' and ';' escaped as %25/%3B); *offset_r (may be NULL) receives
 * the record's offset.  0 or -1 (errno). */
int qfile_put_rcpt(struct qfile_writer *w, int dsn_notify, const char *orig,
    const char *address, off_t *offset_r);
/* qfile_patch - overwrite len bytes already written at offset off (e.g. a
 * record's type byte); 0 or -1 (errno). */
int qfile_patch(struct qfile_writer *w, off_t off, const void *data,
    size_t len);
/* qfile_content_begin / qfile_content_write / qfile_content_end - stream
 * the QREC_CONTENT record whose length is only known at the end. */
int qfile_content_begin(struct qfile_writer *w);
int qfile_content_write(struct qfile_writer *w, const void *data, size_t len);
int qfile_content_end(struct qfile_writer *w);
/* qfile_content_read - a malloc'd copy of the content written so far
 * to the open QREC_CONTENT record (*len_r bytes, NUL-terminated); 0 or
 * -1 (errno).  For the milters, which see the message as queued. */
int qfile_content_read(struct qfile_writer *w, char **data_r, size_t *len_r);
/* qfile_truncate - forget everything from offset off on (a record
 * boundary of this unfinished file, e.g. to write the envelope and the
 * content again after milters changed them); 0 or -1 (errno). */
int qfile_truncate(struct qfile_writer *w, off_t off);
/* qfile_offset - current write offset (for record positions). */
off_t qfile_offset(const struct qfile_writer *w);
/* qfile_finish - write QREC_END, fsync the file, fsync dir (the directory
 * that now holds the file; NULL: none), only then fchmod 0700 (the
 * "complete" mark qmgr looks for), fsync again so that the mark is
 * durable too, close.  0: complete and durable.  -1 (errno): the file is
 * not marked complete (mode 0600, so qmgr never takes it) and the caller
 * removes it (qfile_abort). */
int qfile_finish(struct qfile_writer *w, const char *dir);
/* qfile_abort - close and unlink an unfinished file. */
void qfile_abort(struct qfile_writer **wp);
/* qfile_writer_free - release after qfile_finish. */
void qfile_writer_free(struct qfile_writer **wp);
const char *qfile_writer_path(const struct qfile_writer *w);
/* qfile_writer_id - this file's queue ID. */
const char *qfile_writer_id(const struct qfile_writer *w);
int qfile_writer_fd(const struct qfile_writer *w);

/* Reading (qmgr, delivery agents, postqueue). */
struct qfile_rcpt {
	off_t offset;		/* of the record's type byte */
	int done;		/* QREC_DONE */
	int dsn_notify;
	char *orig_rcpt;	/* "" if none */
	char *address;
};

struct qfile_msg {
	char *id;
	double arrival;		/* seconds since the epoch */
	char *sender;
	int attr_count;
	char **attr_names;
	char **attr_values;
	int rcpt_count;
	struct qfile_rcpt *rcpt;
	off_t content_offset;	/* first content byte */
	off_t content_len;
	off_t file_size;
	mode_t mode;		/* permission bits (QFILE_MODE_*) */
};

/* Mode bits of a queue file: 0700 (owner execute) = complete (cleanup,
 * after the fsyncs); QFILE_MODE_TRIED (group execute, 0710) = qmgr has
 * handed the message to delivery agents before: a later attempt may find
 * copies that an earlier one made without its outcome being recorded (a
 * crash), and says so to the agents (deliver_request "redelivery"). */
#define QFILE_MODE_TRIED	S_IXGRP

/* qfile_read - parse path (envelope only; the content is located, not
 * read).  NULL with *err_r (static text) for a malformed or incomplete
 * file. */
struct qfile_msg *qfile_read(const char *path, const char **err_r);
void qfile_msg_free(struct qfile_msg **mp);
const char *qfile_msg_attr(const struct qfile_msg *m, const char *name);
/* qfile_mark_done - rewrite the recipient record at offset to QREC_DONE
 * (pwrite of the type byte) and fsync; 0 or -1. */
int qfile_mark_done(const char *path, const off_t *offsets, int count);
/* qfile_mark_done_sync - the same, with the fsync only when sync is set
 * (the marks then survive any process crash, but not a system crash
 * until the file is synced). */
int qfile_mark_done_sync(const char *path, const off_t *offsets, int count,
    int sync);

/* queue IDs: upper-case hex, unique per host (time, pid, counter). */
const char *qfile_new_id(void);

#endif

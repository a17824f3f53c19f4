/* SPDX-License-Identifier: MIT */
/* mail_queue - queue directory names and durable moves between them.
 *
 * Queues: incoming active deferred hold corrupt maildrop (files), defer
 * bounce (per-message status logs), public private pid (sockets, pid
 * file).  All paths are under $queue_directory. */
#ifndef POSTINO_MAIL_MAIL_QUEUE_H
#define POSTINO_MAIL_MAIL_QUEUE_H

#define MAIL_QUEUE_INCOMING	"incoming"
#define MAIL_QUEUE_ACTIVE	"active"
#define MAIL_QUEUE_DEFERRED	"deferred"
#define MAIL_QUEUE_HOLD		"hold"
#define MAIL_QUEUE_CORRUPT	"corrupt"
#define MAIL_QUEUE_MAILDROP	"maildrop"
#define MAIL_QUEUE_DEFER	"defer"
#define MAIL_QUEUE_BOUNCE	"bounce"
#define MAIL_QUEUE_TRACE	"trace"	/* success and -bv report logs */

/* mail_queue_dir - "$queue_directory/queue" (static buffer per queue). */
const char *mail_queue_dir(const char *queue);
/* mail_queue_valid_id - is name a queue ID (a file name the queue tools
 * accept: [0-9A-F]+, at most 40 characters)? */
int mail_queue_valid_id(const char *name);
/* mail_queue_path - "$queue_directory/queue/id", malloc'd. */
char *mail_queue_path(const char *queue, const char *id);
/* mail_queue_move - rename id from one queue to another and fsync both
 * directories; 0 or -1 (errno). */
int mail_queue_move(const char *from, const char *to, const char *id);
/* mail_queue_rename - rename id between queues without syncing the
 * directories: for moves of a file that is already durable where a crash
 * leaving it under the old name only costs a repeated attempt (qmgr's
 * incoming -> active, deferred -> incoming).  0 or -1 (errno). */
int mail_queue_rename(const char *from, const char *to, const char *id);
/* mail_queue_sync_dir - fsync a queue directory; 0 or -1. */
int mail_queue_sync_dir(const char *queue);
/* mail_queue_names - NULL-terminated list of every queue directory name
 * (for postino check). */
extern const char *const mail_queue_names[];

#endif

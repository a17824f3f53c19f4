/* SPDX-License-Identifier: MIT */
/* dir_sync - make a directory's entries durable (fsync of the directory),
 * the step after a create, link or rename that the queue and the mailbox
 * writers all need before they report success. */
#ifndef POSTINO_UTIL_DIR_SYNC_H
#define POSTINO_UTIL_DIR_SYNC_H

/* dir_sync - fsync directory dir; 0, or -1 with errno from open/fsync. */
int dir_sync(const char *dir);

/* dir_sync_parent - fsync the directory that holds path; as dir_sync. */
int dir_sync_parent(const char *path);

#endif

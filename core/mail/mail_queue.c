/* SPDX-License-Identifier: MIT */
/* mail_queue - queue directory names under $queue_directory and durable
 * moves between queues (rename, then fsync of both directories, so that
 * a state change survives a crash before anyone is told about it).
 *
 * mail_queue_dir returns a buffer that belongs to the queue name: it stays
 * valid (and is updated in place) when queue_directory changes. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dir_sync.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

const char *const mail_queue_names[] = {
	MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED,
	MAIL_QUEUE_HOLD, MAIL_QUEUE_CORRUPT, MAIL_QUEUE_MAILDROP,
	MAIL_QUEUE_DEFER, MAIL_QUEUE_BOUNCE, MAIL_QUEUE_TRACE, "public",
	"private", "pid",
	NULL,
};

#define MAIL_QUEUE_SLOTS 32

struct mail_queue_slot {
	char name[64];
	char path[PATH_MAX];
};

static struct mail_queue_slot mail_queue_slots[MAIL_QUEUE_SLOTS];
static pthread_mutex_t mail_queue_lock = PTHREAD_MUTEX_INITIALIZER;

const char *
mail_queue_dir(const char *queue)
{
	static _Thread_local char overflow[PATH_MAX];
	const char *top = var_queue_directory;
	struct mail_queue_slot *slot = NULL;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", top, queue);
	if (strlen(queue) >= sizeof(slot->name)) {
		strlcpy(overflow, path, sizeof(overflow));
		return overflow;
	}
	pthread_mutex_lock(&mail_queue_lock);
	for (int i = 0; i < MAIL_QUEUE_SLOTS; i++) {
		if (mail_queue_slots[i].name[0] == 0) {
			slot = mail_queue_slots + i;
			strlcpy(slot->name, queue, sizeof(slot->name));
			break;
		}
		if (strcmp(mail_queue_slots[i].name, queue) == 0) {
			slot = mail_queue_slots + i;
			break;
		}
	}
	if (slot == NULL) {
		pthread_mutex_unlock(&mail_queue_lock);
		strlcpy(overflow, path, sizeof(overflow));
		return overflow;
	}
	if (strcmp(slot->path, path) != 0)
		strlcpy(slot->path, path, sizeof(slot->path));
	pthread_mutex_unlock(&mail_queue_lock);
	return slot->path;
}

int
mail_queue_valid_id(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 40)
		return 0;
	for (const char *cp = name; *cp; cp++)
		if (!((*cp >= '0' && *cp <= '9') || (*cp >= 'A' && *cp <= 'F')))
			return 0;
	return 1;
}

char *
mail_queue_path(const char *queue, const char *id)
{
	return concatenate(var_queue_directory, "/", queue, "/",
	    id, (char *)0);
}

int
mail_queue_sync_dir(const char *queue)
{
	char *dir = concatenate(var_queue_directory, "/", queue,
	    (char *)0);
	int rc = dir_sync(dir);
	int saved = errno;

	free(dir);
	errno = saved;
	return rc;
}

int
mail_queue_rename(const char *from, const char *to, const char *id)
{
	char *old = mail_queue_path(from, id);
	char *new = mail_queue_path(to, id);
	int rc = rename(old, new);
	int saved = errno;

	free(old);
	free(new);
	errno = saved;
	return rc;
}

int
mail_queue_move(const char *from, const char *to, const char *id)
{
	char *old = mail_queue_path(from, id);
	char *new = mail_queue_path(to, id);
	int rc = rename(old, new);
	int saved = errno;

	free(old);
	free(new);
	if (rc < 0) {
		errno = saved;
		return -1;
	}
	/* The new name first: once it is durable the message is safe. */
	if (mail_queue_sync_dir(to) < 0 || mail_queue_sync_dir(from) < 0)
		return -1;
	return 0;
}

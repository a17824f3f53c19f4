/* SPDX-License-Identifier: MIT */
/* dir_sync - fsync a directory by name. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <unistd.h>

#include "dir_sync.h"
#include "mymalloc.h"

int
dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return -1;
	if (fsync(fd) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
dir_sync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int ret = dir_sync(dirname(copy));
	int saved = errno;

	free(copy);
	errno = saved;
	return ret;
}

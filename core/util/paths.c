/* SPDX-License-Identifier: MIT */
/* paths - installation directories relative to the running program. */
#include "postino_config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mymalloc.h"
#include "paths.h"
#include "stringops.h"

static char *prefix;
static int prefix_done;

/* strip_suffix - if dir ends in "/" rel, return the part before it. */
static char *
strip_suffix(const char *dir, const char *rel)
{
	size_t dl = strlen(dir), rl = strlen(rel);

	if (dl > rl && dir[dl - rl - 1] == '/' && strcmp(dir + dl - rl, rel) == 0)
		return xstrndup(dir, dl - rl - 1);
	if (dl == rl + 1 && dir[0] == '/' && strcmp(dir + 1, rel) == 0)
		return xstrdup("/");
	return NULL;
}

const char *
paths_prefix(void)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (prefix_done)
		return prefix;
	prefix_done = 1;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return NULL;
	exe[n] = 0;
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = 0;
	if ((prefix = strip_suffix(exe, POSTINO_REL_SBINDIR)) == NULL
	    && (prefix = strip_suffix(exe, POSTINO_REL_LIBEXECDIR)) == NULL
	    && (prefix = strip_suffix(exe, "bin")) == NULL)
		prefix = strip_suffix(exe, "tests");
	return prefix;
}

static const char *
under_prefix(char **cache, const char *rel, const char *fallback)
{
	const char *p;

	if (*cache)
		return *cache;
	if ((p = paths_prefix()) == NULL)
		*cache = xstrdup(fallback);
	else
		*cache = concatenate(strcmp(p, "/") == 0 ? "" : p, "/", rel,
		    (char *)0);
	return *cache;
}

const char *
paths_shlib_directory(void)
{
	static char *dir;

	return under_prefix(&dir, POSTINO_REL_LIBDIR, "/usr/lib/postino");
}

const char *
paths_daemon_directory(void)
{
	static char *dir;

	return under_prefix(&dir, POSTINO_REL_LIBEXECDIR, "/usr/libexec/postino");
}

const char *
paths_command_directory(void)
{
	static char *dir;

	return under_prefix(&dir, POSTINO_REL_SBINDIR, "/usr/sbin");
}

const char *
paths_config_directory(void)
{
	static char *dir;
	const char *p;

	if (dir)
		return dir;
	p = paths_prefix();
	if (p == NULL || strcmp(p, "/usr") == 0 || strcmp(p, "/") == 0)
		dir = xstrdup("/etc/postino");
	else
		dir = concatenate(p, "/", POSTINO_REL_SYSCONFDIR, (char *)0);
	return dir;
}

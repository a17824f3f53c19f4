/* SPDX-License-Identifier: MIT */
/* fuzz_util - temporary files and quiet logging for the fuzz targets
 * (see fuzz_util.h). */
#include "postino_config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "msg.h"
#include "mymalloc.h"

jmp_buf *fuzz_fatal_jmp;
char fuzz_last_fatal[512];

static char *tmpdir;
static pid_t tmpdir_owner;
static int verbose = -1;

/* quiet_cb - the msg_capture callback. */
static void
quiet_cb(int level, const char *text, void *ctx)
{
	(void)ctx;
	if (verbose > 0 || (level >= MSG_FATAL && fuzz_fatal_jmp == NULL))
		fprintf(stderr, "%s: %s\n", level == MSG_FATAL ? "fatal"
		    : level == MSG_PANIC ? "panic" : "msg", text);
	if (level == MSG_FATAL) {
		snprintf(fuzz_last_fatal, sizeof(fuzz_last_fatal), "%s", text);
		if (fuzz_fatal_jmp != NULL)
			longjmp(*fuzz_fatal_jmp, 1);
	}
}

void
fuzz_quiet(void)
{
	if (verbose < 0) {
		const char *v = getenv("FUZZ_VERBOSE");

		verbose = v != NULL && *v == '1';
	}
	msg_capture(quiet_cb, NULL);
}

/* remove_tree - rm -r of our own directory (two levels are all we make). */
static void
remove_tree(const char *path)
{
	DIR *d;
	struct dirent *de;
	struct stat st;

	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char sub[4096];

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(sub);
			else
				(void)unlink(sub);
		}
		closedir(d);
	}
	(void)rmdir(path);
}

static void
cleanup_tmpdir(void)
{
	if (tmpdir != NULL && getpid() == tmpdir_owner)
		remove_tree(tmpdir);
}

const char *
fuzz_tmpdir(void)
{
	const char *base;
	char templ[4096];
	struct stat st;

	if (tmpdir != NULL)
		return tmpdir;
	if ((base = getenv("TMPDIR")) == NULL || *base == 0)
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
		    && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(templ, sizeof(templ), "%s/postino-fuzz.XXXXXX", base);
	if (mkdtemp(templ) == NULL) {
		perror(templ);
		abort();
	}
	tmpdir = xstrdup(templ);
	tmpdir_owner = getpid();
	atexit(cleanup_tmpdir);
	return tmpdir;
}

const char *
fuzz_path(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	return path;
}

void
fuzz_write(const char *path, const void *data, size_t len, int mode)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL
	    || (len > 0 && fwrite(data, 1, len, fp) != len)
	    || fclose(fp) != 0 || chmod(path, (mode_t)mode) != 0) {
		perror(path);
		abort();
	}
}

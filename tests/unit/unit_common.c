/* SPDX-License-Identifier: MIT */
/* unit_common - helpers shared by the unit tests (see unit.h). */
#include "postino_config.h"

#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "unit.h"

struct unit_msg {
	int level;
	char *text;
};

static struct unit_msg *captured;
static int ncaptured;

static char *tmpdir;

/* unit_capture_cb - store one message. */
static void
unit_capture_cb(int level, const char *text, void *ctx)
{
	captured = xreallocarray(captured, (size_t)ncaptured + 1,
	    sizeof(*captured));
	captured[ncaptured].level = level;
	captured[ncaptured].text = xstrdup(text);
	ncaptured++;
}

/* unit_capture_clear - forget what was captured. */
static void
unit_capture_clear(void)
{
	for (int i = 0; i < ncaptured; i++)
		free(captured[i].text);
	free(captured);
	captured = NULL;
	ncaptured = 0;
}

void
unit_capture_start(void)
{
	static int registered;

	if (!registered) {
		atexit(unit_capture_clear);
		registered = 1;
	}
	unit_capture_clear();
	msg_capture(unit_capture_cb, NULL);
}

void
unit_capture_stop(void)
{
	msg_capture(NULL, NULL);
}

int
unit_captured(int level, const char *text)
{
	int n = 0;

	for (int i = 0; i < ncaptured; i++)
		if ((level < 0 || captured[i].level == level)
		    && strstr(captured[i].text, text) != NULL)
			n++;
	return n;
}

int
unit_capture_count(void)
{
	return ncaptured;
}

const char *
unit_capture_text(int n)
{
	return n >= 0 && n < ncaptured ? captured[n].text : NULL;
}

void
unit_capture_dump(void)
{
	for (int i = 0; i < ncaptured; i++)
		print_message("captured[%d] level %d: %s\n", i, captured[i].level,
		    captured[i].text);
}

/* unit_rm - nftw callback: remove one entry (children first). */
static int
unit_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) != 0)
		perror(path);
	return 0;
}

static void
unit_tmpdir_cleanup(void)
{
	if (tmpdir == NULL)
		return;
	nftw(tmpdir, unit_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

const char *
unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir)
		return tmpdir;
	tmpdir = concatenate(base && *base ? base : "/tmp",
	    "/postino-unit-XXXXXX", (char *)0);
	if (mkdtemp(tmpdir) == NULL) {
		perror(tmpdir);
		abort();
	}
	atexit(unit_tmpdir_cleanup);
	return tmpdir;
}

char *
unit_write_file(const char *name, const char *data, size_t len)
{
	char *path = concatenate(unit_tmpdir(), "/", name, (char *)0);
	FILE *fp;

	if (len == (size_t)-1)
		len = strlen(data);
	if ((fp = fopen(path, "w")) == NULL
	    || fwrite(data, 1, len, fp) != len || fclose(fp) != 0) {
		perror(path);
		abort();
	}
	return path;
}

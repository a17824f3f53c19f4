/* SPDX-License-Identifier: MIT */
/* fuzz_cidr - libFuzzer target for the cidr: table (core/util/map_cidr.c)
 * through the map layer, as the daemons open it.
 *
 * Input: byte 0 picks the request flags and the source (a file, or the
 * inline form "cidr:{...}" built from the table text); the rest up to
 * the first NUL is the table, after it come lookup keys, one a line.
 * Every key is also looked up once more with a few spellings the cidr
 * code must treat alike or refuse cleanly (bracketed, IPv4-mapped).
 * Checks: the open never fails for a file (bad rules are skipped with a
 * warning); a found key has a value; the same key gets the same answer
 * twice. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "map.h"
#include "mymalloc.h"
#include "stringops.h"

#define FUZZ_MAX_INPUT	20000

static char table_path[4096];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(table_path, sizeof(table_path), "%s", fuzz_path("table.cidr"));
	return 0;
}

/* lookup_twice - look key up twice; both answers must agree. */
static void
lookup_twice(struct map *map, const char *key)
{
	const char *v1 = NULL, *v2 = NULL;
	enum map_status s1, s2;
	char *copy;

	s1 = map_lookup(map, key, &v1);
	if (s1 == MAP_FOUND && v1 == NULL)
		abort();
	copy = s1 == MAP_FOUND ? xstrdup(v1) : NULL;
	s2 = map_lookup(map, key, &v2);
	if (s1 != s2 || (s1 == MAP_FOUND && strcmp(copy, v2) != 0))
		abort();
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	size_t tlen;
	struct map *map;
	char *err = NULL, *name, *keys, *save, *k;
	int flags = 0, inline_form;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_quiet();
	if (data[0] & 1)
		flags |= MAP_FLAG_FOLD_ANY;
	if (data[0] & 2)
		flags |= MAP_FLAG_PARANOID;
	inline_form = (data[0] & 4) != 0;
	data++;
	size--;
	nul = memchr(data, 0, size);
	tlen = nul ? (size_t)(nul - data) : size;
	if (inline_form) {
		char *text = xstrndup((const char *)data, tlen);

		name = concatenate("cidr:{", text, "}", (char *)0);
		free(text);
	} else {
		fuzz_write(table_path, data, tlen, 0644);
		name = concatenate("cidr:", table_path, (char *)0);
	}
	map = map_open(name, O_RDONLY, flags, &err);
	free(name);
	if (map == NULL) {
		if (!inline_form || err == NULL)
			abort();
		free(err);
		return 0;
	}
	keys = nul ? xstrndup((const char *)nul + 1, size - tlen - 1) : xstrdup("");
	save = keys;
	for (int n = 0; n < 200 && (k = strsep(&keys, "\n")) != NULL; n++) {
		char *alt;

		lookup_twice(map, k);
		alt = concatenate("[", k, "]", (char *)0);
		lookup_twice(map, alt);
		free(alt);
		alt = concatenate("::ffff:", k, (char *)0);
		lookup_twice(map, alt);
		free(alt);
	}
	free(save);
	map_close(&map);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* fuzz_regexp - libFuzzer target for the pcre:/regexp: parser and the
 * prefilter.
 *
 * Input: byte 0 picks the type and request flags, the rest up to the
 * first NUL byte (or the end) is the table; after that NUL come the keys,
 * separated by newlines.  The table is loaded twice, with and without the
 * prefilter, and every key must get the same answer from both (abort
 * otherwise).  Built by tests/fuzz/CMakeLists.txt from the module's own
 * sources (its internals are hidden in map_regexp.so), when the pcre:
 * module is built. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "map_regexp.h"
#include "msg.h"
#include "mymalloc.h"

static char path[4096];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(path, sizeof(path), "%s", fuzz_path("table.re"));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct map_driver drv[2] = {
		{.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION,
		 .type = "pcre", .caps = MAP_CAP_PATTERN},
		{.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION,
		 .type = "regexp", .caps = MAP_CAP_PATTERN},
	};
	const struct map_regexp_engine *eng;
	const uint8_t *nul;
	size_t tlen;
	struct map *a, *b;
	char *err = NULL, *keys, *k, *save;
	int which, flags = 0;

	if (size < 1 || size > 20000)
		return 0;
	fuzz_quiet();
	which = data[0] & 1;
	eng = which ? &map_regexp_posix_engine : &map_regexp_pcre_engine;
	if (data[0] & 2)
		flags |= MAP_FLAG_UTF8;
	if (data[0] & 4)
		flags |= MAP_FLAG_NO_REGSUB;
	map_regexp_ac_dense_max = (data[0] & 8) ? 0 : 4u * 1024 * 1024;
	data++;
	size--;
	nul = memchr(data, 0, size);
	tlen = nul ? (size_t)(nul - data) : size;
	fuzz_write(path, data, tlen, 0644);
	map_regexp_prefilter_disable = 0;
	a = map_regexp_open_engine(&drv[which], eng, path, O_RDONLY, flags, &err);
	map_regexp_prefilter_disable = 1;
	b = map_regexp_open_engine(&drv[which], eng, path, O_RDONLY, flags, &err);
	map_regexp_prefilter_disable = 0;
	if (a == NULL || b == NULL)
		abort();
	keys = nul ? xstrndup((const char *)nul + 1, size - tlen - 1) : xstrdup("");
	save = keys;
	while ((k = strsep(&keys, "\n")) != NULL) {
		const char *va = NULL, *vb = NULL;
		enum map_status sa = a->lookup(a, k, &va);
		char *copy = sa == MAP_FOUND ? xstrdup(va) : NULL;
		enum map_status sb = b->lookup(b, k, &vb);

		if (sa != sb || (sa == MAP_FOUND && strcmp(copy, vb) != 0))
			abort();
		free(copy);
	}
	free(save);
	map_close(&a);
	map_close(&b);
	return 0;
}

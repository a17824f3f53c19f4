/* SPDX-License-Identifier: MIT */
/* replay_main - run a fuzz target over its corpus once, without
 * libFuzzer, so that any C compiler can replay the corpus in CI.
 *
 * Usage: fuzz_NAME_replay DIR|FILE...  Every regular file (directories
 * are read one level deep, in name order, dot files skipped) is passed
 * to LLVMFuzzerTestOneInput once.  A target that finds a broken
 * invariant aborts; this program fails too when it was given no input
 * at all, so an empty or misplaced corpus cannot pass. */
#include "postino_config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

/* A target without LLVMFuzzerInitialize gets this one. */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* run_file - read path whole and run the target on it; 1 if run. */
static int
run_file(const char *path)
{
	FILE *fp;
	unsigned char *data = NULL;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(1);
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((data = realloc(data, cap)) == NULL) {
				perror("realloc");
				exit(1);
			}
		}
		n = fread(data + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	if (ferror(fp)) {
		perror(path);
		exit(1);
	}
	fclose(fp);
	/* A private copy of the exact size, as libFuzzer gives, so that a
	 * read past the end is caught by a sanitizer. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (exact == NULL) {
			perror("malloc");
			exit(1);
		}
		memcpy(exact, data, len);
		free(data);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 1;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run_dir - every regular file in dir, in name order. */
static int
run_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t count = 0;
	int ran = 0;

	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		exit(1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (count + 1) * sizeof(*names))) == NULL
		    || (names[count] = strdup(de->d_name)) == NULL) {
			perror("malloc");
			exit(1);
		}
		count++;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), cmp_names);
	for (size_t i = 0; i < count; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			ran += run_file(path);
		free(names[i]);
	}
	free(names);
	return ran;
}

int
main(int argc, char **argv)
{
	int ran = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		ran += S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
	}
	if (ran == 0) {
		fprintf(stderr, "%s: no inputs to replay\n", argv[0]);
		return 1;
	}
	printf("%s: %d inputs replayed\n", argv[0], ran);
	return 0;
}

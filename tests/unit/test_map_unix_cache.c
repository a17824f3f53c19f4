/* SPDX-License-Identifier: MIT */
/* test_map_unix_cache - unix:passwd.byname remembers its answers for
 * many distinct names: smtpd checks every RCPT against
 * local_recipient_maps, and a fan-out to 100 local users must not walk
 * the name service (about 60 system calls) on each one.
 *
 * getpwnam_r() is replaced here (the executable's definition wins over
 * libc's for libpostino-util too): it answers "uNNN" names from a fake
 * account, anything else as not found, and counts its calls. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "map.h"
#include "unit.h"

static int pw_calls;
static char pw_x[] = "x", pw_empty[] = "", pw_home[] = "/home/bench",
    pw_sh[] = "/bin/sh";

int
getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
    struct passwd **result)
{
	pw_calls++;
	*result = NULL;
	if (name[0] != 'u')
		return 0;
	if (strlen(name) + 16 > len)
		return ERANGE;
	memset(pw, 0, sizeof(*pw));
	snprintf(buf, len, "%s", name);
	pw->pw_name = buf;
	pw->pw_passwd = pw_x;
	pw->pw_uid = 1000;
	pw->pw_gid = 1000;
	pw->pw_gecos = pw_empty;
	pw->pw_dir = pw_home;
	pw->pw_shell = pw_sh;
	*result = pw;
	return 0;
}

/* 100 distinct users, then the same 100 again (well within the one
 * second an answer is kept): one name-service walk each, not two. */
static void
test_many_names(void **state)
{
	char *err = NULL;
	struct map *map = map_open("unix:passwd.byname", O_RDONLY,
	    MAP_FLAGS_DEFAULT, &err);
	const char *value;
	char key[32];

	(void)state;
	if (map == NULL)
		UNIT_FAILF("open: %s", err);
	pw_calls = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof(key), "u%03d", i);
			assert_int_equal(map_lookup(map, key, &value), MAP_FOUND);
			assert_int_equal(strncmp(value, key, 4), 0);
			assert_non_null(strstr(value, ":1000:1000::/home/bench:"));
		}
		/* Not-found answers are remembered too. */
		for (int i = 0; i < 50; i++) {
			snprintf(key, sizeof(key), "nobody%02d", i);
			assert_int_equal(map_lookup(map, key, &value),
			    MAP_NOTFOUND);
		}
	}
	assert_int_equal(pw_calls, 150);
	map_close(&map);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

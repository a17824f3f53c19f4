/* SPDX-License-Identifier: MIT */
/* map_unix - the unix: table type: the system's user and group database.
 *
 *	unix:passwd.byname	key = user name, value = the passwd entry in
 *				/etc/passwd form, "name:passwd:uid:gid:gecos:dir:shell"
 *				(the password field as getpwnam returns it)
 *	unix:group.byname	key = group name, value = the group entry in
 *				/etc/group form, "name:passwd:gid:member,member"
 *
 * Any other name fails to open ("unknown table: unix:NAME").  A name that
 * does not exist is MAP_NOTFOUND; an error from the name service (NSS
 * backend down, I/O error) is MAP_TEMPFAIL with the reason.  Lookups can
 * block as long as the NSS backend does.  Logs nothing itself. */
#include "postino_config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "map_driver.h"
#include "mymalloc.h"

/* The getpw/getgr scratch buffer starts here and doubles on ERANGE, up
 * to the maximum (huge groups have long member lists). */
#define UNIX_SCRATCH_INITIAL	1024
#define UNIX_SCRATCH_MAX	(4 * 1024 * 1024)

/* A passwd answer is remembered for UNIX_CACHE_MS: smtpd asks for the
 * same local user on every RCPT (local_recipient_maps), and each
 * getpwnam_r() walks the name service (open/read/close of /etc/passwd,
 * userdb probes: about 60 system calls).  One second is short enough
 * that an account change is seen at once for practical purposes.  A
 * name has UNIX_CACHE_WAYS places, found by its hash, so that mail to
 * many distinct users (a fan-out to 100 local recipients: 16 slots in a
 * ring missed on nearly every RCPT) still finds its answers in O(1). */
#define UNIX_CACHE_SLOTS	1024
#define UNIX_CACHE_WAYS		4
#define UNIX_CACHE_MS		1000

struct unix_cache_slot {
	char *key;
	char *value;		/* NULL: not found */
	long long at_ms;
};

struct map_unix {
	struct map map;
	struct buf *value;	/* the last result */
	char *scratch;		/* getpwnam_r/getgrnam_r buffer */
	size_t scratch_len;
	struct unix_cache_slot cache[UNIX_CACHE_SLOTS];
};

static long long
unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* unix_cache_set - the first of the UNIX_CACHE_WAYS slots that may hold
 * key. */
static unsigned
unix_cache_set(const char *key)
{
	uint64_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = h * 33 + *p;
	/* Fibonacci hashing: names that differ in their last character
	 * must not land next to each other. */
	return (unsigned)((h * UINT64_C(0x9E3779B97F4A7C15)) >> 54)
	    % UNIX_CACHE_SLOTS;
}

/* unix_cache_find - a fresh answer for key, or NULL. */
static struct unix_cache_slot *
unix_cache_find(struct map_unix *mu, const char *key)
{
	long long now = unix_now_ms();
	unsigned first = unix_cache_set(key);

	for (unsigned i = 0; i < UNIX_CACHE_WAYS; i++) {
		struct unix_cache_slot *c =
		    &mu->cache[(first + i) % UNIX_CACHE_SLOTS];

		if (c->key && now - c->at_ms < UNIX_CACHE_MS && now >= c->at_ms
		    && strcmp(c->key, key) == 0)
			return c;
	}
	return NULL;
}

/* unix_cache_put - remember key's answer in a free place of key's, or
 * in its oldest. */
static void
unix_cache_put(struct map_unix *mu, const char *key, const char *value)
{
	unsigned first = unix_cache_set(key);
	struct unix_cache_slot *c = NULL;

	for (unsigned i = 0; i < UNIX_CACHE_WAYS; i++) {
		struct unix_cache_slot *o =
		    &mu->cache[(first + i) % UNIX_CACHE_SLOTS];

		if (o->key == NULL || strcmp(o->key, key) == 0) {
			c = o;
			break;
		}
		if (c == NULL || o->at_ms < c->at_ms)
			c = o;
	}
	free(c->key);
	free(c->value);
	c->key = xstrdup(key);
	c->value = value ? xstrdup(value) : NULL;
	c->at_ms = unix_now_ms();
}

/* unix_not_found - "no such entry" (glibc returns 0 with a NULL result;
 * some systems use ENOENT or ESRCH).  Anything else is an error: better
 * defer than reject a local user because the name service is down. */
static int
unix_not_found(int err)
{
	return err == 0 || err == ENOENT || err == ESRCH;
}

/* unix_grow - double the scratch buffer; -1 when at the maximum. */
static int
unix_grow(struct map_unix *mu)
{
	if (mu->scratch_len >= UNIX_SCRATCH_MAX)
		return -1;
	mu->scratch_len *= 2;
	mu->scratch = xrealloc(mu->scratch, mu->scratch_len);
	return 0;
}

static enum map_status
unix_passwd_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_unix *mu = (struct map_unix *)map;
	struct passwd pw, *pwp;
	struct unix_cache_slot *c;
	int err;

	if ((c = unix_cache_find(mu, key)) != NULL) {
		if (c->value == NULL)
			return MAP_NOTFOUND;
		buf_set(mu->value, c->value);
		*value_r = buf_str(mu->value);
		return MAP_FOUND;
	}
	for (;;) {
		pwp = NULL;
		err = getpwnam_r(key, &pw, mu->scratch, mu->scratch_len, &pwp);
		if (err != ERANGE)
			break;
		if (unix_grow(mu) < 0)
			break;
	}
	if (pwp == NULL) {
		if (unix_not_found(err)) {
			unix_cache_put(mu, key, NULL);
			return MAP_NOTFOUND;
		}
		map_set_reason(map, "%s: getpwnam_r(\"%s\"): %s", map->title, key,
		    strerror(err));
		return MAP_TEMPFAIL;
	}
	buf_reset(mu->value);
	buf_printf(mu->value, "%s:%s:%ld:%ld:%s:%s:%s", pw.pw_name,
	    pw.pw_passwd ? pw.pw_passwd : "", (long)pw.pw_uid, (long)pw.pw_gid,
	    pw.pw_gecos ? pw.pw_gecos : "", pw.pw_dir ? pw.pw_dir : "",
	    pw.pw_shell ? pw.pw_shell : "");
	unix_cache_put(mu, key, buf_str(mu->value));
	*value_r = buf_str(mu->value);
	return MAP_FOUND;
}

static enum map_status
unix_group_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_unix *mu = (struct map_unix *)map;
	struct group gr, *grp;
	int err;

	for (;;) {
		grp = NULL;
		err = getgrnam_r(key, &gr, mu->scratch, mu->scratch_len, &grp);
		if (err != ERANGE)
			break;
		if (unix_grow(mu) < 0)
			break;
	}
	if (grp == NULL) {
		if (unix_not_found(err))
			return MAP_NOTFOUND;
		map_set_reason(map, "%s: getgrnam_r(\"%s\"): %s", map->title, key,
		    strerror(err));
		return MAP_TEMPFAIL;
	}
	buf_reset(mu->value);
	buf_printf(mu->value, "%s:%s:%ld:", gr.gr_name,
	    gr.gr_passwd ? gr.gr_passwd : "", (long)gr.gr_gid);
	for (char **mem = gr.gr_mem; mem && *mem; mem++) {
		if (mem != gr.gr_mem)
			buf_putc(mu->value, ',');
		buf_puts(mu->value, *mem);
	}
	*value_r = buf_str(mu->value);
	return MAP_FOUND;
}

static void
unix_close(struct map *map)
{
	struct map_unix *mu = (struct map_unix *)map;

	buf_free(&mu->value);
	free(mu->scratch);
	for (int i = 0; i < UNIX_CACHE_SLOTS; i++) {
		free(mu->cache[i].key);
		free(mu->cache[i].value);
	}
	map_free_base(map);
}

static struct map *unix_open(const char *, int, int, char **);

const struct map_driver map_unix_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "unix",
	.caps = MAP_CAP_FIXED, .open = unix_open,
};

static struct map *
unix_open(const char *name, int open_flags, int flags, char **err_r)
{
	static const struct {
		const char *name;
		enum map_status (*lookup)(struct map *, const char *,
		    const char **);
	} tables[] = {
		{"passwd.byname", unix_passwd_lookup},
		{"group.byname", unix_group_lookup},
	};
	struct map_unix *mu;
	long hint;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (strcmp(name, tables[i].name) != 0)
			continue;
		mu = (struct map_unix *)map_alloc(sizeof(*mu), &map_unix_driver,
		    name, open_flags, flags);
		mu->map.lookup = tables[i].lookup;
		mu->map.close = unix_close;
		mu->value = buf_new(128, BUF_NOLIMIT);
		hint = sysconf(_SC_GETPW_R_SIZE_MAX);
		mu->scratch_len = hint > UNIX_SCRATCH_INITIAL && hint < UNIX_SCRATCH_MAX
		    ? (size_t)hint : UNIX_SCRATCH_INITIAL;
		mu->scratch = xmalloc(mu->scratch_len);
		return &mu->map;
	}
	*err_r = map_errorf("unknown table: unix:%s", name);
	return NULL;
}

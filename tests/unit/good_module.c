/* SPDX-License-Identifier: MIT */
/* good_module - a minimal well-formed map module for test_map_loader.
 * It provides the types "good" and "dropin": every lookup answers
 * "TYPE:NAME:KEY", so a test can see which driver answered. */
#include "postino_config.h"

#include <stdlib.h>

#include "buf.h"
#include "map_driver.h"

struct map_good {
	struct map map;
	struct buf *value;
};

static int good_init_calls;

static enum map_status
good_lookup(struct map *map, const char *key, const char **value_r)
{
	struct map_good *mg = (struct map_good *)map;

	buf_reset(mg->value);
	buf_printf(mg->value, "%s:%s:%s", map->type, map->name, key);
	*value_r = buf_str(mg->value);
	return MAP_FOUND;
}

static void
good_close(struct map *map)
{
	buf_free(&((struct map_good *)map)->value);
	map_free_base(map);
}

static struct map *good_open(const char *, int, int, char **);
static struct map *dropin_open(const char *, int, int, char **);

static const struct map_driver good_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "good",
	.caps = MAP_CAP_FIXED, .open = good_open,
};

static const struct map_driver dropin_driver = {
	.magic = MAP_DRIVER_MAGIC, .abi = MAP_ABI_VERSION, .type = "dropin",
	.caps = MAP_CAP_PATTERN, .open = dropin_open,
};

static struct map *
open_common(const struct map_driver *drv, const char *name, int open_flags,
    int flags)
{
	struct map_good *mg = (struct map_good *)map_alloc(sizeof(*mg), drv,
	    name, open_flags, flags);

	mg->value = buf_new(64, BUF_NOLIMIT);
	mg->map.lookup = good_lookup;
	mg->map.close = good_close;
	return &mg->map;
}

static struct map *
good_open(const char *name, int open_flags, int flags, char **err_r)
{
	return open_common(&good_driver, name, open_flags, flags);
}

static struct map *
dropin_open(const char *name, int open_flags, int flags, char **err_r)
{
	return open_common(&dropin_driver, name, open_flags, flags);
}

static int
good_init(void)
{
	/* The loader must call this once per module load, before any open. */
	good_init_calls++;
	return good_init_calls == 1 ? 0 : -1;
}

static const struct map_driver *const good_drivers[] = {
	&good_driver,
	&dropin_driver,
	NULL,
};

const struct map_module postino_good = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module),
	.name = "good",
	.init = good_init,
	.drivers = good_drivers,
};

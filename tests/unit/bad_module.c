/* SPDX-License-Identifier: MIT */
/* bad_module - a module whose entry objects must be refused by the map
 * loader (test_map_loader): postino_bad has a wrong magic number,
 * postino_bad_abi a future ABI version, postino_bad_size the wrong
 * struct size.  None of their pointers may ever be followed, so they
 * point at nothing. */
#include "postino_config.h"

#include "map_driver.h"

const struct map_module postino_bad = {
	.magic = 0x12345678u,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module),
	.name = "bad",
};

const struct map_module postino_bad_abi = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION + 1000,
	.size = sizeof(struct map_module),
	.name = "bad_abi",
};

const struct map_module postino_bad_size = {
	.magic = MAP_MODULE_MAGIC,
	.abi = MAP_ABI_VERSION,
	.size = sizeof(struct map_module) + 8,
	.name = "bad_size",
};

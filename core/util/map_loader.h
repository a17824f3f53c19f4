/* SPDX-License-Identifier: MIT */
/* map_loader - find the driver for a table type: built in, or loaded
 * from a module named in dynamicmaps.cf with libltdl.
 *
 * dynamicmaps.cf lines are "type  module-file  entry-symbol"; a relative
 * module file is looked up in the module directory (shlib_directory).
 * Files read, in order: $meta_directory/dynamicmaps.cf (if present, else
 * the one in the module directory), then every file in
 * $meta_directory/dynamicmaps.cf.d/.  The first line for a type wins. */
#ifndef POSTINO_UTIL_MAP_LOADER_H
#define POSTINO_UTIL_MAP_LOADER_H

#include "map_driver.h"

/* map_loader_config - set the directories (copied).  Either may be NULL
 * for the default: the module directory of the running program
 * (PREFIX/lib/postino, see paths.h), and meta = module directory. */
void map_loader_config(const char *meta_directory, const char *shlib_directory);
/* map_loader_shlib_directory - the module directory in effect. */
const char *map_loader_shlib_directory(void);

/* map_loader_find - the driver for type, loading its module on first use.
 * NULL with a malloc'd one-line *err_r when the type is unknown or its
 * module is missing or not a postino module. */
const struct map_driver *map_loader_find(const char *type, char **err_r);

/* map_loader_types - known types (built-in + dynamicmaps.cf), sorted,
 * NULL-terminated; free the array only. */
const char **map_loader_types(void);

/* map_builtin_drivers - the built-in drivers (map_builtin.c). */
extern const struct map_driver *const map_builtin_drivers[];

#endif

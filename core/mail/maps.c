/* SPDX-License-Identifier: MIT */
/* maps - the tables of one main.cf parameter, looked up in order
 * (maps.h). */
#include "postino_config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "maps.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

void
maps_open(struct maps *maps, const char *param,
    const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *spec;

	maps->param = xstrdup(param);
	while ((spec = mystrtok_table(&cp)) != NULL) {
		char *err = NULL;
		struct map *map = map_open(spec, O_RDONLY,
		    MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE, &err);

		if (map == NULL) {
			/* Surrogates should make this impossible; defer anyway. */
			msg_warn("%s: %s: %s", param, spec, err ? err : "open error");
			free(err);
		}
		maps->map = xreallocarray(maps->map, (size_t)maps->count + 1,
		    sizeof(*maps->map));
		maps->map[maps->count++] = map;
	}
	free(copy);
}

void
maps_close(struct maps *maps)
{
	for (int i = 0; i < maps->count; i++)
		if (maps->map[i])
			map_close(&maps->map[i]);
	free(maps->map);
	free(maps->param);
	maps->map = NULL;
	maps->param = NULL;
	maps->count = 0;
}

enum map_status
maps_find(const struct maps *maps, const char *key, int partial,
    const char **value_r, struct map **bad_r)
{
	size_t klen = strlen(key);

	*bad_r = NULL;
	for (int i = 0; i < maps->count; i++) {
		struct map *map = maps->map[i];

		if (map == NULL)
			return MAP_TEMPFAIL;
		if ((map->caps & MAP_CAP_FIXED) == 0 && partial)
			continue;
		/* Over-long keys can't be in a fixed table; don't warn per header. */
		if ((map->caps & MAP_CAP_FIXED) && klen > MAP_FIXED_KEY_MAX)
			continue;
		switch (map_lookup(map, key, value_r)) {
		case MAP_FOUND:
			return MAP_FOUND;
		case MAP_NOTFOUND:
			break;
		case MAP_TEMPFAIL:
			*bad_r = map;
			return MAP_TEMPFAIL;
		}
	}
	return MAP_NOTFOUND;
}

/* SPDX-License-Identifier: MIT */
/* map_src - postmap source-line parser (see map_src.h). */
#include "postino_config.h"

#include <string.h>

#include "map_src.h"
#include "stringops.h"

int
map_src_split(char *line, char **key_r, char **value_r, const char **err_r,
    const char **note_r)
{
	char *cp = skipblanks(line);
	char *key = cp;
	int quoted = 0;

	*note_r = NULL;
	for (; *cp; cp++) {
		if (quoted && *cp == '\\' && cp[1]) {
			cp++;
			continue;
		}
		if (*cp == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && ISSPACE((unsigned char)*cp))
			break;
	}
	if (quoted) {
		*err_r = "unbalanced '\"' in key";
		return -1;
	}
	if (*cp == 0 || cp == key) {
		*err_r = "expected format: key whitespace value";
		return -1;
	}
	*cp++ = 0;
	cp = skipblanks(cp);
	trimblanks(cp);
	if (*cp == 0) {
		*err_r = "expected format: key whitespace value";
		return -1;
	}
	if (key[strlen(key) - 1] == ':')
		*note_r = "record is in \"key: value\" format; is this an alias file?";
	*key_r = key;
	*value_r = cp;
	return 0;
}

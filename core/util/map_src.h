/* SPDX-License-Identifier: MIT */
/* map_src - parse one logical line of a postmap(1)-style source file
 * ("key whitespace value"), as postmap and texthash: read it.
 *
 * The key ends at the first whitespace outside double quotes; quotes stay
 * part of the key (external form), \" and \\ are escapes inside them.
 * The value is trimmed.  Returns 0 and sets key/value (pointers into the
 * modified line), or -1 with *err_r set to the text to warn with
 * ("expected format: key whitespace value").  *note_r, when non-NULL
 * after success, is a warning to print while still storing the entry. */
#ifndef POSTINO_UTIL_MAP_SRC_H
#define POSTINO_UTIL_MAP_SRC_H

int map_src_split(char *line, char **key_r, char **value_r,
    const char **err_r, const char **note_r);

#endif

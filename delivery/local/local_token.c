/* SPDX-License-Identifier: MIT */
/* local_token - split the right-hand side of an alias, a line of an
 * :include: file or of a .forward file into destinations.
 *
 * Destinations are separated by commas outside double quotes, angle
 * brackets and parentheses.  Each is trimmed; (comments) are dropped; a
 * destination that is entirely "quoted" is unquoted (backslash escapes
 * honoured), so "|cmd arg" and "/file name" keep their blanks; from
 * "Name <addr>" the address is kept.  Empty destinations are skipped.
 * Nothing here interprets the text further (local_resolve_dest does). */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>

#include "local.h"
#include "mymalloc.h"
#include "stringops.h"

/* clean_one - one raw element to its destination text (malloc'd), or
 * NULL when empty. */
static char *
clean_one(const char *start, size_t len)
{
	char *out = xmalloc(len + 1);
	char *o = out, *lt, *gt, *res;
	size_t i = 0;
	int quoted_all;

	/* Trim. */
	while (len > 0 && ISSPACE(start[len - 1]))
		len--;
	while (i < len && ISSPACE(start[i]))
		i++;
	quoted_all = (len - i >= 2 && start[i] == '"' && start[len - 1] == '"');
	if (quoted_all) {
		for (i++; i < len - 1; i++) {
			if (start[i] == '\\' && i + 1 < len - 1)
				i++;
			*o++ = start[i];
		}
		*o = 0;
		return out;
	}
	/* Copy, dropping (comments) outside quotes. */
	{
		int inq = 0, depth = 0;

		for (; i < len; i++) {
			char c = start[i];

			if (inq) {
				if (c == '\\' && i + 1 < len) {
					*o++ = c;
					*o++ = start[++i];
					continue;
				}
				if (c == '"')
					inq = 0;
				*o++ = c;
			} else if (depth > 0) {
				if (c == '(')
					depth++;
				else if (c == ')')
					depth--;
			} else if (c == '(') {
				depth = 1;
			} else {
				if (c == '"')
					inq = 1;
				*o++ = c;
			}
		}
		*o = 0;
	}
	/* Name <addr> -> addr (not for commands and files). */
	if (out[0] != '|' && out[0] != '/' && (lt = strchr(out, '<')) != NULL
	    && (gt = strchr(lt, '>')) != NULL) {
		res = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		free(out);
		out = res;
	}
	trimblanks(out);
	res = skipblanks(out);
	if (*res == 0) {
		free(out);
		return NULL;
	}
	if (res != out) {
		res = xstrdup(res);
		free(out);
		out = res;
	}
	return out;
}

char **
local_token_split(const char *value)
{
	char **list = xcalloc(1, sizeof(*list));
	size_t count = 0;
	const char *cp = value, *start = value;
	int inq = 0, angle = 0, paren = 0;

	for (;; cp++) {
		char c = *cp;

		if (c == 0 || (c == ',' && !inq && !angle && !paren)) {
			char *one = clean_one(start, (size_t)(cp - start));

			if (one) {
				list = xreallocarray(list, count + 2, sizeof(*list));
				list[count++] = one;
				list[count] = NULL;
			}
			if (c == 0)
				break;
			start = cp + 1;
			continue;
		}
		if (inq) {
			if (c == '\\' && cp[1])
				cp++;
			else if (c == '"')
				inq = 0;
		} else if (c == '"') {
			inq = 1;
		} else if (c == '<') {
			angle = 1;
		} else if (c == '>') {
			angle = 0;
		} else if (c == '(') {
			paren++;
		} else if (c == ')' && paren > 0) {
			paren--;
		}
	}
	return list;
}

void
local_token_free(char ***listp)
{
	char **list = *listp;

	if (list == NULL)
		return;
	for (size_t i = 0; list[i]; i++)
		free(list[i]);
	free(list);
	*listp = NULL;
}

/* SPDX-License-Identifier: MIT */
/* alias_parse - aliases(5) line parser (see alias_parse.h for the rules
 * and the examples verified against Postfix 3.7).  Logs nothing: the
 * caller warns with file and line. */
#include "postino_config.h"

#include "alias_parse.h"
#include "tok822.h"

#define ALIAS_PARSE_ERR_PAIR	"need name:value pair"
#define ALIAS_PARSE_ERR_LOCAL	"name must be local"
#define ALIAS_PARSE_ERR_LONG	"name or value too long"

/* alias_parse_line - split and normalise one aliases(5) entry. */
int
alias_parse_line(char *line, struct buf *key, struct buf *value,
    const char **err_r)
{
	struct tok822_list *list = tok822_list_new();
	size_t count = tok822_scan(list, line);
	long colon = tok822_find(list, 0, count, ':');
	int ret = -1;

	buf_reset(key);
	buf_reset(value);
	if (colon <= 0 || (size_t)colon + 1 >= count
	    || tok822_find(list, 0, (size_t)colon, ',') >= 0) {
		*err_r = ALIAS_PARSE_ERR_PAIR;
	} else if (tok822_find(list, 0, (size_t)colon, '@') >= 0
	    || tok822_find(list, 0, (size_t)colon, '%') >= 0) {
		*err_r = ALIAS_PARSE_ERR_LOCAL;
	} else if (tok822_internalize(key, list, 0, (size_t)colon) < 0
	    || tok822_externalize(value, list, (size_t)colon + 1, count) < 0) {
		*err_r = ALIAS_PARSE_ERR_LONG;
		buf_reset(key);
		buf_reset(value);
	} else {
		ret = 0;
	}
	tok822_list_free(&list);
	return ret;
}

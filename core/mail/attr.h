/* SPDX-License-Identifier: MIT */
/* attr - attribute lists: the IPC format between postino processes.
 *
 * A list is lines "name=value\n" ended by an empty line.  Names are
 * [a-z0-9_]+.  Values are escaped: '%', bytes < 0x20 and 0x7f become %XX
 * (upper-case hex).  A list holds at most ATTR_MAX_COUNT attributes and
 * ATTR_MAX_BYTES bytes; anything else is a protocol error, never trusted. */
#ifndef POSTINO_MAIL_ATTR_H
#define POSTINO_MAIL_ATTR_H

#include <stddef.h>

#include "buf.h"

#define ATTR_MAX_COUNT	10000
#define ATTR_MAX_BYTES	(4 * 1024 * 1024)

struct attr_list {
	int count;
	char **names;
	char **values;		/* unescaped */
};

struct attr_list *attr_list_new(void);
void attr_list_free(struct attr_list **alp);
void attr_list_reset(struct attr_list *al);
/* attr_add - append (copies name and value). */
void attr_add(struct attr_list *al, const char *name, const char *value);
void attr_addf(struct attr_list *al, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* attr_get - first value of name, or NULL. */
const char *attr_get(const struct attr_list *al, const char *name);
/* attr_get_long - value as a number; def when absent or malformed. */
long attr_get_long(const struct attr_list *al, const char *name, long def);

/* attr_format - append the wire form of al (with the final empty line). */
void attr_format(const struct attr_list *al, struct buf *out);

/* attr_parse - parse one complete list from data[0..len); returns the
 * number of bytes consumed, 0 if the list is not complete yet, -1 on a
 * protocol error (*err_r says why).  al is reset first. */
long attr_parse(const char *data, size_t len, struct attr_list *al,
    const char **err_r);

/* attr_write - blocking write of al to fd; 0 or -1 (errno). */
int attr_write(int fd, const struct attr_list *al);
/* attr_read - blocking read of one list from fd using inbuf for data that
 * arrives early (keep it per connection); 1 list, 0 EOF, -1 error
 * (*err_r).  timeout_ms < 0 waits forever. */
int attr_read(int fd, struct buf *inbuf, struct attr_list *al,
    int timeout_ms, const char **err_r);

#endif

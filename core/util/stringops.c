/* SPDX-License-Identifier: MIT */
/* stringops - small string helpers. */
#include "postino_config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mymalloc.h"
#include "stringops.h"

char *
lowercase(char *str)
{
	for (char *cp = str; *cp; cp++)
		if (ISASCII_UPPER(*cp))
			*cp += 'a' - 'A';
	return str;
}

int
has_upper(const char *str)
{
	for (; *str; str++)
		if (ISASCII_UPPER(*str))
			return 1;
	return 0;
}

char *
trimblanks(char *str)
{
	size_t n = strlen(str);

	while (n > 0 && ISSPACE((unsigned char)str[n - 1]))
		n--;
	str[n] = 0;
	return str;
}

char *
skipblanks(const char *str)
{
	size_t n = 0;

	while (str[n] && ISSPACE((unsigned char)str[n]))
		n++;
	/* Like strchr(), hand back a pointer the caller may write through. */
	return (char *)(uintptr_t)(str + n);
}

char *
mystrtok(char **bufp, const char *sep)
{
	char *start = *bufp + strspn(*bufp, sep);
	char *end;

	if (*start == 0) {
		*bufp = start;
		return NULL;
	}
	end = start + strcspn(start, sep);
	if (*end)
		*end++ = 0;
	*bufp = end;
	return start;
}

char *
mystrtok_grouped(char **bufp, const char *sep, const char **err_r)
{
	char *start = *bufp + strspn(*bufp, sep);
	char *end;

	*err_r = NULL;
	if (*start == 0) {
		*bufp = start;
		return NULL;
	}
	if (*start == '{') {
		int level = 0;

		for (end = start; *end; end++) {
			if (*end == '{')
				level++;
			else if (*end == '}' && --level == 0)
				break;
		}
		if (*end != '}') {
			*err_r = "missing '}'";
			*bufp = start + strlen(start);
			return NULL;
		}
		*end++ = 0;
		*bufp = end;
		start = skipblanks(start + 1);
		return trimblanks(start);
	}
	end = start + strcspn(start, sep);
	if (*end)
		*end++ = 0;
	*bufp = end;
	return start;
}

size_t
postino_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}

size_t
postino_strlcat(char *dst, const char *src, size_t size)
{
	size_t dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + postino_strlcpy(dst + dlen, src, size - dlen);
}

int
alldig(const char *str)
{
	if (*str == 0)
		return 0;
	for (; *str; str++)
		if (*str < '0' || *str > '9')
			return 0;
	return 1;
}

int
str_to_long(const char *str, long *val_r)
{
	char *end;
	long val;

	if (*str == 0 || ISSPACE((unsigned char)*str))
		return -1;
	errno = 0;
	val = strtol(str, &end, 10);
	if (errno || *end)
		return -1;
	*val_r = val;
	return 0;
}

char *
concatenate(const char *first, ...)
{
	va_list ap;
	size_t len = 0;
	const char *arg;
	char *res, *cp;

	va_start(ap, first);
	for (arg = first; arg; arg = va_arg(ap, const char *))
		len += strlen(arg);
	va_end(ap);
	res = cp = xmalloc(len + 1);
	va_start(ap, first);
	for (arg = first; arg; arg = va_arg(ap, const char *)) {
		size_t n = strlen(arg);

		memcpy(cp, arg, n);
		cp += n;
	}
	va_end(ap);
	*cp = 0;
	return res;
}

const char *
split_nameval(char *line, char **name_r, char **value_r)
{
	char *np, *ep, *cp;

	np = skipblanks(line);
	if (*np == '=')
		return "missing attribute name";
	for (ep = np; *ep && !ISSPACE((unsigned char)*ep) && *ep != '='; ep++)
		;
	cp = skipblanks(ep);
	if (*cp != '=')
		return "missing '=' after attribute name";
	*ep = 0;
	cp = skipblanks(cp + 1);
	*name_r = np;
	*value_r = trimblanks(cp);
	return NULL;
}

char *
mystrtok_table(char **bufp)
{
	char *start = *bufp + strspn(*bufp, ", \t\r\n");
	char *cp = start;
	int level = 0;

	if (*start == 0) {
		*bufp = start;
		return NULL;
	}
	for (; *cp; cp++) {
		if (*cp == '{')
			level++;
		else if (*cp == '}' && level > 0)
			level--;
		else if (level == 0 && strchr(", \t\r\n", *cp))
			break;
	}
	if (*cp)
		*cp++ = 0;
	*bufp = cp;
	return start;
}

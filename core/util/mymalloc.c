/* SPDX-License-Identifier: MIT */
/* mymalloc - allocation that never returns NULL. */
#include "postino_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "mymalloc.h"

void *
xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory allocating %zu bytes", len);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		msg_panic("xcalloc: %zu * %zu overflows", nmemb, size);
	p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		msg_fatal("out of memory allocating %zu*%zu bytes", nmemb, size);
	return p;
}

void *
xrealloc(void *ptr, size_t len)
{
	void *p = realloc(ptr, len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory reallocating %zu bytes", len);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		msg_panic("xreallocarray: %zu * %zu overflows", nmemb, size);
	return xrealloc(ptr, nmemb * size);
}

char *
xstrdup(const char *str)
{
	return xmemdup(str, strlen(str) + 1);
}

char *
xstrndup(const char *str, size_t len)
{
	size_t n = strnlen(str, len);
	char *p = xmalloc(n + 1);

	memcpy(p, str, n);
	p[n] = 0;
	return p;
}

void *
xmemdup(const void *ptr, size_t len)
{
	void *p = xmalloc(len);

	memcpy(p, ptr, len);
	return p;
}

/* SPDX-License-Identifier: MIT */
/* mymalloc - allocation that never returns NULL (out of memory is fatal). */
#ifndef POSTINO_UTIL_MYMALLOC_H
#define POSTINO_UTIL_MYMALLOC_H

#include <stddef.h>

void *xmalloc(size_t len);
void *xcalloc(size_t nmemb, size_t size);	/* overflow-checked */
void *xrealloc(void *ptr, size_t len);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *str);
char *xstrndup(const char *str, size_t len);
void *xmemdup(const void *ptr, size_t len);
/* xfree - free(*ptr) and set *ptr = NULL. */
#define xfree(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

#endif

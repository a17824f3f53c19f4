/* SPDX-License-Identifier: MIT */
/* stringops - small string helpers used everywhere. */
#ifndef POSTINO_UTIL_STRINGOPS_H
#define POSTINO_UTIL_STRINGOPS_H

#include <stddef.h>
#include <stdint.h>

#define ISSPACE(c)	((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\f' || (c) == '\v')
#define ISASCII_UPPER(c) ((c) >= 'A' && (c) <= 'Z')

/* UNCONST - drop const where an API struct is shared by readers that
 * never write (deliver_request filled from a queue file). */
#define UNCONST(p)	((char *)(uintptr_t)(p))

/* lowercase - fold ASCII letters in place; returns str. */
char *lowercase(char *str);
/* has_upper - does str contain an ASCII upper-case letter? */
int has_upper(const char *str);
/* trimblanks - remove trailing whitespace in place; returns str. */
char *trimblanks(char *str);
/* skipblanks - pointer to the first non-whitespace character. */
char *skipblanks(const char *str);

/* mystrtok - next token of *bufp separated by any of sep; NULL at end.
 * Modifies the buffer; *bufp advances past the token. */
char *mystrtok(char **bufp, const char *sep);
/* mystrtok_grouped - as mystrtok, but "{ a b }" is one token (braces and
 * surrounding blanks removed); an unbalanced "{" sets *err_r. */
char *mystrtok_grouped(char **bufp, const char *sep, const char **err_r);

/* mystrtok_table - next table of a main.cf list of "type:name" tables:
 * separated by commas and blanks, "type:{ ... }" kept whole (braces
 * included); NULL at end. */
char *mystrtok_table(char **bufp);

/* strlcpy/strlcat - bounded copies (glibc 2.36 lacks them). */
size_t postino_strlcpy(char *dst, const char *src, size_t size);
size_t postino_strlcat(char *dst, const char *src, size_t size);
#define strlcpy postino_strlcpy
#define strlcat postino_strlcat

/* alldig - non-empty and all decimal digits. */
int alldig(const char *str);
/* str_to_long - strict decimal conversion; 0 ok, -1 syntax/range error. */
int str_to_long(const char *str, long *val_r);

/* concatenate - xmalloc'd concatenation of the NULL-terminated args. */
char *concatenate(const char *first, ...) __attribute__((sentinel));

/* split_nameval - split "name = value" in place; NULL or an error text. */
const char *split_nameval(char *line, char **name_r, char **value_r);

#endif

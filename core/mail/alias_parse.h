/* SPDX-License-Identifier: MIT */
/* alias_parse - parse one logical line of an aliases(5) source file, the
 * way postalias(1) and newaliases(1) read it.
 *
 * Behaviour followed: Postfix 3.7 (Debian 12's package), verified byte for
 * byte against its postalias + db5.3_dump.  Postfix 3.12 differs in one
 * respect: it stores the name in external (quoted) form; 3.7 stores it in
 * internal (unquoted) form, and so do we.
 *
 * The line is tokenised as RFC 822 (tok822.h).  The first ":" operator
 * token (not one inside quotes, a comment or a domain literal) separates
 * the name from the value.  Then:
 *   - no ":", nothing before it, nothing after it, or a "," operator
 *     before it: "need name:value pair";
 *   - an "@" or "%" operator before it: "name must be local" (a quoted or
 *     backslash-escaped @ is allowed).  That is Postfix 3.7's exact text;
 *     its aliases(5) page words the rule "local and have no domain";
 *   - otherwise the name is written in internal form and the value in
 *     external form (tok822_internalize / tok822_externalize).
 * Examples (line -> name | value), all as Postfix 3.7 stores them:
 *   root:  a,b ,  c                 -> root | a, b, c
 *   "a b": c                        -> a b | c
 *   "a\"b": c                       -> a"b | c
 *   "a"b: c                         -> a b | c
 *   (x) a: b                        -> (x) a | b
 *   a: "|cmd args"                  -> a | "|cmd args"
 *   a: |cmd args                    -> a | |cmd args
 *   a: :include:/path/x             -> a | :include:/path/x
 *   a: "Joe Q" <a@b>                -> a | "Joe Q" <a@b>
 *   a: x<y                          -> a | x <y
 *   a: b @ c . d                    -> a | b@c.d
 *   a: a@b (comment)                -> a | a@b (comment)
 *   a: x\,y                         -> a | "x,y"
 *   a: "x\y"                        -> a | "xy"
 *   a: "x<TAB>y"                    -> a | "x y"
 *   a: [a\]b]                       -> a | [a]b]
 *   a: b,                           -> a | "b, " (trailing space kept)
 *   a: ""                           -> a | ""
 *   a: group: x, y;                 -> a | group:x, y;
 *   "": c                           -> (empty name) | c
 * The name is not case-folded here: the map layer does that (unless -f).
 * A line without any token (only white space; readlline never returns
 * one) is reported as "need name:value pair", where Postfix skips it
 * silently.
 *
 * alias_parse_line - parse one logical line of an aliases file.
 * line: the logical line (not modified; a C string, so text after a NUL
 * byte is not seen).  On success returns 0 and sets key (the alias name,
 * internal form, NOT case-folded) and value (the right-hand side
 * re-serialised as above), both replacing the content of the caller's
 * bufs.  On a bad line returns -1 with *err_r set to the static warning
 * text Postfix 3.7 uses ("need name:value pair", "name must be local"), or
 * "name or value too long" when a buf's maximum would be exceeded.  Never logs, never blocks. */
#ifndef POSTINO_MAIL_ALIAS_PARSE_H
#define POSTINO_MAIL_ALIAS_PARSE_H

#include "buf.h"

int alias_parse_line(char *line, struct buf *key, struct buf *value,
    const char **err_r);

#endif

/* SPDX-License-Identifier: MIT */
/* addr_parse - RFC 5321 envelope paths: strip the angle brackets and any
 * source route, unquote the local part (internal form), and quote it
 * again for replies and logs (external form).
 *
 * Internal form: the address with quoting removed ("a b"@x becomes
 * a b@x); this is what tables are searched with and what resolve.h
 * works on.  External form: the local part quoted when it needs it, as
 * it is written in SMTP and in log lines.
 *
 * Limits: a path longer than ADDR_PARSE_MAX bytes, control characters
 * (bytes < 0x20 and 0x7f) anywhere, unbalanced quotes or brackets and
 * text after the closing '>' are syntax errors.  Nothing here logs. */
#ifndef POSTINO_MAIL_ADDR_PARSE_H
#define POSTINO_MAIL_ADDR_PARSE_H

#define ADDR_PARSE_MAX	1024	/* bytes, whole path including <> */

/* addr_parse_path - parse a MAIL FROM/RCPT TO path ("<@a,@b:u@d>",
 * "<u@d>", "<>", or without brackets when strict is 0).  On success
 * returns 0 and *internal_r is the malloc'd internal form ("" for the
 * null path) with any source route removed; on error returns -1 and
 * *err_r is a static one-line reason. */
int addr_parse_path(const char *path, int strict, char **internal_r,
    const char **err_r);

/* addr_parse_internalize - the internal form of an address written in
 * external form (quotes removed); malloc'd.  Never fails: malformed
 * quoting is kept as written. */
char *addr_parse_internalize(const char *external);

/* addr_parse_externalize - the external form of an internal address:
 * the local part (up to the last '@') is quoted when it contains a
 * character that is not allowed in an RFC 5321 dot-string; malloc'd. */
char *addr_parse_externalize(const char *internal);

/* addr_parse_has_route - does the internal address carry sender-
 * specified routing in its local part ('@', '%' or '!' before the last
 * '@', or a leading '@')? */
int addr_parse_has_route(const char *internal);

#endif

/* SPDX-License-Identifier: MIT */
/* unit - shared helpers for the cmocka unit tests: capture of msg_*
 * output for assertions on warnings, and scratch files in a private
 * temporary directory that is removed at the end.
 *
 * Include after the cmocka prerequisites (stdarg.h, stddef.h, setjmp.h,
 * stdint.h) and cmocka.h. */
#ifndef POSTINO_TESTS_UNIT_UNIT_H
#define POSTINO_TESTS_UNIT_UNIT_H

#include <stddef.h>

/* unit_capture_start - route msg_* output into memory (forgets what was
 * captured before); unit_capture_stop restores normal logging. */
void unit_capture_start(void);
void unit_capture_stop(void);
/* unit_captured - how many captured messages of this level (MSG_WARN...,
 * or -1 for any level) contain the text. */
int unit_captured(int level, const char *text);
/* unit_capture_count - how many messages were captured (any level). */
int unit_capture_count(void);
/* unit_capture_text - the n-th captured message, or NULL. */
const char *unit_capture_text(int n);
/* unit_capture_dump - print what was captured (for failing tests). */
void unit_capture_dump(void);

/* unit_tmpdir - a private directory, created on first use and removed
 * with its content by unit_tmpdir_cleanup (registered with atexit). */
const char *unit_tmpdir(void);
/* unit_write_file - create unit_tmpdir()/name with len bytes of data
 * (len (size_t)-1: strlen(data)); returns the malloc'd path. */
char *unit_write_file(const char *name, const char *data, size_t len);

/* unit_netns_enter - enter network and mount namespaces of this
 * process's own (mounts private, loopback up).  0; -1 (errno) when
 * unshare() is refused (not root: the caller skips). */
int unit_netns_enter(void);
/* unit_netns_dns - enter network and mount namespaces of this process's
 * own, make resolv_conf (text) its /etc/resolv.conf and start dnsmasq on
 * 127.0.0.1:53 with records (dnsmasq options, NULL-terminated), logging
 * queries.  0 when serving; -1 when it cannot be done here (not root, no
 * dnsmasq, no namespaces): the caller skips its DNS tests. */
int unit_netns_dns(const char *const *records, const char *resolv_conf);
/* unit_dns_queries - queries dnsmasq has received so far. */
int unit_dns_queries(void);
/* unit_netns_stop - stop dnsmasq, undo the resolv.conf mount. */
void unit_netns_stop(void);

/* UNIT_FAILF - fail the current test with a formatted message. */
#define UNIT_FAILF(...) do { unit_capture_dump(); fail_msg(__VA_ARGS__); } while (0)

#endif

/* SPDX-License-Identifier: MIT */
/* msg - diagnostics in Postfix's shape.
 *
 * Commands write "progname: warning: text" to stderr; daemons write
 * "postino/progname[pid]: warning: text" to syslog (mail facility) or to
 * the file named by maillog_file.  msg_fatal() exits with status 1,
 * msg_panic() aborts.  Formats are printf-checked and understand %m. */
#ifndef POSTINO_UTIL_MSG_H
#define POSTINO_UTIL_MSG_H

#include <stdarg.h>

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

extern int msg_verbose;

/* msg_init - set the program name; log_to_stderr selects the command style. */
void msg_init(const char *progname, int log_to_stderr);
/* msg_progname - the name set by msg_init (or "postino"). */
const char *msg_progname(void);
/* msg_syslog_init - also (or instead) log to syslog with this name
 * ("postino" gives "postino/progname[pid]"); facility by name ("mail"). */
void msg_syslog_init(const char *syslog_name, const char *facility);
/* msg_logfile_init - log to a file (maillog_file) instead of syslog. */
void msg_logfile_init(const char *path);
/* msg_stderr_enable - keep (1) or stop (0) writing to stderr. */
void msg_stderr_enable(int on);

/* msg_capture - route messages to a callback (tests); NULL restores. */
typedef void (*msg_capture_fn)(int level, const char *text, void *ctx);
void msg_capture(msg_capture_fn fn, void *ctx);

enum { MSG_INFO, MSG_WARN, MSG_ERROR, MSG_FATAL, MSG_PANIC };

void msg_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void msg_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void msg_error(const char *fmt, ...) PRINTFLIKE(1, 2);
void msg_fatal(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;
void msg_panic(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;
void msg_vprintf(int level, const char *fmt, va_list ap) PRINTFLIKE(2, 0);

/* msg_info_as / msg_warn_as - log as another program of the same system
 * ("postino/cleanup[pid]" from inside smtpd), so log parsers see the
 * program names they expect even where services share a process. */
void msg_info_as(const char *prog, const char *fmt, ...) PRINTFLIKE(2, 3);
void msg_warn_as(const char *prog, const char *fmt, ...) PRINTFLIKE(2, 3);
void msg_vprintf_as(int level, const char *prog, const char *fmt, va_list ap)
    PRINTFLIKE(3, 0);

/* msg_fatal_status - like msg_fatal with a chosen exit status. */
void msg_fatal_status(int status, const char *fmt, ...) PRINTFLIKE(2, 3) NORETURN;

#endif

/* SPDX-License-Identifier: MIT */
/* msg - diagnostics in Postfix's shape (see msg.h).
 *
 * %m is expanded here (before vsnprintf) so that it works with any
 * output channel and errno is sampled before anything else can change it. */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/uio.h>

#include "msg.h"

int msg_verbose;

static char msg_name[64] = "postino";
static int msg_to_stderr = 1;
static int msg_to_syslog;
static int msg_logfile_fd = -1;
static char msg_tag[128];
static char msg_sysname[64] = "postino";
static int msg_facility = LOG_MAIL;
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static msg_capture_fn msg_capture_cb;
static void *msg_capture_ctx;

static const char *const msg_level_prefix[] = {
	"", "warning: ", "error: ", "fatal: ", "panic: ",
};

void
msg_init(const char *progname, int log_to_stderr)
{
	const char *slash = strrchr(progname, '/');

	snprintf(msg_name, sizeof(msg_name), "%s", slash ? slash + 1 : progname);
	msg_to_stderr = log_to_stderr;
	if (getenv("MAIL_VERBOSE"))
		msg_verbose = 1;
}

const char *
msg_progname(void)
{
	return msg_name;
}

static int
facility_by_name(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} tab[] = {
		{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
		{"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
		{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(tab[i].name, name) == 0)
			return tab[i].code;
	return LOG_MAIL;
}

void
msg_syslog_init(const char *syslog_name, const char *facility)
{
	snprintf(msg_sysname, sizeof(msg_sysname), "%s", syslog_name);
	snprintf(msg_tag, sizeof(msg_tag), "%s/%s", syslog_name, msg_name);
	msg_facility = facility_by_name(facility);
	openlog(msg_tag, LOG_PID | LOG_NDELAY, msg_facility);
	msg_to_syslog = 1;
}

void
msg_logfile_init(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		msg_warn("open maillog_file %s: %m", path);
		return;
	}
	if (msg_logfile_fd >= 0)
		close(msg_logfile_fd);
	msg_logfile_fd = fd;
	if (msg_tag[0] == 0)
		snprintf(msg_tag, sizeof(msg_tag), "%s/%s", msg_sysname, msg_name);
	msg_to_syslog = 0;
}

void
msg_stderr_enable(int on)
{
	msg_to_stderr = on;
}

void
msg_capture(msg_capture_fn fn, void *ctx)
{
	msg_capture_cb = fn;
	msg_capture_ctx = ctx;
}

/* expand_percent_m - copy fmt, replacing %m with strerror(saved_errno). */
static void
expand_percent_m(char *out, size_t outlen, const char *fmt, int saved_errno)
{
	const char *err = strerror(saved_errno);
	size_t o = 0;

	for (const char *p = fmt; *p && o + 1 < outlen; p++) {
		if (p[0] == '%' && p[1] == '%') {
			if (o + 2 >= outlen)
				break;
			out[o++] = '%';
			out[o++] = '%';
			p++;
		} else if (p[0] == '%' && p[1] == 'm') {
			for (const char *e = err; *e && o + 2 < outlen; e++) {
				out[o++] = *e;
				if (*e == '%')
					out[o++] = '%';
			}
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

void
msg_vprintf(int level, const char *fmt, va_list ap)
{
	msg_vprintf_as(level, NULL, fmt, ap);
}

void
msg_vprintf_as(int level, const char *prog, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	char fmtbuf[2048];
	char text[4096];

	expand_percent_m(fmtbuf, sizeof(fmtbuf), fmt, saved_errno);
	vsnprintf(text, sizeof(text), fmtbuf, ap);
	/* Never let a newline from data split a log record. */
	for (char *cp = text; *cp; cp++)
		if (*cp == '\n' || *cp == '\r')
			*cp = ' ';

	if (msg_capture_cb) {
		msg_capture_cb(level, text, msg_capture_ctx);
		errno = saved_errno;
		return;
	}
	if (msg_to_stderr) {
		dprintf(STDERR_FILENO, "%s: %s%s\n", prog ? prog : msg_name,
		    msg_level_prefix[level], text);
	}
	if (msg_to_syslog) {
		static const int prio[] = {LOG_INFO, LOG_WARNING, LOG_ERR,
		    LOG_CRIT, LOG_CRIT};

		if (prog) {
			char tag[128];

			/* syslog keeps the ident pointer: switch and restore. */
			pthread_mutex_lock(&msg_lock);
			snprintf(tag, sizeof(tag), "%s/%s", msg_sysname, prog);
			openlog(tag, LOG_PID | LOG_NDELAY, msg_facility);
			syslog(prio[level], "%s%s", msg_level_prefix[level], text);
			openlog(msg_tag, LOG_PID | LOG_NDELAY, msg_facility);
			pthread_mutex_unlock(&msg_lock);
		} else {
			syslog(prio[level], "%s%s", msg_level_prefix[level], text);
		}
	}
	if (msg_logfile_fd >= 0) {
		char stamp[64];
		char host[256];
		struct tm tm;
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S", &tm);
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = 0;
		if (strchr(host, '.'))
			*strchr(host, '.') = 0;
		if (prog)
			dprintf(msg_logfile_fd, "%s %s %s/%s[%ld]: %s%s\n", stamp,
			    host, msg_sysname, prog, (long)getpid(),
			    msg_level_prefix[level], text);
		else
			dprintf(msg_logfile_fd, "%s %s %s[%ld]: %s%s\n", stamp,
			    host, msg_tag, (long)getpid(),
			    msg_level_prefix[level], text);
	}
	errno = saved_errno;
}

void
msg_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf(MSG_INFO, fmt, ap);
	va_end(ap);
}

void
msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf(MSG_WARN, fmt, ap);
	va_end(ap);
}

void
msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf(MSG_ERROR, fmt, ap);
	va_end(ap);
}

void
msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf(MSG_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
msg_fatal_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf(MSG_FATAL, fmt, ap);
	va_end(ap);
	exit(status);
}

void
msg_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf(MSG_PANIC, fmt, ap);
	va_end(ap);
	abort();
}

void
msg_info_as(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf_as(MSG_INFO, prog, fmt, ap);
	va_end(ap);
}

void
msg_warn_as(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vprintf_as(MSG_WARN, prog, fmt, ap);
	va_end(ap);
}

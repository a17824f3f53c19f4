/* SPDX-License-Identifier: MIT */
/* fsync_shim - an LD_PRELOAD library for the durability tests
 * (test_durability.py, test_once.py): it records, per process, the order
 * of the calls that decide durability, and can break them on purpose.
 *
 * Recorded (one line per call, in $FSHIM_LOG/PID.log, the first line
 * naming the program): fsync and fdatasync with the path of the file
 * descriptor (from /proc/self/fd), fchmod/chmod with the mode, link,
 * rename, unlink, and every write to a socket (write, writev, send,
 * sendto, sendmsg) with its first bytes, escaped.  A call is logged
 * after it returned for fsync/fdatasync/fchmod/link/rename (so a line
 * means "done"), before it runs for socket writes (so a line means "not
 * sent yet"): if an fsync line precedes a socket line, the fsync had
 * completed before the bytes went out.
 *
 * Faults, each selected by a pattern ("a|b": alternatives; a trailing
 * '$' anchors at the end of the path, else a substring):
 *   FSHIM_SKIP=PAT  fsync/fdatasync of a matching path does nothing
 *                   (logged as "fsync-skipped"): a build without that
 *                   fsync, for the tests' negative controls;
 *   FSHIM_EIO=PAT   fsync/fdatasync of a matching path fails with EIO
 *                   (logged as "fsync-eio" with the file's mode then);
 *                   with FSHIM_EIO_FLAG=FILE only once (FILE created
 *                   O_EXCL);
 *   FSHIM_KILL=PROG:CALL:PAT  after CALL (fsync, unlink, link, rename)
 *                   of a matching path in program PROG, SIGKILL the
 *                   process, once per FSHIM_KILL_FLAG file (created
 *                   O_EXCL);  with FSHIM_KILL_STOP=1 the process stops
 *                   (SIGSTOP) instead, frozen at that point: the test
 *                   then SIGKILLs the whole instance (a machine crash),
 *                   so that nothing restarts before it says so (an
 *                   unprivileged daemon could not kill the master).
 *
 * Test code only: never installed, never linked into postino. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_BYTES	400

static int log_fd = -1;
static pid_t log_pid;

/* raw_write - write(2) without going through our own write(). */
static void
raw_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		long n = syscall(SYS_write, fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* log_open - this process's log (again after a fork). */
static int
log_open(void)
{
	const char *dir = getenv("FSHIM_LOG");
	char path[4096], head[512];
	pid_t pid = getpid();
	int fd;

	if (dir == NULL)
		return -1;
	if (log_fd >= 0 && log_pid == pid)
		return log_fd;
	snprintf(path, sizeof(path), "%s/%ld.log", dir, (long)pid);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	(void)syscall(SYS_fchmod, fd, 0666);
	snprintf(head, sizeof(head), "prog %s\n", program_invocation_short_name);
	raw_write(fd, head, strlen(head));
	log_fd = fd;
	log_pid = pid;
	return fd;
}

/* logf - one event line (a single write: lines of threads don't mix). */
static void __attribute__((format(printf, 1, 2)))
logf_(const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int saved = errno, fd = log_open(), n;

	if (fd >= 0) {
		va_start(ap, fmt);
		n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
		va_end(ap);
		if (n > (int)sizeof(line) - 2)
			n = (int)sizeof(line) - 2;
		line[n++] = '\n';
		raw_write(fd, line, (size_t)n);
	}
	errno = saved;
}

/* fd_path - what fd names, or "?". */
static void
fd_path(int fd, char *out, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, size - 1);
	if (n < 0)
		n = snprintf(out, size, "?");
	out[n] = 0;
}

/* match - does path match PAT (see the file header)? */
static int
match(const char *pat, const char *path)
{
	size_t plen = strlen(path);

	if (pat == NULL || *pat == 0)
		return 0;
	while (*pat) {
		const char *end = strchr(pat, '|');
		size_t len = end ? (size_t)(end - pat) : strlen(pat);
		char alt[1024];

		if (len < sizeof(alt)) {
			memcpy(alt, pat, len);
			alt[len] = 0;
			if (len > 0 && alt[len - 1] == '$') {
				alt[--len] = 0;
				if (plen >= len && strcmp(path + plen - len, alt) == 0)
					return 1;
			} else if (len > 0 && strstr(path, alt) != NULL) {
				return 1;
			}
		}
		if (end == NULL)
			break;
		pat = end + 1;
	}
	return 0;
}

/* once - 1 the first time for this flag file (or always without one). */
static int
once(const char *flag)
{
	int fd;

	if (flag == NULL)
		return 1;
	fd = (int)syscall(SYS_openat, AT_FDCWD, flag,
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* maybe_kill - FSHIM_KILL. */
static void
maybe_kill(const char *call, const char *path)
{
	const char *spec = getenv("FSHIM_KILL");
	const char *flag = getenv("FSHIM_KILL_FLAG");
	char prog[256], what[64];
	const char *p1, *p2;

	if (spec == NULL || flag == NULL)
		return;
	if ((p1 = strchr(spec, ':')) == NULL || (p2 = strchr(p1 + 1, ':')) == NULL)
		return;
	if ((size_t)(p1 - spec) >= sizeof(prog)
	    || (size_t)(p2 - p1 - 1) >= sizeof(what))
		return;
	memcpy(prog, spec, (size_t)(p1 - spec));
	prog[p1 - spec] = 0;
	memcpy(what, p1 + 1, (size_t)(p2 - p1 - 1));
	what[p2 - p1 - 1] = 0;
	if (strcmp(prog, program_invocation_short_name) != 0
	    || strcmp(what, call) != 0 || !match(p2 + 1, path))
		return;
	if (!once(flag))
		return;			/* done once already */
	logf_("kill after %s %s", call, path);
	if (getenv("FSHIM_KILL_STOP") != NULL)
		kill(getpid(), SIGSTOP);	/* the test SIGKILLs everything */
	else
		kill(getpid(), SIGKILL);
}

typedef int (*int_fn)(int);

/* sync_common - fsync and fdatasync. */
static int
sync_common(const char *name, int fd)
{
	int_fn real = (int_fn)dlsym(RTLD_NEXT, name);
	char path[4096];
	struct stat st;
	int rc;

	fd_path(fd, path, sizeof(path));
	if (match(getenv("FSHIM_SKIP"), path)) {
		logf_("%s-skipped %s", name, path);
		return 0;
	}
	if (match(getenv("FSHIM_EIO"), path) && once(getenv("FSHIM_EIO_FLAG"))) {
		unsigned mode = fstat(fd, &st) == 0 ? (unsigned)st.st_mode & 07777 : 0;

		logf_("%s-eio %s mode=%04o", name, path, mode);
		errno = EIO;
		return -1;
	}
	rc = real(fd);
	if (rc == 0) {
		logf_("%s %s", name, path);
		maybe_kill("fsync", path);
	} else {
		logf_("%s-failed %s", name, path);
	}
	return rc;
}

int
fsync(int fd)
{
	return sync_common("fsync", fd);
}

int
fdatasync(int fd)
{
	return sync_common("fdatasync", fd);
}

int
fchmod(int fd, mode_t mode)
{
	int (*real)(int, mode_t) = (int (*)(int, mode_t))dlsym(RTLD_NEXT,
	    "fchmod");
	char path[4096];
	int rc = real(fd, mode);

	if (log_fd >= 0 && fd == log_fd)
		return rc;
	fd_path(fd, path, sizeof(path));
	logf_("fchmod %s %04o rc=%d", path, (unsigned)mode, rc);
	return rc;
}

int
chmod(const char *p, mode_t mode)
{
	int (*real)(const char *, mode_t) = (int (*)(const char *, mode_t))
	    dlsym(RTLD_NEXT, "chmod");
	int rc = real(p, mode);

	logf_("fchmod %s %04o rc=%d", p, (unsigned)mode, rc);
	return rc;
}

int
link(const char *a, const char *b)
{
	int (*real)(const char *, const char *) =
	    (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "link");
	int rc = real(a, b);
	int saved = errno;

	logf_("link %s %s rc=%d", a, b, rc == 0 ? 0 : saved);
	if (rc == 0)
		maybe_kill("link", b);
	errno = saved;
	return rc;
}

int
rename(const char *a, const char *b)
{
	int (*real)(const char *, const char *) =
	    (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	int rc = real(a, b);
	int saved = errno;

	logf_("rename %s %s rc=%d", a, b, rc == 0 ? 0 : saved);
	if (rc == 0)
		maybe_kill("rename", b);
	errno = saved;
	return rc;
}

int
unlink(const char *p)
{
	int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT,
	    "unlink");
	int rc;

	/* Before: "killed before the unlink" is what a test wants. */
	maybe_kill("unlink", p);
	rc = real(p);
	logf_("unlink %s rc=%d", p, rc);
	return rc;
}

/* is_socket - is fd a socket? */
static int
is_socket(int fd)
{
	struct stat st;

	return fd >= 0 && fd != log_fd && fstat(fd, &st) == 0
	    && S_ISSOCK(st.st_mode);
}

/* log_bytes - "sock FD <escaped first bytes>" from an iovec. */
static void
log_bytes(int fd, const struct iovec *iov, int iovcnt)
{
	char out[LOG_BYTES * 4 + 1];
	size_t o = 0, n = 0;

	for (int i = 0; i < iovcnt && n < LOG_BYTES; i++) {
		const unsigned char *p = iov[i].iov_base;

		for (size_t k = 0; k < iov[i].iov_len && n < LOG_BYTES; k++, n++) {
			if (p[k] >= 0x20 && p[k] < 0x7f && p[k] != '\\') {
				out[o++] = (char)p[k];
			} else {
				snprintf(out + o, 5, "\\x%02x", p[k]);
				o += 4;
			}
		}
	}
	out[o] = 0;
	logf_("sock %d %s", fd, out);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	ssize_t (*real)(int, const void *, size_t) =
	    (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");

	if (getenv("FSHIM_LOG") != NULL && is_socket(fd)) {
		struct iovec v = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

		log_bytes(fd, &v, 1);
	}
	return real(fd, buf, len);
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t (*real)(int, const struct iovec *, int) =
	    (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT,
	    "writev");

	if (getenv("FSHIM_LOG") != NULL && is_socket(fd))
		log_bytes(fd, iov, iovcnt);
	return real(fd, iov, iovcnt);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t (*real)(int, const void *, size_t, int) =
	    (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");

	if (getenv("FSHIM_LOG") != NULL) {
		struct iovec v = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

		log_bytes(fd, &v, 1);
	}
	return real(fd, buf, len, flags);
}

ssize_t
sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *,
	    socklen_t) = (ssize_t (*)(int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "sendto");

	if (getenv("FSHIM_LOG") != NULL) {
		struct iovec v = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

		log_bytes(fd, &v, 1);
	}
	return real(fd, buf, len, flags, to, tolen);
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	ssize_t (*real)(int, const struct msghdr *, int) =
	    (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT,
	    "sendmsg");

	if (getenv("FSHIM_LOG") != NULL)
		log_bytes(fd, m->msg_iov, (int)m->msg_iovlen);
	return real(fd, m, flags);
}

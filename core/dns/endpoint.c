/* SPDX-License-Identifier: MIT */
/* endpoint - stream connections to helper servers (endpoint.h). */
#include "postino_config.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "endpoint.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"
#include "task_event.h"

long
endpoint_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
endpoint_wait(struct event_base *base, int fd, short events, long deadline,
    const char *what, const char **why)
{
	if (base != NULL && task_current() != NULL) {
		long left = deadline - endpoint_now_ms();

		if (left <= 0 || (task_event_wait(base, fd, (events & POLLOUT)
		    ? EV_WRITE : EV_READ, left) & EV_TIMEOUT)) {
			*why = strerror(ETIMEDOUT);
			return -1;
		}
		return 0;
	}
	(void)task_blocking(what, 0);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		long left = deadline - endpoint_now_ms();
		int n;

		if (left <= 0) {
			*why = strerror(ETIMEDOUT);
			return -1;
		}
		n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
	}
}

int
endpoint_send(struct event_base *base, int fd, const char *p, size_t len,
    long deadline, const char *what, const char **why)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
		    && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (endpoint_wait(base, fd, POLLOUT, deadline, what, why) < 0)
			return -1;
	}
	return 0;
}

/* inet_addr_of - the address of "host:port" (after "inet:"). */
static int
inet_addr_of(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
    const char **why)
{
	char *host = xstrdup(spec), *port = strrchr(host, ':');
	char *end;
	unsigned long pnum;
	int rc;

	if (port == NULL) {
		free(host);
		*why = "no port in server address";
		return -1;
	}
	*port++ = 0;
	pnum = strtoul(port, &end, 10);
	if (*port == 0 || *end != 0 || pnum == 0 || pnum > 65535) {
		free(host);
		*why = "bad port in server address";
		return -1;
	}
	if (*host == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = 0;
		memmove(host, host + 1, strlen(host));
	}
	rc = dns_host_addr(host, ss, len, why);
	free(host);
	if (rc < 0)
		return -1;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)pnum);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)pnum);
	return 0;
}

/* unix_addr_of - the address of a socket path spec. */
static int
unix_addr_of(const char *spec, const char *bare_prefix,
    struct sockaddr_storage *ss, socklen_t *len, const char **why)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	const char *colon = strchr(spec, ':');
	char *full;

	if (strncasecmp(spec, "unix:", 5) == 0)
		full = xstrdup(spec + 5);
	else if (bare_prefix && colon)
		full = xstrdup(colon + 1);
	else
		full = concatenate(bare_prefix ? bare_prefix : "", spec,
		    (char *)0);
	if (*full != '/') {
		char *abs = concatenate(var_queue_directory, "/", full,
		    (char *)0);

		free(full);
		full = abs;
	}
	if (strlen(full) >= sizeof(sun->sun_path)) {
		free(full);
		*why = "socket path too long";
		return -1;
	}
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, full, sizeof(sun->sun_path));
	free(full);
	*len = sizeof(*sun);
	return 0;
}

int
endpoint_connect(struct event_base *base, const char *spec,
    const char *bare_prefix, long deadline, const char *what,
    const char **why)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int fd, err = 0, rc;
	socklen_t elen = sizeof(err);

	memset(&ss, 0, sizeof(ss));
	if (strncasecmp(spec, "inet:", 5) == 0)
		rc = inet_addr_of(spec + 5, &ss, &len, why);
	else
		rc = unix_addr_of(spec, bare_prefix, &ss, &len, why);
	if (rc < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno != EINPROGRESS) {
			*why = strerror(errno);
			close(fd);
			return -1;
		}
		if (endpoint_wait(base, fd, POLLOUT, deadline, what, why) < 0) {
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
			*why = strerror(err ? err : errno);
			close(fd);
			return -1;
		}
	}
	return fd;
}

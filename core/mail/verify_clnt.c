/* SPDX-License-Identifier: MIT */
/* verify_clnt - client of the address verification service (see
 * verify_clnt.h). */
#include "postino_config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "mail_public.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "task.h"
#include "task_event.h"
#include "verify_clnt.h"

static struct event_base *verify_base;

void
verify_clnt_event_base(struct event_base *base)
{
	verify_base = base;
}

static const char *
service_name(void)
{
	return var_address_verify_service_name && *var_address_verify_service_name
	    ? var_address_verify_service_name : "verify";
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* wait_fd - until fd is ready for EV_READ/EV_WRITE or the deadline
 * passes; 0 ready, -1 timed out. */
static int
wait_fd(int fd, short ev, long deadline)
{
	long left = deadline - now_ms();

	if (left <= 0)
		return -1;
	if (verify_base != NULL && task_current() != NULL)
		return (task_event_wait(verify_base, fd, ev, left) & EV_TIMEOUT)
		    ? -1 : 0;
	for (;;) {
		struct pollfd p = {.fd = fd,
		.events = (ev & EV_WRITE) ? POLLOUT : POLLIN};
		int n;

		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* send_all - write the whole request; 0 or -1. */
static int
send_all(int fd, const struct buf *out, long deadline)
{
	size_t done = 0;

	while (done < buf_len(out)) {
		ssize_t n = write(fd, buf_str(out) + done, buf_len(out) - done);

		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (deadline == 0 || wait_fd(fd, EV_WRITE, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

int
verify_clnt_query(const char *addr, int *addr_status_r, char **reason_r)
{
	long deadline = now_ms() + VRFY_CLNT_TIMEOUT_MS;
	struct attr_list *al = attr_list_new();
	struct buf *io = buf_new(256, ATTR_MAX_BYTES);
	const char *err = NULL, *v;
	int fd, ret = VRFY_STAT_FAIL;
	long used = 0, st;

	if ((fd = mail_private_connect(service_name(), SOCK_NONBLOCK)) < 0) {
		msg_warn("private/%s: connect: %m", service_name());
		goto out;
	}
	attr_add(al, "request", "query");
	attr_add(al, "address", addr);
	attr_format(al, io);
	if (send_all(fd, io, deadline) < 0) {
		err = "cannot send the request";
		goto out;
	}
	buf_reset(io);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			if (buf_append(io, chunk, (size_t)n) < 0) {
				err = "answer too long";
				goto out;
			}
			if ((used = attr_parse(buf_str(io), buf_len(io), al,
			    &err)) != 0)
				break;
		} else if (n == 0) {
			err = "connection closed by the service";
			goto out;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, EV_READ, deadline) < 0) {
				err = "timeout";
				goto out;
			}
		} else {
			err = strerror(errno);
			goto out;
		}
	}
	if (used < 0)
		goto out;
	st = attr_get_long(al, "status", -1);
	v = attr_get(al, "recipient_status");
	if (st != 0 || v == NULL) {
		err = "request refused";
		goto out;
	}
	st = attr_get_long(al, "recipient_status", -1);
	if (st < VRFY_ADDR_OK || st > VRFY_ADDR_TODO) {
		err = "bad recipient status";
		goto out;
	}
	*addr_status_r = (int)st;
	v = attr_get(al, "reason");
	*reason_r = xstrdup(v ? v : "");
	ret = VRFY_STAT_OK;
out:
	if (ret != VRFY_STAT_OK && fd >= 0)
		msg_warn("private/%s: query for <%s>: %s", service_name(), addr,
		    err ? err : "failed");
	if (fd >= 0)
		close(fd);
	attr_list_free(&al);
	buf_free(&io);
	return ret;
}

int
verify_clnt_poll(const char *addr, long count, long delay_ms,
    int *addr_status_r, char **reason_r)
{
	int ret;

	for (long i = 0;; i++) {
		ret = verify_clnt_query(addr, addr_status_r, reason_r);
		if (ret != VRFY_STAT_OK || *addr_status_r != VRFY_ADDR_TODO
		    || i + 1 >= count)
			return ret;
		free(*reason_r);
		*reason_r = NULL;
		if (delay_ms > 0) {
			if (verify_base != NULL && task_current() != NULL)
				task_sleep_ms(verify_base, delay_ms);
			else
				(void)poll(NULL, 0, (int)delay_ms);
		}
	}
}

int
verify_clnt_update(const char *addr, int addr_status, const char *reason)
{
	struct attr_list *al = attr_list_new();
	struct buf *out = buf_new(256, BUF_NOLIMIT);
	int fd, ret = VRFY_STAT_FAIL;

	if ((fd = mail_private_connect(service_name(), SOCK_NONBLOCK)) < 0) {
		msg_warn("private/%s: connect: %m; status of <%s> not recorded",
		    service_name(), addr);
		goto out;
	}
	attr_add(al, "request", "update");
	attr_add(al, "address", addr);
	attr_addf(al, "recipient_status", "%d", addr_status);
	attr_add(al, "reason", reason ? reason : "");
	attr_format(al, out);
	/* A request is far smaller than a socket buffer: no waiting. */
	if (send_all(fd, out, 0) < 0)
		msg_warn("private/%s: update for <%s>: %m", service_name(), addr);
	else
		ret = VRFY_STAT_OK;
out:
	if (fd >= 0)
		close(fd);
	attr_list_free(&al);
	buf_free(&out);
	return ret;
}

const char *
verify_clnt_status_name(int addr_status)
{
	switch (addr_status) {
	case VRFY_ADDR_OK:
		return "deliverable";
	case VRFY_ADDR_DEFER:
		return "undeliverable (temporary)";
	case VRFY_ADDR_BOUNCE:
		return "undeliverable";
	case VRFY_ADDR_TODO:
		return "unknown";
	default:
		return "bad status";
	}
}

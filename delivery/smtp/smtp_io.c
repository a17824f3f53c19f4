/* SPDX-License-Identifier: MIT */
/* smtp_io - timed socket I/O for a delivery running in a task: every
 * wait (connect, a reply, room to write) is a task_wait() on a libevent
 * event with the phase's timeout, so the process's other deliveries go
 * on meanwhile.  Outside a task (never in the agent) it would abort. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtp.h"
#include "task_event.h"
#include "tls_server.h"

#define SMTP_IN_SIZE	8192
/* Output is sent when this much is queued (a message is streamed). */
#define SMTP_OUT_FLUSH	(64 * 1024)

/* wait_fd - wait until fd is ready for what (EV_READ or EV_WRITE); 0, or
 * -1 after timeout seconds. */
static int
wait_fd(int fd, short what, long timeout)
{
	short got = task_event_wait(mail_server_base(), fd, what,
	    (timeout > 0 ? timeout : 1) * 1000L);

	return (got & EV_TIMEOUT) ? -1 : 0;
}

/* tls_wait - after an SSL call returned ret <= 0: wait for what it
 * wants (0), or set s->err (-1): ETIMEDOUT, EPIPE at the end of the
 * stream, ECONNRESET for a TLS error. */
static int
tls_wait(struct smtp_stream *s, int ret, long timeout)
{
	int e = SSL_get_error(s->ssl, ret);

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		if (wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE,
		    timeout) < 0) {
			s->err = ETIMEDOUT;
			return -1;
		}
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		s->err = EPIPE;
		return -1;
	case SSL_ERROR_SYSCALL:
		s->err = errno ? errno : EPIPE;
		if (s->err == EAGAIN || s->err == EINTR)
			s->err = EPIPE;
		return -1;
	default:
		s->err = ECONNRESET;
		return -1;
	}
}

int
smtp_tls_handshake(struct smtp_stream *s, SSL *ssl, long timeout,
    char *why, size_t len)
{
	/* Whatever the server sent before the handshake is never read as
	 * part of the TLS session. */
	s->in_len = s->in_pos = 0;
	s->ssl = ssl;
	SSL_set_fd(ssl, s->fd);
	ERR_clear_error();
	for (int n = 0; n < 10000; n++) {
		int r = SSL_connect(ssl);
		int e;

		if (r == 1)
			return 0;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? EV_READ
			    : EV_WRITE, timeout) < 0) {
				snprintf(why, len, "handshake timed out");
				s->err = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		if (e == SSL_ERROR_SSL) {
			tls_error_text(why, len);
		} else if (e == SSL_ERROR_SYSCALL) {
			snprintf(why, len, "%s", errno ? strerror(errno)
			    : "lost connection");
		} else {
			snprintf(why, len, "handshake failure");
		}
		s->err = ECONNRESET;
		return -1;
	}
	snprintf(why, len, "handshake does not end");
	s->err = EPROTO;
	return -1;
}

/* bind_source - smtp_bind_address / smtp_bind_address6. */
static int
bind_source(int fd, int family)
{
	const char *src = family == AF_INET ? smtp_conf.bind_address
	    : family == AF_INET6 ? smtp_conf.bind_address6 : NULL;
	struct sockaddr_storage ss;
	socklen_t len;

	if (src == NULL || *src == 0)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, src, &sin->sin_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, src, &sin6->sin6_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*sin6);
	}
	return bind(fd, (struct sockaddr *)&ss, len);
}

struct smtp_stream *
smtp_connect(const struct smtp_addr *a)
{
	struct smtp_stream *s;
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (bind_source(fd, a->sa.ss_family) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			errno = err;
			return NULL;
		}
		if (wait_fd(fd, EV_WRITE, smtp_conf.connect_timeout) < 0) {
			close(fd);
			errno = ETIMEDOUT;
			return NULL;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0) {
			close(fd);
			errno = err;
			return NULL;
		}
	}
	if (a->sa.ss_family != AF_UNIX) {
		int on = 1;

		/* Commands and the message's end are written whole: nothing
		 * gains from waiting for more. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->in = xmalloc(SMTP_IN_SIZE);
	s->out = buf_new(SMTP_OUT_FLUSH + 4096, 0);
	return s;
}

void
smtp_stream_free(struct smtp_stream **sp)
{
	struct smtp_stream *s = *sp;

	if (s == NULL)
		return;
	if (s->ssl) {
		/* close_notify, best effort: the socket is non-blocking. */
		if (!s->err)
			(void)SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	ERR_clear_error();
	free(s->tls_key);
	close(s->fd);
	free(s->in);
	buf_free(&s->out);
	free(s);
	*sp = NULL;
}

int
smtp_read_line(struct smtp_stream *s, char *line, size_t len, long timeout)
{
	size_t n = 0;
	int skipping = 0;

	if (s->err)
		return -1;
	for (;;) {
		while (s->in_pos < s->in_len) {
			char c = s->in[s->in_pos++];

			if (c == '\n') {
				if (n > 0 && line[n - 1] == '\r')
					n--;
				line[n] = 0;
				return 0;
			}
			if (n + 1 < len)
				line[n++] = c;
			else
				skipping = 1;
		}
		(void)skipping;
		for (;;) {
			ssize_t r;

			if (s->ssl) {
				int got = SSL_read(s->ssl, s->in, SMTP_IN_SIZE);

				if (got > 0) {
					s->in_len = (size_t)got;
					s->in_pos = 0;
					break;
				}
				if (tls_wait(s, got, timeout) < 0)
					return -1;
				continue;
			}
			r = read(s->fd, s->in, SMTP_IN_SIZE);

			if (r > 0) {
				s->in_len = (size_t)r;
				s->in_pos = 0;
				break;
			}
			if (r == 0) {
				s->err = EPIPE;
				return -1;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				s->err = errno;
				return -1;
			}
			if (wait_fd(s->fd, EV_READ, timeout) < 0) {
				s->err = ETIMEDOUT;
				return -1;
			}
		}
	}
}

void
smtp_put(struct smtp_stream *s, const char *data, size_t len)
{
	buf_append(s->out, data, len);
}

void
smtp_printf(struct smtp_stream *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(s->out, fmt, ap);
	va_end(ap);
}

int
smtp_flush(struct smtp_stream *s, long timeout)
{
	size_t off = 0;

	while (!s->err && off < buf_len(s->out)) {
		ssize_t n;

		if (s->ssl) {
			int w = SSL_write(s->ssl, buf_str(s->out) + off,
			    (int)(buf_len(s->out) - off > 1 << 20 ? 1 << 20
				: buf_len(s->out) - off));

			if (w > 0)
				off += (size_t)w;
			else
				(void)tls_wait(s, w, timeout);
			continue;
		}
		n = send(s->fd, buf_str(s->out) + off,
		    buf_len(s->out) - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(s->fd, EV_WRITE, timeout) < 0)
				s->err = ETIMEDOUT;
			continue;
		}
		s->err = n < 0 ? errno : EPIPE;
	}
	buf_reset(s->out);
	return s->err ? -1 : 0;
}

int
smtp_read_reply(struct smtp_stream *st, struct smtp_reply *r, long timeout)
{
	char line[1024];

	buf_reset(r->text);
	if (r->lines)
		buf_reset(r->lines);
	r->code = 0;
	r->dsn[0] = 0;
	for (int n = 0; n < 1000; n++) {
		if (smtp_read_line(st, line, sizeof(line), timeout) < 0)
			return -1;
		for (char *cp = line; *cp; cp++)
			if ((unsigned char)*cp < 32 || (unsigned char)*cp == 127)
				*cp = ' ';
		if (buf_len(r->text) > 0)
			buf_putc(r->text, ' ');
		buf_puts(r->text, line);
		if (r->lines) {
			buf_puts(r->lines, line);
			buf_putc(r->lines, '\n');
		}
		if (strlen(line) < 3 || !isdigit((unsigned char)line[0])
		    || !isdigit((unsigned char)line[1])
		    || !isdigit((unsigned char)line[2])) {
			/* Not a reply: a protocol error, tried again later. */
			r->code = 0;
			return 0;
		}
		if (n == 0) {
			const char *d = line + 4;

			r->code = atoi(line) ;
			if (strlen(line) > 4 && d[0] == line[0] && d[1] == '.'
			    && isdigit((unsigned char)d[2])) {
				size_t k = strspn(d, "0123456789.");

				if (k < sizeof(r->dsn) && (d[k] == ' ' || d[k] == 0)) {
					memcpy(r->dsn, d, k);
					r->dsn[k] = 0;
				}
			}
		}
		if (line[3] != '-')
			break;
	}
	if (r->dsn[0] == 0)
		snprintf(r->dsn, sizeof(r->dsn), "%d.0.0",
		    r->code >= 200 && r->code < 600 ? r->code / 100 : 4);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* milter_io - one milter connection: connect, option negotiation,
 * packets in and out, each wait bounded by the milter's timeouts.
 *
 * Connections and waits are endpoint.h's: inside a task on the
 * session's event base (the loop serves the other clients meanwhile),
 * outside a task poll(), reported by task_blocking().
 *
 * Logs (warnings, Postfix's wording where it has one): "connect to
 * Milter service NAME: reason", "milter NAME: can't read SMFIC_X reply
 * packet header: reason", "milter NAME: unexpected filter response C
 * after event SMFIC_X", and so on. */
#include "postino_config.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "endpoint.h"
#include "mail_vars.h"
#include "milter_private.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"
#include "task_event.h"

const char *
milter_cmd_name(int cmd)
{
	switch (cmd) {
	case SMFIC_ABORT: return "SMFIC_ABORT";
	case SMFIC_BODY: return "SMFIC_BODY";
	case SMFIC_CONNECT: return "SMFIC_CONNECT";
	case SMFIC_MACRO: return "SMFIC_MACRO";
	case SMFIC_BODYEOB: return "SMFIC_BODYEOB";
	case SMFIC_HELO: return "SMFIC_HELO";
	case SMFIC_HEADER: return "SMFIC_HEADER";
	case SMFIC_MAIL: return "SMFIC_MAIL";
	case SMFIC_EOH: return "SMFIC_EOH";
	case SMFIC_OPTNEG: return "SMFIC_OPTNEG";
	case SMFIC_QUIT: return "SMFIC_QUIT";
	case SMFIC_RCPT: return "SMFIC_RCPT";
	case SMFIC_DATA: return "SMFIC_DATA";
	case SMFIC_UNKNOWN: return "SMFIC_UNKNOWN";
	default: return "unknown command";
	}
}


/* recv_all - exactly len bytes by the deadline; 0 or -1 (*why). */
static int
recv_all(struct milters *ms, int fd, char *p, size_t len, long deadline,
    const char **why)
{
	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0) {
			*why = "connection closed";
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (endpoint_wait(ms->base, fd, POLLIN, deadline, "a milter",
		    why) < 0)
			return -1;
	}
	return 0;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16
	    | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* packet - header and data in one buffer (malloc'd), *len_r bytes. */
static char *
packet(int cmd, const char *data, size_t len, size_t *len_r)
{
	char *p = xmalloc(len + 5);

	put32((unsigned char *)p, (uint32_t)(len + 1));
	p[4] = (char)cmd;
	if (len)
		memcpy(p + 5, data, len);
	*len_r = len + 5;
	return p;
}

int
milter_io_send(struct milters *ms, struct milter *m, int cmd,
    const char *data, size_t len, long timeout)
{
	size_t plen;
	char *p = packet(cmd, data, len, &plen);
	const char *why = NULL;
	int rc = endpoint_send(ms->base, m->fd, p, plen,
	    endpoint_now_ms() + timeout * 1000, "a milter", &why);

	free(p);
	if (rc < 0)
		msg_warn("milter %s: can't send %s packet: %s", m->o->endpoint,
		    milter_cmd_name(cmd), why);
	return rc;
}

void
milter_io_send_nowait(struct milter *m, int cmd, const char *data,
    size_t len)
{
	size_t plen;
	char *p = packet(cmd, data, len, &plen);
	ssize_t n = send(m->fd, p, plen, MSG_NOSIGNAL | MSG_DONTWAIT);

	free(p);
	/* No room for a few bytes: the milter is not reading; it will see
	 * the connection close instead. */
	if (n != (ssize_t)plen)
		milter_io_close(m);
}

int
milter_io_read(struct milters *ms, struct milter *m, int *cmd_r,
    struct buf *b, long timeout, const char *what)
{
	unsigned char hdr[5];
	const char *why = NULL;
	long deadline = endpoint_now_ms() + timeout * 1000;
	uint32_t len;

	if (recv_all(ms, m->fd, (char *)hdr, sizeof(hdr), deadline, &why) < 0) {
		msg_warn("milter %s: can't read %s reply packet header: %s",
		    m->o->endpoint, what, why);
		return -1;
	}
	len = get32(hdr);
	if (len < 1 || len > MILTER_PACKET_MAX) {
		msg_warn("milter %s: bad %s reply packet length: %lu",
		    m->o->endpoint, what, (unsigned long)len);
		return -1;
	}
	*cmd_r = hdr[4];
	buf_reset(b);
	if (buf_reserve(b, len) < 0) {
		msg_warn("milter %s: %s reply packet too long", m->o->endpoint, what);
		return -1;
	}
	if (recv_all(ms, m->fd, b->data, len - 1, deadline, &why) < 0) {
		msg_warn("milter %s: can't read %s reply packet body: %s",
		    m->o->endpoint, what, why);
		return -1;
	}
	b->len = len - 1;
	b->data[b->len] = 0;
	return 0;
}

int
milter_io_verdict(struct milters *ms, struct milter *m, int stage, int cmd,
    long timeout, const char **reply_r)
{
	struct buf *b = buf_new(256, BUF_NOLIMIT);
	int rc;

	for (;;) {
		int rcmd;

		if (milter_io_read(ms, m, &rcmd, b, timeout,
		    milter_cmd_name(cmd)) < 0) {
			rc = -1;
			break;
		}
		if (rcmd == SMFIR_PROGRESS)
			continue;
		rc = milter_verdict(ms, m, stage, rcmd, buf_str(b), buf_len(b),
		    reply_r);
		if (rc < 0)
			msg_warn("milter %s: unexpected filter response %c after event %s",
			    m->o->endpoint, rcmd >= 0x20 && rcmd < 0x7f ? rcmd : '?',
			    milter_cmd_name(cmd));
		break;
	}
	buf_free(&b);
	return rc;
}

void
milter_io_close(struct milter *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* offered_steps - the steps a milter of this protocol version may leave
 * out or answer without a reply. */
static unsigned
offered_steps(int version)
{
	switch (version) {
	case 2:
		return 0x3f;
	case 3:
		return 0x7f;
	case 4:
	case 5:
		return 0x3ff;
	default:
		return 0x1fffff & ~(unsigned)SMFIP_RCPT_REJ;
	}
}

/* offered_actions - what a milter of this version may do. */
static unsigned
offered_actions(int version)
{
	unsigned a = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT
	    | SMFIF_DELRCPT | SMFIF_CHGHDRS;

	if (version >= 4)
		a |= SMFIF_QUARANTINE;
	if (version >= 6)
		a |= SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST;
	return a;
}

/* symlists - the macro lists a version 6 milter appended to its
 * negotiation reply; 0 or -1 (malformed). */
static int
symlists(struct milter *m, const unsigned char *p, size_t len)
{
	while (len > 0) {
		uint32_t stage;
		const unsigned char *end;

		if (len < 5)
			return -1;
		stage = get32(p);
		p += 4;
		len -= 4;
		if ((end = memchr(p, 0, len)) == NULL || stage > MILTER_ST_EOH)
			return -1;
		free(m->symlist[stage]);
		m->symlist[stage] = xstrdup((const char *)p);
		len -= (size_t)(end - p) + 1;
		p = end + 1;
	}
	return 0;
}

int
milter_io_open(struct milters *ms, struct milter *m)
{
	const struct milter_opts *o = m->o;
	long deadline = endpoint_now_ms() + o->connect_timeout * 1000;
	const char *why = NULL;
	unsigned char opt[12];
	struct buf *b;
	int cmd;
	unsigned steps = offered_steps(o->protocol);

	if ((m->fd = endpoint_connect(ms->base, o->endpoint, "", deadline,
	    "a milter", &why)) < 0) {
		msg_warn("connect to Milter service %s: %s", o->endpoint, why);
		return -1;
	}
	put32(opt, (uint32_t)o->protocol);
	put32(opt + 4, offered_actions(o->protocol));
	put32(opt + 8, steps);
	if (milter_io_send(ms, m, SMFIC_OPTNEG, (char *)opt, sizeof(opt),
	    o->connect_timeout) < 0)
		return -1;
	b = buf_new(256, BUF_NOLIMIT);
	if (milter_io_read(ms, m, &cmd, b, o->connect_timeout, "SMFIC_OPTNEG") < 0) {
		msg_warn("milter %s: read error in initial handshake", o->endpoint);
		buf_free(&b);
		return -1;
	}
	if (cmd != SMFIC_OPTNEG || buf_len(b) < 12) {
		msg_warn("milter %s: unexpected reply \"%c\" in initial handshake",
		    o->endpoint, cmd >= 0x20 && cmd < 0x7f ? cmd : '?');
		buf_free(&b);
		return -1;
	}
	m->version = get32((unsigned char *)b->data);
	m->actions = get32((unsigned char *)b->data + 4);
	m->pflags = get32((unsigned char *)b->data + 8);
	if (m->version < 2 || m->version > 6) {
		msg_warn("milter %s: unsupported protocol version %u",
		    o->endpoint, m->version);
		buf_free(&b);
		return -1;
	}
	if ((m->pflags & ~steps) != 0) {
		msg_warn("milter %s: requested protocol options 0x%x that are not offered (0x%x)",
		    o->endpoint, m->pflags, steps);
		buf_free(&b);
		return -1;
	}
	if (buf_len(b) > 12 && symlists(m, (unsigned char *)b->data + 12,
	    buf_len(b) - 12) < 0) {
		msg_warn("milter %s: malformed macro lists in initial handshake",
		    o->endpoint);
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	m->state = MILTER_S_READY;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* smtpd_haproxy - smtpd_upstream_proxy_protocol = haproxy: a load
 * balancer or proxy in front of smtpd (HAProxy, nginx, a cloud load
 * balancer) sends the PROXY protocol header first, version 1 (text) or
 * 2 (binary), naming the client and the address it connected to; smtpd
 * reads it within smtpd_upstream_proxy_timeout, before the greeting (and
 * before the TLS handshake of a wrapper-mode service), and the session's
 * client is the one named (an IPv6 one only when inet_protocols has
 * IPv6, as Postfix).  Version 2's LOCAL command (the proxy's own health
 * checks) keeps the connection's own addresses, as Postfix does, and so
 * does "PROXY UNKNOWN" (which Postfix 3.7 refuses; the protocol says to
 * accept it).  Anything else -- no header, a malformed one, a timeout --
 * ends the connection with a warning and Postfix's "421 4.3.0 Server
 * local error": the proxy is the only client such a service may have.
 * Unlike Postfix, a header that comes in pieces is put together.
 *
 * The header is peeked at and only its own bytes are read from the
 * socket, so SMTP input the proxy forwards right behind it stays for the
 * session. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail_vars.h"
#include "smtpd_haproxy.h"
#include "stringops.h"

#define V1_MAX		107	/* the longest version 1 line, CRLF included */
#define V2_FIXED	16	/* signature, command, family, length */

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* v1_port - a decimal port, 0..65535 without leading zeros. */
static int
v1_port(const char *p)
{
	if (*p == 0 || strlen(p) > 5 || !alldig(p) || (p[0] == '0' && p[1])
	    || atol(p) > 65535)
		return -1;
	return 0;
}

/* parse_v1 - "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n". */
static int
parse_v1(const unsigned char *buf, size_t len, size_t *used,
    struct smtpd_haproxy *out, const char **err)
{
	const unsigned char *crlf = NULL;
	char line[V1_MAX + 1], *cp, *f[6];
	int n = 0, family;
	unsigned char bin[16];

	for (size_t i = 0; i + 1 < len && i < V1_MAX; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n') {
			crlf = buf + i;
			break;
		}
	if (crlf == NULL) {
		if (len >= V1_MAX) {
			*err = "no CRLF in the first 107 bytes";
			return -1;
		}
		return 0;
	}
	*used = (size_t)(crlf - buf) + 2;
	memcpy(line, buf, (size_t)(crlf - buf));
	line[crlf - buf] = 0;
	cp = line;
	while (n < 6 && (f[n] = mystrtok(&cp, " ")) != NULL)
		n++;
	if (n < 2 || strcmp(f[0], "PROXY") != 0) {
		*err = "bad version 1 header";
		return -1;
	}
	if (strcmp(f[1], "UNKNOWN") == 0) {
		out->local = 1;
		return 1;
	}
	if (strcmp(f[1], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		family = AF_INET6;
	else {
		*err = "unsupported protocol";
		return -1;
	}
	if (family == AF_INET6 && !mail_vars_inet_family(AF_INET6)) {
		*err = "IPv6 is not in inet_protocols";
		return -1;
	}
	if (n != 6 || mystrtok(&cp, " ") != NULL
	    || inet_pton(family, f[2], bin) != 1
	    || inet_pton(family, f[3], bin) != 1
	    || v1_port(f[4]) < 0 || v1_port(f[5]) < 0) {
		*err = "bad address or port";
		return -1;
	}
	strlcpy(out->addr, f[2], sizeof(out->addr));
	strlcpy(out->dest_addr, f[3], sizeof(out->dest_addr));
	strlcpy(out->port, f[4], sizeof(out->port));
	strlcpy(out->dest_port, f[5], sizeof(out->dest_port));
	return 1;
}

/* parse_v2 - the binary header: signature, version 2 and a command
 * (LOCAL or PROXY), the family, the length of what follows. */
static int
parse_v2(const unsigned char *buf, size_t len, size_t *used,
    struct smtpd_haproxy *out, const char **err)
{
	size_t body;
	int cmd, fam;

	if (len < V2_FIXED)
		return 0;
	if ((buf[12] & 0xf0) != 0x20) {
		*err = "unsupported version";
		return -1;
	}
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	body = ((size_t)buf[14] << 8) | buf[15];
	if (len < V2_FIXED + body)
		return 0;
	*used = V2_FIXED + body;
	if (cmd == 0x0) {		/* LOCAL */
		out->local = 1;
		return 1;
	}
	if (cmd != 0x1) {
		*err = "unsupported command";
		return -1;
	}
	buf += V2_FIXED;
	switch (fam) {
	case 0x11:			/* TCP over IPv4 */
		if (body < 12) {
			*err = "short IPv4 address block";
			return -1;
		}
		inet_ntop(AF_INET, buf, out->addr, sizeof(out->addr));
		inet_ntop(AF_INET, buf + 4, out->dest_addr, sizeof(out->dest_addr));
		snprintf(out->port, sizeof(out->port), "%u",
		    (unsigned)buf[8] << 8 | buf[9]);
		snprintf(out->dest_port, sizeof(out->dest_port), "%u",
		    (unsigned)buf[10] << 8 | buf[11]);
		return 1;
	case 0x21:			/* TCP over IPv6 */
		if (!mail_vars_inet_family(AF_INET6)) {
			*err = "IPv6 is not in inet_protocols";
			return -1;
		}
		if (body < 36) {
			*err = "short IPv6 address block";
			return -1;
		}
		inet_ntop(AF_INET6, buf, out->addr, sizeof(out->addr));
		inet_ntop(AF_INET6, buf + 16, out->dest_addr,
		    sizeof(out->dest_addr));
		snprintf(out->port, sizeof(out->port), "%u",
		    (unsigned)buf[32] << 8 | buf[33]);
		snprintf(out->dest_port, sizeof(out->dest_port), "%u",
		    (unsigned)buf[34] << 8 | buf[35]);
		return 1;
	case 0x00:			/* UNSPEC: the proxy's own connection */
		out->local = 1;
		return 1;
	default:
		*err = "unsupported address family";
		return -1;
	}
}

int
smtpd_haproxy_parse(const unsigned char *buf, size_t len, size_t *used,
    struct smtpd_haproxy *out, const char **err)
{
	memset(out, 0, sizeof(*out));
	*used = 0;
	*err = NULL;
	if (len == 0)
		return 0;
	/* Which version: decided by as many bytes as have come. */
	if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) == 0) {
		if (len < sizeof(v2_sig))
			return 0;
		return parse_v2(buf, len, used, out, err);
	}
	if (memcmp(buf, "PROXY ", len < 6 ? len : 6) == 0)
		return parse_v1(buf, len, used, out, err);
	*err = "not a PROXY protocol header";
	return -1;
}

/* IPv4-mapped IPv6 addresses are logged as IPv4, as for direct
 * clients. */
void
smtpd_haproxy_unmap(char *addr)
{
	if (strncasecmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.'))
		memmove(addr, addr + 7, strlen(addr + 7) + 1);
}

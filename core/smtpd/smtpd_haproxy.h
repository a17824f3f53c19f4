/* SPDX-License-Identifier: MIT */
/* smtpd_haproxy - the PROXY protocol header (versions 1 and 2) in front
 * of an smtpd session (smtpd_upstream_proxy_protocol = haproxy). */
#ifndef POSTINO_SMTPD_HAPROXY_H
#define POSTINO_SMTPD_HAPROXY_H

#include <stddef.h>

/* smtpd_haproxy_parse returns 1 with *out filled
 * and *used its length, 0 when more bytes are needed, -1 with *err when
 * it is not a good header.  local: a LOCAL/UNKNOWN header (keep the
 * connection's own addresses). */
struct smtpd_haproxy {
	char addr[64], port[16], dest_addr[64], dest_port[16];
	int local;
};
int smtpd_haproxy_parse(const unsigned char *buf, size_t len, size_t *used,
    struct smtpd_haproxy *out, const char **err);
void smtpd_haproxy_unmap(char *addr);

#endif

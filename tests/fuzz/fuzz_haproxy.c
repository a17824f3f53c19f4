/* SPDX-License-Identifier: MIT */
/* fuzz_haproxy - libFuzzer target for the PROXY protocol header parser
 * of smtpd_upstream_proxy_protocol = haproxy (core/smtpd/
 * smtpd_haproxy.c).
 *
 * Input: the bytes a proxy sends.  The parser is fed every prefix of
 * them, as smtpd feeds it while the header comes in pieces.  Checks: a
 * prefix the parser wants more of never has a complete header as a
 * shorter prefix; once complete, the length used is within what it was
 * given and every longer prefix gives the same answer (bytes behind the
 * header are never part of it); a proxied client's addresses are
 * numeric addresses and its ports numbers; an error has a reason. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "smtpd_haproxy.h"
#include "stringops.h"

#define FUZZ_MAX_INPUT	8192

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static void
check_addr(const char *a)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1)
		abort();
}

static void
check_port(const char *p)
{
	if (*p == 0 || !alldig(p) || atol(p) > 65535)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_haproxy h, first;
	size_t used, first_used = 0;
	const char *err;
	int done = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* IPv6 allowed on every other input. */
	var_inet_protocols = size % 2 ? "all" : "ipv4";
	for (size_t n = 0; n <= size; n++) {
		int rc = smtpd_haproxy_parse(data, n, &used, &h, &err);

		if (rc < 0) {
			if (err == NULL || done)
				abort();
			return 0;
		}
		if (rc == 0) {
			if (done)
				abort();
			continue;
		}
		if (used == 0 || used > n)
			abort();
		if (!h.local) {
			check_addr(h.addr);
			check_addr(h.dest_addr);
			check_port(h.port);
			check_port(h.dest_port);
		}
		if (!done) {
			first = h;
			first_used = used;
			done = 1;
		} else if (used != first_used || memcmp(&h, &first, sizeof(h)) != 0) {
			abort();
		}
	}
	return 0;
}

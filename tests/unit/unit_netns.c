/* SPDX-License-Identifier: MIT */
/* unit_netns - a real DNS server for unit tests: the test process enters
 * network and mount namespaces of its own (they vanish with it), brings
 * loopback up, bind-mounts its resolv.conf over /etc/resolv.conf and
 * starts dnsmasq on 127.0.0.1:53 with the test's records (see unit.h). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mymalloc.h"
#include "stringops.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "unit.h"

#define UNIT_DNSMASQ	"/usr/sbin/dnsmasq"

static pid_t unit_dnsmasq_pid;
static char *unit_dnsmasq_log;

static int
unit_lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

int
unit_netns_enter(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || unit_lo_up() < 0)
		fail_msg("namespaces: %s", strerror(errno));
	return 0;
}

/* unit_dns_probe - does 127.0.0.1:53 answer a query (any answer)? */
static int
unit_dns_probe(void)
{
	static const unsigned char q[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		5, 'p', 'r', 'o', 'b', 'e', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0,
		0, 1, 0, 1,
	};
	struct sockaddr_in sin;
	struct pollfd pfd;
	unsigned char buf[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ok = 0;

	if (fd < 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sin, sizeof(sin)) > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) == 1 && recv(fd, buf, sizeof(buf), 0) >= 12)
			ok = 1;
	}
	close(fd);
	return ok;
}

int
unit_netns_dns(const char *const *records, const char *resolv_conf)
{
	char *conf, *logopt;
	char **argv;
	size_t n = 0, i;

	if (geteuid() != 0 || access(UNIT_DNSMASQ, X_OK) < 0
	    || access("/etc/resolv.conf", F_OK) < 0)
		return -1;
	if (unit_netns_enter() < 0)
		return -1;
	conf = unit_write_file("unit-resolv.conf", resolv_conf, (size_t)-1);
	if (mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		fail_msg("bind-mount %s: %s", conf, strerror(errno));
	free(conf);
	unit_dnsmasq_log = concatenate(unit_tmpdir(), "/dnsmasq.log", (char *)0);
	logopt = concatenate("--log-facility=", unit_dnsmasq_log, (char *)0);
	while (records && records[n])
		n++;
	argv = xcalloc(n + 20, sizeof(*argv));
	i = 0;
	argv[i++] = xstrdup("dnsmasq");
	argv[i++] = xstrdup("--keep-in-foreground");
	argv[i++] = xstrdup("--conf-file=/dev/null");
	argv[i++] = xstrdup("--no-resolv");
	argv[i++] = xstrdup("--no-hosts");
	argv[i++] = xstrdup("--no-poll");
	argv[i++] = xstrdup("--bind-interfaces");
	argv[i++] = xstrdup("--listen-address=127.0.0.1");
	argv[i++] = xstrdup("--port=53");
	argv[i++] = xstrdup("--user=root");
	argv[i++] = xstrdup("--pid-file=");
	argv[i++] = xstrdup("--local-ttl=60");
	argv[i++] = xstrdup("--log-queries");
	argv[i++] = xstrdup(logopt);
	for (size_t k = 0; k < n; k++)
		argv[i++] = xstrdup(records[k]);
	argv[i] = NULL;
	fflush(NULL);
	if ((unit_dnsmasq_pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (unit_dnsmasq_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(UNIT_DNSMASQ, argv);
		_exit(127);
	}
	for (size_t k = 0; k < i; k++)
		free(argv[k]);
	free(argv);
	free(logopt);
	for (int t = 0; t < 100; t++) {
		if (unit_dns_probe())
			return 0;
		if (waitpid(unit_dnsmasq_pid, NULL, WNOHANG) == unit_dnsmasq_pid)
			fail_msg("dnsmasq exited at start");
	}
	fail_msg("dnsmasq does not answer on 127.0.0.1:53");
	return -1;
}

int
unit_dns_queries(void)
{
	char line[1024];
	FILE *fp;
	int n = 0;

	if (unit_dnsmasq_log == NULL || (fp = fopen(unit_dnsmasq_log, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, " query["))
			n++;
	fclose(fp);
	return n;
}

void
unit_netns_stop(void)
{
	if (unit_dnsmasq_pid > 0) {
		kill(unit_dnsmasq_pid, SIGTERM);
		waitpid(unit_dnsmasq_pid, NULL, 0);
		unit_dnsmasq_pid = 0;
	}
	for (int i = 0; i < 10 && umount2("/etc/resolv.conf", MNT_DETACH) == 0; i++)
		;
}

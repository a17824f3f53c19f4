/* SPDX-License-Identifier: MIT */
/* test_dns - the resolver (core/dns) against real name servers on
 * loopback: dnsmasq serving test records, and a server of our own on
 * 127.0.0.2 that never answers (or answers by hand, for the AD bit).
 *
 * The test enters network and mount namespaces of its own (unshare: they
 * vanish with the process) and bind-mounts its resolv.conf files over
 * /etc/resolv.conf there, as "ip netns exec" does.  It needs root; as
 * another user it exits 77 (skipped).
 *
 * Checked: every record type (A, AAAA, MX, PTR, TXT, NS, CNAME, TLSA),
 * NXDOMAIN vs NODATA, REFUSED -> DNS_TEMPFAIL, invalid names, a server
 * that never answers -> DNS_TEMPFAIL after exactly the tries that
 * resolv.conf allows (counted at the server), the bounded default when
 * resolv.conf sets none, the AD bit and the DNSSEC flags of the query,
 * dns_query_async() answering from the loop only, reload, and N lookups
 * from N tasks all in flight at once (counted at the server). */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "dns.h"
#include "mymalloc.h"
#include "task.h"
#include "unit.h"

#define DNSMASQ		"/usr/sbin/dnsmasq"

static pid_t dnsmasq_pid;
static int drop_fd = -1;		/* UDP 127.0.0.2:53, ours */
static char *conf_good, *conf_drop1, *conf_drop2, *conf_dropdef;

/* use_conf - make path the resolv.conf of this mount namespace. */
static void
use_conf(const char *path)
{
	if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		fail_msg("bind-mount %s on /etc/resolv.conf: %s", path,
		    strerror(errno));
}

/* drop_drain - read and count what reached the silent server. */
static int
drop_drain(void)
{
	unsigned char buf[1500];
	int n = 0;

	while (recv(drop_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

static void
start_dnsmasq(void)
{
	char logopt[600];

	snprintf(logopt, sizeof(logopt), "--log-facility=%s/dnsmasq.log",
	    unit_tmpdir());
	fflush(NULL);
	dnsmasq_pid = fork();
	if (dnsmasq_pid < 0) {
		perror("fork");
		exit(1);
	}
	if (dnsmasq_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(DNSMASQ, "dnsmasq", "--keep-in-foreground",
		    "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		    "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53",
		    "--user=root", "--pid-file=", "--local-ttl=300", "--log-queries", logopt,
		    "--local=/t.test/", "--local=/2.0.192.in-addr.arpa/",
		    "--host-record=a.t.test,192.0.2.1",
		    "--host-record=six.t.test,2001:db8::6",
		    "--host-record=both.t.test,192.0.2.2,2001:db8::2",
		    "--mx-host=mx.t.test,mail.t.test,10",
		    "--mx-host=mx.t.test,mail2.t.test,20",
		    "--txt-record=txt.t.test,hello ,world",
		    "--ptr-record=9.2.0.192.in-addr.arpa,ptr.t.test",
		    "--cname=alias.t.test,a.t.test",
		    /* NS ns1.t.test: the name in wire form. */
		    "--dns-rr=ns.t.test,2,036e73310174047465737400",
		    "--dns-rr=_25._tcp.mail.t.test,52,030101abcdef",
		    (char *)0);
		_exit(127);
	}
}

/* Namespaces, name servers and resolv.conf files. */
static int
setup(void **state)
{
	struct sockaddr_in sin;
	struct dns_answer *a = NULL;
	int tries;

	conf_good = unit_write_file("good.conf", "nameserver 127.0.0.1\n"
	    "options timeout:1 attempts:3\n", (size_t)-1);
	conf_drop1 = unit_write_file("drop1.conf", "nameserver 127.0.0.2\n"
	    "options timeout:1 attempts:1\n", (size_t)-1);
	conf_drop2 = unit_write_file("drop2.conf", "# two tries\n"
	    "nameserver 127.0.0.2\noptions attempts:2 timeout:1\n", (size_t)-1);
	conf_dropdef = unit_write_file("dropdef.conf", "nameserver 127.0.0.2\n",
	    (size_t)-1);
	use_conf(conf_good);
	drop_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	sin.sin_addr.s_addr = htonl(0x7f000002);
	if (drop_fd < 0 || bind(drop_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fail_msg("bind 127.0.0.2:53: %s", strerror(errno));
	start_dnsmasq();
	/* dnsmasq is up when it answers (bounded: 100 tries). */
	dns_init(NULL);
	for (tries = 0; tries < 100; tries++) {
		a = dns_lookup("a.t.test", DNS_T_A, 0);
		if (a->status == DNS_OK)
			break;
		dns_answer_free(a);
		a = NULL;
		usleep(100000);
	}
	if (a == NULL)
		fail_msg("dnsmasq does not answer");
	dns_answer_free(a);
	return 0;
}

static int
teardown(void **state)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
	}
	/* Unstack the resolv.conf mounts, so the files can be removed. */
	for (int i = 0; i < 100 && umount2("/etc/resolv.conf", MNT_DETACH) == 0; i++)
		;
	return 0;
}

static struct dns_answer *
expect(const char *name, int type, enum dns_status status, int count)
{
	struct dns_answer *a = dns_lookup(name, type, 0);

	assert_non_null(a);
	if ((int)a->status != (int)status || a->count != count)
		fail_msg("%s/%s: status %d count %d (want %d, %d): %s", name,
		    dns_type_name(type), a->status, a->count, status, count,
		    a->reason ? a->reason : "");
	assert_string_equal(a->qname, name);
	assert_int_equal(a->qtype, type);
	if (status == DNS_OK)
		assert_null(a->reason);
	else
		assert_non_null(a->reason);
	return a;
}

static void
test_records(void **state)
{
	struct dns_answer *a;
	int p10 = 0, p20 = 0;

	use_conf(conf_good);
	dns_init(NULL);
	a = expect("a.t.test", DNS_T_A, DNS_OK, 1);
	assert_string_equal(a->rr[0].addr_text, "192.0.2.1");
	assert_int_equal(a->rr[0].type, DNS_T_A);
	assert_int_equal(a->rr[0].addr.ss_family, AF_INET);
	assert_true(a->rr[0].ttl > 0);
	dns_answer_free(a);
	/* A trailing dot is the same name. */
	a = dns_lookup("a.t.test.", DNS_T_A, 0);
	assert_int_equal(a->status, DNS_OK);
	dns_answer_free(a);
	a = expect("six.t.test", DNS_T_AAAA, DNS_OK, 1);
	assert_string_equal(a->rr[0].addr_text, "2001:db8::6");
	assert_int_equal(a->rr[0].addr.ss_family, AF_INET6);
	dns_answer_free(a);
	a = expect("both.t.test", DNS_T_AAAA, DNS_OK, 1);
	assert_string_equal(a->rr[0].addr_text, "2001:db8::2");
	dns_answer_free(a);
	a = expect("mx.t.test", DNS_T_MX, DNS_OK, 2);
	for (int i = 0; i < 2; i++) {
		if (a->rr[i].pref == 10) {
			assert_string_equal(a->rr[i].host, "mail.t.test");
			p10++;
		} else if (a->rr[i].pref == 20) {
			assert_string_equal(a->rr[i].host, "mail2.t.test");
			p20++;
		}
	}
	assert_int_equal(p10 + p20, 2);
	assert_int_equal(p10, 1);
	dns_answer_free(a);
	a = expect("txt.t.test", DNS_T_TXT, DNS_OK, 1);
	assert_string_equal(a->rr[0].text, "hello world");
	dns_answer_free(a);
	a = expect("9.2.0.192.in-addr.arpa", DNS_T_PTR, DNS_OK, 1);
	assert_string_equal(a->rr[0].host, "ptr.t.test");
	dns_answer_free(a);
	a = expect("ns.t.test", DNS_T_NS, DNS_OK, 1);
	assert_string_equal(a->rr[0].host, "ns1.t.test");
	dns_answer_free(a);
	a = expect("alias.t.test", DNS_T_CNAME, DNS_OK, 1);
	assert_string_equal(a->rr[0].host, "a.t.test");
	dns_answer_free(a);
	/* A through a CNAME: the A record of the target. */
	a = expect("alias.t.test", DNS_T_A, DNS_OK, 1);
	assert_string_equal(a->rr[0].addr_text, "192.0.2.1");
	dns_answer_free(a);
	a = expect("_25._tcp.mail.t.test", DNS_T_TLSA, DNS_OK, 1);
	assert_int_equal(a->rr[0].tlsa_usage, 3);
	assert_int_equal(a->rr[0].tlsa_selector, 1);
	assert_int_equal(a->rr[0].tlsa_mtype, 1);
	assert_int_equal(a->rr[0].tlsa_len, 3);
	assert_memory_equal(a->rr[0].tlsa_data, "\xab\xcd\xef", 3);
	dns_answer_free(a);
}

static void
test_ptr(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct dns_answer *a;

	use_conf(conf_good);
	dns_init(NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.9", &sin.sin_addr);
	a = dns_lookup_ptr((struct sockaddr *)&sin);
	assert_int_equal(a->status, DNS_OK);
	assert_string_equal(a->qname, "9.2.0.192.in-addr.arpa");
	assert_string_equal(a->rr[0].host, "ptr.t.test");
	dns_answer_free(a);
	/* host-record makes the PTR of its address. */
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	a = dns_lookup_ptr((struct sockaddr *)&sin);
	assert_int_equal(a->status, DNS_OK);
	assert_string_equal(a->rr[0].host, "a.t.test");
	dns_answer_free(a);
	/* An IPv4-mapped IPv6 address is asked in in-addr.arpa. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &sin6.sin6_addr);
	a = dns_lookup_ptr((struct sockaddr *)&sin6);
	assert_string_equal(a->qname, "9.2.0.192.in-addr.arpa");
	assert_int_equal(a->status, DNS_OK);
	dns_answer_free(a);
	inet_pton(AF_INET6, "2001:db8::6", &sin6.sin6_addr);
	a = dns_lookup_ptr((struct sockaddr *)&sin6);
	assert_string_equal(a->qname, "6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	dns_answer_free(a);
	/* No PTR: NXDOMAIN in the local zone. */
	inet_pton(AF_INET, "192.0.2.77", &sin.sin_addr);
	a = dns_lookup_ptr((struct sockaddr *)&sin);
	assert_int_equal(a->status, DNS_NOTFOUND);
	dns_answer_free(a);
}

static void
test_classify(void **state)
{
	struct dns_answer *a;

	use_conf(conf_good);
	dns_init(NULL);
	/* The name does not exist. */
	a = expect("nosuch.t.test", DNS_T_A, DNS_NOTFOUND, 0);
	assert_non_null(strstr(a->reason, "name=nosuch.t.test type=A: Host not found"));
	dns_answer_free(a);
	dns_answer_free(expect("nosuch.t.test", DNS_T_MX, DNS_NOTFOUND, 0));
	/* It exists, without records of that type. */
	a = expect("a.t.test", DNS_T_MX, DNS_NODATA, 0);
	assert_non_null(strstr(a->reason, "type=MX"));
	dns_answer_free(a);
	dns_answer_free(expect("six.t.test", DNS_T_A, DNS_NODATA, 0));
	dns_answer_free(expect("a.t.test", DNS_T_AAAA, DNS_NODATA, 0));
	/* dnsmasq refuses names it does not serve (no upstream). */
	a = expect("other.example", DNS_T_A, DNS_TEMPFAIL, 0);
	assert_non_null(strstr(a->reason, "try again"));
	dns_answer_free(a);
	/* Invalid names are never sent. */
	dns_answer_free(expect("", DNS_T_A, DNS_INVALID, 0));
	dns_answer_free(expect("a..t.test", DNS_T_A, DNS_INVALID, 0));
	dns_answer_free(expect("a b.t.test", DNS_T_A, DNS_INVALID, 0));
	dns_answer_free(expect("0123456789012345678901234567890123456789"
	    "012345678901234567890123.t.test", DNS_T_A, DNS_INVALID, 0));
}

/* A server that never answers: DNS_TEMPFAIL after the tries allowed,
 * counted where they arrive. */
static void
test_silent_server(void **state)
{
	struct dns_answer *a;
	struct timeval t0, t1;

	drop_drain();
	use_conf(conf_drop1);
	dns_init(NULL);
	a = expect("a.t.test", DNS_T_A, DNS_TEMPFAIL, 0);
	assert_non_null(strstr(a->reason, "try again"));
	dns_answer_free(a);
	assert_int_equal(drop_drain(), 1);
	use_conf(conf_drop2);
	dns_init(NULL);
	dns_answer_free(expect("a.t.test", DNS_T_MX, DNS_TEMPFAIL, 0));
	assert_int_equal(drop_drain(), 2);
	/* resolv.conf without options: the bounded default (2 tries). */
	use_conf(conf_dropdef);
	dns_init(NULL);
	gettimeofday(&t0, NULL);
	dns_answer_free(expect("a.t.test", DNS_T_A, DNS_TEMPFAIL, 0));
	gettimeofday(&t1, NULL);
	assert_int_equal(drop_drain(), 2);
	print_message("default timeouts: TEMPFAIL after %.1f s\n",
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6);
}

/* Asynchronous queries, and lookups from tasks, on a loop. */
struct async_rec {
	int calls;
	int in_call;
	struct dns_answer *answer;
};

static int async_inside;

static void
async_cb(void *ctx, struct dns_answer *answer)
{
	struct async_rec *r = ctx;

	r->calls++;
	r->in_call = async_inside;
	r->answer = answer;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* run_until - run the loop until *flag >= want (at most a minute). */
static void
run_until(struct event_base *base, int *flag, int want)
{
	struct timeval tick = {0, 200000}, t0, now;

	gettimeofday(&t0, NULL);
	for (now = t0; *flag < want && now.tv_sec - t0.tv_sec < 60;
	    gettimeofday(&now, NULL)) {
		struct event *t = evtimer_new(base, tick_cb, NULL);

		/* A tick so that a quiet loop comes back to check. */
		evtimer_add(t, &tick);
		event_base_loop(base, EVLOOP_ONCE);
		event_free(t);
	}
	if (*flag < want)
		fail_msg("the loop did not get there (%d of %d)", *flag, want);
}

static void
test_async(void **state)
{
	struct event_base *base = event_base_new();
	struct async_rec r[3];

	memset(r, 0, sizeof(r));
	use_conf(conf_good);
	assert_int_equal(dns_init(base), 0);
	async_inside = 1;
	dns_query_async("a.t.test", DNS_T_A, 0, async_cb, &r[0]);
	dns_query_async("nosuch.t.test", DNS_T_A, 0, async_cb, &r[1]);
	/* Even an invalid name answers later, from the loop. */
	dns_query_async("bad..name", DNS_T_A, 0, async_cb, &r[2]);
	async_inside = 0;
	assert_int_equal(r[0].calls + r[1].calls + r[2].calls, 0);
	run_until(base, &r[0].calls, 1);
	run_until(base, &r[1].calls, 1);
	run_until(base, &r[2].calls, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].in_call, 0);
	}
	assert_int_equal(r[0].answer->status, DNS_OK);
	assert_int_equal(r[1].answer->status, DNS_NOTFOUND);
	assert_int_equal(r[2].answer->status, DNS_INVALID);
	for (int i = 0; i < 3; i++)
		dns_answer_free(r[i].answer);
	dns_init(NULL);
	/* The retired resolver is released by the loop. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

/* N tasks, each in dns_lookup() against the silent server: all N queries
 * are out at once (counted at the server) before any answer; then all
 * time out together. */
#define NTASKS 20

static int tasks_done;
static enum dns_status task_status[NTASKS];

static void
lookup_task(void *ctx)
{
	int i = (int)(intptr_t)ctx;
	char name[64];
	struct dns_answer *a;

	snprintf(name, sizeof(name), "n%d.t.test", i);
	a = dns_lookup(name, DNS_T_A, 0);
	task_status[i] = a->status;
	dns_answer_free(a);
	tasks_done++;
}

static void
test_tasks_concurrent(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval t0, t1;
	int arrived;

	drop_drain();
	use_conf(conf_drop1);
	assert_int_equal(dns_init(base), 0);
	tasks_done = 0;
	gettimeofday(&t0, NULL);
	for (int i = 0; i < NTASKS; i++)
		task_start(lookup_task, (void *)(intptr_t)i, NULL, 0);
	/* Every task is waiting, and every query has reached the server. */
	assert_int_equal(task_count(), NTASKS);
	assert_int_equal(tasks_done, 0);
	arrived = drop_drain();
	assert_int_equal(arrived, NTASKS);
	run_until(base, &tasks_done, NTASKS);
	gettimeofday(&t1, NULL);
	for (int i = 0; i < NTASKS; i++)
		assert_int_equal(task_status[i], DNS_TEMPFAIL);
	assert_int_equal(task_count(), 0);
	/* One try each (attempts:1): no query was sent again. */
	assert_int_equal(drop_drain(), 0);
	print_message("%d lookups from %d tasks, each timing out after 1 s: "
	    "%.1f s in all\n", NTASKS, NTASKS, (double)(t1.tv_sec - t0.tv_sec)
	    + (t1.tv_usec - t0.tv_usec) / 1e6);
	/* Tasks against dnsmasq get their answers through the loop. */
	use_conf(conf_good);
	assert_int_equal(dns_init(base), 0);
	tasks_done = 0;
	for (int i = 0; i < 3; i++)
		task_start(lookup_task, (void *)(intptr_t)i, NULL, 0);
	assert_int_equal(tasks_done, 0);
	run_until(base, &tasks_done, 3);
	/* n0..n2.t.test do not exist. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(task_status[i], DNS_NOTFOUND);
	dns_init(NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

/* The AD bit: the server (ours, answering by hand) sees AD and EDNS0 DO
 * in a DNSSEC query, and the answer's AD bit is reported. */
static int ad_query_ad, ad_query_do, ad_seen;

static void
ad_server(evutil_socket_t fd, short what, void *arg)
{
	unsigned char q[512], r[600];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	size_t qend = 12, len;
	unsigned arcount;

	if (n < 12)
		return;
	ad_seen++;
	ad_query_ad = (q[3] & 0x20) != 0;
	arcount = (unsigned)q[10] << 8 | q[11];
	/* The question: a name then type and class. */
	while (qend < (size_t)n && q[qend] != 0)
		qend += q[qend] + 1u;
	qend += 5;
	ad_query_do = arcount == 1 && (size_t)n >= qend + 11
	    && q[qend + 1] == 0 && q[qend + 2] == 41 && (q[qend + 7] & 0x80);
	/* The reply: header (QR, RD, RA, AD), the question, one A record. */
	memcpy(r, q, qend);
	r[2] = 0x81;
	r[3] = 0x80 | 0x20;
	r[4] = 0; r[5] = 1;
	/* "short.t.test": the header promises two answers, one follows. */
	r[6] = 0; r[7] = memcmp(q + 12, "\005short", 6) == 0 ? 2 : 1;
	r[8] = r[9] = r[10] = r[11] = 0;
	len = qend;
	memcpy(r + len, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04"
	    "\xc0\x00\x02\x35", 16);
	len += 16;
	(void)sendto(fd, r, len, 0, (struct sockaddr *)&from, fl);
}

static void
test_ad_bit(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev;
	struct async_rec r[3];

	memset(r, 0, sizeof(r));
	drop_drain();
	use_conf(conf_drop1);
	assert_int_equal(dns_init(base), 0);
	ev = event_new(base, drop_fd, EV_READ | EV_PERSIST, ad_server, NULL);
	event_add(ev, NULL);
	ad_seen = 0;
	dns_query_async("secure.t.test", DNS_T_A, DNS_FLAG_DNSSEC, async_cb, &r[0]);
	run_until(base, &r[0].calls, 1);
	assert_int_equal(ad_seen, 1);
	assert_true(ad_query_ad);
	assert_true(ad_query_do);
	assert_int_equal(r[0].answer->status, DNS_OK);
	assert_true(r[0].answer->authentic);
	assert_string_equal(r[0].answer->rr[0].addr_text, "192.0.2.53");
	/* Without the flag: neither AD nor an OPT record in the query. */
	dns_query_async("plain.t.test", DNS_T_A, 0, async_cb, &r[1]);
	run_until(base, &r[1].calls, 1);
	assert_int_equal(ad_seen, 2);
	assert_false(ad_query_ad);
	assert_false(ad_query_do);
	assert_int_equal(r[1].answer->status, DNS_OK);
	/* A reply that breaks off: a temporary failure, no records. */
	dns_query_async("short.t.test", DNS_T_A, 0, async_cb, &r[2]);
	run_until(base, &r[2].calls, 1);
	assert_int_equal(ad_seen, 3);
	assert_int_equal(r[2].answer->status, DNS_TEMPFAIL);
	assert_int_equal(r[2].answer->count, 0);
	assert_non_null(strstr(r[2].answer->reason, "malformed reply"));
	dns_answer_free(r[0].answer);
	dns_answer_free(r[1].answer);
	dns_answer_free(r[2].answer);
	event_free(ev);
	dns_init(NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_ad_bit),
		cmocka_unit_test(test_tasks_concurrent),
		cmocka_unit_test(test_silent_server),
	};

	if (geteuid() != 0) {
		printf("test_dns: skipped: needs root (network namespace)\n");
		return 77;
	}
	if (access(DNSMASQ, X_OK) < 0) {
		printf("test_dns: skipped: no %s (Debian dnsmasq-base)\n", DNSMASQ);
		return 77;
	}
	if (access("/etc/resolv.conf", F_OK) < 0) {
		printf("test_dns: skipped: no /etc/resolv.conf to bind-mount over\n");
		return 77;
	}
	if (unit_netns_enter() < 0) {
		printf("test_dns: skipped: unshare: %s\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

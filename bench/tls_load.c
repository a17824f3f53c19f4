/* SPDX-License-Identifier: MIT */
/* tls_load - the STARTTLS load generator of bench/tls.py: one process,
 * one epoll loop, non-blocking OpenSSL, to 127.0.0.1 only.
 *
 * usage: tls_load MODE -p PORT [-c CONC] [-n N] [-m MSGS] [-s SIZE]
 *                 [-t SECONDS] [-i TAG] [-H SECONDS] [-r]
 *
 * MODE:
 *   hs    N connections, CONC at a time: connect, banner, EHLO, STARTTLS,
 *         TLS handshake, QUIT (through TLS), 221, close.  With -r every
 *         slot first makes one untimed connection, and then offers the
 *         session (ticket) it got last on each connection: resumption.
 *   mail  N messages over CONC connections at a time, MSGS per
 *         connection: STARTTLS, EHLO again, then per message MAIL, RCPT,
 *         DATA (pipelined), the message (SIZE bytes of body, a unique
 *         "X-Bench-Id: TAG-K" header), 250; QUIT.
 *   idle  N connections, CONC at a time, each through STARTTLS and EHLO
 *         again; then prints "ready" and holds them all until stdin is
 *         closed or -H seconds have passed; then QUIT on each.
 *
 * -P PROCS (hs, mail): PROCS processes, each with its share of -c and
 * -n (message ids stay unique); the result line sums them (elapsed_s:
 * the longest; rate: all of them over it; CPU: all of them).
 *
 * Every loop is bounded: -t (default 300 s) bounds the whole run; a run
 * that did not finish in time reports timeout=1 and exits 1.  The last
 * line on stdout is the result: key=value pairs (done, failed, resumed,
 * msgs, elapsed_s, rate, user_s, sys_s: the client's own CPU over the
 * timed phase).  The certificate is not verified (the CertificateVerify
 * signature still is, as TLS 1.3 requires). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum mode { M_HS, M_MAIL, M_IDLE };
enum state {
	S_FREE, S_CONNECT, S_BANNER, S_EHLO1, S_STARTTLS, S_HANDSHAKE,
	S_EHLO2, S_MAILCMDS, S_DATAEND, S_IDLE, S_QUIT
};

struct conn {
	int fd;
	enum state st;
	SSL *ssl;
	int slot;
	int want_write;		/* handshake or SSL_write wants EPOLLOUT */
	int replies;		/* replies still expected in this state */
	int msgs_left;
	int counted;		/* a timed connection (not the -r priming) */
	char in[8192];
	size_t inlen;
	char hdr[256];		/* the next message's header */
	char *out;
	size_t outlen, outoff, outcap;
};

static enum mode mode;
static int port, conc = 20, total = 1000, per_conn = 10, msg_size = 1024;
static int resume, time_limit = 300, hold_s = 60;
static const char *tag = "tls";
static SSL_CTX *ctx;
static unsigned char **slot_der;
static int *slot_len;
static int ep;
static struct conn *conns;
static long started, done, failed, resumed, msgs, ready, priming;
static long msg_seq, tickets, seq_base;
static int procs = 1;
static int release;
static char *body;
static size_t body_len;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* new_session - keep the last ticket a slot got, serialised: each later
 * connection of the slot offers a fresh copy of it, as a client with an
 * external session cache does (Postfix's smtp and tlsmgr); OpenSSL marks
 * a session object it has resumed once as used. */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *c = SSL_get_app_data(ssl);
	int len = i2d_SSL_SESSION(sess, NULL);
	unsigned char *p;

	if (c == NULL || slot_der == NULL || len <= 0)
		return 0;
	tickets += c->counted;
	free(slot_der[c->slot]);
	slot_der[c->slot] = p = malloc((size_t)len);
	if (p == NULL)
		die("out of memory");
	slot_len[c->slot] = i2d_SSL_SESSION(sess, &p);
	return 0;
}

static void
ep_set(struct conn *c)
{
	struct epoll_event ev = {0};
	int w = c->st == S_CONNECT || c->want_write || c->outoff < c->outlen;

	ev.events = EPOLLIN | (w ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void
finish(struct conn *c, int ok)
{
	/* A session freed without a shutdown is marked not resumable. */
	if (c->ssl && ok)
		(void)SSL_shutdown(c->ssl);
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	c->st = S_FREE;
	if (c->counted) {
		if (ok)
			done++;
		else
			failed++;
	} else if (!ok)
		failed++;
	if (!ok)
		fprintf(stderr, "tls_load: connection failed\n");
	priming -= !c->counted;
}

static void
queue_out(struct conn *c, const char *buf, size_t len)
{
	if (c->outlen + len > c->outcap) {
		c->outcap = (c->outlen + len) * 2;
		if ((c->out = realloc(c->out, c->outcap)) == NULL)
			die("out of memory");
	}
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
}

/* flush - write what is queued; 0, or -1 on error. */
static int
flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		size_t n = c->outlen - c->outoff;
		int r;

		if (c->ssl) {
			r = SSL_write(c->ssl, c->out + c->outoff, (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE) {
					c->want_write = 1;
					return 0;
				}
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				return -1;
			}
		} else {
			r = (int)write(c->fd, c->out + c->outoff, n);
			if (r < 0) {
				if (errno == EAGAIN)
					return 0;
				return -1;
			}
		}
		c->want_write = 0;
		c->outoff += (size_t)r;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

static void
send_str(struct conn *c, const char *s)
{
	queue_out(c, s, strlen(s));
}

static void
send_message(struct conn *c)
{
	long k = seq_base + msg_seq++;

	send_str(c, "MAIL FROM:<sender@bench.test>\r\n"
	    "RCPT TO:<tlsbench@bench.test>\r\nDATA\r\n");
	c->st = S_MAILCMDS;
	c->replies = 3;
	snprintf(c->hdr, sizeof(c->hdr), "From: <sender@bench.test>\r\n"
	    "To: <tlsbench@bench.test>\r\nSubject: tls bench %ld\r\n"
	    "X-Bench-Id: %s-%ld\r\n\r\n", k, tag, k);
	/* c->hdr goes out behind the 354 (on_reply). */
	c->msgs_left--;
}

static int
start_tls(struct conn *c)
{
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL)
		return -1;
	SSL_set_app_data(c->ssl, c);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_connect_state(c->ssl);
	if (resume && slot_der[c->slot]) {
		const unsigned char *p = slot_der[c->slot];
		SSL_SESSION *sess = d2i_SSL_SESSION(NULL, &p, slot_len[c->slot]);

		if (sess == NULL)
			die("d2i_SSL_SESSION failed");
		SSL_set_session(c->ssl, sess);
		SSL_SESSION_free(sess);
	}
	c->st = S_HANDSHAKE;
	c->inlen = 0;
	return 0;
}

/* on_reply - one complete reply with code; 0 to go on, -1 to fail. */
static int
on_reply(struct conn *c, int code)
{
	switch (c->st) {
	case S_BANNER:
		if (code != 220)
			return -1;
		send_str(c, "EHLO client.bench.test\r\n");
		c->st = S_EHLO1;
		return 0;
	case S_EHLO1:
		if (code != 250)
			return -1;
		send_str(c, "STARTTLS\r\n");
		c->st = S_STARTTLS;
		return 0;
	case S_STARTTLS:
		if (code != 220)
			return -1;
		return start_tls(c);
	case S_EHLO2:
		if (code != 250)
			return -1;
		if (mode == M_IDLE) {
			c->st = S_IDLE;
			ready++;
			return 0;
		}
		send_message(c);
		return 0;
	case S_MAILCMDS:
		if (--c->replies > 0) {
			if (code != 250)
				return -1;
			return 0;
		}
		if (code != 354)
			return -1;
		send_str(c, c->hdr);
		queue_out(c, body, body_len);
		send_str(c, ".\r\n");
		c->st = S_DATAEND;
		return 0;
	case S_DATAEND:
		if (code != 250)
			return -1;
		msgs++;
		if (c->msgs_left > 0 && msg_seq < total) {
			send_message(c);
			return 0;
		}
		send_str(c, "QUIT\r\n");
		c->st = S_QUIT;
		return 0;
	case S_QUIT:
		if (code != 221)
			return -1;
		finish(c, 1);
		return 1;
	default:
		return -1;
	}
}

/* parse - complete replies in c->in; -1 on error, 1 when c is closed. */
static int
parse(struct conn *c)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(c->in + start, '\n', c->inlen - start)) != NULL) {
		size_t len = (size_t)(nl - (c->in + start)) + 1;
		char *line = c->in + start;

		start += len;
		if (len < 4)
			return -1;
		if (line[3] == '-')
			continue;
		{
			int code = atoi(line), r;
			enum state before = c->st;

			r = on_reply(c, code);
			if (r != 0)
				return r;
			if (before == S_STARTTLS)
				return 0;	/* the rest is TLS, read by OpenSSL */
		}
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	return 0;
}

static void
after_handshake(struct conn *c)
{
	if (c->counted && SSL_session_reused(c->ssl))
		resumed++;
	if (mode == M_HS) {
		send_str(c, "QUIT\r\n");
		c->st = S_QUIT;
	} else {
		send_str(c, "EHLO client.bench.test\r\n");
		c->st = S_EHLO2;
	}
}

static void
handle(struct conn *c, uint32_t events)
{
	if (c->st == S_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			finish(c, 0);
			return;
		}
		c->st = S_BANNER;
	}
	if (c->st == S_HANDSHAKE) {
		int r = SSL_do_handshake(c->ssl);

		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);

			c->want_write = e == SSL_ERROR_WANT_WRITE;
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				ERR_print_errors_fp(stderr);
				finish(c, 0);
				return;
			}
			ep_set(c);
			return;
		}
		c->want_write = 0;
		after_handshake(c);
	}
	/* read all there is */
	for (;;) {
		ssize_t n;

		if (c->inlen >= sizeof(c->in) - 1) {
			finish(c, 0);
			return;
		}
		if (c->ssl) {
			int r = SSL_read(c->ssl, c->in + c->inlen,
			    (int)(sizeof(c->in) - 1 - c->inlen));

			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);

				if (e == SSL_ERROR_WANT_READ)
					break;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->want_write = 1;
					break;
				}
				finish(c, 0);
				return;
			}
			n = r;
		} else {
			n = read(c->fd, c->in + c->inlen,
			    sizeof(c->in) - 1 - c->inlen);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				finish(c, 0);
				return;
			}
		}
		c->inlen += (size_t)n;
		{
			int had_ssl = c->ssl != NULL, r = parse(c);

			if (r < 0) {
				fprintf(stderr, "tls_load: unexpected reply: %.*s\n",
				    (int)c->inlen, c->in);
				finish(c, 0);
				return;
			}
			if (r > 0)
				return;
			if (!had_ssl && c->ssl) {
				/* STARTTLS accepted: handshake now. */
				handle(c, EPOLLOUT);
				return;
			}
		}
	}
	if (flush(c) < 0) {
		finish(c, 0);
		return;
	}
	ep_set(c);
}

static int
start_conn(struct conn *c, int counted)
{
	struct sockaddr_in sa = {0};
	struct epoll_event ev = {0};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->st = S_CONNECT;
	c->inlen = c->outlen = c->outoff = 0;
	c->want_write = 0;
	c->counted = counted;
	c->msgs_left = per_conn;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0
	    && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
	return 0;
}

static double
cpu_s(const struct timeval *tv)
{
	return tv->tv_sec + tv->tv_usec / 1e6;
}

/* loop - until no connection is open (or the deadline); 0 if in time. */
static int
loop(double deadline, int nslots, int counted, long *budget)
{
	struct epoll_event evs[256];

	for (;;) {
		int open = 0, n;

		for (int i = 0; i < nslots; i++) {
			struct conn *c = &conns[i];

			if (c->st == S_FREE && *budget > 0) {
				c->slot = i;
				if (start_conn(c, counted) < 0) {
					failed++;
					continue;
				}
				(*budget)--;
				started++;
				priming += !counted;
			}
			open += c->st != S_FREE;
		}
		if (open == 0)
			return 0;
		if (mode == M_IDLE && ready + failed >= total && !release) {
			char buf[64];
			struct epoll_event ev = {.events = EPOLLIN};

			printf("ready %ld\n", ready);
			fflush(stdout);
			/* hold: until stdin is closed or -H */
			epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
			for (double end = now() + hold_s; now() < end;) {
				int k = epoll_wait(ep, evs, 256, 200);
				int stop = 0;

				for (int j = 0; j < k; j++)
					if (evs[j].data.ptr == NULL)
						stop = read(0, buf, sizeof(buf)) <= 0;
				if (stop)
					break;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
			release = 1;
			for (int i = 0; i < nslots; i++)
				if (conns[i].st == S_IDLE) {
					send_str(&conns[i], "QUIT\r\n");
					conns[i].st = S_QUIT;
					if (flush(&conns[i]) < 0)
						finish(&conns[i], 0);
					else
						ep_set(&conns[i]);
				}
			deadline += hold_s;
			continue;
		}
		if (now() > deadline)
			return -1;
		n = epoll_wait(ep, evs, 256, 100);
		for (int j = 0; j < n; j++)
			if (evs[j].data.ptr)
				handle(evs[j].data.ptr, evs[j].events);
	}
}

/* workers - -P: fork procs copies with their shares, sum their lines. */
static int
workers(const char *mode_name)
{
	static const char *const keys[] = {"done", "failed", "resumed",
	    "tickets", "msgs", "ready", "user_s", "sys_s", "timeout"};
	double sum[9] = {0}, elapsed = 0;
	int fds[64], nk = 9, rc = 0;
	long n0 = total, c0 = conc, base = 0;
	pid_t pids[64];

	fflush(stdout);
	for (int w = 0; w < procs; w++) {
		int pfd[2];
		long nw = n0 / procs + (w < n0 % procs);

		if (pipe(pfd) < 0)
			die("pipe: %s", strerror(errno));
		if ((pids[w] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pids[w] == 0) {
			close(pfd[0]);
			dup2(pfd[1], 1);
			total = (int)nw;
			conc = (int)(c0 / procs + (w < c0 % procs));
			seq_base = base;
			procs = 1;
			return -1;	/* main goes on as this worker */
		}
		close(pfd[1]);
		fds[w] = pfd[0];
		base += nw;
	}
	for (int w = 0; w < procs; w++) {
		char buf[1024], *cp, *tok;
		ssize_t got = 0, r;
		int st;

		while (got < (ssize_t)sizeof(buf) - 1
		    && (r = read(fds[w], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
			got += r;
		buf[got > 0 ? got : 0] = 0;
		close(fds[w]);
		waitpid(pids[w], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = 1;
		for (cp = buf; (tok = strsep(&cp, " \n")) != NULL;) {
			char *eq = strchr(tok, '=');

			if (eq == NULL)
				continue;
			*eq = 0;
			if (strcmp(tok, "elapsed_s") == 0 && atof(eq + 1) > elapsed)
				elapsed = atof(eq + 1);
			for (int k = 0; k < nk; k++)
				if (strcmp(tok, keys[k]) == 0)
					sum[k] += atof(eq + 1);
		}
	}
	printf("mode=%s done=%.0f failed=%.0f resumed=%.0f tickets=%.0f "
	    "msgs=%.0f ready=%.0f elapsed_s=%.3f rate=%.1f user_s=%.3f "
	    "sys_s=%.3f timeout=%d procs=%d\n", mode_name, sum[0], sum[1],
	    sum[2], sum[3], sum[4], sum[5], elapsed, elapsed > 0 ?
	    (mode == M_MAIL ? sum[4] : sum[0]) / elapsed : 0.0, sum[6], sum[7],
	    sum[8] > 0, procs);
	return rc || sum[1] > 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	int ch, nslots, rc = 0;
	double t0, t1, deadline;
	struct rusage r0, r1;
	struct rlimit rl;
	long budget;

	if (argc < 2)
		die("usage: tls_load hs|mail|idle -p PORT [-c CONC] [-n N] "
		    "[-m MSGS] [-s SIZE] [-t S] [-i TAG] [-H S] [-r]");
	if (strcmp(argv[1], "hs") == 0)
		mode = M_HS;
	else if (strcmp(argv[1], "mail") == 0)
		mode = M_MAIL;
	else if (strcmp(argv[1], "idle") == 0)
		mode = M_IDLE;
	else
		die("unknown mode %s", argv[1]);
	optind = 2;
	while ((ch = getopt(argc, argv, "p:c:n:m:s:t:i:H:P:r")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'n': total = atoi(optarg); break;
		case 'm': per_conn = atoi(optarg); break;
		case 's': msg_size = atoi(optarg); break;
		case 't': time_limit = atoi(optarg); break;
		case 'i': tag = optarg; break;
		case 'H': hold_s = atoi(optarg); break;
		case 'P': procs = atoi(optarg); break;
		case 'r': resume = 1; break;
		default: die("bad option");
		}
	}
	if (port <= 0 || conc <= 0 || total <= 0 || per_conn <= 0)
		die("bad -p, -c, -n or -m");
	if (mode == M_IDLE)
		conc = total, procs = 1;
	if (procs > 1 && (procs > conc || procs > 64))
		die("-P: at most -c and 64 processes");
	if (procs > 1 && (rc = workers(argv[1])) >= 0)
		return rc;
	rc = 0;
	/* the body: lines of 76 characters */
	body = malloc((size_t)msg_size + 80);
	for (int i = 0; i < msg_size; i++)
		body[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n'
		    : (char)('a' + i % 26);
	body_len = (size_t)msg_size;
	if (body_len < 2 || body[body_len - 1] != '\n') {
		memcpy(body + body_len, "\r\n", 2);
		body_len += 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)conc + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)conc + 64 ? rl.rlim_max
		    : (rlim_t)conc + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
	    | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	nslots = conc;
	conns = calloc((size_t)nslots, sizeof(*conns));
	slot_der = calloc((size_t)nslots, sizeof(*slot_der));
	slot_len = calloc((size_t)nslots, sizeof(*slot_len));
	for (int i = 0; i < nslots; i++)
		conns[i].fd = -1;
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1: %s", strerror(errno));
	deadline = now() + time_limit;
	if (resume && mode == M_HS) {
		/* one untimed connection per slot: a session to offer */
		budget = nslots;
		if (loop(deadline, nslots, 0, &budget) < 0)
			rc = 1;
		for (int i = 0; i < nslots; i++)
			if (slot_der[i] == NULL)
				die("tls_load: slot %d got no session ticket", i);
	}
	started = 0;
	getrusage(RUSAGE_SELF, &r0);
	t0 = now();
	budget = mode == M_MAIL ? (total + per_conn - 1) / per_conn : total;
	if (rc == 0 && loop(deadline, nslots, 1, &budget) < 0)
		rc = 1;
	t1 = now();
	getrusage(RUSAGE_SELF, &r1);
	{
		long n = mode == M_MAIL ? msgs : mode == M_HS ? done : ready;

		printf("mode=%s done=%ld failed=%ld resumed=%ld tickets=%ld "
		    "msgs=%ld ready=%ld elapsed_s=%.3f rate=%.1f user_s=%.3f sys_s=%.3f "
		    "timeout=%d\n", argv[1], done, failed, resumed, tickets, msgs, ready,
		    t1 - t0, mode == M_IDLE ? 0.0 : n / (t1 - t0),
		    cpu_s(&r1.ru_utime) - cpu_s(&r0.ru_utime),
		    cpu_s(&r1.ru_stime) - cpu_s(&r0.ru_stime), rc);
	}
	return rc || failed ? 1 : 0;
}

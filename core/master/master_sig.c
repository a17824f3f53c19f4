/* SPDX-License-Identifier: MIT */
/* master_sig - the master's signals, turned into bits and a byte on a
 * self-pipe so that the poll() loop wakes up and handles them outside
 * signal context.
 *
 * SIGCHLD: reap; SIGHUP: reload; SIGTERM/SIGINT: stop (children get
 * SIGTERM, then SIGKILL after a bound); SIGQUIT: abort (children get
 * SIGKILL at once); SIGPIPE ignored. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "msg.h"

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_bits;
static volatile sig_atomic_t sig_term;

/* master_sig_handler - record and wake up. */
static void
master_sig_handler(int sig)
{
	int saved_errno = errno;
	char ch = 0;

	switch (sig) {
	case SIGCHLD:
		sig_bits |= MASTER_SIG_CHLD;
		break;
	case SIGHUP:
		sig_bits |= MASTER_SIG_HUP;
		break;
	case SIGQUIT:
		sig_bits |= MASTER_SIG_QUIT;
		sig_term = sig;
		break;
	default:
		sig_bits |= MASTER_SIG_TERM;
		if (sig_term == 0)
			sig_term = sig;
		break;
	}
	if (write(sig_pipe[1], &ch, 1) < 0) {
		/* Pipe full: the loop is awake anyway. */
	}
	errno = saved_errno;
}

void
master_sig_init(void)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT};
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		msg_fatal("pipe: %m");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sa.sa_handler = master_sig_handler;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			msg_fatal("sigaction %d: %m", sigs[i]);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		msg_fatal("sigaction SIGPIPE: %m");
}

int
master_sig_fd(void)
{
	return sig_pipe[0];
}

int
master_sig_take(int *termsig_r)
{
	char junk[64];
	sigset_t block, old;
	int bits;

	while (read(sig_pipe[0], junk, sizeof(junk)) > 0)
		continue;
	sigfillset(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	bits = sig_bits;
	sig_bits = 0;
	if (termsig_r)
		*termsig_r = sig_term;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return bits;
}

void
master_sig_child(void)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT,
	SIGPIPE};
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

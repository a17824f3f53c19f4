/* SPDX-License-Identifier: MIT */
/* smtpd_pool - a few worker threads for work that blocks (the fsync that
 * commits a queue file), so that the event loop never waits.  (The
 * client's reverse DNS goes through the resolver: smtpd_peer.c.)
 *
 * Jobs go in a FIFO; finished jobs go in a second FIFO and one byte on a
 * pipe wakes the loop, which runs each job's done() callback.  Several
 * commits in flight at once also let the file system batch their journal
 * commits.  The pool starts with a few threads and, when allowed
 * (smtpd_pool_grow_limit), adds one whenever a job arrives and no thread
 * is idle: a job stuck on a slow directory then never holds up the
 * others. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"

struct job {
	smtpd_job_fn work;
	smtpd_job_fn done;
	void *ctx;
	struct job *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct job *todo_head, *todo_tail;
static struct job *done_head, *done_tail;
static int pool_threads;		/* started */
static int pool_idle;			/* waiting for a job */
static int pool_queued;			/* jobs not yet taken */
static int pool_max;			/* grow limit (0: fixed size) */
static int wake_pipe[2] = {-1, -1};
static struct event *wake_event;

static void *
pool_worker(void *arg)
{
	for (;;) {
		struct job *j;
		int notify;

		pthread_mutex_lock(&pool_lock);
		pool_idle++;
		while (todo_head == NULL)
			pthread_cond_wait(&pool_cond, &pool_lock);
		pool_idle--;
		pool_queued--;
		j = todo_head;
		todo_head = j->next;
		if (todo_head == NULL)
			todo_tail = NULL;
		pthread_mutex_unlock(&pool_lock);

		j->work(j->ctx);

		pthread_mutex_lock(&pool_lock);
		j->next = NULL;
		notify = done_head == NULL;
		if (done_tail)
			done_tail->next = j;
		else
			done_head = j;
		done_tail = j;
		pthread_mutex_unlock(&pool_lock);
		if (notify) {
			char c = 1;

			while (write(wake_pipe[1], &c, 1) < 0 && errno == EINTR)
				;
		}
	}
	return arg;
}

/* pool_wakeup - run the done() callbacks of finished jobs on the loop. */
static void
pool_wakeup(evutil_socket_t fd, short what, void *arg)
{
	char drain[64];
	struct job *list, *j;

	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&pool_lock);
	list = done_head;
	done_head = done_tail = NULL;
	pthread_mutex_unlock(&pool_lock);
	while ((j = list) != NULL) {
		list = j->next;
		j->done(j->ctx);
		free(j);
	}
}

/* pool_start - one more worker (the caller holds pool_lock or runs
 * before any worker). */
static void
pool_start(void)
{
	pthread_t tid;
	int err;

	if ((err = pthread_create(&tid, NULL, pool_worker, NULL)) != 0) {
		errno = err;
		if (pool_threads > 0) {
			msg_warn("pthread_create: %m");
			return;
		}
		msg_fatal("pthread_create: %m");
	}
	pthread_detach(tid);
	pool_threads++;
}

void
smtpd_pool_init(int threads)
{
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		msg_fatal("pipe: %m");
	wake_event = event_new(smtpd_base, wake_pipe[0], EV_READ | EV_PERSIST,
	    pool_wakeup, NULL);
	event_add(wake_event, NULL);
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < threads; i++)
		pool_start();
	pthread_mutex_unlock(&pool_lock);
}

void
smtpd_pool_grow_limit(int max)
{
	pthread_mutex_lock(&pool_lock);
	pool_max = max;
	pthread_mutex_unlock(&pool_lock);
}

void
smtpd_pool_run(smtpd_job_fn work, smtpd_job_fn done, void *ctx)
{
	struct job *j = xmalloc(sizeof(*j));

	j->work = work;
	j->done = done;
	j->ctx = ctx;
	j->next = NULL;
	pthread_mutex_lock(&pool_lock);
	if (todo_tail)
		todo_tail->next = j;
	else
		todo_head = j;
	todo_tail = j;
	pool_queued++;
	if (pool_queued > pool_idle && pool_threads < pool_max)
		pool_start();
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

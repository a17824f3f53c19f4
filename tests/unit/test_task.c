/* SPDX-License-Identifier: MIT */
/* test_task - cooperative tasks: start and finish without waiting,
 * wait and wake, wake before wait, many interleaved tasks, the done
 * callback, nested tasks, the guard page, and task_count() back to 0. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "task.h"
#include "unit.h"

struct rec {
	int steps;		/* how far fn got */
	int done;		/* done() calls */
	int order;		/* when done ran (global counter) */
	struct task_wait w;
	struct task_wait w2;
	struct task *self;	/* task_current() seen inside */
	int inner;		/* nested: the inner task's steps */
};

static int done_seq;

static void
rec_done(void *ctx)
{
	struct rec *r = ctx;

	r->done++;
	r->order = ++done_seq;
}

static void
fn_nowait(void *ctx)
{
	struct rec *r = ctx;

	r->self = task_current();
	r->steps++;
}

static void
test_nowait(void **state)
{
	struct rec r = {0};

	assert_null(task_current());
	assert_int_equal(task_count(), 0);
	task_start(fn_nowait, &r, rec_done, 0);
	/* fn ran to its end inside task_start(), done was called there. */
	assert_int_equal(r.steps, 1);
	assert_int_equal(r.done, 1);
	assert_non_null(r.self);
	assert_null(task_current());
	assert_int_equal(task_count(), 0);
	/* done may be NULL. */
	memset(&r, 0, sizeof(r));
	task_start(fn_nowait, &r, NULL, 0);
	assert_int_equal(r.steps, 1);
	assert_int_equal(task_count(), 0);
}

static void
fn_wait_twice(void *ctx)
{
	struct rec *r = ctx;

	r->self = task_current();
	r->steps = 1;
	task_wait(&r->w);
	assert_ptr_equal(task_current(), r->self);
	r->steps = 2;
	task_wait(&r->w2);
	r->steps = 3;
}

static void
test_wait_wake(void **state)
{
	struct rec r = {0};
	struct task *t;

	task_wait_init(&r.w);
	task_wait_init(&r.w2);
	t = task_start(fn_wait_twice, &r, rec_done, 0);
	assert_non_null(t);
	assert_ptr_equal(t, r.self);
	assert_int_equal(r.steps, 1);
	assert_int_equal(r.done, 0);
	assert_int_equal(task_count(), 1);
	assert_null(task_current());
	assert_ptr_equal(r.w.task, t);
	/* Waking something else does not resume it. */
	task_wake(&r.w2);
	assert_int_equal(r.steps, 1);
	task_wake(&r.w);
	/* w2 was woken already: the task runs to its end. */
	assert_int_equal(r.steps, 3);
	assert_int_equal(r.done, 1);
	assert_int_equal(task_count(), 0);
	/* A second wake is harmless. */
	task_wake(&r.w);
	assert_int_equal(r.done, 1);
}

static void
fn_wake_first(void *ctx)
{
	struct rec *r = ctx;

	/* The answer came before the question was waited for. */
	task_wake(&r->w);
	task_wait(&r->w);
	r->steps = 1;
}

static void
test_wake_before_wait(void **state)
{
	struct rec r = {0};

	task_wait_init(&r.w);
	task_start(fn_wake_first, &r, rec_done, 0);
	assert_int_equal(r.steps, 1);
	assert_int_equal(r.done, 1);
	assert_int_equal(task_count(), 0);
}

#define MANY 200

static void
fn_many(void *ctx)
{
	struct rec *r = ctx;
	char big[4096];		/* use some stack on each task */
	int i;

	memset(big, (int)(((uintptr_t)r >> 4) & 0x7f), sizeof(big));
	for (i = 0; i < 3; i++) {
		r->steps++;
		task_wait_init(&r->w);
		task_wait(&r->w);
	}
	for (i = 0; i < (int)sizeof(big); i++)
		if (big[i] != big[0])
			fail_msg("task stack was overwritten");
	r->steps++;
}

static void
test_many_interleaved(void **state)
{
	static struct rec r[MANY];
	int i, round;

	memset(r, 0, sizeof(r));
	done_seq = 0;
	for (i = 0; i < MANY; i++)
		task_start(fn_many, &r[i], rec_done, 32 * 1024);
	assert_int_equal(task_count(), MANY);
	for (i = 0; i < MANY; i++)
		assert_int_equal(r[i].steps, 1);
	/* Wake them in reverse order, round after round: each advances one
	 * step per wake, independently of the others. */
	for (round = 1; round <= 3; round++) {
		for (i = MANY - 1; i >= 0; i--) {
			task_wake(&r[i].w);
			assert_int_equal(r[i].steps, round + 1);
			if (i > 0)
				assert_int_equal(r[i - 1].steps, round);
		}
	}
	for (i = 0; i < MANY; i++) {
		assert_int_equal(r[i].steps, 4);
		assert_int_equal(r[i].done, 1);
		/* Finished in the order of the last wake. */
		assert_int_equal(r[i].order, MANY - i);
	}
	assert_int_equal(task_count(), 0);
	/* Stacks come back from the free list: run another batch. */
	memset(r, 0, sizeof(r));
	for (i = 0; i < MANY; i++)
		task_start(fn_many, &r[i], rec_done, 32 * 1024);
	for (round = 0; round < 3; round++)
		for (i = 0; i < MANY; i++)
			task_wake(&r[i].w);
	for (i = 0; i < MANY; i++)
		assert_int_equal(r[i].done, 1);
	assert_int_equal(task_count(), 0);
}

static struct rec nested_inner;

static void
fn_inner(void *ctx)
{
	struct rec *r = ctx;

	r->self = task_current();
	r->steps = 1;
	task_wait(&r->w);
	r->steps = 2;
}

static void
fn_outer(void *ctx)
{
	struct rec *r = ctx;
	struct task *me = task_current();

	r->self = me;
	task_wait_init(&nested_inner.w);
	/* The inner task runs on its own stack and comes back here when it
	 * waits. */
	task_start(fn_inner, &nested_inner, rec_done, 0);
	assert_ptr_equal(task_current(), me);
	assert_int_equal(nested_inner.steps, 1);
	assert_ptr_not_equal(nested_inner.self, me);
	r->steps = 1;
	task_wait(&r->w);
	/* Woken from the main stack; now wake the inner task from here. */
	task_wake(&nested_inner.w);
	assert_ptr_equal(task_current(), me);
	r->inner = nested_inner.steps;
	r->steps = 2;
}

static void
test_nested(void **state)
{
	struct rec r = {0};

	memset(&nested_inner, 0, sizeof(nested_inner));
	task_wait_init(&r.w);
	task_start(fn_outer, &r, rec_done, 0);
	assert_null(task_current());
	assert_int_equal(r.steps, 1);
	assert_int_equal(task_count(), 2);
	task_wake(&r.w);
	assert_int_equal(r.steps, 2);
	assert_int_equal(r.inner, 2);
	assert_int_equal(nested_inner.done, 1);
	assert_int_equal(r.done, 1);
	/* The inner one finished first (woken by the outer one). */
	assert_true(nested_inner.order < r.order);
	assert_int_equal(task_count(), 0);
}

/* In a child: task_wait() outside a task aborts. */
static void
test_wait_outside_aborts(void **state)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct task_wait w;

		(void)freopen("/dev/null", "w", stderr);
		task_wait_init(&w);
		task_wait(&w);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static int probe_result;

static int
probe(void)
{
	return probe_result;
}

static void
fn_block(void *ctx)
{
	int *counted = ctx;

	counted[0] = task_blocking("a server, from a task", 0);
	counted[1] = task_blocking("a directory handle, from a task", 1);
}

/* task_blocking: a wait outside a task holds a running loop; inside a
 * task only an in-process handle does; without a running loop nothing
 * holds anything. */
static void
test_blocking_waits(void **state)
{
	long before = task_blocking_count();
	int counted[2] = {-1, -1};

	(void)state;
	assert_int_equal(task_blocking("no probe", 1), 0);
	task_loop_probe(probe);
	probe_result = 0;
	assert_int_equal(task_blocking("no loop running", 1), 0);
	probe_result = 1;
	assert_int_equal(task_blocking("the loop, outside a task", 0), 1);
	task_start(fn_block, counted, NULL, 0);
	assert_int_equal(counted[0], 0);
	assert_int_equal(counted[1], 1);
	assert_int_equal(task_blocking_count(), before + 2);
	task_loop_probe(NULL);
}

#if !defined(__SANITIZE_ADDRESS__)
static volatile char *guard_probe;

static void
fn_overflow(void *ctx)
{
	/* Touch just below the bottom of the stack: the guard page. */
	char here;
	size_t size = *(size_t *)ctx;

	guard_probe = &here;
	guard_probe -= size + 64;
	for (size_t i = 0; i < 2 * 4096; i += 512)
		guard_probe[-(long)i] = 1;
}

/* In a child: running off the stack is a SIGSEGV, not silent. */
static void
test_guard_page(void **state)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t size = 16 * 1024;

		signal(SIGSEGV, SIG_DFL);
		task_start(fn_overflow, &size, NULL, size);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nowait),
		cmocka_unit_test(test_wait_wake),
		cmocka_unit_test(test_wake_before_wait),
		cmocka_unit_test(test_many_interleaved),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_wait_outside_aborts),
		cmocka_unit_test(test_blocking_waits),
#if !defined(__SANITIZE_ADDRESS__)
		cmocka_unit_test(test_guard_page),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

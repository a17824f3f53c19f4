/* SPDX-License-Identifier: MIT */
/* task - cooperative tasks on ucontext stacks (see task.h).
 *
 * Each task has a stack of its own, mmap'd with a PROT_NONE guard page
 * below it.  Whoever runs a task (task_start(), task_wake(), possibly
 * from inside another task) swaps to it and is swapped back to when the
 * task waits or finishes; so tasks nest naturally: a task may start
 * another task, which runs on its own stack and returns to the first one
 * when it waits.
 *
 * A task never frees its own stack: when fn returns, the trampoline
 * marks the task finished and swaps back for the last time; the resumer
 * then calls done() and puts the stack on the free list.
 *
 * AddressSanitizer keeps its own idea of the current stack; every switch
 * is announced with __sanitizer_start_switch_fiber() and confirmed with
 * __sanitizer_finish_switch_fiber(), and a reused stack is unpoisoned. */
#include "postino_config.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "msg.h"
#include "mymalloc.h"
#include "task.h"

#if defined(__SANITIZE_ADDRESS__)
#define TASK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TASK_ASAN 1
#endif
#endif

#ifdef TASK_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define TASK_DEFAULT_STACK	(256 * 1024)
#define TASK_FREE_MAX		64	/* stacks kept for reuse */

struct task_stack {
	void *map;			/* the mapping, guard page first */
	size_t map_len;
	void *bottom;			/* lowest usable address */
	size_t size;			/* usable bytes */
	struct task_stack *next;	/* free list */
};

struct task {
	ucontext_t ctx;			/* the task's own context */
	ucontext_t return_ctx;		/* whoever resumed it last */
	struct task_stack *stack;
	task_fn *fn;
	void *fn_ctx;
	void (*done)(void *ctx);
	int finished;
	int running;			/* on the CPU or resuming another */
#ifdef TASK_ASAN
	void *fake_stack;		/* ASan's fake stack of the task */
	const void *return_bottom;	/* the resumer's stack */
	size_t return_size;
#endif
};

/* Per thread: a worker thread (smtpd_async.c, while it lasts) never sees
 * the main thread's task as its own. */
static __thread struct task *task_cur;
static int task_alive;
static struct task_stack *task_free_list;
static int task_free_count;
static size_t task_page;

/* task_stack_get - a stack of at least size bytes, reused when one of
 * that size is free. */
static struct task_stack *
task_stack_get(size_t size)
{
	struct task_stack **pp, *st;

	if (task_page == 0) {
		long pg = sysconf(_SC_PAGESIZE);

		task_page = pg > 0 ? (size_t)pg : 4096;
	}
	size = (size + task_page - 1) / task_page * task_page;
	for (pp = &task_free_list; (st = *pp) != NULL; pp = &st->next) {
		if (st->size == size) {
			*pp = st->next;
			st->next = NULL;
			task_free_count--;
#ifdef TASK_ASAN
			/* A finished task may leave poisoned frames behind. */
			__asan_unpoison_memory_region(st->bottom, st->size);
#endif
			return st;
		}
	}
	st = xmalloc(sizeof(*st));
	st->map_len = size + task_page;
	st->map = mmap(NULL, st->map_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (st->map == MAP_FAILED)
		msg_fatal("task: mmap stack of %zu bytes: %m", st->map_len);
	/* Stacks grow down: the guard page is the lowest one. */
	if (mprotect(st->map, task_page, PROT_NONE) < 0)
		msg_fatal("task: mprotect stack guard page: %m");
	st->bottom = (char *)st->map + task_page;
	st->size = size;
	st->next = NULL;
	return st;
}

static void
task_stack_put(struct task_stack *st)
{
	if (task_free_count >= TASK_FREE_MAX) {
		if (munmap(st->map, st->map_len) < 0)
			msg_warn("task: munmap stack: %m");
		free(st);
		return;
	}
	st->next = task_free_list;
	task_free_list = st;
	task_free_count++;
}

/* The switches, with ASan told about each one.  task_switch_in() runs on
 * the resumer's stack; task_switch_out() on the task's. */
static void
task_switch_in(struct task *t)
{
#ifdef TASK_ASAN
	void *fake = NULL;

	__sanitizer_start_switch_fiber(&fake, t->stack->bottom, t->stack->size);
#endif
	if (swapcontext(&t->return_ctx, &t->ctx) < 0)
		msg_panic("task: swapcontext: %m");
#ifdef TASK_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

static void
task_switch_out(struct task *t)
{
#ifdef TASK_ASAN
	/* A finished task never comes back: its fake stack can go. */
	__sanitizer_start_switch_fiber(t->finished ? NULL : &t->fake_stack,
	    t->return_bottom, t->return_size);
#endif
	if (swapcontext(&t->ctx, &t->return_ctx) < 0)
		msg_panic("task: swapcontext: %m");
#ifdef TASK_ASAN
	__sanitizer_finish_switch_fiber(t->fake_stack, &t->return_bottom,
	    &t->return_size);
#endif
}

/* task_trampoline - the first frame of every task. */
static void
task_trampoline(void)
{
	struct task *t = task_cur;

#ifdef TASK_ASAN
	__sanitizer_finish_switch_fiber(NULL, &t->return_bottom,
	    &t->return_size);
#endif
	t->fn(t->fn_ctx);
	t->finished = 1;
	task_switch_out(t);
	msg_panic("task: a finished task was resumed");
}

/* task_resume - run t until it waits or finishes; on finish, call done
 * and free it. */
static void
task_resume(struct task *t)
{
	struct task *prev = task_cur;

	if (t->running)
		msg_panic("task: resuming a task that is running");
	t->running = 1;
	task_cur = t;
	task_switch_in(t);
	task_cur = prev;
	t->running = 0;
	if (t->finished) {
		void (*done)(void *) = t->done;
		void *ctx = t->fn_ctx;

		task_stack_put(t->stack);
		free(t);
		task_alive--;
		if (done)
			done(ctx);
	}
}

struct task *
task_start(task_fn *fn, void *ctx, void (*done)(void *ctx),
    size_t stack_size)
{
	struct task *t = xcalloc(1, sizeof(*t));

	t->stack = task_stack_get(stack_size ? stack_size : TASK_DEFAULT_STACK);
	t->fn = fn;
	t->fn_ctx = ctx;
	t->done = done;
	if (getcontext(&t->ctx) < 0)
		msg_panic("task: getcontext: %m");
	t->ctx.uc_stack.ss_sp = t->stack->bottom;
	t->ctx.uc_stack.ss_size = t->stack->size;
	t->ctx.uc_link = NULL;		/* the trampoline never returns */
	makecontext(&t->ctx, task_trampoline, 0);
	task_alive++;
	task_resume(t);
	/* Valid until done runs: when fn finished already, t is gone, and the
	 * caller must not use the value (task.h). */
	return t;
}

struct task *
task_current(void)
{
	return task_cur;
}

void
task_wait_init(struct task_wait *w)
{
	w->task = NULL;
	w->woken = 0;
}

void
task_wait(struct task_wait *w)
{
	struct task *t = task_cur;

	if (t == NULL)
		msg_panic("task_wait: called outside a task");
	if (w->woken)
		return;
	if (w->task != NULL)
		msg_panic("task_wait: two tasks wait on the same thing");
	w->task = t;
	while (!w->woken)
		task_switch_out(t);
	w->task = NULL;
}

void
task_wake(struct task_wait *w)
{
	struct task *t = w->task;

	w->woken = 1;
	if (t == NULL)
		return;
	if (t == task_cur)
		msg_panic("task_wake: a task woke its own wait");
	if (t->running)
		return;			/* it resumes its resumer: sees woken */
	task_resume(t);
}

int
task_count(void)
{
	return task_alive;
}

/* Blocking waits inside the loop (task.h). */
static int (*task_in_loop)(void);
static long task_blocked;

void
task_loop_probe(int (*in_loop)(void))
{
	task_in_loop = in_loop;
}

int
task_blocking(const char *what, int in_process)
{
	if (task_in_loop == NULL || (task_cur != NULL && !in_process)
	    || !task_in_loop())
		return 0;
	if (task_blocked++ % 1000 == 0)
		msg_warn("blocking wait inside the event loop: %s (%ld so far)",
		    what, task_blocked);
	return 1;
}

long
task_blocking_count(void)
{
	return task_blocked;
}

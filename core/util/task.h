/* SPDX-License-Identifier: MIT */
/* task - cooperative tasks (coroutines) for event-driven daemons.
 *
 * A daemon serves many clients from one libevent loop.  Work that may
 * have to wait for another server (a DNS answer, a lookup in the lookup
 * service, a policy server) runs as a task: a function on a stack of its
 * own.  When it must wait it calls task_wait(); the loop goes on serving
 * everybody else, and the callback that receives the answer calls
 * task_wake(), which resumes the task where it stopped.  Code inside a
 * task is written as if it blocked: the restriction lists, cleanup's
 * address rewriting and the delivery agents need no callbacks.
 *
 * Nothing here runs threads: a task runs only while the loop has handed
 * it the CPU, so data shared with the loop needs no lock.
 *
 * Outside a task (command-line tools, tests, start-up code) task_current()
 * is NULL and libraries that would wait (dns.h, the lookup-service
 * client) run their own private loop until the answer is there: the same
 * call blocks there, which is what a tool wants.
 *
 * Stacks are allocated with a guard page below them (an overflow is a
 * SIGSEGV, never silent corruption) and reused from a free list.  Builds
 * with AddressSanitizer are told about every switch. */
#ifndef POSTINO_UTIL_TASK_H
#define POSTINO_UTIL_TASK_H

#include <stddef.h>

struct task;

typedef void task_fn(void *ctx);

/* task_start - run fn(ctx) on a new task.  fn runs at once, until it
 * returns or calls task_wait(); then task_start() returns.  When fn has
 * returned, done(ctx) is called (from the caller of task_start() when fn
 * finished without waiting, else from the task_wake() that resumed it for
 * the last time), and the task is freed.  done may be NULL.  Returns the
 * task (valid until done runs). stack_size 0 means the default (256 KiB). */
struct task *task_start(task_fn *fn, void *ctx, void (*done)(void *ctx),
    size_t stack_size);

/* task_current - the running task, or NULL on the main stack. */
struct task *task_current(void);

/* struct task_wait - one thing a task waits for.  Initialise with
 * task_wait_init() before handing it to the code that will wake it. */
struct task_wait {
	struct task *task;	/* the waiting task, NULL when none waits */
	int woken;		/* task_wake() has been called */
};

void task_wait_init(struct task_wait *w);

/* task_wait - in a task: suspend until task_wake(w) (returns at once when
 * it has already been called).  Must not be called outside a task
 * (aborts): callers check task_current() and take their blocking path. */
void task_wait(struct task_wait *w);

/* task_wake - mark w done; if a task is suspended in task_wait(w), resume
 * it now, and return when it waits again or finishes.  Called from event
 * callbacks (never from inside the task that waits on w). */
void task_wake(struct task_wait *w);

/* Blocking waits.  A daemon serves everybody from one loop, so a wait
 * for another server (DNS, the lookup service, a directory, a policy
 * server) is allowed there only inside a task.  The libraries that can
 * wait call task_blocking() on the path that would hold the loop; when
 * the daemon's loop is running (the skeleton registers a probe) it logs
 * "warning: blocking wait inside the event loop: WHAT" (the first time,
 * then every 1000th), which the end-to-end tests fail on.
 *
 * task_loop_probe - in_loop() says whether this process's event loop
 * is running now (in this thread and process: not a forked child, not
 * a worker thread).  NULL: no loop (tools, tests). */
void task_loop_probe(int (*in_loop)(void));

/* task_blocking - about to wait for WHAT without giving the loop the
 * CPU.  Outside a task that holds the loop; in_process: the wait holds
 * the process even inside a task (a directory handle opened in this
 * process).  Returns 1 when the wait holds the loop (and was counted). */
int task_blocking(const char *what, int in_process);

/* task_blocking_count - waits task_blocking() counted (tests). */
long task_blocking_count(void);

/* task_count - tasks alive (started, not finished): for statistics and
 * for tests that check nothing leaks. */
int task_count(void);

#endif

/* SPDX-License-Identifier: MIT */
/* task_event - what a task (core/util/task.h) waits for on a libevent
 * loop: a descriptor becoming ready, or time passing.  The loop serves
 * everybody else meanwhile.  Only inside a task. */
#ifndef POSTINO_MAIL_TASK_EVENT_H
#define POSTINO_MAIL_TASK_EVENT_H

struct event_base;

/* task_event_wait - wait until fd (-1: none) is ready for events
 * (EV_READ, EV_WRITE), at most ms milliseconds; returns the EV_* flags
 * that came (EV_TIMEOUT when the time ran out). */
short task_event_wait(struct event_base *base, int fd, short events,
    long ms);

/* task_sleep_ms - let the loop run for ms milliseconds. */
void task_sleep_ms(struct event_base *base, long ms);

#endif

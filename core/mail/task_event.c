/* SPDX-License-Identifier: MIT */
/* task_event - a task's wait for a descriptor or a timer (task_event.h). */
#include "postino_config.h"

#include <event2/event.h>

#include "msg.h"
#include "task.h"
#include "task_event.h"

struct ev_wait {
	struct task_wait w;
	short what;
};

static void
ev_ready(evutil_socket_t fd, short what, void *arg)
{
	struct ev_wait *ew = arg;

	(void)fd;
	ew->what = what;
	task_wake(&ew->w);
}

short
task_event_wait(struct event_base *base, int fd, short events, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct ev_wait ew;
	struct event *ev;

	task_wait_init(&ew.w);
	ew.what = 0;
	if ((ev = event_new(base, fd, events, ev_ready, &ew)) == NULL)
		msg_fatal("event_new: %m");
	event_add(ev, &tv);
	task_wait(&ew.w);
	event_free(ev);
	return ew.what;
}

void
task_sleep_ms(struct event_base *base, long ms)
{
	(void)task_event_wait(base, -1, 0, ms);
}

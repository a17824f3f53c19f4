/* SPDX-License-Identifier: MIT */
/* master_wakeup - the wakeup column: every N seconds the master writes a
 * 'W' trigger to the service's own endpoint (qmgr: public/qmgr), as a
 * client would.  Never blocks: a service whose backlog is full misses
 * that wakeup.  "N?" (wake only after first use) is treated as N with
 * the first trigger a full period after start.  inet services get no
 * wakeups (a warning at start). */
#include "postino_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mail_server.h"
#include "master.h"
#include "msg.h"
#include "stringops.h"

void
master_wakeup_init(struct master_serv *serv, time_t now)
{
	serv->next_wakeup = 0;
	if (serv->ent->wakeup <= 0)
		return;
	if (serv->ent->type == MASTER_TYPE_INET) {
		msg_warn("%s, line %d: service %s: wakeup is not supported for "
		    "inet services; ignored", serv->ent->file, serv->ent->line,
		    serv->label);
		return;
	}
	serv->next_wakeup = now + serv->ent->wakeup;
}

/* trigger - write one wakeup byte to the service. */
static void
trigger(struct master_serv *serv)
{
	struct sockaddr_un sun;
	char ch = MAIL_SERVER_TRIG_WAKEUP;
	int fd, dgram = serv->ent->type == MASTER_TYPE_UNIX_DGRAM;

	if (serv->ent->type == MASTER_TYPE_FIFO) {
		/* The master holds the fifo open read-write. */
		if (serv->listen_count > 0
		    && write(serv->listen_fd[0], &ch, 1) < 0 && errno != EAGAIN)
			msg_warn("service %s: wakeup: %m", serv->label);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, serv->sock_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK
	    | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		msg_warn("service %s: wakeup: socket: %m", serv->label);
		return;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno != EAGAIN)
			msg_warn("service %s: wakeup: connect %s: %m", serv->label,
			    serv->sock_path);
	} else if (write(fd, &ch, 1) < 0 && errno != EAGAIN) {
		msg_warn("service %s: wakeup: write: %m", serv->label);
	}
	close(fd);
}

long
master_wakeup_run(time_t now)
{
	long next = -1;

	for (struct master_serv *serv = master_services; serv; serv = serv->next) {
		if (serv->next_wakeup == 0)
			continue;
		if (now >= serv->next_wakeup) {
			if (serv->throttle_until == 0 && serv->listen_count > 0
			    && serv->nproc > 0)
				trigger(serv);
			serv->next_wakeup = now + serv->ent->wakeup;
		}
		if (next < 0 || serv->next_wakeup - now < next)
			next = (long)(serv->next_wakeup - now);
	}
	return next;
}

/* SPDX-License-Identifier: MIT */
/* deliver_run - one delivery request as local(8) and virtual(8) both
 * handle it: open the queue file (read-only, no symlinks, content inside
 * the file), defer every recipient with a clear reason when that fails,
 * else scan the Delivered-To headers and deliver each recipient with the
 * agent's own function.  Answers go out with the agent's batch. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_server.h"
#include "htable.h"
#include "delivery.h"
#include "msg.h"

int
local_msg_open(struct local_msg *msg, int fd, struct deliver_request *dr,
    double t_start, double t_active, const char *relay)
{
	struct stat st;

	memset(msg, 0, sizeof(*msg));
	msg->dr = dr;
	msg->t_start = t_start;
	msg->t_active = t_active > 0 && t_active <= t_start ? t_active : t_start;
	msg->fd = open(dr->queue_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (msg->fd < 0 || fstat(msg->fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || dr->content_offset < 0 || dr->content_len < 0
	    || dr->content_offset + dr->content_len > st.st_size) {
		char text[512];

		snprintf(text, sizeof(text), "cannot read queue file %s: %s",
		    dr->queue_path, msg->fd < 0 ? strerror(errno) :
		    "content outside the file");
		msg_warn("%s: %s", dr->queue_id, text);
		for (int i = 0; i < dr->rcpt_count; i++) {
			local_log_line(msg, dr->rcpt[i].address,
			    dr->rcpt[i].orig_rcpt, "4.3.0", "deferred", text);
			agent_server_status(fd, dr->request_id, i, "4.3.0",
			    "deferred", "delayed", text, relay);
		}
		if (msg->fd >= 0)
			close(msg->fd);
		msg->fd = -1;
		return -1;
	}
	msg->t_conn = local_now();
	msg->delivered = delivered_scan(msg->fd, dr->content_offset,
	    dr->content_len);
	msg->dups = htable_create(64);
	return 0;
}

void
local_msg_close(struct local_msg *msg)
{
	delivered_free(&msg->delivered);
	htable_free(&msg->dups, NULL);
	if (msg->fd >= 0)
		close(msg->fd);
	msg->fd = -1;
}

void
local_request_run(int fd, struct deliver_request *dr, double t_start,
    double t_active, const char *relay,
    void (*deliver_one)(struct local_msg *msg, int index, int fd))
{
	struct local_msg msg;

	if (local_msg_open(&msg, fd, dr, t_start, t_active, relay) < 0)
		return;
	for (int i = 0; i < dr->rcpt_count; i++)
		deliver_one(&msg, i, fd);
	local_msg_close(&msg);
}

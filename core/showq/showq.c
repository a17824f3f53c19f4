/* SPDX-License-Identifier: MIT */
/* showq - the queue listing for users who may not read the queue
 * (Postfix's showq(8)).
 *
 * master.cf:	showq  unix  n  -  n  -  -  showq
 *
 * Listens on $queue_directory/public/showq and runs as $mail_owner.  Per
 * connection the client (postqueue -p / -j, mailq) sends one request
 * line, "p" (Postfix's mailq layout) or "j" (JSON lines); showq writes
 * the listing (queue_list.c, the same code postqueue uses when it reads
 * the queue itself) and closes the connection.  Who may ask is decided
 * by postqueue (authorized_mailq_users): public/ is reachable only for
 * root, $mail_owner and $setgid_group, which postqueue is set-gid to.
 *
 * One client at a time, served from the accept callback of the daemon
 * skeleton (mail_server.h), each bounded: the request must arrive within
 * SHOWQ_REQUEST_TIMEOUT, every write must make progress within
 * SHOWQ_WRITE_TIMEOUT and the whole listing must be done within
 * SHOWQ_TOTAL_TIMEOUT; a client that is slower loses its connection
 * (the listing is then incomplete).  Between clients the skeleton
 * watches the master (drain, stop) and max_idle / max_use. */
#include "postino_config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_server.h"
#include "msg.h"
#include "mymalloc.h"
#include "queue_list.h"

#define SHOWQ_REQUEST_TIMEOUT	10	/* seconds for the request line */
#define SHOWQ_WRITE_TIMEOUT	10	/* seconds per write */
#define SHOWQ_TOTAL_TIMEOUT	120	/* seconds per client */

/* showq_request - read the request line; 'p', 'j' or 0 (bad or slow). */
static int
showq_request(int fd)
{
	char line[8];
	size_t len = 0;
	ssize_t got;

	while (len < sizeof(line)) {
		if ((got = read(fd, line + len, sizeof(line) - len)) <= 0)
			return 0;
		len += (size_t)got;
		if (memchr(line, '\n', len) != NULL)
			break;
	}
	if (len != 2 || line[1] != '\n' || (line[0] != 'p' && line[0] != 'j'))
		return 0;
	return line[0];
}

/* showq_serve - one client. */
static void
showq_serve(int fd)
{
	struct timeval tv;
	char *err = NULL;
	FILE *fp;
	int request;

	tv.tv_sec = SHOWQ_REQUEST_TIMEOUT;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	tv.tv_sec = SHOWQ_WRITE_TIMEOUT;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((request = showq_request(fd)) == 0) {
		msg_warn("bad or missing request from client: closing");
		close(fd);
		return;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		msg_warn("fdopen: %m");
		close(fd);
		return;
	}
	if (queue_list_write(fp, request == 'j' ? QUEUE_LIST_JSON
	    : QUEUE_LIST_TEXT, time(NULL) + SHOWQ_TOTAL_TIMEOUT, &err) < 0) {
		msg_warn("queue listing: %s", err);
		free(err);
	}
	(void)fclose(fp);
}

/* showq_accept - serve one client to the end, then hand it back. */
static void
showq_accept(int fd, const struct sockaddr *sa, int salen, int index)
{
	int fl;

	(void)sa;
	(void)salen;
	(void)index;
	/* Served with blocking I/O, bounded by the socket timeouts. */
	if ((fl = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	showq_serve(fd);
	mail_server_disconnect();
}

int
main(int argc, char **argv)
{
	static const struct mail_server_ops ops = {
		.accept = showq_accept,
	};

	mail_server_init(argc, argv, "showq");
	return mail_server_run(&ops);
}

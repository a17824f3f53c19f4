/* SPDX-License-Identifier: MIT */
/* mail_public - connections to the public/ and private/ services (see
 * mail_public.h).
 *
 * postdrop, postqueue, postsuper, sendmail and postino each used to build
 * the socket address themselves; the only differences were which byte
 * they send and what they say when the service is not there, which stay
 * with the callers. */
#include "postino_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mail_public.h"
#include "mail_vars.h"
#include "stringops.h"

char *
mail_public_path(const char *service)
{
	return concatenate(var_queue_directory, "/public/",
	    service, (char *)0);
}

/* mail_socket_connect - connect to path, and free path. */
static int
mail_socket_connect(char *path, int sock_flags)
{
	struct sockaddr_un sun;
	int fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		free(path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	free(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | sock_flags,
	    0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
mail_public_connect(const char *service, int sock_flags)
{
	return mail_socket_connect(mail_public_path(service), sock_flags);
}

int
mail_private_connect(const char *service, int sock_flags)
{
	return mail_socket_connect(concatenate(var_queue_directory,
	    "/private/", service, (char *)0), sock_flags);
}

int
mail_public_trigger(const char *service, char request, int sock_flags)
{
	int fd, ok, saved;

	if ((fd = mail_public_connect(service, sock_flags)) < 0)
		return -1;
	ok = send(fd, &request, 1, MSG_NOSIGNAL) == 1;
	saved = errno;
	close(fd);
	errno = saved;
	return ok ? 0 : -1;
}

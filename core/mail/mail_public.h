/* SPDX-License-Identifier: MIT */
/* mail_public - client side of the public/ and private/ services
 * ($queue_directory/public/SERVICE, UNIX stream sockets): the commands'
 * wake-up and flush requests to qmgr and pickup, and the showq listing. */
#ifndef POSTINO_MAIL_MAIL_PUBLIC_H
#define POSTINO_MAIL_MAIL_PUBLIC_H

/* mail_public_path - $queue_directory/public/SERVICE; malloc'd. */
char *mail_public_path(const char *service);

/* mail_public_connect - a stream connection to public/SERVICE; returns
 * the descriptor (close-on-exec), or -1 with errno set (ENAMETOOLONG: the
 * path does not fit a socket address).  sock_flags are more socket(2)
 * type flags, e.g. SOCK_NONBLOCK. */
int mail_public_connect(const char *service, int sock_flags);

/* mail_private_connect - the same for private/SERVICE (daemons talking to
 * the internal services, e.g. smtpd to anvil). */
int mail_private_connect(const char *service, int sock_flags);

/* mail_public_trigger - best effort: one request byte (a
 * MAIL_SERVER_TRIG_* letter) to public/SERVICE; 0 sent, -1 not (errno
 * set).  Never raises SIGPIPE. */
int mail_public_trigger(const char *service, char request, int sock_flags);

#endif

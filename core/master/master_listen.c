/* SPDX-License-Identifier: MIT */
/* master_listen - the listening endpoints of a service.
 *
 * inet: "[host]:port", "host:port" or "port" (a number or a name from
 * /etc/services).  Without a host the service listens on each address of
 * inet_interfaces ("all": the wildcard address; "loopback-only":
 * 127.0.0.1 and ::1; otherwise the listed addresses), for the protocols
 * in inet_protocols.  IPv6 sockets are IPv6-only so that IPv4 and IPv6
 * wildcards can both be bound.  SO_REUSEADDR everywhere; a bind that
 * finds the address in use (an old child of a killed master still has
 * it) is retried for MASTER_BIND_WAIT seconds.
 *
 * unix, pass: a stream socket $queue_directory/private/NAME (mode 0600)
 * or public/NAME (0666); unix-dgram: a datagram socket there; fifo: a
 * named pipe (0600 / 0622).  Owned by mail_owner when the master runs as
 * root.  Every descriptor is non-blocking and close-on-exec. */
#include "postino_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mail_vars.h"
#include "master.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define MASTER_BIND_WAIT	10	/* seconds of EADDRINUSE retries */
#define MASTER_BACKLOG		1024

/* add_addrs - resolve host (NULL: wildcard) and port into serv->addr. */
static int
add_addrs(struct master_serv *serv, const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
		msg_error("%s, line %d: service \"%s\": cannot resolve %s%s%s: %s",
		    serv->ent->file, serv->ent->line, serv->ent->name,
		    host ? host : "", host ? " port " : "port ", port,
		    gai_strerror(err));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
		    || !mail_vars_inet_family(ai->ai_family))
			continue;
		if (serv->naddr >= MASTER_MAX_LISTEN)
			break;
		/* getaddrinfo may return an address twice. */
		for (int i = 0; i < serv->naddr; i++)
			if (serv->addr_len[i] == ai->ai_addrlen
			    && memcmp(&serv->addr[i], ai->ai_addr, ai->ai_addrlen) == 0)
				goto next;
		memcpy(&serv->addr[serv->naddr], ai->ai_addr, ai->ai_addrlen);
		serv->addr_len[serv->naddr++] = ai->ai_addrlen;
next:	;
	}
	freeaddrinfo(res);
	return 0;
}

/* addr_text - "1.2.3.4:25" or "[::1]:25". */
static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* prepare_inet - split the service name and resolve it. */
static int
prepare_inet(struct master_serv *serv)
{
	char *name = xstrdup(serv->ent->name), *host = NULL, *port, *cp;
	char *ifaces, *tok, text[INET6_ADDRSTRLEN + 16];
	struct buf *key;
	int rc = 0;

	if (name[0] == '[' && (cp = strchr(name, ']')) != NULL && cp[1] == ':') {
		*cp = 0;
		host = name + 1;
		port = cp + 2;
	} else if ((cp = strrchr(name, ':')) != NULL) {
		*cp = 0;
		host = name;
		port = cp + 1;
	} else {
		port = name;
	}
	if (*port == 0) {
		msg_error("%s, line %d: inet service \"%s\": no port",
		    serv->ent->file, serv->ent->line, serv->ent->name);
		free(name);
		return -1;
	}
	if (host && *host) {
		rc = add_addrs(serv, host, port);
	} else {
		ifaces = xstrdup(var_inet_interfaces);
		cp = ifaces;
		while (rc == 0 && (tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
			if (strcasecmp(tok, "all") == 0) {
				rc = add_addrs(serv, NULL, port);
			} else if (strcasecmp(tok, "loopback-only") == 0) {
				if (mail_vars_inet_family(AF_INET))
					rc = add_addrs(serv, "127.0.0.1", port);
				if (rc == 0 && mail_vars_inet_family(AF_INET6))
					rc = add_addrs(serv, "::1", port);
			} else {
				size_t len = strlen(tok);

				if (tok[0] == '[' && len > 2 && tok[len - 1] == ']') {
					tok[len - 1] = 0;
					tok++;
				}
				rc = add_addrs(serv, tok, port);
			}
		}
		free(ifaces);
	}
	free(name);
	if (rc < 0)
		return -1;
	if (serv->naddr == 0) {
		msg_error("%s, line %d: inet service \"%s\": no address to listen "
		    "on (inet_interfaces = %s, inet_protocols = %s)",
		    serv->ent->file, serv->ent->line, serv->ent->name,
		    var_inet_interfaces, var_inet_protocols);
		return -1;
	}
	key = buf_new(64, BUF_NOLIMIT);
	buf_puts(key, "inet");
	for (int i = 0; i < serv->naddr; i++) {
		addr_text(&serv->addr[i], text, sizeof(text));
		buf_printf(key, " %s", text);
	}
	serv->addr_key = xstrdup(buf_str(key));
	buf_free(&key);
	return 0;
}

int
master_listen_prepare(struct master_serv *serv)
{
	struct master_ent *ent = serv->ent;
	char text[INET6_ADDRSTRLEN + 16];

	serv->naddr = 0;
	serv->listen_count = 0;
	if (ent->type == MASTER_TYPE_INET) {
		if (prepare_inet(serv) < 0)
			return -1;
		addr_text(&serv->addr[0], text, sizeof(text));
		serv->label = concatenate("\"", ent->name, "\" (", text,
		    serv->naddr > 1 ? ", ..." : "", ")", (char *)0);
		return 0;
	}
	serv->sock_path = concatenate(var_queue_directory, "/",
	    ent->private_ ? "private/" : "public/", ent->name, (char *)0);
	if (ent->type != MASTER_TYPE_FIFO
	    && strlen(serv->sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		msg_error("%s, line %d: socket path %s is too long (at most %zu "
		    "bytes)", ent->file, ent->line, serv->sock_path,
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	serv->addr_key = concatenate(master_type_name(ent->type), " ",
	    serv->sock_path, (char *)0);
	serv->label = concatenate("\"", ent->name, "\" (",
	    ent->private_ ? "private/" : "public/", ent->name, ")", (char *)0);
	return 0;
}

/* fix_owner - mode, and mail_owner as owner when root. */
static int
fix_owner(struct master_serv *serv, mode_t mode)
{
	if (chmod(serv->sock_path, mode) < 0) {
		msg_error("chmod %s: %m", serv->sock_path);
		return -1;
	}
	if (master_is_root && chown(serv->sock_path, master_owner_uid,
	    master_owner_gid) < 0) {
		msg_error("chown %s: %m", serv->sock_path);
		return -1;
	}
	return 0;
}

/* open_inet - one socket per address. */
static int
open_inet(struct master_serv *serv)
{
	char text[INET6_ADDRSTRLEN + 16];
	int fd, on = 1, tries;

	for (int i = 0; i < serv->naddr; i++) {
		addr_text(&serv->addr[i], text, sizeof(text));
		fd = socket(serv->addr[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK
		    | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			if (errno == EAFNOSUPPORT && serv->naddr > 1)
				continue;
			msg_error("service %s: socket for %s: %m", serv->label, text);
			return -1;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
			msg_warn("setsockopt SO_REUSEADDR %s: %m", text);
		if (serv->addr[i].ss_family == AF_INET6
		    && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
			msg_warn("setsockopt IPV6_V6ONLY %s: %m", text);
		for (tries = 0;; tries++) {
			if (bind(fd, (struct sockaddr *)&serv->addr[i],
			    serv->addr_len[i]) == 0)
				break;
			if (errno == EADDRINUSE && tries < MASTER_BIND_WAIT * 5) {
				if (tries == 0)
					msg_info("service %s: %s in use; waiting up to "
					    "%d seconds", serv->label, text,
					    MASTER_BIND_WAIT);
				struct timespec ts = {0, 200 * 1000 * 1000};

				nanosleep(&ts, NULL);
				continue;
			}
			if (errno == EADDRNOTAVAIL && serv->naddr > 1
			    && serv->addr[i].ss_family == AF_INET6) {
				/* No IPv6 on this host: "all" still works. */
				close(fd);
				fd = -1;
				break;
			}
			msg_error("service %s: bind %s: %m", serv->label, text);
			close(fd);
			return -1;
		}
		if (fd < 0)
			continue;
		if (listen(fd, MASTER_BACKLOG) < 0) {
			msg_error("service %s: listen %s: %m", serv->label, text);
			close(fd);
			return -1;
		}
		serv->listen_fd[serv->listen_count++] = fd;
	}
	if (serv->listen_count == 0) {
		msg_error("service %s: no usable address", serv->label);
		return -1;
	}
	return 0;
}

/* open_local - unix, pass, unix-dgram. */
static int
open_local(struct master_serv *serv)
{
	struct sockaddr_un sun;
	int dgram = serv->ent->type == MASTER_TYPE_UNIX_DGRAM;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, serv->sock_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK
	    | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		msg_error("service %s: socket: %m", serv->label);
		return -1;
	}
	if (unlink(serv->sock_path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %m", serv->sock_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		msg_error("service %s: bind %s: %m%s", serv->label, serv->sock_path,
		    errno == ENOENT ? " (run \"postino check\" to create the "
		    "queue directories)" : "");
		close(fd);
		return -1;
	}
	if (fix_owner(serv, serv->ent->private_ ? 0600 : 0666) < 0
	    || (!dgram && listen(fd, MASTER_BACKLOG) < 0)) {
		if (!dgram)
			msg_error("service %s: listen: %m", serv->label);
		close(fd);
		return -1;
	}
	serv->listen_fd[serv->listen_count++] = fd;
	return 0;
}

/* open_fifo - a named pipe, held open read-write so it never sees EOF. */
static int
open_fifo(struct master_serv *serv)
{
	int fd;

	if (unlink(serv->sock_path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %m", serv->sock_path);
	if (mkfifo(serv->sock_path, 0600) < 0) {
		msg_error("service %s: mkfifo %s: %m", serv->label, serv->sock_path);
		return -1;
	}
	if (fix_owner(serv, serv->ent->private_ ? 0600 : 0622) < 0)
		return -1;
	if ((fd = open(serv->sock_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		msg_error("service %s: open %s: %m", serv->label, serv->sock_path);
		return -1;
	}
	serv->listen_fd[serv->listen_count++] = fd;
	return 0;
}

int
master_listen_open(struct master_serv *serv)
{
	int rc = -1;

	switch (serv->ent->type) {
	case MASTER_TYPE_INET:
		rc = open_inet(serv);
		break;
	case MASTER_TYPE_FIFO:
		rc = open_fifo(serv);
		break;
	case MASTER_TYPE_UNIX:
	case MASTER_TYPE_UNIX_DGRAM:
	case MASTER_TYPE_PASS:
		rc = open_local(serv);
		break;
	}
	if (rc < 0)
		master_listen_close(serv);
	return rc;
}

void
master_listen_close(struct master_serv *serv)
{
	for (int i = 0; i < serv->listen_count; i++)
		close(serv->listen_fd[i]);
	serv->listen_count = 0;
}

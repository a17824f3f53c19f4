/* SPDX-License-Identifier: MIT */
/* local - the local delivery agent: process set-up, the connection loop
 * and one delivery request at a time.
 *
 * Under the master (mail_server.h: POSTINO_LISTEN_FDS set) the listening
 * socket is the first one the master passes, and reload/stop follow that
 * contract (the request in hand is always finished first).  Without the
 * master, for tests and manual runs, "-S path" makes local listen on that
 * path itself.  Each accepted connection (from
 * qmgr) carries a stream of requests (deliver_request.h); requests are
 * handled one at a time and answered with one status list per
 * recipient, then "done=1".  Several local processes may accept on the
 * same socket.
 *
 * Options without the master: -c DIR (configuration directory),
 * -o name=value, -S path, -v (verbose), -1 (serve one connection, exit).
 * local stays root when started as root (master.cf unpriv=n): it needs
 * to become each recipient.
 *
 * Logs (as "local"): one line per leaf delivery in Postfix's shape
 * (local_report.c) and warnings for protocol errors. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "deliver_request.h"
#include "local.h"
#include "mail_conf.h"
#include "mail_server.h"
#include "map.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#ifdef LOCAL_HAVE_CLEANUP
#include "cleanup/cleanup.h"
#endif

struct local_conf local_conf;

/* Started by the master (mail_server.h) rather than with -S. */
static int under_master;

/* local_now - wall-clock time in seconds with microseconds. */
double
local_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* conf_mask - a "command, file, forward"-style list to bits. */
static int
conf_mask(const char *param, const char *const *names, const int *bits)
{
	char *save = xstrdup(mail_conf_str(param));
	char *bp = save, *tok;
	int mask = 0;

	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		int i;

		lowercase(tok);
		for (i = 0; names[i]; i++)
			if (strcmp(tok, names[i]) == 0)
				break;
		if (names[i])
			mask |= bits[i];
		else
			msg_warn("%s: unknown keyword \"%s\" ignored", param, tok);
	}
	free(save);
	return mask;
}

/* alias_owner - the owner of an alias table's file (commands and files
 * in the alias database run with it); 0 when not a file. */
static uid_t
alias_owner(const char *title)
{
	char *type, *name, *path;
	struct stat st;
	uid_t uid = 0;

	if (map_split_type(title, "hash", &type, &name) < 0)
		return 0;
	if (strcmp(type, "hash") == 0 || strcmp(type, "btree") == 0)
		path = concatenate(name, ".db", (char *)0);
	else
		path = xstrdup(name);
	if (path[0] == '/' && stat(path, &st) == 0)
		uid = st.st_uid;
	free(path);
	free(type);
	free(name);
	return uid;
}

/* local_conf_init - read the parameters local uses. */
static void
local_conf_init(void)
{
	static const char *const exp_names[] = {"alias", "forward", "include", NULL};
	static const int exp_bits[] = {LOCAL_EXP_ALIAS, LOCAL_EXP_FORWARD,
	LOCAL_EXP_INCLUDE};
	static const char *const dlv_names[] = {"command", "file", "forward", NULL};
	static const int dlv_bits[] = {LOCAL_DELIV_COMMAND, LOCAL_DELIV_FILE,
	LOCAL_DELIV_FORWARD};
	static const char *const lock_names[] = {"fcntl", "dotlock", "flock", NULL};
	static const int lock_bits[] = {1, 2, 0};
	struct local_conf *c = &local_conf;
	char *save, *bp, *tok;
	const char *privs;
	struct passwd *pw;
	int lk;

	c->is_root = (geteuid() == 0);
	c->cmd_mask = conf_mask("allow_mail_to_commands", exp_names, exp_bits);
	c->file_mask = conf_mask("allow_mail_to_files", exp_names, exp_bits);
	c->deliv_mask = conf_mask("prepend_delivered_header", dlv_names, dlv_bits);
	lk = conf_mask("mailbox_delivery_lock", lock_names, lock_bits);
	c->lock_fcntl = (lk & 1) != 0;
	c->lock_dotlock = (lk & 2) != 0;
	c->owner_special = mail_conf_bool("owner_request_special");
	c->expand_owner = mail_conf_bool("expand_owner_alias");
	c->dup_limit = mail_conf_int("duplicate_filter_limit");
	c->size_limit = mail_conf_int("mailbox_size_limit");
	c->cmd_time_limit = mail_conf_time("command_time_limit", 's');
	if (c->cmd_time_limit <= 0)
		c->cmd_time_limit = 1000;
	c->delimiter = xstrdup(mail_conf_str("recipient_delimiter"));
	c->myorigin = xstrdup(mail_conf_str("myorigin"));
	c->myhostname = xstrdup(mail_conf_str("myhostname"));
	c->fwd_filter = xstrdup(mail_conf_str("forward_expansion_filter"));
	c->cmd_filter = xstrdup(mail_conf_str("command_expansion_filter"));
	c->forward_path = xstrdup(mail_conf_raw("forward_path") ?
	    mail_conf_raw("forward_path") : "");
	c->mailbox_command = xstrdup(mail_conf_raw("mailbox_command") ?
	    mail_conf_raw("mailbox_command") : "");
	c->luser_relay = xstrdup(mail_conf_raw("luser_relay") ?
	    mail_conf_raw("luser_relay") : "");
	c->home_mailbox = xstrdup(mail_conf_str("home_mailbox"));
	c->spool_dir = xstrdup(mail_conf_str("mail_spool_directory"));
	c->shell = *mail_conf_str("local_command_shell") ?
	    xstrdup(mail_conf_str("local_command_shell")) : "/bin/sh";

	save = xstrdup(mail_conf_str("mydestination"));
	bp = save;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		if (strchr(tok, ':') || tok[0] == '/')
			continue;	/* tables and files: not supported here */
		c->mydest = xreallocarray(c->mydest, (size_t)c->mydest_count + 1,
		    sizeof(*c->mydest));
		c->mydest[c->mydest_count++] = lowercase(xstrdup(tok));
	}
	free(save);

	save = xstrdup(mail_conf_str("alias_maps"));
	bp = save;
	while ((tok = mystrtok(&bp, ", \t\r\n")) != NULL) {
		char *err = NULL;
		struct map *m;
		const char *title = tok;

		if (strncmp(title, "proxy:", 6) == 0)
			title += 6;	/* opened directly, as Postfix does */
		m = map_open(title, O_RDONLY, MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE
		    | MAP_FLAG_NO_REGSUB, &err);
		free(err);
		if (m == NULL)
			continue;
		c->alias_maps = xreallocarray(c->alias_maps,
		    (size_t)c->alias_count + 1, sizeof(*c->alias_maps));
		c->alias_titles = xreallocarray(c->alias_titles,
		    (size_t)c->alias_count + 1, sizeof(*c->alias_titles));
		c->alias_owner = xreallocarray(c->alias_owner,
		    (size_t)c->alias_count + 1, sizeof(*c->alias_owner));
		c->alias_maps[c->alias_count] = m;
		c->alias_titles[c->alias_count] = xstrdup(title);
		c->alias_owner[c->alias_count] = alias_owner(title);
		c->alias_count++;
	}
	free(save);

	privs = mail_conf_str("default_privs");
	if ((pw = getpwnam(privs)) != NULL) {
		c->nobody_uid = pw->pw_uid;
		c->nobody_gid = pw->pw_gid;
	} else if (c->is_root) {
		msg_fatal("default_privs: unknown user \"%s\"", privs);
	} else {
		c->nobody_uid = getuid();
		c->nobody_gid = getgid();
	}
	if (c->is_root && c->nobody_uid == 0)
		msg_fatal("default_privs: \"%s\" must not be a privileged user", privs);
#ifdef LOCAL_HAVE_CLEANUP
	cleanup_init();		/* forwarded mail goes through cleanup */
#endif
}

/* reply_status - one recipient's status list to qmgr. */
static void
reply_status(int fd, long request_id, int index, const char *dsn,
    const char *status, const char *action, const char *text)
{
	struct deliver_status ds;
	struct attr_list *al = attr_list_new();
	char *text_copy = xstrdup(text), relay[] = "local";

	memset(&ds, 0, sizeof(ds));
	ds.rcpt_index = index;
	strlcpy(ds.dsn, dsn, sizeof(ds.dsn));
	ds.status = status;
	ds.action = action;
	ds.text = text_copy;
	ds.relay = relay;
	deliver_status_to_attr(request_id, &ds, al);
	if (attr_write(fd, al) < 0 && errno != EPIPE)
		msg_warn("write status to qmgr: %m");
	attr_list_free(&al);
	free(text_copy);
}

/* lower_domain - the address with its domain folded to lower case. */
static char *
lower_domain(const char *addr)
{
	char *copy = xstrdup(addr);
	char *at = strrchr(copy, '@');

	if (at)
		lowercase(at + 1);
	return copy;
}

/* deliver_one - one recipient of a request. */
static void
deliver_one(struct local_msg *msg, int index, int fd)
{
	struct deliver_rcpt *r = msg->dr->rcpt + index;
	struct local_result res;
	struct local_ctx ctx;
	char *rcpt = lower_domain(r->address);
	const char *status = "deferred", *action = "delayed";
	long dups_before;

	memset(&res, 0, sizeof(res));
	res.text = buf_new(128, 4096);
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = msg;
	ctx.res = &res;
	ctx.rcpt_index = index;
	ctx.orig_rcpt = *r->orig_rcpt ? r->orig_rcpt : r->address;
	ctx.top_rcpt = rcpt;
	ctx.rcpt = rcpt;
	ctx.sender = msg->dr->sender;
	dups_before = msg->dup_hits;
	local_recipient(&ctx);

	if (res.leaves == 0 && msg->dup_hits > dups_before) {
		/* Everything this recipient expands to was already delivered
		 * in this request (duplicate filter): done, as Postfix. */
		strlcpy(res.dsn, "2.0.0", sizeof(res.dsn));
		buf_set(res.text, "duplicate delivery suppressed");
	} else if (res.leaves == 0) {
		/* Nothing reported: should not happen; never claim success. */
		res.stat = LOCAL_DEFER;
		strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
		buf_set(res.text, "internal error: no delivery status");
		local_log_line(msg, rcpt, ctx.orig_rcpt, res.dsn, "deferred",
		    buf_str(res.text));
	}
	switch (res.stat) {
	case LOCAL_SENT:
		status = "sent";
		action = "delivered";
		break;
	case LOCAL_BOUNCE:
		status = "bounced";
		action = "failed";
		break;
	case LOCAL_DEFER:
		status = "deferred";
		action = "delayed";
		break;
	}
	reply_status(fd, msg->dr->request_id, index, res.dsn, status, action,
	    buf_str(res.text));
	buf_free(&res.text);
	free(rcpt);
}

/* handle_request - one message: open the queue file, deliver each
 * recipient, answer. */
static void
handle_request(int fd, struct deliver_request *dr, double t_start,
    double t_active)
{
	struct local_msg msg;
	struct stat st;

	memset(&msg, 0, sizeof(msg));
	msg.dr = dr;
	msg.t_start = t_start;
	msg.t_active = t_active > 0 && t_active <= t_start ? t_active : t_start;
	msg.fd = open(dr->queue_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (msg.fd < 0 || fstat(msg.fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || dr->content_offset < 0 || dr->content_len < 0
	    || dr->content_offset + dr->content_len > st.st_size) {
		char text[512];

		snprintf(text, sizeof(text), "cannot read queue file %s: %s",
		    dr->queue_path, msg.fd < 0 ? strerror(errno) :
		    "content outside the file");
		msg_warn("%s: %s", dr->queue_id, text);
		for (int i = 0; i < dr->rcpt_count; i++) {
			local_log_line(&msg, dr->rcpt[i].address,
			    dr->rcpt[i].orig_rcpt, "4.3.0", "deferred", text);
			reply_status(fd, dr->request_id, i, "4.3.0", "deferred",
			    "delayed", text);
		}
		if (msg.fd >= 0)
			close(msg.fd);
		return;
	}
	msg.t_conn = local_now();
	msg.delivered = delivered_scan(msg.fd, dr->content_offset,
	    dr->content_len);
	msg.dups = htable_create(64);
	for (int i = 0; i < dr->rcpt_count; i++)
		deliver_one(&msg, i, fd);
	delivered_free(&msg.delivered);
	htable_free(&msg.dups, NULL);
	close(msg.fd);
}

/* wait_readable - wait for a request on fd; under the master also watch
 * for reload/stop.  1 readable, 0 the master says stop or drain. */
static int
wait_readable(int fd)
{
	for (;;) {
		struct pollfd p[3];
		int n = 0;

		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		if (under_master) {
			p[n++] = (struct pollfd){.fd = mail_server_notify_fd(),
			.events = POLLIN};
			if (mail_server_status_fd() >= 0)
				p[n++] = (struct pollfd){.fd = mail_server_status_fd(),
				.events = POLLIN};
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("poll: %m");
		}
		if (under_master && mail_server_event() != MAIL_SERVER_NONE)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

/* serve - one connection from qmgr: requests until EOF (or until the
 * master tells us to go: the request in hand is always finished). */
static void
serve(int fd)
{
	struct buf *inbuf = buf_new(4096, 0);
	struct attr_list *al = attr_list_new();

	for (;;) {
		const char *err;
		struct deliver_request *dr;
		struct attr_list *done;
		double t_start, t_active;
		const char *v;
		int n;

		if (inbuf->len == 0 && !wait_readable(fd))
			break;
		n = attr_read(fd, inbuf, al, -1, &err);
		if (n == 0)
			break;
		if (n < 0) {
			msg_warn("read request from qmgr: %s", err);
			break;
		}
		t_start = local_now();
		if ((dr = deliver_request_from_attr(al, &err)) == NULL) {
			msg_warn("malformed delivery request from qmgr: %s", err);
			break;
		}
		v = attr_get(al, "active_time");
		t_active = v ? strtod(v, NULL) : 0;
		handle_request(fd, dr, t_start, t_active);
		done = attr_list_new();
		attr_addf(done, "request_id", "%ld", dr->request_id);
		attr_add(done, "done", "1");
		if (attr_write(fd, done) < 0)
			msg_warn("write to qmgr: %m");
		attr_list_free(&done);
		deliver_request_free(&dr);
	}
	attr_list_free(&al);
	buf_free(&inbuf);
}

/* listen_path - -S: a listening socket of our own (tests). */
static int
listen_path(const char *path)
{
	struct sockaddr_un sun;
	char *tmp = concatenate(path, ".tmp", (char *)0);
	int fd;

	/* Bound and listening under a temporary name, then renamed: the
	 * path never names a socket that refuses connections. */
	if (strlen(tmp) >= sizeof(sun.sun_path))
		msg_fatal("socket path too long: %s", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, tmp, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal("socket: %m");
	(void)unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		msg_fatal("bind %s: %m", tmp);
	if (listen(fd, 64) < 0)
		msg_fatal("listen %s: %m", tmp);
	if (rename(tmp, path) < 0)
		msg_fatal("rename %s to %s: %m", tmp, path);
	free(tmp);
	return fd;
}

static void
usage(void)
{
	msg_fatal("usage: local [-v1] [-c config_dir] [-o name=value] [-S socket_path]");
}

int
main(int argc, char **argv)
{
	const char *sock_path = NULL;
	int once = 0, lfd = -1, ch;

	if (getenv(MAIL_SERVER_ENV_LISTEN_FDS) != NULL) {
		/* Started by the master (mail_server.h contract). */
		under_master = 1;
		mail_server_init(argc, argv, "local");
		local_conf_init();
		mail_server_ready();
		if (mail_server_listen_count() < 1)
			msg_fatal("no listening socket from the master");
	} else {
		msg_init("local", 1);
		signal(SIGPIPE, SIG_IGN);
		while ((ch = getopt(argc, argv, "c:o:S:v1")) != -1) {
			switch (ch) {
			case 'c':
				mail_conf_set_dir(optarg);
				break;
			case 'o': {
				char *copy = xstrdup(optarg), *eq = strchr(copy, '=');

				if (eq == NULL)
					usage();
				*eq = 0;
				mail_conf_override(copy, eq + 1);
				free(copy);
				break;
			}
			case 'S':
				sock_path = optarg;
				break;
			case 'v':
				msg_verbose++;
				break;
			case '1':
				once = 1;
				break;
			default:
				usage();
			}
		}
		if (sock_path == NULL)
			usage();
		mail_conf_read(0);
		mail_server_log_init();
		msg_stderr_enable(1);
		local_conf_init();
		lfd = listen_path(sock_path);
	}
	umask(077);

	for (;;) {
		int cfd;

		if (under_master) {
			if (mail_server_listen_count() < 1)
				break;
			lfd = mail_server_listen_fd(0);
			if (!wait_readable(lfd))
				break;
		}
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED
			    || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			msg_fatal("accept: %m");
		}
		/* The connection is served with blocking I/O. */
		(void)fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) & ~O_NONBLOCK);
		serve(cfd);
		close(cfd);
		if (once)
			break;
		if (under_master && mail_server_event() != MAIL_SERVER_NONE)
			break;
	}
	return 0;
}

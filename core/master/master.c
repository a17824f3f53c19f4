/* SPDX-License-Identifier: MIT */
/* master - the resident process: reads master.cf, owns every listening
 * socket, runs each service's processes, restarts the dead (throttled),
 * re-reads the configuration on SIGHUP and stops on SIGTERM.
 *
 * Usage: master [-dtvw] [-c config_dir]
 *	-c DIR	configuration directory (also exported as MAIL_CONFIG)
 *	-d	stay in the foreground: keep stdio and the session, log to
 *		stderr too ("postino start-fg", systemd Type=simple)
 *	-t	test: exit 0 when no master is running, 1 when one is
 *	-v	verbose logging
 *	-w	detach: a foreground process waits until the background
 *		master has finished initialising, then exits 0 (or 1 when
 *		initialisation failed); "postino start" uses this
 * Without -d or -w the master runs in the calling process in a new
 * session with stdio on /dev/null.
 *
 * The pid file $queue_directory/pid/master.pid holds the pid and an
 * exclusive flock for as long as the master lives: two masters cannot
 * run on one queue, and "postino status" tests the lock.
 *
 * Reload (SIGHUP): main.cf and master.cf are checked first; a broken file
 * is reported and the running configuration kept.  Listening sockets
 * whose address did not change are kept open (no client is refused);
 * every running process is told to drain (SIGHUP, see mail_server.h) and
 * new processes start with the new configuration.
 *
 * Stop (SIGTERM, SIGINT): listening sockets are closed, children get
 * SIGTERM, then SIGKILL after MASTER_STOP_WAIT seconds; the pid file is
 * removed.  Abort (SIGQUIT): children get SIGKILL at once.
 *
 * Logs: "daemon started -- version X, configuration DIR", "reload --
 * version X, configuration DIR", "terminating on signal N", and the
 * warnings of master_spawn. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/resource.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "mail_version.h"
#include "master.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define MASTER_STOP_WAIT	10	/* seconds before SIGKILL at stop */
#define MASTER_POLL_MAX		10	/* longest sleep, seconds */

struct master_serv *master_services;
struct master_child *master_children;
int master_is_root;
uid_t master_owner_uid;
gid_t master_owner_gid;
int master_stopping;

static struct master_ent **master_ents;
static char *pid_path;
static int pid_fd = -1;
static int init_pipe = -1;		/* -w: tell the waiting parent */

/* usage - complain and exit. */
static void NORETURN
usage(void)
{
	msg_fatal("usage: master [-dtvw] [-c config_dir]");
}

/* conf_path - DIR/NAME, malloc'd. */
static char *
conf_path(const char *name)
{
	return concatenate(mail_conf_dir(), "/", name, (char *)0);
}

/* read_config - check and read main.cf and master.cf; 0 or -1 (errors
 * reported; nothing changed). */
static int
read_config(struct master_ent ***ents_r)
{
	char *main_cf = conf_path("main.cf"), *master_cf = conf_path("master.cf");
	struct master_ent **ents;
	int errors;

	if ((errors = master_ent_check_main(main_cf, 0, NULL)) > 0) {
		msg_error("%s: %d error%s", main_cf, errors, errors > 1 ? "s" : "");
		free(main_cf);
		free(master_cf);
		return -1;
	}
	ents = master_ent_read(master_cf, &errors);
	if (errors > 0) {
		msg_error("%s: %d error%s", master_cf, errors, errors > 1 ? "s" : "");
		master_ent_free_all(&ents);
		free(main_cf);
		free(master_cf);
		return -1;
	}
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_MASTER);
	free(main_cf);
	free(master_cf);
	*ents_r = ents;
	return 0;
}

/* lookup_owner - mail_owner's ids (root only); -1 when unknown. */
static int
lookup_owner(void)
{
	const char *owner = var_mail_owner;
	struct passwd *pw;

	if (!master_is_root)
		return 0;
	if ((pw = getpwnam(owner)) == NULL) {
		msg_error("mail_owner \"%s\" is not a user on this system: create "
		    "it, or set mail_owner in %s/main.cf", owner, mail_conf_dir());
		return -1;
	}
	if (pw->pw_uid == 0) {
		msg_error("mail_owner \"%s\" has uid 0: it must be an unprivileged "
		    "user", owner);
		return -1;
	}
	master_owner_uid = pw->pw_uid;
	master_owner_gid = pw->pw_gid;
	return 0;
}

/* service_path - the program a service runs. */
static char *
service_path(const struct master_ent *ent)
{
	if (ent->command[0] == '/')
		return xstrdup(ent->command);
	return concatenate(var_daemon_directory, "/", ent->command,
	    (char *)0);
}

/* free_serv - release a service (its sockets must be closed or moved). */
static void
free_serv(struct master_serv *serv)
{
	master_listen_close(serv);
	free(serv->path);
	free(serv->label);
	free(serv->sock_path);
	free(serv->addr_key);
	free(serv);
}

/* build_services - services for ents; listeners are taken over from old
 * (same address) or opened.  At start a failure is fatal; at reload the
 * service is skipped. */
static struct master_serv *
build_services(struct master_ent **ents, struct master_serv *old, int fatal)
{
	struct master_serv *list = NULL, **tail = &list, *serv, *o;
	time_t now = time(NULL);

	for (int i = 0; ents[i]; i++) {
		if (master_ent_disabled(ents[i]) || master_ent_embedded(ents[i]))
			continue;
		serv = xcalloc(1, sizeof(*serv));
		serv->ent = ents[i];
		serv->path = service_path(ents[i]);
		serv->maxproc = master_ent_maxproc(ents[i]);
		if (master_listen_prepare(serv) < 0)
			goto fail;
		for (o = old; o; o = o->next) {
			if (o->listen_count > 0 && strcmp(o->addr_key, serv->addr_key) == 0) {
				memcpy(serv->listen_fd, o->listen_fd, sizeof(o->listen_fd));
				serv->listen_count = o->listen_count;
				o->listen_count = 0;
				break;
			}
		}
		if (o == NULL && master_listen_open(serv) < 0)
			goto fail;
		master_wakeup_init(serv, now);
		*tail = serv;
		tail = &serv->next;
		continue;
fail:
		if (fatal)
			msg_fatal("cannot start service \"%s\" (%s, line %d)",
			    ents[i]->name, ents[i]->file, ents[i]->line);
		msg_error("service \"%s\" (%s, line %d) not started",
		    ents[i]->name, ents[i]->file, ents[i]->line);
		free_serv(serv);
	}
	return list;
}

/* pid_running - the pid of a running master, 0 if none. */
static long
pid_running(const char *path)
{
	char buf[32];
	ssize_t n;
	long pid = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		if (str_to_long(trimblanks(skipblanks(buf)), &pid) < 0)
			pid = 0;
	}
	close(fd);
	return pid > 0 ? pid : 1;
}

/* pid_lock - create and lock the pid file; fatal if a master runs. */
static void
pid_lock(void)
{
	struct stat fst, pst;
	char num[32];
	long other;

	pid_path = concatenate(var_queue_directory,
	    "/pid/master.pid", (char *)0);
	for (int tries = 0; tries < 10; tries++) {
		if ((pid_fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
			msg_fatal("open %s: %m (run \"postino check\" to create the "
			    "queue directories)", pid_path);
		if (flock(pid_fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK)
				msg_fatal("lock %s: %m", pid_path);
			other = pid_running(pid_path);
			msg_fatal("the Postino mail system is already running "
			    "(master pid %ld, lock file %s)", other, pid_path);
		}
		/* A stopping master may have removed the file meanwhile. */
		if (fstat(pid_fd, &fst) == 0 && stat(pid_path, &pst) == 0
		    && fst.st_ino == pst.st_ino && fst.st_dev == pst.st_dev)
			break;
		close(pid_fd);
		pid_fd = -1;
	}
	if (pid_fd < 0)
		msg_fatal("cannot lock %s", pid_path);
	snprintf(num, sizeof(num), "%10ld\n", (long)getpid());
	if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, num, strlen(num), 0)
	    != (ssize_t)strlen(num))
		msg_fatal("write %s: %m", pid_path);
}

/* detach_wait - -w: fork; the parent waits for the child's verdict. */
static void
detach_wait(void)
{
	int fds[2];
	char ch = 0;
	pid_t pid;
	int status;

	if (pipe2(fds, O_CLOEXEC) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid > 0) {
		close(fds[1]);
		/* EOF without a byte: the master died during start-up. */
		while (read(fds[0], &ch, 1) < 0 && errno == EINTR)
			continue;
		if (ch == 'y')
			exit(0);
		waitpid(pid, &status, 0);
		exit(1);
	}
	close(fds[0]);
	init_pipe = fds[1];
}

/* go_background - new session, stdio on /dev/null. */
static void
go_background(void)
{
	int fd;

	if ((fd = open("/dev/null", O_RDWR)) < 0)
		msg_fatal("open /dev/null: %m");
	for (int i = 0; i < 3; i++)
		if (dup2(fd, i) < 0)
			msg_fatal("dup2: %m");
	if (fd > 2)
		close(fd);
	msg_stderr_enable(0);
}

/* do_reload - SIGHUP. */
static void
do_reload(void)
{
	struct master_ent **ents;
	struct master_serv *old = master_services, *next;

	if (read_config(&ents) < 0) {
		msg_error("reload failed: keeping the current configuration");
		return;
	}
	mail_server_log_init();
	master_spawn_env();
	if (lookup_owner() < 0) {
		msg_error("reload: keeping the sockets' current owner");
		master_is_root = geteuid() == 0;
	}
	master_services = build_services(ents, old, 0);
	master_spawn_retire();
	for (; old; old = next) {
		next = old->next;
		free_serv(old);
	}
	master_ent_free_all(&master_ents);
	master_ents = ents;
	msg_info("reload -- version %s, configuration %s", mail_version(),
	    mail_conf_dir());
}

/* do_stop - SIGTERM/SIGINT (graceful) or SIGQUIT (abort); no return. */
static void NORETURN
do_stop(int sig, int abort_now)
{
	struct pollfd pfd;
	time_t deadline = time(NULL) + MASTER_STOP_WAIT;
	int status;

	master_stopping = 1;
	msg_info("terminating on signal %d", sig);
	for (struct master_serv *s = master_services; s; s = s->next)
		master_listen_close(s);
	master_spawn_signal_all(abort_now ? SIGKILL : SIGTERM, NULL);
	while (master_children && time(NULL) < deadline) {
		pfd.fd = master_sig_fd();
		pfd.events = POLLIN;
		poll(&pfd, 1, 200);
		master_sig_take(NULL);
		master_spawn_reap();
	}
	if (master_children) {
		master_spawn_signal_all(SIGKILL, NULL);
		for (struct master_child *c = master_children; c; c = c->next)
			waitpid(c->pid, &status, 0);
	}
	if (pid_path && unlink(pid_path) < 0)
		msg_warn("remove %s: %m", pid_path);
	exit(0);
}

/* main_loop - wait for signals, status reports and timers. */
static void NORETURN
main_loop(void)
{
	struct pollfd *pfd = NULL;
	struct master_child **who = NULL;
	size_t cap = 0, n;
	long wait, t;
	int bits, termsig;

	for (;;) {
		wait = MASTER_POLL_MAX;
		if ((t = master_spawn_balance()) >= 0 && t < wait)
			wait = t;
		if ((t = master_wakeup_run(time(NULL))) >= 0 && t < wait)
			wait = t;
		n = (size_t)master_spawn_count() + 1;
		if (n > cap) {
			cap = n * 2;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
			who = xreallocarray(who, cap, sizeof(*who));
		}
		n = 0;
		pfd[n].fd = master_sig_fd();
		pfd[n].events = POLLIN;
		who[n++] = NULL;
		for (struct master_child *c = master_children; c; c = c->next) {
			if (c->status_fd < 0)
				continue;
			pfd[n].fd = c->status_fd;
			pfd[n].events = POLLIN;
			who[n++] = c;
		}
		/* At least one second, so a timer that is due now still
		 * lets signals through first. */
		if (poll(pfd, n, (int)(wait > 0 ? wait : 1) * 1000) < 0
		    && errno != EINTR)
			msg_fatal("poll: %m");
		for (size_t i = 1; i < n; i++)
			if (pfd[i].revents)
				master_spawn_status(who[i]);
		bits = master_sig_take(&termsig);
		if (bits & MASTER_SIG_CHLD)
			master_spawn_reap();
		if (bits & MASTER_SIG_QUIT)
			do_stop(termsig, 1);
		if (bits & MASTER_SIG_TERM)
			do_stop(termsig, 0);
		if (bits & MASTER_SIG_HUP)
			do_reload();
	}
}

/* raise_nofile - soft RLIMIT_NOFILE up to the hard limit: smtpd needs a
 * descriptor per session (and its children inherit the limit). */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		msg_warn("getrlimit RLIMIT_NOFILE: %m");
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		msg_warn("raise the open files limit to %llu: %m",
		    (unsigned long long)rl.rlim_max);
}

/* not_root_note - say once that the privilege columns do not apply. */
static void
not_root_note(void)
{
	struct passwd *pw = getpwuid(geteuid());
	int any = 0;

	for (int i = 0; master_ents[i]; i++)
		if (master_ents[i]->unpriv || master_ents[i]->chroot_)
			any = 1;
	if (any)
		msg_info("not running as root: every service runs as %s (the "
		    "unpriv and chroot columns of master.cf are ignored)",
		    pw ? pw->pw_name : "the current user");
}

int
main(int argc, char **argv)
{
	int ch, foreground = 0, test = 0, wait_init = 0;
	char *dir, *queue;
	char resolved[PATH_MAX];

	msg_init("master", 1);
	while ((ch = getopt(argc, argv, "c:dtvw")) != -1) {
		switch (ch) {
		case 'c':
			if (realpath(optarg, resolved) == NULL)
				msg_fatal("configuration directory %s: %m", optarg);
			mail_conf_set_dir(resolved);
			break;
		case 'd':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'w':
			wait_init = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Children find the configuration through MAIL_CONFIG. */
	dir = xstrdup(mail_conf_dir());
	mail_conf_set_dir(dir);
	free(dir);

	if (read_config(&master_ents) < 0)
		msg_fatal("configuration errors: not started");
	if (test) {
		pid_path = concatenate(var_queue_directory,
		    "/pid/master.pid", (char *)0);
		exit(pid_running(pid_path) ? 1 : 0);
	}
	mail_server_log_init();
	raise_nofile();
	master_is_root = geteuid() == 0;
	if (lookup_owner() < 0)
		msg_fatal("not started");
	if (!master_is_root)
		not_root_note();

	if (wait_init)
		detach_wait();
	if (!foreground && setsid() < 0 && errno != EPERM)
		msg_warn("setsid: %m");
	umask(022);
	queue = xstrdup(var_queue_directory);
	if (chdir(queue) < 0)
		msg_fatal("chdir %s: %m (run \"postino check\" to create the queue "
		    "directories)", queue);
	free(queue);
	pid_lock();
	master_sig_init();
	master_spawn_env();
	master_services = build_services(master_ents, NULL, 1);

	if (init_pipe >= 0) {
		if (write(init_pipe, "y", 1) != 1)
			msg_warn("tell the waiting process: %m");
		close(init_pipe);
	}
	if (!foreground)
		go_background();
	msg_info("daemon started -- version %s, configuration %s",
	    mail_version(), mail_conf_dir());
	main_loop();
}

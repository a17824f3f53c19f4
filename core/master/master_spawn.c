/* SPDX-License-Identifier: MIT */
/* master_spawn - start, watch and reap the service processes.
 *
 * Process model: each service has one process running at all times
 * (daemons are event-driven and serve many clients); another is started,
 * up to maxproc (0 = no limit), when every running process of the service
 * has reported "busy" on its status channel.  A process that exits
 * before it reported "ready" is a failed start: the service is not
 * restarted for service_throttle_time.  A process that dies after it is
 * restarted at once.
 *
 * A child gets its listening sockets on fds 3.., its end of the status
 * channel after them, and nothing else (close_range).  Its environment is
 * import_environment plus POSTINO_LISTEN_FDS, POSTINO_SERVICE and
 * MAIL_CONFIG.
 *
 * Logs: "warning: process PATH pid N exit status S", "... killed by
 * signal S", "warning: PATH: bad command startup -- service LABEL is
 * throttling for N seconds", and a warning when a service reaches its
 * process limit. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_server.h"
#include "mail_vars.h"
#include "master.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"

#define MASTER_LIMIT_WARN_GAP	60	/* seconds between limit warnings */

static char **spawn_env;
static int spawn_env_count;

/* env_add - append NAME=VALUE to the environment under construction. */
static void
env_add(char ***envp, int *countp, const char *name, const char *value)
{
	*envp = xreallocarray(*envp, (size_t)*countp + 2, sizeof(char *));
	(*envp)[(*countp)++] = concatenate(name, "=", value, (char *)0);
	(*envp)[*countp] = NULL;
}

void
master_spawn_env(void)
{
	char *list, *cp, *tok, *eq;
	const char *val;

	for (int i = 0; i < spawn_env_count; i++)
		free(spawn_env[i]);
	free(spawn_env);
	spawn_env = NULL;
	spawn_env_count = 0;
	list = xstrdup(var_import_environment);
	cp = list;
	while ((tok = mystrtok(&cp, " \t\r\n,")) != NULL) {
		if (strcmp(tok, "MAIL_CONFIG") == 0
		    || strncmp(tok, "POSTINO_", 8) == 0)
			continue;
		if ((eq = strchr(tok, '=')) != NULL) {
			*eq = 0;
			env_add(&spawn_env, &spawn_env_count, tok, eq + 1);
		} else if ((val = getenv(tok)) != NULL) {
			env_add(&spawn_env, &spawn_env_count, tok, val);
		}
	}
	free(list);
}

/* child_env - the environment for one child (free with free_strv). */
static char **
child_env(struct master_serv *serv)
{
	char **env = NULL, num[16];
	int count = 0;

	for (int i = 0; i < spawn_env_count; i++) {
		env = xreallocarray(env, (size_t)count + 2, sizeof(char *));
		env[count++] = xstrdup(spawn_env[i]);
		env[count] = NULL;
	}
	snprintf(num, sizeof(num), "%d", serv->listen_count);
	env_add(&env, &count, MAIL_SERVER_ENV_LISTEN_FDS, num);
	env_add(&env, &count, MAIL_SERVER_ENV_SERVICE, serv->ent->name);
	env_add(&env, &count, "MAIL_CONFIG", mail_conf_dir());
	return env;
}

/* child_argv - COMMAND -n NAME -t TYPE [-u] [-c] args... */
static char **
child_argv(struct master_serv *serv)
{
	struct master_ent *ent = serv->ent;
	const char *base = strrchr(ent->command, '/');
	char **argv = xcalloc((size_t)ent->argc + 9, sizeof(char *));
	int n = 0;

	argv[n++] = xstrdup(base ? base + 1 : ent->command);
	argv[n++] = xstrdup("-n");
	argv[n++] = xstrdup(ent->name);
	argv[n++] = xstrdup("-t");
	argv[n++] = xstrdup(master_type_name(ent->type));
	if (ent->unpriv)
		argv[n++] = xstrdup("-u");
	if (ent->chroot_)
		argv[n++] = xstrdup("-c");
	for (int i = 0; i < ent->argc; i++)
		argv[n++] = xstrdup(ent->args[i]);
	argv[n] = NULL;
	return argv;
}

static void
free_strv(char **v)
{
	for (int i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* child_exec - in the new process: arrange the fds and exec. */
static void NORETURN
child_exec(struct master_serv *serv, int status_end, char **argv, char **env)
{
	int n = serv->listen_count, high = MAIL_SERVER_FIRST_FD + n + 1;
	int tmp[MASTER_MAX_LISTEN + 1];

	master_sig_child();
	/* Move everything above the target range first, so that no dup2
	 * overwrites a descriptor still to be moved. */
	for (int i = 0; i < n; i++)
		if ((tmp[i] = fcntl(serv->listen_fd[i], F_DUPFD, high)) < 0)
			goto fail;
	if ((tmp[n] = fcntl(status_end, F_DUPFD, high)) < 0)
		goto fail;
	for (int i = 0; i <= n; i++)
		if (dup2(tmp[i], MAIL_SERVER_FIRST_FD + i) < 0)
			goto fail;
	if (close_range((unsigned)(MAIL_SERVER_FIRST_FD + n + 1), ~0U, 0) < 0) {
		for (int fd = MAIL_SERVER_FIRST_FD + n + 1; fd < 4096; fd++)
			close(fd);
	}
	execve(serv->path, argv, env);
fail:
	msg_error("service %s: run %s: %m", serv->label, serv->path);
	_exit(2);
}

int
master_spawn(struct master_serv *serv)
{
	struct master_child *child;
	char **argv, **env;
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		msg_warn("service %s: socketpair: %m", serv->label);
		return -1;
	}
	argv = child_argv(serv);
	env = child_env(serv);
	if ((pid = fork()) < 0) {
		msg_warn("service %s: fork: %m", serv->label);
		close(sp[0]);
		close(sp[1]);
		free_strv(argv);
		free_strv(env);
		return -1;
	}
	if (pid == 0)
		child_exec(serv, sp[1], argv, env);
	close(sp[1]);
	if (fcntl(sp[0], F_SETFL, O_NONBLOCK) < 0)
		msg_warn("fcntl status channel: %m");
	free_strv(argv);
	free_strv(env);
	child = xcalloc(1, sizeof(*child));
	child->pid = pid;
	child->serv = serv;
	child->path = xstrdup(serv->path);
	child->label = xstrdup(serv->label);
	child->status_fd = sp[0];
	child->started = time(NULL);
	child->next = master_children;
	master_children = child;
	serv->nproc++;
	if (msg_verbose)
		msg_info("service %s: started %s pid %ld", serv->label, serv->path,
		    (long)pid);
	return 0;
}

void
master_spawn_status(struct master_child *child)
{
	char buf[64];
	ssize_t n;

	while (child->status_fd >= 0) {
		n = read(child->status_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close(child->status_fd);
			child->status_fd = -1;
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			switch (buf[i]) {
			case MAIL_SERVER_STAT_READY:
				child->ready = 1;
				break;
			case MAIL_SERVER_STAT_BUSY:
				child->busy = 1;
				break;
			case MAIL_SERVER_STAT_AVAIL:
				child->busy = 0;
				break;
			default:
				break;
			}
		}
	}
}

/* reap_one - log the death of one child and forget it. */
static void
reap_one(struct master_child *child, int status)
{
	struct master_serv *serv = child->serv;
	long secs;

	master_spawn_status(child);
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		msg_warn("process %s pid %ld exit status %d", child->path,
		    (long)child->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && !child->signalled
	    && !(serv == NULL && WTERMSIG(status) == SIGHUP))
		msg_warn("process %s pid %ld killed by signal %d", child->path,
		    (long)child->pid, WTERMSIG(status));
	if (serv) {
		serv->nproc--;
		if (!child->ready && !child->signalled && !master_stopping) {
			secs = var_service_throttle_time;
			if (secs < 1)
				secs = 1;
			serv->throttle_until = time(NULL) + secs;
			msg_warn("%s: bad command startup -- service %s is throttling "
			    "for %ld seconds", child->path, serv->label, secs);
		}
	}
	if (child->status_fd >= 0)
		close(child->status_fd);
	free(child->path);
	free(child->label);
	free(child);
}

void
master_spawn_reap(void)
{
	struct master_child **pp, *child;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (pp = &master_children; (child = *pp) != NULL; pp = &child->next)
			if (child->pid == pid)
				break;
		if (child == NULL)
			continue;
		*pp = child->next;
		reap_one(child, status);
	}
}

long
master_spawn_balance(void)
{
	struct master_serv *serv;
	struct master_child *child;
	time_t now = time(NULL);
	long next = -1;
	int busy;

	if (master_stopping)
		return -1;
	for (serv = master_services; serv; serv = serv->next) {
		if (serv->throttle_until) {
			if (now < serv->throttle_until) {
				if (next < 0 || serv->throttle_until - now < next)
					next = (long)(serv->throttle_until - now);
				continue;
			}
			serv->throttle_until = 0;
		}
		if (serv->listen_count == 0)
			continue;
		if (serv->nproc == 0) {
			master_spawn(serv);
			continue;
		}
		busy = 0;
		for (child = master_children; child; child = child->next)
			if (child->serv == serv && child->busy)
				busy++;
		if (busy < serv->nproc)
			continue;
		if (serv->maxproc == 0 || serv->nproc < serv->maxproc) {
			master_spawn(serv);
		} else if (serv->limit_warned == 0
		    || now - serv->limit_warned >= MASTER_LIMIT_WARN_GAP) {
			msg_warn("service %s reached its process limit %d: new clients "
			    "wait until a process has room (raise maxproc in "
			    "master.cf)", serv->label, serv->maxproc);
			serv->limit_warned = now;
		}
	}
	return next;
}

void
master_spawn_signal_all(int sig, struct master_serv *serv)
{
	for (struct master_child *c = master_children; c; c = c->next) {
		if (serv && c->serv != serv)
			continue;
		if (sig != SIGHUP)
			c->signalled = 1;
		if (kill(c->pid, sig) < 0 && errno != ESRCH)
			msg_warn("kill %ld: %m", (long)c->pid);
	}
}

void
master_spawn_retire(void)
{
	for (struct master_child *c = master_children; c; c = c->next) {
		if (c->serv == NULL)
			continue;
		if (kill(c->pid, SIGHUP) < 0 && errno != ESRCH)
			msg_warn("kill %ld: %m", (long)c->pid);
		c->serv->nproc--;
		c->serv = NULL;
	}
}

int
master_spawn_count(void)
{
	int n = 0;

	for (struct master_child *c = master_children; c; c = c->next)
		n++;
	return n;
}

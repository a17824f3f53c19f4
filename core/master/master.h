/* SPDX-License-Identifier: MIT */
/* master - private interfaces of the master daemon.
 *
 * A service is a master.cf entry plus its listening sockets and its
 * timers; a child is one process started for a service.  Children of an
 * earlier configuration generation are "retired": they were told to
 * drain (SIGHUP), are no longer counted against maxproc and are never
 * restarted. */
#ifndef POSTINO_MASTER_MASTER_H
#define POSTINO_MASTER_MASTER_H

#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "master_ent.h"

#define MASTER_MAX_LISTEN	64

struct master_serv {
	struct master_ent *ent;
	char *path;			/* program to run */
	char *label;			/* "smtp" (127.0.0.1:2525) for logs */
	char *sock_path;		/* unix/fifo: file name; else NULL */
	char *addr_key;			/* identity of the listeners (reload) */
	struct sockaddr_storage addr[MASTER_MAX_LISTEN];	/* inet */
	socklen_t addr_len[MASTER_MAX_LISTEN];
	int naddr;
	int listen_fd[MASTER_MAX_LISTEN];
	int listen_count;
	int maxproc;			/* resolved; 0 = unlimited */
	int nproc;			/* live children of this service */
	time_t throttle_until;		/* 0: not throttled */
	time_t next_wakeup;		/* 0: no wakeup timer */
	time_t limit_warned;		/* last process-limit warning */
	struct master_serv *next;
};

struct master_child {
	pid_t pid;
	struct master_serv *serv;	/* NULL when retired */
	char *path;			/* for logs */
	char *label;
	int status_fd;			/* master's end; -1 after EOF */
	int ready;			/* sent MAIL_SERVER_STAT_READY */
	int busy;
	int signalled;			/* we sent it a signal: no warning */
	time_t started;
	struct master_child *next;
};

/* master.c */
extern struct master_serv *master_services;
extern struct master_child *master_children;
extern int master_is_root;
extern uid_t master_owner_uid;
extern gid_t master_owner_gid;
extern int master_stopping;

/* master_listen.c */
/* master_listen_prepare - resolve the addresses of serv (addr_key, label,
 * sock_path); -1 with an error logged. */
int master_listen_prepare(struct master_serv *serv);
/* master_listen_open - create the listening sockets; EADDRINUSE is
 * retried for a bounded time.  -1 with an error logged. */
int master_listen_open(struct master_serv *serv);
/* master_listen_close - close the sockets (files stay in place). */
void master_listen_close(struct master_serv *serv);

/* master_spawn.c */
/* master_spawn_env - build the children's environment from
 * import_environment (call after each configuration read). */
void master_spawn_env(void);
/* master_spawn - start one child for serv; -1 when fork failed. */
int master_spawn(struct master_serv *serv);
/* master_spawn_reap - collect exited children, log and throttle. */
void master_spawn_reap(void);
/* master_spawn_status - read a child's status channel. */
void master_spawn_status(struct master_child *child);
/* master_spawn_balance - start what each service needs; returns the
 * seconds until the next throttle ends (or -1). */
long master_spawn_balance(void);
/* master_spawn_signal_all - send sig to every child (serv NULL: all). */
void master_spawn_signal_all(int sig, struct master_serv *serv);
/* master_spawn_retire - tell every child to drain; detach it from its
 * service (reload). */
void master_spawn_retire(void);
/* master_spawn_count - live children. */
int master_spawn_count(void);

/* master_sig.c */
#define MASTER_SIG_CHLD	1
#define MASTER_SIG_HUP	2
#define MASTER_SIG_TERM	4
#define MASTER_SIG_QUIT	8
/* master_sig_init - handlers feeding a self-pipe. */
void master_sig_init(void);
/* master_sig_fd - the self-pipe's read end. */
int master_sig_fd(void);
/* master_sig_take - pending signals (MASTER_SIG_* bits); clears them.
 * *termsig_r is the signal that asked for termination. */
int master_sig_take(int *termsig_r);
/* master_sig_child - reset dispositions in a new child before exec. */
void master_sig_child(void);

/* master_wakeup.c */
/* master_wakeup_run - send due wakeup triggers; returns seconds to the
 * next one (or -1). */
long master_wakeup_run(time_t now);
/* master_wakeup_init - schedule the timers of a (new) service. */
void master_wakeup_init(struct master_serv *serv, time_t now);

#endif

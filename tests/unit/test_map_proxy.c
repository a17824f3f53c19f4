/* SPDX-License-Identifier: MIT */
/* test_map_proxy - the proxy: client (core/mail/map_proxy.c) against the
 * real proxymap daemon, started here the way the master starts it
 * (listening socket on fd 3, status channel on fd 4, POSTINO_LISTEN_FDS).
 *
 * Outside a task a lookup blocks until the answer is there; inside tasks
 * several lookups wait at the same time on the caller's libevent loop
 * (the main stack never blocks: with the service stopped, every task is
 * still waiting when the last task_start() returns).  A table not in proxy_read_maps is refused;
 * a killed service is a temporary error, never "not found", and a
 * restarted one is reached again through the same table. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "mail_conf.h"
#include "map.h"
#include "map_proxy.h"
#include "mymalloc.h"
#include "stringops.h"
#include "task.h"
#include "unit.h"

#define PROXYMAP_PROGRAM UNIT_MODULE_DIR "/../libexec/postino/proxymap"
#define NKEYS 6

static char dir[] = "/tmp/test_map_proxy.XXXXXX";
static char *table;			/* approved: texthash:DIR/t */
static char *other;			/* not approved: texthash:DIR/o */
static int listen_fd = -1;
static pid_t server_pid;

static void
write_file(const char *name, const char *text)
{
	char *path = concatenate(dir, "/", name, (char *)0);
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		fail_msg("write %s: %s", path, strerror(errno));
	free(path);
}

/* server_start - run proxymap on our listening socket. */
static void
server_start(void)
{
	int status[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, status) < 0)
		fail_msg("socketpair: %s", strerror(errno));
	if ((server_pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (server_pid == 0) {
		if (dup2(listen_fd, 3) < 0 || dup2(status[1], 4) < 0)
			_exit(111);
		for (int fd = 5; fd < 64; fd++)
			close(fd);
		setenv("POSTINO_LISTEN_FDS", "1", 1);
		setenv("MAIL_CONFIG", dir, 1);
		execl(PROXYMAP_PROGRAM, "proxymap", "-n", "proxymap", "-t",
		    "unix", (char *)0);
		_exit(112);
	}
	close(status[1]);
	/* The status channel says 'R' once the daemon is ready. */
	{
		char ch = 0;

		if (read(status[0], &ch, 1) != 1 || ch != 'R')
			fail_msg("proxymap did not start (%s)", PROXYMAP_PROGRAM);
	}
	/* Keep status[0] open: EOF on it would make proxymap drain. */
}

static void
server_kill(void)
{
	int st;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGKILL);
	while (waitpid(server_pid, &st, 0) < 0 && errno == EINTR)
		continue;
}

static int
setup(void **state)
{
	struct sockaddr_un sun;
	char *priv, *path, *cf;

	(void)state;
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	table = concatenate("texthash:", dir, "/t", (char *)0);
	other = concatenate("texthash:", dir, "/o", (char *)0);
	write_file("t", "k0 v0\nk1 v1\nk2 v2\nk3 v3\nk4 v4\nk5 v5\n");
	write_file("o", "k0 secret\n");
	cf = concatenate("queue_directory = ", dir, "\nmaillog_file = ", dir,
	    "/log\nproxy_read_maps = proxy:", table, "\n", (char *)0);
	write_file("main.cf", cf);
	free(cf);
	priv = concatenate(dir, "/private", (char *)0);
	path = concatenate(priv, "/proxymap", (char *)0);
	if (mkdir(priv, 0755) < 0)
		fail_msg("mkdir: %s", strerror(errno));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
	    || bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
	    || listen(listen_fd, 64) < 0)
		fail_msg("listen %s: %s", path, strerror(errno));
	free(priv);
	free(path);
	signal(SIGPIPE, SIG_IGN);
	server_start();
	mail_conf_set_dir(dir);
	mail_conf_read(0);
	return 0;
}

static int
teardown(void **state)
{
	char *cmd;

	(void)state;
	server_kill();
	cmd = concatenate("rm -rf ", dir, (char *)0);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	return 0;
}

static struct map *
open_proxy(const char *name)
{
	char *spec = concatenate("proxy:", name, (char *)0);
	char *err = NULL;
	struct map *map = map_open(spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err);

	if (map == NULL)
		fail_msg("open %s: %s", spec, err);
	free(spec);
	return map;
}

static void
test_blocking(void **state)
{
	struct map *map = open_proxy(table);
	const char *value;
	char *err = NULL, *spec;

	(void)state;
	assert_int_equal(map_lookup(map, "k1", &value), MAP_FOUND);
	assert_string_equal(value, "v1");
	assert_int_equal(map_lookup(map, "K2", &value), MAP_FOUND);	/* folded */
	assert_string_equal(value, "v2");
	assert_int_equal(map_lookup(map, "nosuch", &value), MAP_NOTFOUND);
	map_close(&map);

	/* Not in proxy_read_maps: refused, as Postfix. */
	spec = concatenate("proxy:", other, (char *)0);
	assert_null(map_open(spec, O_RDONLY, MAP_FLAGS_DEFAULT, &err));
	assert_non_null(strstr(err, PROXY_UNAPPROVED));
	free(err);
	/* ... and with a surrogate, every lookup fails temporarily. */
	map = map_open(spec, O_RDONLY, MAP_FLAGS_DEFAULT | MAP_FLAG_SURROGATE,
	    &err);
	assert_non_null(map);
	assert_int_equal(map_lookup(map, "k0", &value), MAP_TEMPFAIL);
	assert_non_null(strstr(map_reason(map), PROXY_UNAPPROVED));
	map_close(&map);
	free(spec);
}

struct job {
	struct map *map;
	char key[8];
	enum map_status st;
	char value[16];
};

static void
job_run(void *ctx)
{
	struct job *j = ctx;
	const char *v = NULL;

	j->st = map_lookup(j->map, j->key, &v);
	if (j->st == MAP_FOUND)
		snprintf(j->value, sizeof(j->value), "%s", v);
}

static void
test_tasks_wait_on_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct map *map = open_proxy(table);
	struct job jobs[NKEYS + 1];
	int rounds = 0;

	(void)state;
	map_proxy_event_base(base);
	/* A stopped service cannot answer before every request is out. */
	kill(server_pid, SIGSTOP);
	for (int i = 0; i <= NKEYS; i++) {
		jobs[i].map = map;
		snprintf(jobs[i].key, sizeof(jobs[i].key), "k%d", i);
		jobs[i].st = -1;
		task_start(job_run, jobs + i, NULL, 0);
	}
	/* Every lookup is waiting for its answer: none blocked this stack. */
	assert_int_equal(task_count(), NKEYS + 1);
	kill(server_pid, SIGCONT);
	while (task_count() > 0 && rounds++ < 10000)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(task_count(), 0);
	for (int i = 0; i < NKEYS; i++) {
		char want[8];

		snprintf(want, sizeof(want), "v%d", i);
		assert_int_equal(jobs[i].st, MAP_FOUND);
		assert_string_equal(jobs[i].value, want);
	}
	assert_int_equal(jobs[NKEYS].st, MAP_NOTFOUND);
	map_proxy_event_base(NULL);
	map_close(&map);
	event_base_free(base);
}

static void
test_restart_and_outage(void **state)
{
	struct map *map = open_proxy(table);
	const char *value;

	(void)state;
	assert_int_equal(map_lookup(map, "k1", &value), MAP_FOUND);
	/* Killed and started again: the broken idle connection is replaced. */
	server_kill();
	server_start();
	assert_int_equal(map_lookup(map, "k3", &value), MAP_FOUND);
	assert_string_equal(value, "v3");
	/* Killed and not restarted, socket gone: a temporary error. */
	server_kill();
	close(listen_fd);
	{
		char *path = concatenate(dir, "/private/proxymap", (char *)0);

		unlink(path);
		free(path);
	}
	assert_int_equal(map_lookup(map, "k1", &value), MAP_TEMPFAIL);
	assert_non_null(strstr(map_reason(map), "lookup service"));
	map_close(&map);
	server_pid = 0;
}

/* The probe of a daemon whose loop runs (task_loop_probe). */
static int loop_on;

static int
loop_probe(void)
{
	return loop_on;
}

/* A lookup that would hold a running loop (outside a task) is counted
 * and logged by task_blocking(); one in a task, or with no loop (a
 * tool), is not.  The end-to-end tests fail on that log line. */
static void
test_wait_outside_a_task_is_reported(void **state)
{
	struct event_base *base = event_base_new();
	struct map *map = open_proxy(table);
	struct job job = {.map = map, .key = "k1", .st = -1};
	const char *value;
	long before = task_blocking_count();
	int rounds = 0;

	(void)state;
	map_proxy_event_base(base);
	task_loop_probe(loop_probe);
	loop_on = 1;
	assert_int_equal(map_lookup(map, "k2", &value), MAP_FOUND);
	assert_int_equal(task_blocking_count(), before + 1);
	task_start(job_run, &job, NULL, 0);
	while (task_count() > 0 && rounds++ < 10000)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(job.st, MAP_FOUND);
	assert_int_equal(task_blocking_count(), before + 1);
	loop_on = 0;
	assert_int_equal(map_lookup(map, "k3", &value), MAP_FOUND);
	assert_int_equal(task_blocking_count(), before + 1);
	task_loop_probe(NULL);
	map_proxy_event_base(NULL);
	map_close(&map);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_wait_outside_a_task_is_reported),
		cmocka_unit_test(test_tasks_wait_on_the_loop),
		cmocka_unit_test(test_restart_and_outage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

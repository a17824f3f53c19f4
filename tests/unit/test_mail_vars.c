/* SPDX-License-Identifier: MIT */
/* test_mail_vars - typed parameters bound at start: built-in defaults,
 * main.cf values, $name expansion, -o overrides (before and after the
 * binding), and malformed values reported fatally with where they were
 * set ("FILE, line N: bad numerical configuration: NAME = VALUE"). */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "mail_conf.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "msg.h"
#include "mymalloc.h"
#include "stringops.h"
#include "unit.h"

/* write_conf - a configuration directory with this main.cf; read it. */
static char *
write_conf(const char *name, const char *text)
{
	char *dir = concatenate(unit_tmpdir(), "/", name, (char *)0);
	char *path = concatenate(dir, "/main.cf", (char *)0);
	FILE *fp;

	mkdir(dir, 0700);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	mail_conf_set_dir(dir);
	free(dir);
	return path;
}

static void
test_defaults(void **state)
{
	(void)state;
	mail_vars_reset();
	free(write_conf("defaults", "myhostname = mx.example.test\n"));
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_LOCAL | MAIL_VARS_VIRTUAL);
	/* Postfix's defaults, typed. */
	assert_int_equal(var_duplicate_filter_limit, 1000);
	assert_int_equal(var_mailbox_size_limit, 51200000);
	assert_int_equal(var_command_time_limit, 1000);
	assert_int_equal(var_deliver_lock_delay, 1);
	assert_int_equal(var_virtual_minimum_uid, 100);
	assert_int_equal(var_owner_request_special, 1);
	assert_int_equal(var_expand_owner_alias, 0);
	assert_string_equal(var_local_command_shell, "");
	/* $name expansion of a default: myorigin = $myhostname. */
	assert_string_equal(var_myorigin, "mx.example.test");
	/* Parameters that are never expanded come raw. */
	assert_string_equal(var_forward_path,
	    "$home/.forward${recipient_delimiter}${extension}, $home/.forward");
	assert_true((mail_vars_bound() & MAIL_VARS_GLOBAL) != 0);
}

static void
test_main_cf(void **state)
{
	(void)state;
	mail_vars_reset();
	free(write_conf("maincf",
	    "myhostname = mx.example.test\n"
	    "mydomain = example.test\n"
	    "myorigin = $mydomain\n"
	    "limit = 7\n"
	    "duplicate_filter_limit = $limit\n"
	    "command_time_limit = 2m\n"
	    "deliver_lock_delay = 3\n"
	    "expand_owner_alias = YES\n"
	    "mailbox_size_limit = ${limit}000\n"
	    "recipient_delimiter = +\n"));
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_LOCAL);
	assert_string_equal(var_myorigin, "example.test");
	assert_int_equal(var_duplicate_filter_limit, 7);
	assert_int_equal(var_command_time_limit, 120);
	assert_int_equal(var_deliver_lock_delay, 3);
	assert_int_equal(var_expand_owner_alias, 1);
	assert_int_equal(var_mailbox_size_limit, 7000);
	assert_string_equal(var_recipient_delimiter, "+");
	assert_string_equal(var_myorigin, mail_conf_str("myorigin"));
}

static void
test_overrides(void **state)
{
	(void)state;
	mail_vars_reset();
	free(write_conf("override",
	    "myhostname = mx.example.test\n"
	    "duplicate_filter_limit = 5\n"));
	mail_conf_read(0);
	/* -o before the binding (master.cf's -o name=value)... */
	mail_conf_override("duplicate_filter_limit", "9");
	mail_conf_override("myhostname", "other.example.test");
	mail_vars_bind(MAIL_VARS_LOCAL);
	assert_int_equal(var_duplicate_filter_limit, 9);
	assert_string_equal(var_myhostname, "other.example.test");
	assert_string_equal(var_myorigin, "other.example.test");
	/* ...and after it (mail_server's queue_directory = / in a chroot):
	 * the bound variables follow. */
	mail_conf_override("queue_directory", "/");
	assert_string_equal(var_queue_directory, "/");
	mail_conf_override("command_time_limit", "1h");
	assert_int_equal(var_command_time_limit, 3600);
	/* A new main.cf is rebound too; overrides still win. */
	free(write_conf("override2",
	    "myhostname = mx.example.test\n"
	    "duplicate_filter_limit = 11\n"
	    "mailbox_size_limit = 12\n"));
	mail_conf_read(0);
	assert_int_equal(var_duplicate_filter_limit, 9);
	assert_int_equal(var_mailbox_size_limit, 12);
}

/* capture_to_fd - msg_capture callback of the child: one line per
 * message; a fatal one ends the child here, without the parent's atexit
 * handlers (which would remove the shared scratch directory). */
static void
capture_to_fd(int level, const char *text, void *ctx)
{
	int fd = *(int *)ctx;
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%d %s\n", level, text);
	if (n > 0 && write(fd, line, (size_t)(n < (int)sizeof(line) ? n
	    : (int)sizeof(line) - 1)) < 0)
		_exit(3);
	if (level >= MSG_FATAL)
		_exit(1);
}

/* fatal_text - run bind in a child with main.cf text and the -o
 * override (NULL: none); the child must die; returns its messages. */
static char *
fatal_text(const char *conf, const char *o_name, const char *o_value,
    unsigned groups)
{
	int fds[2], status;
	pid_t pid;
	char buf[4096];
	ssize_t n;
	size_t len = 0;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		msg_capture(capture_to_fd, &fds[1]);
		mail_vars_reset();
		free(write_conf("fatal", conf));
		mail_conf_read(0);
		if (o_name)
			mail_conf_override(o_name, o_value);
		mail_vars_bind(groups);
		_exit(0);			/* not fatal: the test fails */
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1
	    && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
		UNIT_FAILF("binding did not fail: status %d, output \"%s\"",
		    status, buf);
	return xstrdup(buf);
}

static void
test_bad_values(void **state)
{
	char *path = concatenate(unit_tmpdir(), "/fatal/main.cf", (char *)0);
	char *want, *out;

	(void)state;
	/* main.cf: file and line. */
	out = fatal_text("myhostname = mx.example.test\n"
	    "# a comment\n"
	    "duplicate_filter_limit = 12x\n", NULL, NULL, MAIL_VARS_LOCAL);
	want = concatenate(path, ", line 3: bad numerical configuration: "
	    "duplicate_filter_limit = 12x", (char *)0);
	if (strstr(out, want) == NULL)
		UNIT_FAILF("want \"%s\" in \"%s\"", want, out);
	free(want);
	free(out);

	/* The value after $name expansion, at the line of the parameter. */
	out = fatal_text("myhostname = mx.example.test\n"
	    "v = maybe\n"
	    "expand_owner_alias = $v\n", NULL, NULL, MAIL_VARS_LOCAL);
	want = concatenate(path, ", line 3: bad boolean configuration: "
	    "expand_owner_alias = maybe", (char *)0);
	if (strstr(out, want) == NULL)
		UNIT_FAILF("want \"%s\" in \"%s\"", want, out);
	free(want);
	free(out);

	/* A -o override names itself. */
	out = fatal_text("myhostname = mx.example.test\n"
	    "command_time_limit = 10s\n", "command_time_limit", "10y",
	    MAIL_VARS_LOCAL);
	if (strstr(out, "-o command_time_limit=10y: bad time configuration: "
	    "command_time_limit = 10y") == NULL)
		UNIT_FAILF("override not reported: \"%s\"", out);
	free(out);

	/* A group that is not bound is not parsed. */
	mail_vars_reset();
	free(write_conf("unbound", "myhostname = mx.example.test\n"
	    "virtual_minimum_uid = none\n"));
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_LOCAL);
	assert_true((mail_vars_bound() & MAIL_VARS_VIRTUAL) == 0);
	free(path);
}

/* Every typed parameter is in the table and implemented (binding
 * panics otherwise): bind every group. */
static void
test_all_groups(void **state)
{
	(void)state;
	mail_vars_reset();
	free(write_conf("all", "myhostname = mx.example.test\n"));
	mail_conf_read(0);
	mail_vars_bind(~0u);
	assert_string_equal(var_myhostname, "mx.example.test");
	assert_string_equal(MAIL_PARAM_NAME(myhostname), "myhostname");
	mail_vars_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_main_cf),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_all_groups),
		/* Last: overrides stay for the life of the process. */
		cmocka_unit_test(test_overrides),
	};

	msg_init("test_mail_vars", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

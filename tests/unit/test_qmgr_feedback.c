/* SPDX-License-Identifier: MIT */
/* test_qmgr_feedback - the queue manager's per-destination concurrency
 * window (core/qmgr/qmgr_feedback.c): feedback values, slow start up to
 * the limit, shrinking to 1, the failed-cohort rule that declares a
 * destination dead, and revival at the initial concurrency. */
#include "postino_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit.h"

/* The module is pure arithmetic and part of the qmgr program only. */
#include "../../core/qmgr/qmgr_feedback.c"

static struct qmgr_fb_conf
conf(int init, int limit, double cohorts, const char *pos, const char *neg)
{
	struct qmgr_fb_conf c;

	memset(&c, 0, sizeof(c));
	c.init = init;
	c.limit = limit;
	c.cohort_limit = cohorts;
	assert_int_equal(qmgr_fb_parse(pos, &c.pos), 0);
	assert_int_equal(qmgr_fb_parse(neg, &c.neg), 0);
	return c;
}

static void
test_parse(void **state)
{
	struct qmgr_fb fb = {0.25, QMGR_FB_CONST};

	(void)state;
	assert_int_equal(qmgr_fb_parse("1", &fb), 0);
	assert_true(fb.base == 1 && fb.index == QMGR_FB_CONST);
	assert_int_equal(qmgr_fb_parse("1/concurrency", &fb), 0);
	assert_true(fb.base == 1 && fb.index == QMGR_FB_WIN);
	assert_true(qmgr_fb_value(&fb, 4) == 0.25);
	assert_int_equal(qmgr_fb_parse(" 0.5 / sqrt_concurrency", &fb), 0);
	assert_true(fb.index == QMGR_FB_SQRT_WIN);
	assert_true(qmgr_fb_value(&fb, 4) == 0.25);
	/* Malformed or out of range: refused, fb unchanged. */
	assert_int_equal(qmgr_fb_parse("2", &fb), -1);
	assert_int_equal(qmgr_fb_parse("-1", &fb), -1);
	assert_int_equal(qmgr_fb_parse("1/banana", &fb), -1);
	assert_int_equal(qmgr_fb_parse("", &fb), -1);
	assert_int_equal(qmgr_fb_parse("1x", &fb), -1);
	assert_true(fb.base == 0.5 && fb.index == QMGR_FB_SQRT_WIN);
}

/* Feedback 1: +1 per success while in use, up to the limit. */
static void
test_slow_start(void **state)
{
	struct qmgr_fb_conf c = conf(5, 20, 1, "1", "1");
	struct qmgr_window w;

	(void)state;
	qmgr_window_init(&w, &c);
	assert_int_equal(w.window, 5);
	/* Nothing in use: the window does not grow. */
	qmgr_window_positive(&w, &c, 0);
	assert_int_equal(w.window, 5);
	for (int i = 0; i < 100; i++)
		qmgr_window_positive(&w, &c, w.window);
	assert_int_equal(w.window, 20);
	/* The initial window is never above the limit. */
	c.limit = 2;
	qmgr_window_init(&w, &c);
	assert_int_equal(w.window, 2);
}

/* 1/concurrency: a whole window of successes widens it by one. */
static void
test_slow_start_per_window(void **state)
{
	struct qmgr_fb_conf c = conf(5, 20, 1, "1/concurrency", "1/concurrency");
	struct qmgr_window w;

	(void)state;
	qmgr_window_init(&w, &c);
	for (int i = 0; i < 4; i++)
		qmgr_window_positive(&w, &c, 5);
	assert_int_equal(w.window, 5);
	qmgr_window_positive(&w, &c, 5);
	assert_int_equal(w.window, 6);
}

/* Negative feedback shrinks; failed cohorts (1/window each) add up to
 * the limit: dead. */
static void
test_dead(void **state)
{
	struct qmgr_fb_conf c = conf(5, 20, 1, "1", "1");
	struct qmgr_window w;

	(void)state;
	qmgr_window_init(&w, &c);
	/* Feedback 1 at window 5: cohorts 1/5, the window overshoots to 3
	 * (as Postfix's hysteresis loop does). */
	assert_int_equal(qmgr_window_negative(&w, &c), 0);
	assert_int_equal(w.window, 3);
	/* 1/5 + 1/3 = 0.53: alive, window 2. */
	assert_int_equal(qmgr_window_negative(&w, &c), 0);
	assert_int_equal(w.window, 2);
	/* + 1/2 >= 1: dead. */
	assert_int_equal(qmgr_window_negative(&w, &c), 1);
	assert_int_equal(w.window, 0);
	/* Dead stays dead on more negative feedback. */
	assert_int_equal(qmgr_window_negative(&w, &c), 0);
	assert_int_equal(w.window, 0);
	/* A success revives it at the initial window, or at the number of
	 * deliveries in progress. */
	qmgr_window_positive(&w, &c, 0);
	assert_int_equal(w.window, 5);
	assert_true(w.fail_cohorts == 0);
	qmgr_window_negative(&w, &c);
	qmgr_window_negative(&w, &c);
	qmgr_window_negative(&w, &c);
	assert_int_equal(w.window, 0);
	qmgr_window_positive(&w, &c, 2);
	assert_int_equal(w.window, 2);
}

/* A success between failures starts the cohort count again; at window
 * 1 a single failure is a whole cohort. */
static void
test_cohorts_reset(void **state)
{
	struct qmgr_fb_conf c = conf(1, 20, 1, "1", "1");
	struct qmgr_window w;

	(void)state;
	qmgr_window_init(&w, &c);
	assert_int_equal(w.window, 1);
	assert_int_equal(qmgr_window_negative(&w, &c), 1);
	qmgr_window_init(&w, &c);
	c.cohort_limit = 2;
	assert_int_equal(qmgr_window_negative(&w, &c), 0);
	assert_int_equal(w.window, 1);
	qmgr_window_positive(&w, &c, 1);
	assert_int_equal(w.window, 2);
	assert_true(w.fail_cohorts == 0);
	/* cohort limit 0: never dead, never below 1. */
	c.cohort_limit = 0;
	for (int i = 0; i < 50; i++)
		assert_int_equal(qmgr_window_negative(&w, &c), 0);
	assert_int_equal(w.window, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_slow_start),
		cmocka_unit_test(test_slow_start_per_window),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_cohorts_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

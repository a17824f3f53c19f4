/* SPDX-License-Identifier: MIT */
/* qmgr_feedback - per-destination concurrency window: slow start and
 * dead destinations, with the arithmetic of Postfix's qmgr (see
 * SCHEDULER_README, "concurrency feedback").
 *
 * A destination starts at initial_destination_concurrency.  Positive
 * feedback (a delivery agent established a session with it) adds
 * <transport>_destination_concurrency_positive_feedback to a success
 * counter, and each whole unit it collects widens the window by one, up
 * to <transport>_destination_concurrency_limit; it only counts while the
 * window is in use (window < busy + initial).  Negative feedback (the
 * destination failed as a whole) works the same way downwards, to 1, and
 * adds 1/window to the failed cohorts: at
 * <transport>_destination_concurrency_failed_cohort_limit the
 * destination is dead (window 0) until it is revived (timer, flush, or a
 * late positive feedback), at the initial concurrency (or, on feedback,
 * at the number of deliveries in progress).
 *
 * A feedback value is "N" (a constant), "N/concurrency" (N divided by
 * the window) or "N/sqrt_concurrency", 0 <= N <= 1.  Pure arithmetic: no
 * I/O, so that the unit tests can drive it (tests/unit). */
#ifndef POSTINO_QMGR_QMGR_FEEDBACK_H
#define POSTINO_QMGR_QMGR_FEEDBACK_H

enum qmgr_fb_index {
	QMGR_FB_CONST,
	QMGR_FB_WIN,			/* N/concurrency */
	QMGR_FB_SQRT_WIN,		/* N/sqrt_concurrency */
};

struct qmgr_fb {
	double base;
	enum qmgr_fb_index index;
};

struct qmgr_fb_conf {
	int init;			/* initial window (>= 1) */
	int limit;			/* largest window; 0 = none */
	double cohort_limit;		/* 0 = never dead */
	struct qmgr_fb pos, neg;
};

struct qmgr_window {
	int window;			/* 0: dead */
	double success;
	double failure;
	double fail_cohorts;
};

/* qmgr_fb_parse - "1", "0.5", "1/concurrency", "1/sqrt_concurrency";
 * 0 or -1 (malformed: *fb unchanged). */
int	qmgr_fb_parse(const char *text, struct qmgr_fb *fb);
/* qmgr_fb_value - the feedback at this window. */
double	qmgr_fb_value(const struct qmgr_fb *fb, int window);

/* qmgr_window_init - a fresh (or revived) destination. */
void	qmgr_window_init(struct qmgr_window *w, const struct qmgr_fb_conf *c);
/* qmgr_window_positive - a delivery agent reached the destination; busy
 * is the number of deliveries to it in progress.  A dead destination
 * comes back at busy, or at the initial window when nothing is busy. */
void	qmgr_window_positive(struct qmgr_window *w,
	    const struct qmgr_fb_conf *c, int busy);
/* qmgr_window_negative - the destination failed as a whole; returns 1
 * when this made it dead (window 0), else 0.  No effect when dead. */
int	qmgr_window_negative(struct qmgr_window *w,
	    const struct qmgr_fb_conf *c);

#endif

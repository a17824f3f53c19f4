/* SPDX-License-Identifier: MIT */
/* qmgr_feedback - concurrency window arithmetic (qmgr_feedback.h). */
#include "postino_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmgr_feedback.h"

int
qmgr_fb_parse(const char *text, struct qmgr_fb *fb)
{
	char *end;
	double base;
	enum qmgr_fb_index index = QMGR_FB_CONST;

	while (*text == ' ' || *text == '\t')
		text++;
	base = strtod(text, &end);
	if (end == text || base < 0 || base > 1 || base != base)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end == '/') {
		end++;
		while (*end == ' ' || *end == '\t')
			end++;
		if (strncmp(end, "concurrency", 11) == 0) {
			index = QMGR_FB_WIN;
			end += 11;
		} else if (strncmp(end, "sqrt_concurrency", 16) == 0) {
			index = QMGR_FB_SQRT_WIN;
			end += 16;
		} else {
			return -1;
		}
		while (*end == ' ' || *end == '\t')
			end++;
	}
	if (*end != 0)
		return -1;
	fb->base = base;
	fb->index = index;
	return 0;
}

double
qmgr_fb_value(const struct qmgr_fb *fb, int window)
{
	if (window < 1)
		window = 1;
	switch (fb->index) {
	case QMGR_FB_WIN:
		return fb->base / window;
	case QMGR_FB_SQRT_WIN:
		return fb->base / sqrt((double)window);
	default:
		return fb->base;
	}
}

void
qmgr_window_init(struct qmgr_window *w, const struct qmgr_fb_conf *c)
{
	w->window = c->init < 1 ? 1 : c->init;
	if (c->limit > 0 && w->window > c->limit)
		w->window = c->limit;
	w->success = 0;
	w->failure = 0;
	w->fail_cohorts = 0;
}

void
qmgr_window_positive(struct qmgr_window *w, const struct qmgr_fb_conf *c,
    int busy)
{
	if (w->window == 0) {
		/* Back from the dead: as many as are busy, else the initial
		 * window. */
		qmgr_window_init(w, c);
		if (busy > 0)
			w->window = busy;
		return;
	}
	/* Grow only while the window is used, up to the limit. */
	if ((c->limit == 0 || c->limit > w->window)
	    && w->window < busy + c->init) {
		double fb = qmgr_fb_value(&c->pos, w->window);

		w->success += fb;
		/* A zero feedback never grows (bounded loop either way). */
		while (fb > 0 && w->success + fb / 2 >= 1) {
			w->window += 1;
			w->success -= 1;
			w->failure = 0;
		}
		if (c->limit > 0 && w->window > c->limit)
			w->window = c->limit;
	}
	w->fail_cohorts = 0;
}

int
qmgr_window_negative(struct qmgr_window *w, const struct qmgr_fb_conf *c)
{
	double fb;

	if (w->window == 0)
		return 0;
	w->fail_cohorts += 1.0 / w->window;
	if (c->cohort_limit > 0 && w->fail_cohorts >= c->cohort_limit) {
		w->window = 0;
		return 1;
	}
	fb = qmgr_fb_value(&c->neg, w->window);
	w->failure -= fb;
	while (fb > 0 && w->failure - fb / 2 < 0) {
		w->window -= 1;
		w->success = 0;
		w->failure += 1;
	}
	if (w->window < 1)
		w->window = 1;
	return 0;
}

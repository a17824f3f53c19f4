/* SPDX-License-Identifier: MIT */
/* smtpd_line - SMTP input framing (see smtpd_line.h) and the input loop
 * of a session (smtpd_process_input), which hands the lines to the
 * command dispatcher (smtpd_proto.c) or to the DATA code (smtpd_data.c).
 *
 * Also linked as it is by tests/fuzz/fuzz_smtpd_cmd.c. */
#include "postino_config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mymalloc.h"
#include "smtpd.h"
#include "smtpd_line.h"

/* next_line - take one line off the input; 1 line, 0 need more, -1 the
 * line is longer than max (the caller decides).  st->scanned: how many
 * bytes at the start of the input are known to hold no LF (kept between
 * calls); reset when a line is taken. */
static int
next_line(struct smtpd_line *st, struct evbuffer *in, size_t max,
    char **line_r, size_t *len_r, int *crlf_r)
{
	struct evbuffer_ptr eol, from;
	size_t eol_len = 0;
	size_t len, have = evbuffer_get_length(in);
	char *line;

	if (st->scanned > have)
		st->scanned = 0;
	if (st->scanned > 0) {
		if (evbuffer_ptr_set(in, &from, st->scanned, EVBUFFER_PTR_SET) < 0)
			st->scanned = 0;
	}
	eol = evbuffer_search_eol(in, st->scanned > 0 ? &from : NULL, &eol_len,
	    EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		st->scanned = have;
		if (have > max)
			return -1;
		return 0;
	}
	st->scanned = 0;
	len = (size_t)eol.pos;
	if (len > max)
		return -1;
	line = xmalloc(len + 1);
	evbuffer_remove(in, line, len);
	evbuffer_drain(in, eol_len);
	line[len] = 0;
	*crlf_r = 0;
	if (len > 0 && line[len - 1] == '\r') {
		line[--len] = 0;
		*crlf_r = 1;
	}
	*line_r = line;
	*len_r = len;
	return 1;
}

/* skip_rest - drop the rest of a line that was too long to keep; 1 when
 * its end was found (*crlf_r: it ended in CR LF), 0 when more input is
 * needed.  The line is never split into two: whatever follows a cut in
 * a long line is not a command, nor the end of the data. */
static int
skip_rest(struct smtpd_line *st, struct evbuffer *in, int *crlf_r)
{
	struct evbuffer_ptr eol, last;
	size_t eol_len = 0, n;
	char c;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	n = eol.pos < 0 ? evbuffer_get_length(in) : (size_t)eol.pos;
	if (n > 0 && evbuffer_ptr_set(in, &last, n - 1, EVBUFFER_PTR_SET) == 0
	    && evbuffer_copyout_from(in, &last, &c, 1) == 1)
		st->skip_last = c;
	st->skipped += n;
	if (eol.pos < 0) {
		evbuffer_drain(in, n);
		return 0;
	}
	evbuffer_drain(in, n + eol_len);
	*crlf_r = st->skip_last == '\r';
	st->skipping = 0;
	st->scanned = 0;
	return 1;
}

int
smtpd_line_command(struct smtpd_line *st, struct evbuffer *in, size_t max,
    char **line_r, size_t *len_r, int *crlf_r)
{
	if (!st->skipping) {
		int rc = next_line(st, in, max, line_r, len_r, crlf_r);

		if (rc > 0)
			return SMTPD_LINE_OK;
		if (rc == 0)
			return SMTPD_LINE_MORE;
		/* Too long: drop this line, keep the session. */
		st->skipping = 1;
		st->skip_last = 0;
		st->skipped = 0;
		st->scanned = 0;
	}
	if (skip_rest(st, in, crlf_r))
		return SMTPD_LINE_LONG;
	return st->skipped > SMTPD_LINE_MAX_SKIP ? SMTPD_LINE_ABUSE
	    : SMTPD_LINE_MORE;
}

int
smtpd_line_data(struct smtpd_line *st, struct evbuffer *in, char **line_r,
    size_t *len_r, int *crlf_r)
{
	size_t take = SMTPD_DATA_PIECE;
	struct evbuffer_ptr cut;
	char last, *line;
	int rc = next_line(st, in, SMTPD_DATA_PIECE, line_r, len_r, crlf_r);

	if (rc > 0)
		return SMTPD_LINE_OK;
	if (rc == 0)
		return SMTPD_LINE_MORE;
	/* A long line: pass its start on now.  A CR that ends the piece
	 * stays: it may be the line's end. */
	if (evbuffer_ptr_set(in, &cut, take - 1, EVBUFFER_PTR_SET) == 0
	    && evbuffer_copyout_from(in, &cut, &last, 1) == 1 && last == '\r')
		take--;
	line = xmalloc(take + 1);
	evbuffer_remove(in, line, take);
	line[take] = 0;
	st->scanned = st->scanned > take ? st->scanned - take : 0;
	*line_r = line;
	*len_r = take;
	*crlf_r = 0;
	return SMTPD_LINE_PIECE;
}

/* output_full - too many replies wait for the client to read them. */
static int
output_full(struct smtpd_session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev))
	    > SMTPD_OUT_HIGH;
}

long
smtpd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* data_deadline - smtpd_min_data_rate: the DATA deadline (set to
 * smtpd_timeout from now by smtpd_data_begin) moves on by one second for
 * every min_data_rate bytes received, never to more than smtpd_timeout
 * from now; the message must arrive at that rate on the whole, however
 * its lines are cut. */
static void
data_deadline(struct smtpd_session *s, size_t arrived)
{
	long now = smtpd_now_ms(), max = now + smtpd_conf.timeout * 1000L;
	long dl = s->data_deadline + (long)(arrived * 1000
	    / (size_t)smtpd_conf.min_data_rate);
	struct timeval tv;

	if (dl > max || dl < s->data_deadline)
		dl = max;
	s->data_deadline = dl;
	dl = dl > now ? dl - now : 0;
	tv.tv_sec = dl / 1000;
	tv.tv_usec = (dl % 1000) * 1000;
	evtimer_add(s->timer, &tv);
}

/* smtpd_process_input - act on the complete lines in the input.
 *
 * Backpressure: while more than SMTPD_OUT_HIGH bytes of replies wait to
 * be sent, no line is taken and the socket is not read (the client's
 * own send buffer fills up); smtpd.c's write callback resumes when they
 * are out.
 *
 * Deadlines (smtpd_per_request_deadline = yes, postino's default):
 * smtpd_timeout is a deadline for a whole command line: the timer is
 * started again only when a line was taken (or the session was waiting
 * for nothing), never because some bytes arrived, so a client that
 * sends one byte at a time, or never reads its replies, is dropped in
 * time; the message content has one deadline that moves on with the
 * bytes received (smtpd_min_data_rate, data_deadline).  With
 * smtpd_per_request_deadline = no (Postfix's default) smtpd_timeout is
 * a time limit per read: any bytes that arrive start it again. */
void
smtpd_process_input(struct smtpd_session *s)
{
	struct evbuffer *in;
	size_t have, arrived;
	int progress = 0;

	if (s->dead || s->bev == NULL)
		return;
	in = bufferevent_get_input(s->bev);
	have = evbuffer_get_length(in);
	arrived = have > s->input_left ? have - s->input_left : 0;
	while (!s->dead && !SMTPD_BUSY(s)
	    && (s->state == SMTPD_ST_CMD || s->state == SMTPD_ST_DATA)) {
		char *line;
		size_t len;
		int crlf, st;

		if (s->tls_start) {
			/* STARTTLS answered (in a task, or just now): the
			 * session's input is the TLS filter's from here on;
			 * what the client sent behind it is dropped. */
			smtpd_tls_start(s);
			if (s->dead)
				return;
			in = bufferevent_get_input(s->bev);
			break;
		}
		if (output_full(s)) {
			s->throttled = 1;
			bufferevent_disable(s->bev, EV_READ);
			break;
		}
		if (s->state == SMTPD_ST_CMD) {
			st = smtpd_line_command(&s->input, in,
			    (size_t)smtpd_conf.line_limit, &line, &len, &crlf);
			if (st == SMTPD_LINE_MORE)
				break;
			if (st == SMTPD_LINE_ABUSE) {
				smtpd_reply(s, "500 5.5.2 Error: command line too long");
				smtpd_close_after_reply(s);
				break;
			}
			progress = 1;
			if (st == SMTPD_LINE_LONG) {
				smtpd_reply(s, "500 5.5.2 Error: command line too long");
				s->errors++;
				continue;
			}
			smtpd_command(s, line, len, evbuffer_get_length(in) > 0);
			free(line);
		} else {
			st = smtpd_line_data(&s->input, in, &line, &len, &crlf);
			if (st == SMTPD_LINE_MORE)
				break;
			progress = 1;
			if (st == SMTPD_LINE_PIECE)
				smtpd_data_piece(s, line, len);
			else
				smtpd_data_line(s, line, len, crlf);
			free(line);
		}
	}
	if (s->dead)
		return;
	s->input_left = evbuffer_get_length(in);
	if (s->state == SMTPD_ST_CLOSING || SMTPD_BUSY(s))
		return;
	if (s->state == SMTPD_ST_DATA && smtpd_conf.per_request_deadline
	    && smtpd_conf.min_data_rate > 0)
		data_deadline(s, arrived);
	else if (progress || !evtimer_pending(s->timer, NULL)
	    || (arrived > 0 && !smtpd_conf.per_request_deadline))
		smtpd_arm_timeout(s);
}

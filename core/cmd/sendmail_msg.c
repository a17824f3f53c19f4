/* SPDX-License-Identifier: MIT */
/* sendmail_msg - one local submission: collect the header, apply -t and
 * Bcc removal, then stream the envelope and the content to postdrop.
 *
 * The header section (up to the first empty line) is held in memory, at
 * most SENDMAIL_MAX_HEADER bytes, one logical header (a first line and
 * its continuation lines, each line possibly read in pieces) at a time:
 * the envelope goes first in the record stream and -t takes recipients
 * from the header.  A logical header is never cut into a header and a
 * stray line: one longer than SENDMAIL_MAX_HEADER keeps its first
 * SENDMAIL_MAX_HEADER bytes (cleanup truncates at header_size_limit
 * anyway), except that a Bcc header is dropped whole and that with -t a
 * recipient header that long refuses the submission (EX_DATAERR,
 * "unable to extract recipients: message header length exceeds safety
 * limit", as Postfix's sendmail): its recipients cannot all be read.
 * Without -t, a header section bigger than SENDMAIL_MAX_HEADER is
 * streamed to postdrop as it comes (the envelope is known); with -t it
 * is refused the same way.  Bcc: and Resent-Bcc: headers are removed
 * from every local submission, as Postfix's pickup does.  With -t the
 * recipients come from To, Cc and Bcc, or only from Resent-To/Cc/Bcc
 * when any of those is present; command-line recipients are added.
 *
 * A line longer than a maildrop record goes to postdrop as continued
 * records (maildrop.h), so pickup sees it whole.
 *
 * postdrop runs as $command_directory/postdrop -r with a pipe on its
 * standard input (the records) and one on its standard output (the
 * queue ID); its standard error is ours, so its messages reach the user.
 * Its exit status (sysexits) becomes ours. */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_vars.h"
#include "maildrop.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "sendmail.h"
#include "stringops.h"

#define SENDMAIL_MAX_HEADER	(1024 * 1024)

enum { ST_HEADER, ST_BODY };

struct sendmail_msg {
	struct sendmail_opts *opts;
	int state;
	int first_line;		/* nothing seen yet ("From " skipping) */
	int in_line;		/* the last piece did not end its line */
	int skip_line;		/* dropping the rest of this line */
	int line_is_header;	/* this line belongs to the header in cur */
	struct buf *hdr;	/* held header lines, each followed by LF */
	struct buf *cur;	/* the logical header being read */
	int cur_open;		/* cur holds a header */
	int cur_over;		/* cur reached SENDMAIL_MAX_HEADER: cut */
	int streaming;		/* postdrop runs: headers go straight out */
	int too_many;		/* more than MAILDROP_MAX_RCPT from -t */
	char **extracted;	/* -t recipients */
	int extracted_count;
	int resent_count;
	char **resent;		/* -t recipients from Resent-* */
	pid_t pid;		/* postdrop */
	FILE *to;		/* postdrop's stdin */
	int from_fd;		/* postdrop's stdout */
	int write_error;
};

void
sendmail_opts_add_rcpt(struct sendmail_opts *o, const char *addr)
{
	o->rcpt = xreallocarray(o->rcpt, (size_t)o->rcpt_count + 1,
	    sizeof(char *));
	o->rcpt[o->rcpt_count++] = xstrdup(addr);
}

struct sendmail_msg *
sendmail_msg_new(struct sendmail_opts *o)
{
	struct sendmail_msg *m = xcalloc(1, sizeof(*m));

	m->opts = o;
	m->state = ST_HEADER;
	m->first_line = 1;
	m->hdr = buf_new(4096, SENDMAIL_MAX_HEADER);
	m->cur = buf_new(1024, BUF_NOLIMIT);
	m->pid = -1;
	m->from_fd = -1;
	return m;
}

void
sendmail_msg_free(struct sendmail_msg **mp)
{
	struct sendmail_msg *m = *mp;

	if (m == NULL)
		return;
	/* Abandoned: postdrop removes its file on SIGTERM, quietly. */
	if (m->pid > 0)
		(void)kill(m->pid, SIGTERM);
	if (m->to)
		fclose(m->to);
	if (m->from_fd >= 0)
		close(m->from_fd);
	if (m->pid > 0) {
		while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < m->extracted_count; i++)
		free(m->extracted[i]);
	free(m->extracted);
	for (int i = 0; i < m->resent_count; i++)
		free(m->resent[i]);
	free(m->resent);
	buf_free(&m->hdr);
	buf_free(&m->cur);
	free(m);
	*mp = NULL;
}

/* header_is - does the header line start with name: (case-insensitive)? */
static int
header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len <= n || strncasecmp(line, name, n) != 0)
		return 0;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':';
}

struct collect {
	char ***list;
	int *count;
	int *too_many;
};

static void
collect_one(const char *addr, void *ctx)
{
	struct collect *c = ctx;

	if (*c->count >= MAILDROP_MAX_RCPT) {
		*c->too_many = 1;	/* refused later: none is lost */
		return;
	}
	*c->list = xreallocarray(*c->list, (size_t)*c->count + 1, sizeof(char *));
	(*c->list)[(*c->count)++] = xstrdup(addr);
}

/* scan_header - one complete (unfolded-in-place) header: -t extraction;
 * returns 1 if the header is to be dropped (Bcc), -1 on a bad address. */
static int
scan_header(struct sendmail_msg *m, const char *text, size_t len,
    const char **err_r)
{
	static const char *const plain[] = {"To", "Cc", "Bcc"};
	static const char *const resent[] = {"Resent-To", "Resent-Cc", "Resent-Bcc"};
	struct collect c;
	int drop = header_is(text, len, "Bcc") || header_is(text, len, "Resent-Bcc");

	if (!m->opts->extract)
		return drop;
	for (int which = 0; which < 2; which++) {
		const char *const *names = which ? resent : plain;

		for (int i = 0; i < 3; i++) {
			char *value;
			const char *bad;

			if (!header_is(text, len, names[i]))
				continue;
			value = xstrndup(text, len);
			c.list = which ? &m->resent : &m->extracted;
			c.count = which ? &m->resent_count : &m->extracted_count;
			c.too_many = &m->too_many;
			if (sendmail_addr_list(strchr(value, ':') + 1, collect_one, &c,
			    &bad) < 0) {
				free(value);
				*err_r = bad;
				return -1;
			}
			free(value);
		}
	}
	return drop;
}

/* start_postdrop - run postdrop -r with pipes; 0 or a sysexits status. */
static int
start_postdrop(struct sendmail_msg *m, const char **err_r)
{
	static char errbuf[512];
	char *path = concatenate(var_command_directory, "/postdrop",
	    (char *)0);
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		snprintf(errbuf, sizeof(errbuf), "pipe: %s", strerror(errno));
		*err_r = errbuf;
		free(path);
		return EX_OSERR;
	}
	fflush(stdout);
	fflush(stderr);
	switch (m->pid = fork()) {
	case -1:
		snprintf(errbuf, sizeof(errbuf), "fork: %s", strerror(errno));
		*err_r = errbuf;
		free(path);
		return EX_OSERR;
	case 0:
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(EX_OSERR);
		execl(path, "postdrop", "-r", (char *)0);
		msg_warn("execute %s: %m", path);
		_exit(EX_OSERR);
	default:
		break;
	}
	free(path);
	close(in[0]);
	close(out[1]);
	m->from_fd = out[0];
	if ((m->to = fdopen(in[1], "w")) == NULL) {
		close(in[1]);
		*err_r = "fdopen failed";
		return EX_OSERR;
	}
	return 0;
}

/* put_envelope - the records before the content. */
static void
put_envelope(struct sendmail_msg *m)
{
	struct sendmail_opts *o = m->opts;
	char **rcpt = m->resent_count ? m->resent : m->extracted;
	int count = m->resent_count ? m->resent_count : m->extracted_count;
	char num[32];
	int bad = 0;

	bad |= maildrop_put_str(m->to, MAILDROP_REC_VERSION, MAILDROP_VERSION);
	if (o->full_name) {
		char *a = concatenate("full_name=", o->full_name, (char *)0);

		bad |= maildrop_put_str(m->to, MAILDROP_REC_ATTR, a);
		free(a);
	}
	if (o->envid) {
		char *a = concatenate("dsn_envid=", o->envid, (char *)0);

		bad |= maildrop_put_str(m->to, MAILDROP_REC_ATTR, a);
		free(a);
	}
	if (o->ret) {
		char *a = concatenate("dsn_ret=", o->ret, (char *)0);

		bad |= maildrop_put_str(m->to, MAILDROP_REC_ATTR, a);
		free(a);
	}
	if (o->notify) {
		snprintf(num, sizeof(num), "dsn_notify=%d", o->notify);
		bad |= maildrop_put_str(m->to, MAILDROP_REC_ATTR, num);
	}
	if (o->body_type) {
		char *a = concatenate("body_type=", o->body_type, (char *)0);

		bad |= maildrop_put_str(m->to, MAILDROP_REC_ATTR, a);
		free(a);
	}
	if (o->verify_report)
		bad |= maildrop_put_str(m->to, MAILDROP_REC_ATTR,
		    QFILE_ATTR_VERIFY_REPORT "=1");
	bad |= maildrop_put_str(m->to, MAILDROP_REC_SENDER, o->sender);
	for (int i = 0; i < o->rcpt_count; i++)
		bad |= maildrop_put_str(m->to, MAILDROP_REC_RCPT, o->rcpt[i]);
	if (o->extract)
		for (int i = 0; i < count; i++)
			bad |= maildrop_put_str(m->to, MAILDROP_REC_RCPT, rcpt[i]);
	if (bad)
		m->write_error = 1;
}

/* put_lines - text of LF-separated lines to postdrop, one record
 * sequence per line. */
static void
put_lines(struct sendmail_msg *m, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end && !m->write_error) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if (maildrop_put_line(m->to, p, (size_t)(eol - p)) < 0)
			m->write_error = 1;
		p = nl ? nl + 1 : end;
	}
}

/* start_stream - the envelope is known: start postdrop, send the
 * envelope and the held header lines.  0 or a sysexits status. */
static int
start_stream(struct sendmail_msg *m, const char **err_r)
{
	int status;

	if (m->streaming)
		return 0;
	if (m->too_many) {
		*err_r = "too many recipients in message header";
		return EX_DATAERR;
	}
	if (m->opts->rcpt_count == 0 && m->extracted_count == 0
	    && m->resent_count == 0) {
		*err_r = m->opts->extract ?
		    "No recipient addresses found in message header" :
		    "no recipients specified";
		return m->opts->extract ? EX_DATAERR : EX_USAGE;
	}
	if ((status = start_postdrop(m, err_r)) != 0)
		return status;
	m->streaming = 1;
	put_envelope(m);
	put_lines(m, buf_str(m->hdr), buf_len(m->hdr));
	buf_reset(m->hdr);
	return 0;
}

/* is_rcpt_header - a header -t reads recipients from? */
static int
is_rcpt_header(const char *text, size_t len)
{
	static const char *const names[] = {"To", "Cc", "Bcc", "Resent-To",
	    "Resent-Cc", "Resent-Bcc"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (header_is(text, len, names[i]))
			return 1;
	return 0;
}

/* finish_header - the logical header in cur is complete: extract
 * recipients (-t), drop it (Bcc), hold it or send it.  0 or a sysexits
 * status. */
static int
finish_header(struct sendmail_msg *m, const char **err_r)
{
	const char *text = buf_str(m->cur);
	size_t len = buf_len(m->cur);
	int r, status;

	if (!m->cur_open)
		return 0;
	m->cur_open = 0;
	if (m->cur_over && m->opts->extract && is_rcpt_header(text, len)) {
		*err_r = "unable to extract recipients: message header length "
		    "exceeds safety limit";
		return EX_DATAERR;
	}
	if ((r = scan_header(m, text, len, err_r)) < 0)
		return EX_DATAERR;
	if (r > 0) {
		buf_reset(m->cur);
		return 0;
	}
	if (!m->streaming && buf_len(m->hdr) + len + 1 > SENDMAIL_MAX_HEADER) {
		/* Too much to hold.  With -t the envelope is not known yet
		 * (it must go first): refuse rather than lose recipients. */
		if (m->opts->extract) {
			*err_r = "unable to extract recipients: message header "
			    "length exceeds safety limit";
			return EX_DATAERR;
		}
		if ((status = start_stream(m, err_r)) != 0)
			return status;
	}
	if (m->streaming) {
		put_lines(m, text, len);
	} else {
		(void)buf_append(m->hdr, text, len);
		(void)buf_putc(m->hdr, '\n');
	}
	buf_reset(m->cur);
	return 0;
}

/* end_of_header - the header section is over. */
static int
end_of_header(struct sendmail_msg *m, const char **err_r)
{
	int status;

	m->state = ST_BODY;
	if ((status = finish_header(m, err_r)) != 0)
		return status;
	return start_stream(m, err_r);
}

/* cur_append - add to the logical header, up to SENDMAIL_MAX_HEADER. */
static void
cur_append(struct sendmail_msg *m, const char *data, size_t len)
{
	size_t room;

	if (m->cur_over)
		return;
	room = SENDMAIL_MAX_HEADER - buf_len(m->cur);
	if (len > room) {
		len = room;
		m->cur_over = 1;
	}
	(void)buf_append(m->cur, data, len);
}

/* put_piece - a body piece: continued (more) or the end of a line. */
static void
put_piece(struct sendmail_msg *m, const char *data, size_t len, int more)
{
	int r;

	if (m->write_error)
		return;
	if (more)
		r = len > 0 ? maildrop_put(m->to, MAILDROP_REC_CONT, data, len) : 0;
	else
		r = maildrop_put(m->to, MAILDROP_REC_LINE, data, len);
	if (r < 0)
		m->write_error = 1;
}

int
sendmail_msg_line(struct sendmail_msg *m, const char *line, size_t len,
    int more, const char **err_r)
{
	int status, start = !m->in_line;

	m->in_line = more;
	if (!more && len > 0 && line[len - 1] == '\r')
		len--;
	if (m->skip_line) {
		m->skip_line = more;
		return 0;
	}
	if (m->first_line) {
		m->first_line = 0;
		/* A leading mbox envelope line is not part of the message. */
		if ((len >= 5 && strncmp(line, "From ", 5) == 0)
		    || (len >= 6 && strncmp(line, ">From ", 6) == 0)) {
			m->skip_line = more;
			return 0;
		}
	}
	if (m->state == ST_HEADER && !start) {
		/* The rest of a long line: where its start went. */
		if (m->line_is_header) {
			cur_append(m, line, len);
			return 0;
		}
	} else if (m->state == ST_HEADER) {
		int is_header = 0, cont = 0;

		/* A header: "name:" (printable name), or a continuation line
		 * after one.  Anything else starts the body. */
		if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
			is_header = cont = m->cur_open;
		} else {
			size_t i;

			for (i = 0; i < len && line[i] > ' ' && line[i] < 0x7f
			    && line[i] != ':'; i++)
				;
			is_header = i > 0 && i < len && line[i] == ':';
		}
		m->line_is_header = is_header;
		if (cont) {
			cur_append(m, "\n", 1);
			cur_append(m, line, len);
			return 0;
		}
		if ((status = finish_header(m, err_r)) != 0)
			return status;
		if (is_header) {
			m->cur_open = 1;
			m->cur_over = 0;
			cur_append(m, line, len);
			return 0;
		}
		if ((status = end_of_header(m, err_r)) != 0)
			return status;
	}
	put_piece(m, line, len, more);
	return 0;
}

/* finish_postdrop - close the stream, read the ID, wait for postdrop. */
static int
finish_postdrop(struct sendmail_msg *m, const char **id_r, const char **err_r)
{
	static char idbuf[64];
	static char errbuf[256];
	int status, ok;
	ssize_t n;
	size_t got = 0;

	ok = !m->write_error
	    && maildrop_put(m->to, MAILDROP_REC_END, "", 0) == 0
	    && fflush(m->to) == 0;
	fclose(m->to);
	m->to = NULL;
	while (got < sizeof(idbuf) - 1) {
		n = read(m->from_fd, idbuf + got, sizeof(idbuf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	idbuf[got] = 0;
	idbuf[strcspn(idbuf, "\r\n")] = 0;
	close(m->from_fd);
	m->from_fd = -1;
	while (waitpid(m->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			m->pid = -1;
			*err_r = "waitpid failed";
			return EX_OSERR;
		}
	}
	m->pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok) {
		*id_r = idbuf;
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		int code = WEXITSTATUS(status);

		snprintf(errbuf, sizeof(errbuf), "postdrop exited with status %d",
		    code);
		*err_r = errbuf;
		return code >= EX__BASE && code <= EX__MAX ? code : EX_TEMPFAIL;
	}
	if (WIFSIGNALED(status)) {
		snprintf(errbuf, sizeof(errbuf), "postdrop was killed by signal %d",
		    WTERMSIG(status));
		*err_r = errbuf;
		return EX_TEMPFAIL;
	}
	*err_r = "cannot write to postdrop";
	return EX_TEMPFAIL;
}

int
sendmail_msg_finish(struct sendmail_msg *m, const char **id_r,
    const char **err_r)
{
	int status;

	if (m->state == ST_HEADER && (status = end_of_header(m, err_r)) != 0)
		return status;
	if (m->in_line)
		put_piece(m, "", 0, 0);	/* the last line had no LF */
	return finish_postdrop(m, id_r, err_r);
}

int
sendmail_read_line(FILE *fp, struct buf *line, size_t max, int *more_r)
{
	int ch;

	buf_reset(line);
	*more_r = 0;
	while ((ch = getc(fp)) != EOF) {
		if (ch == '\n')
			return 1;
		if (buf_putc(line, ch) < 0) {
			*more_r = 1;
			return 1;
		}
		if (buf_len(line) >= max) {
			/* A piece of a longer line, unless its LF comes next. */
			if ((ch = getc(fp)) == '\n')
				return 1;
			if (ch != EOF) {
				ungetc(ch, fp);
				*more_r = 1;
			}
			return 1;
		}
	}
	return buf_len(line) > 0;
}

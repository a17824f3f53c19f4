/* SPDX-License-Identifier: MIT */
/* sendmail_smtp - "sendmail -bs": an SMTP dialogue on standard input and
 * output (RFC 5321), for programs that submit mail that way.  Each
 * message is handed to postdrop like any other local submission; relay
 * and access controls do not apply (the caller is a local user, and the
 * mail goes through pickup and cleanup).
 *
 * Commands: HELO, EHLO (PIPELINING, SIZE, 8BITMIME, DSN), MAIL FROM
 * (SIZE, BODY, RET, ENVID), RCPT TO (NOTIFY, ORCPT accepted), DATA, RSET,
 * NOOP, VRFY (252), QUIT.  Limits: a command line of at most
 * SMTP_MAX_LINE bytes, MAILDROP_MAX_RCPT recipients, SMTP_MAX_ERRORS
 * errors per session.  End of input ends the session; a message whose
 * DATA was not finished is not queued. */
#include "postino_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "addr_parse.h"
#include "mail_conf.h"
#include "mail_vars.h"
#include "maildrop.h"
#include "msg.h"
#include "mymalloc.h"
#include "qfile.h"
#include "sendmail.h"
#include "stringops.h"

#define SMTP_MAX_LINE	4096
#define SMTP_MAX_ERRORS	20

struct smtp_session {
	struct sendmail_opts *defaults;
	struct sendmail_opts tx;	/* the transaction's envelope */
	int in_mail;
	int errors;
	char *envid;
	long size_limit;
};

static void PRINTFLIKE(1, 2)
reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	fflush(stdout);
}

static void
tx_reset(struct smtp_session *s)
{
	free(s->tx.sender);
	for (int i = 0; i < s->tx.rcpt_count; i++)
		free(s->tx.rcpt[i]);
	free(s->tx.rcpt);
	free(s->envid);
	s->envid = NULL;
	memset(&s->tx, 0, sizeof(s->tx));
	s->in_mail = 0;
}

/* split_path - "FROM:<a@b> X=Y" → path and parameters; NULL if the
 * keyword is missing. */
static char *
split_path(char *arg, const char *keyword, char **params_r)
{
	size_t n = strlen(keyword);
	char *cp, *end;

	if (strncasecmp(arg, keyword, n) != 0)
		return NULL;
	cp = skipblanks(arg + n);
	if (*cp == '<' && (end = strchr(cp, '>')) != NULL)
		end++;
	else
		end = cp + strcspn(cp, " \t");
	*params_r = end;
	if (*end) {
		*end = 0;
		*params_r = end + 1;
	}
	return cp;
}

static void
cmd_mail(struct smtp_session *s, char *arg)
{
	char *params, *path, *param, *internal;
	const char *why;

	if (s->in_mail) {
		reply("503 5.5.1 Error: nested MAIL command");
		s->errors++;
		return;
	}
	if ((path = split_path(arg, "FROM:", &params)) == NULL) {
		reply("501 5.5.4 Syntax: MAIL FROM:<address>");
		s->errors++;
		return;
	}
	tx_reset(s);
	s->tx.full_name = s->defaults->full_name;
	s->tx.dot_ends = 0;
	while ((param = mystrtok(&params, " \t")) != NULL) {
		if (strncasecmp(param, "SIZE=", 5) == 0) {
			long size;

			if (str_to_long(param + 5, &size) < 0 || size < 0) {
				reply("501 5.5.4 Bad message size syntax");
				s->errors++;
				return;
			}
			if (s->size_limit > 0 && size > s->size_limit) {
				reply("552 5.3.4 Message size exceeds fixed limit");
				return;
			}
		} else if (strncasecmp(param, "BODY=", 5) == 0) {
			if (strcasecmp(param + 5, "7BIT") != 0
			    && strcasecmp(param + 5, "8BITMIME") != 0) {
				reply("501 5.5.4 Unsupported BODY parameter");
				s->errors++;
				return;
			}
			s->tx.body_type = strcasecmp(param + 5, "7BIT") == 0 ? "7BIT"
			    : "8BITMIME";
		} else if (strncasecmp(param, "RET=", 4) == 0) {
			if (strcasecmp(param + 4, "FULL") != 0
			    && strcasecmp(param + 4, "HDRS") != 0) {
				reply("501 5.5.4 Bad RET parameter syntax");
				s->errors++;
				return;
			}
			s->tx.ret = strcasecmp(param + 4, "FULL") == 0 ? "FULL" : "HDRS";
		} else if (strncasecmp(param, "ENVID=", 6) == 0) {
			const char *v = param + 6;

			if (*v == 0 || strlen(v) > 100) {
				reply("501 5.5.4 Bad ENVID parameter syntax");
				s->errors++;
				return;
			}
			free(s->envid);
			s->envid = xstrdup(v);
			s->tx.envid = s->envid;
		} else {
			reply("555 5.5.4 Unsupported option: %.100s", param);
			s->errors++;
			return;
		}
	}
	if (strlen(path) > ADDR_PARSE_MAX
	    || addr_parse_path(path, 1, &internal, &why) < 0) {
		reply("501 5.1.7 Bad sender address syntax");
		s->errors++;
		return;
	}
	s->tx.sender = internal;
	s->in_mail = 1;
	reply("250 2.1.0 Ok");
}

static void
cmd_rcpt(struct smtp_session *s, char *arg)
{
	char *params, *path, *param, *internal;
	const char *why;
	int notify = 0;

	if (!s->in_mail) {
		reply("503 5.5.1 Error: need MAIL command");
		s->errors++;
		return;
	}
	if ((path = split_path(arg, "TO:", &params)) == NULL) {
		reply("501 5.5.4 Syntax: RCPT TO:<address>");
		s->errors++;
		return;
	}
	while ((param = mystrtok(&params, " \t")) != NULL) {
		if (strncasecmp(param, "NOTIFY=", 7) == 0) {
			char *cp = param + 7, *word;

			while ((word = mystrtok(&cp, ",")) != NULL) {
				if (strcasecmp(word, "NEVER") == 0)
					notify |= DSN_NOTIFY_NEVER;
				else if (strcasecmp(word, "SUCCESS") == 0)
					notify |= DSN_NOTIFY_SUCCESS;
				else if (strcasecmp(word, "FAILURE") == 0)
					notify |= DSN_NOTIFY_FAILURE;
				else if (strcasecmp(word, "DELAY") == 0)
					notify |= DSN_NOTIFY_DELAY;
				else
					notify = -1;
			}
			if (notify <= 0 || ((notify & DSN_NOTIFY_NEVER)
			    && notify != DSN_NOTIFY_NEVER)) {
				reply("501 5.5.4 Error: Bad NOTIFY parameter syntax");
				s->errors++;
				return;
			}
		} else if (strncasecmp(param, "ORCPT=", 6) != 0) {
			reply("555 5.5.4 Unsupported option: %.100s", param);
			s->errors++;
			return;
		}
	}
	if (strlen(path) > ADDR_PARSE_MAX
	    || addr_parse_path(path, 1, &internal, &why) < 0) {
		reply("501 5.1.3 Bad recipient address syntax");
		s->errors++;
		return;
	}
	if (*internal == 0) {
		free(internal);
		reply("501 5.1.3 Bad recipient address syntax");
		s->errors++;
		return;
	}
	if (s->tx.rcpt_count >= MAILDROP_MAX_RCPT) {
		free(internal);
		reply("452 4.5.3 Error: too many recipients");
		return;
	}
	/* One NOTIFY for the message: the maildrop format has no per-
	 * recipient flags; the last one given wins. */
	if (notify > 0)
		s->tx.notify = notify;
	sendmail_opts_add_rcpt(&s->tx, internal);
	free(internal);
	reply("250 2.1.5 Ok");
}

/* cmd_data - the message, to the lone "."; 0, or -1 at end of input. */
static int
cmd_data(struct smtp_session *s, struct buf *line)
{
	struct sendmail_msg *m;
	const char *err = NULL, *id = NULL;
	int status = 0, eof = 1, more = 0, at_start = 1;

	if (!s->in_mail || s->tx.rcpt_count == 0) {
		reply("503 5.5.1 Error: need %s command", s->in_mail ? "RCPT"
		    : "MAIL");
		s->errors++;
		return 0;
	}
	reply("354 End data with <CR><LF>.<CR><LF>");
	m = sendmail_msg_new(&s->tx);
	while (sendmail_read_line(stdin, line, MAILDROP_MAX_RECORD, &more)) {
		const char *text = buf_str(line);
		size_t len = buf_len(line);
		int start = at_start;

		at_start = !more;
		if (!more && len > 0 && text[len - 1] == '\r')
			len--;
		if (start && !more && len == 1 && text[0] == '.') {
			eof = 0;
			break;
		}
		if (start && len > 0 && text[0] == '.') {
			text++;
			len--;
		}
		if (status == 0)
			status = sendmail_msg_line(m, text, len, more, &err);
	}
	if (eof) {
		/* The client went away mid-message: nothing is queued. */
		sendmail_msg_free(&m);
		tx_reset(s);
		return -1;
	}
	if (status == 0)
		status = sendmail_msg_finish(m, &id, &err);
	sendmail_msg_free(&m);
	if (status == 0)
		reply("250 2.0.0 Ok: queued as %s", id);
	else if (status == EX_DATAERR)
		reply("554 5.6.0 Error: %s", err);
	else
		reply("451 4.3.0 Error: queue file write error");
	tx_reset(s);
	return 0;
}

int
sendmail_smtp(struct sendmail_opts *defaults)
{
	struct smtp_session s = {0};
	struct buf *line = buf_new(256, MAILDROP_MAX_RECORD + 1);
	const char *host = var_myhostname;
	char *cmd, *arg, *cp, cp_empty[1] = "";
	int more = 0;

	s.defaults = defaults;
	s.size_limit = var_message_size_limit;
	reply("220 %s ESMTP %s", host, var_mail_name);
	while (sendmail_read_line(stdin, line, SMTP_MAX_LINE, &more)) {
		if (more) {
			/* Drop the rest of the over-long line. */
			while (more
			    && sendmail_read_line(stdin, line, SMTP_MAX_LINE, &more))
				;
			reply("500 5.5.0 Error: line too long");
			s.errors++;
			goto check_errors;
		}
		cp = line->data;
		cp[strcspn(cp, "\r")] = 0;
		cmd = mystrtok(&cp, " \t");
		arg = cp ? skipblanks(cp) : cp_empty;
		if (cmd == NULL) {
			reply("500 5.5.2 Error: bad syntax");
			s.errors++;
		} else if (strcasecmp(cmd, "HELO") == 0) {
			reply("250 %s", host);
		} else if (strcasecmp(cmd, "EHLO") == 0) {
			printf("250-%s\r\n250-PIPELINING\r\n", host);
			if (s.size_limit > 0)
				printf("250-SIZE %ld\r\n", s.size_limit);
			else
				printf("250-SIZE\r\n");
			printf("250-8BITMIME\r\n");
			reply("250 DSN");
		} else if (strcasecmp(cmd, "MAIL") == 0) {
			cmd_mail(&s, arg);
		} else if (strcasecmp(cmd, "RCPT") == 0) {
			cmd_rcpt(&s, arg);
		} else if (strcasecmp(cmd, "DATA") == 0) {
			if (cmd_data(&s, line) < 0)
				break;
		} else if (strcasecmp(cmd, "RSET") == 0) {
			tx_reset(&s);
			reply("250 2.0.0 Ok");
		} else if (strcasecmp(cmd, "NOOP") == 0) {
			reply("250 2.0.0 Ok");
		} else if (strcasecmp(cmd, "VRFY") == 0) {
			reply("252 2.0.0 Send some mail, I'll try my best");
		} else if (strcasecmp(cmd, "QUIT") == 0) {
			reply("221 2.0.0 Bye");
			break;
		} else {
			reply("502 5.5.2 Error: command not recognized");
			s.errors++;
		}
check_errors:
		if (s.errors >= SMTP_MAX_ERRORS) {
			reply("421 4.7.0 %s Error: too many errors", host);
			break;
		}
	}
	tx_reset(&s);
	buf_free(&line);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* smtpd_sasl - SMTP AUTH (RFC 4954) against Dovecot's authentication
 * server, as Postfix's smtpd_sasl_type = dovecot (Dovecot's "auth
 * client" protocol, version 1).
 *
 * smtpd_sasl_path names the server's socket: "private/auth" (relative
 * to queue_directory), an absolute path, or inet:host:port.  Each AUTH
 * command opens one connection: the server greets with VERSION, MECH
 * (one per mechanism, with its properties), SPID, CUID, COOKIE and DONE;
 * the client says VERSION and CPID, then "AUTH id mech service=smtp ...
 * resp=base64" and each client response as "CONT id base64"; the server
 * answers OK (logged in, user=name), CONT (a challenge: the client gets
 * a 334) or FAIL.  The client's base64 goes through as it came (only
 * base64 characters are let through, so that nothing can be smuggled
 * into the protocol).
 *
 * Everything that waits for Dovecot runs inside the session's task and
 * waits with task_event_wait: the loop serves the other sessions.  The
 * mechanisms that EHLO offers come from the last greeting seen (the
 * first EHLO asks for one), filtered by smtpd_sasl_security_options, or
 * smtpd_sasl_tls_security_options on a TLS session.
 *
 * A failed login is logged as Postfix does ("warning: NAME[ADDR]: SASL
 * PLAIN authentication failed: ...", which fail2ban reads), answered
 * with 535 and counted as an error: smtpd_soft_error_limit and
 * smtpd_error_sleep_time slow a client that guesses, and
 * smtpd_hard_error_limit ends its session. */
#include "postino_config.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "endpoint.h"
#include "mail_params.h"
#include "mail_vars.h"
#include "match_list.h"
#include "msg.h"
#include "mymalloc.h"
#include "smtpd.h"
#include "stringops.h"
#include "task.h"
#include "task_event.h"

#define SASL_LINE_MAX	(64 * 1024)	/* longest line from Dovecot */
#define SASL_MECH_MAX	32

/* Mechanism properties (Dovecot's MECH flags). */
#define MF_ANONYMOUS	(1 << 0)
#define MF_PLAINTEXT	(1 << 1)
#define MF_DICTIONARY	(1 << 2)
#define MF_ACTIVE	(1 << 3)
#define MF_FORWARD	(1 << 4)
#define MF_MUTUAL	(1 << 5)
#define MF_PRIVATE	(1 << 6)

struct mech {
	char name[64];
	int flags;
	int filtered;			/* smtpd_sasl_mechanism_filter lets it be */
};

static struct mech mechs[SASL_MECH_MAX];
static int nmechs = -1;			/* -1: no greeting seen yet */
static unsigned next_id;
static int sasl_enabled;
static int opts_plain, opts_tls;	/* MF_* a mechanism must not have */
static int need_plain, need_tls;	/* MF_* a mechanism must have */
static struct match_list *mech_filter;	/* smtpd_sasl_mechanism_filter */
static struct match_list *exceptions;	/* smtpd_sasl_exceptions_networks */

static void
parse_options(const char *value, int *no, int *need)
{
	char *copy = xstrdup(value), *cp = copy, *item;

	*no = *need = 0;
	while ((item = mystrtok(&cp, ", \t")) != NULL) {
		if (strcasecmp(item, "noanonymous") == 0)
			*no |= MF_ANONYMOUS;
		else if (strcasecmp(item, "noplaintext") == 0)
			*no |= MF_PLAINTEXT;
		else if (strcasecmp(item, "nodictionary") == 0)
			*no |= MF_DICTIONARY;
		else if (strcasecmp(item, "noactive") == 0)
			*no |= MF_ACTIVE;
		else if (strcasecmp(item, "forward_secrecy") == 0)
			*need |= MF_FORWARD;
		else if (strcasecmp(item, "mutual_auth") == 0)
			*need |= MF_MUTUAL;
		else
			msg_warn("unknown SASL security option \"%s\"", item);
	}
	free(copy);
}

void
smtpd_sasl_init(void)
{
	if (!var_smtpd_sasl_auth_enable)
		return;
	if (strcasecmp(var_smtpd_sasl_type, "dovecot") != 0)
		msg_fatal("unsupported SASL server implementation: %s "
		    "(postino supports smtpd_sasl_type = dovecot)",
		    var_smtpd_sasl_type);
	parse_options(var_smtpd_sasl_security_options, &opts_plain, &need_plain);
	parse_options(var_smtpd_sasl_tls_security_options, &opts_tls, &need_tls);
	/* Lists with tables open now, while root-only files can be read. */
	match_list_free(&mech_filter);
	match_list_free(&exceptions);
	if (*var_smtpd_sasl_mechanism_filter)
		mech_filter = match_list_create(
		    MAIL_PARAM_NAME(smtpd_sasl_mechanism_filter),
		    var_smtpd_sasl_mechanism_filter, MATCH_LIST_DOMAIN);
	if (*var_smtpd_sasl_exceptions_networks)
		exceptions = match_list_create(
		    MAIL_PARAM_NAME(smtpd_sasl_exceptions_networks),
		    var_smtpd_sasl_exceptions_networks, MATCH_LIST_HOSTADDR);
	sasl_enabled = 1;
}

/* mech_ok - may s use m? */
static int
mech_ok(const struct smtpd_session *s, const struct mech *m)
{
	int no = s->tls ? opts_tls : opts_plain;
	int need = s->tls ? need_tls : need_plain;

	if (m->flags & MF_PRIVATE)
		return 0;
	return (m->flags & no) == 0 && (m->flags & need) == need
	    && m->filtered;
}

/* mech_filtered - does smtpd_sasl_mechanism_filter let name through?
 * (Empty: every mechanism; a table error: not this one, with a
 * warning.) */
static int
mech_filtered(const char *name)
{
	int rc;

	if (mech_filter == NULL)
		return 1;
	if ((rc = match_list_match(mech_filter, name, NULL)) < 0)
		msg_warn("smtpd_sasl_mechanism_filter: %s: not offering %s",
		    match_list_reason(mech_filter), name);
	return rc == 1;
}

/* read_until - what Dovecot sends up to end (malloc'd, without the
 * last newline): one line, or the greeting up to DONE.
 * Dovecot says nothing unasked, so nothing comes after end. */
static char *
read_until(int fd, long deadline, const char *end, const char **why)
{
	char *buf = xmalloc(SASL_LINE_MAX + 1);
	size_t len = 0;

	buf[0] = 0;
	for (;;) {
		ssize_t n;
		char *hit;

		if ((hit = strstr(buf, end)) != NULL) {
			hit[strlen(end) - 1] = 0;	/* drop the last newline */
			return buf;
		}
		if (len >= SASL_LINE_MAX) {
			*why = "reply too long";
			break;
		}
		n = recv(fd, buf + len, SASL_LINE_MAX - len, 0);
		if (n > 0) {
			len += (size_t)n;
			buf[len] = 0;
			if (memchr(buf, 0, len) != NULL) {
				*why = "malformed reply";
				break;
			}
			continue;
		}
		if (n == 0) {
			*why = "connection closed";
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			*why = strerror(errno);
			break;
		}
		if (endpoint_wait(smtpd_base, fd, POLLIN, deadline,
		    "the SASL server", why) < 0)
			break;
	}
	free(buf);
	return NULL;
}

/* parse_greeting - the MECH lines of a greeting; 0, or -1 and *why. */
static int
parse_greeting(char *text, const char **why)
{
	char *cp = text, *line;
	int n = 0, version = 0;

	while ((line = mystrtok(&cp, "\n")) != NULL) {
		char *f = line, *word = mystrtok(&f, "\t");

		if (word == NULL)
			continue;
		if (strcmp(word, "VERSION") == 0) {
			char *major = mystrtok(&f, "\t");

			if (major == NULL || strcmp(major, "1") != 0) {
				*why = "unsupported protocol version";
				return -1;
			}
			version = 1;
		} else if (strcmp(word, "MECH") == 0 && n < SASL_MECH_MAX) {
			char *name = mystrtok(&f, "\t"), *flag;
			struct mech *m = &mechs[n];

			if (name == NULL || strlen(name) >= sizeof(m->name))
				continue;
			strlcpy(m->name, name, sizeof(m->name));
			m->flags = 0;
			m->filtered = mech_filtered(name);
			while ((flag = mystrtok(&f, "\t")) != NULL) {
				if (strcmp(flag, "anonymous") == 0)
					m->flags |= MF_ANONYMOUS;
				else if (strcmp(flag, "plaintext") == 0)
					m->flags |= MF_PLAINTEXT;
				else if (strcmp(flag, "dictionary") == 0)
					m->flags |= MF_DICTIONARY;
				else if (strcmp(flag, "active") == 0)
					m->flags |= MF_ACTIVE;
				else if (strcmp(flag, "forward-secrecy") == 0)
					m->flags |= MF_FORWARD;
				else if (strcmp(flag, "mutual-auth") == 0)
					m->flags |= MF_MUTUAL;
				else if (strcmp(flag, "private") == 0)
					m->flags |= MF_PRIVATE;
			}
			n++;
		}
	}
	if (!version) {
		*why = "no VERSION in the greeting";
		return -1;
	}
	nmechs = n;
	return 0;
}

/* sasl_open - connect, take the greeting, introduce ourselves; the
 * descriptor, or -1 and *why. */
static int
sasl_open(long deadline, const char **why)
{
	char hello[64];
	char *greeting;
	int fd = smtpd_check_connect(var_smtpd_sasl_path, NULL, deadline,
	    why);

	if (fd < 0)
		return -1;
	snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%lu\n",
	    (unsigned long)getpid());
	if (endpoint_send(smtpd_base, fd, hello, strlen(hello), deadline,
	    "the SASL server", why) < 0
	    || (greeting = read_until(fd, deadline, "DONE\n", why)) == NULL) {
		close(fd);
		return -1;
	}
	if (parse_greeting(greeting, why) < 0) {
		free(greeting);
		close(fd);
		return -1;
	}
	free(greeting);
	return fd;
}

static long
deadline_ms(void)
{
	return smtpd_now_ms() + (smtpd_conf.timeout > 0 ? smtpd_conf.timeout : 300)
	    * 1000L;
}

/* mech_list - the mechanisms s may use, blank-separated ("" none). */
static void
mech_list(const struct smtpd_session *s, char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; i < nmechs; i++) {
		if (!mech_ok(s, &mechs[i]))
			continue;
		if (buf[0])
			strlcat(buf, " ", len);
		strlcat(buf, mechs[i].name, len);
	}
}

/* auth_offered - does s get AUTH now (smtpd_tls_auth_only)? */
static int
auth_offered(const struct smtpd_session *s)
{
	return sasl_enabled && (s->tls || !var_smtpd_tls_auth_only);
}

/* excepted - is s's client in smtpd_sasl_exceptions_networks (no AUTH
 * in its EHLO reply; the AUTH command still works, as Postfix's)? */
static int
excepted(const struct smtpd_session *s)
{
	int rc;

	if (exceptions == NULL)
		return 0;
	if ((rc = match_list_match(exceptions, s->name, s->addr)) < 0)
		msg_warn("smtpd_sasl_exceptions_networks: %s: offering AUTH to "
		    "%s[%s]", match_list_reason(exceptions), s->name, s->addr);
	return rc == 1;
}

int
smtpd_sasl_ehlo(struct smtpd_session *s, char **lines, int max)
{
	char list[1024];
	int n = 0;

	if (!auth_offered(s) || excepted(s) || max < 1)
		return 0;
	if (nmechs < 0) {
		const char *why = "";
		int fd = sasl_open(deadline_ms(), &why);

		if (fd < 0) {
			msg_warn("SASL: connect to Dovecot auth socket \"%s\" "
			    "failed: %s", var_smtpd_sasl_path, why);
			return 0;
		}
		close(fd);
	}
	mech_list(s, list, sizeof(list));
	if (list[0] == 0)
		return 0;
	lines[n++] = concatenate("AUTH ", list, (char *)0);
	if (var_broken_sasl_auth_clients && n < max)
		lines[n++] = concatenate("AUTH=", list, (char *)0);
	return n;
}

int
smtpd_sasl_enabled(void)
{
	return sasl_enabled;
}

/* smtpd_sasl_reset - close the Dovecot connection of s. */
void
smtpd_sasl_reset(struct smtpd_session *s)
{
	if (s->sasl_fd >= 0)
		close(s->sasl_fd);
	s->sasl_fd = -1;
	free(s->sasl_mech);
	s->sasl_mech = NULL;
	free(s->sasl_login);
	s->sasl_login = NULL;
}

void
smtpd_sasl_free(struct smtpd_session *s)
{
	smtpd_sasl_reset(s);
	free(s->sasl_method);
	free(s->sasl_username);
	free(s->sasl_sender);
	s->sasl_method = s->sasl_username = s->sasl_sender = NULL;
}

/* is_base64 - only base64 characters (an empty string is fine). */
static int
is_base64(const char *cp)
{
	for (; *cp; cp++)
		if (!isalnum((unsigned char)*cp) && *cp != '+' && *cp != '/'
		    && *cp != '=')
			return 0;
	return 1;
}

/* attr - the value of "name=" among the tab-separated fields at cp. */
static const char *
attr(char *cp, const char *name)
{
	size_t nlen = strlen(name);
	char *f;

	while ((f = mystrtok(&cp, "\t")) != NULL)
		if (strncmp(f, name, nlen) == 0 && f[nlen] == '=')
			return f + nlen + 1;
	return NULL;
}

/* fail - a failed login: the warning fail2ban reads, and the 535. */
static int
fail(struct smtpd_session *s, const char *mech, const char *reason,
    const char *user)
{
	msg_warn("%s[%s]: SASL %s authentication failed: %s%s%s", s->name,
	    s->addr, mech, reason, user ? ", sasl_username=" : "",
	    user ? user : "");
	smtpd_reply(s, "535 5.7.8 Error: authentication failed: %s", reason);
	return SASL_FAIL;
}

/* temp_fail - Dovecot cannot be asked: 454, an error for the count. */
static int
temp_fail(struct smtpd_session *s, const char *why, char *text, size_t len)
{
	msg_warn("%s[%s]: SASL %s: problem talking to Dovecot auth server "
	    "\"%s\": %s", s->name, s->addr, s->sasl_mech ? s->sasl_mech : "AUTH",
	    var_smtpd_sasl_path, why);
	smtpd_sasl_reset(s);
	snprintf(text, len, "454 4.7.0 Temporary authentication failure: %s", why);
	return SASL_ERROR;
}

/* handle_reply - Dovecot's answer to AUTH or CONT. */
static int
handle_reply(struct smtpd_session *s, long deadline, char *text, size_t len)
{
	const char *why = "";
	char *line = read_until(s->sasl_fd, deadline, "\n", &why);
	char *cp, *word, *id;
	char idbuf[16];
	int rc;

	if (line == NULL)
		return temp_fail(s, why, text, len);
	cp = line;
	word = mystrtok(&cp, "\t");
	id = mystrtok(&cp, "\t");
	snprintf(idbuf, sizeof(idbuf), "%u", s->sasl_id);
	if (word == NULL || id == NULL || strcmp(id, idbuf) != 0) {
		free(line);
		return temp_fail(s, "unexpected reply", text, len);
	}
	if (strcmp(word, "OK") == 0) {
		const char *user = attr(cp, "user");

		if (user == NULL || *user == 0) {
			free(line);
			return temp_fail(s, "no user name in OK reply", text, len);
		}
		free(s->sasl_method);
		free(s->sasl_username);
		s->sasl_method = xstrdup(s->sasl_mech);
		s->sasl_username = xstrdup(user);
		for (char *p = s->sasl_username; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		smtpd_sasl_reset(s);
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		rc = SASL_OK;
	} else if (strcmp(word, "CONT") == 0) {
		const char *data = cp ? cp : "";

		if (!is_base64(data)) {
			free(line);
			return temp_fail(s, "malformed challenge", text, len);
		}
		smtpd_reply(s, "334 %s", data);
		rc = SASL_CONT;
	} else if (strcmp(word, "FAIL") == 0) {
		char *copy = cp ? xstrdup(cp) : xstrdup("");
		const char *reason = attr(copy, "reason");
		char *copy2 = cp ? xstrdup(cp) : xstrdup("");
		const char *user = attr(copy2, "user");
		char *mech = xstrdup(s->sasl_mech);
		char rbuf[256];

		/* Keep the reason printable: it goes into a reply. */
		strlcpy(rbuf, reason && *reason ? reason : "authentication failure",
		    sizeof(rbuf));
		for (char *p = rbuf; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		smtpd_sasl_reset(s);
		rc = fail(s, mech, rbuf, user);
		free(mech);
		free(copy);
		free(copy2);
	} else {
		free(line);
		return temp_fail(s, "unexpected reply", text, len);
	}
	free(line);
	return rc;
}

int
smtpd_sasl_auth(struct smtpd_session *s, char *arg, char *text, size_t len)
{
	char *cp = arg, *mech;
	const char *init;
	char *req;
	const char *why = "";
	long deadline;
	int fd, found = 0;

	/* smtpd_tls_auth_only: no AUTH before STARTTLS (as Postfix, which
	 * has SASL off until then). */
	if (!auth_offered(s)) {
		snprintf(text, len, "503 5.5.1 Error: authentication not enabled");
		return SASL_ERROR;
	}
	if (s->helo == NULL) {
		snprintf(text, len, "503 5.5.1 Error: send HELO/EHLO first");
		return SASL_ERROR;
	}
	if (s->sasl_username) {
		snprintf(text, len, "503 5.5.1 Error: already authenticated");
		return SASL_ERROR;
	}
	/* smtpd_client_auth_rate_limit: every AUTH counts, good or bad. */
	if (smtpd_anvil_auth(s) < 0)
		return SASL_FAIL;		/* the 450 is sent */
	if ((mech = mystrtok(&cp, " \t")) == NULL) {
		snprintf(text, len, "501 5.5.4 Syntax: AUTH mechanism");
		return SASL_ERROR;
	}
	init = mystrtok(&cp, " \t");
	if (mystrtok(&cp, " \t") != NULL) {
		snprintf(text, len, "501 5.5.4 Syntax: AUTH mechanism");
		return SASL_ERROR;
	}
	if (init && strcmp(init, "=") == 0)
		init = "";
	else if (init && !is_base64(init)) {
		snprintf(text, len, "501 5.5.2 Invalid base64 data in initial response");
		return SASL_ERROR;
	}
	/* RFC 4422 mechanism names: A-Z, 0-9, "-" and "_", 20 at most. */
	for (char *p = mech; *p; p++) {
		*p = (char)toupper((unsigned char)*p);
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p)
		    && *p != '-' && *p != '_')
			mech = NULL;
		if (mech == NULL)
			break;
	}
	if (mech == NULL || strlen(mech) > 20) {
		snprintf(text, len, "501 5.5.4 Syntax: AUTH mechanism");
		return SASL_ERROR;
	}
	deadline = deadline_ms();
	if ((fd = sasl_open(deadline, &why)) < 0)
		return temp_fail(s, why, text, len);
	for (int i = 0; i < nmechs; i++)
		if (strcmp(mechs[i].name, mech) == 0 && mech_ok(s, &mechs[i]))
			found = 1;
	if (!found) {
		close(fd);
		return fail(s, mech, "Invalid authentication mechanism", NULL);
	}
	s->sasl_fd = fd;
	s->sasl_mech = xstrdup(mech);
	s->sasl_id = ++next_id;
	{
		char num[16];

		snprintf(num, sizeof(num), "%u", s->sasl_id);
		req = concatenate("AUTH\t", num, "\t", mech, "\tservice=",
		    var_smtpd_sasl_service, "\tnologin\trip=", s->addr,
		    s->tls ? "\tsecured" : "", init ? "\tresp=" : "",
		    init ? init : "", "\n", (char *)0);
	}
	if (endpoint_send(smtpd_base, fd, req, strlen(req), deadline,
	    "the SASL server", &why) < 0) {
		free(req);
		return temp_fail(s, why, text, len);
	}
	free(req);
	return handle_reply(s, deadline, text, len);
}

int
smtpd_sasl_cont(struct smtpd_session *s, const char *line, char *text,
    size_t len)
{
	const char *why = "";
	long deadline = deadline_ms();
	char num[16];
	char *req;

	if (strcmp(line, "*") == 0) {
		smtpd_sasl_reset(s);
		snprintf(text, len, "501 5.7.0 Authentication aborted");
		return SASL_ERROR;
	}
	if (strlen(line) > 12288) {
		smtpd_sasl_reset(s);
		snprintf(text, len, "500 5.5.6 Authentication exchange line is too long");
		return SASL_ERROR;
	}
	if (!is_base64(line)) {
		smtpd_sasl_reset(s);
		snprintf(text, len, "501 5.5.2 Invalid base64 data in continued response");
		return SASL_ERROR;
	}
	snprintf(num, sizeof(num), "%u", s->sasl_id);
	req = concatenate("CONT\t", num, "\t", line, "\n", (char *)0);
	if (endpoint_send(smtpd_base, s->sasl_fd, req, strlen(req), deadline,
	    "the SASL server", &why) < 0) {
		free(req);
		return temp_fail(s, why, text, len);
	}
	free(req);
	return handle_reply(s, deadline, text, len);
}

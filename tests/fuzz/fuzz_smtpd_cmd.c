/* SPDX-License-Identifier: MIT */
/* fuzz_smtpd_cmd - libFuzzer target for the SMTP server's command parser
 * and DATA path: core/smtpd/smtpd_proto.c and smtpd_data.c, linked with
 * the real policy checks (smtpd_check) and the real cleanup library, so
 * that accepted messages are written to a queue directory of our own.
 *
 * The input framing and the session's input loop are smtpd's own
 * (smtpd_line.c): the fuzz bytes are put in the input buffer of the
 * session's bufferevent (a real libevent pair) and smtpd_process_input
 * takes them from there.  What stands in for smtpd.c (the process and
 * its listeners) is at the bottom of this file: replies are checked,
 * not sent, and the thread-pool jobs (the queue-file commit) run at
 * once, in order.
 *
 * Input: byte 0 picks settings (strict_rfc821_envelopes,
 * smtpd_helo_required, disable_vrfy_command, smtpd_forbid_bare_newline,
 * smtpd_forbid_unauth_pipelining, a small message_size_limit, a client
 * inside or outside mynetworks); the rest is what the client sends.
 *
 * Checks, each an abort when broken: every reply is one line (no CR or
 * LF inside: no reply injection) that starts with a 2xx-5xx code and a
 * space or '-'; the session ends in a known state; the stored HELO name,
 * sender and first recipient hold no control characters (they go into
 * the Received: header, the queue file and the logs), checked at every
 * reply; the queue files written are readable by qfile_read. */
#include "postino_config.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "cleanup.h"
#include "fuzz_util.h"
#include "mail_conf.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "mymalloc.h"
#include "qfile.h"
#include "smtpd.h"
#include "smtpd_check.h"

#define FUZZ_MAX_INPUT	(64 * 1024)

/* What smtpd.c defines. */
struct smtpd_conf smtpd_conf;
struct event_base *smtpd_base;
int smtpd_stopping;

static int replies;
static struct {
	smtpd_job_fn work, done;
	void *ctx;
	int pending;
} job;

static const char main_cf_fmt[] =
    "queue_directory = %s/queue\n"
    "myhostname = mx.example.com\n"
    "mydomain = example.com\n"
    "myorigin = example.com\n"
    "mydestination = example.com, localhost\n"
    "relay_domains = relay.example\n"
    "mynetworks = 10.0.0.0/8, [2001:db8::]/32\n"
    "local_recipient_maps =\n"
    "smtpd_helo_restrictions = reject_invalid_helo_hostname,\n"
    "    check_helo_access inline:{ {bad.example = REJECT go away} }\n"
    "smtpd_sender_restrictions = reject_non_fqdn_sender,\n"
    "    check_sender_access inline:{ {spam@example.org = REJECT},\n"
    "        {hold@example.org = HOLD}, {drop@example.org = DISCARD},\n"
    "        {pre@example.org = PREPEND X-Fuzz: yes},\n"
    "        {later@example.org = DEFER try later},\n"
    "        {redir@example.org = REDIRECT r@example.com} }\n"
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
    "smtpd_recipient_restrictions = reject_non_fqdn_recipient,\n"
    "    check_recipient_access inline:{ {nobody@example.com = 550 no such user},\n"
    "        {warn@example.com = WARN noted}, {ok@example.com = OK} }\n"
    "smtpd_data_restrictions = reject_unauth_pipelining\n"
    "smtpd_authorized_xforward_hosts = 10.0.0.0/8\n"
    "smtpd_authorized_xclient_hosts = 10.0.0.0/8\n"
    "content_filter = scan:[127.0.0.1]:10025\n"
    /* Every header meets a table (MIME parts and attached messages
     * too), and nesting is refused soon. */
    "header_checks = static:{DUNNO}\n"
    "mime_nesting_limit = 4\n"
    "mime_boundary_length_limit = 16\n";

/* empty_dir - remove the files in dir (queue files of the last input). */
static void
empty_dir(const char *dir, int check)
{
	DIR *d;
	struct dirent *de;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[4096 + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (check) {
			struct qfile_msg *m;
			const char *err;

			if ((m = qfile_read(path, &err)) == NULL) {
				fprintf(stderr, "%s: %s\n", path, err);
				abort();
			}
			qfile_msg_free(&m);
		}
		(void)unlink(path);
	}
	closedir(d);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char text[4096];

	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(text, sizeof(text), main_cf_fmt, fuzz_tmpdir());
	fuzz_write(fuzz_path("main.cf"), text, strlen(text), 0644);
	if (mkdir(fuzz_path("queue"), 0700) < 0)
		abort();
	for (int i = 0; mail_queue_names[i] != NULL; i++) {
		char name[64];

		snprintf(name, sizeof(name), "queue/%s", mail_queue_names[i]);
		if (mkdir(fuzz_path(name), 0700) < 0)
			abort();
	}
	mail_conf_set_dir(fuzz_tmpdir());
	mail_conf_read(0);
	mail_vars_bind(MAIL_VARS_SMTPD);
	smtpd_conf.myhostname = xstrdup(mail_conf_str("myhostname"));
	smtpd_conf.banner = xstrdup("mx.example.com ESMTP postino");
	smtpd_conf.mail_name = xstrdup("postino");
	smtpd_conf.timeout = 300;
	smtpd_conf.rcpt_limit = 5;
	smtpd_conf.line_limit = 512;
	smtpd_conf.hard_error_limit = 20;
	smtpd_conf.soft_error_limit = 10;
	smtpd_check_init();
	cleanup_init();
	smtpd_conf.cleanup_flags = cleanup_input_flags(NULL);
	smtpd_conf.content_filter = var_content_filter;
	if ((smtpd_base = event_base_new()) == NULL)
		abort();
	return 0;
}

/* has_crlf - does s hold a CR or LF? */
static int
has_crlf(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* has_ctl - does s hold a control character (it goes into the Received:
 * header and the queue file)? */
static int
has_ctl(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* run_job - the pool job smtpd_pool_run queued, on this thread. */
static void
run_job(void)
{
	job.pending = 0;
	job.work(job.ctx);
	job.done(job.ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_session *s;
	struct bufferevent *pair[2];
	struct evbuffer *in;
	char dir[4096];
	unsigned f;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_quiet();
	f = data[0];
	smtpd_conf.strict_rfc821 = (f & 1) != 0;
	smtpd_conf.helo_required = (f & 2) != 0;
	smtpd_conf.disable_vrfy = (f & 4) != 0;
	smtpd_conf.forbid_bare_lf = (int)((f >> 3) & 3) % 3;
	smtpd_conf.bare_lf_code = 550;
	smtpd_conf.forbid_unauth_pipelining = (f & 32) != 0;
	smtpd_conf.size_limit = (f & 64) ? 300 : 10240000;

	s = xcalloc(1, sizeof(*s));
	if (bufferevent_pair_new(smtpd_base, 0, pair) < 0)
		abort();
	s->bev = pair[0];
	s->timer = evtimer_new(smtpd_base, (event_callback_fn)abort, s);
	s->fd = -1;
	snprintf(s->addr, sizeof(s->addr), "%s", (f & 128) ? "10.1.2.3" : "192.0.2.7");
	snprintf(s->port, sizeof(s->port), "%s", "4711");
	snprintf(s->name, sizeof(s->name), "%s", "unknown");
	s->state = SMTPD_ST_CMD;
	replies = 0;
	smtpd_banner(s);
	/* A bufferevent's input takes data only from its socket (its end
	 * is frozen): unfreeze it for the fuzz bytes. */
	in = bufferevent_get_input(s->bev);
	evbuffer_unfreeze(in, 0);
	if (evbuffer_add(in, data + 1, size - 1) < 0)
		abort();
	evbuffer_freeze(in, 0);
	smtpd_process_input(s);
	/* A commit's done callback reads on (smtpd_process_input). */
	for (int steps = 0; job.pending && steps < 100000; steps++)
		run_job();
	if (job.pending)
		abort();
	if (s->state != SMTPD_ST_CMD && s->state != SMTPD_ST_DATA
	    && s->state != SMTPD_ST_CLOSING)
		abort();
	if (replies < 1)
		abort();

	smtpd_reset_transaction(s);
	free(s->helo);
	event_free(s->timer);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	free(s);
	for (int i = 0; mail_queue_names[i] != NULL; i++) {
		snprintf(dir, sizeof(dir), "%s/queue/%s", fuzz_tmpdir(),
		    mail_queue_names[i]);
		empty_dir(dir, strcmp(mail_queue_names[i], MAIL_QUEUE_INCOMING) == 0);
	}
	return 0;
}

/* Stand-ins for smtpd.c and smtpd_pool.c. */

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 4 || (size_t)n >= sizeof(text) || has_crlf(text)
	    || text[0] < '2' || text[0] > '5' || text[1] < '0' || text[1] > '9'
	    || text[2] < '0' || text[2] > '9' || (text[3] != ' ' && text[3] != '-'))
		abort();
	if (has_ctl(s->helo) || has_ctl(s->sender) || has_ctl(s->first_rcpt))
		abort();
	replies++;
}

void
smtpd_close(struct smtpd_session *s)
{
	s->dead = 1;
	s->logged_out = 1;
}

void
smtpd_close_after_reply(struct smtpd_session *s)
{
	s->state = SMTPD_ST_CLOSING;
}

void
smtpd_reset_transaction(struct smtpd_session *s)
{
	if (s->cleanup)
		cleanup_free(&s->cleanup);
	xfree(&s->sender);
	xfree(&s->dsn_envid);
	s->dsn_ret = NULL;
	xfree(&s->first_rcpt);
	xfree(&s->redirect);
	xfree(&s->commit_reply);
	s->rcpt_count = 0;
	s->mail_size = 0;
	s->hold = s->discard = 0;
	s->data_bytes = 0;
	s->data_overflow = 0;
	s->data_status = 0;
	s->data_bare_lf = 0;
}

void
smtpd_arm_timeout(struct smtpd_session *s)
{
	(void)s;
}

void
smtpd_fill_check(struct smtpd_session *s, struct smtpd_check_session *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->client_addr = s->addr;
	cs->client_name = s->name;
	cs->client_port = s->port;
	cs->helo = s->helo;
	cs->protocol = s->esmtp ? "ESMTP" : "SMTP";
	cs->sender = s->sender;
	cs->queue_id = s->cleanup ? cleanup_queue_id(s->cleanup) : NULL;
	cs->pipelining_violation = s->pipelining_violation;
	cs->rcpt_count = s->rcpt_count;
}

void
smtpd_pool_init(int threads)
{
	(void)threads;
}

void
smtpd_pool_grow_limit(int max)
{
	(void)max;
}

void
smtpd_pool_run(smtpd_job_fn work, smtpd_job_fn done, void *ctx)
{
	if (job.pending)
		abort();		/* one job per session at a time */
	job.work = work;
	job.done = done;
	job.ctx = ctx;
	job.pending = 1;
}

/* No milters here (smtpd_milters empty): every stage goes on. */
int
smtpd_milter_active(void)
{
	return 0;
}

void
smtpd_milter_helo(struct smtpd_session *s)
{
	(void)s;
}

void
smtpd_milter_free(struct smtpd_session *s)
{
	(void)s;
}

int
smtpd_milter_connect(struct smtpd_session *s)
{
	(void)s;
	return 0;
}

int
smtpd_milter_mail_saved(struct smtpd_session *s)
{
	(void)s;
	return 0;
}

int
smtpd_milter_mail(struct smtpd_session *s, const char *addr,
    const char *const *params, int nparams)
{
	(void)s;
	(void)addr;
	(void)params;
	(void)nparams;
	return 0;
}

int
smtpd_milter_rcpt(struct smtpd_session *s, const char *addr,
    const char *const *params, int nparams)
{
	(void)s;
	(void)addr;
	(void)params;
	(void)nparams;
	return 0;
}

int
smtpd_milter_unknown(struct smtpd_session *s, const char *line)
{
	(void)s;
	(void)line;
	return 0;
}

int
smtpd_milter_data(struct smtpd_session *s)
{
	(void)s;
	return 0;
}

int
smtpd_milter_eom(struct smtpd_session *s, char **reply_r)
{
	(void)s;
	*reply_r = NULL;
	return 0;
}

void
smtpd_milter_reset(struct smtpd_session *s)
{
	(void)s;
}

/* No anvil here: the limits (smtpd_anvil.c) never refuse. */
/* TLS is off here (no certificates): STARTTLS gets 502. */
int smtpd_tls_level = SMTPD_TLS_NONE;

int
smtpd_tls_offered(const struct smtpd_session *s)
{
	(void)s;
	return 0;
}

/* No SASL here (smtpd_sasl_auth_enable = no). */
int
smtpd_sasl_ehlo(struct smtpd_session *s, char **lines, int max)
{
	(void)s;
	(void)lines;
	(void)max;
	return 0;
}

int
smtpd_sasl_auth(struct smtpd_session *s, char *arg, char *text, size_t len)
{
	(void)s;
	(void)arg;
	snprintf(text, len, "503 5.5.1 Error: authentication not enabled");
	return SASL_ERROR;
}

int
smtpd_sasl_cont(struct smtpd_session *s, const char *line, char *text,
    size_t len)
{
	(void)s;
	(void)line;
	snprintf(text, len, "501 5.7.0 Authentication aborted");
	return SASL_ERROR;
}

int
smtpd_sasl_enabled(void)
{
	return 0;
}

void
smtpd_sasl_free(struct smtpd_session *s)
{
	xfree(&s->sasl_method);
	xfree(&s->sasl_username);
	xfree(&s->sasl_sender);
}

void
smtpd_tls_start(struct smtpd_session *s)
{
	s->tls_start = 0;
}

const char *
smtpd_tls_ccert_comment(const struct smtpd_session *s)
{
	(void)s;
	return "(No client certificate requested)";
}

int
smtpd_anvil_mail(struct smtpd_session *s)
{
	(void)s;
	return 0;
}

int
smtpd_anvil_rcpt(struct smtpd_session *s)
{
	(void)s;
	return 0;
}

int
smtpd_anvil_starttls(struct smtpd_session *s)
{
	(void)s;
	return 0;
}

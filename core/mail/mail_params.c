/* SPDX-License-Identifier: MIT */
/* mail_params - the parameters postino knows, with their defaults.
 *
 * Names and fixed defaults follow Postfix 3.7 ("postconf -d"), so that a
 * Postfix main.cf means the same here; installation paths and the
 * product name are postino's.  Defaults that depend on the host or on
 * the installation are computed at run time by the functions below;
 * mail_conf.c caches their results per configuration generation.
 *
 * The table must stay sorted by name (mail_param_find binary-searches;
 * a debug check panics on disorder). */
#include "postino_config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "mail_conf.h"
#include "mail_params.h"
#include "mail_version.h"
#include "msg.h"
#include "mymalloc.h"
#include "paths.h"
#include "stringops.h"

#define DEF_MYDOMAIN	"localdomain"

/* compute_config_directory - the directory main.cf was read from. */
static char *
compute_config_directory(void)
{
	return xstrdup(mail_conf_dir());
}

static char *
compute_shlib_directory(void)
{
	return xstrdup(paths_shlib_directory());
}

static char *
compute_daemon_directory(void)
{
	return xstrdup(paths_daemon_directory());
}

static char *
compute_command_directory(void)
{
	return xstrdup(paths_command_directory());
}

/* command_path - PREFIX/sbin/NAME for the *_path parameters. */
static char *
command_path(const char *name)
{
	return concatenate(paths_command_directory(), "/", name, (char *)0);
}

static char *
compute_sendmail_path(void)
{
	return command_path("sendmail");
}

static char *
compute_newaliases_path(void)
{
	return command_path("newaliases");
}

static char *
compute_mailq_path(void)
{
	return command_path("mailq");
}

static char *
compute_mail_version(void)
{
	return xstrdup(mail_version());
}

/* compute_default_config_directory - the installation's default. */
static char *
compute_default_config_directory(void)
{
	return xstrdup(paths_config_directory());
}

static char *
compute_process_id(void)
{
	char num[32];

	snprintf(num, sizeof(num), "%ld", (long)getpid());
	return xstrdup(num);
}

static char *
compute_process_name(void)
{
	return xstrdup(msg_progname());
}

/* compute_myhostname - the system's host name; a name without a dot gets
 * ".$mydomain" (mydomain as set in main.cf, else "localdomain").  The
 * host name is never looked up in DNS. */
static char *
compute_myhostname(void)
{
	char host[256];

	if (gethostname(host, sizeof(host) - 1) < 0)
		msg_fatal("gethostname: %m");
	host[sizeof(host) - 1] = 0;
	if (host[0] == 0)
		strlcpy(host, "localhost", sizeof(host));
	if (strchr(host, '.') != NULL)
		return xstrdup(host);
	return concatenate(host, ".",
	    mail_conf_is_set(MAIL_PARAM_NAME(mydomain)) ?
	    mail_conf_str(MAIL_PARAM_NAME(mydomain)) : DEF_MYDOMAIN, (char *)0);
}

/* compute_mydomain - $myhostname without its first label. */
static char *
compute_mydomain(void)
{
	const char *host = mail_conf_str(MAIL_PARAM_NAME(myhostname));
	const char *dot = strchr(host, '.');

	if (dot == NULL || dot[1] == 0)
		return xstrdup(DEF_MYDOMAIN);
	return xstrdup(dot + 1);
}

/* add_net - append "addr/len" (IPv6 in brackets) unless already listed. */
static void
add_net(struct buf *out, int family, const void *addr, int len)
{
	char text[INET6_ADDRSTRLEN], item[INET6_ADDRSTRLEN + 8];
	const char *cp;
	size_t il;

	if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
		return;
	if (family == AF_INET6)
		snprintf(item, sizeof(item), "[%s]/%d", text, len);
	else
		snprintf(item, sizeof(item), "%s/%d", text, len);
	il = strlen(item);
	for (cp = buf_str(out); (cp = strstr(cp, item)) != NULL; cp += il)
		if ((cp == buf_str(out) || cp[-1] == ' ')
		    && (cp[il] == 0 || cp[il] == ' '))
			return;
	if (buf_len(out))
		buf_putc(out, ' ');
	buf_puts(out, item);
}

/* mask_bits - clear the host part of an address of blen bytes. */
static void
mask_bits(unsigned char *a, size_t blen, int len)
{
	for (size_t i = 0; i < blen; i++) {
		int keep = len - (int)i * 8;

		if (keep <= 0)
			a[i] = 0;
		else if (keep < 8)
			a[i] &= (unsigned char)(0xff << (8 - keep));
	}
}

/* prefix_len - count leading one bits of a netmask. */
static int
prefix_len(const unsigned char *m, size_t blen)
{
	int n = 0;

	for (size_t i = 0; i < blen; i++)
		for (int b = 7; b >= 0; b--) {
			if (!(m[i] & (1 << b)))
				return n;
			n++;
		}
	return n;
}

/* compute_mynetworks - local networks per mynetworks_style: host
 * (each interface address), subnet (its subnet) or class (its
 * class A/B/C network). */
static char *
compute_mynetworks(void)
{
	const char *style = mail_conf_str(MAIL_PARAM_NAME(mynetworks_style));
	struct ifaddrs *ifs, *ifa;
	struct buf *out = buf_new(128, BUF_NOLIMIT);
	char *res;
	int host = strcasecmp(style, "host") == 0;
	int class = strcasecmp(style, "class") == 0;

	if (!host && !class && strcasecmp(style, "subnet") != 0)
		msg_fatal("unknown mynetworks_style parameter value: %s", style);
	if (getifaddrs(&ifs) < 0)
		msg_fatal("getifaddrs: %m");
	for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL || !(ifa->ifa_flags & IFF_UP))
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET) {
			struct in_addr a = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
			int len = 32;

			if (!host && ifa->ifa_netmask)
				len = prefix_len((unsigned char *)
				    &((struct sockaddr_in *)ifa->ifa_netmask)->sin_addr, 4);
			if (class) {
				unsigned char first = ((unsigned char *)&a)[0];

				len = first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : 32;
			}
			mask_bits((unsigned char *)&a, 4, len);
			add_net(out, AF_INET, &a, len);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			struct in6_addr a = ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
			int len = 128;

			if (!host && ifa->ifa_netmask)
				len = prefix_len((unsigned char *)
				    &((struct sockaddr_in6 *)ifa->ifa_netmask)->sin6_addr, 16);
			mask_bits((unsigned char *)&a, 16, len);
			add_net(out, AF_INET6, &a, len);
		}
	}
	freeifaddrs(ifs);
	res = xstrdup(buf_str(out));
	buf_free(&out);
	return res;
}

/* Implementation status of each entry (the last column of the table).
 * IMPL: some program reads it (as a typed parameter of mail_vars.def,
 * by name with mail_conf_*, as <transport>_<suffix>, or through the
 * default of one that is read).
 * Everything else is not implemented; REFUSE where ignoring a value
 * that asks for it would weaken security or skip content inspection.
 * When a parameter becomes implemented, change its column to IMPL. */
#define IMPL		MAIL_PARAM_IMPL, MAIL_PARAM_ASK_ANY, NULL
#define NOEFFECT	MAIL_PARAM_NO_EFFECT, MAIL_PARAM_ASK_ANY, NULL
#define WARN		MAIL_PARAM_NOT_IMPL_WARN, MAIL_PARAM_ASK_ANY, NULL
#define WARN_IF(rule)	MAIL_PARAM_NOT_IMPL_WARN, MAIL_PARAM_ASK_##rule, NULL
/* IMPL_REFUSE: implemented, but some values (the rule's) are refused. */
#define IMPL_REFUSE(rule, hint) \
	MAIL_PARAM_IMPL, MAIL_PARAM_ASK_##rule, hint
#define REFUSE(rule, hint) \
	MAIL_PARAM_NOT_IMPL_REFUSE, MAIL_PARAM_ASK_##rule, hint
/* REFUSE_EFFECTIVE: with flags MAIL_PARAM_EFFECTIVE, for a default
 * that itself asks for a feature postino lacks (none left today). */
#define REFUSE_EFFECTIVE(rule, hint)	REFUSE(rule, hint)

/* What to do instead, for the REFUSE entries. */
#define H_TLS_IN	\
	"postino has no STARTTLS: terminate TLS in front of postino and remove this setting"
#define H_TLS_OUT	\
	"postino's SMTP client does not implement this TLS setting: use smtp_tls_security_level and smtp_tls_policy_maps instead"
#define H_TLSLEVEL	\
	"postino's SMTP client knows the levels none, may, encrypt, fingerprint, verify, secure, dane and dane-only: use one of those"
#define H_DNSLEVEL	\
	"postino's SMTP client always looks up MX and address records in the DNS: use enabled or dnssec"
#define H_PFILTER	\
	"postino has no before-queue proxy filter: run the filter in front of postino's smtpd and remove this setting"
#define H_UPSTREAM	\
	"postino's smtpd speaks the haproxy protocol (versions 1 and 2) only: use haproxy"

const struct mail_param mail_param_table[] = {
#define MAIL_PARAM(name, def, compute, flags, status) \
	{ #name, def, compute, flags, status },
#include "mail_params.def"
#undef MAIL_PARAM
};

const size_t mail_param_count = sizeof(mail_param_table) / sizeof(mail_param_table[0]);

const struct mail_param *
mail_param_find(const char *name)
{
	size_t lo = 0, hi = mail_param_count;
	static int checked;

	if (!checked) {
		checked = 1;
		for (size_t i = 1; i < mail_param_count; i++)
			if (strcmp(mail_param_table[i - 1].name, mail_param_table[i].name) >= 0)
				msg_panic("mail_param_table: %s out of order",
				    mail_param_table[i].name);
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(name, mail_param_table[mid].name);

		if (cmp == 0)
			return &mail_param_table[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* word_is - is v (leading blanks skipped) the word w, any case? */
static int
word_is(const char *v, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(v, w, n) == 0 && *skipblanks(v + n) == 0;
}

/* is_zero - "0", "00", "0s" ...: a limit that is off. */
static int
is_zero(const char *v)
{
	const char *cp = v;

	while (*cp == '0')
		cp++;
	if (cp == v)
		return 0;
	if (*cp && strchr("smhdw", *cp) != NULL)
		cp++;
	return *skipblanks(cp) == 0;
}

enum mail_param_verdict
mail_param_judge(const struct mail_param *p, const char *value,
    int is_default)
{
	const char *v = skipblanks(value);
	int asks = 0;

	if (p->status == MAIL_PARAM_IMPL && p->rule == MAIL_PARAM_ASK_TLSLEVEL) {
		/* The client's levels; anything unknown would stop the agent:
		 * refused here, with file and line. */
		static const char *const levels[] = {"", "none", "may", "encrypt",
		"fingerprint", "verify", "secure", "dane", "dane-only", NULL};

		for (int i = 0; levels[i]; i++)
			if ((*levels[i] == 0 && *v == 0) || (*levels[i]
			    && word_is(v, levels[i])))
				return MAIL_PARAM_FINE;
		return MAIL_PARAM_REFUSES;
	}
	if (p->status == MAIL_PARAM_IMPL && p->rule == MAIL_PARAM_ASK_DNSLEVEL) {
		/* "disabled" (no DNS at all) is what postino cannot do. */
		if (*v == 0 || word_is(v, "enabled") || word_is(v, "dnssec"))
			return MAIL_PARAM_FINE;
		return MAIL_PARAM_REFUSES;
	}
	if (p->status == MAIL_PARAM_IMPL && p->rule == MAIL_PARAM_ASK_PROXYPROTO)
		return *v == 0 || word_is(v, "haproxy") ? MAIL_PARAM_FINE
		    : MAIL_PARAM_REFUSES;
	if (p->status == MAIL_PARAM_IMPL || p->status == MAIL_PARAM_NO_EFFECT)
		return MAIL_PARAM_FINE;
	if (is_default && !(p->flags & MAIL_PARAM_EFFECTIVE))
		return MAIL_PARAM_FINE;
	switch (p->rule) {
	case MAIL_PARAM_ASK_ANY:
		asks = !is_default;
		break;
	case MAIL_PARAM_ASK_YES:
		asks = !word_is(v, "no");
		break;
	case MAIL_PARAM_ASK_NONEMPTY:
		asks = *v != 0;
		break;
	case MAIL_PARAM_ASK_NONZERO:
		asks = !is_zero(v);
		break;
	case MAIL_PARAM_ASK_TLS:
		/* Opportunistic TLS that is not there: nothing is promised. */
		if (word_is(v, "may"))
			return MAIL_PARAM_WARNS;
		asks = *v != 0 && !word_is(v, "none");
		break;
	case MAIL_PARAM_ASK_TLSLEVEL:
	case MAIL_PARAM_ASK_DNSLEVEL:
	case MAIL_PARAM_ASK_PROXYPROTO:
		/* Only with IMPL (above). */
		break;
	}
	if (!asks)
		return MAIL_PARAM_FINE;
	return p->status == MAIL_PARAM_NOT_IMPL_REFUSE ? MAIL_PARAM_REFUSES
	    : MAIL_PARAM_WARNS;
}

const char *
mail_param_status_name(enum mail_param_status status)
{
	switch (status) {
	case MAIL_PARAM_IMPL:
		return "implemented";
	case MAIL_PARAM_NO_EFFECT:
		return "no effect";
	case MAIL_PARAM_NOT_IMPL_WARN:
		return "not implemented: ignored";
	case MAIL_PARAM_NOT_IMPL_REFUSE:
		return "not implemented: refused";
	}
	return "unknown";
}

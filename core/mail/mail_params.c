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

static char *
compute_mail_spool_directory(void)
{
	return xstrdup("/var/mail");	/* glibc _PATH_MAILDIR */
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
	return concatenate(host, ".", mail_conf_is_set("mydomain") ?
	    mail_conf_str("mydomain") : DEF_MYDOMAIN, (char *)0);
}

/* compute_mydomain - $myhostname without its first label. */
static char *
compute_mydomain(void)
{
	const char *host = mail_conf_str("myhostname");
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
	const char *style = mail_conf_str("mynetworks_style");
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
			/* Loopback is always the whole 127/8. */
			if (((unsigned char *)&a)[0] == 127)
				len = 8;
			mask_bits((unsigned char *)&a, 4, len);
			add_net(out, AF_INET, &a, len);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			struct in6_addr a = ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
			int len = 128;

			if (IN6_IS_ADDR_LINKLOCAL(&a))
				continue;
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

#define FIX(n, d)	{ n, d, NULL, 0 }
#define FIXF(n, d, f)	{ n, d, NULL, f }
#define COMP(n, fn)	{ n, NULL, fn, 0 }

const struct mail_param mail_param_table[] = {
/* BEGIN TABLE */
	FIX("alias_database", "hash:/etc/aliases"),
	FIX("alias_maps", "hash:/etc/aliases, nis:mail.aliases"),
	FIX("append_dot_mydomain", "${{$compatibility_level} <level {1} ? {yes} : {no}}"),
	FIX("berkeley_db_create_buffer_size", "16777216"),
	FIX("berkeley_db_read_buffer_size", "131072"),
	COMP("command_directory", compute_command_directory),
	FIX("compatibility_level", "0"),
	COMP("config_directory", compute_config_directory),
	COMP("daemon_directory", compute_daemon_directory),
	FIX("data_directory", "/var/lib/postino"),
	FIX("default_database_type", "hash"),
	FIX("mail_name", "Postino"),
	COMP("mail_spool_directory", compute_mail_spool_directory),
	COMP("mail_version", compute_mail_version),
	FIXF("mailbox_command", "", MAIL_PARAM_NOEXPAND),
	COMP("mailq_path", compute_mailq_path),
	FIX("meta_directory", "$config_directory"),
	FIX("mydestination", "$myhostname, localhost.$mydomain, localhost"),
	COMP("mydomain", compute_mydomain),
	COMP("myhostname", compute_myhostname),
	COMP("mynetworks", compute_mynetworks),
	FIX("mynetworks_style", "${{$compatibility_level} <level {2} ? {subnet} : {host}}"),
	FIX("myorigin", "$myhostname"),
	COMP("newaliases_path", compute_newaliases_path),
	FIX("parent_domain_matches_subdomains", "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"),
	COMP("process_id", compute_process_id),
	COMP("process_name", compute_process_name),
	FIX("recipient_delimiter", ""),
	FIX("relay_domains", "${{$compatibility_level} <level {2} ? {$mydestination} : {}}"),
	COMP("sendmail_path", compute_sendmail_path),
	COMP("shlib_directory", compute_shlib_directory),
	FIX("smtputf8_enable", "${{$compatibility_level} <level {1} ? {no} : {yes}}"),
/* END TABLE */
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

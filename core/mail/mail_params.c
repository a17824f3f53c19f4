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
 * IMPL: some program reads it (mail_conf_* with its name, directly, as
 * <transport>_<suffix>, or through the default of one that is read).
 * Everything else is not implemented; REFUSE where ignoring a value
 * that asks for it would weaken security or skip content inspection.
 * When a parameter becomes implemented, change its column to IMPL.
 * smtpd_client_new_tls_session_rate_limit and smtpd_client_auth_rate_limit
 * only warn: without TLS and AUTH there is nothing for them to limit
 * (and the settings that would turn those on are refused). */
#define IMPL		MAIL_PARAM_IMPL, MAIL_PARAM_ASK_ANY, NULL
#define NOEFFECT	MAIL_PARAM_NO_EFFECT, MAIL_PARAM_ASK_ANY, NULL
#define WARN		MAIL_PARAM_NOT_IMPL_WARN, MAIL_PARAM_ASK_ANY, NULL
#define WARN_IF(rule)	MAIL_PARAM_NOT_IMPL_WARN, MAIL_PARAM_ASK_##rule, NULL
#define REFUSE(rule, hint) \
	MAIL_PARAM_NOT_IMPL_REFUSE, MAIL_PARAM_ASK_##rule, hint
/* REFUSE_EFFECTIVE: with flags MAIL_PARAM_EFFECTIVE, for a default
 * that itself asks for the feature (mime_header_checks = $header_checks
 * applies header_checks to MIME headers, which postino does not do). */
#define REFUSE_EFFECTIVE(rule, hint)	REFUSE(rule, hint)

/* What to do instead, for the REFUSE entries. */
#define H_TLS_IN	\
	"postino has no STARTTLS: terminate TLS in front of postino and remove this setting"
#define H_TLS_OUT	\
	"postino has no SMTP client with TLS: relay through an MTA that encrypts and remove this setting"
#define H_SASL_IN	\
	"postino has no SMTP AUTH: authenticate submissions elsewhere and remove this setting"
#define H_SASL_OUT	\
	"postino has no SMTP client with SASL: relay through an MTA that authenticates and remove this setting"
#define H_MILTER	\
	"postino has no milter support: scan mail in front of postino and remove this setting"
#define H_CFILTER	\
	"postino has no after-queue content filter: run the filter in front of postino's smtpd and remove this setting"
#define H_PFILTER	\
	"postino has no before-queue proxy filter: run the filter in front of postino's smtpd and remove this setting"
#define H_UPSTREAM	\
	"postino does not speak the HAProxy protocol: let clients connect directly and remove this setting"
#define H_MIMEHC	\
	"postino applies header_checks to the primary headers only: set this parameter empty to accept that"
#define H_OUTCHECKS	\
	"postino has no SMTP client to inspect outgoing mail: remove this setting"
#define H_BCC	\
	"postino makes no BCC copies: archive mail elsewhere and remove this setting"
#define H_AUTHZ	\
	"postino does not restrict who runs this command: restrict it with file permissions and remove this setting"
#define H_LOGIN	\
	"postino does not check local senders against this table: remove this setting"
#define H_CHARS	\
	"postino does not reject messages by character: use body_checks and remove this setting"

const struct mail_param mail_param_table[] = {
/* BEGIN TABLE (generated by gen_params.py; names and defaults follow Postfix 3.7) */
	{ "2bounce_notice_recipient", "postmaster", NULL, 0, WARN },
	{ "access_map_defer_code", "450", NULL, 0, IMPL },
	{ "access_map_reject_code", "554", NULL, 0, IMPL },
	{ "address_verify_cache_cleanup_interval", "12h", NULL, 0, WARN },
	{ "address_verify_default_transport", "$default_transport", NULL, 0, WARN },
	{ "address_verify_local_transport", "$local_transport", NULL, 0, WARN },
	{ "address_verify_map", "btree:$data_directory/verify_cache", NULL, 0, WARN },
	{ "address_verify_negative_cache", "yes", NULL, 0, WARN },
	{ "address_verify_negative_expire_time", "3d", NULL, 0, WARN },
	{ "address_verify_negative_refresh_time", "3h", NULL, 0, WARN },
	{ "address_verify_pending_request_limit", "5000", NULL, 0, WARN },
	{ "address_verify_poll_count", "${stress?{1}:{3}}", NULL, 0, WARN },
	{ "address_verify_poll_delay", "3s", NULL, 0, WARN },
	{ "address_verify_positive_expire_time", "31d", NULL, 0, WARN },
	{ "address_verify_positive_refresh_time", "7d", NULL, 0, WARN },
	{ "address_verify_relay_transport", "$relay_transport", NULL, 0, WARN },
	{ "address_verify_relayhost", "$relayhost", NULL, 0, WARN },
	{ "address_verify_sender", "$double_bounce_sender", NULL, 0, WARN },
	{ "address_verify_sender_dependent_default_transport_maps", "$sender_dependent_default_transport_maps", NULL, 0, WARN },
	{ "address_verify_sender_dependent_relayhost_maps", "$sender_dependent_relayhost_maps", NULL, 0, WARN },
	{ "address_verify_sender_ttl", "0s", NULL, 0, WARN },
	{ "address_verify_service_name", "verify", NULL, 0, WARN },
	{ "address_verify_transport_maps", "$transport_maps", NULL, 0, WARN },
	{ "address_verify_virtual_transport", "$virtual_transport", NULL, 0, WARN },
	{ "alias_database", "hash:/etc/aliases", NULL, 0, IMPL },
	{ "alias_maps", "hash:/etc/aliases, nis:mail.aliases", NULL, 0, IMPL },
	{ "allow_mail_to_commands", "alias, forward", NULL, 0, IMPL },
	{ "allow_mail_to_files", "alias, forward", NULL, 0, IMPL },
	{ "allow_min_user", "no", NULL, 0, WARN },
	{ "allow_percent_hack", "yes", NULL, 0, IMPL },
	{ "allow_untrusted_routing", "no", NULL, 0, IMPL },
	{ "alternate_config_directories", "", NULL, 0, IMPL },
	{ "always_add_missing_headers", "no", NULL, 0, IMPL },
	{ "always_bcc", "", NULL, 0, REFUSE(NONEMPTY, H_BCC) },
	{ "anvil_rate_time_unit", "60s", NULL, 0, IMPL },
	{ "anvil_status_update_time", "600s", NULL, 0, IMPL },
	{ "append_at_myorigin", "yes", NULL, 0, IMPL },
	{ "append_dot_mydomain", "${{$compatibility_level} <level {1} ? {yes} : {no}}", NULL, 0, IMPL },
	{ "application_event_drain_time", "100s", NULL, 0, WARN },
	{ "authorized_flush_users", "static:anyone", NULL, 0, REFUSE(ANY, H_AUTHZ) },
	{ "authorized_mailq_users", "static:anyone", NULL, 0, IMPL },
	{ "authorized_submit_users", "static:anyone", NULL, 0, REFUSE(ANY, H_AUTHZ) },
	{ "backwards_bounce_logfile_compatibility", "yes", NULL, 0, WARN },
	{ "berkeley_db_create_buffer_size", "16777216", NULL, 0, WARN },
	{ "berkeley_db_read_buffer_size", "131072", NULL, 0, WARN },
	{ "best_mx_transport", "", NULL, 0, WARN },
	{ "biff", "yes", NULL, 0, WARN_IF(YES) },
	{ "body_checks", "", NULL, 0, IMPL },
	{ "body_checks_size_limit", "51200", NULL, 0, IMPL },
	{ "bounce_notice_recipient", "postmaster", NULL, 0, WARN },
	{ "bounce_queue_lifetime", "5d", NULL, 0, IMPL },
	{ "bounce_service_name", "bounce", NULL, 0, WARN },
	{ "bounce_size_limit", "50000", NULL, 0, IMPL },
	{ "bounce_template_file", "", NULL, 0, WARN },
	{ "broken_sasl_auth_clients", "no", NULL, 0, WARN },
	{ "canonical_classes", "envelope_sender, envelope_recipient, header_sender, header_recipient", NULL, 0, IMPL },
	{ "canonical_maps", "", NULL, 0, IMPL },
	{ "cleanup_replace_stray_cr_lf", "yes", NULL, 0, WARN },
	{ "cleanup_service_name", "cleanup", NULL, 0, WARN },
	{ "command_directory", NULL, compute_command_directory, 0, IMPL },
	{ "command_execution_directory", "", NULL, MAIL_PARAM_NOEXPAND, WARN },
	{ "command_expansion_filter", "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", NULL, 0, IMPL },
	{ "command_time_limit", "1000s", NULL, 0, IMPL },
	{ "compatibility_level", "0", NULL, 0, IMPL },
	{ "config_directory", NULL, compute_config_directory, 0, IMPL },
	{ "confirm_delay_cleared", "no", NULL, 0, WARN },
	{ "connection_cache_protocol_timeout", "5s", NULL, 0, WARN },
	{ "connection_cache_service_name", "scache", NULL, 0, WARN },
	{ "connection_cache_status_update_time", "600s", NULL, 0, WARN },
	{ "connection_cache_ttl_limit", "2s", NULL, 0, WARN },
	{ "content_filter", "", NULL, 0, REFUSE(NONEMPTY, H_CFILTER) },
	{ "cyrus_sasl_config_path", "", NULL, 0, WARN },
	{ "daemon_directory", NULL, compute_daemon_directory, 0, IMPL },
	{ "daemon_table_open_error_is_fatal", "no", NULL, 0, WARN },
	{ "daemon_timeout", "18000s", NULL, 0, WARN },
	{ "data_directory", "/var/lib/postino", NULL, 0, NOEFFECT },
	{ "debug_peer_level", "2", NULL, 0, WARN },
	{ "debug_peer_list", "", NULL, 0, WARN },
	{ "debugger_command", "", NULL, 0, WARN },
	{ "default_database_type", "hash", NULL, 0, IMPL },
	{ "default_delivery_slot_cost", "5", NULL, 0, WARN },
	{ "default_delivery_slot_discount", "50", NULL, 0, WARN },
	{ "default_delivery_slot_loan", "3", NULL, 0, WARN },
	{ "default_delivery_status_filter", "", NULL, 0, WARN },
	{ "default_destination_concurrency_failed_cohort_limit", "1", NULL, 0, WARN },
	{ "default_destination_concurrency_limit", "20", NULL, 0, IMPL },
	{ "default_destination_concurrency_negative_feedback", "1", NULL, 0, WARN },
	{ "default_destination_concurrency_positive_feedback", "1", NULL, 0, WARN },
	{ "default_destination_rate_delay", "0s", NULL, 0, WARN },
	{ "default_destination_recipient_limit", "50", NULL, 0, IMPL },
	{ "default_extra_recipient_limit", "1000", NULL, 0, WARN },
	{ "default_filter_nexthop", "", NULL, 0, WARN },
	{ "default_minimum_delivery_slots", "3", NULL, 0, WARN },
	{ "default_privs", "nobody", NULL, 0, IMPL },
	{ "default_process_limit", "100", NULL, 0, IMPL },
	{ "default_rbl_reply", "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}", NULL, MAIL_PARAM_NOEXPAND, IMPL },
	{ "default_recipient_limit", "20000", NULL, 0, WARN },
	{ "default_recipient_refill_delay", "5s", NULL, 0, WARN },
	{ "default_recipient_refill_limit", "100", NULL, 0, WARN },
	{ "default_transport", "smtp", NULL, 0, IMPL },
	{ "default_transport_rate_delay", "0s", NULL, 0, WARN },
	{ "default_verp_delimiters", "+=", NULL, 0, WARN },
	{ "defer_code", "450", NULL, 0, IMPL },
	{ "defer_service_name", "defer", NULL, 0, WARN },
	{ "defer_transports", "", NULL, 0, WARN },
	{ "delay_logging_resolution_limit", "2", NULL, 0, WARN },
	{ "delay_notice_recipient", "postmaster", NULL, 0, WARN },
	{ "delay_warning_time", "0h", NULL, 0, WARN },
	{ "deliver_lock_attempts", "20", NULL, 0, IMPL },
	{ "deliver_lock_delay", "1s", NULL, 0, IMPL },
	{ "destination_concurrency_feedback_debug", "no", NULL, 0, WARN },
	{ "detect_8bit_encoding_header", "yes", NULL, 0, WARN },
	{ "disable_dns_lookups", "no", NULL, 0, WARN },
	{ "disable_mime_input_processing", "no", NULL, 0, WARN },
	{ "disable_mime_output_conversion", "no", NULL, 0, WARN },
	{ "disable_verp_bounces", "no", NULL, 0, WARN },
	{ "disable_vrfy_command", "no", NULL, 0, IMPL },
	{ "dns_ncache_ttl_fix_enable", "no", NULL, 0, WARN },
	{ "dnsblog_reply_delay", "0s", NULL, 0, WARN },
	{ "dnsblog_service_name", "dnsblog", NULL, 0, WARN },
	{ "dnssec_probe", "ns:.", NULL, 0, WARN },
	{ "dont_remove", "0", NULL, 0, WARN },
	{ "double_bounce_sender", "double-bounce", NULL, 0, IMPL },
	{ "duplicate_filter_limit", "1000", NULL, 0, IMPL },
	{ "empty_address_default_transport_maps_lookup_key", "<>", NULL, 0, WARN },
	{ "empty_address_local_login_sender_maps_lookup_key", "<>", NULL, 0, WARN },
	{ "empty_address_recipient", "MAILER-DAEMON", NULL, 0, IMPL },
	{ "empty_address_relayhost_maps_lookup_key", "<>", NULL, 0, WARN },
	{ "enable_idna2003_compatibility", "no", NULL, 0, WARN },
	{ "enable_long_queue_ids", "no", NULL, 0, WARN },
	{ "enable_original_recipient", "yes", NULL, 0, IMPL },
	{ "enable_threaded_bounces", "no", NULL, 0, WARN },
	{ "error_notice_recipient", "postmaster", NULL, 0, WARN },
	{ "error_service_name", "error", NULL, 0, WARN },
	{ "execution_directory_expansion_filter", "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", NULL, 0, WARN },
	{ "expand_owner_alias", "no", NULL, 0, IMPL },
	{ "export_environment", "TZ MAIL_CONFIG LANG", NULL, 0, IMPL },
	{ "fallback_transport", "", NULL, 0, WARN },
	{ "fallback_transport_maps", "", NULL, 0, WARN },
	{ "fast_flush_domains", "$relay_domains", NULL, 0, WARN },
	{ "fast_flush_purge_time", "7d", NULL, 0, WARN },
	{ "fast_flush_refresh_time", "12h", NULL, 0, WARN },
	{ "fault_injection_code", "0", NULL, 0, WARN },
	{ "flush_service_name", "flush", NULL, 0, WARN },
	{ "fork_attempts", "5", NULL, 0, WARN },
	{ "fork_delay", "1s", NULL, 0, WARN },
	{ "forward_expansion_filter", "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", NULL, 0, IMPL },
	{ "forward_path", "$home/.forward${recipient_delimiter}${extension}, $home/.forward", NULL, MAIL_PARAM_NOEXPAND, IMPL },
	{ "frozen_delivered_to", "yes", NULL, 0, WARN },
	{ "hash_queue_depth", "1", NULL, 0, WARN },
	{ "hash_queue_names", "deferred, defer", NULL, 0, WARN },
	{ "header_address_token_limit", "10240", NULL, 0, WARN },
	{ "header_checks", "", NULL, 0, IMPL },
	{ "header_from_format", "standard", NULL, 0, WARN },
	{ "header_size_limit", "102400", NULL, 0, IMPL },
	{ "helpful_warnings", "yes", NULL, 0, WARN },
	{ "home_mailbox", "", NULL, 0, IMPL },
	{ "hopcount_limit", "50", NULL, 0, IMPL },
	{ "html_directory", "no", NULL, 0, NOEFFECT },
	{ "ignore_mx_lookup_error", "no", NULL, 0, WARN },
	{ "import_environment", "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME", NULL, 0, IMPL },
	{ "in_flow_delay", "1s", NULL, 0, WARN },
	{ "inet_interfaces", "all", NULL, 0, IMPL },
	{ "inet_protocols", "all", NULL, 0, IMPL },
	{ "info_log_address_format", "external", NULL, 0, WARN },
	{ "initial_destination_concurrency", "5", NULL, 0, IMPL },
	{ "internal_mail_filter_classes", "", NULL, 0, WARN },
	{ "invalid_hostname_reject_code", "501", NULL, 0, IMPL },
	{ "ipc_idle", "5s", NULL, 0, WARN },
	{ "ipc_timeout", "3600s", NULL, 0, WARN },
	{ "ipc_ttl", "1000s", NULL, 0, WARN },
	{ "known_tcp_ports", "lmtp=24, smtp=25, smtps=submissions=465, submission=587", NULL, 0, WARN },
	{ "line_length_limit", "2048", NULL, 0, IMPL },
	{ "lmdb_map_size", "16777216", NULL, 0, WARN },
	{ "lmtp_address_preference", "any", NULL, 0, WARN },
	{ "lmtp_address_verify_target", "rcpt", NULL, 0, WARN },
	{ "lmtp_assume_final", "no", NULL, 0, WARN },
	{ "lmtp_balance_inet_protocols", "yes", NULL, 0, WARN },
	{ "lmtp_bind_address", "", NULL, 0, WARN },
	{ "lmtp_bind_address6", "", NULL, 0, WARN },
	{ "lmtp_bind_address_enforce", "no", NULL, 0, WARN },
	{ "lmtp_body_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "lmtp_cname_overrides_servername", "no", NULL, 0, WARN },
	{ "lmtp_connect_timeout", "0s", NULL, 0, WARN },
	{ "lmtp_connection_cache_destinations", "", NULL, 0, WARN },
	{ "lmtp_connection_cache_on_demand", "yes", NULL, 0, WARN },
	{ "lmtp_connection_cache_time_limit", "2s", NULL, 0, WARN },
	{ "lmtp_connection_reuse_count_limit", "0", NULL, 0, WARN },
	{ "lmtp_connection_reuse_time_limit", "300s", NULL, 0, WARN },
	{ "lmtp_data_done_timeout", "600s", NULL, 0, WARN },
	{ "lmtp_data_init_timeout", "120s", NULL, 0, WARN },
	{ "lmtp_data_xfer_timeout", "180s", NULL, 0, WARN },
	{ "lmtp_defer_if_no_mx_address_found", "no", NULL, 0, WARN },
	{ "lmtp_delivery_status_filter", "$default_delivery_status_filter", NULL, 0, WARN },
	{ "lmtp_discard_lhlo_keyword_address_maps", "", NULL, 0, WARN },
	{ "lmtp_discard_lhlo_keywords", "", NULL, 0, WARN },
	{ "lmtp_dns_reply_filter", "", NULL, 0, WARN },
	{ "lmtp_dns_resolver_options", "", NULL, 0, WARN },
	{ "lmtp_dns_support_level", "", NULL, 0, WARN },
	{ "lmtp_enforce_tls", "no", NULL, 0, REFUSE(YES, H_TLS_OUT) },
	{ "lmtp_fallback_relay", "", NULL, 0, WARN },
	{ "lmtp_generic_maps", "", NULL, 0, WARN },
	{ "lmtp_header_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "lmtp_host_lookup", "dns", NULL, 0, WARN },
	{ "lmtp_lhlo_name", "$myhostname", NULL, 0, WARN },
	{ "lmtp_lhlo_timeout", "300s", NULL, 0, WARN },
	{ "lmtp_line_length_limit", "998", NULL, 0, WARN },
	{ "lmtp_mail_timeout", "300s", NULL, 0, WARN },
	{ "lmtp_mime_header_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "lmtp_min_data_rate", "500", NULL, 0, WARN },
	{ "lmtp_mx_address_limit", "5", NULL, 0, WARN },
	{ "lmtp_mx_session_limit", "2", NULL, 0, WARN },
	{ "lmtp_nested_header_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "lmtp_per_request_deadline", "${lmtp_per_record_deadline?{$lmtp_per_record_deadline}:{no}}", NULL, 0, WARN },
	{ "lmtp_pix_workaround_delay_time", "10s", NULL, 0, WARN },
	{ "lmtp_pix_workaround_maps", "", NULL, 0, WARN },
	{ "lmtp_pix_workaround_threshold_time", "500s", NULL, 0, WARN },
	{ "lmtp_pix_workarounds", "disable_esmtp,delay_dotcrlf", NULL, 0, WARN },
	{ "lmtp_quit_timeout", "300s", NULL, 0, WARN },
	{ "lmtp_quote_rfc821_envelope", "yes", NULL, 0, WARN },
	{ "lmtp_randomize_addresses", "yes", NULL, 0, WARN },
	{ "lmtp_rcpt_timeout", "300s", NULL, 0, WARN },
	{ "lmtp_reply_filter", "", NULL, 0, WARN },
	{ "lmtp_rset_timeout", "20s", NULL, 0, WARN },
	{ "lmtp_sasl_auth_cache_name", "", NULL, 0, WARN },
	{ "lmtp_sasl_auth_cache_time", "90d", NULL, 0, WARN },
	{ "lmtp_sasl_auth_enable", "no", NULL, 0, REFUSE(YES, H_SASL_OUT) },
	{ "lmtp_sasl_auth_soft_bounce", "yes", NULL, 0, WARN },
	{ "lmtp_sasl_mechanism_filter", "", NULL, 0, WARN },
	{ "lmtp_sasl_password_maps", "", NULL, 0, WARN },
	{ "lmtp_sasl_path", "", NULL, 0, WARN },
	{ "lmtp_sasl_security_options", "noplaintext, noanonymous", NULL, 0, WARN },
	{ "lmtp_sasl_tls_security_options", "$lmtp_sasl_security_options", NULL, 0, WARN },
	{ "lmtp_sasl_tls_verified_security_options", "$lmtp_sasl_tls_security_options", NULL, 0, WARN },
	{ "lmtp_sasl_type", "cyrus", NULL, 0, WARN },
	{ "lmtp_send_dummy_mail_auth", "no", NULL, 0, WARN },
	{ "lmtp_send_xforward_command", "no", NULL, 0, WARN },
	{ "lmtp_sender_dependent_authentication", "no", NULL, 0, WARN },
	{ "lmtp_skip_5xx_greeting", "yes", NULL, 0, WARN },
	{ "lmtp_skip_quit_response", "no", NULL, 0, WARN },
	{ "lmtp_starttls_timeout", "300s", NULL, 0, WARN },
	{ "lmtp_tcp_port", "24", NULL, 0, WARN },
	{ "lmtp_tls_CAfile", "", NULL, 0, WARN },
	{ "lmtp_tls_CApath", "", NULL, 0, WARN },
	{ "lmtp_tls_block_early_mail_reply", "no", NULL, 0, WARN },
	{ "lmtp_tls_cert_file", "", NULL, 0, WARN },
	{ "lmtp_tls_chain_files", "", NULL, 0, WARN },
	{ "lmtp_tls_ciphers", "medium", NULL, 0, WARN },
	{ "lmtp_tls_connection_reuse", "no", NULL, 0, WARN },
	{ "lmtp_tls_dcert_file", "", NULL, 0, WARN },
	{ "lmtp_tls_dkey_file", "$lmtp_tls_dcert_file", NULL, 0, WARN },
	{ "lmtp_tls_eccert_file", "", NULL, 0, WARN },
	{ "lmtp_tls_eckey_file", "$lmtp_tls_eccert_file", NULL, 0, WARN },
	{ "lmtp_tls_enforce_peername", "yes", NULL, 0, WARN },
	{ "lmtp_tls_exclude_ciphers", "", NULL, 0, WARN },
	{ "lmtp_tls_fingerprint_cert_match", "", NULL, 0, WARN },
	{ "lmtp_tls_fingerprint_digest", "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}", NULL, 0, WARN },
	{ "lmtp_tls_force_insecure_host_tlsa_lookup", "no", NULL, 0, WARN },
	{ "lmtp_tls_key_file", "$lmtp_tls_cert_file", NULL, 0, WARN },
	{ "lmtp_tls_loglevel", "0", NULL, 0, WARN },
	{ "lmtp_tls_mandatory_ciphers", "medium", NULL, 0, WARN },
	{ "lmtp_tls_mandatory_exclude_ciphers", "", NULL, 0, WARN },
	{ "lmtp_tls_mandatory_protocols", ">=TLSv1", NULL, 0, WARN },
	{ "lmtp_tls_note_starttls_offer", "no", NULL, 0, WARN },
	{ "lmtp_tls_per_site", "", NULL, 0, REFUSE(NONEMPTY, H_TLS_OUT) },
	{ "lmtp_tls_policy_maps", "", NULL, 0, REFUSE(NONEMPTY, H_TLS_OUT) },
	{ "lmtp_tls_protocols", ">=TLSv1", NULL, 0, WARN },
	{ "lmtp_tls_scert_verifydepth", "9", NULL, 0, WARN },
	{ "lmtp_tls_secure_cert_match", "nexthop", NULL, 0, WARN },
	{ "lmtp_tls_security_level", "", NULL, 0, REFUSE(TLS, H_TLS_OUT) },
	{ "lmtp_tls_servername", "", NULL, 0, WARN },
	{ "lmtp_tls_session_cache_database", "", NULL, 0, WARN },
	{ "lmtp_tls_session_cache_timeout", "3600s", NULL, 0, WARN },
	{ "lmtp_tls_trust_anchor_file", "", NULL, 0, WARN },
	{ "lmtp_tls_verify_cert_match", "hostname", NULL, 0, WARN },
	{ "lmtp_tls_wrappermode", "no", NULL, 0, REFUSE(YES, H_TLS_OUT) },
	{ "lmtp_use_tls", "no", NULL, 0, WARN_IF(YES) },
	{ "lmtp_xforward_timeout", "300s", NULL, 0, WARN },
	{ "local_command_shell", "", NULL, 0, IMPL },
	{ "local_delivery_status_filter", "$default_delivery_status_filter", NULL, 0, WARN },
	{ "local_destination_concurrency_limit", "2", NULL, 0, IMPL },
	{ "local_destination_recipient_limit", "1", NULL, 0, IMPL },
	{ "local_header_rewrite_clients", "permit_inet_interfaces", NULL, 0, IMPL },
	{ "local_login_sender_maps", "static:*", NULL, 0, REFUSE(ANY, H_LOGIN) },
	{ "local_recipient_maps", "proxy:unix:passwd.byname $alias_maps", NULL, 0, IMPL },
	{ "local_transport", "local:$myhostname", NULL, 0, IMPL },
	{ "luser_relay", "", NULL, MAIL_PARAM_NOEXPAND, IMPL },
	{ "mail_name", "Postino", NULL, 0, IMPL },
	{ "mail_owner", "postino", NULL, 0, IMPL },
	{ "mail_release_date", "20261125", NULL, 0, NOEFFECT },
	{ "mail_spool_directory", "/var/mail", NULL, 0, IMPL },
	{ "mail_version", NULL, compute_mail_version, 0, NOEFFECT },
	{ "mailbox_command", "", NULL, MAIL_PARAM_NOEXPAND, IMPL },
	{ "mailbox_command_maps", "", NULL, 0, WARN },
	{ "mailbox_delivery_lock", "fcntl, dotlock", NULL, 0, IMPL },
	{ "mailbox_size_limit", "51200000", NULL, 0, IMPL },
	{ "mailbox_transport", "", NULL, 0, WARN },
	{ "mailbox_transport_maps", "", NULL, 0, WARN },
	{ "maillog_file", "", NULL, 0, IMPL },
	{ "maillog_file_compressor", "gzip", NULL, 0, WARN },
	{ "maillog_file_prefixes", "/var, /dev/stdout", NULL, 0, WARN },
	{ "maillog_file_rotate_suffix", "%Y%m%d-%H%M%S", NULL, 0, WARN },
	{ "mailq_path", NULL, compute_mailq_path, 0, NOEFFECT },
	{ "manpage_directory", "/usr/share/man", NULL, 0, NOEFFECT },
	{ "maps_rbl_domains", "", NULL, 0, IMPL },
	{ "maps_rbl_reject_code", "554", NULL, 0, IMPL },
	{ "masquerade_classes", "envelope_sender, header_sender, header_recipient", NULL, 0, WARN },
	{ "masquerade_domains", "", NULL, 0, WARN },
	{ "masquerade_exceptions", "", NULL, 0, WARN },
	{ "master_service_disable", "", NULL, 0, IMPL },
	{ "max_idle", "100s", NULL, 0, WARN },
	{ "max_use", "100", NULL, 0, WARN },
	{ "maximal_backoff_time", "4000s", NULL, 0, IMPL },
	{ "maximal_queue_lifetime", "5d", NULL, 0, IMPL },
	{ "message_drop_headers", "bcc, content-length, resent-bcc, return-path", NULL, 0, IMPL },
	{ "message_reject_characters", "", NULL, 0, REFUSE(NONEMPTY, H_CHARS) },
	{ "message_size_limit", "10240000", NULL, 0, IMPL },
	{ "message_strip_characters", "", NULL, 0, WARN },
	{ "meta_directory", "$config_directory", NULL, 0, IMPL },
	{ "milter_command_timeout", "30s", NULL, 0, WARN },
	{ "milter_connect_macros", "j {daemon_name} {daemon_addr} v _", NULL, 0, WARN },
	{ "milter_connect_timeout", "30s", NULL, 0, WARN },
	{ "milter_content_timeout", "300s", NULL, 0, WARN },
	{ "milter_data_macros", "i", NULL, 0, WARN },
	{ "milter_default_action", "tempfail", NULL, 0, WARN },
	{ "milter_end_of_data_macros", "i", NULL, 0, WARN },
	{ "milter_end_of_header_macros", "i", NULL, 0, WARN },
	{ "milter_header_checks", "", NULL, 0, WARN },
	{ "milter_helo_macros", "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}", NULL, 0, WARN },
	{ "milter_macro_daemon_name", "$myhostname", NULL, 0, WARN },
	{ "milter_macro_defaults", "", NULL, 0, WARN },
	{ "milter_macro_v", "$mail_name $mail_version", NULL, 0, WARN },
	{ "milter_mail_macros", "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}", NULL, 0, WARN },
	{ "milter_protocol", "6", NULL, 0, WARN },
	{ "milter_rcpt_macros", "i {rcpt_addr} {rcpt_host} {rcpt_mailer}", NULL, 0, WARN },
	{ "milter_unknown_command_macros", "", NULL, 0, WARN },
	{ "mime_boundary_length_limit", "2048", NULL, 0, WARN },
	{ "mime_header_checks", "$header_checks", NULL, MAIL_PARAM_EFFECTIVE, REFUSE_EFFECTIVE(NONEMPTY, H_MIMEHC) },
	{ "mime_nesting_limit", "100", NULL, 0, WARN },
	{ "minimal_backoff_time", "300s", NULL, 0, IMPL },
	{ "multi_instance_directories", "", NULL, 0, WARN },
	{ "multi_instance_enable", "no", NULL, 0, WARN },
	{ "multi_instance_group", "", NULL, 0, WARN },
	{ "multi_instance_name", "", NULL, 0, IMPL },
	{ "multi_instance_wrapper", "", NULL, 0, WARN },
	{ "multi_recipient_bounce_reject_code", "550", NULL, 0, IMPL },
	{ "mydestination", "$myhostname, localhost.$mydomain, localhost", NULL, 0, IMPL },
	{ "mydomain", NULL, compute_mydomain, 0, IMPL },
	{ "myhostname", NULL, compute_myhostname, 0, IMPL },
	{ "mynetworks", NULL, compute_mynetworks, 0, IMPL },
	{ "mynetworks_style", "${{$compatibility_level} <level {2} ? {subnet} : {host}}", NULL, 0, IMPL },
	{ "myorigin", "$myhostname", NULL, 0, IMPL },
	{ "nested_header_checks", "$header_checks", NULL, MAIL_PARAM_EFFECTIVE, REFUSE_EFFECTIVE(NONEMPTY, H_MIMEHC) },
	{ "newaliases_path", NULL, compute_newaliases_path, 0, NOEFFECT },
	{ "non_fqdn_reject_code", "504", NULL, 0, IMPL },
	{ "non_smtpd_milters", "", NULL, 0, REFUSE(NONEMPTY, H_MILTER) },
	{ "notify_classes", "resource, software", NULL, 0, WARN },
	{ "openssl_path", "openssl", NULL, 0, NOEFFECT },
	{ "owner_request_special", "yes", NULL, 0, IMPL },
	{ "parent_domain_matches_subdomains", "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps", NULL, 0, IMPL },
	{ "permit_mx_backup_networks", "", NULL, 0, IMPL },
	{ "pickup_service_name", "pickup", NULL, 0, WARN },
	{ "pipe_delivery_status_filter", "$default_delivery_status_filter", NULL, 0, WARN },
	{ "plaintext_reject_code", "450", NULL, 0, IMPL },
	{ "postino_lookup_cache_negative_ttl", "60s", NULL, 0, IMPL },
	{ "postino_lookup_cache_size", "10000", NULL, 0, IMPL },
	{ "postino_lookup_cache_ttl", "0", NULL, 0, IMPL },
	{ "postlog_service_name", "postlog", NULL, 0, WARN },
	{ "postlogd_watchdog_timeout", "10s", NULL, 0, WARN },
	{ "postmulti_control_commands", "reload flush", NULL, 0, WARN },
	{ "postmulti_start_commands", "start", NULL, 0, WARN },
	{ "postmulti_stop_commands", "stop abort drain quick-stop", NULL, 0, WARN },
	{ "postscreen_access_list", "permit_mynetworks", NULL, 0, WARN },
	{ "postscreen_allowlist_interfaces", "${postscreen_whitelist_interfaces?{$postscreen_whitelist_interfaces}:{static:all}}", NULL, 0, WARN },
	{ "postscreen_bare_newline_action", "ignore", NULL, 0, WARN },
	{ "postscreen_bare_newline_enable", "no", NULL, 0, WARN },
	{ "postscreen_bare_newline_ttl", "30d", NULL, 0, WARN },
	{ "postscreen_cache_cleanup_interval", "12h", NULL, 0, WARN },
	{ "postscreen_cache_map", "btree:$data_directory/postscreen_cache", NULL, 0, WARN },
	{ "postscreen_cache_retention_time", "7d", NULL, 0, WARN },
	{ "postscreen_client_connection_count_limit", "$smtpd_client_connection_count_limit", NULL, 0, WARN_IF(NONZERO) },
	{ "postscreen_command_count_limit", "20", NULL, 0, WARN },
	{ "postscreen_command_filter", "", NULL, 0, WARN },
	{ "postscreen_command_time_limit", "${stress?{10}:{300}}s", NULL, 0, WARN },
	{ "postscreen_denylist_action", "${postscreen_blacklist_action?{$postscreen_blacklist_action}:{ignore}}", NULL, 0, WARN },
	{ "postscreen_disable_vrfy_command", "$disable_vrfy_command", NULL, 0, WARN },
	{ "postscreen_discard_ehlo_keyword_address_maps", "$smtpd_discard_ehlo_keyword_address_maps", NULL, 0, WARN },
	{ "postscreen_discard_ehlo_keywords", "$smtpd_discard_ehlo_keywords", NULL, 0, WARN },
	{ "postscreen_dnsbl_action", "ignore", NULL, 0, WARN },
	{ "postscreen_dnsbl_allowlist_threshold", "${postscreen_dnsbl_whitelist_threshold?{$postscreen_dnsbl_whitelist_threshold}:{0}}", NULL, 0, WARN },
	{ "postscreen_dnsbl_max_ttl", "${postscreen_dnsbl_ttl?{$postscreen_dnsbl_ttl}:{1}}h", NULL, 0, WARN },
	{ "postscreen_dnsbl_min_ttl", "60s", NULL, 0, WARN },
	{ "postscreen_dnsbl_reply_map", "", NULL, 0, WARN },
	{ "postscreen_dnsbl_sites", "", NULL, 0, WARN },
	{ "postscreen_dnsbl_threshold", "1", NULL, 0, WARN },
	{ "postscreen_dnsbl_timeout", "10s", NULL, 0, WARN },
	{ "postscreen_enforce_tls", "$smtpd_enforce_tls", NULL, 0, WARN },
	{ "postscreen_expansion_filter", "$smtpd_expansion_filter", NULL, MAIL_PARAM_NOEXPAND, WARN },
	{ "postscreen_forbidden_commands", "$smtpd_forbidden_commands", NULL, 0, WARN },
	{ "postscreen_greet_action", "ignore", NULL, 0, WARN },
	{ "postscreen_greet_banner", "$smtpd_banner", NULL, 0, WARN },
	{ "postscreen_greet_ttl", "1d", NULL, 0, WARN },
	{ "postscreen_greet_wait", "${stress?{2}:{6}}s", NULL, 0, WARN },
	{ "postscreen_helo_required", "$smtpd_helo_required", NULL, 0, WARN },
	{ "postscreen_non_smtp_command_action", "drop", NULL, 0, WARN },
	{ "postscreen_non_smtp_command_enable", "no", NULL, 0, WARN },
	{ "postscreen_non_smtp_command_ttl", "30d", NULL, 0, WARN },
	{ "postscreen_pipelining_action", "enforce", NULL, 0, WARN },
	{ "postscreen_pipelining_enable", "no", NULL, 0, WARN },
	{ "postscreen_pipelining_ttl", "30d", NULL, 0, WARN },
	{ "postscreen_post_queue_limit", "$default_process_limit", NULL, 0, WARN },
	{ "postscreen_pre_queue_limit", "$default_process_limit", NULL, 0, WARN },
	{ "postscreen_reject_footer", "$smtpd_reject_footer", NULL, MAIL_PARAM_NOEXPAND, WARN },
	{ "postscreen_reject_footer_maps", "$smtpd_reject_footer_maps", NULL, 0, WARN },
	{ "postscreen_tls_security_level", "$smtpd_tls_security_level", NULL, 0, WARN_IF(TLS) },
	{ "postscreen_upstream_proxy_protocol", "", NULL, 0, WARN },
	{ "postscreen_upstream_proxy_timeout", "5s", NULL, 0, WARN },
	{ "postscreen_use_tls", "$smtpd_use_tls", NULL, 0, WARN },
	{ "postscreen_watchdog_timeout", "10s", NULL, 0, WARN },
	{ "prepend_delivered_header", "command, file, forward", NULL, 0, IMPL },
	{ "process_id", NULL, compute_process_id, MAIL_PARAM_READONLY, IMPL },
	{ "process_id_directory", "pid", NULL, 0, WARN },
	{ "process_name", NULL, compute_process_name, MAIL_PARAM_READONLY, IMPL },
	{ "propagate_unmatched_extensions", "canonical, virtual", NULL, 0, IMPL },
	{ "proxy_interfaces", "", NULL, 0, IMPL },
	{ "proxy_read_maps", "$local_recipient_maps $mydestination $virtual_alias_maps $virtual_alias_domains $virtual_mailbox_maps $virtual_mailbox_domains $relay_recipient_maps $relay_domains $canonical_maps $sender_canonical_maps $recipient_canonical_maps $relocated_maps $transport_maps $mynetworks $smtpd_sender_login_maps $sender_bcc_maps $recipient_bcc_maps $smtp_generic_maps $lmtp_generic_maps $alias_maps $smtpd_client_restrictions $smtpd_helo_restrictions $smtpd_sender_restrictions $smtpd_relay_restrictions $smtpd_recipient_restrictions $address_verify_sender_dependent_default_transport_maps $address_verify_sender_dependent_relayhost_maps $address_verify_transport_maps $fallback_transport_maps $lmtp_discard_lhlo_keyword_address_maps $lmtp_pix_workaround_maps $lmtp_sasl_password_maps $lmtp_tls_policy_maps $mailbox_command_maps $mailbox_transport_maps $postscreen_discard_ehlo_keyword_address_maps $rbl_reply_maps $sender_dependent_default_transport_maps $sender_dependent_relayhost_maps $smtp_discard_ehlo_keyword_address_maps $smtp_pix_workaround_maps $smtp_sasl_password_maps $smtp_tls_policy_maps $smtpd_discard_ehlo_keyword_address_maps $smtpd_milter_maps $virtual_gid_maps $virtual_uid_maps $local_login_sender_maps $postscreen_reject_footer_maps $smtpd_reject_footer_maps $tls_server_sni_maps $tlsproxy_client_policy_maps $default_delivery_status_filter $lmtp_delivery_status_filter $lmtp_dns_reply_filter $lmtp_reply_filter $local_delivery_status_filter $pipe_delivery_status_filter $postscreen_command_filter $smtp_delivery_status_filter $smtp_dns_reply_filter $smtp_reply_filter $smtpd_command_filter $smtpd_dns_reply_filter $virtual_delivery_status_filter $body_checks $header_checks $lmtp_body_checks $lmtp_header_checks $lmtp_mime_header_checks $lmtp_nested_header_checks $milter_header_checks $mime_header_checks $nested_header_checks $smtp_body_checks $smtp_header_checks $smtp_mime_header_checks $smtp_nested_header_checks", NULL, 0, WARN },
	{ "proxy_write_maps", "$smtp_sasl_auth_cache_name $lmtp_sasl_auth_cache_name $address_verify_map $postscreen_cache_map", NULL, 0, WARN },
	{ "proxymap_service_name", "proxymap", NULL, 0, WARN },
	{ "proxywrite_service_name", "proxywrite", NULL, 0, WARN },
	{ "qmgr_clog_warn_time", "300s", NULL, 0, WARN },
	{ "qmgr_daemon_timeout", "1000s", NULL, 0, WARN },
	{ "qmgr_fudge_factor", "100", NULL, 0, WARN },
	{ "qmgr_ipc_timeout", "60s", NULL, 0, WARN },
	{ "qmgr_message_active_limit", "20000", NULL, 0, IMPL },
	{ "qmgr_message_recipient_limit", "20000", NULL, 0, WARN },
	{ "qmgr_message_recipient_minimum", "10", NULL, 0, WARN },
	{ "qmqpd_authorized_clients", "", NULL, 0, WARN },
	{ "qmqpd_client_port_logging", "no", NULL, 0, WARN },
	{ "qmqpd_error_delay", "1s", NULL, 0, WARN },
	{ "qmqpd_timeout", "300s", NULL, 0, WARN },
	{ "queue_directory", "/var/spool/postino", NULL, 0, IMPL },
	{ "queue_file_attribute_count_limit", "100", NULL, 0, WARN },
	{ "queue_minfree", "0", NULL, 0, IMPL },
	{ "queue_run_delay", "300s", NULL, 0, IMPL },
	{ "queue_service_name", "qmgr", NULL, 0, WARN },
	{ "rbl_reply_maps", "", NULL, 0, IMPL },
	{ "readme_directory", "no", NULL, 0, NOEFFECT },
	{ "receive_override_options", "", NULL, 0, WARN },
	{ "recipient_bcc_maps", "", NULL, 0, REFUSE(NONEMPTY, H_BCC) },
	{ "recipient_canonical_classes", "envelope_recipient, header_recipient", NULL, 0, IMPL },
	{ "recipient_canonical_maps", "", NULL, 0, IMPL },
	{ "recipient_delimiter", "", NULL, 0, IMPL },
	{ "reject_code", "554", NULL, 0, IMPL },
	{ "reject_tempfail_action", "defer_if_permit", NULL, 0, IMPL },
	{ "relay_clientcerts", "", NULL, 0, WARN },
	{ "relay_domains", "${{$compatibility_level} <level {2} ? {$mydestination} : {}}", NULL, 0, IMPL },
	{ "relay_domains_reject_code", "554", NULL, 0, IMPL },
	{ "relay_recipient_maps", "", NULL, 0, IMPL },
	{ "relay_transport", "relay", NULL, 0, IMPL },
	{ "relayhost", "", NULL, 0, IMPL },
	{ "relocated_maps", "", NULL, 0, WARN },
	{ "remote_header_rewrite_domain", "", NULL, 0, WARN },
	{ "require_home_directory", "no", NULL, 0, WARN },
	{ "reset_owner_alias", "no", NULL, 0, WARN },
	{ "resolve_dequoted_address", "yes", NULL, 0, WARN },
	{ "resolve_null_domain", "no", NULL, 0, WARN },
	{ "resolve_numeric_domain", "no", NULL, 0, WARN },
	{ "respectful_logging", "${{$compatibility_level} <level {3.6} ? {no} : {yes}}", NULL, 0, WARN },
	{ "rewrite_service_name", "rewrite", NULL, 0, WARN },
	{ "sample_directory", NULL, compute_default_config_directory, 0, NOEFFECT },
	{ "send_cyrus_sasl_authzid", "no", NULL, 0, WARN },
	{ "sender_bcc_maps", "", NULL, 0, REFUSE(NONEMPTY, H_BCC) },
	{ "sender_canonical_classes", "envelope_sender, header_sender", NULL, 0, IMPL },
	{ "sender_canonical_maps", "", NULL, 0, IMPL },
	{ "sender_dependent_default_transport_maps", "", NULL, 0, WARN },
	{ "sender_dependent_relayhost_maps", "", NULL, 0, WARN },
	{ "sendmail_fix_line_endings", "always", NULL, 0, WARN },
	{ "sendmail_path", NULL, compute_sendmail_path, 0, NOEFFECT },
	{ "service_name", "", NULL, MAIL_PARAM_READONLY, IMPL },
	{ "service_throttle_time", "60s", NULL, 0, IMPL },
	{ "setgid_group", "postdrop", NULL, 0, IMPL },
	{ "shlib_directory", NULL, compute_shlib_directory, 0, IMPL },
	{ "show_user_unknown_table_name", "yes", NULL, 0, IMPL },
	{ "showq_service_name", "showq", NULL, 0, WARN },
	{ "smtp_address_preference", "any", NULL, 0, WARN },
	{ "smtp_address_verify_target", "rcpt", NULL, 0, WARN },
	{ "smtp_always_send_ehlo", "yes", NULL, 0, WARN },
	{ "smtp_balance_inet_protocols", "yes", NULL, 0, WARN },
	{ "smtp_bind_address", "", NULL, 0, WARN },
	{ "smtp_bind_address6", "", NULL, 0, WARN },
	{ "smtp_bind_address_enforce", "no", NULL, 0, WARN },
	{ "smtp_body_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "smtp_cname_overrides_servername", "no", NULL, 0, WARN },
	{ "smtp_connect_timeout", "30s", NULL, 0, WARN },
	{ "smtp_connection_cache_destinations", "", NULL, 0, WARN },
	{ "smtp_connection_cache_on_demand", "yes", NULL, 0, WARN },
	{ "smtp_connection_cache_time_limit", "2s", NULL, 0, WARN },
	{ "smtp_connection_reuse_count_limit", "0", NULL, 0, WARN },
	{ "smtp_connection_reuse_time_limit", "300s", NULL, 0, WARN },
	{ "smtp_data_done_timeout", "600s", NULL, 0, WARN },
	{ "smtp_data_init_timeout", "120s", NULL, 0, WARN },
	{ "smtp_data_xfer_timeout", "180s", NULL, 0, WARN },
	{ "smtp_defer_if_no_mx_address_found", "no", NULL, 0, WARN },
	{ "smtp_delivery_status_filter", "$default_delivery_status_filter", NULL, 0, WARN },
	{ "smtp_discard_ehlo_keyword_address_maps", "", NULL, 0, WARN },
	{ "smtp_discard_ehlo_keywords", "", NULL, 0, WARN },
	{ "smtp_dns_reply_filter", "", NULL, 0, WARN },
	{ "smtp_dns_resolver_options", "", NULL, 0, WARN },
	{ "smtp_dns_support_level", "", NULL, 0, WARN },
	{ "smtp_enforce_tls", "no", NULL, 0, REFUSE(YES, H_TLS_OUT) },
	{ "smtp_fallback_relay", "$fallback_relay", NULL, 0, WARN },
	{ "smtp_generic_maps", "", NULL, 0, WARN },
	{ "smtp_header_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "smtp_helo_name", "$myhostname", NULL, 0, WARN },
	{ "smtp_helo_timeout", "300s", NULL, 0, WARN },
	{ "smtp_host_lookup", "dns", NULL, 0, WARN },
	{ "smtp_line_length_limit", "998", NULL, 0, WARN },
	{ "smtp_mail_timeout", "300s", NULL, 0, WARN },
	{ "smtp_mime_header_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "smtp_min_data_rate", "500", NULL, 0, WARN },
	{ "smtp_mx_address_limit", "5", NULL, 0, WARN },
	{ "smtp_mx_session_limit", "2", NULL, 0, WARN },
	{ "smtp_nested_header_checks", "", NULL, 0, REFUSE(NONEMPTY, H_OUTCHECKS) },
	{ "smtp_never_send_ehlo", "no", NULL, 0, WARN },
	{ "smtp_per_request_deadline", "${smtp_per_record_deadline?{$smtp_per_record_deadline}:{no}}", NULL, 0, WARN },
	{ "smtp_pix_workaround_delay_time", "10s", NULL, 0, WARN },
	{ "smtp_pix_workaround_maps", "", NULL, 0, WARN },
	{ "smtp_pix_workaround_threshold_time", "500s", NULL, 0, WARN },
	{ "smtp_pix_workarounds", "disable_esmtp,delay_dotcrlf", NULL, 0, WARN },
	{ "smtp_quit_timeout", "300s", NULL, 0, WARN },
	{ "smtp_quote_rfc821_envelope", "yes", NULL, 0, WARN },
	{ "smtp_randomize_addresses", "yes", NULL, 0, WARN },
	{ "smtp_rcpt_timeout", "300s", NULL, 0, WARN },
	{ "smtp_reply_filter", "", NULL, 0, WARN },
	{ "smtp_rset_timeout", "20s", NULL, 0, WARN },
	{ "smtp_sasl_auth_cache_name", "", NULL, 0, WARN },
	{ "smtp_sasl_auth_cache_time", "90d", NULL, 0, WARN },
	{ "smtp_sasl_auth_enable", "no", NULL, 0, REFUSE(YES, H_SASL_OUT) },
	{ "smtp_sasl_auth_soft_bounce", "yes", NULL, 0, WARN },
	{ "smtp_sasl_mechanism_filter", "", NULL, 0, WARN },
	{ "smtp_sasl_password_maps", "", NULL, 0, WARN },
	{ "smtp_sasl_path", "", NULL, 0, WARN },
	{ "smtp_sasl_security_options", "noplaintext, noanonymous", NULL, 0, WARN },
	{ "smtp_sasl_tls_security_options", "$smtp_sasl_security_options", NULL, 0, WARN },
	{ "smtp_sasl_tls_verified_security_options", "$smtp_sasl_tls_security_options", NULL, 0, WARN },
	{ "smtp_sasl_type", "cyrus", NULL, 0, WARN },
	{ "smtp_send_dummy_mail_auth", "no", NULL, 0, WARN },
	{ "smtp_send_xforward_command", "no", NULL, 0, WARN },
	{ "smtp_sender_dependent_authentication", "no", NULL, 0, WARN },
	{ "smtp_skip_5xx_greeting", "yes", NULL, 0, WARN },
	{ "smtp_skip_quit_response", "yes", NULL, 0, WARN },
	{ "smtp_starttls_timeout", "300s", NULL, 0, WARN },
	{ "smtp_tcp_port", "smtp", NULL, 0, WARN },
	{ "smtp_tls_CAfile", "", NULL, 0, WARN },
	{ "smtp_tls_CApath", "", NULL, 0, WARN },
	{ "smtp_tls_block_early_mail_reply", "no", NULL, 0, WARN },
	{ "smtp_tls_cert_file", "", NULL, 0, WARN },
	{ "smtp_tls_chain_files", "", NULL, 0, WARN },
	{ "smtp_tls_ciphers", "medium", NULL, 0, WARN },
	{ "smtp_tls_connection_reuse", "no", NULL, 0, WARN },
	{ "smtp_tls_dane_insecure_mx_policy", "${{$smtp_tls_security_level} == {dane} ? {dane} : {may}}", NULL, 0, WARN },
	{ "smtp_tls_dcert_file", "", NULL, 0, WARN },
	{ "smtp_tls_dkey_file", "$smtp_tls_dcert_file", NULL, 0, WARN },
	{ "smtp_tls_eccert_file", "", NULL, 0, WARN },
	{ "smtp_tls_eckey_file", "$smtp_tls_eccert_file", NULL, 0, WARN },
	{ "smtp_tls_enforce_peername", "yes", NULL, 0, WARN },
	{ "smtp_tls_exclude_ciphers", "", NULL, 0, WARN },
	{ "smtp_tls_fingerprint_cert_match", "", NULL, 0, WARN },
	{ "smtp_tls_fingerprint_digest", "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}", NULL, 0, WARN },
	{ "smtp_tls_force_insecure_host_tlsa_lookup", "no", NULL, 0, WARN },
	{ "smtp_tls_key_file", "$smtp_tls_cert_file", NULL, 0, WARN },
	{ "smtp_tls_loglevel", "0", NULL, 0, WARN },
	{ "smtp_tls_mandatory_ciphers", "medium", NULL, 0, WARN },
	{ "smtp_tls_mandatory_exclude_ciphers", "", NULL, 0, WARN },
	{ "smtp_tls_mandatory_protocols", ">=TLSv1", NULL, 0, WARN },
	{ "smtp_tls_note_starttls_offer", "no", NULL, 0, WARN },
	{ "smtp_tls_per_site", "", NULL, 0, REFUSE(NONEMPTY, H_TLS_OUT) },
	{ "smtp_tls_policy_maps", "", NULL, 0, REFUSE(NONEMPTY, H_TLS_OUT) },
	{ "smtp_tls_protocols", ">=TLSv1", NULL, 0, WARN },
	{ "smtp_tls_scert_verifydepth", "9", NULL, 0, WARN },
	{ "smtp_tls_secure_cert_match", "nexthop, dot-nexthop", NULL, 0, WARN },
	{ "smtp_tls_security_level", "", NULL, 0, REFUSE(TLS, H_TLS_OUT) },
	{ "smtp_tls_servername", "", NULL, 0, WARN },
	{ "smtp_tls_session_cache_database", "", NULL, 0, WARN },
	{ "smtp_tls_session_cache_timeout", "3600s", NULL, 0, WARN },
	{ "smtp_tls_trust_anchor_file", "", NULL, 0, WARN },
	{ "smtp_tls_verify_cert_match", "hostname", NULL, 0, WARN },
	{ "smtp_tls_wrappermode", "no", NULL, 0, REFUSE(YES, H_TLS_OUT) },
	{ "smtp_use_tls", "no", NULL, 0, WARN_IF(YES) },
	{ "smtp_xforward_timeout", "300s", NULL, 0, WARN },
	{ "smtpd_authorized_verp_clients", "$authorized_verp_clients", NULL, 0, WARN },
	{ "smtpd_authorized_xclient_hosts", "", NULL, 0, WARN },
	{ "smtpd_authorized_xforward_hosts", "", NULL, 0, WARN },
	{ "smtpd_banner", "$myhostname ESMTP $mail_name", NULL, 0, IMPL },
	{ "smtpd_client_auth_rate_limit", "0", NULL, 0, WARN_IF(NONZERO) },
	{ "smtpd_client_connection_count_limit", "50", NULL, 0, IMPL },
	{ "smtpd_client_connection_rate_limit", "0", NULL, 0, IMPL },
	{ "smtpd_client_event_limit_exceptions", "${smtpd_client_connection_limit_exceptions:$mynetworks}", NULL, 0, IMPL },
	{ "smtpd_client_message_rate_limit", "0", NULL, 0, IMPL },
	{ "smtpd_client_new_tls_session_rate_limit", "0", NULL, 0, WARN_IF(NONZERO) },
	{ "smtpd_client_port_logging", "no", NULL, 0, WARN },
	{ "smtpd_client_recipient_rate_limit", "0", NULL, 0, IMPL },
	{ "smtpd_client_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_command_filter", "", NULL, 0, WARN },
	{ "smtpd_data_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_delay_open_until_valid_rcpt", "yes", NULL, 0, WARN },
	{ "smtpd_delay_reject", "yes", NULL, 0, IMPL },
	{ "smtpd_discard_ehlo_keyword_address_maps", "", NULL, 0, WARN },
	{ "smtpd_discard_ehlo_keywords", "", NULL, 0, WARN },
	{ "smtpd_dns_reply_filter", "", NULL, 0, WARN },
	{ "smtpd_end_of_data_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_enforce_tls", "no", NULL, 0, REFUSE(YES, H_TLS_IN) },
	{ "smtpd_error_sleep_time", "1s", NULL, 0, IMPL },
	{ "smtpd_etrn_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_expansion_filter", "\\t\\40!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~", NULL, MAIL_PARAM_NOEXPAND, WARN },
	{ "smtpd_forbid_bare_newline", "normalize", NULL, 0, IMPL },
	{ "smtpd_forbid_bare_newline_exclusions", "$mynetworks", NULL, 0, WARN },
	{ "smtpd_forbid_bare_newline_reject_code", "550", NULL, 0, IMPL },
	{ "smtpd_forbid_unauth_pipelining", "yes", NULL, 0, IMPL },
	{ "smtpd_forbidden_commands", "CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}", NULL, 0, WARN },
	{ "smtpd_hard_error_limit", "${stress?{1}:{20}}", NULL, 0, IMPL },
	{ "smtpd_helo_required", "no", NULL, 0, IMPL },
	{ "smtpd_helo_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_history_flush_threshold", "100", NULL, 0, WARN },
	{ "smtpd_junk_command_limit", "${stress?{1}:{100}}", NULL, 0, IMPL },
	{ "smtpd_log_access_permit_actions", "", NULL, 0, WARN },
	{ "smtpd_milter_maps", "", NULL, 0, REFUSE(NONEMPTY, H_MILTER) },
	{ "smtpd_milters", "", NULL, 0, REFUSE(NONEMPTY, H_MILTER) },
	{ "smtpd_min_data_rate", "500", NULL, 0, WARN },
	{ "smtpd_noop_commands", "", NULL, 0, WARN },
	{ "smtpd_null_access_lookup_key", "<>", NULL, 0, IMPL },
	{ "smtpd_peername_lookup", "yes", NULL, 0, IMPL },
	{ "smtpd_per_request_deadline", "${smtpd_per_record_deadline?{$smtpd_per_record_deadline}:{${stress?{yes}:{no}}}}", NULL, 0, WARN },
	{ "smtpd_policy_service_default_action", "451 4.3.5 Server configuration problem", NULL, 0, IMPL },
	{ "smtpd_policy_service_max_idle", "300s", NULL, 0, IMPL },
	{ "smtpd_policy_service_max_ttl", "1000s", NULL, 0, IMPL },
	{ "smtpd_policy_service_policy_context", "", NULL, 0, IMPL },
	{ "smtpd_policy_service_request_limit", "0", NULL, 0, IMPL },
	{ "smtpd_policy_service_retry_delay", "1s", NULL, 0, IMPL },
	{ "smtpd_policy_service_timeout", "100s", NULL, 0, IMPL },
	{ "smtpd_policy_service_try_limit", "2", NULL, 0, IMPL },
	{ "smtpd_proxy_ehlo", "$myhostname", NULL, 0, WARN },
	{ "smtpd_proxy_filter", "", NULL, 0, REFUSE(NONEMPTY, H_PFILTER) },
	{ "smtpd_proxy_options", "", NULL, 0, WARN },
	{ "smtpd_proxy_timeout", "100s", NULL, 0, WARN },
	{ "smtpd_recipient_limit", "1000", NULL, 0, IMPL },
	{ "smtpd_recipient_overshoot_limit", "1000", NULL, 0, WARN },
	{ "smtpd_recipient_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_reject_footer", "", NULL, MAIL_PARAM_NOEXPAND, WARN },
	{ "smtpd_reject_footer_maps", "", NULL, 0, WARN },
	{ "smtpd_reject_unlisted_recipient", "yes", NULL, 0, IMPL },
	{ "smtpd_reject_unlisted_sender", "no", NULL, 0, IMPL },
	{ "smtpd_relay_before_recipient_restrictions", "${{$compatibility_level} <level {3.6} ? {no} : {yes}}", NULL, 0, IMPL },
	{ "smtpd_relay_restrictions", "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}", NULL, 0, IMPL },
	{ "smtpd_restriction_classes", "", NULL, 0, IMPL },
	{ "smtpd_sasl_auth_enable", "no", NULL, 0, REFUSE(YES, H_SASL_IN) },
	{ "smtpd_sasl_authenticated_header", "no", NULL, 0, WARN },
	{ "smtpd_sasl_exceptions_networks", "", NULL, 0, WARN },
	{ "smtpd_sasl_local_domain", "", NULL, 0, WARN },
	{ "smtpd_sasl_mechanism_filter", "!external, static:rest", NULL, 0, WARN },
	{ "smtpd_sasl_path", "smtpd", NULL, 0, WARN },
	{ "smtpd_sasl_response_limit", "12288", NULL, 0, WARN },
	{ "smtpd_sasl_security_options", "noanonymous", NULL, 0, WARN },
	{ "smtpd_sasl_service", "smtp", NULL, 0, WARN },
	{ "smtpd_sasl_tls_security_options", "$smtpd_sasl_security_options", NULL, 0, WARN },
	{ "smtpd_sasl_type", "cyrus", NULL, 0, WARN },
	{ "smtpd_sender_login_maps", "", NULL, 0, IMPL },
	{ "smtpd_sender_restrictions", "", NULL, 0, IMPL },
	{ "smtpd_service_name", "smtpd", NULL, 0, WARN },
	{ "smtpd_soft_error_limit", "10", NULL, 0, IMPL },
	{ "smtpd_starttls_timeout", "${stress?{10}:{300}}s", NULL, 0, WARN },
	{ "smtpd_timeout", "${stress?{10}:{300}}s", NULL, 0, IMPL },
	{ "smtpd_tls_CAfile", "", NULL, 0, WARN },
	{ "smtpd_tls_CApath", "", NULL, 0, WARN },
	{ "smtpd_tls_always_issue_session_ids", "yes", NULL, 0, WARN },
	{ "smtpd_tls_ask_ccert", "no", NULL, 0, WARN_IF(YES) },
	{ "smtpd_tls_auth_only", "no", NULL, 0, REFUSE(YES, H_TLS_IN) },
	{ "smtpd_tls_ccert_verifydepth", "9", NULL, 0, WARN },
	{ "smtpd_tls_cert_file", "", NULL, 0, WARN },
	{ "smtpd_tls_chain_files", "", NULL, 0, WARN },
	{ "smtpd_tls_ciphers", "medium", NULL, 0, WARN },
	{ "smtpd_tls_dcert_file", "", NULL, 0, WARN },
	{ "smtpd_tls_dh1024_param_file", "", NULL, 0, WARN },
	{ "smtpd_tls_dh512_param_file", "", NULL, 0, WARN },
	{ "smtpd_tls_dkey_file", "$smtpd_tls_dcert_file", NULL, 0, WARN },
	{ "smtpd_tls_eccert_file", "", NULL, 0, WARN },
	{ "smtpd_tls_eckey_file", "$smtpd_tls_eccert_file", NULL, 0, WARN },
	{ "smtpd_tls_eecdh_grade", "auto", NULL, 0, WARN },
	{ "smtpd_tls_exclude_ciphers", "", NULL, 0, WARN },
	{ "smtpd_tls_fingerprint_digest", "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}", NULL, 0, WARN },
	{ "smtpd_tls_key_file", "$smtpd_tls_cert_file", NULL, 0, WARN },
	{ "smtpd_tls_loglevel", "0", NULL, 0, WARN },
	{ "smtpd_tls_mandatory_ciphers", "medium", NULL, 0, WARN },
	{ "smtpd_tls_mandatory_exclude_ciphers", "", NULL, 0, WARN },
	{ "smtpd_tls_mandatory_protocols", ">=TLSv1", NULL, 0, WARN },
	{ "smtpd_tls_protocols", ">=TLSv1", NULL, 0, WARN },
	{ "smtpd_tls_received_header", "no", NULL, 0, WARN },
	{ "smtpd_tls_req_ccert", "no", NULL, 0, REFUSE(YES, H_TLS_IN) },
	{ "smtpd_tls_security_level", "", NULL, 0, REFUSE(TLS, H_TLS_IN) },
	{ "smtpd_tls_session_cache_database", "", NULL, 0, WARN },
	{ "smtpd_tls_session_cache_timeout", "3600s", NULL, 0, WARN },
	{ "smtpd_tls_wrappermode", "no", NULL, 0, REFUSE(YES, H_TLS_IN) },
	{ "smtpd_upstream_proxy_protocol", "", NULL, 0, REFUSE(NONEMPTY, H_UPSTREAM) },
	{ "smtpd_upstream_proxy_timeout", "5s", NULL, 0, WARN },
	{ "smtpd_use_tls", "no", NULL, 0, WARN_IF(YES) },
	{ "smtputf8_autodetect_classes", "sendmail, verify", NULL, 0, WARN },
	{ "smtputf8_enable", "${{$compatibility_level} <level {1} ? {no} : {yes}}", NULL, 0, IMPL },
	{ "soft_bounce", "no", NULL, 0, IMPL },
	{ "stale_lock_time", "500s", NULL, 0, WARN },
	{ "stress", "", NULL, 0, IMPL },
	{ "strict_7bit_headers", "no", NULL, 0, WARN },
	{ "strict_8bitmime", "no", NULL, 0, WARN },
	{ "strict_8bitmime_body", "no", NULL, 0, WARN },
	{ "strict_mailbox_ownership", "yes", NULL, 0, WARN },
	{ "strict_mime_encoding_domain", "no", NULL, 0, WARN },
	{ "strict_rfc821_envelopes", "no", NULL, 0, IMPL },
	{ "strict_smtputf8", "no", NULL, 0, WARN },
	{ "sun_mailtool_compatibility", "no", NULL, 0, WARN },
	{ "swap_bangpath", "yes", NULL, 0, IMPL },
	{ "syslog_facility", "mail", NULL, 0, IMPL },
	{ "syslog_name", "${multi_instance_name?{$multi_instance_name}:{postino}}", NULL, 0, IMPL },
	{ "tcp_windowsize", "0", NULL, 0, WARN },
	{ "tls_append_default_CA", "no", NULL, 0, WARN },
	{ "tls_config_file", "default", NULL, 0, WARN },
	{ "tls_config_name", "", NULL, 0, WARN },
	{ "tls_daemon_random_bytes", "32", NULL, 0, WARN },
	{ "tls_dane_digests", "sha512 sha256", NULL, 0, WARN },
	{ "tls_disable_workarounds", "", NULL, 0, WARN },
	{ "tls_eecdh_auto_curves", "X25519 X448 prime256v1 secp521r1 secp384r1", NULL, 0, WARN },
	{ "tls_eecdh_strong_curve", "prime256v1", NULL, 0, WARN },
	{ "tls_eecdh_ultra_curve", "secp384r1", NULL, 0, WARN },
	{ "tls_export_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH", NULL, 0, WARN },
	{ "tls_fast_shutdown_enable", "yes", NULL, 0, WARN },
	{ "tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH", NULL, 0, WARN },
	{ "tls_legacy_public_key_fingerprints", "no", NULL, 0, WARN },
	{ "tls_low_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH", NULL, 0, WARN },
	{ "tls_medium_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", NULL, 0, WARN },
	{ "tls_null_cipherlist", "eNULL:!aNULL", NULL, 0, WARN },
	{ "tls_preempt_cipherlist", "no", NULL, 0, WARN },
	{ "tls_random_bytes", "32", NULL, 0, WARN },
	{ "tls_random_exchange_name", "${data_directory}/prng_exch", NULL, 0, WARN },
	{ "tls_random_prng_update_period", "3600s", NULL, 0, WARN },
	{ "tls_random_reseed_period", "3600s", NULL, 0, WARN },
	{ "tls_random_source", "dev:/dev/urandom", NULL, 0, WARN },
	{ "tls_server_sni_maps", "", NULL, 0, WARN },
	{ "tls_session_ticket_cipher", "aes-256-cbc", NULL, 0, WARN },
	{ "tls_ssl_options", "", NULL, 0, WARN },
	{ "tls_wildcard_matches_multiple_labels", "yes", NULL, 0, WARN },
	{ "tlsmgr_service_name", "tlsmgr", NULL, 0, WARN },
	{ "tlsproxy_client_CAfile", "$smtp_tls_CAfile", NULL, 0, WARN },
	{ "tlsproxy_client_CApath", "$smtp_tls_CApath", NULL, 0, WARN },
	{ "tlsproxy_client_cert_file", "$smtp_tls_cert_file", NULL, 0, WARN },
	{ "tlsproxy_client_chain_files", "$smtp_tls_chain_files", NULL, 0, WARN },
	{ "tlsproxy_client_dcert_file", "$smtp_tls_dcert_file", NULL, 0, WARN },
	{ "tlsproxy_client_dkey_file", "$smtp_tls_dkey_file", NULL, 0, WARN },
	{ "tlsproxy_client_eccert_file", "$smtp_tls_eccert_file", NULL, 0, WARN },
	{ "tlsproxy_client_eckey_file", "$smtp_tls_eckey_file", NULL, 0, WARN },
	{ "tlsproxy_client_enforce_tls", "$smtp_enforce_tls", NULL, 0, WARN },
	{ "tlsproxy_client_fingerprint_digest", "$smtp_tls_fingerprint_digest", NULL, 0, WARN },
	{ "tlsproxy_client_key_file", "$smtp_tls_key_file", NULL, 0, WARN },
	{ "tlsproxy_client_loglevel", "$smtp_tls_loglevel", NULL, 0, WARN },
	{ "tlsproxy_client_loglevel_parameter", "smtp_tls_loglevel", NULL, 0, WARN },
	{ "tlsproxy_client_per_site", "$smtp_tls_per_site", NULL, 0, WARN },
	{ "tlsproxy_client_policy_maps", "${tlsproxy_client_policy:$smtp_tls_policy_maps}", NULL, 0, WARN },
	{ "tlsproxy_client_scert_verifydepth", "$smtp_tls_scert_verifydepth", NULL, 0, WARN },
	{ "tlsproxy_client_security_level", "${tlsproxy_client_level:$smtp_tls_security_level}", NULL, 0, WARN_IF(TLS) },
	{ "tlsproxy_client_use_tls", "$smtp_use_tls", NULL, 0, WARN },
	{ "tlsproxy_enforce_tls", "$smtpd_enforce_tls", NULL, 0, WARN },
	{ "tlsproxy_service_name", "tlsproxy", NULL, 0, WARN },
	{ "tlsproxy_tls_CAfile", "$smtpd_tls_CAfile", NULL, 0, WARN },
	{ "tlsproxy_tls_CApath", "$smtpd_tls_CApath", NULL, 0, WARN },
	{ "tlsproxy_tls_always_issue_session_ids", "$smtpd_tls_always_issue_session_ids", NULL, 0, WARN },
	{ "tlsproxy_tls_ask_ccert", "$smtpd_tls_ask_ccert", NULL, 0, WARN },
	{ "tlsproxy_tls_ccert_verifydepth", "$smtpd_tls_ccert_verifydepth", NULL, 0, WARN },
	{ "tlsproxy_tls_cert_file", "$smtpd_tls_cert_file", NULL, 0, WARN },
	{ "tlsproxy_tls_chain_files", "$smtpd_tls_chain_files", NULL, 0, WARN },
	{ "tlsproxy_tls_ciphers", "$smtpd_tls_ciphers", NULL, 0, WARN },
	{ "tlsproxy_tls_dcert_file", "$smtpd_tls_dcert_file", NULL, 0, WARN },
	{ "tlsproxy_tls_dh1024_param_file", "$smtpd_tls_dh1024_param_file", NULL, 0, WARN },
	{ "tlsproxy_tls_dh512_param_file", "$smtpd_tls_dh512_param_file", NULL, 0, WARN },
	{ "tlsproxy_tls_dkey_file", "$smtpd_tls_dkey_file", NULL, 0, WARN },
	{ "tlsproxy_tls_eccert_file", "$smtpd_tls_eccert_file", NULL, 0, WARN },
	{ "tlsproxy_tls_eckey_file", "$smtpd_tls_eckey_file", NULL, 0, WARN },
	{ "tlsproxy_tls_eecdh_grade", "$smtpd_tls_eecdh_grade", NULL, 0, WARN },
	{ "tlsproxy_tls_exclude_ciphers", "$smtpd_tls_exclude_ciphers", NULL, 0, WARN },
	{ "tlsproxy_tls_fingerprint_digest", "$smtpd_tls_fingerprint_digest", NULL, 0, WARN },
	{ "tlsproxy_tls_key_file", "$smtpd_tls_key_file", NULL, 0, WARN },
	{ "tlsproxy_tls_loglevel", "$smtpd_tls_loglevel", NULL, 0, WARN },
	{ "tlsproxy_tls_mandatory_ciphers", "$smtpd_tls_mandatory_ciphers", NULL, 0, WARN },
	{ "tlsproxy_tls_mandatory_exclude_ciphers", "$smtpd_tls_mandatory_exclude_ciphers", NULL, 0, WARN },
	{ "tlsproxy_tls_mandatory_protocols", "$smtpd_tls_mandatory_protocols", NULL, 0, WARN },
	{ "tlsproxy_tls_protocols", "$smtpd_tls_protocols", NULL, 0, WARN },
	{ "tlsproxy_tls_req_ccert", "$smtpd_tls_req_ccert", NULL, 0, WARN },
	{ "tlsproxy_tls_security_level", "$smtpd_tls_security_level", NULL, 0, WARN_IF(TLS) },
	{ "tlsproxy_use_tls", "$smtpd_use_tls", NULL, 0, WARN },
	{ "tlsproxy_watchdog_timeout", "10s", NULL, 0, WARN },
	{ "trace_service_name", "trace", NULL, 0, WARN },
	{ "transport_maps", "", NULL, 0, IMPL },
	{ "transport_retry_time", "60s", NULL, 0, IMPL },
	{ "trigger_timeout", "10s", NULL, 0, WARN },
	{ "undisclosed_recipients_header", "", NULL, 0, IMPL },
	{ "unknown_address_reject_code", "450", NULL, 0, IMPL },
	{ "unknown_address_tempfail_action", "$reject_tempfail_action", NULL, 0, IMPL },
	{ "unknown_client_reject_code", "450", NULL, 0, IMPL },
	{ "unknown_helo_hostname_tempfail_action", "$reject_tempfail_action", NULL, 0, IMPL },
	{ "unknown_hostname_reject_code", "450", NULL, 0, IMPL },
	{ "unknown_local_recipient_reject_code", "550", NULL, 0, IMPL },
	{ "unknown_relay_recipient_reject_code", "550", NULL, 0, IMPL },
	{ "unknown_virtual_alias_reject_code", "550", NULL, 0, IMPL },
	{ "unknown_virtual_mailbox_reject_code", "550", NULL, 0, IMPL },
	{ "unverified_recipient_defer_code", "450", NULL, 0, WARN },
	{ "unverified_recipient_reject_code", "450", NULL, 0, WARN },
	{ "unverified_recipient_reject_reason", "", NULL, 0, WARN },
	{ "unverified_recipient_tempfail_action", "$reject_tempfail_action", NULL, 0, WARN },
	{ "unverified_sender_defer_code", "450", NULL, 0, WARN },
	{ "unverified_sender_reject_code", "450", NULL, 0, WARN },
	{ "unverified_sender_reject_reason", "", NULL, 0, WARN },
	{ "unverified_sender_tempfail_action", "$reject_tempfail_action", NULL, 0, WARN },
	{ "verp_delimiter_filter", "-=+", NULL, 0, WARN },
	{ "virtual_alias_address_length_limit", "1000", NULL, 0, IMPL },
	{ "virtual_alias_domains", "$virtual_alias_maps", NULL, 0, IMPL },
	{ "virtual_alias_expansion_limit", "1000", NULL, 0, IMPL },
	{ "virtual_alias_maps", "$virtual_maps", NULL, 0, IMPL },
	{ "virtual_alias_recursion_limit", "1000", NULL, 0, IMPL },
	{ "virtual_delivery_status_filter", "$default_delivery_status_filter", NULL, 0, WARN },
	{ "virtual_gid_maps", "", NULL, 0, IMPL },
	{ "virtual_mailbox_base", "", NULL, 0, IMPL },
	{ "virtual_mailbox_domains", "$virtual_mailbox_maps", NULL, 0, IMPL },
	{ "virtual_mailbox_limit", "51200000", NULL, 0, IMPL },
	{ "virtual_mailbox_lock", "fcntl, dotlock", NULL, 0, IMPL },
	{ "virtual_mailbox_maps", "", NULL, 0, IMPL },
	{ "virtual_minimum_uid", "100", NULL, 0, IMPL },
	{ "virtual_transport", "virtual", NULL, 0, IMPL },
	{ "virtual_uid_maps", "", NULL, 0, IMPL },
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

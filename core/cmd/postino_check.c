/* SPDX-License-Identifier: MIT */
/* postino_check - "postino check": the configuration files and the queue
 * directory tree.
 *
 * main.cf: syntax errors (fatal for start), unknown parameters (warning
 * with file and line), known parameters that postino does not implement
 * (postino_unimpl.c: a warning, or an error that stops start).
 * master.cf: every malformed line (error with file and line), programs
 * that are not there (warning), smtpd connection and rate limits set
 * while no anvil service enforces them (error).  Queue directories:
 * each missing one is created with a warning; modes as Postfix's:
 *
 *	$queue_directory, pid/		root (instance user), 0755
 *	incoming active deferred hold corrupt defer bounce private/
 *					mail_owner, 0700
 *	public/				mail_owner, group setgid_group, 0710
 *	maildrop/			mail_owner, group setgid_group, 0730
 *
 * Without root everything belongs to the user running the command.  An
 * existing directory with another mode (or, as root, another owner or
 * group) is put right, with a warning naming it and what changed.
 *
 * Chroot copies: when $queue_directory/etc holds a copy of a file the
 * chrooted daemons read (resolv.conf, localtime, services, hosts,
 * nsswitch.conf, host.conf; scripts/chroot-setup.sh makes them), a copy
 * whose content differs from the original is a warning naming both
 * files ("run chroot-setup again"). */
#include "postino_config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_conf.h"
#include "mail_queue.h"
#include "mail_vars.h"
#include "master_ent.h"
#include "msg.h"
#include "mymalloc.h"
#include "postino.h"
#include "stringops.h"

struct dir_spec {
	const char *name;
	mode_t mode;
	int owner;			/* 1: mail_owner; 0: root */
	int group;			/* 1: setgid_group */
};

/* Anything not listed here is a mail_owner 0700 queue. */
static const struct dir_spec dir_specs[] = {
	{"pid", 0755, 0, 0},
	{"public", 0710, 1, 1},
	{"maildrop", 0730, 1, 1},
};

static const struct dir_spec default_spec = {"", 0700, 1, 0};

/* spec_for - the ownership and mode of a queue directory. */
static const struct dir_spec *
spec_for(const char *name)
{
	for (size_t i = 0; i < sizeof(dir_specs) / sizeof(dir_specs[0]); i++)
		if (strcmp(dir_specs[i].name, name) == 0)
			return dir_specs + i;
	return &default_spec;
}

/* fix_dir - put an existing directory's mode (and, as root, owner and
 * group) right; -1 on error. */
static int
fix_dir(const char *path, const struct stat *st, mode_t mode, uid_t uid,
    gid_t gid)
{
	if ((st->st_mode & 07777) != mode) {
		msg_warn("queue directory %s: mode %04o, should be %04o: fixed",
		    path, (unsigned)(st->st_mode & 07777), (unsigned)mode);
		if (chmod(path, mode) < 0) {
			msg_error("chmod %s: %m", path);
			return -1;
		}
	}
	if (geteuid() == 0 && (st->st_uid != uid || st->st_gid != gid)) {
		msg_warn("queue directory %s: owner %ld:%ld, should be %ld:%ld: fixed",
		    path, (long)st->st_uid, (long)st->st_gid, (long)uid, (long)gid);
		if (chown(path, uid, gid) < 0) {
			msg_error("chown %s: %m", path);
			return -1;
		}
	}
	return 0;
}

/* make_dir - create path (mode, owner) if missing, fix it if wrong (fix
 * set); -1 on error. */
static int
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid, int fix)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			msg_error("%s exists and is not a directory", path);
			return -1;
		}
		return fix ? fix_dir(path, &st, mode, uid, gid) : 0;
	}
	if (errno != ENOENT) {
		msg_error("%s: %m", path);
		return -1;
	}
	msg_warn("creating missing queue directory %s", path);
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		msg_error("create directory %s: %m", path);
		return -1;
	}
	/* mkdir applies the umask: set the mode exactly. */
	if (chmod(path, mode) < 0) {
		msg_error("chmod %s: %m", path);
		return -1;
	}
	if (geteuid() == 0 && chown(path, uid, gid) < 0) {
		msg_error("chown %s: %m", path);
		return -1;
	}
	return 0;
}

/* make_parents - create the directories above the queue directory. */
static int
make_parents(const char *path)
{
	char *copy = xstrdup(path), *cp;
	int rc = 0;

	for (cp = copy + 1; rc == 0 && (cp = strchr(cp, '/')) != NULL; cp++) {
		*cp = 0;
		if (*copy && access(copy, F_OK) < 0)
			rc = make_dir(copy, 0755, 0, 0, 0);
		*cp = '/';
	}
	free(copy);
	return rc;
}

/* make_data_dir - data_directory (address_verify_map's default file
 * lives there) for mail_owner, as Postfix makes it.  Not an error when
 * it cannot be made (an instance run by an ordinary user with the
 * default /var/lib/postino): the verify service then keeps its cache in
 * memory, and says so. */
static void
make_data_dir(uid_t uid, gid_t gid)
{
	const char *path = var_data_directory;
	struct stat st;

	if (*path != '/' || lstat(path, &st) == 0)
		return;
	if (mkdir(path, 0700) < 0) {
		msg_warn("create data_directory %s: %m (the address verification "
		    "cache will be kept in memory)", path);
		return;
	}
	msg_warn("creating missing data directory %s", path);
	if (chmod(path, 0700) < 0 || (geteuid() == 0 && chown(path, uid, gid) < 0))
		msg_warn("set up data_directory %s: %m", path);
}

/* check_queue - the queue directory tree, and data_directory when
 * data_dir is set (master.cf runs the verify service). */
static int
check_queue(int data_dir)
{
	const char *top = var_queue_directory;
	const char *owner = var_mail_owner;
	const char *group = var_setgid_group;
	uid_t owner_uid = getuid();
	gid_t owner_gid = getgid(), setgid_gid = getgid();
	const struct dir_spec *spec;
	struct passwd *pw;
	struct group *gr;
	char *path;
	int errors = 0;

	if (*top != '/') {
		msg_error("queue_directory = %s: not an absolute path", top);
		return 1;
	}
	if (geteuid() == 0) {
		if ((pw = getpwnam(owner)) == NULL) {
			msg_error("mail_owner \"%s\" is not a user on this system: "
			    "create it, or set mail_owner in %s/main.cf", owner,
			    mail_conf_dir());
			return 1;
		}
		owner_uid = pw->pw_uid;
		owner_gid = pw->pw_gid;
		if ((gr = getgrnam(group)) == NULL) {
			msg_error("setgid_group \"%s\" is not a group on this system: "
			    "create it, or set setgid_group in %s/main.cf", group,
			    mail_conf_dir());
			return 1;
		}
		setgid_gid = gr->gr_gid;
	}
	/* The top is root's (the instance user's): never group/world
	 * writable, but a site may have chosen another mode. */
	if (make_parents(top) < 0 || make_dir(top, 0755, geteuid() == 0 ? 0
	    : getuid(), geteuid() == 0 ? 0 : getgid(), 0) < 0)
		return 1;
	for (int i = 0; mail_queue_names[i]; i++) {
		spec = spec_for(mail_queue_names[i]);
		path = concatenate(top, "/", mail_queue_names[i], (char *)0);
		if (make_dir(path, spec->mode, spec->owner ? owner_uid : 0,
		    spec->group ? setgid_gid : spec->owner ? owner_gid : 0, 1) < 0)
			errors++;
		free(path);
	}
	if (data_dir)
		make_data_dir(owner_uid, owner_gid);
	return errors;
}

/* same_content - 1 if both files have the same bytes, 0 if not, -1 if
 * either cannot be read. */
static int
same_content(const char *a, const char *b)
{
	char ba[8192], bb[8192];
	int fa, fb, ret = -1;
	ssize_t na, nb;

	if ((fa = open(a, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((fb = open(b, O_RDONLY | O_CLOEXEC)) < 0) {
		close(fa);
		return -1;
	}
	for (;;) {
		na = read(fa, ba, sizeof(ba));
		/* Fill the same amount from b (short reads happen). */
		nb = 0;
		while (na > 0 && nb < na) {
			ssize_t got = read(fb, bb + nb, (size_t)(na - nb));

			if (got <= 0)
				break;
			nb += got;
		}
		if (na < 0 || nb < 0)
			break;
		if (na == 0) {
			ret = read(fb, bb, 1) == 0;
			break;
		}
		if (nb != na || memcmp(ba, bb, (size_t)na) != 0) {
			ret = 0;
			break;
		}
	}
	close(fa);
	close(fb);
	return ret;
}

/* check_chroot_copies - $queue_directory/etc/X against /etc/X. */
static void
check_chroot_copies(void)
{
	static const char *const names[] = {"resolv.conf", "localtime",
		"services", "hosts", "nsswitch.conf", "host.conf", NULL};
	const char *top = var_queue_directory;
	char *copy, *orig;

	for (int i = 0; names[i]; i++) {
		copy = concatenate(top, "/etc/", names[i], (char *)0);
		orig = concatenate("/etc/", names[i], (char *)0);
		if (access(copy, F_OK) == 0 && access(orig, F_OK) == 0
		    && same_content(copy, orig) == 0)
			msg_warn("%s and %s differ (the chrooted daemons read the "
			    "first: run chroot-setup again)", copy, orig);
		free(copy);
		free(orig);
	}
}

/* check_programs - warn about services whose program is missing. */
static void
check_programs(struct master_ent **ents)
{
	char *path;

	for (int i = 0; ents[i]; i++) {
		if (master_ent_disabled(ents[i]) || master_ent_embedded(ents[i]))
			continue;
		path = ents[i]->command[0] == '/' ? xstrdup(ents[i]->command)
		    : concatenate(var_daemon_directory, "/",
		    ents[i]->command, (char *)0);
		if (access(path, X_OK) < 0)
			msg_warn("%s, line %d: service \"%s\": program %s: %m",
			    ents[i]->file, ents[i]->line, ents[i]->name, path);
		free(path);
	}
}

/* The smtpd limits that only the anvil service enforces. */
static const char *const anvil_limits[] = {
	"smtpd_client_auth_rate_limit",
	"smtpd_client_connection_count_limit",
	"smtpd_client_connection_rate_limit",
	"smtpd_client_message_rate_limit",
	"smtpd_client_new_tls_session_rate_limit",
	"smtpd_client_recipient_rate_limit",
	NULL,
};

/* ent_override - the value of "-o name=value" in the entry, or NULL. */
static const char *
ent_override(const struct master_ent *ent, const char *name)
{
	size_t len = strlen(name);
	const char *found = NULL;

	for (int i = 0; i + 1 < ent->argc; i++)
		if (strcmp(ent->args[i], "-o") == 0
		    && strncmp(ent->args[i + 1], name, len) == 0
		    && ent->args[i + 1][len] == '=')
			found = ent->args[i + 1] + len + 1;
	return found;
}

/* has_unix_service - does master.cf run a unix service of that name? */
static int
has_unix_service(struct master_ent **ents, const char *name)
{
	for (int i = 0; ents[i]; i++)
		if (!master_ent_disabled(ents[i])
		    && ents[i]->type == MASTER_TYPE_UNIX
		    && strcmp(ents[i]->name, name) == 0)
			return 1;
	return 0;
}

/* is_smtpd - an enabled service whose program is smtpd. */
static int
is_smtpd(const struct master_ent *ent)
{
	const char *cmd = strrchr(ent->command, '/');

	cmd = cmd ? cmd + 1 : ent->command;
	return !master_ent_disabled(ent) && strcmp(cmd, "smtpd") == 0;
}

/* check_anvil - refuse smtpd limits set (in main.cf or with -o) to more
 * than 0 while master.cf has no anvil service to enforce them: the
 * administrator asked for a limit that would not be there.  The defaults
 * (smtpd_client_connection_count_limit = 50) are not judged.  Returns the
 * number of errors. */
static int
check_anvil(struct master_ent **ents)
{
	const char *value;
	long n;
	int errors = 0;

	if (has_unix_service(ents, "anvil"))
		return 0;
	for (int i = 0; ents[i]; i++) {
		if (!is_smtpd(ents[i]))
			continue;
		for (int k = 0; anvil_limits[k]; k++) {
			if ((value = ent_override(ents[i], anvil_limits[k])) == NULL) {
				if (!mail_conf_is_set(anvil_limits[k]))
					continue;
				value = mail_conf_str(anvil_limits[k]);
			}
			if (str_to_long(value, &n) == 0 && n > 0) {
				msg_error("%s, line %d: service \"%s\": %s = %s "
				    "would not be enforced: master.cf has no anvil "
				    "service: refusing to run (add \"anvil unix - - n"
				    " - 1 anvil\" to master.cf)",
				    ents[i]->file, ents[i]->line, ents[i]->name,
				    anvil_limits[k], value);
				errors++;
			}
		}
	}
	return errors;
}

/* needs_proxymap - a table (TYPE:NAME, or proxy:TYPE:NAME) that daemons
 * read through the lookup service: ldap: and mysql: always are. */
static int
needs_proxymap(const char *tok)
{
	if (strncmp(tok, "proxy:", 6) == 0)
		tok += 6;
	return strncmp(tok, "ldap:", 5) == 0 || strncmp(tok, "mysql:", 6) == 0;
}

/* first_proxied - the first such table in a parameter value, or NULL
 * (malloc'd). */
static char *
first_proxied(const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *tok, *found = NULL;

	while (found == NULL && (tok = mystrtok(&cp, " \t\r\n,{}")) != NULL)
		if (needs_proxymap(tok))
			found = xstrdup(tok);
	free(copy);
	return found;
}

/* check_proxymap - warn when ldap: or mysql: tables are configured (in
 * main.cf or with -o) while master.cf has no proxymap service: every
 * lookup in them would fail (temporarily: mail waits, nothing is lost). */
static void
check_proxymap(const char *main_cf, struct master_ent **ents)
{
	const char **names;
	char *table;

	if (has_unix_service(ents, "proxymap"))
		return;
	names = mail_conf_set_names();
	for (int i = 0; names && names[i]; i++) {
		if (strcmp(names[i], "proxy_read_maps") == 0
		    || mail_conf_file_line(names[i]) <= 0)
			continue;
		if ((table = first_proxied(mail_conf_str(names[i]))) == NULL)
			continue;
		msg_warn("%s, line %d: %s: table %s is read through the lookup "
		    "service, and master.cf has no proxymap service: every lookup "
		    "in it will fail (add \"proxymap unix - - n - - proxymap\" "
		    "to master.cf)", main_cf, mail_conf_file_line(names[i]),
		    names[i], table);
		free(table);
	}
	free(names);
	for (int i = 0; ents[i]; i++) {
		if (master_ent_disabled(ents[i]))
			continue;
		for (int k = 0; k + 1 < ents[i]->argc; k++) {
			const char *eq = strchr(ents[i]->args[k + 1], '=');

			if (strcmp(ents[i]->args[k], "-o") != 0 || eq == NULL
			    || (table = first_proxied(eq + 1)) == NULL)
				continue;
			msg_warn("%s, line %d: service \"%s\": -o %s: table %s is "
			    "read through the lookup service, and master.cf has no "
			    "proxymap service: every lookup in it will fail",
			    ents[i]->file, ents[i]->line, ents[i]->name,
			    ents[i]->args[k + 1], table);
			free(table);
		}
	}
}

/* check_verify - warn when reject_unverified_sender or _recipient is
 * configured (main.cf, or -o) while master.cf has no verify service:
 * every such check would meet unverified_*_tempfail_action (mail is
 * deferred, never accepted unverified). */
static void
check_verify(const char *main_cf, struct master_ent **ents)
{
	const char **names;
	const char *svc = mail_conf_str("address_verify_service_name");

	if (has_unix_service(ents, svc && *svc ? svc : "verify"))
		return;
	names = mail_conf_set_names();
	for (int i = 0; names && names[i]; i++) {
		if (mail_conf_file_line(names[i]) <= 0
		    || strstr(mail_conf_str(names[i]), "reject_unverified_") == NULL)
			continue;
		msg_warn("%s, line %d: %s: address verification needs the verify "
		    "service, and master.cf has none: every check will defer "
		    "(add \"verify unix - - n - 1 verify\" to master.cf)",
		    main_cf, mail_conf_file_line(names[i]), names[i]);
	}
	free(names);
	for (int i = 0; ents[i]; i++) {
		if (master_ent_disabled(ents[i]))
			continue;
		for (int k = 0; k + 1 < ents[i]->argc; k++)
			if (strcmp(ents[i]->args[k], "-o") == 0
			    && strstr(ents[i]->args[k + 1], "reject_unverified_"))
				msg_warn("%s, line %d: service \"%s\": -o %s: "
				    "address verification needs the verify service, "
				    "and master.cf has none: every check will defer",
				    ents[i]->file, ents[i]->line, ents[i]->name,
				    ents[i]->args[k + 1]);
	}
}

/* ent_value - the value of name for a service: its -o, else main.cf. */
static const char *
ent_value(const struct master_ent *ent, const char *name)
{
	const char *v = ent_override(ent, name);

	return v ? v : mail_conf_str(name);
}

/* check_tls - every smtpd service that asks for TLS must have a
 * certificate it can read: smtpd_tls_security_level = encrypt (or
 * smtpd_enforce_tls, or wrapper mode) without one is refused, "may"
 * without one is warned about (smtpd runs without TLS, as Postfix does).
 * Returns the number of errors. */
static int
check_tls(struct master_ent **ents)
{
	static const char *const files[] = {"smtpd_tls_chain_files",
	"smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_eccert_file",
	"smtpd_tls_eckey_file", NULL};
	int errors = 0;

	for (int i = 0; ents[i]; i++) {
		const char *level, *problem = NULL;
		char *bad = NULL;
		int must, any = 0;

		if (!is_smtpd(ents[i]))
			continue;
		level = ent_value(ents[i], "smtpd_tls_security_level");
		if (*level == 0)
			level = mail_conf_parse_bool(ent_value(ents[i],
			    "smtpd_enforce_tls"), &must) == 0 && must ? "encrypt"
			    : mail_conf_parse_bool(ent_value(ents[i], "smtpd_use_tls"),
			    &must) == 0 && must ? "may" : "none";
		if (mail_conf_parse_bool(ent_value(ents[i], "smtpd_tls_wrappermode"),
		    &must) == 0 && must)
			level = "encrypt";
		if (strcasecmp(level, "none") == 0)
			continue;
		if (strcasecmp(level, "may") != 0 && strcasecmp(level, "encrypt") != 0) {
			msg_error("%s, line %d: service \"%s\": smtpd_tls_security_level"
			    " = %s: not none, may or encrypt: refusing to run",
			    ents[i]->file, ents[i]->line, ents[i]->name, level);
			errors++;
			continue;
		}
		must = strcasecmp(level, "encrypt") == 0;
		for (int k = 0; files[k]; k++) {
			char *copy = xstrdup(ent_value(ents[i], files[k])), *cp = copy;
			char *f;

			while ((f = mystrtok(&cp, " \t\r\n,")) != NULL) {
				any = 1;
				if (bad == NULL && access(f, R_OK) < 0)
					bad = concatenate(f, ": ", strerror(errno), (char *)0);
			}
			free(copy);
		}
		if (!any)
			problem = "no certificate (set smtpd_tls_chain_files or "
			    "smtpd_tls_cert_file)";
		if (problem || bad) {
			if (must) {
				msg_error("%s, line %d: service \"%s\": TLS is required "
				    "(%s) but there is %s%s: refusing to run",
				    ents[i]->file, ents[i]->line, ents[i]->name, level,
				    problem ? problem : "an unreadable file: ",
				    problem ? "" : bad);
				errors++;
			} else {
				msg_warn("%s, line %d: service \"%s\": "
				    "smtpd_tls_security_level = may, but there is %s%s: "
				    "the service runs without TLS",
				    ents[i]->file, ents[i]->line, ents[i]->name,
				    problem ? problem : "an unreadable file: ",
				    problem ? "" : bad);
			}
		}
		free(bad);
	}
	return errors;
}

/* check_sasl - every smtpd service with smtpd_sasl_auth_enable = yes
 * needs smtpd_sasl_type = dovecot (the only server side postino has;
 * smtpd would refuse to start).  Returns the number of errors. */
static int
check_sasl(struct master_ent **ents)
{
	int errors = 0;

	for (int i = 0; ents[i]; i++) {
		const char *type;
		int on;

		if (!is_smtpd(ents[i])
		    || mail_conf_parse_bool(ent_value(ents[i],
		    "smtpd_sasl_auth_enable"), &on) != 0 || !on)
			continue;
		type = ent_value(ents[i], "smtpd_sasl_type");
		if (strcasecmp(type, "dovecot") != 0) {
			msg_error("%s, line %d: service \"%s\": smtpd_sasl_auth_enable"
			    " = yes with smtpd_sasl_type = %s: postino authenticates "
			    "with Dovecot only (smtpd_sasl_type = dovecot): refusing "
			    "to run", ents[i]->file, ents[i]->line, ents[i]->name,
			    type);
			errors++;
		}
	}
	return errors;
}

/* check_sasl_client - every smtp or lmtp service with
 * smtp_sasl_auth_enable (lmtp_sasl_auth_enable) = yes needs the "cyrus"
 * client type (PLAIN and LOGIN, done by the agent itself) and a
 * password table: the agent would refuse to start without them.
 * Returns the number of errors. */
static int
check_sasl_client(struct master_ent **ents)
{
	int errors = 0;

	for (int i = 0; ents[i]; i++) {
		const char *cmd = strrchr(ents[i]->command, '/'), *type, *maps;
		char name[64];
		int on;

		cmd = cmd ? cmd + 1 : ents[i]->command;
		if (master_ent_disabled(ents[i])
		    || (strcmp(cmd, "smtp") != 0 && strcmp(cmd, "lmtp") != 0))
			continue;
		snprintf(name, sizeof(name), "%s_sasl_auth_enable", cmd);
		if (mail_conf_parse_bool(ent_value(ents[i], name), &on) != 0 || !on)
			continue;
		snprintf(name, sizeof(name), "%s_sasl_type", cmd);
		type = ent_value(ents[i], name);
		if (strcasecmp(type, "cyrus") != 0) {
			msg_error("%s, line %d: service \"%s\": %s_sasl_auth_enable"
			    " = yes with %s = %s: postino's SMTP client "
			    "authenticates as the \"cyrus\" type only (PLAIN and "
			    "LOGIN): refusing to run", ents[i]->file, ents[i]->line,
			    ents[i]->name, cmd, name, type);
			errors++;
		}
		snprintf(name, sizeof(name), "%s_sasl_password_maps", cmd);
		maps = ent_value(ents[i], name);
		if (*skipblanks(maps) == 0) {
			msg_error("%s, line %d: service \"%s\": %s_sasl_auth_enable"
			    " = yes without %s: refusing to run", ents[i]->file,
			    ents[i]->line, ents[i]->name, cmd, name);
			errors++;
		}
	}
	return errors;
}

int
postino_check(int create)
{
	char *main_cf = concatenate(mail_conf_dir(), "/main.cf", (char *)0);
	char *master_cf = concatenate(mail_conf_dir(), "/master.cf", (char *)0);
	struct master_ent **ents;
	int errors, master_errors;

	ents = master_ent_read(master_cf, &master_errors);
	errors = master_ent_check_main(main_cf, 1, ents);
	if (errors == 0) {
		/* Syntax is fine: now the values are safe to read. */
		mail_conf_read(0);
		mail_vars_bind(MAIL_VARS_CMD);
		errors += postino_check_unimpl(main_cf, ents);
		check_programs(ents);
		errors += check_anvil(ents);
		check_proxymap(main_cf, ents);
		check_verify(main_cf, ents);
		errors += check_tls(ents);
		errors += check_sasl(ents);
		errors += check_sasl_client(ents);
		errors += postino_check_restrictions(main_cf, ents);
		if (create)
			errors += check_queue(has_unix_service(ents,
			    *var_address_verify_service_name
			    ? var_address_verify_service_name : "verify"));
		check_chroot_copies();
	}
	errors += master_errors;
	master_ent_free_all(&ents);
	free(main_cf);
	free(master_cf);
	return errors;
}

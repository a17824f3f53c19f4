# SPDX-License-Identifier: MIT
# deps.sh - install the Debian 12 packages postino needs (sourced by
# scripts/demo.sh and scripts/test.sh).
#
#   postino_deps PROFILE    PROFILE is "build" (compile postino: what the
#                           demo needs) or "test" (everything scripts/test.sh
#                           runs: all optional libraries, cmocka, readelf, and
#                           Debian's postfix for the compatibility test).
#
# Packages already installed are not asked for again, so a rerun on a set-up
# machine does not touch apt at all; on a new machine the missing ones are
# installed with apt-get (needs root).  Debian's postfix is installed with
# debconf preseeded to "No configuration", so no system Postfix is configured
# or started; postino_deps_no_postfix_master makes sure of that afterwards.
# While apt-get runs, a policy-rc.d that refuses every service start keeps
# the packages' system daemons (slapd, mariadb, dovecot, postfix) from
# starting: the tests run their own instances.

POSTINO_DEPS_BUILD="build-essential cmake pkg-config libltdl-dev libevent-dev libc-ares-dev libssl-dev libdb5.3-dev libpcre2-dev libcmocka-dev"
# test: libraries of every module, cmocka, readelf, db_dump, the reference
# Postfix, and the real peers the map and end-to-end tests start on
# loopback (slapd, mariadbd, dovecot, dnsmasq) or drive (swaks, pflogsumm),
# pyflakes for the lint.pyflakes test, strace (e2e.fanout counts the
# daemons' fsyncs), aiosmtpd and dovecot-lmtpd (the SMTP and LMTP servers
# the smtp and lmtp clients deliver to), and for the smtp/lmtp client tests
# unbound (the test zone) and Dovecot's IMAP server (reads back what Dovecot
# LMTP stored), openssl and the Perl TLS modules swaks --tls needs (the
# TLS tests), ldnsutils (ldns-keygen and ldns-signzone sign the DNSSEC
# test zone of the DANE test), postfix-mta-sts-resolver (the MTA-STS
# policy server e2e.mta_sts asks through a socketmap: table),
# python3-milter, opendkim and opendkim-tools (real milters for
# e2e.milter and e2e.milter_nonsmtp: pymilter runs on Sendmail's
# libmilter), python3-dkim (dkimpy: e2e.milter_nonsmtp verifies the
# signature OpenDKIM added); Postfix's
# smtp-sink comes with postfix.
POSTINO_DEPS_TEST="$POSTINO_DEPS_BUILD db5.3-util libldap2-dev libmariadb-dev
	libcmocka-dev python3 binutils postfix postfix-pcre slapd ldap-utils
	mariadb-server mariadb-client swaks dovecot-core dovecot-pop3d pflogsumm
	postfix-ldap postfix-mysql clang libclang-rt-14-dev python3-pyflakes
	dnsmasq-base strace python3-aiosmtpd dovecot-lmtpd unbound dovecot-imapd
	openssl libnet-ssleay-perl libio-socket-ssl-perl ldnsutils
	postfix-mta-sts-resolver python3-milter opendkim opendkim-tools
	python3-dkim"

# postino_deps_missing PKG... - print the packages that are not installed.
postino_deps_missing() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || printf '%s\n' "$p"
	done
}

# postino_deps_no_postfix_master - stop a Postfix master daemon if one runs
# (the package's maintainer scripts must not leave one behind).
postino_deps_no_postfix_master() {
	local pidfile=/var/spool/postfix/pid/master.pid pid exe
	[ -r "$pidfile" ] || return 0
	pid=$(tr -dc '0-9' < "$pidfile")
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case "$exe" in
	*/postfix/*master*)
		echo "deps: stopping the Postfix master (pid $pid) started by the package"
		kill -TERM "$pid" 2>/dev/null || true
		;;
	esac
}

postino_deps() {
	local profile=${1:-build} want missing
	case "$profile" in
	build) want=$POSTINO_DEPS_BUILD ;;
	test) want=$POSTINO_DEPS_TEST ;;
	*) echo "postino_deps: unknown profile $profile" >&2; return 2 ;;
	esac
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: not a Debian system; install these yourself: $want" >&2
		return 0
	fi
	# shellcheck disable=SC2086
	missing=$(postino_deps_missing $want | tr '\n' ' ')
	if [ -z "${missing// /}" ]; then
		echo "deps: all packages present ($profile)"
		postino_deps_no_postfix_master
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages: $missing" >&2
		echo "deps: run as root, or: sudo apt-get install $missing" >&2
		return 1
	fi
	echo "deps: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	case " $missing " in
	*" postfix "*)
		echo "postfix postfix/main_mailer_type select No configuration" |
		    debconf-set-selections
		;;
	esac
	case " $missing " in
	*" slapd "*)
		echo "slapd slapd/no_configuration boolean true" |
		    debconf-set-selections
		;;
	esac
	local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# postino deps.sh: no service starts during install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	apt-get -q -o DPkg::Lock::Timeout=600 update || rc=$?
	if [ "$rc" = 0 ]; then
		# shellcheck disable=SC2086
		apt-get -q -y -o DPkg::Lock::Timeout=600 install \
		    --no-install-recommends $missing || rc=$?
	fi
	[ "$made_policy" = 0 ] || rm -f "$policy"
	[ "$rc" = 0 ] || { echo "deps: apt-get failed (exit $rc)" >&2; return 1; }
	postino_deps_no_postfix_master
	# shellcheck disable=SC2086
	missing=$(postino_deps_missing $want | tr '\n' ' ')
	if [ -n "${missing// /}" ]; then
		echo "deps: still missing after apt-get: $missing" >&2
		return 1
	fi
}

#!/bin/sh
# SPDX-License-Identifier: MIT
# chroot-setup - prepare $queue_directory for daemons that run chrooted
# (chroot column "y" in master.cf), like the LINUX2 example of Postfix's
# examples/chroot-setup, written for postino.
#
#   chroot-setup [-c config_dir] [-n]
#
# A chrooted daemon sees $queue_directory as "/".  What it may still read
# at run time, after the chroot:
#   etc/resolv.conf etc/hosts etc/host.conf etc/nsswitch.conf
#		name resolution (smtpd's client name lookups, DNS tables)
#   etc/services	service names such as "smtp" in addresses
#   etc/localtime	the time zone of the log and Received: headers
# This script copies those files (when the system has them) into
# $queue_directory/etc, owned by root and readable by all.  "postino
# check" warns when a copy no longer matches its original: run this
# script again after changing one of them, then "postino reload".
#
# What is NOT needed inside the chroot: the table modules and the
# libraries they use.  A daemon opens its tables (and so loads the
# modules from lib/postino) before it chroots; syslog's socket and
# maillog_file are opened before the chroot too.  glibc 2.34 and later
# have the "files" and "dns" name service code inside libc; other NSS
# modules named in nsswitch.conf (systemd, mdns, ...) are skipped inside
# the chroot unless you copy them with -l.
#
# postino's postconf is looked for next to the script (installed as
# PREFIX/libexec/postino/chroot-setup: PREFIX/sbin/postconf); set
# POSTINO_POSTCONF to name it.
#
#   -c DIR	configuration directory (default: postino's own default)
#   -n		show what would be done, change nothing
#   -l		also copy the libnss_*.so.2 modules of the system into
#		$queue_directory/lib/<multiarch> (only for NSS modules that
#		are not part of libc)
#
# Exit status: 0 done, 1 error (message on stderr).
set -eu

PATH=/usr/sbin:/usr/bin:/sbin:/bin
conf_arg=
dry=
libs=
while getopts c:nl opt; do
	case $opt in
	c) conf_arg="-c $OPTARG" ;;
	n) dry=1 ;;
	l) libs=1 ;;
	*) echo "usage: chroot-setup [-c config_dir] [-n] [-l]" >&2; exit 1 ;;
	esac
done

here=$(dirname "$0")
postconf=${POSTINO_POSTCONF:-}
for p in ${postconf:+"$postconf"} "$here/postconf" "$here/../../sbin/postconf" "$here/../sbin/postconf" \
    /usr/sbin/postconf.postino; do
	if [ -x "$p" ]; then
		postconf=$p
		break
	fi
done
if [ -z "$postconf" ]; then
	echo "chroot-setup: cannot find postino's postconf next to $0" >&2
	exit 1
fi
# shellcheck disable=SC2086
queue=$("$postconf" $conf_arg -h queue_directory)
case $queue in
/?*) ;;
*) echo "chroot-setup: queue_directory \"$queue\" is not an absolute path" >&2
   exit 1 ;;
esac
if [ ! -d "$queue" ]; then
	echo "chroot-setup: $queue does not exist: run \"postino check\" first" >&2
	exit 1
fi

run() {
	if [ -n "$dry" ]; then
		echo "would run: $*"
	else
		"$@"
	fi
}

run mkdir -p "$queue/etc"
run chmod 755 "$queue/etc"
for f in resolv.conf hosts host.conf nsswitch.conf services localtime; do
	if [ -e "/etc/$f" ]; then
		# -L: /etc/localtime is usually a symbolic link.
		run rm -f "$queue/etc/$f"
		run cp -L "/etc/$f" "$queue/etc/$f"
		run chmod 644 "$queue/etc/$f"
		[ -n "$dry" ] || echo "chroot-setup: copied /etc/$f to $queue/etc/$f"
	fi
done

if [ -n "$libs" ]; then
	for lib in /lib/*/libnss_*.so.2 /usr/lib/*/libnss_*.so.2; do
		[ -e "$lib" ] || continue
		dir=$queue$(dirname "$lib")
		run mkdir -p "$dir"
		run cp -L "$lib" "$dir/"
		[ -n "$dry" ] || echo "chroot-setup: copied $lib to $dir"
	done
fi

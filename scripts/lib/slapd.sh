#!/bin/sh
# SPDX-License-Identifier: MIT
# slapd.sh - a throwaway OpenLDAP server for tests and benchmarks.
#
#   slapd.sh start DIR PORT [LDIF...]  create DIR (slapd.conf, mdb database),
#                                      listen on ldap://127.0.0.1:PORT and on
#                                      ldapi in DIR, add the suffix entry and
#                                      load each LDIF with ldapadd; exits 0
#                                      once the server answers.
#   slapd.sh stop DIR                  stop it (SIGTERM, then SIGKILL) and
#                                      wait until it is gone.
#   slapd.sh restart DIR               stop, then start again on the same
#                                      port with the same data.
#   slapd.sh add DIR LDIF...           ldapadd more entries.
#   slapd.sh pid DIR                   print the server's pid.
#
# Environment: SLAPD_SUFFIX (default dc=example,dc=com), SLAPD_ROOTPW
# (default secret; the root DN is cn=admin,SUFFIX), SLAPD_WAIT (tenths of
# a second to wait for the server, default 200).
#
# Needs Debian's slapd and ldap-utils.  Nothing outside DIR is written; the
# server runs as the calling user.  Schemas: core, cosine, inetorgperson,
# nis, misc (inetLocalMailRecipient: mailLocalAddress,
# mailRoutingAddress, mailHost) and dyngroup (groupOfURLs).
set -eu

SUFFIX=${SLAPD_SUFFIX:-dc=example,dc=com}
ROOTPW=${SLAPD_ROOTPW:-secret}
WAIT=${SLAPD_WAIT:-200}
SCHEMA=/etc/ldap/schema

die() {
	echo "slapd.sh: $*" >&2
	exit 1
}

find_slapd() {
	for p in /usr/sbin/slapd "$(command -v slapd 2>/dev/null || true)"; do
		[ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
	done
	die "slapd not found (install Debian packages slapd and ldap-utils)"
}

need_tools() {
	command -v ldapadd >/dev/null 2>&1 ||
	    die "ldapadd not found (install Debian package ldap-utils)"
	command -v ldapsearch >/dev/null 2>&1 ||
	    die "ldapsearch not found (install Debian package ldap-utils)"
	[ -r "$SCHEMA/core.schema" ] || die "no $SCHEMA/core.schema (slapd)"
}

# urlenc PATH - percent-encode "/" for an ldapi:// URL.
urlenc() {
	printf '%s' "$1" | sed 's,%,%25,g; s,/,%2F,g'
}

write_conf() {
	dir=$1
	modpath=/usr/lib/ldap
	cat > "$dir/slapd.conf" <<EOF
# Written by scripts/lib/slapd.sh: a throwaway test server.
include $SCHEMA/core.schema
include $SCHEMA/cosine.schema
include $SCHEMA/inetorgperson.schema
include $SCHEMA/nis.schema
include $SCHEMA/misc.schema
include $SCHEMA/dyngroup.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath $modpath
moduleload back_mdb
sizelimit unlimited
database mdb
maxsize 1073741824
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw $ROOTPW
directory $dir/db
index objectClass eq
index mail,mailLocalAddress,uid,cn,member eq
access to * by * read
EOF
}

# running DIR - is the server of DIR alive?
running() {
	[ -s "$1/slapd.pid" ] || return 1
	pid=$(cat "$1/slapd.pid")
	kill -0 "$pid" 2>/dev/null
}

wait_ready() {
	dir=$1 port=$2 i=0
	while [ $i -lt "$WAIT" ]; do
		if ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -s base \
		    -b "" -o nettimeout=2 -l 2 namingContexts \
		    >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	die "slapd in $dir does not answer on port $port"
}

launch() {
	dir=$1 port=$2
	slapd=$(find_slapd)
	# -d 0 would keep it in the foreground; let it daemonize and write
	# its pid file.
	"$slapd" -f "$dir/slapd.conf" \
	    -h "ldap://127.0.0.1:$port/ ldapi://$(urlenc "$dir/ldapi")/" \
	    >"$dir/slapd.log" 2>&1 || {
		cat "$dir/slapd.log" >&2
		die "slapd failed to start in $dir"
	}
	wait_ready "$dir" "$port"
}

add() {
	dir=$1
	shift
	port=$(cat "$dir/port")
	for f in "$@"; do
		ldapadd -x -c -H "ldap://127.0.0.1:$port" -D "cn=admin,$SUFFIX" \
		    -w "$ROOTPW" -f "$f" >"$dir/ldapadd.log" 2>&1 || {
			tail -n 20 "$dir/ldapadd.log" >&2
			die "ldapadd $f failed"
		}
	done
}

start() {
	[ $# -ge 2 ] || die "usage: slapd.sh start DIR PORT [LDIF...]"
	dir=$1 port=$2
	shift 2
	need_tools
	mkdir -p "$dir/db"
	dir=$(cd "$dir" && pwd)
	running "$dir" && die "a slapd already runs in $dir"
	echo "$port" > "$dir/port"
	write_conf "$dir"
	launch "$dir" "$port"
	first=${SUFFIX%%,*}
	rdnval=${first#*=}
	cat > "$dir/base.ldif" <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
o: $rdnval
dc: $rdnval
EOF
	add "$dir" "$dir/base.ldif" "$@"
}

stop() {
	[ $# -eq 1 ] || die "usage: slapd.sh stop DIR"
	dir=$1
	[ -s "$dir/slapd.pid" ] || return 0
	pid=$(cat "$dir/slapd.pid")
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/slapd.pid"; return 0; }
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$dir/slapd.pid"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start) start "$@" ;;
stop) stop "$@" ;;
restart)
	[ $# -eq 1 ] || die "usage: slapd.sh restart DIR"
	stop "$1"
	launch "$(cd "$1" && pwd)" "$(cat "$1/port")"
	;;
add)
	[ $# -ge 2 ] || die "usage: slapd.sh add DIR LDIF..."
	add "$@"
	;;
pid) cat "$1/slapd.pid" ;;
*) die "usage: slapd.sh start|stop|restart|add|pid DIR ..." ;;
esac

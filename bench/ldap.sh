#!/bin/bash
# SPDX-License-Identifier: MIT
# ldap.sh - ldap: lookups per second through "postmap -q -", postino vs
# Postfix (Debian postfix-ldap) in one run, against one throwaway slapd
# (scripts/lib/slapd.sh, mdb backend) holding 5,000 inetOrgPerson users.
#
#   bench/ldap.sh [ROUNDS]           (default 5; needs POSTINO_BUILD or
#                                    ./build, slapd, ldap-utils, postfix-ldap)
#
# Each tool reads KEYS keys (10,000: half present, half absent) from stdin
# with the etc/ldap-virtual-mailbox-maps.cf search (filter on mail, uid as
# the result, "%D/%s/" result format), once over TCP (127.0.0.1) and once
# over ldapi:// (UNIX socket).  Each round runs both tools, alternating
# which goes first; one uncounted warm-up run per tool is the correctness
# check (5,000 answers, identical output).  Wall time covers the whole
# process (start, connect, every search, exit); the postmap process's own
# CPU time (user + system, /usr/bin/time) is reported too, being less
# disturbed by other load on a shared machine.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${POSTINO_BUILD:-$SRC/build}
ROUNDS=${1:-5}
KEYS=10000
OURS="$BUILD/sbin/postmap"
THEIRS=/usr/sbin/postmap
BENCH_TYPE=ldap
SLAPD_SH="$SRC/scripts/lib/slapd.sh"

# shellcheck source=lib/postmap_bench.sh
. "$HERE/lib/postmap_bench.sh"

[ -x "$OURS" ] || { echo "no $OURS (build first, or set POSTINO_BUILD)" >&2; exit 1; }
[ -x "$THEIRS" ] || { echo "no $THEIRS: install Debian's postfix and postfix-ldap" >&2; exit 1; }
[ -e /usr/lib/postfix/postfix-ldap.so ] ||
	{ echo "Postfix has no ldap: table: install postfix-ldap" >&2; exit 1; }

WORK=$(mktemp -d /tmp/postino-bench-ldap.XXXXXX)
DIR="$WORK/slapd"
cleanup() {
	sh "$SLAPD_SH" stop "$DIR" || true
	rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
awk -v n=$((KEYS / 2)) 'BEGIN {
	print "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n"
	for (i = 1; i <= n; i++)
		printf "dn: uid=user%d,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\nsn: %d\nmail: user%d@example.com\n\n", i, i, i, i, i
}' > "$WORK/users.ldif"
sh "$SLAPD_SH" start "$DIR" "$PORT" "$WORK/users.ldif"

# Each tool its own config directory: Postfix's must point at its
# dynamicmaps.cf (postfix-ldap), postino's must not.
mkdir -p "$WORK/conf" "$WORK/pfconf"
THEIRS_CONF=$WORK/pfconf
echo "compatibility_level = 3.6" > "$WORK/conf/main.cf"
printf 'compatibility_level = 3.6\nmeta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n' > "$WORK/pfconf/main.cf"
sock=$(printf '%s' "$DIR/ldapi" | sed 's,/,%2F,g')
for via in tcp ldapi; do
	case $via in
	tcp) h="ldap://127.0.0.1:$PORT" ;;
	ldapi) h="ldapi://$sock" ;;
	esac
	sed -e "s|^server_host = .*|server_host = $h|" \
		-e "s|^bind = .*|bind = no|" -e '/^bind_dn/d' -e '/^bind_pw/d' \
		-e '/^domain = /d' \
		"$SRC/etc/ldap-virtual-mailbox-maps.cf" > "$WORK/$via.cf"
done
# Present and absent keys interleaved: user1..user10000@example.com.
awk -v n="$KEYS" 'BEGIN { for (i = 1; i <= n; i++) printf "user%d@example.com\n", (i % 2) ? (i + 1) / 2 : n / 2 + i / 2 }' > "$WORK/keys"

echo "ldap: lookups through postmap -q - ($KEYS keys, $((KEYS / 2)) found), $ROUNDS rounds"
echo "slapd $(dpkg-query -W -f='${Version}' slapd 2>/dev/null || echo '?'), Postfix $(/usr/sbin/postconf -c "$WORK/pfconf" -h mail_version 2>/dev/null || echo '?'), $(nproc) CPUs"
bench_compare tcp ldapi

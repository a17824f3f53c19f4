#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - build postino and show its lookup tables working in a
# self-contained instance directory (the README's first command).
#
#   scripts/demo.sh [DIR]      DIR defaults to ./demo (or $POSTINO_DEMO_DIR)
#
# Installs the build dependencies if they are missing (needs root only
# then), builds in build/ (or $POSTINO_BUILD_DIR), writes DIR/main.cf and a
# few tables, builds them with postmap/postalias/newaliases and queries
# them.  Running it again rebuilds the same instance: nothing accumulates.
# The SMTP service is not part of this milestone: this is what "starting
# postino" means for now.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh

BUILD=${POSTINO_BUILD_DIR:-$ROOT/build}
DEMO=${1:-${POSTINO_DEMO_DIR:-$ROOT/demo}}
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)

say() { printf '\n== %s\n' "$*"; }
# run CMD... - show a command, then run it; a failure ends the demo.
run() {
	printf '$ %s\n' "$*"
	"$@"
}
# query CMD... - like run, for lookups whose exit status 1 means "not found".
query() {
	local rc=0
	printf '$ %s\n' "$*"
	"$@" || rc=$?
	case $rc in
	0) ;;
	1) echo "(exit status 1: not found)" ;;
	*) echo "demo: unexpected exit status $rc" >&2; exit 1 ;;
	esac
}

say "dependencies"
postino_deps build

say "build ($BUILD)"
LOG=$(mktemp "${TMPDIR:-/tmp}/postino-demo-build.XXXXXX")
trap 'rm -f "$LOG"' EXIT
echo "$ cmake -S $ROOT -B $BUILD && cmake --build $BUILD -j2"
if ! { cmake -S "$ROOT" -B "$BUILD" && cmake --build "$BUILD" -j2; } >"$LOG" 2>&1; then
	cat "$LOG"
	echo "demo: the build failed" >&2
	exit 1
fi
SBIN=$BUILD/sbin
for p in postmap postalias newaliases postconf; do
	[ -x "$SBIN/$p" ] || { echo "demo: $SBIN/$p was not built" >&2; exit 1; }
done
echo "built: $(cd "$SBIN" && echo *)"
echo "table modules: $(cd "$BUILD"/lib*/postino && echo map_*.so)"

say "instance directory $DEMO"
cat >"$DEMO/main.cf" <<CF
# postino demo instance (written by scripts/demo.sh; rewritten on each run)
compatibility_level = 3.6
myhostname = demo.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination = \$myhostname, localhost.\$mydomain, localhost
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
alias_maps = hash:$DEMO/aliases
alias_database = hash:$DEMO/aliases
virtual_alias_domains = example.com
virtual_alias_maps = hash:$DEMO/virtual, pcre:$DEMO/virtual.pcre
transport_maps = btree:$DEMO/transport
smtpd_client_restrictions = check_client_access cidr:$DEMO/clients.cidr
queue_directory = $DEMO/queue
data_directory = $DEMO/data
CF
cat >"$DEMO/aliases" <<'AL'
# aliases(5): local aliases for the demo
postmaster:	root
root:		admin
admin:		alice, bob
abuse:		postmaster
AL
cat >"$DEMO/virtual" <<'VT'
# virtual(5): addresses of the virtual alias domain example.com
Info@Example.COM	alice@demo.localdomain
sales@example.com	bob@demo.localdomain, carol@elsewhere.example
@example.com		catchall@demo.localdomain
VT
cat >"$DEMO/virtual.pcre" <<'VP'
# pcre_table(5): rewrite first.last@example.net to first@demo.localdomain
/^([a-z]+)\.([a-z]+)@example\.net$/	${1}@demo.localdomain
/^postmaster@/				postmaster@demo.localdomain
VP
cat >"$DEMO/transport" <<'TR'
# transport(5)
example.org	smtp:[mail.example.org]:25
.example.org	smtp:[mail.example.org]:25
TR
cat >"$DEMO/clients.cidr" <<'CI'
# cidr_table(5)
127.0.0.0/8	OK
192.0.2.0/24	REJECT documentation network
CI
cp "$ROOT/etc/master.cf" "$DEMO/master.cf"
mkdir -p "$DEMO/queue" "$DEMO/data"
ls -l "$DEMO"

export MAIL_CONFIG=$DEMO
cd "$DEMO"

say "build the indexed tables (MAIL_CONFIG=$DEMO)"
run "$SBIN/postmap" hash:"$DEMO/virtual"
run "$SBIN/postmap" btree:"$DEMO/transport"
run "$SBIN/newaliases"
ls -l ./*.db

say "lookups"
query "$SBIN/postmap" -q INFO@example.com hash:"$DEMO/virtual"
query "$SBIN/postmap" -q nobody@example.com hash:"$DEMO/virtual"
query "$SBIN/postmap" -q @example.com hash:"$DEMO/virtual"
query "$SBIN/postmap" -q example.org btree:"$DEMO/transport"
query "$SBIN/postmap" -q 192.0.2.7 cidr:"$DEMO/clients.cidr"
query "$SBIN/postmap" -q b 'inline:{a=1, b=2}'
query "$SBIN/postmap" -q anything static:fixed-answer
echo "-- several keys from stdin, several tables (first one that has a key wins):"
printf '%s\n' sales@example.com john.smith@example.net nobody@example.org |
    query "$SBIN/postmap" -q - hash:"$DEMO/virtual" pcre:"$DEMO/virtual.pcre"

say "explain mode: which table, which key, which rule"
query "$SBIN/postmap" -x -q john.smith@example.net hash:"$DEMO/virtual" \
    pcre:"$DEMO/virtual.pcre"

say "aliases"
query "$SBIN/postalias" -q admin hash:"$DEMO/aliases"
printf '%s\n' root abuse nobody | query "$SBIN/postalias" -q - hash:"$DEMO/aliases"
query "$SBIN/postalias" -s hash:"$DEMO/aliases"

say "configuration"
run "$SBIN/postconf" -n
run "$SBIN/postconf" -m
query "$SBIN/postconf" mydestination alias_maps

say "done"
cat <<EOT
The demo instance is in $DEMO; try for example
  MAIL_CONFIG=$DEMO $SBIN/postmap -q sales@example.com hash:$DEMO/virtual
The SMTP server (and the rest of the mail path: queue, delivery) is not part
of this milestone: postino so far is the lookup-table layer and the table
commands (postmap, postalias, newaliases, postconf).  Nothing was started,
so there is nothing to stop.
EOT

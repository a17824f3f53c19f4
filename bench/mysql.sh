#!/bin/bash
# SPDX-License-Identifier: MIT
# mysql.sh - mysql: lookups per second through "postmap -q -", postino vs
# Postfix (Debian postfix-mysql) in one run, against one throwaway
# mariadbd (scripts/lib/mariadb.sh) holding a PostfixAdmin-style
# database of 5,000 mailboxes.
#
#   bench/mysql.sh [ROUNDS]          (default 5; needs POSTINO_BUILD or
#                                    ./build, mariadb-server, postfix-mysql)
#
# Each tool reads KEYS keys (10,000: half present, half absent) from stdin
# with the etc/mysql-virtual-mailbox-maps.cf query, once over the UNIX
# socket and once over TCP (127.0.0.1).  Each round runs both tools,
# alternating which goes first; one uncounted warm-up run per tool is the
# correctness check (5,000 answers, identical output).  Wall time covers
# the whole process (start, connect, every query, exit); the postmap
# process's own CPU time (user + system, /usr/bin/time) is reported too,
# being less disturbed by other load on a shared machine.  Prints the
# median and best wall time and the median CPU time per tool.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${POSTINO_BUILD:-$SRC/build}
ROUNDS=${1:-5}
KEYS=10000
OURS="$BUILD/sbin/postmap"
THEIRS=/usr/sbin/postmap
BENCH_TYPE=mysql

# shellcheck source=../scripts/lib/mariadb.sh
. "$SRC/scripts/lib/mariadb.sh"
# shellcheck source=lib/postmap_bench.sh
. "$HERE/lib/postmap_bench.sh"

[ -x "$OURS" ] || { echo "no $OURS (build first, or set POSTINO_BUILD)" >&2; exit 1; }
[ -x "$THEIRS" ] || { echo "no $THEIRS: install Debian's postfix and postfix-mysql" >&2; exit 1; }

WORK=$(mktemp -d /tmp/postino-bench-mysql.XXXXXX)
DB="$WORK/db"
cleanup() {
	mariadb_stop "$DB" || true
	rm -rf "$WORK"
}
trap cleanup EXIT
# Both tools read this main.cf, never /etc/postfix (which a Postfix
# installed as "No configuration" does not have).
mkdir -p "$WORK/conf"
echo "compatibility_level = 3.6" > "$WORK/conf/main.cf"
/usr/sbin/postconf -c "$WORK/conf" -m 2>/dev/null | grep -qx mysql ||
	{ echo "Postfix has no mysql: table: install postfix-mysql" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	cat <<'EOF'
CREATE DATABASE postfixadmin CHARACTER SET utf8mb4;
CREATE USER 'postino'@'localhost' IDENTIFIED BY 'secret';
CREATE USER 'postino'@'127.0.0.1' IDENTIFIED BY 'secret';
GRANT SELECT ON postfixadmin.* TO 'postino'@'localhost';
GRANT SELECT ON postfixadmin.* TO 'postino'@'127.0.0.1';
USE postfixadmin;
EOF
	cat "$SRC/etc/postfixadmin-schema.sql"
	cat <<EOF
INSERT INTO domain (domain) VALUES ('bench.example');
INSERT INTO mailbox (username, maildir, local_part, domain)
	SELECT CONCAT('user', seq, '@bench.example'),
	       CONCAT('bench.example/user', seq, '/'), CONCAT('user', seq),
	       'bench.example'
	FROM seq_1_to_$((KEYS / 2));
EOF
} > "$WORK/load.sql"
mariadb_start "$DB" "$PORT" "$WORK/load.sql"

for via in socket tcp; do
	case $via in
	socket) h="unix:$DB/mysqld.sock" ;;
	tcp) h="inet:127.0.0.1:$PORT" ;;
	esac
	sed -e "s|^hosts = .*|hosts = $h|" \
		"$SRC/etc/mysql-virtual-mailbox-maps.cf" > "$WORK/$via.cf"
done
# Present and absent keys interleaved: user1..user10000@bench.example.
seq 1 "$KEYS" | sed 's/.*/user&@bench.example/' > "$WORK/keys"

echo "mysql: lookups through postmap -q - ($KEYS keys, $((KEYS / 2)) found), $ROUNDS rounds"
echo "mariadbd $(mariadbd --version | awk '{print $3}'), Postfix $(/usr/sbin/postconf -c "$WORK/conf" -h mail_version 2>/dev/null || echo '?'), $(nproc) CPUs"
bench_compare socket tcp

#!/bin/bash
# SPDX-License-Identifier: MIT
# mariadb.sh - a throwaway MariaDB server for tests and benchmarks.
#
# Everything lives under one directory DIR: the data directory (DIR/data),
# the UNIX socket (DIR/mysqld.sock), the pid file, the error log and the
# server's own tmpdir.  The server listens on 127.0.0.1:PORT only, reads
# no system option file (--no-defaults), and is stopped by pid, never by
# name.  Needs Debian's mariadb-server (mariadbd, mariadb-install-db) and
# mariadb-client (mariadb, used to load SQL); a missing binary is an
# error, never a silent skip.
#
# Used as a command:
#   mariadb.sh start DIR PORT [FILE.sql...]   create DIR/data on first use,
#                                          start, wait until it answers,
#                                          then load each FILE.sql as root
#   mariadb.sh stop DIR                       SIGTERM, wait for the exit
#   mariadb.sh kill DIR                       SIGKILL (a crash), wait
#   mariadb.sh sql DIR FILE.sql|-             run SQL as root
#   mariadb.sh pid DIR                        print the server's pid
# or sourced, which defines the mariadb_* functions below.
#
# The server runs as the invoking user (root included: --user=root is
# passed explicitly, which mariadbd requires).  Root logs in over the
# socket without a password; tests create their own users in SQL.

MARIADB_WAIT_STEPS=${MARIADB_WAIT_STEPS:-300}	# x 0.1 s

mariadb_die() {
	echo "mariadb.sh: $*" >&2
	return 1
}

# mariadb_need - every binary we use must exist.
mariadb_need() {
	local b
	for b in mariadbd mariadb-install-db mariadb; do
		command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
			mariadb_die "$b not found (install the Debian packages mariadb-server and mariadb-client)" ||
			return 1
	done
}

mariadb_bin() {
	command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

# mariadb_pid DIR - the running server's pid, or nothing.
mariadb_pid() {
	local f="$1/mysqld.pid" pid
	[ -r "$f" ] || return 1
	pid=$(tr -dc '0-9' < "$f")
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	echo "$pid"
}

# mariadb_client DIR ARGS... - the command-line client as root over the socket.
mariadb_client() {
	local dir=$1
	shift
	"$(mariadb_bin mariadb)" --no-defaults --protocol=socket \
		--socket="$dir/mysqld.sock" -uroot "$@"
}

# mariadb_install DIR - create the data directory once.
mariadb_install() {
	local dir=$1
	[ -d "$dir/data/mysql" ] && return 0
	mkdir -p "$dir/data" "$dir/tmp" || return 1
	"$(mariadb_bin mariadb-install-db)" --no-defaults \
		--auth-root-authentication-method=normal \
		--user="$(id -un)" --datadir="$dir/data" \
		--skip-test-db >"$dir/install.log" 2>&1 ||
		{ cat "$dir/install.log" >&2; mariadb_die "mariadb-install-db failed in $dir"; return 1; }
}

# mariadb_start DIR PORT [SQL...] - start (installing first if needed),
# wait until the server answers, load the SQL files.
mariadb_start() {
	local dir=$1 port=$2 i f
	shift 2
	mariadb_need || return 1
	[ -n "$dir" ] && [ -n "$port" ] || { mariadb_die "usage: start DIR PORT [SQL...]"; return 1; }
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	if mariadb_pid "$dir" >/dev/null; then
		mariadb_die "a server already runs in $dir"
		return 1
	fi
	mariadb_install "$dir" || return 1
	rm -f "$dir/mysqld.sock" "$dir/mysqld.pid"
	# setsid: the server must not share the caller's process group, so a
	# test runner's group kill does not race with our own stop.
	setsid "$(mariadb_bin mariadbd)" --no-defaults --user="$(id -un)" \
		--datadir="$dir/data" --tmpdir="$dir/tmp" \
		--socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
		--port="$port" --bind-address=127.0.0.1 \
		--log-error="$dir/error.log" --skip-name-resolve \
		--skip-log-bin --innodb-buffer-pool-size=16M \
		--innodb-log-file-size=8M --performance-schema=OFF \
		--character-set-server=utf8mb4 \
		--collation-server=utf8mb4_general_ci \
		--max-connections=500 \
		</dev/null >>"$dir/stdout.log" 2>&1 &
	for ((i = 0; i < MARIADB_WAIT_STEPS; i++)); do
		if [ -S "$dir/mysqld.sock" ] &&
		    mariadb_client "$dir" -e 'SELECT 1' >/dev/null 2>&1; then
			break
		fi
		sleep 0.1
	done
	if ((i == MARIADB_WAIT_STEPS)); then
		tail -20 "$dir/error.log" >&2
		mariadb_die "server in $dir did not answer within $((MARIADB_WAIT_STEPS / 10)) s"
		return 1
	fi
	for f in "$@"; do
		mariadb_sql "$dir" "$f" || return 1
	done
}

# mariadb_sql DIR FILE|- - run SQL as root.
mariadb_sql() {
	local dir=$1 f=$2
	if [ "$f" = - ]; then
		mariadb_client "$dir"
	else
		mariadb_client "$dir" < "$f"
	fi || { mariadb_die "loading $f into the server in $dir failed"; return 1; }
}

# mariadb_signal_wait DIR SIGNAL - signal the server (resumed first, in
# case it was stopped) and wait for it to exit.
mariadb_signal_wait() {
	local dir=$1 sig=$2 pid i
	pid=$(mariadb_pid "$dir") || return 0
	kill -CONT "$pid" 2>/dev/null
	kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < MARIADB_WAIT_STEPS; i++)); do
		[ -d "/proc/$pid" ] || break
		# a zombie child of ours counts as gone
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && break
		sleep 0.1
	done
	if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$dir/mysqld.pid"
}

mariadb_stop() { mariadb_signal_wait "$1" TERM; }
mariadb_kill() { mariadb_signal_wait "$1" KILL; }

# Run as a command unless sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cmd=${1:-}
	shift || true
	case "$cmd" in
	start) mariadb_start "$@" ;;
	stop) mariadb_stop "$@" ;;
	kill) mariadb_kill "$@" ;;
	sql) mariadb_sql "$@" ;;
	pid) mariadb_pid "$@" ;;
	*)
		echo "usage: mariadb.sh start DIR PORT [SQL...] | stop DIR | kill DIR | sql DIR FILE | pid DIR" >&2
		exit 2
		;;
	esac
fi

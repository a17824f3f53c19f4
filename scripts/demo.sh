#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - build postino, start a real instance in a self-contained
# directory and send it a message (the README's first command).
#
#   scripts/demo.sh [DIR]      DIR defaults to ./demo (or $POSTINO_DEMO_DIR)
#
# Steps: install the build dependencies if some are missing (needs root
# only then); build in build/ (or $POSTINO_BUILD_DIR); write DIR/main.cf,
# DIR/master.cf and the tables; build and query the tables; "postino -c
# DIR check" and "start" (SMTP on 127.0.0.1:2525, or $POSTINO_DEMO_PORT);
# send one message over SMTP to demo@example.com; wait (bounded) until it
# is in its Maildir, DIR/mail/example.com/demo/, and show the log lines.
# postino is left running: "postino -c DIR stop" stops it.
#
# No root needed: an instance started by an ordinary user runs every
# daemon as that user and delivers as that user.  Started as root, the
# daemons run as an unprivileged account (mail_owner) and the mailbox
# belongs to it: $SUDO_USER, else the owner of DIR's parent directory,
# else "nobody".
#
# Running it again is safe: files whose contents did not change are left
# alone, a running instance is left running (reloaded if its configuration
# changed), and one more message is sent.  If the port is taken by
# another program, the script says so and exits 1.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh

BUILD=${POSTINO_BUILD_DIR:-$ROOT/build}
DEMO=${1:-${POSTINO_DEMO_DIR:-$ROOT/demo}}
PORT=${POSTINO_DEMO_PORT:-2525}
WAIT=30				# seconds: bound of every wait
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)

say() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
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
	*) die "unexpected exit status $rc" ;;
	esac
}

case $PORT in
''|*[!0-9]*) die "POSTINO_DEMO_PORT must be a port number, not \"$PORT\"" ;;
esac

say "dependencies"
# The build configures the unit tests too, which need cmocka.
POSTINO_DEPS_BUILD="$POSTINO_DEPS_BUILD libcmocka-dev"
postino_deps build

say "build ($BUILD)"
LOG=$(mktemp "${TMPDIR:-/tmp}/postino-demo-build.XXXXXX")
trap 'rm -f "$LOG"' EXIT
echo "$ cmake -S $ROOT -B $BUILD && cmake --build $BUILD -j2"
if ! { cmake -S "$ROOT" -B "$BUILD" && cmake --build "$BUILD" -j2; } >"$LOG" 2>&1; then
	cat "$LOG"
	die "the build failed"
fi
SBIN=$BUILD/sbin
LIBEXEC=$BUILD/libexec/postino
for p in "$SBIN"/{postino,postmap,postalias,postconf,sendmail,mailq} \
    "$LIBEXEC"/{master,smtpd,qmgr,pickup,local,virtual}; do
	[ -x "$p" ] || die "$p was not built"
done
echo "commands: $(cd "$SBIN" && echo *)"
echo "daemons:  $(cd "$LIBEXEC" && echo *)"
MODULES=$(for m in "$BUILD"/lib*/postino/map_*.so; do
	[ -e "$m" ] && printf '%s ' "${m##*/}"; done)
echo "modules:  $MODULES"
POSTINO=$SBIN/postino

# -- who runs what --------------------------------------------------------
# mail_owner: the account of the daemons (root only; an ordinary user's
# instance runs as that user).  The mailbox uid/gid: the same account.
if [ "$(id -u)" = 0 ]; then
	RUNAS=
	if [ -n "${SUDO_USER:-}" ] && [ "$(id -u "$SUDO_USER" 2>/dev/null)" != 0 ] \
	    && id -u "$SUDO_USER" >/dev/null 2>&1; then
		RUNAS=$SUDO_USER
	else
		owner=$(stat -c %U "$(dirname "$DEMO")")
		if [ "$owner" != root ] && [ "$owner" != UNKNOWN ] &&
		    [ "$(id -u "$owner" 2>/dev/null || echo 0)" != 0 ]; then
			RUNAS=$owner
		fi
	fi
	: "${RUNAS:=nobody}"
	id -u "$RUNAS" >/dev/null 2>&1 || die "no account \"$RUNAS\" to run the daemons as"
	RUID=$(id -u "$RUNAS")
	RGID=$(id -g "$RUNAS")
	RGROUP=$(id -gn "$RUNAS")
	# The daemons (as RUNAS) must reach DIR: its queue, tables and mailboxes.
	if ! setpriv --reuid="$RUID" --regid="$RGID" --clear-groups \
	    test -x "$DEMO" -a -r "$DEMO" 2>/dev/null; then
		die "as root the daemons run as \"$RUNAS\", which cannot reach $DEMO
(a parent directory is private).  Give another directory, for example:
  scripts/demo.sh /tmp/postino-demo"
	fi
	MODE="root: the master runs as root; smtpd, qmgr and pickup as mail_owner = $RUNAS; local and virtual deliver as $RUNAS"
else
	RUNAS=$(id -un)
	RUID=$(id -u)
	RGID=$(id -g)
	RGROUP=$(id -gn)
	MODE="unprivileged: every daemon runs as $RUNAS"
fi
MINUID=100
[ "$RUID" -ge "$MINUID" ] || MINUID=$RUID

# -- the instance directory -------------------------------------------------
CHANGED=0
# put FILE - write stdin to FILE unless FILE already has exactly that.
put() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	cat >"$tmp"
	chmod 644 "$tmp"
	if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
	else
		mv -f "$tmp" "$1"
		echo "wrote $1"
		CHANGED=1
	fi
}

say "instance directory $DEMO"
put "$DEMO/main.cf" <<CF
# postino demo instance (written by scripts/demo.sh)
compatibility_level = 3.6
myhostname = demo.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination = \$myhostname, localhost
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_peername_lookup = no
queue_directory = $DEMO/queue
data_directory = $DEMO/data
maillog_file = $DEMO/maillog
# Who the daemons run as when started by root (ignored otherwise).
mail_owner = $RUNAS
setgid_group = $RGROUP
# Local domain demo.localdomain: aliases only (no mailboxes here).
alias_maps = hash:$DEMO/aliases
alias_database = hash:$DEMO/aliases
# Hosted domain example.com: Maildirs under $DEMO/mail, owned by $RUNAS.
virtual_mailbox_domains = example.com
virtual_mailbox_base = $DEMO/mail
virtual_mailbox_maps = btree:$DEMO/vmailbox
virtual_uid_maps = static:$RUID
virtual_gid_maps = static:$RGID
virtual_minimum_uid = $MINUID
virtual_alias_maps = hash:$DEMO/virtual, pcre:$DEMO/virtual.pcre
smtpd_client_restrictions = check_client_access cidr:$DEMO/clients.cidr
CF
put "$DEMO/master.cf" <<MF
# postino demo instance: master(5) services (written by scripts/demo.sh)
# service      type  private unpriv chroot wakeup maxproc command
127.0.0.1:$PORT inet  n       -      n      -      1       smtpd
qmgr           unix  n       -      n      300    1       qmgr
pickup         unix  n       -      n      60     1       pickup
local          unix  -       n      n      -      -       local
virtual        unix  -       n      n      -      -       virtual
anvil          unix  -       -      n      -      1       anvil
proxymap       unix  -       -      n      -      -       proxymap
smtp           unix  -       -      n      -      -       smtp
MF
put "$DEMO/aliases" <<'AL'
# aliases(5) of the local domain demo.localdomain
postmaster:	demo@example.com
root:		postmaster
abuse:		postmaster
mailer-daemon:	postmaster
AL
put "$DEMO/vmailbox" <<'VM'
# virtual_mailbox_maps: address, then the mailbox under virtual_mailbox_base
# (a trailing "/" means Maildir)
demo@example.com	example.com/demo/
VM
put "$DEMO/virtual" <<'VT'
# virtual(5): alias addresses
Info@Example.COM	demo@example.com
sales@example.com	demo@example.com
VT
put "$DEMO/virtual.pcre" <<'VP'
# pcre_table(5): user+tag@example.com -> user@example.com
/^([a-z]+)\+[^@]*@example\.com$/	${1}@example.com
VP
put "$DEMO/clients.cidr" <<'CI'
# cidr_table(5): who may connect at all
127.0.0.0/8	OK
192.0.2.0/24	REJECT documentation network
CI
mkdir -p "$DEMO/queue" "$DEMO/data" "$DEMO/mail"
if [ "$(id -u)" = 0 ]; then
	chown "$RUID:$RGID" "$DEMO/mail" "$DEMO/data"
fi
[ "$CHANGED" = 1 ] || echo "(configuration unchanged)"
echo "mode: $MODE"

export MAIL_CONFIG=$DEMO
cd "$DEMO"

say "build the indexed tables (MAIL_CONFIG=$DEMO)"
run "$SBIN/postmap" hash:"$DEMO/virtual"
run "$SBIN/postmap" btree:"$DEMO/vmailbox"
run "$SBIN/newaliases"

say "lookups"
query "$SBIN/postmap" -q INFO@example.com hash:"$DEMO/virtual"
query "$SBIN/postmap" -q nobody@example.com hash:"$DEMO/virtual"
query "$SBIN/postmap" -q 192.0.2.7 cidr:"$DEMO/clients.cidr"
query "$SBIN/postmap" -q b 'inline:{a=1, b=2}'
query "$SBIN/postalias" -q root hash:"$DEMO/aliases"
echo "-- several keys from stdin, several tables (the first one that has a key wins):"
printf '%s\n' sales@example.com demo+news@example.com nobody@example.org |
    query "$SBIN/postmap" -q - hash:"$DEMO/virtual" pcre:"$DEMO/virtual.pcre"
echo "-- explain (beyond Postfix): each table, each key form, the rule that matched:"
query "$SBIN/postmap" -x -a virtual -q Demo+News@Example.com \
    hash:"$DEMO/virtual" pcre:"$DEMO/virtual.pcre"
run "$SBIN/postconf" -n

# -- start ----------------------------------------------------------------
# port_open - something accepts connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

say "start postino"
run "$POSTINO" -c "$DEMO" check
if "$POSTINO" -c "$DEMO" status >/dev/null 2>&1; then
	echo "postino is already running for $DEMO; it is left running."
	if [ "$CHANGED" = 1 ]; then
		run "$POSTINO" -c "$DEMO" reload
	fi
else
	if port_open; then
		echo "demo: port $PORT on 127.0.0.1 is in use by another program" >&2
		other=
		if command -v ss >/dev/null 2>&1; then
			ss -ltnp "sport = :$PORT" >&2 || true
			# A postino master started with -c DIR: name DIR.
			for pid in $(ss -ltnpH "sport = :$PORT" 2>/dev/null |
			    grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
				mapfile -d '' args </proc/"$pid"/cmdline 2>/dev/null || continue
				[ "${args[0]:-}" = master ] || continue
				for ((i = 1; i + 1 < ${#args[@]}; i++)); do
					[ "${args[i]}" = -c ] && other=${args[i + 1]}
				done
			done
		fi
		if [ -n "$other" ]; then
			echo "demo: it is the postino instance of $other; stop it with:" >&2
			echo "demo:   $POSTINO -c $other stop" >&2
		else
			echo "demo: stop that program first" >&2
		fi
		echo "demo: or use another port: POSTINO_DEMO_PORT=2526 $0 ${1:-}" >&2
		exit 1
	fi
	run "$POSTINO" -c "$DEMO" start
fi
for _ in $(seq $((WAIT * 10))); do
	port_open && break
	sleep 0.1
done
port_open || die "nothing listens on 127.0.0.1:$PORT after ${WAIT}s; see $DEMO/maillog"
run "$POSTINO" -c "$DEMO" status

# -- one message over SMTP ----------------------------------------------------
TOKEN="demo-$(date +%Y%m%d%H%M%S)-$$"
SENDER=you@demo.localdomain
RCPT=demo@example.com
say "send a message: SMTP to 127.0.0.1:$PORT, from <$SENDER> to <$RCPT>"
REPLY=$(mktemp "${TMPDIR:-/tmp}/postino-demo-smtp.XXXXXX")
trap 'rm -f "$LOG" "$REPLY"' EXIT
if command -v python3 >/dev/null 2>&1 && [ "${POSTINO_DEMO_CLIENT:-}" != bash ]; then
	echo "(with Python's smtplib)"
	python3 - "$PORT" "$SENDER" "$RCPT" "$TOKEN" "$REPLY" <<'PY'
import smtplib, sys
port, sender, rcpt, token, out = sys.argv[1:]
msg = ("From: Demo script <%s>\r\nTo: <%s>\r\nSubject: hello from the demo "
       "(%s)\r\n\r\nThis message went in over SMTP and out through the "
       "virtual delivery agent.\r\n" % (sender, rcpt, token))
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    code, text = s.ehlo("client.demo.localdomain")
    print("EHLO -> %d %s" % (code, text.decode().splitlines()[0]))
    code, text = s.mail(sender)
    print("MAIL FROM:<%s> -> %d %s" % (sender, code, text.decode()))
    code, text = s.rcpt(rcpt)
    print("RCPT TO:<%s> -> %d %s" % (rcpt, code, text.decode()))
    if code != 250:
        sys.exit("demo: the recipient was refused")
    code, text = s.data(msg.encode())
    print("DATA ... -> %d %s" % (code, text.decode()))
    if code != 250:
        sys.exit("demo: the message was refused")
with open(out, "w") as f:
    f.write(text.decode() + "\n")
PY
else
	echo "(with bash's /dev/tcp)"
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	# reply - read one SMTP reply (all its lines), show it, check its code.
	reply() {
		local line
		while IFS= read -r -t "$WAIT" line <&3; do
			line=${line%$'\r'}
			echo "  <- $line"
			case $line in
			[0-9][0-9][0-9]-*) continue ;;
			"$1"*) LAST=$line; return 0 ;;
			*) die "unexpected reply: $line" ;;
			esac
		done
		die "no reply from the server"
	}
	send() { echo "  -> $1"; printf '%s\r\n' "$1" >&3; }
	reply 220
	send "EHLO client.demo.localdomain"; reply 250
	send "MAIL FROM:<$SENDER>"; reply 250
	send "RCPT TO:<$RCPT>"; reply 250
	send "DATA"; reply 354
	printf '%s\r\n' "From: Demo script <$SENDER>" "To: <$RCPT>" \
	    "Subject: hello from the demo ($TOKEN)" "" \
	    "This message went in over SMTP and out through the virtual delivery agent." \
	    "." >&3
	echo "  -> (message) ."
	reply 250
	echo "${LAST#250 }" >"$REPLY"
	send "QUIT"; reply 221
	exec 3>&-
fi
QID=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$REPLY")
[ -n "$QID" ] || die "no queue ID in the server's answer: $(cat "$REPLY")"
echo "queue ID: $QID"

MAILDIR=$DEMO/mail/example.com/demo
say "wait for delivery into $MAILDIR/"
FILE=
for _ in $(seq $((WAIT * 10))); do
	FILE=$(grep -l -s -F "$TOKEN" "$MAILDIR"/new/* "$MAILDIR"/cur/* | head -n 1 || true)
	[ -n "$FILE" ] && break
	sleep 0.1
done
if [ -z "$FILE" ]; then
	grep -F "$QID" "$DEMO/maillog" >&2 || true
	die "the message is not in $MAILDIR after ${WAIT}s; the log is $DEMO/maillog"
fi
echo "delivered: $FILE"
echo "-- the message as delivered:"
sed 's/^/   | /' "$FILE"
echo "-- its lines in $DEMO/maillog:"
for _ in $(seq $((WAIT * 10))); do
	grep -q -F "$QID: removed" "$DEMO/maillog" && break
	sleep 0.1
done
grep -F "$QID" "$DEMO/maillog" | sed 's/^/   /'

say "postino is running; try it yourself"
cat <<EOT
The instance lives in $DEMO ($MODE).
Mailboxes: $DEMO/mail/example.com/<user>/ (Maildir: new/, cur/, tmp/); the log: $DEMO/maillog

Send mail over SMTP (127.0.0.1:$PORT):
  swaks --server 127.0.0.1:$PORT --from you@demo.localdomain --to demo@example.com
  python3 -c 'import smtplib; smtplib.SMTP("127.0.0.1", $PORT).sendmail("you@demo.localdomain", ["info@example.com"], "Subject: hi\\r\\n\\r\\nhello\\r\\n")'
Other addresses that reach the same Maildir: info@example.com and
sales@example.com (virtual aliases), demo+anything@example.com (pcre rule);
unknown ones are refused at RCPT with 550.

Send mail like a local program (sendmail, postdrop, pickup):
  printf 'Subject: local\\n\\nhello\\n' | $SBIN/sendmail -C $DEMO demo@example.com

The queue, the log and the tables:
  $SBIN/mailq -c $DEMO                      (or: postqueue -c $DEMO -p / -j)
  tail -f $DEMO/maillog
  MAIL_CONFIG=$DEMO $SBIN/postmap -x -q sales@example.com hash:$DEMO/virtual

Control:
  $POSTINO -c $DEMO status | reload | flush | stop
Run this script again at any time: it keeps the running instance and sends
one more message.
EOT

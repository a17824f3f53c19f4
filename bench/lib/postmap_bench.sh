# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# postmap_bench.sh - the timing loop bench/ldap.sh and bench/mysql.sh
# share: "postmap -q -" over $WORK/keys, postino vs Postfix, per
# connection kind, with a correctness check and median/best wall time and
# median CPU time per tool.  Sourced, not run.
#
# The caller sets WORK, KEYS, ROUNDS, OURS, THEIRS, BENCH_TYPE (the table
# type, e.g. "ldap"), and optionally THEIRS_CONF (Postfix's config
# directory; default $WORK/conf, which is postino's); it writes the keys
# (half of them present) to $WORK/keys and one table config per connection
# kind to $WORK/VIA.cf, then calls bench_compare VIA...

# bench_run TOOL CF OUT - one timed run; prints "wall cpu" in seconds (cpu =
# the postmap process's user + system time).
bench_run() {
	local t0 t1 cpu conf=$WORK/conf
	[ "$1" = "$THEIRS" ] && conf=${THEIRS_CONF:-$WORK/conf}
	t0=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$WORK/time" \
		"$1" -c "$conf" -q - "$BENCH_TYPE:$2" < "$WORK/keys" > "$3"
	t1=$(date +%s.%N)
	cpu=$(awk '{print $1 + $2}' "$WORK/time")
	echo "$(echo "$t1 - $t0" | bc -l) $cpu"
}

# bench_median COLUMN / bench_minimum COLUMN of "wall cpu" lines on stdin.
bench_median() { awk -v c="$1" '{print $c}' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
bench_minimum() { awk -v c="$1" '{print $c}' | sort -g | head -1; }

# bench_compare VIA... - for each connection kind: one uncounted warm-up
# run per tool that must give KEYS/2 identical answers, then ROUNDS rounds
# alternating which tool goes first; prints one line per tool.
bench_compare() {
	local via cf n r tool m b c

	for via in "$@"; do
		cf="$WORK/$via.cf"
		bench_run "$THEIRS" "$cf" "$WORK/out.postfix" >/dev/null
		bench_run "$OURS" "$cf" "$WORK/out.postino" >/dev/null
		n=$(wc -l < "$WORK/out.postino")
		[ "$n" -eq $((KEYS / 2)) ] || { echo "postino gave $n answers, not $((KEYS / 2))" >&2; exit 1; }
		cmp -s "$WORK/out.postfix" "$WORK/out.postino" ||
			{ echo "postino and Postfix answer differently ($via)" >&2; exit 1; }
		: > "$WORK/t.postfix"
		: > "$WORK/t.postino"
		for ((r = 1; r <= ROUNDS; r++)); do
			if ((r % 2)); then
				bench_run "$THEIRS" "$cf" /dev/null >> "$WORK/t.postfix"
				bench_run "$OURS" "$cf" /dev/null >> "$WORK/t.postino"
			else
				bench_run "$OURS" "$cf" /dev/null >> "$WORK/t.postino"
				bench_run "$THEIRS" "$cf" /dev/null >> "$WORK/t.postfix"
			fi
		done
		for tool in postfix postino; do
			m=$(bench_median 1 < "$WORK/t.$tool")
			b=$(bench_minimum 1 < "$WORK/t.$tool")
			c=$(bench_median 2 < "$WORK/t.$tool")
			printf '%-6s %-8s wall median %.3f s (%.0f lookups/s), best %.3f s (%.0f lookups/s); postmap CPU median %.3f s\n' \
				"$via" "$tool" "$m" "$(echo "$KEYS / $m" | bc -l)" \
				"$b" "$(echo "$KEYS / $b" | bc -l)" "$c"
		done
	done
}

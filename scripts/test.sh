#!/bin/bash
# SPDX-License-Identifier: MIT
# test.sh - run every postino test (the README's test command).
#
# 1. installs the Debian packages the tests need (scripts/lib/deps.sh;
#    skipped when they are all present), including Debian's postfix for
#    the compatibility test, preseeded so no system Postfix is started;
# 2. builds build/ with -Werror and runs its ctest;
# 3. builds build-asan/ with AddressSanitizer + UBSan and runs its ctest
#    (ASAN_OPTIONS=detect_leaks=0: see README.md, "Tests");
# 4. prints both ctest summaries and a total line,
#      total: N passed, N failed, N skipped
#    (read by CI), names the failed and the skipped tests, and exits
#    non-zero if any build or test failed.  A test that skips exits 77
#    (ctest's SKIP_RETURN_CODE) and is counted as skipped, not passed;
#    run as root, where every test can run, any skipped test fails the run.
#
# Environment: POSTINO_BUILD_DIR / POSTINO_ASAN_DIR change the two build
# directories (default build and build-asan under the source tree);
# POSTINO_SKIP_ASAN=1 leaves out step 3 (quick local runs only).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh

BUILD=${POSTINO_BUILD_DIR:-$ROOT/build}
ASAN=${POSTINO_ASAN_DIR:-$ROOT/build-asan}
JOBS=2
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/postino-test.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

echo "== dependencies"
postino_deps test

status=0
summary=()
total_pass=0
total_fail=0
total_skip=0

# skip_reasons JUNIT-XML - print why each skipped test skipped: the lines
# its output ends with from tests/cmd/run_unittest.py's "SKIPPED" on, or
# else its last line.
skip_reasons() {
	python3 - "$1" <<'PY' || true
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    sys.exit("    (no reasons: %s)" % e)
for tc in root.iter("testcase"):
    if tc.find("skipped") is None:
        continue
    lines = (tc.findtext("system-out") or "").rstrip().splitlines()
    marks = [i for i, line in enumerate(lines) if line.startswith("SKIPPED ")]
    why = lines[marks[-1]:] if marks else lines[-1:]
    for line in why[:20]:
        print("    %s: %s" % (tc.get("name"), line.strip()))
PY
}

# run_suite NAME DIR CMAKE-ARGS... - configure, build and ctest one tree.
run_suite() {
	local name=$1 dir=$2 log line pass fail skip
	shift 2
	log=$LOGDIR/$name.log
	echo "== $name: configure ($dir)"
	if ! cmake -S "$ROOT" -B "$dir" "$@"; then
		summary+=("$name: configure FAILED")
		status=1
		return
	fi
	echo "== $name: build"
	# -k: one target that does not build should not hide every other
	# result; the run fails anyway.
	if ! cmake --build "$dir" -j"$JOBS" -- -k; then
		summary+=("$name: build FAILED (the tests below ran on what did build)")
		status=1
	fi
	echo "== $name: ctest"
	set +e
	(cd "$dir" && ctest --output-on-failure --no-tests=error -j"$JOBS" \
	    --output-junit "$LOGDIR/$name.xml") 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" = 0 ] || status=1
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
	# ctest counts a skipped test among the passed ones in that line and
	# lists it under "The following tests did not run:" as
	# "  NN - NAME (Skipped)".
	sed -n '/^The following tests did not run:/,/^$/p' "$log" |
	    grep -E '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' |
	    sed "s/^[[:space:]]*/$name: /" >"$LOGDIR/$name.skipped" || true
	skip=$(wc -l <"$LOGDIR/$name.skipped")
	cat "$LOGDIR/$name.skipped" >>"$LOGDIR/skipped"
	[ "$skip" = 0 ] || skip_reasons "$LOGDIR/$name.xml" >>"$LOGDIR/skipped"
	if [ -n "$line" ]; then
		fail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
		pass=$(( $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line") - fail - skip ))
		total_pass=$((total_pass + pass))
		total_fail=$((total_fail + fail))
		total_skip=$((total_skip + skip))
		summary+=("$name: $line ($pass passed, $fail failed, $skip skipped)")
	else
		summary+=("$name: ctest ran no test or did not finish (exit $rc)")
		status=1
	fi
	sed -n '/^The following tests FAILED:/,$p' "$log" |
	    grep -E '^[[:space:]]+[0-9]+ - ' | sed "s/^[[:space:]]*/$name: /" \
	    >>"$LOGDIR/failed" || true
}

: >"$LOGDIR/skipped"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite normal "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOSTINO_WERROR=ON \
    -DPOSTINO_SANITIZE=OFF
if [ "${POSTINO_SKIP_ASAN:-0}" != 1 ]; then
	# Leak detection is off: the commands exit right after their work and
	# leave freeing to exit(); see README.md.
	export ASAN_OPTIONS=detect_leaks=0:strict_string_checks=1:detect_stack_use_after_return=1
	run_suite asan "$ASAN" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOSTINO_SANITIZE=ON \
	    -DPOSTINO_WERROR=OFF
	unset ASAN_OPTIONS
fi

echo
echo "== summary"
for line in "${summary[@]}"; do
	echo "$line"
done
if [ -s "$LOGDIR/failed" ]; then
	echo "failed tests:"
	cat "$LOGDIR/failed"
fi
if [ -s "$LOGDIR/skipped" ]; then
	echo "skipped tests:"
	cat "$LOGDIR/skipped"
	if [ "$(id -u)" = 0 ]; then
		echo "skipped tests in a run as root: every test can run as root," \
		    "so a skip is a failure"
		status=1
	fi
fi
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
exit "$status"

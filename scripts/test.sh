#!/bin/sh
# Build shmslab and run its whole test suite: `make check` in a normal
# build, then again in a build with AddressSanitizer and UBSan.
# Prints "N passed, N failed, N skipped" last; exits non-zero on any
# failure.  Options:
#   --quick       only the normal build
#   --distcheck   also run `make distcheck`
# SHMSLAB_TEST_SCALE=N (default 1) multiplies the stress tests' work.
set -u
. "$(dirname "$0")/common.sh"

quick=0
distcheck=0
for a in "$@"; do
	case "$a" in
	--quick) quick=1 ;;
	--distcheck) distcheck=1 ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "test.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

ensure_packages

pass=0 fail=0 skipped=0 status=0

# check DIR: run make check there and add up its TAP counts.
check() {
	dir="$top/$1"
	echo "==> make check in $dir"
	if ! make -C "$dir" -j"$(nproc)" check >"$dir/check.out" 2>&1; then
		status=1
		grep -E '^(FAIL|ERROR|XPASS)' "$dir/check.out" >&2 || true
		for log in $(grep -lE '^(not ok|Bail out)' \
			     "$dir"/tests/*.log 2>/dev/null); do
			echo "---- $log" >&2
			grep -E '^(not ok|Bail out|#)' "$log" | head -40 >&2
		done
	fi
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' \
		"$dir/check.out" | sed 's/^/    /'
	p=$(sed -n 's/^# PASS: *//p' "$dir/check.out" | tail -n 1)
	s=$(sed -n 's/^# SKIP: *//p' "$dir/check.out" | tail -n 1)
	f=$(sed -n 's/^# FAIL: *//p' "$dir/check.out" | tail -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$dir/check.out" | tail -n 1)
	x=$(sed -n 's/^# XPASS: *//p' "$dir/check.out" | tail -n 1)
	if [ -z "$p" ]; then
		echo "make check in $dir produced no test summary" >&2
		tail -30 "$dir/check.out" >&2
		status=1
		fail=$((fail + 1))
		return
	fi
	pass=$((pass + p))
	skipped=$((skipped + ${s:-0}))
	fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0}))
	grep -h 'SKIP' "$dir"/tests/*.log 2>/dev/null | sed 's/^/    skipped: /' | sort -u
}

build build && check build
if [ "$quick" = 0 ]; then
	build build-sanitizers --enable-debug --enable-sanitizers &&
		check build-sanitizers
fi
if [ "$distcheck" = 1 ]; then
	echo "==> make distcheck"
	if make -C "$top/build" distcheck >"$top/build/distcheck.out" 2>&1; then
		echo "    distcheck passed"
	else
		tail -30 "$top/build/distcheck.out" >&2
		status=1
		fail=$((fail + 1))
	fi
fi

[ "$fail" -gt 0 ] && status=1
echo "$pass passed, $fail failed, $skipped skipped"
exit "$status"

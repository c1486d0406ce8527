#!/bin/sh
# test_fuzz.sh - run the libFuzzer targets of tests/fuzz/ (fuzz_frame:
# frame decode plus every request handler; fuzz_scribble: a client
# scribbling on the region between requests and timer ticks) over their
# seed corpora, then for a few seconds of new inputs each.  With
# SHMSLAB_TEST_SCALE >= 10 (make check-long) each runs for 10^7 inputs or
# 30 minutes, whichever comes first.  Any crash, leak, sanitizer report
# or failed check of fuzz_slabd.c fails the case; the input that caused
# it is kept under $FUZZ_ARTIFACTS (default: tests/fuzz/crashes/ in the
# build tree) and named in the diagnostics.
#
# Skipped, saying why, when configure found no clang that links a
# libFuzzer target (FUZZ_STATUS).
. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"

targets="frame scribble"
scale=${SHMSLAB_TEST_SCALE:-1}
if [ "$scale" -ge 10 ]; then
	limits="-runs=10000000 -max_total_time=1800"
else
	limits="-max_total_time=5"
fi
artifacts=${FUZZ_ARTIFACTS:-$TEST_BUILDDIR/tests/fuzz/crashes}
# a UBSan report with the stack that led to it
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS

if [ "${FUZZ_STATUS:-}" != yes ]; then
	for t in $targets; do
		skip "fuzz_$t" "fuzz targets not built: ${FUZZ_STATUS:-unknown (run configure)}"
	done
	done_testing
fi

setup_tmp test_fuzz
mkdir -p "$artifacts" || {
	echo "Bail out! cannot create $artifacts"
	exit 1
}
for t in $targets; do
	bin=$TEST_BUILDDIR/tests/fuzz/fuzz_$t
	seeds=$TEST_SRCDIR/tests/fuzz/corpus-$t
	if [ ! -x "$bin" ]; then
		not_ok "fuzz_$t: $bin was not built"
		continue
	fi
	# new inputs go to a scratch corpus; the committed seeds are read only
	mkdir -p "$tmp/corpus-$t"
	# the daemon's robust-lock waits make a hang at most seconds
	"$bin" $limits -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
	    -artifact_prefix="$artifacts/$t-" "$tmp/corpus-$t" "$seeds" \
	    >"$tmp/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log" |
	    tail -n 1)
	if [ $rc -eq 0 ]; then
		ok "fuzz_$t: ${runs:-?} inputs, no crash"
	else
		not_ok "fuzz_$t: exit $rc after ${runs:-?} inputs"
		grep -E '==fuzz_slabd==|ERROR: |SUMMARY: |runtime error|#[0-9]+ 0x[0-9a-f]+ in [^ ]+ \/|Test unit written' \
		    "$tmp/$t.log" | head -40 | sed 's/^/# /'
	fi
done
done_testing

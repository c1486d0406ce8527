#!/bin/sh
#
# test_named_procs.sh - unrelated processes find each other's named blocks.
#
# Run by make check with SLABD, NAMED (examples/shmslab-named), SLABCTL,
# TEST_BUILDDIR and TEST_SRCDIR.  Every client below is a separate program
# started by this shell: none is the parent or child of another, they
# share nothing but the daemon's socket.  Cases:
#   - one process creates "greeting" and exits; another finds its text;
#     a third finds (not creates) it;
#   - two processes started together count 100000 each into the same
#     named counter: exactly one created it, the total is 200000;
#   - slabctl names (table and --json) lists both with size, node and
#     creator; slabctl status and metrics count them; slabctl check is
#     clean;
#   - a removed name is gone for the next process (exit 1, ENOENT text);
#   - usage errors exit 2; slabd logs no error and exits 0 on SIGTERM.

set -u

: "${SLABD:?SLABD must name the slabd binary}"
: "${NAMED:?NAMED must name the shmslab-named binary}"
: "${SLABCTL:?SLABCTL must name the slabctl binary}"

. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
unset SLABD_SOCKET
setup_tmp test_named_procs

sock=$tmp/slabd.sock
check "slabd -f listens on $sock" start slabd "$sock"
daemon=$pid

run put "$NAMED" -s "$sock" put greeting "hello from A"
check "process A creates 'greeting' and exits" \
	test $rc -eq 0 -a "$(cat "$tmp/put.out")" = "created greeting"
run get "$NAMED" -s "$sock" get greeting
check "process B, started after A exited, reads A's text" \
	test $rc -eq 0 -a "$(cat "$tmp/get.out")" = "hello from A"
run put2 "$NAMED" -s "$sock" put greeting "hello from C"
check "process C finds the name instead of creating it" \
	test $rc -eq 0 -a "$(cat "$tmp/put2.out")" = "found greeting"
run get2 "$NAMED" -s "$sock" get greeting
check "and D reads what C wrote into the same block" \
	test $rc -eq 0 -a "$(cat "$tmp/get2.out")" = "hello from C"

# two counters at once, each a separate program
"$NAMED" -s "$sock" add counter 100000 >"$tmp/add1.out" 2>&1 </dev/null &
a1=$!
"$NAMED" -s "$sock" add counter 100000 >"$tmp/add2.out" 2>&1 </dev/null &
a2=$!
pids="$pids $a1 $a2"
reap $a1 "add 1 did not finish"
rc1=$rc
reap $a2 "add 2 did not finish"
rc2=$rc
created=$(cat "$tmp/add1.out" "$tmp/add2.out" | grep -c "^created counter")
found=$(cat "$tmp/add1.out" "$tmp/add2.out" | grep -c "^found counter")
check "two processes racing to create 'counter': one created, one found" \
	test $rc1 -eq 0 -a $rc2 -eq 0 -a "$created" = 1 -a "$found" = 1
run total "$NAMED" -s "$sock" add counter 0
check "both counted into the same word: 200000" \
	test $rc -eq 0 -a "$(cat "$tmp/total.out")" = "found counter: counter 200000"
[ $rc -eq 0 ] || diag "$tmp/total.out" "total: "

run names "$SLABCTL" -s "$sock" names
check "slabctl names lists greeting and counter" \
	eval 'test $rc -eq 0 && grep -q "^greeting  *4K  *4K  *[0-9]  *0x[0-9a-f]*  *[0-9]*  *$(id -u) " \
		"$tmp/names.out" && grep -q "^counter " "$tmp/names.out"'
[ $rc -eq 0 ] || diag "$tmp/names.err" "names: "
diag "$tmp/names.out" "names: "
run namesj "$SLABCTL" -s "$sock" names --json
check "slabctl names --json gives name, size and the creator's uid" \
	eval 'test $rc -eq 0 && has "$tmp/namesj.out" "\"name\": \"greeting\"" &&
		has "$tmp/namesj.out" "\"size\": 4096" &&
		has "$tmp/namesj.out" "\"uid\": $(id -u)"'
[ $rc -eq 0 ] || diag "$tmp/namesj.out" "json: "
run status "$SLABCTL" -s "$sock" status
check "slabctl status counts 2 named objects" \
	eval 'test $rc -eq 0 && grep -q "named objects: *2$" "$tmp/status.out"'
run metrics "$SLABCTL" -s "$sock" metrics
check "slabctl metrics: shmslab_named_objects 2 and their 8 KiB" \
	eval 'test $rc -eq 0 && has "$tmp/metrics.out" "shmslab_named_objects 2" &&
		has "$tmp/metrics.out" "shmslab_named_bytes 8192"'
run check "$SLABCTL" -s "$sock" check
check "slabctl check is clean with named blocks in the pool" test $rc -eq 0
[ $rc -eq 0 ] && : || diag "$tmp/check.out" "check: "

run rm "$NAMED" -s "$sock" rm greeting
check "a process removes 'greeting'" \
	test $rc -eq 0 -a "$(cat "$tmp/rm.out")" = "removed greeting"
run get3 "$NAMED" -s "$sock" get greeting
check "the next process finds no 'greeting' (ENOENT)" \
	eval 'test $rc -eq 1 && has "$tmp/get3.err" "No such file or directory"'
run rm2 "$NAMED" -s "$sock" rm greeting
check "removing it again fails (ENOENT)" test $rc -eq 1
run bad "$NAMED" -s "$sock" put "bad name" x
check "a bad name fails with EINVAL" \
	eval 'test $rc -eq 1 && has "$tmp/bad.err" "Invalid argument"'
run usage "$NAMED" -s "$sock" put onlyname
check "a usage error exits 2" test $rc -eq 2
run usage2 "$SLABCTL" -s "$sock" names extra
check "slabctl names with an argument exits 2" test $rc -eq 2

stop $daemon
check "slabd exits 0 on SIGTERM" test $rc -eq 0
check "slabd logged no error" eval '! grep -qi "error" "$tmp/slabd.err"'
done_testing

#!/bin/sh
#
# test_examples.sh - run examples/shmslab-pipeline and shmslab-prefork
# against a real slabd.
#
# Run by make check with SLABD, PIPELINE and PREFORK (the built programs),
# TEST_BUILDDIR and TEST_SRCDIR.  The daemon runs in the foreground on a
# socket in a private temporary directory, with --hugepages=never -m 16M;
# a trap stops it and removes the directory, also when a case fails or the
# script is interrupted.  Prints TAP, plan last; exits 1 if any case
# failed.  Each example checks itself; this script reads what they print
# and checks that it adds up:
#
#   - pipeline (50000 x SHMSLAB_TEST_SCALE messages): exits 0 with nothing
#     on stderr; the consumer is another process that finds the ring at the
#     offset the producer printed; every message sent is received intact;
#     per class, sent == received and the objects in use end where they
#     began; every class from kmalloc-16 to kmalloc-4k got messages; the
#     header cache is destroyed; it also finds the daemon by $SLABD_SOCKET;
#   - prefork (4 workers, 20000 x SHMSLAB_TEST_SCALE requests each): exits
#     0; every worker created and looked up sessions with none damaged, and
#     workers deleted others' sessions; the workers' lines add up to the table the parent
#     found; with -k, worker 0 dies holding a lock and the lock is
#     repaired;
#   - -h, a bad option, bad numbers, an extra argument, a socket nobody
#     serves, for both;
#   - the daemon logs no error and exits 0 on SIGTERM.

set -u

: "${SLABD:?SLABD must name the slabd binary}"
: "${PIPELINE:?PIPELINE must name the shmslab-pipeline binary}"
: "${PREFORK:?PREFORK must name the shmslab-prefork binary}"

. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
unset SLABD_SOCKET
setup_tmp test_examples

# passed NAME DESCRIPTION: the example run as NAME exited 0, said all its
# checks passed and wrote nothing on stderr.
passed() {
	if [ $rc -eq 0 ] && has "$tmp/$1.out" "all checks passed" &&
	    [ ! -s "$tmp/$1.err" ]; then
		ok "$2"
	else
		not_ok "$2"
		echo "# exit $rc"
		diag "$tmp/$1.out" "stdout: "
		diag "$tmp/$1.err" "stderr: "
	fi
}

sock=$tmp/slabd.sock
check "slabd -f listens on $sock" start slabd "$sock"
daemon=$pid

scale=${SHMSLAB_TEST_SCALE:-1}
case $scale in ''|*[!0-9]*|0) scale=1 ;; esac

# ---------------------------------------------------------------- pipeline

count=$((50000 * scale))
run pipe "$PIPELINE" -s "$sock" -n "$count"
out=$tmp/pipe.out
passed pipe "pipeline -n $count: exit 0, all checks passed, nothing on stderr"

#   producer P: started consumer C: shmslab-pipeline -C 0xOFF
#   consumer C: mapped the region at 0x...; the ring is at offset 0xOFF
prod=$(sed -n 's/^producer \([0-9]*\): started consumer .*/\1/p' "$out")
cons=$(sed -n 's/^producer [0-9]*: started consumer \([0-9]*\): .*/\1/p' "$out")
poff=$(sed -n 's/^producer .* -C \(0x[0-9a-f]*\)$/\1/p' "$out")
coff=$(sed -n 's/^consumer [0-9]*: mapped .* ring is at offset \(0x[0-9a-f]*\)$/\1/p' "$out")
if [ -n "$prod" ] && [ -n "$cons" ] && [ "$prod" != "$cons" ] &&
    [ -n "$poff" ] && [ "$poff" = "$coff" ] &&
    grep -q "^consumer $cons: mapped" "$out"; then
	ok "the consumer (pid $cons) is another process and finds the ring at $poff"
else
	not_ok "the consumer is another process and finds the ring at the producer's offset"
	echo "# producer '$prod' consumer '$cons' offsets '$poff' '$coff'"
fi

if grep -q "^producer $prod: sent $count messages, " "$out" &&
    grep -q "^consumer $cons: received $count messages, .*every one intact and in order; freed each" "$out" &&
    has "$out" "check: all $count messages arrived intact and in order: yes"; then
	ok "all $count messages sent arrive intact and in order and are freed"
else
	not_ok "all $count messages sent arrive intact and in order and are freed"
	grep -e '^producer' -e '^consumer' -e '^check' "$out" | sed 's/^/# /'
fi

#   kmalloc-16  SENT  RECEIVED   BEFORE -> AFTER
classes=$(awk '$1 ~ /^kmalloc-/ && $2 == $3 && $2 > 0 && $4 == $6 { n++ }
    END { print n + 0 }' "$out")
total=$(awk '$1 ~ /^kmalloc-/ { s += $2; r += $3 } END { print s + 0, r + 0 }' "$out")
if [ "$classes" -eq 17 ] && [ "$total" = "$count $count" ]; then
	ok "17 classes, kmalloc-16 to kmalloc-4k: each got messages, sent == received, in use back where it began"
else
	not_ok "17 classes, kmalloc-16 to kmalloc-4k: each got messages, sent == received, in use back where it began"
	grep '^  kmalloc-' "$out" | sed 's/^/# /'
fi

if has "$out" 'check: no header left: slab_cache_destroy("pipeline-hdr") succeeds'; then
	ok "pipeline destroys its header cache: no header left"
else
	not_ok "pipeline destroys its header cache: no header left"
fi

SLABD_SOCKET=$sock run pipeenv "$PIPELINE" -n 1000
if [ $rc -eq 0 ] && has "$tmp/pipeenv.out" "connected to slabd at $sock" &&
    has "$tmp/pipeenv.out" "all checks passed"; then
	ok "pipeline without -s finds the daemon by \$SLABD_SOCKET"
else
	not_ok "pipeline without -s finds the daemon by \$SLABD_SOCKET"
	echo "# exit $rc"
	diag "$tmp/pipeenv.err" "stderr: "
fi

# ---------------------------------------------------------------- prefork

requests=$((20000 * scale))
run fork "$PREFORK" -s "$sock" -n "$requests"
out=$tmp/fork.out
passed fork "prefork -n $requests: exit 0, all checks passed, nothing on stderr"

#   worker W (pid P): created C, looked up L (found F), deleted D of
#   others' (G already gone), refused R (table full), X damaged, ...
# Which worker deletes how many of the others' sessions depends on how the
# scheduler interleaves them: only the total must be positive.
workers=$(awk '/^worker [0-9]+ \(pid [0-9]+\): created / &&
    $6 + 0 > 0 && $9 + 0 > 0 && $23 + 0 == 0 { n++; d += $13 }
    END { print (d > 0 ? n : 0) }' "$out")
if [ "$workers" -eq 4 ]; then
	ok "4 workers each created and looked up sessions, deleted others', none damaged"
else
	not_ok "4 workers each created and looked up sessions, deleted others', none damaged"
	grep '^worker' "$out" | sed 's/^/# /'
fi

# The workers' own counts against what the parent found in the table.
sum=$(awk '/^worker [0-9]+ \(pid [0-9]+\): created / {
    c += $6 + 0; d += $13 + 0 } END { print c + 0, d + 0, c - d }' "$out")
set -- $sum
if has "$out" "check: $1 created - $2 deleted = $3; the table held $3: yes" &&
    has "$out" "check: every session in the table reachable, intact, listed once: yes" &&
    has "$out" "check: freed the $3 sessions left; slab_cache_destroy(\"prefork-session\") succeeds"; then
	ok "the workers' counts add up: $1 created - $2 deleted = $3 sessions in the table, all freed"
else
	not_ok "the workers' counts add up to the sessions in the table"
	echo "# workers: $sum"
	grep '^check' "$out" | sed 's/^/# /'
fi

run forkk "$PREFORK" -s "$sock" -n "$requests" -k
passed forkk "prefork -k: exit 0, all checks passed, nothing on stderr"
if grep -q '^worker 0 (pid [0-9]*): killed holding a bucket lock' "$tmp/forkk.out" &&
    has "$tmp/forkk.out" "check: the dead worker's lock was repaired: yes"; then
	ok "prefork -k: worker 0 dies holding a lock, the next locker repairs it"
else
	not_ok "prefork -k: worker 0 dies holding a lock, the next locker repairs it"
	grep -e '^worker' -e '^check' "$tmp/forkk.out" | sed 's/^/# /'
fi

# ---------------------------------------------------------------- usage

for prog in "$PIPELINE" "$PREFORK"; do
	name=${prog##*/}
	run help "$prog" -h
	if [ $rc -eq 0 ] && head -n 1 "$tmp/help.out" | grep -q "^usage: $name" &&
	    has "$tmp/help.out" "-s SOCKET" && [ ! -s "$tmp/help.err" ]; then
		ok "$name -h: exit 0, usage on stdout"
	else
		not_ok "$name -h: exit 0, usage on stdout"
		echo "# exit $rc"
		diag "$tmp/help.out" "stdout: "
	fi

	run bogus "$prog" --bogus
	if [ $rc -eq 2 ] && has "$tmp/bogus.err" "usage: $name" &&
	    [ ! -s "$tmp/bogus.out" ]; then
		ok "$name --bogus: exit 2, usage on stderr"
	else
		not_ok "$name --bogus: exit 2, usage on stderr"
		echo "# exit $rc"
		diag "$tmp/bogus.err" "stderr: "
	fi

	run extra "$prog" -s "$sock" extra
	if [ $rc -eq 2 ] && has "$tmp/extra.err" "unexpected argument 'extra'"; then
		ok "$name with an extra argument: exit 2, names it"
	else
		not_ok "$name with an extra argument: exit 2, names it"
		echo "# exit $rc"
		diag "$tmp/extra.err" "stderr: "
	fi

	nosock=$tmp/nonexistent.sock
	run nosock "$prog" -s "$nosock"
	if [ $rc -eq 1 ] &&
	    has "$tmp/nosock.err" "$name: cannot connect to slabd at $nosock: No such file or directory"; then
		ok "$name on a socket that does not exist: exit 1, names the socket and the error"
	else
		not_ok "$name on a socket that does not exist: exit 1, names the socket and the error"
		echo "# exit $rc"
		diag "$tmp/nosock.err" "stderr: "
	fi
done

for bad in "$PIPELINE -n 0" "$PIPELINE -n 12x" "$PREFORK -n 0" \
    "$PREFORK -w 1" "$PREFORK -w 65"; do
	set -- $bad
	opt=$2
	run badn "$@"
	if [ $rc -eq 2 ] && has "$tmp/badn.err" "$opt wants a" &&
	    [ ! -s "$tmp/badn.out" ]; then
		ok "${1##*/} $opt $3: exit 2, says what $opt wants"
	else
		not_ok "${1##*/} $opt $3: exit 2, says what $opt wants"
		echo "# exit $rc"
		diag "$tmp/badn.err" "stderr: "
	fi
done

# ---------------------------------------------------------------- shutdown

if grep -q 'error:\|warning:' "$tmp/slabd.err"; then
	not_ok "the daemon logged no error or warning while serving the examples"
	diag "$tmp/slabd.err" "slabd: "
else
	ok "the daemon logged no error or warning while serving the examples"
fi

stop "$daemon"
if [ $rc -eq 0 ] && [ ! -e "$sock" ]; then
	ok "slabd exits 0 on SIGTERM and removes its socket"
else
	not_ok "slabd exits 0 on SIGTERM and removes its socket"
	echo "# exit $rc"
	diag "$tmp/slabd.err" "slabd: "
fi

done_testing

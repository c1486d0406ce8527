#!/bin/sh
#
# test_demo.sh - run examples/shmslab-demo against a real slabd.
#
# Run by make check with SLABD (the built daemon), DEMO (the built
# shmslab-demo), TEST_BUILDDIR and TEST_SRCDIR.  The daemon runs in the
# foreground on a socket in a private temporary directory, with
# --hugepages=never -m 16M; a trap stops it and removes the directory,
# also when a case fails or the script is interrupted.  Prints TAP, plan
# last; exits 1 if any case failed.
#
#   - the demo exits 0, and the page it shares passes the parent's message
#     to the child and the child's answer back, at the same offset;
#   - the slab part: the cache "demo-msg" of 64-byte messages; a second
#     child's COUNT messages (100000 x SHMSLAB_TEST_SCALE) all arrive
#     intact and are freed by the parent; slab_malloc's size classes; the
#     cache's counters add up to COUNT allocations and COUNT frees, some
#     remote; destroy says EBUSY while a message lives, then succeeds;
#   - -h, a bad option, a bad -n, an extra argument, a socket nobody
#     serves;
#   - the daemon exits 0 on SIGTERM and removes its socket.

set -u

: "${SLABD:?SLABD must name the slabd binary}"
: "${DEMO:?DEMO must name the shmslab-demo binary}"

. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
unset SLABD_SOCKET
setup_tmp test_demo

# ---------------------------------------------------------------- helpers

# The line after the first line of FILE that contains STRING.
line_after() {
	awk -v s="$2" 'found { print; exit } index($0, s) { found = 1 }' "$1"
}

# ---------------------------------------------------------------- the daemon

sock=$tmp/slabd.sock
check "slabd -f listens on $sock" start slabd "$sock"
daemon=$pid

# ---------------------------------------------------------------- the demo

# The README's demo runs the default count; a larger scale asks for more.
scale=${SHMSLAB_TEST_SCALE:-1}
case $scale in ''|*[!0-9]*|0) scale=1 ;; esac
count=$((100000 * scale))
if [ "$scale" -eq 1 ]; then
	run demo "$DEMO" -s "$sock"
else
	run demo "$DEMO" -s "$sock" -n "$count"
fi
out=$tmp/demo.out
if [ $rc -eq 0 ] && has "$out" "Every step worked." &&
    [ ! -s "$tmp/demo.err" ]; then
	ok "the demo exits 0: every step worked, nothing on stderr"
else
	not_ok "the demo exits 0: every step worked, nothing on stderr"
	echo "# exit $rc"
	diag "$out" "stdout: "
	diag "$tmp/demo.err" "stderr: "
fi

if has "$out" "Connected to slabd at $sock."; then
	ok "the demo says which socket it connected to"
else
	not_ok "the demo says which socket it connected to"
fi

# Step 1: the parent's page, its offset and its message.
#   1. The parent allocates one page (...) at offset 0xOFF
#      and writes into it: "Hello from the parent, pid P."
poff=$(sed -n 's/^1\. The parent allocates one page .* at offset \(0x[0-9a-f]*\)$/\1/p' "$out")
pmsg=$(sed -n 's/^   and writes into it: "\(.*\)"$/\1/p' "$out")
ppid_=$(echo "$pmsg" | sed -n 's/^Hello from the parent, pid \([0-9][0-9]*\)\.$/\1/p')
if [ -n "$poff" ] && [ -n "$ppid_" ]; then
	ok "the parent writes \"Hello from the parent, pid $ppid_.\" into a page at $poff"
else
	not_ok "the parent writes \"Hello from the parent, pid P.\" into a page"
	diag "$out" "stdout: "
fi

# Step 2: the child gets the offset through a pipe and reads the message.
#      child C got offset 0xOFF through a pipe; the page there reads:
#        "Hello from the parent, pid P."
coff=$(sed -n 's/^   child [0-9]* got offset \(0x[0-9a-f]*\) through a pipe.*/\1/p' "$out")
cpid=$(sed -n 's/^   child \([0-9]*\) got offset .*/\1/p' "$out")
cread=$(line_after "$out" "the page there reads:")
if [ -n "$coff" ] && [ "$coff" = "$poff" ]; then
	ok "the child gets the parent's offset $poff through the pipe"
else
	not_ok "the child gets the parent's offset through the pipe"
	echo "# parent's offset '$poff', child's '$coff'"
fi
if [ -n "$ppid_" ] &&
    [ "$cread" = "     \"Hello from the parent, pid $ppid_.\"" ]; then
	ok "the child reads the parent's message in the shared page"
else
	not_ok "the child reads the parent's message in the shared page"
	echo "# the child read: '$cread'"
fi

# Step 3: the parent reads the child's answer from the same page.
#   3. The parent waits for the child and reads the page again:
#        "Hello back from the child, pid C."
pread=$(line_after "$out" "3. The parent waits for the child and reads the page again:")
if [ -n "$cpid" ] && [ "$cpid" != "$ppid_" ] &&
    [ "$pread" = "     \"Hello back from the child, pid $cpid.\"" ]; then
	ok "the parent reads the child's answer (child pid $cpid) in the same page"
else
	not_ok "the parent reads the child's answer in the same page"
	echo "# child pid '$cpid', parent pid '$ppid_'; the parent read: '$pread'"
fi

if has "$out" "The page is freed." &&
    has "$out" "and every block is freed again." &&
    grep -q '^   node 0: offset 0x' "$out"; then
	ok "the demo frees its page and a block from each node"
else
	not_ok "the demo frees its page and a block from each node"
fi

# Step 5: the cache.
if has "$out" '5. slab_cache_create() makes the cache "demo-msg" of 64-byte messages.'; then
	ok "the demo creates the cache demo-msg of 64-byte messages"
else
	not_ok "the demo creates the cache demo-msg of 64-byte messages"
fi

# Step 6: a second child sends COUNT messages; the parent checks and frees
# them.
#      child C: COUNT allocations took T ms, X ns each;
#        it filled every message and sent its offset
#      parent: all COUNT messages arrived intact; it freed each one,
c2pid=$(sed -n "s/^   child \([0-9][0-9]*\): $count allocations took [0-9.]* ms, [0-9.]* ns each;\$/\1/p" "$out")
if [ -n "$c2pid" ] && [ "$c2pid" != "$ppid_" ] && [ "$c2pid" != "$cpid" ]; then
	ok "a second child (pid $c2pid) allocates $count messages and says how long they took"
else
	not_ok "a second child allocates $count messages and says how long they took"
	grep '^   child' "$out" | sed 's/^/# /'
fi
if has "$out" "   parent: all $count messages arrived intact; it freed each one," &&
    ! has "$tmp/demo.err" "damaged"; then
	ok "all $count messages arrive intact and the parent frees them"
else
	not_ok "all $count messages arrive intact and the parent frees them"
	diag "$tmp/demo.err" "stderr: "
fi

# Step 7: slab_malloc's size classes, then whole pages.
if has "$out" "   1 -> 8, 100 -> 128, 1000 -> 1024, 5000 -> 8192, 20000 -> 32768 bytes" &&
    has "$out" "given back with slab_free()"; then
	ok "slab_malloc gives 1, 100, 1000, 5000, 20000 bytes 8, 128, 1024, 8192, 32768 usable"
else
	not_ok "slab_malloc gives 1, 100, 1000, 5000, 20000 bytes 8, 128, 1024, 8192, 32768 usable"
	grep -e ' -> ' "$out" | sed 's/^/# /'
fi

# Step 8: the counters.
#      alloc_fast A  alloc_slow B  free_fast C  free_slow D
#      free_remote E  refill_rpc F
#      fast path: P% of allocations, Q% of frees
set -- $(sed -n 's/^   alloc_fast \([0-9]*\)  alloc_slow \([0-9]*\)  free_fast \([0-9]*\)  free_slow \([0-9]*\)$/\1 \2 \3 \4/p' "$out") \
    $(sed -n 's/^   free_remote \([0-9]*\)  refill_rpc \([0-9]*\)$/\1 \2/p' "$out")
if [ $# -eq 6 ] &&
    grep -q '^   fast path: [0-9.]*% of allocations, [0-9.]*% of frees$' "$out"; then
	ok "the demo prints the cache's counters and its fast-path share"
	# Fast-path counts may miss an event when a thread migrates at the
	# wrong instant: allow 1% either way.
	allocs=$(($1 + $2))
	frees=$(($3 + $4))
	slack=$((count / 100))
	if [ $allocs -ge $((count - slack)) ] && [ $allocs -le $((count + slack)) ] &&
	    [ $frees -ge $((count - slack)) ] && [ $frees -le $((count + slack)) ] &&
	    [ "$5" -gt 0 ] && [ "$6" -gt 0 ]; then
		ok "the counters add up: $allocs allocations, $frees frees ($5 remote), $6 refills for $count messages"
	else
		not_ok "the counters add up to $count allocations and frees, some remote, some refills"
		echo "# alloc_fast $1 alloc_slow $2 free_fast $3 free_slow $4 free_remote $5 refill_rpc $6"
	fi
else
	not_ok "the demo prints the cache's counters and its fast-path share"
	sed -n '/^8\./,/^9\./p' "$out" | sed 's/^/# /'
	not_ok "the counters add up to $count allocations and frees"
fi

# Step 9: EBUSY while a message lives, then destroyed.
after=$(line_after "$out" "9. slab_cache_destroy() with a message still allocated fails: EBUSY")
if [ "$after" = "   after slab_cache_free() of it, it succeeds; slab_cache_lookup() says ENOENT" ]; then
	ok "destroy fails with EBUSY while a message lives, then succeeds"
else
	not_ok "destroy fails with EBUSY while a message lives, then succeeds"
	sed -n '/^9\./,$p' "$out" | sed 's/^/# /'
fi

# ---------------------------------------------------------------- usage

run help "$DEMO" -h
if [ $rc -eq 0 ] && head -n 1 "$tmp/help.out" | grep -q '^usage: shmslab-demo' &&
    has "$tmp/help.out" "-s SOCKET" && has "$tmp/help.out" "-n COUNT" &&
    [ ! -s "$tmp/help.err" ]; then
	ok "demo -h: exit 0, usage on stdout"
else
	not_ok "demo -h: exit 0, usage on stdout"
	echo "# exit $rc"
	diag "$tmp/help.out" "stdout: "
	diag "$tmp/help.err" "stderr: "
fi

run bogus "$DEMO" --bogus
if [ $rc -eq 2 ] && has "$tmp/bogus.err" "usage: shmslab-demo" &&
    [ ! -s "$tmp/bogus.out" ]; then
	ok "demo --bogus: exit 2, usage on stderr"
else
	not_ok "demo --bogus: exit 2, usage on stderr"
	echo "# exit $rc"
	diag "$tmp/bogus.out" "stdout: "
	diag "$tmp/bogus.err" "stderr: "
fi

for bad in 0 -5 12x ''; do
	run badn "$DEMO" -s "$sock" -n "$bad"
	if [ $rc -eq 2 ] && has "$tmp/badn.err" "-n wants a count from 1 to" &&
	    has "$tmp/badn.err" "usage: shmslab-demo" && [ ! -s "$tmp/badn.out" ]; then
		ok "demo -n '$bad': exit 2, says what -n wants"
	else
		not_ok "demo -n '$bad': exit 2, says what -n wants"
		echo "# exit $rc"
		diag "$tmp/badn.err" "stderr: "
	fi
done

run extra "$DEMO" -s "$sock" extra
if [ $rc -eq 2 ] && has "$tmp/extra.err" "unexpected argument 'extra'" &&
    [ ! -s "$tmp/extra.out" ]; then
	ok "demo with an extra argument: exit 2, names it"
else
	not_ok "demo with an extra argument: exit 2, names it"
	echo "# exit $rc"
	diag "$tmp/extra.err" "stderr: "
fi

nosock=$tmp/nonexistent.sock
run nosock "$DEMO" -s "$nosock"
if [ $rc -eq 1 ] && has "$tmp/nosock.err" "cannot connect to slabd at $nosock" &&
    has "$tmp/nosock.err" "No such file or directory" &&
    [ ! -e "$nosock" ]; then
	ok "demo on a socket that does not exist: exit 1, names the socket and the error"
else
	not_ok "demo on a socket that does not exist: exit 1, names the socket and the error"
	echo "# exit $rc"
	diag "$tmp/nosock.err" "stderr: "
fi

# ---------------------------------------------------------------- shutdown

if grep -q 'error:\|warning:' "$tmp/slabd.err"; then
	not_ok "the daemon logged no error or warning while serving the demo"
	diag "$tmp/slabd.err" "slabd: "
else
	ok "the daemon logged no error or warning while serving the demo"
fi

stop "$daemon"
if [ $rc -eq 0 ] && [ ! -e "$sock" ] && [ ! -e "$sock.lock" ]; then
	ok "slabd exits 0 on SIGTERM and removes its socket and lock file"
else
	not_ok "slabd exits 0 on SIGTERM and removes its socket and lock file"
	echo "# exit $rc"
	diag "$tmp/slabd.err" "slabd: "
fi

done_testing

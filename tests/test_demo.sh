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
#   - -h, a bad option, an extra argument, a socket nobody serves;
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

run demo "$DEMO" -s "$sock"
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

# ---------------------------------------------------------------- usage

run help "$DEMO" -h
if [ $rc -eq 0 ] && head -n 1 "$tmp/help.out" | grep -q '^usage: shmslab-demo' &&
    has "$tmp/help.out" "-s SOCKET" && [ ! -s "$tmp/help.err" ]; then
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

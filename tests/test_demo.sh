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

n=0
failed=0
pids=
unset SLABD_SOCKET

# Socket paths must stay well under the 108 bytes of sun_path.
tmpbase=${TMPDIR:-/tmp}
[ ${#tmpbase} -le 60 ] || tmpbase=/tmp
tmp=$(mktemp -d "$tmpbase/test_demo.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 1
}

# ---------------------------------------------------------------- helpers

# Is pid a live (not zombie) process?
alive() {
	_st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	_st=${_st##*") "}
	_st=${_st%% *}
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

gone() {
	! alive "$1"
}

# Stop whatever this script started and is still running.
cleanup() {
	for _p in $pids; do
		alive "$_p" && kill -TERM "$_p" 2>/dev/null
	done
	for _p in $pids; do
		_i=0
		while alive "$_p" && [ $_i -lt 100 ]; do
			sleep 0.05
			_i=$((_i + 1))
		done
		alive "$_p" && kill -KILL "$_p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 1' HUP INT PIPE TERM

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# Print a file's lines as TAP diagnostics.
diag() {
	[ -s "$1" ] && sed "s/^/# ${2:-}/" "$1"
	return 0
}

# poll COMMAND...: run COMMAND every 0.05 s until it succeeds, 10 s at most.
poll() {
	_i=0
	while [ $_i -lt 200 ]; do
		"$@" && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

has() {	# has FILE STRING: FILE contains STRING
	grep -qF -e "$2" "$1"
}

# run NAME COMMAND...: run COMMAND to completion, 10 s at most, with
# stdout in $tmp/NAME.out and stderr in $tmp/NAME.err; its exit status
# in $rc (124 if it had to be killed).
run() {
	_name=$1
	shift
	"$@" >"$tmp/$_name.out" 2>"$tmp/$_name.err" </dev/null &
	_pid=$!
	pids="$pids $_pid"
	if poll gone "$_pid"; then
		wait "$_pid"
		rc=$?
	else
		kill -KILL "$_pid" 2>/dev/null
		wait "$_pid"
		rc=124
		echo "# $* did not finish within 10 s"
	fi
}

# The line after the first line of FILE that contains STRING.
line_after() {
	awk -v s="$2" 'found { print; exit } index($0, s) { found = 1 }' "$1"
}

# ---------------------------------------------------------------- the daemon

sock=$tmp/slabd.sock
"$SLABD" -f -s "$sock" --hugepages=never -m 16M \
    >"$tmp/slabd.out" 2>"$tmp/slabd.err" </dev/null &
daemon=$!
pids="$pids $daemon"
ready() {
	gone "$daemon" && return 0
	[ -S "$sock" ] && has "$tmp/slabd.err" "listening on"
}
poll ready
if alive "$daemon" && [ -S "$sock" ]; then
	ok "slabd -f listens on $sock"
else
	not_ok "slabd -f listens on $sock"
	diag "$tmp/slabd.err" "slabd: "
fi

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

kill -TERM "$daemon" 2>/dev/null
if poll gone "$daemon"; then
	wait "$daemon"
	rc=$?
else
	kill -KILL "$daemon" 2>/dev/null
	wait "$daemon"
	rc=124
	echo "# slabd did not exit within 10 s of SIGTERM"
fi
if [ $rc -eq 0 ] && [ ! -e "$sock" ] && [ ! -e "$sock.lock" ]; then
	ok "slabd exits 0 on SIGTERM and removes its socket and lock file"
else
	not_ok "slabd exits 0 on SIGTERM and removes its socket and lock file"
	echo "# exit $rc"
	diag "$tmp/slabd.err" "slabd: "
fi

echo "1..$n"
[ $failed -eq 0 ] || exit 1
exit 0

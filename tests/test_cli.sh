#!/bin/sh
#
# test_cli.sh - slabd's command line, socket handling and life cycle.
#
# Run by make check with SLABD (the built daemon), DEMO (the built
# shmslab-demo, used as a client), TEST_BUILDDIR and TEST_SRCDIR.  Every
# daemon runs on a socket in a private temporary directory, with
# --hugepages=never -m 16M so as not to take huge pages from other tests.
# A trap stops every daemon started here and removes the directory, also
# when a case fails or the script is interrupted.  Prints TAP, plan last;
# exits 1 if any case failed.
#
#   - --help/-h, --version/-V;
#   - usage errors: exit 2, the bad value named, "Try 'slabd --help'";
#   - start-up failures: exit 1 with a message, nothing left behind;
#   - the socket: its mode, its lock file, a second daemon, a stale
#     socket, a file that is not a socket, missing directories, a path
#     too long, $SLABD_SOCKET;
#   - SIGTERM and SIGINT, background mode with --pidfile, --fake-numa, -v.

set -u

: "${SLABD:?SLABD must name the slabd binary}"
: "${DEMO:?DEMO must name the shmslab-demo binary}"
TEST_BUILDDIR=${TEST_BUILDDIR:-$(dirname "$SLABD")}

. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
unset SLABD_SOCKET
setup_tmp test_cli

# ---------------------------------------------------------------- help and version

run help "$SLABD" --help
if [ $rc -eq 0 ] && has "$tmp/help.out" "usage: slabd" &&
    has "$tmp/help.out" "--fake-numa" &&
    grep -i -A 1 -e "--fake-numa" "$tmp/help.out" | grep -qi "testing aid" &&
    [ "$(tail -n 1 "$tmp/help.out")" = "See slabd(8)." ] &&
    [ ! -s "$tmp/help.err" ]; then
	ok "--help: exit 0, usage on stdout, --fake-numa a testing aid, ends with See slabd(8)."
else
	not_ok "--help: exit 0, usage on stdout, --fake-numa a testing aid, ends with See slabd(8)."
	echo "# exit $rc"
	diag "$tmp/help.out" "stdout: "
	diag "$tmp/help.err" "stderr: "
fi

run h "$SLABD" -h
if [ $rc -eq 0 ] && [ -s "$tmp/h.out" ] && cmp -s "$tmp/h.out" "$tmp/help.out" &&
    [ ! -s "$tmp/h.err" ]; then
	ok "-h: exit 0, same usage as --help"
else
	not_ok "-h: exit 0, same usage as --help"
	echo "# exit $rc"
	diag "$tmp/h.out" "stdout: "
	diag "$tmp/h.err" "stderr: "
fi

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' \
    "$TEST_BUILDDIR/config.h" 2>/dev/null)
for opt in --version -V; do
	run version "$SLABD" $opt
	out=$(cat "$tmp/version.out")
	if [ $rc -eq 0 ] && [ -n "$version" ] &&
	    [ "$out" = "slabd (shmslab) $version" ] &&
	    [ ! -s "$tmp/version.err" ]; then
		ok "$opt: exit 0, prints slabd (shmslab) $version"
	else
		not_ok "$opt: exit 0, prints slabd (shmslab) ${version:-VERSION}"
		echo "# exit $rc; config.h version '$version'"
		diag "$tmp/version.out" "stdout: "
		diag "$tmp/version.err" "stderr: "
	fi
done

# ---------------------------------------------------------------- usage errors

# usage_error EXPECTED DESCRIPTION OPTION...: slabd -f on a socket in $tmp
# with OPTION... exits 2 with nothing on stdout, EXPECTED and the hint on
# stderr, and creates no socket.
usage_error() {
	_want=$1
	_desc=$2
	shift 2
	run usage "$SLABD" -f -s "$tmp/usage.sock" --hugepages=never -m 16M "$@"
	if [ $rc -eq 2 ] && has "$tmp/usage.err" "$_want" &&
	    has "$tmp/usage.err" "Try 'slabd --help'" &&
	    [ ! -s "$tmp/usage.out" ] && [ ! -e "$tmp/usage.sock" ] &&
	    [ ! -e "$tmp/usage.sock.lock" ]; then
		ok "usage error, $_desc: exit 2, stderr names $_want"
	else
		not_ok "usage error, $_desc: exit 2, stderr names $_want"
		echo "# slabd $*: exit $rc"
		diag "$tmp/usage.out" "stdout: "
		diag "$tmp/usage.err" "stderr: "
		rm -f "$tmp/usage.sock" "$tmp/usage.sock.lock"
	fi
}

usage_error "'3x'" "size with a bad suffix" -m 3x
usage_error "'1k'" "size below 8M" -m 1k
if has "$tmp/usage.err" "out of range"; then
	ok "-m 1k is reported out of range"
else
	not_ok "-m 1k is reported out of range"
fi
usage_error "'2T'" "size above 1T" -m 2T
usage_error "'0'" "--fake-numa 0" --fake-numa 0
usage_error "'65'" "--fake-numa 65" --fake-numa 65
usage_error "'0'" "--sheaf-capacity 0" --sheaf-capacity 0
usage_error "'63'" "--sheaf-capacity 63" --sheaf-capacity 63
usage_error "'abc'" "--nodes that is no list" --nodes abc
usage_error "'maybe'" "--hugepages maybe" --hugepages maybe
usage_error "'999'" "--socket-mode that is not octal" --socket-mode 999
usage_error "'0x1234'" "--base-address not 2 MiB aligned" --base-address 0x1234
usage_error "'nowhere'" "--log nowhere" --log nowhere
usage_error "'0'" "--max-clients 0" --max-clients 0
usage_error "--no-such-option" "unknown option" --no-such-option
usage_error "'extra'" "extra argument" extra
usage_error "--hugetlbfs" "--hugetlbfs with --hugepages=never" \
    --hugetlbfs /tmp --hugepages=never
usage_error "'no_such_user_xyz'" "--allow-uid of an unknown user" \
    --allow-uid no_such_user_xyz

# ---------------------------------------------------------------- start-up failures

run nodes "$SLABD" -f -s "$tmp/nodes.sock" --hugepages=never -m 16M --nodes 7
if [ $rc -eq 1 ] && has "$tmp/nodes.err" "node 7" &&
    [ ! -e "$tmp/nodes.sock" ] && [ ! -e "$tmp/nodes.sock.lock" ]; then
	ok "--nodes 7: exit 1, the message names node 7"
else
	not_ok "--nodes 7: exit 1, the message names node 7"
	echo "# exit $rc"
	diag "$tmp/nodes.err" "stderr: "
fi

mkdir "$tmp/plain"
run htlb "$SLABD" -f -s "$tmp/htlb.sock" -m 16M --hugetlbfs "$tmp/plain"
if [ $rc -eq 1 ] && [ ! -e "$tmp/htlb.sock" ] &&
    [ ! -e "$tmp/htlb.sock.lock" ] && [ -z "$(ls -A "$tmp/plain")" ]; then
	ok "--hugetlbfs on a directory that is not hugetlbfs: exit 1, nothing left behind"
else
	not_ok "--hugetlbfs on a directory that is not hugetlbfs: exit 1, nothing left behind"
	echo "# exit $rc"
	ls -lA "$tmp" "$tmp/plain" | sed 's/^/# /'
fi
if grep -q . "$tmp/htlb.err" &&
    { has "$tmp/htlb.err" "$tmp/plain" || has "$tmp/htlb.err" hugetlbfs; }; then
	ok "--hugetlbfs on a directory that is not hugetlbfs: the message names the directory or hugetlbfs"
else
	not_ok "--hugetlbfs on a directory that is not hugetlbfs: the message names the directory or hugetlbfs"
	diag "$tmp/htlb.err" "stderr: "
fi

# ---------------------------------------------------------------- the socket

sock=$tmp/slabd.sock
if start main "$sock"; then
	main=$pid
	check "foreground start: socket created, daemon alive" \
	    is_slabd "$main"
	mode=$(stat -c %a "$sock" 2>/dev/null)
	if [ "$mode" = 660 ]; then
		ok "socket mode is 0660 by default"
	else
		not_ok "socket mode is 0660 by default"
		echo "# mode: '$mode'"
	fi
	lockpid=$(cat "$sock.lock" 2>/dev/null)
	if [ -f "$sock.lock" ] && [ "$lockpid" = "$main" ]; then
		ok "lock file $sock.lock beside the socket holds the daemon's pid"
	else
		not_ok "lock file $sock.lock beside the socket holds the daemon's pid"
		echo "# lock file contents: '$lockpid', daemon pid $main"
	fi

	# a second daemon on the same socket
	run second "$SLABD" -f -s "$sock" --hugepages=never -m 16M
	if [ $rc -eq 1 ] &&
	    { has "$tmp/second.err" "already running" ||
	      has "$tmp/second.err" "already serving"; } &&
	    has "$tmp/second.err" "$sock"; then
		ok "a second slabd on the same socket: exit 1, already running"
	else
		not_ok "a second slabd on the same socket: exit 1, already running"
		echo "# exit $rc"
		diag "$tmp/second.err" "stderr: "
	fi
	if has "$tmp/second.err" "pid $main"; then
		ok "the second slabd names the running daemon's pid"
	else
		not_ok "the second slabd names the running daemon's pid"
	fi
	run demo_after "$DEMO" -s "$sock"
	if is_slabd "$main" && [ -S "$sock" ] &&
	    [ "$(cat "$sock.lock" 2>/dev/null)" = "$main" ] && [ $rc -eq 0 ]; then
		ok "the first daemon keeps serving: alive, socket and lock file kept, a client works"
	else
		not_ok "the first daemon keeps serving: alive, socket and lock file kept, a client works"
		echo "# demo exit $rc"
		diag "$tmp/demo_after.err" "demo: "
		ls -lA "$tmp" | sed 's/^/# /'
	fi

	stop "$main"
	if [ $rc -eq 0 ] && has "$tmp/main.err" "shutting down"; then
		ok "SIGTERM: the daemon exits 0"
	else
		not_ok "SIGTERM: the daemon exits 0"
		echo "# exit $rc"
		diag "$tmp/main.err" "slabd: "
	fi
	if [ ! -e "$sock" ] && [ ! -e "$sock.lock" ]; then
		ok "SIGTERM: socket and lock file removed"
	else
		not_ok "SIGTERM: socket and lock file removed"
		ls -lA "$tmp" | sed 's/^/# /'
	fi
else
	not_ok "foreground start: socket created, daemon alive"
fi

# --socket-mode, and SIGINT stops the daemon as SIGTERM does
if start mode "$tmp/mode.sock" --socket-mode 0600; then
	mode=$(stat -c %a "$tmp/mode.sock" 2>/dev/null)
	if [ "$mode" = 600 ]; then
		ok "--socket-mode 0600 gives mode 600"
	else
		not_ok "--socket-mode 0600 gives mode 600"
		echo "# mode: '$mode'"
	fi
	stop "$pid" INT
	if [ $rc -eq 0 ] && [ ! -e "$tmp/mode.sock" ] &&
	    [ ! -e "$tmp/mode.sock.lock" ]; then
		ok "SIGINT: exit 0, socket and lock file removed"
	else
		not_ok "SIGINT: exit 0, socket and lock file removed"
		echo "# exit $rc"
		diag "$tmp/mode.err" "slabd: "
	fi
else
	not_ok "--socket-mode 0600 gives mode 600"
fi

# a stale socket: its daemon was killed with SIGKILL
stale=$tmp/stale.sock
if start stale1 "$stale"; then
	kill -KILL "$pid"
	poll gone "$pid"
	wait "$pid"
	if [ -S "$stale" ]; then
		ok "after kill -9 the socket file remains"
	else
		not_ok "after kill -9 the socket file remains"
	fi
	if start stale2 "$stale"; then
		if is_slabd "$pid" && [ -S "$stale" ] &&
		    has "$tmp/stale2.err" "removed stale socket"; then
			ok "a new daemon on a stale socket removes it and starts"
		else
			not_ok "a new daemon on a stale socket removes it and starts"
			diag "$tmp/stale2.err" "slabd: "
		fi
		run demo_stale "$DEMO" -s "$stale"
		check "a client works on the re-created socket" [ $rc -eq 0 ]
		stop "$pid"
		check "the daemon on the re-created socket exits 0 on SIGTERM" \
		    test $rc -eq 0 -a ! -e "$stale"
	else
		not_ok "a new daemon on a stale socket removes it and starts"
	fi
else
	not_ok "after kill -9 the socket file remains"
fi

# a regular file where the socket should be
printf 'precious data\n' >"$tmp/file.sock"
run file "$SLABD" -f -s "$tmp/file.sock" --hugepages=never -m 16M
if [ $rc -eq 1 ] && has "$tmp/file.err" "is not a socket" &&
    has "$tmp/file.err" "$tmp/file.sock"; then
	ok "a regular file at the socket path: exit 1, is not a socket"
else
	not_ok "a regular file at the socket path: exit 1, is not a socket"
	echo "# exit $rc"
	diag "$tmp/file.err" "stderr: "
fi
if [ -f "$tmp/file.sock" ] &&
    [ "$(cat "$tmp/file.sock")" = "precious data" ] &&
    [ ! -e "$tmp/file.sock.lock" ]; then
	ok "the regular file is kept with its content, no lock file left"
else
	not_ok "the regular file is kept with its content, no lock file left"
	ls -lA "$tmp" | sed 's/^/# /'
fi

# directories that do not exist yet
deep=$tmp/a/b/slabd.sock
if start deep "$deep" && is_slabd "$pid" && [ -S "$deep" ]; then
	ok "missing directories of the socket path are created"
	stop "$pid"
	check "the daemon in created directories exits 0, socket removed" \
	    test $rc -eq 0 -a ! -e "$deep"
else
	not_ok "missing directories of the socket path are created"
	ls -lAR "$tmp/a" 2>&1 | sed 's/^/# /'
fi

# a path too long for sun_path
long=$tmp/$(printf '%0120d' 0 | tr 0 x).sock
run long "$SLABD" -f -s "$long" --hugepages=never -m 16M
if [ $rc -eq 1 ] && has "$tmp/long.err" "too long" &&
    [ ! -e "$long" ] && [ ! -e "$long.lock" ]; then
	ok "a socket path of ${#long} bytes: exit 1, too long"
else
	not_ok "a socket path of ${#long} bytes: exit 1, too long"
	echo "# exit $rc"
	diag "$tmp/long.err" "stderr: "
fi

# $SLABD_SOCKET, and -s over it
SLABD_SOCKET=$tmp/env.sock
export SLABD_SOCKET
omit_s=1
if start env "$tmp/env.sock" && is_slabd "$pid" &&
    has "$tmp/env.err" "listening on $tmp/env.sock"; then
	ok "without -s, slabd listens on \$SLABD_SOCKET"
else
	not_ok "without -s, slabd listens on \$SLABD_SOCKET"
	diag "$tmp/env.err" "slabd: "
fi
omit_s=0
stop "$pid"
check "the \$SLABD_SOCKET daemon exits 0, its socket removed" \
    test $rc -eq 0 -a ! -e "$tmp/env.sock"
SLABD_SOCKET=$tmp/unused.sock
if start envs "$tmp/envs.sock" && [ ! -e "$tmp/unused.sock" ]; then
	ok "-s wins over \$SLABD_SOCKET"
else
	not_ok "-s wins over \$SLABD_SOCKET"
fi
stop "$pid"
unset SLABD_SOCKET

# ---------------------------------------------------------------- background mode

bsock=$tmp/bg.sock
bpid=$tmp/bg.pid
run bg "$SLABD" -s "$bsock" --pidfile "$bpid" --hugepages=never -m 16M
if [ $rc -eq 0 ] && [ -S "$bsock" ]; then
	ok "background start: exit 0 with the socket already there"
else
	not_ok "background start: exit 0 with the socket already there"
	echo "# exit $rc"
	diag "$tmp/bg.err" "stderr: "
fi
if [ ! -s "$bpid" ]; then
	# slabd(8)'s example reads it right away: a race in slabd
	echo "# the pid file was not written yet when slabd had returned"
fi
if [ $rc -eq 0 ]; then
	run demo_bg "$DEMO" -s "$bsock"
	check "a client works as soon as the background slabd has returned" \
	    [ $rc -eq 0 ]
	poll test -s "$bpid"
	dpid=$(cat "$bpid" 2>/dev/null)
	case $dpid in ''|*[!0-9]*) dpid=0 ;; esac
	if [ "$dpid" -gt 0 ] && is_slabd "$dpid" && [ -S "$bsock" ] &&
	    [ "$(cat "$bsock.lock" 2>/dev/null)" = "$dpid" ]; then
		ok "the pid file names the live daemon that holds the socket"
	else
		not_ok "the pid file names the live daemon that holds the socket"
		echo "# pid file: '$(cat "$bpid" 2>/dev/null)'"
		echo "# lock file: '$(cat "$bsock.lock" 2>/dev/null)'"
	fi
	if [ "$dpid" -gt 0 ] && is_slabd "$dpid"; then
		kill -TERM "$dpid"
		if poll gone "$dpid" && [ ! -e "$bsock" ] &&
		    [ ! -e "$bsock.lock" ] && [ ! -e "$bpid" ]; then
			ok "SIGTERM to the background daemon removes socket, lock and pid file"
		else
			not_ok "SIGTERM to the background daemon removes socket, lock and pid file"
			ls -lA "$tmp" | sed 's/^/# /'
		fi
	else
		not_ok "SIGTERM to the background daemon removes socket, lock and pid file"
	fi
fi

# ---------------------------------------------------------------- --fake-numa

if start fake "$tmp/fake.sock" --fake-numa 3; then
	if grep -q "3 logical.*testing aid" "$tmp/fake.err"; then
		ok "--fake-numa 3: the log says 3 logical nodes, a testing aid"
	else
		not_ok "--fake-numa 3: the log says 3 logical nodes, a testing aid"
		diag "$tmp/fake.err" "slabd: "
	fi
	run demo_fake "$DEMO" -s "$tmp/fake.sock"
	if [ $rc -eq 0 ] && has "$tmp/demo_fake.out" "NUMA nodes in the pool: 3" &&
	    has "$tmp/demo_fake.out" "node 2: offset"; then
		ok "--fake-numa 3: a client sees 3 nodes and allocates on each"
	else
		not_ok "--fake-numa 3: a client sees 3 nodes and allocates on each"
		echo "# demo exit $rc"
		diag "$tmp/demo_fake.out" "demo: "
		diag "$tmp/demo_fake.err" "demo: "
	fi
	stop "$pid"
	check "--fake-numa 3: the daemon exits 0" [ $rc -eq 0 ]
else
	not_ok "--fake-numa 3: the log says 3 logical nodes, a testing aid"
fi

# ---------------------------------------------------------------- -v

# verbose V NAME: a daemon (with -v if V is 1) serves the demo; its log
# in $tmp/NAME.err.  Returns 1 if anything failed.
verbose() {
	if [ "$1" = 1 ]; then
		start "$2" "$tmp/$2.sock" -v || return 1
	else
		start "$2" "$tmp/$2.sock" || return 1
	fi
	run "$2-demo" "$DEMO" -s "$tmp/$2.sock"
	_demo=$rc
	stop "$pid"
	[ $_demo -eq 0 ] && [ $rc -eq 0 ] && has "$tmp/$2.err" "connected"
}

if verbose 1 verb && grep -q "debug:" "$tmp/verb.err"; then
	ok "-v: debug lines in the log"
else
	not_ok "-v: debug lines in the log"
	diag "$tmp/verb.err" "slabd: "
fi
if verbose 0 quiet && ! grep -q "debug:" "$tmp/quiet.err"; then
	ok "without -v: no debug lines in the log"
else
	not_ok "without -v: no debug lines in the log"
	diag "$tmp/quiet.err" "slabd: "
fi

done_testing

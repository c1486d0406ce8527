# tap.sh - helpers shared by the shell tests, sourced (not run) by each as
#
#	. "${TEST_SRCDIR:?TEST_SRCDIR must name the source tree}/tests/tap.sh"
#
# TAP: ok, not_ok, skip, check, diag and done_testing, which prints the
# plan last and exits 1 if any case failed.
#
# Daemons (for tests that start slabd): setup_tmp makes a private temporary
# directory $tmp and traps EXIT and the usual signals to stop every daemon
# started here and remove the directory, also when a case fails or the
# script is interrupted.  run and start track every process they fork in
# $pids; start and stop need SLABD to name the slabd binary.
#
# POSIX sh.  Names of the helpers' own variables start with _.

n=0
failed=0
pids=
omit_s=0
_running=

# ---------------------------------------------------------------- TAP

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# skip DESCRIPTION REASON: a case that cannot run here.
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# check DESCRIPTION COMMAND...: one case, passed when COMMAND succeeds.
check() {
	_d=$1
	shift
	if "$@"; then
		ok "$_d"
	else
		not_ok "$_d"
	fi
}

# diag FILE [PREFIX]: print a file's lines as TAP diagnostics.
diag() {
	[ -s "$1" ] && sed "s/^/# ${2:-}/" "$1"
	return 0
}

# The plan, last; exit 1 if any case failed.
done_testing() {
	echo "1..$n"
	[ $failed -eq 0 ] || exit 1
	exit 0
}

# ---------------------------------------------------------------- utilities

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

# Is pid a live slabd (its executable, or what a libtool wrapper runs)?
is_slabd() {
	alive "$1" || return 1
	case $(readlink "/proc/$1/exe" 2>/dev/null) in
	*/slabd|*/lt-slabd) return 0 ;;
	esac
	return 1
}

# ---------------------------------------------------------------- the temporary directory

# setup_tmp NAME: a private directory $tmp, removed on exit with every
# daemon started here stopped.  Bails out if it cannot be made.
setup_tmp() {
	# Socket paths must stay well under the 108 bytes of sun_path.
	_base=${TMPDIR:-/tmp}
	[ ${#_base} -le 60 ] || _base=/tmp
	tmp=$(mktemp -d "$_base/$1.XXXXXX") || {
		echo "Bail out! cannot create a temporary directory"
		exit 1
	}
	trap cleanup EXIT
	trap 'cleanup; trap - EXIT; exit 1' HUP INT PIPE TERM
}

# A process cleanup must stop: a live slabd, or the command run was
# waiting for when the script was interrupted (not reaped yet, so its pid
# cannot have been reused).
_ours() {
	is_slabd "$1" || { [ "$1" = "$_running" ] && alive "$1"; }
}

# Stop every daemon this script started: the ones it forked, and the
# detached ones named by a pid or lock file in $tmp.  Then remove $tmp.
cleanup() {
	_all=$pids
	if [ -d "${tmp:-}" ]; then
		for _f in $(find "$tmp" \( -name '*.lock' -o -name '*.pid' \) \
		    -type f 2>/dev/null); do
			_p=$(head -n 1 "$_f" 2>/dev/null)
			case $_p in
			''|*[!0-9]*) ;;
			*) _all="$_all $_p" ;;
			esac
		done
	fi
	_left=
	for _p in $_all; do
		if _ours "$_p"; then
			kill -TERM "$_p" 2>/dev/null
			_left="$_left $_p"
		fi
	done
	for _p in $_left; do
		_i=0
		while alive "$_p" && [ $_i -lt 100 ]; do
			sleep 0.05
			_i=$((_i + 1))
		done
		_ours "$_p" && kill -KILL "$_p" 2>/dev/null
	done
	[ -z "${tmp:-}" ] || rm -rf "$tmp"
}

# ---------------------------------------------------------------- processes

# reap PID MESSAGE: wait for PID, forked here, to exit; its exit status in
# $rc.  If it has not exited within 10 s, kill it, print "# MESSAGE" and
# set $rc to 124.
reap() {
	if poll gone "$1"; then
		wait "$1"
		rc=$?
	else
		kill -KILL "$1" 2>/dev/null
		wait "$1"
		rc=124
		echo "# $2"
	fi
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
	_running=$_pid
	reap "$_pid" "$* did not finish within 10 s"
	_running=
}

# start NAME SOCKET [OPTION...]: start slabd -f -s SOCKET (without -s if
# $omit_s is 1) and wait until it listens on SOCKET.  Its pid in $pid, its
# stderr in $tmp/NAME.err.  Returns 1 if it did not come up.
start() {
	_name=$1
	_sock=$2
	shift 2
	if [ "$omit_s" = 1 ]; then
		"$SLABD" -f --hugepages=never -m 16M "$@" \
		    >"$tmp/$_name.out" 2>"$tmp/$_name.err" </dev/null &
	else
		"$SLABD" -f -s "$_sock" --hugepages=never -m 16M "$@" \
		    >"$tmp/$_name.out" 2>"$tmp/$_name.err" </dev/null &
	fi
	pid=$!
	pids="$pids $pid"
	_ready_sock=$_sock
	_ready_log=$tmp/$_name.err
	_ready_pid=$pid
	if poll ready && alive "$pid"; then
		return 0
	fi
	echo "# slabd $* on $_sock did not start listening within 10 s"
	diag "$_ready_log" "slabd: "
	return 1
}

# The daemon of the last start: gone (waiting is pointless), or its socket
# is there and it has logged that it listens.
ready() {
	gone "$_ready_pid" && return 0
	[ -S "$_ready_sock" ] && has "$_ready_log" "listening on"
}

# stop PID [SIGNAL]: signal a daemon forked here, wait for it to exit; its
# exit status in $rc (124 if it did not exit within 10 s and was killed).
stop() {
	kill "-${2:-TERM}" "$1" 2>/dev/null
	reap "$1" "slabd (pid $1) did not exit within 10 s of SIG${2:-TERM}"
}

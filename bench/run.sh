#!/bin/sh
# bench/run.sh - run slabbench against a private slabd.
#
# Starts slabd in the foreground on a socket of its own (a 1 GiB region,
# huge pages when the machine has them reserved), waits until it listens,
# runs slabbench against it with the arguments given here, and stops the
# daemon; a trap stops it too when slabbench fails or the script is
# interrupted.  Run it from the build directory after `make bench`:
#
#	bench/run.sh [slabbench options...]	e.g. bench/run.sh -s 128
#
# Environment: SLABD (the daemon, default ./slabd), SLABBENCH (default
# ./bench/slabbench), SLABD_SIZE (region size, default 1G), SLABD_ARGS
# (more daemon options, e.g. --hugepages=never).
# Exit status: slabbench's, or 1 when the daemon did not start or failed.
set -eu

slabd=${SLABD:-./slabd}
bench=${SLABBENCH:-./bench/slabbench}
size=${SLABD_SIZE:-1G}
sock=/tmp/slabbench.$$.sock
log=/tmp/slabbench.$$.log
pid=""
bpid=""

for f in "$slabd" "$bench"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f not found: run it from the build directory" \
			"after 'make bench', or set SLABD and SLABBENCH" >&2
		exit 1
	fi
done

# shellcheck disable=SC2317 # run by the trap
cleanup() {
	if [ -n "$bpid" ] && kill -0 "$bpid" 2>/dev/null; then
		kill -TERM "$bpid" 2>/dev/null || true
		wait "$bpid" 2>/dev/null || true
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$sock" "$sock.lock" "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# shellcheck disable=SC2086 # SLABD_ARGS is a list of options
"$slabd" -f -s "$sock" -m "$size" --hugepages=try ${SLABD_ARGS:-} \
	2>"$log" &
pid=$!

# ready when it says it listens (the socket file exists a little earlier)
i=0
while ! grep -q "listening on" "$log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: slabd did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.05
done
echo "slabd (pid $pid): $slabd -f -s $sock -m $size --hugepages=try" \
	"${SLABD_ARGS:-}"
sed 's/^/  slabd: /' "$log"
echo

# in the background, so that a signal to this script runs its trap at once
status=0
"$bench" -S "$sock" "$@" &
bpid=$!
wait "$bpid" || status=$?
bpid=""

kill -TERM "$pid"
dstatus=0
wait "$pid" || dstatus=$?
pid=""
if [ "$dstatus" -ne 0 ]; then
	echo "run.sh: slabd exited with status $dstatus:" >&2
	tail -n 20 "$log" >&2
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"

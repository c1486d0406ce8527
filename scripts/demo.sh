#!/bin/sh
# Build shmslab, start slabd with its built-in defaults (a 256 MiB region,
# in huge pages when the machine has them reserved) on a temporary socket,
# run the demonstration client and the two examples (a message pipeline,
# a pre-fork server) against it, and stop the daemon.
set -eu
. "$(dirname "$0")/common.sh"

ensure_packages
build build

work=$(mktemp -d "${TMPDIR:-/tmp}/shmslab-demo.XXXXXX")
sock="$work/slabd.sock"
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "==> starting slabd on $sock"
"$top/build/slabd" -f -s "$sock" 2>"$work/slabd.log" &
pid=$!
# ready when it says it listens (the socket file exists a little earlier)
i=0
while ! grep -q "listening on" "$work/slabd.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "slabd did not start:" >&2
		cat "$work/slabd.log" >&2
		exit 1
	fi
	sleep 0.05
done
sed 's/^/    /' "$work/slabd.log"

echo "==> running the demonstration client"
"$top/build/examples/shmslab-demo" -s "$sock"

echo
echo "==> running the examples: a message pipeline, a pre-fork server"
"$top/build/examples/shmslab-pipeline" -s "$sock"
echo
"$top/build/examples/shmslab-prefork" -s "$sock"

echo
echo "==> named objects: one process leaves a note, an unrelated one reads it"
"$top/build/examples/shmslab-named" -s "$sock" put demo.note "left by pid $$"
"$top/build/examples/shmslab-named" -s "$sock" get demo.note
"$top/build/slabctl/slabctl" -s "$sock" names

echo
echo "==> slabd killed with SIGKILL and started again: nothing is lost"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
"$top/build/slabd" -f -s "$sock" 2>"$work/slabd2.log" &
pid=$!
i=0
while ! grep -q "listening on" "$work/slabd2.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "slabd did not start again:" >&2
		cat "$work/slabd2.log" >&2
		exit 1
	fi
	sleep 0.05
done
grep -E "re-attached|named objects" "$work/slabd2.log" | sed 's/^/    /'
"$top/build/examples/shmslab-named" -s "$sock" get demo.note
"$top/build/slabctl/slabctl" -s "$sock" check
cat "$work/slabd2.log" >>"$work/slabd.log"

echo "==> stopping slabd"
kill -TERM "$pid"
wait "$pid" || { echo "slabd exited with an error" >&2; exit 1; }
pid=""
sed 's/^/    /' "$work/slabd.log" | tail -n 3
echo
echo "Run it yourself:  build/slabd -f -s /tmp/slabd.sock -m 512M"
echo "                  build/examples/shmslab-demo -s /tmp/slabd.sock"
echo "                  build/examples/shmslab-pipeline -s /tmp/slabd.sock"
echo "                  build/examples/shmslab-prefork -s /tmp/slabd.sock -k"
echo "Read more:        man -l man/slabd.8    man -l man/shmslab.3"

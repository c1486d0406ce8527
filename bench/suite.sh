#!/bin/sh
# bench/suite.sh - issue 10's benchmark suite in one command.
#
#	bench/suite.sh [--quick] [--reps N] [--build DIR] [--out DIR]
#		       [--allocators "shmslab glibc ..."] [--workloads "W1 W2 ..."]
#		       [--callgrind]
#
# Run from anywhere; it finds the source tree from its own path.  It builds
# what it needs in a build directory (--build, default SRC/build when that
# holds a configured tree, else SRC/build-bench: configure, make, make
# bench), starts a private slabd like bench/run.sh (a socket of its own,
# a 1 GiB region, --hugepages=try plus $SLABD_ARGS), and then runs every
# workload with every allocator, N times (--reps, 5; 3 with --quick),
# alternating the allocators (A B C A B C ...) so that the host's drift hits
# them alike.  DPDK needs huge pages: when run as root and fewer than
# $HUGEPAGES (256) 2 MiB pages are free, it reserves them after slabd has
# started and gives them back at the end; slabd's regions get huge pages
# reserved for them before they start (SHMBENCH_PLAIN_REGION=1: ordinary
# memory, as before 2026-11-26 05:30);
# when no hugetlbfs is mounted it mounts one for the run.  slabd is
# stopped, and the huge pages returned, also when interrupted.
#
# Output: bench/results/ (--out): raw.tsv (every line the programs printed,
# prefixed with the repetition), RESULTS.md (the table, also printed on
# stdout; bench/report.sh) and PNG plots (bench/plot.sh, when gnuplot is
# installed: bench/setup.sh installs it with the peers).
#
# shmslab-nosheaves is shmslab without its sheaves: the same program,
# bench/shmbench-shmslab, run against a second private slabd started with
# --no-sheaves (its caches take the frozen-slab fast path only), and
# named so in the records (-N), so that one run shows the two side by side.
#
# --callgrind: also count instructions per operation of W1 and W2 with
# valgrind's callgrind (the same 2N - N difference as with perf), which
# works without a PMU.  Under valgrind libshmslab finds no rseq and takes
# its no-rseq path (slab-protocol.md), so shmslab's count is of that path,
# not of the rseq one the timings measure.
#
# --quick: shorter loops (W1/W4 2M pairs, W2 200k objects, W3 1M
# replacements, W5 1M objects, W6 500k operations per worker; W3 keeps 100k
# live objects); the default sizes are the issue's (10M, 1M, 5M, 5M, 2M).
# Exit status: 0 when the suite ran (skipped cells are results), 1 when
# the build or slabd failed, 2 for bad usage.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
quick=0
callgrind=0
reps=""
build=${BUILD:-}
out=$src/bench/results
allocators="shmslab shmslab-nosheaves glibc tcmalloc jemalloc mimalloc dpdk boost boost-cached"
workloads="W1 W2 W3 W4 W5 W6"
hp_want=${HUGEPAGES:-256}

usage() {
	sed -n '3,5p' "$0" | sed 's/^#//'
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--reps) reps=$2; shift ;;
	--build) build=$2; shift ;;
	--out) out=$2; shift ;;
	--allocators) allocators=$2; shift ;;
	--workloads) workloads=$2; shift ;;
	--callgrind) callgrind=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "suite.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case $reps in
"") reps=5; [ $quick = 1 ] && reps=3 ;;
*[!0-9]*|0) echo "suite.sh: --reps wants a positive number" >&2; exit 2 ;;
esac
if [ $quick = 1 ]; then
	n1=2M; b2=200k; n3=1M; n5=1M; n6=500k
else
	n1=10M; b2=1M; n3=5M; n5=5M; n6=2M
fi
l3=100k
p6=$(nproc)
[ "$p6" -lt 2 ] && p6=2

# ---------------------------------------------------------------- build
if [ -z "$build" ]; then
	if [ -f "$src/build/Makefile" ]; then
		build=$src/build
	else
		build=$src/build-bench
	fi
fi
mkdir -p "$build" "$out"
build=$(cd "$build" && pwd)
(
	cd "$build"
	if [ ! -f Makefile ]; then
		[ -x "$src/configure" ] || (cd "$src" && ./autogen.sh)
		"$src/configure"
	fi
	make -j2 && make bench
) >"$out/build.log" 2>&1 || {
	echo "suite.sh: the build failed; see $out/build.log" >&2
	tail -n 20 "$out/build.log" >&2
	exit 1
}

# ---------------------------------------------------------------- slabd
sock=/tmp/shmbench.$$.sock
log=/tmp/shmbench.$$.log
sock2=/tmp/shmbench-nosheaves.$$.sock
log2=/tmp/shmbench-nosheaves.$$.log
pid=""
pid2=""
hp_old=""
hp_mnt=""
hp_file=/proc/sys/vm/nr_hugepages

# shellcheck disable=SC2317 # run by the trap
cleanup() {
	for p in $pid $pid2; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	if [ -n "$hp_mnt" ]; then
		umount "$hp_mnt" 2>/dev/null || true
		rmdir "$hp_mnt" 2>/dev/null || true
	fi
	if [ -n "$hp_old" ]; then
		echo "$hp_old" >"$hp_file" 2>/dev/null || true
	fi
	rm -f "$sock" "$sock.lock" "$log" "$sock2" "$sock2.lock" "$log2"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

start_slabd() {	# socket log extra-options...; sets spid
	_s=$1 _l=$2
	shift 2
	# shellcheck disable=SC2086 # SLABD_ARGS is a list of options
	"$build/slabd" -f -s "$_s" -m 1G --hugepages=try ${SLABD_ARGS:-} "$@" \
		2>"$_l" &
	spid=$!
	_i=0
	while ! grep -q "listening on" "$_l" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 400 ] || ! kill -0 "$spid" 2>/dev/null; then
			echo "suite.sh: slabd did not start:" >&2
			cat "$_l" >&2
			exit 1
		fi
		sleep 0.05
	done
}
# Huge pages for slabd's regions (1 GiB each: shmslab's and, when run,
# shmslab-nosheaves'), reserved before they start, as a production slabd
# has them (its region is meant to be hugepage-backed, and DPDK gets
# huge pages below too).  SHMBENCH_PLAIN_REGION=1 keeps ordinary memory.
if [ "${SHMBENCH_PLAIN_REGION:-0}" != 1 ] && [ -w "$hp_file" ]; then
	_want=512
	case " $allocators " in
	*" shmslab-nosheaves "*) _want=1024 ;;
	esac
	_free=$(awk '/^HugePages_Free/ { f = $2 } /^HugePages_Rsvd/ { r = $2 }
		     END { print f - r }' /proc/meminfo)
	if [ "${_free:-0}" -lt "$_want" ]; then
		hp_old=$(cat "$hp_file")
		echo $((hp_old + _want - _free)) >"$hp_file" || true
	fi
fi
start_slabd "$sock" "$log"
pid=$spid
region=$(sed -n 's/.*info: region: //p' "$log" | head -n 1)
case " $allocators " in
*" shmslab-nosheaves "*)
	start_slabd "$sock2" "$log2" --no-sheaves
	pid2=$spid
	;;
esac

# huge pages for DPDK, reserved after slabd mapped its region
hp_avail() {	# free huge pages nobody has reserved
	awk '/^HugePages_Free/ { f = $2 } /^HugePages_Rsvd/ { r = $2 }
	     END { print f - r }' /proc/meminfo
}
hp_free=$(hp_avail)
hp_note="$hp_free free 2 MiB huge pages"
case " $allocators " in
*" dpdk "*)
	if [ "${hp_free:-0}" -lt "$hp_want" ] && [ -w "$hp_file" ]; then
		[ -n "$hp_old" ] || hp_old=$(cat "$hp_file")
		echo $(($(cat "$hp_file") + hp_want - hp_free)) >"$hp_file" ||
			true
		hp_free=$(hp_avail)
		hp_note="$hp_free free 2 MiB huge pages (reserved for DPDK"
		hp_note="$hp_note by suite.sh, returned at the end)"
	fi
	# DPDK maps them through a hugetlbfs; mount one if there is none
	if [ "$(id -u)" = 0 ] && ! grep -q ' hugetlbfs ' /proc/mounts; then
		hp_mnt=/tmp/shmbench-hugepages.$$
		mkdir -p "$hp_mnt"
		if mount -t hugetlbfs nodev "$hp_mnt"; then
			SHMBENCH_HUGE_DIR=$hp_mnt
			export SHMBENCH_HUGE_DIR
		else
			rmdir "$hp_mnt"
			hp_mnt=""
		fi
	fi
	;;
esac

# ---------------------------------------------------------------- perf
# Instructions per operation: perf stat's count for a run of 2N operations
# minus that of a run of N, over N, so that start-up cancels out.
perf_ok=0
perf_note="n/a (no perf)"
if command -v perf >/dev/null 2>&1; then
	if perf stat -x, -e instructions:u true 2>&1 >/dev/null |
	   grep -q '^[0-9]'; then
		perf_ok=1
		perf_note="perf stat -e instructions:u"
	else
		perf_note="n/a (no PMU: perf stat says instructions are not supported)"
	fi
fi

instr() {	# prog args... ; prints the instruction count of one run
	perf stat -x, -e instructions:u -- "$@" 2>&1 >/dev/null |
		awk -F, '$3 ~ /instructions/ { print $1; exit }'
}

# ---------------------------------------------------------------- runs
# args W: the options of workload W; ops W: operations counted per N
args() {
	case $1 in
	W1|W4) echo "-n $n1" ;;
	W2) echo "-b $b2" ;;
	W3) echo "-l $l3 -n $n3" ;;
	W5) echo "-n $n5" ;;
	W6) echo "-n $n6 -p $p6" ;;
	esac
}

prog_of() {
	case $1 in
	shmslab-nosheaves) echo "$build/bench/shmbench-shmslab" ;;
	*) echo "$build/bench/shmbench-$1" ;;
	esac
}

opts_of() {	# the options naming the daemon (and the row) of allocator $1
	case $1 in
	shmslab-nosheaves) echo "-S $sock2 -N shmslab-nosheaves" ;;
	*) echo "-S $sock" ;;
	esac
}

raw=$out/raw.tsv
: >"$raw"
{
	printf 'M\tdate\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'M\tcpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' \
		/proc/cpuinfo | head -n 1) ($(nproc) CPUs online)"
	printf 'M\tkernel\t%s\n' "$(uname -srm)"
	printf 'M\tcompiler\t%s\n' "$(${CC:-cc} --version | head -n 1)"
	printf 'M\tregion\t%s\n' "$region"
	printf 'M\thugepages\t%s\n' "$hp_note"
	printf 'M\tperf\t%s\n' "$perf_note"
	printf 'M\treps\t%s\n' "$reps"
	printf 'M\tsizes\tW1/W4 %s pairs per process; W2 %s objects; W3 %s live, %s replacements; W5 %s objects; W6 %s workers x %s ops\n' \
		"$n1" "$b2" "$l3" "$n3" "$n5" "$p6" "$n6"
	printf 'M\tcommand\tbench/suite.sh%s --reps %s\n' \
		"$([ $quick = 1 ] && echo ' --quick')" "$reps"
	printf 'M\tallocators\t%s\n' "$allocators"
	[ -n "$pid2" ] && printf 'M\tnosheaves\t%s\n' \
		"shmslab-nosheaves: the same program against a second private slabd started with --no-sheaves"
} >>"$raw"

echo "suite.sh: $reps repetitions of $workloads with $allocators" >&2
r=1
while [ $r -le "$reps" ]; do
	for w in $workloads; do
		for a in $allocators; do
			prog=$(prog_of "$a")
			if [ ! -x "$prog" ]; then
				[ $r = 1 ] && printf '0\tS\t%s\t%s\t%s\n' "$w" "$a" \
					"not built (bench/setup.sh, then configure)" \
					>>"$raw"
				continue
			fi
			printf '  rep %s %s %s\n' "$r" "$w" "$a" >&2
			# shellcheck disable=SC2046 # opts_of, args: lists of options
			"$prog" $(opts_of "$a") -w "$w" $(args "$w") \
				2>>"$out/stderr.log" |
				sed "s/^/$r	/" >>"$raw" || true
		done
	done
	r=$((r + 1))
done

# instructions per op, once per cell (they do not drift), W1 and W2 only:
# the single-process workloads where a count means one allocator's path
if [ $perf_ok = 1 ]; then
	# shellcheck disable=SC2046 # opts_of is a list of options
	for a in $allocators; do
		prog=$(prog_of "$a")
		[ -x "$prog" ] || continue
		c1=$(instr "$prog" $(opts_of "$a") -w W1 -n 1M)
		c2=$(instr "$prog" $(opts_of "$a") -w W1 -n 2M)
		if [ -n "$c1" ] && [ -n "$c2" ]; then
			printf '1\tR\tW1\tinstr_pair\t%s\t%s\n' "$a" \
				"$(awk "BEGIN { print ($c2 - $c1) / 1e6 }")" >>"$raw"
		fi
		c1=$(instr "$prog" $(opts_of "$a") -w W2 -b 100k)
		c2=$(instr "$prog" $(opts_of "$a") -w W2 -b 200k)
		if [ -n "$c1" ] && [ -n "$c2" ]; then
			# 4 rounds of alloc + free per run (1 untimed + 3)
			printf '1\tR\tW2\tinstr_pair\t%s\t%s\n' "$a" \
				"$(awk "BEGIN { print ($c2 - $c1) / 4e5 }")" >>"$raw"
		fi
	done
fi

# the same with callgrind, by request: Ir of every process of the run
# (the driver and its worker), summed
cg_count() {	# prog args... ; prints the Ir total of one run
	cgdir=$(mktemp -d)
	# libtool: shmbench-shmslab is a wrapper script until installed
	"$build/libtool" --mode=execute valgrind --tool=callgrind \
		--callgrind-out-file="$cgdir/cg.%p" "$@" >/dev/null 2>&1 || true
	cat "$cgdir"/cg.* 2>/dev/null |
		awk '$1 == "summary:" { t += $2 } END { if (t) print t }'
	rm -rf "$cgdir"
}
if [ $callgrind = 1 ] && command -v valgrind >/dev/null 2>&1; then
	printf 'M\tcallgrind\tvalgrind --tool=callgrind (shmslab on its no-rseq path)\n' >>"$raw"
	# shellcheck disable=SC2046 # opts_of is a list of options
	for a in $allocators; do
		prog=$(prog_of "$a")
		[ -x "$prog" ] || continue
		echo "  callgrind $a" >&2
		c1=$(cg_count "$prog" $(opts_of "$a") -w W1 -n 100k)
		c2=$(cg_count "$prog" $(opts_of "$a") -w W1 -n 200k)
		if [ -n "$c1" ] && [ -n "$c2" ]; then
			printf '1\tR\tW1\tir_pair\t%s\t%s\n' "$a" \
				"$(awk "BEGIN { print ($c2 - $c1) / 1e5 }")" >>"$raw"
		fi
		c1=$(cg_count "$prog" $(opts_of "$a") -w W2 -b 20k)
		c2=$(cg_count "$prog" $(opts_of "$a") -w W2 -b 40k)
		if [ -n "$c1" ] && [ -n "$c2" ]; then
			printf '1\tR\tW2\tir_pair\t%s\t%s\n' "$a" \
				"$(awk "BEGIN { print ($c2 - $c1) / 8e4 }")" >>"$raw"
		fi
	done
fi

"$src/bench/report.sh" "$raw" >"$out/RESULTS.md"
cat "$out/RESULTS.md"
if command -v gnuplot >/dev/null 2>&1; then
	"$src/bench/plot.sh" "$raw" "$out" ||
		echo "suite.sh: the plots failed" >&2
else
	echo "suite.sh: no gnuplot: no plots (bench/setup.sh installs it)" >&2
fi

#!/bin/sh
# bench/plot.sh - PNG plots of a suite run, with gnuplot.
#
#	bench/plot.sh bench/results/raw.tsv bench/results
#
# One bar chart per figure of the table (bench/report.sh): the median of
# each allocator, with the range over the repetitions as an error bar, on a
# log scale (the allocators differ by orders of magnitude), titled with the
# machine and the date from raw.tsv.  Writes OUTDIR/w1.png ... w6.png and
# lists them on stdout.  Cells without a figure (n/a, skipped) have no bar.
set -eu

raw=${1:?usage: plot.sh RAW.tsv OUTDIR}
out=${2:?usage: plot.sh RAW.tsv OUTDIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# tmp/W_metric.dat: "allocator median min max", in the order of the run
awk -F '\t' -v dir="$tmp" '
$1 == "M" { meta[$2] = $3; next }
$2 == "R" {
	key = $3 "_" $4 SUBSEP $5
	v[key, ++n[key]] = $6 + 0
	next
}
END {
	na = split(meta["allocators"], al, " ")
	for (k in n) {
		c = n[k]
		for (i = 2; i <= c; i++) {
			t = v[k, i]
			for (j = i - 1; j >= 1 && v[k, j] > t; j--)
				v[k, j + 1] = v[k, j]
			v[k, j + 1] = t
		}
		m = c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
		med[k] = m; lo[k] = v[k, 1]; hi[k] = v[k, c]
		split(k, kk, SUBSEP); figs[kk[1]] = 1
	}
	for (f in figs)
		for (i = 1; i <= na; i++) {
			k = f SUBSEP al[i]
			if (k in med)
				printf "%s %g %g %g\n", al[i], med[k], lo[k],
				       hi[k] > (dir "/" f ".dat")
		}
	printf "%s, %s, %s\n", meta["cpu"], meta["kernel"], meta["date"] \
		> (dir "/machine")
}' "$raw"

# underscores would be subscripts in gnuplot's enhanced text
machine=$(sed 's/_/\\\\_/g' "$tmp/machine")

# plot NAME TITLE YLABEL DATAFILES...: one chart, one bar group per file
plot() {
	name=$1 title=$2 ylabel=$3
	shift 3
	cmd=""
	for f in "$@"; do
		[ -s "$tmp/$f.dat" ] || continue
		label=$(echo "$f" | sed 's/^W[0-9]_//; s/_/ /g')
		[ -n "$cmd" ] && cmd="$cmd, "
		cmd="$cmd'$tmp/$f.dat' using 2:3:4:xticlabels(1) title '$label'"
	done
	[ -n "$cmd" ] || return 0
	gnuplot <<EOF
set terminal pngcairo size 900,480 font ",10"
set output '$out/$name.png'
set title "$title\n{/*0.8 $machine}"
set ylabel '$ylabel'
set logscale y
set yrange [*:*]
set auto x
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set grid ytics
set key top left
set xtics rotate by -20
plot $cmd
EOF
	echo "$out/$name.png"
}

plot w1 "W1: alloc + free of one 64 B object, one process" "ns per pair (lower is better)" W1_ns_pair
plot w2 "W2: 1M allocations, then 1M frees in order" "ns per operation (lower is better)" W2_alloc_ns W2_free_ns
plot w3 "W3: malloc-style 16-1024 B, 100k live, random replacement" "ns per replacement (lower is better)" W3_ns_replace
plot w3mem "W3: resident bytes per live byte" "bytes (lower is better)" W3_rss_per_live_byte
plot w4 "W4: two processes doing W1 at once" "Mpairs/s, aggregate (higher is better)" W4_mpairs_s
plot w5 "W5: process A allocates, process B frees" "ns per object (lower is better)" W5_ns_object
plot w6 "W6: pre-fork workers share a table, free each other's objects" "ns per operation (lower is better)" W6_ns_op

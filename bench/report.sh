#!/bin/sh
# bench/report.sh - the Markdown table of a suite run, from its raw.tsv.
#
#	bench/report.sh bench/results/raw.tsv > RESULTS.md
#
# raw.tsv is what bench/suite.sh collected: M lines (machine and settings)
# and the lines of the shmbench programs prefixed with the repetition
# (shmbench.c's header comment gives their format).  Each cell is the
# median and, in brackets, the range over the repetitions; a cell the
# allocator cannot do, or that was skipped, says why.  The last columns
# compare shmslab with the best peer of each row (lowest time, highest
# rate).  Plain POSIX awk (Debian's default is mawk).
set -eu

raw=${1:?usage: report.sh RAW.tsv}

awk -F '\t' '
function fmt(x) {
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
# median of vals[key, 1..n[key]] (sorted in place: insertion sort)
function med(key,    i, j, t, c) {
	c = n[key]
	for (i = 2; i <= c; i++) {
		t = vals[key, i]
		for (j = i - 1; j >= 1 && vals[key, j] > t; j--)
			vals[key, j + 1] = vals[key, j]
		vals[key, j + 1] = t
	}
	lo[key] = vals[key, 1]; hi[key] = vals[key, c]
	if (c % 2) return vals[key, (c + 1) / 2]
	return (vals[key, c / 2] + vals[key, c / 2 + 1]) / 2
}
function cell(w, m, a,    key) {
	key = w SUBSEP m SUBSEP a
	if (key in n) {
		if (n[key] == 1) return fmt(medv[key])
		return fmt(medv[key]) " [" fmt(lo[key]) "–" fmt(hi[key]) "]"
	}
	if ((w SUBSEP a) in skip) return skip[w, a]
	if (("*" SUBSEP a) in skip) return skip["*", a]
	return "—"
}
$1 == "M" { meta[$2] = $3; next }
$2 == "R" {
	key = $3 SUBSEP $4 SUBSEP $5
	vals[key, ++n[key]] = $6 + 0
	next
}
$2 == "S" {
	why = $5
	gsub(/\|/, "/", why)
	if (why !~ /^n\/a/) why = "skipped: " why
	if ($1 == 0) skip["*", $4] = why
	else if (!(($3 SUBSEP $4) in skip)) skip[$3, $4] = why
	next
}
$2 == "I" && $4 !~ /^checksum/ { info[$3] = $4; next }
END {
	for (k in n) medv[k] = med(k)
	na = split(meta["allocators"], al, " ")

	print "# shmslab benchmark suite: results"
	print ""
	print "| | |"
	print "| --- | --- |"
	print "| date | " meta["date"] " |"
	print "| CPU | " meta["cpu"] " |"
	print "| kernel | " meta["kernel"] " |"
	print "| compiler | " meta["compiler"] " |"
	print "| slabd region | " meta["region"] " |"
	print "| huge pages | " meta["hugepages"] " |"
	print "| command | `" meta["command"] "` |"
	print "| sizes | " meta["sizes"] " |"
	print "| instructions | " meta["perf"] " |"
	print ""
	print "Each cell: median [min–max] over " meta["reps"] " repetitions" \
	      " that alternate the allocators (A B C A B C …). This VM'\''s" \
	      " speed drifts by up to 2× between minutes: compare within a" \
	      " row, read the ratios."
	print ""

	nr = 0
	# workload|metric|label|better|the peer issue 10 sets the goal against
	row[++nr] = "W1|ns_pair|W1 alloc+free of one 64 B object, ns/pair|low|tcmalloc"
	row[++nr] = "W2|alloc_ns|W2 alloc of 1M objects in a row, ns/alloc|low|dpdk"
	row[++nr] = "W2|free_ns|W2 then 1M frees in order, ns/free|low|dpdk"
	row[++nr] = "W3|ns_replace|W3 malloc-style 16–1024 B, 100k live, ns/replacement (free+alloc)|low|tcmalloc"
	row[++nr] = "W3|rss_per_live_byte|W3 resident bytes per live byte|low|"
	row[++nr] = "W3|held_per_live_byte|W3 bytes held by the allocator per live byte (shmslab: region bytes in kmalloc slabs)|low|"
	row[++nr] = "W3|rss_mb|W3 RSS of the process at the end, MiB|low|"
	row[++nr] = "W4|mpairs_s|W4 two processes doing W1, aggregate Mpairs/s|high|dpdk"
	row[++nr] = "W5|ns_object|W5 A allocates, B frees (handles through a ring), ns/object|low|dpdk"
	row[++nr] = "W6|ns_op|W6 pre-fork table of 64–512 B objects, ns/op|low|"
	row[++nr] = "W6|remote_free_pct|W6 frees of another worker'\''s object, %|none|"
	row[++nr] = "W1|instr_pair|W1 instructions per pair|low|"
	row[++nr] = "W2|instr_pair|W2 instructions per alloc+free|low|"
	if (meta["callgrind"] != "") {
		row[++nr] = "W1|ir_pair|W1 instructions per pair, callgrind|low|"
		row[++nr] = "W2|ir_pair|W2 instructions per alloc+free, callgrind|low|"
	}

	hdr = "| workload |"; sep = "| --- |"
	for (i = 1; i <= na; i++) { hdr = hdr " " al[i] " |"; sep = sep " --- |" }
	print hdr " best peer | shmslab / best peer | issue 10 goal |"
	print sep " --- | --- | --- |"
	for (r = 1; r <= nr; r++) {
		split(row[r], f, "|")
		w = f[1]; m = f[2]
		if (m == "instr_pair" && meta["perf"] !~ /^perf stat/) {
			line = "| " f[3] " |"
			t = meta["perf"] ~ /no PMU/ ? "n/a (no PMU)" : "n/a (no perf)"
			for (i = 1; i <= na; i++) line = line " " t " |"
			print line " | | |"
			continue
		}
		line = "| " f[3] " |"
		best = ""; bestv = 0
		for (i = 1; i <= na; i++) {
			a = al[i]
			line = line " " cell(w, m, a) " |"
			key = w SUBSEP m SUBSEP a
			if (a ~ /^shmslab/ || !(key in n) || f[4] == "none")
				continue
			if (best == "" || (f[4] == "low" && medv[key] < bestv) ||
			    (f[4] == "high" && medv[key] > bestv)) {
				best = a; bestv = medv[key]
			}
		}
		key = w SUBSEP m SUBSEP "shmslab"
		if (best != "" && (key in n) && bestv > 0)
			line = line " " best " " fmt(bestv) " | " \
			       sprintf("%.2f", medv[key] / bestv) "× |"
		else
			line = line " | |"
		goal = ""
		tkey = w SUBSEP m SUBSEP f[5]
		if (f[5] != "" && (key in n) && (tkey in n) && medv[tkey] > 0)
			goal = sprintf("%.2f", medv[key] / medv[tkey]) "× " \
			       f[5] (f[4] == "high" ? " (≥ 1)" : " (≤ 1)")
		else if (m == "held_per_live_byte" && (key in n))
			goal = fmt(medv[key]) " region bytes per live byte (≤ 1.2)"
		else if (w == "W6" && m == "ns_op" &&
			 (("W6" SUBSEP "fast_alloc_pct" SUBSEP "shmslab") in n))
			goal = "fast path: allocs " \
			       fmt(medv["W6", "fast_alloc_pct", "shmslab"]) \
			       "%, frees " \
			       fmt(medv["W6", "fast_free_pct", "shmslab"]) \
			       "% (≥ 95%)"
		else if (f[5] != "")
			goal = "vs " f[5] ": no figure"
		print line " " goal " |"
	}
	print ""
	print "Ratios are of the medians; for W4 a ratio above 1 is better," \
	      " for the others below 1.  The last column is the ratio to the" \
	      " peer issue 10 sets each goal against (\"Done when\")."
	print ""

	print "shmslab'\''s fast paths (slab_cache_stats() deltas over the" \
	      " timed part and the warm-up around it; W3 and W6 summed over" \
	      " kmalloc-16 … kmalloc-1k). Goals: W6 ≥ 95% on the fast path;" \
	      " refills < 1 per 10k allocations in steady state:"
	print ""
	print "| workload | variant | allocations on the fast path, % | frees on the fast path, % | refills per 10k allocations |"
	print "| --- | --- | --- | --- | --- |"
	split("W1 W2 W3 W4 W5 W6", ws, " ")
	split("shmslab shmslab-nosheaves", vs, " ")
	for (i = 1; i <= 6; i++)
		for (j = 1; j <= 2; j++) {
			v = vs[j]
			if (!((ws[i] SUBSEP "fast_alloc_pct" SUBSEP v) in n))
				continue
			print "| " ws[i] " | " v " | " \
			      cell(ws[i], "fast_alloc_pct", v) " | " \
			      cell(ws[i], "fast_free_pct", v) " | " \
			      cell(ws[i], "refill_per_10k", v) " |"
		}
	print ""

	# sheaves against no sheaves, row by row, when both ran
	if (index(" " meta["allocators"] " ", " shmslab-nosheaves ") &&
	    index(" " meta["allocators"] " ", " shmslab ")) {
		print "Sheaves against no sheaves (" meta["nosheaves"] "):"
		print ""
		print "| workload | shmslab (sheaves) | shmslab-nosheaves | sheaves / no sheaves |"
		print "| --- | --- | --- | --- |"
		for (r = 1; r <= nr; r++) {
			split(row[r], f, "|")
			k1 = f[1] SUBSEP f[2] SUBSEP "shmslab"
			k2 = f[1] SUBSEP f[2] SUBSEP "shmslab-nosheaves"
			if (!(k1 in n) && !(k2 in n))
				continue
			rt = ""
			if ((k1 in n) && (k2 in n) && medv[k2] > 0)
				rt = sprintf("%.2f", medv[k1] / medv[k2]) "×"
			print "| " f[3] " | " cell(f[1], f[2], "shmslab") \
			      " | " cell(f[1], f[2], "shmslab-nosheaves") \
			      " | " rt " |"
		}
		print ""
	}
	print "Libraries:"
	print ""
	for (i = 1; i <= na; i++) {
		a = al[i]
		if (a in info) print "- " a ": " info[a]
		else if (("*" SUBSEP a) in skip)
			print "- " a ": " skip["*", a]
	}
}' "$raw"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Plot `memvirtctl top -b` CSV (as make run records it) with gnuplot: guest
# memory by mechanism over time, summed over the VMs, as stacked areas, and
# the policy state along the top.
#   plot-demo.sh TOP.CSV OUT.png [BUDGET_MB]
# Columns (memvirtctl(8), "top -b"):
#   time_s,state,vm,name,size_mb,target_mb,active_pct,resident_mb,
#   ballooned_mb,shared_mb,zero_mb,compressed_mb,swapped_mb,swapin_per_s,
#   swapout_per_s
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

csv=$1 png=$2 budget=${3:-}
[ -s "$csv" ] || die "no data to plot in $csv"
command -v gnuplot >/dev/null || die "gnuplot is missing (tools/vmtest/build.sh deps installs gnuplot-nox)"
dat=${png%.*}.dat
# One row per sample: time, the state as a number, then the sums of
# resident, shared, zero, ballooned, compressed and swapped MiB, and the
# sum of the sizes. Zero pages hold no memory: not drawn. A VM that is
# gone adds nothing.
awk -F, '
	NR == 1 || $1 == "time_s" { next }
	{
		t = $1
		if (!(t in seen)) { seen[t] = 1; order[n++] = t }
		st[t] = $2
		res[t] += $8; bal[t] += $9; sha[t] += $10; zer[t] += $11
		cmp[t] += $12; swp[t] += $13; sz[t] += $5
	}
	END {
		split("high soft hard low", names, " ")
		for (i = 1; i <= 4; i++) code[names[i]] = i
		for (i = 0; i < n; i++) {
			t = order[i]
			printf "%s %d %.1f %.1f %.1f %.1f %.1f %.1f %.1f\n", t,
			       code[st[t]], res[t], sha[t], zer[t], bal[t], cmp[t],
			       swp[t], sz[t]
		}
	}' "$csv" >"$dat"
[ -s "$dat" ] || die "$csv has no VM rows"
budget_line=""
[ -z "$budget" ] ||
	budget_line=", $budget with lines lw 2 lc rgb \"#8c564b\" title \"budget_mb ($budget)\""
gnuplot <<EOF
set terminal pngcairo size 1100,600 noenhanced font ",10"
set output "$png"
set title "memvirt: guest memory by mechanism (memvirtctl top -b, summed over VMs)"
set xlabel "seconds"
set ylabel "MiB"
set key outside right top
set grid
set y2range [0:5]
set y2tics ("high" 1, "soft" 2, "hard" 3, "low" 4)
set y2label "policy state"
plot "$dat" using 1:(\$3+\$4+\$6+\$7+\$8) with filledcurves x1 title "swapped" lc rgb "#d62728", \
     "" using 1:(\$3+\$4+\$6+\$7) with filledcurves x1 title "compressed" lc rgb "#ff7f0e", \
     "" using 1:(\$3+\$4+\$6) with filledcurves x1 title "ballooned" lc rgb "#9467bd", \
     "" using 1:(\$3+\$4) with filledcurves x1 title "shared" lc rgb "#2ca02c", \
     "" using 1:3 with filledcurves x1 title "resident (private)" lc rgb "#1f77b4", \
     "" using 1:9 with lines lw 2 dt 2 lc rgb "black" title "guest RAM (sum of sizes)", \
     "" using 1:2 axes x1y2 with steps lw 2 lc rgb "#7f7f7f" title "policy state"$budget_line
EOF
echo "$png"

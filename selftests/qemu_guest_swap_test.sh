#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# qemu_guest_swap_test: the allocation policy compresses and swaps a stock
# QEMU guest's cold pages, and the guest reads all its data back.
#
#   boot            the guest (Debian's kernel) runs on a memvirtfs file,
#                   mounted with swapdir=/mnt/swap (its swap file reserved)
#   compress_swap   the guest fills 48 MiB, half compressible, half random;
#                   no balloon agent runs. A budget cut to the hard state:
#                   memvirt compresses and swaps the guest's coldest pages
#                   until it is at its target; the budget back, the guest
#                   checks all its data: swap-ins, the checksum unchanged
#   exit            QMP quit: QEMU exits 0; file, swap file, mount and
#                   module released
#
# qemu_guest_lib.sh has the setup; Documentation/dev/testing.rst, "Stock
# QEMU guests", explains it.
. "$(dirname "$0")/qemu_guest_lib.sh"

GUESTS=vm0
OPTS_vm0=""
EXIT_vm0=qmp

qgt_begin boot compress_swap exit
qgt_boot

# ---- compress_swap --------------------------------------------------------------
compress_swap() {
	cmd vm0 "fill $DATA_MB 4 mix" || bad "vm0: fill: $REPLY"
	SUM=$(sumof)
	C0=$(rd vm0 compressed) SW0=$(rd vm0 swapped) SO0=$(rd vm0 swap_outs)
	SI0=$(rd vm0 swap_ins) RJ0=$(rd vm0 compress_rejects)
	set_pct 40 30 10 5
	# 7 % free: the hard state (below 10 %), not low (5 %). The guest is
	# far above its target: memvirt compresses and swaps its coldest pages,
	# the data's among them, until it is at its target or free memory is
	# back above the hard state's threshold.
	B=$(budget_for 7)
	diag "used $(used_pages) pages: budget_mb $B"
	echo "$B" >$SYS/budget_mb
	ts=$(now)
	wait_for 60 '[ $(($(rd vm0 compressed) + $(rd vm0 swapped))) -ge $DATA_PAGES ]'
	sleep 1
	diag "reclaim: $(($(now) - ts))s; state $(g policy/state)"
	show vm0
	diag "swap/: $(for f in compressed pool_bytes swapped swap_outs swap_ins compress_rejects swap_errors; do
		printf '%s=%s ' $f "$(g swap/$f 2>/dev/null)"; done)"
	C1=$(rd vm0 compressed) SW1=$(rd vm0 swapped) SO1=$(rd vm0 swap_outs) RJ1=$(rd vm0 compress_rejects)
	# Back to the full budget, then the guest reads everything.
	echo "$BUDGET0" >$SYS/budget_mb
	set_pct $PCT0
	expect "vm0 compressed + swapped" $((C1 + SW1 - C0 - SW0)) -ge $DATA_PAGES
	expect "vm0 compressed" "$C1" -ge $((C0 + 1024))
	expect "vm0 swapped" "$SW1" -ge $((SW0 + 1024))
	# Every swapped page was written once, and was a page the compressor
	# rejected (the random half of the data, and the like).
	expect "vm0 swap_outs" $((SO1 - SO0)) -ge $((SW1 - SW0))
	expect "vm0 compress_rejects" $((RJ1 - RJ0)) -ge $((SW1 - SW0))
	expect "swap_errors" "$(g swap/swap_errors)" -eq 0
	verify vm0 "$SUM"
	show vm0
	expect "vm0 swap_ins by the check" $(($(rd vm0 swap_ins) - SI0)) -ge 1
	expect "vm0 swapped after the check" "$(rd vm0 swapped)" -lt "$SW1"
	expect "vm0 compressed after the check" "$(rd vm0 compressed)" -lt "$C1"
	expect "swap_errors" "$(g swap/swap_errors)" -eq 0
	# Everything is back in memory or still where memvirt put it: a
	# second check reads the same.
	verify vm0 "$SUM"
	diag "compress and swap done at $(elapsed)s"
}
scenario compress_swap compress_swap

qgt_exit
[ $nfail -eq 0 ]

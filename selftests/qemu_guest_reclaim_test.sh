#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2034,SC2154 # variables shared with qemu_guest_lib.sh
#
# qemu_guest_reclaim_test: memory comes back from a stock QEMU guest
# through QEMU's free page reporting, and through the allocation policy's
# compression and swap of its cold pages; the guest's data survives.
#
#   boot            the guest (Debian's kernel, virtio-balloon-pci with
#                   free-page-reporting=on) runs on a memvirtfs file,
#                   mounted with swapdir=/mnt/swap (its swap file reserved)
#   free_page_reporting
#                   the guest frees 32 MiB of data; it reports the free
#                   blocks and QEMU punches them: punched and zero rise,
#                   resident falls; new data reads back
#   compress_swap   the guest fills 32 MiB, half compressible, half random;
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
OPTS_vm0=",free-page-reporting=on"
EXIT_vm0=qmp

qgt_begin boot free_page_reporting compress_swap exit
qgt_boot

# ---- free_page_reporting ---------------------------------------------------------
# vm0 frees its data; its kernel reports free blocks of 2 MiB (order 9),
# after about 2 s, and QEMU punches them out of the file. No balloon target
# is pending, so the punched gfns are zero, not ballooned.
free_page_reporting() {
	cmd vm0 "fill $DATA_MB 3 rand" || bad "vm0: fill: $REPLY"
	P1=$(rd vm0 punched) R1=$(rd vm0 resident) Z1=$(rd vm0 zero)
	cmd vm0 free || bad "vm0: free: $REPLY"
	wait_for 60 '[ $(rd vm0 punched) -ge $((P1 + DATA_PAGES / 2)) ]'
	sleep 3
	show vm0
	expect "vm0 punched since the free" $(($(rd vm0 punched) - P1)) -ge $((DATA_PAGES / 2))
	expect "vm0 punched since the free" $(($(rd vm0 punched) - P1)) -le $((DATA_PAGES + 4096))
	expect "vm0 zero since the free" $(($(rd vm0 zero) - Z1)) -ge $((DATA_PAGES / 2))
	expect "vm0 resident" "$(rd vm0 resident)" -le $((R1 - DATA_PAGES / 2))
	expect "vm0 ballooned (no balloon target)" "$(rd vm0 ballooned)" -eq 0
	cmd vm0 meminfo
	# New data in the freed memory reads back (punched pages come back zeroed).
	cmd vm0 "fill $DATA_MB 5 rand" || bad "vm0: fill: $REPLY"
	SUM3=$(sumof)
	verify vm0 "$SUM3"
	diag "free page reporting done at $(elapsed)s"
}
scenario free_page_reporting free_page_reporting

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
	wait_for 60 '[ $(($(rd vm0 compressed) + $(rd vm0 swapped))) -ge $DATA_PAGES ] ||
		     [ $(rd vm0 charge) -le $(rd vm0 target) ]'
	sleep 1
	diag "reclaim: $(($(now) - ts))s; state $(g policy/state)"
	show vm0
	diag "swap/: $(for f in compressed pool_bytes swapped swap_outs swap_ins compress_rejects swap_errors; do
		printf '%s=%s ' $f "$(g swap/$f 2>/dev/null)"; done)"
	C1=$(rd vm0 compressed) SW1=$(rd vm0 swapped) SO1=$(rd vm0 swap_outs) RJ1=$(rd vm0 compress_rejects)
	# Back to the full budget, then the guest reads everything.
	echo "$BUDGET0" >$SYS/budget_mb
	set_pct $PCT0
	expect "vm0 compressed + swapped" $((C1 + SW1 - C0 - SW0)) -ge $((DATA_PAGES / 2))
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

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2034,SC2154 # variables shared with qemu_guest_lib.sh
#
# qemu_guest_share_test: two stock QEMU guests of one sharing domain share
# their identical pages.
#
#   boot                  both guests (Debian's kernel, virtio-balloon-pci)
#                         run on memvirtfs files of sharing domain 11
#   sharing               both fill 16 MiB with the same bytes; the scanner
#                         backs every such page of both with one frame; vm1
#                         rewrites its data: one copy-on-write break per
#                         page, and neither guest's data changes
#   exit                  vm0: QMP quit, vm1: the guest powers off; both
#                         QEMUs exit 0; files, mount and module released
#
# qemu_guest_lib.sh has the setup; Documentation/dev/testing.rst, "Stock
# QEMU guests", explains it.
# 16 MiB: every merge and copy-on-write break is a nested page fault, each
# a chance for the nested-TCG fault that kills a guest (qemu_guest_lib.sh).
DATA_MB=16
. "$(dirname "$0")/qemu_guest_lib.sh"

GUESTS="vm0 vm1"
DOMAIN=11
OPTS_vm0=""
OPTS_vm1=""
EXIT_vm0=qmp
EXIT_vm1=poweroff

qgt_begin boot sharing exit
qgt_boot

# ---- sharing -------------------------------------------------------------------
# The same bytes at gfns that differ. The scanner, run fast, until two full
# scans after both hold DATA_PAGES more shared pages: the guests' identical
# kernel and initramfs pages share too, so the count alone does not say
# the data is all shared; the rewrite below does.
sharing() {
	cmd vm0 "fill $DATA_MB 1 rand" || bad "vm0: fill: $REPLY"
	SUM1=$(sumof)
	cmd vm1 "fill $DATA_MB 1 rand" || bad "vm1: fill: $REPLY"
	[ "$(sumof)" = "$SUM1" ] || bad "the guests' checksums differ for one seed: $SUM1, $(sumof)"
	S0=$(rd vm0 shared) S1=$(rd vm1 shared)
	echo 4096 >$SYS/dedup/pages_to_scan
	echo 20 >$SYS/dedup/sleep_millisecs
	echo 100 >$SYS/dedup/cpu_percent
	echo 1 >$SYS/dedup/run
	ts=$(now)
	wait_for 90 '[ $(rd vm0 shared) -ge $((S0 + DATA_PAGES)) ] && [ $(rd vm1 shared) -ge $((S1 + DATA_PAGES)) ]' ||
		bad "the data is not shared after 90 s"
	FS=$(g dedup/full_scans)
	wait_for 60 '[ $(g dedup/full_scans) -ge $((FS + 2)) ]' || bad "the scanner did not finish two full scans in 60 s"
	echo 0 >$SYS/dedup/run
	diag "sharing took $(($(now) - ts))s, $(g dedup/full_scans) full scans"
	show vm0; show vm1
	expect "vm0 shared" "$(rd vm0 shared)" -ge $((S0 + DATA_PAGES))
	expect "vm1 shared" "$(rd vm1 shared)" -ge $((S1 + DATA_PAGES))
	expect "dedup sharing (frames)" "$(g dedup/sharing)" -ge $DATA_PAGES
	expect "dedup saved" "$(g dedup/saved)" -ge $DATA_PAGES
	verify vm0 "$SUM1"
	verify vm1 "$SUM1"
	# vm1 writes all its data with another seed: each write to a shared page
	# breaks copy-on-write once; vm0 keeps its bytes.
	CB1=$(rd vm1 cow_breaks) CB0=$(rd vm0 cow_breaks) SH1=$(rd vm1 shared)
	cmd vm1 "rewrite 2" || bad "vm1: rewrite: $REPLY"
	SUM2=$(sumof)
	show vm0; show vm1
	expect "vm1 cow_breaks by the rewrite" $(($(rd vm1 cow_breaks) - CB1)) -ge $((DATA_PAGES * 99 / 100))
	expect "vm1 cow_breaks by the rewrite" $(($(rd vm1 cow_breaks) - CB1)) -le $((DATA_PAGES + 256))
	expect "vm1 shared after the rewrite" "$(rd vm1 shared)" -le $((SH1 - DATA_PAGES * 99 / 100))
	verify vm0 "$SUM1"
	verify vm1 "$SUM2"
	expect "vm0 cow_breaks (it only read)" $(($(rd vm0 cow_breaks) - CB0)) -le 256
	diag "sharing done at $(elapsed)s"
}
scenario sharing sharing


qgt_exit
[ $nfail -eq 0 ]

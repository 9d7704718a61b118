#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2034,SC2154 # variables shared with qemu_guest_lib.sh
#
# qemu_guest_test: a stock QEMU guest on memvirt follows memvirt's balloon
# targets through the balloon agent, and ends cleanly.
#
#   boot      the guest (Debian's kernel, virtio-balloon-pci) runs on a
#             memvirtfs file
#   balloon   a budget cut (the soft state) sets a balloon target; the agent
#             (memvirtctl balloon-agent) passes it to QEMU over QMP and the
#             guest's balloon inflates to it, its punches counted as
#             ballooned; the budget back lowers the target step by step
#             (the policy deflates as the guest uses memory) and the
#             guest's writes to returned pages count as deflated; the
#             guest's data survives both
#   exit      QMP quit: QEMU exits 0; the file, the mount and the module's
#             references are released
#
# qemu_guest_lib.sh has the setup; Documentation/dev/testing.rst, "Stock
# QEMU guests", explains it.
. "$(dirname "$0")/qemu_guest_lib.sh"

GUESTS=vm0
OPTS_vm0=""
EXIT_vm0=qmp

qgt_begin boot balloon exit
qgt_boot

# ---- balloon -----------------------------------------------------------------
balloon_scenario() {
	cmd vm0 "fill $DATA_MB 1 rand" || bad "vm0: fill: $REPLY"
	SUM1=$(sumof)
	# The guest writes all its free memory once, then frees it: what its
	# balloon takes then holds memory. (Punching gfns the guest never touched
	# frees nothing: the VM's charge stays, and its balloon target, ballooned
	# plus the charge above its target, grows with every such gfn.)
	guest_free_mb vm0
	cmd vm0 "scratch $((FREE_MB - 16))" || bad "vm0: scratch: $REPLY"
	cmd vm0 unscratch
	show vm0
	# Wide state bands (soft from 30 % free down to 10 %) and a budget with
	# 20 % free: the soft state, and a balloon target for the guest, which is
	# above its target. A long balloon timeout: the balloon alone takes memory.
	set_pct 40 30 10 5
	echo 120000 >$SYS/policy/balloon_timeout_ms
	agent_start
	B=$(budget_for 20)
	diag "used $(used_pages) pages: budget_mb $B"
	echo "$B" >$SYS/budget_mb
	wait_for 20 '[ "$(g policy/state)" != high ]' || bad "state stayed $(g policy/state) at budget_mb $B"
	diag "state $(g policy/state), free_pages $(g policy/free_pages), avail_pages $(g policy/avail_pages)"
	wait_for 20 '[ $(rd vm0 balloon_target) -gt 0 ]' || bad "vm0 got no balloon target"
	# The guest's driver inflates in steps: wait until the balloon holds the
	# target.
	ts=$(now)
	wait_for 90 '[ $(rd vm0 ballooned) -ge $(($(rd vm0 balloon_target) * 98 / 100)) ]'
	diag "inflate took $(($(now) - ts))s, state $(g policy/state)"
	BT=$(rd vm0 balloon_target) BL=$(rd vm0 ballooned) A=$(balloon_actual vm0)
	show vm0
	diag "QMP query-balloon actual: $A bytes"
	expect "vm0 balloon_target" "$BT" -ge 4096
	expect "vm0 ballooned" "$BL" -ge $((BT * 98 / 100))
	expect "vm0 ballooned" "$BL" -le $((BT + 64))
	expect "policy ballooned (all VMs)" "$(g policy/ballooned)" -ge "$BL"
	# The guest's balloon is what the agent asked for, and what memvirt counts.
	expect "vm0 QMP actual, MiB" $((${A:-0} >> 20)) -ge $(((PAGES - BT) / 256 - 1))
	expect "vm0 QMP actual, MiB" $((${A:-0} >> 20)) -le $(((PAGES - BL) / 256 + 1))
	grep -q "vm0" "$W/agent.log" || bad "the agent logged no action for vm0"
	verify vm0 "$SUM1"

	# The budget back: the high state. The policy deflates only as far as the
	# guest may grow: its target is at most its charge plus 1/16 of its size
	# (4096 pages), so the balloon target drops to ballooned - 4096 at most.
	echo "$BUDGET0" >$SYS/budget_mb
	wait_for 30 '[ "$(g policy/state)" = high ] && [ $(rd vm0 balloon_target) -lt $(rd vm0 ballooned) ]' ||
		bad "after the budget went back: state $(g policy/state), vm0 balloon_target $(rd vm0 balloon_target)"
	BT2=$(rd vm0 balloon_target) BL2=$(rd vm0 ballooned)
	show vm0
	expect "vm0 balloon_target after the budget went back" "$BT2" -ge $((BL2 - 4096))
	wait_for 30 '[ "$(balloon_actual vm0)" = $(((PAGES - BT2) * 4096)) ]' ||
		bad "vm0's balloon did not deflate to $(((PAGES - BT2) * 4096)): actual $(balloon_actual vm0)"
	D0=$(rd vm0 deflated)
	# The guest writes nearly all its free memory, the pages the balloon gave
	# back included: they count as deflated, its charge grows, and the policy
	# deflates the next step.
	guest_free_mb vm0
	cmd vm0 "scratch $((FREE_MB - 8))" || bad "vm0: scratch: $REPLY"
	wait_for 20 '[ $(rd vm0 balloon_target) -lt $BT2 ]' || bad "no next deflate step after the guest's writes"
	show vm0
	expect "vm0 deflated" $(($(rd vm0 deflated) - D0)) -ge 1024
	expect "vm0 deflated" $(($(rd vm0 deflated) - D0)) -le "$BL"
	expect "vm0 ballooned + deflated" $(($(rd vm0 ballooned) + $(rd vm0 deflated) - D0)) -le "$BL"
	cmd vm0 unscratch
	verify vm0 "$SUM1"
	agent_stop
	head -n 3 "$W/agent.log" | sed 's/^/# agent: /'
	diag "... $(grep -c . "$W/agent.log") agent lines, the last:"
	tail -n 2 "$W/agent.log" | sed 's/^/# agent: /'
	diag "balloon done at $(elapsed)s"
}
scenario balloon balloon_scenario

qgt_exit
[ $nfail -eq 0 ]

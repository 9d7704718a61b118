#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# qemu_guest_test: stock QEMU guests on memvirt. Debian's own
# qemu-system-x86_64 (copied into the test VM by tools/vmtest/qemu-payload.sh)
# runs two real Linux guests (Debian's 6.1 kernel, a busybox initramfs with
# virtio_balloon and the workload tools/vmtest/l2/l2work) under nested KVM,
# their RAM files on a memvirtfs mounted here. Each test checks the guests'
# data (checksums, computed by the guests) and memvirt's counters:
#
#   boot                  both guests run on memvirtfs files
#   sharing               identical data in two guests of one sharing domain
#                         is shared; a guest's writes break the sharing and
#                         neither guest's data changes
#   free_page_reporting   free-page-reporting=on: memory the guest frees is
#                         punched out of its file
#   balloon               a budget cut sets balloon targets, the balloon
#                         agent inflates the guest's balloon, the budget back
#                         deflates it; the data survives both
#   compress_swap         a deeper cut compresses and swaps the guests' cold
#                         pages; the guests read all their data back
#   exit                  QEMU quits (QMP) or the guest powers off, exit
#                         status 0; the files, the mount and the module's
#                         references are released
#
# TAP output (kselftest style), for tools/vmtest/parse.sh. Diagnostics and
# the L2 guests' console lines are "# " lines; the L2 consoles and QEMU's
# output are printed in full when a test fails.
# Documentation/dev/testing.rst, "Stock QEMU guests", explains the setup.

SYS=/sys/kernel/memvirt
MNT=/run/memvirt
# QMP sockets: not inside the memvirtfs mount, which refuses sockets.
QMPDIR=/run/memvirt-qmp
W=/tmp/qemu_guest_test
QEMU=/usr/bin/qemu-system-x86_64
L2=/l2
MB=256			# RAM of each L2 guest, MiB
PAGES=$((MB * 256))
DATA_MB=64		# the data each guest fills and checks
DATA_PAGES=$((DATA_MB * 256))
DOMAIN=11		# the two guests' sharing domain
BOOT_WAIT=${QGT_BOOT_WAIT:-150}	# seconds for an L2 guest to reach its workload
NTESTS=6

ntest=0
nfail=0
tfail=0
export PATH=/tests:$PATH

diag() { echo "# $*"; }
# bad MSG: the current test fails (it goes on, to report everything).
bad() { echo "# FAIL: $*"; tfail=1; }
# result NAME: ok or not ok, per the checks since the last result.
result() {
	ntest=$((ntest + 1))
	if [ $tfail -eq 0 ]; then
		echo "ok $ntest $1"
	else
		echo "not ok $ntest $1"
		nfail=$((nfail + 1))
		dump_logs
	fi
	tfail=0
}

dump_logs() {
	for v in vm0 vm1; do
		[ -f "$W/$v.log" ] || continue
		echo "# ---- $v console (last 40 lines) ----"
		tr -d '\r' <"$W/$v.log" | tail -n 40 | sed 's/^/# /'
		echo "# ---- $v QEMU stderr ----"
		sed 's/^/# /' "$W/$v.qemu" 2>/dev/null | tail -n 20
	done
	if [ -f "$W/agent.log" ]; then
		echo "# ---- balloon agent (last 20 lines) ----"
		tail -n 20 "$W/agent.log" | sed 's/^/# /'
	fi
}

now() { cut -d. -f1 /proc/uptime; }
elapsed() { echo $(($(now) - T0)); }

# vmid NAME: the sysfs id of the memvirtfs file /NAME.
vmid() {
	for d in "$SYS"/vms/*; do
		[ "$(cat "$d/name" 2>/dev/null)" = "/$1" ] && { basename "$d"; return 0; }
	done
	return 1
}
# rd VM FILE: a per-VM sysfs value (VM: vm0 or vm1).
rd() { eval "cat $SYS/vms/\$ID_$1/$2"; }
g() { cat "$SYS/$1"; }

# wait_for SECONDS CONDITION...: poll the condition (shell code) twice a
# second; 0 once it holds, 1 at the deadline.
wait_for() {
	_end=$(($(now) + $1))
	shift
	while ! eval "$*"; do
		[ "$(now)" -ge $_end ] && return 1
		usleep 500000
	done
	return 0
}

# qemu_start NAME BALLOON_OPTS: start QEMU on $MNT/NAME in the background.
# Stock options only: the memory backend on the memvirtfs file (share=on),
# the balloon, two serial ports (console to a file; commands from a FIFO),
# QMP on a socket named after the file ($QMPDIR/NAME.qmp).
qemu_start() {
	: >"$W/$1.log"
	$QEMU -machine pc,accel=kvm -cpu host,kvm=off -m $MB -smp 1 \
		-object memory-backend-file,id=m0,size=${MB}M,mem-path=$MNT/$1,share=on \
		-machine memory-backend=m0 \
		-nodefaults -vga none -display none -no-reboot \
		-serial "file:$W/$1.log" -serial "pipe:$W/$1" \
		-kernel $L2/vmlinuz -initrd $L2/initramfs.gz \
		-append "console=ttyS0 loglevel=4 panic=-1" \
		-device "virtio-balloon-pci$2" \
		-qmp "unix:$QMPDIR/$1.qmp,server=on,wait=off" \
		</dev/null >"$W/$1.qemu" 2>&1 &
	eval "PID_$1=$!"
}

# l2_line NAME PATTERN: the first console line of the guest matching it.
l2_line() { tr -d '\r' <"$W/$1.log" 2>/dev/null | grep -m1 -e "$2"; }

# boot NAME BALLOON_OPTS: start the guest and wait for its workload; once
# more if it fails before that. About one L2 boot in 6 to 8 fails in this
# nested setup whatever backs its RAM (Documentation/dev/testing.rst).
boot() {
	_try=1
	while :; do
		qemu_start "$1" "$2"
		eval "_pid=\$PID_$1"
		if wait_for $BOOT_WAIT "l2_line $1 'l2: work ready' >/dev/null || ! kill -0 $_pid 2>/dev/null" &&
		   l2_line "$1" 'l2: work ready' >/dev/null; then
			diag "$1: L2 workload started after $(($(now) - _t0))s (boot $_try)"
			return 0
		fi
		diag "$1: L2 boot $_try failed before its workload started; its console:"
		tr -d '\r' <"$W/$1.log" | tail -n 25 | sed 's/^/#   /'
		sed 's/^/#   qemu: /' "$W/$1.qemu" | tail -n 5
		kill -9 "$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
		[ $_try -ge 2 ] && return 1
		_try=2
		diag "$1: restarting the L2 guest once"
	done
}

# cmd NAME COMMAND [TIMEOUT]: send a command to the guest's workload and wait
# for its answer, in REPLY; 0 if it says ok.
SEQ=0
cmd() {
	SEQ=$((SEQ + 1))
	_fd=5
	[ "$1" = vm1 ] && _fd=6
	echo "$SEQ $2" >&$_fd
	if ! wait_for "${3:-120}" "l2_line $1 'l2: $SEQ ' >/dev/null"; then
		REPLY="(no answer within ${3:-120}s)"
		diag "$1: '$2': $REPLY"
		return 1
	fi
	REPLY=$(l2_line "$1" "l2: $SEQ " | sed 's/.*l2: [0-9]* //')
	diag "$1: $2 -> $REPLY"
	case "$REPLY" in *" ok"*) return 0 ;; esac
	return 1
}

# verify NAME SUM: the guest checks all its data; its checksum must be SUM.
verify() {
	if ! cmd "$1" verify 180; then
		bad "$1: data check failed: $REPLY"
	elif ! echo "$REPLY" | grep -q "sum=$2 "; then
		bad "$1: checksum changed: $REPLY, filled with $2"
	fi
}
sumof() { echo "$REPLY" | sed -n 's/.*sum=\([0-9a-f]*\).*/\1/p'; }

# expect WHAT VALUE OP BOUND: a counter check, e.g. expect "vm0 shared" 100 -ge 50
expect() {
	if [ "$2" "$3" "$4" ]; then
		diag "$1 = $2 ($3 $4)"
	else
		bad "$1 = $2, expected $3 $4"
	fi
}

vmstat() {
	for f in resident zero shared punched ballooned deflated balloon_target target \
		 compressed swapped swap_outs swap_ins cow_breaks; do
		printf '%s=%s ' $f "$(rd "$1" $f)"
	done
}
show() { diag "$1: $(vmstat "$1")"; }

# used_pages: what the policy counts as used (policy.c): resident pages,
# shared frames and the compression cache.
used_pages() {
	echo $(($(g resident_pages) + $(g dedup/sharing) + $(g swap/pool_bytes) / 4096))
}

# set_pct HIGH SOFT HARD LOW: the state thresholds, in an order every store
# accepts (each store keeps high > soft > hard > low).
set_pct() {
	if [ "$1" -ge "$(g policy/free_high_pct)" ]; then
		echo "$1" >$SYS/policy/free_high_pct; echo "$2" >$SYS/policy/free_soft_pct
		echo "$3" >$SYS/policy/free_hard_pct; echo "$4" >$SYS/policy/free_low_pct
	else
		echo "$4" >$SYS/policy/free_low_pct; echo "$3" >$SYS/policy/free_hard_pct
		echo "$2" >$SYS/policy/free_soft_pct; echo "$1" >$SYS/policy/free_high_pct
	fi
}

# budget_for PCT: budget_mb at which PCT percent of it is free now.
budget_for() {
	echo $(($(used_pages) * 100 / (100 - $1) / 256 + 1))
}

agent_start() {
	if [ -x /tests/memvirtctl ]; then
		AGENT=memvirtctl
		/tests/memvirtctl balloon-agent --qmp-dir $QMPDIR -v >"$W/agent.log" 2>&1 &
	else
		# memvirtctl is not built: the same loop, the contract's formula.
		AGENT=script
		(
			while :; do
				for v in vm0 vm1; do
					eval "id=\$ID_$v"
					[ -d $SYS/vms/$id ] || continue
					bt=$(cat $SYS/vms/$id/balloon_target)
					sz=$(cat $SYS/vms/$id/size)
					val=$((sz - bt * 4096))
					[ $val -lt $((64 << 20)) ] && val=$((64 << 20))
					eval "last=\${last_$v:-}"
					[ "$val" = "$last" ] && continue
					if qmp $QMPDIR/$v.qmp \
						"{\"execute\": \"balloon\", \"arguments\": {\"value\": $val}}" >/dev/null; then
						echo "balloon-agent(script): $v (id $id): target $bt pages -> balloon $val bytes"
						eval "last_$v=$val"
					fi
				done
				usleep 300000
			done
		) >"$W/agent.log" 2>&1 &
	fi
	AGENT_PID=$!
	diag "balloon agent: $AGENT (pid $AGENT_PID)"
}
agent_stop() {
	[ -n "${AGENT_PID:-}" ] || return 0
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

balloon_actual() {
	qmp $QMPDIR/$1.qmp '{"execute": "query-balloon"}' 2>/dev/null |
		sed -n 's/.*"actual": *\([0-9]*\).*/\1/p'
}

# Everything this program changed, put back whatever happens.
cleanup() {
	agent_stop
	for v in vm0 vm1; do
		eval "p=\${PID_$v:-}"
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	exec 5>&- 6>&- 2>/dev/null
	[ -n "${DRAIN_PIDS:-}" ] && kill $DRAIN_PIDS 2>/dev/null
	[ -n "${BUDGET0:-}" ] && echo "$BUDGET0" >$SYS/budget_mb
	[ -n "${PCT0:-}" ] && set_pct $PCT0
	[ -n "${BTO0:-}" ] && echo "$BTO0" >$SYS/policy/balloon_timeout_ms
	[ -n "${DEDUP0:-}" ] && {
		echo 0 >$SYS/dedup/run
		set -- $DEDUP0
		echo "$2" >$SYS/dedup/pages_to_scan
		echo "$3" >$SYS/dedup/sleep_millisecs
		echo "$4" >$SYS/dedup/cpu_percent
		echo "$1" >$SYS/dedup/run
	}
	if grep -q " $MNT memvirtfs" /proc/mounts; then
		rm -f $MNT/vm0 $MNT/vm1
		umount $MNT 2>/dev/null
	fi
}

echo "TAP version 13"
echo "1..$NTESTS"
T0=$(now)
if [ ! -x $QEMU ] || [ ! -f $L2/vmlinuz ]; then
	diag "no stock QEMU payload in this test VM (tools/vmtest/vm.sh adds it for this program)"
	for t in boot sharing free_page_reporting balloon compress_swap exit; do
		ntest=$((ntest + 1)); echo "not ok $ntest $t"
	done
	exit 1
fi
diag "$(cat $L2/versions | tr '\n' ' ')"
diag "$($QEMU --version | head -n1)"

# ---- boot ----------------------------------------------------------------
REFCNT0=$(cat /sys/module/memvirt/refcnt)
NRVMS0=$(g nr_vms)
BUDGET0=$(g budget_mb)
PCT0="$(g policy/free_high_pct) $(g policy/free_soft_pct) $(g policy/free_hard_pct) $(g policy/free_low_pct)"
BTO0=$(g policy/balloon_timeout_ms)
DEDUP0="$(g dedup/run) $(g dedup/pages_to_scan) $(g dedup/sleep_millisecs) $(g dedup/cpu_percent)"
trap cleanup EXIT
trap 'exit 1' INT TERM
diag "module refcnt $REFCNT0, nr_vms $NRVMS0, budget_mb $BUDGET0, state $(g policy/state)"
rm -rf $W && mkdir -p $W $MNT $QMPDIR
if [ ! -c /dev/kvm ]; then
	bad "no /dev/kvm in the test VM"
fi
if ! mount -t memvirtfs -o swapdir=/mnt/swap memvirt $MNT; then
	bad "cannot mount memvirtfs with swapdir=/mnt/swap on $MNT"
fi
# The files exist before QEMU starts, so that their sharing domain is set
# before the guests run (admin guide, "Sharing domains").
for v in vm0 vm1; do
	truncate -s ${MB}M $MNT/$v || bad "cannot size $MNT/$v"
	id=$(vmid $v) || bad "no sysfs directory for /$v"
	eval "ID_$v=$id"
	echo $DOMAIN >$SYS/vms/$id/sharing_domain || bad "cannot set the sharing domain of $v"
	mkfifo $W/$v.in $W/$v.out
	# The guest's second serial port writes nothing (no echo); drain it anyway.
	cat $W/$v.out >/dev/null &
	DRAIN_PIDS="${DRAIN_PIDS:-} $!"
done
exec 5<>$W/vm0.in 6<>$W/vm1.in
diag "vm0 is memvirt VM $ID_vm0, vm1 is $ID_vm1 (sharing domain $DOMAIN)"
_t0=$(now)
# vm0: balloon only; vm1: free page reporting too.
boot vm0 "" || bad "vm0 did not boot"
_t0=$(now)
boot vm1 ",free-page-reporting=on" || bad "vm1 did not boot"
for v in vm0 vm1; do
	l2_line $v 'l2: ready' | sed 's/^/# /'
	expect "$v size" "$(rd $v size)" -eq $((MB << 20))
	expect "$v resident" "$(rd $v resident)" -gt 4096
	expect "$v faults" "$(rd $v faults)" -gt 4096
done
expect "nr_vms" "$(g nr_vms)" -eq $((NRVMS0 + 2))
show vm0; show vm1
diag "boot done at $(elapsed)s"
result boot
if [ $nfail -gt 0 ]; then
	for t in sharing free_page_reporting balloon compress_swap exit; do
		ntest=$((ntest + 1)); echo "not ok $ntest $t # no guest"
	done
	exit 1
fi

# ---- sharing ---------------------------------------------------------------
# Both guests fill DATA_MB MiB with one seed: the same bytes, at gfns that
# differ. The scanner, run fast, must back every such page of both with
# frames of their domain.
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
wait_for 120 '[ $(rd vm0 shared) -ge $((S0 + DATA_PAGES)) ] && [ $(rd vm1 shared) -ge $((S1 + DATA_PAGES)) ]'
diag "sharing took $(($(now) - ts))s, $(g dedup/full_scans) full scans"
echo 0 >$SYS/dedup/run
show vm0; show vm1
expect "vm0 shared" "$(rd vm0 shared)" -ge $((S0 + DATA_PAGES))
expect "vm1 shared" "$(rd vm1 shared)" -ge $((S1 + DATA_PAGES))
expect "vm0 shared" "$(rd vm0 shared)" -le $PAGES
expect "dedup sharing (frames)" "$(g dedup/sharing)" -ge $DATA_PAGES
verify vm0 "$SUM1"
verify vm1 "$SUM1"
# vm1 writes all its data with another seed: every write to a shared page
# breaks copy-on-write; vm0 keeps its bytes.
CB1=$(rd vm1 cow_breaks) CB0=$(rd vm0 cow_breaks)
cmd vm1 "rewrite 2" || bad "vm1: rewrite: $REPLY"
SUM2=$(sumof)
expect "vm1 cow_breaks since the rewrite" $(($(rd vm1 cow_breaks) - CB1)) -ge $DATA_PAGES
expect "vm1 cow_breaks since the rewrite" $(($(rd vm1 cow_breaks) - CB1)) -le $((DATA_PAGES + 4096))
verify vm0 "$SUM1"
verify vm1 "$SUM2"
show vm0; show vm1
diag "sharing done at $(elapsed)s"
result sharing

# ---- free_page_reporting ----------------------------------------------------
# vm1 frees its data; its kernel reports the free blocks (2 MiB each, after
# about 2 s) and QEMU punches them out of the file.
P1=$(rd vm1 punched) R1=$(rd vm1 resident) Z1=$(rd vm1 zero)
cmd vm1 free || bad "vm1: free: $REPLY"
wait_for 60 '[ $(rd vm1 punched) -ge $((P1 + DATA_PAGES / 2)) ]'
sleep 3
show vm1
expect "vm1 punched since the free" $(($(rd vm1 punched) - P1)) -ge $((DATA_PAGES / 2))
expect "vm1 punched since the free" $(($(rd vm1 punched) - P1)) -le $PAGES
expect "vm1 zero since the free" $(($(rd vm1 zero) - Z1)) -ge $((DATA_PAGES / 2))
expect "vm1 resident" "$(rd vm1 resident)" -le $((R1 - DATA_PAGES / 2))
expect "vm1 ballooned (no balloon target)" "$(rd vm1 ballooned)" -eq 0
cmd vm1 meminfo
# New data in the freed memory reads back (punched pages come back zeroed).
cmd vm1 "fill $DATA_MB 3 rand" || bad "vm1: fill: $REPLY"
SUM3=$(sumof)
verify vm1 "$SUM3"
diag "free page reporting done at $(elapsed)s"
result free_page_reporting

# ---- balloon ----------------------------------------------------------------
# Wide state bands (soft between 10 % and 30 % free) and a budget with 20 %
# free: the soft state, balloon targets for the guests above their targets;
# the agent passes them to QEMU. Then the budget back: the high state, the
# targets drop to 0, the agent deflates.
set_pct 40 30 10 5
echo 120000 >$SYS/policy/balloon_timeout_ms
agent_start
B=$(budget_for 20)
diag "used $(used_pages) pages: budget_mb $B"
echo $B >$SYS/budget_mb
wait_for 20 '[ "$(g policy/state)" != high ]' || bad "state stayed $(g policy/state) at budget_mb $B"
diag "state $(g policy/state), free_pages $(g policy/free_pages)"
wait_for 20 '[ $(rd vm0 balloon_target) -gt 0 ]' || bad "vm0 got no balloon target"
# The guest's driver inflates in steps; wait until its balloon holds the
# target, or stops growing.
ts=$(now)
wait_for 90 '[ $(rd vm0 ballooned) -ge $(($(rd vm0 balloon_target) * 95 / 100)) ] && [ $(rd vm0 balloon_target) -gt 0 ]'
diag "inflate took $(($(now) - ts))s"
BT=$(rd vm0 balloon_target) BL=$(rd vm0 ballooned)
show vm0; show vm1
diag "state $(g policy/state); vm0 balloon (QMP actual): $(balloon_actual vm0) bytes"
expect "vm0 balloon_target" "$BT" -gt 4096
expect "vm0 ballooned" "$BL" -ge $((BT * 95 / 100))
expect "vm0 ballooned" "$BL" -le $((BT + 256))
A=$(balloon_actual vm0)
expect "vm0 QMP actual (bytes)" "${A:-0}" -le $(((PAGES - BL + 256) * 4096))
grep -q "vm0" "$W/agent.log" || bad "the agent logged no action for vm0"
head -n 5 "$W/agent.log" | sed 's/^/# agent: /'
verify vm0 "$SUM1"
verify vm1 "$SUM3"
# The budget back: high again, the balloon target falls to 0, the agent
# deflates; the guest's new writes land on ballooned gfns (deflated).
echo "$BUDGET0" >$SYS/budget_mb
wait_for 30 '[ "$(g policy/state)" = high ] && [ $(rd vm0 balloon_target) -eq 0 ]' ||
	bad "after the budget went back: state $(g policy/state), vm0 balloon_target $(rd vm0 balloon_target)"
wait_for 30 '[ "$(balloon_actual vm0)" = $((MB << 20)) ]' ||
	bad "vm0's balloon did not deflate: actual $(balloon_actual vm0)"
D0=$(rd vm0 deflated)
cmd vm0 meminfo
cmd vm0 "scratch 96" || bad "vm0: scratch: $REPLY"
show vm0
expect "vm0 deflated" "$(rd vm0 deflated)" -gt "$D0"
expect "vm0 deflated + ballooned" $(($(rd vm0 deflated) + $(rd vm0 ballooned))) -ge "$BL"
cmd vm0 unscratch
verify vm0 "$SUM1"
agent_stop
tail -n 3 "$W/agent.log" | sed 's/^/# agent: /'
diag "balloon done at $(elapsed)s"
result balloon

# ---- compress_swap -------------------------------------------------------------
# vm0 holds compressible data, vm1 random data. No agent: with 7 % free
# (the hard state) memvirt compresses and swaps the coldest pages of the
# guests above their targets itself. Then the budget back, and the guests
# read all their data.
cmd vm0 "fill $DATA_MB 4 text" || bad "vm0: fill: $REPLY"
SUM4=$(sumof)
for v in vm0 vm1; do
	eval "C_$v=$(rd $v compressed) SO_$v=$(rd $v swap_outs) SI_$v=$(rd $v swap_ins)"
done
B=$(budget_for 7)
diag "used $(used_pages) pages: budget_mb $B"
echo $B >$SYS/budget_mb
ts=$(now)
wait_for 90 '[ $(($(rd vm0 compressed) + $(rd vm0 swapped))) -ge $((DATA_PAGES / 2)) ] &&
	     [ $(($(rd vm1 compressed) + $(rd vm1 swapped))) -ge $((DATA_PAGES / 2)) ]'
diag "reclaim took $(($(now) - ts))s; state $(g policy/state)"
show vm0; show vm1
diag "swap: $(for f in compressed pool_bytes swapped swap_outs swap_ins swap_errors; do printf '%s=%s ' $f $(g swap/$f); done)"
expect "vm0 compressed" "$(rd vm0 compressed)" -ge $((DATA_PAGES / 4))
expect "vm0 compressed + swapped" $(($(rd vm0 compressed) + $(rd vm0 swapped))) -ge $((DATA_PAGES / 2))
expect "vm1 swapped" "$(rd vm1 swapped)" -ge $((DATA_PAGES / 4))
expect "vm1 compressed + swapped" $(($(rd vm1 compressed) + $(rd vm1 swapped))) -ge $((DATA_PAGES / 2))
expect "vm1 swap_outs" $(($(rd vm1 swap_outs) - SO_vm1)) -ge $((DATA_PAGES / 4))
expect "swap_errors" "$(g swap/swap_errors)" -eq 0
SW1=$(rd vm1 swapped)
echo "$BUDGET0" >$SYS/budget_mb
wait_for 30 '[ "$(g policy/state)" = high ]' || bad "state $(g policy/state) after the budget went back"
verify vm0 "$SUM4"
verify vm1 "$SUM3"
show vm0; show vm1
expect "vm1 swap_ins since the cut" $(($(rd vm1 swap_ins) - SI_vm1)) -ge $((SW1 / 4))
expect "vm1 swapped after reading all its data" "$(rd vm1 swapped)" -le $((SW1 - DATA_PAGES / 4))
expect "swap_errors" "$(g swap/swap_errors)" -eq 0
diag "compress and swap done at $(elapsed)s"
result compress_swap

# ---- exit ---------------------------------------------------------------------
# vm0: QMP quit; vm1: the guest powers itself off. Both QEMUs exit 0.
qmp $QMPDIR/vm0.qmp '{"execute": "quit"}' | sed 's/^/# qmp: /'
cmd vm1 quit
for v in vm0 vm1; do
	eval "p=\$PID_$v"
	wait_for 60 "! kill -0 $p 2>/dev/null" || { bad "$v: QEMU still runs"; kill -9 "$p"; }
	wait "$p"
	rc=$?
	eval "PID_$v="
	expect "$v QEMU exit status" $rc -eq 0
	if grep -qiE 'error|warning' "$W/$v.qemu"; then
		bad "$v: QEMU printed: $(head -n 3 "$W/$v.qemu")"
	fi
done
l2_line vm1 'l2: powering off' >/dev/null || bad "vm1 did not power off by itself"
expect "nr_vms with the files left" "$(g nr_vms)" -eq $((NRVMS0 + 2))
rm $MNT/vm0 $MNT/vm1 || bad "cannot remove the guest RAM files"
expect "nr_vms" "$(g nr_vms)" -eq "$NRVMS0"
[ -d $SYS/vms/$ID_vm0 ] && bad "vm0's sysfs directory is still there"
ls /mnt/swap | grep -q "memvirt-$ID_vm1.vswp" && bad "vm1's swap file is still there"
umount $MNT || bad "umount $MNT failed"
grep -q " $MNT memvirtfs" /proc/mounts && bad "$MNT is still mounted"
expect "module refcnt" "$(cat /sys/module/memvirt/refcnt)" -eq "$REFCNT0"
diag "exit done at $(elapsed)s"
result exit
[ $nfail -eq 0 ]

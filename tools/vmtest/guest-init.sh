#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the test VM (busybox). Runs /plan.sh and reports on the second
# serial port (ttyS1) in a line protocol the host parses (parse.sh):
#   @@TEST-BEGIN <kind>:<name>  ... output ...  @@TEST-END <kind>:<name> rc=<n>
# The kernel log goes to ttyS0 and is scanned for splats by the host.
# Before each step the guest announces it with its deadline:
#   @@STEP <seq> <kind>:<name> <seconds>
# and the host (vm.sh) kills the VM when a step overruns it: a module whose
# init sleeps uninterruptibly cannot be killed from inside the guest.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
# Report a task blocked for a minute, so the host sees the hang early.
[ -w /proc/sys/kernel/hung_task_timeout_secs ] &&
	echo 60 >/proc/sys/kernel/hung_task_timeout_secs
export PATH=/tests:/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
hostname vmtest
R=/dev/ttyS1
# shellcheck disable=SC2034 # read by the plan
KERNEL_KIND=$(cat /kernel-kind)

say() { echo "$*" >"$R"; }

# announce ID SECONDS: the host's deadline for what follows.
_seq=0
announce() {
	_seq=$((_seq + 1))
	say "@@STEP $_seq $1 $2"
}

# section KIND:NAME TIMEOUT CMD...: run CMD with a timeout, output to ttyS1.
# CMD runs in a session of its own, and at its deadline or its end the
# whole session is killed: what it started goes with it. (A stock QEMU
# test killed at its deadline left its L2 guest running, holding its VM,
# and the next program found that VM under its own guest's name.)
section() {
	_id=$1 _t=$2
	shift 2
	say "@@TEST-BEGIN $_id timeout=$_t"
	_t0=$(date +%s)
	setsid "$@" >"$R" 2>&1 </dev/null &
	_pid=$!
	setsid sh -c "sleep $_t; kill -KILL -$_pid" >/dev/null 2>&1 &
	_dog=$!
	wait $_pid
	_rc=$?
	kill -KILL -$_dog 2>/dev/null
	kill -KILL -$_pid 2>/dev/null
	say "@@TEST-END $_id rc=$_rc seconds=$(($(date +%s) - _t0))"
	return $_rc
}

# The host-wide memvirt knobs (writable files of /sys/kernel/memvirt and its
# subdirectories, not the VMs'), as "path value" lines.
knobs_dump() {
	find /sys/kernel/memvirt -maxdepth 2 -type f -perm -u+w 2>/dev/null |
		grep -v /vms/ | sort | while read -r _f; do
		echo "$_f $(cat "$_f" 2>/dev/null)"
	done
}

# knobs_restore: put back the knobs as /tmp/knobs.saved had them. A program
# killed at its deadline never restores what it changed, and the next
# programs would run on its settings (a budget of 40 MiB, say) and fail
# too. Some knobs bound others (policy/free_*_pct are ordered, budget_mb
# waits for the dead program's VMs to go), so try a few rounds.
knobs_restore() {
	_r=0
	while [ $_r -lt 10 ]; do
		knobs_dump >/tmp/knobs.now
		cmp -s /tmp/knobs.saved /tmp/knobs.now && return 0
		while read -r _f _v; do
			grep -qx "$_f $_v" /tmp/knobs.now && continue
			[ $_r -eq 0 ] && echo "vmtest: before $_prog: $_f is $(cat "$_f") (left by $_prev), restoring $_v" >/dev/kmsg
			echo "$_v" >"$_f" 2>/dev/null
		done </tmp/knobs.saved
		_r=$((_r + 1))
		sleep 1
	done
	echo "vmtest: could not restore the knobs before $_prog" >/dev/kmsg
}

# leftovers_clean: a program killed at its deadline (or by its harness's
# per-test timeout) leaves its memvirtfs mounts and files behind, and so
# its VMs, which the next programs would find ("1 VMs exist before the
# test"). Each program mounts what it needs: unmount every memvirtfs
# (lazily: a dead program's mappings may still be going) and wait up to
# 10 s for the VMs to go.
leftovers_clean() {
	_vms=$(cat /sys/kernel/memvirt/nr_vms 2>/dev/null)
	for _d in $(awk '$3 == "memvirtfs" { print $2 }' /proc/mounts); do
		[ "${_vms:-0}" = 0 ] ||
			echo "vmtest: before $_prog: $_vms VMs left (by $_prev): unmounting memvirtfs at $_d" >/dev/kmsg
		umount -l "$_d"
	done
	_i=0
	while [ "$(cat /sys/kernel/memvirt/nr_vms 2>/dev/null)" != 0 ] && [ $_i -lt 100 ]; do
		usleep 100000
		_i=$((_i + 1))
	done
	[ $_i -lt 100 ] || echo "vmtest: before $_prog: $(cat /sys/kernel/memvirt/nr_vms) VMs are still alive" >/dev/kmsg
}

# kselftest PROGRAM [TIMEOUT]: the guest kills it after TIMEOUT seconds; the
# host gives it 10 more to report that. Each program starts with no
# memvirtfs mounted and no VM, and the memvirt knobs as they were before
# the first program (module defaults).
kselftest() {
	announce "kselftest:$1" $((${2:-240} + 10))
	_prev=${_prog:-the plan} _prog=$1
	if [ -d /sys/kernel/memvirt ]; then
		[ -f /tmp/knobs.saved ] || knobs_dump >/tmp/knobs.saved
		leftovers_clean
		knobs_restore
	fi
	section "kselftest:$1" "${2:-240}" "/tests/$1"
}

# kunit MODULE.ko [TIMEOUT]: load it (its suites run in its init), report
# every suite it ran, unload it; all within TIMEOUT (default 120) seconds.
kunit() {
	announce "kunit:$(basename "$1")" "${2:-120}"
	_before=$(ls /sys/kernel/debug/kunit 2>/dev/null)
	if ! insmod "$1"; then
		say "@@TEST-BEGIN kunit:$(basename "$1")"
		say "insmod $1 failed"
		say "@@TEST-END kunit:$(basename "$1") rc=1"
		return 1
	fi
	_n=0
	for _s in $(ls /sys/kernel/debug/kunit); do
		case " $(echo $_before) " in *" $_s "*) continue ;; esac
		section "kunit:$_s" 30 cat "/sys/kernel/debug/kunit/$_s/results"
		_n=$((_n + 1))
	done
	if [ $_n -eq 0 ]; then
		say "@@TEST-BEGIN kunit:$(basename "$1")"
		say "no KUnit suite appeared"
		say "@@TEST-END kunit:$(basename "$1") rc=1"
	fi
	rmmod "$(basename "$1" .ko)"
}

# step [-t SECONDS] NAME CMD...: a plain command whose exit status is the
# result, within SECONDS (default 240).
step() {
	_st=240
	if [ "$1" = -t ]; then
		_st=$2
		shift 2
	fi
	_n=$1
	shift
	announce "step:$_n" $((_st + 10))
	section "step:$_n" "$_st" sh -c "$*"
}

say "@@VMTEST BEGIN $KERNEL_KIND $(uname -r)"
# Distro kernel: KVM and helpers are modules, loaded in dependency order.
announce modules 120
for _m in $(cat /modules.list); do
	insmod "$_m" || say "@@NOTE insmod $_m failed"
done

# The swap disk (vm.sh): /dev/vda, ext4, mounted at /mnt/swap before the
# plan runs; tests and benchmarks find it there (mount memvirtfs with
# swapdir=/mnt/swap; swap files of this kernel for the baselines). A VM
# without it would let the swap tests skip, so a failure is loud: a
# "harness:swap-disk" FAIL with what the guest saw (reported only on
# failure; a harness id, never in the manifest), a line in the kernel log,
# and check.sh fails make run and make bench; the plan still runs, for the
# other tests' sake.
swap_disk_failed() {
	say "@@TEST-BEGIN harness:swap-disk timeout=30"
	say "SWAP DISK MISSING: $1; tests needing /mnt/swap cannot run"
	{
		echo "--- /dev/vd*:"; ls -l /dev/vd*
		echo "--- /proc/partitions:"; cat /proc/partitions
		echo "--- ext4 in /proc/filesystems:"; grep ext4 /proc/filesystems
		echo "--- /proc/mounts:"; cat /proc/mounts
		echo "--- kernel log (virtio, vda, EXT4):"
		dmesg | grep -iE 'virtio|vda|ext4|jbd2' | tail -n 20
	} >"$R" 2>&1
	say "@@TEST-END harness:swap-disk rc=1 seconds=0"
	echo "vmtest: swap disk missing: $1" >/dev/kmsg
}
announce swap-disk 30
mkdir -p /mnt/swap
# virtio_blk has probed by the time insmod returns; a built-in one before
# /init. Wait a little anyway rather than fail on a slow probe.
_i=0
while [ ! -b /dev/vda ] && [ $_i -lt 50 ]; do
	usleep 100000
	_i=$((_i + 1))
done
if [ ! -b /dev/vda ]; then
	swap_disk_failed "no block device /dev/vda"
elif ! _err=$(mount -t ext4 /dev/vda /mnt/swap 2>&1); then
	swap_disk_failed "cannot mount /dev/vda (ext4) at /mnt/swap: $_err"
elif ! { : >/mnt/swap/.vmtest-probe && rm /mnt/swap/.vmtest-probe; } 2>/dev/null; then
	swap_disk_failed "/mnt/swap is not writable"
fi
[ -x /plan.sh ] && . /plan.sh
# kmemleak scans are slow under KASAN and TCG.
announce finish 240
if [ -d /sys/kernel/debug/kmemleak ] || [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak 2>/dev/null
	echo scan >/sys/kernel/debug/kmemleak 2>/dev/null
	cat /sys/kernel/debug/kmemleak >/dev/ttyS0 2>/dev/null
fi
say "@@VMTEST END"
sync
if grep -q 'shell=1' /proc/cmdline; then
	echo "memvirt test VM: memvirt loaded, tests in /tests, swap disk (/dev/vda, ext4) on /mnt/swap; 'exit' powers off"
	setsid cttyhack sh -l
fi
reboot -f

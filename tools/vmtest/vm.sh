#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot one test VM under QEMU/TCG and run a plan in it.
#   vm.sh KERNEL PLAN OUTDIR TIMEOUT [shell]
# KERNEL is one of lib.sh's KERNELS_ALL; PLAN a shell fragment sourced by
# guest-init.sh.
# OUTDIR receives console.log (kernel log, ttyS0) and results.log (ttyS1).
# Every VM also gets a fresh swap disk, OUTDIR/swap.img: see make_swap_disk.
# Exit status: 0 if the guest reached the end of its plan, 1 otherwise.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

kernel=$(kernel_name "$1")
plan=$2 out=$3 limit=$4 mode=${5:-batch}
series=$(kernel_series "$kernel")
mkdir -p "$out"
root=$out/initramfs
rm -rf "$root" && mkdir -p "$root"/{bin,tests,memvirt,lib/modules}

cp /bin/busybox "$root/bin/busybox"
install -m 0755 "$VMTEST_DIR/guest-init.sh" "$root/init"
install -m 0755 "$plan" "$root/plan.sh"
echo "$kernel" >"$root/kernel-kind"
[ -d "$MEMVIRT_TOP/build/selftests" ] && cp -a "$MEMVIRT_TOP/build/selftests/." "$root/tests/"
cp "$MEMVIRT_TOP/build/$kernel"/memvirt/*.ko "$root/memvirt/" 2>/dev/null || true
cp "$MEMVIRT_TOP/build/$kernel"/canary/*.ko "$root/memvirt/" 2>/dev/null || true
# Debian's perf (about 35 MiB with its libraries) only where it is used.
if grep -q 'perf_test' "$plan"; then
	copy_with_libs "$root" /usr/bin/perf
fi

case "$(kernel_flavour "$kernel")" in
distro)
	abi=$(series_abi "$series")
	d=$(distro_dir "$abi")
	image=$d/boot/vmlinuz-$abi-amd64
	# KVM and what memvirt may need, loaded in dependency order by /plan;
	# virtio_pci, virtio_blk and ext4 (jbd2, mbcache, crc16, crc32c) for the
	# swap disk; 6.12 has virtio_pci built in ("builtin", not listed).
	copy_modules "$root" "$d" "$abi" kvm-amd zsmalloc lz4_compress lz4_decompress \
		virtio_pci virtio_blk ext4
	grep -q kvm-amd "$root/modules.list" || die "no kvm-amd module in $d"
	for m in virtio_blk ext4; do
		grep -q "/$m\.ko\$" "$root/modules.list" || die "no $m module in $d (the swap disk needs it)"
	done
	;;
debug)
	image=$(debug_kernel_dir "$series")/arch/x86/boot/bzImage
	# In use: kernels.sh prunes the least recently used builds only.
	touch "$(debug_kernel_dir "$series")/.last-used" 2>/dev/null || true
	: >"$root/modules.list"
	;;
esac
[ -f "$image" ] || die "no kernel image $image"
# Stock QEMU and its L2 guest (qemu-payload.sh: Debian's qemu-system-x86_64
# with its libraries and firmware at their own paths, /l2 the guest's kernel
# and initramfs), about 60 MiB: only for plans that run qemu_guest_*_test, so
# the other VMs stay small and boot fast.
if grep -q 'kselftest qemu_guest_' "$plan"; then
	payload=$("$VMTEST_DIR/qemu-payload.sh") || die "cannot build the stock QEMU payload"
	cp -a "$payload/root/." "$root/"
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

# The swap disk: a real block device with a filesystem that supports
# O_DIRECT and fallocate, for memvirt's swapdir= (and for swap files of the
# test VM's own kernel, the baseline the swap benchmark compares with). The
# guest (guest-init.sh) mounts it at /mnt/swap, where tests find it, before
# the plan runs, and fails the run if it cannot.
#
# A fresh, empty, sparse 8 GiB image per VM (so no run sees another's files,
# and parallel VMs never share one), formatted on the host and removed when
# the VM ends (VMTEST_KEEP_DISK=1 keeps it, to inspect). mke2fs "discards"
# the image first, which on a regular file punches holes that read back as
# zeroes, so it marks every inode table zeroed without writing it (the
# guest's ext4lazyinit thread then has nothing to do in the background
# during the tests), and lazy_journal_init skips zeroing the 64 MiB journal,
# which reads as zeroes anyway. About 40 ms and 4 MiB of real blocks.
# A fixed UUID and directory hash seed, so the filesystem and the order of
# its directories are the same in every run (only timestamps differ);
# -m 0: no blocks reserved for root, so statfs's available blocks are all
# the free blocks.
swap_disk=$out/swap.img
SWAP_DISK_SIZE=8G
make_swap_disk() {
	rm -f "$swap_disk"
	truncate -s "$SWAP_DISK_SIZE" "$swap_disk" || die "cannot create $swap_disk"
	mkfs.ext4 -q -F -L memvirt-swap -m 0 \
		-U 6d656d76-6972-4073-b761-700000000001 \
		-E discard,lazy_itable_init=1,lazy_journal_init=1,hash_seed=6d656d76-6972-4073-b761-700000000002 \
		"$swap_disk" >&2 || die "mkfs.ext4 of the swap disk $swap_disk failed"
}
cleanup_swap_disk() {
	[ "${VMTEST_KEEP_DISK:-0}" = 1 ] || rm -f "$swap_disk"
}
trap cleanup_swap_disk EXIT
make_swap_disk

append="console=ttyS0 panic=-1 loglevel=7"
append="$append printk.devkmsg=on kmemleak=on nokaslr"
# Two emulated NUMA nodes (both kernels have NUMA_EMU), so placement is
# tested; the plan checks that node1 exists. The debug kernel also checks
# every slab object: sanity checks, red zones, poisoning (FZP; not U, the
# alloc/free stack of every object, which KASAN records already).
append="$append numa=fake=2"
[ "$(kernel_flavour "$kernel")" = debug ] && append="$append slub_debug=FZP"
# acpi=noirq on the debug kernels, or their swap disk has no interrupt:
# enabling its PCI device (virtio_pci_probe -> acpi_pci_irq_enable) runs
# QEMU's _PRT, a 128-round AML While loop, in the ACPI interpreter, whose
# every small allocation KASAN and kmemleak give a stack trace. Under TCG
# that takes over 30 s even on an idle host, so ACPICA aborts it
# (AE_AML_LOOP_TIMEOUT, "can't derive routing for PCI INT A"); the debug
# kernels have no MSI, so virtio_blk then waits forever for its first
# read. On a loaded host the non-preemptible probe is also reported as a
# soft lockup or an RCU stall. With acpi=noirq the kernel takes the CPUs,
# the I/O APIC and the PCI interrupt routing from SeaBIOS's MP and PIRQ
# tables instead of ACPI's MADT and _PRT (the same two CPUs, I/O APIC and
# timer pin; the disk gets IRQ 10); ACPI still scans PCI. The distro
# kernels (no KASAN) run _PRT quickly, use MSI-X, and keep ACPI
# routing.
[ "$(kernel_flavour "$kernel")" = debug ] && append="$append acpi=noirq"
# Single-threaded TCG, two vCPUs on one socket (both kernels have ACPI, so
# both come up). With multi-threaded TCG, QEMU 7.2 now and then stops
# delivering interrupts to the L1 kernel while a nested KVM guest runs: the
# test VM freezes (RCU stalls, soft lockups, a vCPU stuck in KVM_RUN). Seen
# in 3 of ~20 runs of kvm_memory_test with MTTCG (worse with two sockets or
# kvm_amd vgif=0), in none of 10 with thread=single, which is no slower on
# two host cores. QEMU_ACCEL overrides it for experiments.
qemu=(qemu-system-x86_64 -accel "${QEMU_ACCEL:-tcg,thread=single}" -cpu max -smp 2
      -m 3072 -nodefaults
      -no-reboot -display none -kernel "$image" -initrd "$out/initramfs.gz"
      -device isa-debug-exit
      # virtio-blk: /dev/vda in the guest, the only disk (-nodefaults).
      # cache=unsafe: the host's page cache, and the guest's flushes are
      # ignored. The image is scratch, removed when the VM ends, so host-crash
      # durability (all that unsafe gives up) is worthless here; what the guest
      # sees is the same as with the default writeback (a volatile write cache
      # it flushes, reads return what it wrote). With writeback or none, every
      # flush (each ext4 journal commit, which O_DIRECT writes into
      # fallocated blocks cause) would become an fdatasync on the host's disk,
      # whose speed depends on what else the host runs (kernel builds, other
      # VMs): slow tests and noisy benchmarks. The swap benchmark compares
      # memvirt's swap file with the kernel's own swap to a swap file on this
      # same disk, so both sides see one device with one cache mode; its
      # figures are guest-side I/O costs (requests, bytes, CPU under TCG), not
      # the latency of a real disk, where flushes would cost more.
      # (A comma in the path is doubled: QEMU's option syntax.)
      -drive "if=none,id=swapdisk,file=${swap_disk//,/,,},format=raw,cache=unsafe"
      -device "virtio-blk-pci,drive=swapdisk,serial=memvirt-swap")
if [ "$mode" = shell ]; then
	# Not exec: the swap disk is removed when QEMU ends (the EXIT trap).
	rc=0
	"${qemu[@]}" -serial mon:stdio -serial "file:$out/results.log" \
		-append "$append shell=1" || rc=$?
	exit $rc
fi
# The watcher: QEMU runs in the background while this loop follows
# console.log and results.log as they grow. It kills QEMU at once (after 3 s
# for the report to finish) when the kernel reports a panic, a hung task, a
# soft or hard lockup or an RCU stall, and when a step announced by the guest
# (@@STEP <seq> <id> <seconds>) overruns its deadline by GRACE seconds; LIMIT
# still bounds the whole boot. The reason goes to OUTDIR/watchdog.txt as
#   <step> hung: <reason>     or     <step> crashed: kernel panic
# with the console excerpt in OUTDIR/watchdog-excerpt.txt and the seconds
# the step had run in OUTDIR/watchdog-seconds.
GRACE=${VMTEST_GRACE:-10}
BOOT_LIMIT=${VMTEST_BOOT_LIMIT:-180}
ALARM_RE='Kernel panic - not syncing|blocked for more than [0-9]+ seconds|'
ALARM_RE+='soft lockup - CPU|hard LOCKUP|rcu: INFO: rcu_[a-z]+ (self-)?detected stall|'
ALARM_RE+='rcu_[a-z]+ self-detected stall|detected stalls on CPUs'

# alarm_reason LINE: the short reason of a console alarm line.
alarm_reason() {
	case "$1" in
	*"Kernel panic"*) echo "kernel panic" ;;
	*"blocked for more than"*) echo "hung task" ;;
	*"soft lockup"*) echo "soft lockup" ;;
	*"hard LOCKUP"*) echo "hard lockup" ;;
	*) echo "RCU stall" ;;
	esac
}

# stop_vm REASON [VERB]: record why and kill QEMU.
stop_vm() {
	local reason=$1 verb=${2:-hung} n
	echo "$step $verb: $reason" >"$out/watchdog.txt"
	echo $(($(now_s) - step_t0)) >"$out/watchdog-seconds"
	log "$kernel VM: $step $verb: $reason"
	kill -TERM "$qpid" 2>/dev/null || true
	for n in 1 2 3 4 5; do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 1
	done
	kill -KILL "$qpid" 2>/dev/null || true
}

# excerpt: the console around the first alarm, else its last lines.
excerpt() {
	local n
	n=$( (grep -naE "$ALARM_RE" "$out/console.log" 2>/dev/null || true) | head -n1 | cut -d: -f1)
	if [ -n "$n" ]; then
		sed -n "$((n > 20 ? n - 20 : 1)),$((n + 60))p" "$out/console.log"
	else
		tail -n 60 "$out/console.log" 2>/dev/null
	fi | tr -d '\r' >"$out/watchdog-excerpt.txt"
}

# update_step: follow the guest's @@STEP announcements; a new one restarts
# the clock.
update_step() {
	local cur
	cur=$( (grep -aE '^@@(STEP |VMTEST END)' "$out/results.log" || true) |
	      tail -n1 | tr -d '\r')
	[ "$cur" != "$last" ] || return 0
	last=$cur step_t0=$(now_s)
	case "$cur" in
	"@@VMTEST END"*) step=poweroff step_limit=60 ;;
	*) read -r _ _ step step_limit <<<"$cur" ;;
	esac
}

rm -f "$out/watchdog.txt" "$out/watchdog-excerpt.txt" "$out/watchdog-seconds"
: >"$out/console.log"
: >"$out/results.log"
"${qemu[@]}" -monitor none \
	-serial "file:$out/console.log" -serial "file:$out/results.log" \
	-append "$append" </dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
t0=$(now_s)
step=boot step_t0=$t0 step_limit=$BOOT_LIMIT last="" off=0
while kill -0 "$qpid" 2>/dev/null; do
	sleep 1
	now=$(now_s)
	size=$(stat -c %s "$out/console.log")
	if [ "$size" -gt "$off" ]; then
		# Overlap a line's worth, in case a report straddles two polls.
		hit=$(tail -c +$((off > 300 ? off - 300 : 1)) "$out/console.log" |
		      grep -aE -m1 "$ALARM_RE" || true)
		off=$size
		if [ -n "$hit" ]; then
			sleep 3
			reason=$(alarm_reason "$hit")
			[ "$reason" = "kernel panic" ] && verb=crashed || verb=hung
			update_step
			stop_vm "$reason" "$verb"
			break
		fi
	fi
	update_step
	if [ "$step_limit" -gt 0 ] && [ $((now - step_t0)) -gt $((step_limit + GRACE)) ]; then
		stop_vm "deadline ${step_limit}s exceeded"
		break
	fi
	if [ "$limit" -gt 0 ] && [ $((now - t0)) -ge "$limit" ]; then
		stop_vm "VM limit ${limit}s exceeded"
		log "$kernel VM did not power off within ${limit}s (killed)"
		break
	fi
done
rc=0
wait "$qpid" || rc=$?
# A panic reboots the guest, and -no-reboot ends QEMU before the next poll.
update_step
if [ ! -f "$out/watchdog.txt" ] && grep -qa 'Kernel panic - not syncing' "$out/console.log"; then
	echo "$step crashed: kernel panic" >"$out/watchdog.txt"
	log "$kernel VM: $step crashed: kernel panic"
fi
if [ -f "$out/watchdog.txt" ]; then
	excerpt
	exit 1
fi
grep -q '^@@VMTEST END' "$out/results.log" 2>/dev/null || {
	log "$kernel VM did not reach the end of its plan (qemu exit $rc)"
	exit 1
}

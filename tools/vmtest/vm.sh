#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot one test VM under QEMU/TCG and run a plan in it.
#   vm.sh KERNEL PLAN OUTDIR TIMEOUT [shell]
# KERNEL is distro or debug; PLAN a shell fragment sourced by guest-init.sh.
# OUTDIR receives console.log (kernel log, ttyS0) and results.log (ttyS1).
# Exit status: 0 if the guest reached the end of its plan, 1 otherwise.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

kernel=$1 plan=$2 out=$3 limit=$4 mode=${5:-batch}
mkdir -p "$out"
root=$out/initramfs
rm -rf "$root" && mkdir -p "$root"/{bin,tests,memvirt,lib/modules}

cp /bin/busybox "$root/bin/busybox"
install -m 0755 "$VMTEST_DIR/guest-init.sh" "$root/init"
install -m 0755 "$plan" "$root/plan.sh"
echo "$kernel" >"$root/kernel-kind"
[ -d "$MEMVIRT_TOP/build/selftests" ] && cp -a "$MEMVIRT_TOP/build/selftests/." "$root/tests/"
cp "$MEMVIRT_TOP/build/$kernel"/memvirt/*.ko "$root/memvirt/" 2>/dev/null || true
if [ "$kernel" = debug ]; then
	cp "$MEMVIRT_TOP"/build/debug/canary/*.ko "$root/memvirt/" 2>/dev/null || true
fi

case "$kernel" in
distro)
	abi=$(distro_abi)
	d=$(distro_dir "$abi")
	image=$d/boot/vmlinuz-$abi-amd64
	[ -f "$d/lib/modules/$abi-amd64/modules.dep" ] || depmod -b "$d" "$abi-amd64"
	# KVM and what memvirt may need, loaded in dependency order by /plan.
	: >"$root/modules.list"
	for m in kvm-amd zsmalloc lz4_compress lz4_decompress; do
		modprobe -d "$d" -S "$abi-amd64" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }' | while read -r ko; do
			grep -qx "/lib/modules/$(basename "$ko")" "$root/modules.list" && continue
			cp "$ko" "$root/lib/modules/"
			echo "/lib/modules/$(basename "$ko")" >>"$root/modules.list"
		done
	done
	;;
debug)
	image=$(debug_kernel_dir)/arch/x86/boot/bzImage
	# In use: kernels.sh prunes the least recently used builds only.
	touch "$(debug_kernel_dir)/.last-used" 2>/dev/null || true
	: >"$root/modules.list"
	;;
esac
[ -f "$image" ] || die "no kernel image $image"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.gz"

append="console=ttyS0 panic=-1 loglevel=7"
append="$append printk.devkmsg=on kmemleak=on nokaslr"
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
      -device isa-debug-exit)
if [ "$mode" = shell ]; then
	exec "${qemu[@]}" -serial mon:stdio -serial "file:$out/results.log" \
		-append "$append shell=1"
fi
rc=0
timeout -k 10 "$limit" "${qemu[@]}" -monitor none \
	-serial "file:$out/console.log" -serial "file:$out/results.log" \
	-append "$append" </dev/null >"$out/qemu.log" 2>&1 || rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	log "$kernel VM did not power off within ${limit}s (killed)"
	exit 1
fi
grep -q '^@@VMTEST END' "$out/results.log" 2>/dev/null || {
	log "$kernel VM did not reach the end of its plan (qemu exit $rc)"
	exit 1
}

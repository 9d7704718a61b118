#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What the test VM needs to run stock QEMU guests (qemu_guest_test): Debian's
# own qemu-system-x86_64 and its libraries and firmware, and a small real
# guest for it (the L2 guest): Debian's 6.1 kernel and a busybox initramfs
# with virtio_balloon and the workload (tools/vmtest/l2/).
#   qemu-payload.sh      prints the directory of the payload tree, built if
#                        needed: its root/ is merged into the test VM's
#                        initramfs by vm.sh
# Cached under build/qemu-payload/<key>, the key hashing every input: the
# QEMU, SeaBIOS and busybox package versions, the L2 kernel's ABI, this
# script and tools/vmtest/l2/. Documentation/dev/testing.rst, "Stock QEMU
# guests", explains the setup.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

L2_SERIES=6.1
L2_DIR=$VMTEST_DIR/l2
# Packages: the QEMU binary and firmware that run in the test VM (the host's
# own, copied), busybox for the L2 guest's initramfs.
PAYLOAD_PACKAGES="qemu-system-x86 seabios busybox-static"

pkg_versions() {
	local p
	for p in $PAYLOAD_PACKAGES; do
		printf '%s=%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)"
	done
}

# shellcheck disable=SC2086
install_packages $PAYLOAD_PACKAGES

abi=$(series_abi "$L2_SERIES")
d=$(distro_dir "$abi")
# The L2 kernel is the distro 6.1 one whatever kernel the test VM boots.
[ -f "$d/boot/vmlinuz-$abi-amd64" ] || "$VMTEST_DIR/kernels.sh" "distro-$L2_SERIES" >/dev/null
[ -f "$d/boot/vmlinuz-$abi-amd64" ] || die "no distro $L2_SERIES kernel in $d"

key=$( { pkg_versions; echo "$abi"; gcc --version | head -n1;
	 cat "$0" "$L2_DIR"/*; } | sha256sum | cut -c1-16)
out=$MEMVIRT_TOP/build/qemu-payload/$key
# Two VMs being prepared at once (make selftest beside make check): one
# builds, the other waits for it and uses its payload.
mkdir -p "$MEMVIRT_TOP/build/qemu-payload"
exec 9>"$MEMVIRT_TOP/build/qemu-payload/.lock"
flock 9
if [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi
log "building the stock QEMU payload ($out)"
rm -rf "$out" && mkdir -p "$out/root" "$out/obj"
root=$out/root

# QEMU and the shared libraries it needs, at their own paths (the test VM's
# initramfs has no other libraries: busybox and the tests are static).
copy_with_libs "$root" /usr/bin/qemu-system-x86_64
grep -q . < <(find "$root/lib64" -name 'ld-linux*' 2>/dev/null) || die "no dynamic loader among QEMU's libraries"
# Firmware for "-machine pc -nodefaults -vga none -kernel": SeaBIOS, the
# option ROMs that boot a Linux kernel directly, and the TPR patching ROM
# QEMU loads with KVM. No NIC (no iPXE ROM), no VGA BIOS.
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	 /usr/share/qemu/linuxboot.bin /usr/share/qemu/kvmvapic.bin; do
	install -D -m 0644 "$(readlink -f "$f")" "$root$f"
done

# The helpers: l2work runs in the L2 guest, qmp in the test VM.
CFLAGS="-O2 -Wall -Wextra -Werror -static"
# shellcheck disable=SC2086
gcc $CFLAGS -o "$out/obj/l2work" "$L2_DIR/l2work.c" || die "cannot build l2work"
# shellcheck disable=SC2086
gcc $CFLAGS -o "$out/obj/qmp" "$L2_DIR/qmp.c" || die "cannot build qmp"
install -D -m 0755 "$out/obj/qmp" "$root/usr/bin/qmp"

# The L2 guest: Debian's kernel and a busybox initramfs with virtio_balloon
# and its dependencies (virtio_pci for the device), in load order.
l2=$out/l2-initramfs
mkdir -p "$l2"/{bin,lib/modules}
cp /bin/busybox "$l2/bin/busybox"
install -m 0755 "$L2_DIR/init" "$l2/init"
install -m 0755 "$out/obj/l2work" "$l2/l2work"
copy_modules "$l2" "$d" "$abi" virtio_pci virtio_balloon
grep -q '/virtio_balloon\.ko$' "$l2/modules.list" || die "no virtio_balloon module in $d"
mkdir -p "$root/l2"
cp "$d/boot/vmlinuz-$abi-amd64" "$root/l2/vmlinuz"
(cd "$l2" && find . | cpio -o -H newc --quiet | gzip -9) >"$root/l2/initramfs.gz"
{ pkg_versions; echo "l2-kernel=$abi"; } >"$root/l2/versions"
touch "$out/.done"
# Older payloads (other inputs) are not needed any more.
for old in "$MEMVIRT_TOP"/build/qemu-payload/*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
log "stock QEMU payload: $(du -sh "$root" | cut -f1) in $out"
echo "$out"

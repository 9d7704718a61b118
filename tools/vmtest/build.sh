#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build steps of the harness. Every step prints its warnings and fails on any.
#   build.sh deps                  install missing Debian packages
#   build.sh module distro|debug   memvirt.ko (+ memvirt_kunit.ko) with W=1 C=1
#   build.sh canary distro|debug   the harness self-test modules and programs
#   build.sh selftests             static kselftest programs and tools
#   build.sh checkpatch            checkpatch.pl over the project's sources
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

PACKAGES="qemu-system-x86 linux-source-6.1 linux-headers-amd64 busybox-static
kmod cpio sparse flex bison bc libelf-dev libssl-dev xz-utils rsync gcc make
dwarves"

deps() {
	local p missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	# The metapackage may lag a rolled ABI: the matching headers must be there.
	if [ -z "$missing" ]; then
		dpkg-query -W -f='${Status}' "linux-headers-$(distro_abi)-amd64" 2>/dev/null |
			grep -q "ok installed" || missing="linux-headers-amd64"
	fi
	[ -n "$missing" ] || return 0
	log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >&2 ||
		die "apt-get install failed:$missing"
}

# kdir KERNEL: the kernel build tree external modules are built against.
kdir() {
	case "$1" in
	distro) echo "/usr/src/linux-headers-$(distro_abi)-amd64" ;;
	debug) debug_kernel_dir ;;
	*) die "unknown kernel '$1'" ;;
	esac
}

# kbuild DIR KERNEL: build the external module in DIR; fail on any warning.
kbuild() {
	local dir=$1 kernel=$2 k out rc=0
	k=$(kdir "$kernel")
	[ -d "$k" ] || die "no kernel build tree at $k"
	out=$dir/build.log
	make -C "$k" M="$dir" W=1 C=1 modules >"$out" 2>&1 || rc=$?
	if [ $rc -ne 0 ] || grep -qiE 'warning:|error:' "$out"; then
		grep -iE -B2 -A3 'warning:|error:' "$out" >&2 || tail -n 30 "$out" >&2
		die "module build for $kernel kernel: warnings or errors (log: $out)"
	fi
}

# Sources of the module, copied into a per-kernel build dir because Kbuild
# builds external modules in place.
MODULE_SOURCES="Kbuild include module ept dedup balloon swap"

module() {
	local kernel=$1 dir=$MEMVIRT_TOP/build/$1/memvirt s
	mkdir -p "$dir"
	for s in $MODULE_SOURCES; do
		[ -e "$MEMVIRT_TOP/$s" ] || continue
		rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
			--exclude='*.mod*' "$MEMVIRT_TOP/$s" "$dir/"
	done
	kbuild "$dir" "$kernel"
	log "built $(cd "$dir" && ls ./*.ko | tr '\n' ' ')for the $kernel kernel"
}

canary() {
	local kernel=$1 dir=$MEMVIRT_TOP/build/$1/canary src out=$MEMVIRT_TOP/build/selftests p
	src=$(source_tree)
	mkdir -p "$dir" "$out"
	cp "$VMTEST_DIR/canary/Kbuild" "$VMTEST_DIR"/canary/vmtest_*.c "$dir/"
	kbuild "$dir" "$kernel"
	gcc -O2 -Wall -Werror -static -I"$src/tools/testing/selftests" \
		-o "$out/ksft_canary" "$VMTEST_DIR/canary/ksft_canary.c" ||
		die "cannot build the kselftest canary"
	gcc -O2 -Wall -Werror -static -o "$out/ksft_crash" "$VMTEST_DIR/canary/ksft_misbehave.c" ||
		die "cannot build the misbehaving kselftest canaries"
	for p in ksft_exit ksft_plan ksft_sleep; do
		cp "$out/ksft_crash" "$out/$p"
	done
}

selftests() {
	local src out
	src=$(source_tree)
	out=$MEMVIRT_TOP/build/selftests
	mkdir -p "$out"
	make -s -C "$MEMVIRT_TOP/selftests" OUT="$out" \
		KSFT_INC="$src/tools/testing/selftests" >&2 ||
		die "selftests build failed"
	make -s -C "$MEMVIRT_TOP/tools/bench" OUT="$out" >&2 || die "bench build failed"
}

# cp_files PATHSPEC...: tracked and untracked (not ignored) C files.
cp_files() {
	(cd "$MEMVIRT_TOP" && git ls-files -co --exclude-standard -- "$@" | grep -v '^build/') || true
}

checkpatch() {
	local src kfiles tfiles ufiles rc=0
	src=$(source_tree)
	kfiles=$(cp_files 'module/*.[ch]' ':!module/trace.h' 'ept/*.[ch]' 'dedup/*.[ch]' 'balloon/*.[ch]' \
		'swap/*.[ch]' 'include/*.h' 'tools/vmtest/canary/*.c')
	# TRACE_EVENT() layout is the kernel's own; --strict objects to it.
	tfiles=$(cp_files 'module/trace.h')
	ufiles=$(cp_files 'selftests/*.[ch]' 'tools/bench/*.[ch]')
	[ -n "$kfiles" ] || die "no sources found for checkpatch"
	# Kernel code: --strict. --no-tree: this is not a kernel tree.
	# shellcheck disable=SC2086
	(cd "$MEMVIRT_TOP" && "$src/scripts/checkpatch.pl" --no-tree --quiet --strict \
		--show-types --max-line-length=100 -f $kfiles) >&2 || rc=$?
	# shellcheck disable=SC2086
	(cd "$MEMVIRT_TOP" && "$src/scripts/checkpatch.pl" --no-tree --quiet \
		--show-types --max-line-length=100 -f $tfiles) >&2 || rc=$?
	# Userspace tests and tools: checkpatch's default level, as the kernel's
	# own selftests; volatile is needed around sigsetjmp, and the kselftest
	# harness uses macros with flow control and as types (FIXTURE_DATA(x) *self,
	# which checkpatch takes for a multiplication, or a typedef of it).
	# shellcheck disable=SC2086
	[ -z "$ufiles" ] || (cd "$MEMVIRT_TOP" && "$src/scripts/checkpatch.pl" --no-tree \
		--quiet --show-types --max-line-length=100 \
		--ignore VOLATILE,MACRO_WITH_FLOW_CONTROL,SPACING,NEW_TYPEDEFS -f $ufiles) >&2 || rc=$?
	[ $rc -eq 0 ] || die "checkpatch found problems"
}

case "${1:-}" in
deps) deps ;;
module) module "${2:?kernel}" ;;
canary) canary "${2:?kernel}" ;;
selftests) selftests ;;
checkpatch) checkpatch ;;
*) die "usage: build.sh deps|module KERNEL|canary KERNEL|selftests|checkpatch" ;;
esac

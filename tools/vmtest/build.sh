#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build steps of the harness. Every step prints its warnings and fails on any.
#   build.sh deps                  install missing Debian packages
#   build.sh module KERNEL         memvirt.ko (+ memvirt_kunit.ko) with W=1 C=1
#   build.sh canary KERNEL         the harness self-test modules and programs
#   build.sh selftests             static kselftest programs and tools
#   build.sh checkpatch            checkpatch.pl over the project's sources
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

# Kernel headers are not among them: kernels.sh extracts each distro
# kernel's header packages into the cache (installing 6.12's would put its
# image into /boot). e2fsprogs: mkfs.ext4 of the VMs' swap disk (vm.sh).
# linux-perf: perf in the VMs that run perf_test (vm.sh). gnuplot-nox: the
# plot of make run.
PACKAGES="qemu-system-x86 busybox-static kmod cpio sparse flex bison bc
libelf-dev libssl-dev xz-utils rsync gcc make dwarves dkms e2fsprogs
linux-perf gnuplot-nox"
for s in $SERIES_ALL; do
	PACKAGES="$PACKAGES linux-source-$s"
done

deps() {
	# shellcheck disable=SC2086
	install_packages $PACKAGES
}

# kbuild DIR KERNEL: build the external module in DIR; fail on any warning.
kbuild() {
	local dir=$1 kernel=$2 k out rc=0
	k=$(kdir "$kernel")
	[ -d "$k" ] || die "no kernel build tree at $k"
	out=$dir/build.log
	make -C "$k" M="$dir" W=1 C=1 -j"$JOBS" modules >"$out" 2>&1 || rc=$?
	if [ $rc -ne 0 ] || grep -qiE 'warning:|error:' "$out"; then
		grep -iE -B2 -A3 'warning:|error:' "$out" >&2 || tail -n 30 "$out" >&2
		die "module build for $kernel kernel: warnings or errors (log: $out)"
	fi
}

# The module's sources are copied into a per-kernel build dir because Kbuild
# builds external modules in place; tools/dkms.sh has their one list.
module() {
	local kernel=$1 dir=$MEMVIRT_TOP/build/$1/memvirt
	"$MEMVIRT_TOP/tools/dkms.sh" sources "$dir"
	kbuild "$dir" "$kernel"
	log "built $(cd "$dir" && ls ./*.ko | tr '\n' ' ')for the $kernel kernel"
}

canary() {
	local kernel=$1 dir=$MEMVIRT_TOP/build/$1/canary src out=$MEMVIRT_TOP/build/selftests p
	src=$(source_tree "$TOOLS_SERIES")
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
	src=$(source_tree "$TOOLS_SERIES")
	out=$MEMVIRT_TOP/build/selftests
	mkdir -p "$out"
	make -s -j"$JOBS" -C "$MEMVIRT_TOP/selftests" OUT="$out" \
		KSFT_INC="$src/tools/testing/selftests" >&2 ||
		die "selftests build failed"
	make -s -j"$JOBS" -C "$MEMVIRT_TOP/tools/bench" OUT="$out" >&2 || die "bench build failed"
	# The operator's tool: /tests/memvirtctl in the test VM, on PATH.
	make -s -C "$MEMVIRT_TOP/tools/memvirtctl" OUT="$out" STATIC=1 >&2 ||
		die "memvirtctl build failed"
}

# cp_files PATHSPEC...: tracked and untracked (not ignored) C files.
cp_files() {
	(cd "$MEMVIRT_TOP" && git ls-files -co --exclude-standard -- "$@" | grep -v '^build/') || true
}

checkpatch() {
	local src kfiles tfiles cfiles ufiles rc=0
	src=$(source_tree "$TOOLS_SERIES")
	kfiles=$(cp_files 'module/*.[ch]' ':!module/trace.h' ':!module/compat.h' 'ept/*.[ch]' \
		'dedup/*.[ch]' 'swap/*.[ch]' 'policy/*.[ch]' 'include/*.h' 'tools/vmtest/canary/*.c')
	# TRACE_EVENT() layout is the kernel's own; --strict objects to it.
	tfiles=$(cp_files 'module/trace.h')
	# Comparing LINUX_VERSION_CODE is what the compat header is for, and
	# nothing else may (a .c file that does fails the next check).
	cfiles=$(cp_files 'module/compat.h')
	ufiles=$(cp_files 'selftests/*.[ch]' 'tools/bench/*.[ch]' 'tools/memvirtctl/*.[ch]' \
		'tools/vmtest/l2/*.c')
	[ -n "$kfiles" ] || die "no sources found for checkpatch"
	# Kernel code: --strict. --no-tree: this is not a kernel tree.
	# shellcheck disable=SC2086
	(cd "$MEMVIRT_TOP" && "$src/scripts/checkpatch.pl" --no-tree --quiet --strict \
		--show-types --max-line-length=100 -f $kfiles) >&2 || rc=$?
	# shellcheck disable=SC2086
	(cd "$MEMVIRT_TOP" && "$src/scripts/checkpatch.pl" --no-tree --quiet \
		--show-types --max-line-length=100 -f $tfiles) >&2 || rc=$?
	# shellcheck disable=SC2086
	(cd "$MEMVIRT_TOP" && "$src/scripts/checkpatch.pl" --no-tree --quiet --strict \
		--show-types --max-line-length=100 \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f $cfiles) >&2 || rc=$?
	# shellcheck disable=SC2086
	if (cd "$MEMVIRT_TOP" && grep -nE 'LINUX_VERSION_CODE|KERNEL_VERSION|^#if.*MEMVIRT_HAVE_' \
		$kfiles $tfiles) >&2; then
		echo "version and probe tests belong in module/compat.h only" >&2
		rc=1
	fi
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
module|canary)
	k=$(kernel_name "${2:-}")
	"$1" "$k"
	;;
selftests) selftests ;;
checkpatch) checkpatch ;;
*) die "usage: build.sh deps|module KERNEL|canary KERNEL|selftests|checkpatch" ;;
esac

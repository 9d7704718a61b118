#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the two test kernels: Debian's distro kernel (image + modules,
# extracted, never installed) and the debug kernel built from linux-source-6.1.
# Usage: kernels.sh distro|debug
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

prepare_distro() {
	local abi dir tmp
	abi=$(distro_abi)
	dir=$(distro_dir "$abi")
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	log "fetching distro kernel linux-image-$abi-amd64-unsigned"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q "linux-image-$abi-amd64-unsigned" >&2) ||
		die "cannot download linux-image-$abi-amd64-unsigned"
	rm -rf "$dir" && mkdir -p "$dir"
	dpkg-deb -x "$tmp"/linux-image-*.deb "$dir"
	rm -rf "$tmp"
	[ -f "$dir/boot/vmlinuz-$abi-amd64" ] || die "no vmlinuz in the image package"
	touch "$dir/.done"
	echo "$dir"
}

prepare_debug() {
	local src out frag opt
	src=$(source_tree)
	out=$(debug_kernel_dir)
	frag=$VMTEST_DIR/debug-kernel.config
	# Another worktree may be building the same kernel right now: wait for
	# it rather than wipe its half-built tree (the lock is released when
	# this script exits).
	mkdir -p "$MEMVIRT_CACHE"
	exec 9>"$MEMVIRT_CACHE/.lock-${out##*/}"
	if ! flock -n 9; then
		log "waiting for another run's build of $out"
		flock 9
	fi
	if [ -f "$out/.done" ]; then
		touch "$out/.last-used"
		echo "$out"
		return
	fi
	log "building the debug kernel in $out (cold: ~10 min on 2 cores)"
	rm -rf "$out" && mkdir -p "$out"
	make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >&2
	(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "$frag" >/dev/null)
	make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >&2
	# An option that silently fell out (missing dependency) would make the
	# tests pass on a kernel that does not check what we think it checks.
	while read -r opt; do
		grep -qx "$opt" "$out/.config" || die "debug kernel: $opt did not survive olddefconfig"
	done < <(grep -E '^CONFIG_[A-Z0-9_]+=y' "$frag")
	make -s -C "$src" O="$out" ARCH=x86_64 -j"$JOBS" bzImage modules >&2 ||
		die "debug kernel build failed"
	touch "$out/.done" "$out/.last-used"
	prune_debug
	echo "$out"
}

# prune_debug: builds for an older source, config or compiler are ~2 GiB
# each, but other worktrees (another branch's fragment) may still use one, at
# the same time as this run. Keep the DEBUG_KEEP (3) most recently used
# builds (every use touches .last-used: kernels.sh and vm.sh), never one
# that is still being built (no .done) unless it was abandoned a day ago.
prune_debug() {
	local d keep=${DEBUG_KEEP:-3} n=0
	while read -r d; do
		n=$((n + 1))
		[ $n -le "$keep" ] && continue
		log "pruning the unused debug kernel build $d"
		rm -rf "$d"
	done < <(for d in "$MEMVIRT_CACHE"/debug-kernel-*/; do
			d=${d%/}
			[ -f "$d/.done" ] || continue
			echo "$(stat -c %Y "$d/.last-used" 2>/dev/null ||
				stat -c %Y "$d/.done") $d"
		 done | sort -rn | cut -d' ' -f2-)
	find "$MEMVIRT_CACHE" -maxdepth 1 -name 'debug-kernel-*' -mtime +1 \
		-exec test ! -e {}/.done \; -exec rm -rf {} + 2>/dev/null || true
}

case "${1:-}" in
distro) prepare_distro ;;
debug) prepare_debug ;;
*) die "usage: kernels.sh distro|debug" ;;
esac

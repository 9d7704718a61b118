#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare one test kernel: a distro kernel (Debian's image, modules and
# headers, extracted, never installed) or a debug kernel built from Debian's
# linux-source of its series. Prints the directory.
# Usage: kernels.sh KERNEL   (distro-6.1, distro-6.12, debug-6.1, debug-6.12)
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

# fetch_debs DIR PACKAGE...: download Debian packages into DIR and extract
# them there; never installed.
fetch_debs() {
	local dir=$1 tmp
	shift
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$@" >&2) || { rm -rf "$tmp"; die "cannot download $*"; }
	rm -rf "$dir" && mkdir -p "$dir"
	for f in "$tmp"/*.deb; do
		dpkg-deb -x "$f" "$dir" || { rm -rf "$tmp"; die "cannot extract $f"; }
	done
	rm -rf "$tmp"
}

# prepare_headers ABI: Debian's headers of a distro kernel, for building
# memvirt against it: the arch headers, the common headers and the kbuild
# tools they depend on. The headers' Makefile includes the common tree by
# its installed path; point it into the extracted tree.
prepare_headers() {
	local abi=$1 root dir pkgs
	root=$(headers_root "$abi")
	dir=$(headers_dir "$abi")
	[ -f "$root/.done" ] && return
	pkgs=$(apt-cache depends "linux-headers-$abi-amd64" 2>/dev/null |
	       sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ <>]*\)$/\1/p' | sort -u)
	log "fetching linux-headers-$abi-amd64 and$(echo "" $pkgs)"
	# shellcheck disable=SC2086
	fetch_debs "$root" "linux-headers-$abi-amd64" $pkgs
	sed -i "s|^include /usr/src/|include $root/usr/src/|" "$dir/Makefile"
	[ -f "$dir/Module.symvers" ] && [ -e "$dir/scripts/Makefile.build" ] ||
		die "incomplete headers for $abi in $root"
	touch "$root/.done"
}

# prepare_distro SERIES: Debian's current kernel of a series (image and
# modules, extracted) and its headers.
prepare_distro() {
	local abi dir
	abi=$(series_abi "$1")
	dir=$(distro_dir "$abi")
	prepare_headers "$abi"
	if [ ! -f "$dir/.done" ]; then
		log "fetching distro kernel linux-image-$abi-amd64-unsigned"
		fetch_debs "$dir" "linux-image-$abi-amd64-unsigned"
		[ -f "$dir/boot/vmlinuz-$abi-amd64" ] || die "no vmlinuz in the image package"
		touch "$dir/.done"
	fi
	echo "$dir"
}

# prepare_debug SERIES: the debug kernel, built from linux-source-SERIES.
prepare_debug() {
	local src out frag opt
	src=$(source_tree "$1")
	out=$(debug_kernel_dir "$1")
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
	log "building the $1 debug kernel in $out (cold: ~10 min on 2 cores)"
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

k=$(kernel_name "${1:-}")
case "$k" in
distro-*) prepare_distro "$(kernel_series "$k")" ;;
debug-*) prepare_debug "$(kernel_series "$k")" ;;
esac

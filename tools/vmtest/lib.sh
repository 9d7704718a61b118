# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the memvirt test harness; sourced, never run.

MEMVIRT_TOP=${MEMVIRT_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# Slow artefacts (kernels, extracted packages) live outside the checkout so a
# fresh clone reuses them; every entry is keyed by its inputs.
MEMVIRT_CACHE=${MEMVIRT_CACHE:-/var/cache/memvirt}
VMTEST_DIR=$MEMVIRT_TOP/tools/vmtest
JOBS=${JOBS:-$(( $(nproc) + 1 ))}

log() { printf '[vmtest] %s\n' "$*" >&2; }
die() { printf '[vmtest] error: %s\n' "$*" >&2; exit 2; }

# now_s: seconds since the epoch, for per-phase timings.
now_s() { date +%s; }

# distro_abi: the ABI of Debian's current 6.1 kernel ("6.1.0-NN"), resolved
# from the linux-image-amd64 metapackage so a rolled ABI is picked up.
distro_abi() {
	local dep
	dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
	      sed -n 's/.*Depends: linux-image-\(6\.1\.[0-9]*-[0-9]*\)-amd64.*/\1/p' | head -n1)
	[ -n "$dep" ] || die "cannot resolve the kernel ABI from linux-image-amd64 (run apt-get update?)"
	echo "$dep"
}

# source_version: Debian version of the linux-source-6.1 package.
source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null ||
		die "linux-source-6.1 is not installed"
}

# source_tree: the extracted linux-source-6.1, for checkpatch and the debug
# kernel; extracted once per package version.
source_tree() {
	local ver dir
	ver=$(source_version)
	dir=$MEMVIRT_CACHE/src/linux-source-$ver
	if [ ! -f "$dir/.extracted" ]; then
		log "extracting linux-source-6.1 $ver (once)"
		rm -rf "$dir" && mkdir -p "$dir"
		tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$dir" --strip-components=1 ||
			die "cannot extract linux-source-6.1"
		touch "$dir/.extracted"
	fi
	echo "$dir"
}

# debug_kernel_dir: build directory of the debug kernel for the current
# source version, config options (comments do not count) and compiler.
debug_kernel_dir() {
	local key
	key=$( { source_version; grep -E '^CONFIG_' "$VMTEST_DIR/debug-kernel.config";
		 gcc --version | head -n1; } | sha256sum | cut -c1-16)
	echo "$MEMVIRT_CACHE/debug-kernel-$key"
}

# distro_dir: extracted distro kernel image and modules for an ABI.
distro_dir() { echo "$MEMVIRT_CACHE/distro-$1"; }

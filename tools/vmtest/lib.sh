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

# The kernels memvirt is built and tested on. A kernel is named
# <flavour>-<series>: the flavour is "distro" (Debian's image, extracted and
# booted, never installed) or "debug" (built here from Debian's
# linux-source-<series> with KASAN, lockdep and the other checkers of
# debug-kernel.config); the series is one of SERIES_ALL. Adding a series is
# described in Documentation/dev/kernels.rst.
SERIES_ALL="6.1 6.12"
KERNELS_ALL=$(for f in distro debug; do for s in $SERIES_ALL; do printf '%s ' "$f-$s"; done; done)
KERNELS_ALL=${KERNELS_ALL% }
# The series whose linux-source gives checkpatch.pl and kselftest_harness.h.
TOOLS_SERIES=6.1

# kernel_name NAME: the full name of a kernel ("distro" and "debug" are
# short for the 6.1 ones); an unknown name is an error.
kernel_name() {
	case " $KERNELS_ALL distro debug " in
	*" $1 "*) ;;
	*) die "unknown kernel '$1' (one of: $KERNELS_ALL; distro and debug mean the 6.1 ones)" ;;
	esac
	case "$1" in
	distro|debug) echo "$1-6.1" ;;
	*) echo "$1" ;;
	esac
}

kernel_flavour() { echo "${1%%-*}"; }
kernel_series() { echo "${1#*-}"; }

# image_metapackage SERIES: the Debian metapackage that follows the series'
# current ABI (Debian 12's default kernel is 6.1; 6.12 has its own).
image_metapackage() {
	case "$1" in
	6.1) echo linux-image-amd64 ;;
	*) echo "linux-image-$1-amd64" ;;
	esac
}

# series_abi SERIES: the ABI of Debian's current kernel of a series
# ("6.1.0-57", "6.12.117+deb12"), resolved from its metapackage so a rolled
# ABI is picked up; never hard-coded.
series_abi() {
	local meta re abi
	meta=$(image_metapackage "$1")
	re="linux-image-\\(${1//./\\.}\\.[^ ]*\\)-amd64\$"
	abi=$(apt-cache depends "$meta" 2>/dev/null | sed -n "s/.*Depends: $re/\\1/p" | head -n1)
	[ -n "$abi" ] || die "cannot resolve the $1 kernel ABI from $meta (run apt-get update?)"
	echo "$abi"
}

# source_version SERIES: Debian version of the linux-source-SERIES package.
source_version() {
	dpkg-query -W -f='${Version}' "linux-source-$1" 2>/dev/null ||
		die "linux-source-$1 is not installed"
}

# source_tree SERIES: the extracted linux-source-SERIES (the debug kernel;
# checkpatch and kselftest_harness.h from TOOLS_SERIES); extracted once per
# package version.
source_tree() {
	local ver dir
	ver=$(source_version "$1")
	dir=$MEMVIRT_CACHE/src/linux-source-$ver
	if [ ! -f "$dir/.extracted" ]; then
		log "extracting linux-source-$1 $ver (once)"
		rm -rf "$dir" && mkdir -p "$dir"
		tar -xJf "/usr/src/linux-source-$1.tar.xz" -C "$dir" --strip-components=1 ||
			die "cannot extract linux-source-$1"
		touch "$dir/.extracted"
	fi
	echo "$dir"
}

# debug_kernel_dir SERIES: build directory of the debug kernel for the
# series' source version, config options (comments do not count) and
# compiler.
debug_kernel_dir() {
	local key
	key=$( { source_version "$1"; grep -E '^CONFIG_' "$VMTEST_DIR/debug-kernel.config";
		 gcc --version | head -n1; } | sha256sum | cut -c1-16)
	echo "$MEMVIRT_CACHE/debug-kernel-$key"
}

# distro_dir ABI: extracted distro kernel image and modules.
distro_dir() { echo "$MEMVIRT_CACHE/distro-$1"; }

# headers_root ABI: where Debian's header packages of an ABI are extracted
# (never installed: on 6.12 they would pull the kernel image into /boot).
headers_root() { echo "$MEMVIRT_CACHE/headers-$1"; }

# headers_dir ABI: the kernel build tree of those headers.
headers_dir() { echo "$(headers_root "$1")/usr/src/linux-headers-$1-amd64"; }

# kdir KERNEL: the kernel build tree external modules are built against.
kdir() {
	case "$(kernel_flavour "$1")" in
	distro) headers_dir "$(series_abi "$(kernel_series "$1")")" ;;
	debug) debug_kernel_dir "$(kernel_series "$1")" ;;
	*) die "unknown kernel '$1'" ;;
	esac
}

# copy_with_libs ROOT BINARY...: BINARY, and the shared libraries ldd lists
# for it (the dynamic loader included), into the initramfs tree ROOT at the
# same paths.
copy_with_libs() {
	local root=$1 b f
	shift
	for b in "$@"; do
		[ -x "$b" ] || die "$b is missing (tools/vmtest/build.sh deps installs it)"
		mkdir -p "$root$(dirname "$b")"
		cp -L "$b" "$root$b"
		for f in $(ldd "$b" | grep -o '/[^ ]*'); do
			[ -e "$root$f" ] && continue
			mkdir -p "$root$(dirname "$f")"
			cp -L "$f" "$root$f"
		done
	done
}

# install_packages PKG...: apt-get install the Debian packages that are not
# installed yet (one update, one install).
install_packages() {
	local p missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >&2 ||
		die "apt-get install failed:$missing"
}

# copy_modules ROOT DISTRO_DIR ABI MODULE...: the modules of Debian's kernel
# extracted in DISTRO_DIR (release ABI-amd64) that MODULE... need, with
# their dependencies, into ROOT/lib/modules, listed in load order in
# ROOT/modules.list for the guest's insmod. 6.12's modules are
# xz-compressed, which busybox insmod cannot read: they are unpacked.
# Built-in modules ("builtin" in modprobe's answer) are not listed.
copy_modules() {
	local root=$1 d=$2 abi=$3 m ko name
	shift 3
	mkdir -p "$root/lib/modules"
	[ -f "$d/lib/modules/$abi-amd64/modules.dep" ] || depmod -b "$d" "$abi-amd64"
	: >"$root/modules.list"
	for m in "$@"; do
		modprobe -d "$d" -S "$abi-amd64" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }' | while read -r ko; do
			name=$(basename "$ko" .xz)
			grep -qx "/lib/modules/$name" "$root/modules.list" && continue
			case "$ko" in
			*.xz) xz -dc "$ko" >"$root/lib/modules/$name" ;;
			*) cp "$ko" "$root/lib/modules/" ;;
			esac
			echo "/lib/modules/$name" >>"$root/modules.list"
		done
	done
}

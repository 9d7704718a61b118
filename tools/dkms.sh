#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memvirt through DKMS (dkms.conf at the top of the tree).
#
#   dkms.sh install [KVER]  copy the module sources to /usr/src/memvirt-<ver>,
#                           then dkms add, build and install for KVER (default:
#                           the running kernel; its headers must be installed).
#                           DKMS rebuilds it for every kernel installed later.
#   dkms.sh remove          dkms remove for all kernels, delete the sources.
#   dkms.sh test KDIR...    make check's test: add, build against each kernel
#                           build tree KDIR, check the result, remove; all in
#                           a private tree, so nothing is installed anywhere.
#   dkms.sh sources DIR     copy (sync) the module sources into DIR: what
#                           DKMS builds from, and the test harness too.
set -eu -o pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
NAME=memvirt
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$TOP/dkms.conf")
# The Kbuild tree of memvirt.ko, the one list of it: DKMS and the test
# harness (tools/vmtest/build.sh) both copy it with copy_sources. Entries
# not there yet are skipped.
SOURCES="Kbuild dkms.conf include module ept dedup swap policy"

log() { printf '[dkms] %s\n' "$*" >&2; }
die() { printf '[dkms] error: %s\n' "$*" >&2; exit 2; }

[ -n "$VERSION" ] || die "no PACKAGE_VERSION in $TOP/dkms.conf"

# copy_sources DIR: sync the module sources into DIR, without build
# products; what is there already is kept, for an incremental build.
copy_sources() {
	local s
	mkdir -p "$1"
	for s in $SOURCES; do
		[ -e "$TOP/$s" ] || continue
		rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
			--exclude='*.mod*' "$TOP/$s" "$1/"
	done
}

need_dkms() {
	command -v dkms >/dev/null || die "dkms is not installed (apt-get install dkms)"
}

# release KDIR: the kernel release a build tree is for (what vermagic says).
release() {
	sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$1/include/generated/utsrelease.h" 2>/dev/null
}

install() {
	local kver=${1:-$(uname -r)}
	need_dkms
	[ "$(id -u)" -eq 0 ] || die "run as root"
	[ -e "/lib/modules/$kver/build" ] ||
		die "no headers for $kver in /lib/modules/$kver/build (Debian: apt-get install linux-headers-$kver)"
	# Re-installing the same version replaces it.
	if dkms status -m "$NAME" -v "$VERSION" | grep -q .; then
		dkms remove -m "$NAME" -v "$VERSION" --all >&2
	fi
	rm -rf "/usr/src/$NAME-$VERSION"
	copy_sources "/usr/src/$NAME-$VERSION"
	dkms add -m "$NAME" -v "$VERSION" >&2
	dkms build -m "$NAME" -v "$VERSION" -k "$kver" >&2
	dkms install -m "$NAME" -v "$VERSION" -k "$kver" >&2
	log "installed $NAME $VERSION for $kver: modprobe memvirt"
}

remove() {
	need_dkms
	[ "$(id -u)" -eq 0 ] || die "run as root"
	if dkms status -m "$NAME" -v "$VERSION" | grep -q .; then
		dkms remove -m "$NAME" -v "$VERSION" --all >&2
	else
		log "$NAME $VERSION is not in DKMS"
	fi
	rm -rf "/usr/src/$NAME-$VERSION"
}

# test KDIR...: every step must succeed and leave what it should: the
# module source registered, a memvirt.ko per kernel whose vermagic names
# that kernel, and nothing left after remove.
TMP=""
test_dkms() {
	local tmp kdir kver ko trees signer
	[ $# -gt 0 ] || die "usage: dkms.sh test KDIR..."
	need_dkms
	TMP=$(mktemp -d)
	tmp=$TMP
	trap 'rm -rf "$TMP"' EXIT
	trees=(--dkmstree "$tmp/dkms" --sourcetree "$tmp/src" --installtree "$tmp/install")
	mkdir -p "$tmp/dkms" "$tmp/install"
	copy_sources "$tmp/src/$NAME-$VERSION"
	dkms add -m "$NAME" -v "$VERSION" "${trees[@]}" >&2
	dkms status -m "$NAME" -v "$VERSION" "${trees[@]}" | grep -q added ||
		die "dkms add: $NAME $VERSION is not 'added'"
	for kdir in "$@"; do
		kver=$(release "$kdir")
		[ -n "$kver" ] || die "no kernel release in $kdir"
		log "dkms build -k $kver ($kdir)"
		# DKMS signs what it builds, as for Secure Boot; with a key of its
		# own here, never the host's (/var/lib/dkms/mok.key).
		sign_file=$kdir/scripts/sign-file mok_signing_key=$tmp/mok.key \
		mok_certificate=$tmp/mok.pub \
		dkms build -m "$NAME" -v "$VERSION" -k "$kver" --kernelsourcedir "$kdir" \
			"${trees[@]}" >"$tmp/build-$kver.log" 2>&1 ||
			{ cat "$tmp/build-$kver.log" "$tmp/dkms/$NAME/$VERSION/build/make.log" >&2 2>/dev/null;
			  die "dkms build for $kver failed"; }
		ko=$(find "$tmp/dkms/$NAME/$VERSION/$kver" -name "$NAME.ko*" | head -n1)
		[ -n "$ko" ] || die "dkms build for $kver left no $NAME.ko"
		case "$ko" in
		*.xz) xz -dc "$ko" >"$tmp/$NAME.ko" ;;
		*.zst) zstd -qdc "$ko" >"$tmp/$NAME.ko" ;;
		*) cp "$ko" "$tmp/$NAME.ko" ;;
		esac
		[ "$(modinfo -F vermagic "$tmp/$NAME.ko" | cut -d' ' -f1)" = "$kver" ] ||
			die "$ko is not built for $kver: $(modinfo -F vermagic "$tmp/$NAME.ko")"
		[ "$(modinfo -F version "$tmp/$NAME.ko")" = "$VERSION" ] ||
			die "$ko says version $(modinfo -F version "$tmp/$NAME.ko"), dkms.conf $VERSION"
		signer=$(modinfo -F signer "$tmp/$NAME.ko")
		[ -n "$signer" ] || die "$ko is not signed (log: $tmp/build-$kver.log)"
		dkms status -m "$NAME" -v "$VERSION" -k "$kver" "${trees[@]}" | grep -q built ||
			die "dkms status does not show $NAME $VERSION built for $kver"
		log "built $NAME $VERSION for $kver, signed by '$signer'"
	done
	dkms remove -m "$NAME" -v "$VERSION" --all "${trees[@]}" >&2
	[ ! -e "$tmp/dkms/$NAME/$VERSION" ] || die "dkms remove left $tmp/dkms/$NAME/$VERSION"
	[ -z "$(find "$tmp/install" -name "$NAME.ko*")" ] || die "a $NAME.ko was installed"
	log "add, build for $# kernels, remove: ok"
}

case "${1:-}" in
install) install "${2:-}" ;;
remove) remove ;;
test) shift; test_dkms "$@" ;;
sources) copy_sources "${2:?usage: dkms.sh sources DIR}" ;;
*) die "usage: dkms.sh install [KVER] | remove | test KDIR... | sources DIR" ;;
esac

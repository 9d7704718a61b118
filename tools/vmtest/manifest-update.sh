#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate tools/vmtest/manifest.txt from the last run (build/check): for
# each kernel that ran, the manifest ids of what its plan covered
# (vm-<kernel>/scope.txt) are replaced by the tests that reported a result,
# whatever it was. The rest of the manifest is kept, so a `make selftest
# T=<program>` run updates just that program. Review the diff before
# committing it: a test that vanished is a deletion there.
# Usage: manifest-update.sh   (or: make manifest)
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

OUT=$MEMVIRT_TOP/build/check
MANIFEST=$VMTEST_DIR/manifest.txt
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

ran=""
for d in "$OUT"/vm-*; do
	[ -f "$d/parsed.txt" ] && [ -f "$d/scope.txt" ] && ran="$ran $d"
done
[ -n "$ran" ] || die "no results in $OUT: run make check (or check-kernel, selftest) first"

# The manifest without what the runs covered...
while read -r id; do
	case "$id" in ''|'#'*) continue ;; esac
	keep=1
	for d in $ran; do
		while read -r g; do
			# shellcheck disable=SC2053 # a glob on purpose
			[[ $id == $g ]] && keep=0
		done <"$d/scope.txt"
	done
	[ $keep -eq 1 ] && echo "$id"
done < <(cat "$MANIFEST" 2>/dev/null) >"$tmp"
# ... plus every step and single test they reported (not the FAIL of a whole
# program or suite: kernel:kind:program).
for d in $ran; do
	awk '{ n = split($2, f, ":"); if (f[2] == "step" || n >= 4) print $2 }' "$d/parsed.txt"
done >>"$tmp"
{
	echo "# Every result make check expects: <kernel>:<kind>:<program or suite>:<test>."
	echo "# A missing or an unexpected one fails the run. Regenerate with"
	echo "# 'make manifest' after a run; see Documentation/dev/testing.rst."
	grep -v '^#' "$tmp" | sort -u
} >"$MANIFEST"
log "$MANIFEST: $(grep -vc '^#' "$MANIFEST") ids (from$(for d in $ran; do printf ' %s' "${d##*/}"; done))"
git -C "$MEMVIRT_TOP" diff --stat -- "$MANIFEST" >&2 || true

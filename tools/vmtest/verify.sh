#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Hold one VM's parsed results (parse.sh) to the manifest and the skip
# allowlist. Prints the results again, with
#   - a SKIP whose id matches no glob of SKIPS turned into a FAIL,
#   - "FAIL <id> (missing: ...)" for every manifest id in SCOPE with no result,
#   - "FAIL <id> (unexpected: ...)" for every test id not in the manifest.
# SCOPE holds one id glob per line: what the VM's plan ran (a --only or
# --kernel run checks only its own part of the manifest).
# Usage: verify.sh MANIFEST SKIPS SCOPE PARSED
set -eu -o pipefail
manifest=$1 skips=$2 scope=$3 parsed=$4

# test_id ID: true for the ids the manifest lists: steps and single tests
# (kernel:kind:program:test); a FAIL of a whole program or suite
# (kernel:kind:program) is not a test of its own.
test_id() {
	local IFS=: f
	read -r -a f <<<"$1"
	[ "${f[1]:-}" = step ] || [ "${#f[@]}" -ge 4 ]
}

# matches ID FILE: ID matches a glob (first field) of a line of FILE.
matches() {
	local g _
	while read -r g _; do
		case "$g" in ''|'#'*) continue ;; esac
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $1 == $g ]] && return 0
	done <"$2"
	return 1
}

declare -A seen expected
while read -r id; do
	case "$id" in ''|'#'*) continue ;; esac
	expected[$id]=1
done <"$manifest"

while read -r st id rest; do
	[ -n "$id" ] || continue
	seen[$id]=1
	if [ "$st" = SKIP ] && ! matches "$id" "$skips"; then
		echo "FAIL $id (skipped, and not on the skip allowlist tools/vmtest/skips.txt)"
		continue
	fi
	echo "$st $id${rest:+ $rest}"
	if test_id "$id" && [ -z "${expected[$id]:-}" ]; then
		echo "FAIL $id (unexpected: not in the manifest, add it to tools/vmtest/manifest.txt: make manifest)"
	fi
done <"$parsed"

for id in "${!expected[@]}"; do
	[ -n "${seen[$id]:-}" ] && continue
	matches "$id" "$scope" || continue
	echo "FAIL $id (missing: in the manifest, but no result)"
done | sort

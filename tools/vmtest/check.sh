#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memvirt's test command (make check). Prepares everything it needs, builds,
# lints, self-tests the harness, then boots the distro and the debug kernel in
# QEMU and runs KUnit and the kselftests there. Ends with
#   N passed, N failed, N skipped
# and exits non-zero on any failure, kernel splat, missing result or hang.
#
#   check.sh [--kernel distro|debug] [--only PROGRAM] [--shell|--demo|--bench]
# Documentation/dev/testing.rst explains it.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

kernels="distro debug"
only="" mode=check
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernels=$2; shift ;;
	--only) only=$2; shift ;;
	--shell) mode=shell ;;
	--demo) mode=demo ;;
	--bench) mode=bench ;;
	*) die "unknown option $1" ;;
	esac
	shift
done
for k in $kernels; do
	case "$k" in distro|debug) ;; *) die "unknown kernel '$k' (distro or debug)" ;; esac
done

OUT=$MEMVIRT_TOP/build/check
rm -rf "$OUT" && mkdir -p "$OUT"
RESULTS=$OUT/results.txt
DETAILS=$OUT/failures.txt
: >"$RESULTS"
: >"$DETAILS"
T0=$(now_s)

# Per-test timeouts inside the VM, and per-boot limits (TCG, and KASAN on
# the debug kernel, make everything slow).
KSFT_TIMEOUT=${KSFT_TIMEOUT:-600}
VM_LIMIT_distro=${VM_LIMIT_DISTRO:-1500}
VM_LIMIT_debug=${VM_LIMIT_DEBUG:-2700}

# Kernel messages that mean a bug, whatever the tests said.
SPLAT_RE='BUG:|WARNING:|Oops|KASAN|general protection fault|Kernel panic|kernel BUG|'
SPLAT_RE+='possible recursive locking|possible circular locking|inconsistent lock state|'
SPLAT_RE+='INFO: possible|unreferenced object|UBSAN|Bad page|list_add corruption|'
SPLAT_RE+='list_del corruption|blocked for more than|soft lockup|hard LOCKUP|'
SPLAT_RE+='rcu: INFO|Call Trace:'

record() { echo "$1 $2" >>"$RESULTS"; printf '  %-4s %s\n' "$1" "$2"; }

# phase NAME CMD...: run a set-up or build step; its failure is one FAIL.
phase() {
	local name=$1 t rc=0
	shift
	t=$(now_s)
	log "phase $name"
	"$@" >"$OUT/$name.log" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		record PASS "$name"
	else
		record FAIL "$name"
		{ echo "===== $name ====="; tail -n 60 "$OUT/$name.log"; } >>"$DETAILS"
		tail -n 30 "$OUT/$name.log" >&2
	fi
	log "phase $name: $(( $(now_s) - t ))s"
	return $rc
}

# scan_splats KERNEL CONSOLE_LOG: every splat is a failure.
scan_splats() {
	local kernel=$1 console=$2
	if grep -qE "$SPLAT_RE" "$console"; then
		record FAIL "$kernel:kernel-log (splat)"
		{ echo "===== $kernel kernel log splats ====="
		  grep -nE -A25 "$SPLAT_RE" "$console" | head -n 200; } >>"$DETAILS"
	else
		record PASS "$kernel:kernel-log (no splat)"
	fi
}

# The kselftest programs, module_test last (it unloads memvirt).
kselftests() {
	local p
	for p in "$MEMVIRT_TOP"/build/selftests/*_test; do
		p=$(basename "$p")
		[ -n "$only" ] && [ "$p" != "$only" ] && continue
		[ "$p" = module_test ] && continue
		echo "$p"
	done
	if [ -z "$only" ] || [ "$only" = module_test ]; then
		[ -x "$MEMVIRT_TOP/build/selftests/module_test" ] && echo module_test
	fi
	return 0
}

# write_plan KERNEL FILE: what the guest runs.
write_plan() {
	local kernel=$1 plan=$2 p
	{
		echo 'step load-memvirt "insmod /memvirt/memvirt.ko"'
		if [ "$kernel" = debug ] && [ -z "$only" ]; then
			echo 'kunit /memvirt/memvirt_kunit.ko'
		fi
		for p in $(kselftests); do
			echo "kselftest $p $KSFT_TIMEOUT"
		done
	} >"$plan"
}

# start_kernel KERNEL: boot it in the background with its plan. Each QEMU
# is single-threaded (see vm.sh), so the two kernels' VMs run side by side
# on a two-core host at full speed each.
declare -A VM_PID VM_T0
start_kernel() {
	local kernel=$1 dir limit
	dir=$OUT/vm-$kernel
	mkdir -p "$dir"
	write_plan "$kernel" "$dir/plan.sh"
	limit=VM_LIMIT_$kernel
	log "booting the $kernel kernel ($(grep -c . "$dir/plan.sh") plan steps)"
	VM_T0[$kernel]=$(now_s)
	"$VMTEST_DIR/vm.sh" "$kernel" "$dir/plan.sh" "$dir" "${!limit}" 2>"$dir/vm.err" &
	VM_PID[$kernel]=$!
}

# finish_kernel KERNEL: wait for its VM, then parse its results and scan
# its kernel log.
finish_kernel() {
	local kernel=$1 dir=$OUT/vm-$1 rc=0
	wait "${VM_PID[$kernel]}" || rc=$?
	cat "$dir/vm.err" >&2
	[ $rc -eq 0 ] && record PASS "$kernel:boot-and-finish" ||
		record FAIL "$kernel:boot-and-finish (hung, crashed or did not boot; see $dir/console.log)"
	"$VMTEST_DIR/parse.sh" "$kernel" "$dir/results.log" "$DETAILS" >"$dir/parsed.txt" || true
	while read -r st id; do record "$st" "$id"; done <"$dir/parsed.txt"
	grep -q . "$dir/parsed.txt" || record FAIL "$kernel:results (no test result at all)"
	scan_splats "$kernel" "$dir/console.log"
	log "phase $kernel VM: $(( $(now_s) - ${VM_T0[$kernel]} ))s"
}

# Harness self-test: a failing KUnit case, a failing kselftest and a kernel
# warning must each be caught; so must a guest that never powers off.
harness_selftest() {
	local dir=$OUT/vm-canary t hang_pid hang_rc
	t=$(now_s)
	mkdir -p "$dir" "$OUT/vm-hang"
	echo 'step hang "sleep 100000"' >"$OUT/vm-hang/plan.sh"
	"$VMTEST_DIR/vm.sh" distro "$OUT/vm-hang/plan.sh" "$OUT/vm-hang" 40 \
		>/dev/null 2>"$OUT/vm-hang/vm.err" &
	hang_pid=$!
	cat >"$dir/plan.sh" <<-'PLAN'
	kunit /memvirt/vmtest_canary_kunit.ko
	kselftest ksft_canary 60
	step canary-warn "insmod /memvirt/vmtest_canary_warn.ko"
	PLAN
	"$VMTEST_DIR/vm.sh" debug "$dir/plan.sh" "$dir" 600 >/dev/null 2>&1 || true
	"$VMTEST_DIR/parse.sh" canary "$dir/results.log" /dev/null >"$dir/parsed.txt" || true
	expect_line "PASS canary:kunit:vmtest_canary:vmtest_canary_passes" "passing KUnit case passes"
	expect_line "FAIL canary:kunit:vmtest_canary:vmtest_canary_fails" "failing KUnit case fails"
	expect_line "PASS canary:kselftest:ksft_canary:global.canary_passes" "passing kselftest passes"
	expect_line "FAIL canary:kselftest:ksft_canary:global.canary_fails" "failing kselftest fails"
	expect_line "SKIP canary:kselftest:ksft_canary:global.canary_skips" "skipped kselftest skips"
	if grep -qE "$SPLAT_RE" "$dir/console.log" 2>/dev/null &&
	   grep -q 'vmtest canary: deliberate warning' "$dir/console.log"; then
		record PASS "harness:kernel WARN is caught"
	else
		record FAIL "harness:kernel WARN is caught"
	fi
	# Started at the top, in parallel: a guest that never powers off must be
	# killed and reported.
	wait "$hang_pid" && hang_rc=0 || hang_rc=$?
	if [ "$hang_rc" -ne 0 ] && grep -q 'did not' "$OUT/vm-hang/vm.err"; then
		record PASS "harness:hung guest is caught"
	else
		record FAIL "harness:hung guest is caught"
	fi
	log "phase harness self-test: $(( $(now_s) - t ))s"
}

expect_line() {
	if grep -qxF "$1" "$OUT/vm-canary/parsed.txt"; then
		record PASS "harness:$2"
	else
		record FAIL "harness:$2"
		{ echo "===== harness self-test: expected '$1' ====="
		  cat "$OUT/vm-canary/parsed.txt"; } >>"$DETAILS"
	fi
}

summary() {
	local p f s
	p=$(grep -c '^PASS' "$RESULTS" || true)
	f=$(grep -c '^FAIL' "$RESULTS" || true)
	s=$(grep -c '^SKIP' "$RESULTS" || true)
	if [ "$f" -gt 0 ]; then
		echo
		echo "Failures (details in $DETAILS):"
		grep '^FAIL' "$RESULTS" | sed 's/^/  /'
		echo
		head -c 20000 "$DETAILS"
	fi
	log "total wall time: $(( $(now_s) - T0 ))s"
	echo "$p passed, $f failed, $s skipped"
	[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
}

needs_debug() { case " $kernels " in *" debug "*) return 0 ;; esac; return 1; }

phase deps "$VMTEST_DIR/build.sh" deps || { summary; exit 1; }
phase kernel-distro "$VMTEST_DIR/kernels.sh" distro || { summary; exit 1; }
if needs_debug; then
	phase kernel-debug "$VMTEST_DIR/kernels.sh" debug || { summary; exit 1; }
fi
for k in $kernels; do
	phase "build-memvirt-$k" "$VMTEST_DIR/build.sh" module "$k" || true
done
phase build-selftests "$VMTEST_DIR/build.sh" selftests || true

case "$mode" in
shell)
	printf 'insmod /memvirt/memvirt.ko\nmkdir -p /run/memvirt\nmount -t memvirtfs memvirt /run/memvirt\n' \
		>"$OUT/shell-plan.sh"
	exec "$VMTEST_DIR/vm.sh" "${kernels%% *}" "$OUT/shell-plan.sh" "$OUT/vm-shell" 0 shell
	;;
demo|bench)
	dir=$OUT/vm-$mode
	mkdir -p "$dir"
	"$VMTEST_DIR/plan-$mode.sh" >"$dir/plan.sh"
	rc=0
	"$VMTEST_DIR/vm.sh" distro "$dir/plan.sh" "$dir" 1800 || rc=$?
	sed -n '/^@@TEST-BEGIN/,/^@@TEST-END/{/^@@/d;p}' "$dir/results.log"
	if grep -qE "$SPLAT_RE" "$dir/console.log"; then
		grep -nE -A20 "$SPLAT_RE" "$dir/console.log" | head -n 60
		die "kernel splat during the $mode run"
	fi
	exit $rc
	;;
esac

if [ -z "$only" ]; then
	phase checkpatch "$VMTEST_DIR/build.sh" checkpatch || true
	needs_debug && { phase build-canary "$VMTEST_DIR/build.sh" canary || true; }
fi
# The debug kernel's VM is the longest: it starts first and the harness
# self-test and the distro VM run beside it.
needs_debug && start_kernel debug
if [ -z "$only" ] && needs_debug; then
	harness_selftest
fi
for k in $kernels; do
	[ "$k" = debug ] || start_kernel "$k"
done
for k in $kernels; do
	[ "$k" = debug ] || finish_kernel "$k"
done
needs_debug && finish_kernel debug
summary

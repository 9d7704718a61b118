#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memvirt's test command (make check). Prepares everything it needs, builds,
# lints, self-tests the harness, then boots four kernels in QEMU (Debian's
# 6.1 and 6.12, and a debug build of each: lib.sh's KERNELS_ALL) and runs
# KUnit and the kselftests there. Ends with
#   N passed, N failed, N skipped
# and exits non-zero on any failure, kernel splat, missing result or hang.
#
#   check.sh [--kernel "KERNEL..."] [--only "PROGRAM..."] [--shell|--demo|--bench]
# Documentation/dev/testing.rst explains it.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

kernels=$KERNELS_ALL
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
names=""
for k in $kernels; do
	k=$(kernel_name "$k")
	names="$names $k"
done
kernels=${names# }

OUT=$MEMVIRT_TOP/build/check
rm -rf "$OUT" && mkdir -p "$OUT"
RESULTS=$OUT/results.txt
DETAILS=$OUT/failures.txt
: >"$RESULTS"
: >"$DETAILS"
T0=$(now_s)

# Deadlines of the plan steps (seconds; TCG, and KASAN on the debug kernel,
# make everything slow): every kselftest program (tools/vmtest/timeouts.txt
# overrides it per program), the KUnit module (its load runs the suites),
# loading memvirt. The guest announces each, and vm.sh kills the VM when one
# is overrun: whatever hangs, the run ends within 5 minutes. The per-boot
# limits are only a backstop.
KSFT_TIMEOUT=${KSFT_TIMEOUT:-240}
KUNIT_TIMEOUT=${KUNIT_TIMEOUT:-120}
LOAD_TIMEOUT=60
VM_LIMIT_distro=${VM_LIMIT_DISTRO:-1500}
VM_LIMIT_debug=${VM_LIMIT_DEBUG:-2700}
CANARY_DISTRO=distro-$TOOLS_SERIES
CANARY_DEBUG=debug-$TOOLS_SERIES
MANIFEST=$VMTEST_DIR/manifest.txt
SKIPS=$VMTEST_DIR/skips.txt
TIMEOUTS=$VMTEST_DIR/timeouts.txt

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

# scan_splats KERNEL CONSOLE_LOG [DETAILS]: print the result of the kernel
# log scan; every splat is a failure, and so is a missing or empty log (a VM
# that never started has no splat to find).
scan_splats() {
	local kernel=$1 console=$2 details=${3:-$DETAILS}
	if [ ! -s "$console" ]; then
		echo "FAIL $kernel:kernel-log (no console log: $console)"
	elif grep -qaE "$SPLAT_RE" "$console"; then
		echo "FAIL $kernel:kernel-log (splat)"
		{ echo "===== $kernel kernel log splats ====="
		  grep -naE -A25 "$SPLAT_RE" "$console" | head -n 200; } >>"$details"
	else
		echo "PASS $kernel:kernel-log (no splat)"
	fi
}

# vm_results LABEL DIR VM_RC DETAILS [MANIFEST SKIPS]: print the results of
# one VM: the watcher's verdict, boot-and-finish, every test (held to the
# manifest and the skip allowlist when given; DIR/scope.txt says which part
# of the manifest the plan ran), and the kernel log scan.
vm_results() {
	local label=$1 dir=$2 rc=$3 details=$4 manifest=${5:-} skips=${6:-}
	if [ -f "$dir/watchdog.txt" ]; then
		echo "FAIL $label:$(cat "$dir/watchdog.txt")"
		{ echo "===== $label:$(cat "$dir/watchdog.txt") (console) ====="
		  cat "$dir/watchdog-excerpt.txt" 2>/dev/null || true; } >>"$details"
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS $label:boot-and-finish"
	else
		echo "FAIL $label:boot-and-finish (hung, crashed or did not boot; see $dir/console.log)"
	fi
	"$VMTEST_DIR/parse.sh" "$label" "$dir/results.log" "$details" >"$dir/parsed.txt" || true
	if [ -n "$manifest" ]; then
		"$VMTEST_DIR/verify.sh" "$manifest" "$skips" "$dir/scope.txt" "$dir/parsed.txt"
	else
		cat "$dir/parsed.txt"
	fi
	grep -q . "$dir/parsed.txt" || echo "FAIL $label:results (no test result at all)"
	scan_splats "$label" "$dir/console.log" "$details"
}

# only_has PROGRAM: whether --only (a space-separated list) names it.
only_has() {
	case " $only " in *" $1 "*) return 0 ;; esac
	return 1
}

# The kselftest programs, module_test last (it unloads memvirt).
kselftests() {
	local p
	for p in "$MEMVIRT_TOP"/build/selftests/*_test; do
		p=$(basename "$p")
		[ -n "$only" ] && ! only_has "$p" && continue
		[ "$p" = module_test ] && continue
		echo "$p"
	done
	if [ -z "$only" ] || only_has module_test; then
		[ -x "$MEMVIRT_TOP/build/selftests/module_test" ] && echo module_test
	fi
	return 0
}

# ksft_timeout KERNEL PROGRAM: its deadline, from timeouts.txt
# ("<kernel|flavour|*> <program> <seconds> <reason>") or the default.
ksft_timeout() {
	local k p t
	while read -r k p t _; do
		case "$k" in ''|'#'*) continue ;; esac
		if [ "$p" = "$2" ] && { [ "$k" = "$1" ] || [ "$k" = "$(kernel_flavour "$1")" ] ||
					[ "$k" = '*' ]; }; then
			echo "$t"
			return
		fi
	done <"$TIMEOUTS"
	echo "$KSFT_TIMEOUT"
}

# runs_on KERNEL PROGRAM: whether the program runs on that kernel. The
# stock QEMU guest tests (qemu_guest_*_test) run on the distro kernels only:
# on a debug kernel one real L2 guest's boot takes 2.5 to 4 minutes (every
# first touch of its RAM is a memvirt fault under KASAN and lockdep, nested
# under TCG), more than a program's deadline leaves for the tests after it.
# Named with --only (make selftest T=...), they run anywhere.
runs_on() {
	case "$2" in
	qemu_guest_*_test|qemu_guest_test)
		[ "$(kernel_flavour "$1")" = distro ] || only_has "$2" ;;
	*) return 0 ;;
	esac
}

# write_plan KERNEL FILE SCOPE: what the guest runs, and the id globs of the
# manifest that this plan covers.
write_plan() {
	local kernel=$1 plan=$2 scope=$3 p
	{
		echo 'step -t 30 boot-numa "test -d /sys/devices/system/node/node1 &&'\
' cat /sys/devices/system/node/online"'
		echo "step -t $LOAD_TIMEOUT load-memvirt \"insmod /memvirt/memvirt.ko\""
		if [ "$(kernel_flavour "$kernel")" = debug ] && [ -z "$only" ]; then
			echo "kunit /memvirt/memvirt_kunit.ko $KUNIT_TIMEOUT"
		fi
		for p in $(kselftests); do
			runs_on "$kernel" "$p" || continue
			echo "kselftest $p $(ksft_timeout "$kernel" "$p")"
		done
	} >"$plan"
	{
		echo "$kernel:step:boot-numa"
		echo "$kernel:step:load-memvirt"
		[ "$(kernel_flavour "$kernel")" = debug ] && [ -z "$only" ] && echo "$kernel:kunit:*"
		for p in $(kselftests); do
			runs_on "$kernel" "$p" || continue
			echo "$kernel:kselftest:$p:*"
		done
	} >"$scope"
}

# start_kernel KERNEL: boot it in the background with its plan. Each QEMU
# is single-threaded (see vm.sh), so the two kernels' VMs run side by side
# on a two-core host at full speed each.
declare -A VM_PID VM_T0
start_kernel() {
	local kernel=$1 dir limit
	dir=$OUT/vm-$kernel
	mkdir -p "$dir"
	write_plan "$kernel" "$dir/plan.sh" "$dir/scope.txt"
	limit=VM_LIMIT_$(kernel_flavour "$kernel")
	log "booting the $kernel kernel ($(grep -c . "$dir/plan.sh") plan steps)"
	VM_T0[$kernel]=$(now_s)
	"$VMTEST_DIR/vm.sh" "$kernel" "$dir/plan.sh" "$dir" "${!limit}" 2>"$dir/vm.err" &
	VM_PID[$kernel]=$!
}

# finish_kernel KERNEL: wait for its VM, then record its results.
finish_kernel() {
	local kernel=$1 dir=$OUT/vm-$1 rc=0
	wait "${VM_PID[$kernel]}" || rc=$?
	cat "$dir/vm.err" >&2
	vm_results "$kernel" "$dir" "$rc" "$DETAILS" "$MANIFEST" "$SKIPS" >"$dir/final.txt"
	while read -r st id; do record "$st" "$id"; done <"$dir/final.txt"
	log "phase $kernel VM: $(( $(now_s) - ${VM_T0[$kernel]} ))s"
}

# canary_vm NAME KERNEL LIMIT PLAN: boot a self-test VM in the background;
# the ids of its plan's steps become its manifest (scope: all of it).
declare -A CANARY_PID
canary_vm() {
	local name=$1 kernel=$2 limit=$3 dir=$OUT/canary-$1
	mkdir -p "$dir"
	printf '%s\n' "$4" >"$dir/plan.sh"
	sed -n 's/^step \(-t [0-9]* \)\{0,1\}\([^ ]*\) .*/canary:step:\2/p' "$dir/plan.sh" \
		>"$dir/manifest.txt"
	echo 'canary:*' >"$dir/scope.txt"
	"$VMTEST_DIR/vm.sh" "$kernel" "$dir/plan.sh" "$dir" "$limit" >/dev/null 2>"$dir/vm.err" &
	CANARY_PID[$name]=$!
}

# canary_wait NAME [MANIFEST]: wait for it; its results as a real run's.
canary_wait() {
	local name=$1 dir=$OUT/canary-$1 rc=0 t
	t=$(now_s)
	wait "${CANARY_PID[$name]}" || rc=$?
	: >"$dir/details.txt"
	vm_results canary "$dir" "$rc" "$dir/details.txt" ${2:+"$dir/manifest.txt"} \
		${2:+/dev/null} >"$dir/final.txt"
}

# expect NAME REGEX WHAT: a result line of self-test NAME must match REGEX.
expect() {
	if grep -qE "$2" "$OUT/canary-$1/final.txt"; then
		record PASS "harness:$3"
	else
		record FAIL "harness:$3"
		{ echo "===== harness self-test: $3: expected /$2/ in ====="
		  cat "$OUT/canary-$1/final.txt" "$OUT/canary-$1/watchdog.txt" 2>/dev/null; } >>"$DETAILS"
	fi
}

# Harness self-test: proves that each way a test can go wrong turns the run
# red, through the same code as the real runs (vm_results). VMs that must be
# stopped boot the distro kernel, in parallel, beside the debug-kernel VM of
# the misbehaving tests; checks of the host-side logic need no VM.
harness_selftest() {
	local t d=$OUT/canary-host
	t=$(now_s)
	canary_vm hang "$CANARY_DISTRO" 60 'step -t 1000 hang "sleep 100000"'
	canary_vm panic "$CANARY_DISTRO" 120 'step -t 30 before true
step -t 30 panic "insmod /memvirt/vmtest_canary_panic.ko"
step -t 30 after true'
	canary_vm block "$CANARY_DISTRO" 300 'step -t 15 block "insmod /memvirt/vmtest_canary_block.ko"
step -t 30 after true'
	canary_vm hungtask "$CANARY_DISTRO" 300 'step -t 10 hung-5s "echo 5 >/proc/sys/kernel/hung_task_timeout_secs"
step -t 200 block "insmod /memvirt/vmtest_canary_block.ko"'
	canary_vm debug "$CANARY_DEBUG" 600 'kunit /memvirt/vmtest_canary_kunit.ko 60
kunit /memvirt/vmtest_canary_noload.ko 30
kselftest ksft_canary 60
kselftest ksft_crash 30
kselftest ksft_exit 30
kselftest ksft_plan 30
kselftest ksft_sleep 5
step -t 5 orphan-at-deadline "sleep 601 & sleep 100"
step -t 5 orphan-at-end "sleep 602 & true"
step -t 10 orphans-gone "! ps | grep \"slee[p] 60[12]\""
step -t 30 canary-warn "insmod /memvirt/vmtest_canary_warn.ko"'

	# Host side: the console scan, the manifest and the skip allowlist.
	mkdir -p "$d"
	{
		scan_splats canary "$d/no-such-console.log" /dev/null
		printf '%s\n' 'c:kselftest:p:t1' 'c:kselftest:p:gone' 'c:kselftest:p:s1' \
			'c:kselftest:p:s2' 'c:kselftest:other:t' >"$d/manifest.txt"
		printf '%s\n' 'PASS c:kselftest:p:t1' 'PASS c:kselftest:p:new' \
			'SKIP c:kselftest:p:s1' 'SKIP c:kselftest:p:s2' >"$d/parsed.txt"
		echo 'c:kselftest:p:s2 allowed here (harness self-test)' >"$d/skips.txt"
		echo 'c:kselftest:p:*' >"$d/scope.txt"
		"$VMTEST_DIR/verify.sh" "$d/manifest.txt" "$d/skips.txt" "$d/scope.txt" "$d/parsed.txt"
	} >"$d/final.txt" 2>&1
	expect host '^FAIL canary:kernel-log \(no console log' "missing console log is a failure"
	expect host '^FAIL c:kselftest:p:gone \(missing' "missing manifest entry is a failure"
	expect host '^FAIL c:kselftest:p:new \(unexpected' "result not in the manifest is a failure"
	expect host '^FAIL c:kselftest:p:s1 \(skipped' "skip not on the allowlist is a failure"
	if grep -qE '^FAIL c:kselftest:(p:t1|p:s2|other)' "$d/final.txt"; then
		record FAIL "harness:manifest check passes what it should"
		cat "$d/final.txt" >>"$DETAILS"
	else
		record PASS "harness:manifest check passes what it should"
	fi

	canary_wait debug
	expect debug '^PASS canary:kunit:vmtest_canary:vmtest_canary_passes$' "passing KUnit case passes"
	expect debug '^FAIL canary:kunit:vmtest_canary:vmtest_canary_fails$' "failing KUnit case fails"
	expect debug '^FAIL canary:kunit:vmtest_canary_noload.ko ' "KUnit module that fails to load fails"
	expect debug '^PASS canary:kselftest:ksft_canary:global.canary_passes$' "passing kselftest passes"
	expect debug '^FAIL canary:kselftest:ksft_canary:global.canary_fails$' "failing kselftest fails"
	expect debug '^SKIP canary:kselftest:ksft_canary:global.canary_skips$' "skipped kselftest skips"
	expect debug '^FAIL canary:kselftest:ksft_crash \(exit 139' "kselftest crashing (SIGSEGV) fails"
	expect debug '^FAIL canary:kselftest:ksft_exit \(exit 3 with no failing test' \
		"kselftest exiting non-zero with no failing test fails"
	expect debug '^FAIL canary:kselftest:ksft_plan \(plan 1..3 but 2 results' "TAP plan mismatch fails"
	expect debug '^FAIL canary:kselftest:ksft_sleep \(timed out' "kselftest over its timeout fails"
	expect debug '^FAIL canary:step:orphan-at-deadline \(exit 137' "step over its timeout fails"
	expect debug '^PASS canary:step:orphans-gone$' \
		"what a step started dies with it, at its deadline or its end"
	if grep -q '^FAIL canary:kernel-log (splat)' "$OUT/canary-debug/final.txt" &&
	   grep -q 'vmtest canary: deliberate warning' "$OUT/canary-debug/console.log"; then
		record PASS "harness:kernel WARN is caught"
	else
		record FAIL "harness:kernel WARN is caught"
	fi

	canary_wait hang
	expect hang '^FAIL canary:[a-z:-]+ hung: VM limit 60s exceeded' "guest that never powers off is killed"
	canary_wait panic manifest
	expect panic '^FAIL canary:step:panic crashed: kernel panic' "panic mid-plan stops the VM, says panic"
	expect panic '^FAIL canary:step:after \(missing' "steps after a panic are missing"
	canary_wait block manifest
	expect block '^FAIL canary:step:block hung: deadline 25s exceeded' \
		"blocking module init is cut at its deadline"
	canary_wait hungtask manifest
	expect hungtask '^FAIL canary:step:block hung: hung task' "hung-task report stops the VM at once"
	# Cut by the watcher after the step ran this long: the deadline (25 s)
	# plus the grace (10 s) plus a poll; the hung-task report (5 s timeout)
	# long before the step's deadline (210 s). However slowly the VMs boot.
	b=$(cat "$OUT/canary-block/watchdog-seconds" 2>/dev/null || echo 999)
	h=$(cat "$OUT/canary-hungtask/watchdog-seconds" 2>/dev/null || echo 999)
	if [ "$b" -le 45 ] && [ "$h" -le 60 ]; then
		record PASS "harness:hangs are cut in time (block ${b}s, hung task ${h}s)"
	else
		record FAIL "harness:hangs are cut in time (block ${b}s of 25+10, hung task ${h}s of 60)"
	fi
	log "phase harness self-test: $(( $(now_s) - t ))s"
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

has_kernel() { case " $kernels " in *" $1 "*) return 0 ;; esac; return 1; }
# The harness self-test runs with the whole suite (not for one program), and
# needs the kernels its VMs boot.
selftest_harness=""
if [ -z "$only" ] && [ "$mode" = check ] && has_kernel "$CANARY_DEBUG"; then
	selftest_harness=yes
fi

phase deps "$VMTEST_DIR/build.sh" deps || { summary; exit 1; }
prepare=$kernels
[ -n "$selftest_harness" ] && ! has_kernel "$CANARY_DISTRO" && prepare="$prepare $CANARY_DISTRO"
for k in $prepare; do
	phase "kernel-$k" "$VMTEST_DIR/kernels.sh" "$k" || { summary; exit 1; }
done
phase build-selftests "$VMTEST_DIR/build.sh" selftests || true

case "$mode" in
shell|demo|bench)
	k=${kernels%% *}
	phase "build-memvirt-$k" "$VMTEST_DIR/build.sh" module "$k" || { summary; exit 1; }
	;;
esac
case "$mode" in
shell)
	printf 'insmod /memvirt/memvirt.ko\nmkdir -p /run/memvirt\nmount -t memvirtfs memvirt /run/memvirt\n' \
		>"$OUT/shell-plan.sh"
	exec "$VMTEST_DIR/vm.sh" "$k" "$OUT/shell-plan.sh" "$OUT/vm-shell" 0 shell
	;;
demo|bench)
	dir=$OUT/vm-$mode
	mkdir -p "$dir"
	"$VMTEST_DIR/plan-$mode.sh" >"$dir/plan.sh"
	rc=0
	# make bench runs every benchmark, consolidate_bench's six
	# configurations included: about 40 minutes on a distro kernel.
	limit=1800
	[ "$mode" = bench ] && limit=3600
	"$VMTEST_DIR/vm.sh" "$k" "$dir/plan.sh" "$dir" $limit || rc=$?
	sed -n '/^@@TEST-BEGIN/,/^@@TEST-END/{/^@@/d;/^csv: /d;p}' "$dir/results.log"
	# Reported only when the guest could not mount its swap disk.
	if grep -qa '^@@TEST-BEGIN harness:swap-disk' "$dir/results.log"; then
		log "the $k VM had no swap disk on /mnt/swap (see above)"
		rc=1
	fi
	if grep -qE "$SPLAT_RE" "$dir/console.log"; then
		grep -nE -A20 "$SPLAT_RE" "$dir/console.log" | head -n 60
		die "kernel splat during the $mode run"
	fi
	# make run: the overcommit demo's memvirtctl top -b, as a plot.
	if [ "$mode" = demo ]; then
		sed -n 's/^csv: //p' "$dir/results.log" | tr -d '\r' >"$dir/top.csv"
		if [ -s "$dir/top.csv" ] &&
		   "$VMTEST_DIR/plot-demo.sh" "$dir/top.csv" "$dir/memory.png" 128 >/dev/null; then
			log "memory by mechanism over time: $dir/memory.png (data: $dir/top.csv)"
		else
			log "no plot: memvirtctl top recorded nothing (see above)"
			rc=1
		fi
	fi
	exit $rc
	;;
esac

# of_flavour FLAVOUR: the run's kernels of that flavour, in order.
of_flavour() {
	local k
	for k in $kernels; do
		[ "$(kernel_flavour "$k")" = "$1" ] && echo "$k"
	done
	return 0
}

# The debug kernels' VMs are the longest: each boots as soon as its memvirt
# is built, and the remaining builds, the linting and the harness self-test
# run beside them; the distro kernels' VMs follow. With single-threaded QEMU
# the host's two cores are shared by whatever runs, so the order only
# decides which VM finishes last.
debug_kernels=$(of_flavour debug)
distro_kernels=$(of_flavour distro)
for k in $debug_kernels; do
	phase "build-memvirt-$k" "$VMTEST_DIR/build.sh" module "$k" || true
	start_kernel "$k"
done
if [ -z "$only" ]; then
	phase checkpatch "$VMTEST_DIR/build.sh" checkpatch || true
	# DKMS: add, build against every distro kernel's headers, remove, in a
	# private tree (nothing is installed on this machine).
	kdirs=""
	for k in $distro_kernels; do
		kdirs="$kdirs $(kdir "$k")"
	done
	# shellcheck disable=SC2086
	[ -z "$kdirs" ] || phase dkms "$MEMVIRT_TOP/tools/dkms.sh" test $kdirs || true
fi
for k in $distro_kernels; do
	phase "build-memvirt-$k" "$VMTEST_DIR/build.sh" module "$k" || true
done
if [ -n "$selftest_harness" ]; then
	for k in $CANARY_DISTRO $CANARY_DEBUG; do
		phase "build-canary-$k" "$VMTEST_DIR/build.sh" canary "$k" || true
	done
	harness_selftest
fi
# The distro kernels' VMs run the stock QEMU guests, nested guests that
# keep both host cores busy for minutes: beside them the debug kernels'
# timing-bound policy tests missed their periods, and the real guests
# themselves failed to boot far more often (nested SVM under TCG) with
# other VMs beside them. So the distro VMs start once the debug VMs are
# done, one after the other (about 45 minutes in all instead of 20).
for k in $debug_kernels; do
	finish_kernel "$k"
done
for k in $distro_kernels; do
	start_kernel "$k"
	finish_kernel "$k"
done
summary

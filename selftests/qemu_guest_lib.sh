# SPDX-License-Identifier: GPL-2.0
#
# Shared part of the stock QEMU guest tests (qemu_guest_test,
# qemu_guest_share_test, qemu_guest_swap_test); sourced, never run.
#
# Debian's own qemu-system-x86_64 (copied into the test VM by
# tools/vmtest/qemu-payload.sh) runs real Linux guests (Debian's 6.1 kernel,
# a busybox initramfs with virtio_balloon and the workload
# tools/vmtest/l2/l2work) under nested KVM, their RAM files on a memvirtfs
# mounted here with swapdir=/mnt/swap. Each guest fills data and checks it
# on command (checksums computed in the guest); the tests check those and
# memvirt's counters.
#
# A program sets GUESTS ("vm0" or "vm0 vm1"), OPTS_<guest> (appended to
# -device virtio-balloon-pci), optionally DOMAIN (the guests' sharing
# domain, set before they run), and calls qgt_begin with its test names,
# qgt_boot, its scenarios, and qgt_exit. TAP output (kselftest style) for
# tools/vmtest/parse.sh; the guests' consoles and QEMU's output are printed
# as "# " lines when a test fails. Documentation/dev/testing.rst, "Stock
# QEMU guests".
# shellcheck disable=SC2034,SC2154 # variables the programs use, or set by eval

SYS=/sys/kernel/memvirt
MNT=/run/memvirt
# QMP sockets: not inside the memvirtfs mount, which refuses sockets.
QMPDIR=/run/memvirt-qmp
W=/tmp/$(basename "$0")
QEMU=/usr/bin/qemu-system-x86_64
L2=/l2
MB=256			# RAM of each L2 guest, MiB
PAGES=$((MB * 256))
DATA_MB=${DATA_MB:-32}	# the data a guest fills and checks
DATA_PAGES=$((DATA_MB * 256))
# Seconds for an L2 guest to reach its workload: 22 to 60 s on a distro
# kernel. A boot that fails hangs, so give up well before the program's
# deadline and boot once more.
case "$(cat /kernel-kind 2>/dev/null)" in
debug*) BOOT_WAIT=${QGT_BOOT_WAIT:-150} ;;
*) BOOT_WAIT=${QGT_BOOT_WAIT:-90} ;;
esac
export PATH=/tests:$PATH
DEADLINE=400

ntest=0
nfail=0
tfail=0
SEQ=0

diag() { echo "# $*"; }
# bad MSG: the current test fails (it goes on, to report everything).
bad() { echo "# FAIL: $*"; tfail=1; }
# nested MSG: the current test could not run because QEMU's TCG emulation
# of nested SVM hung or killed the L2 guest in every attempt it had (boot
# retries, scenario reruns: Documentation/dev/testing.rst, "Stock QEMU
# guests"). It is reported as a skip (tools/vmtest/skips.txt), unless a
# live guest failed a check too.
nested() { echo "# SKIP: $*"; tskip="$*"; }
tskip=""
# result NAME: ok, not ok or skipped, per the checks since the last result.
result() {
	ntest=$((ntest + 1))
	if [ $tfail -ne 0 ]; then
		echo "not ok $ntest $1"
		nfail=$((nfail + 1))
		dump_logs
	elif [ -n "$tskip" ]; then
		echo "ok $ntest $1 # SKIP $tskip"
		dump_logs
	else
		echo "ok $ntest $1"
	fi
	tfail=0
	tskip=""
}
# give_up REASON: the remaining tests fail (are skipped, for "no guest
# (nested TCG)"); exit.
give_up() {
	for t in $TESTS; do
		case " $DONE " in *" $t "*) continue ;; esac
		ntest=$((ntest + 1))
		if [ "$1" = "no guest (nested TCG)" ]; then
			echo "ok $ntest $t # SKIP $1"
		else
			echo "not ok $ntest $t # $1"
		fi
	done
	[ "$1" = "no guest (nested TCG)" ] && exit 0
	exit 1
}

dump_logs() {
	for v in $GUESTS; do
		for f in "$W/$v.boot1.log" "$W/$v.died.log" "$W/$v.log"; do
			[ -f "$f" ] || continue
			echo "# ---- $(basename "$f") (L2 console, last 40 lines) ----"
			tr -d '\r' <"$f" | tail -n 40 | sed 's/^/# /'
		done
		echo "# ---- $v QEMU stderr ----"
		sed 's/^/# /' "$W/$v.qemu" 2>/dev/null | tail -n 20
	done
	if [ -f "$W/agent.log" ]; then
		echo "# ---- balloon agent (last 20 lines) ----"
		tail -n 20 "$W/agent.log" | sed 's/^/# /'
	fi
}

now() { cut -d. -f1 /proc/uptime; }
elapsed() { echo $(($(now) - T0)); }

# vmid NAME: the sysfs id of the memvirtfs file /NAME; fails if no VM or
# more than one has that name (a name is a path inside its mount: a VM
# left by an earlier program can have it too).
vmid() {
	_found=""
	for d in "$SYS"/vms/*; do
		[ "$(cat "$d/name" 2>/dev/null)" = "/$1" ] || continue
		if [ -n "$_found" ]; then
			echo "# two VMs are named /$1: $_found and $(basename "$d")" >&2
			return 1
		fi
		_found=$(basename "$d")
	done
	[ -n "$_found" ] && echo "$_found"
}
# rd GUEST FILE: a per-VM sysfs value.
rd() { eval "cat $SYS/vms/\$ID_$1/$2"; }
g() { cat "$SYS/$1"; }

# wait_for SECONDS CONDITION...: poll the condition (shell code) twice a
# second; 0 once it holds, 1 at the deadline.
wait_for() {
	_end=$(($(now) + $1))
	shift
	while ! eval "$*"; do
		[ "$(now)" -ge $_end ] && return 1
		usleep 500000
	done
	return 0
}

# qemu_start GUEST: start QEMU on $MNT/GUEST in the background. Stock
# options only: the memory backend on the memvirtfs file (share=on), the
# balloon, two serial ports (console to a file; commands from a FIFO), QMP
# on a socket named after the file ($QMPDIR/GUEST.qmp, the balloon agent's)
# and a second one for the test's own queries (a QMP socket serves one
# client at a time, and the agent stays connected). -cpu host,kvm=off:
# without KVM's paravirtual clock and spinlocks (they deadlock the L2 guest
# under nested TCG once its RAM is mapped with 4 KiB nested pages).
qemu_start() {
	: >"$W/$1.log"
	eval "_opts=\${OPTS_$1:-}"
	$QEMU -machine pc,accel=kvm -cpu host,kvm=off -m $MB -smp 1 \
		-object memory-backend-file,id=m0,size=${MB}M,mem-path=$MNT/$1,share=on \
		-machine memory-backend=m0 \
		-nodefaults -vga none -display none -no-reboot \
		-serial "file:$W/$1.log" -serial "pipe:$W/$1" \
		-kernel $L2/vmlinuz -initrd $L2/initramfs.gz \
		-append "console=ttyS0 loglevel=5 panic=-1" \
		-device "virtio-balloon-pci$_opts" \
		-qmp "unix:$QMPDIR/$1.qmp,server=on,wait=off" \
		-qmp "unix:$W/$1.qmp,server=on,wait=off" \
		</dev/null >"$W/$1.qemu" 2>&1 &
	eval "PID_$1=$!"
}

# l2_line GUEST PATTERN: the first console line of the guest matching it.
l2_line() { tr -d '\r' <"$W/$1.log" 2>/dev/null | grep -m1 -e "$2"; }
# booted GUEST: whether the guest's workload has started.
booted() { l2_line "$1" 'l2: work ready' >/dev/null; }
# alive GUEST: whether its QEMU still runs.
alive() { eval "kill -0 \$PID_$1 2>/dev/null"; }
# died GUEST: whether the guest died: its QEMU ended (a panic reboots the
# guest, and -no-reboot ends QEMU), its kernel panicked, or it hangs (it
# left a command unanswered: cmd).
died() {
	! alive "$1" || [ -e "$W/$1.hung" ] || l2_line "$1" 'Kernel panic' >/dev/null
}

# kill_guest GUEST: stop its QEMU at once.
kill_guest() {
	eval "_pid=\$PID_$1"
	[ -n "$_pid" ] || return 0
	kill -9 "$_pid" 2>/dev/null
	wait "$_pid" 2>/dev/null
	eval "PID_$1="
	rm -f "$W/$1.hung"
}

# boot_wait GUEST T0: wait for the guest started at T0 to reach its
# workload; if it does not (or QEMU dies), start it again: up to four boots
# while the deadline leaves time for one more. About one L2 boot in 6 to 8
# fails in this nested setup whatever backs its RAM (a spin with interrupts
# off, a guard-page panic, a SeaBIOS loop: nested SVM as QEMU's TCG
# emulates it, Documentation/dev/testing.rst), and two in a row were seen
# on a quiet host.
boot_wait() {
	_tb=$2
	_boot=1
	while :; do
		_left=$((_tb + BOOT_WAIT - $(now)))
		[ $_left -lt 1 ] && _left=1
		if wait_for $_left "booted $1 || ! alive $1" && booted "$1"; then
			diag "$1: L2 workload started after $(($(now) - _tb))s (boot $_boot)"
			return 0
		fi
		diag "$1: L2 boot $_boot failed before its workload started (${BOOT_WAIT}s); its console:"
		tr -d '\r' <"$W/$1.log" | tail -n 25 | sed 's/^/#   /'
		sed 's/^/#   qemu: /' "$W/$1.qemu" | tail -n 5
		kill_guest "$1"
		mv "$W/$1.log" "$W/$1.boot1.log"
		RETRIES=$((RETRIES + 1))
		if [ $_boot -ge 4 ] || [ $(($(elapsed) + BOOT_WAIT + 60)) -gt $DEADLINE ]; then
			diag "$1: no boot left within the deadline after $_boot"
			return 1
		fi
		_boot=$((_boot + 1))
		diag "$1: starting the L2 guest again (boot $_boot)"
		_tb=$(now)
		qemu_start "$1"
	done
}

# cmd GUEST COMMAND [TIMEOUT]: send a command to the guest's workload and
# wait for its answer, in REPLY; 0 if it says ok. TIMEOUT (default 60 s:
# the workload's commands take at most 2 s in a full CI run, and a hang
# found sooner leaves the deadline room for another boot) is cut to what
# the program's deadline leaves. A live guest that does
# not answer in time hangs (the spin with interrupts off that also ends
# some boots): it counts as dead from then on, and scenario boots it again.
cmd() {
	SEQ=$((SEQ + 1))
	_to=${3:-60}
	[ $((DEADLINE - $(elapsed))) -lt $_to ] && _to=$((DEADLINE - $(elapsed)))
	[ $_to -lt 1 ] && _to=1
	eval "_fd=\$FD_$1"
	echo "$SEQ $2" >&"$_fd"
	if ! wait_for $_to "l2_line $1 'l2: $SEQ ' >/dev/null || died $1"; then
		REPLY="(no answer within ${_to}s: the guest hangs)"
		diag "$1: '$2': $REPLY"
		: >"$W/$1.hung"
		return 1
	fi
	if ! l2_line "$1" "l2: $SEQ " >/dev/null; then
		REPLY="(the guest died)"
		diag "$1: '$2': $REPLY"
		return 1
	fi
	REPLY=$(l2_line "$1" "l2: $SEQ " | sed 's/.*l2: [0-9]* //')
	diag "$1: $2 -> $REPLY"
	case "$REPLY" in *" ok"*) return 0 ;; esac
	return 1
}
sumof() { echo "$REPLY" | sed -n 's/.*sum=\([0-9a-f]*\).*/\1/p'; }

# guest_free_mb GUEST: FREE_MB, the guest's free memory in MiB (0 if it
# did not answer).
guest_free_mb() {
	cmd "$1" meminfo
	_kb=$(echo "$REPLY" | sed -n 's/.*free_kb=\([0-9]*\).*/\1/p')
	FREE_MB=$((${_kb:-0} / 1024))
}

# verify GUEST SUM: the guest checks all its data; its checksum must be SUM.
verify() {
	if ! cmd "$1" verify 180; then
		bad "$1: data check failed: $REPLY"
	elif ! echo "$REPLY" | grep -q "sum=$2 "; then
		bad "$1: checksum changed: $REPLY, filled with $2"
	fi
}

# expect WHAT VALUE OP BOUND: a counter check, e.g. expect "vm0 shared" 100 -ge 50
expect() {
	if test "$2" "$3" "$4"; then
		diag "$1 = $2 ($3 $4)"
	else
		bad "$1 = $2, expected $3 $4"
	fi
}

vmstat() {
	for f in resident zero shared punched ballooned deflated balloon_target target \
		 compressed swapped swap_outs swap_ins cow_breaks; do
		printf '%s=%s ' $f "$(rd "$1" $f)"
	done
}
show() { diag "$1: $(vmstat "$1")"; }

# used_pages: what the policy counts as used (policy/policy.c): resident
# pages, shared frames and the compression cache.
used_pages() {
	echo $(($(g resident_pages) + $(g dedup/sharing) + $(g swap/pool_bytes) / 4096))
}

# set_pct HIGH SOFT HARD LOW: the state thresholds, in an order every store
# accepts (each store keeps high > soft > hard > low).
set_pct() {
	if [ "$1" -ge "$(g policy/free_high_pct)" ]; then
		echo "$1" >$SYS/policy/free_high_pct; echo "$2" >$SYS/policy/free_soft_pct
		echo "$3" >$SYS/policy/free_hard_pct; echo "$4" >$SYS/policy/free_low_pct
	else
		echo "$4" >$SYS/policy/free_low_pct; echo "$3" >$SYS/policy/free_hard_pct
		echo "$2" >$SYS/policy/free_soft_pct; echo "$1" >$SYS/policy/free_high_pct
	fi
}

# budget_for PCT: budget_mb at which PCT percent of it is free now.
budget_for() {
	echo $(($(used_pages) * 100 / (100 - $1) / 256 + 1))
}

# agent_start: the balloon agent of memvirtctl, for every VM, its QMP
# sockets in $QMPDIR (named after the VMs' files: the convention of
# "memvirtctl balloon-agent", outside the memvirtfs mount, which refuses
# sockets).
agent_start() {
	if [ ! -x /tests/memvirtctl ]; then
		bad "no /tests/memvirtctl"
		return 1
	fi
	/tests/memvirtctl balloon-agent --qmp-dir $QMPDIR -v >>"$W/agent.log" 2>&1 &
	AGENT_PID=$!
	diag "balloon agent: memvirtctl balloon-agent --qmp-dir $QMPDIR -v (pid $AGENT_PID)"
}
agent_stop() {
	[ -n "${AGENT_PID:-}" ] || return 0
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

balloon_actual() {
	qmp "$W/$1.qmp" '{"execute": "query-balloon"}' 2>/dev/null |
		sed -n 's/.*"actual": *\([0-9]*\).*/\1/p'
}

# Everything the program changed, put back whatever happens.
qgt_cleanup() {
	agent_stop
	for v in $GUESTS; do
		kill_guest "$v"
	done
	exec 5>&- 6>&- 2>/dev/null
	[ -n "${DRAIN_PIDS:-}" ] && kill $DRAIN_PIDS 2>/dev/null
	if [ -n "${DEDUP0:-}" ]; then
		# qgt_begin saved them all, DEDUP0 last
		knobs_back
		set -- $DEDUP0
		echo "$2" >$SYS/dedup/pages_to_scan
		echo "$3" >$SYS/dedup/sleep_millisecs
		echo "$4" >$SYS/dedup/cpu_percent
		echo "$1" >$SYS/dedup/run
	fi
	if grep -q " $MNT memvirtfs" /proc/mounts; then
		for v in $GUESTS; do
			rm -f "$MNT/$v"
		done
		umount $MNT 2>/dev/null
	fi
}

# qgt_begin TEST...: the TAP plan, the knobs saved, memvirtfs mounted, the
# guests' files created (so that their sharing domain is set before they
# run), their command FIFOs opened.
qgt_begin() {
	TESTS="$*"
	NGUESTS=$(echo $GUESTS | wc -w)
	DONE=""
	RETRIES=0
	echo "TAP version 13"
	echo "1..$#"
	T0=$(now)
	if [ ! -x $QEMU ] || [ ! -f $L2/vmlinuz ]; then
		diag "no stock QEMU payload in this test VM (tools/vmtest/vm.sh adds it for this program)"
		give_up "no QEMU"
	fi
	diag "$(tr '\n' ' ' <$L2/versions)"
	REFCNT0=$(cat /sys/module/memvirt/refcnt)
	NRVMS0=$(g nr_vms)
	BUDGET0=$(g budget_mb)
	PCT0="$(g policy/free_high_pct) $(g policy/free_soft_pct) $(g policy/free_hard_pct) $(g policy/free_low_pct)"
	BTO0=$(g policy/balloon_timeout_ms)
	DEDUP0="$(g dedup/run) $(g dedup/pages_to_scan) $(g dedup/sleep_millisecs) $(g dedup/cpu_percent)"
	trap qgt_cleanup EXIT
	trap 'exit 1' INT TERM
	diag "module refcnt $REFCNT0, nr_vms $NRVMS0, budget_mb $BUDGET0, state $(g policy/state)"
	rm -rf "$W" && mkdir -p "$W" $MNT $QMPDIR
	[ -c /dev/kvm ] || give_up "no /dev/kvm in the test VM"
	mount -t memvirtfs -o swapdir=/mnt/swap memvirt $MNT ||
		give_up "cannot mount memvirtfs with swapdir=/mnt/swap on $MNT"
	fd=5
	for v in $GUESTS; do
		truncate -s ${MB}M $MNT/$v || give_up "cannot size $MNT/$v"
		id=$(vmid $v) || give_up "no sysfs directory, or more than one, for /$v"
		eval "ID_$v=$id FD_$v=$fd"
		if [ -n "${DOMAIN:-}" ]; then
			echo "$DOMAIN" >$SYS/vms/$id/sharing_domain ||
				give_up "cannot set the sharing domain of $v"
		fi
		mkfifo "$W/$v.in" "$W/$v.out"
		# The guest's second serial port writes nothing (no echo); drain it anyway.
		cat "$W/$v.out" >/dev/null &
		DRAIN_PIDS="${DRAIN_PIDS:-} $!"
		eval "exec $fd<>$W/$v.in"
		diag "$v is memvirt VM $id${DOMAIN:+, sharing domain $DOMAIN}, balloon device options '$(eval "echo \${OPTS_$v:-}")'"
		fd=$((fd + 1))
	done
}

# qgt_boot: start the guests one after the other (the test VM's QEMU runs
# both of its vCPUs on one thread: booting them at once is no faster, and
# each boot's deadline would depend on the other's), wait for each one's
# workload (booting it once more if it failed), check their files'
# counters. Test "boot".
qgt_boot() {
	for v in $GUESTS; do
		_t0=$(now)
		qemu_start $v
		boot_wait $v $_t0 || nested "$v did not boot in its attempts"
	done
	if [ -n "$tskip" ]; then
		DONE="$DONE boot"
		result boot
		give_up "no guest (nested TCG)"
	fi
	for v in $GUESTS; do
		l2_line $v 'l2: ready' | sed 's/^/# /'
		expect "$v size" "$(rd $v size)" -eq $((MB << 20))
		# The guest's firmware and kernel touch a good part of its RAM.
		expect "$v resident" "$(rd $v resident)" -gt 4096
		expect "$v faults" "$(rd $v faults)" -gt 4096
		show $v
	done
	expect "nr_vms" "$(g nr_vms)" -eq $((NRVMS0 + NGUESTS))
	diag "boot done at $(elapsed)s"
	DONE="$DONE boot"
	_bf=$tfail
	result boot
	[ $_bf -eq 0 ] || give_up "no guest"
}

# knobs_back: the budget, the state thresholds and the scanner as they were,
# the agent stopped.
knobs_back() {
	agent_stop
	echo "$BUDGET0" >$SYS/budget_mb
	set_pct $PCT0
	echo "$BTO0" >$SYS/policy/balloon_timeout_ms
	echo 0 >$SYS/dedup/run
}

# scenario NAME FUNCTION: run a test's scenario, then report it as test
# NAME. A real guest touches memory in ways a test VMM does not, and under
# nested SVM as QEMU's TCG emulates it, the guest kernel now and then dies
# of a page fault taken while it delivers an interrupt (a fault on its
# entry stack, then a guard-page panic; the same that ends about one L2
# boot in 6 to 8, whatever backs its RAM: Documentation/dev/testing.rst,
# "Stock QEMU guests"), the more often the more nested page faults the
# scenario causes. Its data is never seen wrong. So if a guest died during
# the scenario, what failed with it is reported as a diagnostic, the dead
# guest is booted once more and the scenario runs again from its start: up
# to three attempts, while the program's deadline leaves time for one
# (DEADLINE, seconds from its start, 20 s short of its timeouts.txt entry).
# A wrong checksum or counter from live guests fails at once.
scenario() {
	DONE="$DONE $1"
	_try=1
	while :; do
		"$2"
		_dead=""
		for v in $GUESTS; do
			died $v && _dead="$_dead $v"
		done
		[ -n "$_dead" ] || break
		for v in $_dead; do
			diag "$v died during $1, attempt $_try (nested TCG); its console:"
			tr -d '\r' <"$W/$v.log" | grep -E 'panic|RIP|Oops|BUG' | head -n 6 | sed 's/^/#   /'
			mv "$W/$v.log" "$W/$v.died.log"
		done
		if [ $_try -ge 3 ] || [ $(($(elapsed) + 90)) -gt $DEADLINE ]; then
			# what failed came from the dead guest (see above)
			tfail=0
			nested "a guest died in $_try attempts of $1; no time or attempt left"
			break
		fi
		diag "the failures above come from the dead guest: booting it again, $1 once more"
		tfail=0
		knobs_back
		RETRIES=$((RETRIES + 1))
		_try=$((_try + 1))
		_t0=$(now)
		for v in $_dead; do
			kill_guest $v
			qemu_start $v
		done
		for v in $_dead; do
			boot_wait $v $_t0 || nested "$v did not boot again"
		done
		[ -z "$tskip" ] || break
	done
	result "$1"
}

# qgt_exit: each guest ends as EXIT_<guest> says: "qmp" (QMP quit) or
# "poweroff" (the guest powers itself off). QEMU exits 0, prints no error;
# then the files are removed, nr_vms is back, the mount goes, and the
# module's reference count is what it was. Test "exit".
qgt_exit() {
	for v in $GUESTS; do
		eval "_how=\${EXIT_$v:-qmp}"
		if [ "$_how" = qmp ]; then
			qmp "$W/$v.qmp" '{"execute": "quit"}' | sed "s/^/# $v qmp: /"
		else
			cmd $v quit || bad "$v: quit: $REPLY"
		fi
	done
	for v in $GUESTS; do
		eval "_how=\${EXIT_$v:-qmp} p=\$PID_$v"
		wait_for 60 "! alive $v" || { bad "$v: QEMU still runs"; kill -9 "$p"; }
		wait "$p"
		rc=$?
		eval "PID_$v="
		expect "$v QEMU exit status ($_how)" $rc -eq 0
		if grep -qiE 'error|warning' "$W/$v.qemu"; then
			bad "$v: QEMU printed: $(head -n 3 "$W/$v.qemu")"
		fi
		if [ "$_how" = poweroff ]; then
			l2_line $v 'l2: powering off' >/dev/null || bad "$v did not power off by itself"
		fi
	done
	expect "nr_vms with the files left" "$(g nr_vms)" -eq $((NRVMS0 + NGUESTS))
	for v in $GUESTS; do
		eval "id=\$ID_$v"
		[ -f "/mnt/swap/memvirt-$id.vswp" ] || bad "$v has no swap file memvirt-$id.vswp"
		rm "$MNT/$v" || bad "cannot remove $MNT/$v"
		[ -d "$SYS/vms/$id" ] && bad "$v's sysfs directory is still there"
		[ -e "/mnt/swap/memvirt-$id.vswp" ] && bad "$v's swap file is still there"
	done
	expect "nr_vms" "$(g nr_vms)" -eq "$NRVMS0"
	umount $MNT || bad "umount $MNT failed"
	grep -q " $MNT memvirtfs" /proc/mounts && bad "$MNT is still mounted"
	expect "module refcnt" "$(cat /sys/module/memvirt/refcnt)" -eq "$REFCNT0"
	diag "exit done at $(elapsed)s; L2 boots retried: $RETRIES"
	result exit
}

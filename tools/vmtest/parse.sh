#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn a test VM's results.log into one line per test:
#   PASS|FAIL|SKIP <kernel>:<kind>:<program or suite>:<test>
# A program that printed no test result, exited non-zero without a failing
# test, was killed by its timeout, or whose TAP/KTAP plan (1..N) does not
# match the number of results it printed is itself one FAIL line. The output
# of every failing section is appended to DETAILS.
# Usage: parse.sh KERNEL RESULTS_LOG DETAILS
set -eu -o pipefail
kernel=$1 results=$2 details=$3

awk -v kernel="$kernel" -v details="$details" '
function flush_fail(msg) {
	printf "FAIL %s:%s %s\n", kernel, id, msg
	bad = 1
}
function dump() {
	printf "===== %s:%s =====\n%s\n", kernel, id, out >> details
}
{ sub(/\r$/, "") }	# the serial port adds CRs
/^@@TEST-BEGIN / {
	id = $2; kind = id; sub(/:.*/, "", kind)
	n = 0; nfail = 0; bad = 0; out = ""; insec = 1; plan = ""
	next
}
/^@@TEST-END / {
	rc = $3; sub(/rc=/, "", rc); rc += 0
	# A step is a plain command: its exit status is the result. A harness
	# section (harness:swap-disk) is reported only when the harness failed.
	if (kind == "step" || kind == "harness") {
		if (rc == 0) printf "PASS %s:%s\n", kernel, id
		else flush_fail("(exit " rc ")")
	} else if (rc == 137) {
		flush_fail("(timed out after " n " results)")
	} else if (n == 0) {
		flush_fail("(no test results, exit " rc ")")
	} else if (kind == "kselftest" && rc != 0 && rc != 4 && nfail == 0) {
		flush_fail("(exit " rc " with no failing test)")
	} else if (kind == "kunit" && suite_bad && nfail == 0) {
		flush_fail("(suite failed with no failing case)")
	}
	if ((kind == "kselftest" || kind == "kunit") && rc != 137 && n > 0) {
		if (plan == "") flush_fail("(no TAP plan, " n " results)")
		else if (plan + 0 != n) flush_fail("(plan 1.." plan " but " n " results)")
	}
	if (bad || nfail) dump()
	insec = 0; suite_bad = 0
	next
}
!insec { next }
{ out = out $0 "\n" }
# kselftest_harness names a skipped test only on its "#  RUN" line.
kind == "kselftest" && /^#  RUN / { run = $3 }
# The plan: kselftest at column 0, KUnit cases indented 4 spaces.
plan == "" && kind == "kselftest" && /^1\.\.[0-9]+/ { plan = substr($1, 4) }
plan == "" && kind == "kunit" && /^    1\.\.[0-9]+/ { plan = substr($1, 4) }
# kselftest TAP: results at column 0. KUnit KTAP: cases indented 4 spaces,
# the suite line at column 0.
{
	line = $0
	indent = match(line, /[^ ]/) - 1
	if (kind == "kselftest" && indent == 0 && line ~ /^(not )?ok [0-9]+ /) {
		result(line, "^(not )?ok [0-9]+ ")
	} else if (kind == "kunit" && indent == 4 && line ~ /^    (not )?ok [0-9]+ /) {
		sub(/^    /, "", line)
		result(line, "^(not )?ok [0-9]+ (- )?")
	} else if (kind == "kunit" && indent == 0 && line ~ /^not ok [0-9]+ /) {
		suite_bad = 1
	}
}
function result(line, prefix,    name, st) {
	st = line ~ /^not ok/ ? "FAIL" : "PASS"
	if (line ~ /# *SKIP/) st = "SKIP"
	name = line
	sub(prefix, "", name)
	sub(/ *#.*$/, "", name)
	if (name == "" || name ~ /^#/) name = run
	printf "%s %s:%s:%s\n", st, kernel, id, name
	n++
	if (st == "FAIL") nfail++
}
END {
	if (insec) {
		flush_fail("(did not finish: the VM stopped or hung inside it)")
		dump()
	}
}
' "$results"

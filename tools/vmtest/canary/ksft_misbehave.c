// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: kselftest programs that misbehave without reporting a
 * failing test. One binary, copied under four names; the name picks what
 * it does after a passing first test:
 *   ksft_crash  dies of SIGSEGV mid-run
 *   ksft_exit   reports its plan in full, then exits 3
 *   ksft_plan   plans three tests but reports two, and exits 0
 *   ksft_sleep  sleeps past its per-program timeout
 * The harness must report each as a FAIL.
 */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *name = basename(argv[0]);

	printf("TAP version 13\n1..%d\n", strcmp(name, "ksft_exit") ? 3 : 1);
	printf("ok 1 first\n");
	fflush(stdout);
	if (!strcmp(name, "ksft_crash"))
		raise(SIGSEGV);
	if (!strcmp(name, "ksft_exit"))
		return 3;
	if (!strcmp(name, "ksft_sleep"))
		sleep(100000);
	printf("ok 2 second\n");
	return 0;
}

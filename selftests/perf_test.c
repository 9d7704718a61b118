// SPDX-License-Identifier: GPL-2.0
/*
 * The memvirt:* tracepoints used from perf, as a researcher would
 * (Documentation/dev/benchmarks.rst, "Tracing with perf"): perf lists every
 * event, `perf stat` counts copy-on-write breaks exactly, and `perf record`
 * with a filter on memvirt:fault gives one event per swap-in with its
 * latency in the ns field.
 *
 * Needs Debian's perf (linux-perf) in the test VM: tools/vmtest/vm.sh adds
 * it to the VM of every plan that runs this program. The workloads run as
 * this program's own children ("perf_test --touch FILE", "--read FILE"), so
 * perf counts their events and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "swap_contract.h"

#define PERF		"/usr/bin/perf"
#define PT_PAGES	64ULL
#define PT_OUT_MAX	(64 * 1024)

static const char *const pt_events[] = {
	"fault", "discard", "share", "zero", "cow_break", "reclaim",
	"compress", "swap_out", "swap_in", "balloon", "state",
};

/*
 * Run @argv with stdout and stderr in @out (NUL-terminated, at most
 * PT_OUT_MAX - 1 bytes kept); its exit status, or -1.
 */
static int pt_run(char *const argv[], char *out)
{
	char tmpl[] = "/tmp/perf_test.XXXXXX";
	int fd, status;
	ssize_t n;
	pid_t pid;

	fd = mkstemp(tmpl);
	if (fd < 0)
		return -1;
	unlink(tmpl);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (!pid) {
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	n = pread(fd, out, PT_OUT_MAX - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The workloads, run under perf. */
static int pt_workload(const char *mode, const char *path)
{
	volatile unsigned char *map;
	unsigned long sum = 0;
	struct stat st;
	size_t i, n;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return 1;
	n = st.st_size / MV_PAGE;
	map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 1;
	/* --touch: read every page (zero frame), then write it (a COW break) */
	for (i = 0; i < n; i++)
		sum += map[i * MV_PAGE];
	if (!strcmp(mode, "--touch"))
		for (i = 0; i < n; i++)
			map[i * MV_PAGE] = 1;
	return sum == ~0UL;
}

FIXTURE(pt) {
	struct sw_mount m;
	struct sw_knobs knobs;
	struct vmf v;
	char out[PT_OUT_MAX];
};

FIXTURE_SETUP(pt)
{
	char why[256];
	const char *skip;

	skip = sw_disk_missing();
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	sw_knobs_save(&self->knobs);
	self->v.fd = -1;
	ASSERT_EQ(0, sw_mount_open(&self->m, true, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, vmf_open(&self->v, self->m.mnt, "vm0", PT_PAGES, why, sizeof(why)))
		TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(pt)
{
	vmf_close(&self->v);
	EXPECT_EQ(0, sw_mount_close(&self->m));
	EXPECT_EQ(0, sw_knobs_restore(&self->knobs));
}

TEST_F(pt, perf_lists_every_memvirt_event)
{
	char *const argv[] = { PERF, "list", "memvirt:*", NULL };
	char name[64];
	unsigned int i;

	ASSERT_EQ(0, pt_run(argv, self->out)) TH_LOG("%s", self->out);
	for (i = 0; i < ARRAY_SIZE(pt_events); i++) {
		snprintf(name, sizeof(name), "memvirt:%s ", pt_events[i]);
		EXPECT_NE(NULL, strstr(self->out, name))
			TH_LOG("perf list has no %s:\n%s", name, self->out);
	}
}

/* perf stat counts one memvirt:cow_break per page written after a read. */
TEST_F(pt, stat_counts_each_cow_break)
{
	char *const argv[] = {
		PERF, "stat", "-x,", "-e", "memvirt:cow_break", "--",
		"/tests/perf_test", "--touch", self->v.path, NULL,
	};
	struct memvirt_stats a, b;
	unsigned long long n;
	char *line, *end;

	munmap(self->v.map, PT_PAGES * MV_PAGE);
	self->v.map = NULL;
	ASSERT_EQ(0, mv_get_stats(self->v.fd, &a));
	ASSERT_EQ(0, pt_run(argv, self->out)) TH_LOG("%s", self->out);
	ASSERT_EQ(0, mv_get_stats(self->v.fd, &b));
	line = strstr(self->out, ",memvirt:cow_break");
	ASSERT_NE(NULL, line) TH_LOG("%s", self->out);
	while (line > self->out && line[-1] != '\n')
		line--;
	n = strtoull(line, &end, 10);
	ASSERT_EQ(',', *end) TH_LOG("%s", self->out);
	EXPECT_EQ(PT_PAGES, n);
	EXPECT_EQ(PT_PAGES, b.cow_breaks - a.cow_breaks);
	TH_LOG("perf stat: %llu memvirt:cow_break for %llu pages", n, PT_PAGES);
}

/*
 * perf record with a filter: every swap-in fault once (no readahead), its
 * latency in ns.
 */
TEST_F(pt, record_swapin_faults_with_latency)
{
	char *const rec[] = {
		PERF, "record", "-q", "-o", "/tmp/perf_test.data", "-e", "memvirt:fault",
		"--filter", "state == 6", "--", "/tests/perf_test", "--read",
		self->v.path, NULL,
	};
	char *const script[] = {
		PERF, "script", "-i", "/tmp/perf_test.data", "-F", "trace", NULL,
	};
	unsigned long long ns, max_ns = 0, sum_ns = 0;
	struct memvirt_reclaim r;
	struct memvirt_stats a, b;
	unsigned int n = 0;
	char *p;
	u64 i;

	SW_SET("swapin_readahead", 0);
	for (i = 0; i < PT_PAGES; i++)
		memset(self->v.map + i * MV_PAGE, (int)(i + 1), MV_PAGE);
	ASSERT_EQ(0, mv_reclaim(self->v.fd, MEMVIRT_RECLAIM_SWAP, 0, PT_PAGES, &r));
	ASSERT_EQ(0, mv_get_stats(self->v.fd, &a));
	ASSERT_EQ(PT_PAGES, a.swapped);
	ASSERT_EQ(0, pt_run(rec, self->out)) TH_LOG("%s", self->out);
	ASSERT_EQ(0, mv_get_stats(self->v.fd, &b));
	EXPECT_EQ(PT_PAGES, b.swap_ins - a.swap_ins);
	ASSERT_EQ(0, pt_run(script, self->out)) TH_LOG("%s", self->out);
	for (p = strstr(self->out, "state=6"); p; p = strstr(p + 1, "state=6")) {
		char *q = strstr(p, "ns=");

		ASSERT_NE(NULL, q) TH_LOG("no ns= in %.120s", p);
		ns = strtoull(q + 3, NULL, 10);
		EXPECT_LT(0ULL, ns);
		sum_ns += ns;
		max_ns = ns > max_ns ? ns : max_ns;
		n++;
	}
	EXPECT_EQ(PT_PAGES, n) TH_LOG("%s", self->out);
	/* every word came back */
	for (i = 0; i < PT_PAGES; i++)
		EXPECT_EQ((unsigned char)(i + 1), self->v.map[i * MV_PAGE + 100]);
	unlink("/tmp/perf_test.data");
	TH_LOG("%u swap-in faults: mean %llu ns, max %llu ns", n,
	       n ? sum_ns / n : 0, max_ns);
}

static const char *pt_skip(void)
{
	if (access(PERF, X_OK))
		return "no " PERF " in this VM (tools/vmtest/vm.sh adds it for perf_test)";
	return mv_need_memvirtfs();
}

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	const char *why;

	if (argc == 3 && (!strcmp(argv[1], "--touch") || !strcmp(argv[1], "--read")))
		return pt_workload(argv[1], argv[2]);
	why = pt_skip();
	if (why) {
		ksft_print_header();
		ksft_exit_skip("%s\n", why);
	}
	exit(test_harness_run(argc, argv));
}

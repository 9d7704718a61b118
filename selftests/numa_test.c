// SPDX-License-Identifier: GPL-2.0
/*
 * numa_test: automatic NUMA balancing leaves memvirt mappings alone.
 *
 * Guest pages must not migrate behind memvirt's back, so the NUMA
 * balancing scanner must not turn memvirt ptes into NUMA hinting faults.
 * With balancing on and the scanner fast, touching 4096 pages of a
 * memvirt mapping for a few seconds adds (almost) nothing to
 * numa_pte_updates, while an anonymous mapping touched the same way in the
 * same test has its ptes updated, which proves the scanner ran. Needs two
 * NUMA nodes (numa=fake=2 in the test kernel) and CONFIG_NUMA_BALANCING.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "contract.h"

#define NPAGES		4096UL
#define TOUCH_SECS	4
#define ANON_MAX_SECS	20
#define SCHED_NB	"/sys/kernel/debug/sched/numa_balancing"
/* Other VMAs of this process (stack, data) are scanned too: at most this. */
#define BACKGROUND	256ULL

static const struct {
	const char *path, *val;
} knobs[] = {
	{ "/proc/sys/kernel/numa_balancing", "1\n" },
	{ SCHED_NB "/scan_delay_ms", "0\n" },
	{ SCHED_NB "/scan_period_min_ms", "10\n" },
	{ SCHED_NB "/scan_period_max_ms", "100\n" },
	{ SCHED_NB "/scan_size_mb", "256\n" },
};

FIXTURE(numa) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	char saved[ARRAY_SIZE(knobs)][32];
	bool have[ARRAY_SIZE(knobs)];
};

FIXTURE_SETUP(numa)
{
	struct stat st;
	unsigned int i;
	int ret;

	self->fd = -1;
	if (stat("/sys/devices/system/node/node1", &st))
		MV_SETUP_SKIP("needs two NUMA nodes (no /sys/devices/system/node/node1; boot with numa=fake=2)");
	if (stat(knobs[0].path, &st))
		MV_SETUP_SKIP("NUMA balancing is not built in (no /proc/sys/kernel/numa_balancing)");
	if (stat(SCHED_NB, &st))
		MV_SETUP_SKIP("no " SCHED_NB " (debugfs not mounted)");
	MV_SETUP_MOUNTED();
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		ASSERT_EQ(0, mv_read_str(knobs[i].path, self->saved[i],
					 sizeof(self->saved[i])))
			TH_LOG("read %s", knobs[i].path);
		self->have[i] = true;
		ret = mv_write_str(knobs[i].path, knobs[i].val);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", knobs[i].path, strerror(-ret));
	}
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "numa"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, NPAGES * MV_PAGE);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(numa)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		const char *path = knobs[ARRAY_SIZE(knobs) - 1 - i].path;
		const char *val = self->saved[ARRAY_SIZE(knobs) - 1 - i];

		if (self->have[ARRAY_SIZE(knobs) - 1 - i])
			EXPECT_EQ(0, mv_write_str(path, val))
				TH_LOG("restore %s", path);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		mv_rm_rf(self->dir);
}

static u64 vmstat_value(const char *name)
{
	char line[256], key[128];
	unsigned long long v;
	FILE *f = fopen("/proc/vmstat", "r");
	u64 ret = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu", key, &v) == 2 && !strcmp(key, name))
			ret = v;
	fclose(f);
	return ret;
}

/*
 * Write every page of @map until numa_pte_updates grew by @enough or for
 * @secs seconds, whichever is first; returns the growth, and the seconds
 * it took in *@took.
 */
static u64 touch_for_a_while(unsigned char *map, u64 enough, time_t secs, time_t *took)
{
	time_t start = time(NULL), end = start + secs;
	u64 before = vmstat_value("numa_pte_updates");
	unsigned char v = 1;
	size_t i;

	while (time(NULL) < end && vmstat_value("numa_pte_updates") - before < enough) {
		for (i = 0; i < NPAGES; i++)
			MV_WRITE_ONCE(map[i * MV_PAGE], v);
		v++;
	}
	*took = time(NULL) - start;
	return vmstat_value("numa_pte_updates") - before;
}

static void *idle_thread(void *arg)
{
	pause();
	return NULL;
}

/*
 * The anonymous control runs first, until the scanner has been over it
 * (slow kernels, KASAN under TCG, take longer): that window, at least
 * TOUCH_SECS, is then given to the memvirt mapping.
 *
 * The scanner leaves the private pages of a single-threaded process alone
 * when they are on the node it runs on (change_pte_range(): target_node):
 * with both CPUs on one node, as in the debug kernels, it would update
 * nothing. A second thread makes it scan them all.
 */
TEST_F_TIMEOUT(numa, memvirt_ptes_not_scanned_anon_are, 120)
{
	unsigned char *map;
	time_t took, unused;
	pthread_t idle;
	u64 mv, anon;

	ASSERT_EQ(0, pthread_create(&idle, NULL, idle_thread, NULL));
	map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	anon = touch_for_a_while(map, NPAGES, ANON_MAX_SECS, &took);
	munmap(map, NPAGES * MV_PAGE);

	map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	mv = touch_for_a_while(map, ~0ULL, took > TOUCH_SECS ? took : TOUCH_SECS, &unused);
	munmap(map, NPAGES * MV_PAGE);

	TH_LOG("numa_pte_updates: memvirt %llu, anonymous %llu",
	       (unsigned long long)mv, (unsigned long long)anon);
	ASSERT_LE(NPAGES, anon) TH_LOG("the scanner never went over the anonymous mapping: balancing was not active");
	EXPECT_GT(BACKGROUND, mv) TH_LOG("memvirt ptes were made NUMA hinting faults");
}

MV_HARNESS_MAIN(mv_need_memvirtfs)

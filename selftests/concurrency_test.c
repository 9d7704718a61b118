// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency_test.c - memvirtfs under concurrent use by host threads: faults
 * on the same and on different pages, faults racing punch and truncate,
 * read()/write() racing mapped access, and read()/write() whose user buffer
 * is a mapping of the very same file (which must not deadlock on memvirt's
 * own locks). Run on the debug kernel, these are the lockdep and KASAN
 * workout of the fault path; KVM vCPUs are covered by kvm_memory_test.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "contract.h"

#define CONC_SIZE	(4 * MV_MIB)
#define CONC_PAGES	(CONC_SIZE / MV_PAGE)
#define CONC_THREADS	4
#define CONC_TAG	0xa5000000u	/* every value racing writers store */

FIXTURE(conc) {
	char dir[PATH_MAX - 16];
	char path[PATH_MAX];
	int fd;
	unsigned char *map;
};

FIXTURE_SETUP(conc)
{
	const char *why = mv_need_memvirtfs();

	if (why)
		MV_SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "conc"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, CONC_SIZE);
	ASSERT_LE(0, self->fd);
	self->map = mmap(NULL, CONC_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
}

FIXTURE_TEARDOWN(conc)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, CONC_SIZE);
	if (self->fd >= 0)
		close(self->fd);
	mv_rm_rf(self->dir);
}

struct conc_job {
	FIXTURE_DATA(conc) *self;
	int idx;
	atomic_bool *stop;
	unsigned int seed;
	u64 done;
};

static u32 *conc_word(unsigned char *map, size_t page, int idx)
{
	return (u32 *)(map + page * MV_PAGE + idx * 64);
}

/* Each thread writes its own word in every page: all fault the same pages. */
static void *conc_same_pages(void *arg)
{
	struct conc_job *j = arg;
	size_t p;

	for (p = 0; p < CONC_PAGES; p++)
		MV_WRITE_ONCE(*conc_word(j->self->map, p, j->idx), (u32)(p << 4 | j->idx));
	return NULL;
}

static void conc_run(struct conc_job *jobs, int n, void *(*fn)(void *))
{
	pthread_t tids[CONC_THREADS + 1];
	int i;

	for (i = 0; i < n; i++)
		pthread_create(&tids[i], NULL, fn, &jobs[i]);
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

TEST_F(conc, threads_fault_the_same_pages)
{
	struct conc_job jobs[CONC_THREADS];
	struct memvirt_stats st;
	size_t p;
	int i;

	for (i = 0; i < CONC_THREADS; i++)
		jobs[i] = (struct conc_job){ .self = self, .idx = i };
	conc_run(jobs, CONC_THREADS, conc_same_pages);
	for (p = 0; p < CONC_PAGES; p++)
		for (i = 0; i < CONC_THREADS; i++)
			ASSERT_EQ((u32)(p << 4 | i), *conc_word(self->map, p, i))
				TH_LOG("page %zu word of thread %d", p, i);
	ASSERT_EQ(0, mv_get_stats(self->fd, &st));
	EXPECT_EQ(CONC_PAGES, st.resident);
	EXPECT_EQ(0ULL, st.zero);
}

/* Thread i fills quarter i. */
static void *conc_disjoint(void *arg)
{
	struct conc_job *j = arg;
	size_t per = CONC_PAGES / CONC_THREADS, p;

	for (p = j->idx * per; p < (j->idx + 1) * per; p++)
		memset(j->self->map + p * MV_PAGE, mv_pattern(p, j->idx), MV_PAGE);
	return NULL;
}

TEST_F(conc, threads_fault_different_pages)
{
	size_t per = CONC_PAGES / CONC_THREADS, p, off;
	struct conc_job jobs[CONC_THREADS];
	unsigned char buf[MV_PAGE];
	struct memvirt_stats st;
	int i;

	for (i = 0; i < CONC_THREADS; i++)
		jobs[i] = (struct conc_job){ .self = self, .idx = i };
	conc_run(jobs, CONC_THREADS, conc_disjoint);
	for (p = 0; p < CONC_PAGES; p++) {
		ASSERT_EQ((ssize_t)MV_PAGE, pread(self->fd, buf, MV_PAGE, p * MV_PAGE));
		for (off = 0; off < MV_PAGE; off++)
			ASSERT_EQ(mv_pattern(p, p / per), buf[off]) TH_LOG("page %zu", p);
	}
	ASSERT_EQ(0, mv_get_stats(self->fd, &st));
	EXPECT_EQ(CONC_PAGES, st.resident);
	/* Each page faults once per thread at most (threads may race on one). */
	EXPECT_LE(CONC_PAGES, st.faults);
	EXPECT_GE(CONC_PAGES * CONC_THREADS, st.faults);
}

/* Racing writer: tagged values into random pages until told to stop. */
static void *conc_writer(void *arg)
{
	struct conc_job *j = arg;
	size_t p;

	while (!atomic_load(j->stop)) {
		p = rand_r(&j->seed) % CONC_PAGES;
		MV_WRITE_ONCE(*conc_word(j->self->map, p, j->idx),
			      CONC_TAG | ((u32)j->done & 0xffffff));
		j->done++;
	}
	return NULL;
}

/* Racing reader: a word is 0 (punched or never written) or a tagged value. */
static void *conc_checker(void *arg)
{
	struct conc_job *j = arg;
	size_t p;
	u32 v;
	int w;

	while (!atomic_load(j->stop)) {
		p = rand_r(&j->seed) % CONC_PAGES;
		for (w = 0; w < CONC_THREADS; w++) {
			v = MV_READ_ONCE(*conc_word(j->self->map, p, w));
			if (v && (v & 0xff000000u) != CONC_TAG)
				j->done = v;	/* garbage: someone else's or freed data */
		}
	}
	return NULL;
}

/* Punch random pages while writers and a checker fault them back in. */
TEST_F_TIMEOUT(conc, punch_races_faults, 120)
{
	struct conc_job jobs[CONC_THREADS];
	pthread_t tids[CONC_THREADS];
	atomic_bool stop = false;
	unsigned int seed = 1;
	struct memvirt_stats st;
	size_t p, len;
	int i, n;

	for (i = 0; i < CONC_THREADS; i++) {
		jobs[i] = (struct conc_job){ .self = self, .idx = i, .stop = &stop,
					     .seed = i + 1 };
		pthread_create(&tids[i], NULL, i ? conc_writer : conc_checker, &jobs[i]);
	}
	for (n = 0; n < 2000; n++) {
		/* One page, or every fourth time a run of up to 8. */
		p = rand_r(&seed) % CONC_PAGES;
		len = n % 4 ? 1 : (CONC_PAGES - p < 8 ? CONC_PAGES - p : 8);
		ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       p * MV_PAGE, len * MV_PAGE));
	}
	atomic_store(&stop, true);
	for (i = 0; i < CONC_THREADS; i++)
		pthread_join(tids[i], NULL);
	EXPECT_EQ(0ULL, jobs[0].done) TH_LOG("the checker read 0x%llx", jobs[0].done);
	for (i = 1; i < CONC_THREADS; i++)
		EXPECT_LT(0ULL, jobs[i].done);

	/* Quiesced: punching every other page leaves exactly the rest. */
	for (p = 0; p < CONC_PAGES; p++)
		*conc_word(self->map, p, 0) = CONC_TAG | (u32)p;
	for (p = 1; p < CONC_PAGES; p += 2)
		ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       p * MV_PAGE, MV_PAGE));
	ASSERT_EQ(0, mv_get_stats(self->fd, &st));
	EXPECT_EQ(CONC_PAGES / 2, st.resident);
	for (p = 0; p < CONC_PAGES; p++)
		ASSERT_EQ(p % 2 ? 0 : CONC_TAG | (u32)p, *conc_word(self->map, p, 0))
			TH_LOG("page %zu", p);
}

static __thread sigjmp_buf conc_bus_env;

static void conc_bus_handler(int sig)
{
	siglongjmp(conc_bus_env, 1);
}

/* Touch the upper half; SIGBUS is expected while it is truncated away. */
static void *conc_upper_toucher(void *arg)
{
	struct conc_job *j = arg;
	volatile size_t p;

	while (!atomic_load(j->stop)) {
		p = CONC_PAGES / 2 + rand_r(&j->seed) % (CONC_PAGES / 2);
		if (sigsetjmp(conc_bus_env, 1)) {
			j->done++;	/* SIGBUS: counted */
			continue;
		}
		MV_WRITE_ONCE(*conc_word(j->self->map, p, j->idx), CONC_TAG);
	}
	return NULL;
}

/* Shrink and regrow while threads fault the part that comes and goes. */
TEST_F_TIMEOUT(conc, truncate_races_faults, 120)
{
	struct conc_job jobs[CONC_THREADS];
	pthread_t tids[CONC_THREADS];
	atomic_bool stop = false;
	struct sigaction sa = { .sa_handler = conc_bus_handler };
	struct memvirt_stats st;
	size_t p;
	int i, n;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	for (p = 0; p < CONC_PAGES / 2; p++)
		memset(self->map + p * MV_PAGE, mv_pattern(p, 7), MV_PAGE);
	for (i = 0; i < CONC_THREADS; i++) {
		jobs[i] = (struct conc_job){ .self = self, .idx = i, .stop = &stop,
					     .seed = i + 1 };
		pthread_create(&tids[i], NULL, conc_upper_toucher, &jobs[i]);
	}
	for (n = 0; n < 200; n++) {
		ASSERT_EQ(0, ftruncate(self->fd, CONC_SIZE / 2));
		usleep(200);
		ASSERT_EQ(0, ftruncate(self->fd, CONC_SIZE));
		usleep(200);
	}
	atomic_store(&stop, true);
	for (i = 0; i < CONC_THREADS; i++)
		pthread_join(tids[i], NULL);
	signal(SIGBUS, SIG_DFL);

	/* The lower half was never touched by the race. */
	for (p = 0; p < CONC_PAGES / 2; p++)
		ASSERT_EQ(mv_pattern(p, 7), self->map[p * MV_PAGE + MV_PAGE - 1])
			TH_LOG("page %zu", p);
	/* Shrinking frees the upper half whatever the race left there. */
	ASSERT_EQ(0, ftruncate(self->fd, CONC_SIZE / 2));
	ASSERT_EQ(0, mv_get_stats(self->fd, &st));
	EXPECT_EQ(CONC_PAGES / 2, st.resident);
}

/* pwrite() into the first half of pages while a thread stores to the second. */
static void *conc_mapped_half(void *arg)
{
	struct conc_job *j = arg;
	size_t p;

	for (p = 0; p < CONC_PAGES; p++)
		memset(j->self->map + p * MV_PAGE + MV_PAGE / 2, mv_pattern(p, 2), MV_PAGE / 2);
	return NULL;
}

TEST_F(conc, write_and_mapped_stores_race)
{
	struct conc_job job = { .self = self };
	unsigned char buf[MV_PAGE / 2], got[MV_PAGE];
	pthread_t tid;
	size_t p, off;

	pthread_create(&tid, NULL, conc_mapped_half, &job);
	for (p = 0; p < CONC_PAGES; p++) {
		memset(buf, mv_pattern(p, 1), sizeof(buf));
		ASSERT_EQ((ssize_t)sizeof(buf), pwrite(self->fd, buf, sizeof(buf), p * MV_PAGE));
	}
	pthread_join(tid, NULL);
	for (p = 0; p < CONC_PAGES; p++) {
		ASSERT_EQ((ssize_t)MV_PAGE, pread(self->fd, got, MV_PAGE, p * MV_PAGE));
		for (off = 0; off < MV_PAGE; off++)
			ASSERT_EQ(mv_pattern(p, off < MV_PAGE / 2 ? 1 : 2), got[off])
				TH_LOG("page %zu offset %zu", p, off);
	}
}

/*
 * read() into, and write() from, a mapping of the same file: the copy faults
 * on memvirtfs while the read/write is in progress. Must neither deadlock
 * nor corrupt. Some pages are punched first, so the faults allocate.
 */
TEST_F(conc, read_write_with_own_mapping_as_buffer)
{
	size_t half = CONC_SIZE / 2, p;

	for (p = 0; p < CONC_PAGES / 2; p++)
		memset(self->map + p * MV_PAGE, mv_pattern(p, 3), MV_PAGE);
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       half, half));
	/* Lower half -> upper half through read() into the mapping. */
	ASSERT_EQ((ssize_t)half, pread(self->fd, self->map + half, half, 0));
	for (p = 0; p < CONC_PAGES / 2; p++)
		ASSERT_EQ(mv_pattern(p, 3), self->map[half + p * MV_PAGE + 17]) TH_LOG("page %zu", p);
	/* Same range, source and destination the same pages. */
	ASSERT_EQ((ssize_t)half, pwrite(self->fd, self->map, half, 0));
	ASSERT_EQ((ssize_t)half, pread(self->fd, self->map, half, 0));
	for (p = 0; p < CONC_PAGES / 2; p++)
		ASSERT_EQ(mv_pattern(p, 3), self->map[p * MV_PAGE + 99]) TH_LOG("page %zu", p);
	/* Upper half back to the lower half through write() from the mapping. */
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, half));
	ASSERT_EQ((ssize_t)half, pwrite(self->fd, self->map + half, half, 0));
	for (p = 0; p < CONC_PAGES / 2; p++)
		ASSERT_EQ(mv_pattern(p, 3), self->map[p * MV_PAGE + 4000]) TH_LOG("page %zu", p);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * abi_test: programs built against ABI version 1 keep working.
 *
 * Built from the frozen selftests/abi/memvirt-v1.h (include/uapi/memvirt.h
 * as published at e7cefd0), never from the live header: contract.h is
 * included after it, and its helpers then speak version 1. The layout of
 * that ABI (command numbers, struct sizes and field offsets) is pinned with
 * static_assert, and each ioctl is issued against the current module: the
 * kernel matches commands on type and number only, takes the size from the
 * struct, and writes back min(size, its own size) bytes.
 */
#include <assert.h>
#include <stddef.h>
#include <sys/mman.h>

#include "abi/memvirt-v1.h"
#include "kselftest_harness.h"
#include "contract.h"

/* What a version-1 program was compiled with. */
static_assert(sizeof(struct memvirt_stats) == 128, "v1 memvirt_stats size");
static_assert(offsetof(struct memvirt_stats, size) == 0, "stats.size");
static_assert(offsetof(struct memvirt_stats, flags) == 4, "stats.flags");
static_assert(offsetof(struct memvirt_stats, vm_id) == 8, "stats.vm_id");
static_assert(offsetof(struct memvirt_stats, size_bytes) == 16, "stats.size_bytes");
static_assert(offsetof(struct memvirt_stats, resident) == 24, "stats.resident");
static_assert(offsetof(struct memvirt_stats, zero) == 32, "stats.zero");
static_assert(offsetof(struct memvirt_stats, faults) == 40, "stats.faults");
static_assert(offsetof(struct memvirt_stats, punched) == 48, "stats.punched");
static_assert(offsetof(struct memvirt_stats, mkwrite) == 56, "stats.mkwrite");
static_assert(offsetof(struct memvirt_stats, reserved) == 64, "stats.reserved");

static_assert(sizeof(struct memvirt_range_query) == 64, "v1 range_query size");
static_assert(offsetof(struct memvirt_range_query, start_gfn) == 8, "q.start_gfn");
static_assert(offsetof(struct memvirt_range_query, nr_gfns) == 16, "q.nr_gfns");
static_assert(offsetof(struct memvirt_range_query, states) == 24, "q.states");
static_assert(offsetof(struct memvirt_range_query, reserved) == 32, "q.reserved");

static_assert(sizeof(struct memvirt_policy) == 72, "v1 memvirt_policy size");
static_assert(offsetof(struct memvirt_policy, shares) == 8, "p.shares");
static_assert(offsetof(struct memvirt_policy, reservation_bytes) == 16,
	      "p.reservation_bytes");
static_assert(offsetof(struct memvirt_policy, limit_bytes) == 24, "p.limit_bytes");
static_assert(offsetof(struct memvirt_policy, reserved) == 32, "p.reserved");

static_assert(MEMVIRT_IOC_GET_STATS == 0xc080b200UL, "GET_STATS v1 number");
static_assert(MEMVIRT_IOC_QUERY_RANGE == 0x4040b201UL, "QUERY_RANGE v1 number");
static_assert(MEMVIRT_IOC_GET_POLICY == 0xc048b202UL, "GET_POLICY v1 number");
static_assert(MEMVIRT_IOC_SET_POLICY == 0x4048b203UL, "SET_POLICY v1 number");
static_assert(MEMVIRT_GFN_ABSENT == 0 && MEMVIRT_GFN_PRIVATE == 1 &&
	      MEMVIRT_GFN_ZERO == 2 && MEMVIRT_GFN_DIRTY == 0x10 &&
	      MEMVIRT_GFN_ACCESSED == 0x20, "v1 state codes");
static_assert(MEMVIRT_SHARES_DEFAULT == 1000 && MEMVIRT_LIMIT_NONE == ~0ULL,
	      "v1 policy constants");

#define NPAGES		16UL
#define GUARD		0xa5

FIXTURE(v1) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	u64 id;
	unsigned char *buf;	/* 4096 bytes: a struct, then guard bytes */
};

FIXTURE_SETUP(v1)
{
	unsigned char page[MV_PAGE];

	self->fd = -1;
	MV_SETUP_MOUNTED();
	self->buf = mmap(NULL, MV_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, GUARD, MV_PAGE);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "abi"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, NPAGES * MV_PAGE);
	ASSERT_LE(0, self->fd);
	self->id = mv_vm_id(_metadata, self->path);
	/* Three pages written, one of them punched again: resident 2. */
	memset(page, 0x11, sizeof(page));
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->fd, page, MV_PAGE, 2 * MV_PAGE));
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->fd, page, MV_PAGE, 5 * MV_PAGE));
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->fd, page, MV_PAGE, 9 * MV_PAGE));
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       9 * MV_PAGE, MV_PAGE));
}

FIXTURE_TEARDOWN(v1)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		mv_rm_rf(self->dir);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, MV_PAGE);
}

/* Bytes [@from, MV_PAGE) of the buffer still hold the guard. */
static long guard_broken(const unsigned char *buf, size_t from)
{
	for (; from < MV_PAGE; from++)
		if (buf[from] != GUARD)
			return (long)from;
	return -1;
}

TEST_F(v1, get_stats_writes_back_128_bytes)
{
	struct memvirt_stats *st = (struct memvirt_stats *)self->buf;
	unsigned int i;
	int ret;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	ret = mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, st);
	ASSERT_EQ(0, ret) TH_LOG("v1 GET_STATS: %s", strerror(-ret));
	EXPECT_EQ(128U, st->size);
	EXPECT_EQ(0U, st->flags);
	EXPECT_EQ(self->id, st->vm_id);
	EXPECT_EQ(NPAGES * MV_PAGE, st->size_bytes);
	EXPECT_EQ(2ULL, st->resident);
	EXPECT_EQ(NPAGES - 2, st->zero);
	EXPECT_EQ(0ULL, st->faults);
	EXPECT_EQ(1ULL, st->punched);
	EXPECT_EQ(0ULL, st->mkwrite);
	for (i = 0; i < ARRAY_SIZE(st->reserved); i++)
		EXPECT_EQ(0ULL, st->reserved[i]) TH_LOG("reserved[%u]", i);
	EXPECT_EQ(-1, guard_broken(self->buf, sizeof(*st)))
		TH_LOG("the kernel wrote past the 128 bytes it was given");
}

TEST_F(v1, query_range_states)
{
	struct memvirt_range_query *q = (struct memvirt_range_query *)self->buf;
	unsigned char s[NPAGES];
	unsigned int i;
	int ret;

	memset(s, 0xee, sizeof(s));
	memset(q, 0, sizeof(*q));
	q->size = sizeof(*q);
	q->nr_gfns = NPAGES;
	q->states = (uintptr_t)s;
	ret = mv_ioctl(self->fd, MEMVIRT_IOC_QUERY_RANGE, q);
	ASSERT_EQ(0, ret) TH_LOG("v1 QUERY_RANGE: %s", strerror(-ret));
	for (i = 0; i < NPAGES; i++) {
		unsigned char want = i == 2 || i == 5 ?
				     MEMVIRT_GFN_PRIVATE | MEMVIRT_GFN_DIRTY :
				     i == 9 ? MEMVIRT_GFN_ZERO : MEMVIRT_GFN_ABSENT;

		EXPECT_EQ(want, s[i]) TH_LOG("gfn %u: 0x%x", i, s[i]);
	}
	EXPECT_EQ(-1, guard_broken(self->buf, sizeof(*q)));
}

TEST_F(v1, set_and_get_policy)
{
	struct memvirt_policy *p = (struct memvirt_policy *)self->buf;
	int ret;

	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->flags = MEMVIRT_POLICY_SHARES | MEMVIRT_POLICY_LIMIT;
	p->shares = 1234;
	p->limit_bytes = 64 * MV_MIB;
	ret = mv_ioctl(self->fd, MEMVIRT_IOC_SET_POLICY, p);
	ASSERT_EQ(0, ret) TH_LOG("v1 SET_POLICY: %s", strerror(-ret));

	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	ret = mv_ioctl(self->fd, MEMVIRT_IOC_GET_POLICY, p);
	ASSERT_EQ(0, ret) TH_LOG("v1 GET_POLICY: %s", strerror(-ret));
	EXPECT_EQ(72U, p->size);
	EXPECT_EQ(1234ULL, p->shares);
	EXPECT_EQ(0ULL, p->reservation_bytes);
	EXPECT_EQ(64 * MV_MIB, p->limit_bytes);
	EXPECT_EQ(-1, guard_broken(self->buf, sizeof(*p)));
}

TEST_F(v1, get_stats_v1_size_in_larger_buffer)
{
	struct memvirt_stats *st = (struct memvirt_stats *)self->buf;
	int ret;

	/* A v1 caller declaring 136 bytes (8 zero bytes past its struct). */
	memset(self->buf, 0, 136);
	st->size = 136;
	ret = mv_ioctl(self->fd, MEMVIRT_IOC_GET_STATS, st);
	ASSERT_EQ(0, ret) TH_LOG("v1 GET_STATS, size 136: %s", strerror(-ret));
	EXPECT_EQ(136U, st->size);
	EXPECT_EQ(self->id, st->vm_id);
	EXPECT_EQ(2ULL, st->resident);
	EXPECT_EQ(-1, guard_broken(self->buf, 136));
}

MV_HARNESS_MAIN(mv_need_memvirtfs)

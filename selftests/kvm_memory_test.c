// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_memory_test.c - KVM guests whose RAM is a memvirtfs file, a memfd or
 * anonymous memory: the guest and the host must always see the same bytes.
 *
 * Each test builds a 16 MiB, 4-vCPU VM with the test VMM (lib/vmm.h) on
 * one backing (the fixture variant) and checks real outcomes: pattern
 * words read back by the guest (the guest reports mismatches), by the host
 * through the mapping and through pread(), and memvirt's counters. The
 * punch-hole test proves that giving a page back reaches KVM's nested page
 * table through the MMU notifier: the guest must read zero afterwards.
 *
 * The memvirtfs variant mounts memvirtfs at /run/memvirt if needed and
 * skips if the filesystem type is unknown; every test skips (exit 4 before
 * any test) if /dev/kvm cannot create VMs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "backing.h"
#include "vmm.h"

#define GUEST_SIZE	(16ULL << 20)
#define NR_VCPUS	4
#define FREE_LEN	(GUEST_SIZE - VMM_FREE_GPA)
#define FREE_PAGES	(FREE_LEN / VMM_PAGE_SIZE)
#define RUN_TIMEOUT_S	120	/* one vm_run() under nested TCG */
#define TEST_TIMEOUT_S	300
#define NO_REPORT	(~0ULL)

FIXTURE(kvm_mem) {
	struct backing b;
	struct vm *vm;
	u8 *mem;
	bool skip;
};

FIXTURE_VARIANT(kvm_mem) {
	enum backing_kind kind;
};

FIXTURE_VARIANT_ADD(kvm_mem, memvirtfs) {
	.kind = BACKING_MEMVIRTFS,
};

FIXTURE_VARIANT_ADD(kvm_mem, memfd) {
	.kind = BACKING_MEMFD,
};

FIXTURE_VARIANT_ADD(kvm_mem, anon) {
	.kind = BACKING_ANON,
};

FIXTURE_SETUP(kvm_mem)
{
	char reason[256] = "";
	int ret;

	ret = backing_open(&self->b, variant->kind, GUEST_SIZE, reason,
			   sizeof(reason));
	if (ret == BACKING_UNAVAILABLE) {
		self->skip = true;
		SKIP(return, "%s", reason);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", reason);
	self->vm = vm_create(self->b.fd, GUEST_SIZE, NR_VCPUS);
	ASSERT_NE(NULL, self->vm);
	self->mem = vm_mem(self->vm);
}

FIXTURE_TEARDOWN(kvm_mem)
{
	vm_destroy(self->vm);
	backing_close(&self->b);
}

/* The 6.1 harness runs the test body even after SKIP() in the setup. */
#define RETURN_IF_SKIPPED() do {	\
	if (self->skip)			\
		return;			\
} while (0)

#define REPORT(vcpu, key) vcpu_report(self->vm, vcpu, key, NO_REPORT)

/* vCPU @i's last run checked @pages pages and found the pattern intact. */
#define EXPECT_PATTERN_OK(i, pages) do {				\
	EXPECT_EQ((u64)(pages), REPORT(i, VMM_REPORT_PAGES));		\
	EXPECT_EQ(0ULL, REPORT(i, VMM_REPORT_MISMATCHES))		\
		TH_LOG("vcpu%d: first bad gfn 0x%llx word %llu = 0x%llx", \
		       i, REPORT(i, VMM_REPORT_BAD_GFN),		\
		       REPORT(i, VMM_REPORT_BAD_WORD),			\
		       REPORT(i, VMM_REPORT_BAD_VALUE));		\
} while (0)

static bool has_file(const FIXTURE_VARIANT(kvm_mem) *variant)
{
	return variant->kind != BACKING_ANON;
}

/* Check [gpa, gpa + len) holds the pattern, reading the file with pread(). */
static u64 pread_check(int fd, u64 gpa, u64 len, u64 seed, u64 *bad_gfn)
{
	const u64 chunk = 1ULL << 20;
	u64 off, bad = 0;
	void *buf = malloc(chunk);

	if (!buf)
		return NO_REPORT;
	for (off = 0; off < len && bad != NO_REPORT; off += chunk) {
		u64 n = len - off < chunk ? len - off : chunk;

		if (pread(fd, buf, n, gpa + off) != (ssize_t)n)
			bad = NO_REPORT;
		else
			bad += vmm_check_pattern(buf, gpa + off, n, seed,
						 bad ? NULL : bad_gfn);
	}
	free(buf);
	return bad;
}

/*
 * memvirtfs only: after the guest wrote @touched pages of the free area, the
 * VM holds exactly those plus what the VMM wrote below VMM_FREE_GPA, and
 * sysfs shows the same numbers as the ioctl.
 */
static void check_memvirt_counters(struct __test_metadata *_metadata,
				   FIXTURE_DATA(kvm_mem) *self, u64 touched)
{
	struct memvirt_stats st;
	u64 resident, faults, size;

	if (self->b.kind != BACKING_MEMVIRTFS)
		return;
	ASSERT_EQ(0, memvirt_get_stats(self->b.fd, &st));
	EXPECT_EQ(GUEST_SIZE, st.size_bytes);
	EXPECT_GE(st.resident, touched);
	EXPECT_LE(st.resident, touched + VMM_FREE_GPA / VMM_PAGE_SIZE);
	/* Every written page faulted in at least once. */
	EXPECT_GE(st.faults, touched);
	ASSERT_EQ(0, memvirt_sysfs_read(st.vm_id, "resident", &resident))
		TH_LOG("no %s/%llu/resident", MEMVIRT_SYSFS_VMS, st.vm_id);
	ASSERT_EQ(0, memvirt_sysfs_read(st.vm_id, "faults", &faults));
	ASSERT_EQ(0, memvirt_sysfs_read(st.vm_id, "size", &size));
	EXPECT_EQ(st.resident, resident);
	EXPECT_EQ(st.faults, faults);
	EXPECT_EQ(GUEST_SIZE, size);
	TH_LOG("memvirt vm %llu: resident %llu faults %llu zero %llu (touched %llu)",
	       st.vm_id, resident, faults, st.zero, touched);
}

TEST_F_TIMEOUT(kvm_mem, fresh_page_reads_zero, TEST_TIMEOUT_S)
{
	u64 gpa = GUEST_SIZE - VMM_PAGE_SIZE;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_READ_PAGE, gpa,
				gpa + VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	EXPECT_EQ(1ULL, REPORT(0, VMM_REPORT_PAGES));
	EXPECT_EQ(0ULL, REPORT(0, VMM_REPORT_NONZERO));
	EXPECT_EQ(0ULL, REPORT(0, VMM_REPORT_FIRST_NONZERO));
}

TEST_F_TIMEOUT(kvm_mem, fill_1vcpu, TEST_TIMEOUT_S)
{
	u64 seed = 0x1001, bad_gfn = 0;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_FILL, VMM_FREE_GPA,
				GUEST_SIZE, seed, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(0, FREE_PAGES);
	EXPECT_EQ(0ULL, vmm_check_pattern(self->mem + VMM_FREE_GPA, VMM_FREE_GPA,
				       FREE_LEN, seed, &bad_gfn))
		TH_LOG("host sees a bad word in gfn 0x%llx", bad_gfn);
	check_memvirt_counters(_metadata, self, FREE_PAGES);
}

TEST_F_TIMEOUT(kvm_mem, fill_4vcpu_disjoint, TEST_TIMEOUT_S)
{
	u64 seed = 0x2002, part = FREE_PAGES / NR_VCPUS, bad_gfn = 0;
	int i;

	RETURN_IF_SKIPPED();
	for (i = 0; i < NR_VCPUS; i++) {
		u64 start = VMM_FREE_GPA + i * part * VMM_PAGE_SIZE;
		u64 end = i == NR_VCPUS - 1 ? GUEST_SIZE :
			  start + part * VMM_PAGE_SIZE;

		ASSERT_EQ(0, vcpu_prepare(self->vm, i, VMM_PROG_FILL, start,
					  end, seed));
	}
	ASSERT_EQ(0, vm_run(self->vm, RUN_TIMEOUT_S));
	for (i = 0; i < NR_VCPUS - 1; i++)
		EXPECT_PATTERN_OK(i, part);
	EXPECT_PATTERN_OK(NR_VCPUS - 1, FREE_PAGES - (NR_VCPUS - 1) * part);
	EXPECT_EQ(0ULL, vmm_check_pattern(self->mem + VMM_FREE_GPA, VMM_FREE_GPA,
				       FREE_LEN, seed, &bad_gfn))
		TH_LOG("host sees a bad word in gfn 0x%llx", bad_gfn);
	check_memvirt_counters(_metadata, self, FREE_PAGES);
}

/* All vCPUs write the same values to the same pages at once. */
TEST_F_TIMEOUT(kvm_mem, fill_4vcpu_same, TEST_TIMEOUT_S)
{
	u64 seed = 0x3003, bad_gfn = 0;
	int i;

	RETURN_IF_SKIPPED();
	for (i = 0; i < NR_VCPUS; i++)
		ASSERT_EQ(0, vcpu_prepare(self->vm, i, VMM_PROG_FILL,
					  VMM_FREE_GPA, GUEST_SIZE, seed));
	ASSERT_EQ(0, vm_run(self->vm, RUN_TIMEOUT_S));
	for (i = 0; i < NR_VCPUS; i++)
		EXPECT_PATTERN_OK(i, FREE_PAGES);
	EXPECT_EQ(0ULL, vmm_check_pattern(self->mem + VMM_FREE_GPA, VMM_FREE_GPA,
				       FREE_LEN, seed, &bad_gfn))
		TH_LOG("host sees a bad word in gfn 0x%llx", bad_gfn);
	check_memvirt_counters(_metadata, self, FREE_PAGES);
}

/*
 * Host writes through the mapping (and pwrite() on files), guest verifies;
 * one corrupted word must then be found exactly where it is.
 */
TEST_F_TIMEOUT(kvm_mem, host_writes_guest_verifies, TEST_TIMEOUT_S)
{
	u64 seed = 0x4004, seed2 = 0x4114, gfn = VMM_FREE_GFN + 77, word = 123;
	u64 pw_gpa = VMM_FREE_GPA + (1ULL << 20), pw_len = 16 * VMM_PAGE_SIZE;
	volatile u64 *p;
	void *buf;

	RETURN_IF_SKIPPED();
	vmm_fill_pattern(self->mem + VMM_FREE_GPA, VMM_FREE_GPA, FREE_LEN, seed);
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_VERIFY, VMM_FREE_GPA,
				GUEST_SIZE, seed, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(0, FREE_PAGES);

	p = (volatile u64 *)(self->mem + (gfn << VMM_PAGE_SHIFT));
	p[word] ^= 0x100;
	ASSERT_EQ(0, vm_run_one(self->vm, 1, VMM_PROG_VERIFY, VMM_FREE_GPA,
				GUEST_SIZE, seed, RUN_TIMEOUT_S));
	EXPECT_EQ(1ULL, REPORT(1, VMM_REPORT_MISMATCHES));
	EXPECT_EQ(gfn, REPORT(1, VMM_REPORT_BAD_GFN));
	EXPECT_EQ(word, REPORT(1, VMM_REPORT_BAD_WORD));
	EXPECT_EQ(vmm_pattern(gfn, word, seed) ^ 0x100,
		  REPORT(1, VMM_REPORT_BAD_VALUE));

	if (!has_file(variant))
		return;
	/* pwrite() on the file reaches pages the guest has mapped. */
	buf = malloc(pw_len);
	ASSERT_NE(NULL, buf);
	vmm_fill_pattern(buf, pw_gpa, pw_len, seed2);
	ASSERT_EQ((ssize_t)pw_len, pwrite(self->b.fd, buf, pw_len, pw_gpa));
	free(buf);
	ASSERT_EQ(0, vm_run_one(self->vm, 2, VMM_PROG_VERIFY, pw_gpa,
				pw_gpa + pw_len, seed2, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(2, pw_len / VMM_PAGE_SIZE);
}

/* Guest writes; host verifies through the mapping and with pread(). */
TEST_F_TIMEOUT(kvm_mem, guest_writes_host_verifies, TEST_TIMEOUT_S)
{
	u64 seed = 0x5005, bad_gfn = 0;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_FILL, VMM_FREE_GPA,
				GUEST_SIZE, seed, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(0, FREE_PAGES);
	EXPECT_EQ(0ULL, vmm_check_pattern(self->mem + VMM_FREE_GPA, VMM_FREE_GPA,
				       FREE_LEN, seed, &bad_gfn))
		TH_LOG("mapping: bad word in gfn 0x%llx", bad_gfn);
	if (has_file(variant))
		EXPECT_EQ(0ULL, pread_check(self->b.fd, VMM_FREE_GPA, FREE_LEN, seed,
					 &bad_gfn))
			TH_LOG("pread: bad word in gfn 0x%llx (or read error: %s)",
			       bad_gfn, strerror(errno));
}

static bool page_is_zero(const u64 *p)
{
	u64 w, acc = 0;

	for (w = 0; w < VMM_WORDS_PER_PAGE; w++)
		acc |= ((const volatile u64 *)p)[w];
	return !acc;
}

/*
 * Give one page back behind the guest's back: PUNCH_HOLE on a file;
 * MADV_DONTNEED on anonymous memory or, if that fails (the debug kernel's
 * tiny config has no madvise()), a fresh anonymous page mapped over it.
 */
static int drop_page(FIXTURE_DATA(kvm_mem) *self, u64 gpa)
{
	void *hva = self->mem + gpa;

	if (self->b.kind != BACKING_ANON)
		return backing_punch(&self->b, gpa, VMM_PAGE_SIZE);
	if (!madvise(hva, VMM_PAGE_SIZE, MADV_DONTNEED))
		return 0;
	if (mmap(hva, VMM_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

/* drop_page(); on memvirtfs it must count a punch and free a page. */
static void drop_page_counted(struct __test_metadata *_metadata,
			      FIXTURE_DATA(kvm_mem) *self, u64 gpa)
{
	bool vfs = self->b.kind == BACKING_MEMVIRTFS;
	struct memvirt_stats before, after;
	int ret;

	if (vfs)
		ASSERT_EQ(0, memvirt_get_stats(self->b.fd, &before));
	ret = drop_page(self, gpa);
	ASSERT_EQ(0, ret) TH_LOG("dropping gfn 0x%llx: %s", gpa >> VMM_PAGE_SHIFT,
				 strerror(-ret));
	if (!vfs)
		return;
	ASSERT_EQ(0, memvirt_get_stats(self->b.fd, &after));
	EXPECT_EQ(before.punched + 1, after.punched);
	EXPECT_EQ(before.resident - 1, after.resident);
}

/*
 * The guest maps a page (KVM installs a nested PTE); the host gives it
 * back; the guest must then read zero, so KVM dropped its PTE through the
 * MMU notifier. Then a host write must be what the guest reads.
 */
TEST_F_TIMEOUT(kvm_mem, punch_hole_guest_reads_zero, TEST_TIMEOUT_S)
{
	u64 seed = 0x6006, gpa = VMM_FREE_GPA + 16 * VMM_PAGE_SIZE;
	u64 val = 0x1234567890abcdefULL, buf[VMM_WORDS_PER_PAGE];
	u64 *p = (u64 *)(self->mem + gpa);

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_FILL, gpa - VMM_PAGE_SIZE,
				gpa + 2 * VMM_PAGE_SIZE, seed, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(0, 3);
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_READ_PAGE, gpa,
				gpa + VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	ASSERT_EQ(VMM_WORDS_PER_PAGE, REPORT(0, VMM_REPORT_NONZERO));

	drop_page_counted(_metadata, self, gpa);
	ASSERT_EQ(0, vm_run_one(self->vm, 1, VMM_PROG_READ_PAGE, gpa,
				gpa + VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	EXPECT_EQ(0ULL, REPORT(1, VMM_REPORT_NONZERO))
		TH_LOG("guest still sees the old page: first word 0x%llx",
		       REPORT(1, VMM_REPORT_FIRST_WORD));
	/* Only that page: its neighbours keep the pattern. */
	ASSERT_EQ(0, vm_run_one(self->vm, 2, VMM_PROG_VERIFY, gpa - VMM_PAGE_SIZE,
				gpa, seed, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(2, 1);
	ASSERT_EQ(0, vm_run_one(self->vm, 3, VMM_PROG_VERIFY, gpa + VMM_PAGE_SIZE,
				gpa + 2 * VMM_PAGE_SIZE, seed, RUN_TIMEOUT_S));
	EXPECT_PATTERN_OK(3, 1);

	EXPECT_TRUE(page_is_zero(p));
	if (has_file(variant)) {
		memset(buf, 0xff, sizeof(buf));
		EXPECT_EQ((ssize_t)VMM_PAGE_SIZE,
			  pread(self->b.fd, buf, VMM_PAGE_SIZE, gpa));
		EXPECT_TRUE(page_is_zero(buf));
	}

	*(volatile u64 *)p = val;
	ASSERT_EQ(0, vm_run_one(self->vm, 0, VMM_PROG_READ_PAGE, gpa,
				gpa + VMM_PAGE_SIZE, 0, RUN_TIMEOUT_S));
	EXPECT_EQ(val, REPORT(0, VMM_REPORT_FIRST_WORD));
	EXPECT_EQ(1ULL, REPORT(0, VMM_REPORT_NONZERO));
}

VMM_TEST_HARNESS_MAIN

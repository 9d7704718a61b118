// SPDX-License-Identifier: GPL-2.0
/*
 * swap_test: the compression cache and hypervisor swap (issue 9) seen from
 * a host process, against /work/spec/swap-interface.md.
 *
 * Every test mounts its own memvirtfs with swapdir= on a fresh directory of
 * the test VM's swap disk (swap_contract.h), so that directory holds exactly
 * the .vswp files of the test's VMs. MEMVIRT_IOC_RECLAIM in modes
 * MEMVIRT_RECLAIM_COMPRESS and MEMVIRT_RECLAIM_SWAP runs synchronously in
 * the caller, so every count below is exact. The "mix" layout (gfns 0..47,
 * by gfn % 6: text, random, zero, sparse, random, text; 48..63 untouched)
 * gives 24 pages that compress to at most half a page (text, sparse), 16
 * that do not (random) and 8 private pages of zeroes.
 *
 *   swap file	created at the first non-zero size as memvirt-<id>.vswp,
 *		0600, root's, sized VM size minus reservation and allocated;
 *		follows growing, shrinking (not below the highest slot in use)
 *		and the reservation; replaces a stale file; goes with the VM
 *		(unlink + close, umount); mount and remount options; a full
 *		disk refuses the size with ENOSPC and leaves nothing behind;
 *		a tmpfs swapdir works or fails cleanly; no swapdir: no swap
 *		file, RECLAIM_SWAP EOPNOTSUPP, incompressible pages stay;
 *		slots are allocated lowest-first;
 *   data	COMPRESS and SWAP outputs, QUERY_RANGE states, GET_STATS v4,
 *		per-VM sysfs and global counters, the slot map; every byte
 *		read back through a mapping and read(); compressed pages move
 *		to swap; swapin_readahead reads exactly the following swapped
 *		gfns in consecutive slots; write(), stores and populate bring
 *		pages back; a pinned page is skipped; cache_percent 0; ASYNC;
 *   cleanup	punch, truncate, unlink and umount of compressed and swapped
 *		gfns: global counters back, no slot used;
 *   limit	limit_bytes holds the VM's charge to the limit (plus one
 *		reclaim batch in flight) while it writes twice as much;
 *   fi		(debug kernels: fail_make_request on the swap disk, for the
 *		memvirt_swapio thread only) a failed write leaves pages
 *		private and intact, a failed read makes that one gfn ERROR
 *		(SIGBUS, EIO) with one log line until punched or truncated;
 *   race	writers store into their own pages while COMPRESS and SWAP
 *		passes run over them: every page ends as its writer left it;
 *   bad input	unknown modes and flags, older struct sizes, knobs, EPERM;
 *   leak	last, on debug kernels: a kmemleak scan finds nothing.
 *
 * swapin_readahead is set by every test (0 unless the test is about it)
 * and restored with cache_percent; global counters are compared as deltas.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "swap_contract.h"

#define NPAGES		64UL
#define MIX_END		48UL
#define WAIT_S		10

/* ------------------------------------------------------------------ */
/* Page contents */

enum kind { K_NONE, K_ZERO, K_TEXT, K_RANDOM, K_SPARSE };

static const char *const kind_names[] = {
	"untouched", "zero", "text", "random", "sparse",
};

static bool compressible(enum kind k)
{
	return k == K_TEXT || k == K_SPARSE;
}

/*
 * 4 KiB of kind @k for gfn @gfn: text compresses to a few hundred bytes at
 * most, sparse (512 random bytes among zeroes) to about 520, random not at
 * all. Every page of data differs with the gfn and the salt.
 */
static void content(unsigned char *buf, enum kind k, u64 gfn, u32 salt)
{
	u64 x = ((gfn + 1) * 0x9e3779b97f4a7c15ULL) ^
		((salt + 1ULL) * 0xbf58476d1ce4e5b9ULL);
	size_t i, off, n;

	x |= 1;
	switch (k) {
	case K_NONE:
	case K_ZERO:
		memset(buf, 0, MV_PAGE);
		break;
	case K_TEXT:
		for (i = 0; i < MV_PAGE; i += n) {
			char line[96];

			n = snprintf(line, sizeof(line),
				     "gfn %llu salt %u: memvirt keeps this line compressed. ",
				     (unsigned long long)gfn, salt);
			n = n < MV_PAGE - i ? n : MV_PAGE - i;
			memcpy(buf + i, line, n);
		}
		break;
	case K_RANDOM:
		for (i = 0; i < MV_PAGE; i += sizeof(x)) {
			xorshift(&x);
			memcpy(buf + i, &x, sizeof(x));
		}
		break;
	case K_SPARSE:
		memset(buf, 0, MV_PAGE);
		off = (gfn * 64) % (MV_PAGE - 512);
		for (i = 0; i < 512; i += sizeof(x)) {
			xorshift(&x);
			memcpy(buf + off + i, &x, sizeof(x));
		}
		break;
	}
}

/* The mix layout: what gfn @g holds. */
static enum kind mix_kind(u64 g)
{
	static const enum kind cycle[6] = {
		K_TEXT, K_RANDOM, K_ZERO, K_SPARSE, K_RANDOM, K_TEXT,
	};

	return g < MIX_END ? cycle[g % 6] : K_NONE;
}

/* Pages of the mix: compressible (C), random (R), zero (Z). */
struct mix_counts {
	u64 c, r, z;
};

static struct mix_counts mix_counts(void)
{
	struct mix_counts m = { 0 };
	u64 g;

	for (g = 0; g < NPAGES; g++) {
		m.c += compressible(mix_kind(g));
		m.r += mix_kind(g) == K_RANDOM;
		m.z += mix_kind(g) == K_ZERO;
	}
	return m;
}

/* Write gfn @g of kind @k through the mapping (@map) or pwrite(). */
static void put(struct __test_metadata *_metadata, struct vmf *v, u64 g,
		enum kind k, u32 salt, bool map)
{
	unsigned char buf[MV_PAGE];

	content(buf, k, g, salt);
	if (map)
		memcpy(v->map + g * MV_PAGE, buf, MV_PAGE);
	else
		ASSERT_EQ((ssize_t)MV_PAGE, pwrite(v->fd, buf, MV_PAGE, g * MV_PAGE))
			TH_LOG("pwrite gfn %llu: %s", (unsigned long long)g,
			       strerror(errno));
}

/* Gfn @g reads as kind @k (through the mapping with @map, else pread()). */
static bool holds(struct vmf *v, u64 g, enum kind k, u32 salt, bool map)
{
	unsigned char buf[MV_PAGE], want[MV_PAGE];

	content(want, k, g, salt);
	if (map)
		return !memcmp(v->map + g * MV_PAGE, want, MV_PAGE);
	if (pread(v->fd, buf, MV_PAGE, g * MV_PAGE) != (ssize_t)MV_PAGE)
		return false;
	return !memcmp(buf, want, MV_PAGE);
}

static void expect_holds(struct __test_metadata *_metadata, struct vmf *v,
			 u64 g, enum kind k, u32 salt, bool map)
{
	EXPECT_TRUE(holds(v, g, k, salt, map))
		TH_LOG("gfn %llu is not %s content (read through %s)",
		       (unsigned long long)g, kind_names[k],
		       map ? "the mapping" : "pread");
}

#define EXPECT_HOLDS(v, g, k, salt, map) \
	expect_holds(_metadata, v, g, k, salt, map)

/* Gfns [@gfn, +@nr) are all in state @want. */
static void expect_state(struct __test_metadata *_metadata, struct vmf *v,
			 u64 gfn, u64 nr, unsigned char want)
{
	unsigned char st[1024];
	u64 i;

	ASSERT_GE(sizeof(st), nr);
	ASSERT_EQ(0, mv_query(v->fd, gfn, nr, st));
	for (i = 0; i < nr; i++) {
		unsigned char got = st[i];

		EXPECT_EQ(want, got & MEMVIRT_GFN_STATE_MASK)
			TH_LOG("gfn %llu: state 0x%x, want %u",
			       (unsigned long long)(gfn + i), got, want);
	}
}

/* One synchronous reclaim pass; asserts it worked. */
static void reclaim(struct __test_metadata *_metadata, struct vmf *v,
		    u64 mode, u64 start, u64 nr, struct memvirt_reclaim *r)
{
	int ret = mv_reclaim(v->fd, mode, start, nr, r);

	ASSERT_EQ(0, ret) TH_LOG("RECLAIM mode %llu [%llu, +%llu): %s",
				 (unsigned long long)mode,
				 (unsigned long long)start,
				 (unsigned long long)nr, strerror(-ret));
	ASSERT_EQ((u32)sizeof(*r), r->size);
}

/* A pass's outputs, exactly; reclaimed = compressed + swapped + zeroed. */
#define EXPECT_PASS(r, scan, comp, swap, zero, pinned) do {		\
	EXPECT_EQ((u64)(scan), (r).scanned);				\
	EXPECT_EQ((u64)(comp), (r).compressed);				\
	EXPECT_EQ((u64)(swap), (r).swapped);				\
	EXPECT_EQ((u64)(zero), (r).zeroed);				\
	EXPECT_EQ((u64)(comp) + (swap) + (zero), (r).reclaimed);	\
	EXPECT_EQ((u64)(pinned), (r).pinned_skips);			\
	EXPECT_EQ(0ULL, (r).merged);					\
} while (0)

/*
 * The VM's sysfs counters of the same names agree with GET_STATS
 * (swap_file_pages: vswp_follows_size_and_reservation).
 */
static void expect_vm_attrs(struct __test_metadata *_metadata, struct vmf *v,
			    const struct memvirt_stats *st)
{
	const struct {
		const char *attr;
		u64 val;
	} c[] = {
		{ "compressed", st->compressed },
		{ "compressed_bytes", st->compressed_bytes },
		{ "swapped", st->swapped },
		{ "swap_outs", st->swap_outs },
		{ "swap_ins", st->swap_ins },
		{ "compress_rejects", st->compress_rejects },
		{ "swap_errors", st->swap_errors },
		{ "resident", st->resident },
	};
	unsigned int i;
	u64 val;
	int ret;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		ret = mv_vm_u64(v->id, c[i].attr, &val);
		EXPECT_EQ(0, ret) TH_LOG("vms/%llu/%s: %s",
					 (unsigned long long)v->id, c[i].attr,
					 strerror(-ret));
		if (!ret)
			EXPECT_EQ(c[i].val, val)
				TH_LOG("vms/%llu/%s vs GET_STATS",
				       (unsigned long long)v->id, c[i].attr);
	}
}

/*
 * GET_STATS of @v into *@st; the VM's sysfs counters must agree, and its
 * pages add up: resident + shared + zero + compressed + swapped is the
 * size (Documentation/uapi.rst: zero is what the others leave, ERROR gfns
 * included).
 */
static void vm_stats(struct __test_metadata *_metadata, struct vmf *v,
		     struct memvirt_stats *st)
{
	mv_stats_get(_metadata, v->fd, st);
	ASSERT_EQ((u32)MEMVIRT_STATS_SIZE_VER3, st->size);
	expect_vm_attrs(_metadata, v, st);
	EXPECT_EQ(st->size_bytes / MV_PAGE, st->resident + st->zero +
		  st->shared + st->compressed + st->swapped)
		TH_LOG("resident %llu zero %llu shared %llu compressed %llu swapped %llu",
		       st->resident, st->zero, st->shared, st->compressed,
		       st->swapped);
	EXPECT_LE(st->compressed_bytes, st->compressed * SW_MAX_ZLEN);
	EXPECT_EQ(st->compressed_bytes == 0, st->compressed == 0);
}

/* vmf_open() that fails the test. */
static void vmf_new(struct __test_metadata *_metadata, struct vmf *v,
		    const char *dir, const char *name, u64 npages)
{
	char why[PATH_MAX + 128] = "";
	int ret = vmf_open(v, dir, name, npages, why, sizeof(why));

	if (ret)
		vmf_close(v);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
}

/* A new VM file @dir/@name of size 0, not mapped. */
static void vmf_empty(struct __test_metadata *_metadata, struct vmf *v,
		      const char *dir, const char *name)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->path, sizeof(v->path), "%s/%s", dir, name);
	v->fd = mv_create(v->path, 0);
	if (v->fd < 0)
		v->path[0] = 0;
	ASSERT_LE(0, v->fd) TH_LOG("create %s/%s: %s", dir, name,
				   strerror(-v->fd));
	v->id = sw_fd_id(_metadata, v->fd);
}

/* ------------------------------------------------------------------ */
/* The fixture: a memvirtfs with swapdir=, one VM of NPAGES, mapped */

FIXTURE(sw) {
	struct sw_mount m;
	struct vmf v;
	/* what a test makes besides; teardown removes it all */
	struct vmf w[3];
	struct sw_mount m2;
	struct sw_knobs k;
	struct mv_knobs knobs;
	bool knobs_saved;
	struct sw_glob g0;
	int pipe[2];
};

typedef FIXTURE_DATA(sw) sw_t;

static void sw_fini(struct __test_metadata *_metadata, sw_t *self)
{
	unsigned int i;
	int ret;

	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	vmf_close(&self->v);
	for (i = 0; i < ARRAY_SIZE(self->w); i++)
		vmf_close(&self->w[i]);
	ret = sw_mount_close(&self->m2);
	EXPECT_EQ(0, ret) TH_LOG("umount: %s", strerror(-ret));
	ret = sw_mount_close(&self->m);
	EXPECT_EQ(0, ret) TH_LOG("umount: %s", strerror(-ret));
	if (self->knobs_saved) {
		EXPECT_EQ(0, sw_knobs_restore(&self->k));
		EXPECT_EQ(0, mv_knobs_restore(&self->knobs));
	}
}

/* Every fixture's setup: the skips, knobs, the mount, one VM of @npages. */
static void sw_init(struct __test_metadata *_metadata, sw_t *self, u64 npages)
{
	const char *skip = sw_disk_missing(), *bad = "";
	char why[PATH_MAX + 128] = "";
	unsigned int i;
	int ret;

	self->v.fd = -1;
	for (i = 0; i < ARRAY_SIZE(self->w); i++)
		self->w[i].fd = -1;
	self->pipe[0] = self->pipe[1] = -1;
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	MV_SETUP_MOUNTED();
	sw_knobs_save(&self->k);
	mv_knobs_save(&self->knobs);
	self->knobs_saved = true;
	ret = sw_set("swapin_readahead", 0);
	if (ret)
		snprintf(why, sizeof(why), "%s/%s/swapin_readahead = 0: %s",
			 MV_SYSFS, SW_ATTR, strerror(-ret));
	if (!ret) {
		ret = sw_glob_try(&self->g0, &bad);
		if (ret)
			snprintf(why, sizeof(why), "%s/%s/%s: %s", MV_SYSFS,
				 SW_ATTR, bad, strerror(-ret));
	}
	if (!ret)
		ret = sw_mount_open(&self->m, true, why, sizeof(why));
	if (!ret)
		ret = vmf_open(&self->v, self->m.mnt, "vm", npages, why,
			       sizeof(why));
	if (ret)
		sw_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
}

FIXTURE_SETUP(sw)
{
	sw_init(_metadata, self, NPAGES);
}

FIXTURE_TEARDOWN(sw)
{
	sw_fini(_metadata, self);
}

static void fill_mix(struct __test_metadata *_metadata, struct vmf *v,
		     u32 salt)
{
	u64 g;

	for (g = 0; g < MIX_END; g++)
		put(_metadata, v, g, mix_kind(g), salt, g % 2 == 0);
}

/* Every gfn reads as the mix: half through the mapping, half pread(). */
static void expect_mix(struct __test_metadata *_metadata, struct vmf *v,
		       u32 salt)
{
	u64 g;

	for (g = 0; g < v->npages; g++)
		EXPECT_HOLDS(v, g, mix_kind(g), salt, g % 4 < 2);
}

/*
 * The state of mix gfn @g after a pass: zeroes ZERO, untouched ABSENT;
 * compressible pages COMPRESSED after COMPRESS (@swap false), SWAPPED after
 * SWAP; random pages SWAPPED, or PRIVATE without a swap file.
 */
static unsigned char mix_state(u64 g, bool swap, bool swap_file)
{
	switch (mix_kind(g)) {
	case K_NONE:
		return MEMVIRT_GFN_ABSENT;
	case K_ZERO:
		return MEMVIRT_GFN_ZERO;
	case K_RANDOM:
		return swap_file ? MEMVIRT_GFN_SWAPPED : MEMVIRT_GFN_PRIVATE;
	default:
		return swap ? MEMVIRT_GFN_SWAPPED : MEMVIRT_GFN_COMPRESSED;
	}
}

static void expect_mix_states(struct __test_metadata *_metadata,
			      struct vmf *v, bool swap, bool swap_file)
{
	unsigned char st[NPAGES];
	u64 g;

	ASSERT_EQ(0, mv_query(v->fd, 0, NPAGES, st));
	for (g = 0; g < NPAGES; g++) {
		unsigned char got = st[g];

		EXPECT_EQ(mix_state(g, swap, swap_file),
			  got & MEMVIRT_GFN_STATE_MASK)
			TH_LOG("gfn %llu (%s): state 0x%x",
			       (unsigned long long)g, kind_names[mix_kind(g)],
			       got);
	}
}

/* After reading the mix back: data PRIVATE, zeroes ZERO. */
static void expect_mix_back(struct __test_metadata *_metadata, struct vmf *v)
{
	unsigned char st[NPAGES];
	u64 g;

	ASSERT_EQ(0, mv_query(v->fd, 0, NPAGES, st));
	for (g = 0; g < MIX_END; g++) {
		unsigned char got = st[g];

		EXPECT_EQ(mix_kind(g) == K_ZERO ? MEMVIRT_GFN_ZERO :
			  MEMVIRT_GFN_PRIVATE, got & MEMVIRT_GFN_STATE_MASK)
			TH_LOG("gfn %llu (%s): state 0x%x",
			       (unsigned long long)g, kind_names[mix_kind(g)],
			       got);
	}
}

/* stat() of the VM's swap file; -errno if it is not there. */
static int vswp_stat(const char *swapdir, u64 id, struct stat *st)
{
	char path[PATH_MAX];

	sw_vswp_path(path, sizeof(path), swapdir, id);
	return stat(path, st) ? -errno : 0;
}

/* The VM's swap file exists with @pages pages, fully allocated. */
static void expect_vswp(struct __test_metadata *_metadata,
			const char *swapdir, u64 id, u64 pages)
{
	struct stat st;
	int ret = vswp_stat(swapdir, id, &st);

	ASSERT_EQ(0, ret) TH_LOG("%s/memvirt-%llu.vswp: %s", swapdir,
				 (unsigned long long)id, strerror(-ret));
	EXPECT_EQ((off_t)(pages * MV_PAGE), st.st_size)
		TH_LOG("swap file of vm %llu: %lld bytes, want %llu pages",
		       (unsigned long long)id, (long long)st.st_size,
		       (unsigned long long)pages);
	/* reserved: every block allocated (plus at most an extent block) */
	EXPECT_LE((u64)st.st_size, (u64)st.st_blocks * 512)
		TH_LOG("%lld bytes but %lld blocks allocated",
		       (long long)st.st_size, (long long)st.st_blocks);
	EXPECT_GE((u64)st.st_size + 64 * 1024, (u64)st.st_blocks * 512);
}

/* Wait up to 5 s for @path to go (removal may be deferred); 0 if gone. */
static int wait_gone(const char *path)
{
	struct stat st;
	int i;

	for (i = 0; i < 100; i++) {
		if (stat(path, &st) && errno == ENOENT)
			return 0;
		usleep(50000);
	}
	return -EEXIST;
}

/* ------------------------------------------------------------------ */
/* The swap file */

TEST_F(sw, vswp_follows_size_and_reservation)
{
	struct vmf *w = &self->w[0];
	char vswp[PATH_MAX], buf[PATH_MAX];
	struct memvirt_policy p;
	struct memvirt_stats st;
	struct stat sb;
	int fd;
	u64 id, v;

	vmf_empty(_metadata, w, self->m.mnt, "r");
	fd = w->fd;
	id = w->id;
	sw_vswp_path(vswp, sizeof(vswp), self->m.dir, id);
	EXPECT_EQ(-ENOENT, vswp_stat(self->m.dir, id, &sb))
		TH_LOG("a VM of size 0 has a swap file");
	ASSERT_EQ(0, mv_vm_str(id, "swap_file", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	ASSERT_EQ(0, mv_get_stats(fd, &st));
	EXPECT_EQ(0ULL, st.swap_file_pages);

	ASSERT_EQ(0, mv_set_policy(fd, MEMVIRT_POLICY_RESERVATION, 0, MV_MIB, 0));
	ASSERT_EQ(0, ftruncate(fd, 4 * MV_MIB));
	expect_vswp(_metadata, self->m.dir, id, 3 * MV_MIB / MV_PAGE);
	ASSERT_EQ(0, stat(vswp, &sb));
	EXPECT_EQ(0600U, sb.st_mode & 07777);
	EXPECT_TRUE(S_ISREG(sb.st_mode));
	EXPECT_EQ(0U, sb.st_uid);
	EXPECT_EQ(0U, sb.st_gid);
	ASSERT_EQ(0, mv_vm_str(id, "swap_file", buf, sizeof(buf)));
	EXPECT_STREQ(vswp, buf);
	ASSERT_EQ(0, mv_vm_u64(id, "swap_file_mb", &v));
	EXPECT_EQ(3ULL, v);
	ASSERT_EQ(0, mv_get_stats(fd, &st));
	EXPECT_EQ(3 * MV_MIB / MV_PAGE, st.swap_file_pages);
	EXPECT_EQ(0, mv_vm_u64(id, "swap_file_pages", &v))
		TH_LOG("no vms/%llu/swap_file_pages", (unsigned long long)id);
	EXPECT_EQ(st.swap_file_pages, v);

	ASSERT_EQ(0, ftruncate(fd, 6 * MV_MIB));
	expect_vswp(_metadata, self->m.dir, id, 5 * MV_MIB / MV_PAGE);
	ASSERT_EQ(0, ftruncate(fd, 2 * MV_MIB));
	expect_vswp(_metadata, self->m.dir, id, MV_MIB / MV_PAGE);
	ASSERT_EQ(0, mv_vm_u64(id, "swap_file_mb", &v));
	EXPECT_EQ(1ULL, v);

	/* Raising the reservation keeps the file; lowering it grows it. */
	ASSERT_EQ(0, mv_set_policy(fd, MEMVIRT_POLICY_RESERVATION, 0,
				   2 * MV_MIB, 0));
	expect_vswp(_metadata, self->m.dir, id, MV_MIB / MV_PAGE);
	ASSERT_EQ(0, mv_set_policy(fd, MEMVIRT_POLICY_RESERVATION, 0, 0, 0));
	expect_vswp(_metadata, self->m.dir, id, 2 * MV_MIB / MV_PAGE);
	ASSERT_EQ(0, mv_get_policy(fd, &p));
	EXPECT_EQ(0ULL, p.reservation_bytes);
	ASSERT_EQ(0, mv_get_stats(fd, &st));
	EXPECT_EQ(2 * MV_MIB / MV_PAGE, st.swap_file_pages);

	/* Unlinked but open: the VM and its file stay; the last close ends both. */
	ASSERT_EQ(0, unlink(w->path));
	w->path[0] = 0;
	EXPECT_EQ(0, vswp_stat(self->m.dir, id, &sb));
	EXPECT_TRUE(mv_vm_exists(id));
	vmf_close(w);
	EXPECT_EQ(0, wait_gone(vswp)) TH_LOG("%s outlived its VM", vswp);
	EXPECT_FALSE(mv_vm_exists(id));
	/* Only the fixture's VM's file is left. */
	EXPECT_EQ(1, sw_dir_entries(self->m.dir));
}

/* umount destroys every VM of the mount, and their swap files. */
TEST_F(sw, vswp_removed_by_umount)
{
	char vswp[PATH_MAX];
	u64 id = self->v.id;

	sw_vswp_path(vswp, sizeof(vswp), self->m.dir, id);
	expect_vswp(_metadata, self->m.dir, id, NPAGES);
	put(_metadata, &self->v, 0, K_RANDOM, 1, true);
	vmf_close(&self->v);
	EXPECT_EQ(0, wait_gone(vswp)) TH_LOG("unlink + close left %s", vswp);

	vmf_new(_metadata, &self->v, self->m.mnt, "kept", NPAGES);
	sw_vswp_path(vswp, sizeof(vswp), self->m.dir, self->v.id);
	expect_vswp(_metadata, self->m.dir, self->v.id, NPAGES);
	id = self->v.id;
	/* Closed, not unlinked: the VM lives until the umount. */
	munmap(self->v.map, NPAGES * MV_PAGE);
	self->v.map = NULL;
	close(self->v.fd);
	self->v.fd = -1;
	self->v.path[0] = 0;
	EXPECT_TRUE(mv_vm_exists(id));
	EXPECT_EQ(0, vswp_stat(self->m.dir, id, &(struct stat){ 0 }));
	ASSERT_EQ(0, umount(self->m.mnt)) TH_LOG("umount: %s", strerror(errno));
	self->m.mounted = false;
	EXPECT_EQ(0, wait_gone(vswp)) TH_LOG("umount left %s", vswp);
	EXPECT_FALSE(mv_vm_exists(id));
	EXPECT_EQ(0, sw_dir_entries(self->m.dir));
}

/* A stale memvirt-<id>.vswp (a crash left it) is replaced, with a log line. */
TEST_F(sw, stale_vswp_replaced)
{
	unsigned char buf[MV_PAGE], junk[MV_PAGE];
	struct vmf *w = &self->w[0];
	char vswp[PATH_MAX], name[64];
	int sfd, kfd, i;
	u64 id;

	vmf_empty(_metadata, w, self->m.mnt, "w");
	id = w->id;
	sw_vswp_path(vswp, sizeof(vswp), self->m.dir, id);
	memset(junk, 0xa5, sizeof(junk));
	sfd = open(vswp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, sfd) TH_LOG("create %s: %s", vswp, strerror(errno));
	for (i = 0; i < 3; i++)
		ASSERT_EQ((ssize_t)MV_PAGE, write(sfd, junk, MV_PAGE));
	close(sfd);

	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);
	ASSERT_EQ(0, ftruncate(w->fd, NPAGES * MV_PAGE))
		TH_LOG("a stale swap file blocks the VM: %s", strerror(errno));
	snprintf(name, sizeof(name), "memvirt-%llu.vswp", (unsigned long long)id);
	EXPECT_EQ(1, mv_kmsg_count(kfd, name))
		TH_LOG("want one log line naming the replaced %s", vswp);
	close(kfd);
	expect_vswp(_metadata, self->m.dir, id, NPAGES);
	sfd = open(vswp, O_RDONLY);
	ASSERT_LE(0, sfd);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ((ssize_t)MV_PAGE, pread(sfd, buf, MV_PAGE, i * MV_PAGE));
		EXPECT_NE(0, memcmp(buf, junk, MV_PAGE))
			TH_LOG("page %d of the stale file is still there", i);
	}
	close(sfd);
	vmf_close(w);
	EXPECT_EQ(0, wait_gone(vswp));
}

/*
 * Slots are allocated lowest-first; a shrink frees the slots of the cut
 * gfns first, then shrinks the file to the new size or to just past the
 * highest slot still in use, whichever is larger.
 */
TEST_F(sw, shrink_keeps_highest_used_slot)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	u64 g;

	for (g = 40; g < 44; g++)
		put(_metadata, &self->v, g, K_RANDOM, 2, false);
	for (g = 0; g < 4; g++)
		put(_metadata, &self->v, g, K_RANDOM, 2, false);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 40, 4, &r);
	EXPECT_PASS(r, 4, 0, 4, 0, 0);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, 4, &r);
	EXPECT_PASS(r, 4, 0, 4, 0, 0);
	sw_expect_slots(_metadata, self->v.id, 8, "0-7");

	/* gfns 0, 1 keep slots 4, 5: the file keeps 6 pages, not 2. */
	munmap(self->v.map, NPAGES * MV_PAGE);
	self->v.map = NULL;
	ASSERT_EQ(0, ftruncate(self->v.fd, 2 * MV_PAGE));
	sw_expect_slots(_metadata, self->v.id, 2, "4-5");
	expect_vswp(_metadata, self->m.dir, self->v.id, 6);
	mv_stats_get(_metadata, self->v.fd, &st);
	EXPECT_EQ(6ULL, st.swap_file_pages);
	EXPECT_EQ(2ULL, st.swapped);
	EXPECT_HOLDS(&self->v, 0, K_RANDOM, 2, false);
	EXPECT_HOLDS(&self->v, 1, K_RANDOM, 2, false);
	sw_expect_slots(_metadata, self->v.id, 0, "");

	ASSERT_EQ(0, ftruncate(self->v.fd, NPAGES * MV_PAGE));
	expect_vswp(_metadata, self->m.dir, self->v.id, NPAGES);
	EXPECT_HOLDS(&self->v, 2, K_NONE, 2, false);
	EXPECT_HOLDS(&self->v, 40, K_NONE, 2, false);
	sw_expect_drained(_metadata, &self->g0);
}

/*
 * Slots are allocated lowest-first (the spec's shrink rule relies on it):
 * slots freed by a swap-in are the next ones used, and a later swap-out
 * fills the lowest hole.
 */
TEST_F(sw, slots_allocated_lowest_first)
{
	struct memvirt_reclaim r;
	u64 g;

	for (g = 0; g < 12; g++)
		put(_metadata, &self->v, g, K_RANDOM, 5, false);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, 4, &r);
	EXPECT_PASS(r, 4, 0, 4, 0, 0);
	sw_expect_slots(_metadata, self->v.id, 4, "0-3");
	for (g = 0; g < 4; g++)
		EXPECT_HOLDS(&self->v, g, K_RANDOM, 5, false);
	sw_expect_slots(_metadata, self->v.id, 0, "");

	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 4, 4, &r);
	EXPECT_PASS(r, 4, 0, 4, 0, 0);
	sw_expect_slots(_metadata, self->v.id, 4, "0-3");
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 8, 4, &r);
	sw_expect_slots(_metadata, self->v.id, 8, "0-7");
	/* gfns 5 and 6 (slots 1, 2) come back; gfns 0, 1 go to 1, 2 */
	EXPECT_HOLDS(&self->v, 5, K_RANDOM, 5, false);
	EXPECT_HOLDS(&self->v, 6, K_RANDOM, 5, false);
	sw_expect_slots(_metadata, self->v.id, 6, "0,3-7");
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, 2, &r);
	EXPECT_PASS(r, 2, 0, 2, 0, 0);
	sw_expect_slots(_metadata, self->v.id, 8, "0-7");
	for (g = 0; g < 12; g++)
		EXPECT_HOLDS(&self->v, g, K_RANDOM, 5, g % 2);
	sw_expect_slots(_metadata, self->v.id, 0, "");
	sw_expect_drained(_metadata, &self->g0);
}

/* Whether /proc/mounts shows "swapdir=@dir" (a whole option) for @mnt. */
static bool mount_shows_swapdir(const char *mnt, const char *dir,
				char *opts, size_t len)
{
	char line[2048], dev[256], m[512], type[64], o[1024], want[PATH_MAX + 16];
	FILE *f = fopen("/proc/mounts", "r");
	char *p;

	opts[0] = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %511s %63s %1023s", dev, m, type, o) == 4 &&
		    !strcmp(m, mnt))
			snprintf(opts, len, "%s", o);
	fclose(f);
	snprintf(want, sizeof(want), "swapdir=%s", dir);
	p = strstr(opts, want);
	return p && (p == opts || p[-1] == ',') &&
	       (p[strlen(want)] == ',' || !p[strlen(want)]);
}

TEST_F(sw, swapdir_option_checked_shown_and_remounted)
{
	char mnt[64] = SW_MNT_TMPL, opt[PATH_MAX + 16], file[PATH_MAX];
	char dir2[PATH_MAX], opts[1024], vswp[PATH_MAX];
	const struct {
		const char *what;
		const char *val;
		int err;
	} bad[] = {
		{ "relative", "mnt/swap", -EINVAL },
		{ "empty", "", -EINVAL },
		{ "missing", "%s/missing", -ENOENT },
		{ "a file", "%s/file", -ENOTDIR },
	};
	struct vmf *w = &self->w[0];
	unsigned int i;
	int fd;

	snprintf(file, sizeof(file), "%s/file", self->m.dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_NE(NULL, mkdtemp(mnt));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char val[PATH_MAX];

		snprintf(val, sizeof(val), bad[i].val, self->m.dir);
		snprintf(opt, sizeof(opt), "swapdir=%s", val);
		EXPECT_EQ(bad[i].err, mv_mount(mnt, opt))
			TH_LOG("mount -o %s (%s)", opt, bad[i].what);
		if (mv_mounted_at(mnt, NULL))
			umount(mnt);
	}
	rmdir(mnt);

	EXPECT_TRUE(mount_shows_swapdir(self->m.mnt, self->m.dir, opts,
					sizeof(opts)))
		TH_LOG("/proc/mounts options of %s: %s", self->m.mnt, opts);

	/* A remount changes the directory for swap files created later. */
	snprintf(dir2, sizeof(dir2), SW_DIR_TMPL);
	ASSERT_NE(NULL, mkdtemp(dir2));
	snprintf(opt, sizeof(opt), "swapdir=%s", dir2);
	EXPECT_EQ(0, mount(NULL, self->m.mnt, NULL, MS_REMOUNT, opt))
		TH_LOG("remount -o %s: %s", opt, strerror(errno));
	EXPECT_TRUE(mount_shows_swapdir(self->m.mnt, dir2, opts, sizeof(opts)))
		TH_LOG("after the remount: %s", opts);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char val[PATH_MAX];

		snprintf(val, sizeof(val), bad[i].val, self->m.dir);
		snprintf(opt, sizeof(opt), "swapdir=%s", val);
		EXPECT_EQ(-1, mount(NULL, self->m.mnt, NULL, MS_REMOUNT, opt));
		EXPECT_EQ(-bad[i].err, errno) TH_LOG("remount -o %s (%s)", opt,
						     bad[i].what);
	}
	EXPECT_TRUE(mount_shows_swapdir(self->m.mnt, dir2, opts, sizeof(opts)))
		TH_LOG("after the refused remounts: %s", opts);

	vmf_new(_metadata, w, self->m.mnt, "later", NPAGES);
	expect_vswp(_metadata, dir2, w->id, NPAGES);
	expect_vswp(_metadata, self->m.dir, self->v.id, NPAGES);
	sw_vswp_path(vswp, sizeof(vswp), dir2, w->id);
	vmf_close(w);
	EXPECT_EQ(0, wait_gone(vswp));
	mv_rm_rf(dir2);
}

/*
 * Without swapdir=: no swap file; compression works, pages that do not
 * compress stay resident (counted as rejects), RECLAIM_SWAP EOPNOTSUPP.
 */
TEST_F(sw, no_swapdir_compresses_only)
{
	struct mix_counts m = mix_counts();
	struct sw_mount *plain = &self->m2;
	char why[PATH_MAX + 128], buf[PATH_MAX];
	struct vmf *w = &self->w[0];
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct sw_glob now;
	int ret;

	ret = sw_mount_open(plain, false, why, sizeof(why));
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	vmf_new(_metadata, w, plain->mnt, "noswap", NPAGES);
	ASSERT_EQ(0, mv_vm_str(w->id, "swap_file", buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	fill_mix(_metadata, w, 3);

	ret = mv_reclaim(w->fd, MEMVIRT_RECLAIM_SWAP, 0, NPAGES, &r);
	EXPECT_EQ(-EOPNOTSUPP, ret) TH_LOG("RECLAIM_SWAP without a swap file: %s",
					   strerror(-ret));
	reclaim(_metadata, w, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, m.c, 0, m.z, 0);
	expect_mix_states(_metadata, w, false, false);
	vm_stats(_metadata, w, &st);
	EXPECT_EQ(m.c, st.compressed);
	EXPECT_LT(0ULL, st.compressed_bytes);
	EXPECT_EQ(0ULL, st.swapped);
	EXPECT_EQ(0ULL, st.swap_outs);
	EXPECT_EQ(m.r, st.compress_rejects);
	EXPECT_EQ(m.r, st.resident);
	EXPECT_EQ(0ULL, st.swap_file_pages);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED, m.c);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED_BYTES, st.compressed_bytes);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAPPED, 0);
	EXPECT_SW_DELTA(self->g0, now, SW_REJECTS, m.r);
	EXPECT_EQ(0, sw_dir_entries(plain->dir)) TH_LOG("files in the unused %s",
						       plain->dir);
	expect_mix(_metadata, w, 3);
	expect_mix_back(_metadata, w);
	vm_stats(_metadata, w, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(0ULL, st.swap_ins);
	vmf_close(w);
	EXPECT_EQ(0, sw_mount_close(plain));
	sw_expect_drained(_metadata, &self->g0);
}

/* ------------------------------------------------------------------ */
/* Admission: the swap file is reserved up front */

#define FREE_LEFT	(8 * MV_MIB)
#define BIG		(32 * MV_MIB)

static u64 disk_free(struct __test_metadata *_metadata, const char *dir)
{
	struct statvfs sv;

	EXPECT_EQ(0, statvfs(dir, &sv));
	return (u64)sv.f_bfree * sv.f_frsize;
}

/*
 * With less than BIG free on the swap disk, a VM of BIG is refused with
 * ENOSPC and one log line naming the directory, leaving nothing behind:
 * at creation, when growing, and when a lower reservation would grow the
 * swap file.
 */
TEST_F(sw, full_disk_refuses_size_enospc)
{
	char filler[PATH_MAX], vswp[PATH_MAX];
	struct vmf *w = &self->w[0];
	struct memvirt_policy p;
	u64 free0, filled, id;
	struct stat sb;
	int ffd, kfd, fd;

	/*
	 * The filler takes all the filesystem gives (f_bfree also counts
	 * ext4's own reserve, which no file gets), then gives FREE_LEFT back.
	 */
	free0 = disk_free(_metadata, self->m.dir);
	snprintf(filler, sizeof(filler), "%s/filler", self->m.dir);
	ffd = open(filler, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, ffd);
	if (fallocate(ffd, 0, 0, free0))
		ASSERT_EQ(ENOSPC, errno) TH_LOG("fallocate %s: %s", filler,
						 strerror(errno));
	ASSERT_EQ(0, fstat(ffd, &sb));
	filled = (u64)sb.st_blocks * 512;
	ASSERT_LT(FREE_LEFT + MV_MIB, filled);
	ASSERT_EQ(0, ftruncate(ffd, (filled - FREE_LEFT) & ~(MV_MIB - 1)));
	close(ffd);
	TH_LOG("swap disk: %llu MiB free, the filler took %llu MiB, gave back %llu MiB; %llu KiB free now",
	       (unsigned long long)(free0 >> 20), (unsigned long long)(filled >> 20),
	       (unsigned long long)(FREE_LEFT >> 20),
	       (unsigned long long)(disk_free(_metadata, self->m.dir) >> 10));

	vmf_empty(_metadata, w, self->m.mnt, "big");
	fd = w->fd;
	id = w->id;
	sw_vswp_path(vswp, sizeof(vswp), self->m.dir, id);
	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);

	EXPECT_EQ(-1, ftruncate(fd, BIG));
	EXPECT_EQ(ENOSPC, errno) TH_LOG("ftruncate past the disk: %s",
					strerror(errno));
	EXPECT_EQ(1, mv_kmsg_count(kfd, self->m.dir))
		TH_LOG("want one log line naming %s", self->m.dir);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(0, sb.st_size);
	EXPECT_EQ(-ENOENT, vswp_stat(self->m.dir, id, &sb))
		TH_LOG("the refused VM left %s", vswp);
	EXPECT_EQ(2, sw_dir_entries(self->m.dir)) TH_LOG("the fixture's swap file and the filler");

	ASSERT_EQ(0, ftruncate(fd, MV_MIB));
	expect_vswp(_metadata, self->m.dir, id, MV_MIB / MV_PAGE);
	EXPECT_EQ(-1, ftruncate(fd, BIG));
	EXPECT_EQ(ENOSPC, errno) TH_LOG("growing past the disk: %s",
					strerror(errno));
	EXPECT_EQ(1, mv_kmsg_count(kfd, self->m.dir));
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ((off_t)MV_MIB, sb.st_size);
	expect_vswp(_metadata, self->m.dir, id, MV_MIB / MV_PAGE);

	/* A reservation makes room; giving it back needs the whole file. */
	ASSERT_EQ(0, mv_set_policy(fd, MEMVIRT_POLICY_RESERVATION, 0,
				   BIG - 4 * MV_MIB, 0));
	ASSERT_EQ(0, ftruncate(fd, BIG)) TH_LOG("BIG with a reservation: %s",
						strerror(errno));
	expect_vswp(_metadata, self->m.dir, id, 4 * MV_MIB / MV_PAGE);
	EXPECT_EQ(-ENOSPC, mv_set_policy(fd, MEMVIRT_POLICY_RESERVATION, 0, 0, 0));
	EXPECT_EQ(1, mv_kmsg_count(kfd, self->m.dir));
	ASSERT_EQ(0, mv_get_policy(fd, &p));
	EXPECT_EQ(BIG - 4 * MV_MIB, p.reservation_bytes);
	expect_vswp(_metadata, self->m.dir, id, 4 * MV_MIB / MV_PAGE);
	close(kfd);

	vmf_close(w);
	EXPECT_EQ(0, wait_gone(vswp));
	EXPECT_EQ(0, unlink(filler));
	EXPECT_EQ(1, sw_dir_entries(self->m.dir));
}

/*
 * swapdir= on tmpfs (no O_DIRECT on 6.1; 6.12's has it): whatever the
 * kernel can do, it does cleanly. Either the mount is refused, or the VM's
 * size is refused with ENOSPC and a log line and nothing left, or the swap
 * file works: pages written to it read back.
 */
TEST_F(sw, tmpfs_swapdir_works_or_fails_cleanly)
{
	struct sw_mount *m = &self->m2;
	struct vmf *w = &self->w[0];
	struct memvirt_reclaim r;
	char opt[128];
	struct stat sb;
	int ret, kfd;
	u64 g;

	snprintf(m->dir, sizeof(m->dir), "/tmp/swtmpfs.XXXXXX");
	snprintf(m->mnt, sizeof(m->mnt), SW_MNT_TMPL);
	ASSERT_NE(NULL, mkdtemp(m->dir));
	ASSERT_NE(NULL, mkdtemp(m->mnt));
	snprintf(opt, sizeof(opt), "swapdir=%s", m->dir);
	ret = mv_mount(m->mnt, opt);
	if (ret) {
		TH_LOG("mount -o %s refused: %s", opt, strerror(-ret));
		EXPECT_TRUE(ret == -EINVAL || ret == -EOPNOTSUPP);
		EXPECT_FALSE(mv_mounted_at(m->mnt, NULL));
		return;
	}
	m->mounted = true;
	vmf_empty(_metadata, w, m->mnt, "t");
	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);
	if (ftruncate(w->fd, 16 * MV_PAGE)) {
		ret = errno;
		TH_LOG("a VM swapping to tmpfs refused: %s", strerror(ret));
		EXPECT_EQ(ENOSPC, ret);
		EXPECT_EQ(1, mv_kmsg_count(kfd, m->dir));
		ASSERT_EQ(0, fstat(w->fd, &sb));
		EXPECT_EQ(0, sb.st_size);
		EXPECT_EQ(0, sw_dir_entries(m->dir))
			TH_LOG("the refused VM left a file in %s", m->dir);
	} else {
		TH_LOG("swapping to tmpfs works on this kernel");
		w->npages = 16;
		expect_vswp(_metadata, m->dir, w->id, 16);
		for (g = 0; g < 16; g++)
			put(_metadata, w, g, K_RANDOM, 4, false);
		reclaim(_metadata, w, MEMVIRT_RECLAIM_SWAP, 0, 16, &r);
		EXPECT_PASS(r, 16, 0, 16, 0, 0);
		for (g = 0; g < 16; g++)
			EXPECT_HOLDS(w, g, K_RANDOM, 4, false);
	}
	close(kfd);
	vmf_close(w);
	EXPECT_EQ(0, umount(m->mnt));
	m->mounted = false;
	EXPECT_EQ(0, sw_dir_entries(m->dir));
}

/* ------------------------------------------------------------------ */
/* Data round trips */

/* "0-<n - 1>", the slot list of n slots allocated lowest-first. */
static const char *first_slots(u64 n)
{
	static char buf[32];

	if (!n)
		return "";
	if (n == 1)
		return "0";
	snprintf(buf, sizeof(buf), "0-%llu", (unsigned long long)n - 1);
	return buf;
}

TEST_F(sw, compress_round_trip)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct sw_glob now;

	ASSERT_EQ(24ULL, m.c);
	ASSERT_EQ(16ULL, m.r);
	ASSERT_EQ(8ULL, m.z);
	fill_mix(_metadata, &self->v, 10);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, m.c, m.r, m.z, 0);
	expect_mix_states(_metadata, &self->v, false, true);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(m.c, st.compressed);
	EXPECT_LT(0ULL, st.compressed_bytes);
	EXPECT_EQ(m.r, st.swapped);
	EXPECT_EQ(m.r, st.swap_outs);
	EXPECT_EQ(m.r, st.compress_rejects);
	EXPECT_EQ(0ULL, st.swap_ins);
	EXPECT_EQ(0ULL, st.swap_errors);
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(NPAGES - m.c - m.r, st.zero);
	EXPECT_EQ(NPAGES, st.swap_file_pages);
	TH_LOG("%llu pages compressed to %llu bytes",
	       (unsigned long long)st.compressed,
	       (unsigned long long)st.compressed_bytes);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED, m.c);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED_BYTES, st.compressed_bytes);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAPPED, m.r);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAP_OUTS, m.r);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAP_INS, 0);
	EXPECT_SW_DELTA(self->g0, now, SW_REJECTS, m.r);
	EXPECT_SW_DELTA(self->g0, now, SW_ERRORS, 0);
	EXPECT_SW_DELTA(self->g0, now, SW_WB_INFLIGHT, 0);
	EXPECT_LE(now.v[SW_COMPRESSED_BYTES], now.v[SW_POOL_BYTES])
		TH_LOG("the pool is smaller than what it holds");
	sw_expect_slots(_metadata, self->v.id, m.r, first_slots(m.r));

	expect_mix(_metadata, &self->v, 10);
	expect_mix_back(_metadata, &self->v);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(0ULL, st.compressed_bytes);
	EXPECT_EQ(0ULL, st.swapped);
	EXPECT_EQ(m.r, st.swap_ins);
	EXPECT_EQ(m.r, st.swap_outs);
	EXPECT_EQ(m.c + m.r, st.resident);
	sw_expect_slots(_metadata, self->v.id, 0, "");
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAP_INS, m.r);
	sw_expect_drained(_metadata, &self->g0);
}

TEST_F(sw, swap_round_trip)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct sw_glob now;

	fill_mix(_metadata, &self->v, 11);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, 0, m.c + m.r, m.z, 0);
	expect_mix_states(_metadata, &self->v, true, true);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(m.c + m.r, st.swapped);
	EXPECT_EQ(m.c + m.r, st.swap_outs);
	EXPECT_EQ(0ULL, st.compress_rejects);
	EXPECT_EQ(0ULL, st.resident);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAPPED, m.c + m.r);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAP_OUTS, m.c + m.r);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED, 0);
	EXPECT_SW_DELTA(self->g0, now, SW_REJECTS, 0);
	sw_expect_slots(_metadata, self->v.id, m.c + m.r, first_slots(m.c + m.r));

	expect_mix(_metadata, &self->v, 11);
	expect_mix_back(_metadata, &self->v);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(0ULL, st.swapped);
	EXPECT_EQ(m.c + m.r, st.swap_ins);
	EXPECT_EQ(m.c + m.r, st.resident);
	sw_expect_slots(_metadata, self->v.id, 0, "");
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAP_INS, m.c + m.r);
	sw_expect_drained(_metadata, &self->g0);
}

/* RECLAIM_SWAP moves what COMPRESS left in the cache to the swap file. */
TEST_F(sw, compressed_pages_move_to_swap)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct sw_glob now;

	fill_mix(_metadata, &self->v, 12);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, m.c, m.r, m.z, 0);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, NPAGES, &r);
	/* scanned counts private pages; there are none left */
	EXPECT_PASS(r, 0, 0, m.c, 0, 0);
	expect_mix_states(_metadata, &self->v, true, true);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(0ULL, st.compressed_bytes);
	EXPECT_EQ(m.c + m.r, st.swapped);
	EXPECT_EQ(m.c + m.r, st.swap_outs);
	EXPECT_EQ(m.r, st.compress_rejects);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED, 0);
	EXPECT_SW_DELTA(self->g0, now, SW_COMPRESSED_BYTES, 0);
	EXPECT_SW_DELTA(self->g0, now, SW_SWAPPED, m.c + m.r);
	sw_expect_slots(_metadata, self->v.id, m.c + m.r, first_slots(m.c + m.r));
	expect_mix(_metadata, &self->v, 12);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(m.c + m.r, st.swap_ins);
	sw_expect_drained(_metadata, &self->g0);
}

/* swap_ins of @v, and the states of [@gfn, +@nr). */
static u64 swap_ins(struct __test_metadata *_metadata, struct vmf *v)
{
	struct memvirt_stats st;

	mv_stats_get(_metadata, v->fd, &st);
	return st.swap_ins;
}

/*
 * A swap-in also reads up to swapin_readahead following gfns that are
 * SWAPPED in consecutive slots, in one read: exactly those, no more.
 */
TEST_F(sw, swapin_readahead_reads_following_slots)
{
	struct memvirt_reclaim r;
	u64 g;

	SW_SET("swapin_readahead", 8);
	for (g = 0; g < 20; g++)
		put(_metadata, &self->v, g, K_RANDOM, 13, false);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, 20, &r);
	EXPECT_PASS(r, 20, 0, 20, 0, 0);
	sw_expect_slots(_metadata, self->v.id, 20, "0-19");

	/* gfn 2 and the 8 after it */
	EXPECT_HOLDS(&self->v, 2, K_RANDOM, 13, false);
	EXPECT_EQ(9ULL, swap_ins(_metadata, &self->v));
	expect_state(_metadata, &self->v, 0, 2, MEMVIRT_GFN_SWAPPED);
	expect_state(_metadata, &self->v, 2, 9, MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, &self->v, 11, 9, MEMVIRT_GFN_SWAPPED);
	sw_expect_slots(_metadata, self->v.id, 11, "0-1,11-19");

	/* gfn 1: the next gfn is resident, nothing to read ahead */
	EXPECT_HOLDS(&self->v, 1, K_RANDOM, 13, true);
	EXPECT_EQ(10ULL, swap_ins(_metadata, &self->v));
	expect_state(_metadata, &self->v, 0, 1, MEMVIRT_GFN_SWAPPED);

	/* a hole at gfn 14 ends the run after gfn 13 */
	ASSERT_EQ(0, fallocate(self->v.fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 14 * MV_PAGE, MV_PAGE));
	EXPECT_HOLDS(&self->v, 12, K_RANDOM, 13, true);
	EXPECT_EQ(12ULL, swap_ins(_metadata, &self->v));
	expect_state(_metadata, &self->v, 11, 1, MEMVIRT_GFN_SWAPPED);
	expect_state(_metadata, &self->v, 12, 2, MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, &self->v, 14, 1, MEMVIRT_GFN_ZERO);
	expect_state(_metadata, &self->v, 15, 5, MEMVIRT_GFN_SWAPPED);

	/* the knob bounds it */
	SW_SET("swapin_readahead", 2);
	EXPECT_HOLDS(&self->v, 15, K_RANDOM, 13, false);
	EXPECT_EQ(15ULL, swap_ins(_metadata, &self->v));
	expect_state(_metadata, &self->v, 15, 3, MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, &self->v, 18, 2, MEMVIRT_GFN_SWAPPED);
	SW_SET("swapin_readahead", 0);
	EXPECT_HOLDS(&self->v, 18, K_RANDOM, 13, false);
	EXPECT_EQ(16ULL, swap_ins(_metadata, &self->v));
	expect_state(_metadata, &self->v, 19, 1, MEMVIRT_GFN_SWAPPED);

	/* gfns 0, 11 and 19 are left */
	for (g = 0; g < 20; g++)
		EXPECT_HOLDS(&self->v, g, g == 14 ? K_ZERO : K_RANDOM, 13, g % 2);
	EXPECT_EQ(19ULL, swap_ins(_metadata, &self->v));
	sw_expect_slots(_metadata, self->v.id, 0, "");
	sw_expect_drained(_metadata, &self->g0);
}

/*
 * COMPRESS sends a run's incompressible pages to consecutive slots and the
 * rest to the cache or ZERO: a swap-in reads ahead the next SWAPPED gfns in
 * the following slots, skipping gfns in other states (within 64 gfns).
 */
TEST_F(sw, swapin_readahead_skips_gfns_not_swapped)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	unsigned char st[NPAGES];
	u64 g, n = 0;

	fill_mix(_metadata, &self->v, 43);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, m.c, m.r, m.z, 0);
	sw_expect_slots(_metadata, self->v.id, m.r, first_slots(m.r));
	SW_SET("swapin_readahead", 8);
	/* the first random gfn and the next 8 */
	EXPECT_HOLDS(&self->v, 1, K_RANDOM, 43, false);
	EXPECT_EQ(9ULL, swap_ins(_metadata, &self->v));
	ASSERT_EQ(0, mv_query(self->v.fd, 0, NPAGES, st));
	for (g = 0; g < MIX_END; g++) {
		unsigned char want = mix_state(g, false, true), got = st[g];

		if (mix_kind(g) == K_RANDOM && n++ < 9)
			want = MEMVIRT_GFN_PRIVATE;
		EXPECT_EQ(want, got & MEMVIRT_GFN_STATE_MASK)
			TH_LOG("gfn %llu (%s): state 0x%x", (unsigned long long)g,
			       kind_names[mix_kind(g)], got);
	}
	/* the rest in one swap-in */
	SW_SET("swapin_readahead", 64);
	EXPECT_HOLDS(&self->v, 28, K_RANDOM, 43, true);
	EXPECT_EQ(m.r, swap_ins(_metadata, &self->v));
	sw_expect_slots(_metadata, self->v.id, 0, "");
	expect_mix(_metadata, &self->v, 43);
	EXPECT_EQ(m.r, swap_ins(_metadata, &self->v));
	sw_expect_drained(_metadata, &self->g0);
}

/* Page @g is kind @k except @n bytes of @val at @off. */
static bool holds_patched(struct vmf *v, u64 g, enum kind k, u32 salt,
			  size_t off, size_t n, unsigned char val)
{
	unsigned char buf[MV_PAGE], want[MV_PAGE];

	content(want, k, g, salt);
	memset(want + off, val, n);
	if (pread(v->fd, buf, MV_PAGE, g * MV_PAGE) != (ssize_t)MV_PAGE)
		return false;
	return !memcmp(buf, want, MV_PAGE) &&
	       !memcmp(v->map + g * MV_PAGE, want, MV_PAGE);
}

/* write(), a store and populate each bring a page back, with its bytes. */
TEST_F(sw, write_store_populate_bring_pages_back)
{
	static const struct {
		u64 gfn;
		int how;	/* 0: pwrite, 1: store, 2: fallocate(0) */
	} ops[] = {
		{ 0, 0 }, { 1, 0 }, { 3, 1 }, { 4, 1 }, { 5, 2 }, { 7, 2 },
	};
	struct mix_counts m = mix_counts();
	unsigned char bytes[100];
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	unsigned int i;
	u64 g, ins = 0, comp = 0;

	fill_mix(_metadata, &self->v, 14);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, m.c, m.r, m.z, 0);
	memset(bytes, 0x5c, sizeof(bytes));
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		g = ops[i].gfn;
		if (mix_kind(g) == K_RANDOM)
			ins++;
		else
			comp++;
		switch (ops[i].how) {
		case 0:
			ASSERT_EQ((ssize_t)sizeof(bytes),
				  pwrite(self->v.fd, bytes, sizeof(bytes),
					 g * MV_PAGE + 1000));
			break;
		case 1:
			MV_WRITE_ONCE(self->v.map[g * MV_PAGE + 1000], 0x5c);
			break;
		case 2:
			ASSERT_EQ(0, fallocate(self->v.fd, 0, g * MV_PAGE, MV_PAGE));
			break;
		}
		expect_state(_metadata, &self->v, g, 1, MEMVIRT_GFN_PRIVATE);
		EXPECT_EQ(ins, swap_ins(_metadata, &self->v)) TH_LOG("gfn %llu",
								 (unsigned long long)g);
	}
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		g = ops[i].gfn;
		EXPECT_TRUE(holds_patched(&self->v, g, mix_kind(g), 14, 1000,
					  ops[i].how == 0 ? sizeof(bytes) :
					  ops[i].how == 1 ? 1 : 0, 0x5c))
			TH_LOG("gfn %llu (%s) after %s", (unsigned long long)g,
			       kind_names[mix_kind(g)],
			       ops[i].how == 0 ? "pwrite" :
			       ops[i].how == 1 ? "a store" : "populate");
	}
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(m.c - comp, st.compressed);
	EXPECT_EQ(m.r - ins, st.swapped);
	EXPECT_EQ(comp + ins, st.resident);
	sw_expect_slots(_metadata, self->v.id, m.r - ins, NULL);
	for (g = 8; g < NPAGES; g++)
		EXPECT_HOLDS(&self->v, g, mix_kind(g), 14, g % 4 < 2);
	EXPECT_HOLDS(&self->v, 2, K_ZERO, 14, true);
	EXPECT_HOLDS(&self->v, 6, mix_kind(6), 14, false);
	sw_expect_drained(_metadata, &self->g0);
}

/* A page held by a pipe (vmsplice() of the mapping) is skipped, counted. */
TEST_F(sw, pinned_page_skipped)
{
	unsigned char buf[MV_PAGE], want[MV_PAGE];
	struct iovec iov = {
		.iov_base = self->v.map + 2 * MV_PAGE,
		.iov_len = MV_PAGE,
	};
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	u64 g;

	for (g = 0; g < 8; g++)
		put(_metadata, &self->v, g, K_RANDOM, 15, false);
	for (g = 8; g < 12; g++)
		put(_metadata, &self->v, g, K_TEXT, 15, false);
	ASSERT_EQ(0, pipe(self->pipe));
	ASSERT_EQ((ssize_t)MV_PAGE, vmsplice(self->pipe[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, 12, &r);
	EXPECT_PASS(r, 12, 4, 7, 0, 1);
	expect_state(_metadata, &self->v, 2, 1, MEMVIRT_GFN_PRIVATE);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, 12, &r);
	EXPECT_PASS(r, 1, 0, 4, 0, 1);
	expect_state(_metadata, &self->v, 2, 1, MEMVIRT_GFN_PRIVATE);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(2ULL, st.pinned_skips);
	EXPECT_EQ(1ULL, st.resident);
	EXPECT_EQ(11ULL, st.swapped);

	content(want, K_RANDOM, 2, 15);
	ASSERT_EQ((ssize_t)MV_PAGE, read(self->pipe[0], buf, MV_PAGE));
	EXPECT_EQ(0, memcmp(buf, want, MV_PAGE));
	close(self->pipe[0]);
	close(self->pipe[1]);
	self->pipe[0] = self->pipe[1] = -1;
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_SWAP, 0, 12, &r);
	EXPECT_PASS(r, 1, 0, 1, 0, 0);
	for (g = 0; g < 12; g++)
		EXPECT_HOLDS(&self->v, g, g < 8 ? K_RANDOM : K_TEXT, 15, g % 2);
	sw_expect_drained(_metadata, &self->g0);
}

/* cache_percent 0: no compression; COMPRESS writes everything to swap. */
TEST_F(sw, cache_percent_0_compresses_nothing)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct sw_glob now;

	SW_SET("cache_percent", 0);
	sw_glob_read(_metadata, &now);
	EXPECT_EQ(0ULL, now.v[SW_CACHE_LIMIT]);
	fill_mix(_metadata, &self->v, 16);
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, 0, m.c + m.r, m.z, 0);
	expect_mix_states(_metadata, &self->v, true, true);
	vm_stats(_metadata, &self->v, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(m.c + m.r, st.swapped);
	TH_LOG("compress_rejects with compression off: %llu",
	       (unsigned long long)st.compress_rejects);
	expect_mix(_metadata, &self->v, 16);
	sw_expect_drained(_metadata, &self->g0);
}

/* MEMVIRT_RECLAIM_ASYNC: returns at once, reaches the same states. */
TEST_F(sw, async_compress_reaches_same_states)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	int i, ret;

	fill_mix(_metadata, &self->v, 17);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.flags = MEMVIRT_RECLAIM_ASYNC;
	r.mode = MEMVIRT_RECLAIM_COMPRESS;
	r.nr_gfns = NPAGES;
	ret = mv_ioctl(self->v.fd, MEMVIRT_IOC_RECLAIM, &r);
	ASSERT_EQ(0, ret) TH_LOG("ASYNC COMPRESS: %s", strerror(-ret));
	EXPECT_PASS(r, 0, 0, 0, 0, 0);
	for (i = 0; i < WAIT_S * 20; i++) {
		mv_stats_get(_metadata, self->v.fd, &st);
		if (st.compressed == m.c && st.swapped == m.r && !st.resident)
			break;
		usleep(50000);
	}
	EXPECT_EQ(m.c, st.compressed);
	EXPECT_EQ(m.r, st.swapped);
	EXPECT_EQ(0ULL, st.resident);
	expect_mix_states(_metadata, &self->v, false, true);
	expect_mix(_metadata, &self->v, 17);
}

/* ------------------------------------------------------------------ */
/* Cleanup: whatever ends a compressed or swapped gfn frees its copy */

enum cl_op { CL_PUNCH, CL_TRUNCATE, CL_UNLINK, CL_UMOUNT };

FIXTURE(cl) {
	sw_t s;
};

FIXTURE_VARIANT(cl) {
	enum cl_op op;
};

FIXTURE_VARIANT_ADD(cl, punch) { .op = CL_PUNCH };
FIXTURE_VARIANT_ADD(cl, truncate) { .op = CL_TRUNCATE };
FIXTURE_VARIANT_ADD(cl, unlink) { .op = CL_UNLINK };
FIXTURE_VARIANT_ADD(cl, umount) { .op = CL_UMOUNT };

FIXTURE_SETUP(cl)
{
	sw_init(_metadata, &self->s, NPAGES);
}

FIXTURE_TEARDOWN(cl)
{
	sw_fini(_metadata, &self->s);
}

/* The mix, compressed and swapped, plus 4 private pages at 48..51. */
static void compress_mix(struct __test_metadata *_metadata, struct vmf *v,
			 u32 salt)
{
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	u64 g;

	fill_mix(_metadata, v, salt);
	reclaim(_metadata, v, MEMVIRT_RECLAIM_COMPRESS, 0, MIX_END, &r);
	EXPECT_PASS(r, m.c + m.r + m.z, m.c, m.r, m.z, 0);
	for (g = MIX_END; g < MIX_END + 4; g++)
		put(_metadata, v, g, K_RANDOM, salt, true);
}

TEST_F(cl, compressed_and_swapped_gfns_freed)
{
	struct mix_counts m = mix_counts();
	sw_t *s = &self->s;
	struct memvirt_stats st;
	char vswp[PATH_MAX];
	struct sw_glob now;
	u64 id = s->v.id, g;
	struct stat sb;

	compress_mix(_metadata, &s->v, 18);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(s->g0, now, SW_COMPRESSED, m.c);
	EXPECT_SW_DELTA(s->g0, now, SW_SWAPPED, m.r);
	sw_vswp_path(vswp, sizeof(vswp), s->m.dir, id);

	switch (variant->op) {
	case CL_PUNCH:
		ASSERT_EQ(0, fallocate(s->v.fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, 0, NPAGES * MV_PAGE));
		expect_state(_metadata, &s->v, 0, NPAGES, MEMVIRT_GFN_ZERO);
		vm_stats(_metadata, &s->v, &st);
		EXPECT_EQ(0ULL, st.compressed);
		EXPECT_EQ(0ULL, st.swapped);
		EXPECT_EQ(0ULL, st.resident);
		/* the spec does not say whether a punched copy is "punched" */
		TH_LOG("punched counts %llu of %llu private, %llu compressed, %llu swapped gfns",
		       st.punched, 4ULL, m.c, m.r);
		sw_expect_slots(_metadata, id, 0, "");
		expect_vswp(_metadata, s->m.dir, id, NPAGES);
		for (g = 0; g < NPAGES; g++)
			EXPECT_HOLDS(&s->v, g, K_ZERO, 18, g % 2);
		break;
	case CL_TRUNCATE:
		munmap(s->v.map, NPAGES * MV_PAGE);
		s->v.map = NULL;
		ASSERT_EQ(0, ftruncate(s->v.fd, 0));
		vm_stats(_metadata, &s->v, &st);
		EXPECT_EQ(0ULL, st.compressed);
		EXPECT_EQ(0ULL, st.swapped);
		EXPECT_EQ(0ULL, st.swap_file_pages);
		sw_expect_slots(_metadata, id, 0, "");
		if (!vswp_stat(s->m.dir, id, &sb))
			EXPECT_EQ(0, sb.st_size);
		TH_LOG("size 0: the swap file %s", vswp_stat(s->m.dir, id, &sb) ?
		       "was removed" : "stays, empty");
		ASSERT_EQ(0, ftruncate(s->v.fd, NPAGES * MV_PAGE));
		expect_vswp(_metadata, s->m.dir, id, NPAGES);
		for (g = 0; g < NPAGES; g++)
			EXPECT_HOLDS(&s->v, g, K_ZERO, 18, false);
		break;
	case CL_UNLINK:
		ASSERT_EQ(0, unlink(s->v.path));
		s->v.path[0] = 0;
		EXPECT_EQ(0, vswp_stat(s->m.dir, id, &sb));
		vmf_close(&s->v);
		EXPECT_EQ(0, wait_gone(vswp));
		EXPECT_FALSE(mv_vm_exists(id));
		break;
	case CL_UMOUNT:
		s->v.path[0] = 0;	/* the umount takes it */
		vmf_close(&s->v);
		EXPECT_TRUE(mv_vm_exists(id));
		ASSERT_EQ(0, umount(s->m.mnt)) TH_LOG("umount: %s", strerror(errno));
		s->m.mounted = false;
		EXPECT_EQ(0, wait_gone(vswp));
		EXPECT_FALSE(mv_vm_exists(id));
		EXPECT_EQ(0, sw_dir_entries(s->m.dir));
		break;
	}
	sw_expect_drained(_metadata, &s->g0);
}

/* ------------------------------------------------------------------ */
/* The resident limit */

#define LIMIT_PAGES	256UL

FIXTURE(limit) {
	sw_t s;
};

FIXTURE_VARIANT(limit) {
	enum kind kind;
};

FIXTURE_VARIANT_ADD(limit, incompressible) { .kind = K_RANDOM };
FIXTURE_VARIANT_ADD(limit, compressible) { .kind = K_TEXT };

FIXTURE_SETUP(limit)
{
	sw_init(_metadata, &self->s, 2 * LIMIT_PAGES);
}

FIXTURE_TEARDOWN(limit)
{
	sw_fini(_metadata, &self->s);
}

/* What the limit holds: resident pages plus compressed bytes in pages. */
static u64 charge(const struct memvirt_stats *st)
{
	return st->resident + (st->compressed_bytes + MV_PAGE - 1) / MV_PAGE;
}

/*
 * The VM writes twice its limit: the faults reclaim its coldest pages, so
 * its charge never passes the limit by more than one batch (SW_LIMIT_BATCH
 * pages whose write-out may still be in flight) and is within the limit
 * once the writes completed; every byte reads back.
 */
TEST_F_TIMEOUT(limit, charge_stays_within_limit, 120)
{
	sw_t *s = &self->s;
	u64 n = 2 * LIMIT_PAGES, g, max = 0, c;
	struct memvirt_policy p;
	struct memvirt_stats st;
	struct sw_glob now;
	int i, ret;

	ret = mv_set_policy(s->v.fd, MEMVIRT_POLICY_LIMIT, 0, 0,
			    LIMIT_PAGES * MV_PAGE);
	ASSERT_EQ(0, ret) TH_LOG("SET_POLICY limit: %s", strerror(-ret));
	ASSERT_EQ(0, mv_get_policy(s->v.fd, &p));
	ASSERT_EQ(LIMIT_PAGES * MV_PAGE, p.limit_bytes);
	for (g = 0; g < n; g++) {
		put(_metadata, &s->v, g, variant->kind, 24, true);
		mv_stats_get(_metadata, s->v.fd, &st);
		c = charge(&st);
		if (c > max)
			max = c;
	}
	for (i = 0; i < WAIT_S * 20; i++) {
		sw_glob_read(_metadata, &now);
		if (now.v[SW_WB_INFLIGHT] == s->g0.v[SW_WB_INFLIGHT])
			break;
		usleep(50000);
	}
	vm_stats(_metadata, &s->v, &st);
	TH_LOG("%s: limit %lu pages, %llu written; highest charge %llu; now resident %llu, compressed %llu (%llu bytes), swapped %llu",
	       kind_names[variant->kind], LIMIT_PAGES, (unsigned long long)n,
	       (unsigned long long)max, st.resident, st.compressed,
	       st.compressed_bytes, st.swapped);
	EXPECT_GE(LIMIT_PAGES + SW_LIMIT_BATCH, max);
	EXPECT_GE(LIMIT_PAGES, charge(&st));
	EXPECT_EQ(n, st.resident + st.compressed + st.swapped);
	EXPECT_LE(n - LIMIT_PAGES, st.compressed + st.swapped);
	if (variant->kind == K_RANDOM) {
		EXPECT_EQ(0ULL, st.compressed);
		EXPECT_LE(st.swapped, st.compress_rejects);
	} else {
		EXPECT_LT(0ULL, st.compressed);
	}
	for (g = 0; g < n; g++)
		EXPECT_HOLDS(&s->v, g, variant->kind, 24, g % 2);
}

/* ------------------------------------------------------------------ */
/* I/O errors on the swap disk (debug kernels: fail_make_request) */

FIXTURE(fi) {
	sw_t s;
	struct sw_fmr f;
	int kfd;
};

FIXTURE_SETUP(fi)
{
	const char *skip = sw_fmr_missing();

	self->kfd = -1;
	if (skip)
		MV_SETUP_SKIP("%s", skip);
	sw_init(_metadata, &self->s, NPAGES);
}

/*
 * The injection took nothing of the filesystem's own: it logged no error
 * and still writes.
 */
static void fi_expect_disk_healthy(struct __test_metadata *_metadata,
				   FIXTURE_DATA(fi) *self)
{
	EXPECT_EQ(0, sw_disk_healthy(self->s.m.dir));
	if (self->kfd >= 0)
		EXPECT_EQ(0, mv_kmsg_count(self->kfd, "EXT4-fs"))
			TH_LOG("the swap disk's filesystem saw a failed request");
}

FIXTURE_TEARDOWN(fi)
{
	EXPECT_EQ(0, sw_fmr_restore(&self->f));
	fi_expect_disk_healthy(_metadata, self);
	if (self->kfd >= 0)
		close(self->kfd);
	sw_fini(_metadata, &self->s);
}

/* Fail the next @times swap I/O requests of memvirt (-1: all of them). */
static void fi_arm(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self,
		   long times)
{
	char why[PATH_MAX + 128] = "";
	int ret;

	if (self->kfd < 0)
		self->kfd = mv_kmsg_open();
	ASSERT_LE(0, self->kfd);
	ret = sw_fmr_arm(&self->f, times, why, sizeof(why));
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
}

static void fi_disarm(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self)
{
	ASSERT_EQ(0, sw_fmr_disarm(&self->f));
}

/* Eight pages of random data at gfns 0..7, written to the swap file. */
static void fi_swap_eight(struct __test_metadata *_metadata, struct vmf *v,
			  u32 salt)
{
	struct memvirt_reclaim r;
	u64 g;

	for (g = 0; g < 8; g++)
		put(_metadata, v, g, K_RANDOM, salt, false);
	reclaim(_metadata, v, MEMVIRT_RECLAIM_SWAP, 0, 8, &r);
	EXPECT_PASS(r, 8, 0, 8, 0, 0);
}

TEST_F(fi, write_error_keeps_pages_private)
{
	struct vmf *v = &self->s.v;
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct sw_glob now;
	char needle[48];
	int ret, lines;
	u64 g;

	for (g = 0; g < 8; g++)
		put(_metadata, v, g, K_RANDOM, 30, false);
	fi_arm(_metadata, self, -1);
	ret = mv_reclaim(v->fd, MEMVIRT_RECLAIM_SWAP, 0, 8, &r);
	fi_disarm(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("RECLAIM_SWAP with failing writes: %s",
				 strerror(-ret));
	EXPECT_PASS(r, 8, 0, 0, 0, 0);
	expect_state(_metadata, v, 0, 8, MEMVIRT_GFN_PRIVATE);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(8ULL, st.swap_errors);
	EXPECT_EQ(0ULL, st.swap_outs);
	EXPECT_EQ(0ULL, st.swapped);
	EXPECT_EQ(8ULL, st.resident);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->s.g0, now, SW_ERRORS, 8);
	EXPECT_SW_DELTA(self->s.g0, now, SW_SWAP_OUTS, 0);
	EXPECT_SW_DELTA(self->s.g0, now, SW_SWAPPED, 0);
	sw_expect_slots(_metadata, v->id, 0, "");
	snprintf(needle, sizeof(needle), "vm %llu ", (unsigned long long)v->id);
	lines = mv_kmsg_count(self->kfd, needle);
	TH_LOG("%d log lines name vm %llu", lines, (unsigned long long)v->id);
	EXPECT_LE(1, lines);
	EXPECT_GE(8, lines);
	for (g = 0; g < 8; g++)
		EXPECT_HOLDS(v, g, K_RANDOM, 30, g % 2);

	/* Injection off: the same pages go out and come back. */
	reclaim(_metadata, v, MEMVIRT_RECLAIM_SWAP, 0, 8, &r);
	EXPECT_PASS(r, 8, 0, 8, 0, 0);
	for (g = 0; g < 8; g++)
		EXPECT_HOLDS(v, g, K_RANDOM, 30, g % 2);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(8ULL, st.swap_errors);
	EXPECT_EQ(8ULL, st.swap_ins);
	sw_expect_drained(_metadata, &self->s.g0);
}

/*
 * After a failed swap-in of gfn @bad (already seen to fail): it alone is
 * ERROR, one error counted, no swap-in; every access fails without new
 * I/O; its neighbours read back.
 */
static void fi_expect_error_gfn(struct __test_metadata *_metadata,
				FIXTURE_DATA(fi) *self, u64 bad, u32 salt)
{
	struct vmf *v = &self->s.v;
	unsigned char c = 0;
	struct memvirt_stats st;
	struct sw_glob now;
	u64 g;

	EXPECT_EQ(1, sw_kmsg_count_gfn(self->kfd, v->id, bad))
		TH_LOG("want one log line naming vm %llu and gfn 0x%llx",
		       (unsigned long long)v->id, (unsigned long long)bad);
	expect_state(_metadata, v, bad, 1, MEMVIRT_GFN_ERROR);
	expect_state(_metadata, v, 0, bad, MEMVIRT_GFN_SWAPPED);
	expect_state(_metadata, v, bad + 1, 7 - bad, MEMVIRT_GFN_SWAPPED);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(1ULL, st.swap_errors);
	EXPECT_EQ(0ULL, st.swap_ins);
	EXPECT_EQ(7ULL, st.swapped);

	EXPECT_EQ(1, mv_read_sigbus(v->map + bad * MV_PAGE));
	EXPECT_EQ(1, mv_write_sigbus(v->map + bad * MV_PAGE + 7, 1));
	EXPECT_EQ(-1, pread(v->fd, &c, 1, bad * MV_PAGE + 9));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(v->fd, &c, 1, bad * MV_PAGE + 9));
	EXPECT_EQ(EIO, errno);
	expect_state(_metadata, v, bad, 1, MEMVIRT_GFN_ERROR);
	mv_stats_get(_metadata, v->fd, &st);
	EXPECT_EQ(1ULL, st.swap_errors) TH_LOG("an ERROR gfn was read again");

	for (g = 0; g < 8; g++)
		if (g != bad)
			EXPECT_HOLDS(v, g, K_RANDOM, salt, g % 2);
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(7ULL, st.swap_ins);
	EXPECT_EQ(0ULL, st.swapped);
	EXPECT_EQ(7ULL, st.resident);
	sw_glob_read(_metadata, &now);
	EXPECT_SW_DELTA(self->s.g0, now, SW_ERRORS, 1);
	EXPECT_SW_DELTA(self->s.g0, now, SW_SWAP_INS, 7);
}

TEST_F(fi, read_error_sigbus_until_punched)
{
	struct vmf *v = &self->s.v;
	int bus;

	fi_swap_eight(_metadata, v, 31);
	fi_arm(_metadata, self, 1);
	bus = mv_read_sigbus(v->map + 3 * MV_PAGE + 10);
	fi_disarm(_metadata, self);
	EXPECT_EQ(1, bus) TH_LOG("a failed swap-in did not raise SIGBUS");
	fi_expect_error_gfn(_metadata, self, 3, 31);

	/* punch recovers it: zero, then writable */
	ASSERT_EQ(0, fallocate(v->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       3 * MV_PAGE, MV_PAGE));
	expect_state(_metadata, v, 3, 1, MEMVIRT_GFN_ZERO);
	EXPECT_HOLDS(v, 3, K_ZERO, 31, true);
	EXPECT_HOLDS(v, 3, K_ZERO, 31, false);
	put(_metadata, v, 3, K_TEXT, 32, true);
	EXPECT_HOLDS(v, 3, K_TEXT, 32, false);
	sw_expect_slots(_metadata, v->id, 0, "");
	sw_expect_drained(_metadata, &self->s.g0);
}

TEST_F(fi, read_error_eio_until_truncated)
{
	struct vmf *v = &self->s.v;
	struct memvirt_stats st;
	unsigned char c;
	ssize_t n;
	int err;

	fi_swap_eight(_metadata, v, 33);
	fi_arm(_metadata, self, 1);
	n = pread(v->fd, &c, 1, 5 * MV_PAGE + 100);
	err = errno;
	fi_disarm(_metadata, self);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EIO, err) TH_LOG("pread of a failed swap-in: %s", strerror(err));
	fi_expect_error_gfn(_metadata, self, 5, 33);

	/* a shrink past it frees it; regrown, it reads zero */
	munmap(v->map, NPAGES * MV_PAGE);
	v->map = NULL;
	ASSERT_EQ(0, ftruncate(v->fd, 5 * MV_PAGE));
	vm_stats(_metadata, v, &st);
	EXPECT_EQ(5ULL, st.resident);
	ASSERT_EQ(0, ftruncate(v->fd, NPAGES * MV_PAGE));
	expect_state(_metadata, v, 5, 1, MEMVIRT_GFN_ABSENT);
	EXPECT_HOLDS(v, 5, K_ZERO, 33, false);
	sw_expect_slots(_metadata, v->id, 0, "");
	sw_expect_drained(_metadata, &self->s.g0);
}

/* ------------------------------------------------------------------ */
/* Writers racing COMPRESS and SWAP passes */

#define RACE_WRITERS	3
#define RACE_SECS	3

/*
 * One writer: owns gfns idx, idx + RACE_WRITERS, ...; keeps in @shadow what
 * each must hold; stores words, pwrite()s, rewrites whole pages (text or
 * random, so they compress or not) and checks its pages against @shadow.
 */
struct writer {
	pthread_t thread;
	struct vmf *v;
	unsigned char *shadow;
	int *stop;
	unsigned int idx;
	u64 ops;
	u64 bad;	/* 1 + the gfn that differed from its shadow */
	int err;	/* errno of a failed pwrite */
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	u64 x = 0x5eed + w->idx * 0x9e37, g, val, round;
	unsigned char *sh, *pg;
	size_t off;

	for (round = 0; !MV_READ_ONCE(*w->stop); round++) {
		for (g = w->idx; g < NPAGES; g += RACE_WRITERS, w->ops++) {
			sh = w->shadow + g * MV_PAGE;
			pg = w->v->map + g * MV_PAGE;
			off = (xorshift(&x) % (MV_PAGE / 8)) * 8;
			val = xorshift(&x);
			switch (xorshift(&x) % 4) {
			case 0:
				MV_WRITE_ONCE(*(u64 *)(pg + off), val);
				memcpy(sh + off, &val, sizeof(val));
				break;
			case 1:
				if (pwrite(w->v->fd, &val, sizeof(val),
					   g * MV_PAGE + off) != sizeof(val)) {
					w->err = errno;
					return NULL;
				}
				memcpy(sh + off, &val, sizeof(val));
				break;
			case 2:
				if (memcmp(pg, sh, MV_PAGE)) {
					w->bad = 1 + g;
					return NULL;
				}
				break;
			case 3:
				content(sh, round % 2 ? K_RANDOM : K_TEXT, g,
					(u32)round);
				memcpy(pg, sh, MV_PAGE);
				break;
			}
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(sw, writers_race_compress_and_swap, 90)
{
	struct writer w[RACE_WRITERS];
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	u64 passes = 0, comp = 0, swapped = 0, g, bad = 0;
	unsigned char *shadow, buf[MV_PAGE];
	time_t end;
	int stop = 0, ret = 0;
	unsigned int i;

	shadow = malloc(NPAGES * MV_PAGE);
	ASSERT_NE(NULL, shadow);
	for (g = 0; g < NPAGES; g++) {
		content(shadow + g * MV_PAGE, g % 2 ? K_RANDOM : K_TEXT, g, 40);
		put(_metadata, &self->v, g, g % 2 ? K_RANDOM : K_TEXT, 40, false);
	}
	for (i = 0; i < RACE_WRITERS; i++) {
		w[i] = (struct writer){
			.v = &self->v, .shadow = shadow, .stop = &stop, .idx = i,
		};
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, writer_run, &w[i]));
	}
	for (end = time(NULL) + RACE_SECS; time(NULL) < end && !ret; passes++) {
		ret = mv_reclaim(self->v.fd, passes % 2 ? MEMVIRT_RECLAIM_SWAP :
				 MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
		comp += r.compressed;
		swapped += r.swapped;
	}
	MV_WRITE_ONCE(stop, 1);
	for (i = 0; i < RACE_WRITERS; i++)
		pthread_join(w[i].thread, NULL);
	ASSERT_EQ(0, ret) TH_LOG("RECLAIM pass %llu: %s",
				 (unsigned long long)passes, strerror(-ret));
	for (i = 0; i < RACE_WRITERS; i++) {
		EXPECT_EQ(0ULL, w[i].bad) TH_LOG("writer %u: gfn %llu lost a write",
						 i, (unsigned long long)w[i].bad - 1);
		EXPECT_EQ(0, w[i].err) TH_LOG("writer %u: pwrite: %s", i,
					      strerror(w[i].err));
		EXPECT_LT(0ULL, w[i].ops);
	}
	mv_stats_get(_metadata, self->v.fd, &st);
	TH_LOG("%llu passes: %llu pages compressed, %llu swapped, %llu swapped in; writers did %llu, %llu, %llu operations",
	       (unsigned long long)passes, (unsigned long long)comp,
	       (unsigned long long)swapped, st.swap_ins,
	       (unsigned long long)w[0].ops, (unsigned long long)w[1].ops,
	       (unsigned long long)w[2].ops);
	/* it raced: pages went out and came back while the writers ran */
	EXPECT_LT(0ULL, comp);
	EXPECT_LT(0ULL, swapped);
	EXPECT_LT(0ULL, st.swap_ins);

	for (g = 0; g < NPAGES; g++) {
		ASSERT_EQ((ssize_t)MV_PAGE, pread(self->v.fd, buf, MV_PAGE,
						  g * MV_PAGE));
		if (memcmp(buf, shadow + g * MV_PAGE, MV_PAGE) ||
		    memcmp(self->v.map + g * MV_PAGE, buf, MV_PAGE))
			if (!bad++)
				TH_LOG("gfn %llu differs from its writer's copy",
				       (unsigned long long)g);
	}
	EXPECT_EQ(0ULL, bad);
	/* and once more through the cache and the swap file */
	reclaim(_metadata, &self->v, MEMVIRT_RECLAIM_COMPRESS, 0, NPAGES, &r);
	EXPECT_EQ(NPAGES, r.compressed + r.swapped + r.zeroed + r.pinned_skips);
	for (g = bad = 0; g < NPAGES; g++)
		bad += !!memcmp(self->v.map + g * MV_PAGE, shadow + g * MV_PAGE,
				MV_PAGE);
	EXPECT_EQ(0ULL, bad);
	free(shadow);
}

/* ------------------------------------------------------------------ */
/* Arguments, old structs, knobs, privileges */

TEST_F(sw, bad_arguments_and_old_structs)
{
	static const u64 bad_modes[] = { 0, 5, 6, 255, ~0ULL };
	struct mix_counts m = mix_counts();
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	unsigned char big[400];
	unsigned int i;
	int ret;

	fill_mix(_metadata, &self->v, 41);
	for (i = 0; i < ARRAY_SIZE(bad_modes); i++) {
		ret = mv_reclaim(self->v.fd, bad_modes[i], 0, 1, &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("mode %llu: %s",
					       (unsigned long long)bad_modes[i],
					       strerror(-ret));
	}
	for (i = 1; i < 32; i++) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.flags = 1U << i;
		r.mode = MEMVIRT_RECLAIM_COMPRESS;
		r.nr_gfns = 1;
		ret = mv_ioctl(self->v.fd, MEMVIRT_IOC_RECLAIM, &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags bit %u: %s", i,
					       strerror(-ret));
	}
	EXPECT_EQ(-EINVAL, mv_reclaim(self->v.fd, MEMVIRT_RECLAIM_SWAP,
				      NPAGES - 1, 2, &r));
	EXPECT_EQ(-EINVAL, mv_reclaim(self->v.fd, MEMVIRT_RECLAIM_COMPRESS,
				      0, 0, &r));
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.mode = MEMVIRT_RECLAIM_COMPRESS;
	r.nr_gfns = 1;
	r.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, mv_ioctl(self->v.fd, MEMVIRT_IOC_RECLAIM, &r));
	mv_stats_get(_metadata, self->v.fd, &st);
	EXPECT_EQ(0ULL, st.compressed) TH_LOG("a refused pass compressed");
	EXPECT_EQ(0ULL, st.swapped);

	/* A version-2 struct (136 bytes) runs COMPRESS, without the new outputs. */
	memset(&r, 0xff, sizeof(r));
	memset(&r, 0, MEMVIRT_RECLAIM_SIZE_VER1);
	r.size = MEMVIRT_RECLAIM_SIZE_VER1;
	r.mode = MEMVIRT_RECLAIM_COMPRESS;
	r.nr_gfns = NPAGES;
	ASSERT_EQ(0, mv_ioctl(self->v.fd, MEMVIRT_IOC_RECLAIM, &r));
	EXPECT_EQ((u32)MEMVIRT_RECLAIM_SIZE_VER1, r.size);
	EXPECT_EQ(m.c + m.r + m.z, r.scanned);
	EXPECT_EQ(m.c + m.r + m.z, r.reclaimed);
	EXPECT_EQ(m.z, r.zeroed);
	EXPECT_EQ(~0ULL, r.compressed) TH_LOG("wrote past the caller's size");
	EXPECT_EQ(~0ULL, r.swapped) TH_LOG("wrote past the caller's size");
	mv_stats_get(_metadata, self->v.fd, &st);
	EXPECT_EQ(m.c, st.compressed);
	EXPECT_EQ(m.r, st.swapped);

	/* A version-1 struct (120 bytes): SWAP moves the compressed pages. */
	memset(&r, 0xff, sizeof(r));
	memset(&r, 0, MEMVIRT_RECLAIM_SIZE_VER0);
	r.size = MEMVIRT_RECLAIM_SIZE_VER0;
	r.mode = MEMVIRT_RECLAIM_SWAP;
	r.nr_gfns = NPAGES;
	ASSERT_EQ(0, mv_ioctl(self->v.fd, MEMVIRT_IOC_RECLAIM, &r));
	EXPECT_EQ((u32)MEMVIRT_RECLAIM_SIZE_VER0, r.size);
	EXPECT_EQ(~0ULL, r.zeroed) TH_LOG("wrote past the caller's size");
	mv_stats_get(_metadata, self->v.fd, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(m.c + m.r, st.swapped);

	/* GET_STATS: version 3 (208) still works; 4 is 272; larger, zeroed, too */
	memset(&st, 0xff, sizeof(st));
	memset(&st, 0, MEMVIRT_STATS_SIZE_VER2);
	st.size = MEMVIRT_STATS_SIZE_VER2;
	ASSERT_EQ(0, mv_ioctl(self->v.fd, MEMVIRT_IOC_GET_STATS, &st));
	EXPECT_EQ((u32)MEMVIRT_STATS_SIZE_VER2, st.size);
	EXPECT_EQ(self->v.id, st.vm_id);
	EXPECT_EQ(NPAGES * MV_PAGE, st.size_bytes);
	EXPECT_EQ(~0ULL, st.compressed) TH_LOG("wrote past the caller's size");
	EXPECT_EQ(~0ULL, st.swap_file_pages) TH_LOG("wrote past the caller's size");
	EXPECT_EQ((u32)MEMVIRT_STATS_SIZE_VER3, (u32)sizeof(st));
	memset(big, 0, sizeof(big));
	((struct memvirt_stats *)big)->size = sizeof(big);
	ASSERT_EQ(0, mv_ioctl(self->v.fd, MEMVIRT_IOC_GET_STATS, big));
	memcpy(&st, big, sizeof(st));
	EXPECT_EQ((u32)MEMVIRT_STATS_SIZE_VER3, st.size);
	EXPECT_EQ(m.c + m.r, st.swapped);
	EXPECT_EQ(NPAGES, st.swap_file_pages);
	big[sizeof(st) + 8] = 1;
	((struct memvirt_stats *)big)->size = sizeof(big);
	EXPECT_EQ(-E2BIG, mv_ioctl(self->v.fd, MEMVIRT_IOC_GET_STATS, big));
	expect_mix(_metadata, &self->v, 41);
}

/* Child: every privileged swap control refuses nobody. */
static int nobody_tries(int fd)
{
	struct memvirt_reclaim r;
	int ret;

	if (mv_become_nobody())
		return 100;
	if (mv_reclaim(fd, MEMVIRT_RECLAIM_COMPRESS, 0, 1, &r) != -EPERM)
		return 1;
	if (mv_reclaim(fd, MEMVIRT_RECLAIM_SWAP, 0, 1, &r) != -EPERM)
		return 2;
	ret = sw_set("cache_percent", 50);
	if (ret != -EACCES && ret != -EPERM)
		return 3;
	ret = sw_set("swapin_readahead", 1);
	if (ret != -EACCES && ret != -EPERM)
		return 4;
	return 0;
}

TEST_F(sw, knobs_defaults_ranges_and_privileges)
{
	static const struct {
		const char *name, *dflt, *ok[2], *bad[4];
	} knobs[] = {
		{ "cache_percent", "10", { "100", "0" }, { "101", "-1", "abc", "" } },
		{ "swapin_readahead", "8", { "64", "0" }, { "65", "-1", "1.5", "" } },
	};
	static const char *const vm_ro[] = {
		"compressed", "compressed_bytes", "swapped", "swap_outs",
		"swap_ins", "compress_rejects", "swap_errors", "swap_file_pages",
		"swap_file", "swap_file_mb",
	};
	char path[PATH_MAX], val[64], buf[64];
	u64 budget = 0, limit = 0, pct;
	struct memvirt_stats st;
	unsigned int i, j;
	struct stat sb;
	int ret, status;
	pid_t pid;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), MV_SYSFS "/" SW_ATTR "/%s",
			 knobs[i].name);
		ASSERT_EQ(0, stat(path, &sb)) TH_LOG("%s", path);
		EXPECT_EQ(0644U, sb.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_STREQ(knobs[i].dflt, sw_knob_saved(&self->k, knobs[i].name))
			TH_LOG("default of %s", knobs[i].name);
		for (j = 0; j < 2; j++) {
			snprintf(val, sizeof(val), "%s\n", knobs[i].ok[j]);
			ret = mv_write_str(path, val);
			EXPECT_EQ(0, ret) TH_LOG("%s = %s: %s", path,
						 knobs[i].ok[j], strerror(-ret));
			ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf)));
			EXPECT_STREQ(knobs[i].ok[j], buf);
		}
		for (j = 0; j < 4; j++) {
			snprintf(val, sizeof(val), "%s\n", knobs[i].bad[j]);
			ret = mv_write_str(path, val);
			EXPECT_EQ(-EINVAL, ret) TH_LOG("%s = '%s': %s", path,
						       knobs[i].bad[j],
						       strerror(-ret));
		}
		ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf)));
		EXPECT_STREQ(knobs[i].ok[1], buf);
	}
	for (i = 0; i < SW_NR; i++) {
		snprintf(path, sizeof(path), MV_SYSFS "/" SW_ATTR "/%s",
			 sw_names[i]);
		ASSERT_EQ(0, stat(path, &sb)) TH_LOG("%s", path);
		EXPECT_EQ(0444U, sb.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_EQ(-EACCES, mv_write_str(path, "1\n")) TH_LOG("%s", path);
	}
	for (i = 0; i < ARRAY_SIZE(vm_ro); i++) {
		mv_vm_path(path, sizeof(path), self->v.id, vm_ro[i]);
		ret = stat(path, &sb);
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", path, strerror(errno));
		if (!ret)
			EXPECT_EQ(0444U, sb.st_mode & 07777) TH_LOG("%s", path);
	}

	/* The cache limit is cache_percent of the budget. */
	ASSERT_EQ(0, mv_global_u64("budget_mb", &budget));
	for (pct = 0; pct <= 100; pct += 50) {
		SW_SET("cache_percent", pct);
		ASSERT_EQ(0, mv_global_u64(SW_ATTR "/cache_limit_bytes", &limit));
		EXPECT_GE(MV_PAGE, (budget * MV_MIB * pct / 100) - limit)
			TH_LOG("cache_percent %llu of %llu MiB: limit %llu bytes",
			       (unsigned long long)pct, (unsigned long long)budget,
			       (unsigned long long)limit);
		EXPECT_GE(budget * MV_MIB * pct / 100, limit);
	}

	put(_metadata, &self->v, 0, K_TEXT, 42, false);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(nobody_tries(self->v.fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("not refused: 1 COMPRESS, 2 SWAP, 3 cache_percent, 4 swapin_readahead; 100: setuid");
	mv_stats_get(_metadata, self->v.fd, &st);
	EXPECT_EQ(0ULL, st.compressed);
	EXPECT_EQ(1ULL, st.resident);
}

/* ------------------------------------------------------------------ */
/* Last: kmemleak over everything the tests above freed (debug kernels) */

/* What a kmemleak scan reported: @n objects, described in @text. */
struct kml {
	unsigned int n;
	char *text;
};

/* Scan now, then read what kmemleak reports. */
static int kml_scan(struct kml *k)
{
	size_t cap = 1 << 16, len = 0;
	char *p;
	ssize_t n;
	int fd, ret;

	memset(k, 0, sizeof(*k));
	ret = mv_write_str(SW_KMEMLEAK, "scan");
	if (ret)
		return ret;
	fd = open(SW_KMEMLEAK, O_RDONLY);
	if (fd < 0)
		return -errno;
	k->text = malloc(cap);
	while (k->text && (n = read(fd, k->text + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096)
			k->text = realloc(k->text, cap *= 2);
	}
	close(fd);
	if (!k->text)
		return -ENOMEM;
	k->text[len] = 0;
	for (p = k->text; (p = strstr(p, "unreferenced object 0x")); p++)
		k->n++;
	return 0;
}

FIXTURE(leak) {
	bool unused;
};

FIXTURE_SETUP(leak)
{
	if (access(SW_KMEMLEAK, F_OK))
		MV_SETUP_SKIP("no %s (CONFIG_DEBUG_KMEMLEAK is not set)", SW_KMEMLEAK);
}

FIXTURE_TEARDOWN(leak)
{
}

/*
 * Every test above ended compressed, swapped and ERROR gfns every way
 * there is (brought back, punched, truncated, unlinked, unmounted, failed
 * writes): one scan (tens of seconds on a debug kernel) then finds nothing.
 * It runs last, so that what those tests allocated is older than the 5 s
 * kmemleak waits before it reports an object; any object reported, also
 * by a program run before this one, is a failure, as in the harness's own
 * scan at the end of the run.
 */
TEST_F_TIMEOUT(leak, kmemleak_clean_after_every_cleanup, 200)
{
	struct kml k;
	char *p, *end;
	unsigned int i;
	int ret;

	sleep(6);
	ret = kml_scan(&k);
	ASSERT_EQ(0, ret) TH_LOG("kmemleak scan: %s", strerror(-ret));
	for (i = 0, p = k.text; i < k.n && (p = strstr(p, "unreferenced object")); i++) {
		end = strstr(p + 1, "unreferenced object");
		TH_LOG("%.*s", (int)(end ? end - p : (long)strlen(p)), p);
		p = end ? end : p + 1;
	}
	EXPECT_EQ(0U, k.n) TH_LOG("kmemleak reports %u objects", k.n);
	free(k.text);
}

MV_HARNESS_MAIN(mv_need_memvirtfs)

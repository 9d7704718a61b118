// SPDX-License-Identifier: GPL-2.0
/*
 * dedup_test: content-based page sharing (issue 8) seen from the host,
 * against the contract of /work/spec/dedup-interface.md.
 *
 * MEMVIRT_IOC_RECLAIM mode MEMVIRT_RECLAIM_SHARE runs one sharing pass in
 * the caller's context, so every count below is exact: K identical pages
 * give merged = K - 1, K SHARED gfns and one frame (dedup/sharing + 1,
 * dedup/saved + K - 1); all-zero pages go ZERO; pages of two VMs share only
 * within one non-zero sharing domain. A write through a mapping or pwrite()
 * breaks copy-on-write (the other sharers keep their bytes), pread() reads
 * the frame, punch, truncate and unlink leave the frame, which goes with
 * its last sharer. A page something else holds (vmsplice()) is never
 * merged, nor promoted from hint to frame. The scanner kthread and the
 * ASYNC pass reach the same state by themselves. Knobs, domains and the
 * ioctl reject bad values; a writer racing the passes loses nothing.
 *
 * fi (debug kernel only): an injected allocation failure while breaking
 * copy-on-write makes that store SIGBUS (with the log line) or pwrite()
 * ENOMEM, leaves the gfn SHARED with its old bytes and every counter as it
 * was; the next attempt works.
 *
 * The scanner is off (dedup/run 0) during every test but the one that runs
 * it; all dedup/ knobs a test changes are restored in FIXTURE_TEARDOWN.
 * Global counters are compared as deltas.
 */
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "dedup_contract.h"

#define NPAGES		64UL
#define DEDUP_DEBUGFS	MV_DEBUGFS "/dedup"


/* One "key value" line of debugfs memvirt/dedup; -ENOENT if absent. */
static int dbg_u64(const char *key, u64 *val)
{
	char line[256], k[64];
	unsigned long long v;
	FILE *f = fopen(DEDUP_DEBUGFS, "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %llu", k, &v) == 2 && !strcmp(k, key)) {
			*val = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* The sharers_* keys debugfs memvirt/dedup has, for a log line. */
static const char *sharers_lines(void)
{
	static char keys[512];
	char line[256], k[64];
	size_t len = 0;
	FILE *f = fopen(DEDUP_DEBUGFS, "r");

	keys[0] = 0;
	if (!f)
		return "(none)";
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s", k) == 1 && !strncmp(k, "sharers_", 8) &&
		    len + strlen(k) + 2 < sizeof(keys))
			len += snprintf(keys + len, sizeof(keys) - len, "%s ", k);
	fclose(f);
	return keys;
}

/* A sharing domain no other test program uses at the same time. */
static u64 test_domain(unsigned int n)
{
	return 0x40000000ULL + ((u64)getpid() << 4) + n;
}

/* ------------------------------------------------------------------ */
/* Page contents: 4 KiB from a xorshift generator seeded with @tag */

static void content(unsigned char *buf, u32 tag)
{
	u64 x = (tag + 1) * 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < MV_PAGE; i += sizeof(x)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, sizeof(x));
	}
}

static void put(struct __test_metadata *_metadata, int fd, u64 gfn, u32 tag)
{
	unsigned char buf[MV_PAGE];

	content(buf, tag);
	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(fd, buf, MV_PAGE, gfn * MV_PAGE));
}

static void put_zero(struct __test_metadata *_metadata, int fd, u64 gfn)
{
	static const unsigned char zero[MV_PAGE];

	ASSERT_EQ((ssize_t)MV_PAGE, pwrite(fd, zero, MV_PAGE, gfn * MV_PAGE));
}

/* pread() of gfn @gfn holds @tag's content (@tag -1: zeroes). */
static bool holds(int fd, u64 gfn, long tag)
{
	unsigned char buf[MV_PAGE], want[MV_PAGE];

	if (pread(fd, buf, MV_PAGE, gfn * MV_PAGE) != (ssize_t)MV_PAGE)
		return false;
	if (tag < 0)
		memset(want, 0, sizeof(want));
	else
		content(want, tag);
	return !memcmp(buf, want, MV_PAGE);
}

/* The mapping shows @tag's content at gfn @gfn (@tag -1: zeroes). */
static bool map_holds(const unsigned char *map, u64 gfn, long tag)
{
	unsigned char want[MV_PAGE];

	if (tag < 0)
		memset(want, 0, sizeof(want));
	else
		content(want, tag);
	return !memcmp(map + gfn * MV_PAGE, want, MV_PAGE);
}

static void expect_holds(struct __test_metadata *_metadata, int fd,
			 const unsigned char *map, u64 gfn, long tag)
{
	bool ok = map ? map_holds(map, gfn, tag) : holds(fd, gfn, tag);

	EXPECT_TRUE(ok) TH_LOG("%s of gfn %llu is not content %ld",
			       map ? "mapping" : "pread",
			       (unsigned long long)gfn, tag);
}

#define EXPECT_HOLDS(fd, gfn, tag) expect_holds(_metadata, fd, NULL, gfn, tag)
#define EXPECT_MAP_HOLDS(map, gfn, tag) expect_holds(_metadata, -1, map, gfn, tag)

/* Gfns [@gfn, +@nr) are all in state @want. */
static void expect_state(struct __test_metadata *_metadata, int fd, u64 gfn,
			 u64 nr, unsigned char want)
{
	unsigned char st[NPAGES];
	u64 i;

	ASSERT_GE(NPAGES, nr);
	ASSERT_EQ(0, mv_query(fd, gfn, nr, st));
	for (i = 0; i < nr; i++)
		EXPECT_EQ(want, st[i] & MEMVIRT_GFN_STATE_MASK)
			TH_LOG("gfn %llu: state 0x%x, want %u",
			       (unsigned long long)(gfn + i), st[i], want);
}

/* One synchronous sharing pass over [@start, +@nr); asserts it worked. */
static void share(struct __test_metadata *_metadata, int fd, u64 start,
		  u64 nr, struct memvirt_reclaim *r)
{
	int ret = mv_reclaim(fd, MEMVIRT_RECLAIM_SHARE, start, nr, r);

	ASSERT_EQ(0, ret) TH_LOG("RECLAIM_SHARE [%llu, +%llu): %s",
				 (unsigned long long)start,
				 (unsigned long long)nr, strerror(-ret));
	ASSERT_EQ((u32)sizeof(*r), r->size);
}

/* A pass's outputs, exactly. */
#define EXPECT_PASS(r, scan, merge, zero, pinned) do {			\
	EXPECT_EQ((u64)(scan), (r).scanned);				\
	EXPECT_EQ((u64)(merge), (r).merged);				\
	EXPECT_EQ((u64)(zero), (r).zeroed);				\
	EXPECT_EQ((u64)(merge) + (zero), (r).reclaimed);		\
	EXPECT_EQ((u64)(pinned), (r).pinned_skips);			\
} while (0)

/* Per-VM sysfs counter @attr equals the GET_STATS value @want. */
static void expect_vm_attr(struct __test_metadata *_metadata, u64 id,
			   const char *attr, u64 want)
{
	u64 v = ~0ULL;
	int ret = mv_vm_u64(id, attr, &v);

	ASSERT_EQ(0, ret) TH_LOG("vms/%llu/%s: %s", (unsigned long long)id,
				 attr, strerror(-ret));
	EXPECT_EQ(want, v) TH_LOG("vms/%llu/%s", (unsigned long long)id, attr);
}

static int set_domain(int fd, u64 domain)
{
	struct memvirt_policy p = {
		.size = sizeof(p),
		.flags = MEMVIRT_POLICY_SHARING_DOMAIN,
		.sharing_domain = domain,
	};

	return mv_ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p);
}

static u64 get_domain(struct __test_metadata *_metadata, int fd)
{
	struct memvirt_policy p;

	EXPECT_EQ(0, mv_get_policy(fd, &p));
	EXPECT_EQ((u32)sizeof(p), p.size);
	return p.sharing_domain;
}

/* ------------------------------------------------------------------ */
/* The fixture: one 64-page VM, mapped; the scanner off */

struct vmf {
	char path[PATH_MAX];
	int fd;
	u64 id;
	unsigned char *map;
};

FIXTURE(dd) {
	char dir[256];
	struct vmf a, b;
	int pipe[2];
	struct mv_knobs knobs;
	struct dd_knobs dk;
	struct glob g0;
	char free_pct[2][32];	/* policy/free_high_pct, free_soft_pct */
};

typedef FIXTURE_DATA(dd) dd_t;

static void vmf_open(struct __test_metadata *_metadata, dd_t *self,
		     struct vmf *v, const char *name)
{
	snprintf(v->path, sizeof(v->path), "%s/%s", self->dir, name);
	v->fd = mv_create(v->path, NPAGES * MV_PAGE);
	ASSERT_LE(0, v->fd) TH_LOG("create %s: %s", v->path, strerror(-v->fd));
	v->id = mv_vm_id(_metadata, v->path);
	v->map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	ASSERT_NE(MAP_FAILED, v->map);
}

static void vmf_close(struct vmf *v)
{
	if (v->map && v->map != MAP_FAILED)
		munmap(v->map, NPAGES * MV_PAGE);
	v->map = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	if (v->path[0])
		unlink(v->path);
	v->path[0] = 0;
}

static const char *const free_pct_names[2] = {
	"policy/free_high_pct", "policy/free_soft_pct",
};

static void free_pct_save(dd_t *self)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < 2; i++) {
		mv_global_path(path, sizeof(path), free_pct_names[i]);
		if (mv_read_str(path, self->free_pct[i], sizeof(self->free_pct[i])))
			self->free_pct[i][0] = 0;
	}
}

/*
 * The thresholds must stay decreasing: a test only raises them, so soft
 * goes back (down) before high; if that fails, the other order.
 */
static int free_pct_restore(dd_t *self)
{
	char path[PATH_MAX], cur[32];
	int i, ret = 0;

	for (i = 1; i >= 0; i--) {
		if (!self->free_pct[i][0])
			continue;
		mv_global_path(path, sizeof(path), free_pct_names[i]);
		if (!mv_read_str(path, cur, sizeof(cur)) && !strcmp(cur, self->free_pct[i]))
			continue;
		ret |= mv_write_str(path, self->free_pct[i]);
	}
	if (!ret)
		return 0;
	ret = 0;
	for (i = 0; i < 2; i++) {
		if (!self->free_pct[i][0])
			continue;
		mv_global_path(path, sizeof(path), free_pct_names[i]);
		ret |= mv_write_str(path, self->free_pct[i]);
	}
	return ret;
}

static void dd_init(struct __test_metadata *_metadata, dd_t *self)
{
	int ret;

	self->a.fd = self->b.fd = -1;
	self->pipe[0] = self->pipe[1] = -1;
	MV_SETUP_MOUNTED();
	mv_knobs_save(&self->knobs);
	dd_knobs_save(&self->dk);
	free_pct_save(self);
	/*
	 * First: teardown does not run after a failed setup, so nothing may
	 * exist yet to clean up if this fails (the scanner stays off).
	 */
	ret = dd_set("run", "0\n");
	ASSERT_EQ(0, ret) TH_LOG("dedup/run = 0: %s", strerror(-ret));
	glob_read(_metadata, &self->g0);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "dd"));
	vmf_open(_metadata, self, &self->a, "a");
}

static void dd_fini(struct __test_metadata *_metadata, dd_t *self)
{
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	vmf_close(&self->a);
	vmf_close(&self->b);
	if (self->dir[0])
		mv_rm_rf(self->dir);
	EXPECT_EQ(0, dd_knobs_restore(&self->dk));
	EXPECT_EQ(0, free_pct_restore(self));
	EXPECT_EQ(0, mv_knobs_restore(&self->knobs));
}

FIXTURE_SETUP(dd)
{
	dd_init(_metadata, self);
}

FIXTURE_TEARDOWN(dd)
{
	dd_fini(_metadata, self);
}

/* K copies of one content at gfns 8.., four other contents at 30..33. */
#define K		16UL
#define K0		8UL
#define D0		30UL
#define ND		4UL

TEST_F(dd, identical_pages_share_one_frame)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct glob now;
	u64 g;

	for (g = K0; g < K0 + K; g++)
		put(_metadata, self->a.fd, g, 1);
	for (g = D0; g < D0 + ND; g++)
		put(_metadata, self->a.fd, g, 100 + g);

	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, K + ND, K - 1, 0, 0);

	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(K, st.shared);
	EXPECT_EQ(ND, st.resident) TH_LOG("SHARED gfns are not resident");
	EXPECT_EQ(NPAGES - K - ND, st.zero);
	EXPECT_EQ(K - 1, st.reclaimed);
	EXPECT_EQ(K + ND, st.pages_scanned);
	EXPECT_EQ(1ULL, st.hint_hits) TH_LOG("the second copy hit the first's hint");
	EXPECT_EQ(0ULL, st.false_matches);
	EXPECT_EQ(0ULL, st.zero_merged);
	EXPECT_EQ(0ULL, st.cow_breaks);
	EXPECT_EQ(0ULL, st.sharing_domain);
	expect_vm_attr(_metadata, self->a.id, "shared", st.shared);
	expect_vm_attr(_metadata, self->a.id, "pages_scanned", st.pages_scanned);
	expect_vm_attr(_metadata, self->a.id, "hint_hits", st.hint_hits);
	expect_vm_attr(_metadata, self->a.id, "false_matches", st.false_matches);
	expect_vm_attr(_metadata, self->a.id, "zero_merged", st.zero_merged);
	expect_vm_attr(_metadata, self->a.id, "reclaimed", st.reclaimed);
	expect_vm_attr(_metadata, self->a.id, "resident", st.resident);
	expect_vm_attr(_metadata, self->a.id, "sharing_domain", 0);

	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->g0, now, G_SHARED, K);
	EXPECT_GDELTA(self->g0, now, G_SHARING, 1);
	EXPECT_GDELTA(self->g0, now, G_SAVED, K - 1);
	EXPECT_GDELTA(self->g0, now, G_ZERO, 0);
	EXPECT_GDELTA(self->g0, now, G_COW, 0);
	EXPECT_GDELTA(self->g0, now, G_SCANNED, K + ND);
	EXPECT_GDELTA(self->g0, now, G_FULL, 0);
	EXPECT_GDELTA(self->g0, now, G_HINT, 1);
	EXPECT_GDELTA(self->g0, now, G_FALSE, 0);
	EXPECT_GDELTA(self->g0, now, G_PINNED, 0);

	expect_state(_metadata, self->a.fd, 0, K0, MEMVIRT_GFN_ABSENT);
	expect_state(_metadata, self->a.fd, K0, K, MEMVIRT_GFN_SHARED);
	expect_state(_metadata, self->a.fd, K0 + K, D0 - K0 - K,
		     MEMVIRT_GFN_ABSENT);
	expect_state(_metadata, self->a.fd, D0, ND, MEMVIRT_GFN_PRIVATE);
	for (g = K0; g < K0 + K; g++) {
		EXPECT_HOLDS(self->a.fd, g, 1);
		EXPECT_MAP_HOLDS(self->a.map, g, 1);
	}
	for (g = D0; g < D0 + ND; g++)
		EXPECT_HOLDS(self->a.fd, g, 100 + g);

	/* Reading the frame changed nothing; a second pass merges nothing. */
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, ND, 0, 0, 0);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(K, st.shared);
	EXPECT_EQ(ND, st.resident);
	EXPECT_EQ(0ULL, st.cow_breaks);
	expect_totals(_metadata, &self->g0, K, 1);
	expect_state(_metadata, self->a.fd, D0, ND, MEMVIRT_GFN_PRIVATE);
}

/*
 * debugfs memvirt/dedup: one more frame, in the sharers histogram bucket
 * of its sharer count; the buckets are powers of two: sharers_1,
 * sharers_2-3, sharers_4-7, sharers_8-15, sharers_16-31, ...
 */
TEST_F(dd, debugfs_counts_frames_and_sharers)
{
	static const struct {
		u64 sharers;
		const char *bucket;
	} cases[] = {
		{ 2, "sharers_2-3" }, { 3, "sharers_2-3" }, { 4, "sharers_4-7" },
		{ 7, "sharers_4-7" }, { 8, "sharers_8-15" }, { 16, "sharers_16-31" },
	};
	u64 frames0 = 0, frames1 = 0, h0, h1, g;
	struct memvirt_reclaim r;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ASSERT_EQ(0, dbg_u64("frames", &frames0)) TH_LOG("%s: frames",
								 DEDUP_DEBUGFS);
		h0 = h1 = ~0ULL;
		ret = dbg_u64(cases[i].bucket, &h0);
		EXPECT_EQ(0, ret) TH_LOG("%s has no line %s; its sharers lines: %s",
					 DEDUP_DEBUGFS, cases[i].bucket,
					 sharers_lines());
		for (g = 0; g < cases[i].sharers; g++)
			put(_metadata, self->a.fd, g, 40 + i);
		share(_metadata, self->a.fd, 0, NPAGES, &r);
		EXPECT_PASS(r, cases[i].sharers, cases[i].sharers - 1, 0, 0);
		EXPECT_EQ(0, dbg_u64("frames", &frames1));
		EXPECT_EQ(frames0 + 1, frames1);
		if (!ret) {
			EXPECT_EQ(0, dbg_u64(cases[i].bucket, &h1));
			EXPECT_EQ(h0 + 1, h1) TH_LOG("a frame with %llu sharers",
						     (unsigned long long)cases[i].sharers);
		}
		ASSERT_EQ(0, fallocate(self->a.fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, 0, NPAGES * MV_PAGE));
		EXPECT_EQ(0, dbg_u64("frames", &frames1));
		EXPECT_EQ(frames0, frames1);
	}
}

TEST_F(dd, zero_pages_become_zero)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct glob now;
	u64 g;

	for (g = 0; g < 6; g++)
		put_zero(_metadata, self->a.fd, g);
	put(_metadata, self->a.fd, 6, 1);
	put(_metadata, self->a.fd, 7, 2);
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 8, 0, 6, 0);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(6ULL, st.zero_merged);
	EXPECT_EQ(6ULL, st.reclaimed);
	EXPECT_EQ(2ULL, st.resident);
	EXPECT_EQ(0ULL, st.shared);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->g0, now, G_ZERO, 6);
	EXPECT_GDELTA(self->g0, now, G_SHARED, 0);
	EXPECT_GDELTA(self->g0, now, G_SHARING, 0);
	expect_state(_metadata, self->a.fd, 0, 6, MEMVIRT_GFN_ZERO);
	expect_state(_metadata, self->a.fd, 6, 2, MEMVIRT_GFN_PRIVATE);
	for (g = 0; g < 6; g++)
		EXPECT_MAP_HOLDS(self->a.map, g, -1);
	EXPECT_HOLDS(self->a.fd, 6, 1);
	EXPECT_HOLDS(self->a.fd, 7, 2);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(2ULL, st.resident) TH_LOG("reading ZERO gfns allocated");
}

/* Four copies of content 5 at gfns 4..7, merged, all mapped read-only. */
static void merge_four(struct __test_metadata *_metadata, dd_t *self)
{
	struct memvirt_reclaim r;
	u64 g;

	for (g = 4; g < 8; g++)
		put(_metadata, self->a.fd, g, 5);
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 4, 3, 0, 0);
	for (g = 4; g < 8; g++)
		EXPECT_MAP_HOLDS(self->a.map, g, 5);
	expect_totals(_metadata, &self->g0, 4, 1);
}

/* Content 5 with byte @off of the page set to @val. */
static bool holds_5_with(int fd, u64 gfn, size_t off, unsigned char val)
{
	unsigned char buf[MV_PAGE], want[MV_PAGE];

	content(want, 5);
	want[off] = val;
	if (pread(fd, buf, MV_PAGE, gfn * MV_PAGE) != (ssize_t)MV_PAGE)
		return false;
	return !memcmp(buf, want, MV_PAGE);
}

TEST_F(dd, write_through_mapping_breaks_cow)
{
	struct memvirt_stats st;
	struct glob now;
	u64 g;

	merge_four(_metadata, self);
	MV_WRITE_ONCE(self->a.map[4 * MV_PAGE + 100], 0xab);
	EXPECT_TRUE(holds_5_with(self->a.fd, 4, 100, 0xab));
	for (g = 5; g < 8; g++) {
		EXPECT_HOLDS(self->a.fd, g, 5);
		EXPECT_MAP_HOLDS(self->a.map, g, 5);
	}
	expect_state(_metadata, self->a.fd, 4, 1, MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, self->a.fd, 5, 3, MEMVIRT_GFN_SHARED);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(3ULL, st.shared);
	EXPECT_EQ(1ULL, st.cow_breaks);
	EXPECT_EQ(1ULL, st.resident);
	expect_vm_attr(_metadata, self->a.id, "cow_breaks", 1);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->g0, now, G_COW, 1);
	expect_totals(_metadata, &self->g0, 3, 1);

	/* Two more copies: one sharer is left on the frame. */
	MV_WRITE_ONCE(self->a.map[5 * MV_PAGE + 7], 0x01);
	MV_WRITE_ONCE(self->a.map[6 * MV_PAGE + 4095], 0x02);
	EXPECT_TRUE(holds_5_with(self->a.fd, 5, 7, 0x01));
	EXPECT_TRUE(holds_5_with(self->a.fd, 6, 4095, 0x02));
	EXPECT_HOLDS(self->a.fd, 7, 5);
	EXPECT_TRUE(holds_5_with(self->a.fd, 4, 100, 0xab));
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(1ULL, st.shared);
	EXPECT_EQ(3ULL, st.cow_breaks);
	EXPECT_EQ(3ULL, st.resident);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->g0, now, G_COW, 3);
	expect_totals(_metadata, &self->g0, 1, 1);

	/* The last sharer keeps the frame as its own page. */
	MV_WRITE_ONCE(self->a.map[7 * MV_PAGE], 0x03);
	EXPECT_TRUE(holds_5_with(self->a.fd, 7, 0, 0x03));
	expect_state(_metadata, self->a.fd, 4, 4, MEMVIRT_GFN_PRIVATE);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.shared);
	EXPECT_EQ(4ULL, st.resident);
	TH_LOG("the last sharer's write counted %llu cow_breaks",
	       (unsigned long long)st.cow_breaks - 3);
	expect_totals(_metadata, &self->g0, 0, 0);
	EXPECT_TRUE(holds_5_with(self->a.fd, 4, 100, 0xab));
}

TEST_F(dd, pwrite_into_shared_gfn_breaks_cow)
{
	unsigned char bytes[100], buf[MV_PAGE], want[MV_PAGE];
	struct memvirt_stats st;
	struct glob now;

	merge_four(_metadata, self);
	memset(bytes, 0x5c, sizeof(bytes));
	ASSERT_EQ((ssize_t)sizeof(bytes),
		  pwrite(self->a.fd, bytes, sizeof(bytes), 5 * MV_PAGE + 10));
	content(want, 5);
	memset(want + 10, 0x5c, sizeof(bytes));
	ASSERT_EQ((ssize_t)MV_PAGE, pread(self->a.fd, buf, MV_PAGE, 5 * MV_PAGE));
	EXPECT_EQ(0, memcmp(buf, want, MV_PAGE));
	/* The mapping mapped the frame: it must show the new bytes now. */
	EXPECT_EQ(0, memcmp(self->a.map + 5 * MV_PAGE, want, MV_PAGE));
	EXPECT_HOLDS(self->a.fd, 4, 5);
	EXPECT_MAP_HOLDS(self->a.map, 6, 5);
	EXPECT_MAP_HOLDS(self->a.map, 7, 5);
	expect_state(_metadata, self->a.fd, 5, 1, MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, self->a.fd, 6, 2, MEMVIRT_GFN_SHARED);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(3ULL, st.shared);
	EXPECT_EQ(1ULL, st.cow_breaks);
	EXPECT_EQ(1ULL, st.resident);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->g0, now, G_COW, 1);
	expect_totals(_metadata, &self->g0, 3, 1);
}

TEST_F(dd, punch_shared_gfn_leaves_frame)
{
	struct memvirt_stats st;

	merge_four(_metadata, self);
	ASSERT_EQ(0, fallocate(self->a.fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 5 * MV_PAGE, MV_PAGE));
	expect_state(_metadata, self->a.fd, 5, 1, MEMVIRT_GFN_ZERO);
	EXPECT_HOLDS(self->a.fd, 5, -1);
	EXPECT_MAP_HOLDS(self->a.map, 5, -1);
	EXPECT_MAP_HOLDS(self->a.map, 4, 5);
	EXPECT_HOLDS(self->a.fd, 6, 5);
	EXPECT_HOLDS(self->a.fd, 7, 5);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(3ULL, st.shared);
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(0ULL, st.cow_breaks);
	expect_totals(_metadata, &self->g0, 3, 1);

	/* All of them: the frame goes with its last sharer. */
	ASSERT_EQ(0, fallocate(self->a.fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 4 * MV_PAGE, 4 * MV_PAGE));
	expect_state(_metadata, self->a.fd, 4, 4, MEMVIRT_GFN_ZERO);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.shared);
	EXPECT_EQ(0ULL, st.resident);
	expect_totals(_metadata, &self->g0, 0, 0);
	EXPECT_MAP_HOLDS(self->a.map, 4, -1);
	EXPECT_MAP_HOLDS(self->a.map, 7, -1);
}

TEST_F(dd, truncate_shared_gfns_leaves_frame)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	u64 g;

	/* Six copies: gfns 0, 1 and the last four. */
	put(_metadata, self->a.fd, 0, 9);
	put(_metadata, self->a.fd, 1, 9);
	for (g = NPAGES - 4; g < NPAGES; g++)
		put(_metadata, self->a.fd, g, 9);
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 6, 5, 0, 0);
	expect_totals(_metadata, &self->g0, 6, 1);
	munmap(self->a.map, NPAGES * MV_PAGE);
	self->a.map = NULL;

	ASSERT_EQ(0, ftruncate(self->a.fd, (NPAGES - 2) * MV_PAGE));
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(4ULL, st.shared);
	expect_totals(_metadata, &self->g0, 4, 1);
	EXPECT_HOLDS(self->a.fd, NPAGES - 3, 9);

	/* Regrown: the cut gfns read zero, the frame is untouched. */
	ASSERT_EQ(0, ftruncate(self->a.fd, NPAGES * MV_PAGE));
	EXPECT_HOLDS(self->a.fd, NPAGES - 2, -1);
	EXPECT_HOLDS(self->a.fd, NPAGES - 1, -1);
	EXPECT_HOLDS(self->a.fd, NPAGES - 4, 9);
	EXPECT_HOLDS(self->a.fd, 1, 9);
	expect_state(_metadata, self->a.fd, NPAGES - 4, 2, MEMVIRT_GFN_SHARED);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(4ULL, st.shared);

	ASSERT_EQ(0, ftruncate(self->a.fd, 2 * MV_PAGE));
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(2ULL, st.shared);
	expect_totals(_metadata, &self->g0, 2, 1);
	EXPECT_HOLDS(self->a.fd, 0, 9);
	EXPECT_HOLDS(self->a.fd, 1, 9);

	ASSERT_EQ(0, ftruncate(self->a.fd, 0));
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.shared);
	EXPECT_EQ(0ULL, st.resident);
	expect_totals(_metadata, &self->g0, 0, 0);
}

/*
 * Two VMs of one domain share one frame; the first goes away (unlink and
 * last close): the second keeps the frame and its bytes; then it goes too.
 */
TEST_F(dd, unlink_leaves_frame_to_other_vm)
{
	u64 dom = test_domain(1), g;
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	char path[PATH_MAX];
	int ret;

	vmf_open(_metadata, self, &self->b, "b");
	ret = set_domain(self->a.fd, dom);
	ASSERT_EQ(0, ret) TH_LOG("SET_POLICY sharing_domain: %s", strerror(-ret));
	mv_vm_path(path, sizeof(path), self->b.id, "sharing_domain");
	ret = mv_write_u64(path, dom);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", path, strerror(-ret));
	for (g = 0; g < 4; g++) {
		put(_metadata, self->a.fd, g, 11);
		put(_metadata, self->b.fd, g, 11);
	}
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 4, 3, 0, 0);
	share(_metadata, self->b.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 4, 4, 0, 0);
	expect_totals(_metadata, &self->g0, 8, 1);
	for (g = 0; g < 4; g++)
		EXPECT_MAP_HOLDS(self->b.map, g, 11);

	vmf_close(&self->a);
	expect_totals(_metadata, &self->g0, 4, 1);
	mv_stats_get(_metadata, self->b.fd, &st);
	EXPECT_EQ(4ULL, st.shared);
	expect_state(_metadata, self->b.fd, 0, 4, MEMVIRT_GFN_SHARED);
	for (g = 0; g < 4; g++) {
		EXPECT_HOLDS(self->b.fd, g, 11);
		EXPECT_MAP_HOLDS(self->b.map, g, 11);
	}
	vmf_close(&self->b);
	expect_totals(_metadata, &self->g0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Pinned pages */

static void pin(struct __test_metadata *_metadata, dd_t *self, u64 gfn)
{
	struct iovec iov = {
		.iov_base = self->a.map + gfn * MV_PAGE,
		.iov_len = MV_PAGE,
	};

	ASSERT_EQ(0, pipe(self->pipe));
	ASSERT_EQ((ssize_t)MV_PAGE, vmsplice(self->pipe[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));
}

static void unpin(struct __test_metadata *_metadata, dd_t *self, u32 tag)
{
	unsigned char buf[MV_PAGE], want[MV_PAGE];

	content(want, tag);
	ASSERT_EQ((ssize_t)MV_PAGE, read(self->pipe[0], buf, MV_PAGE));
	EXPECT_EQ(0, memcmp(buf, want, MV_PAGE))
		TH_LOG("the pinned page changed under the pipe");
	close(self->pipe[0]);
	close(self->pipe[1]);
	self->pipe[0] = self->pipe[1] = -1;
}

TEST_F(dd, pinned_page_never_merged)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	struct glob now;
	u64 g;

	for (g = 4; g < 8; g++)
		put(_metadata, self->a.fd, g, 6);
	pin(_metadata, self, 5);
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 4, 2, 0, 1);
	expect_state(_metadata, self->a.fd, 4, 1, MEMVIRT_GFN_SHARED);
	expect_state(_metadata, self->a.fd, 5, 1, MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, self->a.fd, 6, 2, MEMVIRT_GFN_SHARED);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(3ULL, st.shared);
	EXPECT_EQ(1ULL, st.pinned_skips);
	EXPECT_EQ(1ULL, st.resident);
	expect_vm_attr(_metadata, self->a.id, "pinned_skips", 1);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->g0, now, G_PINNED, 1);
	expect_totals(_metadata, &self->g0, 3, 1);

	/* A pass while it is still held skips it again. */
	share(_metadata, self->a.fd, 5, 1, &r);
	EXPECT_PASS(r, 1, 0, 0, 1);

	unpin(_metadata, self, 6);
	share(_metadata, self->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, 1, 1, 0, 0);
	expect_state(_metadata, self->a.fd, 4, 4, MEMVIRT_GFN_SHARED);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(4ULL, st.shared);
	EXPECT_EQ(0ULL, st.resident);
	expect_totals(_metadata, &self->g0, 4, 1);
	for (g = 4; g < 8; g++)
		EXPECT_HOLDS(self->a.fd, g, 6);
}

/*
 * The hint page is pinned after it was recorded: a later equal page must
 * not turn it into a shared frame (its holder could still write to it).
 */
TEST_F(dd, pinned_hint_page_not_promoted)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;

	put(_metadata, self->a.fd, 4, 7);
	put(_metadata, self->a.fd, 5, 7);
	share(_metadata, self->a.fd, 4, 1, &r);
	EXPECT_PASS(r, 1, 0, 0, 0);
	pin(_metadata, self, 4);
	share(_metadata, self->a.fd, 5, 1, &r);
	EXPECT_EQ(1ULL, r.scanned);
	EXPECT_EQ(0ULL, r.merged);
	EXPECT_EQ(0ULL, r.reclaimed);
	TH_LOG("pinned_skips of the pass: %llu", (unsigned long long)r.pinned_skips);
	expect_state(_metadata, self->a.fd, 4, 2, MEMVIRT_GFN_PRIVATE);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.shared);
	EXPECT_EQ(2ULL, st.resident);
	expect_totals(_metadata, &self->g0, 0, 0);

	/*
	 * Released: one of the two becomes the frame. Whether the pass
	 * examines both depends on which one the hint names now (a gfn it
	 * has just made SHARED is not examined again).
	 */
	unpin(_metadata, self, 7);
	share(_metadata, self->a.fd, 4, 2, &r);
	EXPECT_LE(1ULL, r.scanned);
	EXPECT_GE(2ULL, r.scanned);
	EXPECT_EQ(1ULL, r.merged);
	EXPECT_EQ(1ULL, r.reclaimed);
	EXPECT_EQ(0ULL, r.pinned_skips);
	expect_state(_metadata, self->a.fd, 4, 2, MEMVIRT_GFN_SHARED);
	expect_totals(_metadata, &self->g0, 2, 1);
	EXPECT_HOLDS(self->a.fd, 4, 7);
	EXPECT_HOLDS(self->a.fd, 5, 7);
}

/* ------------------------------------------------------------------ */
/* Two VMs and their domains */

FIXTURE(two) {
	dd_t d;
};

FIXTURE_VARIANT(two) {
	int dom_a, dom_b;	/* 0: none; n: test_domain(n) */
	bool share;
};

FIXTURE_VARIANT_ADD(two, same_domain) {
	.dom_a = 2, .dom_b = 2, .share = true,
};

FIXTURE_VARIANT_ADD(two, different_domains) {
	.dom_a = 2, .dom_b = 3, .share = false,
};

FIXTURE_VARIANT_ADD(two, no_domain) {
	.dom_a = 0, .dom_b = 0, .share = false,
};

FIXTURE_SETUP(two)
{
	dd_init(_metadata, &self->d);
	vmf_open(_metadata, &self->d, &self->d.b, "b");
}

FIXTURE_TEARDOWN(two)
{
	dd_fini(_metadata, &self->d);
}

#define NPAIR	8UL

/*
 * Gfn g of both VMs holds content g: equal pairwise, all different within
 * a VM. A pass over A records hints only; a pass over B merges each pair
 * only if both are in one domain.
 */
TEST_F(two, pairs_share_only_within_a_domain)
{
	dd_t *d = &self->d;
	u64 da = variant->dom_a ? test_domain(variant->dom_a) : 0;
	u64 db = variant->dom_b ? test_domain(variant->dom_b) : 0;
	u64 n = variant->share ? NPAIR : 0, g;
	struct memvirt_reclaim r;
	struct memvirt_stats sa, sb;
	struct glob now;
	char path[PATH_MAX];

	ASSERT_EQ(0, set_domain(d->a.fd, da));
	mv_vm_path(path, sizeof(path), d->b.id, "sharing_domain");
	ASSERT_EQ(0, mv_write_u64(path, db));
	EXPECT_EQ(da, get_domain(_metadata, d->a.fd));
	EXPECT_EQ(db, get_domain(_metadata, d->b.fd));
	for (g = 0; g < NPAIR; g++) {
		put(_metadata, d->a.fd, g, 200 + g);
		put(_metadata, d->b.fd, g, 200 + g);
	}
	share(_metadata, d->a.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, NPAIR, 0, 0, 0);
	share(_metadata, d->b.fd, 0, NPAGES, &r);
	EXPECT_PASS(r, NPAIR, n, 0, 0);

	mv_stats_get(_metadata, d->a.fd, &sa);
	mv_stats_get(_metadata, d->b.fd, &sb);
	EXPECT_EQ(n, sa.shared);
	EXPECT_EQ(n, sb.shared);
	EXPECT_EQ(NPAIR - n, sa.resident);
	EXPECT_EQ(NPAIR - n, sb.resident);
	EXPECT_EQ(0ULL, sa.hint_hits);
	EXPECT_EQ(n, sb.hint_hits);
	EXPECT_EQ(0ULL, sb.false_matches);
	EXPECT_EQ(da, sa.sharing_domain);
	EXPECT_EQ(db, sb.sharing_domain);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(d->g0, now, G_SHARED, 2 * n);
	EXPECT_GDELTA(d->g0, now, G_SHARING, n);
	EXPECT_GDELTA(d->g0, now, G_SAVED, n);
	EXPECT_GDELTA(d->g0, now, G_SCANNED, 2 * NPAIR);
	EXPECT_GDELTA(d->g0, now, G_HINT, n);
	expect_state(_metadata, d->a.fd, 0, NPAIR, variant->share ?
		     MEMVIRT_GFN_SHARED : MEMVIRT_GFN_PRIVATE);
	expect_state(_metadata, d->b.fd, 0, NPAIR, variant->share ?
		     MEMVIRT_GFN_SHARED : MEMVIRT_GFN_PRIVATE);

	/* A writes its half, B the other: each still reads its own bytes. */
	for (g = 0; g < NPAIR / 2; g++)
		put(_metadata, d->a.fd, g, 300 + g);
	for (g = NPAIR / 2; g < NPAIR; g++)
		MV_WRITE_ONCE(d->b.map[g * MV_PAGE + 8], 0xee);
	for (g = 0; g < NPAIR; g++) {
		unsigned char c = 0;

		EXPECT_HOLDS(d->a.fd, g, g < NPAIR / 2 ? 300 + g : 200 + g);
		if (g < NPAIR / 2) {
			EXPECT_HOLDS(d->b.fd, g, 200 + g);
			continue;
		}
		ASSERT_EQ(1, pread(d->b.fd, &c, 1, g * MV_PAGE + 8));
		EXPECT_EQ(0xee, c);
	}
	mv_stats_get(_metadata, d->a.fd, &sa);
	mv_stats_get(_metadata, d->b.fd, &sb);
	EXPECT_EQ(n / 2, sa.shared);
	EXPECT_EQ(n / 2, sb.shared);
	EXPECT_EQ(n / 2, sa.cow_breaks);
	EXPECT_EQ(n / 2, sb.cow_breaks);
	expect_totals(_metadata, &d->g0, n, n);
}

/*
 * The same with many pairs: the contract's counts do not depend on how
 * many there are (merged = N on the second VM's pass), and passes that go
 * on alternating must leave every pair shared. (With a direct-mapped hint
 * table, contents whose hints shared a slot evicted each other at every
 * pass and never merged: 63 of 2048 here. Sets of four slots make losing
 * a hint of 1024 about one run in 10^4.)
 */
#define MANY	1024UL

TEST_F_TIMEOUT(dd, many_pairs_all_share_within_a_domain, 120)
{
	u64 dom = test_domain(5), g, merged = 0;
	struct memvirt_reclaim r;
	struct memvirt_stats sa, sb;
	unsigned char *buf;
	char path[PATH_MAX];
	int round;

	vmf_open(_metadata, self, &self->b, "b");
	ASSERT_EQ(0, set_domain(self->a.fd, dom));
	mv_vm_path(path, sizeof(path), self->b.id, "sharing_domain");
	ASSERT_EQ(0, mv_write_u64(path, dom));
	ASSERT_EQ(0, ftruncate(self->a.fd, MANY * MV_PAGE));
	ASSERT_EQ(0, ftruncate(self->b.fd, MANY * MV_PAGE));
	buf = malloc(MANY * MV_PAGE);
	ASSERT_NE(NULL, buf);
	for (g = 0; g < MANY; g++)
		content(buf + g * MV_PAGE, 1000 + g);
	ASSERT_EQ((ssize_t)(MANY * MV_PAGE), pwrite(self->a.fd, buf, MANY * MV_PAGE, 0));
	ASSERT_EQ((ssize_t)(MANY * MV_PAGE), pwrite(self->b.fd, buf, MANY * MV_PAGE, 0));
	free(buf);

	share(_metadata, self->a.fd, 0, MANY, &r);
	EXPECT_PASS(r, MANY, 0, 0, 0);
	share(_metadata, self->b.fd, 0, MANY, &r);
	EXPECT_EQ(MANY, r.scanned);
	EXPECT_EQ(MANY, r.merged) TH_LOG("%llu pairs did not share",
					 (unsigned long long)(MANY - r.merged));
	merged = r.merged;
	/* What a scanner would do next: alternate passes. */
	for (round = 0; round < 3; round++) {
		share(_metadata, self->a.fd, 0, MANY, &r);
		merged += r.merged;
		share(_metadata, self->b.fd, 0, MANY, &r);
		merged += r.merged;
	}
	mv_stats_get(_metadata, self->a.fd, &sa);
	mv_stats_get(_metadata, self->b.fd, &sb);
	TH_LOG("after 8 passes: %llu merges; shared %llu and %llu of %lu",
	       (unsigned long long)merged, (unsigned long long)sa.shared,
	       (unsigned long long)sb.shared, MANY);
	EXPECT_EQ(MANY, sa.shared);
	EXPECT_EQ(MANY, sb.shared);
	EXPECT_EQ(0ULL, sa.false_matches + sb.false_matches);
	expect_totals(_metadata, &self->g0, 2 * MANY, MANY);
	for (g = 0; g < MANY; g += 97)
		EXPECT_HOLDS(self->b.fd, g, 1000 + g);
}

/* ------------------------------------------------------------------ */
/* Controls */

TEST_F(dd, sharing_domain_controls)
{
	static const char *const bad[] = {
		"4294967296\n", "-1\n", "abc\n", "1.5\n", "\n",
		"99999999999999999999999\n",
	};
	struct memvirt_policy p;
	struct memvirt_stats st;
	char path[PATH_MAX], buf[64];
	unsigned int i;
	int ret;

	mv_vm_path(path, sizeof(path), self->a.id, "sharing_domain");
	ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
	EXPECT_EQ(0ULL, get_domain(_metadata, self->a.fd));

	ASSERT_EQ(0, mv_write_str(path, "4294967295\n"));
	ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ("4294967295", buf);
	EXPECT_EQ(MEMVIRT_SHARING_DOMAIN_MAX, get_domain(_metadata, self->a.fd));

	ASSERT_EQ(0, set_domain(self->a.fd, 77));
	ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ("77", buf);
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(77ULL, st.sharing_domain);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = mv_write_str(path, bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("'%.*s': %s",
					       (int)strcspn(bad[i], "\n"),
					       bad[i], strerror(-ret));
	}
	EXPECT_EQ(-EINVAL, set_domain(self->a.fd, MEMVIRT_SHARING_DOMAIN_MAX + 1));
	EXPECT_EQ(-EINVAL, set_domain(self->a.fd, ~0ULL));
	EXPECT_EQ(77ULL, get_domain(_metadata, self->a.fd));

	/* Version-1 callers: a 72-byte GET_POLICY leaves the domain out. */
	memset(&p, 0xff, sizeof(p));
	memset(&p, 0, MEMVIRT_POLICY_SIZE_VER0);
	p.size = MEMVIRT_POLICY_SIZE_VER0;
	ASSERT_EQ(0, mv_ioctl(self->a.fd, MEMVIRT_IOC_GET_POLICY, &p));
	EXPECT_EQ((u32)MEMVIRT_POLICY_SIZE_VER0, p.size);
	EXPECT_EQ(~0ULL, p.sharing_domain);
	ASSERT_EQ(0, set_domain(self->a.fd, 0));
	EXPECT_EQ(0ULL, get_domain(_metadata, self->a.fd));
}

TEST_F(dd, domain_change_while_shared_ebusy)
{
	u64 dom = test_domain(4);
	struct memvirt_reclaim r;
	char path[PATH_MAX];

	mv_vm_path(path, sizeof(path), self->a.id, "sharing_domain");
	ASSERT_EQ(0, set_domain(self->a.fd, dom));
	put(_metadata, self->a.fd, 0, 12);
	put(_metadata, self->a.fd, 1, 12);
	share(_metadata, self->a.fd, 0, 2, &r);
	EXPECT_PASS(r, 2, 1, 0, 0);

	EXPECT_EQ(-EBUSY, set_domain(self->a.fd, dom + 1));
	EXPECT_EQ(-EBUSY, set_domain(self->a.fd, 0));
	EXPECT_EQ(-EBUSY, mv_write_u64(path, dom + 1));
	EXPECT_EQ(-EBUSY, mv_write_str(path, "0\n"));
	EXPECT_EQ(dom, get_domain(_metadata, self->a.fd));

	/* Both copies written: nothing shared, the domain may change. */
	MV_WRITE_ONCE(self->a.map[0], 1);
	EXPECT_EQ(-EBUSY, set_domain(self->a.fd, dom + 1))
		TH_LOG("gfn 1 still shares the frame");
	MV_WRITE_ONCE(self->a.map[MV_PAGE], 2);
	EXPECT_EQ(0, set_domain(self->a.fd, dom + 1));
	EXPECT_EQ(0, mv_write_str(path, "0\n"));
	EXPECT_EQ(0ULL, get_domain(_metadata, self->a.fd));

	/* Domain 0 (the default) with shared pages: EBUSY too. */
	put(_metadata, self->a.fd, 2, 13);
	put(_metadata, self->a.fd, 3, 13);
	share(_metadata, self->a.fd, 0, 4, &r);
	EXPECT_PASS(r, 4, 1, 0, 0);
	EXPECT_EQ(-EBUSY, set_domain(self->a.fd, dom));
	EXPECT_EQ(-EBUSY, mv_write_u64(path, dom));
}

/* The value the fixture found for knob @name before it set run = 0. */
static const char *saved_knob(const struct dd_knobs *k, const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++)
		if (!strcmp(knob_names[i], name))
			return k->saved[i] ? k->val[i] : "(unreadable)";
	return "(unknown)";
}

static int set_policy2(int fd, u32 flags, u64 shares, u64 reservation,
		       u64 domain)
{
	struct memvirt_policy p = {
		.size = sizeof(p),
		.flags = flags,
		.shares = shares,
		.reservation_bytes = reservation,
		.sharing_domain = domain,
	};

	return mv_ioctl(fd, MEMVIRT_IOC_SET_POLICY, &p);
}

/*
 * SET_POLICY changes the fields it names all or none: a domain named with
 * a refused field stays as it was, and so do the others when the domain is
 * refused (EBUSY). A version-1 caller naming the domain sets 0.
 */
TEST_F(dd, set_policy_domain_all_or_nothing)
{
	const u32 sd = MEMVIRT_POLICY_SHARING_DOMAIN;
	u64 budget = 0, dom = test_domain(6);
	struct memvirt_reclaim r;
	struct memvirt_policy p;

	ASSERT_EQ(0, mv_global_u64("budget_mb", &budget));
	EXPECT_EQ(-EINVAL, set_policy2(self->a.fd, MEMVIRT_POLICY_SHARES | sd, 0, 0, dom));
	EXPECT_EQ(-ENOSPC, set_policy2(self->a.fd, MEMVIRT_POLICY_RESERVATION | sd, 0,
				       (budget + 1) * MV_MIB, dom));
	ASSERT_EQ(0, mv_get_policy(self->a.fd, &p));
	EXPECT_EQ(0ULL, p.sharing_domain);
	EXPECT_EQ((u64)MEMVIRT_SHARES_DEFAULT, p.shares);
	EXPECT_EQ(0ULL, p.reservation_bytes);

	ASSERT_EQ(0, set_policy2(self->a.fd, MEMVIRT_POLICY_SHARES | sd, 2000, 0, dom));
	ASSERT_EQ(0, mv_get_policy(self->a.fd, &p));
	EXPECT_EQ(dom, p.sharing_domain);
	EXPECT_EQ(2000ULL, p.shares);

	/* Sharing now: the domain is refused, and the shares with it. */
	put(_metadata, self->a.fd, 0, 14);
	put(_metadata, self->a.fd, 1, 14);
	share(_metadata, self->a.fd, 0, 2, &r);
	EXPECT_PASS(r, 2, 1, 0, 0);
	EXPECT_EQ(-EBUSY, set_policy2(self->a.fd, MEMVIRT_POLICY_SHARES | sd, 3000, 0,
				      dom + 1));
	ASSERT_EQ(0, mv_get_policy(self->a.fd, &p));
	EXPECT_EQ(dom, p.sharing_domain);
	EXPECT_EQ(2000ULL, p.shares);
	/* Naming the domain it has is no change. */
	EXPECT_EQ(0, set_policy2(self->a.fd, MEMVIRT_POLICY_SHARES | sd, 3000, 0, dom));
	ASSERT_EQ(0, mv_get_policy(self->a.fd, &p));
	EXPECT_EQ(3000ULL, p.shares);

	/* Unshared again, a 72-byte (version 1) call naming it sets 0. */
	MV_WRITE_ONCE(self->a.map[0], 1);
	MV_WRITE_ONCE(self->a.map[MV_PAGE], 2);
	memset(&p, 0, sizeof(p));
	p.size = MEMVIRT_POLICY_SIZE_VER0;
	p.flags = sd;
	EXPECT_EQ(0, mv_ioctl(self->a.fd, MEMVIRT_IOC_SET_POLICY, &p));
	EXPECT_EQ(0ULL, get_domain(_metadata, self->a.fd));
}

TEST_F(dd, knobs_defaults_ranges_and_modes)
{
	static const struct {
		const char *name, *dflt, *ok[2], *bad[4];
	} knobs[] = {
		{ "run", "0", { "1", "0" }, { "2", "-1", "x", "" } },
		{ "pages_to_scan", "512", { "1", "1048576" },
		  { "0", "1048577", "-1", "abc" } },
		{ "sleep_millisecs", "20", { "0", "60000" },
		  { "60001", "-1", "1.5", "" } },
		{ "cpu_percent", "10", { "1", "100" },
		  { "0", "101", "-1", "abc" } },
		{ "boost_cpu_percent", "100", { "0", "100" },
		  { "101", "-1", "abc", "" } },
	};
	static const char *const counters[] = {
		"shared", "sharing", "saved", "zero", "cow_breaks",
		"pages_scanned", "full_scans", "hint_hits", "false_matches",
		"pinned_skips", "boosted_batches",
	};
	static const char *const vm_ro[] = {
		"shared", "pages_scanned", "hint_hits", "false_matches",
		"zero_merged",
	};
	char path[PATH_MAX], val[64], buf[64];
	unsigned int i, j;
	struct stat st;
	int ret;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), MV_SYSFS "/" DEDUP "/%s",
			 knobs[i].name);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
		EXPECT_EQ(0644U, st.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_STREQ(knobs[i].dflt, saved_knob(&self->dk, knobs[i].name))
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
		/* The bad writes left the last good value. */
		ASSERT_EQ(0, mv_read_str(path, buf, sizeof(buf)));
		EXPECT_STREQ(knobs[i].ok[1], buf);
	}
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		snprintf(path, sizeof(path), MV_SYSFS "/" DEDUP "/%s",
			 counters[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
		EXPECT_EQ(0444U, st.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_EQ(-EACCES, mv_write_str(path, "1\n")) TH_LOG("%s", path);
	}
	for (i = 0; i < ARRAY_SIZE(vm_ro); i++) {
		mv_vm_path(path, sizeof(path), self->a.id, vm_ro[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
		EXPECT_EQ(0444U, st.st_mode & 07777) TH_LOG("%s", path);
		EXPECT_EQ(-EACCES, mv_write_str(path, "1\n")) TH_LOG("%s", path);
	}
	mv_vm_path(path, sizeof(path), self->a.id, "sharing_domain");
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s", path);
	EXPECT_EQ(0644U, st.st_mode & 07777);
}

/* Child: every privileged sharing control refuses nobody. */
static int nobody_tries(int fd, u64 id)
{
	struct memvirt_reclaim r;
	char path[PATH_MAX];
	int ret;

	if (mv_become_nobody())
		return 100;
	if (mv_reclaim(fd, MEMVIRT_RECLAIM_SHARE, 0, 1, &r) != -EPERM)
		return 1;
	if (set_domain(fd, 5) != -EPERM)
		return 2;
	ret = mv_global_set(DEDUP "/run", "1\n");
	if (ret != -EACCES && ret != -EPERM)
		return 3;
	mv_vm_path(path, sizeof(path), id, "sharing_domain");
	ret = mv_write_str(path, "5\n");
	if (ret != -EACCES && ret != -EPERM)
		return 4;
	return 0;
}

TEST_F(dd, controls_need_cap_sys_admin)
{
	struct memvirt_stats st;
	int status;
	pid_t pid;

	put(_metadata, self->a.fd, 0, 1);
	put(_metadata, self->a.fd, 1, 1);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(nobody_tries(self->a.fd, self->a.id));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("1: SHARE pass, 2: SET_POLICY, 3: dedup/run, 4: sharing_domain not refused; 100: setuid");
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.shared);
	EXPECT_EQ(0ULL, st.sharing_domain);
	EXPECT_EQ(2ULL, st.resident);
}

TEST_F(dd, bad_arguments_einval)
{
	static const struct {
		const char *what;
		u64 mode, start, nr;
	} bad[] = {
		{ "mode 0", 0, 0, 1 },
		{ "first unknown mode", MEMVIRT_RECLAIM_SWAP + 1, 0, 1 },
		{ "mode ~0", ~0ULL, 0, 1 },
		{ "nr 0", MEMVIRT_RECLAIM_SHARE, 0, 0 },
		{ "start at EOF", MEMVIRT_RECLAIM_SHARE, NPAGES, 1 },
		{ "past EOF", MEMVIRT_RECLAIM_SHARE, NPAGES - 1, 2 },
		{ "wraps", MEMVIRT_RECLAIM_SHARE, ~0ULL, 2 },
		{ "over the max", MEMVIRT_RECLAIM_SHARE, 0,
		  MEMVIRT_RECLAIM_MAX + 1 },
	};
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	unsigned int i;
	int ret;

	put(_metadata, self->a.fd, 0, 1);
	put(_metadata, self->a.fd, 1, 1);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = mv_reclaim(self->a.fd, bad[i].mode, bad[i].start,
				 bad[i].nr, &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s: %s", bad[i].what,
					       strerror(-ret));
	}
	for (i = 1; i < 32; i++) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.flags = 1U << i;
		r.mode = MEMVIRT_RECLAIM_SHARE;
		r.nr_gfns = 1;
		ret = mv_ioctl(self->a.fd, MEMVIRT_IOC_RECLAIM, &r);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags bit %u: %s", i,
					       strerror(-ret));
	}
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.shared) TH_LOG("a refused pass merged");
	EXPECT_EQ(0ULL, st.pages_scanned);

	/* A version-1 struct (120 bytes) runs the pass, without the outputs. */
	memset(&r, 0xff, sizeof(r));
	memset(&r, 0, MEMVIRT_RECLAIM_SIZE_VER0);
	r.size = MEMVIRT_RECLAIM_SIZE_VER0;
	r.mode = MEMVIRT_RECLAIM_SHARE;
	r.nr_gfns = NPAGES;
	ASSERT_EQ(0, mv_ioctl(self->a.fd, MEMVIRT_IOC_RECLAIM, &r));
	EXPECT_EQ((u32)MEMVIRT_RECLAIM_SIZE_VER0, r.size);
	EXPECT_EQ(2ULL, r.scanned);
	EXPECT_EQ(1ULL, r.reclaimed);
	EXPECT_EQ(~0ULL, r.merged) TH_LOG("wrote past the caller's size");
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(2ULL, st.shared);
}

/* ------------------------------------------------------------------ */
/* Passes the caller does not wait for: ASYNC and the scanner */

#define WAIT_S	30

/* Poll the VM's @attr until it reads @want (WAIT_S at most); last value. */
static u64 wait_vm(u64 id, const char *attr, u64 want)
{
	u64 v = ~0ULL;
	int i;

	for (i = 0; i < WAIT_S * 20; i++) {
		if (!mv_vm_u64(id, attr, &v) && v == want)
			break;
		usleep(50000);
	}
	return v;
}

TEST_F_TIMEOUT(dd, async_pass_merges_in_background, 60)
{
	struct memvirt_reclaim r;
	struct memvirt_stats st;
	u64 g;
	int ret;

	for (g = 0; g < 8; g++)
		put(_metadata, self->a.fd, g, 21);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.flags = MEMVIRT_RECLAIM_ASYNC;
	r.mode = MEMVIRT_RECLAIM_SHARE;
	r.nr_gfns = NPAGES;
	ret = mv_ioctl(self->a.fd, MEMVIRT_IOC_RECLAIM, &r);
	ASSERT_EQ(0, ret) TH_LOG("ASYNC SHARE: %s", strerror(-ret));
	EXPECT_EQ(0ULL, r.scanned);
	EXPECT_EQ(0ULL, r.merged);
	EXPECT_EQ(0ULL, r.reclaimed);
	EXPECT_EQ(8ULL, wait_vm(self->a.id, "shared", 8));
	EXPECT_EQ(7ULL, wait_vm(self->a.id, "reclaimed", 7));
	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(0ULL, st.resident);
	EXPECT_EQ(8ULL, st.pages_scanned);
	expect_totals(_metadata, &self->g0, 8, 1);
	expect_state(_metadata, self->a.fd, 0, 8, MEMVIRT_GFN_SHARED);
}

/* Whether a task named @comm exists. */
static bool task_exists(const char *comm)
{
	char path[300], buf[64];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/proc");

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (!mv_read_str(path, buf, sizeof(buf)) && !strcmp(buf, comm))
			found = true;
	}
	closedir(d);
	return found;
}

TEST_F_TIMEOUT(dd, scanner_merges_and_zeroes, 90)
{
	struct memvirt_stats st;
	struct glob now;
	u64 nr_vms = 0, g, full;
	int i;

	for (g = 0; g < 8; g++)
		put(_metadata, self->a.fd, g, 22);
	put_zero(_metadata, self->a.fd, 20);
	put(_metadata, self->a.fd, 21, 23);
	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_vms));
	ASSERT_EQ(0, dd_set("sleep_millisecs", "1\n"));
	ASSERT_EQ(0, dd_set("run", "1\n"));
	EXPECT_TRUE(task_exists("memvirt_dedup"));
	/* Two full scans after it started: every page was seen. */
	for (i = 0; i < WAIT_S * 20; i++) {
		glob_read(_metadata, &now);
		if (now.v[G_FULL] >= self->g0.v[G_FULL] + 2)
			break;
		usleep(50000);
	}
	ASSERT_EQ(0, dd_set("run", "0\n"));
	full = now.v[G_FULL] - self->g0.v[G_FULL];
	ASSERT_LE(2ULL, full) TH_LOG("the scanner finished %llu scans in %d s",
				     (unsigned long long)full, WAIT_S);

	mv_stats_get(_metadata, self->a.fd, &st);
	EXPECT_EQ(8ULL, st.shared);
	EXPECT_EQ(1ULL, st.zero_merged);
	EXPECT_EQ(1ULL, st.resident);
	EXPECT_EQ(8ULL, st.reclaimed);
	expect_state(_metadata, self->a.fd, 0, 8, MEMVIRT_GFN_SHARED);
	expect_state(_metadata, self->a.fd, 20, 1, MEMVIRT_GFN_ZERO);
	expect_state(_metadata, self->a.fd, 21, 1, MEMVIRT_GFN_PRIVATE);
	EXPECT_LE(10ULL, st.pages_scanned);
	for (g = 0; g < 8; g++)
		EXPECT_HOLDS(self->a.fd, g, 22);
	EXPECT_HOLDS(self->a.fd, 21, 23);
	if (nr_vms == 1) {
		glob_read(_metadata, &now);
		EXPECT_GDELTA(self->g0, now, G_SHARED, 8);
		EXPECT_GDELTA(self->g0, now, G_SHARING, 1);
		EXPECT_GDELTA(self->g0, now, G_SAVED, 7);
		EXPECT_GDELTA(self->g0, now, G_ZERO, 1);
	} else {
		TH_LOG("%llu VMs: global counters not checked",
		       (unsigned long long)nr_vms);
	}
}

/* Let the scanner run until it finished two more full scans; @now: after. */
static void scan_twice(struct __test_metadata *_metadata, struct glob *now)
{
	struct glob g;
	int i;

	glob_read(_metadata, &g);
	ASSERT_EQ(0, dd_set("run", "1\n"));
	for (i = 0; i < WAIT_S * 20; i++) {
		glob_read(_metadata, now);
		if (now->v[G_FULL] >= g.v[G_FULL] + 2)
			break;
		usleep(50000);
	}
	ASSERT_EQ(0, dd_set("run", "0\n"));
	ASSERT_LE(g.v[G_FULL] + 2, now->v[G_FULL])
		TH_LOG("the scanner finished %llu scans in %d s",
		       (unsigned long long)(now->v[G_FULL] - g.v[G_FULL]), WAIT_S);
}

/* Poll policy/state until it is not "high" (WAIT_S at most). */
static bool state_is_short(void)
{
	char buf[32];
	int i;

	for (i = 0; i < WAIT_S * 20; i++) {
		if (!mv_read_str(MV_SYSFS "/policy/state", buf, sizeof(buf)) &&
		    strcmp(buf, "high"))
			return true;
		usleep(50000);
	}
	return false;
}

/*
 * Why the scans did not merge what they should have, for a failure: the
 * state of a's gfns, a's counters, who else took pages, and every dedup
 * counter's move.
 */
static void merge_explain(struct __test_metadata *_metadata, int fd,
			  const struct glob *base, const struct glob *now)
{
	char line[256], st[32] = "?";
	struct memvirt_stats vs;
	unsigned char s[18];
	unsigned int i, n = 0;
	u64 freed = 0;

	ASSERT_EQ(0, mv_query(fd, 0, 18, s));
	for (i = 0; i < 18; i++)
		n += snprintf(line + n, sizeof(line) - n, " %x", s[i]);
	mv_read_str(MV_SYSFS "/policy/state", st, sizeof(st));
	mv_global_u64("policy/shrinker_freed", &freed);
	TH_LOG("a's gfns 0-17 (state | 0x10 dirty, 0x20 accessed):%s; policy %s, shrinker_freed %llu",
	       line, st, (unsigned long long)freed);
	mv_stats_get(_metadata, fd, &vs);
	TH_LOG("a: resident %llu shared %llu scanned %llu hint_hits %llu false %llu pinned %llu compressed %llu swapped %llu",
	       (unsigned long long)vs.resident, (unsigned long long)vs.shared,
	       (unsigned long long)vs.pages_scanned, (unsigned long long)vs.hint_hits,
	       (unsigned long long)vs.false_matches, (unsigned long long)vs.pinned_skips,
	       (unsigned long long)vs.compressed, (unsigned long long)vs.swapped);
	for (i = 0; i < G_NR; i++)
		TH_LOG("dedup/%s: %llu -> %llu", g_names[i],
		       (unsigned long long)base->v[i], (unsigned long long)now->v[i]);
}

/* dedup/shared grew by exactly @want since @base; if not, say why. */
static void expect_merged(struct __test_metadata *_metadata, int fd,
			  const struct glob *base, const struct glob *now, u64 want)
{
	EXPECT_GDELTA(*base, *now, G_SHARED, want);
	if (now->v[G_SHARED] - base->v[G_SHARED] != want)
		merge_explain(_metadata, fd, base, now);
}

#define BOOST_FILL	320UL	/* pages of VM b: 62% of a 2 MiB budget */

/*
 * The scanner boosts only while memory is short and it frees pages. With
 * the state high, 8 identical pages merge and nothing is boosted. Then a
 * budget of 2 MiB, 320 private pages of another VM and free_high_pct 50,
 * free_soft_pct 49 make the state soft (free ~35%, above hard): with
 * pages_to_scan 64 a round is one batch over all of VM a (the first VM),
 * which frees 7 of the 8 pages it hashes, then five over b; so the round
 * is productive and b's batches are boosted.
 */
TEST_F_TIMEOUT(dd, scanner_boosts_only_when_short_and_productive, 120)
{
	unsigned char buf[MV_PAGE];
	char state[32], path[PATH_MAX];
	struct glob g1, now;
	u64 nr_vms = 0, g;

	ASSERT_EQ(0, mv_read_str(MV_SYSFS "/policy/state", state, sizeof(state)));
	if (strcmp(state, "high"))
		SKIP(return, "policy state is %s, not high, before the test", state);
	ASSERT_EQ(0, mv_global_u64("nr_vms", &nr_vms));
	if (nr_vms != 1)
		SKIP(return, "%llu VMs: another VM's pages would change the batches",
		     (unsigned long long)nr_vms);
	ASSERT_EQ(0, dd_set("boost_cpu_percent", "50\n"));
	ASSERT_EQ(0, dd_set("pages_to_scan", "64\n"));
	ASSERT_EQ(0, dd_set("sleep_millisecs", "1\n"));

	/* State high: merges, no boost. */
	for (g = 0; g < 8; g++)
		put(_metadata, self->a.fd, g, 22);
	scan_twice(_metadata, &now);
	expect_merged(_metadata, self->a.fd, &self->g0, &now, 8);
	ASSERT_EQ(0, mv_read_str(MV_SYSFS "/policy/state", state, sizeof(state)));
	if (!strcmp(state, "high"))
		EXPECT_GDELTA(self->g0, now, G_BOOSTED, 0);
	else
		TH_LOG("state became %s during the scans: boost not checked", state);

	/* Memory short. */
	snprintf(self->b.path, sizeof(self->b.path), "%s/b", self->dir);
	self->b.fd = mv_create(self->b.path, BOOST_FILL * MV_PAGE);
	ASSERT_LE(0, self->b.fd) TH_LOG("create b: %s", strerror(-self->b.fd));
	for (g = 0; g < BOOST_FILL; g++) {
		content(buf, 1000 + g);
		ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->b.fd, buf, MV_PAGE, g * MV_PAGE));
	}
	/*
	 * Reservations as large as the VMs: in the soft state the policy
	 * takes the cold pages of a VM that does not balloon (seen once on
	 * debug-6.12), and the shrinker's debt could take them whenever the
	 * host reclaims: compressing a's shared pages would offset the
	 * merges counted below.
	 */
	ASSERT_EQ(0, mv_set_policy(self->a.fd, MEMVIRT_POLICY_RESERVATION, 0,
				   NPAGES * MV_PAGE, 0));
	ASSERT_EQ(0, mv_set_policy(self->b.fd, MEMVIRT_POLICY_RESERVATION, 0,
				   BOOST_FILL * MV_PAGE, 0));
	ASSERT_EQ(0, mv_global_set("budget_mb", "2\n"));
	mv_global_path(path, sizeof(path), "policy/free_high_pct");
	ASSERT_EQ(0, mv_write_str(path, "50\n"));
	mv_global_path(path, sizeof(path), "policy/free_soft_pct");
	ASSERT_EQ(0, mv_write_str(path, "49\n"));
	ASSERT_TRUE(state_is_short());

	for (g = 10; g < 18; g++)
		put(_metadata, self->a.fd, g, 23);
	glob_read(_metadata, &g1);
	scan_twice(_metadata, &now);
	expect_merged(_metadata, self->a.fd, &g1, &now, 8);
	EXPECT_LT(g1.v[G_BOOSTED], now.v[G_BOOSTED])
		TH_LOG("no boosted batch while the state was short");
	for (g = 10; g < 18; g++)
		EXPECT_HOLDS(self->a.fd, g, 23);
}

/* ------------------------------------------------------------------ */
/* A writer racing the passes */

#define RACE_SECS	4

/*
 * Child: rounds over all pages; each page holds only the round number (at
 * byte 64), so after a round every page is equal to every other and a pass
 * merges them. Before each store the page must still hold the previous
 * round, after it the new one. Exit 0, or 1 + the page of the first loss.
 */
static int race_writer(const char *path)
{
	time_t end = time(NULL) + RACE_SECS;
	unsigned char *map;
	u32 round;
	size_t g;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return 200;
	map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED)
		return 201;
	for (round = 1; time(NULL) < end; round++) {
		for (g = 0; g < NPAGES; g++) {
			u32 *w = (u32 *)(map + g * MV_PAGE + 64);

			if (MV_READ_ONCE(*w) != round - 1)
				return 1 + g;
			MV_WRITE_ONCE(*w, round);
			if (MV_READ_ONCE(*w) != round)
				return 1 + g;
		}
	}
	return pwrite(fd, &round, sizeof(round), 0) == sizeof(round) ? 0 : 202;
}

TEST_F_TIMEOUT(dd, writer_racing_passes_loses_nothing, 120)
{
	struct memvirt_reclaim r;
	u64 passes = 0, merged = 0;
	u32 last = 0, v;
	int status, ret;
	size_t g;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(race_writer(self->a.path));
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ret = mv_reclaim(self->a.fd, MEMVIRT_RECLAIM_SHARE, 1,
				 NPAGES - 1, &r);
		ASSERT_EQ(0, ret) TH_LOG("SHARE: %s", strerror(-ret));
		passes++;
		merged += r.merged;
	}
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("1..64: a store to page %d was lost; 200+: set-up",
		       WEXITSTATUS(status) - 1);
	TH_LOG("%llu passes raced the writer, merged %llu pages",
	       (unsigned long long)passes, (unsigned long long)merged);
	EXPECT_LT(0ULL, merged) TH_LOG("no pass merged anything: no race");
	ASSERT_EQ((ssize_t)sizeof(last), pread(self->a.fd, &last, sizeof(last), 0));
	ASSERT_LT(1U, last);
	for (g = 1; g < NPAGES; g++) {
		ASSERT_EQ((ssize_t)sizeof(v),
			  pread(self->a.fd, &v, sizeof(v), g * MV_PAGE + 64));
		EXPECT_EQ(last - 1, v) TH_LOG("page %zu", g);
	}
}

/* ------------------------------------------------------------------ */
/* Allocation failure while breaking copy-on-write (debug kernel) */

#define FPA		"/sys/kernel/debug/fail_page_alloc"
#define MAX_KNOBS	16
#define FI_ATTEMPTS	8U
#define FI_PAGES	(FI_ATTEMPTS + 2)

struct knob {
	char path[PATH_MAX];
	char val[64];
};

FIXTURE(fi) {
	dd_t d;
	struct knob saved[MAX_KNOBS];
	unsigned int nr_saved;
	void *reserve;
	unsigned char *map;
};

FIXTURE_SETUP(fi)
{
	struct stat st;

	if (stat(FPA, &st))
		MV_SETUP_SKIP("needs fail_page_alloc in debugfs (the debug kernel has it)");
	dd_init(_metadata, &self->d);
}

FIXTURE_TEARDOWN(fi)
{
	unsigned int i;

	mv_write_str("/proc/self/make-it-fail", "0\n");
	for (i = 0; i < self->nr_saved && i < MAX_KNOBS; i++) {
		struct knob *k = &self->saved[self->nr_saved - 1 - i];

		EXPECT_EQ(0, mv_write_str(k->path, k->val))
			TH_LOG("restore %s", k->path);
	}
	if (self->reserve)
		munmap(self->reserve, NPAGES * MV_PAGE + 2 * MV_MIB);
	dd_fini(_metadata, &self->d);
}

static void knob_set(struct __test_metadata *_metadata,
		     FIXTURE_DATA(fi) *self, const char *name, const char *val)
{
	struct knob *k = &self->saved[self->nr_saved];
	int ret;

	ASSERT_GT((unsigned int)MAX_KNOBS, self->nr_saved);
	snprintf(k->path, sizeof(k->path), FPA "/%s", name);
	ASSERT_EQ(0, mv_read_str(k->path, k->val, sizeof(k->val)))
		TH_LOG("read %s", k->path);
	self->nr_saved++;
	ret = mv_write_str(k->path, val);
	ASSERT_EQ(0, ret) TH_LOG("%s = %s: %s", k->path, val, strerror(-ret));
}

/* fail_page_alloc for this task, one failure per rearm(). */
static void arm(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self)
{
	knob_set(_metadata, self, "verbose", "0\n");
	knob_set(_metadata, self, "task-filter", "Y\n");
	knob_set(_metadata, self, "ignore-gfp-wait", "N\n");
	knob_set(_metadata, self, "ignore-gfp-highmem", "N\n");
	knob_set(_metadata, self, "min-order", "0\n");
	knob_set(_metadata, self, "space", "0\n");
	knob_set(_metadata, self, "interval", "1\n");
	knob_set(_metadata, self, "probability", "100\n");
	knob_set(_metadata, self, "times", "0\n");
}

static void rearm(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, mv_write_str(FPA "/times", "1\n"));
	ASSERT_EQ(0, mv_write_str("/proc/self/make-it-fail", "1\n"));
}

static void disarm(void)
{
	mv_write_str("/proc/self/make-it-fail", "0\n");
}

/*
 * FI_PAGES copies of content 31 at gfns 0.., merged into one frame, and a
 * mapping of the file at a 2 MiB-aligned address that has read them all
 * (the page table and the read-only entries exist: the store's fault
 * allocates nothing but memvirt's copy).
 */
static void fi_prepare(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self)
{
	struct memvirt_reclaim r;
	uintptr_t a;
	u64 g;

	for (g = 0; g < FI_PAGES; g++)
		put(_metadata, self->d.a.fd, g, 31);
	share(_metadata, self->d.a.fd, 0, NPAGES, &r);
	ASSERT_EQ(FI_PAGES - 1, r.merged);
	self->reserve = mmap(NULL, NPAGES * MV_PAGE + 2 * MV_MIB, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->reserve);
	a = ((uintptr_t)self->reserve + 2 * MV_MIB - 1) & ~(2 * MV_MIB - 1);
	self->map = mmap((void *)a, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, self->d.a.fd, 0);
	ASSERT_EQ((void *)a, self->map);
	for (g = 0; g < FI_PAGES; g++)
		EXPECT_MAP_HOLDS(self->map, g, 31);
}

/*
 * After attempt @k failed: @k earlier attempts broke copy-on-write (the
 * injection went elsewhere), gfn @k is still SHARED with its bytes, every
 * counter is as those @k breaks left it.
 */
static void fi_expect_failed(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fi) *self, unsigned int k)
{
	struct memvirt_stats st;
	struct glob now;
	u64 g;

	expect_state(_metadata, self->d.a.fd, k, 1, MEMVIRT_GFN_SHARED);
	EXPECT_HOLDS(self->d.a.fd, k, 31);
	mv_stats_get(_metadata, self->d.a.fd, &st);
	EXPECT_EQ(FI_PAGES - k, st.shared);
	EXPECT_EQ((u64)k, st.cow_breaks);
	EXPECT_EQ((u64)k, st.resident);
	glob_read(_metadata, &now);
	EXPECT_GDELTA(self->d.g0, now, G_COW, k);
	expect_totals(_metadata, &self->d.g0, FI_PAGES - k, 1);
	for (g = k + 1; g < FI_PAGES; g++) {
		EXPECT_HOLDS(self->d.a.fd, g, 31);
		EXPECT_MAP_HOLDS(self->map, g, 31);
	}
}

/* Then the same write works, and the rest is intact. */
static void fi_expect_recovered(struct __test_metadata *_metadata,
				FIXTURE_DATA(fi) *self, unsigned int k)
{
	struct memvirt_stats st;

	expect_state(_metadata, self->d.a.fd, k, 1, MEMVIRT_GFN_PRIVATE);
	mv_stats_get(_metadata, self->d.a.fd, &st);
	EXPECT_EQ(FI_PAGES - k - 1, st.shared);
	EXPECT_EQ((u64)k + 1, st.cow_breaks);
	expect_totals(_metadata, &self->d.g0, FI_PAGES - k - 1, 1);
	EXPECT_HOLDS(self->d.a.fd, FI_PAGES - 1, 31);
}

TEST_F(fi, write_fault_on_shared_gfn_sigbus)
{
	unsigned char c = 0;
	unsigned int k;
	int kfd, bus = 0;

	fi_prepare(_metadata, self);
	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);
	arm(_metadata, self);
	for (k = 0; k < FI_ATTEMPTS; k++) {
		rearm(_metadata);
		bus = mv_write_sigbus(self->map + k * MV_PAGE + 1, 0x22);
		disarm();
		if (bus)
			break;
		ASSERT_EQ(1, pread(self->d.a.fd, &c, 1, k * MV_PAGE + 1));
		EXPECT_EQ(0x22, c);
	}
	TH_LOG("the break failed at attempt %u of %u", k + 1, FI_ATTEMPTS);
	ASSERT_GT(FI_ATTEMPTS, k) TH_LOG("the failed allocation never raised SIGBUS");
	EXPECT_EQ(1, mv_kmsg_count(kfd, "no memory for gfn"));
	close(kfd);
	fi_expect_failed(_metadata, self, k);

	EXPECT_EQ(0, mv_write_sigbus(self->map + k * MV_PAGE + 1, 0x22));
	ASSERT_EQ(1, pread(self->d.a.fd, &c, 1, k * MV_PAGE + 1));
	EXPECT_EQ(0x22, c);
	fi_expect_recovered(_metadata, self, k);
}

TEST_F(fi, pwrite_into_shared_gfn_enomem)
{
	unsigned char c = 0x33;
	unsigned int k;
	ssize_t n = 0;
	int err = 0;

	fi_prepare(_metadata, self);
	arm(_metadata, self);
	for (k = 0; k < FI_ATTEMPTS; k++) {
		rearm(_metadata);
		n = pwrite(self->d.a.fd, &c, 1, k * MV_PAGE + 2);
		err = errno;
		disarm();
		if (n < 0)
			break;
		ASSERT_EQ(1, n);
	}
	TH_LOG("the break failed at attempt %u of %u", k + 1, FI_ATTEMPTS);
	ASSERT_GT(FI_ATTEMPTS, k) TH_LOG("the failed allocation never failed pwrite()");
	EXPECT_EQ(ENOMEM, err) TH_LOG("%s", strerror(err));
	fi_expect_failed(_metadata, self, k);

	ASSERT_EQ(1, pwrite(self->d.a.fd, &c, 1, k * MV_PAGE + 2));
	c = 0;
	ASSERT_EQ(1, pread(self->d.a.fd, &c, 1, k * MV_PAGE + 2));
	EXPECT_EQ(0x33, c);
	EXPECT_EQ(0x33, MV_READ_ONCE(self->map[k * MV_PAGE + 2]));
	fi_expect_recovered(_metadata, self, k);
}

MV_HARNESS_MAIN(mv_need_memvirtfs)

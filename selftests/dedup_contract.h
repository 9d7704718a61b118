/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dedup_contract.h - what the page-sharing tests (dedup_test, kvm_dedup_test)
 * share: the global dedup/ counters, read and compared as deltas, and the
 * scanner's knobs, saved and restored around a test. Include after
 * kselftest_harness.h and contract.h.
 */
#ifndef MEMVIRT_DEDUP_CONTRACT_H
#define MEMVIRT_DEDUP_CONTRACT_H

#define DEDUP		"dedup"


enum {
	G_SHARED, G_SHARING, G_SAVED, G_ZERO, G_COW, G_SCANNED, G_FULL,
	G_HINT, G_FALSE, G_PINNED, G_BOOSTED, G_NR
};

static const char *const g_names[G_NR] = {
	"shared", "sharing", "saved", "zero", "cow_breaks", "pages_scanned",
	"full_scans", "hint_hits", "false_matches", "pinned_skips",
	"boosted_batches",
};

struct glob {
	u64 v[G_NR];
};

static void glob_read1(struct __test_metadata *_metadata, struct glob *g,
		       unsigned int f)
{
	char attr[64];
	int ret;

	snprintf(attr, sizeof(attr), DEDUP "/%s", g_names[f]);
	ret = mv_global_u64(attr, &g->v[f]);
	ASSERT_EQ(0, ret) TH_LOG("read %s/%s: %s", MV_SYSFS, attr, strerror(-ret));
}

/*
 * The counters are read one at a time, while the scanner may run: the
 * scanner's progress (full_scans, pages_scanned) first, what it did after.
 * A test that waits for N full scans then sees every merge of those scans;
 * in the other order a slow read (a debug kernel takes milliseconds per
 * sysfs read, and the scanner finishes rounds meanwhile) could pair an old
 * dedup/shared with a new full_scans.
 */
static void glob_read(struct __test_metadata *_metadata, struct glob *g)
{
	unsigned int f;

	glob_read1(_metadata, g, G_FULL);
	glob_read1(_metadata, g, G_SCANNED);
	for (f = 0; f < G_NR; f++)
		if (f != G_FULL && f != G_SCANNED)
			glob_read1(_metadata, g, f);
}

/* dedup/<counter @f> moved by exactly @want since @base. */
static void expect_gdelta(struct __test_metadata *_metadata,
			  const struct glob *base, const struct glob *now,
			  unsigned int f, u64 want)
{
	EXPECT_EQ(want, now->v[f] - base->v[f])
		TH_LOG("dedup/%s: %llu -> %llu", g_names[f],
		       (unsigned long long)base->v[f],
		       (unsigned long long)now->v[f]);
}

#define EXPECT_GDELTA(base, now, f, want) \
	expect_gdelta(_metadata, &(base), &(now), f, want)

/* The sharing totals: shared, sharing, saved moved by these since @base. */
static void expect_totals(struct __test_metadata *_metadata,
			  const struct glob *base, u64 shared, u64 sharing)
{
	struct glob now;

	glob_read(_metadata, &now);
	EXPECT_GDELTA(*base, now, G_SHARED, shared);
	EXPECT_GDELTA(*base, now, G_SHARING, sharing);
	EXPECT_GDELTA(*base, now, G_SAVED, shared - sharing);
}

static const char *const knob_names[] = {
	"pages_to_scan", "sleep_millisecs", "cpu_percent", "boost_cpu_percent",
	"run",
};

#define NR_KNOBS	ARRAY_SIZE(knob_names)

struct dd_knobs {
	bool saved[NR_KNOBS];
	char val[NR_KNOBS][32];
};

static void dd_knobs_save(struct dd_knobs *k)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++) {
		snprintf(path, sizeof(path), MV_SYSFS "/" DEDUP "/%s",
			 knob_names[i]);
		k->saved[i] = !mv_read_str(path, k->val[i], sizeof(k->val[i]));
	}
}

/* run last, so the scanner never runs with a test's rate. */
static int dd_knobs_restore(struct dd_knobs *k)
{
	char path[PATH_MAX];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < NR_KNOBS; i++) {
		if (!k->saved[i])
			continue;
		snprintf(path, sizeof(path), MV_SYSFS "/" DEDUP "/%s",
			 knob_names[i]);
		ret |= mv_write_str(path, k->val[i]);
	}
	return ret;
}

static int dd_set(const char *knob, const char *val)
{
	char attr[64];

	snprintf(attr, sizeof(attr), DEDUP "/%s", knob);
	return mv_global_set(attr, val);
}

#endif /* MEMVIRT_DEDUP_CONTRACT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy_contract.h - what the allocation policy tests (policy_test,
 * kvm_policy_test) share, after /work/spec/policy-interface.md: the knobs
 * of /sys/kernel/memvirt/policy/ with their defaults and ranges, saved and
 * restored (with budget_mb and overcommit_ratio) around every test; the
 * host-wide counters and the per-VM policy files; the free-memory states;
 * MEMVIRT_IOC_BALLOON; the memvirt:state tracepoint.
 * Include after kselftest_harness.h and contract.h.
 */
#ifndef MEMVIRT_POLICY_CONTRACT_H
#define MEMVIRT_POLICY_CONTRACT_H

#include <poll.h>
#include <time.h>

#define PL_ATTR		"policy"		/* /sys/kernel/memvirt/policy */
#define PL_DIR		MV_SYSFS "/" PL_ATTR

/* One MEMVIRT_IOC_BALLOON; *@b is set up from the arguments first. */
static inline int pl_balloon(int fd, u32 flags, u64 known, u64 timeout_ms,
			     struct memvirt_balloon *b)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->flags = flags;
	b->known_pages = known;
	b->timeout_ms = timeout_ms;
	return mv_ioctl(fd, MEMVIRT_IOC_BALLOON, b);
}

/* ------------------------------------------------------------------ */
/* Knobs */

enum {
	PL_IDLE_TAX, PL_PERIOD_MS, PL_SAMPLE_PERIOD_MS, PL_SAMPLE_SIZE,
	PL_FREE_HIGH, PL_FREE_SOFT, PL_FREE_HARD, PL_FREE_LOW,
	PL_BALLOON_TIMEOUT_MS, PL_NR_KNOBS
};

static const struct {
	const char *name;
	u64 dflt, min, max;	/* the free_*_pct: ordered, see pl_free_set() */
} pl_knobs_def[PL_NR_KNOBS] = {
	{ "idle_tax", 75, 0, 99 },
	{ "period_ms", 1000, 10, 60000 },
	{ "sample_period_ms", 30000, 100, 3600000 },
	{ "sample_size", 100, 0, 10000 },
	{ "free_high_pct", 6, 1, 50 },
	{ "free_soft_pct", 4, 1, 49 },
	{ "free_hard_pct", 2, 1, 48 },
	{ "free_low_pct", 1, 0, 47 },
	{ "balloon_timeout_ms", 10000, 0, 3600000 },
};

/* Host-wide read-only files of policy/. */
static const char *const pl_ro_names[] = {
	"state", "state_ms", "transitions", "free_pages", "avail_pages",
	"ballooned", "low_waits", "low_wait_ns", "policy_ns", "sample_ns",
	"samples", "sample_periods", "shrinker_count", "shrinker_freed",
	"reclaimed", "reclaim_ns",
};

/* The per-VM read-only policy files of vms/<id>/. */
static const char *const pl_vm_names[] = {
	"target", "balloon_target", "ballooned", "deflated",
	"active_estimate", "active_slow", "active_fast", "active_period",
	"charge", "demand", "sample_periods", "low_waits",
};

/* Every policy knob, budget_mb and overcommit_ratio, as they were. */
struct pl_knobs {
	bool saved[PL_NR_KNOBS];
	char val[PL_NR_KNOBS][32];
	struct mv_knobs g;
};

static inline void pl_knob_path(char *buf, size_t len, unsigned int k)
{
	snprintf(buf, len, PL_DIR "/%s", pl_knobs_def[k].name);
}

static inline void pl_knobs_save(struct pl_knobs *k)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < PL_NR_KNOBS; i++) {
		pl_knob_path(path, sizeof(path), i);
		k->saved[i] = !mv_read_str(path, k->val[i], sizeof(k->val[i]));
	}
	mv_knobs_save(&k->g);
}

static inline int pl_knob_get(unsigned int k, u64 *v)
{
	char path[PATH_MAX];

	pl_knob_path(path, sizeof(path), k);
	return mv_read_u64(path, v);
}

static inline int pl_knob_set(unsigned int k, u64 v)
{
	char path[PATH_MAX];

	pl_knob_path(path, sizeof(path), k);
	return mv_write_u64(path, v);
}

/*
 * Set the four thresholds to @v[0..3] (high, soft, hard, low). Each store
 * must keep high > soft > hard > low, so the order that works depends on
 * where they are now: try both orders a few times. 0 or the last -errno.
 */
static inline int pl_free_set(const u64 v[4])
{
	int pass, i, ret = 0, bad;
	u64 cur;

	for (pass = 0; pass < 4; pass++) {
		bad = 0;
		for (i = 0; i < 4; i++) {
			unsigned int k = PL_FREE_HIGH + (pass % 2 ? 3 - i : i);

			if (!pl_knob_get(k, &cur) && cur == v[k - PL_FREE_HIGH])
				continue;
			ret = pl_knob_set(k, v[k - PL_FREE_HIGH]);
			bad += !!ret;
		}
		if (!bad)
			return 0;
	}
	return ret;
}

static inline int pl_knobs_restore(struct pl_knobs *k)
{
	char path[PATH_MAX], cur[32];
	u64 fr[4];
	unsigned int i;
	int ret = 0;

	if (k->saved[PL_FREE_HIGH] && k->saved[PL_FREE_SOFT] &&
	    k->saved[PL_FREE_HARD] && k->saved[PL_FREE_LOW]) {
		for (i = 0; i < 4; i++)
			fr[i] = strtoull(k->val[PL_FREE_HIGH + i], NULL, 10);
		ret |= pl_free_set(fr);
	}
	for (i = 0; i < PL_NR_KNOBS; i++) {
		if (!k->saved[i] || (i >= PL_FREE_HIGH && i <= PL_FREE_LOW))
			continue;
		pl_knob_path(path, sizeof(path), i);
		if (!mv_read_str(path, cur, sizeof(cur)) && !strcmp(cur, k->val[i]))
			continue;
		ret |= mv_write_str(path, k->val[i]);
	}
	ret |= mv_knobs_restore(&k->g);
	return ret;
}

#define PL_SET(knob, v) do {						\
	int __ret = pl_knob_set(knob, v);				\
									\
	ASSERT_EQ(0, __ret) TH_LOG("%s/%s = %llu: %s", PL_DIR,		\
				   pl_knobs_def[knob].name,		\
				   (unsigned long long)(v),		\
				   strerror(-__ret));			\
} while (0)

#define PL_SET_GLOBAL(attr, v) do {					\
	int __ret = mv_global_set_u64(attr, v);				\
									\
	ASSERT_EQ(0, __ret) TH_LOG("%s/%s = %llu: %s", MV_SYSFS, attr,	\
				   (unsigned long long)(v),		\
				   strerror(-__ret));			\
} while (0)

/* ------------------------------------------------------------------ */
/* Host-wide counters and the state */

static inline int pl_get(const char *name, u64 *v)
{
	char attr[96];

	snprintf(attr, sizeof(attr), PL_ATTR "/%s", name);
	return mv_global_u64(attr, v);
}

static inline u64 pl_u64(struct __test_metadata *_metadata, const char *name)
{
	u64 v = 0;
	int ret = pl_get(name, &v);

	EXPECT_EQ(0, ret) TH_LOG("read %s/%s: %s", PL_DIR, name, strerror(-ret));
	return v;
}

enum pl_state { PL_HIGH, PL_SOFT, PL_HARD, PL_LOW, PL_NR_STATES, PL_BAD = -1 };

static const char *const pl_state_names[PL_NR_STATES] = {
	"high", "soft", "hard", "low",
};

static inline const char *pl_state_name(int s)
{
	return s >= 0 && s < PL_NR_STATES ? pl_state_names[s] : "?";
}

/* The current state, or PL_BAD if policy/state is not one of the four. */
static inline int pl_state(void)
{
	char buf[32];
	int i;

	if (mv_read_str(PL_DIR "/state", buf, sizeof(buf)))
		return PL_BAD;
	for (i = 0; i < PL_NR_STATES; i++)
		if (!strcmp(buf, pl_state_names[i]))
			return i;
	return PL_BAD;
}

/* policy/state_ms: "high <ms>\nsoft <ms>\nhard <ms>\nlow <ms>\n". */
static inline int pl_state_ms(u64 ms[PL_NR_STATES])
{
	char buf[256], name[16], *p = buf;
	unsigned long long v;
	int i, n;

	if (mv_read_str(PL_DIR "/state_ms", buf, sizeof(buf)))
		return -EIO;
	for (i = 0; i < PL_NR_STATES; i++) {
		if (sscanf(p, "%15s %llu%n", name, &v, &n) != 2 ||
		    strcmp(name, pl_state_names[i]))
			return -EINVAL;
		ms[i] = v;
		p += n;
	}
	while (*p == '\n' || *p == ' ')
		p++;
	return *p ? -EINVAL : 0;
}

/* ------------------------------------------------------------------ */
/* Per VM */

static inline u64 pl_vm(struct __test_metadata *_metadata, u64 id,
			const char *attr)
{
	u64 v = 0;
	int ret = mv_vm_u64(id, attr, &v);

	EXPECT_EQ(0, ret) TH_LOG("read %s/%llu/%s: %s", MV_VMS,
				 (unsigned long long)id, attr, strerror(-ret));
	return v;
}

/* The charge of spec's "Per-VM behaviour": resident + compressed in pages. */
static inline u64 pl_charge(const struct memvirt_stats *st)
{
	return st->resident + (st->compressed_bytes + MV_PAGE - 1) / MV_PAGE;
}

/* ------------------------------------------------------------------ */
/* Time */

static inline u64 pl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static inline void pl_sleep_ms(u64 ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Wait up to @ms for policy/state to read @want; then it must stay so for
 * @hold_ms. Returns the state last read.
 */
static inline int pl_wait_state(int want, u64 ms, u64 hold_ms)
{
	u64 end = pl_now_ms() + ms, until;
	int s;

	do {
		s = pl_state();
		if (s == want)
			break;
		pl_sleep_ms(5);
	} while (pl_now_ms() < end);
	if (s != want)
		return s;
	until = pl_now_ms() + hold_ms;
	while (pl_now_ms() < until) {
		s = pl_state();
		if (s != want)
			return s;
		pl_sleep_ms(5);
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* The memvirt:state tracepoint */

static inline const char *pl_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st))
		return "/sys/kernel/tracing";
	if (!stat("/sys/kernel/debug/tracing/events", &st))
		return "/sys/kernel/debug/tracing";
	if (!mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    !stat("/sys/kernel/tracing/events", &st))
		return "/sys/kernel/tracing";
	return NULL;
}

static inline int pl_trace_write(const char *rel, const char *val)
{
	char path[PATH_MAX];
	const char *t = pl_tracefs();

	if (!t)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", t, rel);
	return mv_write_str(path, val);
}

/* Empty the buffer and enable memvirt:state. 0 or -errno. */
static inline int pl_trace_start(void)
{
	char path[PATH_MAX];
	const char *t = pl_tracefs();
	int fd, ret;

	if (!t)
		return -ENOENT;
	ret = pl_trace_write("events/memvirt/state/enable", "0\n");
	if (ret)
		return ret;
	ret = pl_trace_write("tracing_on", "1\n");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/trace", t);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	close(fd);
	return pl_trace_write("events/memvirt/state/enable", "1\n");
}

/*
 * Disable the event; the "old -> new" pairs the buffer holds, in order,
 * as state numbers into @from/@to (at most @max). Returns how many, or
 * -errno. The spec names the fields old and new (integers printed as
 * names): a line reads "state: <old> -> <new> ..." or carries
 * "old=<name>" and "new=<name>".
 */
static inline int pl_trace_finish(int *from, int *to, int max)
{
	char path[PATH_MAX], line[512], o[16], n[16], *p, *q;
	int cnt = 0, i;
	const char *t = pl_tracefs();
	FILE *f;

	if (!t)
		return -ENOENT;
	pl_trace_write("events/memvirt/state/enable", "0\n");
	snprintf(path, sizeof(path), "%s/trace", t);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		p = strstr(line, " state: ");
		if (!p)
			continue;
		q = strstr(line, "old=");
		if (q && strstr(line, "new=")) {
			if (sscanf(q, "old=%15[a-z]", o) != 1 ||
			    sscanf(strstr(line, "new="), "new=%15[a-z]", n) != 1) {
				cnt = -EINVAL;
				break;
			}
		} else if (sscanf(p, " state: %15[a-z] -> %15[a-z]", o, n) != 2) {
			cnt = -EINVAL;
			break;
		}
		if (cnt < max) {
			from[cnt] = to[cnt] = PL_BAD;
			for (i = 0; i < PL_NR_STATES; i++) {
				if (!strcmp(o, pl_state_names[i]))
					from[cnt] = i;
				if (!strcmp(n, pl_state_names[i]))
					to[cnt] = i;
			}
		}
		cnt++;
	}
	fclose(f);
	return cnt;
}

#endif /* MEMVIRT_POLICY_CONTRACT_H */

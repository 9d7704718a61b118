// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - memvirtctl vm VM (policy, counters and a P2M state histogram from
 * MEMVIRT_IOC_QUERY_RANGE) and memvirtctl reclaim (MEMVIRT_IOC_RECLAIM).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "memvirtctl.h"

static const char *const state_names[8] = {
	"absent", "private", "zero", "shared", "ballooned", "compressed",
	"swapped", "error",
};

/* "max" for MEMVIRT_LIMIT_NONE, else MiB with up to 3 decimals. */
static void print_bytes(const char *label, u64v bytes)
{
	if (bytes == MEMVIRT_LIMIT_NONE)
		printf("  %-20s max\n", label);
	else
		printf("  %-20s %llu bytes (%.1f MiB)\n", label, bytes, (double)bytes / MVC_MIB);
}

#define STAT(f) { #f, offsetof(struct memvirt_stats, f) }

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
	STAT(size_bytes), STAT(resident), STAT(zero), STAT(faults), STAT(punched),
	STAT(mkwrite), STAT(zero_maps), STAT(cow_breaks), STAT(pinned_skips),
	STAT(reclaimed), STAT(shared), STAT(pages_scanned), STAT(hint_hits),
	STAT(false_matches), STAT(zero_merged), STAT(sharing_domain),
	STAT(compressed), STAT(compressed_bytes), STAT(swapped), STAT(swap_outs),
	STAT(swap_ins), STAT(compress_rejects), STAT(swap_errors),
	STAT(swap_file_pages),
};

/* The policy's per-VM files that the ioctls do not return. */
static const char *const policy_files[] = {
	"target", "balloon_target", "ballooned", "deflated", "charge", "demand",
	"active_estimate", "active_slow", "active_fast", "active_period",
	"sample_periods", "low_waits",
};

int cmd_vm(int argc, char **argv)
{
	u64v counts[8] = { 0 }, dirty = 0, accessed = 0, other = 0, gfns, start;
	struct memvirt_range_query q;
	struct memvirt_policy pol;
	struct memvirt_stats st;
	unsigned char *states;
	struct mvc_vm vm;
	size_t i;
	int fd;

	if (argc != 2)
		return mvc_usage_err("vm", "vm takes one VM");
	if (argv[1][0] == '-')
		return mvc_usage_err("vm", "unknown option '%s'", argv[1]);
	if (mvc_resolve_vm(argv[1], &vm))
		return MVC_FAIL;
	fd = mvc_open_vm(&vm, O_RDONLY);
	if (fd < 0)
		return MVC_FAIL;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (ioctl(fd, MEMVIRT_IOC_GET_STATS, &st)) {
		mvc_err(errno, NULL, "MEMVIRT_IOC_GET_STATS on %s", vm.path);
		close(fd);
		return MVC_FAIL;
	}
	memset(&pol, 0, sizeof(pol));
	pol.size = sizeof(pol);
	if (ioctl(fd, MEMVIRT_IOC_GET_POLICY, &pol)) {
		mvc_err(errno, NULL, "MEMVIRT_IOC_GET_POLICY on %s", vm.path);
		close(fd);
		return MVC_FAIL;
	}
	printf("vm %llu (%s), file %s\n", vm.id, vm.name, vm.path);
	printf("policy:\n");
	printf("  %-20s %llu\n", "shares", (u64v)pol.shares);
	print_bytes("reservation", pol.reservation_bytes);
	print_bytes("limit", pol.limit_bytes);
	printf("  %-20s %llu%s\n", "sharing_domain", (u64v)pol.sharing_domain,
	       pol.sharing_domain ? "" : " (private)");
	for (i = 0; i < ARRAY_SIZE(policy_files); i++) {
		char val[64];

		if (mvc_vm_read(vm.id, policy_files[i], val, sizeof(val)))
			strcpy(val, "-");
		printf("  %-20s %s\n", policy_files[i], val);
	}
	printf("counters:\n");
	for (i = 0; i < ARRAY_SIZE(stat_fields); i++) {
		if (stat_fields[i].off + sizeof(u64v) > st.size)
			printf("  %-20s -\n", stat_fields[i].name);
		else
			printf("  %-20s %llu\n", stat_fields[i].name,
			       *(u64v *)((char *)&st + stat_fields[i].off));
	}
	gfns = st.size_bytes / MVC_PAGE;
	states = malloc(gfns < MEMVIRT_QUERY_MAX ? (gfns ? gfns : 1) : MEMVIRT_QUERY_MAX);
	if (!states) {
		mvc_err(ENOMEM, "a smaller VM, or more memory", "histogram");
		close(fd);
		return MVC_FAIL;
	}
	for (start = 0; start < gfns; ) {
		u64v nr = gfns - start, j;

		if (nr > MEMVIRT_QUERY_MAX)
			nr = MEMVIRT_QUERY_MAX;
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.start_gfn = start;
		q.nr_gfns = nr;
		q.states = (uintptr_t)states;
		if (ioctl(fd, MEMVIRT_IOC_QUERY_RANGE, &q)) {
			int err = errno;

			if (err == EINVAL && start)	/* the file shrank meanwhile */
				break;
			mvc_err(err, NULL, "MEMVIRT_IOC_QUERY_RANGE on %s gfns %llu+%llu",
				vm.path, start, nr);
			free(states);
			close(fd);
			return MVC_FAIL;
		}
		for (j = 0; j < nr; j++) {
			unsigned int s = states[j] & MEMVIRT_GFN_STATE_MASK;

			if (s < 8)
				counts[s]++;
			else
				other++;
			dirty += !!(states[j] & MEMVIRT_GFN_DIRTY);
			accessed += !!(states[j] & MEMVIRT_GFN_ACCESSED);
		}
		start += nr;
	}
	free(states);
	close(fd);
	printf("p2m: %llu gfns\n", gfns);
	for (i = 0; i < 8; i++)
		printf("  %-20s %llu\n", state_names[i], counts[i]);
	if (other)
		printf("  %-20s %llu\n", "unknown", other);
	printf("  %-20s %llu\n", "dirty", dirty);
	printf("  %-20s %llu\n", "accessed", accessed);
	return MVC_OK;
}

static const char *const reclaim_modes[] = {
	[MEMVIRT_RECLAIM_ZERO] = "zero",
	[MEMVIRT_RECLAIM_SHARE] = "share",
	[MEMVIRT_RECLAIM_COMPRESS] = "compress",
	[MEMVIRT_RECLAIM_SWAP] = "swap",
};

static const char *reclaim_hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return "run as root (needs CAP_SYS_ADMIN)";
	case EOPNOTSUPP:
		return "the VM has no swap file: mount memvirtfs with swapdir=";
	case EINVAL:
		return "the range must lie inside the file, see memvirtctl(8)";
	case EINTR:
		return "interrupted: run it again";
	default:
		return NULL;
	}
}

int cmd_reclaim(int argc, char **argv)
{
	const char *vmarg = NULL, *range = NULL;
	struct memvirt_reclaim r;
	bool async = false, all_count = false;
	u64v mode = 0, start = 0, count = 0, gfns;
	struct mvc_vm vm;
	int i, fd;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--async")) {
			async = true;
			continue;
		}
		if (!strcmp(argv[i], "--mode") || !strcmp(argv[i], "--range")) {
			if (i + 1 >= argc)
				return mvc_usage_err("reclaim", "%s needs a value", argv[i]);
			if (argv[i][2] == 'm') {
				size_t m;

				for (m = 1; m < ARRAY_SIZE(reclaim_modes); m++)
					if (!strcmp(argv[i + 1], reclaim_modes[m]))
						mode = m;
				if (!mode)
					return mvc_usage_err("reclaim", "unknown mode '%s'",
							     argv[i + 1]);
			} else {
				range = argv[i + 1];
			}
			i++;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return mvc_usage_err("reclaim", "unknown option '%s'", argv[i]);
		if (vmarg)
			return mvc_usage_err("reclaim", "one VM only");
		vmarg = argv[i];
	}
	if (!vmarg || !mode || !range)
		return mvc_usage_err("reclaim", "reclaim needs a VM, --mode and --range");
	if (!strcmp(range, "all")) {
		all_count = true;
	} else {
		char buf[64], *colon;

		snprintf(buf, sizeof(buf), "%s", range);
		colon = strchr(buf, ':');
		if (!colon)
			return mvc_usage_err("reclaim", "--range is START:COUNT or all");
		*colon = 0;
		if (!mvc_is_u64(buf))
			return mvc_usage_err("reclaim", "bad START '%s'", buf);
		start = strtoull(buf, NULL, 10);
		if (!strcmp(colon + 1, "all"))
			all_count = true;
		else if (mvc_is_u64(colon + 1) && strtoull(colon + 1, NULL, 10))
			count = strtoull(colon + 1, NULL, 10);
		else
			return mvc_usage_err("reclaim", "bad COUNT '%s'", colon + 1);
	}
	if (mvc_resolve_vm(vmarg, &vm))
		return MVC_FAIL;
	fd = mvc_open_vm(&vm, O_RDWR);
	if (fd < 0)
		return MVC_FAIL;
	if (all_count) {
		off_t end = lseek(fd, 0, SEEK_END);

		gfns = end > 0 ? (u64v)end / MVC_PAGE : 0;
		if (start >= gfns) {
			mvc_err(EINVAL, "START is past the end of the file",
				"reclaim %s: %llu gfns", vm.path, gfns);
			close(fd);
			return MVC_FAIL;
		}
		count = gfns - start;
	}
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.flags = async ? MEMVIRT_RECLAIM_ASYNC : 0;
	r.mode = mode;
	r.start_gfn = start;
	r.nr_gfns = count;
	if (ioctl(fd, MEMVIRT_IOC_RECLAIM, &r)) {
		int err = errno;

		mvc_err(err, reclaim_hint(err), "reclaim %s --mode %s --range %llu:%llu",
			vm.path, reclaim_modes[mode], start, count);
		close(fd);
		return MVC_FAIL;
	}
	close(fd);
	if (async) {
		printf("reclaim of vm %llu gfns %llu+%llu (%s) started in the background: watch 'memvirtctl stats %llu'\n", vm.id, start, count,
		       reclaim_modes[mode], vm.id);
		return MVC_OK;
	}
	printf("scanned=%llu reclaimed=%llu zeroed=%llu merged=%llu compressed=%llu swapped=%llu pinned_skips=%llu\n", (u64v)r.scanned, (u64v)r.reclaimed,
	       (u64v)r.zeroed, (u64v)r.merged, (u64v)r.compressed, (u64v)r.swapped,
	       (u64v)r.pinned_skips);
	return MVC_OK;
}

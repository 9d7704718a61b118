// SPDX-License-Identifier: GPL-2.0
/*
 * overcommit_demo: the second half of `make run`. Four KVM guests of 64 MiB
 * each run on a memvirtfs whose budget the plan set to half of that (2x
 * overcommit), in one sharing domain, with the swap disk as swapdir:
 *
 *   boot    every guest writes all of its RAM: a 16 MiB "OS image" the same
 *           in every guest, 24 MiB of its own data, and 23 MiB it then
 *           frees (as a booted guest leaves its page cache behind);
 *   work    guests 0 and 1 loop over a 16 MiB working set, 2 and 3 idle;
 *   switch  2 and 3 become busy, 0 and 1 go idle;
 *   verify  every guest reads back every byte it still owns.
 *
 * Guest 3 has a "balloon driver": this program follows its balloon target
 * (/sys/kernel/memvirt/vms/<id>/balloon_target) and gives the pages its
 * guest freed back with fallocate(PUNCH_HOLE), as QEMU's virtio-balloon does
 * for fd-backed RAM. The others have none: the policy compresses and swaps
 * their cold pages. The plan samples `memvirtctl top -b` meanwhile; the host
 * plots it. Exit status 0 only if every guest read back all its data.
 *
 * Usage: overcommit_demo MOUNTPOINT [WORK_SECONDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/falloc.h>
#include "uapi/memvirt.h"

#include "bench.h"
#include "vmm.h"

#define OD_GUESTS	4
#define OD_RAM		(64ULL << 20)
#define OD_OS_END	(VMM_FREE_GPA + (16ULL << 20))	/* the shared image */
#define OD_DATA_END	(OD_OS_END + (24ULL << 20))	/* its own data */
#define OD_WS_END	(OD_OS_END + (16ULL << 20))	/* the working set */
#define OD_OS_SEED	0x05
#define OD_TIMEOUT	600
#define OD_DOMAIN	1
#define OD_BALLOONED	3				/* the guest with a balloon */

enum od_phase { OD_BOOT, OD_WORK, OD_SWITCH, OD_VERIFY, OD_DONE };

static const char *const od_phase_names[] = { "boot", "work", "switch", "verify", "done" };

struct od_guest {
	int idx;
	char path[256];
	int fd;
	u64 id;
	struct vm *vm;
	pthread_t thread;
	u64 passes;
	u64 mismatches;
	int booted;
	int err;
};

static volatile int od_phase;
static u64 od_t0;

static double od_now(void)
{
	return (vmm_now_ns() - od_t0) / 1e9;
}

static u64 od_seed(const struct od_guest *g)
{
	return 0x6e57 + g->idx;
}

/* Run @prog over [@start, @end) on vCPU 0; count mismatches. */
static int od_run(struct od_guest *g, enum vmm_prog prog, u64 start, u64 end, u64 seed)
{
	if (vm_run_one(g->vm, 0, prog, start, end, seed, OD_TIMEOUT)) {
		fprintf(stderr, "guest %d: %s\n", g->idx, vcpu_result(g->vm, 0)->msg);
		return -1;
	}
	if (prog == VMM_PROG_VERIFY)
		g->mismatches += vcpu_report(g->vm, 0, VMM_REPORT_MISMATCHES, 1);
	return 0;
}

static bool od_busy(const struct od_guest *g, int phase)
{
	return phase == OD_WORK ? g->idx < 2 : g->idx >= 2;
}

static void *od_guest_run(void *arg)
{
	struct od_guest *g = arg;
	int phase;

	/* boot: the shared image, its own data, then memory it frees */
	if (od_run(g, VMM_PROG_FILL, VMM_FREE_GPA, OD_OS_END, OD_OS_SEED) ||
	    od_run(g, VMM_PROG_FILL, OD_OS_END, OD_RAM, od_seed(g)))
		goto fail;
	printf("[%6.1f s] guest %d booted: wrote all its RAM\n", od_now(), g->idx);
	__atomic_store_n(&g->booted, 1, __ATOMIC_RELEASE);
	while ((phase = __atomic_load_n(&od_phase, __ATOMIC_ACQUIRE)) < OD_VERIFY) {
		if (phase == OD_BOOT || !od_busy(g, phase)) {
			usleep(100000);
			continue;
		}
		if (od_run(g, VMM_PROG_VERIFY, OD_OS_END, OD_WS_END, od_seed(g)))
			goto fail;
		g->passes++;
	}
	/* every byte it owns: the image and its data */
	if (od_run(g, VMM_PROG_VERIFY, VMM_FREE_GPA, OD_OS_END, OD_OS_SEED) ||
	    od_run(g, VMM_PROG_VERIFY, OD_OS_END, OD_DATA_END, od_seed(g)))
		goto fail;
	return NULL;
fail:
	g->err = -1;
	__atomic_store_n(&g->booted, 1, __ATOMIC_RELEASE);
	return NULL;
}

static u64 od_vm_u64(const struct od_guest *g, const char *name)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/sys/kernel/memvirt/vms/%llu", (unsigned long long)g->id);
	return u64_at(dir, name);
}

/*
 * Guest 3's balloon: punch freed pages (from the top of its RAM down to its
 * data) until its balloon holds the target. Returns pages punched.
 */
static u64 od_balloon(struct od_guest *g, u64 *cursor)
{
	u64 target = od_vm_u64(g, "balloon_target"), held = od_vm_u64(g, "ballooned");
	u64 nr;

	if (target <= held || *cursor <= OD_DATA_END)
		return 0;
	nr = (target - held) * VMM_PAGE_SIZE;
	if (nr > *cursor - OD_DATA_END)
		nr = *cursor - OD_DATA_END;
	*cursor -= nr;
	if (fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, *cursor, nr)) {
		fprintf(stderr, "guest %d: fallocate(PUNCH_HOLE): %s\n", g->idx, strerror(errno));
		*cursor += nr;
		return 0;
	}
	printf("[%6.1f s] guest %d: balloon target %llu pages: the guest gave %llu more\n",
	       od_now(), g->idx, (unsigned long long)target,
	       (unsigned long long)(nr / VMM_PAGE_SIZE));
	return nr / VMM_PAGE_SIZE;
}

static int od_open(struct od_guest *g, const char *mnt)
{
	struct memvirt_policy pol = {
		.size = sizeof(pol), .flags = MEMVIRT_POLICY_SHARING_DOMAIN,
		.sharing_domain = OD_DOMAIN,
	};
	struct memvirt_stats st = { .size = sizeof(st) };

	snprintf(g->path, sizeof(g->path), "%s/guest%d", mnt, g->idx);
	g->fd = open(g->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (g->fd < 0 || ftruncate(g->fd, OD_RAM) ||
	    ioctl(g->fd, MEMVIRT_IOC_GET_STATS, &st) ||
	    ioctl(g->fd, MEMVIRT_IOC_SET_POLICY, &pol)) {
		fprintf(stderr, "overcommit_demo: %s: %s\n", g->path, strerror(errno));
		return -1;
	}
	g->id = st.vm_id;
	g->vm = vm_create(g->fd, OD_RAM, 1);
	return g->vm ? 0 : -1;
}

static void od_set_phase(int phase)
{
	printf("[%6.1f s] phase %s\n", od_now(), od_phase_names[phase]);
	fflush(stdout);
	__atomic_store_n(&od_phase, phase, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
	struct od_guest g[OD_GUESTS] = { 0 };
	unsigned int work_s = argc > 2 ? atoi(argv[2]) : 40;
	u64 cursor = OD_RAM, ballooned = 0;
	double t_boot = 0;
	char reason[256];
	int i, ret = 0;
	bool booted;

	if (argc < 2) {
		fprintf(stderr, "usage: overcommit_demo MOUNTPOINT [WORK_SECONDS]\n");
		return 2;
	}
	if (vmm_kvm_available(reason, sizeof(reason))) {
		fprintf(stderr, "overcommit_demo: %s\n", reason);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	od_t0 = vmm_now_ns();
	for (i = 0; i < OD_GUESTS; i++) {
		g[i].idx = i;
		if (od_open(&g[i], argv[1]))
			return 1;
		printf("guest %d: %llu MiB in %s (vm id %llu)%s\n", i, OD_RAM >> 20, g[i].path,
		       (unsigned long long)g[i].id,
		       i == OD_BALLOONED ? ", with a balloon driver" : "");
	}
	od_set_phase(OD_BOOT);
	for (i = 0; i < OD_GUESTS; i++)
		pthread_create(&g[i].thread, NULL, od_guest_run, &g[i]);
	do {
		sleep_ms(200);
		booted = true;
		for (i = 0; i < OD_GUESTS; i++)
			booted &= __atomic_load_n(&g[i].booted, __ATOMIC_ACQUIRE);
	} while (!booted);
	t_boot = od_now();
	od_set_phase(OD_WORK);
	while (od_now() < t_boot + 2 * work_s) {
		if (od_phase == OD_WORK && od_now() >= t_boot + work_s)
			od_set_phase(OD_SWITCH);
		ballooned += od_balloon(&g[OD_BALLOONED], &cursor);
		sleep_ms(200);
	}
	od_set_phase(OD_VERIFY);
	for (i = 0; i < OD_GUESTS; i++)
		pthread_join(g[i].thread, NULL);
	od_set_phase(OD_DONE);
	for (i = 0; i < OD_GUESTS; i++) {
		printf("guest %d: %llu working-set passes, %s: %llu mismatched words\n", i,
		       (unsigned long long)g[i].passes, g[i].err ? "FAILED" : "all data read back",
		       (unsigned long long)g[i].mismatches);
		if (g[i].err || g[i].mismatches)
			ret = 1;
	}
	printf("guest %d's balloon gave back %llu pages\n", OD_BALLOONED,
	       (unsigned long long)ballooned);
	for (i = 0; i < OD_GUESTS; i++) {
		vm_destroy(g[i].vm);
		close(g[i].fd);
		unlink(g[i].path);
	}
	printf("overcommit_demo: %s\n", ret ? "FAILED" : "every guest read back all of its data");
	return ret;
}

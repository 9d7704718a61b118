// SPDX-License-Identifier: GPL-2.0
/*
 * memvirtctl - the operator's tool for memvirt: a top-like view, counters,
 * knobs, per-VM P2M states, forced reclaim and a balloon agent for QEMU.
 *
 * main.c: global options, command dispatch, help texts and error lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memvirtctl.h"

const char *mvc_sysfs = MVC_SYSFS_DEFAULT;

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
	{ EINTR, "EINTR" }, { EIO, "EIO" }, { ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
	{ ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" }, { EINVAL, "EINVAL" },
	{ ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" },
	{ EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" }, { EROFS, "EROFS" },
	{ EPIPE, "EPIPE" }, { ERANGE, "ERANGE" }, { ENAMETOOLONG, "ENAMETOOLONG" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },
	{ ECONNREFUSED, "ECONNREFUSED" }, { ECONNRESET, "ECONNRESET" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { EPROTO, "EPROTO" }, { ENOTSOCK, "ENOTSOCK" },
	{ EADDRINUSE, "EADDRINUSE" }, { ENOTCONN, "ENOTCONN" }, { ENOTUNIQ, "ENOTUNIQ" },
};

const char *mvc_errname(int err)
{
	static char buf[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnames); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

void mvc_err(int err, const char *hint, const char *fmt, ...)
{
	va_list ap;

	fputs("memvirtctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s (%s): %s\n", strerror(err), mvc_errname(err),
		hint ? hint : "see memvirtctl(8)");
}

const char *mvc_sysfs_hint(int err)
{
	switch (err) {
	case ENOENT:
		return "memvirt not loaded: insmod memvirt.ko";
	case EACCES:
	case EPERM:
		return "run as root";
	default:
		return "see memvirtctl(8)";
	}
}

/* ------------------------------------------------------------------ */
/* Help */

static const struct {
	const char *cmd;
	const char *usage;
	const char *text;
} helps[] = {
	{ "top", "top [-b] [-d SECONDS] [-n ITERATIONS] [-s COLUMN] [-r]",
	  "Show the global state and one row per VM, refreshed every -d seconds\n"
	  "(default 2, fractions allowed).\n"
	  "  -b          batch: CSV on stdout, a header line then one line per VM\n"
	  "              per frame; rows by VM id unless -s is given\n"
	  "  -d SECONDS  delay between frames (default 2)\n"
	  "  -n N        frames to show: default until q or Ctrl-C on a terminal,\n"
	  "              1 in batch mode or when stdout is not a terminal;\n"
	  "              0 means until interrupted\n"
	  "  -s COLUMN   sort by id, name, size, target, active, resident (default),\n"
	  "              ballooned, shared, zero, compressed, swapped, swapin,\n"
	  "              swapout or balloon_target; numbers descending, id and\n"
	  "              name ascending\n"
	  "  -r          reverse the order\n"
	  "Keys (terminal): q quit, m resident, i id, n name, s size, t target,\n"
	  "a active, b ballooned, h shared, z zero, c compressed, w swapped,\n"
	  "I swap-in rate, O swap-out rate, r reverse.\n"
	  "CSV columns: time_s,state,vm,name,size_mb,target_mb,active_pct,\n"
	  "resident_mb,ballooned_mb,shared_mb,zero_mb,compressed_mb,swapped_mb,\n"
	  "swapin_per_s,swapout_per_s\n" },
	{ "stats", "stats [--json] [VM]",
	  "Print every host-wide file of the sysfs tree (top level, dedup/, swap/,\n"
	  "policy/) and one block per VM; with VM, that VM only.\n"
	  "  --json      one JSON object (numbers as numbers)\n" },
	{ "get", "get [KNOB]",
	  "Print a knob's value; without KNOB, every writable host-wide knob.\n"
	  "KNOB is a path under the sysfs root: budget_mb, overcommit_ratio,\n"
	  "max_vms, dedup/run, swap/cache_percent, policy/idle_tax, ...\n" },
	{ "set", "set KNOB VALUE",
	  "Write VALUE (a non-negative decimal integer) to a writable host-wide\n"
	  "knob. Needs root. Prints \"KNOB: OLD -> NEW\".\n" },
	{ "vm", "vm VM",
	  "Show a VM's policy (shares, reservation, limit, sharing domain), all its\n"
	  "counters and a histogram of its P2M states (MEMVIRT_IOC_QUERY_RANGE over\n"
	  "the whole file). VM: id, name or path of its memvirtfs file.\n" },
	{ "reclaim", "reclaim VM --mode zero|share|compress|swap --range START:COUNT|all [--async]",
	  "Force reclaim of a range of the VM's gfns (MEMVIRT_IOC_RECLAIM, needs\n"
	  "root) and print what the kernel did.\n"
	  "  --mode M       zero: free all-zero pages; share: one sharing pass;\n"
	  "                 compress: compression cache, else swap file; swap: the\n"
	  "                 swap file (needs a swapdir= mount)\n"
	  "  --range S:N    N pages from gfn S (file offset / 4096); 'all' or\n"
	  "                 S:all for the whole file or up to its end\n"
	  "  --async        start it in the background and return at once\n" },
	{ "balloon-agent", "balloon-agent [--qmp NAME=PATH]... [--qmp-dir DIR] [--min-mb N] [--once] [-v]",
	  "Follow every VM's balloon_target and set the guest's balloon through\n"
	  "QEMU's QMP socket: value = max(size - balloon_target * 4096, min-mb MiB).\n"
	  "  --qmp NAME=PATH  the socket of one VM (NAME: id or name)\n"
	  "  --qmp-dir DIR    otherwise DIR/<basename of the VM name>.qmp\n"
	  "                   (default /run/memvirt-qmp)\n"
	  "  --min-mb N       never ask for less than N MiB (default 64)\n"
	  "  --once           one pass over all VMs, then exit (1 if one failed)\n"
	  "  -v               log connections and skipped VMs too\n"
	  "QEMU: -qmp unix:/run/memvirt-qmp/vm0.qmp,server=on,wait=off\n"
	  "      -device virtio-balloon-pci\n" },
	{ "help", "help [COMMAND]", "Show the help of a command.\n" },
};

#define NR_HELPS (ARRAY_SIZE(helps))

static void print_usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: memvirtctl [--sysfs DIR] COMMAND [ARGS]\n"
		"Commands:\n");
	for (i = 0; i < NR_HELPS; i++)
		fprintf(out, "  memvirtctl %s\n", helps[i].usage);
	fprintf(out, "VM: a VM id (3), its name (/vm0 or vm0) or its file (/run/memvirt/vm0).\n"
		"--sysfs DIR: the memvirt sysfs root (default " MVC_SYSFS_DEFAULT ").\n"
		"'memvirtctl help COMMAND' or 'memvirtctl COMMAND --help' for more;\n"
		"man 8 memvirtctl.\n");
}

bool mvc_help(const char *cmd, FILE *out)
{
	size_t i;

	for (i = 0; i < NR_HELPS; i++) {
		if (strcmp(cmd, helps[i].cmd))
			continue;
		fprintf(out, "usage: memvirtctl %s\n%s", helps[i].usage, helps[i].text);
		return true;
	}
	return false;
}

int mvc_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("memvirtctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (!cmd || !mvc_help(cmd, stderr))
		print_usage(stderr);
	return MVC_USAGE;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "top", cmd_top },
	{ "stats", cmd_stats },
	{ "get", cmd_get },
	{ "set", cmd_set },
	{ "vm", cmd_vm },
	{ "reclaim", cmd_reclaim },
	{ "balloon-agent", cmd_balloon_agent },
};

int main(int argc, char **argv)
{
	int i = 1;
	size_t c;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--sysfs") && i + 1 < argc) {
			mvc_sysfs = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--sysfs=", 8)) {
			mvc_sysfs = argv[i] + 8;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_usage(stdout);
			return MVC_OK;
		} else {
			return mvc_usage_err(NULL, "unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc)
		return mvc_usage_err(NULL, "no command given");
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc) {
			print_usage(stdout);
			return MVC_OK;
		}
		if (!mvc_help(argv[i + 1], stdout))
			return mvc_usage_err(NULL, "no command '%s'", argv[i + 1]);
		return MVC_OK;
	}
	for (c = 0; c < ARRAY_SIZE(cmds); c++) {
		int j;

		if (strcmp(argv[i], cmds[c].name))
			continue;
		for (j = i + 1; j < argc; j++) {
			if (!strcmp(argv[j], "--"))
				break;
			if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
				mvc_help(cmds[c].name, stdout);
				return MVC_OK;
			}
		}
		return cmds[c].fn(argc - i, argv + i);
	}
	return mvc_usage_err(NULL, "unknown command '%s'", argv[i]);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memvirtctl.h - what the memvirtctl commands share: sysfs access, VM
 * lookup (id, name or path), error lines, and the command entry points.
 */
#ifndef MEMVIRTCTL_H
#define MEMVIRTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>

#include "../../include/uapi/memvirt.h"

#define MVC_SYSFS_DEFAULT	"/sys/kernel/memvirt"
#define MVC_PAGE		4096ULL
#define MVC_MIB			(1024ULL * 1024ULL)

/* Exit status: done, the operation failed, the command line was wrong. */
#define MVC_OK		0
#define MVC_FAIL	1
#define MVC_USAGE	2

typedef unsigned long long u64v;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The sysfs root (--sysfs DIR). */
extern const char *mvc_sysfs;

/* "ENOENT" for ENOENT, "E<n>" for one the table lacks. */
const char *mvc_errname(int err);
/*
 * The one error line: "memvirtctl: <what>: <strerror> (<ERRNAME>): <hint>".
 * @err is a positive errno; @hint may be NULL (a generic one is used).
 */
void mvc_err(int err, const char *hint, const char *fmt, ...);
/* A usage error: "memvirtctl: <msg>" and the command's usage; returns 2. */
int mvc_usage_err(const char *cmd, const char *fmt, ...);
/* The usual hint for a sysfs read that failed with @err. */
const char *mvc_sysfs_hint(int err);

/* Read <sysfs>/<rel> into @buf, trailing newline removed: 0 or -errno. */
int mvc_read(const char *rel, char *buf, size_t len);
/* Read <sysfs>/<rel> as an unsigned decimal number: 0 or -errno. */
int mvc_read_u64(const char *rel, u64v *val);
/* The same for vms/<id>/<file>. */
int mvc_vm_read(u64v id, const char *file, char *buf, size_t len);
int mvc_vm_u64(u64v id, const char *file, u64v *val);
/* Write @val to <sysfs>/<rel>: 0 or -errno. */
int mvc_write(const char *rel, const char *val);
/* Is @s a non-negative decimal integer that fits in 64 bits? */
bool mvc_is_u64(const char *s);
/* Is the memvirt sysfs root there? 0 or -errno (ENOENT: not loaded). */
int mvc_check_loaded(void);

/*
 * Regular files of <sysfs>/<dir> (all, or the writable ones only), sorted:
 * count or -errno; free with mvc_free_list().
 */
int mvc_list_files(const char *dir, bool writable, char ***out);
void mvc_free_list(char **v, int n);

/* The VM ids under <sysfs>/vms, ascending; count or -errno. Free *@ids. */
int mvc_list_vms(u64v **ids);

/* A VM as the user named it. */
struct mvc_vm {
	u64v id;
	char name[PATH_MAX];	/* sysfs name, e.g. /vm0 */
	char path[PATH_MAX];	/* its file, "" if not known */
};

/*
 * Find the VM @arg names (id, sysfs name, or path of its file): 0, or
 * -errno after printing the error line.
 */
int mvc_resolve_vm(const char *arg, struct mvc_vm *vm);
/*
 * Open the VM's file (found on a memvirtfs mount if only the id or name
 * was given): fd, or -errno after printing the error line.
 */
int mvc_open_vm(struct mvc_vm *vm, int flags);
/* Basename of a VM name: "vm0" for "/vm0" or "/1-vm0/pc.ram" -> "pc.ram". */
const char *mvc_basename(const char *name);

/* Parse a number of seconds ("2", "0.5"): 0 or -1. */
int mvc_parse_secs(const char *s, double *secs);
/* Monotonic time in seconds. */
double mvc_now(void);

/* Commands: argc/argv start at the command name. */
int cmd_top(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_reclaim(int argc, char **argv);
int cmd_balloon_agent(int argc, char **argv);

/* Print the help of @cmd to @out; false if there is no such command. */
bool mvc_help(const char *cmd, FILE *out);

#endif /* MEMVIRTCTL_H */

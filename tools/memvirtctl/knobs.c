// SPDX-License-Identifier: GPL-2.0
/*
 * knobs.c - memvirtctl get / set: the host-wide knobs of the sysfs tree,
 * validated before writing, with the errno of a refused write explained.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "memvirtctl.h"

/* The directories that hold host-wide knobs, "" being the root. */
static const char *const knob_dirs[] = { "", "dedup", "swap", "policy" };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of <sysfs>/<dir> (all, or the writable ones), sorted. */
int mvc_list_files(const char *dir, bool writable, char ***out)
{
	char path[PATH_MAX];
	struct dirent *de;
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", mvc_sysfs, dir);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char file[PATH_MAX + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (stat(file, &st) || !S_ISREG(st.st_mode))
			continue;
		if (writable && !(st.st_mode & 0222))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return (int)n;
}

void mvc_free_list(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Is @knob a host-wide file name we accept (no "..", not absolute, not
 * under vms/, in one of knob_dirs)? Prints the error line if not.
 */
static bool knob_name_ok(const char *what, const char *knob)
{
	const char *slash = strchr(knob, '/');
	size_t i;

	if (!strncmp(knob, "vms/", 4) || !strcmp(knob, "vms")) {
		mvc_err(EINVAL, "per-VM files are not knobs: see 'memvirtctl vm' and memvirtctl(8)",
			"%s", what);
		return false;
	}
	if (!*knob || knob[0] == '/' || strstr(knob, "..") || (slash && strchr(slash + 1, '/')))
		goto unknown;
	if (!slash)
		return true;
	for (i = 1; i < ARRAY_SIZE(knob_dirs); i++)
		if (!strncmp(knob, knob_dirs[i], slash - knob) &&
		    strlen(knob_dirs[i]) == (size_t)(slash - knob))
			return true;
unknown:
	mvc_err(ENOENT, "no such knob: 'memvirtctl get' lists them", "%s", what);
	return false;
}

static int get_all(void)
{
	size_t i;
	int n, j;

	for (i = 0; i < ARRAY_SIZE(knob_dirs); i++) {
		char **files;

		n = mvc_list_files(knob_dirs[i], true, &files);
		if (n < 0) {
			if (n == -ENOENT && i)	/* an older module without it */
				continue;
			mvc_err(-n, mvc_sysfs_hint(-n), "%s/%s", mvc_sysfs, knob_dirs[i]);
			return MVC_FAIL;
		}
		for (j = 0; j < n; j++) {
			char rel[PATH_MAX], val[256];

			snprintf(rel, sizeof(rel), "%s%s%s", knob_dirs[i], i ? "/" : "", files[j]);
			if (mvc_read(rel, val, sizeof(val)))
				strcpy(val, "-");
			printf("%s = %s\n", rel, val);
		}
		mvc_free_list(files, n);
	}
	return MVC_OK;
}

int cmd_get(int argc, char **argv)
{
	char what[PATH_MAX + 8], val[4096];
	int ret;

	if (argc > 2)
		return mvc_usage_err("get", "too many arguments");
	if (argc == 2 && argv[1][0] == '-' && argv[1][1])
		return mvc_usage_err("get", "unknown option '%s'", argv[1]);
	ret = mvc_check_loaded();
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", mvc_sysfs);
		return MVC_FAIL;
	}
	if (argc == 1)
		return get_all();
	snprintf(what, sizeof(what), "get %s", argv[1]);
	if (!knob_name_ok(what, argv[1]))
		return MVC_USAGE;
	ret = mvc_read(argv[1], val, sizeof(val));
	if (ret == -ENOENT || ret == -EISDIR) {
		mvc_err(ENOENT, "no such knob: 'memvirtctl get' lists them", "%s", what);
		return MVC_USAGE;
	}
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", what);
		return MVC_FAIL;
	}
	printf("%s\n", val);
	return MVC_OK;
}

static const char *set_hint(int err)
{
	switch (err) {
	case EINVAL:
		return "out of range, see memvirtctl(8)";
	case EBUSY:
		return "refused in the current state (budget_mb below the sum of reservations, a VM sharing pages), see memvirtctl(8)";
	case EACCES:
	case EPERM:
		return "run as root";
	case ENOENT:
		return "memvirt not loaded: insmod memvirt.ko";
	case ENOSPC:
		return "not enough room for what the VMs hold, see memvirtctl(8)";
	default:
		return "see memvirtctl(8)";
	}
}

int cmd_set(int argc, char **argv)
{
	char what[PATH_MAX + 64], path[PATH_MAX], old[256], now[256];
	struct stat st;
	int ret;

	if (argc != 3)
		return mvc_usage_err("set", "set takes KNOB and VALUE");
	if (argv[1][0] == '-')
		return mvc_usage_err("set", "unknown option '%s'", argv[1]);
	snprintf(what, sizeof(what), "set %s %s", argv[1], argv[2]);
	/* Usage first: a bad value is wrong whether or not memvirt is loaded. */
	if (!knob_name_ok(what, argv[1]))
		return MVC_USAGE;
	if (!mvc_is_u64(argv[2])) {
		mvc_err(EINVAL, "VALUE must be a non-negative decimal integer", "%s", what);
		return MVC_USAGE;
	}
	ret = mvc_check_loaded();
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", what);
		return MVC_FAIL;
	}
	snprintf(path, sizeof(path), "%s/%s", mvc_sysfs, argv[1]);
	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		mvc_err(ENOENT, "no such knob: 'memvirtctl get' lists them", "%s", what);
		return MVC_USAGE;
	}
	if (!(st.st_mode & 0222)) {
		mvc_err(EACCES, "a read-only counter, not a knob: 'memvirtctl get' lists the knobs",
			"%s", what);
		return MVC_USAGE;
	}
	if (mvc_read(argv[1], old, sizeof(old)))
		strcpy(old, "?");
	ret = mvc_write(argv[1], argv[2]);
	if (ret) {
		mvc_err(-ret, set_hint(-ret), "%s", what);
		return MVC_FAIL;
	}
	if (mvc_read(argv[1], now, sizeof(now)))
		strcpy(now, argv[2]);
	printf("%s: %s -> %s\n", argv[1], old, now);
	return MVC_OK;
}

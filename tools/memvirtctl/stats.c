// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - memvirtctl stats [--json] [VM]: every file of the sysfs tree,
 * host-wide and per VM, as text or as one JSON object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memvirtctl.h"

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/*
 * Lines of "word number" (policy/state_ms): a JSON object; false if @v is
 * not of that form.
 */
static bool json_pairs(const char *v)
{
	char *copy, *line, *save = NULL;
	bool first = true;
	char word[64], num[32];
	const char *p;

	if (!strchr(v, '\n'))
		return false;
	for (p = v; *p; ) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char tmp[128];

		if (len >= sizeof(tmp))
			return false;
		memcpy(tmp, p, len);
		tmp[len] = 0;
		if (sscanf(tmp, "%63s %31s", word, num) != 2 || !mvc_is_u64(num))
			return false;
		p += len + (e ? 1 : 0);
	}
	copy = strdup(v);
	if (!copy)
		return false;
	putchar('{');
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %31s", word, num) != 2)
			continue;	/* checked above */
		printf("%s", first ? "" : ",");
		json_string(word);
		printf(":%s", num);
		first = false;
	}
	putchar('}');
	free(copy);
	return true;
}

static void json_value(const char *v)
{
	if (mvc_is_u64(v))
		fputs(v, stdout);
	else if (!json_pairs(v))
		json_string(v);
}

/* A value on one line: newlines become ", ". */
static void text_value(const char *v)
{
	for (; *v; v++) {
		if (*v == '\n')
			fputs(", ", stdout);
		else
			putchar(*v);
	}
	putchar('\n');
}

/* Every file of <sysfs>/<dir>: "  name value" lines or JSON members. */
static int dump_dir(const char *dir, bool json, bool first_member)
{
	char **files;
	int n, i;

	n = mvc_list_files(dir, false, &files);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		char rel[PATH_MAX], val[8192];

		snprintf(rel, sizeof(rel), "%s%s%s", dir, *dir ? "/" : "", files[i]);
		if (mvc_read(rel, val, sizeof(val)))
			continue;	/* gone meanwhile, or not readable */
		if (json) {
			printf("%s", first_member ? "" : ",");
			json_string(files[i]);
			putchar(':');
			json_value(val);
			first_member = false;
		} else {
			printf("  %-24s ", files[i]);
			text_value(val);
		}
	}
	mvc_free_list(files, n);
	return 0;
}

static int dump_vm(u64v id, bool json)
{
	char dir[64], name[PATH_MAX];

	snprintf(dir, sizeof(dir), "vms/%llu", id);
	if (mvc_vm_read(id, "name", name, sizeof(name)))
		return -ENOENT;	/* went away */
	if (json) {
		printf("{\"id\":%llu", id);
		dump_dir(dir, true, false);
		putchar('}');
	} else {
		printf("vm %llu (%s):\n", id, name);
		dump_dir(dir, false, true);
	}
	return 0;
}

static const char *const host_dirs[] = { "", "dedup", "swap", "policy" };

int cmd_stats(int argc, char **argv)
{
	const char *vmarg = NULL;
	bool json = false, first = true;
	struct mvc_vm vm;
	u64v *ids = NULL;
	size_t d;
	int i, n, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return mvc_usage_err("stats", "unknown option '%s'", argv[i]);
		if (vmarg)
			return mvc_usage_err("stats", "one VM at most");
		vmarg = argv[i];
	}
	ret = mvc_check_loaded();
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", mvc_sysfs);
		return MVC_FAIL;
	}
	if (vmarg) {
		if (mvc_resolve_vm(vmarg, &vm))
			return MVC_FAIL;
		if (dump_vm(vm.id, json)) {
			mvc_err(ENOENT, NULL, "VM %llu went away", vm.id);
			return MVC_FAIL;
		}
		if (json)
			putchar('\n');
		return MVC_OK;
	}
	if (json)
		putchar('{');
	for (d = 0; d < ARRAY_SIZE(host_dirs); d++) {
		const char *title = *host_dirs[d] ? host_dirs[d] : "memvirt";

		if (json) {
			printf("%s\"%s\":{", first ? "" : ",", title);
			ret = dump_dir(host_dirs[d], true, true);
			putchar('}');
		} else {
			printf("%s:\n", title);
			ret = dump_dir(host_dirs[d], false, true);
		}
		first = false;
		if (ret && (ret != -ENOENT || !d)) {
			fflush(stdout);
			mvc_err(-ret, mvc_sysfs_hint(-ret), "%s/%s", mvc_sysfs, host_dirs[d]);
			return MVC_FAIL;
		}
	}
	n = mvc_list_vms(&ids);
	if (n < 0) {
		fflush(stdout);
		mvc_err(-n, mvc_sysfs_hint(-n), "%s/vms", mvc_sysfs);
		return MVC_FAIL;
	}
	if (json)
		fputs(",\"vms\":[", stdout);
	first = true;
	for (i = 0; i < n; i++) {
		char name[PATH_MAX];

		if (mvc_vm_read(ids[i], "name", name, sizeof(name)))
			continue;	/* gone meanwhile */
		if (json && !first)
			putchar(',');
		dump_vm(ids[i], json);
		first = false;
	}
	free(ids);
	if (json)
		fputs("]}\n", stdout);
	return MVC_OK;
}

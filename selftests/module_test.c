// SPDX-License-Identifier: GPL-2.0
/*
 * module_test: module lifetime rules of the memvirt contract.
 *
 * rmmod (delete_module(2) with O_NONBLOCK, as busybox rmmod does) must be
 * refused with EWOULDBLOCK while any memvirtfs is mounted, and, after a lazy
 * umount, while a file of the detached instance is still mapped or open;
 * it must succeed once the last user is gone, and the module must load
 * again (finit_module(2) of $MEMVIRT_KO, default /memvirt/memvirt.ko) with
 * fresh state. Runs last in the plan; every test leaves the module loaded
 * and memvirtfs mounted at /run/memvirt for whatever follows. Outside the
 * vmtest guest it skips unless MEMVIRT_KO is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"

#define MODNAME		"memvirt"
#define MAPLEN		(4 * MV_PAGE)

static const char *ko_path(void)
{
	const char *p = getenv("MEMVIRT_KO");

	return p && *p ? p : "/memvirt/memvirt.ko";
}

static bool mod_loaded(void)
{
	struct stat st;

	return !stat("/sys/module/" MODNAME, &st);
}

static int mod_unload(void)
{
	return syscall(SYS_delete_module, MODNAME, O_NONBLOCK) ? -errno : 0;
}

static int mod_load(void)
{
	int fd = open(ko_path(), O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* Log every memvirtfs mount, to explain a refused unload. */
static void log_mounts(struct __test_metadata *_metadata)
{
	char line[1024];
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " " MV_FSTYPE " "))
			TH_LOG("mounted: %s", line);
	fclose(f);
}

FIXTURE(mod) {
	char dir[256];
	char path[PATH_MAX];
	char mnt[PATH_MAX];
	int fd;
	unsigned char *map;
};

FIXTURE_SETUP(mod)
{
	int ret;

	self->fd = -1;
	if (!mod_loaded()) {
		if (access(ko_path(), R_OK))
			MV_SETUP_SKIP("memvirt is not loaded and %s is missing",
				      ko_path());
		ret = mod_load();
		ASSERT_EQ(0, ret) TH_LOG("load %s: %s", ko_path(),
					 strerror(-ret));
	}
	ret = mv_ensure_mounted();
	ASSERT_EQ(0, ret) TH_LOG("mount memvirtfs at %s: %s", MV_MNT,
				 strerror(-ret));
}

FIXTURE_TEARDOWN(mod)
{
	int ret;

	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, MAPLEN);
	if (self->fd >= 0)
		close(self->fd);
	if (self->mnt[0]) {
		umount2(self->mnt, MNT_DETACH);
		rmdir(self->mnt);
	}
	if (!mod_loaded()) {
		ret = mod_load();
		EXPECT_EQ(0, ret) TH_LOG("reload %s: %s", ko_path(),
					 strerror(-ret));
	}
	ret = mv_ensure_mounted();
	EXPECT_EQ(0, ret) TH_LOG("remount %s: %s", MV_MNT, strerror(-ret));
	if (self->dir[0] && !access(self->dir, F_OK))
		mv_rm_rf(self->dir);
}

typedef FIXTURE_DATA(mod) mod_t;

/* A 4-page file with a pattern, in a fresh directory; fd left open. */
static void make_file(struct __test_metadata *_metadata,
		      mod_t *self)
{
	unsigned char buf[MAPLEN];
	size_t i;

	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "mod"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, MAPLEN);
	ASSERT_LE(0, self->fd);
	for (i = 0; i < MAPLEN; i++)
		buf[i] = mv_pattern(i, 1);
	ASSERT_EQ((ssize_t)MAPLEN, pwrite(self->fd, buf, MAPLEN, 0));
}

static bool holds_pattern(const unsigned char *buf)
{
	size_t i;

	for (i = 0; i < MAPLEN; i++)
		if (buf[i] != mv_pattern(i, 1))
			return false;
	return true;
}

/* Unload (must work now), then load and mount again. */
static void unload_and_reload(struct __test_metadata *_metadata)
{
	int ret = mod_unload();

	if (ret)
		log_mounts(_metadata);
	ASSERT_EQ(0, ret) TH_LOG("delete_module after the last user: %s",
				 strerror(-ret));
	EXPECT_FALSE(mod_loaded());
	EXPECT_FALSE(mv_fs_registered(MV_FSTYPE));
	ret = mod_load();
	ASSERT_EQ(0, ret) TH_LOG("finit_module %s: %s", ko_path(),
				 strerror(-ret));
	EXPECT_TRUE(mv_fs_registered(MV_FSTYPE));
	ASSERT_EQ(0, mv_ensure_mounted());
}

TEST_F(mod, load_while_loaded_eexist)
{
	if (access(ko_path(), R_OK))
		SKIP(return, "%s is missing", ko_path());
	EXPECT_EQ(-EEXIST, mod_load());
	EXPECT_TRUE(mod_loaded());
}

TEST_F(mod, rmmod_refused_while_mounted)
{
	struct stat st;

	ASSERT_TRUE(mv_mounted_at(MV_MNT, MV_FSTYPE));
	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	EXPECT_TRUE(mod_loaded());
	EXPECT_TRUE(mv_fs_registered(MV_FSTYPE));
	EXPECT_EQ(0, stat(MV_MNT, &st));
	EXPECT_TRUE(mv_mounted_at(MV_MNT, MV_FSTYPE));
}

TEST_F(mod, rmmod_refused_while_another_mount_remains)
{
	snprintf(self->mnt, sizeof(self->mnt), "/tmp/mvmod.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
	ASSERT_EQ(0, mv_mount(self->mnt, NULL));
	ASSERT_EQ(0, umount(MV_MNT)) TH_LOG("umount %s: %s", MV_MNT,
					    strerror(errno));
	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	EXPECT_TRUE(mod_loaded());
}

TEST_F(mod, rmmod_refused_while_mapped_after_lazy_umount)
{
	make_file(_metadata, self);
	self->map = mmap(NULL, MAPLEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, umount2(MV_MNT, MNT_DETACH));
	ASSERT_FALSE(mv_mounted_at(MV_MNT, MV_FSTYPE));

	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	ASSERT_TRUE(mod_loaded()) TH_LOG("unloaded under a live mapping");
	EXPECT_TRUE(holds_pattern(self->map));
	self->map[5] = 0x42;
	EXPECT_EQ(0x42, self->map[5]);

	ASSERT_EQ(0, munmap(self->map, MAPLEN));
	self->map = NULL;
	unload_and_reload(_metadata);
}

TEST_F(mod, rmmod_refused_while_open_after_lazy_umount)
{
	unsigned char buf[MAPLEN];

	make_file(_metadata, self);
	ASSERT_EQ(0, umount2(MV_MNT, MNT_DETACH));
	ASSERT_FALSE(mv_mounted_at(MV_MNT, MV_FSTYPE));

	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	ASSERT_TRUE(mod_loaded()) TH_LOG("unloaded under an open file");
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ((ssize_t)MAPLEN, pread(self->fd, buf, MAPLEN, 0));
	EXPECT_TRUE(holds_pattern(buf));

	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	unload_and_reload(_metadata);
}

TEST_F(mod, rmmod_after_umount_then_reload_starts_fresh)
{
	u64 v;
	struct stat st;
	int ret;

	ret = umount(MV_MNT);
	ASSERT_EQ(0, ret) TH_LOG("umount %s: %s", MV_MNT, strerror(errno));
	ret = mod_unload();
	if (ret)
		log_mounts(_metadata);
	ASSERT_EQ(0, ret) TH_LOG("delete_module: %s", strerror(-ret));
	EXPECT_FALSE(mod_loaded());
	EXPECT_FALSE(mv_fs_registered(MV_FSTYPE));
	EXPECT_EQ(-1, stat(MV_SYSFS, &st));
	EXPECT_EQ(-ENODEV, mv_mount(MV_MNT, NULL));

	ret = mod_load();
	ASSERT_EQ(0, ret) TH_LOG("finit_module %s: %s", ko_path(),
				 strerror(-ret));
	EXPECT_TRUE(mv_fs_registered(MV_FSTYPE));
	ASSERT_EQ(0, mv_global_u64("nr_vms", &v));
	EXPECT_EQ(0ULL, v);
	ASSERT_EQ(0, mv_global_u64("committed_mb", &v));
	EXPECT_EQ(0ULL, v);
	ASSERT_EQ(0, mv_global_u64("resident_pages", &v));
	EXPECT_EQ(0ULL, v);
	ASSERT_EQ(0, mv_global_u64("overcommit_ratio", &v));
	EXPECT_EQ(150ULL, v);	/* the default: overcommit on */
	ASSERT_EQ(0, mv_global_u64("budget_mb", &v));
	EXPECT_EQ(mv_memtotal_mb(), v);

	/* The reloaded module serves files again; ids start from 1. */
	ASSERT_EQ(0, mv_ensure_mounted());
	make_file(_metadata, self);
	ASSERT_EQ(0, mv_vm_by_name(mv_fs_name(self->path), &v));
	EXPECT_EQ(1ULL, v);
	self->map = mmap(NULL, MAPLEN, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	EXPECT_TRUE(holds_pattern(self->map));
}

static const char *need_module(void)
{
	static char why[PATH_MAX + 64];

	/*
	 * This program unloads and loads kernel modules: only inside the
	 * vmtest guest (its /init leaves /kernel-kind) or when asked to by
	 * naming the module file explicitly.
	 */
	if (access("/kernel-kind", F_OK) && !getenv("MEMVIRT_KO"))
		return "not in the vmtest guest and MEMVIRT_KO is not set";
	if (mod_loaded() || !access(ko_path(), R_OK))
		return NULL;
	snprintf(why, sizeof(why), "memvirt is not loaded and %s is missing",
		 ko_path());
	return why;
}

MV_HARNESS_MAIN(need_module)

// SPDX-License-Identifier: GPL-2.0
/*
 * vfs_edges_test: memvirtfs files at the edges of the VFS.
 *
 * - Short copies: read(), preadv(), splice() and Linux AIO end after a
 *   short copy with the bytes done so far, or -EFAULT if none, as
 *   filemap_read() does, on written pages and on holes alike. Each call runs
 *   in a child that SIGALRM kills, so a kernel that loops on a short copy
 *   shows as a failure, not a hung harness.
 * - splice(), sendfile() and copy_file_range() out of a memvirtfs file give
 *   the bytes pread() gives, holes and partial pages included.
 * - Times: stores through a mapping update mtime and ctime, read() atime.
 * - Mount options in /proc/self/mounts are shown in the reader's user
 *   namespace; file names with control bytes are escaped in sysfs and in
 *   the kernel log.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "contract.h"

#define NPAGES		48UL		/* 0..23 written, 24..47 a hole */
#define WRITTEN		24UL
#define BOUND_SECS	10		/* a copy that takes longer hangs */
#define SALT		3

/* What a bounded child saw: shared with the parent. */
struct outcome {
	ssize_t ret;
	int err;
	long long aux;
};

FIXTURE(edges) {
	char dir[256];
	char path[PATH_MAX];
	int fd;
	struct outcome *out;
	off_t base;		/* file offset the short-copy tests read at */
};

typedef FIXTURE_DATA(edges) edges_t;

FIXTURE_VARIANT(edges) {
	bool hole;
};

FIXTURE_VARIANT_ADD(edges, written) {
	.hole = false,
};

FIXTURE_VARIANT_ADD(edges, hole) {
	.hole = true,
};

FIXTURE_SETUP(edges)
{
	unsigned char *buf;
	size_t i;

	self->fd = -1;
	MV_SETUP_MOUNTED();
	self->out = mmap(NULL, MV_PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->out);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "edges"));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
	self->fd = mv_create(self->path, NPAGES * MV_PAGE);
	ASSERT_LE(0, self->fd) TH_LOG("create: %s", strerror(-self->fd));
	buf = malloc(WRITTEN * MV_PAGE);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < WRITTEN * MV_PAGE; i++)
		buf[i] = mv_pattern(i, SALT);
	ASSERT_EQ((ssize_t)(WRITTEN * MV_PAGE),
		  pwrite(self->fd, buf, WRITTEN * MV_PAGE, 0));
	free(buf);
	self->base = variant->hole ? WRITTEN * MV_PAGE : 0;
}

FIXTURE_TEARDOWN(edges)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		mv_rm_rf(self->dir);
	if (self->out && self->out != MAP_FAILED)
		munmap(self->out, MV_PAGE);
}

/* The byte at file offset @off as this fixture wrote it. */
static unsigned char want_byte(size_t off)
{
	return off < WRITTEN * MV_PAGE ? mv_pattern(off, SALT) : 0;
}

/* First offset of [@off, +@len) where @buf differs from the file; -1 if none. */
static long first_diff(const unsigned char *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != want_byte(off + i))
			return (long)(off + i);
	return -1;
}

/* Run @fn in a bounded child; fail unless it returned in time. */
static void bounded(struct __test_metadata *_metadata, edges_t *self,
		    int (*fn)(void *), const char *what)
{
	int ret;

	self->out->ret = -2;
	self->out->err = 0;
	self->out->aux = 0;
	ret = mv_bounded(BOUND_SECS, fn, self);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, mv_bounded_str(ret));
}

/* ------------------------------------------------------------------ */
/* Short copies */

/* NULL, hidden from the compiler's nonnull checks. */
static void *volatile null_buf;

static int pread_null(void *arg)
{
	edges_t *self = arg;

	self->out->ret = pread(self->fd, null_buf, MV_PAGE, self->base);
	self->out->err = errno;
	return 0;
}

TEST_F(edges, pread_null_buffer_efault)
{
	bounded(_metadata, self, pread_null, "pread(NULL, 4096)");
	EXPECT_EQ(-1, self->out->ret);
	EXPECT_EQ(EFAULT, self->out->err) TH_LOG("errno %s",
						 strerror(self->out->err));
}

/* An 8192-byte buffer whose second page is PROT_NONE. */
static unsigned char *half_buffer(void)
{
	unsigned char *b = mmap(NULL, 2 * MV_PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		return NULL;
	memset(b, 0xee, MV_PAGE);
	if (mprotect(b + MV_PAGE, MV_PAGE, PROT_NONE)) {
		munmap(b, 2 * MV_PAGE);
		return NULL;
	}
	return b;
}

static int pread_half(void *arg)
{
	edges_t *self = arg;
	unsigned char *b = half_buffer();

	if (!b)
		return 99;
	self->out->ret = pread(self->fd, b, 2 * MV_PAGE, self->base);
	self->out->err = errno;
	self->out->aux = first_diff(b, self->base, MV_PAGE);
	return 0;
}

TEST_F(edges, pread_into_half_unmapped_buffer_is_short)
{
	bounded(_metadata, self, pread_half, "pread(8192) into 4096 mapped bytes");
	EXPECT_EQ((ssize_t)MV_PAGE, self->out->ret)
		TH_LOG("errno %s", strerror(self->out->err));
	EXPECT_EQ(-1, self->out->aux) TH_LOG("wrong byte at offset %lld",
					     self->out->aux);
}

static int preadv_bad_second(void *arg)
{
	edges_t *self = arg;
	unsigned char *b = malloc(MV_PAGE);
	struct iovec iov[2] = {
		{ .iov_base = b, .iov_len = MV_PAGE },
		{ .iov_base = NULL, .iov_len = MV_PAGE },
	};

	if (!b)
		return 99;
	memset(b, 0xee, MV_PAGE);
	self->out->ret = preadv(self->fd, iov, 2, self->base);
	self->out->err = errno;
	self->out->aux = first_diff(b, self->base, MV_PAGE);
	return 0;
}

TEST_F(edges, preadv_bad_second_iovec_returns_first)
{
	bounded(_metadata, self, preadv_bad_second, "preadv with iov[1] NULL");
	EXPECT_EQ((ssize_t)MV_PAGE, self->out->ret)
		TH_LOG("errno %s", strerror(self->out->err));
	EXPECT_EQ(-1, self->out->aux) TH_LOG("wrong byte at offset %lld",
					     self->out->aux);
}

#define PIPE_BYTES	(16 * MV_PAGE)
#define PIPE_PREFILL	3		/* pages written before the splice */

/* A non-blocking pipe of 16 page slots holding @prefill one-page writes. */
static int small_pipe(int p[2], unsigned int prefill)
{
	static unsigned char junk[MV_PAGE];
	unsigned int i;

	if (pipe2(p, O_NONBLOCK))
		return -errno;
	if (fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES) != (int)PIPE_BYTES)
		return -EINVAL;
	for (i = 0; i < prefill; i++)
		if (write(p[1], junk, MV_PAGE) != (ssize_t)MV_PAGE)
			return -EIO;
	return 0;
}

static int splice_partial_room(void *arg)
{
	edges_t *self = arg;
	loff_t off = self->base;
	int p[2];

	if (small_pipe(p, PIPE_PREFILL))
		return 99;
	self->out->ret = splice(self->fd, &off, p[1], NULL, PIPE_BYTES,
				SPLICE_F_NONBLOCK);
	self->out->err = errno;
	self->out->aux = off - self->base;
	return 0;
}

TEST_F(edges, splice_nonblock_takes_only_what_fits)
{
	const ssize_t room = (16 - PIPE_PREFILL) * MV_PAGE;

	bounded(_metadata, self, splice_partial_room,
		"splice(64 KiB, NONBLOCK) into a pipe with 52 KiB free");
	EXPECT_EQ(room, self->out->ret)
		TH_LOG("errno %s", strerror(self->out->err));
	EXPECT_EQ(room, self->out->aux) TH_LOG("file offset advanced by %lld",
					       self->out->aux);
}

static int splice_full(void *arg)
{
	edges_t *self = arg;
	loff_t off = self->base;
	int p[2];

	if (small_pipe(p, 16))
		return 99;
	self->out->ret = splice(self->fd, &off, p[1], NULL, MV_PAGE,
				SPLICE_F_NONBLOCK);
	self->out->err = errno;
	return 0;
}

TEST_F(edges, splice_nonblock_into_full_pipe_eagain)
{
	bounded(_metadata, self, splice_full, "splice(NONBLOCK) into a full pipe");
	EXPECT_EQ(-1, self->out->ret);
	EXPECT_EQ(EAGAIN, self->out->err) TH_LOG("errno %s",
						 strerror(self->out->err));
}

static int aio_pread_bad(void *arg)
{
	edges_t *self = arg;
	aio_context_t ctx = 0;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { .tv_sec = 5 };
	long n;

	if (syscall(__NR_io_setup, 1, &ctx))
		return 98;
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = self->fd;
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_buf = 0;		/* NULL: nothing can be copied */
	cb.aio_nbytes = MV_PAGE;
	cb.aio_offset = self->base;
	n = syscall(__NR_io_submit, ctx, 1, cbs);
	if (n != 1) {
		self->out->ret = -3;
		self->out->err = errno;
		return 0;
	}
	n = syscall(__NR_io_getevents, ctx, 1, 1, &ev, &ts);
	self->out->ret = n;
	self->out->aux = n == 1 ? ev.res : 0;
	syscall(__NR_io_destroy, ctx);
	return 0;
}

TEST_F(edges, aio_pread_bad_buffer_efault)
{
	bounded(_metadata, self, aio_pread_bad, "io_submit(IOCB_CMD_PREAD, NULL)");
	ASSERT_EQ(1, self->out->ret) TH_LOG("io_submit/io_getevents: %s",
					    strerror(self->out->err));
	EXPECT_EQ(-EFAULT, self->out->aux);
}

/* ------------------------------------------------------------------ */
/* splice, sendfile and copy_file_range give pread's bytes */

static const struct {
	size_t off, len;
} ranges[] = {
	{ 0, 3 * MV_PAGE },			/* written pages */
	{ 100, 5000 },				/* partial pages */
	{ (WRITTEN - 1) * MV_PAGE + 17, 2 * MV_PAGE },	/* into the hole */
	{ (WRITTEN + 2) * MV_PAGE + 1, MV_PAGE + 5 },	/* hole only */
};

/* pread of [off, +len) must hold the pattern: the reference copy. */
static void check_reference(struct __test_metadata *_metadata, int fd,
			    size_t off, size_t len)
{
	unsigned char *ref = malloc(len);

	ASSERT_NE(NULL, ref);
	ASSERT_EQ((ssize_t)len, pread(fd, ref, len, off));
	EXPECT_EQ(-1, first_diff(ref, off, len)) TH_LOG("pread at %zu", off);
	free(ref);
}

static int splice_ranges(void *arg)
{
	edges_t *self = arg;
	unsigned int i;
	int p[2];

	if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, 1024 * 1024) < 0)
		return 99;
	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		loff_t off = ranges[i].off;
		ssize_t n = splice(self->fd, &off, p[1], NULL, ranges[i].len, 0);
		ssize_t got, r;
		unsigned char *buf;

		if (n != (ssize_t)ranges[i].len) {
			self->out->ret = n;
			self->out->err = errno;
			self->out->aux = i;
			return 1;
		}
		buf = malloc(n);
		if (!buf)
			return 98;
		for (got = 0; got < n; got += r) {
			r = read(p[0], buf + got, n - got);
			if (r <= 0) {
				self->out->ret = r;
				self->out->err = errno;
				self->out->aux = i;
				return 3;
			}
		}
		if (first_diff(buf, ranges[i].off, n) != -1) {
			self->out->aux = i;
			self->out->ret = first_diff(buf, ranges[i].off, n);
			return 2;
		}
		free(buf);
	}
	return 0;
}

TEST_F(edges, splice_to_pipe_matches_pread)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(ranges); i++)
		check_reference(_metadata, self->fd, ranges[i].off, ranges[i].len);
	ret = mv_bounded(BOUND_SECS, splice_ranges, self);
	/* 1: splice was short; 2: wrong byte (ret: offset); 3: pipe read */
	EXPECT_EQ(0, ret) TH_LOG("range %lld: %s; returned %zd (%s)",
				 self->out->aux, mv_bounded_str(ret),
				 self->out->ret, strerror(self->out->err));
}

TEST_F(edges, sendfile_matches_pread)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		size_t len = ranges[i].len;
		off_t off = ranges[i].off;
		int mfd = memfd_create("sink", 0);
		unsigned char *buf = malloc(len);
		ssize_t n;

		ASSERT_LE(0, mfd);
		ASSERT_NE(NULL, buf);
		n = sendfile(mfd, self->fd, &off, len);
		EXPECT_EQ((ssize_t)len, n) TH_LOG("sendfile [%zu, +%zu): %s",
						  ranges[i].off, len,
						  strerror(errno));
		EXPECT_EQ((off_t)(ranges[i].off + len), off);
		if (n == (ssize_t)len) {
			ASSERT_EQ(n, pread(mfd, buf, len, 0));
			EXPECT_EQ(-1, first_diff(buf, ranges[i].off, len))
				TH_LOG("range [%zu, +%zu)", ranges[i].off, len);
		}
		free(buf);
		close(mfd);
	}
}

TEST_F(edges, copy_file_range_matches_pread)
{
	char dst[PATH_MAX];
	unsigned char *buf;
	unsigned int i;
	int dfd;

	snprintf(dst, sizeof(dst), "%s/dst", self->dir);
	dfd = mv_create(dst, NPAGES * MV_PAGE);
	ASSERT_LE(0, dfd);
	buf = malloc(NPAGES * MV_PAGE);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		size_t len = ranges[i].len;
		loff_t in = ranges[i].off, out = ranges[i].off;
		ssize_t n;

		/* Make the destination non-zero, so a hole must be copied. */
		memset(buf, 0x5a, len);
		ASSERT_EQ((ssize_t)len, pwrite(dfd, buf, len, out));
		n = copy_file_range(self->fd, &in, dfd, &out, len, 0);
		EXPECT_EQ((ssize_t)len, n) TH_LOG("copy_file_range [%zu, +%zu): %s",
						  ranges[i].off, len,
						  strerror(errno));
		if (n != (ssize_t)len)
			continue;
		EXPECT_EQ((loff_t)(ranges[i].off + len), in);
		ASSERT_EQ(n, pread(dfd, buf, len, ranges[i].off));
		EXPECT_EQ(-1, first_diff(buf, ranges[i].off, len))
			TH_LOG("range [%zu, +%zu)", ranges[i].off, len);
	}
	free(buf);
	close(dfd);
}

/* ------------------------------------------------------------------ */
/* Times */

static struct timespec coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ts;
}

static long long ts_ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Set atime and mtime of @fd to a year ago; ctime becomes now. */
static int age_times(int fd)
{
	struct timespec t[2];

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= 365 * 24 * 3600;
	t[1] = t[0];
	return futimens(fd, t) ? -errno : 0;
}

/* @ts lies in [@lo, @hi] (coarse clock readings around the event). */
#define EXPECT_TIME_IN(ts, lo, hi, what)				\
	do {								\
		EXPECT_LE(ts_ns(lo), ts_ns(ts)) TH_LOG("%s too old", what); \
		EXPECT_GE(ts_ns(hi), ts_ns(ts)) TH_LOG("%s in the future", what); \
	} while (0)

static void mapped_store_times(struct __test_metadata *_metadata,
			       edges_t *self, size_t page)
{
	struct timespec lo, hi;
	struct stat before, after;
	unsigned char *map;

	map = mmap(NULL, NPAGES * MV_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* The page is mapped read-only first, so the store is a mkwrite. */
	EXPECT_EQ(want_byte(page * MV_PAGE), MV_READ_ONCE(map[page * MV_PAGE]));
	ASSERT_EQ(0, age_times(self->fd));
	ASSERT_EQ(0, fstat(self->fd, &before));
	usleep(20000);
	lo = coarse_now();
	MV_WRITE_ONCE(map[page * MV_PAGE + 5], 0x42);
	hi = coarse_now();
	ASSERT_EQ(0, fstat(self->fd, &after));
	EXPECT_TIME_IN(after.st_mtim, lo, hi, "mtime");
	EXPECT_TIME_IN(after.st_ctim, lo, hi, "ctime");
	EXPECT_LT(ts_ns(before.st_ctim), ts_ns(after.st_ctim));
	munmap(map, NPAGES * MV_PAGE);
}

TEST_F(edges, mapped_store_updates_mtime_ctime)
{
	mapped_store_times(_metadata, self, self->base / MV_PAGE + 1);
}

TEST_F(edges, read_updates_atime)
{
	struct timespec lo, hi;
	unsigned char c;
	struct stat st;

	ASSERT_EQ(0, age_times(self->fd));
	lo = coarse_now();
	ASSERT_EQ(1, pread(self->fd, &c, 1, self->base + 7));
	hi = coarse_now();
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TIME_IN(st.st_atim, lo, hi, "atime");
}

/* ------------------------------------------------------------------ */
/* Mount options seen from another user namespace */

FIXTURE(userns) {
	char mnt[64];
};

FIXTURE_SETUP(userns)
{
	MV_SETUP_MOUNTED();
	snprintf(self->mnt, sizeof(self->mnt), "/tmp/mvns.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
	ASSERT_EQ(0, mv_mount(self->mnt, "uid=1000,gid=1000"));
}

FIXTURE_TEARDOWN(userns)
{
	umount2(self->mnt, MNT_DETACH);
	rmdir(self->mnt);
}

static int write_file(const char *path, const char *s)
{
	return mv_write_str(path, s);
}

/*
 * Options of the mount at @mnt as a child in a new user namespace mapping
 * its 0 to @outside sees them, into @opts. 0, or an errno-ish code.
 */
static int options_in_userns(const char *mnt, unsigned int outside,
			     char *opts, size_t len)
{
	int go[2], done[2], status, ret = 0;
	char path[64], map[32], line[1024];
	char *shared;
	pid_t pid;

	shared = mmap(NULL, MV_PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || pipe(go) || pipe(done))
		return -EIO;
	shared[0] = 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		char c, dev[256], dir[512], type[64], o[512];
		FILE *f;

		if (unshare(CLONE_NEWUSER))
			_exit(errno == EINVAL ? 20 : 21);
		if (write(done[1], "u", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(22);
		f = fopen("/proc/self/mounts", "r");
		if (!f)
			_exit(23);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%255s %511s %63s %511s", dev, dir,
				   type, o) == 4 && !strcmp(dir, mnt))
				snprintf(shared, MV_PAGE, "%s", o);
		_exit(shared[0] ? 0 : 24);
	}
	if (read(done[0], path, 1) != 1) {
		ret = -EIO;
		goto out;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", outside);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	ret = write_file(path, map);
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	ret = ret ?: write_file(path, "deny\n");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	ret = ret ?: write_file(path, map);
out:
	if (write(go[1], "g", 1) != 1 && !ret)
		ret = -EIO;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		ret = ret ?: -ECHILD;
	else if (!ret)
		ret = WEXITSTATUS(status);
	snprintf(opts, len, "%s", shared);
	munmap(shared, MV_PAGE);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	return ret;
}

static void check_userns_opts(struct __test_metadata *_metadata,
			      const char *mnt, unsigned int outside,
			      const char *want_uid, const char *want_gid)
{
	char opts[512];
	int ret = options_in_userns(mnt, outside, opts, sizeof(opts));

	if (ret == 20)
		SKIP(return, "user namespaces are not built in (CONFIG_USER_NS=n)");
	ASSERT_EQ(0, ret) TH_LOG("reading /proc/self/mounts in a user namespace (step %d)",
				 ret);
	EXPECT_NE(NULL, strstr(opts, want_uid)) TH_LOG("options: %s", opts);
	EXPECT_NE(NULL, strstr(opts, want_gid)) TH_LOG("options: %s", opts);
}

TEST_F(userns, mount_options_in_mapping_userns)
{
	check_userns_opts(_metadata, self->mnt, 1000, "uid=0,", "gid=0");
}

TEST_F(userns, mount_options_unmapped_show_overflow_id)
{
	check_userns_opts(_metadata, self->mnt, 2000, "uid=65534,", "gid=65534");
}

TEST_F(userns, mount_options_in_init_userns)
{
	char opts[512] = "", line[1024], dev[256], dir[512], type[64], o[512];
	FILE *f = fopen("/proc/self/mounts", "r");

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %511s %63s %511s", dev, dir, type,
			   o) == 4 && !strcmp(dir, self->mnt))
			snprintf(opts, sizeof(opts), "%s", o);
	fclose(f);
	EXPECT_NE(NULL, strstr(opts, "uid=1000,")) TH_LOG("options: %s", opts);
	EXPECT_NE(NULL, strstr(opts, "gid=1000")) TH_LOG("options: %s", opts);
}

/* ------------------------------------------------------------------ */
/* File names with control bytes */

FIXTURE(names) {
	char dir[256];
	int fd;
	struct mv_knobs knobs;
};

FIXTURE_SETUP(names)
{
	self->fd = -1;
	MV_SETUP_MOUNTED();
	mv_knobs_save(&self->knobs);
	ASSERT_EQ(0, mv_make_testdir(self->dir, sizeof(self->dir), "names"));
}

FIXTURE_TEARDOWN(names)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		mv_rm_rf(self->dir);
	EXPECT_EQ(0, mv_knobs_restore(&self->knobs));
}

/* A name with every kind of byte that must be escaped, and its escape. */
static const char raw_name[] = "a\nb\x01\x1f \x7f\x80\xff\\z~";
static const char esc_name[] = "a\\x0ab\\x01\\x1f \\x7f\\x80\\xff\\x5cz~";

/* How /dev/kmsg shows @s: it escapes the same bytes again. */
static void kmsg_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 5 < len; s++) {
		unsigned char c = *s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += snprintf(out + o, len - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = 0;
}

/* Every sysfs vm name under @dir, for the log. */
static void log_names(struct __test_metadata *_metadata, const char *dir)
{
	char path[PATH_MAX], buf[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(MV_VMS);

	if (!d)
		return;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), MV_VMS "/%s/name", de->d_name);
		if (!mv_read_str(path, buf, sizeof(buf)) &&
		    strstr(buf, mv_fs_name(dir)))
			TH_LOG("vm %s is named '%s'", de->d_name, buf);
	}
	closedir(d);
}

TEST_F(names, control_bytes_escaped_in_sysfs_name)
{
	char path[PATH_MAX], want[PATH_MAX];
	u64 id;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", self->dir, raw_name);
	snprintf(want, sizeof(want), "%s/%s", mv_fs_name(self->dir), esc_name);
	self->fd = mv_create(path, MV_PAGE);
	ASSERT_LE(0, self->fd);
	ret = mv_vm_by_name(want, &id);
	EXPECT_EQ(0, ret) TH_LOG("no vm named '%s'", want);
	if (ret)
		log_names(_metadata, self->dir);
}

TEST_F(names, control_bytes_escaped_in_kernel_log)
{
	char path[PATH_MAX], want[PATH_MAX], needle[PATH_MAX];
	int kfd;

	snprintf(path, sizeof(path), "%s/%s", self->dir, raw_name);
	snprintf(want, sizeof(want), "(%s/%s)", mv_fs_name(self->dir), esc_name);
	kmsg_escape(want, needle, sizeof(needle));
	self->fd = mv_create(path, MV_PAGE);
	ASSERT_LE(0, self->fd);
	kfd = mv_kmsg_open();
	ASSERT_LE(0, kfd);
	/* Growing far past the commit limit logs one line naming the VM. */
	ASSERT_EQ(0, mv_global_set("overcommit_ratio", "100\n"));
	EXPECT_EQ(-1, ftruncate(self->fd, 1ULL << 40));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(1, mv_kmsg_count(kfd, needle))
		TH_LOG("no log line with '%s' (as /dev/kmsg shows '%s')", want,
		       needle);
	close(kfd);
}

MV_HARNESS_MAIN(mv_need_memvirtfs)

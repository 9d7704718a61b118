// SPDX-License-Identifier: GPL-2.0
/*
 * memvirtctl_test - the operator's tool (tools/memvirtctl) against the
 * real module: memvirtctl is run as a separate program (fork/exec of the
 * memvirtctl next to this one, /tests/memvirtctl in the test VM) and its
 * exit status, stdout and stderr are checked exactly against what the
 * test did and what sysfs and the ioctls say.
 *
 * Every test mounts its own memvirtfs (with swapdir= on the swap disk when
 * the test VM has one, swap_contract.h), quiets the policy's sampling, and
 * restores every knob it or memvirtctl changed in FIXTURE_TEARDOWN. The
 * balloon agent talks to a fake QMP server, a thread of the test on a unix
 * socket, which answers like QEMU (greeting, an event before each reply)
 * or not at all, and can restart.
 */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>

#include "kselftest_harness.h"
#include "contract.h"
#include "swap_contract.h"
#include "policy_contract.h"

#define NR_VMS		2
#define RUN_TIMEOUT_MS	20000

/* ------------------------------------------------------------------ */
/* Running memvirtctl */

struct proc {
	pid_t pid;
	int ofd, efd;
	char out[65536], err[65536];
	size_t olen, elen;
};

/* Run the next memvirtctl as nobody (uid 65534), not root. */
static bool ctl_as_nobody;

static void ctl_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(buf, len, "/tests/memvirtctl");
		return;
	}
	exe[n] = 0;
	slash = strrchr(exe, '/');
	*slash = 0;
	snprintf(buf, len, "%.4000s/memvirtctl", exe);
}

/* Start memvirtctl with @args (NULL-terminated, without argv[0]). */
static int proc_start(struct proc *p, const char *const *args)
{
	char path[PATH_MAX];
	const char *argv[32];
	int o[2], e[2], i;

	ctl_path(path, sizeof(path));
	argv[0] = "memvirtctl";
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	memset(p, 0, sizeof(*p));
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (!p->pid) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (ctl_as_nobody && mv_become_nobody())
			_exit(126);
		execv(path, (char *const *)argv);
		dprintf(2, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	p->ofd = o[0];
	p->efd = e[0];
	return 0;
}

static u64 now_ms(void)
{
	return pl_now_ms();
}

/* Read both pipes until EOF, then reap: the exit status, or -1 (killed). */
static int proc_finish(struct proc *p, int timeout_ms)
{
	u64 end = now_ms() + timeout_ms;
	int status = 0;

	while (p->ofd >= 0 || p->efd >= 0) {
		struct pollfd pf[2] = {
			{ .fd = p->ofd, .events = POLLIN },
			{ .fd = p->efd, .events = POLLIN },
		};
		int i, left = (int)(end - now_ms());

		if ((long long)(end - now_ms()) <= 0) {
			kill(p->pid, SIGKILL);
			end = now_ms() + 5000;
			left = 5000;
		}
		if (poll(pf, 2, left) <= 0)
			continue;
		for (i = 0; i < 2; i++) {
			int *fd = i ? &p->efd : &p->ofd;
			char *buf = i ? p->err : p->out;
			size_t *len = i ? &p->elen : &p->olen;
			ssize_t n;

			if (!pf[i].revents)
				continue;
			n = read(*fd, buf + *len, sizeof(p->out) - 1 - *len);
			if (n <= 0) {
				close(*fd);
				*fd = -1;
			} else {
				*len += n;
				buf[*len] = 0;
			}
		}
	}
	waitpid(p->pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run memvirtctl to completion: its exit status; output in *@p. */
static int ctl(struct proc *p, ...)
{
	const char *args[32];
	va_list ap;
	int n = 0, ret;

	va_start(ap, p);
	while (n < 31 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	ret = proc_start(p, args);
	if (ret)
		return ret;
	return proc_finish(p, RUN_TIMEOUT_MS);
}

#define CTL(p, ...) ctl(p, __VA_ARGS__, NULL)

/* The value of "  <key> <value>" in text output, or -1. */
static long long text_field(const char *out, const char *key)
{
	char pat[80];
	const char *s = out;
	size_t klen;

	snprintf(pat, sizeof(pat), "  %s ", key);
	klen = strlen(pat);
	while ((s = strstr(s, pat))) {
		if (s == out || s[-1] == '\n') {
			s += klen;
			while (*s == ' ')
				s++;
			return strtoll(s, NULL, 10);
		}
		s += klen;
	}
	return -1;
}

/* The value of "<key>=<n>" in a key=value line, or -1. */
static long long kv_field(const char *out, const char *key)
{
	char pat[80];
	const char *s;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (s = out; (s = strstr(s, pat)); s++)
		if (s == out || s[-1] == ' ' || s[-1] == '\n')
			return strtoll(s + strlen(pat), NULL, 10);
	return -1;
}

/* ------------------------------------------------------------------ */
/* A tiny JSON checker: validates, and finds a member of an object. */

static const char *json_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

/* The end of the JSON string at @s (at its quote), or NULL. */
static const char *json_string_end(const char *s)
{
	int i;

	for (s++; *s && *s != '"'; s++) {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s != '\\')
			continue;
		s++;
		if (*s != 'u') {
			if (!*s || !strchr("\"\\/bfnrt", *s))
				return NULL;
			continue;
		}
		for (i = 1; i <= 4; i++)
			if (!isxdigit((unsigned char)s[i]))
				return NULL;
		s += 4;
	}
	return *s ? s + 1 : NULL;
}

/* The end of the JSON value at @s, or NULL if it is not valid. */
static const char *json_value(const char *s, int depth)
{
	s = json_ws(s);
	if (depth > 32)
		return NULL;
	if (*s == '"')
		return json_string_end(s);
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';
		bool obj = *s == '{';

		s = json_ws(s + 1);
		if (*s == close)
			return s + 1;
		for (;;) {
			if (obj) {
				if (*s != '"')
					return NULL;
				s = json_value(s, depth + 1);
				if (!s)
					return NULL;
				s = json_ws(s);
				if (*s++ != ':')
					return NULL;
			}
			s = json_value(s, depth + 1);
			if (!s)
				return NULL;
			s = json_ws(s);
			if (*s == close)
				return s + 1;
			if (*s++ != ',')
				return NULL;
			s = json_ws(s);
		}
	}
	if (*s == '-' || isdigit((unsigned char)*s)) {
		if (*s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return NULL;
		while (isdigit((unsigned char)*s) || *s == '.' || *s == 'e' || *s == 'E' ||
		       *s == '+' || *s == '-')
			s++;
		return s;
	}
	if (!strncmp(s, "true", 4) || !strncmp(s, "null", 4))
		return s + 4;
	if (!strncmp(s, "false", 5))
		return s + 5;
	return NULL;
}

static bool json_valid(const char *s)
{
	const char *e = json_value(s, 0);

	return e && !*json_ws(e);
}

/* The value of member @key of the object at @obj (valid JSON), or NULL. */
static const char *json_member(const char *obj, const char *key)
{
	size_t klen = strlen(key);
	const char *s = json_ws(obj);

	if (*s != '{')
		return NULL;
	s = json_ws(s + 1);
	while (*s == '"') {
		const char *k = s + 1, *v;

		s = json_value(s, 0);
		v = json_ws(json_ws(s) + 1);	/* past ':' */
		if ((size_t)(s - k - 1) == klen && !strncmp(k, key, klen))
			return v;
		s = json_ws(json_value(v, 0));
		if (*s != ',')
			return NULL;
		s = json_ws(s + 1);
	}
	return NULL;
}

/* The member as text (the raw JSON of a number or string), "" if none. */
static void json_text(const char *obj, const char *key, char *buf, size_t len)
{
	const char *v = json_member(obj, key), *e;

	buf[0] = 0;
	if (!v)
		return;
	e = json_value(v, 0);
	snprintf(buf, len, "%.*s", (int)(e - v), v);
}

/* ------------------------------------------------------------------ */
/* A fake QEMU QMP server */

enum fq_mode { FQ_QEMU, FQ_MUTE };

struct fakeqmp {
	char path[108];
	enum fq_mode mode;
	int restarts;		/* after a balloon command: close, listen again */
	int lfd;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	int conns, balloons;
	char log[16384];	/* every line received */
	volatile int stop;
};

static int fq_listen(struct fakeqmp *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0)
		return -errno;
	if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(f->lfd, 4))
		return -errno;
	return 0;
}

static void fq_send(int fd, const char *s)
{
	ssize_t n = send(fd, s, strlen(s), MSG_NOSIGNAL);

	(void)n;
}

/* Serve one client; true if the server should restart. */
static bool fq_serve(struct fakeqmp *f, int c)
{
	char buf[4096];
	size_t len = 0;

	if (f->mode == FQ_MUTE) {
		while (!f->stop) {
			struct pollfd p = { .fd = c, .events = POLLIN };

			if (poll(&p, 1, 100) > 0 && read(c, buf, sizeof(buf)) <= 0)
				break;
		}
		return false;
	}
	fq_send(c, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n");
	while (!f->stop) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(c, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return false;
		len += n;
		buf[len] = 0;
		while ((nl = strchr(buf, '\n'))) {
			bool balloon;

			*nl = 0;
			pthread_mutex_lock(&f->lock);
			if (strlen(f->log) + strlen(buf) + 2 < sizeof(f->log)) {
				strcat(f->log, buf);
				strcat(f->log, "\n");
			}
			balloon = strstr(buf, "\"balloon\"");
			f->balloons += balloon;
			pthread_mutex_unlock(&f->lock);
			/* an event first: the agent must skip it */
			fq_send(c, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 1}}\r\n");
			fq_send(c, "{\"return\": {}}\r\n");
			memmove(buf, nl + 1, len - (nl + 1 - buf) + 1);
			len -= nl + 1 - buf;
			if (balloon && f->restarts > 0) {
				f->restarts--;
				return true;
			}
		}
	}
	return false;
}

static void *fq_run(void *arg)
{
	struct fakeqmp *f = arg;

	while (!f->stop) {
		struct pollfd p = { .fd = f->lfd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 100) <= 0)
			continue;
		c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		pthread_mutex_lock(&f->lock);
		f->conns++;
		pthread_mutex_unlock(&f->lock);
		if (fq_serve(f, c)) {
			/* QEMU restarts: the socket goes away and comes back */
			close(c);
			close(f->lfd);
			unlink(f->path);
			pl_sleep_ms(300);
			if (fq_listen(f))
				break;
			continue;
		}
		close(c);
	}
	return NULL;
}

static int fq_start(struct fakeqmp *f, const char *path, enum fq_mode mode, int restarts)
{
	int ret;

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->mode = mode;
	f->restarts = restarts;
	pthread_mutex_init(&f->lock, NULL);
	ret = fq_listen(f);
	if (ret)
		return ret;
	ret = -pthread_create(&f->thread, NULL, fq_run, f);
	f->running = !ret;
	return ret;
}

static void fq_stop(struct fakeqmp *f)
{
	if (!f->running)
		return;
	f->stop = 1;
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	f->running = false;
}

static int fq_balloons(struct fakeqmp *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->balloons;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* The fixture */

FIXTURE(ctl) {
	struct sw_mount m;
	bool swapdir;
	struct pl_knobs k;
	struct sw_knobs swk;
	bool saved;
	int fd[NR_VMS];
	u64 id[NR_VMS];
	char path[NR_VMS][PATH_MAX];
	char name[NR_VMS][32];
	char qdir[64];
	struct fakeqmp fq;
};

typedef FIXTURE_DATA(ctl) ctl_t;

static void ctl_fini(struct __test_metadata *_metadata, ctl_t *self)
{
	unsigned int i;
	int ret;

	fq_stop(&self->fq);
	for (i = 0; i < NR_VMS; i++) {
		if (self->fd[i] >= 0)
			close(self->fd[i]);
		self->fd[i] = -1;
		if (self->path[i][0])
			unlink(self->path[i]);
		self->path[i][0] = 0;
	}
	ret = sw_mount_close(&self->m);
	EXPECT_EQ(0, ret) TH_LOG("umount: %s", strerror(-ret));
	if (self->qdir[0])
		mv_rm_rf(self->qdir);
	self->qdir[0] = 0;
	if (self->saved) {
		EXPECT_EQ(0, pl_knobs_restore(&self->k))
			TH_LOG("restoring the policy knobs, budget_mb, overcommit_ratio");
		EXPECT_EQ(0, sw_knobs_restore(&self->swk));
		self->saved = false;
	}
}

FIXTURE_SETUP(ctl)
{
	char why[PATH_MAX + 128] = "", path[PATH_MAX];
	unsigned int i;
	u64 nr = 0;
	int ret = 0;

	for (i = 0; i < NR_VMS; i++)
		self->fd[i] = -1;
	if (!mv_fs_registered(MV_FSTYPE))
		MV_SETUP_SKIP("memvirtfs is not registered (memvirt.ko not loaded)");
	ctl_path(path, sizeof(path));
	if (access(path, X_OK))
		MV_SETUP_SKIP("no memvirtctl next to this program (%.900s)", path);
	pl_knobs_save(&self->k);
	sw_knobs_save(&self->swk);
	self->saved = true;
	/* the previous test's VMs may take a moment to go */
	for (i = 0; i < 100; i++) {
		ret = mv_global_u64("nr_vms", &nr);
		if (ret || !nr)
			break;
		pl_sleep_ms(20);
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0ULL, nr) TH_LOG("%llu VMs exist before the test", (unsigned long long)nr);
	self->swapdir = !sw_disk_missing();
	ret = sw_mount_open(&self->m, self->swapdir, why, sizeof(why));
	if (ret)
		ctl_fini(_metadata, self);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	snprintf(self->qdir, sizeof(self->qdir), "/tmp/mvqmp.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->qdir));
	/* no sampling (it moves access bits), no balloon timeout */
	PL_SET(PL_SAMPLE_SIZE, 0);
	PL_SET(PL_BALLOON_TIMEOUT_MS, 3600000);
	PL_SET_GLOBAL("overcommit_ratio", 150);
}

FIXTURE_TEARDOWN(ctl)
{
	ctl_fini(_metadata, self);
}

/* VM @i: a file of @pages pages named /ctl<i> on the test's mount. */
static void new_vm(struct __test_metadata *_metadata, ctl_t *self, int i, u64 pages)
{
	struct memvirt_stats st;
	char path[PATH_MAX];
	int fd;

	snprintf(self->name[i], sizeof(self->name[i]), "/ctl%d", i);
	snprintf(path, sizeof(path), "%.100s%.20s", self->m.mnt, self->name[i]);
	strcpy(self->path[i], path);
	fd = mv_create(self->path[i], pages * MV_PAGE);
	ASSERT_LE(0, fd) TH_LOG("create %s: %s", self->path[i], strerror(-fd));
	self->fd[i] = fd;
	mv_stats_get(_metadata, fd, &st);
	self->id[i] = st.vm_id;
}

/* pwrite @nr pages from @gfn: all zero (@zero), else a compressible pattern. */
static void write_pages(struct __test_metadata *_metadata, ctl_t *self, int i,
			u64 gfn, u64 nr, bool zero)
{
	u64 buf[MV_PAGE / 8];
	u64 g, j;

	for (g = gfn; g < gfn + nr; g++) {
		for (j = 0; j < MV_PAGE / 8; j++)
			buf[j] = zero ? 0 : 0x6d656d7669727400ULL + (g << 8) + (j % 4);
		ASSERT_EQ((ssize_t)MV_PAGE, pwrite(self->fd[i], buf, MV_PAGE, g * MV_PAGE));
	}
}

static u64 vm_u64(struct __test_metadata *_metadata, u64 id, const char *attr)
{
	u64 v = 0;
	int ret = mv_vm_u64(id, attr, &v);

	EXPECT_EQ(0, ret) TH_LOG("vms/%llu/%s: %s", (unsigned long long)id, attr,
				 strerror(-ret));
	return v;
}

static void idstr(char *buf, size_t len, u64 id)
{
	snprintf(buf, len, "%llu", (unsigned long long)id);
}

/* ------------------------------------------------------------------ */
/* get / set */

TEST_F(ctl, get_set_round_trip)
{
	char old[32], cur[32], want[128];
	struct proc p;

	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", old, sizeof(old)));
	EXPECT_EQ(0, CTL(&p, "get", "policy/idle_tax"));
	snprintf(want, sizeof(want), "%s\n", old);
	EXPECT_STREQ(want, p.out);
	EXPECT_STREQ("", p.err);

	EXPECT_EQ(0, CTL(&p, "set", "policy/idle_tax", "50")) TH_LOG("%s", p.err);
	snprintf(want, sizeof(want), "policy/idle_tax: %s -> 50\n", old);
	EXPECT_STREQ(want, p.out);
	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", cur, sizeof(cur)));
	EXPECT_STREQ("50", cur);

	/* the list: writable host-wide knobs only, with their values */
	EXPECT_EQ(0, CTL(&p, "get"));
	EXPECT_NE(NULL, strstr(p.out, "policy/idle_tax = 50\n")) TH_LOG("%s", p.out);
	EXPECT_NE(NULL, strstr(p.out, "budget_mb = "));
	EXPECT_NE(NULL, strstr(p.out, "overcommit_ratio = 150\n"));
	EXPECT_NE(NULL, strstr(p.out, "dedup/run = "));
	EXPECT_NE(NULL, strstr(p.out, "swap/cache_percent = "));
	EXPECT_EQ(NULL, strstr(p.out, "nr_vms")) TH_LOG("a read-only file listed");
	EXPECT_EQ(NULL, strstr(p.out, "policy/state")) TH_LOG("a read-only file listed");
	EXPECT_EQ(NULL, strstr(p.out, "vms/"));

	EXPECT_EQ(0, CTL(&p, "set", "policy/idle_tax", old));
	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", cur, sizeof(cur)));
	EXPECT_STREQ(old, cur);
}

TEST_F(ctl, set_refused_explains_errno)
{
	char old[32], cur[32], id[32], busy[256];
	struct proc p;

	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", old, sizeof(old)));
	EXPECT_EQ(1, CTL(&p, "set", "policy/idle_tax", "120"));
	EXPECT_STREQ("memvirtctl: set policy/idle_tax 120: Invalid argument (EINVAL): out of range, see memvirtctl(8)\n", p.err);
	EXPECT_STREQ("", p.out);
	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", cur, sizeof(cur)));
	EXPECT_STREQ(old, cur);

	/* budget_mb below the sum of the reservations: EBUSY */
	new_vm(_metadata, self, 0, 4096);
	ASSERT_EQ(0, mv_vm_set(self->id[0], "reservation_mb", "8"));
	EXPECT_EQ(1, CTL(&p, "set", "budget_mb", "4"));
	snprintf(busy, sizeof(busy), "memvirtctl: set budget_mb 4: %s (EBUSY): refused in the current state (budget_mb below the sum of reservations, a VM sharing pages), see memvirtctl(8)\n", strerror(EBUSY));
	EXPECT_STREQ(busy, p.err);
	ASSERT_EQ(0, mv_vm_set(self->id[0], "reservation_mb", "0"));

	/* refused before writing: exit status 2 */
	EXPECT_EQ(2, CTL(&p, "set", "nosuch", "1"));
	EXPECT_STREQ("memvirtctl: set nosuch 1: No such file or directory (ENOENT): no such knob: 'memvirtctl get' lists them\n", p.err);
	EXPECT_EQ(2, CTL(&p, "set", "nr_vms", "3"));
	EXPECT_STREQ("memvirtctl: set nr_vms 3: Permission denied (EACCES): a read-only counter, not a knob: 'memvirtctl get' lists the knobs\n", p.err);
	EXPECT_EQ(2, CTL(&p, "set", "policy/idle_tax", "-1"));
	EXPECT_STREQ("memvirtctl: set policy/idle_tax -1: Invalid argument (EINVAL): VALUE must be a non-negative decimal integer\n", p.err);
	EXPECT_EQ(2, CTL(&p, "set", "policy/idle_tax", "5x"));
	idstr(id, sizeof(id), self->id[0]);
	snprintf(busy, sizeof(busy), "vms/%s/shares", id);
	EXPECT_EQ(2, CTL(&p, "set", busy, "5"));
	EXPECT_NE(NULL, strstr(p.err, "per-VM files are not knobs")) TH_LOG("%s", p.err);
	EXPECT_EQ(2, CTL(&p, "set", "../../kernel/mm/x", "5"));
	EXPECT_EQ(2, CTL(&p, "get", "nosuch"));
	EXPECT_EQ(2, CTL(&p, "set", "policy/idle_tax"));
	EXPECT_NE(NULL, strstr(p.err, "usage: memvirtctl set KNOB VALUE"));
	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", cur, sizeof(cur)));
	EXPECT_STREQ(old, cur);

	/* not root: the store and the ioctl are refused, the hint says so */
	ctl_as_nobody = true;
	EXPECT_EQ(1, CTL(&p, "set", "policy/idle_tax", "50"));
	EXPECT_STREQ("memvirtctl: set policy/idle_tax 50: Permission denied (EACCES): run as root\n",
		     p.err);
	EXPECT_EQ(0, CTL(&p, "get", "policy/idle_tax"));
	EXPECT_EQ(1, CTL(&p, "reclaim", id, "--mode", "zero", "--range", "all"));
	EXPECT_NE(NULL, strstr(p.err, "Permission denied (EACCES): run as root\n"))
		TH_LOG("%s", p.err);
	EXPECT_EQ(1, CTL(&p, "vm", self->path[0]));
	EXPECT_NE(NULL, strstr(p.err, "Permission denied (EACCES): run as root\n"))
		TH_LOG("%s", p.err);
	ctl_as_nobody = false;
	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", cur, sizeof(cur)));
	EXPECT_STREQ(old, cur);

	/* not loaded */
	EXPECT_EQ(1, CTL(&p, "--sysfs", "/nonexistent", "get", "budget_mb"));
	EXPECT_STREQ("memvirtctl: /nonexistent: No such file or directory (ENOENT): memvirt not loaded: insmod memvirt.ko\n", p.err);
	/* a bad value is a usage error, loaded or not */
	EXPECT_EQ(2, CTL(&p, "--sysfs", "/nonexistent", "set", "budget_mb", "abc"));
	EXPECT_STREQ("memvirtctl: set budget_mb abc: Invalid argument (EINVAL): VALUE must be a non-negative decimal integer\n", p.err);
}

TEST_F(ctl, usage_and_unknown_vm)
{
	static const char *const cmds[] = {
		"top", "stats", "get", "set", "vm", "reclaim", "balloon-agent",
	};
	struct memvirt_stats st;
	char want[64];
	unsigned int i;
	struct proc p;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(0, CTL(&p, cmds[i], "--help"));
		snprintf(want, sizeof(want), "usage: memvirtctl %s", cmds[i]);
		EXPECT_EQ(0, strncmp(p.out, want, strlen(want))) TH_LOG("%s", p.out);
		EXPECT_EQ(0, CTL(&p, "help", cmds[i]));
		EXPECT_EQ(0, strncmp(p.out, want, strlen(want))) TH_LOG("%s", p.out);
	}
	EXPECT_EQ(0, CTL(&p, "--help"));
	EXPECT_EQ(2, CTL(&p, "frobnicate"));
	EXPECT_EQ(0, strncmp(p.err, "memvirtctl: unknown command 'frobnicate'\nusage:", 47))
		TH_LOG("%s", p.err);
	EXPECT_STREQ("", p.out);
	EXPECT_EQ(2, CTL(&p, "top", "-x"));
	EXPECT_EQ(2, CTL(&p, "top", "-s", "bogus"));
	EXPECT_EQ(2, CTL(&p, "top", "-d", "abc"));
	EXPECT_EQ(2, CTL(&p, "top", "-nx"));
	EXPECT_EQ(0, strncmp(p.err, "memvirtctl: -n takes a count, not 'x'\nusage:", 44))
		TH_LOG("%s", p.err);
	EXPECT_EQ(2, CTL(&p, "stats", "--bogus"));
	EXPECT_EQ(2, CTL(&p, "reclaim", "1", "--mode", "bogus", "--range", "all"));
	EXPECT_EQ(2, CTL(&p, "reclaim", "1", "--mode", "zero"));
	EXPECT_EQ(2, CTL(&p, "balloon-agent", "--qmp", "nonsense"));
	EXPECT_EQ(2, ctl(&p, NULL));

	EXPECT_EQ(1, CTL(&p, "vm", "999999"));
	EXPECT_STREQ("memvirtctl: no VM with id 999999: No such file or directory (ENOENT): 'memvirtctl top' or 'memvirtctl stats' lists the VMs\n", p.err);
	EXPECT_EQ(1, CTL(&p, "stats", "/nosuchvm"));
	EXPECT_STREQ("memvirtctl: no VM '/nosuchvm': No such file or directory (ENOENT): give a VM id, its name as in vms/<id>/name, or the path of its file\n",
		     p.err);

	/* a VM whose file is on no mount (unlinked, still open) */
	new_vm(_metadata, self, 0, 256);
	ASSERT_EQ(0, unlink(self->path[0]));
	self->path[0][0] = 0;
	EXPECT_EQ(1, CTL(&p, "vm", "/ctl0"));
	EXPECT_NE(NULL, strstr(p.err, "no memvirtfs mount holds it here: give the path of its file")) TH_LOG("%s", p.err);
	/* but its counters are in sysfs, by its name with or without the '/' */
	EXPECT_EQ(0, CTL(&p, "stats", "/ctl0"));
	EXPECT_EQ(0, CTL(&p, "stats", "ctl0"));
	EXPECT_NE(NULL, strstr(p.out, "/ctl0")) TH_LOG("%s", p.out);

	/* a second /ctl0, in the unlinked one's place: the name is ambiguous */
	snprintf(self->path[1], sizeof(self->path[1]), "%.100s/ctl0", self->m.mnt);
	self->fd[1] = mv_create(self->path[1], 256 * MV_PAGE);
	ASSERT_LE(0, self->fd[1]) TH_LOG("create %s: %s", self->path[1], strerror(-self->fd[1]));
	mv_stats_get(_metadata, self->fd[1], &st);
	EXPECT_EQ(1, CTL(&p, "stats", "ctl0"));
	snprintf(want, sizeof(want), "(ids %llu and %llu)",
		 (unsigned long long)self->id[0], (unsigned long long)st.vm_id);
	EXPECT_EQ(0, strncmp(p.err, "memvirtctl: more than one VM is named '/ctl0' ", 46))
		TH_LOG("%s", p.err);
	EXPECT_NE(NULL, strstr(p.err, want)) TH_LOG("%s", p.err);
	EXPECT_NE(NULL, strstr(p.err, "(ENOTUNIQ): give its id or the path of its file\n"))
		TH_LOG("%s", p.err);
	EXPECT_STREQ("", p.out);
	/* by its path it is found */
	EXPECT_EQ(0, CTL(&p, "vm", self->path[1])) TH_LOG("%s", p.err);
}

/* ------------------------------------------------------------------ */
/* stats */

TEST_F(ctl, stats_json_matches_sysfs)
{
	static const char *const vm_files[] = {
		"size", "resident", "zero", "shares", "faults", "sharing_domain",
		"reservation_mb",
	};
	char id[32], val[256], want[256], jv[256], head[64];
	const char *obj, *sec;
	struct proc p;
	unsigned int i;
	u64 v;

	new_vm(_metadata, self, 0, 1024);
	write_pages(_metadata, self, 0, 0, 100, false);
	idstr(id, sizeof(id), self->id[0]);

	EXPECT_EQ(0, CTL(&p, "stats", "--json"));
	EXPECT_STREQ("", p.err);
	ASSERT_TRUE(json_valid(p.out)) TH_LOG("not JSON: %s", p.out);
	sec = json_member(p.out, "memvirt");
	ASSERT_NE(NULL, sec);
	json_text(sec, "budget_mb", jv, sizeof(jv));
	ASSERT_EQ(0, mv_read_str(MV_SYSFS "/budget_mb", val, sizeof(val)));
	EXPECT_STREQ(val, jv);
	json_text(sec, "nr_vms", jv, sizeof(jv));
	EXPECT_STREQ("1", jv);
	sec = json_member(p.out, "policy");
	ASSERT_NE(NULL, sec);
	json_text(sec, "idle_tax", jv, sizeof(jv));
	ASSERT_EQ(0, mv_read_str(PL_DIR "/idle_tax", val, sizeof(val)));
	EXPECT_STREQ(val, jv);
	json_text(sec, "state", jv, sizeof(jv));
	ASSERT_EQ(0, mv_read_str(PL_DIR "/state", val, sizeof(val)));
	snprintf(want, sizeof(want), "\"%.200s\"", val);
	EXPECT_STREQ(want, jv);
	sec = json_member(sec, "state_ms");
	ASSERT_NE(NULL, sec);
	EXPECT_NE(NULL, json_member(sec, "high"));
	EXPECT_NE(NULL, json_member(sec, "low"));
	EXPECT_NE(NULL, json_member(p.out, "dedup"));
	EXPECT_NE(NULL, json_member(p.out, "swap"));
	sec = json_member(p.out, "vms");
	ASSERT_NE(NULL, sec);
	snprintf(head, sizeof(head), "{\"id\":%s,", id);
	obj = strstr(sec, head);
	ASSERT_NE(NULL, obj) TH_LOG("no VM %s in %s", id, sec);
	json_text(obj, "resident", jv, sizeof(jv));
	EXPECT_STREQ("100", jv);
	json_text(obj, "name", jv, sizeof(jv));
	EXPECT_STREQ("\"/ctl0\"", jv);

	/* one VM, by id: every file as sysfs has it */
	EXPECT_EQ(0, CTL(&p, "stats", "--json", id));
	ASSERT_TRUE(json_valid(p.out)) TH_LOG("not JSON: %s", p.out);
	json_text(p.out, "id", jv, sizeof(jv));
	EXPECT_STREQ(id, jv);
	for (i = 0; i < ARRAY_SIZE(vm_files); i++) {
		ASSERT_EQ(0, mv_vm_str(self->id[0], vm_files[i], val, sizeof(val)));
		json_text(p.out, vm_files[i], jv, sizeof(jv));
		EXPECT_STREQ(val, jv) TH_LOG("%s", vm_files[i]);
	}
	json_text(p.out, "limit_mb", jv, sizeof(jv));
	EXPECT_STREQ("\"max\"", jv);
	v = vm_u64(_metadata, self->id[0], "size");
	EXPECT_EQ(1024 * MV_PAGE, v);

	/* text, by name */
	EXPECT_EQ(0, CTL(&p, "stats", "/ctl0"));
	snprintf(want, sizeof(want), "vm %s (/ctl0):\n", id);
	EXPECT_EQ(0, strncmp(p.out, want, strlen(want))) TH_LOG("%s", p.out);
	EXPECT_EQ(100, text_field(p.out, "resident"));
	EXPECT_EQ(4194304, text_field(p.out, "size"));
	/* host-wide text */
	EXPECT_EQ(0, CTL(&p, "stats"));
	EXPECT_EQ(0, strncmp(p.out, "memvirt:\n", 9));
	EXPECT_NE(NULL, strstr(p.out, "\npolicy:\n"));
	snprintf(want, sizeof(want), "\nvm %s (/ctl0):\n", id);
	EXPECT_NE(NULL, strstr(p.out, want));
}

/* ------------------------------------------------------------------ */
/* vm and reclaim */

/* The tool's histogram equals @want and the kernel's own query's flags. */
static void expect_histogram(struct __test_metadata *_metadata, ctl_t *self,
			     const char *vmarg, const u64 want[8])
{
	static const char *const names[8] = {
		"absent", "private", "zero", "shared", "ballooned", "compressed",
		"swapped", "error",
	};
	u64 gfns = vm_u64(_metadata, self->id[0], "size") / MV_PAGE, i;
	u64 dirty = 0, accessed = 0;
	unsigned char *st = malloc(gfns);
	struct proc p;

	ASSERT_NE(NULL, st);
	EXPECT_EQ(0, CTL(&p, "vm", vmarg)) TH_LOG("%s", p.err);
	ASSERT_EQ(0, mv_query(self->fd[0], 0, gfns, st));
	for (i = 0; i < gfns; i++) {
		dirty += !!(st[i] & MEMVIRT_GFN_DIRTY);
		accessed += !!(st[i] & MEMVIRT_GFN_ACCESSED);
	}
	free(st);
	ASSERT_NE(NULL, strstr(p.out, "p2m: ")) TH_LOG("%s", p.out);
	EXPECT_EQ((long long)gfns, strtoll(strstr(p.out, "p2m: ") + 5, NULL, 10));
	for (i = 0; i < 8; i++)
		EXPECT_EQ((long long)want[i], text_field(strstr(p.out, "p2m: "), names[i]))
			TH_LOG("%s", names[i & 7]);
	EXPECT_EQ((long long)dirty, text_field(strstr(p.out, "p2m: "), "dirty"));
	EXPECT_EQ((long long)accessed, text_field(strstr(p.out, "p2m: "), "accessed"));
	EXPECT_EQ(1000, text_field(p.out, "shares"));
	EXPECT_EQ((long long)vm_u64(_metadata, self->id[0], "resident"),
		  text_field(p.out, "resident"));
}

TEST_F(ctl, vm_histogram_and_reclaim)
{
	u64 want[8] = { 0 };
	char id[32];
	struct proc p;

	new_vm(_metadata, self, 0, 1024);
	idstr(id, sizeof(id), self->id[0]);
	write_pages(_metadata, self, 0, 0, 300, false);
	ASSERT_EQ(0, fallocate(self->fd[0], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       250 * MV_PAGE, 50 * MV_PAGE));
	want[MEMVIRT_GFN_ABSENT] = 724;
	want[MEMVIRT_GFN_PRIVATE] = 250;
	want[MEMVIRT_GFN_ZERO] = 50;
	expect_histogram(_metadata, self, id, want);
	/* by name and by path: the same VM */
	expect_histogram(_metadata, self, "/ctl0", want);
	expect_histogram(_metadata, self, self->path[0], want);

	/* compressible pages into the compression cache */
	EXPECT_EQ(0, CTL(&p, "reclaim", "/ctl0", "--mode", "compress", "--range", "0:100"))
		TH_LOG("%s", p.err);
	EXPECT_EQ(100, kv_field(p.out, "scanned")) TH_LOG("%s", p.out);
	EXPECT_EQ(100, kv_field(p.out, "compressed"));
	EXPECT_EQ(0, kv_field(p.out, "swapped"));
	EXPECT_EQ(0, kv_field(p.out, "zeroed"));
	want[MEMVIRT_GFN_PRIVATE] -= 100;
	want[MEMVIRT_GFN_COMPRESSED] = 100;
	expect_histogram(_metadata, self, id, want);

	if (!self->swapdir) {
		EXPECT_EQ(1, CTL(&p, "reclaim", id, "--mode", "swap", "--range", "100:100"));
		EXPECT_NE(NULL, strstr(p.err, "(EOPNOTSUPP): the VM has no swap file"));
		SKIP(return, "no swap disk at " SW_DISK ": swap mode not tried");
	}
	EXPECT_EQ(0, CTL(&p, "reclaim", self->path[0], "--mode", "swap", "--range", "100:100"))
		TH_LOG("%s", p.err);
	EXPECT_EQ(100, kv_field(p.out, "swapped")) TH_LOG("%s", p.out);
	want[MEMVIRT_GFN_PRIVATE] -= 100;
	want[MEMVIRT_GFN_SWAPPED] = 100;
	expect_histogram(_metadata, self, id, want);
	EXPECT_EQ(100ULL, vm_u64(_metadata, self->id[0], "swapped"));
	EXPECT_EQ(100ULL, vm_u64(_metadata, self->id[0], "compressed"));
}

TEST_F(ctl, reclaim_zero_frees_zero_pages)
{
	char id[32], want[512];
	struct proc p;

	new_vm(_metadata, self, 0, 1024);
	idstr(id, sizeof(id), self->id[0]);
	write_pages(_metadata, self, 0, 0, 120, true);
	write_pages(_metadata, self, 0, 120, 80, false);
	ASSERT_EQ(200ULL, vm_u64(_metadata, self->id[0], "resident"));

	EXPECT_EQ(1, CTL(&p, "reclaim", id, "--mode", "zero", "--range", "0:2000"));
	snprintf(want, sizeof(want), "memvirtctl: reclaim %.100s --mode zero --range 0:2000: Invalid argument (EINVAL): the range must lie inside the file, see memvirtctl(8)\n", self->path[0]);
	EXPECT_STREQ(want, p.err);

	EXPECT_EQ(0, CTL(&p, "reclaim", "/ctl0", "--mode", "zero", "--range", "all"))
		TH_LOG("%s", p.err);
	EXPECT_STREQ("scanned=200 reclaimed=120 zeroed=120 merged=0 compressed=0 swapped=0 pinned_skips=0\n", p.out);
	EXPECT_EQ(80ULL, vm_u64(_metadata, self->id[0], "resident"));
	EXPECT_EQ(944ULL, vm_u64(_metadata, self->id[0], "zero"));
	/* again: nothing left to take */
	EXPECT_EQ(0, CTL(&p, "reclaim", id, "--mode", "zero", "--range", "0:all"));
	EXPECT_EQ(0, kv_field(p.out, "reclaimed")) TH_LOG("%s", p.out);
	EXPECT_EQ(80, kv_field(p.out, "scanned"));
	/* in the background: returns at once, the counters show it */
	EXPECT_EQ(0, CTL(&p, "reclaim", id, "--mode", "zero", "--range", "0:all", "--async"));
	EXPECT_NE(NULL, strstr(p.out, "started in the background")) TH_LOG("%s", p.out);
}

/* ------------------------------------------------------------------ */
/* top */

TEST_F(ctl, top_batch_csv)
{
	char state[32], *line, *save = NULL, *copy;
	struct proc p;
	int rows = 0;

	new_vm(_metadata, self, 0, 2048);
	new_vm(_metadata, self, 1, 4096);
	write_pages(_metadata, self, 0, 0, 256, false);
	ASSERT_EQ(0, mv_read_str(PL_DIR "/state", state, sizeof(state)));

	EXPECT_EQ(0, CTL(&p, "top", "-b", "-n", "2", "-d", "0.2")) TH_LOG("%s", p.err);
	EXPECT_STREQ("", p.err);
	copy = strdup(p.out);
	line = strtok_r(copy, "\n", &save);
	ASSERT_NE(NULL, line);
	EXPECT_STREQ("time_s,state,vm,name,size_mb,target_mb,active_pct,resident_mb,ballooned_mb,shared_mb,zero_mb,compressed_mb,swapped_mb,swapin_per_s,swapout_per_s", line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *f[16], *s = line;
		int n = 0, vm = rows % 2;
		double t;

		while (n < 16 && (f[n++] = strsep(&s, ",")))
			;
		ASSERT_EQ(15, n - (f[n - 1] == NULL)) TH_LOG("row '%s'", line);
		t = strtod(f[0], NULL);
		/* frame 1 at 0.0, frame 2 -d later */
		EXPECT_TRUE(rows < 2 ? !strcmp(f[0], "0.0") : t >= 0.2 && t < 3.0)
			TH_LOG("time %s in row %d", f[0], rows);
		EXPECT_STREQ(state, f[1]);
		EXPECT_EQ(self->id[vm], strtoull(f[2], NULL, 10));
		EXPECT_STREQ(self->name[vm], f[3]);
		EXPECT_STREQ(vm ? "16.0" : "8.0", f[4]);
		EXPECT_STREQ(vm ? "0.0" : "1.0", f[7]) TH_LOG("resident_mb");
		EXPECT_STREQ("0.0", f[12]) TH_LOG("swapped_mb");
		EXPECT_STREQ("0.0", f[13]);
		EXPECT_STREQ("0.0", f[14]);
		rows++;
	}
	free(copy);
	EXPECT_EQ(4, rows);

	/* the screen, on a pipe: plain frames, sorted by resident */
	EXPECT_EQ(0, CTL(&p, "top", "-n", "1"));
	EXPECT_NE(NULL, strstr(p.out, "state ")) TH_LOG("%s", p.out);
	EXPECT_EQ(NULL, strchr(p.out, '\033'));
	ASSERT_NE(NULL, strstr(p.out, "/ctl0"));
	ASSERT_NE(NULL, strstr(p.out, "/ctl1"));
	EXPECT_LT(strstr(p.out, "/ctl0"), strstr(p.out, "/ctl1"));
	EXPECT_EQ(0, CTL(&p, "top", "-n", "1", "-s", "size"));
	EXPECT_GT(strstr(p.out, "/ctl0"), strstr(p.out, "/ctl1"));
	/* values attached to their options, as top(1) takes them */
	EXPECT_EQ(0, CTL(&p, "top", "-n1", "-ssize", "-d0.1")) TH_LOG("%s", p.err);
	EXPECT_GT(strstr(p.out, "/ctl0"), strstr(p.out, "/ctl1"));
	EXPECT_EQ(0, CTL(&p, "top", "-n", "1", "-s", "size", "-r"));
	EXPECT_LT(strstr(p.out, "/ctl0"), strstr(p.out, "/ctl1"));
}

/* ------------------------------------------------------------------ */
/* balloon-agent */

static void qmp_sock(ctl_t *self, int vm, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.qmp", self->qdir, self->name[vm] + 1);
}

TEST_F(ctl, balloon_agent_once_zero_target)
{
	char sock[128], want[512], id[32], q[160];
	struct proc p;

	new_vm(_metadata, self, 0, 32768);	/* 128 MiB, nothing written */
	idstr(id, sizeof(id), self->id[0]);
	qmp_sock(self, 0, sock, sizeof(sock));
	ASSERT_EQ(0, fq_start(&self->fq, sock, FQ_QEMU, 0));
	ASSERT_EQ(0ULL, vm_u64(_metadata, self->id[0], "balloon_target"));

	EXPECT_EQ(0, CTL(&p, "balloon-agent", "--once", "--qmp-dir", self->qdir))
		TH_LOG("%s", p.err);
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): target 0 pages -> balloon 134217728 bytes\n", id);
	EXPECT_STREQ(want, p.out);
	EXPECT_STREQ("", p.err);
	pthread_mutex_lock(&self->fq.lock);
	EXPECT_STREQ("{\"execute\":\"qmp_capabilities\"}\n"
		     "{\"execute\":\"balloon\",\"arguments\":{\"value\":134217728}}\n",
		     self->fq.log);
	self->fq.log[0] = 0;
	pthread_mutex_unlock(&self->fq.lock);

	/* --min-mb above the size: the floor wins; --qmp by id */
	snprintf(q, sizeof(q), "%s=%s", id, sock);
	EXPECT_EQ(0, CTL(&p, "balloon-agent", "--once", "--min-mb", "200", "--qmp", q,
			 "--qmp-dir", "/nonexistent"));
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): target 0 pages -> balloon 209715200 bytes\n", id);
	EXPECT_STREQ(want, p.out);
	EXPECT_EQ(2, fq_balloons(&self->fq));

	/* no socket: one line on stderr, exit 1 in --once */
	fq_stop(&self->fq);
	EXPECT_EQ(1, CTL(&p, "balloon-agent", "--once", "--qmp-dir", self->qdir));
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): %s: socket missing\n",
		 id, sock);
	EXPECT_STREQ(want, p.err);
	EXPECT_STREQ("", p.out);
}

/*
 * After policy_test's balloon_target_when_budget_cut: a 100 MiB VM that
 * wrote 24832 pages, budget cut from 200 to 100 MiB: SOFT, and a balloon
 * target of 24832 - avail_pages.
 */
TEST_F(ctl, balloon_agent_follows_target)
{
	u64 bt = 0, end, value;
	char sock[128], want[512], id[32];
	struct proc p;
	int i;

	new_vm(_metadata, self, 0, 25600);
	idstr(id, sizeof(id), self->id[0]);
	PL_SET(PL_PERIOD_MS, 10);
	PL_SET_GLOBAL("budget_mb", 200);
	for (i = 0; i < 24832; i += 256)
		write_pages(_metadata, self, 0, i, 256, false);
	PL_SET_GLOBAL("budget_mb", 100);
	for (end = now_ms() + 10000; now_ms() < end; pl_sleep_ms(20)) {
		bt = vm_u64(_metadata, self->id[0], "balloon_target");
		if (bt)
			break;
	}
	ASSERT_NE(0ULL, bt) TH_LOG("no balloon target after the budget cut");
	pl_sleep_ms(200);	/* let it settle */
	bt = vm_u64(_metadata, self->id[0], "balloon_target");
	value = 25600 * MV_PAGE - bt * MV_PAGE;

	qmp_sock(self, 0, sock, sizeof(sock));
	ASSERT_EQ(0, fq_start(&self->fq, sock, FQ_QEMU, 0));
	EXPECT_EQ(0, CTL(&p, "balloon-agent", "--once", "--qmp-dir", self->qdir))
		TH_LOG("%s", p.err);
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): target %llu pages -> balloon %llu bytes\n", id, (unsigned long long)bt,
		 (unsigned long long)value);
	EXPECT_STREQ(want, p.out);
	snprintf(want, sizeof(want), "{\"execute\":\"balloon\",\"arguments\":{\"value\":%llu}}\n",
		 (unsigned long long)value);
	EXPECT_NE(NULL, strstr(self->fq.log, want)) TH_LOG("%s", self->fq.log);

	/* the budget back: the target goes to 0, a running agent deflates */
	fq_stop(&self->fq);
	self->fq.log[0] = 0;
	ASSERT_EQ(0, fq_start(&self->fq, sock, FQ_QEMU, 0));
	ASSERT_EQ(0, proc_start(&p, (const char *const[]){ "balloon-agent", "--qmp-dir",
							  self->qdir, NULL }));
	for (end = now_ms() + 5000; now_ms() < end && fq_balloons(&self->fq) < 1; )
		pl_sleep_ms(20);
	PL_SET_GLOBAL("budget_mb", 200);
	for (end = now_ms() + 10000; now_ms() < end; pl_sleep_ms(20)) {
		bool seen;

		pthread_mutex_lock(&self->fq.lock);
		seen = strstr(self->fq.log, "\"value\":104857600}");
		pthread_mutex_unlock(&self->fq.lock);
		if (seen)
			break;
	}
	kill(p.pid, SIGTERM);
	EXPECT_EQ(0, proc_finish(&p, 5000)) TH_LOG("%s", p.err);
	EXPECT_LE(2, fq_balloons(&self->fq)) TH_LOG("%s", self->fq.log);
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): target 0 pages -> balloon 104857600 bytes\n", id);
	EXPECT_NE(NULL, strstr(p.out, want)) TH_LOG("%s", p.out);
}

TEST_F(ctl, balloon_agent_survives_silent_qemu)
{
	char sock[128], want[512], id[32];
	struct proc p;
	u64 t0, ms;

	new_vm(_metadata, self, 0, 32768);
	idstr(id, sizeof(id), self->id[0]);
	qmp_sock(self, 0, sock, sizeof(sock));
	ASSERT_EQ(0, fq_start(&self->fq, sock, FQ_MUTE, 0));
	t0 = now_ms();
	EXPECT_EQ(1, CTL(&p, "balloon-agent", "--once", "--qmp-dir", self->qdir));
	ms = now_ms() - t0;
	EXPECT_GT(5000ULL, ms) TH_LOG("took %llu ms", (unsigned long long)ms);
	EXPECT_LE(1900ULL, ms);
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): %s: QEMU not answering within 2.0 s (waiting for the greeting)\n", id, sock);
	EXPECT_STREQ(want, p.err);
	EXPECT_STREQ("", p.out);
}

TEST_F(ctl, balloon_agent_reconnects_after_restart)
{
	char sock[128], want[512], id[32];
	struct proc p;
	u64 end;

	new_vm(_metadata, self, 0, 32768);
	idstr(id, sizeof(id), self->id[0]);
	qmp_sock(self, 0, sock, sizeof(sock));
	/* serves one balloon, then QEMU "restarts" (socket gone for 300 ms) */
	ASSERT_EQ(0, fq_start(&self->fq, sock, FQ_QEMU, 1));
	ASSERT_EQ(0, proc_start(&p, (const char *const[]){ "balloon-agent", "--qmp-dir",
							  self->qdir, NULL }));
	for (end = now_ms() + 10000; now_ms() < end && fq_balloons(&self->fq) < 2; )
		pl_sleep_ms(20);
	/* still alive and quiet afterwards */
	pl_sleep_ms(1500);
	EXPECT_EQ(0, waitpid(p.pid, NULL, WNOHANG));
	kill(p.pid, SIGTERM);
	EXPECT_EQ(0, proc_finish(&p, 5000)) TH_LOG("%s", p.err);
	EXPECT_EQ(2, fq_balloons(&self->fq)) TH_LOG("%s", self->fq.log);
	EXPECT_EQ(2, self->fq.conns);
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): target 0 pages -> balloon 134217728 bytes\n", id);
	EXPECT_NE(NULL, strstr(p.out, want)) TH_LOG("%s", p.out);
	EXPECT_NE(NULL, strstr(strstr(p.out, want) + 1, want)) TH_LOG("one balloon: %s", p.out);
	snprintf(want, sizeof(want), "balloon-agent: ctl0 (id %s): %s: QEMU closed the socket; will retry\n", id, sock);
	EXPECT_NE(NULL, strstr(p.err, want)) TH_LOG("%s", p.err);
}

TEST_HARNESS_MAIN

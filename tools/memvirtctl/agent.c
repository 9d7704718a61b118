// SPDX-License-Identifier: GPL-2.0
/*
 * agent.c - memvirtctl balloon-agent: follow every VM's balloon_target
 * (poll() on sysfs, and a rescan of vms/ every second) and set the guest's
 * balloon through QEMU's QMP socket:
 *
 *	value = max(size - balloon_target * 4096, --min-mb MiB)
 *
 * The socket of a VM is --qmp NAME=PATH, else <qmp-dir>/<basename of the
 * VM's name>.qmp. A VM whose QEMU is missing, slow or gone costs one line
 * on stderr and a retry every RETRY seconds; the agent never exits on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memvirtctl.h"
#include "qmp.h"

#define QMP_TIMEOUT_MS	2000	/* longest wait for one QMP reply */
#define RETRY_S		1.5	/* reconnect delay after a socket problem */
#define RESCAN_S	1.0	/* how often vms/ is listed again */

struct qmp_opt {
	const char *name;
	const char *path;
};

struct avm {
	u64v id;
	char name[PATH_MAX];
	char sock[PATH_MAX];
	int tfd;		/* vms/<id>/balloon_target, polled */
	struct qmp q;		/* q.fd < 0: not connected */
	bool seen;		/* in the last rescan */
	bool applied;		/* sent_value went through this connection */
	u64v sent_value;
	double retry_at;
	char last_why[512];	/* the problem last logged, not repeated */
};

static struct {
	struct qmp_opt *qmp;
	int nr_qmp;
	const char *qmp_dir;
	u64v min_mb;
	bool once, verbose;
	struct avm **vms;
	int nr_vms;
} ag = { .qmp_dir = "/run/memvirt-qmp", .min_mb = 64 };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void sock_path(struct avm *v)
{
	char idstr[32];
	int i;

	snprintf(idstr, sizeof(idstr), "%llu", v->id);
	for (i = 0; i < ag.nr_qmp; i++) {
		if (!strcmp(ag.qmp[i].name, idstr) || !strcmp(ag.qmp[i].name, v->name)) {
			snprintf(v->sock, sizeof(v->sock), "%s", ag.qmp[i].path);
			return;
		}
	}
	snprintf(v->sock, sizeof(v->sock), "%s/%s.qmp", ag.qmp_dir, mvc_basename(v->name));
}

/* One line on stderr per problem; the same one again only in --once. */
static void problem(struct avm *v, const char *why)
{
	if (!ag.once && !strcmp(v->last_why, why))
		return;
	snprintf(v->last_why, sizeof(v->last_why), "%s", why);
	fprintf(stderr, "balloon-agent: %s (id %llu): %s: %s%s\n", mvc_basename(v->name),
		v->id, v->sock, why, ag.once ? "" : "; will retry");
}

static struct avm *add_vm(u64v id)
{
	char rel[64];
	struct avm *v = calloc(1, sizeof(*v)), **nv;

	if (!v)
		return NULL;
	v->id = id;
	v->q.fd = -1;
	if (mvc_vm_read(id, "name", v->name, sizeof(v->name)))
		goto fail;
	snprintf(rel, sizeof(rel), "%s/vms/%llu/balloon_target", mvc_sysfs, id);
	v->tfd = open(rel, O_RDONLY | O_CLOEXEC);
	if (v->tfd < 0)
		goto fail;
	nv = realloc(ag.vms, (ag.nr_vms + 1) * sizeof(*nv));
	if (!nv) {
		close(v->tfd);
		goto fail;
	}
	ag.vms = nv;
	ag.vms[ag.nr_vms++] = v;
	sock_path(v);
	if (ag.verbose)
		printf("balloon-agent: %s (id %llu): following it, QMP socket %s\n",
		       mvc_basename(v->name), id, v->sock);
	return v;
fail:
	free(v);
	return NULL;
}

static void drop_vm(int i)
{
	struct avm *v = ag.vms[i];

	if (ag.verbose)
		printf("balloon-agent: %s (id %llu): gone\n", mvc_basename(v->name), v->id);
	qmp_close(&v->q);
	close(v->tfd);
	free(v);
	ag.vms[i] = ag.vms[--ag.nr_vms];
}

/* vms/ again: new VMs added, gone ones dropped. 0 or -errno. */
static int rescan(void)
{
	u64v *ids;
	int n, i, j;

	n = mvc_list_vms(&ids);
	if (n < 0)
		return n;
	for (j = 0; j < ag.nr_vms; j++)
		ag.vms[j]->seen = false;
	for (i = 0; i < n; i++) {
		for (j = 0; j < ag.nr_vms; j++)
			if (ag.vms[j]->id == ids[i])
				break;
		if (j < ag.nr_vms)
			ag.vms[j]->seen = true;
		else if (add_vm(ids[i]))
			ag.vms[ag.nr_vms - 1]->seen = true;
	}
	free(ids);
	for (j = ag.nr_vms - 1; j >= 0; j--)
		if (!ag.vms[j]->seen)
			drop_vm(j);
	return 0;
}

/* The VM's balloon target (pread from 0, which re-arms poll): 0 or -errno. */
static int read_target(struct avm *v, u64v *target)
{
	char buf[32];
	ssize_t n = pread(v->tfd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	if (!mvc_is_u64(buf))
		return -EINVAL;
	*target = strtoull(buf, NULL, 10);
	return 0;
}

/* Bring the VM's balloon to its target if it is not there: 0 or -errno. */
static int follow(struct avm *v)
{
	char why[512], cmd[128];
	u64v target = 0, size = 0, value, floor = ag.min_mb * MVC_MIB;
	int ret;

	if (read_target(v, &target) || mvc_vm_u64(v->id, "size", &size))
		return 0;	/* going away: the next rescan drops it */
	value = size > target * MVC_PAGE ? size - target * MVC_PAGE : 0;
	if (value < floor)
		value = floor;
	if (v->q.fd >= 0 && v->applied && v->sent_value == value)
		return 0;
	if (v->q.fd < 0) {
		if (mvc_now() < v->retry_at)
			return -EAGAIN;
		ret = qmp_open(&v->q, v->sock, QMP_TIMEOUT_MS, why, sizeof(why));
		if (ret) {
			problem(v, why);
			v->retry_at = mvc_now() + RETRY_S;
			return ret;
		}
		v->applied = false;
		if (ag.verbose)
			printf("balloon-agent: %s (id %llu): connected to %s\n",
			       mvc_basename(v->name), v->id, v->sock);
	}
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"balloon\",\"arguments\":{\"value\":%llu}}\n", value);
	ret = qmp_command(&v->q, cmd, QMP_TIMEOUT_MS, why, sizeof(why));
	if (ret == -EPROTO) {
		/* QEMU refused (no balloon device?): not again until it changes */
		v->applied = true;
		v->sent_value = value;
		problem(v, why);
		return ret;
	}
	if (ret) {
		problem(v, why);
		qmp_close(&v->q);
		v->retry_at = mvc_now() + RETRY_S;
		return ret;
	}
	v->applied = true;
	v->sent_value = value;
	v->last_why[0] = 0;
	printf("balloon-agent: %s (id %llu): target %llu pages -> balloon %llu bytes\n",
	       mvc_basename(v->name), v->id, target, value);
	return 0;
}

static int parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--once")) {
			ag.once = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			ag.verbose = true;
		} else if (!strcmp(a, "--qmp-dir") || !strcmp(a, "--min-mb") ||
			   !strcmp(a, "--qmp")) {
			const char *val = argv[i + 1];

			if (i + 1 >= argc)
				return mvc_usage_err("balloon-agent", "%s needs a value", a);
			i++;
			if (!strcmp(a, "--qmp-dir")) {
				ag.qmp_dir = val;
			} else if (!strcmp(a, "--min-mb")) {
				if (!mvc_is_u64(val) || strtoull(val, NULL, 10) > (1ULL << 40))
					return mvc_usage_err("balloon-agent",
							     "--min-mb takes MiB, not '%s'", val);
				ag.min_mb = strtoull(val, NULL, 10);
			} else {
				char *eq = strchr(val, '=');
				struct qmp_opt *n;

				if (!eq || eq == val || !eq[1])
					return mvc_usage_err("balloon-agent",
							     "--qmp takes NAME=PATH, not '%s'", val);
				n = realloc(ag.qmp, (ag.nr_qmp + 1) * sizeof(*n));
				if (!n)
					return MVC_FAIL;
				ag.qmp = n;
				ag.qmp[ag.nr_qmp].name = strndup(val, eq - val);
				ag.qmp[ag.nr_qmp++].path = eq + 1;
			}
		} else {
			return mvc_usage_err("balloon-agent", "unknown argument '%s'", a);
		}
	}
	return 0;
}

int cmd_balloon_agent(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	double next_rescan = 0;
	bool failed = false;
	int ret, i;

	ret = parse_args(argc, argv);
	if (ret)
		return ret;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = mvc_check_loaded();
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", mvc_sysfs);
		return MVC_FAIL;
	}
	while (!stop) {
		struct pollfd *pfd;
		double wait_s = RESCAN_S;
		int n = 0;

		if (mvc_now() >= next_rescan) {
			ret = rescan();
			if (ret) {
				mvc_err(-ret, mvc_sysfs_hint(-ret), "%s/vms", mvc_sysfs);
				if (ag.once)
					return MVC_FAIL;
			}
			next_rescan = mvc_now() + RESCAN_S;
		}
		for (i = 0; i < ag.nr_vms && !stop; i++)
			if (follow(ag.vms[i]) && ag.once)
				failed = true;
		if (ag.once || stop)
			break;
		pfd = calloc(2 * ag.nr_vms + 1, sizeof(*pfd));
		if (!pfd)
			return MVC_FAIL;
		for (i = 0; i < ag.nr_vms; i++) {
			struct avm *v = ag.vms[i];

			pfd[n++] = (struct pollfd){ .fd = v->tfd, .events = POLLPRI | POLLERR };
			pfd[n++] = (struct pollfd){ .fd = v->q.fd, .events = POLLIN };
			if (v->q.fd < 0 && v->retry_at - mvc_now() < wait_s)
				wait_s = v->retry_at - mvc_now();
		}
		if (wait_s < 0.01)
			wait_s = 0.01;
		ret = poll(pfd, n, (int)(wait_s * 1000));
		if (ret > 0) {
			for (i = 0; i < ag.nr_vms; i++) {
				struct avm *v = ag.vms[i];

				if (v->q.fd < 0 || !pfd[2 * i + 1].revents)
					continue;
				/* events, or QEMU went away */
				ret = qmp_drain(&v->q);
				if (ret) {
					problem(v, ret == -ECONNRESET ? "QEMU closed the socket"
						: strerror(-ret));
					qmp_close(&v->q);
					v->retry_at = mvc_now() + RETRY_S;
				}
			}
		}
		free(pfd);
	}
	while (ag.nr_vms) {
		bool verbose = ag.verbose;

		ag.verbose = false;
		drop_vm(ag.nr_vms - 1);
		ag.verbose = verbose;
	}
	return failed ? MVC_FAIL : MVC_OK;
}

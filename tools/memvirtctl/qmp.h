/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qmp.h - a minimal QMP client: connect, read the greeting, negotiate
 * capabilities, run a command and wait for its reply (events skipped),
 * every wait bounded.
 */
#ifndef MEMVIRTCTL_QMP_H
#define MEMVIRTCTL_QMP_H

#include <stddef.h>

struct qmp {
	int fd;
	size_t len;
	char buf[16384];
};

/*
 * Connect to the QMP socket @path, read the greeting and run
 * qmp_capabilities, each reply within @timeout_ms: 0, or -errno with the
 * reason in @why (-ETIMEDOUT: QEMU did not answer, -EPROTO: not QMP or an
 * error reply).
 */
int qmp_open(struct qmp *q, const char *path, int timeout_ms, char *why, size_t len);
/* Send one command line (a JSON object) and wait for its reply; as above. */
int qmp_command(struct qmp *q, const char *cmd, int timeout_ms, char *why, size_t len);
/*
 * Read and drop what QEMU sent on its own (events), without waiting:
 * 0, or -errno (-ECONNRESET: QEMU closed the socket).
 */
int qmp_drain(struct qmp *q);
void qmp_close(struct qmp *q);

#endif /* MEMVIRTCTL_QMP_H */

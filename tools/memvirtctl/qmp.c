// SPDX-License-Identifier: GPL-2.0
/*
 * qmp.c - a minimal QMP client over a unix socket. Replies are told apart
 * from events by their top-level key ("return", "error" or "event"); the
 * JSON is not otherwise parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qmp.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * The value of top-level key @key of the JSON object @s, or NULL. Strings
 * are skipped with their escapes; nesting is counted.
 */
static const char *top_key(const char *s, const char *key)
{
	size_t klen = strlen(key);
	int depth = 0;

	for (; *s; s++) {
		if (*s == '{' || *s == '[') {
			depth++;
		} else if (*s == '}' || *s == ']') {
			depth--;
		} else if (*s == '"') {
			const char *start = s + 1;

			for (s++; *s && *s != '"'; s++)
				if (*s == '\\' && s[1])
					s++;
			if (!*s)
				return NULL;
			if (depth == 1 && (size_t)(s - start) == klen &&
			    !strncmp(start, key, klen)) {
				const char *v = s + 1;

				while (*v == ' ' || *v == '\t')
					v++;
				if (*v == ':')
					return v + 1;
			}
		}
	}
	return NULL;
}

/* Copy the "desc" string of an error reply into @why. */
static void error_desc(const char *err, char *why, size_t len)
{
	const char *d = strstr(err, "\"desc\"");
	size_t n = 0;

	if (d)
		d = strchr(d + 6, '"');
	if (!d) {
		snprintf(why, len, "QMP error: %.200s", err);
		return;
	}
	n = snprintf(why, len, "QMP error: ");
	for (d++; *d && *d != '"' && n + 1 < len; d++) {
		if (*d == '\\' && d[1])
			d++;
		why[n++] = *d;
	}
	why[n < len ? n : len - 1] = 0;
}

/* The next line, within @deadline (ms): 0, or -errno. */
static int read_line(struct qmp *q, long long deadline, char *line, size_t len)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		long long left;
		ssize_t n;
		int r;

		if (nl) {
			size_t l = nl - q->buf;

			if (l >= len)
				return -EPROTO;
			memcpy(line, q->buf, l);
			line[l] = 0;
			if (l && line[l - 1] == '\r')
				line[l - 1] = 0;
			memmove(q->buf, nl + 1, q->len - l - 1);
			q->len -= l + 1;
			return 0;
		}
		if (q->len == sizeof(q->buf))
			return -EPROTO;
		left = deadline - now_ms();
		if (left < 0)
			left = 0;	/* one last look */
		r = poll(&p, 1, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		if (!r)
			return -ETIMEDOUT;
		n = recv(q->fd, q->buf + q->len, sizeof(q->buf) - q->len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -ECONNRESET;
		q->len += n;
	}
}

static int send_all(struct qmp *q, const char *s, long long deadline)
{
	size_t len = strlen(s), done = 0;

	while (done < len) {
		struct pollfd p = { .fd = q->fd, .events = POLLOUT };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return -ETIMEDOUT;
		n = send(q->fd, s + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	return 0;
}

static void why_errno(int err, int timeout_ms, char *why, size_t len, const char *what)
{
	if (err == ETIMEDOUT)
		snprintf(why, len, "QEMU not answering within %d.%d s %s", timeout_ms / 1000,
			 timeout_ms % 1000 / 100, what);
	else if (err == ECONNRESET)
		snprintf(why, len, "QEMU closed the socket %s", what);
	else if (err == EPROTO)
		snprintf(why, len, "not a QMP answer %s", what);
	else
		snprintf(why, len, "%s %s", strerror(err), what);
}

int qmp_command(struct qmp *q, const char *cmd, int timeout_ms, char *why, size_t len)
{
	long long deadline = now_ms() + timeout_ms;
	char line[sizeof(q->buf)];
	const char *err;
	int ret;

	ret = send_all(q, cmd, deadline);
	if (ret) {
		why_errno(-ret, timeout_ms, why, len, "(sending a command)");
		return ret;
	}
	for (;;) {
		ret = read_line(q, deadline, line, sizeof(line));
		if (ret) {
			why_errno(-ret, timeout_ms, why, len, "(waiting for a reply)");
			return ret;
		}
		if (top_key(line, "return"))
			return 0;
		err = top_key(line, "error");
		if (err) {
			error_desc(err, why, len);
			return -EPROTO;
		}
		/* an event, or something else: not our reply */
	}
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[sizeof(q->buf)];
	int ret;

	q->len = 0;
	q->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, len, "socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0) {
		ret = -errno;
		snprintf(why, len, "socket: %s", strerror(errno));
		return ret;
	}
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (errno == ENOENT)
			snprintf(why, len, "socket missing");
		else if (errno == ECONNREFUSED)
			snprintf(why, len, "nobody listening (QEMU not running?)");
		else
			snprintf(why, len, "connect: %s", strerror(errno));
		qmp_close(q);
		return ret;
	}
	ret = read_line(q, now_ms() + timeout_ms, line, sizeof(line));
	if (!ret && !top_key(line, "QMP"))
		ret = -EPROTO;
	if (ret) {
		why_errno(-ret, timeout_ms, why, len, "(waiting for the greeting)");
		qmp_close(q);
		return ret;
	}
	ret = qmp_command(q, "{\"execute\":\"qmp_capabilities\"}\n", timeout_ms, why, len);
	if (ret)
		qmp_close(q);
	return ret;
}

int qmp_drain(struct qmp *q)
{
	char line[sizeof(q->buf)];
	int ret;

	for (;;) {
		ret = read_line(q, now_ms(), line, sizeof(line));
		if (ret == -ETIMEDOUT)
			return 0;
		if (ret)
			return ret;
	}
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	q->len = 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * qmp: send QMP commands to a QEMU and print the answers, for the test VM of
 * qemu_guest_test (busybox has no client for Unix sockets).
 *
 *   qmp SOCKET 'JSON' ...
 *
 * Connects, reads the greeting, negotiates (qmp_capabilities), then sends
 * each JSON command and prints its answer (the first line with "return" or
 * "error"; events are skipped) on one line. Exits 0 if every command
 * returned, 1 on a QMP error, 2 if QEMU cannot be reached or does not answer
 * within 10 s. After "quit", QEMU may close the socket before it answers:
 * that counts as success.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char buf[65536];
static size_t len;

/* One line from the socket into line (NUL-terminated); 0 at EOF. */
static int get_line(int fd, char *line, size_t max)
{
	char *nl;
	ssize_t n;

	while (!(nl = memchr(buf, '\n', len))) {
		if (len == sizeof(buf))
			len = 0;	/* an overlong line: drop it */
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return 0;
		len += n;
	}
	n = nl - buf + 1;
	if ((size_t)n >= max)
		n = max - 1;
	memcpy(line, buf, n);
	line[n] = 0;
	len -= nl - buf + 1;
	memmove(buf, nl + 1, len);
	return 1;
}

/* Send cmd, wait for its answer; 0 if it returned, 1 on an error answer. */
static int execute(int fd, const char *cmd, int print, int quitting)
{
	static char line[65536];

	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		fprintf(stderr, "qmp: write: %s\n", strerror(errno));
		return quitting ? 0 : 2;
	}
	for (;;) {
		if (!get_line(fd, line, sizeof(line))) {
			if (quitting)
				return 0;
			fprintf(stderr, "qmp: QEMU closed the connection\n");
			return 2;
		}
		if (strstr(line, "\"return\"") || strstr(line, "\"error\"")) {
			if (print)
				fputs(line, stdout);
			return strstr(line, "\"error\"") ? 1 : 0;
		}
	}
}

static void timeout(int sig)
{
	(void)sig;
	fprintf(stderr, "qmp: no answer within 10 s\n");
	_exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[4096];
	int fd, i, rc = 0, r;

	if (argc < 3) {
		fprintf(stderr, "usage: qmp SOCKET 'JSON' ...\n");
		return 2;
	}
	signal(SIGALRM, timeout);
	signal(SIGPIPE, SIG_IGN);
	alarm(10);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strncpy(sa.sun_path, argv[1], sizeof(sa.sun_path) - 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "qmp: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (!get_line(fd, line, sizeof(line)) || !strstr(line, "QMP")) {
		fprintf(stderr, "qmp: %s: no QMP greeting\n", argv[1]);
		return 2;
	}
	r = execute(fd, "{\"execute\": \"qmp_capabilities\"}", 0, 0);
	if (r)
		return 2;
	for (i = 2; i < argc; i++) {
		r = execute(fd, argv[i], 1, strstr(argv[i], "\"quit\"") != NULL);
		if (r > rc)
			rc = r;
	}
	close(fd);
	return rc;
}

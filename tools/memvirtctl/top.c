// SPDX-License-Identifier: GPL-2.0
/*
 * top.c - memvirtctl top: the global state and one row per VM, in the
 * spirit of esxtop's memory view; a live screen on a terminal (ANSI
 * escapes, keys to sort), plain frames otherwise, CSV with -b.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "memvirtctl.h"

enum col {
	C_ID, C_NAME, C_SIZE, C_TARGET, C_ACTIVE, C_RESIDENT, C_BALLOONED, C_SHARED,
	C_ZERO, C_COMPRESSED, C_SWAPPED, C_SWAPIN, C_SWAPOUT, C_BTARGET, C_NR
};

static const struct {
	const char *name;	/* for -s */
	const char *title;	/* screen header */
	int width;
	char key;		/* interactive sort key */
} cols[C_NR] = {
	[C_ID] = { "id", "ID", 5, 'i' },
	[C_NAME] = { "name", "NAME", 16, 'n' },
	[C_SIZE] = { "size", "SIZE", 8, 's' },
	[C_TARGET] = { "target", "TARGET", 8, 't' },
	[C_ACTIVE] = { "active", "ACT%", 5, 'a' },
	[C_RESIDENT] = { "resident", "RESID", 8, 'm' },
	[C_BALLOONED] = { "ballooned", "BALLN", 8, 'b' },
	[C_SHARED] = { "shared", "SHARED", 8, 'h' },
	[C_ZERO] = { "zero", "ZERO", 8, 'z' },
	[C_COMPRESSED] = { "compressed", "COMPR", 8, 'c' },
	[C_SWAPPED] = { "swapped", "SWAPPED", 8, 'w' },
	[C_SWAPIN] = { "swapin", "SWIN/s", 8, 'I' },
	[C_SWAPOUT] = { "swapout", "SWOUT/s", 8, 'O' },
	[C_BTARGET] = { "balloon_target", "BTARGET", 8, 0 },
};

struct row {
	u64v id;
	char name[256];
	double v[C_NR];
	bool have[C_NR];
	u64v swap_ins, swap_outs;
	bool have_ins, have_outs;
};

struct frame {
	double t;
	struct row *rows;
	int n;
};

static struct {
	enum col sort;
	bool reverse;
	bool sort_given;
} ord = { .sort = C_RESIDENT };

static volatile sig_atomic_t top_stop;

static void top_signal(int sig)
{
	top_stop = 1;
}

/* vms/<id>/<file> in MiB from pages (@pages) or bytes; or as is (@raw). */
static void fetch(struct row *r, enum col c, const char *file, double scale)
{
	u64v val;

	r->have[c] = !mvc_vm_u64(r->id, file, &val);
	r->v[c] = r->have[c] ? val * scale : 0;
}

static int sample(struct frame *f, const struct frame *prev)
{
	const double pg = (double)MVC_PAGE / MVC_MIB;
	u64v *ids;
	int n, i, k;

	n = mvc_list_vms(&ids);
	if (n < 0)
		return n;
	f->t = mvc_now();
	f->rows = calloc(n ? n : 1, sizeof(*f->rows));
	f->n = 0;
	for (i = 0; i < n; i++) {
		struct row *r = &f->rows[f->n];

		r->id = ids[i];
		if (mvc_vm_read(r->id, "name", r->name, sizeof(r->name)))
			continue;	/* gone */
		r->have[C_ID] = r->have[C_NAME] = true;
		r->v[C_ID] = (double)r->id;
		fetch(r, C_SIZE, "size", 1.0 / MVC_MIB);
		fetch(r, C_TARGET, "target", pg);
		fetch(r, C_ACTIVE, "active_estimate", 1);
		fetch(r, C_RESIDENT, "resident", pg);
		fetch(r, C_BALLOONED, "ballooned", pg);
		fetch(r, C_SHARED, "shared", pg);
		fetch(r, C_ZERO, "zero", pg);
		fetch(r, C_COMPRESSED, "compressed", pg);
		fetch(r, C_SWAPPED, "swapped", pg);
		fetch(r, C_BTARGET, "balloon_target", pg);
		r->have_ins = !mvc_vm_u64(r->id, "swap_ins", &r->swap_ins);
		r->have_outs = !mvc_vm_u64(r->id, "swap_outs", &r->swap_outs);
		r->have[C_SWAPIN] = r->have_ins;
		r->have[C_SWAPOUT] = r->have_outs;
		/* rates since the previous frame; 0 in the first one */
		for (k = 0; prev && k < prev->n; k++) {
			const struct row *p = &prev->rows[k];
			double dt = f->t - prev->t;

			if (p->id != r->id || dt <= 0)
				continue;
			if (r->have_ins && p->have_ins && r->swap_ins >= p->swap_ins)
				r->v[C_SWAPIN] = (r->swap_ins - p->swap_ins) / dt;
			if (r->have_outs && p->have_outs && r->swap_outs >= p->swap_outs)
				r->v[C_SWAPOUT] = (r->swap_outs - p->swap_outs) / dt;
		}
		f->n++;
	}
	free(ids);
	return 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c;

	if (x->have[ord.sort] != y->have[ord.sort])
		return x->have[ord.sort] ? -1 : 1;	/* '-' last */
	if (ord.sort == C_NAME)
		c = strcmp(x->name, y->name);
	else if (x->v[ord.sort] != y->v[ord.sort])
		c = x->v[ord.sort] < y->v[ord.sort] ? -1 : 1;
	else
		c = x->id < y->id ? -1 : x->id > y->id;
	if (ord.sort != C_ID && ord.sort != C_NAME)
		c = -c;		/* numbers: largest first */
	return ord.reverse ? -c : c;
}

/* The policy state as one word, "-" if unknown. */
static void read_state(char *buf, size_t len)
{
	if (mvc_read("policy/state", buf, len))
		snprintf(buf, len, "-");
}

static void csv_name(const char *s)
{
	if (!strpbrk(s, ",\"")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_csv(const struct frame *f, double t0)
{
	static const enum col order[] = {
		C_SIZE, C_TARGET, C_ACTIVE, C_RESIDENT, C_BALLOONED, C_SHARED, C_ZERO,
		C_COMPRESSED, C_SWAPPED, C_SWAPIN, C_SWAPOUT,
	};
	char state[32];
	int i;
	size_t c;

	read_state(state, sizeof(state));
	for (i = 0; i < f->n; i++) {
		const struct row *r = &f->rows[i];

		printf("%.1f,%s,%llu,", f->t - t0, state, r->id);
		csv_name(r->name);
		for (c = 0; c < ARRAY_SIZE(order); c++) {
			if (!r->have[order[c]])
				fputs(",-", stdout);
			else if (order[c] == C_ACTIVE)
				printf(",%.0f", r->v[order[c]]);
			else
				printf(",%.1f", r->v[order[c]]);
		}
		putchar('\n');
	}
	fflush(stdout);
}

/* A global number, or "-". */
static const char *gval(const char *rel, char *buf, size_t len)
{
	if (mvc_read(rel, buf, len))
		snprintf(buf, len, "-");
	return buf;
}

static const char *mib(const char *rel, double scale, char *buf, size_t len)
{
	u64v v;

	if (mvc_read_u64(rel, &v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f MiB", v * scale);
	return buf;
}

static void print_screen(const struct frame *f, bool tty)
{
	const double pg = (double)MVC_PAGE / MVC_MIB;
	char a[64], b[64], c[64], d[64], e[64], ms[256], *p;
	time_t now = time(NULL);
	struct tm tm;
	int i, k;

	localtime_r(&now, &tm);
	if (tty)
		fputs("\033[H\033[2J", stdout);
	if (mvc_read("policy/state_ms", ms, sizeof(ms)))
		snprintf(ms, sizeof(ms), "-");
	for (p = ms; *p; p++)
		if (*p == '\n')
			*p = ',';
	read_state(a, sizeof(a));
	printf("memvirt %02d:%02d:%02d  state %s  (ms in each: %s)\n", tm.tm_hour, tm.tm_min,
	       tm.tm_sec, a, ms);
	printf("budget %s MiB  committed %s MiB  overcommit_ratio %s%%  vms %s\n",
	       gval("budget_mb", a, sizeof(a)), gval("committed_mb", b, sizeof(b)),
	       gval("overcommit_ratio", c, sizeof(c)), gval("nr_vms", d, sizeof(d)));
	printf("free %s  avail %s  resident %s\n", mib("policy/free_pages", pg, a, sizeof(a)),
	       mib("policy/avail_pages", pg, b, sizeof(b)), mib("resident_pages", pg, c, sizeof(c)));
	printf("dedup sharing %s saved %s  swap pool %s  compressed %s swapped %s\n",
	       mib("dedup/sharing", pg, a, sizeof(a)), mib("dedup/saved", pg, b, sizeof(b)),
	       mib("swap/pool_bytes", 1.0 / MVC_MIB, c, sizeof(c)),
	       mib("swap/compressed", pg, d, sizeof(d)), mib("swap/swapped", pg, e, sizeof(e)));
	printf("\n%s", tty ? "\033[7m" : "");
	for (k = 0; k < C_NR; k++)
		printf(k == C_NAME ? " %-*s" : " %*s", cols[k].width, cols[k].title);
	printf("%s\n", tty ? "\033[0m" : "");
	for (i = 0; i < f->n; i++) {
		const struct row *r = &f->rows[i];

		for (k = 0; k < C_NR; k++) {
			if (k == C_NAME)
				printf(" %-*.*s", cols[k].width, cols[k].width, r->name);
			else if (!r->have[k])
				printf(" %*s", cols[k].width, "-");
			else if (k == C_ID || k == C_ACTIVE)
				printf(" %*.0f", cols[k].width, r->v[k]);
			else
				printf(" %*.1f", cols[k].width, r->v[k]);
		}
		putchar('\n');
	}
	printf("(MiB; rates in pages/s; sorted by %s%s%s)\n", cols[ord.sort].name,
	       ord.reverse ? ", reversed" : "", tty ? "; q quits, see 'memvirtctl help top'" : "");
	if (!tty)
		putchar('\n');
	fflush(stdout);
}

static int col_by_name(const char *s)
{
	size_t len = strlen(s);
	int k;

	if (len > 3 && !strcmp(s + len - 3, "_mb"))
		len -= 3;
	if (!strcmp(s, "vm"))
		return C_ID;
	if (!strcmp(s, "active_pct"))
		return C_ACTIVE;
	if (!strcmp(s, "swapin_per_s"))
		return C_SWAPIN;
	if (!strcmp(s, "swapout_per_s"))
		return C_SWAPOUT;
	for (k = 0; k < C_NR; k++)
		if (strlen(cols[k].name) == len && !strncmp(s, cols[k].name, len))
			return k;
	return -1;
}

static struct termios saved_tio;
static bool tio_saved;

static void restore_tty(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

/* A key: true if the screen should be drawn again. */
static bool handle_key(char ch)
{
	int k;

	if (ch == 'q' || ch == 'Q') {
		top_stop = 1;
		return false;
	}
	if (ch == 'r') {
		ord.reverse = !ord.reverse;
		return true;
	}
	for (k = 0; k < C_NR; k++) {
		if (cols[k].key && cols[k].key == ch) {
			ord.sort = k;
			return true;
		}
	}
	return false;
}

int cmd_top(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = top_signal };
	bool batch = false, tty, keys;
	struct frame prev = { 0 }, cur = { 0 };
	double delay = 2, t0, next;
	long long iters = -1, frames = 0;
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-b")) {
			batch = true;
		} else if (!strcmp(a, "-r")) {
			ord.reverse = true;
		} else if (a[0] == '-' && a[1] && strchr("dns", a[1])) {
			/* The value follows, or is attached: -n 1 or -n1. */
			const char *val = a + 2;

			if (!*val) {
				if (i + 1 >= argc)
					return mvc_usage_err("top", "%s needs a value", a);
				val = argv[++i];
			}
			if (a[1] == 'd') {
				if (mvc_parse_secs(val, &delay))
					return mvc_usage_err("top", "-d takes seconds, not '%s'",
							     val);
			} else if (a[1] == 'n') {
				if (!mvc_is_u64(val) || strlen(val) > 12)
					return mvc_usage_err("top", "-n takes a count, not '%s'",
							     val);
				iters = strtoll(val, NULL, 10);
			} else {
				ret = col_by_name(val);
				if (ret < 0)
					return mvc_usage_err("top", "no column '%s'", val);
				ord.sort = ret;
				ord.sort_given = true;
			}
		} else {
			return mvc_usage_err("top", "unknown argument '%s'", a);
		}
	}
	ret = mvc_check_loaded();
	if (ret) {
		mvc_err(-ret, mvc_sysfs_hint(-ret), "%s", mvc_sysfs);
		return MVC_FAIL;
	}
	tty = !batch && isatty(STDOUT_FILENO);
	keys = tty && isatty(STDIN_FILENO);
	if (iters < 0)
		iters = tty ? 0 : 1;
	if (batch && !ord.sort_given)
		ord.sort = C_ID;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (keys && !tcgetattr(STDIN_FILENO, &saved_tio)) {
		struct termios raw = saved_tio;

		tio_saved = true;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	if (batch)
		printf("time_s,state,vm,name,size_mb,target_mb,active_pct,resident_mb,ballooned_mb,shared_mb,zero_mb,compressed_mb,swapped_mb,swapin_per_s,swapout_per_s\n");
	t0 = mvc_now();
	next = t0;
	ret = MVC_OK;
	while (!top_stop) {
		ret = sample(&cur, frames ? &prev : NULL);
		if (ret) {
			restore_tty();
			mvc_err(-ret, mvc_sysfs_hint(-ret), "%s/vms", mvc_sysfs);
			ret = MVC_FAIL;
			break;
		}
		if (!batch || ord.sort_given)
			qsort(cur.rows, cur.n, sizeof(*cur.rows), cmp_rows);
		if (batch)
			print_csv(&cur, t0);
		else
			print_screen(&cur, tty);
		free(prev.rows);
		prev = cur;
		cur.rows = NULL;
		frames++;
		if (iters && frames >= iters)
			break;
		next += delay;
		while (!top_stop) {
			double left = next - mvc_now();
			struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
			char ch;

			if (left <= 0)
				break;
			if (poll(&p, keys ? 1 : 0, (int)(left * 1000) + 1) > 0 &&
			    read(STDIN_FILENO, &ch, 1) == 1 && handle_key(ch)) {
				qsort(prev.rows, prev.n, sizeof(*prev.rows), cmp_rows);
				print_screen(&prev, tty);
			}
		}
	}
	free(prev.rows);
	restore_tty();
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * l2work: the workload of the nested (L2) QEMU guest of qemu_guest_test.
 *
 * Reads commands, one a line, from stdin (the guest's second serial port,
 * which the L1 test writes through a FIFO) and answers each with one line on
 * stdout (the guest's console, which QEMU writes to a file the test reads):
 *
 *   SEQ fill MB SEED KIND   map MB MiB of anonymous memory and fill every
 *                           page with a pattern of (SEED, page); KIND is
 *                           "rand" (incompressible), "text" (compresses
 *                           well) or "mix" (even pages text, odd ones
 *                           rand); replaces the previous data
 *   SEQ rewrite SEED        rewrite the data in place with another seed
 *   SEQ verify              check every page of the data against the pattern
 *   SEQ free                unmap the data (the guest's free memory grows)
 *   SEQ scratch MB          map and write MB MiB more (memory the guest takes
 *                           back from its balloon, for instance)
 *   SEQ unscratch           unmap it
 *   SEQ meminfo             MemTotal and MemFree of the guest
 *   SEQ quit                exit (the guest's init then powers it off)
 *
 * Answers: "l2: SEQ CMD ok ..." or "l2: SEQ CMD FAILED ...". Checksums are
 * of the data's words, so two guests filled with one seed print the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))

static uint64_t *data, *scratch;
static size_t data_pages, scratch_pages;
static uint64_t seed;
static int kind;	/* 0 rand, 1 text, 2 mix */
static unsigned long verifies;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The expected word w of page p. */
static uint64_t word(uint64_t s, size_t p, size_t w)
{
	if (kind == 1 || (kind == 2 && !(p & 1)))	/* a few distinct words: LZ4 loves it */
		return (s << 40) ^ ((uint64_t)p << 8) ^ (w & 7);
	return mix((s << 32) ^ ((uint64_t)p * WORDS + w));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *map(size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static uint64_t fill(uint64_t s)
{
	uint64_t sum = 0, x;
	size_t p, w;

	for (p = 0; p < data_pages; p++)
		for (w = 0; w < WORDS; w++) {
			x = word(s, p, w);
			data[p * WORDS + w] = x;
			sum += x;
		}
	return sum;
}

static void cmd_fill(const char *seq, unsigned long mb, uint64_t s, const char *k)
{
	double t = now();
	uint64_t sum;

	if (data)
		munmap(data, data_pages * PAGE);
	data_pages = mb * 256;
	kind = !strcmp(k, "text") ? 1 : !strcmp(k, "mix") ? 2 : 0;
	data = map(data_pages);
	if (!data) {
		data_pages = 0;
		printf("l2: %s fill FAILED mmap %lu MiB: %s\n", seq, mb, strerror(errno));
		return;
	}
	seed = s;
	sum = fill(s);
	printf("l2: %s fill ok mb=%lu seed=%llu kind=%s sum=%016llx secs=%.1f\n", seq, mb,
	       (unsigned long long)s, k, (unsigned long long)sum, now() - t);
}

static void cmd_rewrite(const char *seq, uint64_t s)
{
	double t = now();
	uint64_t sum;

	if (!data) {
		printf("l2: %s rewrite FAILED no data\n", seq);
		return;
	}
	seed = s;
	sum = fill(s);
	printf("l2: %s rewrite ok seed=%llu sum=%016llx secs=%.1f\n", seq,
	       (unsigned long long)s, (unsigned long long)sum, now() - t);
}

static void cmd_verify(const char *seq)
{
	size_t p, w, bad = 0, first = 0;
	uint64_t sum = 0, x, got;
	double t = now();

	if (!data) {
		printf("l2: %s verify FAILED no data\n", seq);
		return;
	}
	verifies++;
	for (p = 0; p < data_pages; p++) {
		int page_bad = 0;

		for (w = 0; w < WORDS; w++) {
			x = word(seed, p, w);
			got = data[p * WORDS + w];
			sum += got;
			if (got != x)
				page_bad = 1;
		}
		if (page_bad && !bad++)
			first = p;
	}
	if (bad)
		printf("l2: %s verify FAILED %lu bad_pages=%zu first=%zu sum=%016llx\n", seq,
		       verifies, bad, first, (unsigned long long)sum);
	else
		printf("l2: %s verify ok %lu pages=%zu sum=%016llx secs=%.1f\n", seq, verifies,
		       data_pages, (unsigned long long)sum, now() - t);
}

static void cmd_scratch(const char *seq, unsigned long mb)
{
	size_t p;

	if (scratch)
		munmap(scratch, scratch_pages * PAGE);
	scratch_pages = mb * 256;
	scratch = map(scratch_pages);
	if (!scratch) {
		scratch_pages = 0;
		printf("l2: %s scratch FAILED mmap %lu MiB: %s\n", seq, mb, strerror(errno));
		return;
	}
	for (p = 0; p < scratch_pages; p++)
		memset(scratch + p * WORDS, 0x5a, PAGE);
	printf("l2: %s scratch ok mb=%lu\n", seq, mb);
}

static void cmd_meminfo(const char *seq)
{
	unsigned long total = 0, free_kb = 0, v;
	char line[256], key[64];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %lu", key, &v) != 2)
			continue;
		if (!strcmp(key, "MemTotal"))
			total = v;
		else if (!strcmp(key, "MemFree"))
			free_kb = v;
	}
	if (f)
		fclose(f);
	printf("l2: %s meminfo ok total_kb=%lu free_kb=%lu\n", seq, total, free_kb);
}

int main(void)
{
	char line[256], seq[32], cmd[32];
	unsigned long long a1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("l2: work ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		a1 = 0;
		if (sscanf(line, "%31s %31s %llu", seq, cmd, &a1) < 2)
			continue;
		if (!strcmp(cmd, "fill")) {
			char k[32] = "rand";
			unsigned long long s = 1;

			if (sscanf(line, "%*s %*s %llu %llu %31s", &a1, &s, k) < 2) {
				printf("l2: %s fill FAILED usage: fill MB SEED [rand|text|mix]\n", seq);
				continue;
			}
			cmd_fill(seq, a1, s, k);
		} else if (!strcmp(cmd, "rewrite")) {
			cmd_rewrite(seq, a1);
		} else if (!strcmp(cmd, "verify")) {
			cmd_verify(seq);
		} else if (!strcmp(cmd, "free")) {
			if (data)
				munmap(data, data_pages * PAGE);
			printf("l2: %s free ok mb=%zu\n", seq, data_pages / 256);
			data = NULL;
			data_pages = 0;
		} else if (!strcmp(cmd, "scratch")) {
			cmd_scratch(seq, a1);
		} else if (!strcmp(cmd, "unscratch")) {
			if (scratch)
				munmap(scratch, scratch_pages * PAGE);
			scratch = NULL;
			scratch_pages = 0;
			printf("l2: %s unscratch ok\n", seq);
		} else if (!strcmp(cmd, "meminfo")) {
			cmd_meminfo(seq);
		} else if (strcmp(cmd, "quit")) {
			printf("l2: %s %s FAILED unknown command\n", seq, cmd);
		} else {
			printf("l2: %s quit ok\n", seq);
			return 0;
		}
	}
	printf("l2: stdin closed\n");
	return 0;
}

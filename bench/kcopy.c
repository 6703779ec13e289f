/* SPDX-License-Identifier: MIT */
/*
 * kcopy: how fast the guest copies memory, in user mode and in its kernel
 * (bench/guest-copy runs it in guests; a static program, no initramfs change).
 *
 *   kcopy [DIR] [SECONDS]      DIR: a tmpfs directory (default /tmp)
 *
 * Three figures, MB/s (10^6 bytes), one JSON object on stdout:
 *  user_memcpy    memcpy of 1 MiB blocks in this process (guest CPL3);
 *  kernel_to_user pread() of 1 MiB from a tmpfs file already in memory:
 *                 the kernel's copy_to_user (copy_user_generic: rep movsb
 *                 with FSRM, else rep_movs_alternative: rep movsq);
 *  kernel_memcpy  copy_file_range() between two tmpfs files, 1 MiB a call:
 *                 tmpfs has no copy_file_range of its own, so the kernel
 *                 splices page references into a pipe and writes them with
 *                 a bvec iterator, whose copy is memcpy() (rep movsb with
 *                 FSRM, else memcpy_orig's unrolled loop): the routine the
 *                 swiotlb bounce (swiotlb_bounce -> memcpy) uses.
 * Each is repeated until SECONDS (default 3) have passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "kcopy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static volatile uint8_t sink;

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	double secs = argc > 2 ? atof(argv[2]) : 3.0, t0, t;
	char src[4096], dst[4096];
	uint8_t *a = malloc(BLOCK), *b = malloc(BLOCK);
	unsigned long long n;
	int fs, fd;

	if (!a || !b || secs <= 0)
		return fprintf(stderr, "usage: kcopy [DIR] [SECONDS]\n"), 2;
	for (unsigned i = 0; i < BLOCK; i++)
		a[i] = (uint8_t)(i * 131u + 7u);
	memset(b, 0, BLOCK);

	/* user mode */
	t0 = now();
	for (n = 0; (t = now()) - t0 < secs; n++) {
		memcpy(b, a, BLOCK);
		a[n % BLOCK] ^= b[(n * 4099) % BLOCK]; /* keep the copy */
	}
	sink = b[7];
	printf("{\"block\": %u, \"user_memcpy\": %.3f", BLOCK, (double)n * BLOCK / (t - t0) / 1e6);
	fflush(stdout);

	snprintf(src, sizeof(src), "%s/kcopy.src", dir);
	snprintf(dst, sizeof(dst), "%s/kcopy.dst", dir);
	fs = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fd = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fs < 0 || fd < 0)
		die("open");
	if (pwrite(fs, a, BLOCK, 0) != (ssize_t)BLOCK || pwrite(fd, a, BLOCK, 0) != (ssize_t)BLOCK)
		die("pwrite");

	/* kernel -> user */
	t0 = now();
	for (n = 0; (t = now()) - t0 < secs; n++)
		if (pread(fs, b, BLOCK, 0) != (ssize_t)BLOCK)
			die("pread");
	if (memcmp(a, b, BLOCK))
		return fprintf(stderr, "kcopy: pread returned other bytes\n"), 1;
	printf(", \"kernel_to_user\": %.3f", (double)n * BLOCK / (t - t0) / 1e6);
	fflush(stdout);

	/* kernel memcpy */
	t0 = now();
	for (n = 0; (t = now()) - t0 < secs; n++) {
		loff_t in = 0, out = 0;
		size_t left = BLOCK;

		while (left) {
			ssize_t r = copy_file_range(fs, &in, fd, &out, left, 0);

			if (r <= 0)
				die("copy_file_range");
			left -= (size_t)r;
		}
	}
	if (pread(fd, b, BLOCK, 0) != (ssize_t)BLOCK || memcmp(a, b, BLOCK))
		return fprintf(stderr, "kcopy: copy_file_range copied other bytes\n"), 1;
	printf(", \"kernel_memcpy\": %.3f, \"seconds\": %.1f}\n", (double)n * BLOCK / (t - t0) / 1e6, secs);
	unlink(src);
	unlink(dst);
	return 0;
}

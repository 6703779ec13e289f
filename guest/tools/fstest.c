/* SPDX-License-Identifier: MIT */
/*
 * fstest: file-system probes busybox does not have, for the virtio-fs boot
 * test (tests/boot/run, test_share). Each prints one result line and exits
 * 0, or prints the failing call and exits 1.
 *
 *   fstest mmap FILE         write FILE's bytes to stdout through mmap()
 *   fstest count DIR         number of entries (without . and ..) via getdents64
 *   fstest open-unlink FILE  open FILE, unlink it, then read it all through
 *                            the open descriptor: prints "<bytes> <stat-size>"
 *   fstest gen SEED SIZE FILE  write SIZE pseudo-random bytes (xorshift from
 *                            SEED) to FILE in 1 MiB write() calls: made in user
 *                            space, so the only kernel work is the writes
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "fstest: %s %s: ", what, arg);
	perror(NULL);
	return 1;
}

static int do_mmap(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	const char *p;
	size_t off = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fail("open", path);
	if (st.st_size == 0)
		return 0;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", path);
	while (off < (size_t)st.st_size) {
		ssize_t n = write(1, p + off, (size_t)st.st_size - off);

		if (n <= 0)
			return fail("write", "stdout");
		off += (size_t)n;
	}
	return 0;
}

struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int do_count(const char *path)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	unsigned long count = 0;
	long n;

	if (fd < 0)
		return fail("open", path);
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);

			if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
				count++;
			off += d->d_reclen;
		}
	}
	if (n < 0)
		return fail("getdents64", path);
	printf("%lu\n", count);
	return 0;
}

static int do_open_unlink(const char *path)
{
	char buf[65536];
	struct stat st;
	unsigned long total = 0;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("open", path);
	if (unlink(path) < 0)
		return fail("unlink", path);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "fstest: %s still there after unlink\n", path);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (unsigned long)n;
	if (n < 0)
		return fail("read", path);
	if (fstat(fd, &st) < 0)
		return fail("fstat", path);
	printf("%lu %lld\n", total, (long long)st.st_size);
	return 0;
}

static int do_gen(const char *seed_s, const char *size_s, const char *path)
{
	static unsigned char buf[1 << 20];
	unsigned long long x = strtoull(seed_s, NULL, 0) * 2654435761ULL + 88172645463325252ULL;
	unsigned long long left = strtoull(size_s, NULL, 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("open", path);
	while (left) {
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf), off = 0;

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (unsigned char)x;
		}
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w <= 0)
				return fail("write", path);
			off += (size_t)w;
		}
		left -= n;
	}
	if (close(fd) < 0)
		return fail("close", path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return do_gen(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "mmap") == 0)
		return do_mmap(argv[2]);
	if (argc == 3 && strcmp(argv[1], "count") == 0)
		return do_count(argv[2]);
	if (argc == 3 && strcmp(argv[1], "open-unlink") == 0)
		return do_open_unlink(argv[2]);
	fprintf(stderr, "usage: fstest mmap FILE | count DIR | open-unlink FILE | gen SEED SIZE FILE\n");
	return 2;
}

/* SPDX-License-Identifier: MIT */
/*
 * fsmodel: a randomized model-based test of a file system against another
 * one taken as the model: the same pseudo-random sequence of operations is
 * applied to a directory on each (the virtio-fs share and a guest tmpfs),
 * and every result must agree: return values, errno, then sizes, contents,
 * types and link counts of every name. Seeded and reproducible.
 *
 *   fsmodel [-s SEED] [-n OPS] [-c EVERY] [-v] TESTDIR MODELDIR
 *
 * TESTDIR and MODELDIR must exist and be empty. -n: operations (default
 * 500), -c: full comparison every EVERY operations (default 25, and at the
 * end), -v: print every operation. Prints one summary line and exits 0, or
 * prints the diverging operation with the last ones before it and exits 1.
 *
 * Operations, on a small namespace (a..e, s/a, s/b, so that names collide
 * and errors happen): open/create (O_CREAT, O_EXCL, O_TRUNC, O_APPEND) into
 * one of four descriptor slots, close, pwrite at offsets, pread (bytes
 * compared), ftruncate and truncate, rename and renameat2 (NOREPLACE,
 * EXCHANGE), link, unlink, mkdir, rmdir, write then read through a shared
 * mmap, fsync and fdatasync, fallocate (allocate, keep size, punch a hole),
 * copy_file_range between slots, fstat of a slot (size, link count).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSLOTS 4
#define MAXSIZE (192 * 1024)
#define HISTORY 24

static const char *const names[] = { "a", "b", "c", "d", "e", "s/a", "s/b", "s" };
#define NNAMES (sizeof(names) / sizeof(names[0]))

struct side {
	const char *dir;
	int dfd;
	int fd[NSLOTS];
};

static struct side sides[2];
static uint64_t rng;
static unsigned long step;
static char history[HISTORY][160];
static int verbose;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned pick(unsigned n) { return (unsigned)(next() % n); }

static void note(const char *fmt, ...)
{
	char *h = history[step % HISTORY];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h, sizeof(history[0]), fmt, ap);
	va_end(ap);
	if (verbose)
		printf("%lu: %s\n", step, h);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("fsmodel: DIVERGED at operation %lu: ", step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\nfsmodel: the operations before it (oldest first):\n");
	for (unsigned long i = step >= HISTORY ? step - HISTORY + 1 : 0; i <= step; i++)
		printf("  %lu: %s\n", i, history[i % HISTORY]);
	fflush(stdout);
	exit(1);
}

/* One result of a call on a side: the return value and errno. */
struct res {
	long ret;
	int err;
};

static struct res R(long ret) { return (struct res){ ret, ret < 0 ? errno : 0 }; }

static void same(const char *what, struct res t, struct res m)
{
	if (t.ret != m.ret || t.err != m.err)
		fail("%s: test gave %ld (%s), model %ld (%s)", what, t.ret, t.err ? strerror(t.err) : "ok", m.ret,
		     m.err ? strerror(m.err) : "ok");
}

/* Pseudo-random bytes for writes, the same for both sides. */
static void fill(uint8_t *b, size_t n)
{
	uint64_t x = next() | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static size_t rand_len(void)
{
	switch (pick(4)) {
	case 0: return pick(16);
	case 1: return pick(4096) + 1;
	case 2: return 4096 * (pick(8) + 1);
	default: return pick(65536) + 1;
	}
}

static off_t rand_off(void)
{
	switch (pick(4)) {
	case 0: return 0;
	case 1: return (off_t)pick(8192);
	case 2: return (off_t)(4096 * pick(32));
	default: return (off_t)pick(MAXSIZE - 65536);
	}
}

/* ---- operations: each runs on both sides and compares ---- */

static void op_open(void)
{
	static const int modes[] = { O_RDONLY, O_WRONLY, O_RDWR };
	unsigned slot = pick(NSLOTS);
	const char *name = names[pick(NNAMES)];
	int flags = modes[pick(3)], f = (int)pick(16);
	struct res r[2];

	if (f & 1)
		flags |= O_CREAT;
	if ((f & 2) && (flags & O_CREAT))
		flags |= O_EXCL;
	if ((f & 4) && (flags & O_ACCMODE) != O_RDONLY)
		flags |= O_TRUNC;
	if (f & 8)
		flags |= O_APPEND;
	note("open slot %u %s flags 0%o", slot, name, flags);
	for (int s = 0; s < 2; s++) {
		if (sides[s].fd[slot] >= 0)
			close(sides[s].fd[slot]);
		sides[s].fd[slot] = openat(sides[s].dfd, name, flags | O_CLOEXEC, 0644);
		r[s] = R(sides[s].fd[slot] < 0 ? -1 : 0);
	}
	same("open", r[0], r[1]);
}

static void op_close(void)
{
	unsigned slot = pick(NSLOTS);

	note("close slot %u", slot);
	for (int s = 0; s < 2; s++) {
		if (sides[s].fd[slot] >= 0)
			close(sides[s].fd[slot]);
		sides[s].fd[slot] = -1;
	}
}

static void op_pwrite(void)
{
	static uint8_t buf[65536];
	unsigned slot = pick(NSLOTS);
	size_t len = rand_len();
	off_t off = rand_off();
	struct res r[2];

	fill(buf, len);
	note("pwrite slot %u off %lld len %zu", slot, (long long)off, len);
	for (int s = 0; s < 2; s++)
		r[s] = R(pwrite(sides[s].fd[slot], buf, len, off));
	same("pwrite", r[0], r[1]);
}

static void op_write(void)
{
	static uint8_t buf[65536];
	unsigned slot = pick(NSLOTS);
	size_t len = rand_len();
	struct res r[2];

	fill(buf, len);
	note("write slot %u len %zu", slot, len);
	for (int s = 0; s < 2; s++)
		r[s] = R(write(sides[s].fd[slot], buf, len));
	same("write", r[0], r[1]);
}

static void op_pread(void)
{
	static uint8_t b[2][65536];
	unsigned slot = pick(NSLOTS);
	size_t len = rand_len();
	off_t off = rand_off();
	struct res r[2];

	note("pread slot %u off %lld len %zu", slot, (long long)off, len);
	for (int s = 0; s < 2; s++)
		r[s] = R(pread(sides[s].fd[slot], b[s], len, off));
	same("pread", r[0], r[1]);
	if (r[0].ret > 0 && memcmp(b[0], b[1], (size_t)r[0].ret))
		fail("pread: the bytes differ");
}

static void op_ftruncate(void)
{
	unsigned slot = pick(NSLOTS);
	off_t len = pick(2) ? rand_off() : (off_t)pick(MAXSIZE);
	struct res r[2];

	note("ftruncate slot %u to %lld", slot, (long long)len);
	for (int s = 0; s < 2; s++)
		r[s] = R(ftruncate(sides[s].fd[slot], len));
	same("ftruncate", r[0], r[1]);
}

static void op_truncate(void)
{
	const char *name = names[pick(NNAMES)];
	off_t len = rand_off();
	struct res r[2];
	char p[512];

	note("truncate %s to %lld", name, (long long)len);
	for (int s = 0; s < 2; s++) {
		snprintf(p, sizeof(p), "%s/%s", sides[s].dir, name);
		r[s] = R(truncate(p, len));
	}
	same("truncate", r[0], r[1]);
}

static void op_rename(void)
{
	static const unsigned fl[] = { 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE };
	const char *from = names[pick(NNAMES)], *to = names[pick(NNAMES)];
	unsigned flags = fl[pick(4)];
	struct res r[2];

	note("rename %s -> %s flags %u", from, to, flags);
	for (int s = 0; s < 2; s++)
		r[s] = R(renameat2(sides[s].dfd, from, sides[s].dfd, to, flags));
	same("rename", r[0], r[1]);
}

static void op_link(void)
{
	const char *from = names[pick(NNAMES)], *to = names[pick(NNAMES)];
	struct res r[2];

	note("link %s -> %s", from, to);
	for (int s = 0; s < 2; s++)
		r[s] = R(linkat(sides[s].dfd, from, sides[s].dfd, to, 0));
	same("link", r[0], r[1]);
}

static void op_unlink(void)
{
	const char *name = names[pick(NNAMES)];
	struct res r[2];

	note("unlink %s", name);
	for (int s = 0; s < 2; s++)
		r[s] = R(unlinkat(sides[s].dfd, name, 0));
	same("unlink", r[0], r[1]);
}

static void op_mkdir(void)
{
	const char *name = names[pick(NNAMES)];
	struct res r[2];

	note("mkdir %s", name);
	for (int s = 0; s < 2; s++)
		r[s] = R(mkdirat(sides[s].dfd, name, 0755));
	same("mkdir", r[0], r[1]);
}

static void op_rmdir(void)
{
	const char *name = names[pick(NNAMES)];
	struct res r[2];

	note("rmdir %s", name);
	for (int s = 0; s < 2; s++)
		r[s] = R(unlinkat(sides[s].dfd, name, AT_REMOVEDIR));
	same("rmdir", r[0], r[1]);
}

/* Write through a shared mapping, then read it back with pread. */
static void op_mmap(void)
{
	static uint8_t buf[16384], back[2][16384];
	unsigned slot = pick(NSLOTS);
	size_t len = pick(sizeof(buf)) + 1;
	off_t off = (off_t)(4096 * pick(8));
	struct stat st[2];
	struct res r[2];

	fill(buf, len);
	note("mmap write slot %u off %lld len %zu", slot, (long long)off, len);
	for (int s = 0; s < 2; s++)
		r[s] = R(fstat(sides[s].fd[slot], &st[s]));
	same("mmap: fstat", r[0], r[1]);
	if (r[0].ret < 0 || !S_ISREG(st[0].st_mode))
		return;
	if (st[0].st_size != st[1].st_size)
		fail("mmap: sizes %lld and %lld", (long long)st[0].st_size, (long long)st[1].st_size);
	if (st[0].st_size < off + (off_t)len)
		return; /* beyond the end a mapping faults (SIGBUS): not a test of the file system */
	for (int s = 0; s < 2; s++) {
		uint8_t *p = mmap(NULL, (size_t)off + len, PROT_READ | PROT_WRITE, MAP_SHARED, sides[s].fd[slot], 0);

		r[s] = R(p == MAP_FAILED ? -1 : 0);
		if (p == MAP_FAILED)
			continue;
		memcpy(p + off, buf, len);
		r[s] = R(msync(p, (size_t)off + len, MS_SYNC));
		munmap(p, (size_t)off + len);
	}
	same("mmap", r[0], r[1]);
	if (r[0].ret < 0)
		return;
	for (int s = 0; s < 2; s++) {
		char p[512];
		int fd;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", sides[s].fd[slot]);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		r[s] = R(fd < 0 ? -1 : pread(fd, back[s], len, off));
		if (fd >= 0)
			close(fd);
	}
	same("mmap: read back", r[0], r[1]);
	if (r[0].ret == (long)len && (memcmp(back[0], buf, len) || memcmp(back[1], buf, len)))
		fail("mmap: the bytes read back differ from those written");
}

static void op_fsync(void)
{
	unsigned slot = pick(NSLOTS);
	int data = (int)pick(2);
	struct res r[2];

	note("%s slot %u", data ? "fdatasync" : "fsync", slot);
	for (int s = 0; s < 2; s++)
		r[s] = R(data ? fdatasync(sides[s].fd[slot]) : fsync(sides[s].fd[slot]));
	same("fsync", r[0], r[1]);
}

static void op_fallocate(void)
{
	static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE };
	unsigned slot = pick(NSLOTS);
	int mode = modes[pick(3)];
	off_t off = rand_off(), len = (off_t)rand_len();
	struct res r[2];

	note("fallocate slot %u mode %d off %lld len %lld", slot, mode, (long long)off, (long long)len);
	for (int s = 0; s < 2; s++)
		r[s] = R(fallocate(sides[s].fd[slot], mode, off, len));
	same("fallocate", r[0], r[1]);
}

static void op_copy(void)
{
	unsigned in = pick(NSLOTS), out = pick(NSLOTS);
	loff_t oi = rand_off(), oo = rand_off();
	size_t len = rand_len();
	struct res r[2];

	note("copy_file_range slot %u@%lld -> slot %u@%lld len %zu", in, (long long)oi, out, (long long)oo, len);
	for (int s = 0; s < 2; s++) {
		loff_t a = oi, b = oo;

		r[s] = R(copy_file_range(sides[s].fd[in], &a, sides[s].fd[out], &b, len, 0));
	}
	same("copy_file_range", r[0], r[1]);
}

static void op_fstat(void)
{
	unsigned slot = pick(NSLOTS);
	struct stat st[2];
	struct res r[2];

	note("fstat slot %u", slot);
	for (int s = 0; s < 2; s++)
		r[s] = R(fstat(sides[s].fd[slot], &st[s]));
	same("fstat", r[0], r[1]);
	if (r[0].ret == 0 && ((S_ISREG(st[0].st_mode) && st[0].st_size != st[1].st_size) ||
			      st[0].st_nlink != st[1].st_nlink ||
			      (st[0].st_mode & S_IFMT) != (st[1].st_mode & S_IFMT)))
		fail("fstat: size %lld/%lld, links %lu/%lu, type 0%o/0%o", (long long)st[0].st_size,
		     (long long)st[1].st_size, (unsigned long)st[0].st_nlink, (unsigned long)st[1].st_nlink,
		     st[0].st_mode & S_IFMT, st[1].st_mode & S_IFMT);
}

/* The bytes of name on both sides, chunk by chunk. */
static void compare_contents(const char *name, off_t size)
{
	static uint8_t b[2][65536];
	int fd[2];
	off_t total = 0;

	for (int s = 0; s < 2; s++) {
		fd[s] = openat(sides[s].dfd, name, O_RDONLY | O_CLOEXEC);
		if (fd[s] < 0)
			fail("%s: open for comparison: %s", name, strerror(errno));
	}
	for (;;) {
		ssize_t n[2];

		for (int s = 0; s < 2; s++)
			n[s] = read(fd[s], b[s], sizeof(b[s]));
		if (n[0] != n[1])
			fail("%s: reads of %zd and %zd bytes at %lld", name, n[0], n[1], (long long)total);
		if (n[0] < 0)
			fail("%s: read: %s", name, strerror(errno));
		if (n[0] == 0)
			break;
		if (memcmp(b[0], b[1], (size_t)n[0]))
			fail("%s: contents differ in the %zd bytes at %lld", name, n[0], (long long)total);
		total += n[0];
	}
	close(fd[0]);
	close(fd[1]);
	if (total != size)
		fail("%s: read %lld bytes of %lld", name, (long long)total, (long long)size);
}

/* Every name: the same existence, type, size, link count and contents. */
static void compare_all(void)
{
	note("compare every name");
	for (unsigned i = 0; i < NNAMES; i++) {
		struct stat st[2];
		struct res r[2];

		for (int s = 0; s < 2; s++)
			r[s] = R(fstatat(sides[s].dfd, names[i], &st[s], AT_SYMLINK_NOFOLLOW));
		same(names[i], r[0], r[1]);
		if (r[0].ret < 0)
			continue;
		if ((st[0].st_mode & S_IFMT) != (st[1].st_mode & S_IFMT) || st[0].st_nlink != st[1].st_nlink ||
		    (S_ISREG(st[0].st_mode) && st[0].st_size != st[1].st_size) ||
		    (st[0].st_mode & 07777) != (st[1].st_mode & 07777))
			fail("%s: type 0%o/0%o, mode 0%o/0%o, links %lu/%lu, size %lld/%lld", names[i],
			     st[0].st_mode & S_IFMT, st[1].st_mode & S_IFMT, st[0].st_mode & 07777,
			     st[1].st_mode & 07777, (unsigned long)st[0].st_nlink, (unsigned long)st[1].st_nlink,
			     (long long)st[0].st_size, (long long)st[1].st_size);
		if (!S_ISREG(st[0].st_mode))
			continue;
		compare_contents(names[i], st[0].st_size);
	}
}

int main(int argc, char **argv)
{
	static void (*const ops[])(void) = {
		op_open, op_open, op_open, op_close, op_pwrite, op_pwrite, op_write, op_pread, op_pread,
		op_ftruncate, op_truncate, op_rename, op_link, op_unlink, op_mkdir, op_rmdir, op_mmap, op_fsync,
		op_fallocate, op_copy, op_fstat,
	};
	unsigned long seed = 1, nops = 500, every = 25;
	int c;

	while ((c = getopt(argc, argv, "s:n:c:v")) != -1) {
		switch (c) {
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'n': nops = strtoul(optarg, NULL, 0); break;
		case 'c': every = strtoul(optarg, NULL, 0); break;
		case 'v': verbose = 1; break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || every == 0)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng = seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
	for (int s = 0; s < 2; s++) {
		sides[s].dir = argv[optind + s];
		sides[s].dfd = open(sides[s].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sides[s].dfd < 0) {
			printf("fsmodel: open %s: %s\n", sides[s].dir, strerror(errno));
			return 2;
		}
		if (mkdirat(sides[s].dfd, "s", 0755) < 0) {
			printf("fsmodel: mkdir %s/s: %s\n", sides[s].dir, strerror(errno));
			return 2;
		}
		for (int i = 0; i < NSLOTS; i++)
			sides[s].fd[i] = -1;
	}
	for (step = 0; step < nops; step++) {
		ops[pick(sizeof(ops) / sizeof(ops[0]))]();
		if ((step + 1) % every == 0) {
			step++;
			compare_all();
			step--;
		}
	}
	compare_all();
	printf("fsmodel: seed %lu, %lu operations agree\n", seed, nops);
	return 0;
usage:
	fprintf(stderr, "usage: fsmodel [-s SEED] [-n OPS] [-c EVERY] [-v] TESTDIR MODELDIR\n");
	return 2;
}

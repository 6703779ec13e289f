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
 *   fstest gen SEED SIZE FILE [SEED SIZE FILE...]  write SIZE pseudo-random
 *                            bytes (xorshift from SEED) to FILE in 1 MiB write()
 *                            calls: made in user space, so the only kernel work
 *                            is the writes
 *   fstest basics            in the current directory: a deep mkdir, rename,
 *                            hard link, symlink, chmod, truncate, fallocate;
 *                            one "<name>-ok" line each (as the shell checks did)
 *   fstest walk DIR          every entry under DIR (getdents64 + fstatat, not
 *                            following symlinks): prints "<entries> <dirs>"
 *   fstest same A B          are A and B one file (st_dev and st_ino)? "same" or
 *                            "distinct", then both pairs
 *   fstest users DIR         the multi-user checks (run as root; children
 *                            switch to uids 1000 and 1001): one "users: ok NAME"
 *                            or "users: FAIL NAME: why" line per check
 *   fstest readtime FILE MB  read FILE (MB MiB, 1 MiB read() calls, twice: the
 *                            second from the guest's page cache) and print the
 *                            rates: "<MB/s first> <MB/s cached>"
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- walk ---- */

static unsigned long walk_entries, walk_dirs;

static int walk(int dfd, const char *path)
{
	char *buf = malloc(32768); /* one per level: the recursion must not clobber its parent's */
	long n;

	if (!buf)
		return fail("malloc", path);
	walk_dirs++;
	for (;;) {
		n = syscall(SYS_getdents64, dfd, buf, 32768);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			struct stat st;

			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			walk_entries++;
			if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				free(buf);
				return fail("fstatat", d->d_name);
			}
			if (S_ISDIR(st.st_mode)) {
				int sub = openat(dfd, d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

				if (sub < 0 || walk(sub, d->d_name)) {
					free(buf);
					return sub < 0 ? fail("open", d->d_name) : 1;
				}
				close(sub);
			}
		}
	}
	free(buf);
	if (n < 0)
		return fail("getdents64", path);
	return 0;
}

static int do_walk(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return fail("open", path);
	if (walk(fd, path))
		return 1;
	printf("%lu %lu\n", walk_entries, walk_dirs);
	return 0;
}

static int do_same(const char *a, const char *b)
{
	struct stat sa, sb;

	if (lstat(a, &sa) < 0)
		return fail("lstat", a);
	if (lstat(b, &sb) < 0)
		return fail("lstat", b);
	printf("%s %lu:%lu %lu:%lu\n", sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino ? "same" : "distinct",
	       (unsigned long)sa.st_dev, (unsigned long)sa.st_ino, (unsigned long)sb.st_dev, (unsigned long)sb.st_ino);
	return 0;
}

/* ---- read rate ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_readtime(const char *path, const char *mb_s)
{
	static char buf[1 << 20];
	unsigned long mb = strtoul(mb_s, NULL, 0);
	double rate[2];

	for (int pass = 0; pass < 2; pass++) {
		int fd = open(path, O_RDONLY);
		unsigned long total = 0;
		double t0;
		ssize_t n;

		if (fd < 0)
			return fail("open", path);
		t0 = now_s();
		while (total < mb << 20 && (n = read(fd, buf, sizeof(buf))) > 0)
			total += (unsigned long)n;
		rate[pass] = (double)total / 1e6 / (now_s() - t0);
		close(fd);
	}
	printf("%.2f %.2f\n", rate[0], rate[1]);
	return 0;
}

/* ---- multi-user checks ---- */

static int users_failed;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("users: ok %s\n", name);
	else
		printf("users: FAIL %s: %s\n", name, why);
	users_failed |= !ok;
}

/* Run fn as uid:gid (and supplementary group sup unless 0) in a child; its exit status. */
static int as_user(uid_t uid, gid_t gid, gid_t sup, int (*fn)(const char *dir), const char *dir)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(sup ? 1 : 0, sup ? &sup : NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(99);
		_exit(fn(dir));
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 98;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 97;
}

static int write_str(const char *path, int flags, const char *s)
{
	int fd = open(path, flags | O_WRONLY, 0644), err;

	if (fd < 0)
		return -errno;
	err = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -errno;
	close(fd);
	return err;
}

static char ubuf[512];

/* User A (1000): its own files behave as on a local file system. */
static int user_a(const char *dir)
{
	struct timespec ts[2] = { { 1000000, 0 }, { 2000000, 0 } };
	char f[300], b[64], sub[300];
	struct stat st;
	int fd, n;

	snprintf(f, sizeof(f), "%s/a-file", dir);
	check("create as 1000 (echo a > f)", write_str(f, O_CREAT | O_TRUNC, "a\n") == 0, strerror(errno));
	check("append to its own file (echo b >> f)", write_str(f, O_APPEND, "b\n") == 0, strerror(errno));
	fd = open(f, O_RDONLY);
	n = fd < 0 ? -1 : (int)read(fd, b, sizeof(b) - 1);
	if (fd >= 0)
		close(fd);
	check("contents a, b", n == 4 && !memcmp(b, "a\nb\n", 4), "unexpected contents");
	check("owner in the guest is 1000:1000", stat(f, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000,
	      "wrong owner");
	check("chmod its own file", chmod(f, 0640) == 0, strerror(errno));
	check("utimes its own file", utimensat(AT_FDCWD, f, ts, 0) == 0 && stat(f, &st) == 0 && st.st_mtime == 2000000,
	      strerror(errno));
	check("touch its own file (UTIME_NOW)", utimensat(AT_FDCWD, f, NULL, 0) == 0, strerror(errno));
	snprintf(sub, sizeof(sub), "%s/a-dir", dir);
	check("mkdir as 1000", mkdir(sub, 0755) == 0 && stat(sub, &st) == 0 && st.st_uid == 1000, strerror(errno));
	snprintf(sub, sizeof(sub), "%s/a-link", dir);
	check("symlink as 1000", symlink("a-file", sub) == 0 && lstat(sub, &st) == 0 && st.st_uid == 1000,
	      strerror(errno));
	check("touch -h its own symlink", utimensat(AT_FDCWD, sub, ts, AT_SYMLINK_NOFOLLOW) == 0, strerror(errno));
	snprintf(sub, sizeof(sub), "%s/a-fifo", dir);
	check("mkfifo as 1000", mkfifo(sub, 0644) == 0 && lstat(sub, &st) == 0 && st.st_uid == 1000, strerror(errno));
	/* Set-user-ID goes on a write by a process without CAP_FSETID, as locally. */
	snprintf(sub, sizeof(sub), "%s/a-suid", dir);
	check("chmod u+s,g+s its own file", write_str(sub, O_CREAT, "x") == 0 && chmod(sub, 06755) == 0 &&
	      stat(sub, &st) == 0 && (st.st_mode & 07777) == 06755, strerror(errno));
	check("a write clears set-user-ID and set-group-ID", write_str(sub, O_APPEND, "y") == 0 && stat(sub, &st) == 0 &&
	      (st.st_mode & 07777) == 0755, (snprintf(ubuf, sizeof(ubuf), "mode %o", st.st_mode & 07777), ubuf));
	check("chmod u+s again", chmod(sub, 04755) == 0, strerror(errno));
	check("truncate clears set-user-ID", truncate(sub, 0) == 0 && stat(sub, &st) == 0 && (st.st_mode & 07777) == 0755,
	      (snprintf(ubuf, sizeof(ubuf), "mode %o", st.st_mode & 07777), ubuf));
	/* Set-group-ID directory made by root (group 2000, mode 2777). */
	snprintf(sub, sizeof(sub), "%s/sgid/a-file", dir);
	check("a file in a set-group-ID directory gets its group",
	      write_str(sub, O_CREAT, "z") == 0 && stat(sub, &st) == 0 && st.st_gid == 2000 && st.st_uid == 1000,
	      (snprintf(ubuf, sizeof(ubuf), "%u:%u", st.st_uid, st.st_gid), ubuf));
	snprintf(sub, sizeof(sub), "%s/sgid/a-dir", dir);
	check("a directory in it inherits the group and the bit",
	      mkdir(sub, 0755) == 0 && stat(sub, &st) == 0 && st.st_gid == 2000 && (st.st_mode & S_ISGID),
	      (snprintf(ubuf, sizeof(ubuf), "gid %u mode %o", st.st_gid, st.st_mode & 07777), ubuf));
	snprintf(sub, sizeof(sub), "%s/a-private", dir);
	check("a private file", write_str(sub, O_CREAT, "secret") == 0 && chmod(sub, 0600) == 0, strerror(errno));
	/* A 0770 directory of group 3000, one of 1000's supplementary groups (CREATE_SUPP_GROUP). */
	snprintf(sub, sizeof(sub), "%s/grp/a-file", dir);
	check("create in a directory writable through a supplementary group",
	      write_str(sub, O_CREAT, "g") == 0 && stat(sub, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000,
	      (snprintf(ubuf, sizeof(ubuf), "%s", strerror(errno)), ubuf));
	snprintf(sub, sizeof(sub), "%s/grp/a-dir", dir);
	check("mkdir there too", mkdir(sub, 0755) == 0, strerror(errno));
	return users_failed;
}

/* User B (1001): refused on A's files. */
static int user_b(const char *dir)
{
	struct timespec ts[2] = { { 3000000, 0 }, { 4000000, 0 } };
	char f[300];

	snprintf(f, sizeof(f), "%s/a-file", dir);
	check("1001 cannot append to 1000's 0640 file", write_str(f, O_APPEND, "c\n") == -EACCES, "not EACCES");
	check("1001 cannot chmod it", chmod(f, 0666) < 0 && errno == EPERM, "not EPERM");
	check("1001 cannot set its times", utimensat(AT_FDCWD, f, ts, 0) < 0 && errno == EPERM, "not EPERM");
	check("1001 cannot chown it", chown(f, 1001, 1001) < 0 && errno == EPERM, "not EPERM");
	snprintf(f, sizeof(f), "%s/a-private", dir);
	check("1001 cannot read a 0600 file", open(f, O_RDONLY) < 0 && errno == EACCES, "not EACCES");
	snprintf(f, sizeof(f), "%s/a-dir/b-file", dir);
	check("1001 cannot create in 1000's 0755 directory", write_str(f, O_CREAT, "b") == -EACCES, "not EACCES");
	snprintf(f, sizeof(f), "%s/grp/b-file", dir);
	check("1001, not in group 3000, cannot create in its 0770 directory", write_str(f, O_CREAT, "b") == -EACCES,
	      "not EACCES");
	snprintf(f, sizeof(f), "%s/b-file", dir);
	check("1001 creates its own file", write_str(f, O_CREAT, "b") == 0, strerror(errno));
	return users_failed;
}

static int do_users(const char *dir)
{
	char p[300];
	struct stat st;
	int r;

	if (getuid() != 0) {
		printf("users: FAIL setup: run as root\n");
		return 1;
	}
	if (chmod(dir, 01777) < 0)
		return fail("chmod", dir);
	snprintf(p, sizeof(p), "%s/sgid", dir);
	if (mkdir(p, 0777) < 0 || chown(p, 0, 2000) < 0 || chmod(p, 02777) < 0)
		return fail("set-group-ID directory", p);
	snprintf(p, sizeof(p), "%s/grp", dir);
	if (mkdir(p, 0770) < 0 || chown(p, 0, 3000) < 0 || chmod(p, 0770) < 0)
		return fail("group directory", p);
	r = as_user(1000, 1000, 3000, user_a, dir);
	check("user 1000's checks ran", r == 0, "a check failed or the child could not switch");
	r = as_user(1001, 1001, 0, user_b, dir);
	check("user 1001's checks ran", r == 0, "a check failed or the child could not switch");
	/* Root: a write by root keeps set-user-ID (CAP_FSETID), as locally. */
	snprintf(p, sizeof(p), "%s/root-suid", dir);
	check("root's write keeps set-user-ID", write_str(p, O_CREAT, "r") == 0 && chmod(p, 04755) == 0 &&
	      write_str(p, O_APPEND, "s") == 0 && stat(p, &st) == 0 && (st.st_mode & 07777) == 04755,
	      (snprintf(ubuf, sizeof(ubuf), "mode %o", st.st_mode & 07777), ubuf));
	printf("users: %s\n", users_failed ? "FAILED" : "all ok");
	return users_failed;
}

/* ---- basics: what the share test did with a shell command each ---- */

static int put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, strlen(data));
	return close(fd) == 0 && n == (ssize_t)strlen(data) ? 0 : -1;
}

static int get_is(const char *path, const char *want)
{
	char b[64];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof(b) - 1);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(want) && !memcmp(b, want, (size_t)n);
}

static int do_basics(void)
{
	char deep[256] = "deep";
	struct stat st;
	char lnk[32];
	int fd, ok;

	ok = mkdir(deep, 0755) == 0;
	for (char c = 'a'; ok && c <= 'p'; c++) {
		size_t l = strlen(deep);

		snprintf(deep + l, sizeof(deep) - l, "/%c", c);
		ok = mkdir(deep, 0755) == 0;
	}
	strcat(deep, "/leaf");
	if (ok && put(deep, "leaf") == 0 && get_is(deep, "leaf"))
		printf("deep-ok\n");
	if (put("before", "r") == 0 && rename("before", "after") == 0 && access("before", F_OK) < 0 && get_is("after", "r"))
		printf("rename-ok\n");
	if (link("after", "hard") == 0 && stat("after", &st) == 0 && st.st_nlink == 2 && get_is("hard", "r"))
		printf("link-ok\n");
	if (symlink("after", "sym") == 0 && readlink("sym", lnk, sizeof(lnk)) == 5 && !memcmp(lnk, "after", 5) &&
	    get_is("sym", "r"))
		printf("symlink-ok\n");
	if (chmod("after", 0640) == 0 && stat("after", &st) == 0 && (st.st_mode & 07777) == 0640)
		printf("chmod-ok\n");
	fd = open("t", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		static char zero[10000];

		if (write(fd, zero, sizeof(zero)) == (ssize_t)sizeof(zero) && close(fd) == 0 && truncate("t", 100) == 0 &&
		    stat("t", &st) == 0 && st.st_size == 100)
			printf("truncate-ok\n");
	}
	fd = open("fa", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && fallocate(fd, 0, 0, 1048576) == 0 && close(fd) == 0 && stat("fa", &st) == 0 &&
	    st.st_size == 1048576)
		printf("fallocate-ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && (argc - 2) % 3 == 0 && strcmp(argv[1], "gen") == 0) {
		for (int i = 2; i < argc; i += 3)
			if (do_gen(argv[i], argv[i + 1], argv[i + 2]))
				return 1;
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "basics") == 0)
		return do_basics();
	if (argc == 3 && strcmp(argv[1], "mmap") == 0)
		return do_mmap(argv[2]);
	if (argc == 3 && strcmp(argv[1], "count") == 0)
		return do_count(argv[2]);
	if (argc == 3 && strcmp(argv[1], "open-unlink") == 0)
		return do_open_unlink(argv[2]);
	if (argc == 3 && strcmp(argv[1], "walk") == 0)
		return do_walk(argv[2]);
	if (argc == 4 && strcmp(argv[1], "same") == 0)
		return do_same(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "users") == 0)
		return do_users(argv[2]);
	if (argc == 4 && strcmp(argv[1], "readtime") == 0)
		return do_readtime(argv[2], argv[3]);
	fprintf(stderr, "usage: fstest mmap FILE | count DIR | open-unlink FILE | gen SEED SIZE FILE... | basics | "
		"walk DIR | same A B | users DIR | readtime FILE MB\n");
	return 2;
}

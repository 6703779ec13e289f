/* SPDX-License-Identifier: MIT */
/* The passthrough file system's inode table (fuse-inodes.h). */
#include "devices/fuse-inodes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HANDLE_MAX 128 /* MAX_HANDLE_SZ */

static unsigned hash_id(uint64_t id) { return (unsigned)((id * 0x9E3779B97F4A7C15ULL) >> 48) & (FUSE_INODES_BUCKETS - 1); }
static unsigned hash_key(dev_t d, ino_t i) { return hash_id((uint64_t)d * 0x100000001B3ULL ^ (uint64_t)i); }

/* ---- the LRU of unused inodes that could give their descriptor back (lock held) ---- */

static void lru_remove(struct fuse_inodes *t, struct fuse_inode *in)
{
	if (!in->on_lru)
		return;
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else
		t->lru_head = in->lru_next;
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		t->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
	in->on_lru = false;
}

static void lru_push(struct fuse_inodes *t, struct fuse_inode *in)
{
	in->lru_prev = NULL;
	in->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = in;
	else
		t->lru_tail = in;
	t->lru_head = in;
	in->on_lru = true;
}

static void close_fd(struct fuse_inodes *t, struct fuse_inode *in)
{
	int fd = __atomic_exchange_n(&in->fd, -1, __ATOMIC_ACQ_REL);

	if (fd >= 0) {
		close(fd);
		t->st.fds--;
	}
}

/* Close least recently used descriptors until at most `limit` are held. */
static void trim(struct fuse_inodes *t, unsigned limit)
{
	while (t->st.fds > limit && t->lru_tail) {
		struct fuse_inode *in = t->lru_tail;

		lru_remove(t, in);
		close_fd(t, in);
		t->st.evicted++;
	}
}

static void count_fd(struct fuse_inodes *t)
{
	if (++t->st.fds > t->st.fds_high)
		t->st.fds_high = t->st.fds;
}

/* ---- lookups (lock held) ---- */

static struct fuse_inode *find_id(struct fuse_inodes *t, uint64_t nodeid)
{
	struct fuse_inode *in;

	for (in = t->by_id[hash_id(nodeid)]; in && in->nodeid != nodeid; in = in->next_id)
		;
	return in;
}

static struct fuse_inode *find_key(struct fuse_inodes *t, dev_t dev, ino_t ino)
{
	struct fuse_inode *in;

	for (in = t->by_key[hash_key(dev, ino)]; in && (in->dev != dev || in->ino != ino); in = in->next_key)
		;
	return in;
}

static void unlink_inode(struct fuse_inodes *t, struct fuse_inode *in)
{
	struct fuse_inode **p;

	for (p = &t->by_id[hash_id(in->nodeid)]; *p != in; p = &(*p)->next_id)
		;
	*p = in->next_id;
	if (!in->gone) {
		for (p = &t->by_key[hash_key(in->dev, in->ino)]; *p != in; p = &(*p)->next_key)
			;
		*p = in->next_key;
	}
	lru_remove(t, in);
	close_fd(t, in);
	t->st.inodes--;
	free(in);
}

/* The reference or lookup count changed: free, park on the LRU, or leave. */
static void settle(struct fuse_inodes *t, struct fuse_inode *in)
{
	if (in->refs)
		return;
	if (!in->nlookup && in != t->root) {
		unlink_inode(t, in);
		return;
	}
	if (in->hlen && in != t->root && __atomic_load_n(&in->fd, __ATOMIC_ACQUIRE) >= 0 && !in->on_lru) {
		lru_push(t, in);
		trim(t, t->max_fds);
	}
}

/* ---- devices ---- */

static int dev_find(struct fuse_inodes *t, dev_t dev)
{
	for (unsigned i = 0; i < t->ndevs; i++)
		if (t->devs[i].dev == dev)
			return (int)i;
	return -1;
}

unsigned fuse_inodes_devidx(struct fuse_inodes *t, dev_t dev)
{
	int i;

	pthread_mutex_lock(&t->lock);
	i = dev_find(t, dev);
	if (i < 0) {
		if (t->ndevs < FUSE_INODES_MAX_DEVS) {
			i = (int)t->ndevs++;
			t->devs[i].dev = dev;
			t->devs[i].mount_fd = -1;
		} else {
			i = FUSE_INODES_MAX_DEVS - 1;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return (unsigned)i;
}

/*
 * Make sure the device of O_PATH descriptor fd (a directory) has a mount
 * descriptor for open_by_handle_at(): the directory itself, opened for
 * reading through /proc/self/fd.
 */
static void dev_mount_fd(struct fuse_inodes *t, unsigned idx, dev_t dev, int fd)
{
	char name[16];
	int mfd;

	pthread_mutex_lock(&t->lock);
	mfd = t->devs[idx].dev == dev ? t->devs[idx].mount_fd : 0;
	pthread_mutex_unlock(&t->lock);
	if (mfd >= 0)
		return;
	snprintf(name, sizeof(name), "%d", fd);
	mfd = openat(t->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (mfd < 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->devs[idx].dev == dev && t->devs[idx].mount_fd < 0) {
		t->devs[idx].mount_fd = mfd;
		mfd = -1;
	}
	pthread_mutex_unlock(&t->lock);
	if (mfd >= 0)
		close(mfd);
}

/* ---- public ---- */

struct fuse_inode *fuse_inodes_get(struct fuse_inodes *t, uint64_t nodeid)
{
	struct fuse_inode *in;

	pthread_mutex_lock(&t->lock);
	in = find_id(t, nodeid);
	if (in) {
		in->refs++;
		lru_remove(t, in);
	}
	pthread_mutex_unlock(&t->lock);
	return in;
}

void fuse_inodes_hold(struct fuse_inodes *t, struct fuse_inode *in)
{
	pthread_mutex_lock(&t->lock);
	in->refs++;
	lru_remove(t, in);
	pthread_mutex_unlock(&t->lock);
}

void fuse_inodes_put(struct fuse_inodes *t, struct fuse_inode *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&t->lock);
	if (in->refs)
		in->refs--;
	settle(t, in);
	pthread_mutex_unlock(&t->lock);
}

void fuse_inodes_forget(struct fuse_inodes *t, uint64_t nodeid, uint64_t n)
{
	struct fuse_inode *in;

	pthread_mutex_lock(&t->lock);
	in = find_id(t, nodeid);
	if (in && in != t->root) {
		in->nlookup -= n < in->nlookup ? n : in->nlookup;
		settle(t, in);
	}
	pthread_mutex_unlock(&t->lock);
}

/* name_to_handle_at() on O_PATH descriptor fd into h (HANDLE_MAX bytes); false if none. */
static bool get_handle(int fd, struct file_handle *h)
{
	int mnt;

	h->handle_bytes = HANDLE_MAX;
	return name_to_handle_at(fd, "", h, &mnt, AT_EMPTY_PATH) == 0 && h->handle_bytes <= HANDLE_MAX;
}

/*
 * The known inode of (dev, ino), if fd is that same file (t->lock held).
 * While an inode's descriptor is evicted nothing pins the host file: it can
 * be deleted and its number given to a new file. Then fd's handle differs
 * from the one we keep (the generation), and the old entry leaves by_key
 * (the guest's node ID for it stays valid until FORGET and gets ESTALE)
 * so that the new file becomes an inode of its own.
 */
static struct fuse_inode *find_same(struct fuse_inodes *t, dev_t dev, ino_t ino, int fd)
{
	union {
		struct file_handle h;
		unsigned char b[sizeof(struct file_handle) + HANDLE_MAX];
	} fh;
	struct fuse_inode *in = find_key(t, dev, ino), **p;

	if (!in || !in->hlen || __atomic_load_n(&in->fd, __ATOMIC_ACQUIRE) >= 0)
		return in;
	fh.h.handle_bytes = HANDLE_MAX;
	if (name_to_handle_at(fd, "", &fh.h, &(int){ 0 }, AT_EMPTY_PATH) < 0 || fh.h.handle_bytes > HANDLE_MAX)
		return in; /* no handle to compare: not proof of another file */
	if (fh.h.handle_type == in->htype && fh.h.handle_bytes == in->hlen && !memcmp(fh.h.f_handle, in->handle, in->hlen))
		return in;
	for (p = &t->by_key[hash_key(dev, ino)]; *p != in; p = &(*p)->next_key)
		;
	*p = in->next_key;
	in->next_key = NULL;
	in->gone = true;
	t->st.gone++;
	return NULL;
}

/*
 * A lookup of a known inode (t->lock held): one more lookup and reference,
 * off the LRU; fd refills its descriptor if it was evicted. true: fd is the
 * inode's now (the caller must not close it).
 */
static bool take_known(struct fuse_inodes *t, struct fuse_inode *in, int fd)
{
	in->nlookup++;
	in->refs++;
	lru_remove(t, in);
	if (__atomic_load_n(&in->fd, __ATOMIC_ACQUIRE) >= 0)
		return false;
	__atomic_store_n(&in->fd, fd, __ATOMIC_RELEASE);
	count_fd(t);
	return true;
}

int fuse_inodes_adopt(struct fuse_inodes *t, int fd, const struct stat *st, const struct fuse_inode *parent,
		      struct fuse_inode **out)
{
	union {
		struct file_handle h;
		unsigned char b[sizeof(struct file_handle) + HANDLE_MAX];
	} fh;
	struct fuse_inode *in, *nw = NULL;
	unsigned idx;
	bool have_handle = false;
	int err = 0;

	/* Known already? Then fd only serves to refill an evicted descriptor. */
	pthread_mutex_lock(&t->lock);
	in = find_same(t, st->st_dev, st->st_ino, fd);
	if (in) {
		if (take_known(t, in, fd))
			fd = -1;
		pthread_mutex_unlock(&t->lock);
		if (fd >= 0)
			close(fd);
		*out = in;
		return 0;
	}
	pthread_mutex_unlock(&t->lock);

	idx = fuse_inodes_devidx(t, st->st_dev);
	if (t->st.handles) {
		bool mounted;

		if (S_ISDIR(st->st_mode))
			dev_mount_fd(t, idx, st->st_dev, fd);
		pthread_mutex_lock(&t->lock);
		/* (an index shared by the devices beyond the table's size gets no handles) */
		mounted = t->devs[idx].dev == st->st_dev && t->devs[idx].mount_fd >= 0;
		pthread_mutex_unlock(&t->lock);
		have_handle = mounted && get_handle(fd, &fh.h);
	}
	nw = calloc(1, sizeof(*nw) + (have_handle ? fh.h.handle_bytes : 0));
	if (!nw) {
		close(fd);
		return -ENOMEM;
	}
	nw->dev = st->st_dev;
	nw->ino = st->st_ino;
	nw->type = st->st_mode & S_IFMT;
	nw->devidx = (uint16_t)idx;
	nw->submount = parent && S_ISDIR(st->st_mode) && parent->dev != st->st_dev;
	nw->fd = fd;
	if (have_handle) {
		nw->htype = fh.h.handle_type;
		nw->hlen = fh.h.handle_bytes;
		memcpy(nw->handle, fh.h.f_handle, nw->hlen);
	}

	pthread_mutex_lock(&t->lock);
	in = find_same(t, st->st_dev, st->st_ino, fd); /* another thread may have been quicker */
	if (in) {
		if (take_known(t, in, fd))
			nw->fd = -1;
	} else if (t->st.inodes >= t->max_inodes) {
		err = -ENFILE;
	} else {
		if (!nw->hlen)
			trim(t, t->max_fds ? t->max_fds - 1 : 0);
		if (!nw->hlen && t->st.fds >= t->max_fds) {
			err = -ENFILE;
		} else {
			unsigned k = hash_key(nw->dev, nw->ino);

			in = nw;
			nw = NULL;
			in->nodeid = t->next_nodeid++;
			in->nlookup = 1;
			in->refs = 1;
			in->next_key = t->by_key[k];
			t->by_key[k] = in;
			in->next_id = t->by_id[hash_id(in->nodeid)];
			t->by_id[hash_id(in->nodeid)] = in;
			t->st.inodes++;
			count_fd(t);
		}
	}
	if (err)
		t->st.refused++;
	pthread_mutex_unlock(&t->lock);
	if (nw) {
		if (nw->fd >= 0)
			close(nw->fd);
		free(nw);
	}
	if (err)
		return err;
	*out = in;
	return 0;
}

int fuse_inodes_fd(struct fuse_inodes *t, struct fuse_inode *in)
{
	union {
		struct file_handle h;
		unsigned char b[sizeof(struct file_handle) + HANDLE_MAX];
	} fh;
	int fd = __atomic_load_n(&in->fd, __ATOMIC_ACQUIRE), mfd, expect = -1;

	if (fd >= 0)
		return fd;
	if (!in->hlen)
		return -ESTALE; /* cannot happen: only inodes with a handle give their descriptor back */
	pthread_mutex_lock(&t->lock);
	mfd = t->devs[in->devidx].mount_fd;
	pthread_mutex_unlock(&t->lock);
	fh.h.handle_bytes = in->hlen;
	fh.h.handle_type = in->htype;
	memcpy(fh.h.f_handle, in->handle, in->hlen);
	fd = open_by_handle_at(mfd, &fh.h, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&t->lock);
	if (__atomic_compare_exchange_n(&in->fd, &expect, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		count_fd(t);
		t->st.reopened++;
		fd = -1;
	}
	pthread_mutex_unlock(&t->lock);
	if (fd >= 0)
		close(fd); /* another thread reopened it first */
	return __atomic_load_n(&in->fd, __ATOMIC_ACQUIRE);
}

int fuse_inodes_init(struct fuse_inodes *t, int root_fd, const struct stat *st, unsigned max_inodes,
		     unsigned max_fds, bool handles)
{
	struct fuse_inode *root;
	int err;

	memset(t, 0, sizeof(*t));
	t->proc_fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	t->max_inodes = max_inodes ? max_inodes : 1;
	t->max_fds = max_fds ? max_fds : 1;
	t->next_nodeid = 1; /* FUSE_ROOT_ID */
	t->by_id = calloc(FUSE_INODES_BUCKETS, sizeof(*t->by_id));
	t->by_key = calloc(FUSE_INODES_BUCKETS, sizeof(*t->by_key));
	if (!t->by_id || !t->by_key) {
		close(root_fd);
		fuse_inodes_destroy(t);
		return -ENOMEM;
	}
	t->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (t->proc_fd < 0) {
		err = -errno;
		close(root_fd);
		fuse_inodes_destroy(t);
		return err;
	}
	t->st.handles = handles;
	err = fuse_inodes_adopt(t, root_fd, st, NULL, &root);
	if (err) {
		fuse_inodes_destroy(t);
		return err;
	}
	t->root = root;
	root->refs = 0;
	if (handles) {
		/* Handles only if the root round-trips: CAP_DAC_READ_SEARCH and an exporting file system. */
		union {
			struct file_handle h;
			unsigned char b[sizeof(struct file_handle) + HANDLE_MAX];
		} fh;
		int fd = -1;

		if (t->devs[0].mount_fd >= 0 && get_handle(root->fd, &fh.h))
			fd = open_by_handle_at(t->devs[0].mount_fd, &fh.h, O_PATH | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else
			t->st.handles = false;
	}
	return 0;
}

void fuse_inodes_reset(struct fuse_inodes *t)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < FUSE_INODES_BUCKETS; i++)
		for (struct fuse_inode *in = t->by_id[i], *next; in; in = next) {
			next = in->next_id;
			if (in != t->root) {
				in->nlookup = 0;
				settle(t, in);
			}
		}
	pthread_mutex_unlock(&t->lock);
}

void fuse_inodes_destroy(struct fuse_inodes *t)
{
	if (t->by_id)
		for (unsigned i = 0; i < FUSE_INODES_BUCKETS; i++)
			while (t->by_id[i]) {
				struct fuse_inode *in = t->by_id[i];

				t->by_id[i] = in->next_id;
				if (in->fd >= 0)
					close(in->fd);
				free(in);
			}
	for (unsigned i = 0; i < t->ndevs; i++)
		if (t->devs[i].mount_fd >= 0)
			close(t->devs[i].mount_fd);
	if (t->proc_fd >= 0)
		close(t->proc_fd);
	free(t->by_id);
	free(t->by_key);
	t->by_id = t->by_key = NULL;
	t->ndevs = 0;
	t->proc_fd = -1;
	pthread_mutex_destroy(&t->lock);
}

void fuse_inodes_stats(struct fuse_inodes *t, struct fuse_inodes_stats *st)
{
	pthread_mutex_lock(&t->lock);
	*st = t->st;
	pthread_mutex_unlock(&t->lock);
}

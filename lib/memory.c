/* SPDX-License-Identifier: MIT */
#include "lib/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int gm_create(struct guest_mem *m, uint64_t size)
{
	uint64_t low = size < GM_MMIO_HOLE_START ? size : GM_MMIO_HOLE_START;
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || !is_aligned(size, SZ_2M))
		return -EINVAL;
	m->fd = memfd_create("aperture-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size) < 0)
		goto fail;
	m->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		goto fail;
	}
	/* Transparent huge pages help the EPT/NPT; failure is harmless. */
	(void)madvise(m->map, size, MADV_HUGEPAGE);
	m->size = size;
	m->region[0] = (struct gm_region){ .gpa = 0, .size = low, .host = m->map, .fd_offset = 0 };
	m->nregions = 1;
	if (size > low) {
		m->region[1] = (struct gm_region){
			.gpa = SZ_4G, .size = size - low, .host = m->map + low, .fd_offset = low,
		};
		m->nregions = 2;
	}
	return 0;
fail:
	err = -errno;
	gm_destroy(m);
	return err;
}

void gm_destroy(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->nsplits; i++)
		close(m->split[i].fd);
	m->nsplits = 0;
	if (m->map)
		munmap(m->map, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->map = NULL;
	m->fd = -1;
	m->nregions = 0;
}

void gm_init_empty(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

/* The region holding all of [gpa, gpa + size), or NULL. */
static const struct gm_region *region_of(const struct guest_mem *m, uint64_t gpa, uint64_t size)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gm_region *r = &m->region[i];

		if (gpa >= r->gpa && size <= r->size && gpa - r->gpa <= r->size - size)
			return r;
	}
	return NULL;
}

int gm_split(struct guest_mem *m, uint64_t gpa, uint64_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	const struct gm_region *r = region_of(m, gpa, size);
	struct gm_split *sp;
	uint8_t *host, *tmp;
	char name[40];
	int fd, err;

	if (m->fd < 0 || !r || !size || page <= 0 || gpa % (uint64_t)page || size % (uint64_t)page)
		return -EINVAL;
	for (unsigned i = 0; i < m->nsplits; i++) {
		if (m->split[i].gpa == gpa && m->split[i].size == size)
			return 0;
		if (ranges_overlap(gpa, size, m->split[i].gpa, m->split[i].size))
			return -EBUSY;
	}
	if (m->nsplits == GM_MAX_SPLITS)
		return -ENOSPC;
	host = r->host + (gpa - r->gpa);
	snprintf(name, sizeof(name), "aperture-0x%llx", (unsigned long long)gpa);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	tmp = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (tmp == MAP_FAILED)
		goto fail;
	memcpy(tmp, host, size);
	munmap(tmp, size);
	/* The same host addresses, now backed by the new file; KVM refaults through its MMU notifier. */
	if (mmap(host, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0) != host)
		goto fail;
	(void)madvise(host, size, MADV_HUGEPAGE);
	/* Nobody maps the old pages any more: give them back. */
	(void)fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(r->fd_offset + (gpa - r->gpa)),
			(off_t)size);
	sp = &m->split[m->nsplits++];
	*sp = (struct gm_split){ .gpa = gpa, .size = size, .fd = fd };
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

int gm_fd_of(const struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t *offset)
{
	const struct gm_region *r = region_of(m, gpa, size);

	if (!r || !size)
		return -1;
	for (unsigned i = 0; i < m->nsplits; i++) {
		const struct gm_split *sp = &m->split[i];

		if (gpa >= sp->gpa && size <= sp->size && gpa - sp->gpa <= sp->size - size) {
			*offset = gpa - sp->gpa;
			return sp->fd;
		}
		if (ranges_overlap(gpa, size, sp->gpa, sp->size))
			return -1;
	}
	*offset = r->fd_offset + (gpa - r->gpa);
	return m->fd;
}

int gm_add_region(struct guest_mem *m, uint64_t gpa, uint64_t size, uint8_t *host, uint64_t fd_offset)
{
	if (!size || gpa + size < gpa || !host)
		return -EINVAL;
	for (unsigned i = 0; i < m->nregions; i++)
		if (ranges_overlap(gpa, size, m->region[i].gpa, m->region[i].size))
			return -EINVAL;
	if (m->nregions == GM_MAX_REGIONS)
		return -ENOSPC;
	m->region[m->nregions++] = (struct gm_region){ .gpa = gpa, .size = size, .host = host, .fd_offset = fd_offset };
	m->size += size;
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *m)
{
	return m->nregions ? m->region[0].gpa + m->region[0].size : 0;
}

void *gm_slice(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	if (gpa + len < gpa)
		return NULL;
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gm_region *r = &m->region[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			/* SAFETY: [gpa, gpa+len) lies inside region i, which maps r->size host bytes. */
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

struct gm_view gm_view_all(const struct guest_mem *m)
{
	return (struct gm_view){ .mem = m, .base = 0, .size = UINT64_MAX };
}

struct gm_view gm_view_aperture(const struct guest_mem *m, uint64_t base, uint64_t size)
{
	return (struct gm_view){ .mem = m, .base = base, .size = size, .aperture = true };
}

void *gm_view_slice(const struct gm_view *v, uint64_t gpa, uint64_t len)
{
	uint64_t l = len ? len : 1;
	void *p = NULL;

	if (!(gpa + l < gpa || gpa < v->base || gpa - v->base > v->size || l > v->size - (gpa - v->base)))
		p = gm_slice(v->mem, gpa, len);
	if (v->stats) {
		__atomic_fetch_add(&v->stats->checked, 1, __ATOMIC_RELAXED);
		if (!p)
			__atomic_fetch_add(&v->stats->denied, 1, __ATOMIC_RELAXED);
	}
	return p;
}

int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_slice(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gm_slice(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

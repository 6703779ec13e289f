/* SPDX-License-Identifier: MIT */
#include "tests/unit/fakemem.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static __attribute__((noreturn)) void die(const char *what, uint64_t gpa, uint64_t len)
{
	fprintf(stderr, "fakemem: %s 0x%llx+0x%llx: test bug\n", what, (unsigned long long)gpa,
		(unsigned long long)len);
	abort();
}

int fakemem_init(struct fakemem *f, const struct fake_region *r, unsigned n)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), len = page, total = 0;
	uint8_t *at;

	memset(f, 0, sizeof(*f));
	f->mem.fd = -1;
	if (n == 0 || n > GM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (r[i].size == 0 || !is_aligned(r[i].size, page) || !is_aligned(r[i].gpa, page) ||
		    r[i].gpa + r[i].size < r[i].gpa || (i && r[i].gpa < r[i - 1].gpa + r[i - 1].size))
			return -EINVAL;
		len += r[i].size + page;
		total += r[i].size;
	}
	f->area = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->area == MAP_FAILED) {
		f->area = NULL;
		return -errno;
	}
	f->area_len = len;
	/* RAM in a memfd, as the monitor's, so a vhost-user back end can map it. */
	f->mem.fd = memfd_create("fakemem", MFD_CLOEXEC);
	if (f->mem.fd < 0 || ftruncate(f->mem.fd, (off_t)total) < 0) {
		int err = -errno;

		fakemem_destroy(f);
		return err;
	}
	at = f->area + page;
	for (uint64_t i = 0, off = 0; i < n; i++) {
		if (mmap(at, r[i].size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, f->mem.fd,
			 (off_t)off) == MAP_FAILED) {
			int err = -errno;

			fakemem_destroy(f);
			return err;
		}
		f->mem.region[i] = (struct gm_region){ .gpa = r[i].gpa, .size = r[i].size, .host = at, .fd_offset = off };
		at += r[i].size + page;
		off += r[i].size;
	}
	f->mem.nregions = n;
	f->mem.size = total;
	f->all = gm_view_all(&f->mem);
	return 0;
}

void fakemem_init_simple(struct fakemem *f, uint64_t size)
{
	struct fake_region r = { .gpa = 0, .size = size };

	if (fakemem_init(f, &r, 1))
		die("cannot map", 0, size);
}

void fakemem_destroy(struct fakemem *f)
{
	if (f->area)
		munmap(f->area, f->area_len);
	if (f->mem.fd >= 0)
		close(f->mem.fd);
	memset(f, 0, sizeof(*f));
	f->mem.fd = -1;
}

void *fake_host(struct fakemem *f, uint64_t gpa, uint64_t len)
{
	void *p = gm_slice(&f->mem, gpa, len);

	if (!p)
		die("address outside RAM", gpa, len);
	return p;
}

void fake_write(struct fakemem *f, uint64_t gpa, const void *src, uint64_t len)
{
	memcpy(fake_host(f, gpa, len), src, len);
}

void fake_read(struct fakemem *f, uint64_t gpa, void *dst, uint64_t len)
{
	memcpy(dst, fake_host(f, gpa, len), len);
}

void fake_fill(struct fakemem *f, uint64_t gpa, int byte, uint64_t len)
{
	memset(fake_host(f, gpa, len), byte, len);
}

uint64_t fake_desc_bytes(uint16_t size)
{
	return sizeof(struct vring_desc) * (uint64_t)size;
}

uint64_t fake_avail_bytes(uint16_t size)
{
	return sizeof(struct vring_avail) + sizeof(__virtio16) * ((uint64_t)size + 1);
}

uint64_t fake_used_bytes(uint16_t size)
{
	return sizeof(struct vring_used) + sizeof(struct vring_used_elem) * (uint64_t)size + sizeof(__virtio16);
}

void fake_ring_init(struct fake_ring *r, struct fakemem *fm, uint16_t size, uint64_t desc, uint64_t avail,
		    uint64_t used)
{
	*r = (struct fake_ring){ .fm = fm, .size = size, .desc = desc, .avail = avail, .used = used };
	fake_fill(fm, desc, 0, fake_desc_bytes(size));
	fake_fill(fm, avail, 0, fake_avail_bytes(size));
	fake_fill(fm, used, 0, fake_used_bytes(size));
}

void fake_ring_layout(struct fake_ring *r, struct fakemem *fm, uint16_t size, uint64_t base)
{
	uint64_t desc = align_up(base, VRING_DESC_ALIGN_SIZE);
	uint64_t avail = desc + fake_desc_bytes(size);
	uint64_t used = align_up(avail + fake_avail_bytes(size), VRING_USED_ALIGN_SIZE);

	fake_ring_init(r, fm, size, desc, avail, used);
}

uint64_t fake_ring_end(const struct fake_ring *r)
{
	return r->used + fake_used_bytes(r->size);
}

int fake_ring_enable(const struct fake_ring *r, struct vq *q, const struct gm_view *view, bool event_idx)
{
	return vq_enable(q, view, r->size, r->desc, r->avail, r->used, event_idx);
}

void fake_desc_at(struct fakemem *f, uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr), .len = htole32(len), .flags = htole16(flags), .next = htole16(next),
	};

	fake_write(f, table + (uint64_t)i * sizeof(d), &d, sizeof(d));
}

void fake_desc(struct fake_ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	if (i >= r->size)
		die("descriptor index beyond the queue", i, r->size);
	fake_desc_at(r->fm, r->desc, i, addr, len, flags, next);
}

static uint16_t seg_flags(const struct fake_seg *s, bool more)
{
	return (uint16_t)((s->write ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0));
}

uint16_t fake_chain(struct fake_ring *r, uint16_t first, const struct fake_seg *s, unsigned n)
{
	uint16_t mask = (uint16_t)(r->size - 1);

	for (unsigned k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((first + k) & mask), next = (uint16_t)((first + k + 1) & mask);

		fake_desc(r, i, s[k].gpa, s[k].len, seg_flags(&s[k], k + 1 < n), k + 1 < n ? next : 0);
	}
	return (uint16_t)(first & mask);
}

void fake_indirect(struct fakemem *f, uint64_t table, const struct fake_seg *s, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		fake_desc_at(f, table, k, s[k].gpa, s[k].len, seg_flags(&s[k], k + 1 < n),
			     (uint16_t)(k + 1 < n ? k + 1 : 0));
}

static uint16_t *u16_at(struct fake_ring *r, uint64_t gpa)
{
	return fake_host(r->fm, gpa, sizeof(uint16_t));
}

void fake_avail_push(struct fake_ring *r, uint16_t head)
{
	uint64_t slot = r->avail + sizeof(struct vring_avail) + sizeof(__virtio16) * (r->avail_idx % r->size);

	__atomic_store_n(u16_at(r, slot), htole16(head), __ATOMIC_RELAXED);
	r->avail_idx++;
	__atomic_store_n(u16_at(r, r->avail + offsetof(struct vring_avail, idx)), htole16(r->avail_idx),
			 __ATOMIC_RELEASE);
}

void fake_avail_set_idx(struct fake_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	__atomic_store_n(u16_at(r, r->avail + offsetof(struct vring_avail, idx)), htole16(idx), __ATOMIC_RELEASE);
}

void fake_avail_set_flags(struct fake_ring *r, uint16_t flags)
{
	__atomic_store_n(u16_at(r, r->avail + offsetof(struct vring_avail, flags)), htole16(flags),
			 __ATOMIC_RELAXED);
}

void fake_set_used_event(struct fake_ring *r, uint16_t v)
{
	uint64_t at = r->avail + sizeof(struct vring_avail) + sizeof(__virtio16) * (uint64_t)r->size;

	__atomic_store_n(u16_at(r, at), htole16(v), __ATOMIC_RELAXED);
}

uint16_t fake_avail_event(struct fake_ring *r)
{
	uint64_t at = r->used + sizeof(struct vring_used) + sizeof(struct vring_used_elem) * (uint64_t)r->size;

	return le16toh(__atomic_load_n(u16_at(r, at), __ATOMIC_RELAXED));
}

uint16_t fake_used_idx(struct fake_ring *r)
{
	return le16toh(__atomic_load_n(u16_at(r, r->used + offsetof(struct vring_used, idx)), __ATOMIC_ACQUIRE));
}

uint16_t fake_used_flags(struct fake_ring *r)
{
	return le16toh(__atomic_load_n(u16_at(r, r->used + offsetof(struct vring_used, flags)), __ATOMIC_RELAXED));
}

struct vring_used_elem fake_used_elem(struct fake_ring *r, uint16_t slot)
{
	struct vring_used_elem e;
	uint64_t at = r->used + sizeof(struct vring_used) + sizeof(e) * (uint64_t)(slot % r->size);

	fake_read(r->fm, at, &e, sizeof(e));
	e.id = le32toh(e.id);
	e.len = le32toh(e.len);
	return e;
}

bool fake_used_next(struct fake_ring *r, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem e;

	if (fake_used_idx(r) == r->last_used)
		return false;
	e = fake_used_elem(r, r->last_used++);
	if (id)
		*id = e.id;
	if (len)
		*len = e.len;
	return true;
}

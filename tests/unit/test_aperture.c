/* SPDX-License-Identifier: MIT */
/*
 * DMA apertures: the policy (vmm/aperture.c), the decision the handshake
 * takes on GUEST_CAPABILITIES, and an aperture device driven by the native
 * harness: its capability, its feature negotiation, and enforcement with
 * everything outside the aperture made PROT_NONE in the host mapping.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "devices/virtio-rng.h"
#include "tests/unit/harness.h"
#include "tests/unit/suites.h"
#include "vmm/aperture.h"
#include "vmm/cli.h"
#include "vmm/handshake.h"

#define MB SZ_1M
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define ACCESS_PLATFORM (1ULL << VIRTIO_F_ACCESS_PLATFORM)
#define SWIOTLB (1ULL << VIRTIO_F_SWIOTLB)

static char err[512];

/* ---- policy ---- */

START_TEST(plan_per_device)
{
	enum aperture_kind k[] = { APK_RNG, APK_FS, APK_FS };
	struct aperture a[3];

	/* Exactly the need: each device its minimum, back to back. */
	ck_assert_uint_eq(aperture_pool_need(DMA_APERTURE, k, 3), 34 * MB);
	ck_assert_int_eq(aperture_plan(DMA_APERTURE, 0x8000000, 34 * MB, k, 3, a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a[0].base, 0x8000000);
	ck_assert_uint_eq(a[0].size, 2 * MB);
	ck_assert_uint_eq(a[1].base, 0x8000000 + 2 * MB);
	ck_assert_uint_eq(a[1].size, 16 * MB);
	ck_assert_uint_eq(a[2].base, 0x8000000 + 18 * MB);
	ck_assert_uint_eq(a[2].size, 16 * MB);
}
END_TEST

START_TEST(plan_scales_spare_room)
{
	enum aperture_kind k[] = { APK_RNG, APK_FS };
	struct aperture a[2];
	uint64_t end;

	ck_assert_int_eq(aperture_plan(DMA_APERTURE, 0x4000000, 64 * MB, k, 2, a, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert(is_aligned(a[i].base, SZ_2M));
		ck_assert(is_aligned(a[i].size, SZ_2M));
		ck_assert_uint_ge(a[i].size, aperture_kind_size(k[i]));
	}
	/* Disjoint, inside the pool, in order. */
	ck_assert_uint_eq(a[0].base, 0x4000000);
	ck_assert_uint_le(a[0].base + a[0].size, a[1].base);
	end = a[1].base + a[1].size;
	ck_assert_uint_le(end, 0x4000000 + 64 * MB);
	ck_assert_uint_gt(a[1].size, 16 * MB); /* spare room was handed out */
}
END_TEST

START_TEST(plan_shared_and_direct)
{
	enum aperture_kind k[] = { APK_RNG, APK_FS };
	struct aperture a[2];

	ck_assert_int_eq(aperture_plan(DMA_SHARED, 0x4000000, 64 * MB, k, 2, a, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(a[i].base, 0x4000000);
		ck_assert_uint_eq(a[i].size, 64 * MB);
	}
	ck_assert_int_eq(aperture_plan(DMA_DIRECT, 0x4000000, 64 * MB, k, 2, a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a[0].size, 0);
	ck_assert_uint_eq(a[1].base, 0);
	ck_assert_uint_eq(aperture_pool_need(DMA_DIRECT, k, 2), 0);
}
END_TEST

START_TEST(plan_too_small_names_sizes)
{
	enum aperture_kind k[] = { APK_RNG, APK_FS };
	struct aperture a[2] = { { 1, 1 }, { 1, 1 } };

	ck_assert_int_eq(aperture_plan(DMA_APERTURE, 0x4000000, 16 * MB, k, 2, a, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "16 MiB pool is too small"));
	ck_assert_ptr_nonnull(strstr(err, "need 18 MiB"));
	ck_assert_ptr_nonnull(strstr(err, "virtio-rng 2 MiB, virtio-fs 16 MiB"));
	ck_assert_uint_eq(a[0].size, 0);
	ck_assert_uint_eq(a[1].size, 0);
	/* Misaligned pools are refused outright. */
	ck_assert_int_eq(aperture_plan(DMA_APERTURE, 0x4001000, 64 * MB, k, 2, a, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(aperture_plan(DMA_SHARED, 0x4000000, 64 * MB + 4096, k, 2, a, err, sizeof(err)), -EINVAL);
}
END_TEST

static struct aperture_limits limits(void)
{
	struct aperture_limits l = { .ram_low_end = 512 * MB, .nowned = 1 };

	l.owned[0].base = 0;
	l.owned[0].size = MB;
	l.owned[0].what = "firmware area";
	return l;
}

START_TEST(pool_check_hostile)
{
	struct aperture_limits l = limits();

	ck_assert_int_eq(aperture_pool_check(&l, 0x8000000, 64 * MB, 18 * MB, err, sizeof(err)), 0);
	ck_assert_int_eq(aperture_pool_check(&l, 0, 0, 18 * MB, err, sizeof(err)), -ENOENT);
	/* zero size, wrap, above 4 GiB, beyond RAM, misaligned, too small, over the firmware */
	ck_assert_int_eq(aperture_pool_check(&l, 0x8000000, 0, 0, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(aperture_pool_check(&l, 0xFFFFFFFFFFE00000ULL, 4 * MB, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "wraps"));
	ck_assert_int_eq(aperture_pool_check(&l, SZ_4G - 2 * MB, 4 * MB, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "below 4 GiB"));
	ck_assert_int_eq(aperture_pool_check(&l, 500 * MB, 64 * MB, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "inside guest RAM"));
	ck_assert_int_eq(aperture_pool_check(&l, 0x8001000, 64 * MB, 0, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(aperture_pool_check(&l, 0x8000000, 64 * MB + 4096, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "aligned"));
	ck_assert_int_eq(aperture_pool_check(&l, 0x8000000, 16 * MB, 18 * MB, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "smaller than the 18 MiB"));
	ck_assert_int_eq(aperture_pool_check(&l, 0, 64 * MB, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "firmware area"));
}
END_TEST

START_TEST(swiotlb_size_parse)
{
	uint64_t v = 0;

	ck_assert_int_eq(aperture_parse_pool_size("64M", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 64 * MB);
	ck_assert_int_eq(aperture_parse_pool_size("2M", &v, err, sizeof(err)), 0);
	ck_assert_int_eq(aperture_parse_pool_size("256MiB", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 256 * MB);
	ck_assert_int_eq(aperture_parse_pool_size("4096K", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 4 * MB);
	/* malformed */
	const char *bad[] = { "", "M", "-64M", "64X", "0x8000000,64M", "64M,", " 64M", "1.5G", "64MM" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(aperture_parse_pool_size(bad[i], &v, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "not a size"));
	}
	/* out of range, unaligned */
	ck_assert_int_eq(aperture_parse_pool_size("0", &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "out of range"));
	ck_assert_int_eq(aperture_parse_pool_size("1M", &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(aperture_parse_pool_size("258M", &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(aperture_parse_pool_size("99999999999999999999G", &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(aperture_parse_pool_size("3M", &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "multiple of 2 MiB"));
	ck_assert_int_eq(aperture_parse_pool_size("2049K", &v, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(dma_mode_names)
{
	enum dma_mode m;

	ck_assert_int_eq(dma_mode_parse("aperture", &m), 0);
	ck_assert_int_eq(m, DMA_APERTURE);
	ck_assert_int_eq(dma_mode_parse("shared", &m), 0);
	ck_assert_int_eq(m, DMA_SHARED);
	ck_assert_int_eq(dma_mode_parse("direct", &m), 0);
	ck_assert_int_eq(m, DMA_DIRECT);
	ck_assert_int_eq(dma_mode_parse("Direct", &m), -EINVAL);
	ck_assert_int_eq(dma_mode_parse("", &m), -EINVAL);
	ck_assert_str_eq(dma_mode_name(DMA_SHARED), "shared");
}
END_TEST

/* ---- the handshake's decision ---- */

START_TEST(decide_outcomes)
{
	struct vmm_config cfg = { .dma = DMA_APERTURE, .swiotlb = 64 * MB, .memory = 512 * MB };
	struct aperture_limits l = limits();
	struct aperture a[4];
	char why[256];

	ck_assert_int_eq(handshake_decide(&cfg, &l, 0x8000000, 64 * MB, a, 4, why, sizeof(why)), HS_APERTURES);
	ck_assert_uint_eq(a[0].base, 0x8000000);
	ck_assert_uint_ge(a[0].size, 2 * MB);
	/* No pool (unpatched kernel): fall back, or refuse with --require-aperture. */
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0, 0, a, 4, why, sizeof(why)), HS_FALLBACK);
	ck_assert_ptr_nonnull(strstr(why, "published no swiotlb pool"));
	ck_assert_uint_eq(a[0].size, 0);
	/* A hostile pool is treated as no pool. */
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0, 64 * MB, a, 4, why, sizeof(why)), HS_FALLBACK);
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0x7FFFF000, 64 * MB, a, 4, why, sizeof(why)), HS_FALLBACK);
	cfg.require_aperture = true;
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0, 0, a, 4, why, sizeof(why)), HS_REFUSED);
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0x8000000, 64 * MB, a, 4, why, sizeof(why)), HS_APERTURES);
	cfg.require_aperture = false;
	cfg.dma = DMA_DIRECT;
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0x8000000, 64 * MB, a, 4, why, sizeof(why)), HS_DIRECT);
	ck_assert_uint_eq(a[0].size, 0);
	cfg.dma = DMA_SHARED;
	ck_assert_int_eq(handshake_decide(&cfg, &l, 0x8000000, 64 * MB, a, 4, why, sizeof(why)), HS_APERTURES);
	ck_assert_uint_eq(a[0].size, 64 * MB);
}
END_TEST

/*
 * A second GUEST_CAPABILITIES (a guest that reconnects, or lies) must not
 * move a range a device already has in its view into another file: only
 * that same aperture again, or ranges clear of every view, may be split.
 */
START_TEST(split_refuses_ranges_in_use)
{
	const uint64_t base = 0x8000000;
	struct gm_view rng = { .base = base, .size = 2 * MB, .aperture = true };
	struct gm_view fs = { .base = base + 2 * MB, .size = 16 * MB, .aperture = true };
	struct gm_view all = { .base = 0, .size = 512 * MB };
	const struct gm_view *v[] = { &rng, &fs, &all };

	ck_assert_int_eq(handshake_may_split(v, 0, base, 2 * MB), 0);
	/* The very apertures the devices have: already theirs, no move. */
	ck_assert_int_eq(handshake_may_split(v, 2, base, 2 * MB), 0);
	ck_assert_int_eq(handshake_may_split(v, 2, base + 2 * MB, 16 * MB), 0);
	/* Clear of both, touching their edges. */
	ck_assert_int_eq(handshake_may_split(v, 2, base + 18 * MB, 16 * MB), 0);
	ck_assert_int_eq(handshake_may_split(v, 2, base - 4 * MB, 4 * MB), 0);
	/* Overlapping one: a page, a shifted copy, a range that holds it. */
	ck_assert_int_eq(handshake_may_split(v, 2, base + 2 * MB - 4096, 4096), -EBUSY);
	ck_assert_int_eq(handshake_may_split(v, 2, base + 1 * MB, 2 * MB), -EBUSY);
	ck_assert_int_eq(handshake_may_split(v, 2, base + 3 * MB, 1 * MB), -EBUSY);
	ck_assert_int_eq(handshake_may_split(v, 2, base - 4 * MB, 64 * MB), -EBUSY);
	ck_assert_int_eq(handshake_may_split(v, 2, base, 18 * MB), -EBUSY);
	/* A device that sees all of RAM: nothing in RAM may move under it. */
	ck_assert_int_eq(handshake_may_split(v, 3, base + 18 * MB, 16 * MB), -EBUSY);
}
END_TEST

/* ---- an aperture device on the harness ---- */

#define MEM (2u << 20)
#define AP_BASE 0x100000u
#define AP_SIZE 0x80000u

static struct harness h;
static struct virtio_rng rng;

static void up_view(bool shared)
{
	struct gm_view v;

	h_init(&h, MEM);
	v = gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE);
	v.shared = shared;
	ck_assert_int_eq(virtio_rng_init(&rng, &h.plat, &v), 0);
	h_plug(&h, &rng.vdev);
}

static void up(void)
{
	up_view(false);
}

static void down(void)
{
	virtio_rng_destroy(&rng);
	h_destroy(&h);
}

/* Everything but the aperture unreadable by the monitor (and back). */
static void fence(bool on)
{
	int prot = on ? PROT_NONE : PROT_READ | PROT_WRITE;

	ck_assert_int_eq(mprotect(fake_host(&h.fm, 0, AP_BASE), AP_BASE, prot), 0);
	ck_assert_int_eq(mprotect(fake_host(&h.fm, AP_BASE + AP_SIZE, MEM - AP_BASE - AP_SIZE),
				  MEM - AP_BASE - AP_SIZE, prot), 0);
}

/*
 * The aperture capability as docs/protocol.md lays it out, found by walking
 * the list as the guest does; its config offset.
 */
static unsigned find_aperture_cap(void)
{
	unsigned off, found = 0, at = 0;

	ck_assert(h_cfg_read(&h, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (off = h_cfg_read(&h, PCI_CAPABILITY_LIST, 1); off; off = h_cfg_read(&h, off + 1, 1)) {
		ck_assert_uint_lt(off, 0x100);
		if (h_cfg_read(&h, off, 1) != PCI_CAP_ID_VNDR || h_cfg_read(&h, off + 3, 1) != VIRTIO_PCI_CAP_SWIOTLB)
			continue;
		found++;
		at = off;
	}
	ck_assert_uint_eq(found, 1);
	/* The whole 24 bytes below 0x100 (no extended config space). */
	ck_assert_uint_le(at + 24, 0x100);
	return at;
}

START_TEST(cap_layout)
{
	unsigned off;

	up();
	off = find_aperture_cap();
	ck_assert_uint_eq(h_cfg_read(&h, off + 2, 1), sizeof(struct virtio_pci_cap64));
	/* bar 0xff: guest memory, never a BAR the RFC's form would name. */
	ck_assert_uint_eq(h_cfg_read(&h, off + 4, 1), 0xff);
	ck_assert_uint_eq(h_cfg_read(&h, off + 5, 1), 0); /* id */
	ck_assert_uint_eq(h_cfg_read(&h, off + 6, 2), 0); /* flags: not shared */
	ck_assert_uint_eq(h_cfg_read(&h, off + 8, 4), AP_BASE);
	ck_assert_uint_eq(h_cfg_read(&h, off + 12, 4), AP_SIZE);
	ck_assert_uint_eq(h_cfg_read(&h, off + 16, 4), 0);
	ck_assert_uint_eq(h_cfg_read(&h, off + 20, 4), 0);
	/* Read-only: a guest write changes nothing. */
	h_cfg_write(&h, off + 8, 4, 0);
	ck_assert_uint_eq(h_cfg_read(&h, off + 8, 4), AP_BASE);
	h_cfg_write(&h, off + 4, 1, 2);
	ck_assert_uint_eq(h_cfg_read(&h, off + 4, 1), 0xff);
	h_cfg_write(&h, off + 6, 2, 1);
	ck_assert_uint_eq(h_cfg_read(&h, off + 6, 2), 0);
	ck_assert((h_device_features(&h) & (VERSION_1 | ACCESS_PLATFORM | SWIOTLB)) ==
		  (VERSION_1 | ACCESS_PLATFORM | SWIOTLB));
	down();
}
END_TEST

/* --dma shared: the same aperture for every device, and the capability says so. */
START_TEST(cap_shared_flag)
{
	unsigned off;

	up_view(true);
	off = find_aperture_cap();
	ck_assert_uint_eq(h_cfg_read(&h, off + 4, 1), 0xff);
	ck_assert_uint_eq(h_cfg_read(&h, off + 6, 2), 1);
	ck_assert_uint_eq(h_cfg_read(&h, off + 8, 4), AP_BASE);
	ck_assert_uint_eq(h_cfg_read(&h, off + 12, 4), AP_SIZE);
	down();
}
END_TEST

START_TEST(plain_device_has_no_cap)
{
	unsigned off;

	h_init(&h, MEM);
	ck_assert_int_eq(virtio_rng_init(&rng, &h.plat, &h.fm.all), 0);
	h_plug(&h, &rng.vdev);
	for (off = h_cfg_read(&h, PCI_CAPABILITY_LIST, 1); off; off = h_cfg_read(&h, off + 1, 1))
		ck_assert(h_cfg_read(&h, off, 1) != PCI_CAP_ID_VNDR || h_cfg_read(&h, off + 3, 1) != VIRTIO_PCI_CAP_SWIOTLB);
	ck_assert(!(h_device_features(&h) & (ACCESS_PLATFORM | SWIOTLB)));
	down();
}
END_TEST

START_TEST(features_ok_needs_all_three)
{
	up();
	/* A driver that acknowledges everything but SWIOTLB (an unpatched guest). */
	ck_assert(!h_negotiate(&h, VERSION_1 | ACCESS_PLATFORM | (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	ck_assert(!h_negotiate(&h, VERSION_1 | SWIOTLB));
	ck_assert(!h_negotiate(&h, ACCESS_PLATFORM | SWIOTLB));
	ck_assert(h_negotiate(&h, VERSION_1 | ACCESS_PLATFORM | SWIOTLB));
	down();
}
END_TEST

/* Rings (or buffers) at `ring`; returns after the device reacted. */
static struct fake_ring r;

static void drive(uint64_t ring, uint64_t buf, bool indirect_outside)
{
	uint16_t head;

	up();
	ck_assert(h_negotiate(&h, VERSION_1 | ACCESS_PLATFORM | SWIOTLB));
	fake_ring_layout(&r, &h.fm, 8, ring);
	if (indirect_outside) {
		fake_indirect(&h.fm, 0x40000, (struct fake_seg[]){ { AP_BASE + 0x40000, 64, true } }, 1);
		fake_desc(&r, 0, 0x40000, 16, VRING_DESC_F_INDIRECT, 0);
		head = 0;
	} else {
		head = fake_chain(&r, 0, (struct fake_seg[]){ { buf, 64, true } }, 1);
	}
	fake_avail_push(&r, head);
	fence(true);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	h_kick(&h, 0);
}

START_TEST(rings_outside_need_reset)
{
	drive(0x10000, AP_BASE + 0x1000, false);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ck_assert_uint_ge(rng.vdev.stats.denied, 1);
	ck_assert_uint_eq(rng.bytes, 0);
	fence(false);
	down();
}
END_TEST

START_TEST(ring_straddling_edge_needs_reset)
{
	/* Starts inside, ends past the aperture. */
	drive(AP_BASE + AP_SIZE - 0x40, AP_BASE + 0x1000, false);
	ck_assert(h_wait_needs_reset(&h, 2000));
	fence(false);
	down();
}
END_TEST

START_TEST(buffer_outside_needs_reset)
{
	drive(AP_BASE, 0x20000, false);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_ge(rng.vdev.stats.denied, 1);
	ck_assert_uint_eq(rng.bytes, 0);
	fence(false);
	down();
}
END_TEST

START_TEST(indirect_table_outside_needs_reset)
{
	drive(AP_BASE, 0, true);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(rng.bytes, 0);
	fence(false);
	down();
}
END_TEST

START_TEST(inside_works_with_fence)
{
	uint32_t len;

	drive(AP_BASE, AP_BASE + 0x2000, false);
	ck_assert(h_wait_used(&r, 0, 2000));
	ck_assert(fake_used_next(&r, NULL, &len));
	ck_assert_uint_eq(len, 64);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
	ck_assert_uint_eq(rng.vdev.stats.denied, 0);
	ck_assert_uint_ge(rng.vdev.stats.checked, 4); /* three rings and the buffer */
	fence(false);
	down();
}
END_TEST

Suite *aperture_suite(void)
{
	Suite *s = suite_create("aperture");
	TCase *p = tcase_create("policy"), *d = tcase_create("device");

	tcase_add_test(p, plan_per_device);
	tcase_add_test(p, plan_scales_spare_room);
	tcase_add_test(p, plan_shared_and_direct);
	tcase_add_test(p, plan_too_small_names_sizes);
	tcase_add_test(p, pool_check_hostile);
	tcase_add_test(p, swiotlb_size_parse);
	tcase_add_test(p, dma_mode_names);
	tcase_add_test(p, decide_outcomes);
	tcase_add_test(p, split_refuses_ranges_in_use);
	tcase_add_test(d, cap_layout);
	tcase_add_test(d, cap_shared_flag);
	tcase_add_test(d, plain_device_has_no_cap);
	tcase_add_test(d, features_ok_needs_all_three);
	tcase_add_test(d, rings_outside_need_reset);
	tcase_add_test(d, ring_straddling_edge_needs_reset);
	tcase_add_test(d, buffer_outside_needs_reset);
	tcase_add_test(d, indirect_table_outside_needs_reset);
	tcase_add_test(d, inside_works_with_fence);
	suite_add_tcase(s, p);
	suite_add_tcase(s, d);
	return s;
}

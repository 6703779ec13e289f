/* SPDX-License-Identifier: MIT */
/*
 * The virtio PCI transport and virtio-rng, driven by the native harness
 * through configuration-space and BAR accesses, as the guest driver does.
 */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include "devices/virtio-rng.h"
#include "tests/unit/harness.h"
#include "tests/unit/suites.h"

#define MEM (1u << 20)
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)

static struct harness h;
static struct virtio_rng rng;

static void up(void)
{
	h_init(&h, MEM);
	ck_assert_int_eq(virtio_rng_init(&rng, &h.plat, &h.fm.all), 0);
	h_plug(&h, &rng.vdev);
}

static void down(void)
{
	virtio_rng_destroy(&rng);
	h_destroy(&h);
}

START_TEST(virtio_ids_and_caps)
{
	up();
	ck_assert_uint_eq(h_cfg_read(&h, PCI_DEVICE_ID, 2), 0x1040 + 4);
	ck_assert_uint_eq(h_cfg_read(&h, PCI_SUBSYSTEM_ID, 2), 4);
	ck_assert_uint_eq(h_cfg_read(&h, PCI_INTERRUPT_PIN, 1), 0);
	ck_assert_uint_eq(h.notify_mult, 4);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	ck_assert(h_device_features(&h) & VERSION_1);
	/* A wrong-width access to a common field reads as zero and changes nothing. */
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_NUMQ, 4), 0);
	down();
}
END_TEST

START_TEST(virtio_features_ok_refused)
{
	up();
	/* Unknown feature bit 50: the device refuses FEATURES_OK. */
	ck_assert(!h_negotiate(&h, VERSION_1 | (1ULL << 50)));
	/* Without VERSION_1 (a legacy driver) too. */
	ck_assert(!h_negotiate(&h, 0));
	ck_assert(h_negotiate(&h, VERSION_1));
	down();
}
END_TEST

START_TEST(virtio_rng_fills_buffer)
{
	struct fake_ring r;
	uint8_t buf[256];
	uint32_t id, len;
	unsigned before;

	up();
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	fake_fill(&h.fm, 0x8000, 0, sizeof(buf));
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, sizeof(buf), true } }, 1));
	before = h_msi_count(&h, 1);
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 2000));
	ck_assert(fake_used_next(&r, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, sizeof(buf));
	fake_read(&h.fm, 0x8000, buf, sizeof(buf));
	{
		unsigned zeros = 0;

		for (size_t i = 0; i < sizeof(buf); i++)
			zeros += buf[i] == 0;
		ck_assert_uint_lt(zeros, 32); /* 256 random bytes: ~1 zero expected */
	}
	/* The interrupt went to the queue's vector with the programmed message. */
	for (int t = 0; t < 2000 && h_msi_count(&h, 1) == before; t++)
		h_wait_used(&r, fake_used_idx(&r), 1);
	ck_assert_uint_eq(h_msi_count(&h, 1), before + 1);
	ck_assert_uint_eq(h.msi_data[1], 0x4001);
	ck_assert_uint_eq(rng.bytes, sizeof(buf));
	down();
}
END_TEST

/*
 * With EVENT_IDX the driver kicks only when avail->idx passes avail_event:
 * after each request the device must ask for the next kick, or a second
 * request is never seen (the hang a real guest showed before this test).
 */
START_TEST(virtio_event_idx_asks_for_next_kick)
{
	struct fake_ring r;

	up();
	ck_assert(h_negotiate(&h, VERSION_1 | (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	for (uint16_t n = 1; n <= 3; n++) {
		fake_avail_push(&r, fake_chain(&r, (uint16_t)(n % 8), (struct fake_seg[]){ { 0x8000, 16, true } }, 1));
		h_kick(&h, 0);
		ck_assert(h_wait_used(&r, (uint16_t)(n - 1), 2000));
		/* The worker writes avail_event after it drained the queue. */
		for (int t = 0; t < 2000 && fake_avail_event(&r) != n; t++)
			h_wait_used(&r, fake_used_idx(&r), 1);
		ck_assert_uint_eq(fake_avail_event(&r), n);
	}
	down();
}
END_TEST

START_TEST(virtio_rng_readable_buffer_needs_reset)
{
	struct fake_ring r;

	up();
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, 64, false } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(fake_used_idx(&r), 0);
	ck_assert_uint_ge(rng.vdev.violations, 1);
	/* A reset brings the device back. */
	ck_assert(h_negotiate(&h, VERSION_1));
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
	down();
}
END_TEST

START_TEST(virtio_chain_outside_memory_needs_reset)
{
	struct fake_ring r;

	up();
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	/* A buffer running past the end of RAM: the guard page would catch any access. */
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { MEM - 16, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(fake_used_idx(&r), 0);
	down();
}
END_TEST

START_TEST(virtio_bad_queue_setup_needs_reset)
{
	struct fake_ring r;

	up();
	ck_assert(h_negotiate(&h, VERSION_1));
	/* Misaligned descriptor table. */
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	r.desc += 8;
	h_queue_setup(&h, 0, &r, 1);
	ck_assert(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* Size not a power of two. */
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	r.size = 6;
	h_queue_setup(&h, 0, &r, 1);
	ck_assert(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Larger than the device allows. */
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	r.size = 1024;
	h_queue_setup(&h, 0, &r, 1);
	ck_assert(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Used ring beyond the end of memory. */
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	r.used = MEM - 8;
	h_queue_setup(&h, 0, &r, 1);
	ck_assert(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET);
	down();
}
END_TEST

/*
 * Issue 9, defect 2: two vCPUs writing device_status together. Each thread
 * runs reset -> ACKNOWLEDGE|DRIVER -> features -> FEATURES_OK -> DRIVER_OK in
 * a loop, so resets race with each other and with worker starts. Before
 * status writes, reset and worker start/stop were serialised, two resets
 * joined the same worker (a hang: the test times out) or a DRIVER_OK
 * started a worker in the middle of another thread's reset.
 */
static void *status_storm(void *arg)
{
	unsigned n = (unsigned)(uintptr_t)arg;

	for (unsigned i = 0; i < n; i++) {
		h_set_status(&h, 0);
		h_set_status(&h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
		h_common_write(&h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
		h_common_write(&h, VIRTIO_PCI_COMMON_GF, 4, 1); /* VERSION_1 */
		h_set_status(&h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
		h_set_status(&h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
				      VIRTIO_CONFIG_S_DRIVER_OK);
		if (i % 7 == 0)
			h_kick(&h, 0);
	}
	return NULL;
}

START_TEST(virtio_concurrent_status_writes)
{
	pthread_t t[3];
	struct fake_ring r;
	uint8_t buf[64];
	uint32_t id, len;

	up();
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, status_storm, (void *)(uintptr_t)3000), 0);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* The device still works after the storm: one clean bring-up, one request. */
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, sizeof(buf), true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 2000));
	ck_assert(fake_used_next(&r, &id, &len));
	ck_assert_uint_eq(len, sizeof(buf));
	h_set_status(&h, 0);
	ck_assert(!rng.vdev.worker_running);
	down();
}
END_TEST

Suite *virtio_suite(void)
{
	Suite *s = suite_create("virtio");
	TCase *t = tcase_create("transport");

	tcase_set_timeout(t, 20);
	tcase_add_test(t, virtio_ids_and_caps);
	tcase_add_test(t, virtio_features_ok_refused);
	tcase_add_test(t, virtio_rng_fills_buffer);
	tcase_add_test(t, virtio_event_idx_asks_for_next_kick);
	tcase_add_test(t, virtio_rng_readable_buffer_needs_reset);
	tcase_add_test(t, virtio_chain_outside_memory_needs_reset);
	tcase_add_test(t, virtio_bad_queue_setup_needs_reset);
	tcase_add_test(t, virtio_concurrent_status_writes);
	suite_add_tcase(s, t);
	return s;
}

/* SPDX-License-Identifier: MIT */
/* MSI-X: capability layout, table writes, masking, pending bits. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "devices/msix.h"
#include "tests/unit/suites.h"

static unsigned delivered[MSIX_MAX_VECTORS], routed;
static uint64_t last_addr;
static uint32_t last_data;

static void route(void *ctx, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)ctx;
	(void)vec;
	routed++;
	last_addr = addr;
	last_data = data;
}

static void deliver(void *ctx, unsigned vec)
{
	(void)ctx;
	delivered[vec]++;
}

static const struct msix_ops ops = { .route = route, .deliver = deliver };

static void w32(struct msix *m, uint64_t off, uint32_t v)
{
	msix_table_io(m, off, (uint8_t *)&v, 4, true);
}

static void set_ctl(struct pci_dev *d, struct msix *m, uint16_t v)
{
	/* As the bus applies a guest write: through the writable mask. */
	unsigned o = m->cap + PCI_MSIX_FLAGS + 1;

	d->cfg[o] = (uint8_t)((d->cfg[o] & ~d->wmask[o]) | ((v >> 8) & d->wmask[o]));
	msix_cfg_written(m);
}

START_TEST(msix_layout)
{
	struct pci_dev d;
	struct msix m;

	pci_dev_init(&d, 0x1AF4, 0x1040, 0, 0, 0, NULL, NULL);
	ck_assert_int_eq(msix_init(&m, &d, 0, 0, 0, 0x800, &ops, NULL), -EINVAL);
	ck_assert_int_eq(msix_init(&m, &d, 4, 1, 0x4, 0x800, &ops, NULL), -EINVAL); /* misaligned */
	ck_assert_int_eq(msix_init(&m, &d, 4, 1, 0x0, 0x800, &ops, NULL), 0);
	ck_assert_uint_eq(d.cfg[m.cap], PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(pci_get16(&d, m.cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE, 3);
	ck_assert_uint_eq(pci_get32(&d, m.cap + PCI_MSIX_TABLE), 0x0 | 1);
	ck_assert_uint_eq(pci_get32(&d, m.cap + PCI_MSIX_PBA), 0x800 | 1);
	/* The table size field is read-only. */
	ck_assert_uint_eq(d.wmask[m.cap + PCI_MSIX_FLAGS], 0);
}
END_TEST

START_TEST(msix_mask_pending_deliver)
{
	struct pci_dev d;
	struct msix m;
	uint64_t pba = 0;
	uint32_t v = 0;

	memset(delivered, 0, sizeof(delivered));
	routed = 0;
	pci_dev_init(&d, 0x1AF4, 0x1040, 0, 0, 0, NULL, NULL);
	ck_assert_int_eq(msix_init(&m, &d, 4, 0, 0x0, 0x800, &ops, NULL), 0);
	/* Disabled: a notification only sets the pending bit. */
	msix_notify(&m, 2);
	ck_assert_uint_eq(delivered[2], 0);
	msix_pba_io(&m, 0, (uint8_t *)&pba, 8, false);
	ck_assert_uint_eq(pba, 1u << 2);
	/* Program vector 2, enable the function: still masked per vector. */
	w32(&m, 2 * 16 + 0, 0xFEE00000);
	w32(&m, 2 * 16 + 4, 0);
	w32(&m, 2 * 16 + 8, 0x4041);
	set_ctl(&d, &m, PCI_MSIX_FLAGS_ENABLE);
	ck_assert_uint_eq(delivered[2], 0);
	/* Unmask: the pending interrupt is delivered with the programmed message. */
	w32(&m, 2 * 16 + 12, 0);
	ck_assert_uint_eq(delivered[2], 1);
	ck_assert_uint_eq(last_addr, 0xFEE00000);
	ck_assert_uint_eq(last_data, 0x4041);
	msix_pba_io(&m, 0, (uint8_t *)&pba, 8, false);
	ck_assert_uint_eq(pba, 0);
	/* Live: delivered at once. */
	msix_notify(&m, 2);
	ck_assert_uint_eq(delivered[2], 2);
	/* Function mask holds it back; clearing it delivers. */
	set_ctl(&d, &m, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	msix_notify(&m, 2);
	ck_assert_uint_eq(delivered[2], 2);
	set_ctl(&d, &m, PCI_MSIX_FLAGS_ENABLE);
	ck_assert_uint_eq(delivered[2], 3);
	/* Bad accesses: out of range vector, unaligned, 1-byte, beyond the table. */
	msix_notify(&m, 4);
	msix_notify(&m, 1000);
	msix_table_io(&m, 2, (uint8_t *)&v, 4, true);
	msix_table_io(&m, 0, (uint8_t *)&v, 1, true);
	v = 0xFFFFFFFF;
	msix_table_io(&m, 4 * 16, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0);
	/* Reserved vector-control bits do not stick. */
	w32(&m, 0 * 16 + 12, 0xFFFFFFFE);
	msix_table_io(&m, 0 * 16 + 12, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0);
}
END_TEST

Suite *msix_suite(void)
{
	Suite *s = suite_create("msix");
	TCase *t = tcase_create("msix");

	tcase_add_test(t, msix_layout);
	tcase_add_test(t, msix_mask_pending_deliver);
	suite_add_tcase(s, t);
	return s;
}

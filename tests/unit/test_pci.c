/* SPDX-License-Identifier: MIT */
/* PCI bus: type-1 configuration ports, host bridge, BAR sizing, capabilities, MMIO routing. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "devices/pci.h"
#include "tests/unit/suites.h"

#define WINDOW 0x10000000ULL

static struct bus pio, mmio;
static struct pci_bus pb;
static int cf9_hits;
static unsigned bar_hits, last_bar;
static uint64_t last_off;

static void cf9(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	(void)opaque;
	(void)offset;
	(void)size;
	if (is_write && data[0] == 0x06)
		cf9_hits++;
}

static void bar_io(struct pci_dev *d, unsigned bar, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	(void)d;
	bar_hits++;
	last_bar = bar;
	last_off = offset;
	if (!is_write)
		memset(data, 0xAB, size);
}

static uint64_t moved_old, moved_new;
static unsigned moves;

static void bar_moved(struct pci_dev *d, unsigned bar, uint64_t old, uint64_t addr)
{
	(void)d;
	(void)bar;
	moves++;
	moved_old = old;
	moved_new = addr;
}

static const struct pci_dev_ops ops = { .bar_io = bar_io, .bar_moved = bar_moved };

static void setup(void)
{
	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	pci_bus_init(&pb, WINDOW);
	ck_assert_int_eq(pci_bus_attach(&pb, &pio, &mmio, cf9, NULL), 0);
	cf9_hits = 0;
	bar_hits = 0;
}

static void outl_(uint16_t port, uint32_t v)
{
	bus_dispatch(&pio, port, (uint8_t *)&v, 4, true);
}

static uint32_t inl_(uint16_t port)
{
	uint32_t v = 0;

	bus_dispatch(&pio, port, (uint8_t *)&v, 4, false);
	return v;
}

static uint32_t cfg_read(unsigned slot, unsigned reg)
{
	outl_(PCI_CONFIG_ADDRESS, 0x80000000u | slot << 11 | reg);
	return inl_(PCI_CONFIG_DATA);
}

static void cfg_write(unsigned slot, unsigned reg, uint32_t v)
{
	outl_(PCI_CONFIG_ADDRESS, 0x80000000u | slot << 11 | reg);
	outl_(PCI_CONFIG_DATA, v);
}

START_TEST(pci_type1_probe_and_host_bridge)
{
	setup();
	/* Linux's pci_check_type1(): the address register reads back. */
	outl_(PCI_CONFIG_ADDRESS, 0x80000000u);
	ck_assert_uint_eq(inl_(PCI_CONFIG_ADDRESS), 0x80000000u);
	ck_assert_uint_eq(cfg_read(0, PCI_VENDOR_ID), 0x29C08086u);
	ck_assert_uint_eq(cfg_read(0, PCI_CLASS_REVISION) >> 16, 0x0600);
	/* Empty slot and enable bit clear read all ones. */
	ck_assert_uint_eq(cfg_read(5, PCI_VENDOR_ID), 0xFFFFFFFFu);
	outl_(PCI_CONFIG_ADDRESS, 0x00000000u);
	ck_assert_uint_eq(inl_(PCI_CONFIG_DATA), 0xFFFFFFFFu);
	/* A byte at 0xCF9 is the reset register, not CONFIG_ADDRESS. */
	{
		uint8_t v = 0x06;

		bus_dispatch(&pio, 0xCF9, &v, 1, true);
	}
	ck_assert_int_eq(cf9_hits, 1);
	ck_assert_uint_eq(inl_(PCI_CONFIG_ADDRESS), 0x00000000u);
}
END_TEST

START_TEST(pci_bar_sizing_and_routing)
{
	struct pci_dev d;
	int slot;
	uint32_t bar;
	uint8_t buf[4];

	setup();
	pci_dev_init(&d, 0x1AF4, 0x1044, 0xFF000001, 0x1AF4, 0x40, &ops, NULL);
	ck_assert_int_eq(pci_dev_set_bar(&d, 0, 0x4000), 0);
	ck_assert_int_eq(pci_dev_set_bar(&d, 1, 0x3000), -EINVAL); /* not a power of two */
	slot = pci_bus_add(&pb, &d, -1);
	ck_assert_int_eq(slot, 1);
	bar = cfg_read(1, PCI_BASE_ADDRESS_0);
	ck_assert_uint_eq(bar, WINDOW);
	/* Sizing: write all ones, read the mask back. */
	cfg_write(1, PCI_BASE_ADDRESS_0, 0xFFFFFFFFu);
	ck_assert_uint_eq(cfg_read(1, PCI_BASE_ADDRESS_0), ~(uint32_t)(0x4000 - 1));
	/* Read-only fields stay. */
	cfg_write(1, PCI_VENDOR_ID, 0);
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID), 0x10441AF4u);
	/* Move it, no decode until memory space is enabled. */
	cfg_write(1, PCI_BASE_ADDRESS_0, 0x20000000u);
	ck_assert(bus_dispatch(&mmio, 0x20000010, buf, 4, false));
	ck_assert_uint_eq(bar_hits, 0);
	ck_assert_uint_eq(buf[0], 0xFF);
	moves = 0;
	cfg_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* Decoding starts: the device hears where (and that it was nowhere). */
	ck_assert_uint_eq(moves, 1);
	ck_assert_uint_eq(moved_old, 0);
	ck_assert_uint_eq(moved_new, 0x20000000);
	ck_assert(bus_dispatch(&mmio, 0x20000010, buf, 4, false));
	ck_assert_uint_eq(bar_hits, 1);
	ck_assert_uint_eq(last_bar, 0);
	ck_assert_uint_eq(last_off, 0x10);
	ck_assert_uint_eq(buf[0], 0xAB);
	/* An access straddling the BAR's end reaches no device. */
	bus_dispatch(&mmio, 0x20000000 + 0x4000 - 2, buf, 4, false);
	ck_assert_uint_eq(bar_hits, 1);
	/* Moving it tells the device the old address (to unbind its ioeventfds). */
	cfg_write(1, PCI_BASE_ADDRESS_0, 0x30000000u);
	ck_assert_uint_eq(moved_old, 0x20000000);
	ck_assert_uint_eq(moved_new, 0x30000000);
	/* A BAR programmed outside the window (over RAM) does not decode. */
	cfg_write(1, PCI_BASE_ADDRESS_0, 0x01000000u);
	ck_assert_uint_eq(moved_old, 0x30000000);
	ck_assert_uint_eq(moved_new, 0);
	bus_dispatch(&mmio, 0x01000000, buf, 4, false);
	ck_assert_uint_eq(bar_hits, 1);
	/* The same slot cannot be taken twice. */
	ck_assert_int_eq(pci_bus_add(&pb, &d, 1), -EBUSY);
}
END_TEST

START_TEST(pci_capability_list)
{
	struct pci_dev d;
	int a, b;

	setup();
	pci_dev_init(&d, 0x1AF4, 0x1044, 0, 0, 0, &ops, NULL);
	a = pci_add_cap(&d, PCI_CAP_ID_VNDR, 16);
	b = pci_add_cap(&d, PCI_CAP_ID_MSIX, 12);
	ck_assert_int_eq(a, 0x40);
	ck_assert_int_eq(b, 0x50);
	ck_assert(pci_get16(&d, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(d.cfg[PCI_CAPABILITY_LIST], 0x40);
	ck_assert_uint_eq(d.cfg[0x41], 0x50);
	ck_assert_uint_eq(d.cfg[0x51], 0);
	ck_assert_int_eq(pci_add_cap(&d, PCI_CAP_ID_VNDR, 200), -ENOSPC);
}
END_TEST

Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *t = tcase_create("bus");

	tcase_add_test(t, pci_type1_probe_and_host_bridge);
	tcase_add_test(t, pci_bar_sizing_and_routing);
	tcase_add_test(t, pci_capability_list);
	suite_add_tcase(s, t);
	return s;
}

/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical map in one place: what the monitor puts in low RAM at
 * boot, where RAM ends and the 32-bit MMIO hole begins, the PCI BAR window,
 * the interrupt controllers, and the GSI ranges. Each constant is derived
 * from its neighbours where one depends on another; docs/architecture.md
 * has the picture.
 */
#ifndef APERTURE_LAYOUT_H
#define APERTURE_LAYOUT_H

#include "lib/util.h"

/* ---- low RAM: what the guest reads at boot (all below 1 MiB but the kernel and initrd) ---- */

#define LAYOUT_GDT 0x500ULL
#define LAYOUT_ZERO_PAGE 0x7000ULL
#define LAYOUT_PML4 0x9000ULL
#define LAYOUT_PDPT 0xA000ULL
#define LAYOUT_PD 0xB000ULL /* four page directories: 0xB000-0xEFFF */
#define LAYOUT_BOOT_STACK 0x8FF0ULL
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_EBDA 0x9FC00ULL     /* reserved from here to 1 MiB */
/* Floating pointer in the last KiB of base memory, where Linux scans; with
 * more than 40 CPUs the table runs on into the reserved area above 640 KiB. */
#define LAYOUT_MPTABLE LAYOUT_EBDA
#define LAYOUT_HIGH_MEM 0x100000ULL
#define LAYOUT_KERNEL_LOAD 0x100000ULL /* bzImage protected-mode code */

/* ---- RAM, the 32-bit MMIO hole, PCI ---- */
#define LAYOUT_MMIO_HOLE_START 0xC0000000ULL          /* RAM above 3 GiB moves to 4 GiB */
#define LAYOUT_MMIO_HOLE_END SZ_4G
#define LAYOUT_HIGH_RAM_START LAYOUT_MMIO_HOLE_END
#define LAYOUT_IOAPIC 0xFEC00000ULL                   /* reserved in e820 from here to 4 GiB */
#define LAYOUT_LAPIC 0xFEE00000ULL
/* PCI BARs: from the first 2 MiB boundary above low RAM up to the IOAPIC. */
#define LAYOUT_PCI_WINDOW_END LAYOUT_IOAPIC

/* ---- interrupts ---- */
#define LAYOUT_IOAPIC_PINS 24                          /* GSIs 0-23: ISA IRQs and IOAPIC pins */
#define LAYOUT_FIRST_MSI_GSI LAYOUT_IOAPIC_PINS        /* MSI routes (irqfd) from here */
#define LAYOUT_MAX_GSI 1024

_Static_assert(LAYOUT_MMIO_HOLE_START < LAYOUT_IOAPIC && LAYOUT_IOAPIC < LAYOUT_LAPIC &&
		       LAYOUT_LAPIC < LAYOUT_MMIO_HOLE_END,
	       "the interrupt controllers sit in the MMIO hole, above the PCI window");
_Static_assert(LAYOUT_KERNEL_LOAD == LAYOUT_HIGH_MEM && LAYOUT_EBDA < LAYOUT_HIGH_MEM &&
		       LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX <= LAYOUT_EBDA && LAYOUT_PD + 4 * 0x1000 <= LAYOUT_CMDLINE,
	       "boot structures do not overlap");

/* Boot GDT selectors (Documentation/arch/x86/boot.rst, 64-bit protocol). */
#define LAYOUT_SEL_CODE 0x10
#define LAYOUT_SEL_DATA 0x18

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The zero page (struct boot_params) with its e820 map, the boot GDT and the
 * identity page tables for the 64-bit boot protocol.
 */
#ifndef APERTURE_ZEROPAGE_H
#define APERTURE_ZEROPAGE_H

#include <asm/bootparam.h>
#include <stdint.h>
#include "lib/memory.h"

/*
 * Fill bp->e820_table from the guest's RAM layout: base memory below the
 * EBDA, reserved EBDA/BIOS area, RAM from 1 MiB to the MMIO hole, the
 * IOAPIC/LAPIC page range reserved, RAM above 4 GiB. Returns entry count.
 */
unsigned zeropage_fill_e820(struct boot_params *bp, const struct guest_mem *m);

/* Write the boot GDT and 4 GiB identity page tables (2 MiB pages). */
int boot_write_gdt_and_pagetables(const struct guest_mem *m) must_check;

/* The GDT the guest starts with: null, null, code (0x10), data (0x18). */
extern const uint64_t boot_gdt[4];

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Where the monitor puts what the guest reads at boot. All of it sits in
 * low RAM below 1 MiB except the kernel and initrd; docs/architecture.md
 * has the picture.
 */
#ifndef APERTURE_LAYOUT_H
#define APERTURE_LAYOUT_H

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

#define LAYOUT_IOAPIC 0xFEC00000ULL
#define LAYOUT_LAPIC 0xFEE00000ULL

/* Boot GDT selectors (Documentation/arch/x86/boot.rst, 64-bit protocol). */
#define LAYOUT_SEL_CODE 0x10
#define LAYOUT_SEL_DATA 0x18

#endif

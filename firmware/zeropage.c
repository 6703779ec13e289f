/* SPDX-License-Identifier: MIT */
#include "firmware/zeropage.h"

#include <asm/e820.h>
#include <string.h>
#include "lib/layout.h"

const uint64_t boot_gdt[4] = {
	0,
	0,
	0x00AF9B000000FFFFULL, /* 0x10: 64-bit code, present, DPL0, execute/read */
	0x00CF93000000FFFFULL, /* 0x18: flat data, present, DPL0, read/write */
};

static void add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e;

	if (size == 0 || bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE)
		return;
	e = &bp->e820_table[bp->e820_entries++];
	e->addr = addr;
	e->size = size;
	e->type = type;
}

unsigned zeropage_fill_e820(struct boot_params *bp, const struct guest_mem *m)
{
	uint64_t low_end = gm_low_end(m);

	bp->e820_entries = 0;
	add(bp, 0, LAYOUT_EBDA, E820_RAM);
	add(bp, LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA, E820_RESERVED);
	if (low_end > LAYOUT_HIGH_MEM)
		add(bp, LAYOUT_HIGH_MEM, low_end - LAYOUT_HIGH_MEM, E820_RAM);
	/* IOAPIC, LAPIC and everything above them up to 4 GiB is ours. */
	add(bp, LAYOUT_IOAPIC, SZ_4G - LAYOUT_IOAPIC, E820_RESERVED);
	for (unsigned i = 1; i < m->nregions; i++)
		add(bp, m->region[i].gpa, m->region[i].size, E820_RAM);
	return bp->e820_entries;
}

int boot_write_gdt_and_pagetables(const struct guest_mem *m)
{
	uint64_t pml4[512] = { 0 }, pdpt[512] = { 0 }, pd[512];
	int err;

	err = gm_write(m, LAYOUT_GDT, boot_gdt, sizeof(boot_gdt));
	if (err)
		return err;
	pml4[0] = LAYOUT_PDPT | 0x3; /* present, writable */
	for (uint64_t g = 0; g < 4; g++) {
		pdpt[g] = (LAYOUT_PD + g * 0x1000) | 0x3;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * SZ_1G + i * SZ_2M) | 0x83; /* present, writable, 2 MiB */
		err = gm_write(m, LAYOUT_PD + g * 0x1000, pd, sizeof(pd));
		if (err)
			return err;
	}
	err = gm_write(m, LAYOUT_PML4, pml4, sizeof(pml4));
	if (err)
		return err;
	return gm_write(m, LAYOUT_PDPT, pdpt, sizeof(pdpt));
}

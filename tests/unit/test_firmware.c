/* SPDX-License-Identifier: MIT */
/* firmware/zeropage.c (e820) and firmware/mptable.c. */
#include <asm/bootparam.h>
#include <asm/e820.h>
#include <check.h>
#include <errno.h>
#include <string.h>
#include "lib/layout.h"
#include "firmware/mptable.h"
#include "firmware/zeropage.h"
#include "tests/unit/suites.h"
#include "lib/memory.h"

/* ---- e820 ---- */

/* Sorted, non-overlapping, the EBDA..1 MiB hole reserved; returns RAM bytes. */
static uint64_t check_e820_shape(const struct boot_params *bp)
{
	uint64_t ram = 0;
	bool hole_reserved = false;

	ck_assert_uint_gt(bp->e820_entries, 0);
	ck_assert_uint_le(bp->e820_entries, E820_MAX_ENTRIES_ZEROPAGE);
	for (unsigned i = 0; i < bp->e820_entries; i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];

		ck_assert_uint_gt(e->size, 0);
		ck_assert_uint_ge(e->addr + e->size, e->addr); /* no wrap */
		ck_assert_msg(e->type == E820_RAM || e->type == E820_RESERVED, "entry %u type %u", i, e->type);
		if (i > 0) {
			const struct boot_e820_entry *p = &bp->e820_table[i - 1];

			ck_assert_msg(p->addr + p->size <= e->addr, "entries %u and %u overlap or are unsorted", i - 1, i);
		}
		if (e->type == E820_RAM) {
			ram += e->size;
			/* No RAM entry may cover any byte of [EBDA, 1 MiB). */
			ck_assert_msg(e->addr + e->size <= LAYOUT_EBDA || e->addr >= LAYOUT_HIGH_MEM,
				      "RAM entry %u covers the EBDA/BIOS hole", i);
		}
		if (e->type == E820_RESERVED && e->addr <= LAYOUT_EBDA && e->addr + e->size >= LAYOUT_HIGH_MEM)
			hole_reserved = true;
	}
	ck_assert_msg(hole_reserved, "0x9FC00-1MiB is not reserved");
	return ram;
}

START_TEST(e820_64m)
{
	struct guest_mem m;
	struct boot_params bp;
	unsigned n;

	ck_assert_int_eq(gm_create(&m, 64ULL << 20), 0);
	memset(&bp, 0xA5, sizeof(bp));
	n = zeropage_fill_e820(&bp, &m);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(bp.e820_entries, 4);
	ck_assert_uint_eq(check_e820_shape(&bp), (64ULL << 20) - (LAYOUT_HIGH_MEM - LAYOUT_EBDA));
	ck_assert_uint_eq(bp.e820_table[0].addr, 0);
	ck_assert_uint_eq(bp.e820_table[0].size, 0x9FC00);
	ck_assert_uint_eq(bp.e820_table[0].type, E820_RAM);
	ck_assert_uint_eq(bp.e820_table[1].addr, 0x9FC00);
	ck_assert_uint_eq(bp.e820_table[1].size, 0x100000 - 0x9FC00);
	ck_assert_uint_eq(bp.e820_table[1].type, E820_RESERVED);
	ck_assert_uint_eq(bp.e820_table[2].addr, 0x100000);
	ck_assert_uint_eq(bp.e820_table[2].size, (64ULL << 20) - 0x100000);
	ck_assert_uint_eq(bp.e820_table[2].type, E820_RAM);
	ck_assert_uint_eq(bp.e820_table[3].addr, LAYOUT_IOAPIC);
	ck_assert_uint_eq(bp.e820_table[3].addr + bp.e820_table[3].size, SZ_4G);
	ck_assert_uint_eq(bp.e820_table[3].type, E820_RESERVED);
	/* The LAPIC page is inside the reserved range. */
	ck_assert_uint_le(bp.e820_table[3].addr, LAYOUT_LAPIC);
	gm_destroy(&m);
}
END_TEST

START_TEST(e820_above_4g)
{
	const uint64_t size = 4608ULL << 20; /* 4.5 GiB */
	struct guest_mem m;
	struct boot_params bp;
	unsigned n;
	bool high = false;

	ck_assert_int_eq(gm_create(&m, size), 0);
	memset(&bp, 0, sizeof(bp));
	n = zeropage_fill_e820(&bp, &m);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(check_e820_shape(&bp), size - (LAYOUT_HIGH_MEM - LAYOUT_EBDA));
	/* Low RAM stops at the MMIO hole. */
	ck_assert_uint_eq(bp.e820_table[2].addr, LAYOUT_HIGH_MEM);
	ck_assert_uint_eq(bp.e820_table[2].addr + bp.e820_table[2].size, GM_MMIO_HOLE_START);
	for (unsigned i = 0; i < n; i++) {
		const struct boot_e820_entry *e = &bp.e820_table[i];

		/* Nothing between the hole start and the IOAPIC claims to be RAM. */
		if (e->type == E820_RAM)
			ck_assert(e->addr + e->size <= GM_MMIO_HOLE_START || e->addr >= SZ_4G);
		if (e->addr == SZ_4G) {
			ck_assert_uint_eq(e->type, E820_RAM);
			ck_assert_uint_eq(e->size, size - GM_MMIO_HOLE_START);
			high = true;
		}
	}
	ck_assert_msg(high, "no RAM entry at 4 GiB");
	ck_assert_uint_eq(bp.e820_table[4].addr, SZ_4G);
	gm_destroy(&m);
}
END_TEST

START_TEST(e820_exactly_hole_start)
{
	/* 3 GiB: all of it below the hole, no region at 4 GiB. */
	struct guest_mem m;
	struct boot_params bp;

	ck_assert_int_eq(gm_create(&m, GM_MMIO_HOLE_START), 0);
	memset(&bp, 0, sizeof(bp));
	ck_assert_uint_eq(zeropage_fill_e820(&bp, &m), 4);
	ck_assert_uint_eq(check_e820_shape(&bp), GM_MMIO_HOLE_START - (LAYOUT_HIGH_MEM - LAYOUT_EBDA));
	ck_assert_uint_eq(bp.e820_table[2].addr + bp.e820_table[2].size, GM_MMIO_HOLE_START);
	gm_destroy(&m);
}
END_TEST

/* ---- MP table ---- */

#define MPF_LEN 16
#define MPC_HDR 44
#define CPU_ENTRY 20
#define OTHER_ENTRY 8

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void check_mptable(unsigned ncpus)
{
	static uint8_t buf[8192];
	const uint64_t base = LAYOUT_MPTABLE;
	const uint8_t *mpc = buf + MPF_LEN;
	const uint8_t *p;
	long n;
	uint16_t count, len;
	unsigned cpus = 0, bsp = 0, buses = 0, ioapics = 0, isa = 0, lint = 0;
	int ioapic_id = -1;
	bool isa_seen[16] = { false };

	memset(buf, 0xEE, sizeof(buf));
	n = mptable_build(buf, sizeof(buf), base, ncpus);
	ck_assert_int_eq(n, (long)mptable_size(ncpus));
	ck_assert_uint_eq(buf[n], 0xEE); /* nothing written past the end */

	/* Floating pointer. */
	ck_assert_mem_eq(buf, "_MP_", 4);
	ck_assert_uint_eq(sum8(buf, MPF_LEN), 0);
	ck_assert_uint_eq(rd32(buf + 4), base + MPF_LEN);
	ck_assert_uint_eq(buf[8], 1);  /* length in paragraphs */
	ck_assert_uint_eq(buf[9], 4);  /* spec 1.4 */
	ck_assert_uint_eq(buf[11], 0); /* feature 1: a config table follows */

	/* Configuration table header. */
	ck_assert_mem_eq(mpc, "PCMP", 4);
	len = rd16(mpc + 4);
	ck_assert_uint_eq(len, (uint64_t)n - MPF_LEN);
	ck_assert_uint_eq(sum8(mpc, len), 0);
	ck_assert_uint_eq(mpc[6], 4);
	ck_assert_uint_eq(rd32(mpc + 36), LAYOUT_LAPIC);
	count = rd16(mpc + 34);

	p = mpc + MPC_HDR;
	for (unsigned i = 0; i < count; i++) {
		ck_assert(p < mpc + len);
		switch (p[0]) {
		case 0: /* processor */
			ck_assert_uint_eq(p[1], cpus); /* APIC IDs 0..n-1 in order */
			ck_assert_uint_eq(p[3] & 1, 1); /* enabled */
			if (p[3] & 2) {
				bsp++;
				ck_assert_uint_eq(p[1], 0);
			}
			cpus++;
			p += CPU_ENTRY;
			break;
		case 1:
			buses++;
			ck_assert_mem_eq(p + 2, "ISA   ", 6);
			p += OTHER_ENTRY;
			break;
		case 2:
			ioapics++;
			ioapic_id = p[1];
			ck_assert_uint_eq(p[3] & 1, 1);
			ck_assert_uint_eq(rd32(p + 4), LAYOUT_IOAPIC);
			p += OTHER_ENTRY;
			break;
		case 3:
			ck_assert_uint_eq(p[1], 0); /* INT */
			ck_assert_uint_lt(p[5], 16);
			ck_assert_uint_eq(p[5], p[7]); /* ISA IRQ n -> pin n */
			ck_assert_int_eq(p[6], ioapic_id);
			ck_assert(!isa_seen[p[5]]);
			isa_seen[p[5]] = true;
			isa++;
			p += OTHER_ENTRY;
			break;
		case 4:
			lint++;
			p += OTHER_ENTRY;
			break;
		default:
			ck_abort_msg("unknown MP entry type %u", p[0]);
		}
	}
	ck_assert_ptr_eq(p, mpc + len);
	ck_assert_uint_eq(cpus, ncpus);
	ck_assert_uint_eq(bsp, 1);
	ck_assert_uint_eq(buses, 1);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_int_eq(ioapic_id, (int)ncpus);
	ck_assert_uint_eq(isa, 16);
	ck_assert_uint_eq(lint, 2);
}

START_TEST(mptable_one_cpu)
{
	check_mptable(1);
}
END_TEST

START_TEST(mptable_various_cpus)
{
	static const unsigned counts[] = { 2, 3, 8, 40, 63, MPTABLE_MAX_CPUS };

	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		check_mptable(counts[i]);
}
END_TEST

START_TEST(mptable_size_grows_per_cpu)
{
	ck_assert_uint_eq(mptable_size(2) - mptable_size(1), CPU_ENTRY);
	ck_assert_uint_eq(mptable_size(1), MPF_LEN + MPC_HDR + CPU_ENTRY + 8 + 8 + 18 * 8);
}
END_TEST

START_TEST(mptable_rejects)
{
	static uint8_t buf[8192];

	ck_assert_int_eq(mptable_build(buf, sizeof(buf), LAYOUT_MPTABLE, 0), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, sizeof(buf), LAYOUT_MPTABLE, MPTABLE_MAX_CPUS + 1), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, sizeof(buf), LAYOUT_MPTABLE, 1000), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, mptable_size(4) - 1, LAYOUT_MPTABLE, 4), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, 0, LAYOUT_MPTABLE, 1), -EINVAL);
	/* A table that would not fit below 4 GiB. */
	ck_assert_int_eq(mptable_build(buf, sizeof(buf), 0xFFFFFFA0ULL, 1), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, sizeof(buf), SZ_4G, 1), -EINVAL);
	ck_assert_int_eq(mptable_build(buf, sizeof(buf), 0xFFFFFF00ULL, 1), (long)mptable_size(1));
	/* The exact size is enough. */
	ck_assert_int_eq(mptable_build(buf, mptable_size(4), LAYOUT_MPTABLE, 4), (long)mptable_size(4));
}
END_TEST

Suite *firmware_suite(void)
{
	Suite *s = suite_create("firmware");
	TCase *e = tcase_create("e820");
	TCase *mp = tcase_create("mptable");

	tcase_add_test(e, e820_64m);
	tcase_add_test(e, e820_above_4g);
	tcase_add_test(e, e820_exactly_hole_start);
	suite_add_tcase(s, e);
	tcase_add_test(mp, mptable_one_cpu);
	tcase_add_test(mp, mptable_various_cpus);
	tcase_add_test(mp, mptable_size_grows_per_cpu);
	tcase_add_test(mp, mptable_rejects);
	suite_add_tcase(s, mp);
	return s;
}

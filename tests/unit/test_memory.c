/* SPDX-License-Identifier: MIT */
/* lib/memory.c (gm_slice, views, copy helpers) and vmm/cpuid.c (cpuid_apply). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tests/unit/suites.h"
#include "vmm/cpuid.h"
#include "lib/memory.h"

#define SMALL (64ULL << 20)
#define BIG (3584ULL << 20) /* 3.5 GiB: 3 GiB low, 512 MiB at 4 GiB */

/* ---- gm_create ---- */

START_TEST(gm_create_layout)
{
	struct guest_mem m;

	ck_assert_int_eq(gm_create(&m, SMALL), 0);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_ptr_nonnull(m.map);
	ck_assert_uint_eq(m.size, SMALL);
	ck_assert_uint_eq(m.nregions, 1);
	ck_assert_uint_eq(m.region[0].gpa, 0);
	ck_assert_uint_eq(m.region[0].size, SMALL);
	ck_assert_uint_eq(gm_low_end(&m), SMALL);
	gm_destroy(&m);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_ptr_null(m.map);
	ck_assert_uint_eq(gm_low_end(&m), 0);

	ck_assert_int_eq(gm_create(&m, BIG), 0);
	ck_assert_uint_eq(m.nregions, 2);
	ck_assert_uint_eq(m.region[0].size, GM_MMIO_HOLE_START);
	ck_assert_uint_eq(m.region[1].gpa, SZ_4G);
	ck_assert_uint_eq(m.region[1].size, BIG - GM_MMIO_HOLE_START);
	ck_assert_uint_eq(m.region[1].fd_offset, GM_MMIO_HOLE_START);
	ck_assert_ptr_eq(m.region[1].host, m.map + GM_MMIO_HOLE_START);
	ck_assert_uint_eq(gm_low_end(&m), GM_MMIO_HOLE_START);
	gm_destroy(&m);
}
END_TEST

/* An aperture moved to a file of its own: same contents, same addresses, nothing else in the file. */
START_TEST(gm_split_own_file)
{
	const uint64_t base = 8ULL << 20, size = 4ULL << 20;
	struct guest_mem m;
	uint64_t off = 1;
	uint8_t buf[16];
	uint8_t *view;
	int fd;

	ck_assert_int_eq(gm_create(&m, SMALL), 0);
	memset(m.map + base - 4096, 0x11, 4096);
	memset(m.map + base, 0xa5, size);
	memset(m.map + base + size, 0x22, 4096);
	ck_assert_int_eq(gm_split(&m, base, size), 0);
	ck_assert_uint_eq(m.nsplits, 1);
	/* the contents came along, the neighbours are untouched */
	ck_assert_uint_eq(m.map[base], 0xa5);
	ck_assert_uint_eq(m.map[base + size - 1], 0xa5);
	ck_assert_uint_eq(m.map[base - 1], 0x11);
	ck_assert_uint_eq(m.map[base + size], 0x22);
	/* the range's file: exactly the aperture, from offset 0 */
	fd = gm_fd_of(&m, base + 4096, 100, &off);
	ck_assert_int_eq(fd, m.split[0].fd);
	ck_assert_uint_eq(off, 4096);
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), (off_t)size);
	/* writes through the monitor's mapping land in that file, and the other way round */
	m.map[base + 10] = 0x5a;
	ck_assert_int_eq(pread(fd, buf, 1, 10), 1);
	ck_assert_uint_eq(buf[0], 0x5a);
	view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(view, MAP_FAILED);
	view[20] = 0x77;
	ck_assert_uint_eq(m.map[base + 20], 0x77);
	munmap(view, size);
	/* the RAM file no longer holds the aperture's bytes */
	ck_assert_int_eq(pread(m.fd, buf, 1, (off_t)base), 1);
	ck_assert_uint_eq(buf[0], 0);
	/* elsewhere: the RAM file at its offset */
	ck_assert_int_eq(gm_fd_of(&m, 1 << 20, 4096, &off), m.fd);
	ck_assert_uint_eq(off, 1 << 20);
	/* part aperture, part not: no single file */
	ck_assert_int_eq(gm_fd_of(&m, base - 4096, 8192, &off), -1);
	ck_assert_int_eq(gm_fd_of(&m, SMALL - 4096, 8192, &off), -1);
	/* again: a no-op; overlapping, unaligned, outside RAM: refused */
	ck_assert_int_eq(gm_split(&m, base, size), 0);
	ck_assert_uint_eq(m.nsplits, 1);
	ck_assert_int_eq(gm_split(&m, base + size - 4096, 8192), -EBUSY);
	ck_assert_int_eq(gm_split(&m, 100, 4096), -EINVAL);
	ck_assert_int_eq(gm_split(&m, SMALL - 4096, 8192), -EINVAL);
	ck_assert_int_eq(gm_split(&m, 0, 0), -EINVAL);
	gm_destroy(&m);
	ck_assert_uint_eq(m.nsplits, 0);
}
END_TEST

START_TEST(gm_create_rejects)
{
	struct guest_mem m;

	ck_assert_int_eq(gm_create(&m, 0), -EINVAL);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(gm_create(&m, SZ_2M + 4096), -EINVAL);
	ck_assert_int_eq(gm_create(&m, (64ULL << 20) + 1), -EINVAL);
	ck_assert_uint_eq(m.nregions, 0);
	ck_assert_ptr_null(gm_slice(&m, 0, 1));
}
END_TEST

/* ---- gm_slice ---- */

static struct guest_mem gm;

static void small_setup(void)
{
	ck_assert_int_eq(gm_create(&gm, SMALL), 0);
}

static void big_setup(void)
{
	ck_assert_int_eq(gm_create(&gm, BIG), 0);
}

static void gm_teardown(void)
{
	gm_destroy(&gm);
}

START_TEST(slice_in_range)
{
	uint8_t *p = gm_slice(&gm, 0, SMALL);

	ck_assert_ptr_eq(p, gm.map);
	ck_assert_ptr_eq(gm_slice(&gm, 0x1234, 16), gm.map + 0x1234);
	ck_assert_ptr_eq(gm_slice(&gm, 0x100000, 0x200000), gm.map + 0x100000);
	/* Writes through the slice are what gm_read sees. */
	p[0x5000] = 0xAB;
	{
		uint8_t v = 0;

		ck_assert_int_eq(gm_read(&gm, 0x5000, &v, 1), 0);
		ck_assert_uint_eq(v, 0xAB);
	}
}
END_TEST

START_TEST(slice_edges)
{
	/* Exactly the last byte. */
	ck_assert_ptr_eq(gm_slice(&gm, SMALL - 1, 1), gm.map + SMALL - 1);
	ck_assert_ptr_eq(gm_slice(&gm, SMALL - 16, 16), gm.map + SMALL - 16);
	/* One past the end. */
	ck_assert_ptr_null(gm_slice(&gm, SMALL, 1));
	ck_assert_ptr_null(gm_slice(&gm, SMALL - 1, 2));
	ck_assert_ptr_null(gm_slice(&gm, SMALL - 16, 17));
	ck_assert_ptr_null(gm_slice(&gm, 0, SMALL + 1));
	/* len 0 is one byte: fine on the last byte, not at the end. */
	ck_assert_ptr_eq(gm_slice(&gm, SMALL - 1, 0), gm.map + SMALL - 1);
	ck_assert_ptr_null(gm_slice(&gm, SMALL, 0));
	ck_assert_ptr_eq(gm_slice(&gm, 0, 0), gm.map);
	/* Far away. */
	ck_assert_ptr_null(gm_slice(&gm, SZ_4G, 1));
	ck_assert_ptr_null(gm_slice(&gm, UINT64_MAX, 0));
}
END_TEST

START_TEST(slice_overflow)
{
	ck_assert_ptr_null(gm_slice(&gm, UINT64_MAX, 1));
	ck_assert_ptr_null(gm_slice(&gm, UINT64_MAX, 2));
	ck_assert_ptr_null(gm_slice(&gm, 0x1000, UINT64_MAX));
	ck_assert_ptr_null(gm_slice(&gm, 0x1000, UINT64_MAX - 0xFFF));
	ck_assert_ptr_null(gm_slice(&gm, 0x1000, UINT64_MAX - 0x1000)); /* ends at UINT64_MAX, no wrap */
	ck_assert_ptr_null(gm_slice(&gm, 1, UINT64_MAX));
	ck_assert_ptr_null(gm_slice(&gm, 0, UINT64_MAX));
	ck_assert_ptr_null(gm_slice(&gm, SMALL - 1, UINT64_MAX - SMALL + 2)); /* wraps to 0 */
}
END_TEST

START_TEST(copy_helpers)
{
	static const char msg[] = "guest memory";
	char out[sizeof(msg)];

	ck_assert_int_eq(gm_write(&gm, SMALL - sizeof(msg), msg, sizeof(msg)), 0);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(gm_read(&gm, SMALL - sizeof(msg), out, sizeof(out)), 0);
	ck_assert_str_eq(out, msg);
	ck_assert_int_eq(gm_write(&gm, SMALL - sizeof(msg) + 1, msg, sizeof(msg)), -EFAULT);
	ck_assert_int_eq(gm_read(&gm, SMALL - sizeof(msg) + 1, out, sizeof(out)), -EFAULT);
	ck_assert_int_eq(gm_write(&gm, UINT64_MAX - 2, msg, sizeof(msg)), -EFAULT);
	/* The failed write changed nothing ('g' would land where 'u' is). */
	ck_assert_uint_eq(gm.map[SMALL - sizeof(msg) + 1], (uint8_t)msg[1]);
}
END_TEST

START_TEST(slice_two_regions)
{
	const uint64_t low = GM_MMIO_HOLE_START;
	const uint64_t high_end = SZ_4G + (BIG - low);

	ck_assert_ptr_eq(gm_slice(&gm, low - 1, 1), gm.map + low - 1);
	ck_assert_ptr_eq(gm_slice(&gm, low - 4096, 4096), gm.map + low - 4096);
	/* Straddling the end of region 0 into the hole. */
	ck_assert_ptr_null(gm_slice(&gm, low - 1, 2));
	ck_assert_ptr_null(gm_slice(&gm, low - 4096, SZ_4G - low + 8192));
	/* The hole itself. */
	ck_assert_ptr_null(gm_slice(&gm, low, 1));
	ck_assert_ptr_null(gm_slice(&gm, low, 0));
	ck_assert_ptr_null(gm_slice(&gm, 0xFEE00000ULL, 4));
	ck_assert_ptr_null(gm_slice(&gm, SZ_4G - 1, 1));
	/* Straddling the start of region 1. */
	ck_assert_ptr_null(gm_slice(&gm, SZ_4G - 1, 2));
	/* Region 1 maps after region 0 in the memfd. */
	ck_assert_ptr_eq(gm_slice(&gm, SZ_4G, 1), gm.map + low);
	ck_assert_ptr_eq(gm_slice(&gm, SZ_4G + 0x1000, 8), gm.map + low + 0x1000);
	ck_assert_ptr_eq(gm_slice(&gm, high_end - 1, 1), gm.map + (BIG - 1));
	ck_assert_ptr_eq(gm_slice(&gm, high_end - 1, 0), gm.map + (BIG - 1));
	ck_assert_ptr_null(gm_slice(&gm, high_end - 1, 2));
	ck_assert_ptr_null(gm_slice(&gm, high_end, 1));
	ck_assert_ptr_null(gm_slice(&gm, high_end, 0));
	/* All of region 0 at once works, region 0 + hole + region 1 does not. */
	ck_assert_ptr_eq(gm_slice(&gm, 0, low), gm.map);
	ck_assert_ptr_null(gm_slice(&gm, 0, high_end));
	ck_assert_ptr_eq(gm_slice(&gm, SZ_4G, BIG - low), gm.map + low);
	/* Data written at 4 GiB is where the memfd offset says. */
	{
		uint32_t v = 0xC0FFEE11;

		ck_assert_int_eq(gm_write(&gm, SZ_4G + 64, &v, sizeof(v)), 0);
		ck_assert_mem_eq(gm.map + low + 64, &v, sizeof(v));
	}
}
END_TEST

START_TEST(view_window)
{
	struct gm_view v = { .mem = &gm, .base = 0x10000, .size = 0x2000 };

	ck_assert_ptr_eq(gm_view_slice(&v, 0x10000, 0x2000), gm.map + 0x10000);
	ck_assert_ptr_eq(gm_view_slice(&v, 0x10000, 1), gm.map + 0x10000);
	ck_assert_ptr_eq(gm_view_slice(&v, 0x11FFF, 1), gm.map + 0x11FFF);
	ck_assert_ptr_eq(gm_view_slice(&v, 0x11FFF, 0), gm.map + 0x11FFF);
	ck_assert_ptr_eq(gm_view_slice(&v, 0x11000, 0x1000), gm.map + 0x11000);
	/* Just outside on either side. */
	ck_assert_ptr_null(gm_view_slice(&v, 0xFFFF, 1));
	ck_assert_ptr_null(gm_view_slice(&v, 0xFFFF, 2));
	ck_assert_ptr_null(gm_view_slice(&v, 0x12000, 1));
	ck_assert_ptr_null(gm_view_slice(&v, 0x12000, 0));
	ck_assert_ptr_null(gm_view_slice(&v, 0x11FFF, 2));
	ck_assert_ptr_null(gm_view_slice(&v, 0x10000, 0x2001));
	ck_assert_ptr_null(gm_view_slice(&v, 0, 0x20000));
	/* Overflow. */
	ck_assert_ptr_null(gm_view_slice(&v, 0x11000, UINT64_MAX));
	ck_assert_ptr_null(gm_view_slice(&v, UINT64_MAX, 1));
	ck_assert_ptr_null(gm_view_slice(&v, 0x10000, UINT64_MAX - 0xFFFF));
}
END_TEST

START_TEST(view_beyond_ram)
{
	/* A window that runs past the end of RAM still cannot reach outside RAM. */
	struct gm_view v = { .mem = &gm, .base = SMALL - 0x1000, .size = 0x4000 };
	struct gm_view top = { .mem = &gm, .base = UINT64_MAX - 0xFFF, .size = 0x1000 };

	ck_assert_ptr_eq(gm_view_slice(&v, SMALL - 0x1000, 0x1000), gm.map + SMALL - 0x1000);
	ck_assert_ptr_null(gm_view_slice(&v, SMALL, 1));
	ck_assert_ptr_null(gm_view_slice(&v, SMALL - 1, 2));
	/* A window at the very top of the address space. */
	ck_assert_ptr_null(gm_view_slice(&top, UINT64_MAX - 0xFFF, 0x1000));
	ck_assert_ptr_null(gm_view_slice(&top, UINT64_MAX, 0));
}
END_TEST

START_TEST(view_empty_and_all)
{
	struct gm_view empty = { .mem = &gm, .base = 0x1000, .size = 0 };
	struct gm_view all = gm_view_all(&gm);

	ck_assert_ptr_null(gm_view_slice(&empty, 0x1000, 1));
	ck_assert_ptr_null(gm_view_slice(&empty, 0x1000, 0));
	ck_assert_ptr_eq(all.mem, &gm);
	ck_assert_ptr_eq(gm_view_slice(&all, 0, SMALL), gm.map);
	ck_assert_ptr_eq(gm_view_slice(&all, SMALL - 1, 1), gm.map + SMALL - 1);
	ck_assert_ptr_null(gm_view_slice(&all, SMALL, 1));
	ck_assert_ptr_null(gm_view_slice(&all, UINT64_MAX, 1));
	ck_assert_ptr_null(gm_view_slice(&all, 1, UINT64_MAX));
}
END_TEST

/* ---- cpuid_apply ---- */

#define F1C_MONITOR (1u << 3)
#define F1C_VMX (1u << 5)
#define F1C_FMA (1u << 12)
#define F1C_XSAVE (1u << 26)
#define F1C_AVX (1u << 28)
#define F1C_F16C (1u << 29)
#define F1C_HYPERVISOR (1u << 31)
#define F1C_SSE42 (1u << 20)
#define F1C_POPCNT (1u << 23)
#define F1D_HTT (1u << 28)
#define F7B_AVX2 (1u << 5)
#define F7B_BMI2 (1u << 8)
#define F7B_AVX512F (1u << 16)

enum { E_0, E_1, E_6, E_7_0, E_7_1, E_A, E_B_0, E_B_1, E_D_0, E_D_1, E_1F, E_EXT, NENT };

static struct kvm_cpuid2 *cpuid_fixture(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + NENT * sizeof(struct kvm_cpuid_entry2));
	static const struct { uint32_t fn, idx; } ids[NENT] = {
		[E_0] = { 0, 0 }, [E_1] = { 1, 0 }, [E_6] = { 6, 0 }, [E_7_0] = { 7, 0 }, [E_7_1] = { 7, 1 },
		[E_A] = { 0xA, 0 }, [E_B_0] = { 0xB, 0 }, [E_B_1] = { 0xB, 1 }, [E_D_0] = { 0xD, 0 },
		[E_D_1] = { 0xD, 1 }, [E_1F] = { 0x1F, 0 }, [E_EXT] = { 0x80000001, 0 },
	};

	ck_assert_ptr_nonnull(c);
	c->nent = NENT;
	for (unsigned i = 0; i < NENT; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		e->function = ids[i].fn;
		e->index = ids[i].idx;
		e->eax = 0x11111111u * (i + 1);
		e->ebx = 0xFFFFFFFFu;
		e->ecx = 0x7FFFFFFFu; /* everything but the hypervisor bit */
		e->edx = 0xEFFFFFFFu; /* everything but HTT */
	}
	c->entries[E_1].ebx = 0xAABBCCDDu;
	c->entries[E_D_0].eax = 0x2E7;
	c->entries[E_D_0].edx = 0x5;
	return c;
}

START_TEST(cpuid_leaf1_host)
{
	struct kvm_cpuid2 *c = cpuid_fixture();
	const struct kvm_cpuid_entry2 *e = &c->entries[E_1];

	cpuid_apply(c, CPU_TEMPLATE_HOST, 3, 4);
	/* APIC ID in EBX[31:24], logical count in [23:16], low half kept. */
	ck_assert_uint_eq(e->ebx >> 24, 3);
	ck_assert_uint_eq((e->ebx >> 16) & 0xFF, 4);
	ck_assert_uint_eq(e->ebx & 0xFFFF, 0xCCDD);
	ck_assert_uint_eq(e->ecx & F1C_HYPERVISOR, F1C_HYPERVISOR);
	ck_assert_uint_eq(e->ecx & F1C_MONITOR, 0);
	ck_assert_uint_eq(e->ecx & F1C_VMX, 0);
	/* Host template keeps AVX and friends. */
	ck_assert_uint_eq(e->ecx & F1C_AVX, F1C_AVX);
	ck_assert_uint_eq(e->ecx & F1C_XSAVE, F1C_XSAVE);
	ck_assert_uint_eq(e->ecx & F1C_SSE42, F1C_SSE42);
	ck_assert_uint_eq(e->edx & F1D_HTT, F1D_HTT); /* ncpus > 1 */
	ck_assert_uint_eq(c->entries[E_7_0].ebx & F7B_AVX2, F7B_AVX2);
	ck_assert_uint_eq(c->entries[E_7_0].ebx & F7B_AVX512F, F7B_AVX512F);
	ck_assert_uint_eq(c->entries[E_D_0].eax, 0x2E7);
	free(c);
}
END_TEST

START_TEST(cpuid_leaf1_single_cpu)
{
	struct kvm_cpuid2 *c = cpuid_fixture();
	const struct kvm_cpuid_entry2 *e = &c->entries[E_1];

	cpuid_apply(c, CPU_TEMPLATE_HOST, 0, 1);
	ck_assert_uint_eq(e->ebx >> 24, 0);
	ck_assert_uint_eq((e->ebx >> 16) & 0xFF, 1);
	ck_assert_uint_eq(e->edx & F1D_HTT, 0);
	free(c);
}
END_TEST

START_TEST(cpuid_baseline)
{
	struct kvm_cpuid2 *c = cpuid_fixture();
	const struct kvm_cpuid_entry2 *e1 = &c->entries[E_1];
	const struct kvm_cpuid_entry2 *e7 = &c->entries[E_7_0];

	cpuid_apply(c, CPU_TEMPLATE_BASELINE, 63, 64);
	ck_assert_uint_eq(e1->ecx & F1C_AVX, 0);
	ck_assert_uint_eq(e1->ecx & F1C_FMA, 0);
	ck_assert_uint_eq(e1->ecx & F1C_F16C, 0);
	ck_assert_uint_eq(e1->ecx & F1C_XSAVE, 0);
	ck_assert_uint_eq(e1->ecx & F1C_MONITOR, 0);
	ck_assert_uint_eq(e1->ecx & F1C_HYPERVISOR, F1C_HYPERVISOR);
	/* x86-64-v2 features stay. */
	ck_assert_uint_eq(e1->ecx & F1C_SSE42, F1C_SSE42);
	ck_assert_uint_eq(e1->ecx & F1C_POPCNT, F1C_POPCNT);
	ck_assert_uint_eq(e1->ebx >> 24, 63);
	ck_assert_uint_eq((e1->ebx >> 16) & 0xFF, 64);
	ck_assert_uint_eq(e7->ebx & F7B_AVX2, 0);
	ck_assert_uint_eq(e7->ebx & F7B_AVX512F, 0);
	ck_assert_uint_eq(e7->ebx & F7B_BMI2, F7B_BMI2);
	ck_assert_uint_eq(e7->ebx, ~(0xDC230000u | F7B_AVX2 | (1u << 4) | (1u << 11)));
	ck_assert_uint_eq(e7->ecx, 0x7FFFFFFFu & ~(0x00005842u | 0x600u)); /* + VAES, VPCLMULQDQ */
	ck_assert_uint_eq(e7->edx, 0xEFFFFFFFu & ~(0x0080010Cu | 0x03400000u)); /* + AMX */
	/* Leaf 7 subleaf 1: only AVX-VNNI and AVX512-BF16 go. */
	ck_assert_uint_eq(c->entries[E_7_1].ebx, 0xFFFFFFFFu);
	ck_assert_uint_eq(c->entries[E_7_1].eax & 0x30u, 0);
	/* XSAVE state: x87 + SSE only. */
	ck_assert_uint_eq(c->entries[E_D_0].eax, 0x3);
	ck_assert_uint_eq(c->entries[E_D_0].edx, 0);
	ck_assert_uint_eq(c->entries[E_D_1].eax, 0x11111111u * (E_D_1 + 1));
	free(c);
}
END_TEST

START_TEST(cpuid_topology_and_zeroed_leaves)
{
	struct kvm_cpuid2 *c = cpuid_fixture();

	cpuid_apply(c, CPU_TEMPLATE_HOST, 5, 8);
	ck_assert_uint_eq(c->entries[E_B_0].edx, 5);
	ck_assert_uint_eq(c->entries[E_B_1].edx, 5);
	ck_assert_uint_eq(c->entries[E_1F].edx, 5);
	/* Other registers of 0xB untouched. */
	ck_assert_uint_eq(c->entries[E_B_0].ebx, 0xFFFFFFFFu);
	ck_assert_uint_eq(c->entries[E_B_0].eax, 0x11111111u * (E_B_0 + 1));
	/* Thermal/power and PMU leaves are empty. */
	ck_assert_uint_eq(c->entries[E_6].eax | c->entries[E_6].ebx | c->entries[E_6].ecx | c->entries[E_6].edx, 0);
	ck_assert_uint_eq(c->entries[E_A].eax | c->entries[E_A].ebx | c->entries[E_A].ecx | c->entries[E_A].edx, 0);
	/* Leaves nobody touches. */
	ck_assert_uint_eq(c->entries[E_0].eax, 0x11111111u);
	ck_assert_uint_eq(c->entries[E_EXT].ecx, 0x7FFFFFFFu);
	ck_assert_uint_eq(c->entries[E_EXT].edx, 0xEFFFFFFFu);
	free(c);
}
END_TEST

START_TEST(cpuid_per_vcpu)
{
	/* Each vCPU gets its own id from the same template. */
	for (unsigned id = 0; id < 4; id++) {
		struct kvm_cpuid2 *c = cpuid_fixture();

		cpuid_apply(c, CPU_TEMPLATE_BASELINE, id, 4);
		ck_assert_uint_eq(c->entries[E_1].ebx >> 24, id);
		ck_assert_uint_eq(c->entries[E_B_0].edx, id);
		free(c);
	}
}
END_TEST

START_TEST(cpuid_templates)
{
	enum cpu_template t = CPU_TEMPLATE_BASELINE;

	ck_assert_int_eq(cpuid_template_parse("host", &t), 0);
	ck_assert_int_eq(t, CPU_TEMPLATE_HOST);
	ck_assert_int_eq(cpuid_template_parse("baseline", &t), 0);
	ck_assert_int_eq(t, CPU_TEMPLATE_BASELINE);
	ck_assert_int_eq(cpuid_template_parse("Host", &t), -EINVAL);
	ck_assert_int_eq(cpuid_template_parse("", &t), -EINVAL);
	ck_assert_int_eq(cpuid_template_parse("baseline2", &t), -EINVAL);
	ck_assert_int_eq(t, CPU_TEMPLATE_BASELINE);
	ck_assert_str_eq(cpuid_template_name(CPU_TEMPLATE_HOST), "host");
	ck_assert_str_eq(cpuid_template_name(CPU_TEMPLATE_BASELINE), "baseline");
}
END_TEST

Suite *memory_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *cr = tcase_create("create");
	TCase *sm = tcase_create("slice");
	TCase *bg = tcase_create("slice_two_regions");
	TCase *cp = tcase_create("cpuid");

	tcase_add_test(cr, gm_create_layout);
	tcase_add_test(cr, gm_create_rejects);
	tcase_add_test(cr, gm_split_own_file);
	suite_add_tcase(s, cr);

	tcase_add_checked_fixture(sm, small_setup, gm_teardown);
	tcase_add_test(sm, slice_in_range);
	tcase_add_test(sm, slice_edges);
	tcase_add_test(sm, slice_overflow);
	tcase_add_test(sm, copy_helpers);
	tcase_add_test(sm, view_window);
	tcase_add_test(sm, view_beyond_ram);
	tcase_add_test(sm, view_empty_and_all);
	suite_add_tcase(s, sm);

	tcase_add_checked_fixture(bg, big_setup, gm_teardown);
	tcase_add_test(bg, slice_two_regions);
	suite_add_tcase(s, bg);

	tcase_add_test(cp, cpuid_leaf1_host);
	tcase_add_test(cp, cpuid_leaf1_single_cpu);
	tcase_add_test(cp, cpuid_baseline);
	tcase_add_test(cp, cpuid_topology_and_zeroed_leaves);
	tcase_add_test(cp, cpuid_per_vcpu);
	tcase_add_test(cp, cpuid_templates);
	suite_add_tcase(s, cp);
	return s;
}

/* SPDX-License-Identifier: MIT */
/* vmm/loader.c: bzImage / ELF parsing and placement into guest RAM. */
#include <asm/bootparam.h>
#include <asm/e820.h>
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <string.h>
#include "lib/layout.h"
#include "firmware/zeropage.h"
#include "tests/unit/suites.h"
#include "vmm/loader.h"
#include "lib/memory.h"

#define TEST_RAM (64ULL << 20)

/* ---- synthetic bzImage ---- */

#define BZ_SETUP_SECTS 4
#define BZ_SETUP_SIZE ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PAYLOAD 8192
#define BZ_LEN (BZ_SETUP_SIZE + BZ_PAYLOAD)
#define BZ_INIT_SIZE 0x800000u

static uint8_t bz[BZ_LEN];

static struct setup_header bz_get(void)
{
	struct setup_header h;

	memcpy(&h, bz + 0x1F1, sizeof(h));
	return h;
}

static void bz_put(const struct setup_header *h)
{
	memcpy(bz + 0x1F1, h, sizeof(*h));
}

/* A well-formed 64-bit bzImage, boot protocol 2.15. */
static void bz_build(void)
{
	struct setup_header h;

	memset(bz, 0, sizeof(bz));
	for (size_t i = BZ_SETUP_SIZE; i < BZ_LEN; i++)
		bz[i] = (uint8_t)(i * 7 + 3);
	memset(&h, 0, sizeof(h));
	h.setup_sects = BZ_SETUP_SECTS;
	h.syssize = BZ_PAYLOAD / 16;
	h.boot_flag = 0xAA55;
	h.jump = 0x6AEB; /* jmp short: header runs to 0x202 + 0x6A = 0x26C */
	h.header = 0x53726448; /* "HdrS" */
	h.version = 0x020F;
	h.loadflags = LOADED_HIGH;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = 2047;
	h.pref_address = 0x1000000;
	h.init_size = BZ_INIT_SIZE;
	h.initrd_addr_max = 0x7FFFFFFF;
	bz_put(&h);
}

START_TEST(bz_valid)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";

	bz_build();
	ck_assert_uint_eq(bz[0x1FE], 0x55);
	ck_assert_uint_eq(bz[0x1FF], 0xAA);
	ck_assert_mem_eq(bz + 0x202, "HdrS", 4);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_int_eq(ki.kind, KERNEL_BZIMAGE);
	ck_assert_uint_eq(ki.version, 0x020F);
	ck_assert_uint_eq(ki.setup_sects, BZ_SETUP_SECTS);
	ck_assert_uint_eq(ki.setup_size, BZ_SETUP_SIZE);
	ck_assert_uint_eq(ki.payload_off, BZ_SETUP_SIZE);
	ck_assert_uint_eq(ki.payload_len, BZ_PAYLOAD);
	ck_assert_uint_eq(ki.entry_offset, 0x200);
	ck_assert_uint_eq(ki.xloadflags, XLF_KERNEL_64);
	ck_assert_uint_eq(ki.loadflags, LOADED_HIGH);
	ck_assert_uint_eq(ki.init_size, BZ_INIT_SIZE);
	ck_assert_uint_eq(ki.kernel_alignment, 0x200000);
	ck_assert_uint_eq(ki.pref_address, 0x1000000);
	ck_assert(ki.relocatable);
	ck_assert_uint_eq(ki.cmdline_size, 2047);
	ck_assert_uint_eq(ki.initrd_addr_max, 0x7FFFFFFF);
}
END_TEST

START_TEST(bz_setup_sects_zero_means_four)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.setup_sects = 0;
	bz_put(&h);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.setup_sects, 4);
	ck_assert_uint_eq(ki.setup_size, 5 * 512);
	ck_assert_uint_eq(ki.payload_off, 5 * 512);
	ck_assert_uint_eq(ki.payload_len, BZ_LEN - 5 * 512);
}
END_TEST

START_TEST(bz_other_setup_sects)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.setup_sects = 2;
	bz_put(&h);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.setup_size, 3 * 512);
	ck_assert_uint_eq(ki.payload_off, 3 * 512);
	ck_assert_uint_eq(ki.payload_len, BZ_LEN - 3 * 512);
}
END_TEST

START_TEST(bz_defaults_for_zero_fields)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.cmdline_size = 0;
	h.initrd_addr_max = 0;
	bz_put(&h);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.cmdline_size, 255);
	ck_assert_uint_eq(ki.initrd_addr_max, 0x37FFFFFF);
}
END_TEST

static void expect_bz_fail(size_t len, const char *needle)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";

	ck_assert_int_eq(loader_parse_bzimage(bz, len, &ki, err, sizeof(err)), -EINVAL);
	ck_assert_msg(err[0] != '\0', "empty error message");
	if (needle)
		ck_assert_msg(strstr(err, needle), "error '%s' does not mention '%s'", err, needle);
}

START_TEST(bz_truncated_setup)
{
	bz_build();
	/* Header complete, but the file ends inside the setup code. */
	expect_bz_fail(BZ_SETUP_SIZE - 1, "truncated");
	expect_bz_fail(BZ_SETUP_SIZE, "truncated");
	expect_bz_fail(0x300, "truncated");
}
END_TEST

START_TEST(bz_truncated_payload)
{
	bz_build();
	/* syssize * 16 is BZ_PAYLOAD: one byte short of it. */
	expect_bz_fail(BZ_LEN - 1, "truncated");
	expect_bz_fail(BZ_SETUP_SIZE + 16, "truncated");
}
END_TEST

START_TEST(bz_truncated_header)
{
	bz_build();
	/* Signature and HdrS present, file ends before 0x26C. */
	expect_bz_fail(0x210, "inside the setup header");
	expect_bz_fail(0x26B, "inside the setup header");
	/* Shorter than "HdrS" itself. */
	expect_bz_fail(0x204, NULL);
	expect_bz_fail(0x100, NULL);
	expect_bz_fail(0, NULL);
}
END_TEST

START_TEST(bz_no_boot_signature)
{
	bz_build();
	bz[0x1FE] = 0;
	expect_bz_fail(BZ_LEN, "0xAA55");
	bz_build();
	bz[0x1FF] = 0x55;
	expect_bz_fail(BZ_LEN, "0xAA55");
}
END_TEST

START_TEST(bz_no_hdrs)
{
	bz_build();
	memcpy(bz + 0x202, "HdrT", 4);
	expect_bz_fail(BZ_LEN, "HdrS");
}
END_TEST

START_TEST(bz_old_protocol)
{
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.version = 0x020B;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "too old");
	/* 2.12 is the oldest accepted. */
	h.version = 0x020C;
	bz_put(&h);
	{
		struct kernel_info ki;
		char err[LOADER_ERRLEN] = "";

		ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
		ck_assert_uint_eq(ki.version, 0x020C);
	}
}
END_TEST

START_TEST(bz_no_kernel64)
{
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G; /* other bits, but not bit 0 */
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "64-bit");
}
END_TEST

START_TEST(bz_not_loaded_high)
{
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.loadflags = 0;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, NULL);
}
END_TEST

START_TEST(bz_bad_init_size_alignment)
{
	struct setup_header h;

	bz_build();
	h = bz_get();
	h.init_size = 0;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "init_size");

	bz_build();
	h = bz_get();
	h.kernel_alignment = 0x300000;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "kernel_alignment");

	bz_build();
	h = bz_get();
	h.kernel_alignment = 0;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "kernel_alignment");

	/* pref_address + init_size wrapping past 2^64 (it looked tiny before). */
	bz_build();
	h = bz_get();
	h.pref_address = 0xFFFFFFFFFFFFF000ULL;
	h.init_size = 0x2000;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "pref_address");

	bz_build();
	h = bz_get();
	h.pref_address = SZ_4G - 0x1000;
	bz_put(&h);
	expect_bz_fail(BZ_LEN, "pref_address");
}
END_TEST

/* ---- synthetic ELF vmlinux ---- */

#define ELF_LEN 0x4000
#define SEG0_PADDR 0x1000000ULL
#define SEG0_OFF 0x1000
#define SEG0_FILESZ 0x2000
#define SEG0_MEMSZ 0x3000
#define SEG1_PADDR 0x1400000ULL
#define SEG1_OFF 0x3000
#define SEG1_FILESZ 0x1000
#define SEG1_MEMSZ 0x1000
#define ELF_ENTRY (SEG0_PADDR + 0x100)

static uint8_t elf[ELF_LEN];

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)elf;
}

static Elf64_Phdr *ph(unsigned i)
{
	return (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr)) + i;
}

/* ET_EXEC x86-64 with two PT_LOAD segments (one with bss) and a PT_NOTE. */
static void elf_build(void)
{
	Elf64_Ehdr *e = eh();

	memset(elf, 0, sizeof(elf));
	for (size_t i = SEG0_OFF; i < ELF_LEN; i++)
		elf[i] = (uint8_t)(i * 13 + 1);
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = ELF_ENTRY;
	e->e_phoff = sizeof(Elf64_Ehdr);
	e->e_ehsize = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = 3;
	*ph(0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = SEG0_OFF,
			       .p_vaddr = 0xffffffff81000000ULL, .p_paddr = SEG0_PADDR,
			       .p_filesz = SEG0_FILESZ, .p_memsz = SEG0_MEMSZ, .p_align = 0x200000 };
	*ph(1) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x100, .p_paddr = 0x1000,
			       .p_filesz = 0x10, .p_memsz = 0x10 };
	*ph(2) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = SEG1_OFF,
			       .p_vaddr = 0xffffffff81400000ULL, .p_paddr = SEG1_PADDR,
			       .p_filesz = SEG1_FILESZ, .p_memsz = SEG1_MEMSZ, .p_align = 0x200000 };
}

static void expect_elf_fail(size_t len, const char *needle)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";

	ck_assert_int_eq(loader_parse_elf(elf, len, &ki, err, sizeof(err)), -EINVAL);
	ck_assert_msg(err[0] != '\0', "empty error message");
	if (needle)
		ck_assert_msg(strstr(err, needle), "error '%s' does not mention '%s'", err, needle);
}

START_TEST(elf_valid)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";

	elf_build();
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_int_eq(ki.kind, KERNEL_ELF);
	ck_assert_uint_eq(ki.entry, ELF_ENTRY);
	ck_assert_uint_eq(ki.nsegs, 2); /* PT_NOTE skipped */
	ck_assert_uint_eq(ki.seg[0].paddr, SEG0_PADDR);
	ck_assert_uint_eq(ki.seg[0].file_off, SEG0_OFF);
	ck_assert_uint_eq(ki.seg[0].filesz, SEG0_FILESZ);
	ck_assert_uint_eq(ki.seg[0].memsz, SEG0_MEMSZ);
	ck_assert_uint_eq(ki.seg[1].paddr, SEG1_PADDR);
	ck_assert_uint_eq(ki.seg[1].file_off, SEG1_OFF);
	ck_assert_uint_eq(ki.seg[1].filesz, SEG1_FILESZ);
	ck_assert_uint_eq(ki.seg[1].memsz, SEG1_MEMSZ);
	ck_assert_uint_eq(ki.cmdline_size, LOADER_DEFAULT_CMDLINE_SIZE - 1);
}
END_TEST

START_TEST(elf_entry_outside_segments)
{
	elf_build();
	eh()->e_entry = 0x2000000;
	expect_elf_fail(ELF_LEN, "entry");
	/* Just past the end of segment 1's file data. */
	elf_build();
	eh()->e_entry = SEG1_PADDR + SEG1_FILESZ;
	expect_elf_fail(ELF_LEN, "entry");
	/* Below the first segment. */
	elf_build();
	eh()->e_entry = SEG0_PADDR - 1;
	expect_elf_fail(ELF_LEN, "entry");
}
END_TEST

START_TEST(elf_entry_in_second_segment)
{
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";

	elf_build();
	eh()->e_entry = SEG1_PADDR + SEG1_FILESZ - 1;
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.entry, SEG1_PADDR + SEG1_FILESZ - 1);
}
END_TEST

START_TEST(elf_segment_beyond_file)
{
	elf_build();
	ph(2)->p_filesz = SEG1_FILESZ + 1;
	ph(2)->p_memsz = SEG1_FILESZ + 1;
	expect_elf_fail(ELF_LEN, "outside the file");
	elf_build();
	ph(0)->p_offset = ELF_LEN + 0x1000;
	expect_elf_fail(ELF_LEN, "outside the file");
	/* Offset + size wraps around 2^64. */
	elf_build();
	ph(0)->p_offset = 0x1000;
	ph(0)->p_filesz = UINT64_MAX - 0x800;
	ph(0)->p_memsz = UINT64_MAX - 0x800;
	expect_elf_fail(ELF_LEN, NULL);
	/* The same file cut short. */
	elf_build();
	expect_elf_fail(ELF_LEN - 1, "outside the file");
	/* filesz > memsz */
	elf_build();
	ph(0)->p_memsz = SEG0_FILESZ - 1;
	expect_elf_fail(ELF_LEN, NULL);
}
END_TEST

START_TEST(elf_wrong_machine)
{
	elf_build();
	eh()->e_machine = EM_386;
	expect_elf_fail(ELF_LEN, "x86-64");
	elf_build();
	eh()->e_machine = EM_AARCH64;
	expect_elf_fail(ELF_LEN, "x86-64");
}
END_TEST

START_TEST(elf_class32)
{
	elf_build();
	eh()->e_ident[EI_CLASS] = ELFCLASS32;
	expect_elf_fail(ELF_LEN, "ELF64");
	elf_build();
	eh()->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_elf_fail(ELF_LEN, "ELF64");
}
END_TEST

START_TEST(elf_not_exec)
{
	elf_build();
	eh()->e_type = ET_DYN;
	expect_elf_fail(ELF_LEN, "executable");
	elf_build();
	eh()->e_type = ET_REL;
	expect_elf_fail(ELF_LEN, "executable");
}
END_TEST

START_TEST(elf_segment_below_1m)
{
	elf_build();
	ph(0)->p_paddr = 0x80000;
	eh()->e_entry = 0x80000;
	expect_elf_fail(ELF_LEN, "below 1 MiB");
	/* Just below: 0xFFFFF. */
	elf_build();
	ph(0)->p_paddr = LAYOUT_HIGH_MEM - 1;
	eh()->e_entry = LAYOUT_HIGH_MEM;
	expect_elf_fail(ELF_LEN, "below 1 MiB");
}
END_TEST

START_TEST(elf_segment_above_4g)
{
	elf_build();
	ph(2)->p_paddr = SZ_4G - 0x800; /* ends 0x800 past 4 GiB */
	expect_elf_fail(ELF_LEN, "4 GiB");
	elf_build();
	ph(2)->p_paddr = UINT64_MAX - 0x10; /* wraps */
	expect_elf_fail(ELF_LEN, NULL);
}
END_TEST

START_TEST(elf_phoff_out_of_range)
{
	elf_build();
	eh()->e_phoff = ELF_LEN + 8;
	expect_elf_fail(ELF_LEN, "program headers");
	/* Headers start inside the file but run past its end. */
	elf_build();
	eh()->e_phoff = ELF_LEN - sizeof(Elf64_Phdr);
	expect_elf_fail(ELF_LEN, "program headers");
	elf_build();
	eh()->e_phoff = UINT64_MAX - 8;
	expect_elf_fail(ELF_LEN, "program headers");
	/* Wrong phentsize, no headers. */
	elf_build();
	eh()->e_phentsize = sizeof(Elf64_Phdr) - 8;
	expect_elf_fail(ELF_LEN, "program headers");
	elf_build();
	eh()->e_phnum = 0;
	expect_elf_fail(ELF_LEN, "program headers");
}
END_TEST

START_TEST(elf_no_load_segments)
{
	elf_build();
	ph(0)->p_type = PT_NOTE;
	ph(2)->p_type = PT_NOTE;
	expect_elf_fail(ELF_LEN, "no loadable");
}
END_TEST

START_TEST(elf_truncated_header)
{
	elf_build();
	expect_elf_fail(sizeof(Elf64_Ehdr) - 1, "truncated");
	expect_elf_fail(4, "truncated");
}
END_TEST

START_TEST(parse_kernel_dispatch)
{
	static const char passwd[] =
		"root:x:0:0:root:/root:/bin/bash\n"
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
		"bin:x:2:2:bin:/bin:/usr/sbin/nologin\n";
	uint8_t big[1024];
	struct kernel_info ki;
	char err[LOADER_ERRLEN] = "";

	ck_assert_int_eq(loader_parse_kernel((const uint8_t *)passwd, sizeof(passwd) - 1, &ki, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "not a bzImage or an ELF vmlinux");
	/* Text long enough to reach 0x1FE is still neither. */
	memset(big, 'a', sizeof(big));
	err[0] = '\0';
	ck_assert_int_eq(loader_parse_kernel(big, sizeof(big), &ki, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "not a bzImage or an ELF vmlinux");
	err[0] = '\0';
	ck_assert_int_eq(loader_parse_kernel(big, 0, &ki, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "not a bzImage or an ELF vmlinux");

	elf_build();
	ck_assert_int_eq(loader_parse_kernel(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_int_eq(ki.kind, KERNEL_ELF);
	bz_build();
	ck_assert_int_eq(loader_parse_kernel(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	ck_assert_int_eq(ki.kind, KERNEL_BZIMAGE);
	/* An ELF-looking file that is broken reports the ELF reason. */
	elf_build();
	eh()->e_machine = EM_386;
	ck_assert_int_eq(loader_parse_kernel(elf, ELF_LEN, &ki, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "x86-64"));
}
END_TEST

/* ---- placement ---- */

static struct guest_mem mem;

static void mem_setup(void)
{
	ck_assert_int_eq(gm_create(&mem, TEST_RAM), 0);
}

static void mem_teardown(void)
{
	gm_destroy(&mem);
}

static void *gpa(uint64_t a, uint64_t len)
{
	void *p = gm_slice(&mem, a, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void check_page_tables(void)
{
	const uint64_t *pml4 = gpa(LAYOUT_PML4, 4096);
	const uint64_t *pdpt = gpa(LAYOUT_PDPT, 4096);

	ck_assert_uint_eq(pml4[0], LAYOUT_PDPT | 0x3);
	for (unsigned i = 1; i < 512; i++)
		ck_assert_uint_eq(pml4[i], 0);
	for (uint64_t g = 0; g < 4; g++) {
		const uint64_t *pd = gpa(LAYOUT_PD + g * 0x1000, 4096);

		ck_assert_uint_eq(pdpt[g], (LAYOUT_PD + g * 0x1000) | 0x3);
		for (uint64_t i = 0; i < 512; i++)
			ck_assert_uint_eq(pd[i], (g * SZ_1G + i * SZ_2M) | 0x83);
	}
	for (unsigned i = 4; i < 512; i++)
		ck_assert_uint_eq(pdpt[i], 0);
	ck_assert_mem_eq(gpa(LAYOUT_GDT, sizeof(boot_gdt)), boot_gdt, sizeof(boot_gdt));
	/* Selector 0x10 is a 64-bit (L=1) present code segment, 0x18 data. */
	ck_assert_uint_eq((boot_gdt[LAYOUT_SEL_CODE / 8] >> 53) & 1, 1);
	ck_assert_uint_eq((boot_gdt[LAYOUT_SEL_CODE / 8] >> 47) & 1, 1);
	ck_assert_uint_eq((boot_gdt[LAYOUT_SEL_DATA / 8] >> 41) & 1, 1);
}

static void check_mp(unsigned ncpus)
{
	const uint8_t *mpf = gpa(LAYOUT_MPTABLE, 16);
	uint32_t physptr;
	uint8_t sum = 0;

	ck_assert_mem_eq(mpf, "_MP_", 4);
	for (unsigned i = 0; i < 16; i++)
		sum = (uint8_t)(sum + mpf[i]);
	ck_assert_uint_eq(sum, 0);
	memcpy(&physptr, mpf + 4, 4);
	ck_assert_uint_eq(physptr, LAYOUT_MPTABLE + 16);
	ck_assert_mem_eq(gpa(physptr, 4), "PCMP", 4);
	{
		const uint8_t *mpc = gpa(physptr, 44);
		uint16_t count;
		unsigned cpus = 0;
		const uint8_t *p = mpc + 44;

		memcpy(&count, mpc + 34, 2);
		for (unsigned i = 0; i < count; i++) {
			if (p[0] == 0) {
				cpus++;
				p += 20;
			} else {
				p += 8;
			}
		}
		ck_assert_uint_eq(cpus, ncpus);
	}
}

START_TEST(place_elf)
{
	static uint8_t initrd[(1 << 20) + 123];
	static const char cmdline[] = "console=ttyS0 root=/dev/vda rw";
	struct kernel_info ki;
	struct boot_result br;
	struct boot_params bp;
	char err[LOADER_ERRLEN] = "";
	uint64_t expect_initrd;

	elf_build();
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ (i >> 8));
	/* Garbage where the bss goes: placement must zero it. */
	memset(gpa(SEG0_PADDR, SEG0_MEMSZ), 0xCC, SEG0_MEMSZ);
	{
		struct boot_spec spec = {
			.kernel = elf, .kernel_len = ELF_LEN, .ki = &ki, .initrd = initrd,
			.initrd_len = sizeof(initrd), .cmdline = cmdline, .ncpus = 2,
		};

		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), 0);
	}
	ck_assert_uint_eq(br.entry, ELF_ENTRY);
	ck_assert_uint_eq(br.zero_page, LAYOUT_ZERO_PAGE);
	ck_assert_uint_eq(br.kernel_end, SEG1_PADDR + SEG1_MEMSZ);

	/* Segments copied, bss zeroed. */
	ck_assert_mem_eq(gpa(SEG0_PADDR, SEG0_FILESZ), elf + SEG0_OFF, SEG0_FILESZ);
	{
		const uint8_t *bss = gpa(SEG0_PADDR + SEG0_FILESZ, SEG0_MEMSZ - SEG0_FILESZ);

		for (size_t i = 0; i < SEG0_MEMSZ - SEG0_FILESZ; i++)
			ck_assert_uint_eq(bss[i], 0);
	}
	ck_assert_mem_eq(gpa(SEG1_PADDR, SEG1_FILESZ), elf + SEG1_OFF, SEG1_FILESZ);

	/* Zero page. */
	ck_assert_int_eq(gm_read(&mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
	ck_assert_uint_eq(bp.hdr.boot_flag, 0xAA55);
	ck_assert_uint_eq(bp.hdr.header, 0x53726448);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xFF);
	ck_assert_uint_eq(bp.hdr.loadflags & LOADED_HIGH, LOADED_HIGH);
	ck_assert_uint_ge(bp.hdr.version, 0x020C);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(bp.ext_cmd_line_ptr, 0);
	ck_assert_uint_eq(bp.hdr.cmdline_size, LOADER_DEFAULT_CMDLINE_SIZE - 1);
	ck_assert_str_eq((const char *)gpa(LAYOUT_CMDLINE, sizeof(cmdline)), cmdline);

	/* Initrd: page-aligned, at the top of low RAM, above the kernel. */
	expect_initrd = align_down(TEST_RAM - sizeof(initrd), 4096);
	ck_assert_uint_eq(br.initrd_addr, expect_initrd);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, expect_initrd);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, sizeof(initrd));
	ck_assert_uint_eq(bp.ext_ramdisk_image, 0);
	ck_assert_uint_eq(bp.ext_ramdisk_size, 0);
	ck_assert_uint_eq(bp.hdr.ramdisk_image % 4096, 0);
	ck_assert_uint_ge(bp.hdr.ramdisk_image, br.kernel_end);
	ck_assert_uint_le((uint64_t)bp.hdr.ramdisk_image + bp.hdr.ramdisk_size, TEST_RAM);
	ck_assert_mem_eq(gpa(expect_initrd, sizeof(initrd)), initrd, sizeof(initrd));

	/* e820: base RAM, EBDA..1M reserved, 1M..64M RAM, IOAPIC..4G reserved. */
	ck_assert_uint_eq(bp.e820_entries, 4);
	ck_assert_uint_eq(bp.e820_table[0].addr, 0);
	ck_assert_uint_eq(bp.e820_table[0].size, LAYOUT_EBDA);
	ck_assert_uint_eq(bp.e820_table[0].type, E820_RAM);
	ck_assert_uint_eq(bp.e820_table[1].addr, LAYOUT_EBDA);
	ck_assert_uint_eq(bp.e820_table[1].size, LAYOUT_HIGH_MEM - LAYOUT_EBDA);
	ck_assert_uint_eq(bp.e820_table[1].type, E820_RESERVED);
	ck_assert_uint_eq(bp.e820_table[2].addr, LAYOUT_HIGH_MEM);
	ck_assert_uint_eq(bp.e820_table[2].size, TEST_RAM - LAYOUT_HIGH_MEM);
	ck_assert_uint_eq(bp.e820_table[2].type, E820_RAM);
	ck_assert_uint_eq(bp.e820_table[3].addr, LAYOUT_IOAPIC);
	ck_assert_uint_eq(bp.e820_table[3].type, E820_RESERVED);

	check_page_tables();
	check_mp(2);
}
END_TEST

START_TEST(place_bzimage)
{
	static const char cmdline[] = "quiet";
	struct kernel_info ki;
	struct boot_result br;
	struct boot_params bp;
	char err[LOADER_ERRLEN] = "";

	bz_build();
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	{
		struct boot_spec spec = {
			.kernel = bz, .kernel_len = BZ_LEN, .ki = &ki, .cmdline = cmdline, .ncpus = 1,
		};

		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), 0);
	}
	ck_assert_uint_eq(br.entry, LAYOUT_KERNEL_LOAD + 0x200);
	ck_assert_uint_eq(br.zero_page, LAYOUT_ZERO_PAGE);
	/* Decompression runs at pref_address (16 MiB) for init_size bytes. */
	ck_assert_uint_eq(br.kernel_end, 0x1000000 + BZ_INIT_SIZE);
	ck_assert_uint_eq(br.initrd_addr, 0);
	ck_assert_mem_eq(gpa(LAYOUT_KERNEL_LOAD, BZ_PAYLOAD), bz + BZ_SETUP_SIZE, BZ_PAYLOAD);

	ck_assert_int_eq(gm_read(&mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
	ck_assert_uint_eq(bp.hdr.boot_flag, 0xAA55);
	ck_assert_uint_eq(bp.hdr.header, 0x53726448);
	ck_assert_uint_eq(bp.hdr.version, 0x020F);
	ck_assert_uint_eq(bp.hdr.setup_sects, BZ_SETUP_SECTS);
	ck_assert_uint_eq(bp.hdr.init_size, BZ_INIT_SIZE);
	ck_assert_uint_eq(bp.hdr.kernel_alignment, 0x200000);
	ck_assert_uint_eq(bp.hdr.code32_start, LAYOUT_KERNEL_LOAD);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xFF);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 0);
	ck_assert_str_eq((const char *)gpa(LAYOUT_CMDLINE, sizeof(cmdline)), cmdline);
	ck_assert_uint_eq(bp.e820_entries, 4);
	check_page_tables();
	check_mp(1);
}
END_TEST

START_TEST(place_bzimage_initrd_addr_max)
{
	static uint8_t initrd[8192];
	struct kernel_info ki;
	struct boot_result br;
	struct setup_header h;
	char err[LOADER_ERRLEN] = "";

	bz_build();
	h = bz_get();
	h.initrd_addr_max = 0x1FFFFFF; /* 32 MiB - 1 */
	bz_put(&h);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	memset(initrd, 0x5A, sizeof(initrd));
	{
		struct boot_spec spec = {
			.kernel = bz, .kernel_len = BZ_LEN, .ki = &ki, .initrd = initrd,
			.initrd_len = sizeof(initrd), .cmdline = "", .ncpus = 1,
		};

		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), 0);
	}
	ck_assert_uint_eq(br.initrd_addr, 0x2000000 - sizeof(initrd));
	ck_assert_mem_eq(gpa(br.initrd_addr, sizeof(initrd)), initrd, sizeof(initrd));
}
END_TEST

START_TEST(place_cmdline_too_long)
{
	static char cmdline[LOADER_DEFAULT_CMDLINE_SIZE + 1];
	struct kernel_info ki;
	struct boot_result br;
	char err[LOADER_ERRLEN] = "";
	struct boot_spec spec = { .kernel = elf, .kernel_len = ELF_LEN, .ki = &ki, .cmdline = cmdline, .ncpus = 1 };

	elf_build();
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	/* 2048 characters: one more than cmdline_size. */
	memset(cmdline, 'x', LOADER_DEFAULT_CMDLINE_SIZE);
	cmdline[LOADER_DEFAULT_CMDLINE_SIZE] = '\0';
	ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -E2BIG);
	ck_assert_msg(err[0] != '\0', "empty error message");
	/* Exactly cmdline_size fits. */
	cmdline[LOADER_DEFAULT_CMDLINE_SIZE - 1] = '\0';
	ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(gpa(LAYOUT_CMDLINE, LOADER_DEFAULT_CMDLINE_SIZE)), LOADER_DEFAULT_CMDLINE_SIZE - 1);
}
END_TEST

START_TEST(place_cmdline_too_long_bz)
{
	static char cmdline[300];
	struct kernel_info ki;
	struct boot_result br;
	struct setup_header h;
	char err[LOADER_ERRLEN] = "";
	struct boot_spec spec = { .kernel = bz, .kernel_len = BZ_LEN, .ki = &ki, .cmdline = cmdline, .ncpus = 1 };

	bz_build();
	h = bz_get();
	h.cmdline_size = 255;
	bz_put(&h);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	memset(cmdline, 'y', 256);
	cmdline[256] = '\0';
	ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -E2BIG);
	ck_assert_msg(strstr(err, "255"), "error '%s' does not give the limit", err);
	cmdline[255] = '\0';
	ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), 0);
}
END_TEST

START_TEST(place_initrd_does_not_fit)
{
	static uint8_t initrd[60 << 20];
	struct kernel_info ki;
	struct boot_result br;
	char err[LOADER_ERRLEN] = "";

	elf_build();
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	{
		/* Kernel ends at ~20 MiB; 60 MiB of initrd cannot sit above it in 64 MiB. */
		struct boot_spec spec = {
			.kernel = elf, .kernel_len = ELF_LEN, .ki = &ki, .initrd = initrd,
			.initrd_len = sizeof(initrd), .cmdline = "", .ncpus = 1,
		};

		err[0] = '\0';
		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -ENOMEM);
		ck_assert_msg(strstr(err, "too small"), "error '%s'", err);
		/* Larger than all of RAM. */
		spec.initrd_len = 65 << 20;
		spec.initrd = NULL;
		{
			static uint8_t huge[65 << 20];

			spec.initrd = huge;
			err[0] = '\0';
			ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -ENOMEM);
			ck_assert_msg(err[0] != '\0', "empty error message");
		}
	}
}
END_TEST

START_TEST(place_kernel_does_not_fit)
{
	struct kernel_info ki;
	struct boot_result br;
	struct setup_header h;
	char err[LOADER_ERRLEN] = "";

	/* bzImage whose decompression buffer (16 MiB + 64 MiB) exceeds RAM. */
	bz_build();
	h = bz_get();
	h.init_size = 64 << 20;
	bz_put(&h);
	ck_assert_int_eq(loader_parse_bzimage(bz, BZ_LEN, &ki, err, sizeof(err)), 0);
	{
		struct boot_spec spec = { .kernel = bz, .kernel_len = BZ_LEN, .ki = &ki, .cmdline = "", .ncpus = 1 };

		err[0] = '\0';
		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -ENOMEM);
		ck_assert_msg(strstr(err, "too small"), "error '%s'", err);
	}
	/* ELF segment at 128 MiB in 64 MiB of RAM. */
	elf_build();
	ph(2)->p_paddr = 128ULL << 20;
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	{
		struct boot_spec spec = { .kernel = elf, .kernel_len = ELF_LEN, .ki = &ki, .cmdline = "", .ncpus = 1 };

		err[0] = '\0';
		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -ENOMEM);
		ck_assert_msg(strstr(err, "too small"), "error '%s'", err);
	}
}
END_TEST

START_TEST(place_bad_ncpus)
{
	struct kernel_info ki;
	struct boot_result br;
	char err[LOADER_ERRLEN] = "";

	elf_build();
	ck_assert_int_eq(loader_parse_elf(elf, ELF_LEN, &ki, err, sizeof(err)), 0);
	{
		struct boot_spec spec = { .kernel = elf, .kernel_len = ELF_LEN, .ki = &ki, .cmdline = "", .ncpus = 0 };

		err[0] = '\0';
		ck_assert_int_eq(loader_place(&mem, &spec, &br, err, sizeof(err)), -EINVAL);
		ck_assert_msg(err[0] != '\0', "empty error message");
	}
}
END_TEST

Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *bzi = tcase_create("bzimage");
	TCase *el = tcase_create("elf");
	TCase *pl = tcase_create("place");

	tcase_add_test(bzi, bz_valid);
	tcase_add_test(bzi, bz_setup_sects_zero_means_four);
	tcase_add_test(bzi, bz_other_setup_sects);
	tcase_add_test(bzi, bz_defaults_for_zero_fields);
	tcase_add_test(bzi, bz_truncated_setup);
	tcase_add_test(bzi, bz_truncated_payload);
	tcase_add_test(bzi, bz_truncated_header);
	tcase_add_test(bzi, bz_no_boot_signature);
	tcase_add_test(bzi, bz_no_hdrs);
	tcase_add_test(bzi, bz_old_protocol);
	tcase_add_test(bzi, bz_no_kernel64);
	tcase_add_test(bzi, bz_not_loaded_high);
	tcase_add_test(bzi, bz_bad_init_size_alignment);
	suite_add_tcase(s, bzi);

	tcase_add_test(el, elf_valid);
	tcase_add_test(el, elf_entry_outside_segments);
	tcase_add_test(el, elf_entry_in_second_segment);
	tcase_add_test(el, elf_segment_beyond_file);
	tcase_add_test(el, elf_wrong_machine);
	tcase_add_test(el, elf_class32);
	tcase_add_test(el, elf_not_exec);
	tcase_add_test(el, elf_segment_below_1m);
	tcase_add_test(el, elf_segment_above_4g);
	tcase_add_test(el, elf_phoff_out_of_range);
	tcase_add_test(el, elf_no_load_segments);
	tcase_add_test(el, elf_truncated_header);
	tcase_add_test(el, parse_kernel_dispatch);
	suite_add_tcase(s, el);

	tcase_add_checked_fixture(pl, mem_setup, mem_teardown);
	tcase_add_test(pl, place_elf);
	tcase_add_test(pl, place_bzimage);
	tcase_add_test(pl, place_bzimage_initrd_addr_max);
	tcase_add_test(pl, place_cmdline_too_long);
	tcase_add_test(pl, place_cmdline_too_long_bz);
	tcase_add_test(pl, place_initrd_does_not_fit);
	tcase_add_test(pl, place_kernel_does_not_fit);
	tcase_add_test(pl, place_bad_ncpus);
	suite_add_tcase(s, pl);
	return s;
}

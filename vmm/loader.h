/* SPDX-License-Identifier: MIT */
/*
 * Kernel loading: recognise a bzImage (x86 boot protocol >= 2.12 with a
 * 64-bit entry) or an uncompressed ELF64 vmlinux, then place kernel, initrd,
 * command line, zero page, boot GDT, page tables and MP table in guest RAM.
 *
 * Every value read from the kernel file is checked before use: the file is
 * user input, and a bad one is a clear error (exit 2), never a half-built VM.
 */
#ifndef APERTURE_LOADER_H
#define APERTURE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/memory.h"

#define LOADER_MAX_SEGMENTS 16
#define LOADER_ERRLEN 256
/* x86 COMMAND_LINE_SIZE for kernels that do not say (ELF vmlinux). */
#define LOADER_DEFAULT_CMDLINE_SIZE 2048

enum kernel_kind { KERNEL_BZIMAGE = 1, KERNEL_ELF = 2 };

struct kernel_segment {
	uint64_t paddr;
	uint64_t file_off;
	uint64_t filesz;
	uint64_t memsz;
};

struct kernel_info {
	enum kernel_kind kind;
	uint64_t entry_offset;   /* bzImage: entry = load address + this */
	uint64_t entry;          /* ELF: physical entry point */
	/* bzImage header fields (boot.rst) */
	uint16_t version;
	uint8_t setup_sects;
	uint16_t xloadflags;
	uint8_t loadflags;
	uint32_t init_size;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	bool relocatable;
	uint32_t cmdline_size;   /* max length excluding the NUL */
	uint32_t initrd_addr_max;
	size_t setup_size;       /* (setup_sects + 1) * 512 */
	size_t payload_off;
	size_t payload_len;
	/* ELF segments */
	unsigned nsegs;
	struct kernel_segment seg[LOADER_MAX_SEGMENTS];
};

/* Parse a bzImage header. 0 or -EINVAL with a reason in err. */
int loader_parse_bzimage(const uint8_t *buf, size_t len, struct kernel_info *ki,
			 char *err, size_t errlen) must_check;
/* Parse an ELF64 x86-64 executable. 0 or -EINVAL with a reason in err. */
int loader_parse_elf(const uint8_t *buf, size_t len, struct kernel_info *ki,
		     char *err, size_t errlen) must_check;
/* Whichever of the two the file is; a file that is neither is -EINVAL. */
int loader_parse_kernel(const uint8_t *buf, size_t len, struct kernel_info *ki,
			char *err, size_t errlen) must_check;

struct boot_spec {
	const uint8_t *kernel;
	size_t kernel_len;
	const struct kernel_info *ki;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline;
	unsigned ncpus;
};

struct boot_result {
	uint64_t entry;      /* RIP */
	uint64_t zero_page;  /* RSI */
	uint64_t kernel_end; /* first byte above everything the kernel needs */
	uint64_t initrd_addr;
};

/*
 * Place everything in guest RAM. -EINVAL / -E2BIG / -ENOMEM with a reason in
 * err when the inputs do not fit (memory too small, command line too long).
 */
int loader_place(const struct guest_mem *m, const struct boot_spec *spec,
		 struct boot_result *out, char *err, size_t errlen) must_check;

#endif

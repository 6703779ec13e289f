/* SPDX-License-Identifier: MIT */
#include "vmm/loader.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "lib/layout.h"
#include "firmware/mptable.h"
#include "firmware/zeropage.h"

#define SETUP_HEADER_OFF 0x1F1
#define BOOT_FLAG_OFF 0x1FE
#define HDRS_OFF 0x202
#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define MIN_BOOT_PROTOCOL 0x020C  /* 2.12: xloadflags, 64-bit entry */

/* One line for the user in err (lib/util.h, the error convention). */
#define fail(err, errlen, ...) err_set((err), (errlen), -EINVAL, __VA_ARGS__)

int loader_parse_bzimage(const uint8_t *buf, size_t len, struct kernel_info *ki, char *err, size_t errlen)
{
	struct setup_header h;
	size_t hdr_end;

	memset(ki, 0, sizeof(*ki));
	if (len < HDRS_OFF + 4 || buf[BOOT_FLAG_OFF] != 0x55 || buf[BOOT_FLAG_OFF + 1] != 0xAA)
		return fail(err, errlen, "no x86 boot sector signature (0xAA55)");
	if (memcmp(buf + HDRS_OFF, "HdrS", 4) != 0)
		return fail(err, errlen, "no \"HdrS\" boot protocol header");
	/* The header runs to 0x202 + the byte at 0x201; never past our struct. */
	hdr_end = HDRS_OFF + buf[0x201];
	if (hdr_end > SETUP_HEADER_OFF + sizeof(h))
		hdr_end = SETUP_HEADER_OFF + sizeof(h);
	if (hdr_end > len)
		return fail(err, errlen, "file truncated inside the setup header");
	memset(&h, 0, sizeof(h));
	memcpy(&h, buf + SETUP_HEADER_OFF, hdr_end - SETUP_HEADER_OFF);

	ki->kind = KERNEL_BZIMAGE;
	ki->version = h.version;
	if (h.version < MIN_BOOT_PROTOCOL)
		return fail(err, errlen, "boot protocol %u.%02u is too old (need 2.12 or later for a 64-bit entry)",
			    h.version >> 8, h.version & 0xff);
	if (!(h.xloadflags & XLF_KERNEL_64))
		return fail(err, errlen, "kernel has no 64-bit entry point (xloadflags bit 0 clear)");
	if (!(h.loadflags & LOADED_HIGH))
		return fail(err, errlen, "kernel is not loadable at 1 MiB (zImage, not bzImage)");
	ki->setup_sects = h.setup_sects ? h.setup_sects : 4;
	ki->setup_size = ((size_t)ki->setup_sects + 1) * 512;
	if (ki->setup_size >= len)
		return fail(err, errlen, "file truncated: %zu bytes, setup code alone is %zu", len, ki->setup_size);
	ki->payload_off = ki->setup_size;
	ki->payload_len = len - ki->setup_size;
	if ((uint64_t)h.syssize * 16 > ki->payload_len)
		return fail(err, errlen, "file truncated: protected-mode kernel is %zu bytes, header says %llu",
			    ki->payload_len, (unsigned long long)h.syssize * 16);
	if (h.init_size == 0)
		return fail(err, errlen, "header init_size is 0");
	if (h.kernel_alignment == 0 || (h.kernel_alignment & (h.kernel_alignment - 1)))
		return fail(err, errlen, "header kernel_alignment 0x%x is not a power of two", h.kernel_alignment);
	/* The decompressor runs at pref_address for init_size bytes: below 4 GiB, no wrap. */
	if (h.pref_address >= SZ_4G || h.pref_address + h.init_size > SZ_4G)
		return fail(err, errlen, "header pref_address 0x%llx + init_size 0x%x is not below 4 GiB",
			    (unsigned long long)h.pref_address, h.init_size);
	ki->xloadflags = h.xloadflags;
	ki->loadflags = h.loadflags;
	ki->init_size = h.init_size;
	ki->kernel_alignment = h.kernel_alignment;
	ki->pref_address = h.pref_address;
	ki->relocatable = h.relocatable_kernel != 0;
	ki->cmdline_size = h.cmdline_size ? h.cmdline_size : 255;
	ki->initrd_addr_max = h.initrd_addr_max ? h.initrd_addr_max : 0x37FFFFFF;
	ki->entry_offset = 0x200; /* 64-bit entry: load address + 0x200 */
	return 0;
}

int loader_parse_elf(const uint8_t *buf, size_t len, struct kernel_info *ki, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	bool entry_ok = false;

	memset(ki, 0, sizeof(*ki));
	if (len < sizeof(eh))
		return fail(err, errlen, "file truncated inside the ELF header");
	memcpy(&eh, buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "not a little-endian ELF64 file");
	if (eh.e_machine != EM_X86_64)
		return fail(err, errlen, "ELF machine %u is not x86-64", eh.e_machine);
	if (eh.e_type != ET_EXEC)
		return fail(err, errlen, "ELF type %u is not an executable (vmlinux)", eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return fail(err, errlen, "ELF program headers lie outside the file");

	ki->kind = KERNEL_ELF;
	ki->entry = eh.e_entry;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		struct kernel_segment *s;

		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ki->nsegs == LOADER_MAX_SEGMENTS)
			return fail(err, errlen, "more than %d loadable ELF segments", LOADER_MAX_SEGMENTS);
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return fail(err, errlen, "ELF segment %u lies outside the file", i);
		if (ph.p_paddr + ph.p_memsz < ph.p_paddr || ph.p_paddr + ph.p_memsz > SZ_4G)
			return fail(err, errlen, "ELF segment %u is not below 4 GiB (paddr 0x%llx)", i,
				    (unsigned long long)ph.p_paddr);
		if (ph.p_paddr < LAYOUT_HIGH_MEM)
			return fail(err, errlen, "ELF segment %u loads below 1 MiB (paddr 0x%llx)", i,
				    (unsigned long long)ph.p_paddr);
		s = &ki->seg[ki->nsegs++];
		s->paddr = ph.p_paddr;
		s->file_off = ph.p_offset;
		s->filesz = ph.p_filesz;
		s->memsz = ph.p_memsz;
		if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_filesz)
			entry_ok = true;
	}
	if (ki->nsegs == 0)
		return fail(err, errlen, "ELF file has no loadable segments");
	if (!entry_ok)
		return fail(err, errlen, "ELF entry point 0x%llx is not inside a loaded segment",
			    (unsigned long long)eh.e_entry);
	ki->cmdline_size = LOADER_DEFAULT_CMDLINE_SIZE - 1;
	ki->initrd_addr_max = 0x7FFFFFFF;
	return 0;
}

int loader_parse_kernel(const uint8_t *buf, size_t len, struct kernel_info *ki, char *err, size_t errlen)
{
	if (len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0)
		return loader_parse_elf(buf, len, ki, err, errlen);
	if (len > BOOT_FLAG_OFF + 1 && buf[BOOT_FLAG_OFF] == 0x55 && buf[BOOT_FLAG_OFF + 1] == 0xAA)
		return loader_parse_bzimage(buf, len, ki, err, errlen);
	return fail(err, errlen, "not a bzImage or an ELF vmlinux");
}

static int place_kernel(const struct guest_mem *m, const struct boot_spec *s, struct boot_result *out,
			char *err, size_t errlen)
{
	const struct kernel_info *ki = s->ki;
	uint64_t end = 0;

	if (ki->kind == KERNEL_BZIMAGE) {
		uint64_t load = LAYOUT_KERNEL_LOAD;
		/* The decompressor runs at max(aligned load address, pref_address). */
		uint64_t run = align_up(load, ki->kernel_alignment);

		if (ki->pref_address > run)
			run = ki->pref_address;
		end = load + ki->payload_len;
		if (run + ki->init_size > end)
			end = run + ki->init_size;
		if (end > gm_low_end(m)) {
			snprintf(err, errlen, "guest memory too small: the kernel needs %llu MiB below the MMIO hole",
				 (unsigned long long)(end >> 20) + 1);
			return -ENOMEM;
		}
		if (gm_write(m, load, s->kernel + ki->payload_off, ki->payload_len))
			return -EFAULT;
		out->entry = load + ki->entry_offset;
	} else {
		for (unsigned i = 0; i < ki->nsegs; i++) {
			const struct kernel_segment *seg = &ki->seg[i];
			uint8_t *dst = gm_slice(m, seg->paddr, seg->memsz);

			if (!dst) {
				snprintf(err, errlen,
					 "guest memory too small: kernel segment at 0x%llx needs %llu MiB of RAM",
					 (unsigned long long)seg->paddr,
					 (unsigned long long)((seg->paddr + seg->memsz) >> 20) + 1);
				return -ENOMEM;
			}
			memcpy(dst, s->kernel + seg->file_off, seg->filesz);
			memset(dst + seg->filesz, 0, seg->memsz - seg->filesz);
			if (seg->paddr + seg->memsz > end)
				end = seg->paddr + seg->memsz;
		}
		out->entry = ki->entry;
	}
	out->kernel_end = end;
	return 0;
}

int loader_place(const struct guest_mem *m, const struct boot_spec *s, struct boot_result *out,
		 char *err, size_t errlen)
{
	const struct kernel_info *ki = s->ki;
	struct boot_params bp;
	size_t cmdlen = strlen(s->cmdline);
	uint8_t mp[4096];
	long mplen;
	int ret;

	memset(out, 0, sizeof(*out));
	if (cmdlen > ki->cmdline_size || cmdlen >= LAYOUT_CMDLINE_MAX) {
		snprintf(err, errlen, "kernel command line is %zu bytes; this kernel accepts at most %u",
			 cmdlen, ki->cmdline_size);
		return -E2BIG;
	}
	ret = place_kernel(m, s, out, err, errlen);
	if (ret)
		return ret;

	memset(&bp, 0, sizeof(bp));
	if (ki->kind == KERNEL_BZIMAGE) {
		size_t hdr_end = HDRS_OFF + s->kernel[0x201];

		if (hdr_end > SETUP_HEADER_OFF + sizeof(bp.hdr))
			hdr_end = SETUP_HEADER_OFF + sizeof(bp.hdr);
		memcpy(&bp.hdr, s->kernel + SETUP_HEADER_OFF, hdr_end - SETUP_HEADER_OFF);
		bp.hdr.code32_start = (uint32_t)LAYOUT_KERNEL_LOAD;
	} else {
		bp.hdr.boot_flag = 0xAA55;
		bp.hdr.header = HDRS_MAGIC;
		bp.hdr.version = MIN_BOOT_PROTOCOL;
		bp.hdr.kernel_alignment = 0x1000000;
		bp.hdr.cmdline_size = ki->cmdline_size;
	}
	bp.hdr.type_of_loader = 0xFF;
	bp.hdr.loadflags |= LOADED_HIGH;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.ext_cmd_line_ptr = 0;

	if (s->initrd && s->initrd_len) {
		uint64_t top = gm_low_end(m);
		uint64_t addr;

		if (top > (uint64_t)ki->initrd_addr_max + 1)
			top = (uint64_t)ki->initrd_addr_max + 1;
		if (s->initrd_len > top || align_down(top - s->initrd_len, 4096) < out->kernel_end) {
			snprintf(err, errlen,
				 "guest memory too small: kernel (%llu MiB) and initrd (%zu MiB) do not fit below %llu MiB",
				 (unsigned long long)(out->kernel_end >> 20), s->initrd_len >> 20,
				 (unsigned long long)(top >> 20));
			return -ENOMEM;
		}
		addr = align_down(top - s->initrd_len, 4096);
		if (gm_write(m, addr, s->initrd, s->initrd_len))
			return -EFAULT;
		bp.hdr.ramdisk_image = (uint32_t)addr;
		bp.hdr.ramdisk_size = (uint32_t)s->initrd_len;
		bp.ext_ramdisk_image = (uint32_t)(addr >> 32);
		bp.ext_ramdisk_size = (uint32_t)((uint64_t)s->initrd_len >> 32);
		out->initrd_addr = addr;
	}
	zeropage_fill_e820(&bp, m);

	if (gm_write(m, LAYOUT_CMDLINE, s->cmdline, cmdlen + 1) ||
	    gm_write(m, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)) || boot_write_gdt_and_pagetables(m))
		return -EFAULT;
	mplen = mptable_build(mp, sizeof(mp), LAYOUT_MPTABLE, s->ncpus);
	if (mplen < 0 || gm_write(m, LAYOUT_MPTABLE, mp, (uint64_t)mplen)) {
		snprintf(err, errlen, "cannot build an MP table for %u CPUs", s->ncpus);
		return -EINVAL;
	}
	out->zero_page = LAYOUT_ZERO_PAGE;
	return 0;
}

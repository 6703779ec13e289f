/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the kernel image parsers (bzImage header, ELF64) and
 * placement into a small guest memory. Whatever the file says, parsing must
 * not read outside the buffer and placement must not write outside RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static int ready;
	struct kernel_info ki;
	struct boot_result br;
	char err[LOADER_ERRLEN];
	uint8_t *copy;

	if (!ready) {
		if (gm_create(&mem, 64ULL << 20))
			abort();
		ready = 1;
	}
	/* An exact-size heap copy so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (loader_parse_kernel(copy, size, &ki, err, sizeof(err)) == 0) {
		struct boot_spec spec = {
			.kernel = copy, .kernel_len = size, .ki = &ki,
			.initrd = copy, .initrd_len = size, .cmdline = "console=ttyS0", .ncpus = 2,
		};

		(void)loader_place(&mem, &spec, &br, err, sizeof(err));
	}
	free(copy);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel command line: console and reboot settings, `quiet`
 * unless --verbose, the workarounds for hosts whose KVM emulates guest
 * kernel mode (docs/workarounds.md), the pool the guest reserves
 * (virtio_swiotlb=), the --exec marker (the command itself goes over the
 * init channel), then the user's --cmdline last so that it wins.
 */
#ifndef APERTURE_CMDLINE_H
#define APERTURE_CMDLINE_H

#include <stddef.h>
#include "lib/util.h"

struct vmm_config;

/*
 * Build the command line into buf. `emulated_cpl0` adds the workarounds,
 * with lpj derived from tsc_khz (none when 0). -E2BIG if it does not fit
 * in len bytes.
 */
int cmdline_build(char *buf, size_t len, const struct vmm_config *cfg, int emulated_cpl0,
		  unsigned long tsc_khz) must_check;

#endif

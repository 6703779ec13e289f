/* SPDX-License-Identifier: MIT */
/* The monitor from command line to exit status; main() only calls this. */
#ifndef APERTURE_RUN_H
#define APERTURE_RUN_H

#include <stddef.h>

#include "vmm/cli.h" /* EXIT_* */

int vmm_main(int argc, char **argv);

/*
 * Build the guest kernel command line into buf. `emulated_cpl0` adds the
 * workarounds for hosts whose KVM emulates guest kernel mode, with lpj
 * derived from tsc_khz. -E2BIG if it does not fit in len.
 */
struct vmm_config;
int run_build_cmdline(char *buf, size_t len, const struct vmm_config *cfg, int emulated_cpl0,
		      unsigned long tsc_khz);

#endif

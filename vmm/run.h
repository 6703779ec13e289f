/* SPDX-License-Identifier: MIT */
/* The monitor from command line to exit status; main() only calls this. */
#ifndef APERTURE_RUN_H
#define APERTURE_RUN_H

#include <stddef.h>

#include "vmm/cli.h" /* EXIT_* */

int vmm_main(int argc, char **argv);

#endif

/* SPDX-License-Identifier: MIT */
#include "vmm/run.h"

int main(int argc, char **argv)
{
	return vmm_main(argc, argv);
}

/* SPDX-License-Identifier: MIT */
/*
 * mkman: print vmm's man page (roff) from the option table in vmm/cli.c, so
 * the man page and --help cannot drift apart. The build runs
 *   mkman VERSION DATE > build/vmm.1
 */
#include <stdio.h>
#include "vmm/cli.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mkman VERSION DATE\n");
		return 2;
	}
	cli_print_man(stdout, argv[1], argv[2]);
	return ferror(stdout) ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 table: how a guest without ACPI
 * learns its CPUs, the IOAPIC and how ISA interrupts reach it.
 */
#ifndef APERTURE_MPTABLE_H
#define APERTURE_MPTABLE_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

#define MPTABLE_MAX_CPUS 64

/* Size in bytes of the table for ncpus processors (floating pointer included). */
size_t mptable_size(unsigned ncpus);

/*
 * Build the floating pointer and configuration table into buf (at least
 * mptable_size(ncpus) bytes) as it will sit at guest-physical `gpa`.
 * Returns bytes written or -EINVAL for 0 or too many CPUs / short buffer.
 */
long mptable_build(uint8_t *buf, size_t buflen, uint64_t gpa, unsigned ncpus) must_check;

#endif

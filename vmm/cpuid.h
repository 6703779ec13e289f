/* SPDX-License-Identifier: MIT */
/*
 * CPUID for the guest: KVM_GET_SUPPORTED_CPUID filtered by a CPU template,
 * plus per-vCPU topology. And detection of a host KVM that emulates guest
 * CPL0 instruction by instruction (see docs/workarounds.md).
 */
#ifndef APERTURE_CPUID_H
#define APERTURE_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include "lib/util.h"

enum cpu_template {
	CPU_TEMPLATE_HOST = 0, /* everything KVM supports, minus what we do not emulate */
	CPU_TEMPLATE_BASELINE, /* x86-64-v2: no AVX family, no TSX, no AVX-512 */
};

/* "host" / "baseline" -> template; -EINVAL otherwise. */
int cpuid_template_parse(const char *s, enum cpu_template *t) must_check;
const char *cpuid_template_name(enum cpu_template t);

/*
 * Rewrite `c` (as returned by KVM_GET_SUPPORTED_CPUID) for vCPU `id` of
 * `ncpus` under template `t`. Pure function, unit-tested.
 */
void cpuid_apply(struct kvm_cpuid2 *c, enum cpu_template t, unsigned id, unsigned ncpus);

/* Host KVM emulates guest CPL0 (its module shows as /sys/module/kvm_pvm). */
bool host_emulates_cpl0(void);

#endif

/* SPDX-License-Identifier: MIT */
#include "vmm/cpuid.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int cpuid_template_parse(const char *s, enum cpu_template *t)
{
	if (!strcmp(s, "host"))
		*t = CPU_TEMPLATE_HOST;
	else if (!strcmp(s, "baseline"))
		*t = CPU_TEMPLATE_BASELINE;
	else
		return -EINVAL;
	return 0;
}

const char *cpuid_template_name(enum cpu_template t)
{
	return t == CPU_TEMPLATE_BASELINE ? "baseline" : "host";
}

/* Leaf 1 ECX */
#define F1C_MONITOR (1u << 3)
#define F1C_VMX (1u << 5)
#define F1C_SMX (1u << 6)
#define F1C_EST (1u << 7)
#define F1C_TM2 (1u << 8)
#define F1C_PDCM (1u << 15)
#define F1C_FMA (1u << 12)
#define F1C_XSAVE (1u << 26)
#define F1C_AVX (1u << 28)
#define F1C_F16C (1u << 29)
#define F1C_HYPERVISOR (1u << 31)
/* Leaf 1 EDX */
#define F1D_HTT (1u << 28)
/* Leaf 7.0 EBX */
#define F7B_HLE (1u << 4)
#define F7B_AVX2 (1u << 5)
#define F7B_RTM (1u << 11)
#define F7B_AVX512 0xDC230000u /* F, DQ, IFMA, PF, ER, CD, BW, VL */
/* Leaf 7.0 ECX / EDX */
#define F7C_AVX512 0x00005842u /* VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
#define F7C_VAES_VPCLMUL 0x00000600u
#define F7D_AMX 0x03400000u /* AMX-BF16, AMX-TILE, AMX-INT8 */
#define F7_1A_AVX 0x00000030u /* AVX-VNNI, AVX512-BF16 */
#define F7D_AVX512 0x0080010Cu /* 4VNNIW, 4FMAPS, VP2INTERSECT, FP16 */

void cpuid_apply(struct kvm_cpuid2 *c, enum cpu_template t, unsigned id, unsigned ncpus)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ecx &= ~(F1C_MONITOR | F1C_VMX | F1C_SMX | F1C_EST | F1C_TM2 | F1C_PDCM);
			e->ecx |= F1C_HYPERVISOR;
			if (t == CPU_TEMPLATE_BASELINE)
				e->ecx &= ~(F1C_FMA | F1C_XSAVE | F1C_AVX | F1C_F16C);
			/* APIC ID, logical processor count */
			e->ebx = (e->ebx & 0x0000FFFFu) | (id << 24) | ((ncpus & 0xFF) << 16);
			if (ncpus > 1)
				e->edx |= F1D_HTT;
			break;
		case 6:  /* thermal and power management: nothing emulated */
		case 0xA: /* architectural PMU: not exposed */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 7:
			if (e->index == 0 && t == CPU_TEMPLATE_BASELINE) {
				e->ebx &= ~(F7B_HLE | F7B_AVX2 | F7B_RTM | F7B_AVX512);
				e->ecx &= ~(F7C_AVX512 | F7C_VAES_VPCLMUL);
				e->edx &= ~(F7D_AVX512 | F7D_AMX);
			} else if (e->index == 1 && t == CPU_TEMPLATE_BASELINE) {
				e->eax &= ~F7_1A_AVX;
			}
			break;
		case 0xB:
		case 0x1F:
			e->edx = id; /* x2APIC ID */
			break;
		case 0xD:
			if (t == CPU_TEMPLATE_BASELINE && e->index == 0) {
				e->eax &= 0x3; /* x87 + SSE state only */
				e->edx = 0;
			}
			break;
		default:
			break;
		}
	}
}

bool host_emulates_cpl0(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

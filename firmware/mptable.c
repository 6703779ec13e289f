/* SPDX-License-Identifier: MIT */
#include "firmware/mptable.h"

#include <errno.h>
#include <string.h>
#include "lib/layout.h"

/* Layouts from the MP specification 1.4, chapter 4. */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint16_t extended_length;
	uint8_t extended_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf size");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc size");
_Static_assert(sizeof(struct mpc_cpu) == 20, "cpu entry size");
_Static_assert(sizeof(struct mpc_bus) == 8, "bus entry size");

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11
#define ISA_IRQS 16

size_t mptable_size(unsigned ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) + ncpus * sizeof(struct mpc_cpu) +
	       sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (ISA_IRQS + 2) * sizeof(struct mpc_intsrc);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

long mptable_build(uint8_t *buf, size_t buflen, uint64_t gpa, unsigned ncpus)
{
	size_t size = mptable_size(ncpus);
	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(buf + sizeof(*mpf));
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t count = 0;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS || buflen < size || gpa + size > (1ULL << 32))
		return -EINVAL;
	memset(buf, 0, size);

	for (unsigned i = 0; i < ncpus; i++, count++) {
		struct mpc_cpu *c = (struct mpc_cpu *)p;

		c->type = MP_PROCESSOR;
		c->apicid = (uint8_t)i;
		c->apicver = APIC_VERSION;
		c->cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0);
		c->cpufeature = 0x600; /* family 6 */
		c->featureflag = 0x201; /* FPU, APIC */
		p += sizeof(*c);
	}
	{
		struct mpc_bus *b = (struct mpc_bus *)p;

		b->type = MP_BUS;
		b->busid = 0;
		memcpy(b->bustype, "ISA   ", 6);
		p += sizeof(*b);
		count++;
	}
	{
		struct mpc_ioapic *io = (struct mpc_ioapic *)p;

		io->type = MP_IOAPIC;
		io->apicid = ioapic_id;
		io->apicver = IOAPIC_VERSION;
		io->flags = 1; /* enabled */
		io->apicaddr = (uint32_t)LAYOUT_IOAPIC;
		p += sizeof(*io);
		count++;
	}
	/* ISA IRQ n -> IOAPIC pin n: KVM's default GSI routing is the identity. */
	for (unsigned irq = 0; irq < ISA_IRQS; irq++, count++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;

		s->type = MP_INTSRC;
		s->irqtype = MP_INT;
		s->irqflag = 0; /* conforms to the bus: ISA is edge, active high */
		s->srcbus = 0;
		s->srcbusirq = (uint8_t)irq;
		s->dstapic = ioapic_id;
		s->dstirq = (uint8_t)irq;
		p += sizeof(*s);
	}
	/* LINT0 is ExtINT (the PIC), LINT1 is NMI, on every local APIC. */
	for (unsigned lint = 0; lint < 2; lint++, count++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;

		s->type = MP_LINTSRC;
		s->irqtype = lint == 0 ? MP_EXTINT : MP_NMI;
		s->srcbus = 0;
		s->dstapic = 0xFF;
		s->dstirq = (uint8_t)lint;
		p += sizeof(*s);
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "APERTURE", 8);
	memcpy(mpc->productid, "KVM VMM     ", 12);
	mpc->oemcount = count;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC;
	mpc->checksum = checksum((uint8_t *)mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(gpa + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = checksum((uint8_t *)mpf, sizeof(*mpf));
	return (long)(p - buf);
}

/* SPDX-License-Identifier: MIT */
#include "devices/pvport.h"

#include <string.h>
#include "lib/log.h"

void pvport_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pvport *p = opaque;
	uint32_t v;

	if (!is_write) {
		uint32_t magic = PVPORT_MAGIC;

		memset(data, 0xFF, size);
		if (offset == 0 && size == 4)
			memcpy(data, &magic, 4);
		return;
	}
	if (offset != 0 || size != 4) {
		if (__atomic_fetch_add(&p->bad_accesses, 1, __ATOMIC_RELAXED) == 0)
			log_msg("pvport: ignoring %u-byte write at offset %u", size, (unsigned)offset);
		return;
	}
	memcpy(&v, data, 4);
	switch (v >> 24) {
	case PVPORT_CMD_BOOT_MARK:
		if (p->ops->boot_mark)
			p->ops->boot_mark(p->ctx, v & 0xFFFFFF);
		break;
	case PVPORT_CMD_EXIT_STATUS:
		if ((v & 0xFFFFFF) > 255) {
			if (__atomic_fetch_add(&p->bad_accesses, 1, __ATOMIC_RELAXED) == 0)
				log_msg("pvport: exit status %u out of range, ignored", v & 0xFFFFFF);
			break;
		}
		if (p->ops->exit_status)
			p->ops->exit_status(p->ctx, v & 0xFF);
		break;
	default:
		if (__atomic_fetch_add(&p->bad_accesses, 1, __ATOMIC_RELAXED) == 0)
			log_msg("pvport: unknown command 0x%02x, ignored", v >> 24);
		break;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * The paravirtual port (docs/protocol.md): four bytes at I/O port 0xA70
 * through which the guest init reports boot marks and its exit status until
 * the vsock init channel carries them. A 32-bit write is
 *   bits 31..24  command (PVPORT_CMD_*)
 *   bits 23..0   argument
 * A 32-bit read returns PVPORT_MAGIC so init can tell it runs under us.
 * Anything else (other widths, unknown commands, out-of-range arguments) is
 * counted and ignored: the guest cannot make the monitor do more than record
 * a mark or a status.
 */
#ifndef APERTURE_PVPORT_H
#define APERTURE_PVPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/protocol.h" /* PVPORT_* */

struct pvport_ops {
	void (*boot_mark)(void *ctx, unsigned mark);
	void (*exit_status)(void *ctx, unsigned status);
};

struct pvport {
	const struct pvport_ops *ops;
	void *ctx;
	unsigned bad_accesses;
};

void pvport_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

#endif

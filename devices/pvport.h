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

#define PVPORT_BASE 0xA70
#define PVPORT_LEN 4
#define PVPORT_MAGIC 0x54525041u /* "APRT" little-endian */
#define PVPORT_CMD_BOOT_MARK 0x01
#define PVPORT_CMD_EXIT_STATUS 0x02
#define PVPORT_MARK_INIT 1     /* guest init is running */
#define PVPORT_MARK_WORKLOAD 2 /* the --exec command is starting */

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

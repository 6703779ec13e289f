/* SPDX-License-Identifier: MIT */
/*
 * The ways a PC guest resets itself: the i8042 keyboard controller's pulse
 * command (0xFE to port 0x64, what Linux's reboot=k does) and the reset
 * control register at port 0xCF9. Either ends the VM. Reads of the i8042
 * status say "buffers empty" so the kernel's wait loop finishes at once.
 */
#ifndef APERTURE_RESET_H
#define APERTURE_RESET_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_CMD_RESET 0xFE
#define RST_CNT_PORT 0xCF9
#define RST_CNT_SYS_RST 0x02
#define RST_CNT_RST_CPU 0x04

struct reset_dev {
	void (*reset)(void *ctx, const char *why);
	void *ctx;
};

/* Port 0x64 (command/status) and 0x60 (data); offset 0 is the port itself. */
void reset_i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
void reset_i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
void reset_cf9_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

#endif

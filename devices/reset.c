/* SPDX-License-Identifier: MIT */
#include "devices/reset.h"

#include <string.h>

void reset_i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct reset_dev *r = opaque;

	(void)offset;
	if (!is_write) {
		memset(data, 0, size); /* output buffer empty, input buffer empty */
		return;
	}
	if (data[0] == I8042_CMD_RESET)
		r->reset(r->ctx, "i8042 reset");
}

void reset_i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0, size);
}

void reset_cf9_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct reset_dev *r = opaque;

	(void)offset;
	if (!is_write) {
		memset(data, 0, size);
		return;
	}
	if (data[0] & RST_CNT_RST_CPU)
		r->reset(r->ctx, "port 0xCF9 reset");
}

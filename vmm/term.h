/* SPDX-License-Identifier: MIT */
/*
 * The host terminal. When stdin is a terminal the console runs it in raw
 * mode; term_restore() puts the saved settings back and is safe to call
 * from a signal handler and more than once. Crash signals restore the
 * terminal before the process dies.
 */
#ifndef APERTURE_TERM_H
#define APERTURE_TERM_H

#include <stdbool.h>

/* Switch stdin to raw mode if it is a terminal; true if it did. */
bool term_raw(void);
void term_restore(void);

#endif

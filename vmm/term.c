/* SPDX-License-Identifier: MIT */
#include "vmm/term.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile sig_atomic_t have_saved;

void term_restore(void)
{
	if (have_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		have_saved = 0;
	}
}

static void crash_handler(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

bool term_raw(void)
{
	static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0)
		return false;
	have_saved = 1;
	atexit(term_restore);
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
		signal(crash_signals[i], crash_handler);
	raw = saved;
	cfmakeraw(&raw);
	/* Keep output post-processing so our own log lines still start at column 0. */
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		have_saved = 0;
		return false;
	}
	return true;
}

/* SPDX-License-Identifier: MIT */
#include "vmm/events.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static FILE *events;
static uint64_t start_ns;
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t guest_events, guest_dropped; /* under events_lock */

int events_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	start_ns = now_ns();
	if (fd < 0)
		return -errno;
	events = fdopen(fd, "w");
	if (!events) {
		int err = -errno;

		close(fd);
		return err;
	}
	return 0;
}

void events_close(void)
{
	uint64_t dropped;

	pthread_mutex_lock(&events_lock);
	dropped = guest_dropped;
	pthread_mutex_unlock(&events_lock);
	if (dropped)
		events_emit("events-suppressed", "\"count\":%llu", (unsigned long long)dropped);
	pthread_mutex_lock(&events_lock);
	if (events)
		fclose(events);
	events = NULL;
	guest_events = guest_dropped = 0;
	pthread_mutex_unlock(&events_lock);
}

void events_json_string(char *buf, size_t len, const char *s)
{
	size_t o = 0;

	if (len < 3)
		return;
	buf[o++] = '"';
	for (; *s && o + 8 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7F) { /* guest bytes: keep the file valid UTF-8 */
			o += (size_t)snprintf(buf + o, len - o, "\\u%04x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static void vemit(bool from_guest, const char *event, const char *fields, va_list ap)
{
	uint64_t t = now_ns();
	char extra[1024] = "";

	if (!events)
		return;
	if (fields)
		vsnprintf(extra, sizeof(extra), fields, ap);
	pthread_mutex_lock(&events_lock);
	if (!events || (from_guest && guest_events >= EVENTS_GUEST_MAX)) {
		guest_dropped += from_guest;
		pthread_mutex_unlock(&events_lock);
		return;
	}
	guest_events += from_guest;
	fprintf(events, "{\"t_ns\":%llu,\"since_start_us\":%llu,\"event\":\"%s\"%s%s}\n",
		(unsigned long long)t, (unsigned long long)((t - start_ns) / 1000), event,
		extra[0] ? "," : "", extra);
	fflush(events);
	pthread_mutex_unlock(&events_lock);
}

void events_emit(const char *event, const char *fields, ...)
{
	va_list ap;

	va_start(ap, fields);
	vemit(false, event, fields, ap);
	va_end(ap);
}

void events_emit_limited(struct ratelimit *rl, const char *event, const char *fields, ...)
{
	va_list ap;

	if (!events)
		return;
	if (!ratelimit_pass(rl, NULL)) {
		pthread_mutex_lock(&events_lock);
		guest_dropped++;
		pthread_mutex_unlock(&events_lock);
		return;
	}
	va_start(ap, fields);
	vemit(true, event, fields, ap);
	va_end(ap);
}

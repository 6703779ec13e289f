/* SPDX-License-Identifier: MIT */
/*
 * Share options as text: what --share ...,OPTION takes, and what the monitor
 * hands an isolated back end (aperture-backend --share-options). One parser
 * for both, so the two cannot drift apart.
 */
#include "devices/fuse-fs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GUEST:HOST[:COUNT] (COUNT 1 when left out). */
static int parse_idmap(const char *v, struct fuse_idmap *m)
{
	unsigned long long g, h, n = 1;
	char *e;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	g = strtoull(v, &e, 10);
	if (e == v || *e != ':' || errno)
		return -1;
	v = e + 1;
	if (*v < '0' || *v > '9')
		return -1;
	h = strtoull(v, &e, 10);
	if (e == v || (*e != ':' && *e) || errno)
		return -1;
	if (*e == ':') {
		v = e + 1;
		if (*v < '0' || *v > '9')
			return -1;
		n = strtoull(v, &e, 10);
		if (e == v || *e || errno || n == 0)
			return -1;
	}
	if (g > UINT32_MAX - 1 || h > UINT32_MAX - 1 || n > UINT32_MAX - 1 - g || n > UINT32_MAX - 1 - h)
		return -1;
	*m = (struct fuse_idmap){ .guest = (uint32_t)g, .host = (uint32_t)h, .count = (uint32_t)n };
	return 0;
}

int fuse_option_apply(struct fuse_options *o, const char *opt, size_t len, char *err, size_t errlen)
{
	char v[64];

	if (len >= sizeof(v)) {
		snprintf(err, errlen, "unknown option '%.*s' (options: " FUSE_OPTIONS_HELP ")", (int)len, opt);
		return -1;
	}
	memcpy(v, opt, len);
	v[len] = '\0';
	if (!strcmp(v, "ro"))
		o->ro = true;
	else if (!strcmp(v, "rw"))
		o->ro = false;
	else if (!strcmp(v, "cache=auto"))
		o->cache = FUSE_CACHE_AUTO;
	else if (!strcmp(v, "cache=always"))
		o->cache = FUSE_CACHE_ALWAYS;
	else if (!strcmp(v, "cache=never") || !strcmp(v, "cache=none"))
		o->cache = FUSE_CACHE_NEVER;
	else if (!strncmp(v, "cache=", 6)) {
		snprintf(err, errlen, "cache=%s is not one of auto, always, never", v + 6);
		return -1;
	} else if (!strcmp(v, "writeback"))
		o->writeback = true;
	else if (!strcmp(v, "no_writeback"))
		o->writeback = false;
	else if (!strcmp(v, "xattr"))
		o->xattr = true;
	else if (!strcmp(v, "no_xattr"))
		o->xattr = false;
	else if (!strcmp(v, "devnodes"))
		o->devnodes = true;
	else if (!strcmp(v, "no_devnodes"))
		o->devnodes = false;
	else if (!strncmp(v, "uidmap=", 7) || !strncmp(v, "gidmap=", 7)) {
		if (parse_idmap(v + 7, v[0] == 'u' ? &o->uidmap : &o->gidmap)) {
			snprintf(err, errlen, "%.6s wants GUEST:HOST[:COUNT] (ids below 2^32-1), not '%s'", v, v + 7);
			return -1;
		}
		return 0;
	} else {
		snprintf(err, errlen, "unknown option '%s' (options: " FUSE_OPTIONS_HELP ")", v);
		return -1;
	}
	return 0;
}

int fuse_options_parse(const char *s, struct fuse_options *o)
{
	char err[160];

	*o = (struct fuse_options){ 0 };
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (len == 0 || fuse_option_apply(o, s, len, err, sizeof(err)))
			return -EINVAL;
		s += len + (end ? 1 : 0);
		if (end && !*s)
			return -EINVAL; /* a trailing comma */
	}
	return o->ro && o->writeback ? -EINVAL : 0;
}

int fuse_options_format(const struct fuse_options *o, char *buf, size_t len)
{
	static const char *const cache[] = { "auto", "always", "never" };
	int n = snprintf(buf, len, "cache=%s%s%s%s%s", cache[o->cache <= FUSE_CACHE_NEVER ? o->cache : 0],
			 o->ro ? ",ro" : "", o->writeback ? ",writeback" : "", o->xattr ? ",xattr" : "",
			 o->devnodes ? ",devnodes" : "");

	if (n >= 0 && (size_t)n < len && o->uidmap.count)
		n += snprintf(buf + n, len - (size_t)n, ",uidmap=%" PRIu32 ":%" PRIu32 ":%" PRIu32, o->uidmap.guest,
			      o->uidmap.host, o->uidmap.count);
	if (n >= 0 && (size_t)n < len && o->gidmap.count)
		n += snprintf(buf + n, len - (size_t)n, ",gidmap=%" PRIu32 ":%" PRIu32 ":%" PRIu32, o->gidmap.guest,
			      o->gidmap.host, o->gidmap.count);
	return n >= 0 && (size_t)n < len ? 0 : -ENOSPC;
}

/* SPDX-License-Identifier: MIT */
#include "vmm/initchan.h"

#include <errno.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One line for the user in err (lib/util.h, the error convention). */
#define bad(err, errlen, ...) err_set((err), (errlen), -EBADMSG, __VA_ARGS__)

/* A string property: present, NUL-terminated within its length, fits out. */
static int get_str(const void *fdt, const char *name, char *out, size_t outlen, bool required, char *err,
		   size_t errlen)
{
	int len;
	const char *v = fdt_getprop(fdt, 0, name, &len);

	out[0] = '\0';
	if (!v)
		return required ? bad(err, errlen, "property '%s' missing", name) : 0;
	if (len <= 0 || v[len - 1] != '\0' || strlen(v) + 1 != (size_t)len)
		return bad(err, errlen, "property '%s' is not one NUL-terminated string", name);
	if ((size_t)len > outlen)
		return bad(err, errlen, "property '%s' longer than %zu bytes", name, outlen - 1);
	memcpy(out, v, (size_t)len);
	return 0;
}

/* A big-endian integer property of exactly 4 or 8 bytes. */
static int get_uint(const void *fdt, const char *name, uint64_t *out, bool required, char *err, size_t errlen)
{
	int len;
	const uint8_t *v = fdt_getprop(fdt, 0, name, &len);

	*out = 0;
	if (!v)
		return required ? bad(err, errlen, "property '%s' missing", name) : 0;
	/* Property values are only 4-byte aligned in the blob: unaligned-safe loads. */
	if (len == 4)
		*out = fdt32_ld((const fdt32_t *)(const void *)v);
	else if (len == 8)
		*out = fdt64_ld((const fdt64_t *)(const void *)v);
	else
		return bad(err, errlen, "property '%s' is %d bytes, not a 32- or 64-bit integer", name, len);
	return 0;
}

int initchan_decode(const void *blob, size_t len, struct initchan_msg *m, char *err, size_t errlen)
{
	uint64_t v;
	int r;

	memset(m, 0, sizeof(*m));
	if (len < sizeof(struct fdt_header) || len > INITCHAN_MAX_MSG)
		return bad(err, errlen, "message of %zu bytes", len);
	r = fdt_check_full(blob, len);
	if (r)
		return bad(err, errlen, "not a valid device tree: %s", fdt_strerror(r));
	if (fdt_totalsize(blob) != len)
		return bad(err, errlen, "totalsize %u differs from the %zu bytes framed", fdt_totalsize(blob), len);
	r = get_str(blob, "message", m->name, sizeof(m->name), true, err, errlen);
	if (r)
		return r;
	if (!strcmp(m->name, INITCHAN_MSG_CAPS)) {
		m->type = MSG_GUEST_CAPABILITIES;
		if ((r = get_uint(blob, "swiotlb-base", &m->swiotlb_base, true, err, errlen)) ||
		    (r = get_uint(blob, "swiotlb-size", &m->swiotlb_size, true, err, errlen)) ||
		    (r = get_str(blob, "kernel-release", m->kernel_release, sizeof(m->kernel_release), false, err,
				 errlen)) ||
		    (r = get_str(blob, "init-version", m->init_version, sizeof(m->init_version), false, err, errlen)))
			return r;
	} else if (!strcmp(m->name, INITCHAN_MSG_BOOT_MARK)) {
		m->type = MSG_BOOT_MARK;
		r = get_str(blob, "mark", m->mark, sizeof(m->mark), true, err, errlen);
		if (r)
			return r;
	} else if (!strcmp(m->name, INITCHAN_MSG_EXIT)) {
		m->type = MSG_EXIT_STATUS;
		r = get_uint(blob, "status", &v, true, err, errlen);
		if (r)
			return r;
		if (v > 255)
			return bad(err, errlen, "exit status %llu out of range", (unsigned long long)v);
		m->status = (uint32_t)v;
	} else if (!strcmp(m->name, INITCHAN_MSG_READY)) {
		int node;

		m->type = MSG_DEVICES_READY;
		fdt_for_each_subnode(node, blob, 0)
			m->ndevices++;
	} else {
		m->type = MSG_UNKNOWN;
	}
	return 0;
}

void initchan_parser_init(struct initchan_parser *p)
{
	p->len = 0;
	p->error = 0;
}

/* The header just completed: is the size it declares acceptable? */
static int check_header(const struct initchan_parser *p, char *err, size_t errlen)
{
	uint32_t total = fdt_totalsize(p->buf);

	if (fdt_magic(p->buf) != FDT_MAGIC)
		return bad(err, errlen, "bad magic 0x%08x", fdt_magic(p->buf));
	if (total <= sizeof(struct fdt_header) || total > INITCHAN_MAX_MSG) {
		snprintf(err, errlen, "message of %u bytes (limit %d)", total, INITCHAN_MAX_MSG);
		return -EMSGSIZE;
	}
	return 0;
}

int initchan_feed(struct initchan_parser *p, const uint8_t *data, size_t len,
		  void (*cb)(void *ctx, const struct initchan_msg *m), void *ctx, char *err, size_t errlen)
{
	const size_t hdr = sizeof(struct fdt_header);

	if (p->error) {
		snprintf(err, errlen, "stream already closed for a malformed message");
		return p->error;
	}
	while (len) {
		/* First the header, then as much as the (checked) header says. */
		size_t need = p->len < hdr ? hdr : fdt_totalsize(p->buf);
		size_t take;
		int r;

		/* The invariant above; a bug, not a guest error, if it fails. */
		if (need > sizeof(p->buf) || need <= p->len) {
			snprintf(err, errlen, "parser state broken (len %zu, need %zu)", p->len, need);
			return p->error = -EBADMSG;
		}
		take = need - p->len < len ? need - p->len : len;
		memcpy(p->buf + p->len, data, take);
		p->len += take;
		data += take;
		len -= take;
		if (p->len == hdr && (r = check_header(p, err, errlen)))
			return p->error = r;
		if (p->len > hdr && p->len == fdt_totalsize(p->buf)) {
			struct initchan_msg m;

			r = initchan_decode(p->buf, p->len, &m, err, errlen);
			if (r)
				return p->error = r;
			p->len = 0;
			cb(ctx, &m);
		}
	}
	return 0;
}

long initchan_build_devices_ready(void *buf, size_t buflen, const struct initchan_device *d, unsigned n,
				  const char *exec)
{
	int r = fdt_create(buf, (int)buflen);

	r = r ? r : fdt_finish_reservemap(buf);
	r = r ? r : fdt_begin_node(buf, "");
	r = r ? r : fdt_property_string(buf, "message", INITCHAN_MSG_READY);
	r = r ? r : fdt_property_u32(buf, "device-count", n);
	if (!r && exec)
		r = fdt_property_string(buf, "exec", exec);
	for (unsigned i = 0; i < n && !r; i++) {
		char name[32];

		snprintf(name, sizeof(name), "device@%u", d[i].slot);
		r = fdt_begin_node(buf, name);
		r = r ? r : fdt_property_string(buf, "kind", d[i].kind);
		r = r ? r : fdt_property_u32(buf, "pci-slot", d[i].slot);
		if (!r && d[i].tag)
			r = fdt_property_string(buf, "tag", d[i].tag);
		if (!r && d[i].mount)
			r = fdt_property_string(buf, "mount", d[i].mount);
		if (!r && d[i].read_only)
			r = fdt_property(buf, "read-only", NULL, 0);
		if (!r && d[i].mac)
			r = fdt_property_string(buf, "mac", d[i].mac);
		if (!r && d[i].net_config)
			r = fdt_property_string(buf, "net-config", d[i].net_config);
		if (!r && d[i].ipv4_address)
			r = fdt_property_string(buf, "ipv4-address", d[i].ipv4_address);
		if (!r && d[i].ipv4_gateway)
			r = fdt_property_string(buf, "ipv4-gateway", d[i].ipv4_gateway);
		if (!r && d[i].aperture_size) {
			r = fdt_property_u64(buf, "aperture-base", d[i].aperture_base);
			r = r ? r : fdt_property_u64(buf, "aperture-size", d[i].aperture_size);
		}
		r = r ? r : fdt_end_node(buf);
	}
	r = r ? r : fdt_end_node(buf);
	r = r ? r : fdt_finish(buf);
	if (r)
		return -E2BIG;
	return (long)fdt_totalsize(buf);
}

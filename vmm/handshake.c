/* SPDX-License-Identifier: MIT */
#include "vmm/handshake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "vmm/events.h"
#include "lib/log.h"

static void on_msg(void *ctx, const struct initchan_msg *m);

static void *hs_accept(void *ctx, struct vsock_conn *c, uint32_t guest_port)
{
	struct handshake *hs = ctx;
	struct hs_conn *hc = NULL;

	if (guest_port >= INITCHAN_PRIVILEGED_PORTS) {
		/* Only root in the guest may speak for the guest: refused with RST. */
		__atomic_fetch_add(&hs->refused, 1, __ATOMIC_RELAXED);
		log_guest("init channel: connection from unprivileged guest port %u refused", guest_port);
		events_guest("init-channel-refused", "\"guest_port\":%u,\"reason\":\"unprivileged-port\"", guest_port);
		return NULL;
	}
	pthread_mutex_lock(&hs->lock);
	for (unsigned i = 0; i < HANDSHAKE_MAX_CONNS && !hc; i++)
		if (!hs->conns[i].conn)
			hc = &hs->conns[i];
	if (hc) {
		hc->hs = hs;
		hc->conn = c;
		initchan_parser_init(&hc->parser);
	}
	pthread_mutex_unlock(&hs->lock);
	if (hc) {
		events_guest("init-channel-connected", "\"guest_port\":%u", guest_port);
	} else {
		__atomic_fetch_add(&hs->refused, 1, __ATOMIC_RELAXED);
		log_guest("init channel: more than %d connections, refusing one", HANDSHAKE_MAX_CONNS);
		events_guest("init-channel-refused", "\"guest_port\":%u,\"reason\":\"too-many-connections\"",
			     guest_port);
	}
	return hc;
}

static void hs_recv(void *conn_ctx, const uint8_t *buf, size_t len)
{
	struct hs_conn *hc = conn_ctx;
	struct handshake *hs = hc->hs;
	char err[256];
	int r;

	pthread_mutex_lock(&hs->lock);
	/* After a malformed message the stream is dead for input (the parser's error is sticky). */
	if (hc->conn && !hc->parser.error) {
		hs->reply_to = hc->conn; /* messages are handled with their sender in reach */
		r = initchan_feed(&hc->parser, buf, len, on_msg, hs, err, sizeof(err));
		if (r) {
			hs->malformed++;
			log_guest("init channel: malformed message (%s): closing the connection", err);
			events_guest("init-channel-malformed", NULL);
			vsock_close(hc->conn);
		}
	}
	pthread_mutex_unlock(&hs->lock);
}

static void hs_closed(void *conn_ctx)
{
	struct hs_conn *hc = conn_ctx;
	struct handshake *hs = hc->hs;

	pthread_mutex_lock(&hs->lock);
	if (hs->reply_to == hc->conn)
		hs->reply_to = NULL;
	hc->conn = NULL;
	pthread_mutex_unlock(&hs->lock);
}

static const struct vsock_listener_ops hs_ops = {
	.accept = hs_accept,
	.recv = hs_recv,
	.closed = hs_closed,
};

static void send_devices_ready(struct handshake *hs, const struct initchan_device *d, unsigned n)
{
	static uint8_t buf[INITCHAN_MAX_MSG];
	long len = initchan_build_devices_ready(buf, sizeof(buf), d, n, hs->cfg->exec);
	int r = -ENOTCONN;

	/* Called from on_msg() with hs->lock held, so reply_to is alive. */
	if (hs->reply_to && len > 0)
		r = vsock_send(hs->reply_to, buf, (size_t)len);
	if (r)
		log_errno(r, "init channel: sending devices-ready");
	else
		events_emit("devices-ready-sent", "\"devices\":%u", n);
}

enum hs_outcome handshake_decide(const struct vmm_config *cfg, const struct aperture_limits *l, uint64_t base,
				 uint64_t size, struct aperture *ap, unsigned nap, char *why, size_t whylen)
{
	enum aperture_kind kinds[CLI_MAX_SHARES + 2];
	unsigned n = cli_aperture_kinds(cfg, kinds, sizeof(kinds) / sizeof(kinds[0]));
	int r;

	memset(ap, 0, nap * sizeof(*ap));
	why[0] = '\0';
	if (cfg->dma == DMA_DIRECT)
		return HS_DIRECT;
	if (n > nap)
		n = nap;
	r = aperture_pool_check(l, base, size, aperture_pool_need(cfg->dma, kinds, n), why, whylen);
	if (!r)
		r = aperture_plan(cfg->dma, base, size, kinds, n, ap, why, whylen);
	if (!r)
		return HS_APERTURES;
	return cfg->require_aperture ? HS_REFUSED : HS_FALLBACK;
}

static void programmed(struct handshake *hs, enum hs_outcome o, const char *dev, unsigned slot,
		       const struct aperture *a)
{
	if (o == HS_APERTURES)
		events_emit("aperture-programmed",
			    "\"device\":\"%s\",\"slot\":%u,\"mode\":\"%s\",\"base\":\"0x%llx\",\"size\":%llu", dev, slot,
			    dma_mode_name(hs->cfg->dma), (unsigned long long)a->base, (unsigned long long)a->size);
}

int handshake_may_split(const struct gm_view *const *views, unsigned n, uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < n; i++) {
		const struct gm_view *v = views[i];

		if (!(v->base == base && v->size == size) && ranges_overlap(v->base, v->size, base, size))
			return -EBUSY;
	}
	return 0;
}

/*
 * A device's view: its aperture (marked shared with --dma shared, where every
 * device gets the whole pool, so that the guest shares one bounce pool rather
 * than refusing a duplicate), or all of RAM.
 */
static struct gm_view device_view(const struct handshake *hs, enum hs_outcome o, const struct aperture *a)
{
	const struct gm_view *views[DEVMGR_MAX_DEVICES];
	struct gm_view v;
	int err;

	if (o != HS_APERTURES)
		return gm_view_all(&hs->vm->mem);
	/*
	 * Before the device exists (nothing uses the range yet: gm_split()):
	 * the aperture gets a memfd of its own, all a back end is handed.
	 * Enforced, not assumed: a range some device already has in its view
	 * is not moved (unless it is that same, already split, aperture).
	 */
	for (unsigned i = 0; i < hs->dm->ndev; i++)
		views[i] = &hs->dm->dev[i]->vd->view;
	err = handshake_may_split(views, hs->dm->ndev, a->base, a->size);
	if (!err)
		err = gm_split(&hs->vm->mem, a->base, a->size);
	if (err)
		log_errno(err, "aperture 0x%llx+0x%llx: no file of its own (back ends get the RAM file)",
			  (unsigned long long)a->base, (unsigned long long)a->size);
	v = gm_view_aperture(&hs->vm->mem, a->base, a->size);
	v.shared = hs->cfg->dma == DMA_SHARED;
	return v;
}

static void ipv4_str(char *buf, size_t len, uint32_t a, unsigned prefix)
{
	if (prefix)
		snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, prefix & 63);
	else
		snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* The NIC, last of the devices (cli_aperture_kinds() order): its aperture is `a`. */
static void add_net(struct handshake *hs, enum hs_outcome o, const struct aperture *a, struct initchan_device *d,
		    unsigned *n)
{
	const struct netcfg_nic *nic = hs->nic;
	struct gm_view view;
	int slot;

	if (!nic || !nic->be)
		return;
	view = device_view(hs, o, a);
	slot = devmgr_add_net(hs->dm, &view, nic->be, nic->mac);
	if (slot < 0) {
		log_errno(slot, "cannot add virtio-net");
		return;
	}
	snprintf(hs->net_mac, sizeof(hs->net_mac), "%02x:%02x:%02x:%02x:%02x:%02x", nic->mac[0], nic->mac[1],
		 nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5]);
	d[*n] = (struct initchan_device){ .kind = "virtio-net", .slot = (unsigned)slot, .mac = hs->net_mac,
					  .net_config = nic->dhcp ? "dhcp" : nic->addr ? "static" : "none",
					  .aperture_base = a->base, .aperture_size = a->size };
	if (!nic->dhcp && nic->addr) {
		ipv4_str(hs->net_addr, sizeof(hs->net_addr), nic->addr, nic->prefix);
		d[*n].ipv4_address = hs->net_addr;
		if (nic->gw) {
			ipv4_str(hs->net_gw, sizeof(hs->net_gw), nic->gw, 0);
			d[*n].ipv4_gateway = hs->net_gw;
		}
	}
	(*n)++;
	programmed(hs, o, "virtio-net", (unsigned)slot, a);
}

static void on_caps(struct handshake *hs, const struct initchan_msg *m)
{
	struct initchan_device devs[CLI_MAX_SHARES + 2];
	struct aperture ap[CLI_MAX_SHARES + 2];
	char rel[8 * INITCHAN_STR], esc[4 * INITCHAN_STR], why[256];
	const char *reason = m->swiotlb_base || m->swiotlb_size ? "pool-refused" : "no-pool";
	enum hs_outcome o;
	struct gm_view view;
	unsigned n = 0;
	int slot;

	events_json_string(rel, sizeof(rel), m->kernel_release);
	events_guest("guest-capabilities", "\"swiotlb_base\":\"0x%llx\",\"swiotlb_size\":%llu,\"kernel_release\":%s",
		    (unsigned long long)m->swiotlb_base, (unsigned long long)m->swiotlb_size, rel);
	if (hs->caps_seen) {
		log_guest("init channel: second guest-capabilities ignored");
		return;
	}
	hs->caps_seen = true;
	o = handshake_decide(hs->cfg, &hs->limits, m->swiotlb_base, m->swiotlb_size, ap,
			     sizeof(ap) / sizeof(ap[0]), why, sizeof(why));
	switch (o) {
	case HS_APERTURES:
	case HS_DIRECT:
		break;
	case HS_FALLBACK:
		/* The one warning (as the WSL change gives): devices work, unconfined. */
		log_msg("warning: guest kernel %s: %s; devices get no DMA aperture (boot a kernel with the "
			"Aperture patches, guest/linux/, or pass --require-aperture to refuse)",
			m->kernel_release[0] ? log_escape(esc, sizeof(esc), m->kernel_release) : "(unknown)", why);
		events_emit("aperture-fallback", "\"reason\":\"%s\"", reason);
		break;
	case HS_REFUSED:
		log_msg("--require-aperture: %s; adding no devices", why);
		events_emit("aperture-refused", "\"reason\":\"%s\"", reason);
		send_devices_ready(hs, devs, 0);
		return;
	}
	/* The devices that waited for the handshake, in cli_aperture_kinds() order. */
	view = device_view(hs, o, &ap[0]);
	slot = devmgr_add_rng(hs->dm, &view);
	if (slot >= 0) {
		devs[n++] = (struct initchan_device){ .kind = "virtio-rng", .slot = (unsigned)slot,
						      .aperture_base = ap[0].base, .aperture_size = ap[0].size };
		programmed(hs, o, "virtio-rng", (unsigned)slot, &ap[0]);
	} else {
		log_errno(slot, "cannot add virtio-rng");
	}
	for (unsigned i = 0; i < hs->cfg->nshares; i++) {
		const struct cli_share *sh = &hs->cfg->share[i];
		const struct aperture *a = &ap[1 + i];

		view = device_view(hs, o, a);
		if (sh->external)
			slot = devmgr_add_fs_external(hs->dm, &view, sh->tag, sh->path);
		else
			slot = devmgr_add_fs(hs->dm, &view, sh->tag, sh->path,
					     hs->cfg->cpus < VIRTIO_FS_MAX_REQ_QUEUES ? hs->cfg->cpus
										: VIRTIO_FS_MAX_REQ_QUEUES,
					     &sh->opt);
		if (slot < 0) {
			log_errno(slot, "%s %s: cannot add virtio-fs", sh->external ? "--vhost-user-fs" : "--share",
				  sh->path);
			continue;
		}
		snprintf(hs->mounts[i], sizeof(hs->mounts[i]), "/mnt/%s", sh->tag);
		devs[n++] = (struct initchan_device){ .kind = "virtio-fs", .slot = (unsigned)slot, .tag = sh->tag,
						      .mount = hs->mounts[i], .read_only = !sh->external && sh->opt.ro,
						      .aperture_base = a->base, .aperture_size = a->size };
		programmed(hs, o, "virtio-fs", (unsigned)slot, a);
	}
	add_net(hs, o, &ap[1 + hs->cfg->nshares], devs, &n);
	send_devices_ready(hs, devs, n);
}

static void on_msg(void *ctx, const struct initchan_msg *m)
{
	struct handshake *hs = ctx;
	char mark[2 * INITCHAN_STR];

	switch (m->type) {
	case MSG_GUEST_CAPABILITIES:
		on_caps(hs, m);
		break;
	case MSG_BOOT_MARK:
		events_json_string(mark, sizeof(mark), m->mark);
		events_guest("guest-boot-mark", "\"mark\":%s", mark);
		break;
	case MSG_EXIT_STATUS:
		vm_set_guest_status(hs->vm, (int)m->status);
		events_guest("guest-exit-status", "\"status\":%u,\"via\":\"vsock\"", m->status);
		break;
	case MSG_DEVICES_READY:
	case MSG_UNKNOWN:
	default:
		log_debug("init channel: ignoring message '%s'", m->name);
		break;
	}
}

int handshake_init(struct handshake *hs, struct devmgr *dm, struct vm *vm, const struct vmm_config *cfg)
{
	pthread_mutexattr_t a;

	memset(hs, 0, sizeof(*hs));
	hs->dm = dm;
	hs->vm = vm;
	hs->cfg = cfg;
	hs->limits.ram_low_end = gm_low_end(&vm->mem);
	/* Zero page, GDT, page tables, command line and MP table (firmware/layout.h). */
	hs->limits.owned[0].base = 0;
	hs->limits.owned[0].size = SZ_1M;
	hs->limits.owned[0].what = "firmware area";
	hs->limits.nowned = 1;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&hs->lock, &a);
	pthread_mutexattr_destroy(&a);
	return vsock_listen(&dm->vsock, INITCHAN_PORT, &hs_ops, hs);
}

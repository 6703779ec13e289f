/* SPDX-License-Identifier: MIT */
#include "vmm/handshake.h"

#include <errno.h>
#include <string.h>
#include "vmm/events.h"
#include "vmm/log.h"

static void on_msg(void *ctx, const struct initchan_msg *m);

static void *hs_accept(void *ctx, struct vsock_conn *c, uint32_t guest_port)
{
	struct handshake *hs = ctx;
	struct hs_conn *hc = NULL;

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
	if (hc)
		events_emit("init-channel-connected", "\"guest_port\":%u", guest_port);
	else
		log_msg("init channel: more than %d connections, refusing one", HANDSHAKE_MAX_CONNS);
	return hc;
}

static void hs_recv(void *conn_ctx, const uint8_t *buf, size_t len)
{
	struct hs_conn *hc = conn_ctx;
	struct handshake *hs = hc->hs;
	char err[256];
	int r;

	pthread_mutex_lock(&hs->lock);
	if (hc->conn) {
		hs->reply_to = hc->conn; /* messages are handled with their sender in reach */
		r = initchan_feed(&hc->parser, buf, len, on_msg, hs, err, sizeof(err));
		if (r) {
			hs->malformed++;
			log_msg("init channel: malformed message (%s): closing the connection", err);
			events_emit("init-channel-malformed", NULL);
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
	long len = initchan_build_devices_ready(buf, sizeof(buf), d, n);
	int r = -ENOTCONN;

	/* Called from on_msg() with hs->lock held, so reply_to is alive. */
	if (hs->reply_to && len > 0)
		r = vsock_send(hs->reply_to, buf, (size_t)len);
	if (r)
		log_errno(r, "init channel: sending devices-ready");
	else
		events_emit("devices-ready-sent", "\"devices\":%u", n);
}

static void on_caps(struct handshake *hs, const struct initchan_msg *m)
{
	struct initchan_device devs[4];
	char rel[2 * INITCHAN_STR];
	unsigned n = 0;

	events_json_string(rel, sizeof(rel), m->kernel_release);
	events_emit("guest-capabilities", "\"swiotlb_base\":\"0x%llx\",\"swiotlb_size\":%llu,\"kernel_release\":%s",
		    (unsigned long long)m->swiotlb_base, (unsigned long long)m->swiotlb_size, rel);
	if (hs->caps_seen) {
		log_msg("init channel: second guest-capabilities ignored");
		return;
	}
	hs->caps_seen = true;
	/* The devices that waited for the handshake. */
	if (devmgr_add_rng(hs->dm) == 0)
		devs[n++] = (struct initchan_device){ .kind = "virtio-rng", .slot = hs->dm->rng.vdev.pci.slot };
	else
		log_msg("cannot add virtio-rng");
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
		events_emit("guest-boot-mark", "\"mark\":%s", mark);
		break;
	case MSG_EXIT_STATUS:
		vm_set_guest_status(hs->vm, (int)m->status);
		events_emit("guest-exit-status", "\"status\":%u,\"via\":\"vsock\"", m->status);
		break;
	case MSG_DEVICES_READY:
	case MSG_UNKNOWN:
	default:
		log_debug("init channel: ignoring message '%s'", m->name);
		break;
	}
}

int handshake_init(struct handshake *hs, struct devmgr *dm, struct vm *vm)
{
	pthread_mutexattr_t a;

	memset(hs, 0, sizeof(*hs));
	hs->dm = dm;
	hs->vm = vm;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&hs->lock, &a);
	pthread_mutexattr_destroy(&a);
	return vsock_listen(&dm->vsock, INITCHAN_PORT, &hs_ops, hs);
}

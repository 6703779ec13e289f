/* SPDX-License-Identifier: MIT */
#include "tests/fuzz/vsockdrv.h"

#include <dirent.h>
#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Guest-physical layout inside the aperture. */
#define RX_RING (VDRV_AP_BASE + 0x0000)
#define TX_RING (VDRV_AP_BASE + 0x1000)
#define EV_RING (VDRV_AP_BASE + 0x2000)
#define RX_BUF (VDRV_AP_BASE + 0x10000)               /* VDRV_QS x VDRV_RXSZ */
#define EV_BUF (VDRV_AP_BASE + 0x20000)               /* VDRV_QS x 16 */
#define TX_BUF (VDRV_AP_BASE + 0x30000)               /* VDRV_QS x TX_SLOT */
#define TX_SLOT 0x11000ULL

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VDRV_TSAN 1
#endif
#endif

#ifdef VDRV_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
void guest_access_begin(void)
{
	__tsan_ignore_thread_begin();
}
void guest_access_end(void)
{
	__tsan_ignore_thread_end();
}
#else
void guest_access_begin(void)
{
}
void guest_access_end(void)
{
}
#endif

void vdrv_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void vdrv_mem_init(struct vdrv *d)
{
	memset(d, 0, sizeof(*d));
	h_init(&d->h, VDRV_MEM);
	d->view = gm_view_aperture(&d->h.fm.mem, VDRV_AP_BASE, VDRV_AP_SIZE);
	/* RAM outside the aperture: no access at all (a device touching it dies). */
	if (mprotect(fake_host(&d->h.fm, 0, VDRV_AP_BASE), VDRV_AP_BASE, PROT_NONE) ||
	    mprotect(fake_host(&d->h.fm, VDRV_AP_BASE + VDRV_AP_SIZE, VDRV_MEM - VDRV_AP_BASE - VDRV_AP_SIZE),
		     VDRV_MEM - VDRV_AP_BASE - VDRV_AP_SIZE, PROT_NONE))
		vdrv_fail(__FILE__, __LINE__, "mprotect", "cannot guard RAM outside the aperture");
}

void vdrv_new_bus(struct harness *h)
{
	memset(&h->pio, 0, sizeof(h->pio));
	memset(&h->mmio, 0, sizeof(h->mmio));
	pthread_mutex_destroy(&h->pci.lock);
	pci_bus_init(&h->pci, h->fm.mem.size);
	if (pci_bus_attach(&h->pci, &h->pio, &h->mmio, NULL, NULL))
		vdrv_fail(__FILE__, __LINE__, "pci_bus_attach", "harness bus");
	memset(h->msi, 0, sizeof(h->msi));
}

void vdrv_dev_init(struct vdrv *d, struct virtio_vsock *v, bool sync)
{
	struct harness *h = &d->h;

	vdrv_new_bus(h);
	d->v = v;
	d->sync = sync;
	if (virtio_vsock_init(v, &h->plat, &d->view, VDRV_CID))
		vdrv_fail(__FILE__, __LINE__, "virtio_vsock_init", "cannot create the device");
	h_plug(h, &v->vdev);
	VDRV_CHECK(vdrv_start(d), "FEATURES_OK refused for the aperture features");
}

bool vdrv_start(struct vdrv *d)
{
	struct harness *h = &d->h;
	bool ok = h_negotiate(h, VIRTIO_APERTURE_FEATURES);

	guest_access_begin();
	fake_ring_layout(&d->rx, &h->fm, VDRV_QS, RX_RING);
	fake_ring_layout(&d->tx, &h->fm, VDRV_QS, TX_RING);
	fake_ring_layout(&d->ev, &h->fm, VDRV_QS, EV_RING);
	guest_access_end();
	h_queue_setup(h, 0, &d->rx, 0);
	h_queue_setup(h, 1, &d->tx, 1);
	h_queue_setup(h, 2, &d->ev, 2);
	d->rx_next = d->tx_next = d->ev_next = 0;
	memset(d->rx_posted, 0, sizeof(d->rx_posted));
	if (!d->sync)
		h_driver_ok(h);
	return ok;
}

void vdrv_dev_destroy(struct vdrv *d)
{
	if (d->v)
		virtio_vsock_destroy(d->v);
	d->v = NULL;
}

bool vdrv_failed(struct vdrv *d)
{
	bool f;

	pthread_mutex_lock(&d->v->vdev.lock);
	f = d->v->vdev.failed;
	pthread_mutex_unlock(&d->v->vdev.lock);
	return f;
}

void vdrv_notify(struct vdrv *d, unsigned q)
{
	struct virtio_dev *vd = &d->v->vdev;
	bool go;

	if (q >= vd->ops->nqueues)
		return;
	if (!d->sync) {
		/* Q_NOFF is the queue index in this transport: no queue_select needed. */
		h_bar_write(&d->h, d->h.notify_off + (uint64_t)q * d->h.notify_mult, 2, q);
		return;
	}
	/* What the transport's worker does on a kick. */
	pthread_mutex_lock(&vd->lock);
	go = !vd->failed && vd->q[q].enabled;
	pthread_mutex_unlock(&vd->lock);
	if (go && vd->ops->queue_notify(vd, q) < 0)
		virtio_dev_fail(vd, "queue %u: request rejected", q);
}

void vdrv_tx(struct vdrv *d, const void *pkt, size_t n, unsigned flags, uint64_t wild)
{
	const uint8_t *p = pkt;
	struct fake_seg s[8];
	unsigned nseg = 0, splits = flags & 7;
	uint16_t first = d->tx_next;
	uint64_t buf = TX_BUF + (uint64_t)first * TX_SLOT;
	uint32_t off = 0;

	if (n > VDRV_TXMAX)
		n = VDRV_TXMAX;
	guest_access_begin();
	fake_write(&d->h.fm, buf, p, n);
	/* The first bytes in 1..16-byte pieces, then the rest in one segment. */
	while (nseg < splits && off + 1 < n) {
		uint32_t l = 1 + (uint32_t)(p[nseg] % 16);

		if (off + l >= n)
			break;
		s[nseg++] = (struct fake_seg){ buf + off, l, false };
		off += l;
	}
	if (off < n || nseg == 0)
		s[nseg++] = (struct fake_seg){ buf + off, (uint32_t)(n > off ? n - off : 1), false };
	if (flags & VDRV_TX_WRITABLE)
		s[nseg - 1].write = true;
	if (flags & VDRV_TX_WILD)
		s[nseg - 1].gpa = wild;
	fake_avail_push(&d->tx, fake_chain(&d->tx, first, s, nseg));
	guest_access_end();
	d->tx_next = (uint16_t)((first + nseg) % VDRV_QS);
	d->tx_packets++;
	if (!(flags & VDRV_TX_NONOTIFY))
		vdrv_notify(d, 1);
}

void vdrv_tx_pkt(struct vdrv *d, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags,
		 uint32_t buf_alloc, uint32_t fwd_cnt, const void *payload, uint32_t len)
{
	static uint8_t pkt[VDRV_TXMAX];
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(VDRV_CID), .dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(src_port), .dst_port = htole32(dst_port),
		.len = htole32(len), .type = htole16(VIRTIO_VSOCK_TYPE_STREAM), .op = htole16(op),
		.flags = htole32(flags), .buf_alloc = htole32(buf_alloc), .fwd_cnt = htole32(fwd_cnt),
	};

	if (len > VDRV_TXMAX - sizeof(h))
		len = VDRV_TXMAX - sizeof(h);
	memcpy(pkt, &h, sizeof(h));
	if (len)
		memcpy(pkt + sizeof(h), payload, len);
	vdrv_tx(d, pkt, sizeof(h) + len, 0, 0);
}

void vdrv_post_rx(struct vdrv *d, unsigned count, uint32_t size)
{
	if (size > VDRV_RXSZ)
		size = VDRV_RXSZ;
	if (size == 0)
		size = 1;
	guest_access_begin();
	for (unsigned i = 0; i < count; i++) {
		uint16_t id = d->rx_next;

		d->rx_next = (uint16_t)((id + 1) % VDRV_QS);
		/* A descriptor still held by the device may be posted again (a
		 * lying driver): count the posts, check against the largest. */
		if (!d->rx_posted[id] || size > d->rx_size[id])
			d->rx_size[id] = size;
		d->rx_posted[id]++;
		fake_avail_push(&d->rx, fake_chain(&d->rx, id, (struct fake_seg[]){
			{ RX_BUF + (uint64_t)id * VDRV_RXSZ, size, true } }, 1));
	}
	guest_access_end();
	vdrv_notify(d, 0);
}

void vdrv_post_event(struct vdrv *d, bool writable, uint32_t size)
{
	uint16_t id = d->ev_next;

	d->ev_next = (uint16_t)((id + 1) % VDRV_QS);
	guest_access_begin();
	fake_avail_push(&d->ev, fake_chain(&d->ev, id, (struct fake_seg[]){
		{ EV_BUF + (uint64_t)id * 16, size > 16 ? 16 : size ? size : 1, writable } }, 1));
	guest_access_end();
	vdrv_notify(d, 2);
}

bool vdrv_rx_next(struct vdrv *d, struct virtio_vsock_hdr *hdr, uint8_t *payload, size_t cap)
{
	uint32_t id, len, plen;
	uint16_t op, type;
	bool got;

	guest_access_begin();
	got = fake_used_next(&d->rx, &id, &len);
	if (got) {
		VDRV_CHECK(id < VDRV_QS && d->rx_posted[id], "rx used id %u was not posted", id);
		VDRV_CHECK(len >= VSOCK_HDR_SIZE && len <= d->rx_size[id], "rx used len %u, buffer %u bytes", len,
			   d->rx_size[id]);
		d->rx_posted[id]--;
		fake_read(&d->h.fm, RX_BUF + (uint64_t)id * VDRV_RXSZ, hdr, sizeof(*hdr));
		plen = len - VSOCK_HDR_SIZE;
		if (payload && cap)
			fake_read(&d->h.fm, RX_BUF + (uint64_t)id * VDRV_RXSZ + VSOCK_HDR_SIZE, payload,
				  plen < cap ? plen : cap);
	}
	guest_access_end();
	if (!got)
		return false;
	op = le16toh(hdr->op);
	type = le16toh(hdr->type);
	VDRV_CHECK(le32toh(hdr->len) == plen, "rx header len %u, payload %u", le32toh(hdr->len), plen);
	VDRV_CHECK(le64toh(hdr->src_cid) == VSOCK_HOST_CID && le64toh(hdr->dst_cid) == VDRV_CID,
		   "rx CIDs %llu -> %llu", (unsigned long long)le64toh(hdr->src_cid),
		   (unsigned long long)le64toh(hdr->dst_cid));
	VDRV_CHECK(op >= VIRTIO_VSOCK_OP_REQUEST && op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST, "rx op %u", op);
	VDRV_CHECK(type == VIRTIO_VSOCK_TYPE_STREAM || op == VIRTIO_VSOCK_OP_RST, "rx type %u op %u", type, op);
	VDRV_CHECK(!plen || op == VIRTIO_VSOCK_OP_RW, "rx op %u with %u payload bytes", op, plen);
	d->rx_packets++;
	return true;
}

int vdrv_count_eventfds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir)
		abort();
	while ((e = readdir(dir))) {
		char path[64], target[64];
		ssize_t l;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = '\0';
		n += strcmp(target, "anon_inode:[eventfd]") == 0;
	}
	closedir(dir);
	return n;
}

int vdrv_threads_settle(int want)
{
	int n = vdrv_count_threads();

	/* pthread_join() returns before the kernel drops the task from /proc/self/task. */
	for (int i = 0; i < 1000 && n > want; i++) {
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		n = vdrv_count_threads();
	}
	return n;
}

int vdrv_count_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!dir)
		abort();
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

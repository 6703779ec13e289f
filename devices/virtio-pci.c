/* SPDX-License-Identifier: MIT */
#include "devices/virtio-pci.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "lib/log.h"

#define TRANSPORT_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

enum action { ACT_NONE, ACT_START, ACT_RESET };

/* ---- interrupts ---- */

static void msix_route_cb(void *ctx, unsigned vec, uint64_t addr, uint32_t data)
{
	struct virtio_dev *vd = ctx;

	if (vd->plat->msi_route)
		vd->plat->msi_route(vd->plat->ctx, vd, vec, addr, data);
}

static void msix_deliver_cb(void *ctx, unsigned vec)
{
	struct virtio_dev *vd = ctx;

	vd->plat->msi_deliver(vd->plat->ctx, vd, vec);
}

static const struct msix_ops virtio_msix_ops = { .route = msix_route_cb, .deliver = msix_deliver_cb };

void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q)
{
	uint16_t vec;

	if (q >= vd->ops->nqueues || !vq_needs_notify(&vd->q[q].vq))
		return;
	pthread_mutex_lock(&vd->lock);
	vd->isr |= 1;
	vec = vd->q[q].msix;
	pthread_mutex_unlock(&vd->lock);
	log_debug("%s: queue %u interrupt, vector %u", vd->ops->name, q, vec);
	if (vec != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vd->msix, vec);
}

void virtio_config_changed(struct virtio_dev *vd)
{
	uint16_t vec;

	pthread_mutex_lock(&vd->lock);
	vd->isr |= VIRTIO_PCI_ISR_CONFIG;
	vd->config_generation++;
	vec = vd->config_msix;
	pthread_mutex_unlock(&vd->lock);
	if (vec != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vd->msix, vec);
}

void virtio_dev_kick(struct virtio_dev *vd, unsigned q)
{
	uint64_t one = 1;

	if (q < vd->ops->nqueues && write(vd->q[q].kick_efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "%s: kick queue %u", vd->ops->name, q);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *fmt, ...)
{
	char msg[256];
	bool first;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&vd->lock);
	first = !vd->failed;
	vd->failed = true;
	vd->violations++;
	vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_unlock(&vd->lock);
	if (first) {
		log_msg("%s (slot %u): %s; device needs reset", vd->ops->name, vd->pci.slot, msg);
		virtio_config_changed(vd);
	}
}

/* ---- queues, on the worker thread ---- */

int virtio_pop(struct virtio_dev *vd, unsigned q, struct vq_chain *c)
{
	int r = vq_pop(&vd->q[q].vq, c);

	if (r < 0)
		virtio_dev_fail(vd, "queue %u: %s", q, vd->q[q].vq.why[0] ? vd->q[q].vq.why : strerror(-r));
	return r;
}

int virtio_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len)
{
	int r = vq_push(&vd->q[q].vq, head, len);

	if (r < 0)
		virtio_dev_fail(vd, "queue %u: used ring: %s", q, strerror(-r));
	return r;
}

static void *worker(void *arg)
{
	struct virtio_dev *vd = arg;
	struct pollfd p[VIRTIO_MAX_QUEUES + 1];
	unsigned n = vd->ops->nqueues;

	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = vd->q[i].kick_efd, .events = POLLIN };
	p[n] = (struct pollfd){ .fd = vd->stop_efd, .events = POLLIN };
	for (;;) {
		uint64_t v;

		if (poll(p, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "%s: poll", vd->ops->name);
			return NULL;
		}
		if (p[n].revents & POLLIN)
			return NULL;
		for (unsigned i = 0; i < n; i++) {
			bool go;

			if (!(p[i].revents & POLLIN) || read(vd->q[i].kick_efd, &v, sizeof(v)) != sizeof(v))
				continue;
			pthread_mutex_lock(&vd->lock);
			go = !vd->failed && vd->q[i].enabled && (vd->status & VIRTIO_CONFIG_S_DRIVER_OK);
			pthread_mutex_unlock(&vd->lock);
			log_debug("%s: queue %u kicked%s", vd->ops->name, i, go ? "" : " (ignored: not ready)");
			if (!go)
				continue;
			/*
			 * Drain, then ask for the next kick (avail_event with
			 * EVENT_IDX) and drain again if buffers slipped in.
			 */
			do {
				if (vd->ops->queue_notify(vd, i) < 0) {
					virtio_dev_fail(vd, "queue %u: request rejected", i);
					break;
				}
			} while (!__atomic_load_n(&vd->failed, __ATOMIC_ACQUIRE) && vq_set_avail_event(&vd->q[i].vq));
		}
	}
}

static void worker_start(struct virtio_dev *vd)
{
	uint64_t v;

	if (vd->worker_running)
		return;
	if (vd->ops->start) {
		vd->ops->start(vd);
		vd->worker_running = true;
		return;
	}
	while (read(vd->stop_efd, &v, sizeof(v)) == sizeof(v))
		;
	if (pthread_create(&vd->worker, NULL, worker, vd) == 0)
		vd->worker_running = true;
	else
		log_msg("%s: cannot start its worker thread", vd->ops->name);
}

static void worker_stop(struct virtio_dev *vd)
{
	uint64_t one = 1;

	if (!vd->worker_running)
		return;
	if (vd->ops->stop) {
		vd->ops->stop(vd);
		vd->worker_running = false;
		return;
	}
	if (write(vd->stop_efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "%s: stop worker", vd->ops->name);
	pthread_join(vd->worker, NULL);
	vd->worker_running = false;
}

/* Device reset: worker stopped, called without vd->lock. */
static void do_reset(struct virtio_dev *vd)
{
	worker_stop(vd);
	if (vd->ops->quiesce)
		vd->ops->quiesce(vd);
	pthread_mutex_lock(&vd->lock);
	vd->status = 0;
	vd->isr = 0;
	vd->failed = false;
	vd->driver_features = 0;
	vd->dfselect = vd->gfselect = 0;
	vd->queue_select = 0;
	vd->config_msix = VIRTIO_MSI_NO_VECTOR;
	for (unsigned i = 0; i < vd->ops->nqueues; i++) {
		struct virtio_queue *q = &vd->q[i];
		uint64_t v;

		vq_reset(&q->vq);
		q->size = vd->ops->queue_size;
		q->msix = VIRTIO_MSI_NO_VECTOR;
		q->enabled = false;
		q->desc = q->avail = q->used = 0;
		while (read(q->kick_efd, &v, sizeof(v)) == sizeof(v))
			;
	}
	pthread_mutex_unlock(&vd->lock);
	if (vd->ops->reset)
		vd->ops->reset(vd);
}

/* ---- common configuration ---- */

static uint32_t common_read(struct virtio_dev *vd, unsigned off)
{
	struct virtio_queue *q = vd->queue_select < vd->ops->nqueues ? &vd->q[vd->queue_select] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return vd->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return vd->dfselect < 2 ? (uint32_t)(vd->host_features >> (32 * vd->dfselect)) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return vd->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return vd->gfselect < 2 ? (uint32_t)(vd->driver_features >> (32 * vd->gfselect)) : 0;
	case VIRTIO_PCI_COMMON_MSIX: return vd->config_msix;
	case VIRTIO_PCI_COMMON_NUMQ: return vd->ops->nqueues;
	case VIRTIO_PCI_COMMON_STATUS: return vd->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION: return vd->config_generation;
	case VIRTIO_PCI_COMMON_Q_SELECT: return vd->queue_select;
	case VIRTIO_PCI_COMMON_Q_SIZE: return q ? q->size : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX: return q ? q->msix : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q ? q->enabled : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF: return q ? vd->queue_select : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO: return q ? (uint32_t)q->desc : 0;
	case VIRTIO_PCI_COMMON_Q_DESCHI: return q ? (uint32_t)(q->desc >> 32) : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: return q ? (uint32_t)q->avail : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILHI: return q ? (uint32_t)(q->avail >> 32) : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO: return q ? (uint32_t)q->used : 0;
	case VIRTIO_PCI_COMMON_Q_USEDHI: return q ? (uint32_t)(q->used >> 32) : 0;
	default: return 0;
	}
}

static bool features_acceptable(struct virtio_dev *vd)
{
	return !(vd->driver_features & ~vd->host_features) && (vd->driver_features & (1ULL << VIRTIO_F_VERSION_1)) &&
	       (vd->driver_features & vd->required_features) == vd->required_features;
}

/* Caller holds vd->lock. Returns what to do after unlocking. */
static enum action set_status(struct virtio_dev *vd, uint8_t v)
{
	uint8_t old = vd->status;

	if (v == 0)
		return ACT_RESET;
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable(vd)) {
		uint64_t missing = vd->required_features & ~vd->driver_features;

		log_msg("%s (slot %u): refusing FEATURES_OK for driver features 0x%llx (offered 0x%llx%s)",
			vd->ops->name, vd->pci.slot, (unsigned long long)vd->driver_features,
			(unsigned long long)vd->host_features,
			(missing & (1ULL << VIRTIO_F_SWIOTLB)) ? "; the driver did not accept its DMA aperture (SWIOTLB)"
			: missing ? "; required features missing" : "");
		v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	/* NEEDS_RESET is the device's to set; keep it once set. */
	v = (uint8_t)((v & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET));
	vd->status = v;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (!(v & VIRTIO_CONFIG_S_FEATURES_OK))
			return ACT_NONE; /* a driver that skips FEATURES_OK gets no service */
		return ACT_START;
	}
	return ACT_NONE;
}

static void set_u64_half(uint64_t *v, bool hi, uint32_t x)
{
	*v = hi ? (*v & 0xFFFFFFFFULL) | (uint64_t)x << 32 : (*v & ~0xFFFFFFFFULL) | x;
}

/* Caller holds vd->lock. */
static enum action common_write(struct virtio_dev *vd, unsigned off, uint32_t v, char *err, size_t errlen)
{
	struct virtio_queue *q = vd->queue_select < vd->ops->nqueues ? &vd->q[vd->queue_select] : NULL;
	bool qlocked = !q || q->enabled || (vd->status & VIRTIO_CONFIG_S_DRIVER_OK);

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: vd->dfselect = v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: vd->gfselect = v; break;
	case VIRTIO_PCI_COMMON_GF:
		if (vd->gfselect < 2 && !(vd->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_u64_half(&vd->driver_features, vd->gfselect == 1, v);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		vd->config_msix = (uint16_t)v < vd->msix.nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_STATUS: return set_status(vd, (uint8_t)v);
	case VIRTIO_PCI_COMMON_Q_SELECT: vd->queue_select = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (!qlocked)
			q->size = (uint16_t)v; /* checked at enable */
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (q)
			q->msix = (uint16_t)v < vd->msix.nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (qlocked || v != 1)
			break;
		if (q->size > vd->ops->queue_size) {
			snprintf(err, errlen, "queue %u size %u above the maximum %u", vd->queue_select, q->size,
				 vd->ops->queue_size);
			break;
		}
		{
			bool event_idx = vd->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
			int r = vq_enable(&q->vq, &vd->view, q->size, q->desc, q->avail, q->used, event_idx);

			if (r)
				snprintf(err, errlen,
					 "queue %u rejected (size %u, desc 0x%llx, avail 0x%llx, used 0x%llx): %s",
					 vd->queue_select, q->size, (unsigned long long)q->desc,
					 (unsigned long long)q->avail, (unsigned long long)q->used, strerror(-r));
			else
				q->enabled = true;
		}
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		if (!qlocked)
			set_u64_half(&q->desc, off == VIRTIO_PCI_COMMON_Q_DESCHI, v);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		if (!qlocked)
			set_u64_half(&q->avail, off == VIRTIO_PCI_COMMON_Q_AVAILHI, v);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		if (!qlocked)
			set_u64_half(&q->used, off == VIRTIO_PCI_COMMON_Q_USEDHI, v);
		break;
	default:
		break; /* read-only fields */
	}
	return ACT_NONE;
}

/* Width each common-configuration field must be accessed with. */
static unsigned common_width(unsigned off)
{
	if (off < VIRTIO_PCI_COMMON_MSIX)
		return 4;
	if (off < VIRTIO_PCI_COMMON_STATUS)
		return 2;
	if (off < VIRTIO_PCI_COMMON_Q_SELECT)
		return 1;
	if (off < VIRTIO_PCI_COMMON_Q_DESCLO)
		return 2;
	return off < VIRTIO_PCI_COMMON_SIZE ? 4 : 0;
}

static void common_io(struct virtio_dev *vd, uint64_t off, uint8_t *data, unsigned size, bool is_write)
{
	enum action act = ACT_NONE;
	char err[200] = "";
	uint32_t v = 0;

	if (off >= VIRTIO_PCI_COMMON_SIZE || common_width((unsigned)off) != size) {
		/* Natural width only (virtio 1.2 §4.1.3.1); 64-bit fields are split in two. */
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	if (is_write) {
		memcpy(&v, data, size);
		act = common_write(vd, (unsigned)off, v, err, sizeof(err));
	} else {
		v = common_read(vd, (unsigned)off);
		memcpy(data, &v, size);
	}
	pthread_mutex_unlock(&vd->lock);
	if (err[0])
		virtio_dev_fail(vd, "%s", err);
	if (act == ACT_RESET)
		do_reset(vd);
	else if (act == ACT_START)
		worker_start(vd);
}

/* ---- BAR 0 ---- */

static void bar_io(struct pci_dev *d, unsigned bar, uint64_t off, uint8_t *data, unsigned size, bool is_write)
{
	struct virtio_dev *vd = d->opaque;

	if (bar != 0)
		goto unmapped;
	if (off < VIRTIO_PCI_ISR_OFF) {
		common_io(vd, off - VIRTIO_PCI_COMMON_OFF, data, size, is_write);
		return;
	}
	if (off < VIRTIO_PCI_DEVICE_OFF) {
		if (off != VIRTIO_PCI_ISR_OFF || size != 1 || is_write)
			goto unmapped;
		pthread_mutex_lock(&vd->lock);
		data[0] = vd->isr; /* reading ISR clears it */
		vd->isr = 0;
		pthread_mutex_unlock(&vd->lock);
		return;
	}
	if (off < VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t c = off - VIRTIO_PCI_DEVICE_OFF;

		if (c >= vd->ops->config_size || size > vd->ops->config_size - c)
			goto unmapped;
		if (!is_write)
			vd->ops->config_read(vd, (uint32_t)c, data, size);
		else if (vd->ops->config_write)
			vd->ops->config_write(vd, (uint32_t)c, data, size);
		return;
	}
	if (off < VIRTIO_PCI_MSIX_TABLE_OFF) {
		uint64_t qi = (off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;
		uint64_t one = 1;

		/* Reached only when no ioeventfd is bound (or the access was not 2 bytes). */
		if (!is_write || qi >= vd->ops->nqueues)
			goto unmapped;
		if (write(vd->q[qi].kick_efd, &one, sizeof(one)) != sizeof(one))
			log_errno(errno, "%s: queue kick", vd->ops->name);
		return;
	}
	if (off < VIRTIO_PCI_MSIX_PBA_OFF) {
		msix_table_io(&vd->msix, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, size, is_write);
		return;
	}
	msix_pba_io(&vd->msix, off - VIRTIO_PCI_MSIX_PBA_OFF, data, size, is_write);
	return;
unmapped:
	if (!is_write)
		memset(data, 0, size);
}

static void bar_moved(struct pci_dev *d, unsigned bar, uint64_t old, uint64_t addr)
{
	struct virtio_dev *vd = d->opaque;
	static const unsigned notify_len = 2;

	if (bar != 0 || !vd->plat->ioeventfd)
		return;
	for (unsigned i = 0; i < vd->ops->nqueues; i++) {
		uint64_t off = VIRTIO_PCI_NOTIFY_OFF + i * VIRTIO_PCI_NOTIFY_MULT;

		if (old)
			(void)vd->plat->ioeventfd(vd->plat->ctx, vd->q[i].kick_efd, old + off, notify_len, false);
		if (addr) {
			int r = vd->plat->ioeventfd(vd->plat->ctx, vd->q[i].kick_efd, addr + off, notify_len, true);

			if (r)
				log_debug("%s: no ioeventfd for queue %u (%s): notifications take MMIO exits",
					  vd->ops->name, i, strerror(-r));
		}
	}
}

static void cfg_written(struct pci_dev *d, unsigned offset, unsigned size)
{
	struct virtio_dev *vd = d->opaque;

	if (ranges_overlap(offset, size, vd->msix.cap, PCI_CAP_MSIX_SIZEOF))
		msix_cfg_written(&vd->msix);
}

static const struct pci_dev_ops virtio_pci_ops = {
	.bar_io = bar_io,
	.bar_moved = bar_moved,
	.cfg_written = cfg_written,
};

static int add_virtio_cap(struct pci_dev *d, uint8_t type, uint32_t off, uint32_t len, unsigned extra)
{
	int c = pci_add_cap(d, PCI_CAP_ID_VNDR, sizeof(struct virtio_pci_cap) + extra);

	if (c < 0)
		return c;
	d->cfg[c + VIRTIO_PCI_CAP_LEN] = (uint8_t)(sizeof(struct virtio_pci_cap) + extra);
	d->cfg[c + VIRTIO_PCI_CAP_CFG_TYPE] = type;
	d->cfg[c + VIRTIO_PCI_CAP_BAR] = 0;
	pci_set32(d, (unsigned)c + VIRTIO_PCI_CAP_OFFSET, off);
	pci_set32(d, (unsigned)c + VIRTIO_PCI_CAP_LENGTH, len);
	return c;
}

/* The aperture capability: a struct virtio_pci_cap64 of cfg_type VIRTIO_PCI_CAP_SWIOTLB. */
static int add_aperture_cap(struct pci_dev *d, uint64_t base, uint64_t size)
{
	int c = pci_add_cap(d, PCI_CAP_ID_VNDR, sizeof(struct virtio_pci_cap64));

	if (c < 0)
		return c;
	d->cfg[c + VIRTIO_PCI_CAP_LEN] = (uint8_t)sizeof(struct virtio_pci_cap64);
	d->cfg[c + VIRTIO_PCI_CAP_CFG_TYPE] = VIRTIO_PCI_CAP_SWIOTLB;
	d->cfg[c + VIRTIO_PCI_CAP_BAR] = 0;
	pci_set32(d, (unsigned)c + VIRTIO_PCI_CAP_OFFSET, (uint32_t)base);
	pci_set32(d, (unsigned)c + VIRTIO_PCI_CAP_LENGTH, (uint32_t)size);
	pci_set32(d, (unsigned)c + offsetof(struct virtio_pci_cap64, offset_hi), (uint32_t)(base >> 32));
	pci_set32(d, (unsigned)c + offsetof(struct virtio_pci_cap64, length_hi), (uint32_t)(size >> 32));
	return c;
}

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		    const struct gm_view *view, void *priv)
{
	unsigned nq = ops->nqueues;
	int c, err;

	if (nq == 0 || nq > VIRTIO_MAX_QUEUES || ops->config_size > 0x1000 || !ops->queue_notify ||
	    !ops->config_read || ops->queue_size == 0 || (ops->queue_size & (ops->queue_size - 1)) ||
	    !ops->start != !ops->stop)
		return -EINVAL;
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->plat = plat;
	vd->priv = priv;
	vd->view = *view;
	vd->view.stats = &vd->stats;
	vd->host_features = ops->features | TRANSPORT_FEATURES;
	if (view->aperture) {
		vd->host_features |= VIRTIO_APERTURE_FEATURES;
		vd->required_features = VIRTIO_APERTURE_FEATURES;
	}
	vd->config_msix = VIRTIO_MSI_NO_VECTOR;
	vd->stop_efd = -1;
	pthread_mutex_init(&vd->lock, NULL);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->q[i].kick_efd = -1;

	pci_dev_init(&vd->pci, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->type),
		     ops->pci_class << 8 | 0x01, VIRTIO_PCI_VENDOR, ops->type, &virtio_pci_ops, vd);
	err = pci_dev_set_bar(&vd->pci, 0, VIRTIO_PCI_BAR_SIZE);
	if (err)
		return err;
	if ((c = add_virtio_cap(&vd->pci, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_SIZE, 0)) < 0 ||
	    (c = add_virtio_cap(&vd->pci, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, 0)) < 0 ||
	    (ops->config_size &&
	     (c = add_virtio_cap(&vd->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, ops->config_size, 0)) < 0) ||
	    (c = add_virtio_cap(&vd->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				nq * VIRTIO_PCI_NOTIFY_MULT, 4)) < 0)
		return c;
	pci_set32(&vd->pci, (unsigned)c + sizeof(struct virtio_pci_cap), VIRTIO_PCI_NOTIFY_MULT);
	if (view->aperture) {
		c = add_aperture_cap(&vd->pci, view->base, view->size);
		if (c < 0)
			return c;
		vd->aperture_cap = c;
	}
	/* One vector per queue plus one for configuration changes. */
	err = msix_init(&vd->msix, &vd->pci, nq + 1, 0, VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF,
			&virtio_msix_ops, vd);
	if (err)
		return err;
	vd->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->stop_efd < 0)
		return -errno;
	for (unsigned i = 0; i < nq; i++) {
		vd->q[i].kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->q[i].kick_efd < 0)
			return -errno;
		vd->q[i].size = ops->queue_size;
		vd->q[i].msix = VIRTIO_MSI_NO_VECTOR;
	}
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	worker_stop(vd);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (vd->q[i].kick_efd >= 0)
			close(vd->q[i].kick_efd);
	if (vd->stop_efd >= 0)
		close(vd->stop_efd);
	vd->stop_efd = -1;
}

/* SPDX-License-Identifier: MIT */
/* The PCI transport: BAR 0 register emulation, capabilities, MSI-X (virtio-pci.h). */
#include "devices/virtio-pci.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "lib/log.h"

#define TRANSPORT_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

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

static void pci_queue_interrupt(struct virtio_dev *vd, unsigned q)
{
	uint16_t vec;

	pthread_mutex_lock(&vd->lock);
	vd->isr |= 1;
	vec = vd->q[q].msix;
	pthread_mutex_unlock(&vd->lock);
	log_debug("%s: queue %u interrupt, vector %u", vd->ops->name, q, vec);
	if (vec != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vd->msix, vec);
}

static void pci_config_interrupt(struct virtio_dev *vd)
{
	uint16_t vec;

	pthread_mutex_lock(&vd->lock);
	vd->isr |= VIRTIO_PCI_ISR_CONFIG;
	vec = vd->config_msix;
	pthread_mutex_unlock(&vd->lock);
	if (vec != VIRTIO_MSI_NO_VECTOR)
		msix_notify(&vd->msix, vec);
}

static const struct virtio_transport pci_transport = {
	.queue_interrupt = pci_queue_interrupt,
	.config_interrupt = pci_config_interrupt,
};

/* ---- common configuration ---- */

static uint32_t common_read(struct virtio_dev *vd, unsigned off)
{
	struct virtio_queue *q = vd->queue_select < vd->nqueues ? &vd->q[vd->queue_select] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return vd->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return vd->dfselect < 2 ? (uint32_t)(vd->host_features >> (32 * vd->dfselect)) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return vd->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return vd->gfselect < 2 ? (uint32_t)(vd->driver_features >> (32 * vd->gfselect)) : 0;
	case VIRTIO_PCI_COMMON_MSIX: return vd->config_msix;
	case VIRTIO_PCI_COMMON_NUMQ: return vd->nqueues;
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

static void set_u64_half(uint64_t *v, bool hi, uint32_t x)
{
	*v = hi ? (*v & 0xFFFFFFFFULL) | (uint64_t)x << 32 : (*v & ~0xFFFFFFFFULL) | x;
}

/* Caller holds vd->lock. */
static enum virtio_action common_write(struct virtio_dev *vd, unsigned off, uint32_t v, char *err, size_t errlen)
{
	struct virtio_queue *q = vd->queue_select < vd->nqueues ? &vd->q[vd->queue_select] : NULL;
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
	case VIRTIO_PCI_COMMON_STATUS: return virtio_status_write(vd, (uint8_t)v);
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
	return VIRTIO_ACT_NONE;
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
	enum virtio_action act = VIRTIO_ACT_NONE;
	char err[200] = "";
	uint32_t v = 0;

	if (off >= VIRTIO_PCI_COMMON_SIZE || common_width((unsigned)off) != size) {
		/* Natural width only (virtio 1.2 §4.1.3.1); 64-bit fields are split in two. */
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	if (!is_write) {
		pthread_mutex_lock(&vd->lock);
		v = common_read(vd, (unsigned)off);
		pthread_mutex_unlock(&vd->lock);
		memcpy(data, &v, size);
		return;
	}
	/* A write and the reset or worker start it causes are one step (ctl_lock). */
	virtio_ctl_lock(vd);
	pthread_mutex_lock(&vd->lock);
	memcpy(&v, data, size);
	act = common_write(vd, (unsigned)off, v, err, sizeof(err));
	pthread_mutex_unlock(&vd->lock);
	if (err[0])
		virtio_dev_fail(vd, "%s", err);
	virtio_run_action(vd, act);
	virtio_ctl_unlock(vd);
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
		if (!is_write || qi >= vd->nqueues)
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
	for (unsigned i = 0; i < vd->nqueues; i++) {
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

/*
 * The aperture capability (devices/virtio-pci.h): a struct virtio_pci_cap64 of
 * cfg_type VIRTIO_PCI_CAP_SWIOTLB whose bar says "guest memory".
 */
static int add_aperture_cap(struct pci_dev *d, uint64_t base, uint64_t size, bool shared)
{
	int c = pci_add_cap(d, PCI_CAP_ID_VNDR, sizeof(struct virtio_pci_cap64));

	if (c < 0)
		return c;
	d->cfg[c + VIRTIO_PCI_CAP_LEN] = (uint8_t)sizeof(struct virtio_pci_cap64);
	d->cfg[c + VIRTIO_PCI_CAP_CFG_TYPE] = VIRTIO_PCI_CAP_SWIOTLB;
	d->cfg[c + VIRTIO_PCI_CAP_BAR] = VIRTIO_PCI_APERTURE_BAR_MEMORY;
	d->cfg[c + VIRTIO_PCI_APERTURE_FLAGS] = shared ? VIRTIO_PCI_APERTURE_F_SHARED : 0;
	d->cfg[c + VIRTIO_PCI_APERTURE_FLAGS + 1] = 0;
	pci_set32(d, (unsigned)c + VIRTIO_PCI_CAP_OFFSET, (uint32_t)base);
	pci_set32(d, (unsigned)c + VIRTIO_PCI_CAP_LENGTH, (uint32_t)size);
	pci_set32(d, (unsigned)c + offsetof(struct virtio_pci_cap64, offset_hi), (uint32_t)(base >> 32));
	pci_set32(d, (unsigned)c + offsetof(struct virtio_pci_cap64, length_hi), (uint32_t)(size >> 32));
	return c;
}

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		    const struct gm_view *view, void *priv)
{
	return virtio_dev_init_n(vd, ops, plat, view, priv, ops->nqueues);
}

int virtio_dev_init_n(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		      const struct gm_view *view, void *priv, unsigned nq)
{
	int c, err;

	err = virtio_core_init(vd, ops, plat, view, priv, nq, TRANSPORT_FEATURES);
	if (err)
		return err;
	vd->transport = plat->transport ? plat->transport : &pci_transport;
	if (ops->config_size > VIRTIO_PCI_NOTIFY_OFF - VIRTIO_PCI_DEVICE_OFF)
		return -EINVAL;
	if (view->aperture) {
		vd->host_features |= VIRTIO_APERTURE_FEATURES;
		vd->required_features = VIRTIO_APERTURE_FEATURES;
	}
	vd->config_msix = VIRTIO_MSI_NO_VECTOR;
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
		c = add_aperture_cap(&vd->pci, view->base, view->size, view->shared);
		if (c < 0)
			return c;
		vd->aperture_cap = c;
	}
	/* One vector per queue plus one for configuration changes. */
	return msix_init(&vd->msix, &vd->pci, nq + 1, 0, VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF,
			 &virtio_msix_ops, vd);
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	virtio_core_destroy(vd);
}

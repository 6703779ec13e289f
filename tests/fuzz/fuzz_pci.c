/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-pci transport as a hostile driver drives it,
 * statefully: configuration space, BAR 0 registers, status writes (resets,
 * FEATURES_OK, DRIVER_OK in any order), queue setup, notifications, MSI-X
 * table and control writes, device configuration and ISR reads, buffers
 * posted on the queues, in whatever order the input says, on one device
 * per input (virtio-rng, virtio-vsock or virtio-fs on a scratch share).
 *
 * The device sits on the native harness with an aperture view [1 MiB,
 * 3 MiB) of 4 MiB RAM; RAM outside the aperture is PROT_NONE, so a device
 * touching it dies. Once DRIVER_OK is accepted the transport's worker
 * thread runs the queues, as in the monitor.
 *
 * Input: [device: 0 rng, 1 vsock, 2 fs] then records, an op byte (modulo
 * 13) and its arguments:
 *	0 CFG     [reg][size][write][u32 v]   configuration space of the slot
 *	1 BAR     [u16 off][size][write][u32 v] any BAR 0 register
 *	2 STATUS  [sel]     0, ACK, +DRIVER, +FEATURES_OK, +DRIVER_OK, DRIVER_OK
 *	                    alone, FAILED, or sel itself
 *	3 FEAT    [sel][u32 v] driver features half (sel & 1); sel bit 1: the
 *	                    device's own features instead of v
 *	4 QSETUP  [q][size][where][vec] select, size, ring addresses (a good
 *	                    layout in the aperture, or wild), vector, enable
 *	5 NOTIFY  [q]       write its notify address
 *	6 MSIX    [vec][word][u32 v] MSI-X table entry write
 *	7 MSIXCTL [bits]    MSI-X enable / function mask
 *	8 DEVCFG  [off][size] device configuration read
 *	9 ISR               read (and clear) ISR
 *	10 POST   [q][n][flags] a chain of n segments on q's ring (if laid
 *	                    out): readable/writable by flags, one may be wild
 *	11 NEGOTIATE        reset, features, every queue laid out, DRIVER_OK
 *	12 QREG   [q][reg][u32 v] one queue register, no enable
 * Invariants (abort = finding), checked after every record:
 *	- a status write of 0 completes the reset: status reads 0, no queue
 *	  is enabled; and status 0 means reset: no worker runs;
 *	- FEATURES_OK reads set only for acceptable driver features (a subset
 *	  of the device's, VERSION_1 and the aperture features included);
 *	- a worker runs only once DRIVER_OK was accepted with FEATURES_OK
 *	  since the last reset;
 *	- an enabled queue has a power-of-two size within the device's maximum
 *	  and all three rings inside the aperture;
 *	- MSI-X: a vector is routed only if it exists and raised only while
 *	  MSI-X is enabled and neither the function nor the vector is masked;
 *	- eventfds and threads: as many after the input as before.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "devices/virtio-fs.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"
#include "lib/log.h"
#include "tests/fuzz/vsockdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM VDRV_MEM
#define AP_BASE VDRV_AP_BASE
#define AP_SIZE VDRV_AP_SIZE
#define RING_AT(q) (AP_BASE + (uint64_t)(q) * 0x4000)     /* 16 queues x 16 KiB */
#define BUF_AT(q) (AP_BASE + 0x100000 + (uint64_t)(q) * 0x10000)

static struct harness h;
static struct gm_view view;
static struct virtio_rng rng;
static struct virtio_vsock vs;
static struct virtio_fs fs;
static struct virtio_dev *vd;
static struct fake_ring rings[VIRTIO_MAX_QUEUES];
static bool laid_out[VIRTIO_MAX_QUEUES];
static uint16_t next_desc[VIRTIO_MAX_QUEUES];
static char root[64];
static unsigned msix_cap;
static bool started; /* DRIVER_OK with FEATURES_OK seen since the last reset */

/* ---- platform: MSI-X checks instead of KVM ---- */

static int no_ioeventfd(void *ctx, int efd, uint64_t addr, unsigned len, bool assign)
{
	(void)ctx;
	(void)efd;
	(void)addr;
	(void)len;
	(void)assign;
	return -38; /* -ENOSYS: notifications come as MMIO writes */
}

static void on_route(void *ctx, struct virtio_dev *d, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)ctx;
	(void)addr;
	(void)data;
	VDRV_CHECK(vec < d->msix.nvec, "MSI-X vector %u routed, the device has %u", vec, d->msix.nvec);
}

/* Called by the MSI-X code with its lock held: its state is stable here. */
static void on_deliver(void *ctx, struct virtio_dev *d, unsigned vec)
{
	const struct msix *m = &d->msix;
	uint16_t ctl;

	(void)ctx;
	VDRV_CHECK(vec < m->nvec, "MSI-X vector %u raised, the device has %u", vec, m->nvec);
	ctl = pci_get16(m->dev, m->cap + PCI_MSIX_FLAGS);
	VDRV_CHECK((ctl & PCI_MSIX_FLAGS_ENABLE) && !(ctl & PCI_MSIX_FLAGS_MASKALL) &&
			   !(m->table[vec].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT),
		   "MSI-X vector %u raised while disabled or masked (control 0x%x, entry control 0x%x)", vec, ctl,
		   m->table[vec].ctrl);
}

static const struct virtio_platform plat = {
	.ioeventfd = no_ioeventfd, .msi_route = on_route, .msi_deliver = on_deliver,
};

/* ---- the scratch share for virtio-fs ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(p);
	return 0;
}

static void cleanup(void)
{
	if (root[0]) {
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		rmdir(root);
	}
}

/* ---- helpers ---- */

static const uint64_t wilds[8] = {
	0, AP_BASE - 16, AP_BASE + AP_SIZE - 16, AP_BASE + AP_SIZE, MEM - 16, MEM, 0xFFFFFFFFFFFFF000ULL,
	AP_BASE + 0x1002,
};

/* Where BAR 0 decodes now (0: nowhere; the guest may move or disable it). */
static void refresh_bar(void)
{
	pthread_mutex_lock(&h.pci.lock);
	h.bar0 = vd->pci.bar_addr[0];
	pthread_mutex_unlock(&h.pci.lock);
}

static void lay_out(unsigned q, uint16_t size)
{
	guest_access_begin();
	fake_ring_layout(&rings[q], &h.fm, size, RING_AT(q));
	guest_access_end();
	laid_out[q] = true;
	next_desc[q] = 0;
}

static void qsetup(unsigned q, uint16_t size, uint8_t where, uint16_t vec)
{
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	if (where < 0x80 && q < VIRTIO_MAX_QUEUES && size && size <= 256 && !(size & (size - 1))) {
		lay_out(q, size);
		h_queue_setup(&h, q, &rings[q], vec);
		return;
	}
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)wilds[where & 7]);
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_DESCHI, 4, (uint32_t)(wilds[where & 7] >> 32));
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)wilds[(where >> 3) & 7]);
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)RING_AT(q % VIRTIO_MAX_QUEUES));
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_MSIX, 2, vec);
	h_common_write(&h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static void post(unsigned q, uint8_t n, uint8_t flags)
{
	struct fake_seg s[4];
	unsigned k = 1 + n % 4;
	uint16_t head;

	if (q >= VIRTIO_MAX_QUEUES || !laid_out[q])
		return;
	for (unsigned i = 0; i < k; i++) {
		s[i].gpa = BUF_AT(q) + i * 0x1000;
		s[i].len = 16u << ((flags >> (2 * i)) & 3);
		s[i].write = i >= k / 2;
	}
	if (flags & 0x80)
		s[flags % k].gpa = wilds[(flags >> 4) & 7];
	guest_access_begin();
	/* A FUSE-looking request: len = what is readable, some opcode. */
	fake_fill(&h.fm, BUF_AT(q), n, 16);
	head = fake_chain(&rings[q], next_desc[q], s, k);
	fake_avail_push(&rings[q], head);
	guest_access_end();
	next_desc[q] = (uint16_t)((next_desc[q] + k) % rings[q].size);
	h_bar_write(&h, h.notify_off + (uint64_t)q * h.notify_mult, 2, q);
}

static bool in_aperture(uint64_t a, uint64_t len)
{
	return a >= AP_BASE && len <= AP_SIZE && a - AP_BASE <= AP_SIZE - len;
}

static void check(bool status_zero_written)
{
	uint8_t status;
	bool running;

	pthread_mutex_lock(&vd->lock);
	status = vd->status;
	running = vd->worker_running;
	if (status_zero_written) {
		VDRV_CHECK(status == 0, "reset incomplete: status 0x%x after a status write of 0", status);
		for (unsigned i = 0; i < vd->ops->nqueues; i++)
			VDRV_CHECK(!vd->q[i].enabled, "queue %u still enabled after a reset", i);
	}
	/*
	 * Status 0 tells the driver the reset is done: no worker then (a
	 * driver may enable queues before it writes any status, so those
	 * are only checked right after a reset).
	 */
	if (status == 0)
		VDRV_CHECK(!running, "status reads 0 but the worker still runs (no reset happened)");
	if (status & VIRTIO_CONFIG_S_FEATURES_OK) {
		uint64_t f = vd->driver_features;

		VDRV_CHECK(!(f & ~vd->host_features) && (f & (1ULL << VIRTIO_F_VERSION_1)) &&
				   (f & vd->required_features) == vd->required_features,
			   "FEATURES_OK with driver features 0x%llx (device 0x%llx, required 0x%llx)",
			   (unsigned long long)f, (unsigned long long)vd->host_features,
			   (unsigned long long)vd->required_features);
	}
	/*
	 * A worker only after DRIVER_OK was accepted with FEATURES_OK since the
	 * last reset (a driver that clears bits without a reset may leave it
	 * running: it then ignores kicks).
	 */
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) && (status & VIRTIO_CONFIG_S_FEATURES_OK))
		started = true;
	if (status == 0)
		started = false;
	VDRV_CHECK(!running || started, "worker running, status 0x%x, DRIVER_OK never accepted since the reset",
		   status);
	for (unsigned i = 0; i < vd->ops->nqueues; i++) {
		const struct virtio_queue *q = &vd->q[i];
		uint64_t s = q->vq.size;

		if (!q->enabled)
			continue;
		VDRV_CHECK(s && !(s & (s - 1)) && s <= vd->ops->queue_size, "queue %u enabled with size %llu", i,
			   (unsigned long long)s);
		VDRV_CHECK(in_aperture(q->vq.desc_gpa, 16 * s) && in_aperture(q->vq.avail_gpa, 4 + 2 * s) &&
				   in_aperture(q->vq.used_gpa, 4 + 8 * s),
			   "queue %u enabled with rings outside the aperture (0x%llx 0x%llx 0x%llx)", i,
			   (unsigned long long)q->vq.desc_gpa, (unsigned long long)q->vq.avail_gpa,
			   (unsigned long long)q->vq.used_gpa);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void plug(uint8_t kind)
{
	vdrv_new_bus(&h);
	switch (kind % 3) {
	case 0:
		if (virtio_rng_init(&rng, &plat, &view))
			abort();
		vd = &rng.vdev;
		break;
	case 1:
		if (virtio_vsock_init(&vs, &plat, &view, 3))
			abort();
		vd = &vs.vdev;
		break;
	default:
		if (virtio_fs_init(&fs, &plat, &view, "fuzz", root, 2, NULL))
			abort();
		vd = &fs.vdev;
		break;
	}
	h_plug(&h, vd);
	for (unsigned cap = h_cfg_read(&h, PCI_CAPABILITY_LIST, 1); cap; cap = h_cfg_read(&h, cap + 1, 1))
		if (h_cfg_read(&h, cap, 1) == PCI_CAP_ID_MSIX)
			msix_cap = cap;
	memset(laid_out, 0, sizeof(laid_out));
	started = false;
}

static void unplug(uint8_t kind)
{
	switch (kind % 3) {
	case 0: virtio_rng_destroy(&rng); break;
	case 1: virtio_vsock_destroy(&vs); break;
	default: virtio_fs_destroy(&fs); break;
	}
	vd = NULL;
}

static uint32_t u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const uint8_t statuses[7] = {
	0, VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
	VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK,
	VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
		VIRTIO_CONFIG_S_DRIVER_OK,
	VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED,
};
static const unsigned sizes[4] = { 1, 2, 4, 8 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static int efds, threads;
	const uint8_t *p = data, *end = data + size;
	unsigned steps = 0;
	uint8_t kind;

	if (!ready) {
		log_set_quiet(true);
		h_init(&h, MEM);
		view = gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE);
		if (mprotect(fake_host(&h.fm, 0, AP_BASE), AP_BASE, PROT_NONE) ||
		    mprotect(fake_host(&h.fm, AP_BASE + AP_SIZE, MEM - AP_BASE - AP_SIZE), MEM - AP_BASE - AP_SIZE,
			     PROT_NONE))
			abort();
		snprintf(root, sizeof(root), "/tmp/aperture-fuzz-pci-%d", (int)getpid());
		mkdir(root, 0755);
		atexit(cleanup);
		efds = vdrv_count_eventfds();
		threads = vdrv_count_threads();
		ready = true;
	}
	if (size < 1)
		return 0;
	kind = *p++;
	plug(kind);
	while (p < end && steps++ < 256) {
		uint8_t op = *p++;
		size_t left = (size_t)(end - p);
		bool zero = false;

		switch (op % 13) {
		case 0: /* CFG */
			if (left < 7)
				goto out;
			if (p[2] & 1)
				h_cfg_write(&h, p[0], sizes[p[1] & 3] > 4 ? 4 : sizes[p[1] & 3], u32(p + 3));
			else
				(void)h_cfg_read(&h, p[0], sizes[p[1] & 3] > 4 ? 4 : sizes[p[1] & 3]);
			refresh_bar();
			p += 7;
			break;
		case 1: { /* BAR */
			uint32_t off, v;

			if (left < 8)
				goto out;
			off = (uint32_t)(p[0] | p[1] << 8) & 0x7FFF;
			v = u32(p + 4);
			if (p[3] & 1) {
				uint8_t b[8];

				memcpy(b, &v, 4);
				memcpy(b + 4, &v, 4);
				bus_dispatch(&h.mmio, h.bar0 + off, b, sizes[p[2] & 3], true);
				zero = h.bar0 && off == h.common_off + VIRTIO_PCI_COMMON_STATUS && sizes[p[2] & 3] == 1 &&
				       !b[0];
			} else {
				uint8_t b[8];

				bus_dispatch(&h.mmio, h.bar0 + off, b, sizes[p[2] & 3], false);
			}
			p += 8;
			break;
		}
		case 2: { /* STATUS */
			uint8_t s;

			if (left < 1)
				goto out;
			s = *p < 7 * 32 ? statuses[*p / 32] : *p;
			p++;
			h_set_status(&h, s);
			zero = h.bar0 && s == 0;
			break;
		}
		case 3: /* FEAT */
			if (left < 5)
				goto out;
			h_common_write(&h, VIRTIO_PCI_COMMON_GFSELECT, 4, p[0] & 1);
			h_common_write(&h, VIRTIO_PCI_COMMON_GF, 4,
				       p[0] & 2 ? (uint32_t)(vd->host_features >> (32 * (p[0] & 1))) : u32(p + 1));
			p += 5;
			break;
		case 4: /* QSETUP */
			if (left < 4)
				goto out;
			qsetup(p[0] % (vd->ops->nqueues + 1), (uint16_t)(1u << (p[1] % 9)) ^ (p[1] >= 0xF0),
			       p[2], p[3] < 0xF0 ? p[3] % 8 : 0xFFFF);
			p += 4;
			break;
		case 5: /* NOTIFY */
			if (left < 1)
				goto out;
			h_bar_write(&h, h.notify_off + (uint64_t)(*p % 17) * h.notify_mult, 2, *p % 17);
			p++;
			break;
		case 6: /* MSIX table */
			if (left < 6)
				goto out;
			h_bar_write(&h, VIRTIO_PCI_MSIX_TABLE_OFF + (uint64_t)(p[0] % 20) * 16 + (p[1] & 3) * 4, 4,
				    u32(p + 2));
			p += 6;
			break;
		case 7: /* MSIXCTL */
			if (left < 1)
				goto out;
			h_cfg_write(&h, msix_cap + PCI_MSIX_FLAGS, 2,
				    (*p & 1 ? PCI_MSIX_FLAGS_ENABLE : 0) | (*p & 2 ? PCI_MSIX_FLAGS_MASKALL : 0));
			p++;
			break;
		case 8: /* DEVCFG */
			if (left < 2)
				goto out;
			(void)h_bar_read(&h, VIRTIO_PCI_DEVICE_OFF + p[0], sizes[p[1] & 3] > 4 ? 4 : sizes[p[1] & 3]);
			p += 2;
			break;
		case 9: /* ISR */
			(void)h_bar_read(&h, VIRTIO_PCI_ISR_OFF, 1);
			break;
		case 10: /* POST */
			if (left < 3)
				goto out;
			post(p[0] % vd->ops->nqueues, p[1], p[2]);
			p += 3;
			break;
		case 11: /* NEGOTIATE */
			if (h_negotiate(&h, vd->host_features)) {
				for (unsigned q = 0; q < vd->ops->nqueues; q++) {
					lay_out(q, 8);
					h_queue_setup(&h, q, &rings[q], (uint16_t)q);
				}
				h_driver_ok(&h);
			}
			break;
		case 12: { /* QREG */
			static const unsigned regs[8] = {
				VIRTIO_PCI_COMMON_Q_SIZE, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_PCI_COMMON_Q_DESCLO,
				VIRTIO_PCI_COMMON_Q_DESCHI, VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI,
				VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI,
			};
			unsigned r;

			if (left < 6)
				goto out;
			r = regs[p[1] & 7];
			h_common_write(&h, VIRTIO_PCI_COMMON_Q_SELECT, 2, p[0] % 17);
			h_common_write(&h, r, r <= VIRTIO_PCI_COMMON_Q_ENABLE ? 2 : 4, u32(p + 2));
			p += 6;
			break;
		}
		}
		check(zero);
	}
out:
	unplug(kind);
	VDRV_CHECK(vdrv_count_eventfds() == efds, "eventfds: %d, %d before", vdrv_count_eventfds(), efds);
	int settled = vdrv_threads_settle(threads);
	VDRV_CHECK(settled == threads, "threads: %d, %d before", settled, threads);
	return 0;
}

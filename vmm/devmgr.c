/* SPDX-License-Identifier: MIT */
#include "vmm/devmgr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "vmm/events.h"
#include "lib/log.h"

/* Per device: one irqfd + GSI per MSI-X vector, made on first use. */
struct kvm_vectors {
	int gsi[MSIX_MAX_VECTORS];
	int efd[MSIX_MAX_VECTORS];
};

static struct kvm_vectors *vectors(struct virtio_dev *vd)
{
	struct kvm_vectors *kv = vd->plat_dev;

	if (!kv) {
		kv = calloc(1, sizeof(*kv));
		if (!kv)
			return NULL;
		for (unsigned i = 0; i < MSIX_MAX_VECTORS; i++)
			kv->gsi[i] = kv->efd[i] = -1;
		vd->plat_dev = kv;
	}
	return kv;
}

static int kvm_ioeventfd(void *ctx, int efd, uint64_t addr, unsigned len, bool assign)
{
	struct devmgr *dm = ctx;

	return vm_ioeventfd(dm->vm, efd, addr, len, assign);
}

static void kvm_msi_route(void *ctx, struct virtio_dev *vd, unsigned vec, uint64_t addr, uint32_t data)
{
	struct devmgr *dm = ctx;
	struct kvm_vectors *kv = vectors(vd);
	int err;

	if (!kv || vec >= MSIX_MAX_VECTORS)
		return;
	if (kv->gsi[vec] < 0) {
		int gsi = vm_msi_gsi_alloc(dm->vm);
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (gsi < 0 || efd < 0) {
			log_msg("%s: no GSI or eventfd for MSI-X vector %u", vd->ops->name, vec);
			if (efd >= 0)
				close(efd);
			return;
		}
		kv->gsi[vec] = gsi;
		kv->efd[vec] = efd;
		err = vm_msi_route(dm->vm, (unsigned)gsi, addr, data);
		if (!err)
			err = vm_irqfd(dm->vm, efd, (unsigned)gsi, true);
	} else {
		err = vm_msi_route(dm->vm, (unsigned)kv->gsi[vec], addr, data);
	}
	if (err)
		log_errno(err, "%s: routing MSI-X vector %u", vd->ops->name, vec);
	else
		log_debug("%s: MSI-X vector %u -> GSI %d (addr 0x%llx data 0x%x)", vd->ops->name, vec, kv->gsi[vec],
			  (unsigned long long)addr, data);
}

static void device_failed(void *ctx, struct virtio_dev *vd, const char *why)
{
	char reason[512];

	(void)ctx;
	events_json_string(reason, sizeof(reason), why);
	events_guest("device-needs-reset", "\"device\":\"%s\",\"slot\":%u,\"reason\":%s", vd->ops->name, vd->pci.slot,
		     reason);
}

static void kvm_msi_deliver(void *ctx, struct virtio_dev *vd, unsigned vec)
{
	struct kvm_vectors *kv = vd->plat_dev;
	uint64_t one = 1;

	(void)ctx;
	if (!kv || vec >= MSIX_MAX_VECTORS || kv->efd[vec] < 0)
		return;
	if (write(kv->efd[vec], &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "%s: MSI-X vector %u", vd->ops->name, vec);
}

int devmgr_init(struct devmgr *dm, struct vm *vm, bus_io_fn cf9_io, void *cf9_opaque)
{
	memset(dm, 0, sizeof(*dm));
	dm->vm = vm;
	dm->plat = (struct virtio_platform){
		.ioeventfd = kvm_ioeventfd, .msi_route = kvm_msi_route, .msi_deliver = kvm_msi_deliver,
		.failed = device_failed, .ctx = dm,
	};
	pci_bus_init(&dm->pci, gm_low_end(&vm->mem));
	return pci_bus_attach(&dm->pci, &vm->pio, &vm->mmio, cf9_io, cf9_opaque);
}

int devmgr_add_rng(struct devmgr *dm, const struct gm_view *view)
{
	int err = virtio_rng_init(&dm->rng, &dm->plat, view);
	int slot;

	if (err)
		return err;
	slot = pci_bus_add(&dm->pci, &dm->rng.vdev.pci, -1);
	if (slot < 0) {
		virtio_rng_destroy(&dm->rng);
		return slot;
	}
	dm->have_rng = true;
	events_emit("device-added", "\"device\":\"virtio-rng\",\"slot\":%d,\"detail\":\"\"", slot);
	return 0;
}

int devmgr_add_vsock(struct devmgr *dm, const char *uds_path)
{
	struct gm_view all = gm_view_all(&dm->vm->mem);
	int err = virtio_vsock_init(&dm->vsock, &dm->plat, &all, DEVMGR_GUEST_CID);
	int slot;

	if (err)
		return err;
	dm->have_vsock = true;
	slot = pci_bus_add(&dm->pci, &dm->vsock.vdev.pci, -1);
	if (slot < 0)
		return slot;
	if (uds_path) {
		err = vsock_uds_listen(&dm->vsock, uds_path);
		if (err) {
			log_errno(err, "--vsock-uds %s", uds_path);
			return err;
		}
	}
	events_emit("device-added", "\"device\":\"virtio-vsock\",\"slot\":%d,\"detail\":\"guest_cid=%d\"", slot,
		    DEVMGR_GUEST_CID);
	return 0;
}

int devmgr_add_fs(struct devmgr *dm, const struct gm_view *view, const char *tag, const char *root,
		  unsigned nqueues, const struct fuse_options *opt)
{
	struct virtio_fs *fs;
	int err, slot;

	if (dm->nfs == DEVMGR_MAX_FS)
		return -ENOSPC;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	err = virtio_fs_init(fs, &dm->plat, view, tag, root, nqueues, opt);
	if (err) {
		free(fs);
		return err;
	}
	slot = pci_bus_add(&dm->pci, &fs->vdev.pci, -1);
	if (slot < 0) {
		virtio_fs_destroy(fs);
		free(fs);
		return slot;
	}
	dm->fs[dm->nfs++] = fs;
	events_emit("device-added", "\"device\":\"virtio-fs\",\"slot\":%d,\"detail\":\"tag=%s queues=%u\"", slot,
		    tag, nqueues); /* tags are [A-Za-z0-9_.-] (cli.c) */
	return slot;
}

static void report_one(struct virtio_dev *vd)
{
	bool failed;

	pthread_mutex_lock(&vd->lock);
	failed = vd->failed;
	pthread_mutex_unlock(&vd->lock);
	events_emit("device-stats",
		    "\"device\":\"%s\",\"slot\":%u,\"aperture\":%s,\"aperture_base\":\"0x%llx\",\"aperture_size\":%llu,"
		    "\"ranges_checked\":%llu,\"violations\":%llu,\"needs_reset\":%s,\"guest_errors\":%llu",
		    vd->ops->name, vd->pci.slot, vd->view.aperture ? "true" : "false",
		    (unsigned long long)(vd->view.aperture ? vd->view.base : 0),
		    (unsigned long long)(vd->view.aperture ? vd->view.size : 0),
		    (unsigned long long)__atomic_load_n(&vd->stats.checked, __ATOMIC_RELAXED),
		    (unsigned long long)__atomic_load_n(&vd->stats.denied, __ATOMIC_RELAXED), failed ? "true" : "false",
		    (unsigned long long)__atomic_load_n(&vd->violations, __ATOMIC_RELAXED));
}

void devmgr_report(struct devmgr *dm)
{
	if (dm->have_vsock)
		report_one(&dm->vsock.vdev);
	if (dm->have_rng)
		report_one(&dm->rng.vdev);
	for (unsigned i = 0; i < dm->nfs; i++)
		report_one(&dm->fs[i]->vdev);
}

static void free_vectors(struct virtio_dev *vd)
{
	struct kvm_vectors *kv = vd->plat_dev;

	if (!kv)
		return;
	for (unsigned i = 0; i < MSIX_MAX_VECTORS; i++)
		if (kv->efd[i] >= 0)
			close(kv->efd[i]);
	free(kv);
	vd->plat_dev = NULL;
}

void devmgr_destroy(struct devmgr *dm)
{
	if (dm->have_rng) {
		virtio_rng_destroy(&dm->rng);
		free_vectors(&dm->rng.vdev);
	}
	dm->have_rng = false;
	if (dm->have_vsock) {
		virtio_vsock_destroy(&dm->vsock);
		free_vectors(&dm->vsock.vdev);
	}
	dm->have_vsock = false;
	for (unsigned i = 0; i < dm->nfs; i++) {
		virtio_fs_destroy(dm->fs[i]);
		free_vectors(&dm->fs[i]->vdev);
		free(dm->fs[i]);
		dm->fs[i] = NULL;
	}
	dm->nfs = 0;
}

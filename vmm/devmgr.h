/* SPDX-License-Identifier: MIT */
/*
 * Device manager: the PCI bus of the VM and the virtio devices on it, and
 * the KVM glue a virtio device needs (ioeventfd for notifications, MSI-X
 * vectors as irqfds on GSI routes). A device reaches guest memory only
 * through its gm_view and talks to the VM only through eventfds, so moving
 * it to its own process later is plumbing.
 */
#ifndef APERTURE_DEVMGR_H
#define APERTURE_DEVMGR_H

#include "devices/pci.h"
#include "devices/virtio-pci.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"
#include "devices/vsock-uds.h"
#include "vmm/vm.h"

#define DEVMGR_MAX_FS 8

struct devmgr {
	struct vm *vm;
	struct pci_bus pci;
	struct virtio_platform plat;
	struct virtio_rng rng;
	bool have_rng;
	struct virtio_vsock vsock;
	bool have_vsock;
	struct virtio_fs *fs[DEVMGR_MAX_FS];
	unsigned nfs;
};

#define DEVMGR_GUEST_CID 3

/* PCI bus on the VM's buses (0xCF9 byte accesses go to cf9_io). */
int devmgr_init(struct devmgr *dm, struct vm *vm, bus_io_fn cf9_io, void *cf9_opaque) must_check;
/*
 * virtio-vsock (the init channel; present from boot, no aperture), with a
 * UNIX socket for host programs when uds_path is not NULL.
 */
int devmgr_add_vsock(struct devmgr *dm, const char *uds_path) must_check;
/*
 * virtio-rng in a free slot with `view` as its window on guest memory (an
 * aperture view makes it an aperture device).
 */
int devmgr_add_rng(struct devmgr *dm, const struct gm_view *view) must_check;
/*
 * One "device-stats" event per virtio device: its aperture, how many guest
 * ranges its view checked and how many it refused (accesses outside the
 * aperture: the violations), and whether it ended in NEEDS_RESET.
 */
void devmgr_report(struct devmgr *dm);
/*
 * virtio-fs for share `root` under `tag` with options `opt`, with `nqueues`
 * request queues, in a free slot with `view` as its window. Returns the
 * slot or -errno.
 */
int devmgr_add_fs(struct devmgr *dm, const struct gm_view *view, const char *tag, const char *root,
		  unsigned nqueues, const struct fuse_options *opt) must_check;
void devmgr_destroy(struct devmgr *dm);

#endif

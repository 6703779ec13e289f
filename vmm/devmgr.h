/* SPDX-License-Identifier: MIT */
/*
 * Device manager: the PCI bus of the VM, the virtio devices on it (one list,
 * whatever the kind), and the KVM glue a virtio device needs (ioeventfd for
 * notifications, MSI-X vectors as irqfds on GSI routes).
 *
 * With isolation (--isolate process, the default) an aperture device's data
 * plane runs in its own sandboxed process (vmm/backend.h) that maps only the
 * device's view; the monitor keeps the guest-visible device
 * (devices/vhost-user-frontend.h). add_isolated() in devmgr.c is the one
 * place that starts such a process and ties its death to NEEDS_RESET.
 * virtio-vsock (the init channel, present from boot, no aperture) always
 * stays in the monitor. virtio-net's back end process inherits the NIC's
 * host side (devmgr.c add_net_isolated()).
 */
#ifndef APERTURE_DEVMGR_H
#define APERTURE_DEVMGR_H

#include "devices/pci.h"
#include "devices/virtio-pci.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"
#include "devices/vsock-uds.h"
#include "vmm/backend.h"
#include "vmm/vm.h"

#define DEVMGR_MAX_DEVICES 30 /* PCI slots 1-31 minus virtio-vsock */

struct devmgr;

/* One device on the bus, wherever its data plane runs. */
struct dm_dev {
	const char *kind;           /* "virtio-rng", "virtio-fs", ... */
	struct virtio_dev *vd;      /* what the guest sees */
	void *obj;                  /* the device, or its vhost-user front end (freed by the manager) */
	void (*destroy)(struct dm_dev *d); /* stop obj (and its back end) without freeing it */
	void (*report)(struct dm_dev *d);  /* optional: device-specific events at exit */
	struct backend be;          /* its back-end process; pid 0: in the monitor */
	unsigned slot;
	struct devmgr *dm;
};

struct devmgr {
	struct vm *vm;
	struct pci_bus pci;
	struct virtio_platform plat;
	bool isolate;               /* aperture devices in back-end processes */
	struct virtio_vsock vsock;
	bool have_vsock;
	pthread_mutex_t lock;       /* the list */
	struct dm_dev *dev[DEVMGR_MAX_DEVICES];
	unsigned ndev;
};

#define DEVMGR_GUEST_CID 3

/* PCI bus on the VM's buses (0xCF9 byte accesses go to cf9_io). */
int devmgr_init(struct devmgr *dm, struct vm *vm, bool isolate, bus_io_fn cf9_io, void *cf9_opaque) must_check;
/*
 * virtio-vsock (the init channel; present from boot, no aperture), with a
 * UNIX socket for host programs when uds_path is not NULL.
 */
int devmgr_add_vsock(struct devmgr *dm, const char *uds_path) must_check;
/*
 * virtio-rng in a free slot with `view` as its window on guest memory (an
 * aperture view makes it an aperture device). The slot, or -errno.
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
/*
 * virtio-fs served by an external vhost-user back end listening on the UNIX
 * socket `path` (virtiofsd, ...): one request queue, and the back end is
 * given only `view` (the device's aperture). The slot or -errno.
 */
int devmgr_add_fs_external(struct devmgr *dm, const struct gm_view *view, const char *tag, const char *path)
	must_check;
/*
 * virtio-net over back end `be` (which must outlive dm) with MAC `mac`, in
 * a free slot with `view` as its window. Returns the slot or -errno.
 */
int devmgr_add_net(struct devmgr *dm, const struct gm_view *view, struct net_backend *be, const uint8_t mac[6])
	must_check;
void devmgr_destroy(struct devmgr *dm);

#endif

/* SPDX-License-Identifier: MIT */
#include "vmm/devmgr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <linux/virtio_fs.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "devices/vhost-user-frontend.h"
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

int devmgr_init(struct devmgr *dm, struct vm *vm, bool isolate, bus_io_fn cf9_io, void *cf9_opaque)
{
	memset(dm, 0, sizeof(*dm));
	dm->vm = vm;
	dm->isolate = isolate;
	pthread_mutex_init(&dm->lock, NULL);
	dm->plat = (struct virtio_platform){
		.ioeventfd = kvm_ioeventfd, .msi_route = kvm_msi_route, .msi_deliver = kvm_msi_deliver,
		.failed = device_failed, .ctx = dm,
	};
	pci_bus_init(&dm->pci, gm_low_end(&vm->mem));
	return pci_bus_attach(&dm->pci, &vm->pio, &vm->mmio, cf9_io, cf9_opaque);
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

/* ---- the device list ---- */

/* Register d's device on the bus and in the list; the slot or -errno. */
static int add_device(struct devmgr *dm, struct dm_dev *d, const char *detail)
{
	int slot;

	if (dm->ndev == DEVMGR_MAX_DEVICES)
		return -ENOSPC;
	slot = pci_bus_add(&dm->pci, &d->vd->pci, -1);
	if (slot < 0)
		return slot;
	d->slot = (unsigned)slot;
	d->dm = dm;
	pthread_mutex_lock(&dm->lock);
	dm->dev[dm->ndev++] = d;
	pthread_mutex_unlock(&dm->lock);
	events_emit("device-added", "\"device\":\"%s\",\"slot\":%d,\"detail\":\"%s%s\"", d->kind, slot, detail,
		    d->be.pid ? " isolated" : "");
	return slot;
}

/* A back end hung up: what became of its process, once (the front end already failed the device). */
static void backend_gone(void *ctx, struct vhu_front *f, const char *why)
{
	struct dm_dev *d = ctx;
	char how[96];

	(void)f;
	if (!d->be.pid) { /* an external back end: not ours to reap */
		log_msg("%s (slot %u): its external back end hung up; the device needs a reset", d->kind, d->slot);
		events_emit("backend-exited", "\"device\":\"%s\",\"slot\":%u,\"pid\":0,\"how\":\"hung up\"", d->kind,
			    d->slot);
		return;
	}
	backend_reap(&d->be, 2000, how, sizeof(how));
	if (!d->be.reaped) { /* hung, or broke the protocol: it is not coming back */
		kill(d->be.pid, SIGKILL);
		backend_reap(&d->be, 2000, how, sizeof(how));
	}
	log_msg("%s (slot %u): its back end (pid %d) %s; the device needs a reset (%s)", d->kind, d->slot,
		(int)d->be.pid, how, why);
	events_emit("backend-exited", "\"device\":\"%s\",\"slot\":%u,\"pid\":%d,\"how\":\"%s\"", d->kind, d->slot,
		    (int)d->be.pid, how);
}

/* After an fs back end died: FORGET needs no reply; every other FUSE request gets EIO. */
static uint32_t fs_fail_chain(void *ctx, unsigned q, const struct vq_chain *c)
{
	struct fuse_in_header in;
	struct fuse_out_header out;
	struct iov_cursor rd, wr;

	(void)ctx;
	iov_cursor_init(&rd, c->iov, c->nr_out);
	iov_cursor_init(&wr, c->iov + c->nr_out, c->nr_in);
	if (q == 0 || !iov_read_obj(&rd, &in))
		return 0;
	out = (struct fuse_out_header){ .len = sizeof(out), .error = -EIO, .unique = in.unique };
	return iov_write_obj(&wr, &out) ? (uint32_t)sizeof(out) : 0;
}

static const struct vhu_front_ops front_ops = { .gone = backend_gone };
static const struct vhu_front_ops fs_front_ops = { .gone = backend_gone, .fail_chain = fs_fail_chain };

/*
 * What a device adds to the common way into a back-end process: descriptors
 * the process inherits, and its own front end (a larger struct with the
 * vhu_front first, freed by the manager), callbacks, destroy and report.
 */
struct iso_extra {
	const int *fds;
	unsigned nfds;
	struct vhu_front *front;            /* NULL: a plain one */
	int config_efd;                     /* for vhu_front_init, or -1 */
	const struct vhu_front_ops *ops;    /* NULL: front_ops */
	void (*destroy)(struct dm_dev *d);  /* NULL: front_destroy */
	void (*report)(struct dm_dev *d);
};

/* Connect the guest-visible device to a back end on `sock` (ours now); `be` may be an empty (external) one. */
static int add_front(struct devmgr *dm, struct dm_dev *d, const struct virtio_dev_ops *tmpl, unsigned nq,
		     const void *config, const struct gm_view *view, int sock, const char *detail,
		     const struct iso_extra *x, char *err, size_t errlen);

static void front_destroy(struct dm_dev *d)
{
	vhu_front_destroy(d->obj); /* closes the socket: the back end exits by itself */
	backend_stop(&d->be, 3000);
}

static int add_front(struct devmgr *dm, struct dm_dev *d, const struct virtio_dev_ops *tmpl, unsigned nq,
		     const void *config, const struct gm_view *view, int sock, const char *detail,
		     const struct iso_extra *x, char *err, size_t errlen)
{
	struct vhu_front *f = x && x->front ? x->front : calloc(1, sizeof(*f));
	const struct vhu_front_ops *ops = x && x->ops ? x->ops
					 : !strcmp(d->kind, "virtio-fs") ? &fs_front_ops : &front_ops;
	int r;

	if (!f) {
		close(sock);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	d->obj = f;
	d->vd = &f->vdev;
	d->destroy = x && x->destroy ? x->destroy : front_destroy;
	d->report = x ? x->report : NULL;
	r = vhu_front_init(f, tmpl, nq, config, &dm->plat, view, sock, x ? x->config_efd : -1, ops, d, err, errlen);
	if (!r) {
		r = add_device(dm, d, detail);
		if (r < 0)
			err_set(err, errlen, r, "no PCI slot: %s", strerror(-r));
	}
	if (r < 0) {
		vhu_front_destroy(f);
		if (!(x && x->front))
			free(f);
		d->obj = NULL;
	}
	return r;
}

/*
 * The one way a device's data plane goes into its own process: start
 * `aperture-backend ARGS`, connect the guest-visible device (the template
 * `tmpl` with `nq` queues and configuration `config`) to it over vhost-user,
 * hand it only `view`, and let its death turn into NEEDS_RESET.
 */
static int add_isolated(struct devmgr *dm, const char *kind, const struct virtio_dev_ops *tmpl, unsigned nq,
			const void *config, const struct gm_view *view, const char *const *args, const char *detail,
			const struct iso_extra *x)
{
	struct dm_dev *d = calloc(1, sizeof(*d));
	char err[256];
	int sock, r;

	if (!d)
		return -ENOMEM;
	d->kind = kind;
	r = backend_spawn_fds(&d->be, args, x ? x->fds : NULL, x ? x->nfds : 0, &sock, err, sizeof(err));
	if (!r)
		r = add_front(dm, d, tmpl, nq, config, view, sock, detail, x, err, sizeof(err));
	if (r < 0) {
		log_msg("%s: %s", kind, err);
		backend_stop(&d->be, 1000);
		free(d);
		return r;
	}
	events_emit("backend-started", "\"device\":\"%s\",\"slot\":%u,\"pid\":%d", kind, d->slot, (int)d->be.pid);
	return r;
}

static void fs_config(struct virtio_fs_config *c, const char *tag, unsigned nreq)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->tag, tag, strnlen(tag, sizeof(c->tag)));
	c->num_request_queues = nreq; /* little-endian host */
}

int devmgr_add_fs_external(struct devmgr *dm, const struct gm_view *view, const char *tag, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct virtio_dev_ops t = *virtio_fs_ops();
	struct virtio_fs_config c;
	struct dm_dev *d;
	char err[256], detail[96];
	int sock, r;

	if (strlen(path) >= sizeof(sa.sun_path) || strlen(tag) > sizeof(c.tag))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		log_errno(r, "--vhost-user-fs %s: connect", path);
		if (sock >= 0)
			close(sock);
		return r;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(sock);
		return -ENOMEM;
	}
	d->kind = "virtio-fs";
	fs_config(&c, tag, 1);
	t.nqueues = 2;
	snprintf(detail, sizeof(detail), "tag=%s queues=1 vhost-user=%s", tag, path);
	r = add_front(dm, d, &t, 2, &c, view, sock, detail, NULL, err, sizeof(err));
	if (r < 0) {
		log_msg("--vhost-user-fs %s: %s", path, err);
		free(d);
	}
	return r;
}

/* Put an in-process device (d filled in) on the bus; on failure it is destroyed and freed, d too. */
static int add_inproc(struct devmgr *dm, struct dm_dev *d, const char *detail)
{
	int r = add_device(dm, d, detail);

	if (r < 0) {
		d->destroy(d);
		free(d->obj);
		free(d);
	}
	return r;
}

static void rng_destroy(struct dm_dev *d)
{
	virtio_rng_destroy(d->obj);
}

int devmgr_add_rng(struct devmgr *dm, const struct gm_view *view)
{
	static const char *const args[] = { "rng", NULL };
	struct virtio_rng *rng;
	struct dm_dev *d;
	int r = -ENOMEM;

	if (dm->isolate)
		return add_isolated(dm, "virtio-rng", virtio_rng_ops(), 1, NULL, view, args, "", NULL);
	d = calloc(1, sizeof(*d));
	rng = calloc(1, sizeof(*rng));
	if (!d || !rng || (r = virtio_rng_init(rng, &dm->plat, view))) {
		free(d);
		free(rng);
		return d && rng ? r : -ENOMEM;
	}
	*d = (struct dm_dev){ .kind = "virtio-rng", .obj = rng, .vd = &rng->vdev, .destroy = rng_destroy };
	return add_inproc(dm, d, "");
}

static void fs_destroy(struct dm_dev *d)
{
	virtio_fs_destroy(d->obj);
}

int devmgr_add_fs(struct devmgr *dm, const struct gm_view *view, const char *tag, const char *root,
		  unsigned nqueues, const struct fuse_options *opt)
{
	char detail[96];
	struct virtio_fs *fs;
	struct dm_dev *d;
	int r;

	snprintf(detail, sizeof(detail), "tag=%s queues=%u", tag, nqueues); /* tags are [A-Za-z0-9_.-] (cli.c) */
	if (dm->isolate) {
		struct virtio_dev_ops t = *virtio_fs_ops();
		struct virtio_fs_config c;
		char q[16], o[160];
		const char *args[] = { "fs", "--shared-dir", root, "--tag", tag, "--queues", q, "--share-options", o, NULL };

		if (strlen(tag) > sizeof(c.tag) || !nqueues || nqueues > VIRTIO_FS_MAX_REQ_QUEUES ||
		    fuse_options_format(opt ? opt : &(struct fuse_options){ 0 }, o, sizeof(o)))
			return -EINVAL;
		fs_config(&c, tag, nqueues);
		snprintf(q, sizeof(q), "%u", nqueues);
		t.nqueues = 1 + nqueues;
		return add_isolated(dm, "virtio-fs", &t, 1 + nqueues, &c, view, args, detail, NULL);
	}
	d = calloc(1, sizeof(*d));
	fs = calloc(1, sizeof(*fs));
	if (!d || !fs) {
		free(d);
		free(fs);
		return -ENOMEM;
	}
	r = virtio_fs_init(fs, &dm->plat, view, tag, root, nqueues, opt);
	if (r) {
		free(fs);
		free(d);
		return r;
	}
	*d = (struct dm_dev){ .kind = "virtio-fs", .obj = fs, .vd = &fs->vdev, .destroy = fs_destroy };
	return add_inproc(dm, d, detail);
}

static void net_destroy(struct dm_dev *d)
{
	virtio_net_destroy(d->obj);
}

/* The net-stats event from counters and the link state as the guest sees it. */
static void emit_net_stats(unsigned slot, bool link_up, const struct virtio_net_stats *s)
{
#define LD(x) (unsigned long long)__atomic_load_n(&s->x, __ATOMIC_RELAXED)
	events_emit("net-stats",
		    "\"device\":\"virtio-net\",\"slot\":%u,\"link_up\":%s,\"tx_frames\":%llu,\"tx_bytes\":%llu,"
		    "\"tx_bad\":%llu,\"tx_dropped\":%llu,\"rx_frames\":%llu,\"rx_bytes\":%llu,\"rx_dropped\":%llu,"
		    "\"ctrl_ok\":%llu,\"ctrl_bad\":%llu",
		    slot, link_up ? "true" : "false", LD(tx_frames), LD(tx_bytes), LD(tx_bad), LD(tx_dropped),
		    LD(rx_frames), LD(rx_bytes), LD(rx_dropped), LD(ctrl_ok), LD(ctrl_bad));
#undef LD
}

static void report_net(struct dm_dev *d)
{
	const struct virtio_net *n = d->obj;

	emit_net_stats(d->slot, __atomic_load_n(&n->link_up, __ATOMIC_ACQUIRE), n->stats);
}

/*
 * virtio-net in a back-end process. The back end inherits, as
 * --extra-fds in this order: an eventfd it writes when its device's state
 * changes (config_efd), a page it counts in (stats: struct
 * virtio_net_stats, shared), then the host side of the NIC (passt's
 * socket, or one tap descriptor per queue pair). The page is the back
 * end's to write: its numbers are only reported (net-stats), and of its
 * link flag we take one thing, a lost link, once.
 */
struct net_front {
	struct vhu_front front;             /* first: the manager frees the struct through d->obj */
	struct net_backend *be;             /* the monitor's own (describe_loss: how passt ended) */
	struct virtio_net_stats *stats;     /* shared with the back end */
	size_t stats_len;
	int config_efd, stats_fd;
	bool link_down;                     /* the front end told the guest (front thread only) */
};

/* The back end wrote config_efd: if it lost its link, the guest sees LINK_UP go (once). Front thread. */
static void net_config_changed(void *ctx, struct vhu_front *f)
{
	struct dm_dev *d = ctx;
	struct net_front *nf = (struct net_front *)f;
	uint16_t status = 0;
	char why[160] = "";

	if (__atomic_load_n(&nf->link_down, __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&nf->stats->link_down, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&nf->link_down, true, __ATOMIC_RELEASE);
	if (nf->be->describe_loss)
		nf->be->describe_loss(nf->be->loss_ctx, why, sizeof(why));
	log_msg("virtio-net (slot %u): %s back end lost (%s); link down, the VM keeps running", d->slot,
		nf->be->kind, why[0] ? why : "its back end process says so");
	vhu_front_set_config(f, offsetof(struct virtio_net_config, status), &status, sizeof(status));
}

/* The back end process died: the NIC has no host side any more; the guest sees the link go too. */
static void net_backend_gone(void *ctx, struct vhu_front *f, const char *why)
{
	uint16_t status = 0;

	backend_gone(ctx, f, why);
	__atomic_store_n(&((struct net_front *)f)->link_down, true, __ATOMIC_RELEASE);
	vhu_front_set_config(f, offsetof(struct virtio_net_config, status), &status, sizeof(status));
}

static void net_front_destroy(struct dm_dev *d)
{
	struct net_front *nf = d->obj;

	front_destroy(d);
	if (nf->stats)
		munmap(nf->stats, nf->stats_len);
	if (nf->config_efd >= 0)
		close(nf->config_efd);
	if (nf->stats_fd >= 0)
		close(nf->stats_fd);
	nf->stats = NULL;
	nf->config_efd = nf->stats_fd = -1;
}

static void report_net_front(struct dm_dev *d)
{
	const struct net_front *nf = d->obj;

	emit_net_stats(d->slot, !__atomic_load_n(&nf->link_down, __ATOMIC_ACQUIRE), nf->stats);
}

static const struct vhu_front_ops net_front_ops = { .gone = net_backend_gone, .config_changed = net_config_changed };

static int add_net_isolated(struct devmgr *dm, const struct gm_view *view, struct net_backend *be,
			    const uint8_t mac[6], const char *detail)
{
	struct virtio_dev_ops t;
	struct virtio_net_config c;
	struct net_front *nf;
	int fds[2 + NET_MAX_PAIRS], r;
	char pairs[8], mtu[8], macs[24];
	const char *args[] = { "net", "--net-kind", be->kind, "--name", be->name, "--pairs", pairs, "--mtu", mtu,
			       "--mac", macs, NULL };

	if (virtio_net_describe(be, mac, &t, &c) || (strcmp(be->kind, "passt") && strcmp(be->kind, "tap")))
		return -EINVAL;
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->be = be;
	nf->stats_len = (size_t)sysconf(_SC_PAGESIZE);
	nf->config_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	nf->stats_fd = memfd_create("aperture-net-stats", MFD_CLOEXEC);
	if (nf->config_efd < 0 || nf->stats_fd < 0 || ftruncate(nf->stats_fd, (off_t)nf->stats_len) < 0 ||
	    (nf->stats = mmap(NULL, nf->stats_len, PROT_READ, MAP_SHARED, nf->stats_fd, 0)) == MAP_FAILED) {
		r = -errno;
		log_errno(r, "virtio-net: the back end's event descriptor and counter page");
		nf->stats = NULL;
		goto fail;
	}
	fds[0] = nf->config_efd;
	fds[1] = nf->stats_fd;
	for (unsigned i = 0; i < be->pairs; i++)
		fds[2 + i] = be->ops->fd(be, i);
	snprintf(pairs, sizeof(pairs), "%u", be->pairs);
	snprintf(mtu, sizeof(mtu), "%u", be->mtu);
	snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	r = add_isolated(dm, "virtio-net", &t, t.nqueues, &c, view, args, detail,
			 &(struct iso_extra){ .fds = fds, .nfds = 2 + be->pairs, .front = &nf->front,
					      .config_efd = nf->config_efd, .ops = &net_front_ops,
					      .destroy = net_front_destroy, .report = report_net_front });
	if (r >= 0)
		return r;
fail:
	if (nf->stats)
		munmap(nf->stats, nf->stats_len);
	if (nf->config_efd >= 0)
		close(nf->config_efd);
	if (nf->stats_fd >= 0)
		close(nf->stats_fd);
	free(nf);
	return r;
}

int devmgr_add_net(struct devmgr *dm, const struct gm_view *view, struct net_backend *be, const uint8_t mac[6])
{
	char detail[160];
	struct virtio_net *n;
	struct dm_dev *d;
	int r;

	for (unsigned i = 0; i < dm->ndev; i++)
		if (!strcmp(dm->dev[i]->kind, "virtio-net"))
			return -EEXIST;
	/* be->kind and be->name come from the command line (cli.c checks interface names). */
	snprintf(detail, sizeof(detail), "backend=%s name=%s queue_pairs=%u mtu=%u mac=%02x:%02x:%02x:%02x:%02x:%02x",
		 be->kind, be->name, be->pairs, be->mtu, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	if (dm->isolate)
		return add_net_isolated(dm, view, be, mac, detail);
	d = calloc(1, sizeof(*d));
	n = calloc(1, sizeof(*n));
	if (!d || !n) {
		free(d);
		free(n);
		return -ENOMEM;
	}
	r = virtio_net_init(n, &dm->plat, view, be, mac);
	if (r) {
		free(n);
		free(d);
		return r;
	}
	*d = (struct dm_dev){ .kind = "virtio-net", .obj = n, .vd = &n->vdev, .destroy = net_destroy,
			      .report = report_net };
	return add_inproc(dm, d, detail);
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
	for (unsigned i = 0; i < dm->ndev; i++) {
		report_one(dm->dev[i]->vd);
		if (dm->dev[i]->report)
			dm->dev[i]->report(dm->dev[i]);
	}
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
	if (dm->have_vsock) {
		virtio_vsock_destroy(&dm->vsock);
		free_vectors(&dm->vsock.vdev);
	}
	dm->have_vsock = false;
	for (unsigned i = 0; i < dm->ndev; i++) {
		struct dm_dev *d = dm->dev[i];

		d->destroy(d);
		free_vectors(d->vd);
		free(d->obj);
		free(d);
		dm->dev[i] = NULL;
	}
	dm->ndev = 0;
}

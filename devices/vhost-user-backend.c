/* SPDX-License-Identifier: MIT */
/* A vhost-user back end around one of our virtio devices (vhost-user-backend.h). */
#include "devices/vhost-user-backend.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lib/log.h"

#define PROTOCOL_FEATURES \
	((1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) | (1ULL << VU_PROTOCOL_F_RESET_DEVICE))

/* ---- the transport: interrupts and errors as eventfd writes ---- */

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_errno(errno, "vhost-user back end: eventfd write");
}

static void vub_queue_interrupt(struct virtio_dev *vd, unsigned q)
{
	struct vub *b = vd->plat->ctx;

	signal_fd(b->ring[q].call_fd);
}

/*
 * The front end owns the configuration space: with a config descriptor
 * (vub_set_config_fd) we only tell it to look (its caller reads the state
 * the device shares with it, e.g. virtio-net's link); else nothing.
 */
static void vub_config_interrupt(struct virtio_dev *vd)
{
	struct vub *b = vd->plat->ctx;

	signal_fd(b->config_fd);
}

static const struct virtio_transport vub_transport = {
	.queue_interrupt = vub_queue_interrupt,
	.config_interrupt = vub_config_interrupt,
};

static void vub_failed(void *ctx, struct virtio_dev *vd, const char *why)
{
	struct vub *b = ctx;

	(void)why; /* logged by virtio_dev_fail() */
	for (unsigned i = 0; i < vd->nqueues; i++)
		signal_fd(b->ring[i].err_fd);
}

void vub_init(struct vub *b, int sock)
{
	memset(b, 0, sizeof(*b));
	b->sock = sock;
	b->config_fd = -1;
	gm_init_empty(&b->mem);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		b->ring[i].call_fd = b->ring[i].err_fd = -1;
	b->plat = (struct virtio_platform){ .failed = vub_failed, .transport = &vub_transport, .ctx = b };
}

const struct virtio_platform *vub_platform(struct vub *b)
{
	return &b->plat;
}

void vub_attach(struct vub *b, struct virtio_dev *vd)
{
	b->vd = vd;
}

void vub_set_config_fd(struct vub *b, int fd)
{
	b->config_fd = fd;
}

/* ---- memory ---- */

static void unmap_all(struct vub *b)
{
	for (unsigned i = 0; i < b->nregions; i++)
		if (b->map[i])
			munmap(b->map[i], b->map_len[i]);
	memset(b->map, 0, sizeof(b->map));
	b->nregions = 0;
	gm_init_empty(&b->mem);
}

/* The guest-physical address of the front end's address uaddr, or false. */
static bool uaddr_to_gpa(const struct vub *b, uint64_t uaddr, uint64_t *gpa)
{
	for (unsigned i = 0; i < b->nregions; i++) {
		const struct vu_region *r = &b->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size) {
			*gpa = r->gpa + (uaddr - r->uaddr);
			return true;
		}
	}
	return false;
}

static bool any_started(const struct vub *b)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (b->ring[i].started)
			return true;
	return false;
}

static int set_mem_table(struct vub *b, const struct vu_msg *m, const int *fds, unsigned nfds, char *why, size_t wl)
{
	const struct vu_mem *mem = &m->mem;
	long page = sysconf(_SC_PAGESIZE);

	if (any_started(b))
		return err_set(why, wl, -EBUSY, "memory table changed while rings run");
	if (m->hdr.size < offsetof(struct vu_mem, region) || mem->nregions == 0 || mem->nregions > VU_MAX_REGIONS ||
	    m->hdr.size < offsetof(struct vu_mem, region) + mem->nregions * sizeof(struct vu_region))
		return err_set(why, wl, -EINVAL, "%u regions in %u bytes", mem->nregions, m->hdr.size);
	if (nfds != mem->nregions)
		return err_set(why, wl, -EINVAL, "%u regions with %u descriptors", mem->nregions, nfds);
	unmap_all(b);
	for (unsigned i = 0; i < mem->nregions; i++) {
		struct vu_region r = mem->region[i];
		uint64_t off = align_down(r.mmap_offset, (uint64_t)page), delta = r.mmap_offset - off;
		void *p;
		int err;

		if (!r.size || r.gpa + r.size < r.gpa || r.uaddr + r.size < r.uaddr ||
		    r.mmap_offset + r.size < r.mmap_offset || r.size + delta < r.size) {
			unmap_all(b);
			return err_set(why, wl, -EINVAL, "region %u wraps", i);
		}
		for (unsigned k = 0; k < i; k++)
			if (ranges_overlap(r.uaddr, r.size, b->regions[k].uaddr, b->regions[k].size)) {
				unmap_all(b);
				return err_set(why, wl, -EINVAL, "region %u overlaps region %u", i, k);
			}
		/* A PROT_NONE guard page on either side: one byte beyond the region faults. */
		p = mmap(NULL, r.size + delta + 2 * (uint64_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
		if (p != MAP_FAILED) {
			b->map[i] = p;
			b->map_len[i] = r.size + delta + 2 * (uint64_t)page;
			b->nregions = i + 1;
			p = mmap((uint8_t *)p + page, r.size + delta, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fds[i], (off_t)off);
		}
		if (p == MAP_FAILED) {
			err = -errno;
			unmap_all(b);
			return err_set(why, wl, err, "mmap of region %u (0x%llx bytes at offset 0x%llx): %s", i,
				       (unsigned long long)r.size, (unsigned long long)r.mmap_offset, strerror(-err));
		}
		b->regions[i] = r;
		b->nregions = i + 1;
		err = gm_add_region(&b->mem, r.gpa, r.size, (uint8_t *)p + delta, r.mmap_offset);
		if (err) {
			unmap_all(b);
			return err_set(why, wl, err, "region %u (guest 0x%llx + 0x%llx) overlaps another", i,
				       (unsigned long long)r.gpa, (unsigned long long)r.size);
		}
	}
	log_debug("vhost-user back end: %u memory regions mapped", b->nregions);
	return 0;
}

/* ---- rings ---- */

/*
 * The device's data plane: the generic worker (and the threads that start
 * with it), or, for a device with ops->start (virtio-net's queue-pair
 * threads), what its start runs, stopped with its quiesce. Both poll the
 * kick descriptors they saw when they started: pause before a ring or a
 * kick changes, run again after. Caller holds ctl_lock.
 */
static void pause_device(struct vub *b)
{
	struct virtio_dev *vd = b->vd;

	virtio_worker_stop(vd);
	if (vd->ops->start && vd->ops->quiesce && b->dev_running) {
		vd->ops->quiesce(vd);
		b->dev_running = false;
	}
}

static void run_device(struct vub *b)
{
	struct virtio_dev *vd = b->vd;
	int err;

	if (!vd->ops->start) {
		virtio_worker_start(vd);
		return;
	}
	if (b->dev_running)
		return;
	err = vd->ops->start(vd);
	if (err) {
		if (vd->ops->quiesce)
			vd->ops->quiesce(vd); /* whatever part of it started */
		virtio_dev_fail(vd, "cannot start the device: %s", strerror(-err));
		return;
	}
	b->dev_running = true;
}

/* Start ring i if it has everything; the device is restarted to poll its kick. Caller holds ctl_lock. */
static int maybe_start(struct vub *b, unsigned i, char *why, size_t wl)
{
	struct virtio_dev *vd = b->vd;
	struct vub_ring *r = &b->ring[i];
	bool want = r->addr_set && r->num_set && r->have_kick &&
		    (r->enabled || !(b->acked_features & (1ULL << VU_F_PROTOCOL_FEATURES)));
	int err;

	if (!want || r->started)
		return 0;
	if (!b->features_set)
		return err_set(why, wl, -EINVAL, "ring %u started before SET_FEATURES", i);
	pause_device(b);
	pthread_mutex_lock(&vd->lock);
	err = vq_enable(&vd->q[i].vq, &vd->view, r->num, r->desc, r->avail, r->used,
			b->acked_features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	if (!err) {
		vq_set_base(&vd->q[i].vq, r->base);
		vd->q[i].size = r->num;
		vd->q[i].enabled = true;
		vd->driver_features = b->acked_features & ~(1ULL << VU_F_PROTOCOL_FEATURES);
		vd->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
			     VIRTIO_CONFIG_S_DRIVER_OK;
		r->started = true;
		b->stopped = false;
	}
	pthread_mutex_unlock(&vd->lock);
	run_device(b);
	if (err)
		return err_set(why, wl, err, "ring %u (size %u, desc 0x%llx, avail 0x%llx, used 0x%llx) not inside the "
			       "memory table", i, r->num, (unsigned long long)r->desc, (unsigned long long)r->avail,
			       (unsigned long long)r->used);
	if (b->on_first_start && !b->first_started) {
		b->first_started = true;
		b->on_first_start(b);
	}
	virtio_dev_kick(vd, i); /* buffers the driver posted before we started */
	return 0;
}

/* Stop the device: worker, in-flight requests, every ring; keep each ring's index. Caller holds ctl_lock. */
static void stop_device(struct vub *b)
{
	struct virtio_dev *vd = b->vd;

	if (b->stopped)
		return;
	pause_device(b);
	if (vd->ops->quiesce)
		vd->ops->quiesce(vd);
	for (unsigned i = 0; i < vd->nqueues; i++) {
		b->stopped_idx[i] = b->ring[i].started ? vd->q[i].vq.last_avail : b->ring[i].base;
		b->ring[i].started = false;
		b->ring[i].enabled = false;
	}
	virtio_run_action(vd, VIRTIO_ACT_RESET);
	b->stopped = true;
}

static int ring_index(const struct vub *b, uint64_t v, unsigned *i, char *why, size_t wl)
{
	*i = (unsigned)(v & VU_VRING_INDEX_MASK);
	if (*i >= b->vd->nqueues)
		return err_set(why, wl, -EINVAL, "ring %u of %u", *i, b->vd->nqueues);
	return 0;
}

/* SET_VRING_KICK/CALL/ERR: the descriptor (or none) for a ring. */
static int set_ring_fd(struct vub *b, const struct vu_msg *m, const int *fds, unsigned nfds, char *why, size_t wl)
{
	struct virtio_dev *vd = b->vd;
	bool nofd = m->u64 & VU_VRING_NOFD;
	unsigned i;
	int fd, err;

	if (m->hdr.size != sizeof(uint64_t) || (nofd ? nfds != 0 : nfds != 1))
		return err_set(why, wl, -EINVAL, "%s: bad payload or descriptor count", vu_request_name(m->hdr.request));
	err = ring_index(b, m->u64, &i, why, wl);
	if (err)
		return err;
	fd = nofd ? -1 : fds[0];
	b->fd_taken = true; /* from here on the descriptor is ours to keep */
	switch (m->hdr.request) {
	case VU_SET_VRING_KICK:
		if (nofd)
			return err_set(why, wl, -EINVAL, "ring %u: polling mode (no kick descriptor) is not supported", i);
		pause_device(b);
		if (vd->q[i].kick_efd >= 0)
			close(vd->q[i].kick_efd);
		vd->q[i].kick_efd = fd;
		b->ring[i].have_kick = true;
		if (any_started(b) && !b->stopped)
			run_device(b);
		return maybe_start(b, i, why, wl);
	case VU_SET_VRING_CALL:
		if (b->ring[i].call_fd >= 0)
			close(b->ring[i].call_fd);
		b->ring[i].call_fd = fd;
		return 0;
	default:
		if (b->ring[i].err_fd >= 0)
			close(b->ring[i].err_fd);
		b->ring[i].err_fd = fd;
		return 0;
	}
}

/* ---- messages ---- */

static int reply(struct vub *b, struct vu_msg *m, uint32_t size)
{
	m->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	m->hdr.size = size;
	return vu_send(b->sock, m, NULL, 0);
}

/* One request. Returns 0 or -errno (with why); *replied when it answered itself. */
static int dispatch(struct vub *b, struct vu_msg *m, const int *fds, unsigned nfds, bool *replied, char *why,
		    size_t wl)
{
	struct virtio_dev *vd = b->vd;
	uint32_t req = m->hdr.request;
	unsigned i;
	int err;

	*replied = false;
	if (req != VU_SET_MEM_TABLE && req != VU_SET_VRING_KICK && req != VU_SET_VRING_CALL &&
	    req != VU_SET_VRING_ERR && nfds)
		return err_set(why, wl, -EINVAL, "%s with %u descriptors", vu_request_name(req), nfds);
	switch (req) {
	case VU_GET_FEATURES:
		m->u64 = vd->host_features | (1ULL << VU_F_PROTOCOL_FEATURES);
		*replied = true;
		return reply(b, m, sizeof(uint64_t));
	case VU_SET_FEATURES:
		if (m->hdr.size != sizeof(uint64_t))
			return err_set(why, wl, -EINVAL, "SET_FEATURES of %u bytes", m->hdr.size);
		if (m->u64 & ~(vd->host_features | (1ULL << VU_F_PROTOCOL_FEATURES)))
			return err_set(why, wl, -EINVAL, "features 0x%llx not offered",
				       (unsigned long long)(m->u64 & ~vd->host_features));
		b->acked_features = m->u64;
		b->features_set = true;
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		m->u64 = PROTOCOL_FEATURES;
		*replied = true;
		return reply(b, m, sizeof(uint64_t));
	case VU_SET_PROTOCOL_FEATURES:
		if (m->hdr.size != sizeof(uint64_t))
			return err_set(why, wl, -EINVAL, "SET_PROTOCOL_FEATURES of %u bytes", m->hdr.size);
		b->protocol_features = m->u64 & PROTOCOL_FEATURES;
		return 0;
	case VU_GET_QUEUE_NUM:
		m->u64 = vd->nqueues;
		*replied = true;
		return reply(b, m, sizeof(uint64_t));
	case VU_SET_OWNER:
		return 0;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		stop_device(b);
		b->features_set = false;
		return 0;
	case VU_SET_MEM_TABLE:
		return set_mem_table(b, m, fds, nfds, why, wl);
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		if (m->hdr.size != sizeof(struct vhost_vring_state))
			return err_set(why, wl, -EINVAL, "%s of %u bytes", vu_request_name(req), m->hdr.size);
		err = ring_index(b, m->state.index, &i, why, wl);
		if (err)
			return err;
		if (req == VU_SET_VRING_NUM) {
			if (b->ring[i].started)
				return err_set(why, wl, -EBUSY, "ring %u resized while running", i);
			if (!m->state.num || m->state.num > vd->ops->queue_size || (m->state.num & (m->state.num - 1)))
				return err_set(why, wl, -EINVAL, "ring %u size %u (a power of two up to %u)", i,
					       m->state.num, vd->ops->queue_size);
			b->ring[i].num = (uint16_t)m->state.num;
			b->ring[i].num_set = true;
			return 0;
		}
		if (req == VU_SET_VRING_BASE) {
			if (b->ring[i].started || m->state.num > UINT16_MAX)
				return err_set(why, wl, -EINVAL, "ring %u base %u", i, m->state.num);
			b->ring[i].base = (uint16_t)m->state.num;
			return 0;
		}
		if (m->state.num > 1)
			return err_set(why, wl, -EINVAL, "ring %u enable %u", i, m->state.num);
		b->ring[i].enabled = m->state.num;
		if (!m->state.num) {
			if (b->ring[i].started)
				stop_device(b); /* one ring disabled: the device stops as a whole */
			return 0;
		}
		return maybe_start(b, i, why, wl);
	case VU_SET_VRING_ADDR: {
		struct vhost_vring_addr a = m->addr;
		struct vub_ring *r;

		if (m->hdr.size != sizeof(a))
			return err_set(why, wl, -EINVAL, "SET_VRING_ADDR of %u bytes", m->hdr.size);
		err = ring_index(b, a.index, &i, why, wl);
		if (err)
			return err;
		r = &b->ring[i];
		if (r->started)
			return err_set(why, wl, -EBUSY, "ring %u moved while running", i);
		if (a.flags & (1u << VHOST_VRING_F_LOG))
			return err_set(why, wl, -EINVAL, "ring %u: dirty logging is not supported", i);
		if (!uaddr_to_gpa(b, a.desc_user_addr, &r->desc) || !uaddr_to_gpa(b, a.avail_user_addr, &r->avail) ||
		    !uaddr_to_gpa(b, a.used_user_addr, &r->used))
			return err_set(why, wl, -EINVAL, "ring %u addresses outside the memory table", i);
		r->addr_set = true;
		return maybe_start(b, i, why, wl);
	}
	case VU_GET_VRING_BASE:
		if (m->hdr.size != sizeof(struct vhost_vring_state))
			return err_set(why, wl, -EINVAL, "GET_VRING_BASE of %u bytes", m->hdr.size);
		err = ring_index(b, m->state.index, &i, why, wl);
		if (err)
			return err;
		stop_device(b);
		m->state.num = b->stopped_idx[i];
		*replied = true;
		return reply(b, m, sizeof(struct vhost_vring_state));
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return set_ring_fd(b, m, fds, nfds, why, wl);
	default:
		return err_set(why, wl, -EOPNOTSUPP, "request %u (%s) not supported", req, vu_request_name(req));
	}
}

int vub_handle_one(struct vub *b)
{
	struct vu_msg m;
	int fds[VU_MAX_FDS];
	unsigned nfds;
	char why[256] = "";
	bool replied, need_reply;
	int err = vu_recv(b->sock, &m, fds, VU_MAX_FDS, &nfds);

	if (err)
		return err;
	need_reply = (m.hdr.flags & VU_FLAG_NEED_REPLY) && (b->protocol_features & (1ULL << VU_PROTOCOL_F_REPLY_ACK));
	b->fd_taken = false;
	virtio_ctl_lock(b->vd);
	err = dispatch(b, &m, fds, nfds, &replied, why, sizeof(why));
	virtio_ctl_unlock(b->vd);
	/* Descriptors the request did not keep (SET_MEM_TABLE's live on in the mappings). */
	if (!b->fd_taken)
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
	if (err) {
		b->errors++;
		log_guest("vhost-user back end: %s refused: %s", vu_request_name(m.hdr.request), why);
	}
	if (replied && err)
		return err; /* the reply itself failed: the socket is gone */
	if (need_reply && !replied) {
		m.u64 = err ? 1 : 0;
		return reply(b, &m, sizeof(uint64_t));
	}
	return 0;
}

int vub_serve(struct vub *b)
{
	int err;

	while ((err = vub_handle_one(b)) == 0)
		;
	virtio_ctl_lock(b->vd);
	stop_device(b);
	virtio_ctl_unlock(b->vd);
	return err == -ECONNRESET ? 0 : err;
}

void vub_destroy(struct vub *b)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (b->ring[i].call_fd >= 0)
			close(b->ring[i].call_fd);
		if (b->ring[i].err_fd >= 0)
			close(b->ring[i].err_fd);
		b->ring[i].call_fd = b->ring[i].err_fd = -1;
	}
	unmap_all(b);
	if (b->config_fd >= 0)
		close(b->config_fd);
	b->config_fd = -1;
	if (b->sock >= 0)
		close(b->sock);
	b->sock = -1;
}

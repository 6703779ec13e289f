/* SPDX-License-Identifier: MIT */
/* A virtio device served by a vhost-user back end (vhost-user-frontend.h). */
#include "devices/vhost-user-frontend.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/log.h"

#define REPLY_TIMEOUT_S 30 /* a back end that does not answer within this is gone */
#define OUR_PROTOCOL_FEATURES ((1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK))
/* Negotiated with the guest by the monitor, never passed to the back end. */
#define MONITOR_ONLY_FEATURES ((1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB))

static void went_away(struct vhu_front *f, const char *why);

/* ---- talking to the back end (callers serialise: ctl_lock, or init) ---- */

static bool reply_expected(uint32_t req)
{
	return req == VU_GET_FEATURES || req == VU_GET_PROTOCOL_FEATURES || req == VU_GET_QUEUE_NUM ||
	       req == VU_GET_VRING_BASE;
}

/*
 * Send m (with fds) and, for a GET, read the reply into m; for a SET with
 * REPLY_ACK, read the acknowledgement. -errno, -EPROTO for a bad or failed
 * reply.
 */
static int rpc(struct vhu_front *f, struct vu_msg *m, const int *fds, unsigned nfds)
{
	uint32_t req = m->hdr.request;
	bool get = reply_expected(req);
	bool ack = !get && (f->protocol_features & (1ULL << VU_PROTOCOL_F_REPLY_ACK));
	struct vu_msg r;
	unsigned rfds;
	int err;

	if (__atomic_load_n(&f->gone, __ATOMIC_ACQUIRE))
		return -ENOTCONN;
	if (ack)
		m->hdr.flags |= VU_FLAG_NEED_REPLY;
	err = vu_send(f->sock, m, fds, nfds);
	if (err || (!get && !ack))
		return err;
	err = vu_recv(f->sock, &r, NULL, 0, &rfds);
	if (err == -EAGAIN || err == -EWOULDBLOCK) {
		/* A late answer would put every later one out of step: the back end is gone for us. */
		if (f->thread_running)
			went_away(f, "its back end did not answer within 30 s");
		return -ETIMEDOUT;
	}
	if (err)
		return err;
	if (r.hdr.request != req || !(r.hdr.flags & VU_FLAG_REPLY)) {
		if (f->thread_running)
			went_away(f, "its back end answered out of step");
		return -EPROTO;
	}
	if (ack)
		return r.hdr.size == sizeof(uint64_t) && r.u64 == 0 ? 0 : -EPROTO;
	if (r.hdr.size != (req == VU_GET_VRING_BASE ? sizeof(struct vhost_vring_state) : sizeof(uint64_t)))
		return -EPROTO;
	memcpy(m->raw, r.raw, r.hdr.size);
	return 0;
}

static int rpc_u64(struct vhu_front *f, uint32_t req, uint64_t v, uint64_t *out)
{
	struct vu_msg m;
	int err;

	/* SET_OWNER and the GETs carry no payload; the SETs a u64. */
	vu_msg_init(&m, req, req == VU_SET_OWNER || reply_expected(req) ? 0 : sizeof(uint64_t));
	m.u64 = v;
	err = rpc(f, &m, NULL, 0);
	if (!err && out)
		*out = m.u64;
	return err;
}

static int rpc_state(struct vhu_front *f, uint32_t req, unsigned index, unsigned num, unsigned *out)
{
	struct vu_msg m;
	int err;

	vu_msg_init(&m, req, sizeof(struct vhost_vring_state));
	m.state.index = index;
	m.state.num = num;
	err = rpc(f, &m, NULL, 0);
	if (!err && out)
		*out = m.state.num;
	return err;
}

static int rpc_fd(struct vhu_front *f, uint32_t req, unsigned index, int fd)
{
	struct vu_msg m;

	vu_msg_init(&m, req, sizeof(uint64_t));
	m.u64 = index | (fd < 0 ? VU_VRING_NOFD : 0);
	return rpc(f, &m, fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}

/* The memory table: the device's view only (its aperture: one region). */
static int send_mem_table(struct vhu_front *f)
{
	const struct gm_view *v = &f->vdev.view;
	const struct guest_mem *mem = v->mem;
	struct vu_msg m;
	int fds[VU_MAX_REGIONS], fd;
	uint64_t off;
	unsigned n = 0;

	vu_msg_init(&m, VU_SET_MEM_TABLE, 0);
	memset(&m.mem, 0, sizeof(m.mem));
	if (mem->fd < 0)
		return -EINVAL; /* memory a back end cannot map (test memory) */
	for (unsigned i = 0; i < mem->nregions && n < VU_MAX_REGIONS; i++) {
		const struct gm_region *r = &mem->region[i];
		uint64_t lo = r->gpa > v->base ? r->gpa : v->base;
		uint64_t vend = v->size > UINT64_MAX - v->base ? UINT64_MAX : v->base + v->size;
		uint64_t hi = r->gpa + r->size < vend ? r->gpa + r->size : vend;

		if (lo >= hi)
			continue;
		/* An aperture has a file of its own (gm_split()): the back end can map nothing else. */
		fd = gm_fd_of(mem, lo, hi - lo, &off);
		if (fd < 0)
			return -EINVAL;
		m.mem.region[n] = (struct vu_region){
			.gpa = lo, .size = hi - lo,
			/* SAFETY: [lo, hi) lies inside region i (clipped to it just above). */
			.uaddr = (uint64_t)(uintptr_t)(r->host + (lo - r->gpa)),
			.mmap_offset = off,
		};
		fds[n++] = fd;
	}
	if (!n)
		return -EINVAL;
	m.mem.nregions = n;
	m.hdr.size = (uint32_t)(offsetof(struct vu_mem, region) + n * sizeof(struct vu_region));
	return rpc(f, &m, fds, n);
}

/* ---- the device's ops ---- */

static void front_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, unsigned len)
{
	struct vhu_front *f = vd->priv;

	pthread_mutex_lock(&f->cfg_lock);
	memcpy(data, f->config + off, len); /* the transport checked off + len <= config_size <= VHU_MAX_CONFIG */
	pthread_mutex_unlock(&f->cfg_lock);
}

static void wake_thread(struct vhu_front *f)
{
	uint64_t one = 1;

	if (write(f->dead_efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "%s: wake", f->name);
}

/*
 * The back end is gone: serve the enabled queues here (errors only), each
 * from `from_used` (resume where the back end stopped) or 0 (fresh rings).
 */
static void serve_dead(struct vhu_front *f, bool from_used)
{
	struct virtio_dev *vd = &f->vdev;

	pthread_mutex_lock(&vd->lock);
	for (unsigned i = 0; i < vd->nqueues; i++) {
		struct virtio_queue *q = &vd->q[i];

		f->dead[i] = q->enabled && q->vq.ready;
		if (f->dead[i] && from_used)
			/* SAFETY: used was checked at vq_enable; the index is read once. */
			vq_set_base(&q->vq, le16toh(__atomic_load_n(&q->vq.used->idx, __ATOMIC_ACQUIRE)));
	}
	pthread_mutex_unlock(&vd->lock);
	wake_thread(f);
}

/* DRIVER_OK: features, memory table, then every enabled queue. vCPU thread, ctl_lock held. */
static int front_start(struct virtio_dev *vd)
{
	struct vhu_front *f = vd->priv;
	uint64_t feat = (vd->driver_features & ~MONITOR_ONLY_FEATURES) |
			(f->proto ? 1ULL << VU_F_PROTOCOL_FEATURES : 0);
	int err;

	if (__atomic_load_n(&f->gone, __ATOMIC_ACQUIRE)) {
		serve_dead(f, false); /* fresh rings after a reset: errors from the first request */
		return -ENOTCONN;
	}

	if ((err = rpc_u64(f, VU_SET_FEATURES, feat, NULL)) || (err = send_mem_table(f)))
		return err;
	for (unsigned i = 0; i < vd->nqueues; i++) {
		struct virtio_queue *q = &vd->q[i];
		struct vu_msg m;

		if (!q->enabled)
			continue;
		vu_msg_init(&m, VU_SET_VRING_ADDR, sizeof(struct vhost_vring_addr));
		memset(&m.addr, 0, sizeof(m.addr));
		m.addr.index = i;
		/* SAFETY: the host addresses the transport cached when the guest enabled the
		 * queue, each covering its whole ring inside the device's view (vq_enable). */
		m.addr.desc_user_addr = (uint64_t)(uintptr_t)q->vq.desc;
		m.addr.avail_user_addr = (uint64_t)(uintptr_t)q->vq.avail;
		m.addr.used_user_addr = (uint64_t)(uintptr_t)q->vq.used;
		if ((err = rpc_state(f, VU_SET_VRING_NUM, i, q->size, NULL)) ||
		    (err = rpc_state(f, VU_SET_VRING_BASE, i, 0, NULL)) || (err = rpc(f, &m, NULL, 0)) ||
		    (err = rpc_fd(f, VU_SET_VRING_CALL, i, f->call_fd[i])) ||
		    (err = rpc_fd(f, VU_SET_VRING_ERR, i, f->err_fd[i])) ||
		    (err = rpc_fd(f, VU_SET_VRING_KICK, i, q->kick_efd)))
			return err;
		if (f->proto && (err = rpc_state(f, VU_SET_VRING_ENABLE, i, 1, NULL)))
			return err;
		f->started[i] = true;
	}
	log_debug("%s: back end started", vd->ops->name);
	return 0;
}

/* Reset: stop the back end's rings (it stops the whole device at the first). ctl_lock held. */
static void front_stop(struct virtio_dev *vd)
{
	struct vhu_front *f = vd->priv;

	pthread_mutex_lock(&vd->lock);
	memset(f->dead, 0, sizeof(f->dead)); /* the queues are about to be reset */
	pthread_mutex_unlock(&vd->lock);
	for (unsigned i = 0; i < vd->nqueues; i++) {
		if (!f->started[i])
			continue;
		f->started[i] = false;
		if (rpc_state(f, VU_GET_VRING_BASE, i, 0, NULL) && !f->gone)
			log_guest("%s (slot %u): the back end did not stop queue %u", vd->ops->name, vd->pci.slot, i);
	}
}

/* ---- the thread: call and error eventfds, and the socket hanging up ---- */

static void went_away(struct vhu_front *f, const char *why)
{
	if (__atomic_exchange_n(&f->gone, true, __ATOMIC_ACQ_REL))
		return;
	virtio_dev_fail(&f->vdev, "%s", why);
	if (f->cb && f->cb->gone)
		f->cb->gone(f->cb_ctx, f, why);
	serve_dead(f, true);
}

/* Answer what the guest queued on dead queue i with errors. The front thread only. */
static void drain_dead(struct vhu_front *f, unsigned i)
{
	struct virtio_dev *vd = &f->vdev;
	struct vq_chain *c = &f->dead_chain;
	bool pushed = false;
	int r = 0;

	pthread_mutex_lock(&vd->lock);
	/* As a worker drains: then ask for the next kick (EVENT_IDX) and look again. */
	do {
		while (f->dead[i] && (r = vq_pop(&vd->q[i].vq, c)) > 0) {
			uint32_t len = f->cb && f->cb->fail_chain ? f->cb->fail_chain(f->cb_ctx, i, c) : 0;

			if (vq_push(&vd->q[i].vq, c->head, len) < 0) {
				r = -EIO;
				break;
			}
			pushed = true;
		}
	} while (f->dead[i] && r == 0 && vq_set_avail_event(&vd->q[i].vq));
	if (r < 0)
		f->dead[i] = false; /* the guest broke the ring: nothing more to do for it */
	/* Decided under the lock: a reset on a vCPU may clear the queue as soon as we let go. */
	pushed = pushed && vq_needs_notify(&vd->q[i].vq);
	pthread_mutex_unlock(&vd->lock);
	if (pushed)
		vd->transport->queue_interrupt(vd, i);
}

static void *front_thread(void *arg)
{
	struct vhu_front *f = arg;
	struct virtio_dev *vd = &f->vdev;
	unsigned nq = vd->nqueues, n = 3 * nq + 4;
	struct pollfd p[3 * VIRTIO_MAX_QUEUES + 4];

	for (unsigned i = 0; i < nq; i++) {
		p[i] = (struct pollfd){ .fd = f->call_fd[i], .events = POLLIN };
		p[nq + i] = (struct pollfd){ .fd = f->err_fd[i], .events = POLLIN };
		p[2 * nq + 3 + i] = (struct pollfd){ .fd = -1, .events = POLLIN }; /* kicks, once dead */
	}
	p[2 * nq] = (struct pollfd){ .fd = f->sock, .events = POLLRDHUP };
	p[2 * nq + 1] = (struct pollfd){ .fd = f->stop_efd, .events = POLLIN };
	p[2 * nq + 2] = (struct pollfd){ .fd = f->dead_efd, .events = POLLIN };
	p[3 * nq + 3] = (struct pollfd){ .fd = f->cb && f->cb->config_changed ? f->config_efd : -1, .events = POLLIN };
	for (;;) {
		struct pollfd *kick = &p[2 * nq + 3];
		uint64_t v;

		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "%s: poll", f->name);
			return NULL;
		}
		if (p[2 * nq + 1].revents)
			return NULL;
		for (unsigned i = 0; i < nq; i++) {
			if ((p[i].revents & POLLIN) && read(f->call_fd[i], &v, sizeof(v)) == sizeof(v))
				vd->transport->queue_interrupt(vd, i); /* the back end decided (EVENT_IDX) */
			if ((p[nq + i].revents & POLLIN) && read(f->err_fd[i], &v, sizeof(v)) == sizeof(v))
				virtio_dev_fail(vd, "the back end refused a request on queue %u", i);
		}
		if ((p[3 * nq + 3].revents & POLLIN) && read(f->config_efd, &v, sizeof(v)) == sizeof(v))
			f->cb->config_changed(f->cb_ctx, f);
		if (p[2 * nq].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			p[2 * nq].fd = -1;
			went_away(f, "its back end hung up");
		}
		/* Dead back end: the queues' kicks come to us; answer with errors. */
		if ((p[2 * nq + 2].revents & POLLIN) && read(f->dead_efd, &v, sizeof(v)) == sizeof(v)) {
			pthread_mutex_lock(&vd->lock);
			for (unsigned i = 0; i < nq; i++)
				kick[i].fd = f->dead[i] ? vd->q[i].kick_efd : -1;
			pthread_mutex_unlock(&vd->lock);
			for (unsigned i = 0; i < nq; i++)
				if (kick[i].fd >= 0)
					drain_dead(f, i); /* what was queued before we listened */
		}
		for (unsigned i = 0; i < nq; i++)
			if ((kick[i].revents & POLLIN) && read(kick[i].fd, &v, sizeof(v)) == sizeof(v))
				drain_dead(f, i);
	}
}

/* ---- life cycle ---- */

int vhu_front_init(struct vhu_front *f, const struct virtio_dev_ops *tmpl, unsigned nqueues, const void *config,
		   const struct virtio_platform *plat, const struct gm_view *view, int sock, int config_efd,
		   const struct vhu_front_ops *cb, void *cb_ctx, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	uint64_t feat = 0, pf = 0, nq = nqueues;
	int r;

	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->config_efd = config_efd;
	f->stop_efd = f->dead_efd = -1;
	f->cb = cb;
	f->cb_ctx = cb_ctx;
	snprintf(f->name, sizeof(f->name), "%s", tmpl->name);
	pthread_mutex_init(&f->cfg_lock, NULL);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		f->call_fd[i] = f->err_fd[i] = -1;
	if (tmpl->config_size > VHU_MAX_CONFIG || nqueues == 0 || nqueues > tmpl->nqueues)
		return err_set(err, errlen, -EINVAL, "%s: bad device template", tmpl->name);
	if (config)
		memcpy(f->config, config, tmpl->config_size);
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* What the back end offers. */
	if ((r = rpc_u64(f, VU_SET_OWNER, 0, NULL)) || (r = rpc_u64(f, VU_GET_FEATURES, 0, &feat)))
		return err_set(err, errlen, r, "%s back end: no answer to GET_FEATURES (%s)", tmpl->name, strerror(-r));
	if (feat & (1ULL << VU_F_PROTOCOL_FEATURES)) {
		if ((r = rpc_u64(f, VU_GET_PROTOCOL_FEATURES, 0, &pf)))
			return err_set(err, errlen, r, "%s back end: GET_PROTOCOL_FEATURES: %s", tmpl->name, strerror(-r));
		pf &= OUR_PROTOCOL_FEATURES;
		if ((r = rpc_u64(f, VU_SET_PROTOCOL_FEATURES, pf, NULL)))
			return err_set(err, errlen, r, "%s back end: SET_PROTOCOL_FEATURES: %s", tmpl->name, strerror(-r));
		f->proto = true;
		f->protocol_features = pf;
		if ((pf & (1ULL << VU_PROTOCOL_F_MQ)) && (r = rpc_u64(f, VU_GET_QUEUE_NUM, 0, &nq)))
			return err_set(err, errlen, r, "%s back end: GET_QUEUE_NUM: %s", tmpl->name, strerror(-r));
	}
	feat &= ~(1ULL << VU_F_PROTOCOL_FEATURES);
	f->backend_features = feat;
	if (!(feat & (1ULL << VIRTIO_F_VERSION_1)))
		return err_set(err, errlen, -EPROTO, "%s back end does not offer VIRTIO_F_VERSION_1", tmpl->name);
	if (nq < nqueues)
		return err_set(err, errlen, -EPROTO, "%s back end serves %llu queues, the device needs %u", tmpl->name,
			       (unsigned long long)nq, nqueues);

	/* The guest-visible device: the template's identity, our hooks. */
	f->ops = *tmpl;
	f->ops.features = tmpl->features & feat;
	f->ops.queue_notify = NULL;
	f->ops.start = front_start;
	f->ops.quiesce = front_stop;
	f->ops.reset = NULL;
	f->ops.timer = NULL;
	f->ops.config_read = front_config_read;
	f->ops.config_write = NULL;
	r = virtio_dev_init_n(&f->vdev, &f->ops, plat, view, f, nqueues);
	if (r)
		return err_set(err, errlen, r, "%s: %s", tmpl->name, strerror(-r));
	/* Transport features too only where the back end has them. */
	f->vdev.host_features &= feat | MONITOR_ONLY_FEATURES;
	for (unsigned i = 0; i < nqueues; i++) {
		f->call_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->err_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->call_fd[i] < 0 || f->err_fd[i] < 0)
			return err_set(err, errlen, -errno, "%s: eventfd: %s", tmpl->name, strerror(errno));
	}
	f->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->dead_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->stop_efd < 0 || f->dead_efd < 0)
		return err_set(err, errlen, -errno, "%s: eventfd: %s", tmpl->name, strerror(errno));
	r = virtio_thread_start(&f->vdev, &f->thread, "backend", front_thread, f);
	if (r)
		return err_set(err, errlen, r, "%s: thread: %s", tmpl->name, strerror(-r));
	f->thread_running = true;
	return 0;
}

void vhu_front_set_config(struct vhu_front *f, unsigned off, const void *data, unsigned len)
{
	if (off > VHU_MAX_CONFIG || len > VHU_MAX_CONFIG - off)
		return;
	pthread_mutex_lock(&f->cfg_lock);
	memcpy(f->config + off, data, len);
	pthread_mutex_unlock(&f->cfg_lock);
	virtio_config_changed(&f->vdev);
}

void vhu_front_destroy(struct vhu_front *f)
{
	uint64_t one = 1;

	if (f->thread_running) {
		if (write(f->stop_efd, &one, sizeof(one)) != sizeof(one))
			log_errno(errno, "%s: stop", f->name);
		pthread_join(f->thread, NULL);
		f->thread_running = false;
	}
	if (f->vdev.ops)
		virtio_dev_destroy(&f->vdev);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (f->call_fd[i] >= 0)
			close(f->call_fd[i]);
		if (f->err_fd[i] >= 0)
			close(f->err_fd[i]);
		f->call_fd[i] = f->err_fd[i] = -1;
	}
	if (f->stop_efd >= 0)
		close(f->stop_efd);
	if (f->dead_efd >= 0)
		close(f->dead_efd);
	if (f->sock >= 0)
		close(f->sock);
	f->stop_efd = f->dead_efd = f->sock = -1;
}

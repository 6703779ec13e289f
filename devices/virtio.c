/* SPDX-License-Identifier: MIT */
/* The virtio device core: status machine, reset, worker thread, queues, failure (virtio.h). */
#include "devices/virtio.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "lib/log.h"

struct thread_start {
	void *(*fn)(void *);
	void *arg;
	char name[16];
};

/* The thread names itself (PR_SET_NAME needs no file: it works in a back end's sandbox). */
static void *thread_trampoline(void *p)
{
	struct thread_start ts = *(struct thread_start *)p;

	free(p);
	prctl(PR_SET_NAME, ts.name, 0, 0, 0);
	return ts.fn(ts.arg);
}

int virtio_thread_start(struct virtio_dev *vd, pthread_t *t, const char *role, void *(*fn)(void *), void *arg)
{
	struct thread_start *ts = malloc(sizeof(*ts));
	sigset_t all, old;
	int r;

	if (!ts)
		return -ENOMEM;
	ts->fn = fn;
	ts->arg = arg;
	snprintf(ts->name, sizeof(ts->name), "%s:%s",
		 vd->ops->name + (strncmp(vd->ops->name, "virtio-", 7) ? 0 : 7), role);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the new thread inherits the mask */
	r = pthread_create(t, NULL, thread_trampoline, ts);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		free(ts);
		return -r;
	}
	return 0;
}

void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues || !vq_needs_notify(&vd->q[q].vq))
		return;
	vd->transport->queue_interrupt(vd, q);
}

void virtio_config_changed(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	vd->config_generation++;
	pthread_mutex_unlock(&vd->lock);
	vd->transport->config_interrupt(vd);
}

void virtio_dev_kick(struct virtio_dev *vd, unsigned q)
{
	uint64_t one = 1;

	if (q < vd->nqueues && write(vd->q[q].kick_efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "%s: kick queue %u", vd->ops->name, q);
}

void virtio_dev_timer_at(struct virtio_dev *vd, uint64_t deadline_ns)
{
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(deadline_ns / 1000000000ULL),
						.tv_nsec = (long)(deadline_ns % 1000000000ULL) } };

	/* A deadline of 0 disarms; one already past fires at once (1 ns). */
	if (deadline_ns && !its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	if (vd->timer_fd >= 0 && timerfd_settime(vd->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_errno(errno, "%s: timer", vd->ops->name);
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
	__atomic_store_n(&vd->failed, true, __ATOMIC_RELEASE); /* read without the lock by virtio-fs */
	__atomic_fetch_add(&vd->violations, 1, __ATOMIC_RELAXED);
	vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_unlock(&vd->lock);
	if (first) {
		log_guest("%s (slot %u): %s; device needs reset", vd->ops->name, vd->pci.slot, msg);
		if (vd->plat->failed)
			vd->plat->failed(vd->plat->ctx, vd, msg);
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

bool virtio_queue_ready(struct virtio_dev *vd, unsigned q)
{
	bool go;

	pthread_mutex_lock(&vd->lock);
	go = q < vd->ops->nqueues && !vd->failed && vd->q[q].enabled && (vd->status & VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vd->lock);
	return go;
}

static void *worker(void *arg)
{
	struct virtio_dev *vd = arg;
	struct pollfd p[VIRTIO_MAX_QUEUES + 2];
	unsigned n = vd->nqueues;

	for (unsigned i = 0; i < n; i++) /* queues a device serves itself are not ours to watch */
		p[i] = (struct pollfd){ .fd = (vd->ops->own_queues & (1u << i)) ? -1 : vd->q[i].kick_efd, .events = POLLIN };
	p[n] = (struct pollfd){ .fd = vd->stop_efd, .events = POLLIN };
	p[n + 1] = (struct pollfd){ .fd = vd->ops->timer ? vd->timer_fd : -1, .events = POLLIN };
	for (;;) {
		uint64_t v;

		if (poll(p, n + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "%s: poll", vd->ops->name);
			return NULL;
		}
		if (p[n].revents & POLLIN)
			return NULL;
		if ((p[n + 1].revents & POLLIN) && read(vd->timer_fd, &v, sizeof(v)) == sizeof(v)) {
			bool go;

			pthread_mutex_lock(&vd->lock);
			go = !vd->failed && (vd->status & VIRTIO_CONFIG_S_DRIVER_OK);
			pthread_mutex_unlock(&vd->lock);
			if (go && vd->ops->timer(vd) < 0)
				virtio_dev_fail(vd, "timer: request rejected");
		}
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

void virtio_ctl_lock(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->ctl_lock);
	vd->ctl_owner = pthread_self();
}

void virtio_ctl_unlock(struct virtio_dev *vd)
{
	vd->ctl_owner = (pthread_t)0;
	pthread_mutex_unlock(&vd->ctl_lock);
}

static bool ctl_held(const struct virtio_dev *vd)
{
	return pthread_equal(vd->ctl_owner, pthread_self());
}

/* Caller holds ctl_lock. */
static void worker_start(struct virtio_dev *vd)
{
	uint64_t v;

	assert(ctl_held(vd));
	if (vd->worker_running)
		return;
	while (read(vd->stop_efd, &v, sizeof(v)) == sizeof(v))
		;
	if (virtio_thread_start(vd, &vd->worker, "worker", worker, vd) == 0)
		vd->worker_running = true;
	else
		log_msg("%s: cannot start its worker thread", vd->ops->name);
	if (vd->worker_running && vd->ops->threads_start && vd->ops->threads_start(vd))
		virtio_dev_fail(vd, "cannot start the threads of its queues");
}

/* Caller holds ctl_lock; never the worker itself. */
static void worker_stop(struct virtio_dev *vd)
{
	uint64_t one = 1;

	assert(ctl_held(vd));
	assert(!vd->worker_running || !pthread_equal(vd->worker, pthread_self()));
	if (!vd->worker_running)
		return;
	if (vd->ops->threads_stop)
		vd->ops->threads_stop(vd);
	if (write(vd->stop_efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "%s: stop worker", vd->ops->name);
	pthread_join(vd->worker, NULL);
	vd->worker_running = false;
}

/* Device reset. Caller holds ctl_lock, not vd->lock. */
static void do_reset(struct virtio_dev *vd)
{
	worker_stop(vd);
	if (vd->ops->quiesce)
		vd->ops->quiesce(vd);
	pthread_mutex_lock(&vd->lock);
	vd->status = 0;
	vd->isr = 0;
	__atomic_store_n(&vd->failed, false, __ATOMIC_RELEASE);
	vd->driver_features = 0;
	vd->dfselect = vd->gfselect = 0;
	vd->queue_select = 0;
	vd->config_msix = VIRTIO_MSI_NO_VECTOR;
	for (unsigned i = 0; i < vd->nqueues; i++) {
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

/* ---- the status machine ---- */

static bool features_acceptable(struct virtio_dev *vd)
{
	return !(vd->driver_features & ~vd->host_features) && (vd->driver_features & (1ULL << VIRTIO_F_VERSION_1)) &&
	       (vd->driver_features & vd->required_features) == vd->required_features;
}

enum virtio_action virtio_status_write(struct virtio_dev *vd, uint8_t v)
{
	uint8_t old = vd->status;

	if (v == 0)
		return VIRTIO_ACT_RESET;
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable(vd)) {
		uint64_t missing = vd->required_features & ~vd->driver_features;

		log_guest("%s (slot %u): refusing FEATURES_OK for driver features 0x%llx (offered 0x%llx%s)",
			vd->ops->name, vd->pci.slot, (unsigned long long)vd->driver_features,
			(unsigned long long)vd->host_features,
			(missing & (1ULL << VIRTIO_F_SWIOTLB)) ? "; the driver did not accept its DMA aperture (SWIOTLB)"
			: missing ? "; required features missing" : "");
		v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	/*
	 * Bits only accumulate until a reset (the driver must not clear one,
	 * virtio 1.2 2.1.2): a write that would clear bits keeps them, so a
	 * status of 0 always means a reset happened. NEEDS_RESET is the
	 * device's to set; keep it once set.
	 */
	v = (uint8_t)((v & ~VIRTIO_CONFIG_S_NEEDS_RESET) | old);
	vd->status = v;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (!(v & VIRTIO_CONFIG_S_FEATURES_OK))
			return VIRTIO_ACT_NONE; /* a driver that skips FEATURES_OK gets no service */
		return VIRTIO_ACT_START;
	}
	return VIRTIO_ACT_NONE;
}

void virtio_worker_stop(struct virtio_dev *vd)
{
	worker_stop(vd);
}

void virtio_worker_start(struct virtio_dev *vd)
{
	worker_start(vd);
}

void virtio_run_action(struct virtio_dev *vd, enum virtio_action act)
{
	if (act == VIRTIO_ACT_RESET) {
		do_reset(vd);
	} else if (act == VIRTIO_ACT_START && vd->ops->start) {
		int err = vd->ops->start(vd);

		if (err)
			virtio_dev_fail(vd, "cannot start the device's back end: %s", strerror(-err));
	} else if (act == VIRTIO_ACT_START) {
		worker_start(vd);
	}
}

/* ---- life cycle ---- */

int virtio_core_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		     const struct gm_view *view, void *priv, unsigned nqueues, uint64_t transport_features)
{
	unsigned nq = nqueues;

	if (nq == 0 || nq > ops->nqueues || nq > VIRTIO_MAX_QUEUES || !(ops->queue_notify || ops->start) || !ops->config_read ||
	    ops->queue_size == 0 || (ops->queue_size & (ops->queue_size - 1)) ||
	    (ops->own_queues && (!ops->quiesce || !ops->reset || !ops->threads_start || !ops->threads_stop)))
		return -EINVAL;
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->nqueues = nq;
	vd->plat = plat;
	vd->priv = priv;
	vd->view = *view;
	vd->view.stats = &vd->stats;
	vd->host_features = ops->features | transport_features;
	vd->stop_efd = -1;
	vd->timer_fd = -1;
	pthread_mutex_init(&vd->ctl_lock, NULL);
	pthread_mutex_init(&vd->lock, NULL);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->q[i].kick_efd = -1;
	vd->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->stop_efd < 0)
		return -errno;
	if (ops->timer) {
		vd->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (vd->timer_fd < 0)
			return -errno;
	}
	for (unsigned i = 0; i < nq; i++) {
		vd->q[i].kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->q[i].kick_efd < 0)
			return -errno;
		vd->q[i].size = ops->queue_size;
		vd->q[i].msix = VIRTIO_MSI_NO_VECTOR;
	}
	return 0;
}

void virtio_core_destroy(struct virtio_dev *vd)
{
	virtio_ctl_lock(vd);
	worker_stop(vd);
	virtio_ctl_unlock(vd);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (vd->q[i].kick_efd >= 0)
			close(vd->q[i].kick_efd);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->q[i].kick_efd = -1;
	if (vd->stop_efd >= 0)
		close(vd->stop_efd);
	vd->stop_efd = -1;
	if (vd->timer_fd >= 0)
		close(vd->timer_fd);
	vd->timer_fd = -1;
}

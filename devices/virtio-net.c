/* SPDX-License-Identifier: MIT */
/* virtio-net: see the header for the queues, the threads and what is trusted. */
#include "devices/virtio-net.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "lib/log.h"

#define F(x) (1ULL << (x))
/* What every virtio-net device offers, whatever its back end. */
#define NET_BASE_FEATURES \
	(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MRG_RXBUF) | \
	 F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX))
/* Offloads a back end may add (the rest of its features are ignored). */
#define NET_OFFLOAD_FEATURES \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | \
	 F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
	 F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))
/* The receive offloads CTRL_GUEST_OFFLOADS_SET may switch. */
#define NET_GUEST_OFFLOADS \
	(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN))
#define STAGE_SIZE (NET_HDR_LEN + NET_MAX_FRAME)
#define MAX_TX_IOV 64
/* Frames one pass over a queue handles before the pair's other queues get a turn. */
#define NET_BUDGET 256

static unsigned rxq(unsigned pair) { return 2 * pair; }
static unsigned txq(unsigned pair) { return 2 * pair + 1; }
static unsigned ctrlq(const struct virtio_net *n) { return 2 * n->pairs; }

static void stat_add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static bool negotiated(const struct virtio_net *n, unsigned bit)
{
	/* Fixed from FEATURES_OK on; queues run only after DRIVER_OK. */
	return n->vdev.driver_features & F(bit);
}

/* Guest-triggered lines: rate-limited per call site (log_guest). */
#define rl_log(rl, fmt, ...) log_guest("virtio-net: " fmt, __VA_ARGS__)

/* The back end said -EPIPE/-EPROTO: report it once, link down, config interrupt. */
static void link_lost(struct virtio_net *n, int err)
{
	char why[160] = "";

	__atomic_store_n(&n->link_up, false, __ATOMIC_RELEASE);
	__atomic_store_n(&n->stats->link_down, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&n->loss_reported, true, __ATOMIC_ACQ_REL))
		return;
	if (n->be->describe_loss)
		n->be->describe_loss(n->be->loss_ctx, why, sizeof(why));
	log_msg("virtio-net: %s back end lost (%s); link down, the VM keeps running", n->be->kind,
		why[0] ? why : err == -EPROTO ? "it sent a malformed frame length" : "its connection closed");
	virtio_config_changed(&n->vdev);
}

static bool link_up(const struct virtio_net *n)
{
	return __atomic_load_n(&n->link_up, __ATOMIC_ACQUIRE);
}

static bool pair_active(const struct virtio_net *n, unsigned i)
{
	return i < __atomic_load_n(&n->active_pairs, __ATOMIC_ACQUIRE);
}

/* ---- transmit: guest -> back end ---- */

/* The Internet checksum of [start, len) of f, folded, as NEEDS_CSUM asks. */
static uint16_t inet_csum(const uint8_t *f, size_t start, size_t len)
{
	uint64_t s = 0;
	size_t i = start;

	for (; i + 1 < len; i += 2)
		s += (uint32_t)(f[i] << 8 | f[i + 1]);
	if (i < len)
		s += (uint32_t)f[i] << 8;
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	s = ~s & 0xFFFF;
	return s ? (uint16_t)s : 0xFFFF;
}

/*
 * A back end without the virtio-net header cannot take NEEDS_CSUM: copy
 * the frame out of guest memory and complete its checksum (what the spec
 * asks of the device: the sum from csum_start to the end, stored at
 * csum_start + csum_offset). No protocol is parsed; tx_hdr_check() put
 * both positions inside the frame.
 */
static int csum_complete(struct net_pair *p, const struct virtio_net_hdr_v1 *h, struct iov_cursor *cur,
			 uint32_t flen, struct iovec *v)
{
	size_t cs = le16toh(h->csum_start), at = cs + le16toh(h->csum_offset);
	uint16_t sum;

	if (!iov_read(cur, p->txbuf, flen))
		return -1; /* cannot happen: out_len was checked */
	/* The field holds the driver's pseudo-header sum: it is part of the sum. */
	sum = inet_csum(p->txbuf, cs, flen);
	p->txbuf[at] = (uint8_t)(sum >> 8);
	p->txbuf[at + 1] = (uint8_t)sum;
	*v = (struct iovec){ .iov_base = p->txbuf, .iov_len = flen };
	return 1;
}

/*
 * Is the header the guest wrote acceptable for a frame of flen bytes with
 * the negotiated features? NULL when it is, else the reason.
 */
static const char *tx_hdr_check(const struct virtio_net *n, const struct virtio_net_hdr_v1 *h, uint32_t flen)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t cs = le16toh(h->csum_start), co = le16toh(h->csum_offset);

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return "unknown header flags";
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!negotiated(n, VIRTIO_NET_F_CSUM))
			return "NEEDS_CSUM without the CSUM feature";
		if ((uint32_t)cs + co + 2 > flen)
			return "checksum position outside the frame";
	}
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return "ECN without segmentation";
		return NULL;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!negotiated(n, VIRTIO_NET_F_HOST_TSO4))
			return "TSO4 not negotiated";
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!negotiated(n, VIRTIO_NET_F_HOST_TSO6))
			return "TSO6 not negotiated";
		break;
	default:
		return "unknown gso_type";
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !negotiated(n, VIRTIO_NET_F_HOST_ECN))
		return "ECN not negotiated";
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return "segmentation without NEEDS_CSUM";
	if (le16toh(h->gso_size) == 0)
		return "gso_size 0";
	if (le16toh(h->hdr_len) > flen)
		return "hdr_len beyond the frame";
	return NULL;
}

/*
 * Send the frame of chain c. 1: done with it (sent or dropped: push it),
 * 0: the back end is busy (keep c and retry after POLLOUT), < 0: guest error
 * (virtio_dev_fail() done).
 */
static int tx_one(struct virtio_net *n, struct net_pair *p, const struct vq_chain *c)
{
	struct iovec v[MAX_TX_IOV + 1];
	struct virtio_net_hdr_v1 h;
	struct iov_cursor cur;
	const char *why;
	uint32_t flen;
	int nv, r;

	if (c->nr_in) {
		virtio_dev_fail(&n->vdev, "transmit queue %u: chain %u has a device-writable buffer", txq(p->index),
				c->head);
		return -EINVAL;
	}
	if (c->out_len < NET_HDR_LEN + NET_MIN_FRAME || c->out_len > NET_HDR_LEN + NET_MAX_FRAME) {
		stat_add(&n->stats->tx_bad, 1);
		rl_log(&n->rl_tx, "transmit queue %u: dropped a frame of %u bytes (header included; %u..%u allowed)",
		       txq(p->index), c->out_len, NET_HDR_LEN + NET_MIN_FRAME, NET_HDR_LEN + NET_MAX_FRAME);
		return 1;
	}
	flen = c->out_len - NET_HDR_LEN;
	iov_cursor_init(&cur, c->iov, c->nr_out);
	/* One read of the header into a local copy: only the copy is checked and used. */
	if (!iov_read_obj(&cur, &h))
		return 1; /* cannot happen: out_len checked */
	why = tx_hdr_check(n, &h, flen);
	if (why) {
		stat_add(&n->stats->tx_bad, 1);
		rl_log(&n->rl_tx, "transmit queue %u: dropped a frame: %s (flags 0x%x, gso_type 0x%x)", txq(p->index),
		       why, h.flags, h.gso_type);
		return 1;
	}
	if (!n->be->vnet_hdr && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		nv = csum_complete(p, &h, &cur, flen, &v[1]);
	} else {
		nv = iov_take(&cur, flen, v + 1, MAX_TX_IOV);
	}
	if (nv < 0) {
		stat_add(&n->stats->tx_bad, 1);
		rl_log(&n->rl_tx, "transmit queue %u: dropped a frame spread over more than %d buffers", txq(p->index),
		       MAX_TX_IOV);
		return 1;
	}
	if (!link_up(n)) {
		stat_add(&n->stats->tx_dropped, 1);
		return 1;
	}
	h.num_buffers = 0;
	v[0] = (struct iovec){ .iov_base = &h, .iov_len = NET_HDR_LEN };
	if (n->be->vnet_hdr)
		r = n->be->ops->send(n->be, p->index, v, (unsigned)nv + 1);
	else
		r = n->be->ops->send(n->be, p->index, v + 1, (unsigned)nv);
	switch (r) {
	case 0:
		stat_add(&n->stats->tx_frames, 1);
		stat_add(&n->stats->tx_bytes, flen);
		return 1;
	case -EAGAIN:
		return 0;
	case -EPIPE:
	case -EPROTO:
		link_lost(n, r);
		/* fall through */
	default:
		stat_add(&n->stats->tx_dropped, 1);
		return 1;
	}
}

/*
 * Drain the transmit queue of pair p. 0; 1 when it stopped at the budget
 * with more to do; < 0 after virtio_dev_fail().
 */
static int tx_process(struct virtio_net *n, struct net_pair *p)
{
	unsigned q = txq(p->index), done = 0;
	int r = 0;

	p->tx_blocked = false;
	do {
		for (;;) {
			if (n->be->ops->flush && link_up(n)) {
				r = n->be->ops->flush(n->be, p->index);
				if (r == -EAGAIN) {
					p->tx_blocked = true;
					r = 0;
					goto out;
				}
				if (r) {
					link_lost(n, r);
					r = 0;
				}
			}
			if (!p->tx_pending) {
				r = virtio_pop(&n->vdev, q, p->tx_chain);
				if (r <= 0)
					break;
				p->tx_pending = true;
			}
			r = tx_one(n, p, p->tx_chain);
			if (r < 0)
				goto out;
			if (r == 0) {
				p->tx_blocked = true;
				r = 0;
				goto out;
			}
			p->tx_pending = false;
			r = virtio_push(&n->vdev, q, p->tx_chain->head, 0);
			if (r < 0)
				goto out;
			if (++done == NET_BUDGET) {
				r = 1;
				goto out;
			}
		}
		if (r < 0)
			break;
	} while (vq_set_avail_event(&n->vdev.q[q].vq));
out:
	if (done)
		virtio_queue_interrupt(&n->vdev, q);
	return r;
}

/* ---- receive: back end -> guest ---- */

/* Take one more receive buffer into the held FIFO. 1, 0 (none), < 0 guest error. */
static int rx_take(struct virtio_net *n, struct net_pair *p)
{
	struct vq_chain *c = p->chain;
	struct net_rxbuf *b;
	int r;

	if (p->held_count == VIRTIO_NET_QUEUE_SIZE) {
		virtio_dev_fail(&n->vdev, "receive queue %u: more buffers posted than the queue holds", rxq(p->index));
		return -EINVAL;
	}
	r = virtio_pop(&n->vdev, rxq(p->index), c);
	if (r <= 0)
		return r;
	if (c->nr_out) {
		virtio_dev_fail(&n->vdev, "receive queue %u: buffer %u is device-readable", rxq(p->index), c->head);
		return -EINVAL;
	}
	b = &p->held[(p->held_head + p->held_count) % VIRTIO_NET_QUEUE_SIZE];
	b->head = c->head;
	b->nseg = (uint16_t)(c->nr_in < VIRTIO_NET_RX_SEGS ? c->nr_in : VIRTIO_NET_RX_SEGS);
	b->cap = 0;
	for (unsigned i = 0; i < b->nseg; i++) {
		b->iov[i] = c->iov[i];
		b->cap += (uint32_t)c->iov[i].iov_len; /* at most 1 GiB per chain */
	}
	if (b->cap < NET_HDR_LEN) {
		virtio_dev_fail(&n->vdev, "receive queue %u: buffer %u is shorter than a virtio-net header",
				rxq(p->index), c->head);
		return -EINVAL;
	}
	p->held_count++;
	p->held_cap += b->cap;
	return 1;
}

/* Give the oldest held buffer back to the driver with len bytes written. */
static int rx_use(struct virtio_net *n, struct net_pair *p, uint32_t len)
{
	struct net_rxbuf *b = &p->held[p->held_head];

	p->held_head = (p->held_head + 1) % VIRTIO_NET_QUEUE_SIZE;
	p->held_count--;
	p->held_cap -= b->cap;
	return virtio_push(&n->vdev, rxq(p->index), b->head, len);
}

/*
 * Place the staged frame into receive buffers. 1: placed (or dropped: it
 * can never fit), 0: not enough buffers yet, < 0: guest error.
 */
static int rx_deliver(struct virtio_net *n, struct net_pair *p)
{
	bool mrg = negotiated(n, VIRTIO_NET_F_MRG_RXBUF);
	size_t need = p->stage_len, off = 0;
	unsigned k = 0;
	uint16_t nb;
	int r;

	while (mrg ? p->held_cap < need : p->held_count == 0) {
		if (p->held_count == n->vdev.q[rxq(p->index)].size) {
			/* Every slot of the ring is ours and still too small. */
			stat_add(&n->stats->rx_dropped, 1);
			rl_log(&n->rl_rx, "receive queue %u: dropped a frame of %zu bytes: the guest's buffers hold %llu",
			       rxq(p->index), need, (unsigned long long)p->held_cap);
			p->stage_len = 0;
			return 1;
		}
		r = rx_take(n, p);
		if (r <= 0)
			return r;
	}
	if (!mrg) {
		if (p->held[p->held_head].cap < need) {
			stat_add(&n->stats->rx_dropped, 1);
			rl_log(&n->rl_rx, "receive queue %u: dropped a frame of %zu bytes: the guest's buffer holds %u",
			       rxq(p->index), need, p->held[p->held_head].cap);
			p->stage_len = 0; /* the buffer stays for a smaller frame */
			return 1;
		}
		k = 1;
	} else {
		uint64_t sum = 0;

		for (k = 0; sum < need; k++)
			sum += p->held[(p->held_head + k) % VIRTIO_NET_QUEUE_SIZE].cap;
	}
	nb = htole16((uint16_t)k);
	memcpy(p->stage + offsetof(struct virtio_net_hdr_v1, num_buffers), &nb, sizeof(nb));
	for (unsigned i = 0; i < k; i++) {
		const struct net_rxbuf *b = &p->held[p->held_head];
		size_t len = need - off < b->cap ? need - off : b->cap;

		(void)iov_scatter(b->iov, b->nseg, 0, p->stage + off, len); /* len <= cap: cannot fail */
		off += len;
		r = rx_use(n, p, (uint32_t)len);
		if (r < 0)
			return r;
	}
	stat_add(&n->stats->rx_frames, 1);
	stat_add(&n->stats->rx_bytes, need - NET_HDR_LEN);
	p->stage_len = 0;
	return 1;
}

/* Stage the next frame from the back end. 1: staged, 0: none now (or link down). */
static int rx_fetch(struct virtio_net *n, struct net_pair *p)
{
	for (;;) {
		ssize_t r;

		if (!link_up(n) || !pair_active(n, p->index))
			return 0;
		r = n->be->ops->recv(n->be, p->index, p->stage, STAGE_SIZE);
		if (r == -EAGAIN)
			return 0;
		if (r == -EMSGSIZE) {
			stat_add(&n->stats->rx_dropped, 1);
			continue;
		}
		if (r < 0) {
			link_lost(n, (int)r);
			return 0;
		}
		if (n->be->vnet_hdr) {
			p->stage_len = (size_t)r;
		} else {
			/* Frames the back end checksummed and did not segment. */
			memset(p->stage, 0, NET_HDR_LEN);
			p->stage_len = NET_HDR_LEN + (size_t)r;
		}
		return 1;
	}
}

/* Move frames from the back end into the receive queue of pair p; returns as tx_process(). */
static int rx_process(struct virtio_net *n, struct net_pair *p)
{
	unsigned q = rxq(p->index), placed = 0, total = 0;
	bool starved = false;
	int r = 0;

	for (;;) {
		if (total == NET_BUDGET) {
			r = 1;
			break;
		}
		if (!p->stage_len && !rx_fetch(n, p))
			break;
		r = rx_deliver(n, p);
		if (r < 0)
			break;
		if (r == 0) {
			/* Starved: ask for a kick when buffers come, unless they already did. */
			if (vq_set_avail_event(&n->vdev.q[q].vq))
				continue;
			starved = true;
			break;
		}
		r = 0;
		total++;
		if (++placed == VIRTIO_NET_RX_BATCH) {
			virtio_queue_interrupt(&n->vdev, q);
			placed = 0;
		}
	}
	p->rx_starved = starved;
	if (placed)
		virtio_queue_interrupt(&n->vdev, q);
	return r;
}

/* ---- control queue ---- */

static unsigned tun_flags(uint64_t offloads)
{
	unsigned f = 0;

	if (offloads & F(VIRTIO_NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (offloads & F(VIRTIO_NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (offloads & F(VIRTIO_NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if ((offloads & F(VIRTIO_NET_F_GUEST_ECN)) && (f & (TUN_F_TSO4 | TUN_F_TSO6)))
			f |= TUN_F_TSO_ECN;
	}
	return f;
}

static int set_offloads(struct virtio_net *n, uint64_t offloads)
{
	if (!n->be->ops->set_offloads)
		return offloads & NET_GUEST_OFFLOADS ? -EOPNOTSUPP : 0;
	return n->be->ops->set_offloads(n->be, tun_flags(offloads));
}

/* Wake every pair thread to look at its state again. */
static void wake_pairs(struct virtio_net *n)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < n->pairs; i++)
		if (n->pair[i].running && write(n->pair[i].wake_efd, &one, sizeof(one)) != sizeof(one))
			log_errno(errno, "virtio-net: waking queue pair %u", i);
}

/* One command; its data (after class and command) is at cur. NULL or why it is refused. */
static const char *ctrl_cmd(struct virtio_net *n, uint8_t cls, uint8_t cmd, struct iov_cursor *cur)
{
	size_t left = iov_cursor_left(cur);

	switch (cls) {
	case VIRTIO_NET_CTRL_RX:
		if (!negotiated(n, VIRTIO_NET_F_CTRL_RX))
			return "RX class not negotiated";
		if (cmd != VIRTIO_NET_CTRL_RX_PROMISC && cmd != VIRTIO_NET_CTRL_RX_ALLMULTI)
			return "RX command not negotiated";
		/* Every frame reaches the guest anyway: nothing to filter. */
		return left == 1 ? NULL : "RX command data is not one byte";
	case VIRTIO_NET_CTRL_MAC:
		if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return "MAC command not negotiated";
		/* Two tables (unicast, multicast): le32 entries, then 6 bytes each. */
		for (int t = 0; t < 2; t++) {
			uint32_t entries;

			if (!iov_read_obj(cur, &entries))
				return "MAC table truncated";
			entries = le32toh(entries);
			if (entries > iov_cursor_left(cur) / 6 || !iov_skip(cur, (size_t)entries * 6))
				return "MAC table longer than its data";
		}
		return iov_cursor_left(cur) ? "bytes after the MAC tables" : NULL;
	case VIRTIO_NET_CTRL_MQ: {
		uint16_t pairs;

		if (!negotiated(n, VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
			return "MQ command not negotiated";
		if (left != sizeof(pairs) || !iov_read_obj(cur, &pairs))
			return "VQ_PAIRS_SET data is not two bytes";
		pairs = le16toh(pairs);
		if (pairs < 1 || pairs > n->pairs)
			return "VQ_PAIRS_SET out of range";
		if (n->be->ops->set_pairs && n->be->ops->set_pairs(n->be, pairs))
			return "the back end cannot change its queues";
		__atomic_store_n(&n->active_pairs, pairs, __ATOMIC_RELEASE);
		wake_pairs(n);
		return NULL;
	}
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS: {
		uint64_t off;

		if (!negotiated(n, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) || cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET)
			return "GUEST_OFFLOADS command not negotiated";
		if (left != sizeof(off) || !iov_read_obj(cur, &off))
			return "GUEST_OFFLOADS_SET data is not eight bytes";
		off = le64toh(off);
		if (off & ~(n->vdev.driver_features & NET_GUEST_OFFLOADS))
			return "offloads that were not negotiated";
		return set_offloads(n, off) ? "the back end refused the offloads" : NULL;
	}
	default:
		return "unknown class";
	}
}

static int ctrl_process(struct virtio_net *n)
{
	unsigned q = ctrlq(n), done = 0;
	struct vq_chain *c = n->pair[0].chain;
	int r;

	do {
		while ((r = virtio_pop(&n->vdev, q, c)) > 0) {
			struct iov_cursor cur;
			uint8_t hdr[2], ack = VIRTIO_NET_ERR;
			const char *why;

			if (c->nr_in == 0) {
				/* Nowhere to answer: drop it (the driver waits for it in vain). */
				stat_add(&n->stats->ctrl_bad, 1);
				rl_log(&n->rl_ctrl, "control command %u dropped: no room for its ack", c->head);
				if (virtio_push(&n->vdev, q, c->head, 0) < 0)
					return -EINVAL;
				done++;
				continue;
			}
			iov_cursor_init(&cur, c->iov, c->nr_out);
			if (!iov_read(&cur, hdr, sizeof(hdr)))
				why = "shorter than class and command";
			else
				why = ctrl_cmd(n, hdr[0], hdr[1], &cur);
			log_debug("virtio-net: control command %u/%u: %s", hdr[0], hdr[1], why ? why : "ok");
			if (why) {
				stat_add(&n->stats->ctrl_bad, 1);
				rl_log(&n->rl_ctrl, "control command refused: %s", why);
			} else {
				ack = VIRTIO_NET_OK;
				stat_add(&n->stats->ctrl_ok, 1);
			}
			/* The ack is the first writable byte. */
			(void)iov_scatter(c->iov + c->nr_out, c->nr_in, 0, &ack, 1);
			if (virtio_push(&n->vdev, q, c->head, 1) < 0)
				return -EINVAL;
			done++;
		}
		if (r < 0)
			return r;
	} while (vq_set_avail_event(&n->vdev.q[q].vq));
	if (done)
		virtio_queue_interrupt(&n->vdev, q);
	return 0;
}

/* ---- transport ops ---- */

/*
 * One pass over queue q, never blocking (the pair threads call it; so do
 * fuzz targets): 0, 1 when a budget left work for another pass, < 0 for a
 * guest error (virtio_dev_fail() done).
 */
static int net_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_net *n = vd->priv;

	if (q == ctrlq(n))
		return ctrl_process(n);
	if (q % 2)
		return tx_process(n, &n->pair[q / 2]);
	return rx_process(n, &n->pair[q / 2]);
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_net *n = vd->priv;
	struct virtio_net_config c;

	memset(&c, 0, sizeof(c));
	memcpy(c.mac, n->mac, sizeof(c.mac));
	c.status = htole16(link_up(n) ? VIRTIO_NET_S_LINK_UP : 0);
	c.max_virtqueue_pairs = htole16((uint16_t)n->pairs);
	c.mtu = htole16(n->be->mtu);
	memcpy(data, (const uint8_t *)&c + off, len); /* range checked by the transport */
}

/* Is queue q ready for work (device not failed, DRIVER_OK, queue enabled)? */
static bool queue_ready(struct virtio_dev *vd, unsigned q)
{
	bool ok;

	pthread_mutex_lock(&vd->lock);
	ok = !vd->failed && (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) && vd->q[q].enabled;
	pthread_mutex_unlock(&vd->lock);
	return ok;
}

static bool drain(int efd)
{
	uint64_t v;

	return read(efd, &v, sizeof(v)) == sizeof(v);
}

static void *pair_thread(void *arg)
{
	struct net_pair *p = arg;
	struct virtio_net *n = p->n;
	struct virtio_dev *vd = &n->vdev;
	unsigned rq = rxq(p->index), tq = txq(p->index), cq = ctrlq(n);
	bool want_rx = true, want_tx = true, want_ctrl = p->index == 0;

	for (;;) {
		struct pollfd pf[5];
		unsigned np = 0, be_slot = 0;
		short be_ev = 0;
		bool more_rx = false, more_tx = false;
		int r;

		if (want_ctrl && queue_ready(vd, cq) && net_queue_notify(vd, cq) < 0)
			want_rx = want_tx = false;
		if (want_tx && queue_ready(vd, tq)) {
			r = net_queue_notify(vd, tq);
			more_tx = r > 0;
			if (r < 0)
				want_rx = false;
		}
		if (want_rx && queue_ready(vd, rq))
			more_rx = net_queue_notify(vd, rq) > 0;
		want_rx = more_rx;
		want_tx = more_tx;
		want_ctrl = false;

		pf[np++] = (struct pollfd){ .fd = p->wake_efd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = vd->q[tq].kick_efd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = vd->q[rq].kick_efd, .events = POLLIN };
		if (p->index == 0)
			pf[np++] = (struct pollfd){ .fd = vd->q[cq].kick_efd, .events = POLLIN };
		if (link_up(n) && !__atomic_load_n(&vd->failed, __ATOMIC_ACQUIRE)) {
			if (!p->rx_starved && pair_active(n, p->index))
				be_ev |= POLLIN;
			if (p->tx_blocked)
				be_ev |= POLLOUT;
		}
		if (be_ev) {
			be_slot = np;
			pf[np++] = (struct pollfd){ .fd = n->be->ops->fd(n->be, p->index), .events = be_ev };
		}
		/* With work left over from a budget, only look at the fds, do not wait. */
		if (poll(pf, np, more_rx || more_tx ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "virtio-net: queue pair %u: poll", p->index);
			return NULL;
		}
		if (pf[0].revents & POLLIN) {
			drain(p->wake_efd);
			if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
				return NULL;
			want_rx = want_tx = true; /* pairs or link changed: look again */
		}
		if ((pf[1].revents & POLLIN) && drain(vd->q[tq].kick_efd))
			want_tx = true;
		if ((pf[2].revents & POLLIN) && drain(vd->q[rq].kick_efd))
			want_rx = true;
		if (p->index == 0 && (pf[3].revents & POLLIN) && drain(vd->q[cq].kick_efd))
			want_ctrl = true;
		if (be_slot) {
			if (pf[be_slot].revents & (POLLOUT | POLLERR | POLLHUP))
				want_tx = true;
			if (pf[be_slot].revents & (POLLIN | POLLERR | POLLHUP))
				want_rx = true;
		}
	}
}

static int net_start(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	/*
	 * The first start after DRIVER_OK sets the host side up; a vhost-user
	 * back end starts the threads again around new kick descriptors, and
	 * that must not undo what the guest set since (VQ_PAIRS_SET, offloads).
	 */
	if (!n->configured) {
		__atomic_store_n(&n->active_pairs, 1, __ATOMIC_RELEASE);
		if (n->be->ops->set_pairs && n->be->ops->set_pairs(n->be, 1))
			log_msg("virtio-net: %s: cannot detach the queues the guest does not use yet", n->be->name);
		if (set_offloads(n, vd->driver_features & NET_GUEST_OFFLOADS))
			log_msg("virtio-net: %s: cannot set the receive offloads the guest negotiated", n->be->name);
		n->configured = true;
	}
	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_pair *p = &n->pair[i];

		__atomic_store_n(&p->stop, false, __ATOMIC_RELEASE);
		drain(p->wake_efd);
		char role[16];

		snprintf(role, sizeof(role), "pair%u", i);
		if (virtio_thread_start(vd, &p->thread, role, pair_thread, p))
			return -EAGAIN; /* the transport fails the device; quiesce stops the rest */
		p->running = true;
	}
	return 0;
}

static void net_stop(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;
	uint64_t one = 1;

	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_pair *p = &n->pair[i];

		if (!p->running)
			continue;
		__atomic_store_n(&p->stop, true, __ATOMIC_RELEASE);
		if (write(p->wake_efd, &one, sizeof(one)) != sizeof(one))
			log_errno(errno, "virtio-net: stopping queue pair %u", i);
		pthread_join(p->thread, NULL);
		p->running = false;
	}
}

/* Before the queues are reset (and at destroy): the pair threads stop. */
static void net_quiesce(struct virtio_dev *vd)
{
	net_stop(vd);
}

/* Threads stopped: forget held buffers and staged frames. */
static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_pair *p = &n->pair[i];

		p->held_head = p->held_count = 0;
		p->held_cap = 0;
		p->stage_len = 0;
		p->rx_starved = p->tx_blocked = p->tx_pending = false;
	}
	__atomic_store_n(&n->active_pairs, 1, __ATOMIC_RELEASE);
	(void)set_offloads(n, 0);
	n->configured = false;
}

static const struct virtio_dev_ops net_ops_template = {
	.name = "virtio-net",
	.type = VIRTIO_ID_NET,
	.pci_class = 0x020000, /* network, Ethernet */
	.queue_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.quiesce = net_quiesce,
	.start = net_start,
};

void virtio_net_default_mac(const char *seed, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (const char *s = seed; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & 0xFC) | 0x02); /* locally administered, unicast */
}

int virtio_net_describe(const struct net_backend *be, const uint8_t mac[6], struct virtio_dev_ops *ops,
			struct virtio_net_config *cfg)
{
	if (!be || be->pairs == 0 || be->pairs > NET_MAX_PAIRS || (mac[0] & 1) || be->mtu < 68)
		return -EINVAL;
	*ops = net_ops_template;
	ops->nqueues = 2 * be->pairs + 1;
	/* Without a header in the back end's frames, the device completes checksums itself. */
	ops->features = NET_BASE_FEATURES | (be->features & NET_OFFLOAD_FEATURES) | (be->vnet_hdr ? 0 : F(VIRTIO_NET_F_CSUM)) |
			(be->pairs > 1 ? F(VIRTIO_NET_F_MQ) : 0);
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, mac, sizeof(cfg->mac));
	cfg->status = htole16(VIRTIO_NET_S_LINK_UP);
	cfg->max_virtqueue_pairs = htole16((uint16_t)be->pairs);
	cfg->mtu = htole16(be->mtu);
	return 0;
}

void virtio_net_share_stats(struct virtio_net *n, struct virtio_net_stats *shared)
{
	n->stats = shared;
}

int virtio_net_init(struct virtio_net *n, const struct virtio_platform *plat, const struct gm_view *view,
		    struct net_backend *be, const uint8_t mac[6])
{
	struct virtio_net_config cfg;
	int err;

	memset(n, 0, sizeof(*n));
	n->stats = &n->own_stats;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		n->pair[i].wake_efd = -1;
	if (virtio_net_describe(be, mac, &n->ops, &cfg))
		return -EINVAL;
	n->be = be;
	memcpy(n->mac, mac, sizeof(n->mac));
	n->pairs = be->pairs;
	n->active_pairs = 1;
	n->link_up = true;
	n->ops.nqueues = 2 * NET_MAX_PAIRS + 1;
	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_pair *p = &n->pair[i];

		p->n = n;
		p->index = i;
		p->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		p->held = calloc(VIRTIO_NET_QUEUE_SIZE, sizeof(*p->held));
		p->stage = malloc(STAGE_SIZE);
		p->tx_chain = malloc(sizeof(*p->tx_chain));
		p->chain = malloc(sizeof(*p->chain));
		p->txbuf = malloc(NET_MAX_FRAME);
		if (p->wake_efd < 0 || !p->held || !p->stage || !p->tx_chain || !p->chain || !p->txbuf) {
			err = p->wake_efd < 0 ? -errno : -ENOMEM;
			goto fail;
		}
	}
	err = virtio_dev_init_n(&n->vdev, &n->ops, plat, view, n, 2 * n->pairs + 1);
	if (err)
		goto fail;
	return 0;
fail:
	virtio_net_destroy(n);
	return err;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (n->vdev.ops) {
		net_stop(&n->vdev);
		virtio_dev_destroy(&n->vdev);
	}
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pair[i];

		if (p->wake_efd >= 0)
			close(p->wake_efd);
		p->wake_efd = -1;
		free(p->held);
		free(p->stage);
		free(p->tx_chain);
		free(p->chain);
		free(p->txbuf);
		p->txbuf = NULL;
		p->held = NULL;
		p->stage = NULL;
		p->tx_chain = p->chain = NULL;
	}
}

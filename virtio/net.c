/*
 * virtio-net (spec 5.1): the NIC model between the guest's queues and a
 * back end from net/.
 *
 * Threads
 *   receive:  the back end's own thread calls rx_deliver()/rx_flush()
 *             (sink callbacks) under rx_lock; the guest's receive kicks
 *             only wake the back end (ops->rx_wake), which retries.
 *   transmit: a NIC thread, started at DRIVER_OK and joined at reset,
 *             drains the transmitq into ops->send().  Not done in
 *             queue_notify: that may run on the shared ioeventfd thread.
 *   control:  handled in queue_notify itself under the device lock: the
 *             commands are short, and the lock orders them with reset and
 *             with config-space reads of the MAC they may change.
 * With a kernel data path (vhost) the back end owns the rx and tx rings
 * between start() and stop(); kicks are forwarded to it.
 *
 * Receive buffers: a frame with its header must fit the buffers we give
 * it.  Chains popped while gathering room for a frame that then does not
 * fit yet are kept (rx_pool) for the next attempt instead of being given
 * back, so "not enough room" never loses a buffer or a frame.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/net.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-worker.h"
#include "lkvm/virtio-net.h"

#define RXQ VIRTIO_NET_RXQ
#define TXQ VIRTIO_NET_TXQ
#define CTRLQ VIRTIO_NET_CTRLQ
#define ETH_HLEN 14
#define HDR_LEGACY_LEN 10	/* struct virtio_net_hdr */
#define HDR_V1_LEN 12		/* + num_buffers */
#define CTRL_MAX_LEN 16384	/* a command with two full MAC tables */
#define CTRL_MAC_ENTRIES_MAX 1024

#define BIT(n) (1ULL << (n))

/* Offered whatever the back end. */
#define NET_BASE_FEATURES                                                   \
	(BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |                 \
	 BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) |          \
	 BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR))

struct virtio_net {
	struct virtio_device vdev;
	struct virtio_net_config config;
	u8 mac[ETH_ADDR_LEN];		/* configured MAC, restored at reset */
	struct net_backend *be;
	char name[16];

	/* Set at activation, before the data-path threads look at them. */
	u64 features;			/* negotiated, dependencies enforced */
	size_t hdr_len;
	bool mergeable;

	pthread_mutex_t rx_lock;	/* the receiveq, rx_active, rx_pool */
	bool rx_active;
	struct virtq_elem **rx_pool;	/* [0, rx_held) popped, unused chains */
	struct virtq_elem **rx_scratch;
	unsigned int rx_held, rx_alloc;	/* rx_alloc elems exist in rx_pool */

	struct virtq_worker tx;
	struct virtq_elem *tx_elem;
	struct iovec *tx_iov;

	/* Control queue: under the device lock. */
	bool ctrl_active;
	struct virtq_elem *ctrl_elem;
	u8 *ctrl_buf;
	struct virtio_net_rx_mode rx_mode;

	struct virtio_net_stats stats;	/* atomic counters */
};

static struct virtio_net *to_net(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_net, vdev);
}

static void count(u64 *counter, u64 n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static bool has(const struct virtio_net *net, unsigned int bit)
{
	return net->features & BIT(bit);
}

/* ---- receive: back end -> guest ---- */

/* Bytes [off, off+n) of the chain's writable part from src; bytes written. */
static size_t chain_write(const struct virtq_elem *e, size_t off, const void *src, size_t n)
{
	size_t done = 0;

	for (unsigned int i = e->out_num; i < e->out_num + e->in_num && done < n; i++) {
		size_t c;

		if (off >= e->iov[i].iov_len) {
			off -= e->iov[i].iov_len;
			continue;
		}
		c = MIN(e->iov[i].iov_len - off, n - done);
		memcpy((u8 *)e->iov[i].iov_base + off, (const u8 *)src + done, c);
		done += c;
		off = 0;
	}
	return done;
}

/* Pop one more chain into rx_pool[rx_held]; false if the guest has none. */
static bool rx_pop_one(struct virtio_net *net, struct virt_queue *vq)
{
	struct virtq_elem *e;

	for (;;) {
		if (net->rx_held == net->rx_alloc) {
			e = virtq_elem_alloc(vq);
			if (!e)
				return false;
			net->rx_pool[net->rx_alloc++] = e;
		}
		e = net->rx_pool[net->rx_held];
		if (!virtq_pop(vq, e))
			return false;
		if (e->in_len) {
			net->rx_held++;
			return true;
		}
		/* Nothing writable: nothing we could put there. */
		virtq_push(vq, e->head, 0);
	}
}

static bool rx_pop_or_arm(struct virtio_net *net, struct virt_queue *vq)
{
	return rx_pop_one(net, vq) ||
	       (virtq_enable_notify_and_check(vq) && rx_pop_one(net, vq));
}

/*
 * Make the first *nr held chains hold `need` bytes, popping more as
 * required.  0, -EAGAIN (guest out of buffers, kick requested) or
 * -EMSGSIZE (cannot fit in any buffers the guest may post).
 */
static int rx_gather(struct virtio_net *net, struct virt_queue *vq, size_t need,
		     unsigned int *nr)
{
	size_t have = 0;
	unsigned int n = 0;

	if (!net->mergeable) {
		if (!net->rx_held && !rx_pop_or_arm(net, vq))
			return -EAGAIN;
		*nr = 1;
		return net->rx_pool[0]->in_len >= need ? 0 : -EMSGSIZE;
	}
	for (;;) {
		for (; n < net->rx_held && have < need; n++)
			have += net->rx_pool[n]->in_len;
		if (have >= need) {
			*nr = n;
			return 0;
		}
		if (net->rx_held >= vq->size)
			return -EMSGSIZE;
		if (!rx_pop_or_arm(net, vq))
			return -EAGAIN;
	}
}

/* The first nr held chains were used: move their elems behind the rest. */
static void rx_consume(struct virtio_net *net, unsigned int nr)
{
	unsigned int rest = net->rx_held - nr;

	memcpy(net->rx_scratch, net->rx_pool, nr * sizeof(*net->rx_pool));
	memmove(net->rx_pool, net->rx_pool + nr, rest * sizeof(*net->rx_pool));
	memcpy(net->rx_pool + rest, net->rx_scratch, nr * sizeof(*net->rx_pool));
	net->rx_held = rest;
}

/* Offloads in a back end's header that the guest did not agree to take. */
static bool rx_hdr_acceptable(const struct virtio_net *net, const struct virtio_net_hdr_v1 *h)
{
	u8 gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(net, VIRTIO_NET_F_GUEST_CSUM))
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return true;
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN && !has(net, VIRTIO_NET_F_GUEST_ECN))
		return false;
	return (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(net, VIRTIO_NET_F_GUEST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(net, VIRTIO_NET_F_GUEST_TSO6));
}

static void rx_build_hdr(const struct virtio_net *net, const struct virtio_net_hdr_v1 *from,
			 unsigned int nr_bufs, struct virtio_net_hdr_v1 *h)
{
	if (from) {
		*h = *from;
		/* Spec: without GUEST_CSUM the flags are zero. */
		h->flags &= has(net, VIRTIO_NET_F_GUEST_CSUM) ?
			    VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID : 0;
	} else {
		memset(h, 0, sizeof(*h));
		/* Our back ends' plain frames carry correct checksums. */
		if (has(net, VIRTIO_NET_F_GUEST_CSUM))
			h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	/* Spec: 1 without MRG_RXBUF; absent from the legacy 10-byte header. */
	h->num_buffers = htole16((u16)nr_bufs);
}

/* Header and frame into the first nr held chains, then used entries. */
static void rx_fill(struct virtio_net *net, struct virt_queue *vq, unsigned int nr,
		    const struct virtio_net_hdr_v1 *h, const u8 *frame, size_t len)
{
	size_t hdr_left = net->hdr_len, frame_off = 0;

	for (unsigned int i = 0; i < nr; i++) {
		struct virtq_elem *e = net->rx_pool[i];
		size_t w = 0, c;

		c = MIN(hdr_left, e->in_len);
		w += chain_write(e, 0, (const u8 *)h + (net->hdr_len - hdr_left), c);
		hdr_left -= c;
		c = MIN(len - frame_off, e->in_len - w);
		w += chain_write(e, w, frame + frame_off, c);
		frame_off += c;
		virtq_add_used(vq, e->head, (u32)w);
	}
	virtq_publish_used(vq);
	rx_consume(net, nr);
}

static enum net_rx_result rx_deliver(void *opaque, const struct virtio_net_hdr_v1 *from,
				     const void *frame, size_t len)
{
	struct virtio_net *net = opaque;
	struct virt_queue *vq = &net->vdev.vqs[RXQ];
	struct virtio_net_hdr_v1 h;
	enum net_rx_result res = NET_RX_DROPPED;
	unsigned int nr = 0;
	int ret;

	pthread_mutex_lock(&net->rx_lock);
	if (!net->rx_active || (from && !rx_hdr_acceptable(net, from)))
		goto drop;
	ret = rx_gather(net, vq, net->hdr_len + len, &nr);
	if (ret == -EAGAIN) {
		/* Let the guest see what it has got, so it can refill. */
		virtq_signal_if_needed(vq);
		count(&net->stats.rx_no_room, 1);
		res = NET_RX_NO_ROOM;
		goto out;
	}
	if (ret)
		goto drop;
	virtq_disable_notify(vq);	/* we have buffers: no kicks needed */
	rx_build_hdr(net, from, net->mergeable ? nr : 1, &h);
	rx_fill(net, vq, nr, &h, frame, len);
	count(&net->stats.rx_packets, 1);
	count(&net->stats.rx_bytes, len);
	res = NET_RX_TAKEN;
	goto out;
drop:
	count(&net->stats.rx_dropped, 1);
out:
	pthread_mutex_unlock(&net->rx_lock);
	return res;
}

static void rx_flush(void *opaque)
{
	struct virtio_net *net = opaque;

	pthread_mutex_lock(&net->rx_lock);
	if (net->rx_active)
		virtq_signal_if_needed(&net->vdev.vqs[RXQ]);
	pthread_mutex_unlock(&net->rx_lock);
}

/* ---- transmit: guest -> back end ---- */

/* The guest's header, checked against what was negotiated; false: malformed. */
static bool tx_hdr_valid(const struct virtio_net *net, struct virtio_net_hdr_v1 *h,
			 size_t len)
{
	u8 gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	/* DATA_VALID and RSC_INFO mean nothing on transmit: ignore them. */
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->num_buffers = 0;
	if (h->flags) {
		if (!has(net, VIRTIO_NET_F_CSUM))
			return false;
		if ((u32)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > len)
			return false;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE && !(h->gso_type & VIRTIO_NET_HDR_GSO_ECN))
		return true;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(net, VIRTIO_NET_F_HOST_ECN))
		return false;
	if (!h->flags || !h->gso_size)
		return false;
	return (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(net, VIRTIO_NET_F_HOST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(net, VIRTIO_NET_F_HOST_TSO6));
}

/* The readable part of e after the first `skip` bytes, into net->tx_iov. */
static unsigned int tx_payload_iov(struct virtio_net *net, const struct virtq_elem *e,
				   size_t skip)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < e->out_num; i++) {
		size_t l = e->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		net->tx_iov[n].iov_base = (u8 *)e->iov[i].iov_base + skip;
		net->tx_iov[n].iov_len = l - skip;
		skip = 0;
		n++;
	}
	return n;
}

static void tx_malformed(struct virtio_net *net, const struct virtq_elem *e, const char *why)
{
	count(&net->stats.tx_malformed, 1);
	pr_debug_ratelimited("virtio-%s: transmit chain %u dropped: %s", net->name, e->head, why);
}

static void tx_one(struct virtio_net *net, const struct virtq_elem *e)
{
	struct virtio_net_hdr_v1 h = { 0 };
	size_t len;
	unsigned int n;

	if (e->in_num)
		return tx_malformed(net, e, "device-writable buffer");
	if (e->out_len < net->hdr_len + ETH_HLEN)
		return tx_malformed(net, e, "shorter than header and Ethernet header");
	len = e->out_len - net->hdr_len;
	if (len > net->be->max_frame)
		return tx_malformed(net, e, "frame too long");
	/* One copy: the guest may rewrite the header while we look at it. */
	net_iov_read(e->iov, e->out_num, 0, &h, net->hdr_len);
	if (!tx_hdr_valid(net, &h, len))
		return tx_malformed(net, e, "offloads not negotiated or inconsistent");
	n = tx_payload_iov(net, e, net->hdr_len);
	if (net->be->ops->send(net->be, &h, net->tx_iov, n, len) < 0) {
		count(&net->stats.tx_errors, 1);
		return;
	}
	count(&net->stats.tx_packets, 1);
	count(&net->stats.tx_bytes, len);
}

static void tx_drain(void *opaque, unsigned int events)
{
	struct virtio_net *net = opaque;
	struct virt_queue *vq = &net->vdev.vqs[TXQ];
	unsigned int batch = 0;

	do {
		virtq_disable_notify(vq);
		while (!virtq_worker_stopping(&net->tx) && virtq_pop(vq, net->tx_elem)) {
			tx_one(net, net->tx_elem);
			virtq_push(vq, net->tx_elem->head, 0);
			/* Long bursts: let the guest reuse buffers early. */
			if (++batch % 64 == 0)
				virtq_signal_if_needed(vq);
		}
		if (net->be->ops->tx_flush)
			net->be->ops->tx_flush(net->be);
		virtq_signal_if_needed(vq);
	} while (!virtq_worker_stopping(&net->tx) && virtq_enable_notify_and_check(vq));
}

static const struct virtq_worker_ops tx_ops = { .work = tx_drain };

/* ---- control queue (device lock held) ---- */

/* TABLE_SET: two tables, each le32 count then count addresses. */
static bool ctrl_mac_table(struct virtio_net *net, const u8 *d, size_t len)
{
	unsigned int entries[2];

	for (int t = 0; t < 2; t++) {
		u32 n;

		if (len < 4)
			return false;
		memcpy(&n, d, 4);
		n = le32toh(n);
		if (n > CTRL_MAC_ENTRIES_MAX || len - 4 < (size_t)n * ETH_ADDR_LEN)
			return false;
		entries[t] = n;
		d += 4 + (size_t)n * ETH_ADDR_LEN;
		len -= 4 + (size_t)n * ETH_ADDR_LEN;
	}
	if (len)
		return false;
	net->rx_mode.uc_entries = entries[0];
	net->rx_mode.mc_entries = entries[1];
	return true;
}

static bool ctrl_mac_addr(struct virtio_net *net, const u8 *d, size_t len)
{
	if (len != ETH_ADDR_LEN || !has(net, VIRTIO_NET_F_CTRL_MAC_ADDR) || (d[0] & 1))
		return false;
	memcpy(net->config.mac, d, ETH_ADDR_LEN);
	return true;
}

static bool ctrl_rx_mode(struct virtio_net *net, u8 cmd, const u8 *d, size_t len)
{
	if (len != 1 || !has(net, VIRTIO_NET_F_CTRL_RX))
		return false;
	if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
		net->rx_mode.promisc = d[0];
	else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
		net->rx_mode.allmulti = d[0];
	else
		return false;	/* the others need CTRL_RX_EXTRA */
	return true;
}

static bool ctrl_command(struct virtio_net *net, const u8 *cmd, size_t len)
{
	const u8 *d = cmd + 2;

	if (len < 2)
		return false;
	len -= 2;
	switch (cmd[0]) {
	case VIRTIO_NET_CTRL_RX:
		return ctrl_rx_mode(net, cmd[1], d, len);
	case VIRTIO_NET_CTRL_MAC:
		if (cmd[1] == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return ctrl_mac_table(net, d, len);
		if (cmd[1] == VIRTIO_NET_CTRL_MAC_ADDR_SET)
			return ctrl_mac_addr(net, d, len);
		return false;
	default:
		return false;	/* VLAN, ANNOUNCE, MQ, ...: not offered */
	}
}

/* One command chain: readable command, then a writable ack byte. */
static u32 ctrl_one(struct virtio_net *net, const struct virtq_elem *e)
{
	u8 ack;
	size_t len;

	if (!e->in_len || e->out_len > CTRL_MAX_LEN) {
		count(&net->stats.ctrl_errors, 1);
		if (!e->in_len)
			return 0;
		ack = VIRTIO_NET_ERR;
		return (u32)chain_write(e, 0, &ack, 1);
	}
	len = net_iov_read(e->iov, e->out_num, 0, net->ctrl_buf, e->out_len);
	ack = ctrl_command(net, net->ctrl_buf, len) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
	count(ack == VIRTIO_NET_OK ? &net->stats.ctrl_ok : &net->stats.ctrl_errors, 1);
	return (u32)chain_write(e, 0, &ack, 1);
}

static void ctrl_drain(struct virtio_net *net)
{
	struct virt_queue *vq = &net->vdev.vqs[CTRLQ];

	if (!net->ctrl_active)
		return;
	do {
		virtq_disable_notify(vq);
		while (virtq_pop(vq, net->ctrl_elem))
			virtq_push(vq, net->ctrl_elem->head, ctrl_one(net, net->ctrl_elem));
		virtq_signal_if_needed(vq);
	} while (virtq_enable_notify_and_check(vq));
}

/* ---- device ops ---- */

static bool kernel_datapath(const struct virtio_net *net)
{
	return __atomic_load_n(&net->be->kernel_datapath, __ATOMIC_ACQUIRE);
}

static void net_queue_notify(struct virtio_device *vdev, struct virt_queue *vq)
{
	struct virtio_net *net = to_net(vdev);

	if (vq->index == CTRLQ) {
		virtio_device_lock(vdev);
		ctrl_drain(net);
		virtio_device_unlock(vdev);
	} else if (kernel_datapath(net)) {
		net->be->ops->kick(net->be, vq->index);
	} else if (vq->index == TXQ) {
		virtq_worker_kick(&net->tx);
	} else {
		net->be->ops->rx_wake(net->be);	/* new receive buffers */
	}
}

/* Features whose prerequisites are missing count as not negotiated. */
static u64 effective_features(u64 f)
{
	if (!(f & BIT(VIRTIO_NET_F_CSUM)))
		f &= ~(BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
		       BIT(VIRTIO_NET_F_HOST_ECN));
	if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		f &= ~(BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		       BIT(VIRTIO_NET_F_GUEST_ECN));
	if (!(f & BIT(VIRTIO_NET_F_CTRL_VQ)))
		f &= ~(BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR));
	return f;
}

/* Spec 5.1.3.1: a modern driver must not accept a feature without its prerequisites. */
static bool net_validate_features(struct virtio_device *vdev, u64 f)
{
	return effective_features(f) == f;
}

static int net_activate(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);
	int ret;

	net->features = effective_features(vdev->driver_features);
	net->mergeable = has(net, VIRTIO_NET_F_MRG_RXBUF);
	net->hdr_len = (net->mergeable || has(net, VIRTIO_F_VERSION_1)) ? HDR_V1_LEN
									: HDR_LEGACY_LEN;
	ret = net->be->ops->start(net->be, vdev, net->features);
	if (ret)
		return ret;
	net->ctrl_active = true;
	ctrl_drain(net);
	if (kernel_datapath(net))
		return 0;
	ret = virtq_worker_start(&net->tx);
	if (ret) {
		net->be->ops->stop(net->be);
		return ret;
	}
	pthread_mutex_lock(&net->rx_lock);
	net->rx_active = true;
	pthread_mutex_unlock(&net->rx_lock);
	/* Frames the back end kept, and buffers posted before DRIVER_OK. */
	net->be->ops->rx_wake(net->be);
	return 0;
}

static void net_reset(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);

	pthread_mutex_lock(&net->rx_lock);
	net->rx_active = false;
	net->rx_held = 0;	/* the core forgets the queue, and these chains */
	pthread_mutex_unlock(&net->rx_lock);
	virtq_worker_stop(&net->tx);
	net->be->ops->stop(net->be);
	/* Kept frames are retried now and dropped: the driver restarts. */
	net->be->ops->rx_wake(net->be);
	net->ctrl_active = false;
	memset(&net->rx_mode, 0, sizeof(net->rx_mode));
	memcpy(net->config.mac, net->mac, ETH_ADDR_LEN);
}

/* Legacy drivers set the MAC by writing config space. */
static void net_config_write(struct virtio_device *vdev, u32 offset, const void *data, u32 len)
{
	struct virtio_net *net = to_net(vdev);

	if (virtio_has_feature(vdev, VIRTIO_F_VERSION_1) || offset + len > ETH_ADDR_LEN)
		return;
	memcpy(net->config.mac + offset, data, len);
}

static const struct virtio_device_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 3,
	.max_queue_size = VIRTIO_NET_QUEUE_SIZE,
	.features = NET_BASE_FEATURES,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.activate = net_activate,
	.validate_features = net_validate_features,
	.config_write = net_config_write,
};

/* ---- lifetime ---- */

static void net_free(struct virtio_net *net)
{
	for (unsigned int i = 0; i < net->rx_alloc; i++)
		virtq_elem_free(net->rx_pool[i]);
	free(net->rx_pool);
	free(net->rx_scratch);
	virtq_elem_free(net->tx_elem);
	virtq_elem_free(net->ctrl_elem);
	free(net->tx_iov);
	free(net->ctrl_buf);
	pthread_mutex_destroy(&net->rx_lock);
	virtq_worker_destroy(&net->tx);
	free(net);
}

static int net_alloc_buffers(struct virtio_net *net)
{
	net->rx_pool = calloc(VIRTIO_NET_QUEUE_SIZE, sizeof(*net->rx_pool));
	net->rx_scratch = calloc(VIRTIO_NET_QUEUE_SIZE, sizeof(*net->rx_scratch));
	net->tx_iov = calloc(VIRTIO_NET_QUEUE_SIZE, sizeof(*net->tx_iov));
	net->ctrl_buf = malloc(CTRL_MAX_LEN);
	net->tx_elem = virtq_elem_alloc(&net->vdev.vqs[TXQ]);
	net->ctrl_elem = virtq_elem_alloc(&net->vdev.vqs[CTRLQ]);
	if (!net->rx_pool || !net->rx_scratch || !net->tx_iov || !net->ctrl_buf ||
	    !net->tx_elem || !net->ctrl_elem)
		return -ENOMEM;
	return 0;
}

static void net_set_features(struct virtio_net *net, const struct net_params *p)
{
	struct virtio_device *vdev = &net->vdev;

	vdev->device_features |= net->be->offloads;
	vdev->device_features &= ~net->be->unsupported;
	if (p->mtu) {
		net->config.mtu = htole16((u16)p->mtu);
		vdev->device_features |= BIT(VIRTIO_NET_F_MTU);
	}
}

int virtio_net_create(const struct guest_mem *mem, const struct net_params *p,
		      unsigned int index, net_backend_open_fn open_backend,
		      struct virtio_device **out)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	struct net_rx_sink sink;
	char tname[16];
	int ret;

	if (!net)
		return -ENOMEM;
	pthread_mutex_init(&net->rx_lock, NULL);
	snprintf(net->name, sizeof(net->name), "net%u", index);
	snprintf(tname, sizeof(tname), "%.12s-tx", net->name);
	/* The back end, opened below, decides the transmit thread's role. */
	virtq_worker_init(&net->tx, &tx_ops, net, tname, SANDBOX_NET_TAP);
	if (p->guest_mac_set)
		memcpy(net->mac, p->guest_mac, ETH_ADDR_LEN);
	else
		net_default_mac(index, net->mac);
	memcpy(net->config.mac, net->mac, ETH_ADDR_LEN);
	net->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	net->config.max_virtqueue_pairs = htole16(1);
	ret = virtio_device_init(&net->vdev, &net_ops, mem, &net->config, sizeof(net->config));
	if (ret) {
		net_free(net);
		return ret;
	}
	ret = net_alloc_buffers(net);
	if (!ret) {
		sink = (struct net_rx_sink){ .deliver = rx_deliver, .flush = rx_flush, .opaque = net };
		ret = open_backend(p, &sink, &net->be);
	}
	if (ret) {
		virtio_device_exit(&net->vdev);
		net_free(net);
		return ret;
	}
	net->tx.role = net->be->tx_role;
	net_set_features(net, p);
	*out = &net->vdev;
	return 0;
}

int virtio_net_init(struct kvm *kvm, const struct net_params *p, unsigned int index,
		    struct virtio_device **out)
{
	switch (p->mode) {
	case NET_MODE_USER:
		return virtio_net_create(&kvm->mem, p, index, net_user_open, out);
	case NET_MODE_TAP:
		return virtio_net_create(&kvm->mem, p, index, net_tap_open, out);
	default:
		return -EINVAL;
	}
}

void virtio_net_exit(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);

	virtio_device_reset(vdev);
	net->be->ops->close(net->be);
	virtio_device_exit(vdev);
	net_free(net);
}

void virtio_net_get_stats(struct virtio_device *vdev, struct virtio_net_stats *s)
{
	struct virtio_net *net = to_net(vdev);
	const u64 *src = (const u64 *)&net->stats;
	u64 *dst = (u64 *)s;

	for (size_t i = 0; i < sizeof(*s) / sizeof(u64); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void virtio_net_get_rx_mode(struct virtio_device *vdev, struct virtio_net_rx_mode *m)
{
	virtio_device_lock(vdev);
	*m = to_net(vdev)->rx_mode;
	virtio_device_unlock(vdev);
}

/*
 * Fuzz target: virtio-net (virtio/net.c): transmit chains and their
 * offload headers from fuzzed guest RAM, receive of fuzzed frames and
 * back-end headers into the guest's (mergeable or not) buffers, and
 * control-queue commands, over a fake back end with tap-like offloads.
 *
 * net.c is compiled into this file and its queue worker's start and stop
 * are wrapped at link time, so its transmit thread never starts: the
 * fuzzer runs the worker's work, tx_drain(), itself after each kick.
 * Every input is then deterministic.
 *
 * Input layout (little endian):
 *   0   u32  driver features (VIRTIO_NET_F_* and ring bits; bit 31 stands
 *            for VERSION_1)
 *   4   u8   flags: 1 legacy transport, 2 back end without offloads,
 *            4 back end frames of at most 1514 bytes
 *   5   3 x (u16 size, u16 desc, u16 avail, u16 used): rx, tx, ctrl
 *   29  3 bytes reserved
 *   32  OPS x 6 bytes: kind u8, a u8, b u16, c u16
 *   224 the first bytes of guest RAM (256 KiB at GPA 0x100000)
 *
 * Oracles, besides ASan/UBSan/LSan and the guard pages: every ring call
 * net.c makes passes the fuzz-ring-watch.h checks; a frame handed to the
 * back end lies in guest RAM, is as long as said, and carries only
 * offloads that were negotiated.
 */
#include "../../virtio/net.c"

#include "fuzz-ring-watch.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x40000ULL
#define HDR_LEN 32
#define OPS 32
#define OP_LEN 6
#define IMAGE_OFF (HDR_LEN + OPS * OP_LEN)

#define FL_LEGACY 1
#define FL_NO_OFFLOADS 2
#define FL_SMALL_FRAMES 4

#define TAP_OFFLOADS                                                          \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |              \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |          \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6))

enum op_kind {
	OP_KICK,		/* the guest kicks queue a % 3 */
	OP_DELIVER,		/* the back end receives b bytes at RAM offset c */
	OP_DELIVER_HDR,		/* ... with the 12-byte header before them */
	OP_RX_FLUSH,
	OP_CONFIG_WRITE,	/* driver writes b to config offset a */
	OP_CONFIG_READ,
	OP_GUEST_WRITE,		/* the guest changes RAM byte c to a */
	OP_RESET,		/* reset and set everything up again */
	OP_STATS,
	OP_NR
};

static struct fuzz_ram ram;
static unsigned int frames_sent;
static u8 frame_buf[65536 + sizeof(struct virtio_net_hdr_v1)];

/* ---- no transmit thread: the fuzzer is it ---- */

int __wrap_virtq_worker_start(struct virtq_worker *w);
void __wrap_virtq_worker_stop(struct virtq_worker *w);

int __wrap_virtq_worker_start(struct virtq_worker *w)
{
	w->stop = false;
	w->pending = VIRTQ_WORKER_KICK;
	w->running = true;
	return 0;
}

void __wrap_virtq_worker_stop(struct virtq_worker *w)
{
	w->running = false;
}

/* What the worker thread would do now: drain if kicked and not stopping. */
static void run_tx_thread(struct virtio_net *net)
{
	unsigned int events = net->tx.pending;

	if (!net->tx.running || net->tx.stop || !events)
		return;
	net->tx.pending = 0;
	tx_drain(net, events);
}

/* ---- the fake back end ---- */

struct fake_be {
	struct net_backend be;
	u64 negotiated;
};

static int be_send(struct net_backend *be, const struct virtio_net_hdr_v1 *hdr,
		   const struct iovec *iov, unsigned int iovcnt, size_t len)
{
	struct fake_be *f = container_of(be, struct fake_be, be);
	u8 gso = hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	size_t total = 0;

	for (unsigned int i = 0; i < iovcnt; i++) {
		FUZZ_ASSERT(fuzz_ram_holds(&ram, iov[i].iov_base, iov[i].iov_len),
			    "frame part %u (%p+%zu) outside guest RAM", i, iov[i].iov_base,
			    iov[i].iov_len);
		total += iov[i].iov_len;
	}
	FUZZ_ASSERT(total == len && len <= be->max_frame, "frame of %zu bytes said %zu (max %zu)",
		    total, len, be->max_frame);
	FUZZ_ASSERT(!(hdr->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM), "tx header flags 0x%x",
		    hdr->flags);
	FUZZ_ASSERT(!hdr->flags || (f->negotiated & BIT(VIRTIO_NET_F_CSUM)),
		    "checksum offload without CSUM");
	FUZZ_ASSERT(gso == VIRTIO_NET_HDR_GSO_NONE ||
		    (gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
		     (f->negotiated & BIT(VIRTIO_NET_F_HOST_TSO4))) ||
		    (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
		     (f->negotiated & BIT(VIRTIO_NET_F_HOST_TSO6))),
		    "segmentation offload 0x%x not negotiated", hdr->gso_type);
	frames_sent++;
	return 0;
}

static void be_rx_wake(struct net_backend *be)
{
}

static int be_start(struct net_backend *be, struct virtio_device *vdev, u64 features)
{
	container_of(be, struct fake_be, be)->negotiated = features;
	return 0;
}

static void be_stop(struct net_backend *be)
{
}

static void be_kick(struct net_backend *be, unsigned int index)
{
	FUZZ_ASSERT(0, "kick of queue %u without a kernel data path", index);
}

static void be_close(struct net_backend *be)
{
	free(container_of(be, struct fake_be, be));
}

static const struct net_backend_ops be_ops = {
	.send = be_send,
	.rx_wake = be_rx_wake,
	.start = be_start,
	.stop = be_stop,
	.kick = be_kick,
	.close = be_close,
};

static u8 be_flags;

static int be_open(const struct net_params *p, const struct net_rx_sink *sink,
		   struct net_backend **out)
{
	struct fake_be *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->be = (struct net_backend){
		.ops = &be_ops,
		.name = "fuzz",
		.offloads = be_flags & FL_NO_OFFLOADS ? 0 : TAP_OFFLOADS,
		.max_frame = be_flags & FL_SMALL_FRAMES ? 1514 : 65535,
		.sink = *sink,
	};
	*out = &f->be;
	return 0;
}

/* ---- the driver ---- */

/* Bit 31 of the input's word stands for VERSION_1 (bit 32). */
static u64 features_of(u32 word)
{
	return (word & 0x7fffffff) | (u64)(word >> 31) << 32;
}

static void deliver(struct virtio_net *net, bool with_hdr, u16 len, u16 at)
{
	size_t hdr = with_hdr ? sizeof(struct virtio_net_hdr_v1) : 0;
	size_t n = MIN((size_t)len, net->be->max_frame);

	/*
	 * The back end's own copy: the guest cannot change it meanwhile.
	 * Copied in runs up to the end of RAM, where it wraps: a byte loop
	 * was most of the target's time (coverage traces every compare).
	 */
	for (size_t done = 0; done < hdr + n;) {
		size_t pos = (at + done) % RAM_SIZE, run = MIN(hdr + n - done, RAM_SIZE - pos);

		memcpy(frame_buf + done, ram.hva + pos, run);
		done += run;
	}
	net->be->sink.deliver(net->be->sink.opaque,
			      with_hdr ? (const struct virtio_net_hdr_v1 *)frame_buf : NULL,
			      frame_buf + hdr, n);
}

static void run_op(struct fuzz_in *in, struct virtio_net *net, u64 features,
		   const struct fuzz_queue *qs)
{
	struct virtio_device *vdev = &net->vdev;
	u8 kind = fuzz_u8(in) % OP_NR, a = fuzz_u8(in);
	u16 b = fuzz_u16(in), c = fuzz_u16(in);
	struct virtio_net_stats st;
	u8 buf[8];

	switch (kind) {
	case OP_KICK:
		virtio_queue_notify(vdev, a % 3);
		break;
	case OP_DELIVER:
	case OP_DELIVER_HDR:
		deliver(net, kind == OP_DELIVER_HDR, b, c);
		break;
	case OP_RX_FLUSH:
		net->be->sink.flush(net->be->sink.opaque);
		break;
	case OP_CONFIG_WRITE:
		memcpy(buf, &b, 2);
		memcpy(buf + 2, &c, 2);
		virtio_config_write(vdev, a % 32, buf, 1u << (c % 3));
		break;
	case OP_CONFIG_READ:
		virtio_config_read(vdev, a % 32, buf, 1u << (b % 4));
		break;
	case OP_GUEST_WRITE:
		ram.hva[c % RAM_SIZE] = a;
		break;
	case OP_RESET:
		virtio_set_status(vdev, 0);
		fuzz_driver_setup(vdev, features, qs, 3);
		break;
	case OP_STATS:
		virtio_net_get_stats(vdev, &st);
		break;
	}
	run_tx_thread(net);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct net_params p;
	struct fuzz_queue qs[3] = {};
	struct virtio_device *vdev;
	struct virtio_net *net;
	struct fuzz_in in;
	u64 features;

	if (!ram.hva)
		fuzz_ram_init(&ram, RAM_GPA, RAM_SIZE);
	fuzz_ram_clear(&ram);
	if (size > IMAGE_OFF)
		memcpy(ram.hva, data + IMAGE_OFF, MIN(size - IMAGE_OFF, RAM_SIZE));
	fuzz_ring_watch_reset(&ram);
	frames_sent = 0;
	fuzz_in_init(&in, data, MIN(size, (size_t)IMAGE_OFF));
	features = features_of(fuzz_u32(&in));
	be_flags = fuzz_u8(&in);
	for (unsigned int i = 0; i < 3; i++) {
		qs[i].size = fuzz_u16(&in);
		qs[i].desc = RAM_GPA + fuzz_u16(&in);
		qs[i].avail = RAM_GPA + fuzz_u16(&in);
		qs[i].used = RAM_GPA + fuzz_u16(&in);
	}
	fuzz_skip(&in, HDR_LEN - 5 - 3 * 8);

	net_params_default(&p);
	if (virtio_net_create(&ram.mem, &p, 0, be_open, &vdev))
		abort();
	net = to_net(vdev);
	virtio_device_set_transport(vdev, &fuzz_quiet_transport, NULL, !(be_flags & FL_LEGACY));
	fuzz_driver_setup(vdev, features, qs, 3);
	run_tx_thread(net);
	for (unsigned int i = 0; i < OPS && fuzz_left(&in); i++)
		run_op(&in, net, features, qs);
	if (fuzz_verbose())
		fprintf(stderr, "fuzz-virtio-net: status 0x%x, %u frames sent, %s\n",
			virtio_get_status(vdev), frames_sent,
			virtio_device_is_broken(vdev) ? "broken" : "not broken");
	virtio_net_exit(vdev);
	return 0;
}

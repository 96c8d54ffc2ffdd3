/*
 * virtio-net over fake guest RAM, a counting transport and a fake back
 * end: offered features per back end, transmit chains and headers (good
 * and malformed), receive with and without mergeable buffers, frames kept
 * when the guest has no buffers, the control queue, reset.
 *
 * The real back ends are stubbed below so that libslirp and the tap code
 * stay out of the link.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "lkvm/net.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-net.h"
#include "unit.h"
#include "vdriver.h"

#define BUF_GPA (RAM_GPA + 0x10000)

#define BIT(n) (1ULL << (n))
#define F_MRG BIT(VIRTIO_NET_F_MRG_RXBUF)
#define F_CSUM BIT(VIRTIO_NET_F_CSUM)
#define F_GCSUM BIT(VIRTIO_NET_F_GUEST_CSUM)
#define F_CTRL (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | \
		BIT(VIRTIO_NET_F_CTRL_MAC_ADDR))
#define TAP_OFFLOADS (F_CSUM | F_GCSUM | BIT(VIRTIO_NET_F_HOST_TSO4) |      \
		      BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO4) | \
		      BIT(VIRTIO_NET_F_GUEST_TSO6))

/* ---- the real back ends, kept out of the link ---- */

int net_user_open(const struct net_params *p, const struct net_rx_sink *sink,
		  struct net_backend **out)
{
	return -ENOSYS;
}

int net_tap_open(const struct net_params *p, const struct net_rx_sink *sink,
		 struct net_backend **out)
{
	return -ENOSYS;
}

/* ---- fake back end ---- */

struct fake_be {
	struct net_backend be;
	pthread_mutex_t lock;
	int sent, wakes, starts, stops, tx_flushes;
	struct virtio_net_hdr_v1 last_hdr;
	u8 last_frame[NET_MAX_FRAME];
	size_t last_len;
	int send_ret;
};

static struct fake_be *fb;
static u64 fake_offloads;

static int fake_send(struct net_backend *be, const struct virtio_net_hdr_v1 *hdr,
		     const struct iovec *iov, unsigned int iovcnt, size_t len)
{
	struct fake_be *f = container_of(be, struct fake_be, be);

	pthread_mutex_lock(&f->lock);
	f->last_hdr = *hdr;
	f->last_len = net_iov_read(iov, iovcnt, 0, f->last_frame, len);
	f->sent++;
	pthread_mutex_unlock(&f->lock);
	return f->send_ret;
}

static void fake_tx_flush(struct net_backend *be)
{
	__atomic_add_fetch(&fb->tx_flushes, 1, __ATOMIC_SEQ_CST);
}

static void fake_rx_wake(struct net_backend *be)
{
	__atomic_add_fetch(&fb->wakes, 1, __ATOMIC_SEQ_CST);
}

static int fake_start(struct net_backend *be, struct virtio_device *vdev, u64 features)
{
	fb->starts++;
	return 0;
}

static void fake_stop(struct net_backend *be)
{
	fb->stops++;
}

static void fake_close(struct net_backend *be)
{
	struct fake_be *f = container_of(be, struct fake_be, be);

	pthread_mutex_destroy(&f->lock);
	free(f);
	fb = NULL;
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send,
	.tx_flush = fake_tx_flush,
	.rx_wake = fake_rx_wake,
	.start = fake_start,
	.stop = fake_stop,
	.close = fake_close,
};

static int fake_open(const struct net_params *p, const struct net_rx_sink *sink,
		     struct net_backend **out)
{
	struct fake_be *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	f->be = (struct net_backend){ .ops = &fake_ops, .name = "fake",
				      .offloads = fake_offloads, .max_frame = NET_MAX_FRAME,
				      .sink = *sink };
	fb = f;
	*out = &f->be;
	return 0;
}

static int fake_sent(void)
{
	int n;

	pthread_mutex_lock(&fb->lock);
	n = fb->sent;
	pthread_mutex_unlock(&fb->lock);
	return n;
}

static enum net_rx_result deliver(const struct virtio_net_hdr_v1 *h, const void *frame,
				  size_t len)
{
	enum net_rx_result r = fb->be.sink.deliver(fb->be.sink.opaque, h, frame, len);

	fb->be.sink.flush(fb->be.sink.opaque);
	return r;
}

static struct guest_mem mem;

/* ---- device under test ---- */

static struct virtio_device *nic;

static void nic_new(u64 offloads, const char *spec, unsigned int index)
{
	struct net_params p;
	const char *why;

	if (nic)
		virtio_net_exit(nic);
	fake_offloads = offloads;
	if (net_parse_spec(spec, &p, &why)) {
		fprintf(stderr, "bad spec %s: %s\n", spec, why);
		exit(2);
	}
	if (virtio_net_create(&mem, &p, index, fake_open, &nic)) {
		fprintf(stderr, "virtio_net_create failed\n");
		exit(2);
	}
	virtio_device_set_transport(nic, &fake_transport, NULL, false);
}

/* Fresh RAM, features negotiated, all three queues set up, DRIVER_OK. */
static bool nic_up(u64 features)
{
	if (!vdriver_negotiate(nic, features, 3))
		return false;
	virtio_set_status(nic, virtio_get_status(nic) | ST_DOK);
	return virtio_get_status(nic) & ST_DOK;
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(nic, &s);
	return s;
}

static u64 offered(void)
{
	return virtio_get_device_features(nic, 0) |
	       (u64)virtio_get_device_features(nic, 1) << 32;
}

static void fill_pattern(u8 *p, size_t n, u8 seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (u8)(seed + i * 7 + (i >> 8));
}

static u8 frame[NET_MAX_FRAME];

/* A frame of len bytes: broadcast Ethernet header, then a pattern. */
static void make_frame(size_t len, u8 seed)
{
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x09\x08\x00", 8);
	fill_pattern(frame + 14, len - 14, seed);
}

/* ---- identity and features ---- */

static void test_identity_user_like(void)
{
	struct virtio_net_config cfg;
	u8 mac[6];

	nic_new(F_GCSUM, "mode=user", 3);
	CHECK_EQ(nic->ops->device_id, VIRTIO_ID_NET);
	CHECK_EQ(nic->nr_queues, 3);
	CHECK(offered() & BIT(VIRTIO_NET_F_MAC));
	CHECK(offered() & BIT(VIRTIO_NET_F_STATUS));
	CHECK(offered() & F_MRG);
	CHECK((offered() & F_CTRL) == F_CTRL);
	CHECK(offered() & F_GCSUM);
	CHECK(offered() & F_V1);
	/* Nothing a slirp-like back end cannot take. */
	CHECK(!(offered() & F_CSUM));
	CHECK(!(offered() & BIT(VIRTIO_NET_F_HOST_TSO4)));
	CHECK(!(offered() & BIT(VIRTIO_NET_F_HOST_TSO6)));
	CHECK(!(offered() & BIT(VIRTIO_NET_F_GUEST_TSO4)));
	CHECK(!(offered() & BIT(VIRTIO_NET_F_MQ)));
	CHECK(!(offered() & BIT(VIRTIO_NET_F_MTU)));
	virtio_config_read(nic, 0, &cfg, sizeof(cfg));
	net_default_mac(3, mac);
	CHECK(!memcmp(cfg.mac, mac, 6));
	CHECK_EQ(le16toh(cfg.status), VIRTIO_NET_S_LINK_UP);
}

static void test_identity_tap_like(void)
{
	struct virtio_net_config cfg;

	nic_new(TAP_OFFLOADS, "mode=tap,guest_mac=02:11:22:33:44:55,mtu=9000", 0);
	CHECK((offered() & TAP_OFFLOADS) == TAP_OFFLOADS);
	CHECK(offered() & BIT(VIRTIO_NET_F_MTU));
	virtio_config_read(nic, 0, &cfg, sizeof(cfg));
	CHECK(!memcmp(cfg.mac, "\x02\x11\x22\x33\x44\x55", 6));
	CHECK_EQ(le16toh(cfg.mtu), 9000);
}

static void test_feature_dependencies(void)
{
	nic_new(TAP_OFFLOADS, "mode=tap", 0);
	/* GUEST_TSO4 without GUEST_CSUM, HOST_TSO6 without CSUM: refused. */
	CHECK(!nic_up(F_V1 | BIT(VIRTIO_NET_F_GUEST_TSO4)));
	CHECK(!nic_up(F_V1 | BIT(VIRTIO_NET_F_HOST_TSO6)));
	CHECK(!nic_up(F_V1 | BIT(VIRTIO_NET_F_CTRL_RX)));
	CHECK(nic_up(F_V1 | TAP_OFFLOADS | F_CTRL));
	CHECK_EQ(fb->starts, 1);
}

/* ---- transmit ---- */

static void test_tx_split_chain(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];
	u16 head;

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
	make_frame(1000, 1);
	/* Header alone, then the frame in two pieces. */
	memset(gpa(BUF_GPA), 0, 12);
	memcpy(gpa(BUF_GPA + 0x1000), frame, 300);
	memcpy(gpa(BUF_GPA + 0x2000), frame + 300, 700);
	head = tq_add(q, (struct buf[]){ { BUF_GPA, 12, false },
					 { BUF_GPA + 0x1000, 300, false },
					 { BUF_GPA + 0x2000, 700, false } }, 3);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	CHECK(wait_used(q, 1));
	CHECK_EQ(used_elem(q, 0).id, head);
	CHECK_EQ(used_elem(q, 0).len, 0);
	CHECK_EQ(fake_sent(), 1);
	CHECK_EQ(fb->last_len, 1000);
	CHECK(!memcmp(fb->last_frame, frame, 1000));
	CHECK_EQ(fb->last_hdr.flags, 0);
	CHECK_EQ(fb->last_hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CHECK(__atomic_load_n(&queue_signals, __ATOMIC_SEQ_CST) >= 1);
	CHECK(__atomic_load_n(&fb->tx_flushes, __ATOMIC_SEQ_CST) >= 1);
	CHECK_EQ(stats().tx_packets, 1);
	CHECK_EQ(stats().tx_bytes, 1000);
}

/* Chains of one Ethernet frame each (header and frame in one buffer). */
static void tx_post(struct tq *q, unsigned int n, u64 at)
{
	for (unsigned int i = 0; i < n; i++) {
		memset(gpa(at + i * 0x800), 0, 12);
		make_frame(200, (u8)i);
		memcpy(gpa(at + i * 0x800 + 12), frame, 200);
		tq_add(q, (struct buf[]){ { at + i * 0x800, 212, false } }, 1);
	}
}

/* A burst kicked once: one interrupt, and it covers the whole burst. */
static void test_tx_burst_one_interrupt(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
	tq_set_used_event(q, 0);	/* interrupt at the first completion */
	tx_post(q, 8, BUF_GPA);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	/* avail_event is written after the burst's one signal decision. */
	CHECK(wait_avail_event(q, 8));
	CHECK_EQ(used_idx(q), 8);
	CHECK_EQ(fake_sent(), 8);
	CHECK_EQ(signals_of(VIRTIO_NET_TXQ), 1);
	CHECK_EQ(signalled_used_idx(VIRTIO_NET_TXQ), 8);
}

/*
 * Chains the guest adds while the device finishes a burst, kicked only if
 * avail_event asks (as a driver does): the last completion still gets its
 * interrupt, whichever side of the device's decision they land on.
 */
static void test_tx_late_chain_signalled(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
	for (u16 n = 1; n <= 6; n++) {
		u16 old = q->avail_idx;

		/* The driver has reaped everything: interrupt at the next one. */
		tq_set_used_event(q, old);
		tx_post(q, 1, BUF_GPA + n * 0x800);
		mb();
		if (virtq_need_event(avail_event(q), q->avail_idx, old))
			virtio_queue_notify(nic, VIRTIO_NET_TXQ);
		CHECK(wait_used(q, n));
		if (n % 2)
			continue;	/* the next chain lands mid-burst */
		CHECK(wait_avail_event(q, n));
		CHECK_EQ(signalled_used_idx(VIRTIO_NET_TXQ), n);
	}
	CHECK_EQ(fake_sent(), 6);
}

/* Header and frame in one buffer, legacy 10-byte header. */
static void test_tx_legacy_header(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(0));
	make_frame(60, 2);
	memset(gpa(BUF_GPA), 0, 10);
	memcpy(gpa(BUF_GPA + 10), frame, 60);
	tq_add(q, (struct buf[]){ { BUF_GPA, 70, false } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	CHECK(wait_used(q, 1));
	CHECK_EQ(fb->last_len, 60);
	CHECK(!memcmp(fb->last_frame, frame, 60));
}

static void put_tx(u64 at, const struct virtio_net_hdr_v1 *h, size_t len, u8 seed)
{
	make_frame(len, seed);
	memcpy(gpa(at), h, 12);
	memcpy(gpa(at + 12), frame, len);
}

static void test_tx_offloads_passed(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54), .gso_size = htole16(1448),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};

	nic_new(TAP_OFFLOADS, "mode=tap", 0);
	CHECK(nic_up(F_V1 | F_MRG | TAP_OFFLOADS));
	put_tx(BUF_GPA, &h, 30000, 3);
	tq_add(q, (struct buf[]){ { BUF_GPA, 12 + 30000, false } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	CHECK(wait_used(q, 1));
	CHECK_EQ(fake_sent(), 1);
	CHECK_EQ(fb->last_len, 30000);
	CHECK_EQ(fb->last_hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(fb->last_hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(le16toh(fb->last_hdr.gso_size), 1448);
	CHECK_EQ(le16toh(fb->last_hdr.csum_start), 34);
	CHECK_EQ(le16toh(fb->last_hdr.csum_offset), 16);
	CHECK(!memcmp(fb->last_frame, frame, 30000));
}

static void test_tx_malformed_dropped(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];
	struct virtio_net_hdr_v1 plain = { 0 };
	struct virtio_net_hdr_v1 csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					  .csum_start = htole16(34),
					  .csum_offset = htole16(6) };
	struct virtio_net_hdr_v1 far = csum, udp = csum;

	far.csum_start = htole16(990);
	udp.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	udp.gso_size = htole16(1000);

	/* Checksum offload offered but not negotiated. */
	nic_new(TAP_OFFLOADS, "mode=tap", 0);
	CHECK(nic_up(F_V1 | F_MRG));
	put_tx(BUF_GPA, &plain, 100, 1);
	/* 1: a device-writable buffer in a transmit chain */
	tq_add(q, (struct buf[]){ { BUF_GPA, 112, false }, { BUF_GPA + 0x8000, 64, true } }, 2);
	/* 2: shorter than the header plus an Ethernet header */
	tq_add(q, (struct buf[]){ { BUF_GPA, 20, false } }, 1);
	/* 3: checksum offload the driver did not negotiate */
	put_tx(BUF_GPA + 0x1000, &csum, 100, 2);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x1000, 112, false } }, 1);
	/* then a good frame */
	put_tx(BUF_GPA + 0x2000, &plain, 100, 3);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x2000, 112, false } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	CHECK(wait_used(q, 4));
	CHECK_EQ(fake_sent(), 1);
	CHECK(!memcmp(fb->last_frame, frame, 100));
	CHECK_EQ(stats().tx_malformed, 3);
	CHECK_EQ(stats().tx_packets, 1);
	CHECK(!virtio_device_is_broken(nic));
	CHECK(!(virtio_get_status(nic) & VIRTIO_CONFIG_S_NEEDS_RESET));

	/* Negotiated, but inconsistent: checksum field past the end, UDP GSO. */
	CHECK(nic_up(F_V1 | F_MRG | TAP_OFFLOADS));
	put_tx(BUF_GPA, &far, 100, 4);
	tq_add(q, (struct buf[]){ { BUF_GPA, 112, false } }, 1);
	put_tx(BUF_GPA + 0x1000, &udp, 3000, 5);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x1000, 3012, false } }, 1);
	put_tx(BUF_GPA + 0x2000, &csum, 100, 6);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x2000, 112, false } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	CHECK(wait_used(q, 3));
	CHECK_EQ(fake_sent(), 2);
	CHECK_EQ(fb->last_hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(stats().tx_malformed, 5);
}

static void test_tx_backend_error_counted(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];
	struct virtio_net_hdr_v1 plain = { 0 };

	nic_new(0, "mode=user", 0);
	CHECK(nic_up(F_V1));
	fb->send_ret = -EIO;
	put_tx(BUF_GPA, &plain, 100, 1);
	tq_add(q, (struct buf[]){ { BUF_GPA, 112, false } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_TXQ);
	CHECK(wait_used(q, 1));
	CHECK_EQ(stats().tx_errors, 1);
	CHECK_EQ(stats().tx_packets, 0);
}

/* ---- receive ---- */

static u8 rx_copy[NET_MAX_FRAME + 64];

static void test_rx_mergeable(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	struct virtio_net_hdr_v1 *h = gpa(BUF_GPA);
	u16 h0, h1, h2;

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG | F_GCSUM));
	h0 = tq_add(q, (struct buf[]){ { BUF_GPA, 1000, true } }, 1);
	h1 = tq_add(q, (struct buf[]){ { BUF_GPA + 0x1000, 1000, true } }, 1);
	h2 = tq_add(q, (struct buf[]){ { BUF_GPA + 0x2000, 1000, true } }, 1);
	make_frame(2500, 9);
	CHECK_EQ(deliver(NULL, frame, 2500), NET_RX_TAKEN);
	CHECK_EQ(used_idx(q), 3);
	CHECK_EQ(used_elem(q, 0).id, h0);
	CHECK_EQ(used_elem(q, 0).len, 1000);
	CHECK_EQ(used_elem(q, 1).id, h1);
	CHECK_EQ(used_elem(q, 1).len, 1000);
	CHECK_EQ(used_elem(q, 2).id, h2);
	CHECK_EQ(used_elem(q, 2).len, 512);
	CHECK_EQ(le16toh(h->num_buffers), 3);
	CHECK_EQ(h->flags, VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK_EQ(h->gso_type, VIRTIO_NET_HDR_GSO_NONE);
	memcpy(rx_copy, gpa(BUF_GPA + 12), 988);
	memcpy(rx_copy + 988, gpa(BUF_GPA + 0x1000), 1000);
	memcpy(rx_copy + 1988, gpa(BUF_GPA + 0x2000), 512);
	CHECK(!memcmp(rx_copy, frame, 2500));
	CHECK(__atomic_load_n(&queue_signals, __ATOMIC_SEQ_CST) >= 1);
	CHECK_EQ(stats().rx_packets, 1);
	CHECK_EQ(stats().rx_bytes, 2500);
}

/*
 * A back end delivers a batch, then flushes: no interrupt per frame, one
 * for the batch, and the guest sees the whole batch when it comes.
 */
static void test_rx_batch_one_interrupt(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
	tq_set_used_event(q, 0);
	for (int i = 0; i < 8; i++)
		tq_add(q, (struct buf[]){ { BUF_GPA + i * 0x800, 0x800, true } }, 1);
	for (int i = 0; i < 8; i++) {
		make_frame(1000, (u8)i);
		CHECK_EQ(fb->be.sink.deliver(fb->be.sink.opaque, NULL, frame, 1000), NET_RX_TAKEN);
	}
	CHECK_EQ(used_idx(q), 8);
	CHECK_EQ(signals_of(VIRTIO_NET_RXQ), 0);
	fb->be.sink.flush(fb->be.sink.opaque);
	CHECK_EQ(signals_of(VIRTIO_NET_RXQ), 1);
	CHECK_EQ(signalled_used_idx(VIRTIO_NET_RXQ), 8);
	/* The guest is still polling (used_event behind): no interrupt. */
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x8000, 0x800, true } }, 1);
	CHECK_EQ(deliver(NULL, frame, 1000), NET_RX_TAKEN);
	CHECK_EQ(signals_of(VIRTIO_NET_RXQ), 1);
	/* It re-armed at what it has seen: the next batch interrupts. */
	tq_set_used_event(q, 9);
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x9000, 0x800, true } }, 1);
	CHECK_EQ(deliver(NULL, frame, 1000), NET_RX_TAKEN);
	CHECK_EQ(signals_of(VIRTIO_NET_RXQ), 2);
	CHECK_EQ(signalled_used_idx(VIRTIO_NET_RXQ), 10);
}

/* A back end's offload header reaches the guest as given. */
static void test_rx_header_passed(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	struct virtio_net_hdr_v1 *h = gpa(BUF_GPA);
	struct virtio_net_hdr_v1 in = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					.gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
					.gso_size = htole16(1440),
					.csum_start = htole16(54), .csum_offset = htole16(16) };

	nic_new(TAP_OFFLOADS, "mode=tap", 0);
	CHECK(nic_up(F_V1 | F_MRG | F_GCSUM | BIT(VIRTIO_NET_F_GUEST_TSO4)));
	tq_add(q, (struct buf[]){ { BUF_GPA, 0x8000, true } }, 1);
	make_frame(5000, 4);
	/* TSO6 was not negotiated: the frame cannot be given to this guest. */
	CHECK_EQ(deliver(&in, frame, 5000), NET_RX_DROPPED);
	CHECK_EQ(stats().rx_dropped, 1);
	CHECK_EQ(used_idx(q), 0);
	in.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK_EQ(deliver(&in, frame, 5000), NET_RX_TAKEN);
	CHECK_EQ(used_elem(q, 0).len, 12 + 5000);
	CHECK_EQ(h->flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(h->gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(le16toh(h->gso_size), 1440);
	CHECK_EQ(le16toh(h->csum_start), 54);
	CHECK_EQ(le16toh(h->num_buffers), 1);
	CHECK(!memcmp(gpa(BUF_GPA + 12), frame, 5000));
}

static void test_rx_legacy_small_buffers(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	u8 *h = gpa(BUF_GPA);

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(0));	/* legacy, no MRG_RXBUF: 10-byte header */
	memset(gpa(BUF_GPA), 0xee, 0x1000);
	tq_add(q, (struct buf[]){ { BUF_GPA, 10, true }, { BUF_GPA + 0x100, 1600, true } }, 2);
	make_frame(1514, 5);
	CHECK_EQ(deliver(NULL, frame, 1514), NET_RX_TAKEN);
	CHECK_EQ(used_elem(q, 0).len, 10 + 1514);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(h[i], 0);	/* no offloads, not even DATA_VALID */
	CHECK(!memcmp(gpa(BUF_GPA + 0x100), frame, 1514));
	CHECK_EQ(*(u8 *)gpa(BUF_GPA + 0x100 + 1514), 0xee);
}

static void test_rx_waits_for_buffers(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	int wakes;

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
	make_frame(1500, 6);
	CHECK_EQ(deliver(NULL, frame, 1500), NET_RX_NO_ROOM);
	CHECK_EQ(stats().rx_no_room, 1);
	CHECK_EQ(stats().rx_dropped, 0);
	CHECK_EQ(used_idx(q), 0);
	CHECK_EQ(avail_event(q), 0);	/* "kick me at the next buffer" */
	wakes = __atomic_load_n(&fb->wakes, __ATOMIC_SEQ_CST);
	tq_add(q, (struct buf[]){ { BUF_GPA, 2048, true } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_RXQ);
	CHECK_EQ(__atomic_load_n(&fb->wakes, __ATOMIC_SEQ_CST), wakes + 1);
	CHECK_EQ(deliver(NULL, frame, 1500), NET_RX_TAKEN);
	CHECK_EQ(used_elem(q, 0).len, 1512);
	CHECK(!memcmp(gpa(BUF_GPA + 12), frame, 1500));
}

/* Not enough room yet: the chains already taken wait for the frame. */
static void test_rx_partial_room_kept(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	struct virtio_net_hdr_v1 *h = gpa(BUF_GPA);
	u16 h0, h1;

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
	h0 = tq_add(q, (struct buf[]){ { BUF_GPA, 2000, true } }, 1);
	make_frame(3000, 7);
	CHECK_EQ(deliver(NULL, frame, 3000), NET_RX_NO_ROOM);
	CHECK_EQ(used_idx(q), 0);
	CHECK_EQ(avail_event(q), 1);
	h1 = tq_add(q, (struct buf[]){ { BUF_GPA + 0x1000, 2000, true } }, 1);
	CHECK_EQ(deliver(NULL, frame, 3000), NET_RX_TAKEN);
	CHECK_EQ(used_idx(q), 2);
	CHECK_EQ(used_elem(q, 0).id, h0);
	CHECK_EQ(used_elem(q, 0).len, 2000);
	CHECK_EQ(used_elem(q, 1).id, h1);
	CHECK_EQ(used_elem(q, 1).len, 1012);
	CHECK_EQ(le16toh(h->num_buffers), 2);
	memcpy(rx_copy, gpa(BUF_GPA + 12), 1988);
	memcpy(rx_copy + 1988, gpa(BUF_GPA + 0x1000), 1012);
	CHECK(!memcmp(rx_copy, frame, 3000));
	CHECK_EQ(stats().rx_dropped, 0);
}

/* Without mergeable buffers a frame must fit one chain. */
static void test_rx_too_big_for_chain(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	struct virtio_net_hdr_v1 *h = gpa(BUF_GPA);

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1));
	tq_add(q, (struct buf[]){ { BUF_GPA, 200, true } }, 1);
	make_frame(1000, 8);
	CHECK_EQ(deliver(NULL, frame, 1000), NET_RX_DROPPED);
	CHECK_EQ(stats().rx_dropped, 1);
	CHECK_EQ(used_idx(q), 0);
	/* The chain was kept for a frame that fits. */
	make_frame(100, 9);
	CHECK_EQ(deliver(NULL, frame, 100), NET_RX_TAKEN);
	CHECK_EQ(used_elem(q, 0).len, 112);
	CHECK_EQ(le16toh(h->num_buffers), 1);
	CHECK(!memcmp(gpa(BUF_GPA + 12), frame, 100));
}

/* Mergeable, but all the guest's buffers together are too small. */
static void test_rx_larger_than_ring(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];

	nic_new(TAP_OFFLOADS, "mode=tap", 0);
	CHECK(nic_up(F_V1 | F_MRG));
	for (int i = 0; i < QSIZE; i++)
		tq_add(q, (struct buf[]){ { BUF_GPA + i * 0x100, 0x100, true } }, 1);
	make_frame(0x100 * QSIZE, 1);
	CHECK_EQ(deliver(NULL, frame, 0x100 * QSIZE), NET_RX_DROPPED);
	CHECK_EQ(used_idx(q), 0);
	make_frame(600, 2);
	CHECK_EQ(deliver(NULL, frame, 600), NET_RX_TAKEN);
	CHECK_EQ(used_idx(q), 3);
	/* The other 13 chains stay ours, in order, for the next frames. */
	CHECK_EQ(deliver(NULL, frame, 600), NET_RX_TAKEN);
	CHECK_EQ(used_idx(q), 6);
	CHECK_EQ(used_elem(q, 3).id, 3);
	CHECK_EQ(used_elem(q, 5).id, 5);
	CHECK_EQ(used_elem(q, 5).len, 612 - 2 * 0x100);
	CHECK(!memcmp(gpa(BUF_GPA + 3 * 0x100 + 12), frame, 0x100 - 12));
}

static void test_rx_needs_driver_ok(void)
{
	struct tq *q = &queues[VIRTIO_NET_RXQ];
	int stops;

	nic_new(F_GCSUM, "mode=user", 0);
	make_frame(100, 1);
	CHECK_EQ(deliver(NULL, frame, 100), NET_RX_DROPPED);
	CHECK(nic_up(F_V1 | F_MRG));
	tq_add(q, (struct buf[]){ { BUF_GPA, 0x800, true } }, 1);
	CHECK_EQ(deliver(NULL, frame, 100), NET_RX_TAKEN);
	stops = fb->stops;
	virtio_set_status(nic, 0);
	CHECK_EQ(fb->stops, stops + 1);
	CHECK_EQ(deliver(NULL, frame, 100), NET_RX_DROPPED);
}

/* ---- control queue ---- */

static u8 ctrl(const void *cmd, size_t len)
{
	struct tq *q = &queues[VIRTIO_NET_CTRLQ];
	u16 idx = used_idx(q);
	u8 *ack = gpa(BUF_GPA + 0x3000);

	memcpy(gpa(BUF_GPA + 0x2000), cmd, len);
	*ack = 0xaa;
	tq_add(q, (struct buf[]){ { BUF_GPA + 0x2000, (u32)len, false },
				  { BUF_GPA + 0x3000, 1, true } }, 2);
	virtio_queue_notify(nic, VIRTIO_NET_CTRLQ);
	if (used_idx(q) != (u16)(idx + 1) || used_elem(q, idx).len != 1)
		return 0xff;
	return *ack;
}

static void test_ctrl_commands(void)
{
	struct virtio_net_rx_mode m;
	struct virtio_net_config cfg;
	u8 mac[6];
	u8 table[2 + 4 + 6 + 4 + 12] = { VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
					  1, 0, 0, 0, 2, 0, 0, 0, 0, 9, 2, 0, 0, 0,
					  0x33, 0x33, 0, 0, 0, 1, 1, 0, 0x5e, 0, 0, 1 };

	nic_new(F_GCSUM, "mode=user", 1);
	CHECK(nic_up(F_V1 | F_MRG | F_CTRL));
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 }, 3),
		 VIRTIO_NET_OK);
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1 }, 3),
		 VIRTIO_NET_OK);
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, 1 }, 3),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC }, 2),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(table, sizeof(table)), VIRTIO_NET_OK);
	table[12] = 3;	/* more multicast entries than given */
	CHECK_EQ(ctrl(table, sizeof(table)), VIRTIO_NET_ERR);
	virtio_net_get_rx_mode(nic, &m);
	CHECK(m.promisc);
	CHECK(m.allmulti);
	CHECK_EQ(m.uc_entries, 1);
	CHECK_EQ(m.mc_entries, 2);
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
			      0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee }, 8), VIRTIO_NET_OK);
	virtio_config_read(nic, 0, &cfg, sizeof(cfg));
	CHECK(!memcmp(cfg.mac, "\x02\xaa\xbb\xcc\xdd\xee", 6));
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
			      0x01, 0, 0, 0, 0, 1 }, 8), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl((u8[]){ VIRTIO_NET_CTRL_MQ, 0, 2, 0 }, 4), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl((u8[]){ 0x7f }, 1), VIRTIO_NET_ERR);
	CHECK_EQ(stats().ctrl_ok, 4);
	CHECK_EQ(stats().ctrl_errors, 6);
	CHECK(!virtio_device_is_broken(nic));
	/* Reset: the configured MAC and the default rx mode come back. */
	virtio_set_status(nic, 0);
	virtio_config_read(nic, 0, &cfg, sizeof(cfg));
	net_default_mac(1, mac);
	CHECK(!memcmp(cfg.mac, mac, 6));
	virtio_net_get_rx_mode(nic, &m);
	CHECK(!m.promisc);
}

static void test_ctrl_without_ack_buffer(void)
{
	struct tq *q = &queues[VIRTIO_NET_CTRLQ];

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(F_V1 | F_CTRL));
	memcpy(gpa(BUF_GPA), (u8[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 }, 3);
	tq_add(q, (struct buf[]){ { BUF_GPA, 3, false } }, 1);
	virtio_queue_notify(nic, VIRTIO_NET_CTRLQ);
	CHECK_EQ(used_idx(q), 1);
	CHECK_EQ(used_elem(q, 0).len, 0);
	CHECK_EQ(stats().ctrl_errors, 1);
	CHECK(!virtio_device_is_broken(nic));
}

/* Legacy drivers write the MAC into config space; modern ones cannot. */
static void test_legacy_mac_write(void)
{
	struct virtio_net_config cfg;

	nic_new(F_GCSUM, "mode=user", 0);
	CHECK(nic_up(0));
	virtio_config_write(nic, 0, "\x02\x01\x02\x03\x04\x05", 6);
	virtio_config_read(nic, 0, &cfg, sizeof(cfg));
	CHECK(!memcmp(cfg.mac, "\x02\x01\x02\x03\x04\x05", 6));
	CHECK(nic_up(F_V1));
	virtio_config_write(nic, 0, "\x02\x09\x09\x09\x09\x09", 6);
	virtio_config_read(nic, 0, &cfg, sizeof(cfg));
	CHECK(cfg.mac[1] != 0x09);
}

static void test_reset_reuse_cycles(void)
{
	struct tq *q = &queues[VIRTIO_NET_TXQ];
	struct virtio_net_hdr_v1 plain = { 0 };

	nic_new(F_GCSUM, "mode=user", 0);
	for (int i = 0; i < 5; i++) {
		CHECK(nic_up(F_V1 | F_EVENT_IDX | F_MRG));
		put_tx(BUF_GPA, &plain, 200, (u8)i);
		tq_add(q, (struct buf[]){ { BUF_GPA, 212, false } }, 1);
		virtio_queue_notify(nic, VIRTIO_NET_TXQ);
		CHECK(wait_used(q, 1));
	}
	CHECK_EQ(fake_sent(), 5);
	CHECK_EQ(fb->starts, 5);
	virtio_net_exit(nic);
	nic = NULL;
	CHECK(fb == NULL);	/* the back end was closed */
}

int main(void)
{
	ram_map(&mem);
	RUN(test_identity_user_like);
	RUN(test_identity_tap_like);
	RUN(test_feature_dependencies);
	RUN(test_tx_split_chain);
	RUN(test_tx_burst_one_interrupt);
	RUN(test_tx_late_chain_signalled);
	RUN(test_tx_legacy_header);
	RUN(test_tx_offloads_passed);
	RUN(test_tx_malformed_dropped);
	RUN(test_tx_backend_error_counted);
	RUN(test_rx_mergeable);
	RUN(test_rx_batch_one_interrupt);
	RUN(test_rx_header_passed);
	RUN(test_rx_legacy_small_buffers);
	RUN(test_rx_waits_for_buffers);
	RUN(test_rx_partial_room_kept);
	RUN(test_rx_too_big_for_chain);
	RUN(test_rx_larger_than_ring);
	RUN(test_rx_needs_driver_ok);
	RUN(test_ctrl_commands);
	RUN(test_ctrl_without_ack_buffer);
	RUN(test_legacy_mac_write);
	RUN(test_reset_reuse_cycles);
	return unit_summary();
}

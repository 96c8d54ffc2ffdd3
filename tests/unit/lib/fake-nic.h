#ifndef LKVM_TESTS_FAKE_NIC_H
#define LKVM_TESTS_FAKE_NIC_H
/*
 * The guest's side of the network back-end tests (test-net-slirp,
 * test-net-tap), compiled once into tests/unit/lib/libunit.a: a fake NIC,
 * the net_rx_sink fake_nic_sink, which keeps the frames a back end
 * delivers, refuses deliveries while told the guest has no room, and
 * counts flushes; and the Ethernet, ARP and IPv4 framing the tests build
 * their frames with.  The back end's thread fills in the NIC: read or
 * change its fields under nic.lock.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/net.h"

struct rx_frame {
	struct virtio_net_hdr_v1 hdr;	/* all zero when the back end gave none */
	size_t len;
	u8 data[2048];
};

struct fake_nic {
	pthread_mutex_t lock;
	struct rx_frame frames[128];
	unsigned int nr_frames;		/* received since fake_nic_clear() */
	unsigned int no_room_left;	/* deliveries still to refuse (NET_RX_NO_ROOM) */
	bool hdr_seen;			/* some delivery came with a header */
	unsigned int flushes;
	unsigned int unflushed;		/* frames taken since the last flush */
	unsigned int frames_at_flush[256];	/* nr_frames at each flush, a ring */
};

extern struct fake_nic nic;
extern const struct net_rx_sink fake_nic_sink;

/* Forget the frames received so far. */
void fake_nic_clear(void);
/* Refuse the next n deliveries, as a guest without receive buffers would. */
void fake_nic_no_room(unsigned int n);
/* Wait up to 3 s for a received frame that match accepts; copy it out. */
bool fake_nic_wait(bool (*match)(const struct rx_frame *), struct rx_frame *out);

/* Big-endian (network order) 16-bit fields. */
void frame_put16(u8 *p, u16 v);
u16 frame_get16(const u8 *p);
/* The dotted-quad IPv4 address s at `at`. */
void frame_ip4(u8 *at, const char *s);
/* The Internet checksum: add n bytes to a running sum; fold it at the end. */
u32 frame_sum16(const void *p, size_t n, u32 sum);
u16 frame_fold(u32 sum);
/* An Ethernet header from src to dst at f; its length. */
size_t frame_eth(u8 *f, const u8 *dst, const u8 *src, u16 type);
/* A broadcast ARP request from mac, ip for target at f; the frame's length. */
size_t frame_arp_request(u8 *f, const u8 *mac, const char *ip, const char *target);

#endif

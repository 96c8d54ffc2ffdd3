/* The network back-end tests' fake NIC and framing (see fake-nic.h). */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>
#include "fake-nic.h"

struct fake_nic nic = { .lock = PTHREAD_MUTEX_INITIALIZER };

static enum net_rx_result nic_deliver(void *opaque, const struct virtio_net_hdr_v1 *hdr,
				      const void *frame, size_t len)
{
	enum net_rx_result r = NET_RX_TAKEN;

	pthread_mutex_lock(&nic.lock);
	nic.hdr_seen |= hdr != NULL;
	if (nic.no_room_left) {
		nic.no_room_left--;
		r = NET_RX_NO_ROOM;
	} else if (nic.nr_frames < ARRAY_SIZE(nic.frames)) {
		struct rx_frame *f = &nic.frames[nic.nr_frames++];

		f->hdr = hdr ? *hdr : (struct virtio_net_hdr_v1){ 0 };
		f->len = MIN(len, sizeof(f->data));
		memcpy(f->data, frame, f->len);
	}
	if (r == NET_RX_TAKEN)
		nic.unflushed++;
	pthread_mutex_unlock(&nic.lock);
	return r;
}

static void nic_flush(void *opaque)
{
	pthread_mutex_lock(&nic.lock);
	nic.frames_at_flush[nic.flushes % ARRAY_SIZE(nic.frames_at_flush)] = nic.nr_frames;
	nic.flushes++;
	nic.unflushed = 0;
	pthread_mutex_unlock(&nic.lock);
}

const struct net_rx_sink fake_nic_sink = { .deliver = nic_deliver, .flush = nic_flush };

void fake_nic_clear(void)
{
	pthread_mutex_lock(&nic.lock);
	nic.nr_frames = 0;
	pthread_mutex_unlock(&nic.lock);
}

void fake_nic_no_room(unsigned int n)
{
	pthread_mutex_lock(&nic.lock);
	nic.no_room_left = n;
	pthread_mutex_unlock(&nic.lock);
}

bool fake_nic_wait(bool (*match)(const struct rx_frame *), struct rx_frame *out)
{
	for (int i = 0; i < 300; i++) {
		pthread_mutex_lock(&nic.lock);
		for (unsigned int k = 0; k < nic.nr_frames; k++) {
			if (match(&nic.frames[k])) {
				*out = nic.frames[k];
				pthread_mutex_unlock(&nic.lock);
				return true;
			}
		}
		pthread_mutex_unlock(&nic.lock);
		usleep(10000);
	}
	return false;
}

void frame_put16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

u16 frame_get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

void frame_ip4(u8 *at, const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	memcpy(at, &a, 4);
}

u32 frame_sum16(const void *p, size_t n, u32 sum)
{
	const u8 *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (u32)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (u32)b[n - 1] << 8;
	return sum;
}

u16 frame_fold(u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

size_t frame_eth(u8 *f, const u8 *dst, const u8 *src, u16 type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	frame_put16(f + 12, type);
	return 14;
}

size_t frame_arp_request(u8 *f, const u8 *mac, const char *ip, const char *target)
{
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t n = frame_eth(f, bcast, mac, 0x0806);
	u8 *a = f + n;

	memcpy(a, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);	/* Ethernet/IPv4 request */
	memcpy(a + 8, mac, 6);
	frame_ip4(a + 14, ip);
	memset(a + 18, 0, 6);
	frame_ip4(a + 24, target);
	return n + 28;
}

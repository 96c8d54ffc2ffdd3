/*
 * The tap back end against the real host kernel, without a guest: a
 * fake NIC (tests/unit/lib/fake-nic.c) sends ARP and ICMP through a new
 * tap interface and must get the kernel's answers back; frames wait
 * while the "guest" has no room; the receive offloads follow the
 * features the guest accepted.  Needs /dev/net/tun and CAP_NET_ADMIN,
 * else SKIP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/virtio_net.h>
#include "lkvm/net.h"
#include "fake-nic.h"
#include "unit.h"

#define HOST_IP "10.254.77.1"
#define GUEST_IP "10.254.77.2"
static const u8 guest_mac[6] = { 0x02, 0x6c, 0x6b, 0x76, 0x6d, 0x77 };

/* ---- frames ---- */

static size_t arp_request(u8 *f, const char *target)
{
	return frame_arp_request(f, guest_mac, GUEST_IP, target);
}

static size_t arp_reply(u8 *f, const u8 *to_mac, const u8 *to_ip)
{
	size_t n = frame_eth(f, to_mac, guest_mac, 0x0806);
	u8 *a = f + n;

	memcpy(a, "\x00\x01\x08\x00\x06\x04\x00\x02", 8);
	memcpy(a + 8, guest_mac, 6);
	frame_ip4(a + 14, GUEST_IP);
	memcpy(a + 18, to_mac, 6);
	memcpy(a + 24, to_ip, 4);
	return n + 28;
}

static size_t icmp_echo(u8 *f, const u8 *host_mac, u16 seq)
{
	size_t n = frame_eth(f, host_mac, guest_mac, 0x0800);
	u8 *ip = f + n, *icmp = ip + 20;
	u16 c;

	memset(ip, 0, 20 + 8 + 32);
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 32;
	ip[8] = 64;
	ip[9] = 1;	/* ICMP */
	frame_ip4(ip + 12, GUEST_IP);
	frame_ip4(ip + 16, HOST_IP);
	c = frame_fold(frame_sum16(ip, 20, 0));
	ip[10] = (u8)(c >> 8);
	ip[11] = (u8)c;
	icmp[0] = 8;	/* echo request */
	icmp[6] = (u8)(seq >> 8);
	icmp[7] = (u8)seq;
	for (int i = 0; i < 32; i++)
		icmp[8 + i] = (u8)i;
	c = frame_fold(frame_sum16(icmp, 8 + 32, 0));
	icmp[2] = (u8)(c >> 8);
	icmp[3] = (u8)c;
	return n + 20 + 8 + 32;
}

static int send_frame(struct net_backend *be, const u8 *f, size_t len)
{
	struct virtio_net_hdr_v1 h = { 0 };
	struct iovec iov = { (void *)f, len };

	return be->ops->send(be, &h, &iov, 1, len);
}

static bool is_arp_reply_from_host(const struct rx_frame *f)
{
	u8 host[4];

	frame_ip4(host, HOST_IP);
	return f->len >= 42 && f->data[12] == 0x08 && f->data[13] == 0x06 &&
	       f->data[21] == 2 && !memcmp(f->data + 28, host, 4) &&
	       !memcmp(f->data, guest_mac, 6);
}

static bool is_arp_request_for_guest(const struct rx_frame *f)
{
	u8 guest[4];

	frame_ip4(guest, GUEST_IP);
	return f->len >= 42 && f->data[12] == 0x08 && f->data[13] == 0x06 &&
	       f->data[21] == 1 && !memcmp(f->data + 38, guest, 4);
}

static bool is_echo_reply(const struct rx_frame *f)
{
	return f->len >= 14 + 20 + 8 && f->data[12] == 0x08 && f->data[13] == 0x00 &&
	       f->data[14 + 9] == 1 && f->data[14 + 20] == 0;
}

static bool is_tcp_syn(const struct rx_frame *f)
{
	return f->len >= 14 + 20 + 20 && f->data[12] == 0x08 && f->data[13] == 0x00 &&
	       f->data[14 + 9] == 6 && (f->data[14 + 20 + 13] & 0x02);
}

static bool is_arp_request_or_syn(const struct rx_frame *f)
{
	return is_arp_request_for_guest(f) || is_tcp_syn(f);
}

/* ---- tests ---- */

static struct net_backend *be;
static char ifname[IFNAMSIZ];
static bool skip;

static void test_open(void)
{
	struct net_params p;
	const char *why;
	char spec[128];
	int fd = open("/dev/net/tun", O_RDWR);

	if (fd < 0) {
		skip = true;
		return;
	}
	close(fd);
	snprintf(ifname, sizeof(ifname), "lkvmt%d", (int)getpid() % 100000);
	snprintf(spec, sizeof(spec), "mode=tap,tapif=%s,host_ip=" HOST_IP, ifname);
	CHECK_EQ(net_parse_spec(spec, &p, &why), 0);
	if (net_tap_open(&p, &fake_nic_sink, &be) == -EPERM) {
		skip = true;
		return;
	}
	CHECK(be != NULL);
	if (!be)
		return;
	CHECK_STR(be->name, "tap");
	CHECK(be->offloads & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	CHECK(be->offloads & (1ULL << VIRTIO_NET_F_GUEST_CSUM));
	CHECK(!be->kernel_datapath);
	CHECK_EQ(be->ops->start(be, NULL, 0), 0);
}

static void test_arp_roundtrip(void)
{
	struct rx_frame r;
	u8 f[64];

	fake_nic_clear();
	CHECK_EQ(send_frame(be, f, arp_request(f, HOST_IP)), 0);
	CHECK(fake_nic_wait(is_arp_reply_from_host, &r));
}

static void test_ping_host(void)
{
	struct rx_frame arp, r;
	u8 f[128];

	fake_nic_clear();
	send_frame(be, f, arp_request(f, HOST_IP));
	CHECK(fake_nic_wait(is_arp_reply_from_host, &arp));
	CHECK_EQ(send_frame(be, f, icmp_echo(f, arp.data + 22, 7)), 0);
	CHECK(fake_nic_wait(is_echo_reply, &r));
	CHECK_EQ(r.data[14 + 20 + 7], 7);	/* our sequence number */
	CHECK(!memcmp(r.data, guest_mac, 6));
}

/* No guest buffers: the frame waits, and arrives after the wake-up. */
static void test_held_until_wake(void)
{
	struct rx_frame r;
	u8 f[64];

	fake_nic_clear();
	fake_nic_no_room(2);
	send_frame(be, f, arp_request(f, HOST_IP));
	usleep(200000);
	pthread_mutex_lock(&nic.lock);
	CHECK_EQ(nic.nr_frames, 0);
	CHECK_EQ(nic.no_room_left, 1);	/* tried once, then waited */
	pthread_mutex_unlock(&nic.lock);
	be->ops->rx_wake(be);
	usleep(100000);
	be->ops->rx_wake(be);
	CHECK(fake_nic_wait(is_arp_reply_from_host, &r));
	pthread_mutex_lock(&nic.lock);
	CHECK_EQ(nic.no_room_left, 0);
	pthread_mutex_unlock(&nic.lock);
}

/*
 * Frames queued in the tap while the guest had no room: after the wake-up
 * they are all read before one flush (one interrupt), and none is left
 * without a flush at the end.
 */
static void test_queued_frames_one_flush(void)
{
	struct rx_frame r;
	unsigned int first;
	u8 f[64];

	fake_nic_clear();
	fake_nic_no_room(1);
	for (int i = 0; i < 8; i++)
		send_frame(be, f, arp_request(f, HOST_IP));
	usleep(200000);	/* the kernel's 8 replies wait in the tap */
	pthread_mutex_lock(&nic.lock);
	CHECK_EQ(nic.nr_frames, 0);
	first = nic.flushes;
	pthread_mutex_unlock(&nic.lock);
	be->ops->rx_wake(be);
	CHECK(fake_nic_wait(is_arp_reply_from_host, &r));
	usleep(200000);
	pthread_mutex_lock(&nic.lock);
	CHECK(nic.flushes > first);
	CHECK(nic.frames_at_flush[first % 256] >= 8);
	CHECK_EQ(nic.unflushed, 0);
	pthread_mutex_unlock(&nic.lock);
}

/* A connect() from the host: its SYN reaches us with or without checksum. */
static bool tcp_syn_flags(u64 features, u8 *flags)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7) };
	struct rx_frame req, syn;
	u8 f[64];
	int s;
	bool ok = false;

	be->ops->stop(be);
	if (be->ops->start(be, NULL, features))
		return false;
	fake_nic_clear();
	inet_pton(AF_INET, GUEST_IP, &to.sin_addr);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(s, (struct sockaddr *)&to, sizeof(to));
	/* The kernel may know our MAC from earlier tests, or ask for it. */
	if (fake_nic_wait(is_arp_request_or_syn, &req) && !is_tcp_syn(&req))
		send_frame(be, f, arp_reply(f, req.data + 22, req.data + 28));
	if (fake_nic_wait(is_tcp_syn, &syn)) {
		*flags = syn.hdr.flags;
		ok = true;
	}
	close(s);
	return ok;
}

static void test_rx_offloads_follow_features(void)
{
	u8 flags = 0xff;

	CHECK(tcp_syn_flags(1ULL << VIRTIO_NET_F_GUEST_CSUM, &flags));
	CHECK_EQ(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK(tcp_syn_flags(0, &flags));
	CHECK_EQ(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
}

static void test_close(void)
{
	be->ops->stop(be);
	be->ops->close(be);
	be = NULL;
	/* A tap we created goes away with its last file descriptor. */
	CHECK_EQ(if_nametoindex(ifname), 0);
}

static void test_vhost_absent_is_explained(void)
{
	struct net_params p;
	struct net_backend *vbe = NULL;
	const char *why;

	if (access("/dev/vhost-net", F_OK) == 0) {
		printf("SKIP: /dev/vhost-net exists; the absent case is not testable here\n");
		return;
	}
	CHECK_EQ(net_parse_spec("mode=tap,vhost=1", &p, &why), 0);
	CHECK(net_tap_open(&p, &fake_nic_sink, &vbe) < 0);
	CHECK(vbe == NULL);
}

static void test_bad_script_fails(void)
{
	struct net_params p;
	struct net_backend *sbe = NULL;
	const char *why;

	CHECK_EQ(net_parse_spec("mode=tap,script=/bin/false", &p, &why), 0);
	CHECK(net_tap_open(&p, &fake_nic_sink, &sbe) < 0);
	CHECK(sbe == NULL);
}

int main(void)
{
	RUN(test_open);
	if (skip) {
		printf("########################################################\n"
		       "SKIP: test-net-tap: no /dev/net/tun or no CAP_NET_ADMIN\n"
		       "########################################################\n");
		return 0;
	}
	if (!be)
		return unit_summary();
	RUN(test_arp_roundtrip);
	RUN(test_ping_host);
	RUN(test_held_until_wake);
	RUN(test_queued_frames_one_flush);
	RUN(test_rx_offloads_follow_features);
	RUN(test_close);
	RUN(test_vhost_absent_is_explained);
	RUN(test_bad_script_fails);
	return unit_summary();
}

/*
 * The user-mode (libslirp) back end without a guest: a fake NIC
 * (tests/unit/lib/fake-nic.c) gets a DHCP lease with the documented
 * defaults, resolves the gateway, opens a TCP connection through the
 * gateway to a listener on the host's loopback and sends data, and
 * receives a connection through a hostfwd rule; frames wait while the
 * "guest" has no room.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "lkvm/fd-budget.h"
#include "lkvm/net.h"
#include "fake-nic.h"
#include "unit.h"

static const u8 guest_mac[6] = { 0x02, 0x6c, 0x6b, 0x76, 0x6d, 0x00 };
static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static u8 gw_mac[6];

/* ---- frames ---- */

/* IPv4 header for `payload` bytes of protocol proto, at f + 14. */
static void ipv4(u8 *ip, u8 proto, const char *src, const char *dst, size_t payload)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	frame_put16(ip + 2, (u16)(20 + payload));
	ip[8] = 64;
	ip[9] = proto;
	frame_ip4(ip + 12, src);
	frame_ip4(ip + 16, dst);
	frame_put16(ip + 10, frame_fold(frame_sum16(ip, 20, 0)));
}

static int send_frame(struct net_backend *be, const u8 *f, size_t len)
{
	struct virtio_net_hdr_v1 h = { 0 };
	struct iovec iov = { (void *)f, len };
	int ret = be->ops->send(be, &h, &iov, 1, len);

	be->ops->tx_flush(be);
	return ret;
}

static size_t dhcp_discover(u8 *f)
{
	size_t n = frame_eth(f, bcast, guest_mac, 0x0800);
	u8 *ip = f + n, *udp = ip + 20, *b = udp + 8;
	size_t blen = 240 + 4;

	memset(b, 0, blen);
	b[0] = 1;		/* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	memcpy(b + 4, "\x12\x34\x56\x78", 4);
	memcpy(b + 28, guest_mac, 6);
	memcpy(b + 236, "\x63\x82\x53\x63", 4);
	memcpy(b + 240, "\x35\x01\x01\xff", 4);	/* DHCPDISCOVER, end */
	frame_put16(udp, 68);
	frame_put16(udp + 2, 67);
	frame_put16(udp + 4, (u16)(8 + blen));
	frame_put16(udp + 6, 0);	/* no checksum */
	ipv4(ip, 17, "0.0.0.0", "255.255.255.255", 8 + blen);
	return n + 20 + 8 + blen;
}

static size_t arp_request(u8 *f, const char *target)
{
	return frame_arp_request(f, guest_mac, "10.0.2.15", target);
}

static size_t tcp(u8 *f, const char *dst, u16 sport, u16 dport, u32 seq, u32 ack,
		  u8 flags, const void *data, size_t dlen)
{
	size_t n = frame_eth(f, gw_mac, guest_mac, 0x0800);
	u8 *ip = f + n, *t = ip + 20, pseudo[12];
	u32 s;

	memset(t, 0, 20);
	frame_put16(t, sport);
	frame_put16(t + 2, dport);
	frame_put16(t + 4, (u16)(seq >> 16));
	frame_put16(t + 6, (u16)seq);
	frame_put16(t + 8, (u16)(ack >> 16));
	frame_put16(t + 10, (u16)ack);
	t[12] = 5 << 4;
	t[13] = flags;
	frame_put16(t + 14, 65535);
	if (dlen)
		memcpy(t + 20, data, dlen);
	ipv4(ip, 6, "10.0.2.15", dst, 20 + dlen);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	frame_put16(pseudo + 10, (u16)(20 + dlen));
	s = frame_sum16(pseudo, 12, 0);
	frame_put16(t + 16, frame_fold(frame_sum16(t, 20 + dlen, s)));
	return n + 20 + 20 + dlen;
}

/* ---- matchers ---- */

static bool is_dhcp_offer(const struct rx_frame *f)
{
	const u8 *udp = f->data + 14 + 20;

	return f->len > 14 + 20 + 8 + 240 && frame_get16(f->data + 12) == 0x0800 &&
	       f->data[14 + 9] == 17 && frame_get16(udp) == 67 && frame_get16(udp + 2) == 68;
}

static bool is_arp_reply(const struct rx_frame *f)
{
	return f->len >= 42 && frame_get16(f->data + 12) == 0x0806 && f->data[21] == 2;
}

static bool is_tcp_to(const struct rx_frame *f, u16 dport, u8 flags)
{
	const u8 *t = f->data + 14 + 20;

	return f->len >= 14 + 40 && frame_get16(f->data + 12) == 0x0800 && f->data[14 + 9] == 6 &&
	       frame_get16(t + 2) == dport && (t[13] & flags) == flags;
}

static bool is_synack_to_1234(const struct rx_frame *f)
{
	return is_tcp_to(f, 1234, 0x12);
}

static bool is_syn_to_5555(const struct rx_frame *f)
{
	return is_tcp_to(f, 5555, 0x02);
}

/* The value of DHCP option `code` in an offer, or NULL. */
static const u8 *dhcp_option(const struct rx_frame *f, u8 code)
{
	const u8 *o = f->data + 14 + 20 + 8 + 240, *end = f->data + f->len;

	while (o + 2 <= end && *o != 255) {
		if (*o == 0) {
			o++;
			continue;
		}
		if (*o == code && o + 2 + o[1] <= end)
			return o + 2;
		o += 2 + o[1];
	}
	return NULL;
}

static bool ip_is(const u8 *p, const char *s)
{
	u8 a[4];

	frame_ip4(a, s);
	return p && !memcmp(p, a, 4);
}

/* ---- tests ---- */

static struct net_backend *be;
static int listener, fwd_port;

static int listen_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1) ||
	    getsockname(s, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return s;
}

/* A free loopback port for the hostfwd rule. */
static int free_port(void)
{
	int port, s = listen_loopback(&port);

	close(s);
	return port;
}

static void test_open(void)
{
	struct net_params p;
	const char *why;
	char spec[96];

	fwd_port = free_port();
	snprintf(spec, sizeof(spec), "mode=user,hostfwd=tcp:127.0.0.1:%d-:5555", fwd_port);
	CHECK_EQ(net_parse_spec(spec, &p, &why), 0);
	CHECK_EQ(net_user_open(&p, &fake_nic_sink, &be), 0);
	if (!be)
		return;
	CHECK_STR(be->name, "user");
	/* Nothing libslirp could not take from the guest. */
	CHECK_EQ(be->offloads, 1ULL << VIRTIO_NET_F_GUEST_CSUM);
	CHECK_EQ(be->ops->start(be, NULL, 0), 0);
}

static void test_dhcp_defaults(void)
{
	struct rx_frame r;
	u8 f[600];

	fake_nic_clear();
	CHECK_EQ(send_frame(be, f, dhcp_discover(f)), 0);
	CHECK(fake_nic_wait(is_dhcp_offer, &r));
	CHECK(ip_is(r.data + 14 + 20 + 8 + 16, "10.0.2.15"));	/* yiaddr */
	CHECK_EQ(dhcp_option(&r, 53) ? dhcp_option(&r, 53)[0] : 0, 2);	/* OFFER */
	CHECK(ip_is(dhcp_option(&r, 3), "10.0.2.2"));		/* router */
	CHECK(ip_is(dhcp_option(&r, 6), "10.0.2.3"));		/* DNS */
	CHECK(ip_is(dhcp_option(&r, 1), "255.255.255.0"));
	CHECK(!nic.hdr_seen);	/* plain frames, no offload header */
}

static void test_gateway_arp(void)
{
	struct rx_frame r;
	u8 f[64];

	fake_nic_clear();
	CHECK_EQ(send_frame(be, f, arp_request(f, "10.0.2.2")), 0);
	CHECK(fake_nic_wait(is_arp_reply, &r));
	CHECK(ip_is(r.data + 28, "10.0.2.2"));
	memcpy(gw_mac, r.data + 22, 6);
}

/* The guest reaches a host loopback listener through the gateway. */
static void test_tcp_to_host_loopback(void)
{
	struct rx_frame r;
	u8 f[256], *t;
	int port, c;
	u32 their_seq;
	char buf[16] = "";

	listener = listen_loopback(&port);
	CHECK(listener >= 0);
	fake_nic_clear();
	send_frame(be, f, tcp(f, "10.0.2.2", 1234, (u16)port, 1000, 0, 0x02, NULL, 0));
	CHECK(fake_nic_wait(is_synack_to_1234, &r));
	t = r.data + 14 + 20;
	their_seq = (u32)frame_get16(t + 4) << 16 | frame_get16(t + 6);
	send_frame(be, f, tcp(f, "10.0.2.2", 1234, (u16)port, 1001, their_seq + 1, 0x10, NULL, 0));
	send_frame(be, f, tcp(f, "10.0.2.2", 1234, (u16)port, 1001, their_seq + 1, 0x18,
			      "hello", 5));
	c = accept(listener, NULL, NULL);
	CHECK(c >= 0);
	if (c >= 0) {
		struct timeval tv = { .tv_sec = 3 };

		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		CHECK_EQ(recv(c, buf, 5, MSG_WAITALL), 5);
		CHECK(!memcmp(buf, "hello", 5));
		close(c);
	}
	close(listener);
}

/* No room in the guest: the frame waits for rx_wake, nothing is lost. */
static void test_held_until_wake(void)
{
	struct rx_frame r;
	u8 f[64];

	fake_nic_clear();
	fake_nic_no_room(1);
	send_frame(be, f, arp_request(f, "10.0.2.2"));
	usleep(200000);
	pthread_mutex_lock(&nic.lock);
	CHECK_EQ(nic.nr_frames, 0);
	CHECK_EQ(nic.no_room_left, 0);
	pthread_mutex_unlock(&nic.lock);
	/* Still kept: nothing happens without the guest's kick. */
	usleep(200000);
	pthread_mutex_lock(&nic.lock);
	CHECK_EQ(nic.nr_frames, 0);
	pthread_mutex_unlock(&nic.lock);
	be->ops->rx_wake(be);
	CHECK(fake_nic_wait(is_arp_reply, &r));
}

/* A host connection to the hostfwd port arrives as a SYN for port 5555. */
static void test_hostfwd(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((u16)fwd_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct rx_frame r;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	fake_nic_clear();
	CHECK(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	CHECK(fake_nic_wait(is_syn_to_5555, &r));
	CHECK(ip_is(r.data + 14 + 16, "10.0.2.15"));
	close(s);
}

static void test_hostfwd_port_in_use(void)
{
	struct net_params p;
	struct net_backend *b2 = NULL;
	const char *why;
	char spec[96];

	/* The first back end still holds fwd_port. */
	snprintf(spec, sizeof(spec), "mode=user,hostfwd=tcp:127.0.0.1:%d-:22", fwd_port);
	CHECK_EQ(net_parse_spec(spec, &p, &why), 0);
	CHECK_EQ(net_user_open(&p, &fake_nic_sink, &b2), -EADDRINUSE);
	CHECK(b2 == NULL);
}

static void test_close(void)
{
	be->ops->stop(be);
	be->ops->close(be);
}

/*
 * A guest opening connections without end (a SYN per new port) makes
 * libslirp open a host socket each: the flows stop at the budget, the
 * process keeps FD_BUDGET_RESERVE descriptors free, and the guest is
 * told with one warning (rate-limited), not by lkvm running out.
 */
static void test_flows_budgeted(void)
{
	struct rlimit saved, low;
	int fds[FD_BUDGET_RESERVE], nfree, port, lst, most = 0;
	u8 f[128];

	lst = listen_loopback(&port);
	CHECK(lst >= 0);
	getrlimit(RLIMIT_NOFILE, &saved);
	low = saved;
	low.rlim_cur = (rlim_t)fd_count_open() + FD_BUDGET_RESERVE + 40;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	fd_budget_update_pool();
	for (u16 sport = 3000; sport < 3200; sport++) {
		send_frame(be, f, tcp(f, "10.0.2.2", sport, (u16)port, 7, 0, 0x02, NULL, 0));
		if (sport % 10 == 0) {
			usleep(20000);	/* let the loop poll what slirp opened */
			if (fd_count_open() > most)
				most = fd_count_open();
		}
	}
	usleep(200000);
	if (fd_count_open() > most)
		most = fd_count_open();
	/*
	 * Descriptors opened outside any budget since the pool was sized (at
	 * this process's first flow: this test's listener, earlier tests'
	 * host sockets) come out of the reserve: allow a few.
	 */
	CHECK(most <= (int)low.rlim_cur - (int)FD_BUDGET_RESERVE + 8);
	for (nfree = 0; nfree < (int)FD_BUDGET_RESERVE; nfree++) {
		fds[nfree] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fds[nfree] < 0)
			break;
	}
	CHECK(nfree >= (int)FD_BUDGET_RESERVE - 8);
	while (nfree > 0)
		close(fds[--nfree]);
	setrlimit(RLIMIT_NOFILE, &saved);
	fd_budget_update_pool();
	close(lst);
}

int main(void)
{
	RUN(test_open);
	if (!be)
		return unit_summary();
	RUN(test_dhcp_defaults);
	RUN(test_gateway_arp);
	RUN(test_tcp_to_host_loopback);
	RUN(test_held_until_wake);
	RUN(test_hostfwd);
	RUN(test_hostfwd_port_in_use);
	RUN(test_flows_budgeted);
	RUN(test_close);
	return unit_summary();
}

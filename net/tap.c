/*
 * tap back end: the NIC's frames go to and come from a host tap
 * interface, each with a 12-byte virtio-net header (IFF_VNET_HDR), so
 * checksum and segmentation offloads pass between the guest and the host
 * kernel untouched.  TUNSETOFFLOAD tells the kernel which offloads the
 * guest accepted on receive; transmit offloads need no set-up.
 *
 * Receive: a thread reads the tap and delivers frames to the NIC.  When
 * the guest has no buffer, it keeps the frame and stops reading the tap
 * (the kernel queues, then drops, as for a slow real NIC) until the
 * guest's receive kick wakes it.
 *
 * With vhost=1 that thread is not started: from DRIVER_OK to reset the
 * kernel (net/vhost-net.c) reads and writes the tap itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_tun.h>
#include <linux/virtio_ring.h>
#include "lkvm/log.h"
#include "lkvm/net.h"
#include "lkvm/sandbox.h"

#define BIT(n) (1ULL << (n))
#define TAP_HDR_LEN 12		/* struct virtio_net_hdr_v1 */
#define TAP_RX_BATCH 64
#define TAP_MAX_IOV 1025	/* header + the longest chain */

#define TAP_OFFLOADS                                                          \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |               \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |           \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6))

/* Ring features the NIC offers that vhost must support to take the rings. */
#define VHOST_NEEDED                                                          \
	(BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_F_VERSION_1) |               \
	 BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC))

extern char **environ;

struct tap_net {
	struct net_backend be;
	int fd;
	char ifname[IFNAMSIZ];
	int wake_fd;		/* eventfd: buffers arrived, or stop */
	bool stop;		/* atomic */
	bool rx_started;
	pthread_t rx_thread;
	u8 *rx_buf;
	struct iovec tx_iov[TAP_MAX_IOV];
	bool tx_error_reported;
	struct vhost_net *vhost;	/* vhost=1 */
};

static struct tap_net *to_tap(struct net_backend *be)
{
	return container_of(be, struct tap_net, be);
}

/* ---- receive ---- */

static bool tap_stopping(struct tap_net *t)
{
	return __atomic_load_n(&t->stop, __ATOMIC_ACQUIRE);
}

/* Wait for the tap (unless holding a frame) or a wake-up; false: stop. */
static bool rx_wait(struct tap_net *t, bool holding)
{
	struct pollfd pfd[2] = {
		{ .fd = t->wake_fd, .events = POLLIN },
		{ .fd = t->fd, .events = POLLIN },
	};
	u64 junk;

	while (poll(pfd, holding ? 1 : 2, -1) < 0) {
		if (errno != EINTR) {
			pr_err("tap %s: poll: %s", t->ifname, strerror(errno));
			return false;
		}
	}
	if ((pfd[0].revents & POLLIN) && read(t->wake_fd, &junk, sizeof(junk)) < 0 &&
	    errno != EAGAIN)
		pr_debug("tap %s: wake-up read: %s", t->ifname, strerror(errno));
	return !tap_stopping(t);
}

static enum net_rx_result rx_deliver(struct tap_net *t, size_t n)
{
	const struct virtio_net_hdr_v1 *h = (const void *)t->rx_buf;

	return t->be.sink.deliver(t->be.sink.opaque, h, t->rx_buf + TAP_HDR_LEN,
				  n - TAP_HDR_LEN);
}

/*
 * Read and deliver up to a batch of frames.  Returns the size of a frame
 * left in rx_buf for lack of guest buffers, else 0.
 */
static size_t rx_batch(struct tap_net *t, bool *delivered)
{
	for (int i = 0; i < TAP_RX_BATCH; i++) {
		ssize_t n = read(t->fd, t->rx_buf, TAP_HDR_LEN + NET_MAX_FRAME);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_debug("tap %s: read: %s", t->ifname, strerror(errno));
			return 0;
		}
		if (n <= TAP_HDR_LEN)
			continue;
		switch (rx_deliver(t, (size_t)n)) {
		case NET_RX_NO_ROOM:
			return (size_t)n;
		case NET_RX_TAKEN:
			*delivered = true;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void *rx_thread(void *arg)
{
	struct tap_net *t = arg;
	size_t held = 0;
	char name[16];

	snprintf(name, sizeof(name), "tap-%.11s", t->ifname);
	pthread_setname_np(pthread_self(), name);
	while (rx_wait(t, held)) {
		bool delivered = false;

		if (held) {
			if (rx_deliver(t, held) == NET_RX_NO_ROOM)
				continue;
			held = 0;
			delivered = true;
		}
		held = rx_batch(t, &delivered);
		if (delivered)
			t->be.sink.flush(t->be.sink.opaque);
	}
	return NULL;
}

static void tap_rx_wake(struct net_backend *be)
{
	struct tap_net *t = to_tap(be);
	u64 one = 1;

	if (write(t->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("tap %s: wake-up write: %s", t->ifname, strerror(errno));
}

/* ---- transmit ---- */

static int tap_send(struct net_backend *be, const struct virtio_net_hdr_v1 *hdr,
		    const struct iovec *iov, unsigned int iovcnt, size_t len)
{
	struct tap_net *t = to_tap(be);
	ssize_t n;

	if (iovcnt + 1 > TAP_MAX_IOV)
		return -EMSGSIZE;
	t->tx_iov[0] = (struct iovec){ .iov_base = (void *)hdr, .iov_len = TAP_HDR_LEN };
	memcpy(t->tx_iov + 1, iov, iovcnt * sizeof(*iov));
	do {
		n = writev(t->fd, t->tx_iov, (int)iovcnt + 1);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	/* Typically the interface is down; say it once, count the rest. */
	if (!t->tx_error_reported) {
		t->tx_error_reported = true;
		pr_warn("tap %s: cannot send a frame: %s (is the interface up?)",
			t->ifname, strerror(errno));
	}
	return -errno;
}

/* ---- start / stop ---- */

static unsigned int tun_offloads(u64 features)
{
	unsigned int f = 0;

	if (features & BIT(VIRTIO_NET_F_GUEST_CSUM))
		f |= TUN_F_CSUM;
	if (features & BIT(VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (features & BIT(VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	return f;
}

static int set_offloads(struct tap_net *t, unsigned int f)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, f) == 0)
		return 0;
	pr_err("tap %s: TUNSETOFFLOAD 0x%x: %s", t->ifname, f, strerror(errno));
	return -errno;
}

static int set_hdr_len(struct tap_net *t, int len)
{
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &len) == 0)
		return 0;
	pr_err("tap %s: TUNSETVNETHDRSZ %d: %s", t->ifname, len, strerror(errno));
	return -errno;
}

static int tap_start(struct net_backend *be, struct virtio_device *vdev, u64 features)
{
	struct tap_net *t = to_tap(be);
	int ret = set_offloads(t, tun_offloads(features));

	if (ret || !t->vhost)
		return ret;
	/* vhost passes the guest's own header through: the tap must match it. */
	ret = set_hdr_len(t, (features & (BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_F_VERSION_1)))
				     ? 12 : 10);
	if (!ret)
		ret = vhost_net_start(t->vhost, vdev, features, t->fd);
	if (ret)
		return ret;
	__atomic_store_n(&be->kernel_datapath, true, __ATOMIC_RELEASE);
	return 0;
}

static void tap_stop(struct net_backend *be)
{
	struct tap_net *t = to_tap(be);

	if (t->vhost) {
		vhost_net_stop(t->vhost);
		__atomic_store_n(&be->kernel_datapath, false, __ATOMIC_RELEASE);
		set_hdr_len(t, TAP_HDR_LEN);
	}
	set_offloads(t, 0);
}

static void tap_kick(struct net_backend *be, unsigned int index)
{
	struct tap_net *t = to_tap(be);

	if (t->vhost)
		vhost_net_kick(t->vhost, index);
}

static void tap_free(struct tap_net *t)
{
	vhost_net_close(t->vhost);
	if (t->fd >= 0)
		close(t->fd);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	free(t->rx_buf);
	free(t);
}

static void tap_close(struct net_backend *be)
{
	struct tap_net *t = to_tap(be);

	if (t->rx_started) {
		__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
		tap_rx_wake(be);
		pthread_join(t->rx_thread, NULL);
	}
	tap_free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.rx_wake = tap_rx_wake,
	.start = tap_start,
	.stop = tap_stop,
	.kick = tap_kick,
	.close = tap_close,
};

/* ---- opening and configuring the interface ---- */

static int open_tap(struct tap_net *t, const char *want)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int le = 1;

	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		pr_err("tap: cannot open /dev/net/tun: %s%s", strerror(errno),
		       errno == ENOENT ? " (load the tun module)" : "");
		return -errno;
	}
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", want);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		pr_err("tap: cannot %s %s: %s%s", *want ? "attach to" : "create a tap",
		       *want ? want : "interface", strerror(errno),
		       errno == EPERM ? " (needs CAP_NET_ADMIN, or a tap made for this user "
					"with 'ip tuntap add NAME mode tap user USER')" : "");
		return -errno;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	t->ifname[IFNAMSIZ - 1] = '\0';
	/* Our headers are little-endian (virtio 1); only matters on big-endian hosts. */
	if (ioctl(t->fd, TUNSETVNETLE, &le) < 0)
		pr_debug("tap %s: TUNSETVNETLE: %s", t->ifname, strerror(errno));
	return set_hdr_len(t, TAP_HDR_LEN);
}

/* Which offloads this tap takes; it starts with none enabled. */
static u64 probe_offloads(struct tap_net *t)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		return 0;
	ioctl(t->fd, TUNSETOFFLOAD, 0);
	return TAP_OFFLOADS;
}

static int if_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(s, req, ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static int set_host_mac(struct tap_net *t, const u8 *mac)
{
	struct ifreq ifr = { 0 };
	int ret;

	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, ETH_ADDR_LEN);
	ret = if_ioctl(t->ifname, SIOCSIFHWADDR, &ifr);
	if (ret)
		pr_err("tap %s: cannot set host_mac: %s", t->ifname, strerror(-ret));
	return ret;
}

static int set_mtu(struct tap_net *t, unsigned int mtu)
{
	struct ifreq ifr = { .ifr_mtu = (int)mtu };
	int ret = if_ioctl(t->ifname, SIOCSIFMTU, &ifr);

	if (ret)
		pr_err("tap %s: cannot set mtu %u: %s", t->ifname, mtu, strerror(-ret));
	return ret;
}

static int set_addr(struct tap_net *t, unsigned long req, struct in_addr a)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };

	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return if_ioctl(t->ifname, req, &ifr);
}

static int bring_up(struct tap_net *t)
{
	struct ifreq ifr = { 0 };
	int ret = if_ioctl(t->ifname, SIOCGIFFLAGS, &ifr);

	if (!ret && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ret = if_ioctl(t->ifname, SIOCSIFFLAGS, &ifr);
	}
	return ret;
}

/* script=none: host_ip/24 on the interface if asked for, and link up. */
static int configure_self(struct tap_net *t, const struct net_params *p)
{
	int ret = 0;

	if (p->host_ip_set) {
		ret = set_addr(t, SIOCSIFADDR, p->host_ip);
		if (!ret)
			ret = set_addr(t, SIOCSIFNETMASK,
				       (struct in_addr){ .s_addr = htonl(0xffffff00u) });
		if (ret) {
			pr_err("tap %s: cannot set host_ip: %s", t->ifname, strerror(-ret));
			return ret;
		}
	}
	ret = bring_up(t);
	if (ret && p->host_ip_set) {
		pr_err("tap %s: cannot bring the interface up: %s", t->ifname, strerror(-ret));
		return ret;
	}
	if (ret)
		pr_warn("tap %s: cannot bring the interface up (%s); configure it yourself",
			t->ifname, strerror(-ret));
	return 0;
}

/* script=PATH: run "PATH IFNAME" and wait; it must exit 0. */
static int run_script(struct tap_net *t, const char *script)
{
	char *argv[] = { (char *)script, t->ifname, NULL };
	pid_t pid;
	int ret, status;

	ret = posix_spawn(&pid, script, NULL, NULL, argv, environ);
	if (ret) {
		pr_err("tap %s: cannot run script %s: %s", t->ifname, script, strerror(ret));
		return -ret;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("tap %s: script %s failed (%s %d)", t->ifname, script,
		       WIFEXITED(status) ? "exit status" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -EIO;
	}
	return 0;
}

static int open_vhost(struct tap_net *t)
{
	u64 missing;

	t->vhost = vhost_net_open();
	if (!t->vhost)
		return -ENODEV;
	missing = VHOST_NEEDED & ~vhost_net_features(t->vhost);
	/*
	 * Not offered to the guest rather than unusable with vhost; nor are
	 * packed rings, which vhost_dev (virtio/vhost.c) cannot hand over.
	 */
	t->be.unsupported = missing | (1ULL << VIRTIO_F_RING_PACKED);
	return 0;
}

int net_tap_open(const struct net_params *p, const struct net_rx_sink *sink,
		 struct net_backend **out)
{
	struct tap_net *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->fd = t->wake_fd = -1;
	t->be = (struct net_backend){ .ops = &tap_ops, .name = "tap",
				      .max_frame = NET_MAX_FRAME, .sink = *sink,
				      .tx_role = SANDBOX_NET_TAP };
	t->rx_buf = malloc(TAP_HDR_LEN + NET_MAX_FRAME);
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!t->rx_buf || t->wake_fd < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	/* vhost first: its absence must not leave a configured tap behind. */
	if (p->vhost && (ret = open_vhost(t)))
		goto fail;
	ret = open_tap(t, p->tapif);
	if (ret)
		goto fail;
	t->be.offloads = probe_offloads(t);
	if (p->host_mac_set && (ret = set_host_mac(t, p->host_mac)))
		goto fail;
	if (p->mtu && (ret = set_mtu(t, p->mtu)))
		goto fail;
	ret = p->script[0] ? run_script(t, p->script) : configure_self(t, p);
	if (ret)
		goto fail;
	if (!p->vhost) {
		ret = -sandbox_thread_create(&t->rx_thread, NULL, SANDBOX_NET_TAP, rx_thread, t);
		if (ret) {
			pr_err("tap %s: cannot start the receive thread", t->ifname);
			goto fail;
		}
		t->rx_started = true;
	}
	pr_info("network: tap %s%s", t->ifname, p->vhost ? " with vhost-net" : "");
	*out = &t->be;
	return 0;
fail:
	tap_free(t);
	return ret;
}

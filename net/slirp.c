/*
 * User-mode networking: libslirp is the guest's router, DHCP and DNS
 * server, and turns its TCP/UDP flows into ordinary host sockets, so no
 * privileges are needed.  Defaults as QEMU's and kvmtool's user network:
 * 10.0.2.0/24, gateway (host) 10.0.2.2, DNS 10.0.2.3, first DHCP address
 * 10.0.2.15; IPv6 fec0::/64.  The gateway address reaches the host's own
 * loopback.
 *
 * libslirp is not thread-safe: every call into it happens under `lock`.
 * A thread of ours runs its event loop (poll on the sockets it names,
 * timers); the NIC's transmit thread feeds it frames with slirp_input().
 *
 * Receive flow control: libslirp hands us frames through send_packet.
 * When the guest has no buffer for one it is kept in a bounded queue and,
 * while anything is kept, the loop stops reading from the host sockets,
 * so the host side's TCP windows close instead of frames piling up.  The
 * guest's next receive kick (rx_wake) lets the loop deliver the queue.
 * Frames slirp produces without reading a socket (ACKs, retransmissions)
 * can still overflow the bound; those are dropped and counted, and TCP
 * recovers them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <slirp/libslirp.h>
#include "lkvm/fd-budget.h"
#include "lkvm/log.h"
#include "lkvm/net.h"
#include "lkvm/sandbox.h"

#define HELD_MAX_FRAMES 2048
#define HELD_MAX_BYTES (4u << 20)
#define USER_MAX_FRAME (65535 + 14)
/* Host sockets the guest's flows may hold (and the shared fd-budget pool). */
#define USER_MAX_SOCKETS 4096u

struct held_frame {
	struct held_frame *next;
	size_t len;
	u8 data[];
};

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb cb;	/* old-style timer, or NULL: slirp_handle_timer */
	SlirpTimerId id;
	void *cb_opaque;
	s64 expire_ms;
	bool armed;
};

struct user_net {
	struct net_backend be;
	Slirp *slirp;
	pthread_mutex_t lock;	/* slirp, timers, the held queue, pfds */
	pthread_t thread;
	bool thread_started;
	int wake_fd;		/* eventfd: the loop has new work */
	bool stop;		/* under lock */
	bool rx_kicked;		/* atomic: the guest posted buffers */
	bool need_flush;	/* under lock: frames delivered, not yet signalled */

	struct held_frame *held_head, **held_tail;
	unsigned int held_frames;
	size_t held_bytes;
	u64 held_dropped;

	struct slirp_timer *timers;

	struct pollfd *pfds;
	unsigned int nr_pfds, cap_pfds;

	/*
	 * libslirp opens a host socket for each flow itself: the budget is
	 * charged for the sockets it polls (counted each loop) and for each
	 * frame that may open a new one since; over budget, such frames are
	 * dropped before libslirp sees them.  Under lock.
	 */
	struct fd_budget fd_budget;
	unsigned int sockets_charged;
	u64 flows_refused;

	u8 tx_buf[USER_MAX_FRAME];
};

static struct user_net *to_user(struct net_backend *be)
{
	return container_of(be, struct user_net, be);
}

static s64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (s64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake_loop(struct user_net *u)
{
	u64 one = 1;

	if (write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("user network: wake-up write failed: %s", strerror(errno));
}

/* ---- frames from slirp to the guest (lock held) ---- */

static bool hold_frame(struct user_net *u, const void *buf, size_t len)
{
	struct held_frame *f;

	if (u->held_frames >= HELD_MAX_FRAMES || u->held_bytes + len > HELD_MAX_BYTES)
		return false;
	f = malloc(sizeof(*f) + len);
	if (!f)
		return false;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	*u->held_tail = f;
	u->held_tail = &f->next;
	u->held_frames++;
	u->held_bytes += len;
	return true;
}

static void drop_head(struct user_net *u)
{
	struct held_frame *f = u->held_head;

	u->held_head = f->next;
	if (!u->held_head)
		u->held_tail = &u->held_head;
	u->held_frames--;
	u->held_bytes -= f->len;
	free(f);
}

static enum net_rx_result deliver(struct user_net *u, const void *buf, size_t len)
{
	enum net_rx_result r = u->be.sink.deliver(u->be.sink.opaque, NULL, buf, len);

	if (r == NET_RX_TAKEN)
		u->need_flush = true;
	return r;
}

/* Kept frames, oldest first, until the guest is out of room again. */
static void deliver_held(struct user_net *u)
{
	while (u->held_head) {
		if (deliver(u, u->held_head->data, u->held_head->len) == NET_RX_NO_ROOM)
			return;
		drop_head(u);
	}
}

static void flush_sink(struct user_net *u)
{
	if (!u->need_flush)
		return;
	u->need_flush = false;
	u->be.sink.flush(u->be.sink.opaque);
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct user_net *u = opaque;

	/* Behind kept frames, a new one must wait its turn. */
	if (!u->held_head && deliver(u, buf, len) != NET_RX_NO_ROOM)
		return (ssize_t)len;
	if (!hold_frame(u, buf, len)) {
		if (!u->held_dropped++)
			pr_warn("user network: the guest takes no frames; dropping some "
				"(TCP will resend)");
	}
	return (ssize_t)len;
}

/* ---- slirp callbacks: clock, timers, diagnostics ---- */

static void cb_guest_error(const char *msg, void *opaque)
{
	pr_debug_ratelimited("user network: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static struct slirp_timer *timer_add(struct user_net *u, SlirpTimerCb cb, SlirpTimerId id,
				     void *cb_opaque)
{
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cb = cb;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->next = u->timers;
	u->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, cb, 0, cb_opaque);
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, NULL, id, cb_opaque);
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct user_net *u = opaque;

	for (struct slirp_timer **p = &u->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	t->expire_ms = expire_ms;
	t->armed = true;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
	wake_loop(opaque);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* Fire one expired timer (a callback may free or re-arm any timer). */
static bool fire_one_timer(struct user_net *u, s64 now_ms)
{
	for (struct slirp_timer *t = u->timers; t; t = t->next) {
		if (!t->armed || t->expire_ms > now_ms)
			continue;
		t->armed = false;
		if (t->cb)
			t->cb(t->cb_opaque);
		else
			slirp_handle_timer(u->slirp, t->id, t->cb_opaque);
		return true;
	}
	return false;
}

/* Milliseconds until the next timer, at most `limit`. */
static u32 timers_timeout(struct user_net *u, u32 limit, s64 now_ms)
{
	for (struct slirp_timer *t = u->timers; t; t = t->next) {
		if (!t->armed)
			continue;
		if (t->expire_ms <= now_ms)
			return 0;
		if (t->expire_ms - now_ms < (s64)limit)
			limit = (u32)(t->expire_ms - now_ms);
	}
	return limit;
}

/* ---- the event loop ---- */

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct user_net *u = opaque;
	short ev = 0;

	if (u->nr_pfds == u->cap_pfds) {
		unsigned int cap = u->cap_pfds ? 2 * u->cap_pfds : 64;
		struct pollfd *p = realloc(u->pfds, cap * sizeof(*p));

		if (!p)
			return -1;
		u->pfds = p;
		u->cap_pfds = cap;
	}
	/* Throttled: leave host data in the host sockets for now. */
	if ((events & SLIRP_POLL_IN) && !u->held_head)
		ev |= POLLIN;
	if ((events & SLIRP_POLL_PRI) && !u->held_head)
		ev |= POLLPRI;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	u->pfds[u->nr_pfds] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)u->nr_pfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct user_net *u = opaque;
	short rev;
	int ev = 0;

	if (idx < 0 || (unsigned int)idx >= u->nr_pfds)
		return 0;
	rev = u->pfds[idx].revents;
	if (rev & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (rev & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Under lock: the budget charged for exactly the sockets libslirp has. */
static void charge_sockets(struct user_net *u, unsigned int sockets)
{
	if (sockets > u->sockets_charged)
		fd_budget_force(&u->fd_budget, sockets - u->sockets_charged);
	else
		fd_budget_give(&u->fd_budget, u->sockets_charged - sockets);
	u->sockets_charged = sockets;
}

/*
 * Might libslirp open a host socket for this guest frame?  A TCP SYN
 * (connect), any UDP datagram or ICMP echo request (a socket per peer).
 */
static bool may_open_flow(const u8 *f, size_t len)
{
	size_t l3 = 14, l4;
	u16 type;
	u8 proto;

	if (len < l3 + 40)
		return false;
	type = (u16)(f[12] << 8 | f[13]);
	if (type == 0x0800) {
		proto = f[l3 + 9];
		l4 = l3 + (size_t)(f[l3] & 0xf) * 4;
	} else if (type == 0x86dd) {
		proto = f[l3 + 6];
		l4 = l3 + 40;
	} else {
		return false;
	}
	if (proto == 17)
		return true;
	if (l4 + 14 > len)
		return false;
	if (proto == 6)
		return (f[l4 + 13] & 0x12) == 0x02;	/* SYN without ACK */
	return (proto == 1 && f[l4] == 8) || (proto == 58 && f[l4] == 128);
}

/* Under lock: what to wait for; returns the poll timeout in ms (-1: none). */
static int loop_prepare(struct user_net *u)
{
	u32 timeout = UINT32_MAX;

	u->nr_pfds = 0;
	cb_add_poll(u->wake_fd, SLIRP_POLL_IN, u);
	u->pfds[0].events = POLLIN;	/* our wake-up, never throttled */
	slirp_pollfds_fill(u->slirp, &timeout, cb_add_poll, u);
	charge_sockets(u, u->nr_pfds - 1);
	timeout = timers_timeout(u, timeout, now_ns() / 1000000);
	return timeout == UINT32_MAX ? -1 : (int)MIN(timeout, (u32)INT32_MAX);
}

static void *user_loop(void *arg)
{
	struct user_net *u = arg;
	u64 junk;

	pthread_setname_np(pthread_self(), "net-user");
	pthread_mutex_lock(&u->lock);
	while (!u->stop) {
		int timeout, n;

		if (__atomic_exchange_n(&u->rx_kicked, false, __ATOMIC_ACQ_REL))
			deliver_held(u);
		flush_sink(u);
		timeout = loop_prepare(u);
		pthread_mutex_unlock(&u->lock);
		n = poll(u->pfds, u->nr_pfds, timeout);
		pthread_mutex_lock(&u->lock);
		if (n > 0 && (u->pfds[0].revents & POLLIN) &&
		    read(u->wake_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
			pr_debug("user network: wake-up read failed: %s", strerror(errno));
		slirp_pollfds_poll(u->slirp, n < 0, cb_get_revents, u);
		while (fire_one_timer(u, now_ns() / 1000000))
			;
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* ---- back-end ops ---- */

static int user_send(struct net_backend *be, const struct virtio_net_hdr_v1 *hdr,
		     const struct iovec *iov, unsigned int iovcnt, size_t len)
{
	struct user_net *u = to_user(be);

	/* We offer no transmit offloads, so the frame is complete as is. */
	if (len > sizeof(u->tx_buf))
		return -EMSGSIZE;
	net_iov_read(iov, iovcnt, 0, u->tx_buf, len);
	pthread_mutex_lock(&u->lock);
	if (may_open_flow(u->tx_buf, len)) {
		if (!fd_budget_take(&u->fd_budget, 1)) {
			u->flows_refused++;
			pthread_mutex_unlock(&u->lock);
			pr_warn_ratelimited("user network: the guest holds %u host sockets, its "
					    "maximum: new connections refused", u->sockets_charged);
			return 0;
		}
		u->sockets_charged++;
	}
	slirp_input(u->slirp, u->tx_buf, (int)len);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* slirp_input may have opened sockets the loop must now poll. */
static void user_tx_flush(struct net_backend *be)
{
	struct user_net *u = to_user(be);

	pthread_mutex_lock(&u->lock);
	flush_sink(u);
	pthread_mutex_unlock(&u->lock);
	wake_loop(u);
}

static void user_rx_wake(struct net_backend *be)
{
	struct user_net *u = to_user(be);

	__atomic_store_n(&u->rx_kicked, true, __ATOMIC_RELEASE);
	wake_loop(u);
}

static int user_start(struct net_backend *be, struct virtio_device *vdev, u64 features)
{
	return 0;
}

static void user_stop(struct net_backend *be)
{
}

static void user_free(struct user_net *u)
{
	while (u->held_head)
		drop_head(u);
	while (u->timers)
		cb_timer_free(u->timers, u);
	if (u->slirp)
		slirp_cleanup(u->slirp);
	fd_budget_give(&u->fd_budget, u->sockets_charged);
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	free(u->pfds);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static void user_close(struct net_backend *be)
{
	struct user_net *u = to_user(be);

	if (u->thread_started) {
		pthread_mutex_lock(&u->lock);
		u->stop = true;
		pthread_mutex_unlock(&u->lock);
		wake_loop(u);
		pthread_join(u->thread, NULL);
	}
	user_free(u);
}

static const struct net_backend_ops user_ops = {
	.send = user_send,
	.tx_flush = user_tx_flush,
	.rx_wake = user_rx_wake,
	.start = user_start,
	.stop = user_stop,
	.close = user_close,
};

static struct in_addr ip4(u32 host_order)
{
	return (struct in_addr){ .s_addr = htonl(host_order) };
}

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	inet_pton(AF_INET6, s, &a);
	return a;
}

static Slirp *new_slirp(struct user_net *u, const struct net_params *p)
{
	u32 host = ntohl(p->host_ip.s_addr), net = host & 0xffffff00u;
	SlirpConfig cfg = {
		.version = MIN(4, SLIRP_CONFIG_VERSION_MAX),
		.restricted = 0,
		.in_enabled = true,
		.vnetwork = ip4(net),
		.vnetmask = ip4(0xffffff00u),
		.vhost = p->host_ip,
		.in6_enabled = true,
		.vprefix_addr6 = ip6("fec0::"),
		.vprefix_len = 64,
		.vhost6 = ip6("fec0::2"),
		.vhostname = "lkvm",
		.vdhcp_start = p->guest_ip,
		.vnameserver = ip4(net | 3),
		.vnameserver6 = ip6("fec0::3"),
		.if_mtu = p->mtu,	/* 0: libslirp's default, 1500 */
		.if_mru = p->mtu,
	};

	return slirp_new(&cfg, &slirp_callbacks, u);
}

static int add_hostfwds(struct user_net *u, const struct net_params *p)
{
	for (unsigned int i = 0; i < p->nr_hostfwd; i++) {
		const struct net_hostfwd *f = &p->hostfwd[i];
		struct in_addr guest = f->guest_addr.s_addr ? f->guest_addr : p->guest_ip;
		char host[INET_ADDRSTRLEN];

		if (slirp_add_hostfwd(u->slirp, f->udp, f->host_addr, f->host_port, guest,
				      f->guest_port) < 0) {
			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			pr_err("user network: hostfwd %s:%s:%u: cannot listen there (in use?)",
			       f->udp ? "udp" : "tcp", host, f->host_port);
			return -EADDRINUSE;
		}
	}
	return 0;
}

int net_user_open(const struct net_params *p, const struct net_rx_sink *sink,
		  struct net_backend **out)
{
	struct user_net *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	u->held_tail = &u->held_head;
	fd_budget_init(&u->fd_budget, "user network", USER_MAX_SOCKETS);
	u->be = (struct net_backend){
		.ops = &user_ops,
		.name = "user",
		/* Our frames to the guest are whole and checksummed. */
		.offloads = 1ULL << VIRTIO_NET_F_GUEST_CSUM,
		.max_frame = USER_MAX_FRAME,
		.sink = *sink,
		/* slirp_input() opens the host sockets of new flows. */
		.tx_role = SANDBOX_NET_USER,
	};
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0) {
		ret = -errno;
		goto fail;
	}
	u->slirp = new_slirp(u, p);
	if (!u->slirp) {
		pr_err("user network: libslirp refused the configuration");
		ret = -EINVAL;
		goto fail;
	}
	ret = add_hostfwds(u, p);
	if (ret)
		goto fail;
	ret = -sandbox_thread_create(&u->thread, NULL, SANDBOX_NET_USER, user_loop, u);
	if (ret)
		goto fail;
	u->thread_started = true;
	*out = &u->be;
	return 0;
fail:
	if (ret != -EADDRINUSE && ret != -EINVAL)
		pr_err("user network: cannot start: %s", strerror(-ret));
	user_free(u);
	return ret;
}

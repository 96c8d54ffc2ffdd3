#ifndef LKVM_NET_H
#define LKVM_NET_H
/*
 * Network back ends and the `-n/--network` option.
 *
 * Option syntax (one -n per NIC; comma-separated key=value fields):
 *
 *   mode=user|tap|none   user (default): NAT through libslirp, no root
 *                        needed; tap: a host tap interface; none: no NIC.
 *                        A bare "none" or "user"/"tap" also names the mode.
 *   guest_mac=MAC        the NIC's address (default 02:6c:6b:76:6d:NN,
 *                        NN the NIC index), unicast, not all zero.
 *   host_ip=A.B.C.D      user: the gateway address the guest sees (10.0.2.2);
 *                        the guest network is its /24 and the DNS server .3.
 *                        tap: address given to the host side of the tap
 *                        (with a /24 netmask) when no script is run.
 *   guest_ip=A.B.C.D     user: the address the DHCP server hands out first
 *                        (10.0.2.15), in host_ip's /24.
 *   tapif=NAME           tap: attach to this interface, created if missing
 *                        (default: a new tapN chosen by the kernel).
 *   script=PATH|none     tap: run "PATH IFNAME" once the tap exists; with
 *                        none (default) lkvm brings the interface up itself.
 *   host_mac=MAC         tap: address of the host side of the tap.
 *   vhost=0|1            tap: move the data path into the kernel
 *                        (/dev/vhost-net).
 *   mtu=N                the guest's MTU (68..65520; default 1500), offered
 *                        with VIRTIO_NET_F_MTU.  user: also libslirp's MTU
 *                        (large values cut per-packet costs a lot); tap:
 *                        also set on the host side of the tap.
 *   hostfwd=RULE         user, may repeat (up to NET_MAX_HOSTFWD):
 *                        [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *                        e.g. hostfwd=tcp:127.0.0.1:2222-:22 lets the host
 *                        connect to 127.0.0.1:2222 and reach the guest's
 *                        port 22.  An empty protocol is tcp, an empty
 *                        HOSTADDR is 0.0.0.0 (every host address), an empty
 *                        GUESTADDR is guest_ip.
 *
 * A back end moves Ethernet frames between the host and a NIC model
 * (virtio/net.c).  Each frame carries a virtio_net_hdr_v1 describing its
 * checksum and segmentation offloads; a back end only ever sees offloads
 * it announced in `offloads` and the guest negotiated.
 */
#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>
#include "lkvm/compiler.h"
#include "lkvm/sandbox.h"

struct virtio_device;

#define NET_MAX_HOSTFWD 8
#define NET_SCRIPT_MAX 256
#define NET_MTU_MIN 68
#define NET_MTU_MAX 65520
#define ETH_ADDR_LEN 6

/* The longest frame a back end moves: a 64 KiB GSO packet plus headers. */
#define NET_MAX_FRAME (65536 + 256)

enum net_mode { NET_MODE_USER, NET_MODE_TAP, NET_MODE_NONE };

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr;	/* INADDR_ANY: every host address */
	u16 host_port;
	struct in_addr guest_addr;	/* INADDR_ANY: the DHCP address */
	u16 guest_port;
};

struct net_params {
	enum net_mode mode;
	bool guest_mac_set, host_mac_set, host_ip_set;
	u8 guest_mac[ETH_ADDR_LEN];
	u8 host_mac[ETH_ADDR_LEN];
	struct in_addr host_ip, guest_ip;
	char tapif[IFNAMSIZ];		/* "": let the kernel name it */
	char script[NET_SCRIPT_MAX];	/* "": none */
	bool vhost;
	unsigned int mtu;		/* 0: not set (1500) */
	unsigned int nr_hostfwd;
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
};

/* ---- option parsing (net/net.c) ---- */

/* Defaults: user mode, 10.0.2.2 / 10.0.2.15, no MAC chosen yet. */
void net_params_default(struct net_params *p);
/*
 * Parse one -n value into p (defaults first).  0, or -EINVAL with *why a
 * static message that starts with the name of the bad field.
 */
int net_parse_spec(const char *spec, struct net_params *p, const char **why);
/* The stable default MAC of NIC number `index` (0-based). */
void net_default_mac(unsigned int index, u8 mac[ETH_ADDR_LEN]);
/* "xx:xx:xx:xx:xx:xx"; 0 or -EINVAL. */
int net_parse_mac(const char *s, u8 mac[ETH_ADDR_LEN]);
/* One hostfwd rule as documented above; 0 or -EINVAL. */
int net_parse_hostfwd(const char *s, struct net_hostfwd *fwd);

/* ---- back-end interface ---- */

/* What a frame delivery to the NIC model came to. */
enum net_rx_result {
	NET_RX_TAKEN,		/* in the guest's buffers */
	NET_RX_NO_ROOM,		/* keep it: rx_wake() follows when buffers arrive */
	NET_RX_DROPPED,		/* gone (NIC stopped, or can never fit); counted */
};

/* The NIC model's receive side, as a back end sees it. */
struct net_rx_sink {
	/*
	 * Copy one frame into the guest.  hdr: its offload header (tap with
	 * a vnet header), or NULL for a plain, fully checksummed frame.
	 * Callers serialise their calls; the sink does not signal the guest
	 * until flush().
	 */
	enum net_rx_result (*deliver)(void *opaque, const struct virtio_net_hdr_v1 *hdr,
				      const void *frame, size_t len);
	/* Interrupt the guest for what deliver() put in its buffers. */
	void (*flush)(void *opaque);
	void *opaque;
};

struct net_backend;

struct net_backend_ops {
	/*
	 * Transmit one frame of len bytes (iov: the guest's buffers after its
	 * header).  hdr only uses offloads the guest negotiated and the back
	 * end offered.  Called from the NIC's transmit thread only.  0 or
	 * -errno (the frame is lost; the NIC counts it).
	 */
	int (*send)(struct net_backend *be, const struct virtio_net_hdr_v1 *hdr,
		    const struct iovec *iov, unsigned int iovcnt, size_t len);
	/* Optional: the transmit thread finished a batch of send() calls. */
	void (*tx_flush)(struct net_backend *be);
	/*
	 * The guest made receive buffers available: retry frames kept after
	 * NET_RX_NO_ROOM.  Any thread; must not block.
	 */
	void (*rx_wake)(struct net_backend *be);
	/*
	 * The guest driver started (DRIVER_OK) with these virtio-net
	 * features; called under the device lock.  A back end with a kernel
	 * data path (vhost) takes over the rx and tx rings here and sets
	 * be->kernel_datapath.  0 or -errno.
	 */
	int (*start)(struct net_backend *be, struct virtio_device *vdev, u64 features);
	/* Driver reset: undo start().  Under the device lock. */
	void (*stop)(struct net_backend *be);
	/* Kernel data path only: the guest kicked queue `index`. */
	void (*kick)(struct net_backend *be, unsigned int index);
	/* Stop all threads and free the back end. */
	void (*close)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *name;		/* "user", "tap", "vhost" for logs */
	/* VIRTIO_NET_F_* offload bits this back end can honour. */
	u64 offloads;
	/* Feature bits the NIC would otherwise offer that this back end lacks. */
	u64 unsupported;
	/* Maximum frame (without header) send() and the sink must carry. */
	size_t max_frame;
	/* Set by start() when the kernel moves the rx/tx rings itself. */
	bool kernel_datapath;
	struct net_rx_sink sink;
	/* The sandbox role of the NIC's transmit thread, which calls send(). */
	enum sandbox_role tx_role;
};

/*
 * The back ends (net/slirp.c, net/tap.c with net/vhost-net.c): open one,
 * delivering received frames to sink.  They print why they failed;
 * 0 and *out, or -errno.
 */
int net_user_open(const struct net_params *p, const struct net_rx_sink *sink,
		  struct net_backend **out);
int net_tap_open(const struct net_params *p, const struct net_rx_sink *sink,
		 struct net_backend **out);

/*
 * The vhost-net data path (net/vhost-net.c), used by the tap back end:
 * the kernel moves frames between the tap and the guest's rx/tx rings.
 * The guest's kicks reach it through eventfds we write in kick(); its
 * "used buffers" signals come back on call eventfds that a thread of ours
 * turns into transport interrupts.  vhost applies the ring's interrupt
 * suppression (EVENT_IDX / NO_INTERRUPT) itself before signalling, so
 * that thread raises the interrupt unconditionally.
 */
struct vhost_net;

/* Open /dev/vhost-net and become its owner; NULL after printing why. */
struct vhost_net *vhost_net_open(void);
/* The virtio feature bits vhost's rings support (VHOST_GET_FEATURES). */
u64 vhost_net_features(const struct vhost_net *vh);
/*
 * Hand the rx (0) and tx (1) rings of vdev to the kernel, which reads and
 * writes the tap `tap_fd`.  Called under the device lock at DRIVER_OK.
 * 0 or -errno.
 */
int vhost_net_start(struct vhost_net *vh, struct virtio_device *vdev, u64 features,
		    int tap_fd);
/* Take the rings back (device reset); idempotent. */
void vhost_net_stop(struct vhost_net *vh);
void vhost_net_kick(struct vhost_net *vh, unsigned int index);
void vhost_net_close(struct vhost_net *vh);

/* Copy [off, off+len) of an iovec array into buf; bytes copied. */
size_t net_iov_read(const struct iovec *iov, unsigned int cnt, size_t off, void *buf,
		    size_t len);

#endif

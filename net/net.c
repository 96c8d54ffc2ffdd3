/*
 * The -n/--network option (syntax in include/lkvm/net.h) and helpers the
 * back ends share.  Nothing here refers to a back end, so option parsing
 * links without libslirp.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/hex.h"
#include "lkvm/net.h"

/* QEMU's and kvmtool's user-mode network, which guests and users expect. */
#define USER_HOST_IP "10.0.2.2"
#define USER_GUEST_IP "10.0.2.15"

/*
 * Locally administered, unicast; the middle bytes spell "lkvm" so our
 * NICs are easy to spot in a packet trace.
 */
static const u8 default_mac_prefix[ETH_ADDR_LEN - 1] = { 0x02, 0x6c, 0x6b, 0x76, 0x6d };

void net_default_mac(unsigned int index, u8 mac[ETH_ADDR_LEN])
{
	memcpy(mac, default_mac_prefix, sizeof(default_mac_prefix));
	mac[ETH_ADDR_LEN - 1] = (u8)index;
}

void net_params_default(struct net_params *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = NET_MODE_USER;
	inet_pton(AF_INET, USER_HOST_IP, &p->host_ip);
	inet_pton(AF_INET, USER_GUEST_IP, &p->guest_ip);
}

int net_parse_mac(const char *s, u8 mac[ETH_ADDR_LEN])
{
	u8 out[ETH_ADDR_LEN];
	bool zero = true;

	for (int i = 0; i < ETH_ADDR_LEN; i++, s += 3) {
		int b = hex_byte(s);

		if (b < 0 || s[2] != (i == ETH_ADDR_LEN - 1 ? '\0' : ':'))
			return -EINVAL;
		out[i] = (u8)b;
		zero &= !out[i];
	}
	/* A NIC's own address: never a group address, never all zero. */
	if (zero || (out[0] & 1))
		return -EINVAL;
	memcpy(mac, out, ETH_ADDR_LEN);
	return 0;
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int parse_port(const char *s, u16 *port)
{
	unsigned int v;

	if (parse_uint(s, 65535, &v) || v == 0)
		return -EINVAL;
	*port = (u16)v;
	return 0;
}

/* "ADDR:PORT" with ADDR possibly empty (INADDR_ANY). */
static int parse_endpoint(char *s, struct in_addr *addr, u16 *port)
{
	char *colon = strrchr(s, ':');

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	addr->s_addr = htonl(INADDR_ANY);
	if (*s && inet_pton(AF_INET, s, addr) != 1)
		return -EINVAL;
	return parse_port(colon + 1, port);
}

int net_parse_hostfwd(const char *s, struct net_hostfwd *fwd)
{
	char buf[96], *colon, *dash, *host;
	struct net_hostfwd f = { 0 };

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (!strcmp(buf, "udp"))
		f.udp = true;
	else if (*buf && strcmp(buf, "tcp"))
		return -EINVAL;
	host = colon + 1;
	dash = strchr(host, '-');
	if (!dash)
		return -EINVAL;
	*dash = '\0';
	if (parse_endpoint(host, &f.host_addr, &f.host_port) ||
	    parse_endpoint(dash + 1, &f.guest_addr, &f.guest_port))
		return -EINVAL;
	*fwd = f;
	return 0;
}

static bool parse_bool(const char *s, bool *v)
{
	if (!strcmp(s, "1") || !strcmp(s, "on") || !strcmp(s, "yes")) {
		*v = true;
		return true;
	}
	if (!strcmp(s, "0") || !strcmp(s, "off") || !strcmp(s, "no")) {
		*v = false;
		return true;
	}
	return false;
}

static bool parse_mode(const char *s, enum net_mode *mode)
{
	if (!strcmp(s, "user"))
		*mode = NET_MODE_USER;
	else if (!strcmp(s, "tap"))
		*mode = NET_MODE_TAP;
	else if (!strcmp(s, "none"))
		*mode = NET_MODE_NONE;
	else
		return false;
	return true;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* Messages for unknown fields name the field, so they cannot be static. */
static __thread char why_unknown[96];

/* One "key=value" (or bare mode) field; 0 or -EINVAL with *why. */
static int parse_field(char *field, struct net_params *p, const char **why)
{
	char *eq = strchr(field, '=');
	const char *key = field, *val;

	if (!eq) {
		if (parse_mode(field, &p->mode))
			return 0;
		snprintf(why_unknown, sizeof(why_unknown), "%.40s: expected key=value", field);
		*why = why_unknown;
		return -EINVAL;
	}
	*eq = '\0';
	val = eq + 1;
	if (!strcmp(key, "mode")) {
		*why = "mode: use user, tap or none";
		if (!parse_mode(val, &p->mode))
			goto bad;
	} else if (!strcmp(key, "guest_mac")) {
		*why = "guest_mac: give a unicast address like 02:00:00:00:00:01";
		if (net_parse_mac(val, p->guest_mac))
			goto bad;
		p->guest_mac_set = true;
	} else if (!strcmp(key, "host_mac")) {
		*why = "host_mac: give a unicast address like 02:00:00:00:00:01";
		if (net_parse_mac(val, p->host_mac))
			goto bad;
		p->host_mac_set = true;
	} else if (!strcmp(key, "host_ip")) {
		*why = "host_ip: give an IPv4 address like 10.0.2.2";
		if (inet_pton(AF_INET, val, &p->host_ip) != 1)
			goto bad;
		p->host_ip_set = true;
	} else if (!strcmp(key, "guest_ip")) {
		*why = "guest_ip: give an IPv4 address like 10.0.2.15";
		if (inet_pton(AF_INET, val, &p->guest_ip) != 1)
			goto bad;
	} else if (!strcmp(key, "tapif")) {
		*why = "tapif: give an interface name of 1 to 15 characters";
		if (!valid_ifname(val))
			goto bad;
		strcpy(p->tapif, val);
	} else if (!strcmp(key, "script")) {
		*why = "script: give a path (up to 255 characters) or none";
		if (!*val || strlen(val) >= NET_SCRIPT_MAX)
			goto bad;
		strcpy(p->script, strcmp(val, "none") ? val : "");
	} else if (!strcmp(key, "vhost")) {
		*why = "vhost: use 0 or 1";
		if (!parse_bool(val, &p->vhost))
			goto bad;
	} else if (!strcmp(key, "mtu")) {
		*why = "mtu: give 68 to 65520";
		if (parse_uint(val, NET_MTU_MAX, &p->mtu) || p->mtu < NET_MTU_MIN)
			goto bad;
	} else if (!strcmp(key, "hostfwd")) {
		*why = "hostfwd: at most 8 rules per NIC";
		if (p->nr_hostfwd >= NET_MAX_HOSTFWD)
			goto bad;
		*why = "hostfwd: give [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT";
		if (net_parse_hostfwd(val, &p->hostfwd[p->nr_hostfwd]))
			goto bad;
		p->nr_hostfwd++;
	} else if (!strcmp(key, "trans")) {
		*why = "trans: per-NIC transports are not supported; use --virtio-transport";
		goto bad;
	} else {
		snprintf(why_unknown, sizeof(why_unknown),
			 "%.40s: unknown field (see lkvm run --help)", key);
		*why = why_unknown;
		goto bad;
	}
	return 0;
bad:
	return -EINVAL;
}

static bool same_net24(struct in_addr a, struct in_addr b)
{
	return ((ntohl(a.s_addr) ^ ntohl(b.s_addr)) & 0xffffff00u) == 0;
}

/* Fields that make no sense for the chosen mode, and the user network. */
static int check_combination(const struct net_params *p, const char **why)
{
	u32 host = ntohl(p->host_ip.s_addr), guest = ntohl(p->guest_ip.s_addr);

	if (p->mode != NET_MODE_TAP) {
		if (p->tapif[0])
			*why = "tapif: only with mode=tap";
		else if (p->script[0])
			*why = "script: only with mode=tap";
		else if (p->vhost)
			*why = "vhost: only with mode=tap";
		else if (p->host_mac_set)
			*why = "host_mac: only with mode=tap";
		else
			goto tap_ok;
		return -EINVAL;
	}
tap_ok:
	if (p->mode != NET_MODE_USER) {
		if (p->nr_hostfwd) {
			*why = "hostfwd: only with mode=user";
			return -EINVAL;
		}
		return 0;
	}
	/* .0 network, .3 DNS, .255 broadcast are the user network's own. */
	if ((host & 0xff) == 0 || (host & 0xff) == 3 || (host & 0xff) == 255) {
		*why = "host_ip: .0, .3 and .255 of its /24 are reserved";
		return -EINVAL;
	}
	if (!same_net24(p->host_ip, p->guest_ip) || guest == host ||
	    (guest & 0xff) == 0 || (guest & 0xff) == 3 || (guest & 0xff) == 255) {
		*why = "guest_ip: must be another address of host_ip's /24 (not .0, .3, .255)";
		return -EINVAL;
	}
	return 0;
}

int net_parse_spec(const char *spec, struct net_params *p, const char **why)
{
	char *copy, *field, *save = NULL;
	int ret = 0;

	net_params_default(p);
	if (!*spec) {
		*why = "mode: empty network option";
		return -EINVAL;
	}
	copy = strdup(spec);
	if (!copy) {
		*why = "out of memory";
		return -ENOMEM;
	}
	/* strtok would skip empty fields; an empty field is a typo to report. */
	for (field = copy; field && !ret; field = save) {
		save = strchr(field, ',');
		if (save)
			*save++ = '\0';
		if (!*field) {
			*why = "empty field (two commas in a row?)";
			ret = -EINVAL;
		} else {
			ret = parse_field(field, p, why);
		}
	}
	free(copy);
	return ret ? ret : check_combination(p, why);
}

size_t net_iov_read(const struct iovec *iov, unsigned int cnt, size_t off, void *buf,
		    size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - off, len - done);
		memcpy((u8 *)buf + done, (u8 *)iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

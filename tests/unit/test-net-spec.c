/*
 * The -n/--network option: every field parsed, every malformed field
 * refused with a message that names it, mode-specific fields checked,
 * stable distinct default MACs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "lkvm/net.h"
#include "unit.h"

static struct net_params p;
static const char *why;

static int parse(const char *spec)
{
	why = NULL;
	return net_parse_spec(spec, &p, &why);
}

static bool ip_is(struct in_addr a, const char *s)
{
	struct in_addr b;

	return inet_pton(AF_INET, s, &b) == 1 && a.s_addr == b.s_addr;
}

/* Refused with -EINVAL and a message starting with the field's name. */
static void check_bad(const char *spec, const char *field)
{
	int ret = parse(spec);

	if (ret != -EINVAL || !why || strncmp(why, field, strlen(field))) {
		fprintf(stderr, "  spec \"%s\": ret %d, why \"%s\", expected field %s\n",
			spec, ret, why ? why : "(null)", field);
		unit_case_failed = 1;
	}
}

static void test_defaults(void)
{
	CHECK_EQ(parse("mode=user"), 0);
	CHECK_EQ(p.mode, NET_MODE_USER);
	CHECK(ip_is(p.host_ip, "10.0.2.2"));
	CHECK(ip_is(p.guest_ip, "10.0.2.15"));
	CHECK(!p.guest_mac_set);
	CHECK(!p.host_ip_set);
	CHECK_STR(p.tapif, "");
	CHECK_STR(p.script, "");
	CHECK(!p.vhost);
	CHECK_EQ(p.nr_hostfwd, 0);
}

static void test_modes(void)
{
	CHECK_EQ(parse("mode=tap"), 0);
	CHECK_EQ(p.mode, NET_MODE_TAP);
	CHECK_EQ(parse("mode=none"), 0);
	CHECK_EQ(p.mode, NET_MODE_NONE);
	CHECK_EQ(parse("none"), 0);
	CHECK_EQ(p.mode, NET_MODE_NONE);
	CHECK_EQ(parse("tap,tapif=t0"), 0);
	CHECK_EQ(p.mode, NET_MODE_TAP);
	check_bad("mode=bridge", "mode");
	check_bad("mode=", "mode");
	check_bad("", "mode");
	check_bad("bogus", "bogus");
}

static void test_macs(void)
{
	CHECK_EQ(parse("mode=user,guest_mac=02:aB:cd:00:11:22"), 0);
	CHECK(p.guest_mac_set);
	CHECK(!memcmp(p.guest_mac, "\x02\xab\xcd\x00\x11\x22", 6));
	CHECK_EQ(parse("mode=tap,host_mac=0a:00:00:00:00:01"), 0);
	CHECK(p.host_mac_set);
	CHECK(!memcmp(p.host_mac, "\x0a\x00\x00\x00\x00\x01", 6));
	check_bad("guest_mac=01:00:5e:00:00:01", "guest_mac");	/* multicast */
	check_bad("guest_mac=00:00:00:00:00:00", "guest_mac");
	check_bad("guest_mac=02:00:00:00:00", "guest_mac");
	check_bad("guest_mac=02:00:00:00:00:01:02", "guest_mac");
	check_bad("guest_mac=02-00-00-00-00-01", "guest_mac");
	check_bad("guest_mac=02:00:00:00:00:0g", "guest_mac");
	check_bad("guest_mac=2:0:0:0:0:1", "guest_mac");
	check_bad("mode=tap,host_mac=zz", "host_mac");
	check_bad("mode=user,host_mac=02:00:00:00:00:01", "host_mac");
}

static void test_default_macs(void)
{
	u8 a[6], b[6], c[6];

	net_default_mac(0, a);
	net_default_mac(1, b);
	net_default_mac(0, c);
	CHECK(memcmp(a, b, 6) != 0);
	CHECK(!memcmp(a, c, 6));		/* stable */
	CHECK_EQ(a[0] & 1, 0);			/* unicast */
	CHECK_EQ(a[0] & 2, 2);			/* locally administered */
	for (unsigned int i = 0; i < 8; i++) {
		for (unsigned int j = i + 1; j < 8; j++) {
			net_default_mac(i, a);
			net_default_mac(j, b);
			CHECK(memcmp(a, b, 6) != 0);
		}
	}
}

static void test_ips(void)
{
	CHECK_EQ(parse("host_ip=192.168.7.1,guest_ip=192.168.7.20"), 0);
	CHECK(ip_is(p.host_ip, "192.168.7.1"));
	CHECK(ip_is(p.guest_ip, "192.168.7.20"));
	CHECK(p.host_ip_set);
	check_bad("host_ip=10.0.2", "host_ip");
	check_bad("host_ip=10.0.2.256", "host_ip");
	check_bad("guest_ip=x", "guest_ip");
	/* User network consistency. */
	check_bad("guest_ip=10.0.3.15", "guest_ip");
	check_bad("guest_ip=10.0.2.2", "guest_ip");
	check_bad("guest_ip=10.0.2.3", "guest_ip");
	check_bad("guest_ip=10.0.2.255", "guest_ip");
	check_bad("host_ip=10.0.2.0", "host_ip");
	/* A tap's host address is free of the user network's rules. */
	CHECK_EQ(parse("mode=tap,host_ip=172.16.0.1"), 0);
	CHECK(ip_is(p.host_ip, "172.16.0.1"));
}

static void test_tap_fields(void)
{
	CHECK_EQ(parse("mode=tap,tapif=lkvmtap0,script=/etc/lkvm/ifup,vhost=1"), 0);
	CHECK_STR(p.tapif, "lkvmtap0");
	CHECK_STR(p.script, "/etc/lkvm/ifup");
	CHECK(p.vhost);
	CHECK_EQ(parse("mode=tap,script=none,vhost=0"), 0);
	CHECK_STR(p.script, "");
	CHECK(!p.vhost);
	check_bad("mode=tap,tapif=", "tapif");
	check_bad("mode=tap,tapif=0123456789abcdef", "tapif");	/* 16 chars */
	check_bad("mode=tap,tapif=a/b", "tapif");
	check_bad("mode=tap,tapif=a b", "tapif");
	check_bad("mode=tap,script=", "script");
	check_bad("mode=tap,vhost=2", "vhost");
	check_bad("mode=tap,vhost=", "vhost");
	check_bad("mode=user,tapif=t0", "tapif");
	check_bad("mode=user,script=/x", "script");
	check_bad("mode=user,vhost=1", "vhost");
	check_bad("mode=none,tapif=t0", "tapif");
}

static void test_hostfwd(void)
{
	struct net_hostfwd *f;

	CHECK_EQ(parse("mode=user,hostfwd=tcp:127.0.0.1:2222-:22,"
		       "hostfwd=udp::5353-10.0.2.16:53,hostfwd=::8080-:80"), 0);
	CHECK_EQ(p.nr_hostfwd, 3);
	f = &p.hostfwd[0];
	CHECK(!f->udp);
	CHECK(ip_is(f->host_addr, "127.0.0.1"));
	CHECK_EQ(f->host_port, 2222);
	CHECK_EQ(f->guest_addr.s_addr, htonl(INADDR_ANY));
	CHECK_EQ(f->guest_port, 22);
	f = &p.hostfwd[1];
	CHECK(f->udp);
	CHECK_EQ(f->host_addr.s_addr, htonl(INADDR_ANY));
	CHECK_EQ(f->host_port, 5353);
	CHECK(ip_is(f->guest_addr, "10.0.2.16"));
	CHECK_EQ(f->guest_port, 53);
	f = &p.hostfwd[2];
	CHECK(!f->udp);
	CHECK_EQ(f->host_port, 8080);
	CHECK_EQ(f->guest_port, 80);

	check_bad("hostfwd=sctp::1-:2", "hostfwd");
	check_bad("hostfwd=tcp::2222", "hostfwd");
	check_bad("hostfwd=tcp::0-:22", "hostfwd");
	check_bad("hostfwd=tcp::2222-:65536", "hostfwd");
	check_bad("hostfwd=tcp::22x-:22", "hostfwd");
	check_bad("hostfwd=tcp:1.2.3:2222-:22", "hostfwd");
	check_bad("hostfwd=tcp::2222-:", "hostfwd");
	check_bad("hostfwd=tcp::-1-:22", "hostfwd");
	check_bad("hostfwd=", "hostfwd");
	check_bad("mode=tap,hostfwd=tcp::2222-:22", "hostfwd");
}

static void test_hostfwd_limit(void)
{
	char spec[512] = "mode=user";

	for (int i = 0; i < NET_MAX_HOSTFWD; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
			 ",hostfwd=tcp::%d-:%d", 2000 + i, 22);
	CHECK_EQ(parse(spec), 0);
	CHECK_EQ(p.nr_hostfwd, NET_MAX_HOSTFWD);
	strcat(spec, ",hostfwd=tcp::3000-:22");
	check_bad(spec, "hostfwd");
}

static void test_mtu(void)
{
	CHECK_EQ(parse("mode=user"), 0);
	CHECK_EQ(p.mtu, 0);
	CHECK_EQ(parse("mode=user,mtu=65520"), 0);
	CHECK_EQ(p.mtu, 65520);
	CHECK_EQ(parse("mode=tap,mtu=68"), 0);
	CHECK_EQ(p.mtu, 68);
	check_bad("mtu=67", "mtu");
	check_bad("mtu=65521", "mtu");
	check_bad("mtu=", "mtu");
	check_bad("mtu=1500b", "mtu");
	check_bad("mtu=-1", "mtu");
}

static void test_syntax(void)
{
	check_bad("mode=user,,guest_ip=10.0.2.16", "empty field");
	check_bad("mode=user,", "empty field");
	check_bad("mode=user,colour=blue", "colour");
	check_bad("mode=user,trans=mmio", "trans");
	/* The first bad field is the one named. */
	check_bad("mode=tap,tapif=x,vhost=maybe,script=", "vhost");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_modes);
	RUN(test_macs);
	RUN(test_default_macs);
	RUN(test_ips);
	RUN(test_tap_fields);
	RUN(test_hostfwd);
	RUN(test_hostfwd_limit);
	RUN(test_mtu);
	RUN(test_syntax);
	return unit_summary();
}

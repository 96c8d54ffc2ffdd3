/*
 * The gdb stub's packet layer (framing, checksums, escapes) with every kind
 * of malformed input, and its command layer against a fake target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/gdb.h"
#include "lkvm/gdb-cmd.h"
#include "lkvm/gdb-rsp.h"
#include "unit.h"

/* Feed s; returns the last non-NONE event (or NONE) and counts packets. */
static enum rsp_event feed(struct rsp_reader *r, const char *s, size_t n, int *packets)
{
	enum rsp_event last = RSP_NONE, e;

	for (size_t i = 0; i < n; i++) {
		e = rsp_feed(r, (u8)s[i]);
		if (e != RSP_NONE)
			last = e;
		if (e == RSP_PACKET && packets)
			(*packets)++;
	}
	return last;
}

#define FEED(r, lit) feed((r), (lit), sizeof(lit) - 1, NULL)

static void test_good_packets(void)
{
	struct rsp_reader r;

	rsp_reader_init(&r);
	CHECK_EQ(FEED(&r, "$g#67"), RSP_PACKET);
	CHECK_EQ(r.len, 1);
	CHECK_STR((char *)r.buf, "g");
	CHECK_EQ(FEED(&r, "$#00"), RSP_PACKET);		/* empty packet */
	CHECK_EQ(r.len, 0);
	CHECK_EQ(FEED(&r, "$m10,4#2E"), RSP_PACKET);	/* upper-case checksum */
	CHECK_STR((char *)r.buf, "m10,4");
	/* '}' escapes: "}\x03" is '#', "}]" is '}'. */
	CHECK_EQ(FEED(&r, "$a}\x03}]#bb"), RSP_PACKET);
	CHECK_EQ(r.len, 3);
	CHECK(!memcmp(r.buf, "a#}", 3));
	CHECK_EQ(FEED(&r, "+"), RSP_ACK);
	CHECK_EQ(FEED(&r, "-"), RSP_NAK);
	CHECK_EQ(FEED(&r, "\x03"), RSP_INTERRUPT);
}

static void test_bad_packets(void)
{
	struct rsp_reader r;
	int packets = 0;
	char *big;
	size_t n;

	rsp_reader_init(&r);
	CHECK_EQ(FEED(&r, "$g#68"), RSP_BAD_PACKET);		/* wrong checksum */
	CHECK_EQ(FEED(&r, "$g#zz"), RSP_BAD_PACKET);		/* checksum not hex */
	CHECK_EQ(FEED(&r, "$g#6z"), RSP_BAD_PACKET);
	/* Truncated: a new '$' drops the partial packet; the next is fine. */
	CHECK_EQ(FEED(&r, "$m100,4$g#67"), RSP_PACKET);
	CHECK_STR((char *)r.buf, "g");
	/* Truncated at the end: nothing completes. */
	CHECK_EQ(FEED(&r, "$m100,"), RSP_NONE);
	CHECK_EQ(FEED(&r, "#"), RSP_NONE);
	CHECK_EQ(FEED(&r, "f"), RSP_NONE);
	/* Noise and a 0x03 inside a packet are data, not an interrupt. */
	rsp_reader_init(&r);
	CHECK_EQ(FEED(&r, "xyz"), RSP_NONE);
	CHECK_EQ(FEED(&r, "$\x03#03"), RSP_PACKET);
	/* Overlong: RSP_MAX_PAYLOAD + 1 bytes with a right checksum is refused. */
	n = RSP_MAX_PAYLOAD + 1;
	big = malloc(n + 8);
	u8 sum = 0;
	big[0] = '$';
	for (size_t i = 1; i <= n; i++) {
		big[i] = 'a';
		sum += 'a';
	}
	snprintf(big + n + 1, 5, "#%02x", sum);
	CHECK_EQ(feed(&r, big, n + 4, &packets), RSP_BAD_PACKET);
	CHECK_EQ(packets, 0);
	/* Exactly the maximum is fine. */
	big[n] = '#';
	sum -= 'a';
	snprintf(big + n + 1, 4, "%02x", sum);
	CHECK_EQ(feed(&r, big, n + 3, &packets), RSP_PACKET);
	CHECK_EQ(r.len, RSP_MAX_PAYLOAD);
	free(big);
}

static void test_frame_and_hex(void)
{
	char out[64];
	u8 bytes[4];
	const char *p;
	u64 v;

	CHECK_EQ(rsp_frame(out, sizeof(out), "OK", 2), 6);
	CHECK(!memcmp(out, "$OK#9a", 6));
	CHECK_EQ(rsp_frame(out, sizeof(out), "a#$}*", 5), 13);
	CHECK(!memcmp(out, "$a}\x03}\x04}]}\x0a#", 11));
	CHECK_EQ(rsp_frame(out, 5, "OK", 2), -ENOSPC);
	CHECK_EQ(rsp_frame(out, 3, "", 0), -ENOSPC);
	p = "ffffffffffffffff,";
	CHECK_EQ(rsp_parse_hex(&p, &v), 0);
	CHECK(v == ~0ULL);
	CHECK_EQ(*p, ',');
	p = "10000000000000000";		/* 17 digits: overflow */
	CHECK_EQ(rsp_parse_hex(&p, &v), -EINVAL);
	p = ",1";
	CHECK_EQ(rsp_parse_hex(&p, &v), -EINVAL);
	CHECK_EQ(rsp_hex_decode("0aFf", 2, bytes), 0);
	CHECK_EQ(bytes[0], 0x0a);
	CHECK_EQ(bytes[1], 0xff);
	CHECK_EQ(rsp_hex_decode("0g", 1, bytes), -EINVAL);
	CHECK_EQ(rsp_hex_decode("0", 1, bytes), -EINVAL);	/* odd: NUL is not hex */
	rsp_hex_encode((const u8 *)"\x01\xab", 2, out);
	CHECK_STR(out, "01ab");
}

/* --- commands against a fake target: 64 KiB of "memory", 2 threads ------- */

static u8 fake_mem[0x10000];
static u8 fake_regs[2][16];
static int bp_calls;
static struct gdb_reg_slot fake_slots[] = { { 0, 8 }, { 8, 4 }, { 12, 4 } };
static const struct gdb_arch_desc fake_arch = {
	.target_xml = "<target><architecture>fake</architecture></target>",
	.regs_size = 16, .regs = fake_slots, .nr_regs = 3, .pc_regno = 0, .nr_hw_slots = 4,
};

static int f_read_regs(void *t, unsigned int thread, u8 *buf)
{
	memcpy(buf, fake_regs[thread - 1], 16);
	return 0;
}

static int f_write_regs(void *t, unsigned int thread, const u8 *buf)
{
	memcpy(fake_regs[thread - 1], buf, 16);
	return 0;
}

static int f_read_mem(void *t, unsigned int thread, u64 addr, u8 *buf, size_t len)
{
	if (addr >= sizeof(fake_mem))
		return -EFAULT;
	len = MIN(len, sizeof(fake_mem) - addr);
	memcpy(buf, fake_mem + addr, len);
	return (int)len;
}

static int f_write_mem(void *t, unsigned int thread, u64 addr, const u8 *buf, size_t len)
{
	if (addr >= sizeof(fake_mem) || len > sizeof(fake_mem) - addr)
		return -EFAULT;
	memcpy(fake_mem + addr, buf, len);
	return (int)len;
}

static int f_bp(void *t, enum gdb_bp_type type, u64 addr, u64 kind)
{
	bp_calls++;
	return addr >= sizeof(fake_mem) ? -EFAULT : 0;
}

static const struct gdb_target_ops fake_ops = {
	.read_regs = f_read_regs, .write_regs = f_write_regs,
	.read_mem = f_read_mem, .write_mem = f_write_mem,
	.insert_bp = f_bp, .remove_bp = f_bp,
};

static char reply[RSP_MAX_PAYLOAD + 1];
static size_t reply_len;

static enum gdb_action cmd(struct gdb_session *s, const char *pkt)
{
	enum gdb_action a = gdb_handle_packet(s, pkt, strlen(pkt), reply, &reply_len);

	CHECK(reply_len <= RSP_MAX_PAYLOAD);
	reply[reply_len] = 0;
	return a;
}

static struct gdb_session session(void)
{
	struct gdb_session s;

	gdb_session_init(&s, &fake_ops, NULL, &fake_arch, 2);
	return s;
}

static void test_commands(void)
{
	struct gdb_session s = session();

	memcpy(fake_mem + 0x100, "\xde\xad\xbe\xef", 4);
	fake_regs[0][0] = 0x11;
	fake_regs[1][0] = 0x22;
	cmd(&s, "?");
	CHECK_STR(reply, "T05thread:01;");
	cmd(&s, "m100,4");
	CHECK_STR(reply, "deadbeef");
	CHECK_EQ(cmd(&s, "M100,2:0102"), GDB_ACT_REPLY);
	CHECK_STR(reply, "OK");
	CHECK_EQ(fake_mem[0x101], 2);
	cmd(&s, "g");
	CHECK_EQ(reply_len, 32);
	CHECK(!strncmp(reply, "11000000", 8));
	cmd(&s, "Hg2");
	CHECK_STR(reply, "OK");
	cmd(&s, "p0");
	CHECK_STR(reply, "2200000000000000");
	cmd(&s, "P1=78563412");
	CHECK_STR(reply, "OK");
	CHECK_EQ(fake_regs[1][8], 0x78);
	cmd(&s, "qfThreadInfo");
	CHECK_STR(reply, "m1,2");
	cmd(&s, "qsThreadInfo");
	CHECK_STR(reply, "l");
	cmd(&s, "qC");
	CHECK_STR(reply, "QC2");
	cmd(&s, "T2");
	CHECK_STR(reply, "OK");
	cmd(&s, "qSupported:multiprocess+;swbreak+");
	CHECK(strstr(reply, "qXfer:features:read+") != NULL);
	CHECK(strstr(reply, "PacketSize=") != NULL);
	cmd(&s, "qXfer:features:read:target.xml:0,10");
	CHECK_STR(reply, "m<target><archite");
	cmd(&s, "qXfer:features:read:target.xml:10,1000");
	CHECK(reply[0] == 'l' && strstr(reply, "</target>"));
	cmd(&s, "qXfer:features:read:target.xml:1000,10");
	CHECK_STR(reply, "l");
	bp_calls = 0;
	cmd(&s, "Z0,100,1");
	CHECK_STR(reply, "OK");
	cmd(&s, "z1,100,1;X1,0");
	CHECK_STR(reply, "OK");
	CHECK_EQ(bp_calls, 2);
	CHECK_EQ(cmd(&s, "c"), GDB_ACT_RESUME);
	CHECK_EQ(s.step_thread, 0);
	CHECK_EQ(cmd(&s, "Hc1"), GDB_ACT_REPLY);
	CHECK_EQ(cmd(&s, "s"), GDB_ACT_RESUME);
	CHECK_EQ(s.step_thread, 1);
	CHECK_EQ(cmd(&s, "vCont;s:2;c"), GDB_ACT_RESUME);
	CHECK_EQ(s.step_thread, 2);
	CHECK_EQ(cmd(&s, "vCont;c"), GDB_ACT_RESUME);
	CHECK_EQ(s.step_thread, 0);
	cmd(&s, "vCont?");
	CHECK_STR(reply, "vCont;c;C;s;S");
	CHECK_EQ(cmd(&s, "D"), GDB_ACT_DETACH);
	CHECK_STR(reply, "OK");
	CHECK_EQ(cmd(&s, "k"), GDB_ACT_KILL);
	CHECK_EQ(cmd(&s, "QStartNoAckMode"), GDB_ACT_REPLY);
	CHECK(s.no_ack);
	struct gdb_stop st = { .kind = GDB_STOP_HW, .hw_slot = 1 };
	struct gdb_hw_slot slots[4] = { [1] = { .used = true, .type = GDB_WATCH_WRITE, .addr = 0x1234, .len = 8 } };
	gdb_format_stop(&s, 2, &st, slots);
	CHECK_STR(s.stop_reply, "T05thread:02;watch:1234;");
	gdb_format_stop(&s, 1, NULL, slots);
	CHECK_STR(s.stop_reply, "T02thread:01;");
}

static void test_malformed_commands(void)
{
	static const struct { const char *pkt, *want; } cases[] = {
		{ "m", "E01" }, { "m100", "E01" }, { "m100,", "E01" }, { "m,4", "E01" },
		{ "mzz,4", "E01" }, { "m100,4,", "E01" }, { "m11111111111111111,1", "E01" },
		{ "m20000,4", "E14" }, { "mffffffffffffffff,ffffffffffffffff", "E14" },
		{ "M100,4:0102", "E01" }, { "M100,1:0g", "E01" }, { "M100,1", "E01" },
		{ "M100,ffffffffffffffff:00", "E01" }, { "Mfffff,1:00", "E14" },
		{ "G", "E01" }, { "G00", "E01" }, { "gx", "E01" },
		{ "p", "E01" }, { "pz", "E01" }, { "p3", "E22" }, { "pffffffffffffffff", "E22" },
		{ "P0", "E01" }, { "P0=1", "E01" }, { "P0=zz00000000000000", "E01" }, { "P9=00", "E22" },
		{ "Z", "E01" }, { "Z0", "E01" }, { "Z0,", "E01" }, { "Z0,100", "E01" },
		{ "Z0,100,", "E01" }, { "Z0,100,1x", "E01" }, { "Z5,100,1", "" },
		{ "Z0,fffff,1", "E14" },
		{ "H", "E01" }, { "Hg", "E01" }, { "Hg3", "E01" }, { "Hq1", "E01" }, { "Hgzz", "E01" },
		{ "T", "E01" }, { "T0", "E01" }, { "T3", "E01" }, { "T-1", "E01" },
		{ "c100", "E01" }, { "s1", "E01" },
		{ "vCont;", "E01" }, { "vCont;q", "E01" }, { "vCont;s:9", "E01" },
		{ "vCont;C", "E01" }, { "vCont;c:1x", "E01" }, { "vCont;cc", "E01" },
		{ "qXfer:features:read:other.xml:0,1", "E00" },
		{ "qXfer:features:read:target.xml:", "E01" },
		{ "qXfer:features:read:target.xml:0", "E01" },
		{ "qThreadExtraInfo,9", "E01" },
		{ "qNope", "" }, { "X100,0:", "" }, { "!", "" }, { "\x7f", "" },
	};
	struct gdb_session s = session();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cmd(&s, cases[i].pkt);
		if (strcmp(reply, cases[i].want)) {
			fprintf(stderr, "  packet '%s': reply '%s', want '%s'\n",
				cases[i].pkt, reply, cases[i].want);
			unit_case_failed = 1;
		}
	}
	/* A NUL inside the payload (escaped "}\x20" on the wire) is malformed. */
	CHECK_EQ(gdb_handle_packet(&s, "m\0" "100", 5, reply, &reply_len), GDB_ACT_REPLY);
	reply[reply_len] = 0;
	CHECK_STR(reply, "E01");
	/* Huge lengths are cut to what fits a reply. */
	cmd(&s, "m0,ffffffff");
	CHECK(reply_len > 0 && reply_len <= RSP_MAX_PAYLOAD);
	CHECK_EQ(reply_len % 2, 0);
}

static void test_gdb_addr(void)
{
	char host[64];
	unsigned int port;

	CHECK_EQ(gdb_parse_addr("1234", host, sizeof(host), &port), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_EQ(port, 1234);
	CHECK_EQ(gdb_parse_addr("0.0.0.0:99", host, sizeof(host), &port), 0);
	CHECK_STR(host, "0.0.0.0");
	CHECK_EQ(port, 99);
	CHECK_EQ(gdb_parse_addr("0", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ(gdb_parse_addr("65536", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ(gdb_parse_addr("12x", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ(gdb_parse_addr(":1234", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ(gdb_parse_addr("localhost:1234", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ(gdb_parse_addr("", host, sizeof(host), &port), -EINVAL);
}

int main(void)
{
	RUN(test_good_packets);
	RUN(test_bad_packets);
	RUN(test_frame_and_hex);
	RUN(test_commands);
	RUN(test_malformed_commands);
	RUN(test_gdb_addr);
	return unit_summary();
}

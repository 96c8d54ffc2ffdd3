/*
 * Fuzz target: the gdb stub's input path.  The bytes are a debugger's
 * stream: gdb/rsp.c frames them, and every complete packet goes to
 * gdb/commands.c against a fake two-thread target with 4 KiB of memory,
 * as gdb/stub.c does.  Oracle: replies fit the buffer and frame back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/gdb-cmd.h"
#include "lkvm/gdb-rsp.h"

static u8 mem[4096];
static u8 regs[2][24];
static struct gdb_reg_slot slots[] = { { 0, 8 }, { 8, 8 }, { 16, 4 }, { 20, 4 } };
static const struct gdb_arch_desc arch = {
	.target_xml = "<?xml version=\"1.0\"?><target><architecture>fuzz</architecture></target>",
	.regs_size = 24, .regs = slots, .nr_regs = 4, .pc_regno = 0, .nr_hw_slots = 4,
};

static int read_regs(void *t, unsigned int th, u8 *buf)
{
	if (th < 1 || th > 2)
		abort();
	memcpy(buf, regs[th - 1], sizeof(regs[0]));
	return 0;
}

static int write_regs(void *t, unsigned int th, const u8 *buf)
{
	if (th < 1 || th > 2)
		abort();
	memcpy(regs[th - 1], buf, sizeof(regs[0]));
	return 0;
}

static int read_mem(void *t, unsigned int th, u64 addr, u8 *buf, size_t len)
{
	if (addr >= sizeof(mem))
		return -EFAULT;
	len = len < sizeof(mem) - addr ? len : sizeof(mem) - addr;
	memcpy(buf, mem + addr, len);
	return (int)len;
}

static int write_mem(void *t, unsigned int th, u64 addr, const u8 *buf, size_t len)
{
	if (addr >= sizeof(mem) || len > sizeof(mem) - addr)
		return -EFAULT;
	memcpy(mem + addr, buf, len);
	return (int)len;
}

static int bp(void *t, enum gdb_bp_type type, u64 addr, u64 kind)
{
	return type == GDB_BP_SW && addr >= sizeof(mem) ? -EFAULT : 0;
}

static const struct gdb_target_ops ops = {
	.read_regs = read_regs, .write_regs = write_regs,
	.read_mem = read_mem, .write_mem = write_mem,
	.insert_bp = bp, .remove_bp = bp,
};

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct rsp_reader rd;
	static char reply[RSP_MAX_PAYLOAD + 1];
	static char framed[2 * RSP_MAX_PAYLOAD + 8];
	struct gdb_session s;
	size_t len;

	rsp_reader_init(&rd);
	gdb_session_init(&s, &ops, NULL, &arch, 2);
	for (size_t i = 0; i < size; i++) {
		if (rsp_feed(&rd, data[i]) != RSP_PACKET)
			continue;
		gdb_handle_packet(&s, (const char *)rd.buf, rd.len, reply, &len);
		if (len > RSP_MAX_PAYLOAD || rsp_frame(framed, sizeof(framed), reply, len) < 0)
			abort();
	}
	return 0;
}

/*
 * i8042 model: the probe sequence of a typical guest driver (self test,
 * command byte, interface and aux loop tests, aux IRQ delivery), keyboard
 * command replies, interrupt edges, and the two reset paths.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "lkvm/i8042.h"
#include "lkvm/kvm.h"
#include "../unit.h"

/* Weak stand-ins so the glue links without kvm.o and can be checked. */
static struct {
	u64 base[4], len[4];
	bus_handler_fn fn[4];
	unsigned int nr_ranges;
	u32 gsi;
	int level, irq_calls;
	enum vm_stop_reason stop;
} kvm_seen;

__attribute__((weak)) int bus_register(struct bus *bus, u64 base, u64 len,
				       bus_handler_fn fn, void *opaque,
				       const char *name)
{
	unsigned int i = kvm_seen.nr_ranges;

	if (i >= 4)
		return -ENOSPC;
	kvm_seen.base[i] = base;
	kvm_seen.len[i] = len;
	kvm_seen.fn[i] = fn;
	kvm_seen.nr_ranges++;
	return 0;
}

__attribute__((weak)) int bus_unregister(struct bus *bus, u64 base)
{
	return 0;
}

__attribute__((weak)) int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	kvm_seen.gsi = gsi;
	kvm_seen.level = level;
	kvm_seen.irq_calls++;
	return 0;
}

__attribute__((weak)) void kvm_request_stop(struct kvm *kvm,
					    enum vm_stop_reason reason)
{
	kvm_seen.stop = reason;
}

static struct i8042 kbc;

static struct {
	int level[16];
	unsigned int edges[16];
	unsigned int resets;
	bool reset_saw_lock_held;
} out;

static void fake_set_irq(void *opaque, u32 irq, int level)
{
	if (irq >= 16)
		return;
	if (level && !out.level[irq])
		out.edges[irq]++;
	out.level[irq] = level;
}

static void fake_reset(void *opaque)
{
	if (pthread_mutex_trylock(&kbc.lock) == 0)
		pthread_mutex_unlock(&kbc.lock);
	else
		out.reset_saw_lock_held = true;
	out.resets++;
}

static const struct i8042_ops fake_ops = {
	.set_irq = fake_set_irq,
	.reset = fake_reset,
};

static void setup(void)
{
	memset(&out, 0, sizeof(out));
	i8042_init(&kbc, &fake_ops, NULL);
}

static u8 status(void)
{
	u8 v = 0;

	i8042_cmd_io(&kbc, 0, &v, 1, false);
	return v;
}

static u8 data_in(void)
{
	u8 v = 0;

	i8042_data_io(&kbc, 0, &v, 1, false);
	return v;
}

static void command(u8 cmd)
{
	i8042_cmd_io(&kbc, 0, &cmd, 1, true);
}

static void data_out(u8 val)
{
	i8042_data_io(&kbc, 0, &val, 1, true);
}

/* What a driver's command helper does: wait for OBF, then read. */
static int response(void)
{
	for (int i = 0; i < 3; i++)
		if (status() & I8042_STR_OBF)
			return data_in();
	return -1;
}

static bool output_empty(void)
{
	return !(status() & I8042_STR_OBF);
}

static void test_power_on_status(void)
{
	setup();
	CHECK_EQ(status(), I8042_STR_UNLOCKED | I8042_STR_SYS);
	CHECK(!(status() & I8042_STR_IBF));
	CHECK_EQ(out.edges[1] + out.edges[12], 0);
}

static void test_linux_probe_sequence(void)
{
	unsigned int kbd_edges;
	u8 ctr0, ctr1;

	setup();
	CHECK(output_empty());			/* flush finds nothing */

	command(0xaa);				/* controller self test */
	CHECK_EQ(response(), 0x55);
	CHECK(output_empty());

	command(0x20);				/* stable command byte */
	ctr0 = response();
	command(0x20);
	ctr1 = response();
	CHECK_EQ(ctr0, ctr1);
	CHECK_EQ(ctr0, 0x65);
	CHECK(status() & I8042_STR_UNLOCKED);	/* no "keylock active" */

	/* Keyboard off, its interrupt off; then read it back. */
	command(0x60);
	data_out((ctr0 | I8042_CTR_KBDDIS) & ~I8042_CTR_KBDINT);
	command(0x20);
	CHECK_EQ(response(), 0x74);
	CHECK(output_empty());

	command(0xab);				/* keyboard interface test */
	CHECK_EQ(response(), 0x00);
	command(0xa9);				/* aux interface test */
	CHECK_EQ(response(), 0x00);

	/* Aux loopback: the byte comes back marked as aux data. */
	command(0xd3);
	data_out(0x5a);
	CHECK_EQ(status() & (I8042_STR_OBF | I8042_STR_AUXDATA),
		 I8042_STR_OBF | I8042_STR_AUXDATA);
	CHECK_EQ(data_in(), 0x5a);
	CHECK(output_empty());

	/* Bit assignment: 0xa7/0xa8 show up in the command byte. */
	command(0xa7);
	command(0x20);
	CHECK(response() & I8042_CTR_AUXDIS);
	command(0xa8);
	command(0x20);
	CHECK(!(response() & I8042_CTR_AUXDIS));

	/* Not an active multiplexer: the loop returns 0xa4 unchanged. */
	command(0xd3); data_out(0xf0); CHECK_EQ(response(), 0xf0);
	command(0xd3); data_out(0x56); CHECK_EQ(response(), 0x56);
	command(0xd3); data_out(0xa4); CHECK_EQ(response(), 0xa4);

	/* Aux IRQ delivery: enable the port and its interrupt, loop 0xa5. */
	command(0x60);
	data_out(0x74 | I8042_CTR_AUXINT);
	CHECK_EQ(out.edges[12], 0);
	kbd_edges = out.edges[1];
	command(0xd3);
	data_out(0xa5);
	CHECK_EQ(out.edges[12], 1);
	CHECK_EQ(out.level[12], 1);
	CHECK_EQ(out.edges[1], kbd_edges);
	CHECK_EQ(status() & 0x21, 0x21);
	CHECK_EQ(data_in(), 0xa5);
	CHECK_EQ(out.level[12], 0);
	CHECK_EQ(out.resets, 0);
}

static void test_keyboard_commands(void)
{
	setup();
	command(0x60);
	data_out(0x47);			/* keyboard on, KBDINT, AUXINT */
	CHECK_EQ(out.edges[1], 0);

	data_out(0xf2);			/* identify */
	CHECK_EQ(out.edges[1], 1);
	CHECK_EQ(status() & 0x21, 0x01);	/* keyboard data, not aux */
	CHECK_EQ(data_in(), 0xfa);
	CHECK_EQ(out.edges[1], 2);	/* next byte, next edge */
	CHECK_EQ(data_in(), 0xab);
	CHECK_EQ(data_in(), 0x83);
	CHECK_EQ(out.edges[1], 3);
	CHECK_EQ(out.level[1], 0);
	CHECK(output_empty());

	data_out(0xff);			/* reset: ACK, then BAT passed */
	CHECK_EQ(response(), 0xfa);
	CHECK_EQ(response(), 0xaa);
	data_out(0xed);			/* LEDs with argument */
	CHECK_EQ(response(), 0xfa);
	data_out(0x07);
	CHECK_EQ(response(), 0xfa);
	data_out(0xf3);			/* typematic with argument */
	CHECK_EQ(response(), 0xfa);
	data_out(0x00);
	CHECK_EQ(response(), 0xfa);
	data_out(0xf4);
	CHECK_EQ(response(), 0xfa);
	data_out(0xf5);
	CHECK_EQ(response(), 0xfa);
	data_out(0xf0);			/* scan code set: query */
	CHECK_EQ(response(), 0xfa);
	data_out(0x00);
	CHECK_EQ(response(), 0xfa);
	CHECK_EQ(response(), 0x02);
	data_out(0xee);			/* echo */
	CHECK_EQ(response(), 0xee);
	data_out(0xf6);			/* anything else: ACK */
	CHECK_EQ(response(), 0xfa);
	/* A command where an argument was expected starts over. */
	data_out(0xed);
	CHECK_EQ(response(), 0xfa);
	data_out(0xf2);
	CHECK_EQ(response(), 0xfa);
	CHECK_EQ(response(), 0xab);
	CHECK_EQ(response(), 0x83);
	CHECK(output_empty());
	CHECK_EQ(data_in(), 0x83);	/* empty: last byte again */
	CHECK_EQ(out.resets, 0);
}

static void test_no_mouse_nak(void)
{
	setup();
	command(0xd4);
	data_out(0xf2);			/* mouse identify */
	CHECK_EQ(status() & 0x21, 0x21);
	CHECK_EQ(data_in(), 0xfe);
	CHECK(output_empty());
}

static void test_irq_follows_command_byte(void)
{
	setup();
	command(0x60);
	data_out(0x64);			/* no interrupts */
	command(0xd2);
	data_out(0x1c);			/* a keyboard byte, injected */
	CHECK_EQ(out.edges[1], 0);
	command(0x60);			/* enabling KBDINT raises the line */
	data_out(0x65);
	CHECK_EQ(out.level[1], 1);
	CHECK_EQ(out.edges[1], 1);
	CHECK_EQ(data_in(), 0x1c);
	CHECK_EQ(out.level[1], 0);

	command(0xd3);			/* aux byte with AUXINT off */
	data_out(0x99);
	CHECK_EQ(out.edges[12], 0);
	CHECK_EQ(data_in(), 0x99);
}

static void test_status_cmd_bit_and_outport(void)
{
	setup();
	command(0xd0);
	CHECK(status() & I8042_STR_CMD);
	CHECK_EQ(response() & 0x01, 0x01);	/* reset line high */
	command(0xd1);
	data_out(0xdf);			/* A20 on: the usual write */
	CHECK(!(status() & I8042_STR_CMD));
	CHECK_EQ(out.resets, 0);
	command(0xd0);
	CHECK_EQ(response(), 0xdf);
	command(0xff);			/* pulse nothing */
	CHECK_EQ(out.resets, 0);
}

static void test_reset_by_pulse(void)
{
	setup();
	command(0xfe);
	CHECK_EQ(out.resets, 1);
	CHECK(!out.reset_saw_lock_held);
	setup();
	command(0xf0);			/* pulses all four lines, reset too */
	CHECK_EQ(out.resets, 1);
	setup();
	command(0xfd);			/* bit 0 set: not the reset line */
	CHECK_EQ(out.resets, 0);
}

static void test_reset_by_outport(void)
{
	setup();
	command(0xd1);
	data_out(0xfe);
	CHECK_EQ(out.resets, 1);
	CHECK(!out.reset_saw_lock_held);
	/* The data byte went to the output port, not to the keyboard. */
	CHECK(output_empty());
}

static void test_queue_overflow(void)
{
	setup();
	for (int i = 0; i < 40; i++) {
		command(0xd2);
		data_out(i);
	}
	for (int i = 0; i < I8042_QUEUE_SIZE; i++)
		CHECK_EQ(response(), i);
	CHECK(output_empty());
}

static void test_access_widths(void)
{
	u8 d[8];

	setup();
	command(0xaa);
	memset(d, 0, sizeof(d));
	i8042_data_io(&kbc, 0, d, 2, false);
	CHECK_EQ(d[0], 0x55);
	CHECK_EQ(d[1], 0xff);
	memset(d, 0, sizeof(d));
	i8042_cmd_io(&kbc, 0, d, 4, false);
	CHECK_EQ(d[0], 0x1c);		/* last write was a command */
	CHECK_EQ(d[3], 0xff);
	d[0] = 0xfe;
	i8042_cmd_io(&kbc, 3, d, 1, true);	/* not our port: ignored */
	i8042_cmd_io(&kbc, 0, d, 0, true);
	CHECK_EQ(out.resets, 0);
	d[0] = 0xfe;
	d[1] = 0x00;
	i8042_cmd_io(&kbc, 0, d, 2, true);	/* first byte counts */
	CHECK_EQ(out.resets, 1);
}

static void test_register_glue(void)
{
	struct kvm kvm;

	memset(&kvm, 0, sizeof(kvm));
	memset(&kvm_seen, 0, sizeof(kvm_seen));
	CHECK_EQ(i8042_register(&kvm, &kbc), 0);
	CHECK_EQ(kvm_seen.nr_ranges, 2);
	CHECK_EQ(kvm_seen.base[0], 0x60);
	CHECK_EQ(kvm_seen.len[0], 1);
	CHECK(kvm_seen.fn[0] == i8042_data_io);
	CHECK_EQ(kvm_seen.base[1], 0x64);
	CHECK_EQ(kvm_seen.len[1], 1);
	CHECK(kvm_seen.fn[1] == i8042_cmd_io);

	command(0xaa);			/* KBDINT is on by default */
	CHECK_EQ(kvm_seen.gsi, 1);
	CHECK_EQ(kvm_seen.level, 1);
	data_in();
	CHECK_EQ(kvm_seen.level, 0);
	CHECK_EQ(kvm_seen.irq_calls, 2);

	CHECK_EQ(kvm_seen.stop, VM_RUNNING);
	command(0xfe);
	CHECK_EQ(kvm_seen.stop, VM_STOP_RESET);
}

int main(void)
{
	RUN(test_power_on_status);
	RUN(test_linux_probe_sequence);
	RUN(test_keyboard_commands);
	RUN(test_no_mouse_nak);
	RUN(test_irq_follows_command_byte);
	RUN(test_status_cmd_bit_and_outport);
	RUN(test_reset_by_pulse);
	RUN(test_reset_by_outport);
	RUN(test_queue_overflow);
	RUN(test_access_widths);
	RUN(test_register_glue);
	return unit_summary();
}

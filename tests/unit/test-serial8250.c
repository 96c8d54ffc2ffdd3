/*
 * 16550A model: the checks a guest driver makes while identifying the
 * chip, interrupt priorities and acknowledgement, loopback, receive
 * back-pressure, odd access widths, and the KVM glue.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "lkvm/kvm.h"
#include "lkvm/serial8250.h"
#include "unit.h"

/*
 * Weak stand-ins for the glue's KVM calls, so the test links without
 * pulling kvm.o and can see what the glue asked for.
 */
static struct {
	u64 base, len;
	bus_handler_fn fn;
	void *opaque;
	u32 gsi;
	int level, calls;
} kvm_seen;

__attribute__((weak)) int bus_register(struct bus *bus, u64 base, u64 len,
				       bus_handler_fn fn, void *opaque,
				       const char *name)
{
	kvm_seen.base = base;
	kvm_seen.len = len;
	kvm_seen.fn = fn;
	kvm_seen.opaque = opaque;
	return 0;
}

__attribute__((weak)) int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	kvm_seen.gsi = gsi;
	kvm_seen.level = level;
	kvm_seen.calls++;
	return 0;
}

/* What the model told the outside world. */
static struct {
	u8 tx[1024];
	unsigned int nr_tx, tx_total;
	int level;
	unsigned int irq_changes;
	unsigned int rises;
	unsigned int rx_ready;
} out;

static void fake_tx(void *opaque, u8 byte)
{
	out.tx_total++;
	if (out.nr_tx < sizeof(out.tx))
		out.tx[out.nr_tx++] = byte;
}

static void fake_set_irq(void *opaque, int level)
{
	if (level && !out.level)
		out.rises++;
	out.level = level;
	out.irq_changes++;
}

static void fake_rx_ready(void *opaque)
{
	out.rx_ready++;
}

static const struct uart8250_ops fake_ops = {
	.tx = fake_tx,
	.set_irq = fake_set_irq,
	.rx_ready = fake_rx_ready,
};

static struct uart8250 uart;

static void setup(void)
{
	memset(&out, 0, sizeof(out));
	uart8250_init(&uart, &fake_ops, NULL);
}

static u8 rd(unsigned int reg)
{
	u8 v = 0x5a;

	uart8250_io(&uart, reg, &v, 1, false);
	return v;
}

static void wr(unsigned int reg, u8 val)
{
	uart8250_io(&uart, reg, &val, 1, true);
}

enum { RBR = 0, THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

static void test_reset_state(void)
{
	setup();
	CHECK_EQ(rd(IER), 0);
	CHECK_EQ(rd(IIR), 0x01);
	CHECK_EQ(rd(LCR), 0);
	CHECK_EQ(rd(MCR), 0);
	CHECK_EQ(rd(LSR), 0x60);
	CHECK_EQ(rd(MSR), 0xb0);
	CHECK_EQ(out.irq_changes, 0);
}

/* The identification sequence of a typical 8250-family driver. */
static void test_identifies_as_16550a(void)
{
	setup();
	/* IER keeps exactly its four bits (an XScale UART keeps bit 6). */
	wr(IER, 0);
	CHECK_EQ(rd(IER), 0);
	wr(IER, 0x0f);
	CHECK_EQ(rd(IER), 0x0f);
	wr(IER, 0xff);
	CHECK_EQ(rd(IER), 0x0f);
	wr(IER, 0);

	/* Loopback with RTS and OUT2: MSR shows CTS and DCD only. */
	wr(MCR, 0x10 | 0x0a);
	CHECK_EQ(rd(MSR) & 0xf0, 0x90);
	wr(MCR, 0);

	/* FIFO enabled: IIR bits 7-6 both set; disabled: clear. */
	wr(FCR, 0x01);
	CHECK_EQ(rd(IIR) >> 6, 3);
	wr(FCR, 0x00);
	CHECK_EQ(rd(IIR) >> 6, 0);
	wr(FCR, 0x01);

	/* IIR does not depend on LCR (no EFR behind it, even with 0xbf). */
	wr(LCR, 0x80);
	CHECK(rd(IIR) != 0);
	wr(LCR, 0xbf);
	CHECK(rd(IIR) != 0);

	/* No 64-byte FIFO: FCR bit 5 never shows up as IIR bit 5. */
	wr(LCR, 0x80);
	wr(FCR, 0x21);
	CHECK_EQ(rd(IIR) >> 5, 6);
	wr(LCR, 0);
	CHECK_EQ(rd(IIR) >> 5, 6);

	/* IIR bit 4 is 0 whatever MCR holds. */
	wr(MCR, 0x10);
	CHECK_EQ(rd(IIR) & 0x10, 0);
	wr(MCR, 0);

	/* Scratch register. */
	wr(SCR, 0xa5);
	CHECK_EQ(rd(SCR), 0xa5);
	wr(SCR, 0x5a);
	CHECK_EQ(rd(SCR), 0x5a);
}

static void test_divisor_latch(void)
{
	setup();
	wr(IER, 0x05);
	wr(LCR, 0x83);
	wr(0, 0x01);
	wr(1, 0x00);
	CHECK_EQ(rd(0), 0x01);
	CHECK_EQ(rd(1), 0x00);
	wr(LCR, 0x03);
	CHECK_EQ(rd(IER), 0x05);
	CHECK_EQ(rd(LCR), 0x03);
	CHECK_EQ(out.nr_tx, 0);	/* DLL writes are not data */
}

/* The start-up THRE test: the interrupt must come back every time. */
static void test_thre_interrupt(void)
{
	setup();
	wr(FCR, 0x01);
	wr(IER, 0x02);
	CHECK_EQ(rd(IIR), 0xc2);
	CHECK_EQ(rd(IIR), 0xc1);	/* acknowledged by the read */
	wr(IER, 0);
	wr(IER, 0x02);
	CHECK_EQ(rd(IIR), 0xc2);	/* re-raised by enabling it */
	CHECK_EQ(rd(IIR), 0xc1);
	wr(IER, 0x02);			/* already enabled: no new edge */
	CHECK_EQ(rd(IIR), 0xc1);

	/*
	 * A THR write sends the byte and leaves THR empty again; its THRE
	 * interrupt comes once the guest has looked (IIR or LSR read).
	 */
	wr(THR, 'h');
	wr(THR, 'i');
	CHECK_EQ(out.nr_tx, 2);
	CHECK(!memcmp(out.tx, "hi", 2));
	CHECK_EQ(rd(IIR), 0xc1);
	CHECK_EQ(rd(IIR), 0xc2);
	CHECK_EQ(rd(IIR), 0xc1);
	wr(THR, '?');
	CHECK_EQ(rd(LSR) & 0x60, 0x60);
	CHECK_EQ(rd(IIR), 0xc2);

	/* Re-enabling always shows THRE at once, whatever was written. */
	wr(THR, '.');
	wr(IER, 0);
	wr(IER, 0x02);
	CHECK_EQ(rd(IIR), 0xc2);

	/* Disabled: THR writes leave nothing to report. */
	wr(IER, 0);
	wr(THR, '!');
	CHECK_EQ(rd(IIR), 0xc1);
}

static void test_irq_line_gated_by_out2(void)
{
	setup();
	wr(IER, 0x02);
	CHECK_EQ(out.irq_changes, 0);	/* OUT2 low: line held off */
	wr(MCR, 0x08);
	CHECK_EQ(out.level, 1);
	CHECK_EQ(out.irq_changes, 1);
	rd(IIR);
	CHECK_EQ(out.level, 0);
	CHECK_EQ(out.irq_changes, 2);
	wr(THR, 'x');
	CHECK_EQ(out.level, 0);		/* "draining" */
	rd(LSR);
	CHECK_EQ(out.level, 1);
	wr(MCR, 0x18);			/* loopback forces OUT2 off */
	CHECK_EQ(out.level, 0);
	wr(MCR, 0x08);
	CHECK_EQ(out.level, 1);
	wr(IER, 0);
	CHECK_EQ(out.level, 0);
	CHECK_EQ(out.irq_changes, 6);

	/* Nothing more to send: THRE turned off before it was due. */
	wr(IER, 0x02);
	CHECK_EQ(out.level, 1);
	rd(IIR);
	wr(THR, 'y');
	wr(IER, 0);
	CHECK_EQ(rd(IIR), 0x01);
	CHECK_EQ(out.level, 0);
	CHECK_EQ(out.irq_changes, 8);	/* no spurious interrupt */
}

/*
 * A driver's interrupt handler: loop while IIR reports something; drain
 * the receiver; on THRE send one FIFO load if there is output.  Returns
 * how many passes it made.
 */
static u8 ier_shadow;

static int isr(bool have_output)
{
	int passes = 0;

	for (;;) {
		u8 iir = rd(IIR), lsr;

		if (iir & 0x01)
			return passes;
		lsr = rd(LSR);
		while (lsr & 0x01) {
			rd(RBR);
			lsr = rd(LSR);
		}
		if ((lsr & 0x20) && (ier_shadow & 0x02)) {
			if (have_output) {
				for (int i = 0; i < 16; i++)
					wr(THR, 'a' + i);
			} else {
				ier_shadow &= ~0x02;	/* stop_tx */
				wr(IER, ier_shadow);
			}
		}
		if (++passes > 512)
			return passes;		/* "too much work" */
	}
}

/*
 * With a writer that never runs dry, each invocation must end after one
 * FIFO load, and the line must rise during it so the next one comes,
 * also when received data held the line up meanwhile.
 */
static void test_one_fifo_load_per_interrupt(void)
{
	setup();
	wr(FCR, 0x81);
	wr(MCR, 0x08);
	ier_shadow = 0x05;
	wr(IER, ier_shadow);
	ier_shadow |= 0x02;		/* start_tx */
	wr(IER, ier_shadow);
	CHECK_EQ(out.rises, 1);
	for (unsigned int n = 0; n < 100; n++) {
		unsigned int rises = out.rises;

		CHECK_EQ(out.level, 1);
		if (n % 3 == 0)		/* a key press arrives meanwhile */
			uart8250_rx_push(&uart, (const u8 *)"k", 1);
		CHECK_EQ(isr(true), 1);
		CHECK(out.rises > rises);	/* the next invocation is due */
	}
	CHECK_EQ(out.tx_total, 1600);

	/* The writer runs dry: stop_tx turns THRE off, the line drops. */
	CHECK_EQ(isr(false), 1);
	CHECK_EQ(out.level, 0);
	CHECK_EQ(rd(IIR), 0xc1);
}

static void test_interrupt_priority(void)
{
	setup();
	wr(FCR, 0x01);
	/* Loopback with DTR: modem deltas; then overrun the 16-byte FIFO. */
	wr(MCR, 0x11);
	for (int i = 0; i < 17; i++)
		wr(THR, 'A' + i);
	CHECK_EQ(out.nr_tx, 0);
	wr(IER, 0x0f);

	CHECK_EQ(rd(IIR), 0xc6);	/* line status first */
	CHECK_EQ(rd(LSR), 0x63);	/* DR | OE | THRE | TEMT */
	CHECK_EQ(rd(LSR), 0x61);	/* OE cleared by the read */
	CHECK_EQ(rd(IIR), 0xc4);	/* then received data (16 >= 1) */
	for (int i = 0; i < 16; i++)
		CHECK_EQ(rd(RBR), 'A' + i);
	CHECK_EQ(rd(LSR) & 0x01, 0);
	CHECK_EQ(rd(IIR), 0xc2);	/* then THRE */
	CHECK_EQ(rd(IIR), 0xc0);	/* then modem status (DDSR) */
	CHECK_EQ(rd(MSR), 0x29);	/* DSR; CTS and DCD dropped */
	CHECK_EQ(rd(IIR), 0xc1);
}

/*
 * A break (lkvm debug --sysrq): one NUL with LSR.BI, seen together by the
 * driver's LSR read before it reads the NUL; refused while input is unread.
 */
static void test_break(void)
{
	u8 key = 'h';

	setup();
	wr(FCR, 0x01);
	wr(MCR, 0x08);			/* OUT2: the line reaches the PIC */
	wr(IER, 0x05);			/* ELSI | ERBFI, as Linux sets them */
	CHECK_EQ(uart8250_rx_break(&uart), 0);
	CHECK_EQ(out.level, 1);
	CHECK_EQ(uart8250_rx_push(&uart, &key, 1), 1);
	CHECK_EQ(rd(IIR), 0xc6);	/* line status before received data */
	CHECK_EQ(rd(LSR), 0x71);	/* BI | DR | THRE | TEMT */
	CHECK_EQ(rd(RBR), 0);
	CHECK_EQ(rd(LSR), 0x61);	/* BI went with the NUL: 'h' is plain */
	CHECK_EQ(rd(RBR), 'h');
	CHECK_EQ(rd(IIR), 0xc1);
	CHECK_EQ(out.level, 0);

	CHECK_EQ(uart8250_rx_push(&uart, &key, 1), 1);
	CHECK_EQ(uart8250_rx_break(&uart), -EAGAIN);
	CHECK_EQ(rd(LSR), 0x61);	/* no BI on the pending 'h' */
	CHECK_EQ(rd(RBR), 'h');
	wr(MCR, 0x18);			/* loopback: the receiver is off the line */
	CHECK_EQ(uart8250_rx_break(&uart), -EAGAIN);
}

static void test_rx_trigger_level(void)
{
	const u8 three[3] = "abc", five[5] = "defgh";

	setup();
	wr(FCR, 0x81);			/* FIFO on, trigger at 8 */
	wr(IER, 0x01);
	wr(MCR, 0x08);
	CHECK_EQ(uart8250_rx_push(&uart, three, 3), 3);
	CHECK_EQ(rd(IIR), 0xcc);	/* character timeout below trigger */
	CHECK_EQ(out.level, 1);
	CHECK_EQ(uart8250_rx_push(&uart, five, 5), 5);
	CHECK_EQ(rd(IIR), 0xc4);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(rd(RBR), "abcdefgh"[i]);
	CHECK_EQ(rd(IIR), 0xc1);
	CHECK_EQ(out.level, 0);

	/* FIFOs off: every byte is "data available". */
	wr(FCR, 0x00);
	CHECK_EQ(uart8250_rx_push(&uart, three, 1), 1);
	CHECK_EQ(rd(IIR), 0x04);
	CHECK_EQ(rd(RBR), 'a');
}

static void test_fcr_clears_rx(void)
{
	const u8 s[4] = "wxyz";

	setup();
	wr(FCR, 0x01);
	uart8250_rx_push(&uart, s, 4);
	CHECK_EQ(rd(LSR) & 1, 1);
	wr(FCR, 0x03);
	CHECK_EQ(rd(LSR) & 1, 0);
	uart8250_rx_push(&uart, s, 4);
	wr(FCR, 0x00);			/* turning the FIFO off empties it too */
	CHECK_EQ(rd(LSR) & 1, 0);
}

static void test_loopback(void)
{
	setup();
	wr(MCR, 0x10);
	CHECK_EQ(rd(MSR), 0x0b);	/* CTS, DSR, DCD dropped: deltas */
	CHECK_EQ(rd(MSR), 0x00);
	wr(MCR, 0x1f);
	CHECK_EQ(rd(MSR), 0xfb);	/* all four up; RI rise is no delta */
	wr(MCR, 0x1b);
	CHECK_EQ(rd(MSR), 0xb4);	/* RI fell: trailing edge */

	/* Without FIFOs the receiver holds one byte; the next overruns. */
	wr(THR, 0x11);
	wr(THR, 0x22);
	CHECK_EQ(out.nr_tx, 0);
	CHECK_EQ(rd(LSR), 0x63);
	CHECK_EQ(rd(RBR), 0x11);

	/* With FIFOs: 16 bytes, as a FIFO-size probe would count. */
	wr(FCR, 0x07);
	for (int i = 0; i < 256; i++)
		wr(THR, i);
	int count = 0;
	while ((rd(LSR) & 1) && count < 256) {
		CHECK_EQ(rd(RBR), count);
		count++;
	}
	CHECK_EQ(count, 16);

	/* The host line is disconnected meanwhile. */
	CHECK_EQ(uart8250_rx_space(&uart), 0);
	CHECK_EQ(uart8250_rx_push(&uart, (const u8 *)"q", 1), 0);
	CHECK_EQ(out.rx_ready, 0);
	wr(MCR, 0x0b);
	CHECK_EQ(out.rx_ready, 1);
	CHECK_EQ(rd(MSR) & 0xf0, 0xb0);
	CHECK_EQ(uart8250_rx_push(&uart, (const u8 *)"q", 1), 1);
	wr(THR, 'o');
	CHECK_EQ(out.nr_tx, 1);
	CHECK_EQ(rd(RBR), 'q');
}

static void test_rx_backpressure(void)
{
	u8 buf[300];

	setup();
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (u8)i;
	CHECK_EQ(uart8250_rx_space(&uart), UART8250_RX_BUF);
	CHECK_EQ(uart8250_rx_push(&uart, buf, sizeof(buf)), UART8250_RX_BUF);
	CHECK_EQ(uart8250_rx_space(&uart), 0);
	CHECK_EQ(uart8250_rx_push(&uart, buf, 1), 0);
	CHECK_EQ(out.rx_ready, 0);
	CHECK_EQ(rd(RBR), 0);
	CHECK_EQ(out.rx_ready, 1);	/* room again: reader woken once */
	CHECK_EQ(rd(RBR), 1);
	CHECK_EQ(out.rx_ready, 1);
	CHECK_EQ(uart8250_rx_push(&uart, buf + 256, 44), 2);
	for (unsigned int i = 2; i < 258; i++)
		CHECK_EQ(rd(RBR), (u8)i);
	CHECK_EQ(out.rx_ready, 2);
	CHECK_EQ(rd(LSR) & 1, 0);
	CHECK_EQ(rd(RBR), 0);		/* empty: reads do not underflow */
	CHECK_EQ(uart8250_rx_space(&uart), UART8250_RX_BUF);
}

static void test_access_widths(void)
{
	u8 data[8];

	setup();
	wr(IER, 0x05);
	uart8250_rx_push(&uart, (const u8 *)"Z", 1);
	memset(data, 0, sizeof(data));
	uart8250_io(&uart, 0, data, 2, false);	/* RBR then IER */
	CHECK_EQ(data[0], 'Z');
	CHECK_EQ(data[1], 0x05);

	memset(data, 0, sizeof(data));
	uart8250_io(&uart, 6, data, 4, false);	/* MSR, SCR, then nothing */
	CHECK_EQ(data[0], 0xb0);
	CHECK_EQ(data[2], 0xff);
	CHECK_EQ(data[3], 0xff);

	memcpy(data, "ab\x0f", 3);
	uart8250_io(&uart, 7, data, 4, true);	/* SCR only */
	CHECK_EQ(rd(SCR), 'a');
	CHECK_EQ(out.nr_tx, 0);

	uart8250_io(&uart, 0, data, 8, false);
	uart8250_io(&uart, 1000, data, 4, true);
	uart8250_io(&uart, 0, data, 0, true);
	memcpy(data, "ok", 2);
	uart8250_io(&uart, 0, data, 2, true);	/* THR 'o', IER 'k' & 0xf */
	CHECK_EQ(out.nr_tx, 1);
	CHECK_EQ(out.tx[0], 'o');
	CHECK_EQ(rd(IER), 'k' & 0x0f);
}

/*
 * The line is recomputed only after accesses that can move it: after any
 * access, a forced full recomputation (an empty push) must not change it.
 * A pseudo-random walk over every register, both directions, DLAB on and
 * off, loopback and OUT2, with input arriving now and then.
 */
static void test_line_current_after_every_access(void)
{
	u32 x = 12345;
	unsigned int stale = 0;
	u8 dummy = 0;

	setup();
	for (int i = 0; i < 20000; i++) {
		unsigned int reg, before;
		u8 val;

		x = x * 1103515245 + 12345;
		reg = (x >> 8) & 7;
		val = (u8)(x >> 16);
		if (reg == MCR)
			val &= 0x1f;
		if (reg == LCR)
			val &= 0x80;	/* DLAB on or off, nothing else matters */
		if ((x >> 28) == 0)
			uart8250_rx_push(&uart, &val, 1);
		else if ((x >> 24) & 1)
			wr(reg, val);
		else
			rd(reg);
		before = out.irq_changes;
		uart8250_rx_push(&uart, &dummy, 0);
		if (out.irq_changes != before)
			stale++;
	}
	CHECK_EQ(stale, 0);
	CHECK(out.rises > 0);	/* the walk did raise the line */
}

/* SCR: a lone byte on the lock-free path, and inside a wider access. */
static void test_scratch_register(void)
{
	u8 data[2];

	setup();
	wr(MCR, 0x08);
	wr(IER, 0x02);		/* THRE pending: the line is up */
	CHECK_EQ(out.level, 1);
	for (unsigned int v = 0; v < 256; v++) {
		wr(SCR, (u8)v);
		CHECK_EQ(rd(SCR), v);
	}
	CHECK_EQ(out.irq_changes, 1);	/* SCR never touched the line */
	CHECK_EQ(out.level, 1);
	wr(SCR, 0x3c);
	uart8250_io(&uart, 6, data, 2, false);	/* MSR then SCR, locked */
	CHECK_EQ(data[1], 0x3c);
	data[0] = 0;
	data[1] = 0xc3;
	uart8250_io(&uart, 6, data, 2, true);	/* MSR ignored, SCR */
	CHECK_EQ(rd(SCR), 0xc3);
	/* DLAB does not hide SCR. */
	wr(LCR, 0x80);
	CHECK_EQ(rd(SCR), 0xc3);
	wr(LCR, 0x03);
}

/* Lock-free SCR writes beside locked accesses on another thread. */
static volatile bool scr_stop;

static void *scr_writer(void *arg)
{
	for (unsigned int i = 0; !scr_stop; i++)
		wr(SCR, (u8)(i & 1 ? 0x55 : 0xaa));
	return NULL;
}

static void test_scratch_concurrent(void)
{
	pthread_t t;
	unsigned int bad = 0;
	u8 data[2];

	setup();
	scr_stop = false;
	pthread_create(&t, NULL, scr_writer, NULL);
	for (int i = 0; i < 100000; i++) {
		uart8250_io(&uart, 6, data, 2, false);
		if (data[1] != 0x55 && data[1] != 0xaa && data[1] != 0)
			bad++;
		if (data[0] != 0xb0)
			bad++;
	}
	scr_stop = true;
	pthread_join(t, NULL);
	CHECK_EQ(bad, 0);
}

/* A host thread pushes while a "vCPU" drains: order kept, nothing lost. */
#define STRESS_BYTES 20000

static void *pusher(void *arg)
{
	for (unsigned int i = 0; i < STRESS_BYTES;) {
		u8 b[7];

		for (unsigned int j = 0; j < sizeof(b); j++)
			b[j] = (u8)((i + j) * 7);
		size_t n = MIN(sizeof(b), (size_t)(STRESS_BYTES - i));

		i += uart8250_rx_push(&uart, b, n);
	}
	return NULL;
}

static void test_concurrent_rx(void)
{
	pthread_t t;
	unsigned int got = 0, bad = 0;

	setup();
	wr(FCR, 0x01);
	pthread_create(&t, NULL, pusher, NULL);
	while (got < STRESS_BYTES) {
		if (!(rd(LSR) & 1))
			continue;
		if (rd(RBR) != (u8)(got * 7))
			bad++;
		got++;
	}
	pthread_join(t, NULL);
	CHECK_EQ(bad, 0);
	CHECK_EQ(rd(LSR) & 1, 0);
}

/* Glue: bus range, GSI and console ops reach the right places. */
static void console_tx(void *opaque, u8 byte)
{
	CHECK(opaque == &uart);
	fake_tx(NULL, byte);
}

static void test_register_glue(void)
{
	static const struct uart8250_ops console = { .tx = console_tx };
	struct kvm kvm;

	memset(&out, 0, sizeof(out));
	memset(&kvm_seen, 0, sizeof(kvm_seen));
	memset(&kvm, 0, sizeof(kvm));
	CHECK_EQ(serial8250_register(&kvm, &uart, &kvm.pio_bus, UART8250_COM2_BASE,
				     UART8250_COM2_IRQ, &console), 0);
	CHECK_EQ(kvm_seen.base, 0x2f8);
	CHECK_EQ(kvm_seen.len, 8);
	CHECK(kvm_seen.fn == uart8250_io);
	CHECK(kvm_seen.opaque == &uart);

	wr(MCR, 0x08);
	wr(IER, 0x02);
	CHECK_EQ(kvm_seen.calls, 1);
	CHECK_EQ(kvm_seen.gsi, 3);
	CHECK_EQ(kvm_seen.level, 1);
	wr(THR, '$');
	CHECK_EQ(out.nr_tx, 1);
	CHECK_EQ(out.tx[0], '$');
	CHECK_EQ(kvm_seen.level, 0);	/* "draining" */
	CHECK_EQ(rd(IIR), 0x01);
	CHECK_EQ(kvm_seen.level, 1);
	CHECK_EQ(rd(IIR), 0x02);
	CHECK_EQ(kvm_seen.level, 0);

	/* No console ops: output is dropped, nothing crashes. */
	CHECK_EQ(serial8250_register(&kvm, &uart, &kvm.pio_bus, UART8250_COM1_BASE,
				     UART8250_COM1_IRQ, NULL), 0);
	wr(THR, '#');
	CHECK_EQ(out.nr_tx, 1);
	CHECK_EQ(uart8250_rx_push(&uart, (const u8 *)"x", 1), 1);
}

int main(void)
{
	RUN(test_reset_state);
	RUN(test_identifies_as_16550a);
	RUN(test_divisor_latch);
	RUN(test_thre_interrupt);
	RUN(test_irq_line_gated_by_out2);
	RUN(test_one_fifo_load_per_interrupt);
	RUN(test_interrupt_priority);
	RUN(test_break);
	RUN(test_rx_trigger_level);
	RUN(test_fcr_clears_rx);
	RUN(test_loopback);
	RUN(test_rx_backpressure);
	RUN(test_access_widths);
	RUN(test_concurrent_rx);
	RUN(test_line_current_after_every_access);
	RUN(test_scratch_register);
	RUN(test_scratch_concurrent);
	RUN(test_register_glue);
	return unit_summary();
}

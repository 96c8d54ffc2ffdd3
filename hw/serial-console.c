/*
 * The 8250 UART as the guest console: what the guest transmits goes to
 * lkvm's console, terminal input goes to the UART's receive FIFO.  The
 * same for every architecture; only the bus and base differ.
 */
#include <errno.h>
#include "lkvm/serial8250.h"
#include "lkvm/term.h"

static void serial_tx(void *opaque UNUSED, u8 byte)
{
	console_write(&byte, 1);
}

static size_t serial_console_push(void *opaque, const u8 *buf, size_t n)
{
	return uart8250_rx_push(opaque, buf, n);
}

static void serial_rx_ready(void *opaque UNUSED)
{
	term_input_ready();
}

static const struct uart8250_ops serial_console_ops = {
	.tx = serial_tx,
	.rx_ready = serial_rx_ready,
};

int serial8250_console_register(struct kvm *kvm, struct uart8250 *u, struct bus *bus,
				u64 base, u32 irq)
{
	struct console_input in = { .push = serial_console_push, .opaque = u };
	int ret = serial8250_register(kvm, u, bus, base, irq, &serial_console_ops);

	if (!ret)
		term_set_input(&in);
	return ret;
}

/* lkvm debug --sysrq: Linux's 8250 driver takes a break then a key as SysRq. */
int serial8250_console_sysrq(struct uart8250 *u, u8 key)
{
	int ret = uart8250_rx_break(u);

	if (ret)
		return ret;
	return uart8250_rx_push(u, &key, 1) == 1 ? 0 : -EAGAIN;
}

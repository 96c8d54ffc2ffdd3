/*
 * 16550A UART.  Written from the register descriptions of the
 * National Semiconductor PC16550D data sheet; what a guest driver checks
 * while identifying the chip is what matters most here: IER keeps only its
 * four defined bits, IIR bits 5-4 read 0 and bits 7-6 follow FCR bit 0,
 * loopback mirrors MCR into MSR, and enabling the THRE interrupt while the
 * transmitter is empty raises it at once.
 */
#include <errno.h>
#include <string.h>

#include "lkvm/kvm.h"
#include "lkvm/serial8250.h"

/* Register offsets. */
#define REG_RBR_THR	0
#define REG_IER		1
#define REG_IIR_FCR	2
#define REG_LCR		3
#define REG_MCR		4
#define REG_LSR		5
#define REG_MSR		6
#define REG_SCR		7

#define IER_ERBFI	0x01	/* receive data available */
#define IER_ETBEI	0x02	/* transmitter holding register empty */
#define IER_ELSI	0x04	/* receiver line status */
#define IER_EDSSI	0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_NONE	0x01
#define IIR_MODEM	0x00
#define IIR_THRE	0x02
#define IIR_RX		0x04
#define IIR_LINE	0x06
#define IIR_TIMEOUT	0x0c
#define IIR_FIFO_ON	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04
#define FCR_KEPT	0xc9	/* enable, DMA mode, trigger level */

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_BI		0x10
#define LSR_ERRORS	0x1e	/* OE, PE, FE, BI */
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_DELTAS	0x0f
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

/* A terminal is attached: CTS, DSR and DCD asserted, no ring. */
#define MSR_HOST_LINES	(MSR_CTS | MSR_DSR | MSR_DCD)

/* What an access owes the outside world once the lock is dropped. */
struct uart_deferred {
	u8 tx[8];
	unsigned int nr_tx;
	bool rx_ready;
};

static bool fifo_enabled(const struct uart8250 *u)
{
	return u->fcr & FCR_ENABLE;
}

static bool loopback(const struct uart8250 *u)
{
	return u->mcr & MCR_LOOP;
}

static unsigned int rx_trigger_level(const struct uart8250 *u)
{
	static const unsigned int levels[4] = { 1, 4, 8, 14 };

	return fifo_enabled(u) ? levels[u->fcr >> 6] : 1;
}

/* The highest-priority pending interrupt, as IIR bits 3-0. */
static u8 pending_source(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_errors & LSR_ERRORS))
		return IIR_LINE;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		/*
		 * Below the trigger level the chip waits four character times
		 * before the timeout interrupt; with no line timing to model
		 * that delay is zero, which keeps typing interactive.
		 */
		return u->rx_count >= rx_trigger_level(u) ? IIR_RX : IIR_TIMEOUT;
	}
	if ((u->ier & IER_ETBEI) && u->thre_pending && !u->thre_deferred)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MODEM;
	return IIR_NONE;
}

/*
 * On a PC the chip's INTR pin reaches the interrupt controller through a
 * buffer enabled by the OUT2 pin, and loopback forces OUT2 inactive.
 */
static void update_irq(struct uart8250 *u)
{
	bool level = pending_source(u) != IIR_NONE &&
		     (u->mcr & MCR_OUT2) && !loopback(u);

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->ops && u->ops->set_irq)
		u->ops->set_irq(u->opaque, level);
}

static void rx_clear(struct uart8250 *u, struct uart_deferred *d)
{
	u->rx_head = 0;
	u->rx_count = 0;
	if (u->rx_refused && !loopback(u)) {
		u->rx_refused = false;
		d->rx_ready = true;
	}
}

static void rx_append(struct uart8250 *u, u8 byte)
{
	u->rx_buf[(u->rx_head + u->rx_count) % UART8250_RX_BUF] = byte;
	u->rx_count++;
}

static u8 rx_pop(struct uart8250 *u, struct uart_deferred *d)
{
	u8 byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx_buf[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART8250_RX_BUF;
	u->rx_count--;
	if (u->rx_refused && !loopback(u)) {
		u->rx_refused = false;
		d->rx_ready = true;
	}
	return byte;
}

/* Modem inputs: the host terminal, or MCR's outputs in loopback. */
static u8 modem_lines(const struct uart8250 *u)
{
	u8 lines = 0;

	if (!loopback(u))
		return MSR_HOST_LINES;
	if (u->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

static void update_modem_lines(struct uart8250 *u)
{
	u8 old = u->msr & ~MSR_DELTAS, now = modem_lines(u);
	u8 changed = old ^ now, deltas = 0;

	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		deltas |= MSR_TERI;	/* trailing edge only */
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	u->msr = now | (u->msr & MSR_DELTAS) | deltas;
}

static void write_thr(struct uart8250 *u, u8 val, struct uart_deferred *d)
{
	if (loopback(u)) {
		unsigned int depth = fifo_enabled(u) ? UART8250_FIFO_DEPTH : 1;

		if (u->rx_count < depth)
			rx_append(u, val);
		else
			u->lsr_errors |= LSR_OE;
	} else if (d->nr_tx < ARRAY_SIZE(d->tx)) {
		d->tx[d->nr_tx++] = val;
	}
	/* Sent at once: the holding register is empty again... */
	u->thre_pending = true;
	/* ...but its interrupt waits for the FIFO to "drain" (read_iir). */
	if (u->ier & IER_ETBEI)
		u->thre_deferred = true;
}

static void write_ier(struct uart8250 *u, u8 val)
{
	u8 old = u->ier;

	u->ier = val & IER_MASK;
	if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI)) {
		u->thre_pending = true;	/* THR is always empty here */
		u->thre_deferred = false;
	}
}

static void write_fcr(struct uart8250 *u, u8 val, struct uart_deferred *d)
{
	/* Switching the FIFOs on or off empties them. */
	if ((val ^ u->fcr) & FCR_ENABLE)
		rx_clear(u, d);
	if (!(val & FCR_ENABLE)) {
		/* The other bits are only programmed together with bit 0. */
		u->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		rx_clear(u, d);
	/* FCR_CLEAR_TX: the transmitter never holds anything. */
	u->fcr = val & FCR_KEPT;
}

static void write_mcr(struct uart8250 *u, u8 val, struct uart_deferred *d)
{
	bool was_loop = loopback(u);

	u->mcr = val & MCR_MASK;
	update_modem_lines(u);
	/* Host input was held off while the line looped back. */
	if (was_loop && !loopback(u) && u->rx_refused &&
	    u->rx_count < UART8250_RX_BUF) {
		u->rx_refused = false;
		d->rx_ready = true;
	}
}

static void reg_write(struct uart8250 *u, unsigned int reg, u8 val,
		      struct uart_deferred *d)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = val;
		else
			write_thr(u, val, d);
		break;
	case REG_IER:
		if (dlab)
			u->dlm = val;
		else
			write_ier(u, val);
		break;
	case REG_IIR_FCR:
		write_fcr(u, val, d);
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		write_mcr(u, val, d);
		break;
	case REG_SCR:
		__atomic_store_n(&u->scr, val, __ATOMIC_RELAXED);
		break;
	default:
		break;	/* LSR and MSR are read-only */
	}
}

/*
 * Transmission takes no time here, yet a driver's interrupt handler loops
 * "while IIR reports something" and refills the FIFO on each THRE.  If
 * THRE came back right after its writes, one invocation would drain all
 * the output a busy writer on another vCPU keeps adding, until the driver
 * gives up ("too much work for irq").  So a THRE raised by THR writes is
 * held back, from IIR and from the line, until the guest next reads IIR
 * or LSR, as if the FIFO drained meanwhile: the handler ends its loop,
 * the line rises, and it is entered again for the next FIFO load, as with
 * a real chip.  A handler that turned THRE off meanwhile (nothing left to
 * send) gets no interrupt at all.
 */
static void end_tx_drain(struct uart8250 *u)
{
	u->thre_deferred = false;
}

static u8 read_iir(struct uart8250 *u)
{
	u8 source = pending_source(u);

	end_tx_drain(u);
	/* Reading IIR acknowledges a THRE interrupt it reports. */
	if (source == IIR_THRE)
		u->thre_pending = false;
	return source | (fifo_enabled(u) ? IIR_FIFO_ON : 0);
}

static u8 read_lsr(struct uart8250 *u)
{
	u8 val = LSR_THRE | LSR_TEMT | u->lsr_errors;

	if (u->rx_count)
		val |= LSR_DR;
	u->lsr_errors = 0;
	end_tx_drain(u);
	return val;
}

static u8 read_msr(struct uart8250 *u)
{
	u8 val = u->msr;

	u->msr &= ~MSR_DELTAS;
	return val;
}

static u8 reg_read(struct uart8250 *u, unsigned int reg,
		   struct uart_deferred *d)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		return dlab ? u->dll : rx_pop(u, d);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return read_iir(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return read_lsr(u);
	case REG_MSR:
		return read_msr(u);
	default:
		return __atomic_load_n(&u->scr, __ATOMIC_RELAXED);
	}
}

/*
 * Whether an access may change what update_irq() computes from (IER, FCR,
 * MCR, the receive FIFO, LSR errors, MSR deltas, THRE state).  The line is
 * brought up to date after every access that may, so after the others it
 * is still right and need not be computed again.  Called before the access.
 */
static bool access_moves_irq(const struct uart8250 *u, unsigned int reg,
			     bool is_write)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		return !dlab;			/* THR write, RBR pop; not DLL */
	case REG_IER:
		return !dlab && is_write;	/* not DLM, not IER reads */
	case REG_IIR_FCR:
		return true;
	case REG_MCR:
		return is_write;
	case REG_LSR:
	case REG_MSR:
		return !is_write;		/* reads clear errors / deltas */
	default:
		return false;			/* LCR, SCR */
	}
}

void uart8250_init(struct uart8250 *u, const struct uart8250_ops *ops,
		   void *opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->ops = ops;
	u->opaque = opaque;
	u->msr = MSR_HOST_LINES;
	u->dll = 0x0c;		/* 9600 baud, what PC firmware leaves */
}

static void run_deferred(struct uart8250 *u, const struct uart_deferred *d)
{
	if (u->ops && u->ops->tx)
		for (unsigned int i = 0; i < d->nr_tx; i++)
			u->ops->tx(u->opaque, d->tx[i]);
	if (d->rx_ready && u->ops && u->ops->rx_ready)
		u->ops->rx_ready(u->opaque);
}

/*
 * A 2- or 4-byte access is what the ISA bus would make of it: byte
 * accesses to consecutive ports.  Bytes beyond the 8 registers read as
 * 0xff and are dropped on writes.
 */
static void uart_io_locked(struct uart8250 *u, u64 offset, u8 *data, u32 len,
			   bool is_write)
{
	struct uart_deferred d = { .nr_tx = 0 };
	bool moves_irq = false;

	if (len > 8)
		len = 8;
	pthread_mutex_lock(&u->lock);
	for (u32 i = 0; i < len; i++) {
		u64 reg = offset + i;

		if (reg >= UART8250_NR_REGS) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		moves_irq |= access_moves_irq(u, reg, is_write);
		if (is_write)
			reg_write(u, reg, data[i], &d);
		else
			data[i] = reg_read(u, reg, &d);
	}
	if (moves_irq)
		update_irq(u);
	pthread_mutex_unlock(&u->lock);
	run_deferred(u, &d);
}

void uart8250_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	struct uart8250 *u = opaque;

	/*
	 * The scratch register is the guest's own byte, tied to nothing else:
	 * a lone access to it needs neither the lock nor the interrupt line
	 * (an atomic byte, also where the locked path touches it).
	 */
	if (offset == REG_SCR && len == 1) {
		if (is_write)
			__atomic_store_n(&u->scr, data[0], __ATOMIC_RELAXED);
		else
			data[0] = __atomic_load_n(&u->scr, __ATOMIC_RELAXED);
		return;
	}
	uart_io_locked(u, offset, data, len, is_write);
}

static size_t rx_space_locked(struct uart8250 *u)
{
	/* The receiver is cut off from the line in loopback mode. */
	if (loopback(u))
		return 0;
	return UART8250_RX_BUF - u->rx_count;
}

size_t uart8250_rx_push(struct uart8250 *u, const u8 *buf, size_t n)
{
	size_t taken;

	pthread_mutex_lock(&u->lock);
	taken = MIN(n, rx_space_locked(u));
	for (size_t i = 0; i < taken; i++)
		rx_append(u, buf[i]);
	if (taken < n)
		u->rx_refused = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return taken;
}

/*
 * A break on the line: the chip receives one NUL character and reports
 * LSR.BI with it.  Only into an empty receiver, so that BI belongs to that
 * character and not to older input.
 */
int uart8250_rx_break(struct uart8250 *u)
{
	int ret = -EAGAIN;

	pthread_mutex_lock(&u->lock);
	if (!u->rx_count && !loopback(u)) {
		rx_append(u, 0);
		u->lsr_errors |= LSR_BI;
		update_irq(u);
		ret = 0;
	}
	pthread_mutex_unlock(&u->lock);
	return ret;
}

size_t uart8250_rx_space(struct uart8250 *u)
{
	size_t space;

	pthread_mutex_lock(&u->lock);
	space = rx_space_locked(u);
	if (!space)
		u->rx_refused = true;
	pthread_mutex_unlock(&u->lock);
	return space;
}

/* Glue: the model's ops, routed to KVM and to the caller's console ops. */
static void glue_set_irq(void *opaque, int level)
{
	struct uart8250 *u = opaque;

	kvm_irq_line(u->kvm, u->irq, level);
}

static void glue_tx(void *opaque, u8 byte)
{
	struct uart8250 *u = opaque;

	if (u->console && u->console->tx)
		u->console->tx(u, byte);
}

static void glue_rx_ready(void *opaque)
{
	struct uart8250 *u = opaque;

	if (u->console && u->console->rx_ready)
		u->console->rx_ready(u);
}

static const struct uart8250_ops glue_ops = {
	.tx = glue_tx,
	.set_irq = glue_set_irq,
	.rx_ready = glue_rx_ready,
};

int serial8250_register(struct kvm *kvm, struct uart8250 *u, struct bus *bus, u64 base,
			u32 irq, const struct uart8250_ops *ops)
{
	uart8250_init(u, &glue_ops, u);
	u->kvm = kvm;
	u->irq = irq;
	u->console = ops;
	return bus_register(bus, base, UART8250_NR_REGS, uart8250_io,
			    u, "serial8250");
}

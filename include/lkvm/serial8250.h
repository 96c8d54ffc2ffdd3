#ifndef LKVM_SERIAL8250_H
#define LKVM_SERIAL8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"

struct bus;
struct kvm;

/*
 * A 16550A UART (8 registers, on the I/O bus as on PCs or on MMIO).
 *
 * The model is free of KVM: it talks to the outside world through ops.
 * Transmission is instantaneous (THR and the transmitter are always empty
 * again by the time the guest's write returns), so THRE/TEMT always read
 * as set and a THRE interrupt follows every burst of writes, once the
 * guest next reads IIR or LSR, so that each interrupt moves one FIFO load
 * (see serial8250.c).
 *
 * Receive: the guest sees a FIFO deeper than the chip's 16 bytes.  Host
 * console input goes into a UART8250_RX_BUF-byte ring which the guest
 * reads as the receive FIFO; uart8250_rx_push() takes only what fits and
 * the console reader waits for ops->rx_ready instead of dropping bytes, so
 * pasted text is not lost.  Trigger levels still count: below the FIFO
 * trigger level the "character timeout" interrupt is reported at once.
 * Loopback mode keeps the chip's real depth (16 with FIFOs, 1 without) and
 * reports an overrun beyond it, as drivers' FIFO-size probes expect.
 */

#define UART8250_NR_REGS	8
#define UART8250_RX_BUF		256
#define UART8250_FIFO_DEPTH	16

/* The PC's four standard ports. */
#define UART8250_COM1_BASE	0x3f8
#define UART8250_COM1_IRQ	4
#define UART8250_COM2_BASE	0x2f8
#define UART8250_COM2_IRQ	3
#define UART8250_COM3_BASE	0x3e8
#define UART8250_COM3_IRQ	4
#define UART8250_COM4_BASE	0x2e8
#define UART8250_COM4_IRQ	3

/*
 * Locking: set_irq is called with the UART's lock held (so line changes
 * reach the interrupt controller in the order they were computed); it must
 * not call back into this UART.  tx and rx_ready are called after the lock
 * is dropped and may call any uart8250_* function.  Any op may be NULL.
 */
struct uart8250_ops {
	/* One byte the guest transmitted (not called in loopback mode). */
	void (*tx)(void *opaque, u8 byte);
	/* The UART's interrupt output, already gated by MCR.OUT2. */
	void (*set_irq)(void *opaque, int level);
	/* Room in the receive buffer again after a push was refused. */
	void (*rx_ready)(void *opaque);
};

struct uart8250 {
	pthread_mutex_t lock;
	const struct uart8250_ops *ops;
	void *opaque;

	u8 ier;
	u8 fcr;		/* FIFO enable, DMA mode and trigger bits as written */
	u8 lcr;
	u8 mcr;
	u8 lsr_errors;	/* sticky OE/PE/FE/BI, cleared by reading LSR */
	u8 msr;
	u8 scr;		/* atomic: a lone SCR access takes no lock */
	u8 dll, dlm;
	bool thre_pending;
	bool thre_deferred;	/* THR written: THRE waits for an IIR/LSR read */
	bool irq_level;

	u8 rx_buf[UART8250_RX_BUF];
	unsigned int rx_head, rx_count;
	bool rx_refused;	/* owe the reader an rx_ready */

	/* Set by serial8250_register(). */
	struct kvm *kvm;
	u32 irq;
	const struct uart8250_ops *console;
};

/* Power-on state; ops and opaque are kept for the UART's lifetime. */
void uart8250_init(struct uart8250 *u, const struct uart8250_ops *ops,
		   void *opaque);
/* Bus handler (opaque = the uart); offset 0..7; wider accesses are split. */
void uart8250_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);
/* Host console input: returns how many of the n bytes were accepted. */
size_t uart8250_rx_push(struct uart8250 *u, const u8 *buf, size_t n);
size_t uart8250_rx_space(struct uart8250 *u);
/* A break condition (NUL with LSR.BI); 0, or -EAGAIN while input is unread. */
int uart8250_rx_break(struct uart8250 *u);

/*
 * Initialise u and put it on bus (kvm->pio_bus, or kvm->mmio_bus with
 * one-byte registers: reg-shift 0) at base (8 registers), its interrupt
 * on GSI irq.  ops supplies tx and rx_ready (its set_irq is ignored) and
 * they are called with opaque = u; ops may be NULL for a port whose output
 * goes nowhere.  Returns 0 or -errno from bus_register().
 */
int serial8250_register(struct kvm *kvm, struct uart8250 *u, struct bus *bus, u64 base,
			u32 irq, const struct uart8250_ops *ops);

/* hw/serial-console.c: u as the guest console (lkvm's stdout, terminal input). */
int serial8250_console_register(struct kvm *kvm, struct uart8250 *u, struct bus *bus,
				u64 base, u32 irq);
/* A break then key: Linux's SysRq over the serial console; 0 or -errno. */
int serial8250_console_sysrq(struct uart8250 *u, u8 key);

#endif

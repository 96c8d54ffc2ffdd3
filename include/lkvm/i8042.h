#ifndef LKVM_I8042_H
#define LKVM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include "lkvm/compiler.h"

struct kvm;

/*
 * The PC's 8042 keyboard controller: port 0x60 (data) and 0x64 (status on
 * read, command on write).  Enough for a guest driver to probe it, for a
 * keyboard that answers its commands but never types, and for rebooting
 * through it.  No mouse is attached: bytes for the aux device (0xd4) are
 * answered with 0xfe (resend/NAK) at once, so a mouse probe fails fast
 * instead of waiting for timeouts.  The aux port itself works (0xa8/0xa7,
 * 0xa9 test, 0xd3 loop with IRQ 12).
 *
 * Interrupts follow the chip's output pins: IRQ 1 is high while the
 * output buffer holds a keyboard/controller byte and the command byte
 * enables it, IRQ 12 likewise for aux bytes; reading port 0x60 drops the
 * line and the next queued byte raises it again.  The PC's ISA interrupt
 * inputs are edge-triggered, so each byte makes one rising edge.
 */
#define I8042_DATA_PORT		0x60
#define I8042_CMD_PORT		0x64
/* Command: pulse output line 0, the CPU reset (lkvm: the guest reboots). */
#define I8042_CMD_PULSE_RESET	0xfe
#define I8042_KBD_IRQ		1
#define I8042_AUX_IRQ		12
#define I8042_QUEUE_SIZE	16
#define I8042_RAM_SIZE		32

/* Status register (port 0x64 read). */
#define I8042_STR_OBF		0x01
#define I8042_STR_IBF		0x02
#define I8042_STR_SYS		0x04
#define I8042_STR_CMD		0x08	/* last write was to port 0x64 */
#define I8042_STR_UNLOCKED	0x10	/* keylock switch open */
#define I8042_STR_AUXDATA	0x20

/* Command byte (controller RAM byte 0). */
#define I8042_CTR_KBDINT	0x01
#define I8042_CTR_AUXINT	0x02
#define I8042_CTR_SYS		0x04
#define I8042_CTR_KBDDIS	0x10
#define I8042_CTR_AUXDIS	0x20
#define I8042_CTR_XLATE		0x40

/*
 * set_irq is called with the controller's lock held and must not call
 * back into it; reset is called after the lock is dropped.
 */
struct i8042_ops {
	void (*set_irq)(void *opaque, u32 irq, int level);
	void (*reset)(void *opaque);
};

struct i8042_byte {
	u8 data;
	bool aux;
};

struct i8042 {
	pthread_mutex_t lock;
	const struct i8042_ops *ops;
	void *opaque;

	u8 ram[I8042_RAM_SIZE];	/* ram[0] is the command byte */
	u8 outport;
	u8 status_cmd;		/* I8042_STR_CMD or 0 */
	u8 pending_cmd;		/* controller command awaiting its data byte */
	u8 kbd_pending;		/* keyboard command awaiting its argument */
	u8 kbd_scancode_set;
	u8 last_data;		/* what port 0x60 reads when empty */

	/* Output buffer: head is what the guest reads next. */
	struct i8042_byte queue[I8042_QUEUE_SIZE];
	unsigned int q_head, q_count;

	bool kbd_irq, aux_irq;
	struct kvm *kvm;	/* set by i8042_register() */
};

void i8042_init(struct i8042 *kbc, const struct i8042_ops *ops, void *opaque);
/*
 * Bus handlers (opaque = the controller) for the one-port ranges at 0x60
 * and 0x64.  A wider access uses only its first byte; other bytes read
 * 0xff.
 */
void i8042_data_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);
void i8042_cmd_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);

/*
 * i8042_init() and put kbc on kvm->pio_bus at 0x60 and 0x64, with IRQs
 * through kvm_irq_line() and reset through
 * kvm_request_stop(kvm, VM_STOP_RESET).  0 or -errno.
 */
int i8042_register(struct kvm *kvm, struct i8042 *kbc);

#endif

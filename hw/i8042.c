/*
 * 8042 keyboard controller with an attached AT keyboard, written from the
 * commonly documented 8042 command set.  Commands and keyboard replies
 * complete instantly, so the input buffer is never full and a polling
 * guest finds its answer on the first status read.
 */
#include <string.h>

#include "lkvm/i8042.h"
#include "lkvm/kvm.h"

/* Controller commands (port 0x64). */
#define CMD_READ_RAM		0x20	/* 0x20-0x3f: RAM byte cmd & 0x1f */
#define CMD_WRITE_RAM		0x60	/* 0x60-0x7f */
#define CMD_AUX_DISABLE		0xa7
#define CMD_AUX_ENABLE		0xa8
#define CMD_AUX_TEST		0xa9
#define CMD_SELF_TEST		0xaa
#define CMD_KBD_TEST		0xab
#define CMD_KBD_DISABLE		0xad
#define CMD_KBD_ENABLE		0xae
#define CMD_READ_OUTPORT	0xd0
#define CMD_WRITE_OUTPORT	0xd1
#define CMD_WRITE_KBD_OBUF	0xd2
#define CMD_WRITE_AUX_OBUF	0xd3
#define CMD_WRITE_AUX		0xd4
#define CMD_PULSE		0xf0	/* 0xf0-0xff: pulse outport bits 0-3 */

#define SELF_TEST_OK		0x55
#define IFACE_TEST_OK		0x00
#define OUTPORT_RESET_HIGH	0x01	/* low = CPU held in reset */
#define OUTPORT_A20		0x02

/* Keyboard commands and replies (port 0x60). */
#define KBD_SET_LEDS		0xed
#define KBD_ECHO		0xee
#define KBD_SCANCODE_SET	0xf0
#define KBD_IDENTIFY		0xf2
#define KBD_TYPEMATIC		0xf3
#define KBD_RESET		0xff
#define KBD_ACK			0xfa
#define KBD_BAT_OK		0xaa
#define KBD_ID_0		0xab
#define KBD_ID_1		0x83
#define AUX_NAK			0xfe

/*
 * The command byte PC firmware leaves when no mouse is found: keyboard
 * interrupt on, aux port disabled, system flag set, translation on.
 */
#define CTR_DEFAULT (I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS | \
		     I8042_CTR_XLATE)

static u8 *ctr(struct i8042 *kbc)
{
	return &kbc->ram[0];
}

static void queue_byte(struct i8042 *kbc, u8 data, bool aux)
{
	struct i8042_byte *b;

	if (kbc->q_count == I8042_QUEUE_SIZE)
		return;		/* the keyboard's own buffer overflowed */
	b = &kbc->queue[(kbc->q_head + kbc->q_count) % I8042_QUEUE_SIZE];
	b->data = data;
	b->aux = aux;
	kbc->q_count++;
}

static const struct i8042_byte *output_buffer(const struct i8042 *kbc)
{
	return kbc->q_count ? &kbc->queue[kbc->q_head] : NULL;
}

static void update_irq(struct i8042 *kbc)
{
	const struct i8042_byte *ob = output_buffer(kbc);
	bool kbd = ob && !ob->aux && (*ctr(kbc) & I8042_CTR_KBDINT);
	bool aux = ob && ob->aux && (*ctr(kbc) & I8042_CTR_AUXINT);
	bool have_ops = kbc->ops && kbc->ops->set_irq;

	if (kbd != kbc->kbd_irq) {
		kbc->kbd_irq = kbd;
		if (have_ops)
			kbc->ops->set_irq(kbc->opaque, I8042_KBD_IRQ, kbd);
	}
	if (aux != kbc->aux_irq) {
		kbc->aux_irq = aux;
		if (have_ops)
			kbc->ops->set_irq(kbc->opaque, I8042_AUX_IRQ, aux);
	}
}

static void lower_irqs(struct i8042 *kbc)
{
	bool have_ops = kbc->ops && kbc->ops->set_irq;

	if (kbc->kbd_irq && have_ops)
		kbc->ops->set_irq(kbc->opaque, I8042_KBD_IRQ, 0);
	if (kbc->aux_irq && have_ops)
		kbc->ops->set_irq(kbc->opaque, I8042_AUX_IRQ, 0);
	kbc->kbd_irq = false;
	kbc->aux_irq = false;
}

static void kbd_reply(struct i8042 *kbc, u8 data)
{
	queue_byte(kbc, data, false);
}

static void kbd_argument(struct i8042 *kbc, u8 cmd, u8 arg)
{
	kbd_reply(kbc, KBD_ACK);
	if (cmd != KBD_SCANCODE_SET)
		return;		/* LEDs and typematic rate have no effect */
	if (arg == 0)
		kbd_reply(kbc, kbc->kbd_scancode_set);
	else if (arg <= 3)
		kbc->kbd_scancode_set = arg;
}

/* A byte for the keyboard itself. */
static void kbd_write(struct i8042 *kbc, u8 val)
{
	u8 cmd = kbc->kbd_pending;

	/* Arguments are below 0x80; a command byte starts over. */
	kbc->kbd_pending = 0;
	if (cmd && val < 0x80) {
		kbd_argument(kbc, cmd, val);
		return;
	}
	switch (val) {
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCANCODE_SET:
		kbc->kbd_pending = val;
		kbd_reply(kbc, KBD_ACK);
		break;
	case KBD_ECHO:
		kbd_reply(kbc, KBD_ECHO);
		break;
	case KBD_IDENTIFY:
		kbd_reply(kbc, KBD_ACK);
		kbd_reply(kbc, KBD_ID_0);
		kbd_reply(kbc, KBD_ID_1);
		break;
	case KBD_RESET:
		kbc->kbd_scancode_set = 2;
		kbd_reply(kbc, KBD_ACK);
		kbd_reply(kbc, KBD_BAT_OK);
		break;
	default:
		/* Enable, disable, defaults, resend, typematic modes... */
		kbd_reply(kbc, KBD_ACK);
		break;
	}
}

/* The data byte that completes a two-byte controller command. */
static void command_data(struct i8042 *kbc, u8 cmd, u8 val, bool *reset)
{
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + I8042_RAM_SIZE) {
		kbc->ram[cmd - CMD_WRITE_RAM] = val;
		return;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPORT:
		/* A20 is not emulated: KVM guests always see all memory. */
		kbc->outport = val;
		if (!(val & OUTPORT_RESET_HIGH))
			*reset = true;
		break;
	case CMD_WRITE_KBD_OBUF:
		queue_byte(kbc, val, false);
		break;
	case CMD_WRITE_AUX_OBUF:
		queue_byte(kbc, val, true);
		break;
	case CMD_WRITE_AUX:
		queue_byte(kbc, AUX_NAK, true);	/* no mouse on the port */
		break;
	default:
		break;
	}
}

static void controller_command(struct i8042 *kbc, u8 cmd, bool *reset)
{
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + I8042_RAM_SIZE) {
		kbd_reply(kbc, kbc->ram[cmd - CMD_READ_RAM]);
		return;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + I8042_RAM_SIZE) {
		kbc->pending_cmd = cmd;
		return;
	}
	if ((cmd & 0xf0) == CMD_PULSE) {
		/* Bits 0-3 clear select the output port lines to pulse. */
		if (!(cmd & OUTPORT_RESET_HIGH))
			*reset = true;
		return;
	}
	switch (cmd) {
	case CMD_AUX_DISABLE:
		*ctr(kbc) |= I8042_CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		*ctr(kbc) &= ~I8042_CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		kbd_reply(kbc, IFACE_TEST_OK);
		break;
	case CMD_SELF_TEST:
		*ctr(kbc) |= I8042_CTR_SYS;
		kbd_reply(kbc, SELF_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		*ctr(kbc) |= I8042_CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		*ctr(kbc) &= ~I8042_CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		kbd_reply(kbc, kbc->outport);
		break;
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		kbc->pending_cmd = cmd;
		break;
	default:
		break;		/* unknown commands are ignored, as on clones */
	}
}

static u8 read_status(struct i8042 *kbc)
{
	const struct i8042_byte *ob = output_buffer(kbc);
	u8 val = I8042_STR_UNLOCKED | kbc->status_cmd;

	if (*ctr(kbc) & I8042_CTR_SYS)
		val |= I8042_STR_SYS;
	if (ob)
		val |= I8042_STR_OBF | (ob->aux ? I8042_STR_AUXDATA : 0);
	return val;
}

/*
 * Reading empties the output buffer and drops the lines; the next queued
 * byte is loaded after that, so each byte gets its own rising edge.
 */
static u8 read_data(struct i8042 *kbc)
{
	if (kbc->q_count) {
		kbc->last_data = kbc->queue[kbc->q_head].data;
		kbc->q_head = (kbc->q_head + 1) % I8042_QUEUE_SIZE;
		kbc->q_count--;
		lower_irqs(kbc);
	}
	return kbc->last_data;
}

static void write_data(struct i8042 *kbc, u8 val, bool *reset)
{
	u8 cmd = kbc->pending_cmd;

	kbc->status_cmd = 0;
	kbc->pending_cmd = 0;
	if (cmd)
		command_data(kbc, cmd, val, reset);
	else
		kbd_write(kbc, val);
}

static void write_command(struct i8042 *kbc, u8 val, bool *reset)
{
	kbc->status_cmd = I8042_STR_CMD;
	kbc->pending_cmd = 0;	/* a new command abandons the old one */
	controller_command(kbc, val, reset);
}

void i8042_init(struct i8042 *kbc, const struct i8042_ops *ops, void *opaque)
{
	memset(kbc, 0, sizeof(*kbc));
	pthread_mutex_init(&kbc->lock, NULL);
	kbc->ops = ops;
	kbc->opaque = opaque;
	*ctr(kbc) = CTR_DEFAULT;
	kbc->outport = OUTPORT_RESET_HIGH | OUTPORT_A20;
	kbc->kbd_scancode_set = 2;
}

static void i8042_io(struct i8042 *kbc, bool data_port, u64 offset, u8 *data,
		     u32 len, bool is_write)
{
	bool reset = false;

	if (!is_write)
		memset(data, 0xff, MIN(len, 8u));
	if (offset != 0 || len == 0)
		return;
	pthread_mutex_lock(&kbc->lock);
	if (data_port && is_write)
		write_data(kbc, data[0], &reset);
	else if (data_port)
		data[0] = read_data(kbc);
	else if (is_write)
		write_command(kbc, data[0], &reset);
	else
		data[0] = read_status(kbc);
	update_irq(kbc);
	pthread_mutex_unlock(&kbc->lock);
	if (reset && kbc->ops && kbc->ops->reset)
		kbc->ops->reset(kbc->opaque);
}

void i8042_data_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	i8042_io(opaque, true, offset, data, len, is_write);
}

void i8042_cmd_io(void *opaque, u64 offset, u8 *data, u32 len, bool is_write)
{
	i8042_io(opaque, false, offset, data, len, is_write);
}

static void glue_set_irq(void *opaque, u32 irq, int level)
{
	struct i8042 *kbc = opaque;

	kvm_irq_line(kbc->kvm, irq, level);
}

static void glue_reset(void *opaque)
{
	struct i8042 *kbc = opaque;

	kvm_request_stop(kbc->kvm, VM_STOP_RESET);
}

static const struct i8042_ops glue_ops = {
	.set_irq = glue_set_irq,
	.reset = glue_reset,
};

int i8042_register(struct kvm *kvm, struct i8042 *kbc)
{
	int ret;

	i8042_init(kbc, &glue_ops, kbc);
	kbc->kvm = kvm;
	ret = bus_register(&kvm->pio_bus, I8042_DATA_PORT, 1, i8042_data_io,
			   kbc, "i8042-data");
	if (ret < 0)
		return ret;
	ret = bus_register(&kvm->pio_bus, I8042_CMD_PORT, 1, i8042_cmd_io,
			   kbc, "i8042-cmd");
	if (ret < 0)
		bus_unregister(&kvm->pio_bus, I8042_DATA_PORT);
	return ret;
}

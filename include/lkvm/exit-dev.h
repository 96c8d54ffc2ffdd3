#ifndef LKVM_EXIT_DEV_H
#define LKVM_EXIT_DEV_H
/*
 * The exit device: two one-byte registers.
 *   offset 0, STATUS: a write stops the VM at once and lkvm exits with the
 *	byte (0-255) as its status; a read returns EXIT_DEV_MAGIC so a guest
 *	can check that the device is there.
 *   offset 1, READY: a write says the guest's console is ready for input;
 *	lkvm's init uses it so that no piped byte is lost or echoed before
 *	it has set up the terminal (only then is lkvm's stdin read).
 *	Reads 0.
 *
 * Where it lives is the architecture's choice (x86: an I/O port; an MMIO
 * address elsewhere); the architecture registers it and generic code asks
 * exit_dev_location() for the place, e.g. to tell lkvm's guest init.
 * From a guest's user space, as root:
 *	port:  printf '\007' | dd of=/dev/port bs=1 seek=$((PORT)) count=1
 *	mmio:  the same through /dev/mem at the address
 * (README, "The exit device").
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/compiler.h"

struct kvm;

#define EXIT_DEV_WINDOW 2	/* bytes claimed on the bus */
#define EXIT_DEV_STATUS 0
#define EXIT_DEV_READY 1
#define EXIT_DEV_MAGIC 0x45	/* 'E', what offset 0 reads */

enum exit_dev_bus { EXIT_DEV_NONE, EXIT_DEV_PIO, EXIT_DEV_MMIO };

struct exit_dev_place {
	enum exit_dev_bus bus;
	u64 base;
};

/* Device logic without KVM, for the unit tests. */
struct exit_dev {
	void (*on_exit)(void *opaque, u8 status);
	void (*on_ready)(void *opaque);
	void *opaque;
};

void exit_dev_access(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);

/* Put the device on the port I/O or MMIO bus at base; 0 or -errno. */
int exit_dev_register(struct kvm *kvm, enum exit_dev_bus bus, u64 base);
/* Where the device was registered (bus EXIT_DEV_NONE: nowhere). */
struct exit_dev_place exit_dev_location(void);
/* "port:0x500" or "mmio:0x..." into buf; -ENODEV if not registered. */
int exit_dev_describe(char *buf, size_t size);

#endif

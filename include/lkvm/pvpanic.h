#ifndef LKVM_PVPANIC_H
#define LKVM_PVPANIC_H

#include <stdbool.h>
#include "lkvm/compiler.h"

struct bus;
struct kvm;

/*
 * pvpanic: a one-byte register through which the guest reports a panic.
 * A read returns the events the device understands; the guest writes the
 * event that happened.  On x86 it is an I/O port described in the DSDT by
 * a device with _HID "QEMU0001" (Linux: pvpanic + pvpanic-mmio drivers).
 */
#define PVPANIC_PANICKED	(1u << 0)	/* guest panicked: stop the VM */
#define PVPANIC_CRASH_LOADED	(1u << 1)	/* guest is starting kdump */
#define PVPANIC_EVENTS		(PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

/* Device state, free of KVM so the logic can be unit-tested. */
struct pvpanic {
	void (*on_panic)(void *opaque);	/* called once, on the first panic */
	void *opaque;
	bool panicked;
	bool crash_loaded;
};

void pvpanic_init(struct pvpanic *p, void (*on_panic)(void *opaque),
		  void *opaque);
/* Bus handler: any access at offset 0 of the one-byte register. */
void pvpanic_access(void *opaque, u64 offset, u8 *data, u32 len,
		    bool is_write);

/*
 * Put the device on bus at base: a port on x86 (_HID "QEMU0001"), MMIO on
 * arm64 (device tree "qemu,pvpanic-mmio"); 0 or -errno.
 */
int pvpanic_register(struct kvm *kvm, struct bus *bus, u64 base);

#endif

#ifndef LKVM_FUZZ_KVM_H
#define LKVM_FUZZ_KVM_H
/*
 * The KVM calls of the transports, faked for the fuzz targets (kvm.c and
 * ioeventfd.c stay out of the link): interrupt lines and MSI routes that
 * only count, irqfds that may be refused, and ioeventfds kept in a table
 * so that fuzz_guest_access() can do what KVM does with a matching write.
 */
#include <stdbool.h>
#include "lkvm/bus.h"
#include "lkvm/compiler.h"

/* Per input: KVM refuses new ioeventfds / irqfds. */
extern bool fuzz_kvm_no_ioeventfd, fuzz_kvm_no_irqfd;

/* Forget every ioeventfd and MSI route (before a fresh device). */
void fuzz_kvm_reset(void);
/* Interrupt lines currently high. */
unsigned int fuzz_kvm_irq_lines_high(void);

/*
 * A guest access of len bytes (1, 2, 4, 8) at addr: a write an ioeventfd
 * matches goes to its handler, everything else to the bus.
 */
void fuzz_guest_access(struct bus *bus, bool pio, u64 addr, u32 len, bool write, u64 value);

#endif

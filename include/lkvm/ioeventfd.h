#ifndef LKVM_IOEVENTFD_H
#define LKVM_IOEVENTFD_H
/*
 * Guest writes that KVM turns into eventfd signals instead of exits to
 * user space (queue notifications).  One epoll thread waits on all of them
 * and calls each one's handler; handlers must be quick (wake a device
 * thread) and thread-safe.
 */
#include <stdbool.h>
#include "lkvm/compiler.h"

struct kvm;
struct ioevent;

typedef void (*ioevent_fn)(void *opaque);

/*
 * Register [addr, addr+len) (pio or mmio; with datamatch only writes of
 * `match`).  Returns 0 and *out, or -errno: the caller then keeps handling
 * the write as a normal exit.
 */
int ioevent_add(struct kvm *kvm, u64 addr, u32 len, bool pio, bool datamatch,
		u64 match, ioevent_fn fn, void *opaque, struct ioevent **out);
/*
 * Unregister; the handler is not called for events that come after.  The
 * record and its eventfd are freed once the epoll thread cannot hold them.
 */
void ioevent_del(struct ioevent *ev);

#endif

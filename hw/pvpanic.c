/*
 * pvpanic on a port or MMIO: turns the guest's "I panicked" write into a VM stop
 * with its own exit reason, so a test harness sees a panic at once instead
 * of waiting for a timeout.  Each event is logged once: a looping guest
 * must not flood the log.
 */
#include <errno.h>
#include <stdlib.h>

#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/pvpanic.h"

void pvpanic_init(struct pvpanic *p, void (*on_panic)(void *opaque),
		  void *opaque)
{
	p->on_panic = on_panic;
	p->opaque = opaque;
	p->panicked = false;
	p->crash_loaded = false;
}

/*
 * No lock: the flags only suppress repeated log lines, and the stop
 * request itself is idempotent, so a race costs at most a second line.
 */
void pvpanic_access(void *opaque, u64 offset, u8 *data, u32 len,
		    bool is_write)
{
	struct pvpanic *p = opaque;
	u8 val;

	if (!is_write) {
		for (u32 i = 0; i < len; i++)
			data[i] = (offset + i == 0) ? PVPANIC_EVENTS : 0;
		return;
	}
	if (offset != 0 || len == 0)
		return;
	val = data[0];
	if ((val & PVPANIC_CRASH_LOADED) && !READ_ONCE(p->crash_loaded)) {
		WRITE_ONCE(p->crash_loaded, true);
		pr_info("guest panicked with a crash kernel loaded; letting it run");
	}
	if ((val & PVPANIC_PANICKED) && !READ_ONCE(p->panicked)) {
		WRITE_ONCE(p->panicked, true);
		pr_err("guest reported a kernel panic");
		if (p->on_panic)
			p->on_panic(p->opaque);
	}
}

static void pvpanic_stop_vm(void *opaque)
{
	kvm_request_stop(opaque, VM_STOP_PANIC);
}

int pvpanic_register(struct kvm *kvm, struct bus *bus, u64 base)
{
	struct pvpanic *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	pvpanic_init(p, pvpanic_stop_vm, kvm);
	/* Lives as long as the VM; freed only on failure. */
	ret = bus_register(bus, base, 1, pvpanic_access, p,
			   "pvpanic");
	if (ret < 0)
		free(p);
	return ret;
}

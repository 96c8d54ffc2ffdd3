#ifndef LKVM_KVM_H
#define LKVM_KVM_H

#include <stdbool.h>
#include <pthread.h>
#include "lkvm/compiler.h"
#include "lkvm/bus.h"
#include "lkvm/guest-mem.h"
#include "lkvm/config.h"

struct kvm_cpu;

/* Why the VM stopped; decides lkvm's exit status. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_RESET,		/* guest reboot: i8042, PSCI, --reboot-on-triple-fault */
	VM_STOP_POWEROFF,	/* guest poweroff through ACPI */
	VM_STOP_USER,		/* Ctrl-A x, SIGTERM, lkvm stop */
	VM_STOP_ERROR,		/* fatal exit: registers already dumped */
	VM_STOP_PANIC,		/* guest reported a panic (pvpanic) */
	VM_STOP_GUEST_EXIT,	/* test device: guest chose exit_code */
	VM_STOP_TRIPLE_FAULT,	/* a reset the guest did not ask for: registers dumped */
};

struct kvm {
	int sys_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct lkvm_config *cfg;

	struct guest_mem mem;
	u64 ram_size;		/* total guest RAM in bytes */
	void *ram_start;	/* one host mapping; the PCI hole is never mapped */
	u64 ram_map_size;

	struct bus pio_bus;
	struct bus mmio_bus;

	unsigned int nr_cpus;
	struct kvm_cpu **cpus;

	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	enum vm_stop_reason stop_reason;
	int guest_exit_code;	/* with VM_STOP_GUEST_EXIT */
	bool paused;		/* under stop_lock; vCPUs wait on stop_cond */
	/*
	 * Bumped (kvm_vcpu_events_bump) after each change a vCPU thread must
	 * act on between two KVM_RUNs: a stop, a pause, work handed to a
	 * vCPU.  The run loop's common path is one load of it.
	 */
	unsigned int vcpu_events;

	bool msi_devid;		/* MSIs carry the PCI requester id (arm64 ITS) */
	void *arch;		/* per-architecture state */
};

/* Create the VM from the configuration; dies with a clear message on error. */
struct kvm *kvm_create(struct lkvm_config *cfg);
void kvm_destroy(struct kvm *kvm);

/* Raise or lower an interrupt line (GSI) of the in-kernel irqchip. */
int kvm_irq_line(struct kvm *kvm, u32 gsi, int level);
/* Pulse an edge-triggered line. */
void kvm_irq_trigger(struct kvm *kvm, u32 gsi);

/*
 * MSI delivery through KVM's GSI routing table.  kvm_msi_route_add()
 * returns a new GSI (>= kvm_arch_first_msi_gsi(), above the irqchip pins)
 * or -errno;
 * kvm_msi_route_update() retargets it when the guest rewrites an MSI-X
 * entry.  kvm_signal_msi() injects one MSI without a route.  devid is
 * the sender's PCI requester ID (bus << 8 | devfn), passed to KVM where
 * the interrupt controller needs it (KVM_CAP_MSI_DEVID: arm64's ITS).
 */
int kvm_msi_route_add(struct kvm *kvm, u64 addr, u32 data, u32 devid);
int kvm_msi_route_update(struct kvm *kvm, u32 gsi, u64 addr, u32 data, u32 devid);
int kvm_signal_msi(struct kvm *kvm, u64 addr, u32 data, u32 devid);
/* An eventfd whose write raises gsi (irqfd); assign=false detaches. */
int kvm_irqfd(struct kvm *kvm, u32 gsi, int fd, bool assign);
/*
 * An eventfd signalled by KVM when the guest writes to addr (len bytes;
 * pio or mmio) instead of a userspace exit.  With datamatch, only a
 * write of that value.  Returns 0 or -errno (caller then falls back to the
 * bus handler).
 */
int kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, bool pio, int fd,
		  bool datamatch, u64 match, bool assign);

/*
 * Ask the VM to stop; callable from any thread, including a device handler
 * on a vCPU thread.  The first reason wins.
 */
void kvm_request_stop(struct kvm *kvm, enum vm_stop_reason reason);
void kvm_request_guest_exit(struct kvm *kvm, int exit_code);
bool kvm_stopping(struct kvm *kvm);

/* After the change is stored; a vCPU that sees the new count sees it too. */
static inline void kvm_vcpu_events_bump(struct kvm *kvm)
{
	__atomic_add_fetch(&kvm->vcpu_events, 1, __ATOMIC_SEQ_CST);
}

/* Host pointer for a guest physical range inside RAM, or NULL. */
static inline void *kvm_gpa_to_hva(struct kvm *kvm, u64 gpa, u64 len)
{
	return guest_mem_ptr(&kvm->mem, gpa, len);
}

#endif

/* The x86 VM: RAM layout with the PCI hole, in-kernel irqchip and PIT. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "lkvm/kvm-arch.h"
#include "lkvm/log.h"
#include "x86/boot.h"
#include "x86/layout.h"

const int kvm_arch_required_caps[] = {
	KVM_CAP_SET_TSS_ADDR, KVM_CAP_EXT_CPUID, KVM_CAP_PIT2,
	KVM_CAP_SET_IDENTITY_MAP_ADDR, -1,
};
const char *const kvm_arch_required_cap_names[] = {
	"KVM_CAP_SET_TSS_ADDR", "KVM_CAP_EXT_CPUID", "KVM_CAP_PIT2",
	"KVM_CAP_SET_IDENTITY_MAP_ADDR",
};

unsigned long kvm_arch_vm_type(struct kvm *kvm UNUSED)
{
	return 0;
}

/* GSIs 0-23 are the IOAPIC pins. */
u32 kvm_arch_first_msi_gsi(void)
{
	return 24;
}

u32 kvm_arch_irq_line_encode(u32 gsi)
{
	return gsi;
}

void kvm_arch_cpus_created(struct kvm *kvm UNUSED)
{
}

void kvm_arch_layout_ram(struct kvm *kvm)
{
	u64 low = MIN(kvm->ram_size, X86_PCI_HOLE_START);
	u8 *hva = kvm->ram_start;

	guest_mem_add(&kvm->mem, 0, low, hva);
	if (kvm->ram_size > low)
		guest_mem_add(&kvm->mem, X86_4GIB, kvm->ram_size - low, hva + low);
}

static void vm_ioctl(struct kvm *kvm, unsigned long req, unsigned long arg, const char *name)
{
	if (ioctl(kvm->vm_fd, req, arg) < 0)
		die("%s: %s", name, strerror(errno));
}

void kvm_arch_init_vm(struct kvm *kvm)
{
	struct kvm_pit_config pit = { .flags = 0 };
	struct x86_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		die("out of memory");
	if (kvm->cfg->irqchip || kvm->cfg->dump_dtb)
		die("--%s is for arm64 guests: x86 has no device tree or GIC",
		    kvm->cfg->irqchip ? "irqchip" : "dump-dtb");
	kvm->arch = vm;
	vm_ioctl(kvm, KVM_SET_TSS_ADDR, X86_TSS_ADDR, "KVM_SET_TSS_ADDR");
	u64 ident = X86_IDENTITY_MAP_ADDR;
	vm_ioctl(kvm, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&ident,
		 "KVM_SET_IDENTITY_MAP_ADDR");
	vm_ioctl(kvm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	vm_ioctl(kvm, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2");
}

/*
 * GSI n drives IOAPIC pin n, and for ISA lines also PIC pin n (the cascade
 * line 2 is not routed to the PIC).  This is the identity mapping the
 * MADT describes (no override for IRQ 0).
 */
unsigned int kvm_arch_default_routes(struct kvm_irq_routing_entry *e, unsigned int max)
{
	unsigned int n = 0;

	for (u32 gsi = 0; gsi < 24 && n + 2 <= max; gsi++) {
		if (gsi < 16 && gsi != 2) {
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								  : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 },
			};
		}
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
	}
	return n;
}
